"""The job browser's flows without a web framework: query parsing, record mapping, 404s, launch/stop."""

from __future__ import annotations

from typing import Any

import pytest

from hopsworks_ui_plugin import states
from hopsworks_ui_plugin.access import ProjectAccess, ProjectRef
from hopsworks_ui_plugin.core import jobs
from hopsworks_ui_plugin.errors import BadInput, Failure, HopsworksError, NotFound
from hopsworks_ui_plugin.hooks.hopsworks import StopResult

GRANT = ProjectAccess(ProjectRef(119, "demo_fs", "", {"alice": "Data owner"}), "Data owner", False)


def api_error(status: int, code: int | None = None) -> HopsworksError:
    return HopsworksError(f"Hopsworks GET x failed with HTTP {status}", http_status=status, error_code=code)


class StubHook:
    """Answers like the hook: ``jobs`` by name, ``executions`` by id; records what was asked."""

    def __init__(self, jobs_by_name: dict[str, Any], executions: dict[int, dict[str, Any]] | None = None,
                 fail: HopsworksError | None = None) -> None:
        self.jobs, self.executions, self.fail = jobs_by_name, executions or {}, fail
        self.calls: list[tuple[Any, ...]] = []

    def get_job(self, name: str, project_id: int) -> dict[str, Any]:
        self.calls.append(("get_job", name))
        if name not in self.jobs:
            raise api_error(404, 130009)
        return self.jobs[name]

    def get_execution(self, name: str, execution_id: int, project_id: int) -> dict[str, Any]:
        if execution_id not in self.executions:
            raise api_error(403, 130026)  # Hopsworks: the execution belongs to another job
        return self.executions[execution_id]

    def start_execution(self, name: str, args: str | None, project_id: int) -> dict[str, Any]:
        self.calls.append(("start", name, args))
        if self.fail:
            raise self.fail
        if name not in self.jobs:
            raise api_error(404)
        return {"id": 7, "state": "INITIALIZING"}

    def stop_execution(self, name: str, execution_id: int, project_id: int) -> dict[str, Any]:
        self.calls.append(("stop", name, execution_id))
        return {}

    def stop_until_final(self, name: str, execution_id: int, project_id: int, *, timeout_s: float = 0,
                         execution: dict[str, Any] | None = None, **_: Any) -> StopResult:
        """Like Hopsworks: a stop is accepted, the state changes later (the stub: never)."""
        execution = execution or self.get_execution(name, execution_id, project_id)
        if states.is_final(execution.get("state")):
            return StopResult(execution, True, 0)
        self.stop_execution(name, execution_id, project_id)
        return StopResult(execution, False, 1)


# --- query ---------------------------------------------------------------------------------------

def test_the_query_defaults_and_reads_plain_args():
    assert jobs.JobQuery.from_args({}) == jobs.JobQuery(1, 20, "name", "asc", "")
    query = jobs.JobQuery.from_args({"page": "3", "per_page": "50", "sort": "created", "q": "  etl "})
    assert query == jobs.JobQuery(3, 50, "created", "desc", "etl")  # created starts newest first


@pytest.mark.parametrize(
    "args, message",
    [({"page": "0"}, "Invalid page '0'"), ({"page": "-1"}, "Invalid page"), ({"page": "abc"}, "Invalid page"),
     ({"per_page": "7"}, "expected 10, 20, 50, 100"), ({"sort": "password"}, "Cannot sort jobs by 'password'"),
     ({"order": "sideways"}, "Invalid order 'sideways'"), ({"q": "x" * 201}, "limited to 200 characters")],
)
def test_bad_query_arguments_are_bad_input(args, message):
    with pytest.raises(BadInput, match=message) as err:
        jobs.JobQuery.from_args(args)
    assert err.value.status == 400


def test_links_leave_defaults_out_and_headers_flip_or_start_at_the_natural_order():
    query = jobs.JobQuery(page=2, per_page=10, sort="name", order="asc", q="job")
    assert query.params() == {"page": 2, "per_page": 10, "q": "job"}
    assert query.params(page=1, q="") == {"per_page": 10}
    assert query.sort_params("name") == {"per_page": 10, "order": "desc", "q": "job"}
    assert query.sort_params("created") == {"per_page": 10, "sort": "created", "q": "job"}
    assert jobs.JobQuery(sort="created", order="asc").sort_params("created") == {"sort": "created"}


def test_page_count():
    assert [jobs.page_count(total, 20) for total in (0, 1, 20, 21, 2000)] == [1, 1, 1, 2, 100]


# --- records -> page -----------------------------------------------------------------------------

