"""The table of hostile cases: what the server does on a path, and the error class newswatch must record.

``expected=None`` means the document is odd but usable and must be ingested (a harmless bozo). A case's
``url`` overrides the server path when the link itself is the attack (bad schemes, refused addresses).
"""

from __future__ import annotations

import gzip
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.hostile.server import (
    MB,
    Behaviour,
    deflate_bomb,
    drip_body,
    drip_headers,
    never_answer,
    raw,
    redirect,
    repeat,
    reply,
    stream,
)


@dataclass(frozen=True)
class Env:
    """Addresses the behaviours need: the server, a canary on 127.0.0.1 and a listener on 127.0.0.2."""

    base: str
    canary: str  # http://127.0.0.1:P — must never receive a connection
    guarded: str  # http://127.0.0.2:P — outside allowed_networks, must never receive a connection
    guarded_port: int
    bombs: dict[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class Case:
    name: str
    kind: str  # "feed" (poll_feed) or "page" (fetch_and_extract)
    behaviour: Callable[[Env], Behaviour] | None
    expected: str | None
    url: Callable[[Env], str] | None = None
    max_seconds: float = 2.0
    max_peak_mb: float | None = None  # tracemalloc peak bound, for the huge-body cases
    min_entries: int = 0
    slow: bool = False

    @property
    def path(self) -> str:
        return f"/{self.kind}/{self.name}"


# ----------------------------------------------------------------------------------------------- bodies

RSS_HEAD = '<?xml version="1.0" encoding="{enc}"?>\n<rss version="2.0"><channel><title>{title}</title>' \
           "<link>http://127.0.0.1/</link>\n"


def rss(items: int = 3, *, enc: str = "utf-8", title: str = "Hostile feed", prefix: str = "item",
        link_base: str = "http://127.0.0.1:1/news/") -> str:
    body = [RSS_HEAD.format(enc=enc, title=title)]
    for i in range(items):
        body.append(f"<item><title>Войска КНДР {prefix} {i}</title><link>{link_base}{prefix}-{i}</link>"
                    f"<guid>{prefix}-{i}</guid><pubDate>Mon, 28 Oct 2024 10:{i % 60:02d}:00 GMT</pubDate></item>\n")
    body.append("</channel></rss>\n")
    return "".join(body)


def rss_bytes(items: int = 3, **kw: str) -> bytes:
    return rss(items, **kw).encode("utf-8")  # type: ignore[arg-type]


def bomb_feed(prolog: str = "") -> bytes:
    lol = ['<!ENTITY lol "lol">'] + [f'<!ENTITY lol{i} "{("&lol%s;" % (i - 1 or "")) * 10}">' for i in range(1, 10)]
    return (f'<?xml version="1.0"?>{prolog}<!DOCTYPE rss [{"".join(lol)}]>'
            '<rss version="2.0"><channel><title>&lol9;</title><item><title>x</title>'
            "<link>http://127.0.0.1:1/x</link></item></channel></rss>").encode()


def xxe_feed(system: str) -> bytes:
    return (f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "{system}">]>'
            '<rss version="2.0"><channel><title>&xxe;</title><item><title>&xxe;</title>'
            "<link>http://127.0.0.1:1/x</link></item></channel></rss>").encode()


ARTICLE_TEXT = (
    "North Korean soldiers have been deployed to the Kursk region, according to officials who spoke on "
    "Monday. The officials said the troops had been training in the Russian Far East for several weeks "
    "before they were moved west by train and by air. "
)


