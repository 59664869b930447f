"""Two topics side by side in Elasticsearch, and re-tagging the history when a topic file changes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from newswatch import index, steps
from newswatch.records import Article
from newswatch.runtime import Runtime
from newswatch.search import search_articles
from newswatch.timeline import TimelineQuery, run_timeline

pytestmark = pytest.mark.integration
CONFIG = Path(__file__).resolve().parents[2] / "config"

DRONES = ("Russia pounds Kyiv with Iranian Shahed drones",
          "Russia launched more than 100 Iranian-made Shahed drones at Kyiv overnight, Ukraine's air force said. "
          "Tehran has supplied the drones to Moscow since 2022, according to Western officials.")
TROOPS = ("North Korean troops reach Kursk",
          "About 10,000 North Korean soldiers have been moved to Russia's Kursk region, the Pentagon said.")


def articles() -> list[Article]:
    return [Article.from_input({"url": f"https://x.example/{i}", "title": t, "text": x, "published": "2025-01-15",
                                "lang": "en"}, fetched_at="2025-01-15T00:00:00+00:00")
            for i, (t, x) in enumerate((DRONES, TROOPS))]


def test_two_topics_are_tagged_and_searchable_side_by_side(settings_factory) -> None:
    rt = Runtime(settings_factory())
    summary = steps.index_articles(rt, articles())
    assert summary["core"] == 2
    es, s = rt.es, rt.settings
    for topic, title in (("iran_drones_russia", DRONES[0]), ("dprk_russia_troops", TROOPS[0])):
        hits = search_articles(es, s, None, topic=topic, levels=["core"])
        assert [h["title"] for h in hits] == [title], topic
        tl = run_timeline(es, s, TimelineQuery(topic=topic, interval="month"))
        assert tl["total"] == 1 and [b["stack"] for b in tl["buckets"] if b["count"]] == [{"core": 1}]
    hits_ = es.search(index=index.index_name(s, "articles"))["hits"]["hits"]
    docs = {d["_source"]["title"]: d["_source"] for d in hits_}
    assert docs[DRONES[0]]["topic_levels"] == ["iran_drones_russia:core"]
    assert docs[TROOPS[0]]["topic_levels"] == ["dprk_russia_troops:core"]
    assert docs[DRONES[0]]["topics"]["iran_drones_russia"]["evidence"]


def test_retag_after_a_topic_is_enabled_keeps_stories_and_indexed_at(settings_factory, tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    drones_file = config / "topics" / "iran_drones_russia.yaml"
    drones_file.write_text(drones_file.read_text(encoding="utf-8").replace("version: 1", "version: 1\nenabled: false"),
                           encoding="utf-8")
    rt = Runtime(settings_factory(config_dir=config))
    steps.index_articles(rt, articles())
    name = index.index_name(rt.settings, "articles")
    before = {h["_id"]: h["_source"] for h in rt.es.search(index=name, source_exclude_vectors=False)["hits"]["hits"]}
    assert all(set(d["topics"]) == {"dprk_russia_troops"} for d in before.values())
    drones_file.write_text(drones_file.read_text(encoding="utf-8").replace("enabled: false", "enabled: true"),
                           encoding="utf-8")
    redone = steps.retag(rt)
    assert redone["indexed"] == 2 and redone["created"] == 0
    after = {h["_id"]: h["_source"] for h in rt.es.search(index=name, source_exclude_vectors=False)["hits"]["hits"]}
    for i, doc in after.items():
        assert set(doc["topics"]) == {"dprk_russia_troops", "iran_drones_russia"}
        assert doc["indexed_at"] == before[i]["indexed_at"]
        if before[i]["topic_levels"]:  # a story once assigned stays
            assert doc["story_id"] == before[i]["story_id"]
        else:  # no topic tagged the drones article: it had no story (nor embedding); tagged now, it has both
            assert before[i]["story_id"] is None and before[i].get("embedding") is None
            assert doc["story_id"] == i and len(doc["embedding"]) == 512
    assert sorted(lv for d in after.values() for lv in d["topic_levels"]) == [
        "dprk_russia_troops:core", "iran_drones_russia:core"]
