"""One story per event: near-duplicate articles (wire copies, syndicated rewrites) share a story id.

Exact duplicates already collapse on the canonical URL (the document id). Near-duplicates are found with a
64-bit SimHash of word shingles. Elasticsearch finds candidates without scripts: the hash is split into
``BANDS`` bands stored as keywords, and two hashes within ``MAX_DISTANCE`` bits share at least one band
(pigeonhole), so one ``terms`` query returns every possible match; the exact Hamming distance is checked
here. A new article joins the story of its nearest earlier match, else starts its own (story id = its own
id), so story ids are stable across re-runs.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

from elasticsearch import Elasticsearch

BANDS = 4
BAND_BITS = 64 // BANDS
MAX_DISTANCE = 3
SHINGLE = 3

_WORD = re.compile(r"\w+", re.UNICODE)


def simhash(text: str) -> int:
    """64-bit SimHash over word 3-shingles of ``text`` (lower-cased)."""
    words = _WORD.findall(text.lower())
    if len(words) < SHINGLE:
        words = words + [""] * (SHINGLE - len(words))
    weights = [0] * 64
    for i in range(len(words) - SHINGLE + 1):
        h = int.from_bytes(hashlib.blake2b(" ".join(words[i : i + SHINGLE]).encode(), digest_size=8).digest(), "big")
        for bit in range(64):
            weights[bit] += 1 if (h >> bit) & 1 else -1
    return sum(1 << bit for bit in range(64) if weights[bit] > 0)


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def bands(value: int) -> list[str]:
    mask = (1 << BAND_BITS) - 1
    return [f"{i}:{(value >> (i * BAND_BITS)) & mask:0{BAND_BITS // 4}x}" for i in range(BANDS)]


def fingerprint(text: str) -> dict[str, Any]:
    """Fields stored on the article document for story clustering."""
    value = simhash(text)
    return {"simhash": f"{value:016x}", "simhash_bands": bands(value)}


def assign_stories(es: Elasticsearch | None, index: str, articles: Sequence[dict[str, Any]]) -> int:
    """Set ``story_id`` on each article (which must carry ``id``, ``simhash``, ``simhash_bands``).

    Articles are matched against the index and against earlier articles of the same batch (ordered by
    publication date). Returns how many joined an existing story.
    """
    joined = 0
    ordered = sorted(articles, key=lambda a: (a.get("published") or "9999", a["id"]))
    seen: list[dict[str, Any]] = []
    for art in ordered:
        value = int(art["simhash"], 16)
        best: tuple[int, str, str] | None = None  # (distance, published, story_id)
        candidates: list[dict[str, Any]] = [
            s for s in seen if set(s["simhash_bands"]) & set(art["simhash_bands"])
        ]
        if es is not None:
            resp = es.search(
                index=index,
                size=20,
                query={"bool": {"filter": [{"terms": {"simhash_bands": art["simhash_bands"]}}],
                                "must_not": [{"ids": {"values": [art["id"]]}}]}},
                source=["simhash", "story_id", "published", "id"],
            )
            candidates += [h["_source"] for h in resp["hits"]["hits"]]
        for cand in candidates:
            dist = hamming(value, int(cand["simhash"], 16))
            if dist <= MAX_DISTANCE:
                key = (dist, cand.get("published") or "", cand.get("story_id") or cand["id"])
                if best is None or key < best:
                    best = key
        if best is not None:
            art["story_id"] = best[2]
            joined += 1
        else:
            art["story_id"] = art["id"]
        seen.append(art)
    return joined