def article_html(title: str = "Troops moved to Kursk", charset: str = "utf-8", text: str = ARTICLE_TEXT) -> bytes:
    paras = "".join(f"<p>{text} Paragraph {i} adds detail number {i}.</p>" for i in range(6))
    return (f'<!doctype html><html lang="en"><head><meta charset="{charset}"><title>{title}</title></head>'
            f"<body><nav><a href='/'>Home</a></nav><article><h1>{title}</h1>{paras}</article>"
            "<footer>Copyright</footer></body></html>").encode(charset, errors="replace")


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(random.Random(1).randrange(256) for _ in range(4000))
BINARY = bytes(random.Random(2).randrange(256) for _ in range(8000))
HTML_PAGE = article_html()
TRUNCATED = rss_bytes(5)[: len(rss_bytes(5)) * 2 // 3]
MALFORMED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><<item></ti <<<& &&</channel>'
WRONG_CHARSET = rss(3, enc="us-ascii").encode("utf-8")  # declares ASCII, carries UTF-8 Cyrillic
UNDEFINED_ENTITY = rss(3).replace("<title>Hostile feed</title>", "<title>Hostile&nbsp;feed &copy; 2024</title>")
LATIN1_NO_CHARSET = rss(3).replace('encoding="utf-8"', "").replace("Войска КНДР", "Armée nord-coréenne")
ENTITY_BOMB_LATE = bomb_feed("<!--" + "x" * 9000 + "-->")
META_REFRESH = (b'<!doctype html><html><head><meta http-equiv="refresh" content="0; url=/elsewhere">'
                b"<title>Moved</title></head><body><p>Redirecting</p></body></html>")
BOILERPLATE = (b"<!doctype html><html><head><title>Home</title></head><body><nav><ul>"
               + b"".join(b"<li><a href='/s%d'>Section %d</a></li>" % (i, i) for i in range(30))
               + b"</ul></nav><footer>(c) 2024 All rights reserved</footer></body></html>")
CP1252_AS_UTF8 = article_html(text=ARTICLE_TEXT.replace("Monday", "Monday \u2014 \u201cquote\u201d caf\u00e9"),
                              charset="windows-1252").replace(b'charset="windows-1252"', b'charset="utf-8"')
XHTML_BOMB = (b'<?xml version="1.0"?><!DOCTYPE html [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;'
              b'&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;'
              b'&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">]><html><body><p>&e;&e;&e;</p></body></html>')

FEED = "application/rss+xml"
HTML = "text/html; charset=utf-8"


def _b(behaviour: Behaviour) -> Callable[[Env], Behaviour]:
    return lambda env: behaviour


# ----------------------------------------------------------------------------------------------- table

CASES: list[Case] = [
    # feed bodies that are not usable feeds
    Case("malformed_xml", "feed", _b(reply(200, MALFORMED, FEED)), "FeedSyntaxError"),
    Case("truncated_mid_item", "feed", _b(reply(200, TRUNCATED, FEED)), None, min_entries=2),
    Case("truncated_before_items", "feed", _b(reply(200, rss_bytes(0)[:90], FEED)), "FeedSyntaxError"),
    Case("html_served_as_feed", "feed", _b(reply(200, HTML_PAGE, FEED)), "NotAFeed"),
    Case("empty_body", "feed", _b(reply(200, b"", FEED)), "NotAFeed"),
    Case("whitespace_body", "feed", _b(reply(200, b" \r\n\t \n", FEED)), "NotAFeed"),
    Case("binary_body", "feed", _b(reply(200, BINARY, FEED)), "NotAFeed"),
    Case("pdf_as_feed", "feed", _b(reply(200, PDF, "application/pdf")), "UnsupportedContentType"),
    Case("image_as_feed", "feed", _b(reply(200, PNG, "image/png")), "UnsupportedContentType"),
    Case("video_as_feed", "feed", _b(reply(200, BINARY, "video/mp4")), "UnsupportedContentType"),
    Case("zip_as_feed", "feed", _b(reply(200, BINARY, "application/zip")), "UnsupportedContentType"),
    # for feeds the bytes decide, not the label: only clearly non-feed types are refused unread
    Case("html_labelled_html_as_feed", "feed", _b(reply(200, HTML_PAGE, HTML)), "NotAFeed"),
    Case("binary_as_octet_stream_feed", "feed", _b(reply(200, BINARY, "application/octet-stream")), "NotAFeed"),
    Case("feed_as_x_rss_xml", "feed", _b(reply(200, rss_bytes(3), "application/x-rss+xml")), None, min_entries=3),
    Case("feed_as_text_plain", "feed", _b(reply(200, rss_bytes(3), "text/plain; charset=utf-8")), None,
         min_entries=3),
    Case("feed_as_octet_stream", "feed", _b(reply(200, rss_bytes(3), "application/octet-stream")), None,
         min_entries=3),
    Case("feed_as_unknown_type", "feed", _b(reply(200, rss_bytes(3), "application/x-unknown")), None,
         min_entries=3),
    # HTTP status
    Case("status_404", "feed", _b(reply(404, b"gone", "text/plain")), "HTTPStatusError"),
    Case("status_410", "feed", _b(reply(410, b"", "text/plain")), "HTTPStatusError"),
    Case("status_500", "feed", _b(reply(500, b"<h1>oops</h1>")), "HTTPStatusError"),
    Case("status_502_empty", "feed", _b(reply(502, b"", None)), "HTTPStatusError"),
    Case("rate_limited_429", "feed", _b(reply(429, b"slow down", "text/plain", [("Retry-After", "120")])),
         "RateLimited"),
    Case("unavailable_503_date", "feed",
         _b(reply(503, b"", "text/plain", [("Retry-After", "Wed, 21 Oct 2099 07:28:00 GMT")])), "RateLimited"),
    # time
    Case("never_answers", "feed", _b(never_answer), "FetchTimeout", max_seconds=2.5, slow=True),
    Case("drips_body", "feed", _b(drip_body), "FetchTimeout", max_seconds=4.5, slow=True),
    Case("drips_headers", "feed", _b(drip_headers), "FetchTimeout", max_seconds=4.5, slow=True),
    # size
    Case("body_100mb_declared", "feed", _b(stream(repeat(b"<item>" * 10000, 100 * MB), declared=100 * MB)),
         "ResponseTooLarge", max_peak_mb=16),
    Case("body_100mb_until_close", "feed", _b(stream(repeat(b"<item>" * 10000, 100 * MB))),
         "ResponseTooLarge", max_peak_mb=16),
    Case("body_100mb_chunked", "feed", _b(stream(repeat(b"<item>" * 10000, 100 * MB), chunked=True)),
         "ResponseTooLarge", max_peak_mb=16),
    Case("gzip_bomb", "feed", lambda env: reply(200, env.bombs["gzip"], FEED, [("Content-Encoding", "gzip")]),
         "ResponseTooLarge", max_peak_mb=16),
    Case("gzip_bomb_no_length", "feed",
         lambda env: reply(200, env.bombs["gzip"], FEED, [("Content-Encoding", "gzip")], length=False),
         "ResponseTooLarge", max_peak_mb=16),
    Case("gzip_bomb_nested", "feed",
         lambda env: reply(200, env.bombs["nested"], FEED, [("Content-Encoding", "gzip, gzip")]),
         "ResponseTooLarge", max_peak_mb=16),
    Case("deflate_bomb", "feed",
         lambda env: reply(200, env.bombs["deflate"], FEED, [("Content-Encoding", "deflate")], length=False),
         "ResponseTooLarge", max_peak_mb=16),
    Case("gzip_header_plain_body", "feed", _b(reply(200, rss_bytes(2), FEED, [("Content-Encoding", "gzip")])),
         "ConnectError"),
    # redirects
    Case("redirect_loop", "feed", lambda env: redirect(f"{env.base}/feed/redirect_loop_b"), "TooManyRedirects"),
    Case("redirect_self", "feed", lambda env: redirect("/feed/redirect_self"), "TooManyRedirects"),
    Case("redirect_chain_10", "feed", lambda env: redirect(f"{env.base}/hop/1"), "TooManyRedirects"),
    Case("redirect_chain_4", "feed", lambda env: redirect(f"{env.base}/hop/7"), None, min_entries=3),
    Case("redirect_no_location", "feed", _b(redirect(None)), "HTTPStatusError"),
    Case("redirect_to_127_0_0_2", "feed", lambda env: redirect(env.guarded + "/feed.xml"), "BlockedAddress"),
    Case("redirect_to_decimal_127_0_0_2", "feed",
         lambda env: redirect(f"http://2130706434:{env.guarded_port}/feed.xml"), "BlockedAddress"),
    Case("redirect_to_metadata", "feed", _b(redirect("http://169.254.169.254/latest/meta-data/")),
         "BlockedAddress"),
    Case("redirect_to_file", "feed", _b(redirect("file:///etc/passwd")), "BlockedURL"),
    Case("feed_url_on_127_0_0_2", "feed", None, "BlockedAddress", url=lambda env: env.guarded + "/feed.xml"),
    # broken HTTP
    Case("garbage_status_line", "feed", _b(raw(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")), "ConnectError"),
    Case("closes_without_answer", "feed", _b(raw(b"")), "ConnectError"),
    Case("body_shorter_than_declared", "feed",
         _b(raw(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: 5000\r\n\r\n<rss>")),
         "ConnectError"),
    Case("huge_header", "feed", _b(raw(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 200000 + b"\r\n\r\n")), "ConnectError"),
    # encodings and harmless bozo: must be ingested
    Case("charset_mislabelled", "feed", _b(reply(200, WRONG_CHARSET, "application/rss+xml; charset=us-ascii")),
         None, min_entries=3),
    Case("charset_missing_latin1", "feed",
         _b(reply(200, LATIN1_NO_CHARSET.encode("latin-1"), "application/xml")), None, min_entries=3),
    Case("undefined_entity", "feed", _b(reply(200, UNDEFINED_ENTITY.encode(), FEED)), None, min_entries=3),
    Case("utf16_with_bom", "feed", _b(reply(200, rss(3, enc="utf-16").encode("utf-16"), "text/xml")), None,
         min_entries=3),
    Case("utf16_without_bom", "feed",
         _b(reply(200, rss(3, enc="utf-16").encode("utf-16-le"), "text/xml")), None, min_entries=3),
    # (a bound against a blow-up such as quadratic work per entry, not a speed figure, which is bench_poll's:
    # a few seconds on a quiet machine, 18 s at load 5 on 2 cores beside a million-article benchmark)
    Case("entries_10000", "feed", _b(reply(200, rss_bytes(10000), FEED)), None, min_entries=10000,
         max_seconds=40.0, slow=True),
    # entities
    Case("billion_laughs", "feed", _b(reply(200, bomb_feed(), FEED)), "UnsafeFeed"),
    Case("billion_laughs_after_padding", "feed", _b(reply(200, ENTITY_BOMB_LATE, FEED)), "UnsafeFeed"),
    Case("billion_laughs_utf16", "feed", _b(reply(200, bomb_feed().decode().encode("utf-16"), "text/xml")),
         "UnsafeFeed"),
    Case("xxe_file", "feed", _b(reply(200, xxe_feed("file:///etc/passwd"), FEED)), "UnsafeFeed"),
    Case("xxe_http_loopback", "feed", lambda env: reply(200, xxe_feed(env.canary + "/xxe"), FEED), "UnsafeFeed"),
    Case("external_dtd_loopback", "feed", lambda env: reply(200, rss(2).replace(
        "<rss", f'<!DOCTYPE rss SYSTEM "{env.canary}/rss.dtd"><rss', 1).encode(), FEED), None, min_entries=2),
    Case("bad_scheme_links", "feed", _b(reply(200, rss(1).replace("</channel>", "".join(
        f"<item><title>bad {i}</title><link>{link}</link></item>" for i, link in enumerate(
            ("javascript:alert(1)", "data:text/html,<h1>x</h1>", "file:///etc/passwd"))) + "</channel>").encode(),
        FEED)), None, min_entries=1),
    # pages
    Case("healthy_page", "page", _b(reply(200, HTML_PAGE)), None),
    Case("pdf_page", "page", _b(reply(200, PDF, "application/pdf")), "UnsupportedContentType"),
    Case("image_page", "page", _b(reply(200, PNG, "image/png")), "UnsupportedContentType"),
    Case("pdf_labelled_html", "page", _b(reply(200, PDF, HTML)), "NotHTML"),
    Case("image_without_content_type", "page", _b(reply(200, PNG, None)), "NotHTML"),
    Case("plain_text_page", "page", _b(reply(200, b"Just some words, no markup. " * 20, "text/plain")), "NotHTML"),
    Case("meta_refresh_page", "page", _b(reply(200, META_REFRESH)), "NoArticleBody"),
    Case("empty_html_page", "page", _b(reply(200, b"<!doctype html><html><body></body></html>")), "NoArticleBody"),
    Case("boilerplate_only_page", "page", _b(reply(200, BOILERPLATE)), "NoArticleBody"),
    Case("entity_bomb_xhtml_page", "page", _b(reply(200, XHTML_BOMB, "application/xhtml+xml")), "NoArticleBody"),
    Case("wrong_charset_page", "page", _b(reply(200, CP1252_AS_UTF8)), None),
    Case("page_500", "page", _b(reply(500, b"")), "HTTPStatusError"),
    Case("page_429", "page", _b(reply(429, b"", None, [("Retry-After", "5")])), "RateLimited"),
    Case("page_never_answers", "page", _b(never_answer), "FetchTimeout", max_seconds=2.5, slow=True),
    Case("page_gzip_bomb", "page",
         lambda env: reply(200, env.bombs["gzip"], HTML, [("Content-Encoding", "gzip")], length=False),
         "ResponseTooLarge", max_peak_mb=16),
    Case("page_100mb", "page", _b(stream(repeat(b"<p>spam</p>" * 6000, 100 * MB), HTML)), "ResponseTooLarge",
         max_peak_mb=16),
    Case("page_link_127_0_0_2", "page", None, "BlockedAddress", url=lambda env: env.guarded + "/article"),
    Case("page_redirect_to_127_0_0_2", "page", lambda env: redirect(env.guarded + "/article", 301),
         "BlockedAddress"),
    Case("page_link_javascript", "page", None, "BlockedURL", url=lambda env: "javascript:alert(document.cookie)"),
    Case("page_link_data", "page", None, "BlockedURL", url=lambda env: "data:text/html;base64,PGgxPng8L2gxPg=="),
    Case("page_link_file", "page", None, "BlockedURL", url=lambda env: "file:///etc/passwd"),
]

def _hop(i: int) -> Callable[[Env], Behaviour]:
    return lambda env: redirect(f"{env.base}/hop/{i + 1}")


# extra routes the behaviours above point at
EXTRA_ROUTES: dict[str, Callable[[Env], Behaviour]] = {
    "/feed/redirect_loop_b": lambda env: redirect(f"{env.base}/feed/redirect_loop"),
    **{f"/hop/{i}": _hop(i) for i in range(1, 10)},
    "/hop/10": _b(reply(200, rss_bytes(3), FEED)),
    **{f"/healthy/{i}.xml": _b(reply(200, rss_bytes(4, prefix=f"ok{i}"), FEED)) for i in range(2)},
}


def make_bombs() -> dict[str, bytes]:
    """Compressed bodies: each a few hundred KB on the wire, hundreds of MB (or far more) decoded."""
    gz = deflate_bomb(256 * MB, wbits=31)
    return {"gzip": gz, "nested": gzip.compress(gz, 9), "deflate": deflate_bomb(256 * MB, wbits=15)}


FEED_CASES = [c for c in CASES if c.kind == "feed"]
PAGE_CASES = [c for c in CASES if c.kind == "page"]
