"""hopsworks_ui_plugin.core.builder: the builder's flows without a web framework. A new DAG and a
change go through the upload's checks and atomic write; a DAG id in use anywhere is refused; a file
changed since it was opened is not overwritten."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from hopsworks_ui_plugin import access
from hopsworks_ui_plugin import dag_files as df
from hopsworks_ui_plugin.core import builder
from hopsworks_ui_plugin.dag_builder import parse
from hopsworks_ui_plugin.dag_builder.model import TaskSpec
from hopsworks_ui_plugin.errors import BadInput, Conflict, PluginError
from hopsworks_ui_plugin.formatting import fmt_size
from hopsworks_ui_plugin.hooks.hopsworks import service_hook
from tests.dag_builder.conftest import three_task_spec
from tests.support import dag_source, insert_dag

DEMO_FS = 119


@pytest.fixture()
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, airflow_db) -> Path:
    root = tmp_path / "dags"
    root.mkdir()
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(root))
    return df.ensure_project_dir(df.project_dir(DEMO_FS, "demo_fs"))


@pytest.fixture()
def ctx(hw):
    access.MEMBERSHIPS.clear()
    hook = service_hook()
    return hook, access.project_access(hook, "alice", False, DEMO_FS)


def new_spec(**extra):
    spec = three_task_spec(**extra)
    spec.dag_id = extra.get("dag_id") or f"cb_{uuid.uuid4().hex[:8]}"  # type: ignore[assignment]
    return spec


def fields(check: builder.Check) -> dict[str, str]:
    return {p.field: p.message for p in check.problems}


def test_create_writes_the_generated_file_through_the_upload_path(proj, ctx):
    hook, grant = ctx
    spec = new_spec()
    saved = builder.create(hook, grant, proj, spec, "alice", False)
    path = proj / f"{spec.dag_id}.py"
    assert saved.name == path.name and saved.content_hash == builder.content_hash(path.read_bytes())
    assert parse.parse(path.read_bytes(), "demo_fs").spec == spec.normalized()
    assert [p.name for p in proj.iterdir()] == [path.name]  # no temporary or staged files left
    assert oct(path.stat().st_mode & 0o777) == oct(df.FILE_MODE)


def test_the_upload_checks_apply_to_builder_files(proj, ctx, monkeypatch):
    hook, grant = ctx
    monkeypatch.setenv("AIRFLOW__HOPSWORKS__MAX_DAG_FILE_BYTES", "1024")
    spec = new_spec()
    with pytest.raises(PluginError) as err:
        builder.create(hook, grant, proj, spec, "alice", False)
    assert err.value.status == 413
    assert err.value.message == f"Nothing was saved: {spec.dag_id}.py is larger than the limit of {fmt_size(1024)}."
    assert list(proj.iterdir()) == []


def test_a_dag_id_airflow_knows_is_refused_without_naming_another_projects_file(proj, ctx, tmp_path):
    hook, grant = ctx
    from airflow.dag_processing.bundles.manager import DagBundlesManager

    DagBundlesManager().sync_bundles_to_db()  # the dags-folder bundle row the DAG row refers to
    spec = new_spec()
    insert_dag(spec.dag_id, tmp_path / "dags" / "analytics" / "secret_name.py", "analytics/secret_name.py", "carol")
    found = fields(builder.full_check(hook, grant, proj, spec))
    assert found == {"dag_id": f"DAG id {spec.dag_id!r} is already used by another DAG in Airflow; choose another."}
    with pytest.raises(BadInput) as err:
        builder.create(hook, grant, proj, spec, "alice", False)
    assert err.value.message == f"Nothing was saved: {found['dag_id']}" and list(proj.iterdir()) == []


def test_a_dag_id_another_file_of_the_project_defines_is_refused(proj, ctx):
    hook, grant = ctx
    spec = new_spec()
    (proj / "handmade.py").write_bytes(dag_source("alice", spec.dag_id))
    assert fields(builder.full_check(hook, grant, proj, spec))["dag_id"] == (
        f"DAG id {spec.dag_id!r} is already defined in handmade.py of this project (not parsed by Airflow yet, or "
        "with an import error); choose another.")


def test_unknown_jobs_and_connections_are_named(proj, ctx):
    hook, grant = ctx
    spec = new_spec(conn_id="no_such_connection")
    spec.tasks[2].job = "ghost_job"
    assert fields(builder.full_check(hook, grant, proj, spec)) == {
        "conn_id": "There is no Airflow connection 'no_such_connection'; the tasks could not call Hopsworks. Ask an "
                   "admin which connection to use.",
        "task.3.job": "Task 3 (run_b): project demo_fs has no job 'ghost_job'.",
    }


def test_create_never_replaces_a_file(proj, ctx):
    hook, grant = ctx
    spec = new_spec()
    (proj / f"{spec.dag_id}.py").write_text("# someone else's\n")
    with pytest.raises(BadInput) as err:
        builder.create(hook, grant, proj, spec, "alice", False)
    assert f"This project already has a file {spec.dag_id}.py; choose another DAG id." in err.value.message
    assert (proj / f"{spec.dag_id}.py").read_text() == "# someone else's\n"


def test_open_change_and_save(proj, ctx):
    hook, grant = ctx
    spec = new_spec()
    saved = builder.create(hook, grant, proj, spec, "alice", False)
    opened = builder.open_file(proj, "demo_fs", saved.name)
    assert opened.reason is None and opened.spec is not None and opened.content_hash == saved.content_hash
    opened.spec.tasks.append(TaskSpec("report", kind="wait_job", job="big_log", upstream=["run_c"]))
    again = builder.save(hook, grant, proj, saved.name, opened.spec, opened.content_hash, "alice", False)
    text = (proj / saved.name).read_text()
    assert "run_c >> report" in text and again.content_hash == builder.content_hash(text.encode())
    assert sorted(p.name for p in proj.iterdir()) == [saved.name]  # the staged copy is gone


def test_a_file_changed_since_it_was_opened_is_not_overwritten(proj, ctx):
    hook, grant = ctx
    saved = builder.create(hook, grant, proj, new_spec(), "alice", False)
    opened = builder.open_file(proj, "demo_fs", saved.name)
    path = proj / saved.name
    path.write_text(path.read_text() + "# a colleague's hand edit\n")
    before = path.read_bytes()
    assert opened.spec is not None
    with pytest.raises(Conflict) as err:
        builder.save(hook, grant, proj, saved.name, opened.spec, opened.content_hash, "alice", False)
    assert err.value.status == 409 and err.value.title == "The file changed"
    assert err.value.message.startswith(f"Nothing was saved: {saved.name} was changed by someone else since you "
                                        "opened it.")
    assert path.read_bytes() == before and sorted(p.name for p in proj.iterdir()) == [saved.name]
    reopened = builder.open_file(proj, "demo_fs", saved.name)
    assert reopened.spec is None and "lines were added after line" in (reopened.reason or "")


def test_the_owner_is_who_saves_it_but_an_admin_keeps_it(ctx):
    _hook, grant = ctx
    raw = json.dumps(new_spec(owner="mallory", project="other").to_dict())
    assert (builder.spec_from_form(raw, grant, "alice", False).owner,
            builder.spec_from_form(raw, grant, "alice", False).project) == ("alice", "demo_fs")
    assert builder.spec_from_form(raw, grant, "admin", True, previous_owner="bob").owner == "bob"
    assert builder.spec_from_form(raw, grant, "bob", False, previous_owner="alice").owner == "bob"


@pytest.mark.parametrize(("raw", "message"), [
    ("", "The form sent no DAG; reload the page and try again."),
    ("{", "The form sent a DAG that is not valid JSON; reload the page and try again."),
    ('{"tasks": 1}', "Tasks must be a list."),
])
def test_broken_form_data_is_a_400(ctx, raw, message):
    with pytest.raises(BadInput) as err:
        builder.spec_from_form(raw, ctx[1], "alice", False)
    assert err.value.message == message


def test_builder_made_reads_only_the_start(proj, ctx):
    hook, grant = ctx
    saved = builder.create(hook, grant, proj, new_spec(), "alice", False)
    (proj / "plain.py").write_bytes(dag_source("alice", "plain"))
    assert builder.builder_made(proj, saved.name) and not builder.builder_made(proj, "plain.py")
    assert not builder.builder_made(proj, "missing.py")
