"""Normalization benchmark: our streaming normalizer vs a naive pandas baseline vs DuckDB.

    python bench/normalize.py                                  # 100 MB + 500 MB large, 1,000 small
    python bench/normalize.py --large-mb 20 50 --small 100     # a quick run
    python bench/normalize.py --large-mb 500 --small 0 --repeat 5   # medians, per-round ratios

Inputs come from the emulator's generator (tiktok_portability.synth, G2 JSON layout, mostly watch
history and direct messages) and are cached under .bench/normalize/. Each (engine, input) runs in
its own subprocess so peak RSS (ru_maxrss) is that engine's alone. Throughput is MB of
uncompressed archive JSON per second of wall time, including unzipping and writing Parquet.
With --repeat N the engines take turns N times per shape; the medians are printed (with the
range of times), and for each baseline its time over ours and over the lake path within each
round (a machine whose speed drifts over minutes then moves both sides of a ratio alike).

Engines:
  ours    tiktok_portability.normalize.normalize_archive -> one Parquet file per table (streaming)
  lake    the whole lake path: raw zone put + Lake.normalize_batch (checksum, incremental, commit)
  naive   zipfile + json.load + pandas.json_normalize per record list + DataFrame.to_parquet
  duckdb  extract the JSON, read_json into DuckDB, COPY every record list to Parquet
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENGINES = ("ours", "lake", "naive", "duckdb")
SMALL_SIZE = "tiny"
WIDTHS = (8, 8, 7, 10, 11)
# Imported before the clock starts: import time is not throughput. pandas is on every pyarrow
# engine's list because pyarrow imports it (when installed) on the first pa.array() call of a
# process, ~0.36 s measured, which the naive engine's own import already pays.
PRELOAD = {
    "ours": ("pandas", "pyarrow.parquet", "tiktok_portability.normalize", "tiktok_portability.lake.files"),
    "lake": ("pandas", "pyarrow.parquet", "tiktok_portability.normalize", "tiktok_portability.lake"),
    "naive": ("pandas", "pyarrow.parquet"),
    "duckdb": ("duckdb",),
}


# -- inputs -------------------------------------------------------------------------------------


def _generate(path: Path, open_id: str, seed: int, target_bytes: int | None) -> dict:
    from tiktok_portability.synth import UserSpec, write_archive

    meta_path = path.with_suffix(".json")
    if path.is_file() and meta_path.is_file():
        return json.loads(meta_path.read_text())
    spec = UserSpec(
        open_id=open_id,
        seed=seed,
        generation="G2",
        txt_variant="en_new",
        size=SMALL_SIZE,
        target_bytes=target_bytes,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    info = write_archive(spec, version=1, data_format="json", categories=["all_data"], sink=str(path))
    meta = {
        "path": str(path),
        "open_id": open_id,
        "zip_bytes": info.bytes_written,
        "json_bytes": info.uncompressed_bytes,
    }
    meta_path.write_text(json.dumps(meta))
    return meta


def large_input(folder: Path, mb: int) -> list[dict]:
    return [_generate(folder / f"large-{mb}mb.zip", f"bench-large-{mb}", 1, mb * 1_000_000)]


def small_inputs(folder: Path, count: int) -> list[dict]:
    return [
        _generate(folder / "small" / f"{i:05d}.zip", f"bench-small-{i:05d}", i, None) for i in range(count)
    ]


# -- engines (run in a worker subprocess) -------------------------------------------------------


def run_ours(inputs: list[dict], out: Path) -> int:
    from datetime import date

    from tiktok_portability.lake.files import ParquetSink, close_all
    from tiktok_portability.normalize import TABLES, NormalizeContext, NormalizeReport, normalize_archive

    rows = 0
    for n, item in enumerate(inputs):
        sinks: dict[str, ParquetSink] = {}
        ctx = NormalizeContext(open_id=item["open_id"], request_id=n, snapshot_date=date(2026, 1, 1))
        for table, batch in normalize_archive(
            Path(item["path"]), ctx, report=NormalizeReport(), batch_rows=65_536
        ):
            sink = sinks.get(table)
            if sink is None:
                sink = sinks[table] = ParquetSink(out / str(n) / f"{table}.parquet", TABLES[table].schema)
            sink.write(batch)
        close_all(sinks.values())
        rows += sum(sink.rows for sink in sinks.values())
    return rows


def run_lake(inputs: list[dict], out: Path) -> int:
    from tiktok_portability.lake import Lake

    lake = Lake.from_uri(str(out / "lake"))
    refs = [lake.raw.put_archive(i["open_id"], "2026-01-01", n, i["path"]) for n, i in enumerate(inputs)]
    rows = 0
    for start in range(0, len(refs), 100):  # batches of 100 users, as the nightly DAG maps them
        result = lake.normalize_batch(refs[start : start + 100], "2026-01-01")
        if result.errors:
            raise SystemExit(f"lake engine failed: {result.errors[0].reason}")
        rows += sum(result.rows.values())
    return rows


def _json_member(zf: zipfile.ZipFile) -> str:
    return next(n for n in zf.namelist() if n.endswith(".json"))


def _record_lists(node, path=()):
    """Every list of objects in a JSON document, with its path."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _record_lists(value, (*path, key))
    elif isinstance(node, list) and node and all(isinstance(x, dict) for x in node):
        yield path, node


