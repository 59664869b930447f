"""The outbox: every alert email is a claim document in Elasticsearch before it is an SMTP transaction.

A message's claim has a deterministic id (``<type>:<recipient hash>:<key>``) and carries the whole rendered
message (``raw``), so a retry sends byte-for-byte the same email, however old the articles behind it are.
Its ``status`` moves along::

    pending ──(MAIL, RCPT accepted; recorded just before DATA)──> sending ──(250 to the final dot)──> sent
       │                                                             │
       └─ refused before DATA, or the message never fully sent ──> failed (retried; after
          ``max_attempts``, or a permanent 5xx, it is parked as dead)
                                                                     └─ no reply to the final dot ──> uncertain

What that guarantees:

- **never reached DATA** (connection refused, dropped, timed out, 4xx to MAIL/RCPT/DATA), or the server hung
  up or answered before the terminating dot was written (checked just before writing it): ``failed``; the
  next run sends it again. The server cannot have accepted it.
- **the final reply is lost** (connection dropped or timed out after the dot): ``uncertain``; never resent,
  counted (``newswatch alerts stats``). The server may hold it: sending again could deliver it twice.
- **the worker dies** while a claim is ``pending`` (before DATA): after the lease, another run takes it over
  and sends it. While it is ``sending``: after the lease it becomes ``uncertain`` (never resent).
- **Elasticsearch unreachable between send and mark**: the run fails loudly; the claim stays ``sending`` and
  becomes ``uncertain`` after the lease — one delivery, never two.
- a claim held by a live worker (``pending``/``sending`` inside its lease) is left alone: two runs at once
  never send one message twice (``op_type=create`` and compare-and-set on ``_seq_no``).
"""

from __future__ import annotations

import base64
import email.policy
import hashlib
import logging
import re
import select
import smtplib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from typing import Any

from elasticsearch import ConflictError, Elasticsearch, NotFoundError, helpers
from elasticsearch import ConnectionError as ESConnectionError
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from newswatch import index
from newswatch.errors import AlertError, DeliveryUncertain, MessageRejected, NotAccepted
from newswatch.settings import Settings

log = logging.getLogger(__name__)

FINAL = ("sent", "uncertain", "dead")
_CRLF = b"\r\n"


def rcpt_key(address: str) -> str:
    return hashlib.sha1(address.lower().encode()).hexdigest()[:12]


def claim_id(kind: str, recipient: str, key: str) -> str:
    return f"{kind}:{rcpt_key(recipient)}:{key}"


def message_id(doc_id: str) -> str:
    """Deterministic Message-ID of a claim: a resend is the same message to mail clients."""
    return f"<{hashlib.sha1(doc_id.encode()).hexdigest()[:24]}@newswatch>"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


@dataclass
class Outgoing:
    """One message to claim and send: its claim id, recipient and the built email, plus what to record."""

    doc_id: str
    type: str  # story, followup, digest, backlog, fold, spike, feed, dead_letter
    recipient: str
    msg: Message
    meta: dict[str, Any] = field(default_factory=dict)  # topic, story_ids, thread_ids, published, fetched_at …


def raw_bytes(msg: Message) -> bytes:
    return msg.as_bytes(policy=email.policy.compat32.clone(linesep="\r\n"))


