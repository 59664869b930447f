"""One story per event, across languages: assign each article to the story of the event it reports.

Two articles report the same event when

- they are near-duplicates (MinHash over word bigrams ≥ ``dedupe.THRESHOLD``: wire copies, light edits), or
- their title + lead are close in a multilingual sentence space (``newswatch.encoder``; rewrites, other
  languages), corrected by the *event-specific* evidence they share: the gazetteer entities both name
  (language-independent ids) and the counts both report, each weighted by how rare it is among the articles
  clustered together (``Rarity``). Publication time only ever subtracts (beyond ``max_gap_hours`` never;
  ``decay_per_day`` otherwise), so being published close together cannot carry a pair over ``tau``.

Why rarity: every article about one topic names the same countries, the same war zone and often the same
headline figure (the topic's own vocabulary). Counted as evidence, they pushed different events of one topic
published the same day (troops moved to Belgorod, casualties near Sudzha, builders in Donetsk) over the
threshold together. Weighted by an inverse document frequency over the batch and its candidates from the
index, "Russia" or "North Korea" in 80 of 100 articles weighs ~0.1 and a town, a person or a figure named by
two articles of a hundred weighs ~0.7; a pair whose only common ground is the topic scores its cosine alone.

A new article is scored against each candidate story by *average* linkage over all the story's members
(a single close member cannot chain two events together, and a member published beyond the window scores
-9, so a story that spread over more days than the window is not joined: its development is a new story)
and joins the best story scoring at least ``tau``; otherwise it starts its own story, whose id is its own
id. Articles are processed oldest first and indexed articles keep their story id, so a story id is stable
once assigned.

Candidates come from the articles already assigned in the same call and from a ``CandidateSource``: the
Elasticsearch one (``es_candidates``: LSH band terms for near-duplicates plus a kNN query on the
``embedding`` dense_vector within the time window, then every member of those stories in the window, all
in a few ``msearch`` round trips per batch) in the pipeline, none in ``newswatch cluster`` (which needs no
service). The same ``assign`` runs in both. The parameters were chosen on the development story set
(``tests/data/stories/stories_dev.jsonl``, with the same-topic, same-day probes of
``tests/data/stories/probes.jsonl`` as a constraint) and are reported on the held-out one (README).
"""

from __future__ import annotations

import math
import re
from collections import Counter
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
    entity: float = 0.6  # × rarity-weighted Jaccard of the gazetteer entities (see entity_mass)
    entity_mass: float = 1.5  # the Jaccard's denominator is at least this much rarity
    number: float = 0.3  # × rarity of the rarest count both report
    conflict: float = 0.1  # both report counts and share none
    max_gap_hours: float = 48.0
    decay_per_day: float = 0.2  # per day between publications
    cross_language: float = 0.15  # the encoder scores translations lower than same-language rewrites
    prior_docs: int = 5  # rarity: as if this many more articles named none of the features
    knn: int = 20  # candidates per article from the vector index


PARAMS = StoryParams()
# a batch source: for each article of the batch (by id), its candidates among already indexed articles
CandidateSource = Callable[[list[dict[str, Any]]], dict[str, list[dict[str, Any]]]]


@dataclass(frozen=True)
class Background:
    """How many indexed articles there are, and how many of them name each entity and report each count."""

    total: int
    entities: dict[str, int]
    numbers: dict[int, int]


# the background of the entities and counts named (``es_background``)
BackgroundSource = Callable[[set[str], set[int]], Background]


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


@dataclass
class _Features:
    hours: float | None
    sig: list[int]
    vec: np.ndarray | None
    entities: set[str]
    numbers: set[int]
    lang: str | None


def _feat(doc: dict[str, Any]) -> _Features:
    """What scoring needs, parsed once per article (cached on the dict under ``_features``)."""
    f = doc.get("_features")
    if f is None:
        vec = doc.get("embedding")
        f = doc["_features"] = _Features(
            hours=_hours(doc.get("published")), sig=dedupe.decode(doc.get("minhash")),
            vec=np.asarray(vec, dtype=np.float32) if vec else None,
            entities={e["id"] for e in doc.get("entities") or [] if isinstance(e, dict) and e.get("id")},
            numbers=set(doc.get("numbers") or []), lang=doc.get("lang"))
    return f


