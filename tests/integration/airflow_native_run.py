"""Run maintenance DAGs with ``dag.test()`` in this process, settings from Airflow Connections given as
``AIRFLOW_CONN_*`` variables; print what happened. Used by ``test_airflow_native.py`` in a subprocess with its
own AIRFLOW_HOME.

Scenarios (arguments, run in order):

- ``ok``: ``newswatch_reprocess`` with real steps against the Elasticsearch of the connection;
- ``es_down``: ``newswatch_retag`` with the connection's port switched to a closed one, so the real step
  fails and the failure callback, finding no Elasticsearch, sends its notice unclaimed;
- ``fail_twice``: ``newswatch_retag`` whose step raises, with the failure callback run twice for the same
  try (as a retried callback would): the outbox claim lets one email through.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "dags"))  # as Airflow does for the bundle root

import _newswatch_common  # noqa: E402

from newswatch import steps  # noqa: E402

_notify_once = _newswatch_common.notify_task_failure
callback_results: list = []


def notify_twice(context):  # replaces the callback before the DAG files are parsed
    first = _notify_once(context)
    if os.environ.get("NW_SCENARIO") == "fail_twice":
        callback_results.append(first)
        callback_results.append(_notify_once(context))
    else:
        callback_results.append(first)
    return first


_newswatch_common.notify_task_failure = notify_twice
_real_retag = steps.retag


def retag(rt, ids=None, **kwargs):
    if os.environ.get("NW_SCENARIO") == "fail_twice":
        raise RuntimeError("retag broke on purpose")
    return _real_retag(rt, ids, **kwargs)


steps.retag = retag

from airflow.dag_processing.dagbag import DagBag  # noqa: E402
from airflow.models import TaskInstance  # noqa: E402
from airflow.utils.session import create_session  # noqa: E402

es_conn = json.loads(os.environ["AIRFLOW_CONN_NEWSWATCH_ELASTICSEARCH"])
for scenario in sys.argv[1:]:
    os.environ["NW_SCENARIO"] = scenario
    callback_results.clear()
    conn = dict(es_conn)
    if scenario == "es_down":
        conn["port"] = int(os.environ["NW_CLOSED_PORT"])
    os.environ["AIRFLOW_CONN_NEWSWATCH_ELASTICSEARCH"] = json.dumps(conn)
    dag_id = "newswatch_reprocess" if scenario == "ok" else "newswatch_retag"
    dag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"]).get_dag(dag_id)
    for t in dag.tasks:
        t.retries = 0
    run = dag.test(run_conf={"ids": ["no-such-article"]})
    with create_session() as session:
        tis = session.query(TaskInstance).filter(TaskInstance.run_id == run.run_id,
                                                 TaskInstance.dag_id == dag_id).all()
        states = {ti.task_id: str(ti.state) for ti in tis}
        xcoms = {ti.task_id: ti.xcom_pull(task_ids=ti.task_id) for ti in tis}
    print("RESULT " + json.dumps({"scenario": scenario, "dag": dag_id, "run": str(run.state), "tasks": states,
                                  "xcom": xcoms, "callbacks": callback_results}, default=str), flush=True)
