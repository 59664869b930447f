"""The DAG side of the connections (``dags/_newswatch_common.py``): Airflow's lookup of
``newswatch_elasticsearch`` / ``newswatch_smtp`` (here from ``AIRFLOW_CONN_*``, JSON and URI forms), the
fallback to ``NEWSWATCH_*``, a malformed connection failing by name, and nothing secret in the log."""

from __future__ import annotations

import json
import logging

import pytest

SECRET = "conn-Pa55-9f8e7d"


@pytest.fixture()
def common(monkeypatch: pytest.MonkeyPatch):
    import _newswatch_common

    for name in ("NEWSWATCH_ELASTICSEARCH", "NEWSWATCH_SMTP"):
        monkeypatch.delenv(f"AIRFLOW_CONN_{name}", raising=False)
    monkeypatch.setenv("NEWSWATCH_ES__URL", "http://env-es:9200")
    monkeypatch.setenv("NEWSWATCH_SMTP__HOST", "env-mail")
    return _newswatch_common


def test_no_connection_falls_back_to_the_environment(common) -> None:
    assert common.read_connection("newswatch_elasticsearch") is None
    s = common.task_settings()
    assert s.es.url == "http://env-es:9200" and s.smtp.host == "env-mail"


def test_connections_override_the_environment_and_log_no_secret(common, monkeypatch, caplog) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_NEWSWATCH_ELASTICSEARCH", json.dumps({
        "conn_type": "generic", "host": "es.internal", "port": 9243, "schema": "https", "login": "newswatch",
        "password": SECRET, "extra": {"index_prefix": "prod", "api_key": SECRET + "-key"}}))
    monkeypatch.setenv("AIRFLOW_CONN_NEWSWATCH_SMTP", f"smtp://alerts:{SECRET}@smtp.example.org:587?starttls=true")
    with caplog.at_level(logging.DEBUG):
        s = common.task_settings(fetch={"max_articles_per_feed": 3})
        logging.getLogger("newswatch.test").info("the task's settings: %s / %r", s, s)
    assert s.es.url == "https://es.internal:9243" and s.es.index_prefix == "prod" and s.es.username == "newswatch"
    assert s.es.password is not None and s.es.password.get_secret_value() == SECRET
    assert (s.smtp.host, s.smtp.port, s.smtp.username, s.smtp.starttls) == ("smtp.example.org", 587, "alerts", True)
    assert s.smtp.password is not None and s.smtp.password.get_secret_value() == SECRET
    assert s.fetch.max_articles_per_feed == 3
    assert "connection newswatch_elasticsearch" in caplog.text and "connection newswatch_smtp" in caplog.text
    assert SECRET not in caplog.text


@pytest.mark.parametrize("value,message", [
    ('{"conn_type": "generic", "host": ', "AIRFLOW_CONN_NEWSWATCH_ELASTICSEARCH is set but is neither"),
    (json.dumps({"conn_type": "generic", "host": "es", "password": SECRET, "extra": {"index": "x"}}),
     "unknown extra key(s) index"),
    (json.dumps({"conn_type": "generic", "host": "es", "password": SECRET, "extra": "{oops"}),
     "extra is not valid JSON"),
])
def test_a_malformed_connection_fails_the_task_by_name(common, monkeypatch, caplog, value: str,
                                                       message: str) -> None:
    from newswatch.errors import ConfigError

    monkeypatch.setenv("AIRFLOW_CONN_NEWSWATCH_ELASTICSEARCH", value)
    with caplog.at_level(logging.DEBUG), pytest.raises(ConfigError) as err:
        common.task_settings()
    assert "newswatch_elasticsearch" in str(err.value) and message in str(err.value)
    assert SECRET not in str(err.value) and SECRET not in caplog.text


def test_the_failure_callback_never_raises(common, monkeypatch, caplog) -> None:
    """Whatever breaks — a context without a task instance, the notice itself — the callback logs it."""
    from newswatch import steps

    def broken(rt, failure):
        raise RuntimeError("no way to send")

    monkeypatch.setattr(steps, "notify_failure", broken)
    assert common.notify_task_failure({}) is None
    ti = type("TI", (), {"dag_id": "newswatch_alert", "task_id": "send_alerts", "run_id": "r", "try_number": 2,
                         "map_index": -1, "log_url": "http://x/log"})()
    with caplog.at_level(logging.ERROR):
        assert common.notify_task_failure({"ti": ti, "exception": ValueError("bad")}) is None
    assert "could not be sent" in caplog.text


def test_the_callbacks_hand_the_step_what_failed(common, monkeypatch) -> None:
    from newswatch import steps

    seen = []
    monkeypatch.setattr(steps, "notify_failure", lambda rt, failure: seen.append(failure) or {"sent": 1})
    ti = type("TI", (), {"dag_id": "newswatch_poll", "task_id": "shard.poll_shard", "run_id": "r1",
                         "try_number": 3, "map_index": 0, "log_url": "http://x/log"})()
    assert common.notify_task_failure({"ti": ti, "run_id": "r1", "exception": ValueError("bad feed")}) == {"sent": 1}
    dag = type("D", (), {"dag_id": "newswatch_poll"})()
    assert common.notify_run_failure({"dag": dag, "run_id": "r1", "reason": "task_failure"}) is None  # told already
    assert common.notify_run_failure({"dag": dag, "run_id": "r1", "reason": "timed_out"}) == {"sent": 1}
    task, run = seen
    assert (task.dag_id, task.task_id, task.map_index, task.try_number, task.error, task.log_url) == (
        "newswatch_poll", "shard.poll_shard", 0, 3, "ValueError: bad feed", "http://x/log")
    assert (run.task_id, run.reason, run.key) == (None, "timed_out", "newswatch_poll:r1:run")
