"""Refuse oversized request bodies to the plugin's pages before anyone buffers them.

Airflow 3 serves the pages through a WSGI bridge that reads a request body whole before the page
code runs, so a size check in the page comes too late: a 200 MiB body (or an endless chunked one)
would be held in memory first. This ASGI middleware, registered by the plugin as a FastAPI root
middleware, sits in front of that bridge for ``/pluginsv2/hopsworks/`` only:

* a body announced larger than the cap (``Content-Length``) is answered 413 without reading it;
* a body without a length (chunked) is read up to the cap and answered 413 as soon as it passes it;
* a request with a body but no login cookie is answered 401 without reading it.

Everything else passes through unchanged (a body within the cap is replayed to the app). Pure ASGI:
no web framework is imported.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from hopsworks_ui_plugin import settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PATH_PREFIX = "/pluginsv2/hopsworks/"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers") or []:
        if key.lower() == name:
            return bytes(value)
    return None


def _has_login_cookie(scope: Scope, cookie_name: str) -> bool:
    raw = _header(scope, b"cookie") or b""
    return any(part.strip().split(b"=", 1)[0] == cookie_name.encode() for part in raw.split(b";"))


async def _answer(send: Send, status: int, text: str) -> None:
    body = text.encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """ASGI middleware: caps request bodies under ``path_prefix`` (see the module docstring)."""

    def __init__(self, app: ASGIApp, path_prefix: str = PATH_PREFIX, max_bytes: int | None = None,
                 cookie_name: str = "_token") -> None:
        self.app = app
        self.path_prefix = path_prefix
        self._max_bytes = max_bytes
        self.cookie_name = cookie_name

    @property
    def max_bytes(self) -> int:
        if self._max_bytes is not None:
            return self._max_bytes
        from hopsworks_ui_plugin.dag_files import max_upload_request_bytes

        return max_upload_request_bytes()

    def _too_large(self) -> str:
        return (f"Request body too large: the Hopsworks pages accept at most {self.max_bytes} bytes "
                f"({settings.max_dag_files_per_upload()} files of {settings.max_dag_file_bytes()} bytes). "
                "Nothing was saved.")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The prefix may sit below Airflow's own base URL path (e.g. /hopsworks-api/airflow/pluginsv2/...).
        path = str(scope.get("path") or "")
        if (scope.get("type") != "http" or scope.get("method") not in BODY_METHODS
                or self.path_prefix not in path):
            await self.app(scope, receive, send)
            return
        length = _header(scope, b"content-length")
        chunked = b"chunked" in (_header(scope, b"transfer-encoding") or b"").lower()
        has_body = chunked or (length is not None and length.strip() not in (b"", b"0"))
        if has_body and not _has_login_cookie(scope, self.cookie_name):
            await _answer(send, 401, "Log in to Airflow first. Nothing was read or saved.")
            return
        if length is not None:
            try:
                announced = int(length)
            except ValueError:
                await _answer(send, 400, "Invalid Content-Length header.")
                return
            if announced > self.max_bytes:
                await _answer(send, 413, self._too_large())
                return
            await self.app(scope, receive, send)
            return
        # No length (chunked): read up to the cap, then replay what was read to the app.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"") or b""
            size += len(chunk)
            if size > self.max_bytes:
                await _answer(send, 413, self._too_large())
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replay = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replay_receive() -> Message:
            return replay.pop() if replay else await receive()

        await self.app(scope, replay_receive, send)
