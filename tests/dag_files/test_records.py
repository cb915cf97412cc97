"""hopsworks_ui_plugin.dag_files.records: the DAGs and import errors Airflow recorded per file, and
removing them when the file is deleted."""

from __future__ import annotations

import pytest

from hopsworks_ui_plugin import dag_files as df
from hopsworks_ui_plugin.dag_files import records
from tests.support import dag_rows, insert_dag, insert_import_error


@pytest.fixture()
def metadata_db(airflow_db, dags_folder):
    from airflow.dag_processing.bundles.manager import DagBundlesManager

    DagBundlesManager().sync_bundles_to_db()
    records._dags_folder_bundles.cache_clear()
    yield airflow_db
    records._dags_folder_bundles.cache_clear()


def test_dag_records_and_import_errors_are_found_per_file_and_removed(metadata_db):
    proj = df.ensure_project_dir(df.project_dir(555, "unit_proj"))
    other = df.ensure_project_dir(df.project_dir(556, "unit_other"))
    (proj / "two.py").write_bytes(b"x = 1\n")
    insert_dag("unit_a", proj / "two.py", "unit_proj/two.py", "alice")
    insert_dag("unit_b", proj / "two.py", "unit_proj/two.py", "alice, bob", paused=True)
    insert_dag("unit_c", other / "two.py", "unit_other/two.py")
    insert_dag("unit_nested", proj / "sub" / "n.py", "unit_proj/sub/n.py")  # not directly in the folder
    insert_import_error("unit_proj/broken.py")
    try:
        by_file = df.dags_by_file(proj)
        assert {k: [(r.dag_id, r.owners, r.is_paused) for r in v] for k, v in by_file.items()} == {
            "two.py": [("unit_a", "alice", False), ("unit_b", "alice, bob", True)]
        }
        assert [r.dag_id for r in df.dag_records(proj, "two.py")] == ["unit_a", "unit_b"]
        assert list(df.import_errors_by_file(proj)) == ["broken.py"]
        assert [e.stacktrace for e in df.import_errors(proj, "broken.py")] == ["Boom: line 3"]
        assert df.import_errors_by_file(other) == {}
        report = df.remove_dag_records(proj, "two.py", ["unit_a", "unit_b"])
        assert report.paused == ["unit_a", "unit_b"] and report.removed == ["unit_a", "unit_b"]
        assert report.problems == []
        assert dag_rows("unit_a", "unit_b", "unit_c") == {"unit_c": False}
        assert df.remove_dag_records(proj, "broken.py", []).import_errors_removed == 1
        assert df.import_errors_by_file(proj) == {}
    finally:
        df.remove_dag_records(other, "two.py", ["unit_c"])
        df.remove_dag_records(proj, "sub.py", ["unit_nested"])


def test_the_dags_folder_bundle_is_found(metadata_db):
    assert df.dags_folder_bundles() == {"dags-folder"}
