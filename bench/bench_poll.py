"""Polling 1,000 feeds twice: how much does the second round cost, and what saves it?

A server process on loopback serves 1,000 RSS feeds of 20 items. 80 % answer ``If-None-Match`` /
``If-Modified-Since`` with 304; 20 % ignore validators and always send the same 200 body, so only the body
hash saves newswatch from reparsing them. Round 1 polls everything (all new); then 5 % of the feeds get a new
item and round 2 polls again with the state round 1 returned (``newswatch.steps.poll_feed``, threads =
``settings.fetch.concurrency``, each feed's ``FeedState`` kept in memory since there is no Elasticsearch
here). The bare baseline, in the same run, is ``httpx.Client.get`` of every feed URL with the same threads,
no validators, no parsing.

    python bench/bench_poll.py [--feeds 1000] [--json bench/results/bench_poll.json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from newswatch.clients import fetch_policy, http_client  # noqa: E402
from newswatch.config import FeedConfig  # noqa: E402
from newswatch.records import FeedState  # noqa: E402
from newswatch.settings import Settings  # noqa: E402
from newswatch.steps import poll_feed  # noqa: E402

ITEMS = 20
IGNORE_EVERY = 5  # feed i ignores validators when i % 5 == 0 (20 %)
CHANGE_EVERY = 20  # feed i changes between rounds when i % 20 == 7 (5 %)
EPOCH = 1_700_000_000


def feed_body(i: int, version: int, port: int) -> bytes:
    items = []
    for n in range(version, version + ITEMS):
        items.append(f"<item><title>Feed {i} story {n}: troops, talks and trade</title>"
                     f"<link>http://127.0.0.1:{port}/a/{i}/{n}</link><guid>{i}-{n}</guid>"
                     f"<pubDate>{formatdate(EPOCH + n * 3600, usegmt=True)}</pubDate>"
                     f"<description>Summary of story {n} of feed {i}, a paragraph of text that a real feed "
                     f"would carry, with a few more words to make it realistic.</description></item>")
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Feed {i}</title>'
            f"<link>http://127.0.0.1:{port}/</link>{''.join(reversed(items))}</channel></rss>").encode()


def serve(port_out: Any, versions: Any, answered_304: Any) -> None:
    """The feed server (its own process, so it does not share the GIL with the client being measured)."""
    cache: dict[tuple[int, int], bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def do_GET(self) -> None:  # noqa: N802
            try:
                i = int(self.path.rsplit("/", 1)[1].split(".")[0])
            except (IndexError, ValueError):
                self.send_error(404)
                return
            version = versions[i]
            etag = f'"{i}-{version}"'
            modified = EPOCH + version * 3600
            if i % IGNORE_EVERY:  # honours validators
                since = self.headers.get("If-Modified-Since")
                fresh = self.headers.get("If-None-Match") == etag
                if not fresh and since and not self.headers.get("If-None-Match"):
                    try:
                        fresh = parsedate_to_datetime(since).timestamp() >= modified
                    except (TypeError, ValueError):
                        fresh = False
                if fresh:
                    answered_304[i] += 1
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
            body = cache.get((i, version))
            if body is None:
                body = cache[(i, version)] = feed_body(i, version, self.server.server_address[1])
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            if i % IGNORE_EVERY:
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", formatdate(modified, usegmt=True))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_out.value = server.server_address[1]
    server.serve_forever()


def poll_round(settings: Settings, http: httpx.Client, feeds: list[FeedConfig],
               states: dict[str, FeedState]) -> tuple[float, dict[str, dict[str, Any]]]:
    policy = fetch_policy(settings)

    def one(feed: FeedConfig) -> tuple[str, FeedState, dict[str, Any]]:
        state, _entries, report = poll_feed(http, policy, feed, states.get(feed.url) or FeedState())
        states[feed.url] = state
        return feed.url, state, report

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, settings.fetch.concurrency)) as pool:
        reports = {url: report for url, _state, report in pool.map(one, feeds)}
    return time.perf_counter() - started, reports


def bare_round(http: httpx.Client, urls: list[str], threads: int) -> float:
    def one(url: str) -> int:
        return len(http.get(url).content)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(one, urls))
    return time.perf_counter() - started


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=1000)
    ap.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "bench_poll.json")
    args = ap.parse_args()
    n = args.feeds

    versions = mp.Array("i", n, lock=False)
    answered_304 = mp.Array("i", n, lock=False)
    port = mp.Value("i", 0)
    proc = mp.Process(target=serve, args=(port, versions, answered_304), daemon=True)
    proc.start()
    try:
        while not port.value:
            time.sleep(0.01)
        base = f"http://127.0.0.1:{port.value}"
        settings = Settings(allowed_networks="127.0.0.1/32")
        feeds = [FeedConfig(url=f"{base}/feed/{i}.xml") for i in range(n)]
        urls = [f.url for f in feeds]
        threads = max(1, settings.fetch.concurrency)
        states: dict[str, FeedState] = {}
        with http_client(settings) as http, httpx.Client(trust_env=False) as bare:
            bare_round(bare, urls[:50], threads)  # warm up both sides
            round1, reports1 = poll_round(settings, http, feeds, states)
            changed = {i for i in range(n) if i % CHANGE_EVERY == 7}
            for i in changed:
                versions[i] += 1
            for i in range(n):
                answered_304[i] = 0
            round2, reports2 = poll_round(settings, http, feeds, states)
            baseline = bare_round(bare, urls, threads)
    finally:
        proc.terminate()
        proc.join(5)

    unchanged = [i for i in range(n) if i not in changed]
    by_304 = sum(1 for i in unchanged if answered_304[i] and reports2[urls[i]]["status"] == "not_modified")
    by_hash = sum(1 for i in unchanged if not answered_304[i] and reports2[urls[i]]["status"] == "not_modified")
    changed_ok = sum(1 for i in changed if reports2[urls[i]]["status"] == "ok" and reports2[urls[i]]["entries"])
    errors = sum(1 for r in [*reports1.values(), *reports2.values()] if r["status"] == "error")
    saved = (by_304 + by_hash) / max(len(unchanged), 1)
    result = {
        "feeds": n, "items_per_feed": ITEMS, "threads": threads,
        "ignore_validators_share": 1 / IGNORE_EVERY, "changed_share": len(changed) / n,
        "round1_seconds": round(round1, 3), "round2_seconds": round(round2, 3),
        "baseline_bare_get_seconds": round(baseline, 3),
        "round2_over_baseline": round(round2 / baseline, 3),
        "round1_over_baseline": round(round1 / baseline, 3),
        "unchanged": len(unchanged), "unchanged_by_304": by_304, "unchanged_by_hash": by_hash,
        "unchanged_saved_share": round(saved, 4), "changed_detected": changed_ok, "changed": len(changed),
        "errors": errors,
        "goals": {"unchanged_saved_share>=0.9": saved >= 0.9, "round2_seconds<=30": round2 <= 30},
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{n} feeds x {ITEMS} items, {threads} threads")
    print(f"round 1 (all new):      {round1:6.2f} s  ({round1 / baseline:.2f}x bare GET)")
    print(f"round 2 (5 % changed):  {round2:6.2f} s  ({round2 / baseline:.2f}x bare GET)")
    print(f"bare httpx GET of all:  {baseline:6.2f} s")
    print(f"unchanged feeds saved:  {saved:.1%} ({by_304} by 304, {by_hash} by body hash, of {len(unchanged)}); "
          f"changed detected {changed_ok}/{len(changed)}; errors {errors}")
    print(f"results: {args.json}")
    return 0 if saved >= 0.9 and round2 <= 30 and errors == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
