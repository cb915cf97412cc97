"""HopsworksLaunchOperator against the fake Hopsworks, run by Airflow's own dag.test()."""

from __future__ import annotations

import re
import threading
import time

import pytest

from hopsworks_ui_plugin.hooks.hopsworks import HopsworksHook
from hopsworks_ui_plugin.links import (
    EXECUTION_ID_XCOM_KEY,
    EXECUTION_URL_XCOM_KEY,
    HopsworksExecutionLink,
    execution_page_url,
)
from hopsworks_ui_plugin.operators.hopsworks import HopsworksLaunchOperator
from hopsworks_ui_plugin.version_compat import AirflowException
from tests.dag_runner import RecordingTI, run_dag, xcom
from tests.support import seed_key

LAUNCH = "from hopsworks_ui_plugin.operators.hopsworks import HopsworksLaunchOperator\n"


def executions_started(hw) -> list:
    return [r for r in hw.requests if r.method == "POST" and r.path.endswith("/executions")]


@pytest.mark.parametrize("deferrable", [False, True], ids=["poll", "deferrable"])
def test_launch_waits_for_its_execution_and_publishes_it(hw, airflow_db, deferrable):
    dag_run, tis = run_dag(
        LAUNCH
        + f"""
with DAG(DAG_ID, start_date=START, schedule=None, default_args={{"owner": "alice"}}) as dag:
    HopsworksLaunchOperator(task_id="launch", job_name="etl", project_name="demo_fs",
                            job_arguments="--date 2024-01-01", poke_interval_s=0.1,
                            deferrable={deferrable})
"""
    )
    ti = tis["launch"]
    assert ti.state == "success" and dag_run.state == "success"
    execution_id = xcom(ti, EXECUTION_ID_XCOM_KEY)
    assert xcom(ti, "return_value") == execution_id
    execution = hw.state.get_execution(execution_id)
    assert execution["state"] == "FINISHED" and execution["args"] == "--date 2024-01-01"
    url = xcom(ti, EXECUTION_URL_XCOM_KEY)
    assert url == f"{hw.url}/p/119/jobs/named/etl/executions"
    # What the UI's extra link shows: that one execution (the plugin's page of it), not the job's list.
    page = execution_page_url(119, "etl", execution_id)
    assert page.endswith(f"/pluginsv2/hopsworks/projects/119/log/{execution_id}/etl")
    assert xcom(ti, HopsworksExecutionLink().xcom_key) == page
    assert len(executions_started(hw)) == 1


def test_failed_execution_fails_the_task_with_the_hopsworks_state(hw, airflow_db, caplog):
    dag_run, tis = run_dag(
        LAUNCH
        + """
with DAG(DAG_ID, start_date=START, schedule=None, default_args={"owner": "bob"}) as dag:
    HopsworksLaunchOperator(task_id="launch", job_name="broken", project_name="demo_fs", poke_interval_s=0.1)
"""
    )
    assert tis["launch"].state == "failed" and dag_run.state == "failed"
    execution = hw.state.get_execution(xcom(tis["launch"], EXECUTION_ID_XCOM_KEY))
    assert (execution["state"], execution["finalStatus"]) == ("FINISHED", "FAILED")  # a failed Spark run


def test_ignore_failure_lets_the_task_succeed(hw, airflow_db):
    _, tis = run_dag(
        LAUNCH
        + """
with DAG(DAG_ID, start_date=START, schedule=None, default_args={"owner": "bob"}) as dag:
    HopsworksLaunchOperator(task_id="launch", job_name="broken", project_name="demo_fs", poke_interval_s=0.1,
                            ignore_failure=True)
"""
    )
    assert tis["launch"].state == "success"


def test_owner_not_a_member_fails_before_anything_is_launched(hw, airflow_db):
    """erin is no member of demo_fs: with the shared key, nothing may start. (Not an Airflow user
    either, so the DAG this leaves in the metadata DB is nobody's on the My DAGs page.)"""
    dag_run, tis = run_dag(
        LAUNCH
        + """
with DAG(DAG_ID, start_date=START, schedule=None, default_args={"owner": "erin"}) as dag:
    HopsworksLaunchOperator(task_id="launch", job_name="etl", project_name="demo_fs", poke_interval_s=0.1)
"""
    )
    assert tis["launch"].state == "failed"
    assert executions_started(hw) == []


