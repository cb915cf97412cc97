"""Sensors and the trigger: poke, reschedule and deferrable modes, against the fake Hopsworks."""

from __future__ import annotations

import asyncio
import importlib
import threading
import time

import pytest

from hopsworks_ui_plugin.errors import HopsworksError
from hopsworks_ui_plugin.hooks.hopsworks import HopsworksHook
from hopsworks_ui_plugin.links import EXECUTION_ID_XCOM_KEY
from hopsworks_ui_plugin.sensors.hopsworks import (
    HopsworksDatasetSensor,
    HopsworksJobFinishSensor,
    HopsworksJobSuccessSensor,
)
from hopsworks_ui_plugin.triggers.hopsworks import HopsworksDatasetTrigger, HopsworksExecutionTrigger
from hopsworks_ui_plugin.version_compat import AirflowException
from tests.conftest import seed_key
from tests.dag_runner import RecordingTI, run_dag

SENSORS = (
    "from hopsworks_ui_plugin.operators.hopsworks import HopsworksLaunchOperator\n"
    "from hopsworks_ui_plugin.sensors.hopsworks import HopsworksJobFinishSensor, HopsworksJobSuccessSensor\n"
)


def start(job: str, args: str = "") -> int:
    return int(HopsworksHook(project_id=119).start_execution(job, args)["id"])


@pytest.mark.parametrize("mode", ["poke", "reschedule", "deferrable"])
def test_success_sensor_bound_to_the_launch_task(hw, airflow_db, mode):
    deferrable = mode == "deferrable"
    sensor_mode = "reschedule" if mode == "reschedule" else "poke"
    dag_run, tis = run_dag(
        SENSORS
        + f"""
with DAG(DAG_ID, start_date=START, schedule=None, default_args={{"owner": "alice"}}) as dag:
    launch = HopsworksLaunchOperator(task_id="launch", job_name="etl", project_name="demo_fs",
                                     job_arguments="--duration 30", wait_for_completion=False)
    wait = HopsworksJobSuccessSensor(task_id="wait", job_name="etl", project_id=119, launch_task_id="launch",
                                     poke_interval=0.1, mode={sensor_mode!r}, deferrable={deferrable},
                                     timeout=60)
    launch >> wait
"""
    )
    assert tis["wait"].state == "success", dag_run.state
    assert dag_run.state == "success"
    if mode == "reschedule":  # the slot was given back at least once while the job ran
        assert reschedules(tis["wait"]) >= 1


def reschedules(ti) -> int:
    from airflow.models.taskreschedule import TaskReschedule
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as session:
        query = select(func.count()).select_from(TaskReschedule).where(TaskReschedule.ti_id == ti.id)
        return int(session.scalar(query))


def test_success_sensor_fails_the_task_on_a_failed_execution(hw, airflow_db):
    dag_run, tis = run_dag(
        SENSORS
        + """
with DAG(DAG_ID, start_date=START, schedule=None, default_args={"owner": "bob"}) as dag:
    launch = HopsworksLaunchOperator(task_id="launch", job_name="broken", project_name="demo_fs",
                                     wait_for_completion=False)
    wait = HopsworksJobSuccessSensor(task_id="wait", job_name="broken", project_id=119,
                                     launch_task_id="launch", poke_interval=0.1, timeout=60)
    launch >> wait
"""
    )
    assert tis["wait"].state == "failed"


@pytest.mark.parametrize("mode", ["poke", "reschedule", "deferrable"])
def test_finish_sensor_on_latest_execution_accepts_any_final_state(hw, airflow_db, mode):
    start("broken")
    _, tis = run_dag(
        SENSORS
        + f"""
with DAG(DAG_ID, start_date=START, schedule=None, default_args={{"owner": "bob"}}) as dag:
    HopsworksJobFinishSensor(task_id="wait", job_name="broken", project_name="demo_fs", poke_interval=0.1,
                             mode={"reschedule" if mode == "reschedule" else "poke"!r},
                             deferrable={mode == "deferrable"}, timeout=60)
"""
    )
    assert tis["wait"].state == "success"


