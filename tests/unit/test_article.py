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


SOUP = """<!doctype html><html lang="en"><head><title>Tram line approved</title></head><body>
<div class="top"><a href="/">Home</a> <a href="/city">City</a> <a href="/world">World</a> <a href="/sport">Sport</a></div>
<div class="wrap"><div class="col">
<div class="hl">Council approves eastern tram extension</div>
<div class="txt">Councillors voted 41 to 17 on Tuesday night to approve a four-mile extension of the tram network
to the eastern suburbs, ending more than a decade of argument about how to serve the new estates.</div>
<div class="txt">The line will branch off at Market Cross and run along Castle Road to the Royal Infirmary, and
the council estimates the cost at 380 million pounds, half of which it has asked the government to pay.</div>
<div class="txt">Opposition councillors said the business case relied on optimistic passenger numbers and that an
electric bus route would have served the area for a fraction of the price, years sooner.</div>
</div></div><div class="foot"><a href="/about">About us</a> <a href="/privacy">Privacy</a></div></body></html>"""


def test_page_without_article_container_gets_the_full_cascade(monkeypatch: pytest.MonkeyPatch) -> None:
    import trafilatura

    calls: list[bool] = []
    real = trafilatura.bare_extraction

    def spy(*args: object, **kwargs: object) -> object:
        calls.append(bool(kwargs.get("fast")))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(trafilatura, "bare_extraction", spy)
    art = extract_article(SOUP.encode(), url="https://city.example/tram")
    assert calls == [True, False]  # the fast path found too little; the full cascade ran
    assert "380 million pounds" in art.text and "Privacy" not in art.text

    calls.clear()
    extract_article(PAGE.encode().replace(b"</article>", b"<p>" + b"More detail. " * 40 + b"</p></article>"),
                    url="https://herald.example/world/troops")
    assert calls == [True]  # an <article> with enough text: the fast path alone


def test_fast_path_gives_the_full_cascade_bodies_on_every_sample_page() -> None:
    """The fast path may only change speed: on the sample site, every body equals the full cascade's."""
    import trafilatura
    from trafilatura.utils import load_html

    from newswatch.localstack.demosite.content import load_content
    from newswatch.localstack.demosite.render import render_article

    content, base = load_content(), "http://127.0.0.1:8000"
    for article in content.articles:
        html = render_article(content, base, article).body
        full = trafilatura.bare_extraction(load_html(html), url=base + article.path, with_metadata=False,
                                           include_comments=False, include_tables=False, favor_precision=True)
        assert extract_article(html, url=base + article.path).text == full.text.strip(), article.path  # type: ignore[union-attr]
