"""A million articles on one node: the write path, the index step and the timeline query, from 100 k to 1 M.

    python bench/bench_timeline.py [--sizes 100000,1000000] [--seed 11] [--es-url http://127.0.0.1:9280]
                                   [--rounds 5] [--step-articles 1000] [--json bench/results/bench_timeline.json]

Needs a single Elasticsearch node at ``--es-url`` (``newswatch stack up --services es`` with
``NEWSWATCH_ES__URL`` set to it); the script never starts or stops one. Everything it creates is under the
index prefix ``--prefix`` (default ``bench-tl``), deleted first and, with ``--drop``, at the end.

The corpus is generated deterministically from ``--seed``, a chunk at a time (never the whole corpus in
memory; per article only its date, source, story and kind are kept, as numpy arrays):

* dates over two years (2024-01-01 .. 2025-12-31), weekdays 1.8x weekends, a day's rhythm by the hour and a
  slow growth; 40 sources in 8 languages with Zipf-like volumes (en ~59 %, ko, ru, uk ~10 % each, de, ja,
  fr, es the rest);
* story ids with realistic story sizes: an article joins the story of a random article of the previous
  three days with probability 0.5 (preferential attachment: big stories grow), else starts its own; the
  story id is the id of its first article, as ``stories.assign`` gives it;
* text of real lengths (lognormal, median ~3.5 k chars, 1.5 k .. 12 k) from real sentences per language:
  on-topic articles open with a real labelled item of tests/data (devset, story sets), tagged once with the
  real tagger (``load_topics().tag`` + ``combine``: levels, scores, matches, entities, claims), and go on with
  off-topic filler: sentences of the 181 real bodies of ../shared/data/article-extraction-benchmark (English)
  and of the tests/data items the tagger finds nothing in (each sentence checked: no topic term). Kinds: 90 %
  of the stories are off topic (a quarter of them open with a look-alike item, tagged ``none`` but with
  matched terms), 6 % related, 4 % core, by the tagger's own levels of the opening items;
* ``search_text`` by ``textnorm.search_text`` (computed once per sentence: it is per word, so the
  concatenation is exact), MinHash signatures shared within a story with 25 % of the slots changed per
  article, embeddings = the story's direction + noise (the encoder's 512 dims, rounded as the index step
  rounds them); every document goes through ``Article.from_input(record).doc()``.

Articles are indexed in passes: the corpus is the time-ordered sequence of ``max(sizes)`` articles, and pass
``p`` writes articles ``p, p + k, p + 2k, ...`` (``k = max(sizes) / min(sizes)``), so after the first pass the
index holds the two years at a tenth of the density (100 k), after the last the whole million.

Measurements:

1. **Write path.** Ours: ``index.bulk_upsert(es, write_alias, docs)``, what ``steps.index_articles`` writes
   with. Bare: ``elasticsearch.helpers.bulk`` (its defaults) of the same finished documents into a scratch
   index created with the same settings and mapping (the articles template body). Every ``--bare-every``-th
   chunk of 2,000 documents is written by both, in alternating order; ``ratio = sum(bare seconds) /
   sum(our seconds)`` over those chunks = our throughput / bare throughput (goal >= 0.8). The scratch index
   holds only the sampled chunks (a fifth), so bare writes into a smaller index: if anything this favours
   bare. Generating the documents is not timed.
2. **Index step** (after the first size): ``steps.index_articles`` on ``--step-articles`` generated raw
   articles (title, text, source, lang, date only; ~5 KB) into a fresh prefix, with timers on its parts and
   Elasticsearch's own CPU time (``_nodes/stats/process``) beside our process's.
3. **Timeline**, at each size after a refresh: 20 queries (free text in en/ko/ru/uk, topic, level, language,
   source, entity and story filters, ranges from a week to all time, both stacks), each through
   ``timeline.run_timeline`` once to warm up, then ``--rounds`` rounds in a shuffled order; p50/p95 of
   ``wall_ms`` (the API's whole call) and ``took_ms`` (Elasticsearch's). Then, for the heaviest query,
   Elasticsearch's ``took`` of each aggregation run alone (median of 5) to say where the time goes.
4. **Node**: heap (``_nodes/stats/jvm``), store size and segments (``_cat/indices``), at each size.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import os
import platform
import random
import re
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from elasticsearch import Elasticsearch, helpers  # noqa: E402

from newswatch import dedupe, encoder, index, search, stories, textnorm, timeline  # noqa: E402
from newswatch.records import Article, doc_id  # noqa: E402
from newswatch.settings import ElasticsearchSettings, Settings  # noqa: E402
from newswatch.steps import indexing  # noqa: E402
from newswatch.tagging import combine, load_topics  # noqa: E402

SHARED = ROOT.parent / "shared"
GROUND_TRUTH = SHARED / "data" / "article-extraction-benchmark" / "ground-truth.json"
TESTDATA = ROOT / "tests" / "data"
START = datetime(2024, 1, 1, tzinfo=UTC)
DAYS = 731
CHUNK = 2000
GOAL_RATIO = 0.8
GOAL_P95_MS = 100.0
KIND_SHARES = {"none": 0.90, "related": 0.06, "core": 0.04}
LOOKALIKE_SHARE = 0.25  # of the off-topic stories: opened by an item with topic words, tagged none
JOIN = 0.5  # probability that an article joins a story of the previous WINDOW
WINDOW = timedelta(days=3)
KINDS = ("none", "related", "core")

# (name, host, language, relative volume)
SOURCES: list[tuple[str, str, str, float]] = [
    *[(n, h, "en", w) for n, h, w in [
        ("Reuters", "www.reuters.com", 10), ("AP News", "apnews.com", 9), ("BBC News", "www.bbc.com", 7),
        ("The Guardian", "www.theguardian.com", 6), ("CNN", "edition.cnn.com", 5),
        ("The New York Times", "www.nytimes.com", 5), ("Al Jazeera", "www.aljazeera.com", 4),
        ("NK News", "www.nknews.org", 2), ("Kyiv Independent", "kyivindependent.com", 3),
        ("Korea Herald", "www.koreaherald.com", 3), ("Korea JoongAng Daily", "koreajoongangdaily.joins.com", 2),
        ("Washington Post", "www.washingtonpost.com", 4), ("Financial Times", "www.ft.com", 3),
        ("Politico", "www.politico.eu", 2), ("The Moscow Times", "www.themoscowtimes.com", 2),
        ("Radio Free Asia", "www.rfa.org", 1.5), ("Daily NK", "www.dailynk.com", 1),
        ("Herald Sample", "herald.example", 1), ("Deutsche Welle", "www.dw.com", 3),
        ("France 24", "www.france24.com", 2), ("Bloomberg", "www.bloomberg.com", 3)]],
    *[(n, h, "ko", w) for n, h, w in [
        ("연합뉴스", "www.yna.co.kr", 6), ("조선일보", "www.chosun.com", 3), ("한겨레", "www.hani.co.kr", 2),
        ("KBS", "news.kbs.co.kr", 2), ("코리아와이어", "koreawire.example", 1)]],
    *[(n, h, "ru", w) for n, h, w in [
        ("ТАСС", "tass.ru", 5), ("РИА Новости", "ria.ru", 4), ("Meduza", "meduza.io", 2),
        ("Коммерсантъ", "www.kommersant.ru", 2), ("Вестник", "vestnik.example", 1)]],
    *[(n, h, "uk", w) for n, h, w in [
        ("Українська правда", "www.pravda.com.ua", 5), ("Укрінформ", "www.ukrinform.ua", 4),
        ("Суспільне", "suspilne.media", 3), ("РБК-Україна", "www.rbc.ua", 2)]],
    ("Der Spiegel", "www.spiegel.de", "de", 2.5), ("FAZ", "www.faz.net", "de", 1.5),
    ("NHK", "www3.nhk.or.jp", "ja", 2.5), ("Le Monde", "www.lemonde.fr", "fr", 2),
    ("El País", "elpais.com", "es", 2),
]
AUTHORS = [None, None, "Staff", "Anna Kim", "Ivan Petrov", "Olena Shevchenko", "John Miller", "Park Ji-won",
           "Maria Garcia", "Tom Brown", "Kim Soo-jin", "Sergei Ivanov"]

_SENT = re.compile(r"(?<=[.!?。])\s+|\n+")

Doc = dict[str, Any]


# ------------------------------------------------------------------------------------------ text pools


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _sentences(text: str, shortest: int = 40) -> list[str]:
    return [s.strip() for s in _SENT.split(text or "") if shortest <= len(s.strip()) <= 600]


@dataclass
class Lead:
    """A real labelled item as an article's opening: its text, tags and normal forms, computed once."""

    title: str
    text: str
    lang: str
    tags: dict[str, Any]
    norm_title: str
    norm_text: str
    numbers: list[int]


