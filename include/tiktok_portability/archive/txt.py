"""Read TXT export files: blocks of `Key: value` lines, and the DM transcript format."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import BinaryIO

from tiktok_portability.archive.errors import EncodingError

# `2025-03-02 10:01:55 UTC pat.example: text` (the ` UTC` only in newer exports).
_DM_LINE = re.compile(r"^(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?: ?UTC)?) (\S+?): ?(.*)$")
_DM_HEADER = re.compile(r"^>>>\s*(.*?)\s*:*\s*$")
_DM_PREFIXES = ("chat history with ", "chatgeschiedenis met ", "groepschat ", "group chat ")


def _lines(stream: BinaryIO, archive: str, member: str) -> Iterator[str]:
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="strict", newline=None)
    lineno = 0
    try:
        for lineno, line in enumerate(text, 1):  # noqa: B007 - lineno is read in the error
            yield line.rstrip("\n").rstrip("\r")
    except UnicodeDecodeError as exc:
        raise EncodingError(archive, f"member {member!r} is not valid UTF-8 after line {lineno}") from exc


def dm_partner(header: str) -> str:
    """`Chat History with pat.example::` -> `pat.example`."""
    name = header.strip().rstrip(":").strip()
    lowered = name.casefold()
    for prefix in _DM_PREFIXES:
        if lowered.startswith(prefix):
            return name[len(prefix) :].strip()
    return name.rsplit(" ", 1)[-1]


def read_blocks(stream: BinaryIO, archive: str, member: str, chunk: int = 8192) -> Iterator[list[dict]]:
    """Records of a `Key: value` file, in slices of up to ``chunk`` dicts.

    Blocks are separated by blank lines; a line without `: ` continues the previous value (photo
    posts list several URLs). A block with no `Key: value` line (a localised "no data" sentence)
    is not a record.
    """
    out: list[dict] = []
    record: dict[str, str] = {}
    last: str | None = None
    for line in _lines(stream, archive, member):
        if not line.strip():
            if record:
                out.append(record)
                if len(out) >= chunk:
                    yield out
                    out = []
            record, last = {}, None
            continue
        key, sep, value = line.partition(": ")
        if not sep and line.rstrip().endswith(":") and " " not in line.strip()[:-1]:
            key, sep, value = line.rstrip()[:-1], ":", ""
        if sep:
            key = key.strip().rstrip(":")
            record[key] = value.strip()
            last = key
        elif last is not None:
            record[last] = f"{record[last]}\n{line.strip()}"
    if record:
        out.append(record)
    if out:
        yield out


def read_dm_transcript(
    stream: BinaryIO, archive: str, member: str, chunk: int = 8192
) -> Iterator[tuple[str, list[dict]]]:
    """(partner, messages) slices of a `Direct Messages.txt` transcript.

    Messages become dicts with JSON's keys (`Date`, `From`, `Content`) so both formats share one
    mapping. A line that is neither a header nor a message continues the previous message.
    """
    partner: str | None = None
    out: list[dict] = []
    for line in _lines(stream, archive, member):
        header = _DM_HEADER.match(line)
        if header:
            if out and partner is not None:
                yield partner, out
            partner, out = dm_partner(header.group(1)), []
            continue
        if not line.strip() or partner is None:
            continue
        msg = _DM_LINE.match(line)
        if msg:
            out.append({"Date": msg.group(1), "From": msg.group(2), "Content": msg.group(3)})
            if len(out) >= chunk:
                yield partner, out
                out = []
        elif out:
            out[-1]["Content"] = f"{out[-1]['Content']}\n{line}"
    if out and partner is not None:
        yield partner, out
