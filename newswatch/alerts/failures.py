"""Failure notices: one email to every operator (``operator: true`` in ``config/recipients.yaml``) when a
pipeline task — or a whole run, e.g. past its ``dagrun_timeout`` — failed for good.

Each notice goes through the outbox, claimed under ``task_failure:<operator>:<dag>:<run>:<task>:<map
index>:<try>``: a callback that runs twice (a retried callback, a second scheduler) sends one email, and a
send that failed is retried by the next ``newswatch alert`` run like any other claim. When Elasticsearch
itself is what failed, no claim can be recorded: the notice is then sent straight over SMTP (it may then
arrive twice if the callback runs twice — better than never). The caller's scheduler never sees an
exception from here: every outcome is in the returned summary and the log.
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parseaddr
from typing import Any

from elasticsearch import Elasticsearch

from newswatch.alerts import messages
from newswatch.alerts.outbox import Outbox, Outgoing, raw_bytes
from newswatch.config import Recipient
from newswatch.settings import Settings

log = logging.getLogger(__name__)

KIND = "task_failure"


@dataclass(frozen=True)
class Failure:
    """What failed: a task try (``task_id`` set) or a whole run (``task_id`` None, ``reason`` e.g. timed_out)."""

    dag_id: str
    run_id: str
    task_id: str | None = None
    try_number: int | None = None
    map_index: int = -1
    error: str | None = None
    log_url: str | None = None
    reason: str | None = None

    @property
    def key(self) -> str:
        what = f"{self.task_id}:{self.map_index}:{self.try_number}" if self.task_id else "run"
        key = f"{self.dag_id}:{self.run_id}:{what}"
        # a claim id is at most 512 bytes; run ids are user-chosen for manual runs
        return key if len(key) <= 200 else hashlib.sha1(key.encode()).hexdigest()

    @property
    def title(self) -> str:
        if not self.task_id:
            return f"{self.dag_id} run failed ({self.reason or 'failed'})"
        mapped = f"[{self.map_index}]" if self.map_index >= 0 else ""
        return f"{self.dag_id}.{self.task_id}{mapped} failed"


def redact(text: str, settings: Settings) -> str:
    """``text`` with every configured secret (ES password and API key, SMTP password) replaced by ``***``."""
    for secret in (settings.es.password, settings.es.api_key, settings.smtp.password):
        value = secret.get_secret_value() if secret is not None else ""
        if value:
            text = text.replace(value, "***")
    return text


def failure_message(settings: Settings, operator: Recipient, failure: Failure) -> Outgoing:
    error = redact(failure.error or "(no error recorded)", settings)
    lines = [f"DAG: {failure.dag_id}", f"Run: {failure.run_id}"]
    if failure.task_id:
        lines.append(f"Task: {failure.task_id}" + (f" (map index {failure.map_index})"
                                                     if failure.map_index >= 0 else ""))
        lines.append(f"Try: {failure.try_number}")
    if failure.reason:
        lines.append(f"Reason: {failure.reason}")
    lines.append(f"Error: {error[:1000]}")
    if failure.log_url:
        lines.append(f"Log: {failure.log_url}")
    lines.append("Retries are exhausted. Fix the cause, then clear the task (with its downstream tasks) to rerun it.")
    return messages.notice_message(
        settings, operator, KIND, failure.key, heading=failure.title, lines=lines,
        meta={"detail": " ".join(lines[:4]), **({"reason": failure.reason} if failure.reason else {})})


def notify_task_failure(settings: Settings, es: Elasticsearch | None, smtp_factory: Callable[[], smtplib.SMTP],
                        recipients: Sequence[Recipient], failure: Failure, *,
                        now: Callable[[], datetime] | None = None) -> dict[str, Any]:
    """Tell every operator about ``failure``, once per operator (see the module docstring).

    ``es`` None (or failing) means no claim can be recorded: the notice is sent without one. Returns
    ``{"operators", "sent", "skipped", "failed", "unclaimed", "outcomes": {address: outcome}}``; never raises
    for a delivery or Elasticsearch problem.
    """
    operators = [r for r in recipients if r.operator]
    summary: dict[str, Any] = {"operators": len(operators), "sent": 0, "skipped": 0, "failed": 0, "unclaimed": 0,
                               "outcomes": {}}
    if not operators:
        log.error("%s: no recipient is an operator (config/recipients.yaml): nobody to tell", failure.title)
        return summary
    box = Outbox(es, settings, smtp_factory, now=now or (lambda: datetime.now(UTC))) if es is not None else None
    for op in operators:
        out = failure_message(settings, op, failure)
        outcome = _submit(box, out) if box is not None else None
        if outcome is None:  # no claim could be recorded: send it anyway
            outcome = _send_unclaimed(settings, smtp_factory, out)
            summary["unclaimed"] += 1
        summary["outcomes"][op.email] = outcome
        if outcome == "sent":
            summary["sent"] += 1
        elif outcome.startswith("already") or outcome == "busy":
            summary["skipped"] += 1
        else:
            summary["failed"] += 1
    log.info("failure notice %s: %s", out.doc_id.split(":", 2)[-1],
             {k: v for k, v in summary.items() if k != "outcomes"})
    return summary


def _submit(box: Outbox, out: Outgoing) -> str | None:
    """``Outbox.submit``, except that a claim that cannot be recorded gives None (send it unclaimed), and a
    problem after the claim exists is an outcome — never a second, unclaimed copy."""
    try:
        claimed = box.claim(out)
    except Exception as exc:  # Elasticsearch down or refusing: the claim cannot be recorded
        log.warning("failure notice %s: no claim could be recorded (%s); sending it without one",
                    out.doc_id, type(exc).__name__)
        return None
    try:
        return box.deliver(out.doc_id) if claimed else box.resume(out.doc_id)
    except Exception as exc:  # the claim stays; the next alert run retries or settles it
        log.error("failure notice %s: %s after its claim was recorded", out.doc_id, type(exc).__name__)
        return f"failed: {type(exc).__name__}"


def _send_unclaimed(settings: Settings, smtp_factory: Callable[[], smtplib.SMTP], out: Outgoing) -> str:
    try:
        conn = smtp_factory()
        try:
            conn.sendmail(parseaddr(settings.smtp.sender)[1], [out.recipient], raw_bytes(out.msg))
        finally:
            try:
                conn.quit()
            except (smtplib.SMTPException, OSError):
                conn.close()
    except (smtplib.SMTPException, OSError) as exc:
        log.error("failure notice %s could not be sent: %s", out.doc_id, type(exc).__name__)
        return f"failed: {type(exc).__name__}"
    return "sent"
