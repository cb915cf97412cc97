"""Users' own Hopsworks API keys, stored encrypted in a small table of the plugin in Airflow's metadata DB.

One row per Airflow user (``hopsworks_plugin_user_key``): the key encrypted with Airflow's Fernet key
(``[core] fernet_key``, :func:`airflow.models.crypto.get_fernet`), and what the page may show about it
(its prefix, the Hopsworks user it belongs to, that user's platform role as far as it can be told,
when it was saved). The table is the plugin's own, not part of Airflow's schema: it is created on
first use with ``CREATE TABLE IF NOT EXISTS`` semantics on Airflow's engine, idempotently and safely
when several processes race to create it.

Every query on the table lives here. The secret is decrypted only by :func:`secret_of`, for the hook
that sends it to Hopsworks; nothing here logs it or puts it in an exception message. Without a Fernet
key Airflow would store values in plain text; this module refuses to store a key then.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Boolean, Column, DateTime, MetaData, String, Table, Text, delete, inspect, select
from sqlalchemy.exc import SQLAlchemyError

from hopsworks_ui_plugin.errors import PluginError

log = logging.getLogger(__name__)

TABLE_NAME = "hopsworks_plugin_user_key"
#: Characters of a key shown to its owner: the 16-character public prefix Hopsworks itself looks keys up by.
PREFIX_LEN = 16

_metadata = MetaData()
user_key_table = Table(
    TABLE_NAME,
    _metadata,
    Column("username", String(256), primary_key=True),  # the Airflow username
    Column("encrypted_key", Text, nullable=False),  # Fernet token of the API key
    Column("key_prefix", String(64), nullable=False),
    Column("hopsworks_user", String(256), nullable=True),  # None: the key's user is in no project
    Column("platform_role", String(64), nullable=True),
    Column("role_certain", Boolean, nullable=False, default=False),
    Column("saved_at", DateTime(timezone=True), nullable=False),
)

_created = False
_create_lock = threading.Lock()


class KeyStorageError(PluginError):
    """503: the key cannot be stored or read (no Fernet key, the DB refuses); says why, never the key."""

    status = 503
    title = "Personal Hopsworks keys are unavailable"


@dataclass(frozen=True)
class StoredKey:
    """What may be shown about a stored key, and a version that changes whenever the key does."""

    username: str
    key_prefix: str
    hopsworks_user: str | None
    platform_role: str | None
    role_certain: bool
    saved_at: datetime
    version: str  # a digest of the ciphertext: equal versions mean the same stored key

    @property
    def role_label(self) -> str:
        if not self.platform_role:
            return "unknown"
        return self.platform_role if self.role_certain else f"seems to be {self.platform_role}"


def key_prefix(api_key: str) -> str:
    """The public part of a Hopsworks key (``<16-char prefix>.<secret>``) that is safe to show."""
    head, dot, _secret = api_key.partition(".")
    return head[:PREFIX_LEN] if dot else ""  # (Hopsworks refuses keys without the dot; never stored)


def _engine():  # type: ignore[no-untyped-def]
    from airflow import settings as airflow_settings

    if airflow_settings.engine is None:  # pragma: no cover - a process that never configured the ORM
        airflow_settings.configure_orm()
    return airflow_settings.engine


def ensure_table() -> None:
    """Create the table once per process if it does not exist; another process creating it at the
    same moment is fine."""
    global _created
    if _created:
        return
    with _create_lock:
        if _created:
            return
        engine = _engine()
        try:
            _metadata.create_all(engine, tables=[user_key_table], checkfirst=True)
        except SQLAlchemyError:
            if not inspect(engine).has_table(TABLE_NAME):  # not a lost race: a real failure
                raise KeyStorageError(
                    f"The table {TABLE_NAME} for personal Hopsworks keys could not be created in Airflow's "
                    "metadata database; see the api-server log."
                ) from None
        _created = True


def _fernet():  # type: ignore[no-untyped-def]
    from airflow.models.crypto import get_fernet

    fernet = get_fernet()
    if not fernet.is_encrypted:
        raise KeyStorageError(
            "Airflow has no Fernet key ([core] fernet_key), so it cannot encrypt secrets; personal Hopsworks "
            "keys are not stored unencrypted. Ask an admin to set [core] fernet_key."
        )
    return fernet


def _row_to_stored(row: object) -> StoredKey:
    mapping = row._mapping  # type: ignore[attr-defined]
    saved_at = mapping["saved_at"]
    if saved_at is not None and saved_at.tzinfo is None:  # SQLite drops the zone
        saved_at = saved_at.replace(tzinfo=UTC)
    return StoredKey(
        username=mapping["username"], key_prefix=mapping["key_prefix"], hopsworks_user=mapping["hopsworks_user"],
        platform_role=mapping["platform_role"], role_certain=bool(mapping["role_certain"]), saved_at=saved_at,
        version=hashlib.sha256(str(mapping["encrypted_key"]).encode()).hexdigest()[:16],
    )


def get(username: str) -> StoredKey | None:
    """The stored key of an Airflow user (without the secret), or None."""
    if not username:
        return None
    ensure_table()
    with _engine().connect() as conn:
        row = conn.execute(select(user_key_table).where(user_key_table.c.username == username)).first()
    return _row_to_stored(row) if row is not None else None


def secret_of(username: str) -> tuple[StoredKey, str] | None:
    """The stored key and its decrypted secret, for building that user's hook. Never log the secret."""
    if not username:
        return None
    ensure_table()
    with _engine().connect() as conn:
        row = conn.execute(select(user_key_table).where(user_key_table.c.username == username)).first()
    if row is None:
        return None
    fernet = _fernet()
    try:
        secret = fernet.decrypt(str(row._mapping["encrypted_key"]).encode()).decode()
    except Exception:  # InvalidToken: the Fernet key was changed without rotating
        raise KeyStorageError(
            "Your stored Hopsworks key cannot be decrypted with Airflow's current Fernet key ([core] fernet_key "
            "changed?). Delete it under My Hopsworks key and add it again."
        ) from None
    return _row_to_stored(row), secret


def save(username: str, api_key: str, *, hopsworks_user: str | None, platform_role: str | None,
         role_certain: bool) -> StoredKey:
    """Store (or replace) ``username``'s key, encrypted; returns what may be shown about it."""
    if not username:
        raise KeyStorageError("Only a signed-in Airflow user can store a key.")
    encrypted = _fernet().encrypt(api_key.encode()).decode()
    ensure_table()
    values = {
        "encrypted_key": encrypted, "key_prefix": key_prefix(api_key), "hopsworks_user": hopsworks_user,
        "platform_role": platform_role, "role_certain": role_certain, "saved_at": datetime.now(UTC),
    }
    with _engine().begin() as conn:
        conn.execute(delete(user_key_table).where(user_key_table.c.username == username))
        conn.execute(user_key_table.insert().values(username=username, **values))
    log.info("Stored a personal Hopsworks key (prefix %s) for Airflow user %s", values["key_prefix"], username)
    stored = get(username)
    assert stored is not None
    return stored


def remove(username: str) -> bool:
    """Delete ``username``'s key; False when there was none."""
    if not username:
        return False
    ensure_table()
    with _engine().begin() as conn:
        deleted = conn.execute(delete(user_key_table).where(user_key_table.c.username == username)).rowcount
    if deleted:
        log.info("Deleted the personal Hopsworks key of Airflow user %s", username)
    return bool(deleted)
