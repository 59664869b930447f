"""Article extraction: page bytes in, body and metadata out.

trafilatura does the work (main text without navigation, comments or boilerplate; title, author, date,
site name, canonical URL); htmldate, which trafilatura calls, finds dates missing from the metadata;
courlan canonicalises the URL (tracking parameters, fragments, AMP and mobile variants). Extraction works
on the bytes handed to it, so stored HTML can be re-extracted later without refetching.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import courlan
import trafilatura
from htmldate import find_date
from trafilatura import metadata as trafilatura_metadata
from trafilatura.utils import load_html

from extractors.errors import NoArticleBody, NotHTML

MIN_BODY_CHARS = 80
# Below this many characters, trafilatura's fast path has likely missed the article container (div-soup
# layouts with no <article>/<main>): the full cascade with readability and jusText runs instead.
# trafilatura's own "too short" threshold (MIN_EXTRACTED_SIZE) is 250; 250-500 score best on the 181-page
# benchmark (see bench/README.md).
FAST_PATH_MIN_CHARS = 500

_HTML_LANG = re.compile(rb"<html\b[^>]*\blang\s*=\s*[\"']?([A-Za-z]{2,3})", re.IGNORECASE)
_HTML_SNIFF = re.compile(rb"<(html|head|body|!doctype html|article|div|p)\b", re.IGNORECASE)
_MOBILE_HOST = re.compile(r"^(m|mobile|amp)\.", re.IGNORECASE)
_AMP_PATH = re.compile(r"(/amp/?$|\.amp$|/amp(?=/))", re.IGNORECASE)


@dataclass
class ExtractedArticle:
    """What the page says about itself. ``url`` is canonical; ``fetched_url`` what we fetched."""

    url: str
    fetched_url: str
    title: str
    text: str
    author: str | None
    published: str | None  # ISO date (YYYY-MM-DD) when the page or htmldate gives one
    lang: str | None
    sitename: str | None
    description: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def canonical_url(url: str) -> str:
    """Canonical form of an article URL: tracking parameters, fragments, AMP and mobile hosts removed."""
    cleaned = courlan.normalize_url(url, strict=True) or url
    parts = urlsplit(cleaned)
    host = _MOBILE_HOST.sub("", parts.netloc) if parts.netloc.count(".") >= 2 else parts.netloc
    path = _AMP_PATH.sub("", parts.path) or "/"
    return urlunsplit((parts.scheme.lower(), host.lower(), path, parts.query, ""))


_SCRIPTS = {  # each counted by one C-speed regex scan over the sample
    "hangul": re.compile(r"[\uac00-\ud7a3\u1100-\u11ff]"),
    "kana": re.compile(r"[\u3040-\u30ff]"),
    "han": re.compile(r"[\u4e00-\u9fff]"),
    "cyr": re.compile(r"[\u0400-\u04ff]"),
}
_NOT_LATIN = re.compile(r"[^A-Za-z\u00c0-\u024f]+")
_UK_LETTERS = re.compile(r"[іїєґІЇЄҐ]")
_LATIN_HINTS = {
    "en": (" the ", " and ", " of ", " to ", " in ", " is "),
    "de": (" der ", " die ", " und ", " das ", " nicht ", " mit "),
    "fr": (" le ", " la ", " les ", " et ", " des ", " est "),
    "es": (" el ", " los ", " las ", " y ", " del ", " que "),
}


def detect_language(text: str) -> str | None:
    """Cheap script-and-stopword language guess for the languages the topics care about."""
    sample = text[:4000]
    if not sample.strip():
        return None
    counts = {name: len(rx.findall(sample)) for name, rx in _SCRIPTS.items()}
    counts["latin"] = len(_NOT_LATIN.sub("", sample))
    script = max(counts, key=lambda k: counts[k])
    if counts[script] == 0:
        return None
    if script == "hangul":
        return "ko"
    if script in ("kana", "han"):
        return "ja" if counts["kana"] else "zh"
    if script == "cyr":
        return "uk" if len(_UK_LETTERS.findall(sample)) / max(counts["cyr"], 1) > 0.01 else "ru"
    low = f" {sample.lower()} "
    scores = {lang: sum(low.count(w) for w in words) for lang, words in _LATIN_HINTS.items()}
    best = max(scores, key=lambda k: scores[k])
    return best if scores[best] else None


def read_metadata(tree: Any, url: str, *, byline_search: bool = False) -> Any:
    """Title, author, canonical URL, site name, description and date, with trafilatura's own readers.

    This is ``trafilatura.metadata.extract_metadata`` without its two costly heuristics: category/tag
    harvesting (unused here) and, unless ``byline_search``, the byline search that runs when no author is
    declared in meta tags or JSON-LD (10 ms a page; together ~40 % of extraction time on the 181-page
    benchmark, where it finds an author on 47 of 180 pages). The date search is htmldate's quick pass
    first, and its extensive pass only when the quick one finds nothing.
    """
    meta = trafilatura_metadata.examine_meta(tree)
    if meta.author and " " not in meta.author:
        meta.author = None
    try:
        meta = trafilatura_metadata.extract_meta_json(tree, meta)
    except Exception:  # trafilatura's JSON-LD reader can trip on malformed scripts; the rest still counts
        pass
    if not meta.title:
        meta.title = trafilatura_metadata.extract_title(tree)
    if not meta.author and byline_search:
        meta.author = trafilatura_metadata.extract_author(tree)
    if not meta.url:
        meta.url = trafilatura_metadata.extract_url(tree, url)
    if not meta.sitename:
        meta.sitename = trafilatura_metadata.extract_sitename(tree)
    if meta.sitename:  # as trafilatura does: no Twitter handle, capitalised plain names
        meta.sitename = meta.sitename.lstrip("@")
        if meta.sitename and "." not in meta.sitename and not meta.sitename[0].isupper():
            meta.sitename = meta.sitename.title()
    elif meta.url and (host := urlsplit(meta.url).netloc):
        meta.sitename = host.removeprefix("www.")
    date_url = meta.url or url
    meta.date = find_date(tree, url=date_url, original_date=True, extensive_search=False) or find_date(
        tree, url=date_url, original_date=True, extensive_search=True
    )
    return meta


def _extract_body(tree: Any, raw: bytes, url: str) -> Any:
    """trafilatura's body extraction with favor_precision: its fast path first, the full cascade if short.

    The fast path (trafilatura's own rules, no readability/jusText comparison) is ~1.7x quicker and, with
    favor_precision, finds nothing rather than boilerplate when a page has no recognisable article
    container. Only then (about 5 % of real pages) does the full cascade run, on a fresh parse so that
    nothing the first pass did to the tree can leak into it. Measured on the 181-page benchmark: F1 0.960,
    against 0.958 for the full cascade on every page; identical bodies on every page of the sample site.
    """
    options: dict[str, Any] = {"url": url, "with_metadata": False, "include_comments": False,
                               "include_tables": False, "favor_precision": True}
    fast: Any = trafilatura.bare_extraction(tree, fast=True, **options)
    fast_chars = len((fast.text or "").strip()) if fast is not None else 0
    if fast_chars >= FAST_PATH_MIN_CHARS:
        return fast
    full: Any = trafilatura.bare_extraction(load_html(raw), **options)
    full_chars = len((full.text or "").strip()) if full is not None else 0
    return full if full_chars >= fast_chars else fast


def extract_article(html: bytes | str, *, url: str, byline_search: bool = False) -> ExtractedArticle:
    """Extract the article in ``html`` fetched from ``url``; raise ``ExtractionError`` if there is none.

    ``byline_search`` also looks for an author in the page text when meta tags and JSON-LD name none.
    """
    raw = html.encode("utf-8", errors="replace") if isinstance(html, str) else html
    if not raw.strip() or not _HTML_SNIFF.search(raw[:65536]):
        raise NotHTML("no HTML markup found")
    tree = load_html(raw)  # parsed once, for the metadata and the body
    if tree is None:
        raise NotHTML("unparseable HTML")
    meta = read_metadata(tree, url, byline_search=byline_search)
    doc = _extract_body(tree, raw, url)
    if doc is None or not (doc.text or "").strip():
        raise NoArticleBody("no article body found")
    text = doc.text.strip()
    if len(text) < MIN_BODY_CHARS:
        raise NoArticleBody(f"article body too short ({len(text)} chars)")
    page_url = meta.url if meta.url and urlsplit(meta.url).netloc == urlsplit(url).netloc else url
    match = _HTML_LANG.search(raw[:8192])
    declared = match.group(1).decode().lower()[:2] if match else None
    guessed = detect_language(text)
    # A page template often declares one language for every page; the script of the body wins.
    lang: str | None
    if guessed in ("ko", "ja", "zh") or (guessed in ("ru", "uk") and declared not in ("ru", "uk")):
        lang = guessed
    else:
        lang = declared or guessed
    return ExtractedArticle(
        url=canonical_url(page_url),
        fetched_url=url,
        title=(meta.title or "").strip(),
        text=text,
        author=meta.author or None,
        published=meta.date or None,
        lang=lang,
        sitename=meta.sitename or None,
        description=meta.description or None,
    )
