"""The fault-injecting SMTP server of ``tests/smtpfaults.py``, exercised with the real ``smtplib`` over loopback."""

from __future__ import annotations

import email
import smtplib
import socket
import time
from email.message import EmailMessage

import pytest

from tests.smtpfaults import MODES, FaultySMTP, faulty_smtp  # noqa: F401  (faulty_smtp is a fixture)

CLIENT_TIMEOUT = 0.5
SLOW_DELAY = 1.5


def make_message(n: int = 1, body: str = "Hello.\n.A line that starts with a dot.\n..two dots\n") -> EmailMessage:
    """A small alert-like email with a unique Message-ID."""
    msg = EmailMessage()
    msg["From"] = "newswatch@example.test"
    msg["To"] = "analyst@example.test"
    msg["Subject"] = f"Story {n}"
    msg["Message-ID"] = f"<story-{n}@newswatch.test>"
    msg.set_content(body)
    return msg


def send(port: int, msg: EmailMessage, timeout: float = CLIENT_TIMEOUT) -> None:
    """Connect, send one message, and quit (closing if QUIT fails), as the alert sender does."""
    conn = smtplib.SMTP("127.0.0.1", port, timeout=timeout)
    try:
        conn.send_message(msg)
    finally:
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            conn.close()


def test_ok_stores_the_message_dot_unstuffed_with_its_envelope(faulty_smtp: FaultySMTP) -> None:  # noqa: F811
    send(faulty_smtp.port, make_message(1))
    assert len(faulty_smtp.delivered) == 1
    stored = email.message_from_bytes(faulty_smtp.delivered[0])
    assert stored["Subject"] == "Story 1"
    assert stored.get_payload() == "Hello.\r\n.A line that starts with a dot.\r\n..two dots\r\n"
    assert faulty_smtp.envelopes == [("newswatch@example.test", ["analyst@example.test"])]
    assert faulty_smtp.count_by_message_id() == {"<story-1@newswatch.test>": 1}
    assert (faulty_smtp.connections, faulty_smtp.data_commands) == (1, 1)


# mode -> (exception class, text in str(exception), raised by the SMTP() constructor?, message stored?)
FAILURES: dict[str, tuple[type[BaseException], str, bool, bool]] = {
    "refuse": (ConnectionRefusedError, "Connection refused", True, False),
    "slow_greeting": (smtplib.SMTPServerDisconnected, "Connection unexpectedly closed: timed out", True, False),
    "tempfail": (smtplib.SMTPSenderRefused, "451", False, False),
    "drop_after_data": (smtplib.SMTPServerDisconnected, "Connection unexpectedly closed", False, False),
    "drop_during_data": (smtplib.SMTPServerDisconnected, "Connection unexpectedly closed", False, False),
    "lost_reply": (smtplib.SMTPServerDisconnected, "Connection unexpectedly closed", False, True),
    "slow_reply": (smtplib.SMTPServerDisconnected, "Connection unexpectedly closed: timed out", False, True),
    "reject": (smtplib.SMTPDataError, "554", False, False),
}


def test_every_mode_is_covered() -> None:
    assert set(MODES) == set(FAILURES) | {"ok"}


@pytest.mark.parametrize("mode", sorted(FAILURES))
def test_fault_modes_raise_the_documented_client_error(mode: str) -> None:
    exc_type, text, at_connect, stored = FAILURES[mode]
    with FaultySMTP(mode, delay=SLOW_DELAY) as srv:  # type: ignore[arg-type]
        started = time.monotonic()
        if at_connect:
            with pytest.raises(exc_type, match=text):
                smtplib.SMTP("127.0.0.1", srv.port, timeout=CLIENT_TIMEOUT)
        else:
            conn = smtplib.SMTP("127.0.0.1", srv.port, timeout=CLIENT_TIMEOUT)
            with pytest.raises(exc_type, match=text):
                conn.send_message(make_message(7))
            conn.close()
        assert time.monotonic() - started < SLOW_DELAY  # the client gave up before the server answered
        assert srv.count_by_message_id() == ({"<story-7@newswatch.test>": 1} if stored else {})
        assert srv.connections == (0 if mode == "refuse" else 1)
        assert srv.data_commands == (1 if mode in {"drop_after_data", "drop_during_data", "lost_reply", "slow_reply",
                                                   "reject"} else 0)


