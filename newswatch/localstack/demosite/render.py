"""Render the sample site's pages and feeds from content with the Jinja2 templates.

Everything is rendered against a ``base`` URL (scheme and host the client used) so that canonical links
and feed item links are absolute and correct whether the site is reached as ``127.0.0.1:8765`` or from a
container as ``host.docker.internal:8765``. ``route`` maps a request path to a ``Resource``; it never
looks at the query string, so tracking-parameter variants of an article URL serve the same page.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

import jinja2
from markupsafe import Markup

from newswatch.localstack.demosite.content import Article, Content, Feed, Site, load_content

HTML = "text/html; charset=utf-8"
RSS = "application/rss+xml; charset=utf-8"
ATOM = "application/atom+xml; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
TRACKING_QUERY = "?utm_source=rss&utm_medium=feed"

ROBOTS_TXT = """\
# Sample news site for newswatch. Crawl politely.
User-agent: *
Disallow: /private/
Disallow: /herald/search
Allow: /

User-agent: BadBot
Disallow: /
"""

MONTHS = {
    "en": [
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ],
    "ru": [
        "января", "февраля", "марта", "апреля", "мая", "июня",
        "июля", "августа", "сентября", "октября", "ноября", "декабря",
    ],
}  # fmt: skip


@dataclass(frozen=True)
class Resource:
    """A rendered response body with the validators conditional requests are checked against."""

    body: bytes
    content_type: str
    last_modified: datetime
    etag: str
    cache_control: str = "public, max-age=300"


def format_visible_date(moment: datetime, lang: str, tz_label: str) -> str:
    """The date as a reader of that language sees it in the page (not the machine-readable form)."""
    if lang == "ko":
        text = f"{moment:%Y.%m.%d %H:%M}"
    else:
        month = MONTHS.get(lang, MONTHS["en"])[moment.month - 1]
        text = f"{moment.day} {month} {moment.year}, {moment:%H:%M}"
    return f"{text} {tz_label}".strip()


def _join_lines(block: str) -> str:
    """One block's lines as a single line; continuation lines of a ``> `` quote lose their marker."""
    lines = [line.strip() for line in block.strip().splitlines()]
    if lines and lines[0].startswith("> "):
        lines = [lines[0]] + [line.removeprefix("> ") for line in lines[1:]]
    return " ".join(lines)


def render_blocks(text: str) -> list[Markup]:
    """Turn the light markup in content files into HTML blocks.

    Blank lines separate blocks; ``## `` starts a subheading and ``> `` a pull quote. Everything else is a
    paragraph. Text is escaped, so content files cannot inject markup. Templates get a list so they can
    put furniture (a newsletter box, a "read also" link) between paragraphs, as real CMSs do.
    """
    blocks = []
    for raw in re.split(r"\n\s*\n", text.strip()):
        block = _join_lines(raw)
        if block.startswith("## "):
            blocks.append(Markup("<h2>{}</h2>").format(block[3:]))
        elif block.startswith("> "):
            blocks.append(Markup("<blockquote><p>{}</p></blockquote>").format(block[2:]))
        else:
            blocks.append(Markup("<p>{}</p>").format(block))
    return blocks


def furniture_slot(blocks: list[Markup]) -> int:
    """How many blocks to show before in-body furniture: mid-article, between two plain paragraphs."""
    middle = len(blocks) // 2
    for index in sorted(range(1, len(blocks)), key=lambda i: abs(i - middle)):
        if blocks[index - 1].startswith("<p>") and blocks[index].startswith("<p>"):
            return index
    return len(blocks)


