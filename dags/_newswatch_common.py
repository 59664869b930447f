"""What the newswatch DAG files share: the task's settings (Airflow Connections over ``NEWSWATCH_*``) and the
failure callbacks that email the operators. Not a DAG file (``.airflowignore`` keeps the parser away); the
DAG files import it from the DAG folder, which Airflow puts on ``sys.path`` (the bundle root).

Everything here runs inside a task or a callback, never at parse time: the module imports only the standard
library at the top, and ``newswatch`` / Airflow's connection lookup inside the functions.

Connections (from the metadata DB, a secrets backend or ``AIRFLOW_CONN_<ID>`` variables):

- ``newswatch_elasticsearch`` — overrides ``NEWSWATCH_ES__*``;
- ``newswatch_smtp`` — overrides ``NEWSWATCH_SMTP__*``.

The field mapping is ``newswatch.connections`` (Airflow-free, unit-tested). A missing connection falls back
to the environment; a malformed one fails the task with a ``ConfigError`` naming it. Secrets end up only in
``SecretStr`` fields (masked in ``repr`` and logs); no task returns settings, so none reach XCom.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any

log = logging.getLogger("newswatch.airflow")

CONNECTIONS = {"es": "newswatch_elasticsearch", "smtp": "newswatch_smtp"}


def read_connection(conn_id: str) -> dict[str, Any] | None:
    """The fields of Airflow Connection ``conn_id`` as a plain dict, or None when it is not defined.

    A set ``AIRFLOW_CONN_<ID>`` that Airflow could not parse (Airflow skips it silently) is an error, not a
    fallback. Error messages name the connection, never its URI or password."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    from newswatch.errors import ConfigError

    env = f"AIRFLOW_CONN_{conn_id.upper()}"
    try:
        conn = Connection.get(conn_id)
    except AirflowNotFoundException:
        if os.environ.get(env, "").strip():
            raise ConfigError(f"Airflow connection {conn_id!r}: {env} is set but is neither a connection JSON "
                              "object nor a connection URI") from None
        return None
    except Exception as exc:  # a parse error's text may quote the URI, password included
        raise ConfigError(f"Airflow connection {conn_id!r} could not be read ({type(exc).__name__})") from None
    return {"conn_type": conn.conn_type, "host": conn.host, "port": conn.port, "schema": conn.schema,
            "login": conn.login, "password": conn.password, "extra": conn.extra}


def task_settings(**overrides: Any) -> Any:
    """The ``newswatch.settings.Settings`` a task runs with: ``NEWSWATCH_*`` with the connections applied,
    then ``overrides`` (sections, e.g. ``fetch={"max_articles_per_feed": 5}`` from a run's params)."""
    from newswatch.connections import apply_connections
    from newswatch.settings import Settings

    found = {section: read_connection(conn_id) for section, conn_id in CONNECTIONS.items()}
    settings = apply_connections(Settings(), **found).with_overrides(**overrides)
    log.info("settings: Elasticsearch %s (%s), SMTP %s:%s (%s)", re.sub(r"//[^/@]*@", "//***@", settings.es.url),
             "connection " + CONNECTIONS["es"] if found["es"] is not None else "NEWSWATCH_ES__*",
             settings.smtp.host, settings.smtp.port,
             "connection " + CONNECTIONS["smtp"] if found["smtp"] is not None else "NEWSWATCH_SMTP__*")
    return settings


def task_runtime(**overrides: Any) -> Any:
    """A ``newswatch.runtime.Runtime`` on ``task_settings(**overrides)``: ``with task_runtime() as rt: …``."""
    from newswatch.runtime import Runtime

    return Runtime(task_settings(**overrides))


def _callback_settings() -> Any:
    # a malformed connection must not silence the notice about it: fall back to the environment
    try:
        return task_settings()
    except Exception as exc:
        from newswatch.settings import Settings

        log.error("failure notice: %s; using the NEWSWATCH_* settings", exc)
        return Settings()


def _notify(failure: Any) -> dict[str, Any] | None:
    try:
        from newswatch import steps
        from newswatch.runtime import Runtime

        with Runtime(_callback_settings()) as rt:
            return steps.notify_failure(rt, failure)
    except Exception:  # a callback never raises: Airflow would only log it where nobody looks
        log.exception("the failure notice to the operators could not be sent")
        return None


def notify_task_failure(context: Any) -> dict[str, Any] | None:
    """Task ``on_failure_callback`` (in ``default_args``): runs in the worker once a task failed for good
    (not on a retry); emails every operator once per try."""
    try:
        from newswatch.alerts.failures import Failure

        ti = context.get("ti") or context.get("task_instance")
        error = context.get("exception")
        failure = Failure(
            dag_id=str(ti.dag_id), run_id=str(context.get("run_id") or ti.run_id), task_id=str(ti.task_id),
            try_number=int(ti.try_number or 0), map_index=_map_index(ti),
            error=f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else
            (str(error) if error else None), log_url=_log_url(ti))
    except Exception:
        log.exception("failure callback: unexpected context")
        return None
    return _notify(failure)


def notify_run_failure(context: Any) -> dict[str, Any] | None:
    """DAG ``on_failure_callback``: a run that failed without a failed task telling (``dagrun_timeout``,
    deadlock). A run failed by a task sends nothing more: that task's callback already did."""
    try:
        from newswatch.alerts.failures import Failure

        reason = str(context.get("reason") or "failed")
        if reason == "task_failure":
            return None
        dag = context.get("dag")
        failure = Failure(dag_id=str(getattr(dag, "dag_id", dag)), run_id=str(context.get("run_id")),
                          reason=reason, error=f"the run ended {reason}")
    except Exception:
        log.exception("run failure callback: unexpected context")
        return None
    return _notify(failure)


def _map_index(ti: Any) -> int:
    value = getattr(ti, "map_index", None)
    return -1 if value is None else int(value)


def _log_url(ti: Any) -> str | None:
    try:
        return str(ti.log_url)
    except Exception:
        return None