@dataclass
class Pools:
    leads: dict[tuple[str, str], list[Lead]] = field(default_factory=dict)  # (level, lang) -> leads
    lookalikes: dict[str, list[Lead]] = field(default_factory=dict)  # none, with matched terms, per lang
    filler: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # lang -> (sentence, normal form)
    titles: dict[str, list[str]] = field(default_factory=dict)
    none_tags: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def build_pools() -> Pools:
    topics = load_topics()
    pools = Pools()
    items: list[dict[str, Any]] = []
    for path in sorted((TESTDATA / "devset").glob("*.jsonl")) + sorted((TESTDATA / "stories").glob("*.jsonl")):
        items += [it for it in _jsonl(path) if it.get("text") and it.get("lang")]
    for path in sorted((TESTDATA / "topics").rglob("*.jsonl")):
        items += [it for it in _jsonl(path) if it.get("text") and it.get("lang")]
    pools.none_tags = combine(topics.tag("", "", None), topics.default)
    leads: dict[tuple[str, str], list[Lead]] = defaultdict(list)
    look: dict[str, list[Lead]] = defaultdict(list)
    filler: dict[str, dict[str, str]] = defaultdict(dict)
    titles: dict[str, list[str]] = defaultdict(list)
    seen: set[str] = set()

    def lead_of(title: str, text: str, lang: str, tags: dict[str, Any]) -> Lead:
        return Lead(title, text, lang, tags, textnorm.search_text(title, "", lang)[0] if title else "",
                    textnorm.search_text("", text, lang)[0], stories.numbers_of(f"{title}\n{text}", tags["claims"]))

    def add_filler(sentence: str, lang: str) -> None:
        if sentence in filler[lang]:
            return
        tags = combine(topics.tag("", sentence, lang), topics.default)
        if not tags["matched_terms"]:  # truly off topic: adds no tag to an article it fills
            filler[lang][sentence] = textnorm.search_text("", sentence, lang)[0]

    for it in items:
        key = f"{it['title']}|{it['text'][:80]}"
        if key in seen:
            continue
        seen.add(key)
        lang, title, text = it["lang"], it.get("title") or "", it["text"]
        tags = combine(topics.tag(title, text, lang), topics.default)
        for s in _sentences(text, 15 if lang in ("ko", "ja") else 30):
            add_filler(s, lang)
        if tags["level"] != "none" or any(v["level"] != "none" for v in tags["topics"].values()):
            level = tags["level"] if tags["level"] != "none" else "related"
            leads[(level, lang)].append(lead_of(title, text, lang, tags))
        elif tags["matched_terms"]:
            look[lang].append(lead_of(title, text, lang, tags))
        else:
            if title:
                titles[lang].append(title)
    if GROUND_TRUTH.is_file():
        data = json.loads(GROUND_TRUTH.read_text(encoding="utf-8"))
        for v in data.values():
            body = v.get("articleBody") or ""
            sents = _sentences(body)
            if sents and not re.search(r"[^\x00-\u024f\u2000-\u206f]", body[:400]):  # latin script: English
                titles["en"].append(sents[0][:110])
                for s in sents:
                    add_filler(s, "en")
        pools.notes.append(f"filler from {len(data)} real bodies of {GROUND_TRUTH}")
    else:
        pools.notes.append(f"{GROUND_TRUTH} not found: English filler from tests/data only")
    pools.leads = dict(leads)
    pools.lookalikes = dict(look)
    pools.filler = {k: list(v.items()) for k, v in filler.items() if len(v) >= 5}
    pools.titles = dict(titles)
    pools.notes.append("leads (level, lang): " + ", ".join(f"{k[0]}/{k[1]} {len(v)}" for k, v in sorted(leads.items())))
    pools.notes.append("look-alike leads: " + ", ".join(f"{k} {len(v)}" for k, v in sorted(look.items())))
    pools.notes.append("filler sentences: " + ", ".join(f"{k} {len(v)}" for k, v in sorted(pools.filler.items())))
    return pools


# -------------------------------------------------------------------------------------------- corpus


