"""Reprocessing: re-extract and re-tag articles from their stored HTML, without fetching anything."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from extractors.article import extract_article
from newswatch import index
from newswatch.errors import classify
from newswatch.index import chunks
from newswatch.records import Article, Entry, Page
from newswatch.runtime import Runtime
from newswatch.steps.indexing import index_articles

CHUNK = 200
_KEPT = ("feed_url", "fetched_at", "source", "published", "date_source", "story_id", "indexed_at", "link_ids")
_COUNTS = ("pages", "indexed", "created", "updated", "joined_stories", "core", "related", "none")


def reprocess(rt: Runtime, ids: Sequence[str] | None = None, *, chunk: int = CHUNK,
              on_progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Re-extract and re-index the stored pages (all, or ``ids``), ``chunk`` at a time (bounded memory).

    Story ids, ``indexed_at`` (so no alert flood) and the feed fields are kept from the stored article; a
    page that fails is counted by error class and never stops the run. ``on_progress`` gets the running
    totals after each chunk.
    """
    rt.ensure_indices()
    es, settings = rt.es, rt.settings
    # pages are written without a refresh (the fetch shards store them in bulk): a reprocess right after a
    # fetch would otherwise scan before the next periodic refresh and find none of the newest
    es.indices.refresh(index=index.index_name(settings, "pages"))
    totals: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for pages in chunks(index.iter_pages(es, settings, ids), chunk):
        old_docs = index.find_docs(es, settings, "articles", [p.id for p in pages])
        redone = [a for a in (_redo(p, old_docs.get(p.id, {}), errors, settings.fetch.byline_search)
                              for p in pages) if a is not None]
        totals["pages"] += len(pages)
        if redone:
            done = index_articles(rt, redone)
            totals.update({k: int(done.get(k, 0)) for k in _COUNTS if k != "pages"})
        if on_progress:
            on_progress({**{k: totals.get(k, 0) for k in _COUNTS}, "errors": dict(errors)})
    summary: dict[str, Any] = {k: totals.get(k, 0) for k in _COUNTS}
    summary["errors"] = dict(errors)
    return summary


def _redo(page: Page, old: dict[str, Any], errors: Counter[str], byline_search: bool) -> Article | None:
    try:
        extracted = extract_article(page.html(), url=page.url, byline_search=byline_search)
    except Exception as exc:  # one bad page never stops a reprocess run
        errors[classify(exc)] += 1
        return None
    link = old.get("fetched_url") or page.fetched_url or page.url
    entry = Entry(id=page.id, url=link, canonical_url=page.url, feed_url=page.feed_url,
                  title=old.get("title"), published=old.get("published"))
    art = Article.from_page(entry, extracted, fetched_at=old.get("fetched_at") or page.fetched_at)
    kept = {k: old[k] for k in _KEPT if old.get(k) is not None}
    return art.model_copy(update={**kept, "id": page.id, "url": old.get("url", extracted.url)})


def retag(rt: Runtime, ids: Sequence[str] | None = None, *, chunk: int = CHUNK,
          on_progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Re-tag stored articles (all, or ``ids``) for every enabled topic, from their stored text: what a new,
    changed or removed topic file needs. Nothing is fetched or re-extracted; story ids and ``indexed_at``
    are kept, so the history does not look new to the alerts (no flood)."""
    from elasticsearch import helpers

    rt.ensure_indices()
    es, settings = rt.es, rt.settings
    art_index = index.index_name(settings, "articles")
    query: dict[str, Any] = {"ids": {"values": list(ids)}} if ids else {"match_all": {}}
    totals: Counter[str] = Counter()
    hits = helpers.scan(es, index=art_index, query={"query": query}, size=chunk,
                        _source_excludes=["minhash", "minhash_bands", "search_text"])  # all re-derived
    for part in chunks((Article.model_validate(h["_source"]) for h in hits), chunk):
        done = index_articles(rt, part, chunk=chunk)
        totals.update({k: int(done.get(k, 0)) for k in _COUNTS if k != "pages"})
        if on_progress:
            on_progress({k: totals.get(k, 0) for k in _COUNTS if k != "pages"})
    return {k: totals.get(k, 0) for k in _COUNTS if k != "pages"}
