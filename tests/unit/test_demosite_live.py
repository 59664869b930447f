"""Live articles on the sample site: published at run time, dated now, served like the content articles.

The site runs on a free loopback port in a thread, as in ``test_demosite.py``; every test gets its own
server (and, where persistence is under test, its own state folder), so nothing published here reaches
other tests or the session-wide ``demo_site`` fixture.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import httpx
import lxml.html
import pytest

from newswatch.localstack.demosite import LiveSiteError, expected_articles, live_articles, make_server, publish, reset
from newswatch.localstack.demosite.content import load_content
from newswatch.localstack.demosite.live import LIVE_DIR_ENV, fill_dates, load_templates, template_names
from newswatch.localstack.demosite.render import body_paragraphs
from newswatch.localstack.demosite.server import DemoSiteServer, _is_loopback

CONTENT = load_content()
ANSWER_KEY = expected_articles()
FEEDS = {feed.key: feed for feed in CONTENT.feeds}


@contextmanager
def serve(live_dir: Path | None = None) -> Iterator[DemoSiteServer]:
    """The site on a free loopback port until the block ends (the ``demo_site`` fixture's recipe)."""
    server = make_server(host="127.0.0.1", port=0, live_dir=live_dir)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture()
def site(monkeypatch: pytest.MonkeyPatch) -> Iterator[DemoSiteServer]:
    monkeypatch.delenv(LIVE_DIR_ENV, raising=False)
    with serve() as server:
        yield server


@pytest.fixture()
def client(site: DemoSiteServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site.base_url, timeout=10, trust_env=False) as http:
        yield http


def feed_entries(client: httpx.Client, feed_key: str) -> list[feedparser.FeedParserDict]:
    response = client.get(FEEDS[feed_key].path)
    assert response.status_code == 200
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return list(parsed.entries)


def entry_time(entry: feedparser.FeedParserDict) -> datetime:
    return datetime(*entry.published_parsed[:6], tzinfo=UTC)


def page_text(client: httpx.Client, path: str) -> tuple[str, str]:
    """The page's <h1> and its whole visible text, whitespace collapsed."""
    response = client.get(path)
    assert response.status_code == 200 and response.headers["content-type"] == "text/html; charset=utf-8"
    page = lxml.html.fromstring(response.content)
    return page.xpath("string(//h1)").strip(), " ".join(page.text_content().split())


def test_canned_templates_carry_the_scenario() -> None:
    templates = load_templates().articles
    assert {"fresh", "followup", "unrelated"} <= set(template_names())
    fresh, followup, unrelated = templates["fresh"], templates["followup"], templates["unrelated"]
    assert (fresh["site"], fresh["lang"]) == ("herald", "en")
    assert followup["site"] != fresh["site"] and followup["lang"] != fresh["lang"]
    assert followup["lang"] in CONTENT.sites[followup["site"]].editions
    assert fresh["story"] == followup["story"] and "story" not in unrelated
    assert (fresh["level"], followup["level"], unrelated["level"]) == ("core", "core", "none")

    fresh_text = " ".join((fresh["title"], fresh["standfirst"], fresh["body"]))
    for needle in ("3,000", "North Korean soldiers", "Kursk", "Russia", "HUR", "Rylsk", "Storm Corps", "deploy"):
        assert needle in fresh_text, needle
    assert 4 <= len(body_paragraphs(fresh["body"])) <= 6
    followup_text = " ".join((followup["title"], followup["standfirst"], followup["body"]))
    for needle in ("6천 명", "3천", "국정원", "국방부", "쿠르스크", "릴스크", "폭풍군단"):  # NIS, MND, Kursk, Rylsk
        assert needle in followup_text, needle
    for text in (fresh_text, followup_text):  # the same days, whenever they are published
        assert "{day_before}" in text and "{date}" in text
    unrelated_text = " ".join((unrelated["title"], unrelated["body"])).lower()
    assert not re.search(r"korea|russia|kursk|troop|soldier|ukrain", unrelated_text)
    for template in templates.values():
        assert 150 <= len(template["body"].split()) <= 600


def test_template_dates_follow_the_publication_day() -> None:
    moment = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
    assert fill_dates("{day_before} to {date}", moment, "en") == "28 February to 1 March"
    assert fill_dates("{day_before}부터 {date}까지", moment, "ko") == "28일부터 1일까지"
    assert fill_dates("с {day_before} по {date}", moment, "ru") == "с 28 февраля по 1 марта"


def test_fresh_tops_its_feeds_and_its_page_is_served(site: DemoSiteServer, client: httpx.Client) -> None:
    before = client.get(FEEDS["herald-top"].path)
    answer = publish(site.base_url, "fresh")
    now = datetime.now(UTC)
    assert answer["url"] == site.base_url + answer["path"] and answer["path"].startswith("/herald/")
    assert abs(datetime.fromisoformat(answer["published"]) - now) < timedelta(minutes=1)
    assert (answer["site"], answer["lang"], answer["template"], answer["level"]) == ("herald", "en", "fresh", "core")

    for feed_key in ("herald-top", "herald-world"):  # every herald/en feed listing category "world"
        entries = feed_entries(client, feed_key)
        assert urlsplit(entries[0].link).path == answer["path"], feed_key
        assert entries[0].title == answer["title"]
        assert abs(entry_time(entries[0]) - now) < timedelta(minutes=1)
        assert len(entries) == 1 + len(CONTENT.feed_articles(FEEDS[feed_key]))
    for feed_key in ("koreawire-ko", "koreawire-en", "vestnik-all"):
        assert all(urlsplit(e.link).path != answer["path"] for e in feed_entries(client, feed_key))

    # The feed changed, so a poller's conditional request gets the new version.
    assert client.get(FEEDS["herald-top"].path, headers={"If-None-Match": before.headers["etag"]}).status_code == 200

    title, text = page_text(client, answer["path"])
    assert title == answer["title"]
    published = datetime.fromisoformat(answer["published"])
    body = fill_dates(load_templates().articles["fresh"]["body"], published, "en")
    for paragraph in body_paragraphs(body):
        assert paragraph in text
    assert "{date}" not in text and "{day_before}" not in text
    assert answer["path"] in client.get("/herald/").text  # the home page lists it too
    assert expected_articles() == ANSWER_KEY, "live articles stay out of the answer key"


def test_followup_and_control_land_in_their_own_feeds(site: DemoSiteServer, client: httpx.Client) -> None:
    fresh = publish(site.base_url, "fresh")
    followup = publish(site.base_url, "followup")
    unrelated = publish(site.base_url, "unrelated")
    assert followup["site"] == "koreawire" and followup["lang"] == "ko"
    assert datetime.fromisoformat(followup["published"]).utcoffset() == timedelta(hours=9)  # KST, as labelled
    assert urlsplit(feed_entries(client, "koreawire-ko")[0].link).path == followup["path"]
    assert all(urlsplit(e.link).path != followup["path"] for e in feed_entries(client, "koreawire-en"))
    title, text = page_text(client, followup["path"])
    assert title == followup["title"] and "6천 명" in text and "국정원" in text

    top = [urlsplit(e.link).path for e in feed_entries(client, "herald-top")]
    assert set(top[:2]) == {fresh["path"], unrelated["path"]}
    world = [urlsplit(e.link).path for e in feed_entries(client, "herald-world")]
    assert world[0] == fresh["path"] and unrelated["path"] not in world  # category city: not World/Defence
    assert [a["template"] for a in live_articles(site.base_url)] == ["fresh", "followup", "unrelated"]


def test_publish_fields_of_ones_own(site: DemoSiteServer, client: httpx.Client) -> None:
    response = client.post(
        "/_live/publish",
        json={
            "site": "vestnik",
            "title": "Морозы до минус тридцати ожидаются в регионе",
            "standfirst": "Синоптики предупреждают о резком похолодании.",
            "body": ["Первый абзац о погоде.", "Второй абзац: школы переходят на дистанционное обучение."],
            "path": "/vestnik/news/live/morozy/",
            "category": "regions",
            "author": "Ирина Петрова",
            "published": "2026-01-10T08:00:00+03:00",
        },
    )
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["path"] == "/vestnik/news/live/morozy/" and response.headers["location"] == answer["url"]
    assert answer["published"] == "2026-01-10T08:00:00+03:00" and answer["lang"] == "ru"
    title, text = page_text(client, answer["path"])
    assert title.startswith("Морозы") and "Второй абзац: школы переходят" in text and "Ирина Петрова" in text
    assert client.get("/vestnik/news/live/morozy").headers["location"] == "/vestnik/news/live/morozy/"
    assert urlsplit(feed_entries(client, "vestnik-all")[0].link).path == answer["path"]

    again = publish(site.base_url, "fresh", published=datetime(2026, 1, 10, 9, tzinfo=UTC), title="Override")
    assert again["title"] == "Override" and again["published"] == "2026-01-10T09:00:00+00:00"
    twice = publish(site.base_url, "fresh", published="2026-01-10T09:00:00+00:00", title="Override")
    assert twice["path"] != again["path"], "the same article twice gets two pages"


def test_reset_clears_live_articles(site: DemoSiteServer, client: httpx.Client) -> None:
    answer = publish(site.base_url, "fresh")
    assert client.get(answer["path"]).status_code == 200
    assert reset(site.base_url) == 1
    assert client.get(answer["path"]).status_code == 404
    assert all(urlsplit(e.link).path != answer["path"] for e in feed_entries(client, "herald-top"))
    listing = client.get("/_live").json()
    assert listing["articles"] == [] and "fresh" in listing["templates"] and listing["state_dir"] is None


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"site": "nowhere", "title": "T", "body": "B"}, "unknown site 'nowhere'"),
        ({"site": "herald", "lang": "ko", "title": "T", "body": "B"}, "no 'ko' edition"),
        ({"template": "nope"}, "unknown template 'nope'"),
        ({"site": "herald", "body": "B"}, "'title' is required"),
        ({"site": "herald", "title": "T"}, "'body' is required"),
        ({"site": "herald", "title": "T", "body": [1, 2]}, "list of paragraph strings"),
        ({"site": "herald", "title": "T", "body": "B", "published": "yesterday"}, "not an ISO 8601 time"),
        ({"site": "herald", "title": "T", "body": "B", "published": "2026-01-01T10:00:00"}, "needs a UTC offset"),
        ({"site": "herald", "title": "T", "body": "B", "category": "sport"}, "no category 'sport'"),
        ({"site": "herald", "title": "T", "body": "B", "path": "/vestnik/x"}, "under the outlet's prefix"),
        ({"site": "herald", "title": "T", "body": "B", "path": "/herald/a b"}, "plain URL path"),
        ({"site": "herald", "title": "T", "body": "B", "colour": "red"}, "unknown field(s) ['colour']"),
        ({"template": "fresh", "level": "urgent"}, "'level' must be one of"),
        (["not", "an", "object"], "must be a JSON object"),
    ],
)
def test_bad_input_is_400_with_a_message(client: httpx.Client, payload: object, message: str) -> None:
    response = client.post("/_live/publish", json=payload)
    assert response.status_code == 400 and response.headers["content-type"].startswith("application/json")
    assert message in response.json()["error"]
    assert client.get("/_live").json()["articles"] == []


