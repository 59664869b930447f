"""The pipeline steps: what Airflow tasks and CLI verbs call.

Each step takes its clients as arguments, reads and writes staged batches (never article bodies in
return values) and returns a small JSON-able summary of ids and counts. Every step is idempotent:
documents have deterministic ids and a staged file written again is replaced.

    poll_feeds ──entries──▶ fetch_articles ──articles──▶ index_articles ──▶ Elasticsearch ──▶ send_alerts
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from elasticsearch import ConflictError, Elasticsearch, NotFoundError

from extractors.article import canonical_url, extract_article
from extractors.errors import RateLimited, RobotsDisallowed
from extractors.feeds import parse_feed
from extractors.fetch import (
    FEED_CONTENT_TYPES,
    PAGE_CONTENT_TYPES,
    FetchPolicy,
    FetchResult,
    fetch,
    make_client,
    parse_networks,
)
from extractors.robots import RobotsCache
from newswatch import dedupe, index
from newswatch.config import FeedConfig
from newswatch.errors import classify
from newswatch.settings import Settings
from newswatch.staging import INDEXED, REPLAYED, PathLike, is_finished, read_records, write_records
from newswatch.tagging import Topic, load_topic, tag_article

log = logging.getLogger(__name__)

T = TypeVar("T")

ENTRIES = "entries"
ARTICLES = "articles"
FAILURES = "failures"
UNCONDITIONAL_EVERY = timedelta(hours=24)


def fetch_policy(settings: Settings) -> FetchPolicy:
    f = settings.fetch
    return FetchPolicy(
        connect_timeout=f.connect_timeout,
        read_timeout=f.read_timeout,
        total_timeout=f.total_timeout,
        max_bytes=f.max_bytes,
        max_redirects=f.max_redirects,
        user_agent=f.user_agent,
        allowed_networks=parse_networks(settings.allowed_networks),
    )


def http_client(settings: Settings) -> httpx.Client:
    return make_client(fetch_policy(settings))


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def shard_of(url: str, shards: int) -> int:
    """The shard of a feed: a hash of its host, so one task owns each host and per-host politeness holds."""
    host = urlsplit(url).netloc.lower()
    return int(hashlib.sha1(host.encode()).hexdigest()[:8], 16) % max(shards, 1)


# --------------------------------------------------------------------------------------------- polling


def _next_interval(feed: FeedConfig, state: dict[str, Any], new_items: int, failed: bool) -> float:
    """Minutes until the next poll: adaptive to the feed's rate of new items, backoff on failure.

    Failures double the wait up to ``max_interval_minutes`` (a day by default) but never disable a feed.
    """
    lo, hi = feed.min_interval_minutes, max(feed.max_interval_minutes, feed.min_interval_minutes)
    if failed:
        failures = int(state.get("consecutive_failures", 0))
        return float(min(hi, lo * (2 ** min(failures, 16))))
    per_day = float(state.get("items_per_day") or 0.0)
    if per_day <= 0:
        interval = lo * 4.0 if not new_items else float(lo)
    else:
        interval = 1440.0 / per_day  # expect about one new item per poll
    return float(min(hi, max(lo, interval)))


def poll_feed(
    http: httpx.Client, policy: FetchPolicy, feed: FeedConfig, state: dict[str, Any], *, force: bool = False
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """Poll one feed. Returns (new feed state, its entries, a report line). Never raises."""
    now = _now()
    state = dict(state)
    report: dict[str, Any] = {"kind": "feed", "url": feed.url, "status": "ok", "error_class": None,
                              "entries": 0, "new_entries": 0}
    last_unconditional = state.get("last_unconditional")
    unconditional = force or not last_unconditional or (
        now - datetime.fromisoformat(last_unconditional) > UNCONDITIONAL_EVERY
    )
    entries: list[dict[str, Any]] = []
    state["polls"] = int(state.get("polls", 0)) + 1
    state["last_polled"] = now.isoformat()
    try:
        result = fetch(
            http, feed.url, policy,
            etag=None if unconditional else state.get("etag"),
            last_modified=None if unconditional else state.get("last_modified"),
            accept=FEED_CONTENT_TYPES,
        )
        if unconditional:
            state["last_unconditional"] = now.isoformat()
        digest = hashlib.sha256(result.content).hexdigest() if not result.not_modified else None
        if result.not_modified or digest == state.get("content_hash"):
            report["status"] = "not_modified"
            state["not_modified"] = int(state.get("not_modified", 0)) + 1
        else:
            parsed = parse_feed(result.content, base_url=result.final_url, content_type=result.content_type)
            if parsed.error is not None:
                raise parsed.error
            state["content_hash"] = digest
            state["etag"] = result.etag
            state["last_modified"] = result.last_modified
            state["last_changed"] = now.isoformat()
            for e in parsed.entries:
                entries.append({"url": e.url, "title": e.title, "published": _iso(e.published),
                                "feed_url": feed.url, "feed_name": feed.name or parsed.title})
            report["entries"] = len(entries)
            if parsed.warning:
                report["warning"] = parsed.warning[:200]
        state["consecutive_failures"] = 0
        state["last_success"] = now.isoformat()
        state["last_status"] = report["status"]
        state["last_error_class"] = None
        state["last_error"] = None
    except Exception as exc:  # every failure is classified and recorded; the run goes on
        report["status"] = "error"
        report["error_class"] = classify(exc)
        report["error"] = str(exc)[:300]
        state["consecutive_failures"] = int(state.get("consecutive_failures", 0)) + 1
        state["last_status"] = "error"
        state["last_error_class"] = report["error_class"]
        state["last_error"] = str(exc)[:500]
        if isinstance(exc, RateLimited) and exc.retry_after:
            report["retry_after"] = exc.retry_after
    return state, entries, report


def _finish_state(feed: FeedConfig, state: dict[str, Any], report: dict[str, Any], new_items: int) -> dict[str, Any]:
    now = _now()
    state["url"] = feed.url
    state["name"] = feed.name
    state["site"] = feed.site
    state["entries_seen"] = report["entries"]
    state["new_entries_total"] = int(state.get("new_entries_total", 0)) + new_items
    # exponentially weighted items/day estimate from the gap since the previous poll
    prev = state.get("updated_at")
    if prev and report["status"] != "error":
        gap_days = max((now - datetime.fromisoformat(prev)).total_seconds() / 86400.0, 1e-3)
        observed = new_items / gap_days
        old = float(state.get("items_per_day") or observed)
        state["items_per_day"] = round(0.7 * old + 0.3 * observed, 3)
    elif report["status"] != "error":
        state.setdefault("items_per_day", 0.0)
    interval = _next_interval(feed, state, new_items, report["status"] == "error")
    retry_after = report.get("retry_after")
    if retry_after:
        interval = max(interval, float(retry_after) / 60.0)
    interval = min(interval, float(max(feed.max_interval_minutes, feed.min_interval_minutes)))
    state["interval_minutes"] = interval
    state["next_due"] = (now + timedelta(minutes=interval)).isoformat()
    state["updated_at"] = now.isoformat()
    return {k: v for k, v in state.items() if k in _FEED_FIELDS}


_FEED_FIELDS = set(index.template_body("feeds")["mappings"]["properties"])


def is_due(state: dict[str, Any], now: datetime | None = None) -> bool:
    due = state.get("next_due")
    return not due or datetime.fromisoformat(due) <= (now or _now())


def poll_feeds(
    settings: Settings,
    es: Elasticsearch | None,
    http: httpx.Client,
    feeds: Sequence[FeedConfig],
    *,
    staging: PathLike | None = None,
    batch: str | None = None,
    shard: int = 0,
    shards: int = 1,
    force: bool = False,
    on_report: Callable[[dict[str, Any]], None] | None = None,
    replay: Sequence[str] = (),
) -> dict[str, Any]:
    """Poll the feeds of one shard; stage their new entries; store feed state in Elasticsearch.

    ``replay`` names earlier batches that were never indexed (their fetch or indexing failed): their
    entries not indexed since join this batch, and each is marked replayed once this batch is staged.
    ``es=None`` is the dry run: nothing is read from or written to Elasticsearch, every entry is new.
    Returns ``{"batch", "shard", "feeds", "polled", "ok", "not_modified", "errors", "entries",
    "new_entries", "replayed", "error_classes"}``.
    """
    replayed: list[dict[str, Any]] = []

    def stage(entries: list[dict[str, Any]]) -> None:
        if not (staging is not None and batch):
            return
        if replay:
            have = {e["id"] for e in entries}
            old = {e["id"]: e for b in replay for e in read_records(staging, b, ENTRIES)
                   if e.get("id") and e["id"] not in have}
            known = index.existing_ids(es, index.index_name(settings, "articles"), list(old)) if es else set()
            replayed.extend(e for i, e in old.items() if i not in known)
        write_records(staging, batch, ENTRIES, [*entries, *replayed])
        for b in replay:  # after staging: a crash before this replays them once more, harmlessly
            write_records(staging, b, REPLAYED, [{"into": batch, "at": _now().isoformat()}])

    summary, _ = poll_new_entries(settings, es, http, feeds, shard=shard, shards=shards, force=force,
                                  on_report=on_report, stage=stage)
    summary["batch"] = batch
    summary["replayed"] = len(replayed)
    if replayed:
        log.warning("batch %s replays %d entries of never-indexed batches %s", batch, len(replayed), list(replay))
    return summary


def unfinished_batches(staging: PathLike, shard: int, *, current: str) -> list[str]:
    """Earlier poll-DAG batches of ``shard`` (ids ending ``-s<shard>``) that were staged but never indexed
    or replayed: their fetch or indexing failed after every retry. ``current`` and its run are skipped."""
    if not staging.exists():
        return []
    run = current.rsplit("-s", 1)[0]
    found = []
    for folder in sorted(staging.iterdir(), key=str):
        name = folder.name
        if (not name.endswith(f"-s{shard}") or name.rsplit("-s", 1)[0] == run or not folder.is_dir()
                or not (folder / f"{ENTRIES}.jsonl").exists()):
            continue
        if not is_finished(folder):
            found.append(name)
    return found


def poll_new_entries(
    settings: Settings,
    es: Elasticsearch | None,
    http: httpx.Client,
    feeds: Sequence[FeedConfig],
    *,
    shard: int = 0,
    shards: int = 1,
    force: bool = False,
    on_report: Callable[[dict[str, Any]], None] | None = None,
    stage: Callable[[list[dict[str, Any]]], None] | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``poll_feeds`` without the staging: the summary and the new entries, in memory.

    ``stage`` receives the new entries before the feeds' new state (validators, hash, due time) is
    written: a crash in between leaves the feeds to be polled again, never entries that nobody kept.
    """
    policy = fetch_policy(settings)
    mine = [f for f in feeds if shard_of(f.url, shards) == shard]
    feed_index = index.index_name(settings, "feeds")
    art_index = index.index_name(settings, "articles")
    states: dict[str, dict[str, Any]] = {}
    if es is not None and mine:
        resp = es.mget(index=feed_index, ids=[index.doc_id(f.url) for f in mine])
        states = {d["_id"]: d["_source"] for d in resp["docs"] if d.get("found")}
    due = [f for f in mine if force or is_due(states.get(index.doc_id(f.url), {}))]
    summary: dict[str, Any] = {"shard": shard, "feeds": len(mine), "polled": len(due), "ok": 0,
                               "not_modified": 0, "errors": 0, "entries": 0, "new_entries": 0}
    errors: Counter[str] = Counter()
    staged: list[dict[str, Any]] = []
    new_states: list[tuple[str, dict[str, Any]]] = []

    limiter = host_limiter(settings)

    def one(feed: FeedConfig) -> tuple[FeedConfig, dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
        state, entries, report = limiter.run(
            feed.url, lambda: poll_feed(http, policy, feed, states.get(index.doc_id(feed.url), {}), force=force)
        )
        return feed, state, entries, report

    with ThreadPoolExecutor(max_workers=max(1, settings.fetch.concurrency)) as pool:
        results = list(pool.map(one, due))
    staged_ids: set[str] = set()
    for feed, state, entries, report in results:
        # one entry per canonical URL across all feeds of the shard; skip those already indexed
        by_id: dict[str, dict[str, Any]] = {}
        for e in entries:
            try:
                canon = canonical_url(e["url"])
            except Exception:
                canon = e["url"]
            e["id"] = index.doc_id(canon)
            e["canonical_url"] = canon
            if e["id"] not in staged_ids:
                by_id.setdefault(e["id"], e)
        known = index.existing_ids(es, art_index, list(by_id)) if es is not None else set()
        fresh = [e for i, e in by_id.items() if i not in known][: settings.fetch.max_articles_per_feed]
        staged_ids.update(e["id"] for e in fresh)
        report["new_entries"] = len(fresh)
        staged.extend(fresh)
        summary["entries"] += report["entries"]
        summary["new_entries"] += len(fresh)
        status = report["status"]
        summary["ok" if status == "ok" else "not_modified" if status == "not_modified" else "errors"] += 1
        if report["error_class"]:
            errors[report["error_class"]] += 1
            log.warning("feed %s failed: %s %s", feed.url, report["error_class"], report.get("error"))
        new_states.append((index.doc_id(feed.url), _finish_state(feed, state, report, len(fresh))))
        if on_report:
            on_report(report)
    summary["error_classes"] = dict(errors)
    if stage is not None:
        stage(staged)
    if es is not None and new_states:
        # only the fields polling owns: extraction health, written by fetch tasks meanwhile, is kept
        index.bulk_upsert(es, feed_index, [(i, {k: v for k, v in st.items() if k not in EXTRACTION_HEALTH_FIELDS})
                                           for i, st in new_states], partial=True)
    log.info("poll shard %d: %s", shard, summary)
    return summary, staged


# -------------------------------------------------------------------------------------------- fetching


class _HostLimiter:
    """At most ``per_host`` requests in flight per host, and ``min_gap`` seconds between their starts."""

    def __init__(self, per_host: int, min_gap: float = 0.0) -> None:
        self.per_host = max(1, per_host)
        self.min_gap = min_gap
        self._sems: dict[str, threading.Semaphore] = defaultdict(lambda: threading.Semaphore(self.per_host))
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def run(self, url: str, fn: Callable[[], T]) -> T:
        host = urlsplit(url).netloc
        with self._lock:
            sem = self._sems[host]
        with sem:
            if self.min_gap:
                with self._lock:
                    wait = self._last.get(host, 0.0) + self.min_gap - time.monotonic()
                    self._last[host] = time.monotonic() + max(wait, 0.0)
                if wait > 0:
                    time.sleep(wait)
            return fn()


def host_limiter(settings: Settings) -> _HostLimiter:
    return _HostLimiter(settings.fetch.per_host, settings.fetch.min_host_gap)


def fetch_page(
    http: httpx.Client, policy: FetchPolicy, entry: dict[str, Any], robots: RobotsCache | None = None
) -> FetchResult:
    """Fetch one entry's page (robots.txt first, when given). Raises a FetchError subclass."""
    url = entry["url"]
    if robots is not None and not robots.allowed(url):
        raise RobotsDisallowed("robots.txt disallows this page", url=url)
    return fetch(http, url, policy, accept=PAGE_CONTENT_TYPES)


def extract_entry(entry: dict[str, Any], result: FetchResult, *, byline_search: bool = False) -> dict[str, Any]:
    """The article record of a fetched page. Raises an ExtractionError subclass."""
    art = extract_article(result.content, url=result.final_url, byline_search=byline_search)
    published = art.published or entry.get("published")
    date_source = "page" if art.published else ("feed" if entry.get("published") else "fetched")
    fetched_at = _now().isoformat()
    return {
        "id": index.doc_id(art.url),
        "url": art.url,
        "fetched_url": entry["url"],
        "feed_url": entry.get("feed_url"),
        "source": art.sitename or entry.get("feed_name") or urlsplit(art.url).netloc,
        "host": urlsplit(art.url).netloc,
        "title": art.title or entry.get("title") or "",
        "text": art.text,
        "description": art.description,
        "author": art.author,
        "published": published or fetched_at,
        "date_source": date_source,
        "lang": art.lang,
        "fetched_at": fetched_at,
        "chars": len(art.text),
        "_html": result.content,
        "_content_type": result.content_type,
    }


def fetch_and_extract(
    http: httpx.Client, policy: FetchPolicy, entry: dict[str, Any], robots: RobotsCache | None = None,
    *, byline_search: bool = False,
) -> dict[str, Any]:
    """Fetch one entry's page and extract it. Returns an article record, or raises a NewswatchError."""
    return extract_entry(entry, fetch_page(http, policy, entry, robots), byline_search=byline_search)


def fetch_articles(
    settings: Settings,
    es: Elasticsearch | None,
    http: httpx.Client,
    entries: Iterable[dict[str, Any]],
    *,
    staging: PathLike | None = None,
    batch: str | None = None,
    on_report: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Fetch and extract the pages of ``entries`` in parallel (bounded per host); stage the articles.

    Raw HTML is kept in the ``pages`` index (unless ``es`` is None, the dry run) for later re-extraction.
    Failures are staged too, with their error class, so nothing is silently lost.
    """
    policy = fetch_policy(settings)
    robots = RobotsCache(http, policy) if settings.fetch.respect_robots else None
    limiter = host_limiter(settings)
    entries = list(entries)

    def download(entry: dict[str, Any]) -> FetchResult:
        return limiter.run(entry["url"], lambda: fetch_page(http, policy, entry, robots))

    # Threads only download (I/O, GIL released); extraction (CPU) runs here, one page at a time, while the
    # next pages are still arriving: no GIL contention between extractions, no idle core waiting on I/O.
    outcomes: list[dict[str, Any]] = []
    with ThreadPoolExecutor(max_workers=max(1, settings.fetch.concurrency)) as pool:
        for entry, future in [(e, pool.submit(download, e)) for e in entries]:
            try:
                art = extract_entry(entry, future.result(), byline_search=settings.fetch.byline_search)
                outcomes.append({"ok": True, "entry": entry, "article": art})
            except Exception as exc:
                outcomes.append({"ok": False, "entry": entry, "error_class": classify(exc),
                                 "error": str(exc)[:300]})
    articles: dict[str, dict[str, Any]] = {}
    failures: list[dict[str, Any]] = []
    errors: Counter[str] = Counter()
    skipped = 0
    for out in outcomes:
        entry = out["entry"]
        report = {"kind": "article", "url": entry["url"], "feed": entry.get("feed_url"), "status": "ok",
                  "error_class": None, "title": entry.get("title"), "chars": 0}
        if out["ok"]:
            art = out["article"]
            if art["id"] in articles:
                report["status"] = "skipped"  # two feed links, one canonical page
                skipped += 1
            else:
                articles[art["id"]] = art
                report.update(title=art["title"], chars=art["chars"])
        else:
            report.update(status="error", error_class=out["error_class"], error=out["error"])
            errors[out["error_class"]] += 1
            failures.append({**entry, "error_class": out["error_class"], "error": out["error"]})
        if on_report:
            on_report(report)
    # the page's canonical URL may differ from the feed link: drop pages already indexed under it
    if es is not None and articles:
        known = index.existing_ids(es, index.index_name(settings, "articles"), list(articles))
        for id_ in known:
            articles.pop(id_)
            skipped += 1
        index.store_pages(es, settings, (
            {"id": a["id"], "url": a["url"], "fetched_url": a["fetched_url"], "feed_url": a["feed_url"],
             "fetched_at": a["fetched_at"], "content_type": a["_content_type"], "html": a["_html"]}
            for a in articles.values()
        ))
    records = [{k: v for k, v in a.items() if not k.startswith("_")} for a in articles.values()]
    if staging is not None and batch:
        write_records(staging, batch, ARTICLES, records)
        write_records(staging, batch, FAILURES, failures)
    if es is not None:  # after staging: a task that fails before this point counts nothing
        record_extraction_health(settings, es, records, failures, batch)
    summary = {"batch": batch, "entries": len(entries), "articles": len(records), "failed": len(failures),
               "skipped": skipped, "error_classes": dict(errors)}
    log.info("fetch %s: %s", batch, summary)
    return summary


# --------------------------------------------------------------------------------- tagging and indexing


def tag_record(topic: Topic, art: dict[str, Any]) -> dict[str, Any]:
    """Add the topic tag, explanation, entities and claims to an article record."""
    res = tag_article(topic, title=art.get("title") or "", text=art.get("text") or "", lang=art.get("lang"))
    claims = [c.model_dump(mode="json") for c in res.claims]
    art.update(
        topic=res.topic,
        level=res.level,
        score=round(float(res.score), 4),
        matches=[m.model_dump(mode="json") for m in res.matches],
        matched_terms=sorted({m.term.lower() for m in res.matches}),
        concepts=sorted({m.concept for m in res.matches}),
        evidence=list(res.evidence),
        reasons=list(res.reasons),
        entities=[e.model_dump(mode="json") for e in res.entities],
        entity_names=sorted({e.name for e in res.entities}),
        claims=claims,
        claim_max=max((c.get("count_max") or c["count"] for c in claims), default=None),
    )
    return art


def index_articles(
    settings: Settings, es: Elasticsearch, articles: Iterable[dict[str, Any]], *, topic_name: str | None = None
) -> dict[str, Any]:
    """Tag, fingerprint, cluster into stories and bulk-write articles. Returns counts per level."""
    topic = load_topic(topic_name or settings.topic, config_dir=settings.config_dir)
    art_index = index.index_name(settings, "articles")
    records = []
    now = _now().isoformat()
    for art in articles:
        try:
            tag_record(topic, art)
        except Exception as exc:  # one bad article must not block the batch: index it untagged, say why
            log.exception("tagging article %s failed", art.get("id"))
            art.update(topic=topic.name, level="none", score=0.0, matches=[], matched_terms=[], concepts=[],
                       evidence=[], reasons=[f"tagging failed: {classify(exc)}"], entities=[], entity_names=[],
                       claims=[], claim_max=None)
        art.update(dedupe.fingerprint(art.get("text") or ""))
        art.setdefault("indexed_at", now)  # reprocessing keeps the original time: no alert flood
        records.append(art)
    existing = {}
    if records:
        resp = es.mget(index=art_index, ids=[a["id"] for a in records], source=["story_id"])
        existing = {d["_id"]: d["_source"].get("story_id") for d in resp["docs"] if d.get("found")}
    fresh = [a for a in records if a["id"] not in existing]
    for a in records:
        if a["id"] in existing:
            a["story_id"] = existing[a["id"]]  # keep story ids stable when re-indexing
    joined = dedupe.assign_stories(es, art_index, fresh)
    counts = index.bulk_upsert(es, art_index, ((a["id"], a) for a in records))
    es.indices.refresh(index=art_index)
    levels = Counter(a["level"] for a in records)
    summary = {"indexed": len(records), **counts, "joined_stories": joined,
               "core": levels.get("core", 0), "related": levels.get("related", 0), "none": levels.get("none", 0)}
    log.info("index: %s", summary)
    return summary


def index_batch(settings: Settings, es: Elasticsearch, staging: PathLike, batches: Sequence[str]) -> dict[str, Any]:
    """Index the staged articles of one or more batches."""
    def records() -> Iterable[dict[str, Any]]:
        for b in batches:
            yield from read_records(staging, b, ARTICLES)

    summary = index_articles(settings, es, records())
    summary["batches"] = list(batches)
    for b in batches:  # done with: the staging retention may now delete these batches
        write_records(staging, b, INDEXED, [{"indexed_at": _now().isoformat(), "run_indexed": summary["indexed"]}])
    return summary


def entries_of(staging: PathLike, batch: str) -> list[dict[str, Any]]:
    return list(read_records(staging, batch, ENTRIES))


REPROCESS_CHUNK = 200
_KEPT_ON_REPROCESS = ("feed_url", "fetched_at", "source", "published", "date_source", "story_id", "indexed_at")


def reprocess(
    settings: Settings, es: Elasticsearch, ids: Sequence[str] | None = None, *, chunk: int = REPROCESS_CHUNK,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Re-extract and re-tag articles from their stored HTML, without fetching anything.

    Pages stream from Elasticsearch and are re-extracted and re-indexed ``chunk`` at a time, so memory is
    bounded by the chunk, not by the size of the history. ``on_progress`` gets the running totals after each
    chunk. Story ids and ``indexed_at`` are kept (no alert flood); a page that fails is counted by error
    class and never stops the run.
    """
    art_index = index.index_name(settings, "articles")
    totals: Counter[str] = Counter()
    errors: Counter[str] = Counter()

    def flush(pages: list[dict[str, Any]]) -> None:
        if not pages:
            return
        resp = es.mget(index=art_index, ids=[p["id"] for p in pages])
        old_docs = {d["_id"]: d["_source"] for d in resp["docs"] if d.get("found")}
        redone: list[dict[str, Any]] = []
        for page in pages:
            try:
                art = extract_article(page["html"], url=page["url"], byline_search=settings.fetch.byline_search)
            except Exception as exc:  # one bad page never stops a reprocess run
                errors[classify(exc)] += 1
                continue
            old = old_docs.get(page["id"], {})
            redone.append({**{k: v for k, v in old.items() if k in _KEPT_ON_REPROCESS},
                           "id": page["id"], "url": old.get("url", art.url), "fetched_url": page.get("fetched_url"),
                           "host": urlsplit(art.url).netloc, "title": art.title or old.get("title", ""),
                           "text": art.text, "description": art.description, "author": art.author,
                           "lang": art.lang, "chars": len(art.text),
                           "published": art.published or old.get("published") or page.get("fetched_at"),
                           "source": art.sitename or old.get("source") or urlsplit(art.url).netloc,
                           "fetched_at": old.get("fetched_at") or page.get("fetched_at")})
        totals["pages"] += len(pages)
        if redone:
            done = index_articles(settings, es, redone)
            for key in ("indexed", "created", "updated", "joined_stories", "core", "related", "none"):
                totals[key] += int(done.get(key, 0))
        if on_progress:
            on_progress({**totals, "errors": dict(errors)})

    pages: list[dict[str, Any]] = []
    for page in index.iter_pages(es, settings, ids):
        pages.append(page)
        if len(pages) >= max(1, chunk):
            flush(pages)
            pages = []
    flush(pages)
    summary: dict[str, Any] = {key: totals[key] for key in ("pages", "indexed", "created", "updated",
                                                             "joined_stories", "core", "related", "none")}
    summary["errors"] = dict(errors)
    return summary


HEALTH_BATCHES_KEPT = 50
# feed-document fields that fetch tasks own (``record_extraction_health``); polls never write them
EXTRACTION_HEALTH_FIELDS = frozenset({"articles_ok", "articles_failed", "body_chars_total", "health_batches"})


def record_extraction_health(
    settings: Settings, es: Elasticsearch, articles: Iterable[dict[str, Any]], failures: Iterable[dict[str, Any]],
    batch: str | None = None,
) -> int:
    """Add extraction successes, failures and body lengths to each feed's health counters.

    Once per ``batch``: each feed remembers the last batches it counted, so a retried fetch task adds
    nothing twice. Writes are compare-and-set on the document's sequence number, so a concurrent poll or
    fetch of the same feed is re-read, never overwritten. Returns how many feeds were updated.
    """
    per_feed: dict[str, dict[str, int]] = defaultdict(lambda: {"ok": 0, "failed": 0, "chars": 0})
    for art in articles:
        if art.get("feed_url"):
            per_feed[art["feed_url"]]["ok"] += 1
            per_feed[art["feed_url"]]["chars"] += int(art.get("chars") or 0)
    for fail in failures:
        if fail.get("feed_url"):
            per_feed[fail["feed_url"]]["failed"] += 1
    feed_index = index.index_name(settings, "feeds")
    updated = 0
    for url, counts in per_feed.items():
        for _attempt in range(5):
            try:
                doc = es.get(index=feed_index, id=index.doc_id(url))
            except NotFoundError:
                break  # not a polled feed (an ad-hoc URL): nothing to count against
            src = doc["_source"]
            seen = list(src.get("health_batches") or [])
            if batch and batch in seen:
                break  # this batch was counted by an earlier try of the same task
            src["articles_ok"] = int(src.get("articles_ok", 0)) + counts["ok"]
            src["articles_failed"] = int(src.get("articles_failed", 0)) + counts["failed"]
            src["body_chars_total"] = int(src.get("body_chars_total", 0)) + counts["chars"]
            if batch:
                src["health_batches"] = (seen + [batch])[-HEALTH_BATCHES_KEPT:]
            try:
                es.index(index=feed_index, id=doc["_id"], document=src,
                         if_seq_no=doc["_seq_no"], if_primary_term=doc["_primary_term"])
            except ConflictError:
                continue  # someone wrote the feed in between: read it again
            updated += 1
            break
        else:
            log.warning("feed health for %s not recorded: the document kept changing", url)
    return updated
