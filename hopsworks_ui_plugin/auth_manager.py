"""An opt-in auth manager: Airflow's FAB auth manager plus Hopsworks DAG ownership.

Enable with::

    [core]
    auth_manager = hopsworks_ui_plugin.auth_manager.HopsworksAuthManager
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.fab.auth_manager.fab_auth_manager import FabAuthManager
from airflow.utils.session import NEW_SESSION, provide_session

from hopsworks_ui_plugin import access, metadb, settings
from hopsworks_ui_plugin.access import is_admin, username_of
from hopsworks_ui_plugin.dag_files.paths import project_folder_name
from hopsworks_ui_plugin.version_compat import (
    AIRFLOW_V_3,
    AIRFLOW_V_3_2_PLUS,
    dag_resource_details,
    fab_resource_dag,
)

if TYPE_CHECKING:
    from airflow.api_fastapi.auth.managers.models.batch_apis import IsAuthorizedDagRequest
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)


class _Outage:
    """Remembers that Hopsworks could not be asked, for ``[hopsworks] membership_retry_s`` seconds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until = 0.0

    def active(self) -> bool:
        with self._lock:
            return time.monotonic() < self._until

    def start(self) -> None:
        with self._lock:
            self._until = time.monotonic() + settings.membership_retry_s()

    def clear(self) -> None:
        with self._lock:
            self._until = 0.0


OUTAGE = _Outage()


def member_project_folders(username: str) -> list[str]:
    """Folder names (under the DAGs folder) of the Hopsworks projects ``username`` is a member of
    (Data owner or Data scientist), from the cached :data:`access.MEMBERSHIPS`.

    A user with their own key (My Hopsworks key) gets the projects Hopsworks lists for that key;
    others (or when their key fails) the service connection's view of the teams.
    Fails closed: when Hopsworks (or the connection) is unavailable, returns ``[]`` and logs a
    warning, so non-admins keep only the DAGs they own.
    """
    if not username or OUTAGE.active():
        return []
    from hopsworks_ui_plugin.hooks.hopsworks import hook_for, service_hook

    projects = None
    try:
        own = hook_for(username)
        if own is not None:
            projects = access.visible_projects(own, username, admin=False)
    except Exception as err:  # a revoked key, the key table unreadable, Hopsworks down: try the shared view
        log.warning("The own Hopsworks key of %s could not be used for memberships (%s); using the shared "
                    "connection.", username, err)
    try:
        if projects is None:
            projects = access.visible_projects(service_hook(), username, admin=False)
    except Exception as err:  # HopsworksError, a missing connection, anything: fail closed
        OUTAGE.start()
        log.warning(
            "Hopsworks project memberships are unavailable (%s); until it answers again, non-admin "
            "users only get the DAGs they own.",
            err,
        )
        return []
    folders = []
    for project, _role in projects:
        try:
            folders.append(project_folder_name(project.id, project.name))
        except ValueError:
            continue
    return folders


