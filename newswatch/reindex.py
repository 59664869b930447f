"""Moving a kind to a new index version behind its aliases: ``newswatch reindex``, and the one-time migration
of an index that a release without aliases created under the alias name.

``reindex`` of a kind in ``index.LIVE_KINDS`` (articles, feeds, feedhealth, pages) keeps reads and writes
going, in this order:

1. create ``<prefix>-<kind>-v<N>`` from the current template (N: the template's ``_meta.version``, or one more
   than the current index's when that is not newer);
2. one atomic alias update: the write alias to the new index; the read alias stays on the old index only,
   which stops being a write index (so nothing can write there by mistake);
3. a write block on the old index, then a refresh: a write that resolved the alias just before step 2 is
   either in the copy or refused (and retried by its writer), never dropped;
4. ``_reindex`` old → new with ``op_type: create`` and ``conflicts: proceed``: a document written to the new
   index since step 2 is newer than its old copy, which is skipped (counted in ``conflicts``). A cluster
   without the reindex module gets the same copy from the client (scroll + bulk ``create``);
5. refresh, then one atomic alias update: the read alias to the new index;
6. delete the old index (``keep_old``: keep it, read-only, named by no alias).

Between 2 and 5 searches see the data as of the start of the copy (complete, no duplicates); a write made
meanwhile shows in searches at step 5. Writers read by id through ``index.find_docs`` (new index first, then
the old one), so a read-modify-write (re-indexing keeps ``story_id``, ``indexed_at``, ``link_ids``) starts
from the latest version; a partial update (``add_link_ids``) never creates a document: it first copies its
document across, and when the write alias moved between its read and its write (the update finds nothing in
the new index) it reads, copies and updates again, so it never leaves a stub that step 4 would then skip.
The state lives in the aliases: a reindex that was interrupted after step 2 is finished by running it again.

The alerts decide once per story with ``op_type=create`` and guard their updates with ``_seq_no``: both hold
within one index only, so alerts are copied behind a write block instead (alert runs during the copy fail and
are retried; nothing is decided twice), then both aliases move at once. The migration of an older release's
concrete index works the same way, once, from ``ensure_indices``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from elasticsearch import ApiError, BadRequestError, Elasticsearch, helpers

from newswatch import index
from newswatch.errors import IndexingError
from newswatch.settings import Settings

log = logging.getLogger(__name__)

Progress = Callable[[dict[str, Any]], None]


def reindex(es: Elasticsearch, settings: Settings, kind: str = "articles", *, keep_old: bool = False,
            requests_per_second: float | None = None, on_progress: Progress | None = None,
            poll_seconds: float = 1.0) -> dict[str, Any]:
    """Copy ``kind`` into a new index version and swap its aliases (see the module docstring).

    Returns ``{kind, old_index, new_index, total, copied, conflicts, took_ms, kept_old}``; raises
    ``IndexingError`` when documents were refused (the aliases then stay as they are: run it again).
    ``requests_per_second`` throttles the copy; ``on_progress`` gets ``{total, copied, conflicts}``.
    """
    if kind not in index.KINDS:
        raise ValueError(f"kind must be one of {index.KINDS}")
    index.ensure_indices(es, settings)  # aliases exist, older releases' indices migrated
    reads, writes = index.index_name(settings, kind), index.write_alias(settings, kind)
    started = time.monotonic()
    read_side, write_side = sorted(index.alias_indices(es, reads)), sorted(index.alias_indices(es, writes))
    if len(read_side) != 1 or len(write_side) != 1:
        raise IndexingError(f"aliases of {kind} name {read_side} and {write_side}, not one index each: fix them "
                            "by hand (`GET _alias/{reads}*`)", [])
    old = read_side[0]
    live = kind in index.LIVE_KINDS
    resumed = write_side[0] != old
    if resumed:  # interrupted after step 2: finish it
        new = write_side[0]
        log.warning("finishing the interrupted reindex of %s into %s", old, new)
    else:
        new = index.versioned_name(settings, kind, next_version(old, kind))
        if es.indices.exists(index=new):  # left by an interrupted run before any alias named it
            es.indices.delete(index=new)
        es.indices.create(index=new)
        es.cluster.health(index=new, wait_for_status="yellow", timeout="30s")
    if live and not resumed:
        es.indices.update_aliases(actions=[
            {"remove": {"index": old, "alias": writes}},
            {"add": {"index": new, "alias": writes, "is_write_index": True}},
            {"add": {"index": old, "alias": reads, "is_write_index": False}},
        ])
    block_writes(es, old)
    try:
        result = copy_index(es, old, new, op_type="create" if live else "index",
                            requests_per_second=requests_per_second, on_progress=on_progress,
                            poll_seconds=poll_seconds)
    except Exception:
        if not live:  # nothing was moved: writes resume on the old index
            block_writes(es, old, blocked=False)
            es.indices.delete(index=new, ignore_unavailable=True)
        raise
    es.indices.refresh(index=new)
    actions: list[dict[str, Any]] = [{"remove": {"index": old, "alias": reads}},
                                     {"add": {"index": new, "alias": reads, "is_write_index": True}}]
    if not live:
        actions += [{"remove": {"index": old, "alias": writes}},
                    {"add": {"index": new, "alias": writes, "is_write_index": True}}]
    es.indices.update_aliases(actions=actions)
    if not keep_old:
        es.indices.delete(index=old)
    summary = {"kind": kind, "old_index": old, "new_index": new, **result,
               "took_ms": int((time.monotonic() - started) * 1000), "kept_old": keep_old}
    log.info("reindex: %s", summary)
    return summary


def next_version(current: str, kind: str) -> int:
    """The template's version, or one more than ``current``'s when the template is not newer (a reindex
    that only rewrites, e.g. after a settings change)."""
    have = index.index_version(current) or 1
    return max(index.template_version(kind), have + 1)


def block_writes(es: Elasticsearch, name: str, *, blocked: bool = True) -> None:
    es.indices.put_settings(index=name, settings={"index.blocks.write": blocked})
    if blocked:
        es.indices.refresh(index=name)


def copy_index(es: Elasticsearch, source: str, dest: str, *, op_type: str,
               requests_per_second: float | None = None, on_progress: Progress | None = None,
               poll_seconds: float = 1.0) -> dict[str, Any]:
    """Copy every document of ``source`` into ``dest`` with ``op_type`` (``create``: a document already in
    ``dest`` wins and is counted in ``conflicts``); ``{total, copied, conflicts, method}``.

    Server-side ``_reindex`` as a task, polled until done; on a cluster without the reindex module (the
    bare integration-test build) the same copy by the client: a scroll snapshot of ``source`` into bulk
    requests of the same ``op_type`` (``method``: ``reindex`` or ``scan_bulk``)."""
    if not has_reindex_api(es):
        log.info("no _reindex API on this cluster: copying %s into %s by scroll and bulk", source, dest)
        return _copy_by_client(es, source, dest, op_type=op_type, requests_per_second=requests_per_second,
                               on_progress=on_progress)
    task = es.reindex(source={"index": source, "size": 500}, dest={"index": dest, "op_type": op_type},
                      conflicts="proceed" if op_type == "create" else "abort", wait_for_completion=False,
                      requests_per_second=requests_per_second or -1, slices="auto")["task"]
    while True:
        state = es.tasks.get(task_id=task)
        status = state.get("task", {}).get("status", {})
        counts = _task_counts(status)
        if state.get("completed"):
            break
        if on_progress:
            on_progress(counts)
        time.sleep(poll_seconds)
    if "error" in state:
        raise IndexingError(f"copying {source} into {dest} failed: {state['error'].get('reason')}", [state["error"]])
    resp = state.get("response", {})
    failures = resp.get("failures") or []
    if failures:
        raise IndexingError(f"copying {source} into {dest}: {len(failures)} documents refused, first: "
                            f"{failures[0].get('cause', {}).get('reason')}", failures)
    counts = _task_counts(resp)
    if on_progress:
        on_progress(counts)
    return {**counts, "method": "reindex"}


def has_reindex_api(es: Elasticsearch) -> bool:
    """Whether every node has the reindex module (the default distribution does; the integration-test
    build does not). Without the right to ask (a restricted user), assume the default distribution."""
    try:
        nodes = es.nodes.info(metric="plugins", filter_path="nodes.*.modules.name").get("nodes", {})
    except ApiError:
        return True
    return bool(nodes) and all(any(m.get("name") == "reindex" for m in n.get("modules", []))
                               for n in nodes.values())


def _task_counts(status: dict[str, Any]) -> dict[str, int]:
    return {"total": int(status.get("total", 0)),
            "copied": int(status.get("created", 0)) + int(status.get("updated", 0)),
            "conflicts": int(status.get("version_conflicts", 0))}


def _copy_by_client(es: Elasticsearch, source: str, dest: str, *, op_type: str,
                    requests_per_second: float | None, on_progress: Progress | None,
                    chunk: int = 500) -> dict[str, Any]:
    counts = {"total": int(es.count(index=source)["count"]), "copied": 0, "conflicts": 0}
    # with the vectors: Elasticsearch leaves them out of ``_source`` unless asked (exclude_source_vectors)
    hits = helpers.scan(es, index=source, query={"query": {"match_all": {}}}, size=chunk, scroll="10m",
                        source_exclude_vectors=False)
    actions = ({"_op_type": op_type, "_index": dest, "_id": h["_id"], "_source": h["_source"]} for h in hits)
    failures: list[dict[str, Any]] = []
    started = time.monotonic()
    results = helpers.streaming_bulk(es, actions, chunk_size=chunk, raise_on_error=False, max_retries=3)
    for done, (ok, item) in enumerate(results, 1):
        info = item.get(op_type, {})
        if ok:
            counts["copied"] += 1
        elif info.get("status") == 409:
            counts["conflicts"] += 1
        else:
            failures.append(info)
        if done % chunk == 0:
            if on_progress:
                on_progress(dict(counts))
            if requests_per_second:  # the pace `_reindex` would keep
                time.sleep(max(0.0, started + done / requests_per_second - time.monotonic()))
    if failures:
        raise IndexingError(f"copying {source} into {dest}: {len(failures)} documents refused, first: "
                            f"{failures[0].get('error')}", failures)
    if on_progress:
        on_progress(dict(counts))
    return {**counts, "method": "scan_bulk"}


def migrate_concrete(es: Elasticsearch, settings: Settings, kind: str) -> dict[str, Any]:
    """Move an index that an older release created under the alias name (``<prefix>-<kind>``) into
    ``<prefix>-<kind>-v<N>`` behind both aliases, once. Reads go on throughout; writes are refused during the
    copy (a write block, so none is lost: the writer's retry lands in the new index), then one atomic alias
    update deletes the old index and names the new one. Safe if two workers start it at once."""
    name = index.index_name(settings, kind)
    new = index.versioned_name(settings, kind, index.template_version(kind))
    log.warning("moving %s (an index of a release without aliases) into %s behind aliases", name, new)
    started = time.monotonic()
    try:
        es.indices.create(index=new)
    except BadRequestError:
        if not es.indices.exists(index=new):
            raise
    es.cluster.health(index=new, wait_for_status="yellow", timeout="30s")
    block_writes(es, name)
    if index.alias_indices(es, name):  # another worker finished meanwhile: `name` is the alias, not the index
        block_writes(es, name, blocked=False)
        return {"kind": kind, "old_index": name, "new_index": new, "migrated_by_other": True}
    try:
        result = copy_index(es, name, new, op_type="index")
        es.indices.refresh(index=new)
        es.indices.update_aliases(actions=[
            {"remove_index": {"index": name}},
            {"add": {"index": new, "alias": name, "is_write_index": True}},
            {"add": {"index": new, "alias": index.write_alias(settings, kind), "is_write_index": True}},
        ])
    except Exception:
        if index.alias_indices(es, name):  # another worker finished it
            return {"kind": kind, "old_index": name, "new_index": new, "migrated_by_other": True}
        if es.indices.exists(index=name):
            block_writes(es, name, blocked=False)
        raise
    return {"kind": kind, "old_index": name, "new_index": new, **result,
            "took_ms": int((time.monotonic() - started) * 1000)}
