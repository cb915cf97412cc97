"""My DAGs page on the real ``airflow api-server``, over DAGs parsed into the shared metadata DB.

The scenario (``mdt_*`` DAGs, see :func:`build_scenario`) is written as real DAG files and parsed
in-process into the same sqlite DB the api-server reads (the same code path as
``airflow dags reserialize``), so every DAG has a bundle, a serialized version and real owners.
Other test modules may add DAGs to the same DB: exact-set assertions look at ``mdt_*`` ids only,
and the unfiltered page is checked to hold nothing the user does not own.
"""

from __future__ import annotations

import html
import os
import re
import threading
from pathlib import Path

import pytest
import requests

from tests.support import csrf_token

PREFIX = "mdt_"

#: dag id -> (folder under the DAGs folder, task owners, schedule)
SCENARIO_DAGS: dict[str, tuple[str, list[str], str | None]] = {
    "mdt_alice_etl": ("mdt_scenario", ["alice"], None),
    "mdt_alice_daily": ("mdt_scenario", ["alice"], "@daily"),
    "mdt_bob_report": ("mdt_scenario", ["bob"], None),
    "mdt_shared": ("mdt_scenario", ["alice", "bob"], None),  # owners "alice, bob"
    "mdt_nospace": ("mdt_scenario", ["alice,bob"], None),  # owners "alice,bob"
    "mdt_alice2": ("mdt_scenario", ["alice2"], None),  # near miss
    "mdt_caps": ("mdt_scenario", ["Alice"], None),  # case: Airflow compares owners case-insensitively
    "mdt_carol": ("mdt_scenario", ["carol"], None),
    "mdt_default_owner": ("mdt_scenario", [], None),  # owner "airflow"
    "mdt_demo_fs_bob": ("demo_fs", ["bob"], None),  # in project demo_fs's folder (alice and bob are members)
    "mdt_analytics_carol": ("analytics", ["carol"], None),  # in project analytics's folder (carol only)
    "mdt_stale_alice": ("mdt_scenario", ["alice"], None),  # file removed -> stale
    "mdt_broken_alice": ("mdt_scenario", ["alice"], None),  # file later fails to import
}
STALE = "mdt_stale_alice"
BROKEN = "mdt_broken_alice"

#: The My DAGs page: owner-only (exact token, case-insensitive); import-error DAGs shown, stale ones not.
PAGE_EXPECTED = {
    "alice": {"mdt_alice_etl", "mdt_alice_daily", "mdt_shared", "mdt_nospace", "mdt_caps", BROKEN},
    "bob": {"mdt_bob_report", "mdt_shared", "mdt_nospace", "mdt_demo_fs_bob"},
    "carol": {"mdt_carol", "mdt_analytics_carol"},
    "dave": set(),
    "admin": set(SCENARIO_DAGS) - {STALE},
}

_LOCK = threading.Lock()
_BUILT: dict[str, bool] = {}


def dag_source(dag_id: str, owners: list[str], schedule: str | None) -> str:
    tasks = owners or [None]
    lines = [
        "from datetime import datetime",
        "from airflow.sdk import DAG",
        "from airflow.providers.standard.operators.empty import EmptyOperator",
        "",
        f"with DAG({dag_id!r}, schedule={schedule!r}, start_date=datetime(2024, 1, 1), catchup=False,",
        "         tags=['my-dags-test']):",
    ]
    for i, owner in enumerate(tasks):
        owner_arg = f", owner={owner!r}" if owner else ""
        lines.append(f"    EmptyOperator(task_id='t{i}'{owner_arg})")
    return "\n".join(lines) + "\n"


