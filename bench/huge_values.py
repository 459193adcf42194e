"""Hostile values: TXT values over many continuation lines, and one huge value, against the normalizer.

    python bench/huge_values.py                       # the curve to 8 MB, then 200 MB values (~1 min)
    python bench/huge_values.py --curve-mb 0.5 1 2 --huge-mb 0

Part 1, the curve: a Watch History.txt whose one record has a value continued over every line
(the shape that took quadratic time), at growing sizes; prints seconds and MB/s per size. Linear
reading keeps MB/s flat as the size doubles.

Part 2, one huge value: a 200 MB TXT line and a 200 MB JSON string, each normalized in a fresh
process; prints the outcome (rows, or the error) and the process's peak RSS. Values past
``ArchiveLimits.max_value_bytes`` are refused with ValueTooLargeError, so memory stays bounded.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "include"), str(ROOT)]

WATCH = "TikTok/Activity/Watch History.txt"


def _continuation_export(path: Path, mb: float) -> int:
    """A TXT export of about ``mb`` MB: one record whose value goes on for every line; its line count.

    One value over all the lines is the worst case for joining continuation lines. Each line names
    another video (random ids): real exports do not compress 200x, so neither may this one (the
    zip-bomb check would refuse it).
    """
    rng = random.Random(7)
    count = int(mb * 1e6 / 57)
    lines = "".join(
        f"https://www.tiktokv.com/share/video/{rng.getrandbits(62):019d}/\n" for _ in range(count)
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(WATCH, f"Date: 2026-01-01 10:00:00 UTC\nLink: start\n{lines}\n")
    return count + 2


def _normalize(path: Path) -> tuple[int, float]:
    from tests.normalize.test_json_generations import CTX
    from tiktok_portability.normalize import normalize_archive

    rows, t0 = 0, time.perf_counter()
    for _name, batch in normalize_archive(path, CTX):
        rows += batch.num_rows
    return rows, time.perf_counter() - t0


def _huge_export(path: Path, kind: str, mb: int) -> None:
    # Random text: a value that compresses 200x would be refused by the zip-bomb check first.
    value = base64.b64encode(random.Random(7).randbytes((mb << 20) * 3 // 4)).decode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        if kind == "txt":
            zf.writestr(WATCH, f"Date: 2026-01-01 10:00:00 UTC\nLink: {value}\n")
        else:
            videos = {"VideoList": [{"Date": "2026-01-01 10:00:00", "Link": value}]}
            zf.writestr(
                "TikTok/user_data_tiktok.json", json.dumps({"Activity": {"Video Browsing History": videos}})
            )


def _peak_rss_mb() -> float:
    """This process's peak RSS since exec (VmHWM; ru_maxrss would include the parent's at fork)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(path: str) -> None:
    """Normalize one archive in this (fresh) process; print the outcome and the peak RSS as JSON."""
    try:
        rows, seconds = _normalize(Path(path))
        outcome = f"{rows} rows in {seconds:.1f} s"
    except Exception as exc:  # the outcome is what this bench reports
        outcome = f"{type(exc).__name__}: {str(exc)[:160]}"
    print(json.dumps({"outcome": outcome, "peak_rss_mb": round(_peak_rss_mb())}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--curve-mb", type=float, nargs="*", default=[0.5, 1, 2, 4, 8])
    parser.add_argument("--huge-mb", type=int, default=200, help="size of the one huge value (0: skip)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--make", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child)
        return 0
    if args.make:
        _huge_export(Path(args.make[0]), args.make[1], int(args.make[2]))
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-huge-values-") as tmp:
        print("One TXT value continued over every line:")
        print(f"{'MB':>6} {'lines':>10} {'seconds':>8} {'MB/s':>7}")
        for mb in args.curve_mb:
            path = Path(tmp) / f"curve-{mb}.zip"
            lines = _continuation_export(path, mb)
            _rows, seconds = _normalize(path)
            print(f"{mb:>6} {lines:>10,} {seconds:>8.2f} {mb / seconds:>7.1f}")
            path.unlink()
        if args.huge_mb:
            print(f"One {args.huge_mb} MB value, each in a fresh process:")
            for kind in ("txt", "json"):
                path = Path(tmp) / f"huge.{kind}.zip"
                # Built in another process, so this one stays small for the children it forks.
                subprocess.run(
                    [sys.executable, __file__, "--make", str(path), kind, str(args.huge_mb)], check=True
                )
                proc = subprocess.run(
                    [sys.executable, __file__, "--child", str(path)],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                lines = proc.stdout.strip().splitlines()
                result = (
                    json.loads(lines[-1]) if lines else {"outcome": proc.stderr[-300:], "peak_rss_mb": "?"}
                )
                print(f"  {kind:<4} peak RSS {result['peak_rss_mb']} MB: {result['outcome']}")
                path.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
