"""Near-duplicates by MinHash: the signature, LSH bands and similarity that ``newswatch.stories`` uses to
catch wire copies (the pipeline's story assignment is ``stories.assign``; ``assign_stories`` here is the
MinHash-only clustering it replaced, kept as the baseline the story quality test and bench report beside it).

Exact duplicates already collapse on the canonical URL (the document id). Near-duplicates are found with
MinHash over word bigrams: the share of equal signature slots estimates the Jaccard similarity of the two
texts' bigram sets. A wire copy with a copyright line added keeps ~0.9 of its bigrams, a rewrite with one
word in ten changed ~0.7, and two different reports on the same topic share well under 0.2, so articles
join when the estimate reaches ``THRESHOLD`` (0.5).

The signature is one-permutation MinHash (each bigram hashed once; the hash picks one of ``SLOTS`` slots
and competes for its minimum; empty slots borrow from the next filled one, "densification"), which costs
one hash per bigram instead of one per bigram and slot. Elasticsearch finds candidates without scripts
(LSH banding): the signature is cut into ``BANDS`` bands of ``ROWS`` slots, each band stored as a keyword
in ``minhash_bands``; two texts of similarity *s* share a band with probability 1 - (1 - s**ROWS)**BANDS
(0.9999 at s = 0.5, 0.27 at s = 0.1). The candidates, ranked by shared bands, are then verified here on the
full signature (``minhash``, stored but not indexed). A new article joins the story of its most similar
earlier match, else starts its own (story id = its own id): since articles are processed oldest first and
indexed articles keep their story id, the story id is the id of the earliest article and is stable across
re-runs.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from elasticsearch import Elasticsearch

SHINGLE = 2  # words per shingle
SLOTS = 64
ROWS = 2
BANDS = SLOTS // ROWS
THRESHOLD = 0.5
CANDIDATES = 50  # nearest candidates fetched from Elasticsearch per article

_WORD = re.compile(r"\w+", re.UNICODE)
_EMPTY = 1 << 32
_STEP = 0x9E3779B1  # offset of a borrowed value per slot skipped, so borrowed values differ from real ones


def shingles(text: str) -> set[str]:
    """Word bigrams of ``text`` (lower-cased); a one-word text is its own shingle."""
    words = _WORD.findall(text.lower())
    if len(words) < SHINGLE:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)}


def signature(text: str) -> list[int]:
    """``SLOTS`` 32-bit MinHash values of ``text``; empty for a text without words."""
    slots = [_EMPTY] * SLOTS
    for sh in shingles(text):
        h = int.from_bytes(hashlib.blake2b(sh.encode(), digest_size=8).digest(), "big")
        slot, value = h & (SLOTS - 1), h >> (64 - 32)
        if value < slots[slot]:
            slots[slot] = value
    if all(v == _EMPTY for v in slots):
        return []
    filled = list(slots)
    for i in range(SLOTS):  # densify: an empty slot takes the next filled slot's value, shifted by the distance
        if filled[i] == _EMPTY:
            t = 1
            while filled[(i + t) % SLOTS] == _EMPTY:
                t += 1
            slots[i] = (filled[(i + t) % SLOTS] + t * _STEP) & 0xFFFFFFFF
    return slots


def similarity(a: Sequence[int], b: Sequence[int]) -> float:
    """Estimated Jaccard similarity of two signatures (0 when either is empty)."""
    if not a or not b or len(a) != len(b):
        return 0.0
    return sum(x == y for x, y in zip(a, b, strict=True)) / len(a)


def encode(sig: Sequence[int]) -> str:
    return "".join(f"{v:08x}" for v in sig)


def decode(value: str | None) -> list[int]:
    if not value:
        return []
    return [int(value[i : i + 8], 16) for i in range(0, len(value), 8)]


def bands(sig: Sequence[int]) -> list[str]:
    """LSH band keys: band number and its ``ROWS`` values."""
    if not sig:
        return []
    return [f"{b:02d}" + "".join(f"{v:08x}" for v in sig[b * ROWS : (b + 1) * ROWS]) for b in range(BANDS)]


def fingerprint(text: str) -> dict[str, Any]:
    """Fields stored on the article document for story clustering."""
    sig = signature(text)
    return {"minhash": encode(sig), "minhash_bands": bands(sig)}


def assign_stories(es: Elasticsearch | None, index: str, articles: Sequence[dict[str, Any]]) -> int:
    """MinHash-only clustering (the baseline; the pipeline uses ``stories.assign``): set ``story_id`` on each
    article (which must carry ``id``, ``minhash``, ``minhash_bands``).

    Articles are matched against the index and against earlier articles of the same batch (ordered by
    publication date, then id). Returns how many joined an existing story.
    """
    joined = 0
    ordered = sorted(articles, key=lambda a: (a.get("published") or "9999", a["id"]))
    seen: list[dict[str, Any]] = []
    by_band: dict[str, list[int]] = defaultdict(list)
    for art in ordered:
        sig = decode(art.get("minhash"))
        art_bands = list(art.get("minhash_bands") or [])
        candidates = [seen[i] for i in sorted({i for b in art_bands for i in by_band.get(b, ())})]
        if es is not None and art_bands:
            resp = es.search(
                index=index,
                size=CANDIDATES,
                query={"bool": {"should": [{"term": {"minhash_bands": b}} for b in art_bands],
                                "minimum_should_match": 1,
                                "must_not": [{"ids": {"values": [art["id"]]}}]}},
                source_includes=["minhash", "story_id", "published", "id"],
            )
            candidates += [h["_source"] for h in resp["hits"]["hits"]]
        best: tuple[float, str, str] | None = None  # (-similarity, published, story_id)
        for cand in candidates:
            sim = similarity(sig, decode(cand.get("minhash")))
            if sim >= THRESHOLD:
                key = (-sim, str(cand.get("published") or ""), cand.get("story_id") or cand["id"])
                if best is None or key < best:
                    best = key
        if best is not None:
            art["story_id"] = best[2]
            joined += 1
        else:
            art["story_id"] = art["id"]
        for b in art_bands:
            by_band[b].append(len(seen))
        seen.append(art)
    return joined
