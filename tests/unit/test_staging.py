"""Staged batches: written idempotently, read back, pruned after the retention."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

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


def test_prune_deletes_only_batches_older_than_the_cutoff(tmp_path: Path) -> None:
    for batch, days in (("old", 10), ("recent", 1), ("half", 10)):
        write_records(tmp_path, batch, "entries", [{"url": batch}])
        write_records(tmp_path, batch, "articles", [{"url": batch}])
        _age(tmp_path / batch, days)
    os.utime(tmp_path / "half" / "articles.jsonl")  # fetched just now: the batch is still in use
    (tmp_path / "stray.txt").write_text("not a batch")
    deleted = prune_batches(tmp_path, datetime.now(UTC) - timedelta(days=7))
    assert deleted == ["old"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["half", "recent", "stray.txt"]
    assert prune_batches(tmp_path / "nothing-here", datetime.now(UTC)) == []


def test_cli_staging_prune(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("NEWSWATCH_VAR_DIR", str(tmp_path))
    write_records(tmp_path / "staging", "old", "entries", [{"url": "x"}])
    _age(tmp_path / "staging" / "old", 3)
    kept = CliRunner().invoke(main, ["staging", "prune", "--json"])
    assert kept.exit_code == 0 and json.loads(kept.output) == {"deleted": [], "keep_days": 7.0}
    gone = CliRunner().invoke(main, ["staging", "prune", "--keep-days", "2", "--json"])
    assert gone.exit_code == 0 and json.loads(gone.output)["deleted"] == ["old"]
