"""Elasticsearch: versioned indices behind aliases, index templates, idempotent bulk writes, and the small reads
the pipeline needs.

Every document has a deterministic ``_id`` (articles and pages: a hash of the canonical URL; feeds: a hash
of the feed URL; alerts: the story id), so re-running any step overwrites instead of duplicating. Index
templates are explicit (``resources/es/*.json``, ``dynamic: strict``) and need no X-Pack feature, so the
same code runs on the bare integration-test distribution and on a secured production cluster.

Indices are built to change. A kind's documents live in a concrete index ``<prefix>-<kind>-v<N>`` (N: the
``_meta.version`` of its template when the index was created) that nobody names; two aliases name it:

- ``<prefix>-<kind>`` (``index_name``): what every search, Kibana and the alerts read (and, for the alerts,
  write: it is the write index of its alias);
- ``<prefix>-<kind>-write`` (``write_alias``): where the writers of ``LIVE_KINDS`` write.

Both name the same index, except while ``newswatch reindex`` (``newswatch.reindex``) copies a kind into a new
version: then the write alias names the new index and the read alias the old one only — searches see the
data as of the start of the copy, complete and without duplicates (an alias over both indices would count
every copied document twice, and Elasticsearch refuses a get by id on it). Reads by id that prepare a write
(``find_docs``) look in the write index first and fall back to the read alias, so a read-modify-write always
starts from the latest version of a document.
"""

from __future__ import annotations

import copy
import json
import logging
import re
from collections.abc import Generator, Iterable, Iterator, Sequence
from importlib import resources
from itertools import islice
from typing import Any, Literal, TypeVar

from elasticsearch import ApiError, BadRequestError, Elasticsearch, NotFoundError, helpers

from newswatch.errors import IndexingError, SearchError
from newswatch.records import Page, doc_id
from newswatch.settings import Settings

log = logging.getLogger(__name__)

KINDS = ("articles", "feeds", "feedhealth", "alerts", "pages")
# kinds whose writers write through ``write_alias`` and read by id through ``find_docs``: reindexed live.
# The alerts decide once per story by ``op_type=create`` and guard updates by ``_seq_no``, both per index:
# they are copied behind a short write block instead (``newswatch.reindex``).
LIVE_KINDS = ("articles", "feeds", "feedhealth", "pages")
PAGE = 500  # hits a page of a deep listing (``iter_hits``)

__all__ = ["KINDS", "LANGUAGE_ANALYZERS", "LIVE_KINDS", "alias_indices", "bulk_upsert", "doc_id", "ensure_indices",
           "chunks", "find_docs", "index_name", "iter_hits", "iter_pages", "known_article_ids", "language_analyzers",
           "require_indices", "store_pages", "template_body", "template_version", "versioned_name",
           "with_language_fields", "write_alias"]


def index_name(settings: Settings, kind: str) -> str:
    """The read alias of ``kind`` (``<prefix>-<kind>``): what searches, Kibana and the alerts use."""
    return f"{settings.es.index_prefix}-{kind}"


def write_alias(settings: Settings, kind: str) -> str:
    """The write alias of ``kind``: the same index as ``index_name`` but during a reindex, the new one."""
    return f"{index_name(settings, kind)}-write"


def versioned_name(settings: Settings, kind: str, version: int) -> str:
    return f"{index_name(settings, kind)}-v{version}"


def index_version(name: str) -> int | None:
    """The version of a concrete index named by ``versioned_name`` (None for an older release's index)."""
    m = re.search(r"-v(\d+)$", name)
    return int(m.group(1)) if m else None


def template_body(kind: str) -> dict[str, Any]:
    text = resources.files("newswatch.resources.es").joinpath(f"{kind}.json").read_text(encoding="utf-8")
    body: dict[str, Any] = json.loads(text)
    return body


