from __future__ import annotations

import pytest

from extractors.errors import FeedSyntaxError, NotAFeed, UnsafeFeed
from extractors.feeds import discover_feeds, parse_feed

RSS = """<?xml version="1.0" encoding="{enc}"?>
<rss version="2.0"><channel><title>Тест</title><link>https://example.org/</link>
<item><title>Северокорейские военные в Курской области</title><link>https://example.org/a?utm_source=rss</link>
<pubDate>Mon, 28 Oct 2024 10:00:00 GMT</pubDate></item>
<item><title>Second</title><link>/b</link></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>
<entry><title>One</title><link rel="alternate" href="https://example.org/1"/><id>urn:1</id>
<updated>2024-11-01T00:00:00Z</updated></entry></feed>"""


def test_rss_utf8_entries_and_relative_links() -> None:
    res = parse_feed(RSS.format(enc="utf-8").encode(), base_url="https://example.org/feed")
    assert res.ok and len(res.entries) == 2
    assert res.entries[0].published is not None and res.entries[0].published.year == 2024
    assert res.entries[1].url == "https://example.org/b"


@pytest.mark.parametrize("enc", ["utf-16", "windows-1251"])
def test_other_encodings_from_bytes(enc: str) -> None:
    res = parse_feed(RSS.format(enc=enc).encode(enc), base_url="https://example.org/feed")
    assert res.ok, res.error
    assert res.entries[0].title.startswith("Северокорейские")


def test_atom() -> None:
    res = parse_feed(ATOM)
    assert res.ok and res.entries[0].url == "https://example.org/1"


def test_html_is_not_a_feed() -> None:
    res = parse_feed(b"<!doctype html><html><head><title>x</title></head><body>hi</body></html>")
    assert isinstance(res.error, NotAFeed)


def test_entity_bomb_refused() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><rss><channel><title>&lol2;</title></channel></rss>'
    assert isinstance(parse_feed(bomb).error, UnsafeFeed)


def test_external_entity_refused() -> None:
    xxe = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><rss><channel><title>&x;</title></channel></rss>'
    assert isinstance(parse_feed(xxe).error, UnsafeFeed)


@pytest.mark.parametrize("body", [b"", b"   ", b"\x00\x01\x02\x03binary"])
def test_empty_and_binary(body: bytes) -> None:
    assert isinstance(parse_feed(body).error, NotAFeed)


def test_truncated_xml_keeps_recovered_entries_or_classifies() -> None:
    full = RSS.format(enc="utf-8").encode()
    res = parse_feed(full[: full.index(b"<item><title>Second")], base_url="https://example.org/")
    assert res.ok and len(res.entries) == 1 and res.warning  # harmless bozo: still ingested
    res = parse_feed(b"<?xml version='1.0'?><rss><chan")
    assert isinstance(res.error, FeedSyntaxError | NotAFeed)


def test_discover_feeds() -> None:
    html = ('<html><head><link rel="alternate" type="application/rss+xml" title="News" href="/rss.xml">'
            "<link rel='alternate' type='application/atom+xml' href='https://x.org/atom'>"
            '<link rel="stylesheet" href="/s.css"></head></html>')
    found = discover_feeds(html, "https://x.org/page")
    assert [f["url"] for f in found] == ["https://x.org/rss.xml", "https://x.org/atom"]
