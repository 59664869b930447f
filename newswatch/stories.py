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
Elasticsearch one (``es_candidates``: the articles sharing LSH bands, near-duplicates, and the nearest
embeddings within the time window, found in one read of the window's doc values when that is cheaper than
a kNN and a band search per article, then every member of those stories, all in a few ``msearch`` round
trips per batch) in the pipeline, none in ``newswatch cluster`` (which needs no
service). The same ``assign`` runs in both. The parameters were chosen on the development story set
(``tests/data/stories/stories_dev.jsonl``, with the same-topic, same-day probes of
``tests/data/stories/probes.jsonl`` as a constraint) and are reported on the held-out one (README).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import gc
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from newswatch import dedupe
from newswatch.encoder import DIMS, pack, unpack

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


def _time(published: Any) -> datetime | None:
    """A publication time (ISO 8601); one without an offset is UTC, as Elasticsearch reads it."""
    try:
        when = datetime.fromisoformat(str(published))
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _hours(published: Any) -> float | None:
    """Hours since the epoch."""
    when = _time(published)
    return when.timestamp() / 3600.0 if when is not None else None


def _entity_ids(doc: dict[str, Any]) -> set[str]:
    """The gazetteer ids of the entities an article names."""
    return {e["id"] for e in doc.get("entities") or [] if isinstance(e, dict) and e.get("id")}


@dataclass
class _Features:
    hours: float | None
    sig: np.ndarray  # the MinHash signature (uint32; empty without words)
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
            hours=_hours(doc.get("published")),
            sig=np.asarray(dedupe.decode(doc.get("minhash")), dtype=np.uint32),
            vec=np.asarray(vec, dtype=np.float32) if vec else None,
            entities=_entity_ids(doc),
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

        self._entity: dict[str, float] = {}
        self._number: dict[int, float] = {}
        self._mass: dict[int, tuple[_Features, float]] = {}

    def weight(self, df: int) -> float:
        return max(0.0, math.log(self.total / (df + 1)) / self._log_total)

    def entity(self, e: str) -> float:
        w = self._entity.get(e)
        if w is None:
            w = self._entity[e] = self.weight(self.entities[e])
        return w

    def mass(self, f: _Features) -> float:
        """The summed weight of an article's entities (cached: a candidate is scored against many articles)."""
        got = self._mass.get(id(f))
        if got is None:
            got = self._mass[id(f)] = (f, sum(self.entity(e) for e in f.entities))  # f kept: its id stays its own
        return got[1]

    def number(self, n: int) -> float:
        w = self._number.get(n)
        if w is None:
            w = self._number[n] = self.weight(self.numbers[n])
        return w


def pair_score(a: dict[str, Any], b: dict[str, Any], params: StoryParams = PARAMS,
               rarity: Rarity | None = None) -> float:
    """How strongly two articles look like one event (≥ 9: near-duplicates; < ``tau``: not the same).

    ``rarity`` is what ``assign`` passes (the whole batch's); without it the pair alone is the reference."""
    return scores(a, [b], params, rarity if rarity is not None else Rarity([a, b], params))[0]


class _Table:
    """The features of every article one ``assign`` call scores, a row each: ``scores`` gathers a candidate
    list's times, signatures, vectors and languages by row, where stacking them from the objects, for every
    article they are candidates of, was a third of its time. A signature compares only with those of its own
    width (``slots``), a vector with those of its own dimensions (``dims``)."""

    def __init__(self, feats: Iterable[_Features], dims: int = DIMS, slots: int = dedupe.SLOTS) -> None:
        self.dims, self.slots = dims, slots
        self.row: dict[int, int] = {}  # id(features) -> row; ``rows`` keeps them alive, so ids stay theirs
        self.rows: list[_Features] = []
        for f in feats:
            if id(f) not in self.row:
                self.row[id(f)] = len(self.rows)
                self.rows.append(f)
        rows, n = self.rows, len(self.rows)
        self.hours = np.array([f.hours if f.hours is not None else np.nan for f in rows], dtype=np.float64)
        self.signed = np.array([f.sig.size == slots for f in rows], dtype=bool)
        self.sigs = np.zeros((n, slots), dtype=np.uint32)
        if self.signed.any():
            self.sigs[self.signed] = np.stack([f.sig for f in rows if f.sig.size == slots])
        self.vectored = np.array([f.vec is not None and f.vec.shape == (dims,) for f in rows], dtype=bool)
        self.vecs = np.zeros((n, dims), dtype=np.float32)
        if self.vectored.any():
            self.vecs[self.vectored] = np.stack([f.vec for f in rows if f.vec is not None and f.vec.shape == (dims,)])
        self.codes: dict[str, int] = {}
        self.langs = np.array([self.codes.setdefault(f.lang, len(self.codes)) if f.lang else -1 for f in rows],
                              dtype=np.int64)
        # the rows that name each entity and report each count (the shared evidence of an article with all of
        # its candidates at once, entity by entity: ``_combined``)
        by_entity: dict[str, list[int]] = {}
        by_number: dict[int, list[int]] = {}
        for r, f in enumerate(rows):
            for e in f.entities:
                by_entity.setdefault(e, []).append(r)
            for x in f.numbers:
                by_number.setdefault(x, []).append(r)
        self.entity_rows = {e: np.asarray(r, dtype=np.int64) for e, r in by_entity.items()}
        self.number_rows = {x: np.asarray(r, dtype=np.int64) for x, r in by_number.items()}
        self.named = np.array([bool(f.entities) for f in rows], dtype=bool)
        self.counted = np.array([bool(f.numbers) for f in rows], dtype=bool)
        self._masses: tuple[Rarity, np.ndarray] | None = None

    def masses(self, rarity: Rarity) -> np.ndarray:
        """Each row's summed entity weight (``Rarity.mass``) under ``rarity``."""
        if self._masses is None or self._masses[0] is not rarity:
            self._masses = (rarity, np.array([rarity.mass(f) for f in self.rows], dtype=np.float64))
        return self._masses[1]