def run_naive(inputs: list[dict], out: Path) -> int:
    import pandas as pd

    rows = 0
    for n, item in enumerate(inputs):
        with zipfile.ZipFile(item["path"]) as zf, zf.open(_json_member(zf)) as fh:
            doc = json.load(fh)
        for i, (_path, records) in enumerate(_record_lists(doc)):
            frame = pd.json_normalize(records)
            target = out / str(n) / f"{i}.parquet"
            target.parent.mkdir(parents=True, exist_ok=True)
            frame.astype(str).to_parquet(target)
            rows += len(frame)
        del doc
    return rows


def _struct_lists(dtype, path=()):
    """Paths of LIST(STRUCT) columns inside a DuckDB type."""
    kind = dtype.id
    if kind == "struct":
        for name, child in dtype.children:
            yield from _struct_lists(child, (*path, name))
    elif kind == "list" and dtype.child.id == "struct":
        yield path


def _quote(path) -> str:
    return ".".join('"' + p.replace('"', '""') + '"' for p in path)


def run_duckdb(inputs: list[dict], out: Path) -> int:
    import duckdb

    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    rows = 0
    for n, item in enumerate(inputs):
        folder = out / str(n)
        folder.mkdir(parents=True)
        with zipfile.ZipFile(item["path"]) as zf:
            extracted = Path(zf.extract(_json_member(zf), folder / "json"))
        con.execute(
            "CREATE OR REPLACE TABLE doc AS SELECT * FROM read_json(?, maximum_object_size=2147483647)",
            [str(extracted)],
        )
        groups: dict[tuple, list[tuple]] = {}
        for name, dtype in zip(*_columns(con), strict=True):
            for path in _struct_lists(dtype, (name,)):
                # Direct messages are one list per conversation: copy them as one table.
                parent = path[:-1] if path[-2:-1] == ("ChatHistory",) else path
                groups.setdefault(parent, []).append(path)
        for i, paths in enumerate(groups.values()):
            union = " UNION ALL BY NAME ".join(
                # identifiers come from the document's own inferred schema and are quoted
                f"SELECT unnest({_quote(p)}, recursive := true) FROM doc"  # noqa: S608
                for p in paths
            )
            target = folder / f"{i}.parquet"
            count = con.execute(f"COPY ({union}) TO '{target}' (FORMAT parquet)").fetchall()
            rows += int(count[0][0]) if count else 0
    return rows


def _columns(con):
    rel = con.sql("SELECT * FROM doc")
    return rel.columns, rel.types


def worker(engine: str, inputs_file: Path, out: Path) -> None:
    inputs = json.loads(inputs_file.read_text())
    for module in PRELOAD[engine]:
        importlib.import_module(module)
    started = time.perf_counter()
    rows = {"ours": run_ours, "lake": run_lake, "naive": run_naive, "duckdb": run_duckdb}[engine](inputs, out)
    seconds = time.perf_counter() - started
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    print(json.dumps({"seconds": seconds, "rows": rows, "peak_rss_mb": rss_mb}))


# -- driver -------------------------------------------------------------------------------------


def measure(engine: str, label: str, inputs: list[dict], folder: Path, scratch: Path) -> dict:
    """One engine on one input in a subprocess; its output stays in ``scratch`` (see main)."""
    listing = folder / f"inputs-{label}.json"
    listing.write_text(json.dumps(inputs))
    out = Path(tempfile.mkdtemp(prefix=f"{engine}-", dir=scratch))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "include")}
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", engine, "--inputs", str(listing), "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        return {"engine": engine, "shape": label, "error": (proc.stderr.strip().splitlines() or ["?"])[-1]}
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    mb = sum(i["json_bytes"] for i in inputs) / 1e6
    result.update(engine=engine, shape=label, json_mb=mb, mb_per_s=mb / result["seconds"])
    result["archives_per_s"] = len(inputs) / result["seconds"]
    return result


