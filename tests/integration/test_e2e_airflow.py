"""End to end through Airflow: `airflow dags test` runs the poll DAG then the alert DAG against the real
Elasticsearch, a real SMTP server and the sample site; a second round adds nothing and sends nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from newswatch import index
from newswatch.clients import make_es
from newswatch.localstack.demosite import expected_articles
from newswatch.settings import ElasticsearchSettings, Settings
from tests.integration.helpers import airflow_env, expected_backlog_digests, wrong_levels

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

REPO = Path(__file__).resolve().parents[2]
AIRFLOW = str(Path(sys.executable).with_name("airflow"))


def airflow(env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([AIRFLOW, *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=REPO)
    assert proc.returncode == 0, f"airflow {' '.join(args)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


def test_poll_and_alert_dags(es_url: str, demo_site: str, smtp_sink, tmp_path: Path) -> None:
    port, maildir = smtp_sink
    prefix = f"nwe2e-{uuid.uuid4().hex[:8]}"
    env = airflow_env(tmp_path / "airflow", tmp_path, es_url=es_url, prefix=prefix, smtp_port=port,
                      demo_site=demo_site)
    settings = Settings(es=ElasticsearchSettings(url=es_url, index_prefix=prefix))
    es = make_es(settings)
    try:
        started = time.monotonic()
        airflow(env, "db", "migrate")
        airflow(env, "dags", "test", "newswatch_poll", "-c", json.dumps({"force": True}))
        airflow(env, "dags", "test", "newswatch_alert")
        print(f"\nfirst round through Airflow: {time.monotonic() - started:.1f}s")

        expected = expected_articles()
        art_index = index.index_name(settings, "articles")
        es.indices.refresh(index=art_index)
        docs = [h["_source"] for h in es.search(index=art_index, size=500)["hits"]["hits"]]
        assert len(docs) == len(expected)
        assert not wrong_levels(docs, expected)
        backlog_mails = expected_backlog_digests(expected)
        mails = list(maildir.glob("*.eml"))
        subjects = sorted(m.read_text(errors="replace").split("Subject:", 1)[1].split("\n", 1)[0] for m in mails)
        assert len(mails) == backlog_mails, subjects  # one backlog digest, not one email per story

        airflow(env, "dags", "test", "newswatch_poll", "-c", json.dumps({"force": True}))
        airflow(env, "dags", "test", "newswatch_alert")
        es.indices.refresh(index=art_index)
        assert es.count(index=art_index)["count"] == len(expected)
        assert len(list(maildir.glob("*.eml"))) == backlog_mails
        feeds = es.search(index=index.index_name(settings, "feeds"), size=50)["hits"]["hits"]
        assert feeds and all(f["_source"]["polls"] == 2 for f in feeds)
    finally:
        index.drop_indices(es, settings)
        es.close()
