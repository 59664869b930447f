"""Per-feed extraction health is counted once per batch, and concurrent writers are re-read, not overwritten."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from newswatch import index, staging, steps
from newswatch.config import load_feeds
from newswatch.demosite import expected_articles
from tests.integration.helpers import write_demo_feeds

pytestmark = pytest.mark.integration


@dataclass
class Demo:
    settings: Any
    es: Any
    feeds: list[Any]
    root: Any


@pytest.fixture()
def demo(settings_factory, demo_site: str, tmp_path: Path) -> Demo:
    """Indices under a fresh prefix and the sample site's feeds."""
    settings = settings_factory(feeds_file=write_demo_feeds(tmp_path / "feeds.yaml", demo_site))
    es = index.make_es(settings)
    index.ensure_indices(es, settings)
    return Demo(settings, es, load_feeds(settings.feeds_path), staging.staging_root(settings.staging))


def _feed(es: Any, settings: Any, url: str) -> dict[str, Any]:
    doc = index.get_doc(es, index.index_name(settings, "feeds"), index.doc_id(url))
    assert doc is not None
    return doc


def test_a_retried_fetch_task_counts_its_pages_once(demo: Demo) -> None:
    settings, es, feeds, root = demo.settings, demo.es, demo.feeds, demo.root
    with steps.http_client(settings) as http:
        steps.poll_feeds(settings, es, http, feeds, staging=root, batch="run1-0", force=True)
        entries = steps.entries_of(root, "run1-0")
        first = steps.fetch_articles(settings, es, http, entries, staging=root, batch="run1-0")
        after_first = {f.url: _feed(es, settings, f.url) for f in feeds}
        # the same task again (an Airflow retry after a crash at its very end): the counters do not move
        steps.fetch_articles(settings, es, http, entries, staging=root, batch="run1-0")
        after_retry = {f.url: _feed(es, settings, f.url) for f in feeds}
    assert first["articles"] > 0
    assert sum(d.get("articles_ok", 0) for d in after_first.values()) == first["articles"]
    for url, doc in after_first.items():
        for key in ("articles_ok", "articles_failed", "body_chars_total"):
            assert after_retry[url].get(key) == doc.get(key), (url, key)
    # a new batch does count
    steps.record_extraction_health(settings, es, [{"feed_url": feeds[0].url, "chars": 1000}], [], "run2-0")
    assert _feed(es, settings, feeds[0].url)["articles_ok"] == after_first[feeds[0].url]["articles_ok"] + 1


def test_a_concurrent_write_to_the_feed_is_kept(settings_factory, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_factory()
    es = index.make_es(settings)
    index.ensure_indices(es, settings)
    url = "https://feeds.example/rss"
    feed_index = index.index_name(settings, "feeds")
    index.bulk_upsert(es, feed_index, [(index.doc_id(url), {"url": url, "articles_ok": 3, "articles_failed": 0})])
    real_get = es.get
    raced: list[bool] = []

    def stale_get(**kwargs: Any) -> Any:
        doc = real_get(**kwargs)
        if not raced:  # another worker writes the feed between our read and our write
            raced.append(True)
            es.index(index=feed_index, id=doc["_id"], document={**doc["_source"], "articles_failed": 7},
                     refresh=True)
        return doc

    monkeypatch.setattr(es, "get", stale_get)
    updated = steps.record_extraction_health(
        settings, es, [{"feed_url": url, "chars": 500}], [{"feed_url": url}], "run9-1")
    doc = index.get_doc(es, feed_index, index.doc_id(url))
    assert updated == 1 and doc is not None
    assert doc["articles_ok"] == 4 and doc["articles_failed"] == 8  # the other write (7) survived, plus ours
    assert doc["health_batches"] == ["run9-1"]


def test_entries_are_staged_before_the_feed_state_moves_on(demo: Demo) -> None:
    """A crash while staging leaves the feeds unchanged in Elasticsearch, so the next poll finds the entries."""
    settings, es, feeds = demo.settings, demo.es, demo.feeds

    def crash(entries: list[dict[str, Any]]) -> None:
        raise OSError("staging volume went away")

    with steps.http_client(settings) as http:
        with pytest.raises(OSError):
            steps.poll_new_entries(settings, es, http, feeds, force=True, stage=crash)
        assert all(index.get_doc(es, index.index_name(settings, "feeds"), index.doc_id(f.url)) is None
                   for f in feeds)
        kept: list[dict[str, Any]] = []
        summary, _ = steps.poll_new_entries(settings, es, http, feeds, stage=kept.extend)
    assert summary["new_entries"] == len(kept) > 0


def test_a_poll_never_overwrites_extraction_health_written_meanwhile(demo: Demo) -> None:
    settings, es, feeds = demo.settings, demo.es, demo.feeds
    feed = feeds[0].url
    with steps.http_client(settings) as http:
        steps.poll_new_entries(settings, es, http, feeds, force=True)

        def fetch_meanwhile(entries: list[dict[str, Any]]) -> None:
            # runs after this poll read the feed states and before it writes them back
            steps.record_extraction_health(settings, es, [{"feed_url": feed, "chars": 900}], [], "other-task")

        steps.poll_new_entries(settings, es, http, feeds, force=True, stage=fetch_meanwhile)
    doc = _feed(es, settings, feed)
    assert doc["articles_ok"] == 1 and doc["health_batches"] == ["other-task"] and doc["polls"] == 2


def test_a_batch_whose_fetch_failed_is_replayed_by_the_next_run(demo: Demo) -> None:
    """Run 1 polls (feed validators move on) and its fetch fails for good; run 2's poll finds the feeds
    unchanged, yet fetches and indexes run 1's entries: nothing is lost, and nothing waits for a person."""
    settings, es, feeds, root = demo.settings, demo.es, demo.feeds, demo.root
    with steps.http_client(settings) as http:
        first = steps.poll_feeds(settings, es, http, feeds, staging=root, batch="run1-s0", force=True)
        assert first["new_entries"] > 0  # ... and then run 1's fetch task fails after all its retries
        replay = steps.unfinished_batches(root, 0, current="run2-s0")
        assert replay == ["run1-s0"]
        second = steps.poll_feeds(settings, es, http, feeds, staging=root, batch="run2-s0", force=True,
                                  replay=replay)
        assert second["new_entries"] == 0 and second["replayed"] == first["new_entries"]
        steps.fetch_articles(settings, es, http, steps.entries_of(root, "run2-s0"), staging=root, batch="run2-s0")
    steps.index_batch(settings, es, root, ["run2-s0"])
    art_index = index.index_name(settings, "articles")
    assert es.count(index=art_index)["count"] == len(expected_articles())
    assert steps.unfinished_batches(root, 0, current="run3-s0") == []  # run 1 replayed, run 2 indexed
