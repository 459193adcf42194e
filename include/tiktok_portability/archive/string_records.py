"""Decode a JSON list of flat, all-string records straight into Arrow columns.

Most of a big export is two lists of small records whose values are all strings: watch history
(``Date``, ``Link``) and direct messages (``Date``, ``From``, ``Content``). Decoding them with
msgspec builds a Python ``str`` per value, which ``pa.array`` then copies into Arrow again: about
0.4 us per record on the main thread, the largest share of a big archive's time. Here the values
are cut out of the slice's bytes instead, with a handful of numpy and Arrow calls per slice:

* the unescaped ``"`` positions give every string; with a fixed key order each record holds
  exactly four per key (key open/close, value open/close);
* the bytes between one value and the next (separators, the next key) must be identical for
  every record and match the JSON grammar: the grammar is checked once per key position, and
  all separators, taken out in one call, must equal those repeated;
* values holding a backslash are decoded by msgspec itself (escapes), and the slice must be
  valid UTF-8 and hold no raw control character inside a string, as msgspec requires.

Anything else (a number or null value, a missing or extra key, another key order, a nested
value, a malformed byte) returns None and the caller decodes the slice with msgspec as before,
which also reports malformed input. So this only changes how fast values arrive, never which.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import msgspec
import numpy as np
import pyarrow as pa

_QUOTE, _BACKSLASH = 34, 92
_WS = rb"[ \t\r\n]*"
# Below this many bytes the fixed cost of ~20 numpy/Arrow calls beats msgspec's per-value cost.
MIN_BYTES = 64 << 10
_decode_strings = msgspec.json.Decoder(list[str]).decode


@dataclass(frozen=True)
class RecordColumns:
    """The records of one list slice as columns: raw key -> string values, in record order."""

    rows: int
    columns: dict[str, pa.Array]

    def __len__(self) -> int:
        return self.rows

    @property
    def kind(self) -> tuple[str, ...]:
        """The raw keys, sorted: slices of one kind concatenate into one."""
        return tuple(sorted(self.columns))

    @staticmethod
    def concat(parts: Sequence[RecordColumns]) -> RecordColumns:
        """One slice from several of the same kind, in order."""
        if len(parts) == 1:
            return parts[0]
        return RecordColumns(
            sum(p.rows for p in parts),
            {key: pa.concat_arrays([p.columns[key] for p in parts]) for key in parts[0].columns},
        )

    def to_dicts(self) -> list[dict[str, str]]:
        """The records as msgspec would have decoded them (for the rare per-record paths)."""
        keys = list(self.columns)
        values = [self.columns[k].to_pylist() for k in keys]
        return [dict(zip(keys, row, strict=True)) for row in zip(*values, strict=True)]


def decode_string_records(data: bytes | memoryview, keys: frozenset[str]) -> RecordColumns | None:
    """The records of the JSON list in ``data`` when every one holds exactly ``keys`` (in one
    order) with string values; otherwise None. ``data`` is a whole JSON list, from its ``[`` to
    its ``]`` (whitespace may follow). Nothing returned refers to ``data``'s memory."""
    k = len(keys)
    if not k or len(data) < 2:
        return None
    a = np.frombuffer(data, dtype=np.uint8)
    backslashes = np.flatnonzero(a == _BACKSLASH)
    quotes = _unescaped_quotes(a, backslashes)
    if quotes is None or len(quotes) == 0 or len(quotes) % (4 * k):
        return None
    n = len(quotes) // (4 * k)
    per_key = quotes.reshape(n, k, 4)
    names = _first_keys(data, per_key[0])
    if names is None or set(names) != keys or len(set(names)) != k:
        return None
    opens = per_key[:, :, 2].reshape(-1)
    closes = per_key[:, :, 3].reshape(-1)
    # One string array over the slice's own bytes: separator, value, separator, value, ...,
    # separator. Element 2m + 1 is value m (record m // k, key m % k).
    offsets = np.empty(2 * n * k + 2, dtype=np.int32)
    offsets[0] = 0
    offsets[1:-1:2] = opens + 1
    offsets[2:-1:2] = closes
    offsets[-1] = len(a)
    buffer = pa.py_buffer(data)
    if not _utf8(buffer, len(a)):
        return None
    parts = pa.StringArray.from_buffers(2 * n * k + 1, pa.py_buffer(offsets), buffer)
    raw_names = [name.encode() for name in names]
    seps = _separators(tuple(raw_names), n > 1)
    checked: dict[int, bytes] = {}
    expected_controls = 0
    for at, grammar, count in seps.checks(n):
        sep = bytes(data[offsets[at] : offsets[at + 1]])
        if not grammar.fullmatch(sep):
            return None
        checked[at] = sep
        expected_controls += _controls(sep) * count
    # Every other separator equals the checked one of its kind: all of them, taken together in
    # one call, must read first + row + (between + row) * (n - 1) + last. Each separator holds
    # exactly four quotes, so equal concatenations mean equal separators, one by one.
    row = b"".join(checked[2 * j] for j in range(1, k))
    between = checked[2 * k] + row if n > 1 else b""
    expected = checked[0] + row + between * (n - 1) + checked[2 * n * k]
    gaps = parts.take(pa.array(np.arange(0, 2 * n * k + 1, 2)))
    if not _data_equals(gaps, expected):
        return None
    # msgspec refuses a raw control character in a string; the separators' ones are counted.
    if int(np.count_nonzero(a < 0x20)) != expected_controls:
        return None
    # Values in key order, then record order: one take, cut into columns without copying.
    index = (np.arange(0, 2 * n * k, 2 * k)[None, :] + np.arange(1, 2 * k, 2)[:, None]).reshape(-1)
    source: pa.Array = parts
    if len(backslashes):
        # Values holding an escape are taken from msgspec's reading of them instead, appended
        # after the parts: the same single take then puts every value in place.
        escaped = _escaped_values(parts, backslashes, opens)
        if escaped is None:
            return None
        holder, texts = escaped
        records, key_of = np.divmod(holder, k)
        index[key_of * n + records] = len(parts) + np.arange(len(holder))
        source = pa.concat_arrays([parts, texts])
    values = source.take(pa.array(index))
    return RecordColumns(n, {name: values.slice(j * n, n) for j, name in enumerate(names)})


