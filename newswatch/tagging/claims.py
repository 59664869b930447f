"""Troop-number claims: reported counts of the topic's personnel, with qualifier and attributed source.

Why a separate step: counts are what analysts chart over time ("3,000" in October, "11,000" in November,
"up to 12,000" from Kyiv), and the pipeline indexes them as structured fields. A number becomes a claim
only when all of these hold, which keeps out the look-alikes that a bare number regex would take:

* its sentence names the topic's actor (``claims.actor_concepts`` in the topic YAML);
* a unit word of the topic follows it closely ("soldiers", "военных", "명"), or, for "up to 12,000," at
  the end of a phrase, the sentence has a unit word elsewhere;
* no other actor sits between the number and its unit ("50,000 *Russian* troops") or, closer than the
  topic's actor, right before it ("Russia has deployed 50,000 troops");
* it is not a ratio ("one interpreter for every 30 soldiers"), a percentage, a year, or a loss count
  (a ``claims.not_after`` word such as "killed" right after the unit).

The number grammar (digit grouping, "thousand"/"тысяч"/"만", qualifiers such as "about"/"около"/"약") is
language knowledge and lives here; which words are units and actors is topic knowledge and lives in YAML.
"""

from __future__ import annotations

import datetime as dt
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from typing import Any

from newswatch.tagging.matcher import Hit, char_positions
from newswatch.tagging.models import Claim
from newswatch.tagging.topic import FAMILY_ENTITY, FAMILY_NOT_AFTER, FAMILY_TOPIC, FAMILY_UNIT, Topic

MAX_CLAIMS = 10

_MULT = {
    "thousand": 1000, "k": 1000, "tausend": 1000, "mille": 1000, "mil": 1000, "тыс": 1000, "тис": 1000,
    "만": 10000, "천": 1000, "万": 10000, "千": 1000,
}  # fmt: skip
_MULT_RE = r"thousand|tausend|mille|mil|тысяч\w*|тыс\.?|тисяч\w*|тис\.?|만|천|万|千"
_NUM_RE = r"\d{1,3}(?:[ ,.'\u00a0\u202f]\d{3})+(?!\d)|\d+(?:[.,]\d+)?"
# after 만/万 (10,000) or 천/千 (1,000) Korean and Chinese go on counting: 1만2천 = 12,000, 1만 2000 = 12,000,
# 1천500 = 1,500, 1만2천500 = 12,500
_KO_REST = r"(?:\s?\d{1,4}(?!\d)\s?(?:천|千)?(?:\s?\d{1,3}(?!\d))?)?"
_QTY_RE = rf"(?:{_NUM_RE})(?:\s?(?:{_MULT_RE}))?{_KO_REST}"
# no look-behind here: it is only tried where a digit is (see _quantities), and the "not after [\w.,]"
# check is done there
_QTY = re.compile(rf"({_QTY_RE})(?:\s*(?:-|~|～|to|and|до|и|і|bis|à|a|에서|から)\s*({_QTY_RE}))?")
_QTY_PART = re.compile(
    rf"({_NUM_RE})(?:\s?({_MULT_RE}))?(?:\s?(\d{{1,4}})(?!\d)\s?(천|千)?(?:\s?(\d{{1,3}})(?!\d))?)?"
)

_QUALIFIERS_BEFORE = [
    ("up to", "up to"), ("as many as", "up to"), ("about", "about"), ("around", "about"),
    ("approximately", "about"), ("roughly", "about"), ("some", "about"), ("an estimated", "about"),
    ("estimated", "about"), ("nearly", "nearly"), ("almost", "nearly"), ("close to", "nearly"),
    ("more than", "more than"), ("over", "more than"), ("at least", "at least"),
    ("fewer than", "fewer than"), ("less than", "fewer than"),
    ("около", "about"), ("примерно", "about"), ("порядка", "about"), ("приблизительно", "about"),
    ("до", "up to"), ("более", "more than"), ("свыше", "more than"), ("больше", "more than"),
    ("не менее", "at least"), ("по меньшей мере", "at least"), ("как минимум", "at least"),
    ("почти", "nearly"), ("близько", "about"), ("приблизно", "about"), ("понад", "more than"),
    ("більше", "more than"), ("щонайменше", "at least"), ("не менше", "at least"), ("майже", "nearly"),
    ("약", "about"), ("대략", "about"), ("최대", "up to"), ("최소", "at least"),
    ("rund", "about"), ("etwa", "about"), ("ungefähr", "about"), ("bis zu", "up to"),
    ("mehr als", "more than"), ("über", "more than"), ("mindestens", "at least"), ("knapp", "nearly"),
    ("environ", "about"), ("près de", "nearly"), ("jusqu'à", "up to"), ("plus de", "more than"),
    ("au moins", "at least"), ("quelque", "about"), ("unos", "about"), ("unas", "about"),
    ("alrededor de", "about"), ("cerca de", "nearly"), ("hasta", "up to"), ("más de", "more than"),
    ("al menos", "at least"), ("aproximadamente", "about"), ("約", "about"), ("最大", "up to"),
    ("およそ", "about"),
]  # fmt: skip
_QUALIFIERS_AFTER = [
    ("여", "more than"), ("余", "more than"), ("가량", "about"), ("정도", "about"), ("쯤", "about"),
    ("이상", "at least"), ("以上", "at least"), ("程度", "about"),
]  # fmt: skip
_RATIO_BEFORE = (
    "every", "each", "per", "one in", "1 in", "каждых", "каждые", "каждого", "кожних", "кожні",
    "кожного", "jede", "jeden", "chaque", "cada",
)  # fmt: skip
_RATIO_AFTER = ("당", "마다", "毎", "ごと")
_PERCENT_AFTER = ("%", "percent", "per cent", "процент", "відсот", "퍼센트", "prozent", "pour cent",
                  "por ciento")  # fmt: skip
