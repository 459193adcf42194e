"""End to end over the real normalizer and synthetic archives: the lake matches the ground truth."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pyarrow.compute as pc
import pytest

from tests.lake.conftest import follower_changes
from tiktok_portability.cli import main
from tiktok_portability.lake import Lake
from tiktok_portability.state.engine import create_engine
from tiktok_portability.state.lake_lock import lake_lock
from tiktok_portability.synth import SyntheticUser, UserSpec, write_archive

SPEC = UserSpec(open_id="synth-1", seed=7, generation="G2", txt_variant="en_new", size="tiny")
DATES = ["2026-02-01", "2026-02-02", "2026-02-03"]


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("synth")
    paths = []
    for version in (1, 2, 3):
        path = folder / f"v{version}.zip"
        with open(path, "wb") as sink:
            write_archive(SPEC, version=version, data_format="json", categories=["all_data"], sink=sink)
        paths.append(path)
    return paths


def run_cli(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, dict]:
    code = main(list(argv))
    return code, json.loads(capsys.readouterr().out)


def test_three_nightly_exports_land_each_event_once_and_followers_as_of_each_date(
    tmp_path: Path, archives: list[Path], capsys: pytest.CaptureFixture
):
    uri = str(tmp_path / "lake")
    for version, (day, archive) in enumerate(zip(DATES, archives, strict=True), start=1):
        code, out = run_cli(
            capsys,
            "normalize", "--archive", str(archive), "--lake", uri,
            "--open-id", SPEC.open_id, "--snapshot-date", day, "--request-id", str(100 + version),
        )  # fmt: skip
        assert code == 0, out
        assert out["archives_failed"] == 0

    lake = Lake.from_uri(uri)
    truth = SyntheticUser(SPEC).snapshot(3)
    watched = lake.read_table("watch_history")
    assert watched.num_rows == len(truth.watch_history)
    assert sorted(watched.column("link").to_pylist()) == sorted(e.link for e in truth.watch_history)
    assert lake.read_table("dm_messages").num_rows == sum(
        len(truth.messages_with(p)) for p in truth.conversations
    )

    changes = lake.read_table("followers").sort_by([("snapshot_date", "ascending")]).to_pylist()
    current: set[str] = set()
    for row in changes:
        (current.add if row["change"] == "follow" else current.discard)(row["user_name"])
    assert current == {f.user_name for f in truth.followers}
    assert lake.read_table("profile").num_rows == 3
    sections = lake.read_table("sections_seen")
    assert pc.sum(pc.equal(sections.column("snapshot_date").cast("string"), DATES[0])).as_py() > 0


def test_cli_reports_a_corrupt_archive_without_writing_tables(tmp_path: Path, capsys: pytest.CaptureFixture):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK\x03\x04 this is not really a zip")
    uri = str(tmp_path / "lake")

    code, out = run_cli(
        capsys,
        "normalize",
        "--archive",
        str(bad),
        "--lake",
        uri,
        "--open-id",
        "u",
        "--snapshot-date",
        "2026-02-01",
    )

    assert code == 1
    [error] = out["errors"]
    assert error["key"].startswith("raw/snapshot_date=2026-02-01/user=")
    assert error["reason"]
    assert Lake.from_uri(uri).tables() == []


def test_cli_reprocess_and_erase(tmp_path: Path, archives: list[Path], capsys: pytest.CaptureFixture):
    uri = str(tmp_path / "lake")
    code, first = run_cli(
        capsys, "normalize", "--archive", str(archives[0]), "--lake", uri,
        "--open-id", SPEC.open_id, "--snapshot-date", DATES[0],
    )  # fmt: skip
    assert code == 0

    code, again = run_cli(capsys, "lake", "reprocess", "--snapshot-date", DATES[0], "--lake", uri)
    assert code == 0
    assert again["rows"] == first["rows"]
    assert again["batches"] == [first["batch_id"]]

    code, second = run_cli(
        capsys, "normalize", "--archive", str(archives[1]), "--lake", uri,
        "--open-id", SPEC.open_id, "--snapshot-date", DATES[1],
    )  # fmt: skip
    code, both = run_cli(
        capsys, "lake", "reprocess", "--snapshot-date", DATES[0], "--and-later", "--lake", uri
    )
    assert code == 0
    assert both["snapshot_dates"] == DATES[:2]
    assert both["later_dates_stale"] == []
    assert both["rows"] == {t: first["rows"].get(t, 0) + second["rows"].get(t, 0) for t in both["rows"]}

    code, record = run_cli(
        capsys, "lake", "erase", "--open-id", SPEC.open_id, "--lake", uri, "--requested-by", "dpo"
    )
    assert code == 0
    assert record["raw_archives_deleted"] == 2
    assert record["rows_deleted"]["watch_history"] == (
        first["rows"]["watch_history"] + second["rows"]["watch_history"]
    )
    assert Lake.from_uri(uri).tables() == []


def test_reprocessing_every_date_in_order_rewrites_the_same_files_byte_for_byte(
    tmp_path: Path, archives: list[Path], capsys: pytest.CaptureFixture
):
    uri = str(tmp_path / "lake")
    for day, archive in zip(DATES, archives, strict=True):
        code, _ = run_cli(
            capsys, "normalize", "--archive", str(archive), "--lake", uri,
            "--open-id", SPEC.open_id, "--snapshot-date", day, "--batch-id", "nightly",
        )  # fmt: skip
        assert code == 0
    lake = Lake.from_uri(uri)

    def stored() -> dict[str, bytes]:
        return {
            k: lake.storage.get_bytes(k) for k in lake.storage.list("") if k.endswith((".parquet", ".arrow"))
        }

    before = stored()
    for key in lake.storage.list("_state/"):  # the ledger is rebuilt from the raw zone too
        lake.storage.delete(key)
    code, again = run_cli(
        capsys, "lake", "reprocess", "--snapshot-date", DATES[0], "--and-later", "--lake", uri
    )

    assert code == 0
    assert again["snapshot_dates"] == list(DATES)
    assert stored() == before  # table files and ledger files, byte for byte
    assert again["rows"]["watch_history"] < 3 * first_night_rows(before)


def first_night_rows(files: dict[str, bytes]) -> int:
    import io

    import pyarrow.parquet as pq

    key = next(k for k in files if k.startswith(f"watch_history/snapshot_date={DATES[0]}/"))
    return pq.read_table(io.BytesIO(files[key])).num_rows


def test_normalize_into_s3(s3_bucket: str, moto_server, archives: list[Path], capsys: pytest.CaptureFixture):
    uri = f"s3://{s3_bucket}/lake"
    code, out = run_cli(
        capsys, "normalize", "--archive", str(archives[0]), "--lake", uri,
        "--s3-endpoint-url", moto_server.endpoint_url,
        "--open-id", SPEC.open_id, "--snapshot-date", DATES[0], "--request-id", "1",
    )  # fmt: skip
    assert code == 0
    keys = [o["Key"] for o in moto_server.client().list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert f"lake/watch_history/snapshot_date={DATES[0]}/batch-{out['batch_id']}.parquet" in keys
    assert not [k for k in keys if "_tmp" in k]


def _export(path: Path, followers: list[str] | None) -> Path:
    import zipfile

    activity = (
        {}
        if followers is None
        else {"Follower": {"FansList": [{"Date": "2025-01-01 00:00:00", "UserName": u} for u in followers]}}
    )
    doc = {"Profile": {"Profile Info": {"ProfileMap": {"userName": "me"}}}, "Your Activity": activity}
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("user_data_tiktok.json", json.dumps(doc))
    return path


def test_an_emptied_follower_list_unfollows_everyone_but_a_missing_one_changes_nothing(tmp_path: Path):
    lake = Lake.from_uri(str(tmp_path / "lake"))
    exports = [["ann", "bo"], None, []]
    for i, followers in enumerate(exports):
        day = f"2026-03-0{i + 1}"
        ref = lake.raw.put_archive("u", day, i + 1, _export(tmp_path / f"{i}.zip", followers))
        assert lake.normalize_batch([ref], day).ok

    changes = follower_changes(lake)
    assert changes == [
        ("2026-03-01", "ann", "follow"),
        ("2026-03-01", "bo", "follow"),
        ("2026-03-03", "ann", "unfollow"),
        ("2026-03-03", "bo", "unfollow"),
    ]


def test_cli_erase_waits_for_a_commit_holding_the_lake_lock(
    tmp_path: Path, archives: list[Path], capsys: pytest.CaptureFixture
):
    uri, state_url = str(tmp_path / "lake"), f"sqlite:///{tmp_path / 'state.db'}"
    code, _ = run_cli(
        capsys, "normalize", "--archive", str(archives[0]), "--lake", uri,
        "--open-id", SPEC.open_id, "--snapshot-date", DATES[0], "--state-url", state_url,
    )  # fmt: skip
    assert code == 0
    engine = create_engine(state_url)
    committing, release = threading.Event(), threading.Event()
    log: list[str] = []

    def commit() -> None:  # a nightly commit holds the lock shared while it rewrites files
        with lake_lock(engine, exclusive=False):
            committing.set()
            release.wait(10)
            log.append("commit done")

    def erase() -> None:
        code = main(["lake", "erase", "--open-id", SPEC.open_id, "--lake", uri, "--state-url", state_url])
        log.append(f"erase exit {code}")

    holder, eraser = threading.Thread(target=commit), threading.Thread(target=erase)
    holder.start()
    assert committing.wait(10)
    eraser.start()
    eraser.join(0.5)
    assert eraser.is_alive()  # waiting for the lock
    release.set()
    holder.join(10)
    eraser.join(10)
    assert log == ["commit done", "erase exit 0"]
    assert Lake.from_uri(uri).tables() == []
    engine.dispose()
