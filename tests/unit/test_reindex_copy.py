"""The server-side ``_reindex`` road of ``copy_index`` (the integration build has no reindex module, so the
integration tests take the client road): the request it sends, the task it polls, the errors it raises."""

from __future__ import annotations

from typing import Any

import pytest

from newswatch.errors import IndexingError
from newswatch.reindex import copy_index, has_reindex_api, next_version


class FakeTasks:
    def __init__(self, states: list[dict[str, Any]]) -> None:
        self.states = states

    def get(self, task_id: str) -> dict[str, Any]:
        assert task_id == "node:1"
        return self.states.pop(0)


class FakeNodes:
    def __init__(self, modules: list[str]) -> None:
        self.modules = modules

    def info(self, **_: Any) -> dict[str, Any]:
        return {"nodes": {"n1": {"modules": [{"name": m} for m in self.modules]}}}


class FakeES:
    def __init__(self, states: list[dict[str, Any]], modules: tuple[str, ...] = ("reindex",)) -> None:
        self.tasks = FakeTasks(states)
        self.nodes = FakeNodes(list(modules))
        self.sent: dict[str, Any] = {}

    def reindex(self, **kwargs: Any) -> dict[str, Any]:
        self.sent = kwargs
        return {"task": "node:1"}


def test_reindex_api_copies_with_create_and_reports_progress() -> None:
    es = FakeES([
        {"completed": False, "task": {"status": {"total": 10, "created": 4, "version_conflicts": 1}}},
        {"completed": True, "task": {"status": {}},
         "response": {"total": 10, "created": 8, "updated": 0, "version_conflicts": 2, "failures": []}},
    ])
    seen: list[dict[str, Any]] = []
    out = copy_index(es, "a-v2", "a-v3", op_type="create", on_progress=seen.append, poll_seconds=0)  # type: ignore[arg-type]
    assert out == {"total": 10, "copied": 8, "conflicts": 2, "method": "reindex"}
    assert es.sent["dest"] == {"index": "a-v3", "op_type": "create"} and es.sent["conflicts"] == "proceed"
    assert es.sent["wait_for_completion"] is False and es.sent["source"]["index"] == "a-v2"
    assert seen == [{"total": 10, "copied": 4, "conflicts": 1}, {"total": 10, "copied": 8, "conflicts": 2}]


def test_reindex_api_failures_raise() -> None:
    es = FakeES([{"completed": True, "response": {"total": 2, "created": 1, "failures": [
        {"id": "x", "cause": {"reason": "strict mapping"}}]}}])
    with pytest.raises(IndexingError, match="1 documents refused.*strict mapping"):
        copy_index(es, "a-v2", "a-v3", op_type="create", poll_seconds=0)  # type: ignore[arg-type]


def test_without_the_module_the_client_copies() -> None:
    assert has_reindex_api(FakeES([])) is True  # type: ignore[arg-type]
    assert has_reindex_api(FakeES([], modules=("apm", "x-pack-core"))) is False  # type: ignore[arg-type]


def test_next_version_follows_the_template() -> None:
    assert next_version("p-articles-v3", "articles") == 4  # template v3: one more than the index
    assert next_version("p-articles-v1", "articles") == 3  # the template's own version
