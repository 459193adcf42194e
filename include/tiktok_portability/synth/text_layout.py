"""The TXT export in three variants: ``en_new``, ``en_old`` and Dutch ``nl``.

One ``.txt`` file per section; records are blocks of ``Key: value`` lines separated by one blank
line; direct messages use the ``>>> Chat History with <name>::`` format. ``en_new`` and ``nl`` sit
under ``TikTok_Data_<export unix>/TikTok/<Section>/``, append `` UTC`` to dates and use CRLF;
``en_old`` sits under ``Tiktok/<Section>/`` with bare dates and LF. Empty sections hold a localised
"no data" sentence. Dutch names beyond the three documented ones are our choice (docs/synth.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from itertools import islice
from typing import Any

from tiktok_portability.synth import extras, links, vocab
from tiktok_portability.synth.snapshot import Snapshot, login_fields
from tiktok_portability.synth.timefmt import TimestampFormatter

CHUNK_ROWS = 256


@dataclass(frozen=True)
class Variant:
    name: str
    root: str  # "{ts}" is replaced by the export's unix time
    newline: str
    date_suffix: str
    no_data: str
    chat_header: str
    files: dict[str, tuple[str, str]]
    keys: dict[str, str]


_EN_KEYS = {
    "date": "Date",
    "link": "Link",
    "username": "Username",
    "search": "Search Term",
    "shared": "Shared Content",
    "method": "Method",
    "ip": "IP",
    "model": "Device Model",
    "system": "Device System",
    "network": "Network Type",
    "carrier": "Carrier",
    "comment": "Comment",
    "comment_link": "Original Post Link",
    "likes": "Like(s)",
    "effect": "Effect Link",
    "hashtag": "HashTag Link",
    "collection": "Favorite Collection",
    "hashtag_name": "Hashtag Name",
    "source": "Source",
    "event": "Event",
    "shop": "Shop Name",
    "product": "Product Name",
    "user": "Username",
    "display": "Display Name",
    "bio": "Bio",
    "birth": "Birthdate",
    "email": "Email Address",
    "phone": "Telephone Number",
    "likes_received": "Likes Received",
    "followers": "Follower Count",
    "following": "Following Count",
    "photo": "Profile Photo",
}
_NL_KEYS = {
    "date": "Datum",
    "link": "Link",
    "username": "Gebruikersnaam",
    "search": "Zoekterm",
    "shared": "Gedeelde inhoud",
    "method": "Methode",
    "ip": "IP-adres",
    "model": "Apparaatmodel",
    "system": "Besturingssysteem",
    "network": "Netwerktype",
    "carrier": "Provider",
    "comment": "Opmerking",
    "comment_link": "Link naar oorspronkelijke post",
    "likes": "Vind-ik-leuks",
    "effect": "Effectlink",
    "hashtag": "Hashtaglink",
    "collection": "Favoriete collectie",
    "hashtag_name": "Hashtagnaam",
    "source": "Bron",
    "event": "Gebeurtenis",
    "shop": "Winkelnaam",
    "product": "Productnaam",
    "user": "Gebruikersnaam",
    "display": "Weergavenaam",
    "bio": "Bio",
    "birth": "Geboortedatum",
    "email": "E-mailadres",
    "phone": "Telefoonnummer",
    "likes_received": "Ontvangen vind-ik-leuks",
    "followers": "Aantal volgers",
    "following": "Aantal gevolgd",
    "photo": "Profielfoto",
}

VARIANTS: dict[str, Variant] = {
    "en_new": Variant(
        name="en_new",
        root="TikTok_Data_{ts}/TikTok/",
        newline="\r\n",
        date_suffix=" UTC",
        no_data="You have no data in this section.",
        chat_header=">>> Chat History with {name}::",
        keys=_EN_KEYS,
        files={
            "profile_info": ("Profile and Settings", "Profile Information.txt"),
            "followers": ("Profile and Settings", "Follower.txt"),
            "following": ("Profile and Settings", "Following.txt"),
            "block_list": ("Profile and Settings", "Block List.txt"),
            "settings": ("Profile and Settings", "Settings.txt"),
            "posts": ("Post", "Posts.txt"),
            "watch": ("Your Activity", "Watch History.txt"),
            "searches": ("Your Activity", "Searches.txt"),
            "shares": ("Your Activity", "Share History.txt"),
            "logins": ("Your Activity", "Login History.txt"),
            "hashtag": ("Your Activity", "Hashtag.txt"),
            "activity_summary": ("Your Activity", "Activity Summary.txt"),
            "status": ("Your Activity", "Status.txt"),
            "likes": ("Likes and Favourites", "Like List.txt"),
            "fav_video": ("Likes and Favourites", "Favourite Videos.txt"),
            "fav_sound": ("Likes and Favourites", "Favourite Sounds.txt"),
            "fav_effect": ("Likes and Favourites", "Favourite Effects.txt"),
            "fav_hashtag": ("Likes and Favourites", "Favourite Hashtags.txt"),
            "fav_collection": ("Likes and Favourites", "Favourite Collections.txt"),
            "comments": ("Comments", "Comments.txt"),
            "dms": ("Messages", "Direct Messages.txt"),
            "ads": ("Ads and Data", "Off-TikTok Activities.txt"),
            "live": ("TikTok Live", "Watch Live History.txt"),
            "shop": ("TikTok Shop", "Product Browsing History.txt"),
        },
    ),
    "en_old": Variant(
        name="en_old",
        root="Tiktok/",
        newline="\n",
        date_suffix="",
        no_data="No data available.",
        chat_header=">>> Chat History with {name}::",
        keys=_EN_KEYS,
        files={
            "profile_info": ("Profile", "Profile Info.txt"),
            "followers": ("Activity", "Follower.txt"),
            "following": ("Activity", "Following.txt"),
            "block_list": ("App Settings", "Block List.txt"),
            "settings": ("App Settings", "Settings.txt"),
            "posts": ("Videos", "Post.txt"),
            "watch": ("Activity", "Browsing History.txt"),
            "searches": ("Activity", "Searches.txt"),
            "shares": ("Activity", "Share History.txt"),
            "logins": ("Activity", "Login History.txt"),
            "hashtag": ("Activity", "Hashtag.txt"),
            "status": ("Activity", "Status.txt"),
            "likes": ("Activity", "Like List.txt"),
            "fav_video": ("Activity", "Favorite Videos.txt"),
            "fav_sound": ("Activity", "Favorite Sounds.txt"),
            "fav_effect": ("Activity", "Favorite Effects.txt"),
            "fav_hashtag": ("Activity", "Favorite HashTags.txt"),
            "fav_collection": ("Activity", "Favorite Collection.txt"),
            "comments": ("Activity", "Comments.txt"),
            "dms": ("Direct Messages", "Direct Messages.txt"),
            "ads": ("Ads and data", "Off TikTok Activity.txt"),
            "live": ("Tiktok Live", "Watch Live History.txt"),
            "shop": ("Tiktok Shopping", "Product Browsing History.txt"),
        },
    ),
    "nl": Variant(
        name="nl",
        root="TikTok_Data_{ts}/TikTok/",
        newline="\r\n",
        date_suffix=" UTC",
        no_data="Je hebt geen gegevens in dit onderdeel.",
        chat_header=">>> Chatgeschiedenis met {name}::",
        keys=_NL_KEYS,
        files={
            "profile_info": ("Profiel", "Profielinformatie.txt"),
            "followers": ("Profiel", "Volgers.txt"),
            "following": ("Profiel", "Volgend.txt"),
            "block_list": ("Profiel", "Geblokkeerde accounts.txt"),
            "settings": ("Profiel", "Instellingen.txt"),
            "posts": ("Video's", "Video's.txt"),
            "watch": ("Je activiteit", "Kijkgeschiedenis.txt"),
            "searches": ("Je activiteit", "Zoekopdrachten.txt"),
            "shares": ("Je activiteit", "Deelgeschiedenis.txt"),
            "logins": ("Je activiteit", "Inloggeschiedenis.txt"),
            "hashtag": ("Je activiteit", "Hashtags.txt"),
            "activity_summary": ("Je activiteit", "Activiteitenoverzicht.txt"),
            "status": ("Je activiteit", "Status.txt"),
            "likes": ("Vind-ik-leuks en favorieten", "Vind-ik-leuks.txt"),
            "fav_video": ("Vind-ik-leuks en favorieten", "Favoriete video's.txt"),
            "fav_sound": ("Vind-ik-leuks en favorieten", "Favoriete geluiden.txt"),
            "fav_effect": ("Vind-ik-leuks en favorieten", "Favoriete effecten.txt"),
            "fav_hashtag": ("Vind-ik-leuks en favorieten", "Favoriete hashtags.txt"),
            "fav_collection": ("Vind-ik-leuks en favorieten", "Favoriete collecties.txt"),
            "comments": ("Opmerkingen", "Opmerkingen.txt"),
            "dms": ("Berichten", "Directe berichten.txt"),
            "ads": ("Advertenties en gegevens", "Activiteiten buiten TikTok.txt"),
            "live": ("TikTok LIVE", "LIVE-kijkgeschiedenis.txt"),
            "shop": ("TikTok Shop", "Browsegeschiedenis producten.txt"),
        },
    ),
}


def blocks(
    variant: Variant, keys: Iterable[str], rows: Iterator[tuple], render: Callable[[tuple], tuple]
) -> Iterator[str]:
    """``Key: value`` blocks separated by blank lines, or the no-data sentence when empty."""
    nl = variant.newline
    template = "".join(f"{variant.keys.get(k, k)}: %s{nl}" for k in keys)
    sep = ""
    while True:
        chunk = [template % render(row) for row in islice(rows, CHUNK_ROWS)]
        if not chunk:
            break
        yield sep + nl.join(chunk)
        sep = nl
    if not sep:
        yield variant.no_data + nl


def _identity(row: tuple) -> tuple:
    return row


class _Writer:
    def __init__(self, snap: Snapshot, variant: Variant) -> None:
        self.snap = snap
        self.tl = snap.timeline
        self.v = variant
        self.fmt = TimestampFormatter(variant.date_suffix)
        self.version = snap.version

    def events(self, kind: str, keys: Iterable[str], render: Callable[[tuple], tuple]) -> Iterator[str]:
        return blocks(self.v, keys, self.tl.rows(kind, self.version), render)

    def static(self, keys: Iterable[str], rows: list[tuple]) -> Iterator[str]:
        return blocks(self.v, keys, iter(rows), _identity)

    def lines(self, pairs: list[tuple[str, Any]]) -> Iterator[str]:
        nl = self.v.newline
        yield "".join(f"{k}: {v}{nl}" for k, v in pairs)

    def section(self, section: str) -> Iterator[str]:
        snap, fmt, share = self.snap, self.fmt, links.SHARE_VIDEO
        old = self.v.name == "en_old"
        if section == "profile_info":
            p, k = snap.profile, self.v.keys
            pairs: list[tuple[str, Any]] = [(k["user"], p.user_name)]
            if not old:
                pairs.append((k["display"], p.display_name))
            pairs += [
                (k["bio"], p.bio),
                (k["birth"], p.birth_date),
                (k["email"], p.email),
                (k["phone"], p.phone),
                (k["likes_received"], p.likes_received or "None"),
            ]
            if not old:
                pairs += [(k["followers"], p.follower_count), (k["following"], p.following_count)]
            pairs.append((k["photo"], p.profile_photo))
            return self.lines(pairs)
        if section in ("followers", "following"):
            kind = "follower" if section == "followers" else "following"
            rows = self.tl.social(kind, self.version)
            return blocks(
                self.v, ("date", "username"), iter(rows), lambda r: (fmt(r[0]), vocab.person_name(r[1]))
            )
        if section == "block_list":
            return self.events(
                "blocked", ("date", "username"), lambda r: (fmt(r[0]), vocab.person_name(r[1]))
            )
        if section == "settings":
            settings = extras.settings_map(snap)
            return self.lines([(key, value) for key, value in settings.items() if isinstance(value, str)])
        if section == "posts":
            rows = self.tl.posts(self.version)
            return blocks(
                self.v,
                ("date", "link", "likes"),
                iter(rows),
                lambda r: (fmt(r[0]), links.post_link(r[1]), r[4]),
            )
        if section == "watch":
            prefix = links.watch_prefix(snap.spec.generation)
            link_key = "Video Link" if old and snap.spec.generation == "G0" else "link"
            return self.events("watch", ("date", link_key), lambda r: (fmt(r[0]), f"{prefix}{r[1]}/"))
        if section in ("likes", "fav_video"):
            kind = "like" if section == "likes" else "fav_video"
            return self.events(kind, ("date", "link"), lambda r: (fmt(r[0]), f"{share}{r[1]}/"))
        if section == "fav_sound":
            return self.events("fav_sound", ("date", "link"), lambda r: (fmt(r[0]), links.sound_link(r[1])))
        if section == "fav_effect":
            return self.events(
                "fav_effect", ("date", "effect"), lambda r: (fmt(r[0]), links.effect_link(r[1]))
            )
        if section == "fav_hashtag":
            return self.events(
                "fav_hashtag", ("date", "hashtag"), lambda r: (fmt(r[0]), links.hashtag_link(r[1]))
            )
        if section == "fav_collection":
            return self.events(
                "fav_collection", ("date", "collection"), lambda r: (fmt(r[0]), vocab.COLLECTIONS[r[1]])
            )
        if section == "searches":
            return self.events("search", ("date", "search"), lambda r: (fmt(r[0]), vocab.SEARCH_TERMS[r[1]]))
        if section == "shares":
            return self.events(
                "share",
                ("date", "shared", "link", "method"),
                lambda r: (
                    fmt(r[0]),
                    vocab.SHARED_CONTENT[r[2]],
                    f"{share}{r[1]}/",
                    vocab.SHARE_METHODS[r[3]],
                ),
            )
        if section == "logins":

            def login(r: tuple) -> tuple:
                return (fmt(r[0]), *login_fields(r))

            return self.events("login", ("date", "ip", "model", "system", "network", "carrier"), login)
        if section == "comments":
            if old:
                return self.events(
                    "comment", ("date", "comment"), lambda r: (fmt(r[0]), vocab.COMMENTS[r[1]])
                )
            return self.events(
                "comment",
                ("date", "comment", "comment_link"),
                lambda r: (fmt(r[0]), vocab.COMMENTS[r[1]], f"{share}{r[2]}/"),
            )
        if section == "hashtag":
            rows = [(h["HashtagName"], h["HashtagLink"]) for h in extras.hashtags_used(snap)]
            return self.static(("hashtag_name", "hashtag"), rows)
        if section == "activity_summary":
            return self.lines(list(extras.activity_summary(snap).items()))
        if section == "status":
            return self.lines(list(extras.status_list(snap)[0].items()))
        if section == "ads":
            rows = [
                (f"{r['TimeStamp']}{self.v.date_suffix}", r["Source"], r["Event"])
                for r in extras.off_tiktok(snap)
            ]
            return self.static(("date", "source", "event"), rows)
        if section == "live":
            rows = [
                (f"{room['WatchTime']}{self.v.date_suffix}", room["Link"])
                for room in extras.watch_live(snap).values()
            ]
            return self.static(("date", "link"), rows)
        if section == "shop":
            rows = [
                (f"{r['browsing_date']}{self.v.date_suffix}", r["shop_name"], r["product_name"])
                for r in extras.product_browsing(snap)
            ]
            return self.static(("date", "shop", "product"), rows)
        if section == "dms":
            return self.dms()
        raise KeyError(section)

    def dms(self) -> Iterator[str]:
        nl, fmt, me, share = self.v.newline, self.fmt, self.snap.user_name, links.SHARE_VIDEO
        partners = self.snap.conversations
        if not partners:
            yield self.v.no_data + nl
            return
        for c, partner in enumerate(partners):
            yield ("" if c == 0 else nl) + self.v.chat_header.format(name=partner) + nl + nl
            rows = self.tl.message_rows(c, self.version)
            while True:
                chunk = [
                    f"{fmt(ts)} {me if sent else partner}: {share}{vid}/{nl}"
                    if text < 0
                    else f"{fmt(ts)} {me if sent else partner}: {vocab.MESSAGES[text]}{nl}"
                    for ts, sent, text, vid in islice(rows, CHUNK_ROWS)
                ]
                if not chunk:
                    break
                yield "".join(chunk)


def members(
    snap: Snapshot, variant_name: str, sections: frozenset[str]
) -> list[tuple[str, Callable[[], Iterator[str]]]]:
    """``(zip member path, chunk producer)`` for every included section, in a stable order."""
    variant = VARIANTS[variant_name]
    writer = _Writer(snap, variant)
    root = variant.root.format(ts=snap.export_ts)
    out = [
        (f"{root}{folder}/{name}", partial(writer.section, section))
        for section, (folder, name) in variant.files.items()
        if section in sections
    ]
    return sorted(out, key=lambda item: item[0])
