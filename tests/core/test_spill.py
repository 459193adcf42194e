"""What held batches count against their memory budget."""

from __future__ import annotations

import pyarrow as pa

from tiktok_portability.spill import HeldBatches, MemoryBudget, _held_bytes


def _ints(n: int) -> pa.RecordBatch:
    return pa.record_batch([pa.array(range(n), pa.int64())], names=["n"])


def test_a_small_slice_counts_its_whole_buffers_and_a_big_batch_its_exact_bytes():
    whole = _ints(1_000)
    part = whole.slice(0, 10)
    # The slice keeps its parent's 8,000-byte buffer alive: that is what it counts.
    assert _held_bytes(part) == whole.get_total_buffer_size() == 8_000
    assert part.nbytes == 80
    big = _ints(1_000_000)
    big_part = big.slice(0, 500_000)
    assert _held_bytes(big_part) == big_part.nbytes == 4_000_000


def test_a_holder_spills_once_the_whole_buffers_pass_its_budget(tmp_path):
    budget = MemoryBudget(20_000)
    held = HeldBatches(pa.schema([("n", pa.int64())]), folder=tmp_path, budget=budget)
    whole = _ints(1_000)
    for start in (0, 10):
        held.add(whole.slice(start, 10))
    assert budget.used == 16_000
    assert not list(tmp_path.iterdir())
    held.add(whole.slice(20, 10))
    assert list(tmp_path.iterdir()), "three slices of an 8 KB buffer count 24 KB: over 20 KB"
    assert budget.used == 0  # what spilled no longer counts
    out = [v for batch in held.release() for v in batch.column(0).to_pylist()]
    assert out == list(range(30))
    assert not list(tmp_path.iterdir())
