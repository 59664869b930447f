"""Burst detection for per-topic article volume: pure functions, no I/O.

Model. The input is a count of articles per fixed-size bucket (an hour or a day), oldest first; missing buckets
are zero (:func:`fill`). Each bucket is compared with the trailing ``window`` (14 days by default) of buckets
*before* it, through a robust z-score: the baseline is the window's median, the spread its median absolute
deviation scaled by 1.4826 (so it estimates the standard deviation of normal data), and a bucket is over the
threshold when ``count >= max(min_count, median + z * max(mad_scaled, mad_floor))``. ``min_count`` keeps a couple
of articles from ever being a burst, ``mad_floor`` keeps a flat all-zero history (MAD 0) from turning one article
into one, and nothing alarms before ``min_history`` of the series has been seen.

Why the median and MAD, not the mean and standard deviation: news volume is spiky and mostly zero. One past burst
inflates the standard deviation for the whole window and hides the next burst, and it drags the mean up as well;
the median and MAD ignore such outliers (up to half the window) and describe the ordinary day.

Over-threshold buckets are grouped into bursts the way Huginn's peak detector spaces its peaks (14-day window,
minimum spacing of 2 days between peaks, there over mean + k·stddev): a new burst starts only when at least
``min_gap`` (48 h) has passed since the previous burst's last over-threshold bucket; anything over the threshold
sooner extends that burst. A burst is identified by its first over-threshold bucket (:meth:`Burst.key`), which is
computed only from buckets up to it, so the id stays the same while the burst goes on and an alert can be sent
once per burst.
"""

from __future__ import annotations

import html
import statistics
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypedDict, Unpack

__all__ = [
    "Burst",
    "BurstParams",
    "active_burst",
    "bars_html",
    "bars_text",
    "bucket_key",
    "bursts",
    "fill",
]

MAD_SCALE = 1.4826
DEFAULT_BUCKET = timedelta(hours=1)
HIGHLIGHT_COLOUR = "#c62828"
BAR_COLOUR = "#90a4ae"


def bucket_key(start: datetime, bucket: timedelta) -> str:
    """A stable string for the bucket starting at ``start``, as precise as the bucket size needs (UTC):
    ``2026-12-01`` for daily buckets, ``2026-12-01T10`` for hourly ones, ``2026-12-01T10:15`` for shorter ones."""
    start = _utc(start)
    if bucket >= timedelta(days=1):
        return start.strftime("%Y-%m-%d")
    if bucket >= timedelta(hours=1):
        return start.strftime("%Y-%m-%dT%H")
    if bucket >= timedelta(minutes=1):
        return start.strftime("%Y-%m-%dT%H:%M")
    return start.isoformat()


@dataclass(frozen=True)
class Burst:
    """A run of over-threshold buckets, none more than ``min_gap`` after the previous one."""

    start: datetime  # first over-threshold bucket; the burst's stable id is derived from it
    end: datetime  # last over-threshold bucket (its start)
    peak: datetime  # the bucket with the most articles (the earliest of equals)
    peak_count: int
    total: int  # articles in the burst's over-threshold buckets
    baseline: float  # median of the window at the start
    threshold: float  # the threshold the start bucket crossed
    bucket: timedelta = field(default=DEFAULT_BUCKET)  # bucket size, for the precision of key()

    def key(self) -> str:
        """Stable id from the start, e.g. ``2026-12-01T10`` (hourly) or ``2026-12-01`` (daily)."""
        return bucket_key(self.start, self.bucket)


class BurstParams(TypedDict, total=False):
    """The keyword parameters of :func:`bursts`, for :func:`active_burst`."""

    bucket: timedelta
    window: timedelta
    z: float
    min_count: int
    mad_floor: float
    min_history: timedelta
    min_gap: timedelta


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment.isoformat()}: bucket starts must be timezone-aware (UTC)")
    return moment.astimezone(UTC)


def _check_bucket(bucket: timedelta) -> None:
    if bucket <= timedelta(0):
        raise ValueError(f"bucket size must be positive, got {bucket}")


