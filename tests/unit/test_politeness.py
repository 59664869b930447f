"""Politeness: per-host gap and concurrency, Crawl-delay floors, sharding. Pacing is checked on an injected
clock (the sleeps the limiter asks for), never on wall time."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from newswatch.politeness import MAX_CRAWL_DELAY, HostLimiter, shard_of


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


def test_min_gap_between_requests_to_one_host() -> None:
    clock = FakeClock()
    limiter = HostLimiter(per_host=1, min_gap=0.2, clock=clock, sleep=clock.sleep)
    starts = [limiter.run("http://a.example/x", clock) for _ in range(4)]
    assert [round(b - a, 6) for a, b in zip(starts, starts[1:], strict=False)] == [0.2, 0.2, 0.2]
    assert clock.sleeps == [0.2, 0.2, 0.2]  # the first request never waits


def test_other_hosts_do_not_wait() -> None:
    clock = FakeClock()
    limiter = HostLimiter(per_host=1, min_gap=5.0, clock=clock, sleep=clock.sleep)
    for host in ("a", "b", "c"):
        limiter.run(f"http://{host}.example/", lambda: None)
    assert clock.sleeps == []


def test_crawl_delay_raises_the_gap_of_its_host_only_and_is_capped() -> None:
    clock = FakeClock()
    limiter = HostLimiter(per_host=1, min_gap=1.0, clock=clock, sleep=clock.sleep)
    limiter.floor("http://slow.example/a", 7.5)
    limiter.floor("http://slow.example/b", 2.0)  # a floor never lowers the gap
    limiter.floor("http://huge.example/", 10_000)
    assert limiter.gap("http://slow.example/x") == 7.5
    assert limiter.gap("http://other.example/") == 1.0
    assert limiter.gap("http://huge.example/") == MAX_CRAWL_DELAY
    for _ in range(2):
        limiter.run("http://slow.example/x", lambda: None)
    assert clock.sleeps == [7.5]


def test_per_host_concurrency_limit() -> None:
    limiter = HostLimiter(per_host=2)
    active, peak, lock = [0], [0], threading.Lock()

    def work() -> None:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.05)
        with lock:
            active[0] -= 1

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda _: limiter.run("http://a.example/", work), range(6)))
    assert peak[0] == 2


def test_feeds_of_one_host_share_a_shard() -> None:
    urls = [f"https://news.example/feeds/{i}.rss" for i in range(20)]
    assert len({shard_of(u, 4) for u in urls}) == 1
    hosts = [f"https://site{i}.example/rss" for i in range(40)]
    assert len({shard_of(u, 4) for u in hosts}) == 4
