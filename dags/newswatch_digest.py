"""
### newswatch_digest — the periodic digests

Every hour (two minutes past), sends each recipient's digest whose period ended — hourly, or daily/weekly
at the local time in `config/recipients.yaml` — exactly once per period, also under retries. An empty
period sends nothing. A failed send fails the task (after the others), so Airflow retries it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import CronTriggerTimetable, dag, task

default_args = {
    "owner": "newswatch",
    "retries": 3,
    "retry_delay": timedelta(seconds=60),
    "retry_exponential_backoff": True,
    "execution_timeout": timedelta(minutes=15),
}


@dag(
    dag_id="newswatch_digest",
    schedule=CronTriggerTimetable("2 * * * *", timezone="UTC"),
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=30),
    tags=["newswatch", "alerts"],
    doc_md=__doc__,
    default_args=default_args,
)
def newswatch_digest():
    @task
    def send_digests() -> dict:
        from newswatch import steps
        from newswatch.runtime import Runtime

        with Runtime() as rt:
            return steps.send_digests(rt)

    send_digests()


newswatch_digest()
