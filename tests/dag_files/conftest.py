"""Fixtures of the DAG-file unit tests: a private DAGs folder per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from hopsworks_ui_plugin import dag_files as df


@pytest.fixture()
def dags_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "dags"
    root.mkdir()
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(root))
    return root


@pytest.fixture()
def proj(dags_folder: Path) -> Path:
    """The (created) folder of project 119 ``demo_fs``."""
    return df.ensure_project_dir(df.project_dir(119, "demo_fs"))
