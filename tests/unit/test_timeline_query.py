"""The timeline's searches as built, and the daily bars rolled up into weeks, months and years without
Elasticsearch (``tests/integration/test_timeline.py`` checks the roll-up against Elasticsearch's own bars)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from newswatch.timeline import aggs_body, claims_body, hits_body, parse_query, roll_up_days


def day_bucket(day: datetime, count: int, stack: dict[str, int]) -> dict[str, Any]:
    return {"key": int(day.timestamp() * 1000), "key_as_string": day.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "doc_count": count, "stack": {"buckets": [{"key": k, "doc_count": n} for k, n in stack.items()]}}


def days(first: datetime, n: int) -> list[dict[str, Any]]:
    return [day_bucket(first + timedelta(days=i), i % 3, {"none": i % 3} if i % 3 else {}) for i in range(n)]


def test_weeks_start_on_monday_and_keep_every_count() -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)  # a Wednesday
    agg = {"buckets": days(start, 19)}  # to Sunday 19 January
    weeks = roll_up_days(agg, "week")["buckets"]
    assert [b["key_as_string"] for b in weeks] == ["2024-12-30T00:00:00.000Z", "2025-01-06T00:00:00.000Z",
                                                   "2025-01-13T00:00:00.000Z"]
    assert sum(b["doc_count"] for b in weeks) == sum(b["doc_count"] for b in agg["buckets"])
    assert all(sum(s["doc_count"] for s in b["stack"]["buckets"]) == b["doc_count"] for b in weeks)


@pytest.mark.parametrize(("interval", "keys"), [
    ("month", ["2024-12-01T00:00:00.000Z", "2025-01-01T00:00:00.000Z", "2025-02-01T00:00:00.000Z"]),
    ("year", ["2024-01-01T00:00:00.000Z", "2025-01-01T00:00:00.000Z"]),
])
def test_months_and_years(interval: str, keys: list[str]) -> None:
    buckets = roll_up_days({"buckets": days(datetime(2024, 12, 30, tzinfo=UTC), 40)}, interval)["buckets"]
    assert [b["key_as_string"] for b in buckets] == keys
    assert all(b["key"] == int(datetime.fromisoformat(b["key_as_string"]).timestamp() * 1000) for b in buckets)


def test_stack_is_summed_per_key_largest_first() -> None:
    monday = datetime(2025, 3, 3, tzinfo=UTC)
    agg = {"buckets": [day_bucket(monday, 3, {"none": 1, "core": 2}),
                       day_bucket(monday + timedelta(days=1), 4, {"none": 4})]}
    (week,) = roll_up_days(agg, "week")["buckets"]
    assert week["doc_count"] == 7 and week["stack"]["buckets"] == [{"key": "none", "doc_count": 5},
                                                                   {"key": "core", "doc_count": 2}]


def test_no_days_no_bars() -> None:
    assert roll_up_days({"buckets": []}, "month") == {"buckets": []}


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
