"""HopsworksHook against the fake Hopsworks over real HTTP."""

from __future__ import annotations

import logging
import time
from types import SimpleNamespace
from typing import Any

import pytest
import requests

from hopsworks_ui_plugin.hooks.hopsworks import HopsworksError, HopsworksHook, endpoint_from_connection
from tests.support import seed_key

DEMO_FS = 119


def conn(url: str, key: str | None, **extra: Any) -> SimpleNamespace:
    scheme, rest = url.split("://", 1)
    host, _, port = rest.partition(":")
    extras = {"timeout": 3, "retries": 2, "retry_backoff": 0.01, **extra}
    import json

    return SimpleNamespace(
        conn_id="hw_test", host=host, port=int(port), schema=scheme, password=key,
        extra=json.dumps(extras), extra_dejson=extras,
    )


def hook_for(hw: Any, username: str = "airflow_ui", **extra: Any) -> HopsworksHook:
    """A hook with a seed user's key; by default the HOPS_USER account the pages use (browsing, logs and
    stop need a HOPS_USER key; the AGENT key of ``airflow`` may not)."""
    return HopsworksHook("hw_test", connection=conn(hw.url, seed_key(username), **extra))


def test_default_connection_is_read_from_airflow(hw):
    hook = HopsworksHook()
    assert hook.hopsworks_conn_id == "hopsworks_default"
    assert hook.endpoint.root == hw.url
    assert hook.get_project_info("analytics")["projectId"] == 120  # the AGENT key may call getProjectInfo
    with pytest.raises(HopsworksError) as info:
        hook.get_projects()  # ... but not list projects
    assert (info.value.http_status, info.value.error_code) == (403, 320003)


def test_projects_of_the_key_user_and_caller(hw):
    hook = hook_for(hw, "alice")
    names = {p["name"]: p["role"] for p in hook.get_projects()}
    assert names["demo_fs"] == "Data owner"
    assert "analytics" not in names
    assert hook.get_caller_username() == "alice"


def test_project_by_name_and_id_resolve_each_other(hw):
    hook = HopsworksHook("hw_test", project_name="demo_fs", connection=conn(hw.url, seed_key("alice")))
    assert hook.resolve_project() == (DEMO_FS, "demo_fs")
    hook2 = HopsworksHook("hw_test", project_id=DEMO_FS, connection=conn(hw.url, seed_key("alice")))
    assert hook2.resolve_project() == (DEMO_FS, "demo_fs")


