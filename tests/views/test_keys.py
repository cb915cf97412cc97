"""My Hopsworks key in-process: users' own keys, pages as that user, and the AGENT shared key refused clearly.

Like a Hopsworks-installed Airflow without a pages connection: ``[hopsworks] conn_id`` points at
``hopsworks_default``, which holds the AGENT key of Hopsworks' ``airflow`` service user (DAGs still run
with it: tests/test_operators.py::test_dag_runs_with_the_agent_key_of_hopsworks_airflow_user).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from hopsworks_ui_plugin import user_keys
from hopsworks_ui_plugin.core.keys import AGENT_REFUSAL
from hopsworks_ui_plugin.hooks.hopsworks import forget_user_hook
from tests.support import seed_key

DEMO_FS = 119
ALICE_KEY = seed_key("alice")
BOB_KEY = seed_key("bob")
SEED_KEYS = [seed_key(u) for u in ("alice", "bob", "carol", "admin", "airflow", "airflow_ui")]


def body(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture()
def agent_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """No pages connection: the pages' [hopsworks] conn_id is the AGENT connection DAGs use."""
    monkeypatch.setenv("AIRFLOW__HOPSWORKS__CONN_ID", "hopsworks_default")


@pytest.fixture(autouse=True)
def no_stored_keys() -> Iterator[None]:
    for name in ("alice", "bob", "admin"):
        user_keys.remove(name)
        forget_user_hook(name)
    yield
    for name in ("alice", "bob", "admin"):
        user_keys.remove(name)
        forget_user_hook(name)


def save_key(client, key: str):
    return client.post("my-key/save", data={"api_key": key, "csrf_token": client.csrf("my-key/")})


def memberships(hw, username: str) -> set[str]:
    return {p.name for p in hw.state.projects.values() if username in p.members}


def assert_no_secret(text: str) -> None:
    for key in SEED_KEYS:
        assert key not in text
        assert key.split(".", 1)[1] not in text  # not even the secret half


# --- the AGENT shared key: a clear refusal, not Hopsworks' raw 403 ----------------------------------


def test_pages_with_the_agent_shared_key_answer_a_clear_refusal(web, hw, agent_pages):
    alice = web("alice")
    for path in ("projects/", f"projects/{DEMO_FS}/jobs", f"projects/{DEMO_FS}/jobs/etl", "dag-files/"):
        page = alice.get(path)
        assert page.status_code == 503, (path, page.status_code)
        text = body(page)
        assert AGENT_REFUSAL in text, path
        assert "320003" not in text and "No valid role" not in text, path
        assert 'data-testid="shared-key-notice"' in text and "/hopsworks/my-key/" in text
    assert {r.status for r in hw.requests} == {403}  # Hopsworks refused the AGENT key; nothing else was asked
    my_dags = alice.get("my-dags/")  # works without Hopsworks: the page answers, the sentence explains
    assert my_dags.status_code == 200 and AGENT_REFUSAL in body(my_dags)


def test_json_callers_get_the_same_refusal(web, agent_pages):
    page = web("alice").get("projects/", headers={"Accept": "application/json"})
    assert page.status_code == 503 and page.get_json()["message"] == AGENT_REFUSAL


def test_connection_page_names_the_agent_role_and_what_it_can_do(web, hw, agent_pages):
    text = body(web("admin").get("connection/"))
    assert 'data-testid="conn-status">runs DAGs only' in text
    assert "seems to be AGENT" in text
    assert "AGENT: DAGs can launch and watch jobs; pages need users&#39; own keys or a HOPS_USER key" in text
    assert_no_secret(text)


def test_connection_page_names_the_pages_key_role(web, hw):
    text = body(web("admin").get("connection/"))
    assert 'data-testid="conn-role"><strong>seems to be HOPS_USER</strong>' in text
    assert "HOPS_USER: pages can browse the projects its user is a member of" in text


# --- a user's own key: pages as that user ---------------------------------------------------------