def _rows(table: _Table, feats: list[_Features]) -> np.ndarray | None:
    """The rows of ``feats`` in ``table``, or None when it does not hold them all."""
    try:
        return np.fromiter((table.row[id(f)] for f in feats), dtype=np.int64, count=len(feats))
    except KeyError:
        return None


def scores(a: dict[str, Any], others: Sequence[dict[str, Any]], params: StoryParams,
           rarity: Rarity, table: _Table | None = None) -> list[float]:
    """``pair_score`` of ``a`` with each of ``others``: the time gap, MinHash agreement and cosine of all of
    them at once (numpy, gathered by row from ``table``; from a table of their own when it does not hold them
    all or ``a``'s vector or signature is of another width), then the shared entities and counts pair by pair."""
    fa = _feat(a)
    fbs = [_feat(b) for b in others]
    n = len(fbs)
    if not n:
        return []
    dims = fa.vec.shape[0] if fa.vec is not None else DIMS
    slots = fa.sig.size or dedupe.SLOTS
    rows = _rows(table, fbs) if table is not None and (table.dims, table.slots) == (dims, slots) else None
    if table is None or rows is None:
        table = _Table([fa, *fbs], dims, slots)
        rows = _rows(table, fbs)
    assert rows is not None
    gap = np.abs(table.hours[rows] - fa.hours) if fa.hours is not None else np.full(n, np.nan)
    gap = np.where(np.isnan(gap), params.max_gap_hours, gap)
    close = np.flatnonzero(gap <= params.max_gap_hours)  # only these need the signatures and vectors
    near = np.zeros(n, dtype=bool)
    if fa.sig.size:
        same = close[table.signed[rows[close]]]
        if same.size:
            near[same] = (table.sigs[rows[same]] == fa.sig).mean(axis=1) >= dedupe.THRESHOLD
    cos = np.full(n, np.nan)
    if fa.vec is not None:
        fit = close[table.vectored[rows[close]]]
        if fit.size:
            cos[fit] = table.vecs[rows[fit]] @ fa.vec
    theirs = table.langs[rows]
    other_lang = (theirs >= 0) & (theirs != table.codes.get(fa.lang, -2)) if fa.lang else np.zeros(n, dtype=bool)
    return _combined(fa, table, rows, gap, close, near, cos, other_lang, params, rarity)


def _combined(fa: _Features, table: _Table, rows: np.ndarray, gap: np.ndarray, close: np.ndarray,
              near: np.ndarray, cos: np.ndarray, other_lang: np.ndarray, params: StoryParams,
              rarity: Rarity) -> list[float]:
    """The scores from the terms computed for all candidates (``rows`` of ``table``) at once, with the
    entities and counts shared where a score is computed: for each entity and count of ``fa``, the candidates
    that name it too (``table.entity_rows``), not each candidate's set against ``fa``'s."""
    n = len(rows)
    live = np.zeros(n, dtype=bool)
    live[close] = True
    live &= ~near & ~np.isnan(cos)
    entity = np.zeros(n)
    number = np.zeros(n)
    scored = np.flatnonzero(live)
    if (fa.entities or fa.numbers) and scored.size:  # the shared evidence, only where a score is computed
        at = np.full(len(table.rows), -1, dtype=np.int64)  # table row -> its place among the scored
        at[rows[scored]] = np.arange(scored.size)
        if fa.entities:
            shared = np.zeros(scored.size)
            for e in fa.entities:
                if (found := table.entity_rows.get(e)) is not None:
                    q = at[found]
                    shared[q[q >= 0]] += rarity.entity(e)
            # rarity-weighted Jaccard; the floor on the denominator keeps two articles that name only the
            # topic's own (common, light) entities from scoring full agreement on them
            floor = np.maximum(params.entity_mass, rarity.mass(fa) + table.masses(rarity)[rows[scored]] - shared)
            entity[scored] = np.where(table.named[rows[scored]], params.entity * shared / floor, 0.0)
        if fa.numbers:
            best = np.full(scored.size, -np.inf)  # the rarest count both report
            for x in fa.numbers:
                if (found := table.number_rows.get(x)) is not None:
                    q = at[found]
                    q = q[q >= 0]
                    best[q] = np.maximum(best[q], rarity.number(x))
            both = np.where(best > -np.inf, params.number * best, -params.conflict)
            number[scored] = np.where(table.counted[rows[scored]], both, 0.0)
    score = cos + entity + number - params.decay_per_day * gap / 24.0 + params.cross_language * other_lang
    score = np.where(live, score, -9.0)
    score[near] = 9.0  # near is only ever set within the window
    out: list[float] = score.tolist()
    return out


def _nearest(sims: np.ndarray, hours: np.ndarray, at: float | None, params: StoryParams) -> list[int]:
    """The rows of the ``knn`` highest similarities ``sims`` published within ``max_gap_hours`` of ``at``
    (a row without a time, NaN, is kept; a zero similarity, an empty text's zero vector, never is)."""
    if at is not None:
        sims = np.where(np.abs(hours - at) > params.max_gap_hours, -np.inf, sims)  # NaN compares False: kept
    k = min(params.knn, len(sims))
    if not k:
        return []
    top = np.argpartition(-sims, k - 1)[:k]
    return [int(i) for i in top if np.isfinite(sims[i]) and sims[i] != 0.0]


