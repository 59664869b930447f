"""Quality gate of every topic that ships labeled sets in ``tests/data/topics/<name>/`` (``dev.jsonl``,
``heldout.jsonl`` and ``baseline.json`` with floors; false-positive rates are ceilings), scored through
``newswatch.tagging.explain.evaluate_labels`` — the same code as ``newswatch topics eval``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from newswatch.tagging import load_topic
from newswatch.tagging.explain import evaluate_labels

TOPICS = Path(__file__).resolve().parents[1] / "data" / "topics"
CASES = [(d.name, split) for d in sorted(TOPICS.iterdir()) if (d / "baseline.json").exists()
         for split in ("dev", "heldout")]


@pytest.mark.parametrize(("topic", "split"), CASES, ids=[f"{t}-{s}" for t, s in CASES])
def test_topic_meets_its_baseline(topic: str, split: str) -> None:
    floors = json.loads((TOPICS / topic / "baseline.json").read_text(encoding="utf-8"))[split]
    with (TOPICS / topic / f"{split}.jsonl").open(encoding="utf-8") as fh:
        items = [json.loads(line) for line in fh if line.strip()]
    report = evaluate_labels(load_topic(topic), items)
    got = {"core_precision": report["core"]["precision"], "core_recall": report["core"]["recall"],
           "any_f1": report["core_related"]["f1"], "fp_rate_lookalikes": report["fp_rate_lookalikes"]}
    print(f"\n[{topic} {split}] n={report['n']} " + " ".join(f"{k}={v:.3f}" for k, v in got.items()))
    for key, floor in floors.items():
        if key.startswith("fp_rate"):
            assert got[key] <= floor, (key, got[key], report["errors"])
        else:
            assert got[key] >= floor, (key, got[key], report["errors"])


def test_every_enabled_topic_ships_with_labeled_sets() -> None:
    """A topic without labels cannot be gated; dprk_russia_troops has its own gate (test_tagging_quality)."""
    from newswatch.tagging import load_topics

    enabled = set(load_topics().names)
    assert len(enabled) >= 2
    assert enabled <= {t for t, _ in CASES} | {"dprk_russia_troops"}
