"""Search in the topic's languages on the local build (standard analyzer only): per-language query → hits.

Each case is a query, the articles it must find and the articles it must not find (an inflected form of
another word, a particle alone). One corpus is indexed once for the module, through the real index step.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from newswatch import index, steps
from newswatch.records import Article
from newswatch.runtime import Runtime
from newswatch.search import search_articles
from newswatch.settings import ElasticsearchSettings, Settings
from newswatch.timeline import TimelineQuery, run_timeline

pytestmark = pytest.mark.integration

CORPUS = {
    # Korean: 북한군 with particles, and an unrelated article full of words that end like particles
    "ko-subject": ("ko", "북한군이 쿠르스크에 도착했다", "국방부는 북한군이 전선에 배치됐다고 밝혔다."),
    "ko-topic": ("ko", "전선 소식", "북한군은 러시아군과 함께 작전에 참여하고 있다."),
    "ko-genitive": ("ko", "파병 규모", "북한군의 규모는 1만 명을 넘는다고 보도됐다."),
    "ko-other": ("ko", "국가 경제 회의", "이 국가의 경제 회의는 나이 많은 전문가들이 이끌었다."),
    # Russian
    "ru-genitive": ("ru", "Переброска северокорейских военных",
                    "Колонна северокорейских военных замечена под Курском."),
    "ru-dative": ("ru", "Новые задачи", "Командование поставило задачи северокорейским военным в Курской области."),
    "ru-apart": ("ru", "Отчёт", "Военных учений не было, сообщили северокорейские источники."),
    "ru-war": ("ru", "Война продолжается", "Война в Украине идёт третий год."),
    # Ukrainian
    "uk-genitive": ("uk", "Розгортання північнокорейських військових",
                    "Розвідка фіксує переміщення північнокорейських військових на Курщині."),
    "uk-war": ("uk", "Війна та економіка", "Війна вплинула на економіку країни."),
    # English: an exact title, a form-only match, and a look-alike word
    "en-exact": ("en", "Deploying troops to Kursk", "Pyongyang is deploying troops near Kursk, officials said."),
    "en-forms": ("en", "Reinforcements arrive", "Pyongyang deployed one troop contingent after another."),
    "en-new": ("en", "New sanctions", "The new sanctions target shipping."),
}

CASES = [
    # (query, must find, must not find)
    ("북한군", {"ko-subject", "ko-topic", "ko-genitive"}, {"ko-other"}),
    ("북한군이", {"ko-subject", "ko-topic", "ko-genitive"}, {"ko-other"}),
    ("이", set(), {"ko-subject"}),  # a particle alone is no word of 북한군이
    ("국", set(), {"ko-other"}),  # 국가 is not 국 + a particle
    ("나", set(), {"ko-other"}),  # nor is 나이
    ("전문가", {"ko-other"}, set()),  # 전문가들이 → 전문가
    ("северокорейские военные", {"ru-genitive", "ru-dative", "ru-apart"}, {"ru-war"}),
    ('"северокорейские военные"', {"ru-genitive", "ru-dative"}, {"ru-apart"}),  # a phrase of forms
    ("северокорейские военные -Курской", {"ru-apart"}, {"ru-genitive", "ru-dative"}),  # Курском, Курской
    ("военные", {"ru-genitive"}, {"ru-war"}),  # военных, not война
    ("північнокорейські військові", {"uk-genitive"}, {"uk-war", "ru-genitive"}),
    ("військові", {"uk-genitive"}, {"uk-war"}),
    ("deploying troops", {"en-exact", "en-forms"}, {"en-new"}),
    ('"deploying troops"', {"en-exact"}, {"en-forms"}),
    ("deploying | sanctions", {"en-exact", "en-forms", "en-new"}, set()),
    ("news", set(), {"en-new"}),  # news is not new
    ("Kursk", {"en-exact"}, set()),
    ('"arrive Pyongyang"', set(), {"en-forms"}),  # no phrase from the end of the title into the text
]


@pytest.fixture(scope="module")
def corpus(es_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Runtime, dict[str, str]]]:
    """The corpus indexed once through ``steps.index_articles`` under a unique index prefix; yields the
    runtime and the article id of each corpus key (indices dropped afterwards)."""
    settings = Settings(es=ElasticsearchSettings(url=es_url, index_prefix=f"nwtest-{uuid.uuid4().hex[:8]}"),
                        var_dir=tmp_path_factory.mktemp("var"))
    rt = Runtime(settings)
    arts = [Article.from_input({"url": f"https://x.example/{key}", "title": title, "text": text, "lang": lang,
                                "published": "2025-01-15"}, fetched_at="2025-01-15T00:00:00+00:00")
            for key, (lang, title, text) in CORPUS.items()]
    steps.index_articles(rt, arts)
    ids = {a.id: key for a, key in zip(arts, CORPUS, strict=True)}
    try:
        yield rt, ids
    finally:
        index.drop_indices(rt.es, settings)
        rt.close()


def found(rt: Runtime, ids: dict[str, str], query: str) -> list[str]:
    return [ids[h["id"]] for h in search_articles(rt.es, rt.settings, query, size=50)]


@pytest.mark.parametrize(("query", "want", "not_want"), CASES, ids=[c[0] for c in CASES])
def test_query_finds_the_forms_and_nothing_else(corpus, query: str, want: set[str], not_want: set[str]) -> None:
    rt, ids = corpus
    got = set(found(rt, ids, query))
    assert want <= got, f"missing {want - got}"
    assert not (not_want & got), f"over-matched {not_want & got}"


def test_an_exact_title_match_ranks_above_a_match_of_forms(corpus) -> None:
    rt, ids = corpus
    assert found(rt, ids, "deploying troops")[:2] == ["en-exact", "en-forms"]
    assert found(rt, ids, "북한군이")[0] == "ko-subject"  # the title says 북한군이


def test_highlights_mark_the_inflected_forms(corpus) -> None:
    rt, ids = corpus
    hits = {ids[h["id"]]: h for h in search_articles(rt.es, rt.settings, "북한군 военные deploying", size=50)}
    assert not hits  # every word must hold: no article has all three
    hits = {ids[h["id"]]: h for h in search_articles(rt.es, rt.settings, "북한군", size=50)}
    assert any("<em>북한군은</em>" in f for f in hits["ko-topic"]["highlights"])
    hits = {ids[h["id"]]: h for h in search_articles(rt.es, rt.settings, "deploying troops", size=50)}
    assert any("<em>deployed</em>" in f for f in hits["en-forms"]["highlights"])


def test_timeline_and_stories_use_the_same_query(corpus) -> None:
    rt, _ = corpus
    tl = run_timeline(rt.es, rt.settings, TimelineQuery(q="северокорейские военные", interval="month"))
    assert tl["total"] == 3 and tl["stories_total"] >= 1
    assert any("<em>" in h for a in tl["articles"] for h in a["highlights"])  # inflected forms are marked


def props_of(es, name: str) -> dict:
    """The mapping's properties of the index behind ``name`` (an alias answers under its concrete index)."""
    return next(iter(es.indices.get_mapping(index=name).values()))["mappings"]["properties"]


