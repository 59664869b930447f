"""Stories split by concurrent indexers, joined before anyone is alerted.

Two indexers running at once on copies of one wire story each see an index without the other's copy, so each
starts a story of its own (measured before this: 2 stories, 2 emails). Before planning, the alert run scores
every story that nobody has heard of yet against the other recent stories of the topic with the pipeline's own
rule (``stories.pair_score``, average linkage of the new story's founder over the other story's members,
joined at ``tau``) and relabels the members of the later story to the earlier one (a story already alerted
always wins). Deterministic, so concurrent alert runs agree.
"""

from __future__ import annotations

import logging
from typing import Any

from elasticsearch import Elasticsearch, helpers

from newswatch import index, stories
from newswatch.alerts.views import StoryView
from newswatch.settings import Settings

log = logging.getLogger(__name__)


def _alerted(es: Elasticsearch, alert_index: str, topic: str, sids: list[str]) -> set[str]:
    out: set[str] = set()
    for start in range(0, len(sids), 1000):
        resp = es.search(index=alert_index, size=0, query={"bool": {"filter": [
            {"term": {"kind": "thread"}}, {"term": {"topic": topic}},
            {"terms": {"story_id": sids[start:start + 1000]}}]}},
            aggs={"s": {"terms": {"field": "story_id", "size": 10000}}})
        out |= {b["key"] for b in resp["aggregations"]["s"]["buckets"]}
    return out


def merge_split_stories(es: Elasticsearch, settings: Settings, topic: str,
                        views: dict[str, StoryView]) -> dict[str, StoryView]:
    if len(views) < 2:
        return views
    art_index = index.write_alias(settings, "articles")
    alerted = _alerted(es, index.index_name(settings, "alerts"), topic, sorted(views))
    new = [sid for sid in views if sid not in alerted]
    if not new:
        return views
    ids = [a["id"] for v in views.values() for a in v.articles]
    feats: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), 1000):
        for d in es.mget(index=art_index, ids=ids[start:start + 1000],
                         source_includes=stories.CANDIDATE_FIELDS)["docs"]:
            if d.get("found"):
                feats[d["_id"]] = d["_source"]
    members = {sid: [feats[a["id"]] for a in v.articles if a["id"] in feats] for sid, v in views.items()}
    order = {sid: (str(v.articles[0].get("published") or "9999"), v.articles[0]["id"]) for sid, v in views.items()}
    params = stories.PARAMS
    rarity = stories.Rarity(list(feats.values()), params)  # as the indexer scores a batch, not pair by pair
    target: dict[str, str] = {}
    for sid in sorted(new, key=lambda s: order[s]):
        founder = next((m for m in members[sid] if m["id"] == views[sid].articles[0]["id"]), None)
        if founder is None:
            continue
        best: tuple[float, str] | None = None
        for other, mem in members.items():
            if other == sid or not mem or target.get(other) == sid:
                continue
            if other not in alerted and order[other] > order[sid]:
                continue  # the later story joins the earlier one, never the reverse
            scores = [stories.pair_score(founder, m, params, rarity) for m in mem]
            score = 9.0 if max(scores) >= 9.0 else sum(scores) / len(scores)
            if score >= params.tau and (best is None or (score, other) > best):
                best = (score, other)
        if best is not None:
            target[sid] = best[1]
    if not target:
        return views

    def root(s: str) -> str:
        seen = set()
        while s in target and s not in seen:
            seen.add(s)
            s = target[s]
        return s

    out = dict(views)
    actions = []
    for sid in target:
        dest = root(sid)
        if dest == sid:
            continue
        log.warning("stories %s and %s are one event (indexed concurrently): joined under %s", sid, dest, dest)
        moved = out.pop(sid)
        for art in moved.articles:
            art["story_id"] = dest
            actions.append({"_op_type": "update", "_index": art_index, "_id": art["id"], "doc": {"story_id": dest}})
        out[dest].articles = sorted([*out[dest].articles, *moved.articles],
                                    key=lambda a: (str(a.get("published") or ""), a["id"]))
    if actions:
        helpers.bulk(es, actions, refresh=True)
    return out
