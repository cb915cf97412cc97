"""metadb: the My DAGs list in SQL (owner filter, paging, sorting, statement count), single-DAG
lookups, and the DAG-file records, over the ``mdt_*`` DAGs parsed into the shared metadata DB."""

from __future__ import annotations

import os

import pytest

from hopsworks_ui_plugin import access, metadb
from tests.support import MDT_BROKEN as BROKEN
from tests.support import MDT_PREFIX as PREFIX
from tests.support import MDT_STALE as STALE
from tests.support import MY_DAGS_EXPECTED as EXPECTED
from tests.support import SCENARIO_DAGS, build_my_dags_scenario


@pytest.fixture(scope="module")
def scenario(airflow_db):
    return build_my_dags_scenario()


def ids(owner: str | None, **query) -> set[str]:
    page = metadb.list_dags(metadb.DagQuery(owner=owner, search=PREFIX, limit=200, **query))
    return {r.dag_id for r in page.rows}


def test_owner_filter_is_the_owner_rule_on_parsed_dags(scenario):
    assert ids("alice") == EXPECTED["alice"]
    assert ids("ALICE") == EXPECTED["alice"]
    assert ids("alice2") == {"mdt_alice2"}
    assert ids("al_ce") == set() and ids("%") == set() and ids("alic%") == set() and ids("") == set()
    assert ids("alice,bob") == set()
    refs = metadb.dag_refs(set(SCENARIO_DAGS) - {STALE})
    for user in ("alice", "Alice", "bob", "carol", "dave", "alice2", "airflow"):
        assert {d for d, ref in refs.items() if access.owns_dag(ref.owners, user)} == ids(user), user


def test_stale_dags_are_left_out_unless_their_file_fails_to_import(scenario):
    everything = ids(None)
    assert STALE not in everything and BROKEN in everything
    refs = metadb.dag_refs([STALE, BROKEN])
    assert refs[STALE].is_stale and refs[BROKEN].is_stale and refs[BROKEN].has_import_errors
    row = next(r for r in metadb.list_dags(metadb.DagQuery(search=BROKEN)).rows)
    assert "SyntaxError" in (row.import_error or "")


def test_a_page_costs_one_count_one_page_query_and_one_recent_runs_query(scenario):
    from airflow import settings
    from sqlalchemy import event

    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(settings.engine, "before_cursor_execute", record)
    try:
        page = metadb.list_dags(metadb.DagQuery(search=PREFIX, sort="last_run", descending=True, limit=3))
    finally:
        event.remove(settings.engine, "before_cursor_execute", record)
    assert page.total == len(EXPECTED["admin"]) and len(page.rows) == 3
    assert len(statements) == 3, statements
    assert "count(" in statements[0].lower()
    assert "limit" in statements[1].lower() and "offset" in statements[1].lower()
    # The third is every row's last runs at once (the squares on My DAGs), not one query per DAG.
    assert "row_number()" in statements[2].lower() and "dag_run" in statements[2].lower()
    assert page.queries == ["count", "page", "recent_runs"]


def test_pages_and_sorting_happen_in_sql(scenario):
    everything = sorted(EXPECTED["admin"])
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
    by_owner = [r.owners.lower() for r in metadb.list_dags(metadb.DagQuery(search=PREFIX, sort="owners")).rows]
    assert by_owner == sorted(by_owner)


def test_project_folder_and_paused_filters(scenario):
    assert ids(None, folders=("demo_fs",)) == {"mdt_demo_fs_bob"}
    assert ids(None, folders=()) == set()
    paused, active = ids(None, paused=True), ids(None, paused=False)
    assert paused | active == EXPECTED["admin"] and not paused & active


def test_visible_dag_ids_owner_or_member_folder(scenario):
    assert metadb.visible_dag_ids("alice", ["demo_fs"], SCENARIO_DAGS) == (
        EXPECTED["alice"] | {STALE, "mdt_demo_fs_bob"}
    )
    assert metadb.visible_dag_ids("dave", [], SCENARIO_DAGS) == set()
    assert {d for d in metadb.visible_dag_ids("carol") if d.startswith(PREFIX)} == EXPECTED["carol"]


def test_owner_choices_are_distinct_tokens(scenario):
    choices = metadb.owner_choices()
    assert {"alice", "alice2", "bob", "carol", "airflow"} <= {c.lower() for c in choices}
    assert len({c.lower() for c in choices}) == len(choices)  # "Alice" and "alice" are one owner


def test_unknown_dag_actions_raise_not_found(scenario):
    from hopsworks_ui_plugin.errors import NotFound

    with pytest.raises(NotFound):
        metadb.set_paused("mdt_no_such_dag", True, "alice")
    with pytest.raises(NotFound):
        metadb.trigger_run("mdt_no_such_dag", "alice")
    assert metadb.dag_ref("mdt_no_such_dag") is None


def test_dag_file_records_of_a_folder(scenario):
    from hopsworks_ui_plugin.dag_files.paths import dags_root

    root = str(dags_root())
    rows = {r.dag_id: r for r in metadb.dags_under("mdt_scenario/", [f"{root}/mdt_scenario/"])}
    assert {d for d, (folder, _, _) in SCENARIO_DAGS.items() if folder == "mdt_scenario"} == set(rows)
    # Airflow joins a DAG's task owners from a set: "alice, bob" or "bob, alice" after a re-parse.
    assert sorted(rows["mdt_shared"].owners.split(", ")) == ["alice", "bob"] and rows[STALE].is_stale
    assert rows["mdt_shared"].relative_fileloc == "mdt_scenario/mdt_shared.py"
    errors = metadb.import_errors_under("mdt_scenario/", ["dags-folder"], [f"{root}/mdt_scenario/"])
    assert [e.filename for e in errors] == ["mdt_scenario/mdt_broken_alice.py"]
    assert metadb.count_import_errors("mdt_scenario/mdt_broken_alice.py", ["dags-folder"]) == 1
    assert metadb.count_import_errors("mdt_scenario/mdt_broken_alice.py", ["other-bundle"]) == 0
    assert os.path.basename(errors[0].filename) == "mdt_broken_alice.py"
