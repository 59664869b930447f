"""Quality gate of story clustering on the team's labeled multilingual story sets, through the pipeline's
own code path (``stories.prepare`` + ``stories.assign``, as ``newswatch cluster`` runs it): pairwise
precision/recall/F1 and cross-language pair recall, with MinHash alone beside it. Fails below
``tests/data/stories/baseline.json`` and, on ``heldout``, below the goals of issue #9 (``GOALS``). The
parameters were chosen on ``dev``; ``heldout`` was written apart."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from newswatch import dedupe, stories

DATA = Path(__file__).resolve().parents[1] / "data" / "stories"
GOALS = {"heldout": {"precision": 0.95, "f1": 0.90, "cross_language_recall": 0.85}}


def load(split: str) -> list[dict]:
    with (DATA / f"stories_{split}.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def pairwise(items: list[dict], story: dict[str, str]) -> dict[str, float]:
    tp = fp = fn = xl = xl_found = 0
    for a, b in itertools.combinations(items, 2):
        same, joined = a["story"] == b["story"], story[a["id"]] == story[b["id"]]
        tp += same and joined
        fp += joined and not same
        fn += same and not joined
        if same and a["lang"] != b["lang"]:
            xl += 1
            xl_found += joined
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0,
            "cross_language_recall": xl_found / xl if xl else 1.0}


@pytest.fixture(scope="module")
def prepared() -> dict[str, tuple[list[dict], list[dict]]]:
    return {split: (items, stories.prepare(items)) for split in ("dev", "heldout") for items in [load(split)]}


@pytest.mark.parametrize("split", ["dev", "heldout"])
def test_clustering_meets_its_baseline(prepared, split: str, capsys: pytest.CaptureFixture) -> None:
    items, docs = prepared[split]
    docs = [dict(d) for d in docs]
    stories.assign(docs)
    got = pairwise(items, {d["id"]: d["story_id"] for d in docs})
    mh = [{"id": d["id"], "published": d["published"], "minhash": d["minhash"],
           "minhash_bands": d["minhash_bands"]} for d in docs]
    dedupe.assign_stories(None, "unused", mh)
    minhash = pairwise(items, {d["id"]: d["story_id"] for d in mh})
    with capsys.disabled():
        for name, fig in (("clustering", got), ("MinHash only", minhash)):
            print(f"\n[stories {split} {name}] n={len(items)} stories={len({i['story'] for i in items})} "
                  + " ".join(f"{k}={v:.3f}" for k, v in fig.items()))
    floors = json.loads((DATA / "baseline.json").read_text(encoding="utf-8"))[split]
    for key, floor in floors.items():
        assert got[key] >= floor - 1e-9, (split, key, got[key], floor)
    for key, goal in GOALS.get(split, {}).items():
        assert got[key] >= goal, (split, key, got[key], goal)


def test_story_sets_are_well_formed() -> None:
    items = load("dev") + load("heldout")
    assert len(items) >= 150 and len({i["id"] for i in items}) == len(items)
    multi = {s for s in {i["story"] for i in items} if len({i["lang"] for i in items if i["story"] == s}) > 1}
    assert len({i["story"] for i in items}) >= 40 and len(multi) >= 15
    assert {"en", "ko", "ru", "uk"} <= {i["lang"] for i in items}
    assert sum(1 for i in items if i["kind"] == "hard_negative") >= 10
