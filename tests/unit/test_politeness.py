"""Polling politeness: per-host gap and concurrency, adaptive intervals, capped backoff that never disables."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from newswatch.config import FeedConfig
from newswatch.steps import _HostLimiter, _next_interval


def test_min_gap_between_requests_to_one_host() -> None:
    limiter = _HostLimiter(per_host=4, min_gap=0.2)
    starts: list[float] = []
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: limiter.run("http://a.example/x", lambda: starts.append(time.monotonic())), range(4)))
    starts.sort()
    assert all(b - a >= 0.18 for a, b in zip(starts, starts[1:], strict=False))


def test_other_hosts_do_not_wait() -> None:
    limiter = _HostLimiter(per_host=1, min_gap=5.0)
    started = time.monotonic()
    for host in ("a", "b", "c"):
        limiter.run(f"http://{host}.example/", lambda: None)
    assert time.monotonic() - started < 1.0


def test_per_host_concurrency_limit() -> None:
    limiter = _HostLimiter(per_host=2)
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


def test_backoff_grows_is_capped_and_never_disables() -> None:
    feed = FeedConfig(url="https://a.example/rss", min_interval_minutes=10, max_interval_minutes=1440)
    waits = [_next_interval(feed, {"consecutive_failures": n}, 0, failed=True) for n in range(1, 30)]
    assert waits == sorted(waits) and waits[0] == 20 and max(waits) == 1440


def test_adaptive_interval_follows_the_rate_of_new_items() -> None:
    feed = FeedConfig(url="https://a.example/rss", min_interval_minutes=5, max_interval_minutes=720)
    busy = _next_interval(feed, {"items_per_day": 288}, 3, failed=False)  # one new item every 5 minutes
    slow = _next_interval(feed, {"items_per_day": 4}, 0, failed=False)
    quiet = _next_interval(feed, {"items_per_day": 0.1}, 0, failed=False)
    assert busy == 5 and slow == 360 and quiet == 720


def test_feeds_of_one_host_share_a_shard() -> None:
    from newswatch.steps import shard_of

    urls = [f"https://news.example/feeds/{i}.rss" for i in range(20)]
    assert len({shard_of(u, 4) for u in urls}) == 1
    hosts = [f"https://site{i}.example/rss" for i in range(40)]
    assert len({shard_of(u, 4) for u in hosts}) == 4
