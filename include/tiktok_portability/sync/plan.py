"""Planning a run: who is due, in which batches. Persisted so every task of the run agrees."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import date

from tiktok_portability.lake.keys import user_key
from tiktok_portability.redact import fingerprint
from tiktok_portability.runtime import SyncRuntime
from tiktok_portability.scopes import ongoing_categories
from tiktok_portability.state import StateStore
from tiktok_portability.sync.options import MAX_BATCHES, SyncOptions

log = logging.getLogger(__name__)

_PAGE = 5_000


def due_open_ids(store: StateStore, options: SyncOptions) -> list[str]:
    """Every active grant with an ongoing scope whose categories match the options, by open_id."""
    out: list[str] = []
    after: str | None = None
    while True:
        page = store.due_grants(limit=_PAGE, after_open_id=after, open_ids=options.open_ids)
        if not page:
            break
        for grant in page:
            if options.requested_categories(ongoing_categories(grant.scopes)):
                out.append(grant.open_id)
        after = page[-1].open_id
        if len(page) < _PAGE:
            break
    return out


def _requested(store: StateStore, snapshot_date: date, options: SyncOptions) -> tuple[str, ...] | None:
    """The users the run was asked for (None: every due user).

    ``retry_failed`` asks for the users whose latest transfer of the date failed, narrowed to
    ``open_ids`` when both are given.
    """
    chosen = tuple(dict.fromkeys(options.open_ids)) if options.open_ids else None
    if not options.retry_failed:
        return chosen
    failed = store.failed_open_ids(snapshot_date)
    return tuple(o for o in failed if chosen is None or o in chosen)


def why_left_out(store: StateStore, open_id: str) -> str:
    """In words, why a requested user is not due: ``"<reason>: <detail>"`` (no open_id in it)."""
    grant = store.find_grant(open_id)
    if grant is None:
        return "unknown_user: no grant for this open_id"
    if not grant.is_active:
        detail = f" ({grant.status_reason})" if grant.status_reason else ""
        return f"{grant.status}: the grant is {grant.status}{detail}"
    if not ongoing_categories(grant.scopes):
        return "no_ongoing_scope: the grant holds no portability.*.ongoing scope"
    return "no_categories: the grant's scopes allow none of the requested categories"


def left_out_entries(
    requested: Sequence[str], planned: Iterable[str], reason: Callable[[str], str], options: SyncOptions
) -> list[dict[str, object]]:
    """The requested users not planned, each with its fingerprint, place in ``open_ids`` and reason."""
    taken = set(planned)
    position = {o: i for i, o in reversed(list(enumerate(options.open_ids or ())))}
    return [
        {"fingerprint": fingerprint(o), "index": position.get(o), "reason": reason(o)}
        for o in requested
        if o not in taken
    ]


def effective_batch_size(users: int, batch_size: int) -> int:
    """The batch size, raised when needed so a run never maps more than MAX_BATCHES batches."""
    return max(batch_size, math.ceil(users / MAX_BATCHES)) if users else batch_size


def chunk(open_ids: list[str], size: int) -> list[list[str]]:
    return [open_ids[i : i + size] for i in range(0, len(open_ids), size)]


def pack(open_ids: list[str], size: int, holder: Callable[[str], str | None]) -> list[list[str]]:
    """Batches of about ``size`` users, in order, never splitting the users of one holder.

    A user already committed on the date is held by a batch; re-syncing or reprocessing them
    rewrites that batch's files without them. Two batches of one run commit in parallel, so the
    users of one holder must land in one batch: else both would rewrite the same files at once
    and one rewrite would be lost (the user then shows twice). Users without a holder fill
    batches exactly like :func:`chunk`; a holder's group bigger than ``size`` stays whole.
    """
    groups: dict[object, list[str]] = {}
    for open_id in open_ids:
        key = holder(open_id)
        groups.setdefault(key if key is not None else ("free", open_id), []).append(open_id)
    batches: list[list[str]] = []
    current: list[str] = []
    for group in groups.values():
        if current and len(current) + len(group) > size:
            batches.append(current)
            current = []
        current.extend(group)
        if len(current) >= size:
            batches.append(current)
            current = []
    if current:
        batches.append(current)
    return batches


def plan_run(runtime: SyncRuntime, run_id: str, snapshot_date: date, options: SyncOptions) -> list[int]:
    """Choose the run's users and split them into batches; returns the batch numbers.

    Idempotent: a retried or cleared plan task returns the batches saved the first time, so
    batch membership never shifts under tasks that already ran.
    """
    store = runtime.store
    existing = store.run_batches(run_id)
    if existing:
        log.info("plan reused run_id=%s batches=%d", run_id, len(existing))
        return existing
    mode = "reprocess" if options.reprocess_from_raw else "sync"
    requested = _requested(store, snapshot_date, options)
    if options.reprocess_from_raw and runtime.lake.pruned_dates([snapshot_date]):
        # Raw retention deleted archives of the date: rebuilt from what is left, its batches would
        # lose those users' rows. Nobody is planned; the summary fails saying why.
        users = []
        left_out = left_out_entries(
            requested or (), users, lambda _: f"raw_pruned: raw retention pruned {snapshot_date}", options
        )
    elif options.reprocess_from_raw:
        wanted = list(requested) if requested is not None else None
        refs = runtime.lake.raw.list(snapshot_date, wanted) if wanted != [] else []
        users = sorted({ref.open_id for ref in refs})
        left_out = left_out_entries(
            requested or (), users, lambda _: f"no_raw_archive: no raw archive for {snapshot_date}", options
        )
    else:
        users = due_open_ids(store, replace(options, open_ids=requested)) if requested != () else []
        left_out = left_out_entries(requested or (), users, lambda o: why_left_out(store, o), options)
    for entry in left_out:
        log.warning("requested user left out fingerprint=%s reason=%s", entry["fingerprint"], entry["reason"])
    size = effective_batch_size(len(users), options.batch_size)
    if size != options.batch_size:
        log.warning(
            "batch_size raised from %d to %d so %d users fit in %d mapped batches",
            options.batch_size,
            size,
            len(users),
            MAX_BATCHES,
        )
    held = runtime.lake.holders(snapshot_date) if runtime.lake is not None else {}

    def holder(open_id: str) -> str | None:
        return held.get(user_key(open_id))

    batches = pack(users, size, holder)
    while len(batches) > MAX_BATCHES:  # whole groups left batches part-empty: use bigger ones
        size *= 2
        batches = pack(users, size, holder)
    oversized = [len(b) for b in batches if len(b) > size]
    if oversized:
        log.warning(
            "batch_size %d not kept for %d batch(es) of %s users: users committed together on %s "
            "stay together (their batches' files are rewritten as one), see docs/sync.md",
            size,
            len(oversized),
            "/".join(map(str, oversized)),
            snapshot_date,
        )
    numbers = store.save_run_plan(run_id, snapshot_date, mode, batches, left_out)
    log.info(
        "plan run_id=%s snapshot_date=%s mode=%s users=%d batches=%d first_user=%s",
        run_id,
        snapshot_date,
        mode,
        len(users),
        len(batches),
        fingerprint(users[0]) if users else "-",
    )
    return numbers
