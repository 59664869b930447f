"""Alert emails: one email per new matching story, never two.

A story is alerted once per topic. Before sending, the alert is *claimed* by creating the document
``<topic>:<story_id>`` in the alerts index with ``op_type=create``: a second run, a retried task or a
parallel worker gets a conflict and sends nothing. After a successful send the claim is marked ``sent``;
a failed send marks it ``failed`` and the next run takes it again (guarded by ``if_seq_no``). Each email
has a deterministic ``Message-ID`` so a crash between send and mark cannot make mail clients show two.
"""

from __future__ import annotations

import logging
import smtplib
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formatdate
from typing import Any

from elasticsearch import ConflictError, Elasticsearch, helpers
from jinja2 import Environment, PackageLoader, select_autoescape
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from newswatch import index
from newswatch.config import Recipient
from newswatch.errors import AlertError, classify
from newswatch.settings import Settings
from newswatch.tagging import Topic, load_topics

log = logging.getLogger(__name__)

_env = Environment(
    loader=PackageLoader("newswatch", "resources/templates"),
    autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
    trim_blocks=False,
)


def alert_id(topic: str, story_id: str) -> str:
    return f"{topic}:{story_id}"


def message_id(topic: str, story_id: str) -> str:
    """Deterministic Message-ID: a resend after a crash is the same message to mail clients."""
    return f"<{story_id}.{topic}@newswatch>"


def find_new_stories(es: Elasticsearch, settings: Settings, topic: str, levels: Sequence[str]) -> list[dict[str, Any]]:
    """Stories at ``levels`` with no alert yet (or whose alert failed), each with its representative article.

    The representative is the earliest published article of the story; ``outlets`` lists every source.
    """
    art_index = index.index_name(settings, "articles")
    stories: dict[str, list[dict[str, Any]]] = defaultdict(list)
    # Only recent articles can make a story new: keeps each run's scan small however long the history grows.
    recent = {"range": {"indexed_at": {"gte": f"now-{settings.alert_lookback_days}d"}}}
    # each topic's own result (``topics.<name>``), not the article's primary topic: one article can be
    # core for two topics and alert both topics' subscribers
    query = {"bool": {"filter": [{"terms": {f"topics.{topic}.level": list(levels)}}, recent]}}
    fields = ["id", "url", "title", "source", "published", "claims", "entity_names", "story_id",
              f"topics.{topic}"]
    for hit in helpers.scan(es, index=art_index, query={"query": query}, _source=fields, size=500):
        src = hit["_source"]
        src.update((src.pop("topics", {}) or {}).get(topic, {}))  # level, score, evidence, reasons, terms
        stories[src.get("story_id") or src["id"]].append(src)
    if not stories:
        return []
    alert_index = index.index_name(settings, "alerts")
    resp = es.mget(index=alert_index, ids=[alert_id(topic, s) for s in stories], source=["status", "claimed_at"])
    done = {d["_id"] for d in resp["docs"] if d.get("found") and not _retryable(d["_source"])}
    out = []
    for story_id, arts in stories.items():
        if alert_id(topic, story_id) in done:
            continue
        arts.sort(key=lambda a: (a.get("published") or "", a["id"]))
        rep = dict(arts[0])
        rep["story_id"] = story_id
        rep["outlets"] = list(dict.fromkeys(a.get("source") or "" for a in arts))
        out.append(rep)
    out.sort(key=lambda s: s.get("published") or "")
    return out


def render_alert(story: dict[str, Any], *, topic: str, topic_title: str) -> tuple[str, str, str]:
    """(subject, text body, html body) for a story."""
    ctx = {
        "topic": topic, "topic_title": topic_title, "title": story.get("title") or story["url"],
        "source": story.get("source") or "", "published": story.get("published") or "", "url": story["url"],
        "level": story.get("level"), "score": float(story.get("score") or 0), "reasons": story.get("reasons") or [],
        "evidence": story.get("evidence") or [], "matched_terms": story.get("matched_terms") or [],
        "claims": story.get("claims") or [], "entities": story.get("entity_names") or [],
        "outlets": story.get("outlets") or [], "story_id": story["story_id"],
    }
    subject = f"[newswatch] {topic_title}: {ctx['title']}"[:200]
    return subject, _env.get_template("alert.txt.j2").render(ctx), _env.get_template("alert.html.j2").render(ctx)


def build_message(story: dict[str, Any], recipients: Sequence[str], settings: Settings, *, topic: str,
                  topic_title: str) -> Message:
    """The alert email (text and HTML alternatives, deterministic Message-ID).

    Built with the compat32 MIME classes and ``Header``: the default policy's header folding drops the
    spaces between encoded words of non-ASCII subjects (Korean, Russian titles), this does not.
    """
    subject, text, html = render_alert(story, topic=topic, topic_title=topic_title)
    msg = MIMEMultipart("alternative")
    msg["Subject"] = Header(subject, "utf-8")  # type: ignore[assignment]
    msg["From"] = settings.smtp.sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = message_id(topic, story["story_id"])
    msg["X-Newswatch-Story"] = story["story_id"]
    msg["X-Newswatch-Level"] = str(story.get("level"))
    msg.attach(MIMEText(text, "plain", "utf-8"))
    msg.attach(MIMEText(html, "html", "utf-8"))
    return msg


