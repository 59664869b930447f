"""Which alert claims a later run may take over: failed sends and claims left pending by a dead worker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from newswatch.alerts import STALE_CLAIM, _retryable


def ago(delta: timedelta) -> str:
    return (datetime.now(UTC) - delta).isoformat()


def test_failed_is_retried() -> None:
    assert _retryable({"status": "failed", "claimed_at": ago(timedelta(seconds=1))})


def test_fresh_pending_is_left_to_its_worker() -> None:
    assert not _retryable({"status": "pending", "claimed_at": ago(timedelta(seconds=5))})


def test_stale_pending_is_taken_over() -> None:
    assert _retryable({"status": "pending", "claimed_at": ago(STALE_CLAIM + timedelta(minutes=1))})


def test_sent_is_final() -> None:
    assert not _retryable({"status": "sent", "claimed_at": ago(timedelta(days=3))})
