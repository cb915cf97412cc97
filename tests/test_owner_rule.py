"""The owner rule, once in Python (:func:`access.owns_dag`) and once in SQL (:func:`metadb.owner_clause`):
one table of cases, run against both (the SQL side on real DagModel rows of the test metadata DB)."""

from __future__ import annotations

import pytest

from hopsworks_ui_plugin import access, metadb

#: (DagModel.owners, username, owns?)
CASES: list[tuple[str | None, str | None, bool]] = [
    ("alice", "alice", True),
    ("alice, bob", "alice", True),
    ("alice, bob", "bob", True),
    ("alice,bob", "bob", True),
    ("bob,alice", "alice", True),
    ("Alice", "alice", True),
    ("alice", "ALICE", True),
    ("ALICE , bob", "alice", True),
    (" alice ", "alice", True),
    ("  alice  ,   bob", "bob", True),
    ("alice", " alice ", True),  # surrounding spaces of the username are ignored too
    ("alice2", "alice", False),
    ("alice", "alice2", False),
    ("malice", "alice", False),
    ("alice bob", "alice", False),  # one token "alice bob", not two
    ("al ice", "alice", False),  # spaces inside a token count
    ("", "alice", False),
    (None, "alice", False),
    ("airflow", "alice", False),
    ("airflow", "airflow", True),
    ("alice", "", False),
    ("alice", None, False),
    ("alice, bob", "alice, bob", False),  # a username with a comma owns nothing
    ("alice, bob", "alice,bob", False),
    ("al%ce", "al%ce", True),
    ("alice", "al%ce", False),  # LIKE wildcards in a username are literals
    ("alice", "al_ce", False),
    ("al_ce", "al_ce", True),
    ("alxce", "al_ce", False),
    ("alice", "%", False),
    ("al\\ce", "al\\ce", True),
    ("alice", "alic%", False),
]
PREFIX = "owner_rule_"


@pytest.fixture(scope="module")
def owner_rows(airflow_db):
    """One DagModel row per distinct owners value of the table: ``{owners: dag_id}``."""
    from airflow.models.dag import DagModel
    from airflow.models.dagbundle import DagBundleModel
    from airflow.utils.session import create_session
    from sqlalchemy import delete, select

    owners_values = list(dict.fromkeys(owners for owners, _, _ in CASES))
    ids = {owners: f"{PREFIX}{i:02d}" for i, owners in enumerate(owners_values)}
    with create_session() as session:
        if session.scalar(select(DagBundleModel.name).where(DagBundleModel.name == "dags-folder")) is None:
            session.add(DagBundleModel(name="dags-folder"))
            session.flush()
        session.execute(delete(DagModel).where(DagModel.dag_id.like(f"{PREFIX}%")))
        for owners, dag_id in ids.items():
            session.add(DagModel(dag_id=dag_id, owners=owners, bundle_name="dags-folder",
                                 fileloc=f"/nowhere/{dag_id}.py", is_stale=False))
    yield ids
    with create_session() as session:
        session.execute(delete(DagModel).where(DagModel.dag_id.like(f"{PREFIX}%")))


@pytest.mark.parametrize(("owners", "username", "expected"), CASES)
def test_python_rule(owners, username, expected):
    assert access.owns_dag(owners, username) is expected


@pytest.mark.parametrize(("owners", "username", "expected"), CASES)
def test_sql_rule_on_dag_rows(owner_rows, owners, username, expected):
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        matched = set(session.scalars(
            select(DagModel.dag_id).where(DagModel.dag_id.like(f"{PREFIX}%"), metadb.owner_clause(username))
        ))
    assert (owner_rows[owners] in matched) is expected
    # and no other row of the table matches unless the Python rule says so
    assert matched == {d for o, d in owner_rows.items() if access.owns_dag(o, username)}



def _team_cases() -> list[tuple[str, str, bool]]:
    """Table rows with one owner token and a username Hopsworks could have (not a service user)."""
    from hopsworks_ui_plugin.hooks.hopsworks import SERVICE_USERS

    return [(o, u, e) for o, u, e in CASES
            if o and "," not in o and u and u.strip() and not set(",% _\\") & set(u.strip())
            and u.strip() not in SERVICE_USERS]


@pytest.mark.parametrize(("owners", "username", "expected"), _team_cases())
def test_task_owner_check_matches_team_members_by_the_same_rule(owners, username, expected):
    """The operators' task-owner check (``member_role`` of each owner token) agrees with the table:
    a task whose owner is ``owners`` runs for team member ``username``."""
    project = {"projectTeam": [{"user": {"username": username.strip()}, "teamRole": "Data owner"}]}
    roles = [access.member_role(project, token) for token in access.owner_tokens(owners)]
    assert (bool(roles) and all(roles)) is expected
