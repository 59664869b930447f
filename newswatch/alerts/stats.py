"""``newswatch alerts stats``: messages per type and outcome, and alert latency (publish → send, fetch →
send) for first alerts and follow-ups, from what every claim records."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
from elasticsearch import Elasticsearch, helpers

from newswatch import index
from newswatch.alerts.views import parse_time
from newswatch.settings import Settings


def _pct(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "max": None, "n": 0}
    arr = np.array(values)
    return {"p50": round(float(np.percentile(arr, 50)), 1), "p95": round(float(np.percentile(arr, 95)), 1),
            "max": round(float(arr.max()), 1), "n": len(values)}


def alert_stats(es: Elasticsearch, settings: Settings, *, since: str | None = None) -> dict[str, Any]:
    flt: list[dict[str, Any]] = [{"term": {"kind": "message"}}]
    if since:
        flt.append({"range": {"claimed_at": {"gte": since}}})
    by_type: Counter[str] = Counter()
    by_status: Counter[str] = Counter()
    publish: list[float] = []
    fetch: list[float] = []
    index_to_send: list[float] = []
    problems = []
    for hit in helpers.scan(es, index=index.index_name(settings, "alerts"), query={"query": {"bool": {"filter": flt}}},
                            _source_excludes=["raw"]):
        src = hit["_source"]
        by_type[str(src.get("type"))] += 1
        by_status[str(src.get("status"))] += 1
        if src.get("status") in ("uncertain", "dead", "failed"):
            problems.append({"id": hit["_id"], "status": src.get("status"), "recipient": src.get("recipient"),
                             "error": src.get("error")})
        sent = parse_time(src.get("sent_at"))
        if sent is None or src.get("type") not in ("story", "followup"):
            continue
        for key, bucket in (("published", publish), ("fetched_at", fetch), ("indexed_at", index_to_send)):
            if len(str(src.get(key) or "")) <= 10:
                continue  # a date without a time of day says nothing about minutes
            t = parse_time(src.get(key))
            if t is not None:
                bucket.append((sent - t).total_seconds())
    return {"since": since, "messages": sum(by_type.values()), "by_type": dict(by_type), "by_status": dict(by_status),
            "latency_seconds": {"publish_to_send": _pct(publish), "fetch_to_send": _pct(fetch),
                                "index_to_send": _pct(index_to_send)},
            "problems": problems[:50]}
