"""The same DAGs, unchanged, under CeleryExecutor on the production parts: scheduler, DAG processor, API
server and a Celery worker as separate processes, the way a multi-host deployment runs them.

Airflow's metadata database and the Celery result backend are PostgreSQL, the broker is Redis: both from
the Debian packages (``scripts/install-test-tools.sh``), started by the ``pg_redis`` fixture as unprivileged
processes on free loopback ports (``newswatch.localstack.pgredis``) and stopped and deleted afterwards, also
when the test fails. Tasks share nothing but Elasticsearch and the staging URL, as on separate hosts. The poll run is
triggered; its Asset event must schedule the alert run; both must succeed with every task instance run by
the Celery worker, and the documents and emails must be those of the LocalExecutor path.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy

from newswatch import index
from newswatch.clients import make_es
from newswatch.localstack import pgredis
from newswatch.localstack.demosite import expected_articles
from newswatch.settings import ElasticsearchSettings, PostgresSettings, RedisSettings, Settings
from tests.conftest import free_port
from tests.integration.helpers import (
    airflow_env,
    expected_backlog_digests,
    start_airflow,
    stop_processes,
    trigger_when_parsed,
)

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.fixture()
def pg_redis(tmp_path: Path) -> Iterator[Settings]:
    """PostgreSQL and Redis on free loopback ports, from empty; stopped and removed afterwards."""
    settings = Settings(var_dir=tmp_path / "var", postgres=PostgresSettings(port=free_port()),
                        redis=RedisSettings(port=free_port()))
    try:
        for row in (pgredis.start_postgres(settings), pgredis.start_redis(settings)):
            print(f"\n{row['service']} on {row['url']} in {row['seconds']}s")
        yield settings
    finally:
        pgredis.stop_redis(settings, remove=True)
        pgredis.stop_postgres(settings, remove=True)


def _json_list(stdout: str) -> list[dict]:
    """The JSON list an ``airflow … -o json`` command printed (it may print log lines around it)."""
    for line in stdout.splitlines():
        if line.startswith("[{") or line.strip() == "[]":
            return list(json.loads(line))
    return []


def _runs(env: dict[str, str], dag_id: str) -> list[dict]:
    proc = subprocess.run([str(BIN / "airflow"), "dags", "list-runs", dag_id, "-o", "json"], env=env,
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    return _json_list(proc.stdout)


def _task_states(env: dict[str, str], dag_id: str, run_id: str) -> list[dict]:
    proc = subprocess.run([str(BIN / "airflow"), "tasks", "states-for-dag-run", dag_id, run_id, "-o", "json"],
                          env=env, capture_output=True, text=True, timeout=120, cwd=REPO)
    return _json_list(proc.stdout)


@pytest.mark.timeout(900)  # db migrate on PostgreSQL and five Airflow processes on a shared 2-core machine
def test_poll_and_alert_dags_under_celery(es_url: str, demo_site: str, smtp_sink, pg_redis: Settings,
                                          tmp_path: Path) -> None:
    port, maildir = smtp_sink
    home = tmp_path / "airflow"
    home.mkdir()
    api_port = free_port()
    prefix = f"nwcel-{uuid.uuid4().hex[:8]}"
    env = airflow_env(home, tmp_path, es_url=es_url, prefix=prefix, smtp_port=port, demo_site=demo_site, **{
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": pgredis.airflow_db_url(pg_redis),
        "AIRFLOW__CELERY__BROKER_URL": pgredis.celery_broker_url(pg_redis),
        "AIRFLOW__CELERY__RESULT_BACKEND": pgredis.celery_result_backend(pg_redis),
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "4",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": uuid.uuid4().hex,
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        "NEWSWATCH_POLL_SCHEDULE": "none",  # only the triggered run: no scheduled run queued ahead of it
    })
    migrate = subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=env, capture_output=True, text=True,
                             timeout=300, cwd=REPO)
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    procs: list[subprocess.Popen[bytes]] = []
    settings = Settings(es=ElasticsearchSettings(url=es_url, index_prefix=prefix))
    es = make_es(settings)
    try:
        logs = start_airflow(env, tmp_path, [("api-server", ["api-server", "--port", str(api_port)]),
                                             ("scheduler", ["scheduler"]), ("dag-processor", ["dag-processor"]),
                                             ("worker", ["celery", "worker", "--concurrency", "4"])], procs)
        started = time.monotonic()
        deadline = started + 420
        trigger_when_parsed(env, "newswatch_poll", {"force": True}, deadline)
        poll = alert = None
        while time.monotonic() < deadline:
            poll = next((r for r in _runs(env, "newswatch_poll") if r["run_id"].startswith("manual__")), None)
            # the run the poll run's Asset event scheduled; the 10-minute fallback may add a scheduled__ run of
            # its own when the test crosses a ten-minute mark, which is not the one under test
            alert = next((r for r in _runs(env, "newswatch_alert") if r["run_id"].startswith("asset_triggered__")),
                         None)
            if poll and poll["state"] == "failed":
                break
            if poll and poll["state"] == "success" and alert and alert["state"] in ("success", "failed"):
                break
            time.sleep(5)
        tails = {n: p.read_text(errors="replace")[-3000:] for n, p in logs.items()}
        assert poll and poll["state"] == "success", (poll, tails["scheduler"], tails["worker"])
        assert alert and alert["state"] == "success", (alert, tails["worker"])
        assert [r["run_id"] for r in _runs(env, "newswatch_poll")] == [poll["run_id"]]
        assert alert["run_id"].startswith("asset_triggered__"), alert  # scheduled by the poll run's Asset event
        poll_tis = {t["task_id"]: t["state"] for t in _task_states(env, "newswatch_poll", poll["run_id"])}
        assert poll_tis["publish"] == "success" and poll_tis["fail_run_if_a_task_failed"] == "skipped"
        print(f"\npoll and alert runs under CeleryExecutor: {time.monotonic() - started:.1f}s")

        # every task instance of both runs went through the Celery worker
        worker_log = logs["worker"].read_text(errors="replace")
        ran = sum(1 for line in worker_log.splitlines() if "execute_workload[" in line and "succeeded in" in line)
        done = [ti for dag_id, run in (("newswatch_poll", poll), ("newswatch_alert", alert))
                for ti in _task_states(env, dag_id, run["run_id"]) if ti["state"] == "success"]
        # shards, 2 × (poll, fetch), index, summarize, prune, publish, then the alert DAG's task(s); the alert
        # DAG's 10-minute fallback may add runs of its own, which the worker runs too
        extra = sum(len(_task_states(env, "newswatch_alert", r["run_id"])) for r in _runs(env, "newswatch_alert")
                    if r["run_id"] != alert["run_id"])
        assert len(done) >= 9 and ran >= len(done), (ran, done, extra, tails["worker"])  # retries count too
        # … with Redis as its broker and its results in PostgreSQL (Celery's own table there)
        assert f"127.0.0.1:{pg_redis.redis.port}" in worker_log, tails["worker"]
        engine = sqlalchemy.create_engine(pgredis.airflow_db_url(pg_redis))
        try:
            with engine.connect() as conn:
                results = dict(conn.execute(sqlalchemy.text(
                    "SELECT status, count(*) FROM celery_taskmeta GROUP BY status")).all())
        finally:
            engine.dispose()
        assert results.get("SUCCESS", 0) >= len(done), (results, len(done))
        print(f"Celery results in PostgreSQL: {results}; worker log: {ran} workloads, {len(done)} task instances")

        expected = expected_articles()
        art_index = index.index_name(settings, "articles")
        es.indices.refresh(index=art_index)
        assert es.count(index=art_index)["count"] == len(expected)
        backlog_mails = expected_backlog_digests(expected)
        assert len(list(maildir.glob("*.eml"))) == backlog_mails
    finally:
        stop_processes(procs)
        index.drop_indices(es, settings)
        es.close()
