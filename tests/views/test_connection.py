"""The Connection page in-process: admins only, what it shows, and how it explains failures."""

from __future__ import annotations

from tests.support import seed_key


def body(response) -> str:
    return response.get_data(as_text=True)


def test_admin_sees_the_connection_page_with_projects_from_one_request(web, hw):
    page = web("admin").get("connection/")
    assert page.status_code == 200
    text = body(page)
    assert "Hopsworks connection" in text and 'data-testid="conn-status">answers' in text
    assert "as <strong>airflow_ui</strong>" in text  # the Hopsworks user behind the pages' key
    assert "<tr><td>analytics</td><td>120</td><td>Data scientist</td></tr>" in text
    assert text.index("<td>analytics</td>") < text.index("<td>demo_fs</td>") < text.index("<td>empty_proj</td>")
    assert [r.path for r in hw.requests].count("/hopsworks-api/api/project") == 1, [r.path for r in hw.requests]
    assert len(hw.requests) == 1
    assert seed_key("airflow_ui") not in text and seed_key("airflow") not in text


def test_non_admin_is_refused_with_a_reason(web, hw):
    page = web("alice").get("connection/")
    assert page.status_code == 403 and "for Airflow admins" in body(page)
    assert hw.requests == []


def test_anonymous_visitor_is_sent_to_airflow_login(web):
    page = web(None).get("connection/")
    assert page.status_code == 302 and "/auth/login/?next=" in page.headers["Location"]


def test_connection_page_explains_a_refused_key_and_hopsworks_answering_503(web, hw):
    admin = web("admin")
    refused = {"errorCode": 320013, "errorMsg": "API key not found in the database"}
    hw.inject_fault(status=401, count=None, path_contains="/project", body=refused)
    page = admin.get("connection/")
    assert page.status_code == 200
    assert "Hopsworks refused the API key: API key not found in the database" in body(page)
    assert 'data-testid="conn-status">not working' in body(page)
    hw.clear_faults()
    hw.inject_fault(status=403, count=None, path_contains="/project", body={"errorCode": 320004,
                                                                            "errorMsg": "No valid scope found"})
    page = admin.get("connection/")
    assert "The API key lacks a scope (needs JOB and PROJECT): No valid scope found" in body(page)
    hw.clear_faults()
    hw.inject_fault(status=503, count=None, path_contains="/project")
    page = admin.get("connection/")
    assert "not working" in body(page) and "503" in body(page)
    assert "Traceback" not in body(page) and seed_key("airflow_ui") not in body(page)


def test_admins_reach_the_connection_page_from_the_projects_page(web):
    """It has no entry in Airflow 3's navigation (which every plugin reader sees): admins get a link."""
    assert 'data-testid="connection-link"' in web("admin").get("projects/").get_data(as_text=True)
    assert 'data-testid="connection-link"' not in web("alice").get("projects/").get_data(as_text=True)


def test_pages_opened_on_their_own_lead_to_the_plugin_and_airflow_not_to_fab_menus(web):
    """FAB's navbar (Security menu, Airflow's "Legacy Views") is replaced by the plugin's own."""
    for username in ("alice", "admin"):
        html = web(username).get("projects/").get_data(as_text=True)
        assert 'data-testid="hw-navbar"' in html and "/hopsworks/my-dags/" in html
        assert ">Security<" not in html.replace(" ", "") and "Legacy" not in html
    assert ">Connection</a>" in web("admin").get("projects/").get_data(as_text=True)
    assert ">Connection</a>" not in web("alice").get("projects/").get_data(as_text=True)
