"""Where each table's records live: JSON key paths (all generations) and TXT file names.

Paths are matched after :func:`norm_key`, so ``Tiktok Live``/``TikTok Live`` and similar casing
drift resolve alike. Every section is resolved on its own (layout changes did not land at once).
"""

from __future__ import annotations

from functools import lru_cache

from tiktok_portability.normalize import fields as f
from tiktok_portability.normalize.fields import RecordMap, norm_key

ANY = None  # matches any key (DM conversation names)


def _alts(*names: str) -> frozenset[str]:
    return frozenset(norm_key(n) for n in names)


_ACT = _alts("Your Activity", "Activity")
_LF = _alts("Likes and Favorites", "Likes and Favourites", "Your Activity", "Activity")
# Follow lists sit under Profile And Settings (G3), Your Activity (G2), Activity (G1) and, in
# partial exports (one category only), under Profile beside Profile Information.
_SOCIAL = _alts("Profile And Settings", "Your Activity", "Activity", "Profile")

# (path pattern, record map); a list at a matching path feeds the map's table.
LIST_ROUTES: tuple[tuple[tuple[frozenset[str] | None, ...], RecordMap], ...] = (
    ((_alts("Your Activity"), _alts("Watch History"), _alts("VideoList")), f.WATCH),
    ((_alts("Activity"), _alts("Video Browsing History"), _alts("VideoList")), f.WATCH),
    ((_LF, _alts("Like List"), _alts("ItemFavoriteList")), f.LIKES),
    ((_LF, _alts("Favorite Videos"), _alts("FavoriteVideoList")), f.FAVORITES["video"]),
    ((_LF, _alts("Favorite Sounds"), _alts("FavoriteSoundList")), f.FAVORITES["sound"]),
    ((_LF, _alts("Favorite Effects"), _alts("FavoriteEffectsList")), f.FAVORITES["effect"]),
    ((_LF, _alts("Favorite Hashtags"), _alts("FavoriteHashtagList")), f.FAVORITES["hashtag"]),
    ((_LF, _alts("Favorite Collection"), _alts("FavoriteCollectionList")), f.FAVORITES["collection"]),
    ((_ACT, _alts("Searches", "Search History"), _alts("SearchList")), f.SEARCHES),
    ((_ACT, _alts("Share History"), _alts("ShareHistoryList")), f.SHARES),
    ((_ACT, _alts("Login History"), _alts("LoginHistoryList")), f.LOGINS),
    ((_alts("Comment"), _alts("Comments"), _alts("CommentsList")), f.COMMENTS),
    # Partial exports: comments inside Activity, or directly under Comment.
    ((_alts("Activity", "Your Activity"), _alts("Comments", "Comment"), _alts("CommentsList")), f.COMMENTS),
    ((_alts("Comment", "Comments"), _alts("CommentsList")), f.COMMENTS),
    ((_SOCIAL, _alts("Follower", "Follower List"), _alts("FansList")), f.FOLLOWERS),
    ((_SOCIAL, _alts("Following", "Following List"), _alts("Following")), f.FOLLOWING),
    ((_alts("Post"), _alts("Posts"), _alts("VideoList")), f.POSTS),
    ((_alts("Video"), _alts("Videos"), _alts("VideoList")), f.POSTS),
    (
        (_alts("App Settings", "Profile And Settings"), _alts("Block List", "Block"), _alts("BlockList")),
        f.BLOCKED,
    ),
    ((_alts("Direct Message"), _alts("Direct Messages"), _alts("ChatHistory"), ANY), f.DM),
    ((_alts("Direct Messages"), _alts("Chat History"), _alts("ChatHistory"), ANY), f.DM),
    ((_alts("Direct Message", "Direct Messages"), _alts("ChatHistory"), ANY), f.DM),
)

# Objects read as one record.
PROFILE_PATH = (
    _alts("Profile And Settings", "Profile"),
    _alts("Profile Info", "Profile Information"),
    _alts("ProfileMap"),
)
OBJECT_ROUTES = ((PROFILE_PATH, f.PROFILE),)

