"""The JSON export (``user_data.json`` / ``user_data_tiktok.json``) in generations G0-G3.

The document is a tree of plain values and lazy ``RecordList``/``ChatMap`` nodes; ``emit`` walks
it and yields text chunks, rendering records from raw rows with one ``%`` template per list, so
memory stays bounded and throughput high. Output is indented by two spaces like
``json.dumps(indent=2)``; keys are sorted at the top two levels, as in real exports.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from itertools import islice
from typing import Any

from tiktok_portability.synth import extras, links, vocab
from tiktok_portability.synth.snapshot import Snapshot, login_fields
from tiktok_portability.synth.timefmt import DAY_S, TimestampFormatter

CHUNK_ROWS = 256


@dataclass
class RecordList:
    """A JSON list of flat objects rendered from raw rows.

    ``fields``: (key, value format): True for a string ``"%s"``, False for a raw ``%s``, or a
    literal snippet such as ``'"%s%s"'`` (a timestamp as day + time) or ``'"https://…/%d/"'``.
    ``render(row)`` returns the values for all ``%`` slots in order.
    """

    fields: tuple[tuple[str, bool | str], ...]
    rows: Callable[[], Iterator[tuple]]
    render: Callable[[tuple], tuple]
    empty: str = "[]"

    def emit(self, depth: int) -> Iterator[str]:
        pad1 = "  " * (depth + 1)
        pad2 = pad1 + "  "
        parts = [
            f'{pad2}"{key}": {(chr(34) + "%s" + chr(34)) if fmt is True else "%s" if fmt is False else fmt}'
            for key, fmt in self.fields
        ]
        template = pad1 + "{\n" + ",\n".join(parts) + "\n" + pad1 + "}"
        render = self.render
        rows = self.rows()
        opener = "[\n"
        while True:
            chunk = [template % render(row) for row in islice(rows, CHUNK_ROWS)]
            if not chunk:
                break
            yield opener + ",\n".join(chunk)
            opener = ",\n"
        yield self.empty if opener == "[\n" else "\n" + "  " * depth + "]"


@dataclass
class ChatMap:
    """``{"Chat History with <name>:": [messages...], ...}``."""

    conversations: list[tuple[str, RecordList]]

    def emit(self, depth: int) -> Iterator[str]:
        if not self.conversations:
            yield "{}"
            return
        pad = "  " * (depth + 1)
        sep = "{\n"
        for key, records in self.conversations:
            yield f"{sep}{pad}{json.dumps(key, ensure_ascii=False)}: "
            yield from records.emit(depth + 1)
            sep = ",\n"
        yield "\n" + "  " * depth + "}"


def emit(value: Any, depth: int = 0) -> Iterator[str]:
    """Yield the JSON text of ``value`` (dicts may hold RecordList/ChatMap nodes)."""
    if isinstance(value, RecordList | ChatMap):
        yield from value.emit(depth)
    elif isinstance(value, dict) and any(isinstance(v, dict | RecordList | ChatMap) for v in value.values()):
        pad = "  " * (depth + 1)
        sep = "{\n"
        for key, item in value.items():
            yield f"{sep}{pad}{json.dumps(key, ensure_ascii=False)}: "
            yield from emit(item, depth + 1)
            sep = ",\n"
        yield "\n" + "  " * depth + "}"
    else:
        text = json.dumps(value, ensure_ascii=False, indent=2)
        yield text.replace("\n", "\n" + "  " * depth) if depth else text


def member_name(generation: str, export_ts: int) -> str:
    """Where the JSON file sits in the zip (name and folder vary by era)."""
    if generation in ("G0", "G1"):
        return "user_data.json"
    if generation == "G2":
        return "user_data_tiktok.json"
    return f"TikTok_Data_{export_ts}/user_data_tiktok.json"


class _Builder:
    def __init__(self, snap: Snapshot, sections: frozenset[str], layout: str = "full") -> None:
        self.snap = snap
        # "partial": where real exports of one category put sections (docs/archive-format.md).
        self.partial = layout == "partial"
        self.tl = snap.timeline
        self.gen = snap.spec.generation
        self.legacy = self.gen in ("G0", "G1")
        self.sections = sections
        self.fmt = TimestampFormatter()
        self.tree: dict[str, dict[str, Any]] = {}

    def put(self, section: str, top: str, sub: str, value: Callable[[], Any]) -> None:
        if section in self.sections:
            self.tree.setdefault(top, {})[sub] = value()

    def app(self, body: dict[str, Any], fast_lane: bool = False) -> dict[str, Any]:
        """G2+ wraps many sections with non-record ``App`` (and ``IsFastLane``) fields."""
        if self.legacy:
            return body
        head: dict[str, Any] = {"App": 0}
        if fast_lane:
            head["IsFastLane"] = False
        return {**head, **body}

    def events(self, kind: str, fields: tuple[tuple[str, bool], ...], render: Callable, empty: str = "[]"):
        tl, version = self.tl, self.snap.version
        return RecordList(fields, lambda: tl.rows(kind, version), render, empty)

    def build(self) -> dict[str, Any]:
        snap, fmt, gen, legacy = self.snap, self.fmt, self.gen, self.legacy
        activity = "Activity" if legacy else "Your Activity"
        likes_top = "Likes and Favorites" if gen == "G3" else activity
        profile_top = "Profile And Settings" if gen == "G3" else "Profile"
        # A partial export puts the follow lists under Profile and the comments in Activity.
        social_top = "Profile" if self.partial else ("Profile And Settings" if gen == "G3" else activity)
        social_list = legacy or self.partial  # "Follower List" / "Following List"
        settings_top = "Profile And Settings" if gen == "G3" else "App Settings"
        video_key = "VideoLink" if gen == "G0" else "Link"
        date_link = (("Date", True), (video_key, True))
        days, tod = fmt.days, fmt.tod
        watch_prefix = links.watch_prefix(gen)
        share = links.SHARE_VIDEO

        self.put(
            "profile_info", profile_top, "Profile Information" if legacy else "Profile Info", self.profile
        )
        self.put("autofill", "Profile", "Autofill", extras.autofill)
        for section, kind, sub, list_key in (
            ("followers", "follower", "Follower List" if social_list else "Follower", "FansList"),
            ("following", "following", "Following List" if social_list else "Following", "Following"),
        ):
            self.put(
                section, social_top, sub, lambda k=kind, lk=list_key: self.app({lk: self.social(k)}, True)
            )
        self.put(
            "block_list",
            "App Settings",
            "Block" if legacy else "Block List",
            lambda: self.app(
                {
                    "BlockList": self.events(
                        "blocked",
                        (("Date", True), ("UserName", True)),
                        lambda r: (fmt(r[0]), vocab.person_name(r[1])),
                    )
                }
            ),
        )
        self.put(
            "settings", settings_top, "Settings", lambda: self.app({"SettingsMap": extras.settings_map(snap)})
        )
        self.put("posts", "Video" if legacy else "Post", "Videos" if legacy else "Posts", self.posts)
        if not legacy:
            self.put("deleted_posts", "Post", "Recently Deleted Posts", lambda: {"PostList": []})

        self.put(
            "watch",
            activity,
            "Video Browsing History" if legacy else "Watch History",
            lambda: {
                "VideoList": self.events(
                    "watch",
                    (("Date", '"%s%s"'), (video_key, f'"{watch_prefix}%d/"')),
                    lambda r: (days[r[0] // DAY_S], tod[r[0] % DAY_S], r[1]),
                )
            },
        )
        like_fields = (("Date", True), (video_key, True)) if legacy else (("date", True), ("link", True))
        self.put(
            "likes",
            likes_top,
            "Like List",
            lambda: self.app(
                {
                    "ItemFavoriteList": self.events(
                        "like", like_fields, lambda r: (fmt(r[0]), f"{share}{r[1]}/")
                    )
                }
            ),
        )
        self.put(
            "fav_video",
            likes_top,
            "Favorite Videos",
            lambda: self.app(
                {
                    "FavoriteVideoList": self.events(
                        "fav_video", date_link, lambda r: (fmt(r[0]), f"{share}{r[1]}/")
                    )
                }
            ),
        )
        self.put(
            "fav_sound",
            likes_top,
            "Favorite Sounds",
            lambda: {
                "FavoriteSoundList": self.events(
                    "fav_sound",
                    (("Date", True), ("Link", True)),
                    lambda r: (fmt(r[0]), links.sound_link(r[1])),
                    "null",
                )
            },
        )
        self.put(
            "fav_effect",
            likes_top,
            "Favorite Effects",
            lambda: {
                "FavoriteEffectsList": self.events(
                    "fav_effect",
                    (("Date", True), ("EffectLink", True)),
                    lambda r: (fmt(r[0]), links.effect_link(r[1])),
                )
            },
        )
        self.put(
            "fav_hashtag",
            likes_top,
            "Favorite Hashtags",
            lambda: {
                "FavoriteHashtagList": self.events(
                    "fav_hashtag",
                    (("Date", True), ("Link", True)),
                    lambda r: (fmt(r[0]), links.hashtag_link(r[1])),
                )
            },
        )
        self.put(
            "fav_collection",
            likes_top,
            "Favorite Collection",
            lambda: {
                "FavoriteCollectionList": self.events(
                    "fav_collection",
                    (("Date", True), ("FavoriteCollection", True)),
                    lambda r: (fmt(r[0]), vocab.COLLECTIONS_JSON[r[1]]),
                )
            },
        )
        self.put(
            "searches",
            activity,
            "Search History" if legacy else "Searches",
            lambda: {
                "SearchList": self.events(
                    "search",
                    (("Date", True), ("SearchTerm", True)),
                    lambda r: (fmt(r[0]), vocab.SEARCH_TERMS_JSON[r[1]]),
                )
            },
        )
        self.put(
            "shares",
            activity,
            "Share History",
            lambda: {
                "ShareHistoryList": self.events(
                    "share",
                    (("Date", True), ("SharedContent", True), ("Link", True), ("Method", True)),
                    lambda r: (
                        fmt(r[0]),
                        vocab.SHARED_CONTENT[r[2]],
                        f"{share}{r[1]}/",
                        vocab.SHARE_METHODS[r[3]],
                    ),
                )
            },
        )
        self.put("logins", activity, "Login History", self.logins)
        self.put("comments", activity if self.partial else "Comment", "Comments", self.comments)
        self.put("hashtag", activity, "Hashtag", lambda: {"HashtagList": extras.hashtags_used(snap)})
        if not legacy:
            self.put(
                "activity_summary",
                activity,
                "Activity Summary",
                lambda: {"ActivitySummaryMap": extras.activity_summary(snap)},
            )
        self.put("status", activity, "Status", lambda: {"Status List": extras.status_list(snap)})
        self.put(
            "location", activity, "Most Recent Location Data", lambda: {"LocationData": extras.location(snap)}
        )
        self.put(
            "purchases",
            activity,
            "Purchase History" if legacy else "Purchases",
            lambda: {"SendGifts": {"SendGifts": None}, "BuyGifts": {"BuyGifts": None}},
        )
        self.put(
            "dms",
            *(("Direct Messages", "Chat History") if legacy else ("Direct Message", "Direct Messages")),
            self.dms,
        )
        # G3 sources disagree on where Off TikTok Activity lives; we put it under Profile And Settings.
        self.put(
            "ads",
            "Profile And Settings" if gen == "G3" else "Ads and data",
            "Off TikTok Activity",
            lambda: {"OffTikTokActivityDataList": extras.off_tiktok(snap)},
        )
        self.put(
            "ads", "Ads and data", "Ad Interests", lambda: {"AdInterestCategories": "Cooking|Travel|Pets"}
        )
        shop = "Tiktok Shopping" if legacy else "TikTok Shop"
        self.put(
            "shop",
            shop,
            "Product Browsing History",
            lambda: {"ProductBrowsingHistories": extras.product_browsing(snap)},
        )
        self.put("shop", shop, "Shopping Cart List", lambda: {"ShoppingCart": []})
        self.put("shop", shop, "Order History", lambda: {"OrderHistories": None})
        self.put("shop", shop, "Vouchers", lambda: {"Vouchers": None})
        self.put(
            "live", "Tiktok Live", "Watch Live History", lambda: {"WatchLiveMap": extras.watch_live(snap)}
        )
        self.put("live", "Tiktok Live", "Go Live History", lambda: {"GoLiveList": None})
        if not legacy:
            self.put(
                "income",
                "Income Plus Wallet Transactions",
                "Transaction History",
                lambda: {"TransactionsList": None},
            )
        return {top: dict(sorted(subs.items())) for top, subs in sorted(self.tree.items())}

    def profile(self) -> dict[str, Any]:
        p = self.snap.profile
        likes = str(p.likes_received) if p.likes_received else "None"
        if self.legacy:
            pmap: dict[str, Any] = {
                "PlatformInfo": [],
                "bioDescription": p.bio,
                "birthDate": p.birth_date,
                "emailAddress": p.email,
                "likesReceived": likes,
                "profilePhoto": p.profile_photo,
                "profileVideo": "",
                "telephoneNumber": p.phone,
                "userName": p.user_name,
            }
        else:
            pmap = {
                "PlatformInfo": [],
                "aiSelf": "",
                "bioDescription": p.bio,
                "birthDate": p.birth_date,
                "displayName": p.display_name,
                "emailAddress": p.email,
                "followerCount": p.follower_count,
                "followingCount": p.following_count,
                "inferredGender": "",
                "instagramLink": "",
                "lemon8Link": "",
                "likesReceived": likes,
                "profilePhoto": p.profile_photo,
                "profileVideo": "",
                "telephoneNumber": p.phone,
                "userName": p.user_name,
                "youtubeLink": "",
            }
        return self.app({"ProfileMap": pmap})

    def social(self, kind: str) -> RecordList:
        rows = self.tl.social(kind, self.snap.version)
        fmt = self.fmt
        return RecordList(
            (("Date", True), ("UserName", True)),
            lambda: iter(rows),
            lambda r: (fmt(r[0]), vocab.person_name(r[1])),
        )

    def posts(self) -> dict[str, Any]:
        fmt = self.fmt
        rows = self.tl.posts(self.snap.version)
        if self.legacy:
            fields: tuple[tuple[str, bool], ...] = (("Date", True), ("Likes", True), ("Link", True))
            return {
                "VideoList": RecordList(
                    fields, lambda: iter(rows), lambda r: (fmt(r[0]), str(r[4]), links.post_link(r[1]))
                )
            }
        keys = (
            "Date", "Link", "Likes", "WhoCanView", "AllowComments", "AllowStitches", "AllowDuets",
            "AllowStickers", "AllowSharingToStory", "ContentDisclosure", "AIGeneratedContent", "Sound",
            "Location", "Title", "AddYoursText", "AlternateText", "CoverImage",
        )  # fmt: skip
        titles = tuple(vocab.json_escape(t) for t in vocab.POST_TITLES)
        user = self.snap.user_name

        def render(r: tuple) -> tuple:
            sound = vocab.SOUNDS[r[3]]
            if r[3] == 0:
                sound = f"{sound} - {user}"
            return (
                fmt(r[0]), links.post_link(r[1]), str(r[4]), "Everyone", "Yes", "Yes", "Yes", "Yes",
                "Yes", "", "No", sound, "", titles[r[2]], "", "", links.post_cover(r[1]),
            )  # fmt: skip

        return {"VideoList": RecordList(tuple((k, True) for k in keys), lambda: iter(rows), render)}

    def logins(self) -> dict[str, Any]:
        fmt = self.fmt
        fields = tuple(
            (k, True) for k in ("Date", "IP", "DeviceModel", "DeviceSystem", "NetworkType", "Carrier")
        )

        def render(r: tuple) -> tuple:
            return (fmt(r[0]), *login_fields(r))

        return {"LoginHistoryList": self.events("login", fields, render)}

    def comments(self) -> dict[str, Any]:
        fmt = self.fmt
        if self.legacy:
            return {
                "CommentsList": self.events(
                    "comment",
                    (("Date", True), ("Comment", True)),
                    lambda r: (fmt(r[0]), vocab.COMMENTS_JSON[r[1]]),
                )
            }
        share = links.SHARE_VIDEO
        return self.app(
            {
                "CommentsList": self.events(
                    "comment",
                    (("date", True), ("comment", True), ("photo", True), ("url", True)),
                    lambda r: (fmt(r[0]), vocab.COMMENTS_JSON[r[1]], "N/A", f"{share}{r[2]}/"),
                )
            }
        )

    def dms(self) -> dict[str, Any]:
        tl, version, fmt = self.tl, self.snap.version, self.fmt
        me = self.snap.user_name
        share = links.SHARE_VIDEO
        days, tod = fmt.days, fmt.tod
        messages = vocab.MESSAGES_JSON
        conversations = []
        for c, partner in enumerate(self.snap.conversations):

            def render(r: tuple, partner: str = partner) -> tuple:
                ts = r[0]
                return (
                    days[ts // DAY_S],
                    tod[ts % DAY_S],
                    me if r[1] else partner,
                    f"{share}{r[3]}/" if r[2] < 0 else messages[r[2]],
                )

            rows = partial(tl.message_rows, c, version)
            fields: tuple[tuple[str, bool | str], ...] = (
                ("Date", '"%s%s"'),
                ("From", True),
                ("Content", True),
            )
            conversations.append((f"Chat History with {partner}:", RecordList(fields, rows, render)))
        return {"ChatHistory": ChatMap(conversations)}


def document(snap: Snapshot, sections: frozenset[str], layout: str = "full") -> dict[str, Any]:
    """The JSON export tree of ``snap`` restricted to ``sections``, in the ``full`` layout of its
    generation or the ``partial`` one of single-category exports."""
    return _Builder(snap, sections, layout).build()
