"""Unit tests of hopsworks_ui_plugin.dag_files: names, size, encoding, syntax, owners, atomic
writes, symlinks, and the metadata-DB side (DAG records, import errors, removal)."""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import pytest

from hopsworks_ui_plugin import dag_files as df
from hopsworks_ui_plugin.dag_files import DagFileError

HOSTILE_NAMES = [
    "",
    "../evil.py",
    "../../etc/evil.py",
    "..\\evil.py",
    "/etc/evil.py",
    "/tmp/evil.py",
    "sub/dag.py",
    "sub\\dag.py",
    "C:\\dags\\evil.py",
    "..",
    "...py",
    "evil..py",
    "dag.py\x00.txt",
    "dag\x00.py",
    "da\ng.py",
    "dag\r.py",
    "\tdag.py",
    ".hidden.py",
    ".py",
    "dag.txt",
    "dag.pyc",
    "dag.py.txt",
    "dag.PY",
    "dag",
    "x" * 200 + ".py",
    "%2e%2e%2fevil.py",
    "..%2fevil.py",
    "%2e%2e%5cevil.py",
    "..%252fevil.py",
    "\u2215etc\u2215evil.py",  # DIVISION SLASH
    "..\u2215evil.py",
    "\uff0e\uff0e\uff0fevil.py",  # FULLWIDTH FULL STOP x2 + FULLWIDTH SOLIDUS
    "..\uff0fevil.py",
    "\u2024\u2024\u2215evil.py",  # ONE DOT LEADER x2 + DIVISION SLASH
    "\u2025/evil.py",  # TWO DOT LEADER
    "dag\u202e.py",  # RIGHT-TO-LEFT OVERRIDE
    "dа.py",  # Cyrillic a
    "my dag.py",
    "-rf.py",
    "~root.py",
    "dag.py/",
    "dag.py;rm -rf",
]
GOOD_NAMES = ["dag.py", "my_dag.py", "My-Dag.2.py", "_private.py", "a.b.c.py", "0.py"]

ALICE_DAG = b'''from airflow.sdk import DAG
from airflow.providers.standard.operators.empty import EmptyOperator

with DAG("alice_dag", default_args={"owner": "alice"}, schedule=None):
    EmptyOperator(task_id="t")
'''


@pytest.fixture()
def dags_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "dags"
    root.mkdir()
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(root))
    return root


@pytest.fixture()
def proj(dags_folder: Path) -> Path:
    return df.ensure_project_dir(df.project_dir(119, "demo_fs"))


# -- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=[repr(n)[:40] for n in HOSTILE_NAMES])
def test_hostile_names_are_rejected_with_a_reason(name):
    problem = df.name_problem(name)
    assert problem, f"{name!r} was accepted"
    with pytest.raises(DagFileError) as err:
        df.check_name(name)
    assert err.value.status == 400 and err.value.message == problem


def test_there_are_at_least_20_hostile_names():
    assert len(HOSTILE_NAMES) >= 20


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_plain_python_file_names_are_accepted(name):
    assert df.name_problem(name) is None


def test_name_messages_say_what_is_wrong():
    assert "path" in df.name_problem("../x.py").lower() or ".." in df.name_problem("../x.py")
    assert "control" in df.name_problem("a\x00.py")
    assert "hidden" in df.name_problem(".x.py")
    assert ".py" in df.name_problem("x.txt")
    assert "too long" in df.name_problem("x" * 200 + ".py")
    assert "look-alike" in df.name_problem("\u2215etc\u2215evil.py")
    assert "\\u2215" in df.name_problem("\u2215etc\u2215evil.py")  # shown escaped, not as a slash


def test_hostile_names_never_write_outside(proj, dags_folder):
    for name in HOSTILE_NAMES:
        with pytest.raises(DagFileError):
            df.write_atomic(proj, name, ALICE_DAG, replace=True)
    assert [p.name for p in dags_folder.rglob("*") if p.is_file()] == []


def test_the_legacy_sha256_folder_scheme(dags_folder, monkeypatch):
    monkeypatch.setenv("AIRFLOW__HOPSWORKS__DAG_FOLDER_SCHEME", "sha256")
    import hashlib

    assert df.project_dir(119, "demo_fs") == dags_folder / hashlib.sha256(b"119").hexdigest()
    monkeypatch.setenv("AIRFLOW__HOPSWORKS__DAG_FOLDER_SCHEME", "name")
    assert df.project_dir(119, "demo_fs") == dags_folder / "demo_fs"
    with pytest.raises(ValueError):
        df.project_dir(1, "../x")


# -- size, encoding, syntax -------------------------------------------------------------------


