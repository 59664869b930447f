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


@pytest.mark.parametrize("sentence", NOT_CLAIMS)
def test_not_a_troop_count(topic, sentence: str) -> None:
    result = tag_article(topic, title="", text=sentence)
    assert result.level == "core"  # on topic, but the number is not a deployment count
    assert result.claims == [], [c.model_dump() for c in result.claims]


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