@pytest.mark.parametrize(
    ("key", "status", "code"),
    [
        ("not-a-key", 401, 320012),
        ("AAAAAAAAAAAAAAAA.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 401, 320013),
    ],
)
def test_auth_errors_carry_status_and_code_but_not_the_key(hw, key, status, code):
    hook = HopsworksHook("hw_test", connection=conn(hw.url, key))
    with pytest.raises(HopsworksError) as info:
        hook.get_projects()
    assert info.value.http_status == status
    assert info.value.error_code == code
    assert key not in str(info.value)


def test_missing_scope_is_403_320004(hw):
    from tests.support import TEST_SEED

    key = next(k["key"] for k in TEST_SEED["api_keys"] if "JOB" not in k.get("scopes", []))
    hook = HopsworksHook("hw_test", connection=conn(hw.url, key))
    with pytest.raises(HopsworksError) as info:
        hook.get_jobs(DEMO_FS)
    assert (info.value.http_status, info.value.error_code) == (403, 320004)


def test_not_a_member_is_forbidden(hw):
    hook = hook_for(hw, "alice")
    with pytest.raises(HopsworksError) as info:
        hook.get_project(120)
    assert info.value.http_status == 403 and info.value.error_code == 160000


def test_unknown_job_is_404_with_hopsworks_code_and_not_retried(hw):
    hook = hook_for(hw)
    with pytest.raises(HopsworksError) as info:
        hook.get_job("no_such_job", DEMO_FS)
    assert (info.value.http_status, info.value.error_code) == (404, 130009)
    assert "Job not found" in str(info.value)
    assert len([r for r in hw.requests if "no_such_job" in r.path]) == 1


def test_503_then_200_is_retried(hw):
    hook = hook_for(hw)
    hw.inject_fault(status=503, count=1, path_contains="/jobs")
    count, items = hook.get_jobs(DEMO_FS, limit=2)
    assert count >= 2 and len(items) == 2
    assert len([r for r in hw.requests if r.path.endswith("/jobs")]) == 2


def test_persistent_5xx_gives_up_with_the_status(hw):
    hook = hook_for(hw, retries=1)
    hw.inject_fault(status=500, count=5, path_contains="/jobs")
    with pytest.raises(HopsworksError) as info:
        hook.get_jobs(DEMO_FS)
    assert info.value.http_status == 500
    assert len([r for r in hw.requests if r.path.endswith("/jobs")]) == 2  # first try + 1 retry


def test_post_is_not_retried_on_5xx(hw):
    """Retrying a start that Hopsworks may have processed could launch the job twice."""
    hook = hook_for(hw)
    hw.inject_fault(status=503, count=1, path_contains="/executions")
    with pytest.raises(HopsworksError) as info:
        hook.start_execution("etl", "", DEMO_FS)
    assert info.value.http_status == 503
    assert len([r for r in hw.requests if r.method == "POST"]) == 1


def test_slow_hopsworks_times_out_with_a_clear_message(hw):
    hook = hook_for(hw, timeout=0.3, retries=0)
    hw.inject_fault(status=None, count=1, delay_s=1.0, path_contains="/project")
    with pytest.raises(HopsworksError) as info:
        hook.get_projects()
    assert info.value.unreachable and "did not answer" in str(info.value)


def test_hopsworks_down_is_unreachable_error():
    from hopsworks_ui_plugin.devstack import free_port

    hook = HopsworksHook("hw_test", connection=conn(f"http://127.0.0.1:{free_port()}", "k.s", retries=0))
    with pytest.raises(HopsworksError) as info:
        hook.get_projects()
    assert info.value.unreachable and "Could not reach Hopsworks" in str(info.value)


def test_tls_verification_is_on_by_default_and_can_be_configured():
    base = {"timeout": 3}
    on = endpoint_from_connection(conn("https://hw.example:443", "k", **base))
    assert on.verify is True and on.scheme == "https"
    ca = endpoint_from_connection(conn("https://hw.example:443", "k", ca_bundle="/etc/ca.pem"))
    assert ca.verify == "/etc/ca.pem"
    off = endpoint_from_connection(conn("https://hw.example:443", "k", verify_ssl="false"))
    assert off.verify is False
    legacy = endpoint_from_connection(conn("https://hw.example:443", "k", extra__hopsworks__verify_ssl=False))
    assert legacy.verify is False
    no_scheme = SimpleNamespace(conn_id="c", host="hw.example", port=None, schema=None, password="k",
                                extra=None, extra_dejson={})
    assert endpoint_from_connection(no_scheme).root == "https://hw.example"


def test_tls_verification_rejects_an_untrusted_certificate(tmp_path):
    """An https Hopsworks with a self-signed certificate is refused unless the admin opts out."""
    import datetime
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from hopsworks_ui_plugin.fake_hopsworks import FakeHopsworks
    from tests.support import TEST_SEED

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption())
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    with FakeHopsworks(seed=TEST_SEED).start(ssl_context=ctx) as tls_hw:
        assert tls_hw.url.startswith("https://")
        strict = HopsworksHook("hw_test", connection=conn(tls_hw.url, seed_key("alice"), retries=0))
        with pytest.raises(HopsworksError) as info:
            strict.get_projects()
        assert "TLS error" in str(info.value)
        opted_out = HopsworksHook("hw_test", connection=conn(tls_hw.url, seed_key("alice"), verify_ssl=False))
        assert opted_out.get_projects()


def test_jobs_pagination_sort_and_filter_are_one_request(hw):
    hook = hook_for(hw)
    hw.clear_requests()
    count, first = hook.get_jobs(DEMO_FS, offset=0, limit=2, sort_by="name:asc")
    _, second = hook.get_jobs(DEMO_FS, offset=2, limit=2, sort_by="name:asc")
    names = [j["name"] for j in first + second]
    assert names == sorted(names, key=str.lower) or names == sorted(names)
    assert len(set(names)) == 4 and count >= 4
    assert len(hw.requests) == 2
    q = hw.requests[0].query
    assert q["offset"] == ["0"] and q["limit"] == ["2"] and q["sort_by"] == ["name:asc"]
    filtered_count, filtered = hook.get_jobs(DEMO_FS, name_filter="tra")
    assert filtered_count == 1 and filtered[0]["name"] == "train"


def test_execution_lifecycle_logs_and_stop(hw):
    hook = hook_for(hw)
    execution = hook.start_execution("etl", "--date 2024-01-01 --duration 30", DEMO_FS)
    assert execution["state"] == "INITIALIZING" and execution["args"] == "--date 2024-01-01 --duration 30"
    with pytest.raises(HopsworksError) as info:
        hook.get_execution_log("etl", execution["id"], "out", DEMO_FS)
    assert (info.value.http_status, info.value.error_code) == (400, 130010)
    assert hook.stop_execution("etl", execution["id"], DEMO_FS)["state"] == "INITIALIZING"  # no appId: ignored
    deadline = time.monotonic() + 10
    while "appId" not in hook.get_execution("etl", execution["id"], DEMO_FS) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert hook.stop_execution("etl", execution["id"], DEMO_FS)["state"] != "KILLED"  # accepted, not yet done
    while hook.get_execution("etl", execution["id"], DEMO_FS)["state"] != "KILLED" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert hook.get_execution("etl", execution["id"], DEMO_FS)["finalStatus"] == "KILLED"
    assert isinstance(hook.get_execution_log("etl", execution["id"], "err", DEMO_FS), str)
    assert hook.get_latest_execution("etl", DEMO_FS)["id"] == execution["id"]


