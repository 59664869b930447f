"""A local SMTP sink for demo and development: every message received is kept as a ``.eml`` file.

Production deployments point ``NEWSWATCH_SMTP__*`` at a real server (Mailpit in docker/ for users).
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from newswatch.errors import ServiceError

if TYPE_CHECKING:  # aiosmtpd comes with the `stack` extra; reading the kept mail needs none of it
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import SMTP, Envelope, Session


class EmlHandler:
    """aiosmtpd handler writing each message to ``<folder>/<time to the microsecond>-<hash>.eml``: the names
    sort in the order the messages arrived (two in one second too)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        now = time.time()
        stamp = time.strftime("%Y%m%dT%H%M%S", time.localtime(now)) + f".{int(now * 1e6) % 1_000_000:06d}"
        name = f"{stamp}-{hashlib.sha1(data).hexdigest()[:12]}.eml"
        tmp = self.folder / (name + ".tmp")
        tmp.write_bytes(data)
        tmp.rename(self.folder / name)
        return "250 Message accepted for delivery"


def start_sink(folder: Path, host: str = "127.0.0.1", port: int = 8025) -> Controller:
    """Start the sink in a background thread; call ``.stop()`` on the result to end it."""
    try:
        from aiosmtpd.controller import Controller
    except ImportError as exc:
        raise ServiceError("the SMTP sink needs aiosmtpd: pip install 'newswatch[stack]'") from exc
    controller = Controller(EmlHandler(folder), hostname=host, port=port)
    controller.start()
    return controller


def list_mail(folder: Path) -> list[dict[str, Any]]:
    """The messages in ``folder``, oldest first: file, date, from, to, subject, story id."""
    out = []
    for path in sorted(folder.glob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        out.append({"file": str(path), "date": msg.get("Date"), "from": msg.get("From"), "to": msg.get("To"),
                    "subject": msg.get("Subject"), "message_id": msg.get("Message-ID"),
                    "story_id": msg.get("X-Newswatch-Story")})
    return out
