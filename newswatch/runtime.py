"""The runtime of one step: settings, clients and the staging root, built lazily and closed once.

Both entry points use it the same way — an Airflow task body and a CLI verb are each::

    with Runtime() as rt:
        return steps.poll_shard(rt, shard=0, shards=4, batch="…")

so ``newswatch poll --shard N --shards M`` does exactly what the task does. A client is built the first
time a step asks for it (a dry run never builds an Elasticsearch client) and closed by ``close()``; a test
passes its own clients in. ``dry_run`` makes the steps write nothing anywhere (``ingest --dry-run``).
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any

import httpx
from elasticsearch import Elasticsearch

from extractors.fetch import FetchPolicy
from newswatch import clients
from newswatch.config import FeedConfig, load_feeds
from newswatch.settings import Settings
from newswatch.staging import PathLike, staging_root

log = logging.getLogger(__name__)


class Runtime:
    def __init__(self, settings: Settings | None = None, *, es: Elasticsearch | None = None,
                 http: httpx.Client | None = None, staging: PathLike | None = None, dry_run: bool = False) -> None:
        self.settings = settings if settings is not None else Settings()
        self.dry_run = dry_run
        self._es = es
        self._http = http
        self._staging = staging
        self._owned: list[Any] = []
        self._ensured = False
        self.skipped_feeds: list[dict[str, Any]] = []  # bad entries of the feeds file, reported by the poll

    # -- clients, built on first use
    @property
    def es(self) -> Elasticsearch:
        if self.dry_run:
            raise RuntimeError("a dry run has no Elasticsearch")
        if self._es is None:
            self._es = clients.make_es(self.settings)
            self._owned.append(self._es)
        return self._es

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            self._http = clients.http_client(self.settings)
            self._owned.append(self._http)
        return self._http

    @property
    def policy(self) -> FetchPolicy:
        return clients.fetch_policy(self.settings)

    @property
    def staging(self) -> PathLike:
        """The staging root: ``NEWSWATCH_STAGING_URL`` or ``<var_dir>/staging`` (``staging.staging_root``)."""
        if self._staging is None:
            self._staging = staging_root(self.settings.staging)
        return self._staging

    def ensure_indices(self) -> None:
        """Install templates and create indices once per runtime: writers call it, readers never do."""
        if not self._ensured and not self.dry_run:
            from newswatch import index

            index.ensure_indices(self.es, self.settings)
            self._ensured = True

    # -- configuration
    def feeds(self, path: str | None = None) -> list[FeedConfig]:
        """The enabled feeds of ``path`` (default ``NEWSWATCH_FEEDS_FILE`` or ``config/feeds.yaml``);
        ``{base_url}`` in a URL is the local sample site (the demo feeds use it for their port). A bad entry
        is skipped and kept in ``skipped_feeds`` (the poll reports it); the healthy feeds go on."""
        from pathlib import Path

        self.skipped_feeds = []
        return load_feeds(Path(path) if path else self.settings.feeds_path,
                          base_url=f"http://127.0.0.1:{self.settings.demo_port}", skipped=self.skipped_feeds)

    # -- lifetime
    def close(self) -> None:
        while self._owned:
            client = self._owned.pop()
            try:
                client.close()
            except Exception:  # closing must never hide the step's own outcome
                log.debug("closing %r failed", client, exc_info=True)

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
