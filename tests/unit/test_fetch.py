"""Fetch policy: the SSRF decision function on addresses (no traffic) and HTTP behaviour via MockTransport."""

from __future__ import annotations

import gzip
import ipaddress
import random
import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from extractors.errors import (
    BlockedAddress,
    BlockedURL,
    HTTPStatusError,
    NotAFeed,
    RateLimited,
    ResponseTooLarge,
    TooManyRedirects,
    UnsupportedContentType,
)
from extractors.feeds import parse_feed
from extractors.fetch import (
    FEED_CONTENT_TYPES,
    PAGE_CONTENT_TYPES,
    FetchPolicy,
    GuardedBackend,
    check_url,
    fetch,
    is_address_allowed,
    make_client,
    parse_networks,
    resolve_allowed,
)

try:  # new in this change; imported softly so the rest of this module still runs against older code
    from extractors.fetch import FEED_REFUSED_TYPES
except ImportError:  # pragma: no cover
    FEED_REFUSED_TYPES = ()

RSS = (b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
       b"<link>https://example.org/</link><item><title>One</title><link>https://example.org/a</link>"
       b"</item></channel></rss>")


@pytest.mark.parametrize("address", [
    "10.0.0.1", "172.16.5.4", "192.168.1.1", "127.0.0.1", "127.0.0.2", "169.254.169.254", "100.64.0.1",
    "0.0.0.0", "::1", "fe80::1", "fd00:ec2::254", "::ffff:127.0.0.1", "224.0.0.1", "240.0.0.1",
])
def test_refused_addresses(address: str) -> None:
    assert not is_address_allowed(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700::1111"])
def test_public_addresses_allowed(address: str) -> None:
    assert is_address_allowed(address)


def test_allowed_networks_open_exactly_their_range() -> None:
    nets = parse_networks("127.0.0.1/32, 10.1.0.0/16")
    assert is_address_allowed("127.0.0.1", nets)
    assert not is_address_allowed("127.0.0.2", nets)
    assert is_address_allowed("10.1.200.3", nets)
    assert not is_address_allowed("10.2.0.1", nets)
    assert not is_address_allowed("169.254.169.254", nets)


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,hi", "file:///etc/passwd",
                                 "ftp://example.org/x", "http:///nohost", "//example.org/x",
                                 "http://user:pw@example.org/"])
def test_non_http_links_are_refused(url: str) -> None:
    with pytest.raises(BlockedURL):
        check_url(url)


def client_for(handler, **policy) -> tuple[httpx.Client, FetchPolicy]:
    pol = FetchPolicy(**policy)
    return make_client(pol, transport=httpx.MockTransport(handler)), pol


def test_conditional_get_sends_validators_and_reports_304() -> None:
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.update(request.headers)
        return httpx.Response(304)

    client, pol = client_for(handler)
    res = fetch(client, "http://93.184.216.34/feed", pol, etag='"v1"', last_modified="Mon, 01 Jan 2024 00:00:00 GMT",
                check_addresses=False)
    assert res.not_modified and res.content == b""
    assert seen["if-none-match"] == '"v1"' and "newswatch" in seen["user-agent"]


def test_retry_after_is_read_on_429() -> None:
    client, pol = client_for(lambda r: httpx.Response(429, headers={"Retry-After": "120"}))
    with pytest.raises(RateLimited) as info:
        fetch(client, "http://93.184.216.34/feed", pol, check_addresses=False)
    assert info.value.retry_after == 120 and info.value.error_class == "RateLimited"


def test_404_is_an_http_status_error() -> None:
    client, pol = client_for(lambda r: httpx.Response(404))
    with pytest.raises(HTTPStatusError) as info:
        fetch(client, "http://93.184.216.34/x", pol, check_addresses=False)
    assert info.value.status == 404


def test_gzip_bomb_stops_at_the_decompressed_cap() -> None:
    bomb = gzip.compress(b"\0" * (20 * 1024 * 1024))
    client, pol = client_for(lambda r: httpx.Response(200, content=bomb, headers={"Content-Encoding": "gzip",
                                                                                 "Content-Type": "text/html"}),
                             max_bytes=1024 * 1024)
    assert len(bomb) < 1024 * 1024
    with pytest.raises(ResponseTooLarge):
        fetch(client, "http://93.184.216.34/x", pol, check_addresses=False)


def test_redirect_loop_and_limit() -> None:
    client, pol = client_for(lambda r: httpx.Response(302, headers={"Location": "/a" if r.url.path == "/b" else "/b"}))
    with pytest.raises(TooManyRedirects):
        fetch(client, "http://93.184.216.34/a", pol, check_addresses=False)


