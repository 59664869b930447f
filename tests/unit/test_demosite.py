"""The offline sample news site: feeds parse, every article is reachable and extracts cleanly.

The demo and the integration tests score the pipeline against ``expected_articles()``, so this suite
checks that answer key against what the server actually serves: each page is linked from a feed, returns
HTML, and trafilatura recovers its title and body without the page furniture (cookie banner, newsletter
box, comments, related links) that the templates deliberately wrap around it. The server runs on a free
loopback port in a thread; nothing leaves the machine.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import urllib.robotparser
from collections import Counter
from collections.abc import Iterator
from datetime import date
from urllib.parse import urlsplit

import feedparser
import httpx
import lxml.html
import pytest
import trafilatura

from newswatch.localstack.demosite import DEFAULT_PORT, expected_articles, feed_urls, make_server
from newswatch.localstack.demosite.content import load_content

ARTICLES = expected_articles()

# Furniture, located by the markup the templates give it; none of its text may reach an extracted body.
# The copyright line is exempt: KoreaWire prints it inside the article body, as Korean agencies do, and an
# extractor is right to keep what sits in the body.
FURNITURE_XPATHS = {
    "cookie banner": "//*[contains(@class, 'cookie-banner')]//p",
    "newsletter": "//*[contains(@class, 'newsletter-box')]//p",
    "comment": "//*[contains(@class, 'comment-body')]",
    "comments login": "//*[contains(@class, 'comments-login')]",
    "related link": "//*[contains(@class, 'related')]//a",
    "most read": "//*[contains(@class, 'most-read')]//a",
    "footer": "//footer[contains(@class, 'site-footer')]//p[not(contains(@class, 'copyright'))]",
}


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    server = make_server(host="127.0.0.1", port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.base_url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=10) as http:
        yield http


@pytest.fixture(scope="module")
def parsed_feeds(base_url: str, client: httpx.Client) -> dict[str, feedparser.FeedParserDict]:
    return {feed["url"]: feedparser.parse(client.get(feed["url"]).content) for feed in feed_urls(base_url)}


def test_public_api_shapes(base_url: str) -> None:
    assert DEFAULT_PORT == 8765
    feeds = feed_urls(base_url + "/")
    assert all(set(f) == {"url", "name", "site", "lang"} for f in feeds)
    assert all(f["url"].startswith(base_url + "/") and "//" not in f["url"][8:] for f in feeds)
    keys = {"path", "site", "lang", "title", "published", "expected_level", "expected_levels", "story", "category"}
    assert all(set(a) == keys for a in ARTICLES)
    assert len({a["path"] for a in ARTICLES}) == len(ARTICLES)
    assert all(date.fromisoformat(a["published"]) for a in ARTICLES)


def test_counts_give_the_demo_its_shape(parsed_feeds: dict[str, feedparser.FeedParserDict]) -> None:
    levels = Counter(a["expected_level"] for a in ARTICLES)
    core_langs = Counter(a["lang"] for a in ARTICLES if a["expected_level"] == "core")
    assert len(ARTICLES) >= 34
    assert 12 <= levels["core"] <= 16 and levels["related"] >= 5 and levels["none"] >= 12
    assert core_langs["ko"] >= 3 and core_langs["ru"] >= 3 and core_langs["en"] >= 6
    assert len({a["site"] for a in ARTICLES}) >= 3
    assert len(parsed_feeds) >= 3
    versions = {d.version[:3] for d in parsed_feeds.values()}
    assert {"rss", "ato"} <= versions, versions

    months = Counter(a["published"][:7] for a in ARTICLES)
    assert min(months) <= "2024-10" and max(months) >= "2025-06", "dates should span Oct 2024 to Jun 2025"
    core_autumn = sum(1 for a in ARTICLES if a["expected_level"] == "core" and a["published"] < "2025-01")
    assert core_autumn >= levels["core"] / 2, "most core items fall in Oct-Dec 2024"


def test_three_stories_are_carried_by_two_outlets_one_wire_two_across_languages() -> None:
    """A wire piece run by two outlets in English, and two events each reported in two languages (the NIS
    special-forces report in Korean and English, the confirmation of 2025-04-28 in English and Russian)."""
    stories = Counter(a["story"] for a in ARTICLES)
    shared = [story for story, n in stories.items() if n > 1]
    assert len(shared) == 3 and all(stories[s] == 2 for s in shared)
    langs = []
    for story in shared:
        pages = [a for a in ARTICLES if a["story"] == story]
        assert len({p["site"] for p in pages}) == 2 and len({p["title"] for p in pages}) == 2
        langs.append(len({p["lang"] for p in pages}))
    assert sorted(langs) == [1, 2, 2]
    assert all(a["story"] == a["path"] for a in ARTICLES if a["story"] not in shared)


def test_article_source_lengths() -> None:
    """150-600 words (whitespace tokens, so Korean counts eojeol): long enough for a tagger, not a book."""
    for article in load_content().articles:
        assert 150 <= len(article.body.split()) <= 600, article.path


@pytest.mark.parametrize("feed", feed_urls("http://placeholder"), ids=lambda f: urlsplit(f["url"]).path)
def test_feed_parses_newest_first(feed: dict[str, str], base_url: str, client: httpx.Client) -> None:
    response = client.get(urlsplit(feed["url"]).path)
    assert response.status_code == 200
    assert re.fullmatch(r"application/(rss|atom)\+xml; charset=utf-8", response.headers["content-type"])
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert len(parsed.entries) >= 1
    assert parsed.feed.get("language", feed["lang"]).startswith(feed["lang"])
    stamps = [entry.published_parsed for entry in parsed.entries]
    assert all(stamps) and stamps == sorted(stamps, reverse=True)
    assert all(entry.link.startswith(base_url + "/") for entry in parsed.entries)


def test_every_article_is_linked_from_a_feed(parsed_feeds: dict[str, feedparser.FeedParserDict]) -> None:
    links = [entry.link for parsed in parsed_feeds.values() for entry in parsed.entries]
    linked_paths = {urlsplit(link).path for link in links}
    assert {a["path"] for a in ARTICLES} <= linked_paths
    tracked = [link for link in links if "utm_source=rss" in link]
    assert 0 < len(tracked) < len(links) / 2, "some, not most, feed links carry tracking parameters"


@pytest.mark.parametrize("expected", ARTICLES, ids=lambda a: a["path"])
def test_article_extracts_cleanly(expected: dict[str, str], base_url: str, client: httpx.Client) -> None:
    response = client.get(expected["path"])
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    html = response.text
    page = lxml.html.fromstring(response.content)
    assert page.xpath("//link[@rel='canonical']/@href") == [base_url + expected["path"]]

    result = json.loads(trafilatura.extract(html, output_format="json", with_metadata=True) or "{}")
    body = result.get("text") or ""
    assert len(body) >= 100
    assert result.get("title") == expected["title"]
    assert result.get("date") == expected["published"]
    furniture = {
        (kind, " ".join(text.split())[:60])
        for kind, xpath in FURNITURE_XPATHS.items()
        for text in (el.text_content() for el in page.xpath(xpath))
        if len(text.strip()) >= 12
    }
    assert {kind for kind, _ in furniture} >= {"cookie banner", "newsletter", "comment", "related link"}
    flat_body = " ".join(body.split())
    leaked = sorted((kind, text) for kind, text in furniture if text in flat_body)
    assert not leaked, leaked


def test_pages_without_meta_dates_exist(client: httpx.Client) -> None:
    """A few pages leave the date out of the meta tags so it has to come from the visible text."""
    without = [a for a in load_content().articles if not a.meta_date]
    assert len(without) >= 2
    for article in without:
        assert "article:published_time" not in client.get(article.path).text


def test_tracking_parameters_do_not_change_the_page(client: httpx.Client, base_url: str) -> None:
    path = ARTICLES[0]["path"]
    plain = client.get(path)
    tracked = client.get(path + "?utm_source=rss&utm_medium=feed")
    assert tracked.status_code == 200 and tracked.content == plain.content
    assert f'<link rel="canonical" href="{base_url}{path}">' in tracked.text


def test_conditional_requests_answer_304(client: httpx.Client, base_url: str) -> None:
    feed = urlsplit(feed_urls(base_url)[0]["url"]).path
    first = client.get(feed)
    etag, last_modified = first.headers["etag"], first.headers["last-modified"]

    by_etag = client.get(feed, headers={"If-None-Match": etag})
    assert by_etag.status_code == 304 and by_etag.content == b"" and by_etag.headers["etag"] == etag
    assert client.get(feed, headers={"If-None-Match": '"stale"'}).status_code == 200

    by_date = client.get(feed, headers={"If-Modified-Since": last_modified})
    assert by_date.status_code == 304
    older = client.get(feed, headers={"If-Modified-Since": "Mon, 01 Jan 2024 00:00:00 GMT"})
    assert older.status_code == 200
    # If-None-Match wins over If-Modified-Since when both are sent.
    both = client.get(feed, headers={"If-None-Match": '"stale"', "If-Modified-Since": last_modified})
    assert both.status_code == 200

    page = ARTICLES[-1]["path"]
    assert client.get(page, headers={"If-None-Match": client.get(page).headers["etag"]}).status_code == 304


def test_head_matches_get_without_body(client: httpx.Client) -> None:
    for path in ("/herald/", ARTICLES[3]["path"], urlsplit(feed_urls("http://x")[2]["url"]).path):
        get, head = client.get(path), client.head(path)
        assert head.status_code == 200 and head.content == b""
        for name in ("content-type", "content-length", "etag", "last-modified"):
            assert head.headers[name] == get.headers[name]


def test_unknown_paths_are_404(client: httpx.Client) -> None:
    for path in (
        "/nope",
        "/herald/world/2024/10/18/does-not-exist",
        "/private/drafts",
        "/herald/feeds/x.rss",
    ):
        response = client.get(path)
        assert response.status_code == 404 and response.headers["content-type"].startswith("text/html")
    assert client.head("/nope").status_code == 404


def test_directory_paths_redirect_to_trailing_slash(client: httpx.Client) -> None:
    assert client.get("/vestnik").headers["location"] == "/vestnik/"
    slashed = next(a["path"] for a in ARTICLES if a["path"].endswith("/"))
    response = client.get(slashed.rstrip("/"))
    assert response.status_code == 301 and response.headers["location"] == slashed


def test_robots_txt_allows_articles_not_private(client: httpx.Client, base_url: str) -> None:
    response = client.get("/robots.txt")
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    robots = urllib.robotparser.RobotFileParser()
    robots.parse(response.text.splitlines())
    assert robots.can_fetch("newswatch", base_url + ARTICLES[0]["path"])
    assert not robots.can_fetch("newswatch", base_url + "/private/drafts")


def test_home_pages_advertise_their_feeds(client: httpx.Client, base_url: str) -> None:
    homes = {"/" + a["path"].split("/")[1] + "/" for a in ARTICLES}
    advertised: set[str] = set()
    for home in homes:
        response = client.get(home)
        assert response.status_code == 200
        links = lxml.html.fromstring(response.content).xpath("//head/link[@rel='alternate']")
        assert links and all(
            link.get("type") in {"application/rss+xml", "application/atom+xml"} for link in links
        )
        advertised |= {link.get("href") for link in links}
    assert advertised == {f["url"] for f in feed_urls(base_url)}


def test_server_is_quiet(client: httpx.Client, capfd: pytest.CaptureFixture[str]) -> None:
    client.get("/")
    client.get("/nope")
    assert capfd.readouterr().err == ""


def test_module_entry_point_prints_feeds() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "newswatch.localstack.demosite", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(1 + len(feed_urls("http://x")))]
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert lines[0].startswith("Sample news site on http://127.0.0.1:")
    assert all(re.search(r"http://127\.0\.0\.1:\d+/\S+", line) for line in lines[1:])