def _unescaped_quotes(a: np.ndarray, backslashes: np.ndarray) -> np.ndarray | None:
    """Positions of the ``"`` that delimit strings (a ``"`` after an odd run of ``\\`` does not)."""
    quotes = np.flatnonzero(a == _QUOTE)
    if not len(backslashes) or not len(quotes):
        return quotes
    if quotes[0] == 0:
        return None  # a list starts with "[": never the case for a whole list
    # Worked out from the backslash runs (a few hundred) rather than from every quote.
    last = np.empty(len(backslashes), dtype=bool)
    last[:-1] = np.diff(backslashes) != 1
    last[-1] = True
    ends = np.flatnonzero(last)  # the last backslash of each run, as an index into backslashes
    odd = np.diff(ends, prepend=-1) % 2 == 1
    after = backslashes[ends[odd]] + 1  # what an odd run escapes
    after = after[after < len(a)]
    escaped = after[a[after] == _QUOTE]
    if not len(escaped):
        return quotes
    return np.delete(quotes, np.searchsorted(quotes, escaped))


def _first_keys(data: bytes | memoryview, first: np.ndarray) -> list[str] | None:
    """The first record's keys, in order, when none holds an escape."""
    names = []
    for key_open, key_close, _, _ in first.tolist():
        raw = bytes(data[key_open + 1 : key_close])
        if b"\\" in raw:
            return None
        try:
            names.append(raw.decode())
        except UnicodeDecodeError:
            return None
    return names


def _utf8(buffer: pa.Buffer, size: int) -> bool:
    whole = pa.StringArray.from_buffers(1, pa.py_buffer(np.array([0, size], dtype=np.int32)), buffer)
    try:
        whole.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _data_equals(strings: pa.StringArray, expected: bytes) -> bool:
    """The values of ``strings`` (offset 0), back to back, are exactly ``expected``."""
    _, offsets, data = strings.buffers()
    used = int(np.frombuffer(offsets, dtype=np.int32, count=len(strings) + 1)[-1])
    return used == len(expected) and data is not None and data.slice(0, used).equals(pa.py_buffer(expected))


def _controls(sep: bytes) -> int:
    return sum(sep.count(c) for c in b"\t\n\r")


@dataclass(frozen=True)
class _Separators:
    """Where each kind of separator sits in the interleaved array, and its grammar."""

    k: int
    first: re.Pattern[bytes]  # "[" ... first key ... opening quote of the first value
    between_keys: tuple[re.Pattern[bytes], ...]  # value j-1 closes ... key j ... value j opens
    between_records: re.Pattern[bytes] | None  # last value closes ... "}" "," "{" ... key 0 ...
    last: re.Pattern[bytes]  # last value closes ... "}" ... "]"

    def checks(self, n: int) -> list[tuple[int, re.Pattern[bytes], int]]:
        """(element index, grammar, how many separators it stands for) for each kind."""
        k = self.k
        out = [(0, self.first, 1), (2 * n * k, self.last, 1)]
        out += [(2 * j, self.between_keys[j - 1], n) for j in range(1, k)]
        if self.between_records is not None:
            out.append((2 * k, self.between_records, n - 1))
        return out


@lru_cache(maxsize=256)
def _separators(names: tuple[bytes, ...], many: bool) -> _Separators:
    def key(name: bytes) -> bytes:
        return rb'"' + re.escape(name) + rb'"' + _WS + rb":" + _WS + rb'"'

    ws = _WS
    return _Separators(
        k=len(names),
        first=re.compile(rb"\[" + ws + rb"\{" + ws + key(names[0])),
        between_keys=tuple(re.compile(rb'"' + ws + rb"," + ws + key(n)) for n in names[1:]),
        between_records=(
            re.compile(rb'"' + ws + rb"\}" + ws + rb"," + ws + rb"\{" + ws + key(names[0])) if many else None
        ),
        last=re.compile(rb'"' + ws + rb"\}" + ws + rb"\]" + ws),
    )


def _escaped_values(
    parts: pa.StringArray, backslashes: np.ndarray, opens: np.ndarray
) -> tuple[np.ndarray, pa.Array] | None:
    """The values holding a backslash (indexes m: record m // k, key m % k) and msgspec's
    reading of them, or None when msgspec refuses one (the caller's msgspec pass reports it)."""
    # The separators matched the grammar, which has no backslash: each one sits in the value
    # that opens before it. Backslashes are in order, so their values are too.
    holds = np.searchsorted(opens, backslashes) - 1
    holder = holds[np.concatenate(([True], holds[1:] != holds[:-1]))]
    # One msgspec call for all of them (a few percent of a slice's values): ["<raw>",...].
    raw = parts.take(pa.array(2 * holder + 1)).to_pylist()
    try:
        decoded = _decode_strings(('["' + '","'.join(raw) + '"]').encode())
    except msgspec.DecodeError:
        return None
    return holder, pa.array(decoded, pa.string())
