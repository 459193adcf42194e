"""Messages before the profile go out with a guessed (or given) user name; the profile checks it."""

from __future__ import annotations

import datetime as dt
import json
import random

import pytest

from tests.normalize.test_message_groups import conversation
from tests.normalize.zips import zip_members
from tiktok_portability.normalize import (
    NormalizeContext,
    NormalizeReport,
    UserNameRefuted,
    normalize_archive,
    normalize_archive_guessing,
)

CTX = NormalizeContext(open_id="u1", request_id=1, snapshot_date=dt.date(2026, 1, 1))
ROWS = 5  # batch rows: the first conversations fill a batch before the profile is read


def export(tmp_path, chats: dict, profile_name: str | None = "me.user"):
    """Messages first (sections sort alphabetically), then the profile, then watch history."""
    doc: dict = {"Direct Message": {"Direct Messages": {"ChatHistory": chats}}}
    if profile_name is not None:
        doc["Profile"] = {"Profile Information": {"ProfileMap": {"userName": profile_name}}}
    doc["Your Activity"] = {
        "Watch History": {
            "VideoList": [
                {
                    "Date": f"2025-01-01 10:00:{i:02d}",
                    "Link": f"https://www.tiktokv.com/share/video/7{i:018d}/",
                }
                for i in range(12)
            ]
        }
    }
    return zip_members(tmp_path, {"user_data_tiktok.json": json.dumps(doc).encode()})


def chats_with(*partners: str, n: int = 9) -> dict:
    return {f"Chat History with {p}:": conversation(p, n, start=i) for i, p in enumerate(partners)}


def by_table(batches) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for table, batch in batches:
        out.setdefault(table, []).extend(batch.to_pylist())
    return out


def first_of(batches: list, table: str) -> int:
    return next(i for i, (t, _) in enumerate(batches) if t == table)


def guessing_consumer(source, **options) -> tuple[list, list[int]]:
    """The batches a consumer keeps (it drops them on ``restart``), and how many it had dropped
    at each restart."""
    taken: list = []
    restarts: list[int] = []

    def restart() -> None:
        restarts.append(len(taken))
        taken.clear()

    taken.extend(normalize_archive_guessing(source, CTX, restart=restart, **options))
    return taken, restarts


def test_a_right_guess_lets_messages_out_before_the_profile_with_the_same_rows(tmp_path):
    source = export(tmp_path, chats_with("ann", "bob", "cy"))
    held = list(normalize_archive(source, CTX, batch_rows=ROWS))
    guessed = list(normalize_archive(source, CTX, batch_rows=ROWS, guess_user_name=True))
    assert first_of(held, "dm_messages") > first_of(held, "watch_history")  # held for the profile
    assert first_of(guessed, "dm_messages") < first_of(guessed, "watch_history")  # out at once
    assert by_table(guessed) == by_table(held)
    directions = {(r["sender"], r["direction"]) for r in by_table(guessed)["dm_messages"]}
    assert directions == {("me.user", "sent"), ("ann", "received"), ("bob", "received"), ("cy", "received")}


@pytest.mark.parametrize(
    ("chats", "why"),
    [
        (chats_with("ann", n=30), "one conversation"),
        (
            {
                "Chat History with group:": [{"Date": "2025-03-01 10:00:00", "From": "zed", "Content": "x"}],
                **chats_with("ann", "bob", "cy", "dee", "eve", n=2),
            },
            "a second sender who is not the partner (a group chat)",
        ),
    ],
    ids=["one-conversation", "two-other-senders"],
)
def test_no_guess_without_one_sender_across_conversations(tmp_path, chats, why):
    source = export(tmp_path, chats)
    guessed = list(normalize_archive(source, CTX, batch_rows=ROWS, guess_user_name=True))
    assert first_of(guessed, "dm_messages") > first_of(guessed, "watch_history"), why
    assert by_table(guessed) == by_table(normalize_archive(source, CTX, batch_rows=ROWS))


