"""How the nightly sync's costs grow with the user count and the nights (state store and lake only).

    python bench/scale.py                                # 1,000 and 10,000 users; lake: 500 users (~4 min)
    python bench/scale.py --users 100000 --lake-users 0 --retention-users 0     # the 100,000-user plan
    python bench/scale.py --users 0 --lake-users 0 --retention-users 200     # raw zone over 60 nights

Three parts, each skipped with a count of 0:

1. **A night of N users** (``--users``, each N in a fresh process so its peak RSS is its own): a
   SQLite state store holding N active grants (bulk-inserted, tokens valid) and a local lake. The
   real ``plan_run`` (seconds, peak RSS of the process), then the real ``submit_batch``,
   ``download_batch`` and ``normalize_batch`` steps of sampled batches (first, middle, last) with
   a stand-in TikTok client (no HTTP: an add returns a new request id, a download copies a small
   generated export) and readiness applied as a webhook would (one transition per user); the other
   batches' transfers are bulk-inserted as normalized so ``summarize_run`` sees a whole night.
   Prints XCom sizes (each task's JSON return value) and state-store statements per batch and per
   step (SQLAlchemy cursor executions, BEGIN/COMMIT included).
2. **Lake growth per night** (``--lake-users`` users, batches of ``--batch-size``): real generated
   exports through the raw zone and ``Lake.normalize_batch``: night 1 (first sync), night 2 (the
   history grew), night 3 quiet (the same export again). Files and bytes added per night by area
   (raw, tables, ledger, manifests), bytes per user, and the files a night adds at 100,000 users
   (from the per-user and per-batch counts: they are linear).
3. **The raw zone over 60 nights with retention** (``--retention-users``, ``--retention-days``):
   one export per user per night into the raw zone (the tables play no part), a tenth of the users
   stop syncing on night 20, and ``Lake.apply_retention`` after every night: raw bytes and
   archives night by night, against what the zone would hold without retention.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "include"), str(ROOT)]

NIGHT = date(2026, 3, 1)
POOL = 16  # distinct small exports the stand-in client hands out in part 1


def _rss_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _json_size(value: Any) -> int:
    return len(json.dumps(value, default=str).encode())


def _export(folder: Path, user: str, seed: int, version: int) -> Path:
    from tiktok_portability.synth import UserSpec, write_archive

    path = folder / f"{user}-v{version}.zip"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        spec = UserSpec(open_id=user, seed=seed, generation="G2", size="tiny")
        write_archive(spec, version=version, data_format="json", categories=["all_data"], sink=str(path))
    return path


# -- part 1: one night of N users ----------------------------------------------------------------


def _build_store(db: Path, users: int, key: str) -> None:
    """N active grants with valid tokens: one real upsert, its encrypted columns copied N times."""
    import sqlalchemy as sa

    from tiktok_portability import clock
    from tiktok_portability.client.models import TokenSet
    from tiktok_portability.redact import Secret
    from tiktok_portability.state import StateStore
    from tiktok_portability.state.tables import grants

    store = StateStore.from_url(f"sqlite:///{db}", fernet_keys=[key])
    now = clock.utcnow()
    tokens = TokenSet(
        open_id="template",
        scopes=["portability.all.ongoing"],
        access_token=Secret("act.bench"),
        expires_at=now + timedelta(days=3650),
        refresh_token=Secret("rft.bench"),
        refresh_expires_at=now + timedelta(days=3650),
    )
    store.upsert_grant("template", tokens.scopes, tokens)
    with store.engine.begin() as conn:
        row = dict(conn.execute(sa.select(grants).where(grants.c.open_id == "template")).one()._mapping)
        conn.execute(sa.delete(grants))
        rows = [{**row, "open_id": f"user-{i:06d}"} for i in range(users)]
        for start in range(0, users, 10_000):
            conn.execute(sa.insert(grants), rows[start : start + 10_000])
    store.close()


class _Client:
    """Stands in for TikTok: adds return new request ids, downloads copy a small generated export."""

    def __init__(self, exports: list[Path]) -> None:
        self.exports = exports
        self.next_id = 7_000_000_000

    def add_data_request(self, token, categories, data_format="json", *, open_id=None) -> int:
        self.next_id += 1
        return self.next_id

    def download(self, token, request_id, sink, *, open_id=None):
        from tiktok_portability.client.models import DownloadResult

        source = self.exports[request_id % len(self.exports)]
        shutil.copyfile(source, sink)
        return DownloadResult(request_id, source.stat().st_size, "", "application/zip", Path(sink))

    def close(self) -> None:
        pass


def _night_child(db: Path, work: Path, key: str, batch_size: int) -> dict[str, Any]:
    """Runs in its own process: plan, sampled batches' steps, summary; returns the numbers."""
    import contextlib

    import sqlalchemy as sa

    from tiktok_portability import clock
    from tiktok_portability.client import ClientConfig
    from tiktok_portability.lake import Lake
    from tiktok_portability.runtime import SyncRuntime
    from tiktok_portability.state import StateStore
    from tiktok_portability.state.tables import transfers
    from tiktok_portability.sync import SyncOptions
    from tiktok_portability.sync.fetch import download_batch
    from tiktok_portability.sync.load import normalize_batch
    from tiktok_portability.sync.plan import plan_run
    from tiktok_portability.sync.submit import submit_batch
    from tiktok_portability.sync.summary import summarize_run

    exports = [_export(work / "exports", f"pool-{i}", i, 1) for i in range(POOL)]
    store = StateStore.from_url(f"sqlite:///{db}", fernet_keys=[key])
    client = _Client(exports)

    class Runtime(SyncRuntime):
        @contextlib.contextmanager
        def client(self):  # type: ignore[override]
            yield client

    runtime = Runtime(
        store=store,
        client_config=ClientConfig(
            client_key="bench",
            client_secret="bench",  # noqa: S106 - the stand-in client sends nothing
            base_url="http://127.0.0.1:9",
        ),
        lake=Lake.from_uri(str(work / "lake")),
        scratch_dir=str(work / "scratch"),
    )
    statements = Counter()
    step = ["setup"]

    @sa.event.listens_for(store.engine, "before_cursor_execute")
    def count(*_args: Any) -> None:
        statements[step[0]] += 1

    options = SyncOptions(batch_size=batch_size)
    run_id = "scheduled__bench"
    rss_before = _rss_mb("VmRSS")
    step[0] = "plan"
    started = time.perf_counter()
    batches = plan_run(runtime, run_id, NIGHT, options)
    plan_s = time.perf_counter() - started
    plan_hwm = _rss_mb("VmHWM")
    sampled = sorted({batches[0], batches[len(batches) // 2], batches[-1]})
    reports: list[dict] = []
    xcom = {"plan": _json_size(batches)}
    seconds: Counter[str] = Counter()
    for batch in sampled:
        for name, run in (
            ("submit", lambda b=batch: submit_batch(runtime, run_id, b, options)),
            ("wait", None),
            ("download", lambda b=batch: download_batch(runtime, run_id, b, NIGHT, options)),
            ("normalize", lambda b=batch: normalize_batch(runtime, run_id, b, NIGHT, options)),
        ):
            step[0] = name
            started = time.perf_counter()
            if run is None:  # readiness as the webhook receiver applies it: one transition per user
                for t in store.transfers_for_run(run_id, batch):
                    store.transition(t.id, "ready")
                report = {"step": "wait"}
            else:
                report = run().to_dict()
            seconds[name] += time.perf_counter() - started
            xcom[name] = max(xcom.get(name, 0), _json_size(report))
            reports.append(report)
    step[0] = "bulk"
    now = clock.utcnow()
    rows = []
    for batch in batches:
        if batch in sampled:
            continue
        for open_id in store.batch_members(run_id, batch):
            rows.append(
                {
                    "open_id": open_id,
                    "run_id": run_id,
                    "batch": batch,
                    "categories": ["all_data"],
                    "data_format": "json",
                    "request_id": 8_000_000_000 + len(rows),
                    "status": "normalized",
                    "attempts": 1,
                    "raw_size": 20_000,
                    "created_at": now,
                    "updated_at": now,
                }
            )
    with store.engine.begin() as conn:
        for start in range(0, len(rows), 10_000):
            conn.execute(sa.insert(transfers), rows[start : start + 10_000])
    step[0] = "summarize"
    started = time.perf_counter()
    summary = summarize_run(runtime, run_id, options, [r for r in reports if r.get("step") == "normalize"])
    summarize_s = time.perf_counter() - started
    xcom["summarize"] = _json_size(summary)
    members = sum(len(store.batch_members(run_id, b)) for b in sampled)
    store.close()
    per_batch = {s: statements[s] / len(sampled) for s in ("submit", "wait", "download", "normalize")}
    return {
        "users": summary["users_planned"],
        "batches": len(batches),
        "sampled_batches": len(sampled),
        "users_per_sampled_batch": members / len(sampled),
        "plan_s": plan_s,
        "rss_before_plan_mb": rss_before,
        "plan_peak_rss_mb": plan_hwm,
        "plan_statements": statements["plan"],
        "statements_per_batch": per_batch,
        "statements_per_user": {s: n * len(sampled) / members for s, n in per_batch.items()},
        "seconds_per_batch": {s: n / len(sampled) for s, n in seconds.items()},
        "summarize_s": summarize_s,
        "summarize_statements": statements["summarize"],
        "xcom_bytes": xcom,
        "users_synced": summary["users_synced"],
    }


def part_night(users: list[int], batch_size: int, work: Path) -> None:
    from cryptography.fernet import Fernet

    print(f"\n== 1. One night of N users (batches of {batch_size}; state store SQLite, lake local)")
    header = (
        f"{'users':>8} {'batches':>7} {'plan s':>7} {'plan RSS MB':>11} {'plan SQL':>8} "
        f"{'SQL/batch submit wait download normalize':>41} {'summ. s':>7} {'summ. SQL':>9}"
    )
    print(header)
    results = []
    for n in users:
        folder = work / f"night-{n}"
        folder.mkdir(parents=True)
        key = Fernet.generate_key().decode()
        _build_store(folder / "state.db", n, key)
        out = subprocess.run(
            [sys.executable, __file__, "--_night-child", str(folder), key, str(batch_size)],
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode:
            raise SystemExit(f"night child for {n} users failed:\n{out.stderr[-4000:]}")
        r = json.loads(out.stdout.strip().splitlines()[-1])
        results.append(r)
        spb = r["statements_per_batch"]
        print(
            f"{r['users']:>8,} {r['batches']:>7} {r['plan_s']:>7.2f} {r['plan_peak_rss_mb']:>11.0f} "
            f"{r['plan_statements']:>8} {spb['submit']:>14,.0f} {spb['wait']:>5,.0f} "
            f"{spb['download']:>8,.0f} {spb['normalize']:>9,.0f} "
            f"{r['summarize_s']:>7.2f} {r['summarize_statements']:>9}",
            flush=True,
        )
        shutil.rmtree(folder, ignore_errors=True)
    for r in results:
        per_user = ", ".join(f"{s} {v:.1f}" for s, v in r["statements_per_user"].items())
        print(
            f"  {r['users']:,} users: RSS before plan {r['rss_before_plan_mb']:.0f} MB; statements per "
            f"user: {per_user}; XCom bytes: {r['xcom_bytes']}; seconds per sampled batch "
            f"({r['users_per_sampled_batch']:.0f} users): "
            + ", ".join(f"{s} {v:.2f}" for s, v in r["seconds_per_batch"].items())
        )


# -- part 2: lake growth per night ---------------------------------------------------------------


def _areas(root: Path) -> dict[str, tuple[int, int]]:
    """(files, bytes) per area of a local lake: raw, tables, ledger (_state), manifests, other."""
    found: dict[str, list[int]] = {}
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        top = path.relative_to(root).parts[0]
        area = {"raw": "raw", "_state": "ledger", "_commits": "manifests", "_tmp": None}.get(
            top, "other" if top.startswith("_") else "tables"
        )
        if area is None:
            continue
        entry = found.setdefault(area, [0, 0])
        entry[0] += 1
        entry[1] += path.stat().st_size
    return {a: (v[0], v[1]) for a, v in found.items()}


def part_lake(users: int, batch_size: int, work: Path, scale_to: int) -> None:
    from tiktok_portability.lake import Lake

    print(f"\n== 2. Lake growth per night ({users} users, batches of {batch_size}, real normalizer)")
    lake = Lake.from_uri(str(work / "lake-growth"))
    exports = work / "growth-exports"
    exports.mkdir()
    names = [f"grow-{i:05d}" for i in range(users)]
    nights = (("first sync", 1), ("history grew", 2), ("quiet: same export", 2))
    before = _areas(Path(lake.storage.uri()))
    batches = math.ceil(users / batch_size)
    print(
        f"{'night':<22} {'raw files':>9} {'raw KB/user':>11} {'table files':>11} {'table B/user':>12} "
        f"{'ledger files':>12} {'ledger B/user':>13} {'manifests':>9} {'rows':>8} {'s':>6}"
    )
    for number, (label, version) in enumerate(nights, start=1):
        day = (NIGHT + timedelta(days=number - 1)).isoformat()
        refs = [
            lake.raw.put_archive(u, day, number * 1_000_000 + i, _export(exports, u, i, version))
            for i, u in enumerate(names)
        ]
        started = time.perf_counter()
        rows = 0
        for b in range(batches):
            result = lake.normalize_batch(refs[b * batch_size : (b + 1) * batch_size], day, f"n{number}-b{b}")
            if result.errors:
                raise SystemExit(f"batch failed: {result.errors[0].reason}")
            rows += sum(result.rows.values())
        took = time.perf_counter() - started
        after = _areas(Path(lake.storage.uri()))
        added = {
            a: (after[a][0] - before.get(a, (0, 0))[0], after[a][1] - before.get(a, (0, 0))[1]) for a in after
        }
        before = after
        tables = added.get("tables", (0, 0))
        print(
            f"{number} {label:<20} {added['raw'][0]:>9} {added['raw'][1] / users / 1024:>11.1f} "
            f"{tables[0]:>11} {tables[1] / users:>12,.0f} {added['ledger'][0]:>12} "
            f"{added['ledger'][1] / users:>13,.0f} {added['manifests'][0]:>9} {rows:>8,} {took:>6.1f}",
            flush=True,
        )
        if number == len(nights):
            table_files_per_batch = tables[0] / batches
            at_scale = math.ceil(scale_to / batch_size)
            print(
                f"  at {scale_to:,} users (batches of {batch_size}: {at_scale}): a quiet night adds "
                f"~{3 * scale_to + at_scale * (table_files_per_batch + 1):,.0f} files (3 per user: raw zip, "
                f"raw manifest, ledger; {table_files_per_batch:.0f} table files + 1 manifest per batch), "
                f"~{tables[1] / users * scale_to / 1e6:,.0f} MB of tables, "
                f"~{added['ledger'][1] / users * scale_to / 1e6:,.0f} MB of ledger and the whole "
                "export again in raw (~1 TB at 10 MB an export)"
            )
    by_table = Counter()
    last_day = (NIGHT + timedelta(days=len(nights) - 1)).isoformat()
    for name in lake.tables():
        for key, size in lake.storage.sizes(name).items():
            if f"snapshot_date={last_day}/" in key:
                by_table[name] += size
    print(
        "  quiet night, table bytes per user: "
        + ", ".join(f"{t} {b / users:,.0f}" for t, b in by_table.most_common())
    )


# -- part 3: raw zone over 60 nights -------------------------------------------------------------


def part_retention(users: int, nights: int, days: int, work: Path) -> None:
    from tiktok_portability.lake import Lake

    print(
        f"\n== 3. Raw zone over {nights} nights, {users} users, retention {days} days "
        f"(a tenth of the users stop on night 20)"
    )
    lake = Lake.from_uri(str(work / "lake-retention"))
    exports = work / "retention-exports"
    exports.mkdir()
    without = 0
    print(
        f"{'night':>5} {'raw MB':>8} {'archives':>8} {'deleted':>8} {'retention s':>11} "
        f"{'MB without retention':>20}"
    )
    for night in range(1, nights + 1):
        day = (NIGHT + timedelta(days=night - 1)).isoformat()
        for i in range(users):
            if i % 10 == 0 and night > 20:
                continue
            # Ten export shapes of a fixed size: what the zone holds then follows the nights kept.
            # (Real exports grow with each user's history, and the level with them.)
            path = _export(exports, f"shape-{i % 10}", i % 10, 2)
            ref = lake.raw.put_archive(f"ret-{i:05d}", day, night * 1_000_000 + i, path)
            without += ref.size
        started = time.perf_counter()
        record = lake.apply_retention(days, today=day, requested_by="bench")
        took = time.perf_counter() - started
        if night % 5 == 0 or night in (1, days, days + 1, days + 2, nights):
            sizes = {k: v for k, v in lake.storage.sizes("raw").items() if k.endswith(".zip")}
            print(
                f"{night:>5} {sum(sizes.values()) / 1e6:>8.2f} {len(sizes):>8} {record.archives_deleted:>8} "
                f"{took:>11.3f} {without / 1e6:>20.2f}",
                flush=True,
            )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--_night-child"]:
        folder = Path(argv[1])
        print(json.dumps(_night_child(folder / "state.db", folder, argv[2], int(argv[3]))))
        return 0
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, nargs="*", default=[1000, 10000], help="part 1: N per night")
    parser.add_argument("--batch-size", type=int, default=500, help="users per batch (the DAG's default)")
    parser.add_argument("--lake-users", type=int, default=500, help="part 2: users through the real lake")
    parser.add_argument("--scale-to", type=int, default=100_000, help="part 2: extrapolate files to N")
    parser.add_argument("--retention-users", type=int, default=100, help="part 3: users")
    parser.add_argument("--retention-nights", type=int, default=60)
    parser.add_argument("--retention-days", type=int, default=30)
    args = parser.parse_args(argv)
    os.environ.setdefault("TIKTOK_LAKE_TABLE_MODE", "640")
    work = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    started = time.perf_counter()
    try:
        if [n for n in args.users if n]:
            part_night([n for n in args.users if n], args.batch_size, work)
        if args.lake_users:
            part_lake(args.lake_users, args.batch_size, work, args.scale_to)
        if args.retention_users:
            part_retention(args.retention_users, args.retention_nights, args.retention_days, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n(total {time.perf_counter() - started:.0f} s; load average {os.getloadavg()[0]:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
