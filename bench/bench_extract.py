"""Fetch + extract throughput and extraction quality on 181 real news pages.

The pages of the public article-extraction-benchmark (``../shared/data/article-extraction-benchmark``) are
served on loopback by a minimal server in its own process. Two worker processes (both cores), each with its
own HTTP client, push every page through ``newswatch.steps.fetch_entries`` on a dry-run ``Runtime``, the
pipeline step itself (guarded downloads on its thread pool, extraction in the task thread). The bare
baseline, measured in the same run with the same two processes, is ``trafilatura.extract`` on the same HTML
bytes, no network. Two more reference figures: trafilatura's full-cascade ``bare_extraction`` with its
metadata, and our own ``extract_article`` on the bytes without HTTP (the gap to the pipeline is the cost of
fetching). Passes alternate (bare, pipeline, …) and the median of each is reported.

Quality: token-level precision and recall of our body against the human ``articleBody`` (tokens are
whitespace-separated, compared as multisets), averaged over pages; F1 of those averages is the figure the
benchmark publishes (trafilatura 0.958). A page we fail to extract counts as precision = recall = 0.

    python bench/bench_extract.py [--passes 3] [--json bench/results/bench_extract.json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing as mp
import statistics
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "article-extraction-benchmark"

_client: Any = None
_settings: Any = None


def _init_worker() -> None:
    global _client, _settings
    from newswatch.clients import http_client
    from newswatch.settings import FetchSettings, Settings

    # the loopback server is ours: no politeness gap, which would only measure sleeping
    _settings = Settings(allowed_networks="127.0.0.1/32", fetch=FetchSettings(min_host_gap=0.0, per_host=8))
    _client = http_client(_settings)


def _warm(_: int) -> int:
    time.sleep(0.3)  # hold the worker so that each of the two gets one warm-up task
    return 0


def pipeline_batch(urls: list[str]) -> list[tuple[str, str | None, str | None]]:
    """(url, extracted text or None, error class or None) for each URL, through the real pipeline step.

    ``steps.fetch_entries`` on a dry-run ``Runtime`` (no Elasticsearch, nothing written, as in
    ``ingest --dry-run``): its thread pool fetches pages while others are being extracted, exactly as in a
    DAG task's ``fetch_batch``; the articles and failures it returns in memory give the quality figures.
    """
    from newswatch.records import Entry
    from newswatch.runtime import Runtime
    from newswatch.steps import fetch_entries

    entries = [Entry.from_feed(url=u, title="", published=None, feed_url=None, feed_name=None) for u in urls]
    with Runtime(_settings, http=_client, dry_run=True) as rt:  # the client is the worker's: not closed here
        got = fetch_entries(rt, entries)
    texts = {a.fetched_url: a.text for a in got.articles.values()}
    errors = {f.url: f.error_class for f in got.failures}
    return [(u, texts.get(u), errors.get(u)) for u in urls]


def bare_batch(pages: list[tuple[str, bytes, str]]) -> list[tuple[str, str | None, str | None]]:
    import trafilatura

    return [(key, trafilatura.extract(html, url=url), None) for key, html, url in pages]


def same_work_batch(pages: list[tuple[str, bytes, str]]) -> list[tuple[str, str | None, str | None]]:
    """trafilatura with the options ``extract_article`` uses (metadata on), still without HTTP."""
    import trafilatura

    out = []
    for key, html, url in pages:
        doc = trafilatura.bare_extraction(html, url=url, with_metadata=True, include_comments=False,
                                          include_tables=False, favor_precision=True)
        out.append((key, doc.text if doc is not None else None, None))  # type: ignore[union-attr]
    return out


def extract_only_batch(pages: list[tuple[str, bytes, str]]) -> list[tuple[str, str | None, str | None]]:
    """``extract_article`` on the same bytes, no HTTP: what the pipeline pays for fetching is the gap."""
    from extractors.article import extract_article

    out: list[tuple[str, str | None, str | None]] = []
    for key, html, url in pages:
        try:
            out.append((key, extract_article(html, url=url).text, None))
        except Exception as exc:
            out.append((key, None, type(exc).__name__))
    return out


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def token_scores(extracted: str | None, truth: str) -> tuple[float, float]:
    """Precision and recall of whitespace tokens (multisets) of ``extracted`` against ``truth``."""
    got, want = Counter((extracted or "").split()), Counter(truth.split())
    overlap = sum((got & want).values())
    precision = overlap / sum(got.values()) if got else 0.0
    recall = overlap / sum(want.values()) if want else 0.0
    return precision, recall


def quality(texts: dict[str, str | None], truth: dict[str, str]) -> dict[str, float]:
    scores = [token_scores(texts.get(k), t) for k, t in truth.items()]
    p = statistics.fmean(s[0] for s in scores)
    r = statistics.fmean(s[1] for s in scores)
    per_page_f1 = statistics.fmean((2 * a * b / (a + b)) if a + b else 0.0 for a, b in scores)
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / (p + r), 4),
            "mean_page_f1": round(per_page_f1, 4)}


def _serve_forever(pages: dict[str, bytes], port_queue: Any) -> None:
    """A minimal asyncio HTTP/1.1 server writing prebuilt responses, in its own process.

    Real news sites spend their own CPU, not ours: the test server should cost as little of the two cores
    as possible. (Python's http.server costs far more per page, and with Nagle on its two writes per
    response wait ~10 ms for the client's delayed ACK.)
    """
    import asyncio

    responses = {
        f"/{key}.html".encode(): b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode() + body
        for key, body in pages.items()
    }
    missing = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1]
                writer.write(responses.get(path, missing))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, IndexError):
            pass
        finally:
            writer.close()

    async def run() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port_queue.put(server.sockets[0].getsockname()[1])
        async with server:
            await server.serve_forever()

    asyncio.run(run())


def serve(pages: dict[str, bytes]) -> tuple[Any, int]:
    ctx = mp.get_context("spawn")
    port_queue = ctx.Queue()
    proc = ctx.Process(target=_serve_forever, args=(pages, port_queue), daemon=True)
    proc.start()
    return proc, int(port_queue.get(timeout=30))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "bench_extract.json")
    ap.add_argument("--data", type=Path, default=DATA)
    args = ap.parse_args()
    if not (args.data / "ground-truth.json").exists():
        print(f"benchmark data not found at {args.data}: this benchmark needs ../shared/data/"
              "article-extraction-benchmark (html/*.html.gz and ground-truth.json); pass --data DIR",
              file=sys.stderr)
        return 2
    truth_doc = json.loads((args.data / "ground-truth.json").read_text())
    pages = {p.name.removesuffix(".html.gz"): gzip.decompress(p.read_bytes())
             for p in sorted((args.data / "html").glob("*.html.gz"))}
    truth = {k: v["articleBody"] for k, v in truth_doc.items() if k in pages}
    server, port = serve(pages)
    base = f"http://127.0.0.1:{port}"
    keys = sorted(pages)
    urls = [f"{base}/{k}.html" for k in keys]
    bare_items = [(k, pages[k], truth_doc[k].get("url") or f"{base}/{k}.html") for k in keys]
    size = 12  # small tasks keep both workers busy to the end

    pipe_times, bare_times, same_times, only_times = [], [], [], []
    pipe_out: list[tuple[str, str | None, str | None]] = []
    bare_out: list[tuple[str, str | None, str | None]] = []
    with ProcessPoolExecutor(2, mp_context=mp.get_context("spawn"), initializer=_init_worker) as pool:
        list(pool.map(_warm, range(2)))
        list(pool.map(pipeline_batch, _chunks(urls[:8], 4)))  # imports and first-call costs, both kinds
        list(pool.map(bare_batch, _chunks(bare_items[:8], 4)))
        for _ in range(args.passes):
            started = time.perf_counter()
            bare_out = [r for batch in pool.map(bare_batch, _chunks(bare_items, size)) for r in batch]
            bare_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            pipe_out = [r for batch in pool.map(pipeline_batch, _chunks(urls, size)) for r in batch]
            pipe_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            list(pool.map(same_work_batch, _chunks(bare_items, size)))
            same_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            list(pool.map(extract_only_batch, _chunks(bare_items, size)))
            only_times.append(time.perf_counter() - started)
    server.terminate()

    pipe_s, bare_s = statistics.median(pipe_times), statistics.median(bare_times)
    pipe_rate, bare_rate = len(urls) / pipe_s, len(urls) / bare_s
    same_rate = len(urls) / statistics.median(same_times)
    only_rate = len(urls) / statistics.median(only_times)
    ours = {url.rsplit("/", 1)[1].removesuffix(".html"): text for url, text, _ in pipe_out}
    bare_texts = {k: text for k, text, _ in bare_out}
    errors = Counter(err for _, _, err in pipe_out if err)
    result = {
        "pages": len(urls), "processes": 2, "passes": args.passes,
        "pipeline_pages_per_s": round(pipe_rate, 2), "bare_trafilatura_pages_per_s": round(bare_rate, 2),
        "pipeline_over_bare": round(pipe_rate / bare_rate, 3),
        "bare_with_metadata_pages_per_s": round(same_rate, 2),
        "pipeline_over_bare_with_metadata": round(pipe_rate / same_rate, 3),
        "extract_article_only_pages_per_s": round(only_rate, 2),
        "pipeline_over_extract_article_only": round(pipe_rate / only_rate, 3),
        "pipeline_seconds": [round(t, 3) for t in pipe_times], "bare_seconds": [round(t, 3) for t in bare_times],
        "quality_ours": quality(ours, truth), "quality_bare_trafilatura_extract": quality(bare_texts, truth),
        "published_trafilatura_f1": 0.958, "pipeline_errors": dict(errors),
        "goals": {"pipeline_over_bare>=0.9": pipe_rate / bare_rate >= 0.9},
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    q, qb = result["quality_ours"], result["quality_bare_trafilatura_extract"]
    print(f"{len(urls)} pages, 2 processes, median of {args.passes} passes")
    print(f"pipeline (HTTP fetch + extract_article): {pipe_rate:6.1f} pages/s")
    print(f"bare trafilatura.extract on the bytes:   {bare_rate:6.1f} pages/s")
    print(f"ratio pipeline / bare:                   {pipe_rate / bare_rate:6.3f}  (goal >= 0.9)")
    print(f"bare trafilatura, our options + metadata: {same_rate:5.1f} pages/s "
          f"(pipeline / that: {pipe_rate / same_rate:.3f})")
    print(f"extract_article alone, no HTTP:           {only_rate:5.1f} pages/s "
          f"(pipeline / that: {pipe_rate / only_rate:.3f}, the cost of fetching)")
    print(f"F1 ours {q['f1']:.3f} (P {q['precision']:.3f} R {q['recall']:.3f}); bare trafilatura.extract "
          f"{qb['f1']:.3f}; published trafilatura 0.958; failures {dict(errors) or 'none'}")
    print(f"results: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
