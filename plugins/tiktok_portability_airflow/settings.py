"""Connection fields -> typed settings (pure: no Airflow import, so it is tested without Airflow).

``tiktok_default`` (the app): host = API base URL, login = client key, password = client secret,
extra = ``redirect_uri`` (the OAuth callback's public URL, required for the sign-in pages: never
taken from a request's Host header), ``authorize_url``, ``scopes``, ``oauth_cookie_secure`` (default
true; false only for plain http on localhost), ``reconsent_notice_days`` (default 14),
``webhook_tolerance_s``, ``timeout_s``, ``max_retries`` and the quota settings
``quota_per_window``, ``quota_window_s``, ``quota_mode``, ``quota_safety_margin``,
``quota_oauth_per_window``.

``tiktok_state`` (the state store): a SQLAlchemy URL, either in extra ``url`` or built from the
connection's parts (conn_type ``postgres``/``sqlite``), and the Fernet keys in extra
``fernet_keys`` (newest first) or the ``TIKTOK_FERNET_KEYS`` environment variable (comma-separated).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

from tiktok_portability import signatures
from tiktok_portability.redact import Secret
from tiktok_portability.scopes import ScopeError, check_requested_scopes

OFFICIAL_API_HOST = "open.tiktokapis.com"
OFFICIAL_AUTHORIZE_URL = "https://www.tiktok.com/v2/auth/authorize/"
FERNET_KEYS_ENV = "TIKTOK_FERNET_KEYS"
DEFAULT_SCOPES: tuple[str, ...] = ("portability.all.ongoing",)
DEFAULT_RECONSENT_NOTICE_DAYS = 14


class SettingsError(ValueError):
    """A connection field that is missing or malformed; the message names the connection and field."""


class ConnectionLike(Protocol):
    """What we read from an Airflow Connection (both the Task SDK's and the core model have it)."""

    conn_id: str
    conn_type: str | None
    host: str | None
    schema: str | None
    login: str | None
    password: str | None
    port: int | None
    extra: str | None


@dataclass(frozen=True)
class QuotaSettings:
    per_window: int = 1000
    window_s: float = 60.0
    mode: str = "per_endpoint"
    safety_margin: float = 0.05
    oauth_per_window: int | None = None


@dataclass(frozen=True)
class AppSettings:
    """The TikTok app as configured in ``tiktok_default``."""

    conn_id: str
    base_url: str
    client_key: str
    client_secret: Secret
    authorize_url: str
    redirect_uri: str | None = None
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    webhook_tolerance_s: int = signatures.DEFAULT_TOLERANCE_S
    timeout_s: float = 30.0
    max_retries: int = 4
    quota: QuotaSettings = field(default_factory=QuotaSettings)
    # The sign-in state cookie is Secure unless turned off for plain http on localhost.
    oauth_cookie_secure: bool = True
    # Days before a grant's refresh deadline (fixed at consent) it is flagged reconsent_due.
    reconsent_notice_days: int = DEFAULT_RECONSENT_NOTICE_DAYS

    @property
    def oauth_start_url(self) -> str | None:
        """The public ``/oauth/start`` link to send a user who must consent (again)."""
        if not self.redirect_uri or not self.redirect_uri.rstrip("/").endswith("/oauth/callback"):
            return None
        return self.redirect_uri.rstrip("/").removesuffix("/callback") + "/start"


@dataclass(frozen=True)
class StateSettings:
    """The state store as configured in ``tiktok_state``; the URL may hold a password."""

    conn_id: str
    url: Secret
    fernet_keys: tuple[Secret, ...]


def extra_of(conn: ConnectionLike) -> dict[str, Any]:
    raw = conn.extra
    if not raw:
        return {}
    if isinstance(raw, Mapping):
        return dict(raw)
    try:
        value = json.loads(raw)
    except ValueError:
        raise SettingsError(f"connection {conn.conn_id!r}: extra is not valid JSON") from None
    if not isinstance(value, dict):
        raise SettingsError(f"connection {conn.conn_id!r}: extra must be a JSON object")
    return value


def _number(extra: Mapping[str, Any], key: str, default: Any, conn_id: str, kind: type) -> Any:
    value = extra.get(key)
    if value is None or value == "":
        return default
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise SettingsError(
            f"connection {conn_id!r}: extra {key}={value!r} is not a {kind.__name__}"
        ) from None


def _flag(extra: Mapping[str, Any], key: str, default: bool, conn_id: str) -> bool:
    value = extra.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"connection {conn_id!r}: extra {key} must be true or false")


def _base_url(conn: ConnectionLike) -> str:
    host = (conn.host or "").strip()
    if not host:
        raise SettingsError(f"connection {conn.conn_id!r}: host (the API base URL) is empty")
    if "://" in host:
        return host.rstrip("/")
    scheme = (conn.schema or "https").strip() or "https"
    port = f":{conn.port}" if conn.port else ""
    return f"{scheme}://{host}{port}".rstrip("/")


def _scopes(value: Any, conn_id: str) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else list(value)
    scopes = tuple(s.strip() for s in items if s and s.strip())
    if not scopes:
        raise SettingsError(f"connection {conn_id!r}: extra scopes is empty")
    try:
        return check_requested_scopes(scopes)
    except ScopeError as exc:
        raise SettingsError(f"connection {conn_id!r}: extra scopes: {exc}") from None


