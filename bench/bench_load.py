"""Load and overhead: a 10,000-article burst through the real DAGs, against the same work through the CLI.

A server process on loopback plays ``--outlets`` news sites (one address each, ``127.0.1.<n>``, one port), each
with ``--feeds-per-outlet`` RSS feeds of ``--items`` items: by default 100 × 10 × 10 = 1,000 feeds and 10,000
distinct article pages. Each page is a news page as the sample site's are (head with OpenGraph, JSON-LD and
``article:published_time``, navigation, an ``<article>`` with headline, byline, time and paragraphs, related
links, footer, an inline state script; 40-140 kB of HTML). Its body, 2,000-8,000 bytes of text, is drawn per
article (seeded: the same in every run) from ``tests/data`` (dev set and story sets; en/ru/ko/uk outlets):
the first paragraphs are one item (12 % of them a core or related item on North Korean troops in Russia,
the rest an item tagged ``none``), the rest paragraphs in which the topics find no term at all (English:
mostly the 181 real article bodies of ``../shared/data/article-extraction-benchmark``, when present; the
dev set's off-topic items are lookalikes that read as the topic once several are put together).
Feeds and pages carry ``ETag`` and ``Last-Modified`` and answer ``If-None-Match`` / ``If-Modified-Since`` with
304; every host serves ``robots.txt``.

Two runs of the same work, on the same Elasticsearch node, each into fresh indices (the first run's are
deleted before the second):

1. **Bare baseline** (no Airflow running): the step functions the DAG's tasks call, in the DAG's shape:
   ``NEWSWATCH_SHARDS`` worker processes (started and with ``newswatch.steps`` imported before the clock
   starts) each run ``steps.poll_shard`` → ``steps.fetch_batch`` for one shard, then one more process runs
   ``steps.index_batches`` over every shard's batch. Wall time: start → ``index_batches`` returned.
   (``--baseline cli`` runs the same as ``newswatch poll/fetch/index`` processes instead, each paying the
   interpreter's start-up and imports.)
2. **Airflow**: ``newswatch stack up --services airflow`` (``airflow standalone``, LocalExecutor) on its own
   port and var folder; one manual run of the real ``newswatch_poll`` DAG (``NEWSWATCH_POLL_SCHEDULE=none``),
   which then triggers ``newswatch_alert`` through its Asset. Wall time: the trigger (REST API) → the last
   article visible through the ``<prefix>-articles`` alias (counted every second).

Figures: articles/s end to end (indexed articles / wall) for both; **Airflow overhead = (Airflow wall − CLI
wall) / Airflow wall**, the share of the Airflow run's wall time that the same steps did not need without
Airflow (goal ≤ 20 %); a breakdown of the Airflow run from its task instances (time inside tasks on the
critical path vs the gaps between them); **peak RSS of every process** of the run sampled every
``--sample`` seconds with psutil: each task process (``airflow worker -- <ti id>``, mapped to its task), each
LocalExecutor worker/supervisor, the scheduler, API server, DAG processor, and each CLI process of the
baseline (goal < 1 GB per worker). ``uptime`` load averages before, between and after.

    python bench/bench_load.py [--outlets 100 --feeds-per-outlet 10 --items 10] [--skip-baseline] [--keep]
                               [--json bench/results/bench_load.json]

Own ports (Elasticsearch 9293, Airflow 8093, SMTP 8037, load server 8796) and a fresh var folder, so it runs
beside the other benches and a demo. Everything it started is stopped at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import hashlib
import json
import multiprocessing as mp
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from html import escape
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_alert_latency import Airflow, Http, iso, json_lines, log, machine, now_utc, parse, wait_for  # noqa: E402

REAL_BODIES = ROOT.parent / "shared" / "data" / "article-extraction-benchmark" / "ground-truth.json"
LANGS = ("en", "ru", "en", "ko", "en", "uk", "en")  # outlet n writes in LANGS[n % 7]: 4/7 English
TOPICAL_SHARE = 0.12
EPOCH = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)  # the newest item; older ones 7 minutes apart per feed
GOAL_RSS_MB = 1024.0
GOAL_OVERHEAD = 0.20
MAX_NEGATIVE_OVERHEAD = 0.10  # Airflow "faster" than bare by more than this: the load changed, not comparable


# ------------------------------------------------------------------------------------------------ content


def _tagger() -> Any:
    from newswatch.settings import Settings
    from newswatch.tagging import combine, load_topics

    settings = Settings()
    topics = load_topics(settings.config_dir, default=settings.topic)
    return lambda title, text: combine(topics.tag(title, text, None), topics.default)


def clean_paragraphs(paras: list[str], tag: Any) -> list[str]:
    """Filler that cannot turn an off-topic article into a core one: the paragraphs in which the topics find
    no term at all. (The dev set's off-topic items are lookalikes, each ``none`` alone but several of them
    together read as the topic.)"""
    return [p for p in dict.fromkeys(paras) if not tag("", p).get("matched_terms")]


class Content:
    """The articles of the load server, drawn deterministically (``random.Random(seed, article)``)."""

    def __init__(self, outlets: int, feeds: int, items: int, port: int, seed: int = 12,
                 real_bodies: Path = REAL_BODIES) -> None:
        self.outlets, self.feeds, self.items, self.port, self.seed = outlets, feeds, items, port, seed
        self.topical: dict[str, list[dict[str, Any]]] = {}
        self.leads: dict[str, list[dict[str, Any]]] = {}
        self.filler: dict[str, list[str]] = {}
        for path in sorted(glob.glob(str(ROOT / "tests" / "data" / "devset" / "*.jsonl"))
                           + glob.glob(str(ROOT / "tests" / "data" / "stories" / "*.jsonl"))):
            for line in Path(path).read_text(encoding="utf-8").splitlines():
                if not line.strip():
                    continue
                item = json.loads(line)
                lang = item.get("lang")
                if lang not in LANGS or not item.get("title") or not item.get("text"):
                    continue
                label = item.get("label")
                if label in ("core", "related"):
                    self.topical.setdefault(lang, []).append(item)
                else:
                    self.leads.setdefault(lang, []).append(item)
                    if label == "none" or "stories" in path:
                        self.filler.setdefault(lang, []).extend(
                            p.strip() for p in item["text"].split("\n\n") if len(p.strip()) > 40)
        self.real_bodies = 0
        if real_bodies.exists():
            truth = json.loads(real_bodies.read_text(encoding="utf-8"))
            for rec in truth.values():
                paras = [p.strip() for p in str(rec.get("articleBody") or "").split("\n") if len(p.strip()) > 60]
                self.filler["en"].extend(paras)
                self.real_bodies += 1
        tag = _tagger()
        self.filler = {lang: clean_paragraphs(paras, tag) for lang, paras in self.filler.items()}
        self.leads = {lang: [i for i in items if tag(i["title"], i["text"])["level"] == "none"]
                      for lang, items in self.leads.items()}
        rnd = random.Random(seed)
        self.pad = "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789,:{}[]\" ") for _ in range(150_000))

    @property
    def total(self) -> int:
        return self.outlets * self.feeds * self.items

    def host(self, outlet: int) -> str:
        return f"127.0.1.{outlet + 1}"

    def base(self, outlet: int) -> str:
        return f"http://{self.host(outlet)}:{self.port}"

    def feed_url(self, outlet: int, feed: int) -> str:
        return f"{self.base(outlet)}/feeds/section-{feed}.xml"

    def page_path(self, feed: int, item: int) -> str:
        return f"/news/section-{feed}/{item:03d}.html"

    def published(self, feed: int, item: int) -> datetime:
        return EPOCH - timedelta(minutes=7 * item + feed, seconds=item * 13 % 60)

    def article(self, outlet: int, feed: int, item: int) -> dict[str, Any]:
        k = (outlet * self.feeds + feed) * self.items + item
        rnd = random.Random(f"{self.seed}:{k}")
        lang = LANGS[outlet % len(LANGS)]
        topical = rnd.random() < TOPICAL_SHARE and bool(self.topical.get(lang))
        lead = rnd.choice(self.topical[lang] if topical else self.leads[lang])
        paras = [p.strip() for p in lead["text"].split("\n\n") if p.strip()]
        target = rnd.randint(2000, 8000)  # bytes of UTF-8 text: ~2,000-8,000 characters in English
        pool = list(self.filler[lang])
        rnd.shuffle(pool)
        while pool and sum(len(p.encode()) for p in paras) < target:  # a short pool (ko/ru/uk) ends it early
            paras.append(pool.pop())
        return {"k": k, "lang": lang, "title": lead["title"], "paras": paras,
                "author": f"Reporter {rnd.randint(1, 400)}",
                "published": self.published(feed, item), "pad": rnd.randint(30_000, 130_000), "lead": lead.get("id"),
                "topical": topical, "url": f"{self.base(outlet)}{self.page_path(feed, item)}"}

    def page(self, outlet: int, feed: int, item: int) -> bytes:
        a = self.article(outlet, feed, item)
        site = f"Outlet {outlet + 1} News"
        when = a["published"].isoformat()
        nav = "".join(f'<li><a href="/section-{s}/">Section {s}</a></li>' for s in range(self.feeds))
        related = "".join(f'<li><a href="{self.page_path(feed, j)}">{escape(self.article(outlet, feed, j)["title"])}'
                          f"</a></li>" for j in range(self.items) if j != item and abs(j - item) <= 2)
        body = "\n".join(f"<p>{escape(p)}</p>" for p in a["paras"])
        ld = json.dumps({"@context": "https://schema.org", "@type": "NewsArticle", "headline": a["title"],
                         "datePublished": when, "dateModified": when,
                         "author": {"@type": "Person", "name": a["author"]},
                         "publisher": {"@type": "Organization", "name": site}}, ensure_ascii=False)
        start = a["k"] * 977 % 20_000
        html = f"""<!DOCTYPE html>