def fill(
    counts: Iterable[tuple[datetime, int]], bucket: timedelta, until: datetime | None = None
) -> list[tuple[datetime, int]]:
    """The dense series: every bucket from the first one given, missing buckets as 0, in UTC, oldest first.

    Bucket starts must lie on the grid of the first one (a multiple of ``bucket`` apart); repeated starts are
    added up. With ``until``, the series ends with the bucket containing ``until``: it is padded with zeros up
    to it, and buckets starting after it are dropped (the series as known at ``until``).
    """
    _check_bucket(bucket)
    summed: dict[datetime, int] = {}
    for start, count in counts:
        if count < 0:
            raise ValueError(f"negative count {count} at {start.isoformat()}")
        moment = _utc(start)
        summed[moment] = summed.get(moment, 0) + count
    if not summed:
        return []
    first, last = min(summed), max(summed)
    off_grid = [t for t in summed if (t - first) % bucket]
    if off_grid:
        raise ValueError(f"bucket start {off_grid[0].isoformat()} is not a multiple of {bucket} after {first}")
    if until is not None:
        limit = _utc(until)
        if limit < first:
            return []
        last = first + ((limit - first) // bucket) * bucket
    size = (last - first) // bucket + 1
    return [(first + i * bucket, summed.get(first + i * bucket, 0)) for i in range(size)]


def _buckets(span: timedelta, bucket: timedelta) -> int:
    """How many buckets cover ``span`` (rounded up)."""
    return -(-span // bucket)


def bursts(
    counts: Iterable[tuple[datetime, int]],
    *,
    bucket: timedelta = DEFAULT_BUCKET,
    window: timedelta = timedelta(days=14),
    z: float = 3.5,
    min_count: int = 3,
    mad_floor: float = 1.0,
    min_history: timedelta = timedelta(days=3),
    min_gap: timedelta = timedelta(hours=48),
) -> list[Burst]:
    """The bursts in ``counts`` (see the module docstring), oldest first.

    A bucket is evaluated against the ``window`` of buckets before it (or as many as the series has), and only
    once the series has at least ``min_history`` of buckets before it.
    """
    _check_bucket(bucket)
    if window < bucket:
        raise ValueError(f"window {window} is shorter than one bucket ({bucket})")
    if z < 0 or mad_floor < 0 or min_gap < timedelta(0) or min_history < timedelta(0):
        raise ValueError("z, mad_floor, min_gap and min_history must not be negative")
    series = fill(counts, bucket)
    width = window // bucket
    needed = max(1, _buckets(min_history, bucket))
    found: list[Burst] = []
    for i in range(needed, len(series)):
        start, count = series[i]
        if count < min_count:
            continue
        history = [n for _, n in series[max(0, i - width) : i]]
        median = float(statistics.median(history))
        mad = float(statistics.median(abs(n - median) for n in history))
        threshold = max(float(min_count), median + z * max(MAD_SCALE * mad, mad_floor))
        if count < threshold:
            continue
        last = found[-1] if found else None
        if last is not None and (start - last.end < min_gap or start - last.end <= bucket):
            peak, peak_count = (start, count) if count > last.peak_count else (last.peak, last.peak_count)
            found[-1] = Burst(last.start, start, peak, peak_count, last.total + count, last.baseline,
                              last.threshold, bucket)
        else:
            found.append(Burst(start, start, start, count, count, median, threshold, bucket))
    return found


def active_burst(
    counts: Iterable[tuple[datetime, int]],
    now: datetime,
    *,
    recent: timedelta = timedelta(hours=2),
    **params: Unpack[BurstParams],
) -> Burst | None:
    """The burst to alert on at ``now``: the latest one whose last over-threshold bucket ended no more than
    ``recent`` before ``now`` (a burst in the bucket still filling counts), else None.

    Only the buckets that have started by ``now`` are used, so replaying history gives what was known then.
    """
    bucket = params.get("bucket", DEFAULT_BUCKET)
    moment = _utc(now)
    found = bursts(fill(counts, bucket, until=moment), **params)
    if found and moment - (found[-1].end + bucket) <= recent:
        return found[-1]
    return None


def _width(count: int, biggest: int, full: int) -> int:
    if count <= 0 or biggest <= 0:
        return 0
    return max(1, round(count / biggest * full))


def bars_html(series: Sequence[tuple[str, int]], *, highlight: Collection[str] = (), width_px: int = 240) -> str:
    """A horizontal bar chart for an HTML email: a ``<table>``, one row per label (HTML-escaped), a bar ``<div>``
    as wide as the count relative to the largest (``width_px`` for the largest), and the count. Highlighted
    labels are drawn in red. Only inline styles: no JavaScript, no external resources. Empty series → ``""``."""
    if not series:
        return ""
    biggest = max(count for _, count in series)
    rows = []
    for label, count in series:
        marked = label in highlight
        colour = HIGHLIGHT_COLOUR if marked else BAR_COLOUR
        text = f"color:{HIGHLIGHT_COLOUR};font-weight:bold;" if marked else "color:#333333;"
        bar = (f'<div style="width:{_width(count, biggest, width_px)}px;height:12px;'
               f'background-color:{colour};font-size:0;line-height:0;"></div>')
        rows.append(
            "<tr>"
            f'<td style="padding:1px 6px 1px 0;white-space:nowrap;text-align:right;{text}">'
            f"{html.escape(label, quote=True)}</td>"
            f'<td style="padding:1px 0;width:{width_px}px;">{bar}</td>'
            f'<td style="padding:1px 0 1px 6px;text-align:right;{text}">{count}</td>'
            "</tr>"
        )
    return (
        '<table role="presentation" cellpadding="0" cellspacing="0" border="0" '
        'style="border-collapse:collapse;font-family:Arial,Helvetica,sans-serif;font-size:12px;">'
        + "".join(rows)
        + "</table>"
    )


def bars_text(series: Sequence[tuple[str, int]], *, width: int = 30, highlight: Collection[str] = ()) -> str:
    """The same chart as plain text: one line per label, a bar of ``█`` (``width`` for the largest count) and
    the count; highlighted labels are marked with ``◀``. Empty series → ``""``."""
    if not series:
        return ""
    biggest = max(count for _, count in series)
    pad = max(len(label) for label, _ in series)
    lines = []
    for label, count in series:
        mark = " ◀" if label in highlight else ""
        bar = "█" * _width(count, biggest, width)
        lines.append(f"{label.ljust(pad)} {bar + ' ' if bar else ''}{count}{mark}")
    return "\n".join(lines)
