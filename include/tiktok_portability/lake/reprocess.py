"""Rebuilding committed dates from the raw zone, keeping their batch ids.

Normalization is a pure function of the raw zone, so a rebuild writes the same rows unless the
normalizer changed; later dates were derived from a date's state (watermarks, follower sets), so
a rebuild that changes it names them, and ``and_later`` rebuilds them in order.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from tiktok_portability.lake import keys
from tiktok_portability.lake.manifests import committed_dates, date_manifests
from tiktok_portability.lake.raw import RawArchiveRef
from tiktok_portability.lake.results import BatchResult

if TYPE_CHECKING:
    from tiktok_portability.lake.lake import Lake


def reprocess(lake: Lake, snapshot_date: date | str, *, and_later: bool = False) -> list[BatchResult]:
    """A date's batches committed again from its raw archives (users not committed yet: one new
    batch); with ``and_later``, every committed date from this one on, in order."""
    day = keys.snapshot_date_str(snapshot_date)
    if and_later:
        return _in_order(lake, [day, *(d for d in committed_dates(lake.storage) if d > day)])
    by_user: dict[str, list[RawArchiveRef]] = {}
    for ref in lake.raw.list(day):
        by_user.setdefault(keys.user_key(ref.open_id), []).append(ref)
    results = []
    for batch_id, (_, manifest) in sorted(date_manifests(lake.storage, day).items()):
        mine = [r for u in manifest["users"] for r in by_user.pop(u, [])]
        if mine:
            results.append(lake.normalize_batch(mine, day, batch_id))
    leftovers = [r for group in by_user.values() for r in group]
    if leftovers:
        results.append(lake.normalize_batch(leftovers, day))
    return results


def _in_order(lake: Lake, days: list[str]) -> list[BatchResult]:
    """Each date in turn; a later date rebuilt here is no longer stale."""
    results = [result for day in days for result in reprocess(lake, day)]
    for result in results:
        result.later_dates_stale = [d for d in result.later_dates_stale if d not in days]
    return results
