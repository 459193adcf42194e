"""normalize_archive: one export zip in, typed RecordBatches per table out, memory bounded."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from tiktok_portability.archive.json_stream import JsonStream
from tiktok_portability.archive.locate import ExportLayout, TxtFile, locate_export
from tiktok_portability.archive.safezip import ArchiveLimits, SafeZip
from tiktok_portability.archive.txt import dm_partner, read_blocks, read_dm_transcript
from tiktok_portability.normalize import fields as f
from tiktok_portability.normalize.batches import Lineage, TableBuffer
from tiktok_portability.normalize.columns import SliceColumns, build_columns
from tiktok_portability.normalize.fields import RecordMap, norm_key
from tiktok_portability.normalize.report import NormalizeContext, NormalizeReport, SectionSeen
from tiktok_portability.normalize.routes import (
    DUTCH_FILES,
    NEW_ENGLISH_FILES,
    TXT_FILES,
    display_path,
    route_list,
    route_object,
)
from tiktok_portability.normalize.shapes import Records, RecordShapes, concat, record_keys, record_kind
from tiktok_portability.normalize.tables import TABLES
from tiktok_portability.redact import fingerprint
from tiktok_portability.spill import HeldBatches

log = logging.getLogger(__name__)

Batches = Iterator[tuple[str, pa.RecordBatch]]
# Conversations are built into columns together up to this many messages: an export can hold
# thousands of short conversations, and each build costs ~20 kernel calls whatever its size.
MESSAGE_GROUP_ROWS = 8_192
HELD_PER_BATCH = 2
OTHER = "other_records"
# What an export writes for a list that is present but empty (besides []): a key that is there
# with one of these means "none now" (an empty follower list is unfollows), never "not exported".
EMPTY_STRINGS = frozenset({"", "None", "N/A", "null", "NULL"})
_encode = msgspec.json.Encoder().encode


def is_empty_list(value: Any) -> bool:
    """``null``, ``{}`` or a placeholder string where a list belongs."""
    if value is None or value == {}:
        return True
    return isinstance(value, str) and value.strip() in EMPTY_STRINGS


@dataclass
class _Conversation:
    items: Records
    partner: str


@dataclass
class _Seen:
    node: str
    mapped: bool
    table: str | None
    records: int = 0


class _Run:
    """State shared by the JSON and TXT readers during one archive."""

    def __init__(self, ctx: NormalizeContext, report: NormalizeReport, batch_rows: int, member: str) -> None:
        self.ctx = ctx
        self.report = report
        self.member = member
        # A table's buffer is made when it first gets rows (a small archive leaves some empty).
        self.buffers: dict[str, TableBuffer] = {}
        self.lineage = Lineage(ctx)
        self.batch_rows = batch_rows
        self.seen: dict[tuple[str, str], _Seen] = {}
        self.positions: dict[str, int] = {}
        self.user_name: str | None = None
        self.user_name_known = False
        # Messages met before the profile wait here: their direction needs the user's name.
        self.held = HeldBatches(TABLES["dm_messages"].schema)
        # Held messages on their way out, a few after each batch of other tables (see emit).
        self.releasing: Iterator[pa.RecordBatch] | None = None
        # Consecutive conversations not built into columns yet, all of one list (or file).
        self.conversations: list[_Conversation] = []
        self.conversation_rows = 0
        self.conversation_key: tuple[str, str, str, type] | None = None

    def see(
        self, member: str, path: str, node: str, mapped: bool, table: str | None, records: int = 0
    ) -> None:
        entry = self.seen.get((member, path))
        if entry is None:
            self.seen[(member, path)] = _Seen(node, mapped, table, records)
        else:
            entry.records += records

    def feed(self, items: Records, rmap: RecordMap, member: str, path: str, node: str = "list") -> Batches:
        yield from self.flush_conversations()
        first = self.positions.get(path, 0)
        self.positions[path] = first + len(items)
        cols = build_columns(items, rmap, path, self.report, first_index=first)
        self.see(member, path, node, True, rmap.table, len(items))
        if cols.rows < len(items):
            # Items that are not records were counted as errors; they are still kept, verbatim.
            stray = [i for i, r in enumerate(items) if not isinstance(r, dict)]
            yield from self.other([items[i] for i in stray], path, [first + i for i in stray])
        for key, mapped in cols.fields_seen.items():
            self.see(member, f"{path}[] / {key}", "field", mapped, rmap.table if mapped else None)
        if rmap.table == "profile" and self.awaiting_profile and cols.rows:
            self.set_user_name(cols.arrays["user_name"][0].as_py())
        yield from self.emit(rmap.table, cols)

    @property
    def awaiting_profile(self) -> bool:
        return not self.user_name_known

    def set_user_name(self, name: str | None, source: str = "archive") -> None:
        """The profile's name (None: no profile, or no name in it)."""
        self.user_name, self.user_name_known = name, True
        self.report.user_name_source = source if name else None

    def other(self, items: Records, section: str, ordinals: list[int] | None = None) -> Batches:
        """Records no typed table holds, into ``other_records`` as JSON text, in list order."""
        if not items:
            return
        yield from self.flush_conversations()
        if ordinals is None:
            first = self.positions.get(section, 0)
            self.positions[section] = first + len(items)
            ordinals = list(range(first, first + len(items)))
        n = len(items)
        self.report.other_records[section] = self.report.other_records.get(section, 0) + n
        arrays = {
            "section": pa.repeat(pa.scalar(section, pa.string()), n),
            "ordinal": pa.array(ordinals, pa.int64()),
            "record": pa.array([_encode(r).decode() for r in items], pa.string()),
        }
        yield from self.emit(OTHER, SliceColumns(n, arrays, {}))

    def add_conversation(self, items: Records, partner: str, member: str, shown: str, node: str) -> Batches:
        """Queue one conversation's messages; they are built with the next ones of the same list.

        The result is the same as building each conversation alone: positions, sections and
        errors are kept per shown path, in order, and lists of another item type (dicts or a
        learned struct) or path start a new group.
        """
        self.see(member, shown, node, True, "dm_messages", len(items))
        if not items:
            return
        key = (member, shown, node, record_kind(items))
        if key != self.conversation_key:
            yield from self.flush_conversations()
            self.conversation_key = key
        self.conversations.append(_Conversation(items, partner))
        self.conversation_rows += len(items)
        if self.conversation_rows >= MESSAGE_GROUP_ROWS:
            yield from self.flush_conversations()

    def flush_conversations(self) -> Batches:
        if not self.conversations:
            return
        member, shown, _node, _kind = self.conversation_key  # type: ignore[misc]
        groups, self.conversations, self.conversation_rows = self.conversations, [], 0
        items = concat([g.items for g in groups])
        first = self.positions.get(shown, 0)
        self.positions[shown] = first + len(items)
        cols = build_columns(items, f.DM, shown, self.report, first_index=first)
        for key, mapped in cols.fields_seen.items():
            self.see(member, f"{shown}[] / {key}", "field", mapped, "dm_messages" if mapped else None)
        if len(items) == cols.rows:
            counts = [len(g.items) for g in groups]
        else:  # items that are not objects were reported and dropped: count the records kept
            counts = [sum(isinstance(r, dict) for r in g.items) for g in groups]
        # A deleted partner's conversation has no name (`Chat History with ::`): null, not "".
        partners = [
            pa.repeat(pa.scalar(g.partner or None, pa.string()), n)
            for g, n in zip(groups, counts, strict=True)
        ]
        cols.arrays["conversation"] = pa.concat_arrays(partners) if len(partners) > 1 else partners[0]
        cols.arrays["direction"] = pa.nulls(cols.rows, pa.string())  # set when emitted
        yield from self.emit("dm_messages", cols)

    def direction(self, sender: pa.Array) -> pa.Array:
        """sent/received once the user's name is known; null until then (or without a name)."""
        if self.user_name:
            # No sender is a deleted account's line: never the user's own (those carry the name).
            sent = pc.fill_null(pc.equal(sender, pa.scalar(self.user_name)), False)
            return pc.if_else(sent, "sent", "received")
        return pa.nulls(len(sender), pa.string())

    def emit(self, table: str, cols: SliceColumns) -> Batches:
        buffer = self.buffers.get(table)
        if buffer is None:
            buffer = self.buffers[table] = TableBuffer(TABLES[table], self.ctx, self.batch_rows, self.lineage)
        for batch in buffer.add(cols):
            if table == "dm_messages":
                if not self.user_name_known:
                    self.held.add(batch)
                    continue
                yield from self.release_held()  # row order: the held messages come first
                batch = self.with_direction(batch)
            self.report.add_rows(table, batch.num_rows)
            yield table, batch
            # Held messages go out two per batch of another table rather than all at once: a
            # burst of hundreds of MB would stall decoding while their Parquet is written.
            yield from self.release_held(limit=HELD_PER_BATCH)

    def with_direction(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        if not self.user_name:
            return batch
        at = batch.schema.get_field_index("direction")
        return batch.set_column(at, batch.schema.field(at), self.direction(batch.column("sender")))

    def release_held(self, limit: int | None = None) -> Batches:
        """The messages held before the profile (all, or up to ``limit``), with their direction."""
        if self.releasing is None:
            if not (self.user_name_known and self.held):
                return
            self.releasing = self.held.release()
        for n, batch in enumerate(self.releasing, start=1):
            batch = self.with_direction(batch)
            self.report.add_rows("dm_messages", batch.num_rows)
            yield "dm_messages", batch
            if limit is not None and n >= limit:
                return
        self.releasing = None

    def discard(self) -> None:
        """Drop what is still held (the archive failed or its reader stopped early)."""
        if self.releasing is not None:
            self.releasing.close()  # the generator removes its spill file
            self.releasing = None
        self.held.discard()

    def finish(self) -> Batches:
        yield from self.flush_conversations()
        if self.awaiting_profile:
            # No profile in the export (a messages-only grant): the lake's latest profile names
            # the user; without one the messages keep a null direction.
            self.set_user_name(self.ctx.known_user_name, source="lake")
        yield from self.release_held()
        for table in TABLES:  # the tables' order, whatever order their rows came in
            buffer = self.buffers.get(table)
            if buffer is None:
                continue
            for batch in buffer.flush():
                if table == "dm_messages":
                    batch = self.with_direction(batch)
                self.report.add_rows(table, batch.num_rows)
                yield table, batch
        rows = sorted(self.seen.items())
        self.report.sections = [
            SectionSeen(member, path, s.node, s.mapped, s.table, s.records) for (member, path), s in rows
        ]
        n = len(rows)
        arrays = {
            "format": pa.array([self.report.format] * n, pa.string()),
            "generation": pa.array([self.report.generation] * n, pa.string()),
            "member": pa.array([m for (m, _), _ in rows], pa.string()),
            "path": pa.array([p for (_, p), _ in rows], pa.string()),
            "node": pa.array([s.node for _, s in rows], pa.string()),
            "mapped": pa.array([s.mapped for _, s in rows], pa.bool_()),
            "table_name": pa.array([s.table for _, s in rows], pa.string()),
            "records": pa.array([s.records for _, s in rows], pa.int64()),
        }
        sections = TableBuffer(TABLES["sections_seen"], self.ctx, self.batch_rows, self.lineage)
        for batch in (*sections.add(SliceColumns(n, arrays, {})), *sections.flush()):
            self.report.add_rows("sections_seen", batch.num_rows)
            yield "sections_seen", batch


class _JsonReader:
    def __init__(self, zf: SafeZip, member: str, run: _Run) -> None:
        self.zf = zf
        self.member = member
        self.run = run
        self.tops: set[str] = set()
        self.subs: set[str] = set()  # second-level keys: they tell a partial export's generation
        self.video_link_key = False
        self.dms_before_profile = False
        self.shapes = RecordShapes()
        self.routes: dict[tuple[str, ...], tuple[str, RecordMap | None]] = {}
        self.reported: set[tuple[str, ...]] = set()  # ancestors already in the sections report

    def batches(self) -> Batches:
        with self.zf.open(self.member, buffered=False) as fh:
            stream = JsonStream(
                fh,
                archive=self.zf.name,
                member=self.member,
                typed=self._typed,
                max_value_bytes=self.zf.limits.max_value_bytes,
            )
            for path, value, is_slice in stream.events():
                if path:
                    self.tops.add(norm_key(path[0]))
                    if len(path) > 1:
                        self.subs.add(norm_key(path[1]))
                if is_slice:
                    yield from self._list(path, value)
                else:
                    yield from self._value(path, value)
        self.run.report.generation = self._generation()
        if stream.repeated_at is not None:
            self.run.report.repeated_document_at = stream.repeated_at
            log.warning(
                "archive=%s member=%s holds its JSON document twice: the copy at byte %d is ignored",
                self.zf.name,
                self.member,
                stream.repeated_at,
            )

    def _generation(self) -> str | None:
        if self.tops & {"likesandfavorites", "profileandsettings"}:
            return "G3"
        if "youractivity" in self.tops:
            return "G2"
        if "activity" in self.tops:
            return "G0" if self.video_link_key else "G1"
        # A partial export (one category) may lack every top-level key above: its other keys
        # were renamed in the same steps (docs/archive-format.md, "JSON generations").
        if self.tops & {"directmessages", "video"} or "profileinformation" in self.subs:
            return "G1"
        if self.tops & {"directmessage", "post"} or "profileinfo" in self.subs:
            return "G2"
        return "partial" if self.tops else None

    def _route(self, path: tuple[str, ...]) -> tuple[str, RecordMap | None]:
        found = self.routes.get(path)
        if found is None:
            found = self.routes[path] = (display_path(path), route_list(path))
        return found

    def _typed(self, path: tuple[str, ...]) -> Callable[[bytes], Any] | None:
        """Struct decoders for the mapped lists (profile and posts keep dicts for ``extra``)."""
        shown, rmap = self._route(path)
        return self.shapes.decoder(shown) if rmap is not None and not rmap.extra else None

    def _ancestors(self, path: tuple[str, ...]) -> None:
        # Deepest first: once one is reported, so are all above it (a small archive has ~130
        # values, and reporting every ancestor of each was ~400 calls).
        for i in range(len(path) - 1, 0, -1):
            prefix = path[:i]
            if prefix in self.reported:
                return
            self.reported.add(prefix)
            self.run.see(self.member, display_path(prefix), "object", False, None)

    def _value(self, path: tuple[str, ...], value: Any) -> Batches:
        if isinstance(value, list):
            yield from self._list(path, value)
            return
        if is_empty_list(value) and route_list(path) is not None:
            yield from self._list(path, [])  # present and empty, not absent
            return
        self._ancestors(path)
        if not isinstance(value, dict):
            if path:
                self.run.see(self.member, display_path(path), "value", False, None)
            return
        rmap = route_object(path)
        if rmap is not None:
            # Queued messages go first: they may be held until this profile names the user.
            yield from self.run.flush_conversations()
            if rmap is f.PROFILE and self.dms_before_profile and self.run.awaiting_profile:
                # Messages came first (exports list sections alphabetically): they take the
                # profile's userName exactly as written.
                self.run.set_user_name(_raw_user_name(value))
            yield from self.run.feed([value], rmap, self.member, display_path(path), node="object")
            return
        if path:
            self.run.see(self.member, display_path(path), "object", False, None)
        if not path:
            self.tops.update(norm_key(k) for k in value)
        elif len(path) == 1:
            self.subs.update(norm_key(k) for k in value)
        for key, child in value.items():
            yield from self._value((*path, key), child)

    def _list(self, path: tuple[str, ...], items: Records) -> Batches:
        self._ancestors(path)
        shown, rmap = self._route(path)
        if rmap is None:
            self.run.see(self.member, shown, "list", False, OTHER, len(items))
            dicts = [r for r in items if isinstance(r, dict)]
            for key in set().union(*dicts) if dicts else ():
                self.run.see(self.member, f"{shown}[] / {key}", "field", False, None)
            yield from self.run.other(items, shown)
            return
        if not rmap.extra:
            self.shapes.learn(shown, items)
        if rmap is f.WATCH and items and not self.video_link_key:
            self.video_link_key = any(norm_key(k) == "videolink" for k in record_keys(items))
        if rmap is not f.DM:
            yield from self.run.feed(items, rmap, self.member, shown)
            return
        if self.run.awaiting_profile:
            self.dms_before_profile = True
        yield from self.run.add_conversation(items, dm_partner(path[-1]), self.member, shown, "list")


def _raw_user_name(profile: dict) -> str | None:
    for key, value in profile.items():
        if norm_key(key) == "username" and isinstance(value, str):
            return value
    return None


class _TxtReader:
    def __init__(self, zf: SafeZip, layout: ExportLayout, run: _Run) -> None:
        self.zf = zf
        self.layout = layout
        self.run = run

    def batches(self) -> Batches:
        files = sorted(self.layout.txt_files.values(), key=lambda t: t.member)
        stems = {norm_key(t.stem) for t in files}
        report = self.run.report
        if stems & DUTCH_FILES:
            report.txt_variant = "nl"
        elif stems & NEW_ENGLISH_FILES or any("tiktok_data_" in t.member.casefold() for t in files):
            report.txt_variant = "en_new"
        else:
            report.txt_variant = "en_old"
        # The profile first: DM direction needs the user's name.
        files.sort(key=lambda t: TXT_FILES.get(norm_key(t.stem)) is not f.PROFILE)
        for txt in files:
            rmap = TXT_FILES.get(norm_key(txt.stem))
            if rmap is None:
                yield from self._other(txt)
                continue
            with self.zf.open(txt.member) as fh:
                if rmap is f.DM:
                    yield from self._dms(txt.member, fh)
                else:
                    for records in self._blocks(txt.member, fh):
                        if rmap is f.PROFILE:
                            records = records[:1]
                        yield from self.run.feed(records, rmap, txt.member, txt.member, node="file")
            self.run.see(txt.member, txt.member, "file", True, rmap.table)
        if any(norm_key(path).endswith("videolink") for _, path in self.run.seen):
            report.generation = "G0"

    def _other(self, txt: TxtFile) -> Batches:
        """A file no table reads: its blocks go to other_records under '<folder> / <file>'
        (not the member path, whose root folder is named after the export's time)."""
        section = f"{txt.folder} / {txt.stem}" if txt.folder else txt.stem
        records = 0
        with self.zf.open(txt.member) as fh:
            for blocks in self._blocks(txt.member, fh):
                records += len(blocks)
                yield from self.run.other(blocks, section)
        self.run.see(txt.member, txt.member, "file", False, OTHER, records)

    def _blocks(self, member: str, fh: BinaryIO) -> Iterator[list[dict]]:
        limit = self.zf.limits.max_value_bytes
        return read_blocks(fh, self.zf.name, member, max_value_bytes=limit, on_nul=self._count_nul)

    def _count_nul(self, n: int) -> None:
        self.run.report.nul_chars_removed += n

    def _dms(self, member: str, fh: BinaryIO) -> Batches:
        for partner, messages in read_dm_transcript(
            fh, self.zf.name, member, max_value_bytes=self.zf.limits.max_value_bytes, on_nul=self._count_nul
        ):
            yield from self.run.add_conversation(messages, partner, member, member, "file")
        yield from self.run.flush_conversations()


def normalize_archive(
    source: str | os.PathLike[str] | BinaryIO,
    ctx: NormalizeContext,
    *,
    report: NormalizeReport | None = None,
    batch_rows: int = 65_536,
    limits: ArchiveLimits | None = None,
) -> Iterator[tuple[str, pa.RecordBatch]]:
    """Yield ``(table name, RecordBatch)`` for every table found in the export zip ``source``.

    Each batch has at most ``batch_rows`` rows and exactly ``TABLES[name].schema``. Archive-level
    problems raise :class:`~tiktok_portability.archive.ArchiveError` (some before the first batch,
    stream-level ones such as malformed JSON while iterating: treat the archive as failed and
    discard what it yielded). Record-level problems are counted in ``report`` and loading goes on.

    A message's direction needs the profile's user name, which JSON exports list after the
    messages; until then they are held back (spilled to scratch files past a memory budget).
    """
    if batch_rows < 1:
        raise ValueError(f"batch_rows must be >= 1, got {batch_rows}")
    report = report if report is not None else NormalizeReport()
    with SafeZip(source, limits) as zf:
        report.archive = zf.name
        layout = locate_export(zf)
        report.format = layout.format
        report.member = layout.json_member
        log.info(
            "normalize start archive=%s format=%s member=%s open_id=%s request_id=%s",
            zf.name,
            layout.format,
            layout.json_member,
            fingerprint(ctx.open_id),
            ctx.request_id,
        )
        run = _Run(ctx, report, batch_rows, layout.json_member or "")
        reader = (
            _JsonReader(zf, layout.json_member, run) if layout.json_member else _TxtReader(zf, layout, run)
        )
        try:
            yield from reader.batches()
            yield from run.finish()
        finally:
            run.discard()
        log.info(
            "normalize done archive=%s rows=%s record_errors=%d",
            zf.name,
            sum(report.rows.values()),
            report.record_error_count,
        )
