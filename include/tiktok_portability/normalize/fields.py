"""Which record fields feed which column, for JSON and TXT alike.

Field names are compared after :func:`norm_key` (lower-case, letters and digits only), so
``Date``/``date``, ``UserName``/``Username``/``User Name``, ``SearchTerm``/``Search Term`` and
``Like(s)``/``Likes`` are one name. Aliases also cover older spellings (``VideoLink``) and the
Dutch TXT keys.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

_NON_ALNUM = re.compile(r"[^0-9a-z]+")


@lru_cache(maxsize=65_536)
def norm_key(key: str) -> str:
    """The comparison form of a JSON key, TXT key or section name."""
    return _NON_ALNUM.sub("", key.casefold())


DATE = ("date", "datum", "creationtime", "time", "tijd")
LINK = ("link", "videolink", "url", "effectlink", "hashtaglink", "soundlink")
USER = ("username", "user", "gebruikersnaam")


@dataclass(frozen=True)
class RecordMap:
    """How one list's records become one table's rows."""

    table: str
    timestamp: tuple[str, tuple[str, ...]] | None = None
    strings: dict[str, tuple[str, ...]] = field(default_factory=dict)
    integers: dict[str, tuple[str, ...]] = field(default_factory=dict)
    video_from: str | None = None
    constants: dict[str, str] = field(default_factory=dict)
    extra: bool = False
    # String columns kept exactly as written (no trimming): message text keeps its spaces.
    verbatim: frozenset[str] = frozenset()

    def mapped_keys(self) -> frozenset[str]:
        keys: set[str] = set()
        if self.timestamp:
            keys.update(self.timestamp[1])
        for aliases in (*self.strings.values(), *self.integers.values()):
            keys.update(aliases)
        return frozenset(keys)


PROFILE = RecordMap(
    "profile",
    strings={
        "user_name": ("username", "gebruikersnaam"),
        "display_name": ("displayname", "nickname", "weergavenaam"),
        "bio_description": ("biodescription", "bio", "biografie"),
        "birth_date": ("birthdate", "geboortedatum"),
        "email_address": ("emailaddress", "email", "emailadres"),
        "telephone_number": ("telephonenumber", "phonenumber", "telefoonnummer"),
        "profile_photo": ("profilephoto", "profielfoto"),
        "profile_video": ("profilevideo", "profielvideo"),
        "instagram_link": ("instagramlink",),
        "youtube_link": ("youtubelink",),
        "inferred_gender": ("inferredgender",),
    },
    integers={
        "likes_received": ("likesreceived", "ontvangenvindikleuks"),
        "follower_count": ("followercount", "aantalvolgers"),
        "following_count": ("followingcount", "aantalgevolgd"),
    },
    extra=True,
)

POSTS = RecordMap(
    "posts",
    timestamp=("posted_at", DATE),
    strings={
        "link": ("link", "videolink"),
        "title": ("title", "titel"),
        "who_can_view": ("whocanview",),
        "allow_comments": ("allowcomments",),
        "allow_stitches": ("allowstitches",),
        "allow_duets": ("allowduets",),
        "allow_stickers": ("allowstickers",),
        "allow_sharing_to_story": ("allowsharingtostory",),
        "content_disclosure": ("contentdisclosure",),
        "ai_generated_content": ("aigeneratedcontent",),
        "sound": ("sound", "geluid"),
        "location": ("location", "locatie"),
        "add_yours_text": ("addyourstext",),
        "alternate_text": ("alternatetext",),
        "cover_image": ("coverimage",),
    },
    integers={"likes": ("likes", "like", "vindikleuks")},
    video_from="link",
    extra=True,
)


def _people(table: str, ts: str) -> RecordMap:
    return RecordMap(table, timestamp=(ts, DATE), strings={"user_name": USER})


FOLLOWERS = _people("followers", "followed_at")
FOLLOWING = _people("following", "followed_at")
BLOCKED = _people("blocked_users", "blocked_at")


def _linked(table: str, ts: str, **constants: str) -> RecordMap:
    strings = {"link": LINK}
    if table == "favorites":
        strings["name"] = ("favoritecollection", "favorietecollectie", "collection", "name")
    return RecordMap(table, timestamp=(ts, DATE), strings=strings, video_from="link", constants=constants)


WATCH = _linked("watch_history", "watched_at")
LIKES = _linked("likes", "liked_at")
FAVORITES = {
    k: _linked("favorites", "favorited_at", kind=k)
    for k in ("video", "sound", "effect", "hashtag", "collection")
}

SEARCHES = RecordMap(
    "searches", timestamp=("searched_at", DATE), strings={"search_term": ("searchterm", "zoekterm", "term")}
)
SHARES = RecordMap(
    "shares",
    timestamp=("shared_at", DATE),
    strings={
        "shared_content": ("sharedcontent", "gedeeldeinhoud"),
        "link": ("link",),
        "method": ("method", "methode"),
    },
    video_from="link",
)
LOGINS = RecordMap(
    "logins",
    timestamp=("logged_in_at", DATE),
    strings={
        "ip": ("ip", "ipadres"),
        "device_model": ("devicemodel", "apparaatmodel"),
        "device_system": ("devicesystem", "apparaatsysteem", "besturingssysteem"),
        "network_type": ("networktype", "netwerktype"),
        "carrier": ("carrier", "provider"),
    },
)
COMMENTS = RecordMap(
    "comments",
    timestamp=("commented_at", DATE),
    strings={
        "comment": ("comment", "reactie", "opmerking"),
        "photo": ("photo", "foto"),
        "url": ("url", "originalposturl", "originalpostlink", "linknaaroorspronkelijkepost", "link"),
    },
    video_from="url",
)
DM = RecordMap(
    "dm_messages",
    timestamp=("sent_at", DATE),
    strings={"sender": ("from", "sender", "van"), "content": ("content", "inhoud", "message", "bericht")},
    video_from="content",
    verbatim=frozenset({"content"}),
)
