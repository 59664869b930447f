"""Kibana cannot run here: validate the shipped saved objects (docker/kibana/newswatch.ndjson, imported by the
compose file's kibana-init) against the saved-object export format of Kibana 8.x/9.x and the index mappings.

Every data view names a newswatch index and a ``date`` time field; every field a Lens layer, a KQL query or the
saved search uses exists in that index's mapping (``topics.<topic>.*`` through the dynamic templates, for the
topics in config/topics/), is aggregatable where Lens aggregates it and is not inside the ``nested`` claims,
which Lens cannot aggregate; every reference resolves; no legacy ``visualization`` object is left."""

from __future__ import annotations

import fnmatch
import json
import re
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from newswatch.index import KINDS, template_body
from newswatch.settings import ElasticsearchSettings

REPO = Path(__file__).resolve().parents[2]
NDJSON = REPO / "docker" / "kibana" / "newswatch.ndjson"
TOPICS = {p.stem for p in (REPO / "config" / "topics").glob("*.yaml")}
PREFIX = ElasticsearchSettings().index_prefix

# one Kibana 9 export's versions: coreMigrationVersion is frozen at 8.8.0 since model versions
CORE_MIGRATION = "8.8.0"
TYPE_MIGRATION = {"index-pattern": "8.0.0", "lens": "8.9.0", "search": "10.5.0", "dashboard": "10.2.0"}
DASHBOARDS = {"newswatch — timeline", "newswatch — feed health", "newswatch — alerts"}
GRID_COLUMNS = 48

NUMERIC = {"long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float", "unsigned_long"}
AGGREGATABLE = NUMERIC | {"keyword", "date", "date_nanos", "boolean", "ip"}
LENS_DATA_TYPE = {**dict.fromkeys(NUMERIC, "number"), "keyword": "string", "date": "date", "date_nanos": "date",
                  "boolean": "boolean", "ip": "ip"}
NUMBER_OPS = {"sum", "average", "median", "percentile", "standard_deviation"}
MIN_MAX_OPS = {"min", "max"}
RECORDS = "___records___"


# ---------------------------------------------------------------------------------------------- the file


def objects() -> list[dict[str, Any]]:
    return [json.loads(line) for line in NDJSON.read_text(encoding="utf-8").splitlines()]


def by_type(type_: str) -> list[dict[str, Any]]:
    return [o for o in objects() if o["type"] == type_]


def index_of(o: dict[str, Any], ref_name: str) -> str:
    """The index kind (``articles`` …) behind the data view an object's reference ``ref_name`` points at."""
    ref = next(r for r in o["references"] if r["name"] == ref_name)
    assert ref["type"] == "index-pattern", ref
    view = next(v for v in by_type("index-pattern") if v["id"] == ref["id"])
    return kind_of_view(view)


def kind_of_view(view: dict[str, Any]) -> str:
    title = view["attributes"]["title"]
    assert title.startswith(f"{PREFIX}-"), title
    kind = title.removeprefix(f"{PREFIX}-")
    assert kind in KINDS, title
    return kind


# ---------------------------------------------------------------------------------------------- the mappings


@cache
def flat_mapping(kind: str) -> dict[str, dict[str, Any]]:
    """Every mapped path of an index (objects, leaves, multi-fields), each with ``nested``/``disabled`` flags."""
    out: dict[str, dict[str, Any]] = {}

    def walk(props: dict[str, Any], prefix: str, nested: bool, disabled: bool) -> None:
        for name, spec in props.items():
            path = prefix + name
            is_nested = nested or spec.get("type") == "nested"
            is_disabled = disabled or spec.get("enabled") is False
            out[path] = {**spec, "_nested": is_nested, "_disabled": is_disabled}
            walk(spec.get("properties", {}), path + ".", is_nested, is_disabled)
            for sub, sub_spec in spec.get("fields", {}).items():
                out[f"{path}.{sub}"] = {**sub_spec, "_nested": is_nested, "_disabled": is_disabled}

    walk(template_body(kind)["mappings"]["properties"], "", False, False)
    return out


def resolve(kind: str, path: str) -> dict[str, Any]:
    """The mapping of ``path`` in index ``kind``: explicit, or a dynamic template's under a dynamic object
    (``topics.<topic>.level``, for a topic of config/topics/). KeyError if no document can ever have it."""
    flat = flat_mapping(kind)
    if path in flat:
        return flat[path]
    mappings = template_body(kind)["mappings"]
    parent, _, _ = path.rpartition(".")
    while parent and parent not in flat:
        parent, _, _ = parent.rpartition(".")
    if parent and flat[parent].get("dynamic") in (True, "true") and not flat[parent]["_disabled"]:
        rest = path[len(parent) + 1:].split(".")
        if parent == "topics" and (len(rest) != 2 or rest[0] not in TOPICS):
            raise KeyError(f"{kind}: {path} (topics.<topic>.<field>, topics: {sorted(TOPICS)})")
        for template in mappings.get("dynamic_templates", []):
            (rule,) = template.values()
            if fnmatch.fnmatchcase(path, rule.get("path_match", "\0")):
                return {**rule["mapping"], "_nested": flat[parent]["_nested"], "_disabled": False}
    raise KeyError(f"{kind}: {path}")