def sensor_context(execution_id: int | None = None) -> dict:
    ti = RecordingTI()
    if execution_id is not None:
        ti.xcom[EXECUTION_ID_XCOM_KEY] = execution_id
    return {"ti": ti, "params": {}}


def test_bound_sensor_ignores_a_newer_execution_of_the_same_job(hw):
    """The legacy sensor watched the job's latest execution: a later run could decide the result."""
    failing = start("etl", "--fail --duration 0.5")
    start("etl", "--duration 600")  # a newer, still running execution
    sensor = HopsworksJobSuccessSensor(task_id="s", job_name="etl", project_id=119, execution_id=failing,
                                       owner="alice")
    time.sleep(0.2)  # 0.5 s of fake time at 10x
    with pytest.raises(AirflowException, match=f"execution {failing} failed"):
        sensor.poke(sensor_context())
    latest = HopsworksJobSuccessSensor(task_id="s2", job_name="etl", project_id=119, owner="alice")
    assert latest.poke(sensor_context()) is False  # the newer one is running


def test_response_check_decides(hw):
    execution_id = start("etl", "--duration 0.5")
    time.sleep(0.2)
    seen = []

    def check(state, final_status):
        seen.append((state, final_status))
        return final_status == "SUCCEEDED"

    sensor = HopsworksJobFinishSensor(task_id="s", job_name="etl", project_id=119, execution_id=execution_id,
                                      response_check=check, owner="alice")
    assert sensor.poke(sensor_context()) is True
    assert seen == [("FINISHED", "SUCCEEDED")]


def test_reschedule_mode_gives_the_slot_back_while_waiting(hw):
    from airflow.sdk.exceptions import AirflowRescheduleException

    execution_id = start("etl", "--duration 600")
    sensor = HopsworksJobSuccessSensor(task_id="s", job_name="etl", project_id=119, execution_id=execution_id,
                                       owner="alice", mode="reschedule", poke_interval=30)
    context = sensor_context()
    context.update(task_reschedule_count=0, ti=context["ti"])
    with pytest.raises(AirflowRescheduleException):
        sensor.execute(context)


def test_sensor_owner_check_applies_too(hw):
    sensor = HopsworksJobFinishSensor(task_id="s", job_name="etl", project_id=119, owner="dave")
    with pytest.raises(AirflowException, match="not a member"):
        sensor.poke(sensor_context())


# ---- the trigger ----

def test_trigger_serialization_round_trips():
    """What the triggerer rebuilds from the stored kwargs is the trigger the task deferred with."""
    given = {"project_id": 119, "job_name": "etl", "execution_id": 7, "hopsworks_conn_id": "hw_other",
             "poll_interval": 2.5, "deadline": 1234.5, "cancel_on_kill": False, "hw_api_key": "k.s"}
    classpath, kwargs = HopsworksExecutionTrigger(**given).serialize()
    assert classpath == "hopsworks_ui_plugin.triggers.hopsworks.HopsworksExecutionTrigger"
    module, _, name = classpath.rpartition(".")
    rebuilt = getattr(importlib.import_module(module), name)(**kwargs)
    assert {key: getattr(rebuilt, key) for key in given} == given


async def first_event(trigger: HopsworksExecutionTrigger) -> tuple[dict, int]:
    events = []
    async for event in trigger.run():
        events.append(event.payload)
    return events[0], len(events)


@pytest.mark.parametrize(
    ("args", "status", "state"),
    [("--duration 1", "success", "FINISHED"), ("--fail --duration 1", "failed", "FINISHED")],
)  # a failed PySpark run ends FINISHED with final status FAILED
def test_trigger_yields_exactly_one_final_event(hw, args, status, state):
    execution_id = start("etl", args)
    hw.clear_requests()
    trigger = HopsworksExecutionTrigger(project_id=119, job_name="etl", execution_id=execution_id,
                                        poll_interval=0.05)
    event, count = asyncio.run(first_event(trigger))
    assert count == 1
    assert event["status"] == status and event["state"] == state and event["execution_id"] == execution_id
    polls = [r for r in hw.requests if r.method == "GET"]
    assert all(r.path.endswith(f"/executions/{execution_id}") for r in polls)  # one request per poll


