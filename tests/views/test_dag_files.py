"""Project DAG file pages, in-process (the real /pluginsv2 app, no api-server): upload, list,
view, download, replace, delete; every rejection (4xx + message + nothing written), who may do
what (IDOR), CSRF, size caps, symlinks, hostile names as hand-made clients send them."""

from __future__ import annotations

import html
import io
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hopsworks_ui_plugin.formatting import fmt_size
from tests.support import HOSTILE_NAMES, csrf_token, dag_rows, dag_source, insert_dag, insert_import_error

DEMO_FS, ANALYTICS, EMPTY_PROJ = 119, 120, 121


def dags_root() -> Path:
    return Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])


def demo_dir() -> Path:
    path = dags_root() / "demo_fs"
    path.mkdir(exist_ok=True)
    return path


def snapshot() -> dict[str, bytes]:
    """Every file under the DAGs folder (hidden ones included) with its content."""
    root = dags_root()
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file() or p.is_symlink()}


def unique(prefix: str = "tw") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module", autouse=True)
def cleanup(airflow_db) -> Iterator[None]:
    before = set(snapshot())
    yield
    for rel in set(snapshot()) - before:
        (dags_root() / rel).unlink(missing_ok=True)


def page(path: str = "") -> str:
    return f"dag-files/{path.lstrip('/')}"


def body(response: Any) -> str:
    return str(response.get_data(as_text=True))