def leaf(kind: str, path: str) -> dict[str, Any]:
    spec = resolve(kind, path)
    assert "type" in spec and spec["type"] not in ("object", "nested"), f"{kind}: {path} is not a leaf field"
    assert not spec["_disabled"], f"{kind}: {path} is inside an object with enabled: false"
    return spec


def aggregatable(kind: str, path: str) -> dict[str, Any]:
    spec = leaf(kind, path)
    assert not spec["_nested"], f"{kind}: {path} is inside a nested field: Lens cannot aggregate it"
    assert spec["type"] in AGGREGATABLE, f"{kind}: {path} is {spec['type']}, not aggregatable"
    assert spec.get("doc_values", True), f"{kind}: {path} has no doc_values"
    return spec


KQL_FIELD = re.compile(r"(?<![\w.*])([A-Za-z_][\w.]*)\s*(?::|<=|>=|<|>)")


def kql_fields(query: str) -> set[str]:
    return set(KQL_FIELD.findall(re.sub(r'"(?:[^"\\]|\\.)*"', '""', query)))


def check_kql(kind: str, query: dict[str, Any]) -> None:
    assert query["language"] == "kuery", query
    for field in kql_fields(query["query"]):
        spec = leaf(kind, field)
        assert not spec["_nested"], f"{field}: nested fields need claims:{{…}} syntax"
        assert spec.get("index", True) or spec.get("doc_values", True), f"{kind}: {field} is not searchable"


def test_the_mapping_resolver_knows_dynamic_topics_nested_and_disabled_fields() -> None:
    assert resolve("articles", "published")["type"] == "date"
    assert resolve("articles", "title.raw")["type"] == "keyword"
    for topic in TOPICS:
        assert resolve("articles", f"topics.{topic}.level")["type"] == "keyword"
        assert resolve("articles", f"topics.{topic}.score")["type"] == "float"
    with pytest.raises(KeyError):
        resolve("articles", "topics.no_such_topic.level")
    with pytest.raises(KeyError):
        resolve("articles", "no_such_field")
    # the claims are an object since mapping version 3 (nested documents slowed every search): Lens can count them
    assert aggregatable("articles", "claims.count")["type"] == "integer"
    with pytest.raises(AssertionError, match="not aggregatable"):
        aggregatable("articles", "title")
    with pytest.raises(KeyError):
        resolve("feeds", "backlog.entries")  # enabled: false, no dynamic mapping
    assert kql_fields('level:(core or related) and claim_max > 0 and title:"a: b"') == {"level", "claim_max",
                                                                                        "title"}


# ---------------------------------------------------------------------------------------------- format


def test_ndjson_parses_line_by_line_in_the_export_format() -> None:
    lines = NDJSON.read_text(encoding="utf-8").splitlines()
    assert lines, "no saved objects"
    for number, line in enumerate(lines, 1):
        assert line.strip(), f"line {number} is blank (the import API rejects it)"
        o = json.loads(line)
        assert isinstance(o, dict), number
        assert {"type", "id", "attributes", "references", "coreMigrationVersion", "typeMigrationVersion"} <= set(o)
        assert o["type"] in TYPE_MIGRATION, f"line {number}: unexpected type {o['type']}"
        assert o["coreMigrationVersion"] == CORE_MIGRATION, number
        assert o["typeMigrationVersion"] == TYPE_MIGRATION[o["type"]], number
        assert isinstance(o["attributes"].get("title"), str) and o["attributes"]["title"], number
        for ref in o["references"]:
            assert set(ref) == {"name", "type", "id"}, ref


def test_no_legacy_visualizations_remain() -> None:
    assert not by_type("visualization"), "legacy aggregation-based visualizations: use Lens"
    assert by_type("lens")


def test_ids_are_unique_and_every_reference_resolves() -> None:
    objs = objects()
    assert not [i for i, n in Counter(o["id"] for o in objs).items() if n > 1]
    present = {(o["type"], o["id"]) for o in objs}
    for o in objs:
        names = [r["name"] for r in o["references"]]
        assert len(names) == len(set(names)), f"{o['id']}: duplicate reference names"
        for ref in o["references"]:
            assert (ref["type"], ref["id"]) in present, f"{o['id']} references missing {ref}"


