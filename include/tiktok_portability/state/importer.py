"""Bulk onboarding: read users' tokens from a CSV or JSON file.

Columns / keys: ``open_id``, ``scope`` (or ``scopes``; comma-separated or a JSON list),
``access_token``, ``refresh_token``, expiry as ``expires_at`` / ``refresh_expires_at`` (ISO 8601,
UTC if no offset) or ``expires_in`` / ``refresh_expires_in`` (seconds from now, TikTok's token
response fields), and optional ``token_type`` and ``data_format`` (``json``/``text``: the export
format this user's requests ask for). A JSON file holds a list of such objects, or
``{"grants": [...]}``. Errors name the row and the field, never the field's value: a file with
shifted columns puts a token where a time or a scope belongs.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tiktok_portability.clock import utcnow
from tiktok_portability.redact import Secret
from tiktok_portability.scopes import is_known_scope, split_scopes
from tiktok_portability.state.errors import StateError
from tiktok_portability.state.models import GrantImportRow


class GrantImportError(StateError):
    """A grants file that cannot be imported; names the file, row and field."""


def _expiry(record: Mapping[str, Any], at_key: str, in_key: str, where: str, now: datetime) -> datetime:
    at = record.get(at_key)
    if at not in (None, ""):
        try:
            value = datetime.fromisoformat(str(at).replace("Z", "+00:00"))
        except ValueError:
            raise GrantImportError(f"{where}: {at_key} is not an ISO 8601 time") from None
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    seconds = record.get(in_key)
    if seconds in (None, ""):
        raise GrantImportError(f"{where}: needs {at_key} or {in_key}")
    try:
        return now + timedelta(seconds=float(seconds))
    except (TypeError, ValueError):
        raise GrantImportError(f"{where}: {in_key} is not a number of seconds") from None


def _row(record: Mapping[str, Any], where: str, now: datetime) -> GrantImportRow:
    open_id = str(record.get("open_id") or "").strip()
    if not open_id:
        raise GrantImportError(f"{where}: open_id is missing")
    raw_scopes = record.get("scopes", record.get("scope"))
    if isinstance(raw_scopes, str) and raw_scopes.strip().startswith("["):
        try:
            raw_scopes = json.loads(raw_scopes)
        except ValueError:
            raise GrantImportError(f"{where}: scope is not a JSON list") from None
    if not isinstance(raw_scopes, str | list | type(None)) or (
        isinstance(raw_scopes, list) and not all(isinstance(s, str) for s in raw_scopes)
    ):
        raise GrantImportError(f"{where}: scope is neither text nor a list of strings")
    scopes = split_scopes(raw_scopes or "")
    if not scopes:
        raise GrantImportError(f"{where}: scope is missing")
    for i, scope in enumerate(scopes, start=1):
        if not is_known_scope(scope):
            raise GrantImportError(f"{where}: scope item {i} is not a scope TikTok defines")
    for name in ("access_token", "refresh_token"):
        if not str(record.get(name) or "").strip():
            raise GrantImportError(f"{where}: {name} is missing")
    data_format = str(record.get("data_format") or "").strip().lower() or None
    if data_format not in (None, "json", "text"):
        raise GrantImportError(f"{where}: data_format is not json or text")
    return GrantImportRow(
        data_format=data_format,
        open_id=open_id,
        scopes=scopes,
        access_token=Secret(str(record["access_token"]).strip()),
        expires_at=_expiry(record, "expires_at", "expires_in", where, now),
        refresh_token=Secret(str(record["refresh_token"]).strip()),
        refresh_expires_at=_expiry(record, "refresh_expires_at", "refresh_expires_in", where, now),
        token_type=str(record.get("token_type") or "Bearer"),
    )


def read_grants_file(path: str | Path, fmt: str | None = None) -> list[GrantImportRow]:
    """Parse and validate every row before anything is written (all or nothing)."""
    source = Path(path)
    fmt = fmt or ("json" if source.suffix.lower() == ".json" else "csv")
    now = utcnow()
    try:
        text = source.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise GrantImportError(f"{source}: cannot be read ({exc.strerror})") from None
    if fmt == "json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise GrantImportError(f"{source}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        records = data.get("grants") if isinstance(data, dict) else data
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise GrantImportError(f"{source}: expected a list of objects or {{'grants': [...]}}")
        rows = [_row(r, f"{source} item {i}", now) for i, r in enumerate(records)]
    elif fmt == "csv":
        reader = csv.DictReader(text.splitlines())
        rows = [_row(r, f"{source} line {i}", now) for i, r in enumerate(reader, start=2)]
    else:
        raise GrantImportError(f"{source}: unknown format {fmt!r} (csv or json)")
    seen: set[str] = set()
    for row in rows:
        if row.open_id in seen:
            raise GrantImportError(f"{source}: open_id appears more than once")
        seen.add(row.open_id)
    return rows
