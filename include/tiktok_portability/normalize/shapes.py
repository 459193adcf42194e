"""Typed decoding of big record lists: learn a list's keys once, then decode into structs.

Decoding a slice into ``msgspec.Struct`` instances is 2-3x faster than building one dict per
record, and most of an export is a few long lists whose records all have the same few keys. The
first slice of a list arrives as dicts (through the plain decoder); its keys become a struct with
one optional field per raw key (exact spelling, so ``Date`` and ``date`` stay apart), and later
slices at the same shown path decode into that struct. A slice with a key the struct does not
know (or an item that is not an object) is rejected by msgspec and decoded as dicts again, and
its keys widen the struct; so values never differ from the dict path, only their container.

Big slices whose records all hold every learned key with a string value skip Python objects
altogether: :func:`~tiktok_portability.archive.string_records.decode_string_records` cuts them
into Arrow columns (a :class:`RecordColumns`), and anything else goes to the struct decoder.
That columnar reader is the one fast path the benchmark budget needs (docs/benchmarks.md), and
this module is its only seam: the rest of the normalizer reads a slice's records through
:func:`all_keys`, :func:`all_objects`, :func:`as_dicts`, :func:`concat` and :func:`pick`,
whatever they are made of.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from operator import attrgetter, methodcaller
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from tiktok_portability.archive.string_records import MIN_BYTES, RecordColumns, decode_string_records

# A list slice's records: dicts or learned structs as msgspec decoded them, or Arrow columns.
Records = Sequence[Any] | RecordColumns
# Lists keyed by data rather than by fields would make huge structs: keep those as dicts.
MAX_FIELDS = 64
RAW_FIELDS = "raw_fields"


def raw_fields(records: Records) -> dict[str, str] | None:
    """``{raw key: attribute}`` when ``records`` were decoded into a learned struct, else None."""
    if not records or isinstance(records, RecordColumns) or isinstance(records[0], dict):
        return None
    return getattr(type(records[0]), RAW_FIELDS, None)


class RecordShapes:
    """The keys seen so far per list (by shown path), and a typed decoder for each."""

    def __init__(self) -> None:
        self._keys: dict[str, frozenset[str]] = {}
        self._decoders: dict[str, Callable[[bytes], Any]] = {}

    def decoder(self, shown: str) -> Callable[[bytes], Any] | None:
        return self._decoders.get(shown)

    def learn(self, shown: str, records: Records) -> None:
        """Widen the struct of ``shown`` with the keys of a slice that arrived as dicts."""
        if isinstance(records, RecordColumns) or raw_fields(records) is not None:
            return
        known = self._keys.get(shown, frozenset())
        keys = set(known)
        for record in records:
            if isinstance(record, dict):
                keys.update(record)
        if keys == known and shown in self._decoders:
            return
        self._keys[shown] = frozenset(keys)
        if not keys or len(keys) > MAX_FIELDS:
            self._decoders.pop(shown, None)
            return
        self._decoders[shown] = _decoder_for(frozenset(keys))


@lru_cache(maxsize=512)
def _decoder_for(keys: frozenset[str]) -> Callable[[bytes], Any]:
    """One struct and decoder per key set, shared by all archives (building one costs ~0.1 ms)."""
    attrs = {key: f"f{i}" for i, key in enumerate(sorted(keys))}
    struct = msgspec.defstruct(
        "Record",
        [(attr, object, None) for attr in attrs.values()],
        rename={attr: key for key, attr in attrs.items()},
        forbid_unknown_fields=True,
        gc=False,
        namespace={RAW_FIELDS: attrs},
    )
    return _SliceDecoder(keys, msgspec.json.Decoder(list[struct]).decode)


class _SliceDecoder:
    """Columns for a big slice of all-string records, the learned struct for anything else."""

    def __init__(self, keys: frozenset[str], typed: Callable[[bytes], Any]) -> None:
        self.keys = keys
        self.typed = typed

    def exact(self, data: bytes | memoryview) -> RecordColumns | None:
        """Columns when ``data`` is exactly such a list, else None (see ``JsonStream._slice``)."""
        return decode_string_records(data, self.keys) if len(data) >= MIN_BYTES else None

    def __call__(self, data: bytes | memoryview) -> Any:
        return self.exact(data) or self.typed(data)


def record_kind(records: Records) -> object:
    """What a slice's records are made of (dicts, one learned struct, or columns of some keys):
    slices of one kind can be built into columns together."""
    if isinstance(records, RecordColumns):
        return records.kind
    return type(records[0]) if raw_fields(records) is not None else dict


def record_keys(records: Records) -> list[str]:
    """The raw keys of a typed slice (struct or columns), else of its first record."""
    if isinstance(records, RecordColumns):
        return list(records.columns)
    attrs = raw_fields(records)
    if attrs is not None:
        return list(attrs)
    return list(records[0]) if records and isinstance(records[0], dict) else []


def all_keys(records: Records) -> list[str]:
    """Every raw key of a slice's records, sorted."""
    if isinstance(records, RecordColumns):
        return sorted(records.columns)
    attrs = raw_fields(records)
    if attrs is not None:
        return sorted(attrs)
    return sorted(set().union(*records)) if records else []


def all_objects(records: Records) -> bool:
    """Every item is a record (columns and learned structs always are; dicts when all are)."""
    if isinstance(records, RecordColumns) or raw_fields(records) is not None:
        return True
    return set(map(type, records)) <= {dict}


def as_dicts(records: Records) -> Records:
    """Columns as dicts, for the per-record paths; anything else as it is."""
    return records.to_dicts() if isinstance(records, RecordColumns) else records


def concat(parts: Sequence[Records]) -> Records:
    """One slice from consecutive slices of one :func:`record_kind`, in order."""
    if len(parts) == 1:
        return parts[0]
    if isinstance(parts[0], RecordColumns):
        return RecordColumns.concat(parts)  # type: ignore[arg-type]
    return [r for part in parts for r in part]


def pick(records: Records, keys: list[str]) -> list[Any] | pa.Array:
    """Per record, the first value among ``keys`` that is neither missing nor ``""``."""
    if isinstance(records, RecordColumns):
        picked = records.columns[keys[0]]
        for key in keys[1:]:
            empty = pc.or_kleene(pc.is_null(picked), pc.equal(picked, ""))
            picked = pc.if_else(empty, records.columns[key], picked)
        return picked
    attrs = raw_fields(records)
    if attrs is None:
        getters = [methodcaller("get", k) for k in keys]
    else:
        getters = [attrgetter(attrs[k]) for k in keys]
    if len(getters) == 1:
        return list(map(getters[0], records))
    out = []
    for r in records:
        value = None
        for get in getters:
            value = get(r)
            if value is not None and value != "":
                break
        out.append(value)
    return out
