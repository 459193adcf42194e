"""Transfers: the lifecycle table, required fields per step, idempotency helpers, run summaries."""

from __future__ import annotations

import pytest

from tiktok_portability.state import ALLOWED, TRANSFER_STATUSES, DuplicateTransfer, InvalidTransition
from tiktok_portability.state.transitions import FINAL

BIG_REQUEST_ID = 7_300_000_000_000_000_123  # > 2**53: must survive as an exact int
RAW = {"raw_location": "file:///lake/raw/x.zip", "raw_size": 123, "raw_sha256": "ab" * 32}

# The shortest path from "requested" to each status, so every transition can be tested from its source.
PATH_TO = {
    "requested": [],
    "ready": ["ready"],
    "downloaded": ["ready", "downloaded"],
    "normalized": ["ready", "downloaded", "normalized"],
    "failed": ["failed"],
    "expired": ["expired"],
    "cancelled": ["cancelled"],
}
ALLOWED_PAIRS = [(a, b) for a in TRANSFER_STATUSES for b in sorted(ALLOWED[a])]
FORBIDDEN_PAIRS = [
    (a, b) for a in TRANSFER_STATUSES for b in TRANSFER_STATUSES if b != a and b not in ALLOWED[a]
]


def _fields(status: str) -> dict:
    if status == "failed":
        return {"reason": "download failed: archive truncated"}
    if status == "downloaded":
        return RAW
    return {}


def _transfer_in(store, status: str, request_id: int = 1):
    t = store.create_transfer("user-1", "run-1", ["all_data"], request_id, batch=0)
    for step in PATH_TO[status]:
        t = store.transition(t.id, step, **_fields(step))
    assert t.status == status
    return t


def test_the_table_is_what_the_docs_promise():
    assert ALLOWED["requested"] == {"ready", "failed", "expired", "cancelled"}
    assert ALLOWED["ready"] == {"downloaded", "failed", "expired", "cancelled"}
    assert ALLOWED["downloaded"] == {"normalized", "failed"}
    assert ALLOWED["failed"] == {"ready", "downloaded", "expired", "cancelled"}
    assert all(not ALLOWED[s] for s in FINAL)


@pytest.mark.parametrize(("from_status", "to_status"), ALLOWED_PAIRS)
def test_every_allowed_transition_moves_and_stamps_its_time(store, from_status, to_status):
    t = _transfer_in(store, from_status)
    if from_status == "failed" and to_status == "downloaded":
        # Re-opening into downloaded needs the raw archive from an earlier download.
        with pytest.raises(InvalidTransition, match="raw_location"):
            store.transition(t.id, "downloaded")
    moved = store.transition(t.id, to_status, **_fields(to_status))
    assert moved.status == to_status
    assert getattr(moved, f"{to_status}_at") is not None
    assert store.get_transfer(t.id).status == to_status


@pytest.mark.parametrize(("from_status", "to_status"), FORBIDDEN_PAIRS)
def test_every_other_transition_raises_naming_transfer_from_and_to(store, from_status, to_status):
    t = _transfer_in(store, from_status)
    with pytest.raises(InvalidTransition) as info:
        store.transition(t.id, to_status, **_fields(to_status))
    assert str(info.value).startswith(f"transfer {t.id}: transition {from_status} -> {to_status}")
    assert (info.value.from_status, info.value.to_status) == (from_status, to_status)
    assert store.get_transfer(t.id).status == from_status


def test_failing_needs_a_reason_and_downloading_needs_the_raw_archive(store):
    t = _transfer_in(store, "ready")
    with pytest.raises(InvalidTransition, match="reason is required"):
        store.transition(t.id, "failed")
    with pytest.raises(InvalidTransition, match="raw_sha256"):
        store.transition(t.id, "downloaded", raw_location="x", raw_size=1)
    done = store.transition(t.id, "downloaded", **RAW)
    assert (done.raw_location, done.raw_size, done.raw_sha256) == tuple(RAW.values())


def test_unknown_status_raises(store):
    t = _transfer_in(store, "requested")
    with pytest.raises(InvalidTransition, match="unknown status"):
        store.transition(t.id, "done")