@dataclass
class Plan:
    """Per article of the time-ordered corpus: its time, source, story (index of its first article) and
    kind (0 none, 1 none opened by a look-alike, 2 related, 3 core); nothing else is kept."""

    seconds: np.ndarray  # int64 seconds since START
    source: np.ndarray  # int16
    story: np.ndarray  # int32
    kind: np.ndarray  # int8


def make_plan(total: int, seed: int) -> Plan:
    rng = np.random.default_rng(seed)
    day = np.arange(DAYS)
    weekday = (START.weekday() + day) % 7
    weights = np.where(weekday >= 5, 1.0, 1.8) * (1.0 + 0.5 * day / DAYS) * rng.lognormal(0, 0.15, DAYS)
    per_day = np.floor(weights / weights.sum() * total).astype(np.int64)
    per_day[: total - per_day.sum()] += 1
    hour_w = np.array([1, 0.6, 0.4, 0.3, 0.4, 0.8, 1.5, 2.4, 3, 3.2, 3.2, 3, 2.8, 2.8, 2.7, 2.6, 2.5, 2.3, 2, 1.8,
                       1.7, 1.5, 1.3, 1.1])
    hour_p = hour_w / hour_w.sum()
    seconds = np.empty(total, dtype=np.int64)
    pos = 0
    for d, n in enumerate(per_day):
        secs = rng.choice(24, size=n, p=hour_p) * 3600 + rng.integers(0, 3600, size=n)
        seconds[pos:pos + n] = np.sort(secs) + d * 86400
        pos += n
    src_w = np.array([s[3] for s in SOURCES])
    source = rng.choice(len(SOURCES), size=total, p=src_w / src_w.sum()).astype(np.int16)
    story = np.empty(total, dtype=np.int32)
    kind = np.empty(total, dtype=np.int8)
    join = rng.random(total) < JOIN
    u = rng.random(total)
    kinds = rng.random(total)
    shares = np.cumsum([KIND_SHARES["none"] * (1 - LOOKALIKE_SHARE), KIND_SHARES["none"] * LOOKALIKE_SHARE,
                        KIND_SHARES["related"]])
    window = int(WINDOW.total_seconds())
    start = 0
    for i in range(total):
        t = seconds[i]
        while seconds[start] < t - window:
            start += 1
        if join[i] and start < i:
            j = start + int(u[i] * (i - start))
            story[i] = story[j]
            kind[i] = kind[j]
        else:
            story[i] = i
            kind[i] = int(np.searchsorted(shares, kinds[i], side="right"))
    return Plan(seconds, source, story, kind)


def _iso(seconds: int) -> str:
    return (START + timedelta(seconds=int(seconds))).isoformat()


def url_of(plan: Plan, i: int) -> str:
    host = SOURCES[int(plan.source[i])][1]
    day = START + timedelta(seconds=int(plan.seconds[i]))
    return f"https://{host}/news/{day:%Y/%m/%d}/{i:07x}-{(i * 2654435761) % 99991}"


class Corpus:
    """Finished documents (``doc``) or raw articles (``raw``) of the planned corpus, built on demand."""

    def __init__(self, plan: Plan, pools: Pools, seed: int) -> None:
        self.plan, self.pools, self.seed = plan, pools, seed
        rng = np.random.default_rng([seed, 512])
        self._centres = rng.standard_normal((8192, encoder.DIMS))
        self._noise = rng.standard_normal((4096, encoder.DIMS))
        self._story_slots: dict[int, list[str]] = {}
        self._titles: dict[tuple[str, str], str] = {}

    def _lead(self, rnd: random.Random, story: int, kind: int, lang: str) -> Lead | None:
        if kind == 0:
            return None
        p = self.pools
        srnd = random.Random(self.seed * 1_000_003 + story)  # the story's own items, whoever writes it
        if kind == 1:
            pool = p.lookalikes.get(lang) or p.lookalikes["en"]
        else:
            level = "related" if kind == 2 else "core"
            pool = p.leads.get((level, lang)) or p.leads[(level, "en")]
        first = srnd.randrange(len(pool))
        return pool[first] if rnd.random() < 0.6 else pool[(first + rnd.randrange(3)) % len(pool)]

    def parts(self, i: int) -> tuple[dict[str, Any], Lead | None, list[tuple[str, str]], random.Random]:
        plan, p = self.plan, self.pools
        rnd = random.Random(self.seed * 10_000_019 + i)
        name, host, lang, _ = SOURCES[int(plan.source[i])]
        story, kind = int(plan.story[i]), int(plan.kind[i])
        lead = self._lead(rnd, story, kind, lang)
        length = min(12_000, max(1_500, int(rnd.lognormvariate(math.log(3_500), 0.45))))
        fill = p.filler.get(lang) or p.filler["en"]
        chosen: list[tuple[str, str]] = []
        have = len(lead.text) if lead else 0
        k = rnd.randrange(len(fill))
        while have < length:  # runs of consecutive sentences, as in a real article
            if rnd.random() < 0.2:
                k = rnd.randrange(len(fill))
            s = fill[k % len(fill)]
            chosen.append(s)
            have += len(s[0]) + 1
            k += 1
        published = _iso(plan.seconds[i])
        base = {"url": url_of(plan, i), "source": name, "lang": lang, "published": published,
                "feed_url": f"https://{host}/rss.xml", "author": AUTHORS[rnd.randrange(len(AUTHORS))]}
        return base, lead, chosen, rnd

    def raw(self, i: int) -> dict[str, Any]:
        """The article as a fetch gives it to the index step (no tags, no story)."""
        base, lead, chosen, rnd = self.parts(i)
        title = lead.title if lead and lead.title else self._title(rnd, base["lang"], chosen)
        text = "\n\n".join(([lead.text] if lead else []) + [" ".join(s for s, _ in chosen)])
        return {**base, "title": title, "text": text}

    def _title(self, rnd: random.Random, lang: str, chosen: list[tuple[str, str]]) -> str:
        titles = self.pools.titles.get(lang)
        return titles[rnd.randrange(len(titles))] if titles else chosen[0][0][:100]

    def doc(self, i: int) -> tuple[str, Doc]:
        """The document as the index step writes it: ``(id, Article.doc())``."""
        plan = self.plan
        base, lead, chosen, rnd = self.parts(i)
        lang = base["lang"]
        title = lead.title if lead and lead.title else self._title(rnd, lang, chosen)
        body = " ".join(s for s, _ in chosen)
        norm_body = " ".join(n for _, n in chosen)
        text = f"{lead.text}\n\n{body}" if lead else body
        norm_text = f"{lead.norm_text}\n\n{norm_body}" if lead else norm_body
        norm_title = lead.norm_title if lead and lead.title else self._titles.get((title, lang))
        if norm_title is None:
            norm_title = self._titles[(title, lang)] = textnorm.search_text(title, "", lang)[0]
        tags = lead.tags if lead else self.pools.none_tags
        story = int(plan.story[i])
        fetched = plan.seconds[i] + 60 + rnd.randrange(1800)
        record = {**base, **tags, "title": title, "text": text, "search_text": [norm_title, norm_text],
                  "description": (lead.text if lead else body)[:200], "date_source": "page",
                  "fetched_at": _iso(fetched), "indexed_at": _iso(fetched + 30 + rnd.randrange(600)),
                  "numbers": lead.numbers if lead else [], "story_id": doc_id(url_of(plan, story)),
                  **self._minhash(story, rnd), "embedding": self._vector(story, rnd)}
        art = Article.from_input(record, fetched_at=record["fetched_at"])
        return art.id, art.doc()

    def _minhash(self, story: int, rnd: random.Random) -> dict[str, Any]:
        """The story's signature (the same 64 slots for every article of it) with a quarter of the slots
        changed, as ``dedupe.encode`` and ``dedupe.bands`` format them (by hand here: the same strings)."""
        slots = self._story_slots.get(story)
        if slots is None:
            srnd = random.Random(self.seed * 7_000_003 + story)
            slots = [f"{srnd.getrandbits(32):08x}" for _ in range(dedupe.SLOTS)]
            if len(self._story_slots) > 50_000:
                self._story_slots.clear()
            self._story_slots[story] = slots
        own = [f"{rnd.getrandbits(32):08x}" if rnd.random() < 0.25 else v for v in slots]
        rows = dedupe.ROWS
        return {"minhash": "".join(own),
                "minhash_bands": [f"{b:02d}" + "".join(own[b * rows:(b + 1) * rows]) for b in range(dedupe.BANDS)]}

    def _vector(self, story: int, rnd: random.Random) -> list[float]:
        """The story's direction (one of ``len(self._centres)``) plus noise, unit length, rounded as the
        index step rounds the encoder's output."""
        v = self._centres[story % len(self._centres)] + 0.6 * self._noise[rnd.randrange(len(self._noise))]
        out: list[float] = np.round(v / np.linalg.norm(v), 6).tolist()
        return out


