"""Client construction, in one place: HTTP (the guarded fetcher), Elasticsearch and SMTP.

Steps never build clients themselves; they get them from a ``Runtime`` (``newswatch.runtime``), which
builds them here from the settings. Tests build real clients to local services the same way.
"""

from __future__ import annotations

import smtplib
from typing import Any

import httpx
from elasticsearch import Elasticsearch

from extractors.fetch import FetchPolicy, make_client, parse_networks
from newswatch.settings import Settings


def fetch_policy(settings: Settings) -> FetchPolicy:
    f = settings.fetch
    return FetchPolicy(
        connect_timeout=f.connect_timeout,
        read_timeout=f.read_timeout,
        total_timeout=f.total_timeout,
        max_bytes=f.max_bytes,
        max_redirects=f.max_redirects,
        user_agent=f.user_agent,
        allowed_networks=parse_networks(settings.allowed_networks),
    )


def http_client(settings: Settings) -> httpx.Client:
    """The guarded HTTP client (SSRF checks on every hop, size and time caps) for feeds and pages."""
    return make_client(fetch_policy(settings))


def es_hosts(settings: Settings) -> list[str]:
    """``NEWSWATCH_ES__URL`` may list several nodes, comma-separated."""
    return [u.strip() for u in settings.es.url.split(",") if u.strip()]


def make_es(settings: Settings, **kwargs: Any) -> Elasticsearch:
    """The Elasticsearch client for ``settings`` (auth only when configured), on every node of
    ``NEWSWATCH_ES__URL``: requests go round the nodes, and one that fails on a connection error, a timeout
    or a 429/502/503/504 is retried on another node (a dead node is skipped for a back-off period), so a
    cluster that loses a node keeps serving. No sniffing: the configured URLs are the addresses to use."""
    opts: dict[str, Any] = {"request_timeout": 30, "retry_on_timeout": True, "max_retries": 5,
                            "retry_on_status": (429, 502, 503, 504)}
    if settings.es.api_key:
        opts["api_key"] = settings.es.api_key.get_secret_value()
    elif settings.es.username and settings.es.password:
        opts["basic_auth"] = (settings.es.username, settings.es.password.get_secret_value())
    if settings.es.ca_certs:
        opts["ca_certs"] = settings.es.ca_certs
    if not settings.es.verify_certs:
        opts["verify_certs"] = False
    opts.update(kwargs)
    return Elasticsearch(es_hosts(settings), **opts)


def smtp_connect(settings: Settings) -> smtplib.SMTP:
    """An SMTP connection per the settings (implicit TLS or STARTTLS, and login, only when configured)."""
    s = settings.smtp
    if s.ssl:
        conn: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout)
    else:
        conn = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
    if s.starttls and not s.ssl:
        conn.starttls()
    if s.username and s.password:
        conn.login(s.username, s.password.get_secret_value())
    return conn
