"""
### newswatch_alert — what is due now: first alerts, follow-ups, folds, backlog digests, spikes, feed health

Runs when `newswatch_poll` emits the `newswatch_articles` Asset (it indexed something) **or** every 10
minutes, so a failed send is retried without waiting for new articles. Each recipient in
`config/recipients.yaml` gets stories per their modes (immediate within the freshness window and the rate
cap; otherwise the digest), follow-ups threaded under the first email, spike alerts if they opt in, and
operators get feed incidents and dead letters. Every email is claimed in Elasticsearch first: re-running
sends nothing twice. A run in which a send failed **fails** after the others went out, so Airflow retries it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from _newswatch_common import notify_run_failure, notify_task_failure
from airflow.sdk import Asset, AssetOrTimeSchedule, CronTriggerTimetable, dag, task

ARTICLES = Asset(name="newswatch_articles", uri="x-newswatch://articles")

default_args = {
    "owner": "newswatch",
    "retries": 3,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "execution_timeout": timedelta(minutes=15),
    "on_failure_callback": notify_task_failure,
}


@dag(
    dag_id="newswatch_alert",
    schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable("*/10 * * * *", timezone="UTC"), assets=[ARTICLES]),
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=30),
    on_failure_callback=notify_run_failure,
    tags=["newswatch", "alerts"],
    doc_md=__doc__,
    default_args=default_args,
)
def newswatch_alert():
    @task
    def send_alerts() -> dict:
        from _newswatch_common import task_runtime

        from newswatch import steps

        with task_runtime() as rt:
            summary = steps.send_alerts(rt)
        return {k: v for k, v in summary.items() if k != "story_ids"}

    send_alerts()


newswatch_alert()
