"""My DAGs page, in-process (the real ``/pluginsv2`` app through the ``web`` fixture), over the
``mdt_*`` DAGs parsed into the shared metadata DB (:func:`tests.support.build_my_dags_scenario`).
Other test modules may add DAGs to the same DB: exact-set assertions look at ``mdt_*`` ids only,
and the unfiltered page is checked to hold nothing the user does not own."""

from __future__ import annotations

import html
import re

import pytest

from tests.support import MDT_BROKEN as BROKEN
from tests.support import MDT_PREFIX as PREFIX
from tests.support import MY_DAGS_EXPECTED as EXPECTED
from tests.support import build_my_dags_scenario, csrf_token, page_dag_ids
from tests.support import dag_model_row as dag_row
from tests.support import dag_runs_of as runs_of


@pytest.fixture(scope="module")
def scenario(airflow_db):
    return build_my_dags_scenario()


@pytest.fixture()
def user(web, scenario):
    """``user("alice")`` -> that user's in-process client (one per test and user)."""
    clients: dict = {}

    def get(username):
        if username not in clients:
            clients[username] = web(username)
        return clients[username]

    return get


def my_dags(client, **params):
    params.setdefault("per_page", 200)
    response = client.get("my-dags/", query_string=params)
    return response, response.get_data(as_text=True)


def row_of(text: str, dag_id: str) -> str:
    return re.search(rf'<tr data-dag-id="{dag_id}">.*?</tr>', text, re.S).group(0)


# --- the list -------------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["alice", "bob", "carol", "dave", "admin"])
def test_each_user_sees_exactly_their_dags(user, username):
    response, text = my_dags(user(username), q=PREFIX)
    assert response.status_code == 200
    assert page_dag_ids(text) == EXPECTED[username]
    assert f'data-testid="total">{len(EXPECTED[username])} DAG' in text
    if username == "dave":
        assert "own no DAGs" not in text  # filtered: "No DAG matches"
        _, bare = my_dags(user("dave"))
        assert page_dag_ids(bare) == set() and "You (dave) own no DAGs" in bare


def test_unfiltered_page_holds_only_the_users_dags(user):
    from hopsworks_ui_plugin import access, metadb

    listed = page_dag_ids(my_dags(user("alice"))[1])
    assert EXPECTED["alice"] <= listed
    refs = metadb.dag_refs(listed)
    assert all(access.owns_dag(refs[d].owners, "alice") for d in listed)


def test_admin_owner_filter(user):
    admin = user("admin")
    assert page_dag_ids(my_dags(admin, q=PREFIX, owner="bob")[1]) == EXPECTED["bob"]
    assert page_dag_ids(my_dags(admin, q=PREFIX, owner="alice2")[1]) == {"mdt_alice2"}
    text = my_dags(admin, q=PREFIX)[1]
    assert '<option value="alice2"' in text and '<option value="carol"' in text


def test_non_admin_cannot_list_another_owner(user):
    response, text = my_dags(user("alice"), owner="bob")
    assert response.status_code == 403
    assert "Only Airflow admins can list other users" in text
    assert my_dags(user("alice"), owner="Alice", q=PREFIX)[0].status_code == 200


def test_columns_project_schedule_links_and_import_errors(user):
    bob = my_dags(user("bob"), q=PREFIX)[1]
    row = row_of(bob, "mdt_demo_fs_bob")
    assert 'data-testid="project">demo_fs<' in row
    assert 'href="/dags/mdt_demo_fs_bob"' in row
    assert 'data-testid="project"></td>' in row_of(bob, "mdt_bob_report")

    alice = my_dags(user("alice"), q=PREFIX)[1]
    daily = row_of(alice, "mdt_alice_daily")
    assert "<code" in daily and "0 0 * * *" in daily and "At 00:00" in daily
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", daily.split('data-testid="next-run"')[1])
    broken = row_of(alice, BROKEN)
    assert "import error" in broken and "SyntaxError" in broken
    assert "disabled" in broken  # cannot be triggered