class _Pool:
    """The articles assigned so far in one ``assign`` call, searchable like the index: band lookups and
    the ``knn`` nearest embeddings in the time window, with one matrix product per article."""

    def __init__(self, size: int) -> None:
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
            found.update(_nearest(self.vecs[:n] @ f.vec, self.hours[:n], f.hours, params))
        # average linkage over every member of a candidate story, not just the nearest: a member published
        # beyond the window scores -9, so a story spread over more days than the window is not joined
        stories = {self.docs[i].get("story_id") or self.docs[i]["id"] for i in found}
        return [self.docs[i] for s in stories for i in self.by_story.get(s, ())]


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for the duration (and back on after, if it was on).

    Why: a window read parses up to tens of thousands of hits into small dicts and lists, and scoring makes
    as many; the allocations trigger collections that walk the whole heap, and a process that has loaded
    the topics, the encoder and a chunk of articles has a big one. Measured on a 5,000-hit read: 55 ms with
    the collector off, 55 or 120 ms with it on, every other read (a collection during the JSON parse).
    Nothing made here is cyclic garbage that must go before the call ends."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def assign(articles: Sequence[dict[str, Any]], source: CandidateSource | None = None,
           params: StoryParams = PARAMS, background: BackgroundSource | None = None) -> int:
    """Set ``story_id`` on each article dict (``id, published, lang, minhash, minhash_bands, embedding,
    entities, numbers``); articles already carrying a ``story_id`` keep it. Returns how many joined an
    existing story."""
    with _collector_paused():
        return _assign(articles, source, params, background)


def _assign(articles: Sequence[dict[str, Any]], source: CandidateSource | None,
            params: StoryParams, background: BackgroundSource | None) -> int:
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
    table = _Table(_feat(d) for d in [*ordered, *(c for cands in indexed.values() for c in cands)])
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
        found = list(candidates.values())
        for c, score in zip(found, scores(art, found, params, rarity, table), strict=True):
            by_story.setdefault(c.get("story_id") or c["id"], []).append(score)
        best: tuple[float, str] | None = None
        for story, linked in by_story.items():
            score = 9.0 if max(linked) >= 9.0 else sum(linked) / len(linked)
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
# and not from stored fields either: ``_id`` is a stored field, and reading it decompresses the block of
# stored fields (sources of ~20 kB) that holds the article, ~9 µs a hit; the ``id`` field's doc values hold it
_IDS_ONLY: dict[str, Any] = {"stored_fields": "_none_", "docvalue_fields": ["id", "story_id"]}
# Costs on one 2-core node (bench/README.md, bench_stories, 2026-12-05), from which ``es_candidates`` picks
# the cheaper way to find a group's neighbours: one kNN and one band search per article, or one read of the
# window. Measured inside the index step, which writes as it reads (alone, on a quiet index, each costs about
# two thirds of this); the kNN search grows with the index (0.8 ms at 5,000 articles, 1.4-2.5 ms at 20,000)
KNN_SEARCH_MS = 1.1  # one article's kNN search, in an msearch of 100
BAND_SEARCH_MS = 0.4  # one article's band search, in an msearch of 100
WINDOW_READ_MS = 4.0  # a window read's own requests (the count, then a page)
WINDOW_DOC_MS = 0.02  # each indexed article read from doc values (a member's fields) and unpacked
WINDOW_MAX = 50_000
_PUBLISHED_MS = {"field": "published", "format": "epoch_millis"}
_MEMBER_FIELDS: list[Any] = ["story_id", "lang", "numbers", "entities.id", "embedding_q", "minhash_q", _PUBLISHED_MS]


def _window_limit(articles: int) -> int:
    """How many indexed articles a window may hold for its read to cost less than ``articles`` kNN and band
    searches."""
    return min(WINDOW_MAX, int(((KNN_SEARCH_MS + BAND_SEARCH_MS) * articles - WINDOW_READ_MS) / WINDOW_DOC_MS))


def _ms(hours: float) -> int:
    return int(hours * 3_600_000)


