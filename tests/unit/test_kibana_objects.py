"""Kibana cannot run here: validate the shipped saved objects against the index mappings instead."""

from __future__ import annotations

import json
from pathlib import Path

from newswatch.index import template_body

NDJSON = Path(__file__).resolve().parents[2] / "docker" / "kibana" / "newswatch.ndjson"


def objects() -> list[dict]:
    return [json.loads(line) for line in NDJSON.read_text(encoding="utf-8").splitlines() if line.strip()]


def fields_of(kind: str) -> set[str]:
    props = template_body(kind)["mappings"]["properties"]
    out = set()
    for name, spec in props.items():
        out.add(name)
        for sub in spec.get("properties", {}):
            out.add(f"{name}.{sub}")
    return out


def test_every_reference_resolves_and_ids_are_unique() -> None:
    objs = objects()
    ids = {(o["type"], o["id"]) for o in objs}
    assert len(ids) == len(objs)
    for o in objs:
        assert {"type", "id", "attributes", "references"} <= set(o)
        for ref in o["references"]:
            assert (ref["type"], ref["id"]) in ids, f"{o['id']} references missing {ref}"


def test_data_views_match_index_names_and_time_fields() -> None:
    views = {o["attributes"]["title"]: o["attributes"] for o in objects() if o["type"] == "index-pattern"}
    assert views["newswatch-articles"]["timeFieldName"] in fields_of("articles")
    assert views["newswatch-feeds"]["timeFieldName"] in fields_of("feeds")


def test_visualizations_and_searches_use_mapped_fields() -> None:
    art = fields_of("articles")
    for o in objects():
        if o["type"] == "visualization":
            for agg in json.loads(o["attributes"]["visState"])["aggs"]:
                if "field" in agg["params"]:
                    assert agg["params"]["field"] in art, agg
        if o["type"] == "search":
            assert set(o["attributes"]["columns"]) <= art
        if o["type"] == "dashboard":
            panels = json.loads(o["attributes"]["panelsJSON"])
            refs = {r["name"] for r in o["references"]}
            assert all(p["panelRefName"] in refs for p in panels)
