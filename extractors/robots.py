"""robots.txt for article pages (RFC 9309): fetched once per origin and run, through the same guarded ``fetch``.

Parsing is protego's, which implements the RFC's matching (``*`` wildcards, the ``$`` end anchor, the
longest rule winning and Allow winning a tie); ``urllib.robotparser`` does none of that, so a site's
``Disallow: /*.pdf$`` was not honoured. Group selection is ours (see ``RobotsCache._query_agent``),
because protego also applies a group named by a *prefix* of our token (``news`` for ``newswatch``).
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from protego import Protego

from extractors.errors import FetchError
from extractors.fetch import FetchPolicy, fetch

# "User-agent: x" and the looser spellings protego also reads ("User agent x", "useragent: x").
_GROUP_LINE = re.compile(r"^[ \t]*user[- \t]?agent[ \t]*(?::[ \t]*|[ \t]+)([^\s#]+)", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class _Rules:
    """The parsed robots.txt of one origin, and the user-agent string that selects our group in it."""

    parser: Protego
    query_agent: str


class RobotsCache:
    """Answers ``allowed(url)`` and ``crawl_delay(url)`` from each origin's robots.txt, fetched once.

    A missing robots.txt (4xx) allows all, and so does an unreachable one or a server error: being unable
    to read robots.txt must not silence a news source, so only an explicit rule refuses. (RFC 9309 would
    have a crawler assume "disallow all" on 5xx; we deliberately do not.) Safe to share between threads:
    concurrent first requests for an origin wait for one fetch of its robots.txt.
    """

    def __init__(self, client: httpx.Client, policy: FetchPolicy, user_agent: str | None = None) -> None:
        self.client = client
        self.policy = policy
        # RFC 9309 matches groups against the product token: "newswatch" of "newswatch/0.1 (+https://…)".
        self.agent = (user_agent or policy.user_agent).split("/")[0].strip().lower()
        self._rules: dict[str, _Rules | None] = {}
        self._origin_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _origin(url: str) -> str:
        parts = urlsplit(url)
        return f"{parts.scheme.lower()}://{parts.netloc.lower()}"

    def _query_agent(self, content: str) -> str:
        """The user agent to hand protego so that it picks the group RFC 9309 picks for our token.

        The RFC applies the group whose user-agent equals our product token (case-insensitively), else the
        ``*`` group, else none. protego scores any group whose name occurs in the agent string, so it would
        let ``User-agent: news`` rule ``newswatch``. Our exact token always outscores such prefixes; when
        no group names us exactly we ask with an empty agent, which only ``*`` matches.
        """
        groups = {name.lower().replace("*", "") for name in _GROUP_LINE.findall(content)}
        return self.agent if self.agent in groups else ""

    def _load(self, origin: str) -> _Rules | None:
        try:
            result = fetch(self.client, origin + "/robots.txt", self.policy)
        except FetchError:  # HTTPStatusError (4xx, 5xx) included: no readable rules, so none apply
            return None
        content = result.content.decode("utf-8-sig", errors="replace")  # a BOM would hide the first line
        return _Rules(Protego.parse(content), self._query_agent(content))

    def _get(self, url: str) -> _Rules | None:
        origin = self._origin(url)
        with self._lock:
            if origin in self._rules:
                return self._rules[origin]
            origin_lock = self._origin_locks.setdefault(origin, threading.Lock())
        with origin_lock:  # one fetch per origin; other origins are not held up meanwhile
            with self._lock:
                if origin in self._rules:
                    return self._rules[origin]
            rules = self._load(origin)
            with self._lock:
                self._rules[origin] = rules
                self._origin_locks.pop(origin, None)
        return rules

    def allowed(self, url: str) -> bool:
        """Whether robots.txt of ``url``'s origin lets our agent fetch ``url``."""
        rules = self._get(url)
        return True if rules is None else rules.parser.can_fetch(url, rules.query_agent)

    def crawl_delay(self, url: str) -> float | None:
        """Seconds our agent should leave between requests to ``url``'s origin, or None when unspecified.

        Meant as a floor for the per-host request gap. Negative, infinite or malformed values count as
        unspecified.
        """
        rules = self._get(url)
        if rules is None:
            return None
        delay = rules.parser.crawl_delay(rules.query_agent)
        if delay is None or not math.isfinite(delay) or delay < 0:
            return None
        return float(delay)