# ------------------------------------------------------------------------------------------ Elasticsearch


def settings_for(url: str, prefix: str) -> Settings:
    return Settings(es=ElasticsearchSettings(url=url, index_prefix=prefix))


def scratch_name(settings: Settings) -> str:
    return f"{settings.es.index_prefix}-scratch"


def create_scratch(es: Elasticsearch, settings: Settings) -> str:
    """The bare baseline's index: the articles template's settings and mapping (with the language fields
    this cluster has), named by no alias."""
    name = scratch_name(settings)
    body = index.with_language_fields(index.template_body("articles"), index.language_analyzers(es))
    es.indices.delete(index=name, ignore_unavailable=True)
    es.indices.create(index=name, settings=body["settings"], mappings=body["mappings"])
    return name


def bare_bulk(es: Elasticsearch, name: str, docs: list[tuple[str, Doc]]) -> int:
    ok, _ = helpers.bulk(es, ({"_index": name, "_id": i, "_source": d} for i, d in docs))
    return ok


def node_figures(es: Elasticsearch, settings: Settings) -> dict[str, Any]:
    stats = es.nodes.stats(node_id="_local", metric="jvm,process,indices,os")["nodes"]
    node = next(iter(stats.values()))
    mem = node["jvm"]["mem"]
    rows: list[dict[str, Any]] = es.cat.indices(index=f"{settings.es.index_prefix}-*", format="json",
                                                bytes="b", h="index,docs.count,store.size").body  # type: ignore[assignment]
    segs: list[dict[str, Any]] = es.cat.segments(index=f"{settings.es.index_prefix}-*", format="json",
                                                 h="index,segment").body  # type: ignore[assignment]
    per_index: dict[str, dict[str, Any]] = {}
    for r in rows:  # docs.count counts the nested claims too
        per_index[r["index"]] = {"docs": int(r["docs.count"] or 0), "store_bytes": int(r["store.size"] or 0),
                                 "segments": sum(1 for s in segs if s["index"] == r["index"])}
    return {
        "heap_used_mb": round(mem["heap_used_in_bytes"] / 2**20, 1),
        "heap_max_mb": round(mem["heap_max_in_bytes"] / 2**20, 1),
        "heap_used_percent": mem["heap_used_percent"],
        "gc_old_collections": node["jvm"]["gc"]["collectors"]["old"]["collection_count"],
        "gc_young_collections": node["jvm"]["gc"]["collectors"]["young"]["collection_count"],
        "segments_memory_mb": round(node["indices"]["segments"].get("memory_in_bytes", 0) / 2**20, 2),
        "fielddata_mb": round(node["indices"]["fielddata"]["memory_size_in_bytes"] / 2**20, 2),
        "process_cpu_s": node["process"]["cpu"]["total_in_millis"] / 1000,
        "os_mem_total_mb": round(node["os"]["mem"]["total_in_bytes"] / 2**20),
        "indices": per_index,
    }


def settle(es: Elasticsearch, settings: Settings, say: Callable[[str], None], limit_s: float = 1200) -> float:
    """Wait (at most ``limit_s``) until the articles index runs no merge: the timeline is measured on the node
    as it stands between polls, not while the merges behind a million writes hold both cores and every merge
    that finishes opens a new reader (an empty request cache). Returns the seconds waited."""
    name = index.index_name(settings, "articles")
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit_s:
        stats = es.indices.stats(index=name, metric="merge")["_all"]["primaries"]["merges"]
        if not stats["current"]:
            break
        time.sleep(5)
    waited = round(time.perf_counter() - t0, 1)
    es.indices.refresh(index=name)
    say(f"merges settled after {waited} s")
    return waited


