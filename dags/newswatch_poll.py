"""
### newswatch_poll — poll feeds, fetch and extract new articles, tag and index them

Every 10 minutes (`NEWSWATCH_POLL_SCHEDULE`, a cron expression; `none` for manual runs only), for each
shard of `config/feeds.yaml` (a mapped task group `shard` over a handful of shards, never one task per
feed or per article):

1. **shard.poll_shard** — conditional GET of each due feed, body-hash check, feedparser on the bytes; new
   entries are staged, then feed health and validators are stored in Elasticsearch.
2. **shard.fetch_shard** — fetch that shard's new pages (SSRF guard, size and time caps, robots.txt) and
   extract them with trafilatura; raw HTML is kept for re-extraction.
3. **index_batches** — tag the topic, cluster near-duplicates into stories, bulk-index into Elasticsearch;
   one task over every shard's batch, so clustering sees all of the run's articles.
4. **summarize** — run totals, failed shards, error classes and the per-feed health table (last success,
   consecutive failures, last error class, items/day, extraction ok/failed), in its log and its XCom.
5. **prune_staging** — deletes indexed batches older than `NEWSWATCH_STAGING_KEEP_DAYS` (7); batches
   never indexed (a failed fetch or index) are kept for a replay and named in its log.
6. **publish** — emits the `newswatch_articles` Asset when anything was indexed, which schedules
   `newswatch_alert`; skipped otherwise.

**A failed shard holds up no other.** Each shard's fetch waits only for its own poll; `index_batches`,
`summarize` and `publish` run on whatever the healthy shards fetched (`all_done_min_one_success`), so
their articles are indexed and alerted on time. The leaf task **fail_run_if_a_task_failed** then marks the
run failed, so the failure shows in the UI. A batch whose fetch or indexing failed after its retries
stays staged, and the next run's poll of that shard takes its entries over (those not indexed since), so
nothing is lost and nobody has to act; clearing the failed task with its downstream tasks replays it at
once. Every step is idempotent: no document is indexed twice and no email is sent twice.

Article bodies travel through staged files under `NEWSWATCH_STAGING_URL` (a local folder by default, object
storage in production: one translation, `newswatch.staging.staging_root`, shared with the CLI); XCom carries
batch ids and counts only. Each task body runs one `newswatch.steps` function with a `Runtime`, exactly as the
CLI verb of the same name does (`newswatch poll --shard N --shards M --batch ID` reproduces a poll task).
Re-running any task or run is idempotent. A manual run's trigger form takes typed params: `force` (poll
every feed regardless of its next-due time), `feeds` (only these feeds, by URL or name) and
`max_articles_per_feed`; e.g. `{"force": true, "feeds": ["NK News"]}`. Settings come from the Airflow
Connections `newswatch_elasticsearch` / `newswatch_smtp` when defined, else `NEWSWATCH_*`; a task that fails
for good emails the operators (`operator: true` in `config/recipients.yaml`), once per try.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from _newswatch_common import notify_run_failure, notify_task_failure
from airflow.sdk import Asset, Param, TriggerRule, dag, task, task_group

ARTICLES = Asset(name="newswatch_articles", uri="x-newswatch://articles")
SHARDS = int(os.environ.get("NEWSWATCH_SHARDS", "4"))
_CRON = os.environ.get("NEWSWATCH_POLL_SCHEDULE", "*/10 * * * *")  # a cron expression; "none": manual runs only
SCHEDULE = None if _CRON.strip().lower() in ("", "none") else _CRON

default_args = {
    "owner": "newswatch",
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
    # per try; fetch and index set their own. Tries of every task fit well inside the dagrun_timeout.
    "execution_timeout": timedelta(minutes=10),
    "on_failure_callback": notify_task_failure,
}

PARAMS = {
    "force": Param(False, type="boolean", title="Force",
                   description="Poll every feed now, ignoring next-due times, validators and body hashes"),
    "feeds": Param([], type="array", items={"type": "string", "minLength": 1}, uniqueItems=True, title="Feeds",
                   description="Only these feeds of config/feeds.yaml, by URL or name (one per line); "
                               "empty: every enabled feed"),
    "max_articles_per_feed": Param(None, type=["null", "integer"], minimum=1, maximum=1000,
                                   title="Max articles per feed",
                                   description="New articles fetched per feed in this run (the rest wait in "
                                               "the feed's backlog); empty: NEWSWATCH_FETCH__MAX_ARTICLES_PER_FEED"),
}


@dag(
    dag_id="newswatch_poll",
    schedule=SCHEDULE,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=4),
    on_failure_callback=notify_run_failure,
    tags=["newswatch", "ingest"],
    doc_md=__doc__,
    default_args=default_args,
    params=PARAMS,
)
def newswatch_poll():
    @task(execution_timeout=timedelta(minutes=2))
    def shards() -> list[int]:
        from newswatch import steps

        return steps.list_shards(SHARDS)

    @task(execution_timeout=timedelta(minutes=15))
    def poll_shard(shard: int, params=None, run_id=None) -> dict:
        from _newswatch_common import task_runtime

        from newswatch import steps
        from newswatch.config import select_feeds
        from newswatch.staging import safe_batch_id

        p = params or {}
        cap = p.get("max_articles_per_feed")
        with task_runtime(fetch={"max_articles_per_feed": cap} if cap else None) as rt:
            feeds = select_feeds(rt.feeds(), p.get("feeds") or [])
            return steps.poll_shard(rt, safe_batch_id(f"{run_id}-s{shard}"), shard=shard, shards=SHARDS,
                                    force=bool(p.get("force")), feeds=feeds)

    @task(execution_timeout=timedelta(minutes=20))
    def fetch_shard(polled: dict) -> dict:
        from _newswatch_common import task_runtime

        from newswatch import steps

        with task_runtime() as rt:
            return steps.fetch_batch(rt, polled["batch"])

    @task_group
    def shard(shard: int):
        # a mapped group: fetch_shard[i] waits only for poll_shard[i], so one failed shard holds up no other
        return fetch_shard(poll_shard(shard))

    # 40 minutes: the one serial step (10-20 articles/s with clustering on 2 cores: a first poll's burst of
    # 10,000 articles took 11-17 min in bench_load). A retry after a timeout is quicker than the first try:
    # what the first one indexed keeps its story and its stored embedding.
    @task(trigger_rule=TriggerRule.ALL_DONE_MIN_ONE_SUCCESS, execution_timeout=timedelta(minutes=40))
    def index_batches(fetched: list) -> dict:
        # One task for all shards: story clustering must see every article of the run, or two copies of a
        # wire story fetched by different shards would start two stories (and two alerts). It runs on what
        # the healthy shards fetched even when another shard failed.
        from _newswatch_common import task_runtime

        from newswatch import steps

        with task_runtime() as rt:
            return steps.index_fetched(rt, fetched)

    @task(trigger_rule=TriggerRule.ALL_DONE_MIN_ONE_SUCCESS)
    def summarize(shard_list: list, fetched: list, indexed: dict | None, ti=None) -> dict:
        # runs even when shards or indexing failed (their results are then missing), to report it
        from _newswatch_common import task_runtime

        from newswatch import steps

        polled = ti.xcom_pull(task_ids="shard.poll_shard") if ti is not None else None
        with task_runtime() as rt:
            return steps.summarize_run(rt, list(shard_list), polled, fetched, indexed)

    @task(outlets=[ARTICLES], execution_timeout=timedelta(minutes=2))
    def publish(totals: dict) -> int:
        from airflow.sdk.exceptions import AirflowSkipException

        if not totals["indexed"]:
            raise AirflowSkipException("nothing new indexed: no asset event, no alert run")
        return int(totals["indexed"])

    @task(trigger_rule=TriggerRule.ALL_DONE)
    def prune_staging() -> dict:
        # after indexing, whatever happened: indexed batches older than NEWSWATCH_STAGING_KEEP_DAYS go
        from _newswatch_common import task_runtime

        from newswatch import steps

        with task_runtime() as rt:
            result = steps.prune_staging(rt)
        return {"deleted": len(result["deleted"]), "kept_unindexed": len(result["kept"]),
                "keep_days": result["keep_days"]}

    @task(trigger_rule=TriggerRule.ONE_FAILED, retry_delay=timedelta(seconds=1), retry_exponential_backoff=False,
          execution_timeout=timedelta(minutes=2), on_failure_callback=None)
    def fail_run_if_a_task_failed() -> None:
        # Downstream of every task and a leaf: the run shows failed when any shard failed, even though the
        # healthy shards were indexed and published. Skipped when nothing failed. It sends no failure notice
        # of its own: the failed task it reports has sent one.
        raise RuntimeError("a task of this run failed; see the failed task's log (clear it to retry its shard)")

    shard_list = shards()
    fetched = shard.expand(shard=shard_list)
    indexed = index_batches(fetched)
    totals = summarize(shard_list, fetched, indexed)
    pruned = prune_staging()
    indexed >> pruned
    [shard_list, fetched, indexed, totals, publish(totals), pruned] >> fail_run_if_a_task_failed()


newswatch_poll()
