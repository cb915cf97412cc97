"""The one time formatter, durations, the one size formatter, long logs, DAG snippets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hopsworks_ui_plugin import formatting


def test_times_from_hopsworks_and_airflow_read_the_same():
    assert formatting.fmt_ts("2024-03-01T10:15:30.123Z") == "2024-03-01 10:15:30 UTC"
    assert formatting.fmt_ts(1709288130123) == "2024-03-01 10:15:30 UTC"  # epoch ms (newer Hopsworks)
    assert formatting.fmt_ts("2024-03-01T11:15:30+0100") == "2024-03-01 10:15:30 UTC"
    assert formatting.fmt_ts(datetime(2024, 3, 1, 10, 15, 30)) == "2024-03-01 10:15:30 UTC"  # naive = UTC
    plus_two = datetime(2024, 3, 1, 12, 15, 30, tzinfo=timezone(timedelta(hours=2)))
    assert formatting.fmt_ts(plus_two) == "2024-03-01 10:15:30 UTC"
    assert formatting.fmt_ts(datetime.fromtimestamp(1709288130, UTC)) == "2024-03-01 10:15:30 UTC"  # a file time
    assert formatting.fmt_ts(None) == formatting.fmt_ts("garbage") == formatting.fmt_ts(True) == "—"
    assert formatting.fmt_ts(None, empty="") == ""


def test_durations():
    assert [formatting.fmt_duration(ms) for ms in (0, 850, 4200, 185_000, 7_620_000, 97_200_000, None)] == [
        "—", "850 ms", "4.2 s", "3 min 05 s", "2 h 07 min", "1 d 3 h", "—"
    ]


def test_sizes():
    assert [formatting.fmt_size(n) for n in (0, 512, 1024, 2048, 262_144, 3_460_000, 5 * 1024**4)] == [
        "0 B", "512 B", "1 KiB", "2 KiB", "256 KiB", "3.3 MiB", "5120 GiB"
    ]


def test_long_logs_are_cut_on_whole_lines():
    log = "".join(f"line {i}\n" for i in range(1000))
    tail = formatting.cap_log(log, 100)
    assert tail.cut and tail.text.startswith("line ") and tail.text.endswith("line 999\n")
    assert tail.shown_bytes <= 100 and tail.note == f"Showing the last {tail.shown_bytes} B of 8.7 KiB."
    head = formatting.cap_log(log, 100, from_end=False)
    assert head.text.startswith("line 0\n") and head.text.endswith("\n") and head.note.startswith("Showing the first")
    assert not formatting.cap_log("short", 100).cut and formatting.cap_log("short", 100).note == ""
    assert formatting.cap_log("é" * 100, 51).text == "é" * 25  # never cuts a UTF-8 character in half


def test_launch_snippet_quotes_names_as_python_literals():
    assert formatting.launch_snippet("demo_fs", 'a"b') == (
        "from hopsworks_ui_plugin.operators.hopsworks import HopsworksLaunchOperator\n\n"
        'HopsworksLaunchOperator(task_id="launch_a_b", project_name="demo_fs", job_name="a\\"b")'
    )
    assert formatting.python_identifier("<script>x</script>") == "launch_script_x_script"
    assert formatting.python_identifier("///") == "launch_job"


def test_launch_snippet_runs_as_pasted():
    """The snippet carries its import line: pasted into a DAG file on its own, it defines the task."""
    from airflow.sdk import DAG

    with DAG("snippet_check", schedule=None) as dag:
        exec(formatting.launch_snippet("demo_fs", "etl"), {})  # noqa: S102 - our own text
    assert dag.task_ids == ["launch_etl"]
