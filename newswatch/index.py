"""Elasticsearch: index templates, idempotent bulk writes, and the small reads the pipeline needs.

Every document has a deterministic ``_id`` (articles and pages: a hash of the canonical URL; feeds: a hash
of the feed URL; alerts: the story id), so re-running any step overwrites instead of duplicating. Index
templates are explicit (``resources/es/*.json``, ``dynamic: strict``) and need no X-Pack feature, so the
same code runs on the bare integration-test distribution and on a secured production cluster.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from elasticsearch import BadRequestError, Elasticsearch, NotFoundError, helpers

from newswatch.errors import IndexingError
from newswatch.settings import Settings

log = logging.getLogger(__name__)

KINDS = ("articles", "feeds", "alerts", "pages")


def doc_id(url: str) -> str:
    """Stable document id for a canonical URL (40 hex chars)."""
    return hashlib.sha1(url.encode("utf-8")).hexdigest()


def index_name(settings: Settings, kind: str) -> str:
    return f"{settings.es.index_prefix}-{kind}"


def make_es(settings: Settings, **kwargs: Any) -> Elasticsearch:
    """The Elasticsearch client for ``settings`` (auth only when configured)."""
    opts: dict[str, Any] = {"request_timeout": 30, "retry_on_timeout": True, "max_retries": 3}
    if settings.es.api_key:
        opts["api_key"] = settings.es.api_key.get_secret_value()
    elif settings.es.username and settings.es.password:
        opts["basic_auth"] = (settings.es.username, settings.es.password.get_secret_value())
    opts.update(kwargs)
    return Elasticsearch(settings.es.url, **opts)


def template_body(kind: str) -> dict[str, Any]:
    text = resources.files("newswatch.resources.es").joinpath(f"{kind}.json").read_text(encoding="utf-8")
    body: dict[str, Any] = json.loads(text)
    return body


def ensure_indices(es: Elasticsearch, settings: Settings) -> list[str]:
    """Install the index templates and create the indices if missing; safe to call any number of times."""
    created = []
    for kind in KINDS:
        name = index_name(settings, kind)
        body = template_body(kind)
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
            except Exception as exc:  # another worker created it first
                if "resource_already_exists" not in str(exc):
                    raise
        else:
            # new fields of a newer release are added in place; a changed type needs a reindex
            try:
                es.indices.put_mapping(index=name, properties=body["mappings"]["properties"])
            except BadRequestError as exc:
                log.warning("mapping of %s differs from the template and needs a reindex: %s", name, exc)
    es.cluster.health(index=[index_name(settings, k) for k in KINDS], wait_for_status="yellow", timeout="30s")
    return created


def existing_ids(es: Elasticsearch, index: str, ids: Sequence[str]) -> set[str]:
    """Which of ``ids`` already exist in ``index`` (one mget, no sources)."""
    if not ids:
        return set()
    resp = es.mget(index=index, ids=list(ids), source=False)
    return {d["_id"] for d in resp["docs"] if d.get("found")}


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


def feed_rows(es: Elasticsearch, settings: Settings, fields: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The feed-state documents, by URL: what ``feeds status`` and run summaries show.

    Extraction counters read 0 until a page of the feed was fetched; the batch ids behind them are internal.
    """
    resp = es.search(index=index_name(settings, "feeds"), size=10000, sort=[{"url": "asc"}],
                     source_includes=list(fields) if fields else None)
    defaults = {"articles_ok": 0, "articles_failed": 0, "body_chars_total": 0}
    return [{**{k: v for k, v in defaults.items() if not fields or k in fields},
             **{k: v for k, v in h["_source"].items() if k != "health_batches"}} for h in resp["hits"]["hits"]]


def get_doc(es: Elasticsearch, index: str, id_: str) -> dict[str, Any] | None:
    try:
        source: dict[str, Any] = es.get(index=index, id=id_)["_source"]
        return source
    except NotFoundError:
        return None


def store_pages(es: Elasticsearch, settings: Settings, pages: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Keep raw HTML (gzip, base64) keyed by the article id, for re-extraction without refetching."""
    now = datetime.now(UTC).isoformat()

    def docs() -> Iterable[tuple[str, dict[str, Any]]]:
        for page in pages:
            html: bytes = page["html"]
            yield page["id"], {
                "url": page["url"],
                "fetched_url": page.get("fetched_url"),
                "feed_url": page.get("feed_url"),
                "fetched_at": page.get("fetched_at", now),
                "content_type": page.get("content_type"),
                "html_gz": base64.b64encode(gzip.compress(html, compresslevel=6)).decode("ascii"),
                "bytes": len(html),
            }

    return bulk_upsert(es, index_name(settings, "pages"), docs())


def iter_pages(es: Elasticsearch, settings: Settings, ids: Sequence[str] | None = None) -> Iterable[dict[str, Any]]:
    """Stored pages with their HTML decompressed (all pages, or the given ids)."""
    index = index_name(settings, "pages")
    query: dict[str, Any] = {"ids": {"values": list(ids)}} if ids else {"match_all": {}}
    for hit in helpers.scan(es, index=index, query={"query": query}, size=200):
        src = hit["_source"]
        src["id"] = hit["_id"]
        src["html"] = gzip.decompress(base64.b64decode(src.pop("html_gz")))
        yield src


def drop_indices(es: Elasticsearch, settings: Settings) -> None:
    """Delete newswatch's indices and templates by name (clusters refuse wildcard deletes)."""
    for kind in KINDS:
        name = index_name(settings, kind)
        es.indices.delete(index=name, ignore_unavailable=True)
        if es.indices.exists_index_template(name=f"{name}-template"):
            es.indices.delete_index_template(name=f"{name}-template")
