"""One failed shard never holds up the others: their articles are indexed and published, the run is failed.

Runs the real newswatch_poll DAG with ``dag.test()`` in a subprocess (its own AIRFLOW_HOME and SQLite
database), with one shard's poll or fetch task raising; see ``partial_failure_run.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
AIRFLOW = str(Path(sys.executable).with_name("airflow"))


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("airflow")
    proc = subprocess.run([AIRFLOW, "db", "migrate"], env=_env(home), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return home


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db", "NEWSWATCH_SHARDS": "3"}


def _run(airflow_home: Path, tmp_path: Path, fail: str) -> dict:
    home = tmp_path / "home"
    shutil.copytree(airflow_home, home)  # a fresh database per scenario
    proc = subprocess.run([sys.executable, str(REPO / "tests" / "dags" / "partial_failure_run.py")],
                          env={**_env(home), "FAIL": fail}, capture_output=True, text=True, timeout=300)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    assert line, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(line.removeprefix("RESULT "))


@pytest.mark.parametrize("fail,broken,healthy", [
    ("poll", "shard.poll_shard[1]", ("s0", "s2")),
    ("fetch", "shard.fetch_shard[2]", ("s0", "s1")),
])
def test_a_failed_shard_holds_up_no_other(airflow_home: Path, tmp_path: Path, fail: str, broken: str,
                                          healthy: tuple[str, ...]) -> None:
    out = _run(airflow_home, tmp_path, fail)
    tasks = out["tasks"]
    assert tasks[broken] == "failed"
    # the healthy shards went all the way: fetched, indexed together, summarized, published
    assert sorted(b.rsplit("-", 1)[1] for b in out["indexed_batches"]) == list(healthy)
    assert tasks["index_batches"] == tasks["summarize"] == tasks["publish"] == "success"
    assert out["asset_events"] == 1  # so newswatch_alert runs for what was indexed
    assert out["totals"]["shards"] == 3 and out["totals"]["shards_failed"] == 1
    assert out["totals"]["indexed"] == 6
    # and the run says that something failed
    assert tasks["fail_run_if_a_task_failed"] == "failed" and out["run"] == "failed"


def test_a_healthy_run_succeeds(airflow_home: Path, tmp_path: Path) -> None:
    out = _run(airflow_home, tmp_path, "none")
    assert out["run"] == "success" and out["asset_events"] == 1
    assert out["tasks"]["fail_run_if_a_task_failed"] == "skipped"
    assert out["totals"]["shards_failed"] == 0 and len(out["indexed_batches"]) == 3
