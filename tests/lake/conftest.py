"""Lake test kit: tiny table specs shaped like the normalizer's, a JSON "archive" format and a
normalizer for it, and a ``lake`` fixture that runs each test on a local folder and on S3."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from tiktok_portability.lake import Lake, RawArchiveRef

TS = pa.timestamp("s", tz="UTC")
LINEAGE = [("open_id", pa.string()), ("request_id", pa.int64()), ("snapshot_date", pa.date32())]


@dataclass(frozen=True)
class Spec:
    name: str
    schema: pa.Schema
    kind: str
    key: tuple[str, ...]
    description: str = ""


WATCH = Spec(
    "watch_history",
    pa.schema([*LINEAGE, ("watched_at", TS), ("link", pa.string()), ("occurrence", pa.int32())]),
    "event",
    ("open_id", "watched_at", "link", "occurrence"),
)
FOLLOWERS = Spec(
    "followers",
    pa.schema([*LINEAGE, ("user_name", pa.string()), ("followed_at", TS)]),
    "snapshot",
    ("open_id", "snapshot_date", "user_name"),
)
PROFILE = Spec(
    "profile",
    pa.schema([*LINEAGE, ("user_name", pa.string()), ("follower_count", pa.int64())]),
    "snapshot",
    ("open_id", "snapshot_date"),
)
SPECS = {s.name: s for s in (WATCH, FOLLOWERS, PROFILE)}


def ts(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


class JsonNormalizer:
    """Reads the test kit's JSON archives; yields watch history in batches of two rows.

    ``{"explode": true}`` raises after the first watch batch, like a record the real normalizer
    cannot survive halfway through an archive.
    """

    specs = SPECS

    def normalize(self, path: Path, ref: RawArchiveRef, summary: dict[str, Any]) -> Iterator:
        doc = json.loads(Path(path).read_text())
        summary["sections_seen"] = sorted(doc)
        base = {"open_id": ref.open_id, "request_id": ref.request_id}
        base["snapshot_date"] = date.fromisoformat(ref.snapshot_date)
        if "profile" in doc:
            yield "profile", pa.RecordBatch.from_pylist([{**base, **doc["profile"]}], PROFILE.schema)
        seen: Counter = Counter()
        rows = []
        for when, link in doc.get("watch", []):
            rows.append({**base, "watched_at": ts(when) if when else None, "link": link})
            rows[-1]["occurrence"] = seen[(when, link)]
            seen[(when, link)] += 1
        for i in range(0, len(rows), 2):
            yield "watch_history", pa.RecordBatch.from_pylist(rows[i : i + 2], WATCH.schema)
            if doc.get("explode"):
                raise ValueError(f"record {i + 2} of watch history is not an object")
        if "followers" in doc:
            followers = [{**base, "user_name": u, "followed_at": ts(t)} for u, t in doc["followers"]]
            yield "followers", pa.RecordBatch.from_pylist(followers, FOLLOWERS.schema)


@pytest.fixture
def write_archive(tmp_path: Path):
    """``write_archive(doc) -> Path``: a JSON "archive" file on local disk."""

    def write(doc: dict) -> Path:
        path = tmp_path / f"archive-{uuid.uuid4().hex[:8]}.json"
        path.write_text(json.dumps(doc))
        return path

    return write


@pytest.fixture(params=["local", "s3"])
def lake_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "local":
        return str(tmp_path / "lake")
    bucket = request.getfixturevalue("s3_bucket")
    moto = request.getfixturevalue("moto_server")
    request.getfixturevalue("monkeypatch").setenv("AWS_ENDPOINT_URL", moto.endpoint_url)
    return f"s3://{bucket}/team/lake"


@pytest.fixture
def lake(lake_uri: str) -> Lake:
    return Lake.from_uri(lake_uri, normalizer=JsonNormalizer())


@pytest.fixture
def local_lake(tmp_path: Path) -> Lake:
    return Lake.from_uri(f"file://{tmp_path / 'lake'}", normalizer=JsonNormalizer())


def rows_of(lake: Lake, table: str, **where: Any) -> list[dict]:
    """A table's rows as dicts, minus lineage, sorted, filtered by column equality."""
    data = lake.read_table(table)
    if data is None:
        return []
    out = []
    for row in data.to_pylist():
        if all(row.get(k) == v for k, v in where.items()):
            out.append({k: v for k, v in row.items() if k not in ("request_id",)})
    return sorted(out, key=lambda r: json.dumps(r, default=str, sort_keys=True))


def follower_changes(lake: Lake) -> list[tuple[str, str, str]]:
    """The followers change log as sorted (snapshot date, user name, follow/unfollow) tuples."""
    return sorted((str(r["snapshot_date"]), r["user_name"], r["change"]) for r in rows_of(lake, "followers"))