def body_paragraphs(text: str) -> list[str]:
    """Plain paragraphs, for layouts that mark text up with ``<br>`` instead of ``<p>``."""
    return [_join_lines(b).removeprefix("## ").removeprefix("> ") for b in re.split(r"\n\s*\n", text.strip())]


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _rfc822(moment: datetime) -> str:
    return format_datetime(moment)


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("newswatch.localstack.demosite", "templates"),
        autoescape=jinja2.select_autoescape(["html", "xml", "j2"], default_for_string=True, default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["rfc3339"] = _rfc3339
    env.filters["rfc822"] = _rfc822
    env.filters["paragraphs"] = body_paragraphs
    return env


def _resource(text: str, content_type: str, last_modified: datetime) -> Resource:
    body = text.encode("utf-8")
    return Resource(
        body=body,
        content_type=content_type,
        last_modified=last_modified.astimezone(UTC),
        etag='"' + hashlib.sha256(body).hexdigest()[:20] + '"',
    )


def _related(content: Content, article: Article, limit: int = 4) -> list[Article]:
    """Same-outlet, same-language pages, same category first: what a CMS's "related" box shows."""
    others = [
        a for a in content.site_articles(article.site) if a.lang == article.lang and a.path != article.path
    ]
    others.sort(key=lambda a: (a.category != article.category, abs((a.published - article.published).days)))
    return others[:limit]


def _json_ld(base: str, site: Site, article: Article) -> Markup:
    data = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": article.title,
        "datePublished": _rfc3339(article.published),
        "dateModified": _rfc3339(article.modified),
        "author": {"@type": "Person", "name": article.author},
        "publisher": {"@type": "Organization", "name": site.editions[article.lang].site_name},
        "mainEntityOfPage": base + article.path,
        "inLanguage": article.lang,
    }
    # </ must not appear inside a script element.
    return Markup(json.dumps(data, ensure_ascii=False).replace("</", "<\\/"))


def render_article(content: Content, base: str, article: Article) -> Resource:
    site = content.sites[article.site]
    edition = site.editions[article.lang]
    template = _environment().get_template(f"{article.layout}.html")
    blocks = render_blocks(article.body)
    html = template.render(
        blocks=blocks,
        slot=furniture_slot(blocks),
        base=base,
        site=site,
        ed=edition,
        lang=article.lang,
        feeds=content.site_feeds(site.key),
        a=article,
        canonical=base + article.path,
        visible_date=format_visible_date(
            article.published, article.lang, site.timezone_label.get(article.lang, "")
        ),
        visible_updated=(
            format_visible_date(article.updated, article.lang, site.timezone_label.get(article.lang, ""))
            if article.updated
            else None
        ),
        related=_related(content, article),
        json_ld=_json_ld(base, site, article) if article.meta_date else None,
    )
    return _resource(html, HTML, article.modified)


def render_home(content: Content, base: str, site: Site) -> Resource:
    articles = content.site_articles(site.key)
    template = _environment().get_template("home.html")
    html = template.render(
        base=base,
        site=site,
        ed=site.editions[site.default_lang],
        lang=site.default_lang,
        feeds=content.site_feeds(site.key),
        articles=articles,
        editions=site.editions,
    )
    return _resource(html, HTML, max(a.modified for a in articles))


def render_index(content: Content, base: str) -> Resource:
    html = _environment().get_template("index.html").render(base=base, content=content)
    return _resource(html, HTML, max(a.modified for a in content.articles))


def render_feed(content: Content, base: str, feed: Feed) -> Resource:
    articles = content.feed_articles(feed)
    site = content.sites[feed.site]
    template = _environment().get_template("rss.xml.j2" if feed.format == "rss" else "atom.xml.j2")
    xml = template.render(
        base=base,
        feed=feed,
        site=site,
        ed=site.editions[feed.lang],
        articles=articles,
        updated=max(a.modified for a in articles),
        tracking=TRACKING_QUERY,
    )
    return _resource(xml, RSS if feed.format == "rss" else ATOM, max(a.modified for a in articles))


def route(base: str, path: str, live: tuple[Article, ...] = ()) -> Resource | None:
    """The resource at ``path`` rendered for ``base``, or None when the site has no such page.

    ``live`` are the articles published at run time (``LiveStore.articles()``): served, listed in feeds and
    on home pages like the content articles. Renders are cached per (base, path, live) snapshot.
    """
    return _route_cached(base, path, live)


@functools.lru_cache(maxsize=8)
def with_live(live: tuple[Article, ...]) -> Content:
    """The site's content with the live articles added (the content itself when there are none)."""
    content = load_content()
    return dataclasses.replace(content, articles=content.articles + live) if live else content


@functools.lru_cache(maxsize=512)
def _route_cached(base: str, path: str, live: tuple[Article, ...] = ()) -> Resource | None:
    content = with_live(live)
    if path == "/robots.txt":
        return _resource(ROBOTS_TXT, TEXT, datetime(2024, 9, 1, tzinfo=UTC))
    if path == "/":
        return render_index(content, base)
    for site in content.sites.values():
        if path == site.prefix:
            return render_home(content, base, site)
    for feed in content.feeds:
        if path == feed.path:
            return render_feed(content, base, feed)
    for article in content.articles:
        if path == article.path:
            return render_article(content, base, article)
    return None
