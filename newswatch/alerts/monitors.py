"""Spike alerts (per topic, to recipients who opt in) and feed-health incidents (to operators).

Both are *incidents* with stable ids, so each sends exactly one email when it starts (and, for feeds, one on
recovery), never one per poll: a burst is keyed by its first over-threshold hour (``newswatch.spikes``); a
feed incident by feed, kind and sequence number, its state kept in ``incident:<feed>:<kind>``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from elasticsearch import ConflictError, Elasticsearch, NotFoundError

from newswatch import feedhealth, index, spikes
from newswatch.alerts import messages
from newswatch.alerts.outbox import Outbox, iso
from newswatch.alerts.views import StoryView, parse_time, story_views
from newswatch.config import Recipient
from newswatch.records import doc_id
from newswatch.settings import Settings
from newswatch.tagging import Topic

log = logging.getLogger(__name__)
HOUR = timedelta(hours=1)


def hourly_counts(es: Elasticsearch, settings: Settings, topic: str, now: datetime,
                  days: int = 17) -> list[tuple[datetime, int]]:
    """Core and related articles of ``topic`` per publication hour over the last ``days``."""
    start = (now - timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    resp = es.search(index=index.index_name(settings, "articles"), size=0, query={"bool": {"filter": [
        {"terms": {f"topics.{topic}.level": ["core", "related"]}},
        {"range": {"published": {"gte": iso(start), "lte": iso(now)}}}]}},
        aggs={"h": {"date_histogram": {"field": "published", "fixed_interval": "1h", "min_doc_count": 0,
                                       "extended_bounds": {"min": iso(start), "max": iso(now)}}}})
    return [(datetime.fromtimestamp(b["key"] / 1000, UTC), int(b["doc_count"]))
            for b in resp["aggregations"]["h"]["buckets"]]


def spike_alerts(settings: Settings, es: Elasticsearch, box: Outbox, recipients: Sequence[Recipient],
                 topics: Sequence[Topic], now: datetime) -> int:
    sent = 0
    for topic in topics:
        subscribers = [r for r in recipients if r.spikes and r.follows(topic.name)]
        if not subscribers:
            continue
        counts = hourly_counts(es, settings, topic.name, now)
        burst = spikes.active_burst(counts, now, z=settings.alerts.spike_z, min_count=settings.alerts.spike_min_count)
        if burst is None:
            continue
        stories = _burst_stories(es, settings, topic.name, burst.start, burst.end + HOUR)
        daily: dict[str, int] = {}
        for moment, n in counts:
            if moment >= now - timedelta(days=7):
                daily[moment.strftime("%m-%d")] = daily.get(moment.strftime("%m-%d"), 0) + n
        series = list(daily.items())
        hot = {burst.start.strftime("%m-%d"), burst.end.strftime("%m-%d")}
        for r in subscribers:
            out = messages.notice_message(
                settings, r, "spike", f"{topic.name}:{burst.key()}", topic=topic.name,
                heading=f"Spike on {topic.title}: {burst.total} articles since {burst.start:%Y-%m-%d %H:00} UTC",
                lines=[f"Peak {burst.peak_count} articles in the hour of {burst.peak:%Y-%m-%d %H:00} UTC, "
                       f"against a usual {burst.baseline:.0f} an hour (threshold {burst.threshold:.0f}).",
                       "Articles per day, last 7 days:"],
                chart_html=spikes.bars_html(series, highlight=hot), chart_text=spikes.bars_text(series, highlight=hot),
                stories=stories[:5], meta={"published": iso(burst.start)})
            if box.submit(out) == "sent":
                sent += 1
    return sent


def _burst_stories(es: Elasticsearch, settings: Settings, topic: str, start: datetime,
                   end: datetime) -> list[StoryView]:
    resp = es.search(index=index.index_name(settings, "articles"), size=500, source_includes=["id", "story_id"],
                     query={"bool": {"filter": [{"terms": {f"topics.{topic}.level": ["core", "related"]}},
                                                {"range": {"published": {"gte": iso(start), "lt": iso(end)}}}]}})
    sids = sorted({h["_source"].get("story_id") or h["_source"]["id"] for h in resp["hits"]["hits"]})
    views = story_views(es, settings, topic, sids)
    return sorted(views.values(), key=lambda v: v.importance(), reverse=True)


# -- feed health ----------------------------------------------------------------------------------------------
def feed_conditions(row: dict[str, Any], extraction: dict[str, tuple[int, int, int, int]], settings: Settings,
                    now: datetime) -> dict[str, str | None]:
    """Per incident kind, a description when the feed is in that incident now, else None."""
    a = settings.alerts
    out: dict[str, str | None] = {"failing": None, "silent": None, "extraction": None}
    fails = int(row.get("consecutive_failures") or 0)
    if fails >= a.feed_failures:
        out["failing"] = (f"{fails} polls in a row failed; last error {row.get('last_error_class')}: "
                          f"{str(row.get('last_error') or '')[:200]}")
    per_day = float(row.get("items_per_day") or 0)
    last = parse_time(row.get("last_changed")) or parse_time(row.get("last_success"))
    if per_day > 0 and last is not None and not out["failing"]:
        usual = timedelta(days=1) / per_day
        limit = max(usual * a.feed_silent_factor, timedelta(hours=a.feed_silent_min_hours))
        if now - last > limit:
            out["silent"] = (f"no new items for {(now - last).total_seconds() / 3600:.0f} h; it usually has "
                             f"{per_day:.1f} a day (limit {limit.total_seconds() / 3600:.0f} h)")
    ok, failed, ok_before, failed_before = extraction.get(str(row.get("url")), (0, 0, 0, 0))
    if ok + failed >= 5 and ok / (ok + failed) < a.extraction_min_ratio:
        before = ok_before + failed_before
        if before == 0 or ok_before / before >= 0.8:
            out["extraction"] = (f"only {ok} of {ok + failed} pages extracted in the last 24 h"
                                 + (f" (the week before: {ok_before} of {before})" if before else ""))
    return out


def _extraction(es: Elasticsearch, settings: Settings, now: datetime) -> dict[str, tuple[int, int, int, int]]:
    day = iso(now - timedelta(days=1))
    resp = es.search(index=index.index_name(settings, "feedhealth"), size=0,
                     query={"range": {"at": {"gte": iso(now - timedelta(days=8))}}},
                     aggs={"feeds": {"terms": {"field": "feed_url", "size": 10000}, "aggs": {
                         "recent": {"filter": {"range": {"at": {"gte": day}}},
                                    "aggs": {"ok": {"sum": {"field": "ok"}}, "failed": {"sum": {"field": "failed"}}}},
                         "before": {"filter": {"range": {"at": {"lt": day}}},
                                    "aggs": {"ok": {"sum": {"field": "ok"}}, "failed": {"sum": {"field": "failed"}}}},
                     }}})
    out = {}
    for b in resp["aggregations"]["feeds"]["buckets"]:
        r, p = b["recent"], b["before"]
        out[b["key"]] = (int(r["ok"]["value"]), int(r["failed"]["value"]), int(p["ok"]["value"]),
                         int(p["failed"]["value"]))
    return out


def feed_alerts(settings: Settings, es: Elasticsearch, box: Outbox, recipients: Sequence[Recipient],
                now: datetime) -> int:
    """Open and close feed incidents; one email per incident to each operator when it opens, one on recovery."""
    operators = [r for r in recipients if r.operator]
    if not operators:
        return 0
    alert_index = index.index_name(settings, "alerts")
    extraction = _extraction(es, settings, now)
    sent = 0
    for row in feedhealth.feed_rows(es, settings):
        url = str(row.get("url") or "")
        if not url:
            continue
        for kind, detail in feed_conditions(row, extraction, settings, now).items():
            iid = f"incident:{doc_id(url)}:{kind}"
            inc = _transition(es, alert_index, iid, url, kind, detail, now)
            if inc is None:
                continue
            state, seq = inc["state"], int(inc["seq"])
            closed = parse_time(inc.get("closed_at"))
            if state == "closed" and closed is not None and now - closed > timedelta(days=2):
                continue  # its recovery email went out long ago
            word = {"failing": "failing", "silent": "silent", "extraction": "extraction failing"}[kind]
            for op in operators:
                if state == "open":
                    out = messages.notice_message(
                        settings, op, "feed", f"{doc_id(url)}:{kind}:{seq}:open",
                        heading=f"Feed {word}: {row.get('name') or url}",
                        lines=[f"Feed: {url}", str(inc.get("detail") or ""), f"Since {inc.get('opened_at')}.",
                               "You will get one email when it recovers; none per poll meanwhile."],
                        rows=_health_rows(row), meta={"feed_url": url, "incident": kind})
                else:
                    out = messages.notice_message(
                        settings, op, "feed", f"{doc_id(url)}:{kind}:{seq}:recovered",
                        heading=f"Feed recovered: {row.get('name') or url}",
                        lines=[f"Feed: {url}", f"The {word} incident opened {inc.get('opened_at')} ended "
                                               f"{inc.get('closed_at')}."],
                        rows=_health_rows(row), meta={"feed_url": url, "incident": kind})
                if box.submit(out) == "sent":
                    sent += 1
    return sent


def _health_rows(row: dict[str, Any]) -> list[list[Any]]:
    keys = ("last_status", "last_success", "consecutive_failures", "last_error_class", "items_per_day",
            "articles_ok", "articles_failed")
    return [[k, row.get(k)] for k in keys if row.get(k) is not None]


def _transition(es: Elasticsearch, alert_index: str, iid: str, url: str, kind: str, detail: str | None,
                now: datetime) -> dict[str, Any] | None:
    """Move the incident document to the feed's present state; returns it (None: never opened)."""
    try:
        cur = es.get(index=alert_index, id=iid)
    except NotFoundError:
        cur = None
    src = cur["_source"] if cur else None
    if detail and (src is None or src.get("state") == "closed"):
        doc = {"kind": "incident", "feed_url": url, "incident": kind, "state": "open",
               "seq": int(src.get("seq") or 0) + 1 if src else 1, "opened_at": iso(now), "closed_at": None,
               "detail": detail}
        try:
            if cur is None:
                es.create(index=alert_index, id=iid, document=doc, refresh=True)
            else:
                es.index(index=alert_index, id=iid, document=doc, if_seq_no=cur["_seq_no"],
                         if_primary_term=cur["_primary_term"], refresh=True)
        except ConflictError:
            pass
        return doc
    if not detail and src is not None and src.get("state") == "open":
        doc = {**src, "state": "closed", "closed_at": iso(now)}
        try:
            es.index(index=alert_index, id=iid, document=doc, if_seq_no=cur["_seq_no"],  # type: ignore[index]
                     if_primary_term=cur["_primary_term"], refresh=True)  # type: ignore[index]
        except ConflictError:
            pass
        return doc
    return src
