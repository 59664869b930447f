"""What an alert says about a story: its articles for one topic gathered into one view.

A view is built from every article of the story at the topic's core/related levels (not only the recent
ones), so the outlet and language counts, the largest reported number and the official sources that a
follow-up compares are the story's whole state.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch, helpers

from newswatch import index
from newswatch.settings import Settings

LEVEL_RANK = {"core": 2, "related": 1, "none": 0}
FIELDS = ["id", "url", "title", "source", "lang", "published", "fetched_at", "indexed_at", "claims",
          "entity_names", "story_id", "first_poll"]


def parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass
class StoryView:
    topic: str
    story_id: str
    articles: list[dict[str, Any]] = field(default_factory=list)  # oldest first

    @property
    def lead(self) -> dict[str, Any]:
        """The representative article: the earliest core one (else the earliest)."""
        core = [a for a in self.articles if a.get("level") == "core"]
        return (core or self.articles)[0]

    @property
    def level(self) -> str:
        return max((a.get("level") or "none" for a in self.articles), key=lambda lv: LEVEL_RANK.get(lv, 0))

    @property
    def outlets(self) -> list[dict[str, Any]]:
        """One entry per outlet (its first article): source, url, title, lang, published."""
        seen: dict[str, dict[str, Any]] = {}
        for a in self.articles:
            key = (a.get("source") or a.get("url") or "").lower()
            seen.setdefault(key, {k: a.get(k) for k in ("source", "url", "title", "lang", "published")})
        return list(seen.values())

    @property
    def languages(self) -> list[str]:
        return sorted({str(a.get("lang")) for a in self.articles if a.get("lang")})

    @property
    def claims(self) -> list[dict[str, Any]]:
        """Every troop-number claim of the story with the outlet that reported it (newest first)."""
        out = []
        for a in self.articles:
            for c in a.get("claims") or []:
                out.append({**c, "outlet": a.get("source"), "url": a.get("url"), "published": a.get("published")})
        return sorted(out, key=lambda c: str(c.get("published") or ""), reverse=True)

    @property
    def max_number(self) -> int | None:
        nums = [max(int(c.get("count") or 0), int(c.get("count_max") or 0)) for c in self.claims]
        return max(nums) if nums else None

    @property
    def sources(self) -> list[str]:
        """Who the story's numbers and statements are attributed to (official sources)."""
        return sorted({str(c["source"]) for c in self.claims if c.get("source")})

    @property
    def first_published(self) -> datetime | None:
        times = [t for t in (parse_time(a.get("published")) for a in self.articles) if t]
        return min(times) if times else None

    @property
    def newest(self) -> dict[str, Any]:
        return max(self.articles, key=lambda a: str(a.get("indexed_at") or ""))

    @property
    def backlog(self) -> bool:
        """Every article came from its feed's first poll (the feed's history, not news)."""
        return all(a.get("first_poll") for a in self.articles)

    def importance(self) -> tuple[int, int, str]:
        return (LEVEL_RANK.get(self.level, 0), len(self.outlets), str(self.lead.get("published") or ""))

    def snapshot(self) -> dict[str, Any]:
        """What a follow-up compares: languages, outlet count, largest number, official sources."""
        return {"languages": self.languages, "outlets": len(self.outlets), "max_number": self.max_number,
                "sources": self.sources, "articles": len(self.articles)}

    def times(self) -> dict[str, Any]:
        """Publication, fetch and index times of the lead (first alert) for latency accounting."""
        lead = self.lead
        return {"published": lead.get("published"), "fetched_at": lead.get("fetched_at"),
                "indexed_at": lead.get("indexed_at")}


def _flatten(src: dict[str, Any], topic: str) -> dict[str, Any]:
    out = dict(src)
    out.update((out.pop("topics", {}) or {}).get(topic, {}))  # level, score, evidence, reasons, terms
    return out


def _group(hits: Iterable[dict[str, Any]], topic: str) -> dict[str, StoryView]:
    stories: dict[str, StoryView] = {}
    for hit in hits:
        art = _flatten(hit["_source"], topic)
        sid = art.get("story_id") or art["id"]
        stories.setdefault(sid, StoryView(topic, sid)).articles.append(art)
    for view in stories.values():
        view.articles.sort(key=lambda a: (str(a.get("published") or ""), a["id"]))
    return stories


def recent_story_ids(es: Elasticsearch, settings: Settings, topic: str, levels: Sequence[str]) -> list[str]:
    """Stories of ``topic`` with an article at ``levels`` indexed within the alert lookback."""
    query = {"bool": {"filter": [{"terms": {f"topics.{topic}.level": list(levels)}},
                                 {"range": {"indexed_at": {"gte": f"now-{settings.alert_lookback_days}d"}}}]}}
    ids: set[str] = set()
    for hit in helpers.scan(es, index=index.index_name(settings, "articles"), query={"query": query},
                            _source=["id", "story_id"], size=1000):
        ids.add(hit["_source"].get("story_id") or hit["_source"]["id"])
    return sorted(ids)


def story_views(es: Elasticsearch, settings: Settings, topic: str, story_ids: Sequence[str],
                levels: Sequence[str] = ("core", "related")) -> dict[str, StoryView]:
    """The views of ``story_ids`` for ``topic``: every article of each story at ``levels``."""
    out: dict[str, StoryView] = {}
    fields = [*FIELDS, f"topics.{topic}"]
    for start in range(0, len(story_ids), 500):
        chunk = list(story_ids[start:start + 500])
        query = {"bool": {"filter": [{"terms": {f"topics.{topic}.level": list(levels)}}], "should": [
            {"terms": {"story_id": chunk}}, {"ids": {"values": chunk}}], "minimum_should_match": 1}}
        hits = helpers.scan(es, index=index.index_name(settings, "articles"), query={"query": query},
                            _source=fields, size=1000)
        for sid, view in _group(hits, topic).items():
            if sid in chunk:
                out[sid] = view
    return out


def thread_views(es: Elasticsearch, settings: Settings,
                 threads: Sequence[dict[str, Any]]) -> list[tuple[dict[str, Any], StoryView]]:
    """Each thread (``topic``, ``story_id``) with its story's view; threads whose story is gone are left out."""
    by_topic: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for t in threads:
        by_topic[str(t["topic"])].append(t)
    items: list[tuple[dict[str, Any], StoryView]] = []
    for topic, ts in by_topic.items():
        views = story_views(es, settings, topic, [str(t["story_id"]) for t in ts])
        items += [(t, views[str(t["story_id"])]) for t in ts if str(t["story_id"]) in views]
    return items
