"""The timeline view on the sample site's articles in the real Elasticsearch: the page's JSON API and
``newswatch timeline --json`` give the same numbers; filters, zoom ranges, claims and facets hold; bad options
and missing logins are refused before Elasticsearch sees anything."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi import HTTPException, Request
from fastapi.testclient import TestClient

from newswatch import search
from newswatch.cli import main
from newswatch.clients import make_es
from newswatch.index import drop_indices
from newswatch.localstack.demosite import expected_articles
from newswatch.settings import ElasticsearchSettings, FetchSettings, Settings
from newswatch.timeline import TimelineQuery, run_timeline
from newswatch.web import create_app
from tests.integration.helpers import ingest_sample_site

pytestmark = pytest.mark.integration

TOKEN = "let-me-in"
VOLATILE = ("took_ms", "wall_ms")


def bearer_user(request: Request) -> str:
    """Stands in for Airflow's ``get_user`` (the Airflow test checks the real one): a bearer token or 401."""
    if request.headers.get("authorization") != f"Bearer {TOKEN}":
        raise HTTPException(401, "Not authenticated")
    return "analyst"


@pytest.fixture(scope="module")
def indexed(es_url: str, demo_site: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The sample site polled, fetched and indexed once for the module, through the CLI."""
    tmp = tmp_path_factory.mktemp("timeline")
    env, prefix = ingest_sample_site(es_url, demo_site, tmp)
    settings = Settings(es=ElasticsearchSettings(url=es_url, index_prefix=prefix), var_dir=tmp / "var",
                        fetch=FetchSettings(min_host_gap=0.0))
    es = make_es(settings)
    es.indices.refresh(index=f"{prefix}-articles")
    app = create_app(user=bearer_user, login_url=lambda nxt: f"/auth/login?next={nxt}",
                     settings_factory=lambda: settings)
    yield {"env": env, "settings": settings, "es": es, "client": TestClient(app, base_url="http://testserver"),
           "prefix": prefix}
    drop_indices(es, settings)
    es.close()


def api(indexed: dict[str, Any], params: list[tuple[str, str]] | dict[str, str], status: int = 200) -> Any:
    resp = indexed["client"].get("/timeline/api/timeline", params=params,
                                 headers={"Authorization": f"Bearer {TOKEN}"})
    assert resp.status_code == status, resp.text
    return resp.json()


def cli(indexed: dict[str, Any], *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["timeline", *args, "--json"], env=indexed["env"])
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    strip = lambda d: {k: v for k, v in d.items() if k not in VOLATILE}  # noqa: E731
    return strip(a) == strip(b)


def test_page_api_and_cli_give_the_same_numbers(indexed: dict[str, Any]) -> None:
    page = api(indexed, {"q": "Kursk", "interval": "month", "top_stories": "10", "top_articles": "10"})
    line = cli(indexed, "Kursk", "--interval", "month")
    assert same(page, line)
    assert page["total"] > 0 and page["took_ms"] >= 0 and page["wall_ms"] > 0
    assert sum(b["count"] for b in page["buckets"]) == page["total"]
    assert all(sum(b["stack"].values()) == b["count"] for b in page["buckets"])
    assert len([b for b in page["buckets"] if b["count"]]) >= 3
    assert page["stories"] and all(s["outlets"] and s["languages"] and s["title"] for s in page["stories"])
    assert page["stories_total"] <= page["total"]
    # facets: every facet's counts are of the matching articles
    for name in ("sources", "languages"):
        assert sum(r["count"] for r in page["facets"][name]) == page["total"], name
    assert page["facets"]["entities"] and page["facets"]["topics"]
    # the same with filters, through both doors
    for params, args in (
        ([("q", "Kursk"), ("lang", "ko")], ["Kursk", "--lang", "ko"]),
        ([("level", "core"), ("stack", "topic")], ["--level", "core", "--stack", "topic"]),
        ([("since", "2024-10-01"), ("until", "2024-10-31"), ("interval", "day")],
         ["--since", "2024-10-01", "--until", "2024-10-31", "--interval", "day"]),
    ):
        assert same(api(indexed, params), cli(indexed, *args)), args


def test_filters_narrow_and_the_whole_picture_adds_up(indexed: dict[str, Any]) -> None:
    everything = api(indexed, {})
    assert everything["total"] == len(expected_articles())
    assert everything["interval"]  # auto picked one
    langs = {r["key"]: r["count"] for r in everything["facets"]["languages"]}
    assert {"en", "ko", "ru"} <= set(langs)
    for lang, count in langs.items():
        only = api(indexed, [("lang", lang)])
        assert only["total"] == count
        assert all(a["lang"] == lang for a in only["articles"])
        assert all(s["languages"] == [lang] for s in only["stories"])
    # two values of one filter are an OR, two filters an AND
    two = api(indexed, [("lang", "en"), ("lang", "ko")])
    assert two["total"] == langs["en"] + langs["ko"]
    source = everything["facets"]["sources"][0]["key"]
    both = api(indexed, [("lang", "en"), ("source", source)])
    assert both["total"] <= min(langs["en"], everything["facets"]["sources"][0]["count"])
    entity = everything["facets"]["entities"][0]
    assert api(indexed, [("entity", entity["key"])])["total"] == entity["count"]
    # the top stories, largest first, each with its own articles' count, outlets and languages (counted in one
    # search, described in the next: the two agree)
    counts = [s["articles"] for s in everything["stories"]]
    assert counts == sorted(counts, reverse=True) and counts[0] >= 2
    for s in everything["stories"][:3]:
        alone = api(indexed, {"story": s["story_id"]})
        assert alone["total"] == s["articles"] and alone["stories"] == [s]
    # one story (the link in alert emails)
    story = next(s for s in everything["stories"] if s["articles"] == 2)
    one = api(indexed, {"story": story["story_id"]})
    assert one["total"] == 2 and one["stories_total"] == 1 and one["stories"][0]["story_id"] == story["story_id"]
    # levels stack to the level facet; per topic the stacks name topics
    levels = {r["key"]: r["count"] for r in everything["facets"]["levels"]}
    stacked: dict[str, int] = {}
    for b in everything["buckets"]:
        for k, v in b["stack"].items():
            stacked[k] = stacked.get(k, 0) + v
    assert stacked == levels
    per_topic = api(indexed, {"stack": "topic"})
    topic_names = {r["key"] for r in everything["facets"]["topics"]}
    assert {k for b in per_topic["buckets"] for k in b["stack"]} == topic_names
    assert "dprk_russia_troops" in topic_names


def test_a_zoomed_range_is_inclusive_and_exact(indexed: dict[str, Any]) -> None:
    whole = api(indexed, {"interval": "day"})
    days = [b for b in whole["buckets"] if b["count"]]
    first, last = days[1], days[-2]
    zoom = api(indexed, {"since": first["start"], "until": last["start"].replace("T00:00:00", "T23:59:59.999")})
    assert zoom["total"] == sum(b["count"] for b in whole["buckets"] if first["start"] <= b["start"] <= last["start"])
    one_day = api(indexed, {"since": first["start"][:10], "until": first["start"][:10], "interval": "day"})
    assert one_day["total"] == first["count"]
    assert [b["count"] for b in one_day["buckets"]] == [first["count"]]


@pytest.mark.parametrize("params", [{}, {"q": "Kursk"}, {"stack": "topic"}, {"since": "2024-10-01"},
                                    {"until": "2025-01-31", "lang": "en"}])
def test_auto_bars_are_the_bars_of_the_interval_picked(indexed: dict[str, Any], params: dict[str, str]) -> None:
    """Without both dates the matching articles' range is found first and the bars are counted in the interval
    it calls for: the same bars as asking for that interval."""
    auto = api(indexed, params)
    explicit = api(indexed, {**params, "interval": auto["interval"]})
    assert auto["buckets"] == explicit["buckets"] and auto["range"] == explicit["range"]
    assert auto["buckets"] and sum(b["count"] for b in auto["buckets"]) == auto["total"]


def test_claims_over_time_come_from_the_matching_articles(indexed: dict[str, Any]) -> None:
    everything = api(indexed, {})
    rows = everything["claims"]
    assert rows and everything["claims_articles"] >= 1 and not everything["claims_truncated"]
    assert any(r["count"] in (10000, 11000, 12000) for r in rows)
    assert all(r["count"] < 100000 and r["article_id"] and r["date"] for r in rows)
    assert any(r["source"] for r in rows)
    # a filter that leaves no claims leaves an empty chart, not the whole history
    none = api(indexed, {"q": "zzzunmatchedzzz"})
    assert none["total"] == 0 and none["claims"] == [] and none["stories"] == [] and none["buckets"] == []
    russian = api(indexed, [("lang", "ru")])
    assert {r["article_id"] for r in russian["claims"]} <= {a["id"] for a in api(
        indexed, [("lang", "ru"), ("top_articles", "100")])["articles"]}


def test_claims_without_claims_json_are_read_from_source(indexed: dict[str, Any]) -> None:
    """An article written before ``claims_json`` existed (or with claims too long for its doc values) is read
    from ``_source``: the same claims, claim by claim."""
    es, settings = indexed["es"], indexed["settings"]
    before = run_timeline(es, settings, TimelineQuery())
    listing = search.claims_timeline(es, settings, limit=0)  # ``newswatch claims``: the same doc values
    assert len(listing) >= len(before["claims"]) > 0
    name = f"{indexed['prefix']}-articles"
    hits = es.search(index=name, query={"exists": {"field": "claims.count"}},
                     size=100)["hits"]["hits"]
    assert len(hits) >= 2 and all(json.loads(h["_source"]["claims_json"])["claims"] == h["_source"]["claims"]
                                  for h in hits)
    older = hits[::2]
    try:
        for h in older:
            es.index(index=h["_index"], id=h["_id"],
                     document={k: v for k, v in h["_source"].items() if k != "claims_json"})
        es.indices.refresh(index=name)
        after = run_timeline(es, settings, TimelineQuery())
        assert after["claims"]
        # (the best articles may change order: with no query they tie, and the rewritten ones moved)
        assert {k: after[k] for k in ("claims", "claims_articles", "claims_truncated")} == {
            k: before[k] for k in ("claims", "claims_articles", "claims_truncated")}
        assert search.claims_timeline(es, settings, limit=0) == listing
        assert search.claims_timeline(es, settings, limit=2) == listing[:2]
    finally:
        for h in older:
            es.index(index=h["_index"], id=h["_id"], document=h["_source"])
        es.indices.refresh(index=name)


def test_the_feed_health_table(indexed: dict[str, Any]) -> None:
    resp = indexed["client"].get("/timeline/api/feeds", headers={"Authorization": f"Bearer {TOKEN}"})
    assert resp.status_code == 200
    feeds = resp.json()["feeds"]
    assert feeds and all(f["last_success"] and f["consecutive_failures"] == 0 for f in feeds)
    assert sum(f["articles_ok"] for f in feeds) == len(expected_articles())
    meta = indexed["client"].get("/timeline/api/meta", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert "dprk_russia_troops" in {t["name"] for t in meta["topics"]}


def test_no_login_no_data_and_the_page_sends_browsers_to_the_login(indexed: dict[str, Any]) -> None:
    client: TestClient = indexed["client"]
    for path in ("/timeline/api/timeline?q=Kursk", "/timeline/api/feeds", "/timeline/api/meta"):
        resp = client.get(path)
        assert resp.status_code == 401, path
        assert "Kursk" not in resp.text and "articles" not in resp.text
        assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
    page = client.get("/timeline/", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/auth/login?next=")
    ok = client.get("/timeline/", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and "static/vendor/echarts.min.js" in ok.text
    # the page's own files are served (no CDN): the chart library and the script
    assert client.get("/timeline/static/vendor/echarts.min.js").status_code == 200
    assert "api/timeline" in client.get("/timeline/static/timeline.js").text


@pytest.mark.parametrize("params, where", [
    ({"since": "2024-13-01"}, "since"),
    ({"until": "yesterday"}, "until"),
    ({"since": "2024-10-02", "until": "2024-10-01"}, "since is after until"),
    ({"interval": "fortnight"}, "interval"),
    ({"top_stories": "100000"}, "top_stories"),
    ({"level": "urgent"}, "levels"),
    ({"topic": "no such topic!"}, "topic"),
    ({"q": "Kursk " * 200}, "q"),
    ({"size": "10"}, "unknown parameter"),
])
def test_bad_options_are_refused_with_one_message(indexed: dict[str, Any], params: dict[str, str],
                                                  where: str) -> None:
    body = api(indexed, params, status=422)
    assert where in body["detail"] and "\n" not in body["detail"]


def test_cli_refuses_bad_options_with_exit_2(indexed: dict[str, Any]) -> None:
    result = CliRunner().invoke(main, ["timeline", "--since", "2024-13-01"], env=indexed["env"])
    assert result.exit_code == 2 and "since" in result.output


def test_an_unreachable_elasticsearch_is_a_503_naming_it(tmp_path: Path) -> None:
    settings = Settings(es=ElasticsearchSettings(url="http://127.0.0.1:9", index_prefix="nowhere"),
                        var_dir=tmp_path)
    client = TestClient(create_app(user=bearer_user, settings_factory=lambda: settings))
    resp = client.get("/timeline/api/timeline", headers={"Authorization": f"Bearer {TOKEN}"})
    assert resp.status_code == 503 and "http://127.0.0.1:9" in resp.json()["detail"]


def test_the_query_model_is_what_both_doors_validate() -> None:
    tq = TimelineQuery.model_validate({"since": "2024-10-01", "until": "2024-10-01"})
    assert tq.since is not None and tq.until is not None
    assert (tq.until - tq.since).total_seconds() == pytest.approx(86400 - 0.001)
    assert callable(run_timeline)


def test_a_lead_title_too_long_for_doc_values_is_read_from_source(indexed: dict[str, Any]) -> None:
    """The stories' first articles come from doc values (``title.raw``, up to 512 characters); a longer title
    is read from ``_source``: the same stories, with their whole titles, in the timeline and ``newswatch
    stories``."""
    es, settings = indexed["es"], indexed["settings"]
    before = run_timeline(es, settings, TimelineQuery())
    assert before["stories"] and all(s["title"] and s["url"] and s["source"] for s in before["stories"])
    name = f"{indexed['prefix']}-articles"
    lead = before["stories"][0]
    (hit,) = es.search(index=name, query={"term": {"url": lead["url"]}}, size=1)["hits"]["hits"]
    long_title = "Kursk: " + "a very long headline " * 30
    assert len(long_title) > 512
    try:
        es.index(index=hit["_index"], id=hit["_id"], document={**hit["_source"], "title": long_title}, refresh=True)
        after = run_timeline(es, settings, TimelineQuery())
        assert after["stories"][0] == {**lead, "title": long_title}
        assert after["stories"][1:] == before["stories"][1:]
        listed = search.list_stories(es, settings, size=100)
        assert {s["story_id"]: s["title"] for s in listed}[lead["story_id"]] == long_title
    finally:
        es.index(index=hit["_index"], id=hit["_id"], document=hit["_source"], refresh=True)
