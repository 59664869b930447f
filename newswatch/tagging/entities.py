"""Gazetteer entities: the same person, organisation or place recognised across languages and spellings.

The gazetteer (``config/entities.yaml``) lists each entity once with aliases per language, including
inflected stems (``путин*``, ``зеленськ*``) and Korean names that take particles (젤렌스키는). Its aliases are
compiled into the topic's single Aho-Corasick index (family ``entity``), so finding entities costs no
extra scan; this module only turns those hits into the small, deduplicated list stored with the article.
"""

from __future__ import annotations

from newswatch.tagging.matcher import Hit
from newswatch.tagging.topic import FAMILY_ENTITY, Topic

MAX_ENTITIES = 40


def resolve_entities(topic: Topic, hits: dict[str, list[Hit]]) -> list[dict[str, str]]:
    """:class:`Entity` fields of the entities mentioned, in order of first mention, each once (at most
    ``MAX_ENTITIES``); plain dicts because ``TagResult`` validates them all at once, faster than one by one.
    """
    found: list[dict[str, str]] = []
    seen: set[str] = set()
    entities = topic.entities
    for hit in hits.get(FAMILY_ENTITY, ()):
        eid = hit.pattern.label
        if eid in seen:
            continue
        seen.add(eid)
        ent = entities.get(eid)
        if ent is None:
            continue
        found.append({"id": ent.id, "name": ent.name, "type": ent.type})
        if len(found) >= MAX_ENTITIES:
            break
    return found
