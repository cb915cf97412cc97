"""hopsworks_ui_plugin.core.editor: open and save a DAG file without a web framework; the save goes
through the upload's flow, and a file that changed since it was opened is never overwritten."""

from __future__ import annotations

from pathlib import Path

import pytest

from hopsworks_ui_plugin import dag_files as df
from hopsworks_ui_plugin.core import dag_files as flows
from hopsworks_ui_plugin.core import editor
from hopsworks_ui_plugin.errors import BadInput, Conflict
from tests.support import dag_source


@pytest.fixture()
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, airflow_db) -> Path:
    root = tmp_path / "dags"
    root.mkdir()
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(root))
    directory = df.project_dir(119, "demo_fs")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "mine.py").write_bytes(dag_source("alice", "mine"))
    return directory


def files_in(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in directory.iterdir()}


def test_open_gives_the_text_and_its_hash(proj):
    opened = editor.open_file(proj, "mine.py")
    assert opened.text == (proj / "mine.py").read_text()
    assert opened.content_hash == editor.content_hash((proj / "mine.py").read_bytes())


@pytest.mark.parametrize(("content", "reason"), [(b"x = '\xff'\n", "not UTF-8"), (b"#" * 2_000_000, "larger than")])
def test_files_that_could_not_be_saved_back_do_not_open(proj, content, reason):
    (proj / "odd.py").write_bytes(content)
    with pytest.raises(Conflict, match=reason):
        editor.open_file(proj, "odd.py")


def test_save_replaces_the_file_and_returns_the_new_hash(proj):
    opened = editor.open_file(proj, "mine.py")
    new = opened.text.replace("noop", "edited")
    saved = editor.save(proj, "mine.py", new, opened.content_hash, "alice", False)
    assert (proj / "mine.py").read_text() == new
    assert saved.changed and saved.content_hash == editor.content_hash(new.encode())
    assert set(files_in(proj)) == {"mine.py"}  # nothing left staged


def test_an_unchanged_save_writes_nothing(proj):
    opened = editor.open_file(proj, "mine.py")
    mtime = (proj / "mine.py").stat().st_mtime_ns
    saved = editor.save(proj, "mine.py", opened.text, opened.content_hash, "alice", False)
    assert not saved.changed and (proj / "mine.py").stat().st_mtime_ns == mtime


def test_a_change_since_opening_is_refused_with_a_diff(proj):
    opened = editor.open_file(proj, "mine.py")
    (proj / "mine.py").write_text(opened.text.replace("noop", "theirs"))
    with pytest.raises(editor.StaleEdit) as stale:
        editor.save(proj, "mine.py", opened.text.replace("noop", "mine"), opened.content_hash, "alice", False)
    assert stale.value.status == 409
    assert "-    EmptyOperator(task_id='theirs')" in stale.value.diff
    assert "+    EmptyOperator(task_id='mine')" in stale.value.diff
    assert "theirs" in (proj / "mine.py").read_text()


def test_a_change_while_saving_is_caught_before_the_replacement(proj, monkeypatch):
    """Someone saves between the first check and the commit of the staged file: the second check refuses."""
    opened = editor.open_file(proj, "mine.py")
    real_upload = flows.upload

    def upload_then_someone_saves(*args, **kwargs):
        result = real_upload(*args, **kwargs)
        (proj / "mine.py").write_text(opened.text.replace("noop", "theirs"))
        return result

    monkeypatch.setattr(flows, "upload", upload_then_someone_saves)
    with pytest.raises(editor.StaleEdit):
        editor.save(proj, "mine.py", opened.text.replace("noop", "mine"), opened.content_hash, "alice", False)
    assert files_in(proj) == {"mine.py": opened.text.replace("noop", "theirs").encode()}  # no staged leftovers


def test_a_deleted_file_is_not_recreated(proj):
    opened = editor.open_file(proj, "mine.py")
    (proj / "mine.py").unlink()
    with pytest.raises(Conflict, match="deleted"):
        editor.save(proj, "mine.py", opened.text, opened.content_hash, "alice", False)
    assert files_in(proj) == {}


def test_refusals_of_the_upload_checks_come_back_with_their_status_and_line(proj):
    opened = editor.open_file(proj, "mine.py")
    with pytest.raises(editor.RefusedEdit) as syntax:
        editor.save(proj, "mine.py", "x = 1\ndef f(:\n", opened.content_hash, "alice", False)
    assert (syntax.value.status, syntax.value.line) == (400, 2)
    with pytest.raises(editor.RefusedEdit) as owner:
        editor.save(proj, "mine.py", opened.text.replace("'alice'", "'carol'"), opened.content_hash, "alice", False)
    assert (owner.value.status, owner.value.line) == (403, None)
    assert (proj / "mine.py").read_text() == opened.text
    assert set(files_in(proj)) == {"mine.py"}


def test_a_save_without_the_opened_hash_is_refused(proj):
    with pytest.raises(BadInput):
        editor.save(proj, "mine.py", "x = 1\n", "", "alice", False)
