"""Turn a slice of records (dicts) into typed Arrow columns for one table, vectorised.

Per-record Python work is limited to picking values out of dicts; cleaning, timestamp parsing and
video-id extraction run in Arrow compute kernels over the whole slice.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from itertools import repeat
from operator import attrgetter
from typing import Any

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tiktok_portability.archive.string_records import RecordColumns
from tiktok_portability.normalize.fields import RecordMap, norm_key
from tiktok_portability.normalize.report import NormalizeReport
from tiktok_portability.normalize.shapes import Records, field_values, raw_fields
from tiktok_portability.normalize.tables import TS

PLACEHOLDERS = pa.array(["", "None", "N/A", "null", "NULL"])
_PLACEHOLDER_SET = frozenset(PLACEHOLDERS.to_pylist())
_PLACEHOLDER_BYTES = max(len(p.encode()) for p in _PLACEHOLDER_SET)
# Up to this many rows, Python loops beat Arrow kernels (each call costs ~15 us of overhead).
SMALL_SLICE = 256
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
VIDEO_ID = r"/video/(?P<id>[0-9]{1,19})"
_VIDEO_ID = re.compile(VIDEO_ID)
_PLAIN_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}")
# 19-digit ids start with 6 or 7 today; anything past int64 is left null rather than wrapped.
INT64_MAX = str(2**63 - 1)
_encode = msgspec.json.Encoder().encode
_EPOCH = datetime(1970, 1, 1)
_SECOND = timedelta(seconds=1)


@dataclass
class SliceColumns:
    """Columns for one slice: arrays by column name, plus the field names seen and mapped."""

    rows: int
    arrays: dict[str, pa.Array]
    fields_seen: dict[str, bool]


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return _encode(value).decode()


def string_array(values: list[Any] | pa.Array) -> pa.Array:
    """Strings with placeholders ("", "None", "N/A") turned into nulls; other scalars as text."""
    if isinstance(values, pa.Array) and len(values) <= SMALL_SLICE:
        values = values.to_pylist()
    if isinstance(values, pa.Array):
        arr = values
    elif len(values) <= SMALL_SLICE and all(v is None or type(v) is str for v in values):
        # str.strip() trims exactly the code points utf8_trim_whitespace trims (checked over
        # all of Unicode), so small slices skip three kernel calls for the same values.
        return pa.array(
            [None if v is None or (s := v.strip()) in _PLACEHOLDER_SET else s for v in values], pa.string()
        )
    else:
        try:
            arr = pa.array(values, type=pa.string())
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            arr = pa.array([_text(v) for v in values], type=pa.string())
    edges = _edge_bytes(arr)
    if edges is None or _MAY_START_SPACE[edges[0]].any() or _MAY_END_SPACE[edges[1]].any():
        arr = pc.utf8_trim_whitespace(arr)
        edges = None  # the lengths changed
    if edges is not None and arr.null_count == 0:
        shortest = int(edges[2].min()) if len(edges[2]) else None
    else:
        shortest = pc.min(pc.binary_length(arr)).as_py()
    if shortest is None or shortest > _PLACEHOLDER_BYTES:
        return arr  # no value is short enough to be a placeholder (links, dates, most text)
    return pc.if_else(pc.is_in(arr, value_set=PLACEHOLDERS), pa.scalar(None, pa.string()), arr)


# The code points str.strip() and utf8_trim_whitespace trim (the same set, checked over all of
# Unicode in the tests), and the bytes their UTF-8 forms start and end with.
SPACES = (
    *range(0x09, 0x0E),
    *range(0x1C, 0x21),
    0x85,
    0xA0,
    0x1680,
    *range(0x2000, 0x200B),
    0x2028,
    0x2029,
    0x202F,
    0x205F,
    0x3000,
)
_MAY_START_SPACE = np.zeros(256, dtype=bool)
_MAY_START_SPACE[[chr(c).encode()[0] for c in SPACES]] = True
_MAY_END_SPACE = np.zeros(256, dtype=bool)
_MAY_END_SPACE[[chr(c).encode()[-1] for c in SPACES]] = True


def _edge_bytes(arr: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The first and last byte of every non-empty value, and every value's byte length; None
    for arrays these views do not fit (64-bit offsets).

    A value whose first and last bytes cannot begin or end a space needs no trimming: looking
    at two bytes a value skips a trim that copies all of them (most columns: dates, links,
    names).
    """
    if arr.type != pa.string():
        return None
    bounds = _bounds(arr)
    lengths = np.diff(bounds)
    nonempty = lengths > 0
    starts = bounds[:-1][nonempty]
    if not len(starts):
        return np.empty(0, np.uint8), np.empty(0, np.uint8), lengths
    values = np.frombuffer(arr.buffers()[2], dtype=np.uint8)
    return values[starts], values[bounds[1:][nonempty] - 1], lengths