class HopsworksAuthManager(FabAuthManager):
    """The FAB auth manager, with each non-admin's DAGs limited by owner and Hopsworks project.

    Rule, for every DAG-level decision (the DAG, its runs, task instances, logs, XComs, ...):

    * An **Airflow admin** (a FAB role in ``[hopsworks] admin_roles``, default ``Admin``; see
      :func:`hopsworks_ui_plugin.access.is_admin`) gets exactly what FabAuthManager gives.
    * Any **other user** may read or act on a DAG only when FabAuthManager allows it **and**

      - they own it: their username is one of the DAG's owners
        (the one owner rule, :func:`hopsworks_ui_plugin.access.owns_dag`, in SQL as
        :func:`hopsworks_ui_plugin.metadb.owner_clause`: exact token, ignoring case and surrounding
        spaces, so ``"alice, bob"`` is alice's and bob's, ``"alice2"`` is not alice's), **or**
      - its file lives in the folder (``<dags_folder>/<project folder>/``, see
        :mod:`hopsworks_ui_plugin.dag_files.paths`) of a Hopsworks project they are a member of
        (Data owner or Data scientist, from the cached :data:`hopsworks_ui_plugin.access.MEMBERSHIPS`).

    * If Hopsworks cannot be asked, the project part fails closed (owners only) and a warning is
      logged; Hopsworks is not asked again for ``[hopsworks] membership_retry_s`` seconds (30).
    * List-level checks (no DAG id, e.g. ``GET /api/v2/dags``) keep FAB's answer; the list itself is
      narrowed through :meth:`get_authorized_dag_ids`, which the API's "readable/editable DAGs"
      filters use for DAGs, DAG runs, task instances, XComs, event logs, import errors, sources.
    * A DAG id that does not exist is refused (403) rather than found missing, for non-admins.

    The owners/files of DAG ids are read with one SQL query per call (:mod:`hopsworks_ui_plugin.metadb`),
    never per DAG. Everything that is not about DAGs behaves as FabAuthManager.
    """

    # --- the rule -------------------------------------------------------------------------

    @staticmethod
    def _restricted(user: Any) -> bool:
        return not is_admin(user)

    @staticmethod
    def _allowed_ids(user: Any, dag_ids: Iterable[str] | None, session: Session | None = None) -> set[str]:
        username = username_of(user)
        return metadb.visible_dag_ids(username, member_project_folders(username), dag_ids, session=session)

    # --- single checks --------------------------------------------------------------------

    def is_authorized_dag(
        self,
        *,
        method: Any,
        user: Any = None,  # Airflow 3 always passes it; Airflow 2 calls without it (the FAB user is g.user)
        access_entity: DagAccessEntity | None = None,
        details: DagDetails | None = None,
    ) -> bool:
        user = self._user_or_current(user)
        if not super().is_authorized_dag(
            method=method, user=user, access_entity=access_entity, details=details
        ):
            return False
        if not details or not details.id or not self._restricted(user):
            return True
        return details.id in self._allowed_ids(user, [details.id])

    def batch_is_authorized_dag(self, requests: Sequence[IsAuthorizedDagRequest], *, user: Any = None) -> bool:
        user = self._user_or_current(user)
        for request in requests:
            if not FabAuthManager.is_authorized_dag(
                self,
                method=request["method"],
                access_entity=request.get("access_entity"),
                details=request.get("details"),
                user=user,
            ):
                return False
        if not self._restricted(user):
            return True
        ids = {d.id for r in requests if (d := r.get("details")) is not None and d.id}
        return ids <= self._allowed_ids(user, ids) if ids else True

    # --- list filters ---------------------------------------------------------------------

    @provide_session
    def get_authorized_dag_ids(
        self, *, user: Any, method: Any = "GET", session: Session = NEW_SESSION
    ) -> set[str]:
        if not self._restricted(user):
            return super().get_authorized_dag_ids(user=user, method=method, session=session)
        allowed = self._allowed_ids(user, None, session=session)
        if self._is_authorized(method=method, resource_type=fab_resource_dag(), user=user):
            return allowed  # FAB allows every DAG: skip loading all ids just to intersect
        return allowed & super().get_authorized_dag_ids(user=user, method=method, session=session)

    def filter_authorized_dag_ids(
        self, *, dag_ids: set[str], user: Any, method: Any = "GET", team_name: str | None = None
    ) -> set[str]:
        _, DagDetails = dag_resource_details()
        team = {"team_name": team_name} if AIRFLOW_V_3_2_PLUS else {}  # DagDetails.team_name: 3.2+
        fab_ok = {
            dag_id
            for dag_id in dag_ids
            if FabAuthManager.is_authorized_dag(self, method=method, details=DagDetails(id=dag_id, **team), user=user)
        }
        if not self._restricted(user) or not fab_ok:
            return fab_ok
        return fab_ok & self._allowed_ids(user, fab_ok)

    # --- Airflow 2 (FAB provider 1.5): the user defaults to the logged-in one; lists come from
    # get_permitted_dag_ids/filter_permitted_dag_ids (Airflow 3 calls the two methods above instead).

    def _user_or_current(self, user: Any) -> Any:
        if user is None and not AIRFLOW_V_3:  # pragma: no cover - Airflow 2
            return self.get_user()
        return user

    @provide_session
    def get_permitted_dag_ids(  # pragma: no cover - Airflow 2
        self, *, methods: Any = None, user: Any = None, session: Session = NEW_SESSION
    ) -> set[str]:
        user = self._user_or_current(user)
        fab_ids: set[str] = super().get_permitted_dag_ids(  # type: ignore[misc]
            methods=methods, user=user, session=session
        )
        if not self._restricted(user) or not fab_ids:
            return fab_ids
        return fab_ids & self._allowed_ids(user, None, session=session)

    def filter_permitted_dag_ids(  # pragma: no cover - Airflow 2
        self, *, dag_ids: set[str], methods: Any = None, user: Any = None
    ) -> set[str]:
        user = self._user_or_current(user)
        _, DagDetails = dag_resource_details()
        wanted: list[Any] = [m for m in ("GET", "PUT") if m in (methods or ("GET", "PUT"))]
        fab_ids = {
            dag_id
            for dag_id in dag_ids
            if any(
                FabAuthManager.is_authorized_dag(self, method=m, details=DagDetails(id=dag_id), user=user)
                for m in wanted
            )
        }
        if not self._restricted(user) or not fab_ids:
            return fab_ids
        return fab_ids & self._allowed_ids(user, fab_ids)


#: Same class under a name containing "FabAuthManager": Airflow 3.3 decides by that substring
#: of ``[core] auth_manager`` whether to sync per-DAG ``access_control`` into FAB permissions
#: (``dag_processing/collection.py``) and to clean FAB's session table (``airflow db clean``).
#: Configure ``hopsworks_ui_plugin.auth_manager.HopsworksFabAuthManager`` if you rely on those.
HopsworksFabAuthManager = HopsworksAuthManager
