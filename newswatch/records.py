"""The records the pipeline stages and stores, each built in one place, as typed models.

=============  ============================================  =========================================
record         built by                                      stored as
=============  ============================================  =========================================
``Entry``      ``Entry.from_feed`` (a poll)                  staged ``entries`` (and a feed's backlog)
``Failure``    ``Failure.of`` (a fetch that failed)          staged ``failures``
``Article``    ``Article.from_page`` / ``Article.from_input``  staged ``articles``; index ``articles``
``Page``       ``Page.of`` (raw HTML of a fetched article)   index ``pages``
``FeedState``  ``feedstate`` transitions                     index ``feeds``
``FeedHealth`` ``FeedHealth`` (one fetch batch of a feed)    index ``feedhealth``
=============  ============================================  =========================================

``tests/unit/test_records.py`` checks that the fields of each stored record are exactly the properties of
its Elasticsearch mapping (``resources/es/*.json``, ``dynamic: strict``), so a field added on one side only
fails a test, not a bulk request in production.
"""

from __future__ import annotations

import base64
import builtins
import gzip
import hashlib
import json
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, computed_field

from newswatch.encoder import packed

Level = Literal["core", "related", "none"]


def doc_id(url: str) -> str:
    """Stable document id for a canonical URL or a feed URL (40 hex chars)."""
    return hashlib.sha1(url.encode("utf-8")).hexdigest()


def canonical(url: str) -> str:
    from extractors.article import canonical_url

    try:
        return canonical_url(url)
    except Exception:  # a link courlan cannot normalise keeps its own form
        return url


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore")

    def doc(self) -> dict[str, Any]:
        """The JSON document as stored (fields excluded from storage left out)."""
        return self.model_dump(mode="json")


class Entry(_Record):
    """A feed item that is not indexed yet: what a fetch needs to get its page."""

    id: str  # doc_id of the canonical form of ``url``
    url: str
    canonical_url: str
    title: str | None = None
    published: str | None = None
    feed_url: str | None = None
    feed_name: str | None = None
    first_poll: bool = False  # listed by its feed's first successful poll: the feed's history, not news

    @classmethod
    def from_feed(cls, *, url: str, title: str | None, published: str | None, feed_url: str | None,
                  feed_name: str | None, first_poll: bool = False) -> Entry:
        canon = canonical(url)
        return cls(id=doc_id(canon), url=url, canonical_url=canon, title=title, published=published,
                   feed_url=feed_url, feed_name=feed_name, first_poll=first_poll)


class Failure(Entry):
    """An entry whose page could not be fetched or extracted, with the error class."""

    error_class: str
    error: str = ""

    @classmethod
    def of(cls, entry: Entry, error_class: str, error: str) -> Failure:
        return cls(**entry.model_dump(), error_class=error_class, error=error[:300])


