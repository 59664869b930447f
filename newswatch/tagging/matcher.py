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


_Target = tuple[int, int, "Pattern"]  # (family number, position in the key's bucket, pattern)


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
        # The scan loop runs for every candidate of every article, so the per-key work is unpacked here:
        # patterns of one key that share their boundary rules (typically the same word as a topic term and
        # as a claim unit) are checked once, then recorded for each (family number, position, pattern).
        self._families: list[str] = []
        family_no: dict[str, int] = {}
        # A check is (left boundary checked, tail regex, right boundary checked, Hangul may follow, targets).
        self._checks: list[tuple[tuple[bool, re.Pattern[str] | None, bool, bool, tuple[_Target, ...]], ...]]
        self._checks = []
        for bucket in self._buckets:
            by_rule: dict[tuple[bool, re.Pattern[str] | None, bool, bool], list[_Target]] = {}
            for pos, p in enumerate(bucket):
                fam = family_no.setdefault(p.family, len(family_no))
                if fam == len(self._families):
                    self._families.append(p.family)
                rule = (p.left == _LEFT_STRICT, p.tail, p.right != _RIGHT_FREE, p.right == _RIGHT_HANGUL)
                by_rule.setdefault(rule, []).append((fam, pos, p))
            self._checks.append(tuple((*rule, tuple(targets)) for rule, targets in by_rule.items()))

    def scan(self, folded: str) -> dict[str, list[Hit]]:
        """Find all patterns in ``folded`` (already :func:`fold_text`-ed); returns hits per family."""
        n = len(folded)
        # Candidates are plain (start, -stop, order, position, pattern) tuples, one list per family: they
        # sort leftmost-longest without a key function; ``order`` (scan order) and ``position`` (YAML order
        # within a key) keep equal spans in a stable order. Hit objects are only made for the survivors.
        candidates: list[list[tuple[int, int, int, int, Pattern]]] = [[] for _ in self._families]
        checks = self._checks
        order = 0
        for idx, start, end in self._ac.find_matches_as_indexes(folded, overlapping=True):
            order += 1
            for strict, tail, bounded, hangul_ok, targets in checks[idx]:
                if strict and start:
                    prev = folded[start - 1]
                    if prev != " " and (prev.isalnum() or prev == "_"):  # a space is the common case
                        continue
                stop = end
                if tail is not None:
                    m = tail.match(folded, end)
                    if m is None:
                        continue
                    stop = m.end()
                if bounded and stop < n:
                    nxt = folded[stop]
                    if nxt != " " and (nxt.isalnum() or nxt == "_") and not (hangul_ok and _is_hangul(nxt)):
                        continue
                for fam, pos, p in targets:
                    candidates[fam].append((start, -stop, order, pos, p))
        return {self._families[fam]: _leftmost_longest(c) for fam, c in enumerate(candidates) if c}


_new_hit = tuple.__new__  # Hit(start, end, pattern) without the NamedTuple's Python-level __new__


def _leftmost_longest(candidates: list[tuple[int, int, int, int, Pattern]]) -> list[Hit]:
    """Non-overlapping hits, longest first at each position; equal spans are all kept, so one term listed
    under two concepts (e.g. Korean 북러, "North Korea–Russia") counts for both."""
    candidates.sort()
    kept: list[Hit] = []
    last_start, last_end = -1, -1
    first_label = ""
    labels: set[str] | None = None  # labels of the current span beyond the first, if any (rare)
    for start, neg_stop, _, _, p in candidates:
        if start >= last_end:
            last_start, last_end = start, -neg_stop
            kept.append(_new_hit(Hit, (start, last_end, p)))
            first_label = p.label
            labels = None
        elif start == last_start and -neg_stop == last_end:
            label = p.label
            if label != first_label and (labels is None or label not in labels):
                labels = labels or set()
                labels.add(label)
                kept.append(_new_hit(Hit, (start, last_end, p)))
    return kept


# --- sentences -------------------------------------------------------------------------------------------

_TERMINATORS = ".!?…。！？\n"  # located with str.find, which is several times faster than a regex scan
_CLOSERS = frozenset("\"'»”’)]")
_ABBREV = frozenset(
    ["mr", "mrs", "ms", "dr", "gen", "lt", "col", "maj", "sgt", "capt", "cpt", "st", "no", "vs", "jr", "sr",
     "prof", "gov", "sen", "rep", "adm", "cmdr", "corp", "inc", "ltd", "ген", "т", "тыс", "млн", "млрд", "г", "гг",
     "ст", "им", "ім", "тис", "грн", "d.h", "z.b", "bzw"]
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
    for run_start, end in _terminator_runs(text):
        run = text[run_start:end]
        if "\n" in run or run[-1] in "。！？":
            cuts.append(end)
            continue
        while end < n and text[end] in _CLOSERS:
            end += 1
        if end < n and not text[end].isspace():
            continue  # "10.5", "U.S.-led", "word.Word"
        if run[0] == ".":
            j = run_start
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
        while a < b and text[a].isspace():  # usually one space or newline: cheaper than slicing and strip
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if a < b:
            spans.append((a + offset, b + offset))
    return spans


def char_positions(text: str, chars: str) -> list[int]:
    """Sorted positions in ``text`` of any of ``chars``; ``str.find`` per char is far faster than a regex."""
    found: list[int] = []
    find = text.find
    for ch in chars:
        i = find(ch)
        while i >= 0:
            found.append(i)
            i = find(ch, i + 1)
    found.sort()
    return found


def _terminator_runs(text: str) -> list[tuple[int, int]]:
    """Spans ``(start, end)`` of the maximal runs of sentence-ending characters ("." "?!" "...\n")."""
    found = char_positions(text, _TERMINATORS)
    if not found:
        return []
    runs: list[tuple[int, int]] = []
    start = prev = found[0]
    for i in found[1:]:
        if i != prev + 1:
            runs.append((start, prev + 1))
            start = i
        prev = i
    runs.append((start, prev + 1))
    return runs