def test_trigger_times_out_on_a_wall_clock_deadline(hw):
    execution_id = start("etl", "--duration 600")
    trigger = HopsworksExecutionTrigger(project_id=119, job_name="etl", execution_id=execution_id,
                                        poll_interval=0.05, deadline=time.time() + 0.2)
    event, count = asyncio.run(first_event(trigger))
    assert (event["status"], count) == ("timeout", 1)


def test_trigger_turns_hopsworks_errors_into_an_error_event(hw):
    trigger = HopsworksExecutionTrigger(project_id=119, job_name="etl", execution_id=999999, poll_interval=0.05)
    event, count = asyncio.run(first_event(trigger))
    assert event["status"] == "error" and "130007" in event["message"] and count == 1


def test_trigger_on_kill_stops_the_execution(hw):
    """With a key that may stop (HOPS_USER), once the execution has an appId (before, Hopsworks ignores a stop)."""
    execution_id = start("etl", "--duration 60")
    deadline = time.monotonic() + 10
    while hw.state.get_execution(execution_id)["appId"] is None and time.monotonic() < deadline:
        time.sleep(0.05)
    trigger = HopsworksExecutionTrigger(project_id=119, job_name="etl", execution_id=execution_id,
                                        hw_api_key=seed_key("alice"))
    asyncio.run(trigger.on_kill())
    while hw.state.get_execution(execution_id)["state"] != "KILLED" and time.monotonic() < deadline:
        time.sleep(0.05)  # Hopsworks accepts the stop at once; YARN kills it a moment later
    assert hw.state.get_execution(execution_id)["state"] == "KILLED"


def test_trigger_on_kill_with_the_agent_key_warns_and_does_not_fail(hw, caplog):
    execution_id = start("etl", "--duration 60")
    trigger = HopsworksExecutionTrigger(project_id=119, job_name="etl", execution_id=execution_id)
    asyncio.run(trigger.on_kill())  # AGENT may not stop: a warning, no exception
    assert hw.state.get_execution(execution_id)["state"] != "KILLED"


# ---- the dataset sensor (HopsworksDatasetSensor, a.k.a. HopsworksHdfsSensor) ----
#
# hopsworks_default holds the AGENT key (Hopsworks' Airflow service user), which may not read datasets;
# these tasks use the pages' connection (``hopsworks_ui``: a HOPS_USER key with DATASET_VIEW) or say why not.

DATASET_SENSOR = "from hopsworks_ui_plugin.sensors.hopsworks import HopsworksDatasetSensor\n"
ODD_PATH = "Resources/in coming/dätä #1?.csv"  # a space, non-ASCII letters, '#' and '?' (URL syntax)


class AppearsAfterFirstMiss:
    """Creates ``path`` in the fake's project once the fake has answered one stat of it with 404: the
    sensor demonstrably looked before the file was there (however long the DAG run takes to start)."""

    def __init__(self, hw, path: str, project_id: int = 119) -> None:
        self.hw, self.path, self.project_id = hw, path, project_id
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(0.02):
            if any(r.status == 404 for r in stat_requests(self.hw)):
                self.hw.state.add_dataset_path(self.project_id, self.path, "a,b\n")
                return

    def __enter__(self) -> AppearsAfterFirstMiss:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def stat_requests(hw) -> list:
    return [r for r in hw.requests if "/dataset/" in r.path and r.query.get("action") == ["stat"]]


@pytest.fixture()
def dataset_hw(hw):
    """The fake with ODD_PATH absent before and after the test."""
    hw.state.remove_dataset_path(119, ODD_PATH)
    yield hw
    hw.state.remove_dataset_path(119, ODD_PATH)


