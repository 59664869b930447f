"""Troop-number claims: counts of DPRK personnel with qualifier and source; look-alike numbers ignored."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from newswatch.tagging import Claim, build_claims_timeline, load_topic, tag_article

CONFIG = Path(__file__).resolve().parents[2] / "config"


@pytest.fixture(scope="module")
def topic():
    return load_topic("dprk_russia_troops", config_dir=CONFIG)


CLAIM_CASES = [
    # (sentence, count, count_max, qualifier, source)
    ("North Korea has sent about 10,000 soldiers to Russia, the Pentagon said.", 10000, None, "about", "Pentagon"),
    ("Zelensky said up to 12,000 North Korean troops could fight for Russia.", 12000, None, "up to",
     "Volodymyr Zelensky"),
    ("South Korea's spy agency said 3,000 North Korean troops are training in Russia.", 3000, None, None,
     "National Intelligence Service (South Korea)"),
    ("Ukraine's intelligence said two units of North Korean troops, numbering up to 12,000, will join Russia.",
     12000, None, "up to", "Defence Intelligence of Ukraine (HUR)"),
    ("Between 10,000 and 12,000 North Korean soldiers are in Russia's Kursk region.", 10000, 12000, None, None),
    ("По данным ГУР, в Курской области находятся около 11 000 военных КНДР.", 11000, None, "about",
     "Defence Intelligence of Ukraine (HUR)"),
    ("В Пентагоне считают, что в Россию прибыли 10-12 тысяч солдат из КНДР.", 10000, 12000, None, "Pentagon"),
    ("За даними ГУР, до 12 тисяч військових КНДР перебувають на Курщині.", 12000, None, "up to",
     "Defence Intelligence of Ukraine (HUR)"),
    ("Буданов заявив, що в Росії понад 10 тисяч бійців КНДР.", 10000, None, "more than", "Kyrylo Budanov"),
    ("국정원은 북한군 1만여 명이 러시아 쿠르스크에 배치됐다고 밝혔다.", 10000, None, "more than",
     "National Intelligence Service (South Korea)"),
    ("국정원은 북한군 1만2천 명이 러시아에 있다고 밝혔다.", 12000, None, None,
     "National Intelligence Service (South Korea)"),
    ("북한이 러시아에 최대 1만 2000명을 파병할 것이라고 젤렌스키가 말했다.", 12000, None, "up to", "Volodymyr Zelensky"),
    ("Nordkorea hat rund 11.000 Soldaten nach Russland entsandt.", 11000, None, "about", None),
    ("According to Western officials, some 1,500 North Korean officers are already in Russia.", 1500, None,
     "about", "Western"),
]


@pytest.mark.parametrize(("sentence", "count", "count_max", "qualifier", "source"), CLAIM_CASES)
def test_claim_extracted(topic, sentence, count, count_max, qualifier, source) -> None:
    result = tag_article(topic, title="", text=sentence)
    assert result.claims, (sentence, result.reasons)
    claim = result.claims[0]
    assert (claim.count, claim.count_max, claim.qualifier) == (count, count_max, qualifier)
    assert claim.source == source
    assert claim.sentence and claim.unit


NOT_CLAIMS = [
    "Russia plans one interpreter for every 30 North Korean soldiers in Kursk.",
    "Russia has deployed around 50,000 troops in the Kursk area, while North Korean troops wait in reserve.",
    "About 50,000 Russian troops and North Korean soldiers are fighting in Kursk.",
    "North Korean troops began arriving in Russia in October 2024.",
    "Seoul says 3,000 North Korean soldiers have been killed or wounded in Kursk.",
    "North Korea's troops in Kursk have a casualty rate of 30 percent, Ukraine says.",
    "국정원은 쿠르스크 북한군 사상자가 3000명이라고 밝혔다.",
    "The 61st brigade fought North Korean troops near Kursk.",
]


YEAR_NOT_COUNTS = [
    # a year next to no unit of its own is never a count, even with a unit word later in the sentence
    "North Korean troops have not fought abroad since 1953, but now soldiers are in Kursk.",
    "It is the first deployment of North Korean troops since the 1953 armistice, with soldiers now in Kursk.",
    "Since the 1953 armistice, North Korean soldiers have never fought abroad, but now they are in Kursk.",
    "North Korea, which has not fought a war since 1953, sent troops to Russia.",
    # ... nor when it is written with a thousands separator
    "North Korean troops, in the biggest deployment since 1,953, arrived in Kursk.",
    "North Korean troops, the largest force since 1 953, arrived in Kursk.",
]


@pytest.mark.parametrize("sentence", NOT_CLAIMS + YEAR_NOT_COUNTS)
def test_not_a_troop_count(topic, sentence: str) -> None:
    result = tag_article(topic, title="", text=sentence)
    assert result.level == "core"  # on topic, but the number is not a deployment count
    assert result.claims == [], [c.model_dump() for c in result.claims]


def test_year_like_number_right_before_its_unit_is_a_count(topic) -> None:
    result = tag_article(topic, title="", text="North Korea has sent 1,953 North Korean soldiers to Kursk since 2024.")
    assert [(c.count, c.unit) for c in result.claims] == [(1953, "soldiers")]


ORDINAL_CASES = [
    # (text, counts expected): 1차/2차 (first/second batch), 제1, "first batch", "2nd batch" are not counts
    ("국정원은 북한군 1차 1천500명이 러시아로 이동했다고 밝혔다.", [1500]),
    ("러시아 파병 북한군 1차 1천500명 이동", [1500]),
    ("북한은 러시아에 1차로 1천500명의 병력을 파병했다.", [1500]),
    ("국정원은 북한군 2차 병력이 러시아에 도착했다고 밝혔다.", []),
    ("국정원은 북한군 4차 병력이 러시아로 이동했다고 밝혔다.", []),
    ("북한군 제1 군단 병력이 러시아 쿠르스크에 배치됐다.", []),
    ("North Korea sent the first batch of 1,500 soldiers to Russia.", [1500]),
    ("North Korea's 2nd batch of 1,500 troops arrived in Russia.", [1500]),
    ("North Korea sent a first batch of troops to Russia, and a 2nd batch of soldiers follows.", []),
]


@pytest.mark.parametrize(("text", "counts"), ORDINAL_CASES)
def test_ordinal_is_not_a_count(topic, text: str, counts: list[int]) -> None:
    result = tag_article(topic, title="", text=text)
    assert result.level == "core"
    assert [c.count for c in result.claims] == counts, [c.model_dump() for c in result.claims]


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("북한군 1천500명이 러시아로 이동했다.", 1500),
        ("북한군 1천 500명이 러시아에 도착했다.", 1500),
        ("북한군 1만2천500명 러시아 파병", 12500),
        ("북한군 1만2천 명이 러시아에 있다.", 12000),
    ],
)
def test_korean_thousands_and_hundreds(topic, text: str, count: int) -> None:
    assert [c.count for c in tag_article(topic, title="", text=text).claims] == [count]


def test_no_claims_when_off_topic(topic) -> None:
    assert tag_article(topic, title="", text="The US keeps 28,500 US troops in South Korea.").claims == []


def test_claims_timeline_sorted_by_date() -> None:
    c1 = Claim(count=3000, unit="troops", source="NIS", sentence="a")
    c2 = {"count": 11000, "unit": "troops", "qualifier": "about", "source": "HUR", "sentence": "b"}
    c3 = Claim(count=12000, qualifier="up to", unit="soldiers", sentence="c")
    rows = build_claims_timeline(
        [
            {"id": "b", "published": "2024-11-05T10:00:00Z", "title": "B", "url": "u2", "claims": [c2]},
            {"id": "a", "published": dt.date(2024, 10, 18), "title": "A", "url": "u1", "claims": [c1]},
            {"id": "c", "published": None, "title": "C", "url": "u3", "claims": [c3]},
            {"id": "d", "published": "2024-12-01", "title": "D", "url": "u4", "claims": []},
        ]
    )
    assert [r["date"] for r in rows] == ["2024-10-18", "2024-11-05", None]
    assert [r["count"] for r in rows] == [3000, 11000, 12000]
    assert rows[1] == {
        "date": "2024-11-05", "count": 11000, "count_max": None, "qualifier": "about", "source": "HUR",
        "article_id": "b", "title": "B", "url": "u2", "sentence": "b",
    }  # fmt: skip


def test_seed_article_claims(topic) -> None:
    seed = Path("/work/shared/examples/seed-article.txt")
    text = seed.read_text(encoding="utf-8") if seed.is_file() else (
        "North Korea has sent about 10,000 soldiers to Russia, the Pentagon said. Russia is planning to assign "
        "one interpreter for every 30 North Korean soldiers. Russia has deployed around 50,000 troops in the "
        "Kursk area, while North Korean troops are expected."
    )
    counts = {c.count for c in tag_article(topic, title="", text=text).claims}
    assert 10000 in counts
    assert not counts & {30, 50000, 30000}
