"""The ``newswatch`` command: every pipeline step without Airflow, plus the local stack.

Listing commands take ``--json``; long work reports progress on stderr so stdout stays machine-readable.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import click

from newswatch.settings import Settings


def _settings() -> Settings:
    return Settings()


def _emit(obj: Any, as_json: bool, human: str | None = None) -> None:
    if as_json:
        click.echo(json.dumps(obj, ensure_ascii=False, default=str))
    else:
        click.echo(human if human is not None else json.dumps(obj, ensure_ascii=False, indent=2, default=str))


def _progress(report: dict[str, Any]) -> None:
    mark = {"ok": "✓", "not_modified": "=", "skipped": "·", "error": "✗"}.get(report.get("status", ""), "?")
    detail = report.get("error_class") or (f"{report.get('new_entries', 0)} new" if report["kind"] == "feed"
                                           else f"{report.get('chars', 0)} chars")
    click.echo(f"  {mark} {report['kind']:<7} {report['url'][:90]}  {detail}", err=True)


def _feeds(settings: Settings, feeds_file: str | None) -> list[Any]:
    from newswatch.config import load_feeds

    path = Path(feeds_file) if feeds_file else settings.feeds_path
    return load_feeds(path, base_url=f"http://127.0.0.1:{settings.demo_port}")


def _es(settings: Settings) -> Any:
    from newswatch import index

    es = index.make_es(settings)
    index.ensure_indices(es, settings)
    return es


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log at INFO level on stderr.")
def main(verbose: bool) -> None:
    """newswatch: poll news feeds, extract and tag articles, index them for timeline search, alert."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


# ------------------------------------------------------------------------------------------- pipeline


