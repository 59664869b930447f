"""The pipeline steps: what Airflow tasks and CLI verbs call, each with a ``Runtime`` first.

Each step returns a small JSON-able summary of ids and counts (never article bodies): article bodies
travel through staged batches (``newswatch.staging``). Every step is idempotent: documents have
deterministic ids and a staged file written again is replaced.

    poll_shard ──entries──▶ fetch_batch ──articles──▶ index_batches ──▶ Elasticsearch ──▶ send_alerts

=================  =========================================================================
module             owns
=================  =========================================================================
``poll``           polling a shard's feeds, staging new entries, the backlog, replay
``fetch``          downloading and extracting pages, raw HTML, extraction health
``indexing``       tagging, story clustering, chunked bulk writes, ``index --file``
``reprocess``      re-extraction from stored HTML, re-tagging from stored text
``runs``           ingest in one go, shard results, run summaries, retention, alerts
=================  =========================================================================
"""

from __future__ import annotations

from newswatch.steps.fetch import fetch_and_extract, fetch_batch, fetch_entries
from newswatch.steps.indexing import index_articles, index_batches, index_file, tag_record
from newswatch.steps.poll import poll_feed, poll_feeds, poll_shard
from newswatch.steps.reprocess import reprocess, retag
from newswatch.steps.runs import (
    alert_stats,
    index_fetched,
    ingest,
    list_shards,
    notify_failure,
    prune_staging,
    send_alerts,
    send_digests,
    shard_results,
    summarize_run,
)

__all__ = [
    "fetch_and_extract", "fetch_batch", "fetch_entries", "index_articles", "index_batches", "index_fetched",
    "index_file", "ingest", "list_shards", "notify_failure", "poll_feed", "poll_feeds", "poll_shard", "prune_staging",
    "reprocess", "retag", "send_alerts", "send_digests", "alert_stats", "shard_results", "summarize_run", "tag_record",
]
