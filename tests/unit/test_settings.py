"""Settings: enumerated settings are checked choices; defaults never point into site-packages."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from newswatch.cli import main
from newswatch.settings import Settings


def test_an_unknown_alert_level_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Defect: NEWSWATCH_ALERT_MIN_LEVEL was a free string: any typo meant core+related."""
    monkeypatch.setenv("NEWSWATCH_ALERT_MIN_LEVEL", "cor")
    with pytest.raises(ValidationError):
        Settings()
    result = CliRunner().invoke(main, ["staging", "prune", "--json"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1].startswith("newswatch: config error: NEWSWATCH_ALERT_MIN_LEVEL")
    monkeypatch.setenv("NEWSWATCH_ALERT_MIN_LEVEL", "related")
    assert Settings().alert_min_level == "related"


def test_defaults_come_from_the_working_directory_or_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import newswatch.settings as mod

    project = tmp_path / "proj"
    (project / "config" / "topics").mkdir(parents=True)
    monkeypatch.chdir(project)
    assert Settings().config_dir == project / "config" and Settings().var_dir == project / "var"
    # an installed wheel (no checkout around the package) and a bare working directory: XDG folders
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(mod, "__file__", str(tmp_path / "venv/lib/python3.11/site-packages/newswatch/settings.py"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    s = Settings()
    assert s.config_dir == tmp_path / "xdg-config" / "newswatch"
    assert s.var_dir == tmp_path / "xdg-state" / "newswatch"
    assert "site-packages" not in str(s.config_dir) + str(s.var_dir)


def test_the_cli_runs_as_a_module_and_has_a_version() -> None:
    """`newswatch stack up` starts the SMTP sink with `python -m newswatch.cli serve-mail`."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "newswatch.cli", "--version"], capture_output=True, text=True,
                         check=True)
    assert out.stdout.startswith("newswatch, version ")


def test_an_unreachable_elasticsearch_is_one_line_naming_its_url() -> None:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "newswatch.cli", "search", "Kursk"], capture_output=True, text=True,
                         env={**__import__("os").environ, "NEWSWATCH_ES__URL": "http://127.0.0.1:9"}, timeout=60)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines() == [
        "newswatch: Elasticsearch at http://127.0.0.1:9 is unreachable (ConnectionError): start it with "
        "`newswatch stack up` or set NEWSWATCH_ES__URL"]
