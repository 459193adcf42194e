"""EventFilter's row-by-row path for small batches must keep what the Arrow path keeps."""

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


@pytest.mark.parametrize("seed", range(40))
def test_small_batches_keep_the_rows_and_watermark_the_arrow_path_keeps(monkeypatch, seed):
    rng = random.Random(seed)
    earlier = [_batch(rng, rng.randrange(0, 12)) for _ in range(3)]
    _, previous = _run(None, earlier)  # a watermark with keys at its instant and untimed keys
    if seed % 4 == 0:
        previous = None
    elif seed % 4 == 1:
        previous = Watermark(None, frozenset(), previous.null_keys if previous else frozenset())
    batches = [_batch(rng, rng.randrange(0, 12)) for _ in range(3)]
    fast = _run(previous, batches)
    monkeypatch.setattr(incremental, "_SMALL", -1)
    slow = _run(previous, batches)
    assert fast == slow


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
