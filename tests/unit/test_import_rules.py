"""Layering: extractors imports nothing of ours; the core never imports airflow; DAGs import lazily."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
    return out


def top_level_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("path", sorted((REPO / "extractors").rglob("*.py")), ids=lambda p: p.name)
def test_extractors_import_nothing_of_ours(path: Path) -> None:
    bad = [(n, m) for n, m in imported_modules(path) if m.split(".")[0] in ("newswatch", "dags")]
    assert not bad, f"{path} imports project code: {bad}"


@pytest.mark.parametrize("path", sorted((REPO / "newswatch").rglob("*.py")), ids=lambda p: str(p.relative_to(REPO)))
def test_core_never_imports_airflow(path: Path) -> None:
    bad = [(n, m) for n, m in imported_modules(path) if m.split(".")[0] == "airflow"]
    assert not bad, f"{path} imports airflow: {bad}"


@pytest.mark.parametrize("path", sorted((REPO / "dags").glob("*.py")), ids=lambda p: p.name)
def test_dags_import_only_airflow_and_stdlib_at_top_level(path: Path) -> None:
    allowed = {"__future__", "os", "re", "datetime", "logging", "typing", "airflow.sdk", "_newswatch_common"}
    assert set(top_level_imports(path)) <= allowed, "heavy imports belong inside task bodies"


def test_the_dag_helper_is_no_dag_file() -> None:
    """``dags/_newswatch_common.py`` imports only the standard library at the top (DAG files import it at
    parse time) and the DAG parser skips it."""
    helper = REPO / "dags" / "_newswatch_common.py"
    assert set(top_level_imports(helper)) <= {"__future__", "logging", "os", "re", "typing"}
    assert helper.name in (REPO / "dags" / ".airflowignore").read_text(encoding="utf-8").split()
