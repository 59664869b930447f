"""Polling: fetch each due feed of a shard, parse its bytes, stage its new entries, then move its state.

``poll_shard`` is what the poll task and ``newswatch poll`` run; ``poll_feeds`` is the same without
staging (entries in memory, used by ``ingest --dry-run``); ``poll_feed`` polls one feed and never raises.
Order matters for "nothing lost": the new entries are staged (``stage``) *before* the feeds' new state
(validators, body hash, due time, backlog) is written, so a crash in between polls the feeds again rather
than losing entries nobody kept.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

import httpx

from extractors.errors import RateLimited
from extractors.feeds import parse_feed
from extractors.fetch import FEED_CONTENT_TYPES, FetchPolicy, fetch
from newswatch import feedstate, index
from newswatch.config import FeedConfig
from newswatch.errors import classify
from newswatch.politeness import host_limiter, shard_of
from newswatch.records import Entry, FeedState, doc_id
from newswatch.runtime import Runtime
from newswatch.staging import ENTRIES, REPLAYED, check_batch_id, has_file, mark, read_records, unfinished_batches
from newswatch.staging import write_records as stage_records

log = logging.getLogger(__name__)

Report = dict[str, Any]
BACKLOG_MAX = 2000  # entries kept per feed for later polls beyond the per-poll cap


def poll_feed(http: httpx.Client, policy: FetchPolicy, feed: FeedConfig, state: FeedState, *,
              force: bool = False) -> tuple[FeedState, list[Entry], Report]:
    """Poll one feed. Returns (its new state, its entries, a report line). Never raises.

    ``force`` polls unconditionally (no validators) and parses even when the body hash is unchanged.
    """
    now = feedstate.now_utc()
    report: Report = {"kind": "feed", "url": feed.url, "status": "ok", "error_class": None,
                      "entries": 0, "new_entries": 0}
    first_poll = state.last_success is None
    state, unconditional = feedstate.begin_poll(state, now, force=force)
    entries: list[Entry] = []
    try:
        result = fetch(http, feed.url, policy, etag=None if unconditional else state.etag,
                       last_modified=None if unconditional else state.last_modified, accept=FEED_CONTENT_TYPES)
        digest = hashlib.sha256(result.content).hexdigest() if not result.not_modified else None
        if result.not_modified or (digest == state.content_hash and not force):
            report["status"] = "not_modified"
            state = feedstate.record_success(state, now, status="not_modified", unconditional=unconditional)
        else:
            parsed = parse_feed(result.content, base_url=result.final_url, content_type=result.content_type)
            if parsed.error is not None:
                raise parsed.error
            entries = [Entry.from_feed(url=e.url, title=e.title, published=e.published.isoformat()
                                       if e.published else None, feed_url=feed.url,
                                       feed_name=feed.name or parsed.title, first_poll=first_poll)
                       for e in parsed.entries]
            report["entries"] = len(entries)
            if parsed.warning:
                report["warning"] = parsed.warning[:200]
            state = feedstate.record_success(state, now, status="ok", unconditional=unconditional,
                                             etag=result.etag, last_modified=result.last_modified,
                                             content_hash=digest)
    except Exception as exc:  # every failure is classified and recorded; the run goes on
        report.update(status="error", error_class=classify(exc), error=str(exc)[:300])
        state = feedstate.record_failure(state, error_class=report["error_class"], error=str(exc))
        if isinstance(exc, RateLimited) and exc.retry_after:
            report["retry_after"] = exc.retry_after
    return state, entries, report


def poll_feeds(
    rt: Runtime,
    feeds: Sequence[FeedConfig],
    *,
    shard: int = 0,
    shards: int = 1,
    force: bool = False,
    on_report: Callable[[Report], None] | None = None,
    stage: Callable[[list[Entry]], None] | None = None,
) -> tuple[dict[str, Any], list[Entry]]:
    """Poll the due feeds of ``shard``; hand their new entries to ``stage``, then store the feeds' state.

    An entry is new when no article is indexed under its link's id (as the article id or among its
    ``link_ids``). At most ``NEWSWATCH_FETCH__MAX_ARTICLES_PER_FEED`` new entries of a feed go into one
    poll; the rest wait in the feed's ``backlog`` (stored with its state) and go first into the next
    polls, whatever the feed does meanwhile. In a dry run nothing is read or written: every entry is new.
    Returns (summary, the new entries).
    """
    settings = rt.settings
    policy = rt.policy
    mine = [f for f in feeds if shard_of(f.url, shards) == shard]
    states: dict[str, FeedState] = {}
    if not rt.dry_run and mine:
        stored = index.find_docs(rt.es, settings, "feeds", [doc_id(f.url) for f in mine])
        states = {i: FeedState.model_validate(src) for i, src in stored.items()}
    due = [f for f in mine if force or feedstate.is_due(states.get(doc_id(f.url)))]
    summary: dict[str, Any] = {"shard": shard, "shards": shards, "feeds": len(mine), "polled": len(due), "ok": 0,
                               "not_modified": 0, "errors": 0, "entries": 0, "new_entries": 0, "backlog": 0}
    errors: Counter[str] = Counter()
    limiter = host_limiter(settings.fetch)

    def one(feed: FeedConfig) -> tuple[FeedConfig, FeedState, list[Entry], Report]:
        state = states.get(doc_id(feed.url)) or FeedState()
        new_state, entries, report = limiter.run(feed.url, lambda: poll_feed(rt.http, policy, feed, state,
                                                                             force=force))
        return feed, new_state, entries, report

    cap = max(1, settings.fetch.max_articles_per_feed)
    staged: list[Entry] = []
    staged_ids: set[str] = set()
    new_states: list[tuple[str, FeedState]] = []
    with ThreadPoolExecutor(max_workers=max(1, settings.fetch.concurrency)) as pool:
        futures = [pool.submit(one, f) for f in due]
        # each feed is finished (and reported, so `ingest --json` streams) as soon as its poll returns
        for future in as_completed(futures):
            feed, state, entries, report = future.result()
            # the backlog first (older), then this poll's entries; one entry per link id across the shard
            candidates: dict[str, Entry] = {}
            for e in [*(Entry.model_validate(b) for b in state.backlog), *entries]:
                if e.id not in staged_ids:
                    candidates.setdefault(e.id, e)
            known = index.known_article_ids(rt.es, settings, list(candidates)) if not rt.dry_run else set()
            fresh = [e for i, e in candidates.items() if i not in known]
            now_, later = fresh[:cap], fresh[cap:BACKLOG_MAX + cap]
            staged_ids.update(e.id for e in now_)
            staged.extend(now_)
            report["new_entries"] = len(now_)
            if later:
                report["backlog"] = len(later)
            summary["entries"] += report["entries"]
            summary["new_entries"] += len(now_)
            summary["backlog"] += len(later)
            status = report["status"]
            summary["ok" if status == "ok" else "not_modified" if status == "not_modified" else "errors"] += 1
            if report["error_class"]:
                errors[report["error_class"]] += 1
                log.warning("feed %s failed: %s %s", feed.url, report["error_class"], report.get("error"))
            state = state.model_copy(update={"backlog": [e.model_dump(mode="json") for e in later]})
            state = feedstate.finish_poll(feed, state, feedstate.now_utc(), failed=status == "error",
                                          entries_seen=report["entries"], new_items=len(now_),
                                          retry_after=report.get("retry_after"))
            new_states.append((doc_id(feed.url), state))
            if on_report:
                on_report(report)
    summary["error_classes"] = dict(errors)
    if stage is not None:
        stage(staged)
    if not rt.dry_run and new_states:
        index.bulk_upsert(rt.es, index.write_alias(settings, "feeds"), ((i, s.doc()) for i, s in new_states))
    log.info("poll shard %d/%d: %s", shard, shards, summary)
    return summary, staged


def poll_shard(
    rt: Runtime,
    batch: str,
    *,
    shard: int = 0,
    shards: int = 1,
    force: bool = False,
    feeds: Sequence[FeedConfig] | None = None,
    on_report: Callable[[Report], None] | None = None,
) -> dict[str, Any]:
    """Poll one shard's feeds and stage their new entries as ``batch`` (what a poll task runs).

    - A batch already staged (a retried or cleared task, whose first try moved the feeds' validators) is
      reused as it is: ``{"batch", "shard", "reused": True, "new_entries"}``.
    - Earlier batches that were staged but never indexed (their fetch or indexing failed after every retry)
      and that this shard owns (``staging.unfinished_batches``) are replayed: their entries not indexed
      since join this batch, and each is marked replayed once this batch is staged.

    Returns ``{"batch", "shard", "shards", "feeds", "polled", "ok", "not_modified", "errors", "entries",
    "new_entries", "backlog", "replayed", "error_classes"}``.
    """
    check_batch_id(batch)
    root = rt.staging
    if has_file(root, batch, ENTRIES):
        staged = sum(1 for _ in read_records(root, batch, ENTRIES))
        return {"batch": batch, "shard": shard, "reused": True, "new_entries": staged}
    feeds = rt.feeds() if feeds is None else feeds
    rt.ensure_indices()
    replay = unfinished_batches(root, current=batch, shard=shard, shards=shards)
    replayed: list[Entry] = []

    def stage(entries: list[Entry]) -> None:
        if replay:
            have = {e.id for e in entries}
            old: dict[str, Entry] = {}
            for b in replay:
                for rec in read_records(root, b, ENTRIES):
                    e = Entry.model_validate(rec)
                    if e.id not in have:
                        old.setdefault(e.id, e)
            known = index.known_article_ids(rt.es, rt.settings, list(old))
            replayed.extend(e for i, e in old.items() if i not in known)
        stage_records(root, batch, ENTRIES, [*entries, *replayed])
        for b in replay:  # after staging: a crash before this replays them once more, harmlessly
            mark(root, b, REPLAYED, into=batch)

    summary, _ = poll_feeds(rt, feeds, shard=shard, shards=shards, force=force, on_report=on_report, stage=stage)
    summary["batch"] = batch
    invalid = rt.skipped_feeds if shard == 0 else []  # reported once per run, by shard 0
    summary["invalid_feeds"] = len(invalid)
    for bad in invalid:
        log.warning("feeds file entry skipped: %s", bad["error"])
        summary["error_classes"][bad["error_class"]] = summary["error_classes"].get(bad["error_class"], 0) + 1
        if on_report:
            on_report(bad)
    summary["replayed"] = len(replayed)
    if replayed:
        log.warning("batch %s replays %d entries of never-indexed batches %s", batch, len(replayed), replay)
    return summary