def _parse(paths: list[Path]) -> None:
    """Parse these files into the metadata DB like ``airflow dags reserialize`` (only these files)."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db
    from airflow.utils.session import create_session

    root = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    DagBundlesManager().sync_bundles_to_db()
    for path in paths:
        bag = BundleDagBag(dag_folder=str(path), bundle_path=root, bundle_name="dags-folder")
        with create_session() as session:
            sync_bag_to_db(bag, "dags-folder", None, session=session)


def build_scenario() -> dict[str, Path]:
    """Write and parse the ``mdt_*`` DAGs once per test session; return their files."""
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import update

    root = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    files = {dag_id: root / folder / f"{dag_id}.py" for dag_id, (folder, _, _) in SCENARIO_DAGS.items()}
    with _LOCK:
        if _BUILT.get("done"):
            return files
        for dag_id, (_folder, owners, schedule) in SCENARIO_DAGS.items():
            files[dag_id].parent.mkdir(parents=True, exist_ok=True)
            files[dag_id].write_text(dag_source(dag_id, owners, schedule))
        _parse(list(files.values()))
        # The broken DAG: its file now fails to import (Airflow records the error, marks the DAG stale).
        files[BROKEN].write_text(
            "from airflow.sdk import DAG\n\nwith DAG('mdt_broken_alice' this is not python\n"
        )
        _parse([files[BROKEN]])
        # The stale DAG: its file is gone.
        files[STALE].unlink()
        with create_session() as session:
            session.execute(update(DagModel).where(DagModel.dag_id == STALE).values(is_stale=True))
        _BUILT["done"] = True
    return files


def page_ids(text: str) -> set[str]:
    return {html.unescape(m) for m in re.findall(r'<tr data-dag-id="([^"]+)"', text)}


def dag_row(dag_id: str):
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        dm = session.get(DagModel, dag_id)
        session.expunge_all()
        return dm


def runs_of(dag_id: str) -> list[tuple[str, str, str | None]]:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(DagRun.run_id, DagRun.run_type, DagRun.triggering_user_name).where(DagRun.dag_id == dag_id)
        ).all()
    return [tuple(r) for r in rows]


@pytest.fixture(scope="module")
def scenario(airflow_db):
    return build_scenario()


@pytest.fixture(scope="module")
def sessions(user_sessions, scenario):
    return user_sessions


def my_dags(airflow_server, session, **params):
    params.setdefault("per_page", 200)
    return session.get(airflow_server.page("my-dags/"), params=params, allow_redirects=False, timeout=30)


# --- the SQL side, in-process against the shared DB ----------------------------------------


def test_owner_match_is_an_exact_token_ignoring_case_and_spaces(scenario):
    from hopsworks_ui_plugin import access, metadb

    def ids(owner):
        page = metadb.list_dags(metadb.DagQuery(owner=owner, search=PREFIX, limit=200))
        return {r.dag_id for r in page.rows}

    assert ids("alice") == PAGE_EXPECTED["alice"]
    assert ids("ALICE") == PAGE_EXPECTED["alice"]
    assert ids("alice2") == {"mdt_alice2"}
    # LIKE wildcards in a username are literals, not patterns.
    assert ids("al_ce") == set() and ids("%") == set() and ids("alic%") == set() and ids("") == set()
    assert ids("alice,bob") == set()
    # The Python rule agrees with the SQL one on every listed scenario DAG.
    refs = metadb.dag_refs(set(SCENARIO_DAGS) - {STALE})
    for user in ("alice", "Alice", "bob", "carol", "dave", "alice2", "airflow"):
        owned = ids(user)
        assert {d for d, ref in refs.items() if access.owns_dag(ref.owners, user)} == owned, user


def test_a_page_costs_one_count_one_page_query_and_one_last_run_lookup(scenario):
    from airflow import settings
    from sqlalchemy import event

    from hopsworks_ui_plugin import metadb

    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(settings.engine, "before_cursor_execute", record)
    try:
        page = metadb.list_dags(
            metadb.DagQuery(search=PREFIX, sort="last_run", descending=True, limit=3)
        )
    finally:
        event.remove(settings.engine, "before_cursor_execute", record)
    assert page.total == len(PAGE_EXPECTED["admin"]) and len(page.rows) == 3
    assert len(statements) == 3, statements
    assert "count(" in statements[0].lower()
    assert "limit" in statements[1].lower() and "offset" in statements[1].lower()


def test_pages_and_sorting_happen_in_sql(scenario):
    from hopsworks_ui_plugin import metadb

    everything = sorted(PAGE_EXPECTED["admin"])
    seen = []
    for offset in range(0, len(everything), 5):
        page = metadb.list_dags(metadb.DagQuery(search=PREFIX, offset=offset, limit=5))
        seen += [r.dag_id for r in page.rows]
    assert seen == everything
    desc = metadb.list_dags(metadb.DagQuery(search=PREFIX, descending=True, limit=200))
    assert [r.dag_id for r in desc.rows] == everything[::-1]
    by_next = metadb.list_dags(metadb.DagQuery(search=PREFIX, sort="next_run", limit=200))
    assert by_next.rows[0].dag_id == "mdt_alice_daily" and by_next.rows[0].next_run is not None
    assert all(r.next_run is None for r in by_next.rows[1:]), "DAGs without a next run sort last"


# --- the page -------------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["alice", "bob", "carol", "dave", "admin"])
def test_each_user_sees_exactly_their_dags(airflow_server, sessions, username):
    response = my_dags(airflow_server, sessions(username), q=PREFIX)
    assert response.status_code == 200, airflow_server.log_tail()
    assert page_ids(response.text) == PAGE_EXPECTED[username]
    assert f'data-testid="total">{len(PAGE_EXPECTED[username])} DAG' in response.text
    if username == "dave":
        assert "own no DAGs" not in response.text  # filtered: "No DAG matches"
        bare = my_dags(airflow_server, sessions("dave"))
        assert page_ids(bare.text) == set() and "You (dave) own no DAGs" in bare.text


def test_unfiltered_page_holds_only_the_users_dags(airflow_server, sessions):
    from hopsworks_ui_plugin import access, metadb

    listed = page_ids(my_dags(airflow_server, sessions("alice")).text)
    assert PAGE_EXPECTED["alice"] <= listed
    refs = metadb.dag_refs(listed)
    assert all(access.owns_dag(refs[d].owners, "alice") for d in listed)


def test_admin_owner_filter(airflow_server, sessions):
    admin = sessions("admin")
    assert page_ids(my_dags(airflow_server, admin, q=PREFIX, owner="bob").text) == PAGE_EXPECTED["bob"]
    assert page_ids(my_dags(airflow_server, admin, q=PREFIX, owner="alice2").text) == {"mdt_alice2"}
    page = my_dags(airflow_server, admin, q=PREFIX)
    assert '<option value="alice2"' in page.text and '<option value="carol"' in page.text


def test_non_admin_cannot_list_another_owner(airflow_server, sessions):
    response = my_dags(airflow_server, sessions("alice"), owner="bob")
    assert response.status_code == 403
    assert "Only Airflow admins can list other users" in response.text
    assert my_dags(airflow_server, sessions("alice"), owner="Alice", q=PREFIX).status_code == 200


def test_columns_project_schedule_links_and_import_errors(airflow_server, sessions):
    bob = my_dags(airflow_server, sessions("bob"), q=PREFIX).text
    row = re.search(r'<tr data-dag-id="mdt_demo_fs_bob">.*?</tr>', bob, re.S).group(0)
    assert 'data-testid="project">demo_fs<' in row
    assert 'href="/dags/mdt_demo_fs_bob"' in row
    other = re.search(r'<tr data-dag-id="mdt_bob_report">.*?</tr>', bob, re.S).group(0)
    assert 'data-testid="project"></td>' in other

    alice = my_dags(airflow_server, sessions("alice"), q=PREFIX).text
    daily = re.search(r'<tr data-dag-id="mdt_alice_daily">.*?</tr>', alice, re.S).group(0)
    assert "<code" in daily and "0 0 * * *" in daily and "At 00:00" in daily
    assert "UTC" in daily.split('data-testid="next-run"')[1]
    broken = re.search(rf'<tr data-dag-id="{BROKEN}">.*?</tr>', alice, re.S).group(0)
    assert "import error" in broken and "SyntaxError" in broken
    assert "disabled" in broken  # cannot be triggered


def test_filters_search_paused_project_sort_and_pages(airflow_server, sessions):
    alice = sessions("alice")
    assert page_ids(my_dags(airflow_server, alice, q="mdt_alice").text) == {
        "mdt_alice_etl",
        "mdt_alice_daily",
    }
    assert page_ids(my_dags(airflow_server, alice, q=PREFIX, paused="active").text) <= PAGE_EXPECTED["alice"]
    bob = sessions("bob")
    assert page_ids(my_dags(airflow_server, bob, q=PREFIX, project=119).text) == {"mdt_demo_fs_bob"}
    text = my_dags(airflow_server, sessions("admin"), q=PREFIX, sort="dag_id", dir="desc", per_page=25).text
    ordered = [html.unescape(m) for m in re.findall(r'<tr data-dag-id="([^"]+)"', text)]
    assert ordered == sorted(PAGE_EXPECTED["admin"], reverse=True)
    first = my_dags(airflow_server, sessions("admin"), q=PREFIX, per_page=25, page=1)
    assert 'rel="next"' not in first.text  # 12 DAGs fit on one page of 25


def test_project_filter_is_refused_for_a_project_the_user_is_not_in(airflow_server, sessions):
    response = my_dags(airflow_server, sessions("alice"), project=120)
    assert response.status_code == 403 and "not a member" in response.text
    assert my_dags(airflow_server, sessions("alice"), project=999999).status_code == 404


@pytest.mark.parametrize(
    "params",
    [
        {"sort": "fileloc"},
        {"dir": "sideways"},
        {"page": "0"},
        {"page": "x"},
        {"per_page": "7"},
        {"paused": "maybe"},
        {"project": "abc"},
        {"q": "x" * 300},
    ],
)
def test_bad_query_parameters_get_a_400_page(airflow_server, sessions, params):
    response = my_dags(airflow_server, sessions("alice"), **params)
    assert response.status_code == 400
    assert "hw-error" in response.text and "Traceback" not in response.text


# --- actions --------------------------------------------------------------------------------


def post_action(
    airflow_server, session, dag_id: str, action: str, data: dict | None = None, token: bool = True
):
    form = dict(data or {})
    if token:
        form["csrf_token"] = csrf_token(my_dags(airflow_server, session).text)
    return session.post(
        airflow_server.page(f"my-dags/{dag_id}/{action}"), data=form, allow_redirects=False, timeout=60
    )


def test_owner_unpauses_and_pauses_their_dag(airflow_server, sessions):
    alice = sessions("alice")
    assert dag_row("mdt_alice_etl").is_paused is True
    response = post_action(
        airflow_server, alice, "mdt_alice_etl", "paused", {"paused": "false", "next": "/evil"}
    )
    assert response.status_code == 302, response.text
    assert response.headers["Location"].endswith("/pluginsv2/hopsworks/my-dags/")  # no open redirect
    assert dag_row("mdt_alice_etl").is_paused is False
    listed = my_dags(airflow_server, alice, q="mdt_alice_etl")
    assert "is active (unpaused)" in listed.text and 'aria-label="Pause mdt_alice_etl"' in listed.text
    response = post_action(airflow_server, alice, "mdt_alice_etl", "paused", {"paused": "true"})
    assert response.status_code == 302 and dag_row("mdt_alice_etl").is_paused is True


def test_multi_owner_dag_can_be_paused_by_each_owner(airflow_server, sessions):
    for user, wanted in (("bob", "false"), ("alice", "true")):
        response = post_action(airflow_server, sessions(user), "mdt_shared", "paused", {"paused": wanted})
        assert response.status_code == 302
        assert dag_row("mdt_shared").is_paused is (wanted == "true")


def test_owner_triggers_a_run(airflow_server, sessions):
    before = runs_of("mdt_alice_etl")
    response = post_action(airflow_server, sessions("alice"), "mdt_alice_etl", "trigger")
    assert response.status_code == 302, response.text
    after = runs_of("mdt_alice_etl")
    assert len(after) == len(before) + 1
    new = (set(after) - set(before)).pop()
    assert new[1] == "manual" and new[2] == "alice"
    listed = my_dags(airflow_server, sessions("alice"), q="mdt_alice_etl").text
    assert "is queued" in listed
    last_run = listed.split('data-testid="last-run"')[1].split("</td>")[0]
    assert "queued" in last_run and "UTC" in last_run


@pytest.mark.parametrize(
    ("user", "dag_id"),
    [
        ("alice", "mdt_bob_report"),
        ("alice", "mdt_alice2"),
        ("alice", "mdt_demo_fs_bob"),
        ("carol", "mdt_shared"),
        ("bob", "mdt_caps"),
    ],
)
def test_other_users_dags_are_refused_and_unchanged(airflow_server, sessions, user, dag_id):
    paused_before, runs_before = dag_row(dag_id).is_paused, runs_of(dag_id)
    pause = post_action(airflow_server, sessions(user), dag_id, "paused", {"paused": "false"})
    trigger = post_action(airflow_server, sessions(user), dag_id, "trigger")
    for response in (pause, trigger):
        assert response.status_code == 403
        assert f"not by you ({user})" in response.text and "Traceback" not in response.text
    assert dag_row(dag_id).is_paused == paused_before
    assert runs_of(dag_id) == runs_before


def test_admin_may_act_on_any_dag(airflow_server, sessions):
    before = runs_of("mdt_carol")
    assert post_action(airflow_server, sessions("admin"), "mdt_carol", "trigger").status_code == 302
    assert len(runs_of("mdt_carol")) == len(before) + 1


def test_unknown_dag_is_404_and_broken_dag_cannot_be_triggered(airflow_server, sessions):
    response = post_action(airflow_server, sessions("alice"), "mdt_no_such_dag", "trigger")
    assert response.status_code == 404 and "There is no DAG" in response.text
    broken = post_action(airflow_server, sessions("alice"), BROKEN, "trigger")
    assert broken.status_code == 409 and runs_of(BROKEN) == []


def test_post_without_csrf_token_is_400_and_changes_nothing(airflow_server, sessions):
    paused, runs = dag_row("mdt_alice_daily").is_paused, runs_of("mdt_alice_daily")
    response = post_action(
        airflow_server,
        sessions("alice"),
        "mdt_alice_daily",
        "paused",
        {"paused": "false" if paused else "true"},
        token=False,
    )
    assert response.status_code == 400
    assert dag_row("mdt_alice_daily").is_paused == paused
    trigger = post_action(airflow_server, sessions("alice"), "mdt_alice_daily", "trigger", token=False)
    assert trigger.status_code == 400 and runs_of("mdt_alice_daily") == runs


def test_bad_pause_value_and_get_on_actions(airflow_server, sessions):
    response = post_action(
        airflow_server, sessions("alice"), "mdt_alice_etl", "paused", {"paused": "perhaps"}
    )
    assert response.status_code == 400
    assert sessions("alice").get(airflow_server.page("my-dags/mdt_alice_etl/trigger")).status_code == 405


def test_anonymous_is_sent_to_login(airflow_server, scenario):
    response = requests.get(airflow_server.page("my-dags/"), allow_redirects=False, timeout=30)
    assert response.status_code == 302 and "/auth/login/" in response.headers["Location"]
    before = runs_of("mdt_alice_etl")
    post = requests.post(
        airflow_server.page("my-dags/mdt_alice_etl/trigger"), allow_redirects=False, timeout=30
    )
    assert post.status_code in (302, 400)
    assert runs_of("mdt_alice_etl") == before
