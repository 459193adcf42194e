"""Who a synthetic user is (UserSpec) and how much data each size gives them (SizeProfile).

Counts are per *batch*: batch 1 is the history that exists at the first export, batch ``b >= 2``
holds what the user did during the day between export ``b - 1`` and export ``b``. Daily values are
expectations; the generator draws the actual number per batch from the user's seed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from tiktok_portability.synth.errors import SpecError

Generation = Literal["G0", "G1", "G2", "G3"]
TxtVariant = Literal["en_new", "en_old", "nl"]
Size = Literal["tiny", "small", "medium", "large"]

GENERATIONS: tuple[str, ...] = ("G0", "G1", "G2", "G3")
TXT_VARIANTS: tuple[str, ...] = ("en_new", "en_old", "nl")
SIZES: tuple[str, ...] = ("tiny", "small", "medium", "large")

# Event kinds generated as timestamped streams (one seeded RNG per kind and batch).
EVENT_KINDS: tuple[str, ...] = (
    "watch",
    "like",
    "fav_video",
    "fav_sound",
    "fav_effect",
    "fav_hashtag",
    "fav_collection",
    "search",
    "share",
    "login",
    "comment",
    "post",
    "blocked",
)
# Social-graph kinds: replayed version by version because people also leave (unfollow).
SOCIAL_KINDS: tuple[str, ...] = ("follower", "following")

_USERNAME = re.compile(r"^[A-Za-z0-9._]{2,24}$")


@dataclass(frozen=True)
class SizeProfile:
    """How many records a user has: ``counts[kind] = (initial, expected per later export)``."""

    counts: dict[str, tuple[int, float]]
    conversations: int
    messages_initial: int
    messages_daily: float
    new_conversation_every: int = 4

    def initial(self, kind: str) -> int:
        return self.counts[kind][0]

    def daily(self, kind: str) -> float:
        return self.counts[kind][1]


def _profile(
    watch: tuple[int, float],
    like: tuple[int, float],
    fav: tuple[int, float],
    search: tuple[int, float],
    share: tuple[int, float],
    login: tuple[int, float],
    comment: tuple[int, float],
    post: tuple[int, float],
    blocked: tuple[int, float],
    follower: tuple[int, float],
    following: tuple[int, float],
    conversations: tuple[int, int, float],
) -> SizeProfile:
    counts = {
        "watch": watch,
        "like": like,
        "search": search,
        "share": share,
        "login": login,
        "comment": comment,
        "post": post,
        "blocked": blocked,
        "follower": follower,
        "following": following,
    }
    for kind in ("fav_video", "fav_sound", "fav_effect", "fav_hashtag", "fav_collection"):
        counts[kind] = fav
    n_conv, m0, md = conversations
    return SizeProfile(counts=counts, conversations=n_conv, messages_initial=m0, messages_daily=md)


SIZE_PROFILES: dict[str, SizeProfile] = {
    "tiny": _profile(
        (30, 6),
        (10, 2),
        (2, 0.3),
        (5, 1),
        (3, 0.5),
        (4, 1),
        (3, 0.5),
        (3, 0.3),
        (1, 0.1),
        (6, 1.0),
        (5, 0.7),
        (2, 5, 1.5),
    ),
    "small": _profile(
        (400, 40),
        (120, 10),
        (15, 1),
        (40, 4),
        (20, 2),
        (30, 2),
        (25, 2),
        (15, 0.5),
        (3, 0.1),
        (60, 3),
        (40, 2),
        (6, 40, 4),
    ),
    "medium": _profile(
        (14000, 300),
        (3000, 40),
        (150, 3),
        (800, 10),
        (300, 4),
        (600, 3),
        (500, 5),
        (60, 0.6),
        (8, 0.1),
        (1000, 10),
        (400, 4),
        (20, 250, 8),
    ),
    "large": _profile(
        (190000, 2000),
        (40000, 200),
        (1500, 10),
        (8000, 30),
        (3000, 10),
        (5000, 4),
        (4000, 10),
        (300, 1),
        (20, 0.1),
        (10000, 30),
        (2000, 8),
        (50, 1500, 20),
    ),
}

# Approximate uncompressed JSON bytes per record, measured on the G2 layout; used only to turn
# target_bytes into record counts.
WATCH_RECORD_BYTES = 139
MESSAGE_RECORD_BYTES = 156
# target_bytes splits between watch history and direct messages in this ratio.
WATCH_SHARE = 0.6


def profile_for_target(target_bytes: int) -> SizeProfile:
    """A "small" user whose watch history and DMs are scaled to about ``target_bytes`` of JSON."""
    base = SIZE_PROFILES["small"]
    fixed = 75_000  # what a small user's other sections weigh, roughly
    room = max(target_bytes - fixed, 10_000)
    watch = max(int(room * WATCH_SHARE / WATCH_RECORD_BYTES), 10)
    messages = max(int(room * (1 - WATCH_SHARE) / MESSAGE_RECORD_BYTES), 10)
    conversations = min(max(messages // 2000, 6), 400)
    counts = dict(base.counts)
    counts["watch"] = (watch, max(watch / 100, 5.0))
    return SizeProfile(
        counts=counts,
        conversations=conversations,
        messages_initial=max(messages // conversations, 1),
        messages_daily=max(messages / conversations / 100, 1.0),
    )


@dataclass(frozen=True)
class UserSpec:
    """Everything that determines a synthetic user's data and archive layout.

    Two equal specs give the same data and byte-identical archives. ``target_bytes`` (when set)
    overrides ``size`` and scales watch history and direct messages to about that many bytes of
    uncompressed JSON at version 1.
    """

    open_id: str
    seed: int = 0
    generation: Generation = "G2"
    txt_variant: TxtVariant = "en_new"
    size: Size = "tiny"
    target_bytes: int | None = None
    username: str | None = None
    size_profile: SizeProfile = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.open_id, str) or not self.open_id:
            raise SpecError(f"UserSpec.open_id must be a non-empty string, got {self.open_id!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise SpecError(f"UserSpec.seed must be an int, got {self.seed!r}")
        if self.generation not in GENERATIONS:
            raise SpecError(f"UserSpec.generation={self.generation!r} is not one of {', '.join(GENERATIONS)}")
        if self.txt_variant not in TXT_VARIANTS:
            raise SpecError(
                f"UserSpec.txt_variant={self.txt_variant!r} is not one of {', '.join(TXT_VARIANTS)}"
            )
        if self.size not in SIZES:
            raise SpecError(f"UserSpec.size={self.size!r} is not one of {', '.join(SIZES)}")
        if self.target_bytes is not None and (
            isinstance(self.target_bytes, bool)
            or not isinstance(self.target_bytes, int)
            or self.target_bytes <= 0
        ):
            raise SpecError(
                f"UserSpec.target_bytes must be a positive int or None, got {self.target_bytes!r}"
            )
        if self.username is not None and not _USERNAME.match(self.username):
            raise SpecError(
                f"UserSpec.username={self.username!r} is not a TikTok-style username "
                "(2-24 letters, digits, '.' or '_')"
            )
        profile = profile_for_target(self.target_bytes) if self.target_bytes else SIZE_PROFILES[self.size]
        object.__setattr__(self, "size_profile", profile)
