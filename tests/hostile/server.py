"""A misbehaving HTTP server on loopback, and listeners that must never be reached.

Each path is served by a *behaviour*: a function that gets the raw request handler and writes whatever it
likes to the socket (a status line or not, headers or not, bytes fast, slow or forever). Large bodies are
generated while they are sent, so the server side never holds them in memory.
"""

from __future__ import annotations

import multiprocessing as mp
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Behaviour = Callable[["HostileHandler"], None]
CHUNK = 64 * 1024
MB = 1024 * 1024


class HostileServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    # the mixed run opens many connections at once; with the default backlog of 5 a dropped SYN waits for
    # the 1 s retransmit and shows up as a ConnectTimeout under the 1 s connect limit (seen once in CI)
    request_queue_size = 128

    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__((host, 0), HostileHandler)
        self.routes: dict[str, Behaviour] = {}
        self.hits: dict[str, int] = {}
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._process: mp.process.BaseProcess | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def route(self, path: str, behaviour: Behaviour) -> str:
        self.routes[path] = behaviour
        return self.url(path)

    def start(self) -> HostileServer:
        """Serve from a thread of this process (``hits`` are then visible to the test)."""
        self._thread.start()
        return self

    def start_process(self) -> HostileServer:
        """Serve from a forked process, so a busy client cannot starve the server of the GIL (nor the
        reverse), and tracemalloc in the test sees only the client's memory. Register routes first."""
        self._process = mp.get_context("fork").Process(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._process.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._process is not None:
            self._process.terminate()
            self._process.join(5)
        else:
            self.shutdown()
        self.server_close()

    def record(self, path: str) -> None:
        with self._lock:
            self.hits[path] = self.hits.get(path, 0) + 1


class HostileHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 15  # a client that stops reading must not pin a server thread forever
    server: HostileServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        path = self.path.split("?")[0]
        self.server.record(path)
        behaviour = self.server.routes.get(path)
        self.close_connection = True
        try:
            if behaviour is None:
                reply(404, b"not here", "text/plain")(self)
            else:
                behaviour(self)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, TimeoutError, OSError):
            pass  # the client gave up, which is the point of most of these behaviours

    def write_head(self, status: int, headers: Iterable[tuple[str, str]]) -> None:
        lines = [f"HTTP/1.1 {status} X"] + [f"{k}: {v}" for k, v in headers] + ["Connection: close", "", ""]
        self.wfile.write("\r\n".join(lines).encode("latin-1"))


# ------------------------------------------------------------------------------------------ behaviours


def reply(status: int = 200, body: bytes = b"", ctype: str | None = "text/html; charset=utf-8",
          headers: Iterable[tuple[str, str]] = (), length: bool = True) -> Behaviour:
    """A whole response at once."""
    extra = list(headers)

    def run(h: HostileHandler) -> None:
        head = [("Content-Type", ctype)] if ctype else []
        if length:
            head.append(("Content-Length", str(len(body))))
        h.write_head(status, head + extra)
        h.wfile.write(body)

    return run


def stream(blocks: Callable[[], Iterator[bytes]], ctype: str = "application/rss+xml",
           headers: Iterable[tuple[str, str]] = (), declared: int | None = None, chunked: bool = False) -> Behaviour:
    """A body generated block by block: with a declared length, chunked, or read-until-close."""
    extra = list(headers)

    def run(h: HostileHandler) -> None:
        head = [("Content-Type", ctype), *extra]
        if declared is not None:
            head.append(("Content-Length", str(declared)))
        if chunked:
            head.append(("Transfer-Encoding", "chunked"))
        h.write_head(200, head)
        for block in blocks():
            if h.server.stopping.is_set():
                return
            h.wfile.write(b"%x\r\n%s\r\n" % (len(block), block) if chunked else block)
        if chunked:
            h.wfile.write(b"0\r\n\r\n")

    return run


def repeat(block: bytes, total: int) -> Callable[[], Iterator[bytes]]:
    def gen() -> Iterator[bytes]:
        sent = 0
        while sent < total:
            piece = block[: total - sent]
            sent += len(piece)
            yield piece

    return gen


def redirect(location: str | None, status: int = 302) -> Behaviour:
    return reply(status, b"", None, [("Location", location)] if location is not None else [])


def never_answer(h: HostileHandler) -> None:
    """Accept the request, then say nothing until the server stops (or 20 s pass)."""
    h.server.stopping.wait(20)


def drip_body(h: HostileHandler) -> None:
    """Valid headers, then one byte of the body every half second."""
    h.write_head(200, [("Content-Type", "application/rss+xml"), ("Content-Length", "100000")])
    h.wfile.flush()
    for _ in range(100000):
        if h.server.stopping.wait(0.5):
            return
        h.wfile.write(b" ")
        h.wfile.flush()


def drip_headers(h: HostileHandler) -> None:
    """Slowloris in reverse: the status line and headers arrive one byte every half second, forever."""
    pattern = b"HTTP/1.1 200 OK\r\n" + b"X-Padding: " + b"a" * 100000
    for byte in pattern:
        if h.server.stopping.wait(0.5):
            return
        h.wfile.write(bytes([byte]))
        h.wfile.flush()


def raw(data: bytes) -> Behaviour:
    """Bytes on the socket with no HTTP framing of ours (garbage, truncation, nothing at all)."""
    def run(h: HostileHandler) -> None:
        h.wfile.write(data)

    return run


# ------------------------------------------------------------------------------------------ generators


def deflate_bomb(size: int, *, wbits: int) -> bytes:
    """``size`` zero bytes compressed (gzip: wbits 31, zlib: 15); ~1000:1, built without holding ``size``."""
    comp = zlib.compressobj(9, zlib.DEFLATED, wbits)
    zeros = b"\0" * MB
    parts = [comp.compress(zeros) for _ in range(size // MB)]
    parts.append(comp.flush())
    return b"".join(parts)


# --------------------------------------------------------------------------------------- canary sockets


class Canary:
    """A TCP listener that counts connections; used where the test must prove no request was made."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.host = host
        self.port = int(self.sock.getsockname()[1])
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def wait_until(predicate: Callable[[], bool], seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()
