"""The fetch, feed and extraction half of newswatch's error tree (this package imports nothing of ours).

Callers catch classes, never strings; every class has a stable ``error_class`` name (its class name) that
is recorded in feed health, CLI output and run summaries. ``newswatch.errors`` adds the core's errors
(configuration, staging, indexing, search, alerting, services), re-exports these, and draws the whole tree
once — the one drawing, checked against the classes by ``tests/unit/test_errors.py``.
"""

from __future__ import annotations


class NewswatchError(Exception):
    """Base of every error newswatch raises on purpose."""

    @property
    def error_class(self) -> str:
        """Stable name recorded wherever the error is reported."""
        return type(self).__name__


class FetchError(NewswatchError):
    """Usable bytes could not be obtained for a URL."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url


class BlockedURL(FetchError):
    """The URL's scheme or form is refused before any connection."""


class BlockedAddress(FetchError):
    """The host resolves to a network that is not allowed (SSRF guard)."""


class RobotsDisallowed(FetchError):
    """robots.txt of the site forbids fetching this page."""


class ConnectError(FetchError):
    """The connection could not be made (DNS, refused, reset, TLS)."""


class FetchTimeout(FetchError):
    """A connect, read or total time limit was hit."""


class TooManyRedirects(FetchError):
    """More redirects than allowed, or a loop."""


class ResponseTooLarge(FetchError):
    """The body exceeded the size cap (after decompression)."""


class UnsupportedContentType(FetchError):
    """The server sent a content type we do not process here."""


class HTTPStatusError(FetchError):
    """The server answered 4xx or 5xx."""

    def __init__(self, message: str, *, url: str | None = None, status: int = 0) -> None:
        super().__init__(message, url=url)
        self.status = status


class RateLimited(HTTPStatusError):
    """429 or 503; ``retry_after`` is the delay in seconds the server asked for, if any."""

    def __init__(
        self, message: str, *, url: str | None = None, status: int = 429, retry_after: float | None = None
    ) -> None:
        super().__init__(message, url=url, status=status)
        self.retry_after = retry_after


class FeedError(NewswatchError):
    """Bytes that do not make a usable feed."""


class NotAFeed(FeedError):
    """HTML, plain text, binary or empty content where a feed was expected."""


class FeedSyntaxError(FeedError):
    """Malformed XML from which no entry could be recovered."""


class UnsafeFeed(FeedError):
    """The document declares entities (entity expansion or external entities are never honoured)."""


class ExtractionError(NewswatchError):
    """No article could be extracted from a page."""


class NotHTML(ExtractionError):
    """The bytes are not an HTML document."""


class NoArticleBody(ExtractionError):
    """The page is HTML but holds no article body."""
