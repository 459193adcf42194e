"""Scopes and export categories, as docs/tiktok-api.md describes them.

Shared by the client, the emulator and the sync planner so that all three agree on which
categories a grant may request.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

ScopeType = Literal["all", "postsandprofile", "activity", "directmessages"]
Mode = Literal["single", "ongoing"]
Category = Literal["all_data", "activity", "video", "profile", "direct_message"]

SCOPE_TYPES: tuple[ScopeType, ...] = ("all", "postsandprofile", "activity", "directmessages")
MODES: tuple[Mode, ...] = ("single", "ongoing")
CATEGORIES: tuple[Category, ...] = ("all_data", "activity", "video", "profile", "direct_message")
ALL_SCOPES: tuple[str, ...] = tuple(f"portability.{t}.{m}" for t in SCOPE_TYPES for m in MODES)
# Login Kit's basic profile scope (open_id, display name): may be asked beside the portability
# scopes so the OAuth pages and the status view can name the account.
USER_INFO_BASIC = "user.info.basic"
OTHER_SCOPES: tuple[str, ...] = (USER_INFO_BASIC,)

# Which scope types satisfy a category, the narrow one first: a request consumes the narrowest
# scope that covers it (docs/tiktok-api.md, "Scopes").
CATEGORY_SCOPE_TYPES: dict[str, tuple[ScopeType, ...]] = {
    "activity": ("activity", "all"),
    "video": ("postsandprofile", "all"),
    "profile": ("postsandprofile", "all"),
    "direct_message": ("directmessages", "all"),
    "all_data": ("all",),
}
SCOPE_TYPE_CATEGORIES: dict[str, tuple[Category, ...]] = {
    "all": ("all_data",),
    "postsandprofile": ("video", "profile"),
    "activity": ("activity",),
    "directmessages": ("direct_message",),
}


class ScopeError(ValueError):
    """A scope or category string that is not one TikTok defines."""


def parse_scope(scope: str) -> tuple[ScopeType, Mode]:
    """Split ``portability.<type>.<mode>`` into its parts, or raise ScopeError naming it."""
    parts = scope.strip().split(".")
    if len(parts) != 3 or parts[0] != "portability" or parts[1] not in SCOPE_TYPES or parts[2] not in MODES:
        raise ScopeError(f"not a Data Portability scope: {scope!r} (expected portability.<type>.<mode>)")
    return parts[1], parts[2]  # type: ignore[return-value]


def is_known_scope(scope: str) -> bool:
    """A portability scope or one of the other scopes an app may ask beside them."""
    return scope in ALL_SCOPES or scope in OTHER_SCOPES


def check_requested_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """Scopes an app may ask for at consent: at least one portability scope, plus optional others.

    Raises ScopeError naming the first scope TikTok does not define, or saying none is a
    portability scope (``user.info.basic`` alone would connect an account we cannot export).
    """
    out = tuple(split_scopes(scopes))
    for scope in out:
        if not is_known_scope(scope):
            parse_scope(scope)  # raises the portability scope error naming it
    if not any(scope in ALL_SCOPES for scope in out):
        raise ScopeError(
            "not a Data Portability scope request: ask for at least one portability.<type>.<mode> "
            f"scope (others allowed beside them: {', '.join(OTHER_SCOPES)})"
        )
    return out


def split_scopes(scope_field: str | Iterable[str]) -> list[str]:
    """Parse TikTok's comma-separated ``scope`` field (or a list) into scope strings, order kept."""
    items = scope_field.split(",") if isinstance(scope_field, str) else list(scope_field)
    out: list[str] = []
    for item in items:
        s = item.strip()
        if s and s not in out:
            out.append(s)
    return out


def validate_categories(categories: Iterable[str]) -> list[Category]:
    """Return the categories in canonical order; ``all_data`` wins over any other."""
    cats = list(categories)
    unknown = [c for c in cats if c not in CATEGORIES]
    if unknown:
        raise ScopeError(f"unknown categories {unknown!r}; allowed: {', '.join(CATEGORIES)}")
    if not cats:
        raise ScopeError("category_selection_list is empty")
    if "all_data" in cats:
        return ["all_data"]
    return [c for c in CATEGORIES if c in cats]


def ongoing_categories(scopes: Iterable[str]) -> list[Category]:
    """The categories a nightly ongoing request may ask for, given the granted scopes.

    ``portability.all.ongoing`` gives ``["all_data"]``; otherwise the union of what each ongoing
    scope covers. Portability scopes in ``.single`` mode and non-portability scopes are ignored.
    """
    types: set[str] = set()
    for s in scopes:
        try:
            scope_type, mode = parse_scope(s)
        except ScopeError:
            continue
        if mode == "ongoing":
            types.add(scope_type)
    if "all" in types:
        return ["all_data"]
    wanted = {c for t in types for c in SCOPE_TYPE_CATEGORIES[t]}
    return [c for c in CATEGORIES if c in wanted]


def covering_scope(category: str, scopes: Iterable[str], mode: Mode | None = None) -> str | None:
    """The narrowest granted scope that covers ``category`` (optionally of one mode), or None."""
    granted = set(scopes)
    modes: tuple[Mode, ...] = (mode,) if mode else ("ongoing", "single")
    for scope_type in CATEGORY_SCOPE_TYPES[category]:
        for m in modes:
            candidate = f"portability.{scope_type}.{m}"
            if candidate in granted:
                return candidate
    return None