class Outbox:
    """Claims and delivers messages; counts outcomes in ``counts`` (sent, failed, uncertain, dead, skipped)."""

    def __init__(self, es: Elasticsearch, settings: Settings, smtp_factory: Callable[[], smtplib.SMTP],
                 *, now: Callable[[], datetime] | None = None,
                 on_dead: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.es = es
        self.settings = settings
        self.smtp_factory = smtp_factory
        self.index = index.index_name(settings, "alerts")
        self.now = now or (lambda: datetime.now(UTC))
        self.on_dead = on_dead
        self.counts: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.sent_ids: list[str] = []
        self.after_final: list[Callable[[str, dict[str, Any]], None]] = []

    # -- claims -------------------------------------------------------------------------------------------
    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.settings.alerts.lease_seconds)

    def get(self, doc_id: str) -> dict[str, Any] | None:
        try:
            doc: dict[str, Any] = dict(self.es.get(index=self.index, id=doc_id))
            return doc
        except NotFoundError:
            return None

    def claim(self, out: Outgoing) -> bool:
        """Create the claim (status ``pending``, the message inside). False if it already exists."""
        now = self.now()
        body = {
            "kind": "message", "type": out.type, "status": "pending", "recipient": out.recipient,
            "message_id": out.msg["Message-ID"], "subject": str(out.msg["Subject"] or "")[:500],
            "raw": base64.b64encode(raw_bytes(out.msg)).decode("ascii"), "attempts": 0,
            "claimed_at": iso(now), "lease_until": iso(now + self.lease), **out.meta,
        }
        try:
            self.es.create(index=self.index, id=out.doc_id, document=body, refresh=True)
            return True
        except ConflictError:
            return False

    def submit(self, out: Outgoing) -> str:
        """Claim and deliver ``out``; an existing claim is finished instead (taken over if due). The outcome."""
        if self.claim(out):
            return self.deliver(out.doc_id)
        return self.resume(out.doc_id)

    def resume(self, doc_id: str) -> str:
        """Finish an existing claim: deliver it if it failed or its worker died before DATA; mark a
        ``sending`` claim whose worker died ``uncertain``; leave a live or final one alone."""
        current = self.get(doc_id)
        if current is None:
            return "missing"
        src = current["_source"]
        status = src.get("status")
        if status in FINAL:
            self.counts["skipped"] += 1
            return f"already {status}"
        expired = _expired(src, self.now())
        if status == "sending":
            if not expired:
                self.counts["skipped"] += 1
                return "busy"
            self._set(doc_id, current, {"status": "uncertain",
                                        "error": "the worker died during DATA: the message may have been sent"})
            self.counts["uncertain"] += 1
            self._finalised(doc_id, src)
            return "uncertain"
        if status == "pending" and not expired:
            self.counts["skipped"] += 1
            return "busy"
        # failed, or pending past its lease: take it over (compare-and-set: one taker)
        now = self.now()
        try:
            self.es.update(index=self.index, id=doc_id, if_seq_no=current["_seq_no"],
                           if_primary_term=current["_primary_term"], refresh=True,
                           doc={"status": "pending", "lease_until": iso(now + self.lease)})
        except ConflictError:
            self.counts["skipped"] += 1
            return "busy"
        return self.deliver(doc_id)

    def retry_due(self) -> int:
        """Take every due claim whatever its age: failed ones, and pending/sending ones past their lease."""
        now = iso(self.now())
        query = {"bool": {"filter": [{"term": {"kind": "message"}}], "should": [
            {"term": {"status": "failed"}},
            {"bool": {"filter": [{"terms": {"status": ["pending", "sending"]}},
                                 {"range": {"lease_until": {"lt": now}}}]}}], "minimum_should_match": 1}}
        ids = [h["_id"] for h in helpers.scan(self.es, index=self.index, query={"query": query}, _source=False)]
        for doc_id in ids:
            self.resume(doc_id)
        return len(ids)

    # -- delivery -----------------------------------------------------------------------------------------
    def deliver(self, doc_id: str) -> str:
        """One SMTP transaction for a claim we hold; records the outcome. Returns it."""
        current = self.get(doc_id)
        if current is None:
            return "missing"
        src = current["_source"]
        raw = base64.b64decode(src["raw"])
        attempts = int(src.get("attempts") or 0) + 1
        try:
            self._transact(doc_id, src, raw)
        except DeliveryUncertain as exc:
            self._mark(doc_id, {"status": "uncertain", "attempts": attempts, "error": str(exc)[:500],
                                "error_class": "DeliveryUncertain"})
            self.counts["uncertain"] += 1
            self._finalised(doc_id, src)
            log.warning("alert %s: %s", doc_id, exc)
            return "uncertain"
        except AlertError as exc:
            dead = isinstance(exc, MessageRejected) or attempts >= self.settings.alerts.max_attempts
            status = "dead" if dead else "failed"
            self._mark(doc_id, {"status": status, "attempts": attempts, "error": str(exc)[:500],
                                "error_class": type(exc).__name__})
            self.counts[status] += 1
            self.errors[type(exc).__name__] += 1
            log.error("alert %s %s (attempt %d): %s", doc_id, status, attempts, exc)
            if dead:
                self._finalised(doc_id, src)
                if self.on_dead and src.get("type") != "dead_letter":
                    self.on_dead({"id": doc_id, **{k: v for k, v in src.items() if k != "raw"},
                                  "error": str(exc), "attempts": attempts})
            return status
        self._mark(doc_id, {"status": "sent", "attempts": attempts, "sent_at": iso(self.now()),
                            "error": None, "error_class": None})
        self.counts["sent"] += 1
        self.sent_ids.append(doc_id)
        self._finalised(doc_id, src)
        return "sent"

    def _transact(self, doc_id: str, src: dict[str, Any], raw: bytes) -> None:
        sender, rcpt = self.settings.smtp.sender, src["recipient"]
        try:
            conn = _connect(self.smtp_factory)
        except (smtplib.SMTPException, OSError) as exc:
            raise NotAccepted(f"cannot connect to the SMTP server: {type(exc).__name__}: {exc}") from exc
        try:
            try:
                conn.ehlo_or_helo_if_needed()
                code, resp = conn.mail(_envelope(sender))
                _check(code, resp, "MAIL FROM")
                code, resp = conn.rcpt(rcpt)
                _check(code, resp, f"RCPT TO {rcpt}")
            except (smtplib.SMTPException, OSError) as exc:
                if isinstance(exc, AlertError):
                    raise
                raise NotAccepted(f"the SMTP server dropped the transaction: {type(exc).__name__}: {exc}") from exc
            # the point of no return is the final dot: record that we are about to send it
            self._mark(doc_id, {"status": "sending", "sending_at": iso(self.now()),
                                "lease_until": iso(self.now() + self.lease)})
            try:
                code, resp = conn.docmd("data")
                if code != 354:
                    _check(code, resp, "DATA")
                    raise NotAccepted(f"DATA answered {code} {resp!r}")
                payload = re.sub(rb"(?m)^\.", b"..", raw)
                if not payload.endswith(_CRLF):
                    payload += _CRLF
                conn.send(payload)
                _still_listening(conn)  # a server that hung up mid-DATA has not accepted anything
                conn.send(b"." + _CRLF)
            except (smtplib.SMTPException, OSError) as exc:
                if isinstance(exc, AlertError):
                    raise
                raise NotAccepted(f"the connection failed before the message was complete: "
                                  f"{type(exc).__name__}: {exc}") from exc
            try:
                code, resp = conn.getreply()
            except (smtplib.SMTPException, OSError) as exc:
                raise DeliveryUncertain(f"no reply after the message was sent ({type(exc).__name__}: {exc}); the "
                                "server may have accepted it, so it is not sent again") from exc
            if code != 250:
                _check(code, resp, "end of DATA")
                raise NotAccepted(f"end of DATA answered {code} {resp!r}")
        finally:
            try:
                conn.quit()
            except (smtplib.SMTPException, OSError):
                conn.close()

    # -- marks --------------------------------------------------------------------------------------------
    def _mark(self, doc_id: str, doc: dict[str, Any]) -> None:
        try:
            _update(self.es, self.index, doc_id, doc)
        except Exception as exc:
            raise AlertError(f"could not record alert {doc_id} as {doc.get('status')} in Elasticsearch "
                             f"({type(exc).__name__}: {exc}); it is never sent twice: a claim left 'sending' "
                             "becomes 'uncertain' after its lease") from exc

    def _set(self, doc_id: str, current: dict[str, Any], doc: dict[str, Any]) -> None:
        try:
            self.es.update(index=self.index, id=doc_id, doc=doc, if_seq_no=current["_seq_no"],
                           if_primary_term=current["_primary_term"], refresh=True)
        except ConflictError:
            pass

    def _finalised(self, doc_id: str, src: dict[str, Any]) -> None:
        for hook in self.after_final:
            hook(doc_id, src)


