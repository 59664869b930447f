"""Build each kind of alert email as an ``Outgoing`` (claim id, recipient, message, what to record)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from markupsafe import Markup

from newswatch.alerts import compose
from newswatch.alerts.outbox import Outgoing, claim_id, message_id
from newswatch.alerts.views import StoryView
from newswatch.config import Recipient
from newswatch.settings import Settings


def root_id(recipient: str, topic: str, story_id: str) -> str:
    return claim_id("story", recipient, f"{topic}:{story_id}")


def followup_id(recipient: str, topic: str, story_id: str, seq: int) -> str:
    return claim_id("followup", recipient, f"{topic}:{story_id}:{seq}")


def story_message(settings: Settings, r: Recipient, view: StoryView, topic_title: str, *, thread: str,
                  seq: int = 0, changes: Sequence[str] = ()) -> Outgoing:
    """The first alert of a story (``seq`` 0) or its ``seq``-th follow-up, threaded under the first."""
    s = compose.story_context(view, settings, changes=changes)
    root = root_id(r.email, view.topic, view.story_id)
    doc_id = followup_id(r.email, view.topic, view.story_id, seq) if seq else root
    prefix = "Update: " if seq else ""
    subject = f"[newswatch] {prefix}{topic_title}: {s['title']}"
    text, html = compose.render("story", {"s": s, "followup": bool(seq), "changes": list(changes),
                                          "topic_title": topic_title, "recipient": r.email, "subject": subject})
    refs = [message_id(root), *(message_id(followup_id(r.email, view.topic, view.story_id, k)) for k in range(1, seq))]
    lead = view.lead
    msg = compose.build(settings, to=r.email, to_name=r.name, subject=subject, text=text, html=html,
                        message_id=message_id(doc_id), list_topic=view.topic,
                        in_reply_to=refs[-1] if seq else None, references=refs if seq else (),
                        headers={"Story": view.story_id, "Topic": view.topic, "Level": view.level,
                                 "Score": lead.get("score"), "Why": "; ".join(lead.get("reasons") or [])})
    times = view.times() if not seq else _times(view.newest)
    meta = {"topic": view.topic, "story_id": view.story_id, "story_ids": [view.story_id], "thread_ids": [thread],
            "level": view.level, "title": s["title"][:300], "url": s["url"], **times}
    if seq:
        meta["snapshot"] = view.snapshot()
        meta["in_reply_to"] = refs[-1]
        meta["references"] = refs
    return Outgoing(doc_id, "followup" if seq else "story", r.email, msg, meta)


def _times(art: dict[str, Any]) -> dict[str, Any]:
    return {"published": art.get("published"), "fetched_at": art.get("fetched_at"),
            "indexed_at": art.get("indexed_at")}


def collection_message(settings: Settings, r: Recipient, kind: str, key: str,
                       items: Sequence[tuple[dict[str, Any], StoryView]], topic_titles: dict[str, str], *,
                       heading: str, intro: str) -> Outgoing:
    """A digest, backlog digest or "N more stories" email: stories grouped by topic, most important first;
    stories queued as ``earlier``/``backlog`` under "Earlier coverage"."""
    groups: dict[str, dict[str, Any]] = {}
    for thread, view in sorted(items, key=lambda tv: tv[1].importance(), reverse=True):
        g = groups.setdefault(view.topic, {"title": topic_titles.get(view.topic, view.topic), "stories": [],
                                           "earlier": []})
        bucket = "earlier" if thread.get("reason") in ("earlier", "backlog") else "stories"
        g[bucket].append(compose.story_context(view, settings))
    n = len(items)
    doc_id = claim_id(kind, r.email, key)
    subject = f"[newswatch] {heading} — {n} stor{'ies' if n != 1 else 'y'}"
    text, html = compose.render("digest", {"groups": list(groups.values()), "heading": heading, "intro": intro,
                                           "kind": kind, "recipient": r.email, "subject": subject})
    msg = compose.build(settings, to=r.email, to_name=r.name, subject=subject, text=text, html=html,
                        message_id=message_id(doc_id), list_topic=kind,
                        headers={"Kind": kind, "Period": key, "Stories": str(n)})
    meta = {"story_ids": [v.story_id for _, v in items], "thread_ids": [t["id"] for t, _ in items],
            "period": key, "stories": n, "topic": sorted(groups)}
    return Outgoing(doc_id, kind, r.email, msg, meta)


def notice_message(settings: Settings, r: Recipient, kind: str, key: str, *, heading: str, lines: Sequence[str],
                   rows: Sequence[Sequence[Any]] = (), stories: Sequence[StoryView] = (), chart_html: str = "",
                   chart_text: str = "", meta: dict[str, Any] | None = None, topic: str | None = None) -> Outgoing:
    """A spike, feed-health or dead-letter email."""
    doc_id = claim_id(kind, r.email, key)
    subject = f"[newswatch] {heading}"
    ctx = {"heading": heading, "lines": list(lines), "rows": [list(map(str, row)) for row in rows],
           "stories": [compose.story_context(v, settings) for v in stories], "chart_html": Markup(chart_html),
           "chart_text": chart_text, "kind": kind, "recipient": r.email, "subject": subject}
    text, html = compose.render("notice", ctx)
    msg = compose.build(settings, to=r.email, to_name=r.name, subject=subject, text=text, html=html,
                        message_id=message_id(doc_id), list_topic=topic or kind, headers={"Kind": kind, "Key": key})
    return Outgoing(doc_id, kind, r.email, msg, {"period": key, "story_ids": [v.story_id for v in stories],
                                                 **({"topic": topic} if topic else {}), **(meta or {})})


def hour_key(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H")
