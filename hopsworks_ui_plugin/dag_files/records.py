"""Airflow's metadata DB side of a project folder: which DAGs and import errors belong to which file,
and removing a deleted file's records (pause its DAGs, then Airflow's own ``delete_dag``)."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _relative(directory: Path, name: str | None = None) -> str:
    rel = directory.name
    return f"{rel}/{name}" if name else rel


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
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import or_, select

    bundles = dags_folder_bundles()
    prefix = _relative(directory) + "/"
    candidates = {str(directory), str(directory.resolve()),
                  os.path.join(str(conf_get("core", "dags_folder")), directory.name)}
    conditions = [DagModel.relative_fileloc.like(_like_prefix(prefix), escape="\\")]
    conditions += [DagModel.fileloc.like(_like_prefix(c + "/"), escape="\\") for c in candidates]
    result: dict[str, list[DagRecord]] = {}
    with create_session() as session:
        rows = session.execute(
            select(DagModel.dag_id, DagModel.owners, DagModel.is_paused, DagModel.is_stale, DagModel.fileloc,
                   DagModel.relative_fileloc, DagModel.bundle_name).where(or_(*conditions))
        ).all()
    for dag_id, owners, paused, stale, fileloc, relative, bundle in rows:
        name = _file_of(fileloc, relative, bundle, directory, bundles)
        if name:
            result.setdefault(name, []).append(
                DagRecord(str(dag_id), str(owners or ""), bool(paused), bool(stale), str(fileloc or ""))
            )
    for records in result.values():
        records.sort(key=lambda r: r.dag_id)
    return result


def import_errors_by_file(directory: Path) -> dict[str, list[ImportErrorRecord]]:
    """The import errors Airflow recorded for each file of a project folder, by file name."""
    from airflow.models.errors import ParseImportError
    from airflow.utils.session import create_session
    from sqlalchemy import select

    bundles = dags_folder_bundles()
    prefix = _relative(directory) + "/"
    result: dict[str, list[ImportErrorRecord]] = {}
    with create_session() as session:
        rows = session.execute(
            select(ParseImportError.filename, ParseImportError.bundle_name, ParseImportError.timestamp,
                   ParseImportError.stacktrace)
            .where(ParseImportError.bundle_name.in_(bundles))
            .where(ParseImportError.filename.like(_like_prefix(prefix), escape="\\"))
        ).all()
    for filename, _bundle, timestamp, stacktrace in rows:
        if filename and filename.startswith(prefix) and "/" not in filename[len(prefix):]:
            name = filename[len(prefix):]
            result.setdefault(name, []).append(ImportErrorRecord(filename, timestamp, str(stacktrace or "")))
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


def remove_dag_records(directory: Path, name: str, dag_ids: Iterable[str]) -> RemovalReport:
    """Pause the DAGs of a deleted file, then delete their records (Airflow's own ``delete_dag``:
    runs, task instances, serialized DAG …; the audit log is kept) and the file's import errors."""
    from airflow.models.dag import DagModel
    from airflow.models.errors import ParseImportError
    from airflow.utils.session import create_session
    from sqlalchemy import delete, select, update

    report = RemovalReport()
    error_rows = (
        ParseImportError.filename == _relative(directory, name),
        ParseImportError.bundle_name.in_(dags_folder_bundles()),
    )
    with create_session() as session:
        errors_before = len(session.execute(select(ParseImportError.id).where(*error_rows)).all())
    ids = sorted(set(dag_ids))
    if ids:
        with create_session() as session:
            session.execute(update(DagModel).where(DagModel.dag_id.in_(ids)).values(is_paused=True))
        report.paused = list(ids)
    for dag_id in ids:
        try:
            from airflow.api.common.delete_dag import delete_dag

            with create_session() as session:
                delete_dag(dag_id, keep_records_in_log=True, session=session)
            report.removed.append(dag_id)
        except Exception as err:  # running task instances, DagNotFound after a concurrent delete, ...
            if err.__class__.__name__ == "DagNotFound":
                report.removed.append(dag_id)
                continue
            log.warning("Could not delete the records of DAG %s: %s", dag_id, err)
            report.problems.append(f"{dag_id}: {err} (the DAG stays paused)")
    with create_session() as session:  # delete_dag removes them too, but only for files that had DAGs
        session.execute(delete(ParseImportError).where(*error_rows))
    with create_session() as session:
        errors_after = len(session.execute(select(ParseImportError.id).where(*error_rows)).all())
    report.import_errors_removed = errors_before - errors_after
    return report
