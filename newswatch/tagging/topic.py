"""Topic and gazetteer configuration: pydantic models of the YAML files, validation, compilation, caching.

All knowledge about a topic lives in ``config/topics/<name>.yaml`` and all knowledge about named people,
organisations and places in ``config/entities.yaml``; this module only knows their *shape*. Watching a new
topic therefore means writing a new YAML file, never new code. The models forbid unknown keys so a typo
(``al_of:``) fails loudly at load time instead of silently disabling a rule.

Topic file shape (see ``config/topics/dprk_russia_troops.yaml`` for a full example)::

    name: my_topic            # must equal the file stem
    title: Human title
    version: 1
    entities: entities.yaml   # gazetteer relative to the config dir; null for none
    concepts:                 # term groups; terms per ISO 639-1 language, '*' syntax in matcher.py
      actor: {description: ..., terms: {en: [...], ru: [...]}}
    exclusions:               # contexts that rule a match out: they swallow overlapping terms and
      some_context: {...}     # can veto rules through ``none_of``
    barriers:                 # optional: separators that end a clause, per language (plain text, not terms)
      clause: {en: [", while", "whereas"], ru: [", а "]}
    rules:                    # a rule fires when every all_of group has a concept in the window
      - {id: r1, level: core, all_of: [actor, [place_a, place_b]], none_of: [], window: 1,
         near: 8, barrier: clause, weight: 0.9, reason: "why this means the topic"}
    claims:                   # optional: counts of the topic's personnel
      actor_concepts: [actor]
      other_actor_concepts: [...]
      units: {troops: [troops, войск*]}
      not_after: [killed]
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from newswatch.config import load_yaml, validate
from newswatch.errors import ConfigError
from newswatch.tagging.matcher import Pattern, TermIndex, _is_hangul, compile_pattern, fold_text

log = logging.getLogger(__name__)

FAMILY_TOPIC = "topic"
FAMILY_ENTITY = "entity"
FAMILY_UNIT = "unit"
FAMILY_NOT_AFTER = "not_after"

_LANG = re.compile(r"^[a-z]{2}$")
_ID = re.compile(r"^[a-z0-9_]+$")


class TopicConfigError(ConfigError, ValueError):
    """A topic or gazetteer YAML file is missing or invalid; the message names the file and the key.

    A :class:`newswatch.errors.ConfigError`, so callers catch every configuration problem with one class;
    still a ``ValueError`` for callers written before that.
    """


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_terms(terms: dict[str, list[str]]) -> dict[str, list[str]]:
    for lang, words in terms.items():
        if not _LANG.match(lang):
            raise ValueError(f"language key {lang!r} is not an ISO 639-1 code (two lower-case letters)")
        for word in words:
            if not isinstance(word, str) or not word.strip(" *"):
                raise ValueError(f"empty term in language {lang!r}")
    return terms


class ConceptConfig(_Strict):
    """A group of terms that name the same thing, per language."""

    description: str = ""
    terms: dict[str, list[str]]

    @field_validator("terms")
    @classmethod
    def _valid_terms(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        return _check_terms(value)


class RuleConfig(_Strict):
    """Co-occurrence rule: every ``all_of`` group must be present within ``window`` sentences.

    ``near: N`` makes the rule relational rather than co-occurrence: each other group must have a term at
    most N words from a term of the first group (the actor), in the same window — "North Korean troops",
    "soldiers from North Korea" and "North Korea has sent 10,000 soldiers" (N = 4) fire, while a paragraph
    that names North Korea in one clause and other soldiers in another does not.

    ``barrier: NAME`` (with ``near``) names a list of the topic's ``barriers``: a pair of terms only counts
    as near when none of those separators stands between them, so "Russian troops attacked near Pokrovsk,
    while North Korea held a parade" does not bind North Korea to Pokrovsk however few words apart they are.

    ``near: [N1, N2, ...]`` gives each other group its own distance from the actor, in ``all_of`` order: a
    weapon bound tightly to its maker and the war anywhere in the clause ("a missile manufactured in and
    supplied by North Korea struck a residential building in Kharkiv": ``near: [8, 20]``).

    ``actor_in_title: true`` (with ``near``, at least three groups and ``window: 1``) lets the title name the
    actor for a body sentence that names none: the title "North Korea readies a second contingent" and the
    sentence "thousands more troops are being selected to be sent to Russia". The second group then stands
    in for the actor: each later group must be within its distance (``near``, or its own entry of a list:
    the first entry is not used) of a term of the second group, with no barrier between; the sentence must
    hold no term of the actor group (its own actor is the normal rule's business) and neither the title nor
    the sentence a ``none_of`` concept. One sentence only: a window reaching into the next sentence would
    count the title twice beside the normal rule. Subjects left out after the headline are how Korean news is written,
    and wire copy in every language says "the troops" after a headline that named them. The first group need
    not be the actor: a rule whose first group is the theatre lets the headline name the war place ("Курщина:
    ...") for a body sentence that names the soldiers (``dprk_title_theatre_personnel``).
    """

    id: str
    level: Literal["core", "related"]
    all_of: list[list[str]] = Field(min_length=1)
    none_of: list[str] = Field(default_factory=list)
    window: int = Field(1, ge=1, le=5)
    near: Annotated[int, Field(ge=0, le=30)] | list[Annotated[int, Field(ge=0, le=30)]] | None = None
    barrier: str | None = None
    actor_in_title: bool = False
    weight: float = Field(0.9, gt=0.0, le=1.0)
    reason: str

    @field_validator("all_of", mode="before")
    @classmethod
    def _groups(cls, value: Any) -> Any:
        # a bare concept id is a group of one alternative
        if isinstance(value, list):
            return [[v] if isinstance(v, str) else v for v in value]
        return value


class ClaimsConfig(_Strict):
    """How to recognise reported counts of the topic's personnel."""

    actor_concepts: list[str] = Field(min_length=1)
    other_actor_concepts: list[str] = Field(default_factory=list)
    units: dict[str, list[str]] = Field(min_length=1)
    not_after: list[str] = Field(default_factory=list)


class TopicConfig(_Strict):
    """The whole topic file."""

    name: str
    title: str
    version: int | str
    enabled: bool = True
    description: str = ""
    entities: str | None = "entities.yaml"
    concepts: dict[str, ConceptConfig] = Field(min_length=1)
    exclusions: dict[str, ConceptConfig] = Field(default_factory=dict)
    barriers: dict[str, dict[str, list[str]]] = Field(default_factory=dict)
    rules: list[RuleConfig] = Field(min_length=1)
    claims: ClaimsConfig | None = None

    @field_validator("barriers")
    @classmethod
    def _valid_barriers(cls, value: dict[str, dict[str, list[str]]]) -> dict[str, dict[str, list[str]]]:
        for name, terms in value.items():
            if not _ID.match(name):
                raise ValueError(f"barrier name {name!r} must be lower-case letters, digits and underscores")
            for lang, words in terms.items():
                if not _LANG.match(lang):
                    raise ValueError(f"language key {lang!r} is not an ISO 639-1 code (two lower-case letters)")
                if any(not isinstance(w, str) or not w.strip() for w in words):
                    raise ValueError(f"empty separator in barrier {name!r}, language {lang!r}")
        return value

    @model_validator(mode="after")
    def _references(self) -> TopicConfig:
        if not _ID.match(self.name):
            raise ValueError(f"name {self.name!r} must be lower-case letters, digits and underscores")
        clash = set(self.concepts) & set(self.exclusions)
        if clash:
            raise ValueError(f"ids used both as concept and exclusion: {sorted(clash)}")
        known = set(self.concepts) | set(self.exclusions)
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"duplicate rule id {rule.id!r}")
            seen.add(rule.id)
            used = [c for group in rule.all_of for c in group] + list(rule.none_of)
            unknown = sorted(set(used) - known)
            if unknown:
                raise ValueError(f"rule {rule.id!r} refers to unknown concepts {unknown}")
            if rule.barrier is not None:
                if rule.barrier not in self.barriers:
                    raise ValueError(f"rule {rule.id!r} refers to unknown barrier {rule.barrier!r}")
                if rule.near is None:
                    raise ValueError(f"rule {rule.id!r}: a barrier needs near")
            if isinstance(rule.near, list) and len(rule.near) != len(rule.all_of) - 1:
                raise ValueError(f"rule {rule.id!r}: near as a list needs one distance per group after the first "
                                 f"({len(rule.all_of) - 1}), not {len(rule.near)}")
            if rule.actor_in_title and (rule.near is None or len(rule.all_of) < 3 or rule.window != 1):
                raise ValueError(f"rule {rule.id!r}: actor_in_title needs near, at least three groups and window 1")
        if self.claims is not None:
            used = self.claims.actor_concepts + self.claims.other_actor_concepts
            unknown = sorted(set(used) - set(self.concepts))
            if unknown:
                raise ValueError(f"claims refer to unknown concepts {unknown}")
        return self


class EntityConfig(_Strict):
    """One gazetteer entry; ``source: false`` for entities that are never the source of a claim."""

    id: str
    name: str
    type: Literal["person", "org", "place"]
    aliases: dict[str, list[str]] = Field(min_length=1)
    source: bool = True

    @field_validator("aliases")
    @classmethod
    def _valid_aliases(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        return _check_terms(value)


class GazetteerConfig(_Strict):
    """The whole ``entities.yaml``."""

    version: int | str = 1
    entities: list[EntityConfig]

    @model_validator(mode="after")
    def _unique(self) -> GazetteerConfig:
        ids = [e.id for e in self.entities]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate entity ids {dupes}")
        return self


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule with its concepts as bit masks (one bit per concept id), so windows are checked with ints."""

    rule: RuleConfig
    groups: tuple[int, ...]  # one mask per ``all_of`` group; a window needs a bit of each
    needed: int  # union of the groups: which sentences of a window contribute
    none_of: tuple[tuple[str, int], ...]  # (concept id, bit) in YAML order, for the reason line
    none_mask: int
    barrier: re.Pattern[str] | None = None  # separators a near pair must not straddle (``RuleConfig.barrier``)
    nears: tuple[int, ...] = ()  # ``near`` per group after the first (the actor)


@dataclass(frozen=True, slots=True)
class RuleTable:
    """Lookup tables the tagger uses per article, compiled once per topic (see :attr:`Topic.rule_table`)."""

    bits: dict[str, int]  # concept or exclusion id -> its bit
    rules: tuple[CompiledRule, ...]
    exclusion_ids: frozenset[str]


@dataclass(frozen=True)
class Topic:
    """A loaded, compiled topic: its config, one term index and lookup tables used by the tagger."""

    config: TopicConfig
    path: Path
    index: TermIndex
    entities: dict[str, EntityConfig] = field(default_factory=dict)
    patterns: tuple[Pattern, ...] = ()

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def title(self) -> str:
        return self.config.title

    @property
    def version(self) -> int | str:
        return self.config.version

    @property
    def exclusion_ids(self) -> frozenset[str]:
        return self.rule_table.exclusion_ids

    @cached_property
    def rule_table(self) -> RuleTable:
        """The rules as bit masks, built on first use and kept with the (cached, immutable) topic."""
        ids = list(self.config.concepts) + list(self.config.exclusions)
        bits = {cid: 1 << i for i, cid in enumerate(ids)}
        barriers = {name: compile_barrier(terms) for name, terms in self.config.barriers.items()}
        rules = []
        for rule in self.config.rules:
            groups = tuple(_mask(bits, g) for g in rule.all_of)
            needed = 0
            for g in groups:
                needed |= g
            none_of = tuple((c, bits[c]) for c in rule.none_of)
            barrier = barriers[rule.barrier] if rule.barrier is not None else None
            nears = tuple(rule.near) if isinstance(rule.near, list) else (rule.near or 0,) * (len(groups) - 1)
            rules.append(CompiledRule(rule, groups, needed, none_of, _mask(bits, rule.none_of), barrier, nears))
        return RuleTable(bits=bits, rules=tuple(rules), exclusion_ids=frozenset(self.config.exclusions))


def compile_barrier(terms: dict[str, list[str]]) -> re.Pattern[str]:
    """One case-insensitive regex for a barrier's separators: a separator that begins (ends) with a letter or
    digit must begin (end) a word, except that a Hangul ending may take particles (사이 -> 사이에) and a
    separator written with a leading ``-`` is a word ending ("-고, ": 배치했고, -> the clause ends there)."""
    parts = []
    for word in sorted({w for ws in terms.values() for w in ws}, key=len, reverse=True):
        suffix = word.startswith("-") and len(word) > 1
        folded = fold_text(word[1:] if suffix else word)
        piece = re.escape(folded)
        if folded[0].isalnum() and not suffix:
            piece = r"(?<!\w)" + piece
        if folded[-1].isalnum() and not _is_hangul(folded[-1]):
            piece += r"(?!\w)"
        parts.append(piece)
    return re.compile("|".join(parts))


def _mask(bits: dict[str, int], concepts: list[str]) -> int:
    out = 0
    for c in concepts:
        out |= bits[c]
    return out


def resolve_config_dir(config_dir: Path | str | None = None) -> Path:
    """Where topic files live: the argument, else the settings' ``config_dir`` (``NEWSWATCH_CONFIG_DIR``, the
    working directory's or the checkout's ``config/``, else XDG) — the one default, shared with the pipeline."""
    if config_dir is not None:
        return Path(config_dir)
    from newswatch.settings import Settings

    return Settings().config_dir


_CACHE: dict[tuple[str, int, str, int], Topic] = {}
_CACHE_LOCK = threading.Lock()


def load_topic(name: str | Path, config_dir: Path | str | None = None) -> Topic:
    """Load and compile a topic by name (``<config_dir>/topics/<name>.yaml``) or by path to a YAML file.

    Compiled topics are cached by file path and modification time, so calling this per article is cheap
    and an edited file is picked up. Raises :class:`TopicConfigError` for missing or invalid files.
    """
    if isinstance(name, Path) or str(name).endswith((".yaml", ".yml")):
        path = Path(name)
        base = Path(config_dir) if config_dir is not None else path.resolve().parent.parent
    else:
        base = resolve_config_dir(config_dir)
        path = base / "topics" / f"{name}.yaml"
    if not path.is_file():
        raise TopicConfigError(f"{path}: topic file not found")
    raw = _read_yaml(path)
    config = _validate(TopicConfig, raw, path)
    if not isinstance(name, Path) and not str(name).endswith((".yaml", ".yml")) and config.name != name:
        raise TopicConfigError(f"{path}: name {config.name!r} does not match the file name {name!r}")
    ent_path = (base / config.entities) if config.entities else None
    if ent_path is not None and not ent_path.is_file():
        ent_path = (path.parent / config.entities) if (path.parent / config.entities).is_file() else None
        if ent_path is None:
            log.warning("topic %s: gazetteer %s not found, entities disabled", config.name, config.entities)
    key = (
        str(path.resolve()),
        path.stat().st_mtime_ns,
        str(ent_path.resolve()) if ent_path else "",
        ent_path.stat().st_mtime_ns if ent_path else 0,
    )
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
    if cached is not None:
        return cached
    gazetteer = _validate(GazetteerConfig, _read_yaml(ent_path), ent_path) if ent_path else None
    topic = _compile(config, path, gazetteer)
    with _CACHE_LOCK:
        _CACHE[key] = topic
    log.info("loaded topic %s v%s: %d patterns", config.name, config.version, topic.index.size)
    return topic


def _read_yaml(path: Path) -> Any:
    return load_yaml(path, error=TopicConfigError)


def _validate(model: type[_Strict], raw: Any, path: Path) -> Any:
    return validate(model, raw, path, error=TopicConfigError)


def _compile(config: TopicConfig, path: Path, gazetteer: GazetteerConfig | None) -> Topic:
    patterns: list[Pattern] = []

    def add(terms: dict[str, list[str]] | list[str], label: str, family: str, where: str) -> None:
        words = [w for ws in terms.values() for w in ws] if isinstance(terms, dict) else terms
        for word in words:
            try:
                patterns.append(compile_pattern(word, label, family))
            except ValueError as exc:
                raise TopicConfigError(f"{path}: {where}: {exc}") from exc

    for cid, concept in {**config.concepts, **config.exclusions}.items():
        add(concept.terms, cid, FAMILY_TOPIC, f"concept {cid}")
    if config.claims is not None:
        for unit, words in config.claims.units.items():
            add(words, unit, FAMILY_UNIT, f"claims.units.{unit}")
        add(config.claims.not_after, "not_after", FAMILY_NOT_AFTER, "claims.not_after")
    entities: dict[str, EntityConfig] = {}
    if gazetteer is not None:
        for ent in gazetteer.entities:
            entities[ent.id] = ent
            add(ent.aliases, ent.id, FAMILY_ENTITY, f"entity {ent.id}")
    return Topic(config=config, path=path, index=TermIndex(patterns), entities=entities, patterns=tuple(patterns))
