"""Synthetic TikTok users and their export archives, in every known layout.

Ground truth for tests (``SyntheticUser(spec).snapshot(version)``) and the archives the emulator
serves (``write_archive``). Deterministic: the same spec, version, format and categories always
give the same data and a byte-identical zip. See docs/synth.md.
"""

from __future__ import annotations

from tiktok_portability.synth.archive import ArchiveInfo, write_archive
from tiktok_portability.synth.errors import ArchiveRequestError, SpecError, SynthError
from tiktok_portability.synth.records import (
    BlockedUser,
    Comment,
    DirectMessage,
    Favorite,
    FollowEdge,
    Like,
    Login,
    Post,
    Profile,
    Search,
    Share,
    WatchEvent,
)
from tiktok_portability.synth.sections import TABLE_CATEGORY, included_sections, tables_for
from tiktok_portability.synth.snapshot import LazyRecords, Snapshot, SyntheticUser
from tiktok_portability.synth.spec import GENERATIONS, SIZES, TXT_VARIANTS, UserSpec
from tiktok_portability.synth.timefmt import export_ts

__all__ = [
    "GENERATIONS",
    "SIZES",
    "TABLE_CATEGORY",
    "TXT_VARIANTS",
    "ArchiveInfo",
    "ArchiveRequestError",
    "BlockedUser",
    "Comment",
    "DirectMessage",
    "Favorite",
    "FollowEdge",
    "LazyRecords",
    "Like",
    "Login",
    "Post",
    "Profile",
    "Search",
    "Share",
    "Snapshot",
    "SpecError",
    "SynthError",
    "SyntheticUser",
    "UserSpec",
    "WatchEvent",
    "export_ts",
    "included_sections",
    "tables_for",
    "write_archive",
]
