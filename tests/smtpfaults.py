"""Real SMTP servers on loopback that fail on purpose, for fault tests of the alert sender.

``FaultySMTP`` is a small hand-written threaded SMTP server (EHLO/HELO, MAIL, RCPT, DATA with dot-unstuffing, RSET,
NOOP, QUIT) that speaks real SMTP over TCP to :mod:`smtplib`; nothing is mocked. Its ``mode`` can be changed at any
time from the test thread and is read *live* by every session at the step where it matters:

==================== ================================================================= ==========
mode                 what the server does                                              stored?
==================== ================================================================= ==========
``ok``               a normal server: stores the message and replies 250               yes
``refuse``           nothing listens on the port: ``connect()`` gets ECONNREFUSED      no
``drop_after_data``  closes the connection on ``DATA`` without replying 354            no
``drop_during_data`` replies 354, reads one line of the content, closes                no
``lost_reply``       reads the whole message through the final ``.``, stores it,       **yes**
                     closes without the final 250 (accepted, reply lost)
``slow_greeting``    accepts the TCP connection, waits ``delay`` seconds before 220    no
``slow_reply``       stores the message after the final ``.``, waits ``delay`` seconds **yes**
                     before the 250
``reject``           replies ``554 5.7.1 rejected`` to the final ``.`` of DATA         no
``tempfail``         replies ``451 4.3.0 try again later`` to ``MAIL FROM``            no
==================== ================================================================= ==========

How ``refuse`` is made (Linux): the port stays reserved by a second socket that is bound to it but never listens,
and the listening socket is closed, so the kernel answers a SYN with RST and the client's ``connect()`` fails with
``ConnectionRefusedError`` (ECONNREFUSED) at once; nothing is accepted and reset. Switching back to any other mode
binds a new listener on the same port (both sockets use ``SO_REUSEPORT``) before the placeholder is released, so the
port is never free for another process to take. A session that was already open when the mode became ``refuse``
is closed at its next command, as if the server had gone down.

Which step reads the mode: ``slow_greeting`` when the connection is accepted, ``tempfail`` at ``MAIL``,
``drop_after_data`` and ``drop_during_data`` at ``DATA``, ``reject``, ``lost_reply`` and ``slow_reply`` at the final
``.``; ``refuse`` at every command. So a test may switch modes between two sends on the same connection.

Client side, as measured with Python 3.11 ``smtplib.SMTP(host, port, timeout=...).send_message(...)``
(``tests/unit/test_smtpfaults.py`` asserts each of these):

* ``refuse``: ``ConnectionRefusedError`` from the ``SMTP(...)`` constructor;
* ``slow_greeting``: ``SMTPServerDisconnected("Connection unexpectedly closed: timed out")`` from the constructor;
* ``tempfail``: ``SMTPSenderRefused(451, b"4.3.0 try again later", sender)``;
* ``drop_after_data``, ``drop_during_data``, ``lost_reply``: ``SMTPServerDisconnected("Connection unexpectedly
  closed")`` (the last one although the message was stored);
* ``slow_reply``: ``SMTPServerDisconnected("Connection unexpectedly closed: timed out")`` (the message was stored);
* ``reject``: ``SMTPDataError(554, b"5.7.1 rejected")``.
"""

from __future__ import annotations

import email.parser
import email.policy
import io
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from types import TracebackType
from typing import Literal, get_args

import pytest

Mode = Literal[
    "ok",
    "refuse",
    "drop_after_data",
    "drop_during_data",
    "lost_reply",
    "slow_greeting",
    "slow_reply",
    "reject",
    "tempfail",
]
MODES: tuple[str, ...] = get_args(Mode)

_MAX_LINE = 1 << 20  # longest command or content line read (bytes); longer input closes the session
_ACCEPT_POLL = 0.05  # seconds between checks of the stop flag in the accept loop


class _Closed(Exception):
    """The session ends here: the peer went away, or the server closes the connection on purpose."""


