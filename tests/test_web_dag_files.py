"""Project DAG files over HTTP against the real api-server: upload, list, view, download, replace,
delete; every rejection (4xx + message + nothing written), IDOR, CSRF, symlinks."""

from __future__ import annotations

import html
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support import csrf_token
from tests.test_dag_files import HOSTILE_NAMES

DEMO_FS, ANALYTICS, EMPTY_PROJ = 119, 120, 121


def dags_root() -> Path:
    return Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])


def demo_dir() -> Path:
    return dags_root() / "demo_fs"


def snapshot() -> dict[str, bytes]:
    """Every file under the DAGs folder (hidden ones included) with its content."""
    root = dags_root()
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file() or p.is_symlink()}


def dag_source(owner: str | None, dag_id: str, extra: str = "") -> bytes:
    args = f"default_args={{'owner': {owner!r}}}, " if owner else ""
    return (
        "from airflow.sdk import DAG\n"
        "from airflow.providers.standard.operators.empty import EmptyOperator\n"
        f"{extra}"
        f"with DAG({dag_id!r}, {args}schedule=None):\n"
        "    EmptyOperator(task_id='noop')\n"
    ).encode()


def unique(prefix: str = "tw") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def login(user_sessions):
    return user_sessions


@pytest.fixture(scope="module", autouse=True)
def cleanup(airflow_server) -> Iterator[None]:
    before = set(snapshot())
    yield
    root = dags_root()
    for rel in set(snapshot()) - before:
        (root / rel).unlink(missing_ok=True)


def page_url(server, path: str) -> str:
    return server.page(f"dag-files/{path.lstrip('/')}")


def token_for(session: requests.Session, server, project_id: int = DEMO_FS) -> str:
    return csrf_token(session.get(page_url(server, f"{project_id}/"), timeout=30).text)


def upload(session, server, files, project_id: int = DEMO_FS, csrf: str | bool = True, **data):
    """POST files to the upload form; ``csrf``: True = fetch a token, False = send none, or a token."""
    form = dict(data)
    if csrf is True:
        form["csrf_token"] = token_for(session, server, project_id)
    elif csrf:
        form["csrf_token"] = str(csrf)
    parts = [("files", (name, content, "text/x-python")) for name, content in files]
    return session.post(page_url(server, f"{project_id}/upload"), data=form, files=parts, timeout=60,
                        allow_redirects=False)


