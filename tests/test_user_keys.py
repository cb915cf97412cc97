"""The plugin's key table in Airflow's metadata DB: created on first use, encrypted at rest, per user."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import inspect, select

from hopsworks_ui_plugin import user_keys
from hopsworks_ui_plugin.user_keys import KeyStorageError, user_key_table
from tests.support import seed_key

KEY = seed_key("alice")


@pytest.fixture(autouse=True)
def clean(airflow_db) -> Iterator[None]:
    user_keys.remove("alice")
    user_keys.remove("bob")
    yield
    user_keys.remove("alice")
    user_keys.remove("bob")


def raw_rows() -> list[dict]:
    with user_keys._engine().connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(user_key_table))]


def test_table_is_created_once_and_again_without_error(monkeypatch):
    monkeypatch.setattr(user_keys, "_created", False)
    user_keys.ensure_table()
    monkeypatch.setattr(user_keys, "_created", False)
    user_keys.ensure_table()  # exists already: no error
    assert inspect(user_keys._engine()).has_table(user_keys.TABLE_NAME)


def test_the_key_is_stored_encrypted_and_only_its_prefix_shown():
    stored = user_keys.save("alice", KEY, hopsworks_user="alice", platform_role="HOPS_USER", role_certain=False)
    assert stored.key_prefix == KEY.split(".")[0] and stored.role_label == "seems to be HOPS_USER"
    (row,) = [r for r in raw_rows() if r["username"] == "alice"]
    assert KEY not in str(row) and KEY.split(".")[1] not in str(row)
    assert KEY not in repr(stored)
    found = user_keys.secret_of("alice")
    assert found is not None and found[1] == KEY


def test_each_user_has_their_own_row_and_replace_keeps_one():
    user_keys.save("alice", KEY, hopsworks_user="alice", platform_role="HOPS_USER", role_certain=False)
    user_keys.save("bob", seed_key("bob"), hopsworks_user="bob", platform_role="HOPS_USER", role_certain=True)
    user_keys.save("alice", KEY, hopsworks_user="alice", platform_role="HOPS_USER", role_certain=True)
    names = [r["username"] for r in raw_rows() if r["username"] in ("alice", "bob")]
    assert sorted(names) == ["alice", "bob"]
    assert user_keys.secret_of("bob")[1] == seed_key("bob")
    assert user_keys.remove("alice") is True and user_keys.remove("alice") is False
    assert user_keys.get("alice") is None and user_keys.get("bob") is not None


def test_refuses_to_store_without_a_fernet_key(monkeypatch):
    from airflow.models import crypto

    monkeypatch.setattr(crypto, "get_fernet", lambda: crypto._NullFernet())
    with pytest.raises(KeyStorageError, match=r"no Fernet key") as refused:
        user_keys.save("alice", KEY, hopsworks_user="alice", platform_role="HOPS_USER", role_certain=False)
    assert refused.value.status == 503 and KEY not in str(refused.value)
    assert user_keys.get("alice") is None


def test_a_key_encrypted_with_another_fernet_key_is_explained_not_leaked(monkeypatch):
    from airflow.models import crypto
    from cryptography.fernet import Fernet

    user_keys.save("alice", KEY, hopsworks_user="alice", platform_role="HOPS_USER", role_certain=False)
    other = crypto._RealFernet(__import__("cryptography.fernet", fromlist=["MultiFernet"]).MultiFernet(
        [Fernet(Fernet.generate_key())]))
    monkeypatch.setattr(crypto, "get_fernet", lambda: other)
    with pytest.raises(KeyStorageError, match=r"cannot be decrypted") as refused:
        user_keys.secret_of("alice")
    assert KEY not in str(refused.value)


def test_prefix_of_what_is_not_a_key_is_empty():
    assert user_keys.key_prefix("no-dot-here") == ""
    assert user_keys.key_prefix("abc.def") == "abc"
