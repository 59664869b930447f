"""``newswatch stack status --json`` names the timeline page's address (the Airflow plugin's mount point)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from newswatch.cli import main


def test_stack_status_json_includes_the_timeline_url(tmp_path: Path) -> None:
    env = {"NEWSWATCH_VAR_DIR": str(tmp_path), "NEWSWATCH_AIRFLOW_PORT": "8123",
           "NEWSWATCH_ES__URL": "http://127.0.0.1:9"}
    result = CliRunner().invoke(main, ["stack", "status", "--json"], env=env)
    assert result.exit_code == 0, result.output
    rows = {r["service"]: r for r in map(json.loads, result.stdout.splitlines())}
    assert rows["airflow"]["timeline_url"] == "http://127.0.0.1:8123/newswatch/timeline/"
    assert rows["airflow"]["status"] == "down" and rows["elasticsearch"]["status"] == "down"