def test_other_refusals(site: DemoSiteServer, client: httpx.Client) -> None:
    raw = client.post("/_live/publish", content=b"{not json", headers={"Content-Type": "application/json"})
    assert raw.status_code == 400 and "not valid JSON" in raw.json()["error"]
    taken = CONTENT.articles[0].path
    clash = client.post(
        "/_live/publish",
        json={
            "site": CONTENT.articles[0].site,
            "lang": CONTENT.articles[0].lang,
            "title": "T",
            "body": "B",
            "path": taken,
        },
    )
    assert clash.status_code == 409 and taken in clash.json()["error"]
    assert (
        client.post(
            "/_live/publish", json={"site": "herald", "title": "T", "body": "B", "path": "/herald/feeds/top.rss"}
        ).status_code
        == 409
    )
    assert client.get("/_live/publish").status_code == 404
    assert client.post("/_live").status_code == 405
    assert client.post("/herald/").status_code == 405
    with pytest.raises(LiveSiteError) as refused:
        publish(site.base_url, site="nowhere", title="T", body="B")
    assert refused.value.status == 400 and "unknown site" in refused.value.message
    assert not _is_loopback("192.168.1.20") and _is_loopback("127.0.0.1") and _is_loopback("::1")
    assert _is_loopback("::ffff:127.0.0.1") and not _is_loopback("localhost")


