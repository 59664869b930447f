"""Staging of batches between steps, and their replay: article bodies travel through files, never XCom.

This module owns the staging layout:

- ``staging_root(spec)`` is the one translation of ``NEWSWATCH_STAGING_URL`` (or ``<var_dir>/staging``)
  to a path object, used by the DAGs and the CLI alike: a ``pathlib.Path`` for a local folder, a
  ``upath.UPath`` (universal-pathlib, the base of Airflow's ``ObjectStoragePath``) for ``s3://``, ``gs://``…
- A batch is a folder named by its id holding JSON Lines files: ``entries`` (staged by a poll),
  ``articles`` and ``failures`` (by its fetch), and the markers ``indexed`` (its articles are in
  Elasticsearch) or ``replayed`` (a later batch took its entries over). Writing a file again replaces it,
  so re-running a step is idempotent. Every batch id is checked (``check_batch_id``) wherever a batch is
  named, so no id can reach outside the staging root.
- Replay: a batch that was staged but never finished (its fetch or indexing failed after every retry) is
  taken over by a later poll. Which poll takes it depends only on the batch id and the current number of
  shards (``replay_owner``), so batches of shards that no longer exist and CLI batches are replayed too.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from newswatch.errors import StagingError

# A pathlib.Path, a UPath or Airflow's ObjectStoragePath: anything with `/`, open(), exists() and mkdir().
PathLike = Any

ENTRIES = "entries"
ARTICLES = "articles"
FAILURES = "failures"
INDEXED = "indexed"  # marker: the batch is indexed and may be pruned
REPLAYED = "replayed"  # marker: a never-indexed batch whose entries a later batch took over
DONE_MARKERS = (INDEXED, REPLAYED)
_FILES = frozenset({ENTRIES, ARTICLES, FAILURES, INDEXED, REPLAYED})

_BATCH_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,199}")


def staging_root(spec: str) -> PathLike:
    """The path object for a staging location: a local folder, or a UPath for an object-storage URL."""
    if "://" in spec and not spec.startswith("file://"):
        from upath import UPath  # universal-pathlib: s3://, gs://, memory://… through fsspec

        return UPath(spec)
    return Path(spec.removeprefix("file://"))


def new_batch_id(prefix: str = "cli") -> str:
    return f"{prefix}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%fZ')}"


def safe_batch_id(raw: str) -> str:
    """Turn a run id such as ``manual__2024-11-01T00:00:00+00:00`` into a folder-safe batch id."""
    return check_batch_id(re.sub(r"[^A-Za-z0-9_.-]+", "_", raw).strip("_.")[:200])


def check_batch_id(batch: str) -> str:
    """``batch`` if it is a plain folder name (letters, digits, ``_.+-``; no ``/``, no ``..``); else
    ``StagingError``. Called wherever a batch is named, so ``--batch ../x`` never leaves the staging root."""
    if not isinstance(batch, str) or not _BATCH_ID.fullmatch(batch) or ".." in batch:
        raise StagingError(f"invalid batch id {batch!r}: use letters, digits and _.+- only")
    return batch


def batch_dir(base: PathLike, batch: str) -> PathLike:
    return base / check_batch_id(batch)


def _file(base: PathLike, batch: str, name: str) -> PathLike:
    if name not in _FILES:
        raise StagingError(f"unknown staged file {name!r}")
    return batch_dir(base, batch) / f"{name}.jsonl"


def write_records(base: PathLike, batch: str, name: str, records: Iterable[Any]) -> int:
    """Write ``records`` (dicts or pydantic models) as the batch's ``name`` file, replacing it.

    The file appears whole or not at all: it is written under a temporary name and renamed, so a crash
    mid-write never leaves a truncated batch that a replay would take for complete.
    """
    path = _file(base, batch, name)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f".{name}.jsonl.tmp"
        count = 0
        with tmp.open("w", encoding="utf-8") as fh:
            for rec in records:
                # a record's own fields: what it derives (an article's packed vector, its claims JSON) is
                # derived again when it is read back and stored, never read from the batch
                data = (rec.model_dump(mode="json", exclude=set(type(rec).model_computed_fields))
                        if hasattr(rec, "model_dump") else rec)
                fh.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")
                count += 1
        tmp.rename(path)
    except OSError as exc:
        raise StagingError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return count


def read_records(base: PathLike, batch: str, name: str) -> Iterator[dict[str, Any]]:
    """The records of a staged file, streamed (nothing when the file does not exist)."""
    path = _file(base, batch, name)
    if not path.exists():
        return
    with path.open("r", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def has_file(base: PathLike, batch: str, name: str) -> bool:
    return bool(_file(base, batch, name).exists())


def mark(base: PathLike, batch: str, marker: str, **info: Any) -> None:
    """Write a done marker (``INDEXED`` or ``REPLAYED``) with a timestamp."""
    if marker not in DONE_MARKERS:
        raise StagingError(f"unknown marker {marker!r}")
    write_records(base, batch, marker, [{"at": datetime.now(UTC).isoformat(), **info}])


def is_finished(folder: PathLike) -> bool:
    """Whether a batch folder is done with: indexed, or taken over by a later batch."""
    return any((folder / f"{marker}.jsonl").exists() for marker in DONE_MARKERS)


def run_of(batch: str) -> str:
    """The run a DAG batch belongs to (``<run>-s<shard>``); a CLI batch is its own run."""
    head, sep, tail = batch.rpartition("-s")
    return head if sep and tail.isdigit() else batch


def replay_owner(batch: str, shards: int) -> int:
    """The shard that replays ``batch``: a hash of its id, so ownership needs no shard number in the id and
    holds whatever ``NEWSWATCH_SHARDS`` is now (batches of vanished shards and CLI batches included)."""
    return int(hashlib.sha1(batch.encode()).hexdigest()[:8], 16) % max(shards, 1)


def unfinished_batches(base: PathLike, *, current: str, shard: int = 0, shards: int = 1) -> list[str]:
    """Staged batches never indexed nor replayed, that ``shard`` of ``shards`` takes over (``replay_owner``).

    Batches of ``current``'s own run are skipped (they are being processed now), as are folders without
    entries (a poll that staged nothing).
    """
    if not base.exists():
        return []
    run = run_of(current)
    found = []
    for folder in sorted(base.iterdir(), key=str):
        name = folder.name
        if (not folder.is_dir() or not _BATCH_ID.fullmatch(name) or run_of(name) == run
                or replay_owner(name, shards) != shard or not (folder / f"{ENTRIES}.jsonl").exists()):
            continue
        if not is_finished(folder):
            found.append(name)
    return found


def newest_batch(base: PathLike, name: str = ARTICLES) -> str | None:
    """The most recently written batch holding ``name`` (the default of ``newswatch index``)."""
    if not base.exists():
        return None
    files = [f for f in base.glob(f"*/{name}.jsonl")]
    if not files:
        return None
    return str(max(files, key=lambda p: p.stat().st_mtime).parent.name)


def prune_batches(base: PathLike, older_than: datetime) -> dict[str, list[str]]:
    """Delete the finished batch folders under ``base`` whose newest file is older than ``older_than``.

    A batch is deleted only once it is finished (``is_finished``): a batch whose fetch or indexing failed is
    kept for a replay however old it is, and listed under ``kept``. So is a batch whose files report no
    modification time (some object stores), since its age is unknown.
    Returns ``{"deleted": [...], "kept": [...]}`` (batch ids; ``kept`` lists only batches past the cutoff).
    """
    result: dict[str, list[str]] = {"deleted": [], "kept": []}
    if not base.exists():
        return result
    cutoff = older_than.timestamp()
    for folder in sorted(base.iterdir(), key=str):
        if not folder.is_dir():
            continue
        files = [f for f in folder.iterdir() if f.is_file()]
        times = [f.stat().st_mtime for f in files]
        if not files or any(t >= cutoff for t in times):
            continue
        if not all(times) or not is_finished(folder):
            result["kept"].append(folder.name)
            continue
        for f in files:
            f.unlink()
        try:
            folder.rmdir()
        except OSError:  # object stores have no real folders; an empty prefix is already gone
            pass
        result["deleted"].append(folder.name)
    return result
