"""Where and how newswatch runs: URLs, credentials, limits — from ``NEWSWATCH_*`` environment variables.

What to watch (feeds, topics, recipients) is versioned YAML in ``config/`` (see ``newswatch.config``).
Nested settings use ``__``: ``NEWSWATCH_ES__URL``, ``NEWSWATCH_SMTP__PORT``. Secrets come only from the
environment. The README's settings table is checked against this module by a test.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict


def _project_dir() -> Path | None:
    """The folder whose ``config/`` and ``var/`` are the defaults: the working directory when it holds a
    ``config/topics`` folder, else the source checkout this package runs from (never site-packages)."""
    cwd = Path.cwd()
    if (cwd / "config" / "topics").is_dir():
        return cwd
    checkout = Path(__file__).resolve().parents[1]
    if "site-packages" not in checkout.parts and (checkout / "config" / "topics").is_dir():
        return checkout
    return None


def _xdg(var: str, fallback: str) -> Path:
    return Path(os.environ.get(var) or Path.home() / fallback) / "newswatch"


def _default_config_dir() -> Path:
    project = _project_dir()
    return project / "config" if project else _xdg("XDG_CONFIG_HOME", ".config")


def _default_var_dir() -> Path:
    project = _project_dir()
    return project / "var" if project else _xdg("XDG_STATE_HOME", ".local/state")


def _default_cache_dir() -> Path:
    # As root, Elasticsearch runs as an unprivileged user who cannot enter /root: keep its files elsewhere.
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/cache/newswatch")
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "newswatch"


class ElasticsearchSettings(BaseModel):
    url: str = Field("http://127.0.0.1:9200", description="Elasticsearch URL")
    username: str | None = Field(None, description="Basic-auth user (clusters with security on)")
    password: SecretStr | None = Field(None, description="Basic-auth password")
    api_key: SecretStr | None = Field(None, description="API key, instead of user/password")
    index_prefix: str = Field("newswatch", description="Prefix of every index and template name")
    ca_certs: str | None = Field(None, description="CA bundle that signs the cluster's certificate (https)")
    verify_certs: bool = Field(True, description="Verify the cluster's TLS certificate (https)")
    version: str = Field("9.5.3", description="Version `stack up` downloads from Maven Central")
    heap: str = Field("512m", description="JVM heap of the local node")
    java_home: str | None = Field(None, description="JDK for the local node (default: newest JDK 21+ found)")
    run_as: str = Field("newswatch", description="Unprivileged user the local node runs as when started by root")


class PostgresSettings(BaseModel):
    """The local PostgreSQL of ``stack up --services postgres``: Airflow's metadata database and the Celery
    result backend when ``NEWSWATCH_AIRFLOW_EXECUTOR=celery``."""

    port: int = Field(5433, description="Port of the local PostgreSQL (on 127.0.0.1; not a distro server's 5432)")
    database: str = Field("airflow", description="Database `stack up` creates for Airflow")
    user: str = Field("airflow", description="Role that owns that database")
    password: SecretStr | None = Field(None, description="Its password (default: generated once, kept in the "
                                                         "cache folder beside the data)")


class RedisSettings(BaseModel):
    """The local Redis of ``stack up --services redis``: the Celery broker."""

    port: int = Field(6380, description="Port of the local Redis (on 127.0.0.1; not a distro server's 6379)")
    password: SecretStr | None = Field(None, description="Its password (default: generated once, like PostgreSQL's)")


class SMTPSettings(BaseModel):
    host: str = Field("127.0.0.1", description="SMTP server host")
    port: int = Field(8025, description="SMTP server port (the local sink listens here)")
    username: str | None = Field(None, description="SMTP user")
    password: SecretStr | None = Field(None, description="SMTP password")
    starttls: bool = Field(False, description="Use STARTTLS")
    ssl: bool = Field(False, description="Implicit TLS (SMTPS, usually port 465) instead of STARTTLS")
    sender: str = Field("newswatch <newswatch@localhost>", description="From: address of alerts")
    timeout: float = Field(10.0, description="SMTP timeout in seconds")


class AlertSettings(BaseModel):
    """Alert delivery: retries, leases, follow-ups, spikes and feed-health incidents."""

    max_attempts: int = Field(5, ge=1, description="Failed sends of one message before it is parked as dead")
    lease_seconds: float = Field(
        300, gt=0, description="A claim left pending (or sending) this long by a worker is taken over (or uncertain)")
    followups_per_story_per_day: int = Field(2, ge=0, description="Follow-up emails per story and recipient a day")
    outlet_steps: list[int] = Field(default_factory=lambda: [3, 10, 30],
                                    description="Outlet counts whose crossing sends a follow-up")
    timeline_url: str | None = Field(None, description="Base URL of the timeline page (story links in emails)")
    kibana_url: str | None = Field("http://localhost:5601", description="Kibana base URL (story links if no timeline)")
    list_id: str = Field("newswatch.alerts.local", description="List-Id domain of alert emails")
    spike_z: float = Field(3.5, gt=0, description="Robust z-score over the 14-day hourly baseline that is a burst")
    spike_min_count: int = Field(5, ge=1, description="Fewest core/related articles in an hour that can be a burst")
    feed_failures: int = Field(5, ge=1, description="Consecutive poll failures that open a feed incident")
    feed_silent_factor: float = Field(8.0, gt=1, description="Silent for this many usual intervals is an incident")
    feed_silent_min_hours: float = Field(24.0, gt=0, description="... and at least this many hours")
    extraction_min_ratio: float = Field(0.5, gt=0, le=1, description="Extraction success below this (last 24 h) "
                                                                     "after a healthy week is an incident")


class FetchSettings(BaseModel):
    connect_timeout: float = Field(5.0, description="Connect timeout (s)")
    read_timeout: float = Field(10.0, description="Read timeout (s)")
    total_timeout: float = Field(30.0, description="Total time for one response (s)")
    max_bytes: int = Field(5 * 1024 * 1024, description="Body cap after decompression (bytes)")
    max_redirects: int = Field(5, description="Redirect limit")
    user_agent: str = Field(
        "newswatch/0.1 (+https://github.com/newswatch/newswatch; news monitoring)",
        description="User-Agent sent with every request",
    )
    concurrency: int = Field(8, description="Parallel fetches in one task")
    per_host: int = Field(2, description="Parallel fetches to one host")
    min_host_gap: float = Field(1.0, description="Minimum seconds between request starts to one host")
    respect_robots: bool = Field(True, description="Obey robots.txt for article pages")
    max_articles_per_feed: int = Field(
        50, description="New articles fetched per feed per poll (the rest wait in the feed's backlog)")
    byline_search: bool = Field(False, description="Search page text for an author when meta tags name none")


class Settings(BaseSettings):
    """All runtime settings. Build with ``Settings()``; every field can be set from the environment."""

    model_config = SettingsConfigDict(
        env_prefix="NEWSWATCH_", env_nested_delimiter="__", extra="ignore", validate_default=True
    )

    config_dir: Path = Field(default_factory=_default_config_dir, description="Folder of the YAML config")
    feeds_file: Path | None = Field(None, description="Feeds YAML (default: <config_dir>/feeds.yaml)")
    topic: str = Field("dprk_russia_troops",
                       description="Default topic (top level of `tag`, ties); every enabled topic is tagged")
    var_dir: Path = Field(default_factory=_default_var_dir, description="Run-time files: logs, pids, mail, staging")
    cache_dir: Path = Field(default_factory=_default_cache_dir, description="Downloads kept between runs")
    staging_url: str | None = Field(
        None, description="Where batches are staged (path or object-storage URL; default <var_dir>/staging)"
    )
    staging_keep_days: float = Field(
        7, gt=0, description="Indexed batches older than this (days) are deleted after each poll run"
    )
    allowed_networks: str = Field(
        "", description="Networks the SSRF guard allows, comma-separated: CIDR (any port), IP:port, CIDR:port")
    alert_min_level: Literal["core", "related"] = Field("core", description="Lowest tag level that triggers an alert")
    alert_lookback_days: int = Field(7, description="Only articles indexed this recently can trigger alerts")
    demo_port: int = Field(8765, description="Port of the sample news site")
    airflow_port: int = Field(8080, description="Port of the Airflow UI")
    airflow_executor: Literal["local", "celery"] = Field(
        "local", description="`celery`: `stack up` runs Airflow's components with the CeleryExecutor on the local "
                             "PostgreSQL and Redis (started with it) instead of `airflow standalone`")
    es: ElasticsearchSettings = Field(default_factory=ElasticsearchSettings)
    smtp: SMTPSettings = Field(default_factory=SMTPSettings)
    postgres: PostgresSettings = Field(default_factory=PostgresSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    fetch: FetchSettings = Field(default_factory=FetchSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)

    def with_overrides(self, **sections: Mapping[str, Any] | None) -> Settings:
        """A copy with some fields of nested sections replaced — ``with_overrides(es={"url": …},
        fetch={"max_articles_per_feed": 5})`` — validated like the environment's values (secrets become
        ``SecretStr``). Raises ``ConfigError`` naming the bad field, never its value."""
        from newswatch.errors import ConfigError

        update: dict[str, BaseModel] = {}
        for name, values in sections.items():
            current = getattr(self, name, None)
            if not isinstance(current, BaseModel):
                raise ConfigError(f"invalid settings override: {name!r} is not a settings section")
            if not values:
                continue
            try:
                update[name] = type(current).model_validate({**dict(current), **values})
            except ValidationError as exc:
                problems = "; ".join(f"{name}.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
                raise ConfigError(f"invalid settings override: {problems}") from None
        return self.model_copy(update=update)

    @property
    def feeds_path(self) -> Path:
        return self.feeds_file or self.config_dir / "feeds.yaml"

    @property
    def recipients_path(self) -> Path:
        return self.config_dir / "recipients.yaml"

    @property
    def mail_dir(self) -> Path:
        return self.var_dir / "mail"

    @property
    def staging(self) -> str:
        return self.staging_url or str(self.var_dir / "staging")
