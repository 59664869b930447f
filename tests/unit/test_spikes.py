"""Burst detection on per-topic article counts: robust z-score baseline, gap filling, grouping by min gap."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from newswatch.spikes import Burst, active_burst, bars_html, bars_text, bucket_key, bursts, fill

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
T0 = datetime(2026, 11, 20, tzinfo=UTC)


def hourly(values: list[int], start: datetime = T0) -> list[tuple[datetime, int]]:
    return [(start + i * HOUR, n) for i, n in enumerate(values)]


def quiet_week(seed: int = 7, hours: int = 7 * 24) -> list[int]:
    rng = random.Random(seed)
    return [rng.randint(0, 2) for _ in range(hours)]


def test_flat_noisy_history_has_no_burst() -> None:
    rng = random.Random(1)
    assert bursts(hourly([rng.randint(0, 4) for _ in range(21 * 24)])) == []
    assert bursts(hourly([rng.randint(15, 25) for _ in range(21 * 24)])) == []


def test_sudden_hour_after_a_quiet_week_is_one_burst() -> None:
    values = quiet_week() + [20] + quiet_week(seed=8, hours=12)
    spike = T0 + 7 * 24 * HOUR
    [burst] = bursts(hourly(values))
    assert burst.start == burst.end == burst.peak == spike
    assert burst.peak_count == 20 and burst.total == 20
    assert burst.baseline == 1.0
    assert 3 <= burst.threshold < 20
    assert burst.key() == "2026-11-27T00"


def test_spike_over_several_hours_sums_its_over_threshold_buckets() -> None:
    values = quiet_week() + [12, 30, 9, 1, 0]
    [burst] = bursts(hourly(values))
    assert burst.start == T0 + 168 * HOUR and burst.end == T0 + 170 * HOUR
    assert burst.peak == T0 + 169 * HOUR and burst.peak_count == 30
    assert burst.total == 12 + 30 + 9


def test_two_spikes_ten_hours_apart_are_one_burst() -> None:
    values = quiet_week() + [20] + [1] * 9 + [25] + [1] * 5
    [burst] = bursts(hourly(values))
    assert burst.start == T0 + 168 * HOUR
    assert burst.end == T0 + 178 * HOUR
    assert burst.peak == T0 + 178 * HOUR and burst.peak_count == 25
    assert burst.total == 45
    assert burst.key() == bucket_key(T0 + 168 * HOUR, HOUR)


def test_two_spikes_three_days_apart_are_two_bursts() -> None:
    values = quiet_week() + [20] + quiet_week(seed=9, hours=3 * 24 - 1) + [22] + [0] * 3
    first, second = bursts(hourly(values))
    assert first.start == first.end == T0 + 168 * HOUR
    assert second.start == T0 + (168 + 72) * HOUR and second.total == 22
    assert first.key() != second.key()


def test_min_gap_is_measured_from_the_previous_bursts_last_bucket() -> None:
    # spikes every 40 h: each within min_gap of the one before, so the chain stays one burst
    values = quiet_week() + ([20] + [1] * 39) * 3
    [burst] = bursts(hourly(values))
    assert burst.total == 60 and burst.end == T0 + (168 + 80) * HOUR
    assert len(bursts(hourly(values), min_gap=timedelta(hours=30))) == 3


def test_too_little_history_never_alarms() -> None:
    values = [1, 0, 2, 1] * 12 + [20]  # 48 h of history, less than the default 3 days
    assert bursts(hourly(values)) == []
    [burst] = bursts(hourly(values), min_history=timedelta(hours=24))
    assert burst.start == T0 + 48 * HOUR


def test_counts_below_min_count_never_burst() -> None:
    zeros = [0] * (4 * 24)
    assert bursts(hourly(zeros + [1])) == []  # mad_floor: one article after silence is not news
    assert bursts(hourly(zeros + [2]), z=0.5) == []  # threshold would be 0.5, but min_count is 3
    [burst] = bursts(hourly(zeros + [3]), z=0.5)
    assert burst.threshold == 3.0 and burst.total == 3
    assert bursts(hourly(zeros + [1]), min_count=1, mad_floor=0.0)  # what the floors prevent


def test_fill_inserts_zero_buckets() -> None:
    sparse = [(T0, 2), (T0 + 3 * HOUR, 5), (T0 + HOUR, 1)]
    assert fill(sparse, HOUR) == [(T0, 2), (T0 + HOUR, 1), (T0 + 2 * HOUR, 0), (T0 + 3 * HOUR, 5)]
    assert fill(sparse, HOUR, until=T0 + 5 * HOUR + timedelta(minutes=30))[-2:] == [
        (T0 + 4 * HOUR, 0), (T0 + 5 * HOUR, 0)]
    assert fill(sparse, HOUR, until=T0 + HOUR) == [(T0, 2), (T0 + HOUR, 1)]
    assert fill([(T0, 1), (T0, 2)], HOUR) == [(T0, 3)]
    assert fill([], HOUR) == []


def test_fill_normalises_to_utc_and_rejects_bad_input() -> None:
    cet = timezone(timedelta(hours=1))
    assert fill([(datetime(2026, 11, 20, 1, tzinfo=cet), 4)], HOUR) == [(T0, 4)]
    with pytest.raises(ValueError, match="naive"):
        fill([(datetime(2026, 11, 20), 1)], HOUR)
    with pytest.raises(ValueError, match="multiple"):
        fill([(T0, 1), (T0 + timedelta(minutes=90), 1)], HOUR)
    with pytest.raises(ValueError, match="negative"):
        fill([(T0, -1)], HOUR)


def test_gaps_count_as_zeros_in_the_baseline() -> None:
    # one article every 5 h: dense, the median is 0 and 4 articles stand out; unfilled it would be 1 (threshold 4.5)
    history = [(T0 + i * HOUR, 1) for i in range(0, 7 * 24, 5)]
    spike = T0 + 7 * 24 * HOUR
    [burst] = bursts([*history, (spike, 4)])
    assert burst.start == spike and burst.baseline == 0.0


def test_active_burst_only_while_recent() -> None:
    values = quiet_week() + [20] + [0] * 48
    spike = T0 + 168 * HOUR
    counts = hourly(values)
    assert active_burst(counts, spike - HOUR) is None  # before it (later buckets are not known yet)
    assert active_burst(counts, spike + timedelta(minutes=20)) == Burst(
        spike, spike, spike, 20, 20, 1.0, bursts(counts)[0].threshold)
    assert active_burst(counts, spike + 3 * HOUR) is not None  # bucket ended 2 h ago
    assert active_burst(counts, spike + 3 * HOUR + timedelta(minutes=1)) is None
    assert active_burst(counts, spike + 6 * HOUR, recent=timedelta(hours=6)) is not None
    assert active_burst([], spike) is None


def test_daily_buckets() -> None:
    rng = random.Random(3)
    days = [rng.randint(5, 8) for _ in range(30)] + [40, 9, 6, 35, 7, 6, 6, 5]
    counts = [(T0 + i * DAY, n) for i, n in enumerate(days)]
    first, second = bursts(counts, bucket=DAY)
    assert first.start == first.end == first.peak == T0 + 30 * DAY and first.total == 40
    assert first.key() == "2026-12-20"
    assert second.start == T0 + 33 * DAY  # 3 days after the first: past the 48 h gap
    assert active_burst(counts, T0 + 34 * DAY, bucket=DAY, recent=DAY) == second
    assert active_burst(counts, T0 + 36 * DAY, bucket=DAY, recent=DAY) is None


def test_bars_html_escapes_labels_and_prints_counts() -> None:
    out = bars_html([("<script>alert(1)</script>", 7), ("2026-12-01T10", 42), ("quiet", 0)],
                    highlight={"2026-12-01T10"})
    assert "<script>" not in out and "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert out.startswith("<table") and out.endswith("</table>") and out.count("<tr>") == 3
    assert ">7</td>" in out and ">42</td>" in out and ">0</td>" in out
    assert "width:240px;height:12px;background-color:#c62828" in out  # the largest, highlighted
    assert "width:40px;height:12px;background-color:#90a4ae" in out  # 7/42 of 240
    assert "width:0px" in out
    assert "http" not in out and "javascript" not in out.lower()
    assert bars_html([]) == ""


def test_bars_text() -> None:
    out = bars_text([("a", 10), ("bbb", 5), ("c", 0)], width=10, highlight=["a"])
    assert out.splitlines() == ["a   ██████████ 10 ◀", "bbb █████ 5", "c   0"]
    assert bars_text([]) == ""
