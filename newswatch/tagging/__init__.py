"""Topic intelligence: tag articles against a YAML-defined topic, with explanations, entities and claims.

Self-contained on purpose (imports nothing else of newswatch but ``newswatch.errors``, a leaf) so it can be
used and benchmarked alone::

    from newswatch.tagging import load_topic, tag_article
    topic = load_topic("dprk_russia_troops")
    result = tag_article(topic, title="...", text="...")
    result.level, result.score, result.reasons, result.claims

Module map: ``topic`` (YAML models, loading, caching), ``matcher`` (Aho-Corasick scan, word boundaries,
sentences), ``tagger`` (rules, levels, scores, explanations), ``entities`` (gazetteer hits),
``claims`` (troop-number claims and their timeline), ``models`` (the result models).
"""

from __future__ import annotations

from newswatch.tagging.claims import build_claims_timeline, extract_claims
from newswatch.tagging.models import Claim, Entity, TagResult, TermMatch
from newswatch.tagging.tagger import tag_article
from newswatch.tagging.topic import Topic, TopicConfigError, load_topic, resolve_config_dir
from newswatch.tagging.topicset import TopicSet, combine, load_topics, primary

__all__ = [
    "Claim",
    "Entity",
    "TagResult",
    "TermMatch",
    "Topic",
    "TopicConfigError",
    "TopicSet",
    "combine",
    "load_topics",
    "primary",
    "build_claims_timeline",
    "extract_claims",
    "load_topic",
    "resolve_config_dir",
    "tag_article",
]
