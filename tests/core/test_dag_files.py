"""hopsworks_ui_plugin.core.dag_files: the DAG-file flows without a web framework (upload
all-or-nothing, staged replace, delete with records, listing, viewing)."""

from __future__ import annotations

import io
import os
import uuid
from pathlib import Path

import pytest

from hopsworks_ui_plugin import dag_files as df
from hopsworks_ui_plugin.core import dag_files as flows
from hopsworks_ui_plugin.errors import Conflict
from hopsworks_ui_plugin.formatting import fmt_size
from tests.support import dag_rows, dag_source, insert_dag, insert_import_error


@pytest.fixture()
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, airflow_db: Path) -> Path:
    root = tmp_path / "dags"
    root.mkdir()
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(root))
    return df.project_dir(119, "demo_fs")


def incoming(name: str, data: bytes, disposition: str | None = None) -> flows.IncomingFile:
    return flows.IncomingFile(name, io.BytesIO(data), disposition)


def files_in(directory: Path) -> dict[str, bytes]:
    """Every entry of the folder (hidden ones included) with its content."""
    if not directory.exists():
        return {}
    return {p.name: p.read_bytes() for p in directory.iterdir()}


def outcomes(result: flows.UploadResult) -> list[tuple[str, str, int]]:
    return [(r.name, r.outcome, r.status) for r in result.results]


def test_the_folder_of_a_project_with_an_unusable_name_is_a_409():
    with pytest.raises(Conflict) as err:
        flows.folder(7, "../etc")
    assert err.value.status == 409 and err.value.title == "No DAG folder for this project"
    assert "dag_folder_scheme = sha256" in err.value.message


def test_an_upload_of_good_files_writes_them_all(proj):
    two = [incoming("a.py", dag_source("alice", "a")), incoming("b.py", dag_source("alice", "b"))]
    result = flows.upload(proj, two, "alice", False)
    assert result.status == 200 and result.error is None
    assert outcomes(result) == [("a.py", "written", 200), ("b.py", "written", 200)]
    assert result.results[0].message == f"a.py was saved ({fmt_size(len(dag_source('alice', 'a')))})."
    assert result.results[0].owners == ["alice"]
    assert files_in(proj) == {"a.py": dag_source("alice", "a"), "b.py": dag_source("alice", "b")}


def test_one_refused_file_means_nothing_is_written(proj):
    result = flows.upload(proj, [incoming("good.py", dag_source("alice", "g")), incoming("bad.py", b"def (:\n")],
                          "alice", False)
    assert result.status == 400 and result.error == flows.NOTHING_SAVED
    assert outcomes(result) == [("good.py", "skipped", 200), ("bad.py", "rejected", 400)]
    assert "passed the checks but was not saved" in result.results[0].message
    assert "syntax error" in result.results[1].message
    assert files_in(proj) == {}


@pytest.mark.parametrize(
    ("content", "status", "message"),
    [
        (b"x = 1\n" + b"#" * (1024 * 1024), 413, f"larger than the limit of {fmt_size(1024 * 1024)}"),
        (b"# caf\xe9\nx = 1\n", 400, "is not UTF-8 text: byte 0xe9 at line 1"),
        (b"from airflow.sdk import DAG\n\nwith DAG('x'\n    pass\n", 400, "Python syntax error at line 3"),
        (b"x = 1\nreturn x\n", 400, "line 2, column 1: 'return' outside function"),
        (b"   \n", 400, "is empty"),
        (dag_source("bob", "bobs"), 403, "sets owner 'bob' (line 3), but you may only upload DAGs owned by your own"),
        (dag_source(None, "ownerless"), 403, "sets no owner, so Airflow would use its default owner 'airflow'"),
    ],
    ids=["too-big", "not-utf8", "syntax", "compile-error", "empty", "wrong-owner", "no-owner"],
)
def test_bad_content_is_refused_with_a_clear_message(proj, content, status, message):
    result = flows.upload(proj, [incoming("f.py", content)], "alice", False)
    assert result.status == status and result.results[0].outcome == "rejected"
    assert message in result.results[0].message and result.error == flows.NOTHING_SAVED
    assert files_in(proj) == {}


