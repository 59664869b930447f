"""The sample site's HTTP server: stdlib ``ThreadingHTTPServer``, no extra dependencies.

It behaves like a well-run news site so the fetcher's politeness code has something to exercise:
correct ``Content-Type`` with charset, ``ETag`` and ``Last-Modified`` on every page, ``304 Not Modified``
for ``If-None-Match`` / ``If-Modified-Since``, ``HEAD``, ``robots.txt``, 301 to the trailing-slash form of
a directory-like path and 404 for everything else. It is quiet unless ``NEWSWATCH_DEMOSITE_LOG`` is set
to a non-empty value, because request lines on stderr drown test and demo output.
"""

from __future__ import annotations

import logging
import os
import sys
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import cast
from urllib.parse import urlsplit

from newswatch.localstack.demosite.render import HTML, TEXT, Resource, route

logger = logging.getLogger(__name__)

DEFAULT_PORT = 8765
LOG_ENV = "NEWSWATCH_DEMOSITE_LOG"

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
        self._respond_or_fail(with_body=False)

    def _respond_or_fail(self, with_body: bool) -> None:
        """A rendering bug becomes a 500 the client can see, not a dropped connection."""
        try:
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

    def _respond(self, with_body: bool) -> None:
        path = urlsplit(self.path).path or "/"
        base = self._base_url()
        resource = route(base, path)
        if resource is None and not path.endswith("/") and route(base, path + "/") is not None:
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


class DemoSiteServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    @property
    def base_url(self) -> str:
        """``http://host:port`` as bound; a wildcard bind is reported as loopback, which is reachable."""
        host, port = self.socket.getsockname()[:2]
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        return f"http://{host}:{port}"


def make_server(host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> DemoSiteServer:
    """Bind the site on ``host:port`` (``port=0`` picks a free one) without starting to serve.

    The caller runs ``serve_forever()`` (in a thread, for tests) and ``shutdown()``; ``base_url`` on the
    returned server gives the address actually bound.
    """
    return DemoSiteServer((host, port), DemoSiteHandler)
