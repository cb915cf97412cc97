"""Airflow's Connections page "Test" button (``POST /api/v2/connections/test``, the real api-server)
for a Hopsworks connection whose host is a pasted URL and whose Port is empty (issue 13)."""

from __future__ import annotations

from tests.support import ApiUser, seed_key


def test_connection_test_button_with_a_pasted_url_and_no_port(airflow_server, hw):
    admin = ApiUser(airflow_server, "admin")
    body = {"connection_id": "hw_pasted", "conn_type": "hopsworks", "host": hw.url + "/", "port": None,
            "password": seed_key("airflow_ui")}
    ok = admin.call("POST", "/connections/test", json=body)
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] is True, ok.json()
    assert ok.json()["message"].startswith("Connected to Hopsworks as airflow_ui")
    # A refused key: Hopsworks' own answer explains it, the key itself is not echoed.
    refused = admin.call("POST", "/connections/test", json={**body, "password": "nope.wrongsecret"})
    assert refused.status_code == 200 and refused.json()["status"] is False
    assert "401" in refused.json()["message"] and "wrongsecret" not in refused.json()["message"]
