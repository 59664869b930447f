"""`newswatch tag` contract: JSON Lines in, one line out per input, in order, with id/level/score/matches."""

from __future__ import annotations

import json

from click.testing import CliRunner

from newswatch.cli import main

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
