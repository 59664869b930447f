"""
### newswatch_reprocess — re-extract and re-tag from stored HTML

Manual only. Re-runs extraction (trafilatura) and tagging on the raw HTML kept in Elasticsearch, without
fetching anything: use it after upgrading the extractor or editing a topic definition. Pass
`{"ids": ["<article id>", ...]}` to limit it; empty means every stored page.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task

default_args = {"owner": "newswatch", "retries": 2, "retry_delay": timedelta(minutes=1)}


@dag(
    dag_id="newswatch_reprocess",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["newswatch", "maintenance"],
    doc_md=__doc__,
    default_args=default_args,
    params={"ids": []},
)
def newswatch_reprocess():
    @task
    def reprocess(params=None) -> dict:
        import logging

        from newswatch import steps
        from newswatch.runtime import Runtime

        ids = list(params["ids"]) if params and params.get("ids") else None
        with Runtime() as rt:
            return steps.reprocess(rt, ids, on_progress=lambda t: logging.getLogger("newswatch").info("%s", t))

    reprocess()


newswatch_reprocess()