def test_alice_registers_her_key_and_browses_as_herself(web, hw, agent_pages):
    alice = web("alice")
    saved = save_key(alice, ALICE_KEY)
    assert saved.status_code == 302 and saved.headers["Location"].endswith("/hopsworks/my-key/")
    page = body(alice.get("my-key/"))
    assert f'data-testid="key-prefix">{ALICE_KEY.split(".")[0]}…' in page
    assert 'data-testid="key-user"><strong>alice</strong>' in page
    assert 'data-testid="key-role">seems to be HOPS_USER' in page
    assert "Saved your Hopsworks key" in page
    assert_no_secret(page)

    hw.clear_requests()
    projects = alice.get("projects/")
    assert projects.status_code == 200
    listed = set(__import__("re").findall(r'<tr data-project="([^"]+)"', body(projects)))
    assert listed == memberships(hw, "alice") and {"demo_fs", "empty_proj"} <= listed and "analytics" not in listed
    assert 'data-testid="shared-key-notice"' not in body(projects)
    assert hw.requests and {r.username for r in hw.requests} == {"alice"}  # Hopsworks was asked as alice

    jobs = alice.get(f"projects/{DEMO_FS}/jobs")
    assert jobs.status_code == 200 and "etl" in body(jobs)
    assert {r.username for r in hw.requests} == {"alice"}
    assert alice.get("projects/120/jobs").status_code == 403  # analytics: Hopsworks says she is not a member


def test_bobs_key_shows_bobs_projects(web, hw, agent_pages):
    bob = web("bob")
    assert save_key(bob, BOB_KEY).status_code == 302
    listed = set(__import__("re").findall(r'<tr data-project="([^"]+)"', body(bob.get("projects/"))))
    assert listed == memberships(hw, "bob") and "demo_fs" in listed and "empty_proj" not in listed


def test_launch_with_her_own_key_runs_as_her(web, hw, agent_pages):
    alice = web("alice")
    save_key(alice, ALICE_KEY)
    job_page = f"projects/{DEMO_FS}/jobs/etl"
    launched = alice.post(f"projects/{DEMO_FS}/launch/etl",
                          data={"args": "", "csrf_token": alice.csrf(job_page)})
    assert launched.status_code == 302
    start = [r for r in hw.requests if r.method == "POST" and r.path.endswith("/executions")]
    assert len(start) == 1 and start[0].username == "alice"


def test_without_a_key_the_pages_say_they_use_the_shared_connection(web, hw):
    text = body(web("alice").get("projects/"))
    assert 'data-testid="shared-key-notice"' in text and "/hopsworks/my-key/" in text
    assert {r.username for r in hw.requests} == {"airflow_ui"}


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("xW13eb3JDU2xoIot.not-the-secret", "Hopsworks refused this key: Invalid or incorrect API key."),
        ("AAAAAAAAAAAAAAAA.unknown", "Hopsworks refused this key: API key not found in the database."),
        (seed_key("blocked_user"), "Hopsworks refused this key: Your account has been blocked."),
        ("hHmInkBOl2RHTV6j.Ae7gqyKsyQuGrjnf3WNBPKrnuJzQzlFE5b7ZgGcCpjaENprdVLcdxDUdfcS1tcaM",
         "This key lacks the PROJECT scope: Hopsworks says &#39;No valid scope found for this invocation&#39;"),
        (seed_key("airflow"), "This key&#39;s Hopsworks user seems to be AGENT"),
        (BOB_KEY, "This key belongs to Hopsworks user &#39;bob&#39;, not to you (alice)"),
        ("two words", "That is not a Hopsworks API key: it contains spaces"),
        ("", "Paste a Hopsworks API key"),
    ],
)
def test_a_key_hopsworks_refuses_is_not_stored_and_the_reason_shown(web, hw, key, reason, caplog):
    caplog.set_level(logging.DEBUG)
    alice = web("alice")
    refused = save_key(alice, key)
    assert refused.status_code == 400
    text = body(refused)
    assert reason in text and "Nothing was saved." in text
    assert user_keys.get("alice") is None
    assert_no_secret(text)
    if key:
        assert key not in text and key not in caplog.text


