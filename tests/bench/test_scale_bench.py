"""bench/scale.py runs end to end on tiny numbers and prints what it promises."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_tiny_run_prints_the_night_the_growth_and_the_raw_zone_levelling_off():
    args = ["--users", "30", "--batch-size", "10", "--lake-users", "6", "--scale-to", "1000"]
    args += ["--retention-users", "10", "--retention-nights", "8", "--retention-days", "3"]
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "scale.py"), *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout
    night = re.search(
        r"^\s+30\s+3\s+[\d.]+\s+\d+\s+\d+\s+([\d,]+)\s+([\d,]+)\s+([\d,]+)\s+([\d,]+)", out, re.M
    )
    assert night, out
    assert all(int(n.replace(",", "")) > 0 for n in night.groups())  # statements per batch and step
    assert "XCom bytes: {'plan':" in out
    quiet = re.search(r"^3 quiet: same export\s+(\d+)\s+[\d.]+\s+(\d+)\s+([\d,]+)", out, re.M)
    assert quiet, out
    assert int(quiet.group(1)) == 12  # raw zip and manifest per user, again
    assert int(quiet.group(2)) == 3  # only the snapshot tables write on a quiet night
    # Retention 3 days: from night 5 the zone holds 4 nights of 10 users (9 from night 21 on).
    rows = dict(re.findall(r"^\s+(\d+)\s+[\d.]+\s+(\d+)\s+\d+\s+[\d.]+\s+[\d.]+$", out, re.M))
    assert rows["5"] == rows["8"] == "40", out
