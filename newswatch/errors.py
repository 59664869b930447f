"""The one error tree of newswatch, drawn once (here); ``tests/unit/test_errors.py`` checks the drawing
against the classes. The fetch, feed and extraction half lives in ``extractors.errors`` (a leaf package
that imports nothing of ours) and is re-exported here, so one import serves everybody::

    NewswatchError
    ├── FetchError                 could not get usable bytes for a URL
    │   ├── BlockedURL             scheme or form we refuse (javascript:, data:, file:, no host …)
    │   ├── BlockedAddress         resolves to a refused network (loopback, private, metadata …)
    │   ├── RobotsDisallowed       robots.txt forbids the page
    │   ├── ConnectError           DNS failure, refused or reset connection
    │   ├── FetchTimeout           connect/read/total time limit hit (incl. servers that drip bytes)
    │   ├── TooManyRedirects       redirect limit or loop
    │   ├── ResponseTooLarge       body over the cap, counted after decompression (gzip bombs)
    │   ├── UnsupportedContentType PDF, image, … where HTML or a feed was expected
    │   └── HTTPStatusError        4xx/5xx
    │       └── RateLimited        429/503, carries ``retry_after`` seconds when the server said
    ├── FeedError                  bytes that are not a usable feed
    │   ├── NotAFeed               HTML or other markup served as a feed, or empty/binary bodies
    │   ├── FeedSyntaxError        malformed XML with no entries recovered
    │   └── UnsafeFeed             DTD entity declarations (entity bombs, external entities)
    ├── ExtractionError            a page without an article body
    │   ├── NotHTML                bytes that are not an HTML document
    │   └── NoArticleBody          HTML in which no body text was found
    ├── ConfigError                invalid YAML, unknown keys, bad settings (names the file and key)
    ├── StagingError               a staged batch could not be written or read, or its id is invalid
    ├── IndexingError              Elasticsearch refused documents (carries the per-document errors)
    ├── SearchError                a query or its options are invalid, or the indices are missing
    ├── AlertError                 an alert email could not be sent
    │   ├── NotAccepted            refused or cut off before the server could accept it (retried)
    │   ├── MessageRejected        refused for good with a 5xx (parked as dead)
    │   ├── DeliveryUncertain      sent in full but the reply was lost (never resent; counted)
    │   └── AlertsFailed           a run in which some sends failed, after the others went out
    └── ServiceError               a service (Elasticsearch, SMTP sink, Airflow) could not be reached/started

Every error has ``error_class`` (its class name): the stable name recorded in feed health, CLI JSON and
run summaries. Callers catch classes, never message text.
"""

from __future__ import annotations

from typing import Any

from extractors.errors import (
    BlockedAddress,
    BlockedURL,
    ConnectError,
    ExtractionError,
    FeedError,
    FeedSyntaxError,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    NewswatchError,
    NoArticleBody,
    NotAFeed,
    NotHTML,
    RateLimited,
    ResponseTooLarge,
    RobotsDisallowed,
    TooManyRedirects,
    UnsafeFeed,
    UnsupportedContentType,
)

__all__ = [
    "AlertError", "AlertsFailed", "BlockedAddress", "DeliveryUncertain", "MessageRejected", "NotAccepted",
    "BlockedURL", "ConfigError", "ConnectError", "ExtractionError",
    "FeedError", "FeedSyntaxError", "FetchError", "FetchTimeout", "HTTPStatusError", "IndexingError",
    "NewswatchError", "NoArticleBody", "NotAFeed", "NotHTML", "RateLimited", "ResponseTooLarge",
    "RobotsDisallowed", "SearchError", "ServiceError", "StagingError", "TooManyRedirects", "UnsafeFeed",
    "UnsupportedContentType",
    "classify",
]


class ConfigError(NewswatchError):
    """A configuration file or setting is invalid; the message names the file and the key."""


class IndexingError(NewswatchError):
    """Elasticsearch refused some documents; ``failures`` holds the per-document errors."""

    def __init__(self, message: str, failures: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.failures = failures or []


class StagingError(NewswatchError):
    """A staged batch could not be written or read, or a batch id is not a plain folder name."""


class SearchError(NewswatchError):
    """A query or its options are invalid, or the indices it reads do not exist yet."""


class AlertError(NewswatchError):
    """An alert could not be delivered."""


class NotAccepted(AlertError):
    """The SMTP transaction failed before the server could have accepted the message: safe to retry."""


class MessageRejected(AlertError):
    """The server refused the message for good (5xx): retrying cannot help."""


class DeliveryUncertain(AlertError):
    """The message was sent in full but the server's reply was lost: it may have been delivered."""


class AlertsFailed(AlertError):
    """Some alert emails could not be sent (the rest were); ``summary`` holds the run's counts."""

    def __init__(self, summary: dict[str, Any], what: str = "alerts") -> None:
        self.summary = summary
        super().__init__(f"{summary.get('failed', 0)} {what} could not be sent ({summary.get('errors') or {}}); "
                         "they stay claimed as failed and the next run retries them")


class ServiceError(NewswatchError):
    """A local service could not be obtained, started or reached."""


def classify(exc: BaseException) -> str:
    """The stable error class name for any exception (unexpected ones are ``Unexpected:<Type>``)."""
    if isinstance(exc, NewswatchError):
        return exc.error_class
    return f"Unexpected:{type(exc).__name__}"