def test_the_key_never_appears_in_pages_or_logs(web, hw, agent_pages, caplog):
    caplog.set_level(logging.DEBUG)
    alice = web("alice")
    pages = [save_key(alice, ALICE_KEY)]
    for path in ("my-key/", "projects/", f"projects/{DEMO_FS}/jobs", f"projects/{DEMO_FS}/jobs/etl",
                 "dag-files/", "my-dags/", "projects/999999/jobs"):
        pages.append(alice.get(path))
    pages.append(alice.post("my-key/test", data={"csrf_token": alice.csrf("my-key/")}, follow_redirects=True))
    hw.inject_fault(status=401, count=None, path_contains="/project",
                    body={"errorCode": 320013, "errorMsg": "API key not found in the database"})
    pages.append(alice.get("projects/"))
    hw.clear_faults()
    for page in pages:
        assert_no_secret(body(page))
        assert_no_secret(str(page.headers))
    assert caplog.records and ALICE_KEY not in caplog.text and ALICE_KEY.split(".")[1] not in caplog.text
    raw = str(user_keys.secret_of("alice")[0]) + repr(user_keys.get("alice"))
    assert ALICE_KEY.split(".")[1] not in raw


def test_test_button_reports_what_hopsworks_says_now(web, hw):
    alice = web("alice")
    save_key(alice, ALICE_KEY)
    tested = alice.post("my-key/test", data={"csrf_token": alice.csrf("my-key/")}, follow_redirects=True)
    assert "Hopsworks accepts your key: alice, platform role seems to be HOPS_USER" in body(tested)


def test_replace_and_delete(web, hw, agent_pages):
    alice = web("alice")
    save_key(alice, ALICE_KEY)
    first = user_keys.get("alice")
    replaced = save_key(alice, ALICE_KEY)
    assert replaced.status_code == 302
    assert "Replaced your Hopsworks key" in body(alice.get("my-key/"))
    assert user_keys.get("alice").version != first.version  # re-encrypted: a new ciphertext
    deleted = alice.post("my-key/delete", data={"csrf_token": alice.csrf("my-key/")})
    assert deleted.status_code == 302 and user_keys.get("alice") is None
    page = body(alice.get("my-key/"))
    assert 'data-testid="no-key"' in page and "Deleted your Hopsworks key" in page
    assert alice.get("projects/").status_code == 503  # back on the shared (AGENT) connection


def test_another_user_can_neither_see_nor_delete_alices_key(web, hw):
    alice, bob = web("alice"), web("bob")
    save_key(alice, ALICE_KEY)
    page = body(bob.get("my-key/"))
    assert 'data-testid="no-key"' in page and ALICE_KEY.split(".")[0] not in page and ">alice<" not in page
    refused = bob.post("my-key/delete", data={"csrf_token": bob.csrf("my-key/")})
    assert refused.status_code == 400 and "You have no stored Hopsworks key to delete." in body(refused)
    assert user_keys.get("alice") is not None
    hw.clear_requests()
    bob.get("projects/")  # bob still browses with the shared connection, not with alice's key
    assert "alice" not in {r.username for r in hw.requests}


def test_forms_need_their_csrf_token(web, hw):
    alice = web("alice")
    refused = alice.post("my-key/save", data={"api_key": ALICE_KEY})
    assert refused.status_code == 400 and "The CSRF token is missing." in body(refused)
    assert user_keys.get("alice") is None and hw.requests == []
    save_key(alice, ALICE_KEY)
    kept = alice.post("my-key/delete", data={})
    assert kept.status_code == 400 and user_keys.get("alice") is not None
    assert alice.post("my-key/test", data={}).status_code == 400


def test_anonymous_visitor_is_sent_to_login(web):
    page = web(None).get("my-key/")
    assert page.status_code == 302 and "login" in page.headers["Location"]


def test_admin_without_a_key_browses_with_the_shared_connection(web, hw):
    text = body(web("admin").get("projects/"))
    assert "analytics" in text and "demo_fs" in text and 'data-testid="shared-key-notice"' in text
    assert {r.username for r in hw.requests} == {"airflow_ui"}
