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

A consumer that can drop what it took from an archive (the lake, a Parquet writer per table) gets
big exports faster with `normalize_archive_guessing(source, ctx, restart=callback, ...)`: direct
messages go out with a user name guessed from them instead of waiting for the profile, and if
the profile names someone else, `restart()` is called and the archive's batches start again
from the first (see "DM direction" below). `normalize_archive(..., user_name=...)` does the same
with a name the caller knows, and raises `UserNameRefuted` (with the profile's `user_name`) when
the profile disagrees.

Errors: archive-level problems raise a subclass of `ArchiveError` whose message names the
archive and the problem (`NotAZipError`, `TruncatedArchiveError`, `CorruptArchiveError`,
`UnsafeMemberError` for zip-slip names, `ArchiveTooLargeError`, `EncodingError`,
`MalformedJSONError`, `NoExportDataError`). Zip-level checks run before the first batch; problems
inside the stream (bad JSON, bad UTF-8, CRC) can surface after some batches, so a consumer must
treat the whole archive as failed and discard what it yielded (the lake commits atomically).
Record-level problems (a list item that is not an object, an unparseable date) are counted in
`report.record_errors` with their path and index, and the rest of the archive loads; a record
with an unparseable date is kept with a null timestamp and its raw text.

## Decisions

- **Streaming**: the JSON is walked with a small Python walker and decoded in ~1 MB slices by
  msgspec (C), cut at object boundaries; memory stays flat (about 300 MB peak RSS, the same at
  100 and 500 MB). Slices are decoded from memoryviews of the read buffer, turned into JSON lists
  in place (`[` and `]` written over the neighbouring bytes, then put back) rather than copied.
  Record lists decode into `msgspec.Struct`s learned from the list's first slice (one field per
  raw key; a slice with a new key falls back to dicts and widens the struct), value ends are
  found with msgspec's `Raw` decoder so nothing is decoded twice, and string cleaning, timestamps
  and video ids are computed per slice with Arrow kernels. Lineage and occurrence ordinals are
  added once per 65,536-row batch (ordinals depend only on row order), and DM conversations are
  built into columns together, up to 8,192 messages at a time (each build costs ~20 kernel calls
  whatever its size, and exports can hold thousands of short conversations). Numbers:
  `docs/benchmarks.md`.
- **Columns straight from the JSON bytes**: a typed slice of 64 KB or more whose records all
  hold exactly the learned keys, in one order, with string values (watch history, messages:
  nearly all of a big export) is not decoded into Python objects at all
  (`tiktok_portability.archive.string_records`). numpy finds the unescaped `"` (four per key
  per record), one Arrow string array is laid over the slice's own bytes (separator, value,
  separator, ...), every separator of a key position must equal the first one (all taken out
  in one call and compared with those repeated) and that one must match the JSON grammar,
  the slice must be valid UTF-8 with no raw control character inside a string, and values
  holding a backslash are decoded by msgspec in one call and placed by the same take as the
  others (appended after the slice's parts). Escaped quotes are found from the backslash runs (a
  few hundred per slice), not by looking behind every quote: with both, a pass over the 100 MB
  export's conversations went from 1,007 M to 881 M instructions (callgrind). Anything else (a
  null or number, a missing, extra or reordered key, bad bytes) returns None and the slice goes to the msgspec
  struct, so values and errors are unchanged:
  tests compare the two paths on every value, on escapes of all kinds and on every single-byte
  corruption of a document, and the bench archives' Parquet files are byte-identical. Per 1 MB
  slice of watch history: 1.35 ms against 2.4 ms for structs, picking and `pa.array`; a 300 KB
  conversation with escapes: 1.15 against 1.17 ms. On 500 MB (five alternating runs) the main
  thread ran 3.42 s against 4.18 s and the process used 6.5 against 7.4 CPU s. Measured and
  dropped: `polars.read_json` on the same slices (2.5-2.7 ms per 1 MB, a 35 MB dependency).
  Because it accepts only a whole list, it is also what ends a list: the stream hands it the
  list up to the first `]` and, if that is refused (the `]` sat in a string), finds the end
  with msgspec's `Raw` decoder as before; that pass used to cost ~0.25 ms per 300 KB
  conversation.