def results_text(page: str) -> str:
    """The visible text of the upload results and error boxes."""
    blocks = re.findall(r'data-testid="upload-results".*?</section>|data-testid="upload-error".*?</div>', page, re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", " ".join(blocks)))


def text(response: requests.Response) -> str:
    """The page as a user reads it: tags stripped, entities decoded, whitespace collapsed."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", response.text, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


# -- pages ------------------------------------------------------------------------------------


def test_project_picker_shows_only_my_projects(airflow_server, login):
    alice = login("alice").get(page_url(airflow_server, ""), timeout=30)
    assert alice.status_code == 200, airflow_server.log_tail()
    assert "demo_fs" in alice.text and "empty_proj" in alice.text and "analytics" not in alice.text
    dave = login("dave").get(page_url(airflow_server, ""), timeout=30)
    assert dave.status_code == 200 and "not a member of any Hopsworks project" in dave.text
    admin = login("admin").get(page_url(airflow_server, ""), timeout=30)
    assert "analytics" in admin.text and "demo_fs" in admin.text


def test_empty_project_shows_a_hint(airflow_server, login):
    response = login("alice").get(page_url(airflow_server, f"{EMPTY_PROJ}/"), timeout=30)
    assert response.status_code == 200
    assert 'data-testid="empty"' in response.text and "No DAG files in this project yet" in response.text
    assert "default_args={\"owner\": \"alice\"}" in response.text


def test_upload_then_list_view_and_download(airflow_server, login):
    session = login("alice")
    name = unique() + ".py"
    dag_id = unique("dag")
    content = dag_source("alice", dag_id, extra="# <script>alert('x')</script>\n")
    response = upload(session, airflow_server, [(name, content)])
    assert response.status_code == 200, results_text(response.text)
    assert f"{name} was saved" in response.text
    assert (demo_dir() / name).read_bytes() == content
    assert f'data-testid="file-{name}"' in response.text  # listed on the same page
    listing = session.get(page_url(airflow_server, f"{DEMO_FS}/"), timeout=30)
    assert f'data-testid="file-{name}"' in listing.text and "not parsed yet" in listing.text

    view = session.get(page_url(airflow_server, f"{DEMO_FS}/files/{name}"), timeout=30)
    assert view.status_code == 200
    assert "<script>alert" not in view.text and "&lt;script&gt;alert(" in view.text
    assert '<span class="ln">4</span>with DAG(&#39;' in view.text

    download = session.get(page_url(airflow_server, f"{DEMO_FS}/files/{name}/download"), timeout=30)
    assert download.status_code == 200 and download.content == content
    assert download.headers["Content-Disposition"] == f'attachment; filename="{name}"'
    assert download.headers["Content-Type"].startswith("text/x-python")


def test_several_files_in_one_upload(airflow_server, login):
    names = [unique() + ".py" for _ in range(3)]
    response = upload(login("alice"), airflow_server, [(n, dag_source("alice", n[:-3])) for n in names])
    assert response.status_code == 200
    assert response.text.count('data-testid="result-written"') == 3
    assert all((demo_dir() / n).is_file() for n in names)


def test_data_scientist_member_may_upload_own_dags(airflow_server, login):
    name = unique() + ".py"
    response = upload(login("bob"), airflow_server, [(name, dag_source("bob", name[:-3]))])
    assert response.status_code == 200 and (demo_dir() / name).is_file()


def test_admin_may_upload_a_dag_owned_by_someone_else_with_a_warning(airflow_server, login):
    name = unique() + ".py"
    response = upload(login("admin"), airflow_server, [(name, dag_source("alice", name[:-3]))])
    assert response.status_code == 200 and "allowed: you are an admin" in response.text
    assert (demo_dir() / name).is_file()


# -- rejections: 4xx, a clear message, nothing written ----------------------------------------


def test_every_hostile_name_is_refused_and_nothing_is_written(airflow_server, login):
    session = login("alice")
    token = token_for(session, airflow_server)
    before = snapshot()
    for name in HOSTILE_NAMES:
        if not name:
            continue  # an empty file name is "no file chosen" (tested below)
        response = upload(session, airflow_server, [(name, dag_source("alice", "hostile"))], csrf=token)
        assert 400 <= response.status_code < 500, (name, response.status_code)
        text = results_text(response.text)
        assert "refused" in text and "Nothing was saved" in text, (name, text)
        assert "Traceback" not in response.text
    assert snapshot() == before
    assert not any("evil" in p for p in snapshot())


@pytest.mark.parametrize(
    ("content", "status", "message"),
    [
        (b"x = 1\n" + b"#" * (1024 * 1024), 413, "larger than the limit of 1.0 MiB"),
        (b"# caf\xe9\nx = 1\n", 400, "is not UTF-8 text: byte 0xe9 at line 1"),
        (b"from airflow.sdk import DAG\n\nwith DAG('x'\n    pass\n", 400, "Python syntax error at line 3"),
        (b"x = 1\nreturn x\n", 400, "line 2, column 1: 'return' outside function"),
        (b"   \n", 400, "is empty"),
        (dag_source("bob", "bobs"), 403, "sets owner 'bob' (line 3), but you may only upload DAGs owned by your own"),
        (dag_source(None, "ownerless"), 403, "sets no owner, so Airflow would use its default owner 'airflow'"),
    ],
    ids=["too-big", "not-utf8", "syntax", "compile-error", "empty", "wrong-owner", "no-owner"],
)
def test_bad_content_is_refused_with_a_clear_message(airflow_server, login, content, status, message):
    session = login("alice")
    before = snapshot()
    name = unique() + ".py"
    response = upload(session, airflow_server, [(name, content)])
    assert response.status_code == status
    text = results_text(response.text)
    assert message in text and "Nothing was saved" in text, text
    assert snapshot() == before


def test_undetermined_owner_is_accepted_with_a_warning(airflow_server, login):
    name = unique() + ".py"
    content = b"import os\nfrom airflow.sdk import DAG\nDAG('x', default_args={'owner': os.environ['ME']})\n"
    response = upload(login("alice"), airflow_server, [(name, content)])
    assert response.status_code == 200
    assert "could not be read without running it" in response.text and "os.environ[&#39;ME&#39;]" in response.text


def test_one_bad_file_means_nothing_of_the_upload_is_written(airflow_server, login):
    good, bad = unique() + ".py", unique() + ".py"
    before = snapshot()
    response = upload(login("alice"), airflow_server, [(good, dag_source("alice", "g")), (bad, b"def (:\n")])
    assert response.status_code == 400
    assert "passed the checks but was not saved" in response.text and "syntax error" in response.text
    assert snapshot() == before


def test_no_file_chosen(airflow_server, login):
    session = login("alice")
    response = session.post(page_url(airflow_server, f"{DEMO_FS}/upload"),
                            data={"csrf_token": token_for(session, airflow_server)}, timeout=30)
    assert response.status_code == 400 and "Choose one or more .py files" in response.text
    response = upload(session, airflow_server, [("", b"")])
    assert response.status_code == 400 and "Choose one or more .py files" in response.text


def test_an_oversized_request_is_refused_before_reading_files(airflow_server, login):
    session = login("alice")
    before = snapshot()
    huge = b"#" * (21 * 1024 * 1024)
    response = upload(session, airflow_server, [(unique() + ".py", huge)])
    assert response.status_code == 413 and "The upload is too large" in response.text
    assert snapshot() == before


def test_missing_csrf_token_is_refused_and_nothing_changes(airflow_server, login):
    session = login("alice")
    name = unique() + ".py"
    before = snapshot()
    response = upload(session, airflow_server, [(name, dag_source("alice", "x"))], csrf=False)
    assert response.status_code == 400
    assert snapshot() == before
    victim = demo_dir() / (unique() + ".py")
    victim.write_bytes(dag_source("alice", "victim"))
    response = session.post(page_url(airflow_server, f"{DEMO_FS}/files/{victim.name}/delete"), timeout=30)
    assert response.status_code == 400 and victim.is_file()
    response = session.post(page_url(airflow_server, f"{DEMO_FS}/upload/replace"),
                            data={"overwrite": "1", "staged": f"{'0' * 32}:{victim.name}"}, timeout=30)
    assert response.status_code == 400 and victim.read_bytes() == dag_source("alice", "victim")


# -- replacing needs a confirmation -----------------------------------------------------------


def test_replacing_an_existing_file_asks_first(airflow_server, login):
    session = login("alice")
    name = unique() + ".py"
    old, new = dag_source("alice", "v1"), dag_source("alice", "v2")
    assert upload(session, airflow_server, [(name, old)]).status_code == 200
    ask = upload(session, airflow_server, [(name, new)])
    assert ask.status_code == 409 and "already exists. Replace it with the uploaded file?" in ask.text
    assert (demo_dir() / name).read_bytes() == old
    staged = re.search(r'name="staged" value="([0-9a-f]{32}:[^"]+)"', ask.text).group(1)
    confirm_url = page_url(airflow_server, f"{DEMO_FS}/upload/replace")
    done = session.post(confirm_url, data={"csrf_token": csrf_token(ask.text), "overwrite": "1", "staged": staged,
                                           "action": "replace"}, timeout=30)
    assert done.status_code == 200 and f"{name} was replaced" in done.text
    assert (demo_dir() / name).read_bytes() == new
    again = session.post(confirm_url, data={"csrf_token": csrf_token(ask.text), "overwrite": "1", "staged": staged,
                                            "action": "replace"}, timeout=30)
    assert again.status_code == 410 and "expired or was already used" in again.text
    # "Keep the existing file" discards the staged upload.
    ask = upload(session, airflow_server, [(name, old)])
    staged = re.search(r'name="staged" value="([^"]+)"', ask.text).group(1)
    kept = session.post(confirm_url, data={"csrf_token": csrf_token(ask.text), "overwrite": "1", "staged": staged,
                                           "action": "cancel"}, timeout=30)
    assert kept.status_code == 200 and "Nothing was replaced" in kept.text
    assert (demo_dir() / name).read_bytes() == new
    assert not [p for p in os.listdir(demo_dir()) if p.startswith(".")]


def test_a_confirmation_cannot_smuggle_a_bad_name_or_another_owner(airflow_server, login):
    session = login("alice")
    name = unique() + ".py"
    upload(session, airflow_server, [(name, dag_source("alice", "v1"))])
    ask = upload(session, airflow_server, [(name, dag_source("alice", "v2"))])
    token = re.search(r'name="staged" value="([0-9a-f]{32}):', ask.text).group(1)
    before = snapshot()
    confirm_url = page_url(airflow_server, f"{DEMO_FS}/upload/replace")
    for staged in (f"{token}:../evil.py", f"{token}:.hidden.py", "../../x:a.py"):
        response = session.post(confirm_url, data={"csrf_token": csrf_token(ask.text), "overwrite": "1",
                                                   "staged": staged, "action": "replace"}, timeout=30)
        assert 400 <= response.status_code < 500
    assert snapshot() == before
    # bob confirming alice's staged file is re-checked against bob: the owner is alice, so refused.
    bob = login("bob")
    response = bob.post(confirm_url, data={"csrf_token": token_for(bob, airflow_server), "overwrite": "1",
                                           "staged": f"{token}:{name}", "action": "replace"}, timeout=30)
    assert response.status_code == 403 and "your own Hopsworks username 'bob'" in text(response)
    assert (demo_dir() / name).read_bytes() == dag_source("alice", "v1")


# -- who may do what --------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["dave", "carol"])
def test_non_members_get_403_and_the_file_is_untouched(airflow_server, login, user):
    target = demo_dir() / (unique() + ".py")
    target.parent.mkdir(exist_ok=True)
    target.write_bytes(dag_source("alice", "idor"))
    session = login(user)
    # A token from a page this user may see (carol: her project; dave: the plugin app's login form).
    if user == "carol":
        token = token_for(session, airflow_server, ANALYTICS)
    else:
        token = csrf_token(session.get(f"{airflow_server.url}/pluginsv2/login/?next=/", timeout=30).text)
    base = f"{DEMO_FS}/files/{target.name}"
    for method, path in [("get", f"{DEMO_FS}/"), ("get", base), ("get", f"{base}/download"),
                         ("get", f"{base}/delete"), ("post", f"{base}/delete")]:
        response = getattr(session, method)(page_url(airflow_server, path), data={"csrf_token": token},
                                            timeout=30, allow_redirects=False)
        assert response.status_code == 403, (user, path, response.status_code)
        assert "not a member of Hopsworks project 'demo_fs'" in text(response)
        assert "SECRET" not in response.text and "EmptyOperator" not in response.text
    before = snapshot()
    response = upload(session, airflow_server, [(target.name, dag_source(user, "x"))], csrf=token)
    assert response.status_code == 403
    response = session.post(page_url(airflow_server, f"{DEMO_FS}/upload/replace"),
                            data={"csrf_token": token, "overwrite": "1", "staged": f"{'0' * 32}:{target.name}"},
                            timeout=30)
    assert response.status_code == 403
    assert snapshot() == before and target.read_bytes() == dag_source("alice", "idor")


def test_unknown_project_and_unknown_file(airflow_server, login):
    session = login("alice")
    assert session.get(page_url(airflow_server, "999/"), timeout=30).status_code == 404
    missing = session.get(page_url(airflow_server, f"{DEMO_FS}/files/nope_{uuid.uuid4().hex}.py"), timeout=30)
    assert missing.status_code == 404 and "There is no file" in missing.text
    weird = session.get(page_url(airflow_server, f"{DEMO_FS}/files/..%2f..%2fairflow.cfg"), timeout=30)
    assert weird.status_code in (400, 404) and "[core]" not in weird.text
    hidden = session.get(page_url(airflow_server, f"{DEMO_FS}/files/.hidden.py/download"), timeout=30)
    assert hidden.status_code == 400


def test_anonymous_visitors_are_sent_to_login(airflow_server):
    response = requests.get(page_url(airflow_server, f"{DEMO_FS}/"), allow_redirects=False, timeout=30)
    assert response.status_code == 302 and "/auth/login/" in response.headers["Location"]


def test_a_symlink_in_the_project_folder_is_not_listed_or_followed(airflow_server, login, tmp_path):
    secret = tmp_path / "secret.py"
    secret.write_bytes(b"SECRET = 'do not show'\n")
    link = demo_dir() / (unique("link") + ".py")
    link.parent.mkdir(exist_ok=True)
    link.symlink_to(secret)
    try:
        session = login("alice")
        listing = session.get(page_url(airflow_server, f"{DEMO_FS}/"), timeout=30)
        assert link.name not in listing.text and 'data-testid="skipped"' in listing.text
        for suffix in ("", "/download", "/delete"):
            response = session.get(page_url(airflow_server, f"{DEMO_FS}/files/{link.name}{suffix}"), timeout=30)
            assert response.status_code == 403 and "symbolic link" in response.text
            assert "do not show" not in response.text
        response = session.post(page_url(airflow_server, f"{DEMO_FS}/files/{link.name}/delete"),
                                data={"csrf_token": csrf_token(listing.text)}, timeout=30)
        assert response.status_code == 403 and link.is_symlink() and secret.exists()
    finally:
        link.unlink()


# -- delete: file and DAG records -------------------------------------------------------------


def test_delete_removes_the_file_and_its_dag_records(airflow_server, login):
    from airflow.dag_processing.bundles.manager import DagBundlesManager

    from tests.test_dag_files import dag_rows, insert_dag, insert_import_error

    DagBundlesManager().sync_bundles_to_db()
    session = login("alice")
    target = demo_dir() / (unique() + ".py")
    target.parent.mkdir(exist_ok=True)
    target.write_bytes(dag_source("alice", "gone"))
    ids = [unique("deldag"), unique("deldag")]
    for dag_id in ids:
        insert_dag(dag_id, target, f"demo_fs/{target.name}", "alice")
    insert_import_error(f"demo_fs/{target.name}")
    listing = session.get(page_url(airflow_server, f"{DEMO_FS}/"), timeout=30)
    assert f'data-testid="dag-{ids[0]}"' in listing.text and 'data-testid="import-error"' in listing.text

    url = page_url(airflow_server, f"{DEMO_FS}/files/{target.name}/delete")
    confirm = session.get(url, timeout=30)
    assert confirm.status_code == 200 and "pauses and removes" in confirm.text
    assert all(f'data-testid="dag-{i}"' in confirm.text for i in ids) and target.is_file()

    done = session.post(url, data={"csrf_token": csrf_token(confirm.text)}, timeout=30)
    assert done.status_code == 200, done.text[-2000:]
    assert "The file was removed" in done.text and "2 DAGs paused and removed from Airflow" in done.text
    assert "1 import error record removed" in text(done)
    assert not target.exists()
    assert dag_rows(*ids) == {}
    again = session.post(url, data={"csrf_token": csrf_token(confirm.text)}, timeout=30)
    assert again.status_code == 404


def raw_multipart(token: str, disposition: str, content: bytes) -> tuple[bytes, str]:
    boundary = "hwboundary" + uuid.uuid4().hex
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; {disposition}\r\n"
        "Content-Type: text/x-python\r\n\r\n"
    ).encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize(
    "disposition",
    [
        "filename*=UTF-8''%2e%2e%2fevil.py",
        "filename*=UTF-8''..%2F..%2Fevil.py",
        "filename*=UTF-8''%E2%88%95etc%E2%88%95evil.py",
        'filename="..\\\\evil.py"',
        'filename="sub\\dag.py"',
        "filename*=UTF-8''dag.py%00.txt",
    ],
)
def test_encoded_file_names_in_raw_multipart_are_refused(airflow_server, login, disposition):
    """Names as a hand-made client can send them: RFC 5987 percent-encoding, backslashes (which
    Werkzeug would unescape into a different, harmless-looking name)."""
    session = login("alice")
    before = snapshot()
    body, content_type = raw_multipart(token_for(session, airflow_server), disposition, dag_source("alice", "x"))
    response = session.post(page_url(airflow_server, f"{DEMO_FS}/upload"), data=body,
                            headers={"Content-Type": content_type}, timeout=30)
    assert response.status_code == 400, (disposition, results_text(response.text))
    assert "refused" in results_text(response.text)
    assert snapshot() == before


def test_a_chunked_upload_without_content_length_writes_nothing(airflow_server, login):
    session = login("alice")
    before = snapshot()
    body, content_type = raw_multipart(token_for(session, airflow_server), f'filename="{unique()}.py"',
                                       dag_source("alice", "chunked"))

    def chunks():
        for i in range(0, len(body), 100):
            yield body[i : i + 100]

    response = session.post(page_url(airflow_server, f"{DEMO_FS}/upload"), data=chunks(),
                            headers={"Content-Type": content_type}, timeout=30)
    assert response.request.headers.get("Transfer-Encoding") == "chunked"
    assert 400 <= response.status_code < 500
    assert snapshot() == before


def test_files_put_there_by_other_means_are_shown_safely(airflow_server, login):
    """Files an admin copied in may be large or not UTF-8: the view truncates and replaces bytes."""
    session = login("alice")
    big = demo_dir() / (unique() + ".py")
    big.parent.mkdir(exist_ok=True)
    big.write_bytes(b"x = 1\n" * 600_000)  # 3.4 MiB
    latin = demo_dir() / (unique() + ".py")
    latin.write_bytes(b"# caf\xe9\nx = 1\n")
    view = session.get(page_url(airflow_server, f"{DEMO_FS}/files/{big.name}"), timeout=30)
    assert view.status_code == 200 and "Only the first 2.0 MiB are shown" in text(view)
    view = session.get(page_url(airflow_server, f"{DEMO_FS}/files/{latin.name}"), timeout=30)
    assert view.status_code == 200 and "not valid UTF-8" in text(view) and "caf\ufffd" in text(view)
    download = session.get(page_url(airflow_server, f"{DEMO_FS}/files/{big.name}/download"), timeout=30)
    assert download.content == big.read_bytes()
