"""Load the sample site's outlets, feeds and articles from the YAML files under ``content/``.

Content is data so that adding an article means adding one YAML file, not touching code. Loading
validates what the renderer relies on (known outlet and edition, unique paths under the outlet's prefix,
a level out of core/related/none) and fails loudly: a broken sample site should stop a test run, not
produce a quietly wrong answer key.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

CONTENT_DIR = Path(__file__).parent / "content"
LEVELS = ("core", "related", "none")


@dataclass(frozen=True)
class Comment:
    author: str
    text: str
    ago: str


@dataclass(frozen=True)
class Edition:
    """The chrome of one outlet in one language: names, navigation and furniture texts."""

    lang: str
    site_name: str
    strings: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.strings[key]


@dataclass(frozen=True)
class Site:
    """One outlet; ``name`` is its stable name in the public API, editions carry localised chrome."""

    key: str
    name: str
    prefix: str
    editions: dict[str, Edition]
    default_lang: str
    timezone_label: dict[str, str]


@dataclass(frozen=True)
class Feed:
    key: str
    site: str
    path: str
    format: str  # "rss" or "atom"
    name: str
    lang: str
    categories: tuple[str, ...] = ()

    def includes(self, article: Article) -> bool:
        if article.site != self.site or article.lang != self.lang:
            return False
        return not self.categories or article.category in self.categories


@dataclass(frozen=True)
class Article:
    path: str
    site: str
    lang: str
    title: str
    standfirst: str
    published: datetime
    updated: datetime | None
    author: str
    category: str
    level: str
    story: str
    body: str
    levels: tuple[tuple[str, str], ...] = ()  # expected levels for other topics than the default one
    layout: str = "article"
    meta_date: bool = True
    tracking: bool = False
    tags: tuple[str, ...] = ()
    image_caption: str | None = None
    comments: tuple[Comment, ...] = field(default_factory=tuple)
    source_file: str = ""

    @property
    def modified(self) -> datetime:
        return self.updated or self.published


@dataclass(frozen=True)
class Content:
    sites: dict[str, Site]
    feeds: tuple[Feed, ...]
    articles: tuple[Article, ...]

    def site_feeds(self, site: str) -> list[Feed]:
        return [f for f in self.feeds if f.site == site]

    def feed_articles(self, feed: Feed) -> list[Article]:
        """Newest first, as a real feed lists them."""
        chosen = [a for a in self.articles if feed.includes(a)]
        return sorted(chosen, key=lambda a: (a.published, a.path), reverse=True)

    def site_articles(self, site: str) -> list[Article]:
        return sorted((a for a in self.articles if a.site == site), key=lambda a: a.published, reverse=True)


def _parse_time(value: Any, where: str) -> datetime:
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        raise ValueError(f"{where}: timestamp {value!r} needs a UTC offset")
    return parsed


def _load_comments(
    raw: list[dict[str, str]] | None, pool: list[dict[str, str]], seed: str
) -> tuple[Comment, ...]:
    """Article comments, or three drawn from the outlet's pool (seeded by path so pages are stable)."""
    if not raw:
        raw = random.Random(seed).sample(pool, k=min(3, len(pool)))
    return tuple(Comment(author=c["author"], text=c["text"], ago=c.get("ago", "2h")) for c in raw)


def _load_sites(raw: dict[str, Any]) -> dict[str, Site]:
    sites = {}
    for key, spec in raw["sites"].items():
        editions = {
            lang: Edition(lang=lang, site_name=strings["site_name"], strings=strings)
            for lang, strings in spec["editions"].items()
        }
        sites[key] = Site(
            key=key,
            name=spec["name"],
            prefix=spec["prefix"],
            editions=editions,
            default_lang=spec["default_lang"],
            timezone_label=spec.get("timezone_label", {}),
        )
    return sites


