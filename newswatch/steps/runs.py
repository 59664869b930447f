"""What a whole run needs around the steps: ingest in one go, shard results, run summaries, retention,
alerts. Both the DAGs and the CLI call these."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from newswatch import feedhealth
from newswatch.config import FeedConfig
from newswatch.errors import AlertsFailed
from newswatch.runtime import Runtime
from newswatch.staging import new_batch_id, prune_batches
from newswatch.steps.fetch import fetch_batch, fetch_entries
from newswatch.steps.indexing import index_batches
from newswatch.steps.poll import Report, poll_feeds, poll_shard

log = logging.getLogger(__name__)


def list_shards(shards: int) -> list[int]:
    """Shard numbers for dynamic task mapping (a handful, far below ``max_map_length``)."""
    return list(range(max(1, shards)))


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


def index_fetched(rt: Runtime, fetched: Any) -> dict[str, Any]:
    """Index the batches of every shard that fetched (see ``shard_results``), in one step."""
    return index_batches(rt, [f["batch"] for f in shard_results(fetched)])


def ingest(rt: Runtime, feeds: Sequence[FeedConfig], *, force: bool = False,
           on_report: Callable[[Report], None] | None = None) -> dict[str, Any]:
    """Poll, fetch, tag and index in one go, on the same staged, replayable road as a DAG run.

    The entries are staged before the feeds' state moves on, so when anything fails later (Elasticsearch
    down mid-fetch, say) the batch stays staged and the next ``ingest`` or ``poll`` replays it. In a dry
    run nothing is written anywhere and every entry counts as new.
    """
    if rt.dry_run:
        polled, entries = poll_feeds(rt, feeds, force=True, on_report=on_report)
        polled["invalid_feeds"] = len(rt.skipped_feeds)
        for bad in rt.skipped_feeds:
            if on_report:
                on_report(bad)
        got = fetch_entries(rt, entries, on_report=on_report)
        return {"poll": polled, "fetch": {"entries": len(entries), "articles": len(got.articles),
                                          "failed": len(got.failures), "skipped": got.skipped,
                                          "error_classes": dict(got.errors)}}
    batch = new_batch_id("ingest")
    polled = poll_shard(rt, batch, feeds=feeds, force=force, on_report=on_report)
    fetched = fetch_batch(rt, batch, on_report=on_report)
    return {"poll": polled, "fetch": fetched, "index": index_batches(rt, [batch])}


def prune_staging(rt: Runtime, keep_days: float | None = None) -> dict[str, Any]:
    """Delete finished batches older than the retention; list (and log) the never-indexed ones kept."""
    keep = rt.settings.staging_keep_days if keep_days is None else keep_days
    result = prune_batches(rt.staging, datetime.now(UTC) - timedelta(days=keep))
    if result["kept"]:
        log.warning("%d staged batches past the retention were never indexed and are kept for a replay: %s",
                    len(result["kept"]), ", ".join(result["kept"][:20]))
    return {**result, "keep_days": keep}


HEALTH_COLUMNS = ("url", "last_status", "last_success", "consecutive_failures", "last_error_class",
                  "items_per_day", "articles_ok", "articles_failed", "next_due")


def summarize_run(rt: Runtime, shards: Sequence[int], polled: Any, fetched: Any,
                  indexed: dict[str, Any] | None) -> dict[str, Any]:
    """Totals of a poll run plus the per-feed health table, logged for the Airflow UI.

    ``polled`` and ``fetched`` hold the results of the shards whose poll (fetch) task succeeded, in any
    shape ``shard_results`` takes; ``indexed`` is None when indexing failed. A shard without a fetch result
    is counted in ``shards_failed``.
    """
    polled, fetched, indexed = shard_results(polled), shard_results(fetched), indexed or {}
    keys = ("feeds", "polled", "ok", "not_modified", "errors", "new_entries", "backlog", "replayed")
    totals: dict[str, Any] = {k: sum(int(p.get(k, 0)) for p in polled) for k in keys}
    totals["shards"] = len(shards)
    totals["shards_failed"] = len(shards) - len(fetched)
    totals["articles"] = sum(int(f.get("articles", 0)) for f in fetched)
    totals["fetch_failed"] = sum(int(f.get("failed", 0)) for f in fetched)
    for k in ("indexed", "duplicates", "core", "related", "none"):
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
    health = feedhealth.feed_rows(rt.es, rt.settings, fields=HEALTH_COLUMNS)
    totals["feeds_health"] = health
    for row in health:
        log.info("feed %-60s status=%s fails=%s last_error=%s items/day=%s ok/failed=%s/%s", row.get("url"),
                 row.get("last_status"), row.get("consecutive_failures"), row.get("last_error_class"),
                 row.get("items_per_day"), row.get("articles_ok", 0), row.get("articles_failed", 0))
    return totals


def _recipients(rt: Runtime, recipients_file: str | None) -> list[Any]:
    from newswatch.config import load_recipients

    return load_recipients(Path(recipients_file) if recipients_file else rt.settings.recipients_path)


def send_alerts(rt: Runtime, recipients_file: str | None = None, *, strict: bool = True) -> dict[str, Any]:
    """What is due now: retries, first alerts, follow-ups, folds, backlog digests, spikes, feed incidents
    (``config/recipients.yaml``; idempotent). With ``strict``, a run in which a send failed raises
    ``AlertsFailed`` (carrying the counts) after every other message went out, so its task is retried."""
    from newswatch import alerts, clients

    settings = rt.settings
    recipients = _recipients(rt, recipients_file)
    rt.ensure_indices()
    summary = alerts.run_alerts(settings, rt.es, lambda: clients.smtp_connect(settings), recipients)
    if strict and summary["failed"]:
        raise AlertsFailed(summary, "alerts")
    return summary


def send_digests(rt: Runtime, recipients_file: str | None = None, *, period: str | None = None,
                 strict: bool = True) -> dict[str, Any]:
    """The digests due now, one per recipient and period (idempotent); raises ``AlertsFailed`` as above."""
    from newswatch import alerts, clients

    settings = rt.settings
    recipients = _recipients(rt, recipients_file)
    rt.ensure_indices()
    summary = alerts.run_digests(settings, rt.es, lambda: clients.smtp_connect(settings), recipients,
                                 period=period)
    if strict and summary["failed"]:
        raise AlertsFailed(summary, "digests")
    return summary


def notify_failure(rt: Runtime, failure: Any, recipients_file: str | None = None) -> dict[str, Any]:
    """Email the operators once about a failed task or run (``alerts.failures.Failure``); what an
    ``on_failure_callback`` runs. A missing recipients file or an unreachable Elasticsearch never stops the
    notice: without Elasticsearch it is sent unclaimed. Returns the counts (``alerts.notify_task_failure``)."""
    from newswatch import clients
    from newswatch.alerts.failures import notify_task_failure

    settings = rt.settings
    recipients = _recipients(rt, recipients_file)
    es = None
    try:
        rt.ensure_indices()
        es = rt.es
    except Exception as exc:  # Elasticsearch may be what failed: tell the operators anyway
        log.warning("failure notice without a claim: Elasticsearch unavailable (%s)", type(exc).__name__)
    return notify_task_failure(settings, es, lambda: clients.smtp_connect(settings), recipients, failure)


def alert_stats(rt: Runtime, since: str | None = None) -> dict[str, Any]:
    """Messages per type and outcome, and publish/fetch → send latency percentiles."""
    from newswatch import alerts

    rt.ensure_indices()
    return alerts.alert_stats(rt.es, rt.settings, since=since)
