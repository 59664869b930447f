"""Article search: the query every reader shares (``build_query``), full-text hits with highlights, stories,
claims. The timeline view (histogram, facets, stories, claims in one answer) is ``newswatch.timeline``.

A query (``simple_query_string`` syntax) finds the words as written *and* every inflected form of them, in
Korean, Russian, Ukrainian and English, on any Elasticsearch build: see :func:`text_query`.
"""

from __future__ import annotations

import json
from typing import Any

from elasticsearch import Elasticsearch

from newswatch import index, textnorm
from newswatch.settings import Settings

# The fields a query's words are looked for in as written, with their weights; the ``.<lang>`` multi-fields
# exist only where the cluster has those language analyzers (``index.add_language_fields``), and a field
# a mapping lacks is skipped by ``simple_query_string``, so the list is the same on every build.
EXACT_FIELDS = ["title^3", "text", "evidence^2", "entity_names^2", "matched_terms^2",
                "title.english^1.5", "text.english^0.5", "title.russian^1.5", "text.russian^0.5",
                "title.ukrainian^1.5", "text.ukrainian^0.5", "title.nori^1.5", "text.nori^0.5"]
NORMAL_FIELD = "search_text"  # title and text, each word in its normal form (``textnorm``)
# Longer free text is refused before it reaches Elasticsearch: a 60 KB query once held the node for 122 s
# (the client retried its read timeouts). Every reader of a query goes through ``text_query``.
MAX_QUERY_CHARS = 500


def text_query(query: str) -> dict[str, Any]:
    """The query for the words of ``query``: the exact fields as written, or ``search_text`` in normal form.

    An article matches if all of the query holds for its normal forms (북한군 finds 북한군이, 북한군은;
    "deploying troops" finds "deployed troop") or, for the articles indexed before ``search_text``
    existed, as written. An exact match scores on both sides, so it ranks above a match of forms only.
    ``-excluded`` clauses at the top level apply in normal form to both sides: "북한군 -러시아" leaves out
    an article that says 러시아는. A query longer than ``MAX_QUERY_CHARS`` raises ``SearchError``."""
    check_query_length(query)
    exact: dict[str, Any] = {"simple_query_string": {"query": query, "fields": EXACT_FIELDS,
                                                     "default_operator": "and"}}
    excluded = [_normal_query(clause) for clause in textnorm.query_exclusions(query)]
    if excluded:
        exact = {"bool": {"must": [exact], "must_not": excluded}}
    return {"bool": {"should": [exact, _normal_query(query)], "minimum_should_match": 1}}


def check_query_length(query: str | None) -> None:
    if query and len(query) > MAX_QUERY_CHARS:
        from newswatch.errors import SearchError

        raise SearchError(f"the query has {len(query)} characters, at most {MAX_QUERY_CHARS} are searched: "
                          "shorten it (a few words find every form of them)")


def highlight_query(query: str) -> dict[str, Any]:
    """What the highlighter marks in ``title`` and ``text``: the words as written, and any word that starts
    with a normal form of one (so 북한군이 and "deployed" are marked for 북한군 and "deploying")."""
    shoulds: list[dict[str, Any]] = [{"simple_query_string": {"query": query, "fields": ["title", "text"]}}]
    stems = textnorm.query_stems(query)
    if stems:
        shoulds.append({"simple_query_string": {"query": " | ".join(f"{s}*" for s in stems),
                                                "fields": ["title", "text"], "default_operator": "or"}})
    return {"bool": {"should": shoulds}}


def _normal_query(query: str) -> dict[str, Any]:
    return {"simple_query_string": {"query": textnorm.normalise_query(query), "fields": [NORMAL_FIELD],
                                    "default_operator": "and"}}


