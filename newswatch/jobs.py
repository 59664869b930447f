"""Entry points for schedulers (Airflow tasks): build settings and clients, run one step, return counts.

Kept apart from ``steps`` so that steps take their clients as arguments (testable with any client) while a
task body stays one call. Nothing here imports Airflow; the DAG passes its ``ObjectStoragePath`` in.
"""

from __future__ import annotations

import logging
from contextlib import closing
from typing import Any

from newswatch import index, steps
from newswatch.settings import Settings
from newswatch.staging import PathLike, staging_root

log = logging.getLogger(__name__)


def _staging(settings: Settings, staging: PathLike | None) -> PathLike:
    return staging if staging is not None else staging_root(settings.staging)


def list_shards(shards: int) -> list[int]:
    """Shard numbers for dynamic task mapping (a handful, far below ``max_map_length``)."""
    return list(range(max(1, shards)))


def poll_shard(shard: int, shards: int, batch: str, *, staging: PathLike | None = None,
               force: bool = False) -> dict[str, Any]:
    from newswatch.config import load_feeds

    settings = Settings()
    root = _staging(settings, staging)
    if (root / batch / f"{steps.ENTRIES}.jsonl").exists():
        # A retried or cleared task: the first attempt already moved the feeds' validators and due times,
        # so polling again would stage nothing. Its staged entries are the batch.
        staged = len(steps.entries_of(root, batch))
        return {"batch": batch, "shard": shard, "reused": True, "new_entries": staged}
    feeds = load_feeds(settings.feeds_path, base_url=f"http://127.0.0.1:{settings.demo_port}")
    # entries of this shard's earlier batches whose fetch or indexing failed for good are fetched again now
    replay = steps.unfinished_batches(root, shard, current=batch)
    with closing(index.make_es(settings)) as es, steps.http_client(settings) as http:
        index.ensure_indices(es, settings)
        return steps.poll_feeds(settings, es, http, feeds, staging=root, batch=batch,
                                shard=shard, shards=shards, force=force, replay=replay)


def fetch_batch(batch: str, *, staging: PathLike | None = None) -> dict[str, Any]:
    settings = Settings()
    root = _staging(settings, staging)
    with closing(index.make_es(settings)) as es, steps.http_client(settings) as http:
        return steps.fetch_articles(settings, es, http, steps.entries_of(root, batch), staging=root, batch=batch)


def shard_results(pulled: Any) -> list[dict[str, Any]]:
    """The per-shard results Airflow hands a task: a list, one bare dict, or None; failed shards left out.

    (An XCom pull over a mapped task group's task returns a single value when exactly one shard got
    through, and None when none did.)
    """
    if pulled is None:
        return []
    if isinstance(pulled, dict):
        return [pulled]
    return [r for r in pulled if isinstance(r, dict)]


def index_batches(fetched: Any, *, staging: PathLike | None = None) -> dict[str, Any]:
    """Index the batches of every shard that fetched (see ``shard_results``), in one task."""
    batches = [f["batch"] for f in shard_results(fetched)]
    settings = Settings()
    with closing(index.make_es(settings)) as es:
        return steps.index_batch(settings, es, _staging(settings, staging), batches)


def prune_staging(*, staging: PathLike | None = None) -> dict[str, Any]:
    """Delete indexed batches older than ``NEWSWATCH_STAGING_KEEP_DAYS``; say which old ones are kept."""
    from datetime import UTC, datetime, timedelta

    from newswatch.staging import prune_batches

    settings = Settings()
    cutoff = datetime.now(UTC) - timedelta(days=settings.staging_keep_days)
    result = prune_batches(_staging(settings, staging), cutoff)
    if result["kept"]:
        log.warning(
            "%d staged batches past the retention were never indexed and are kept for a replay: %s",
            len(result["kept"]), ", ".join(result["kept"][:20]))
    return {"deleted": len(result["deleted"]), "kept_unindexed": len(result["kept"]),
            "keep_days": settings.staging_keep_days}


def feed_health() -> list[dict[str, Any]]:
    """Per-feed health rows for run summaries (no secrets, no bodies)."""
    settings = Settings()
    keep = ("url", "last_status", "last_success", "consecutive_failures", "last_error_class", "items_per_day",
            "articles_ok", "articles_failed", "next_due")
    with closing(index.make_es(settings)) as es:
        return index.feed_rows(es, settings, fields=keep)


def send_alerts() -> dict[str, Any]:
    from newswatch import alerts
    from newswatch.config import load_recipients

    settings = Settings()
    recipients = load_recipients(settings.config_dir / "recipients.yaml")
    with closing(index.make_es(settings)) as es:
        index.ensure_indices(es, settings)
        return alerts.send_alerts(settings, es, lambda: alerts.smtp_connect(settings), recipients)


def reprocess(ids: list[str] | None = None) -> dict[str, Any]:
    settings = Settings()
    with closing(index.make_es(settings)) as es:
        return steps.reprocess(settings, es, ids, on_progress=lambda totals: log.info("reprocess: %s", totals))


def summarize_run(shards: list[int], polled: Any, fetched: Any, indexed: dict[str, Any] | None) -> dict[str, Any]:
    """Totals of a poll run plus the per-feed health table, logged for the Airflow UI.

    ``polled`` and ``fetched`` hold the results of the shards whose poll (fetch) task succeeded, in any
    shape ``shard_results`` takes; ``indexed`` is None when indexing failed. A shard without a fetch result
    is counted in ``shards_failed``.
    """
    polled, fetched, indexed = shard_results(polled), shard_results(fetched), indexed or {}
    keys = ("feeds", "polled", "ok", "not_modified", "errors", "new_entries")
    totals: dict[str, Any] = {k: sum(int(p.get(k, 0)) for p in polled) for k in keys}
    totals["shards"] = len(shards)
    totals["shards_failed"] = len(shards) - len(fetched)
    totals["articles"] = sum(int(f.get("articles", 0)) for f in fetched)
    totals["fetch_failed"] = sum(int(f.get("failed", 0)) for f in fetched)
    for k in ("indexed", "core", "related", "none"):
        totals[k] = int(indexed.get(k, 0))
    errors: dict[str, int] = {}
    for part in (*polled, *fetched):
        for cls, n in (part.get("error_classes") or {}).items():
            errors[cls] = errors.get(cls, 0) + int(n)
    totals["error_classes"] = errors
    if totals["shards_failed"]:
        log.error("%d of %d shards failed; a failed poll leaves its feeds due, a failed fetch's staged entries "
                  "are replayed by the next run (or clear the failed task to replay them now)",
                  totals["shards_failed"], len(shards))
    if not indexed:
        log.error("indexing failed: the next run replays this run's staged entries")
    log.info("run totals: %s", totals)
    health = feed_health()
    totals["feeds_health"] = health
    for row in health:
        log.info("feed %-60s status=%s fails=%s last_error=%s items/day=%s ok/failed=%s/%s", row.get("url"),
                 row.get("last_status"), row.get("consecutive_failures"), row.get("last_error_class"),
                 row.get("items_per_day"), row.get("articles_ok", 0), row.get("articles_failed", 0))
    return totals
