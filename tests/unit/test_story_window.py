"""The story candidates' window read (``stories._window`` → ``_neighbours_in``) without a service: the packed
vectors it reads, the time groups it reads them for, and that its neighbours are the exact nearest ones."""

from __future__ import annotations

import numpy as np
import pytest

from newswatch import dedupe, encoder, stories
from tests.unit.test_story_quality import load


@pytest.fixture(scope="module")
def docs() -> list[dict]:
    items = load("dev") + load("heldout")
    return stories.prepare(items)


def test_a_packed_vector_keeps_its_direction(docs) -> None:
    vecs = np.asarray([d["embedding"] for d in docs], dtype=np.float32)
    packed = [encoder.pack(v) for v in vecs]
    assert {len(p) for p in packed} == {encoder.PACKED_CHARS}
    back = encoder.unpack(packed)
    cos = (back * vecs).sum(axis=1) / np.linalg.norm(back, axis=1)
    assert cos.min() > 0.9999
    assert not encoder.unpack([encoder.pack(np.zeros(encoder.DIMS))]).any()  # a zero vector stays zero
    assert encoder.unpack([]).shape == (0, encoder.DIMS)


def test_time_groups_span_at_most_the_window_and_leave_out_articles_without_a_time() -> None:
    at = ["2024-10-01T00:00:00+00:00", "2024-10-01T10:00:00+00:00", "2024-10-02T23:00:00+00:00",
          "2024-10-03T01:00:00+00:00", "2024-12-24T12:00:00", "not a date"]
    batch = [{"id": f"a{i}", "published": p} for i, p in enumerate(at)][::-1]
    groups = stories._time_groups(batch, 48.0)
    assert [[a["id"] for a in g] for g in groups] == [["a0", "a1", "a2"], ["a3"], ["a4"]]


def _window_of(docs: list[dict]) -> stories._Window:
    return stories._Window(ids=[d["id"] for d in docs], stories=[f"s-{d['id']}" for d in docs],
                           hours=np.asarray([stories._hours(d["published"]) for d in docs]),
                           vecs=encoder.unpack([encoder.pack(d["embedding"]) for d in docs]))


def test_the_window_neighbours_are_the_nearest_in_the_time_window(docs) -> None:
    """Against the exact float vectors: every window neighbour found by the packed vectors is published
    within the window, and at least 99 % of the exact top ``knn`` are found (ties at the k-th rank aside)."""
    params = stories.PARAMS
    indexed, batch = docs[::2], docs[1::2]
    window = _window_of(indexed)
    found = stories._neighbours_in(window, batch, params)
    assert set(found) == {d["id"] for d in batch}
    vecs = np.asarray([d["embedding"] for d in indexed], dtype=np.float32)
    hours = window.hours
    wanted = hit = 0
    for d in batch:
        h = stories._hours(d["published"])
        got = {s.removeprefix("s-") for s in found[d["id"]]}
        assert all(abs(hours[window.ids.index(i)] - h) <= params.max_gap_hours for i in got)
        sims = vecs @ np.asarray(d["embedding"], dtype=np.float32)
        sims[np.abs(hours - h) > params.max_gap_hours] = -np.inf
        exact = [window.ids[i] for i in np.argsort(-sims)[:params.knn] if np.isfinite(sims[i])]
        wanted += len(exact)
        hit += len(set(exact) & got)
    assert wanted and hit / wanted >= 0.99, (hit, wanted)


def test_the_window_band_neighbours_are_the_articles_sharing_the_most_bands(docs) -> None:
    """``_band_neighbours_in`` against the band strings the band search matches (``dedupe.bands``): each
    article's neighbours are the ``dedupe.CANDIDATES`` window articles sharing the most bands with it, itself
    left out; a window article without a signature shares none."""
    indexed, batch = docs[::2], docs[1::2]
    batch = [*batch, {**indexed[0]}]  # an article of the window itself (re-indexed) is not its own neighbour
    window = _window_of(indexed)
    window.sigs = np.stack([np.asarray(dedupe.decode(d["minhash"]), dtype=np.uint32) for d in indexed])
    window.sigs[1] = 0  # no signature
    found = stories._band_neighbours_in(window, batch)
    bands = [set(dedupe.bands(dedupe.decode(d["minhash"]))) if i != 1 else set() for i, d in enumerate(indexed)]
    some = 0
    for d in batch:
        mine = set(d["minhash_bands"])
        counts = sorted(((len(mine & b), i) for i, b in enumerate(bands) if mine & b and indexed[i]["id"] != d["id"]),
                        key=lambda ci: (-ci[0], ci[1]))
        assert found[d["id"]] == {window.stories[i] for _, i in counts[:dedupe.CANDIDATES]}
        some += bool(counts)
    assert some  # the story sets' copies and rewrites share bands