_YEAR_AFTER = ("년", "年", "г.", "год", "рок", "year")
_NOT_COUNT_AFTER = _PERCENT_AFTER + _YEAR_AFTER
# ordinals: 1차/2차 (first/second batch or round), 1진 (first contingent), 2번째, 第1陣, 제1
_ORDINAL_AFTER = ("차", "진", "번째", "陣", "次")
_ORDINAL_BEFORE = ("제", "第")
# a number that reads as a year (1953, or 1,953 with a thousands separator) is only a count right before
# its unit ("1,953 soldiers"); "since 1953", "the 1953 armistice" or "since 1,953" are years
_YEAR_LIKE = re.compile(r"\d{4}|\d[ ,.'\u00a0\u202f]\d{3}")
_GROUPED = re.compile(r"\d{1,3}(?:[ ,.'\u00a0\u202f]\d{3})+")
_NON_DIGIT = re.compile(r"\D")
_ACCORDING = re.compile(r"\b(?i:according to) ((?:the )?[A-Z][\w.'’-]*(?: (?:of )?[A-Z][\w.'’-]*){0,4})")


def _parse_part(text: str) -> tuple[int, int] | None:
    """Value of one quantity ("10,000", "12 тысяч", "1만 2000") and its multiplier (1 if none)."""
    m = _QTY_PART.fullmatch(text.strip())
    if m is None:
        return None
    digits, mult, extra, extra_mult, extra_units = m.groups()
    if _GROUPED.fullmatch(digits):
        value = float(_NON_DIGIT.sub("", digits))
    else:
        value = float(digits.replace(",", "."))
    factor = 1
    if mult:
        factor = _MULT.get(mult.rstrip("."), 0) or (1000 if mult[0] in "тt" else 1)
    total = value * factor
    if extra:
        if mult in ("만", "万"):  # 1만 2000, 1만2천, 1만2천500
            if extra_units and not extra_mult:
                return None
            total += int(extra) * (1000 if extra_mult else 1) + int(extra_units or 0)
        elif mult in ("천", "千") and not extra_mult and not extra_units and int(extra) < 1000:
            total += int(extra)  # 1천500
        else:
            return None
    return int(round(total)), factor


# the qualifiers by their last character, in list order: a tail is only compared with the few that can match
_QUALIFIERS_BY_LAST: dict[str, list[tuple[str, str]]] = {}
for _phrase, _canonical in _QUALIFIERS_BEFORE:
    _QUALIFIERS_BY_LAST.setdefault(_phrase[-1], []).append((_phrase, _canonical))


def _qualifier(before: str, after: str) -> str | None:
    tail = before.rstrip()
    for phrase, canonical in _QUALIFIERS_BY_LAST.get(tail[-1:], ()):
        if tail.endswith(phrase) and (len(tail) == len(phrase) or not tail[-len(phrase) - 1].isalnum()):
            return canonical
    head = after.lstrip()
    for phrase, canonical in _QUALIFIERS_AFTER:
        if head.startswith(phrase):
            return canonical
    return None