def test_exact_replies_of_reject_and_tempfail(faulty_smtp: FaultySMTP) -> None:  # noqa: F811
    faulty_smtp.mode = "tempfail"
    with pytest.raises(smtplib.SMTPSenderRefused) as refused:
        send(faulty_smtp.port, make_message(1))
    assert (refused.value.smtp_code, refused.value.smtp_error) == (451, b"4.3.0 try again later")
    assert refused.value.sender == "newswatch@example.test"
    faulty_smtp.mode = "reject"
    with pytest.raises(smtplib.SMTPDataError) as rejected:
        send(faulty_smtp.port, make_message(2))
    assert rejected.value.args == (554, b"5.7.1 rejected")
    assert faulty_smtp.delivered == []


def test_refuse_is_econnrefused_and_the_same_port_comes_back(faulty_smtp: FaultySMTP) -> None:  # noqa: F811
    port = faulty_smtp.port
    send(port, make_message(1))
    faulty_smtp.mode = "refuse"
    for _ in range(3):
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
    faulty_smtp.mode = "ok"
    assert faulty_smtp.port == port
    send(port, make_message(2))
    assert faulty_smtp.count_by_message_id() == {"<story-1@newswatch.test>": 1, "<story-2@newswatch.test>": 1}


def test_server_created_in_refuse_mode_starts_listening_when_switched() -> None:
    with FaultySMTP("refuse") as srv:
        assert srv.port > 0
        with pytest.raises(ConnectionRefusedError):
            smtplib.SMTP("127.0.0.1", srv.port, timeout=CLIENT_TIMEOUT)
        srv.mode = "ok"
        send(srv.port, make_message(1))
        assert len(srv.delivered) == 1


def test_mode_switches_between_sends_on_one_connection(faulty_smtp: FaultySMTP) -> None:  # noqa: F811
    conn = smtplib.SMTP("127.0.0.1", faulty_smtp.port, timeout=CLIENT_TIMEOUT)
    faulty_smtp.mode = "tempfail"
    with pytest.raises(smtplib.SMTPSenderRefused):
        conn.send_message(make_message(1))
    faulty_smtp.mode = "reject"
    with pytest.raises(smtplib.SMTPDataError):
        conn.send_message(make_message(2))
    faulty_smtp.mode = "ok"
    conn.send_message(make_message(3))
    faulty_smtp.mode = "refuse"  # the server "goes down": the open session is closed at its next command
    with pytest.raises(smtplib.SMTPServerDisconnected):
        conn.noop()
    conn.close()
    assert faulty_smtp.count_by_message_id() == {"<story-3@newswatch.test>": 1}
    assert faulty_smtp.connections == 1


def test_lost_reply_then_retry_delivers_twice(faulty_smtp: FaultySMTP) -> None:  # noqa: F811
    """The ambiguous case: a sender that retries after a lost 250 makes a duplicate, visible by Message-ID."""
    faulty_smtp.mode = "lost_reply"
    with pytest.raises(smtplib.SMTPServerDisconnected):
        send(faulty_smtp.port, make_message(1))
    faulty_smtp.mode = "ok"
    send(faulty_smtp.port, make_message(1))
    send(faulty_smtp.port, make_message(2))
    assert faulty_smtp.count_by_message_id() == {"<story-1@newswatch.test>": 2, "<story-2@newswatch.test>": 1}
    assert (faulty_smtp.connections, faulty_smtp.data_commands) == (3, 3)


