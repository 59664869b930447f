"""Search normalisation: one function per word, the same for documents and for queries.

Elasticsearch's language analyzers (``english``, ``russian``: the ``analysis-common`` module) and the
Korean and Ukrainian ones (``nori``, ``analysis-ukrainian``: plugins) are missing from the local
integration-test build, which has only the standard analyzer. So inflection is removed here, in Python,
into the ``search_text`` field of each article (:func:`search_text`), and the same function is applied to
the word tokens of a query (:func:`normalise_query`); the field itself is analysed by the standard
analyzer. A word's normal form depends on its script and letters, and only for the Cyrillic words that
could be Russian or Ukrainian on the language: a document and a query must agree on every word, and a
query has no language of its own.

* Hangul: trailing particles are stripped (북한군이, 북한군은, 북한군의 → 북한군; 군인들은 → 군인) with
  the rules Korean spelling itself gives: 이/은/을/과/으로 only after a final consonant, 가/는/를/와/로
  only after a vowel, a single-syllable particle only if two syllables remain, and a short list of nouns
  that merely end like a particle (회의, 합의, 어린이 …). So 국가, 나이, 우크라이나 stay whole and a
  particle alone (이, 은) is left as it is.
* Cyrillic: a word with a letter only Ukrainian has (і ї є ґ) gets the light Ukrainian stemmer below, a
  word with a letter only Russian has (ы э ъ) Snowball's Russian stemmer (``snowballstemmer``, which has
  no Ukrainian). A word that could be either (Харкова, солдати) follows the article's ``lang`` (Ukrainian
  for ``uk``, else Russian); in a query it follows the query's own letters, and when those do not tell,
  it becomes ``(russian | ukrainian)`` where the two stems differ.
* Latin: Snowball's English (Porter2) stemmer (deploying, deployed → deploy).
* Everything else (digits, Chinese characters, kana) is left as folded by the tagger's
  :func:`~newswatch.tagging.matcher.fold_text` (lower case, ё → е, typographic apostrophes).
"""

from __future__ import annotations

import re
from functools import lru_cache

import snowballstemmer

from newswatch.tagging.matcher import fold_text

__all__ = ["normalise_query", "normalise_word", "query_exclusions", "query_language", "query_stems", "search_text",
           "stem_ukrainian", "strip_particles", "word_forms"]

# A word as the standard tokenizer sees one, closely enough: letters and digits, with inner apostrophes
# (don't, Kursk's, пам'ять) — typographic apostrophes included, before folding.
_WORD = re.compile(r"\w+(?:['’ʼ]\w+)*")

_ENGLISH = snowballstemmer.stemmer("english")
_RUSSIAN = snowballstemmer.stemmer("russian")


def search_text(title: str, text: str, lang: str | None = None) -> list[str]:
    """The normalised title and body of an article (``lang``: its ISO 639-1 code, if known), the values
    of its ``search_text`` field: two values, so a phrase never runs from the title into the text.
    Punctuation and spacing are kept, so positions (phrase queries) line up with the original."""
    doc_lang = "uk" if lang == "uk" else None

    def one(m: re.Match[str]) -> str:
        return normalise_word(m.group(), doc_lang)

    return [_WORD.sub(one, part) for part in (title, text) if part]


def normalise_query(query: str) -> str:
    """``query`` (``simple_query_string`` syntax) with each word replaced by its normal form.

    Only words change: quotes, ``-``, ``+``, ``|``, parentheses, ``~N`` and escapes (``\\-``) are kept,
    so a quoted phrase stays a phrase of normal forms and ``-word`` excludes every form of the word. A word
    the user wrote as a prefix (``курск*``) is left as written. A Cyrillic word that may be Russian or
    Ukrainian, in a query whose letters do not tell which, becomes ``(ru | uk)`` outside a phrase."""
    lang = query_language(query)
    out: list[str] = []
    pos = 0
    quoted = False
    for m in _WORD.finditer(query):
        start, end = m.span()
        between = query[pos:start]
        quoted ^= (between.count('"') - between.count('\\"')) % 2 == 1
        out.append(between)
        word = m.group()
        if query.startswith("*", end):
            out.append(word)
        elif lang is None and not quoted and not query.startswith("~", end):
            forms = word_forms(word)
            out.append(forms[0] if len(forms) == 1 else f"({' | '.join(forms)})")
        else:
            out.append(normalise_word(word, lang))
        pos = end
    out.append(query[pos:])
    return "".join(out)


def query_language(query: str) -> str | None:
    """``uk`` or ``ru`` when the query's Cyrillic letters tell (і ї є ґ, or ы э ъ ё, and not both)."""
    uk, ru = bool(_UK_ONLY.search(query.lower())), bool(_RU_ONLY.search(query.lower()))
    return "uk" if uk and not ru else "ru" if ru and not uk else None


