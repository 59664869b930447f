"""Feed state: what one poll did to a feed's record, as pure functions (no I/O, unit-tested alone).

A feed's state document (``records.FeedState``, index ``<prefix>-feeds``) carries its HTTP validators,
body hash, health counters, the adaptive interval and the next due time. ``poll_feed`` in
``steps.poll`` fetches and parses; the transitions it applies to the state are here:

- ``begin_poll``: whether this poll is unconditional (forced, or a daily refetch without validators);
- ``record_success`` / ``record_failure``: validators, hash, failures, last status and error class;
- ``finish_poll``: items/day (an exponentially weighted rate), the next interval and the due time.

Failures double the wait up to ``max_interval_minutes`` but never disable a feed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from newswatch.config import FeedConfig
from newswatch.records import FeedState

UNCONDITIONAL_EVERY = timedelta(hours=24)


def now_utc() -> datetime:
    return datetime.now(UTC)


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def is_due(state: FeedState | None, now: datetime | None = None) -> bool:
    due = _dt(state.next_due) if state is not None else None
    return due is None or due <= (now or now_utc())


def begin_poll(state: FeedState, now: datetime, *, force: bool) -> tuple[FeedState, bool]:
    """The state at the start of a poll and whether the request is unconditional (no validators)."""
    last = _dt(state.last_unconditional)
    unconditional = force or last is None or now - last > UNCONDITIONAL_EVERY
    return state.model_copy(update={"polls": state.polls + 1, "last_polled": now.isoformat()}), unconditional


def record_success(state: FeedState, now: datetime, *, status: str, unconditional: bool,
                   etag: str | None = None, last_modified: str | None = None,
                   content_hash: str | None = None) -> FeedState:
    """A poll that got an answer: ``not_modified`` (304 or same hash) or ``ok`` (parsed, new hash)."""
    update: dict[str, Any] = {"consecutive_failures": 0, "last_success": now.isoformat(), "last_status": status,
                              "last_error_class": None, "last_error": None}
    if unconditional:
        update["last_unconditional"] = now.isoformat()
    if status == "not_modified":
        update["not_modified"] = state.not_modified + 1
    else:
        update.update(content_hash=content_hash, etag=etag, last_modified=last_modified,
                      last_changed=now.isoformat())
    return state.model_copy(update=update)


def record_failure(state: FeedState, *, error_class: str, error: str) -> FeedState:
    return state.model_copy(update={"consecutive_failures": state.consecutive_failures + 1, "last_status": "error",
                                    "last_error_class": error_class, "last_error": error[:500]})


def next_interval(feed: FeedConfig, state: FeedState, new_items: int, failed: bool) -> float:
    """Minutes until the next poll: adaptive to the feed's rate of new items, backoff on failure."""
    lo, hi = feed.min_interval_minutes, max(feed.max_interval_minutes, feed.min_interval_minutes)
    if failed:
        return float(min(hi, lo * (2 ** min(state.consecutive_failures, 16))))
    per_day = float(state.items_per_day or 0.0)
    if per_day <= 0:
        interval = lo * 4.0 if not new_items else float(lo)
    else:
        interval = 1440.0 / per_day  # expect about one new item per poll
    return float(min(hi, max(lo, interval)))


def finish_poll(feed: FeedConfig, state: FeedState, now: datetime, *, failed: bool, entries_seen: int,
                new_items: int, retry_after: float | None = None) -> FeedState:
    """Identity, the items/day estimate, the next interval (``Retry-After`` as a floor) and due time."""
    update: dict[str, Any] = {"url": feed.url, "name": feed.name, "site": feed.site, "entries_seen": entries_seen,
                              "new_entries_total": state.new_entries_total + new_items}
    prev = _dt(state.updated_at)
    if not failed:
        if prev is not None:
            gap_days = max((now - prev).total_seconds() / 86400.0, 1e-3)
            observed = new_items / gap_days
            old = float(state.items_per_day if state.items_per_day is not None else observed)
            update["items_per_day"] = round(0.7 * old + 0.3 * observed, 3)
        elif state.items_per_day is None:
            update["items_per_day"] = 0.0
    state = state.model_copy(update=update)
    interval = next_interval(feed, state, new_items, failed)
    if retry_after:
        interval = max(interval, float(retry_after) / 60.0)
    interval = min(interval, float(max(feed.max_interval_minutes, feed.min_interval_minutes)))
    return state.model_copy(update={"interval_minutes": interval,
                                    "next_due": (now + timedelta(minutes=interval)).isoformat(),
                                    "updated_at": now.isoformat()})
