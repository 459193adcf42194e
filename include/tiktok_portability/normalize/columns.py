"""Turn a slice of records (dicts) into typed Arrow columns for one table, vectorised.

Per-record Python work is limited to picking values out of dicts; cleaning, timestamp parsing and
video-id extraction run in Arrow compute kernels over the whole slice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from tiktok_portability.normalize.fields import RecordMap, norm_key
from tiktok_portability.normalize.report import NormalizeReport
from tiktok_portability.normalize.shapes import Records, all_keys, all_objects, as_dicts, pick
from tiktok_portability.normalize.tables import TS
from tiktok_portability.normalize.video_ids import video_ids

PLACEHOLDERS = pa.array(["", "None", "N/A", "null", "NULL"])
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
PLACEHOLDER_EPOCH_S = -1
_encode = msgspec.json.Encoder().encode


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


def string_array(values: list[Any] | pa.Array, trim: bool = True) -> pa.Array:
    """Strings with placeholders ("", "None", "N/A") turned into nulls; other scalars as text.

    Values are trimmed unless ``trim`` is False (message text is kept exactly as written).
    """
    if isinstance(values, pa.Array):
        arr = values
    else:
        try:
            arr = pa.array(values, type=pa.string())
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            arr = pa.array([_text(v) for v in values], type=pa.string())
    trimmed = pc.utf8_trim_whitespace(arr)
    kept = trimmed if trim else arr
    return pc.if_else(pc.is_in(trimmed, value_set=PLACEHOLDERS), pa.scalar(None, pa.string()), kept)


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
    """`YYYY-MM-DD HH:MM:SS` with an optional ` UTC`/`Z` suffix or `T` separator -> timestamp[s, UTC].

    strptime first; only slices with suffixes or ISO separators pay for the regex clean-up.
    """
    parsed = pc.strptime(raw, format=TIME_FORMAT, unit="s", error_is_null=True)
    if parsed.null_count != raw.null_count:
        cleaned = pc.replace_substring_regex(raw, pattern=r"(?i)\s*(UTC|Z)$", replacement="")
        cleaned = pc.replace_substring_regex(cleaned, pattern=r"^(\d{4}-\d{2}-\d{2})T", replacement=r"\1 ")
        parsed = pc.strptime(cleaned, format=TIME_FORMAT, unit="s", error_is_null=True)
    return parsed.cast(TS)


def without_placeholder(ts: pa.Array) -> pa.Array:
    """Null where TikTok wrote its "no date" placeholder, 1969-12-31 23:59:59 UTC (epoch - 1 s),
    in any spelling: not an event time (a sixth of one export's shares; the raw text stays)."""
    earliest = pc.min(ts).value  # one kernel settles the usual case: nothing before 1970
    if earliest is None or earliest > PLACEHOLDER_EPOCH_S:
        return ts
    placeholder = pc.equal(ts.cast(pa.int64()), PLACEHOLDER_EPOCH_S)
    return pc.if_else(placeholder, pa.scalar(None, ts.type), ts)


def build_columns(
    items: Records, rmap: RecordMap, path: str, report: NormalizeReport, first_index: int = 0
) -> SliceColumns:
    """Columns of ``rmap.table`` (without lineage and occurrence) for the records in ``items``."""
    records: Records
    if rmap.extra:
        items = as_dicts(items)  # ``extra`` is built record by record
    # Position in ``items`` of each record, when items that are not objects were dropped.
    positions: list[int] | None = None
    if all_objects(items):
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
    for key in all_keys(records):
        raw_keys.setdefault(norm_key(key), []).append(key)
    mapped = rmap.mapped_keys()
    fields_seen = {k: norm_key(k) in mapped for ks in raw_keys.values() for k in ks}

    def values(aliases: tuple[str, ...]) -> list[Any] | pa.Array | None:
        keys = [k for alias in aliases for k in raw_keys.get(alias, ())]
        return pick(records, keys) if keys else None

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
        arrays[name] = without_placeholder(ts)
    for name, aliases in rmap.strings.items():
        got = values(aliases)
        if got is None:
            arrays[name] = pa.nulls(n, pa.string())
        else:
            arrays[name] = string_array(got, trim=name not in rmap.verbatim)
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
