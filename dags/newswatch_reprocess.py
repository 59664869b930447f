"""
### newswatch_reprocess — re-extract and re-tag from stored HTML

Manual only. Re-runs extraction (trafilatura) and tagging on the raw HTML kept in Elasticsearch, without
fetching anything: use it after upgrading the extractor or editing a topic definition. Pass
`{"ids": ["<article id>", ...]}` to limit it; empty means every stored page.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task

default_args = {"owner": "newswatch", "retries": 1, "retry_delay": timedelta(minutes=1)}


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
        from newswatch import jobs

        return jobs.reprocess(list(params["ids"]) if params and params.get("ids") else None)

    reprocess()


newswatch_reprocess()
