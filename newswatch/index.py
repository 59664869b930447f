"""Elasticsearch: index templates, idempotent bulk writes, and the small reads the pipeline needs.

Every document has a deterministic ``_id`` (articles and pages: a hash of the canonical URL; feeds: a hash
of the feed URL; alerts: the story id), so re-running any step overwrites instead of duplicating. Index
templates are explicit (``resources/es/*.json``, ``dynamic: strict``) and need no X-Pack feature, so the
same code runs on the bare integration-test distribution and on a secured production cluster.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from importlib import resources
from typing import Any

from elasticsearch import ApiError, BadRequestError, Elasticsearch, NotFoundError, helpers

from newswatch.errors import IndexingError, SearchError
from newswatch.records import Page, doc_id
from newswatch.settings import Settings

log = logging.getLogger(__name__)

KINDS = ("articles", "feeds", "feedhealth", "alerts", "pages")

__all__ = ["KINDS", "LANGUAGE_ANALYZERS", "bulk_upsert", "doc_id", "ensure_indices", "existing_ids", "index_name",
           "iter_pages", "known_article_ids", "language_analyzers", "require_indices", "store_pages", "template_body",
           "with_language_fields"]


def index_name(settings: Settings, kind: str) -> str:
    return f"{settings.es.index_prefix}-{kind}"


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


def ensure_indices(es: Elasticsearch, settings: Settings) -> list[str]:
    """Install the index templates and create the indices if missing; safe to call any number of times."""
    created = []
    analyzers = language_analyzers(es)
    for kind in KINDS:
        name = index_name(settings, kind)
        body = template_body(kind)
        if kind == "articles":
            body = with_language_fields(body, analyzers)
        es.indices.put_index_template(
            name=f"{name}-template",
            index_patterns=[f"{name}*"],
            template={"settings": body["settings"], "mappings": body["mappings"]},
            priority=200,
            meta={"managed_by": "newswatch"},
        )
        if not es.indices.exists(index=name):
            try:
                es.indices.create(index=name)
                created.append(name)
            except BadRequestError:
                if not es.indices.exists(index=name):  # not a worker that created it first: a real refusal
                    raise
        else:
            # new fields of a newer release are added in place; a changed type needs a reindex
            try:
                es.indices.put_mapping(index=name, properties=body["mappings"]["properties"],
                                       dynamic_templates=body["mappings"].get("dynamic_templates"))
            except BadRequestError as exc:
                log.warning("mapping of %s differs from the template and needs a reindex: %s", name, exc)
    es.cluster.health(index=[index_name(settings, k) for k in KINDS], wait_for_status="yellow", timeout="30s")
    return created


def require_indices(es: Elasticsearch, settings: Settings, kinds: Sequence[str] = ("articles",)) -> None:
    """Read-only commands never create anything: they say what to run when the indices are missing."""
    missing = [index_name(settings, k) for k in kinds if not es.indices.exists(index=index_name(settings, k))]
    if missing:
        raise SearchError(f"no index {', '.join(missing)} on {settings.es.url}: run `newswatch init` "
                          "(or a poll) first")


def existing_ids(es: Elasticsearch, index: str, ids: Sequence[str]) -> set[str]:
    """Which of ``ids`` already exist in ``index`` (one mget, no sources)."""
    if not ids:
        return set()
    resp = es.mget(index=index, ids=list(ids), source=False)
    return {d["_id"] for d in resp["docs"] if d.get("found")}


def known_article_ids(es: Elasticsearch, settings: Settings, ids: Sequence[str]) -> set[str]:
    """Which of ``ids`` (ids of feed links) are indexed: as an article's own id, or among the ``link_ids``
    of an article whose canonical URL differs from the link (http vs https, ``www.``, redirectors)."""
    ids = list(dict.fromkeys(ids))
    if not ids:
        return set()
    index = index_name(settings, "articles")
    found = existing_ids(es, index, ids)
    rest = [i for i in ids if i not in found]
    for start in range(0, len(rest), 1000):
        chunk = rest[start:start + 1000]
        resp = es.search(index=index, size=len(chunk), query={"terms": {"link_ids": chunk}},
                         source_includes=["link_ids"])
        for hit in resp["hits"]["hits"]:
            found.update(set(hit["_source"].get("link_ids") or []) & set(chunk))
    return found


def bulk_upsert(es: Elasticsearch, index: str, docs: Iterable[tuple[str, dict[str, Any]]], *,
                partial: bool = False) -> dict[str, int]:
    """Write ``(id, source)`` pairs with ``index`` semantics (create or replace): never a duplicate.

    ``partial`` merges the given fields into the stored document instead (created if missing), leaving
    the fields other writers own untouched. Returns counts of created and updated documents; raises
    ``IndexingError`` listing failed ids while keeping every document that did succeed.
    """
    op = "update" if partial else "index"
    actions = (
        {"_op_type": op, "_index": index, "_id": i, "doc": s, "doc_as_upsert": True, "retry_on_conflict": 3}
        if partial else {"_op_type": op, "_index": index, "_id": i, "_source": s}
        for i, s in docs
    )
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
    return bulk_upsert(es, index_name(settings, "pages"), ((p.id, p.doc()) for p in pages))


def iter_pages(es: Elasticsearch, settings: Settings, ids: Sequence[str] | None = None) -> Iterator[Page]:
    """Stored pages (all, or the given ids), streamed."""
    index = index_name(settings, "pages")
    query: dict[str, Any] = {"ids": {"values": list(ids)}} if ids else {"match_all": {}}
    for hit in helpers.scan(es, index=index, query={"query": query}, size=200):
        yield Page.model_validate({**hit["_source"], "id": hit["_id"]})


def drop_indices(es: Elasticsearch, settings: Settings) -> None:
    """Delete newswatch's indices and templates by name (clusters refuse wildcard deletes)."""
    for kind in KINDS:
        name = index_name(settings, kind)
        es.indices.delete(index=name, ignore_unavailable=True)
        if es.indices.exists_index_template(name=f"{name}-template"):
            es.indices.delete_index_template(name=f"{name}-template")


def add_link_ids(es: Elasticsearch, settings: Settings, links: dict[str, Sequence[str]]) -> int:
    """Add feed-link ids to stored articles' ``link_ids`` (a union; articles that are gone are skipped)."""
    links = {i: v for i, v in links.items() if v}
    if not links:
        return 0
    name = index_name(settings, "articles")
    resp = es.mget(index=name, ids=list(links), source=["link_ids"])
    docs = []
    for d in resp["docs"]:
        if d.get("found"):
            have = set(d["_source"].get("link_ids") or [])
            union = have | set(links[d["_id"]])
            if union != have:
                docs.append((d["_id"], {"link_ids": sorted(union)}))
    return sum(bulk_upsert(es, name, docs, partial=True).values()) if docs else 0