def test_size_cap_reads_at_most_cap_plus_one_bytes():
    class Counting(io.BytesIO):
        read_total = 0

        def read(self, n=-1):
            chunk = super().read(n)
            Counting.read_total += len(chunk)
            return chunk

    stream = Counting(b"x" * 10_000_000)
    with pytest.raises(DagFileError) as err:
        df.read_capped(stream, 1000, "big.py")
    assert err.value.status == 413 and "larger than the limit" in err.value.message
    assert Counting.read_total == 1001
    assert df.read_capped(io.BytesIO(b"y" * 1000), 1000) == b"y" * 1000


def test_size_cap_is_configurable(monkeypatch):
    assert df.max_file_bytes() == 1024 * 1024
    monkeypatch.setenv("AIRFLOW__HOPSWORKS__MAX_DAG_FILE_BYTES", "2048")
    assert df.max_file_bytes() == 2048
    with pytest.raises(DagFileError) as err:
        df.check_source("big.py", b"x = 1\n" * 1000)
    assert err.value.status == 413 and "2.0 KiB" in err.value.message


@pytest.mark.parametrize(
    "data",
    [b"x = '\xff'\n", b"# caf\xe9\nx = 1\n", b"x = 1\n\x80\x81\n", "x = 'é'\n".encode("utf-16")],
)
def test_non_utf8_is_rejected(data):
    with pytest.raises(DagFileError) as err:
        df.check_source("bad.py", data)
    assert err.value.status == 400 and "not UTF-8" in err.value.message


@pytest.mark.parametrize(
    ("source", "line", "fragment"),
    [
        (b"from airflow.sdk import DAG\n\nwith DAG('x'\n    pass\n", 3, "line 3"),
        (b"x = 1\ny = (\n", 2, "never closed"),
        (b"def f():\n  return 1\n return 2\n", 3, "indent"),
        (b"x = 1\nreturn x\n", 2, "'return' outside function"),
        (b"a = 1\nb = 2\nif a\n  b = 3\n", 3, "expected ':'"),
    ],
)
def test_syntax_errors_report_line_and_message(source, line, fragment):
    with pytest.raises(DagFileError) as err:
        df.check_source("broken.py", source)
    assert err.value.status == 400
    assert f"line {line}" in err.value.message and fragment in err.value.message, err.value.message


def test_checking_never_executes_the_file(tmp_path):
    marker = tmp_path / "ran"
    source = f"open({str(marker)!r}, 'w').write('x')\nimport os\nos._exit(3)\n".encode()
    checked = df.check_source("evil.py", source)
    assert not marker.exists() and checked.size == len(source)


def test_empty_and_nul_sources_are_rejected():
    with pytest.raises(DagFileError, match="empty"):
        df.check_source("e.py", b"  \n")
    with pytest.raises(DagFileError) as err:
        df.check_source("n.py", b"x = 1\x00\n")
    assert err.value.status == 400


# -- owners -----------------------------------------------------------------------------------


def owners_of(source: str) -> df.OwnerScan:
    return df.check_source("d.py", source.encode()).owners


def verdict(source: str, username: str = "alice", admin: bool = False):
    return df.owner_verdict(df.check_source("d.py", source.encode()), username, admin)


def test_hopsworks_template_owner_constant():
    scan = owners_of(
        "from airflow import DAG\nDAG_OWNER = 'alice'\nPROJECT_NAME = 'demo_fs'\n"
        "default_args = {'owner': DAG_OWNER, 'depends_on_past': False}\n"
        "dag = DAG(dag_id='x', default_args=default_args)\n"
    )
    assert set(scan.owners) == {"alice"} and scan.determined and scan.defines_dag


@pytest.mark.parametrize(
    ("source", "owners"),
    [
        ("from airflow import DAG\nDAG('x', default_args={'owner': 'alice'})", {"alice"}),
        ("from airflow import DAG\nargs = dict(owner='bob', retries=1)\nDAG('x', default_args=args)", {"bob"}),
        ("from airflow import DAG\nwith DAG('x'):\n    E(task_id='t', owner='carol')", {"carol"}),
        ("from airflow import DAG\nbase = {'owner': 'alice'}\nDAG('x', default_args={**base, 'retries': 1})",
         {"alice"}),
        ("from airflow.sdk import dag, task\n@dag(default_args={'owner': 'alice'})\ndef d():\n"
         "    @task(owner='bob')\n    def t(): pass\n", {"alice", "bob"}),
        ("from airflow import DAG\nargs = {}\nargs['owner'] = 'dave'\nDAG('x', default_args=args)", {"dave"}),
        ("from airflow import DAG\nO = 'a' if True else 'b'\nDAG('x', default_args={'owner': O})", {"a", "b"}),
        ("from airflow import DAG\nkw = {'default_args': {'owner': 'eve'}}\nDAG('x', **kw)", {"eve"}),
    ],
)
def test_literal_owners_are_found(source, owners):
    scan = owners_of(source)
    assert set(scan.owners) == owners and scan.determined, scan