def test_the_same_name_twice_in_one_upload_is_refused(proj):
    two = [incoming("a.py", dag_source("alice", "a")), incoming("a.py", dag_source("alice", "b"))]
    result = flows.upload(proj, two, "alice", False)
    assert result.status == 400 and result.results[1].message == "a.py appears twice in this upload."
    assert files_in(proj) == {}


def test_a_backslash_in_the_raw_header_is_refused(proj):
    result = flows.upload(proj, [incoming("subdag.py", dag_source("alice", "x"), 'filename="sub\\dag.py"')],
                          "alice", False)
    assert result.status == 400 and "a backslash" in result.results[0].message


def test_no_files_and_too_many_files(proj, monkeypatch):
    result = flows.upload(proj, [], "alice", False)
    assert (result.status, result.error) == (400, "Choose one or more .py files to upload.")
    monkeypatch.setenv("AIRFLOW__HOPSWORKS__MAX_DAG_FILES_PER_UPLOAD", "2")
    result = flows.upload(proj, [incoming(f"f{i}.py", dag_source("alice", "x")) for i in range(3)], "alice", False)
    assert result.status == 413 and result.error == "Too many files (3); at most 2 per upload. Nothing was saved."
    assert files_in(proj) == {}


def test_an_oversized_request_is_refused_by_its_declared_length(monkeypatch):
    monkeypatch.setenv("AIRFLOW__HOPSWORKS__MAX_DAG_FILE_BYTES", "1024")
    monkeypatch.setenv("AIRFLOW__HOPSWORKS__MAX_DAG_FILES_PER_UPLOAD", "2")
    limit = df.max_upload_request_bytes()
    assert flows.request_too_large(None) is None and flows.request_too_large(limit) is None
    refused = flows.request_too_large(limit + 1)
    assert refused is not None and refused.status == 413
    assert refused.error == (f"The upload is too large ({fmt_size(limit + 1)}); at most 2 files of "
                             f"{fmt_size(1024)} each. Nothing was saved.")


UNREADABLE_OWNER = b"import os\nfrom airflow.sdk import DAG\nDAG('x', default_args={'owner': os.environ['ME']})\n"
UNREADABLE_ID = b"from airflow.sdk import DAG\nNAME = 'x'\nDAG(f'{NAME}_1', default_args={'owner': 'alice'})\n"


@pytest.mark.parametrize(("content", "why"), [
    (UNREADABLE_OWNER, "The owner of u.py cannot be read without running it (line 3: owner = os.environ['ME'])"),
    (UNREADABLE_ID, "The DAG id of u.py cannot be read without running it (line 3: dag_id is not a literal string:"),
])
def test_unreadable_owner_or_dag_id_is_refused_for_non_admins(proj, content, why):
    """Fail closed (was: written with a warning)."""
    result = flows.upload(proj, [incoming("u.py", content)], "alice", False)
    assert result.status == 403 and result.results[0].outcome == "rejected"
    assert why in result.results[0].message and "Only an Airflow admin can upload it" in result.results[0].message
    assert files_in(proj) == {}


def test_an_admin_overrides_only_by_confirming_exactly_what(proj):
    result = flows.upload(proj, [incoming("u.py", UNREADABLE_ID)], "admin", True, offer_override=True)
    (asked,) = result.overridable
    assert result.status == 409 and asked.outcome == "override" and asked.token
    assert asked.overrides and asked.overrides[0].startswith("The DAG id of u.py cannot be read")
    assert not (proj / "u.py").exists()  # staged only
    # Without the override, the confirmation refuses (and drops the staged file).
    refused = flows.replace(proj, [asked.staged], "admin", True, confirm=True)
    assert refused.results[0].outcome == "rejected" and "cannot be read" in refused.results[0].message
    assert not (proj / "u.py").exists()
    again = flows.upload(proj, [incoming("u.py", UNREADABLE_ID)], "admin", True, offer_override=True)
    done = flows.replace(proj, [again.overridable[0].staged], "admin", True, confirm=True, override=True)
    assert done.status == 200 and done.results[0].outcome == "written"
    assert done.results[0].warnings[-1].startswith("Overridden by you (an admin): The DAG id of u.py")
    assert (proj / "u.py").read_bytes() == UNREADABLE_ID


