"""The timeline view: one answer for the timeline page and for ``newswatch timeline --json``.

A :class:`TimelineQuery` (validated before anything reaches Elasticsearch) becomes at most three ``_msearch``
round trips. With ``interval="auto"`` and no range given, the first finds the matching articles' range
(``range_body``: the first and last publication, no hits) so that the bars are counted once, in the interval
that range calls for (a daily histogram of two years, stacked, cost twice a monthly one at 165 k articles).
The second holds the searches that Elasticsearch runs side by side, one per search thread (``_msearch``): the
counting search split in three (``counting_bodies``: the total, a date histogram stacked per level or per
topic and the entity/source/language/level/topic facets; the ids of the top stories of the range; how many
stories), the best articles with highlights (``hits_body``) and the claims search (reported troop numbers
over time, who said how many, when, from the matching articles only, read from doc values:
``claims_body``). The third gives the top stories their dates, outlets, languages and lead article
(``stories_body``, over those stories' articles only). ``took_ms`` is Elasticsearch's own time for the round
trips (and for the rare leads and claims read from ``_source``); ``wall_ms`` the whole call.

The page (``newswatch.web``) and the CLI call :func:`run_timeline` with the same query, so the numbers they
show are the same numbers.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from elasticsearch import Elasticsearch
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from newswatch import index, search
from newswatch.settings import Settings

Level = Literal["core", "related", "none"]
Interval = Literal["auto", "hour", "day", "week", "month", "year"]
MAX_QUERY_CHARS = search.MAX_QUERY_CHARS  # longer free text is refused: a huge query holds the node
AUTO_BUCKETS = 60
FACET_SIZES = {"entities": 15, "sources": 20, "languages": 20, "levels": 3, "topics": 40}


class TimelineQuery(BaseModel):
    """What the page's form and the CLI's options ask for; unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    q: str | None = Field(None, max_length=MAX_QUERY_CHARS, description="Full text, any language.")
    topic: str | None = Field(None, pattern=r"^[A-Za-z0-9_]+$", max_length=100)
    levels: list[Level] = Field(default_factory=list)
    langs: list[str] = Field(default_factory=list, max_length=50)
    sources: list[str] = Field(default_factory=list, max_length=50)
    entities: list[str] = Field(default_factory=list, max_length=50)
    story: str | None = Field(None, max_length=200, description="One story's articles (links in alert emails).")
    since: datetime | None = None
    until: datetime | None = None
    interval: Interval = "auto"
    stack: Literal["level", "topic"] = "level"
    top_stories: int = Field(10, ge=0, le=100)
    top_articles: int = Field(10, ge=0, le=100)
    claims: int = Field(200, ge=0, le=2000, description="Articles with claims to read at most (newest first).")

    @field_validator("q", "topic", "story")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("since", "until", mode="before")
    @classmethod
    def _date_or_datetime(cls, value: Any, info: Any) -> Any:
        """A date alone means its whole day: ``since`` its first instant, ``until`` its last (both inclusive)."""
        if value in (None, ""):
            return None
        if isinstance(value, str) and len(value) == 10:  # YYYY-MM-DD
            try:
                value = date.fromisoformat(value)
            except ValueError:
                raise ValueError("a date is YYYY-MM-DD, a time ISO 8601") from None
        if isinstance(value, date) and not isinstance(value, datetime):
            start = datetime(value.year, value.month, value.day, tzinfo=UTC)
            return start if info.field_name == "since" else start + timedelta(days=1, milliseconds=-1)
        return value

    @field_validator("since", "until")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value

    @field_validator("langs", "sources", "entities")
    @classmethod
    def _clean(cls, values: list[str]) -> list[str]:
        out = []
        for v in values:
            v = v.strip()
            if len(v) > 200:
                raise ValueError("a filter value is at most 200 characters")
            if v and v not in out:
                out.append(v)
        return out

    @model_validator(mode="after")
    def _range(self) -> TimelineQuery:
        if self.since and self.until and self.since > self.until:
            raise ValueError("since is after until")
        return self