@pytest.mark.parametrize(
    "source",
    [
        "import os\nfrom airflow import DAG\nDAG('x', default_args={'owner': os.environ['OWNER']})",
        "from airflow import DAG\nfrom conf import ARGS\nDAG('x', default_args=ARGS)",
        "from airflow import DAG\nu = 'al'\nDAG('x', default_args={'owner': f'{u}ice'})",
        "from airflow import DAG\ndef make(owner):\n    return E(task_id='t', owner=owner)\nDAG('x')",
        "from airflow import DAG\nDAG('x', default_args=build_args())",
        "from airflow import DAG\nDAG('x', **get_kwargs())",
    ],
)
def test_non_literal_owners_are_undetermined_and_warned(source):
    scan = owners_of(source)
    assert not scan.determined
    refusal, warnings = verdict(source)
    assert refusal is None and warnings and "could not be read without running it" in warnings[0]


def test_owner_rule_for_non_admins_and_admins():
    own = "from airflow import DAG\nDAG('x', default_args={'owner': 'alice'})"
    assert verdict(own) == (None, [])
    refusal, _ = verdict(own, "bob")
    assert "'alice' (line 2)" in refusal and "your own Hopsworks username 'bob'" in refusal
    mixed = "from airflow import DAG\nwith DAG('x', default_args={'owner': 'alice'}):\n    E(owner='carol')"
    assert "carol" in verdict(mixed)[0]
    refusal, warnings = verdict(mixed, "admin", admin=True)
    assert refusal is None and "admin" in warnings[0]
    # No owner at all: Airflow's default owner ("airflow") would apply.
    none = "from airflow import DAG\nDAG('x')"
    refusal, _ = verdict(none)
    assert "default owner 'airflow'" in refusal
    # A helper module without a DAG needs no owner.
    assert verdict("def helper():\n    return 1\n") == (None, [])


# -- atomic writes ----------------------------------------------------------------------------


def test_write_creates_the_project_folder_and_refuses_to_clobber(proj):
    assert df.write_atomic(proj, "a.py", ALICE_DAG, replace=False) is False
    assert (proj / "a.py").read_bytes() == ALICE_DAG
    assert oct((proj / "a.py").stat().st_mode & 0o777) == oct(df.FILE_MODE)
    with pytest.raises(DagFileError) as err:
        df.write_atomic(proj, "a.py", b"x = 2\n", replace=False)
    assert err.value.status == 409 and (proj / "a.py").read_bytes() == ALICE_DAG
    assert df.write_atomic(proj, "a.py", b"x = 2\n", replace=True) is True
    assert (proj / "a.py").read_bytes() == b"x = 2\n"
    assert sorted(os.listdir(proj)) == ["a.py"]


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(proj, monkeypatch):
    (proj / "a.py").write_bytes(b"old = 1\n")

    def boom(*_a, **_k):
        raise OSError("disk full")

    monkeypatch.setattr(df.os, "replace", boom)
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
        except DagFileError as err:
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


def test_staged_replacement_is_renamed_in_place(proj):
    (proj / "a.py").write_bytes(b"old = 1\n")
    token = df.stage(proj, b"new = 1\n")
    assert df.list_files(proj)[0] == [df.file_info(proj, "a.py")]  # staged file is hidden
    assert df.read_staged(proj, token) == b"new = 1\n"
    assert df.commit_staged(proj, token, "a.py") is True
    assert (proj / "a.py").read_bytes() == b"new = 1\n"
    assert sorted(os.listdir(proj)) == ["a.py"]
    with pytest.raises(DagFileError) as err:
        df.read_staged(proj, token)
    assert err.value.status == 410
    for bad in ("../../x", "", "zz" * 16, token + "/"):
        with pytest.raises(DagFileError):
            df.read_staged(proj, bad)


def test_stale_leftovers_are_cleaned(proj):
    token = df.stage(proj, b"x = 1\n")
    leftover = proj / ".upload-abc.tmp"
    leftover.write_bytes(b"half")
    old = 1_000_000_000
    os.utime(leftover, (old, old))
    assert df.clean_stale(proj) == 1
    assert not leftover.exists() and df.read_staged(proj, token) == b"x = 1\n"


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