# Objects keyed by data (names, ids) rather than by section names: shown as '*' in sections_seen.
DYNAMIC_PARENTS = _alts("ChatHistory", "WatchLiveMap", "CommunicationHistories")


def _match(pattern: tuple[frozenset[str] | None, ...], path: tuple[str, ...]) -> bool:
    if len(pattern) != len(path):
        return False
    return all(alts is None or norm_key(key) in alts for alts, key in zip(pattern, path, strict=True))


# Cached: the same few paths recur in every archive, and small archives are mostly paths.
@lru_cache(maxsize=65_536)
def route_list(path: tuple[str, ...]) -> RecordMap | None:
    for pattern, rmap in LIST_ROUTES:
        if _match(pattern, path):
            return rmap
    return None


@lru_cache(maxsize=65_536)
def route_object(path: tuple[str, ...]) -> RecordMap | None:
    for pattern, rmap in OBJECT_ROUTES:
        if _match(pattern, path):
            return rmap
    return None


def could_hold_profile(path: tuple[str, ...]) -> bool:
    """True while ``path`` is a prefix of the profile path (the pre-pass skips everything else)."""
    return len(path) <= len(PROFILE_PATH) and all(
        norm_key(k) in alts for alts, k in zip(PROFILE_PATH, path, strict=False)
    )


@lru_cache(maxsize=65_536)
def display_path(path: tuple[str, ...]) -> str:
    parts = []
    for i, key in enumerate(path):
        parts.append("*" if i and norm_key(path[i - 1]) in DYNAMIC_PARENTS else key)
    return " / ".join(parts)


# TXT: file base name (norm_key) -> record map. English old/new, en-GB spellings and Dutch.
TXT_FILES: dict[str, RecordMap] = {}
for _names, _rmap in (
    (("Watch History", "Browsing History", "Video Browsing History", "Kijkgeschiedenis"), f.WATCH),
    (
        (
            "Like List",
            "Liked Videos",
            "Vind-ik-leuks",
            "Vind ik leuks lijst",
            "Lijst met vind-ik-leuks",
            "Likelijst",
        ),
        f.LIKES,
    ),
    (("Favorite Videos", "Favourite Videos", "Favoriete video's", "Favoriete videos"), f.FAVORITES["video"]),
    (("Favorite Sounds", "Favourite Sounds", "Favoriete geluiden"), f.FAVORITES["sound"]),
    (("Favorite Effects", "Favourite Effects", "Favoriete effecten"), f.FAVORITES["effect"]),
    (("Favorite HashTags", "Favourite Hashtags", "Favoriete hashtags"), f.FAVORITES["hashtag"]),
    (
        ("Favorite Collection", "Favorite Collections", "Favourite Collections", "Favoriete collecties"),
        f.FAVORITES["collection"],
    ),
    (("Searches", "Search History", "Zoekopdrachten", "Zoekgeschiedenis"), f.SEARCHES),
    (("Share History", "Deelgeschiedenis", "Geschiedenis delen"), f.SHARES),
    (("Login History", "Inloggeschiedenis"), f.LOGINS),
    (("Comments", "Reacties", "Opmerkingen"), f.COMMENTS),
    (("Follower", "Followers", "Volgers", "Volger"), f.FOLLOWERS),
    (("Following", "Volgend"), f.FOLLOWING),
    (("Block List", "Blocked", "Blokkeerlijst", "Blokkeringslijst", "Geblokkeerde accounts"), f.BLOCKED),
    (("Post", "Posts", "Video's"), f.POSTS),
    (("Profile Info", "Profile Information", "Profielinformatie", "Profielgegevens"), f.PROFILE),
    (("Direct Messages", "Directe berichten", "Messages"), f.DM),
):
    for _name in _names:
        TXT_FILES[norm_key(_name)] = _rmap

DUTCH_FILES = frozenset(
    norm_key(n)
    for n in (
        "Kijkgeschiedenis",
        "Directe berichten",
        "Profielinformatie",
        "Volgers",
        "Volger",
        "Volgend",
        "Likelijst",
        "Blokkeringslijst",
        "Geschiedenis delen",
    )
)
NEW_ENGLISH_FILES = frozenset(norm_key(n) for n in ("Watch History", "Profile Information", "Reposts"))