@pytest.mark.parametrize("profile_name", ["someone.else", None], ids=["renamed", "no-profile"])
def test_a_wrong_guess_is_refuted_by_the_profile(tmp_path, profile_name):
    source = export(tmp_path, chats_with("ann", "bob", "cy"), profile_name)
    with pytest.raises(UserNameRefuted) as refuted:
        list(normalize_archive(source, CTX, batch_rows=ROWS, guess_user_name=True))
    assert refuted.value.user_name == profile_name
    assert "me.user" not in str(refuted.value)  # user names stay out of messages that get logged


@pytest.mark.parametrize("profile_name", ["someone.else", None], ids=["renamed", "no-profile"])
def test_normalizing_again_after_a_wrong_guess_gives_the_rows_without_one(tmp_path, profile_name):
    source = export(tmp_path, chats_with("ann", "bob", "cy"), profile_name)
    report = NormalizeReport()
    taken, restarts = guessing_consumer(source, report=report, batch_rows=ROWS)
    assert len(restarts) == 1
    assert restarts[0] > 0  # some batches had gone out before the profile
    expected_report = NormalizeReport()
    expected = by_table(normalize_archive(source, CTX, report=expected_report, batch_rows=ROWS))
    assert by_table(taken) == expected
    assert report.rows == expected_report.rows  # the first attempt's rows are not counted twice
    assert {r["direction"] for r in expected["dm_messages"]} == ({"received"} if profile_name else {None})


def test_a_given_user_name_is_used_at_once_and_checked(tmp_path):
    source = export(tmp_path, chats_with("ann", n=30))  # one conversation: nothing to guess from
    given = list(normalize_archive(source, CTX, batch_rows=ROWS, user_name="me.user"))
    assert first_of(given, "dm_messages") < first_of(given, "watch_history")
    assert by_table(given) == by_table(normalize_archive(source, CTX, batch_rows=ROWS))
    with pytest.raises(UserNameRefuted):
        list(normalize_archive(source, CTX, batch_rows=ROWS, user_name="ann"))


def test_txt_exports_are_not_guessed(tmp_path):
    """TXT exports read the profile file first; one without a profile must not start over."""
    transcript = "\n".join(
        f">>> Chat History with {p}::\n\n"
        f"2025-03-02 10:01:55 UTC {p}: hi\n2025-03-02 10:02:00 UTC me.user: yo\n"
        for p in ("ann", "bob", "cy")
    )
    source = zip_members(tmp_path, {"Direct Messages.txt": transcript.encode()})
    taken, restarts = guessing_consumer(source, batch_rows=4)
    rows = by_table(taken)
    assert restarts == []
    assert len(rows["dm_messages"]) == 6
    assert {r["direction"] for r in rows["dm_messages"]} == {None}


def test_clearing_a_report_keeps_its_error_cap():
    report = NormalizeReport(max_errors_kept=3, format="json")
    report.add_rows("likes", 2)
    report.add_error("p", 0, "bad")
    report.clear()
    assert report == NormalizeReport(max_errors_kept=3)


@pytest.mark.parametrize("seed", range(24))
def test_random_exports_give_the_same_rows_guessed_or_held(tmp_path, seed):
    """Whatever the senders, partners and profile, guessing never changes a row."""
    rng = random.Random(seed)
    owner = rng.choice(["me.user", "me.user", "me.user ", "old.me"])
    chats = {}
    for c in range(rng.randint(1, 8)):
        partner = f"p{c}"
        senders = [owner, partner] + (["zed"] if rng.random() < 0.15 else [])
        chats[f"Chat History with {partner}:"] = [
            {
                "Date": f"2025-03-01 10:{m // 60:02d}:{m % 60:02d}",
                "From": rng.choice(senders),
                "Content": f"m{m}",
            }
            for m in range(rng.randint(0, 12))
        ]
    profile_name = rng.choice(["me.user", "me.user", "me.user ", "someone.else", None])
    source = export(tmp_path, chats, profile_name)
    rows = rng.choice([1, 4, 8, 16, 64])
    taken, restarts = guessing_consumer(source, batch_rows=rows)
    guessed = by_table(taken)
    assert guessed == by_table(normalize_archive(source, CTX, batch_rows=rows))
    assert len(restarts) <= 1