def _load_article(file: Path, sites: dict[str, Site]) -> Article:
    raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    where = str(file.relative_to(CONTENT_DIR))
    site = sites.get(raw["site"])
    if site is None:
        raise ValueError(f"{where}: unknown site {raw['site']!r}")
    lang = raw.get("lang", site.default_lang)
    if lang not in site.editions:
        raise ValueError(f"{where}: site {site.key} has no {lang!r} edition")
    path = raw["path"]
    if not path.startswith(site.prefix):
        raise ValueError(f"{where}: path {path} is outside {site.prefix}")
    if raw["level"] not in LEVELS:
        raise ValueError(f"{where}: level must be one of {LEVELS}")
    updated = raw.get("updated")
    return Article(
        path=path,
        site=site.key,
        lang=lang,
        title=raw["title"].strip(),
        standfirst=raw["standfirst"].strip(),
        published=_parse_time(raw["published"], where),
        updated=_parse_time(updated, where) if updated else None,
        author=raw["author"],
        category=raw["category"],
        level=raw["level"],
        story=raw.get("story", path),
        body=raw["body"].strip(),
        levels=tuple(sorted((raw.get("levels") or {}).items())),
        layout=raw.get("layout", "article"),
        meta_date=raw.get("meta_date", True),
        tracking=raw.get("tracking", False),
        tags=tuple(raw.get("tags", ())),
        image_caption=raw.get("image_caption"),
        comments=_load_comments(raw.get("comments"), site.editions[lang]["comment_pool"], path),
        source_file=where,
    )


@functools.cache
def load_content() -> Content:
    """Parse and validate everything under ``content/`` once per process."""
    raw = yaml.safe_load((CONTENT_DIR / "sites.yaml").read_text(encoding="utf-8"))
    sites = _load_sites(raw)
    feeds = tuple(
        Feed(
            key=key,
            site=spec["site"],
            path=spec["path"],
            format=spec["format"],
            name=spec["name"],
            lang=spec["lang"],
            categories=tuple(spec.get("categories", ())),
        )
        for key, spec in raw["feeds"].items()
    )
    articles = tuple(_load_article(f, sites) for f in sorted((CONTENT_DIR / "articles").rglob("*.yaml")))
    paths = [a.path for a in articles]
    duplicates = {p for p in paths if paths.count(p) > 1}
    if duplicates:
        raise ValueError(f"duplicate article paths: {sorted(duplicates)}")
    orphans = [a.path for a in articles if not any(f.includes(a) for f in feeds)]
    if orphans:
        raise ValueError(f"articles in no feed: {orphans}")
    empty = [f.path for f in feeds if not any(f.includes(a) for a in articles)]
    if empty:
        raise ValueError(f"feeds without articles: {empty}")
    return Content(sites=sites, feeds=feeds, articles=articles)


def feed_urls(base_url: str) -> list[dict[str, str]]:
    """Every feed the site serves, as absolute URLs under ``base_url`` (e.g. ``http://127.0.0.1:8765``)."""
    base = base_url.rstrip("/")
    content = load_content()
    return [
        {
            "url": base + feed.path,
            "name": feed.name,
            "site": content.sites[feed.site].name,
            "lang": feed.lang,
        }
        for feed in content.feeds
    ]


def expected_articles() -> list[dict[str, Any]]:
    """The answer key: one dict per article page, oldest first.

    ``expected_level`` is how a correct tagger classifies the page for the default topic
    (dprk_russia_troops) and ``expected_levels`` for every shipped topic (``none`` unless the content says
    otherwise); ``story`` is shared by pages carrying the same event (a wire piece run by two outlets, a
    report and its rewrite in another language) and is otherwise the page's path.
    """
    content = load_content()
    return [
        {
            "path": a.path,
            "site": content.sites[a.site].name,
            "lang": a.lang,
            "title": a.title,
            "published": a.published.date().isoformat(),
            "expected_level": a.level,
            "expected_levels": {"dprk_russia_troops": a.level, "iran_drones_russia": "none", **dict(a.levels)},
            "story": a.story,
            "category": a.category,
        }
        for a in sorted(content.articles, key=lambda a: (a.published, a.path))
    ]
