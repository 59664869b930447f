"""Staged batches: written idempotently, read back, pruned after the retention."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from newswatch.cli import main
from newswatch.staging import prune_batches, read_records, write_records


def _age(folder: Path, days: float) -> None:
    then = time.time() - days * 86400
    for f in folder.iterdir():
        os.utime(f, (then, then))


def test_write_is_idempotent_and_reads_back(tmp_path: Path) -> None:
    write_records(tmp_path, "b1", "entries", [{"url": "a"}, {"url": "b"}])
    write_records(tmp_path, "b1", "entries", [{"url": "a"}, {"url": "b"}])
    assert [r["url"] for r in read_records(tmp_path, "b1", "entries")] == ["a", "b"]
    assert list(read_records(tmp_path, "missing", "entries")) == []


def test_prune_deletes_only_indexed_batches_older_than_the_cutoff(tmp_path: Path) -> None:
    for batch, days, indexed in (("old", 10, True), ("recent", 1, True), ("half", 10, True),
                                 ("never-indexed", 30, False)):
        write_records(tmp_path, batch, "entries", [{"url": batch}])
        if indexed:
            write_records(tmp_path, batch, "indexed", [{"indexed_at": "…"}])
        _age(tmp_path / batch, days)
    os.utime(tmp_path / "half" / "indexed.jsonl")  # indexed just now: the batch is still in use
    (tmp_path / "stray.txt").write_text("not a batch")
    result = prune_batches(tmp_path, datetime.now(UTC) - timedelta(days=7))
    # a batch whose fetch or indexing failed is kept for a replay, however old
    assert result == {"deleted": ["old"], "kept": ["never-indexed"]}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["half", "never-indexed", "recent", "stray.txt"]
    assert prune_batches(tmp_path / "nothing-here", datetime.now(UTC)) == {"deleted": [], "kept": []}


def test_prune_keeps_batches_of_unknown_age(tmp_path: Path) -> None:
    """Some object stores report no modification time (0): such a batch is not taken for ancient."""
    write_records(tmp_path, "b", "entries", [{"url": "x"}])
    write_records(tmp_path, "b", "indexed", [{}])
    for f in (tmp_path / "b").iterdir():
        os.utime(f, (0, 0))
    assert prune_batches(tmp_path, datetime.now(UTC) - timedelta(days=7)) == {"deleted": [], "kept": ["b"]}


def test_cli_staging_prune(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("NEWSWATCH_VAR_DIR", str(tmp_path))
    write_records(tmp_path / "staging", "old", "entries", [{"url": "x"}])
    write_records(tmp_path / "staging", "old", "indexed", [{}])
    _age(tmp_path / "staging" / "old", 3)
    kept = CliRunner().invoke(main, ["staging", "prune", "--json"])
    assert kept.exit_code == 0 and json.loads(kept.output) == {"deleted": [], "kept": [], "keep_days": 7.0}
    gone = CliRunner().invoke(main, ["staging", "prune", "--keep-days", "2", "--json"])
    assert gone.exit_code == 0 and json.loads(gone.output)["deleted"] == ["old"]
    assert CliRunner().invoke(main, ["staging", "prune", "--keep-days", "0"]).exit_code == 2


def test_unfinished_batches_are_owned_by_one_shard_whatever_their_origin(tmp_path: Path) -> None:
    """Defect: replay was keyed on the shard number in the batch id, so batches of shards that vanished when
    NEWSWATCH_SHARDS shrank, and CLI batches, were never replayed. Ownership is now a hash of the batch id
    under the current shard count: every unfinished batch has exactly one owner."""
    from newswatch.staging import replay_owner, unfinished_batches

    def batch(name: str, *markers: str) -> None:
        write_records(tmp_path, name, "entries", [{"id": name}])
        for m in markers:
            write_records(tmp_path, name, m, [{}])

    batch("scheduled__1-s0")                # fetch failed for good: to replay
    batch("scheduled__2-s0", "indexed")     # done
    batch("scheduled__3-s0", "replayed")    # already taken over by a later batch
    batch("scheduled__1-s7")                # a shard that no longer exists (NEWSWATCH_SHARDS was 8)
    batch("scheduled__4-s0")                # the current run's own batches
    batch("scheduled__4-s1")
    batch("cli-20250101T000000Z")           # a CLI batch whose fetch failed
    (tmp_path / "scheduled__5-s0").mkdir()  # a poll that staged nothing
    todo = {"scheduled__1-s0", "scheduled__1-s7", "cli-20250101T000000Z"}
    for shards in (1, 2, 3):
        found = [unfinished_batches(tmp_path, current="scheduled__4-s0", shard=k, shards=shards)
                 for k in range(shards)]
        assert sorted(b for part in found for b in part) == sorted(todo)  # each exactly once
        for k, part in enumerate(found):
            assert all(replay_owner(b, shards) == k for b in part)
    assert unfinished_batches(tmp_path / "none", current="x-s0") == []


@pytest.mark.parametrize("bad", ["../outside", "a/b", "..", ".hidden", "", "x" * 201, "a\\b", "/abs"])
def test_batch_ids_that_leave_the_staging_root_are_refused(tmp_path: Path, bad: str) -> None:
    """Defect: `newswatch fetch --batch ../x` wrote a file outside the staging folder."""
    from newswatch.errors import StagingError

    with pytest.raises(StagingError):
        write_records(tmp_path / "staging", bad, "articles", [{"id": 1}])
    with pytest.raises(StagingError):
        list(read_records(tmp_path / "staging", bad, "entries"))
    assert not (tmp_path / "outside").exists() and not (tmp_path / "articles.jsonl").exists()


def test_cli_refuses_a_batch_outside_staging(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("NEWSWATCH_VAR_DIR", str(tmp_path / "var"))
    for argv in (["fetch", "--batch", "../escape"], ["index", "--batch", "../escape"],
                 ["poll", "--batch", "../escape", "--feeds", str(tmp_path / "none.yaml")]):
        result = CliRunner().invoke(main, argv)
        assert result.exit_code == 1, (argv, result.output)
        assert "invalid batch id" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) in ([], ["var"])


def test_a_staged_file_appears_whole_or_not_at_all(tmp_path: Path) -> None:
    def records():
        yield {"id": 1}
        raise RuntimeError("crash mid-write")

    with pytest.raises(RuntimeError):
        write_records(tmp_path, "b", "entries", records())
    assert not (tmp_path / "b" / "entries.jsonl").exists()