# Elasticsearch's language analyzers used, where the cluster has them, as multi-fields ``title.<name>`` and
# ``text.<name>`` (``english``, ``russian``: the analysis-common module; ``ukrainian``, ``nori``: plugins).
# The integration-test build has none of them, so they are never in the static template.
LANGUAGE_ANALYZERS = ("english", "russian", "ukrainian", "nori")


def language_analyzers(es: Elasticsearch) -> list[str]:
    """Which of ``LANGUAGE_ANALYZERS`` this cluster has (one ``_analyze`` each; a refusal means no)."""
    found = []
    for name in LANGUAGE_ANALYZERS:
        try:
            es.indices.analyze(analyzer=name, text="probe")
        except ApiError as exc:  # "failed to find global analyzer [english]", or no right to ask
            log.debug("no %s analyzer on this cluster: %s", name, exc)
            continue
        found.append(name)
    return found


def with_language_fields(body: dict[str, Any], analyzers: Sequence[str]) -> dict[str, Any]:
    """The articles template ``body`` with a multi-field per analyzer on ``title`` and ``text`` (a copy)."""
    if not analyzers:
        return body
    body = copy.deepcopy(body)
    for field in ("title", "text"):
        spec = body["mappings"]["properties"][field]
        spec.setdefault("fields", {}).update({a: {"type": "text", "analyzer": a} for a in analyzers})
    return body


def template_version(kind: str) -> int:
    """The mapping version of ``kind``'s template (``mappings._meta.version``): raise it with a change that
    needs a reindex (a changed type or analyzer), so ``newswatch reindex`` creates ``-v<that version>``."""
    return int(template_body(kind)["mappings"]["_meta"]["version"])


def alias_indices(es: Elasticsearch, alias: str) -> dict[str, bool]:
    """``{concrete index: is its write index}`` of ``alias``; empty when no alias has that name."""
    try:
        resp = es.indices.get_alias(name=alias)
    except NotFoundError:
        return {}
    out = {}
    for name, info in resp.items():
        flag = info["aliases"][alias].get("is_write_index")
        out[name] = bool(flag) if flag is not None else len(resp) == 1
    return out


def put_template(es: Elasticsearch, settings: Settings, kind: str,
                 analyzers: Sequence[str] | None = None) -> None:
    """The index template of ``kind``, for ``<alias>-v*`` only: never the alias names themselves. The articles'
    template gets the language multi-fields of the analyzers the cluster has (probed unless given)."""
    name = index_name(settings, kind)
    body = template_body(kind)
    if kind == "articles":
        body = with_language_fields(body, language_analyzers(es) if analyzers is None else analyzers)
    es.indices.put_index_template(
        name=f"{name}-template",
        index_patterns=[f"{name}-v*"],
        template={"settings": body["settings"], "mappings": body["mappings"]},
        priority=200,
        meta={"managed_by": "newswatch"},
    )


def ensure_indices(es: Elasticsearch, settings: Settings) -> list[str]:
    """Install the index templates and create the indices and their aliases if missing; safe to call any
    number of times, from any number of workers. An index an older release created under the alias name is
    moved behind the aliases once (``newswatch.reindex.migrate_concrete``). Returns the indices created."""
    created = []
    analyzers = language_analyzers(es)
    for kind in KINDS:
        name = index_name(settings, kind)
        body = template_body(kind)
        if kind == "articles":
            body = with_language_fields(body, analyzers)
        put_template(es, settings, kind, analyzers)
        if alias_indices(es, name):
            # new fields of a newer release are added in place (to the index writes go to); a changed type
            # needs a new template version and `newswatch reindex`
            try:
                es.indices.put_mapping(index=write_alias(settings, kind),
                                       properties=body["mappings"]["properties"],
                                       dynamic_templates=body["mappings"].get("dynamic_templates"))
            except BadRequestError as exc:
                log.warning("mapping of %s differs from the template and needs `newswatch reindex`: %s", name, exc)
            continue
        if es.indices.exists(index=name):  # a concrete index of a release without aliases
            from newswatch.reindex import migrate_concrete

            moved = migrate_concrete(es, settings, kind)
            if not moved.get("migrated_by_other"):
                created.append(moved["new_index"])
            continue
        concrete = versioned_name(settings, kind, template_version(kind))
        try:
            es.indices.create(index=concrete, aliases={name: {"is_write_index": True},
                                                       write_alias(settings, kind): {"is_write_index": True}})
            created.append(concrete)
        except BadRequestError:
            if not alias_indices(es, name):  # not a worker that created it first: a real refusal
                raise
    es.cluster.health(index=[index_name(settings, k) for k in KINDS], wait_for_status="yellow", timeout="30s")
    return created


