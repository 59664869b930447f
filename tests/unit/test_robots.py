"""robots.txt by RFC 9309, without traffic: the rules come through ``fetch`` from an ``httpx.MockTransport``.

Origins are IP literals (a public one, or loopback opened in the policy), so the SSRF guard of ``fetch``
runs as in production but never needs DNS.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx
import pytest

from extractors.fetch import DEFAULT_USER_AGENT, FetchPolicy, make_client, parse_networks
from extractors.robots import RobotsCache

ORIGIN = "http://93.184.216.34"

Handler = Callable[[httpx.Request], httpx.Response]


def robots_cache(handler: Handler, *, user_agent: str = DEFAULT_USER_AGENT) -> RobotsCache:
    policy = FetchPolicy(user_agent=user_agent)
    return RobotsCache(make_client(policy, transport=httpx.MockTransport(handler)), policy)


def serving(body: str | bytes, status: int = 200, hits: list[str] | None = None) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if hits is not None:
            hits.append(str(request.url))
        if request.url.path != "/robots.txt":
            return httpx.Response(404)
        content = body.encode() if isinstance(body, str) else body
        return httpx.Response(status, content=content, headers={"Content-Type": "text/plain"})

    return handler


def robots(body: str | bytes, status: int = 200, *, user_agent: str = DEFAULT_USER_AGENT) -> RobotsCache:
    return robots_cache(serving(body, status), user_agent=user_agent)


def test_wildcard_matches_any_characters() -> None:
    cache = robots("User-agent: *\nDisallow: /*.pdf$\nDisallow: /*/print/\n")
    assert not cache.allowed(f"{ORIGIN}/a.pdf")
    assert not cache.allowed(f"{ORIGIN}/reports/2024/b.pdf")
    assert not cache.allowed(f"{ORIGIN}/news/print/story")
    assert cache.allowed(f"{ORIGIN}/a.pdf.html")
    assert cache.allowed(f"{ORIGIN}/news/story")


def test_dollar_anchors_the_end_of_the_path() -> None:
    cache = robots("User-agent: *\nDisallow: /private$\n")
    assert not cache.allowed(f"{ORIGIN}/private")
    assert cache.allowed(f"{ORIGIN}/private/story")
    assert cache.allowed(f"{ORIGIN}/privateer")


def test_longest_match_wins_and_allow_wins_a_tie() -> None:
    cache = robots("User-agent: *\nDisallow: /news/\nAllow: /news/public/\nDisallow: /page\nAllow: /page\n")
    assert cache.allowed(f"{ORIGIN}/news/public/story")  # the longer Allow beats the earlier Disallow
    assert not cache.allowed(f"{ORIGIN}/news/secret")
    assert cache.allowed(f"{ORIGIN}/page")  # equally long: the least restrictive rule


GROUPS = """\
User-agent: otherbot
Disallow: /

User-agent: NewsWatch
Disallow: /drafts/
Crawl-delay: 2.5

User-agent: *
Disallow: /
Crawl-delay: 30
"""


def test_our_group_is_chosen_by_the_product_token_case_insensitively() -> None:
    cache = robots(GROUPS)  # User-Agent "newswatch/0.1 (+https://...)": the token is "newswatch"
    assert cache.agent == "newswatch"
    assert cache.allowed(f"{ORIGIN}/news/story")
    assert not cache.allowed(f"{ORIGIN}/drafts/story")
    other = robots(GROUPS, user_agent="OtherBot/2.0 (compatible)")
    assert not other.allowed(f"{ORIGIN}/news/story")


def test_a_group_named_by_a_prefix_of_our_token_does_not_apply() -> None:
    cache = robots("User-agent: news\nDisallow: /\n\nUser-agent: *\nDisallow: /tmp/\n")
    assert cache.allowed(f"{ORIGIN}/story")  # "news" is not "newswatch": the * group applies
    assert not cache.allowed(f"{ORIGIN}/tmp/x")


def test_without_our_group_or_a_star_group_everything_is_allowed() -> None:
    cache = robots("User-agent: otherbot\nDisallow: /\n")
    assert cache.allowed(f"{ORIGIN}/story") and cache.crawl_delay(f"{ORIGIN}/story") is None


def test_crawl_delay_of_our_group() -> None:
    cache = robots(GROUPS)
    assert cache.crawl_delay(f"{ORIGIN}/any/page") == 2.5
    assert robots("User-agent: *\nCrawl-delay: 7\n").crawl_delay(f"{ORIGIN}/x") == 7.0
    assert robots("User-agent: *\nDisallow: /x\n").crawl_delay(f"{ORIGIN}/x") is None
    assert robots("User-agent: *\nCrawl-delay: soon\n").crawl_delay(f"{ORIGIN}/x") is None
    assert robots("User-agent: *\nCrawl-delay: -3\n").crawl_delay(f"{ORIGIN}/x") is None


def test_byte_order_mark_does_not_hide_the_first_group() -> None:
    cache = robots("\ufeffUser-agent: *\nDisallow: /private/\n".encode())
    assert not cache.allowed(f"{ORIGIN}/private/story")


@pytest.mark.parametrize("status", [401, 403, 404, 410])
def test_missing_robots_txt_allows_all(status: int) -> None:
    cache = robots("User-agent: *\nDisallow: /\n", status=status)
    assert cache.allowed(f"{ORIGIN}/story")
    assert cache.crawl_delay(f"{ORIGIN}/story") is None


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_error_allows_all(status: int) -> None:
    cache = robots("User-agent: *\nDisallow: /\n", status=status)
    assert cache.allowed(f"{ORIGIN}/story")
    assert cache.crawl_delay(f"{ORIGIN}/story") is None


@pytest.mark.parametrize("exc", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow")])
def test_unreachable_robots_txt_allows_all(exc: Exception) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    cache = robots_cache(handler)
    assert cache.allowed(f"{ORIGIN}/story")
    assert cache.crawl_delay(f"{ORIGIN}/story") is None


def test_fetched_once_per_origin_even_under_concurrency() -> None:
    hits: list[str] = []
    slow = serving("User-agent: *\nDisallow: /private/\nCrawl-delay: 1\n", hits=hits)

    def handler(request: httpx.Request) -> httpx.Response:
        time.sleep(0.05)  # every thread asks while the first fetch is still in flight
        return slow(request)

    cache = robots_cache(handler)
    results: list[bool] = []
    threads = [threading.Thread(target=lambda: results.append(cache.allowed(f"{ORIGIN}/private/x")))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [False] * 8
    assert hits == [f"{ORIGIN}/robots.txt"]
    assert cache.crawl_delay(f"{ORIGIN}/other") == 1.0  # from the same cached parse
    assert hits == [f"{ORIGIN}/robots.txt"]
    assert cache.allowed("http://93.184.216.35/private/x") is False  # another origin: its own robots.txt
    assert hits == [f"{ORIGIN}/robots.txt", "http://93.184.216.35/robots.txt"]


def test_robots_txt_goes_through_the_port_scoped_ssrf_guard() -> None:
    hits: list[str] = []
    policy = FetchPolicy(allowed_networks=parse_networks("127.0.0.1:8765"))
    client = make_client(policy, transport=httpx.MockTransport(serving("User-agent: *\nDisallow: /x\n", hits=hits)))
    cache = RobotsCache(client, policy)
    assert not cache.allowed("http://127.0.0.1:8765/x")
    assert cache.allowed("http://127.0.0.1:9200/x")  # robots.txt refused by the guard: no rule, page fetch decides
    assert hits == ["http://127.0.0.1:8765/robots.txt"]