def test_filters_search_paused_project_sort_and_pages(user):
    alice = user("alice")
    assert page_dag_ids(my_dags(alice, q="mdt_alice")[1]) == {"mdt_alice_etl", "mdt_alice_daily"}
    active = page_dag_ids(my_dags(alice, q=PREFIX, paused="active")[1])
    paused = page_dag_ids(my_dags(alice, q=PREFIX, paused="paused")[1])
    assert active | paused == EXPECTED["alice"] and not active & paused
    assert page_dag_ids(my_dags(user("bob"), q=PREFIX, project=119)[1]) == {"mdt_demo_fs_bob"}
    text = my_dags(user("admin"), q=PREFIX, sort="dag_id", order="desc", per_page=25)[1]
    ordered = [html.unescape(m) for m in re.findall(r'<tr data-dag-id="([^"]+)"', text)]
    assert ordered == sorted(EXPECTED["admin"], reverse=True)
    # the sortable header flips the order of the sorted column and keeps the filters
    header = re.search(r'<a href="([^"]+)" data-sort="dag_id"', text).group(1)
    assert "order=asc" in html.unescape(header) and f"q={PREFIX}" in html.unescape(header)
    assert 'rel="next"' not in text  # 12 DAGs fit on one page of 25


def test_a_page_past_the_end_links_back_to_the_first(user):
    response, text = my_dags(user("admin"), q=PREFIX, per_page=25, page=2)
    assert response.status_code == 200 and "There is no page 2" in text
    first = re.search(r'<a href="([^"]+)">Go to the first page', text).group(1)
    assert not re.search(r"[?&]page=", html.unescape(first)) and "per_page=25" in html.unescape(first)


def test_project_filter_is_refused_for_a_project_the_user_is_not_in(user):
    response, text = my_dags(user("alice"), project=120)
    assert response.status_code == 403 and "not a member" in text
    assert my_dags(user("alice"), project=999999)[0].status_code == 404


@pytest.mark.parametrize(
    "params",
    [
        {"sort": "fileloc"},
        {"order": "sideways"},
        {"page": "0"},
        {"page": "x"},
        {"per_page": "7"},
        {"paused": "maybe"},
        {"project": "abc"},
        {"q": "x" * 300},
    ],
)
def test_bad_query_parameters_get_a_400_page(user, params):
    response, text = my_dags(user("alice"), **params)
    assert response.status_code == 400
    assert "hw-error" in text and "Traceback" not in text


def test_hopsworks_down_leaves_the_list_with_a_warning(user, hw):
    hw.inject_fault(status=503, count=None, path_contains="/project")
    response, text = my_dags(user("alice"), q=PREFIX)
    assert response.status_code == 200 and page_dag_ids(text) == EXPECTED["alice"]
    warning = text.split('data-testid="hopsworks-warning"')[1].split("</div>")[0]
    assert "503" in warning
    assert 'data-testid="project"></td>' in row_of(text, "mdt_alice_etl")
    response, text = my_dags(user("alice"), q=PREFIX, project=119)
    assert response.status_code == 200 and "The project filter was not applied" in text


# --- actions --------------------------------------------------------------------------------


def post_action(client, dag_id: str, action: str, data: dict | None = None, token: bool = True):
    form = dict(data or {})
    if token:
        form["csrf_token"] = csrf_token(my_dags(client)[1])
    return client.post(f"my-dags/{dag_id}/{action}", data=form)


def test_owner_unpauses_and_pauses_their_dag(user):
    from hopsworks_ui_plugin import metadb

    alice = user("alice")
    metadb.pause_dags(["mdt_alice_etl"])  # other tests (policy, reload) may have left it unpaused
    assert dag_row("mdt_alice_etl").is_paused is True
    response = post_action(alice, "mdt_alice_etl", "paused", {"paused": "false"})
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Location"].endswith("/hopsworks/my-dags/")  # no open redirect
    assert dag_row("mdt_alice_etl").is_paused is False
    text = my_dags(alice, q="mdt_alice_etl")[1]
    assert "is active (unpaused)" in text and 'aria-label="Pause mdt_alice_etl"' in text
    back = "/hopsworks/my-dags/?q=mdt_alice"
    response = post_action(alice, "mdt_alice_etl", "paused", {"paused": "true", "next": back})
    assert response.status_code == 302 and dag_row("mdt_alice_etl").is_paused is True
    assert response.headers["Location"].endswith(back)  # back to the list with its filters


