"""Airflow's metadata DB side of a project folder: which DAGs and import errors belong to which file,
and removing a deleted file's records (pause its DAGs, then Airflow's own ``delete_dag``).

The queries, and what differs between Airflow versions in those tables (bundles,
``relative_fileloc``, ``is_stale``), are in :mod:`hopsworks_ui_plugin.metadb`; this module decides
which rows belong to which file of a project folder."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hopsworks_ui_plugin import metadb
from hopsworks_ui_plugin.dag_files.paths import check_name, dags_root
from hopsworks_ui_plugin.version_compat import conf_get

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DagRecord:
    dag_id: str
    owners: str
    is_paused: bool
    is_stale: bool
    fileloc: str


@dataclass(frozen=True)
class ImportErrorRecord:
    filename: str
    timestamp: Any
    stacktrace: str


def dags_folder_bundles() -> set[str]:
    """Names of the DAG bundles whose path is Airflow's DAGs folder (default: ``dags-folder``)."""
    config = str(conf_get("dag_processor", "dag_bundle_config_list", "") or "")
    return set(_dags_folder_bundles(str(dags_root()), config))


@functools.lru_cache(maxsize=8)
def _dags_folder_bundles(root: str, _config: str) -> frozenset[str]:
    names: set[str] = set()
    try:
        from airflow.dag_processing.bundles.manager import DagBundlesManager

        for bundle in DagBundlesManager().get_all_dag_bundles():
            path = getattr(bundle, "path", None)
            with suppress(Exception):
                if path is not None and str(Path(path).resolve()) == root:
                    names.add(str(bundle.name))
    except Exception as err:  # pragma: no cover - unusual bundle configurations
        log.info("Could not read the DAG bundle configuration: %s", err)
    return frozenset(names or {"dags-folder"})


def _relative(directory: Path, name: str | None = None) -> str:
    rel = directory.name
    return f"{rel}/{name}" if name else rel


def _absolute_folders(directory: Path) -> list[str]:
    """The folder as ``fileloc`` may spell it (as given, resolved, under the configured DAGs folder)."""
    candidates = [str(directory), str(directory.resolve()),
                  os.path.join(str(conf_get("core", "dags_folder")), directory.name)]
    return list(dict.fromkeys(candidates))


def _file_of(fileloc: str | None, relative: str | None, bundle: str | None, directory: Path,
             bundles: set[str]) -> str | None:
    """The name of the file in ``directory`` a DB row points at, or None."""
    prefix = _relative(directory) + "/"
    if relative and bundle in bundles and relative.startswith(prefix):
        rest = relative[len(prefix):]
        if rest and "/" not in rest:
            return rest
    if fileloc:
        with suppress(OSError, ValueError):
            path = Path(fileloc)
            parent = path.parent.resolve() if path.parent.exists() else path.parent
            if parent == directory.resolve() or parent == directory:
                return path.name
    return None


def dags_by_file(directory: Path) -> dict[str, list[DagRecord]]:
    """The DAGs Airflow recorded for each file of a project folder, by file name."""
    bundles = dags_folder_bundles()
    rows = metadb.dags_under(_relative(directory) + "/", [f + "/" for f in _absolute_folders(directory)])
    result: dict[str, list[DagRecord]] = {}
    for row in rows:
        name = _file_of(row.fileloc, row.relative_fileloc, row.bundle_name, directory, bundles)
        if name:
            result.setdefault(name, []).append(
                DagRecord(row.dag_id, row.owners, row.is_paused, row.is_stale, row.fileloc)
            )
    for records in result.values():
        records.sort(key=lambda r: r.dag_id)
    return result


def import_errors_by_file(directory: Path) -> dict[str, list[ImportErrorRecord]]:
    """The import errors Airflow recorded for each file of a project folder, by file name."""
    prefix = _relative(directory) + "/"
    rows = metadb.import_errors_under(prefix, dags_folder_bundles(), [f + "/" for f in _absolute_folders(directory)])
    result: dict[str, list[ImportErrorRecord]] = {}
    for row in rows:
        if row.filename.startswith(prefix) and "/" not in row.filename[len(prefix):]:
            name = row.filename[len(prefix):]
            result.setdefault(name, []).append(ImportErrorRecord(row.filename, row.timestamp, row.stacktrace))
    return result


def dag_records(directory: Path, name: str) -> list[DagRecord]:
    return dags_by_file(directory).get(check_name(name), [])


def import_errors(directory: Path, name: str) -> list[ImportErrorRecord]:
    return import_errors_by_file(directory).get(check_name(name), [])


@dataclass
class RemovalReport:
    paused: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    import_errors_removed: int = 0
    kept: list[str] = field(default_factory=list)  # DAG ids another existing file defines: left alone


def defined_elsewhere(dag_ids: Iterable[str], own_files: Iterable[str], existing_only: bool = True
                      ) -> dict[str, list[str]]:
    """For each DAG id, the other files Airflow recorded it at (not ``own_files``): those that still
    exist, or (``existing_only=False``, the upload's collision check) every recorded one."""
    own = set()
    for f in own_files:
        own.add(f)
        with suppress(OSError):
            own.add(str(Path(f).resolve()))
    result: dict[str, list[str]] = {}
    for dag_id, files in metadb.dag_id_filelocs(dag_ids).items():
        others = []
        for f in sorted(files):
            with suppress(OSError):
                if f not in own and str(Path(f).resolve()) not in own and (not existing_only or Path(f).is_file()):
                    others.append(f)
        if others:
            result[dag_id] = others
    return result


def file_locations(directory: Path, name: str) -> list[str]:
    """The absolute paths Airflow may have recorded for file ``name`` of a project folder."""
    return [os.path.join(f, name) for f in _absolute_folders(directory)]


def remove_dag_records(directory: Path, name: str, dag_ids: Iterable[str]) -> RemovalReport:
    """Pause the DAGs of a deleted file, then delete their records (Airflow's own ``delete_dag``:
    runs, task instances, serialized DAG …; the audit log is kept) and the file's import errors."""
    report = RemovalReport()
    relative = _relative(directory, name)
    bundles = dags_folder_bundles()
    absolute = [os.path.join(f, name) for f in _absolute_folders(directory)]
    errors_before = metadb.count_import_errors(relative, bundles, absolute)
    ids = sorted(set(dag_ids))
    # Only DAGs whose file is the deleted file: a DAG id another existing file defines too (a collision;
    # its row may point at this file right now) keeps its records and its paused state.
    elsewhere = defined_elsewhere(ids, absolute)
    for dag_id in ids:
        if dag_id in elsewhere:
            report.kept.append(dag_id)
            log.warning("Not removing the records of DAG %s: also defined by %s", dag_id, ", ".join(elsewhere[dag_id]))
    ids = [d for d in ids if d not in elsewhere]
    if ids:
        metadb.pause_dags(ids)
        report.paused = list(ids)
    for dag_id in ids:
        try:
            metadb.delete_dag_records(dag_id)
            report.removed.append(dag_id)
        except Exception as err:  # running task instances, ...
            log.warning("Could not delete the records of DAG %s: %s", dag_id, err)
            report.problems.append(f"{dag_id}: {err} (the DAG stays paused)")
    # delete_dag removes them too, but only for files that had DAGs
    metadb.delete_import_errors(relative, bundles, absolute)
    report.import_errors_removed = errors_before - metadb.count_import_errors(relative, bundles, absolute)
    return report
