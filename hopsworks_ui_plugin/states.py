"""Hopsworks execution states and the success rule shared by operators, sensors, triggers and UI."""

from __future__ import annotations

from enum import StrEnum

FAILURE_STATES = frozenset(
    {
        "FAILED",
        "KILLED",
        "FRAMEWORK_FAILURE",
        "APP_MASTER_START_FAILED",
        "INITIALIZATION_FAILED",
        "SUBMISSION_FAILED",
    }
)
SUCCESS_STATES = frozenset({"FINISHED"})
FINAL_STATES = FAILURE_STATES | SUCCESS_STATES
FAILED_FINAL_STATUSES = frozenset({"FAILED", "KILLED"})


class Outcome(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


def outcome(state: str | None, final_status: str | None = None) -> Outcome:
    """FINISHED with a final status other than FAILED/KILLED succeeds; the failure states fail.

    Unknown states (newer Hopsworks versions add some) count as still running.
    """
    state = (state or "").upper()
    if state in FAILURE_STATES:
        return Outcome.FAILED
    if state in SUCCESS_STATES:
        if (final_status or "").upper() in FAILED_FINAL_STATUSES:
            return Outcome.FAILED
        return Outcome.SUCCEEDED
    return Outcome.RUNNING


def is_final(state: str | None) -> bool:
    return (state or "").upper() in FINAL_STATES


def badge_class(state: str | None, final_status: str | None = None) -> str:
    """CSS modifier used by the UI's coloured state badges."""
    result = outcome(state, final_status)
    if result is Outcome.SUCCEEDED:
        return "success"
    if result is Outcome.FAILED:
        return "failed"
    return "running" if state else "none"


def dag_run_badge_class(state: str | None) -> str:
    """The badge modifier of an Airflow DAG run state (My DAGs' last run)."""
    return {"success": "success", "failed": "failed", "running": "running", "queued": "running"}.get(
        str(state or ""), "none"
    )
