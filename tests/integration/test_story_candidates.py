"""Clustering across runs: the story candidates come from Elasticsearch (LSH bands and the kNN query), not only
from the articles of the same call. The development story set indexed one article per ``index --file`` call,
oldest first (the hardest case: every candidate comes from the index), against floors; the same set clustered
in memory in one call is printed beside it.

Measured (2026-12-02, before and after the candidate searches were merged into one knn query per article:
the same figures): one article per run precision 1.000, recall 0.858, cross-language recall 0.878; one call
1.000 / 0.942 / 0.949. The gap was there before that change; not yet traced. The suspect: the rarity
weights, which one call computes over all 99 articles and one article per run over the article and its
candidates only."""

from __future__ import annotations

import json

import pytest

from newswatch import index, stories
from newswatch.runtime import Runtime
from newswatch.steps import index_file
from tests.unit.test_story_quality import load, pairwise

pytestmark = pytest.mark.integration


def test_the_story_set_indexed_one_article_per_run_clusters_as_it_does_in_one_call(settings_factory) -> None:
    items = sorted(load("dev"), key=lambda it: (it["published"], it["id"]))
    rt = Runtime(settings_factory())
    rt.ensure_indices()
    for it in items:  # each call sees only what earlier calls indexed, through es_candidates
        record = {k: it[k] for k in ("id", "title", "text", "lang", "published")}
        summary = index_file(rt, [json.dumps({**record, "url": f"https://example.org/{it['id']}"})])
        assert summary["indexed"] == 1 and summary["errors"] == 0
    hits = rt.es.search(index=index.index_name(rt.settings, "articles"), size=1000,
                        source_includes=["story_id"])["hits"]["hits"]
    story = {h["_id"]: h["_source"]["story_id"] for h in hits}
    assert sorted(story) == sorted(it["id"] for it in items)
    incremental = pairwise(items, story)

    docs = stories.prepare(items)
    stories.assign(docs)
    one_call = pairwise(items, {d["id"]: d["story_id"] for d in docs})
    print(f"\n[stories dev, one article per run] {incremental} [one call] {one_call}")
    floors = {"precision": 0.95, "recall": 0.85, "cross_language_recall": 0.85}
    for key, floor in floors.items():
        assert incremental[key] >= floor, (key, incremental, one_call)