def text(response: Any) -> str:
    """The page as a user reads it: tags stripped, entities decoded, whitespace collapsed."""
    stripped = re.sub(r"<(script|style)\b.*?</\1>", " ", body(response), flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", stripped)).split())


def results_text(response: Any) -> str:
    """The visible text of the upload results and error boxes."""
    blocks = re.findall(r'data-testid="upload-results".*?</section>|data-testid="upload-error".*?</div>',
                        body(response), re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", " ".join(blocks)))


def upload(user: Any, files: list[tuple[str, bytes]], project_id: int = DEMO_FS, csrf: str | bool = True) -> Any:
    """POST files to the upload form; ``csrf``: True = fetch a token, False = send none, or a token."""
    form: dict[str, Any] = {"files": [(io.BytesIO(content), name, "text/x-python") for name, content in files]}
    if csrf is True:
        form["csrf_token"] = user.csrf(page(f"{project_id}/"))
    elif csrf:
        form["csrf_token"] = str(csrf)
    return user.post(page(f"{project_id}/upload"), follow_redirects=True, data=form, content_type="multipart/form-data")


def html5_quoted(name: str) -> str:
    """A file name as browsers (and requests) put it in a multipart header: control characters
    and ``"`` percent-encoded, backslashes doubled (HTML5 "multipart/form-data encoding")."""
    name = name.replace("\\", "\\\\").replace('"', "%22")
    return "".join(f"%{ord(c):02X}" if ord(c) < 32 and c != "\x1b" else c for c in name)


def staged_values(response: Any) -> list[str]:
    return re.findall(r'name="staged" value="([0-9a-f]{32,64}:[^"]+)"', body(response))


# -- pages ------------------------------------------------------------------------------------


def test_project_picker_shows_only_my_projects(web):
    alice = web("alice").get(page())
    assert alice.status_code == 200
    assert "demo_fs" in body(alice) and "empty_proj" in body(alice) and "analytics" not in body(alice)
    dave = web("dave").get(page())
    assert dave.status_code == 200 and "not a member of any Hopsworks project" in body(dave)
    admin = web("admin").get(page())
    assert "analytics" in body(admin) and "demo_fs" in body(admin) and "admin (not a member)" in body(admin)


def test_empty_project_shows_a_hint(web):
    response = web("alice").get(page(f"{EMPTY_PROJ}/"))
    assert response.status_code == 200
    assert 'data-testid="empty"' in body(response) and "No DAG files in this project yet" in body(response)
    assert 'default_args={"owner": "alice"}' in text(response)
    assert f"at most {fmt_size(1024 * 1024)} each, up to 20 files" in text(response)


def test_upload_then_list_view_and_download(web):
    alice = web("alice")
    name = unique() + ".py"
    content = dag_source("alice", unique("dag"), extra="# <script>alert('x')</script>\n")
    response = upload(alice, [(name, content)])
    assert response.status_code == 200, results_text(response)
    assert f"{name} was saved ({fmt_size(len(content))})" in results_text(response)
    assert (demo_dir() / name).read_bytes() == content
    assert f'data-testid="file-{name}"' in body(response)  # listed on the same page
    listing = alice.get(page(f"{DEMO_FS}/"))
    assert f'data-testid="file-{name}"' in body(listing) and "not parsed yet" in body(listing)

    view = alice.get(page(f"{DEMO_FS}/files/{name}"))
    assert view.status_code == 200
    assert "<script>alert" not in body(view) and "&lt;script&gt;alert(" in body(view)
    assert '<span class="ln">4</span>with DAG(&#39;' in body(view)
    assert f"{fmt_size(len(content))} · modified" in text(view)

    download = alice.get(page(f"{DEMO_FS}/files/{name}/download"))
    assert download.status_code == 200 and download.data == content
    assert download.headers["Content-Disposition"] == f'attachment; filename="{name}"'
    assert download.headers["Content-Type"].startswith("text/x-python")
    assert download.headers["X-Content-Type-Options"] == "nosniff"


def test_several_files_in_one_upload(web):
    names = [unique() + ".py" for _ in range(3)]
    response = upload(web("alice"), [(n, dag_source("alice", n[:-3])) for n in names])
    assert response.status_code == 200
    assert body(response).count('data-testid="result-written"') == 3
    assert all((demo_dir() / n).is_file() for n in names)


def test_data_scientist_member_may_upload_own_dags(web):
    name = unique() + ".py"
    response = upload(web("bob"), [(name, dag_source("bob", name[:-3]))])
    assert response.status_code == 200 and (demo_dir() / name).is_file()


def test_admin_may_upload_a_dag_owned_by_someone_else_with_a_warning(web):
    name = unique() + ".py"
    response = upload(web("admin"), [(name, dag_source("alice", name[:-3]))])
    assert response.status_code == 200 and "allowed: you are an admin" in body(response)
    assert (demo_dir() / name).is_file()


# -- rejections: 4xx, a clear message, nothing written ----------------------------------------


def test_every_hostile_name_is_refused_and_nothing_is_written(web):
    alice = web("alice")
    token = alice.csrf(page(f"{DEMO_FS}/"))
    before = snapshot()
    for name in HOSTILE_NAMES:
        if not name:
            continue  # an empty file name is "no file chosen" (tested below)
        raw, content_type = raw_multipart(token, f'filename="{html5_quoted(name)}"', dag_source("alice", "hostile"))
        response = alice.post(page(f"{DEMO_FS}/upload"), follow_redirects=True, data=raw, content_type=content_type)
        assert 400 <= response.status_code < 500, (name, response.status_code)
        shown = results_text(response)
        assert "refused" in shown and "Nothing was saved" in shown, (name, shown)
        assert "Traceback" not in body(response)
    assert snapshot() == before


@pytest.mark.parametrize(
    ("content", "status", "message"),
    [
        (b"x = 1\n" + b"#" * (1024 * 1024), 413, f"larger than the limit of {fmt_size(1024 * 1024)}"),
        (b"# caf\xe9\nx = 1\n", 400, "is not UTF-8 text: byte 0xe9 at line 1"),
        (dag_source("bob", "bobs"), 403, "sets owner 'bob' (line 3), but you may only upload DAGs owned by your own"),
        (dag_source(None, "ownerless"), 403, "sets no owner, so Airflow would use its default owner 'airflow'"),
    ],
    ids=["too-big", "not-utf8", "wrong-owner", "no-owner"],
)
def test_bad_content_is_refused_with_a_clear_message(web, content, status, message):
    before = snapshot()
    response = upload(web("alice"), [(unique() + ".py", content)])
    assert response.status_code == status
    shown = results_text(response)
    assert message in shown and "Nothing was saved" in shown, shown
    assert snapshot() == before


UNREADABLE_OWNER = b"import os\nfrom airflow.sdk import DAG\nDAG('x', default_args={'owner': os.environ['ME']})\n"


def test_undetermined_owner_is_refused_with_the_reason(web):
    """Fail closed (was: saved with a warning)."""
    before = snapshot()
    response = upload(web("alice"), [(unique() + ".py", UNREADABLE_OWNER)])
    assert response.status_code == 403
    assert "cannot be read without running it" in text(response) and "os.environ['ME']" in text(response)
    assert "Only an Airflow admin can upload it as it is." in text(response)
    assert 'data-testid="confirm-override"' not in body(response)  # no override offered to a member
    assert snapshot() == before


def test_an_admin_sees_exactly_what_they_override_and_must_tick_it(web):
    admin = web("admin")
    name = unique() + ".py"
    source = b"from airflow.sdk import DAG\nDAG('ov_' + 'x', default_args={'owner': 'admin'})\n"
    ask = upload(admin, [(name, source)])
    assert ask.status_code == 409 and not (demo_dir() / name).exists()
    reasons = re.search(r'data-testid="override-reasons">(.*?)</ul>', body(ask), re.S)
    assert reasons and "The DAG id of" in reasons.group(1) and "dag_id is not a literal string" in reasons.group(1)
    assert f"I override exactly these checks for <code>{name}</code>" in body(ask)
    (staged,) = staged_values(ask)
    url = page(f"{DEMO_FS}/upload/replace")
    unticked = admin.post(url, data={"csrf_token": csrf_token(body(ask)), "overwrite": "1", "staged": staged,
                                     "action": "override"}, follow_redirects=True)
    assert unticked.status_code == 400 and not (demo_dir() / name).exists()
    ask = upload(admin, [(name, source)])
    (staged,) = staged_values(ask)
    done = admin.post(url, data={"csrf_token": csrf_token(body(ask)), "overwrite": "1", "staged": staged,
                                 "action": "override", "override": "1"}, follow_redirects=True)
    assert done.status_code == 200 and f"{name} was saved" in text(done)
    assert "Overridden by you (an admin): The DAG id of" in text(done)
    assert (demo_dir() / name).read_bytes() == source
    (demo_dir() / name).unlink()


def test_one_bad_file_means_nothing_of_the_upload_is_written(web):
    before = snapshot()
    response = upload(web("alice"), [(unique() + ".py", dag_source("alice", "g")), (unique() + ".py", b"def (:\n")])
    assert response.status_code == 400
    assert "passed the checks but was not saved" in body(response) and "syntax error" in body(response)
    assert snapshot() == before


def test_no_file_chosen(web):
    alice = web("alice")
    response = alice.post(page(f"{DEMO_FS}/upload"),
                          data={"csrf_token": alice.csrf(page(f"{DEMO_FS}/"))}, follow_redirects=True)
    assert response.status_code == 400 and "Choose one or more .py files" in body(response)
    response = upload(alice, [("", b"")])
    assert response.status_code == 400 and "Choose one or more .py files" in body(response)


def test_too_many_files_are_refused(web, monkeypatch):
    monkeypatch.setenv("AIRFLOW__HOPSWORKS__MAX_DAG_FILES_PER_UPLOAD", "2")
    before = snapshot()
    response = upload(web("alice"), [(unique() + ".py", dag_source("alice", "x")) for _ in range(3)])
    assert response.status_code == 413 and "Too many files (3); at most 2 per upload" in text(response)
    assert snapshot() == before


def test_an_oversized_request_is_refused_before_reading_files(web):
    before = snapshot()
    response = upload(web("alice"), [(unique() + ".py", b"#" * (21 * 1024 * 1024))])
    assert response.status_code == 413 and "The upload is too large" in body(response)
    assert snapshot() == before


def test_missing_csrf_token_is_refused_and_nothing_changes(web):
    alice = web("alice")
    before = snapshot()
    response = upload(alice, [(unique() + ".py", dag_source("alice", "x"))], csrf=False)
    assert response.status_code == 400 and "The CSRF token is missing" in text(response)
    assert snapshot() == before
    victim = demo_dir() / (unique() + ".py")
    victim.write_bytes(dag_source("alice", "victim"))
    response = alice.post(page(f"{DEMO_FS}/files/{victim.name}/delete"), follow_redirects=True)
    assert response.status_code == 400 and victim.is_file()
    response = alice.post(page(f"{DEMO_FS}/upload/replace"), follow_redirects=True,
                          data={"overwrite": "1", "staged": f"{'0' * 32}:{victim.name}"})
    assert response.status_code == 400
    assert victim.read_bytes() == dag_source("alice", "victim")


# -- replacing needs a confirmation -----------------------------------------------------------


def test_replacing_an_existing_file_asks_first(web):
    alice = web("alice")
    name = unique() + ".py"
    old, new = dag_source("alice", "v1"), dag_source("alice", "v2")
    assert upload(alice, [(name, old)]).status_code == 200
    ask = upload(alice, [(name, new)])
    assert ask.status_code == 409 and "already exists. Replace it with the uploaded file?" in body(ask)
    assert (demo_dir() / name).read_bytes() == old
    (staged,) = staged_values(ask)
    replace_url = page(f"{DEMO_FS}/upload/replace")
    form = {"csrf_token": csrf_token(body(ask)), "overwrite": "1", "staged": staged, "action": "replace"}
    done = alice.post(replace_url, follow_redirects=True, data=form)
    assert done.status_code == 200 and f"{name} was replaced" in body(done)
    assert (demo_dir() / name).read_bytes() == new
    again = alice.post(replace_url, follow_redirects=True, data=form)
    assert again.status_code == 410 and "expired or was already used" in body(again)
    # "Keep the existing file" discards the staged upload.
    ask = upload(alice, [(name, old)])
    (staged,) = staged_values(ask)
    empty = alice.post(replace_url, data={"csrf_token": csrf_token(body(ask)), "overwrite": "1", "action": "replace"},
                       follow_redirects=True)
    assert empty.status_code == 400 and "The confirmation was not valid." in text(empty)
    kept = alice.post(replace_url, data={"csrf_token": csrf_token(body(ask)), "overwrite": "1", "staged": staged,
                                         "action": "cancel"}, follow_redirects=True)
    assert kept.status_code == 200 and "Nothing was replaced" in body(kept)
    assert (demo_dir() / name).read_bytes() == new
    assert not [p for p in os.listdir(demo_dir()) if p.startswith(".")]


def test_a_confirmation_cannot_smuggle_a_bad_name_or_another_owner(web):
    alice = web("alice")
    name = unique() + ".py"
    upload(alice, [(name, dag_source("alice", "v1"))])
    ask = upload(alice, [(name, dag_source("alice", "v2"))])
    token = staged_values(ask)[0].split(":")[0]
    before = snapshot()
    replace_url = page(f"{DEMO_FS}/upload/replace")
    for staged in (f"{token}:../evil.py", f"{token}:.hidden.py", "../../x:a.py"):
        response = alice.post(replace_url, data={"csrf_token": csrf_token(body(ask)), "overwrite": "1",
                                                 "staged": staged, "action": "replace"}, follow_redirects=True)
        assert response.status_code == 400, staged
    # nothing written, and the refused confirmation's staged upload is removed (nothing waits for a retry)
    assert snapshot() == {k: v for k, v in before.items() if token not in k}
    # bob confirming alice's staged file is re-checked against bob: the owner is alice, so refused.
    token = staged_values(upload(alice, [(name, dag_source("alice", "v2"))]))[0].split(":")[0]
    bob = web("bob")
    response = bob.post(replace_url, data={"csrf_token": bob.csrf(page(f"{DEMO_FS}/")), "overwrite": "1",
                                           "staged": f"{token}:{name}", "action": "replace"}, follow_redirects=True)
    assert response.status_code == 403 and "your own Hopsworks username 'bob'" in text(response)
    assert (demo_dir() / name).read_bytes() == dag_source("alice", "v1")


# -- who may do what --------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["dave", "carol"])
def test_non_members_get_403_and_the_file_is_untouched(web, user):
    target = demo_dir() / (unique() + ".py")
    target.write_bytes(dag_source("alice", "idor"))
    client = web(user)
    # A token from a page this user may see (carol: her project; dave: the plugin app's login form).
    token = client.csrf(page(f"{ANALYTICS}/") if user == "carol" else "/login/?next=/")
    base = f"{DEMO_FS}/files/{target.name}"
    for method, path in [("get", f"{DEMO_FS}/"), ("get", base), ("get", f"{base}/download"),
                         ("get", f"{base}/delete"), ("post", f"{base}/delete")]:
        response = getattr(client, method)(page(path), data={"csrf_token": token})
        assert response.status_code == 403, (user, path, response.status_code)
        assert "not a member of Hopsworks project 'demo_fs'" in text(response)
        assert "EmptyOperator" not in body(response)
    before = snapshot()
    assert upload(client, [(target.name, dag_source(user, "x"))], csrf=token).status_code == 403
    response = client.post(page(f"{DEMO_FS}/upload/replace"), follow_redirects=True,
                           data={"csrf_token": token, "overwrite": "1", "staged": f"{'0' * 32}:{target.name}"})
    assert response.status_code == 403
    assert snapshot() == before and target.read_bytes() == dag_source("alice", "idor")


def test_unknown_project_and_unknown_file(web):
    alice = web("alice")
    assert alice.get(page("999/")).status_code == 404
    missing = alice.get(page(f"{DEMO_FS}/files/nope_{uuid.uuid4().hex}.py"))
    assert missing.status_code == 404 and "There is no file" in body(missing)
    assert f'href="/hopsworks/dag-files/{DEMO_FS}/"' in body(missing)  # "Back" leads to the project's files
    weird = alice.get(page(f"{DEMO_FS}/files/..%2f..%2fairflow.cfg"))
    assert weird.status_code == 404 and "[core]" not in body(weird)
    hidden = alice.get(page(f"{DEMO_FS}/files/.hidden.py/download"))
    assert hidden.status_code == 400 and "hidden file name" in text(hidden)


def test_anonymous_visitors_are_sent_to_login(web):
    response = web(None).get(page(f"{DEMO_FS}/"))
    assert response.status_code == 302 and "/auth/login/" in response.headers["Location"]


def test_a_symlink_in_the_project_folder_is_not_listed_or_followed(web, tmp_path):
    secret = tmp_path / "secret.py"
    secret.write_bytes(b"SECRET = 'do not show'\n")
    link = demo_dir() / (unique("link") + ".py")
    link.symlink_to(secret)
    try:
        alice = web("alice")
        listing = alice.get(page(f"{DEMO_FS}/"))
        assert link.name not in body(listing) and 'data-testid="skipped"' in body(listing)
        for suffix in ("", "/download", "/delete"):
            response = alice.get(page(f"{DEMO_FS}/files/{link.name}{suffix}"))
            assert response.status_code == 403 and "symbolic link" in body(response)
            assert "do not show" not in body(response)
        response = alice.post(page(f"{DEMO_FS}/files/{link.name}/delete"), follow_redirects=True,
                              data={"csrf_token": csrf_token(body(listing))})
        assert response.status_code == 403 and link.is_symlink() and secret.exists()
    finally:
        link.unlink()


# -- delete: file and DAG records -------------------------------------------------------------


def test_delete_removes_the_file_and_its_dag_records(web):
    from airflow.dag_processing.bundles.manager import DagBundlesManager

    DagBundlesManager().sync_bundles_to_db()
    alice = web("alice")
    target = demo_dir() / (unique() + ".py")
    target.write_bytes(dag_source("alice", "gone"))
    ids = [unique("deldag"), unique("deldag")]
    for dag_id in ids:
        insert_dag(dag_id, target, f"demo_fs/{target.name}", "alice")
    insert_import_error(f"demo_fs/{target.name}")
    listing = alice.get(page(f"{DEMO_FS}/"))
    assert f'data-testid="dag-{ids[0]}"' in body(listing) and 'data-testid="import-error"' in body(listing)
    assert "Boom: line 3" in body(listing)

    url = page(f"{DEMO_FS}/files/{target.name}/delete")
    confirm = alice.get(url)
    assert confirm.status_code == 200 and "pauses and removes" in body(confirm)
    assert all(f'data-testid="dag-{i}"' in body(confirm) for i in ids) and target.is_file()

    done = alice.post(url, follow_redirects=True, data={"csrf_token": csrf_token(body(confirm))})
    assert done.status_code == 200, text(done)
    assert "The file was removed" in body(done) and "2 DAGs paused and removed from Airflow" in body(done)
    assert "1 import error record removed" in text(done)
    assert not target.exists() and dag_rows(*ids) == {}
    again = alice.post(url, follow_redirects=True, data={"csrf_token": csrf_token(body(confirm))})
    assert again.status_code == 404


# -- hand-made clients ------------------------------------------------------------------------


def raw_multipart(token: str, disposition: str, content: bytes) -> tuple[bytes, str]:
    boundary = "hwboundary" + uuid.uuid4().hex
    raw = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; {disposition}\r\n"
        "Content-Type: text/x-python\r\n\r\n"
    ).encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return raw, f"multipart/form-data; boundary={boundary}"


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
def test_encoded_file_names_in_raw_multipart_are_refused(web, disposition):
    """Names as a hand-made client can send them: RFC 5987 percent-encoding, backslashes (which
    the web server would unescape into a different, harmless-looking name)."""
    alice = web("alice")
    before = snapshot()
    raw, content_type = raw_multipart(alice.csrf(page(f"{DEMO_FS}/")), disposition, dag_source("alice", "x"))
    response = alice.post(page(f"{DEMO_FS}/upload"), follow_redirects=True, data=raw, content_type=content_type)
    assert response.status_code == 400, (disposition, results_text(response))
    assert "refused" in results_text(response)
    assert snapshot() == before


def test_a_chunked_upload_without_content_length_writes_nothing(web):
    alice = web("alice")
    before = snapshot()
    raw, content_type = raw_multipart(alice.csrf(page(f"{DEMO_FS}/")), f'filename="{unique()}.py"',
                                      dag_source("alice", "chunked"))
    response = alice.post(page(f"{DEMO_FS}/upload"), input_stream=io.BytesIO(raw), content_type=content_type,
                          headers={"Transfer-Encoding": "chunked"}, follow_redirects=True)
    assert response.status_code == 400
    assert snapshot() == before


def test_files_put_there_by_other_means_are_shown_safely(web):
    """Files an admin copied in may be large or not UTF-8: the view truncates and replaces bytes."""
    alice = web("alice")
    big = demo_dir() / (unique() + ".py")
    big.write_bytes(b"x = 1\n" * 600_000)  # 3.4 MiB
    latin = demo_dir() / (unique() + ".py")
    latin.write_bytes(b"# caf\xe9\nx = 1\n")
    view = alice.get(page(f"{DEMO_FS}/files/{big.name}"))
    assert view.status_code == 200 and f"Only the first {fmt_size(2 * 1024 * 1024)} are shown" in text(view)
    view = alice.get(page(f"{DEMO_FS}/files/{latin.name}"))
    assert view.status_code == 200 and "not valid UTF-8" in text(view) and "caf\ufffd" in text(view)
    download = alice.get(page(f"{DEMO_FS}/files/{big.name}/download"))
    assert download.data == big.read_bytes()
