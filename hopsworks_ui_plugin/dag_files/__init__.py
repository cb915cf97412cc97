"""Project-scoped DAG files: where a project's DAG files live inside Airflow's DAGs folder, and every
operation on one file. Nothing here runs an uploaded file.

* :mod:`.paths` – the DAGs root, the project folder scheme (name / sha256), file-name checks;
* :mod:`.validation` – upload name, size cap, UTF-8 and syntax checks;
* :mod:`.owner_scan` – the static owner scan and the upload owner rule (:func:`owner_verdict`);
* :mod:`.storage` – atomic writes, staged replacements, listing, reading, deleting (no symlinks);
* :mod:`.records` – the DAGs and import errors Airflow recorded per file; removing them.

The flows built from these (upload all-or-nothing, confirm a replacement, delete with records,
the project listing) are in :mod:`hopsworks_ui_plugin.core.dag_files`. Refusals are
:class:`~hopsworks_ui_plugin.errors.PluginError` subclasses with the status a page answers.
"""

from hopsworks_ui_plugin.dag_files.owner_scan import OwnerScan, default_owner, owner_verdict, scan_owners
from hopsworks_ui_plugin.dag_files.paths import (
    FOLDER_SCHEMES,
    MAX_NAME_LENGTH,
    ProjectLike,
    check_name,
    dags_root,
    folder_scheme,
    name_problem,
    project_dir,
    project_folder_name,
    project_of_file,
)
from hopsworks_ui_plugin.dag_files.records import (
    DagRecord,
    ImportErrorRecord,
    RemovalReport,
    dag_records,
    dags_by_file,
    dags_folder_bundles,
    import_errors,
    import_errors_by_file,
    remove_dag_records,
)
from hopsworks_ui_plugin.dag_files.storage import (
    DIR_MODE,
    FILE_MODE,
    STAGED_PREFIX,
    TMP_PREFIX,
    TMP_SUFFIX,
    DagFile,
    clean_stale,
    commit_staged,
    delete_file,
    discard_staged,
    ensure_project_dir,
    exists,
    file_info,
    list_files,
    read_file,
    read_staged,
    stage,
    write_atomic,
)
from hopsworks_ui_plugin.dag_files.validation import (
    CheckedSource,
    check_source,
    max_file_bytes,
    max_files_per_upload,
    max_upload_request_bytes,
    read_capped,
    upload_name_problem,
)

__all__ = [
    "DIR_MODE", "FILE_MODE", "FOLDER_SCHEMES", "MAX_NAME_LENGTH", "STAGED_PREFIX", "TMP_PREFIX", "TMP_SUFFIX",
    "CheckedSource", "DagFile", "DagRecord", "ImportErrorRecord", "OwnerScan", "ProjectLike", "RemovalReport",
    "check_name", "check_source", "clean_stale", "commit_staged", "dag_records", "dags_by_file",
    "dags_folder_bundles", "dags_root", "default_owner", "delete_file", "discard_staged", "ensure_project_dir",
    "exists", "file_info", "folder_scheme", "import_errors", "import_errors_by_file", "list_files",
    "max_file_bytes", "max_files_per_upload", "max_upload_request_bytes", "name_problem", "owner_verdict",
    "project_dir", "project_folder_name", "project_of_file", "read_capped", "read_file", "read_staged",
    "remove_dag_records", "scan_owners", "stage", "upload_name_problem", "write_atomic",
]
