"""Per-feed extraction health is counted once per batch; concurrent writers never overwrite each other;
entries are staged before feed state moves on; never-indexed batches are replayed (real Elasticsearch)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from newswatch import feedhealth, index, steps
from newswatch.config import load_feeds
from newswatch.localstack.demosite import expected_articles
from newswatch.records import Article, Failure, FeedHealth
from newswatch.runtime import Runtime
from newswatch.staging import unfinished_batches
from tests.integration.helpers import write_demo_feeds

pytestmark = pytest.mark.integration


@dataclass
class Demo:
    rt: Runtime
    feeds: list[Any]

    @property
    def es(self) -> Any:
        return self.rt.es


@pytest.fixture()
def demo(settings_factory, demo_site: str, tmp_path: Path) -> Demo:
    """Indices under a fresh prefix and the sample site's feeds."""
    settings = settings_factory(feeds_file=write_demo_feeds(tmp_path / "feeds.yaml", demo_site))
    rt = Runtime(settings)
    rt.ensure_indices()
    return Demo(rt, load_feeds(settings.feeds_path))


def _health(rt: Runtime) -> dict[str, dict[str, Any]]:
    rt.es.indices.refresh(index=index.index_name(rt.settings, "feedhealth"))
    return {r["url"]: r for r in feedhealth.feed_rows(rt.es, rt.settings)}


def test_a_retried_fetch_task_counts_its_pages_once(demo: Demo) -> None:
    rt = demo.rt
    steps.poll_shard(rt, "run1-s0", feeds=demo.feeds, force=True)
    first = steps.fetch_batch(rt, "run1-s0")
    after_first = _health(rt)
    steps.fetch_batch(rt, "run1-s0")  # the same task again (an Airflow retry after a crash at its very end)
    after_retry = _health(rt)
    assert first["articles"] > 0
    assert sum(r["articles_ok"] for r in after_first.values()) == first["articles"]
    for url, row in after_first.items():
        for key in ("articles_ok", "articles_failed", "body_chars_total"):
            assert after_retry[url][key] == row[key], (url, key)
    # a new batch does count
    feed = demo.feeds[0].url
    art = Article(id="x", url="https://x.example/a", source="x", host="x.example", published="2025-01-01",
                  fetched_at="2025-01-01", feed_url=feed, chars=1000)
    feedhealth.record_extraction_health(rt.es, rt.settings, "run2-s0", [art], [])
    assert _health(rt)[feed]["articles_ok"] == after_first[feed]["articles_ok"] + 1


def test_concurrent_health_writers_to_one_feed_are_all_counted(settings_factory) -> None:
    """Defect fixed differently: the hand-written compare-and-set loop is gone. Each batch writes its own
    document, so eight concurrent writers to one feed need no retry and none is lost."""
    rt = Runtime(settings_factory())
    rt.ensure_indices()
    url = "https://feeds.example/rss"
    rt.es.index(index=index.index_name(rt.settings, "feeds"), id=index.doc_id(url), document={"url": url},
                refresh=True)
    ok = Article(id="a", url="https://x.example/a", source="x", host="x.example", published="2025-01-01",
                 fetched_at="2025-01-01", feed_url=url, chars=500)
    bad = Failure(id="b", url="https://x.example/b", canonical_url="https://x.example/b", feed_url=url,
                  error_class="NoArticleBody")

    def write(i: int) -> int:
        return feedhealth.record_extraction_health(rt.es, rt.settings, f"run{i}-s1", [ok], [bad])

    with ThreadPoolExecutor(8) as pool:
        assert sum(pool.map(write, range(8))) == 8
    write(3)  # a retried task: its own document again
    row = _health(rt)[url]
    assert (row["articles_ok"], row["articles_failed"], row["body_chars_total"]) == (8, 8, 4000)
    assert FeedHealth.model_fields.keys() == set(index.template_body("feedhealth")["mappings"]["properties"])


def test_entries_are_staged_before_the_feed_state_moves_on(demo: Demo) -> None:
    """A crash while staging leaves the feeds unchanged in Elasticsearch, so the next poll finds the entries."""
    rt, feeds = demo.rt, demo.feeds

    def crash(entries: list[Any]) -> None:
        raise OSError("staging volume went away")

    with pytest.raises(OSError):
        steps.poll_feeds(rt, feeds, force=True, stage=crash)
    assert all(index.get_doc(rt.es, index.index_name(rt.settings, "feeds"), index.doc_id(f.url)) is None
               for f in feeds)
    kept: list[Any] = []
    summary, _ = steps.poll_feeds(rt, feeds, stage=kept.extend)
    assert summary["new_entries"] == len(kept) > 0


def test_a_batch_whose_fetch_failed_is_replayed_by_the_next_run(demo: Demo) -> None:
    """Run 1 polls (feed validators move on) and its fetch fails for good; run 2's poll finds the feeds
    unchanged, yet fetches and indexes run 1's entries: nothing is lost, and nothing waits for a person."""
    rt, feeds = demo.rt, demo.feeds
    first = steps.poll_shard(rt, "run1-s0", feeds=feeds, force=True)
    assert first["new_entries"] > 0  # ... and then run 1's fetch task fails after all its retries
    assert unfinished_batches(rt.staging, current="run2-s0") == ["run1-s0"]
    second = steps.poll_shard(rt, "run2-s0", feeds=feeds)
    assert second["new_entries"] == 0 and second["replayed"] == first["new_entries"]
    steps.fetch_batch(rt, "run2-s0")
    steps.index_batches(rt, ["run2-s0"])
    assert rt.es.count(index=index.index_name(rt.settings, "articles"))["count"] == len(expected_articles())
    assert unfinished_batches(rt.staging, current="run3-s0") == []  # run 1 replayed, run 2 indexed
