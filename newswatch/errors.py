"""The one error tree of newswatch (fetch, feed and extraction errors come from ``extractors``).

::

    NewswatchError
    ├── FetchError ── BlockedURL, BlockedAddress, RobotsDisallowed, ConnectError, FetchTimeout,
    │                 TooManyRedirects, ResponseTooLarge, UnsupportedContentType,
    │                 HTTPStatusError ── RateLimited
    ├── FeedError ── NotAFeed, FeedSyntaxError, UnsafeFeed
    ├── ExtractionError ── NotHTML, NoArticleBody
    ├── ConfigError        invalid YAML, unknown keys, bad settings
    ├── IndexingError      Elasticsearch refused documents (carries the per-document errors)
    ├── AlertError         an alert email could not be sent
    └── ServiceError       a local service (Elasticsearch, SMTP sink, Airflow) could not be started

Every error has ``error_class`` (its class name): the stable name recorded in feed health, CLI JSON and
run summaries.
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
    "AlertError", "BlockedAddress", "BlockedURL", "ConfigError", "ConnectError", "ExtractionError",
    "FeedError", "FeedSyntaxError", "FetchError", "FetchTimeout", "HTTPStatusError", "IndexingError",
    "NewswatchError", "NoArticleBody", "NotAFeed", "NotHTML", "RateLimited", "ResponseTooLarge",
    "RobotsDisallowed", "ServiceError", "TooManyRedirects", "UnsafeFeed", "UnsupportedContentType",
    "classify",
]


class ConfigError(NewswatchError):
    """A configuration file or setting is invalid; the message names the file and the key."""


class IndexingError(NewswatchError):
    """Elasticsearch refused some documents; ``failures`` holds the per-document errors."""

    def __init__(self, message: str, failures: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.failures = failures or []


class AlertError(NewswatchError):
    """An alert could not be delivered."""


class ServiceError(NewswatchError):
    """A local service could not be obtained, started or reached."""


def classify(exc: BaseException) -> str:
    """The stable error class name for any exception (unexpected ones are ``Unexpected:<Type>``)."""
    if isinstance(exc, NewswatchError):
        return exc.error_class
    return f"Unexpected:{type(exc).__name__}"