def _still_listening(conn: smtplib.SMTP, wait: float = 0.05) -> None:
    """Before the final dot: if the server already spoke (an error reply) or hung up, it cannot have
    accepted the message — raise ``NotAccepted`` so it is retried, instead of an ``uncertain`` later."""
    sock = conn.sock
    if sock is None:
        raise NotAccepted("the connection was closed during DATA, before the end of the message")
    readable, _, _ = select.select([sock], [], [], wait)
    if not readable:
        return
    try:
        code, resp = conn.getreply()
    except (smtplib.SMTPException, OSError) as exc:
        raise NotAccepted(f"the server hung up during DATA, before the end of the message: {exc}") from exc
    _check(code, resp, "DATA (mid-message)")
    raise NotAccepted(f"the server answered {code} during DATA, before the end of the message")


def _expired(src: dict[str, Any], now: datetime) -> bool:
    lease = src.get("lease_until")
    return not lease or datetime.fromisoformat(str(lease).replace("Z", "+00:00")) < now


def _envelope(sender: str) -> str:
    from email.utils import parseaddr

    return parseaddr(sender)[1] or sender


def _check(code: int, resp: bytes, what: str) -> None:
    if 200 <= code < 400:
        return
    text = resp.decode("utf-8", "replace") if isinstance(resp, bytes) else str(resp)
    if code >= 500:
        raise MessageRejected(f"the SMTP server refused {what} for good: {code} {text}")
    raise NotAccepted(f"the SMTP server refused {what} for now: {code} {text}")


@retry(retry=retry_if_exception_type((smtplib.SMTPConnectError, smtplib.SMTPServerDisconnected, ConnectionError,
                                       TimeoutError)),
       stop=stop_after_attempt(3), wait=wait_exponential(multiplier=0.5, max=5), reraise=True)
def _connect(smtp_factory: Callable[[], smtplib.SMTP]) -> smtplib.SMTP:
    """Connecting is retried; the transaction is not (a retry after DATA could deliver the email twice)."""
    return smtp_factory()


@retry(retry=retry_if_exception_type((ESConnectionError, ConnectionError, TimeoutError)),
       stop=stop_after_attempt(3), wait=wait_exponential(multiplier=0.5, max=3), reraise=True)
def _update(es: Elasticsearch, index_: str, doc_id: str, doc: dict[str, Any]) -> None:
    es.update(index=index_, id=doc_id, doc=doc, refresh=True)
