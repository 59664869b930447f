"""Indexing: tag articles for the topic, normalise them for search, fingerprint and cluster them into
stories, bulk-write them.

Only the articles some enabled topic tags (``core`` or ``related``: ``wants_story``) are clustered. A story
is what an analyst hears of and searches on the timeline, and both are a topic's; an article no topic tags
has no ``story_id`` and is nobody's candidate. A real feed is mostly off-topic, so clustering (the
embedding, the candidate reads, the scoring) costs in proportion to the topics' share of the news, not to
the feeds'. An article a later ``retag`` tags is clustered then, as a new one would be.

``index_batches`` is what the index task and ``newswatch index --batch`` run; ``index_file`` reads JSON
Lines (``newswatch index --file``); both stream through ``index_articles`` in chunks of ``CHUNK`` articles,
so memory is bounded by the chunk, not by the input. Re-indexing an article keeps its ``story_id``,
``indexed_at`` (the alert window) and the feed links it was already known under.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from newswatch import dedupe, encoder, feedstate, index, stories, textnorm
from newswatch.errors import classify
from newswatch.index import chunks
from newswatch.records import Article
from newswatch.runtime import Runtime
from newswatch.staging import ARTICLES, INDEXED, check_batch_id, mark, read_records
from newswatch.tagging import TopicSet, combine, load_topics

log = logging.getLogger(__name__)

CHUNK = 500
_COUNTS = ("indexed", "created", "updated", "duplicates", "joined_stories", "core", "related", "none")


def tag_fields(topics: TopicSet, art: Article) -> dict[str, Any]:
    """The tagging fields of an article record, every enabled topic in one pass (``tagging.combine`` lists
    them: per-topic results under ``topics``, the primary result at the top level, entities, claims)."""
    return combine(topics.tag(art.title, art.text, art.lang), topics.default)


def tag_record(topics: TopicSet, art: Article) -> Article:
    """The article with its tags, explanations, entities and claims; a tagging failure is recorded on the
    article (level ``none``, the error class in ``reasons``) and never blocks the batch."""
    try:
        fields = tag_fields(topics, art)
    except Exception as exc:
        log.exception("tagging article %s failed", art.id)
        fields = {"topic": topics.default, "level": "none", "score": 0.0, "matches": [], "matched_terms": [],
                  "concepts": [], "evidence": [], "reasons": [f"tagging failed: {classify(exc)}"], "topics": {},
                  "topic_levels": [], "entities": [], "entity_names": [], "claims": [], "claim_max": None}
    return art.model_copy(update=fields)


def wants_story(art: Article) -> bool:
    """Whether ``art`` (tagged) is clustered into a story: some enabled topic tags it ``core`` or ``related``."""
    return bool(art.topic_levels)


def embed_tagged(topics: TopicSet, articles: Sequence[Article]) -> int:
    """``add_embeddings`` for the articles ``topics`` tags (``wants_story``): what the fetch shards run, so
    that the encoder (~5 ms an article, most of clustering's cost) runs only for the articles that will be
    clustered. Tagging costs ~0.1 ms; the index step tags again and embeds what still lacks a vector (a topic
    changed between the two)."""
    return add_embeddings([a for a in articles if wants_story(tag_record(topics, a))])


def index_articles(rt: Runtime, articles: Iterable[Article], *, chunk: int = CHUNK) -> dict[str, Any]:
    """Tag, fingerprint, cluster into stories and bulk-write ``articles``, ``chunk`` at a time.

    An article id seen earlier in the same call (two batches or two shards fetched one page) is written
    and counted once (``duplicates`` counts the rest). Returns counts: ``indexed, created, updated,
    duplicates, joined_stories, core, related, none``.
    """
    settings = rt.settings
    rt.ensure_indices()
    es = rt.es
    topics = load_topics(settings.config_dir, default=settings.topic)
    art_index = index.write_alias(settings, "articles")
    reads = index.index_name(settings, "articles")  # the clustering searches: the old index during a reindex
    totals: Counter[str] = Counter()
    seen: set[str] = set()
    candidates = stories.es_candidates(es, reads)  # one for the step: its window reads serve every chunk
    for part in chunks(articles, chunk):
        records: dict[str, Article] = {}
        for art in part:
            if art.id in seen:
                totals["duplicates"] += 1
                continue
            seen.add(art.id)
            records[art.id] = tag_record(topics, art).model_copy(update={
                **dedupe.fingerprint(art.text), "search_text": textnorm.search_text(art.title, art.text, art.lang)})
        if not records:
            continue
        existing = index.find_docs(es, settings, "articles", list(records),
                                   fields=["story_id", "indexed_at", "link_ids", *_REUSE])
        now = feedstate.now_utc().isoformat()
        for i, art in records.items():
            old = existing.get(i, {})
            records[i] = art.model_copy(update={
                "story_id": old.get("story_id") or art.story_id,  # story ids stay stable when re-indexing
                "indexed_at": old.get("indexed_at") or art.indexed_at or now,  # the alert window stays
                "link_ids": sorted(set(art.link_ids) | set(old.get("link_ids") or [])),
                **_reused_embedding(art, old),
            })
        _add_story_features(records)
        # new articles a topic tags, and stored ones a retag made tagged (they had no story)
        fresh = [a for a in records.values() if not a.story_id and wants_story(a)]
        docs = [a.model_dump(mode="json", include=_STORY_FIELDS) for a in fresh]  # what clustering reads
        totals["joined_stories"] += stories.assign(docs, candidates, background=stories.es_background(es, reads))
        for d in docs:
            records[d["id"]] = records[d["id"]].model_copy(update={"story_id": d["story_id"]})
        stored = {i: _stored(a) for i, a in records.items()}
        counts = index.bulk_upsert(es, art_index, stored.items())
        es.indices.refresh(index=art_index)  # the next chunk's clustering sees this one
        candidates.wrote(stored)  # and so do the windows it read
        totals.update(counts)
        totals["indexed"] += len(records)
        totals.update(a.level for a in records.values())
    summary = {k: totals.get(k, 0) for k in _COUNTS}
    log.info("index: %s", summary)
    return summary


def _stored(art: Article) -> dict[str, Any]:
    """The article as written: its embedding as Elasticsearch reads a vector fastest (``encoder.wire``), and
    its packed copy (``embedding_q``) from the same array, not each from the list of 512 floats."""
    if not art.embedding:
        return art.doc()
    doc = art.model_dump(mode="json", exclude={"embedding", "embedding_q"})
    vector = np.asarray(art.embedding, dtype=np.float32)
    doc["embedding"] = encoder.wire(vector)
    doc["embedding_q"] = encoder.packed(vector)  # what Article.embedding_q gives, from the array
    return doc


_REUSE = ("title", "minhash", "embedding")
_STORY_FIELDS = set(stories.CANDIDATE_FIELDS)


def _reused_embedding(art: Article, old: dict[str, Any]) -> dict[str, Any]:
    """The stored embedding of a re-indexed article whose title and text (its MinHash) are unchanged:
    re-encoding it would give the same vector, at the encoder's cost (most of clustering's)."""
    if art.embedding or not old.get("embedding") or old.get("title") != art.title or old.get("minhash") != art.minhash:
        return {}
    return {"embedding": old["embedding"]}


def add_embeddings(articles: Sequence[Article]) -> int:
    """Set the encoder's vector on each article that has none (one encoder call for all of them); returns
    how many were embedded. The fetch step calls it on each chunk of pages it stores, so the embeddings are
    computed in the parallel shards and staged with the articles; the serial index step then only embeds
    what came without one (``index --file``, a record staged before)."""
    todo = [a for a in articles if not a.embedding]
    if todo:
        vectors = encoder.embed([encoder.article_text(a.title, a.text) for a in todo])
        for a, vec in zip(todo, vectors, strict=True):
            a.embedding = [round(float(x), 6) for x in vec]
    return len(todo)


def _add_story_features(records: dict[str, Article]) -> None:
    """Embeddings (one encoder call for the chunk, only where missing and a story is wanted) and reported
    numbers."""
    todo = {i: a.model_copy() for i, a in records.items() if not a.embedding and wants_story(a)}
    add_embeddings(list(todo.values()))
    records.update(todo)
    for i, a in records.items():
        records[i] = a.model_copy(update={"numbers": stories.numbers_of(f"{a.title}\n{a.text}", a.claims)})


def index_batches(rt: Runtime, batches: Sequence[str]) -> dict[str, Any]:
    """Index the staged articles of ``batches`` (one index task for every shard of a run, so clustering
    sees all of the run's articles), then mark each batch indexed (the retention may delete it)."""
    for b in batches:
        check_batch_id(b)

    def records() -> Iterator[Article]:
        for b in batches:
            for rec in read_records(rt.staging, b, ARTICLES):
                yield Article.model_validate(rec)

    summary = index_articles(rt, records())
    summary["batches"] = list(batches)
    for b in batches:
        mark(rt.staging, b, INDEXED, run_indexed=summary["indexed"])
    return summary


def index_file(rt: Runtime, lines: Iterable[str], *, chunk: int = CHUNK) -> dict[str, Any]:
    """Index JSON Lines of article records (``url, title, text, published, source, lang?``), streamed.

    A line that is not a JSON object with a ``url`` is counted in ``errors`` (its line number kept in
    ``bad_lines``, the first 20) and skipped; the other lines are indexed.
    """
    bad: list[dict[str, Any]] = []

    def records() -> Iterator[Article]:
        now = feedstate.now_utc().isoformat()
        for lineno, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                yield Article.from_input(json.loads(line), fetched_at=now)
            except (ValueError, TypeError) as exc:
                bad.append({"line": lineno, "error": str(exc).splitlines()[0][:200]})

    summary = index_articles(rt, records(), chunk=chunk)
    summary["errors"] = len(bad)
    summary["bad_lines"] = bad[:20]
    return summary
