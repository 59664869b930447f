"""Story clustering: wire copies and light rewrites join one story; other reports on the topic do not."""

from __future__ import annotations

import random
from typing import Any

from newswatch import dedupe

WIRE = (
    "SEOUL (Wire) — North Korea has sent about 10,000 soldiers to Russia, South Korea's spy agency said on "
    "Wednesday, adding that some of them have already moved to the Kursk border region for combat training. "
    "The National Intelligence Service told members of parliament in a closed-door briefing that the troops were "
    "issued "
    "Russian uniforms and fake identity papers to disguise them as ethnic minorities from Siberia. "
    "The agency said the soldiers, drawn largely from the elite Storm Corps special forces, were flown from "
    "the port city of Vladivostok to training grounds in western Russia over the past two weeks. "
    "Lawmaker Park Sun-won, who attended the briefing, said the intelligence service believed the first "
    "units could enter combat against Ukrainian forces as early as next month. "
    "Russia and North Korea have denied that any troops were deployed, calling the reports groundless. "
    "The Kremlin spokesman said on Tuesday that cooperation between the two countries was a matter for "
    "Moscow and Pyongyang alone and did not threaten any third party. "
    "Ukraine's President Volodymyr Zelenskiy urged allies to respond, saying the deployment was the first "
    "step towards a wider war and that Kyiv had seen North Korean officers in occupied territory. "
    "NATO Secretary General Mark Rutte said the alliance had evidence of the deployment and called it a "
    "significant escalation of North Korea's involvement in Russia's illegal war in Ukraine."
)
COPYRIGHT = "\nCopyright 2024 The Wire News Agency. All rights reserved. Not for any redistribution."

OTHER_REPORT = (
    "KYIV (Daily) — Ukrainian military intelligence said on Friday that North Korean troops had taken part in "
    "their first clashes in the Kursk region, where Ukraine has held territory since an incursion in August. "
    "A spokesman for the HUR agency said a small group of North Korean soldiers was attacked near the village "
    "of Plekhovo and that several of them were killed, without offering evidence for the claim. "
    "The spokesman said the units were attached to Russian marine and airborne brigades and lacked drones "
    "and interpreters, which made coordination with Russian commanders difficult. "
    "Analysts at the Institute for the Study of War said the reports could not be independently verified but "
    "were consistent with earlier satellite images of camps in the Russian Far East. "
    "South Korea's defence ministry said it was monitoring the situation closely and would consider sending "
    "a team to Ukraine to question captured North Korean soldiers, if any were taken prisoner. "
    "Pyongyang has not commented on the deployment. Russian state media have described the reports as "
    "Western propaganda aimed at justifying more military aid to Kyiv. "
    "The United States said it expected North Korean troops to be used in offensive operations against "
    "Ukrainian positions in the Kursk region within weeks."
)

SYNONYMS = ["reportedly", "roughly", "troops", "officials", "intelligence", "border", "region", "said",
            "forces", "army", "claims", "weeks"]


def rewrite(text: str, share: float, seed: int = 7) -> str:
    """Replace ``share`` of the words with other words (a desk rewrite of a wire story)."""
    rng = random.Random(seed)
    words = text.split(" ")
    for i in rng.sample(range(len(words)), int(len(words) * share)):
        words[i] = rng.choice(SYNONYMS)
    return " ".join(words)


def art(id_: str, text: str, published: str) -> dict[str, Any]:
    return {"id": id_, "published": published, **dedupe.fingerprint(text)}


def test_wire_copy_with_copyright_line_joins() -> None:
    copy = WIRE + COPYRIGHT
    assert (len(WIRE), len(copy)) == (1423, 1509)  # the pair SimHash put 6 bits apart
    a, b = art("a", WIRE, "2024-10-23T08:00:00Z"), art("b", copy, "2024-10-23T09:30:00Z")
    assert dedupe.similarity(dedupe.decode(a["minhash"]), dedupe.decode(b["minhash"])) >= 0.8
    assert dedupe.assign_stories(None, "unused", [b, a]) == 1
    assert a["story_id"] == "a" and b["story_id"] == "a"


def test_rewrite_with_a_tenth_of_words_changed_joins() -> None:
    for seed in range(5):
        a, b = art("a", WIRE, "2024-10-23"), art("b", rewrite(WIRE, 0.10, seed), "2024-10-24")
        assert dedupe.assign_stories(None, "unused", [a, b]) == 1, seed
        assert b["story_id"] == "a"


