"""EventFilter keeps the rows after the watermark (and new keys at it) and moves the watermark on."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest

from tests.lake.conftest import Spec
from tiktok_portability.lake import incremental
from tiktok_portability.lake.incremental import EventFilter, Watermark

SCHEMA = pa.schema(
    [
        ("open_id", pa.string()),
        ("at", pa.timestamp("s", tz="UTC")),
        ("item", pa.string()),
        ("occurrence", pa.int32()),
    ]
)


SPEC = Spec("likes", SCHEMA, "event", ("open_id", "at", "item", "occurrence"))


def _batch(rng: random.Random, n: int) -> pa.RecordBatch:
    times = [None if rng.random() < 0.15 else rng.randrange(100, 106) for _ in range(n)]
    items = [rng.choice(["a", "b", "", None]) for _ in range(n)]
    return pa.record_batch(
        [
            pa.array(["u"] * n),
            pa.array(times, pa.timestamp("s", tz="UTC")),
            pa.array(items, pa.string()),
            pa.array([rng.randrange(2) for _ in range(n)], pa.int32()),
        ],
        schema=SCHEMA,
    )


def _run(previous: Watermark | None, batches: list[pa.RecordBatch]) -> tuple[list, Watermark | None]:
    filt = EventFilter(SPEC, previous)
    kept = [filt(b).to_pylist() for b in batches]
    return kept, filt.watermark()


def _expected(previous: Watermark | None, batches: list[pa.RecordBatch]) -> tuple[list, Watermark | None]:
    """The definition, row by row: keep rows newer than the watermark, rows at it whose key is
    new, untimed rows whose key is new; the watermark is the newest instant and its keys."""
    kept, seen = [], previous
    found: Watermark | None = None
    for batch in batches:
        rows = batch.to_pylist()
        keys = incremental.key_strings(batch, incremental.identity_columns(SPEC)).to_pylist()
        times = [None if r["at"] is None else int(r["at"].timestamp()) * 1_000_000 for r in rows]
        if rows:
            timed = [t for t in times if t is not None]
            top = max(timed) if timed else None
            at_top = frozenset(k for t, k in zip(times, keys, strict=True) if t is not None and t == top)
            untimed = frozenset(k for t, k in zip(times, keys, strict=True) if t is None)
            here = Watermark(top, at_top, untimed)
            found = here if found is None else found.merge(here)
        if previous is None:
            kept.append(rows)
            continue
        wm = previous.max_us
        kept.append(
            [
                r
                for r, t, k in zip(rows, times, keys, strict=True)
                if (k not in previous.null_keys if t is None else wm is None or t > wm)
                or (t is not None and t == wm and k not in previous.keys)
            ]
        )
    seen = found if previous is None else previous.merge(found)
    return kept, seen


@pytest.mark.parametrize("seed", range(40))
def test_random_batches_keep_the_rows_and_watermark_of_the_definition(seed):
    rng = random.Random(seed)
    earlier = [_batch(rng, rng.randrange(0, 12)) for _ in range(3)]
    _, previous = _run(None, earlier)  # a watermark with keys at its instant and untimed keys
    if seed % 4 == 0:
        previous = None
    elif seed % 4 == 1:
        previous = Watermark(None, frozenset(), previous.null_keys if previous else frozenset())
    batches = [_batch(rng, rng.randrange(0, 300)) for _ in range(3)]
    assert _run(previous, batches) == _expected(previous, batches)


def test_rows_at_the_watermark_are_kept_only_when_their_key_is_new():
    filt = EventFilter(SPEC, None)
    filt(_batch(random.Random(1), 0))
    first = pa.record_batch(
        [
            pa.array(["u", "u"]),
            pa.array([5, 5], SCHEMA.field("at").type),
            pa.array(["a", "b"]),
            pa.array([0, 0], pa.int32()),
        ],
        schema=SCHEMA,
    )
    filt(first)
    wm = filt.watermark()
    assert wm.max_us == 5_000_000
    again = pa.record_batch(
        [
            pa.array(["u", "u", "u", "u"]),
            pa.array([4, 5, 5, 6], SCHEMA.field("at").type),
            pa.array(["z", "a", "c", "d"]),
            pa.array([0, 0, 0, 0], pa.int32()),
        ],
        schema=SCHEMA,
    )
    kept = EventFilter(SPEC, wm)(again)
    assert kept.column("item").to_pylist() == ["c", "d"]