def test_reapplying_the_current_status_is_a_no_op(store):
    t = _transfer_in(store, "ready")
    again = store.transition(t.id, "ready")
    assert again.ready_at == t.ready_at


def test_reopening_a_failed_transfer_clears_the_reason(store):
    t = _transfer_in(store, "failed")
    assert t.failure_reason
    assert store.transition(t.id, "ready").failure_reason is None


def test_create_is_idempotent_on_request_id_and_keeps_int64_exact(store):
    a = store.create_transfer("user-1", "run-1", ["activity", "video"], BIG_REQUEST_ID, batch=3)
    b = store.create_transfer("user-1", "run-1", ["activity", "video"], BIG_REQUEST_ID, batch=3)
    assert a.id == b.id
    assert store.transfer_by_request_id(BIG_REQUEST_ID).request_id == BIG_REQUEST_ID
    assert a.categories == ["activity", "video"]
    with pytest.raises(DuplicateTransfer, match=str(BIG_REQUEST_ID)):
        store.create_transfer("user-2", "run-1", ["all_data"], BIG_REQUEST_ID)
    with pytest.raises(TypeError):
        store.create_transfer("user-1", "run-1", ["all_data"], float(BIG_REQUEST_ID))


def test_in_flight_transfer_is_the_requested_or_ready_one(store):
    assert store.in_flight_transfer("user-1") is None
    t = store.create_transfer("user-1", "run-1", ["all_data"], 11)
    assert store.in_flight_transfer("user-1").id == t.id
    store.transition(t.id, "ready")
    assert store.in_flight_transfer("user-1").id == t.id
    store.transition(t.id, "downloaded", **RAW)
    assert store.in_flight_transfer("user-1") is None


def test_run_lookups_counts_and_failure_reasons(store):
    ok = store.create_transfer("u1", "run-1", ["all_data"], 1, batch=0)
    bad = store.create_transfer("u2", "run-1", ["all_data"], 2, batch=1)
    store.create_transfer("u3", "run-2", ["all_data"], 3, batch=0)
    store.transition(bad.id, "failed", reason="archive corrupt")
    store.record_failed_request("u4", "run-1", ["all_data"], "scope_not_authorized", batch=1)
    assert [t.id for t in store.transfers_for_run("run-1", batch=0)] == [ok.id]
    assert len(store.transfers_for_run("run-1")) == 3
    assert store.transfer_counts("run-1") == {"requested": 1, "failed": 2}
    assert store.failure_counts("run-1") == {"archive corrupt": 1, "scope_not_authorized": 1}
    assert [t.open_id for t in store.list_transfers(status="failed")] == ["u2", "u4"]


def test_attempts_are_counted(store):
    t = store.create_transfer("u1", "run-1", ["all_data"], 1)
    assert store.record_attempt(t.id) == 1
    assert store.record_attempt(t.id) == 2
    assert store.get_transfer(t.id).attempts == 2


def test_a_run_plan_is_saved_once_and_read_back_by_every_task(store):
    assert store.save_run_plan("run-1", "2026-11-20", "sync", [["a", "b"], ["c"]]) == [0, 1]
    # A retried plan task computed a different split: the first plan stands.
    assert store.save_run_plan("run-1", "2026-11-20", "sync", [["a"], ["b"], ["c"]]) == [0, 1]
    assert store.batch_members("run-1", 0) == ["a", "b"]
    assert store.batch_members("run-1", 1) == ["c"]
    plan = store.run_plan("run-1")
    assert (plan["users"], plan["batches"], plan["mode"]) == (3, 2, "sync")
    assert store.run_batches("run-unknown") == []
    with pytest.raises(KeyError, match="no batch 5"):
        store.batch_members("run-1", 5)


def test_an_in_flight_transfer_can_be_adopted_by_a_later_run(store):
    t = store.create_transfer("u-adopt", "night-1", ["all_data"], 9_007_199_254_740_993, batch=0)
    adopted = store.adopt_transfer(t.id, "night-2", 3)
    assert (adopted.run_id, adopted.batch, adopted.status) == ("night-2", 3, "requested")
    assert store.transfers_for_run("night-1") == []
