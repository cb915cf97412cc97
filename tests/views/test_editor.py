"""The DAG file editor page, in-process (the real /pluginsv2 app): open, save through the upload's
checks, the lost-update refusal (409 with a diff, nothing written), syntax errors keeping the user's
text, who may look and who may save."""

from __future__ import annotations

import html
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hopsworks_ui_plugin.core.editor import content_hash
from tests.support import csrf_token, dag_source

DEMO_FS = 119


def demo_dir() -> Path:
    path = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / "demo_fs"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture()
def dag_file(airflow_db) -> Iterator[Path]:
    """A DAG file of alice's in demo_fs's folder, removed afterwards."""
    name = f"ed_{uuid.uuid4().hex[:8]}"
    path = demo_dir() / f"{name}.py"
    path.write_bytes(dag_source("alice", name))
    yield path
    path.unlink(missing_ok=True)
    for staged in demo_dir().glob(".*"):  # nothing of a refused save may stay staged
        assert path.name not in staged.name


def edit_path(path: Path) -> str:
    return f"dag-files/{DEMO_FS}/edit/{path.name}"


def body(response: Any) -> str:
    return str(response.get_data(as_text=True))


def textarea(response: Any) -> str:
    """What the editor's textarea holds (the HTML parser drops the newline right after the tag)."""
    match = re.search(r'<textarea id="hw-editor-source"[^>]*>\n?(.*?)</textarea>', body(response), re.S)
    assert match, "no editor textarea"
    return html.unescape(match.group(1))


def hidden(response: Any, name: str) -> str:
    match = re.search(rf'name="{name}" type="hidden" value="([^"]*)"', body(response)) or re.search(
        rf'id="{name}" name="{name}" type="hidden" value="([^"]*)"', body(response))
    assert match, f"no hidden {name}"
    return html.unescape(match.group(1))


def save(user: Any, path: Path, content: str, opened: Any = None, **extra: str) -> Any:
    """Open the editor (unless ``opened`` is the page it was opened with) and post ``content``."""
    opened = opened if opened is not None else user.get(edit_path(path))
    form = {"csrf_token": csrf_token(body(opened)), "base_hash": hidden(opened, "base_hash"), "content": content,
            **extra}
    return user.post(edit_path(path), data=form, follow_redirects=True)


def test_open_shows_the_file_in_codemirror_served_from_static(web, dag_file):
    alice = web("alice")
    page = alice.get(edit_path(dag_file))
    assert page.status_code == 200
    assert textarea(page) == dag_file.read_text()
    assert hidden(page, "base_hash") == content_hash(dag_file.read_bytes())
    scripts = re.findall(r'<script src="([^"]+)"', body(page))
    bundle = next(s for s in scripts if s.endswith("/vendor/codemirror.bundle.js"))
    assert not re.match(r"https?://", bundle)  # served by the plugin, nothing from a CDN
    served = alice.get(bundle)
    assert served.status_code == 200
    head = served.get_data(as_text=True)[:20000]
    assert "@codemirror/view" in head and "Marijn Haverbeke" in head and "MIT" in head  # license headers kept
    assert 'data-testid="save"' in body(page)


def test_edit_and_save_writes_the_file_through_the_upload_checks(web, dag_file):
    alice = web("alice")
    changed = dag_file.read_text().replace("task_id='noop'", "task_id='edited'")
    response = save(alice, dag_file, changed.replace("\n", "\r\n"))  # as a browser sends a textarea
    assert response.status_code == 200, body(response)
    assert "was saved" in body(response)
    assert dag_file.read_text() == changed  # the file's own line ends kept
    assert hidden(response, "base_hash") == content_hash(changed.encode())  # the next save starts from here


