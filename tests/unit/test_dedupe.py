from __future__ import annotations

from newswatch import dedupe

WIRE = (
    "SEOUL (Wire) — North Korea has sent about 10,000 soldiers to Russia, South Korea's spy agency said on "
    "Wednesday, adding that some of them had already moved to the Kursk border region for combat training. "
    "The agency told lawmakers the troops were issued Russian uniforms and fake identity papers."
)


def test_wire_copy_with_small_edits_joins_the_story() -> None:
    a = {"id": "a", "published": "2024-10-30", **dedupe.fingerprint(WIRE)}
    b = {"id": "b", "published": "2024-10-31", **dedupe.fingerprint(WIRE.replace("(Wire)", "(Wire) —").replace("Wednesday", "Wednesday,"))}
    c = {"id": "c", "published": "2024-10-31", **dedupe.fingerprint("K-pop fans in Moscow queued for hours to see the festival.")}
    joined = dedupe.assign_stories(None, "unused", [b, a, c])
    assert joined == 1
    assert a["story_id"] == "a" and b["story_id"] == "a" and c["story_id"] == "c"


def test_bands_guarantee_candidates_within_max_distance() -> None:
    x = dedupe.simhash(WIRE)
    y = x ^ 0b1011  # three bits flipped
    assert dedupe.hamming(x, y) == 3
    assert set(dedupe.bands(x)) & set(dedupe.bands(y))


def test_simhash_is_deterministic() -> None:
    assert dedupe.simhash(WIRE) == dedupe.simhash(WIRE)