def test_state_folder_survives_a_restart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(LIVE_DIR_ENV, raising=False)
    folder = tmp_path / "live"
    with serve(folder) as first:
        fresh = publish(first.base_url, "fresh")
        followup = publish(first.base_url, "followup")
        page = httpx.get(first.base_url + followup["path"], trust_env=False).text.replace(first.base_url, "")
    assert sorted(f.name for f in folder.iterdir()) == ["live-00001.yaml", "live-00002.yaml"]

    monkeypatch.setenv(LIVE_DIR_ENV, str(folder))  # the environment names the folder when no argument does
    with serve() as second, httpx.Client(base_url=second.base_url, trust_env=False, timeout=10) as client:
        assert second.live.state_dir == folder
        listed = live_articles(second.base_url)
        assert [(a["path"], a["published"], a["template"]) for a in listed] == [
            (fresh["path"], fresh["published"], "fresh"),
            (followup["path"], followup["published"], "followup"),
        ]
        assert client.get(followup["path"]).text.replace(second.base_url, "") == page  # the same page
        assert urlsplit(feed_entries(client, "herald-top")[0].link).path == fresh["path"]
        third = publish(second.base_url, "unrelated")
        assert (folder / "live-00003.yaml").is_file() and third["path"] != fresh["path"]
        assert reset(second.base_url) == 3
    assert list(folder.iterdir()) == []
    with serve(folder) as empty:
        assert live_articles(empty.base_url) == []


def test_a_broken_state_file_stops_the_start(tmp_path: Path) -> None:
    (tmp_path / "live-00001.yaml").write_text("site: nowhere\ntitle: T\nbody: B\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"live-00001\.yaml: cannot load live article: unknown site"):
        make_server(host="127.0.0.1", port=0, live_dir=tmp_path)
