"""Render docs/tables.md from TABLES: ``python -m tiktok_portability.normalize.docs > docs/tables.md``."""

from __future__ import annotations

from tiktok_portability.normalize.tables import TABLES

INTRO = """# Tables

Generated from `tiktok_portability.normalize.TABLES` by
`python -m tiktok_portability.normalize.docs > docs/tables.md` (a test fails when this file is stale).

## Using the normalizer

```python
from tiktok_portability.normalize import TABLES, NormalizeContext, NormalizeReport, normalize_archive

ctx = NormalizeContext(open_id="u-1", request_id=123, snapshot_date=datetime.date(2026, 1, 12))
report = NormalizeReport()
for table, batch in normalize_archive("export.zip", ctx, report=report, batch_rows=65_536):
    ...  # batch.schema == TABLES[table].schema (metadata included)
report.rows, report.generation, report.format, report.record_errors, report.sections
```

`source` is a path or a seekable binary file. `limits=ArchiveLimits(...)` (from
`tiktok_portability.archive`) tunes the zip-bomb guards: `max_member_bytes` (8 GiB),
`max_total_bytes` (16 GiB), `max_ratio` (200, for members above `ratio_grace_bytes` = 1 MiB),
`max_members` (10,000).

Errors: archive-level problems raise a subclass of `ArchiveError` whose message names the
archive and the problem (`NotAZipError`, `TruncatedArchiveError`, `CorruptArchiveError`,
`UnsafeMemberError` for zip-slip names, `ArchiveTooLargeError`, `EncodingError`,
`MalformedJSONError`, `NoExportDataError`). Zip-level checks run before the first batch; problems
inside the stream (bad JSON, bad UTF-8, CRC) can surface after some batches, so a consumer must
treat the whole archive as failed and discard what it yielded (the lake commits atomically).
Record-level problems (a list item that is not an object, an unparseable date) are counted in
`report.record_errors` with their path and index (all of them by section in
`report.record_errors_by_section`), and the rest of the archive loads; a record with an
unparseable date is kept with a null timestamp and its raw text, an item that is not an object is
kept in `other_records`. A JSON member holding its document twice (an export bug) loads the first
copy; `report.repeated_document_at` says where the second begins. `NormalizeContext.known_user_name`
(the user name of the user's latest profile in the lake) gives messages their direction when the
export has no profile; `report.user_name_source` says whether the name came from the archive, the
lake or nowhere.

## Decisions

- **Streaming, memory flat**: the JSON is walked by a small Python walker and decoded by msgspec
  in ~1 MB slices cut at object boundaries, from memoryviews of the read buffer (a slice becomes
  a JSON list in place: `[` and `]` written over the neighbouring bytes, then put back). Peak RSS
  stays near 300 MB at 100 and 500 MB. Members of 16 MB and more are inflated on a read-ahead
  thread and each Parquet sink encodes on a write-behind thread (`tiktok_portability.background`):
  zlib and Parquet release the GIL, so the second core works beside the decoding.
- **Typed slices**: a record list's first slice arrives as dicts; its keys become a
  `msgspec.Struct` (one optional field per raw key) and later slices decode into it, 2-3x faster
  than dicts. A slice with a new key is refused by the struct, read as dicts and widens it, so
  values never differ, only their container.
- **Columns straight from the JSON bytes** (`tiktok_portability.archive.string_records`), the one
  fast path the budget in `docs/benchmarks.md` needs (500 MB on the lake path: 5.4 s with it, 6.3
  s without, three alternating runs): a slice of 64 KB or more whose records all hold exactly the
  learned keys, in one order, with string values (watch history, messages: nearly all of a big
  export) is cut into Arrow columns from the positions of its unescaped quotes. Every separator
  must match the JSON grammar, the bytes must be valid UTF-8 without raw control characters in
  strings, and values with escapes are decoded by msgspec; anything else returns None and the
  slice goes to the struct decoder. It sits behind one seam, `normalize.shapes`: the rest of the
  normalizer reads records only through `all_keys`, `all_objects`, `as_dicts`, `concat` and
  `pick`. Tests compare both paths value by value, on escapes and on every single-byte corruption.
- **One path per kernel**: string cleaning, timestamps and video ids run as Arrow kernels over
  the whole slice whatever its size; lineage and occurrence ordinals are added once per
  65,536-row batch, and DM conversations are built into columns together, up to 8,192 messages
  at a time (each build costs ~20 kernel calls whatever its size). Video ids are the one
  exception (`normalize.video_ids`): links that share one ASCII prefix ending in `/video/` are
  sliced at a fixed offset instead of searched by the regex, which over every link of the 500 MB
  export cost the main thread 1.1-1.3 CPU s more; a test holds both against each other.
- **DM direction** needs the profile's `userName`, which JSON exports list after the messages.
  Messages met before the profile are held (in memory up to 32 MB, then in an Arrow IPC scratch
  file written and read back on background threads) and go out with their direction once the
  profile is read, two after each batch of another table so a burst does not stall decoding.
  So `dm_messages` batches may come after other tables' batches; row order within the table is
  unchanged. TXT exports read the profile file first. Without a profile (a messages-only grant)
  the lake's latest profile names the user; direction is null only when the lake has none either.
  A line without a sender (a deleted account) is a message with a null sender, received; a
  conversation whose partner TikTok did not name (`Chat History with ::`) has a null
  `conversation`. Message text is kept exactly, trailing spaces included.
- **video_id is int64**: 19-digit ids starting with 6/7 fit; ids that would overflow are null.
  It comes from `/video/<digits>` in the link (DMs: in the content; comments: in the url).
- **Keys**: event keys include `link` next to `video_id`, so non-video links stay distinct.
  `occurrence` numbers repeats of the same key within a run of equal timestamps (exports are
  sorted by time and complete, so ordinals are stable night to night). It is unique per key
  whatever the order: lists are not always in order (a transcript can go back in time, undated
  records are scattered), so a run whose timestamp came before numbers on from the rows that
  timestamp already had. That costs 16 bytes per distinct timestamp of a table (row counts kept
  as sorted hash arrays); an ordered list numbers every run from 0.
- **Empty is not absent**: a list key that is present with `null`, `{}`, `[]` or a placeholder
  string (`"None"`, `"N/A"`, `""`) is a present, empty list: its table is in the batch's
  `tables_present`, so an empty follower list after 3 followers is 3 unfollows. Only a missing key
  means "not in this export" (no change). A TXT file with a "no data" sentence is present too.
- **Undated records**: TikTok writes `1969-12-31 23:59:59` (in any spelling of that instant) for
  events it has no date for. They get a null timestamp with the raw text, are not parse errors,
  and the lake matches them by key alone, loading each the night it first appears.
- **Nothing lost, by construction**: every item of a list no typed table holds (off-TikTok
  activity, device status, live comments, reposts, sections TikTok adds later, and items of typed
  lists that are not records) is a row of `other_records`, its record as JSON text. A test over
  every fixture and generated layout holds that the list items of an archive equal the rows of
  the typed tables plus the rows of `other_records`. `report.other_records` and
  `report.record_errors_by_section` count them by section for the run summary and
  `transfers list`.
- **posts is a snapshot**: like counts and settings change nightly and posts can be deleted.
  `blocked_users` is a snapshot too (blocks can be lifted).
- **Placeholders** `""`, `"None"`, `"N/A"`, `"null"` become null in every column; numbers given
  as strings (`"42"`, `"1,234"`) become int64.
- **Unknown data is kept**: unmapped profile/post fields go to `extra` (JSON); every section, list
  and record field (and TXT file) appears in `sections_seen` with `mapped`; DM partner names and
  other data-valued keys are shown as `*` there.
- **Generations** are detected from the top-level keys (G3: `Likes and Favorites` /
  `Profile And Settings`; G2: `Your Activity`; G1: `Activity`; G0: G1 with `VideoLink`), and for
  a partial export from its other keys (`Video`, `Direct Messages`, `Profile Information`: G1;
  `Post`, `Direct Message`, `Profile Info`: G2), else `partial`; each
  section is still resolved on its own through all known paths. TXT files are recognised by
  base name (English old/new, en-GB spellings and Dutch); the variant is in `report.txt_variant`.

## Conventions

Every table starts with the lineage columns `open_id`, `request_id` and `snapshot_date`.
Timestamps are `timestamp[s, tz=UTC]` with the export's text kept beside them in `<name>_raw`.
`schema_version` is per table; it is also stored in the Arrow schema metadata
(`tiktok_portability.schema_version`), and so in every Parquet footer.

Kinds: **event** rows are facts that happened once; the `key` (with `occurrence`) identifies one
event across nightly exports, so a lake appends only new keys. **snapshot** rows describe state on
`snapshot_date`. **report** rows describe the export itself.
"""


def render() -> str:
    out = [INTRO]
    for spec in TABLES.values():
        out.append(f"## `{spec.name}`\n")
        out.append(f"{spec.description}\n")
        out.append(f"- kind: **{spec.kind}**")
        out.append(f"- key: `{', '.join(spec.key)}`")
        out.append(f"- schema_version: {spec.schema_version}\n")
        out.append("| column | type | meaning |")
        out.append("| --- | --- | --- |")
        for field in spec.schema:
            meaning = (field.metadata or {}).get(b"description", b"").decode()
            out.append(f"| `{field.name}` | `{field.type}` | {meaning} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    print(render(), end="")
