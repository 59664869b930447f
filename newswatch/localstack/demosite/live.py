"""Live articles: stories published into the running sample site at a known moment, dated "now".

The content under ``content/articles/`` is fixed and old (2024-2025); alerting needs articles that appear
while the pipeline watches, so that immediate emails, follow-ups and latency can be exercised. A live
article is built from the same fields as a content article (``Article``), checked against the same outlets,
editions and feeds, and served exactly like one: at the top of every feed that ``Feed.includes`` it, on the
outlet's home page, and as a page of its own. ``POST /_live/publish`` (``server.py``) adds one, either from
fields or from a canned template in ``content/live/templates.yaml``; ``GET /_live`` lists them and
``POST /_live/reset`` clears them.

A ``LiveStore`` keeps them in memory and, given a state folder (``NEWSWATCH_DEMOSITE_LIVE_DIR`` or the
``live_dir`` argument of ``make_server``), also as one YAML file each (``live-00001.yaml`` …), so a
restarted site serves them again. Live articles never enter ``expected_articles()``: the answer key stays
the fixed content.
"""

from __future__ import annotations

import functools
import os
import re
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

import yaml

from newswatch.localstack.demosite.content import (
    CONTENT_DIR,
    LEVELS,
    Article,
    Content,
    Site,
    _load_comments,
    load_content,
)
from newswatch.localstack.demosite.render import MONTHS

LIVE_DIR_ENV = "NEWSWATCH_DEMOSITE_LIVE_DIR"
TEMPLATES_FILE = CONTENT_DIR / "live" / "templates.yaml"
FILE_PATTERN = re.compile(r"live-(\d+)\.yaml")

# What a publish request may carry. ``template`` names a canned article whose fields the others override.
FIELDS = frozenset(
    {
        "template", "site", "lang", "title", "standfirst", "body", "path", "slug", "category", "author",
        "published", "tags", "story", "level", "image_caption",
    }
)  # fmt: skip
MAX_TITLE = 300
MAX_TEXT = 100_000
_PATH = re.compile(r"/[A-Za-z0-9._~%/-]*")
_SLUG_CHARS = re.compile(r"[^a-z0-9]+")


class LiveError(ValueError):
    """A publish request the site refuses; ``status`` is the HTTP status to answer with (400, 409)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Templates:
    """The canned live articles (by name) and the defaults every live article falls back on."""

    defaults: dict[str, Any]
    articles: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class LiveArticle:
    """One published live article: its place in publication order, the article, and the template used."""

    seq: int
    article: Article
    template: str | None = None

    def describe(self, base: str) -> dict[str, Any]:
        """The JSON the endpoints answer with; ``url`` is absolute under ``base`` (the host the client used)."""
        a = self.article
        return {
            "url": base.rstrip("/") + a.path,
            "path": a.path,
            "published": a.published.isoformat(),
            "site": a.site,
            "lang": a.lang,
            "title": a.title,
            "template": self.template,
            "story": a.story,
            "level": a.level or None,
        }

    def record(self) -> dict[str, Any]:
        """What the state folder keeps: the article's fields, shaped like a content article file."""
        a = self.article
        return {
            "template": self.template,
            "site": a.site,
            "lang": a.lang,
            "path": a.path,
            "title": a.title,
            "standfirst": a.standfirst,
            "published": a.published.isoformat(),
            "author": a.author,
            "category": a.category,
            "story": a.story,
            "level": a.level or None,
            "tags": list(a.tags),
            "image_caption": a.image_caption,
            "body": a.body + "\n",
        }


@functools.cache
def load_templates() -> Templates:
    """Parse ``content/live/templates.yaml`` once per process."""
    raw = yaml.safe_load(TEMPLATES_FILE.read_text(encoding="utf-8"))
    return Templates(defaults=dict(raw.get("defaults") or {}), articles=dict(raw["templates"]))


def template_names() -> list[str]:
    """Names of the canned live articles, as ``{"template": NAME}`` accepts them."""
    return sorted(load_templates().articles)


def localised_day(moment: datetime, lang: str) -> str:
    """A day as a news text in that language names it: en ``15 March``, ru ``15 марта``, ko ``15일``."""
    if lang == "ko":
        return f"{moment.day}일"
    return f"{moment.day} {MONTHS.get(lang, MONTHS['en'])[moment.month - 1]}"


def fill_dates(text: str, moment: datetime, lang: str) -> str:
    """Replace the ``{date}`` and ``{day_before}`` placeholders of a template text."""
    return text.replace("{date}", localised_day(moment, lang)).replace(
        "{day_before}", localised_day(moment - timedelta(days=1), lang)
    )


def slugify(text: str, limit: int = 80) -> str:
    """Lower-case ASCII words joined by hyphens (empty for a title without Latin letters or digits)."""
    return _SLUG_CHARS.sub("-", text.lower()).strip("-")[:limit].rstrip("-")


