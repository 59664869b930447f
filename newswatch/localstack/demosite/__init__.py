"""Offline sample news site for demos and integration tests.

newswatch needs something realistic to poll without the internet: several outlets in three languages,
RSS 2.0 and Atom feeds, article pages wrapped in the furniture real sites have (cookie banners,
newsletter boxes, comments, related links) so that extraction is real work, and publication dates spread
over months so a timeline has shape. The content lives as YAML under ``content/`` and is rendered with
the Jinja2 templates under ``templates/``; ``expected_articles()`` is the answer key tests score against.

Public surface (stable, used by ``make demo`` and the integration tests)::

    server = make_server(host="127.0.0.1", port=DEFAULT_PORT)   # bound, not yet serving
    feed_urls("http://127.0.0.1:8765")                          # every feed the site serves
    expected_articles()                                         # one dict per article page
    publish("http://127.0.0.1:8765", "fresh")                   # a live article, dated now (live.py)

Live articles (``POST /_live/publish``, canned ones in ``content/live/templates.yaml``) appear at run time
at the top of the feeds; they are not in ``expected_articles()``.
"""

from __future__ import annotations

from newswatch.localstack.demosite.client import LiveSiteError, live_articles, publish, reset
from newswatch.localstack.demosite.content import expected_articles, feed_urls
from newswatch.localstack.demosite.server import DEFAULT_PORT, make_server

__all__ = [
    "DEFAULT_PORT",
    "LiveSiteError",
    "expected_articles",
    "feed_urls",
    "live_articles",
    "make_server",
    "publish",
    "reset",
]
