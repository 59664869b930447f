"""Pipeline verbs: each runs one step through a ``Runtime``, as the DAG task of the same name does."""

from __future__ import annotations

import json
from typing import Any

import click

from newswatch.cli import main
from newswatch.cli._output import emit, progress
from newswatch.runtime import Runtime


def fail_if_every_feed_failed(polled: dict[str, Any]) -> None:
    """``poll`` and ``ingest`` exit 1 when no feed could be polled: every polled feed failed, or every entry
    of the feeds file was invalid (their lines were printed already)."""
    tried = int(polled.get("polled", 0)) + int(polled.get("invalid_feeds", 0))
    failed = int(polled.get("errors", 0)) + int(polled.get("invalid_feeds", 0))
    if tried and failed == tried and not polled.get("reused"):
        raise click.ClickException(f"every feed failed ({failed} of {tried}); see the lines above")


@main.command()
@click.option("--feeds", "feeds_file", help="Feeds YAML (default: config/feeds.yaml).")
@click.option("--force", is_flag=True, help="Poll every feed now, ignoring next-due times, validators and hashes.")
@click.option("--batch", help="Batch id to stage entries under (default: a new one).")
@click.option("--shard", type=click.IntRange(min=0), default=0, show_default=True, help="This shard's number.")
@click.option("--shards", type=click.IntRange(min=1), default=1, show_default=True,
              help="Shards the feed list is cut into (the poll DAG's NEWSWATCH_SHARDS).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def poll(feeds_file: str | None, force: bool, batch: str | None, shard: int, shards: int, as_json: bool) -> None:
    """Poll feeds and stage their new entries; replays never-indexed batches this shard owns.

    `newswatch poll --shard N --shards M --batch ID` does what the poll task of shard N does."""
    from newswatch import steps
    from newswatch.staging import check_batch_id, new_batch_id

    if shard >= shards:
        raise click.BadParameter(f"--shard must be below --shards ({shards})", param_hint="--shard")
    with Runtime() as rt:
        summary = steps.poll_shard(rt, check_batch_id(batch) if batch else new_batch_id(), shard=shard,
                                   shards=shards, force=force, feeds=rt.feeds(feeds_file),
                                   on_report=None if as_json else progress)
    emit(summary, as_json)
    fail_if_every_feed_failed(summary)


@main.command()
@click.option("--batch", required=True, help="Batch id staged by `newswatch poll`.")
@click.option("--json", "as_json", is_flag=True)
def fetch(batch: str, as_json: bool) -> None:
    """Fetch and extract the pages of a polled batch."""
    from newswatch import steps
    from newswatch.staging import check_batch_id

    with Runtime() as rt:
        summary = steps.fetch_batch(rt, check_batch_id(batch), on_report=None if as_json else progress)
    emit(summary, as_json)


@main.command("index")
@click.option("--batch", "batches", multiple=True, help="Staged batch id(s) to index (default: the newest).")
@click.option("--file", "file_", type=click.File("r", encoding="utf-8"),
              help="JSON Lines of article records (url, title, text, published, source, lang?), streamed.")
@click.option("--json", "as_json", is_flag=True)
def index_cmd(batches: tuple[str, ...], file_: Any, as_json: bool) -> None:
    """Tag, cluster and index staged articles (or a JSON Lines file of articles) into Elasticsearch."""
    from newswatch import steps
    from newswatch.staging import check_batch_id, newest_batch

    with Runtime() as rt:
        if file_ is not None:
            summary = steps.index_file(rt, file_)
        else:
            if not batches:
                newest = newest_batch(rt.staging)
                if newest is None:
                    raise click.ClickException("no staged batch found; run `newswatch poll` and "
                                               "`newswatch fetch` first")
                batches = (newest,)
            summary = steps.index_batches(rt, [check_batch_id(b) for b in batches])
    emit(summary, as_json)


@main.command()
@click.option("--feeds", "feeds_file", help="Feeds YAML (default: config/feeds.yaml); items need at least `url`.")
@click.option("--dry-run", is_flag=True, help="Poll, fetch and extract, but write nothing anywhere.")
@click.option("--force", is_flag=True, help="Poll every feed now.")
@click.option("--json", "as_json", is_flag=True, help="One JSON line per feed and per article.")
def ingest(feeds_file: str | None, dry_run: bool, force: bool, as_json: bool) -> None:
    """Poll, fetch, extract, tag and index in one go (``--dry-run``: no side effects).

    Takes the same staged road as a DAG run: if it fails after the poll, the next run replays the batch."""
    from newswatch import steps

    def line(report: dict[str, Any]) -> None:
        click.echo(json.dumps(report, ensure_ascii=False, default=str))

    with Runtime(dry_run=dry_run) as rt:
        summary = steps.ingest(rt, rt.feeds(feeds_file), force=force, on_report=line if as_json else progress)
    if not as_json:
        emit(summary, False)
    fail_if_every_feed_failed(summary["poll"])


ALERT_KEYS = ("immediate", "followups", "folded", "queued_for_digest", "failed")


def _emit_alerts(run: Any, as_json: bool, keys: tuple[str, ...]) -> None:
    """Print the counts; a run with failed sends prints them too, then fails (one line, exit 1)."""
    from newswatch.errors import AlertsFailed

    try:
        summary = run()
    except AlertsFailed as exc:
        emit(_counts(exc.summary, keys), as_json)
        raise
    emit(_counts(summary, keys), as_json)


def _counts(summary: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """The contract's counts first, then the rest of the run's figures under ``details``."""
    return {**{k: summary.get(k, 0) for k in keys}, "details": {k: v for k, v in summary.items() if k not in keys}}


@main.command()
@click.option("--recipients", "recipients_file", help="Recipients YAML (default: config/recipients.yaml).")
@click.option("--json", "as_json", is_flag=True)
def alert(recipients_file: str | None, as_json: bool) -> None:
    """Send what is due now: immediate emails, follow-ups, folds, backlog digests, spikes, feed incidents.

    Prints {"immediate", "followups", "folded", "queued_for_digest", "failed"}; exits 1 when a send failed
    (after the others went out; the next run retries it). Idempotent."""
    from newswatch import steps

    with Runtime() as rt:
        _emit_alerts(lambda: steps.send_alerts(rt, recipients_file), as_json, ALERT_KEYS)


@main.command()
@click.option("--period", type=click.Choice(["hourly", "daily", "weekly"]),
              help="Only recipients with this digest period (default: every digest due now).")
@click.option("--recipients", "recipients_file", help="Recipients YAML (default: config/recipients.yaml).")
@click.option("--json", "as_json", is_flag=True)
def digest(period: str | None, recipients_file: str | None, as_json: bool) -> None:
    """Send the digests due now: one email per recipient and period, exactly once. Prints {"digests",
    "stories", "failed"}."""
    from newswatch import steps

    with Runtime() as rt:
        _emit_alerts(lambda: steps.send_digests(rt, recipients_file, period=period), as_json,
                     ("digests", "stories", "failed"))


@main.group("alerts")
def alerts_group() -> None:
    """What the alerts did."""


@alerts_group.command("stats")
@click.option("--since", help="Only messages claimed since (ISO date or Elasticsearch date math, e.g. now-7d).")
@click.option("--json", "as_json", is_flag=True)
def alerts_stats(since: str | None, as_json: bool) -> None:
    """Messages per type and status; p50/p95 of publish→send and fetch→send (first alerts and follow-ups)."""
    from newswatch import steps

    if since is not None:
        _check_since(since)
    with Runtime() as rt:
        stats = steps.alert_stats(rt, since)
    lat = stats["latency_seconds"]
    human = (f"{stats['messages']} messages: " + ", ".join(f"{k} {v}" for k, v in sorted(stats["by_type"].items()))
             + "\nstatus: " + ", ".join(f"{k} {v}" for k, v in sorted(stats["by_status"].items()))
             + "\n" + "\n".join(f"{name}: p50 {v['p50']} s, p95 {v['p95']} s (n={v['n']})" for name, v in lat.items()))
    emit(stats, as_json, human)


def _check_since(value: str) -> None:
    import re
    from datetime import datetime

    if re.fullmatch(r"now(-\d+[smhdwMy])*(/[smhdwMy])?", value):
        return
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is neither an ISO date nor date math like now-7d",
                                 param_hint="--since") from None


@main.command()
@click.option("--json", "as_json", is_flag=True)
@click.option("--ids", help="Comma-separated article ids (default: all stored pages).")
def reprocess(as_json: bool, ids: str | None) -> None:
    """Re-extract and re-tag articles from stored HTML, without refetching."""
    from newswatch import steps

    def report(totals: dict[str, Any]) -> None:
        click.echo(f"  reprocessed {totals['pages']} pages: {totals['indexed']} re-indexed, "
                   f"{sum(totals['errors'].values())} failed", err=True)

    with Runtime() as rt:
        summary = steps.reprocess(rt, ids.split(",") if ids else None, on_progress=None if as_json else report)
    emit(summary, as_json)


@main.command()
@click.option("--json", "as_json", is_flag=True)
@click.option("--ids", help="Comma-separated article ids (default: every article).")
def retag(as_json: bool, ids: str | None) -> None:
    """Re-tag stored articles for every enabled topic (after adding, changing or removing a topic file).

    Keeps story ids and indexed_at, so the history does not flood the alerts."""
    from newswatch import steps

    def report(totals: dict[str, Any]) -> None:
        click.echo(f"  re-tagged {totals['indexed']} articles: {totals['core']} core, {totals['related']} related",
                   err=True)

    with Runtime() as rt:
        summary = steps.retag(rt, ids.split(",") if ids else None, on_progress=None if as_json else report)
    emit(summary, as_json)


@main.command("init")
@click.option("--json", "as_json", is_flag=True)
def init(as_json: bool) -> None:
    """Install index templates, create the versioned indices and their aliases (idempotent).

    An index of a release without aliases is moved behind them, once."""
    from newswatch import index

    with Runtime() as rt:
        created = index.ensure_indices(rt.es, rt.settings)
    emit({"created": created}, as_json)


@main.command("reindex")
@click.option("--kind", type=click.Choice(["articles", "feeds", "feedhealth", "alerts", "pages"]),
              default="articles", show_default=True)
@click.option("--keep-old", is_flag=True, help="Keep the old index (read-only, named by no alias).")
@click.option("--requests-per-second", type=click.FloatRange(min=0, min_open=True),
              help="Throttle the copy (documents a second; default: as fast as the cluster goes).")
@click.option("--json", "as_json", is_flag=True)
def reindex_cmd(kind: str, keep_old: bool, requests_per_second: float | None, as_json: bool) -> None:
    """Move an index to the current mapping version with no downtime, then swap its aliases.

    Writes go to the new index from the start; reads stay on the old one until the copy is done."""
    from newswatch.reindex import reindex

    def report(counts: dict[str, Any]) -> None:
        click.echo(f"  copied {counts['copied']}/{counts['total']} ({counts['conflicts']} newer in the new index)",
                   err=True)

    with Runtime() as rt:
        result = reindex(rt.es, rt.settings, kind, keep_old=keep_old, requests_per_second=requests_per_second,
                         on_progress=report)
    emit(result, as_json, human=f"{result['old_index']} → {result['new_index']}: {result['copied']} copied, "
                                f"{result['conflicts']} already newer there, {result['took_ms']} ms")


@main.group()
def staging() -> None:
    """Batches staged between poll, fetch and index."""


@staging.command("prune")
@click.option("--keep-days", type=click.FloatRange(min=0, min_open=True),
              help="Keep batches newer than this (default NEWSWATCH_STAGING_KEEP_DAYS).")
@click.option("--json", "as_json", is_flag=True)
def staging_prune(keep_days: float | None, as_json: bool) -> None:
    """Delete indexed batches older than the retention (the poll DAG does this after every run).

    Batches that were never indexed (a failed fetch or index) are kept for a replay and listed."""
    from newswatch import steps

    with Runtime() as rt:
        result = steps.prune_staging(rt, keep_days)
        where = rt.settings.staging
    human = f"deleted {len(result['deleted'])} indexed batches older than {result['keep_days']:g} days from {where}"
    if result["kept"]:
        human += f"; kept {len(result['kept'])} never indexed: {', '.join(result['kept'][:10])}"
    emit(result, as_json, human=human)
