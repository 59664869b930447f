"""A threaded TCP proxy on loopback whose link to the upstream server a test can cut and restore.

    with TCPProxy("127.0.0.1", 9250) as proxy:
        es = Elasticsearch(proxy.url)  # every request goes through the proxy
        proxy.cut()                    # open connections are reset, new ones are refused (ECONNREFUSED)
        proxy.restore()                # connections are accepted and forwarded again

``cut()`` works like ``tests.smtpfaults`` ``refuse``: the port stays reserved by a bound socket that never
listens (so the kernel answers a SYN with RST), and every forwarded connection is closed in both directions,
so a client holding a pooled keep-alive connection sees it die at its next request. ``restore()`` listens on
the same port again (``SO_REUSEPORT``) before the placeholder is released. ``connections`` counts the client
connections accepted; ``refused`` is True while cut.
"""

from __future__ import annotations

import socket
import threading
from types import TracebackType

_ACCEPT_POLL = 0.05  # seconds between checks of the stop flag in the accept loop
_CHUNK = 65536


def _reusable_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    return sock


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


class TCPProxy:
    def __init__(self, target_host: str, target_port: int, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.target = (target_host, target_port)
        self.host = host
        self.port = port
        self.connections = 0
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._listener: socket.socket | None = None
        self._placeholder: socket.socket | None = None
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._threads: list[threading.Thread] = []
        self._accept_thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def refused(self) -> bool:
        return self._listener is None

    # -- lifecycle -------------------------------------------------------------------------------------------
    def start(self) -> TCPProxy:
        sock = _reusable_socket()
        sock.bind((self.host, self.port))
        self.port = int(sock.getsockname()[1])
        sock.listen(64)
        sock.settimeout(_ACCEPT_POLL)
        self._listener = sock
        self._accept_thread = threading.Thread(target=self._accept_loop, name=f"TCPProxy:{self.port}", daemon=True)
        self._accept_thread.start()
        return self

    def stop(self) -> None:
        with self._lock:
            self._stopping.set()
            if self._listener is not None:
                _close(self._listener)
            if self._placeholder is not None:
                self._placeholder.close()
            self._listener = self._placeholder = None
            self._drop_pairs()
        if self._accept_thread is not None:
            self._accept_thread.join(5)
        for t in list(self._threads):
            t.join(5)

    def __enter__(self) -> TCPProxy:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- faults ----------------------------------------------------------------------------------------------
    def cut(self) -> None:
        """Refuse new connections and close every open one (both sides)."""
        with self._lock:
            if self._listener is not None:
                placeholder = _reusable_socket()
                placeholder.bind((self.host, self.port))
                _close(self._listener)
                self._listener = None
                self._placeholder = placeholder
            self._drop_pairs()

    def restore(self) -> None:
        """Accept and forward connections again."""
        with self._lock:
            if self._listener is None and not self._stopping.is_set():
                listener = _reusable_socket()
                listener.bind((self.host, self.port))
                listener.listen(64)
                listener.settimeout(_ACCEPT_POLL)
                self._listener = listener
                if self._placeholder is not None:
                    self._placeholder.close()
                    self._placeholder = None

    # -- forwarding ------------------------------------------------------------------------------------------
    def _drop_pairs(self) -> None:
        for a, b in list(self._pairs):
            _close(a)
            _close(b)
        self._pairs.clear()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            listener = self._listener
            if listener is None:
                self._stopping.wait(_ACCEPT_POLL)
                continue
            try:
                client, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            client.settimeout(None)
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                if self._listener is None or self._stopping.is_set():  # cut meanwhile
                    _close(client)
                    _close(upstream)
                    continue
                self.connections += 1
                pair = (client, upstream)
                self._pairs.add(pair)
                for src, dst in ((client, upstream), (upstream, client)):
                    t = threading.Thread(target=self._pump, args=(src, dst, pair), daemon=True,
                                         name=f"TCPProxy:{self.port}:pump")
                    self._threads.append(t)
                    t.start()
            self._threads = [t for t in self._threads if t.is_alive()]

    def _pump(self, src: socket.socket, dst: socket.socket, pair: tuple[socket.socket, socket.socket]) -> None:
        try:
            while True:
                data = src.recv(_CHUNK)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._pairs.discard(pair)
            _close(src)
            _close(dst)