def test_redirect_to_refused_scheme_is_blocked() -> None:
    client, pol = client_for(lambda r: httpx.Response(302, headers={"Location": "file:///etc/passwd"}))
    with pytest.raises(BlockedURL):
        fetch(client, "http://93.184.216.34/a", pol, check_addresses=False)


def test_redirect_to_private_address_is_blocked_without_connecting() -> None:
    client, pol = client_for(lambda r: httpx.Response(302, headers={"Location": "http://169.254.169.254/latest/"}))
    with pytest.raises(BlockedAddress):
        fetch(client, "http://93.184.216.34/a", pol, check_addresses=True)


def test_content_type_check() -> None:
    client, pol = client_for(
        lambda r: httpx.Response(200, content=b"%PDF-1.4", headers={"Content-Type": "application/pdf"}))
    with pytest.raises(UnsupportedContentType):
        fetch(client, "http://93.184.216.34/x.pdf", pol, accept=("text/html",), check_addresses=False)


# --------------------------------------------------------------------- allowed networks scoped to a port


def test_port_scoped_entry_opens_only_that_port() -> None:
    nets = parse_networks("127.0.0.1:8765")
    assert is_address_allowed("127.0.0.1", nets, port=8765)
    assert not is_address_allowed("127.0.0.1", nets, port=9200)  # Elasticsearch on the same host stays shut
    assert not is_address_allowed("127.0.0.1", nets)  # port unknown: a port-scoped entry does not apply
    assert not is_address_allowed("127.0.0.2", nets, port=8765)


def test_plain_cidr_entry_opens_every_port() -> None:
    nets = parse_networks("127.0.0.0/8")
    assert is_address_allowed("127.0.0.1", nets, port=8765)
    assert is_address_allowed("127.0.0.1", nets, port=9200)
    assert is_address_allowed("127.0.0.1", nets)


@pytest.mark.parametrize(("spec", "address", "port", "allowed"), [
    ("10.1.0.0/16:443", "10.1.2.3", 443, True),
    ("10.1.0.0/16:443", "10.1.2.3", 80, False),
    ("[::1]:8080", "::1", 8080, True),
    ("[::1]:8080", "::1", 8081, False),
    ("[fd00::/8]:8080", "fd12::1", 8080, True),
    ("::1", "::1", 1234, True),  # IPv6 without brackets: a network, every port
    ("127.0.0.1:8765", "::ffff:127.0.0.1", 8765, True),  # IPv4-mapped IPv6 is the IPv4 address
    (" 127.0.0.1:8765 , 10.0.0.0/8 ", "10.9.9.9", 22, True),
    (["127.0.0.1:8765", "127.0.0.1:8766"], "127.0.0.1", 8766, True),
])
def test_allowed_network_forms(spec: str | list[str], address: str, port: int, allowed: bool) -> None:
    assert is_address_allowed(address, parse_networks(spec), port=port) is allowed


def test_plain_ip_networks_are_still_accepted_as_allowed_networks() -> None:
    nets = (ipaddress.ip_network("127.0.0.1/32"),)  # what parse_networks returned before ports existed
    assert is_address_allowed("127.0.0.1", nets, port=9200)
    assert FetchPolicy(allowed_networks=nets).allowed_networks == nets


@pytest.mark.parametrize("entry", ["127.0.0.1:99999", "127.0.0.1:0", "127.0.0.1:", "127.0.0.1:http",
                                   "[::1]:", "[::1", "localhost:8765", "10.0.0.0/33", "not-a-network"])
def test_invalid_entries_name_the_entry(entry: str) -> None:
    with pytest.raises(ValueError, match=rf"allowed network entry {re.escape(repr(entry))}"):
        parse_networks(f"10.0.0.0/8, {entry}")


def test_guard_checks_the_port_of_every_hop_without_connecting() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(302, headers={"Location": "http://127.0.0.1:9200/_cat/indices"})

    client, pol = client_for(handler, allowed_networks=parse_networks("127.0.0.1:8765"))
    with pytest.raises(BlockedAddress):
        fetch(client, "http://127.0.0.1:9200/", pol)  # the first hop
    assert seen == []
    with pytest.raises(BlockedAddress):
        fetch(client, "http://127.0.0.1:8765/feed.xml", pol)  # a redirect to another port
    assert seen == ["http://127.0.0.1:8765/feed.xml"]


def test_socket_guard_checks_the_port() -> None:
    nets = parse_networks("127.0.0.1:8765")
    assert resolve_allowed("127.0.0.1", 8765, nets) == ["127.0.0.1"]  # numeric host: no DNS, no connection
    with pytest.raises(BlockedAddress):
        resolve_allowed("127.0.0.1", 9200, nets)
    with pytest.raises(BlockedAddress):
        GuardedBackend(nets).connect_tcp("127.0.0.1", 9200)  # refused before any socket is opened


