"""Read TXT export files: blocks of `Key: value` lines, and the DM transcript format."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from typing import BinaryIO

from tiktok_portability.archive.errors import EncodingError, ValueTooLargeError
from tiktok_portability.archive.safezip import MAX_VALUE_BYTES

# `2025-03-02 10:01:55 UTC pat.example: text` (the ` UTC` only in newer exports). A deleted
# account's lines have no sender (`... UTC : text`): still messages, with an empty sender.
_DM_LINE = re.compile(r"^(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?: ?UTC)?) ?(\S*?): ?(.*)$")
_DM_HEADER = re.compile(r"^>>>\s*(.*?)\s*:*\s*$")
# Without their trailing space: a deleted partner's header is `Chat History with ::`.
_DM_PREFIXES = ("chat history with", "chatgeschiedenis met", "groepschat", "group chat")


def _lines(
    stream: BinaryIO, archive: str, member: str, max_chars: int, on_nul: Callable[[int], None] | None
) -> Iterator[tuple[int, str]]:
    """(line number, line) of a member; a line is read at most ``max_chars`` at a time, never whole.

    NUL characters (seen in damaged exports; no value holds one) are removed and counted.
    """
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="strict", newline=None)
    lineno = 0
    try:
        while line := text.readline(max_chars + 1):
            lineno += 1
            if len(line) > max_chars and not line.endswith("\n"):
                raise _too_long(archive, member, lineno, max_chars)
            if "\x00" in line:
                if on_nul is not None:
                    on_nul(line.count("\x00"))
                line = line.replace("\x00", "")
            yield lineno, line.rstrip("\n").rstrip("\r")
    except UnicodeDecodeError as exc:
        raise EncodingError(archive, f"member {member!r} is not valid UTF-8 after line {lineno}") from exc


def _too_long(archive: str, member: str, lineno: int, max_chars: int) -> ValueTooLargeError:
    return ValueTooLargeError(
        archive,
        f"member {member!r}: the value at line {lineno} is longer than {max_chars:,} characters "
        "(ArchiveLimits.max_value_bytes)",
    )


class _Value:
    """A value that may go on over continuation lines: its parts are joined once (linear time)."""

    __slots__ = ("chars", "parts", "start")

    def __init__(self, first: str, start: int) -> None:
        self.parts = [first]
        self.chars = len(first)
        self.start = start

    def extend(self, line: str, archive: str, member: str, max_chars: int) -> None:
        self.chars += 1 + len(line)
        if self.chars > max_chars:
            raise _too_long(archive, member, self.start, max_chars)
        self.parts.append(line)

    def text(self) -> str:
        return "\n".join(self.parts) if len(self.parts) > 1 else self.parts[0]


def dm_partner(header: str) -> str:
    """`Chat History with pat.example::` -> `pat.example`; `Chat History with ::` -> `""`."""
    name = header.strip().rstrip(":").strip()
    lowered = name.casefold()
    for prefix in _DM_PREFIXES:
        if lowered == prefix or lowered.startswith(prefix + " "):
            return name[len(prefix) :].strip()
    return name.rsplit(" ", 1)[-1]


def read_blocks(
    stream: BinaryIO,
    archive: str,
    member: str,
    chunk: int = 8192,
    max_value_bytes: int = MAX_VALUE_BYTES,
    on_nul: Callable[[int], None] | None = None,
) -> Iterator[list[dict]]:
    """Records of a `Key: value` file, in slices of up to ``chunk`` dicts.

    Blocks are separated by blank lines; a line without `: ` continues the previous value (photo
    posts list several URLs). A block with no `Key: value` line (a localised "no data" sentence)
    is not a record. A value longer than ``max_value_bytes`` raises ValueTooLargeError.
    """
    out: list[dict] = []
    record: dict[str, _Value] = {}
    last: _Value | None = None
    for lineno, line in _lines(stream, archive, member, max_value_bytes, on_nul):
        if not line.strip():
            if record:
                out.append({k: v.text() for k, v in record.items()})
                if len(out) >= chunk:
                    yield out
                    out = []
            record, last = {}, None
            continue
        key, sep, value = line.partition(": ")
        if not sep and line.rstrip().endswith(":") and " " not in line.strip()[:-1]:
            key, sep, value = line.rstrip()[:-1], ":", ""
        if sep:
            last = record[key.strip().rstrip(":")] = _Value(value.strip(), lineno)
        elif last is not None:
            last.extend(line.strip(), archive, member, max_value_bytes)
    if record:
        out.append({k: v.text() for k, v in record.items()})
    if out:
        yield out


def read_dm_transcript(
    stream: BinaryIO,
    archive: str,
    member: str,
    chunk: int = 8192,
    max_value_bytes: int = MAX_VALUE_BYTES,
    on_nul: Callable[[int], None] | None = None,
) -> Iterator[tuple[str, list[dict]]]:
    """(partner, messages) slices of a `Direct Messages.txt` transcript.

    Messages become dicts with JSON's keys (`Date`, `From`, `Content`) so both formats share one
    mapping. A line that is neither a header nor a message continues the previous message.
    """
    partner: str | None = None
    out: list[dict] = []
    content: _Value | None = None  # the last message's, while continuation lines may follow

    def flush() -> list[dict]:
        if content is not None and out:
            out[-1]["Content"] = content.text()
        return out

    for lineno, line in _lines(stream, archive, member, max_value_bytes, on_nul):
        header = _DM_HEADER.match(line)
        if header:
            if out and partner is not None:
                yield partner, flush()
            partner, out, content = dm_partner(header.group(1)), [], None
            continue
        if not line.strip() or partner is None:
            continue
        msg = _DM_LINE.match(line)
        if msg:
            flush()
            if len(out) >= chunk:
                yield partner, out
                out = []
            content = _Value(msg.group(3), lineno)
            out.append({"Date": msg.group(1), "From": msg.group(2), "Content": msg.group(3)})
        elif content is not None:
            content.extend(line, archive, member, max_value_bytes)
    if out and partner is not None:
        yield partner, flush()