def test_a_non_admin_cannot_use_the_override(proj):
    staged = df.stage(proj, UNREADABLE_OWNER, "alice")
    result = flows.replace(proj, [f"{staged}:u.py"], "alice", False, confirm=True, override=True)
    assert result.results[0].outcome == "rejected" and result.results[0].status == 403
    assert not (proj / "u.py").exists()


def test_without_the_override_step_an_admins_unreadable_file_is_refused(proj):
    """Callers that cannot show the confirmation (the builder) get a refusal, never a silent write."""
    result = flows.upload(proj, [incoming("u.py", UNREADABLE_OWNER)], "admin", True)
    assert result.results[0].outcome == "rejected" and result.results[0].status == 409
    assert files_in(proj) == {}


def test_a_dag_id_defined_by_another_projects_file_is_refused(proj):
    """carol (analytics) uploads a file defining a DAG id that a demo_fs file already defines."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager

    DagBundlesManager().sync_bundles_to_db()  # the dags-folder bundle row the DAG row refers to
    dag_id = f"taken_{uuid.uuid4().hex[:8]}"
    victim = proj / "victim.py"
    insert_dag(dag_id, victim, f"demo_fs/{victim.name}", owners="alice")
    analytics = df.project_dir(120, "analytics")
    result = flows.upload(analytics, [incoming("mine.py", dag_source("carol", dag_id))], "carol", False)
    (refused,) = result.results
    assert result.status == 403 and refused.outcome == "rejected"
    assert f"DAG id '{dag_id}' (line 3) is already defined by a file in another project's folder" in refused.message
    assert "demo_fs" not in refused.message  # the other project is not named to a non-admin
    assert not (analytics / "mine.py").exists()
    # Another file of the same project is a collision too; the file itself (a replacement) is not.
    own = flows.upload(proj, [incoming("other.py", dag_source("alice", dag_id))], "alice", False)
    assert own.results[0].outcome == "rejected"
    assert "already defined by victim.py in this project" in own.results[0].message
    itself = flows.upload(proj, [incoming("victim.py", dag_source("alice", dag_id))], "alice", False)
    assert itself.results[0].outcome == "written"


def test_two_files_of_one_upload_may_not_define_the_same_dag_id(proj):
    dag_id = f"twice_{uuid.uuid4().hex[:8]}"
    result = flows.upload(proj, [incoming("a.py", dag_source("alice", dag_id)),
                                 incoming("b.py", dag_source("alice", dag_id))], "alice", False)
    assert result.results[1].outcome == "rejected"
    assert f"DAG id '{dag_id}' (line 3) is also defined by a.py in this upload" in result.results[1].message
    assert files_in(proj) == {}


def test_an_admin_may_upload_someone_elses_dag_with_a_warning(proj):
    result = flows.upload(proj, [incoming("a.py", dag_source("alice", "a"))], "admin", True)
    assert result.status == 200 and "allowed: you are an admin" in result.results[0].warnings[0]


def test_replacing_asks_first_then_replaces_or_keeps(proj):
    old, new = dag_source("alice", "v1"), dag_source("alice", "v2")
    flows.upload(proj, [incoming("a.py", old)], "alice", False)
    ask = flows.upload(proj, [incoming("a.py", new), incoming("b.py", dag_source("alice", "b"))], "alice", False)
    assert ask.status == 409 and outcomes(ask) == [("a.py", "confirm", 409), ("b.py", "written", 200)]
    assert ask.results[0].message == "a.py already exists. Replace it with the uploaded file?"
    assert [r.name for r in ask.pending] == ["a.py"] and ask.pending[0].staged.endswith(":a.py")
    assert (proj / "a.py").read_bytes() == old

    done = flows.replace(proj, [ask.pending[0].staged], "alice", False, confirm=True)
    assert done.status == 200 and outcomes(done) == [("a.py", "replaced", 200)]
    assert done.results[0].message == f"a.py was replaced ({fmt_size(len(new))})."
    assert (proj / "a.py").read_bytes() == new
    again = flows.replace(proj, [ask.pending[0].staged], "alice", False, confirm=True)
    assert again.status == 410 and "expired or was already used" in again.results[0].message

    ask = flows.upload(proj, [incoming("a.py", old)], "alice", False)
    kept = flows.replace(proj, [ask.pending[0].staged], "alice", False, confirm=False)
    assert kept.status == 200 and kept.notice == "Nothing was replaced." and kept.results == []
    assert (proj / "a.py").read_bytes() == new
    assert sorted(files_in(proj)) == ["a.py", "b.py"]  # the staged upload is gone


def test_a_confirmation_cannot_smuggle_a_bad_name_or_another_owner(proj):
    flows.upload(proj, [incoming("a.py", dag_source("alice", "v1"))], "alice", False)
    token = flows.upload(proj, [incoming("a.py", dag_source("alice", "v2"))], "alice", False).pending[0].token
    before = files_in(proj)
    for staged in (f"{token}:../evil.py", f"{token}:.hidden.py", "../../x:a.py", "nocolon"):
        result = flows.replace(proj, [staged], "alice", False, confirm=True)
        assert 400 <= result.status < 500 and result.results[0].outcome == "rejected", staged
    # nothing written, and the refused confirmation's staged upload is removed (nothing waits for a retry)
    assert files_in(proj) == {k: v for k, v in before.items() if token not in k}
    # bob confirming alice's staged file is re-checked against bob: the owner is alice, so refused.
    token = flows.upload(proj, [incoming("a.py", dag_source("alice", "v2"))], "alice", False).pending[0].token
    refused = flows.replace(proj, [f"{token}:a.py"], "bob", False, confirm=True)
    assert refused.status == 403 and "your own Hopsworks username 'bob'" in refused.results[0].message
    assert files_in(proj) == {"a.py": dag_source("alice", "v1")}  # and the staged file is discarded


def test_listing_and_viewing_files_put_there_by_other_means(proj, airflow_db):
    proj.mkdir()
    (proj / "big.py").write_bytes(b"x = 1\n" * 600_000)  # 3.4 MiB, over twice the 1 MiB cap
    (proj / "latin.py").write_bytes(b"# caf\xe9\nx = 1\n")
    (proj / "notes.txt").write_bytes(b"")
    listing = flows.listing(proj)
    assert [r.file.name for r in listing.rows] == ["big.py", "latin.py"] and listing.skipped == 1
    assert listing.folder == "demo_fs" and listing.max_file_bytes == 1024 * 1024 and listing.max_files == 20
    big = flows.view(proj, "big.py")
    assert big.truncated_at == 2 * 1024 * 1024 and big.decoded and big.info.size == 3_600_000
    assert len(big.lines) == 2 * 1024 * 1024 // 6 + 1
    latin = flows.view(proj, "latin.py")
    assert not latin.decoded and latin.truncated_at is None and latin.lines == ["# caf\ufffd", "x = 1"]
    assert flows.download(proj, "big.py") == b"x = 1\n" * 600_000


def test_delete_removes_the_file_its_dags_and_import_errors(proj, airflow_db):
    from airflow.dag_processing.bundles.manager import DagBundlesManager

    DagBundlesManager().sync_bundles_to_db()
    df.records._dags_folder_bundles.cache_clear()
    proj.mkdir()
    (proj / "gone.py").write_bytes(dag_source("alice", "gone"))
    insert_dag("core_del_a", proj / "gone.py", "demo_fs/gone.py")
    insert_dag("core_del_b", proj / "gone.py", "demo_fs/gone.py")
    insert_dag("core_orphan", proj / "was_here.py", "demo_fs/was_here.py")
    insert_import_error("demo_fs/gone.py")
    try:
        listing = flows.listing(proj)
        assert [d.dag_id for d in listing.rows[0].dags] == ["core_del_a", "core_del_b"]
        assert len(listing.rows[0].errors) == 1
        # DAG records whose file is gone are listed as orphans (other tests may leave some of their own).
        assert "was_here.py" in listing.orphans and "gone.py" not in listing.orphans
        preview = flows.delete_preview(proj, "gone.py")
        assert [d.dag_id for d in preview.dags] == ["core_del_a", "core_del_b"] and (proj / "gone.py").exists()
        report = flows.delete(proj, "gone.py")
        assert report.removed == ["core_del_a", "core_del_b"] and report.import_errors_removed == 1
        assert not (proj / "gone.py").exists() and dag_rows("core_del_a", "core_del_b") == {}
        assert os.listdir(proj) == []
    finally:
        df.remove_dag_records(proj, "was_here.py", ["core_orphan"])
        df.records._dags_folder_bundles.cache_clear()


# --- the replace queue: per-user cap, nothing staged stays after a refusal ---------------------------


def staged_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(df.STAGED_PREFIX))


def test_one_member_filling_the_replace_queue_does_not_block_another(proj):
    """bob keeps uploading a file that exists (each waits for "replace?"): he is stopped at
    ``[hopsworks] max_staged_per_user`` (20), alice can still stage hers."""
    flows.upload(proj, [incoming("a.py", dag_source("alice, bob", "v1"))], "alice", False)
    statuses = [flows.upload(proj, [incoming("a.py", dag_source("alice, bob", "v2"))], "bob", False).status
                for _ in range(21)]
    assert statuses == [409] * 20 + [429]
    refused = flows.upload(proj, [incoming("a.py", dag_source("alice, bob", "v2"))], "bob", False)
    assert refused.results[0].outcome == "rejected" and "You have 20 replacements waiting" in refused.results[0].message
    assert len(staged_files(proj)) == 20

    alice = flows.upload(proj, [incoming("a.py", dag_source("alice, bob", "v3"))], "alice", False)
    assert alice.status == 409 and alice.results[0].outcome == "confirm"
    done = flows.replace(proj, [alice.pending[0].staged], "alice", False, confirm=True)
    assert done.status == 200 and (proj / "a.py").read_bytes() == dag_source("alice, bob", "v3")


def test_a_refused_replace_leaves_no_staged_file(proj):
    flows.upload(proj, [incoming("a.py", dag_source("alice", "v1"))], "alice", False)

    def staged_upload() -> str:
        return flows.upload(proj, [incoming("a.py", dag_source("alice", "v2"))], "alice", False).pending[0].token

    refusals = {
        "a bad name": lambda: flows.replace(proj, [f"{staged_upload()}:../evil.py"], "alice", False, confirm=True),
        "another owner": lambda: flows.replace(proj, [f"{staged_upload()}:a.py"], "bob", False, confirm=True),
        "over the file cap": lambda: flows.replace(
            proj, [f"{staged_upload()}:a.py"] * (df.max_files_per_upload() + 1), "carol", False, confirm=True),
    }
    for reason, attempt in refusals.items():
        result = attempt()
        assert 400 <= result.status < 500, reason
        assert staged_files(proj) == [], reason
    # the target turned into a folder meanwhile: the commit is refused, the staged upload removed too
    token = staged_upload()
    (proj / "a.py").unlink()
    (proj / "a.py").mkdir()
    result = flows.replace(proj, [f"{token}:a.py"], "alice", False, confirm=True)
    assert result.status == 409 and staged_files(proj) == []