def _reusable_socket() -> socket.socket:
    """A TCP socket that may share its port with the listener/placeholder of the same server."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    return sock


def _close_listener(sock: socket.socket) -> None:
    """Stop listening *now*. A plain ``close()`` is not enough while the accept thread is inside ``poll()`` on the
    socket: the kernel keeps it listening until that call returns, and a connection that lands in the backlog
    meanwhile is then reset instead of refused. ``shutdown()`` moves the socket out of LISTEN at once."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


def _address(arg: str, keyword: str) -> str | None:
    """The address of ``FROM:<a@b> PARAMS`` / ``TO:<a@b>`` (without the brackets), or None when malformed."""
    if not arg.upper().startswith(keyword + ":"):
        return None
    rest = arg[len(keyword) + 1 :].strip()
    if rest.startswith("<"):
        end = rest.find(">")
        return rest[1:end] if end >= 0 else None
    return rest.split(" ", 1)[0] if rest else None


class FaultySMTP:
    """A real SMTP server on ``host`` (default 127.0.0.1) and a free port, whose failures tests choose at runtime.

    Use it as a context manager (or call :meth:`start` and :meth:`stop`)::

        with FaultySMTP() as srv:
            smtplib.SMTP("127.0.0.1", srv.port, timeout=2).send_message(msg)
            srv.mode = "lost_reply"
            ...

    Attributes read by tests: ``port``; ``mode`` (settable, see the module docstring; unknown names raise
    ``ValueError``); ``delay`` (seconds of the slow modes, settable); ``delivered`` (the raw bytes of every stored
    message, dot-unstuffed, CRLF line ends as received, without the final ``.``); ``envelopes`` (``(mail_from,
    [rcpt, ...])`` of each stored message, same order); ``connections`` (TCP connections accepted);
    ``data_commands`` (``DATA`` commands received, whatever happened next).
    """

    def __init__(self, mode: Mode = "ok", *, delay: float = 30.0, host: str = "127.0.0.1", port: int = 0) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown FaultySMTP mode {mode!r}; one of {', '.join(MODES)}")
        self.host = host
        self.port = port
        self.delay = delay
        self.delivered: list[bytes] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.connections = 0
        self.data_commands = 0
        self._mode: Mode = mode
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._listener: socket.socket | None = None
        self._placeholder: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._sessions: dict[socket.socket, threading.Thread] = {}
        self._started = False

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> FaultySMTP:
        """Bind the port (a free one when ``port`` is 0), start the accept thread and return ``self``."""
        with self._lock:
            if self._started:
                return self
            if self._stopping.is_set():
                raise RuntimeError("a stopped FaultySMTP cannot be started again; create a new one")
            sock = _reusable_socket()
            sock.bind((self.host, self.port))
            self.port = int(sock.getsockname()[1])
            if self._mode == "refuse":
                self._placeholder = sock  # bound, never listening: connect() is refused
            else:
                sock.listen(16)
                sock.settimeout(_ACCEPT_POLL)
                self._listener = sock
            self._accept_thread = threading.Thread(target=self._accept_loop, name=f"FaultySMTP:{self.port}",
                                                   daemon=True)
            self._started = True
            self._accept_thread.start()
        return self

    def stop(self) -> None:
        """Close the port and every open session, interrupt the slow modes, and join the threads. Idempotent."""
        with self._lock:
            self._stopping.set()
            if self._listener is not None:
                _close_listener(self._listener)
            if self._placeholder is not None:
                self._placeholder.close()
            self._listener = self._placeholder = None
            sessions = dict(self._sessions)
        for conn in sessions:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._accept_thread is not None:
            self._accept_thread.join(5)
        for thread in sessions.values():
            thread.join(5)

    def __enter__(self) -> FaultySMTP:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- what tests use ----------------------------------------------------------------------------------------

    @property
    def mode(self) -> Mode:
        """The current fault (see the module docstring). Setting it takes effect at once for new connections and
        at the next relevant step of open sessions; entering/leaving ``refuse`` closes/reopens the listener."""
        return self._mode

    @mode.setter
    def mode(self, value: Mode) -> None:
        if value not in MODES:
            raise ValueError(f"unknown FaultySMTP mode {value!r}; one of {', '.join(MODES)}")
        with self._lock:
            if self._started and not self._stopping.is_set():
                if value == "refuse" and self._listener is not None:
                    self._refuse()
                elif value != "refuse" and self._listener is None:
                    self._listen_again()
            self._mode = value

    def count_by_message_id(self) -> dict[str, int]:
        """How many stored messages carry each ``Message-ID`` (whitespace of folding removed, angle brackets kept;
        messages without one are counted under ``""``)."""
        parser = email.parser.BytesHeaderParser(policy=email.policy.compat32)
        with self._lock:
            messages = list(self.delivered)
        counts: Counter[str] = Counter()
        for raw in messages:
            value = parser.parsebytes(raw).get("Message-ID")
            counts["".join(str(value).split()) if value is not None else ""] += 1
        return dict(counts)

    def clear(self) -> None:
        """Forget the stored messages and reset ``connections`` and ``data_commands`` to 0."""
        with self._lock:
            self.delivered.clear()
            self.envelopes.clear()
            self.connections = 0
            self.data_commands = 0

    # -- listener --------------------------------------------------------------------------------------------

    def _refuse(self) -> None:
        """Reserve the port with a bound, non-listening socket, then close the listener (lock held)."""
        placeholder = _reusable_socket()
        placeholder.bind((self.host, self.port))
        assert self._listener is not None
        _close_listener(self._listener)
        self._listener = None
        self._placeholder = placeholder

    def _listen_again(self) -> None:
        """Listen on the same port again, then release the placeholder (lock held)."""
        listener = _reusable_socket()
        listener.bind((self.host, self.port))
        listener.listen(16)
        listener.settimeout(_ACCEPT_POLL)
        self._listener = listener
        if self._placeholder is not None:
            self._placeholder.close()
            self._placeholder = None

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            listener = self._listener
            if listener is None:  # refusing
                self._stopping.wait(_ACCEPT_POLL)
                continue
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):  # poll timeout, or the listener was closed under us
                continue
            conn.settimeout(None)
            with self._lock:
                if self._stopping.is_set():
                    conn.close()
                    break
                self.connections += 1
                thread = threading.Thread(target=self._session, args=(conn,), name=f"FaultySMTP:{self.port}:session",
                                          daemon=True)
                self._sessions[conn] = thread
            thread.start()

    # -- one SMTP session ------------------------------------------------------------------------------------

    def _session(self, conn: socket.socket) -> None:
        rfile = conn.makefile("rb")
        try:
            _Session(self, conn, rfile).run()
        except (_Closed, OSError):
            pass
        finally:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            rfile.close()
            conn.close()
            with self._lock:
                self._sessions.pop(conn, None)

    def _store(self, data: bytes, mail_from: str, rcpts: list[str]) -> None:
        with self._lock:
            self.delivered.append(data)
            self.envelopes.append((mail_from, list(rcpts)))