def _text(fields: Mapping[str, Any], key: str, *, required: bool = False, default: str = "") -> str:
    value = fields.get(key)
    if value is None:
        if required:
            raise LiveError(f"{key!r} is required")
        return default
    if not isinstance(value, str):
        raise LiveError(f"{key!r} must be a string")
    value = value.strip()
    if required and not value:
        raise LiveError(f"{key!r} must not be empty")
    if len(value) > (MAX_TITLE if key == "title" else MAX_TEXT):
        raise LiveError(f"{key!r} is too long")
    return value


def _body(value: Any) -> str:
    """``body`` as the content files write it: a string, or a list of paragraphs joined by blank lines."""
    if isinstance(value, list):
        if not value or not all(isinstance(p, str) for p in value):
            raise LiveError("'body' must be a non-empty list of paragraph strings, or a string")
        text = "\n\n".join(p.strip() for p in value if p.strip())
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise LiveError("'body' is required: a list of paragraph strings, or a string")
    if not text:
        raise LiveError("'body' must not be empty")
    if len(text) > MAX_TEXT:
        raise LiveError("'body' is too long")
    return text


def _site_offset(site: Site, defaults: Mapping[str, Any]) -> tzinfo:
    """The UTC offset the outlet writes its times with (``defaults.utc_offset``; UTC when not listed)."""
    offset = str((defaults.get("utc_offset") or {}).get(site.key, "+00:00"))
    try:
        return datetime.strptime(offset, "%z").tzinfo or UTC
    except ValueError:
        raise ValueError(f"{TEMPLATES_FILE}: utc_offset of {site.key} is not an offset: {offset!r}") from None


def _published(value: Any, site: Site, defaults: Mapping[str, Any], now: datetime | None) -> datetime:
    """The given time (ISO 8601 with an offset), or now to the second, at the outlet's UTC offset."""
    if value is None:
        moment = (now or datetime.now(UTC)).replace(microsecond=0)
        return moment.astimezone(_site_offset(site, defaults))
    try:
        parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        raise LiveError(f"'published' is not an ISO 8601 time: {value!r}") from None
    if parsed.tzinfo is None:
        raise LiveError(f"'published' needs a UTC offset: {value!r}")
    return parsed


