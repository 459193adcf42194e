"""The ground truth: deterministic, growing export by export, with the quirks real exports have."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from tiktok_portability.synth import (
    ArchiveRequestError,
    DirectMessage,
    SpecError,
    SyntheticUser,
    UserSpec,
    WatchEvent,
    export_ts,
)

SPEC = UserSpec(open_id="u-0001", seed=1, generation="G2", txt_variant="en_new", size="small")
EVENT_ENTITIES = (
    "watch_history",
    "likes",
    "favorites",
    "searches",
    "shares",
    "logins",
    "comments",
    "dm_messages",
)


def test_same_spec_gives_the_same_snapshot() -> None:
    a, b = SyntheticUser(SPEC).snapshot(3), SyntheticUser(SPEC).snapshot(3)
    assert a.profile == b.profile
    for entity in (*EVENT_ENTITIES, "posts", "followers", "following", "blocked_users"):
        assert list(getattr(a, entity)) == list(getattr(b, entity)), entity


def test_different_seeds_give_different_users() -> None:
    other = UserSpec(open_id="u-0001", seed=2, size="small")
    assert list(SyntheticUser(SPEC).snapshot(1).watch_history) != list(
        SyntheticUser(other).snapshot(1).watch_history
    )


def test_each_version_keeps_every_earlier_event_and_adds_later_ones() -> None:
    user = SyntheticUser(SPEC)
    for version in range(1, 5):
        old, new = user.snapshot(version), user.snapshot(version + 1)
        for entity in EVENT_ENTITIES:
            old_items, new_items = list(getattr(old, entity)), list(getattr(new, entity))
            assert not Counter(old_items) - Counter(new_items), f"{entity} lost events at v{version + 1}"
        added = Counter(new.watch_history) - Counter(old.watch_history)
        assert added, "every export adds watch history"
        assert min(e.timestamp for e in added.elements()) >= old.export_time
        assert max(e.timestamp for e in new.watch_history) < new.export_time


def test_export_time_is_base_plus_version_days() -> None:
    snap = SyntheticUser(SPEC).snapshot(3)
    assert snap.export_time.isoformat() == "2026-01-04T00:00:00+00:00"
    assert export_ts(4) - export_ts(3) == 86_400


def test_lists_are_newest_first_in_utc_seconds() -> None:
    snap = SyntheticUser(SPEC).snapshot(2)
    stamps = [e.timestamp for e in snap.watch_history]
    assert stamps == sorted(stamps, reverse=True)
    assert all(t.utcoffset() == timedelta(0) and t.microsecond == 0 for t in stamps)


def test_watch_history_has_same_second_events_and_exact_duplicates() -> None:
    events = list(SyntheticUser(SPEC).snapshot(1).watch_history)
    per_second = Counter(e.timestamp for e in events)
    exact = Counter(events)
    assert any(n > 1 for n in exact.values()), "an exact duplicate (same second, same link)"
    same_second_distinct = [
        ts for ts, n in per_second.items() if len({e.link for e in events if e.timestamp == ts}) > 1
    ]
    assert same_second_distinct, "two different videos in the same second"


def test_records_compare_as_plain_tuples() -> None:
    first = SyntheticUser(SPEC).snapshot(1).watch_history[0]
    assert isinstance(first, WatchEvent)
    assert first == (first.timestamp, first.link)
    assert first.link.startswith("https://www.tiktokv.com/share/video/7")
    assert len(first.link.rstrip("/").rsplit("/", 1)[1]) == 19


def test_g3_watch_links_use_the_web_form() -> None:
    g3 = UserSpec(open_id="u-0001", seed=1, generation="G3")
    assert SyntheticUser(g3).snapshot(1).watch_history[0].link.startswith("https://www.tiktok.com/@/video/")


def test_followers_come_and_go_between_exports() -> None:
    user = SyntheticUser(UserSpec(open_id="u-0001", seed=1, size="tiny"))
    lost = gained_back = 0
    ever_lost: set[str] = set()
    previous = {e.user_name for e in user.snapshot(1).followers} | {
        e.user_name for e in user.snapshot(1).following
    }
    for version in range(2, 16):
        snap = user.snapshot(version)
        current = {e.user_name for e in snap.followers} | {e.user_name for e in snap.following}
        gone = previous - current
        lost += len(gone)
        gained_back += len(current & ever_lost)
        ever_lost |= gone
        previous = current
    assert lost >= 2
    assert gained_back >= 1


def test_profile_counts_match_the_social_graph() -> None:
    snap = SyntheticUser(SPEC).snapshot(4)
    assert snap.profile.follower_count == len(snap.followers)
    assert snap.profile.following_count == len(snap.following)
    assert snap.profile.likes_received == sum(p.likes for p in snap.posts)


def test_direct_messages_are_sent_and_received_per_partner() -> None:
    snap = SyntheticUser(SPEC).snapshot(2)
    me = snap.profile.user_name
    partner = snap.conversations[0]
    messages = list(snap.messages_with(partner))
    assert messages
    assert all(isinstance(m, DirectMessage) and m.partner == partner for m in messages)
    assert {m.sender for m in messages} == {me, partner}
    assert len(snap.dm_messages) == sum(len(snap.messages_with(p)) for p in snap.conversations)
    assert any(not m.text.isascii() for m in snap.dm_messages)
    with pytest.raises(KeyError, match="nobody"):
        snap.messages_with("nobody")


def test_new_conversations_appear_in_later_exports() -> None:
    user = SyntheticUser(SPEC)
    assert len(user.snapshot(9).conversations) > len(user.snapshot(1).conversations)
    assert (
        user.snapshot(9).conversations[: len(user.snapshot(1).conversations)]
        == user.snapshot(1).conversations
    )


def test_len_of_lazy_entities_matches_iteration() -> None:
    snap = SyntheticUser(SPEC).snapshot(3)
    for entity in EVENT_ENTITIES:
        records = getattr(snap, entity)
        assert len(records) == sum(1 for _ in records), entity


def test_target_bytes_scales_watch_history_and_messages() -> None:
    big = SyntheticUser(UserSpec(open_id="u-1", seed=1, target_bytes=3_000_000)).snapshot(1)
    small = SyntheticUser(UserSpec(open_id="u-1", seed=1, size="small")).snapshot(1)
    assert len(big.watch_history) > 10 * len(small.watch_history)
    assert len(big.dm_messages) > 10 * len(small.dm_messages)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("generation", "G9"),
        ("txt_variant", "fr"),
        ("size", "huge"),
        ("target_bytes", 0),
        ("username", "no spaces!"),
    ],
)
def test_invalid_specs_name_the_field(field: str, value: object) -> None:
    with pytest.raises(SpecError, match=field):
        UserSpec(open_id="u", **{field: value})


def test_version_must_be_positive() -> None:
    with pytest.raises(ArchiveRequestError, match="version"):
        SyntheticUser(SPEC).snapshot(0)


def test_reprs_do_not_show_the_open_id() -> None:
    user = SyntheticUser(UserSpec(open_id="secret-open-id", seed=1))
    assert "secret-open-id" not in repr(user)
    assert "secret-open-id" not in repr(user.snapshot(1))