def test_multi_owner_dag_can_be_paused_by_each_owner(user):
    for username, wanted in (("bob", "false"), ("alice", "true")):
        response = post_action(user(username), "mdt_shared", "paused", {"paused": wanted})
        assert response.status_code == 302
        assert dag_row("mdt_shared").is_paused is (wanted == "true")


def test_owner_triggers_a_run(user):
    before = runs_of("mdt_alice_etl")
    response = post_action(user("alice"), "mdt_alice_etl", "trigger")
    assert response.status_code == 302, response.get_data(as_text=True)
    after = runs_of("mdt_alice_etl")
    assert len(after) == len(before) + 1
    new = (set(after) - set(before)).pop()
    assert new[1] == "manual" and new[2] == "alice"
    text = my_dags(user("alice"), q="mdt_alice_etl")[1]
    assert "is queued" in text
    last_run = text.split('data-testid="last-run"')[1].split("</td>")[0]
    assert "queued" in last_run and "UTC" in last_run


def test_trigger_with_run_conf_and_logical_date_like_airflows_dialog(user):
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    alice = user("alice")
    response = post_action(alice, "mdt_alice_etl", "trigger",
                           {"conf": '{"region": "eu", "n": 3}', "logical_date": "2031-05-04T03:02:01"})
    assert response.status_code == 302, response.get_data(as_text=True)
    with create_session() as session:
        run = session.scalars(select(DagRun).where(DagRun.dag_id == "mdt_alice_etl")
                              .order_by(DagRun.id.desc()).limit(1)).one()
        assert run.conf == {"region": "eu", "n": 3}
        assert run.logical_date.isoformat().startswith("2031-05-04T03:02:01")


@pytest.mark.parametrize(
    ("conf", "logical_date", "says"),
    [
        ("{not json", "", "not valid JSON"),
        ("[1, 2]", "", "must be a JSON object"),
        ("", "yesterday", "Invalid logical date"),
    ],
)
def test_bad_trigger_options_are_refused_and_nothing_runs(user, conf, logical_date, says):
    before = runs_of("mdt_alice_etl")
    response = post_action(user("alice"), "mdt_alice_etl", "trigger", {"conf": conf, "logical_date": logical_date})
    assert response.status_code == 400 and says in response.get_data(as_text=True)
    assert runs_of("mdt_alice_etl") == before


@pytest.mark.parametrize(
    ("username", "dag_id"),
    [
        ("alice", "mdt_bob_report"),
        ("alice", "mdt_alice2"),
        ("carol", "mdt_shared"),
        ("bob", "mdt_caps"),
    ],
)
def test_other_users_dags_are_refused_and_unchanged(user, username, dag_id):
    """Not theirs to see: a 404 page with the same sentence as for a DAG that does not exist."""
    paused_before, runs_before = dag_row(dag_id).is_paused, runs_of(dag_id)
    pause = post_action(user(username), dag_id, "paused", {"paused": "false"})
    trigger = post_action(user(username), dag_id, "trigger")
    missing = post_action(user(username), "mdt_no_such_dag", "trigger")
    same = html.unescape(missing.get_data(as_text=True)).replace("mdt_no_such_dag", "X")
    sentence = f"There is no DAG 'X' among yours: no such DAG exists, or it is neither owned by you ({username})"
    assert missing.status_code == 404 and sentence in same
    for response in (pause, trigger):
        text = html.unescape(response.get_data(as_text=True)).replace(dag_id, "X")
        assert response.status_code == 404
        assert sentence in text and "Traceback" not in text and "not by you" not in text
    assert dag_row(dag_id).is_paused == paused_before
    assert runs_of(dag_id) == runs_before


def test_a_project_member_may_act_on_the_projects_dags(user):
    """access.POLICY: members (alice is demo_fs's Data owner) act on their project's DAGs, as in
    Airflow's own UI under HopsworksAuthManager and on the DAG files page."""
    before = runs_of("mdt_demo_fs_bob")
    assert post_action(user("alice"), "mdt_demo_fs_bob", "trigger").status_code == 302
    assert len(runs_of("mdt_demo_fs_bob")) == len(before) + 1


