"""Multilingual term matching: one Aho-Corasick scan, then Unicode-aware boundary checks.

Why this shape: a topic has hundreds of terms in many languages and the tagger must handle thousands of
articles per second, so every term of every language (topic terms, gazetteer aliases, claim units) goes
into one automaton and the text is scanned once. The automaton finds candidate substrings; boundary rules
written here decide which candidates are words:

* plain term ``Kursk``: a non-word character (or the text edge) on both sides, so "Kursk" is not found in
  "Kurskovich" but is found in "Kursk's";
* ``stem*``: any word characters may follow (Russian/Ukrainian/German inflection: ``курск*`` finds
  "Курска", "Курской"); ``*`` inside a multi-word term inflects every word (``северн* коре*`` finds
  "Северной Корее"); a leading ``*`` lets word characters precede (German compounds);
* a term ending in Hangul may be followed by more Hangul, because Korean attaches particles to nouns
  (북한군은, 북한군이, 파병을) — but not by Latin letters or digits;
* Chinese characters and Japanese kana have no word boundaries, so terms in those scripts match anywhere.

Matching is case-insensitive and folds a few look-alike characters (ё/е, typographic apostrophes and
dashes, no-break spaces) with a length-preserving mapping, so offsets always index the original text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

import ahocorasick_rs

_FOLD = (
    ("ё", "е"), ("’", "'"), ("‘", "'"), ("ʼ", "'"), ("`", "'"), ("´", "'"), ("\u00a0", " "),
    ("\u2009", " "), ("\u202f", " "), ("\t", " "), ("\u2010", "-"), ("\u2011", "-"), ("\u2012", "-"),
    ("\u2013", "-"), ("\u2014", "-"),
)  # fmt: skip


def fold_text(text: str) -> str:
    """Lower-case and fold ``text`` without changing its length, so match offsets index the original."""
    low = text.lower()
    if len(low) != len(text):  # e.g. "İ" lowers to two code points; keep such characters as they are
        low = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    for src, dst in _FOLD:  # str.replace per present character is much faster than str.translate
        if src in low:
            low = low.replace(src, dst)
    return low


def _is_hangul(ch: str) -> bool:
    return "\uac00" <= ch <= "\ud7a3" or "\u1100" <= ch <= "\u11ff" or "\u3130" <= ch <= "\u318f"


def _is_cjk(ch: str) -> bool:
    """Scripts written without spaces between words (Chinese characters, Japanese kana)."""
    return "\u3040" <= ch <= "\u30ff" or "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


_LEFT_STRICT, _LEFT_FREE = 0, 1
_RIGHT_WORD, _RIGHT_HANGUL, _RIGHT_FREE = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Pattern:
    """One compiled term: what it means (``family`` + ``label``) and how its boundaries are checked."""

    term: str
    label: str
    family: str
    key: str
    tail: re.Pattern[str] | None
    left: int
    right: int


def compile_pattern(term: str, label: str, family: str) -> Pattern:
    """Compile a YAML term (see the module docstring for the ``*`` syntax) into a :class:`Pattern`.

    Raises ``ValueError`` for terms that cannot be matched safely (empty, or a bare ``*``).
    """
    raw = " ".join(term.split())
    folded = fold_text(raw)
    left_free = folded.startswith("*")
    body = folded.lstrip("*")
    if not body or body.startswith("*") or "**" in body:
        raise ValueError(f"term {term!r} is empty or has misplaced '*'")
    pieces = body.split("*")
    key = pieces[0]
    if not key.strip():
        raise ValueError(f"term {term!r} has no literal text before its first '*'")
    tail: re.Pattern[str] | None = None
    if len(pieces) > 1:
        # every '*' becomes "any word characters"; the literal pieces in between must follow exactly
        tail = re.compile("".join(r"\w*" + re.escape(p) for p in pieces[1:]))
    last = body.rstrip("*")[-1]
    if body.endswith("*") or _is_cjk(last):
        right = _RIGHT_FREE
    elif _is_hangul(last):
        right = _RIGHT_HANGUL
    else:
        right = _RIGHT_WORD
    left = _LEFT_FREE if left_free or _is_cjk(key[0]) else _LEFT_STRICT
    return Pattern(term=term, label=label, family=family, key=key, tail=tail, left=left, right=right)


class Hit(NamedTuple):
    """A boundary-checked match; offsets index the haystack given to :meth:`TermIndex.scan`.

    A named tuple rather than a dataclass because hundreds are created per article and tuples are cheap.
    """

    start: int
    end: int
    pattern: Pattern


class TermIndex:
    """All patterns of a topic in one Aho-Corasick automaton; ``scan`` returns boundary-checked hits.

    Within each family, overlapping hits are resolved leftmost-longest: the longer term wins, which is how
    a YAML term such as "Russian troops" (another army) swallows the bare "troops" inside it, and how an
    exclusion such as "Kursk submarine" swallows "Kursk". Different families never compete.
    """

    def __init__(self, patterns: Iterable[Pattern]) -> None:
        by_key: dict[str, list[Pattern]] = {}
        for pattern in patterns:
            bucket = by_key.setdefault(pattern.key, [])
            if pattern not in bucket:
                bucket.append(pattern)
        if not by_key:
            raise ValueError("a term index needs at least one pattern")
        self._keys = list(by_key)
        self._buckets = [by_key[k] for k in self._keys]
        self._ac = ahocorasick_rs.AhoCorasick(
            self._keys,
            matchkind=ahocorasick_rs.MATCHKIND_STANDARD,
            implementation=ahocorasick_rs.Implementation.DFA,  # fastest scan; memory is small at this size
        )
        self.size = sum(len(b) for b in self._buckets)

    def scan(self, folded: str) -> dict[str, list[Hit]]:
        """Find all patterns in ``folded`` (already :func:`fold_text`-ed); returns hits per family."""
        n = len(folded)
        candidates: dict[str, list[Hit]] = {}
        buckets = self._buckets
        for idx, start, end in self._ac.find_matches_as_indexes(folded, overlapping=True):
            for p in buckets[idx]:
                if p.left == _LEFT_STRICT and start > 0:
                    prev = folded[start - 1]
                    if prev.isalnum() or prev == "_":
                        continue
                stop = end
                if p.tail is not None:
                    m = p.tail.match(folded, end)
                    if m is None:
                        continue
                    stop = m.end()
                if stop < n and p.right != _RIGHT_FREE:
                    nxt = folded[stop]
                    if (nxt.isalnum() or nxt == "_") and not (p.right == _RIGHT_HANGUL and _is_hangul(nxt)):
                        continue
                bucket = candidates.get(p.family)
                if bucket is None:
                    bucket = candidates[p.family] = []
                bucket.append(Hit(start, stop, p))
        return {family: _leftmost_longest(hits) for family, hits in candidates.items()}


def _leftmost_longest(hits: list[Hit]) -> list[Hit]:
    """Non-overlapping hits, longest first at each position; equal spans are all kept, so one term listed
    under two concepts (e.g. Korean 북러, "North Korea–Russia") counts for both."""
    hits.sort(key=lambda h: (h.start, h.start - h.end))
    kept: list[Hit] = []
    last_start, last_end = -1, -1
    labels: set[str] = set()
    for h in hits:
        if h.start == last_start and h.end == last_end:
            if h.pattern.label not in labels:
                labels.add(h.pattern.label)
                kept.append(h)
        elif h.start >= last_end:
            kept.append(h)
            last_start, last_end = h.start, h.end
            labels = {h.pattern.label}
    return kept


# --- sentences -------------------------------------------------------------------------------------------

_CANDIDATE = re.compile(r"[.!?…。！？\n]+")  # a plain class: re scans for it fast, unlike an alternation
_CLOSERS = frozenset("\"'»”’)]")
_ABBREV = frozenset(
    ["mr", "mrs", "ms", "dr", "gen", "lt", "col", "maj", "sgt", "capt", "cpt", "st", "no", "vs", "jr", "sr", "prof", "gov", "sen", "rep", "adm", "cmdr", "corp", "inc", "ltd", "ген", "т", "тыс", "млн", "млрд", "г", "гг", "ст", "им", "ім", "тис", "грн", "d.h", "z.b", "bzw"]
)


def split_sentences(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """Split ``text`` into sentence spans ``(start, end)`` (shifted by ``offset``), whitespace trimmed.

    A cheap rule-based splitter is enough here: sentences only bound the co-occurrence window, so an
    occasional wrong split costs little, while a tokenizer model would cost far more time per article.
    A full stop after a known abbreviation or a single letter ("U.S.", "Gen.", "тыс.") or before a
    lower-case letter does not end a sentence.
    """
    cuts = [0]
    n = len(text)
    for m in _CANDIDATE.finditer(text):
        run = m.group()
        end = m.end()
        if "\n" in run or run[-1] in "。！？":
            cuts.append(end)
            continue
        while end < n and text[end] in _CLOSERS:
            end += 1
        if end < n and not text[end].isspace():
            continue  # "10.5", "U.S.-led", "word.Word"
        if run[0] == ".":
            j = m.start()
            k = j
            while k > 0 and (text[k - 1].isalnum() or text[k - 1] == "."):
                k -= 1
            word = text[k:j].lower()
            if len(word) == 1 or word in _ABBREV or (len(word) <= 3 and "." in word):
                continue
            rest = text[end : end + 3].lstrip()
            if rest and rest[0].islower():
                continue
        cuts.append(end)
    cuts.append(n)
    spans: list[tuple[int, int]] = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        chunk = text[a:b]
        stripped = chunk.strip()
        if stripped:
            lead = len(chunk) - len(chunk.lstrip())
            spans.append((a + lead + offset, a + lead + len(stripped) + offset))
    return spans