def require_indices(es: Elasticsearch, settings: Settings, kinds: Sequence[str] = ("articles",)) -> None:
    """Read-only commands never create anything: they say what to run when the indices are missing."""
    missing = [index_name(settings, k) for k in kinds if not es.indices.exists(index=index_name(settings, k))]
    if missing:
        raise SearchError(f"no index {', '.join(missing)} on {settings.es.url}: run `newswatch init` "
                          "(or a poll) first")


def _mget(es: Elasticsearch, index: str, ids: Sequence[str], fields: Sequence[str] | None,
          source: bool) -> dict[str, dict[str, Any]]:
    # a whole document asks for every field by name: Elasticsearch leaves vectors out of ``_source`` unless
    # they are asked for (``index.mapping.exclude_source_vectors``, on since 9.2), and a copy without its
    # ``embedding`` would be lost to the kNN search
    kwargs: dict[str, Any] = {"source_includes": list(fields) if fields else ["*"]} if source else {"source": False}
    resp = es.mget(index=index, ids=list(ids), **kwargs)
    out = {}
    for d in resp["docs"]:
        if d.get("found"):
            out[d["_id"]] = d.get("_source", {})
        elif "error" in d and d["error"].get("type") != "index_not_found_exception":
            raise SearchError(f"reading {d['_id']} from {index}: {d['error'].get('reason')}")
    return out


def find_docs(es: Elasticsearch, settings: Settings, kind: str, ids: Sequence[str], *,
              fields: Sequence[str] | None = None, source: bool = True,
              copy_missing: bool = False) -> dict[str, dict[str, Any]]:
    """The stored documents of ``ids`` (``{id: _source}``, only ``fields`` if given, ``{}`` with
    ``source=False``): from the write index, else from the read alias — the old index while a reindex copies.

    ``copy_missing`` first copies a document found only in the old index into the write index
    (``op_type=create``: a copy that the reindex or a writer made first wins), so that a partial update
    that follows merges into the whole document instead of upserting a stub that the reindex would then
    skip. Outside a reindex both aliases name one index and nothing is ever copied.
    """
    wanted = list(dict.fromkeys(ids))
    out: dict[str, dict[str, Any]] = {}
    target, reads = write_alias(settings, kind), index_name(settings, kind)
    for start in range(0, len(wanted), 1000):
        chunk = wanted[start:start + 1000]
        out.update(_mget(es, target, chunk, fields, source))
        rest = [i for i in chunk if i not in out]
        if not rest:
            continue
        older = _mget(es, reads, rest, None if copy_missing else fields, source or copy_missing)
        if copy_missing and older:
            actions = ({"_op_type": "create", "_index": target, "_id": i, "_source": s} for i, s in older.items())
            for ok, item in helpers.streaming_bulk(es, actions, raise_on_error=False, max_retries=3):
                if not ok and item["create"].get("status") != 409:
                    raise IndexingError(f"copying {item['create'].get('_id')} into {target} failed",
                                        [item["create"]])
            log.info("copied %d documents into %s ahead of the reindex", len(older), target)
            if not source:
                older = {i: {} for i in older}
            elif fields:  # top-level fields only: what the partial writers read
                older = {i: {k: src[k] for k in fields if k in src} for i, src in older.items()}
        out.update(older)
    return out


