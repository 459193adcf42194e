"""diff_changelog's set after a snapshot equals replaying every change row, in order."""

from __future__ import annotations

import datetime as dt
import random

import pyarrow as pa
import pytest

from tests.lake.conftest import Spec
from tiktok_portability.lake.incremental import CHANGE_COLUMN, UNFOLLOW, diff_changelog, key_strings

SCHEMA = pa.schema(
    [
        ("open_id", pa.string()),
        ("request_id", pa.int64()),
        ("snapshot_date", pa.date32()),
        ("username", pa.string()),
        ("since", pa.string()),
    ]
)


SPEC = Spec("followers", SCHEMA, "snapshot", ("open_id", "username"))


def _snapshot(rng: random.Random, night: int) -> pa.Table:
    names = [rng.choice("abcdefgh") for _ in range(rng.randrange(0, 9))]  # repeats happen
    return pa.table(
        {
            "open_id": ["u"] * len(names),
            "request_id": [night] * len(names),
            "snapshot_date": [dt.date(2026, 1, 1) + dt.timedelta(days=night)] * len(names),
            "username": names,
            "since": [f"{night}-{i}" for i in range(len(names))],
        },
        schema=SCHEMA,
    )


def _replay(history: list[pa.Table]) -> list[dict]:
    """The set as of the last change, by the definition: follow keeps the key's latest follow
    row, unfollow drops the key; rows in the order their follow came."""
    alive: dict[str, dict] = {}
    for changes in history:
        keys = key_strings(changes, ("open_id", "username")).to_pylist()
        for key, row in zip(keys, changes.to_pylist(), strict=True):
            kind = row.pop(CHANGE_COLUMN)
            if kind == UNFOLLOW:
                alive.pop(key, None)
            else:
                alive.pop(key, None)
                alive[key] = row
    return list(alive.values())


@pytest.mark.parametrize("seed", range(30))
def test_the_set_after_each_night_is_the_replay_of_all_changes(seed):
    rng = random.Random(seed)
    current_set: pa.Table | None = None
    history: list[pa.Table] = []
    for night in range(6):
        snapshot = _snapshot(rng, night)
        changes, after = diff_changelog(
            SPEC, snapshot, current_set, request_id=night, snapshot_date=dt.date(2026, 1, 1)
        )
        history.append(changes)
        if after is None:
            assert changes.num_rows == 0
            continue
        assert after.schema == SCHEMA
        assert after.to_pylist() == _replay(history)
        current_set = after
    # The last set holds exactly the last snapshot's distinct accounts.
    if current_set is not None:
        assert sorted(current_set.column("username").to_pylist()) == sorted(
            set(snapshot.column("username").to_pylist())
        )


def test_a_missing_section_changes_nothing():
    changes, after = diff_changelog(SPEC, None, None, request_id=1, snapshot_date=dt.date(2026, 1, 1))
    assert changes.num_rows == 0
    assert after is None