def test_people_latest_execution_and_config_summary():
    assert jobs._person({"username": "alice", "firstname": "Alice", "lastname": "Liddell"}) == {
        "username": "alice", "full_name": "Alice Liddell"}
    assert jobs._person(None) == {"username": "", "full_name": ""}
    assert jobs._latest({"executions": {"items": [{"id": 9}, {"id": 8}]}}) == {"id": 9}
    assert jobs._latest({"executions": {"count": 0}}) is None
    rows = dict(jobs._config_summary({
        "appPath": "hdfs:///x.py", "amQueue": "", "command": ["python", "run.py"], "amMemory": 2048,
        "spark.executor.instances": 2, "spark.executor.cores": 4, "spark.executor.memory": 4096,
        "spark.dynamicAllocation.enabled": True, "resourceConfig": {"cores": 1, "memory": 512, "gpus": 0},
    }))
    assert rows == {
        "Application": "hdfs:///x.py", "Command": "python run.py",
        "Resources": "driver 2048 MB / 1 vCPU; 2 executor(s) × 4 core(s), 4096 MB; dynamic allocation; "
                     "1 core(s), 512 MB, 0 GPU(s)",
    }
    assert jobs._config_summary({}) == []


# --- lookups and actions -------------------------------------------------------------------------

def test_missing_jobs_and_executions_are_not_found_naming_them():
    hook = StubHook({"etl": {"name": "etl"}}, {5: {"id": 5, "state": "RUNNING"}})
    with pytest.raises(NotFound, match="Project 'demo_fs' has no job named 'nope'"):
        jobs.get_job(hook, GRANT, "nope")  # type: ignore[arg-type]
    with pytest.raises(NotFound, match="Job 'etl' has no execution 6"):
        jobs.get_execution(hook, GRANT, "etl", 6)  # type: ignore[arg-type]
    with pytest.raises(NotFound, match="has no job named 'nope'"):
        jobs.get_execution(hook, GRANT, "nope", 6)  # type: ignore[arg-type]
    with pytest.raises(NotFound, match="has no job named 'nope'"):
        jobs.launch(hook, GRANT, "nope", "")  # type: ignore[arg-type]


def test_launch_strips_arguments_and_says_which_were_used():
    hook = StubHook({"etl": {}})
    assert jobs.launch(hook, GRANT, "etl", "  --x 1 ") == (  # type: ignore[arg-type]
        "Launched 'etl': execution 7 (INITIALIZING) with arguments '--x 1'.")
    assert jobs.launch(hook, GRANT, "etl", "   ").endswith("with the job's default arguments.")  # type: ignore[arg-type]
    assert [c for c in hook.calls if c[0] == "start"] == [("start", "etl", "--x 1"), ("start", "etl", None)]
    with pytest.raises(BadInput):
        jobs.launch(hook, GRANT, "etl", "x" * (jobs.MAX_ARGS_LEN + 1))  # type: ignore[arg-type]


def test_a_hopsworks_failure_says_what_the_user_asked_for_and_keeps_why():
    outage = HopsworksError("Could not reach Hopsworks at https://h", kind=Failure.UNREACHABLE)
    with pytest.raises(HopsworksError) as err:
        jobs.launch(StubHook({"etl": {}}, fail=outage), GRANT, "etl", "")  # type: ignore[arg-type]
    assert err.value.message == "Could not launch the job: Could not reach Hopsworks at https://h"
    assert err.value.kind is Failure.UNREACHABLE and err.value.status == 502


def test_stop_leaves_an_ended_execution_alone():
    hook = StubHook({"etl": {}}, {5: {"id": 5, "state": "RUNNING"}, 6: {"id": 6, "state": "FAILED"}})
    assert jobs.stop(hook, GRANT, "etl", 6) == (False, "Execution 6 had already ended (FAILED).")  # type: ignore[arg-type]
    stopped, message = jobs.stop(hook, GRANT, "etl", 5)  # type: ignore[arg-type]
    assert stopped and message.startswith("Asked Hopsworks to stop execution 5 of 'etl'.")
    assert [c for c in hook.calls if c[0] == "stop"] == [("stop", "etl", 5)]


def test_a_page_stop_is_shown_as_stopping_and_asked_again_until_final(monkeypatch):
    """Hopsworks ignores a stop before the execution has an appId and answers 202 before it ends: the
    page asks once (no waiting), shows "stopping…" and asks again on each view until it is final."""
    running = {"id": 8, "state": "INITIALIZING"}
    hook = StubHook({"etl": {}}, {8: running})
    jobs.stop(hook, GRANT, "etl", 8)  # type: ignore[arg-type]
    assert jobs.stopping(hook, GRANT, "etl", [running]) == {8}  # type: ignore[arg-type]
    assert len([c for c in hook.calls if c[0] == "stop"]) == 2  # asked again by the view
    assert jobs.stopping(hook, GRANT, "etl", [{"id": 8, "state": "KILLED"}]) == set()  # type: ignore[arg-type]
    assert jobs.stopping(hook, GRANT, "etl", [running]) == set()  # type: ignore[arg-type]  # forgotten once final
    jobs.stop(hook, GRANT, "etl", 8)  # type: ignore[arg-type]
    monkeypatch.setattr(jobs.settings, "stop_timeout_s", lambda: 0.0)
    assert jobs.stopping(hook, GRANT, "etl", [running]) == set()  # type: ignore[arg-type]  # window passed