@pytest.mark.parametrize("mode", ["poke", "reschedule", "deferrable"])
def test_dataset_sensor_waits_until_the_path_appears(dataset_hw, airflow_db, mode):
    with AppearsAfterFirstMiss(dataset_hw, ODD_PATH):
        dag_run, tis = run_dag(
            DATASET_SENSOR
            + f"""
with DAG(DAG_ID, start_date=START, schedule=None, default_args={{"owner": "alice"}}) as dag:
    HopsworksDatasetSensor(task_id="wait", project_name="demo_fs", path={ODD_PATH!r},
                           hopsworks_conn_id="hopsworks_ui", poke_interval=0.1, timeout=60,
                           mode={"reschedule" if mode == "reschedule" else "poke"!r}, deferrable={mode == "deferrable"})
"""
        )
    assert tis["wait"].state == "success", dag_run.state
    answers = [r.status for r in stat_requests(dataset_hw)]
    assert answers[0] == 404 and answers[-1] == 200  # it looked before the file was there, and again after
    if mode == "reschedule":
        assert reschedules(tis["wait"]) >= 1


def test_dataset_sensor_times_out_when_the_path_never_appears(dataset_hw, airflow_db):
    dag_run, tis = run_dag(
        DATASET_SENSOR
        + f"""
with DAG(DAG_ID, start_date=START, schedule=None, default_args={{"owner": "alice"}}) as dag:
    HopsworksDatasetSensor(task_id="wait", project_name="demo_fs", path={ODD_PATH!r},
                           hopsworks_conn_id="hopsworks_ui", poke_interval=0.1, timeout=0.5)
"""
    )
    assert tis["wait"].state == "failed"


def dataset_sensor(path: str = "Resources/data.csv", **kwargs) -> HopsworksDatasetSensor:
    kwargs.setdefault("project_name", "demo_fs")
    kwargs.setdefault("hopsworks_conn_id", "hopsworks_ui")
    return HopsworksDatasetSensor(task_id="s", path=path, owner="alice", **kwargs)


def test_dataset_sensor_quotes_each_path_segment(dataset_hw):
    dataset_hw.state.add_dataset_path(119, ODD_PATH, "x")
    assert dataset_sensor(ODD_PATH).poke(sensor_context()) is True
    (stat,) = stat_requests(dataset_hw)
    assert stat.path.endswith("/project/119/dataset/Resources/in%20coming/d%C3%A4t%C3%A4%20%231%3F.csv")
    assert stat.status == 200


def test_dataset_sensor_accepts_its_own_projects_absolute_path(dataset_hw):
    sensor = dataset_sensor("/Projects/demo_fs/Resources/data.csv")
    assert sensor.poke(sensor_context()) is True
    assert stat_requests(dataset_hw)[0].path.endswith("/project/119/dataset/Resources/data.csv")


@pytest.mark.parametrize("path", ["../analytics/Resources/x", "Resources/../../analytics/x", "Resources/..",
                                  "/Projects/analytics/Resources/x", "/etc/passwd", "Resources\\..\\x", ""])
def test_dataset_sensor_refuses_paths_that_leave_the_project(hw, path):
    with pytest.raises(ValueError, match="path"):
        dataset_sensor(path)  # at DAG parse time
    hook = HopsworksHook("hopsworks_ui", project_id=119, project_name="demo_fs")
    with pytest.raises(HopsworksError):
        hook.dataset_exists(path)
    assert not [r for r in hw.requests if "/dataset/" in r.path]  # nothing was asked


def test_dataset_sensor_refuses_a_templated_path_that_leaves_the_project(hw):
    sensor = dataset_sensor("{{ params.where }}")
    sensor.path = "Resources/../../analytics/secret"  # what the template rendered
    with pytest.raises(AirflowException, match=r"'\.\.'"):
        sensor.poke(sensor_context())
    assert not [r for r in hw.requests if "/dataset/" in r.path]