def _bounds(arr: pa.Array) -> np.ndarray:
    """The value offsets of a (32-bit offset) string array, as a view: len(arr) + 1 of them."""
    return np.frombuffer(arr.buffers()[1], dtype=np.int32, count=len(arr) + 1, offset=arr.offset * 4)


def to_int(value: Any) -> int | None:
    """42 and "42" -> 42; "1,234" -> 1234; placeholders and non-numbers -> None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        text = value.strip().replace(",", "").replace("_", "")
        if text.lstrip("-").isdigit():
            return int(text)
    return None


def parse_timestamps(raw: pa.Array) -> pa.Array:
    """`YYYY-MM-DD HH:MM:SS` with an optional ` UTC` suffix or `T` separator -> timestamp[s, UTC]."""
    if len(raw) <= SMALL_SLICE:
        try:
            return pa.array([None if v is None else _plain_epoch(v) for v in raw.to_pylist()], TS)
        except ValueError:
            pass  # a value in another form: the kernels below decide, as for long slices
    valid = len(raw) - raw.null_count
    if valid and pc.min_max(pc.binary_length(raw)).as_py() == {"min": 19, "max": 19}:
        # Every value has the length of the plain format: Arrow's ISO-8601 cast reads those
        # 3x faster than strptime and the same way (a space or `T` separator). Anything it
        # refuses (a zone, a leap second, a bad date) goes through strptime as before.
        try:
            return raw.cast(pa.timestamp("s")).cast(TS)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    return strptime_timestamps(raw)


def strptime_timestamps(raw: pa.Array) -> pa.Array:
    """The plain path every fast path of :func:`parse_timestamps` must agree with: strptime,
    then a retry without a ` UTC`/`Z` suffix and with a space for the ISO `T`."""
    parsed = pc.strptime(raw, format=TIME_FORMAT, unit="s", error_is_null=True)
    if parsed.null_count != raw.null_count:
        # Only slices with suffixes or ISO separators pay for the regex clean-up.
        cleaned = pc.replace_substring_regex(raw, pattern=r"(?i)\s*(UTC|Z)$", replacement="")
        cleaned = pc.replace_substring_regex(cleaned, pattern=r"^(\d{4}-\d{2}-\d{2})T", replacement=r"\1 ")
        parsed = pc.strptime(cleaned, format=TIME_FORMAT, unit="s", error_is_null=True)
    return parsed.cast(TS)


def _plain_epoch(text: str) -> int:
    """Seconds since the epoch of a plain ``YYYY-MM-DD HH:MM:SS`` (or ``T``) UTC time, else
    ValueError. Exactly the values the ISO-8601 cast and strptime read the same way."""
    if not _PLAIN_TIME.fullmatch(text):
        raise ValueError(text)
    return (datetime.fromisoformat(text) - _EPOCH) // _SECOND  # 6x faster than calendar.timegm


def video_ids(text: pa.Array) -> pa.Array:
    """The id in `/video/<digits>` links, or null (also for ids that overflow int64).

    Same result as the regex ``VIDEO_ID`` over every row, but the regex only runs on rows where
    the first ``/video/`` is not followed by plain digits. A list's links nearly always share one
    prefix (``https://www.tiktokv.com/share/video/``): then the ids sit at a fixed byte offset and
    are sliced there (10x cheaper than finding ``/video/`` in every row).
    """
    n = len(text)
    if n <= SMALL_SLICE:
        return pa.array([_video_id(s) for s in text.to_pylist()], pa.int64())
    fixed = _prefixed_ids(text)
    if fixed is not None:
        return fixed
    hit = pc.fill_null(pc.match_substring(text, "/video/"), False)
    hits = text.filter(hit)
    if len(hits) == 0:
        return pa.nulls(n, pa.int64())
    if len(hits) <= SMALL_SLICE:
        # A few links among text (shared videos in messages): the regex per hit is cheaper.
        ids = pa.array([_video_id(s) for s in hits.to_pylist()], pa.int64())
    elif (shared := _prefixed_ids(hits)) is not None:
        ids = shared  # many messages that are just a shared link
    else:
        after = pc.list_element(pc.split_pattern(hits, "/video/", max_splits=1), 1)
        ids = _fitting_ids(_regex_where_not_plain(hits, pc.utf8_slice_codeunits(after, 0, 19)))
    if len(hits) == n:
        return ids
    return pc.replace_with_mask(pa.nulls(n, pa.int64()), hit, ids)


def _prefixed_ids(text: pa.Array) -> pa.Array | None:
    """The ids when every link has one ASCII prefix ending in ``/video/`` (else None): sliced at
    a fixed byte offset. For a row with the prefix, its first ``/video/`` is the prefix's own."""
    if text.type != pa.string():  # the byte views below assume 32-bit offsets
        return None
    prefix = _video_prefix(text)
    if prefix is None or not _all(pc.starts_with(text, prefix)) or not _ascii(text):
        return None
    start = len(prefix)  # ASCII only, so a byte slice is a character slice
    # Views, not casts: the bytes are ASCII, so the UTF-8 check a cast makes (~5 us per 1,000
    # links) is not needed either way.
    ids = pc.binary_slice(text.view(pa.binary()), start, start + 19).view(pa.string())
    return _fitting_ids(_regex_where_not_plain(text, ids))


def _ascii(text: pa.Array) -> bool:
    """Every value is ASCII: one look at the bytes the values span (14 us per 8,000 links against
    130 us for ``string_is_ascii``)."""
    if text.type != pa.string():
        return _all(pc.string_is_ascii(text))
    data = text.buffers()[2]
    if data is None:
        return True
    bounds = _bounds(text)
    first, last = int(bounds[0]), int(bounds[-1])
    return last == first or int(np.frombuffer(data, dtype=np.uint8)[first:last].max()) < 0x80


def _all(mask: pa.Array) -> bool:
    """True when every non-null value is true (and there is one)."""
    return pc.all(mask).as_py() is True


def _video_prefix(text: pa.Array, probe: int = 8) -> str | None:
    """Everything up to and including the first ``/video/`` of one of the first valid links."""
    for value in text.slice(0, probe).to_pylist():
        if value and (at := value.find("/video/")) >= 0:
            return value[: at + len("/video/")]
    return None


def _regex_where_not_plain(text: pa.Array, ids: pa.Array) -> pa.Array:
    """``ids`` (the 19 characters after the first ``/video/``), with the regex's answer on the
    rows where those are not all digits (a later ``/video/`` may hold the id)."""
    plain = pc.ascii_is_decimal(ids)
    if _all(plain):
        return ids
    found = pc.struct_field(pc.extract_regex(text, pattern=VIDEO_ID), "id")
    return pc.if_else(plain, ids, found)


def _fitting_ids(ids: pa.Array) -> pa.Array:
    """Digit strings to int64; 19-digit ones past int64 become null rather than wrap."""
    try:
        # The usual slice: every id fits, one kernel. The cast refuses an overflow rather than
        # wrapping, and the values are digits only, so nothing else makes it fail.
        return ids.cast(pa.int64())
    except pa.ArrowInvalid:
        pass
    fits = pc.or_(pc.less(pc.binary_length(ids), 19), pc.less_equal(ids, INT64_MAX))
    return pc.if_else(fits, ids, pa.scalar(None, pa.string())).cast(pa.int64())


def _video_id(text: str | None) -> int | None:
    """:func:`video_ids` for one value (the regex itself, for small slices)."""
    if text is None or "/video/" not in text:
        return None
    found = _VIDEO_ID.search(text)
    if found is None:
        return None
    digits = found.group("id")
    return int(digits) if len(digits) < 19 or digits <= INT64_MAX else None


def _pick(records: Sequence[Any], keys: list[str], attrs: dict[str, str] | None) -> list[Any]:
    """Per record, the first non-empty value among ``keys`` (dicts, or structs with ``attrs``)."""
    if attrs is None:
        if len(keys) == 1:
            return list(map(dict.get, records, repeat(keys[0])))
        getters = [partial(_get, key=k) for k in keys]
    else:
        if len(keys) == 1:
            return field_values(attrs[keys[0]])(records)
        getters = [attrgetter(attrs[k]) for k in keys]
    out = []
    for r in records:
        value = None
        for get in getters:
            value = get(r)
            if value is not None and value != "":
                break
        out.append(value)
    return out


def _get(record: dict, key: str) -> Any:
    return record.get(key)


def _pick_columns(records: RecordColumns, keys: list[str]) -> pa.Array:
    """:func:`_pick` over columns: per row, the first value among ``keys`` that is not empty."""
    picked = records.columns[keys[0]]
    for key in keys[1:]:
        empty = pc.or_kleene(pc.is_null(picked), pc.equal(picked, ""))
        picked = pc.if_else(empty, records.columns[key], picked)
    return picked


def build_columns(
    items: Records, rmap: RecordMap, path: str, report: NormalizeReport, first_index: int = 0
) -> SliceColumns:
    """Columns of ``rmap.table`` (without lineage and occurrence) for the records in ``items``."""
    records: Records
    if isinstance(items, RecordColumns) and rmap.extra:
        items = items.to_dicts()  # ``extra`` is built record by record
    columnar = isinstance(items, RecordColumns)
    attrs = raw_fields(items)
    # Position in ``items`` of each record, when items that are not objects were dropped.
    positions: list[int] | None = None
    if columnar or attrs is not None or set(map(type, items)) <= {dict}:
        records = items
    else:
        records, positions = [], []
        for i, r in enumerate(items):
            if isinstance(r, dict):
                records.append(r)
                positions.append(i)
            else:
                report.add_error(path, first_index + i, f"expected an object, got {type(r).__name__}")
    n = len(records)
    raw_keys: dict[str, list[str]] = {}
    # Sorted: when two spellings of one key both hold a value, the same one wins on every run.
    if isinstance(records, RecordColumns):
        keys_seen: Any = sorted(records.columns)
    else:
        keys_seen = attrs if attrs is not None else sorted(set().union(*records)) if records else ()
    for key in keys_seen:
        raw_keys.setdefault(norm_key(key), []).append(key)
    mapped = rmap.mapped_keys()
    fields_seen = {k: norm_key(k) in mapped for ks in raw_keys.values() for k in ks}

    def values(aliases: tuple[str, ...]) -> list[Any] | pa.Array | None:
        keys = [k for alias in aliases for k in raw_keys.get(alias, ())]
        if not keys:
            return None
        if isinstance(records, RecordColumns):
            return _pick_columns(records, keys)
        return _pick(records, keys, attrs)

    arrays: dict[str, pa.Array] = {}
    if rmap.timestamp:
        name, aliases = rmap.timestamp
        got = values(aliases)
        raw = string_array(got) if got is not None else pa.nulls(n, pa.string())
        ts = parse_timestamps(raw)
        arrays[name] = ts
        arrays[f"{name}_raw"] = raw
        # A null raw value always parses to null, so extra nulls are the unparseable values.
        if ts.null_count != raw.null_count:
            bad = pc.and_(pc.is_valid(raw), pc.is_null(ts))
            for i in pc.indices_nonzero(bad).to_pylist():
                at = first_index + (positions[i] if positions is not None else i)
                report.add_error(path, at, f"unparseable timestamp {raw[i].as_py()!r}")
    for name, aliases in rmap.strings.items():
        got = values(aliases)
        arrays[name] = string_array(got) if got is not None else pa.nulls(n, pa.string())
    for name, aliases in rmap.integers.items():
        got = values(aliases)
        if isinstance(got, pa.Array):
            got = got.to_pylist()
        arrays[name] = pa.array([to_int(v) for v in got] if got is not None else [None] * n, pa.int64())
    if rmap.video_from:
        arrays["video_id"] = video_ids(arrays[rmap.video_from])
    for name, value in rmap.constants.items():
        arrays[name] = pa.repeat(pa.scalar(value, pa.string()), n)
    if rmap.extra:
        unknown = {k for k, is_mapped in fields_seen.items() if not is_mapped}
        extra: list[str | None] = [None] * n
        if unknown:
            for i, r in enumerate(records):
                # In the record's own order, so the text is the same on every run.
                found = {k: v for k, v in r.items() if k in unknown}
                if found:
                    extra[i] = _encode(found).decode()
        arrays["extra"] = pa.array(extra, pa.string())
    return SliceColumns(n, arrays, fields_seen)
