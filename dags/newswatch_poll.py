"""
### newswatch_poll — poll feeds, fetch and extract new articles, tag and index them

Every 10 minutes, for each shard of `config/feeds.yaml` (dynamic task mapping over a handful of shards,
never one task per feed or per article):

1. **poll_shard** (mapped) — conditional GET of each due feed, body-hash check, feedparser on the bytes; feed
   health and validators are stored in Elasticsearch; new entries are staged.
2. **fetch_shard** (mapped) — fetch the new pages (SSRF guard, size and time caps, robots.txt) and extract them with
   trafilatura; raw HTML is kept for re-extraction.
3. **index_batches** — tag the topic, cluster near-duplicates into stories, bulk-index into Elasticsearch;
   one task over every shard's batch, so clustering sees all of the run's articles.
4. **summarize** — run totals, error classes and the per-feed health table (last success, consecutive
   failures, last error class, items/day, extraction ok/failed), in its log and its XCom.
5. **publish** — emits the `newswatch_articles` Asset when anything was indexed, which schedules
   `newswatch_alert`; skipped otherwise.

Article bodies travel through staged files under `NEWSWATCH_STAGING_URL` (an `ObjectStoragePath`: local by
default, object storage in production); XCom carries batch ids and counts only. Re-running any task or
run is idempotent. Trigger with `{"force": true}` to poll every feed regardless of its next-due time.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import Asset, dag, task

ARTICLES = Asset(name="newswatch_articles", uri="x-newswatch://articles")
SHARDS = int(os.environ.get("NEWSWATCH_SHARDS", "4"))

default_args = {
    "owner": "newswatch",
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
}


def _staging():  # ObjectStoragePath import is cheap, but keep parse time minimal
    from airflow.sdk import ObjectStoragePath

    from newswatch.settings import Settings

    spec = Settings().staging
    return ObjectStoragePath(spec if "://" in spec else f"file://{os.path.abspath(spec)}")


@dag(
    dag_id="newswatch_poll",
    schedule="*/10 * * * *",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["newswatch", "ingest"],
    doc_md=__doc__,
    default_args=default_args,
    params={"force": False},
)
def newswatch_poll():
    @task
    def shards() -> list[int]:
        from newswatch import jobs

        return jobs.list_shards(SHARDS)

    @task
    def poll_shard(shard: int, params=None, run_id=None) -> dict:
        from newswatch import jobs
        from newswatch.staging import safe_batch_id

        batch = safe_batch_id(f"{run_id}-s{shard}")
        return jobs.poll_shard(shard, SHARDS, batch, staging=_staging(), force=bool(params and params["force"]))

    @task
    def fetch_shard(polled: dict) -> dict:
        from newswatch import jobs

        return jobs.fetch_batch(polled["batch"], staging=_staging())

    @task
    def index_batches(fetched: list) -> dict:
        # One task for all shards: story clustering must see every article of the run, or two copies of a
        # wire story fetched by different shards would start two stories (and two alerts).
        from newswatch import jobs

        return jobs.index_batches([f["batch"] for f in fetched], staging=_staging())

    @task
    def summarize(polled: list, fetched: list, indexed: dict) -> dict:
        from newswatch import jobs

        return jobs.summarize_run(list(polled), list(fetched), [indexed])

    @task(outlets=[ARTICLES])
    def publish(totals: dict) -> int:
        from airflow.sdk.exceptions import AirflowSkipException

        if not totals["indexed"]:
            raise AirflowSkipException("nothing new indexed: no asset event, no alert run")
        return int(totals["indexed"])

    polled = poll_shard.expand(shard=shards())
    fetched = fetch_shard.expand(polled=polled)
    indexed = index_batches(fetched)
    publish(summarize(polled, fetched, indexed))


newswatch_poll()
