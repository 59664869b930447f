"""The headless Chromium helper of ``tests/browser.py`` renders HTML and reports what the page shows."""

from __future__ import annotations

from pathlib import Path

from tests.browser import chrome, screenshot_html

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

HTML = """<!doctype html>
<html><head><title>Alert: Grüße aus Köln</title></head>
<body>
  <h1>Flooding in the <mark>Rhine</mark> valley</h1>
  <p>Three towns evacuated. <a href="https://news.example.test/story/42">Read the story</a></p>
  <img src="https://news.example.test/logo.png" alt="">
</body></html>
"""


def test_screenshot_html_reports_the_rendered_page(tmp_path: Path) -> None:
    png = tmp_path / "shots" / "alert.png"
    page = screenshot_html(HTML, png)
    assert page["title"] == "Alert: Grüße aus Köln"
    assert "Flooding in the Rhine valley" in page["text"]
    assert "Read the story" in page["text"]
    assert page["links"] == ["https://news.example.test/story/42"]
    assert page["marks"] == ["Rhine"]
    data = png.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 1000
    assert int.from_bytes(data[16:20], "big") == 1200  # PNG width: the viewport width


def test_chrome_viewport_and_reuse(tmp_path: Path) -> None:
    driver = chrome(width=640, height=480)
    try:
        assert driver.execute_script("return [innerWidth, innerHeight]") == [640, 480]
        page = screenshot_html("<p>plain <mark>one</mark> <mark>two</mark></p>", tmp_path / "p.png", driver=driver,
                               full_page=False)
        assert (page["title"], page["text"], page["links"], page["marks"]) == ("", "plain one two", [], ["one", "two"])
        data = (tmp_path / "p.png").read_bytes()
        assert (int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")) == (640, 480)
    finally:
        driver.quit()
