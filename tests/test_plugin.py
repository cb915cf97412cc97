"""The plugin as Airflow's api-server loads it: the body-size guard on a real server."""

from __future__ import annotations

import select
import socket
from urllib.parse import urlsplit

from hopsworks_ui_plugin import dag_files

PROJECT = 119  # demo_fs of the test seed


def post_chunked(url: str, path: str, cookie: str, total: int, chunk: int = 64 * 1024) -> tuple[int, int]:
    """POST ``total`` bytes as a chunked body; stop as soon as the server answers.

    Returns (HTTP status, bytes sent before the answer came).
    """
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    head = (f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nCookie: {cookie}\r\n"
            "Content-Type: multipart/form-data; boundary=x\r\nTransfer-Encoding: chunked\r\n\r\n")
    sock.sendall(head.encode())
    sent = 0
    payload = b"%x\r\n%s\r\n" % (chunk, b"x" * chunk)
    try:
        while sent < total:
            if select.select([sock], [], [], 0)[0]:
                break
            sock.sendall(payload)
            sent += chunk
    except OSError:  # the server closed the connection after answering
        pass
    answer = b""
    while b"\r\n" not in answer:
        data = sock.recv(4096)
        if not data:
            break
        answer += data
    sock.close()
    return int(answer.split(b" ", 2)[1]), sent


def test_an_endless_chunked_upload_is_refused_after_the_cap(airflow_server, user_sessions):
    session = user_sessions("alice")
    cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
    cap = dag_files.max_upload_request_bytes()
    status, sent = post_chunked(airflow_server.url, f"/pluginsv2/hopsworks/dag-files/{PROJECT}/upload", cookie,
                                total=200 * 1024 * 1024)
    assert status == 413
    assert sent < 2 * cap, f"the server kept reading: {sent} bytes for a {cap}-byte cap"


def test_an_anonymous_body_is_refused_unread(airflow_server):
    status, sent = post_chunked(airflow_server.url, f"/pluginsv2/hopsworks/dag-files/{PROJECT}/upload", "a=b",
                                total=50 * 1024 * 1024)
    assert status == 401
    assert sent < 16 * 1024 * 1024  # loopback socket buffers take a few MiB before the answer is seen)
