"""hopsworks_ui_plugin.dag_files.storage: atomic writes, staged replacements, listing, reading,
deleting; symbolic links are never followed."""

from __future__ import annotations

import os
import threading

import pytest

from hopsworks_ui_plugin import dag_files as df
from hopsworks_ui_plugin.dag_files import storage
from hopsworks_ui_plugin.errors import BadInput, Conflict, Forbidden, NotFound, PluginError, TooManyRequests
from tests.support import HOSTILE_NAMES

ALICE_DAG = b'''from airflow.sdk import DAG
from airflow.providers.standard.operators.empty import EmptyOperator

with DAG("alice_dag", default_args={"owner": "alice"}, schedule=None):
    EmptyOperator(task_id="t")
'''


def test_hostile_names_never_write_outside(proj, dags_folder):
    for name in HOSTILE_NAMES:
        with pytest.raises(BadInput):
            df.write_atomic(proj, name, ALICE_DAG, replace=True)
    assert [p.name for p in dags_folder.rglob("*") if p.is_file()] == []


# -- atomic writes ----------------------------------------------------------------------------


def test_write_creates_the_project_folder_and_refuses_to_clobber(dags_folder):
    proj = df.project_dir(119, "demo_fs")
    assert df.write_atomic(proj, "a.py", ALICE_DAG, replace=False) is False
    assert (proj / "a.py").read_bytes() == ALICE_DAG
    assert oct((proj / "a.py").stat().st_mode & 0o777) == oct(df.FILE_MODE)
    assert oct(proj.stat().st_mode & 0o777) == oct(df.DIR_MODE & ~_umask())
    with pytest.raises(Conflict) as err:
        df.write_atomic(proj, "a.py", b"x = 2\n", replace=False)
    assert err.value.status == 409 and (proj / "a.py").read_bytes() == ALICE_DAG
    assert df.write_atomic(proj, "a.py", b"x = 2\n", replace=True) is True
    assert (proj / "a.py").read_bytes() == b"x = 2\n"
    assert sorted(os.listdir(proj)) == ["a.py"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(proj, monkeypatch):
    (proj / "a.py").write_bytes(b"old = 1\n")

    def boom(*_a, **_k):
        raise OSError("disk full")

    monkeypatch.setattr(storage.os, "replace", boom)
    with pytest.raises(OSError):
        df.write_atomic(proj, "a.py", b"new = 1\n", replace=True)
    assert (proj / "a.py").read_bytes() == b"old = 1\n"
    assert sorted(os.listdir(proj)) == ["a.py"]


@pytest.mark.parametrize("replace", [True, False])
def test_20_concurrent_writers_of_one_name_leave_one_complete_file(proj, replace):
    contents = [(f"# writer {i}\n" + f"x_{i} = {i}\n" * (5000 + i * 97)).encode() for i in range(20)]
    barrier = threading.Barrier(20)
    outcomes: list[str] = []

    def write(data: bytes) -> None:
        barrier.wait()
        try:
            df.write_atomic(proj, "same.py", data, replace=replace)
            outcomes.append("ok")
        except PluginError as err:
            outcomes.append(str(err.status))

    threads = [threading.Thread(target=write, args=(c,)) for c in contents]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(os.listdir(proj)) == ["same.py"], "temporary files were left behind"
    assert (proj / "same.py").read_bytes() in contents
    if replace:
        assert outcomes == ["ok"] * 20
    else:
        assert sorted(outcomes) == ["409"] * 19 + ["ok"]


# -- staged replacements ----------------------------------------------------------------------


def test_staged_replacement_is_renamed_in_place(proj):
    (proj / "a.py").write_bytes(b"old = 1\n")
    token = df.stage(proj, b"new = 1\n")
    staged = proj / f"{df.STAGED_PREFIX}{token}{df.TMP_SUFFIX}"
    assert oct(staged.stat().st_mode & 0o777) == oct(0o600)
    assert df.list_files(proj)[0] == [df.file_info(proj, "a.py")]  # staged file is hidden
    assert df.read_staged(proj, token) == b"new = 1\n"
    assert df.commit_staged(proj, token, "a.py") is True
    assert (proj / "a.py").read_bytes() == b"new = 1\n"
    assert oct((proj / "a.py").stat().st_mode & 0o777) == oct(df.FILE_MODE)
    assert sorted(os.listdir(proj)) == ["a.py"]
    with pytest.raises(PluginError) as err:
        df.read_staged(proj, token)
    assert err.value.status == 410 and "expired or was already used" in err.value.message
    with pytest.raises(PluginError) as err:
        df.commit_staged(proj, token, "a.py")
    assert err.value.status == 410
    for bad in ("../../x", "", "zz" * 16, token + "/"):
        with pytest.raises(BadInput):
            df.read_staged(proj, bad)


def test_discarding_a_staged_replacement_keeps_the_file(proj):
    (proj / "a.py").write_bytes(b"old = 1\n")
    token = df.stage(proj, b"new = 1\n")
    df.discard_staged(proj, token)
    df.discard_staged(proj, token)  # twice is fine
    assert sorted(os.listdir(proj)) == ["a.py"] and (proj / "a.py").read_bytes() == b"old = 1\n"


def test_staged_replacements_per_project_are_capped(proj, monkeypatch):
    monkeypatch.setattr(storage, "MAX_STAGED_PER_PROJECT", 3)
    for _ in range(3):
        df.stage(proj, b"x = 1\n")
    with pytest.raises(TooManyRequests) as err:
        df.stage(proj, b"x = 1\n")
    assert err.value.status == 429 and "waiting for confirmation" in err.value.message


def test_stale_leftovers_are_cleaned(proj, monkeypatch):
    token = df.stage(proj, b"x = 1\n")
    leftover = proj / ".upload-abc.tmp"
    leftover.write_bytes(b"half")
    os.utime(leftover, (1_000_000_000, 1_000_000_000))
    assert df.clean_stale(proj) == 1
    assert not leftover.exists() and df.read_staged(proj, token) == b"x = 1\n"
    # [hopsworks] staged_max_age_s sets how long unconfirmed replacements wait.
    staged = proj / f"{df.STAGED_PREFIX}{token}{df.TMP_SUFFIX}"
    os.utime(staged, (staged.stat().st_mtime - 120,) * 2)
    monkeypatch.setenv("AIRFLOW__HOPSWORKS__STAGED_MAX_AGE_S", "60")
    assert df.clean_stale(proj) == 1 and not staged.exists()


# -- listing, reading, deleting; symlinks -----------------------------------------------------


def test_listing_shows_plain_py_files_only(proj):
    (proj / "b.py").write_bytes(b"x = 1\n")
    (proj / "a.py").write_bytes(b"xy = 1\n")
    (proj / ".hidden.py").write_bytes(b"")
    (proj / ".upload-x.tmp").write_bytes(b"")
    (proj / "notes.txt").write_bytes(b"")
    (proj / "sub").mkdir()
    files, skipped = df.list_files(proj)
    assert [(f.name, f.size) for f in files] == [("a.py", 7), ("b.py", 6)]
    assert skipped == 2  # notes.txt and sub/
    assert files[0].modified.timestamp() == pytest.approx((proj / "a.py").stat().st_mtime)


def test_a_missing_project_folder_lists_nothing(dags_folder):
    assert df.list_files(df.project_dir(121, "empty_proj")) == ([], 0)


def test_a_symlink_pointing_outside_is_neither_listed_nor_followed(proj, tmp_path):
    secret = tmp_path / "secret.py"
    secret.write_bytes(b"SECRET = 'x'\n")
    (proj / "link.py").symlink_to(secret)
    (proj / "dirlink").symlink_to(tmp_path)
    (proj / "real.py").write_bytes(b"x = 1\n")
    files, skipped = df.list_files(proj)
    assert [f.name for f in files] == ["real.py"] and skipped == 2
    for op in (df.read_file, df.file_info, df.delete_file):
        with pytest.raises(Forbidden) as err:
            op(proj, "link.py")
        assert err.value.status == 403 and "symbolic link" in err.value.message
    with pytest.raises(Conflict):
        df.write_atomic(proj, "link.py", b"x = 2\n", replace=True)
    token = df.stage(proj, b"x = 2\n")
    with pytest.raises(Conflict):
        df.commit_staged(proj, token, "link.py")
    assert secret.read_bytes() == b"SECRET = 'x'\n" and (proj / "link.py").is_symlink()


def test_a_project_folder_that_is_a_symlink_is_refused(dags_folder, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.py").write_bytes(b"x = 1\n")
    (dags_folder / "demo_fs").symlink_to(outside)
    directory = df.project_dir(119, "demo_fs")
    for op in (lambda: df.list_files(directory), lambda: df.read_file(directory, "x.py"),
               lambda: df.write_atomic(directory, "y.py", b"y = 1\n", replace=False)):
        with pytest.raises(Conflict) as err:
            op()
        assert err.value.status == 409 and "not a plain folder" in err.value.message
    assert sorted(os.listdir(outside)) == ["x.py"]


def test_read_and_delete(proj):
    (proj / "a.py").write_bytes(ALICE_DAG)
    assert df.read_file(proj, "a.py") == ALICE_DAG
    assert df.exists(proj, "a.py")
    df.delete_file(proj, "a.py")
    assert not (proj / "a.py").exists() and not df.exists(proj, "a.py")
    with pytest.raises(NotFound) as err:
        df.read_file(proj, "a.py")
    assert err.value.status == 404 and "There is no file a.py" in err.value.message
    with pytest.raises(BadInput) as err:
        df.delete_file(proj, "../a.py")
    assert err.value.status == 400
    (proj / "folder.py").mkdir()
    with pytest.raises(NotFound, match="not a regular file"):
        df.read_file(proj, "folder.py")


def test_staged_replacements_are_capped_per_user(proj, monkeypatch):
    monkeypatch.setenv("AIRFLOW__HOPSWORKS__MAX_STAGED_PER_USER", "3")
    tokens = [df.stage(proj, b"x = 1\n", "bob") for _ in range(3)]
    with pytest.raises(TooManyRequests) as err:
        df.stage(proj, b"x = 1\n", "Bob ")  # the same user by the owner rule
    assert err.value.status == 429 and "You have 3 replacements waiting" in err.value.message
    assert df.read_staged(proj, df.stage(proj, b"y = 2\n", "alice")) == b"y = 2\n"  # alice is not blocked
    assert storage.staged_count(proj, "bob") == 3 and storage.staged_count(proj) == 4
    df.discard_staged(proj, tokens[0])
    df.stage(proj, b"x = 1\n", "bob")  # room again