def word_forms(word: str) -> tuple[str, ...]:
    """The normal forms ``word`` has in a document of any language: one, or two for an ambiguous
    Cyrillic word whose Russian and Ukrainian stems differ."""
    ru, uk = normalise_word(word), normalise_word(word, "uk")
    return (ru,) if ru == uk else (ru, uk)


def query_exclusions(query: str) -> list[str]:
    """The top-level excluded clauses of a query (``-word``, ``-"a phrase"``, ``-(a | b)``), without the
    ``-``; none when ``|`` appears at the top level, where an exclusion's reach is not a plain AND NOT."""
    clauses: list[str] = []
    depth, i, n = 0, 0, len(query)
    in_quote = False
    while i < n:
        ch = query[i]
        if ch == "\\":
            i += 2
            continue
        if ch == '"':
            in_quote = not in_quote
        elif not in_quote and ch == "(":
            depth += 1
        elif not in_quote and ch == ")":
            depth = max(0, depth - 1)
        elif not in_quote and depth == 0 and ch == "|":
            return []
        elif not in_quote and depth == 0 and ch == "-" and (i == 0 or query[i - 1] in " \t\n(+"):
            end = _clause_end(query, i + 1)
            if end > i + 1:
                clauses.append(query[i + 1:end])
            i = end
            continue
        i += 1
    return clauses


def query_stems(query: str, *, min_chars: int = 2) -> list[str]:
    """The distinct normal forms of the words a query looks for (not the excluded ones), in order; what a
    highlighter can look for as prefixes (``stem*``) in the original text."""
    excluded = {f for c in query_exclusions(query) for w in _WORD.findall(c) for f in word_forms(w)}
    stems: dict[str, None] = {}
    for word in _WORD.findall(query):
        for stem in word_forms(word):
            if len(stem) >= min_chars and stem not in excluded:
                stems.setdefault(stem)
    return list(stems)


def _clause_end(query: str, i: int) -> int:
    """End of the term, phrase or group starting at ``i`` (exclusive)."""
    n = len(query)
    if i >= n:
        return i
    if query[i] == '"':
        close = query.find('"', i + 1)
        return n if close < 0 else close + 1
    if query[i] == "(":
        depth = 0
        for j in range(i, n):
            if query[j] == "(":
                depth += 1
            elif query[j] == ")":
                depth -= 1
                if depth == 0:
                    return j + 1
        return n
    j = i
    while j < n and not query[j].isspace() and query[j] not in "|)":
        j += 1
    return j


@lru_cache(maxsize=200_000)  # word frequencies are Zipfian: most words of an article were seen before
def normalise_word(word: str, lang: str | None = None) -> str:
    """The normal form of one word (see the module docstring); ``lang`` only decides for a Cyrillic word
    that could be Russian or Ukrainian (``uk``: Ukrainian; anything else: Russian)."""
    low = fold_text(word)
    last = low[-1]
    if _is_hangul(last):
        return strip_particles(low)
    if "\u0400" <= last <= "\u04ff":
        if _UK_ONLY.search(low) or (lang == "uk" and not _RU_ONLY.search(low)):
            return stem_ukrainian(low)
        return _soft_sign(_RUSSIAN.stemWord(low))
    if last.isalpha() and last < "\u0250":  # Latin letters, basic and extended
        stem: str = _ENGLISH.stemWord(low)
        return stem
    return low


# --- Korean ----------------------------------------------------------------------------------------------

_AFTER_CONSONANT, _AFTER_VOWEL, _AFTER_VOWEL_OR_L, _ANY = 0, 1, 2, 3

# Particles (and particle chains) stripped from the end of a Hangul word, with the final sound they need
# before them. 도 (also) and 만 (only) are left out: too many nouns end in them (한반도, 보도, 수도).
_PARTICLES: dict[str, int] = {
    "에서부터": _ANY, "으로부터": _AFTER_CONSONANT, "로부터": _AFTER_VOWEL_OR_L, "에게서": _ANY,
    "한테서": _ANY, "에서는": _ANY, "에서도": _ANY, "에서의": _ANY, "에게는": _ANY, "에게도": _ANY,
    "으로는": _AFTER_CONSONANT, "으로도": _AFTER_CONSONANT, "으로의": _AFTER_CONSONANT,
    "으로서": _AFTER_CONSONANT, "으로써": _AFTER_CONSONANT, "이라는": _AFTER_CONSONANT,
    "이라고": _AFTER_CONSONANT, "까지는": _ANY, "까지도": _ANY,
    "에서": _ANY, "에게": _ANY, "한테": _ANY, "께서": _ANY, "으로": _AFTER_CONSONANT,
    "로서": _AFTER_VOWEL_OR_L, "로써": _AFTER_VOWEL_OR_L, "로는": _AFTER_VOWEL_OR_L, "로의": _AFTER_VOWEL_OR_L,
    "라는": _AFTER_VOWEL, "라고": _AFTER_VOWEL, "부터": _ANY, "까지": _ANY, "처럼": _ANY, "보다": _ANY,
    "만큼": _ANY, "마저": _ANY, "조차": _ANY, "에는": _ANY, "에도": _ANY, "에의": _ANY,
    "과의": _AFTER_CONSONANT, "와의": _AFTER_VOWEL, "이나": _AFTER_CONSONANT,
    "은": _AFTER_CONSONANT, "을": _AFTER_CONSONANT, "이": _AFTER_CONSONANT, "과": _AFTER_CONSONANT,
    "는": _AFTER_VOWEL, "를": _AFTER_VOWEL, "가": _AFTER_VOWEL, "와": _AFTER_VOWEL,
    "로": _AFTER_VOWEL_OR_L, "의": _ANY, "에": _ANY,
}  # fmt: skip
_PARTICLES_LONGEST_FIRST = sorted(_PARTICLES.items(), key=lambda kv: -len(kv[0]))
# Nouns that end like a particle and must keep that syllable (a word ending in one of these is whole).
_NOT_PARTICLE = ("회의", "합의", "논의", "동의", "주의", "항의", "정의", "결의", "협의", "건의", "문의", "강의",
                 "의의", "모의", "심의", "질의", "발의", "편의", "예의", "이의", "어린이", "고양이", "원숭이",
                 "길이", "높이", "깊이", "넓이", "먹이", "놀이")


