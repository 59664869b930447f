"""Feed-state transitions, pure: validators, failures, backoff, adaptive interval, due times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from newswatch import feedstate
from newswatch.config import FeedConfig
from newswatch.records import FeedState

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
FEED = FeedConfig(url="https://a.example/rss", min_interval_minutes=10, max_interval_minutes=1440)


def test_backoff_grows_is_capped_and_never_disables() -> None:
    waits = [feedstate.next_interval(FEED, FeedState(consecutive_failures=n), 0, failed=True) for n in range(1, 30)]
    assert waits == sorted(waits) and waits[0] == 20 and max(waits) == 1440


def test_adaptive_interval_follows_the_rate_of_new_items() -> None:
    feed = FeedConfig(url="https://a.example/rss", min_interval_minutes=5, max_interval_minutes=720)
    busy = feedstate.next_interval(feed, FeedState(items_per_day=288), 3, failed=False)  # one item every 5 min
    slow = feedstate.next_interval(feed, FeedState(items_per_day=4), 0, failed=False)
    quiet = feedstate.next_interval(feed, FeedState(items_per_day=0.1), 0, failed=False)
    assert busy == 5 and slow == 360 and quiet == 720


def test_unconditional_once_a_day_or_when_forced() -> None:
    fresh = FeedState(last_unconditional=(NOW - timedelta(hours=1)).isoformat())
    stale = FeedState(last_unconditional=(NOW - timedelta(hours=25)).isoformat())
    assert feedstate.begin_poll(fresh, NOW, force=False)[1] is False
    assert feedstate.begin_poll(fresh, NOW, force=True)[1] is True
    assert feedstate.begin_poll(stale, NOW, force=False)[1] is True
    assert feedstate.begin_poll(FeedState(), NOW, force=False)[1] is True
    assert feedstate.begin_poll(FeedState(polls=4), NOW, force=False)[0].polls == 5


def test_success_sets_validators_and_clears_failures_failure_keeps_them() -> None:
    failed = feedstate.record_failure(FeedState(etag='"v1"', consecutive_failures=2), error_class="FetchTimeout",
                                      error="slow")
    assert (failed.consecutive_failures, failed.last_status, failed.etag) == (3, "error", '"v1"')
    ok = feedstate.record_success(failed, NOW, status="ok", unconditional=True, etag='"v2"', content_hash="h2")
    assert (ok.consecutive_failures, ok.last_error_class, ok.etag, ok.content_hash) == (0, None, '"v2"', "h2")
    assert ok.last_unconditional == NOW.isoformat() and ok.last_changed == NOW.isoformat()
    same = feedstate.record_success(ok, NOW, status="not_modified", unconditional=False)
    assert (same.not_modified, same.etag, same.content_hash) == (1, '"v2"', "h2")


def test_finish_poll_sets_due_time_with_retry_after_as_a_floor() -> None:
    done = feedstate.finish_poll(FEED, FeedState(), NOW, failed=False, entries_seen=3, new_items=3)
    assert done.url == FEED.url and done.interval_minutes == 10 and done.items_per_day == 0.0
    assert done.next_due == (NOW + timedelta(minutes=10)).isoformat()
    limited = feedstate.finish_poll(FEED, FeedState(consecutive_failures=1), NOW, failed=True, entries_seen=0,
                                    new_items=0, retry_after=3600)
    assert limited.interval_minutes == 60
    assert feedstate.is_due(None) and not feedstate.is_due(done, NOW)
    assert feedstate.is_due(done, NOW + timedelta(hours=1))