def build_query(query: str | None, *, since: str | None = None, until: str | None = None,
                levels: list[str] | None = None, topic: str | None = None) -> dict[str, Any]:
    must: list[dict[str, Any]] = []
    if query:
        must.append(text_query(query))
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
        highlight=_highlight(query),
    )
    out = []
    for hit in resp["hits"]["hits"]:
        row = dict(hit["_source"])
        row["relevance"] = hit["_score"]
        row["highlights"] = [f for frags in hit.get("highlight", {}).values() for f in frags]
        out.append(row)
    return out


def _highlight(query: str | None) -> dict[str, Any]:
    fields: dict[str, Any] = {"text": {"number_of_fragments": 2, "fragment_size": 160}, "title": {}}
    if query:
        for spec in fields.values():
            spec["highlight_query"] = highlight_query(query)
    return {"fields": fields}


def list_stories(es: Elasticsearch, settings: Settings, query: str | None = None, *,
                 levels: list[str] | None = None, size: int = 20, topic: str | None = None) -> list[dict[str, Any]]:
    """Stories (clusters of near-duplicate articles), newest first, each with its outlets and first article."""
    resp = es.search(
        index=index.index_name(settings, "articles"), size=0,
        query=build_query(query, levels=levels, topic=topic),
        aggs={"stories": {"terms": {"field": "story_id", "size": size, "order": {"last": "desc"}},
                          "aggs": story_aggs(topic, outlets=50)}},
    )
    return story_rows(es, index.index_name(settings, "articles"), resp["aggregations"]["stories"]["buckets"])[0]


# A story's first article, read from doc values (``title.raw`` keeps titles of up to 512 characters): fetching
# and parsing the ~19 kB ``_source`` of ten leads was 20-50 ms of every timeline answer, whatever its size.
LEAD_FIELDS = ["id", "title.raw", "url", "source", "lang"]  # (``id`` is the ``_id``, which no stored field gives)
LEAD: dict[str, Any] = {"top_hits": {"size": 1, "sort": [{"published": "asc"}], "_source": False,
                                     "stored_fields": "_none_", "docvalue_fields": LEAD_FIELDS}}


def story_aggs(topic: str | None, *, outlets: int) -> dict[str, Any]:
    """What ``story_row`` reads of a ``story_id`` terms bucket: first and last publication, outlets, languages,
    levels (of ``topic``) and the lead article."""
    return {
        "first": {"min": {"field": "published"}},
        "last": {"max": {"field": "published"}},
        "outlets": {"terms": {"field": "source", "size": outlets}},
        "langs": {"terms": {"field": "lang", "size": 20}},
        "levels": {"terms": {"field": level_field(topic), "size": 3}},
        "lead": LEAD,
    }


def story_row(bucket: dict[str, Any]) -> dict[str, Any]:
    """One story of a ``story_id`` terms bucket with the sub-aggregations first/last/outlets/langs/levels/lead
    (``story_aggs``: ``list_stories`` and the timeline view); ``title`` is None when the lead's title is
    longer than ``title.raw`` keeps (``story_rows`` reads those from ``_source``)."""
    lead = bucket["lead"]["hits"]["hits"][0]
    fields = lead.get("fields", {})

    def one(name: str) -> Any:
        return fields.get(name, [None])[0]

    return {"story_id": bucket["key"], "articles": bucket["doc_count"],
            "first_seen": bucket["first"].get("value_as_string"), "last_seen": bucket["last"].get("value_as_string"),
            "outlets": [o["key"] for o in bucket["outlets"]["buckets"]],
            "languages": [lang["key"] for lang in bucket["langs"]["buckets"]],
            "levels": {lv["key"]: lv["doc_count"] for lv in bucket["levels"]["buckets"]},
            "title": one("title.raw"), "url": one("url"), "source": one("source")}


