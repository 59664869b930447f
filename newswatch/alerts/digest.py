"""``newswatch digest``: one email per recipient per period (hourly, daily or weekly at a local time).

The period that is due is the latest boundary at or before now in the recipient's time zone; its digest id is
``digest:<recipient>:<boundary>``, so a period is sent exactly once, also under retries and concurrent runs
(a missed boundary is folded into the next one: its stories are still queued). A digest holds the recipient's
threads queued before the boundary and not in an earlier digest; an empty period sends nothing.
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from elasticsearch import Elasticsearch

from newswatch import index
from newswatch.alerts import messages, threads
from newswatch.alerts.outbox import claim_id
from newswatch.alerts.run import make_outbox
from newswatch.alerts.views import thread_views
from newswatch.config import WEEKDAYS, DigestConfig, Recipient
from newswatch.settings import Settings
from newswatch.tagging import load_topics


def boundary(cfg: DigestConfig, now: datetime) -> datetime:
    """The latest start of a digest period at or before ``now`` (UTC)."""
    zone = ZoneInfo(cfg.timezone)
    local = now.astimezone(zone)
    if cfg.every == "hourly":
        return local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
    hh, mm = (int(x) for x in cfg.at.split(":"))
    at = datetime.combine(local.date(), time(hh, mm), tzinfo=zone)
    if cfg.every == "daily":
        return (at if at <= local else at - timedelta(days=1)).astimezone(UTC)
    back = (local.weekday() - WEEKDAYS.index(cfg.weekday)) % 7
    at -= timedelta(days=back)
    return (at if at <= local else at - timedelta(days=7)).astimezone(UTC)


def run_digests(settings: Settings, es: Elasticsearch, smtp_factory: Callable[[], smtplib.SMTP],
                recipients: Sequence[Recipient], *, period: str | None = None,
                now: Callable[[], datetime] | None = None) -> dict[str, Any]:
    """Send the digests due now (``period``: only recipients with that period). ``{digests, stories, failed}``."""
    clock = now or (lambda: datetime.now(UTC))
    box = make_outbox(settings, es, smtp_factory, recipients, clock)
    alert_index = index.index_name(settings, "alerts")
    titles = {t.name: t.title for t in load_topics(settings.config_dir, default=settings.topic).topics}
    summary = {"digests": 0, "stories": 0, "failed": 0, "uncertain": 0}
    for r in recipients:
        if not r.has_digest or r.digest is None or (period and r.digest.every != period):
            continue
        edge = boundary(r.digest, clock())
        key = edge.strftime("%Y-%m-%dT%H:%MZ")
        did = claim_id("digest", r.email, key)
        existing = box.get(did)
        if existing is not None:  # this period's digest is claimed: finish it (record, retry if it failed)
            threads.mark_digested(es, alert_index, existing["_source"].get("thread_ids") or [], did)
            box.resume(did)
            continue
        waiting = threads.queued(es, alert_index, r.email, before=edge)
        items = thread_views(es, settings, waiting)
        if not items:
            continue  # an empty period sends nothing
        label = {"hourly": "Hourly", "daily": "Daily", "weekly": "Weekly"}[r.digest.every]
        local = edge.astimezone(ZoneInfo(r.digest.timezone))
        out = messages.collection_message(
            settings, r, "digest", key, items, titles, heading=f"{label} digest, {local:%Y-%m-%d %H:%M} "
                                                               f"{r.digest.timezone}",
            intro="Stories since your last digest, by topic, most important first.")
        if not box.claim(out):
            continue
        threads.mark_digested(es, alert_index, out.meta["thread_ids"], did)
        if box.deliver(did) == "sent":
            summary["digests"] += 1
            summary["stories"] += len(items)
    summary["failed"] = box.counts["failed"] + box.counts["dead"]
    summary["uncertain"] = box.counts["uncertain"]
    return summary
