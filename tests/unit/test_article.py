from __future__ import annotations

import pytest

from extractors.article import canonical_url, detect_language, extract_article
from extractors.errors import NoArticleBody, NotHTML

PAGE = """<!doctype html><html lang="en"><head><title>Troops | Herald</title>
<meta property="og:title" content="North Korean troops reach Kursk">
<meta property="og:site_name" content="The Herald">
<link rel="canonical" href="https://herald.example/world/troops?utm_source=rss">
<meta property="article:published_time" content="2024-10-28T09:00:00Z">
</head><body><nav><a href="/">Home</a> <a href="/world">World</a></nav>
<div class="cookie">We use cookies to improve your experience. Accept all cookies.</div>
<article><h1>North Korean troops reach Kursk</h1>
<p>North Korean soldiers have been moved to Russia's Kursk region, NATO said on Monday, in what officials called a dangerous escalation.</p>
<p>About 10,000 troops were sent to Russia for training in the Far East before being moved west, according to the Pentagon.</p>
</article><footer>© Herald. Newsletter: sign up for our daily briefing.</footer></body></html>"""


def test_extracts_body_metadata_and_canonical_url() -> None:
    art = extract_article(PAGE.encode(), url="https://herald.example/world/troops?utm_source=rss&utm_medium=feed")
    assert art.title == "North Korean troops reach Kursk"
    assert "10,000 troops" in art.text and "cookies" not in art.text and "Newsletter" not in art.text
    assert art.published == "2024-10-28"
    assert art.url == "https://herald.example/world/troops"
    assert art.lang == "en" and art.sitename == "The Herald"


def test_not_html() -> None:
    with pytest.raises(NotHTML):
        extract_article(b"%PDF-1.7 binary", url="https://x.org/a.pdf")


def test_no_body() -> None:
    with pytest.raises(NoArticleBody):
        extract_article(b"<html><body><nav><a href='/'>Home</a></nav></body></html>", url="https://x.org/")


@pytest.mark.parametrize("url,expected", [
    ("https://m.example.com/news/x.html?utm_source=rss&id=3#frag", "https://example.com/news/x.html?id=3"),
    ("https://www.example.com/news/x/amp/", "https://www.example.com/news/x"),
    ("HTTPS://Example.com/a?fbclid=123", "https://example.com/a"),
])
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


@pytest.mark.parametrize("text,lang", [
    ("북한군이 러시아 쿠르스크에 파병됐다고 국정원이 밝혔다.", "ko"),
    ("Северокорейские военные прибыли в Курскую область.", "ru"),
    ("Північнокорейські військові прибули до Курської області, заявили в розвідці.", "uk"),
    ("The troops arrived in the region and the ministry said it is aware of the reports.", "en"),
])
def test_detect_language(text: str, lang: str) -> None:
    assert detect_language(text) == lang