class Rarity:
    """How much an entity or a count tells about the event: an inverse document frequency over the articles
    clustered together (a batch and its candidates from the index, or the input of ``newswatch cluster``),
    smoothed by ``prior_docs`` articles that name none of them, and scaled to 0..1.

    A feature in every article weighs ~0; one named by a single article of many weighs ~1. With few
    articles little is known to be common (two articles: 0.47 for what both name, 0.67 for what one
    names). ``prior_docs`` 5 rather than 0 so that two reports of one event, clustered alone, still count
    what they share; 0 to 40 score the same on the story sets."""

    def __init__(self, docs: Sequence[dict[str, Any]], params: StoryParams = PARAMS,
                 background: Background | None = None) -> None:
        self.entities: Counter[str] = Counter()
        self.numbers: Counter[int] = Counter()
        for d in docs:
            f = _feat(d)
            self.entities.update(f.entities)
            self.numbers.update(f.numbers)
        extra = 0
        if background is not None:  # the articles already indexed, counted by Elasticsearch
            extra = background.total
            self.entities.update(background.entities)
            self.numbers.update(background.numbers)
        self.total = len(docs) + extra + params.prior_docs + 1
        self._log_total = math.log(self.total)

    def weight(self, df: int) -> float:
        return max(0.0, math.log(self.total / (df + 1)) / self._log_total)

    def entity(self, e: str) -> float:
        return self.weight(self.entities[e])

    def number(self, n: int) -> float:
        return self.weight(self.numbers[n])


def pair_score(a: dict[str, Any], b: dict[str, Any], params: StoryParams = PARAMS,
               rarity: Rarity | None = None) -> float:
    """How strongly two articles look like one event (≥ 9: near-duplicates; < ``tau``: not the same).

    ``rarity`` is what ``assign`` passes (the whole batch's); without it the pair alone is the reference."""
    fa, fb = _feat(a), _feat(b)
    gap = abs(fa.hours - fb.hours) if fa.hours is not None and fb.hours is not None else params.max_gap_hours
    if gap > params.max_gap_hours:
        return -9.0
    if dedupe.similarity(fa.sig, fb.sig) >= dedupe.THRESHOLD:
        return 9.0
    if fa.vec is None or fb.vec is None:
        return -9.0
    rarity = rarity if rarity is not None else Rarity([a, b], params)
    score = float(fa.vec @ fb.vec)
    if fa.entities and fb.entities:
        # rarity-weighted Jaccard; the floor on the denominator keeps two articles that name only the
        # topic's own (common, light) entities from scoring full agreement on them
        union = max(params.entity_mass, sum(rarity.entity(e) for e in fa.entities | fb.entities))
        score += params.entity * sum(rarity.entity(e) for e in fa.entities & fb.entities) / union
    if fa.numbers and fb.numbers:
        shared = fa.numbers & fb.numbers
        score += params.number * max(rarity.number(n) for n in shared) if shared else -params.conflict
    score -= params.decay_per_day * gap / 24.0
    if fa.lang and fb.lang and fa.lang != fb.lang:
        score += params.cross_language
    return score


