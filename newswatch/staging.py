"""Staging of batches between tasks: article bodies travel through files, never through XCom.

``base`` is any path object with the ``pathlib`` API: a ``pathlib.Path`` from the CLI, Airflow's
``ObjectStoragePath`` (local by default, ``s3://…`` or ``gs://…`` in production) from the DAGs, so the
core stays Airflow-free. A batch is a folder named by its id holding JSON Lines files; writing a file
again replaces it, so re-running a task is idempotent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# A pathlib.Path, a UPath or Airflow's ObjectStoragePath: anything with `/`, open(), exists() and mkdir().
PathLike = Any


def staging_root(spec: str) -> PathLike:
    """A path object for the staging location: local folder, or a UPath for object storage URLs."""
    if "://" in spec and not spec.startswith("file://"):
        from upath import UPath  # universal-pathlib, the base of Airflow's ObjectStoragePath

        return UPath(spec)
    return Path(spec.removeprefix("file://"))


def new_batch_id(prefix: str = "cli") -> str:
    return f"{prefix}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%fZ')}"


def safe_batch_id(raw: str) -> str:
    """Turn a run id such as ``manual__2024-11-01T00:00:00+00:00`` into a folder-safe batch id."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", raw).strip("_")[:200]


def write_records(base: PathLike, batch: str, name: str, records: Iterable[dict[str, Any]]) -> int:
    folder = base / batch
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    with (folder / f"{name}.jsonl").open("w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False, default=str) + "\n")
            count += 1
    return count


def read_records(base: PathLike, batch: str, name: str) -> Iterator[dict[str, Any]]:
    path = base / batch / f"{name}.jsonl"
    if not path.exists():
        return
    with path.open("r", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


INDEXED = "indexed"  # marker: the batch is indexed and may be pruned
REPLAYED = "replayed"  # marker: a never-indexed batch whose entries a later batch took over
DONE_MARKERS = (INDEXED, REPLAYED)


def is_finished(folder: PathLike) -> bool:
    """Whether a batch folder is done with: indexed, or taken over by a later batch."""
    return any((folder / f"{marker}.jsonl").exists() for marker in DONE_MARKERS)


def prune_batches(base: PathLike, older_than: datetime) -> dict[str, list[str]]:
    """Delete the indexed batch folders under ``base`` whose newest file is older than ``older_than``.

    A batch is deleted only once it is finished (``indexed.jsonl``, written when it was indexed, or
    ``replayed.jsonl``, when a later batch took over its entries; see ``is_finished``): a batch whose fetch or
    indexing failed is kept for a replay however old it is, and listed under ``kept``. So is
    a batch whose files report no modification time (some object stores), since its age is unknown.
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
