"""
### newswatch_alert — one email per new matching story

Scheduled on the `newswatch_articles` Asset that `newswatch_poll` emits when it indexed something. Finds
stories at the alert level (`NEWSWATCH_ALERT_MIN_LEVEL`, default `core`) that have no alert yet, claims
each in Elasticsearch (create-if-absent) and sends one email per story to the recipients in
`config/recipients.yaml`. Re-running sends nothing twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Asset, dag, task

ARTICLES = Asset(name="newswatch_articles", uri="x-newswatch://articles")

default_args = {
    "owner": "newswatch",
    "retries": 3,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
}


@dag(
    dag_id="newswatch_alert",
    schedule=[ARTICLES],
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["newswatch", "alerts"],
    doc_md=__doc__,
    default_args=default_args,
)
def newswatch_alert():
    @task
    def send_alerts() -> dict:
        from newswatch import steps
        from newswatch.runtime import Runtime

        with Runtime() as rt:
            return steps.send_alerts(rt)

    send_alerts()


newswatch_alert()
