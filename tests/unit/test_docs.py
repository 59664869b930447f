"""The README documents every CLI command and every NEWSWATCH_* setting (sqlite-utils' test_docs idea)."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from newswatch.cli import main
from newswatch.settings import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def commands(group: click.Group, prefix: str = "newswatch") -> list[str]:
    """Every runnable (leaf) command, as its words: ``newswatch feeds status``."""
    out = []
    for name, cmd in group.commands.items():
        if cmd.hidden:
            continue
        full = f"{prefix} {name}"
        out += commands(cmd, full) if isinstance(cmd, click.Group) else [full]
    return out


def documented() -> set[str]:
    """The command words of every `newswatch …` code span in the README, up to the first argument or option
    (``newswatch feeds status [--json]`` → ``newswatch feeds status``): whole commands, never a prefix."""
    found = set()
    for span in re.findall(r"`(newswatch [^`]+)`", README):
        for part in span.split(" / "):  # `newswatch stack up … / newswatch stack down`
            words = []
            for word in part.split():
                if not re.fullmatch(r"[a-z][a-z-]*", word):
                    break
                words.append(word)
            if len(words) > 1 and words[0] == "newswatch":
                found.add(" ".join(words))
    return found


@pytest.mark.parametrize("command", commands(main))
def test_every_cli_command_is_in_readme(command: str) -> None:
    assert command in documented(), f"README does not document `{command}` as a whole command"


def test_readme_documents_no_command_that_does_not_exist() -> None:
    real = set(commands(main))
    groups = {" ".join(c.split()[:k]) for c in real for k in range(2, len(c.split()))}
    assert documented() - real - groups == set()


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
