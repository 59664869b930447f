"""Timeline search: a date histogram of matching articles and the top articles, with highlights."""

from __future__ import annotations

from typing import Any

from elasticsearch import Elasticsearch

from newswatch import index
from newswatch.settings import Settings

INTERVALS = ("day", "week", "month", "year")


def build_query(query: str | None, *, since: str | None = None, until: str | None = None,
                levels: list[str] | None = None, topic: str | None = None) -> dict[str, Any]:
    must: list[dict[str, Any]] = []
    if query:
        must.append({"simple_query_string": {
            "query": query, "fields": ["title^3", "text", "evidence^2", "entity_names^2", "matched_terms^2"],
            "default_operator": "and",
        }})
    filters: list[dict[str, Any]] = []
    if since or until:
        rng: dict[str, str] = {}
        if since:
            rng["gte"] = since
        if until:
            rng["lte"] = until
        filters.append({"range": {"published": rng}})
    if topic:  # that topic's own result, whatever the article's primary topic is
        filters.append({"terms": {level_field(topic): levels or ["core", "related"]}})
    elif levels:
        filters.append({"terms": {"level": levels}})
    return {"bool": {"must": must or [{"match_all": {}}], "filter": filters}}


def level_field(topic: str | None) -> str:
    """The level field to filter and facet on: a topic's own (``topics.<name>.level``) or the primary one."""
    if topic is None:
        return "level"
    if not topic.replace("_", "").isalnum():
        from newswatch.errors import SearchError

        raise SearchError(f"invalid topic name {topic!r}")
    return f"topics.{topic}.level"


def search_articles(es: Elasticsearch, settings: Settings, query: str | None, *, size: int = 10,
                    **filters: Any) -> list[dict[str, Any]]:
    """Best-matching articles with highlighted fragments."""
    resp = es.search(
        index=index.index_name(settings, "articles"), query=build_query(query, **filters), size=size,
        source_includes=["id", "title", "source", "published", "url", "level", "score", "lang", "story_id"],
        highlight={"fields": {"text": {"number_of_fragments": 2, "fragment_size": 160}, "title": {}}},
    )
    out = []
    for hit in resp["hits"]["hits"]:
        row = dict(hit["_source"])
        row["relevance"] = hit["_score"]
        row["highlights"] = [f for frags in hit.get("highlight", {}).values() for f in frags]
        out.append(row)
    return out


def timeline(es: Elasticsearch, settings: Settings, query: str | None, *, interval: str = "week",
             since: str | None = None, until: str | None = None, levels: list[str] | None = None,
             top: int = 10, topic: str | None = None) -> dict[str, Any]:
    """Histogram of matching articles by publication date plus the top articles (newest matches first)."""
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {INTERVALS}")
    resp = es.search(
        index=index.index_name(settings, "articles"),
        query=build_query(query, since=since, until=until, levels=levels, topic=topic),
        size=top,
        source_includes=["id", "title", "source", "published", "url", "level", "score", "story_id"],
        aggs={
            "timeline": {"date_histogram": {"field": "published", "calendar_interval": interval,
                                            "min_doc_count": 0, "format": "yyyy-MM-dd"},
                         "aggs": {"levels": {"terms": {"field": level_field(topic)}}}},
            "stories": {"cardinality": {"field": "story_id"}},
        },
        track_total_hits=True,
    )
    buckets = [{"date": b["key_as_string"], "count": b["doc_count"],
                "levels": {lv["key"]: lv["doc_count"] for lv in b["levels"]["buckets"]}}
               for b in resp["aggregations"]["timeline"]["buckets"]]
    articles = [dict(h["_source"], relevance=h["_score"]) for h in resp["hits"]["hits"]]
    return {"query": query, "topic": topic, "interval": interval, "total": resp["hits"]["total"]["value"],
            "stories": resp["aggregations"]["stories"]["value"], "buckets": buckets, "articles": articles}


def list_stories(es: Elasticsearch, settings: Settings, query: str | None = None, *,
                 levels: list[str] | None = None, size: int = 20, topic: str | None = None) -> list[dict[str, Any]]:
    """Stories (clusters of near-duplicate articles), newest first, each with its outlets and first article."""
    resp = es.search(
        index=index.index_name(settings, "articles"), size=0,
        query=build_query(query, levels=levels, topic=topic),
        aggs={"stories": {
            "terms": {"field": "story_id", "size": size, "order": {"last": "desc"}},
            "aggs": {
                "last": {"max": {"field": "published"}},
                "first": {"min": {"field": "published"}},
                "outlets": {"terms": {"field": "source", "size": 50}},
                "levels": {"terms": {"field": level_field(topic), "size": 3}},
                "langs": {"terms": {"field": "lang", "size": 20}},
                "lead": {"top_hits": {"size": 1, "sort": [{"published": "asc"}],
                                      "_source": {"includes": ["title", "url", "source"]}}},
            },
        }},
    )
    out = []
    for b in resp["aggregations"]["stories"]["buckets"]:
        lead = b["lead"]["hits"]["hits"][0]["_source"]
        out.append({"story_id": b["key"], "articles": b["doc_count"],
                    "first_seen": b["first"].get("value_as_string"), "last_seen": b["last"].get("value_as_string"),
                    "outlets": [o["key"] for o in b["outlets"]["buckets"]],
                    "languages": [lang["key"] for lang in b["langs"]["buckets"]],
                    "levels": {lv["key"]: lv["doc_count"] for lv in b["levels"]["buckets"]},
                    "title": lead.get("title"), "url": lead.get("url")})
    return out


def claims_timeline(es: Elasticsearch, settings: Settings, *, limit: int | None = 1000) -> list[dict[str, Any]]:
    """Reported troop numbers (date, number, who said it, article), newest first: the first ``limit`` claims
    (``None`` or 0: every one). Articles are read a page at a time (``index.iter_hits``: ``search_after``
    over a point in time), so the listing goes past any result window and stops reading once it has enough.
    """
    from newswatch.tagging import build_claims_timeline

    hits = index.iter_hits(
        es, index.index_name(settings, "articles"),
        query={"nested": {"path": "claims", "query": {"exists": {"field": "claims.count"}}}},
        sort=[{"published": {"order": "desc", "missing": "_last"}}, {"id": "asc"}],
        source=["id", "published", "title", "url", "claims"], page=min(index.PAGE, limit or index.PAGE))
    rows: list[dict[str, Any]] = []
    try:
        for hit in hits:
            rows += build_claims_timeline([{**hit["_source"], "id": hit["_id"]}])
            if limit and len(rows) >= limit:
                break
    finally:
        hits.close()  # closes the point in time now, not when the generator is collected
    return rows[:limit] if limit else rows
