"""``tag_article``: decide whether an article is about a topic (core / related / none) and explain why.

How a decision is made (all topic knowledge comes from the topic YAML):

1. title and text are folded and scanned once with the topic's Aho-Corasick index (``matcher.py``);
   overlapping terms resolve leftmost-longest, so exclusion terms ("Kursk submarine") and other actors'
   phrases ("Russian troops") swallow the bare terms inside them;
2. the text is split into sentences; the title is a sentence of its own;
3. each rule fires where all its concept groups occur within ``window`` consecutive sentences and none of
   its ``none_of`` exclusions occurs there. Co-occurrence is local on purpose: "North Korea" in one
   paragraph and "troops" five paragraphs later is what makes a naive boolean query noisy, while a single
   sentence anywhere — including the last — is enough. A rule with ``near`` also asks its groups to sit
   within that many words of its actor (``near: [..]``: a distance per group); one with ``actor_in_title``
   may take its actor from the title for a body sentence that names none (``topic.RuleConfig``);
4. the level is the best level among fired rules; the score grows with the weight and number of
   independent windows that fired (core 0.6–1.0, related 0.3–0.6, none below 0.3).
"""

from __future__ import annotations

import logging
import re
from bisect import bisect_right
from collections import Counter
from typing import Any

from newswatch.tagging.claims import extract_claims
from newswatch.tagging.entities import resolve_entities
from newswatch.tagging.matcher import Hit, fold_text, split_sentences
from newswatch.tagging.models import Level, TagResult
from newswatch.tagging.topic import FAMILY_TOPIC, CompiledRule, RuleConfig, Topic, load_topic

log = logging.getLogger(__name__)

MAX_MATCHES = 50
MAX_EVIDENCE = 3
_BASE = {"core": 0.6, "related": 0.3}
_SPAN = {"core": 0.4, "related": 0.3}


def tag_article(topic: Topic | str, title: str = "", text: str = "", lang: str | None = None) -> TagResult:
    """Tag one article against ``topic`` (a loaded :class:`Topic` or a topic name).

    ``lang`` is an optional ISO 639-1 hint; it is not needed, because every language's terms are matched
    in one pass (articles often quote names and phrases in other languages). Never raises on odd input:
    empty title or text simply yields level ``none``.
    """
    if isinstance(topic, str):
        topic = load_topic(topic)
    title = title or ""
    text = text or ""
    hay = f"{title}\n{text}"
    folded = fold_text(hay)
    return evaluate(topic, title, hay, folded, topic.index.scan(folded))


