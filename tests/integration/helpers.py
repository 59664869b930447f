"""Helpers shared by the integration tests."""

from __future__ import annotations

from pathlib import Path

import yaml

from newswatch.demosite import feed_urls


def write_demo_feeds(path: Path, base_url: str) -> Path:
    feeds = [{"url": f["url"], "name": f["name"], "min_interval_minutes": 5} for f in feed_urls(base_url)]
    path.write_text(yaml.safe_dump({"feeds": feeds}, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path
