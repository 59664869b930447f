"""Helpers shared by the integration tests."""

from __future__ import annotations

from pathlib import Path

import yaml

from newswatch.localstack.demosite import feed_urls


def write_demo_feeds(path: Path, base_url: str) -> Path:
    feeds = [{"url": f["url"], "name": f["name"], "min_interval_minutes": 5} for f in feed_urls(base_url)]
    path.write_text(yaml.safe_dump({"feeds": feeds}, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def airflow_env(home: Path, tmp_path: Path, *, es_url: str, prefix: str, smtp_port: int, demo_site: str,
                **extra: str) -> dict[str, str]:
    """Environment for Airflow commands running the DAGs of this repository against the test services:
    its own AIRFLOW_HOME, the sample site's feeds, the test Elasticsearch under ``prefix``, 2 shards."""
    import os

    repo = Path(__file__).resolve().parents[2]
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(repo / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "NEWSWATCH_ES__URL": es_url,
        "NEWSWATCH_ES__INDEX_PREFIX": prefix,
        "NEWSWATCH_SMTP__PORT": str(smtp_port),
        "NEWSWATCH_FEEDS_FILE": str(write_demo_feeds(tmp_path / "feeds.yaml", demo_site)),
        "NEWSWATCH_ALLOWED_NETWORKS": "127.0.0.1/32",
        "NEWSWATCH_VAR_DIR": str(tmp_path / "var"),
        "NEWSWATCH_SHARDS": "2",
        "NEWSWATCH_FETCH__MIN_HOST_GAP": "0",
        **extra,
    }


def wrong_levels(docs: list[dict], expected: list[dict]) -> list[tuple[str, str, str, str]]:
    """(path, topic, expected, got) for every topic result of every article that differs from the answer key."""
    out = []
    for exp in expected:
        doc = next(d for d in docs if d["url"].endswith(exp["path"]))
        for topic, level in exp["expected_levels"].items():
            got = doc["topics"][topic]["level"]
            if got != level:
                out.append((exp["path"], topic, level, got))
    return out


def expected_alerts(expected: list[dict]) -> set[tuple[str, str]]:
    """(topic, story) pairs the alert DAG emails: one per story that is core for the topic."""
    return {(t, e["story"]) for e in expected for t, level in e["expected_levels"].items() if level == "core"}


def expected_backlog_digests(expected: list[dict], recipients_file: Path | None = None) -> int:
    """Emails the alert DAG sends for the sample site (all history: a first poll, published 2024-2025):
    one backlog digest per recipient without a digest of its own who follows a topic with a core story."""
    from newswatch.config import load_recipients
    from newswatch.settings import Settings

    recipients = load_recipients(recipients_file or Settings().recipients_path)
    topics = {t for t, _ in expected_alerts(expected)}
    return sum(1 for r in recipients if r.immediate and not r.has_digest and any(r.follows(t) for t in topics))


def core_anywhere(expected: list[dict]) -> int:
    return sum(1 for e in expected if "core" in e["expected_levels"].values())


def ingest_sample_site(es_url: str, demo_site: str, tmp: Path) -> tuple[dict[str, str], str]:
    """The sample site polled, fetched and indexed through the CLI (``newswatch ingest``) under a new index
    prefix; returns the CLI's environment and the prefix (the articles are refreshed, ready to search)."""
    import uuid

    from click.testing import CliRunner

    from newswatch.cli import main

    prefix = f"nwtest-{uuid.uuid4().hex[:8]}"
    feeds = write_demo_feeds(tmp / "feeds.yaml", demo_site)
    env = {"NEWSWATCH_ES__URL": es_url, "NEWSWATCH_ES__INDEX_PREFIX": prefix,
           "NEWSWATCH_ALLOWED_NETWORKS": "127.0.0.1/32", "NEWSWATCH_VAR_DIR": str(tmp / "var"),
           "NEWSWATCH_FEEDS_FILE": str(feeds), "NEWSWATCH_FETCH__MIN_HOST_GAP": "0"}
    result = CliRunner().invoke(main, ["ingest", "--json"], env=env)
    assert result.exit_code == 0, result.output
    return env, prefix
