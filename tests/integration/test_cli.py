"""CLI contracts against the sample site and the real Elasticsearch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from newswatch.cli import main
from newswatch.localstack.demosite import expected_articles
from tests.integration.helpers import tagged, write_demo_feeds

pytestmark = pytest.mark.integration


def env_for(settings, tmp_path: Path, feeds: Path) -> dict[str, str]:
    return {"NEWSWATCH_ES__URL": settings.es.url, "NEWSWATCH_ES__INDEX_PREFIX": settings.es.index_prefix,
            "NEWSWATCH_ALLOWED_NETWORKS": "127.0.0.1/32", "NEWSWATCH_VAR_DIR": str(tmp_path / "var"),
            "NEWSWATCH_FEEDS_FILE": str(feeds), "NEWSWATCH_FETCH__MIN_HOST_GAP": "0"}


def test_ingest_dry_run_json_contract_writes_nothing(settings_factory, demo_site, tmp_path: Path) -> None:
    settings = settings_factory()
    feeds = write_demo_feeds(tmp_path / "feeds.yaml", demo_site)
    # one feed that fails and one that is not a feed: the run still exits 0
    feeds.write_text(feeds.read_text() + f"- url: {demo_site}/nowhere.rss\n- url: {demo_site}/herald/\n")
    env = env_for(settings, tmp_path, feeds)
    result = CliRunner().invoke(main, ["ingest", "--feeds", str(feeds), "--dry-run", "--json"], env=env)
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    feed_lines = [x for x in lines if x["kind"] == "feed"]
    art_lines = [x for x in lines if x["kind"] == "article"]
    for x in feed_lines:
        assert set(x) >= {"kind", "url", "status", "error_class", "entries", "new_entries"}
        assert x["status"] in ("ok", "not_modified", "error")
    for x in art_lines:
        assert set(x) >= {"kind", "url", "feed", "status", "error_class", "title", "chars"}
        assert x["status"] in ("ok", "skipped", "error")
    errors = {x["url"].rsplit("/", 2)[-2] if x["url"].endswith("/") else x["url"].rsplit("/", 1)[-1]: x["error_class"]
              for x in feed_lines if x["status"] == "error"}
    assert errors == {"nowhere.rss": "HTTPStatusError", "herald": "NotAFeed"}
    ok_articles = [x for x in art_lines if x["status"] == "ok"]
    assert len(ok_articles) == len(expected_articles()) and all(x["chars"] > 100 for x in ok_articles)
    # nothing written: no index, no staged batch
    from newswatch.clients import make_es
    from newswatch.index import index_name

    es = make_es(settings)
    assert not es.indices.exists(index=index_name(settings, "articles"))
    assert not (tmp_path / "var" / "staging").exists()


def test_poll_fetch_index_timeline_claims_feeds_status(settings_factory, demo_site, tmp_path: Path) -> None:
    settings = settings_factory()
    feeds = write_demo_feeds(tmp_path / "feeds.yaml", demo_site)
    env = env_for(settings, tmp_path, feeds)
    runner = CliRunner()
    polled = runner.invoke(main, ["poll", "--batch", "b1", "--json"], env=env)
    assert polled.exit_code == 0, polled.output
    assert json.loads(polled.stdout)["new_entries"] == len(expected_articles())
    fetched = runner.invoke(main, ["fetch", "--batch", "b1", "--json"], env=env)
    assert json.loads(fetched.stdout)["articles"] == len(expected_articles())
    indexed = runner.invoke(main, ["index", "--batch", "b1", "--json"], env=env)
    assert json.loads(indexed.stdout)["indexed"] == len(expected_articles())

    tl = runner.invoke(main, ["timeline", "Kursk", "--interval", "month", "--json"], env=env)
    data = json.loads(tl.stdout)
    assert data["total"] > 0 and len([b for b in data["buckets"] if b["count"]]) >= 3
    human = runner.invoke(main, ["timeline", "Kursk"], env=env)
    assert "█" in human.output and "Top articles" in human.output

    claims = runner.invoke(main, ["claims", "--json"], env=env)
    rows = [json.loads(x) for x in claims.stdout.splitlines()]
    assert any(r["count"] in (10000, 11000, 12000) for r in rows)
    assert all(r["count"] < 100000 for r in rows)

    status = runner.invoke(main, ["feeds", "status", "--json"], env=env)
    health = [json.loads(x) for x in status.stdout.splitlines()]
    assert len(health) == feeds.read_text().count("- url:")
    assert all(h["last_status"] == "ok" and h["consecutive_failures"] == 0 for h in health)
    assert sum(h["articles_ok"] for h in health) == len(expected_articles())

    found = runner.invoke(main, ["feeds", "discover", f"{demo_site}/herald/", "--json"], env=env)
    assert any(json.loads(x)["url"].endswith(".rss") or json.loads(x)["url"].endswith(".xml")
               for x in found.stdout.splitlines())

    listed = runner.invoke(main, ["stories", "--size", "100", "--json"], env=env)
    stories = [json.loads(x) for x in listed.stdout.splitlines()]
    # the stories of the pages a topic tags (only those are clustered: ``indexing.wants_story``)
    keys = {e["story"] for e in expected_articles() if tagged(e)}
    assert len(stories) == len(keys)
    shared = [s for s in stories if s["articles"] == 2]  # a wire pair and two cross-language pairs
    assert len(shared) == 3 and all(len(s["outlets"]) == 2 for s in shared)
    assert sorted(len(s["languages"]) for s in shared) == [1, 2, 2]

    search = runner.invoke(main, ["search", "North Korean troops", "--level", "core", "--json"], env=env)
    assert all(json.loads(x)["level"] == "core" for x in search.stdout.splitlines())