def evaluate(topic: Topic, title: str, hay: str, folded: str, hits: dict[str, list[Hit]]) -> TagResult:
    """The decision for ``topic`` given the hits of its patterns in ``hay`` (``title + "\\n" + text``,
    folded as ``folded``): what ``tag_article`` does after its scan, and what ``TopicSet.tag`` runs per topic
    after one scan for all topics."""
    title_len = len(title)
    offset = title_len + 1
    text = hay[offset:]
    entities = resolve_entities(topic, hits)
    topic_hits = hits.get(FAMILY_TOPIC, [])
    if not topic_hits:
        return TagResult(topic=topic.name, level="none", score=0.0, reasons=["no topic terms found"],
                         entities=entities)  # fmt: skip

    table = topic.rule_table
    bits = table.bits
    labels = [h.pattern.label for h in topic_hits]
    present = set(labels)
    article_mask = 0
    for label in present:
        article_mask |= bits[label]
    # rules whose groups all occur somewhere in the article; the others cannot fire in any window
    rules = [r for r in table.rules if all(g & article_mask for g in r.groups)]
    if not rules:
        # no rule can fire anywhere in the article: skip sentence splitting (most of a news stream)
        concepts = sorted(present - table.exclusion_ids)
        return TagResult(
            topic=topic.name, level="none", score=min(0.25, 0.05 * len(concepts)), entities=entities,
            matches=_matches(topic_hits, hay, title_len, offset, None, set()),
            reasons=[f"no rule satisfied anywhere in the article; concepts seen: {', '.join(concepts) or '-'}"]
            + _exclusion_reasons(topic, topic_hits, hay),
        )

    sentences = ([(0, title_len)] if title.strip() else []) + split_sentences(text, offset=offset)
    starts = [s for s, _ in sentences]
    hit_sentence = [bisect_right(starts, h.start) - 1 for h in topic_hits]
    by_sentence: dict[int, int] = {}  # sentence -> bit mask of the concepts found in it
    positions: dict[int, list[tuple[int, int, int]]] = {}  # sentence -> (bit, start, end), for ``near``
    relational = any(r.rule.near is not None for r in rules)
    for si, label, h in zip(hit_sentence, labels, topic_hits, strict=True):
        by_sentence[si] = by_sentence.get(si, 0) | bits[label]
        if relational:
            positions.setdefault(si, []).append((bits[label], h.start, h.end))

    fired, vetoes = _fire_rules(rules, by_sentence, positions, folded, has_title=bool(title.strip()))
    level: Level = "none"
    if any(r.level == "core" for r, _, _ in fired):
        level = "core"
    elif fired:
        level = "related"
    best = sorted(
        ((r, si, used) for r, si, used in fired if r.level == level), key=lambda f: (-f[0].weight, f[1])
    )
    score = _score(level, best, present, table.exclusion_ids)

    evidence_ids: list[int] = []
    for _, _, used in best:
        for si in used:
            if si not in evidence_ids and len(evidence_ids) < MAX_EVIDENCE:
                evidence_ids.append(si)
    evidence = [_clean(hay[sentences[si][0] : sentences[si][1]]) for si in evidence_ids]
    reasons = _reasons(topic, level, fired, best, vetoes, topic_hits, hay, present, bool(title.strip()))
    matches = _matches(topic_hits, hay, title_len, offset, hit_sentence, set(evidence_ids))
    claims = extract_claims(topic, hay, folded, sentences, hits) if level != "none" else []
    return TagResult(topic=topic.name, level=level, score=round(score, 3), matches=matches,
                     evidence=evidence, reasons=reasons, entities=entities, claims=claims)  # fmt: skip


def _fire_rules(
    rules: list[CompiledRule], by_sentence: dict[int, int],
    positions: dict[int, list[tuple[int, int, int]]] | None = None, hay: str = "", *, has_title: bool = False,
) -> tuple[list[tuple[RuleConfig, int, list[int]]], list[tuple[RuleConfig, int, str]]]:
    """Every (rule, first sentence, contributing sentences) that fired, and every veto that stopped one.

    Windows start at each sentence with a topic term; a window's concepts are the OR of its sentences'
    masks, computed once per window size, so checking a rule against a window is a few integer ANDs. A rule
    with ``near`` is then checked on the term positions of the window (``_near_ok``); one with
    ``actor_in_title`` may also take its actor from the title (sentence 0 when ``has_title``,
    ``title_actor_ok``).
    """
    fired: list[tuple[RuleConfig, int, list[int]]] = []
    vetoes: list[tuple[RuleConfig, int, str]] = []
    ids = sorted(by_sentence)
    windows: dict[int, list[tuple[int, list[int], int]]] = {}
    title_mask = by_sentence.get(0, 0) if has_title else 0
    for compiled in rules:
        rule = compiled.rule
        size = rule.window
        spans = windows.get(size)
        if spans is None and size == 1:
            spans = windows[size] = [(si, [si], by_sentence[si]) for si in ids]
        elif spans is None:
            spans = windows[size] = []
            for k, si in enumerate(ids):
                members = [si]
                mask = by_sentence[si]
                for j in ids[k + 1 : k + size]:
                    if j >= si + size:
                        break
                    members.append(j)
                    mask |= by_sentence[j]
                spans.append((si, members, mask))
        groups = compiled.groups
        for si, members, mask in spans:
            for g in groups:
                if not g & mask:
                    break
            else:
                if mask & compiled.none_mask:
                    blocked = next(c for c, bit in compiled.none_of if bit & mask)
                    vetoes.append((rule, si, blocked))
                    continue
                if rule.near is not None and not _near_ok(compiled, members, positions or {}, hay):
                    continue
                needed = compiled.needed
                used = [j for j in members if by_sentence[j] & needed]
                if used[0] == si:  # otherwise the window starting at used[0] reports the co-occurrence
                    fired.append((rule, si, used))
        if rule.actor_in_title and title_mask & groups[0] and not title_mask & compiled.none_mask:
            for si, members, mask in spans:  # one sentence each: ``actor_in_title`` rules have window 1
                if si and title_actor_ok(compiled, title_mask, mask, members, positions or {}, hay):
                    fired.append((rule, si, [0, si]))
    return fired, vetoes


