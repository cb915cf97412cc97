"""The body-size guard in front of the plugin's pages (pure ASGI, driven directly)."""

from __future__ import annotations

import asyncio
from typing import Any

from hopsworks_ui_plugin.asgi_limits import BodyLimitMiddleware

UPLOAD = "/pluginsv2/hopsworks/dag-files/119/upload"


class App:
    """A downstream app that records what reached it."""

    def __init__(self) -> None:
        self.called = False
        self.body = b""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.called = True
        while True:
            message = await receive()
            self.body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def run(path: str, chunks: list[bytes], *, length: int | None = None, method: str = "POST",
        cookie: bool = True, cap: int = 1000) -> tuple[App, int, int]:
    """Send a request through the middleware; returns (app, status, chunks read by anyone)."""
    app = App()
    headers = [(b"cookie", b"a=1; _token=xyz")] if cookie else []
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    else:
        headers.append((b"transfer-encoding", b"chunked"))
    scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": headers}
    pending = list(chunks)
    read = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal read
        read += 1
        body = pending.pop(0) if pending else b""
        return {"type": "http.request", "body": body, "more_body": bool(pending)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(BodyLimitMiddleware(app, max_bytes=cap)(scope, receive, send))
    return app, sent[0]["status"], read


def test_announced_oversized_body_is_refused_unread():
    app, status, read = run(UPLOAD, [b"x" * 600, b"x" * 600], length=200 * 1024 * 1024)
    assert (status, read, app.called) == (413, 0, False)


def test_chunked_body_is_refused_as_soon_as_it_passes_the_cap():
    app, status, read = run(UPLOAD, [b"x" * 400] * 100)
    assert status == 413 and not app.called
    assert read == 3  # 400, 800, 1200 > 1000: the other 97 chunks are never read


def test_body_without_login_cookie_is_refused_unread():
    app, status, read = run(UPLOAD, [b"x" * 10], length=10, cookie=False)
    assert (status, read, app.called) == (401, 0, False)


def test_body_within_the_cap_reaches_the_page_whole():
    app, status, _ = run(UPLOAD, [b"ab", b"cd", b"ef"])
    assert (status, app.body) == (200, b"abcdef")
    app, status, _ = run(UPLOAD, [b"abcdef"], length=6)
    assert (status, app.body) == (200, b"abcdef")


def test_other_paths_and_methods_pass_untouched():
    app, status, _ = run("/api/v2/dags", [b"x" * 5000], length=5000)
    assert status == 200 and app.called
    app, status, _ = run(UPLOAD, [b""], method="GET", cookie=False, length=0)
    assert status == 200 and app.called
    app, status, _ = run("/hopsworks-api/airflow" + UPLOAD, [b"x" * 5000], length=5000)
    assert status == 413 and not app.called
