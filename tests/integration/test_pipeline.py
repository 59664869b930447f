"""The whole pipeline without Airflow, against the real Elasticsearch, a real SMTP server and the sample site."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest

from newswatch import alerts, index, steps
from newswatch.clients import smtp_connect
from newswatch.config import Recipient, load_feeds
from newswatch.localstack.demosite import expected_articles
from newswatch.runtime import Runtime
from newswatch.search import search_articles
from newswatch.timeline import TimelineQuery, run_timeline
from tests.integration.helpers import core_anywhere, expected_alerts, tagged, write_demo_feeds, wrong_levels

pytestmark = pytest.mark.integration


def run_once(rt: Runtime, feeds, batch: str) -> dict:
    polled = steps.poll_shard(rt, batch, feeds=feeds, force=True)
    fetched = steps.fetch_batch(rt, batch)
    indexed = steps.index_batches(rt, [batch])
    return {"poll": polled, "fetch": fetched, "index": indexed}


def test_pipeline_indexes_tags_alerts_once(settings_factory, demo_site, smtp_sink, tmp_path: Path) -> None:
    port, maildir = smtp_sink
    settings = settings_factory(smtp_port=port, feeds_file=write_demo_feeds(tmp_path / "feeds.yaml", demo_site))
    rt = Runtime(settings)
    rt.ensure_indices()
    es = rt.es
    feeds = load_feeds(settings.feeds_path)
    expected = expected_articles()

    first = run_once(rt, feeds, "run1")
    assert first["poll"]["errors"] == 0 and first["fetch"]["failed"] == 0
    art_index = index.index_name(settings, "articles")
    docs = {h["_source"]["url"]: h["_source"] for h in
            es.search(index=art_index, size=500, query={"match_all": {}})["hits"]["hits"]}
    assert len(docs) == len(expected)
    # canonical URLs: tracking parameters stripped
    assert not [u for u in docs if "utm_" in u]
    wrong = wrong_levels(list(docs.values()), expected)  # every topic, side by side
    for exp in expected:
        doc = next(d for u, d in docs.items() if u.endswith(exp["path"]))
        assert doc["published"][:10] == exp["published"], exp["path"]
        if doc["level"] != "none":
            assert doc["evidence"] and doc["matches"] and doc["reasons"]
    assert not wrong, f"wrong levels: {wrong}"
    # explanations, entities and claims are stored with the articles
    core_docs = [d for d in docs.values() if d["level"] == "core"]
    assert all(d["entities"] and d["entity_names"] for d in core_docs)
    assert all(m["end"] > m["start"] and m["field"] in ("title", "text") for d in core_docs for m in d["matches"])
    with_claims = [d for d in core_docs if d["claims"]]
    assert len(with_claims) >= len(core_docs) // 2
    assert all(c["count"] > 0 and c["sentence"] for d in with_claims for c in d["claims"])
    counts = es.search(index=art_index, size=0, query={"range": {
        "claims.count": {"gte": 10000, "lte": 12000}}})["hits"]["total"]["value"]
    assert counts >= 3

    # stories: the pages a topic tags are clustered (``indexing.wants_story``); those with the same story key
    # share a story id, others do not; a page no topic tags has no story, and no embedding was made for it
    in_stories = [exp for exp in expected if tagged(exp)]
    assert 0 < len(in_stories) < len(expected)
    story_of: dict[str, set[str]] = {exp["story"]: set() for exp in in_stories}
    for exp in expected:
        doc = next(d for u, d in docs.items() if u.endswith(exp["path"]))
        if tagged(exp):
            story_of[exp["story"]].add(doc["story_id"])
        else:
            assert doc["story_id"] is None, exp["path"]
    assert all(len(ids) == 1 and None not in ids for ids in story_of.values()), story_of
    assert len({next(iter(ids)) for ids in story_of.values()}) == len(story_of)
    embedded = es.count(index=art_index, query={"exists": {"field": "embedding"}})["count"]
    assert embedded == len(in_stories)

    recipients = [Recipient(email="analyst@example.org")]
    sent = alerts.send_alerts(settings, es, lambda: smtp_connect(settings), recipients)
    core_stories = expected_alerts(expected)  # one thread per (topic, story)
    # the sample site's articles are history (a first poll, published 2024-2025): one backlog digest, no flood
    assert sent["immediate"] == 0 and sent["queued_for_digest"] == len(core_stories), sent
    assert sent["backlog_digests"] == 1 and sent["failed"] == 0
    mails = sorted(maildir.glob("*.eml"))
    assert len(mails) == 1
    digest = email.message_from_bytes(mails[0].read_bytes(), policy=email.policy.default)
    assert f"{len(core_stories)} stories" in digest["Subject"]
    text = digest.get_body(preferencelist=("plain",)).get_content()
    assert "Earlier coverage" in text and "Numbers reported" in text

    # a second run adds no document and sends no email
    second = run_once(rt, feeds, "run2")
    assert second["poll"]["new_entries"] == 0 and second["index"]["indexed"] == 0
    assert es.count(index=art_index)["count"] == len(expected)
    again = alerts.send_alerts(settings, es, lambda: smtp_connect(settings), recipients)
    assert again["sent"] == 0
    assert len(list(maildir.glob("*.eml"))) == 1

    # reprocessing from stored HTML re-tags without fetching and keeps ids and stories
    progress: list[dict] = []
    redone = steps.reprocess(rt, chunk=10, on_progress=progress.append)  # several chunks
    assert redone["indexed"] == len(expected) and redone["created"] == 0 and redone["pages"] == len(expected), redone
    assert [p["pages"] for p in progress] == list(range(10, len(expected), 10)) + [len(expected)]
    assert redone["core"] == core_anywhere(expected)
    assert es.count(index=art_index)["count"] == len(expected)
    assert alerts.send_alerts(settings, es, lambda: smtp_connect(settings), recipients)["sent"] == 0

    # timeline search has shape; full-text search highlights
    tl = run_timeline(es, settings, TimelineQuery(q="Kursk", interval="month"))
    assert tl["total"] > 0 and sum(1 for b in tl["buckets"] if b["count"]) >= 3
    hits = search_articles(es, settings, "North Korean troops", levels=["core"])
    assert hits and all(h["level"] == "core" for h in hits) and hits[0]["highlights"]

    # feed health is stored in Elasticsearch
    feed_docs = es.search(index=index.index_name(settings, "feeds"), size=50)["hits"]["hits"]
    assert len(feed_docs) == len(feeds)
    assert all(d["_source"]["consecutive_failures"] == 0 and d["_source"]["next_due"] for d in feed_docs)


def test_failed_send_is_retried_and_never_duplicated(settings_factory, demo_site, smtp_sink, tmp_path: Path) -> None:
    port, maildir = smtp_sink
    settings = settings_factory(smtp_port=port, feeds_file=write_demo_feeds(tmp_path / "feeds.yaml", demo_site))
    rt = Runtime(settings)
    es = rt.es
    run_once(rt, load_feeds(settings.feeds_path), "b")
    recipients = [Recipient(email="analyst@example.org")]

    def broken():
        raise ConnectionRefusedError("smtp down")

    down = alerts.send_alerts(settings, es, broken, recipients)
    assert down["sent"] == 0 and down["failed"] == 1 and down["queued_for_digest"] > 0  # the backlog digest
    assert down["errors"] == {"NotAccepted": 1}  # classified, not Unexpected:…
    claims = es.search(index=index.index_name(settings, "alerts"), size=50,
                       query={"term": {"kind": "message"}})["hits"]["hits"]
    assert [(c["_source"]["status"], c["_source"]["error_class"]) for c in claims] == [("failed", "NotAccepted")]
    assert not list(maildir.glob("*.eml"))
    up = alerts.send_alerts(settings, es, lambda: smtp_connect(settings), recipients)
    assert up["sent"] == 1 and up["retried"] == 1 and up["failed"] == 0
    assert alerts.send_alerts(settings, es, lambda: smtp_connect(settings), recipients)["sent"] == 0
    assert len(list(maildir.glob("*.eml"))) == 1


def test_the_fetch_shards_stage_story_embeddings_and_the_index_step_does_not_embed_again(
        settings_factory, demo_site, tmp_path: Path, monkeypatch) -> None:
    """The encoder runs in the parallel fetch step: each staged article a topic tags (only those are clustered)
    carries its title + lead vector, the one the index step would compute, the others none, and the index step
    (one process for every shard) encodes nothing."""
    import numpy as np

    from newswatch import encoder
    from newswatch.records import Article
    from newswatch.staging import ARTICLES, read_records

    settings = settings_factory(feeds_file=write_demo_feeds(tmp_path / "feeds.yaml", demo_site))
    rt = Runtime(settings)
    steps.poll_shard(rt, "emb", feeds=load_feeds(settings.feeds_path), force=True)
    fetched = steps.fetch_batch(rt, "emb")
    staged = [Article.model_validate(r) for r in read_records(rt.staging, "emb", ARTICLES)]
    assert len(staged) == fetched["articles"] == len(expected_articles())
    in_stories = [a for a in staged if any(tagged(e) and a.url.endswith(e["path"]) for e in expected_articles())]
    assert 0 < len(in_stories) < len(staged)
    assert all(bool(a.embedding) == (a in in_stories) for a in staged)
    assert all(len(a.embedding or ()) == encoder.DIMS for a in in_stories)
    sample = in_stories[:5]
    again = encoder.embed([encoder.article_text(a.title, a.text) for a in sample])
    assert np.allclose(np.array([a.embedding for a in sample]), again, atol=1e-5)

    def no_encoder(texts):
        raise AssertionError(f"the index step encoded {len(texts)} texts again")

    monkeypatch.setattr(encoder, "embed", no_encoder)
    assert steps.index_batches(rt, ["emb"])["indexed"] == len(staged)
    es_docs = rt.es.search(index=index.index_name(settings, "articles"), size=500,
                           source_includes=["id", "embedding"])["hits"]["hits"]
    assert len(es_docs) == len(staged)
    assert sorted(h["_id"] for h in es_docs if len(h["_source"].get("embedding") or ()) == encoder.DIMS) == \
        sorted(a.id for a in in_stories)
