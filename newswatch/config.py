"""What to watch: feeds and alert recipients, as versioned YAML validated on load.

Unknown keys are rejected (``extra="forbid"``) so a typo fails loudly instead of being ignored. Topic
definitions live in ``config/topics/`` and are loaded by ``newswatch.tagging``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from newswatch.errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FeedConfig(_Strict):
    """One feed to poll. Only ``url`` is required."""

    url: str
    name: str | None = None
    site: str | None = None
    lang: str | None = None
    enabled: bool = True
    min_interval_minutes: int = Field(10, ge=1)
    max_interval_minutes: int = Field(24 * 60, ge=1)
    tags: list[str] = Field(default_factory=list)

    @field_validator("url")
    @classmethod
    def _http_only(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("feed url must start with http:// or https://")
        return value.strip()


class FeedsFile(_Strict):
    feeds: list[FeedConfig]


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class DigestConfig(_Strict):
    """When a recipient's digest goes out: ``hourly``, or ``daily``/``weekly`` at a local time."""

    every: Literal["hourly", "daily", "weekly"] = "daily"
    at: str = "08:00"  # local time HH:MM (daily and weekly)
    timezone: str = "UTC"  # an IANA zone, e.g. Europe/Berlin or Asia/Seoul
    weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "mon"  # weekly

    @field_validator("at")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        hh, _, mm = value.partition(":")
        if not (hh.isdigit() and mm.isdigit() and 0 <= int(hh) < 24 and 0 <= int(mm) < 60 and len(mm) == 2):
            raise ValueError("digest.at must be a local time HH:MM, e.g. 08:00")
        return f"{int(hh):02d}:{mm}"

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Berlin)") from None
        return value


class Recipient(_Strict):
    """One alert recipient: which topics, how (immediate emails and/or a digest), and limits.

    ``freshness_hours``: a story first published longer ago than this is never sent immediately; it goes to
    the next digest as "earlier coverage" (recipients without a digest get one backlog digest instead).
    ``rate_cap_per_hour``: immediate emails (first alerts and follow-ups) per hour; past it, stories are
    folded into one "N more stories" email. ``spikes``: also burst alerts for the topics. ``operator``:
    feed-health incidents and dead-letter notices.
    """

    email: str
    name: str | None = None
    topics: list[str] = Field(default_factory=lambda: ["*"])
    min_level: Literal["core", "related"] | None = None  # default: NEWSWATCH_ALERT_MIN_LEVEL (core)
    modes: list[Literal["immediate", "digest"]] = Field(default_factory=lambda: ["immediate"])  # type: ignore[arg-type]
    digest: DigestConfig | None = None
    freshness_hours: float = Field(48.0, gt=0)
    rate_cap_per_hour: int = Field(20, ge=1)
    spikes: bool = False
    operator: bool = False

    @field_validator("email")
    @classmethod
    def _address(cls, value: str) -> str:
        from email_validator import EmailNotValidError, validate_email

        try:
            return validate_email(value.strip(), check_deliverability=False,
                                  test_environment=True).normalized
        except EmailNotValidError as exc:
            raise ValueError(f"not an email address: {value!r} ({exc})") from None

    def model_post_init(self, context: Any, /) -> None:
        if "digest" in self.modes and self.digest is None:
            self.digest = DigestConfig()

    @property
    def immediate(self) -> bool:
        return "immediate" in self.modes

    @property
    def has_digest(self) -> bool:
        return "digest" in self.modes

    def follows(self, topic: str) -> bool:
        return "*" in self.topics or topic in self.topics

    def wants(self, topic: str, level: str, default_min_level: str = "core") -> bool:
        floor = self.min_level or default_min_level
        return self.follows(topic) and (level == "core" or (level == "related" and floor == "related"))


class RecipientsFile(_Strict):
    recipients: list[Recipient]


def load_yaml(path: Path, *, error: type[ConfigError] = ConfigError) -> Any:
    """Parse a YAML file, raising ``error`` (a ConfigError) that names the file."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        raise error(f"{path}: invalid YAML: {exc}") from None


def validate(model: type[BaseModel], data: Any, path: Path, *, error: type[ConfigError] = ConfigError) -> Any:
    """Validate ``data`` against ``model``; the error names the file and every bad key path."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}" for e in exc.errors())
        raise error(f"{path}: {problems}") from None


def load_feeds(path: Path, *, base_url: str | None = None,
               skipped: list[dict[str, Any]] | None = None) -> list[FeedConfig]:
    """The enabled feeds in ``path``; ``{base_url}`` in a URL is replaced (the demo feeds use it for their port).

    With ``skipped`` (a list to fill), one bad entry (``url: file:///etc/passwd``, an unknown key) does not
    stop the others: it is reported there as a feed line with ``status: "error"``, ``error_class:
    "ConfigError"`` and a message naming the file and key, and the healthy feeds are returned. Without it,
    any bad entry raises ``ConfigError``. A file that is not a ``feeds:`` list raises either way.
    """
    data = load_yaml(path)
    if base_url and isinstance(data, dict):
        for item in data.get("feeds", []) or []:
            if isinstance(item, dict) and isinstance(item.get("url"), str):
                item["url"] = item["url"].replace("{base_url}", base_url.rstrip("/"))
    if skipped is None or not isinstance(data, dict) or not isinstance(data.get("feeds"), list) or set(data) - {
            "feeds"}:
        feeds: FeedsFile = validate(FeedsFile, data, path)
        return [f for f in feeds.feeds if f.enabled]
    good: list[FeedConfig] = []
    for i, item in enumerate(data["feeds"]):
        try:
            good.append(FeedConfig.model_validate(item))
        except ValidationError as exc:
            problems = "; ".join(f"feeds.{i}.{'.'.join(map(str, e['loc'])) or '<item>'}: {e['msg']}"
                                 for e in exc.errors())
            url = item.get("url") if isinstance(item, dict) else None
            skipped.append({"kind": "feed", "url": str(url or f"{path}#feeds.{i}"), "status": "error",
                            "error_class": "ConfigError", "error": f"{path}: {problems}", "entries": 0,
                            "new_entries": 0})
    return [f for f in good if f.enabled]


def select_feeds(feeds: Sequence[FeedConfig], wanted: Sequence[str]) -> list[FeedConfig]:
    """The feeds among ``feeds`` named by URL or ``name`` in ``wanted`` (empty: all of them), in file order.
    A name that matches no feed raises ``ConfigError`` (a typo must not poll nothing in silence)."""
    if not wanted:
        return list(feeds)
    keys = {w.strip() for w in wanted if w.strip()}
    known = {f.url for f in feeds} | {f.name for f in feeds if f.name}
    missing = sorted(keys - known)
    if missing:
        raise ConfigError(f"no enabled feed has the URL or name {', '.join(map(repr, missing))}")
    return [f for f in feeds if f.url in keys or (f.name and f.name in keys)]


def load_recipients(path: Path) -> list[Recipient]:
    """The recipients in ``path``, every address validated; a duplicate address is an error."""
    data = load_yaml(path)
    recipients: RecipientsFile = validate(RecipientsFile, data, path)
    seen: set[str] = set()
    for i, r in enumerate(recipients.recipients):
        if r.email.lower() in seen:
            raise ConfigError(f"{path}: recipients.{i}.email: {r.email} is listed twice")
        seen.add(r.email.lower())
    return recipients.recipients
