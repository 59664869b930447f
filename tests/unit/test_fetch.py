"""Fetch policy: the SSRF decision function on addresses (no traffic) and HTTP behaviour via MockTransport."""

from __future__ import annotations

import gzip

import httpx
import pytest

from extractors.errors import (
    BlockedAddress,
    BlockedURL,
    HTTPStatusError,
    RateLimited,
    ResponseTooLarge,
    TooManyRedirects,
    UnsupportedContentType,
)
from extractors.fetch import FetchPolicy, check_url, fetch, is_address_allowed, make_client, parse_networks


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
    client, pol = client_for(lambda r: httpx.Response(200, content=b"%PDF-1.4", headers={"Content-Type": "application/pdf"}))
    with pytest.raises(UnsupportedContentType):
        fetch(client, "http://93.184.216.34/x.pdf", pol, accept=("text/html",), check_addresses=False)
