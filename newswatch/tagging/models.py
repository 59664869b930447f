"""Result models of the tagger: small, flat and JSON-serialisable, because they are stored in Elasticsearch.

Every field here is part of the interface the pipeline relies on; add fields, never rename them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Level = Literal["core", "related", "none"]


class TermMatch(BaseModel):
    """One topic term found in the article; offsets are Python string indices into ``field``."""

    term: str
    concept: str
    field: Literal["title", "text"]
    start: int
    end: int


class Entity(BaseModel):
    """A gazetteer entity recognised in the article, whatever language or spelling named it."""

    id: str
    name: str
    type: Literal["person", "org", "place"]


class Claim(BaseModel):
    """A reported count of the topic's personnel, e.g. "about 10,000 soldiers" attributed to the NIS."""

    count: int
    count_max: int | None = None
    qualifier: str | None = None
    unit: str
    source: str | None = None
    sentence: str


class TagResult(BaseModel):
    """What ``tag_article`` decided about one article, with the evidence a reader needs to trust it."""

    topic: str
    level: Level
    score: float = Field(ge=0.0, le=1.0)
    matches: list[TermMatch] = Field(default_factory=list)
    evidence: list[str] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list)
    entities: list[Entity] = Field(default_factory=list)
    claims: list[Claim] = Field(default_factory=list)
