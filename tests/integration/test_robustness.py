"""A failure on one article never blocks the rest of its batch (real Elasticsearch)."""

from __future__ import annotations

from typing import Any

import pytest

import newswatch.steps.indexing
from newswatch import index, steps
from newswatch.records import Article
from newswatch.runtime import Runtime

pytestmark = pytest.mark.integration


def test_tagging_failure_is_recorded_and_the_batch_goes_on(settings_factory, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_factory()
    rt = Runtime(settings)
    es = rt.es
    real = newswatch.steps.indexing.tag_fields

    def flaky(topic: Any, art: Article) -> dict[str, Any]:
        if art.id == "bad":
            raise RuntimeError("boom")
        return real(topic, art)

    monkeypatch.setattr(newswatch.steps.indexing, "tag_fields", flaky)
    text = "North Korean troops have been sent to Russia's Kursk region, about 10,000 soldiers, NATO said."
    arts = [Article.from_input({"id": i, "url": f"https://x.example/{i}", "title": "North Korean troops in Kursk",
                                "text": text, "published": "2024-10-28"}, fetched_at="2024-10-28T00:00:00+00:00")
            for i in ("bad", "good")]
    summary = steps.index_articles(rt, arts)
    assert summary["indexed"] == 2
    bad = index.get_doc(es, index.index_name(settings, "articles"), "bad")
    good = index.get_doc(es, index.index_name(settings, "articles"), "good")
    assert bad and bad["level"] == "none" and bad["reasons"] == ["tagging failed: Unexpected:RuntimeError"]
    assert good and good["level"] == "core"