@dataclass
class _Window:
    """Indexed articles as the neighbour searches need them: story id, time (hours since the epoch), packed
    embedding and MinHash signature (a row of zeros without one), and the doc values they were read from
    (``fields``, as ``_compact`` keeps them: what ``_member`` makes a story member of)."""

    ids: list[str]
    stories: list[str]
    hours: np.ndarray
    vecs: np.ndarray
    sigs: np.ndarray | None = None  # (articles, dedupe.SLOTS) uint32
    fields: list[Compact] | None = None
    base: _Window | None = None  # the window sorted by time this one is a span of (``span``), from row offset
    offset: int = 0
    _row_of: dict[str, int] | None = None
    _bands: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def rows(self, lo_ms: int, hi_ms: int) -> np.ndarray:
        return np.flatnonzero((self.hours >= lo_ms / 3_600_000) & (self.hours <= hi_ms / 3_600_000))

    def by_time(self) -> _Window:
        """The same articles, oldest first (stable: equal times keep their order)."""
        return _Window.join([(self, np.argsort(self.hours, kind="stable"))])

    def span(self, lo_ms: int, hi_ms: int) -> _Window:
        """The articles published from ``lo_ms`` to ``hi_ms`` of this window sorted by time (``by_time``), as
        a view of its rows: no copy of its vectors or signatures."""
        a = int(np.searchsorted(self.hours, lo_ms / 3_600_000, side="left"))
        b = int(np.searchsorted(self.hours, hi_ms / 3_600_000, side="right"))
        return _Window(ids=self.ids[a:b], stories=self.stories[a:b], hours=self.hours[a:b], vecs=self.vecs[a:b],
                       sigs=None if self.sigs is None else self.sigs[a:b],
                       fields=None if self.fields is None else self.fields[a:b], base=self, offset=a)

    def row(self, doc_id: str) -> int:
        """The row of the article ``doc_id``, or -1 (the map of rows computed once, for the whole window of a
        span)."""
        if self.base is not None:
            r = self.base.row(doc_id)
            return r - self.offset if self.offset <= r < self.offset + len(self.ids) else -1
        if self._row_of is None:
            self._row_of = {i: r for r, i in enumerate(self.ids)}
        return self._row_of.get(doc_id, -1)

    def bands(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The rows with a signature, and their band keys sorted in each band column with the sort order
        (``_band_neighbours_in``; computed once)."""
        if self._bands is None:
            rows = np.flatnonzero(self.sigs.any(axis=1)) if self.sigs is not None else np.zeros(0, np.int64)
            keys = _bands_of(self.sigs[rows]) if self.sigs is not None else np.zeros((0, dedupe.BANDS), np.uint64)
            order = np.argsort(keys, axis=0, kind="stable")
            self._bands = (rows, order, np.take_along_axis(keys, order, axis=0))
        return self._bands

    @staticmethod
    def join(parts: list[tuple[_Window, np.ndarray]]) -> _Window:
        """The rows ``r`` of each window, in one (with their doc values when every window has them)."""
        fields = None
        if all(w.fields is not None for w, _ in parts):
            fields = [w.fields[i] for w, r in parts for i in r]  # type: ignore[index]
        return _Window(ids=[w.ids[i] for w, r in parts for i in r], stories=[w.stories[i] for w, r in parts for i in r],
                       hours=np.concatenate([w.hours[r] for w, r in parts] or [np.zeros(0)]),
                       vecs=np.concatenate([w.vecs[r] for w, r in parts] or [np.zeros((0, DIMS), np.float32)]),
                       sigs=np.concatenate([w.sigs[r] for w, r in parts if w.sigs is not None]
                                           or [np.zeros((0, dedupe.SLOTS), np.uint32)]), fields=fields)


_NO_VECTOR = pack([0.0] * DIMS)


# an article in a story: the pipeline clusters only what a topic tags (``steps.indexing.wants_story``); the
# rest has no story id, and is no neighbour (it would stand for a story of its own id that nothing is in)
_IN_STORY = {"exists": {"field": "story_id"}}


def _when(lo_ms: int, hi_ms: int) -> dict[str, Any]:
    """The articles in a story published from ``lo_ms`` to ``hi_ms``."""
    return {"bool": {"filter": [{"range": {"published": {"gte": lo_ms, "lte": hi_ms, "format": "epoch_millis"}}},
                                _IN_STORY]}}


# an article with an embedding or a MinHash but not its packed copy (indexed before those were stored)
_UNPACKED = {"bool": {"should": [
    {"bool": {"filter": [{"exists": {"field": field}}], "must_not": [{"exists": {"field": f"{field}_q"}}]}}
    for field in ("embedding", "minhash")], "minimum_should_match": 1}}


def _count_body(query: dict[str, Any], limit: int) -> dict[str, Any]:
    return {"size": 0, "query": query, "track_total_hits": limit + 1, "aggs": {"unpacked": {"filter": _UNPACKED}}}


def _fits(resp: dict[str, Any], limit: int) -> bool:
    return bool(resp["hits"]["total"]["value"] <= limit and not resp["aggregations"]["unpacked"]["doc_count"])


PAGE = 10_000


def _page_body(query: dict[str, Any], after: list[Any] | None = None, *, by_doc: bool = False) -> dict[str, Any]:
    """A page of ``PAGE`` hits with a story member's doc values; sorted by id for ``search_after``, or, when
    the count says the hits fit in one page (``by_doc``), in index order (no sort: ~30 % of a window read's
    time on the node)."""
    body = {"size": PAGE, "query": query, "stored_fields": "_none_", "track_total_hits": False,
            "docvalue_fields": ["id", *_MEMBER_FIELDS], "sort": ["_doc"] if by_doc else [{"id": "asc"}]}
    return {**body, "search_after": after} if after else body


# what the window and member reads use of each response (not each hit's index, score and so on)
_PAGE_PATH = "hits.hits.fields,hits.hits.sort"


def _window(es: Any, index: str, lo_ms: int, hi_ms: int, limit: int) -> _Window | None:
    """Every indexed article published from ``lo_ms`` to ``hi_ms`` (epoch millis)
    with what a story member needs (``_MEMBER_FIELDS``: story id, packed embedding, MinHash signature, time,
    language, counts, entities), from doc values, in pages of 10,000; None when there are more than ``limit``,
    or when an article there has an embedding or a MinHash but no packed copy (indexed before they were
    stored: its neighbours come from the searches until it has left the window). ``_Reads`` reads a batch's
    windows this way, several to a request."""
    when = _when(lo_ms, hi_ms)
    if not _fits(es.search(index=index, **_count_body(when, limit)), limit):
        return None
    return _parse_window(_pages(es, index, when))


def _parse_window(hits: Iterable[tuple[str, dict[str, Any]]]) -> _Window:
    ids: list[str] = []
    stories_: list[str] = []
    millis: list[str] = []
    packed: list[str] = []
    fields: list[Compact] = []
    sigs = bytearray()
    empty = bytes(4 * dedupe.SLOTS)
    decode = binascii.a2b_base64
    for doc_id, f in hits:
        c = _compact(f)
        ids.append(doc_id)
        fields.append(c)
        stories_.append(c[0] if c[0] is not None else doc_id)
        millis.append(f["published"][0])
        packed.append(f["embedding_q"][0] if "embedding_q" in f else _NO_VECTOR)  # never a neighbour
        sig = decode(c[5]) if c[5] is not None else empty
        sigs += sig if len(sig) == len(empty) else empty
    return _Window(ids, stories_, np.asarray(millis, dtype=np.float64) / 3_600_000, unpack(packed),
                   np.frombuffer(bytes(sigs), dtype=">u4").astype(np.uint32).reshape(len(ids), dedupe.SLOTS), fields)


def _pages(es: Any, index: str, query: dict[str, Any],
           first: list[dict[str, Any]] | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
    """The id and a story member's doc values (``_MEMBER_FIELDS``) of every hit of ``query``, 10,000 to a page
    (by id), from doc values only (``_IDS_ONLY``: no ``_source``, no stored ``_id``); ``first``: the first
    page, already read."""
    after: list[Any] | None = None
    while True:
        if first is not None:
            page, first = first, None
        else:
            page = es.search(index=index, **_page_body(query, after), filter_path=_PAGE_PATH).get(
                "hits", {}).get("hits", [])
        for h in page:
            yield h["fields"]["id"][0], h["fields"]
        if len(page) < PAGE:
            return
        after = page[-1]["sort"]


def _gaps(lo: int, hi: int, have: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of ``[lo, hi]`` (whole epoch millis, both ends in) outside the disjoint sorted ranges
    ``have``."""
    out: list[tuple[int, int]] = []
    at = lo
    for start, stop in have:
        if stop < at or start > hi:
            continue
        if start > at:
            out.append((at, start - 1))
        at = max(at, stop + 1)
        if at > hi:
            return out
    if at <= hi:
        out.append((at, hi))
    return out


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _doc_values(doc: dict[str, Any]) -> dict[str, list[Any]] | None:
    """The doc values a window read gives of ``doc``, an article as the index step stores it
    (``_MEMBER_FIELDS``: keywords sorted and unique, counts sorted, the time in epoch millis), or None when
    its time is not an ISO 8601 one that Python reads as Elasticsearch does."""
    if (when := _time(doc.get("published"))) is None:
        return None
    values: dict[str, list[Any]] = {"published": [str((when - _EPOCH) // timedelta(milliseconds=1))],
                                    "story_id": [doc["story_id"]]}
    if doc.get("lang"):
        values["lang"] = [doc["lang"]]
    if doc.get("numbers"):
        values["numbers"] = sorted(int(n) for n in doc["numbers"])
    if entities := sorted(_entity_ids(doc)):
        values["entities.id"] = entities
    for field in ("embedding_q", "minhash_q"):
        if doc.get(field):
            values[field] = [doc[field]]
    return values


class _Reads:
    """The window reads of an index step, in two ``msearch`` requests per batch whatever the number of
    windows: the counts, then the pages. A batch's time groups overlap (each window reaches
    ``max_gap_hours`` past its group), and so do the batches of one step (a step's chunks cover the same
    days); each day is read once: a window reads only its days not read before (its parts), and takes the
    rest from what was read. A group reads its window when the parts it still needs cost less than its
    searches (``limit``), else it gets None (the searches). What was read also gives the story members
    published in it (``members``), so that only the members outside (``covered``) are searched for.

    Between batches, the step writes its articles: ``wrote`` puts those into the parts read (their doc values
    as a window read would give them, from the documents written), so the next batch sees them as if it had
    read its days again. Parts no window of a batch touches are dropped after it (memory stays that of a
    batch's days)."""

    def __init__(self, es: Any, index: str) -> None:
        self.es, self.index = es, index
        self.parts: list[tuple[int, int, _Window]] = []  # [from, to] in epoch millis, disjoint, sorted

    @property
    def covered(self) -> list[list[int]]:
        """The parts' ranges, merged where they touch."""
        out: list[list[int]] = []
        for start, stop, _ in self.parts:
            if out and start <= out[-1][1] + 1:
                out[-1][1] = max(out[-1][1], stop)
            else:
                out.append([start, stop])
        return out

    def read(self, windows: Sequence[tuple[float, float, int]]) -> list[_Window | None]:
        """The window of each ``(lo, hi, limit)`` (hours since the epoch), or None."""
        spans = [(_ms(lo), _ms(hi), limit) for lo, hi, limit in windows]
        if not spans:
            return []
        new: list[tuple[int, int]] = []  # the days no part holds, as the windows come to them
        for lo, hi, _ in spans:
            new += _gaps(lo, hi, sorted([(a, b) for a, b, _ in self.parts] + new))
        counted = self._msearch([_count_body(_when(a, b), WINDOW_MAX) for a, b in new]) if new else []
        counts = [int(r["hits"]["total"]["value"]) if _fits(r, WINDOW_MAX) else WINDOW_MAX + 1 for r in counted]
        chosen: set[int] = set()
        takes: list[bool] = []
        for lo, hi, limit in spans:
            touching = [j for j, (a, b) in enumerate(new) if a <= hi and b >= lo]
            need = [j for j in touching if j not in chosen]
            held = sum(len(w.ids) for a, b, w in self.parts if a <= hi and b >= lo)
            fits = held + sum(counts[j] for j in touching) <= WINDOW_MAX
            if fits and sum(counts[j] for j in need) <= limit:
                chosen.update(need)
                takes.append(True)
            else:
                takes.append(False)
        order = sorted(chosen)
        one_page = {j for j in order if counts[j] < PAGE}
        pages = self._msearch([_page_body(_when(*new[j]), by_doc=j in one_page) for j in order],
                              filter_path=",".join(f"responses.{p}" for p in _PAGE_PATH.split(","))) if order else []
        for j, resp in zip(order, pages, strict=True):
            first = resp.get("hits", {}).get("hits", [])
            if j in one_page and len(first) >= PAGE:  # grown past a page since it was counted: page by id
                first = None
            self.parts.append((*new[j], _parse_window(_pages(self.es, self.index, _when(*new[j]), first=first))))
        self.parts.sort(key=lambda p: p[0])
        # every part in one window sorted by time, of which each window is a span (a view: no copies)
        store = _Window.join([(w, np.arange(len(w.ids))) for _, _, w in self.parts]).by_time() if any(takes) else None
        out: list[_Window | None] = []
        for (lo, hi, _), take in zip(spans, takes, strict=True):
            out.append(store.span(lo, hi) if take and store is not None else None)
        # what no window of this batch touches is not kept for the next
        self.parts = [p for p in self.parts if any(p[0] <= hi and p[1] >= lo for lo, hi, _ in spans)]
        return out

    def wrote(self, written: Mapping[str, dict[str, Any]]) -> None:
        """The articles ``written`` (id: the document as stored) were (re)written and the index refreshed: the
        parts read hold them as a read now would (what they had before is dropped; each one whose time falls
        in a part is added there). Their doc values come from the documents themselves (``_doc_values``), not
        from a read back; only one whose time Python does not read as Elasticsearch does is read back by id."""
        if not self.parts or not written:
            return
        gone = set(written)
        fresh: list[tuple[str, dict[str, Any]]] = []
        unsure: list[str] = []
        for doc_id, doc in written.items():
            if not doc.get("story_id"):  # (one without a story is no neighbour)
                continue
            values = _doc_values(doc)
            if values is None:
                unsure.append(doc_id)
            else:
                fresh.append((doc_id, values))
        for start in range(0, len(unsure), PAGE):  # (one without a time is in no part)
            fresh += [(i, f) for i, f in _pages(self.es, self.index, {"ids": {"values": unsure[start:start + PAGE]}})
                      if "published" in f and "story_id" in f]
        back = _parse_window(fresh)
        millis = np.asarray([int(f["published"][0]) for _, f in fresh], dtype=np.int64)
        parts = []
        for lo, hi, w in self.parts:
            keep = np.asarray([r for r, i in enumerate(w.ids) if i not in gone], dtype=np.int64)
            parts.append((lo, hi, _Window.join([(w, keep), (back, np.flatnonzero((millis >= lo) & (millis <= hi)))])))
        self.parts = parts

    def _msearch(self, bodies: list[dict[str, Any]], filter_path: str | None = None) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for start in range(0, len(bodies), 100):
            part = bodies[start:start + 100]
            # each response keeps its status, so none is filtered away and they stay in order
            path = f"{filter_path},responses.status,responses.error" if filter_path else None
            resp = self.es.msearch(searches=[x for b in part for x in ({"index": self.index}, b)], filter_path=path)
            got = resp["responses"]
            if len(got) != len(part):
                raise RuntimeError(f"story window read on {self.index}: {len(got)} responses to {len(part)} searches")
            for r in got:
                if "error" in r:  # fewer candidates would split a story silently: the step fails and retries
                    raise RuntimeError(f"story window read on {self.index} failed: {str(r['error'])[:300]}")
                out.append(r)
        return out

    def members(self, wanted: set[str]) -> dict[str, list[dict[str, Any]]]:
        """The articles read of the stories ``wanted``, as ``_members`` gives them."""
        out: dict[str, list[dict[str, Any]]] = {}
        for _, _, w in self.parts:
            if w.fields is None or w.sigs is None:
                continue
            for i, story in enumerate(w.stories):
                if story in wanted:
                    out.setdefault(story, []).append(_member(w.ids[i], w.fields[i], w.vecs[i], w.sigs[i]))
        return out


def _time_groups(batch: list[dict[str, Any]], span: float) -> list[list[dict[str, Any]]]:
    """The articles of ``batch`` that have a time, oldest first, in groups published within ``span`` hours
    of the group's first: one window read each, so that an old article in a fresh batch (a feed's stale
    item) reads its own days, not every day in between."""
    timed = sorted((h, a["id"], a) for a in batch if (h := _feat(a).hours) is not None)
    groups: list[list[dict[str, Any]]] = []
    start = -math.inf
    for h, _, art in timed:
        if h - start > span:
            groups.append([])
            start = h
        groups[-1].append(art)
    return groups


def _msearch_story_ids(es: Any, index: str, searches: list[tuple[str, dict[str, Any]]]) -> dict[str, set[str]]:
    """``(article id, search body)`` pairs run 100 to an ``msearch``: each article's hits' story ids."""
    found: dict[str, set[str]] = {}
    for start in range(0, len(searches), 100):
        part = searches[start:start + 100]
        resp = es.msearch(searches=[x for _, body in part for x in ({"index": index}, body)])
        for (owner, _), r in zip(part, resp["responses"], strict=True):
            if "error" in r:  # fewer candidates would split a story silently: the step fails and retries
                raise RuntimeError(f"story candidate search for {owner} failed: {str(r['error'])[:300]}")
            found.setdefault(owner, set()).update(
                (h["fields"].get("story_id") or h["fields"]["id"])[0] for h in r.get("hits", {}).get("hits", []))
    return found


def _band_neighbours(es: Any, index: str, batch: list[dict[str, Any]]) -> dict[str, set[str]]:
    """For each article of ``batch``, the story ids of the ``dedupe.CANDIDATES`` indexed articles sharing the
    most LSH bands with it (near-duplicates, at any time): one search per article (~0.4 ms; each shared band
    scores 1), 100 to an ``msearch``. Not one ``terms`` search for the whole batch: common word pairs make
    bands that most articles of a busy index share."""
    searches = [(a["id"], {"size": dedupe.CANDIDATES, **_IDS_ONLY, "track_total_hits": False, "query": {"bool": {
        "should": [{"constant_score": {"filter": {"term": {"minhash_bands": b}}}} for b in a["minhash_bands"]],
        "minimum_should_match": 1, "filter": [_IN_STORY], "must_not": [{"ids": {"values": [a["id"]]}}]}}})
        for a in batch if a.get("minhash_bands")]
    found = _msearch_story_ids(es, index, searches)
    return {a["id"]: found.get(a["id"], set()) for a in batch}


def _bands_of(sigs: np.ndarray) -> np.ndarray:
    """The LSH band keys of signatures ``(n, dedupe.SLOTS)`` as ``(n, dedupe.BANDS)`` integers: each band's
    ``dedupe.ROWS`` (2) slots in one uint64, so that two signatures share a band when the integers are equal
    in the same column (what ``dedupe.bands`` writes as strings)."""
    rows = sigs.astype(np.uint64).reshape(len(sigs), dedupe.BANDS, dedupe.ROWS)
    return (rows[:, :, 0] << np.uint64(32)) | rows[:, :, 1]


def _band_neighbours_in(window: _Window, batch: list[dict[str, Any]]) -> dict[str, set[str]]:
    """What the band search gives (``_band_neighbours``), computed over ``window``: the story ids of the
    ``dedupe.CANDIDATES`` articles sharing the most LSH bands with each article (one sort per band column).
    Only the window is searched, not every time: a band neighbour published beyond the window scores -9
    (``scores``) and cannot bring its story in."""
    found: dict[str, set[str]] = {a["id"]: set() for a in batch}
    if window.sigs is None or not window.ids:
        return found
    # the band keys sorted once for the window this one is a span of (its rows ``offset`` on), or for it
    base, off, n = (window.base, window.offset, len(window.ids)) if window.base is not None else (window, 0, 0)
    rows, order, ranked = base.bands()  # (a row of zeros, no signature, is in none)
    if not rows.size:
        return found
    signed = [(a["id"], f.sig) for a in batch if (f := _feat(a)).sig.size == dedupe.SLOTS]
    if not signed:
        return found
    mine = _bands_of(np.stack([sig for _, sig in signed]))
    shared: list[Counter[int]] = [Counter() for _ in signed]
    for b in range(dedupe.BANDS):  # every article's matches in one band column at once
        lo = np.searchsorted(ranked[:, b], mine[:, b], side="left")
        hi = np.searchsorted(ranked[:, b], mine[:, b], side="right")
        for hit in np.flatnonzero(hi > lo):
            got = rows[order[lo[hit]:hi[hit], b]]
            if base is not window:  # this span's rows, numbered from its first
                got = got[(got >= off) & (got < off + n)] - off
            shared[hit].update(got.tolist())
    for k, (art_id, _) in enumerate(signed):
        shared[k].pop(window.row(art_id), None)  # a re-indexed article is not its own neighbour
        best = sorted(shared[k].items(), key=lambda rc: (-rc[1], rc[0]))[:dedupe.CANDIDATES]
        found[art_id] = {window.stories[r] for r, _ in best}
    return found


def _neighbours_in(window: _Window, batch: list[dict[str, Any]], params: StoryParams) -> dict[str, set[str]]:
    """What the kNN search gives (``_neighbours_by_search``), computed over ``window``: the story ids of the
    ``knn`` nearest embeddings published within ``max_gap_hours`` of each article (exact, where the vector
    index is approximate), by one matrix product."""
    found: dict[str, set[str]] = {a["id"]: set() for a in batch}
    with_vec = [(a["id"], f) for a in batch if (f := _feat(a)).vec is not None and f.vec.shape == (DIMS,)]
    if not with_vec or not window.ids:
        return found
    sims = np.stack([f.vec for _, f in with_vec if f.vec is not None]) @ window.vecs.T
    for r, (art_id, f) in enumerate(with_vec):
        s = sims[r]
        if (own := window.row(art_id)) >= 0:  # a re-indexed article is not its own neighbour
            s[own] = -np.inf
        found[art_id] = {window.stories[i] for i in _nearest(s, window.hours, f.hours, params)}
    return found


_NO_SIG = np.zeros(0, np.uint32)

# A story member's doc values (``_MEMBER_FIELDS`` but the vector) as one tuple of strings and numbers:
# story id, language, counts, entity ids, time (epoch millis), packed signature. The windows an index step
# keeps hold tens of thousands; as the JSON parser gives them (a dict of lists each) they were ~8 objects
# apiece for Python's cyclic collector to walk on every collection after clustering (133 collections, 264 ms
# in one run of the bench's index step), where a tuple of atoms is left alone after its first.
Compact = tuple[str | None, str | None, tuple[int, ...], tuple[str, ...], int | None, str | None]


def _compact(f: dict[str, Any]) -> Compact:
    return (f["story_id"][0] if "story_id" in f else None, f["lang"][0] if "lang" in f else None,
            tuple(int(x) for x in f.get("numbers", ())), tuple(f.get("entities.id", ())),
            int(f["published"][0]) if "published" in f else None, f["minhash_q"][0] if "minhash_q" in f else None)


def _member(doc_id: str, c: Compact, vec: np.ndarray | None, sig: np.ndarray | None = None) -> dict[str, Any]:
    """A story member from its doc values (``_compact``), with what scoring needs already parsed (the
    vector, and the signature when the caller has them decoded)."""
    story_id, lang, counts, entities, millis, packed_sig = c
    numbers = set(counts)
    if sig is None:
        sig = np.frombuffer(base64.b64decode(packed_sig), dtype=">u4").astype(np.uint32) if packed_sig else _NO_SIG
    elif not sig.any():
        sig = _NO_SIG
    return {"id": doc_id, "story_id": story_id or doc_id, "lang": lang, "numbers": sorted(numbers),
            "_features": _Features(hours=millis / 3_600_000 if millis is not None else None,
                                   sig=sig, vec=vec if vec is not None and vec.any() else None,
                                   entities=set(entities), numbers=numbers, lang=lang)}


def _members(es: Any, index: str, wanted: list[str],
             outside: Sequence[Sequence[int]] = ()) -> dict[str, list[dict[str, Any]]]:
    """Every indexed article of the stories ``wanted`` (published outside the ``outside`` ranges of epoch
    millis, when given: those were read with their window), with what scoring needs already parsed
    (``_member``, from doc values: the packed embedding, the MinHash signature, entities, counts, time,
    language), from one ``terms`` search per 500 stories. An article indexed before the packed copies were
    stored is read from ``_source`` instead (one more search, by ids)."""
    members: dict[str, list[dict[str, Any]]] = {}
    parsed: list[tuple[dict[str, Any], str]] = []
    old: list[str] = []
    besides = [{"range": {"published": {"gte": lo, "lte": hi, "format": "epoch_millis"}}} for lo, hi in outside]
    for start in range(0, len(wanted), 500):
        query = {"bool": {"filter": [{"terms": {"story_id": wanted[start:start + 500]}}], "must_not": besides}}
        for doc_id, f in _pages(es, index, query):
            if "embedding_q" not in f or "minhash_q" not in f:
                old.append(doc_id)
                continue
            doc = _member(doc_id, _compact(f), None)
            parsed.append((doc, f["embedding_q"][0]))
            members.setdefault(doc["story_id"], []).append(doc)
    if parsed:
        for (doc, _), vec in zip(parsed, unpack([p for _, p in parsed]), strict=True):
            doc["_features"].vec = vec if vec.any() else None
    for start in range(0, len(old), 1000):
        resp = es.search(index=index, size=1000, source_includes=CANDIDATE_FIELDS,
                         query={"ids": {"values": old[start:start + 1000]}})
        for h in resp["hits"]["hits"]:
            members.setdefault(h["_source"].get("story_id") or h["_id"], []).append(h["_source"])
    return members


def _neighbours_by_search(es: Any, index: str, batch: list[dict[str, Any]],
                          params: StoryParams) -> dict[str, set[str]]:
    """The story ids of each article's neighbours by searches: its band neighbours (``_band_neighbours``) and
    the ``knn`` nearest embeddings published within ``max_gap_hours`` (any time, for an article without a
    time), one kNN search per article, 100 to an ``msearch``."""
    window = f"{int(params.max_gap_hours)}h"
    searches: list[tuple[str, dict[str, Any]]] = []
    for art in batch:
        if not art.get("embedding"):
            continue
        # the knn *query* (in the query phase), not the top-level knn section (a DFS round of its own)
        flt: list[dict[str, Any]] = [_IN_STORY]
        if _feat(art).hours is not None:
            flt.append({"range": {"published": {"gte": f"{art['published']}||-{window}",
                                                "lte": f"{art['published']}||+{window}"}}})
        knn = {"knn": {"field": "embedding", "query_vector": list(art["embedding"]), "k": params.knn,
                       "num_candidates": max(50, 4 * params.knn), "filter": flt}}
        searches.append((art["id"], {"size": params.knn, **_IDS_ONLY, "track_total_hits": False, "query": {
            "bool": {"must": [knn], "must_not": [{"ids": {"values": [art["id"]]}}]}}}))
    found = _band_neighbours(es, index, batch)
    for owner, stories_ in _msearch_story_ids(es, index, searches).items():
        found[owner] |= stories_
    return found


def es_candidates(es: Any, index: str, params: StoryParams = PARAMS) -> EsCandidates:
    """Candidates from Elasticsearch for a batch, in two steps: the story ids of each article's neighbours
    (the ``dedupe.CANDIDATES`` articles sharing the most LSH bands, near-duplicates, and the ``knn`` nearest
    embeddings published within ``max_gap_hours``); then every member of the stories found, with what
    scoring needs, from doc values (never the articles' ``_source``, ~160 µs an article against ~45 µs).

    The batch's articles are grouped by time (``_time_groups``). A group's window runs from its earliest
    article's time − ``max_gap_hours`` to its latest's + ``max_gap_hours``; when reading every indexed
    article of it costs less than the group's kNN and band searches (``_window_limit``, from the costs
    measured in bench_stories), both kinds of neighbour come from that read: the kNN ones from one matrix
    product over the packed vectors (``_neighbours_in``), the band ones from the MinHash signatures, one sort
    per band column (``_band_neighbours_in``). All of a batch's windows are planned together (``_Reads``):
    one ``msearch`` counts the days each window adds to the one before it, one more reads the pages of those
    its group can afford, so each day is read once and a window costs two requests whatever the number of
    groups. Members published in what was read come from the read; only the others are searched for
    (``_members``). Articles of a group whose window is too big, and those without a time, get one kNN and
    one band search each (``_neighbours_by_search``, ~1 ms each in an ``msearch`` of 100), so the two ways
    differ only in the window's kNN being exact where the vector index is approximate; the story sets give
    the same stories either way (``tests/integration/test_story_candidates.py``)."""

    return EsCandidates(es, index, params)


class EsCandidates:
    """``es_candidates``' source: called with each batch of an index step, told what the step wrote between
    them (``wrote``), so that the step's window reads are kept from one batch to the next (``_Reads``)."""

    def __init__(self, es: Any, index: str, params: StoryParams = PARAMS) -> None:
        self.es, self.index, self.params = es, index, params
        self.reads = _Reads(es, index)
        self.told = True  # whether what was written since the last batch is in ``reads``

    def wrote(self, written: Mapping[str, dict[str, Any]]) -> None:
        """The step wrote (and refreshed) the articles ``written`` (id: the document as stored)."""
        self.reads.wrote(written)
        self.told = True

    def __call__(self, batch: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        if not self.told:  # a caller that does not say what it wrote gets every window read anew
            self.reads = _Reads(self.es, self.index)
        self.told = False
        es, index, params, reads = self.es, self.index, self.params, self.reads
        found: dict[str, set[str]] = {}
        groups = [g for g in _time_groups(batch, params.max_gap_hours) if _window_limit(len(g)) > 0]
        gap = params.max_gap_hours
        windows = reads.read([((_feat(g[0]).hours or 0.0) - gap, (_feat(g[-1]).hours or 0.0) + gap,
                               _window_limit(len(g))) for g in groups])  # oldest first
        for group, window in zip(groups, windows, strict=True):
            if window is not None:
                found.update(_neighbours_in(window, group, params))
                for owner, stories_ in _band_neighbours_in(window, group).items():
                    found[owner] |= stories_
        rest = [a for a in batch if a["id"] not in found]
        if rest:
            found.update(_neighbours_by_search(es, index, rest, params))
        wanted = {s for stories_ in found.values() for s in stories_}
        members = reads.members(wanted)
        for story, docs in _members(es, index, sorted(wanted), reads.covered).items():
            members.setdefault(story, []).extend(docs)
        # one dict per indexed article, shared by every article of the batch it is a candidate of
        return {owner: [m for s in sorted(stories_) for m in members.get(s, ()) if m["id"] != owner]
                for owner, stories_ in found.items()}


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
