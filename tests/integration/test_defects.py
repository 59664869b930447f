"""Defects found by the review of the whole tree, each pinned by a test that failed before its fix
(real Elasticsearch, a local HTTP server for feeds and pages)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from elasticsearch import ConnectionError as ESConnectionError

import newswatch.steps.fetch
from newswatch import index, steps
from newswatch.cli import main
from newswatch.config import FeedConfig
from newswatch.records import Article
from newswatch.runtime import Runtime
from tests.hostile.server import HostileServer, reply

pytestmark = pytest.mark.integration

WORDS = ("Kursk", "Pyongyang", "Moscow", "Kyiv", "Seoul", "Vladivostok", "Donetsk", "Belgorod", "Kharkiv", "Tokyo")


def page(base: str, i: int) -> bytes:
    text = " ".join(f"Report {i} from {WORDS[i % 10]}: sentence {n} about story number {i} and its details."
                    for n in range(12))
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Story {i}</title>'
            f'<link rel="canonical" href="{base}/news/story-{i}"></head><body><article><h1>Story {i}</h1>'
            f"<p>{text}</p><p>{text}</p></article></body></html>").encode()


def feed(base: str, items: range) -> bytes:
    # links through a redirector-like path: the page's canonical URL differs from every feed link
    body = "".join(f"<item><title>Story {i}</title><link>{base}/go/{i}?ref=rss</link><guid>g{i}</guid></item>"
                   for i in items)
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{body}</channel></rss>'.encode()


@pytest.fixture()
def site() -> Iterator[HostileServer]:
    server = HostileServer().start()
    for i in range(200):
        server.route(f"/go/{i}", reply(200, page(server.base, i)))
    yield server
    server.stop()


def serve_feed(server: HostileServer, items: range) -> FeedConfig:
    return FeedConfig(url=server.route("/feed.xml", reply(200, feed(server.base, items), "application/rss+xml")))


def make_due(rt: Runtime, url: str) -> None:
    rt.es.update(index=index.index_name(rt.settings, "feeds"), id=index.doc_id(url),
                 doc={"next_due": "2000-01-01T00:00:00+00:00"}, refresh=True)


def run(rt: Runtime, batch: str, feeds: list[FeedConfig], force: bool = False) -> dict[str, Any]:
    polled = steps.poll_shard(rt, batch, feeds=feeds, force=force)
    fetched = steps.fetch_batch(rt, batch)
    return {"poll": polled, "fetch": fetched, "index": steps.index_batches(rt, [batch])}


def page_hits(server: HostileServer) -> int:
    return sum(n for p, n in server.hits.items() if p.startswith("/go/"))


def test_pages_whose_canonical_url_differs_from_the_link_are_fetched_once(settings_factory, site) -> None:
    """Defect: the link's id was checked at poll time while the article is stored under the page's
    canonical id, so every change of such a feed staged and fetched its known pages again."""
    rt = Runtime(settings_factory())
    first = run(rt, "r1", [serve_feed(site, range(3))], force=True)
    assert first["index"]["indexed"] == 3 and page_hits(site) == 3
    docs = rt.es.search(index=index.index_name(rt.settings, "articles"), size=10)["hits"]["hits"]
    assert all(d["_source"]["url"].endswith(f"/news/story-{d['_source']['title'][-1]}") for d in docs)
    assert all(d["_source"]["link_ids"] for d in docs)
    f = serve_feed(site, range(4))  # the feed changes: one new item
    make_due(rt, f.url)
    second = run(rt, "r2", [f])
    assert second["poll"]["new_entries"] == 1 and page_hits(site) == 4


def test_entries_beyond_the_per_feed_cap_wait_for_the_next_polls(settings_factory, site) -> None:
    """Defect: entries beyond NEWSWATCH_FETCH__MAX_ARTICLES_PER_FEED were dropped while the feed's
    validators and hash moved on; a feed that then stopped changing lost them."""
    from newswatch.settings import FetchSettings

    rt = Runtime(settings_factory(fetch=FetchSettings(min_host_gap=0.0, max_articles_per_feed=2)))
    f = serve_feed(site, range(5))
    first = run(rt, "c1", [f], force=True)
    assert first["poll"]["new_entries"] == 2 and first["poll"]["backlog"] == 3
    for batch in ("c2", "c3"):  # the feed never changes again
        make_due(rt, f.url)
        run(rt, batch, [f])
    assert rt.es.count(index=index.index_name(rt.settings, "articles"))["count"] == 5
    make_due(rt, f.url)
    assert run(rt, "c4", [f])["poll"]["new_entries"] == 0


def test_ingest_that_fails_after_the_poll_loses_nothing(settings_factory, site, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Defect (measured): Elasticsearch gone during `newswatch ingest` of 150 new pages left the feed state
    moved on and nothing staged; the rerun and `--force` both indexed 0 of 150."""
    settings = settings_factory()
    feeds_file = tmp_path / "feeds.yaml"
    url = serve_feed(site, range(150)).url
    feeds_file.write_text(yaml.safe_dump({"feeds": [{"url": url}]}), encoding="utf-8")
    env = {"NEWSWATCH_ES__URL": settings.es.url, "NEWSWATCH_ES__INDEX_PREFIX": settings.es.index_prefix,
           "NEWSWATCH_VAR_DIR": str(settings.var_dir), "NEWSWATCH_ALLOWED_NETWORKS": "127.0.0.1/32",
           "NEWSWATCH_FETCH__MIN_HOST_GAP": "0", "NEWSWATCH_FETCH__MAX_ARTICLES_PER_FEED": "200"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    real = index.store_pages

    def node_gone(*args: Any, **kwargs: Any) -> Any:
        raise ESConnectionError("connection refused")

    monkeypatch.setattr(newswatch.steps.fetch.index, "store_pages", node_gone)
    failed = CliRunner().invoke(main, ["ingest", "--feeds", str(feeds_file), "--json"])
    assert failed.exit_code == 1 and "unreachable" in failed.output
    monkeypatch.setattr(newswatch.steps.fetch.index, "store_pages", real)
    rerun = CliRunner().invoke(main, ["ingest", "--feeds", str(feeds_file), "--json"])
    assert rerun.exit_code == 0, rerun.output
    rt = Runtime(settings)
    assert rt.es.count(index=index.index_name(settings, "articles"))["count"] == 150
    again = CliRunner().invoke(main, ["ingest", "--feeds", str(feeds_file), "--force"])
    assert again.exit_code == 0 and rt.es.count(index=index.index_name(settings, "articles"))["count"] == 150


def test_force_is_not_short_circuited_by_the_content_hash(settings_factory, site) -> None:
    rt = Runtime(settings_factory())
    f = serve_feed(site, range(2))
    steps.poll_shard(rt, "h1", feeds=[f], force=True)  # staged, never fetched: the hash is stored
    forced = steps.poll_shard(rt, "h2", feeds=[f], force=True)
    assert forced["ok"] == 1 and forced["not_modified"] == 0 and forced["entries"] == 2


def article(i: int, **extra: Any) -> Article:
    return Article.from_input({"url": f"https://x.example/{i}", "title": f"Story {i}",
                               "text": f"Text of story {i} " * 20, "published": "2025-01-01", **extra},
                              fetched_at="2025-01-01T00:00:00+00:00")


def test_reindexing_keeps_indexed_at(settings_factory) -> None:
    """Defect: re-indexing rewrote `indexed_at`, which restarts the alert window."""
    rt = Runtime(settings_factory())
    steps.index_articles(rt, [article(1)])
    name = index.index_name(rt.settings, "articles")
    before = index.get_doc(rt.es, name, article(1).id)
    again = steps.index_articles(rt, [article(1, title="Story 1, updated")])
    after = index.get_doc(rt.es, name, article(1).id)
    assert again["created"] == 0 and before and after
    assert after["indexed_at"] == before["indexed_at"] and after["title"] == "Story 1, updated"


def test_index_file_streams_in_bounded_chunks(settings_factory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Defect: `index --file` held the whole file in memory (~16 KB an article)."""
    import newswatch.steps.indexing as indexing

    rt = Runtime(settings_factory())
    pulled = [0]
    pulled_at_first_write: list[int] = []
    real = indexing.index.bulk_upsert

    def lines() -> Iterator[str]:
        for i in range(25):
            pulled[0] += 1
            yield json.dumps({"url": f"https://x.example/f{i}", "title": f"T{i}", "text": f"body {i} " * 30})
        yield "not json\n"
        yield "[1, 2]\n"

    def spy(*args: Any, **kwargs: Any) -> Any:
        pulled_at_first_write.append(pulled[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(indexing.index, "bulk_upsert", spy)
    summary = indexing.index_file(rt, lines(), chunk=10)
    assert summary["indexed"] == 25 and pulled_at_first_write[0] <= 11  # one chunk (+1 read ahead), not 25
    assert summary["errors"] == 2 and [b["line"] for b in summary["bad_lines"]] == [26, 27]


def test_a_page_in_two_batches_of_one_run_is_written_and_counted_once(settings_factory) -> None:
    """Defect: a page fetched by two shards in one run was written twice and counted twice."""
    from newswatch.staging import ARTICLES, write_records

    rt = Runtime(settings_factory())
    write_records(rt.staging, "run-s0", ARTICLES, [article(7), article(8)])
    write_records(rt.staging, "run-s1", ARTICLES, [article(7)])
    summary = steps.index_batches(rt, ["run-s0", "run-s1"])
    assert (summary["indexed"], summary["created"], summary["duplicates"]) == (2, 2, 1)


def test_read_only_commands_never_write(settings_factory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Defect: `newswatch search` installed templates and created indices. Readers now say what to run."""
    settings = settings_factory()
    monkeypatch.setenv("NEWSWATCH_ES__URL", settings.es.url)
    monkeypatch.setenv("NEWSWATCH_ES__INDEX_PREFIX", settings.es.index_prefix)
    rt = Runtime(settings)
    for argv in (["search", "Kursk"], ["timeline", "Kursk"], ["stories"], ["claims"], ["feeds", "status"]):
        result = CliRunner().invoke(main, argv)
        assert result.exit_code == 1 and "newswatch init" in result.output, (argv, result.output)
    assert not rt.es.indices.get(index=f"{settings.es.index_prefix}-*", allow_no_indices=True)
    assert not rt.es.indices.exists_index_template(name=f"{settings.es.index_prefix}-*")
    assert CliRunner().invoke(main, ["init", "--json"]).exit_code == 0
    assert CliRunner().invoke(main, ["search", "Kursk", "--json"]).exit_code == 0


def test_cli_poll_reproduces_one_shard_of_the_dag(settings_factory, site, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """`newswatch poll --shard N --shards M --batch ID` does what the poll task of shard N does."""
    from newswatch.politeness import shard_of

    settings = settings_factory()
    feeds = [serve_feed(site, range(2)).url, "http://localhost:1/other.xml", "http://127.0.0.2:1/third.xml"]
    feeds_file = tmp_path / "feeds.yaml"
    feeds_file.write_text(yaml.safe_dump({"feeds": [{"url": u} for u in feeds]}), encoding="utf-8")
    for k, v in {"NEWSWATCH_ES__URL": settings.es.url, "NEWSWATCH_ES__INDEX_PREFIX": settings.es.index_prefix,
                 "NEWSWATCH_VAR_DIR": str(settings.var_dir), "NEWSWATCH_ALLOWED_NETWORKS": "127.0.0.1/32"}.items():
        monkeypatch.setenv(k, v)
    shard = shard_of(feeds[0], 2)
    out = CliRunner().invoke(main, ["poll", "--feeds", str(feeds_file), "--shard", str(shard), "--shards", "2",
                                    "--batch", "manual__x-s1", "--json"])
    assert out.exit_code == 0, out.output
    summary = json.loads(out.output)
    assert summary["shard"] == shard and summary["feeds"] == sum(1 for u in feeds if shard_of(u, 2) == shard)
    assert summary["batch"] == "manual__x-s1" and summary["new_entries"] == 2
    again = json.loads(CliRunner().invoke(main, ["poll", "--feeds", str(feeds_file), "--shard", str(shard),
                                                 "--shards", "2", "--batch", "manual__x-s1", "--json"]).output)
    assert again == {"batch": "manual__x-s1", "shard": shard, "reused": True, "new_entries": 2}  # a retried task
    bad = CliRunner().invoke(main, ["poll", "--feeds", str(feeds_file), "--shard", "2", "--shards", "2"])
    assert bad.exit_code == 2


def test_a_bad_feeds_file_entry_is_reported_and_the_healthy_feeds_polled(site, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    good = serve_feed(site, range(2)).url
    feeds_file = tmp_path / "feeds.yaml"
    feeds_file.write_text(yaml.safe_dump({"feeds": [{"url": "file:///etc/passwd"}, {"url": good}]}), encoding="utf-8")
    monkeypatch.setenv("NEWSWATCH_ALLOWED_NETWORKS", "127.0.0.1/32")
    monkeypatch.setenv("NEWSWATCH_FETCH__MIN_HOST_GAP", "0")
    out = CliRunner().invoke(main, ["ingest", "--feeds", str(feeds_file), "--dry-run", "--json"])
    assert out.exit_code == 0, out.output
    lines = [json.loads(x) for x in out.stdout.splitlines()]
    feeds = {x["url"]: x for x in lines if x["kind"] == "feed"}
    bad = feeds["file:///etc/passwd"]
    assert bad["status"] == "error" and bad["error_class"] == "ConfigError"
    assert feeds[good]["status"] == "ok" and feeds[good]["new_entries"] == 2
    assert sum(1 for x in lines if x["kind"] == "article" and x["status"] == "ok") == 2
    feeds_file.write_text(yaml.safe_dump({"feeds": [{"url": "file:///etc/passwd"}, {"url": "http://127.0.0.1:1/x"}]}),
                          encoding="utf-8")
    every = CliRunner().invoke(main, ["ingest", "--feeds", str(feeds_file), "--dry-run", "--json"])
    assert every.exit_code == 1 and "every feed failed (2 of 2)" in every.output
