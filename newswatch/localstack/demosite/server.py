"""The sample site's HTTP server: stdlib ``ThreadingHTTPServer``, no extra dependencies.

It behaves like a well-run news site so the fetcher's politeness code has something to exercise:
correct ``Content-Type`` with charset, ``ETag`` and ``Last-Modified`` on every page, ``304 Not Modified``
for ``If-None-Match`` / ``If-Modified-Since``, ``HEAD``, ``robots.txt``, 301 to the trailing-slash form of
a directory-like path and 404 for everything else. It is quiet unless ``NEWSWATCH_DEMOSITE_LOG`` is set
to a non-empty value, because request lines on stderr drown test and demo output.

Besides the pages, ``/_live`` publishes articles at run time (``live.py``); it answers JSON, only to
clients on a loopback address (even when the site is bound to all interfaces for containers)::

    POST /_live/publish  {"site", "lang", "title", "standfirst", "body", ...} or {"template": NAME, ...}
                         -> 201 {"url", "path", "published", ...}; 400/409 {"error": message}
    GET  /_live          -> 200 {"articles": [...], "templates": [...], "state_dir": ...}
    POST /_live/reset    -> 200 {"removed": N}
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import socketserver
import sys
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from newswatch.localstack.demosite.live import LiveError, LiveStore, state_dir_from_env, template_names
from newswatch.localstack.demosite.render import HTML, TEXT, Resource, route

logger = logging.getLogger(__name__)

DEFAULT_PORT = 8765
LOG_ENV = "NEWSWATCH_DEMOSITE_LOG"
LIVE_PREFIX = "/_live"
JSON_TYPE = "application/json; charset=utf-8"
MAX_REQUEST_BODY = 1_000_000

NOT_FOUND_PAGE = b"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Page not found</title></head>
<body><h1>404 - Page not found</h1><p>The page you requested does not exist.</p></body></html>
"""


def _not_modified(resource: Resource, if_none_match: str | None, if_modified_since: str | None) -> bool:
    """RFC 9110 precedence: when If-None-Match is present, If-Modified-Since is ignored."""
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or resource.etag in tags
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return resource.last_modified.replace(microsecond=0) <= since
    return False