def test_the_local_build_has_no_language_analyzers_and_the_template_installs(corpus) -> None:
    rt, _ = corpus
    assert index.language_analyzers(rt.es) == []  # "failed to find global analyzer [english]"
    name = index.index_name(rt.settings, "articles")
    props = props_of(rt.es, name)
    assert props["search_text"] == {"type": "text"} and set(props["text"]) == {"type"}


def test_language_multi_fields_are_added_in_place(es_url: str, settings_factory) -> None:
    """Where a cluster has an analyzer the multi-fields go into the template and onto an existing index; the
    standard analyzer stands in for ``english`` here (the same mapping shape)."""
    settings = settings_factory()
    rt = Runtime(settings)
    index.ensure_indices(rt.es, settings)
    name = index.index_name(settings, "articles")
    body = index.with_language_fields(index.template_body("articles"), ["standard"])
    rt.es.indices.put_mapping(index=name, properties=body["mappings"]["properties"])
    props = props_of(rt.es, name)
    assert props["title"]["fields"]["standard"] == {"type": "text", "analyzer": "standard"}
    assert props["text"]["fields"] == {"standard": {"type": "text", "analyzer": "standard"}}
    index.ensure_indices(rt.es, settings)  # the plain template again: multi-fields are never removed
    assert "standard" in props_of(rt.es, name)["text"]["fields"]
    rt.close()


def test_an_old_index_gets_the_field_and_retag_fills_it(es_url: str, settings_factory, tmp_path: Path) -> None:
    """An index made before ``search_text`` gets the field from ``ensure_indices``; its documents are found
    as written until re-tagged (``newswatch retag``, or ``reprocess``), then in every form."""
    settings = settings_factory()
    rt = Runtime(settings)
    es, name = rt.es, index.index_name(settings, "articles")
    old = index.template_body("articles")
    del old["mappings"]["properties"]["search_text"]
    es.indices.create(index=name, settings=old["settings"], mappings=old["mappings"])
    art = Article.from_input({"url": "https://x.example/old", "title": "Старая статья", "lang": "ru",
                              "text": "Колонна северокорейских военных.", "published": "2025-01-15"},
                             fetched_at="2025-01-15T00:00:00+00:00")
    doc = art.doc()
    del doc["search_text"]
    es.index(index=name, id=art.id, document=doc, refresh=True)

    index.ensure_indices(es, settings)
    assert "search_text" in props_of(es, name)
    assert [h["id"] for h in search_articles(es, settings, "северокорейских военных")] == [art.id]  # as written
    assert search_articles(es, settings, "северокорейские военные") == []  # no normal forms yet

    steps.retag(rt, [art.id])
    assert [h["id"] for h in search_articles(es, settings, "северокорейские военные")] == [art.id]
    stored = es.get(index=name, id=art.id)["_source"]
    assert stored["search_text"] == ["стар стат", "колон северокорейск воен."]
    rt.close()
