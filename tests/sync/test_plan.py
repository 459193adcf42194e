"""Planning batches: users of one holder batch never split (parallel commits would race)."""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path

from tests.sync.harness import make_runtime, onboard
from tiktok_portability.lake.keys import user_key
from tiktok_portability.sync import SyncOptions
from tiktok_portability.sync.engine import run_sync
from tiktok_portability.sync.plan import chunk, pack, plan_run


def test_without_holders_packing_is_plain_chunking():
    users = [f"u{i:03d}" for i in range(23)]
    for size in (1, 2, 5, 23, 50):
        assert pack(users, size, lambda _u: None) == chunk(users, size)


def test_a_holders_users_land_in_one_batch_and_order_is_kept():
    rng = random.Random(7)
    for _ in range(200):
        users = [f"u{i:03d}" for i in range(rng.randint(1, 60))]
        holder = {u: rng.choice([None, "b1", "b2", "b3"]) for u in users}
        size = rng.randint(1, 12)
        batches = pack(users, size, holder.get)
        assert [u for b in batches for u in b] == sorted(users, key=lambda u: _first_index(users, holder, u))
        for name in ("b1", "b2", "b3"):
            holding = [i for i, b in enumerate(batches) if any(holder[u] == name for u in b)]
            assert len(holding) <= 1, (name, batches)
        for b in batches:  # only a group bigger than the size makes a batch bigger than the size
            assert len(b) <= max(size, max(sum(holder[v] == holder[u] for v in users) for u in b))


def _first_index(users, holder, u):
    """A user's place: its holder group's first appearance, then its own order."""
    key = holder[u]
    first = next(i for i, v in enumerate(users) if (holder[v] == key if key else v == u))
    return (first, users.index(u))


def test_a_rebuild_with_another_batch_size_keeps_each_old_batch_in_one_new_batch(tmp_path: Path, emulator):
    runtime = make_runtime(tmp_path, emulator)
    users = [onboard(runtime, emulator, scopes=["portability.all.ongoing"]) for _ in range(7)]
    night = date(2026, 11, 20)
    run_sync(runtime, "night-1", night, SyncOptions(batch_size=2, poll_interval_s=0.05))
    held = runtime.lake.holders(night)
    assert len(set(held.values())) == 4

    numbers = plan_run(runtime, "rebuild", night, SyncOptions(batch_size=3, reprocess_from_raw=True))

    batches = [runtime.store.batch_members("rebuild", n) for n in numbers]
    assert sorted(u for b in batches for u in b) == sorted(users)
    for old in set(held.values()):
        assert sum(any(held[user_key(u)] == old for u in b) for b in batches) == 1, old
