"""What an asset request is about, for the auth manager's asset rule.

Airflow asks the auth manager about two asset requests without saying which asset or DAGs they concern:
``GET /api/v2/assets`` (the list; its ``dag_ids`` filter is in the query) and ``POST
/api/v2/assets/events`` (the asset id is in the JSON body). This ASGI middleware, registered by the
plugin as a FastAPI root middleware, notes both in a context variable before Airflow's route runs;
:meth:`hopsworks_ui_plugin.auth_manager.HopsworksAuthManager.is_authorized_asset` reads it. It decides
nothing itself and lets every request through (a body it read is replayed unchanged). Pure ASGI.
"""

from __future__ import annotations

import contextvars
import json
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from hopsworks_ui_plugin.asgi_limits import ASGIApp, Message, Receive, Scope, Send

LIST_PATH = "/api/v2/assets"
EVENTS_PATH = "/api/v2/assets/events"
#: An asset-event body larger than this is not parsed (the auth manager then refuses non-admins).
MAX_EVENT_BODY = 64 * 1024


@dataclass(frozen=True)
class AssetRequest:
    kind: str  # "list" | "event"
    dag_ids: list[str] = field(default_factory=list)  # list: the dag_ids filter, as Airflow reads it
    asset_id: int | None = None  # event: the body's asset_id (None: unreadable)


CURRENT: contextvars.ContextVar[AssetRequest | None] = contextvars.ContextVar("hopsworks_asset_request",
                                                                              default=None)


def current() -> AssetRequest | None:
    return CURRENT.get()


def _list_dag_ids(query_string: bytes) -> list[str]:
    values = parse_qs(query_string.decode("latin-1"), keep_blank_values=False).get("dag_ids", [])
    if len(values) == 1 and "," in values[0]:  # Airflow's own reading of dag_ids=a,b
        values = values[0].split(",")
    return [v for v in values if v]


def _asset_id(body: bytes) -> int | None:
    try:
        value = json.loads(body or b"null").get("asset_id")
        return int(value) if isinstance(value, int | str) and str(value).isdigit() else None
    except (ValueError, AttributeError):
        return None


class AssetRequestMiddleware:
    """ASGI middleware noting what ``GET /api/v2/assets`` and ``POST /api/v2/assets/events`` are about."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path") or "").rstrip("/")
        method = scope.get("method")
        if scope.get("type") != "http" or not path.endswith(("/assets", "/assets/events")):
            await self.app(scope, receive, send)
            return
        if method == "GET" and path.endswith(LIST_PATH):
            token = CURRENT.set(AssetRequest("list", dag_ids=_list_dag_ids(scope.get("query_string") or b"")))
            try:
                await self.app(scope, receive, send)
            finally:
                CURRENT.reset(token)
            return
        if method != "POST" or not path.endswith(EVENTS_PATH):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size, more = 0, True
        while more and size <= MAX_EVENT_BODY:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"") or b""
            chunks.append(chunk)
            size += len(chunk)
            more = bool(message.get("more_body", False))
        body = b"".join(chunks)
        replay: list[Message] = [{"type": "http.request", "body": body, "more_body": more}]

        async def replay_receive() -> Message:
            return replay.pop() if replay else await receive()

        token = CURRENT.set(AssetRequest("event", asset_id=None if more else _asset_id(body)))
        try:
            await self.app(scope, replay_receive, send)
        finally:
            CURRENT.reset(token)
