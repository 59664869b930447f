"""One story per event, across languages: assign each article to the story of the event it reports.

Two articles report the same event when

- they are near-duplicates (MinHash over word bigrams ≥ ``dedupe.THRESHOLD``: wire copies, light edits), or
- their title + lead are close in a multilingual sentence space (``newswatch.encoder``; rewrites, other
  languages), corrected by what tells look-alike events apart: publication time (beyond ``max_gap_hours``
  never; closer is likelier), the numbers they report (a shared count is evidence, two different counts
  and none in common count against), and the gazetteer entities they name (language-independent ids).

A new article is scored against each candidate story by *average* linkage over all the story's members
(a single close member cannot chain two events together, and a member published beyond the window scores
-9, so a story that spread over more days than the window is not joined: its development is a new story)
and joins the best story scoring at least ``tau``; otherwise it starts its own story, whose id is its own
id. Articles are processed oldest first and indexed articles keep their story id, so a story id is stable
once assigned.

Candidates come from the articles already assigned in the same call and from a ``CandidateSource``: the
Elasticsearch one (``es_candidates``: LSH band terms for near-duplicates plus a kNN query on the
``embedding`` dense_vector within the time window, then every member of those stories in the window) in
the pipeline, none in ``newswatch cluster`` (which
needs no service). The same ``assign`` runs in both. The parameters were chosen on the development story set
(``tests/data/stories/stories_dev.jsonl``) and are reported on the held-out one (README).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from newswatch import dedupe

_NUM = re.compile(r"(?<!\d)(\d{1,3}(?:[ ,.\u00a0]\d{3})+|\d+)(?!\d)")


@dataclass(frozen=True)
class StoryParams:
    tau: float = 0.7  # a story is joined at this average score
    entity: float = 0.4  # × Jaccard of the gazetteer entities
    number: float = 0.3  # both report numbers and share one
    conflict: float = 0.1  # both report numbers and share none
    max_gap_hours: float = 48.0
    decay_per_day: float = 0.2  # per day between publications
    cross_language: float = 0.15  # the encoder scores translations lower than same-language rewrites
    knn: int = 20  # candidates per article from the vector index


PARAMS = StoryParams()
CandidateSource = Callable[[dict[str, Any]], list[dict[str, Any]]]


def numbers_of(text: str, claims: Sequence[dict[str, Any]] = ()) -> list[int]:
    """Counts an article reports: its claims' numbers and the numbers ≥ 20 written in digits (years out)."""
    found = {int(c["count"]) for c in claims if c.get("count")}
    found |= {int(c["count_max"]) for c in claims if c.get("count_max")}
    for m in _NUM.finditer(text or ""):
        value = int(re.sub(r"\D", "", m.group(1)))
        if value >= 20 and not 1900 <= value <= 2100:
            found.add(value)
    return sorted(found)[:50]


def _hours(published: Any) -> float | None:
    try:
        return datetime.fromisoformat(str(published)).timestamp() / 3600.0
    except (TypeError, ValueError):
        return None


def _entity_ids(doc: dict[str, Any]) -> set[str]:
    return {e["id"] for e in doc.get("entities") or [] if isinstance(e, dict) and e.get("id")}


def pair_score(a: dict[str, Any], b: dict[str, Any], params: StoryParams = PARAMS) -> float:
    """How strongly two articles look like one event (≥ 9: near-duplicates; < ``tau``: not the same)."""
    ha, hb = _hours(a.get("published")), _hours(b.get("published"))
    gap = abs(ha - hb) if ha is not None and hb is not None else params.max_gap_hours
    if gap > params.max_gap_hours:
        return -9.0
    if dedupe.similarity(dedupe.decode(a.get("minhash")), dedupe.decode(b.get("minhash"))) >= dedupe.THRESHOLD:
        return 9.0
    va, vb = a.get("embedding"), b.get("embedding")
    if not va or not vb:
        return -9.0
    score = float(np.dot(np.asarray(va, dtype=np.float32), np.asarray(vb, dtype=np.float32)))
    ea, eb = _entity_ids(a), _entity_ids(b)
    if ea and eb:
        score += params.entity * len(ea & eb) / len(ea | eb)
    na, nb = set(a.get("numbers") or []), set(b.get("numbers") or [])
    if na and nb:
        score += params.number if na & nb else -params.conflict
    score -= params.decay_per_day * gap / 24.0
    if a.get("lang") and b.get("lang") and a["lang"] != b["lang"]:
        score += params.cross_language
    return score


def _nearest(art: dict[str, Any], pool: Sequence[dict[str, Any]], params: StoryParams) -> list[dict[str, Any]]:
    """The in-memory counterpart of ``es_candidates``: band matches and the ``knn`` nearest in the window."""
    bands = set(art.get("minhash_bands") or [])
    h = _hours(art.get("published"))
    vec = art.get("embedding")
    near: list[tuple[float, int]] = []
    out: dict[str, dict[str, Any]] = {}
    for i, c in enumerate(pool):
        if bands & set(c.get("minhash_bands") or []):
            out[c["id"]] = c
        hc = _hours(c.get("published"))
        if vec and c.get("embedding") and (h is None or hc is None or abs(h - hc) <= params.max_gap_hours):
            near.append((float(np.dot(vec, c["embedding"])), i))
    for _, i in sorted(near, reverse=True)[: params.knn]:
        out.setdefault(pool[i]["id"], pool[i])
    # average linkage over every member of a candidate story, not just the nearest: a member published
    # beyond the window scores -9, so a story spread over more days than the window is not joined
    wanted = {c.get("story_id") or c["id"] for c in out.values()}
    for c in pool:
        if (c.get("story_id") or c["id"]) in wanted:
            out.setdefault(c["id"], c)
    return list(out.values())


