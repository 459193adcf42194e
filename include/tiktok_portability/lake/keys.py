"""How identifiers become lake keys.

open_id values come from TikTok and are never trusted as path segments: a user's folder is
``user=<first 32 hex of sha256(open_id)>``, which is fixed-length, path-safe and lets erasure
find a user's objects from the open_id alone. The open_id itself is kept inside manifests and
rows, not in any key.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date

from tiktok_portability.lake.errors import InvalidIdentifier

_BATCH_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_OPEN_ID_LEN = 256


def user_key(open_id: str) -> str:
    """The path-safe, hash-derived folder name of a user."""
    if not isinstance(open_id, str) or not open_id or len(open_id) > MAX_OPEN_ID_LEN:
        raise InvalidIdentifier(f"open_id must be a non-empty string of at most {MAX_OPEN_ID_LEN} chars")
    try:
        encoded = open_id.encode()
    except UnicodeEncodeError:
        # A lone surrogate (e.g. from a JSON "\ud800" escape) has no UTF-8 form to hash or store.
        raise InvalidIdentifier("open_id holds a lone surrogate, which is not valid Unicode text") from None
    return hashlib.sha256(encoded).hexdigest()[:32]


def snapshot_date_str(value: date | str) -> str:
    """``YYYY-MM-DD`` for a date or an ISO date string (anything else is rejected)."""
    if isinstance(value, date):
        return value.isoformat()
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise InvalidIdentifier(f"snapshot date {value!r} is not YYYY-MM-DD") from None


def request_id_int(value: int | str) -> int:
    try:
        rid = int(value)
    except (TypeError, ValueError):
        raise InvalidIdentifier(f"request id {value!r} is not an integer") from None
    if rid < 0:
        raise InvalidIdentifier(f"request id {value!r} is negative")
    return rid


def check_batch_id(batch_id: str) -> str:
    if not _BATCH_ID.match(batch_id or ""):
        raise InvalidIdentifier(f"batch id {batch_id!r} must match {_BATCH_ID.pattern}")
    return batch_id


def default_batch_id(open_ids: list[str]) -> str:
    """A batch id derived from the users it holds, so a retried batch rewrites the same files."""
    digest = hashlib.sha256("\n".join(sorted(set(open_ids))).encode()).hexdigest()
    return f"u{digest[:16]}"


def partition(snapshot_date: str) -> str:
    return f"snapshot_date={snapshot_date}"


def table_file(table: str, snapshot_date: str, batch_id: str) -> str:
    return f"{table}/{partition(snapshot_date)}/batch-{batch_id}.parquet"


def commit_manifest(snapshot_date: str, batch_id: str) -> str:
    return f"_commits/{partition(snapshot_date)}/batch-{batch_id}.json"


def raw_archive(snapshot_date: str, open_id: str, request_id: int) -> str:
    return f"raw/{partition(snapshot_date)}/user={user_key(open_id)}/{request_id}.zip"


def raw_manifest(snapshot_date: str, open_id: str, request_id: int) -> str:
    return raw_archive(snapshot_date, open_id, request_id)[: -len(".zip")] + ".json"