def test_hand_driven_client_sees_each_step(faulty_smtp: FaultySMTP) -> None:  # noqa: F811
    """Clients that do mail()/rcpt()/docmd("data")/send()/getreply() themselves."""
    body = b"Message-ID: <manual@newswatch.test>\r\nSubject: manual\r\n\r\n..stuffed\r\n.\r\n"

    conn = smtplib.SMTP("127.0.0.1", faulty_smtp.port, timeout=CLIENT_TIMEOUT)
    conn.ehlo()
    assert conn.has_extn("8bitmime") and conn.has_extn("smtputf8")
    assert conn.mail("a@example.test")[0] == 250
    assert conn.rcpt("b@example.test")[0] == 250
    assert conn.docmd("data")[0] == 354
    conn.send(body)
    assert conn.getreply()[0] == 250
    assert conn.rset()[0] == 250 and conn.noop()[0] == 250

    faulty_smtp.mode = "drop_during_data"
    conn.mail("a@example.test")
    conn.rcpt("b@example.test")
    assert conn.docmd("data")[0] == 354
    conn.send(b"Subject: partial\r\n")
    with pytest.raises(smtplib.SMTPServerDisconnected):
        conn.getreply()

    faulty_smtp.mode = "drop_after_data"
    conn.connect("127.0.0.1", faulty_smtp.port)
    conn.mail("a@example.test")
    conn.rcpt("b@example.test")
    with pytest.raises(smtplib.SMTPServerDisconnected):
        conn.docmd("data")

    faulty_smtp.mode = "lost_reply"
    conn.connect("127.0.0.1", faulty_smtp.port)
    conn.mail("a@example.test")
    conn.rcpt("b@example.test")
    assert conn.docmd("data")[0] == 354
    conn.send(body)
    with pytest.raises(smtplib.SMTPServerDisconnected):
        conn.getreply()

    assert faulty_smtp.count_by_message_id() == {"<manual@newswatch.test>": 2}
    assert faulty_smtp.delivered[0].endswith(b"\r\n.stuffed\r\n")
    assert (faulty_smtp.connections, faulty_smtp.data_commands) == (3, 4)


def test_protocol_errors_get_5xx_replies(faulty_smtp: FaultySMTP) -> None:  # noqa: F811
    conn = smtplib.SMTP("127.0.0.1", faulty_smtp.port, timeout=CLIENT_TIMEOUT)
    assert conn.rcpt("b@example.test")[0] == 503
    assert conn.docmd("data")[0] == 503
    assert conn.docmd("bogus")[0] == 500
    assert conn.helo("client")[0] == 250
    assert conn.quit()[0] == 221
    assert faulty_smtp.delivered == []


def test_slow_greeting_then_ok_for_a_patient_client() -> None:
    with FaultySMTP("slow_greeting", delay=0.3) as srv:
        send(srv.port, make_message(1), timeout=2)
        assert len(srv.delivered) == 1


def test_stop_interrupts_the_slow_modes_quickly() -> None:
    srv = FaultySMTP("slow_reply", delay=30).start()
    with pytest.raises(smtplib.SMTPServerDisconnected):
        send(srv.port, make_message(1))
    srv.mode = "slow_greeting"
    with pytest.raises(smtplib.SMTPServerDisconnected):
        smtplib.SMTP("127.0.0.1", srv.port, timeout=CLIENT_TIMEOUT)
    started = time.monotonic()
    srv.stop()
    srv.stop()  # idempotent
    assert time.monotonic() - started < 2
    assert srv.count_by_message_id() == {"<story-1@newswatch.test>": 1}
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", srv.port), timeout=1)


def test_unknown_mode_is_refused(faulty_smtp: FaultySMTP) -> None:  # noqa: F811
    with pytest.raises(ValueError, match="unknown FaultySMTP mode"):
        faulty_smtp.mode = "flaky"  # type: ignore[assignment]
    with pytest.raises(ValueError, match="unknown FaultySMTP mode"):
        FaultySMTP("flaky")  # type: ignore[arg-type]
    assert faulty_smtp.mode == "ok"


def test_count_by_message_id_and_clear(faulty_smtp: FaultySMTP) -> None:  # noqa: F811
    no_id = make_message(9)
    del no_id["Message-ID"]
    for msg in (make_message(1), make_message(1), make_message(2), no_id):
        send(faulty_smtp.port, msg)
    assert faulty_smtp.count_by_message_id() == {
        "<story-1@newswatch.test>": 2,
        "<story-2@newswatch.test>": 1,
        "": 1,
    }
    faulty_smtp.clear()
    assert (faulty_smtp.delivered, faulty_smtp.count_by_message_id(), faulty_smtp.connections) == ([], {}, 0)