def test_lost_update_is_refused_with_a_diff_and_nothing_is_written(web, dag_file):
    alice = web("alice")
    opened = alice.get(edit_path(dag_file))
    theirs = dag_file.read_text().replace("task_id='noop'", "task_id='theirs'")
    dag_file.write_text(theirs)  # someone else saves while alice edits
    mine = textarea(opened).replace("task_id='noop'", "task_id='mine'")
    response = save(alice, dag_file, mine, opened)
    assert response.status_code == 409
    assert dag_file.read_text() == theirs  # nothing written
    page = body(response)
    diff = html.unescape(re.search(r'data-testid="diff">(.*?)</pre>', page, re.S).group(1))
    diff_lines = [re.sub(r"<[^>]+>", "", line) for line in diff.splitlines()]
    assert "-    EmptyOperator(task_id='theirs')" in diff_lines
    assert "+    EmptyOperator(task_id='mine')" in diff_lines
    assert textarea(response) == mine  # alice's text stays in the editor
    assert "changed by someone else" in page
    # Saving again with the version she opened is refused again: only an explicit "save mine over theirs" wins.
    assert save(alice, dag_file, mine, opened).status_code == 409
    assert dag_file.read_text() == theirs
    take_over = re.search(r'name="take_over" value="([0-9a-f]{64})"', page).group(1)
    forced = save(alice, dag_file, mine, opened, take_over=take_over)
    assert forced.status_code == 200 and dag_file.read_text() == mine


def test_a_syntax_error_keeps_the_text_and_shows_the_line(web, dag_file):
    alice = web("alice")
    before = dag_file.read_bytes()
    broken = dag_file.read_text().rstrip("\n") + "\n    EmptyOperator(task_id='x'\n"
    line = broken.count("\n")
    response = save(alice, dag_file, broken)
    assert response.status_code == 400
    assert dag_file.read_bytes() == before
    assert textarea(response) == broken
    assert f'data-error-line="{line}"' in body(response)
    assert f"The error is on line {line}" in body(response) and "syntax error" in body(response)


def test_the_upload_owner_rule_applies_to_saves(web, dag_file):
    before = dag_file.read_bytes()
    response = save(web("alice"), dag_file, dag_file.read_text().replace("'owner': 'alice'", "'owner': 'carol'"))
    assert response.status_code == 403
    assert dag_file.read_bytes() == before
    assert "carol" in textarea(response)


def test_a_save_without_csrf_token_writes_nothing(web, dag_file):
    alice = web("alice")
    before = dag_file.read_bytes()
    opened = alice.get(edit_path(dag_file))
    response = alice.post(edit_path(dag_file), data={"base_hash": hidden(opened, "base_hash"), "content": "x = 1\n"})
    assert response.status_code == 400
    assert dag_file.read_bytes() == before


def test_viewer_role_sees_a_read_only_editor_and_cannot_save(web, dag_file):
    """victor is a project member whose Airflow role is Viewer: he may look, not change."""
    victor = web("victor")
    page = victor.get(edit_path(dag_file))
    assert page.status_code == 200
    assert 'data-readonly="1"' in body(page) and 'data-testid="save"' not in body(page)
    before = dag_file.read_bytes()
    csrf = csrf_token(body(page))
    response = victor.post(edit_path(dag_file), data={"csrf_token": csrf, "base_hash": content_hash(before),
                                                      "content": "x = 1\n"})
    assert response.status_code == 403
    assert dag_file.read_bytes() == before


@pytest.mark.parametrize("user", ["carol", "dave"])
def test_non_members_may_neither_open_nor_save(web, dag_file, user):
    other = web(user)
    assert other.get(edit_path(dag_file)).status_code == 403
    before = dag_file.read_bytes()
    token = other.csrf("my-key/")  # a valid token of their own session (a form they may open)
    response = other.post(edit_path(dag_file), data={"csrf_token": token, "base_hash": content_hash(before),
                                                     "content": "x = 1\n"})
    assert response.status_code == 403  # membership is checked before anything else
    assert dag_file.read_bytes() == before


def test_the_dag_files_page_links_each_file_to_the_editor(web, dag_file):
    listing = body(web("alice").get(f"dag-files/{DEMO_FS}/"))
    assert f'href="/hopsworks/dag-files/{DEMO_FS}/edit/{dag_file.name}"' in listing.replace("/pluginsv2", "")


def test_the_builders_address_opens_the_editor_too(web, dag_file):
    page = web("alice").get(f"dag-files/{DEMO_FS}/files/{dag_file.name}/edit")
    assert page.status_code == 200 and textarea(page) == dag_file.read_text()


@pytest.mark.parametrize(("name", "status"), [("x.txt", 400), (".hidden.py", 400), ("nope.py", 404),
                                              ("../secret.py", 404)])  # the router does not match a '/'
def test_bad_or_unknown_names_are_refused(web, name, status):
    assert web("alice").get(f"dag-files/{DEMO_FS}/edit/{name}").status_code == status
