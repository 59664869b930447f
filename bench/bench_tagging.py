"""Benchmark of ``tag_article`` throughput on one core, against a bare baseline measured in the same run.

    python bench/bench_tagging.py [--json OUT] [--rounds N]

Texts: the article bodies of the 181 real pages in ../shared/data/article-extraction-benchmark
(ground-truth.json, key -> {url, articleBody}) plus the dev set items. The baseline is the cheapest pass
that still touches every character: ``str.lower()`` plus one Aho-Corasick scan for a 10-word list. The
ratio tells how much the tagger costs beyond reading the text; the absolute figure must stay above the
2,000 articles/s per core target.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import ahocorasick_rs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from newswatch.tagging import load_topic, tag_article  # noqa: E402

GROUND_TRUTH = ROOT.parent / "shared" / "data" / "article-extraction-benchmark" / "ground-truth.json"
DEVSET = ROOT / "tests" / "data" / "devset"
TARGET = 2000.0


def load_texts() -> tuple[list[tuple[str, str]], list[str]]:
    """(title, text) pairs to tag, and notes about what was (not) found."""
    notes: list[str] = []
    texts: list[tuple[str, str]] = []
    if GROUND_TRUTH.is_file():
        data = json.loads(GROUND_TRUTH.read_text(encoding="utf-8"))
        real = [("", v.get("articleBody") or "") for v in data.values()]
        texts.extend(real)
        notes.append(f"{len(real)} real article bodies from {GROUND_TRUTH}")
    else:
        notes.append(f"{GROUND_TRUTH} not found: benchmarking on the dev set only (shorter texts)")
    dev = 0
    for path in sorted(DEVSET.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                item = json.loads(line)
                texts.append((item["title"], item["text"]))
                dev += 1
    notes.append(f"{dev} dev set items from {DEVSET}")
    return texts, notes


def best_rate(run: Callable[[], None], count: int, rounds: int) -> tuple[float, float]:
    """Best and median articles/s over ``rounds`` runs (best is the least disturbed by other load)."""
    rates = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        rates.append(count / (time.perf_counter() - start))
    return max(rates), statistics.median(rates)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the figures to this JSON file")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)

    texts, notes = load_texts()
    if not texts:
        print("no texts to benchmark (neither ../shared nor the dev set found)", file=sys.stderr)
        return 1
    topic = load_topic("dprk_russia_troops", config_dir=ROOT / "config")
    words = ["north", "korea", "russia", "troops", "kursk", "soldiers", "ukraine", "army", "war", "putin"]
    bare = ahocorasick_rs.AhoCorasick(words)

    def baseline() -> None:
        for title, text in texts:
            bare.find_matches_as_indexes(f"{title}\n{text}".lower())

    def tagger() -> None:
        for title, text in texts:
            tag_article(topic, title=title, text=text)

    tagger()  # warm-up: compile caches, first-touch allocations
    base_best, base_med = best_rate(baseline, len(texts), args.rounds)
    tag_best, tag_med = best_rate(tagger, len(texts), args.rounds)
    chars = [len(t) + len(x) for t, x in texts]
    levels: dict[str, int] = {}
    for title, text in texts:
        level = tag_article(topic, title=title, text=text).level
        levels[level] = levels.get(level, 0) + 1
    figures = {
        "articles": len(texts),
        "mean_chars": round(statistics.mean(chars)),
        "median_chars": round(statistics.median(chars)),
        "patterns": topic.index.size,
        "tag_articles_per_s": round(tag_best),
        "tag_articles_per_s_median": round(tag_med),
        "baseline_articles_per_s": round(base_best),
        "baseline_articles_per_s_median": round(base_med),
        "ratio_tag_vs_baseline": round(base_best / tag_best, 2),
        "target_articles_per_s": TARGET,
        "meets_target": tag_best >= TARGET,
        "levels": levels,
        "python": platform.python_version(),
        "notes": notes,
    }
    for note in notes:
        print(f"# {note}")
    print(
        f"{len(texts)} articles (mean {figures['mean_chars']} chars, {topic.index.size} patterns)\n"
        f"tag_article : {tag_best:,.0f} articles/s (median {tag_med:,.0f})\n"
        f"baseline    : {base_best:,.0f} articles/s (median {base_med:,.0f})  [lower() + 10-word AC scan]\n"
        f"ratio       : tagging costs {base_best / tag_best:.1f}x the bare pass; "
        f"target {TARGET:,.0f}/s {'met' if tag_best >= TARGET else 'NOT met'}\n"
        f"levels      : {levels}"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