def assign(articles: Sequence[dict[str, Any]], source: CandidateSource | None = None,
           params: StoryParams = PARAMS) -> int:
    """Set ``story_id`` on each article dict (``id, published, lang, minhash, minhash_bands, embedding,
    entities, numbers``); articles already carrying a ``story_id`` keep it. Returns how many joined an
    existing story."""
    joined = 0
    ordered = sorted(articles, key=lambda a: (str(a.get("published") or "9999"), a["id"]))
    seen: list[dict[str, Any]] = []
    for art in ordered:
        if art.get("story_id"):
            seen.append(art)
            continue
        candidates = {c["id"]: c for c in _nearest(art, seen, params)}
        if source is not None:
            for c in source(art):
                if c["id"] != art["id"]:
                    candidates.setdefault(c["id"], c)
        by_story: dict[str, list[float]] = {}
        for c in candidates.values():
            by_story.setdefault(c.get("story_id") or c["id"], []).append(pair_score(art, c, params))
        best: tuple[float, str] | None = None
        for story, scores in by_story.items():
            score = 9.0 if max(scores) >= 9.0 else sum(scores) / len(scores)
            if score >= params.tau and (best is None or (score, story) > best):
                best = (score, story)
        if best is not None:
            art["story_id"] = best[1]
            joined += 1
        else:
            art["story_id"] = art["id"]
        seen.append(art)
    return joined


CANDIDATE_FIELDS = ["id", "published", "lang", "minhash", "minhash_bands", "embedding", "entities", "numbers",
                    "story_id"]


def es_candidates(es: Any, index: str, params: StoryParams = PARAMS) -> CandidateSource:
    """Candidates from Elasticsearch: articles sharing an LSH band (near-duplicates) and the ``knn`` nearest
    embeddings published within ``max_gap_hours`` (the local build supports dense_vector kNN)."""

    def source(art: dict[str, Any]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        bands = list(art.get("minhash_bands") or [])
        not_self = {"ids": {"values": [art["id"]]}}
        if bands:
            resp = es.search(index=index, size=dedupe.CANDIDATES, source_includes=CANDIDATE_FIELDS,
                             query={"bool": {"should": [{"term": {"minhash_bands": b}} for b in bands],
                                             "minimum_should_match": 1, "must_not": [not_self]}})
            out += [h["_source"] for h in resp["hits"]["hits"]]
        vec = art.get("embedding")
        if vec:
            knn: dict[str, Any] = {"field": "embedding", "query_vector": list(vec), "k": params.knn,
                                   "num_candidates": max(50, 4 * params.knn)}
            h = _hours(art.get("published"))
            window = f"{int(params.max_gap_hours)}h"
            flt: list[dict[str, Any]] = [{"bool": {"must_not": [not_self]}}]
            if h is not None:
                flt.append({"range": {"published": {"gte": f"{art['published']}||-{window}",
                                                    "lte": f"{art['published']}||+{window}"}}})
            knn["filter"] = flt
            resp = es.search(index=index, knn=knn, size=params.knn, source_includes=CANDIDATE_FIELDS)
            out += [h_["_source"] for h_ in resp["hits"]["hits"]]
            # every member of those stories (average linkage over the story; see ``_nearest``)
            wanted = sorted({c.get("story_id") or c["id"] for c in out})
            if wanted:
                resp = es.search(index=index, size=500, source_includes=CANDIDATE_FIELDS, query={"bool": {
                    "filter": [{"terms": {"story_id": wanted}}], "must_not": [not_self]}})
                out += [h_["_source"] for h_ in resp["hits"]["hits"]]
        return out

    return source


def prepare(items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Story features for raw items (``id, title, text, lang?, published?``) without any service: tags for
    entities and claims, MinHash, embedding, numbers — what the index step computes. ``newswatch cluster``
    and the story quality test use it, so they run the pipeline's algorithm with its thresholds."""
    from newswatch import encoder
    from newswatch.tagging import combine, load_topics

    topics = load_topics()
    vectors = encoder.embed([encoder.article_text(str(it.get("title") or ""), str(it.get("text") or ""))
                             for it in items])
    docs = []
    for it, vec in zip(items, vectors, strict=True):
        title, text = str(it.get("title") or ""), str(it.get("text") or "")
        tags = combine(topics.tag(title, text, it.get("lang")), topics.default)
        docs.append({"id": str(it["id"]), "published": it.get("published"), "lang": it.get("lang"),
                     **dedupe.fingerprint(text), "embedding": [float(x) for x in vec],
                     "entities": tags["entities"], "numbers": numbers_of(f"{title}\n{text}", tags["claims"])})
    return docs