# ---------------------------------------------------------------------------------------------- data views


def test_data_views_name_newswatch_indices_with_date_time_fields() -> None:
    expected = {"articles": "published", "alerts": "claimed_at", "feeds": "updated_at", "feedhealth": "at"}
    seen = {}
    for view in by_type("index-pattern"):
        attrs = view["attributes"]
        kind = kind_of_view(view)
        assert leaf(kind, attrs["timeFieldName"])["type"] in ("date", "date_nanos"), attrs
        assert json.loads(attrs.get("fields", "[]")) == [], "let Kibana read the fields from the mapping"
        seen[kind] = attrs["timeFieldName"]
    assert seen == expected


# ---------------------------------------------------------------------------------------------- Lens


def visualization_accessors(vis_type: str, vis: dict[str, Any]) -> tuple[set[str], set[str], set[str]]:
    """(layer ids, bucket accessors, metric accessors) a Lens visualization state uses."""
    layers: set[str] = set()
    buckets: set[str] = set()
    metrics: set[str] = set()
    if vis_type == "lnsXY":
        assert vis["layers"], vis
        for layer in vis["layers"]:
            assert layer["layerType"] == "data", layer
            layers.add(layer["layerId"])
            buckets |= {layer[k] for k in ("xAccessor", "splitAccessor") if layer.get(k)}
            metrics |= set(layer["accessors"])
            assert layer["accessors"], layer
    elif vis_type == "lnsPie":
        for layer in vis["layers"]:
            layers.add(layer["layerId"])
            buckets |= set(layer["primaryGroups"]) | set(layer.get("secondaryGroups", []))
            metrics |= set(layer["metrics"])
    elif vis_type == "lnsMetric":
        layers.add(vis["layerId"])
        metrics |= {vis[k] for k in ("metricAccessor", "secondaryMetricAccessor", "maxAccessor") if vis.get(k)}
        buckets |= {vis["breakdownByAccessor"]} if vis.get("breakdownByAccessor") else set()
    elif vis_type == "lnsDatatable":
        layers.add(vis["layerId"])
        metrics |= {c["columnId"] for c in vis["columns"]}  # split below by the columns' isBucketed
    else:
        raise AssertionError(f"unexpected visualizationType {vis_type}")
    return layers, buckets, metrics


def check_column(kind: str, name: str, col: dict[str, Any], columns: dict[str, Any]) -> None:
    op, field = col["operationType"], col.get("sourceField")
    assert isinstance(col.get("label"), str), name
    if op == "count":
        assert col["dataType"] == "number" and not col["isBucketed"], name
        if field != RECORDS:
            aggregatable(kind, field)
    elif op == "date_histogram":
        assert aggregatable(kind, field)["type"] in ("date", "date_nanos"), name
        assert col["dataType"] == "date" and col["isBucketed"], name
    elif op == "terms":
        spec = aggregatable(kind, field)
        assert col["isBucketed"] and col["dataType"] == LENS_DATA_TYPE[spec["type"]], name
        order = col["params"]["orderBy"]
        if order["type"] == "column":
            assert order["columnId"] in columns and not columns[order["columnId"]]["isBucketed"], name
        assert col["params"]["size"] >= 1, name
    elif op == "unique_count":
        aggregatable(kind, field)
        assert col["dataType"] == "number" and not col["isBucketed"], name
    elif op in NUMBER_OPS:
        assert aggregatable(kind, field)["type"] in NUMERIC, f"{name}: {op} of a non-numeric field"
        assert col["dataType"] == "number" and not col["isBucketed"], name
    elif op in MIN_MAX_OPS:
        spec = aggregatable(kind, field)
        assert spec["type"] in NUMERIC | {"date", "date_nanos"}, name
        assert col["dataType"] == LENS_DATA_TYPE[spec["type"]] and not col["isBucketed"], name
    elif op == "last_value":
        spec = aggregatable(kind, field)
        assert col["dataType"] == LENS_DATA_TYPE[spec["type"]] and not col["isBucketed"], name
        assert aggregatable(kind, col["params"]["sortField"])["type"] in ("date", "date_nanos"), name
    else:
        raise AssertionError(f"{name}: operation {op} is not checked here")
    if "filter" in col:
        check_kql(kind, col["filter"])


