"""My Hopsworks key: test, store, replace and delete a user's own Hopsworks API key; and the refusal
pages answer when they have no own key and the shared connection's key may not browse.

With their own key a user's pages call Hopsworks as them (:func:`hopsworks_ui_plugin.hooks.hopsworks.
hook_for`): Hopsworks decides what they see, launches run as them. A key is stored only after
Hopsworks accepted it for browsing (``GET /project``: not 401, not an AGENT key, the PROJECT scope)
and, when its user is in a project, for jobs (the JOB scope); it must belong to the Hopsworks user of
the same name as the Airflow user (the plugin matches the two by name everywhere). The key itself is
never returned, logged or put in a message: only its prefix.
"""

from __future__ import annotations

from dataclasses import dataclass

from hopsworks_ui_plugin import access, user_keys
from hopsworks_ui_plugin.errors import BadInput, Failure, HopsworksError, PluginError
from hopsworks_ui_plugin.hooks.hopsworks import (
    NO_VALID_ROLE,
    KeyIdentity,
    forget_user_hook,
    hook_with_key,
    key_identity,
)
from hopsworks_ui_plugin.version_compat import mask_secret

#: Hopsworks keys are ``<16-char prefix>.<64-char secret>``; anything much longer is not a key.
MAX_KEY_LEN = 512
NO_SCOPE = 320004
PAGE_TITLE = "My Hopsworks key"

#: The pages' answer when they would browse with the shared connection and its key is an AGENT key.
AGENT_REFUSAL = (
    "The shared Hopsworks connection uses an AGENT key, which may run DAGs but cannot browse projects. "
    "Add your own key under My Hopsworks key, or ask an admin for a HOPS_USER key."
)
#: Status of that answer: the request is fine and the user may well be a member; the installation cannot
#: serve it as configured (a server-side condition an admin or the user's own key fixes), so 503, not 403.
AGENT_REFUSAL_STATUS = 503


class KeyRefused(BadInput):
    """400: the pasted key cannot be used; the message says Hopsworks' reason (never the key)."""

    title = "Key not saved"


@dataclass(frozen=True)
class KeyStatus:
    """What the My Hopsworks key page shows."""

    stored: user_keys.StoredKey | None
    shared_conn_id: str


def normalize(raw: str | None) -> str:
    """The pasted key without surrounding whitespace; :class:`KeyRefused` for what cannot be a key."""
    key = (raw or "").strip()
    if not key:
        raise KeyRefused("Paste a Hopsworks API key (Hopsworks: Account settings → API keys, scopes JOB and "
                         "PROJECT). Nothing was saved.")
    if len(key) > MAX_KEY_LEN:
        raise KeyRefused(f"That is not a Hopsworks API key: longer than {MAX_KEY_LEN} characters. Nothing was saved.")
    if any(ch.isspace() or not ch.isprintable() for ch in key):
        raise KeyRefused("That is not a Hopsworks API key: it contains spaces or line breaks. Nothing was saved.")
    return key


def _refusal(identity: KeyIdentity, tail: str = " Nothing was saved.") -> PluginError:
    err = identity.error
    if err is not None and (err.kind is not Failure.API or err.http_status not in (401, 403)):
        return err  # Hopsworks down, too slow, answering 5xx, the connection misconfigured: not about the key
    if not identity.authenticated:
        reason = (err.usr_msg or err.error_msg) if err is not None else None
        return KeyRefused(f"Hopsworks refused this key: {str(reason or identity.problem).rstrip('.')}.{tail}")
    if identity.role == "AGENT":
        return KeyRefused(
            "This key's Hopsworks user seems to be AGENT (like Hopsworks' own Airflow service user): Hopsworks "
            f"refuses it the project list ({err.error_msg if err else 'errorCode 320003'}), so the pages "
            f"cannot browse with it. Use a key of your own HOPS_USER account.{tail}"
        )
    if err is not None and err.error_code == NO_SCOPE:
        return KeyRefused(f"This key lacks the PROJECT scope: Hopsworks says {err.error_msg!r}. Create a key "
                          f"with the scopes JOB and PROJECT.{tail}")
    return KeyRefused(f"{identity.problem or 'Hopsworks did not accept this key'}.{tail}")