def test_assign_runs_with_the_collector_off_and_turns_it_back_on_even_when_it_fails() -> None:
    """Clustering parses big window reads into many small objects; Python's cyclic collector is off while it
    runs (a collection during the parse walked the whole heap) and on again after, whatever happens."""
    import gc

    seen: list[bool] = []

    def failing(batch):
        seen.append(gc.isenabled())
        raise RuntimeError("story window read failed")

    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        stories.assign([{"id": "a", "published": "2024-10-18T00:00:00+00:00"}], failing)
    assert seen == [False] and gc.isenabled()
    gc.disable()
    try:  # a caller that turned it off keeps it off
        stories.assign([], failing)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_scores_gathered_by_row_are_the_scores_pair_by_pair(docs) -> None:
    """``assign`` scores candidates by row of one ``_Table`` of the call's features; the scores are exactly
    those computed from each candidate's own features, for articles with and without a time, a vector, a
    signature or a language."""
    odd = [{"id": "no-time", "lang": None, "embedding": docs[0]["embedding"], "minhash": docs[0]["minhash"]},
           {"id": "no-text", "published": docs[1]["published"], "lang": "en"},
           {"id": "short-vec", "published": docs[2]["published"], "embedding": [0.5, 0.5], "lang": "ko"}]
    pool = [dict(d) for d in docs] + odd
    rarity = stories.Rarity(pool)
    table = stories._Table(stories._feat(d) for d in pool)
    for a in pool[::7] + odd:
        others = [d for d in pool if d is not a]
        by_row = stories.scores(a, others, stories.PARAMS, rarity, table)
        alone = stories.scores(a, others, stories.PARAMS, rarity)
        assert by_row == alone
    assert max(stories.scores(pool[0], pool[1:], stories.PARAMS, rarity, table)) > stories.PARAMS.tau


def test_a_span_of_a_window_sorted_by_time_finds_what_a_window_of_its_rows_alone_finds(docs) -> None:
    """``_Reads`` gives each window as a span (a view) of all it read, sorted by time, with the band keys
    sorted once for the whole: its kNN and band neighbours are those of a window holding only its rows."""
    indexed, batch = docs[::2], docs[1::2]
    whole = _window_of(indexed)
    whole.sigs = np.stack([np.asarray(dedupe.decode(d["minhash"]), dtype=np.uint32) for d in indexed])
    store = whole.by_time()
    assert np.all(np.diff(store.hours) >= 0)
    hours = np.sort(store.hours)
    lo, hi = stories._ms(hours[len(hours) // 4]), stories._ms(hours[3 * len(hours) // 4])
    span = store.span(lo, hi)
    by_id = {d["id"]: d for d in indexed}
    batch = [*batch, {**by_id[span.ids[len(span.ids) // 2]]}]  # re-indexed: not its own neighbour
    rows = store.rows(lo, hi)
    alone = stories._Window.join([(store, rows)])
    assert span.base is store and span.ids == alone.ids and 0 < len(span.ids) < len(store.ids)
    assert stories._band_neighbours_in(span, batch) == stories._band_neighbours_in(alone, batch)
    assert stories._neighbours_in(span, batch, stories.PARAMS) == stories._neighbours_in(alone, batch, stories.PARAMS)
    inside = [d for d in batch if span.row(d["id"]) >= 0]
    outside = [d["id"] for d in indexed if store.row(d["id"]) >= 0 and span.row(d["id"]) < 0]
    assert inside and outside  # the re-indexed article is in it, some of the window's are beyond it


def test_a_vector_on_the_wire_holds_the_float32_values_of_the_vector(docs) -> None:
    """The index step writes each embedding as base64 of its big-endian float32 values, which Elasticsearch
    reads as the same float32 numbers a JSON array would give it."""
    import base64

    for d in docs[:20]:
        back = np.frombuffer(base64.b64decode(encoder.wire(d["embedding"])), dtype=">f4")
        assert np.array_equal(back, np.asarray(d["embedding"], dtype=np.float32))
