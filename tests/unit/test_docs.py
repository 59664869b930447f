"""The README documents every CLI command and every NEWSWATCH_* setting (sqlite-utils' test_docs idea)."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from newswatch.cli import main
from newswatch.settings import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def commands(group: click.Group, prefix: str = "newswatch") -> list[str]:
    out = []
    for name, cmd in group.commands.items():
        if cmd.hidden:
            continue
        full = f"{prefix} {name}"
        out.append(full)
        if isinstance(cmd, click.Group):
            out += commands(cmd, full)
    return out


@pytest.mark.parametrize("command", commands(main))
def test_every_cli_command_is_in_readme(command: str) -> None:
    assert f"`{command}" in README, f"README does not document `{command}`"


def env_names() -> list[str]:
    names = []
    for name, field in Settings.model_fields.items():
        ann = field.annotation
        sub = getattr(ann, "model_fields", None)
        if sub:
            names += [f"NEWSWATCH_{name.upper()}__{s.upper()}" for s in sub]
        else:
            names.append(f"NEWSWATCH_{name.upper()}")
    return names


@pytest.mark.parametrize("env", env_names())
def test_every_setting_is_in_readme(env: str) -> None:
    assert f"`{env}`" in README, f"README settings table lacks `{env}`"


def test_readme_shows_the_make_targets() -> None:
    for target in ("make demo", "make run", "make test", "make stop"):
        assert target in README