def refresh_costs(es: Elasticsearch, settings: Settings, rounds: int = 5) -> dict[str, Any]:
    """Where the global ordinals of the fields the timeline aggregates on are built after a write: with
    ``eager_global_ordinals`` (the mapping) the refresh builds them; without, the first timeline search after
    the refresh does. Each round writes one article (a probe, deleted at the end), then times the refresh and
    the first counting search of the stories (``took``), once each way."""
    name = index.index_name(settings, "articles")
    probe = es.search(index=name, size=1, query={"match_all": {}})["hits"]["hits"][0]["_source"]
    fields = [f for f, spec in index.template_body("articles")["mappings"]["properties"].items()
              if spec.get("eager_global_ordinals")]
    stories = timeline.counting_bodies(timeline.parse_query({}), "month")[1]
    out: dict[str, Any] = {}
    try:
        for eager in (True, False):
            es.indices.put_mapping(index=index.write_alias(settings, "articles"), properties={
                f: {"type": "keyword", "eager_global_ordinals": eager} for f in fields})
            refresh_ms, first_ms = [], []
            for r in range(rounds):
                es.index(index=index.write_alias(settings, "articles"), id="bench-refresh-probe",
                         document={**probe, "id": "bench-refresh-probe", "title": f"probe {r}"})
                t0 = time.perf_counter()
                es.indices.refresh(index=name)
                refresh_ms.append((time.perf_counter() - t0) * 1000)
                first_ms.append(float(es.search(index=name, **stories, request_cache=False)["took"]))
            out["eager" if eager else "lazy"] = {"refresh_ms_median": round(statistics.median(refresh_ms), 1),
                                                 "first_stories_search_took_ms_median": statistics.median(first_ms)}
    finally:
        es.indices.put_mapping(index=index.write_alias(settings, "articles"), properties={
            f: {"type": "keyword", "eager_global_ordinals": True} for f in fields})
        es.options(ignore_status=404).delete(index=index.write_alias(settings, "articles"), id="bench-refresh-probe")
        es.indices.refresh(index=name)
    return out


def es_cpu_s(es: Elasticsearch) -> float:
    node = next(iter(es.nodes.stats(node_id="_local", metric="process")["nodes"].values()))
    return float(node["process"]["cpu"]["total_in_millis"]) / 1000


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# -------------------------------------------------------------------------------------- 1. write path


@dataclass
class WriteStats:
    ours_s: float = 0.0  # every chunk
    ours_docs: int = 0
    sampled_ours_s: float = 0.0
    sampled_bare_s: float = 0.0
    sampled_docs: int = 0
    sampled_chunks: int = 0
    per_chunk_ratio: list[float] = field(default_factory=list)
    generate_s: float = 0.0
    bytes_sampled: int = 0
    docs_sampled: int = 0

    def summary(self) -> dict[str, Any]:
        ratio = self.sampled_bare_s / self.sampled_ours_s if self.sampled_ours_s else None
        return {
            "docs_written": self.ours_docs, "ours_docs_per_s_all_chunks": round(self.ours_docs / self.ours_s, 1),
            "sampled_chunks": self.sampled_chunks, "sampled_docs": self.sampled_docs,
            "ours_docs_per_s": round(self.sampled_docs / self.sampled_ours_s, 1),
            "bare_docs_per_s": round(self.sampled_docs / self.sampled_bare_s, 1),
            "ratio_ours_over_bare": round(ratio, 3) if ratio else None,
            "per_chunk_ratio_median": round(statistics.median(self.per_chunk_ratio), 3),
            "per_chunk_ratio_min_max": [round(min(self.per_chunk_ratio), 3), round(max(self.per_chunk_ratio), 3)],
            "goal_ratio_at_least": GOAL_RATIO, "meets_goal": bool(ratio and ratio >= GOAL_RATIO),
            "waited_for_generator_s": round(self.generate_s, 1),
            "mean_doc_json_bytes": round(self.bytes_sampled / max(1, self.docs_sampled)),
        }


_CORPUS: Corpus | None = None  # the generator process's corpus (inherited by fork)


def _generate(ids: range) -> list[tuple[str, Doc]]:
    assert _CORPUS is not None
    return [_CORPUS.doc(i) for i in ids]


def write_pass(es: Elasticsearch, settings: Settings, corpus: Corpus, ids: range, scratch: str,
               bare_every: int, stats: WriteStats, progress: Callable[[str], None]) -> None:
    """Write the documents of ``ids``, ``CHUNK`` at a time; one process generates the next two chunks while
    this one writes (generating costs about as much CPU as writing)."""
    global _CORPUS
    import multiprocessing
    from concurrent.futures import Future, ProcessPoolExecutor

    target = index.write_alias(settings, "articles")
    _CORPUS = corpus
    starts = list(range(ids.start, ids.stop, ids.step * CHUNK))
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        ahead: list[Future[list[tuple[str, Doc]]]] = []

        def submit(k: int) -> None:
            if k < len(starts):
                ahead.append(pool.submit(_generate, range(starts[k], min(ids.stop, starts[k] + ids.step * CHUNK),
                                                          ids.step)))

        submit(0)
        submit(1)
        for n in range(len(starts)):
            t0 = time.perf_counter()
            chunk = ahead.pop(0).result()
            stats.generate_s += time.perf_counter() - t0  # waiting for the generator, not generating
            submit(n + 2)
            if n % 10 == 0:
                stats.bytes_sampled += sum(len(json.dumps(d, ensure_ascii=False).encode()) for _, d in chunk[:50])
                stats.docs_sampled += 50
            sampled = n % bare_every == 0
            order = ["ours", "bare"] if stats.sampled_chunks % 2 == 0 else ["bare", "ours"]
            times = {}
            for who in order if sampled else ["ours"]:
                t0 = time.perf_counter()
                if who == "ours":
                    index.bulk_upsert(es, target, chunk)
                else:
                    bare_bulk(es, scratch, chunk)
                times[who] = time.perf_counter() - t0
            stats.ours_s += times["ours"]
            stats.ours_docs += len(chunk)
            if sampled:
                stats.sampled_chunks += 1
                stats.sampled_docs += len(chunk)
                stats.sampled_ours_s += times["ours"]
                stats.sampled_bare_s += times["bare"]
                stats.per_chunk_ratio.append(times["bare"] / times["ours"])
            if n % 25 == 0:
                progress(f"  {stats.ours_docs:,} written this size, ours {len(chunk) / times['ours']:.0f} docs/s"
                         + (f", bare {len(chunk) / times['bare']:.0f}" if sampled else "")
                         + f", waited {stats.generate_s:.0f} s for the generator, load {load_average()}")


# -------------------------------------------------------------------------------------- 2. index step


class Timers:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - t0
                self.calls[name] += 1

        return timed


@contextlib.contextmanager
def patched(pairs: list[tuple[Any, str, Any]]) -> Iterator[None]:
    old = [(obj, name, getattr(obj, name)) for obj, name, _ in pairs]
    for obj, name, value in pairs:
        setattr(obj, name, value)
    try:
        yield
    finally:
        for obj, name, value in old:
            setattr(obj, name, value)


