"""What to watch: feeds and alert recipients, as versioned YAML validated on load.

Unknown keys are rejected (``extra="forbid"``) so a typo fails loudly instead of being ignored. Topic
definitions live in ``config/topics/`` and are loaded by ``newswatch.tagging``.
"""

from __future__ import annotations

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


class Recipient(_Strict):
    email: str
    name: str | None = None
    topics: list[str] = Field(default_factory=lambda: ["*"])
    min_level: Literal["core", "related"] = "core"

    def wants(self, topic: str, level: str) -> bool:
        topic_ok = "*" in self.topics or topic in self.topics
        return topic_ok and (level == "core" or self.min_level == "related")


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


def load_recipients(path: Path) -> list[Recipient]:
    data = load_yaml(path)
    recipients: RecipientsFile = validate(RecipientsFile, data, path)
    return recipients.recipients