def direct(operator: HopsworksLaunchOperator, params: dict | None = None) -> tuple[RecordingTI, dict]:
    ti = RecordingTI()
    return ti, {"ti": ti, "params": params or {}}


def test_owner_check_message_names_owner_and_project(hw):
    op = HopsworksLaunchOperator(task_id="t", job_name="etl", project_name="demo_fs", owner="dave")
    _, context = direct(op)
    with pytest.raises(AirflowException, match=r"Task owner 'dave' is not a member .*'demo_fs'"):
        op.execute(context)
    assert executions_started(hw) == []


def test_own_api_key_in_params_skips_the_owner_check(hw):
    """Legacy DAGs pass params={'hw_api_key': ...}; Hopsworks itself then checks the key's user."""
    op = HopsworksLaunchOperator(task_id="t", job_name="etl", project_id=119, owner="whoever",
                                 wait_for_completion=False)
    ti, context = direct(op, {"hw_api_key": seed_key("bob")})
    execution_id = op.execute(context)
    assert ti.xcom[EXECUTION_ID_XCOM_KEY] == execution_id
    started = executions_started(hw)
    assert len(started) == 1 and started[0].username == "bob"


def test_wait_timeout_fails_and_says_so(hw):
    op = HopsworksLaunchOperator(task_id="t", job_name="train", project_name="demo_fs", owner="alice",
                                 job_arguments="--duration 600", poke_interval_s=0.05, wait_timeout_s=0.3)
    ti, context = direct(op)
    started = time.monotonic()
    with pytest.raises(AirflowException, match="Timed out after 0.3 s"):
        op.execute(context)
    assert time.monotonic() - started < 5
    assert ti.xcom[EXECUTION_ID_XCOM_KEY]  # published before waiting


def test_on_kill_stops_the_launched_execution(hw):
    """With a key that may stop (the owner's own HOPS_USER key), once Hopsworks assigned an appId."""
    op = HopsworksLaunchOperator(task_id="t", job_name="train", project_id=119, owner="alice",
                                 job_arguments="--duration 60", poke_interval_s=0.05)
    ti, context = direct(op, {"hw_api_key": seed_key("alice")})
    errors: list[BaseException] = []

    def run() -> None:
        try:
            op.execute(context)
        except BaseException as err:  # the killed execution fails the task
            errors.append(err)

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 10
    while EXECUTION_ID_XCOM_KEY not in ti.xcom and time.monotonic() < deadline:
        time.sleep(0.02)
    while hw.state.get_execution(ti.xcom[EXECUTION_ID_XCOM_KEY])["appId"] is None and time.monotonic() < deadline:
        time.sleep(0.02)  # Hopsworks ignores a stop before the execution has an appId
    op.on_kill()
    thread.join(timeout=10)
    execution = hw.state.get_execution(ti.xcom[EXECUTION_ID_XCOM_KEY])
    assert execution["state"] == "KILLED"
    assert [r for r in hw.requests if r.method == "PUT" and r.path.endswith("/status")]
    assert errors and "KILLED" in str(errors[0])


def test_logs_are_copied_into_the_task_log(hw, capfd):
    """With a key that may read logs (HOPS_USER)."""
    op = HopsworksLaunchOperator(task_id="t", job_name="broken", project_id=119, owner="alice",
                                 poke_interval_s=0.05, ignore_failure=True)
    _, context = direct(op, {"hw_api_key": seed_key("alice")})
    op.execute(context)
    out = capfd.readouterr().out  # Airflow 3 task loggers write through structlog
    assert "Hopsworks stderr of execution" in out
    assert 'raise ValueError("input table is empty")' in out  # the job's stack trace


# ------------------------------------------------------------------------------------------------ AGENT key
AGENT_DAG = (
    "from hopsworks_ui_plugin.operators.hopsworks import HopsworksLaunchOperator\n"
    "from hopsworks_ui_plugin.sensors.hopsworks import HopsworksJobSuccessSensor\n"
)


