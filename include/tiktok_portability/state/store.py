"""StateStore: grants and encrypted tokens, transfers, webhook events, watermarks, quota tables.

Every method is one short transaction. Writes that read first (transitions, leases, quota slots)
run as write transactions: ``BEGIN IMMEDIATE`` on SQLite, ``SELECT ... FOR UPDATE`` row locks on
PostgreSQL, so concurrent tasks on any number of workers never lose an update.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect

from tiktok_portability.clock import utcnow
from tiktok_portability.redact import Secret, fingerprint
from tiktok_portability.scopes import ongoing_categories, split_scopes
from tiktok_portability.state import migrations
from tiktok_portability.state.crypto import KEYS_ENV, TokenCipher, optional_cipher
from tiktok_portability.state.engine import WRITE_OPTION, create_engine, normalize_url
from tiktok_portability.state.env import URL_ENV
from tiktok_portability.state.errors import (
    DuplicateTransfer,
    GrantNotFound,
    InvalidTransition,
    KeyConfigError,
    LeaseLost,
    LockNotAcquired,
    TransferNotFound,
)
from tiktok_portability.state.lake_lock import lake_lock
from tiktok_portability.state.models import GRANT_STATUSES, Grant, QuotaDecision, Transfer, WebhookOutcome
from tiktok_portability.state.tables import (
    grants,
    oauth_states,
    quota_buckets,
    quota_calls,
    quota_usage,
    sync_batches,
    sync_runs,
    transfers,
    watermarks,
    webhook_counters,
    webhook_events,
)
from tiktok_portability.state.transitions import IN_FLIGHT, TIMESTAMP_COLUMN, TRANSFER_STATUSES, is_allowed

log = logging.getLogger(__name__)

DEFAULT_SQLITE_NAME = ".tiktok_state.db"
EVENT_DOWNLOAD_READY = "portability.download.ready"
EVENT_AUTHORIZATION_REMOVED = "authorization.removed"
REMOVAL_REASONS = {
    0: "unknown",
    1: "user disconnected",
    2: "account deleted",
    3: "age changed",
    4: "account banned",
    5: "developer revoked",
}
# Why a signed webhook delivery changed nothing. It is answered 200 all the same (TikTok would
# otherwise retry it for 72 hours), logged with the reason and counted in webhook_counters.
WEBHOOK_DUPLICATE = "duplicate"  # the same event again (a retry or a replay)
WEBHOOK_MALFORMED = "malformed"  # not a TikTok event body (the receiver's parse_event)
WEBHOOK_WRONG_CLIENT_KEY = "wrong_client_key"  # signed with our secret, for another client_key
WEBHOOK_UNKNOWN_EVENT = "unknown_event"  # an event type we do not act on (stored)
WEBHOOK_UNKNOWN_REQUEST = "unknown_request"  # no transfer holds the request_id (yet: kept)
WEBHOOK_UNKNOWN_USER = "unknown_user"  # a removal for a user we hold no live grant for
WEBHOOK_LATE_REMOVAL = "late_removal"  # a removal created before the user's latest consent
WEBHOOK_IGNORED_REASONS = (
    WEBHOOK_DUPLICATE,
    WEBHOOK_MALFORMED,
    WEBHOOK_WRONG_CLIENT_KEY,
    WEBHOOK_UNKNOWN_EVENT,
    WEBHOOK_UNKNOWN_REQUEST,
    WEBHOOK_UNKNOWN_USER,
    WEBHOOK_LATE_REMOVAL,
)
# pg_advisory_xact_lock key serialising concurrent migrate() calls (arbitrary, fixed).
_MIGRATION_LOCK_KEY = 0x7474_5354


class TokenLike(Protocol):
    """What the store needs from a token response (the client's TokenSet fits)."""

    access_token: Secret
    expires_at: datetime
    refresh_token: Secret
    refresh_expires_at: datetime
    token_type: str


def default_url(cwd: str | os.PathLike[str] | None = None) -> str:
    """``sqlite:///<cwd>/.tiktok_state.db``: next to where the command runs, like a local dev DB."""
    base = Path(cwd) if cwd is not None else Path.cwd()
    return f"sqlite:///{(base / DEFAULT_SQLITE_NAME).resolve()}"


def _insert(conn: sa.Connection, table: sa.Table):
    """A dialect-specific INSERT that supports ``on_conflict_do_*``."""
    if conn.dialect.name == "postgresql":
        return pg_dialect.insert(table)
    return sqlite_dialect.insert(table)


def _transfer_row(
    open_id: str, run_id: str, batch: int | None, categories: Sequence[str], data_format: str, now: datetime
) -> dict[str, Any]:
    """The columns every new transfer row starts with, whatever its first status."""
    return {
        "open_id": open_id,
        "run_id": run_id,
        "batch": batch,
        "categories": list(categories),
        "data_format": data_format,
        "created_at": now,
        "updated_at": now,
    }


def _lock_request(conn: sa.Connection, request_id: int) -> None:
    """Serialize the transactions that touch one request_id (PostgreSQL; SQLite writes are serial).

    The ready webhook and ``create_transfer`` each look for the other's row. Under READ COMMITTED
    both could miss each other and commit, leaving a ready event never applied; a transaction-scoped
    advisory lock on the request id makes the second one see the first.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(request_id)))


def _canonical_content(content: Any) -> tuple[str, Any]:
    """(canonical text, parsed object) of a webhook ``content`` field (a JSON string per TikTok)."""
    parsed: Any = content
    if isinstance(content, str | bytes):
        try:
            parsed = json.loads(content)
        except ValueError:
            text = content.decode() if isinstance(content, bytes) else content
            return text, None
    return json.dumps(parsed, sort_keys=True, separators=(",", ":")), parsed


class StateStore:
    """The project's state, shared by every task and worker. Build with from_url/from_env."""

    def __init__(self, engine: sa.Engine, cipher: TokenCipher | None, *, auto_migrate: bool = True) -> None:
        self.engine = engine
        # None: opened without a Fernet key. Statuses, transfers and runs hold no secret and stay
        # readable; only reading or writing a token needs the key (see ``_cipher``).
        self._token_cipher = cipher
        if auto_migrate and not self.schema_is_current():
            self.migrate()

    # -- construction ---------------------------------------------------------------------------

    @classmethod
    def from_url(
        cls,
        url: str,
        fernet_keys: Sequence[str | Secret] | str | None = None,
        *,
        auto_migrate: bool = True,
    ) -> StateStore:
        """A store on ``url``; keys default to ``TIKTOK_FERNET_KEYS`` (comma-separated, newest first)."""
        keys = fernet_keys if fernet_keys else os.environ.get(KEYS_ENV)
        return cls(create_engine(url), optional_cipher(keys), auto_migrate=auto_migrate)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, auto_migrate: bool = True) -> StateStore:
        """``TIKTOK_STATE_URL`` (default: ``.tiktok_state.db`` in the working directory) and keys."""
        env = os.environ if env is None else env
        url = env.get(URL_ENV) or default_url()
        return cls(create_engine(url), optional_cipher(env.get(KEYS_ENV)), auto_migrate=auto_migrate)

    @classmethod
    def from_connection(
        cls, uri: str, extra: Mapping[str, Any] | None = None, *, auto_migrate: bool = True
    ) -> StateStore:
        """From an Airflow Connection's ``get_uri()`` and ``extra_dejson`` (the hook calls this).

        ``extra["url"]`` overrides the URI (handy for SQLite files); ``extra["fernet_keys"]`` is a
        list or comma-separated string, falling back to ``TIKTOK_FERNET_KEYS``.
        """
        extra = dict(extra or {})
        url = extra.get("url") or normalize_url(uri)
        return cls.from_url(url, extra.get("fernet_keys"), auto_migrate=auto_migrate)

    def close(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        keys = self._token_cipher.key_count if self._token_cipher is not None else 0
        return f"StateStore(backend={self.engine.dialect.name}, keys={keys})"

    @property
    def _cipher(self) -> TokenCipher:
        """The token cipher; a store opened without a key refuses here, before any token is touched."""
        if self._token_cipher is None:
            raise KeyConfigError(
                f"reading or writing tokens needs a Fernet key: set {KEYS_ENV} (comma-separated, newest "
                "first) or the connection extra 'fernet_keys' (statuses can be read without one)"
            )
        return self._token_cipher

    def require_token_key(self) -> None:
        """Raise KeyConfigError unless tokens can be written: check before spending a one-time code."""
        self._cipher  # noqa: B018 (the property raises when there is no key)

    # -- transactions ---------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        with self.engine.connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                yield conn

    @contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    # -- the lake's writer lock --------------------------------------------------------------------

    @contextmanager
    def lake_lock(self, *, exclusive: bool) -> Iterator[None]:
        """The lake's writer lock (:func:`tiktok_portability.state.lake_lock.lake_lock`)."""
        with lake_lock(self.engine, exclusive=exclusive):
            yield

    # -- migrations -----------------------------------------------------------------------------

    def current_revision(self) -> str | None:
        try:
            with self._read() as conn:
                return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        except sa.exc.DBAPIError:
            return None

    def schema_is_current(self) -> bool:
        return self.current_revision() == migrations.HEAD_REVISION

    def migrate(self, revision: str = "head") -> str | None:
        """Run the packaged Alembic migrations; safe to call from several processes at once."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(Path(migrations.__file__).parent))
        with self.engine.connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_MIGRATION_LOCK_KEY)))
                config.attributes["connection"] = conn
                command.upgrade(config, revision)
        current = self.current_revision()
        log.info("state store migrated backend=%s revision=%s", self.engine.dialect.name, current)
        return current

    # -- grants ---------------------------------------------------------------------------------

    def _grant(self, row: sa.Row) -> Grant:
        what = f"grant {fingerprint(row.open_id)}"
        return Grant(
            open_id=row.open_id,
            scopes=list(row.scopes or []),
            status=row.status,
            status_reason=row.status_reason,
            access_token=self._cipher.decrypt(row.access_token_enc, what=f"{what} access token")
            if row.access_token_enc
            else None,
            access_expires_at=row.access_expires_at,
            refresh_token=self._cipher.decrypt(row.refresh_token_enc, what=f"{what} refresh token")
            if row.refresh_token_enc
            else None,
            refresh_expires_at=row.refresh_expires_at,
            token_type=row.token_type,
            refresh_started_at=row.refresh_started_at,
            last_refreshed_at=row.last_refreshed_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
            data_format=row.data_format,
            consented_at=row.consented_at,
        )

    def _token_values(self, tokens: TokenLike) -> dict[str, Any]:
        return {
            "access_token_enc": self._cipher.encrypt(tokens.access_token),
            "access_expires_at": tokens.expires_at,
            "refresh_token_enc": self._cipher.encrypt(tokens.refresh_token),
            "refresh_expires_at": tokens.refresh_expires_at,
            "token_type": tokens.token_type,
        }

    def upsert_grant(self, open_id: str, scopes: Iterable[str] | str, tokens: TokenLike) -> Grant:
        """Store a (re-)consent: new tokens, status active, any previous reason and flag cleared.

        The consent time is kept: an ``authorization.removed`` created before it is a late
        delivery about the previous consent and leaves this grant alone.
        """
        scope_list = split_scopes(scopes)
        now = utcnow()
        values = {
            "scopes": scope_list,
            "has_ongoing": bool(ongoing_categories(scope_list)),
            "status": "active",
            "status_reason": None,
            "refresh_started_at": None,
            "updated_at": now,
            "consented_at": now,
            **self._token_values(tokens),
        }
        # A grant parked as ineligible (region) stays parked: consent does not change the region.
        parked = grants.c.status == "ineligible"
        update = {
            **values,
            "status": sa.case((parked, grants.c.status), else_=values["status"]),
            "status_reason": sa.case((parked, grants.c.status_reason), else_=None),
        }
        with self._write() as conn:
            stmt = _insert(conn, grants).values(open_id=open_id, created_at=now, **values)
            conn.execute(stmt.on_conflict_do_update(index_elements=[grants.c.open_id], set_=update))
            row = conn.execute(sa.select(grants).where(grants.c.open_id == open_id)).one()
        log.info("grant stored open_id=%s scopes=%s", fingerprint(open_id), ",".join(scope_list))
        return self._grant(row)

    def find_grant(self, open_id: str) -> Grant | None:
        with self._read() as conn:
            row = conn.execute(sa.select(grants).where(grants.c.open_id == open_id)).first()
        return self._grant(row) if row else None

    def get_grant(self, open_id: str) -> Grant:
        grant = self.find_grant(open_id)
        if grant is None:
            raise GrantNotFound(f"no grant for open_id {fingerprint(open_id)}")
        return grant

    def list_grants(
        self, status: str | None = None, *, limit: int = 1000, after_open_id: str | None = None
    ) -> list[Grant]:
        """Grants ordered by open_id, optionally of one status; page with ``after_open_id``."""
        query = sa.select(grants).order_by(grants.c.open_id).limit(limit)
        if status is not None:
            query = query.where(grants.c.status == status)
        if after_open_id is not None:
            query = query.where(grants.c.open_id > after_open_id)
        with self._read() as conn:
            rows = conn.execute(query).all()
        return [self._grant(r) for r in rows]

    def grant_statuses(self, open_ids: Iterable[str]) -> dict[str, str]:
        """``{open_id: status}`` of the grants among ``open_ids`` (one query per 500 ids)."""
        ids = sorted(set(open_ids))
        found: dict[str, str] = {}
        with self._read() as conn:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                query = sa.select(grants.c.open_id, grants.c.status).where(grants.c.open_id.in_(chunk))
                found.update({open_id: status for open_id, status in conn.execute(query).all()})
        return found

    def due_grants(
        self,
        limit: int = 1000,
        after_open_id: str | None = None,
        open_ids: Iterable[str] | None = None,
    ) -> list[Grant]:
        """Active grants holding at least one ``.ongoing`` scope, by open_id (keyset pagination).

        needs_reauth, revoked and erased grants are left out. ``open_ids`` narrows to chosen users
        (Ops re-syncing a few); unknown ids are simply absent from the result.
        """
        query = (
            sa.select(grants)
            .where(grants.c.status == "active", grants.c.has_ongoing.is_(True))
            .order_by(grants.c.open_id)
            .limit(limit)
        )
        if after_open_id is not None:
            query = query.where(grants.c.open_id > after_open_id)
        if open_ids is not None:
            query = query.where(grants.c.open_id.in_(list(open_ids)))
        with self._read() as conn:
            rows = conn.execute(query).all()
        return [self._grant(r) for r in rows]

    def grant_counts(self) -> dict[str, int]:
        with self._read() as conn:
            rows = conn.execute(sa.select(grants.c.status, sa.func.count()).group_by(grants.c.status)).all()
        return {status: count for status, count in rows}

    def mark_grant(
        self, open_id: str, status: str, reason: str | None = None, *, lease_owner: str | None = None
    ) -> Grant:
        """Set a grant's status (with a reason). revoked/erased also wipe the stored tokens.

        ``lease_owner`` fences the write: it happens only while that refresh lease is still the
        grant's, else LeaseLost (a worker whose lease was taken over must not mark a grant
        another worker has since refreshed).
        """
        if status not in GRANT_STATUSES:
            raise ValueError(f"grant status {status!r} is not one of {', '.join(GRANT_STATUSES)}")
        values: dict[str, Any] = {
            "status": status,
            "status_reason": reason,
            "refresh_started_at": None,
            "updated_at": utcnow(),
        }
        if status in ("revoked", "erased"):
            values.update(
                access_token_enc=None, refresh_token_enc=None, lock_owner=None, lock_expires_at=None
            )
        where = [grants.c.open_id == open_id]
        if lease_owner is not None:
            where.append(grants.c.lock_owner == lease_owner)
        with self._write() as conn:
            result = conn.execute(sa.update(grants).where(*where).values(**values))
            if result.rowcount == 0:
                found = conn.execute(sa.select(grants.c.open_id).where(grants.c.open_id == open_id)).first()
                if found is None:
                    raise GrantNotFound(f"no grant for open_id {fingerprint(open_id)}")
                raise LeaseLost(
                    f"refresh lease on grant {fingerprint(open_id)} was taken over: not marking it {status}"
                )
            if status == "erased":
                conn.execute(sa.delete(watermarks).where(watermarks.c.open_id == open_id))
            row = conn.execute(sa.select(grants).where(grants.c.open_id == open_id)).one()
        log.info("grant marked open_id=%s status=%s reason=%s", fingerprint(open_id), status, reason)
        return self._grant(row)

    def revoke_grant(self, open_id: str, reason: str = "revoked by operator") -> Grant:
        return self.mark_grant(open_id, "revoked", reason)

    def erase_grant(self, open_id: str, reason: str = "erasure requested") -> Grant:
        """GDPR erasure of the state side: tokens and watermarks go; transfers stay as the audit trail."""
        return self.mark_grant(open_id, "erased", reason)

    def grants_expiring(self, before: datetime, *, limit: int = 1000) -> list[Grant]:
        """Active grants to refresh: access token expiring before ``before`` (or without expiry), or
        with an unfinished refresh to recover. Soonest first."""
        query = (
            sa.select(grants)
            .where(
                grants.c.status == "active",
                sa.or_(
                    grants.c.access_expires_at.is_(None),
                    grants.c.access_expires_at < before,
                    grants.c.refresh_started_at.is_not(None),
                ),
            )
            .order_by(grants.c.access_expires_at, grants.c.open_id)
            .limit(limit)
        )
        with self._read() as conn:
            rows = conn.execute(query).all()
        return [self._grant(r) for r in rows]

    def rotate_keys(self, *, page_size: int = 500) -> int:
        """Re-encrypt every stored token with the newest key; returns the number of grants touched."""
        done = 0
        after = ""
        while True:
            with self._write() as conn:
                rows = conn.execute(
                    sa.select(grants.c.open_id, grants.c.access_token_enc, grants.c.refresh_token_enc)
                    .where(grants.c.open_id > after)
                    .order_by(grants.c.open_id)
                    .limit(page_size)
                    .with_for_update()
                ).all()
                for row in rows:
                    what = f"grant {fingerprint(row.open_id)}"
                    values = {}
                    if row.access_token_enc:
                        values["access_token_enc"] = self._cipher.rotate(row.access_token_enc, what=what)
                    if row.refresh_token_enc:
                        values["refresh_token_enc"] = self._cipher.rotate(row.refresh_token_enc, what=what)
                    if values:
                        conn.execute(
                            sa.update(grants).where(grants.c.open_id == row.open_id).values(**values)
                        )
                        done += 1
            if len(rows) < page_size:
                break
            after = rows[-1].open_id
        log.info("token keys rotated grants=%d", done)
        return done

    # -- refresh lease and two-phase refresh -----------------------------------------------------

    def try_lock_refresh(self, open_id: str, owner: str, lease_s: float = 120.0) -> bool:
        """Take the grant's refresh lease unless another owner holds an unexpired one."""
        now = utcnow()
        with self._write() as conn:
            result = conn.execute(
                sa.update(grants)
                .where(
                    grants.c.open_id == open_id,
                    sa.or_(
                        grants.c.lock_owner.is_(None),
                        grants.c.lock_owner == owner,
                        grants.c.lock_expires_at < now,
                    ),
                )
                .values(lock_owner=owner, lock_expires_at=now + timedelta(seconds=lease_s))
            )
            if result.rowcount == 1:
                return True
            exists = conn.execute(sa.select(grants.c.open_id).where(grants.c.open_id == open_id)).first()
        if exists is None:
            raise GrantNotFound(f"no grant for open_id {fingerprint(open_id)}")
        return False

    def release_refresh_lock(self, open_id: str, owner: str) -> None:
        with self._write() as conn:
            conn.execute(
                sa.update(grants)
                .where(grants.c.open_id == open_id, grants.c.lock_owner == owner)
                .values(lock_owner=None, lock_expires_at=None)
            )

    @contextmanager
    def refresh_lock(
        self,
        open_id: str,
        *,
        owner: str | None = None,
        lease_s: float = 120.0,
        wait_s: float = 30.0,
        poll_s: float = 0.1,
    ) -> Iterator[Grant]:
        """Single-flight per grant: hold the lease, yield the grant as re-read under it.

        The lease expires after ``lease_s`` so a crashed worker's lock is reclaimed; make it longer
        than one refresh call with its retries. Raises LockNotAcquired after ``wait_s``.
        """
        # Unique per acquisition: the owner is the lease's fencing token (see mark_grant).
        owner = f"{owner or socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        deadline = time.monotonic() + wait_s
        while True:
            asked_at = utcnow()  # the lease ends no earlier than asked_at + lease_s
            if self.try_lock_refresh(open_id, owner, lease_s):
                break
            if time.monotonic() >= deadline:
                raise LockNotAcquired(
                    f"refresh lease for grant {fingerprint(open_id)} held by another worker "
                    f"for over {wait_s}s"
                )
            time.sleep(poll_s * (0.5 + random.random()))
        try:
            yield replace(
                self.get_grant(open_id),
                lease_owner=owner,
                lease_expires_at=asked_at + timedelta(seconds=lease_s),
            )
        finally:
            self.release_refresh_lock(open_id, owner)

    def begin_refresh(self, open_id: str) -> None:
        """Phase one: flag that a refresh call is about to go out (kept if already set)."""
        with self._write() as conn:
            conn.execute(
                sa.update(grants)
                .where(grants.c.open_id == open_id)
                .values(refresh_started_at=sa.func.coalesce(grants.c.refresh_started_at, utcnow()))
            )

    def abort_refresh(self, open_id: str, *, lease_owner: str | None = None) -> None:
        """Clear the in-progress flag when the call provably never reached TikTok's token logic.

        Fenced by ``lease_owner`` like mark_grant: a worker that lost its lease leaves the flag to
        the new holder (silently: the flag only ever errs on the safe side).
        """
        where = [grants.c.open_id == open_id]
        if lease_owner is not None:
            where.append(grants.c.lock_owner == lease_owner)
        with self._write() as conn:
            conn.execute(sa.update(grants).where(*where).values(refresh_started_at=None))

    def complete_refresh(self, open_id: str, tokens: TokenLike, scopes: Iterable[str] | None = None) -> Grant:
        """Phase two: the new token pair and the cleared flag, in one transaction.

        The rotated refresh token is the only valid one, so it is written even when the status
        changed meanwhile; a needs_reauth grant becomes active again (the tokens work), a revoked
        or erased one stays as it is.
        """
        now = utcnow()
        values: dict[str, Any] = {
            **self._token_values(tokens),
            "refresh_started_at": None,
            "last_refreshed_at": now,
            "updated_at": now,
        }
        scope_list = split_scopes(scopes) if scopes else []
        if scope_list:
            values.update(scopes=scope_list, has_ongoing=bool(ongoing_categories(scope_list)))
        with self._write() as conn:
            row = conn.execute(
                sa.select(grants.c.status).where(grants.c.open_id == open_id).with_for_update()
            ).first()
            if row is None:
                raise GrantNotFound(f"no grant for open_id {fingerprint(open_id)}")
            if row.status in ("revoked", "erased"):
                log.warning(
                    "refreshed tokens discarded: grant open_id=%s is %s", fingerprint(open_id), row.status
                )
                values = {"refresh_started_at": None, "updated_at": now}
            elif row.status == "needs_reauth":
                values.update(status="active", status_reason=None)
            conn.execute(sa.update(grants).where(grants.c.open_id == open_id).values(**values))
            fresh = conn.execute(sa.select(grants).where(grants.c.open_id == open_id)).one()
        return self._grant(fresh)

    # -- transfers ------------------------------------------------------------------------------

    @staticmethod
    def _transfer(row: sa.Row) -> Transfer:
        return Transfer(**{name: getattr(row, name) for name in Transfer.__dataclass_fields__})

    def create_transfer(
        self,
        open_id: str,
        run_id: str,
        categories: Sequence[str],
        request_id: int,
        *,
        batch: int | None = None,
        data_format: str = "json",
    ) -> Transfer:
        """Record a submitted data request. Idempotent on request_id for the same user.

        A ``portability.download.ready`` webhook that arrived before this row existed (TikTok can
        be faster than our commit) is applied here, so the transfer starts out ready.
        """
        if not isinstance(request_id, int) or isinstance(request_id, bool):
            raise TypeError(f"request_id must be an int, got {type(request_id).__name__}")
        now = utcnow()
        with self._write() as conn:
            _lock_request(conn, request_id)
            stmt = _insert(conn, transfers).values(
                **_transfer_row(open_id, run_id, batch, categories, data_format, now),
                request_id=request_id,
                status="requested",
                attempts=0,
                requested_at=now,
            )
            conn.execute(stmt.on_conflict_do_nothing(index_elements=[transfers.c.request_id]))
            row = conn.execute(
                sa.select(transfers).where(transfers.c.request_id == request_id).with_for_update()
            ).one()
            if row.open_id != open_id:
                raise DuplicateTransfer(
                    f"request_id {request_id} already belongs to a transfer of another user ({row.id})"
                )
            early = conn.execute(
                sa.select(webhook_events.c.id).where(
                    webhook_events.c.request_id == request_id,
                    webhook_events.c.event == EVENT_DOWNLOAD_READY,
                    webhook_events.c.applied.is_(False),
                )
            ).all()
            if early and row.status == "requested":
                conn.execute(
                    sa.update(transfers)
                    .where(transfers.c.id == row.id)
                    .values(status="ready", ready_at=now, updated_at=now)
                )
            if early:
                conn.execute(
                    sa.update(webhook_events)
                    .where(webhook_events.c.id.in_([e.id for e in early]))
                    .values(
                        applied=True,
                        transfer_id=row.id,
                        user_openid=sa.func.coalesce(webhook_events.c.user_openid, open_id),
                    )
                )
            row = conn.execute(sa.select(transfers).where(transfers.c.id == row.id)).one()
        log.info(
            "transfer created id=%s open_id=%s request_id=%s run_id=%s status=%s",
            row.id,
            fingerprint(open_id),
            request_id,
            run_id,
            row.status,
        )
        return self._transfer(row)

    def record_failed_request(
        self,
        open_id: str,
        run_id: str,
        categories: Sequence[str],
        reason: str,
        *,
        batch: int | None = None,
        data_format: str = "json",
    ) -> Transfer:
        """A data request that could not be submitted (no request_id): a failed transfer with a reason."""
        if not reason:
            raise ValueError("record_failed_request needs a reason")
        now = utcnow()
        with self._write() as conn:
            result = conn.execute(
                sa.insert(transfers)
                .values(
                    **_transfer_row(open_id, run_id, batch, categories, data_format, now),
                    request_id=None,
                    status="failed",
                    attempts=1,
                    failure_reason=reason,
                    failed_at=now,
                )
                .returning(transfers)
            )
            row = result.one()
        return self._transfer(row)

    def get_transfer(self, transfer_id: int) -> Transfer:
        with self._read() as conn:
            row = conn.execute(sa.select(transfers).where(transfers.c.id == transfer_id)).first()
        if row is None:
            raise TransferNotFound(f"no transfer with id {transfer_id}")
        return self._transfer(row)

    def transfer_by_request_id(self, request_id: int) -> Transfer | None:
        with self._read() as conn:
            row = conn.execute(sa.select(transfers).where(transfers.c.request_id == request_id)).first()
        return self._transfer(row) if row else None

    def in_flight_transfer(self, open_id: str) -> Transfer | None:
        """The user's requested/ready transfer, if any: a retried task reuses it instead of re-submitting."""
        with self._read() as conn:
            row = conn.execute(
                sa.select(transfers)
                .where(transfers.c.open_id == open_id, transfers.c.status.in_(IN_FLIGHT))
                .order_by(transfers.c.id.desc())
                .limit(1)
            ).first()
        return self._transfer(row) if row else None

    def transition(
        self,
        transfer_id: int,
        new_status: str,
        *,
        reason: str | None = None,
        raw_location: str | None = None,
        raw_size: int | None = None,
        raw_sha256: str | None = None,
        normalize_counts: Mapping[str, Any] | None = None,
    ) -> Transfer:
        """Move a transfer to ``new_status`` (see transitions.ALLOWED) and stamp the step's time.

        Re-applying the current status is a no-op, so at-least-once callers (webhook + poller, a
        retried task) are safe. ``failed`` needs a reason; ``downloaded`` needs the raw archive's
        location, size and sha256 (unless the row has them from an earlier download).
        """
        if new_status not in TRANSFER_STATUSES:
            raise InvalidTransition(transfer_id, "?", new_status, "unknown status")
        now = utcnow()
        with self._write() as conn:
            row = conn.execute(
                sa.select(transfers).where(transfers.c.id == transfer_id).with_for_update()
            ).first()
            if row is None:
                raise TransferNotFound(f"no transfer with id {transfer_id}")
            if row.status == new_status:
                return self._transfer(row)
            if not is_allowed(row.status, new_status):
                raise InvalidTransition(transfer_id, row.status, new_status)
            values: dict[str, Any] = {
                "status": new_status,
                TIMESTAMP_COLUMN[new_status]: now,
                "updated_at": now,
            }
            if new_status == "failed":
                if not reason:
                    raise InvalidTransition(
                        transfer_id, row.status, new_status, "a failure reason is required"
                    )
                values["failure_reason"] = reason
            elif reason:
                values["failure_reason"] = reason
            elif row.status == "failed":
                values["failure_reason"] = None
            if new_status == "downloaded":
                location = raw_location or row.raw_location
                size = raw_size if raw_size is not None else row.raw_size
                sha = raw_sha256 or row.raw_sha256
                if not location or size is None or not sha:
                    raise InvalidTransition(
                        transfer_id,
                        row.status,
                        new_status,
                        "raw_location, raw_size and raw_sha256 are required",
                    )
                values.update(raw_location=location, raw_size=size, raw_sha256=sha)
            if normalize_counts is not None:
                values["normalize_counts"] = dict(normalize_counts)
            conn.execute(sa.update(transfers).where(transfers.c.id == transfer_id).values(**values))
            row = conn.execute(sa.select(transfers).where(transfers.c.id == transfer_id)).one()
        log.info(
            "transfer transition id=%s request_id=%s status=%s reason=%s",
            transfer_id,
            row.request_id,
            new_status,
            reason,
        )
        return self._transfer(row)

    def record_attempt(self, transfer_id: int) -> int:
        """Count one more attempt (download/normalize try); returns the new count."""
        with self._write() as conn:
            result = conn.execute(
                sa.update(transfers)
                .where(transfers.c.id == transfer_id)
                .values(attempts=transfers.c.attempts + 1, updated_at=utcnow())
                .returning(transfers.c.attempts)
            )
            attempts = result.scalar()
        if attempts is None:
            raise TransferNotFound(f"no transfer with id {transfer_id}")
        return int(attempts)

    def list_transfers(
        self,
        *,
        status: str | None = None,
        open_id: str | None = None,
        run_id: str | None = None,
        batch: int | None = None,
        limit: int = 1000,
        after_id: int | None = None,
    ) -> list[Transfer]:
        """Transfers by id, filtered; page with ``after_id``."""
        query = sa.select(transfers).order_by(transfers.c.id).limit(limit)
        if status is not None:
            query = query.where(transfers.c.status == status)
        if open_id is not None:
            query = query.where(transfers.c.open_id == open_id)
        if run_id is not None:
            query = query.where(transfers.c.run_id == run_id)
        if batch is not None:
            query = query.where(transfers.c.batch == batch)
        if after_id is not None:
            query = query.where(transfers.c.id > after_id)
        with self._read() as conn:
            rows = conn.execute(query).all()
        return [self._transfer(r) for r in rows]

    def transfers_for_run(self, run_id: str, batch: int | None = None) -> list[Transfer]:
        return self.list_transfers(run_id=run_id, batch=batch, limit=1_000_000)

    def transfer_counts(self, run_id: str | None = None) -> dict[str, int]:
        """Transfers per status (of one run, or all)."""
        query = sa.select(transfers.c.status, sa.func.count()).group_by(transfers.c.status)
        if run_id is not None:
            query = query.where(transfers.c.run_id == run_id)
        with self._read() as conn:
            return {status: count for status, count in conn.execute(query).all()}

    def failure_counts(self, run_id: str | None = None) -> dict[str, int]:
        """Failed transfers per failure reason (of one run, or all), for run summaries."""
        query = (
            sa.select(transfers.c.failure_reason, sa.func.count())
            .where(transfers.c.status == "failed")
            .group_by(transfers.c.failure_reason)
        )
        if run_id is not None:
            query = query.where(transfers.c.run_id == run_id)
        with self._read() as conn:
            return {reason or "": count for reason, count in conn.execute(query).all()}

    # -- webhook events -------------------------------------------------------------------------

    @staticmethod
    def webhook_dedupe_key(event: str, user_openid: str | None, create_time: int, content: Any) -> str:
        """The event's identity: a retried or replayed delivery has the same key.

        A ``portability.download.ready`` is identified by its content (the request_id), not by a
        user: TikTok's own example of it has no ``user_openid``.
        """
        canonical, _ = _canonical_content(content)
        content_hash = hashlib.sha256(canonical.encode()).hexdigest()
        who = "" if event == EVENT_DOWNLOAD_READY else (user_openid or "")
        return hashlib.sha256(f"{event}\n{who}\n{create_time}\n{content_hash}".encode()).hexdigest()

    def record_webhook_event(self, payload: Mapping[str, Any]) -> WebhookOutcome:
        """Store a (signature-checked) webhook body once and apply it; falsy for a repeated delivery.

        ``portability.download.ready`` is routed by ``content.request_id`` (``user_openid`` is
        optional): it marks the transfer with that request_id ready, or is kept until
        create_transfer sees it. ``authorization.removed`` marks the user's grant revoked, unless it
        was created before the grant's latest consent (a late delivery: recorded, not applied).
        An outcome that changed nothing carries a ``reason`` and is counted (``webhook_counts``).
        """
        try:
            event = str(payload["event"])
            create_time = int(payload["create_time"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"webhook body lacks a valid event/create_time: {exc}") from None
        user_openid = payload.get("user_openid") or None
        if user_openid is not None:
            user_openid = str(user_openid)
        content = payload.get("content", "")
        canonical, parsed = _canonical_content(content)
        request_id = parsed.get("request_id") if isinstance(parsed, dict) else None
        if not isinstance(request_id, int) or isinstance(request_id, bool) or not 0 < request_id < 2**63:
            request_id = None
        key = self.webhook_dedupe_key(event, user_openid, create_time, content)
        now = utcnow()
        with self._write() as conn:
            if request_id is not None:
                _lock_request(conn, request_id)
            inserted = conn.execute(
                _insert(conn, webhook_events)
                .values(
                    dedupe_key=key,
                    event=event,
                    user_openid=user_openid,
                    create_time=create_time,
                    content=canonical,
                    request_id=request_id,
                    applied=False,
                    received_at=now,
                )
                .on_conflict_do_nothing(index_elements=[webhook_events.c.dedupe_key])
                .returning(webhook_events.c.id)
            ).first()
            if inserted is None:
                outcome = WebhookOutcome(False, event, False, None, "duplicate delivery", WEBHOOK_DUPLICATE)
            else:
                outcome = self._apply_webhook(
                    conn, inserted[0], event, user_openid, create_time, parsed, request_id, now
                )
            if outcome.reason is not None:
                self._count_webhook(conn, outcome.reason, now)
        log.info(
            "webhook recorded event=%s open_id=%s request_id=%s first_time=%s applied=%s reason=%s detail=%s",
            event,
            fingerprint(user_openid) if user_openid else "-",
            request_id,
            outcome.first_time,
            outcome.applied,
            outcome.reason or "-",
            outcome.detail,
        )
        return outcome

    def _apply_webhook(
        self,
        conn: sa.Connection,
        event_id: int,
        event: str,
        user_openid: str | None,
        create_time: int,
        parsed: Any,
        request_id: int | None,
        now: datetime,
    ) -> WebhookOutcome:
        def applied(transfer_id: int | None = None, **values: Any) -> None:
            conn.execute(
                sa.update(webhook_events)
                .where(webhook_events.c.id == event_id)
                .values(applied=True, transfer_id=transfer_id, **values)
            )

        if event == EVENT_DOWNLOAD_READY:
            if request_id is None:
                return WebhookOutcome(True, event, False, None, "no content.request_id", WEBHOOK_MALFORMED)
            row = conn.execute(
                sa.select(transfers).where(transfers.c.request_id == request_id).with_for_update()
            ).first()
            if row is None:
                return WebhookOutcome(
                    True,
                    event,
                    False,
                    None,
                    "no transfer holds this request_id; applied if one is created",
                    WEBHOOK_UNKNOWN_REQUEST,
                )
            if is_allowed(row.status, "ready"):
                conn.execute(
                    sa.update(transfers)
                    .where(transfers.c.id == row.id)
                    .values(status="ready", ready_at=now, failure_reason=None, updated_at=now)
                )
                detail = f"transfer {row.id} {row.status} -> ready"
            else:
                detail = f"transfer {row.id} already {row.status}"
            applied(row.id, user_openid=user_openid or row.open_id)
            return WebhookOutcome(True, event, True, row.id, detail)
        if event == EVENT_AUTHORIZATION_REMOVED:
            if user_openid is None:
                return WebhookOutcome(True, event, False, None, "no user_openid", WEBHOOK_MALFORMED)
            grant = conn.execute(
                sa.select(grants.c.status, grants.c.consented_at)
                .where(grants.c.open_id == user_openid)
                .with_for_update()
            ).first()
            if grant is None or grant.status == "erased":
                return WebhookOutcome(True, event, False, None, "no live grant", WEBHOOK_UNKNOWN_USER)
            # create_time has whole seconds: a removal in the second of the consent still applies.
            if grant.consented_at is not None and create_time < int(grant.consented_at.timestamp()):
                # Retried for up to 72 h (our own revoke produces one too): the user has consented
                # again since this removal, and the renewed grant must stay.
                return WebhookOutcome(
                    True,
                    event,
                    False,
                    None,
                    f"created before the latest consent ({grant.consented_at.isoformat(timespec='seconds')})",
                    WEBHOOK_LATE_REMOVAL,
                )
            code = parsed.get("reason") if isinstance(parsed, dict) else None
            label = REMOVAL_REASONS.get(code, "unknown") if isinstance(code, int) else "unknown"
            conn.execute(
                sa.update(grants)
                .where(grants.c.open_id == user_openid)
                .values(
                    status="revoked",
                    status_reason=f"authorization.removed: {label}",
                    access_token_enc=None,
                    refresh_token_enc=None,
                    refresh_started_at=None,
                    updated_at=now,
                )
            )
            applied()
            return WebhookOutcome(True, event, True, None, "grant revoked")
        return WebhookOutcome(True, event, False, None, "stored, nothing to apply", WEBHOOK_UNKNOWN_EVENT)

    def _count_webhook(self, conn: sa.Connection, reason: str, now: datetime) -> None:
        conn.execute(
            _insert(conn, webhook_counters)
            .values(reason=reason, count=1, last_at=now)
            .on_conflict_do_update(
                index_elements=[webhook_counters.c.reason],
                set_={"count": webhook_counters.c.count + 1, "last_at": now},
            )
        )

    def count_webhook(self, reason: str) -> None:
        """Count a signed delivery the receiver could not use at all (e.g. ``malformed``)."""
        if reason not in WEBHOOK_IGNORED_REASONS:
            raise ValueError(f"unknown webhook reason {reason!r}: one of {WEBHOOK_IGNORED_REASONS}")
        with self._write() as conn:
            self._count_webhook(conn, reason, utcnow())

    def webhook_counts(self) -> dict[str, int]:
        """Signed deliveries that changed nothing, by reason (see ``WEBHOOK_IGNORED_REASONS``)."""
        with self._read() as conn:
            rows = conn.execute(sa.select(webhook_counters.c.reason, webhook_counters.c.count)).all()
        return {reason: int(count) for reason, count in rows}

    def webhook_event_totals(self) -> dict[str, dict[str, int]]:
        """Stored webhook events per event type: ``{"stored": n, "applied": m}``."""
        query = sa.select(
            webhook_events.c.event,
            sa.func.count(),
            sa.func.sum(sa.case((webhook_events.c.applied.is_(True), 1), else_=0)),
        ).group_by(webhook_events.c.event)
        with self._read() as conn:
            rows = conn.execute(query).all()
        return {event: {"stored": int(n), "applied": int(done or 0)} for event, n, done in rows}

    def webhook_event_count(self, event: str | None = None) -> int:
        query = sa.select(sa.func.count()).select_from(webhook_events)
        if event is not None:
            query = query.where(webhook_events.c.event == event)
        with self._read() as conn:
            return int(conn.execute(query).scalar() or 0)

    # -- watermarks -----------------------------------------------------------------------------

    def get_watermark(self, open_id: str, table: str) -> str | None:
        with self._read() as conn:
            return conn.execute(
                sa.select(watermarks.c.value).where(
                    watermarks.c.open_id == open_id, watermarks.c.table_name == table
                )
            ).scalar()

    def get_watermarks(self, open_id: str) -> dict[str, str]:
        with self._read() as conn:
            rows = conn.execute(
                sa.select(watermarks.c.table_name, watermarks.c.value).where(watermarks.c.open_id == open_id)
            ).all()
        return {table: value for table, value in rows}

    def set_watermark(self, open_id: str, table: str, value: str) -> None:
        """Store the lake writer's cursor for (user, table); the value is opaque text to the store."""
        now = utcnow()
        with self._write() as conn:
            stmt = _insert(conn, watermarks).values(
                open_id=open_id, table_name=table, value=value, updated_at=now
            )
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[watermarks.c.open_id, watermarks.c.table_name],
                    set_={"value": value, "updated_at": now},
                )
            )

    # -- quota (used by tiktok_portability.quota) ----------------------------------------------

    def _lock_bucket(self, conn: sa.Connection, bucket: str) -> float:
        conn.execute(
            _insert(conn, quota_buckets)
            .values(bucket=bucket, paused_until=0.0)
            .on_conflict_do_nothing(index_elements=[quota_buckets.c.bucket])
        )
        return float(
            conn.execute(
                sa.select(quota_buckets.c.paused_until)
                .where(quota_buckets.c.bucket == bucket)
                .with_for_update()
            ).scalar_one()
        )

    def quota_try_acquire(self, bucket: str, limit: int, window_s: float) -> QuotaDecision:
        """Take one slot in ``bucket`` if fewer than ``limit`` calls fell in the last ``window_s``.

        One short write transaction holding the bucket's lock, so the count and the insert are
        atomic across every process. Otherwise says how long until the oldest call in the window
        that blocks us leaves it (or the global pause ends).
        """
        with self._write() as conn:
            paused_until = self._lock_bucket(conn, bucket)
            now = time.time()  # read after the lock: a stale "now" would backdate the slot
            if paused_until > now:
                return QuotaDecision(granted=False, wait_s=paused_until - now, paused=True)
            cutoff = now - window_s
            in_window = sa.and_(quota_calls.c.bucket == bucket, quota_calls.c.ts > cutoff)
            count, newest = conn.execute(
                sa.select(sa.func.count(), sa.func.max(quota_calls.c.ts)).where(in_window)
            ).one()
            if count < limit:
                ts = max(now, newest or 0.0)  # keep the log monotonic even if clocks differ a little
                conn.execute(sa.insert(quota_calls).values(bucket=bucket, ts=ts))
                minute = int(ts // 60) * 60
                conn.execute(
                    _insert(conn, quota_usage)
                    .values(bucket=bucket, minute=minute, calls=1)
                    .on_conflict_do_update(
                        index_elements=[quota_usage.c.bucket, quota_usage.c.minute],
                        set_={"calls": quota_usage.c.calls + 1},
                    )
                )
                if random.random() < 0.05:
                    conn.execute(
                        sa.delete(quota_calls).where(
                            quota_calls.c.bucket == bucket, quota_calls.c.ts <= cutoff
                        )
                    )
                return QuotaDecision(granted=True, granted_at=ts)
            blocking = conn.execute(
                sa.select(quota_calls.c.ts)
                .where(in_window)
                .order_by(quota_calls.c.ts)
                .offset(count - limit)
                .limit(1)
            ).scalar_one()
            return QuotaDecision(granted=False, wait_s=max(0.0, blocking + window_s - now))

    def quota_pause(self, bucket: str, until_ts: float) -> float:
        """Pause a bucket for every process until ``until_ts`` (never shortens a pause)."""
        with self._write() as conn:
            current = self._lock_bucket(conn, bucket)
            until = max(current, until_ts)
            conn.execute(
                sa.update(quota_buckets).where(quota_buckets.c.bucket == bucket).values(paused_until=until)
            )
        return until

    def quota_usage(self, since: datetime | None = None, bucket: str | None = None) -> dict[str, int]:
        """Calls granted per bucket since ``since`` (minute resolution), for run summaries."""
        query = sa.select(quota_usage.c.bucket, sa.func.sum(quota_usage.c.calls)).group_by(
            quota_usage.c.bucket
        )
        if since is not None:
            query = query.where(quota_usage.c.minute >= int(since.timestamp() // 60) * 60)
        if bucket is not None:
            query = query.where(quota_usage.c.bucket == bucket)
        with self._read() as conn:
            return {name: int(total) for name, total in conn.execute(query).all()}

    def quota_usage_by_minute(self, bucket: str, since: datetime | None = None) -> list[tuple[datetime, int]]:
        query = sa.select(quota_usage.c.minute, quota_usage.c.calls).where(quota_usage.c.bucket == bucket)
        if since is not None:
            query = query.where(quota_usage.c.minute >= int(since.timestamp() // 60) * 60)
        with self._read() as conn:
            rows = conn.execute(query.order_by(quota_usage.c.minute)).all()
        return [(datetime.fromtimestamp(minute, tz=utcnow().tzinfo), calls) for minute, calls in rows]

    # -- sync run plans -------------------------------------------------------------------------

    def save_run_plan(
        self,
        run_id: str,
        snapshot_date: date | str,
        mode: str,
        batches: Sequence[Sequence[str]],
        left_out: Sequence[Mapping[str, Any]] = (),
    ) -> list[int]:
        """Save a run's batches once; a second call for the same run returns the first plan.

        ``left_out``: the requested users the plan did not take, each ``{"fingerprint", "index",
        "reason"}`` (never an open_id: the summary that shows them is logged).
        """
        now = utcnow()
        with self._write() as conn:
            inserted = conn.execute(
                _insert(conn, sync_runs)
                .values(
                    run_id=run_id,
                    snapshot_date=str(snapshot_date),
                    mode=mode,
                    users=sum(len(b) for b in batches),
                    batches=len(batches),
                    created_at=now,
                    left_out=[dict(entry) for entry in left_out],
                )
                .on_conflict_do_nothing(index_elements=[sync_runs.c.run_id])
            )
            if inserted.rowcount:
                if batches:
                    conn.execute(
                        sa.insert(sync_batches),
                        [{"run_id": run_id, "batch": i, "open_ids": list(b)} for i, b in enumerate(batches)],
                    )
                return list(range(len(batches)))
        return self.run_batches(run_id)

    def run_plan(self, run_id: str) -> dict[str, Any] | None:
        """The saved plan's header: snapshot_date, mode, users, batches, created_at, left_out."""
        with self._read() as conn:
            row = conn.execute(sa.select(sync_runs).where(sync_runs.c.run_id == run_id)).first()
        return dict(row._mapping) if row else None

    def run_batches(self, run_id: str) -> list[int]:
        with self._read() as conn:
            rows = conn.execute(
                sa.select(sync_batches.c.batch)
                .where(sync_batches.c.run_id == run_id)
                .order_by(sync_batches.c.batch)
            ).all()
        return [r.batch for r in rows]

    def batch_members(self, run_id: str, batch: int) -> list[str]:
        with self._read() as conn:
            value = conn.execute(
                sa.select(sync_batches.c.open_ids).where(
                    sync_batches.c.run_id == run_id, sync_batches.c.batch == batch
                )
            ).scalar()
        if value is None:
            raise KeyError(f"run {run_id!r} has no batch {batch}")
        return list(value)

    def failed_open_ids(self, snapshot_date: date | str) -> list[str]:
        """Users whose latest transfer in the runs of ``snapshot_date`` did not end normalized
        (failed, expired or cancelled), by open_id: what ``retry_failed`` re-syncs."""
        latest = (
            sa.select(sa.func.max(transfers.c.id).label("id"))
            .join(sync_runs, sync_runs.c.run_id == transfers.c.run_id)
            .where(sync_runs.c.snapshot_date == str(snapshot_date), sync_runs.c.mode == "sync")
            .group_by(transfers.c.open_id)
            .subquery()
        )
        with self._read() as conn:
            rows = conn.execute(
                sa.select(transfers.c.open_id)
                .join(latest, latest.c.id == transfers.c.id)
                .where(transfers.c.status.in_(("failed", "expired", "cancelled")))
                .order_by(transfers.c.open_id)
            ).all()
        return [r.open_id for r in rows]

    def adopt_transfer(self, transfer_id: int, run_id: str, batch: int | None) -> Transfer:
        """Move an in-flight transfer from an earlier run into this one (it was not ready in time)."""
        with self._write() as conn:
            conn.execute(
                sa.update(transfers)
                .where(transfers.c.id == transfer_id, transfers.c.status.in_(IN_FLIGHT))
                .values(run_id=run_id, batch=batch, updated_at=utcnow())
            )
            row = conn.execute(sa.select(transfers).where(transfers.c.id == transfer_id)).one()
        log.info("transfer adopted id=%s request_id=%s run_id=%s", transfer_id, row.request_id, run_id)
        return self._transfer(row)

    def latest_transfer(self, open_id: str) -> Transfer | None:
        """The user's newest transfer of any status (what the last run left behind)."""
        with self._read() as conn:
            row = conn.execute(
                sa.select(transfers)
                .where(transfers.c.open_id == open_id)
                .order_by(transfers.c.id.desc())
                .limit(1)
            ).first()
        return self._transfer(row) if row else None

    def unclaimed_ready_request(self, open_id: str, newer_than: datetime) -> int | None:
        """The request_id of the newest ``portability.download.ready`` webhook for ``open_id``
        (sent after ``newer_than``) that no transfer holds: an export we asked for but never
        learned the id of, because the answer to Add Data Request was lost."""
        claimed = sa.select(transfers.c.id).where(transfers.c.request_id == webhook_events.c.request_id)
        with self._read() as conn:
            row = conn.execute(
                sa.select(webhook_events.c.request_id)
                .where(
                    webhook_events.c.user_openid == open_id,
                    webhook_events.c.event == EVENT_DOWNLOAD_READY,
                    webhook_events.c.applied.is_(False),
                    webhook_events.c.request_id.is_not(None),
                    webhook_events.c.create_time > int(newer_than.timestamp()),
                    ~claimed.exists(),
                )
                .order_by(webhook_events.c.create_time.desc(), webhook_events.c.id.desc())
                .limit(1)
            ).first()
        return None if row is None else int(row.request_id)

    def set_grant_format(self, open_id: str, data_format: str | None) -> Grant:
        """Choose the export format for one user's requests (``json``/``text``; None: run default)."""
        if data_format not in (None, "json", "text"):
            raise ValueError(f"data_format must be 'json', 'text' or None, got {data_format!r}")
        with self._write() as conn:
            result = conn.execute(
                sa.update(grants)
                .where(grants.c.open_id == open_id)
                .values(data_format=data_format, updated_at=utcnow())
            )
            if result.rowcount == 0:
                raise GrantNotFound(f"no grant for open_id {fingerprint(open_id)}")
            row = conn.execute(sa.select(grants).where(grants.c.open_id == open_id)).one()
        return self._grant(row)

    # -- consent deadline and region -------------------------------------------------------------

    def grants_reconsent_due(self, notice: timedelta, *, limit: int = 1000) -> list[Grant]:
        """Active grants whose refresh deadline (fixed at consent) falls within ``notice``.

        Their users must consent again before it, or the grant ends ``needs_reauth`` with reason
        ``consent_expired``. Soonest deadline first.
        """
        query = (
            sa.select(grants)
            .where(grants.c.status == "active", grants.c.refresh_expires_at < utcnow() + notice)
            .order_by(grants.c.refresh_expires_at, grants.c.open_id)
            .limit(limit)
        )
        with self._read() as conn:
            rows = conn.execute(query).all()
        return [self._grant(r) for r in rows]

    # -- OAuth state -----------------------------------------------------------------------------

    def spend_oauth_state(self, nonce: str, expires_at: datetime) -> bool:
        """Record an OAuth ``state`` nonce as used; False when it was used before (a replay).

        Only a hash is kept. Rows past their expiry are pruned here: an expired state is refused
        by its own signature check, so it needs no row.
        """
        key = hashlib.sha256(nonce.encode()).hexdigest()
        now = utcnow()
        with self._write() as conn:
            conn.execute(sa.delete(oauth_states).where(oauth_states.c.expires_at < now))
            inserted = conn.execute(
                _insert(conn, oauth_states)
                .values(nonce_hash=key, expires_at=expires_at, spent_at=now)
                .on_conflict_do_nothing(index_elements=[oauth_states.c.nonce_hash])
            )
        return inserted.rowcount == 1