def measure_index_step(es: Elasticsearch, url: str, prefix: str, corpus: Corpus, count: int) -> dict[str, Any]:
    """``steps.index_articles`` on ``count`` raw articles of the corpus (every 97th), into a fresh prefix."""
    from newswatch.runtime import Runtime

    settings = settings_for(url, f"{prefix}-step")
    index.drop_indices(es, settings)
    rt = Runtime(settings, es=es)
    rt.ensure_indices()
    now = datetime.now(UTC).isoformat()
    picks = range(0, len(corpus.plan.seconds), max(1, len(corpus.plan.seconds) // count))[:count]
    articles = [Article.from_input(corpus.raw(i), fetched_at=now) for i in picks]
    chars = statistics.mean(len(a.title) + len(a.text) for a in articles)
    encoder.embed(["warm-up: load the encoder before the clock starts"])
    t = Timers()
    pairs = [(indexing, "tag_record", t.wrap("tagging", indexing.tag_record)),
             (textnorm, "search_text", t.wrap("search_text", textnorm.search_text)),
             (dedupe, "fingerprint", t.wrap("minhash", dedupe.fingerprint)),
             (encoder, "embed", t.wrap("embedding", encoder.embed)),
             (stories, "numbers_of", t.wrap("numbers", stories.numbers_of)),
             (stories.EsCandidates, "__call__", t.wrap("es_candidate_queries", stories.EsCandidates.__call__)),
             (stories, "assign", t.wrap("assign", stories.assign)),
             (index, "find_docs", t.wrap("es_find_docs", index.find_docs)),
             (index, "bulk_upsert", t.wrap("es_bulk", index.bulk_upsert)),
             (es.indices, "refresh", t.wrap("es_refresh", es.indices.refresh))]
    cpu0, es0, load0 = time.process_time(), es_cpu_s(es), load_average()
    t0 = time.perf_counter()
    with patched(pairs):
        summary = indexing.index_articles(rt, articles)
    wall = time.perf_counter() - t0
    cpu, es_cpu = time.process_time() - cpu0, es_cpu_s(es) - es0
    s = t.seconds
    parts = {
        "tagging": s["tagging"], "search_text": s["search_text"], "minhash": s["minhash"],
        "embedding": s["embedding"], "numbers": s["numbers"],
        "es_candidate_queries": s["es_candidate_queries"],
        "assign_in_memory": s["assign"] - s["es_candidate_queries"],
        "es_find_docs": s["es_find_docs"], "es_bulk": s["es_bulk"], "es_refresh": s["es_refresh"],
    }
    parts["other"] = wall - sum(parts.values())
    index.drop_indices(es, settings)
    return {
        "articles": len(articles), "mean_chars": round(chars), "seconds": round(wall, 2),
        "articles_per_s": round(len(articles) / wall, 1), "summary": summary,
        "parts_s": {k: round(v, 3) for k, v in parts.items()},
        "parts_share": {k: round(v / wall, 3) for k, v in parts.items()},
        "candidate_queries": t.calls["es_candidate_queries"],
        "our_cpu_s": round(cpu, 2), "es_cpu_s": round(es_cpu, 2),
        "es_share_of_cpu": round(es_cpu / (es_cpu + cpu), 3) if es_cpu + cpu else None,
        "cores_busy": round((cpu + es_cpu) / wall, 2), "load_average_before_after": [load0, load_average()],
    }


# ------------------------------------------------------------------------------------------ 3. timeline


def query_mix(end: datetime, top_story: str | None, sources: list[str]) -> list[tuple[str, dict[str, Any]]]:
    day = timedelta(days=1)

    def since(days: int) -> str:
        return (end - days * day).date().isoformat()

    mix: list[tuple[str, dict[str, Any]]] = [
        ("all time, no filter", {}),
        ("last week", {"since": since(7)}),
        ("last month, stack topic", {"since": since(30), "stack": "topic"}),
        ("last year, topic dprk", {"since": since(365), "topic": "dprk_russia_troops"}),
        ("all time, topic dprk core", {"topic": "dprk_russia_troops", "levels": ["core"]}),
        ("q en 'North Korean troops'", {"q": "North Korean troops"}),
        ("q ko '북한군'", {"q": "북한군"}),
        ("q ru 'северокорейские военные'", {"q": "северокорейские военные"}),
        ("q uk 'війська КНДР' last year", {"q": "війська КНДР", "since": since(365)}),
        ("q 'Shahed drones', topic iran", {"q": "Shahed drones", "topic": "iran_drones_russia"}),
        ("core+related, stack topic", {"levels": ["core", "related"], "stack": "topic"}),
        ("lang ko, last 3 months", {"langs": ["ko"], "since": since(90)}),
        ("two sources, last month", {"sources": sources[:2], "since": since(30)}),
        ("entity Kursk", {"entities": ["Kursk"]}),
        ("entities Pentagon+Russia, 6 months", {"entities": ["Pentagon", "Russia"], "since": since(182)}),
        ("q 'Kursk' en+ru, last year", {"q": "Kursk", "langs": ["en", "ru"], "since": since(365)}),
        ("level none, last week", {"levels": ["none"], "since": since(7)}),
        ("q 'drone' stack topic, 6 months", {"q": "drone", "stack": "topic", "since": since(182)}),
        ("q en 'government said' (common words)", {"q": "government said"}),
    ]
    mix.append(("one story" if top_story else "q 'troops -Ukraine'",
                {"story": top_story} if top_story else {"q": "troops -Ukraine"}))
    return mix


def pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 1)


def measure_timeline(es: Elasticsearch, settings: Settings, rounds: int, seed: int,
                     modules: tuple[Any, Any] | None = None, cold: bool = False) -> dict[str, Any]:
    """The query mix through ``run_timeline`` of this code (or of ``modules``: another revision's timeline
    and search, see ``--baseline-code``). Elasticsearch's shard request cache keeps the answers of ``size: 0``
    searches (the counting search) until the index changes, so after the warm-up a repeated query's
    counting search is a cache hit; ``cold`` empties that cache before each timed query (untimed), as a
    query nobody asked since the last refresh finds it."""
    tl, srch = modules or (timeline, search)
    name = index.index_name(settings, "articles")
    top = es.search(index=name, size=0, aggs={"s": {"terms": {"field": "story_id", "size": 1}},
                                              "src": {"terms": {"field": "source", "size": 4}}})["aggregations"]
    top_story = top["s"]["buckets"][0]["key"] if top["s"]["buckets"] else None
    sources = [b["key"] for b in top["src"]["buckets"]][2:4]
    mix = query_mix(START + timedelta(days=DAYS), top_story, sources)
    queries = [(label, tl.parse_query(values)) for label, values in mix]
    for _, tq in queries:  # warm-up: caches, global ordinals, JIT
        tl.run_timeline(es, settings, tq)
    runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    rnd = random.Random(seed)
    es0, load0 = es_cpu_s(es), load_average()
    t0 = time.perf_counter()
    for _ in range(rounds):
        order = list(queries)
        rnd.shuffle(order)
        for label, tq in order:
            if cold:
                es.indices.clear_cache(index=name, request=True)
            res = tl.run_timeline(es, settings, tq)
            runs[label].append({"wall_ms": res["wall_ms"], "took_ms": res["took_ms"], "total": res["total"],
                                "interval": res["interval"], "buckets": len(res["buckets"]),
                                "stories": len(res["stories"]), "claims": len(res["claims"])})
    elapsed = time.perf_counter() - t0
    es_cpu = es_cpu_s(es) - es0
    walls = [r["wall_ms"] for rs in runs.values() for r in rs]
    tooks = [r["took_ms"] for rs in runs.values() for r in rs]
    per_query = {label: {"wall_ms_median": statistics.median(r["wall_ms"] for r in rs),
                         "took_ms_median": statistics.median(r["took_ms"] for r in rs),
                         "wall_ms_max": max(r["wall_ms"] for r in rs),
                         "total": rs[0]["total"], "interval": rs[0]["interval"], "buckets": rs[0]["buckets"],
                         "stories": rs[0]["stories"], "claims": rs[0]["claims"], "query": mix_values}
                 for (label, mix_values), rs in ((m, runs[m[0]]) for m in mix)}
    heaviest = max(per_query, key=lambda k: per_query[k]["took_ms_median"])
    code = b"".join(Path(m.__file__ or "").read_bytes() for m in (tl, srch))
    return {
        "code_sha1": hashlib.sha1(code).hexdigest()[:12], "request_cache": "emptied before each query" if cold
        else "as it is (the counting search of a repeated query is a hit)",
        "queries": len(queries), "rounds": rounds, "runs": len(walls),
        "wall_ms_p50": pct(walls, 50), "wall_ms_p95": pct(walls, 95), "wall_ms_max": max(walls),
        "took_ms_p50": pct(tooks, 50), "took_ms_p95": pct(tooks, 95), "took_ms_max": max(tooks),
        "goal_p95_ms": GOAL_P95_MS, "meets_goal": pct(walls, 95) < GOAL_P95_MS,
        "es_cpu_s_during_queries": round(es_cpu, 2), "seconds": round(elapsed, 2),
        "load_average_before_after": [load0, load_average()],
        "per_query": per_query, "heaviest": heaviest,
        "by_aggregation": aggregation_costs(es, settings, tl, dict(queries)[heaviest]),
    }


def aggregation_costs(es: Elasticsearch, settings: Settings, tl: Any, tq: Any) -> dict[str, Any]:
    """Elasticsearch's ``took`` (median of 5) of the articles search with no aggregation, with each
    aggregation alone, and whole; and of the claims search: where the query time goes."""
    name = index.index_name(settings, "articles")
    interval = tq.interval if tq.interval != "auto" else tl.pick_interval(
        tq.since or START, tq.until or START + timedelta(days=DAYS))
    if hasattr(tl, "aggs_body"):  # this code: the counting search and the hits search apart
        body = tl.hits_body(tq)
        aggs = tl.aggs_body(tq, interval)["aggs"]
    else:  # the code before: one search with hits and aggregations
        body = tl.articles_body(tq, interval)
        aggs = body.pop("aggs")

    def took(b: dict[str, Any]) -> float:
        values = [es.search(index=name, **b, request_cache=False)["took"] for _ in range(6)][1:]
        return float(statistics.median(values))

    out: dict[str, Any] = {"interval": interval, "hits_only": took(body),
                           "hits_only_size0_no_highlight": took({**body, "size": 0, "highlight": None})}
    for key, agg in aggs.items():
        out[f"agg:{key}"] = took({"query": body["query"], "size": 0, "track_total_hits": False,
                                  "aggs": {key: agg}})
    out["all_aggregations_size0"] = took({"query": body["query"], "size": 0, "aggs": aggs})
    out["hits_and_aggregations_one_search"] = took({**body, "aggs": aggs})
    if tq.claims:
        out["claims_search"] = took(tl.claims_body(tq))
    return out


# ------------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="checkpoints, comma-separated; the largest "
                        "must be a multiple of the smallest")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--es-url", default=os.environ.get("NEWSWATCH_ES__URL", "http://127.0.0.1:9280"))
    parser.add_argument("--prefix", default="bench-tl")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the 20 timeline queries per size")
    parser.add_argument("--bare-every", type=int, default=5, help="every n-th chunk is also written bare")
    parser.add_argument("--step-articles", type=int, default=1000, help="0: skip the index step measurement")
    parser.add_argument("--resume", action="store_true", help="keep the indices: measure the first size the "
                        "index already holds, then go on writing")
    parser.add_argument("--stop-after", type=int, default=0, help="stop once the index holds this many articles "
                        "(write-path figures saved, nothing measured): go on later with --resume")
    parser.add_argument("--baseline-code", type=Path, help="a folder with another revision's timeline.py and "
                        "search.py, measured beside the current code at each size (before/after)")
    parser.add_argument("--drop", action="store_true", help="delete the indices at the end")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "bench_timeline.json")
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    total, stride = sizes[-1], sizes[-1] // sizes[0]
    if total % sizes[0] or any(s % sizes[0] for s in sizes):
        raise SystemExit("every size must be a multiple of the smallest")

    def say(msg: str) -> None:
        print(f"{datetime.now():%H:%M:%S} {msg}", flush=True)

    from newswatch.clients import make_es

    settings = settings_for(args.es_url, args.prefix)
    es = make_es(settings, request_timeout=120)
    try:  # (not ``ping``: this build answers ``/`` with 405)
        make_es(settings, request_timeout=10, max_retries=0).cluster.health()
    except Exception as exc:
        print(f"no Elasticsearch at {args.es_url} ({type(exc).__name__}): start one (`newswatch stack up "
              "--services es` with NEWSWATCH_ES__URL set to it) or pass --es-url; skipped")
        return 0
    started = time.perf_counter()
    t0 = time.perf_counter()
    pools = build_pools()
    for note in pools.notes:
        say(f"# {note}")
    plan = make_plan(total, args.seed)
    say(f"# plan of {total:,} articles in {time.perf_counter() - t0:.1f} s: {len(set(plan.story.tolist())):,} "
        f"stories, kinds {np.bincount(plan.kind, minlength=4).tolist()} (none, look-alike, related, core)")
    corpus = Corpus(plan, pools, args.seed)
    out: dict[str, Any] = {
        "sizes": {}, "seed": args.seed, "chunk": CHUNK, "bare_every": args.bare_every,
        "python": platform.python_version(), "cpus": os.cpu_count(), "notes": pools.notes,
        "es_version": next(iter(es.nodes.info(node_id="_local", filter_path="nodes.*.version")["nodes"].values()))[
            "version"],
        "load_average_start": load_average(),
        "corpus": {"articles": total, "stories": len(set(plan.story.tolist())),
                   "kinds": dict(zip(["none", "lookalike_none", "related", "core"],
                                     np.bincount(plan.kind, minlength=4).tolist(), strict=True)),
                   "story_size_percentiles": story_sizes(plan)},
    }
    done = 0
    if args.resume:
        with contextlib.suppress(Exception):
            done = int(es.count(index=index.index_name(settings, "articles"))["count"])
        say(f"# resuming with {done:,} articles indexed")
        if args.json.is_file():
            out["sizes"] = json.loads(args.json.read_text(encoding="utf-8")).get("sizes", {})
    else:
        index.drop_indices(es, settings)
    index.ensure_indices(es, settings)
    if args.resume and es.indices.exists(index=scratch_name(settings)):
        scratch = scratch_name(settings)  # (the mapping of this code: a field added since is added in place)
        es.indices.put_mapping(index=scratch, properties=index.template_body("articles")["mappings"]["properties"])
    else:
        scratch = create_scratch(es, settings)
    stats = WriteStats()
    for p in range(stride):
        size_after = (p + 1) * sizes[0]
        if size_after > done:
            say(f"pass {p + 1}/{stride}: articles {p}, {p + stride}, ... -> {size_after:,} in the index")
            write_pass(es, settings, corpus, range(p, total, stride), scratch, args.bare_every, stats, say)
        if size_after not in sizes or size_after < done:
            continue
        es.indices.refresh(index=index.index_name(settings, "articles"))
        section: dict[str, Any] = {"load_average": load_average(), "elapsed_s": round(time.perf_counter() - started)}
        section["merges_settled_s"] = settle(es, settings, say)
        if stats.sampled_chunks:
            section["write_path"] = stats.summary()
            say(f"write path at {size_after:,}: {section['write_path']}")
        section["node"] = node_figures(es, settings)
        say(f"node: {json.dumps(section['node'])}")
        if args.stop_after and size_after >= args.stop_after:
            out["sizes"][str(size_after)] = section
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            say(f"stopped at {size_after:,} as asked; go on with --resume")
            break
        if args.baseline_code:
            # (with the request cache emptied only: the figure the goal is about, and half the time at 1 M)
            before = baseline_modules(args.baseline_code)
            section["timeline_baseline_code_no_request_cache"] = measure_timeline(es, settings, args.rounds,
                                                                                  args.seed, before, cold=True)
            report_timeline(say, size_after, section["timeline_baseline_code_no_request_cache"],
                            "baseline code, request cache emptied")
        section["timeline"] = measure_timeline(es, settings, args.rounds, args.seed)
        report_timeline(say, size_after, section["timeline"], "this code")
        section["timeline_no_request_cache"] = measure_timeline(es, settings, args.rounds, args.seed, cold=True)
        report_timeline(say, size_after, section["timeline_no_request_cache"], "this code, request cache emptied")
        if args.step_articles and size_after == sizes[0]:
            section["index_step"] = measure_index_step(es, args.es_url, args.prefix, corpus, args.step_articles)
            say(f"index step: {json.dumps(section['index_step'])}")
        section["node_after"] = node_figures(es, settings)
        if size_after == sizes[-1]:  # (last: the probe leaves a deleted document behind)
            section["refresh_after_a_write"] = refresh_costs(es, settings)
            say(f"refresh after a write: {json.dumps(section['refresh_after_a_write'])}")
        out["sizes"][str(size_after)] = {**out["sizes"].get(str(size_after), {}), **section}
        stats = WriteStats()  # each size reports the chunks written since the previous one
        out["load_average_end"] = load_average()
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        say(f"results so far: {args.json}")
    if args.drop:
        index.drop_indices(es, settings)
        es.indices.delete(index=scratch, ignore_unavailable=True)
    es.close()
    return 0


