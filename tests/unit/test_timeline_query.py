"""The timeline's searches as built (``tests/integration/test_timeline.py`` runs them)."""

from __future__ import annotations

from newswatch.timeline import (
    STORY_AGGS,
    aggs_body,
    claims_body,
    counting_bodies,
    hits_body,
    parse_query,
    range_body,
    stories_body,
)


def test_searches_read_only_what_they_show() -> None:
    tq = parse_query({"q": "Kursk", "since": "2025-01-01"})
    counted, hits = aggs_body(tq, "day"), hits_body(tq)
    # no hits beside the aggregations (they would make Elasticsearch visit every match), no count beside hits
    assert counted["size"] == 0 and counted["track_total_hits"] is True and "highlight" not in counted
    assert hits["size"] == tq.top_articles and hits["track_total_hits"] is False and "aggs" not in hits
    assert "stats" not in str(counted["aggs"]) and {"first", "last"} <= set(counted["aggs"])
    claims = claims_body(tq)
    assert claims["size"] == tq.claims and claims["sort"][0] == {"published": {"order": "desc", "missing": "_last"}}
    # the claims come from doc values: no _source, no stored field (each costs a ~19 kB block per article)
    assert claims["_source"] is False and claims["stored_fields"] == "_none_"
    assert claims["docvalue_fields"] == ["id", "claims_json"]


def test_counting_is_split_in_three_searches_that_together_count_everything_once() -> None:
    tq = parse_query({"q": "Kursk", "topic": "dprk_russia_troops"})
    whole = aggs_body(tq, "month")
    bars, stories, count = counting_bodies(tq, "month")
    # the same query, every aggregation in exactly one of the three; the total counted once
    assert bars["query"] == stories["query"] == count["query"] == whole["query"]
    assert set(bars["aggs"]) | set(stories["aggs"]) | set(count["aggs"]) == set(whole["aggs"])
    assert set(stories["aggs"]) == {"stories"} and set(count["aggs"]) == {"story_count"}
    assert not set(bars["aggs"]) & set(STORY_AGGS)
    assert bars["track_total_hits"] is True and stories["track_total_hits"] is count["track_total_hits"] is False
    assert bars["size"] == stories["size"] == count["size"] == 0
    # the top stories are only counted there: no sub-aggregation keeps every article's story to replay it
    assert "aggs" not in stories["aggs"]["stories"]
    # once the range search ran, its first and last are not asked again
    bars_only, _, _ = counting_bodies(tq, "month", with_range=False)
    assert {"first", "last"} & set(bars_only["aggs"]) == set()
    ranged = range_body(tq)
    assert ranged["size"] == 0 and ranged["track_total_hits"] is False and set(ranged["aggs"]) == {"first", "last"}
    assert ranged["query"] == whole["query"]


def test_the_top_stories_details_come_from_their_own_articles_only() -> None:
    tq = parse_query({"q": "Kursk", "langs": ["en"], "topic": "dprk_russia_troops"})
    body = stories_body(tq, ["s1", "s2"])
    # the timeline's query and filters, narrowed to the stories found; their dates, outlets and lead
    assert body["query"]["bool"]["filter"][:-1] == aggs_body(tq, "month")["query"]["bool"]["filter"]
    assert body["query"]["bool"]["filter"][-1] == {"terms": {"story_id": ["s1", "s2"]}}
    terms = body["aggs"]["stories"]
    assert terms["terms"]["size"] == 2 and terms["terms"]["order"] == {"_count": "desc"}
    assert {"first", "last", "outlets", "langs", "levels", "lead"} == set(terms["aggs"])
    assert body["size"] == 0 and body["track_total_hits"] is False


def test_claims_json_holds_what_the_claims_chart_shows() -> None:
    import json

    from newswatch.records import Article
    from newswatch.tagging import build_claims_timeline

    art = Article(id="a", url="https://x.example/a", source="x", host="x.example", title="Troops",
                  published="2024-11-05T09:00:00+09:00", fetched_at="2024-11-05",
                  claims=[{"count": 10000, "unit": "troops", "source": "NIS", "sentence": "About 10,000 troops."},
                          {"count": 3000, "count_max": 4000, "unit": "troops", "sentence": "3,000 to 4,000."}])
    assert Article(**{**art.model_dump(), "claims": []}).claims_json is None
    packed = {**json.loads(art.claims_json or ""), "id": "a"}
    assert art.doc()["claims_json"] == art.claims_json
    assert build_claims_timeline([packed]) == build_claims_timeline([{**art.doc(), "id": "a"}])
