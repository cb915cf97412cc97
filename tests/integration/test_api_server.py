"""What crosses apps on the real ``airflow api-server``: a plugin page under /pluginsv2 with a real
login through /auth/login/, the login session surviving plugin pages, navigation entries from the
plugins API, and the Connections form reaching the hook. Page behaviour itself is tested in-process
(tests/views)."""

from __future__ import annotations

import json

import requests

from tests.support import seed_key


def test_a_plugin_page_works_through_the_api_server_with_a_real_login(airflow_server):
    session = airflow_server.login("admin")
    response = session.get(airflow_server.page("connection/"), allow_redirects=False)
    assert response.status_code == 200, airflow_server.log_tail()
    assert 'data-testid="conn-status">answers' in response.text and "demo_fs" in response.text
    assert 'href="/pluginsv2/hopsworks-assets/static/hopsworks.css"' in response.text
    assert seed_key("airflow_ui") not in response.text
    anonymous = requests.get(airflow_server.page("connection/"), allow_redirects=False, timeout=30)
    assert anonymous.status_code == 302 and "/auth/login/?next=" in anonymous.headers["Location"]


def test_plugin_pages_do_not_log_the_user_out_of_airflow(airflow_server):
    """Under the default database session backend, a /pluginsv2 page writing its session must not
    replace the /auth session cookie."""
    session = airflow_server.login("admin")
    assert session.get(f"{airflow_server.url}/auth/users/list/", allow_redirects=False).status_code == 200
    session.get(airflow_server.page("connection/"))
    assert session.get(f"{airflow_server.url}/auth/users/list/", allow_redirects=False).status_code == 200


def test_non_admin_roles_get_navigation_entries(airflow_server):
    session = airflow_server.login("alice")
    token = session.cookies["_token"]
    response = session.get(
        f"{airflow_server.url}/api/v2/plugins", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert response.status_code == 200
    views = [v for p in response.json()["plugins"] for v in p["external_views"]]
    hrefs = {v["href"] for v in views}
    assert "/pluginsv2/hopsworks/projects/" in hrefs
    # Airflow shows plugin entries to every role that reads Plugins: the admin-only page has none.
    assert "/pluginsv2/hopsworks/connection/" not in hrefs


def test_connection_form_round_trip_reaches_the_hook(airflow_server, hopsworks):
    """A connection saved the way Airflow 3's Connections form saves it is what the hook reads."""
    session = airflow_server.login("admin")
    headers = {"Authorization": f"Bearer {session.cookies['_token']}"}
    meta = session.get(f"{airflow_server.url}/ui/connections/hook_meta", headers=headers, timeout=30).json()
    hw_meta = next(m for m in meta if m["connection_type"] == "hopsworks")
    assert hw_meta["hook_name"] == "Hopsworks"
    assert set(hw_meta["extra_fields"]) >= {"verify_ssl", "ca_bundle", "timeout"}
    assert hw_meta["standard_fields"]["password"]["title"] == "API key"
    host, port = hopsworks.url.split("://")[1].split(":")
    form = {
        "connection_id": "hw_form",
        "conn_type": "hopsworks",
        "host": host,
        "port": int(port),
        "schema": "http",
        "password": seed_key("airflow_ui"),  # a HOPS_USER key: the Test button lists projects
        "extra": json.dumps({"verify_ssl": True, "timeout": 4}),
    }
    response = session.post(f"{airflow_server.url}/api/v2/connections", json=form, headers=headers, timeout=30)
    assert response.status_code in (201, 409), response.text
    tested = session.post(f"{airflow_server.url}/api/v2/connections/test", json=form, headers=headers, timeout=30)
    assert tested.status_code == 200, tested.text  # the "Test" button ([core] test_connection enabled)
    assert tested.json()["status"] is True and "as airflow_ui" in tested.json()["message"]
    bad_key = "AAAAAAAAAAAAAAAA." + "c" * 64
    refused = session.post(f"{airflow_server.url}/api/v2/connections/test", json={**form, "password": bad_key},
                           headers=headers, timeout=30).json()
    assert refused["status"] is False and "401" in refused["message"] and bad_key not in refused["message"]
    # Read it back in a fresh process that looks connections up in the metadata DB, as the api-server does.
    import subprocess
    import sys

    read_back = subprocess.run(
        [sys.executable, "-c", "from hopsworks_ui_plugin.hooks.hopsworks import HopsworksHook as H; h = H('hw_form');"
         "e = h.endpoint; print(e.timeout, e.verify, h.get_caller_username())"],
        env={**airflow_server.env, "_AIRFLOW_PROCESS_CONTEXT": "server"}, capture_output=True, text=True, timeout=120,
    )
    assert read_back.returncode == 0, read_back.stderr[-2000:]
    assert read_back.stdout.split()[-3:] == ["4.0", "True", "airflow_ui"]
