"""Gazetteer entities: the same person, organisation or place recognised across languages and spellings.

The gazetteer (``config/entities.yaml``) lists each entity once with aliases per language, including
inflected stems (``путин*``, ``зеленськ*``) and Korean names that take particles (젤렌스키는). Its aliases are
compiled into the topic's single Aho-Corasick index (family ``entity``), so finding entities costs no
extra scan; this module only turns those hits into the small, deduplicated list stored with the article.
"""

from __future__ import annotations

from newswatch.tagging.matcher import Hit
from newswatch.tagging.models import Entity
from newswatch.tagging.topic import FAMILY_ENTITY, Topic

MAX_ENTITIES = 40


def resolve_entities(topic: Topic, hits: dict[str, list[Hit]]) -> list[Entity]:
    """Entities mentioned, in order of first mention, each once (at most ``MAX_ENTITIES``)."""
    found: list[Entity] = []
    seen: set[str] = set()
    for hit in hits.get(FAMILY_ENTITY, []):
        eid = hit.pattern.label
        if eid in seen:
            continue
        ent = topic.entities.get(eid)
        if ent is None:
            continue
        seen.add(eid)
        found.append(Entity(id=ent.id, name=ent.name, type=ent.type))
        if len(found) >= MAX_ENTITIES:
            break
    return found
