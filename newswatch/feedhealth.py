"""Feed health: per-feed extraction counters (pages extracted, failed, body characters), and the rows
``newswatch feeds status`` and run summaries show (feed state joined with those counters).

Each fetch batch writes one ``FeedHealth`` document per feed, id ``<feed id>:<batch>`` (index
``<prefix>-feedhealth``): a retried fetch task overwrites its own documents, so nothing is counted twice,
and concurrent writers never touch the same document — no read-modify-write, no compare-and-set loop.
(A scripted update with ``retry_on_conflict`` was the other way; the local Elasticsearch build has no
scripting — ``script_lang not supported [painless]`` — so counters are summed at read time instead.)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch

from newswatch.index import bulk_upsert, doc_id, index_name, iter_hits, write_alias
from newswatch.records import Article, Failure, FeedHealth
from newswatch.settings import Settings


def batch_health(batch: str, articles: Iterable[Article], failures: Iterable[Failure]) -> list[FeedHealth]:
    """One ``FeedHealth`` per feed that had pages in this batch."""
    now = datetime.now(UTC).isoformat()
    per_feed: dict[str, FeedHealth] = defaultdict(lambda: FeedHealth(feed_url="", batch=batch, at=now))
    for art in articles:
        if art.feed_url:
            h = per_feed[art.feed_url]
            h.ok += 1
            h.chars += art.chars
    for fail in failures:
        if fail.feed_url:
            per_feed[fail.feed_url].failed += 1
    return [h.model_copy(update={"feed_url": url}) for url, h in per_feed.items()]


def record_extraction_health(es: Elasticsearch, settings: Settings, batch: str, articles: Iterable[Article],
                             failures: Iterable[Failure]) -> int:
    """Store the batch's extraction outcomes; idempotent per batch. Returns how many feeds were counted."""
    reports = batch_health(batch, articles, failures)
    docs = [(f"{doc_id(r.feed_url)}:{r.batch}", r.doc()) for r in reports]
    if docs:
        bulk_upsert(es, write_alias(settings, "feedhealth"), docs)
        es.indices.refresh(index=write_alias(settings, "feedhealth"))  # `feeds status` right after sees it
    return len(docs)


HEALTH_FIELDS = ("articles_ok", "articles_failed", "body_chars_total")


def feed_rows(es: Elasticsearch, settings: Settings, fields: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The feed-state documents by URL, with their extraction counters: what ``feeds status`` and run
    summaries show. The counters are sums over the feed's ``feedhealth`` documents (0 until a page of the
    feed was fetched)."""
    want = set(fields) if fields else None
    hits = iter_hits(es, index_name(settings, "feeds"), {"match_all": {}}, [{"url": "asc"}],
                     source=[f for f in fields if f not in HEALTH_FIELDS] if fields else None,
                     source_excludes=["backlog"])
    rows = [dict(h["_source"]) for h in hits]  # every feed, a page at a time
    if want is None or want & set(HEALTH_FIELDS):
        health = es.search(index=index_name(settings, "feedhealth"), size=0, aggs={"feeds": {
            "terms": {"field": "feed_url", "size": 10000},
            "aggs": {"ok": {"sum": {"field": "ok"}}, "failed": {"sum": {"field": "failed"}},
                     "chars": {"sum": {"field": "chars"}}}}})
        sums = {b["key"]: (int(b["ok"]["value"]), int(b["failed"]["value"]), int(b["chars"]["value"]))
                for b in health["aggregations"]["feeds"]["buckets"]}
        for row in rows:
            values = dict(zip(HEALTH_FIELDS, sums.get(row.get("url") or "", (0, 0, 0)), strict=True))
            row.update({k: v for k, v in values.items() if want is None or k in want})
    return rows
