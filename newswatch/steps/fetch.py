"""Fetching: download and extract the pages of staged entries, keep their raw HTML, stage the articles.

``fetch_batch`` is what the fetch task and ``newswatch fetch`` run; ``fetch_entries`` is the same in
memory (``ingest --dry-run``, the extraction benchmark). Threads only download (I/O, GIL released);
extraction (CPU) runs in the calling thread, one page at a time, while the next pages are still arriving.

Memory is bounded by the download window and the page chunk, not by the batch: at most ``WINDOW`` downloads
per thread are in flight or waiting to be extracted, and ``fetch_batch`` stores the raw HTML every
``PAGE_CHUNK`` pages instead of holding a whole batch's pages (a first poll of 250 feeds at 50 new items each
is 12,500 pages, ~2 GB of HTML at real pages' ~170 kB).

``fetch_batch`` also computes the story embedding of each new article a topic tags (``indexing.embed_tagged``,
per stored chunk; only those are clustered): it needs nothing but the article, so it runs in the parallel
fetch shards, not in the one index step that must see every shard's articles.
"""

from __future__ import annotations

import logging
from collections import Counter, deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from extractors.article import extract_article
from extractors.errors import RobotsDisallowed
from extractors.fetch import PAGE_CONTENT_TYPES, FetchPolicy, FetchResult, fetch
from extractors.robots import RobotsCache
from newswatch import feedhealth, feedstate, index
from newswatch.errors import classify
from newswatch.politeness import host_limiter
from newswatch.records import Article, Entry, Failure, Page
from newswatch.runtime import Runtime
from newswatch.staging import ARTICLES, ENTRIES, FAILURES, check_batch_id, read_records, write_records
from newswatch.steps.indexing import embed_tagged
from newswatch.steps.poll import Report
from newswatch.tagging import load_topics

log = logging.getLogger(__name__)

WINDOW = 4  # downloads submitted ahead per download thread
PAGE_CHUNK = 200  # raw pages ``fetch_batch`` stores at a time
PageSink = Callable[[Article, bytes, "str | None"], None]


def fetch_page(http: httpx.Client, policy: FetchPolicy, entry: Entry,
               robots: RobotsCache | None = None) -> FetchResult:
    """Fetch one entry's page (robots.txt first, when given). Raises a FetchError subclass."""
    if robots is not None and not robots.allowed(entry.url):
        raise RobotsDisallowed("robots.txt disallows this page", url=entry.url)
    return fetch(http, entry.url, policy, accept=PAGE_CONTENT_TYPES)


def extract_entry(entry: Entry, result: FetchResult, *, byline_search: bool = False) -> Article:
    """The article of a fetched page. Raises an ExtractionError subclass."""
    extracted = extract_article(result.content, url=result.final_url, byline_search=byline_search)
    return Article.from_page(entry, extracted, fetched_at=feedstate.now_utc().isoformat())


def fetch_and_extract(http: httpx.Client, policy: FetchPolicy, entry: Entry, robots: RobotsCache | None = None,
                      *, byline_search: bool = False) -> Article:
    """Fetch one entry's page and extract it. Raises a NewswatchError."""
    return extract_entry(entry, fetch_page(http, policy, entry, robots), byline_search=byline_search)


@dataclass
class Fetched:
    """What a fetch produced: one article per canonical page, the raw bytes and content type behind each
    (gzipped into a ``Page`` only when stored: a dry run pays nothing for it; empty when an ``on_page`` sink
    took them), the failures."""

    articles: dict[str, Article] = field(default_factory=dict)
    pages: dict[str, tuple[bytes, str | None]] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    skipped: int = 0
    errors: Counter[str] = field(default_factory=Counter)


