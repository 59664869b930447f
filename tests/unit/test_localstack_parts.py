"""The production parts of the local stack, without starting them: PostgreSQL/Redis URLs and binaries, the
CeleryExecutor environment, the Elasticsearch cluster plan and the multi-node client."""

from __future__ import annotations

from pathlib import Path

import pytest

from newswatch.clients import es_hosts, make_es
from newswatch.errors import ServiceError
from newswatch.localstack import escluster, pgredis, services
from newswatch.settings import ElasticsearchSettings, PostgresSettings, RedisSettings, Settings


def _settings(tmp_path: Path, **kw) -> Settings:
    return Settings(var_dir=tmp_path / "var", cache_dir=tmp_path / "cache", **kw)


def test_urls_carry_the_generated_password_kept_once(tmp_path: Path) -> None:
    s = _settings(tmp_path, postgres=PostgresSettings(port=6543), redis=RedisSettings(port=6390))
    db = pgredis.airflow_db_url(s)
    assert db.startswith("postgresql+psycopg2://airflow:") and db.endswith("@127.0.0.1:6543/airflow")
    assert pgredis.celery_result_backend(s) == "db+" + db
    assert pgredis.airflow_db_url(s) == db  # kept, not regenerated
    assert (pgredis.pg_dir(s) / "secret").stat().st_mode & 0o077 == 0
    assert pgredis.celery_broker_url(s).startswith("redis://:") and pgredis.celery_broker_url(s).endswith(":6390/0")


def test_configured_passwords_win(tmp_path: Path) -> None:
    s = _settings(tmp_path, postgres=PostgresSettings(password="pgpw"), redis=RedisSettings(password="rpw"))
    assert ":pgpw@" in pgredis.airflow_db_url(s) and pgredis.celery_broker_url(s) == "redis://:rpw@127.0.0.1:6380/0"
    assert not (pgredis.pg_dir(s) / "secret").exists()


def test_missing_binaries_name_the_debian_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pgredis, "PG_ROOT", tmp_path / "nothing")
    monkeypatch.setattr(pgredis.shutil, "which", lambda name: None)
    with pytest.raises(ServiceError, match="apt-get install postgresql$"):
        pgredis.find_pg_bin()
    with pytest.raises(ServiceError, match="apt-get install redis-server$"):
        pgredis.find_redis()


def test_newest_postgresql_major_is_chosen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for major in ("9.6", "15", "17"):
        (tmp_path / major / "bin").mkdir(parents=True)
        (tmp_path / major / "bin" / "initdb").touch()
    monkeypatch.setattr(pgredis, "PG_ROOT", tmp_path)
    assert pgredis.find_pg_bin() == tmp_path / "17" / "bin"


def test_celery_setting_switches_airflow_to_postgres_and_redis(tmp_path: Path) -> None:
    local = services.airflow_env(_settings(tmp_path))
    assert local["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor" and "AIRFLOW__CELERY__BROKER_URL" not in local
    s = _settings(tmp_path, airflow_executor="celery")
    env = services.airflow_env(s)
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == pgredis.airflow_db_url(s)
    assert env["AIRFLOW__CELERY__BROKER_URL"] == pgredis.celery_broker_url(s)
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql+psycopg2://")
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == services.airflow_env(s)["AIRFLOW__API_AUTH__JWT_SECRET"]


def test_stack_refuses_an_unknown_service(tmp_path: Path) -> None:
    with pytest.raises(ServiceError, match="unknown service.*postgress"):
        services.up(_settings(tmp_path), ["postgress"])


def test_cluster_plan_and_the_client_on_every_node(tmp_path: Path) -> None:
    cluster = escluster.plan_cluster(_settings(tmp_path), "c1", [9291, 9292, 9293], [9391, 9392, 9393])
    assert [n.name for n in cluster.nodes] == ["c1-0", "c1-1", "c1-2"]
    assert len({n.folder for n in cluster.nodes}) == 3
    assert cluster.url == "http://127.0.0.1:9291,http://127.0.0.1:9292,http://127.0.0.1:9293"
    s = Settings(es=ElasticsearchSettings(url=cluster.url.replace(",", " , ")))
    assert es_hosts(s) == [n.url for n in cluster.nodes]
    es = make_es(s)
    try:
        assert len(es.transport.node_pool.all()) == 3
    finally:
        es.close()
    assert services.es_port(s) == 9291  # `stack up` runs the first node of a list