def test_different_report_on_the_same_topic_does_not_join() -> None:
    a, b = art("a", WIRE, "2024-10-23"), art("b", OTHER_REPORT, "2024-11-01")
    assert dedupe.similarity(dedupe.decode(a["minhash"]), dedupe.decode(b["minhash"])) < 0.2
    c = art("c", "K-pop fans in Moscow queued for hours to see the festival.", "2024-10-31")
    assert dedupe.assign_stories(None, "unused", [a, b, c]) == 0
    assert (a["story_id"], b["story_id"], c["story_id"]) == ("a", "b", "c")


def test_earliest_article_gives_the_story_id_whatever_the_batch_order() -> None:
    texts = {"z-first": WIRE, "a-second": WIRE + COPYRIGHT, "m-third": rewrite(WIRE, 0.05)}
    dates = {"z-first": "2024-10-23T06:00:00Z", "a-second": "2024-10-23T07:00:00Z", "m-third": "2024-10-24"}
    for order in (["a-second", "m-third", "z-first"], ["m-third", "z-first", "a-second"]):
        batch = [art(i, texts[i], dates[i]) for i in order]
        assert dedupe.assign_stories(None, "unused", batch) == 2
        assert {a["story_id"] for a in batch} == {"z-first"}


class FakeES:
    """The one search ``assign_stories`` makes: a ``should`` of band terms, ranked by shared bands."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}

    def search(self, index: str, size: int, query: dict[str, Any], source_includes: list[str]) -> dict[str, Any]:
        wanted = {c["term"]["minhash_bands"] for c in query["bool"]["should"]}
        excluded = set(query["bool"]["must_not"][0]["ids"]["values"])
        scored = [(len(wanted & set(d["minhash_bands"])), i) for i, d in self.docs.items() if i not in excluded]
        hits = [{"_source": {k: self.docs[i].get(k) for k in source_includes}}
                for n, i in sorted(scored, reverse=True) if n]
        return {"hits": {"hits": hits[:size]}}


def test_rerun_against_the_index_keeps_story_ids() -> None:
    es = FakeES()
    first = [art("a", WIRE, "2024-10-23"), art("b", OTHER_REPORT, "2024-11-01")]
    dedupe.assign_stories(es, "articles", first)
    es.docs.update({a["id"]: a for a in first})
    # a later batch: a wire copy of the first story, and the same docs seen again
    later = [art("c", WIRE + COPYRIGHT, "2024-10-25"), art("d", rewrite(OTHER_REPORT, 0.1), "2024-11-02")]
    assert dedupe.assign_stories(es, "articles", later) == 2
    assert [a["story_id"] for a in later] == ["a", "b"]
    es.docs.update({a["id"]: a for a in later})
    again = [art("c", WIRE + COPYRIGHT, "2024-10-25"), art("a", WIRE, "2024-10-23")]
    dedupe.assign_stories(es, "articles", again)
    assert [a["story_id"] for a in again] == ["a", "a"]


# Signatures live in Elasticsearch: a change of hashing, shingling or slot layout silently splits every
# stored story from new copies. The golden value pins the signature across processes, runs and releases.
GOLDEN_WIRE_MINHASH_SHA256 = "a1901d3418ba033c594fea5014d7e246227e19a464d83475faf94508b45b11d4"
GOLDEN_WIRE_MINHASH_HEAD = "0d73a09e24ce4bed4c8a3be34c3b3a1a08aea620639f91721350643459024328"


def test_fingerprint_matches_the_stored_golden_value_and_empty_text_never_joins() -> None:
    import hashlib

    fp = dedupe.fingerprint(WIRE)
    assert fp["minhash"][:64] == GOLDEN_WIRE_MINHASH_HEAD
    assert hashlib.sha256(fp["minhash"].encode()).hexdigest() == GOLDEN_WIRE_MINHASH_SHA256
    assert fp["minhash_bands"][:2] == ["000d73a09e24ce4bed", "014c8a3be34c3b3a1a"]
    assert len(fp["minhash"]) == dedupe.SLOTS * 8 and len(fp["minhash_bands"]) == dedupe.BANDS
    empty = [art("x", "", "2024-01-01"), art("y", "  ", "2024-01-02")]
    assert dedupe.assign_stories(None, "unused", empty) == 0
    assert [a["story_id"] for a in empty] == ["x", "y"]
