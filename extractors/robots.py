"""robots.txt for article pages: fetched once per host and run, through the same guarded ``fetch``."""

from __future__ import annotations

import threading
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

import httpx

from extractors.errors import FetchError, HTTPStatusError
from extractors.fetch import FetchPolicy, fetch


class RobotsCache:
    """Answers ``allowed(url)``; a missing robots.txt (4xx) allows all, an unreachable one allows too.

    Being unable to read robots.txt must not silence a news source, so only an explicit rule refuses.
    """

    def __init__(self, client: httpx.Client, policy: FetchPolicy, user_agent: str | None = None) -> None:
        self.client = client
        self.policy = policy
        self.agent = (user_agent or policy.user_agent).split("/")[0]
        self._parsers: dict[str, RobotFileParser | None] = {}
        self._lock = threading.Lock()

    def _parser(self, url: str) -> RobotFileParser | None:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        with self._lock:
            if origin in self._parsers:
                return self._parsers[origin]
        parser: RobotFileParser | None = None
        try:
            result = fetch(self.client, origin + "/robots.txt", self.policy)
            parser = RobotFileParser()
            parser.parse(result.content.decode("utf-8", errors="replace").splitlines())
        except HTTPStatusError:
            parser = None
        except FetchError:
            parser = None
        with self._lock:
            self._parsers[origin] = parser
        return parser

    def allowed(self, url: str) -> bool:
        parser = self._parser(url)
        return True if parser is None else parser.can_fetch(self.agent, url)