- **Groups of 65,536 rows are not concatenated**: lineage and ordinals are computed per group,
  then sliced to the slices the group is made of, and the batches go out as they came (the
  Parquet sink makes row groups of many batches). Copying every column of every group cost ~5
  ms per group in a big archive. Instruction counts (`valgrind --tool=callgrind`, 20 MB archive,
  imports subtracted; deterministic where this VM's timings are not): 2.25 G at the start of
  this round, 2.12 G with the columnar decoder, 2.07 G with ISA-L, 1.97 G without the copies,
  1.93 G without the end-finding pass.
- **Cheap kernels for the common shapes**: when a slice's links all share one ASCII prefix
  ending in `/video/` (TikTok's share links do), the id is a byte slice at a fixed offset (4 ms
  per 65,536 links against 15 ms for finding `/video/` in each); values of exactly 19 characters
  are read by Arrow's ISO-8601 cast (1.5 ms against 5.5 ms for strptime), with strptime for
  anything the cast refuses; the placeholder lookup is skipped when no value is short enough to
  be one; ids that all fit int64 (the largest sorts at or below int64's maximum) convert with
  one cast. Struct values are picked by a comprehension compiled per attribute (CPython
  specialises `r.f1` in it: 2x `map(attrgetter("f1"), ...)`). Tests compare each fast path with
  the regex or strptime-only answer. The trim is skipped when no value's first byte can begin
  and no last byte can end a space (two bytes per value looked up in tables built from the
  code points both `str.strip()` and the kernel trim), and the shortest length comes from the
  offsets: on the 298,000 values of the 20 MB export's columnar slices, 16 -> 12 ms and 52 M
  fewer instructions. (An earlier form of the check, measured on links alone, cost more than
  the trim: 91 vs 80 us per 8,000 links.)
- **Two cores, helper threads** (`tiktok_portability.background`): members of 16 MB and more are
  inflated (and CRC-checked) on a read-ahead thread, and each Parquet sink encodes its
  65,536-row groups on a write-behind thread, with up to four groups queued (a burst no longer
  stalls decoding); zlib and Parquet release the GIL, so both overlap the decoding. Closing
  writes every sink's last row group at once (`close_all`) rather than one table after another
  (~8% on 100 MB). Parquet uses zstd level 1 (faster and smaller than level 3 on this data) and
  dictionaries only for text and dates that repeat (timestamps, ids, links and raw timestamp
  text are nearly unique: a dictionary there cost a third of watch history's write time and
  saved no bytes).
- **Not pyarrow.json**: turning each list slice into newline-delimited JSON (the pretty-printed
  separator `},\\n` cannot occur inside a JSON string) for `pyarrow.json.read_json` gives Arrow
  columns without Python objects and without the GIL. Measured twice and rejected: on the 100 MB
  export it cost 0.55 s of parsing plus 0.22 s of separator rewriting against 0.46 s for msgspec
  structs + picking + `pa.array`. Tried again as a helper: a thread parsing watch history's
  slices with `pyarrow.json` (one GIL-free call per slice, the slice wrapped as `{"i":[...]}`
  with an explicit schema) while the main thread finds slice ends with the `Raw` decoder and runs
  the kernels: best 0.35 s against 0.41 s for watch history alone, median 0.41 against 0.45,
  for 17% more CPU and a second decoder whose corner cases (escapes, invalid UTF-8, numbers in
  text fields) must match msgspec's. Not worth it for ~5% of a whole export.
- **Why not 5x the naive engine**: on the 100 MB export the normalizer takes ~0.8 s of wall time
  and ~1.15 CPU s (best runs; ~0.95 s before this round's queueing and picking changes). The main
  thread is busy nearly all the time with per-record Python object work that holds the GIL:
  msgspec decoding (~0.3 s), picking values and `pa.array` (~0.2 s), and the Arrow kernels it
  calls (~0.25 s); the other core carries inflation (~0.15 s) and Parquet encoding (~0.35 s) and
  is idle half the time. 5x needs ~0.7 s. A third thread cannot take the kernels: each of their
  ~20 calls per batch must win the GIL back from a thread that sits inside msgspec or `pa.array`.
  Measured: handing every big slice's cleaning, timestamps and video ids to a finisher thread
  moved ~0.29 s of work off the main thread, and the main thread spent about as long again waiting
  for the GIL (eight alternating runs: best 0.90 s against 0.88 s, median 1.10 s against 0.99 s;
  no better with a 0.5 ms switch interval). A thread that ran the JSON walk ahead of the consumer
  made the run slower too (1.53-1.90 s against 1.33-1.51 s, five alternating runs), and a longer
  GIL switch interval (20-100 ms) gave nothing consistent (100 MB median 0.92-1.00 s against 1.04
  s, 500 MB 4.25 against 4.11 s). A second process per table (watch history here, messages there)
  must inflate and skip the whole member too, and its batches come back over a pipe: by the
  measured costs the two cores would carry ~1.6 CPU s per 100 MB, no faster than now. Measured
  again on 500 MB with the kernel's per-thread scheduler counters (`/proc/self/task/<id>/
  schedstat`, median of six): the main thread ran 3.31 s of 3.96 s, waited 0.40 s for a core
  (inflating and Parquet threads on both) and slept 0.24 s (GIL hand-offs, queues); the process
  used 5.8 CPU s on two cores. Lowering the helpers' priority (nice 19) cut the wait for a core
  to 0.12 s but the main thread then slept 0.53 s on a GIL held by a descheduled helper (4.28 s
  against 3.96 s). Cheaper helpers did not move the wall time: inflating with ISA-L (2.5x faster,
  0.24 against 0.61 CPU s) or with a leaner reader than `zipfile`, and reading 2 or 4 MB per
  chunk instead of 1, were within noise over eight to ten alternating 100 MB runs; not writing
  Parquet at all left 500 MB at 3.44-4.63 s against 3.89-4.52 s (three runs each), so Parquet
  without statistics (-0.13 CPU s) or with lz4 (-0.15 CPU s, 1.7x the bytes) cannot pay for
  itself. So the bound was the main thread's own ~3.3 s of per-record work. Building the
  columns straight from the JSON bytes (above) took about a fifth of it away: over five
  alternating 500 MB runs the main thread ran 3.42 against 4.18 s, the process used 6.5 against
  7.4 CPU s, and the wall time fell less (4.46 against 4.87 s median), because the run is now
  bounded by both cores together: the main thread waits ~0.6 s for a core while inflation and
  Parquet encoding run on both. Measured again after it: 4 MB chunks (4.87 against 5.21 s
  median, the same best time: left out) and ISA-L inflation, now used (`isal`, swapped into
  zipfile's reader, which still checks headers and CRC): the read-ahead thread's CPU fell from
  1.08-1.26 to 0.79-0.89 s per 500 MB over four alternating runs while the wall time moved
  within this VM's noise; CPU is what a worker normalizing several archives at once runs out
  of. Pinning the main thread and the helpers to separate cores, and one helper thread for both
  inflating and Parquet (it fell behind: 6.0-6.6 against 4.4-5.8 s), did not help. A second process would
  still carry its own inflation and walk, and a decoder for the remaining per-slice kernels
  would be a compiled extension of our own (a build toolchain at install time), which this
  project does not take on. Until session "stop 12" the benchmark also counted pyarrow's
  one-time import of pandas (0.36 s, on a process's first `pa.array`) in our time and not in the
  naive engine's; imported before the clock, 500 MB runs at 5.34-5.43x the naive engine (median
  of three rounds), 4.8x in the VM's slow phases.
- **DM direction** needs the profile's `userName`, which sorts after the DMs in JSON exports. DM
  batches met before the profile are held back (in memory up to 32 MB, then in an Arrow IPC
  scratch file in the system temp dir, so memory stays flat) and released with their direction
  once the profile is read, two after each batch of another table: released all at once, a few
  hundred MB of messages filled the Parquet queue and stalled decoding (0.34 s on 500 MB). The
  spill file is written, read back and removed on background threads (`background.WriteBehind`
  and `ReadAhead`; Arrow IPC releases the GIL), and read into memory, not mapped (a mapping kept
  its pages resident: peak RSS 400 MB instead of 300; the lake's staged rows had the same
  problem, 642 MB on 500 MB, now 293 MB). The JSON is read once (a second pass used to cost ~15%
  of the time). So `dm_messages` batches may come after other tables' batches; row order within
  the table is unchanged. TXT exports read the profile file first. The hold has a cost: while
  the messages of a 500 MB export (its first 40%) are decoded, their Parquet cannot be written
  and the second core idles (~1.1 cores busy for ~1.3 s). So the lake (and the benchmark) guess
  the name (`normalize_archive_guessing`): once a full batch of messages has exactly one sender
  who is not the conversation's partner, seen in two or more conversations, messages go out at
  once with their direction by that name. The profile has the last word: if it names someone
  else, or there is none, `UserNameRefuted` is raised, the caller drops the archive's rows
  (`restart`) and it is normalized again with the profile's name, so the rows are always those
  of the hold. A second sender who is not the partner (a group chat) ends the guessing. A right
  guess made 500 MB 17-20% faster (three alternating pairs, 4.9-5.1 s against 3.7-4.1 s); a
  wrong one costs a second pass. A background scout that inflated the member a second time
  and found the profile with a numpy scan of quotes and brackets (0.48 s alone for 200 MB)
  reached it only after 0.67-1.17 s beside the decoding, and five alternating pairs ran
  0.88-1.23x the time without it: left out.
- **Small slices** (<= 256 rows) clean strings, extract video ids, build key strings and
  filter events against the watermark in Python instead of Arrow kernels (each kernel call costs
  ~15 us, which dominated tiny archives); the results are the same (tests compare both paths;
  `str.strip()` trims exactly the code points `utf8_trim_whitespace` trims). Per small archive
  the lake path went from 50.4 M to 31.7 M instructions (docs/benchmarks.md, "stop 12"), most of
  it fixed costs per table: Python objects per schema field, hashing specs, `nbytes`, batches
  built and taken apart again, a second pass over change-log rows, system calls.
- **video_id is int64**: 19-digit ids starting with 6/7 fit; ids that would overflow are null.
  It comes from `/video/<digits>` in the link (DMs: in the content; comments: in the url).
- **Keys**: event keys include `link` next to `video_id`, so non-video links stay distinct.
  `occurrence` numbers repeats of the same key within a run of equal timestamps (exports are
  sorted by time and complete, so ordinals are stable night to night; memory stays bounded).
- **posts is a snapshot**: like counts and settings change nightly and posts can be deleted.
  `blocked_users` is a snapshot too (blocks can be lifted).
- **Placeholders** `""`, `"None"`, `"N/A"`, `"null"` become null in every column; numbers given
  as strings (`"42"`, `"1,234"`) become int64.
- **Unknown data is kept**: unmapped profile/post fields go to `extra` (JSON); every section, list
  and record field (and TXT file) appears in `sections_seen` with `mapped`; DM partner names and
  other data-valued keys are shown as `*` there.
- **Generations** are detected from the top-level keys (G3: `Likes and Favorites` /
  `Profile And Settings`; G2: `Your Activity`; G1: `Activity`; G0: G1 with `VideoLink`); each
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