@retry(retry=retry_if_exception_type((smtplib.SMTPConnectError, smtplib.SMTPServerDisconnected, ConnectionError,
                                       TimeoutError)),
       stop=stop_after_attempt(3), wait=wait_exponential(multiplier=0.5, max=5), reraise=True)
def _connect(smtp_factory: Callable[[], smtplib.SMTP]) -> smtplib.SMTP:
    """Connecting is retried; sending is not (a retry after DATA could deliver the email twice)."""
    return smtp_factory()


def _send(smtp_factory: Callable[[], smtplib.SMTP], msg: Message) -> None:
    """Send one message; any failure is an ``AlertError`` naming what failed (its cause chained)."""
    try:
        conn = _connect(smtp_factory)
    except (smtplib.SMTPException, OSError) as exc:
        raise AlertError(f"cannot connect to the SMTP server: {type(exc).__name__}: {exc}") from exc
    try:
        conn.send_message(msg)
    except (smtplib.SMTPException, OSError) as exc:
        raise AlertError(f"the SMTP server did not take the message: {type(exc).__name__}: {exc}") from exc
    finally:
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            conn.close()


def send_alerts(
    settings: Settings,
    es: Elasticsearch,
    smtp_factory: Callable[[], smtplib.SMTP],
    recipients: Sequence[Recipient],
    *,
    topic_name: str | None = None,
) -> dict[str, Any]:
    """Send one email per new story and topic to the recipients of that topic, for every enabled topic
    (or ``topic_name`` only). Returns counts and the story ids."""
    topics = load_topics(settings.config_dir, default=settings.topic)
    chosen = [topics.get(topic_name)] if topic_name else list(topics.topics)
    summary: dict[str, Any] = {"stories": 0, "sent": 0, "skipped": 0, "failed": 0, "story_ids": [], "errors": {}}
    for topic in chosen:
        _send_topic(settings, es, smtp_factory, recipients, topic, summary)
    log.info("alerts: %s", {k: v for k, v in summary.items() if k != "story_ids"})
    return summary


def _send_topic(settings: Settings, es: Elasticsearch, smtp_factory: Callable[[], smtplib.SMTP],
                recipients: Sequence[Recipient], topic: Topic, summary: dict[str, Any]) -> None:
    levels = ["core"] if settings.alert_min_level == "core" else ["core", "related"]
    alert_index = index.index_name(settings, "alerts")
    for story in find_new_stories(es, settings, topic.name, levels):
        summary["stories"] += 1
        to = [r.email for r in recipients if r.wants(topic.name, story.get("level") or "none")]
        if not to:
            summary["skipped"] += 1
            continue
        doc_id = alert_id(topic.name, story["story_id"])
        claim = {"story_id": story["story_id"], "topic": topic.name, "article_id": story["id"],
                 "title": story.get("title"), "url": story["url"], "recipients": to, "status": "pending",
                 "message_id": message_id(topic.name, story["story_id"]),
                 "claimed_at": datetime.now(UTC).isoformat()}
        if not _claim(es, alert_index, doc_id, claim):
            summary["skipped"] += 1
            continue
        try:
            _send(smtp_factory, build_message(story, to, settings, topic=topic.name, topic_title=topic.title))
        except AlertError as exc:
            es.update(index=alert_index, id=doc_id, doc={"status": "failed", "error": str(exc)[:500],
                                                          "error_class": exc.error_class}, refresh=True)
            summary["failed"] += 1
            summary["errors"][classify(exc)] = summary["errors"].get(classify(exc), 0) + 1
            log.error("alert for story %s failed: %s", story["story_id"], exc)
            continue
        es.update(index=alert_index, id=doc_id, doc={"status": "sent", "sent_at": datetime.now(UTC).isoformat()},
                  refresh=True)
        summary["sent"] += 1
        summary["story_ids"].append(story["story_id"])


STALE_CLAIM = timedelta(minutes=30)


def _retryable(alert: dict[str, Any]) -> bool:
    """A failed send, or a claim left ``pending`` by a worker that died before marking it, is taken again.

    A dead worker may have sent the email already; the fixed Message-ID lets mail clients fold the copy.
    """
    if alert.get("status") == "failed":
        return True
    claimed = alert.get("claimed_at")
    return alert.get("status") == "pending" and bool(claimed) and (
        datetime.now(UTC) - datetime.fromisoformat(str(claimed)) > STALE_CLAIM
    )


def _claim(es: Elasticsearch, alert_index: str, doc_id: str, claim: dict[str, Any]) -> bool:
    """Create the alert claim; take over a failed or stale one. False when someone else holds it."""
    try:
        es.create(index=alert_index, id=doc_id, document=claim, refresh=True)
        return True
    except ConflictError:
        pass
    current = es.get(index=alert_index, id=doc_id)
    if not _retryable(current["_source"]):
        return False
    try:
        es.index(index=alert_index, id=doc_id, document=claim, if_seq_no=current["_seq_no"],
                 if_primary_term=current["_primary_term"], refresh=True)
        return True
    except ConflictError:
        return False