def extract_claims(
    topic: Topic,
    text: str,
    folded: str,
    sentences: list[tuple[int, int]],
    hits: dict[str, list[Hit]],
) -> list[Claim]:
    """Claims found in ``text`` (title and body joined as the tagger scans them), at most ``MAX_CLAIMS``."""
    cfg = topic.config.claims
    if cfg is None:
        return []
    unit_hits = _Sorted(hits.get(FAMILY_UNIT, []))
    if not unit_hits.hits:
        return []
    actors = set(cfg.actor_concepts)
    others = set(cfg.other_actor_concepts)
    starts = [s for s, _ in sentences]
    topic_hits = hits.get(FAMILY_TOPIC, [])
    actor_sentences = sorted({bisect_right(starts, h.start) - 1 for h in topic_hits if h.pattern.label in actors})
    claims: list[Claim] = []
    seen: set[tuple[int, int | None, str | None]] = set()
    topic_sorted = _Sorted(topic_hits)
    loss_hits = _Sorted(hits.get(FAMILY_NOT_AFTER, []))
    entity_hits = _Sorted(hits.get(FAMILY_ENTITY, []))
    digits = _digit_positions(folded)
    if not digits:
        return []
    for si in actor_sentences:
        s_start, s_end = sentences[si]
        first = bisect_left(digits, s_start)
        if first == len(digits) or digits[first] >= s_end:
            continue  # no number in this sentence
        units = unit_hits.within(s_start, s_end)
        if not units:
            continue
        quantities = _quantities(folded, digits, first, s_end)
        if not quantities:
            continue
        in_sentence = topic_sorted.within(s_start, s_end)
        losses = loss_hits.within(s_start, s_end)
        for m in quantities:
            claim = _claim_at(topic, text, folded, m, (s_start, s_end), in_sentence, units, losses,
                              actors, others, entity_hits)  # fmt: skip
            if claim is None:
                continue
            key = (claim.count, claim.count_max, claim.source)
            if key not in seen:
                seen.add(key)
                claims.append(claim)
            if len(claims) >= MAX_CLAIMS:
                return claims
    return claims


_DIGIT_CHARS = "0123456789０１２３４５６７８９"  # ASCII and full-width (Japanese/Chinese text) digits


def _digit_positions(folded: str) -> list[int]:
    """Sorted positions of the digits in ``folded``."""
    return char_positions(folded, _DIGIT_CHARS)


def _quantities(folded: str, digits: list[int], first: int, end: int) -> list[re.Match[str]]:
    """Non-overlapping quantity matches before ``end``, from ``digits[first]`` on, each starting a digit run
    that does not follow a word character, "." or "," (so not "x5", "10.5" or the "000" of "10,000")."""
    found: list[re.Match[str]] = []
    pos = 0
    for k in range(first, len(digits)):
        i = digits[k]
        if i >= end:
            break
        if i < pos or (i > 0 and (folded[i - 1].isalnum() or folded[i - 1] in "_.,")):
            continue
        m = _QTY.match(folded, i, end)
        if m is not None:
            pos = m.end()
            found.append(m)
    return found


class _Sorted:
    """Hits sorted by start, with their starts kept apart so range lookups need no key function."""

    __slots__ = ("hits", "starts")

    def __init__(self, hits: list[Hit]) -> None:
        self.hits = hits
        self.starts = [h.start for h in hits]

    def within(self, start: int, end: int) -> list[Hit]:
        """The hits starting in ``[start, end)``."""
        return self.hits[bisect_left(self.starts, start) : bisect_left(self.starts, end)]