@pytest.mark.parametrize("lens", by_type("lens"), ids=lambda o: o["id"])
def test_lens_layers_use_mapped_fields_and_consistent_state(lens: dict[str, Any]) -> None:
    attrs = lens["attributes"]
    state = attrs["state"]
    assert set(state["datasourceStates"]) <= {"formBased", "textBased"}, "pre-8.6 'indexpattern' datasource"
    layers = state["datasourceStates"]["formBased"]["layers"]
    assert layers, lens["id"]
    ref_names = {r["name"] for r in lens["references"]}
    assert ref_names == {f"indexpattern-datasource-layer-{lid}" for lid in layers}, "one data view per layer"

    vis_layers, buckets, metrics = visualization_accessors(attrs["visualizationType"], state["visualization"])
    assert vis_layers == set(layers), "visualization and datasource layers differ"
    used = buckets | metrics
    for layer_id, layer in layers.items():
        kind = index_of(lens, f"indexpattern-datasource-layer-{layer_id}")
        columns = layer["columns"]
        assert sorted(layer["columnOrder"]) == sorted(columns), f"{layer_id}: columnOrder ≠ columns"
        for name, col in columns.items():
            check_column(kind, f"{lens['id']}/{name}", col, columns)
        assert set(columns) <= used, f"{layer_id}: columns the visualization never shows"
        for accessor in buckets:
            if accessor in columns:
                assert columns[accessor]["isBucketed"], f"{accessor} is not a bucket"
        if attrs["visualizationType"] != "lnsDatatable":
            for accessor in metrics:
                if accessor in columns:
                    assert not columns[accessor]["isBucketed"], f"{accessor} is not a metric"
        check_kql(kind, state["query"])
    assert used <= {c for layer in layers.values() for c in layer["columns"]}, "accessor without a column"
    assert state["filters"] == [], "filters would need their own index references"


# ---------------------------------------------------------------------------------------------- saved search


def test_saved_search_uses_mapped_fields() -> None:
    searches = by_type("search")
    assert searches
    for search in searches:
        attrs = search["attributes"]
        source = json.loads(attrs["kibanaSavedObjectMeta"]["searchSourceJSON"])
        kind = index_of(search, source["indexRefName"])
        for column in attrs["columns"]:
            assert not leaf(kind, column)["_nested"], column
        for field, direction in attrs["sort"]:
            aggregatable(kind, field)
            assert direction in ("asc", "desc")
        check_kql(kind, source["query"])
    core = next(s for s in searches if s["id"] == "newswatch-core-articles")
    assert json.loads(core["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])["query"]["query"] == (
        "level:core")


# ---------------------------------------------------------------------------------------------- dashboards


@pytest.mark.parametrize("dashboard", by_type("dashboard"), ids=lambda o: o["id"])
def test_dashboard_panels_match_references_and_fit_the_grid(dashboard: dict[str, Any]) -> None:
    panels = json.loads(dashboard["attributes"]["panelsJSON"])
    refs = {r["name"]: r for r in dashboard["references"]}
    assert panels
    indexes = [p["panelIndex"] for p in panels]
    assert len(indexes) == len(set(indexes))
    cells: set[tuple[int, int]] = set()
    for p in panels:
        grid = p["gridData"]
        assert grid["i"] == p["panelIndex"]
        assert grid["x"] >= 0 and grid["y"] >= 0 and grid["w"] > 0 and grid["h"] > 0
        assert grid["x"] + grid["w"] <= GRID_COLUMNS, p
        area = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"])
                for y in range(grid["y"], grid["y"] + grid["h"])}
        assert not area & cells, f"panel {p['panelIndex']} overlaps another"
        cells |= area
        # Kibana's dashboard reference injection: "<panelIndex>:<panelRefName>"
        ref = refs.get(f"{p['panelIndex']}:{p['panelRefName']}")
        assert ref is not None, f"panel {p['panelIndex']}: no reference {p['panelIndex']}:{p['panelRefName']}"
        assert ref["type"] == p["type"] in ("lens", "search"), p
    assert len(refs) == len(panels), "references no panel uses"
    assert json.loads(dashboard["attributes"]["optionsJSON"])
    check_kql("articles", json.loads(dashboard["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])["query"])


def test_the_three_dashboards_show_every_visualisation_and_search() -> None:
    dashboards = by_type("dashboard")
    assert {d["attributes"]["title"] for d in dashboards} == DASHBOARDS
    shown = {r["id"] for d in dashboards for r in d["references"]}
    assert {o["id"] for o in objects() if o["type"] in ("lens", "search")} <= shown
    titles = {d["attributes"]["title"]: {r["id"] for r in d["references"]} for d in dashboards}
    assert {"newswatch-articles-by-level", "newswatch-articles-by-topic"} <= titles["newswatch — timeline"]
    assert "newswatch-feed-health" in titles["newswatch — feed health"]
    assert "newswatch-alerts-sent" in titles["newswatch — alerts"]
