"""Sections a normalizer does not map to a table (settings, shop, live, ads, summaries, ...).

They exist so that "unknown sections are reported, never dropped" is exercised. Small, so they
are plain Python values rendered with ``json.dumps``; derived from the user's seed and version.
"""

from __future__ import annotations

from typing import Any

from tiktok_portability.synth import vocab
from tiktok_portability.synth.snapshot import Snapshot
from tiktok_portability.synth.timefmt import DAY_S, TimestampFormatter

_fmt = TimestampFormatter()


def settings_map(snap: Snapshot) -> dict[str, Any]:
    seed = abs(snap.spec.seed)
    return {
        "Allow DownLoad": "On" if seed % 2 else "Off",
        "App Language": "nl" if seed % 3 == 0 else "en",
        "Content Preferences": {
            "Keyword filters for videos in For You feed": ["spoilers"],
            "Video Languages Preferences": ["en", "nl"],
        },
        "Interests": "Food|Animals|DIY",
        "Personalized Ads": "On",
        "Private Account": "Off",
        "Push Notification": {"New Fans": "On", "New Likes on My Video": "On"},
        "Web Language": "N/A",
        "Who Can Send Me Message": "Friends",
    }


def activity_summary(snap: Snapshot) -> dict[str, Any]:
    return {
        "note": "Counts since account registration.",
        "videosCommentedOnSinceAccountRegistration": len(snap.comments),
        "videosSharedSinceAccountRegistration": len(snap.shares),
        "videosWatchedToTheEndSinceAccountRegistration": len(snap.watch_history) // 3,
    }


def status_list(snap: Snapshot) -> list[dict[str, Any]]:
    uid = 6_900_000_000_000_000_000 + abs(snap.spec.seed)
    return [
        {
            "Resolution": "1080*2400",
            "App Version": f"38.{snap.version % 10}.4",
            "IDFA": "",
            "GAID": "00000000-0000-0000-0000-000000000000",
            "Android ID": "",
            "IDFV": "",
            "UID": uid,
            "DID": str(uid + 1),
            "Web ID": "",
        }
    ]


def location(snap: Snapshot) -> dict[str, Any]:
    return {"Date": _fmt(snap.export_ts - 3600), "GpsData": "", "LastRegion": "NL"}


def hashtags_used(snap: Snapshot) -> list[dict[str, Any]]:
    return [
        {"HashtagName": tag, "HashtagLink": f"https://www.tiktok.com/tag/{tag}"}
        for tag in vocab.HASHTAGS[: 1 + abs(snap.spec.seed) % 4]
    ]


def off_tiktok(snap: Snapshot) -> list[dict[str, Any]]:
    return [
        {"TimeStamp": _fmt(snap.export_ts - (i + 1) * DAY_S // 3), "Source": source, "Event": event}
        for i, (source, event) in enumerate(
            [("Example Shoe Store", "Customer file upload"), ("Café Zoë", "Purchase")]
        )
    ]


def product_browsing(snap: Snapshot) -> list[dict[str, Any]]:
    return [
        {
            "browsing_date": _fmt(snap.export_ts - DAY_S // 2),
            "shop_name": "Example Kitchen Shop",
            "product_name": 'Proofing basket "XL"',
        }
    ]


def watch_live(snap: Snapshot) -> dict[str, Any]:
    room = str(7_460_000_000_000_000_000 + abs(snap.spec.seed))
    t = snap.export_ts - 2 * DAY_S
    return {
        room: {
            "Comments": [
                {"CommentTime": _fmt(t + 98), "CommentContent": "hello from NL 👋", "RawTime": t + 98}
            ],
            "Questions": None,
            "WatchTime": _fmt(t),
            "Link": f"https://www.tiktok.com/@{vocab.person_name(1)}/live",
        }
    }


def autofill() -> dict[str, str]:
    keys = (
        "PhoneNumber",
        "Email",
        "FirstName",
        "LastName",
        "Address",
        "ZipCode",
        "Unit",
        "City",
        "State",
        "Country",
    )
    return dict.fromkeys(keys, "")
