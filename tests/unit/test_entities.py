"""Gazetteer entities are recognised across languages, spellings and inflections."""

from __future__ import annotations

from pathlib import Path

import pytest

from newswatch.tagging import load_topic, tag_article

CONFIG = Path(__file__).resolve().parents[2] / "config"


@pytest.fixture(scope="module")
def topic():
    return load_topic("dprk_russia_troops", config_dir=CONFIG)


CASES = [
    ("Zelensky said on Monday.", "volodymyr_zelensky", "person"),
    ("Zelenskyy's office said.", "volodymyr_zelensky", "person"),
    ("Заявление Зеленского прозвучало вчера.", "volodymyr_zelensky", "person"),
    ("Зеленський заявив.", "volodymyr_zelensky", "person"),
    ("젤렌스키는 말했다.", "volodymyr_zelensky", "person"),
    ("Путину доложили.", "vladimir_putin", "person"),
    ("Путіна попередили.", "vladimir_putin", "person"),
    ("Ким Чен Ыну передали письмо.", "kim_jong_un", "person"),
    ("김정은이 참관했다.", "kim_jong_un", "person"),
    ("Kim Jong-un attended.", "kim_jong_un", "person"),
    ("Mark Rutte warned.", "mark_rutte", "person"),
    ("Рютте предупредил.", "mark_rutte", "person"),
    ("윤석열 대통령은 말했다.", "yoon_suk_yeol", "person"),
    ("Sybiha told reporters.", "andrii_sybiha", "person"),
    ("Сибіга наголосив.", "andrii_sybiha", "person"),
    ("Шойгу прибыл в Пхеньян.", "sergei_shoigu", "person"),
    ("Budanov said.", "kyrylo_budanov", "person"),
    ("Буданова спитали.", "kyrylo_budanov", "person"),
    ("South Korea's spy agency said.", "nis", "org"),
    ("국정원은 밝혔다.", "nis", "org"),
    ("The NIS said.", "nis", "org"),
    ("В Пентагоне считают.", "pentagon", "org"),
    ("The Pentagon said.", "pentagon", "org"),
    ("НАТО заявило.", "nato", "org"),
    ("За даними ГУР.", "hur", "org"),
    ("Ukraine's military intelligence (HUR) said.", "hur", "org"),
    ("GUR reported.", "hur", "org"),
    ("в Курской области", "kursk", "place"),
    ("на Курщині", "kursk", "place"),
    ("쿠르스크에서", "kursk", "place"),
    ("near Kursk", "kursk", "place"),
    ("в Пхеньяне", "pyongyang", "place"),
    ("평양에서", "pyongyang", "place"),
    ("in Russia's Far East", "russian_far_east", "place"),
    ("на Дальнем Востоке", "russian_far_east", "place"),
    ("на Далекому Сході", "russian_far_east", "place"),
]


@pytest.mark.parametrize(("text", "entity_id", "etype"), CASES)
def test_entity_recognised(topic, text: str, entity_id: str, etype: str) -> None:
    entities = {e.id: e for e in tag_article(topic, title="", text=text).entities}
    assert entity_id in entities, (text, list(entities))
    assert entities[entity_id].type == etype
    assert entities[entity_id].name


def test_same_entity_once_across_languages(topic) -> None:
    text = "Zelensky spoke. Зеленський заявив. 젤렌스키는 말했다. Зеленского спросили."
    ids = [e.id for e in tag_article(topic, title="", text=text).entities]
    assert ids.count("volodymyr_zelensky") == 1


NOT_ENTITIES = [
    ("Kurskovich is a surname.", "kursk"),
    ("The finish line.", "nis"),
    ("Putinism as an ideology.", "vladimir_putin"),
]


@pytest.mark.parametrize(("text", "entity_id"), NOT_ENTITIES)
def test_no_entity_inside_other_words(topic, text: str, entity_id: str) -> None:
    assert entity_id not in {e.id for e in tag_article(topic, title="", text=text).entities}
