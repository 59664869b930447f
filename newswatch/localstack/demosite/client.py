"""Publish live articles into a running sample site from scripts and tests (``POST /_live/publish``).

::

    from newswatch.localstack.demosite import publish
    publish("http://127.0.0.1:8765", "fresh")                  # a canned article, dated now
    publish(base, site="herald", title="…", body=["…", "…"])    # an article of your own

The calls go straight to the site (``trust_env=False``: no proxy from the environment), which answers
loopback clients only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

TIMEOUT = 10.0


class LiveSiteError(RuntimeError):
    """The site refused a live request; ``status`` is its HTTP status and ``message`` its explanation."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


def _call(method: str, base_url: str, path: str, payload: dict[str, Any] | None = None) -> Any:
    with httpx.Client(trust_env=False, timeout=TIMEOUT) as http:
        response = http.request(method, base_url.rstrip("/") + path, json=payload)
    if response.status_code >= 400:
        try:
            message = str(response.json().get("error", response.text))
        except ValueError:
            message = response.text.strip()
        raise LiveSiteError(response.status_code, message)
    return response.json()


def publish(base_url: str, template: str | None = None, **fields: Any) -> dict[str, Any]:
    """Publish one article into the site at ``base_url`` and return the site's answer.

    ``template`` names a canned article of ``content/live/templates.yaml`` (``fresh``, ``followup``,
    ``unrelated``); ``fields`` give or override its fields: ``site``, ``lang``, ``title``, ``standfirst``,
    ``body`` (list of paragraphs or a string), ``path``, ``slug``, ``category``, ``author``, ``tags``,
    ``story``, ``level``, ``image_caption`` and ``published`` (ISO string or aware datetime; default now).
    Returns ``{"url", "path", "published", "site", "lang", "title", "template", "story", "level"}``;
    raises ``LiveSiteError`` when the site refuses (400 bad input, 409 path taken).
    """
    payload = dict(fields)
    if template is not None:
        payload["template"] = template
    if isinstance(payload.get("published"), datetime):
        payload["published"] = payload["published"].isoformat()
    answer: dict[str, Any] = _call("POST", base_url, "/_live/publish", payload)
    return answer


def live_articles(base_url: str) -> list[dict[str, Any]]:
    """The live articles the site serves now, in publication order (``GET /_live``)."""
    articles: list[dict[str, Any]] = _call("GET", base_url, "/_live")["articles"]
    return articles


def reset(base_url: str) -> int:
    """Remove every live article from the site (and its state folder); returns how many were removed."""
    return int(_call("POST", base_url, "/_live/reset")["removed"])
