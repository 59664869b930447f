"""Per recipient and story, what the recipient has heard: the *thread* document.

``thread:<recipient hash>:<topic>:<story>`` records the decision taken for a story the first time it met a
recipient — ``immediate`` (the root email), ``queued`` for a digest (with the reason: ``digest``,
``earlier`` = published beyond the freshness window, ``backlog`` = a feed's first poll, ``cap`` = past the
rate cap), or ``folded`` into an "N more stories" email — plus the snapshot a follow-up compares against
and the follow-ups sent. The decision is written (``op_type=create``) before any email that depends on it,
so a crash or a concurrent run never decides twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from elasticsearch import ConflictError, Elasticsearch, helpers

from newswatch.alerts.outbox import iso, rcpt_key


def thread_id(recipient: str, topic: str, story_id: str) -> str:
    return f"thread:{rcpt_key(recipient)}:{topic}:{story_id}"


def get_many(es: Elasticsearch, index: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``{id: {"_source", "_seq_no", "_primary_term"}}`` of the ids that exist."""
    out: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), 1000):
        resp = es.mget(index=index, ids=list(ids[start:start + 1000]))
        for d in resp["docs"]:
            if d.get("found"):
                out[d["_id"]] = d
    return out


def create(es: Elasticsearch, index: str, doc_id: str, doc: dict[str, Any]) -> bool:
    try:
        es.create(index=index, id=doc_id, document={"kind": "thread", **doc}, refresh=True)
        return True
    except ConflictError:
        return False


def queued(es: Elasticsearch, index: str, recipient: str, *, before: datetime | None = None) -> list[dict[str, Any]]:
    """The recipient's threads waiting for a digest (queued, in no digest yet), oldest first."""
    flt: list[dict[str, Any]] = [{"term": {"kind": "thread"}}, {"term": {"recipient": recipient}},
                                 {"term": {"mode": "queued"}}]
    if before is not None:
        flt.append({"range": {"queued_at": {"lt": iso(before)}}})
    query = {"bool": {"filter": flt, "must_not": [{"exists": {"field": "digest_message"}}]}}
    hits = list(helpers.scan(es, index=index, query={"query": query}))
    return sorted(({"id": h["_id"], **h["_source"]} for h in hits), key=lambda t: str(t.get("queued_at")))


def mark_digested(es: Elasticsearch, index: str, thread_ids: Sequence[str], message: str) -> None:
    """Record that these threads went out in ``message`` (idempotent)."""
    if not thread_ids:
        return
    actions = [{"_op_type": "update", "_index": index, "_id": t, "doc": {"digest_message": message}}
               for t in thread_ids]
    helpers.bulk(es, actions, refresh=True, raise_on_error=False)
