"""DAG integrity: every DAG loads, follows the house rules and imports nothing heavy at parse time."""

from __future__ import annotations

import json
import os
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
    it). Checked on the modules loaded, not on a clock. Nor does parsing read the connections: broken ones
    in the environment (which fail a task) do not break the parse."""
    code = (
        f"import json, sys; sys.path.insert(0, {str(DAGS)!r}); from airflow.dag_processing.dagbag import DagBag; "
        f"bag = DagBag(dag_folder={str(DAGS)!r}); "
        "print(json.dumps([sorted(bag.dag_ids), list(bag.import_errors), [m for m in sys.modules if m.split('.')[0] "
        "in ('newswatch', 'extractors', 'elasticsearch', 'trafilatura', 'feedparser')]]))"
    )
    env = {**os.environ, "AIRFLOW_CONN_NEWSWATCH_ELASTICSEARCH": '{"conn_type": "generic", "port": "x"',
           "AIRFLOW_CONN_NEWSWATCH_SMTP": "not a connection"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    dag_ids, errors, heavy = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(dag_ids) == 5 and errors == [] and heavy == []


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



def test_every_task_has_an_execution_timeout_within_its_dagrun_timeout(dagbag) -> None:
    """Every task of every DAG (not a list written here): a stuck try ends, and so does a stuck run."""
    for dag_id, dag in dagbag.dags.items():
        assert dag.dagrun_timeout, f"{dag_id} has no dagrun_timeout"
        for t in dag.tasks:
            assert t.execution_timeout, f"{dag_id}.{t.task_id} has no execution_timeout"
            assert t.execution_timeout < dag.dagrun_timeout, f"{dag_id}.{t.task_id}"


def _names(callbacks) -> list[str]:
    if callbacks is None:
        return []
    return [c.__name__ for c in (callbacks if isinstance(callbacks, list) else [callbacks])]


def test_failures_reach_the_operators(dagbag) -> None:
    """Every task but the poll DAG's run-failing leaf (whose failed task has told) emails the operators when
    it fails for good; every DAG reports a run that fails without a failed task (its dagrun_timeout)."""
    for dag_id, dag in dagbag.dags.items():
        assert _names(dag.on_failure_callback) == ["notify_run_failure"], dag_id
        for t in dag.tasks:
            expected = [] if t.task_id == "fail_run_if_a_task_failed" else ["notify_task_failure"]
            assert _names(t.on_failure_callback) == expected, f"{dag_id}.{t.task_id}"


EXPECTED_PARAMS = {
    "newswatch_poll": {"force": ("boolean", False), "feeds": ("array", []),
                       "max_articles_per_feed": (["null", "integer"], None)},
    "newswatch_digest": {"period": (["null", "string"], None)},
    "newswatch_reprocess": {"ids": ("array", [])},
    "newswatch_retag": {"ids": ("array", [])},
    "newswatch_alert": {},
}


@pytest.mark.parametrize("dag_id", sorted(EXPECTED_PARAMS))
def test_params_are_typed_and_described(dagbag, dag_id: str) -> None:
    params = dagbag.dags[dag_id].params
    assert set(params) == set(EXPECTED_PARAMS[dag_id])
    for name, (kind, default) in EXPECTED_PARAMS[dag_id].items():
        p = params.get_param(name)
        assert p.schema["type"] == kind and p.value == default, name
        assert p.description and p.schema.get("title"), f"{dag_id}.{name} needs a title and a description"
    assert params.validate() == {k: d for k, (_, d) in EXPECTED_PARAMS[dag_id].items()}  # defaults are valid


@pytest.mark.parametrize("dag_id,name,good,bad", [
    ("newswatch_poll", "force", True, "yes"),
    ("newswatch_poll", "feeds", ["NK News", "https://www.38north.org/feed/"], "NK News"),
    ("newswatch_poll", "feeds", ["NK News"], ["NK News", "NK News"]),
    ("newswatch_poll", "max_articles_per_feed", 5, 0),
    ("newswatch_poll", "max_articles_per_feed", 1000, 1001),
    ("newswatch_poll", "max_articles_per_feed", None, "5"),
    ("newswatch_digest", "period", "daily", "monthly"),
    ("newswatch_reprocess", "ids", ["a1b2"], [""]),
    ("newswatch_retag", "ids", [], 42),
])
def test_a_wrong_param_value_is_rejected(dagbag, dag_id: str, name: str, good, bad) -> None:
    """What Airflow checks before a manual run starts (the trigger form and ``dags trigger -c``)."""
    import copy

    from airflow.sdk.exceptions import ParamValidationError

    params = copy.deepcopy(dagbag.dags[dag_id].params)
    params[name] = good  # a ParamsDict validates on assignment
    assert params.validate()[name] == good
    with pytest.raises(ParamValidationError):
        params[name] = bad