class _Pool:
    """The articles assigned so far in one ``assign`` call, searchable like the index: band lookups and
    the ``knn`` nearest embeddings in the time window, with one matrix product per article."""

    def __init__(self, size: int) -> None:
        from newswatch.encoder import DIMS

        self.docs: list[dict[str, Any]] = []
        self.vecs = np.zeros((max(size, 1), DIMS), dtype=np.float32)
        self.hours = np.full(max(size, 1), np.nan)
        self.by_band: dict[str, list[int]] = {}
        self.by_story: dict[str, list[int]] = {}

    def add(self, doc: dict[str, Any]) -> None:
        i = len(self.docs)
        f = _feat(doc)
        if f.vec is not None and f.vec.shape[0] == self.vecs.shape[1]:
            self.vecs[i] = f.vec
        self.hours[i] = f.hours if f.hours is not None else np.nan
        for b in doc.get("minhash_bands") or []:
            self.by_band.setdefault(b, []).append(i)
        self.by_story.setdefault(doc.get("story_id") or doc["id"], []).append(i)
        self.docs.append(doc)

    def candidates(self, art: dict[str, Any], params: StoryParams) -> list[dict[str, Any]]:
        n = len(self.docs)
        if not n:
            return []
        found = {i for b in art.get("minhash_bands") or [] for i in self.by_band.get(b, ())}
        f = _feat(art)
        if f.vec is not None and f.vec.shape[0] == self.vecs.shape[1]:
            sims = self.vecs[:n] @ f.vec
            if f.hours is not None:
                far = np.abs(self.hours[:n] - f.hours) > params.max_gap_hours  # NaN compares False: kept
                sims = np.where(far, -np.inf, sims)
            k = min(params.knn, n)
            top = np.argpartition(-sims, k - 1)[:k]
            found |= {int(i) for i in top if np.isfinite(sims[i]) and sims[i] != 0.0}
        # average linkage over every member of a candidate story, not just the nearest: a member published
        # beyond the window scores -9, so a story spread over more days than the window is not joined
        stories = {self.docs[i].get("story_id") or self.docs[i]["id"] for i in found}
        return [self.docs[i] for s in stories for i in self.by_story.get(s, ())]


def assign(articles: Sequence[dict[str, Any]], source: CandidateSource | None = None,
           params: StoryParams = PARAMS, background: BackgroundSource | None = None) -> int:
    """Set ``story_id`` on each article dict (``id, published, lang, minhash, minhash_bands, embedding,
    entities, numbers``); articles already carrying a ``story_id`` keep it. Returns how many joined an
    existing story."""
    joined = 0
    ordered = sorted(articles, key=lambda a: (str(a.get("published") or "9999"), a["id"]))
    todo = [a for a in ordered if not a.get("story_id")]
    if not todo:  # a re-index or retag of indexed articles: no candidate or background search
        return 0
    indexed = source(todo) if source is not None else {}
    reference = {a["id"]: a for a in ordered}
    for cands in indexed.values():
        for c in cands:
            reference.setdefault(c["id"], c)
    if background is None:  # one call (``newswatch cluster``): rarity over its input and the candidates
        rarity = Rarity(list(reference.values()), params)
    else:  # the pipeline: over the batch and everything indexed before it (the candidates among them)
        feats = [_feat(d) for d in reference.values()]
        rarity = Rarity(ordered, params, background(set().union(*(f.entities for f in feats)),
                                                    set().union(*(f.numbers for f in feats))))
    pool = _Pool(len(ordered))
    for art in ordered:
        if art.get("story_id"):
            pool.add(art)
            continue
        candidates = {c["id"]: c for c in pool.candidates(art, params)}
        for c in indexed.get(art["id"], ()):
            if c["id"] != art["id"]:
                candidates.setdefault(c["id"], c)
        by_story: dict[str, list[float]] = {}
        for c in candidates.values():
            by_story.setdefault(c.get("story_id") or c["id"], []).append(pair_score(art, c, params, rarity))
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
        pool.add(art)
    for doc in reference.values():
        doc.pop("_features", None)
    return joined


CANDIDATE_FIELDS = ["id", "published", "lang", "minhash", "minhash_bands", "embedding", "entities", "numbers",
                    "story_id"]


# The neighbour searches want only each hit's id and story id: from doc values, never from ``_source``
# (an indexed article's source is its whole text, search text and 512 floats; filtering it to two fields
# still parses all of it, for every hit of every search)
_IDS_ONLY: dict[str, Any] = {"_source": False, "docvalue_fields": ["story_id"]}


