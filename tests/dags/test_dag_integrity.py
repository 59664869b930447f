"""DAG integrity: every DAG loads, follows the house rules and imports nothing heavy at parse time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def test_no_import_errors(dagbag) -> None:
    assert not dagbag.import_errors, dagbag.import_errors


def test_expected_dags(dagbag) -> None:
    assert set(dagbag.dag_ids) == {"newswatch_poll", "newswatch_alert", "newswatch_digest", "newswatch_reprocess",
                                    "newswatch_retag"}


def test_house_rules(dagbag) -> None:
    """Every DAG the bag loaded (not a list written here): prefix, tags, docs, no catchup, owner, retries."""
    assert dagbag.dags
    for dag_id, dag in dagbag.dags.items():
        assert dag_id.startswith("newswatch_"), dag_id
        assert "newswatch" in dag.tags, dag_id
        assert dag.doc_md and dag_id in dag.doc_md, dag_id
        assert not dag.catchup and dag.max_active_runs == 1, dag_id
        for t in dag.tasks:
            assert t.retries >= 2, f"{dag_id}.{t.task_id} has {t.retries} retries"
            assert t.owner == "newswatch", f"{dag_id}.{t.task_id}"


def test_parsing_imports_nothing_heavy() -> None:
    """Parse time stays small: loading the DAG files imports none of newswatch, Elasticsearch, httpx,
    trafilatura, feedparser (they are imported inside task bodies; httpx is left out: Airflow itself imports
    it). Checked on the modules loaded, not on a clock."""
    code = (
        "import json, sys; from airflow.dag_processing.dagbag import DagBag; "
        f"bag = DagBag(dag_folder={str(DAGS)!r}); "
        "print(json.dumps([m for m in sys.modules if m.split('.')[0] in "
        "('newswatch', 'extractors', 'elasticsearch', 'trafilatura', 'feedparser')]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_poll_dag_maps_over_shards_and_feeds_the_alert_dag(dagbag) -> None:
    poll, alert = dagbag.dags.get("newswatch_poll"), dagbag.dags.get("newswatch_alert")
    mapped = {t.task_id for t in poll.tasks
              if getattr(t, "is_mapped", False) or t.get_closest_mapped_task_group() is not None}
    assert mapped == {"shard.poll_shard", "shard.fetch_shard"}  # a mapped task group, one per shard
    assert "index_batches" in poll.task_dict and not poll.task_dict["index_batches"].is_mapped
    outlets = [o for t in poll.tasks for o in getattr(t, "outlets", [])]
    assert any(getattr(o, "name", "") == "newswatch_articles" for o in outlets)
    # the articles Asset, or every 10 minutes: a failed send is retried without waiting for new articles
    assert type(alert.timetable).__name__ == "AssetOrTimeSchedule"
    assert "newswatch_articles" in repr(alert.timetable.asset_condition)
    assert "*/10" in repr(alert.timetable.timetable)


def test_digest_dag_runs_hourly(dagbag) -> None:
    digest = dagbag.dags.get("newswatch_digest")
    assert "2 * * * *" in repr(digest.timetable) and digest.max_active_runs == 1
    assert all(t.retries >= 2 and t.execution_timeout for t in digest.tasks)