def test_admin_may_act_on_any_dag(user):
    before = runs_of("mdt_carol")
    assert post_action(user("admin"), "mdt_carol", "trigger").status_code == 302
    assert len(runs_of("mdt_carol")) == len(before) + 1


def test_unknown_dag_is_404_and_broken_dag_cannot_be_triggered(user):
    response = post_action(user("alice"), "mdt_no_such_dag", "trigger")
    assert response.status_code == 404 and "There is no DAG" in response.get_data(as_text=True)
    broken = post_action(user("alice"), BROKEN, "trigger")
    assert broken.status_code == 409 and runs_of(BROKEN) == []


def test_post_without_csrf_token_is_400_and_changes_nothing(user):
    paused, runs = dag_row("mdt_alice_daily").is_paused, runs_of("mdt_alice_daily")
    response = post_action(
        user("alice"), "mdt_alice_daily", "paused", {"paused": "false" if paused else "true"}, token=False
    )
    assert response.status_code == 400
    assert dag_row("mdt_alice_daily").is_paused == paused
    trigger = post_action(user("alice"), "mdt_alice_daily", "trigger", token=False)
    assert trigger.status_code == 400 and runs_of("mdt_alice_daily") == runs


def test_bad_pause_value_and_get_on_actions(user):
    response = post_action(user("alice"), "mdt_alice_etl", "paused", {"paused": "perhaps"})
    assert response.status_code == 400
    assert user("alice").get("my-dags/mdt_alice_etl/trigger").status_code == 405


def test_anonymous_is_sent_to_login(web, scenario):
    anonymous = web(None)
    response = anonymous.get("my-dags/")
    assert response.status_code == 302 and "/auth/login/" in response.headers["Location"]
    before = runs_of("mdt_alice_etl")
    post = anonymous.post("my-dags/mdt_alice_etl/trigger")
    assert post.status_code == 400  # the app's CSRF protection refuses a form without a session
    assert runs_of("mdt_alice_etl") == before


# --- last runs at a glance -------------------------------------------------------------------

RUN_STATES = ["success", "failed", "running", "queued", None, "success"]


def add_runs(dag_id: str, states: list[str]) -> list[str]:
    """Runs of ``dag_id`` straight into the metadata DB, oldest first (distinct run times)."""
    from datetime import UTC, datetime, timedelta

    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import text

    base = datetime(2024, 1, 1, tzinfo=UTC)
    ids = []
    with create_session() as session:
        for n, state in enumerate(states):
            run_id = f"squares__{n}_{state}"
            when = base + timedelta(hours=n)
            session.add(DagRun(dag_id=dag_id, run_id=run_id, run_type="manual", state=state,
                               logical_date=when, run_after=when,
                               start_date=None if state == "queued" else when))
            ids.append(run_id)
        session.flush()
        for run_id, state in zip(ids, states, strict=True):
            if state is None:  # Airflow stores a run without a state as queued: make it "other"
                session.execute(text("UPDATE dag_run SET state = NULL WHERE dag_id = :d AND run_id = :r"),
                                {"d": dag_id, "r": run_id})
    return ids


def test_last_runs_are_coloured_squares_from_one_query(user):
    """My DAGs shows each DAG's last runs as squares (oldest left) with run id, state and start on
    hover, and the page still costs one runs query (tests/test_metadb.py counts the statements)."""
    run_ids = add_runs("mdt_nospace", RUN_STATES)
    text = my_dags(user("alice"), q="mdt_nospace")[1]
    squares = re.findall(r'<span class="hw-run hw-run-(\w+)" data-state="\w+" role="img"\s+aria-label="([^"]+)"'
                         r'\s+title="([^"]+)"', row_of(text, "mdt_nospace"))
    assert [kind for kind, _, _ in squares][-6:] == ["success", "failed", "running", "queued", "other", "success"]
    titles = [html.unescape(t) for _, _, t in squares][-6:]
    assert titles[0] == f"{run_ids[0]} · success · started 2024-01-01 00:00:00 UTC"
    assert titles[3] == f"{run_ids[3]} · queued · started not started"
    assert titles[4] == f"{run_ids[4]} · no state · started 2024-01-01 04:00:00 UTC"
