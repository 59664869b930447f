"""Every topic at once: one Aho-Corasick automaton over all enabled topics' terms, one scan per article.

``load_topics`` reads every ``config/topics/*.yaml`` whose ``enabled`` is true (a new topic is a new file,
never new code) and compiles their patterns into one ``TermIndex``; each pattern's family is namespaced by
its topic, so leftmost-longest resolution stays within a topic ("Russian troops" swallows "troops" for the
topic that lists it, not for another). ``TopicSet.tag`` scans an article once, splits the hits per topic
and runs each topic's rules on its own hits (``tagger.evaluate``): the same decision ``tag_article`` makes
for one topic alone, at the cost of one scan.

``combine`` folds the per-topic results into the article record's fields: a result per topic under
``topics`` (level, score, matched terms, concepts, evidence, reasons), ``topic_levels`` (``name:level`` for
every topic that matched, for filters), and at the top level the primary result (the best level, then
score; the default topic wins ties) plus the article's entities and claims (from every topic that matched).
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from newswatch.tagging.matcher import Hit, TermIndex, fold_text
from newswatch.tagging.models import TagResult
from newswatch.tagging.tagger import evaluate
from newswatch.tagging.topic import Topic, TopicConfigError, load_topic, resolve_config_dir

_SEP = "\x1f"
_RANK = {"core": 2, "related": 1, "none": 0}


@dataclass(frozen=True)
class TopicSet:
    topics: tuple[Topic, ...]
    index: TermIndex
    default: str

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.topics]

    def get(self, name: str) -> Topic:
        for t in self.topics:
            if t.name == name:
                return t
        raise TopicConfigError(f"topic {name!r} is not loaded (enabled topics: {', '.join(self.names)})")

    def tag(self, title: str = "", text: str = "", lang: str | None = None) -> dict[str, TagResult]:
        """Every topic's result for one article, from a single scan; keyed by topic name, in file order."""
        title = title or ""
        hay = f"{title}\n{text or ''}"
        folded = fold_text(hay)
        per_topic: dict[str, dict[str, list[Hit]]] = {t.name: {} for t in self.topics}
        for family, hits in self.index.scan(folded).items():
            topic, _, fam = family.partition(_SEP)
            per_topic[topic][fam] = hits
        return {t.name: evaluate(t, title, hay, folded, per_topic[t.name]) for t in self.topics}


def build_topicset(topics: list[Topic], default: str | None = None) -> TopicSet:
    if not topics:
        raise TopicConfigError("no enabled topic in config/topics/")
    patterns = [dataclasses.replace(p, family=f"{t.name}{_SEP}{p.family}") for t in topics for p in t.patterns]
    names = [t.name for t in topics]
    return TopicSet(topics=tuple(topics), index=TermIndex(patterns),
                    default=default if default in names else names[0])


_CACHE: dict[tuple[Any, ...], TopicSet] = {}
_LOCK = threading.Lock()


def topic_files(config_dir: Path | str | None = None) -> list[Path]:
    return sorted((resolve_config_dir(config_dir) / "topics").glob("*.yaml"))


def load_topics(config_dir: Path | str | None = None, *, default: str | None = None,
                include_disabled: bool = False) -> TopicSet:
    """The enabled topics of ``<config_dir>/topics/`` compiled into one set; cached while no file changes."""
    base = resolve_config_dir(config_dir)
    files = topic_files(base)
    key = (str(base.resolve()), default, include_disabled,
           tuple((str(f), f.stat().st_mtime_ns) for f in files),
           (base / "entities.yaml").stat().st_mtime_ns if (base / "entities.yaml").exists() else 0)
    with _LOCK:
        cached = _CACHE.get(key)
    if cached is not None:
        return cached
    topics = [load_topic(f.stem, config_dir=base) for f in files]
    if default is not None and default not in {t.name for t in topics}:
        raise TopicConfigError(f"the default topic {default!r} (NEWSWATCH_TOPIC) has no file in {base / 'topics'} "
                               f"(topics: {', '.join(t.name for t in topics) or 'none'})")
    chosen = [t for t in topics if include_disabled or t.config.enabled]
    built = build_topicset(chosen, default)
    with _LOCK:
        _CACHE[key] = built
    return built


def primary(results: dict[str, TagResult], default: str) -> TagResult:
    """The result shown at the top level: the best level, then the best score; the default topic on ties."""
    return max(results.values(), key=lambda r: (_RANK[r.level], r.score, r.topic == default))


def topic_fields(res: TagResult) -> dict[str, Any]:
    """What is stored per topic under ``topics.<name>`` (searchable and filterable in Kibana)."""
    return {"level": res.level, "score": round(float(res.score), 4),
            "matched_terms": sorted({m.term.lower() for m in res.matches}),
            "concepts": sorted({m.concept for m in res.matches}),
            "evidence": list(res.evidence), "reasons": list(res.reasons)}


def combine(results: dict[str, TagResult], default: str) -> dict[str, Any]:
    """The tagging fields of an article record from every topic's result (see the module docstring)."""
    best = primary(results, default)
    entities: dict[str, dict[str, Any]] = {}
    claims: list[dict[str, Any]] = []
    seen_claims: set[tuple[Any, ...]] = set()
    for res in results.values():
        for e in res.entities:
            entities.setdefault(e.id, e.model_dump(mode="json"))
        for c in res.claims:
            key = (c.count, c.count_max, c.sentence)
            if key not in seen_claims:
                seen_claims.add(key)
                claims.append(c.model_dump(mode="json"))
    return {
        "topic": best.topic, "level": best.level, "score": round(float(best.score), 4),
        "matches": [m.model_dump(mode="json") for m in best.matches],
        "matched_terms": sorted({m.term.lower() for m in best.matches}),
        "concepts": sorted({m.concept for m in best.matches}),
        "evidence": list(best.evidence), "reasons": list(best.reasons),
        "topics": {name: topic_fields(res) for name, res in results.items()},
        "topic_levels": [f"{name}:{res.level}" for name, res in results.items() if res.level != "none"],
        "entities": list(entities.values()), "entity_names": sorted({e["name"] for e in entities.values()}),
        "claims": claims, "claim_max": max((c.get("count_max") or c["count"] for c in claims), default=None),
    }