def _print_row(label: str, engine: str, r: dict, note: str = "") -> None:
    print(
        f"{label:<14} {engine:<7} {r['json_mb']:>8.1f} {r['seconds']:>8.2f} {r['mb_per_s']:>7.1f} "
        f"{r['archives_per_s']:>10.1f} {r['peak_rss_mb']:>11.0f}" + (f"  ({note})" if note else ""),
        flush=True,
    )


def _median_run(runs: list[dict]) -> dict:
    """The run with the median time (the upper one of an even count), with the highest peak RSS."""
    ordered = sorted(runs, key=lambda r: r["seconds"])
    return {**ordered[len(ordered) // 2], "peak_rss_mb": max(r["peak_rss_mb"] for r in runs)}


def _print_ratios(label: str, runs: dict[str, list[dict]]) -> None:
    """Per round, each baseline's time over each of our engines: both ran within a minute or two."""
    for mine in ("ours", "lake"):
        times = {r["round"]: r["seconds"] for r in runs.get(mine, []) if "error" not in r}
        for engine in ("naive", "duckdb"):
            ratios = sorted(
                r["seconds"] / times[r["round"]]
                for r in runs.get(engine, [])
                if "error" not in r and r["round"] in times
            )
            if ratios:
                print(
                    f"{label:<14} {mine} vs {engine}: {ratios[len(ratios) // 2]:.2f}x median of "
                    f"{len(ratios)} round(s) (min {ratios[0]:.2f}x, max {ratios[-1]:.2f}x)",
                    flush=True,
                )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--large-mb", type=int, nargs="*", default=[100, 500], help="sizes of the large archives"
    )
    parser.add_argument("--small", type=int, default=1000, help="number of small archives (0 to skip)")
    parser.add_argument(
        "--engines", default=",".join(ENGINES), help="comma-separated subset of " + ",".join(ENGINES)
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="rounds per shape; prints medians and per-round ratios"
    )
    parser.add_argument("--dir", type=Path, default=ROOT / ".bench" / "normalize", help="inputs and scratch")
    parser.add_argument("--worker", choices=ENGINES, help=argparse.SUPPRESS)
    parser.add_argument("--inputs", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat must be at least 1, got {args.repeat}")
    if args.worker:
        worker(args.worker, args.inputs, args.out)
        return 0
    args.dir.mkdir(parents=True, exist_ok=True)
    # Every engine's output is removed at the end, not after each run: on a filesystem such as
    # ext4 without a journal, each file created within minutes of a mass deletion scans past the
    # deleted inodes, and one engine's clean-up would slow the next one's file creation (up to
    # 4.5 ms per small archive of the lake path here; docs/benchmarks.md, "stop 14").
    scratch = Path(tempfile.mkdtemp(prefix="scratch-", dir=args.dir))
    try:
        return _run(args, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _run(args: argparse.Namespace, scratch: Path) -> int:
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    shapes = [(f"large-{mb}MB", large_input(args.dir, mb)) for mb in args.large_mb]
    if args.small:
        shapes.append((f"small-x{args.small}", small_inputs(args.dir, args.small)))
    results = []
    header = ("shape", "engine", "JSON MB", "seconds", "MB/s", "archives/s", "peak RSS MB")
    print(
        f"{header[0]:<14} {header[1]:<7} "
        + " ".join(f"{h:>{w}}" for h, w in zip(header[2:], WIDTHS, strict=True))
    )
    for label, inputs in shapes:
        runs: dict[str, list[dict]] = {e: [] for e in engines}
        for round_ in range(args.repeat):
            # Engines take turns, in a rotating order: a slow phase of the machine hits them all.
            for engine in engines[round_ % len(engines) :] + engines[: round_ % len(engines)]:
                r = measure(engine, label, inputs, args.dir, scratch)
                r["round"] = round_
                results.append(r)
                runs[engine].append(r)
                if "error" in r:
                    print(f"{label:<14} {engine:<7} failed: {r['error']}")
                elif args.repeat == 1:
                    _print_row(label, engine, r)
        if args.repeat > 1:
            for engine in engines:
                ok = [r for r in runs[engine] if "error" not in r]
                if ok:
                    times = sorted(r["seconds"] for r in ok)
                    note = f"median of {len(ok)}, {times[0]:.2f}-{times[-1]:.2f} s"
                    _print_row(label, engine, _median_run(ok), note=note)
        _print_ratios(label, runs)
    (args.dir / "results.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
