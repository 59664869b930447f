from __future__ import annotations

from pathlib import Path

import pytest

from newswatch.config import load_feeds, load_recipients
from newswatch.errors import ConfigError
from newswatch.localstack.demosite import feed_urls

CONFIG = Path(__file__).resolve().parents[2] / "config"


def test_real_feeds_file_is_valid() -> None:
    feeds = load_feeds(CONFIG / "feeds.yaml")
    assert len(feeds) >= 10
    assert all(f.url.startswith("https://") for f in feeds)


def test_demo_feeds_file_lists_every_feed_of_the_sample_site() -> None:
    feeds = load_feeds(CONFIG / "feeds.demo.yaml", base_url="http://127.0.0.1:9")
    assert sorted(f.url for f in feeds) == sorted(f["url"] for f in feed_urls("http://127.0.0.1:9"))


def test_recipients_file_is_valid() -> None:
    assert load_recipients(CONFIG / "recipients.yaml")


def test_unknown_key_is_rejected_with_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text("feeds:\n  - url: https://example.org/rss\n    intervall: 5\n")
    with pytest.raises(ConfigError, match=r"feeds\.yaml: feeds\.0\.intervall"):
        load_feeds(path)


def test_non_http_feed_url_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text("feeds:\n  - url: file:///etc/passwd\n")
    with pytest.raises(ConfigError, match="http"):
        load_feeds(path)


def test_invalid_yaml_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text("feeds: [\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_feeds(path)


def test_one_bad_feed_entry_is_reported_and_the_others_kept(tmp_path: Path) -> None:
    """Defect: one bad entry (file:///etc/passwd) in a feeds file stopped every feed."""
    path = tmp_path / "feeds.yaml"
    path.write_text("feeds:\n  - url: file:///etc/passwd\n  - url: https://ok.example/rss\n"
                    "  - url: https://typo.example/rss\n    intervall: 5\n  - just a string\n")
    skipped: list[dict] = []
    feeds = load_feeds(path, skipped=skipped)
    assert [f.url for f in feeds] == ["https://ok.example/rss"]
    assert [s["url"] for s in skipped] == ["file:///etc/passwd", "https://typo.example/rss", f"{path}#feeds.3"]
    assert all(s["status"] == "error" and s["error_class"] == "ConfigError" for s in skipped)
    assert "feeds.2.intervall" in skipped[1]["error"] and str(path) in skipped[0]["error"]
    path.write_text("feeds: {url: x}\n")  # not a list at all: still one clear error
    with pytest.raises(ConfigError):
        load_feeds(path, skipped=[])
