"""Stream one big JSON document as (path, value) events with bounded memory, at C speed.

A TikTok JSON export is a single object of a few hundred MB, almost all of it in a handful of long
lists (watch history, DM conversations). Python-level event loops over a tokenizer run at about
65 MB/s here; decoding whole chunks with msgspec runs ~10x faster. So this walker does the cheap
part in Python and the heavy part in C:

* containers are first decoded whole when they fit in ``whole_limit`` bytes (most sections do);
  finding out costs a scan of up to that many bytes for every container that does not fit, so
  the limit is one chunk (4 MB made a 5 MB export cost 15% more instructions, ~0.1 s per
  archive whatever its size);
* bigger objects are walked key by key (a few dozen steps per archive);
* bigger lists are cut at an object boundary (the last ``}`` that makes ``[ ... ]`` decode) and
  decoded one ~1 MB slice at a time, so memory stays at a few slices whatever the file size.

msgspec reports where a value ends ("trailing characters (byte N)"), which is what finds the end
of a list inside a slice without a tokenizer.

Values are decoded from memoryviews of one bytearray, never from copies: a slice is turned into a
JSON list in place by writing ``[`` over the byte before its first item and ``]`` after its last
one (and putting both bytes back after decoding). Copying each ~1 MB slice and each remaining
buffer cost about a fifth of the walk.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

import msgspec

from tiktok_portability.archive.errors import EncodingError, MalformedJSONError, ValueTooLargeError
from tiktok_portability.archive.safezip import MAX_VALUE_BYTES

Path = tuple[str, ...]
# (path, value, is_list_slice): a complete value at ``path``, or a slice of the items of the list
# at ``path`` (a list arrives as one or more slices, in order).
JsonEvent = tuple[Path, Any, bool]

_WS = re.compile(rb"[ \t\r\n]*")
_BYTE = re.compile(r"\(byte (\d+)\)")
_LBRACE, _RBRACE, _LBRACK, _RBRACK, _COMMA, _COLON = b"{}[],:"
_MAX_SPLIT_TRIES = 64


def _error_index(exc: Exception) -> int | None:
    """Index of the byte msgspec complains about, in the input it was given.

    msgspec counts from 0 for a bad character but from 1 for "trailing characters".
    """
    match = _BYTE.search(str(exc))
    if match is None:
        return None
    n = int(match.group(1))
    return n - 1 if "trailing characters" in str(exc) else n


def _value_end(exc: Exception) -> int | None:
    """Where a complete value ends when msgspec stopped at "trailing characters", else None."""
    return _error_index(exc) if "trailing characters" in str(exc) else None


# Objects too big to decode whole are walked key by key, one generator per level: real exports
# nest about five levels, a hostile one must not reach Python's recursion limit.
MAX_DEPTH = 64


class JsonStream:
    """Walks the JSON document in ``stream`` and yields :data:`JsonEvent` tuples.

    ``skip(path)`` may return True to consume the value at ``path`` without building Python
    objects (used by the profile pre-pass). ``typed(path)`` may return a decoder for the slices of
    the list at ``path`` (typically ``msgspec.json.Decoder(list[SomeStruct]).decode``, 2-3x
    faster than building dicts); a slice it rejects with a ``ValidationError`` (an unexpected key,
    an item that is not an object) is decoded as plain Python objects instead, so ``typed`` only
    changes speed and the item type, never which values arrive. A typed decoder with an
    ``exact(data)`` method (a whole list's items, or None) is also asked to end a list at its
    first ``]``. ``archive`` and ``member`` name the input in errors.
    """

    def __init__(
        self,
        stream: BinaryIO,
        *,
        archive: str,
        member: str,
        chunk_size: int = 1 << 20,
        whole_limit: int = 1 << 20,
        max_value_bytes: int = MAX_VALUE_BYTES,
        skip: Callable[[Path], bool] | None = None,
        typed: Callable[[Path], Callable[[bytes], Any] | None] | None = None,
    ) -> None:
        self._stream = stream
        self._archive = archive
        self._member = member
        self._chunk = chunk_size
        self._whole_limit = whole_limit
        # The buffer holds the chunk being decoded plus at most one value that goes on past it
        # (or an object of up to whole_limit bytes being read whole).
        self._max_buffer = max(max_value_bytes, whole_limit) + chunk_size
        self._max_value = max_value_bytes
        # Where the cursor is, for an error about a value too large: the section and the item.
        self._section: Path = ()
        self._record: int | None = None
        self._skip = skip
        self._typed = typed
        # One byte of slack before the cursor at all times: room for the ``[`` of a slice.
        self._buf = bytearray(b" ")
        self._pos = 1
        self._consumed = -1  # document offset of _buf[0]
        self._started = False
        self._eof = False
        # Byte offset of a second top-level object after the first (not read), else None.
        self.repeated_at: int | None = None
        self._decode = msgspec.json.Decoder().decode
        self._decode_raw = msgspec.json.Decoder(type=msgspec.Raw).decode

    # -- buffer -----------------------------------------------------------------------------

    def _fill(self) -> bool:
        if self._eof:
            return False
        data = self._stream.read(self._chunk)
        if not data:
            self._eof = True
            return False
        if not self._started:
            self._started = True
            if data.startswith(b"\xef\xbb\xbf"):
                data = data[3:]
                self._consumed += 3
        # Drop what was consumed but the slack byte. No memoryview of the buffer may be alive here:
        # a bytearray cannot be resized while exported.
        drop = self._pos - 1
        if drop:
            del self._buf[:drop]
            self._consumed += drop
            self._pos = 1
        self._buf += data
        if len(self._buf) - self._pos > self._max_buffer:
            at = f", record {self._record}" if self._record is not None else ""
            raise ValueTooLargeError(
                self._archive,
                f"member {self._member!r}, section {'/'.join(map(str, self._section)) or '(top)'}{at}: "
                f"one value at byte {self._offset()} is longer than {self._max_value:,} bytes "
                "(ArchiveLimits.max_value_bytes)",
            )
        return True

    def _view(self, start: int, stop: int | None = None) -> memoryview:
        """Zero-copy view of the buffer; it must be gone before the next ``_fill``."""
        return memoryview(self._buf)[start:stop]

    def _offset(self, at: int | None = None) -> int:
        return self._consumed + (self._pos if at is None else at)

    def _fail(self, problem: str, at: int | None = None) -> None:
        raise MalformedJSONError(
            self._archive, f"member {self._member!r} at byte {self._offset(at)}: {problem}"
        )

    def _peek(self) -> int:
        while True:
            self._pos = _WS.match(self._buf, self._pos).end()
            if self._pos < len(self._buf):
                return self._buf[self._pos]
            if not self._fill():
                self._fail("unexpected end of input")

    def _top_up(self) -> None:
        if len(self._buf) - self._pos < self._chunk:
            self._fill()

    def _decoder(self, path: Path) -> Callable[[bytes], Any]:
        return self._decode_raw if self._skip is not None and self._skip(path) else self._decode

    def _run(self, decode: Callable[[bytes], Any], data: bytes | memoryview, base: int) -> Any:
        try:
            return decode(data)
        except UnicodeDecodeError as exc:
            raise EncodingError(
                self._archive, f"member {self._member!r} near byte {self._offset(base)} is not valid UTF-8"
            ) from exc
        except RecursionError:
            # msgspec stops at its own depth limit (no real export comes near it).
            self._fail("the JSON nests deeper than can be decoded", base)

    # -- values -----------------------------------------------------------------------------

    def _exact(self, decode: Callable[[bytes], Any], data: memoryview, base: int) -> Any:
        """Decode bytes already known to hold exactly one JSON value."""
        try:
            return self._run(decode, data, base)
        except msgspec.DecodeError as exc:
            self._fail(str(exc), base + (_error_index(exc) or 0))

    def _whole(self, decode: Callable[[bytes], Any], limit: int | None) -> tuple[bool, Any]:
        """Decode the complete value at the cursor if it fits in ``limit`` bytes.

        The end of the value is found with the ``Raw`` decoder (it builds nothing, ~5x faster),
        so a big container is not decoded again and again as the buffer grows, and a value
        followed by more data is decoded once rather than twice.
        """
        while True:
            start = self._pos
            complete = False
            try:
                self._run(self._decode_raw, self._view(start), start)
                complete = True
            except msgspec.DecodeError as exc:
                offset = _value_end(exc)
                if offset is not None:
                    value = self._exact(decode, self._view(start, start + offset), start)
                    self._pos = start + offset
                    return True, value
                if "truncated" not in str(exc):
                    self._fail(str(exc), start + (_error_index(exc) or 0))
            # A value that decodes up to the end of the buffer may still continue (a number), and
            # a truncated one needs more input: either way read on unless it is too big.
            if limit is not None and len(self._buf) - start >= limit:
                return False, None
            if not self._fill():
                if complete:
                    value = self._exact(decode, self._view(start), start)
                    self._pos = len(self._buf)
                    return True, value
                self._fail("unexpected end of input")
            if limit is not None and not complete:
                # Truncated: read up to the limit at once instead of retrying every chunk.
                while len(self._buf) - self._pos < limit and self._fill():
                    pass

    def events(self) -> Iterator[JsonEvent]:
        """All events of the document, in document order."""
        self._fill()
        yield from self._value(())
        self._pos = _WS.match(self._buf, self._pos).end()
        while self._pos >= len(self._buf) and self._fill():
            self._pos = _WS.match(self._buf, self._pos).end()
        if self._pos < len(self._buf):
            if self._buf[self._pos] != _LBRACE:
                self._fail("trailing data after the top-level value")
            # A second document: a known export bug writes the whole object twice. The first is
            # the export; the copy is not read (callers report ``repeated_at``).
            self.repeated_at = self._offset()

    def _value(self, path: Path) -> Iterator[JsonEvent]:
        if len(path) > MAX_DEPTH:
            self._fail(f"objects nest deeper than {MAX_DEPTH} levels")
        self._section, self._record = path, None
        c = self._peek()
        decode = self._decoder(path)
        if c == _LBRACK:
            yield from self._list(path, decode)
            return
        if c != _LBRACE:
            ok, value = self._whole(decode, None)
            if decode is self._decode:
                yield path, value, False
            return
        ok, value = self._whole(decode, self._whole_limit)
        if ok:
            if decode is self._decode:
                yield path, value, False
            return
        self._pos += 1
        first = True
        while True:
            c = self._peek()
            if c == _RBRACE:
                self._pos += 1
                return
            if not first:
                if c != _COMMA:
                    self._fail("expected ',' or '}' in an object")
                self._pos += 1
                c = self._peek()
            if c != ord('"'):
                self._fail("expected an object key")
            _, key = self._whole(self._decode, None)
            if self._peek() != _COLON:
                self._fail("expected ':' after an object key")
            self._pos += 1
            yield from self._value((*path, key))
            first = False

    def _list(self, path: Path, decode: Callable[[bytes], Any]) -> Iterator[JsonEvent]:
        emit = decode is self._decode
        self._pos += 1
        need_comma = False
        sent = False
        records = 0
        while True:
            self._section, self._record = path, records
            self._top_up()
            c = self._peek()
            if c == _RBRACK:
                self._pos += 1
                if emit and not sent:
                    yield path, [], True
                return
            if need_comma:
                if c != _COMMA:
                    self._fail("expected ',' or ']' in a list")
                self._pos += 1
                need_comma = False
                self._top_up()
                self._peek()
            typed = self._typed(path) if emit and self._typed is not None else None
            items, closed = self._slice(
                self._slice_decoder(typed, decode) if emit else decode, getattr(typed, "exact", None)
            )
            if items is None:
                if not self._fill():
                    self._fail("unexpected end of input inside a list")
                continue
            if emit:
                records += len(items)
                yield path, items, True
                sent = True
            items = None  # a skipped list decodes to a Raw holding a view of the buffer
            if closed:
                return
            need_comma = True

    def _slice_decoder(
        self, typed: Callable[[bytes], Any] | None, decode: Callable[[bytes], Any]
    ) -> Callable[[bytes], Any]:
        if typed is None:
            return decode

        def typed_or_plain(data: bytes) -> Any:
            try:
                return typed(data)
            except msgspec.ValidationError:
                return decode(data)

        return typed_or_plain

    def _bracketed(self, decode: Callable[[bytes], Any], start: int, stop: int | None, close: bool) -> Any:
        """``decode`` over ``[`` + buffer[start:stop], in place; ``close`` ends it with ``]``.

        ``[`` is written over the byte before ``start`` (slack, a separator or whitespace) and
        ``]`` over the last byte of the view, and both are put back afterwards, so msgspec's
        error offsets are those of a copied candidate: they count from the ``[``.
        """
        buf = self._buf
        if close and stop is not None and stop > len(buf):
            # No byte to overwrite after the buffer (and it cannot grow while a view of it may
            # live on in a traceback): copy, which only happens when a read ends on a ``}``.
            return self._run(decode, b"[" + buf[start : stop - 1] + b"]", start)
        before = buf[start - 1]
        buf[start - 1] = _LBRACK
        if not close or stop is None:
            try:
                return self._run(decode, memoryview(buf)[start - 1 : stop], start)
            finally:
                buf[start - 1] = before
        after = buf[stop - 1]
        buf[stop - 1] = _RBRACK
        try:
            return self._run(decode, memoryview(buf)[start - 1 : stop], start)
        finally:
            buf[start - 1] = before
            buf[stop - 1] = after

    def _closed(self, decode: Callable[[bytes], Any], start: int, length: int) -> Any:
        """The items of a list that closes ``length`` bytes from the ``[`` before ``start``.

        ``length`` is where msgspec saw the value end (the list's own ``]`` and any whitespace
        after it). Moves the cursor past that once the items are decoded.
        """
        items = self._bracketed(decode, start, start - 1 + length, close=False)
        self._pos = start + length - 1
        return items

    def _slice(
        self, decode: Callable[[bytes], Any], exact: Callable[[bytes], Any] | None = None
    ) -> tuple[Any, bool]:
        """Decode the longest run of list items at the cursor that ends in this buffer.

        ``exact``, when given, decodes a whole list or returns None (it never guesses): it is
        tried on the list up to the first ``]``, which saves the pass that finds the list's end.
        Returns (items, list_closed) or (None, False) when more input is needed.
        """
        buf, start = self._buf, self._pos
        end = buf.rfind(b"}", start)
        close = buf.find(b"]", start, end) if end > start else -1
        if close != -1 and exact is not None:
            # Most lists hold no "]" in their strings: if the items up to the first one decode
            # as a whole list, that "]" ends it (a decoder that checks the grammar cannot accept
            # a list cut inside a string).
            items = self._bracketed(exact, start, close + 1, close=False)
            if items is not None:
                self._pos = close + 1
                return items, True
        if close != -1:
            # The list may end in this buffer: find where with the Raw decoder (cheap) instead of
            # decoding the items twice (once to learn the end, once up to it).
            try:
                self._bracketed(self._decode_raw, start, end + 2, close=True)
            except msgspec.DecodeError as exc:
                offset = _value_end(exc)
                if offset is not None:
                    try:
                        return self._closed(decode, start, offset), True
                    except msgspec.DecodeError:
                        pass  # the careful path below reports it
        for _ in range(_MAX_SPLIT_TRIES):
            if end < start:
                break
            try:
                items = self._bracketed(decode, start, end + 2, close=True)
            except msgspec.DecodeError as exc:
                if (closed := _value_end(exc)) is not None:
                    return self._closed(decode, start, closed), True
                # Indexes count from the ``[`` written at start - 1.
                index = _error_index(exc)
                limit = end if index is None else min(end, start - 1 + index)
                end = buf.rfind(b"}", start, limit)
                continue
            self._pos = end + 1
            return items, False
        # No object boundary worked: the list may hold scalars, or end within this buffer.
        try:
            items = self._bracketed(decode, start, None, close=False)
        except msgspec.DecodeError as exc:
            if (closed := _value_end(exc)) is not None:
                return self._closed(decode, start, closed), True
            text = str(exc)
            if "truncated" in text and not self._eof:
                return None, False
            self._fail(text, max(start - 1 + (_error_index(exc) or 0), start))
        self._pos = len(buf)
        return items, True
