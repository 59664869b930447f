"""Search normalisation (``newswatch.textnorm``): the normal form of words, and of queries with operators."""

from __future__ import annotations

import pytest

from newswatch.search import build_query, highlight_query
from newswatch.textnorm import normalise_query, normalise_word, query_exclusions, query_stems, search_text

# (words that must share one normal form) — each group is one word in its inflected forms
SAME = [
    ("북한군", "북한군이", "북한군은", "북한군의", "북한군을", "북한군과", "북한군에", "북한군에서", "북한군으로"),
    ("러시아", "러시아는", "러시아가", "러시아와", "러시아로", "러시아에게"),
    ("군인", "군인들", "군인들은"),
    ("северокорейские", "северокорейских", "северокорейским", "Северокорейскими"),
    ("военные", "военных", "военным"),
    ("Курск", "Курска", "Курской", "Курском"),
    ("північнокорейські", "північнокорейських", "північнокорейським", "північнокорейськими"),
    ("військові", "військових", "військовим", "війська", "військо"),
    ("армія", "армії", "армію", "армією"),
    ("Харків", "Харкові"),
    ("deploying", "deployed", "deploys", "deploy"),
    ("troops", "troop", "Troops"),
    ("Kursk's", "Kursk"),
]

# (word, word) pairs that must stay apart: a noun that only ends like a particle, a particle alone,
# different words with a common start
DIFFERENT = [
    ("국가", "국"), ("나이", "나"), ("회의", "회"), ("어린이", "어린"), ("우크라이나", "우크라이"),
    ("한반도", "한반"), ("보도", "보"), ("전문가", "전문"), ("이", ""), ("북한", "북한군"),
    ("военные", "война"), ("війна", "військові"), ("news", "new"), ("troops", "trope"),
]


@pytest.mark.parametrize("group", SAME, ids=lambda g: g[0])
def test_inflected_forms_share_one_normal_form(group: tuple[str, ...]) -> None:
    forms = {normalise_word(w, "uk" if any(c in w for c in "іїєґ") else None) for w in group}
    assert len(forms) == 1, dict(zip(group, forms, strict=False))


@pytest.mark.parametrize(("a", "b"), DIFFERENT, ids=lambda v: v)
def test_different_words_stay_apart(a: str, b: str) -> None:
    assert normalise_word(a) != (normalise_word(b) if b else "")


def test_a_particle_alone_and_a_word_without_letters_are_kept() -> None:
    for word in ("이", "은", "의", "가", "2025", "23", "中国"):
        assert normalise_word(word) == word.lower()


def test_an_ambiguous_cyrillic_word_follows_the_articles_language() -> None:
    # "Харкова" has no letter only Ukrainian has: Ukrainian in a Ukrainian article, Russian elsewhere
    assert normalise_word("Харкова", "uk") == normalise_word("Харків") == "харк"
    assert normalise_word("Харкова", "ru") == normalise_word("Харкова") == "харков"
    assert search_text("", "Харкова", "uk") == ["харк"]


def test_search_text_keeps_punctuation_and_positions() -> None:
    got = search_text("북한군이 쿠르스크에", "Северокорейские военные, deployed troops.", "ru")
    assert got == ["북한군 쿠르스크", "северокорейск воен, deploy troop."]  # two values: no phrase across
    assert search_text("", "only text") == ["onli text"]


@pytest.mark.parametrize(("query", "expected"), [
    ("북한군", "북한군"),
    ("deploying troops", "deploy troop"),
    ('"северокорейские военные"', '"северокорейск воен"'),  # a phrase stays a phrase (of normal forms)
    ("північнокорейські військові", "північнокорейськ військ"),  # Ukrainian letters: the Ukrainian stemmer
    ("북한군 -러시아는", "북한군 -러시아"),  # an exclusion excludes every form
    ("troops | soldiers", "troop | soldier"),
    ("+Kursk +(troops | soldiers)", "+kursk +(troop | soldier)"),
    ('"deployed troops"~2 -Russian', '"deploy troop"~2 -russian'),  # phrase slop kept
    ("troops~1", "troop~1"),  # fuzziness kept
    ("курск* deploying*", "курск* deploying*"),  # a prefix the user wrote is left as written
    (r"troops \-sanctions", r"troop \-sanction"),  # an escaped operator stays escaped
    ("Харкова", "(харков | харк)"),  # Russian or Ukrainian: both forms, outside a phrase
    ("Харкова військові", "харк військ"),  # the query's Ukrainian letters decide
    ('"Харкова солдаты"', '"харков солдат"'),  # Russian letters decide
])
def test_normalise_query_changes_only_the_words(query: str, expected: str) -> None:
    assert normalise_query(query) == expected


@pytest.mark.parametrize(("query", "expected"), [
    ("북한군 -러시아는", ["러시아는"]),
    ('troops -"Russian army" -(drills exercises)', ['"Russian army"', "(drills exercises)"]),
    ("-Kursk", ["Kursk"]),
    ("north-korean troops", []),  # a hyphen inside a word is no exclusion
    ("troops | -Kursk", []),  # under a top-level OR an exclusion is not a plain AND NOT
    ('"a -b" c', []),  # inside a phrase
    ("(a -b) c", []),  # inside a group
])
def test_top_level_exclusions(query: str, expected: list[str]) -> None:
    assert query_exclusions(query) == expected


def test_query_stems_skip_excluded_and_short_forms() -> None:
    assert query_stems("deploying troops -Russian a") == ["deploy", "troop"]
    assert query_stems("북한군이 -러시아") == ["북한군"]


def test_build_query_searches_exact_fields_and_normal_forms() -> None:
    q = build_query("북한군 -러시아는")["bool"]["must"][0]["bool"]
    exact, normal = q["should"]
    assert q["minimum_should_match"] == 1
    assert exact["bool"]["must"][0]["simple_query_string"]["query"] == "북한군 -러시아는"
    assert exact["bool"]["must_not"][0]["simple_query_string"] == {
        "query": "러시아", "fields": ["search_text"], "default_operator": "and"}
    assert normal["simple_query_string"]["query"] == "북한군 -러시아"
    assert build_query(None)["bool"]["must"] == [{"match_all": {}}]


def test_highlight_query_marks_forms_by_prefix() -> None:
    shoulds = highlight_query("deploying troops")["bool"]["should"]
    assert shoulds[1]["simple_query_string"]["query"] == "deploy* | troop*"