def fetch_entries(rt: Runtime, entries: Iterable[Entry], *, on_report: Callable[[Report], None] | None = None,
                  on_page: PageSink | None = None) -> Fetched:
    """Fetch and extract ``entries`` in parallel (bounded per host). Writes nothing itself.

    Each new article's raw bytes go to ``on_page(article, html, content_type)`` when given (and are not
    kept), else into ``Fetched.pages``. Downloads run at most ``WINDOW`` per thread ahead of extraction."""
    settings = rt.settings
    policy = rt.policy
    http = rt.http
    limiter = host_limiter(settings.fetch)
    robots = RobotsCache(http, policy) if settings.fetch.respect_robots else None

    def download(entry: Entry) -> FetchResult:
        if robots is not None:  # before taking a slot: the host's Crawl-delay paces this very request
            limiter.floor(entry.url, robots.crawl_delay(entry.url))
        return limiter.run(entry.url, lambda: fetch_page(http, policy, entry, robots))

    out = Fetched()
    threads = max(1, settings.fetch.concurrency)
    todo = iter(entries)
    pending: deque[tuple[Entry, Future[FetchResult]]] = deque()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        while True:
            while len(pending) < threads * WINDOW and (entry := next(todo, None)) is not None:
                pending.append((entry, pool.submit(download, entry)))
            if not pending:
                break
            entry, future = pending.popleft()
            report: Report = {"kind": "article", "url": entry.url, "feed": entry.feed_url, "status": "ok",
                              "error_class": None, "title": entry.title, "chars": 0}
            try:
                result = future.result()
                art = extract_entry(entry, result, byline_search=settings.fetch.byline_search)
            except Exception as exc:  # classified and staged as a failure; the batch goes on
                fail = Failure.of(entry, classify(exc), str(exc))
                out.failures.append(fail)
                out.errors[fail.error_class] += 1
                report.update(status="error", error_class=fail.error_class, error=fail.error)
            else:
                if art.id in out.articles:  # two feed links, one canonical page: one article, both links
                    kept = out.articles[art.id]
                    kept.link_ids = sorted(set(kept.link_ids) | set(art.link_ids))
                    report["status"] = "skipped"
                    out.skipped += 1
                else:
                    out.articles[art.id] = art
                    if on_page is not None:
                        on_page(art, result.content, result.content_type)
                    else:
                        out.pages[art.id] = (result.content, result.content_type)
                    report.update(title=art.title, chars=art.chars)
            if on_report:
                on_report(report)
    return out


def fetch_batch(rt: Runtime, batch: str, *, on_report: Callable[[Report], None] | None = None) -> dict[str, Any]:
    """Fetch the staged entries of ``batch``; keep raw HTML; stage its articles and failures; count health.

    An article already indexed under its canonical id (the feed link differed) is not staged again: its
    link id is added to the stored article's ``link_ids``, so later polls know the link. Health is counted
    after staging (a task that fails before counts nothing; a retry overwrites its own counts).
    Returns ``{"batch", "entries", "articles", "failed", "skipped", "error_classes"}``.
    """
    check_batch_id(batch)
    entries = [Entry.model_validate(r) for r in read_records(rt.staging, batch, ENTRIES)]
    rt.ensure_indices()
    es, settings = rt.es, rt.settings
    known: set[str] = set()
    chunk: list[tuple[Article, bytes, str | None]] = []

    def store_chunk() -> None:
        # an article already indexed under its canonical id is not stored again (its link ids are, below)
        seen = set(index.find_docs(es, settings, "articles", [a.id for a, _, _ in chunk], source=False))
        known.update(seen)
        # the story embedding, here in the parallel shards rather than in the one index step after them
        # (while this thread encodes, the download threads go on: the encoder releases the GIL)
        if new := [a for a, _, _ in chunk if a.id not in seen]:  # the topics: compiled once a process, ~0.4 s
            embed_tagged(load_topics(settings.config_dir, default=settings.topic), new)
        index.store_pages(es, settings, (Page.of(a, html, ctype) for a, html, ctype in chunk if a.id not in seen))
        chunk.clear()

    def on_page(art: Article, html: bytes, ctype: str | None) -> None:
        chunk.append((art, html, ctype))
        if len(chunk) >= PAGE_CHUNK:
            store_chunk()

    got = fetch_entries(rt, entries, on_report=on_report, on_page=on_page)
    if chunk:
        store_chunk()
    if known:
        index.add_link_ids(es, settings, {i: got.articles[i].link_ids for i in known})
        for i in known:
            got.articles.pop(i)
            got.skipped += 1
    write_records(rt.staging, batch, ARTICLES, got.articles.values())
    write_records(rt.staging, batch, FAILURES, got.failures)
    feedhealth.record_extraction_health(es, settings, batch, got.articles.values(), got.failures)
    summary = {"batch": batch, "entries": len(entries), "articles": len(got.articles), "failed": len(got.failures),
               "skipped": got.skipped, "error_classes": dict(got.errors)}
    log.info("fetch %s: %s", batch, summary)
    return summary