def test_dataset_sensor_404_is_not_yet_but_other_errors_fail(dataset_hw):
    assert dataset_sensor(ODD_PATH).poke(sensor_context()) is False  # 404 110008: not there yet
    hook = HopsworksHook("hopsworks_ui")
    with pytest.raises(HopsworksError) as missing_project:  # 404 150004 is not "path missing"
        hook.dataset_exists("Resources/data.csv", project_id=999)
    assert missing_project.value.http_status == 404 and missing_project.value.error_code == 150004
    sensor = dataset_sensor()
    dataset_hw.inject_fault(503, count=None, path_contains="/dataset/")
    assert sensor.poke(sensor_context()) is False  # 503 after the hook's retries: an outage, ask again later
    dataset_hw.clear_faults()
    assert sensor.poke(sensor_context()) is True


def test_dataset_sensor_with_the_agent_key_says_why_it_cannot(hw):
    sensor = dataset_sensor(hopsworks_conn_id="hopsworks_default")  # AGENT, like Hopsworks' own service key
    with pytest.raises(AirflowException) as refused:
        sensor.poke(sensor_context())
    message = str(refused.value)
    assert "AGENT" in message and "DATASET_VIEW" in message and "hw_api_key" in message
    assert seed_key("airflow") not in message


def test_dataset_sensor_with_a_key_without_dataset_scope_says_so(hw):
    sensor = dataset_sensor(params={"hw_api_key": seed_key("alice")})  # HOPS_USER, scopes JOB and PROJECT only
    with pytest.raises(AirflowException, match="lacks the DATASET_VIEW scope"):
        sensor.poke({"ti": RecordingTI(), "params": {"hw_api_key": seed_key("alice")}})


def test_dataset_sensor_owner_check_applies_too(hw):
    sensor = dataset_sensor()
    sensor.owner = "dave"
    with pytest.raises(AirflowException, match="not a member"):
        sensor.poke(sensor_context())
    assert not stat_requests(hw)


def test_dataset_sensor_shared_key_scope_check_applies_too(hw, monkeypatch):
    """The pre-launch "which project may this task reach" check: a DAG file outside every project folder
    (here: no file at all) may not use the shared key once the admin has not allowed it."""
    monkeypatch.setenv("AIRFLOW__HOPSWORKS__ALLOW_SHARED_KEY_OUTSIDE_PROJECTS", "False")
    with pytest.raises(AirflowException, match="outside every project folder"):
        dataset_sensor().poke(sensor_context())
    assert not stat_requests(hw)


def test_dataset_sensor_reschedule_gives_the_slot_back(dataset_hw):
    from airflow.sdk.exceptions import AirflowRescheduleException

    sensor = dataset_sensor(ODD_PATH, mode="reschedule", poke_interval=30)
    context = sensor_context()
    context.update(task_reschedule_count=0)
    with pytest.raises(AirflowRescheduleException):
        sensor.execute(context)


def test_hdfs_sensor_is_the_dataset_sensor_under_hopsworks_name():
    import warnings

    from hopsworks_ui_plugin.sensors import HopsworksHdfsSensor

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        legacy = importlib.import_module("hopsworks_plugin.sensors.hopsworks_sensor")
    assert HopsworksHdfsSensor is HopsworksDatasetSensor
    assert legacy.HopsworksHdfsSensor is HopsworksDatasetSensor
    assert legacy.HopsworksDatasetSensor is HopsworksDatasetSensor


def test_dataset_trigger_serialization_round_trips():
    given = {"project_id": 119, "path": "Resources/a b.csv", "hopsworks_conn_id": "hw_other",
             "poll_interval": 2.5, "deadline": 1234.5, "hw_api_key": "k.s"}
    classpath, kwargs = HopsworksDatasetTrigger(**given).serialize()
    assert classpath == "hopsworks_ui_plugin.triggers.hopsworks.HopsworksDatasetTrigger"
    module, _, name = classpath.rpartition(".")
    rebuilt = getattr(importlib.import_module(module), name)(**kwargs)
    assert {key: getattr(rebuilt, key) for key in given} == given


