"""Build small export zips from the hand-written files in tests/fixtures/archives/."""

from __future__ import annotations

import zipfile
from pathlib import Path

ARCHIVES = Path(__file__).resolve().parents[1] / "fixtures" / "archives"


def zip_json(tmp_path: Path, generation: str, member: str = "TikTok/user_data_tiktok.json") -> Path:
    dest = tmp_path / f"json_{generation}.zip"
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(ARCHIVES / "json" / f"{generation}.json", member)
    return dest


def zip_txt(tmp_path: Path, variant: str) -> Path:
    root = ARCHIVES / "txt" / variant
    dest = tmp_path / f"txt_{variant}.zip"
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(root.rglob("*.txt")):
            zf.write(path, path.relative_to(root).as_posix())
    return dest


def zip_members(tmp_path: Path, members: dict[str, bytes], name: str = "custom.zip") -> Path:
    dest = tmp_path / name
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, data in members.items():
            zf.writestr(member, data)
    return dest