class DemoSiteHandler(BaseHTTPRequestHandler):
    server_version = "NewswatchDemoSite/1.0"
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._respond_or_fail(with_body=True)

    def do_HEAD(self) -> None:
        self._respond_or_fail(with_body=False, method="HEAD")

    def do_POST(self) -> None:
        self._respond_or_fail(with_body=True, method="POST")

    def _respond_or_fail(self, with_body: bool, method: str = "GET") -> None:
        """A rendering bug becomes a 500 the client can see, not a dropped connection."""
        try:
            path = urlsplit(self.path).path or "/"
            if path == LIVE_PREFIX or path.startswith(LIVE_PREFIX + "/"):
                self._live(method, path, with_body)
            elif method == "POST":
                self.close_connection = True  # the request body is not read
                headers = {"Content-Type": TEXT, "Allow": "GET, HEAD"}
                self._send(HTTPStatus.METHOD_NOT_ALLOWED, b"method not allowed\n", headers, with_body)
            else:
                self._respond(with_body)
        except Exception:
            logger.exception("demo site failed to serve %s", self.path)
            self._send(
                HTTPStatus.INTERNAL_SERVER_ERROR, b"internal error\n", {"Content-Type": TEXT}, with_body
            )

    def _base_url(self) -> str:
        """Links are built for the host the client asked for, so they work through Docker port mapping."""
        host = self.headers.get("Host")
        return f"http://{host}" if host else cast(DemoSiteServer, self.server).base_url

    def _live_store(self) -> LiveStore:
        return cast(DemoSiteServer, self.server).live

    def _respond(self, with_body: bool) -> None:
        path = urlsplit(self.path).path or "/"
        base = self._base_url()
        live = self._live_store().articles()
        resource = route(base, path, live)
        if resource is None and not path.endswith("/") and route(base, path + "/", live) is not None:
            self._send_empty(HTTPStatus.MOVED_PERMANENTLY, {"Location": path + "/"})
            return
        if resource is None:
            self._send(HTTPStatus.NOT_FOUND, NOT_FOUND_PAGE, {"Content-Type": HTML}, with_body)
            return
        headers = {
            "Content-Type": resource.content_type,
            "ETag": resource.etag,
            "Last-Modified": format_datetime(resource.last_modified, usegmt=True),
            "Cache-Control": resource.cache_control,
        }
        if _not_modified(resource, self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")):
            del headers["Content-Type"]
            self._send_empty(HTTPStatus.NOT_MODIFIED, headers)
            return
        self._send(HTTPStatus.OK, resource.body, headers, with_body)

    def _live(self, method: str, path: str, with_body: bool) -> None:
        """The ``/_live`` endpoints: publish, list and reset the live articles (loopback clients only)."""
        if not _is_loopback(self.client_address[0]):
            self.close_connection = True
            self._send_json(HTTPStatus.FORBIDDEN, {"error": "/_live answers loopback clients only"}, with_body)
            return
        store, base = self._live_store(), self._base_url()
        route_ = (method, path.rstrip("/") or "/")
        if route_ in {("GET", LIVE_PREFIX), ("HEAD", LIVE_PREFIX)}:
            listing = {
                "articles": [entry.describe(base) for entry in store.entries()],
                "templates": template_names(),
                "state_dir": str(store.state_dir) if store.state_dir else None,
            }
            self._send_json(HTTPStatus.OK, listing, with_body)
            return
        if method != "POST" or route_[1] not in {LIVE_PREFIX + "/publish", LIVE_PREFIX + "/reset"}:
            known = "POST /_live/publish, POST /_live/reset, GET /_live"
            status = HTTPStatus.METHOD_NOT_ALLOWED if route_[1] == LIVE_PREFIX else HTTPStatus.NOT_FOUND
            if method == "POST":
                self.close_connection = True
            self._send_json(status, {"error": f"no such endpoint: {method} {path}; try {known}"}, with_body)
            return
        try:
            fields = self._read_json()
            if route_[1].endswith("/reset"):
                self._send_json(HTTPStatus.OK, {"removed": store.reset()}, with_body)
                return
            entry = store.publish(fields)
        except LiveError as exc:
            self._send_json(HTTPStatus(exc.status), {"error": exc.message}, with_body)
            return
        described = entry.describe(base)
        self._send_json(HTTPStatus.CREATED, described, with_body, {"Location": described["url"]})

    def _read_json(self) -> Any:
        """The request body as JSON (an empty body is ``{}``); refuses what it cannot read whole."""
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            raise LiveError("send the body with a Content-Length (no chunked encoding)", status=411)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            raise LiveError("Content-Length is not a number") from None
        if length < 0 or length > MAX_REQUEST_BODY:
            self.close_connection = True
            raise LiveError(f"the body must be at most {MAX_REQUEST_BODY} bytes", status=413)
        raw = self.rfile.read(length) if length else b""
        if not raw.strip():
            return {}
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise LiveError(f"the body is not valid JSON: {exc}") from None

    def _send_json(
        self, status: HTTPStatus, payload: Any, with_body: bool, headers: dict[str, str] | None = None
    ) -> None:
        body = json.dumps(payload, ensure_ascii=False, indent=1).encode("utf-8") + b"\n"
        all_headers = {"Content-Type": JSON_TYPE, "Cache-Control": "no-store", **(headers or {})}
        self._send(status, body, all_headers, with_body)

    def _send(self, status: HTTPStatus, body: bytes, headers: dict[str, str], with_body: bool) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Date", format_datetime(datetime.now(UTC), usegmt=True))
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def _send_empty(self, status: HTTPStatus, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != HTTPStatus.NOT_MODIFIED:
            self.send_header("Content-Length", "0")
        self.end_headers()

    def send_response(self, code: int, message: str | None = None) -> None:
        # send_response_only, so BaseHTTPRequestHandler does not add a second Date header.
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Server", self.version_string())

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        if os.environ.get(LOG_ENV):
            sys.stderr.write(f"{self.address_string()} - {format % args}\n")


def _is_loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool(address.is_loopback or (mapped is not None and mapped.is_loopback))


class DemoSiteServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        server_address: tuple[str, int],
        handler: type[socketserver.BaseRequestHandler],
        live: LiveStore | None = None,
    ) -> None:
        self.live = live if live is not None else LiveStore()
        super().__init__(server_address, handler)

    @property
    def base_url(self) -> str:
        """``http://host:port`` as bound; a wildcard bind is reported as loopback, which is reachable."""
        host, port = self.socket.getsockname()[:2]
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        return f"http://{host}:{port}"


def make_server(
    host: str = "127.0.0.1", port: int = DEFAULT_PORT, live_dir: str | Path | None = None
) -> DemoSiteServer:
    """Bind the site on ``host:port`` (``port=0`` picks a free one) without starting to serve.

    The caller runs ``serve_forever()`` (in a thread, for tests) and ``shutdown()``; ``base_url`` on the
    returned server gives the address actually bound. Live articles are kept in memory and, with a state
    folder (``live_dir``, else ``NEWSWATCH_DEMOSITE_LIVE_DIR``), also on disk; ``server.live`` is the store.
    """
    state_dir = Path(live_dir) if live_dir is not None else state_dir_from_env()
    return DemoSiteServer((host, port), DemoSiteHandler, LiveStore(state_dir))
