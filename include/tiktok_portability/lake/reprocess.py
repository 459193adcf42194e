"""Rebuilding committed dates from the raw zone, keeping their batch ids.

Normalization is a pure function of the raw zone, so a rebuild writes the same rows unless the
normalizer changed; later dates were derived from a date's state (watermarks, follower sets), so
a rebuild that changes it names them, and ``and_later`` rebuilds them in order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

from tiktok_portability.lake import keys
from tiktok_portability.lake.manifests import committed_dates, date_manifests
from tiktok_portability.lake.raw import RawArchiveRef, RawZone
from tiktok_portability.lake.results import BatchResult
from tiktok_portability.lake.retention import check_rebuildable
from tiktok_portability.lake.storage import Storage

# Commits a batch: (refs, snapshot date, batch id or None for a new one) -> its result.
Commit = Callable[[Sequence[RawArchiveRef], str, str | None], BatchResult]


def reprocess(
    storage: Storage, raw: RawZone, commit: Commit, snapshot_date: date | str, *, and_later: bool = False
) -> list[BatchResult]:
    """A date's batches committed again from its raw archives (users not committed yet: one new
    batch); with ``and_later``, every committed date from this one on, in order.

    Raises :class:`RawDatePruned` before anything is rebuilt when raw retention deleted archives
    of any of those dates: rebuilt from what is left, their batches would lose those users' rows.
    """
    day = keys.snapshot_date_str(snapshot_date)
    days = [day, *(d for d in committed_dates(storage) if d > day)] if and_later else [day]
    check_rebuildable(storage, days)
    if and_later:
        results = [result for d in days for result in _rebuild(storage, raw, commit, d)]
        for result in results:  # a later date rebuilt here is no longer stale
            result.later_dates_stale = [d for d in result.later_dates_stale if d not in days]
        return results
    return _rebuild(storage, raw, commit, day)


def _rebuild(storage: Storage, raw: RawZone, commit: Commit, day: str) -> list[BatchResult]:
    by_user: dict[str, list[RawArchiveRef]] = {}
    for ref in raw.list(day):
        by_user.setdefault(keys.user_key(ref.open_id), []).append(ref)
    results = []
    for batch_id, (_, manifest) in sorted(date_manifests(storage, day).items()):
        mine = [r for u in manifest["users"] for r in by_user.pop(u, [])]
        if mine:
            results.append(commit(mine, day, batch_id))
    leftovers = [r for group in by_user.values() for r in group]
    if leftovers:
        results.append(commit(leftovers, day, None))
    return results
