"""Which archive sections and lake tables each export category covers.

TikTok does not document the category -> section mapping. Ours: every section belongs to exactly
one category (or to ``all_data`` only), and a layout places it wherever its generation does, so
``profile`` alone in G2 still yields ``Your Activity.Follower`` (and nothing else of Your Activity).
"""

from __future__ import annotations

from collections.abc import Iterable

from tiktok_portability.scopes import ScopeError, validate_categories
from tiktok_portability.synth.errors import ArchiveRequestError

ALL_DATA_ONLY = "all_data"

SECTION_CATEGORY: dict[str, str] = {
    "profile_info": "profile",
    "autofill": "profile",
    "followers": "profile",
    "following": "profile",
    "block_list": "profile",
    "settings": "profile",
    "posts": "video",
    "deleted_posts": "video",
    "watch": "activity",
    "likes": "activity",
    "fav_video": "activity",
    "fav_sound": "activity",
    "fav_effect": "activity",
    "fav_hashtag": "activity",
    "fav_collection": "activity",
    "searches": "activity",
    "shares": "activity",
    "logins": "activity",
    "comments": "activity",
    "hashtag": "activity",
    "activity_summary": "activity",
    "status": "activity",
    "location": "activity",
    "purchases": "activity",
    "dms": "direct_message",
    "ads": ALL_DATA_ONLY,
    "shop": ALL_DATA_ONLY,
    "live": ALL_DATA_ONLY,
    "income": ALL_DATA_ONLY,
}

TABLE_CATEGORY: dict[str, str] = {
    "profile": "profile",
    "followers": "profile",
    "following": "profile",
    "blocked_users": "profile",
    "posts": "video",
    "watch_history": "activity",
    "likes": "activity",
    "favorites": "activity",
    "searches": "activity",
    "shares": "activity",
    "logins": "activity",
    "comments": "activity",
    "dm_messages": "direct_message",
}


def normalize_categories(categories: Iterable[str]) -> list[str]:
    try:
        return list(validate_categories(categories))
    except ScopeError as exc:
        raise ArchiveRequestError(str(exc)) from None


def included_sections(categories: Iterable[str]) -> frozenset[str]:
    """Section ids an export of ``categories`` contains."""
    cats = set(normalize_categories(categories))
    if "all_data" in cats:
        return frozenset(SECTION_CATEGORY)
    return frozenset(s for s, c in SECTION_CATEGORY.items() if c in cats)


def tables_for(categories: Iterable[str]) -> list[str]:
    """Lake tables an export of ``categories`` feeds (ground truth for pipeline tests)."""
    cats = set(normalize_categories(categories))
    return [t for t, c in TABLE_CATEGORY.items() if "all_data" in cats or c in cats]
