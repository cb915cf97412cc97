"""My Hopsworks key without a web framework: the checks, the per-user hooks and caches, the refusal."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hopsworks_ui_plugin import access, user_keys
from hopsworks_ui_plugin.core import keys
from hopsworks_ui_plugin.errors import HopsworksError
from hopsworks_ui_plugin.hooks import hopsworks as hooks
from hopsworks_ui_plugin.hooks.hopsworks import HopsworksHook, hook_for, key_identity
from tests.support import seed_key

ALICE_KEY = seed_key("alice")


@pytest.fixture(autouse=True)
def clean(airflow_db, hw) -> Iterator[None]:
    for name in ("alice", "bob"):
        user_keys.remove(name)
        hooks.forget_user_hook(name)
    access.MEMBERSHIPS.clear()
    yield
    for name in ("alice", "bob"):
        user_keys.remove(name)
        hooks.forget_user_hook(name)


def test_register_stores_who_the_key_belongs_to(hw):
    stored, message = keys.register("alice", f"  {ALICE_KEY}\n")
    assert stored.hopsworks_user == "alice" and stored.platform_role == "HOPS_USER" and not stored.role_certain
    assert message.startswith(f"Saved your Hopsworks key {ALICE_KEY.split('.')[0]}… (Hopsworks user alice, "
                              "platform role seems to be HOPS_USER")
    assert ALICE_KEY not in message
    # one GET /project and one job-count probe (the JOB scope), both as alice
    assert [(r.path.rsplit("/", 2)[-2:], r.username) for r in hw.requests][0] == (["api", "project"], "alice")
    assert any(r.path.endswith("/jobs") and r.username == "alice" for r in hw.requests)


def test_outage_while_testing_a_key_is_the_outage_not_a_refusal(hw):
    hw.inject_fault(status=503, count=None, path_contains="/project")  # down: retried, then given up
    with pytest.raises(HopsworksError) as failed:
        keys.register("alice", ALICE_KEY)
    assert failed.value.retryable and failed.value.status == 502  # the outage page, not "key refused"
    assert user_keys.get("alice") is None and ALICE_KEY not in str(failed.value)


def test_hook_for_uses_the_users_key_and_follows_replace_and_delete(hw):
    assert hook_for("alice") is None
    keys.register("alice", ALICE_KEY)
    first = hook_for("alice")
    assert first is not None and first is hook_for("alice")  # pooled
    assert access.uses_own_key(first) and not access.uses_own_key(hooks.service_hook())
    hw.clear_requests()
    first.get_project_rows()
    assert [r.username for r in hw.requests] == ["alice"]
    keys.register("alice", ALICE_KEY)  # replaced: a new ciphertext, a new hook
    second = hook_for("alice")
    assert second is not None and second is not first
    user_keys.remove("alice")  # deleted elsewhere (another worker): never used again
    assert hook_for("alice") is None


def test_user_hooks_are_bounded(hw, monkeypatch):
    monkeypatch.setenv("AIRFLOW__HOPSWORKS__USER_HOOK_CACHE_SIZE", "1")
    keys.register("alice", ALICE_KEY)
    keys.register("bob", seed_key("bob"))
    hook_for("alice")
    hook_for("bob")
    assert list(hooks._user_hooks) == ["bob"]


def test_memberships_are_cached_per_key_never_shared(hw):
    keys.register("alice", ALICE_KEY)
    own = hook_for("alice")
    shared = hooks.service_hook()
    assert access.membership_scope(own) != access.membership_scope(shared)
    mine = {p.name for p, _ in access.visible_projects(own, "alice", admin=False)}
    everything = {p.name for p, _ in access.visible_projects(shared, "admin", admin=True)}
    assert "analytics" not in mine and "analytics" in everything
    # an admin with their own key sees what Hopsworks shows that key, no more
    assert {p.name for p, _ in access.visible_projects(own, "alice", admin=True)} == mine


def test_own_key_access_tells_missing_from_not_a_member(hw):
    keys.register("alice", ALICE_KEY)
    own = hook_for("alice")
    grant = access.project_access(own, "alice", False, 119)
    assert grant.project.name == "demo_fs" and grant.role == "Data owner" and grant.can_operate
    with pytest.raises(access.Forbidden, match="not a member"):
        access.project_access(own, "alice", False, 120)
    with pytest.raises(access.NotFound, match="no Hopsworks project with id 999999"):
        access.project_access(own, "alice", False, 999999)


def test_shared_key_refusal_only_for_the_role_error():
    agent = HopsworksError("x", http_status=403, error_code=320003, error_msg="No valid role found for this invocation")
    refusal = keys.shared_key_refusal(agent)
    assert refusal is not None and refusal.status == 503 and refusal.message == keys.AGENT_REFUSAL
    assert keys.shared_key_refusal(HopsworksError("x", http_status=403, error_code=160000)) is None
    assert keys.shared_key_refusal(HopsworksError("x", http_status=403, error_code=320004)) is None
    assert keys.shared_problem_text(agent) == keys.AGENT_REFUSAL


def test_key_identity_reads_the_role_from_group_names_when_hopsworks_sends_them():
    row = {"project": {"id": 1, "name": "p"}, "teamRole": "Data owner",
           "user": {"username": "ann", "groupNames": [{"gid": 1003, "groupName": "HOPS_USER"}]}}

    class Rows(HopsworksHook):
        def get_project_rows(self):  # type: ignore[override]
            return [row]

    identity = key_identity(Rows("unused"))
    assert identity.role == "HOPS_USER" and identity.role_certain and identity.role_label == "HOPS_USER"


def test_connection_test_names_the_agent_role_and_passes():
    ok, message = HopsworksHook("hopsworks_default").test_connection()
    assert ok
    assert "Platform role: seems to be AGENT. AGENT: DAGs can launch and watch jobs; pages need users' own keys " \
           "or a HOPS_USER key" in message
    assert seed_key("airflow") not in message


def test_connection_test_names_the_pages_key_user_and_role():
    ok, message = HopsworksHook("hopsworks_ui").test_connection()
    assert ok and message.startswith("Connected to Hopsworks as airflow_ui; the API key sees ")
    assert "Platform role: seems to be HOPS_USER. HOPS_USER: pages can browse" in message


def test_auth_manager_reads_memberships_with_the_users_own_key(hw, monkeypatch):
    from hopsworks_ui_plugin import auth_manager

    monkeypatch.setenv("AIRFLOW__HOPSWORKS__CONN_ID", "hopsworks_default")  # the shared key is AGENT
    auth_manager.OUTAGE.clear()
    keys.register("alice", ALICE_KEY)
    hw.clear_requests()
    folders = auth_manager.member_project_folders("alice")
    assert "demo_fs" in folders and "analytics" not in folders
    assert {r.username for r in hw.requests} == {"alice"} and not auth_manager.OUTAGE.active()