def test_api_key_never_logged(hw, caplog):
    key = seed_key("alice")
    caplog.set_level(logging.DEBUG)
    hook = hook_for(hw, "alice")
    hook.get_projects()
    with pytest.raises(HopsworksError):
        hook.get_job("missing", DEMO_FS)
    assert key not in caplog.text
    assert key not in repr(hook.get_conn().auth)
    assert all(key not in str(r) for r in hw.requests)


def test_test_connection_reports_ok_and_failure(hw):
    ok, message = hook_for(hw).test_connection()
    assert ok and "airflow_ui" in message
    bad = HopsworksHook("hw_test", connection=conn(hw.url, "wrong.key"))
    ok, message = bad.test_connection()
    assert not ok and "401" in message and "wrong.key" not in message


def test_session_is_reused_across_calls(hw):
    hook = hook_for(hw)
    session = hook.get_conn()
    hook.get_projects()
    hook.get_jobs(DEMO_FS)
    assert hook.get_conn() is session
    assert isinstance(session, requests.Session)


# ---- Retry-After, stop until final, too-big logs ----

def test_retry_after_is_honoured_but_capped_by_the_request_timeout():
    """A 503 with ``Retry-After: 20`` once held a call 20 s against a 1 s request timeout."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    answers = [(503, {"Retry-After": "20"}), (200, {})]
    seen: list[float] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            seen.append(time.monotonic())
            status, headers = answers.pop(0) if answers else (200, {})
            body = b"[]"
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        hook = HopsworksHook("hw_test", connection=conn(f"http://127.0.0.1:{server.server_port}", "k.s",
                                                         timeout=1, retries=2, retry_backoff=0.01))
        started = time.monotonic()
        assert hook.get_project_rows() == []
        elapsed = time.monotonic() - started
    finally:
        server.shutdown()
        server.server_close()
    assert len(seen) == 2  # the 503 was retried ...
    assert 0.9 <= seen[1] - seen[0] and elapsed < 3  # ... after the capped 1 s, not 20 s


def test_stop_until_final_asks_again_once_the_execution_has_an_appid(hw):
    """Hopsworks ignores a stop before the execution has an appId and answers 202 before it ends."""
    hook = hook_for(hw)
    execution = hook.start_execution("etl", "--duration 100", DEMO_FS)  # INITIALIZING for 1 s here
    result = hook.stop_until_final("etl", execution["id"], DEMO_FS, timeout_s=20, interval_s=0.05)
    assert result.final and result.execution["state"] == "KILLED"
    stops = [r for r in hw.requests if r.method == "PUT" and r.path.endswith(f"/executions/{execution['id']}/status")]
    assert len(stops) >= 2 and stops[0].status == 202  # the first ask (no appId yet) was a no-op


def test_stop_until_final_gives_up_after_its_timeout(hw):
    hook = hook_for(hw)
    execution = hook.start_execution("etl", "--duration 600", DEMO_FS)  # no appId for 6 s
    started = time.monotonic()
    result = hook.stop_until_final("etl", execution["id"], DEMO_FS, timeout_s=0.3, interval_s=0.05)
    assert not result.final and result.execution["state"] == "INITIALIZING" and result.asks == 1
    assert time.monotonic() - started < 2
    hw.state.stop_execution(hw.state.executions[execution["id"]])


def test_a_log_too_big_for_hopsworks_is_reported_with_its_path(hw):
    """big_log writes about 3 MB; Hopsworks answers logs over 1,000,000 bytes with a sentence, not the text."""
    hook = hook_for(hw)
    execution_id = hook.start_execution("big_log", "", DEMO_FS)["id"]
    deadline = time.monotonic() + 10
    while hook.get_execution("big_log", execution_id, DEMO_FS)["state"] != "FINISHED" and time.monotonic() < deadline:
        time.sleep(0.05)
    got = hook.get_execution_log_info("big_log", execution_id, "out", DEMO_FS)
    assert got.too_big and got.text == ""
    assert got.path and got.path.startswith("/Projects/demo_fs/Logs/") and got.path.endswith("stdout.log")


@pytest.mark.parametrize(("host", "schema", "root"), [
    ("https://hopsworks.example.com", "", "https://hopsworks.example.com"),  # port from the scheme (443)
    ("http://hopsworks.local/", "", "http://hopsworks.local"),  # port 80, trailing slash dropped
    ("https://hw.example.com:8181/hopsworks-api/api", "", "https://hw.example.com:8181"),  # port in the URL
    ("http://hw.example.com", "https", "http://hw.example.com"),  # the pasted URL's scheme wins
])
def test_a_pasted_url_with_an_empty_port_gives_the_schemes_default_port(host, schema, root):
    endpoint = endpoint_from_connection(SimpleNamespace(conn_id="c", host=host, port=None, schema=schema,
                                                        extra=None, extra_dejson={}))
    assert endpoint.root == root
    assert endpoint.api_url == root + "/hopsworks-api/api"