def parse_query(values: dict[str, Any]) -> TimelineQuery:
    """A ``TimelineQuery`` from form or CLI values; a bad value is a ``SearchError`` naming the option."""
    from pydantic import ValidationError

    from newswatch.errors import SearchError

    try:
        return TimelineQuery.model_validate({k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'query'}: {e['msg']}" for e in exc.errors())
        raise SearchError(f"invalid timeline query: {problems}") from None


def es_query(tq: TimelineQuery) -> dict[str, Any]:
    """The query both searches share: the text (``search.build_query``) and every filter of the form."""
    query = search.build_query(tq.q, levels=list(tq.levels) or None, topic=tq.topic)
    filters: list[dict[str, Any]] = query["bool"]["filter"]
    rng: dict[str, str] = {}
    if tq.since:
        rng["gte"] = tq.since.isoformat()
    if tq.until:
        rng["lte"] = tq.until.isoformat()
    if rng:
        filters.append({"range": {"published": rng}})
    if tq.story:
        filters.append({"term": {"story_id": tq.story}})
    for field, values in (("lang", tq.langs), ("source", tq.sources), ("entity_names", tq.entities)):
        if values:
            filters.append({"terms": {field: values}})
    return query


def pick_interval(first: datetime | None, last: datetime | None) -> str:
    """A calendar interval giving at most about ``AUTO_BUCKETS`` bars over ``first``..``last``."""
    if first is None or last is None:
        return "month"
    span = max((last - first).total_seconds(), 1.0)
    for name, seconds in (("hour", 3600), ("day", 86400), ("week", 7 * 86400), ("month", 30.44 * 86400)):
        if span / seconds <= AUTO_BUCKETS:
            return name
    return "year"


def _histogram(tq: TimelineQuery, interval: str) -> dict[str, Any]:
    stack = ({"terms": {"field": search.level_field(tq.topic), "size": 3}} if tq.stack == "level"
             else {"terms": {"field": "topic_levels", "size": FACET_SIZES["topics"]}})
    hist: dict[str, Any] = {"date_histogram": {"field": "published", "calendar_interval": interval,
                                               "min_doc_count": 0}}
    if tq.since or tq.until:
        bounds: dict[str, str] = {}
        if tq.since:
            bounds["min"] = tq.since.isoformat()
        if tq.until:
            bounds["max"] = tq.until.isoformat()
        hist["date_histogram"]["extended_bounds"] = bounds
    hist["aggs"] = {"stack": stack}
    return hist


def hits_body(tq: TimelineQuery) -> dict[str, Any]:
    """The best articles with their highlights; no aggregation and no total (``aggs_body`` counts)."""
    return {
        "query": es_query(tq),
        "size": tq.top_articles,
        "track_total_hits": False,
        "_source": ["id", "title", "source", "published", "url", "level", "score", "lang", "story_id",
                    "topic_levels"],
        "highlight": _highlight(tq.q),
    }


# the first and last publication; min and max, not stats: on an unfiltered search they come from the points
RANGE_AGGS: dict[str, Any] = {"first": {"min": {"field": "published"}}, "last": {"max": {"field": "published"}}}


def aggs_body(tq: TimelineQuery, interval: str) -> dict[str, Any]:
    """The total, the bars, the range, the top stories' ids and the facets, without hits: a search that returns
    no hits lets Elasticsearch count bars and facets from its index structures (the date histogram from the
    date's points, low-cardinality terms per term) instead of visiting every matching article, which it must
    do as soon as the same search also collects the best hits (8x slower at 100 k articles). The top stories
    are only counted here; their dates, outlets and lead come from ``stories_body``."""
    return {
        "query": es_query(tq),
        "size": 0,
        "track_total_hits": True,
        "aggs": {
            "timeline": _histogram(tq, interval),
            **RANGE_AGGS,
            "story_count": {"cardinality": {"field": "story_id"}},
            "stories": _story_terms(tq.top_stories or 1),
            "entities": {"terms": {"field": "entity_names", "size": FACET_SIZES["entities"]}},
            "sources": {"terms": {"field": "source", "size": FACET_SIZES["sources"]}},
            "languages": {"terms": {"field": "lang", "size": FACET_SIZES["languages"]}},
            "levels": {"terms": {"field": search.level_field(tq.topic), "size": FACET_SIZES["levels"]}},
            "topics": {"terms": {"field": "topic_levels", "size": FACET_SIZES["topics"]}},
        },
    }


def _story_terms(size: int) -> dict[str, Any]:
    return {"terms": {"field": "story_id", "size": size, "order": {"_count": "desc"}}}


def stories_body(tq: TimelineQuery, ids: list[str]) -> dict[str, Any]:
    """The top stories ``ids`` (the counting search found them) with their dates, outlets, languages, levels
    and lead article, from the matching articles of those stories only. In two steps because sub-aggregations
    under the terms of ``story_id`` cost every matching article, not only the top stories' (even breadth
    first, the terms keep each article's story to replay it): at 1 M articles, all time, 146 ms in one search
    against 42 + 4 ms in two, the same buckets (bench/README.md)."""
    query = es_query(tq)
    query["bool"]["filter"].append({"terms": {"story_id": ids}})
    return {"query": query, "size": 0, "track_total_hits": False,
            "aggs": {"stories": {**_story_terms(len(ids)), "aggs": search.story_aggs(tq.topic, outlets=30)}}}


STORY_AGGS = ("stories", "story_count")  # what reads the story ids, one search each


def counting_bodies(tq: TimelineQuery, interval: str, *, with_range: bool = True) -> list[dict[str, Any]]:
    """``aggs_body`` as three searches that Elasticsearch runs on its search threads at once: the total, the
    bars and the facets; the top stories (the terms of ``story_id``, the field with one value per story,
    hundreds of thousands at 1 M articles); how many stories (its cardinality). The two ``story_id``
    aggregations are apart because together they cost more than apart: at 1 M articles, all time, 190 ms in
    one search against 81 and 27 ms in two (114 k matches: 56 against 17 and 19; bench/README.md). Without
    ``with_range`` (the range search ran first) the first and last publication are left out."""
    body = aggs_body(tq, interval)
    aggs = body["aggs"]
    skip = set(STORY_AGGS) | (set() if with_range else set(RANGE_AGGS))
    return [{**body, "aggs": {k: v for k, v in aggs.items() if k not in skip}},
            *({**body, "track_total_hits": False, "aggs": {k: aggs[k]}} for k in STORY_AGGS)]


def range_body(tq: TimelineQuery) -> dict[str, Any]:
    """The first and last publication of the matching articles, nothing else: what ``interval="auto"`` needs
    to pick the bars' interval when the form gives no range."""
    return {"query": es_query(tq), "size": 0, "track_total_hits": False, "aggs": RANGE_AGGS}


def _highlight(q: str | None) -> dict[str, Any]:
    """Highlights that also mark the inflected forms a query found (``search.highlight_query``)."""
    fields: dict[str, Any] = {"text": {"number_of_fragments": 1, "fragment_size": 160}, "title": {}}
    if q:
        for spec in fields.values():
            spec["highlight_query"] = search.highlight_query(q)
    return {"fields": fields}


def claims_body(tq: TimelineQuery) -> dict[str, Any]:
    """The newest ``tq.claims`` matching articles with claims, and how many match. Each hit is read from doc
    values only (``id`` and ``claims_json``, no stored fields): reading and parsing the ~19 kB ``_source`` of
    200 articles to cut out their claims was most of the timeline's time (at 100 k articles 46/159 ms p50/p95
    against 7/20 ms from doc values in the same run, bench/README.md). An article written before
    ``claims_json`` existed, or whose claims are too long for it (``ignore_above``), has none:
    ``search.claims_items`` reads those few from ``_source``."""
    query = es_query(tq)
    query["bool"]["filter"].append(search.HAS_CLAIMS)
    return {"query": query, "size": tq.claims, "sort": [{"published": {"order": "desc", "missing": "_last"}}],
            "_source": False, "stored_fields": "_none_", "docvalue_fields": ["id", "claims_json"],
            "track_total_hits": True}


def _facet(agg: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": b["key"], "count": b["doc_count"]} for b in agg["buckets"]]


def _buckets(agg: dict[str, Any], tq: TimelineQuery) -> list[dict[str, Any]]:
    out = []
    for b in agg["buckets"]:
        stack: dict[str, int] = {}
        for s in b["stack"]["buckets"]:
            key = s["key"]
            if tq.stack == "topic":  # "name:level": per topic, counting core and related
                name, _, level = key.partition(":")
                if tq.levels and level not in tq.levels:
                    continue
                key = name
            stack[key] = stack.get(key, 0) + s["doc_count"]
        start = datetime.fromtimestamp(b["key"] / 1000, UTC)
        out.append({"date": b.get("key_as_string", start.isoformat()), "start": start.isoformat(),
                    "count": b["doc_count"], "stack": stack})
    return out


def _millis(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value / 1000, UTC)


def _msearch(es: Elasticsearch, settings: Settings, name: str, searches: list[dict[str, Any]]) -> dict[str, Any]:
    resp: dict[str, Any] = dict(es.msearch(searches=searches))
    for part in resp["responses"]:
        if "error" in part:
            from newswatch.errors import SearchError

            err = part["error"]
            reason = err.get("root_cause", [{}])[0].get("reason") if isinstance(err, dict) else err
            raise SearchError(f"timeline search on {settings.es.url}/{name} failed: {reason or err}")
    return resp


def run_timeline(es: Elasticsearch, settings: Settings, tq: TimelineQuery) -> dict[str, Any]:
    """The whole view for ``tq`` (see the module docstring for what it holds)."""
    from newswatch.tagging import build_claims_timeline

    started = time.perf_counter()
    name = index.index_name(settings, "articles")
    took = 0
    interval: str = tq.interval
    ranged: dict[str, Any] | None = None
    if interval == "auto":  # the bars follow the range: the form's dates, else the matching articles' dates
        if not (tq.since and tq.until):
            first = _msearch(es, settings, name, [{"index": name}, range_body(tq)])
            took += int(first.get("took", 0))
            ranged = first["responses"][0]["aggregations"]
        got = ranged or {}
        interval = pick_interval(tq.since or _millis(got.get("first", {}).get("value")),
                                 tq.until or _millis(got.get("last", {}).get("value")))
    searches: list[dict[str, Any]] = []
    counting = counting_bodies(tq, interval, with_range=ranged is None)
    for body in counting:
        searches += [{"index": name}, body]
    if tq.top_articles:
        searches += [{"index": name}, hits_body(tq)]
    if tq.claims:
        searches += [{"index": name}, claims_body(tq)]
    resp = _msearch(es, settings, name, searches)
    took += int(resp.get("took", 0))  # the searches run side by side: the whole request's time, not their sum
    parts = iter(resp["responses"])
    counted = next(parts)
    aggs = {**(ranged or {}), **counted["aggregations"]}
    for _ in counting[1:]:
        aggs.update(next(parts)["aggregations"])
    hits = next(parts)["hits"]["hits"] if tq.top_articles else []

    ids = [b["key"] for b in aggs["stories"]["buckets"][: tq.top_stories]]
    buckets: list[dict[str, Any]] = []
    if ids:
        detail = _msearch(es, settings, name, [{"index": name}, stories_body(tq, ids)])
        took += int(detail.get("took", 0))
        by_id = {b["key"]: b for b in detail["responses"][0]["aggregations"]["stories"]["buckets"]}
        buckets = [by_id[i] for i in ids if i in by_id]  # (one written between the two searches may be missing)
    stories, extra_took = search.story_rows(es, name, buckets)
    took += extra_took
    articles = []
    for h in hits:
        row = dict(h["_source"])
        row["relevance"] = h["_score"]
        row["highlights"] = [f for frags in h.get("highlight", {}).values() for f in frags][:2]
        articles.append(row)

    claims: list[dict[str, Any]] = []
    claims_articles = 0
    if tq.claims:
        part = next(parts)
        claims_articles = part["hits"]["total"]["value"]
        items, extra_took = search.claims_items(es, name, part["hits"]["hits"])
        took += extra_took
        claims = build_claims_timeline(items)
        for row in claims:
            if row["date"] is not None and not isinstance(row["date"], str):
                row["date"] = row["date"].isoformat()

    return {
        "query": tq.model_dump(mode="json", exclude_defaults=True),
        "total": counted["hits"]["total"]["value"],
        "stories_total": aggs["story_count"]["value"],
        "interval": interval,
        "stack": tq.stack,
        "range": {"first": aggs["first"].get("value_as_string"), "last": aggs["last"].get("value_as_string")},
        "buckets": _buckets(aggs["timeline"], tq),
        "stories": stories,
        "articles": articles,
        "claims": claims,
        "claims_articles": claims_articles,
        "claims_truncated": claims_articles > tq.claims,
        "facets": {"entities": _facet(aggs["entities"]), "sources": _facet(aggs["sources"]),
                   "languages": _facet(aggs["languages"]), "levels": _facet(aggs["levels"]),
                   "topics": _topic_facet(aggs["topics"])},
        "took_ms": took,
        "wall_ms": round((time.perf_counter() - started) * 1000, 1),
    }


def _topic_facet(agg: dict[str, Any]) -> list[dict[str, Any]]:
    """``name:level`` buckets folded per topic: ``{"key": name, "count": core+related, "levels": {...}}``."""
    per: dict[str, dict[str, Any]] = {}
    for b in agg["buckets"]:
        name, _, level = b["key"].partition(":")
        row = per.setdefault(name, {"key": name, "count": 0, "levels": {}})
        row["levels"][level] = b["doc_count"]
        row["count"] += b["doc_count"]
    return sorted(per.values(), key=lambda r: (-r["count"], r["key"]))


def feed_health(es: Elasticsearch, settings: Settings) -> list[dict[str, Any]]:
    """The operators' table: one row per feed (state, last success, failures, error class, extraction)."""
    from newswatch import feedhealth

    return feedhealth.feed_rows(es, settings, FEED_FIELDS)


FEED_FIELDS = ("url", "name", "site", "last_polled", "last_success", "next_due", "interval_minutes",
               "consecutive_failures", "last_error_class", "last_error", "last_status", "polls", "items_per_day",
               "articles_ok", "articles_failed")
