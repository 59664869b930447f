"""Headless Chromium for tests that look at rendered HTML (alert emails, the sample site), through selenium.

Uses the Debian packages only: ``/usr/bin/chromium`` driven by ``/usr/bin/chromedriver``. Selenium Manager is never
run (the driver path is given), so nothing is downloaded; Chromium's own background traffic (component updates,
sync, metrics, DNS prefetch ...) is switched off and every host except ``localhost`` and ``127.0.0.1`` fails with
``ERR_NAME_NOT_RESOLVED``, so a rendered page cannot reach the network (``file://`` pages and servers on loopback
still work; an external ``<img>`` just does not load).
"""

from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    from selenium.webdriver import Chrome

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
INSTALL_HINT = "apt-get install chromium chromium-driver"

CHROME_ARGS: tuple[str, ...] = (
    "--headless=new",
    "--no-sandbox",  # the tests run as root
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-sync",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--metrics-recording-only",
    "--no-pings",
    "--dns-prefetch-disable",
    "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication,"
    "CertificateTransparencyComponentUpdater",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    "--lang=en-US",
)

_PAGE_SCRIPT = """
return {
  title: document.title,
  text: document.body ? document.body.innerText : "",
  links: Array.from(document.querySelectorAll("a[href]"), a => a.getAttribute("href")),
  marks: Array.from(document.querySelectorAll("mark"), m => m.innerText),
};
"""


class RenderedPage(TypedDict):
    """What :func:`screenshot_html` saw: the document title, ``body.innerText``, the ``href`` attribute of every
    ``<a href>`` (as written, not resolved against the temporary file's URL) and the text of every ``<mark>``."""

    title: str
    text: str
    links: list[str]
    marks: list[str]


def _require(path: Path, what: str) -> None:
    if not path.is_file() or not os.access(path, os.X_OK):
        raise RuntimeError(f"{what} not found at {path}: install it with `{INSTALL_HINT}`")


def chrome(width: int = 1200, height: int = 900) -> Chrome:
    """Start a headless Chromium (``/usr/bin/chromium`` + ``/usr/bin/chromedriver``) whose page viewport is
    ``width`` x ``height`` CSS pixels (device scale factor 1). The caller quits it (``driver.quit()``).

    Raises ``RuntimeError`` naming what is missing: the Chromium or chromedriver binary (install them with
    ``apt-get install chromium chromium-driver``) or the selenium package."""
    _require(CHROMIUM, "the Chromium browser")
    _require(CHROMEDRIVER, "chromedriver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as exc:
        raise RuntimeError("the selenium package is not installed in this environment: pip install selenium") from exc
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in CHROME_ARGS:
        options.add_argument(arg)
    options.add_argument(f"--window-size={width},{height}")
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:  # the window size includes the (invisible) browser frame: make the page viewport exactly width x height
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
    except BaseException:
        driver.quit()
        raise
    return driver


def screenshot_html(
    html: str, path: Path, *, driver: Chrome | None = None, width: int = 1200, height: int = 900, full_page: bool = True
) -> RenderedPage:
    """Render ``html`` in headless Chromium from a temporary file (``file://``), save a PNG screenshot to ``path``
    (the whole page when ``full_page``, else the ``width`` x ``height`` viewport), and return what the page shows
    (see :class:`RenderedPage`). The HTML is written as UTF-8 with a byte order mark, so it renders as UTF-8 even
    without a ``<meta charset>``. Pass ``driver`` to reuse a browser (it is then not quit)."""
    own = driver is None
    browser = chrome(width, height) if driver is None else driver
    try:
        with tempfile.TemporaryDirectory(prefix="newswatch-html-") as tmp:
            page = Path(tmp) / "page.html"
            page.write_text(html, encoding="utf-8-sig")
            browser.get(page.as_uri())
            seen: dict[str, Any] = browser.execute_script(_PAGE_SCRIPT)
            params: dict[str, Any] = {"format": "png"}
            if full_page:
                size = browser.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
                clip = {"x": 0, "y": 0, "width": max(size["width"], 1), "height": max(size["height"], 1), "scale": 1}
                params.update(captureBeyondViewport=True, clip=clip)
            shot: dict[str, Any] = browser.execute_cdp_cmd("Page.captureScreenshot", params)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
    finally:
        if own:
            browser.quit()
    return RenderedPage(
        title=str(seen["title"]),
        text=str(seen["text"]),
        links=[str(link) for link in seen["links"]],
        marks=[str(mark) for mark in seen["marks"]],
    )
