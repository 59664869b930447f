"""Feed parsing: bytes in, entries out, never an exception.

feedparser is handed the raw bytes (it sniffs the encoding from the BOM, the XML declaration and the HTTP
content type, so UTF-16 and mislabelled documents work). Like feedparser's own ``bozo`` flag, a problem is
reported on the result: ``error`` is set only when the document is unusable; harmless bozo reasons (a
wrong charset label, an undefined entity in one item) are kept in ``warning`` and the entries still count.
Documents that declare entities (anywhere, not only in the first kilobytes) are refused before parsing, so
entity bombs and external entities are never expanded or fetched. ``text/xml`` without a charset is read
by RFC 7303 (the BOM and the XML declaration decide), not RFC 3023's US-ASCII default, so UTF-16 feeds
served as ``text/xml`` parse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser
import lxml.etree
import lxml.html

from extractors.errors import FeedError, FeedSyntaxError, NotAFeed, UnsafeFeed

# feedparser would otherwise try to "fix" relative links through network lookups of DTDs in some
# configurations; we also never let it resolve URLs itself.
feedparser.RESOLVE_RELATIVE_URIS = True
feedparser.SANITIZE_HTML = True

_HARMLESS_BOZO = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
_DOCTYPE = re.compile(rb"<!DOCTYPE[^>\[]*\[", re.IGNORECASE)
_TEXT_BYTES = bytes(range(0x20, 0x7F)) + bytes(range(0x80, 0x100)) + b"\t\n\r\f\x0b\x1b"
_HTML_START = re.compile(rb"^\s*(<!--.*?-->\s*)*(<!doctype\s+html|<html)", re.IGNORECASE | re.DOTALL)


@dataclass
class FeedEntry:
    """One item of a feed, as the feed describes it (the page itself is fetched separately)."""

    url: str
    title: str = ""
    published: datetime | None = None
    guid: str | None = None
    summary: str = ""


@dataclass
class FeedResult:
    """Outcome of parsing; ``error`` set means the document gave no usable entries."""

    entries: list[FeedEntry] = field(default_factory=list)
    title: str = ""
    link: str | None = None
    version: str = ""
    error: FeedError | None = None
    warning: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _decoded_head(content: bytes, size: int = 4096) -> bytes:
    """The start of the document as ASCII-compatible bytes, even when it is UTF-16/32 encoded."""
    head = content[:size]
    for bom, codec in ((b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"),
                       (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if head.startswith(bom):
            return head.decode(codec, errors="ignore").encode("utf-8", errors="ignore")
    if len(head) > 1 and (head[0] == 0 or head[1] == 0):  # UTF-16 without BOM
        codec = "utf-16-be" if head[0] == 0 else "utf-16-le"
        return head.decode(codec, errors="ignore").encode("utf-8", errors="ignore")
    return head


def _looks_binary(head: bytes) -> bool:
    """Control characters (forbidden in XML) in more than 3 % of the decoded start: an image, a PDF, noise."""
    controls = len(head.translate(None, _TEXT_BYTES))
    return controls > max(4, len(head) * 3 // 100)


def _parser_content_type(content_type: str | None) -> str | None:
    """The content type handed to feedparser: ``text/xml`` without charset becomes ``application/xml``."""
    if not content_type:
        return None
    mime, _, params = content_type.partition(";")
    if mime.strip().lower() in ("text/xml", "text/xml-external-parsed-entity") and "charset" not in params.lower():
        return "application/xml"
    return content_type


def _struct_to_datetime(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        year, month, day, hour, minute, second = (int(v) for v in value[:6])
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def parse_feed(content: bytes, *, base_url: str = "", content_type: str | None = None) -> FeedResult:
    """Parse feed bytes into entries. Never raises: problems are returned in ``error``/``warning``."""
    if not content or not content.strip():
        return FeedResult(error=NotAFeed("empty body"))
    head = _decoded_head(content)
    whole = _decoded_head(content, len(content))  # a DOCTYPE may hide behind kilobytes of comments
    if _ENTITY_DECL.search(whole) or _DOCTYPE.search(whole):
        return FeedResult(error=UnsafeFeed("document declares entities or an internal DTD subset"))
    if (b"\x00" in content[:512] and not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<")) or _looks_binary(head):
        return FeedResult(error=NotAFeed("binary content"))
    headers = {"content-location": base_url} if base_url else {}
    parser_type = _parser_content_type(content_type)
    if parser_type:
        headers["content-type"] = parser_type
    try:
        parsed = feedparser.parse(content, response_headers=headers, sanitize_html=True)
    except Exception as exc:  # feedparser is robust, but a parser must not take the run down
        return FeedResult(error=FeedSyntaxError(f"{type(exc).__name__}: {exc}"))
    entries = [e for e in (_entry(raw, base_url) for raw in parsed.entries) if e is not None]
    bozo = str(parsed.get("bozo_exception", "")) if parsed.get("bozo") else None
    result = FeedResult(
        entries=entries,
        title=str(parsed.feed.get("title", "")),
        link=parsed.feed.get("link"),
        version=str(parsed.get("version", "")),
        warning=bozo,
    )
    if entries:
        return result
    if parsed.get("version") and bozo and not isinstance(parsed.get("bozo_exception"), _HARMLESS_BOZO):
        result.error = FeedSyntaxError(f"malformed feed with no entries: {bozo}")
    elif not parsed.get("version"):
        if _HTML_START.match(head):
            result.error = NotAFeed("HTML page, not a feed")
        elif bozo:
            result.error = FeedSyntaxError(f"not a well-formed feed: {bozo}")
        else:
            result.error = NotAFeed("no feed markup found")
    return result


def _entry(raw: Any, base_url: str) -> FeedEntry | None:
    link = raw.get("link") or ""
    if not link:
        for candidate in raw.get("links", []):
            if candidate.get("rel", "alternate") == "alternate" and candidate.get("href"):
                link = candidate["href"]
                break
    if not link and str(raw.get("id", "")).startswith(("http://", "https://")):
        link = raw["id"]
    if not link:
        return None
    published = _struct_to_datetime(raw.get("published_parsed") or raw.get("updated_parsed"))
    return FeedEntry(
        url=link.strip(),
        title=str(raw.get("title", "")).strip(),
        published=published,
        guid=raw.get("id"),
        summary=str(raw.get("summary", ""))[:2000],
    )


FEED_LINK_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json", "application/rdf+xml")


def discover_feeds(html: str, base_url: str) -> list[dict[str, str]]:
    """Feeds a page advertises with ``<link rel="alternate" type="application/rss+xml" href=...>``."""
    try:
        doc = lxml.html.fromstring(html, base_url=base_url)
    except (lxml.etree.ParserError, ValueError):
        return []
    found: dict[str, dict[str, str]] = {}
    for link in doc.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        ftype = (link.get("type") or "").lower().strip()
        href = (link.get("href") or "").strip()
        if "alternate" in rel and ftype in FEED_LINK_TYPES and href:
            url = urljoin(base_url, href)
            found.setdefault(url, {"url": url, "type": ftype, "title": link.get("title") or ""})
    return list(found.values())