def test_dataset_trigger_fires_once_the_path_appears(dataset_hw):
    with AppearsAfterFirstMiss(dataset_hw, ODD_PATH):
        trigger = HopsworksDatasetTrigger(project_id=119, path=ODD_PATH, hopsworks_conn_id="hopsworks_ui",
                                          poll_interval=0.05, deadline=time.time() + 20)
        event, count = asyncio.run(first_event(trigger))
    assert (event["status"], event["path"], count) == ("success", ODD_PATH, 1)
    assert len(stat_requests(dataset_hw)) >= 2


def test_dataset_trigger_times_out_and_reports_errors(dataset_hw):
    trigger = HopsworksDatasetTrigger(project_id=119, path=ODD_PATH, hopsworks_conn_id="hopsworks_ui",
                                      poll_interval=0.05, deadline=time.time() + 0.3)
    event, count = asyncio.run(first_event(trigger))
    assert (event["status"], count) == ("timeout", 1)
    agent = HopsworksDatasetTrigger(project_id=119, path="Resources/data.csv", poll_interval=0.05)
    event, count = asyncio.run(first_event(agent))
    assert (event["status"], count) == ("error", 1) and "AGENT" in event["message"]


# ---- stop until final, outages (poll and deferrable) ----

def test_trigger_on_kill_before_the_execution_has_an_appid_still_stops_it(hw):
    """Hopsworks ignores a stop before the execution has an appId; on_kill keeps asking until it is final."""
    execution_id = int(HopsworksHook(project_id=119, hw_api_key=seed_key("alice"))
                       .start_execution("etl", "--duration 100")["id"])  # INITIALIZING for 1 s here
    trigger = HopsworksExecutionTrigger(project_id=119, job_name="etl", execution_id=execution_id,
                                        hw_api_key=seed_key("alice"), poll_interval=0.05)
    asyncio.run(trigger.on_kill())
    assert hw.state.get_execution(execution_id)["state"] == "KILLED"  # final when on_kill returns


def test_trigger_waits_through_a_10_s_outage_and_succeeds_when_the_job_does(hw):
    execution_id = start("etl", "--duration 20")
    hw.inject_fault(status=503, count=None, path_contains="/executions/")
    timer = threading.Timer(10.0, hw.clear_faults)
    timer.start()
    started = time.monotonic()
    try:
        trigger = HopsworksExecutionTrigger(project_id=119, job_name="etl", execution_id=execution_id,
                                            poll_interval=0.2, deadline=time.time() + 60)
        event, count = asyncio.run(first_event(trigger))
    finally:
        timer.cancel()
        hw.clear_faults()
    assert (event["status"], event["state"], count) == ("success", "FINISHED", 1)
    assert time.monotonic() - started >= 9.5 and any(r.status == 503 for r in hw.requests)


def test_trigger_outage_past_the_deadline_is_a_timeout_that_says_so(hw):
    execution_id = start("etl", "--duration 20")
    hw.inject_fault(status=503, count=None, path_contains="/executions/")
    trigger = HopsworksExecutionTrigger(project_id=119, job_name="etl", execution_id=execution_id,
                                        poll_interval=0.05, deadline=time.time() + 0.5)
    event, _ = asyncio.run(first_event(trigger))
    assert event["status"] == "timeout" and "Hopsworks has not answered for the last" in event["message"]


def test_poke_during_an_outage_is_not_yet_with_one_warning(hw, capfd):
    execution_id = start("etl", "--duration 1")
    time.sleep(0.3)
    sensor = HopsworksJobSuccessSensor(task_id="s", job_name="etl", project_id=119, execution_id=execution_id,
                                       owner="alice")
    hw.inject_fault(status=503, count=None, path_contains="/executions/")
    capfd.readouterr()
    assert sensor.poke(sensor_context()) is False
    assert sensor.poke(sensor_context()) is False
    hw.clear_faults()
    assert sensor.poke(sensor_context()) is True
    out = capfd.readouterr().out
    assert out.count("Hopsworks did not answer while waiting for job 'etl'") == 1 and "answers again" in out
    hw.inject_fault(status=400, count=1, path_contains="/executions/")
    with pytest.raises(HopsworksError):  # a failure that asking again will not cure fails the task
        sensor.poke(sensor_context())