@pytest.mark.parametrize("deferrable", [False, True], ids=["poll", "deferrable"])
def test_dag_runs_with_the_agent_key_of_hopsworks_airflow_user(hw, airflow_db, deferrable):
    """hopsworks_default holds the AGENT key (Hopsworks' own Airflow service user): launch, wait, sensor
    and owner check use only getProjectInfo and the execution calls; the log copy degrades to one warning."""
    dag_run, tis = run_dag(
        AGENT_DAG
        + f"""
with DAG(DAG_ID, start_date=START, schedule=None, default_args={{"owner": "alice"}}) as dag:
    launch = HopsworksLaunchOperator(task_id="launch", job_name="etl", project_name="demo_fs",
                                     poke_interval_s=0.1, deferrable={deferrable})
    wait = HopsworksJobSuccessSensor(task_id="wait", job_name="etl", project_name="demo_fs",
                                     launch_task_id="launch", poke_interval=0.1, timeout=60,
                                     deferrable={deferrable})
    launch >> wait
"""
    )
    assert (tis["launch"].state, tis["wait"].state, dag_run.state) == ("success", "success", "success")
    assert {r.username for r in hw.requests if r.username} == {"airflow"}
    denied = [(r.method, r.path, r.status) for r in hw.requests if r.status >= 400]
    assert len(denied) == 1 and "/log/" in denied[0][1] and denied[0][2] == 403, denied  # one log read, then a warning


def test_agent_key_log_copy_and_stop_degrade_to_one_warning(hw, capfd):
    op = HopsworksLaunchOperator(task_id="t", job_name="train", project_name="demo_fs", owner="bob",
                                 job_arguments="--duration 1", poke_interval_s=0.05)
    _, context = direct(op)
    capfd.readouterr()
    op.execute(context)
    running = HopsworksLaunchOperator(task_id="t", job_name="train", project_name="demo_fs", owner="bob",
                                      job_arguments="--duration 60", poke_interval_s=0.05, wait_for_completion=False)
    execution_id = running.execute(direct(running)[1])
    running.on_kill()  # killed while its execution runs
    out = capfd.readouterr().out  # Airflow 3 task loggers write through structlog
    assert out.count("may not read job logs") == 1
    assert out.count("may not stop executions") == 1
    assert "Could not" not in out
    hw.state.stop_execution(hw.state.executions[execution_id])


def test_project_id_only_with_the_agent_key(hw):
    """GET /project/{id} is refused to AGENT; the name comes from an execution's hdfsUser, confirmed by
    getProjectInfo. A job that never ran cannot name its project: the error says what to do."""
    hw.state.add_job(120, {"name": "never_ran", "type": "PYTHON", "creator": "carol"})
    op = HopsworksLaunchOperator(task_id="t", job_name="never_ran", project_id=120, owner="carol",
                                 wait_for_completion=False)
    with pytest.raises(AirflowException, match=r"platform role AGENT.*project_name=\.\.\."):
        op.execute(direct(op)[1])
    assert executions_started(hw) == []
    op = HopsworksLaunchOperator(task_id="t", job_name="report", project_id=120, owner="carol",
                                 wait_for_completion=False)
    hw.state.start_execution(hw.state.users["carol"], hw.state.projects[120], hw.state.projects[120].jobs["report"],
                             None)
    ti, context = direct(op)
    assert op.execute(context) == ti.xcom[EXECUTION_ID_XCOM_KEY]
    assert [r.status for r in hw.requests if r.path.endswith("/project/120")] == [403, 403]


# ------------------------------------------------------------------------------- stop, outages, retries
def test_on_kill_before_the_execution_has_an_appid_still_stops_it(hw):
    """Hopsworks ignores a stop before the execution has an appId: on_kill keeps asking until it is final."""
    op = HopsworksLaunchOperator(task_id="t", job_name="train", project_id=119, owner="alice",
                                 job_arguments="--duration 100", wait_for_completion=False)
    ti, context = direct(op, {"hw_api_key": seed_key("alice")})
    execution_id = op.execute(context)
    assert hw.state.get_execution(execution_id)["appId"] is None  # INITIALIZING: 1 s here
    op.on_kill()
    assert hw.state.get_execution(execution_id)["state"] == "KILLED"  # final when on_kill returns
    stops = [r for r in hw.requests if r.method == "PUT" and r.path.endswith(f"/executions/{execution_id}/status")]
    assert len(stops) >= 2  # the first ask was ignored, a later one (with an appId) was not