def story_rows(es: Elasticsearch, name: str, buckets: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """``story_row`` of each bucket, the few leads whose title is too long for doc values read from ``_source``
    in one more search; and that search's ``took`` (0 when none was needed)."""
    rows = [story_row(b) for b in buckets]
    missing = {b["lead"]["hits"]["hits"][0]["fields"]["id"][0]: i
               for i, (b, r) in enumerate(zip(buckets, rows, strict=True)) if r["title"] is None}
    sources, took = sources_by_id(es, name, list(missing), ["title"])
    for art_id, src in sources.items():
        rows[missing[art_id]]["title"] = src.get("title")
    return rows, took


def sources_by_id(es: Elasticsearch, name: str, ids: list[str], fields: list[str]) -> tuple[dict[str, Any], int]:
    """``fields`` of the articles ``ids`` (an article's ``id`` is its ``_id``) from ``_source``, in one search,
    and its ``took``: what doc values could not give (no search, and 0, when ``ids`` is empty)."""
    if not ids:
        return {}, 0
    resp = es.search(index=name, query={"ids": {"values": ids}}, size=len(ids), source_includes=fields)
    return {h["_id"]: h["_source"] for h in resp["hits"]["hits"]}, int(resp.get("took", 0))


CLAIMS_SOURCE = ["published", "title", "url", "claims"]  # what the chart needs of an article (``claims_json``)
# The claims are an object, not nested (mapping version 3): nested documents make Elasticsearch filter every
# search down to the articles (``_primary_term`` exists), a pass over every document that cost 195 of 312 ms of
# an all-time search at 470 k articles and turned off counting terms and ranges from the index. An index of
# version 2 (nested claims, until ``newswatch reindex``) is matched by ``claim_max``, set with the claims.
HAS_CLAIMS: dict[str, Any] = {"bool": {"should": [{"exists": {"field": "claims.count"}},
                                                  {"exists": {"field": "claim_max"}}], "minimum_should_match": 1}}


def claims_items(es: Elasticsearch, name: str, hits: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """``{"id", "published", "title", "url", "claims"}`` per hit of ``claims_body``, in the hits' order, and
    the ``took`` of the extra search: from ``claims_json``, else (older or oversized articles) from
    ``_source`` in one more search by id (the article's ``id`` is its ``_id``)."""
    items: list[dict[str, Any] | None] = []
    missing: dict[str, int] = {}
    for h in hits:
        fields = h.get("fields", {})
        art_id = fields.get("id", [None])[0]
        if "claims_json" in fields:
            items.append({**json.loads(fields["claims_json"][0]), "id": art_id})
        elif art_id is not None:
            missing[art_id] = len(items)
            items.append(None)
    sources, took = sources_by_id(es, name, list(missing), CLAIMS_SOURCE)
    for art_id, src in sources.items():
        items[missing[art_id]] = {**src, "id": art_id}
    return [item for item in items if item is not None], took


def claims_timeline(es: Elasticsearch, settings: Settings, *, limit: int | None = 1000) -> list[dict[str, Any]]:
    """Reported troop numbers (date, number, who said it, article), newest first: the first ``limit`` claims
    (``None`` or 0: every one). Articles are read a page at a time (``index.iter_hits``: ``search_after``
    over a point in time), so the listing goes past any result window and stops reading once it has enough;
    each page from doc values (``claims_json``), as the timeline's claims chart (``claims_items``).
    """
    from newswatch.tagging import build_claims_timeline

    name = index.index_name(settings, "articles")
    page = min(index.PAGE, limit or index.PAGE)
    hits = index.iter_hits(es, name, query=HAS_CLAIMS, page=page,
                           sort=[{"published": {"order": "desc", "missing": "_last"}}, {"id": "asc"}],
                           source=False, docvalue_fields=["id", "claims_json"])
    rows: list[dict[str, Any]] = []
    try:
        for page_hits in index.chunks(hits, page):
            for item in claims_items(es, name, page_hits)[0]:  # article by article, newest first
                rows += build_claims_timeline([item])
                if limit and len(rows) >= limit:
                    return rows[:limit]
    finally:
        hits.close()  # closes the point in time now, not when the generator is collected
    return rows
