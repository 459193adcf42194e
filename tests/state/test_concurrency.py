"""Writes used by concurrent tasks stay correct with several OS processes on one store.

Children are forked (cheap) and each opens its own store, as a worker process would.
"""

from __future__ import annotations

import multiprocessing
import threading

from tests.state.stores import KEY_A, tokens
from tiktok_portability.state import StateStore

PROCESSES = 4
ROUNDS = 15


def _count_attempts(url: str, transfer_id: int, rounds: int) -> None:
    store = StateStore.from_url(url, fernet_keys=[KEY_A])
    for _ in range(rounds):
        store.record_attempt(transfer_id)
    store.close()


def _lease(url: str, open_id: str, queue) -> None:
    store = StateStore.from_url(url, fernet_keys=[KEY_A])
    queue.put(store.try_lock_refresh(open_id, owner=multiprocessing.current_process().name, lease_s=60))
    store.close()


def _run(target, *args) -> None:
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=target, args=args) for _ in range(PROCESSES)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0


def test_no_update_is_lost_under_concurrent_increments(store, store_url):
    t = store.create_transfer("u1", "run-1", ["all_data"], 1)
    _run(_count_attempts, store_url, t.id, ROUNDS)
    assert store.get_transfer(t.id).attempts == PROCESSES * ROUNDS


def test_only_one_lease_holder_among_processes(store, store_url):
    store.upsert_grant("u1", ["portability.all.ongoing"], tokens())
    queue = multiprocessing.get_context("fork").Queue()
    _run(_lease, store_url, "u1", queue)
    assert sorted(queue.get(timeout=10) for _ in range(PROCESSES)) == [False] * (PROCESSES - 1) + [True]


def _hold(store, exclusive: bool, held, release, log, name) -> None:
    with store.lake_lock(exclusive=exclusive):
        log.append(f"{name} in")
        held.set()
        release.wait(10)
        log.append(f"{name} out")


def test_the_lake_lock_is_shared_by_commits_and_exclusive_for_an_erasure(store):
    log: list[str] = []

    def start(exclusive, name):
        held, release = threading.Event(), threading.Event()
        thread = threading.Thread(target=_hold, args=(store, exclusive, held, release, log, name))
        thread.start()
        return thread, held, release

    # Two commits hold it at once.
    a, a_held, a_release = start(False, "commit-a")
    assert a_held.wait(10)
    b, b_held, b_release = start(False, "commit-b")
    assert b_held.wait(10)
    # An erasure waits for both...
    e, e_held, e_release = start(True, "erase")
    assert not e_held.wait(0.3)
    a_release.set()
    b_release.set()
    assert e_held.wait(10)
    # ...and a commit waits for the erasure.
    c, c_held, c_release = start(False, "commit-c")
    assert not c_held.wait(0.3)
    e_release.set()
    assert c_held.wait(10)
    c_release.set()
    for thread in (a, b, e, c):
        thread.join(10)
    assert log.index("erase in") > max(log.index("commit-a out"), log.index("commit-b out"))
    assert log.index("commit-c in") > log.index("erase out")