def check_key(api_key: str, username: str) -> KeyIdentity:
    """Ask Hopsworks about ``api_key`` (with the shared connection's host and TLS settings); raise
    :class:`KeyRefused` (Hopsworks' reason) or the outage's :class:`HopsworksError` unless the pages can
    browse with it as ``username``."""
    mask_secret(api_key)
    hook = hook_with_key(api_key)
    try:
        identity = key_identity(hook)
        if not identity.can_browse:
            raise _refusal(identity)
        owner = identity.username
        if owner and access.owner_key(owner) != access.owner_key(username):
            raise KeyRefused(
                f"This key belongs to Hopsworks user {owner!r}, not to you ({username}). The plugin matches "
                "Airflow and Hopsworks users by name; paste a key of your own Hopsworks account. Nothing was saved."
            )
        if identity.rows:  # the JOB scope can only be asked inside a project
            project_id = int((identity.rows[0].get("project") or {}).get("id") or 0)
            try:
                hook.get_jobs(project_id, limit=1, with_latest_execution=False)
            except HopsworksError as err:
                if err.http_status == 403 and err.error_code == NO_SCOPE:
                    raise KeyRefused(
                        f"This key lacks the JOB scope: Hopsworks says {err.error_msg!r} when it lists jobs. "
                        "Create a key with the scopes JOB and PROJECT. Nothing was saved."
                    ) from None
                if err.kind is not Failure.API:
                    raise
        return identity
    finally:
        hook.close()


def status(username: str, shared_conn_id: str) -> KeyStatus:
    return KeyStatus(stored=user_keys.get(username), shared_conn_id=shared_conn_id)


def register(username: str, raw_key: str | None) -> tuple[user_keys.StoredKey, str]:
    """Test and store (or replace) the user's key: ``(what may be shown, message)``. Nothing is stored
    when Hopsworks refuses it."""
    api_key = normalize(raw_key)
    identity = check_key(api_key, username)
    replaced = user_keys.get(username) is not None
    stored = user_keys.save(username, api_key, hopsworks_user=identity.username, platform_role=identity.role,
                            role_certain=identity.role_certain)
    _forget_caches(username)
    who = f"Hopsworks user {identity.username}" if identity.username else "a Hopsworks user in no project yet"
    return stored, (
        f"{'Replaced' if replaced else 'Saved'} your Hopsworks key {stored.key_prefix}… ({who}, platform role "
        f"{identity.role_label}, {len(identity.rows)} project(s)). The Hopsworks pages now call Hopsworks as you."
    )


def test_stored(username: str) -> tuple[bool, str]:
    """Ask Hopsworks about the stored key now: ``(works for the pages, message)``."""
    from hopsworks_ui_plugin.hooks.hopsworks import hook_for

    hook = hook_for(username)
    if hook is None:
        raise BadInput("You have no stored Hopsworks key to test.", title=PAGE_TITLE)
    identity = key_identity(hook)
    if identity.can_browse:
        who = identity.username or "a user in no project"
        return True, (f"Hopsworks accepts your key: {who}, platform role {identity.role_label}, "
                      f"{len(identity.rows)} project(s).")
    if identity.error is not None and identity.error.kind is not Failure.API:
        raise identity.error
    return False, f"Your stored key no longer works for the pages: {_refusal(identity, tail='').message}"


def delete(username: str) -> str:
    """Delete the user's own key; the pages go back to the shared connection."""
    if not user_keys.remove(username):
        raise BadInput("You have no stored Hopsworks key to delete.", title=PAGE_TITLE)
    _forget_caches(username)
    return "Deleted your Hopsworks key. The Hopsworks pages use the shared connection again."


def _forget_caches(username: str) -> None:
    forget_user_hook(username)
    from hopsworks_ui_plugin import settings

    access.MEMBERSHIPS.discard(f"{settings.conn_id()}|user:{username}|")


def shared_key_refusal(err: PluginError) -> PluginError | None:
    """The clear refusal for a page that browsed with the shared connection and got Hopsworks' 403 320003
    (its key's user has a platform role that may not browse: an AGENT key); None for any other error."""
    if isinstance(err, HopsworksError) and err.http_status == 403 and err.error_code == NO_VALID_ROLE:
        return PluginError(AGENT_REFUSAL, status=AGENT_REFUSAL_STATUS, title="Hopsworks pages need a browsing key")
    return None


def shared_problem_text(err: BaseException) -> str:
    """A Hopsworks problem as one line for pages that work without Hopsworks (My DAGs)."""
    if isinstance(err, PluginError) and shared_key_refusal(err) is not None:
        return AGENT_REFUSAL
    return str(err) or err.__class__.__name__