def test_a_symlink_pointing_outside_is_neither_listed_nor_followed(proj, tmp_path):
    secret = tmp_path / "secret.py"
    secret.write_bytes(b"SECRET = 'x'\n")
    (proj / "link.py").symlink_to(secret)
    (proj / "dirlink").symlink_to(tmp_path)
    (proj / "real.py").write_bytes(b"x = 1\n")
    files, skipped = df.list_files(proj)
    assert [f.name for f in files] == ["real.py"] and skipped == 2
    for op in (df.read_file, df.file_info, df.delete_file):
        with pytest.raises(DagFileError) as err:
            op(proj, "link.py")
        assert err.value.status == 403 and "symbolic link" in err.value.message
    with pytest.raises(DagFileError):
        df.write_atomic(proj, "link.py", b"x = 2\n", replace=True)
    assert secret.read_bytes() == b"SECRET = 'x'\n" and (proj / "link.py").is_symlink()


def test_a_project_folder_that_is_a_symlink_is_refused(dags_folder, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.py").write_bytes(b"x = 1\n")
    (dags_folder / "demo_fs").symlink_to(outside)
    directory = df.project_dir(119, "demo_fs")
    for op in (lambda: df.list_files(directory), lambda: df.read_file(directory, "x.py"),
               lambda: df.write_atomic(directory, "y.py", b"y = 1\n", replace=False)):
        with pytest.raises(DagFileError) as err:
            op()
        assert err.value.status == 409
    assert sorted(os.listdir(outside)) == ["x.py"]


def test_read_and_delete(proj):
    (proj / "a.py").write_bytes(ALICE_DAG)
    assert df.read_file(proj, "a.py") == ALICE_DAG
    df.delete_file(proj, "a.py")
    assert not (proj / "a.py").exists()
    with pytest.raises(DagFileError) as err:
        df.read_file(proj, "a.py")
    assert err.value.status == 404
    with pytest.raises(DagFileError) as err:
        df.delete_file(proj, "../a.py")
    assert err.value.status == 400


# -- the metadata DB --------------------------------------------------------------------------


def insert_dag(dag_id: str, fileloc: Path, relative: str, owners: str = "alice", paused: bool = False) -> None:
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        session.merge(
            DagModel(
                dag_id=dag_id, fileloc=str(fileloc), relative_fileloc=relative, bundle_name="dags-folder",
                owners=owners, is_paused=paused, is_stale=False, max_active_tasks=16,
                max_consecutive_failed_dag_runs=0, has_task_concurrency_limits=False,
            )
        )


def insert_import_error(relative: str) -> None:
    from airflow.models.errors import ParseImportError
    from airflow.utils.session import create_session

    with create_session() as session:
        session.add(ParseImportError(filename=relative, bundle_name="dags-folder", stacktrace="Boom: line 3"))


def dag_rows(*dag_ids: str) -> dict[str, bool]:
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(select(DagModel.dag_id, DagModel.is_paused).where(DagModel.dag_id.in_(dag_ids)))
        return {r[0]: r[1] for r in rows}


@pytest.fixture()
def metadata_db(airflow_db):
    from airflow.dag_processing.bundles.manager import DagBundlesManager

    DagBundlesManager().sync_bundles_to_db()
    return airflow_db


def test_dag_records_and_import_errors_are_found_per_file_and_removed(metadata_db, tmp_path, monkeypatch):
    root = tmp_path / "unit-dags"
    root.mkdir()
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(root))
    df._dags_folder_bundles.cache_clear()
    proj = df.ensure_project_dir(df.project_dir(555, "unit_proj"))
    other = df.ensure_project_dir(df.project_dir(556, "unit_other"))
    (proj / "two.py").write_bytes(b"x = 1\n")
    insert_dag("unit_a", proj / "two.py", "unit_proj/two.py", "alice")
    insert_dag("unit_b", proj / "two.py", "unit_proj/two.py", "alice, bob", paused=True)
    insert_dag("unit_c", other / "two.py", "unit_other/two.py")
    insert_import_error("unit_proj/broken.py")
    try:
        by_file = df.dags_by_file(proj)
        assert {k: [(r.dag_id, r.owners, r.is_paused) for r in v] for k, v in by_file.items()} == {
            "two.py": [("unit_a", "alice", False), ("unit_b", "alice, bob", True)]
        }
        assert list(df.import_errors_by_file(proj)) == ["broken.py"]
        assert df.import_errors_by_file(other) == {}
        report = df.remove_dag_records(proj, "two.py", ["unit_a", "unit_b"])
        assert report.paused == ["unit_a", "unit_b"] and report.removed == ["unit_a", "unit_b"]
        assert dag_rows("unit_a", "unit_b", "unit_c") == {"unit_c": False}
        assert df.remove_dag_records(proj, "broken.py", []).import_errors_removed == 1
        assert df.import_errors_by_file(proj) == {}
    finally:
        df.remove_dag_records(other, "two.py", ["unit_c"])
        df._dags_folder_bundles.cache_clear()