def title_actor_ok(compiled: CompiledRule, title_mask: int, mask: int, members: list[int],
                   positions: dict[int, list[tuple[int, int, int]]], hay: str) -> bool:
    """Whether the body window ``members`` (concepts ``mask``) fires ``compiled`` with the actor of the title
    (concepts ``title_mask``): the title has the actor group and the window every other group, near each
    other, but no actor of its own; neither has a ``none_of`` concept (``RuleConfig.actor_in_title``)."""
    actor = compiled.groups[0]
    if not title_mask & actor or mask & actor or (title_mask | mask) & compiled.none_mask:
        return False
    if not all(g & mask for g in compiled.groups[1:]):
        return False
    return _near_ok(compiled, members, positions, hay, from_title=True)


def _near_ok(compiled: CompiledRule, members: list[int], positions: dict[int, list[tuple[int, int, int]]],
             hay: str, *, from_title: bool = False) -> bool:
    """Whether some term of the first group (the actor) has, for every other group, a term of that group at
    most ``near`` words away (that group's own distance when ``near`` is a list; words between the two
    terms; overlapping terms are 0 apart) and, for a rule with a barrier, no clause separator of the barrier
    between the two. ``hay`` may be the folded text. ``from_title``: the actor is the title's, so the second
    group is the reference point, and each later group must be within its own distance of it (the first
    distance is not used)."""
    barrier = compiled.barrier
    hits = [h for si in members for h in positions.get(si, ())]
    skip = 1 if from_title else 0
    first, rest = compiled.groups[skip], compiled.groups[skip + 1:]
    nears = compiled.nears[skip:]
    for bit, a_start, a_end in hits:
        if not bit & first:
            continue
        if all(any(b & g and _gap(a_start, a_end, s, e, hay) <= near
                   and (barrier is None or not _straddles(barrier, a_start, a_end, s, e, hay))
                   for b, s, e in hits) for g, near in zip(rest, nears, strict=True)):
            return True
    return False


def _straddles(barrier: re.Pattern[str], a_start: int, a_end: int, b_start: int, b_end: int, hay: str) -> bool:
    """Whether a separator of ``barrier`` stands between two terms (overlapping terms never straddle one).

    The separator may run into the later term: "while North Korea" ends a clause before "North Korea"."""
    if b_start >= a_end:
        return barrier.search(hay, a_end, b_end) is not None
    if a_start >= b_end:
        return barrier.search(hay, b_end, a_end) is not None
    return False


def _gap(a_start: int, a_end: int, b_start: int, b_end: int, hay: str) -> int:
    if b_start >= a_end:
        return len(hay[a_end:b_start].split())
    if a_start >= b_end:
        return len(hay[b_end:a_start].split())
    return 0


def _score(
    level: Level,
    best: list[tuple[RuleConfig, int, list[int]]],
    present: set[str],
    exclusions: frozenset[str],
) -> float:
    if level == "none":
        return min(0.25, 0.05 * len(present - exclusions))
    windows: dict[int, float] = {}
    for rule, si, _ in best:
        windows[si] = max(windows.get(si, 0.0), rule.weight)
    miss = 1.0
    for weight in sorted(windows.values(), reverse=True)[:5]:
        miss *= 1.0 - 0.7 * weight
    return min(1.0, _BASE[level] + _SPAN[level] * (1.0 - miss))


