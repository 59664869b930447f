"""`newswatch tag` contract: JSON Lines in, one line out per input, in order, with id/level/score/matches."""

from __future__ import annotations

import json

from click.testing import CliRunner

from newswatch.cli import main
from newswatch.settings import Settings

CONFIG = Settings().config_dir

ITEMS = [
    {"id": "a", "title": "North Korean troops reach Kursk",
     "text": "About 10,000 North Korean soldiers have been moved to Russia's Kursk region, the Pentagon said."},
    {"id": "b", "title": "북한군 쿠르스크 투입", "text": "국정원은 북한군 1만여 명이 러시아 쿠르스크 전선에 투입됐다고 밝혔다.", "lang": "ko"},
    {"id": "c", "title": "Kursk submarine remembered", "text": "Families marked 25 years since the Kursk submarine sank."},
    {"id": "d", "title": "Shells for Moscow",
     "text": "North Korea has shipped millions of artillery shells to Russia under the 2024 treaty, officials said."},
]


def test_tag_contract() -> None:
    stdin = "\n".join(json.dumps(i, ensure_ascii=False) for i in ITEMS) + "\n\n"
    result = CliRunner().invoke(main, ["tag"], input=stdin)
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    assert [x["id"] for x in lines] == ["a", "b", "c", "d"]
    assert [x["level"] for x in lines] == ["core", "core", "none", "related"]
    for x in lines:
        assert 0.0 <= x["score"] <= 1.0 and isinstance(x["matches"], list)
    assert lines[0]["matches"] and lines[0]["evidence"]


def test_bad_json_line_is_reported_and_the_rest_tagged() -> None:
    result = CliRunner().invoke(main, ["tag"], input='{"id": "x", "title": "t", "text": "hello"}\nnot json\n')
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    assert lines[0]["id"] == "x" and lines[0]["level"] == "none"
    assert "invalid JSON" in lines[1]["error"]


DRONES = {"id": "e", "title": "Shahed swarm over Kyiv",
          "text": "Russia launched 120 Iranian-made Shahed drones at Kyiv overnight; Tehran supplied them, officials said."}


def test_tag_without_topic_gives_every_topic_under_topics_and_the_default_at_the_top() -> None:
    stdin = "\n".join(json.dumps(i, ensure_ascii=False) for i in [ITEMS[0], DRONES]) + "\n"
    lines = [json.loads(x) for x in CliRunner().invoke(main, ["tag"], input=stdin).stdout.splitlines()]
    assert all(set(x["topics"]) == {"dprk_russia_troops", "iran_drones_russia"} for x in lines)
    assert lines[0]["topic"] == "dprk_russia_troops" and lines[0]["level"] == "core"
    assert lines[0]["topics"]["iran_drones_russia"]["level"] == "none"
    assert lines[1]["level"] == "none" and lines[1]["topics"]["iran_drones_russia"]["level"] == "core"


def test_tag_with_topic_gives_that_topic_at_the_top_level() -> None:
    out = CliRunner().invoke(main, ["tag", "--topic", "iran_drones_russia"], input=json.dumps(DRONES) + "\n[1]\n")
    lines = [json.loads(x) for x in out.stdout.splitlines()]
    assert lines[0]["topic"] == "iran_drones_russia" and lines[0]["level"] == "core" and "topics" not in lines[0]
    assert lines[0]["matches"] and lines[0]["score"] >= 0.6
    assert lines[1] == {"id": None, "line": 2, "error": "not a JSON object"}


def test_a_default_topic_without_a_file_is_a_config_error_not_silently_another_topic() -> None:
    out = CliRunner().invoke(main, ["tag"], input=json.dumps({"title": "x", "text": "y"}) + "\n",
                             env={"NEWSWATCH_TOPIC": "dprk_troops"})  # a typo
    assert out.exit_code == 2
    assert out.output.strip() == ("newswatch: config error: the default topic 'dprk_troops' (NEWSWATCH_TOPIC) has no "
                                  f"file in {CONFIG / 'topics'} (topics: dprk_russia_troops, iran_drones_russia)")


def test_topics_list_eval_and_explain_contracts(tmp_path) -> None:
    listed = [json.loads(x) for x in CliRunner().invoke(main, ["topics", "list", "--json"]).stdout.splitlines()]
    assert {r["name"] for r in listed} >= {"dprk_russia_troops", "iran_drones_russia"}
    assert all(r["enabled"] and r["rules"] > 0 and r["patterns"] > 0 for r in listed)
    labels = tmp_path / "labels.jsonl"
    rows = [{**ITEMS[0], "label": "core"}, {**ITEMS[2], "label": "none", "category": "lookalike_submarine"},
            {**ITEMS[3], "label": "core"}, {"id": "f", "title": "Weather", "text": "Rain in Seoul.", "label": "none"}]
    labels.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    out = CliRunner().invoke(main, ["topics", "eval", "--topic", "dprk_russia_troops", "--labels", str(labels), "--json"])
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout)
    assert report["n"] == 4 and report["core"]["recall"] == 0.5 and report["core"]["precision"] == 1.0
    assert report["core_related"]["recall"] == 1.0 and report["fp_rate_lookalikes"] == 0.0
    (miss,) = report["errors"]
    assert miss["id"] == "d" and miss["kind"] == "miss" and miss["predicted"] == "related"
    assert miss["evidence"] and miss["rule"] and miss["rule_status"]  # the rule that came nearest, and why
    human = CliRunner().invoke(main, ["topics", "eval", "--topic", "dprk_russia_troops", "--labels", str(labels)])
    assert "MISS" in human.output and "core          P 1.000  R 0.500" in human.output
    ex = json.loads(CliRunner().invoke(main, ["topics", "explain", "--topic", "dprk_russia_troops", "--json"],
                                       input=json.dumps(ITEMS[0]) + "\n").stdout)
    assert ex["level"] == "core" and any(r["status"] == "fired" for r in ex["rules"])
    assert all({"rule", "level", "status", "terms", "sentence"} <= set(r) for r in ex["rules"])
    bad = CliRunner().invoke(main, ["topics", "eval", "--topic", "nope", "--labels", str(labels)])
    assert bad.exit_code == 2 and bad.output.startswith("newswatch: config error")


def test_cluster_contract() -> None:
    a = {"id": "1", "title": "North Korean troops reach Kursk, Pentagon says", "published": "2024-10-28T10:00:00+00:00",
         "text": "About 10,000 North Korean soldiers have been moved to Russia's Kursk region, the Pentagon said on "
                 "Monday, adding that some had already entered the fighting against Ukrainian forces.", "lang": "en"}
    b = {**a, "id": "2", "text": a["text"] + " Copyright Wire 2024."}
    c = {"id": "3", "title": "Rain in Seoul", "text": "Heavy rain fell on Seoul on Monday.", "lang": "en"}
    stdin = "\n".join(json.dumps(x) for x in (c, a, b)) + "\nnot json\n"
    lines = [json.loads(x) for x in CliRunner().invoke(main, ["cluster"], input=stdin).stdout.splitlines()]
    assert [x.get("id") for x in lines] == ["3", "1", "2", None]
    assert lines[1]["story"] == lines[2]["story"] != lines[0]["story"]
    assert "invalid JSON" in lines[3]["error"]
