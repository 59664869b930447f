"""Politeness towards the sites we poll: per-host concurrency and request gaps, and feed sharding.

The poll DAG maps over shards of the feed list; a feed's shard is a hash of its host (``shard_of``), so
all feeds of a host are polled by one task and the ``HostLimiter`` of that task paces every request to
the host. A host's ``Crawl-delay`` (robots.txt) raises its gap, never lowers it (``HostLimiter.floor``).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from newswatch.settings import FetchSettings

T = TypeVar("T")

MAX_CRAWL_DELAY = 60.0  # a robots.txt asking for more is honoured up to this (seconds)


def host_of(url: str) -> str:
    return urlsplit(url).netloc.lower()


def shard_of(url: str, shards: int) -> int:
    """The shard of a feed: a hash of its host, so one task owns each host and per-host politeness holds."""
    return int(hashlib.sha1(host_of(url).encode()).hexdigest()[:8], 16) % max(shards, 1)


class HostLimiter:
    """At most ``per_host`` requests in flight per host, and ``min_gap`` seconds between their starts.

    ``clock`` and ``sleep`` are injectable so the pacing is tested without waiting.
    """

    def __init__(self, per_host: int, min_gap: float = 0.0, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.per_host = max(1, per_host)
        self.min_gap = max(0.0, min_gap)
        self._clock = clock
        self._sleep = sleep
        self._sems: dict[str, threading.Semaphore] = defaultdict(lambda: threading.Semaphore(self.per_host))
        self._last: dict[str, float] = {}
        self._floors: dict[str, float] = {}
        self._lock = threading.Lock()

    def floor(self, url: str, gap: float | None) -> None:
        """Raise the gap for ``url``'s host to ``gap`` seconds (a robots.txt Crawl-delay), capped."""
        if gap and gap > 0:
            with self._lock:
                host = host_of(url)
                self._floors[host] = max(self._floors.get(host, 0.0), min(float(gap), MAX_CRAWL_DELAY))

    def gap(self, url: str) -> float:
        return max(self.min_gap, self._floors.get(host_of(url), 0.0))

    def run(self, url: str, fn: Callable[[], T]) -> T:
        host = host_of(url)
        with self._lock:
            sem = self._sems[host]
        with sem:
            gap = self.gap(url)
            if gap:
                with self._lock:
                    now = self._clock()
                    wait = self._last.get(host, now - gap) + gap - now
                    self._last[host] = now + max(wait, 0.0)
                if wait > 0:
                    self._sleep(wait)
            return fn()


def host_limiter(fetch: FetchSettings) -> HostLimiter:
    """The limiter of one step (a poll or a fetch task): ``NEWSWATCH_FETCH__PER_HOST`` and ``MIN_HOST_GAP``."""
    return HostLimiter(fetch.per_host, fetch.min_host_gap)