def _where(si: int, has_title: bool) -> str:
    if has_title:
        return "title" if si == 0 else f"sentence {si}"
    return f"sentence {si + 1}"


def _reasons(
    topic: Topic,
    level: Level,
    fired: list[tuple[RuleConfig, int, list[int]]],
    best: list[tuple[RuleConfig, int, list[int]]],
    vetoes: list[tuple[RuleConfig, int, str]],
    topic_hits: list[Hit],
    hay: str,
    present: set[str],
    has_title: bool,
) -> list[str]:
    reasons: list[str] = []
    shown: set[str] = set()
    counts = Counter(r.id for r, _, _ in best)
    for rule, si, _ in best:
        if rule.id in shown:
            continue
        shown.add(rule.id)
        count = counts[rule.id]
        more = f" (+{count - 1} more)" if count > 1 else ""
        reasons.append(f"{level}: {rule.reason} [rule {rule.id}, {_where(si, has_title)}{more}]")
        if len(reasons) >= 3:
            break
    if level == "core":
        related = sorted({r.id for r, _, _ in fired if r.level == "related"})
        if related:
            reasons.append(f"also related: rules {', '.join(related)}")
    for rule, si, blocked in vetoes[:3]:
        reasons.append(f"rule {rule.id} ruled out in {_where(si, has_title)}: '{blocked}' in the same window")
    reasons.extend(_exclusion_reasons(topic, topic_hits, hay))
    if level == "none":
        concepts = sorted(present - topic.exclusion_ids)
        reasons.append(f"no rule satisfied within its window; concepts seen: {', '.join(concepts) or '-'}")
    return reasons


def _exclusion_reasons(topic: Topic, topic_hits: list[Hit], hay: str) -> list[str]:
    """One line per exclusion context found, so a reader sees what was ruled out and why."""
    exclusions = topic.config.exclusions
    out: list[str] = []
    if not exclusions:
        return out
    seen: set[str] = set()
    for h in topic_hits:
        cid = h.pattern.label
        if cid in exclusions and cid not in seen:
            seen.add(cid)
            note = exclusions[cid].description or cid
            out.append(f"exclusion {cid}: '{_clean(hay[h.start:h.end])}' ({note})")
    return out


def _matches(
    topic_hits: list[Hit],
    hay: str,
    title_len: int,
    offset: int,
    hit_sentence: list[int] | None,
    evidence: set[int],
) -> list[dict[str, Any]]:
    """:class:`TermMatch` fields of the term matches in text order, at most ``MAX_MATCHES`` to keep documents
    small; when there are more, those in evidence sentences (``hit_sentence[i]`` is the sentence of
    ``topic_hits[i]``) are kept first.
    """
    chosen = topic_hits
    if len(topic_hits) > MAX_MATCHES:
        in_evidence = [hit_sentence is not None and hit_sentence[i] in evidence for i in range(len(topic_hits))]
        keep = {i for i, e in enumerate(in_evidence) if e}
        if len(keep) >= MAX_MATCHES:
            keep = set(sorted(keep)[:MAX_MATCHES])
        else:
            keep.update([i for i, e in enumerate(in_evidence) if not e][: MAX_MATCHES - len(keep)])
        chosen = [h for i, h in enumerate(topic_hits) if i in keep]
    # plain dicts: TagResult validates the whole list in one call into pydantic-core, several times faster
    # than building TermMatch objects one by one
    out: list[dict[str, Any]] = []
    for start, end, pattern in chosen:
        if start < title_len:
            out.append({"term": hay[start:end], "concept": pattern.label, "field": "title",
                        "start": start, "end": end})  # fmt: skip
        elif start >= offset:
            out.append({"term": hay[start:end], "concept": pattern.label, "field": "text",
                        "start": start - offset, "end": end - offset})  # fmt: skip
    return out


def _clean(sentence: str, limit: int = 400) -> str:
    return " ".join(sentence.split())[:limit]
