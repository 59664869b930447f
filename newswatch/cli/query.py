"""Query verbs: read-only, they never write to Elasticsearch (a missing index is a one-line error)."""

from __future__ import annotations

from typing import Any

import click

from newswatch.cli import main
from newswatch.cli._output import emit, emit_rows
from newswatch.runtime import Runtime

LEVELS = click.Choice(["core", "related", "none"])


def _query_arg(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """QUERY, refused (usage error, exit 2) before anything connects when it is longer than the searches take."""
    from newswatch.errors import SearchError
    from newswatch.search import check_query_length

    try:
        check_query_length(value)
    except SearchError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
    return value


QUERY = click.argument("query", required=False, callback=_query_arg)
TOPIC = click.option("--topic", help="Filter and facet on this topic's own level (config/topics/NAME.yaml).")


def _check_topic(rt: Runtime, topic: str | None) -> str | None:
    if topic is not None:
        from newswatch.tagging import load_topics

        load_topics(rt.settings.config_dir, include_disabled=True).get(topic)  # one-line error if unknown
    return topic


def _reader(rt: Runtime) -> Any:
    from newswatch import index

    index.require_indices(rt.es, rt.settings)
    return rt.es


@main.command()
@QUERY
@click.option("--level", "levels", multiple=True, type=LEVELS)
@TOPIC
@click.option("--size", default=10, show_default=True, type=click.IntRange(1, 10000))
@click.option("--json", "as_json", is_flag=True)
def search(query: str | None, levels: tuple[str, ...], topic: str | None, size: int, as_json: bool) -> None:
    """Full-text search over indexed articles, with highlights."""
    from newswatch.search import search_articles

    with Runtime() as rt:
        rows = search_articles(_reader(rt), rt.settings, query, size=size, levels=list(levels) or None,
                               topic=_check_topic(rt, topic))

    def line(r: dict[str, Any]) -> str:
        head = f"{(r.get('published') or '')[:10]}  [{r.get('level')}] {r.get('title')}  — {r.get('source')}"
        marks = [f"    … {h.replace('<em>', '*').replace('</em>', '*')} …" for h in r["highlights"][:2]]
        return "\n".join([head, f"    {r.get('url')}", *marks])

    emit_rows(rows, as_json, line)


@main.command()
@QUERY
@click.option("--since", help="From this date or time (YYYY-MM-DD or ISO 8601).")
@click.option("--until", help="Up to this date (the whole day) or time.")
@click.option("--interval", type=click.Choice(["auto", "hour", "day", "week", "month", "year"]), default="auto",
              show_default=True, help="Histogram bucket; auto picks one for about 60 bars.")
@click.option("--level", "levels", multiple=True, type=LEVELS)
@TOPIC
@click.option("--lang", "langs", multiple=True, help="Only articles in this language (repeatable).")
@click.option("--source", "sources", multiple=True, help="Only articles of this outlet (repeatable).")
@click.option("--entity", "entities", multiple=True, help="Only articles naming this entity (repeatable).")
@click.option("--story", help="Only this story's articles.")
@click.option("--stack", type=click.Choice(["level", "topic"]), default="level", show_default=True,
              help="Stack the histogram's bars per level or per topic.")
@click.option("--stories", "top_stories", default=10, show_default=True, type=click.IntRange(0, 100),
              help="How many top stories to list.")
@click.option("--top", default=10, show_default=True, type=click.IntRange(0, 100),
              help="How many top articles to list.")
@click.option("--json", "as_json", is_flag=True)
def timeline(query: str | None, since: str | None, until: str | None, interval: str, levels: tuple[str, ...],
             topic: str | None, langs: tuple[str, ...], sources: tuple[str, ...], entities: tuple[str, ...],
             story: str | None, stack: str, top_stories: int, top: int, as_json: bool) -> None:
    """Timeline of articles matching QUERY: histogram, top stories, claims, facets (the timeline page's API)."""
    from newswatch.errors import SearchError
    from newswatch.timeline import parse_query, run_timeline

    try:
        tq = parse_query({"q": query, "since": since, "until": until, "interval": interval,
                          "levels": list(levels), "topic": topic, "langs": list(langs), "sources": list(sources),
                          "entities": list(entities), "story": story, "stack": stack, "top_stories": top_stories,
                          "top_articles": top})
    except SearchError as exc:
        raise click.UsageError(str(exc)) from None
    with Runtime() as rt:
        _check_topic(rt, tq.topic)
        res = run_timeline(_reader(rt), rt.settings, tq)
    if as_json:
        emit(res, True)
        return
    click.echo(f"{res['total']} articles, {res['stories_total']} stories matching {query or '(all)'!r} "
               f"by {res['interval']} ({res['took_ms']} ms)")
    peak = max((b["count"] for b in res["buckets"]), default=0) or 1
    for b in res["buckets"]:
        bar = "█" * max(1 if b["count"] else 0, round(40 * b["count"] / peak))
        lv = " ".join(f"{k}:{v}" for k, v in sorted(b["stack"].items()))
        click.echo(f"  {b['date'][:10]}  {b['count']:>4}  {bar:<40}  {lv}")
    click.echo("\nTop stories:")
    for s in res["stories"]:
        click.echo(f"  {(s.get('first_seen') or '')[:10]}  {s['title']}  ({s['articles']} articles; "
                   f"{', '.join(s['outlets'])}; {', '.join(s['languages'])})")
    click.echo("\nTop articles:")
    for a in res["articles"]:
        click.echo(f"  {(a.get('published') or '')[:10]}  [{a.get('level')}] {a.get('title')}  — {a.get('source')}")
        click.echo(f"      {a.get('url')}")
    for name, rows in res["facets"].items():
        if rows:
            click.echo(f"\n{name}: " + ", ".join(f"{r['key']} {r['count']}" for r in rows[:10]))


@main.command()
@QUERY
@click.option("--level", "levels", multiple=True, type=LEVELS)
@TOPIC
@click.option("--size", default=20, show_default=True, type=click.IntRange(1, 10000), help="How many stories.")
@click.option("--json", "as_json", is_flag=True)
def stories(query: str | None, levels: tuple[str, ...], topic: str | None, size: int, as_json: bool) -> None:
    """Stories (near-duplicate articles clustered), newest first, with the outlets that ran each."""
    from newswatch.search import list_stories

    with Runtime() as rt:
        rows = list_stories(_reader(rt), rt.settings, query, levels=list(levels) or None, size=size,
                            topic=_check_topic(rt, topic))
    emit_rows(rows, as_json, lambda r: (
        f"{(r['first_seen'] or '')[:10]}  [{'/'.join(sorted(r['levels']))}] {r['title']}  ({r['articles']} articles)"
        f"\n      outlets: {', '.join(r['outlets'])}  languages: {', '.join(r['languages'])}"))


@main.command()
@click.option("--json", "as_json", is_flag=True)
@click.option("--limit", "--size", "limit", default=1000, show_default=True, type=click.IntRange(min=0),
              help="Claims to list at most, newest first (0: all of them).")
def claims(as_json: bool, limit: int) -> None:
    """Reported DPRK troop numbers, newest first: date, number, who said it, article."""
    from newswatch.search import claims_timeline

    with Runtime() as rt:
        rows = claims_timeline(_reader(rt), rt.settings, limit=limit)

    def line(r: dict[str, Any]) -> str:
        num = f"{r['count']:,}" + (f"–{r['count_max']:,}" if r.get("count_max") else "")
        who = r.get("source") or "unattributed"
        return f"{str(r['date'])[:10]}  {(r.get('qualifier') or ''):>10} {num:>14}  {who:<24} {r['title'][:60]}"

    emit_rows(rows, as_json, line)


@main.group()
def feeds() -> None:
    """Feed health and discovery."""


@feeds.command("status")
@click.option("--json", "as_json", is_flag=True)
def feeds_status(as_json: bool) -> None:
    """Per-feed health: last success, consecutive failures, last error class, items/day, extraction."""
    from newswatch import feedhealth, index

    with Runtime() as rt:
        index.require_indices(rt.es, rt.settings, ("feeds", "feedhealth"))
        rows = feedhealth.feed_rows(rt.es, rt.settings)

    def line(r: dict[str, Any]) -> str:
        okfail = f"{r.get('articles_ok', 0)}/{r.get('articles_failed', 0)}"
        return (f"{(r.get('last_status') or '-'):<13}{r.get('consecutive_failures', 0):>5} "
                f"{r.get('items_per_day') or 0:>8.1f} {okfail:>8}  {(r.get('last_success') or '-')[:19]:<20} "
                f"{r['url']}" + (f"  [{r['last_error_class']}]" if r.get("last_error_class") else ""))

    emit_rows(rows, as_json, line,
              header=f"{'status':<13}{'fails':>5} {'items/d':>8} {'ok/fail':>8}  {'last success':<20} url")


@feeds.command("discover")
@click.argument("url")
@click.option("--json", "as_json", is_flag=True)
def feeds_discover(url: str, as_json: bool) -> None:
    """Find the feeds a site advertises on the page at URL."""
    from extractors.feeds import discover_feeds
    from extractors.fetch import PAGE_CONTENT_TYPES, fetch

    with Runtime() as rt:
        res = fetch(rt.http, url, rt.policy, accept=PAGE_CONTENT_TYPES)
    found = discover_feeds(res.content.decode("utf-8", errors="replace"), res.final_url)
    emit_rows(found, as_json, lambda f: f"{f['type']:<24} {f['url']}  {f['title']}")


@main.group()
def mail() -> None:
    """Alert emails kept by the local SMTP sink."""


@mail.command("list")
@click.option("--json", "as_json", is_flag=True)
def mail_list(as_json: bool) -> None:
    """List the messages in var/mail/."""
    from newswatch.localstack.mailsink import list_mail
    from newswatch.settings import Settings

    folder = Settings().mail_dir
    rows = list_mail(folder)
    emit_rows(rows, as_json, lambda r: f"{r['date']}  {r['to']}  {r['subject']}")
    click.echo(f"{len(rows)} messages in {folder}", err=True)