<html lang="{a['lang']}"><head><meta charset="utf-8">
<title>{escape(a['title'])} | {site}</title>
<link rel="canonical" href="{a['url']}">
<meta name="description" content="{escape(a['paras'][0][:200])}">
<meta name="author" content="{escape(a['author'])}">
<meta property="og:type" content="article"><meta property="og:title" content="{escape(a['title'])}">
<meta property="og:site_name" content="{site}"><meta property="og:url" content="{a['url']}">
<meta property="article:published_time" content="{when}">
<script type="application/ld+json">{ld}</script>
<style>body{{font-family:Georgia,serif;margin:0}}.nav li{{display:inline;margin:0 .5em}}.article p{{line-height:1.6}}
.footer{{background:#222;color:#eee}}.related li{{margin:.3em 0}}</style>
</head><body>
<header class="masthead"><a class="logo" href="/">{site}</a><nav class="nav"><ul>{nav}</ul></nav>
<form class="search" action="/search"><input name="q" placeholder="Search"></form></header>
<div class="cookie-banner">We use cookies to improve your experience. <button>Accept</button></div>
<main id="main"><article class="article">
<h1 class="headline">{escape(a['title'])}</h1>
<div class="byline">By <span class="author">{escape(a['author'])}</span> ·
<time datetime="{when}">{a['published'].strftime('%d %B %Y, %H:%M')}</time></div>
<div class="article-body">
{body}
</div>
<div class="share"><a href="#">Share</a> <a href="#">Email</a> <a href="#">Print</a></div>
</article>
<aside class="related"><h2>More on this story</h2><ul>{related}</ul></aside>
<aside class="newsletter"><h2>Newsletter</h2><p>Sign up for our morning briefing.</p></aside></main>
<footer class="footer"><ul>{nav}</ul><p>© 2026 {site}. All rights reserved.</p></footer>
<script>window.__STATE__ = "{self.pad[start:start + a['pad']]}";</script>
</body></html>
"""
        return html.encode("utf-8")

    def feed(self, outlet: int, feed: int) -> bytes:
        items = []
        for item in range(self.items):
            a = self.article(outlet, feed, item)
            items.append(f"<item><title>{escape(a['title'])}</title><link>{a['url']}</link>"
                         f"<guid isPermaLink=\"true\">{a['url']}</guid>"
                         f"<pubDate>{format_datetime(a['published'], usegmt=True)}</pubDate>"
                         f"<description>{escape(a['paras'][0][:300])}</description></item>")
        return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                f"<title>Outlet {outlet + 1} News - Section {feed}</title><link>{self.base(outlet)}/</link>"
                f"<language>{LANGS[outlet % len(LANGS)]}</language>{''.join(items)}</channel></rss>").encode()

    def feeds_yaml(self) -> str:
        import yaml

        rows = [{"url": self.feed_url(o, f), "name": f"Outlet {o + 1} News - Section {f}", "site": f"Outlet {o + 1}",
                 "lang": LANGS[o % len(LANGS)]} for o in range(self.outlets) for f in range(self.feeds)]
        return ("# Written by bench/bench_load.py: the load server's feeds\n"
                + yaml.safe_dump({"feeds": rows}, allow_unicode=True, sort_keys=False))


# ------------------------------------------------------------------------------------------------ server


ROBOTS = b"User-agent: *\nAllow: /\n"
LAST_MODIFIED = format_datetime(EPOCH, usegmt=True)


def _serve(content: Content, ready: Any, counters: Any) -> None:
    """The load server, in its own process: asyncio, HTTP/1.1 keep-alive, ``--outlets`` addresses on one port.

    Responses are built on request (feeds cached); validators: a strong ETag per resource and one
    Last-Modified; ``If-None-Match`` / ``If-Modified-Since`` answer 304. counters: [requests, 304s, 200s]."""
    feeds: dict[tuple[int, int], bytes] = {}
    hosts = {content.host(o): o for o in range(content.outlets)}

    def respond(status: str, body: bytes, ctype: str, extra: str = "") -> bytes:
        head = (f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                f"Connection: keep-alive\r\n{extra}\r\n")
        return head.encode() + body

    def route(path: str, outlet: int, headers: dict[str, str]) -> bytes:
        path = path.split("?", 1)[0]
        if path == "/robots.txt":
            return respond("200 OK", ROBOTS, "text/plain; charset=utf-8")
        body: bytes | None = None
        ctype = "text/html; charset=utf-8"
        try:
            if path.startswith("/feeds/section-") and path.endswith(".xml"):
                f = int(path[len("/feeds/section-"):-4])
                if 0 <= f < content.feeds:
                    key = (outlet, f)
                    body = feeds.get(key) or feeds.setdefault(key, content.feed(outlet, f))
                    ctype = "application/rss+xml; charset=utf-8"
            elif path.startswith("/news/section-") and path.endswith(".html"):
                section, name = path[len("/news/section-"):].split("/", 1)
                f, i = int(section), int(name[:-5])
                if 0 <= f < content.feeds and 0 <= i < content.items:
                    body = content.page(outlet, f, i)
        except ValueError:
            body = None
        if body is None:
            return respond("404 Not Found", b"not found", "text/plain")
        etag = '"' + hashlib.md5(body).hexdigest()[:16] + '"'
        fresh = headers.get("if-none-match") == etag
        if not fresh and "if-none-match" not in headers and headers.get("if-modified-since"):
            try:
                fresh = parsedate_to_datetime(headers["if-modified-since"]) >= EPOCH
            except (TypeError, ValueError):
                fresh = False
        validators = f"ETag: {etag}\r\nLast-Modified: {LAST_MODIFIED}\r\n"
        if fresh:
            counters[1] += 1
            return respond("304 Not Modified", b"", ctype, validators)
        counters[2] += 1
        return respond("200 OK", body, ctype, validators)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        local = writer.get_extra_info("sockname")[0]
        outlet = hosts.get(local, 0)
        try:
            while True:
                raw = await reader.readuntil(b"\r\n\r\n")
                lines = raw.decode("latin-1").split("\r\n")
                parts = lines[0].split(" ")
                headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
                counters[0] += 1
                writer.write(route(parts[1] if len(parts) > 1 else "/", outlet, headers))
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()

    async def run() -> None:
        server = await asyncio.start_server(handle, list(hosts), content.port, backlog=1024)
        ready.set()
        async with server:
            await server.serve_forever()

    asyncio.run(run())


# ------------------------------------------------------------------------------------------------ memory


class RssSampler(threading.Thread):
    """Every ``every`` seconds, the RSS of every process whose command line is Airflow's or newswatch's (the
    task processes set their title to ``airflow worker -- <ti id>``, LocalExecutor workers to ``airflow
    worker -- LocalExecutor: …`` / ``airflow supervisor: …``). Keeps each pid's peak and the titles seen."""

    def __init__(self, every: float) -> None:
        super().__init__(daemon=True)
        self.every = every
        self.stopped = threading.Event()
        self.peaks: dict[int, dict[str, Any]] = {}
        self.samples = 0
        self.lock = threading.Lock()

    @staticmethod
    def wanted(cmd: str) -> bool:
        return cmd.startswith("airflow") or "/airflow " in cmd or "newswatch.cli" in cmd or "/bin/airflow" in cmd

    def run(self) -> None:
        import psutil

        me = os.getpid()
        while not self.stopped.is_set():
            stamp = time.time()
            for proc in psutil.process_iter(["pid", "ppid", "cmdline", "memory_info", "create_time"]):
                try:
                    cmd = " ".join(proc.info["cmdline"] or [])
                    mem = proc.info["memory_info"]
                except (psutil.Error, TypeError):
                    continue
                if proc.info["pid"] == me or mem is None or not self.wanted(cmd):
                    continue
                rss = mem.rss / 2**20
                with self.lock:
                    row = self.peaks.setdefault(proc.info["pid"], {
                        "pid": proc.info["pid"], "ppid": proc.info["ppid"], "peak_rss_mb": 0.0, "titles": [],
                        "first_seen": stamp, "created": proc.info["create_time"]})
                    row["last_seen"] = stamp
                    if cmd[:200] not in row["titles"]:
                        row["titles"].append(cmd[:200])
                    if rss > row["peak_rss_mb"]:
                        row["peak_rss_mb"], row["peak_title"] = round(rss, 1), cmd[:200]
            self.samples += 1
            self.stopped.wait(self.every)

    def rows(self, since: float = 0.0) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(r) for r in self.peaks.values() if r.get("last_seen", 0) >= since]


def classify_process(row: dict[str, Any]) -> str:
    title = row.get("peak_title") or (row["titles"][0] if row["titles"] else "")
    if title.startswith("airflow worker -- LocalExecutor") or title.startswith("airflow supervisor:"):
        return "executor worker (supervisor)"
    if title.startswith("airflow worker -- "):
        return "task process"
    for key, name in (("scheduler", "scheduler"), ("api_server", "api server"), ("api-server", "api server"),
                      ("dag-processor", "dag processor"), ("dag_processor", "dag processor"),
                      ("triggerer", "triggerer"), ("serve-logs", "log server"), ("standalone", "standalone"),
                      ("newswatch.cli", "newswatch CLI")):
        if key in title:
            return name
    return "other airflow"


# ------------------------------------------------------------------------------------------------ helpers


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def cli(args: list[str], env: dict[str, str], timeout: float = 3600) -> dict[str, Any]:
    """``python -m newswatch.cli …`` with ``env`` (this tree first on the path); its last JSON line and timing."""
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "newswatch.cli", *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=timeout)
    seconds = time.monotonic() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"newswatch {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    rows = json_lines(proc.stdout)
    return {"seconds": round(seconds, 2), "summary": rows[-1] if rows else None}