def es_candidates(es: Any, index: str, params: StoryParams = PARAMS) -> CandidateSource:
    """Candidates from Elasticsearch for a batch, in two kinds of round trip: one ``msearch`` (per 100
    articles) with one search per article for the ids and story ids of the articles sharing an LSH band
    (near-duplicates) and of the ``knn`` nearest embeddings published within ``max_gap_hours``; then one
    ``terms`` search (per 500 stories) for every member of the stories found, with the fields scoring needs.

    Only the second carries embeddings, and each indexed article once: neighbours are shared by many
    articles of a batch (a busy story is everyone's neighbour), and 512 floats of JSON per hit per article
    were what the candidate queries spent their time on."""

    def source(batch: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        searches: list[dict[str, Any]] = []
        owners: list[str] = []
        window = f"{int(params.max_gap_hours)}h"
        for art in batch:
            # one search per article: its LSH band neighbours (the query; each shared band scores 1, so they
            # rank first) and its ``knn`` nearest embeddings in the time window (scores ≤ 1); the hits are
            # their union
            not_self = {"ids": {"values": [art["id"]]}}
            should: list[dict[str, Any]] = []
            size = 0
            bands = list(art.get("minhash_bands") or [])
            if bands:
                size += dedupe.CANDIDATES
                should += [{"constant_score": {"filter": {"term": {"minhash_bands": b}}}} for b in bands]
            if art.get("embedding"):
                # the knn *query* (in the query phase), not the top-level knn section (a DFS round of its own)
                flt: list[dict[str, Any]] = []
                if _hours(art.get("published")) is not None:
                    flt.append({"range": {"published": {"gte": f"{art['published']}||-{window}",
                                                        "lte": f"{art['published']}||+{window}"}}})
                size += params.knn
                should.append({"knn": {"field": "embedding", "query_vector": list(art["embedding"]), "k": params.knn,
                                       "num_candidates": max(50, 4 * params.knn), "filter": flt}})
            body: dict[str, Any] = {"size": size, **_IDS_ONLY, "track_total_hits": False, "query": {"bool": {
                "should": should, "minimum_should_match": 1, "must_not": [not_self]}}}
            if size:
                searches += [{"index": index}, body]
                owners.append(art["id"])
        found: dict[str, set[str]] = {}  # article id -> story ids of its neighbours
        for start in range(0, len(searches), 200):  # 100 searches a request
            resp = es.msearch(searches=searches[start:start + 200])
            for owner, r in zip(owners[start // 2:], resp["responses"], strict=False):
                if "error" in r:  # fewer candidates would split a story silently: the step fails and retries
                    raise RuntimeError(f"story candidate search for {owner} failed: {str(r['error'])[:300]}")
                found.setdefault(owner, set()).update(
                    (h.get("fields", {}).get("story_id") or [h["_id"]])[0] for h in r.get("hits", {}).get("hits", []))
        wanted = sorted({s for stories_ in found.values() for s in stories_})
        members: dict[str, list[dict[str, Any]]] = {}
        for start in range(0, len(wanted), 500):
            resp = es.search(index=index, size=10000, source_includes=CANDIDATE_FIELDS,
                             query={"terms": {"story_id": wanted[start:start + 500]}})
            for h in resp["hits"]["hits"]:
                members.setdefault(h["_source"].get("story_id") or h["_id"], []).append(h["_source"])
        # one dict per indexed article, shared by every article of the batch it is a candidate of
        return {owner: [m for s in sorted(stories_) for m in members.get(s, ()) if m["id"] != owner]
                for owner, stories_ in found.items()}

    return source


def es_background(es: Any, index: str) -> BackgroundSource:
    """The rarity background from Elasticsearch: one size-0 search counting the indexed articles and, per
    entity id and per count asked for, the articles naming it (terms aggregations limited to those values).

    Why: weighed over a batch and its candidates alone, the rarity of what two articles share depends on
    how many articles the run happens to hold. The story set indexed one article per run lost recall
    0.942 → 0.858 (cross-language 0.949 → 0.878) against clustering it in one call; weighed over the
    batch and every article indexed before it, 0.892 / 0.918 (``tests/integration/test_story_candidates.py``)."""

    def source(entities: set[str], numbers: set[int]) -> Background:
        aggs: dict[str, Any] = {}
        if entities:
            aggs["e"] = {"terms": {"field": "entities.id", "include": sorted(entities), "size": len(entities)}}
        if numbers:
            aggs["n"] = {"terms": {"field": "numbers", "include": sorted(numbers), "size": len(numbers)}}
        resp = es.search(index=index, size=0, track_total_hits=True, aggs=aggs or None)
        got = resp.get("aggregations") or {}
        return Background(total=int(resp["hits"]["total"]["value"]),
                          entities={b["key"]: b["doc_count"] for b in got.get("e", {}).get("buckets", [])},
                          numbers={int(b["key"]): b["doc_count"] for b in got.get("n", {}).get("buckets", [])})

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