def _is_hangul(ch: str) -> bool:
    return "\uac00" <= ch <= "\ud7a3"


def _final_sound(syllable: str) -> int:
    """0 for a syllable ending in a vowel, 8 for ㄹ, another positive number for another final consonant."""
    return (ord(syllable) - 0xAC00) % 28


def strip_particles(word: str) -> str:
    """``word`` (folded, ending in Hangul) without its trailing particle, then without a plural 들."""
    if word.endswith(_NOT_PARTICLE):
        return word
    for particle, needs in _PARTICLES_LONGEST_FIRST:
        if not word.endswith(particle):
            continue
        stem = word[: -len(particle)]
        min_stem = 2 if len(particle) == 1 else 1
        if len(stem) < min_stem or not all(_is_hangul(c) for c in stem[-min_stem:]):
            continue
        final = _final_sound(stem[-1])
        if ((needs == _AFTER_CONSONANT and final == 0) or (needs == _AFTER_VOWEL and final != 0)
                or (needs == _AFTER_VOWEL_OR_L and final not in (0, 8))):
            continue
        word = stem
        break
    if word.endswith("들") and len(word) >= 3 and _is_hangul(word[-2]):
        word = word[:-1]
    return word


# --- Russian and Ukrainian -------------------------------------------------------------------------------

_UK_ONLY = re.compile("[іїєґ]")
_RU_ONLY = re.compile("[ыэъё]")
_UK_VOWELS = frozenset("аеиіїоуюяє")
# Inflectional endings of Ukrainian nouns, adjectives and past-tense verbs, longest first. Infinitives
# (-ати, -ити) and two-letter past forms (-ла, -ли) are left out: they collide with noun stems (солдати,
# школа), and news search is mostly about nouns and adjectives.
_UK_ENDINGS = sorted((
    "ами", "ями", "ого", "ому", "ими", "іми", "ові", "еві", "єві", "ією", "ала", "али", "ало", "ила",
    "или", "ило", "ули", "ула", "ють", "ять", "ать", "уть",
    "ах", "ях", "ам", "ям", "ом", "ем", "єм", "ою", "ею", "єю", "ів", "їв", "ей", "ій", "ий", "їй", "ої", "ім",
    "им", "их", "іх", "ія", "ії", "ію", "ав", "ив", "ув",
    "а", "я", "е", "є", "і", "ї", "и", "у", "ю", "о",
), key=len, reverse=True)  # fmt: skip
_UK_MIN_STEM = 3


def stem_ukrainian(word: str) -> str:
    """A light Ukrainian stemmer (folded word): the reflexive -ся/-сь, then the longest inflectional
    ending after the first vowel, then an -ов/-ів suffix (військових, військові, війська → військ;
    Харкова, Харків → харк), then a final soft sign; a stem keeps at least three letters."""
    first_vowel = next((i for i, c in enumerate(word) if c in _UK_VOWELS), None)
    if first_vowel is None:
        return word
    region = first_vowel + 1  # endings are only looked for after the first vowel
    if word.endswith(("ся", "сь")) and len(word) - 2 >= max(_UK_MIN_STEM, region):
        word = word[:-2]
    for ending in _UK_ENDINGS:
        cut = len(word) - len(ending)
        if cut >= max(_UK_MIN_STEM, region) and word.endswith(ending):
            word = word[:cut]
            break
    if word.endswith(("ов", "ев", "єв", "ів", "їв")) and len(word) - 2 >= _UK_MIN_STEM:
        word = word[:-2]
    return _soft_sign(word)


def _soft_sign(stem: str) -> str:
    return stem[:-1] if stem.endswith("ь") and len(stem) > 2 else stem
