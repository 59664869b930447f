"""Run newswatch_poll with ``dag.test()`` in this process, with chosen tasks failing; print what happened.

Used by ``test_partial_failure.py`` in a subprocess with its own AIRFLOW_HOME. The DAG's wiring, its
trigger rules and the real ``newswatch.steps`` functions that shape the shard results are under test; below
them, polling, fetching, indexing and feed health are stand-ins (the real ones are covered against real
services in tests/integration/). Arguments are scenarios ``FAIL:SHARDS``, run one after the other:
FAIL is ``poll`` (shard 1's poll fails), ``fetch`` (the last shard's fetch fails), ``index``, ``all`` (every
poll fails) or ``none``; SHARDS is the number of shards.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "dags"))  # as Airflow does for the bundle root

import newswatch.steps.runs  # noqa: E402
from newswatch import feedhealth, steps  # noqa: E402

state = {"fail": "none", "shards": 1, "indexed_batches": [], "notified": []}


def poll_shard(rt: object, batch: str, *, shard: int = 0, shards: int = 1, **_: object) -> dict:
    if state["fail"] == "all" or (state["fail"] == "poll" and shard == 1):
        raise RuntimeError("worker lost")
    return {"batch": batch, "shard": shard, "feeds": 2, "polled": 2, "ok": 2, "new_entries": 3,
            "error_classes": {"HTTPStatusError": 1}}


def fetch_batch(rt: object, batch: str, **_: object) -> dict:
    if state["fail"] == "fetch" and batch.endswith(f"s{state['shards'] - 1}"):
        raise RuntimeError("staging unreachable")
    return {"batch": batch, "articles": 3, "failed": 0}


def index_batches(rt: object, batches: list[str]) -> dict:
    if state["fail"] == "index":
        raise RuntimeError("cluster red")
    state["indexed_batches"] = list(batches)
    return {"indexed": 3 * len(batches), "core": 1, "related": 0, "none": 3 * len(batches) - 1}


steps.poll_shard, steps.fetch_batch, newswatch.steps.runs.index_batches = poll_shard, fetch_batch, index_batches
feedhealth.feed_rows = lambda *a, **k: []
steps.prune_staging = lambda rt, keep_days=None: {"deleted": [], "kept": [], "keep_days": 7}


def notify_failure(rt: object, failure: object) -> dict:
    # what the tasks' on_failure_callback hands the step (emailing it is covered in tests/integration)
    f = failure.__dict__
    state["notified"].append(f"{f['task_id']}[{f['map_index']}] try {f['try_number']}: {f['error']}")
    return {"sent": 1}


steps.notify_failure = notify_failure

from airflow.dag_processing.dagbag import DagBag  # noqa: E402
from airflow.models import TaskInstance  # noqa: E402
from airflow.models.asset import AssetEvent  # noqa: E402
from airflow.utils.session import create_session  # noqa: E402

for scenario in sys.argv[1:]:
    fail, shards = scenario.split(":")
    state.update(fail=fail, shards=int(shards), indexed_batches=[], notified=[])
    os.environ["NEWSWATCH_SHARDS"] = shards
    importlib.invalidate_caches()
    dag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"]).get_dag("newswatch_poll")
    for t in dag.tasks:
        t.retries = 0  # the failures are permanent here; retries would only wait
    with create_session() as session:
        events_before = session.query(AssetEvent).count()
    run = dag.test()
    with create_session() as session:
        tis = session.query(TaskInstance).filter(TaskInstance.run_id == run.run_id).all()
        states = {f"{ti.task_id}[{ti.map_index}]" if ti.map_index >= 0 else ti.task_id: str(ti.state) for ti in tis}
        events = session.query(AssetEvent).count() - events_before
        summary = next(ti for ti in tis if ti.task_id == "summarize")
        totals = summary.xcom_pull(task_ids="summarize") if str(summary.state) == "success" else None
    print("RESULT " + json.dumps({"scenario": scenario, "run": str(run.state), "tasks": states,
                                  "asset_events": events, "indexed_batches": state["indexed_batches"],
                                  "totals": totals, "notified": state["notified"]}, default=str), flush=True)