def es_count(es: Http, index: str) -> int:
    resp = es.call("GET", f"/{index}/_count", ok404=True)
    return int(resp["count"]) if resp else 0


def drop_indices(es: Http, pattern: str) -> list[str]:
    """Delete the indices matching ``pattern`` by name (Elasticsearch refuses wildcard deletes)."""
    names = [row["index"] for row in es.call("GET", f"/_cat/indices/{pattern}", params={"format": "json"}) or []]
    for name in names:
        es.call("DELETE", f"/{name}", ok404=True)
    return names


def level_counts(es: Http, index: str) -> dict[str, int]:
    resp = es.call("POST", f"/{index}/_search", json={"size": 0, "aggs": {
        "levels": {"terms": {"field": "level", "size": 10}},
        "stories": {"cardinality": {"field": "story_id", "precision_threshold": 40000}}}}, ok404=True)
    if not resp:
        return {}
    out = {b["key"]: b["doc_count"] for b in resp["aggregations"]["levels"]["buckets"]}
    out["stories"] = resp["aggregations"]["stories"]["value"]
    return out


class CountWatch(threading.Thread):
    """Counts the articles alias every second; ``series`` holds (monotonic, count) at each change."""

    def __init__(self, es: Http, index: str) -> None:
        super().__init__(daemon=True)
        self.es, self.index = es, index
        self.series: list[tuple[float, int]] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        last = -1
        while not self.stopped.is_set():
            try:
                n = es_count(self.es, self.index)
            except RuntimeError:
                n = last
            if n != last:
                self.series.append((time.monotonic(), n))
                last = n
            self.stopped.wait(1.0)

    @property
    def count(self) -> int:
        return self.series[-1][1] if self.series else 0

    @property
    def last_change(self) -> float | None:
        return self.series[-1][0] if self.series else None


