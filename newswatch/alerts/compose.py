"""The emails: one message per recipient (nobody sees the others), HTML and text, built from Jinja2
templates (``resources/templates``), with the headers mail systems and filters expect.

Analyst-facing text has no rule ids or scores: those go to ``X-Newswatch-*`` headers and a collapsed
"why" section of the HTML. Only http(s) links are ever written. Every header value is stripped of CR/LF
and control characters (a title cannot inject a header); HTML is autoescaped (a title cannot inject markup).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from newswatch.alerts.views import StoryView
from newswatch.settings import Settings

_env = Environment(
    loader=PackageLoader("newswatch", "resources/templates"),
    autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
    trim_blocks=True,
    lstrip_blocks=True,
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


def clean_header(value: Any, limit: int = 250) -> str:
    """One line, no control characters: a header value that cannot start another header."""
    return _CONTROL.sub(" ", str(value or "")).strip()[:limit]


def safe_url(url: Any) -> str | None:
    """The URL if it is http(s), else None (javascript:, data:, file: … never reach an email)."""
    text = str(url or "").strip()
    return text if re.match(r"(?i)^https?://[^\s<>\"]+$", text) else None


def highlight(sentence: str, terms: Sequence[str]) -> Markup:
    """The sentence HTML-escaped, with every matched term (case-insensitive) in ``<mark>``."""
    words = sorted({t for t in terms if t and len(t) > 1}, key=len, reverse=True)
    if not words:
        return escape(sentence)
    pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)
    out, last = [], 0
    for m in pattern.finditer(sentence):
        out.append(escape(sentence[last:m.start()]))
        out.append(Markup("<mark>%s</mark>") % sentence[m.start():m.end()])
        last = m.end()
    out.append(escape(sentence[last:]))
    return Markup("").join(out)


def _terms(lead: dict[str, Any]) -> list[str]:
    terms = [str(t) for t in lead.get("matched_terms") or []]
    for m in lead.get("matches") or []:
        if isinstance(m, dict) and m.get("text"):
            terms.append(str(m["text"]))
    for c in lead.get("claims") or []:
        for key in ("count", "count_max"):
            if c.get(key):
                terms += [f"{int(c[key]):,}", str(int(c[key]))]
    return terms


def story_link(settings: Settings, story_id: str) -> str | None:
    """The story in the timeline page, else in Kibana's Discover, else None."""
    if settings.alerts.timeline_url:
        return safe_url(f"{settings.alerts.timeline_url.rstrip('/')}?story={quote(story_id)}")
    if settings.alerts.kibana_url:
        kql = quote(f"story_id:\"{story_id}\"")
        return safe_url(f"{settings.alerts.kibana_url.rstrip('/')}/app/discover#/?_a=(query:(language:kuery,"
                        f"query:'{kql}'))")
    return None


def story_context(view: StoryView, settings: Settings, *, changes: Sequence[str] = ()) -> dict[str, Any]:
    """What the templates show of a story (no rule ids, no scores: those are in ``why``)."""
    lead = view.lead
    terms = _terms(lead)
    evidence = [str(s) for s in lead.get("evidence") or []][:3]
    claims = []
    for c in view.claims[:8]:
        claims.append({"number": _number(c), "unit": c.get("unit") or "", "source": c.get("source"),
                       "outlet": c.get("outlet"), "url": safe_url(c.get("url")),
                       "date": str(c.get("published") or "")[:10]})
    outlets = [{**o, "url": safe_url(o.get("url")), "date": str(o.get("published") or "")[:10]}
               for o in view.outlets]
    return {
        "topic": view.topic, "story_id": view.story_id, "level": view.level,
        "title": str(lead.get("title") or lead.get("url") or ""), "url": safe_url(lead.get("url")),
        "source": lead.get("source") or "", "published": str(lead.get("published") or "")[:16].replace("T", " "),
        "evidence": [{"text": s, "html": highlight(s, terms)} for s in evidence],
        "claims": claims, "outlets": outlets, "languages": view.languages,
        "entities": list(lead.get("entity_names") or [])[:12], "story_url": story_link(settings, view.story_id),
        "changes": list(changes),
        "why": {"reasons": list(lead.get("reasons") or []), "score": lead.get("score"),
                "concepts": list(lead.get("concepts") or [])},
    }


def _number(claim: dict[str, Any]) -> str:
    text = f"{int(claim['count']):,}" if claim.get("count") else "?"
    if claim.get("count_max"):
        text += f"–{int(claim['count_max']):,}"
    return f"{claim['qualifier']} {text}" if claim.get("qualifier") else text


def render(template: str, ctx: dict[str, Any]) -> tuple[str, str]:
    """(text, html) of ``<template>.txt.j2`` and ``<template>.html.j2``."""
    return (_env.get_template(f"{template}.txt.j2").render(ctx), _env.get_template(f"{template}.html.j2").render(ctx))


def build(settings: Settings, *, to: str, to_name: str | None, subject: str, text: str, html: str,
          message_id: str, list_topic: str | None = None, in_reply_to: str | None = None,
          references: Sequence[str] = (), headers: dict[str, Any] | None = None) -> MIMEMultipart:
    """A multipart/alternative message to one recipient.

    Built with the compat32 MIME classes and ``Header``: the default policy's folding drops the spaces
    between encoded words of non-ASCII subjects (Korean, Russian titles), this does not.
    """
    msg = MIMEMultipart("alternative")
    msg["Subject"] = Header(clean_header(subject, 200), "utf-8")  # type: ignore[assignment]
    msg["From"] = clean_header(settings.smtp.sender)
    msg["To"] = formataddr((str(Header(clean_header(to_name), "utf-8")) if to_name else "", clean_header(to)))
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = " ".join(dict.fromkeys([*references, in_reply_to]))
    name = clean_header(list_topic or "alerts", 60)
    msg["List-Id"] = f"newswatch {name} <{re.sub(r'[^a-z0-9-]+', '-', name.lower())}.{settings.alerts.list_id}>"
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg["Precedence"] = "bulk"
    for key, value in (headers or {}).items():
        if value is not None and value != "":
            msg[f"X-Newswatch-{key}"] = Header(clean_header(value, 900), "utf-8")  # type: ignore[assignment]
    msg.attach(MIMEText(text, "plain", "utf-8"))
    msg.attach(MIMEText(html, "html", "utf-8"))
    return msg