class _Session:
    """The SMTP dialogue on one accepted connection."""

    def __init__(self, server: FaultySMTP, conn: socket.socket, rfile: io.BufferedReader) -> None:
        self.server = server
        self.conn = conn
        self.rfile = rfile
        self.mail_from: str | None = None
        self.rcpts: list[str] = []

    def reply(self, line: str) -> None:
        self.conn.sendall(line.encode("utf-8") + b"\r\n")

    def readline(self) -> bytes:
        line = self.rfile.readline(_MAX_LINE + 1)
        if not line or len(line) > _MAX_LINE:
            raise _Closed
        return line

    def sleep(self) -> None:
        """Wait ``delay`` seconds, or less if the server is stopped meanwhile."""
        if self.server._stopping.wait(self.server.delay):
            raise _Closed

    def closed_if_refusing(self) -> None:
        """End the session when the server is in ``refuse`` mode (it went down while this session was open)."""
        if self.server.mode == "refuse":
            raise _Closed

    def run(self) -> None:
        srv = self.server
        self.closed_if_refusing()
        if srv.mode == "slow_greeting":
            self.sleep()
        self.reply(f"220 {srv.host} FaultySMTP ready")
        while True:
            line = self.readline().rstrip(b"\r\n").decode("utf-8", "replace")
            self.closed_if_refusing()
            verb, _, arg = line.partition(" ")
            handler = getattr(self, "smtp_" + verb.upper(), None) if verb.isalpha() else None
            if handler is None:
                self.reply("500 5.5.2 command not recognized")
            else:
                handler(arg.strip())

    def reset(self) -> None:
        self.mail_from = None
        self.rcpts = []

    def smtp_EHLO(self, arg: str) -> None:
        self.reset()
        self.reply(f"250-{self.server.host} Hello {arg or 'client'}")
        self.reply("250-8BITMIME")
        self.reply("250-SMTPUTF8")
        self.reply("250 HELP")

    def smtp_HELO(self, arg: str) -> None:
        self.reset()
        self.reply(f"250 {self.server.host} Hello {arg or 'client'}")

    def smtp_MAIL(self, arg: str) -> None:
        if self.mail_from is not None:
            self.reply("503 5.5.1 nested MAIL command")
            return
        address = _address(arg, "FROM")
        if address is None:
            self.reply("501 5.5.4 syntax: MAIL FROM:<address>")
            return
        if self.server.mode == "tempfail":
            self.reply("451 4.3.0 try again later")
            return
        self.mail_from = address
        self.reply("250 2.1.0 OK")

    def smtp_RCPT(self, arg: str) -> None:
        if self.mail_from is None:
            self.reply("503 5.5.1 need MAIL before RCPT")
            return
        address = _address(arg, "TO")
        if not address:
            self.reply("501 5.5.4 syntax: RCPT TO:<address>")
            return
        self.rcpts.append(address)
        self.reply("250 2.1.5 OK")

    def smtp_DATA(self, arg: str) -> None:
        srv = self.server
        with srv._lock:
            srv.data_commands += 1
        if arg:
            self.reply("501 5.5.4 DATA takes no argument")
            return
        if self.mail_from is None or not self.rcpts:
            self.reply("503 5.5.1 need MAIL and RCPT before DATA")
            return
        if srv.mode == "drop_after_data":
            raise _Closed
        drop_during = srv.mode == "drop_during_data"
        self.reply("354 End data with <CR><LF>.<CR><LF>")
        if drop_during:
            self.readline()
            raise _Closed
        lines: list[bytes] = []
        while True:
            line = self.readline()
            if line in (b".\r\n", b".\n"):
                break
            lines.append(line[1:] if line.startswith(b".") else line)
        data = b"".join(lines)
        mail_from, rcpts = self.mail_from, self.rcpts
        self.reset()
        mode = srv.mode
        if mode == "reject":
            self.reply("554 5.7.1 rejected")
            return
        srv._store(data, mail_from, rcpts)
        if mode == "lost_reply":
            raise _Closed
        if mode == "slow_reply":
            self.sleep()
        self.reply("250 2.0.0 OK: queued")

    def smtp_RSET(self, arg: str) -> None:
        self.reset()
        self.reply("250 2.0.0 OK")

    def smtp_NOOP(self, arg: str) -> None:
        self.reply("250 2.0.0 OK")

    def smtp_QUIT(self, arg: str) -> None:
        self.reply("221 2.0.0 Bye")
        raise _Closed


@pytest.fixture
def faulty_smtp() -> Iterator[FaultySMTP]:
    """A started :class:`FaultySMTP` in mode ``ok``, stopped after the test. Import it into a test module."""
    with FaultySMTP() as server:
        yield server
