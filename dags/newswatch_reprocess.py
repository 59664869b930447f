"""
Maintenance DAGs, manual only; each runs one `newswatch.steps` function over the stored history, as the CLI
verb of the same name does. Pass `{"ids": ["<article id>", ...]}` to limit a run; empty means everything.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from _newswatch_common import notify_run_failure, notify_task_failure
from airflow.sdk import Param, dag, task

default_args = {
    "owner": "newswatch",
    "retries": 2,
    "retry_delay": timedelta(minutes=1),
    # a pass over the whole history: hours on a large index; a stuck one must still end and tell somebody
    "execution_timeout": timedelta(hours=6),
    "on_failure_callback": notify_task_failure,
}

DOCS = {
    "reprocess": """
### newswatch_reprocess — re-extract and re-tag from stored HTML

Re-runs extraction (trafilatura) and tagging on the raw HTML kept in Elasticsearch, without fetching
anything: use it after upgrading the extractor. The same as `newswatch reprocess`.
""",
    "retag": """
### newswatch_retag — re-tag the history for every enabled topic

Run it after adding, changing, disabling or removing a file in `config/topics/`: every stored article is
tagged again from its stored text (one pass evaluates every topic), with no fetching and no re-extraction.
Story ids and `indexed_at` are kept, so the history never looks new to the alerts. The same as
`newswatch retag`.
""",
}


def maintenance_dag(step: str) -> None:
    @dag(
        dag_id=f"newswatch_{step}",
        schedule=None,
        start_date=datetime(2024, 1, 1),
        catchup=False,
        max_active_runs=1,
        dagrun_timeout=timedelta(hours=8),
        on_failure_callback=notify_run_failure,
        tags=["newswatch", "maintenance"],
        doc_md=DOCS[step] + __doc__,
        default_args=default_args,
        params={"ids": Param([], type="array", items={"type": "string", "minLength": 1}, uniqueItems=True,
                             title="Article ids",
                             description="Only these article ids (one per line); empty: every stored article")},
    )
    def maintenance():
        @task(task_id=step)
        def run(params=None) -> dict:
            import logging

            from _newswatch_common import task_runtime

            from newswatch import steps

            ids = list(params["ids"]) if params and params.get("ids") else None
            log = logging.getLogger("newswatch")
            with task_runtime() as rt:
                return getattr(steps, step)(rt, ids, on_progress=lambda totals: log.info("%s: %s", step, totals))

        run()

    maintenance()


for _step in DOCS:
    maintenance_dag(_step)
