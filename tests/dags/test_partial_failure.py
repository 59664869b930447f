"""One failed shard never holds up the others: their articles are indexed and published, the run is failed.

Runs the real newswatch_poll DAG with ``dag.test()`` in a subprocess (its own AIRFLOW_HOME and SQLite
database), with one shard's poll or fetch, the indexing, or every shard failing; see
``partial_failure_run.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
SCENARIOS = ["poll:3", "fetch:2", "index:2", "all:2", "none:1"]


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    home = tmp_path_factory.mktemp("airflow")
    env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db"}
    proc = subprocess.run([AIRFLOW, "db", "migrate"], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = subprocess.run([sys.executable, str(REPO / "tests" / "dags" / "partial_failure_run.py"), *SCENARIOS],
                          env=env, capture_output=True, text=True, timeout=600)
    results = [json.loads(ln.removeprefix("RESULT ")) for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert len(results) == len(SCENARIOS), proc.stdout[-3000:] + proc.stderr[-5000:]
    return {r["scenario"]: r for r in results}


def _shards(batches: list[str]) -> list[str]:
    return sorted(b.rsplit("-", 1)[1] for b in batches)


@pytest.mark.parametrize("scenario,broken,healthy", [
    ("poll:3", "shard.poll_shard[1]", ["s0", "s2"]),
    ("fetch:2", "shard.fetch_shard[1]", ["s0"]),  # one survivor: Airflow hands over a bare dict, not a list
])
def test_a_failed_shard_holds_up_no_other(outcomes: dict[str, dict], scenario: str, broken: str,
                                          healthy: list[str]) -> None:
    out = outcomes[scenario]
    tasks = out["tasks"]
    assert tasks[broken] == "failed"
    # the healthy shards went all the way: fetched, indexed together, summarized, published
    assert _shards(out["indexed_batches"]) == healthy
    assert tasks["index_batches"] == tasks["summarize"] == tasks["publish"] == "success"
    assert out["asset_events"] == 1  # so newswatch_alert runs for what was indexed
    totals = out["totals"]
    assert totals["shards_failed"] == 1 and totals["indexed"] == 3 * len(healthy)
    # the summary still counts the polls that succeeded, whether or not their fetch did
    assert totals["polled"] == 2 * (len(healthy) + (scenario == "fetch:2"))
    # and the run says that something failed
    assert tasks["fail_run_if_a_task_failed"] == "failed" and out["run"] == "failed"
    # the operators hear of the failed task once, through its on_failure_callback; the leaf that only
    # marks the run failed sends nothing of its own
    task, index = broken.removesuffix("]").split("[")
    assert out["notified"] == [f"{task}[{index}] try 1: RuntimeError: "
                               f"{'worker lost' if 'poll' in task else 'staging unreachable'}"]


def test_failed_indexing_is_summarized_and_publishes_nothing(outcomes: dict[str, dict]) -> None:
    out = outcomes["index:2"]
    assert out["tasks"]["index_batches"] == "failed" and out["tasks"]["summarize"] == "success"
    assert out["totals"]["indexed"] == 0 and out["totals"]["articles"] == 6
    assert out["tasks"]["publish"] == "skipped" and out["asset_events"] == 0
    assert out["run"] == "failed"
    assert out["notified"] == ["index_batches[-1] try 1: RuntimeError: cluster red"]


def test_every_shard_failing_is_summarized(outcomes: dict[str, dict]) -> None:
    out = outcomes["all:2"]
    assert out["tasks"]["summarize"] == "success"
    assert out["totals"]["shards_failed"] == 2 and out["totals"]["polled"] == 0
    assert out["asset_events"] == 0 and out["run"] == "failed"


def test_a_healthy_single_shard_run_succeeds(outcomes: dict[str, dict]) -> None:
    out = outcomes["none:1"]
    assert out["run"] == "success" and out["asset_events"] == 1
    assert out["tasks"]["fail_run_if_a_task_failed"] == "skipped"
    assert out["notified"] == []
    assert out["totals"]["shards_failed"] == 0 and _shards(out["indexed_batches"]) == ["s0"]