T = TypeVar("T")


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of ``size`` (the last one shorter), read lazily."""
    it = iter(items)
    while chunk := list(islice(it, max(1, size))):
        yield chunk


def iter_hits(es: Elasticsearch, index: str, query: dict[str, Any], sort: list[Any], *,
              source: Sequence[str] | Literal[False] | None = None, source_excludes: Sequence[str] | None = None,
              docvalue_fields: Sequence[str] | None = None, page: int = PAGE,
              keep_alive: str = "2m") -> Generator[dict[str, Any], None, None]:
    """Every hit of ``query`` in ``sort`` order, a page at a time: ``search_after`` over a point in time (core
    Elasticsearch, no X-Pack), so a listing neither stops at 10,000 hits nor sees a page twice while writers
    write. Stop iterating early to read only the first hits; the point in time is closed either way.
    ``source=False`` with ``docvalue_fields`` reads only those fields' doc values (in each hit's ``fields``)."""
    pit = es.open_point_in_time(index=index, keep_alive=keep_alive)["id"]
    after: list[Any] | None = None
    try:
        while True:
            kwargs: dict[str, Any] = {"search_after": after} if after is not None else {}
            if source is False:
                kwargs.update(source=False, stored_fields="_none_")
            elif source:
                kwargs["source_includes"] = list(source)
            if source_excludes:
                kwargs["source_excludes"] = list(source_excludes)
            if docvalue_fields:
                kwargs["docvalue_fields"] = list(docvalue_fields)
            resp = es.search(pit={"id": pit, "keep_alive": keep_alive}, query=query, sort=sort, size=page,
                             track_total_hits=False, **kwargs)
            pit = resp.get("pit_id", pit)
            hits = resp["hits"]["hits"]
            yield from hits
            if len(hits) < page:
                return
            after = hits[-1]["sort"]
    finally:
        try:
            es.close_point_in_time(id=pit)
        except NotFoundError:
            pass


def known_article_ids(es: Elasticsearch, settings: Settings, ids: Sequence[str]) -> set[str]:
    """Which of ``ids`` (ids of feed links) are indexed: as an article's own id, or among the ``link_ids``
    of an article whose canonical URL differs from the link (http vs https, ``www.``, redirectors)."""
    ids = list(dict.fromkeys(ids))
    if not ids:
        return set()
    found = set(find_docs(es, settings, "articles", ids, source=False))
    rest = [i for i in ids if i not in found]
    for start in range(0, len(rest), 1000):
        chunk = rest[start:start + 1000]
        for hit in helpers.scan(es, index=index_name(settings, "articles"), query={
                "query": {"terms": {"link_ids": chunk}}}, _source=["link_ids"], size=1000):
            found.update(set(hit["_source"].get("link_ids") or []) & set(chunk))
    return found


def bulk_upsert(es: Elasticsearch, index: str, docs: Iterable[tuple[str, dict[str, Any]]]) -> dict[str, int]:
    """Write ``(id, source)`` pairs with ``index`` semantics (create or replace): never a duplicate.

    Returns counts of created and updated documents; raises ``IndexingError`` listing failed ids while
    keeping every document that did succeed.
    """
    op = "index"
    actions = ({"_op_type": op, "_index": index, "_id": i, "_source": s} for i, s in docs)
    counts = {"created": 0, "updated": 0}
    failures: list[dict[str, Any]] = []
    for ok, item in helpers.streaming_bulk(es, actions, raise_on_error=False, max_retries=3, chunk_size=200):
        info = item.get(op, {})
        if ok:
            counts["created" if info.get("result") == "created" else "updated"] += 1
        else:
            failures.append({"id": info.get("_id"), "error": info.get("error")})
    if failures:
        log.error("bulk write to %s: %d failed, first: %s", index, len(failures), failures[0])
        raise IndexingError(f"{len(failures)} documents refused by {index}", failures)
    return counts


def get_doc(es: Elasticsearch, index: str, id_: str) -> dict[str, Any] | None:
    try:
        source: dict[str, Any] = es.get(index=index, id=id_)["_source"]
        return source
    except NotFoundError:
        return None


def store_pages(es: Elasticsearch, settings: Settings, pages: Iterable[Page]) -> dict[str, int]:
    """Keep raw HTML (gzip, base64) keyed by the article id, for re-extraction without refetching."""
    return bulk_upsert(es, write_alias(settings, "pages"), ((p.id, p.doc()) for p in pages))


def iter_pages(es: Elasticsearch, settings: Settings, ids: Sequence[str] | None = None) -> Iterator[Page]:
    """Stored pages (all, or the given ids), streamed."""
    index = index_name(settings, "pages")
    query: dict[str, Any] = {"ids": {"values": list(ids)}} if ids else {"match_all": {}}
    for hit in helpers.scan(es, index=index, query={"query": query}, size=200):
        yield Page.model_validate({**hit["_source"], "id": hit["_id"]})


def drop_indices(es: Elasticsearch, settings: Settings) -> None:
    """Delete newswatch's indices (every version, and an older release's index under the alias name) and
    templates by name (clusters refuse wildcard deletes)."""
    for kind in KINDS:
        name = index_name(settings, kind)
        concrete = set(es.indices.get(index=f"{name}-v*", expand_wildcards="all", allow_no_indices=True))
        if not alias_indices(es, name) and es.indices.exists(index=name):
            concrete.add(name)
        for index in sorted(concrete):
            es.indices.delete(index=index, ignore_unavailable=True)
        if es.indices.exists_index_template(name=f"{name}-template"):
            es.indices.delete_index_template(name=f"{name}-template")


def add_link_ids(es: Elasticsearch, settings: Settings, links: dict[str, Sequence[str]]) -> int:
    """Add feed-link ids to stored articles' ``link_ids`` (a union; articles that are gone are skipped).

    A plain partial update that never creates a document. During a reindex the article is first copied into
    the new index if it is not there yet (``find_docs(copy_missing=True)``); an update that still finds no
    document there (the write alias moved between the read and the write) reads, copies and updates again,
    so it never leaves a stub that the reindex would then skip."""
    links = {i: v for i, v in links.items() if v}
    target, written = write_alias(settings, "articles"), 0
    for _ in range(3):
        if not links:
            break
        stored = find_docs(es, settings, "articles", list(links), fields=["link_ids"], copy_missing=True)
        docs = []
        for i, src in stored.items():
            have = set(src.get("link_ids") or [])
            union = have | set(links[i])
            if union != have:
                docs.append((i, {"link_ids": sorted(union)}))
        updated, missing = update_existing(es, target, docs)
        written += updated
        links = {i: links[i] for i in missing}
    if links:
        log.warning("link ids of %d articles not added: gone from %s", len(links), target)
    return written


def update_existing(es: Elasticsearch, index: str, docs: Sequence[tuple[str, dict[str, Any]]]) -> tuple[int, list[str]]:
    """Merge each ``(id, fields)`` into its stored document, never creating one: ``(updated, missing ids)``;
    raises ``IndexingError`` for any other refusal, keeping every update that did succeed."""
    actions = ({"_op_type": "update", "_index": index, "_id": i, "doc": s, "retry_on_conflict": 3} for i, s in docs)
    updated, missing, failures = 0, [], []
    for ok, item in helpers.streaming_bulk(es, actions, raise_on_error=False, max_retries=3, chunk_size=200):
        info = item.get("update", {})
        if ok:
            updated += 1
        elif info.get("status") == 404:
            missing.append(info.get("_id"))
        else:
            failures.append({"id": info.get("_id"), "error": info.get("error")})
    if failures:
        log.error("bulk update of %s: %d failed, first: %s", index, len(failures), failures[0])
        raise IndexingError(f"{len(failures)} updates refused by {index}", failures)
    return updated, missing