def _tags(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise LiveError("'tags' must be a list of strings")
    return tuple(t.strip() for t in value if t.strip())


def _check_path(path: str, site: Site, content: Content, taken: Collection[str]) -> str:
    if not _PATH.fullmatch(path) or "//" in path or "/../" in path or path.endswith("/.."):
        raise LiveError(f"'path' must be a plain URL path (letters, digits, . _ ~ % - /): {path!r}")
    if not path.startswith(site.prefix) or path == site.prefix:
        raise LiveError(f"'path' must be under the outlet's prefix {site.prefix}: {path!r}")
    if any(path == feed.path for feed in content.feeds):
        raise LiveError(f"'path' is a feed of the site: {path!r}", status=409)
    if path in taken:
        raise LiveError(f"an article is already served at {path}", status=409)
    return path


def _new_path(site: Site, slug: str, published: datetime, taken: Collection[str]) -> str:
    """``<prefix>live/YYYY/MM/DD/<slug>-HHMMSS``, with ``-2``, ``-3`` … if that is taken."""
    stem = f"{site.prefix}live/{published:%Y/%m/%d}/{slug or 'story'}-{published:%H%M%S}"
    path, n = stem, 1
    while path in taken:
        n += 1
        path = f"{stem}-{n}"
    return path


def build_article(
    fields: Mapping[str, Any],
    content: Content | None = None,
    taken: Collection[str] = (),
    now: datetime | None = None,
) -> tuple[Article, str | None]:
    """Validate a publish request and build its article; returns it with the template name used (if any).

    ``taken`` holds the paths already served (content and live articles). Raises ``LiveError`` (400, or 409
    for a path already taken) with a message meant for the client.
    """
    if not isinstance(fields, Mapping):
        raise LiveError("the request body must be a JSON object")
    unknown = sorted(set(fields) - FIELDS)
    if unknown:
        raise LiveError(f"unknown field(s) {unknown}; known: {sorted(FIELDS)}")
    content = content or load_content()
    templates = load_templates()
    defaults = templates.defaults

    name = fields.get("template")
    base: dict[str, Any] = {}
    if name is not None:
        if not isinstance(name, str) or name not in templates.articles:
            raise LiveError(f"unknown template {name!r}; known: {template_names()}")
        base = dict(templates.articles[name])
    merged = {**base, **{k: v for k, v in fields.items() if k != "template"}}

    site_key = merged.get("site")
    site = content.sites.get(site_key) if isinstance(site_key, str) else None
    if site is None:
        raise LiveError(f"unknown site {site_key!r}; known: {sorted(content.sites)}")
    lang = merged.get("lang") or site.default_lang
    if not isinstance(lang, str) or lang not in site.editions:
        raise LiveError(f"site {site.key!r} has no {lang!r} edition; editions: {sorted(site.editions)}")
    edition = site.editions[lang]
    published = _published(merged.get("published"), site, defaults, now)

    # Template texts get their dates filled in; texts the request gives are taken as they are.
    for key in ("title", "standfirst", "body", "image_caption"):
        if key in base and key not in fields and isinstance(base[key], str):
            merged[key] = fill_dates(base[key], published, lang)

    title = _text(merged, "title", required=True)
    body = _body(merged.get("body"))
    categories = edition["categories"]
    category = _text(merged, "category", default=str(defaults.get("category", "world")))
    if category not in categories:
        raise LiveError(f"edition {site.key}/{lang} has no category {category!r}; known: {sorted(categories)}")
    level = _text(merged, "level")
    if level and level not in LEVELS:
        raise LiveError(f"'level' must be one of {LEVELS}")
    author = _text(merged, "author", default=str((defaults.get("author") or {}).get(lang, "Staff")))

    taken = set(taken) | {a.path for a in content.articles}
    if merged.get("path") is not None:
        path = _check_path(_text(merged, "path", required=True), site, content, taken)
    else:
        path = _new_path(site, slugify(_text(merged, "slug") or title), published, taken)

    article = Article(
        path=path,
        site=site.key,
        lang=lang,
        title=title,
        standfirst=_text(merged, "standfirst"),
        published=published,
        updated=None,
        author=author,
        category=category,
        level=level,
        story=_text(merged, "story") or path,
        body=body,
        tags=_tags(merged.get("tags")),
        image_caption=_text(merged, "image_caption") or None,
        comments=_load_comments(None, edition["comment_pool"], path),
        source_file=f"live/{name}" if name else "live",
    )
    if not any(feed.includes(article) for feed in content.feeds):
        raise LiveError(f"no feed of {site.key} lists {lang} articles in category {category!r}")
    return article, name


def state_dir_from_env() -> Path | None:
    """The state folder ``NEWSWATCH_DEMOSITE_LIVE_DIR`` names, if set and not empty."""
    value = os.environ.get(LIVE_DIR_ENV, "").strip()
    return Path(value) if value else None


class LiveStore:
    """The live articles of one running site, in publication order; thread-safe.

    With ``state_dir`` every article is also written there as ``live-NNNNN.yaml`` (atomically) and the
    folder's files are loaded on start, so a restarted site serves the same live articles; ``reset``
    deletes those files. A broken file stops the start with its name: a state folder is ours to keep.
    """

    def __init__(self, state_dir: str | Path | None = None, content: Content | None = None) -> None:
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self._content = content or load_content()
        self._lock = threading.Lock()
        self._entries: list[LiveArticle] = []
        self._snapshot: tuple[Article, ...] = ()
        if self.state_dir is not None:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            self._load()

    def _load(self) -> None:
        assert self.state_dir is not None
        files = sorted(
            (int(m.group(1)), f)
            for f in self.state_dir.iterdir()
            if (m := FILE_PATTERN.fullmatch(f.name)) and f.is_file()
        )
        for seq, file in files:
            try:
                record = yaml.safe_load(file.read_text(encoding="utf-8"))
                if not isinstance(record, dict):
                    raise LiveError("not a YAML mapping")
                template = record.pop("template", None)
                taken = {e.article.path for e in self._entries}
                article, _ = build_article(record, self._content, taken)
            except (LiveError, yaml.YAMLError, OSError) as exc:
                raise ValueError(f"{file}: cannot load live article: {exc}") from exc
            self._entries.append(LiveArticle(seq=seq, article=article, template=template))
        self._snapshot = tuple(e.article for e in self._entries)

    def articles(self) -> tuple[Article, ...]:
        """The live articles as of now (an immutable snapshot: render and cache against it)."""
        return self._snapshot

    def entries(self) -> list[LiveArticle]:
        with self._lock:
            return list(self._entries)

    def publish(self, fields: Mapping[str, Any], now: datetime | None = None) -> LiveArticle:
        """Validate, add and (with a state folder) persist one article; raises ``LiveError``."""
        with self._lock:
            taken = {e.article.path for e in self._entries}
            article, template = build_article(fields, self._content, taken, now)
            seq = max((e.seq for e in self._entries), default=0) + 1
            entry = LiveArticle(seq=seq, article=article, template=template)
            if self.state_dir is not None:
                self._write(entry)
            self._entries.append(entry)
            self._snapshot = (*self._snapshot, article)
            return entry

    def _write(self, entry: LiveArticle) -> None:
        assert self.state_dir is not None
        target = self.state_dir / f"live-{entry.seq:05d}.yaml"
        temporary = target.with_name(f".{target.name}.tmp")
        text = yaml.safe_dump(entry.record(), allow_unicode=True, sort_keys=False, width=110)
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, target)

    def reset(self) -> int:
        """Remove every live article (and its file); returns how many there were."""
        with self._lock:
            count = len(self._entries)
            if self.state_dir is not None:
                for entry in self._entries:
                    (self.state_dir / f"live-{entry.seq:05d}.yaml").unlink(missing_ok=True)
            self._entries = []
            self._snapshot = ()
            return count
