"""An opt-in auth manager: Airflow's FAB auth manager plus Hopsworks DAG ownership.

Enable with::

    [core]
    auth_manager = hopsworks_ui_plugin.auth_manager.HopsworksAuthManager
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.fab.auth_manager.fab_auth_manager import FabAuthManager
from airflow.utils.session import NEW_SESSION, provide_session

from hopsworks_ui_plugin import access, metadb
from hopsworks_ui_plugin.access import is_admin, username_of
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


# Moved to access (the one policy module); kept importable here.
OUTAGE = access.OUTAGE
member_project_folders = access.member_project_folders


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
    * A **contested** DAG id (recorded at files in two different folders, e.g. a second file that
      defines another project's DAG id, :func:`hopsworks_ui_plugin.metadb.contested_dag_ids`) is
      admin-only until resolved: non-admins of both projects get 403 on it, its runs and its source.

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
        allowed = metadb.visible_dag_ids(username, member_project_folders(username), dag_ids, session=session)
        # A contested DAG id (files in two folders define it: its row flips between them) is admin-only
        # until resolved, whoever owns it and whichever folder its row points at right now.
        return allowed - metadb.contested_dag_ids(allowed, session=session) if allowed else allowed

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
        if details.id.startswith(access.AUDIT_SCOPE_PREFIX):  # the plugin's audit entries of a project
            return details.id in self._audit_scopes(user)
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
            return super().get_authorized_dag_ids(user=user, method=method, session=session) | (
                metadb.audit_scopes(access.AUDIT_SCOPE_PREFIX, session=session) if method == "GET" else set())
        allowed = self._allowed_ids(user, None, session=session)
        if self._is_authorized(method=method, resource_type=fab_resource_dag(), user=user):
            if method == "GET":  # the event-log filter: the plugin's audit entries of the user's projects
                allowed |= self._audit_scopes(user)
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

    # --- the audit log and assets -----------------------------------------------------------
    #
    # Audit log: the plugin files its entries about a project's jobs and files under the pseudo DAG id
    # ``hopsworks:<project folder>`` (:func:`hopsworks_ui_plugin.access.audit_scope`); admins read all of
    # them, other users those of the projects they are members of. Entries about a DAG carry its id and
    # follow the DAG rule. Airflow shows entries *without* a DAG id to every audit-log reader.
    #
    # Assets follow the DAG rule for non-admins: an asset is visible through the DAGs that schedule on,
    # produce or read it, and an asset event may be created only when every DAG it would start may be
    # triggered by the user. ``GET /api/v2/assets`` has no per-user filter in Airflow, so a non-admin must
    # narrow it with ``dag_ids=`` to DAGs they may read (the unfiltered list is refused: it would name
    # other projects' assets and DAGs); :mod:`hopsworks_ui_plugin.asset_guard` tells which request is asked.

    @staticmethod
    def _audit_scopes(user: Any) -> set[str]:
        return {f"{access.AUDIT_SCOPE_PREFIX}{f}" for f in member_project_folders(username_of(user))}

    def _may_trigger(self, user: Any, dag_ids: set[str]) -> bool:
        from hopsworks_ui_plugin.version_compat import dag_resource_details

        _DagAccessEntity, DagDetails = dag_resource_details()
        if not dag_ids <= self._allowed_ids(user, dag_ids):
            return False
        return all(FabAuthManager.is_authorized_dag(self, method="POST", access_entity=_DagAccessEntity.RUN,
                                                    details=DagDetails(id=d), user=user) for d in dag_ids)

    def is_authorized_asset(self, *, method: Any, user: Any, details: Any = None) -> bool:
        if not super().is_authorized_asset(method=method, user=user, details=details):
            return False
        if not self._restricted(user):
            return True
        asset_id = getattr(details, "id", None)
        if asset_id not in (None, ""):  # one asset: through a DAG the user may read
            try:
                dag_ids = metadb.asset_dag_ids(int(asset_id))
            except ValueError:
                return False
            return bool(dag_ids and self._allowed_ids(user, dag_ids))
        from hopsworks_ui_plugin import asset_guard

        asked = asset_guard.current()
        if asked is None:
            return True  # other asset lists (events, aliases, queued events) keep FAB's answer and filters
        if asked.kind == "list":
            wanted = set(asked.dag_ids)
            return bool(wanted) and wanted <= self._allowed_ids(user, wanted)
        if asked.asset_id is None:
            return False
        seen = metadb.asset_dag_ids(asked.asset_id)
        if not seen or not self._allowed_ids(user, seen):
            return False  # an asset the user cannot see
        return self._may_trigger(user, metadb.asset_consumer_dag_ids(asked.asset_id))

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
