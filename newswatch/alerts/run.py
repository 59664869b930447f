"""``newswatch alert``: what is due now — retries of failed sends, first alerts, follow-ups, "N more
stories" folds, backlog digests, spike and feed-health alerts.

Per recipient and topic, a story met for the first time is decided once (``threads``):

- published beyond the recipient's freshness window (default 48 h), or known only from feeds' first polls →
  queued for the next digest as earlier coverage (recipients without a digest get one *backlog digest* per
  hour at most): a first poll, a new topic or a re-tag of the history never floods;
- recipient without ``immediate`` mode → queued for the digest;
- within the rate cap (default 20 immediate emails an hour) → an immediate email;
- past it → folded into one "N more stories" email an hour (then queued for the digest).

An alerted story sends a follow-up, threaded under its first email, only when it gains a language, crosses
3/10/30 outlets, reports a larger number, or gains an official source — at most N a day.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from elasticsearch import ConflictError, Elasticsearch

from newswatch import index
from newswatch.alerts import messages, monitors, reconcile, threads
from newswatch.alerts.outbox import Outbox, claim_id, iso
from newswatch.alerts.views import StoryView, recent_story_ids, story_views, thread_views
from newswatch.config import Recipient
from newswatch.settings import Settings
from newswatch.tagging import Topic, load_topics

log = logging.getLogger(__name__)

LANGUAGE_NAMES = {"en": "English", "ko": "Korean", "ru": "Russian", "uk": "Ukrainian", "de": "German",
                  "fr": "French", "es": "Spanish", "ja": "Japanese", "zh": "Chinese", "pl": "Polish"}


def _summary() -> dict[str, Any]:
    return {"immediate": 0, "followups": 0, "folded": 0, "queued_for_digest": 0, "failed": 0,
            "backlog_digests": 0, "spikes": 0, "feed_alerts": 0, "retried": 0, "uncertain": 0, "dead": 0,
            "stories": 0, "story_ids": [], "errors": {}}


def make_outbox(settings: Settings, es: Elasticsearch, smtp_factory: Callable[[], smtplib.SMTP],
                recipients: Sequence[Recipient], now: Callable[[], datetime]) -> Outbox:
    """An outbox whose dead letters are reported to the operators."""
    operators = [r for r in recipients if r.operator]
    box = Outbox(es, settings, smtp_factory, now=now)

    def on_dead(claim: dict[str, Any]) -> None:
        for op in operators:
            out = messages.notice_message(
                settings, op, "dead_letter", str(claim["id"]),
                heading=f"An alert could not be delivered: {claim.get('subject') or claim['id']}",
                lines=[f"Recipient: {claim.get('recipient')}", f"Attempts: {claim.get('attempts')}",
                       f"Last error: {claim.get('error')}", f"Claim: {claim['id']} (status dead; "
                       "`newswatch alerts stats` lists it; fix the cause, then delete the claim to resend)"],
                meta={"recipient_of": claim.get("recipient")})
            box.submit(out)
        if not operators:
            log.error("alert %s is dead and no recipient is an operator to tell", claim["id"])

    box.on_dead = on_dead
    return box


def run_alerts(settings: Settings, es: Elasticsearch, smtp_factory: Callable[[], smtplib.SMTP],
               recipients: Sequence[Recipient], *, topic_name: str | None = None,
               now: Callable[[], datetime] | None = None) -> dict[str, Any]:
    """Send what is due now. Returns the counts (``failed`` > 0 means some sends must be retried)."""
    clock = now or (lambda: datetime.now(UTC))
    box = make_outbox(settings, es, smtp_factory, recipients, clock)
    summary = _summary()
    summary["retried"] = box.retry_due()  # failed claims first, whatever their age
    topics = load_topics(settings.config_dir, default=settings.topic)
    chosen = [topics.get(topic_name)] if topic_name else list(topics.topics)
    alert_index = index.index_name(settings, "alerts")
    for topic in chosen:
        followers = [r for r in recipients if r.follows(topic.name) and (r.immediate or r.has_digest)]
        if not followers:
            continue
        sids = recent_story_ids(es, settings, topic.name, ("core", "related"))
        views = story_views(es, settings, topic.name, sids)
        views = reconcile.merge_split_stories(es, settings, topic.name, views)
        summary["stories"] += len(views)
        for r in followers:
            _plan(settings, es, box, alert_index, r, topic, views, clock(), summary)
    for r in recipients:
        if not r.has_digest:
            summary["backlog_digests"] += _backlog_digest(settings, es, box, alert_index, r, topics, clock())
    summary["spikes"] = monitors.spike_alerts(settings, es, box, recipients, chosen, clock())
    summary["feed_alerts"] = monitors.feed_alerts(settings, es, box, recipients, clock())
    summary["failed"] = box.counts["failed"] + box.counts["dead"]
    summary["uncertain"] = box.counts["uncertain"]
    summary["dead"] = box.counts["dead"]
    summary["sent"] = box.counts["sent"]
    summary["errors"] = dict(box.errors)
    log.info("alerts: %s", {k: v for k, v in summary.items() if k != "story_ids"})
    return summary


def _plan(settings: Settings, es: Elasticsearch, box: Outbox, alert_index: str, r: Recipient, topic: Topic,
          views: dict[str, StoryView], now: datetime, summary: dict[str, Any]) -> None:
    wanted = {sid: v for sid, v in views.items() if r.wants(topic.name, v.level, settings.alert_min_level)}
    if not wanted:
        return
    tids = {sid: threads.thread_id(r.email, topic.name, sid) for sid in wanted}
    known = threads.get_many(es, alert_index, list(tids.values()))
    legacy = threads.get_many(es, alert_index, [f"{topic.name}:{sid}" for sid in wanted if tids[sid] not in known])
    roots = threads.get_many(es, alert_index, [messages.root_id(r.email, topic.name, sid) for sid in wanted
                                               if tids[sid] in known])
    fresh_after = now - timedelta(hours=r.freshness_hours)
    new: list[StoryView] = []
    for sid, view in wanted.items():
        tid = tids[sid]
        thread = known.get(tid)
        if thread is None:
            old = legacy.get(f"{topic.name}:{sid}")
            if old and old["_source"].get("status") == "sent":  # alerted by an earlier release
                threads.create(es, alert_index, tid, _thread_doc(r, view, "legacy", now))
                continue
            new.append(view)
            continue
        src = thread["_source"]
        if src.get("mode") == "immediate":
            root = roots.get(messages.root_id(r.email, topic.name, sid))
            if root is None:  # the decision was written, the email not yet (a crash between): send it now
                out = messages.story_message(settings, r, view, topic.title, thread=tid)
                if box.submit(out) == "sent":
                    summary["immediate"] += 1
                    summary["story_ids"].append(sid)
                continue
            if root["_source"].get("status") in ("sent", "uncertain"):
                _followup(settings, es, box, alert_index, r, topic, view, thread, now, summary)
        elif src.get("mode") == "legacy":
            _followup(settings, es, box, alert_index, r, topic, view, thread, now, summary)
    new.sort(key=lambda v: v.importance(), reverse=True)
    budget = r.rate_cap_per_hour - _sent_last_hour(es, alert_index, r, now)
    folded: list[tuple[dict[str, Any], StoryView]] = []
    fold_key = messages.hour_key(now)
    fold_id = claim_id("fold", r.email, fold_key)
    fold_taken = box.get(fold_id) is not None
    for view in new:
        tid = tids[view.story_id]
        first = view.first_published
        if view.backlog or first is None or first < fresh_after:
            reason = "backlog" if view.backlog else "earlier"
        elif not r.immediate:
            reason = "digest"
        elif budget > 0:
            if threads.create(es, alert_index, tid, _thread_doc(r, view, "immediate", now)):
                budget -= 1
                if box.submit(messages.story_message(settings, r, view, topic.title, thread=tid)) == "sent":
                    summary["immediate"] += 1
                    summary["story_ids"].append(view.story_id)
            continue
        elif not fold_taken:
            doc = {**_thread_doc(r, view, "folded", now), "digest_message": fold_id}
            if threads.create(es, alert_index, tid, doc):
                folded.append(({"id": tid, **doc}, view))
            continue
        else:
            reason = "cap"
        if threads.create(es, alert_index, tid, {**_thread_doc(r, view, "queued", now), "reason": reason,
                                                 "queued_at": iso(now)}):
            summary["queued_for_digest"] += 1
    if folded:
        out = messages.collection_message(settings, r, "fold", fold_key, folded, {topic.name: topic.title},
                                          heading=f"{len(folded)} more stories on {topic.title}",
                                          intro=f"More than {r.rate_cap_per_hour} alerts this hour: the rest "
                                                "are folded into this one email.")
        box.submit(out)
        summary["folded"] += len(folded)


def _thread_doc(r: Recipient, view: StoryView, mode: str, now: datetime) -> dict[str, Any]:
    return {"recipient": r.email, "topic": view.topic, "story_id": view.story_id, "mode": mode,
            "level": view.level, "claimed_at": iso(now), "snapshot": view.snapshot(), "followups": [],
            "title": str(view.lead.get("title") or "")[:300]}


def _sent_last_hour(es: Elasticsearch, alert_index: str, r: Recipient, now: datetime) -> int:
    query = {"bool": {"filter": [{"term": {"kind": "message"}}, {"term": {"recipient": r.email}},
                                 {"terms": {"type": ["story", "followup"]}},
                                 {"range": {"claimed_at": {"gte": iso(now - timedelta(hours=1))}}}]}}
    return int(es.count(index=alert_index, query=query)["count"])


def changes_between(snapshot: dict[str, Any], view: StoryView, steps: Sequence[int]) -> list[str]:
    """What an analyst cares about that the story gained since ``snapshot`` (empty: nothing to send)."""
    now = view.snapshot()
    out = []
    for lang in sorted(set(now["languages"]) - set(snapshot.get("languages") or [])):
        out.append(f"now also reported in {LANGUAGE_NAMES.get(lang, lang)}")
    before, after = int(snapshot.get("outlets") or 0), int(now["outlets"])
    crossed = [s for s in steps if before < s <= after]
    if crossed:
        out.append(f"{after} outlets now report it")
    old_max = snapshot.get("max_number")
    if now["max_number"] and (old_max is None or now["max_number"] > int(old_max)):
        out.append(f"a larger number is reported: {now['max_number']:,}" if old_max else
                   f"a number is reported: {now['max_number']:,}")
    for src in sorted(set(now["sources"]) - set(snapshot.get("sources") or [])):
        out.append(f"statement attributed to {src}")
    return out


def _followup(settings: Settings, es: Elasticsearch, box: Outbox, alert_index: str, r: Recipient, topic: Topic,
              view: StoryView, thread: dict[str, Any], now: datetime, summary: dict[str, Any]) -> None:
    src = thread["_source"]
    sent = [str(t) for t in src.get("followups") or []]
    seq = len(sent) + 1
    fid = messages.followup_id(r.email, topic.name, view.story_id, seq)
    existing = box.get(fid)
    if existing is not None:  # claimed but not recorded on the thread (a crash between): record, finish it
        _record_followup(es, alert_index, thread, existing["_source"].get("snapshot") or view.snapshot(), now)
        box.resume(fid)
        return
    changes = changes_between(src.get("snapshot") or {}, view, settings.alerts.outlet_steps)
    if not changes:
        return
    today = now.date().isoformat()
    if sum(1 for t in sent if t[:10] == today) >= settings.alerts.followups_per_story_per_day:
        return  # the snapshot stays: tomorrow's follow-up reports everything gained meanwhile
    out = messages.story_message(settings, r, view, topic.title, thread=thread["_id"], seq=seq, changes=changes)
    if not box.claim(out):
        return  # a concurrent run took it
    _record_followup(es, alert_index, thread, view.snapshot(), now)
    if box.deliver(fid) == "sent":
        summary["followups"] += 1


def _record_followup(es: Elasticsearch, alert_index: str, thread: dict[str, Any], snapshot: dict[str, Any],
                     now: datetime) -> None:
    src = thread["_source"]
    try:
        es.update(index=alert_index, id=thread["_id"], if_seq_no=thread["_seq_no"],
                  if_primary_term=thread["_primary_term"], refresh=True,
                  doc={"followups": [*(src.get("followups") or []), iso(now)], "snapshot": snapshot})
    except ConflictError:
        pass  # another run recorded it


def _backlog_digest(settings: Settings, es: Elasticsearch, box: Outbox, alert_index: str, r: Recipient,
                    topics: Any, now: datetime) -> int:
    """For a recipient without a digest: one email (at most one an hour) with the stories queued for it."""
    key = messages.hour_key(now)
    bid = claim_id("backlog", r.email, key)
    existing = box.get(bid)
    if existing is not None:
        threads.mark_digested(es, alert_index, existing["_source"].get("thread_ids") or [], bid)
        return 0
    waiting = threads.queued(es, alert_index, r.email)
    if not waiting:
        return 0
    items = thread_views(es, settings, waiting)
    if not items:
        return 0
    titles = {t.name: t.title for t in topics.topics}
    out = messages.collection_message(
        settings, r, "backlog", key, items, titles, heading="Backlog digest",
        intro="Stories found in feeds' history, a new topic or stories published before your freshness window: "
              "collected here instead of one email each.")
    if not box.claim(out):
        return 0
    threads.mark_digested(es, alert_index, out.meta["thread_ids"], bid)
    box.deliver(bid)
    return 1


__all__ = ["changes_between", "make_outbox", "run_alerts"]