# ------------------------------------------------------------------------ feeds: the bytes decide


def serve(body: bytes, ctype: str, read: list[bool] | None = None) -> Callable[[httpx.Request], httpx.Response]:
    """A response whose body stream records (in ``read``) whether anyone iterated it."""

    class Body(httpx.SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            if read is not None:
                read.append(True)
            yield body

    return lambda request: httpx.Response(200, headers={"Content-Type": ctype}, stream=Body())


@pytest.mark.parametrize("ctype", ["application/x-rss+xml", "text/plain", "text/plain; charset=utf-8",
                                   "application/octet-stream", "binary/octet-stream", "text/rss+xml",
                                   "application/x-download"])
@pytest.mark.parametrize("how", ["feed_types", "refuse"])
def test_feeds_under_any_label_are_fetched_and_parse(ctype: str, how: str) -> None:
    client, pol = client_for(serve(RSS, ctype))
    kw: dict[str, Any] = {"accept": FEED_CONTENT_TYPES} if how == "feed_types" else {"refuse": FEED_REFUSED_TYPES}
    res = fetch(client, "http://93.184.216.34/feed", pol, check_addresses=False, **kw)
    parsed = parse_feed(res.content, base_url=res.final_url, content_type=res.content_type)
    assert parsed.ok, parsed.error
    assert [e.url for e in parsed.entries] == ["https://example.org/a"]


@pytest.mark.parametrize("ctype", ["image/png", "application/pdf", "video/mp4", "audio/mpeg", "font/woff2",
                                   "application/zip", "application/gzip", "Image/PNG; charset=binary"])
@pytest.mark.parametrize("how", ["feed_types", "refuse"])
def test_clearly_non_feed_types_are_refused_before_the_body_is_read(ctype: str, how: str) -> None:
    read: list[bool] = []
    client, pol = client_for(serve(b"\x89PNG\r\n\x1a\n" + bytes(range(256)), ctype, read))
    kw: dict[str, Any] = {"accept": FEED_CONTENT_TYPES} if how == "feed_types" else {"refuse": FEED_REFUSED_TYPES}
    with pytest.raises(UnsupportedContentType):
        fetch(client, "http://93.184.216.34/feed", pol, check_addresses=False, **kw)
    assert read == []


@pytest.mark.parametrize(("body", "ctype"), [
    (b"<!doctype html><html><head><title>x</title></head><body><p>hi</p></body></html>", "text/html"),
    (b"<!doctype html><html><head><title>x</title></head><body><p>hi</p></body></html>", "application/rss+xml"),
    (random.Random(2).randbytes(4000), "application/octet-stream"),
    (random.Random(3).randbytes(4000), "application/x-whatever"),
    (b"\x00" * 4000, ""),
])
def test_what_is_let_through_but_not_a_feed_is_not_a_feed(body: bytes, ctype: str) -> None:
    client, pol = client_for(serve(body, ctype))
    res = fetch(client, "http://93.184.216.34/feed", pol, accept=FEED_CONTENT_TYPES, check_addresses=False)
    assert isinstance(parse_feed(res.content, content_type=res.content_type).error, NotAFeed)


def test_feed_accept_header_asks_for_feeds_first() -> None:
    seen: dict[str, str] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.update(request.headers)
        return httpx.Response(200, content=RSS, headers={"Content-Type": "application/rss+xml"})

    client, pol = client_for(handler)
    fetch(client, "http://93.184.216.34/feed", pol, accept=FEED_CONTENT_TYPES, check_addresses=False)
    accept = [part.strip() for part in seen["accept"].split(",")]
    assert accept[0] == "application/rss+xml" and "application/atom+xml" in accept and accept[-1] == "*/*;q=0.1"
    assert "text/html" not in accept and "image/png" not in accept
    assert not any("json" in a for a in accept)  # feedparser 6 cannot parse JSON Feed: do not ask for it


@pytest.mark.parametrize("ctype", ["application/octet-stream", "application/x-rss+xml", "image/png"])
def test_pages_keep_their_accept_list(ctype: str) -> None:
    read: list[bool] = []
    client, pol = client_for(serve(b"<html><body>x</body></html>", ctype, read))
    with pytest.raises(UnsupportedContentType):
        fetch(client, "http://93.184.216.34/story", pol, accept=PAGE_CONTENT_TYPES, check_addresses=False)
    assert read == []


def test_refuse_applies_on_top_of_an_accept_list() -> None:
    client, pol = client_for(serve(b"<html></html>", "text/html"))
    with pytest.raises(UnsupportedContentType):
        fetch(client, "http://93.184.216.34/x", pol, accept=("text/",), refuse=("text/html",), check_addresses=False)
