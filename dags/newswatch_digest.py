"""
### newswatch_digest — the periodic digests

Every hour (two minutes past), sends each recipient's digest whose period ended — hourly, or daily/weekly
at the local time in `config/recipients.yaml` — exactly once per period, also under retries. An empty
period sends nothing. A failed send fails the task (after the others), so Airflow retries it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from _newswatch_common import notify_run_failure, notify_task_failure
from airflow.sdk import CronTriggerTimetable, Param, dag, task

default_args = {
    "owner": "newswatch",
    "retries": 3,
    "retry_delay": timedelta(seconds=60),
    "retry_exponential_backoff": True,
    "execution_timeout": timedelta(minutes=15),
    "on_failure_callback": notify_task_failure,
}


@dag(
    dag_id="newswatch_digest",
    schedule=CronTriggerTimetable("2 * * * *", timezone="UTC"),
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=30),
    on_failure_callback=notify_run_failure,
    tags=["newswatch", "alerts"],
    doc_md=__doc__,
    default_args=default_args,
    params={"period": Param(None, type=["null", "string"], enum=[None, "hourly", "daily", "weekly"],
                            title="Period", description="Only recipients with this digest period "
                                                        "(empty: every digest due now)")},
)
def newswatch_digest():
    @task
    def send_digests(params=None) -> dict:
        from _newswatch_common import task_runtime

        from newswatch import steps

        with task_runtime() as rt:
            return steps.send_digests(rt, period=(params or {}).get("period") or None)

    send_digests()


newswatch_digest()