def app_settings(conn: ConnectionLike) -> AppSettings:
    """Read ``tiktok_default``-style connection fields into AppSettings."""
    extra = extra_of(conn)
    base_url = _base_url(conn)
    if not conn.login:
        raise SettingsError(f"connection {conn.conn_id!r}: login (the client key) is empty")
    if not conn.password:
        raise SettingsError(f"connection {conn.conn_id!r}: password (the client secret) is empty")
    # TikTok's consent page lives on www.tiktok.com; an emulator serves it next to the API.
    default_authorize = (
        OFFICIAL_AUTHORIZE_URL if OFFICIAL_API_HOST in base_url else f"{base_url}/v2/auth/authorize/"
    )
    mode = str(extra.get("quota_mode") or "per_endpoint")
    if mode not in ("per_endpoint", "shared"):
        raise SettingsError(f"connection {conn.conn_id!r}: quota_mode must be per_endpoint or shared")
    oauth = extra.get("quota_oauth_per_window")
    quota = QuotaSettings(
        per_window=_number(extra, "quota_per_window", 1000, conn.conn_id, int),
        window_s=_number(extra, "quota_window_s", 60.0, conn.conn_id, float),
        mode=mode,
        safety_margin=_number(extra, "quota_safety_margin", 0.05, conn.conn_id, float),
        oauth_per_window=None
        if oauth in (None, "")
        else _number(extra, "quota_oauth_per_window", 0, conn.conn_id, int),
    )
    tolerance = _number(extra, "webhook_tolerance_s", signatures.DEFAULT_TOLERANCE_S, conn.conn_id, int)
    if tolerance < signatures.RETRY_HORIZON_S:
        # TikTok retries a delivery for 72 h, maybe with its first timestamp: a shorter tolerance
        # would turn every late retry into a 401 and the event would be lost.
        raise SettingsError(
            f"connection {conn.conn_id!r}: extra webhook_tolerance_s={tolerance} is below TikTok's "
            f"72-hour retry horizon ({signatures.RETRY_HORIZON_S} s)"
        )
    return AppSettings(
        conn_id=conn.conn_id,
        base_url=base_url,
        client_key=conn.login,
        client_secret=Secret(conn.password),
        authorize_url=str(extra.get("authorize_url") or default_authorize),
        redirect_uri=extra.get("redirect_uri") or None,
        scopes=_scopes(extra["scopes"], conn.conn_id) if extra.get("scopes") else DEFAULT_SCOPES,
        webhook_tolerance_s=tolerance,
        timeout_s=_number(extra, "timeout_s", 30.0, conn.conn_id, float),
        max_retries=_number(extra, "max_retries", 4, conn.conn_id, int),
        quota=quota,
        oauth_cookie_secure=_flag(extra, "oauth_cookie_secure", True, conn.conn_id),
        reconsent_notice_days=_number(
            extra, "reconsent_notice_days", DEFAULT_RECONSENT_NOTICE_DAYS, conn.conn_id, int
        ),
    )


_DRIVERS = {"postgres": "postgresql+psycopg2", "postgresql": "postgresql+psycopg2"}


def _state_url(conn: ConnectionLike, extra: Mapping[str, Any]) -> str:
    if extra.get("url"):
        return str(extra["url"])
    conn_type = (conn.conn_type or "").lower()
    if conn_type == "sqlite":
        path = conn.host or conn.schema
        if not path:
            raise SettingsError(f"connection {conn.conn_id!r}: sqlite needs the database path in host")
        return f"sqlite:///{path}"
    if conn_type in _DRIVERS:
        if not conn.host:
            raise SettingsError(f"connection {conn.conn_id!r}: host is empty")
        auth = ""
        if conn.login:
            auth = quote(conn.login, safe="")
            if conn.password:
                auth += ":" + quote(conn.password, safe="")
            auth += "@"
        port = f":{conn.port}" if conn.port else ""
        return f"{_DRIVERS[conn_type]}://{auth}{conn.host}{port}/{conn.schema or ''}"
    raise SettingsError(
        f"connection {conn.conn_id!r}: set extra url to a SQLAlchemy URL, or use conn_type "
        f"postgres or sqlite (got conn_type {conn.conn_type!r})"
    )


def state_settings(conn: ConnectionLike, environ: Mapping[str, str] | None = None) -> StateSettings:
    """Read a ``tiktok_state``-style connection (and TIKTOK_FERNET_KEYS) into StateSettings."""
    env = os.environ if environ is None else environ
    extra = extra_of(conn)
    keys_value = extra.get("fernet_keys")
    if not keys_value:
        keys_value = env.get(FERNET_KEYS_ENV, "")
    keys = keys_value.split(",") if isinstance(keys_value, str) else list(keys_value)
    # No key is allowed: statuses are readable without one (the status view); the store refuses
    # only when a token is read or written, naming extra fernet_keys and the variable.
    fernet_keys = tuple(Secret(k.strip()) for k in keys if k and str(k).strip())
    return StateSettings(conn_id=conn.conn_id, url=Secret(_state_url(conn, extra)), fernet_keys=fernet_keys)
