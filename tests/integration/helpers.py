"""Helpers shared by the integration tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
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


def tagged(exp: dict) -> bool:
    """Whether a topic tags the sample site's page ``exp`` (so the pipeline clusters it into a story:
    ``steps.indexing.wants_story``)."""
    return bool(set(exp["expected_levels"].values()) - {"none"})


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


AIRFLOW = str(Path(sys.executable).with_name("airflow"))
REPO = Path(__file__).resolve().parents[2]


def start_airflow(env: dict[str, str], logdir: Path, components: list[tuple[str, list[str]]],
                  procs: list[subprocess.Popen[bytes]]) -> dict[str, Path]:
    """Start each ``(name, airflow args)`` as its own process group, logging to ``logdir/<name>.log``;
    appended to ``procs`` (for ``stop_processes``) as they start. Returns the log paths by name."""
    logs = {}
    for name, args in components:
        logs[name] = logdir / f"{name}.log"
        procs.append(subprocess.Popen([AIRFLOW, *args], env=env, cwd=REPO, start_new_session=True,
                                      stdout=logs[name].open("wb"), stderr=subprocess.STDOUT))
    return logs


def trigger_when_parsed(env: dict[str, str], dag_id: str, conf: dict, deadline: float) -> None:
    """Trigger ``dag_id`` as soon as the DAG processor has parsed it (fails the test at ``deadline``)."""
    import pytest

    while time.monotonic() < deadline:
        trig = subprocess.run([AIRFLOW, "dags", "trigger", dag_id, "-c", json.dumps(conf)], env=env,
                              capture_output=True, text=True, timeout=120, cwd=REPO)
        if trig.returncode == 0:
            return
        time.sleep(3)
    pytest.fail(f"{dag_id} never became triggerable: {trig.stderr[-2000:]}")


def stop_processes(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM each process group, then SIGKILL what is still there after 30 s."""
    for proc in procs:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