def test_a_failed_yarn_run_fails_the_task_and_shows_a_red_badge_on_the_job_page(hw, airflow_db, web):
    """A failed Spark run ends FINISHED with final status FAILED: the task fails, the page shows it red."""
    dag_run, tis = run_dag(
        LAUNCH
        + """
with DAG(DAG_ID, start_date=START, schedule=None, default_args={"owner": "alice"}) as dag:
    HopsworksLaunchOperator(task_id="launch", job_name="broken", project_name="demo_fs", poke_interval_s=0.1)
"""
    )
    assert tis["launch"].state == "failed" and dag_run.state == "failed"
    execution_id = xcom(tis["launch"], EXECUTION_ID_XCOM_KEY)
    page = web("alice").get("projects/119/jobs/broken").get_data(as_text=True)
    row = re.search(rf'<tr data-execution="{execution_id}"[^>]*>(.*?)</tr>', page, re.S).group(1)
    assert ">FINISHED<" in row and "hw-badge-failed" in row and ">FAILED<" in row


def test_a_log_too_big_for_hopsworks_says_where_the_full_log_is(hw, capfd):
    """big_log writes about 3 MB: Hopsworks serves only its path; the task log says where to get it."""
    op = HopsworksLaunchOperator(task_id="t", job_name="big_log", project_id=119, owner="alice",
                                 poke_interval_s=0.05)
    _, context = direct(op, {"hw_api_key": seed_key("alice")})
    capfd.readouterr()
    execution_id = op.execute(context)
    out = capfd.readouterr().out
    path = hw.state.get_execution(execution_id)["appId"]
    assert "Not copying the stdout of Hopsworks execution" in out and "over 1,000,000 bytes" in out
    assert f"/Projects/demo_fs/Logs/Python/{path}/stdout.log" in out
    assert "Click on the download button" not in out and "this line is repeated" not in out


OUTAGE_S = 10.0


def outage(hw, seconds: float = OUTAGE_S, path: str = "/executions/") -> threading.Thread:
    """Hopsworks answers 503 to every execution poll for ``seconds`` (starting now)."""
    hw.inject_fault(status=503, count=None, path_contains=path)
    timer = threading.Timer(seconds, hw.clear_faults)
    timer.start()
    return timer


@pytest.mark.parametrize("deferrable", [False, True], ids=["poll", "deferrable"])
def test_a_10_s_hopsworks_outage_during_the_wait_does_not_fail_the_task(hw, airflow_db, deferrable, capfd):
    """The job ends during the outage; the task succeeds once Hopsworks answers again, with one warning."""
    timer = outage(hw)
    started = time.monotonic()
    try:
        dag_run, tis = run_dag(
            LAUNCH
            + f"""
with DAG(DAG_ID, start_date=START, schedule=None, default_args={{"owner": "alice"}}) as dag:
    HopsworksLaunchOperator(task_id="launch", job_name="etl", project_name="demo_fs", job_arguments="--duration 20",
                            poke_interval_s=0.2, deferrable={deferrable})
"""
        )
    finally:
        timer.cancel()
        hw.clear_faults()
    assert (tis["launch"].state, dag_run.state) == ("success", "success")
    assert time.monotonic() - started >= OUTAGE_S - 0.5  # it really waited through the outage
    assert any(r.status == 503 for r in hw.requests) and len(executions_started(hw)) == 1
    out = capfd.readouterr().out
    assert out.count("Hopsworks did not answer while waiting for job 'etl'") == 1  # one warning per outage


def test_an_outage_longer_than_the_wait_timeout_fails_and_says_so(hw):
    op = HopsworksLaunchOperator(task_id="t", job_name="etl", project_name="demo_fs", owner="alice",
                                 job_arguments="--duration 20", poke_interval_s=0.05, wait_timeout_s=0.5)
    hw.inject_fault(status=503, count=None, path_contains="/executions/")
    with pytest.raises(AirflowException, match=r"Timed out after 0.5 s .*Hopsworks has not answered for the last"):
        op.execute(direct(op)[1])


