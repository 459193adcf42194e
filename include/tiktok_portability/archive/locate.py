"""Find the export inside a zip: the JSON document, or else the TXT files (docs/archive-format.md)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from tiktok_portability.archive.errors import NoExportDataError
from tiktok_portability.archive.safezip import SafeZip

log = logging.getLogger(__name__)

PREFERRED_JSON = ("user_data_tiktok.json", "user_data.json", "tiktok_data.json")
# Top-level keys of every known generation; a JSON with none of them is not an export.
KNOWN_TOP_LEVEL = frozenset(
    k.casefold()
    for k in (
        "Activity",
        "Your Activity",
        "Video",
        "Post",
        "Profile",
        "Direct Messages",
        "Direct Message",
        "Comment",
        "App Settings",
        "Likes and Favorites",
        "Profile And Settings",
        "Tiktok Live",
        "TikTok Shop",
        "Tiktok Shopping",
        "Ads and data",
    )
)


@dataclass(frozen=True)
class TxtFile:
    member: str
    folder: str
    stem: str


@dataclass
class ExportLayout:
    """Either ``json_member`` or ``txt_files`` (keyed by lower-cased (folder, stem))."""

    format: str
    json_member: str | None = None
    txt_files: dict[tuple[str, str], TxtFile] = field(default_factory=dict)


def _first_key(zf: SafeZip, member: str) -> str | None:
    """The first top-level key of a JSON member, read from its first few KB."""
    with zf.open(member, buffer_size=1 << 16) as fh:
        head = fh.read(1 << 16)
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    if not text.startswith("{"):
        return None
    rest = text[1:].lstrip()
    if not rest.startswith('"'):
        return None
    end = rest.find('"', 1)
    return rest[1:end] if end > 0 else None


def locate_export(zf: SafeZip) -> ExportLayout:
    """Pick the JSON document (by name preference, then by a known first key), else the TXT files."""
    jsons = [m for m in zf.members if m.casefold().endswith(".json")]
    by_name = {PurePosixPath(m).name.casefold(): m for m in reversed(jsons)}
    for preferred in PREFERRED_JSON:
        if preferred in by_name:
            return ExportLayout("json", json_member=by_name[preferred])
    for member in jsons:
        key = _first_key(zf, member)
        if key is not None and key.casefold() in KNOWN_TOP_LEVEL:
            return ExportLayout("json", json_member=member)
    txts: dict[tuple[str, str], TxtFile] = {}
    for member in zf.members:
        p = PurePosixPath(member.replace("\\", "/"))
        if p.suffix.casefold() != ".txt":
            continue
        folder = p.parent.name.casefold()
        txts.setdefault((folder, p.stem.casefold()), TxtFile(member, p.parent.name, p.stem))
    if txts:
        return ExportLayout("txt", txt_files=txts)
    raise NoExportDataError(zf.name, "holds no TikTok JSON export and no .txt export files")
