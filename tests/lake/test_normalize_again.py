"""An archive whose user name guess was wrong is normalized again: its first rows are dropped."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.lake.conftest import rows_of
from tests.normalize.test_user_name_guess import chats_with, export
from tiktok_portability.lake import Lake
from tiktok_portability.lake.batch import ArchiveStage
from tiktok_portability.lake.normalizer import DefaultNormalizer

DAY = "2026-02-01"
ROWS = 5  # batch rows: messages fill batches before the profile is read


class WithoutGuessing(DefaultNormalizer):
    """Messages wait for the profile: the rows to expect."""

    def normalize(self, path, ref, summary, *, restart=None):
        return super().normalize(path, ref, summary)


def load(folder: Path, archives: dict[str, Path], normalizer: DefaultNormalizer) -> Lake:
    lake = Lake.from_uri(str(folder), normalizer=normalizer)
    refs = [lake.raw.put_archive(oid, DAY, n, path) for n, (oid, path) in enumerate(archives.items())]
    result = lake.normalize_batch(refs, DAY)
    assert result.errors == []
    return lake


def test_archives_started_over_hold_their_rows_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    chats = chats_with("ann", "bob", "cy")
    for folder in ("u1", "u2", "u3"):
        (tmp_path / folder).mkdir()
    archives = {
        # The biggest archive goes first and writes straight into the batch's files; the others
        # are staged.
        "u1": export(tmp_path / "u1", chats, profile_name="someone.renamed"),
        "u2": export(tmp_path / "u2", chats),
        "u3": export(tmp_path / "u3", chats, profile_name=None),
    }
    resets: list[str] = []
    reset = ArchiveStage.reset

    def counted(stage: ArchiveStage) -> None:
        resets.append(stage.ref.open_id)
        reset(stage)

    monkeypatch.setattr(ArchiveStage, "reset", counted)
    guessed = load(tmp_path / "guessed", archives, DefaultNormalizer(batch_rows=ROWS))
    assert resets == ["u1", "u3"]
    expected = load(tmp_path / "held", archives, WithoutGuessing(batch_rows=ROWS))
    assert guessed.tables() == expected.tables()
    for table in expected.tables():
        assert rows_of(guessed, table) == rows_of(expected, table), table
    directions = {(r["open_id"], r["direction"]) for r in guessed.read_table("dm_messages").to_pylist()}
    assert directions == {("u1", "received"), ("u2", "sent"), ("u2", "received"), ("u3", None)}