@main.command()
@click.option("--feeds", "feeds_file", help="Feeds YAML (default: config/feeds.yaml).")
@click.option("--force", is_flag=True, help="Poll every feed now, ignoring next-due times and validators.")
@click.option("--batch", help="Batch id to stage entries under (default: a new one).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def poll(feeds_file: str | None, force: bool, batch: str | None, as_json: bool) -> None:
    """Poll feeds and stage their new entries (feed state goes to Elasticsearch)."""
    from newswatch import staging, steps

    settings = _settings()
    batch = batch or staging.new_batch_id()
    with steps.http_client(settings) as http:
        summary = steps.poll_feeds(settings, _es(settings), http, _feeds(settings, feeds_file),
                                   staging=staging.staging_root(settings.staging), batch=batch, force=force,
                                   on_report=None if as_json else _progress)
    _emit(summary, as_json)


@main.command()
@click.option("--feeds", "feeds_file", help="Feeds YAML (default: config/feeds.yaml); items need at least `url`.")
@click.option("--dry-run", is_flag=True, help="Poll, fetch and extract, but write nothing anywhere.")
@click.option("--force", is_flag=True, help="Poll every feed now.")
@click.option("--json", "as_json", is_flag=True, help="One JSON line per feed and per article.")
def ingest(feeds_file: str | None, dry_run: bool, force: bool, as_json: bool) -> None:
    """Poll, fetch, extract, tag and index in one go (``--dry-run``: no side effects)."""
    from newswatch import staging, steps

    settings = _settings()
    feeds = _feeds(settings, feeds_file)
    lines: list[dict[str, Any]] = []
    report = lines.append if as_json else _progress
    es = None if dry_run else _es(settings)
    base = None if dry_run else staging.staging_root(settings.staging)
    batch = None if dry_run else staging.new_batch_id("ingest")
    with steps.http_client(settings) as http:
        polled, entries = steps.poll_new_entries(settings, es, http, feeds, force=force or dry_run,
                                                 on_report=report)
        if base is not None and batch:
            staging.write_records(base, batch, steps.ENTRIES, entries)
        polled["batch"] = batch
        fetched = steps.fetch_articles(settings, es, http, entries, staging=base, batch=batch, on_report=report)
    summary: dict[str, Any] = {"poll": polled, "fetch": fetched}
    if es is not None and base is not None and batch:
        summary["index"] = steps.index_batch(settings, es, base, [batch])
    if as_json:
        for line in lines:
            click.echo(json.dumps(line, ensure_ascii=False, default=str))
    else:
        _emit(summary, False)


@main.command()
@click.option("--topic", "topic_name", help="Topic name (config/topics/NAME.yaml) or YAML path.")
def tag(topic_name: str | None) -> None:
    """Tag JSON Lines from stdin ({id, title, text, lang?, published?}); one JSON line out per input."""
    from newswatch.tagging import load_topic, tag_article

    settings = _settings()
    topic = load_topic(topic_name or settings.topic, config_dir=settings.config_dir)
    for lineno, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            click.echo(json.dumps({"id": None, "line": lineno, "error": f"invalid JSON: {exc}"}))
            continue
        res = tag_article(topic, title=item.get("title") or "", text=item.get("text") or "", lang=item.get("lang"))
        out = {"id": item.get("id"), "level": res.level, "score": round(float(res.score), 4),
               "matches": sorted({m.term for m in res.matches}), "evidence": res.evidence, "reasons": res.reasons,
               "entities": [e.name for e in res.entities],
               "claims": [c.model_dump(mode="json") for c in res.claims]}
        click.echo(json.dumps(out, ensure_ascii=False))


@main.command("index")
@click.option("--batch", "batches", multiple=True, help="Staged batch id(s) to index (default: the newest).")
@click.option("--file", "file_", type=click.File("r"), help="JSON Lines of article records instead of a batch.")
@click.option("--json", "as_json", is_flag=True)
def index_cmd(batches: tuple[str, ...], file_: Any, as_json: bool) -> None:
    """Tag and index staged articles (or a JSON Lines file of articles) into Elasticsearch."""
    from newswatch import staging, steps

    settings = _settings()
    es = _es(settings)
    if file_ is not None:
        summary = steps.index_articles(settings, es, (json.loads(x) for x in file_ if x.strip()))
    else:
        root = staging.staging_root(settings.staging)
        if not batches:
            folders = sorted(root.glob("*/articles.jsonl"), key=lambda p: p.stat().st_mtime)
            if not folders:
                raise click.ClickException("no staged batch found; run `newswatch poll` and `newswatch fetch` first")
            batches = (folders[-1].parent.name,)
        summary = steps.index_batch(settings, es, root, list(batches))
    _emit(summary, as_json)


@main.command()
@click.option("--batch", required=True, help="Batch id staged by `newswatch poll`.")
@click.option("--json", "as_json", is_flag=True)
def fetch(batch: str, as_json: bool) -> None:
    """Fetch and extract the pages of a polled batch."""
    from newswatch import staging, steps

    settings = _settings()
    root = staging.staging_root(settings.staging)
    with steps.http_client(settings) as http:
        summary = steps.fetch_articles(settings, _es(settings), http, steps.entries_of(root, batch), staging=root,
                                       batch=batch, on_report=None if as_json else _progress)
    _emit(summary, as_json)


@main.command()
@click.option("--recipients", "recipients_file", help="Recipients YAML (default: config/recipients.yaml).")
@click.option("--json", "as_json", is_flag=True)
def alert(recipients_file: str | None, as_json: bool) -> None:
    """Send one alert email per new matching story (idempotent)."""
    from newswatch import alerts
    from newswatch.config import load_recipients

    settings = _settings()
    recipients = load_recipients(Path(recipients_file) if recipients_file else settings.config_dir / "recipients.yaml")
    summary = alerts.send_alerts(settings, _es(settings), lambda: alerts.smtp_connect(settings), recipients)
    _emit(summary, as_json)


@main.command()
@click.option("--json", "as_json", is_flag=True)
@click.option("--ids", help="Comma-separated article ids (default: all stored pages).")
def reprocess(as_json: bool, ids: str | None) -> None:
    """Re-extract and re-tag articles from stored HTML, without refetching."""
    from newswatch import steps

    settings = _settings()

    def progress(totals: dict[str, Any]) -> None:
        click.echo(f"  reprocessed {totals['pages']} pages: {totals['indexed']} re-indexed, "
                   f"{sum(totals['errors'].values())} failed", err=True)

    summary = steps.reprocess(settings, _es(settings), ids.split(",") if ids else None,
                              on_progress=None if as_json else progress)
    _emit(summary, as_json)


# --------------------------------------------------------------------------------------------- search


@main.command()
@click.argument("query", required=False)
@click.option("--level", "levels", multiple=True, type=click.Choice(["core", "related", "none"]))
@click.option("--size", default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def search(query: str | None, levels: tuple[str, ...], size: int, as_json: bool) -> None:
    """Full-text search over indexed articles, with highlights."""
    from newswatch.search import search_articles

    settings = _settings()
    rows = search_articles(_es(settings), settings, query, size=size, levels=list(levels) or None)
    if as_json:
        for r in rows:
            _emit(r, True)
        return
    for r in rows:
        click.echo(f"{(r.get('published') or '')[:10]}  [{r.get('level')}] {r.get('title')}  — {r.get('source')}")
        click.echo(f"    {r.get('url')}")
        for h in r["highlights"][:2]:
            click.echo(f"    … {h.replace('<em>', '*').replace('</em>', '*')} …")


@main.command()
@click.argument("query", required=False)
@click.option("--since", help="From this date (YYYY-MM-DD).")
@click.option("--until", help="Up to this date (YYYY-MM-DD).")
@click.option("--interval", type=click.Choice(["day", "week", "month", "year"]), default="month", show_default=True)
@click.option("--level", "levels", multiple=True, type=click.Choice(["core", "related", "none"]))
@click.option("--top", default=10, show_default=True, help="How many top articles to list.")
@click.option("--json", "as_json", is_flag=True)
def timeline(query: str | None, since: str | None, until: str | None, interval: str, levels: tuple[str, ...],
             top: int, as_json: bool) -> None:
    """Date histogram of articles matching QUERY, and the top articles."""
    from newswatch.search import timeline as run_timeline

    settings = _settings()
    res = run_timeline(_es(settings), settings, query, interval=interval, since=since, until=until,
                       levels=list(levels) or None, top=top)
    if as_json:
        _emit(res, True)
        return
    click.echo(f"{res['total']} articles, {res['stories']} stories matching {query or '(all)'!r} by {interval}")
    peak = max((b["count"] for b in res["buckets"]), default=0) or 1
    for b in res["buckets"]:
        bar = "█" * max(1 if b["count"] else 0, round(40 * b["count"] / peak))
        lv = " ".join(f"{k}:{v}" for k, v in sorted(b["levels"].items()))
        click.echo(f"  {b['date']}  {b['count']:>4}  {bar:<40}  {lv}")
    click.echo("\nTop articles:")
    for a in res["articles"]:
        click.echo(f"  {(a.get('published') or '')[:10]}  [{a.get('level')}] {a.get('title')}  — {a.get('source')}")
        click.echo(f"      {a.get('url')}")


@main.command()
@click.argument("query", required=False)
@click.option("--level", "levels", multiple=True, type=click.Choice(["core", "related", "none"]))
@click.option("--size", default=20, show_default=True, help="How many stories to list.")
@click.option("--json", "as_json", is_flag=True)
def stories(query: str | None, levels: tuple[str, ...], size: int, as_json: bool) -> None:
    """Stories (near-duplicate articles clustered), newest first, with the outlets that ran each."""
    from newswatch.search import list_stories

    settings = _settings()
    rows = list_stories(_es(settings), settings, query, levels=list(levels) or None, size=size)
    if as_json:
        for r in rows:
            _emit(r, True)
        return
    for r in rows:
        lv = "/".join(sorted(r["levels"]))
        click.echo(f"{(r['first_seen'] or '')[:10]}  [{lv}] {r['title']}  ({r['articles']} articles)")
        click.echo(f"      outlets: {', '.join(r['outlets'])}")


@main.command()
@click.option("--json", "as_json", is_flag=True)
@click.option("--size", default=1000, show_default=True, help="Articles with claims to read at most.")
def claims(as_json: bool, size: int) -> None:
    """Timeline of reported DPRK troop numbers: date, number, who said it, article."""
    from newswatch import index
    from newswatch.tagging import build_claims_timeline

    settings = _settings()
    es = _es(settings)
    resp = es.search(index=index.index_name(settings, "articles"), size=size,
                     query={"nested": {"path": "claims", "query": {"exists": {"field": "claims.count"}}}},
                     source_includes=["id", "published", "title", "url", "claims"], sort=[{"published": "asc"}])
    rows = build_claims_timeline({**h["_source"], "id": h["_id"]} for h in resp["hits"]["hits"])
    if as_json:
        for r in rows:
            _emit(r, True)
        return
    for r in rows:
        num = f"{r['count']:,}" + (f"–{r['count_max']:,}" if r.get("count_max") else "")
        who = r.get("source") or "unattributed"
        click.echo(f"{str(r['date'])[:10]}  {(r.get('qualifier') or ''):>10} {num:>14}  {who:<24} {r['title'][:60]}")


# ----------------------------------------------------------------------------------------------- feeds


@main.group()
def feeds() -> None:
    """Feed health and discovery."""


@feeds.command("status")
@click.option("--json", "as_json", is_flag=True)
def feeds_status(as_json: bool) -> None:
    """Per-feed health: last success, consecutive failures, last error class, items/day, extraction."""
    from newswatch import index

    settings = _settings()
    es = _es(settings)
    rows = index.feed_rows(es, settings)
    if as_json:
        for r in rows:
            _emit(r, True)
        return
    click.echo(f"{'status':<13}{'fails':>5} {'items/d':>8} {'ok/fail':>8}  {'last success':<20} url")
    for r in rows:
        okfail = f"{r.get('articles_ok', 0)}/{r.get('articles_failed', 0)}"
        click.echo(f"{(r.get('last_status') or '-'):<13}{r.get('consecutive_failures', 0):>5} "
                   f"{r.get('items_per_day') or 0:>8.1f} {okfail:>8}  {(r.get('last_success') or '-')[:19]:<20} "
                   f"{r['url']}" + (f"  [{r['last_error_class']}]" if r.get("last_error_class") else ""))


@feeds.command("discover")
@click.argument("url")
@click.option("--json", "as_json", is_flag=True)
def feeds_discover(url: str, as_json: bool) -> None:
    """Find the feeds a site advertises on the page at URL."""
    from extractors.feeds import discover_feeds
    from extractors.fetch import PAGE_CONTENT_TYPES, fetch
    from newswatch import steps

    settings = _settings()
    with steps.http_client(settings) as http:
        res = fetch(http, url, steps.fetch_policy(settings), accept=PAGE_CONTENT_TYPES)
    found = discover_feeds(res.content.decode("utf-8", errors="replace"), res.final_url)
    if as_json:
        for f in found:
            _emit(f, True)
        return
    for f in found:
        click.echo(f"{f['type']:<24} {f['url']}  {f['title']}")


# ------------------------------------------------------------------------------------------------ mail


@main.group()
def mail() -> None:
    """Alert emails kept by the local SMTP sink."""


@mail.command("list")
@click.option("--json", "as_json", is_flag=True)
def mail_list(as_json: bool) -> None:
    """List the messages in var/mail/."""
    from newswatch.mailsink import list_mail

    rows = list_mail(_settings().mail_dir)
    if as_json:
        for r in rows:
            _emit(r, True)
        return
    for r in rows:
        click.echo(f"{r['date']}  {r['to']}  {r['subject']}")
    click.echo(f"{len(rows)} messages in {_settings().mail_dir}", err=True)


# --------------------------------------------------------------------------------------------- staging


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
    from datetime import UTC, datetime, timedelta

    from newswatch.staging import prune_batches, staging_root

    settings = _settings()
    keep = settings.staging_keep_days if keep_days is None else keep_days
    result = prune_batches(staging_root(settings.staging), datetime.now(UTC) - timedelta(days=keep))
    human = f"deleted {len(result['deleted'])} indexed batches older than {keep:g} days from {settings.staging}"
    if result["kept"]:
        human += f"; kept {len(result['kept'])} never indexed: {', '.join(result['kept'][:10])}"
    _emit({**result, "keep_days": keep}, as_json, human=human)


@main.command("serve-mail", hidden=True)
@click.option("--port", type=int, default=None)
def serve_mail(port: int | None) -> None:
    """Run the local SMTP sink in the foreground (used by `stack up`)."""
    import time

    from newswatch.mailsink import start_sink

    settings = _settings()
    controller = start_sink(settings.mail_dir, settings.smtp.host, port or settings.smtp.port)
    click.echo(f"SMTP sink on {settings.smtp.host}:{port or settings.smtp.port} → {settings.mail_dir}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        controller.stop()


@main.command("demo-site")
@click.option("--port", type=int, default=None, help="Port (default NEWSWATCH_DEMO_PORT, 8765).")
def demo_site(port: int | None) -> None:
    """Serve the bundled offline sample news site in the foreground."""
    from newswatch.demosite import feed_urls, make_server

    settings = _settings()
    server = make_server(host="127.0.0.1", port=port if port is not None else settings.demo_port)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    click.echo(f"sample news site on {base}/")
    for f in feed_urls(base):
        click.echo(f"  feed: {f['url']}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.shutdown()


@main.command("init")
@click.option("--json", "as_json", is_flag=True)
def init(as_json: bool) -> None:
    """Install index templates and create indices (idempotent)."""
    from newswatch import index

    settings = _settings()
    created = index.ensure_indices(index.make_es(settings), settings)
    _emit({"created": created}, as_json)


# ----------------------------------------------------------------------------------------------- stack


@main.group()
def stack() -> None:
    """The local services: Elasticsearch, SMTP sink, sample site, Airflow."""


@stack.command("up")
@click.option("--services", default="es,mail", show_default=True, help="Comma-separated: es,mail,site,airflow.")
@click.option("--json", "as_json", is_flag=True)
def stack_up(services: str, as_json: bool) -> None:
    """Start services (Elasticsearch is downloaded from Maven Central on first use)."""
    from newswatch import stack as st

    rows = []
    for row in st.up(_settings(), [s.strip() for s in services.split(",") if s.strip()]):
        rows.append(row)
        if not as_json:
            click.echo(f"{row['service']:<14} {row['status']:<16} "
                       + " ".join(f"{k}={v}" for k, v in row.items() if k not in ("service", "status")), err=True)
    if as_json:
        for r in rows:
            _emit(r, True)


@stack.command("down")
@click.option("--services", default=None, help="Comma-separated subset (default: all).")
@click.option("--json", "as_json", is_flag=True)
def stack_down(services: str | None, as_json: bool) -> None:
    """Stop services started by `stack up`."""
    from newswatch import stack as st

    rows = st.down(_settings(), services.split(",") if services else None)
    for r in rows:
        _emit(r, True) if as_json else click.echo(f"{r['service']:<14} {r['status']}")


@stack.command("status")
@click.option("--json", "as_json", is_flag=True)
def stack_status(as_json: bool) -> None:
    """Show which local services run."""
    from newswatch import stack as st

    for r in st.status(_settings()):
        _emit(r, True) if as_json else click.echo(f"{r['service']:<14} {r['status']}")


if __name__ == "__main__":
    main()
