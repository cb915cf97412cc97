"""HopsworksAuthManager on a second real ``airflow api-server`` (same metadata DB, same fake Hopsworks).

Rule under test (see the class docstring): admins keep FAB behaviour; anyone else reaches a DAG
only if FAB allows it and they own it or its file is in a folder of a Hopsworks project they are a
member of. Test seed memberships: alice in demo_fs (119) and empty_proj (121), bob in demo_fs,
carol in analytics (120), dave in none.

Refusals: Airflow answers **403** for every DAG-level refusal below (the ``requires_access_dag``
dependency runs before the handler looks anything up), so a user cannot tell another user's DAG
from a DAG that does not exist.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest

from tests.support import AUTH_MANAGER_API_EXPECTED as API_EXPECTED
from tests.support import MDT_PREFIX as PREFIX
from tests.support import MY_DAGS_EXPECTED, page_dag_ids

MEMBER_FOLDERS = {
    "alice": {"demo_fs", "empty_proj"},
    "bob": {"demo_fs"},
    "carol": {"analytics"},
    "dave": set(),
}


def rule_allows(username: str, owners: str, fileloc: str | None) -> bool:
    from hopsworks_ui_plugin import access
    from hopsworks_ui_plugin.dag_files.paths import dags_root

    if access.owns_dag(owners, username):
        return True
    folder = Path(fileloc or "/").resolve()
    try:
        top = folder.relative_to(dags_root()).parts[0]
    except (ValueError, IndexError):
        return False
    return top in MEMBER_FOLDERS[username]


# --- the list -------------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["alice", "bob", "carol", "dave", "admin"])
def test_api_dag_list_holds_exactly_the_users_dags(api, username):
    client = api(username)
    listed = client.dag_ids(dag_id_pattern=PREFIX)
    assert {d for d in listed if d.startswith(PREFIX)} == API_EXPECTED[username]


@pytest.mark.parametrize("username", ["alice", "dave"])
def test_unfiltered_api_list_holds_nothing_the_rule_refuses(api, username):
    from hopsworks_ui_plugin import metadb

    response = api(username).call("GET", "/dags", params={"limit": 1000})
    assert response.status_code == 200
    listed = {d["dag_id"] for d in response.json()["dags"]}
    refs = metadb.dag_refs(listed)
    assert all(rule_allows(username, refs[d].owners, refs[d].fileloc) for d in listed), listed
    assert response.json()["total_entries"] == len(listed)


def test_airflow_owners_filter_is_narrowed_too(api):
    # Airflow's own ?owners= is a case-insensitive substring match: "alice" also finds "alice2".
    assert "mdt_alice2" in api("admin").dag_ids(owners="alice", dag_id_pattern=PREFIX)
    assert "mdt_alice2" not in api("alice").dag_ids(owners="alice", dag_id_pattern=PREFIX)


# --- single DAGs ------------------------------------------------------------------------------


def admin_run(api, dag_id: str) -> str:
    """A run of ``dag_id`` triggered by the admin (allowed for admins)."""
    response = api("admin").call("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None})
    assert response.status_code == 200, response.text
    return response.json()["dag_run_id"]


def test_other_users_dag_is_refused_everywhere(api):
    from hopsworks_ui_plugin import metadb

    run_id = admin_run(api, "mdt_bob_report")
    alice = api("alice")
    quoted = quote(run_id, safe="")
    refused = {
        "dag details": alice.call("GET", "/dags/mdt_bob_report"),
        "dag runs": alice.call("GET", "/dags/mdt_bob_report/dagRuns"),
        "one run": alice.call("GET", f"/dags/mdt_bob_report/dagRuns/{quoted}"),
        "task instances": alice.call("GET", f"/dags/mdt_bob_report/dagRuns/{quoted}/taskInstances"),
        "task log": alice.call("GET", f"/dags/mdt_bob_report/dagRuns/{quoted}/taskInstances/t0/logs/1"),
        "trigger": alice.call("POST", "/dags/mdt_bob_report/dagRuns", json={"logical_date": None}),
        "pause": alice.call("PATCH", "/dags/mdt_bob_report", json={"is_paused": False}),
        "near-miss owner": alice.call("GET", "/dags/mdt_alice2"),
        "other project's folder": alice.call("GET", "/dags/mdt_analytics_carol"),
        "stranger": api("dave").call("GET", "/dags/mdt_shared"),
    }
    assert {name: r.status_code for name, r in refused.items()} == {name: 403 for name in refused}
    assert metadb.dag_ref("mdt_bob_report").is_paused is True
    runs = api("admin").call("GET", "/dags/mdt_bob_report/dagRuns").json()["dag_runs"]
    assert [r["dag_run_id"] for r in runs] == [run_id]  # alice's trigger created nothing


def test_cross_dag_lists_leave_out_other_users_runs(api):
    bob_run = admin_run(api, "mdt_bob_report")
    alice_run = admin_run(api, "mdt_alice_daily")
    runs = api("alice").call("GET", "/dags/~/dagRuns", params={"limit": 1000}).json()["dag_runs"]
    seen = {(r["dag_id"], r["dag_run_id"]) for r in runs}
    assert ("mdt_alice_daily", alice_run) in seen and ("mdt_bob_report", bob_run) not in seen
    tis = api("alice").call("GET", "/dags/~/dagRuns/~/taskInstances", params={"limit": 1000}).json()
    assert "mdt_bob_report" not in {t["dag_id"] for t in tis["task_instances"]}
    assert "mdt_alice_daily" in {t["dag_id"] for t in tis["task_instances"]}


def test_owner_and_project_member_may_act(api):
    from hopsworks_ui_plugin import metadb

    alice = api("alice")
    assert alice.call("GET", "/dags/mdt_caps").status_code == 200  # owner "Alice"
    assert alice.call("GET", "/dags/mdt_demo_fs_bob").status_code == 200  # demo_fs member
    trigger = alice.call("POST", "/dags/mdt_shared/dagRuns", json={"logical_date": None})
    assert trigger.status_code == 200, trigger.text
    run_id = quote(trigger.json()["dag_run_id"], safe="")
    assert alice.call("GET", f"/dags/mdt_shared/dagRuns/{run_id}").status_code == 200
    log = alice.call("GET", f"/dags/mdt_shared/dagRuns/{run_id}/taskInstances/t0/logs/1")
    assert log.status_code != 403
    pause = alice.call("PATCH", "/dags/mdt_demo_fs_bob", json={"is_paused": False})
    assert pause.status_code == 200 and metadb.dag_ref("mdt_demo_fs_bob").is_paused is False
    assert alice.call("PATCH", "/dags/mdt_demo_fs_bob", json={"is_paused": True}).status_code == 200
    assert api("admin").call("GET", "/dags/mdt_bob_report").status_code == 200


def test_reparse_by_file_token_is_checked_in_one_batch(api):
    token = api("admin").call("GET", "/dags/mdt_bob_report/details").json()["file_token"]
    assert api("alice").call("PUT", f"/parseDagFile/{token}").status_code == 403
    assert api("bob").call("PUT", f"/parseDagFile/{token}").status_code == 201


def test_import_errors_are_filtered_to_readable_dags(api):
    def files(username: str) -> set[str]:
        response = api(username).call("GET", "/importErrors", params={"limit": 1000})
        assert response.status_code == 200
        return {e["filename"] for e in response.json()["import_errors"]}

    broken_file = "mdt_scenario/mdt_broken_alice.py"
    assert broken_file in files("alice") and broken_file in files("admin")
    assert broken_file not in files("bob")


# --- Hopsworks down, and the plugin page on this server ----------------------------------------


def test_hopsworks_outage_falls_back_to_owned_dags(auth_server):
    outage = auth_server.outage
    assert any("/project" in path for path in outage["asked"]), "the auth manager did ask Hopsworks"
    assert outage["api_ids"] == API_EXPECTED["alice"] - {"mdt_demo_fs_bob"}
    # The My DAGs page still answers, without the project column, with a warning.
    assert outage["page_status"] == 200
    assert 'data-testid="hopsworks-warning"' in outage["page_text"]
    assert page_dag_ids(outage["page_text"]) == MY_DAGS_EXPECTED["alice"]
    assert 'data-testid="project"></td>' in outage["page_text"]
    warning = outage["page_text"].split('data-testid="hopsworks-warning"')[1].split("</div>")[0]
    assert "503" in warning and "Traceback" not in warning


def test_my_dags_page_stays_owner_only_under_the_auth_manager(auth_server, api):
    alice = api("alice")
    page = alice.session.get(auth_server.page("my-dags/"), params={"q": PREFIX}, timeout=60)
    assert page.status_code == 200 and page_dag_ids(page.text) == MY_DAGS_EXPECTED["alice"]
    assert 'data-testid="hopsworks-warning"' not in page.text
    bob = api("bob").session.get(auth_server.page("my-dags/"), params={"q": PREFIX}, timeout=60)
    assert 'data-testid="project">demo_fs<' in bob.text


# --- assets follow the DAG rule; the plugin's audit entries are filtered like the DAGs ----------------

ASSET_DAG = "am_asset_alice"  # in empty_proj's folder: alice is its only member (bob is not)
ASSET_URI = "hopsworks://empty_proj/alice_features"


@pytest.fixture(scope="module")
def alice_asset(auth_server, api):
    """A DAG of alice's project empty_proj scheduled on an asset, parsed into the shared DB; the asset's id."""
    import os

    from tests.support import parse_dag_files

    path = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / "empty_proj" / f"{ASSET_DAG}.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "from datetime import datetime\n"
        "from airflow.sdk import DAG, Asset\n"
        "from airflow.providers.standard.operators.empty import EmptyOperator\n\n"
        f"with DAG({ASSET_DAG!r}, schedule=[Asset({ASSET_URI!r})], start_date=datetime(2024, 1, 1), catchup=False):\n"
        "    EmptyOperator(task_id='t', owner='alice')\n"
    )
    parse_dag_files([path])
    listed = api("admin").call("GET", "/assets", params={"uri_pattern": "alice_features"}).json()["assets"]
    assert [a["uri"] for a in listed] == [ASSET_URI]
    yield listed[0]["id"]
    path.unlink(missing_ok=True)


def asset_events(api, asset_id: int) -> int:
    response = api("admin").call("GET", "/assets/events", params={"asset_id": asset_id})
    assert response.status_code == 200, response.text
    return int(response.json()["total_entries"])


def test_assets_are_seen_only_through_dags_the_user_may_read(api, alice_asset):
    bob, alice = api("bob"), api("alice")
    # bob: not the unfiltered list (it names every project's assets), not through alice's DAG, not by id
    assert bob.call("GET", "/assets").status_code == 403
    assert bob.call("GET", "/assets", params={"dag_ids": ASSET_DAG}).status_code == 403
    assert bob.call("GET", f"/assets/{alice_asset}").status_code == 403
    # through his own DAG he may list, and alice's asset is not in it
    own = bob.call("GET", "/assets", params={"dag_ids": "mdt_bob_report"})
    assert own.status_code == 200 and ASSET_URI not in {a["uri"] for a in own.json()["assets"]}
    # alice sees it through her DAG and by id; the admin in the whole list
    mine = alice.call("GET", "/assets", params={"dag_ids": ASSET_DAG})
    assert mine.status_code == 200 and [a["uri"] for a in mine.json()["assets"]] == [ASSET_URI]
    assert alice.call("GET", f"/assets/{alice_asset}").status_code == 200
    assert ASSET_URI in {a["uri"] for a in api("admin").call("GET", "/assets", params={"limit": 100}).json()["assets"]}


def test_an_asset_event_needs_the_right_to_trigger_every_dag_it_starts(api, alice_asset):
    before = asset_events(api, alice_asset)
    refused = api("bob").call("POST", "/assets/events", json={"asset_id": alice_asset})
    assert refused.status_code == 403, refused.text
    assert asset_events(api, alice_asset) == before  # nothing recorded, nothing queued for alice's DAG
    allowed = api("alice").call("POST", "/assets/events", json={"asset_id": alice_asset})
    assert allowed.status_code == 200, allowed.text
    assert asset_events(api, alice_asset) == before + 1


def test_the_plugins_audit_entries_are_shown_to_the_dags_readers_and_project_members(auth_server, api, alice_asset):
    import os

    from tests.support import csrf_token, dag_source

    alice = api("alice")
    page = alice.session.get(auth_server.page("dag-files/121/"), timeout=60)
    token = csrf_token(page.text)
    name = "am_audit_upload.py"
    upload = alice.session.post(auth_server.page("dag-files/121/upload"), data={"csrf_token": token},
                                files={"files": (name, dag_source("alice", "am_audit_upload"))}, timeout=60)
    assert upload.status_code == 200, upload.text[:500]
    pause = alice.session.post(auth_server.page(f"my-dags/{ASSET_DAG}/paused"),
                               data={"csrf_token": token, "paused": "true"}, timeout=60, allow_redirects=False)
    assert pause.status_code == 302, pause.text[:500]
    (Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / "empty_proj" / name).unlink(missing_ok=True)

    def entries(username: str) -> list[tuple[str, str, str | None]]:
        response = api(username).call("GET", "/eventLogs", params={"event_pattern": "hopsworks.", "limit": 100,
                                                                     "owner": "alice"})
        assert response.status_code == 200, response.text
        return [(e["event"], e["owner"], e["dag_id"]) for e in response.json()["event_logs"]]

    expected = {("hopsworks.upload", "alice", "hopsworks:empty_proj"), ("hopsworks.pause", "alice", ASSET_DAG)}
    assert expected <= set(entries("alice")) and expected <= set(entries("admin"))
    assert not expected & set(entries("bob"))  # bob reads neither alice's project nor her DAG
    upload_entry = next(e for e in api("admin").call("GET", "/eventLogs", params={
        "event": "hopsworks.upload", "owner": "alice", "limit": 100}).json()["event_logs"]
        if e["dag_id"] == "hopsworks:empty_proj")
    assert '"file": "am_audit_upload.py"' in upload_entry["extra"]
    assert '"project_folder": "empty_proj"' in upload_entry["extra"]
