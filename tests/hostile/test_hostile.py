"""Every hostile case gives its stable error class, in bounded time and memory, without stopping the run."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from newswatch import steps
from newswatch.config import FeedConfig
from newswatch.errors import classify
from newswatch.records import Entry, FeedState
from newswatch.runtime import Runtime
from tests.hostile.cases import FEED_CASES, PAGE_CASES, Case, article_html
from tests.hostile.conftest import Hostile, make_settings
from tests.hostile.server import HostileServer, reply


def _measure(case: Case, fn: Any) -> tuple[Any, float, float]:
    """Run ``fn``; return its result, the seconds it took and the tracemalloc peak in MB (0 if not traced)."""
    if case.max_peak_mb is not None:
        tracemalloc.start()
    started = time.monotonic()
    try:
        out = fn()
    finally:
        elapsed = time.monotonic() - started
        peak = 0.0
        if case.max_peak_mb is not None:
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
    return out, elapsed, peak


def _assert_silent_listeners(h: Hostile) -> None:
    assert h.guarded.connections == 0, "a request reached 127.0.0.2, outside allowed_networks"
    assert h.canary.connections == 0, "an external entity or DTD was fetched"


@pytest.mark.parametrize("case", FEED_CASES, ids=lambda c: c.name)
def test_feed_case(hostile: Hostile, case: Case) -> None:
    feed = FeedConfig(url=hostile.url(case.name))
    (state, entries, report), elapsed, peak = _measure(
        case, lambda: steps.poll_feed(hostile.http, hostile.policy, feed, FeedState()))
    assert report["error_class"] == case.expected, report
    assert elapsed <= case.max_seconds, f"{case.name} took {elapsed:.1f}s"
    if case.max_peak_mb is not None:
        assert peak <= case.max_peak_mb, f"{case.name} peaked at {peak:.1f} MB"
    if case.expected is None:
        assert report["status"] == "ok" and len(entries) >= case.min_entries, report
        assert state.consecutive_failures == 0
    else:
        assert report["status"] == "error" and not entries
        assert state.last_error_class == case.expected and state.consecutive_failures == 1
    _assert_silent_listeners(hostile)


@pytest.mark.parametrize("case", PAGE_CASES, ids=lambda c: c.name)
def test_page_case(hostile: Hostile, case: Case) -> None:
    entry = Entry.from_feed(url=hostile.url(case.name, "page"), title=case.name, published=None, feed_url=None,
                           feed_name=None)

    def run() -> str | None:
        try:
            steps.fetch_and_extract(hostile.http, hostile.policy, entry)
        except Exception as exc:  # noqa: BLE001 - classification is what we test
            return classify(exc)
        return None

    error_class, elapsed, peak = _measure(case, run)
    assert error_class == case.expected
    assert elapsed <= case.max_seconds, f"{case.name} took {elapsed:.1f}s"
    if case.max_peak_mb is not None:
        assert peak <= case.max_peak_mb, f"{case.name} peaked at {peak:.1f} MB"
    _assert_silent_listeners(hostile)


def test_suite_has_at_least_thirty_distinct_bad_cases() -> None:
    bad = [c for c in FEED_CASES + PAGE_CASES if c.expected]
    assert len({c.name for c in bad}) >= 30
    assert {c.expected for c in bad} >= {
        "FetchTimeout", "ResponseTooLarge", "RateLimited", "NotAFeed", "UnsafeFeed", "BlockedAddress",
        "BlockedURL", "TooManyRedirects", "UnsupportedContentType", "NotHTML", "NoArticleBody", "HTTPStatusError",
    }


def test_rate_limits_carry_retry_after(hostile: Hostile) -> None:
    for name, low, high in (("rate_limited_429", 120, 120), ("unavailable_503_date", 10**8, 10**10)):
        _, _, report = steps.poll_feed(hostile.http, hostile.policy, FeedConfig(url=hostile.url(name)), FeedState())
        assert report["error_class"] == "RateLimited"
        assert low <= report["retry_after"] <= high


def test_utf16_and_mislabelled_feeds_decode_titles(hostile: Hostile) -> None:
    for name in ("utf16_with_bom", "utf16_without_bom", "charset_mislabelled"):
        _, entries, _ = steps.poll_feed(hostile.http, hostile.policy, FeedConfig(url=hostile.url(name)), FeedState())
        assert entries[0].title == "Войска КНДР item 0", name


def test_healthy_feeds_complete_in_a_run_full_of_bad_ones(hostile: Hostile, tmp_path: Path) -> None:
    healthy = [hostile.server.url(f"/healthy/{i}.xml") for i in range(2)]
    bad = {hostile.url(c.name): c for c in FEED_CASES}
    feeds = [FeedConfig(url=u) for u in [*bad, *healthy]]
    reports: list[dict[str, Any]] = []
    started = time.monotonic()
    rt = Runtime(hostile.settings, http=hostile.http, dry_run=True)
    summary, staged_entries = steps.poll_feeds(rt, feeds, on_report=reports.append)
    elapsed = time.monotonic() - started
    assert elapsed < 20
    by_url = {r["url"]: r for r in reports}
    assert len(by_url) == len(feeds)
    for url, case in bad.items():
        assert by_url[url]["error_class"] == case.expected, (case.name, by_url[url])
    staged = [e.model_dump() for e in staged_entries]
    for i, url in enumerate(healthy):
        assert by_url[url]["status"] == "ok" and by_url[url]["new_entries"] == 4
        assert sum(1 for e in staged if e["feed_url"] == url) == 4
        assert {e["title"] for e in staged if e["feed_url"] == url} == {f"Войска КНДР ok{i} {n}" for n in range(4)}
    expected_errors = sum(1 for c in bad.values() if c.expected)
    assert summary["errors"] == expected_errors and sum(summary["error_classes"].values()) == expected_errors
    _assert_silent_listeners(hostile)


def test_bad_scheme_links_in_a_feed_are_refused_at_fetch(hostile: Hostile) -> None:
    _, entries, _ = steps.poll_feed(hostile.http, hostile.policy, FeedConfig(url=hostile.url("bad_scheme_links")),
                                    FeedState())
    bad = [e for e in entries if not e.url.startswith("http")]
    assert len(bad) == 3
    reports: list[dict[str, Any]] = []
    got = steps.fetch_entries(Runtime(hostile.settings, http=hostile.http, dry_run=True), bad,
                              on_report=reports.append)
    assert not got.articles and dict(got.errors) == {"BlockedURL": 3}


def test_robots_txt_is_obeyed_and_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from newswatch.settings import Settings

    server = HostileServer().start()
    try:
        server.route("/robots.txt", reply(200, b"User-agent: *\nDisallow: /private/\n", "text/plain"))
        entries = [Entry.from_feed(url=server.route(f"/{kind}/story", reply(200, article_html())), title=kind,
                                   published=None, feed_url=None, feed_name=None) for kind in ("private", "public")]
        settings = make_settings()
        assert settings.fetch.respect_robots
        reports: list[dict[str, Any]] = []
        with Runtime(settings, dry_run=True) as rt:
            got = steps.fetch_entries(rt, entries, on_report=reports.append)
        assert dict(got.errors) == {"RobotsDisallowed": 1} and len(got.articles) == 1
        assert {r["url"]: r["error_class"] for r in reports} == {entries[0].url: "RobotsDisallowed",
                                                                 entries[1].url: None}
        assert server.hits.get("/private/story", 0) == 0

        monkeypatch.setenv("NEWSWATCH_FETCH__RESPECT_ROBOTS", "false")
        monkeypatch.setenv("NEWSWATCH_ALLOWED_NETWORKS", "127.0.0.1/32")
        relaxed = Settings()
        assert relaxed.fetch.respect_robots is False
        hits_before = server.hits.get("/robots.txt", 0)
        with Runtime(relaxed, dry_run=True) as rt:
            got = steps.fetch_entries(rt, entries)
        assert len(got.articles) == 2 and not got.errors
        assert server.hits.get("/robots.txt", 0) == hits_before
    finally:
        server.stop()


def test_crawl_delay_is_a_floor_for_the_host_gap() -> None:
    """robots.txt's Crawl-delay raises the per-host gap (here from 0 to 0.4 s): three pages of that host
    cannot all start within 0.8 s. A lower bound only, so a slow machine cannot make it flaky."""
    server = HostileServer().start()
    try:
        server.route("/robots.txt", reply(200, b"User-agent: *\nCrawl-delay: 0.4\nDisallow: /*.pdf$\n", "text/plain"))
        entries = [Entry.from_feed(url=server.route(f"/s/{i}", reply(200, article_html())), title=str(i),
                                   published=None, feed_url=None, feed_name=None) for i in range(3)]
        pdf = Entry.from_feed(url=server.url("/files/report.pdf"), title="pdf", published=None, feed_url=None,
                              feed_name=None)
        started = time.monotonic()
        with Runtime(make_settings(), dry_run=True) as rt:
            got = steps.fetch_entries(rt, [*entries, pdf])
        assert time.monotonic() - started >= 0.8
        assert len(got.articles) == 3 and dict(got.errors) == {"RobotsDisallowed": 1}  # the RFC 9309 wildcard
        assert server.hits.get("/files/report.pdf", 0) == 0
    finally:
        server.stop()