def report_timeline(say: Callable[[str], None], size: int, tl: dict[str, Any], label: str) -> None:
    say(f"timeline at {size:,} ({label}, {tl['code_sha1']}): wall p50 {tl['wall_ms_p50']} p95 {tl['wall_ms_p95']} ms, "
        f"took p50 {tl['took_ms_p50']} p95 {tl['took_ms_p95']} ms (goal p95 < {GOAL_P95_MS:.0f}: "
        f"{'met' if tl['meets_goal'] else 'NOT met'}); heaviest {tl['heaviest']}")
    for q, r in tl["per_query"].items():
        say(f"  {q:40s} wall {r['wall_ms_median']:7.1f}  took {r['took_ms_median']:6.1f}  "
            f"total {r['total']:>9,}  {r['interval']}")
    say(f"  aggregations of the heaviest (took ms): {json.dumps(tl['by_aggregation'])}")


def baseline_modules(folder: Path) -> tuple[Any, Any]:
    """``timeline`` and ``search`` of another revision (files in ``folder``), the first using the second."""
    import importlib.util

    mods = []
    for name in ("search", "timeline"):
        spec = importlib.util.spec_from_file_location(f"baseline_{name}", folder / f"{name}.py")
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = mod  # pydantic resolves the models' annotations through it
        spec.loader.exec_module(mod)
        mods.append(mod)
    mods[1].search = mods[0]  # type: ignore[attr-defined]
    return mods[1], mods[0]


def story_sizes(plan: Plan) -> dict[str, float]:
    sizes = np.bincount(plan.story)
    sizes = sizes[sizes > 0]
    return {"p50": float(np.percentile(sizes, 50)), "p90": float(np.percentile(sizes, 90)),
            "p99": float(np.percentile(sizes, 99)), "max": int(sizes.max()),
            "single_article_share": round(float((sizes == 1).mean()), 3)}


if __name__ == "__main__":
    raise SystemExit(main())
