"""
### newswatch_retag — re-tag the history for every enabled topic

Manual only. Run it after adding, changing, disabling or removing a file in `config/topics/`: every stored
article is tagged again from its stored text (one pass evaluates every topic), with no fetching and no
re-extraction. Story ids and `indexed_at` are kept, so the history never looks new to the alerts. Pass
`{"ids": ["<article id>", ...]}` to limit it. The same as `newswatch retag`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task

default_args = {"owner": "newswatch", "retries": 2, "retry_delay": timedelta(minutes=1)}


@dag(
    dag_id="newswatch_retag",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["newswatch", "maintenance"],
    doc_md=__doc__,
    default_args=default_args,
    params={"ids": []},
)
def newswatch_retag():
    @task
    def retag(params=None) -> dict:
        import logging

        from newswatch import steps
        from newswatch.runtime import Runtime

        ids = list(params["ids"]) if params and params.get("ids") else None
        with Runtime() as rt:
            return steps.retag(rt, ids, on_progress=lambda t: logging.getLogger("newswatch").info("%s", t))

    retag()


newswatch_retag()
