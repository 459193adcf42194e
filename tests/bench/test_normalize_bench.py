"""The normalization benchmark runs end to end on a tiny input and prints what it promises."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_repeated_rounds_print_medians_and_per_round_ratios(tmp_path):
    args = ["--large-mb", "1", "--small", "0", "--engines", "ours,lake,naive", "--repeat", "2"]
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "normalize.py"), *args, "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    for engine in ("ours", "lake", "naive"):
        row = re.search(
            rf"^large-1MB\s+{engine}\s+[\d.]+\s+([\d.]+).*\(median of 2, ([\d.]+)-([\d.]+) s\)$", out, re.M
        )
        assert row, out
        median, fastest, slowest = map(float, row.groups())
        assert fastest <= median <= slowest
    for mine in ("ours", "lake"):
        ratio = re.search(
            rf"{mine} vs naive: ([\d.]+)x median of 2 round\(s\) \(min ([\d.]+)x, max ([\d.]+)x", out
        )
        assert ratio, out
        median, low, high = map(float, ratio.groups())
        assert 0 < low <= median <= high
    assert "ours vs duckdb" not in out  # only engines that ran are compared
    assert not list(tmp_path.glob("scratch-*"))  # the engines' outputs are removed at the end