@pytest.mark.parametrize("deferrable", [False, True], ids=["poll", "deferrable"])
def test_a_retried_task_reattaches_to_the_execution_its_first_try_launched(hw, airflow_db, deferrable):
    """Try 1 launches, then fails (Hopsworks answers 400 to its first look); try 2 finds the running
    execution in the task_state_store, waits on it and launches nothing new."""
    hw.inject_fault(status=400, count=1, path_contains="/executions/")
    dag_run, tis = run_dag(
        LAUNCH
        + f"""
import datetime
with DAG(DAG_ID, start_date=START, schedule=None, default_args={{"owner": "alice"}}) as dag:
    HopsworksLaunchOperator(task_id="launch", job_name="etl", project_name="demo_fs", job_arguments="--duration 10",
                            poke_interval_s=0.1, deferrable={deferrable}, retries=1,
                            retry_delay=datetime.timedelta(seconds=0))
"""
    )
    ti = tis["launch"]
    assert (ti.state, ti.try_number, dag_run.state) == ("success", 2, "success")
    assert len(executions_started(hw)) == 1  # the retry launched nothing new
    assert xcom(ti, EXECUTION_ID_XCOM_KEY) == xcom(ti, "return_value")  # published again by try 2
    assert hw.state.get_execution(xcom(ti, "return_value"))["state"] == "FINISHED"


class DictStore:
    """Airflow's task_state_store for direct execute() calls."""

    def __init__(self, values: dict | None = None) -> None:
        self.values = dict(values or {})

    def get(self, key: str, default=None):
        return self.values.get(key, default)

    def set(self, key: str, value, **_) -> None:
        self.values[key] = value


def retry_context(op, try_number: int, max_tries: int, store: DictStore) -> dict:
    ti, context = direct(op, {"hw_api_key": seed_key("alice")})
    ti.try_number, ti.max_tries = try_number, max_tries
    context["task_state_store"] = store
    return context


def test_a_retry_launches_anew_when_the_earlier_execution_failed_or_the_task_was_cleared(hw):
    hook = HopsworksHook(project_id=119, hw_api_key=seed_key("alice"))
    failed = int(hook.start_execution("etl", "--fail --duration 1")["id"])
    time.sleep(0.3)
    hw.clear_requests()
    op = HopsworksLaunchOperator(task_id="t", job_name="etl", project_id=119, owner="alice", retries=1,
                                 wait_for_completion=False)
    store = DictStore({"hopsworks_launch": {"execution_id": failed, "try_number": 1}})
    retried = op.execute(retry_context(op, 2, 1, store))
    assert retried != failed and len(executions_started(hw)) == 1  # a failed run is what a retry re-runs
    assert store.values["hopsworks_launch"] == {"execution_id": retried, "try_number": 2}
    # Cleared after try 2 (Airflow sets max_tries = 2 + retries): try 3 starts a new series and re-runs,
    # although the execution try 2 launched is still running.
    cleared = op.execute(retry_context(op, 3, 3, store))
    assert cleared not in (failed, retried) and len(executions_started(hw)) == 2
    for execution_id in (retried, cleared):
        hw.state.stop_execution(hw.state.executions[execution_id])


def test_launch_log_line_ends_with_the_url_after_a_space(hw, capfd):
    """A log viewer's link from the launch line must not swallow a ")": the URL comes last."""
    op = HopsworksLaunchOperator(task_id="t", job_name="etl", project_id=119, owner="alice", poke_interval_s=0.05,
                                 wait_for_completion=False)
    _, context = direct(op, {"hw_api_key": seed_key("alice")})
    capfd.readouterr()
    execution_id = op.execute(context)
    line = next(x for x in capfd.readouterr().out.splitlines() if "Launched Hopsworks job" in x)
    url = f"{hw.url}/p/119/jobs/named/etl/executions"
    assert re.search(rf"execution {execution_id}\. Follow it at {re.escape(url)}(\s|$)", line), line
