"""Airflow-native configuration against the real services: failure notices through the outbox (real
Elasticsearch, real SMTP sink), and DAG runs (``dag.test()``) whose settings come from ``AIRFLOW_CONN_*``
connections — with no secret in XCom, the metadata database or any log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import pytest

from newswatch import clients, steps
from newswatch.alerts.failures import Failure, notify_task_failure
from newswatch.config import Recipient
from newswatch.runtime import Runtime
from newswatch.settings import ElasticsearchSettings, Settings, SMTPSettings
from tests.conftest import free_port
from tests.integration.alertkit import body_text, mails

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
SECRET = "es-Pa55word-" + uuid.uuid4().hex[:8]
OPERATORS = [Recipient(email="ops@example.org", operator=True, topics=[], modes=[]),
             Recipient(email="oncall@example.org", name="On call", operator=True, topics=[], modes=[]),
             Recipient(email="analyst@example.org")]
FAILURE = Failure(dag_id="newswatch_poll", run_id="scheduled__2026-12-02T10:00:00+00:00",
                  task_id="shard.fetch_shard", try_number=3, map_index=1,
                  error="RuntimeError: staging unreachable", log_url="http://airflow.local/log?try=3")


def _notify(settings: Settings, failure: Failure, es: Any) -> dict[str, Any]:
    return notify_task_failure(settings, es, lambda: clients.smtp_connect(settings), OPERATORS, failure)


def test_a_failure_notice_reaches_each_operator_once_per_try(settings_factory, smtp_sink) -> None:
    port, folder = smtp_sink
    settings = settings_factory(smtp_port=port)
    with Runtime(settings) as rt:
        rt.ensure_indices()
        first = _notify(settings, FAILURE, rt.es)
        again = _notify(settings, FAILURE, rt.es)  # the callback ran twice: the claims hold it back
        retried = _notify(settings, Failure(**{**FAILURE.__dict__, "try_number": 4}), rt.es)
    assert (first["operators"], first["sent"], first["unclaimed"]) == (2, 2, 0)
    assert (again["sent"], again["skipped"]) == (0, 2)
    assert retried["sent"] == 2  # a cleared task's new try fails anew: a new notice
    got = mails(folder)
    assert sorted(parseaddr(str(m["To"]))[1] for m in got) == sorted(["ops@example.org", "oncall@example.org"] * 2)
    msg = got[0]
    assert "newswatch_poll.shard.fetch_shard[1] failed" in str(msg["Subject"])
    text = body_text(msg)
    for expected in ("Run: scheduled__2026-12-02T10:00:00+00:00", "map index 1", "RuntimeError: staging unreachable",
                     "http://airflow.local/log?try=3"):
        assert expected in text


def test_a_notice_never_carries_a_secret(settings_factory, smtp_sink) -> None:
    port, folder = smtp_sink
    settings = settings_factory(smtp_port=port).with_overrides(es={"password": SECRET})
    leaky = Failure(dag_id="newswatch_alert", run_id="r1", task_id="send_alerts", try_number=1,
                    error=f"AuthenticationException: bad credentials elastic:{SECRET}")
    with Runtime(settings) as rt:
        rt.ensure_indices()
        assert _notify(settings, leaky, rt.es)["sent"] == 2
    got = mails(folder)
    texts = [body_text(m) + body_text(m, "html") + str(m["Subject"]) for m in got]
    assert len(texts) == 2 and all(SECRET not in t and "elastic:***" in t for t in texts)


def test_without_elasticsearch_the_notice_goes_out_unclaimed(es_url, smtp_sink, tmp_path) -> None:
    port, folder = smtp_sink
    dead_es = f"http://127.0.0.1:{free_port()}"
    settings = Settings(es=ElasticsearchSettings(url=dead_es), smtp=SMTPSettings(port=port), var_dir=tmp_path,
                        config_dir=REPO / "config")
    with Runtime(settings) as rt:  # the step the callback runs: Elasticsearch is what failed
        summary = steps.notify_failure(rt, FAILURE)
    assert summary["operators"] == 1 and summary["sent"] == summary["unclaimed"] == 1  # ops@ in config/
    assert [parseaddr(str(m["To"]))[1] for m in mails(folder)] == ["ops@example.org"]


def test_an_smtp_outage_is_counted_not_raised(settings_factory) -> None:
    settings = settings_factory(smtp_port=free_port())  # nothing listens there
    with Runtime(settings) as rt:
        rt.ensure_indices()
        summary = _notify(settings, FAILURE, rt.es)
        # and without Elasticsearch either
        unclaimed = _notify(settings, FAILURE, None)
    assert summary["sent"] == 0 and summary["failed"] == 2
    assert unclaimed["sent"] == 0 and unclaimed["failed"] == 2


# -- DAG runs with connections ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def runs(es_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from newswatch.index import drop_indices
    from newswatch.localstack.mailsink import start_sink

    home = tmp_path_factory.mktemp("airflow")
    folder = home / "mail"
    port = free_port()
    sink = start_sink(folder, "127.0.0.1", port)
    prefix = f"nwtest-{uuid.uuid4().hex[:8]}"
    host, es_port = es_url.rsplit("://", 1)[1].rsplit(":", 1)
    env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
           # the environment points elsewhere: the connections must win
           "NEWSWATCH_ES__URL": f"http://127.0.0.1:{free_port()}", "NEWSWATCH_SMTP__PORT": str(free_port()),
           "NEWSWATCH_CONFIG_DIR": str(REPO / "config"), "NEWSWATCH_VAR_DIR": str(home / "var"),
           "NW_CLOSED_PORT": str(free_port()),
           "AIRFLOW_CONN_NEWSWATCH_ELASTICSEARCH": json.dumps({
               "conn_type": "generic", "host": host, "port": int(es_port), "schema": "http", "login": "elastic",
               "password": SECRET, "extra": {"index_prefix": prefix}}),
           "AIRFLOW_CONN_NEWSWATCH_SMTP": f"smtp://127.0.0.1:{port}?sender=newswatch+%3Cops-bot%40example.org%3E"}
    try:
        proc = subprocess.run([AIRFLOW, "db", "migrate"], env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        proc = subprocess.run([sys.executable, str(REPO / "tests" / "integration" / "airflow_native_run.py"),
                               "ok", "es_down", "fail_twice"], env=env, capture_output=True, text=True, timeout=600)
        results = {r["scenario"]: r for r in (json.loads(ln.removeprefix("RESULT "))
                                              for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))}
        assert len(results) == 3, proc.stdout[-3000:] + proc.stderr[-5000:]
        yield {"results": results, "output": proc.stdout + proc.stderr, "home": home, "mail": folder,
               "prefix": prefix}
    finally:
        sink.stop()
        s = Settings(es=ElasticsearchSettings(url=es_url, index_prefix=prefix))
        es = clients.make_es(s)
        drop_indices(es, s)
        es.close()


def test_a_run_uses_the_connections_over_the_environment(runs: dict[str, Any], es_url: str) -> None:
    out = runs["results"]["ok"]
    assert out["run"] == "success" and out["tasks"] == {"reprocess": "success"}
    assert out["xcom"]["reprocess"]["pages"] == 0  # it reached the connection's cluster (not NEWSWATCH_ES__URL)
    s = Settings(es=ElasticsearchSettings(url=es_url, index_prefix=runs["prefix"]))
    es = clients.make_es(s)
    try:  # and created its indices under the connection's index_prefix
        assert es.indices.exists(index=f"{runs['prefix']}-articles")
    finally:
        es.close()
    assert "connection newswatch_elasticsearch" in runs["output"]


def test_no_secret_in_xcom_database_or_logs(runs: dict[str, Any]) -> None:
    assert SECRET not in json.dumps(runs["results"])  # every task's XCom value
    assert SECRET not in runs["output"]  # the task logs of dag.test()
    leaks = [str(p) for p in runs["home"].rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]
    assert leaks == []  # the metadata database (XCom, rendered fields), log files


def test_a_failed_task_emails_the_operators_once(runs: dict[str, Any]) -> None:
    down, twice = runs["results"]["es_down"], runs["results"]["fail_twice"]
    assert down["run"] == "failed" and down["tasks"] == {"retag": "failed"}
    assert twice["run"] == "failed" and twice["tasks"] == {"retag": "failed"}
    # Elasticsearch down: the notice could not be claimed, so it went out without a claim
    assert [(c["sent"], c["unclaimed"]) for c in down["callbacks"]] == [(1, 1)]
    # the callback ran twice for one try: the second found the claim and sent nothing
    assert [(c["sent"], c["skipped"]) for c in twice["callbacks"]] == [(1, 0), (0, 1)]
    got = mails(runs["mail"])
    assert len(got) == 2 and all("newswatch_retag.retag failed" in str(m["Subject"]) for m in got)
    assert all(parseaddr(str(m["From"]))[1] == "ops-bot@example.org" for m in got)  # the SMTP connection's sender
    texts = sorted(body_text(m) for m in got)
    assert any("RuntimeError: retag broke on purpose" in t for t in texts)
    assert all("Try: 1" in t and "Log: http" in t for t in texts)
