"""Does a nightly batch commit cost the same on night 1 and night N? (the per-user ledger)

    python bench/lake_state.py                          # 8 nights x 10 batches x 10 users (~1 min)
    python bench/lake_state.py --nights 15 --batches 20

Builds a local lake night by night with the real normalizer on small generated exports (one new
export per user per night, data growing as on real nights), every batch committed through
``Lake.normalize_batch``, and prints per night: lake reads per batch commit (listings + object
reads, from ``RecordingStorage``), reads per user, writes per batch, seconds per batch, and how
many files the lake holds. A commit whose cost followed the lake's size would show reads growing
with the nights; with the ledger they level off: per user one listing, the newest ledger file and
at most one older file per change-log table whose set last changed on an earlier night, plus the
user's raw archive.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "include"), str(ROOT)]  # the package, and tests.fixtures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nights", type=int, default=8)
    parser.add_argument("--batches", type=int, default=10, help="batches per night")
    parser.add_argument("--users", type=int, default=10, help="users per batch")
    args = parser.parse_args(argv)

    from tests.fixtures.recording_storage import RecordingStorage
    from tiktok_portability.lake import Lake
    from tiktok_portability.lake.storage import LocalStorage
    from tiktok_portability.synth import UserSpec, write_archive

    work = Path(tempfile.mkdtemp(prefix="bench-lake-state-"))
    try:
        recording = RecordingStorage(LocalStorage(work / "lake"))
        lake = Lake(recording)
        users = [f"bench-user-{i:05d}" for i in range(args.batches * args.users)]
        first = date(2026, 1, 1)
        header = ("night", "reads/batch", "reads/user", "writes/batch", "s/batch", "lake files")
        print(" ".join(f"{h:>{max(5, len(h))}}" for h in header))
        for night in range(1, args.nights + 1):
            day = (first + timedelta(days=night - 1)).isoformat()
            reads, writes, seconds = [], [], []
            for b in range(args.batches):
                refs = []
                for u, open_id in enumerate(users[b * args.users : (b + 1) * args.users]):
                    spec = UserSpec(open_id=open_id, seed=b * 1000 + u, generation="G2", size="tiny")
                    path = work / "archives" / f"{open_id}-{night}.zip"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    write_archive(
                        spec, version=night, data_format="json", categories=["all_data"], sink=str(path)
                    )
                    refs.append(lake.raw.put_archive(open_id, day, night * 100_000 + b * 1000 + u, path))
                recording.reads.clear()
                recording.writes = 0
                started = time.perf_counter()
                result = lake.normalize_batch(refs, day, batch_id=f"night-batch-{b}")
                seconds.append(time.perf_counter() - started)
                if result.errors:
                    raise SystemExit(f"batch failed: {result.errors[0].reason}")
                reads.append(len(recording.reads))
                writes.append(recording.writes)
            files = sum(1 for p in (work / "lake").rglob("*") if p.is_file())
            values = (
                f"{night}",
                f"{statistics.mean(reads):.1f}",
                f"{statistics.mean(reads) / args.users:.2f}",
                f"{statistics.mean(writes):.1f}",
                f"{statistics.mean(seconds):.3f}",
                f"{files}",
            )
            print(" ".join(f"{v:>{max(5, len(h))}}" for v, h in zip(values, header, strict=True)), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