class Article(_Record):
    """An extracted article; the tagging, story and indexing fields are filled by the index step."""

    id: str
    url: str
    fetched_url: str | None = None
    link_ids: list[str] = Field(default_factory=list)  # ids of the feed links that led here (poll checks them)
    feed_url: str | None = None
    first_poll: bool = False  # from its feed's first poll (alerts send such history as one backlog digest)
    source: str
    host: str
    title: str = ""
    text: str = ""
    # title and text, each word in its normal form (``textnorm.search_text``; filled by the index step)
    search_text: list[str] = Field(default_factory=list)
    description: str | None = None
    author: str | None = None
    published: str
    date_source: str = "fetched"
    lang: str | None = None
    fetched_at: str
    chars: int = 0
    # tagging (``steps.indexing.tag_fields``; the top-level fields are the primary topic's result)
    topic: str | None = None
    level: Level = "none"
    score: float = 0.0
    matches: list[dict[str, Any]] = Field(default_factory=list)
    matched_terms: list[str] = Field(default_factory=list)
    concepts: list[str] = Field(default_factory=list)
    evidence: list[str] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list)
    topics: dict[str, dict[str, Any]] = Field(default_factory=dict)  # per topic: level, score, evidence …
    topic_levels: list[str] = Field(default_factory=list)  # "name:level" of every topic that matched
    entities: list[dict[str, Any]] = Field(default_factory=list)
    entity_names: list[str] = Field(default_factory=list)
    claims: list[dict[str, Any]] = Field(default_factory=list)
    claim_max: int | None = None
    # stories (``newswatch.stories``) and indexing
    minhash: str = ""
    minhash_bands: list[str] = Field(default_factory=list)
    embedding: list[float] | None = None  # title + lead in the multilingual encoder's space (``encoder``)
    numbers: list[int] = Field(default_factory=list)  # counts the article reports (``stories.numbers_of``)
    story_id: str | None = None
    indexed_at: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def claims_json(self) -> str | None:
        """What the timeline's claims chart shows of this article — its date as written, title, URL and claims
        — as one compact JSON string (None without claims), stored in doc values: the claims search reads
        it there instead of each article's ~19 kB ``_source`` (``timeline.claims_body``). Derived, so it never
        disagrees with ``claims``; ``ignore_above`` in the mapping drops it from doc values when too long."""
        if not self.claims:
            return None
        return json.dumps({"published": self.published, "title": self.title, "url": self.url,
                           "claims": self.claims}, ensure_ascii=False, separators=(",", ":"))

    @computed_field  # type: ignore[prop-decorator]
    @property
    def embedding_q(self) -> str | None:
        """``embedding`` packed to 688 characters (``encoder.pack``) and stored in doc values: the story
        candidate search reads every article of a batch's time window from there in one search, instead of
        a kNN search per article (``stories.es_candidates``). Derived, so it never disagrees with ``embedding``."""
        return packed(self.embedding)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def minhash_q(self) -> str | None:
        """``minhash`` as 256 bytes, base64, in doc values: the story candidate search scores the members of
        the candidate stories from doc values alone (``stories._members``), never parsing their ``_source``."""
        return base64.b64encode(bytes.fromhex(self.minhash)).decode("ascii") if self.minhash else None

    @classmethod
    def from_page(cls, entry: Entry, extracted: Any, *, fetched_at: str) -> Article:
        """The article of a fetched page (``extracted``: an ``extractors.article.ExtractedArticle``).

        The page's date wins, except that a page giving only the day the feed also gives takes the feed's
        time of day (a date alone would read as midnight: hours off for freshness and latency)."""
        art_id = doc_id(extracted.url)
        page, feed = extracted.published, entry.published
        if page and feed and len(str(page)) == 10 and str(feed)[:10] == str(page):
            published, source = str(feed), "feed"
        elif page:
            published, source = str(page), "page"
        else:
            published, source = (feed, "feed") if feed else (fetched_at, "fetched")
        return cls(
            id=art_id, url=extracted.url, fetched_url=entry.url,
            link_ids=sorted({entry.id} - {art_id}), feed_url=entry.feed_url, first_poll=entry.first_poll,
            source=extracted.sitename or entry.feed_name or urlsplit(extracted.url).netloc,
            host=urlsplit(extracted.url).netloc, title=extracted.title or entry.title or "",
            text=extracted.text, description=extracted.description, author=extracted.author,
            published=published, date_source=source,
            lang=extracted.lang, fetched_at=fetched_at, chars=len(extracted.text),
        )

    @classmethod
    def from_input(cls, item: dict[str, Any], *, fetched_at: str) -> Article:
        """An article given as JSON (``newswatch index --file``: ``url, title, text, published, source,
        lang?``, or a full record); missing fields are derived as a fetch would."""
        if not isinstance(item, dict) or not isinstance(item.get("url"), str) or not item["url"]:
            raise ValueError("an article needs a 'url'")
        url = canonical(item["url"])
        host = urlsplit(url).netloc
        text = str(item.get("text") or "")
        base = {"fetched_url": item["url"], "source": host, "host": host, "published": fetched_at,
                "date_source": "given" if item.get("published") else "fetched", "fetched_at": fetched_at}
        return cls.model_validate({**base, **{k: v for k, v in item.items() if v is not None},
                                   "id": item.get("id") or doc_id(url), "url": url, "chars": len(text)})


class Page(_Record):
    """The raw HTML of an article page, gzipped, for re-extraction without refetching."""

    id: str = Field(exclude=True)
    url: str
    fetched_url: str | None = None
    feed_url: str | None = None
    fetched_at: str
    content_type: str | None = None
    html_gz: str
    bytes: int

    @classmethod
    def of(cls, article: Article, html: builtins.bytes, content_type: str | None) -> Page:
        return cls(id=article.id, url=article.url, fetched_url=article.fetched_url, feed_url=article.feed_url,
                   fetched_at=article.fetched_at, content_type=content_type, bytes=len(html),
                   html_gz=base64.b64encode(gzip.compress(html, compresslevel=6)).decode("ascii"))

    def html(self) -> builtins.bytes:
        return gzip.decompress(base64.b64decode(self.html_gz))


class FeedState(_Record):
    """A feed's polling state and health; owned by polls (``newswatch.feedstate``)."""

    url: str | None = None
    name: str | None = None
    site: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None
    last_polled: str | None = None
    last_success: str | None = None
    last_changed: str | None = None
    last_unconditional: str | None = None
    next_due: str | None = None
    interval_minutes: float | None = None
    consecutive_failures: int = 0
    last_error_class: str | None = None
    last_error: str | None = None
    last_status: str | None = None
    polls: int = 0
    not_modified: int = 0
    entries_seen: int = 0
    new_entries_total: int = 0
    items_per_day: float | None = None
    # entries past NEWSWATCH_FETCH__MAX_ARTICLES_PER_FEED, kept for the next poll (never dropped)
    backlog: list[dict[str, Any]] = Field(default_factory=list)
    updated_at: str | None = None


class FeedHealth(_Record):
    """Extraction outcome of one fetch batch for one feed; id ``<feed id>:<batch>``, so a retried fetch
    task overwrites its own document instead of counting twice. ``feeds status`` sums them per feed."""

    feed_url: str
    batch: str
    at: str
    ok: int = 0
    failed: int = 0
    chars: int = 0
