"""Run newswatch_poll with ``dag.test()`` in this process, one shard's task failing; print what happened.

Used by ``test_partial_failure.py`` in a subprocess with its own AIRFLOW_HOME. The core functions the task
bodies call are replaced by stand-ins (the DAG's wiring and trigger rules are what is under test; the real
functions are covered against real services in tests/integration/), and ``FAIL`` picks the broken task:
``poll`` fails shard 1's poll, ``fetch`` shard 2's fetch, ``none`` nothing.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from newswatch import jobs  # noqa: E402

FAIL = os.environ["FAIL"]
indexed_batches: list[str] = []


def poll_shard(shard: int, shards: int, batch: str, **_: object) -> dict:
    if FAIL == "poll" and shard == 1:
        raise RuntimeError("worker lost")
    return {"batch": batch, "shard": shard, "feeds": 2, "polled": 2, "ok": 2, "new_entries": 3}


def fetch_batch(batch: str, **_: object) -> dict:
    if FAIL == "fetch" and batch.endswith("s2"):
        raise RuntimeError("staging unreachable")
    return {"batch": batch, "articles": 3, "failed": 0}


def index_batches(batches: list[str], **_: object) -> dict:
    indexed_batches.extend(batches)
    return {"indexed": 3 * len(batches), "core": 1, "related": 0, "none": 2 * len(batches)}


jobs.poll_shard, jobs.fetch_batch, jobs.index_batches = poll_shard, fetch_batch, index_batches
jobs.feed_health = lambda: []
jobs.prune_staging = lambda **_: {"deleted": 0}

from airflow.dag_processing.dagbag import DagBag  # noqa: E402
from airflow.models import TaskInstance  # noqa: E402
from airflow.models.asset import AssetEvent  # noqa: E402
from airflow.utils.session import create_session  # noqa: E402

dag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"]).get_dag("newswatch_poll")
for t in dag.tasks:
    t.retries = 0  # the failure is permanent here; retries would only wait
run = dag.test()
with create_session() as session:
    tis = session.query(TaskInstance).filter(TaskInstance.run_id == run.run_id).all()
    states = {f"{ti.task_id}[{ti.map_index}]" if ti.map_index >= 0 else ti.task_id: str(ti.state) for ti in tis}
    events = session.query(AssetEvent).count()
    summary = next(ti for ti in tis if ti.task_id == "summarize")
    totals = summary.xcom_pull(task_ids="summarize") if str(summary.state) == "success" else None
print("RESULT " + json.dumps({"run": str(run.state), "tasks": states, "asset_events": events,
                              "indexed_batches": indexed_batches, "totals": totals}, default=str))
