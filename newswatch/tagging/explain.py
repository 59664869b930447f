"""The topic authoring loop: explain a decision rule by rule, and score a topic on labeled items.

``explain`` shows, for one article, what every rule of a topic saw in its best window: the terms found for
each concept group, the groups missing, the exclusion that vetoed it, or the ``near`` check that failed.
``evaluate_labels`` scores a topic on JSON Lines of labeled items (``id, title, text, lang?, label``) and
lists every miss and false alarm with its evidence sentence and the rule that fired — or, for a miss, the
rule that came nearest to firing — so an analyst improves a topic by reading these, not the code.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from typing import Any

from newswatch.tagging.matcher import fold_text, split_sentences
from newswatch.tagging.tagger import _clean, _near_ok, evaluate, title_actor_ok
from newswatch.tagging.topic import FAMILY_TOPIC, Topic

LEVELS = ("core", "related", "none")


def explain(topic: Topic, title: str = "", text: str = "") -> dict[str, Any]:
    """The decision for one article and, per rule, what its best window held (see the module docstring)."""
    title, text = title or "", text or ""
    hay = f"{title}\n{text}"
    folded = fold_text(hay)
    hits = topic.index.scan(folded)
    result = evaluate(topic, title, hay, folded, hits)
    topic_hits = hits.get(FAMILY_TOPIC, [])
    offset = len(title) + 1
    sentences = ([(0, len(title))] if title.strip() else []) + split_sentences(text, offset=offset)
    starts = [s for s, _ in sentences]
    table = topic.rule_table
    by_sentence: dict[int, int] = {}
    terms: dict[int, dict[str, list[str]]] = {}
    positions: dict[int, list[tuple[int, int, int]]] = {}
    for h in topic_hits:
        si = max(0, bisect_right(starts, h.start) - 1)
        bit = table.bits[h.pattern.label]
        by_sentence[si] = by_sentence.get(si, 0) | bit
        terms.setdefault(si, {}).setdefault(h.pattern.label, []).append(hay[h.start:h.end])
        positions.setdefault(si, []).append((bit, h.start, h.end))
    ids = sorted(by_sentence)
    rules = []
    for compiled in table.rules:
        rule = compiled.rule
        best: dict[str, Any] | None = None
        for k, si in enumerate(ids):
            members = [j for j in ids[k:] if j < si + rule.window]
            mask = 0
            for j in members:
                mask |= by_sentence[j]
            have = [g for g in compiled.groups if g & mask]
            missing = [_group_name(rule.all_of[i]) for i, g in enumerate(compiled.groups) if not g & mask]
            vetoed = [c for c, bit in compiled.none_of if bit & mask]
            status = "fired"
            if missing:
                status = "missing " + ", ".join(missing)
            elif vetoed:
                status = f"vetoed by {vetoed[0]}"
            elif rule.near is not None and not _near_ok(compiled, members, positions, folded):
                status = (f"terms further apart than {rule.near} words" if isinstance(rule.near, int)
                          else f"terms further apart than near {rule.near} allows")
            from_title = (rule.actor_in_title and bool(title.strip()) and si > 0
                          and title_actor_ok(compiled, by_sentence.get(0, 0), mask, members, positions, folded))
            if from_title:  # the title's actor (``RuleConfig.actor_in_title``)
                status, have = "fired", list(compiled.groups)
            found = {c: sorted(set(t)) for j in ([0, *members] if from_title else members)
                     for c, t in terms.get(j, {}).items() if any(c in g for g in rule.all_of) or c in rule.none_of}
            cand = {"rule": rule.id, "level": rule.level, "status": status,
                    "groups_found": len(have), "groups": len(compiled.groups),
                    "sentence": _clean(hay[sentences[si][0]:sentences[si][1]]) if si < len(sentences) else "",
                    "terms": found, "reason": rule.reason}
            if best is None or _closeness(cand) > _closeness(best):
                best = cand
        rules.append(best or {"rule": rule.id, "level": rule.level, "status": "no topic terms", "groups_found": 0,
                              "groups": len(compiled.groups), "sentence": "", "terms": {}, "reason": rule.reason})
    return {"topic": topic.name, "level": result.level, "score": result.score, "evidence": result.evidence,
            "reasons": result.reasons, "rules": rules}


def _group_name(group: list[str]) -> str:
    return "|".join(group)


def _closeness(c: dict[str, Any]) -> tuple[int, float, int]:
    fired = c["status"] == "fired"
    return (1 if fired else 0, c["groups_found"] / max(1, c["groups"]), -len(c["status"]))


def nearest_rule(explained: dict[str, Any], level: str) -> dict[str, Any] | None:
    """The rule of ``level`` that fired, else the one that came nearest (most groups found)."""
    rules = [r for r in explained["rules"] if r["level"] == level]
    return max(rules, key=_closeness) if rules else None


def prf(gold: list[str], pred: list[str], positive: set[str]) -> dict[str, float]:
    tp = sum(1 for g, p in zip(gold, pred, strict=True) if g in positive and p in positive)
    fp = sum(1 for g, p in zip(gold, pred, strict=True) if g not in positive and p in positive)
    fn = sum(1 for g, p in zip(gold, pred, strict=True) if g in positive and p not in positive)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "tp": tp, "fp": fp, "fn": fn}


def above(level: str, label: str) -> bool:
    """Whether ``level`` ranks above ``label`` (core > related > none): a false alarm, where ``label`` is
    the item's gold level."""
    return LEVELS.index(level) < LEVELS.index(label)


def evaluate_labels(topic: Topic, items: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Precision/recall/F1 for ``core`` and ``core+related``, the false-positive rate on negatives (and on
    look-alikes: items whose ``category`` starts with ``lookalike``; a look-alike is a false positive when it
    is tagged above its label, so a ``related`` look-alike of a core topic tagged ``related`` is right), and
    every error explained."""
    gold: list[str] = []
    pred: list[str] = []
    errors: list[dict[str, Any]] = []
    lookalikes = lookalike_fp = negatives = negative_fp = 0
    for item in items:
        label = item.get("label")
        if label not in LEVELS:
            raise ValueError(f"item {item.get('id')!r}: label must be one of {LEVELS}, not {label!r}")
        ex = explain(topic, str(item.get("title") or ""), str(item.get("text") or ""))
        got = ex["level"]
        gold.append(label)
        pred.append(got)
        if label == "none":
            negatives += 1
            negative_fp += got != "none"
        if str(item.get("category", "")).startswith("lookalike"):
            lookalikes += 1
            lookalike_fp += above(got, label)
        if got != label:
            kind = "false_alarm" if above(got, label) else "miss"
            rule = nearest_rule(ex, got if kind == "false_alarm" else label)
            errors.append({"id": item.get("id"), "lang": item.get("lang"), "kind": kind, "label": label,
                           "predicted": got, "title": item.get("title"),
                           "evidence": (ex["evidence"] or [rule["sentence"] if rule else ""])[0],
                           "rule": rule["rule"] if rule else None, "rule_status": rule["status"] if rule else None,
                           "terms": rule["terms"] if rule else {}})
    return {"topic": topic.name, "n": len(gold), "core": prf(gold, pred, {"core"}),
            "core_related": prf(gold, pred, {"core", "related"}),
            "fp_rate_negatives": round(negative_fp / negatives, 4) if negatives else 0.0,
            "fp_rate_lookalikes": round(lookalike_fp / lookalikes, 4) if lookalikes else 0.0,
            "negatives": negatives, "lookalikes": lookalikes, "errors": errors}