def peaks_table(rows: list[dict[str, Any]], tis_by_id: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in sorted(rows, key=lambda r: -r["peak_rss_mb"]):
        kind = classify_process(r)
        row = {"pid": r["pid"], "kind": kind, "peak_rss_mb": r["peak_rss_mb"],
               "seconds_seen": round(r.get("last_seen", 0) - r.get("first_seen", 0), 1)}
        task = None
        for title in r["titles"]:
            if title.startswith("airflow worker -- ") and not title.startswith("airflow worker -- LocalExecutor"):
                ti = tis_by_id.get(title.split("-- ", 1)[1].strip())
                if ti:
                    task = f"{ti['dag_id']}.{ti['task_id']}" + (f"[{ti['map_index']}]" if ti.get("map_index", -1) >= 0
                                                               else "")
            elif title.startswith("airflow supervisor:"):
                task = title.split(":", 1)[1].strip()[:120]
            elif "newswatch.cli" in title:
                task = title.split("newswatch.cli", 1)[1].strip()[:120]
        row["task"] = task
        row["titles"] = r["titles"][:4]
        out.append(row)
    return out


# ------------------------------------------------------------------------------------------------ the runs


def run_baseline(content: Content, env: dict[str, str], es: Http, shards: int, prefix: str,
                 sampler: RssSampler) -> dict[str, Any]:
    """The DAG's steps as CLI processes: per shard ``poll`` then ``fetch`` (shards in parallel), then ``index``."""
    env = {**env, "NEWSWATCH_ES__INDEX_PREFIX": prefix, "NEWSWATCH_STAGING_URL": env["NEWSWATCH_VAR_DIR"]
           + "/staging-cli"}
    cli(["init", "--json"], env)
    results: dict[int, dict[str, Any]] = {}
    errors: list[str] = []
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")

    def chain(i: int) -> None:
        batch = f"cli-{stamp}-s{i}"
        try:
            polled = cli(["poll", "--shard", str(i), "--shards", str(shards), "--batch", batch, "--json"], env)
            fetched = cli(["fetch", "--batch", batch, "--json"], env)
            results[i] = {"batch": batch, "poll": polled, "fetch": fetched}
        except Exception as exc:
            errors.append(f"shard {i}: {exc}")

    since = time.time()
    t0 = time.monotonic()
    threads = [threading.Thread(target=chain, args=(i,)) for i in range(shards)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    t_fetched = time.monotonic()
    if errors:
        raise RuntimeError("; ".join(errors))
    indexed = cli(["index", *[a for i in sorted(results) for a in ("--batch", results[i]["batch"])], "--json"], env)
    wall = time.monotonic() - t0
    count = es_count(es, f"{prefix}-articles")
    rows = peaks_table(sampler.rows(since), {})
    return {"kind": "cli: newswatch processes", "wall_seconds": round(wall, 2),
            "poll_and_fetch_seconds": round(t_fetched - t0, 2),
            "index_seconds": indexed["seconds"], "articles_indexed": count,
            "articles_per_second": round(count / wall, 2) if wall else None,
            "shards": {str(i): results[i] for i in sorted(results)}, "index": indexed,
            "levels": level_counts(es, f"{prefix}-articles"),
            "processes": [r for r in rows if r["kind"] == "newswatch CLI"
                          and str(r["task"]).split(" ")[0] in ("poll", "fetch", "index")]}


def _bare_warm(env: dict[str, str]) -> float:
    """Worker initializer of the bare baseline: this run's settings, and our package imported once."""
    os.environ.update(env)
    t0 = time.monotonic()
    import newswatch.steps  # noqa: F401

    return time.monotonic() - t0


def _bare_chain(shard: int, shards: int, batch: str) -> dict[str, Any]:
    """One shard as the DAG's mapped group does it, without Airflow: ``poll_shard`` then ``fetch_batch``."""
    import resource

    from newswatch import steps
    from newswatch.runtime import Runtime

    t0 = time.monotonic()
    with Runtime() as rt:
        polled = steps.poll_shard(rt, batch, shard=shard, shards=shards)
    t1 = time.monotonic()
    rss_poll = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with Runtime() as rt:
        fetched = steps.fetch_batch(rt, batch)
    t2 = time.monotonic()
    return {"batch": batch, "poll_seconds": round(t1 - t0, 2), "fetch_seconds": round(t2 - t1, 2),
            "poll": polled, "fetch": fetched, "peak_rss_mb_after_poll": round(rss_poll, 1),
            "peak_rss_mb_after_fetch": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def _bare_index(batches: list[str]) -> dict[str, Any]:
    import resource

    from newswatch import steps
    from newswatch.runtime import Runtime

    t0 = time.monotonic()
    with Runtime() as rt:
        indexed = steps.index_batches(rt, batches)
    return {"seconds": round(time.monotonic() - t0, 2), "summary": indexed,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def run_bare(env: dict[str, str], es: Http, shards: int, prefix: str) -> dict[str, Any]:
    """The DAG's steps without Airflow, in the DAG's shape: ``shards`` worker processes each run one shard's
    ``steps.poll_shard`` → ``steps.fetch_batch`` (as the mapped group), then a fresh process runs
    ``steps.index_batches`` over every batch (as ``index_batches``). The workers are started (spawn) and
    have imported ``newswatch.steps`` before the clock starts; wall time: start → ``index_batches`` returned."""
    from concurrent.futures import ProcessPoolExecutor

    env = {**env, "NEWSWATCH_ES__INDEX_PREFIX": prefix,
           "NEWSWATCH_STAGING_URL": env["NEWSWATCH_VAR_DIR"] + "/staging-bare"}
    cli(["init", "--json"], env)
    ctx = mp.get_context("spawn")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    with ProcessPoolExecutor(shards, mp_context=ctx, initializer=_bare_warm, initargs=(env,)) as chains, \
            ProcessPoolExecutor(1, mp_context=ctx, initializer=_bare_warm, initargs=(env,)) as indexer:
        warm = [f.result() for f in [chains.submit(time.sleep, 0.5) for _ in range(shards)]
                + [indexer.submit(time.sleep, 0.1)]]
        import_seconds = _time_import(env)
        t0 = time.monotonic()
        futures = [chains.submit(_bare_chain, i, shards, f"bare-{stamp}-s{i}") for i in range(shards)]
        results = [f.result() for f in futures]
        t_fetched = time.monotonic()
        indexed = indexer.submit(_bare_index, [r["batch"] for r in results]).result()
        wall = time.monotonic() - t0
    del warm
    count = es_count(es, f"{prefix}-articles")
    return {"kind": "bare: steps in pre-started processes", "wall_seconds": round(wall, 2),
            "poll_and_fetch_seconds": round(t_fetched - t0, 2), "index_seconds": indexed["seconds"],
            "articles_indexed": count, "articles_per_second": round(count / wall, 2) if wall else None,
            "shards": {str(i): r for i, r in enumerate(results)}, "index": indexed,
            "import_newswatch_steps_seconds": import_seconds, "levels": level_counts(es, f"{prefix}-articles"),
            "peak_rss_mb": max([indexed["peak_rss_mb"], *(r["peak_rss_mb_after_fetch"] for r in results)])}


def _time_import(env: dict[str, str]) -> float | None:
    """Seconds a fresh interpreter takes to import ``newswatch.steps`` (what every task process pays)."""
    code = "import time; t = time.monotonic(); import newswatch.steps; print(time.monotonic() - t)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=300)
    try:
        return round(float(proc.stdout.strip().splitlines()[-1]), 2)
    except (ValueError, IndexError):
        return None


def critical_path(tis: list[dict[str, Any]], trigger: datetime, last_indexed: datetime) -> dict[str, Any]:
    """Time inside tasks on the path trigger → index_batches end, and the gaps between them."""
    def span(t: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
        return parse(t.get("start_date")), parse(t.get("end_date"))

    by = {(t["task_id"], t.get("map_index", -1)): t for t in tis}
    shards_ti = by.get(("shards", -1))
    index_ti = by.get(("index_batches", -1))
    path: list[dict[str, Any]] = []
    if shards_ti:
        path.append(shards_ti)
    # the shard chain that ended last (its fetch is the one index_batches waited for)
    fetches = [t for t in tis if t["task_id"] == "shard.fetch_shard"]
    if fetches:
        last = max(fetches, key=lambda t: parse(t.get("end_date")) or trigger)
        poll = by.get(("shard.poll_shard", last.get("map_index", -1)))
        path += [p for p in (poll, last) if p]
    if index_ti:
        path.append(index_ti)
    inside = 0.0
    rows = []
    prev = trigger
    for t in path:
        s, e = span(t)
        if s is None or e is None:
            continue
        rows.append({"task": t["task_id"], "map_index": t.get("map_index", -1),
                     "wait_before_seconds": round((s - prev).total_seconds(), 2),
                     "queued_to_start_seconds": round((s - (parse(t.get("queued_when")) or s)).total_seconds(), 2),
                     "duration_seconds": round((e - s).total_seconds(), 2)})
        inside += (e - s).total_seconds()
        prev = e
    wall = (last_indexed - trigger).total_seconds()
    return {"path": rows, "inside_tasks_seconds": round(inside, 2), "wall_seconds": round(wall, 2),
            "gaps_seconds": round(wall - inside, 2), "gap_share": round(1 - inside / wall, 4) if wall else None}


def run_airflow(args: argparse.Namespace, content: Content, env: dict[str, str], es: Http, settings: Any,
                services: Any, sampler: RssSampler) -> dict[str, Any]:
    out: dict[str, Any] = {}
    t0 = time.monotonic()
    log(f"stack up: airflow (port {settings.airflow_port})")
    rows = json_lines(subprocess.run([sys.executable, "-m", "newswatch.cli", "stack", "up", "--services", "airflow",
                                      "--json"], capture_output=True, text=True, env=env, cwd=ROOT,
                                     timeout=900, check=True).stdout)
    out["stack_up_seconds"] = round(time.monotonic() - t0, 1)
    out["started"] = any(r.get("status") == "started" for r in rows)
    af = Airflow(settings.airflow_port, services.airflow_password(settings))
    for dag_id in ("newswatch_poll", "newswatch_alert"):
        wait_for(f"{dag_id} to be parsed", lambda d=dag_id: af.call("GET", f"/api/v2/dags/{d}", ok404=True),
                 time.monotonic() + 300)
        af.call("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})
    time.sleep(args.settle)  # let the freshly started components finish their start-up work
    out["loadavg_before_trigger"] = loadavg()
    articles = f"{settings.es.index_prefix}-articles"
    watch = CountWatch(es, articles)
    watch.start()
    since = time.time()
    trigger = now_utc()
    t_trigger = time.monotonic()
    run = af.call("POST", "/api/v2/dags/newswatch_poll/dagRuns", json={"logical_date": None})
    run_id = run["dag_run_id"]
    log(f"triggered {run_id}; waiting for {content.total} articles")

    def finished() -> dict[str, Any] | None:
        r = af.call("GET", f"/api/v2/dags/newswatch_poll/dagRuns/{run_id}")
        return r if r.get("state") in ("success", "failed") else None

    progress = {"n": -1}

    def done() -> dict[str, Any] | None:
        if watch.count != progress["n"]:
            progress["n"] = watch.count
            log(f"  {watch.count} articles indexed after {time.monotonic() - t_trigger:.0f} s")
        return finished()

    final = wait_for("the poll run", done, time.monotonic() + args.timeout, every=5.0)
    time.sleep(2.5)  # one more count after the run ended
    watch.stopped.set()
    watch.join(5)
    assert watch.last_change is not None
    wall = watch.last_change - t_trigger
    last_indexed = trigger + timedelta(seconds=wall)
    count = watch.count
    out.update({"run_id": run_id, "run_state": final.get("state"), "trigger": iso(trigger),
                "run_start": final.get("start_date"), "run_end": final.get("end_date"),
                "last_indexed": iso(last_indexed), "wall_seconds": round(wall, 2), "articles_indexed": count,
                "articles_per_second": round(count / wall, 2) if wall else None,
                "run_seconds": round(((parse(final.get("end_date")) or trigger) - trigger).total_seconds(), 2),
                "count_series": [(round(t - t_trigger, 1), n) for t, n in watch.series],
                "loadavg_at_end": loadavg()})
    log(f"  run {final.get('state')}: {count} articles, last indexed {wall:.1f} s after the trigger")
    poll_tis = af.task_instances("newswatch_poll", run_id)
    out["tasks"] = [{k: t.get(k) for k in ("task_id", "map_index", "state", "try_number", "queued_when",
                                           "start_date", "end_date", "duration", "id")} for t in poll_tis]
    out["critical_path"] = critical_path(poll_tis, trigger, last_indexed)

    # the alert run the Asset triggered (memory of send_alerts; not part of the wall time)
    alert: dict[str, Any] = {}
    if args.wait_alert:
        def alert_done() -> list[dict[str, Any]] | None:
            runs = [r for r in af.runs("newswatch_alert", trigger - timedelta(minutes=1))
                    if r.get("run_type") == "asset_triggered"]
            return runs if runs and all(r.get("state") in ("success", "failed") for r in runs) else None

        try:
            runs = wait_for("the asset-triggered alert run", alert_done, time.monotonic() + args.wait_alert,
                            every=5.0)
            alert["runs"] = [{k: r.get(k) for k in ("dag_run_id", "state", "start_date", "end_date")} for r in runs]
            alert_tis = [t for r in runs for t in af.task_instances("newswatch_alert", r["dag_run_id"])]
            alert["tasks"] = [{k: t.get(k) for k in ("task_id", "state", "start_date", "end_date", "duration", "id")}
                              for t in alert_tis]
        except TimeoutError as exc:
            alert["error"] = str(exc)
            alert_tis = []
    else:
        alert_tis = []
    out["alert"] = alert
    for dag_id in ("newswatch_alert", "newswatch_digest"):  # any other run during the bench, to name its tasks
        for r in af.runs(dag_id, trigger - timedelta(minutes=1)):
            known = {str(t["id"]) for t in alert_tis}
            alert_tis += [{**t, "dag_id": dag_id} for t in af.task_instances(dag_id, r["dag_run_id"])
                          if str(t["id"]) not in known]
    tis_by_id = {str(t["id"]): {**t, "dag_id": "newswatch_poll"} for t in poll_tis}
    tis_by_id.update({str(t["id"]): {"dag_id": "newswatch_alert", **t} for t in alert_tis})
    out["processes"] = peaks_table(sampler.rows(since), tis_by_id)
    out["levels"] = level_counts(es, articles)
    return out


def bench_env(args: argparse.Namespace, var_dir: Path, feeds_file: Path) -> dict[str, str]:
    return {
        "NEWSWATCH_VAR_DIR": str(var_dir),
        "NEWSWATCH_FEEDS_FILE": str(feeds_file),
        "NEWSWATCH_ES__URL": f"http://127.0.0.1:{args.es_port}",
        "NEWSWATCH_ES__INDEX_PREFIX": args.prefix,
        "NEWSWATCH_ES__HEAP": args.es_heap,
        "NEWSWATCH_AIRFLOW_PORT": str(args.airflow_port),
        "NEWSWATCH_SMTP__PORT": str(args.smtp_port),
        "NEWSWATCH_DEMO_PORT": str(args.port),  # no sample site here; keeps `{base_url}` off others' ports
        "NEWSWATCH_ALLOWED_NETWORKS": f"127.0.1.0/24:{args.port}",  # the load server's outlets only
        "NEWSWATCH_FETCH__MIN_HOST_GAP": "0",  # our own local server, as demo.sh does for the sample site
        "NEWSWATCH_POLL_SCHEDULE": "none",  # one manual run, triggered by the bench
        "NEWSWATCH_SHARDS": str(args.shards),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(args.airflow_port + 720),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(args.airflow_port + 721),
        "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    mono_start = time.monotonic()
    var_dir = Path(args.var_dir or tempfile.mkdtemp(prefix="nwload-")).resolve()
    var_dir.mkdir(parents=True, exist_ok=True)
    content = Content(args.outlets, args.feeds_per_outlet, args.items, args.port, real_bodies=args.real_bodies)
    feeds_file = var_dir / "feeds.load.yaml"
    feeds_file.write_text(content.feeds_yaml(), encoding="utf-8")
    env_add = bench_env(args, var_dir, feeds_file)
    os.environ.update(env_add)
    env = dict(os.environ)

    from newswatch.localstack import services
    from newswatch.settings import Settings

    settings = Settings()
    sample = [content.article(o, f, i) for o in range(0, args.outlets, max(1, args.outlets // 10))
              for f in range(min(2, args.feeds_per_outlet)) for i in range(args.items)]
    pages = [len(content.page(o, 0, 0)) for o in range(min(args.outlets, 20))]
    result: dict[str, Any] = {
        "started_at": iso(now_utc()), "machine_at_start": machine(), "uptime_at_start": uptime(),
        "settings": {"outlets": args.outlets, "feeds": args.outlets * args.feeds_per_outlet,
                     "items_per_feed": args.items,
                     "articles": content.total, "shards": args.shards, "port": args.port, "es_url": settings.es.url,
                     "es_heap": args.es_heap, "airflow_port": settings.airflow_port, "var_dir": str(var_dir),
                     "prefix": args.prefix, "fetch_concurrency": settings.fetch.concurrency,
                     "per_host": settings.fetch.per_host, "min_host_gap": settings.fetch.min_host_gap,
                     "sample_every_seconds": args.sample},
        "content": {"real_bodies_in_filler": content.real_bodies,
                    "topical_share_drawn": round(sum(a["topical"] for a in sample) / len(sample), 3),
                    "body_chars_mean": round(sum(sum(len(p) for p in a["paras"]) for a in sample) / len(sample)),
                    "page_bytes_mean": round(sum(pages) / len(pages)), "langs": sorted(set(LANGS))}}
    ctx = mp.get_context("fork")
    ready, counters = ctx.Event(), ctx.Array("q", 3, lock=False)
    server = ctx.Process(target=_serve, args=(content, ready, counters), daemon=True)
    server.start()
    if not ready.wait(30):
        raise SystemExit("the load server did not start")
    sampler = RssSampler(args.sample)
    sampler.start()
    started: list[str] = []
    es = Http(settings.es.url)
    try:
        log(f"stack up: es, mail (var {var_dir})")
        rows = json_lines(subprocess.run([sys.executable, "-m", "newswatch.cli", "stack", "up", "--services",
                                          "es,mail", "--json"], capture_output=True, text=True, env=env, cwd=ROOT,
                                         timeout=900, check=True).stdout)
        started += [{"elasticsearch": "es"}.get(r["service"], r["service"]) for r in rows
                    if r.get("status") == "started"]
        cli(["init", "--json"], env)
        if args.baseline != "none":
            result["uptime_before_baseline"] = uptime()
            result["loadavg_before_baseline"] = loadavg()
            log(f"{args.baseline} baseline: {args.shards} × (poll → fetch), then index; {content.total} articles")
            try:
                if args.baseline == "cli":
                    result["baseline"] = run_baseline(content, env, es, args.shards, f"{args.prefix}-cli", sampler)
                else:
                    result["baseline"] = run_bare(env, es, args.shards, f"{args.prefix}-bare")
            except Exception as exc:
                import traceback

                traceback.print_exc()
                result["baseline"] = {"error": f"{type(exc).__name__}: {exc}"[:3000]}
            log(f"  baseline: {json.dumps({k: v for k, v in result['baseline'].items() if 'seconds' in k})}")
            drop_indices(es, f"{args.prefix}-{args.baseline}-*")  # the second run starts on an equal footing
            shutil.rmtree(var_dir / f"staging-{args.baseline}", ignore_errors=True)
        result["uptime_before_airflow"] = uptime()
        result["loadavg_before_airflow"] = loadavg()
        started.append("airflow")
        try:
            result["airflow"] = run_airflow(args, content, env, es, settings, services, sampler)
        except Exception as exc:
            import traceback

            traceback.print_exc()
            result["airflow"] = {"error": f"{type(exc).__name__}: {exc}"[:3000]}
        result["uptime_at_end"] = uptime()
    finally:
        sampler.stopped.set()
        result["server"] = {"requests": counters[0], "not_modified": counters[1], "ok": counters[2]}
        server.terminate()
        server.join(10)
        if not args.keep and started:
            log(f"stack down: {', '.join(started)}")
            subprocess.run([sys.executable, "-m", "newswatch.cli", "stack", "down", "--services", ",".join(started),
                            "--json"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
            if "es" in started and not args.var_dir:
                shutil.rmtree(services.es_node_dir(settings), ignore_errors=True)
        result["duration_seconds"] = round(time.monotonic() - mono_start, 1)
        result["machine_at_end"] = machine()
    result["figures"] = figures(result)
    return result


def figures(result: dict[str, Any]) -> dict[str, Any]:
    af, base = result.get("airflow") or {}, result.get("baseline") or {}
    fig: dict[str, Any] = {}
    if af.get("wall_seconds"):
        fig["airflow_wall_seconds"] = af["wall_seconds"]
        fig["airflow_articles_per_second"] = af["articles_per_second"]
        fig["articles_indexed"] = af["articles_indexed"]
        fig["airflow_gap_share_on_critical_path"] = (af.get("critical_path") or {}).get("gap_share")
        tasks = [p for p in af.get("processes", []) if p["kind"] == "task process"]
        workers = [p for p in af.get("processes", []) if p["kind"] in ("task process", "executor worker (supervisor)")]
        if tasks:
            top = max(tasks, key=lambda p: p["peak_rss_mb"])
            fig["peak_task_rss_mb"] = top["peak_rss_mb"]
            fig["peak_task"] = top["task"]
        if workers:
            fig["peak_worker_rss_mb"] = max(p["peak_rss_mb"] for p in workers)
            fig["rss_goal_met"] = fig["peak_worker_rss_mb"] < GOAL_RSS_MB
    if base.get("wall_seconds"):
        fig["baseline"] = base.get("kind")
        fig["baseline_wall_seconds"] = base["wall_seconds"]
        fig["baseline_articles_per_second"] = base["articles_per_second"]
        if base.get("processes"):
            fig["peak_baseline_rss_mb"] = max(p["peak_rss_mb"] for p in base["processes"])
        elif base.get("peak_rss_mb"):
            fig["peak_baseline_rss_mb"] = base["peak_rss_mb"]
    if af.get("wall_seconds") and base.get("wall_seconds"):
        overhead = (af["wall_seconds"] - base["wall_seconds"]) / af["wall_seconds"]
        fig["airflow_overhead"] = round(overhead, 4)
        # Two runs one after the other compare only on a machine equally quiet for both: an Airflow run much
        # faster than the same steps bare means the load changed between them, and the figure says nothing.
        # (load averages before each run are kept beside it; run the bench with nothing else on the machine)
        fig["loadavg_before_runs"] = [result.get("loadavg_before_baseline"), result.get("loadavg_before_airflow")]
        fig["overhead_comparable"] = overhead >= -MAX_NEGATIVE_OVERHEAD
        fig["overhead_goal_met"] = fig["overhead_comparable"] and overhead <= GOAL_OVERHEAD
    return fig


def summary(result: dict[str, Any]) -> str:
    s, fig = result["settings"], result.get("figures", {})
    af, base = result.get("airflow") or {}, result.get("baseline") or {}
    lines = [f"{s['feeds']} feeds × {s['items_per_feed']} items = {s['articles']} articles on {s['outlets']} hosts; "
             f"{s['shards']} shards; load {result['machine_at_start'].get('loadavg')} → "
             f"{result['machine_at_end'].get('loadavg')}"]
    if base.get("wall_seconds"):
        lines.append(f"baseline ({base.get('kind')}): {base['articles_indexed']} indexed in "
                     f"{base['wall_seconds']:.1f} s "
                     f"({base['articles_per_second']} articles/s; poll+fetch {base['poll_and_fetch_seconds']} s, "
                     f"index {base['index_seconds']} s)")
    elif base:
        lines.append(f"CLI baseline: {base.get('error', 'skipped')[:300]}")
    if af.get("wall_seconds"):
        cp = af.get("critical_path") or {}
        lines.append(f"Airflow run:   {af['articles_indexed']} indexed in {af['wall_seconds']:.1f} s "
                     f"({af['articles_per_second']} articles/s; run {af['run_state']} after {af['run_seconds']} s); "
                     f"critical path inside tasks {cp.get('inside_tasks_seconds')} s, gaps {cp.get('gaps_seconds')} s")
        for p in cp.get("path", []):
            lines.append(f"    {p['task']:<22}{p['map_index']:>3}  waited {p['wait_before_seconds']:7.1f} s  "
                         f"ran {p['duration_seconds']:7.1f} s")
    elif af:
        lines.append(f"Airflow run: {af.get('error', '?')[:300]}")
    if "airflow_overhead" in fig:
        lines.append(f"Airflow overhead (Airflow wall − baseline wall) / Airflow wall: {fig['airflow_overhead']:.1%} "
                     f"(goal ≤ 20 %: {'met' if fig['overhead_goal_met'] else 'NOT met'}"
                     f"{'' if fig['overhead_comparable'] else '; NOT comparable: the load changed between the runs'})")
    procs = af.get("processes") or []
    if procs:
        lines.append(f"{'peak RSS (MB)':>14}  {'process':<30} task")
        for p in procs[:16]:
            lines.append(f"{p['peak_rss_mb']:>14.1f}  {p['kind']:<30} {p['task'] or ''}")
    if "peak_worker_rss_mb" in fig:
        lines.append(f"peak worker/task RSS {fig['peak_worker_rss_mb']} MB (goal < 1 GB: "
                     f"{'met' if fig['rss_goal_met'] else 'NOT met'}); "
                     f"peak baseline process {fig.get('peak_baseline_rss_mb')} MB")
    lines.append(f"took {result['duration_seconds']} s")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--outlets", type=int, default=100, help="hosts 127.0.1.1 … (at most 254)")
    ap.add_argument("--feeds-per-outlet", type=int, default=10)
    ap.add_argument("--items", type=int, default=10, help="items per feed (each a distinct article)")
    ap.add_argument("--real-bodies", type=Path, default=REAL_BODIES,
                    help="ground-truth.json of the article-extraction benchmark (English filler; optional)")
    ap.add_argument("--shards", type=int, default=4, help="NEWSWATCH_SHARDS of the poll DAG and the baseline")
    ap.add_argument("--baseline", choices=("bare", "cli", "none"), default="bare",
                    help="the same work without Airflow: the steps in pre-started processes (bare), or as "
                         "`newswatch` CLI processes (cli: each pays the interpreter's start-up); none: no overhead")
    ap.add_argument("--port", type=int, default=8796, help="the load server's port (on every outlet address)")
    ap.add_argument("--es-port", type=int, default=9293)
    ap.add_argument("--es-heap", default="1g")
    ap.add_argument("--airflow-port", type=int, default=8093)
    ap.add_argument("--smtp-port", type=int, default=8037)
    ap.add_argument("--prefix", default="nwload", help="Elasticsearch index prefix")
    ap.add_argument("--var-dir", help="NEWSWATCH_VAR_DIR (default: a new temporary folder)")
    ap.add_argument("--sample", type=float, default=0.5, help="seconds between two RSS samples")
    ap.add_argument("--settle", type=float, default=20.0, help="seconds between Airflow up and the trigger")
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for the poll run")
    ap.add_argument("--wait-alert", type=float, default=900.0,
                    help="seconds to wait for the alert run the Asset triggers (0: do not wait)")
    ap.add_argument("--keep", action="store_true", help="leave the stack running at the end")
    ap.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "bench_load.json")
    args = ap.parse_args()
    if not 1 <= args.outlets <= 254:
        ap.error("--outlets must be 1..254")

    result = run(args)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    print(summary(result))
    print(f"results: {args.json}")
    fig = result["figures"]
    return 0 if fig.get("rss_goal_met") and fig.get("overhead_goal_met") else 1


if __name__ == "__main__":
    raise SystemExit(main())
