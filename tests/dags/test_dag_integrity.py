"""DAG integrity: every DAG loads, follows the house rules and parses fast."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    started = time.monotonic()
    bag = DagBag(dag_folder=str(DAGS))
    bag.parse_seconds = time.monotonic() - started
    return bag


def test_no_import_errors(dagbag) -> None:
    assert not dagbag.import_errors, dagbag.import_errors


def test_expected_dags(dagbag) -> None:
    assert set(dagbag.dag_ids) == {"newswatch_poll", "newswatch_alert", "newswatch_reprocess"}


@pytest.mark.parametrize("dag_id", ["newswatch_poll", "newswatch_alert", "newswatch_reprocess"])
def test_house_rules(dagbag, dag_id: str) -> None:
    dag = dagbag.dags.get(dag_id)
    assert dag_id.startswith("newswatch_")
    assert "newswatch" in dag.tags
    assert dag.doc_md and dag_id in dag.doc_md
    assert not dag.catchup and dag.max_active_runs == 1
    for t in dag.tasks:
        # the watcher only turns a failure upstream into a failed run: retrying it would only wait
        assert t.retries >= 1 or t.task_id == "fail_run_if_a_task_failed", f"{dag_id}.{t.task_id} has no retries"
        assert t.owner == "newswatch"


def test_poll_dag_maps_over_shards_and_feeds_the_alert_dag(dagbag) -> None:
    poll, alert = dagbag.dags.get("newswatch_poll"), dagbag.dags.get("newswatch_alert")
    mapped = {t.task_id for t in poll.tasks
              if getattr(t, "is_mapped", False) or t.get_closest_mapped_task_group() is not None}
    assert mapped == {"shard.poll_shard", "shard.fetch_shard"}  # a mapped task group, one per shard
    assert "index_batches" in poll.task_dict and not poll.task_dict["index_batches"].is_mapped
    outlets = [o for t in poll.tasks for o in getattr(t, "outlets", [])]
    assert any(getattr(o, "name", "") == "newswatch_articles" for o in outlets)
    assert type(alert.timetable).__name__ == "AssetTriggeredTimetable"
    assert "newswatch_articles" in repr(alert.timetable.asset_condition)


def test_parse_is_fast(dagbag) -> None:
    assert dagbag.parse_seconds < 10