def _claim_at(
    topic: Topic,
    text: str,
    folded: str,
    m: re.Match[str],
    sentence: tuple[int, int],
    in_sentence: list[Hit],
    units: list[Hit],
    losses: list[Hit],
    actors: set[str],
    others: set[str],
    entity_hits: _Sorted,
) -> Claim | None:
    s_start, s_end = sentence
    first = _parse_part(m.group(1))
    second = _parse_part(m.group(2)) if m.group(2) else None
    if first is None:
        return None
    count, factor = first
    has_mult = factor > 1
    count_max = None
    if second is not None:
        count_max = second[0]
        if second[1] > 1 and not has_mult and count * second[1] <= count_max:
            count *= second[1]  # "10-12 тысяч": the multiplier of the second number applies to both
        if count_max <= count:
            count_max = None
    num_end = m.end()
    nxt = folded[num_end] if num_end < s_end else ""
    if nxt and nxt.isalnum() and not ("\uac00" <= nxt <= "\ud7a3" or "\u3040" <= nxt <= "\u9fff"):
        return None  # "61st", "10km", part of an identifier
    if folded.startswith(_ORDINAL_AFTER, num_end) or folded[max(s_start, m.start() - 1) : m.start()] in _ORDINAL_BEFORE:
        return None  # "1차 1천500명": the first batch (of 1,500), not a count of 1
    before = folded[max(s_start, m.start() - 30) : m.start()]
    after = folded[num_end : min(s_end, num_end + 30)]
    if before.rstrip().endswith(_RATIO_BEFORE) or after.lstrip().startswith(_NOT_COUNT_AFTER):
        return None
    unit = None
    for u in units:
        if num_end <= u.start <= num_end + 45:
            unit = u
            break
    if unit is not None and len(folded[num_end : unit.start].split()) > 4:
        unit = None  # too far away to be this number's noun
    if unit is not None and folded[unit.end : unit.end + 2].startswith(_RATIO_AFTER):
        return None
    if unit is not None:
        between = [h for h in in_sentence if num_end <= h.start < unit.start]
        labels = {h.pattern.label for h in between}
        if labels & others and not labels & actors:
            return None
        actor_between = bool(labels & actors)
        tail_end = unit.end
    else:
        # "up to 12,000." / "numbering up to 12,000, to fight" — a count closing a phrase
        rest = after.lstrip()
        if rest and rest[0].isalnum() and not rest.startswith(("to ", "who", "that", "and ")):
            return None
        if count < 100:
            return None
        unit = units[0]
        tail_end = num_end
        actor_between = False
        between = []
    year_like = 1900 <= count <= 2100 and not has_mult and count_max is None
    if year_like and _YEAR_LIKE.fullmatch(m.group(1).strip()) and (
        tail_end == num_end or not _unit_adjacent(folded, num_end, unit, between, actors)
    ):
        return None  # a year ("in October 2024", "since 1953", "the 1953 armistice"), not a count
    if count < 2:
        return None
    if any(tail_end <= h.start <= tail_end + 25 or m.start() - 12 <= h.end <= m.start() for h in losses):
        return None  # "3,000 soldiers killed or wounded", "사상자 3000명": a loss count, not a deployment
    # "troops from North Korea", "військових КНДР": the actor right after the unit
    actor_after = any(tail_end <= h.start <= tail_end + 12 and h.pattern.label in actors for h in in_sentence)
    if not actor_between and not actor_after:
        prior = [h for h in in_sentence if h.end <= m.start() and h.start >= m.start() - 80]
        labels = {h.pattern.label for h in prior}
        if labels & others and not labels & actors:
            return None  # "Russia has deployed 50,000 troops": only another actor is named before
    return Claim(
        count=count,
        count_max=count_max,
        qualifier=_qualifier(before, folded[num_end : num_end + 4]),
        unit=unit.pattern.label,
        source=_source(topic, text, entity_hits, sentence, m.start()),
        sentence=" ".join(text[s_start:s_end].split())[:400],
    )


def _unit_adjacent(folded: str, num_end: int, unit: Hit, between: list[Hit], actors: set[str]) -> bool:
    """True when only spaces, hyphens and the topic's actor ("1,953 North Korean soldiers") separate the
    number from its unit."""
    pos = num_end
    for h in between:
        if h.pattern.label not in actors or folded[pos : h.start].strip(" -"):
            return False
        pos = max(pos, h.end)
    return not folded[pos : unit.start].strip(" -")


def _source(topic: Topic, text: str, entity_hits: _Sorted, sentence: tuple[int, int], pos: int) -> str | None:
    """The cited source: the gazetteer person/org nearest the number, else an "according to X" phrase."""
    s_start, s_end = sentence
    best: tuple[int, str] | None = None
    for h in entity_hits.within(s_start, s_end):
        ent = topic.entities.get(h.pattern.label)
        if ent is None or ent.type == "place" or not ent.source:
            continue
        dist = pos - h.end if h.end <= pos else (h.start - pos) * 2  # prefer sources named before
        if best is None or dist < best[0]:
            best = (dist, ent.name)
    if best is not None:
        return best[1]
    m = _ACCORDING.search(text, s_start, s_end)
    return m.group(1) if m else None


def _as_date(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        return text[:10]


def build_claims_timeline(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per claim, sorted by publication date (undated last), for a chart of reported counts.

    Each item is ``{"id", "published", "title", "url", "claims": [Claim | dict]}``; ``published`` may be
    a date, a datetime or an ISO string. Rows: ``{"date", "count", "count_max", "qualifier", "source",
    "article_id", "title", "url", "sentence"}``.
    """
    rows: list[dict[str, Any]] = []
    for item in items:
        date = _as_date(item.get("published"))
        for raw in item.get("claims") or []:
            claim = raw if isinstance(raw, Claim) else Claim.model_validate(raw)
            rows.append(
                {
                    "date": date,
                    "count": claim.count,
                    "count_max": claim.count_max,
                    "qualifier": claim.qualifier,
                    "source": claim.source,
                    "article_id": item.get("id"),
                    "title": item.get("title"),
                    "url": item.get("url"),
                    "sentence": claim.sentence,
                }
            )
    rows.sort(key=lambda r: (r["date"] is None, r["date"] or "", str(r["article_id"]), r["count"]))
    return rows
