"""Indices behind aliases: ``newswatch reindex`` under live writes, the migration of an older release's concrete
index, and deep listings past the result window (``search_after`` over a point in time)."""

from __future__ import annotations

import json
import threading
import time
from datetime import date, timedelta
from typing import Any

from click.testing import CliRunner
from elasticsearch import helpers

from newswatch import index, search, steps
from newswatch.cli import main
from newswatch.records import Article
from newswatch.reindex import reindex
from newswatch.runtime import Runtime

N = 3000
V = index.template_version("articles")  # the mapping version a new articles index gets


def article(i: int, title: str | None = None, **extra: Any) -> Article:
    day = date(2025, 1, 1) + timedelta(days=i % 365)
    return Article.from_input({"url": f"https://x.example/{i}", "title": title or f"Story {i}",
                               "text": f"Text of story {i} about the harbour. " * 8, "published": day.isoformat(),
                               **extra}, fetched_at="2025-01-01T00:00:00+00:00")


def seed(rt: Runtime, n: int) -> dict[int, str]:
    """``n`` stored articles, written straight to the index (tagging thousands would only cost time)."""
    rt.ensure_indices()
    ids = {}
    docs = []
    for i in range(n):
        a = article(i)
        ids[i] = a.id
        docs.append((a.id, {**a.doc(), "indexed_at": "2025-01-01T00:00:00+00:00", "story_id": f"s{i}"}))
    index.bulk_upsert(rt.es, index.write_alias(rt.settings, "articles"), docs)
    rt.es.indices.refresh(index=index.write_alias(rt.settings, "articles"))
    return ids


def all_ids(rt: Runtime) -> list[str]:
    return [h["_id"] for h in helpers.scan(rt.es, index=index.index_name(rt.settings, "articles"),
                                           query={"query": {"match_all": {}}}, _source=False, size=1000)]


def test_reindex_under_live_writes_loses_nothing(settings_factory) -> None:
    settings = settings_factory()
    rt = Runtime(settings)
    ids = seed(rt, N)
    steps.index_articles(rt, [article(N + 999)])  # warm up the encoder before the clock matters
    reads_alias, writes_alias = index.index_name(settings, "articles"), index.write_alias(settings, "articles")
    (old,) = index.alias_indices(rt.es, reads_alias)
    assert old == f"{settings.es.index_prefix}-articles-v{V}"

    done = threading.Event()
    read_errors: list[str] = []
    thread_errors: list[str] = []
    titles: dict[str, str] = {}  # id -> the title of its latest full write
    links: dict[str, set[str]] = {}  # id -> every link id added by a partial update
    seen = {"split_full": 0, "split_partial": 0, "uncopied_full": 0, "uncopied_partial": 0, "max_count": 0}
    new_ids: list[str] = []

    def uncopied(es: Any, doc: str) -> tuple[bool, bool]:
        """(aliases split, ``doc`` not yet in the new index)."""
        target = next(iter(index.alias_indices(es, writes_alias)))
        split = target != next(iter(index.alias_indices(es, reads_alias)), target)
        return split, split and not es.exists(index=target, id=doc)

    def writer() -> None:
        wrt = Runtime(settings)
        tail = iter(range(N - 1, 0, -3))  # written last, so copied last
        rounds = 0
        while not done.is_set() or rounds < 2:
            rounds += 1
            # a full upsert through the pipeline (tag, cluster, keep story_id/indexed_at, bulk write)
            i = next(tail)
            split, fresh = uncopied(wrt.es, ids[i])
            title = f"Story {i}, revision {rounds}"
            steps.index_articles(wrt, [article(i, title=title)])
            titles[ids[i]] = title
            seen["split_full"] += split
            seen["uncopied_full"] += fresh
            # a partial update (what fetch does for an article known under another link)
            j = next(tail)
            split, fresh = uncopied(wrt.es, ids[j])
            link = f"link-{rounds}"
            assert index.add_link_ids(wrt.es, settings, {ids[j]: [link]}) == 1
            links.setdefault(ids[j], set()).add(link)
            seen["split_partial"] += split
            seen["uncopied_partial"] += fresh
            # a new article
            a = article(N + rounds)
            new_ids.append(a.id)  # before it is written: the reader's bound never lags
            steps.index_articles(wrt, [a])
            titles[a.id] = a.title or ""
        wrt.close()

    def guarded(work: Any) -> Any:
        def run() -> None:
            try:
                work()
            except Exception as exc:  # a failed write or read fails the test, not only its thread
                thread_errors.append(repr(exc))
        return run

    def reader() -> None:
        rdt = Runtime(settings)
        while not done.is_set():
            try:
                count = rdt.es.count(index=reads_alias)["count"]
                seen["max_count"] = max(seen["max_count"], count)
                if count > N + 1 + len(new_ids):  # never a document counted twice
                    read_errors.append(f"count {count} with {N + 1 + len(new_ids)} documents")
                search.search_articles(rdt.es, settings, "harbour", size=5)
                index.find_docs(rdt.es, settings, "articles", [ids[0], ids[N - 1]], fields=["title"])
            except Exception as exc:  # every failure is the test's failure
                read_errors.append(repr(exc))
            time.sleep(0.2)
        rdt.close()

    threads = [threading.Thread(target=guarded(writer)), threading.Thread(target=guarded(reader))]
    for t in threads:
        t.start()
    progress: list[dict[str, Any]] = []

    def on_progress(counts: dict[str, Any]) -> None:
        """Hold the copy (it reports every 500 documents, the tail still uncopied) until the writer has
        written to documents not copied yet, however slow this machine is."""
        progress.append(counts)
        deadline = time.monotonic() + 120
        while (seen["uncopied_full"] < 2 or seen["uncopied_partial"] < 2) and time.monotonic() < deadline \
                and not thread_errors:
            time.sleep(0.1)

    try:
        result = reindex(rt.es, settings, "articles", requests_per_second=800, on_progress=on_progress,
                         poll_seconds=0.2)
    finally:
        done.set()
        for t in threads:
            t.join(timeout=120)
    print(f"\nreindex {result}, writes {seen}, progress lines {len(progress)}")
    new = f"{settings.es.index_prefix}-articles-v{V + 1}"
    assert result["old_index"] == old and result["new_index"] == new
    assert read_errors == [] and thread_errors == []
    # both aliases name the new index only; the old one is gone
    assert index.alias_indices(rt.es, reads_alias) == {new: True}
    assert index.alias_indices(rt.es, writes_alias) == {new: True}
    assert not rt.es.indices.exists(index=old)
    # every document exactly once, in its latest form
    rt.es.indices.refresh(index=reads_alias)
    stored = all_ids(rt)
    assert len(stored) == len(set(stored))
    assert set(stored) == set(ids.values()) | set(new_ids) | {article(N + 999).id}
    docs = index.find_docs(rt.es, settings, "articles", list(titles) + list(links))
    for doc_id, title in titles.items():
        assert docs[doc_id]["title"] == title
    for doc_id, added in links.items():
        assert added <= set(docs[doc_id]["link_ids"])
        assert docs[doc_id]["text"].startswith("Text of story") and docs[doc_id]["story_id"]  # never a stub
    old_ones = [d for d in titles if d in set(ids.values())]
    assert all(docs[d]["indexed_at"] == "2025-01-01T00:00:00+00:00" for d in old_ones)  # no alert flood
    assert all(docs[d]["story_id"].startswith("s") for d in old_ones)  # story ids kept
    # the writes raced the copy: some reached documents not yet copied, whose old copies were then skipped
    assert seen["uncopied_full"] > 0 and seen["uncopied_partial"] > 0, seen
    assert result["copied"] + result["conflicts"] == result["total"] >= N
    # ... and were counted as conflicts (not one each: a write that copies its document across itself races
    # the copy of that document, and whichever is second is refused; two writes may also share a document)
    assert result["conflicts"] > 0
    assert len(progress) >= 2
    rt.close()


def test_a_link_update_that_raced_the_alias_move_leaves_no_stub(settings_factory, monkeypatch) -> None:
    """The race CI once hit: ``add_link_ids`` read the article while the write alias still named the old
    index (nothing to copy), the reindex moved the alias, then the update reached the new index, where the
    article was not copied yet. It must not create a stub there (the copy would skip the whole article)."""
    settings = settings_factory()
    rt = Runtime(settings)
    ids = seed(rt, 3)
    arts, writes = index.index_name(settings, "articles"), index.write_alias(settings, "articles")
    real_find = index.find_docs
    calls = []

    def stale_then_real(es: Any, s: Any, kind: str, wanted: Any, **kw: Any) -> Any:
        calls.append(list(wanted))
        if len(calls) > 1:
            return real_find(es, s, kind, wanted, **kw)
        found = real_find(es, s, kind, wanted, **{**kw, "copy_missing": False})  # read before the move
        rt.es.indices.create(index=f"{arts}-v{V + 1}")  # ... which happens now, before the write
        rt.es.indices.update_aliases(actions=[
            {"remove": {"index": f"{arts}-v{V}", "alias": writes}},
            {"add": {"index": f"{arts}-v{V + 1}", "alias": writes, "is_write_index": True}},
            {"add": {"index": f"{arts}-v{V}", "alias": arts, "is_write_index": False}}])
        return found

    monkeypatch.setattr(index, "find_docs", stale_then_real)
    assert index.add_link_ids(rt.es, settings, {ids[1]: ["link-a"], "gone-article": ["link-b"]}) == 1
    assert calls == [[ids[1], "gone-article"], [ids[1]]]  # read again only what the update missed
    doc = rt.es.get(index=f"{arts}-v{V + 1}", id=ids[1])["_source"]
    assert doc["text"].startswith("Text of story 1") and doc["story_id"] == "s1" and doc["link_ids"] == ["link-a"]
    assert not rt.es.exists(index=f"{arts}-v{V + 1}", id="gone-article")  # an update never creates an article
    rt.close()


def test_reindex_cli_resumes_and_reindexes_alerts_behind_a_write_block(settings_factory) -> None:
    settings = settings_factory()
    rt = Runtime(settings)
    seed(rt, 20)
    alerts = index.index_name(settings, "alerts")
    rt.es.index(index=alerts, id="thread:x", document={"kind": "thread"}, refresh=True)
    env = {"NEWSWATCH_ES__URL": settings.es.url, "NEWSWATCH_ES__INDEX_PREFIX": settings.es.index_prefix}
    out = CliRunner().invoke(main, ["reindex", "--kind", "alerts", "--json"], env=env)
    assert out.exit_code == 0, out.output
    result = json.loads(out.stdout)
    assert (result["old_index"], result["new_index"], result["copied"]) == (f"{alerts}-v2", f"{alerts}-v3", 1)
    assert index.alias_indices(rt.es, alerts) == {f"{alerts}-v3": True}
    assert index.alias_indices(rt.es, index.write_alias(settings, "alerts")) == {f"{alerts}-v3": True}
    assert rt.es.get(index=alerts, id="thread:x")["_source"] == {"kind": "thread"}
    # a reindex interrupted after the write alias moved is finished by the next run
    arts = index.index_name(settings, "articles")
    rt.es.indices.create(index=f"{arts}-v{V + 1}")
    rt.es.indices.update_aliases(actions=[
        {"remove": {"index": f"{arts}-v{V}", "alias": index.write_alias(settings, "articles")}},
        {"add": {"index": f"{arts}-v{V + 1}", "alias": index.write_alias(settings, "articles"),
                 "is_write_index": True}},
        {"add": {"index": f"{arts}-v{V}", "alias": arts, "is_write_index": False}}])
    out = CliRunner().invoke(main, ["reindex", "--keep-old", "--json"], env=env)
    assert out.exit_code == 0, out.output
    result = json.loads(out.stdout)
    assert (result["new_index"], result["copied"], result["kept_old"]) == (f"{arts}-v{V + 1}", 20, True)
    assert index.alias_indices(rt.es, arts) == {f"{arts}-v{V + 1}": True}
    assert rt.es.count(index=arts)["count"] == 20 and rt.es.indices.exists(index=f"{arts}-v{V}")
    rt.close()


def test_init_moves_an_older_releases_concrete_index_behind_aliases(settings_factory) -> None:
    settings = settings_factory()
    rt = Runtime(settings)
    name = index.index_name(settings, "articles")
    body = index.template_body("articles")
    rt.es.indices.create(index=name, settings=body["settings"], mappings=body["mappings"])  # as releases did
    docs = [(article(i).id, article(i).doc()) for i in range(50)]
    index.bulk_upsert(rt.es, name, docs)
    rt.es.indices.refresh(index=name)

    env = {"NEWSWATCH_ES__URL": settings.es.url, "NEWSWATCH_ES__INDEX_PREFIX": settings.es.index_prefix}
    out = CliRunner().invoke(main, ["init", "--json"], env=env)
    assert out.exit_code == 0, out.output
    assert f"{name}-v{V}" in json.loads(out.stdout)["created"]
    assert index.alias_indices(rt.es, name) == {f"{name}-v{V}": True}
    assert index.alias_indices(rt.es, index.write_alias(settings, "articles")) == {f"{name}-v{V}": True}
    assert rt.es.count(index=name)["count"] == 50
    assert index.get_doc(rt.es, name, docs[7][0])["title"] == "Story 7"
    steps.index_articles(rt, [article(100)])  # the pipeline writes through the aliases
    assert rt.es.count(index=f"{name}-v{V}")["count"] == 51
    again = CliRunner().invoke(main, ["init", "--json"], env=env)
    assert json.loads(again.stdout)["created"] == []
    rt.close()


def test_claims_listing_is_newest_first_and_pages_past_the_window(settings_factory) -> None:
    settings = settings_factory()
    rt = Runtime(settings)
    rt.ensure_indices()
    n = 1300
    docs = []
    for i in range(n):
        a = article(i)
        claim = {"count": 1000 + i, "unit": "troops", "source": "NIS", "sentence": f"{1000 + i} troops."}
        docs.append((a.id, {**a.doc(), "published": (date(2022, 1, 1) + timedelta(days=i)).isoformat(),
                            "claims": [claim]}))
    index.bulk_upsert(rt.es, index.write_alias(settings, "articles"), docs)
    rt.es.indices.refresh(index=index.write_alias(settings, "articles"))

    every = search.claims_timeline(rt.es, settings, limit=0)
    assert len(every) == n
    assert [r["count"] for r in every] == list(range(1000 + n - 1, 999, -1))  # newest first, none lost
    assert len(search.claims_timeline(rt.es, settings, limit=1200)) == 1200
    env = {"NEWSWATCH_ES__URL": settings.es.url, "NEWSWATCH_ES__INDEX_PREFIX": settings.es.index_prefix}
    out = CliRunner().invoke(main, ["claims", "--limit", "3", "--json"], env=env)
    rows = [json.loads(x) for x in out.stdout.splitlines()]
    assert [r["count"] for r in rows] == [1000 + n - 1, 1000 + n - 2, 1000 + n - 3]
    assert set(rows[0]) >= {"date", "count", "source", "article_id", "title", "url", "sentence"}
    rt.close()


def test_feed_listing_pages_past_a_page(settings_factory) -> None:
    from newswatch.feedhealth import feed_rows

    settings = settings_factory()
    rt = Runtime(settings)
    rt.ensure_indices()
    urls = [f"https://feeds.example/{i:05d}.rss" for i in range(1234)]
    index.bulk_upsert(rt.es, index.write_alias(settings, "feeds"), ((index.doc_id(u), {"url": u}) for u in urls))
    rt.es.indices.refresh(index=index.write_alias(settings, "feeds"))
    rows = feed_rows(rt.es, settings)
    assert [r["url"] for r in rows] == urls and rows[0]["articles_ok"] == 0
    rt.close()


def test_an_index_of_version_2_with_nested_claims_works_until_reindexed(settings_factory) -> None:
    """Mapping version 3 maps the claims as an object (version 2 had them ``nested``): a deployment's v2 index
    still lists and charts its claims, and ``newswatch reindex`` moves it to v3 with every claim."""
    from newswatch.timeline import TimelineQuery, run_timeline

    settings = settings_factory()
    rt = Runtime(settings)
    name, writes = index.index_name(settings, "articles"), index.write_alias(settings, "articles")
    body = index.with_language_fields(index.template_body("articles"), index.language_analyzers(rt.es))
    body["mappings"]["properties"]["claims"]["type"] = "nested"
    body["mappings"]["_meta"]["version"] = 2
    rt.es.indices.create(index=f"{name}-v2", settings=body["settings"], mappings=body["mappings"],
                         aliases={name: {"is_write_index": True}, writes: {"is_write_index": True}})
    rt.ensure_indices()  # the v3 template cannot make nested claims an object in place: a warning, not a failure
    docs = []
    for i in range(30):
        claim = {"count": 1000 + i, "unit": "troops", "source": "NIS", "sentence": f"{1000 + i} troops."}
        docs.append((article(i).id, {**article(i).doc(), "claims": [claim], "claim_max": 1000 + i}))
    index.bulk_upsert(rt.es, writes, docs)
    rt.es.indices.refresh(index=writes)
    assert rt.es.indices.get_mapping(index=f"{name}-v2")[f"{name}-v2"]["mappings"]["properties"]["claims"][
        "type"] == "nested"
    listed = search.claims_timeline(rt.es, settings, limit=0)
    charted = run_timeline(rt.es, settings, TimelineQuery())
    assert len(listed) == 30 and charted["claims_articles"] == 30 and len(charted["claims"]) == 30

    env = {"NEWSWATCH_ES__URL": settings.es.url, "NEWSWATCH_ES__INDEX_PREFIX": settings.es.index_prefix}
    out = CliRunner().invoke(main, ["reindex", "--json"], env=env)
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["new_index"] == f"{name}-v3"
    mapping = rt.es.indices.get_mapping(index=f"{name}-v3")[f"{name}-v3"]["mappings"]
    assert mapping["properties"]["claims"].get("type", "object") == "object"
    assert search.claims_timeline(rt.es, settings, limit=0) == listed
    after = run_timeline(rt.es, settings, TimelineQuery())
    assert {k: after[k] for k in ("claims", "claims_articles", "total")} == {
        k: charted[k] for k in ("claims", "claims_articles", "total")}
    rt.close()


def test_a_document_copied_or_reindexed_keeps_its_embedding(settings_factory) -> None:
    """Elasticsearch 9 leaves dense vectors out of ``_source`` unless asked for. The copy ``find_docs`` makes
    of a document found only in the old index (``copy_missing``, during a reindex) and the reindex itself
    keep the article's ``embedding``: the kNN search still finds it in the new index."""
    settings = settings_factory()
    rt = Runtime(settings)
    rt.ensure_indices()
    arts = [article(i) for i in range(3)]
    vec = [0.0] * 511 + [1.0]
    docs = [(a.id, {**a.doc(), "embedding": vec, "story_id": a.id}) for a in arts]
    index.bulk_upsert(rt.es, index.write_alias(settings, "articles"), docs)
    reads, writes = index.index_name(settings, "articles"), index.write_alias(settings, "articles")
    rt.es.indices.refresh(index=writes)
    (old,) = index.alias_indices(rt.es, reads)
    new = f"{old[:old.rindex('-v')]}-v{V + 1}"
    rt.es.indices.create(index=new)  # a reindex has moved the write alias; nothing copied yet
    rt.es.indices.update_aliases(actions=[
        {"remove": {"index": old, "alias": writes}},
        {"add": {"index": new, "alias": writes, "is_write_index": True}}])
    found = index.find_docs(rt.es, settings, "articles", [arts[0].id], copy_missing=True)
    assert found[arts[0].id]["embedding"] == vec
    rt.es.indices.refresh(index=new)
    copied = rt.es.get(index=new, id=arts[0].id, source_includes=["embedding"])["_source"]
    assert copied["embedding"] == vec
    hits = rt.es.search(index=new, knn={"field": "embedding", "query_vector": vec, "k": 1, "num_candidates": 10},
                        source=False)["hits"]["hits"]
    assert [h["_id"] for h in hits] == [arts[0].id]
    rt.es.indices.delete(index=new)  # back to one index behind both aliases, then a real reindex
    rt.es.indices.update_aliases(actions=[{"add": {"index": old, "alias": writes, "is_write_index": True}}])
    result = reindex(rt.es, settings, "articles", poll_seconds=0.2)
    moved = rt.es.get(index=result["new_index"], id=arts[1].id, source_includes=["embedding"])["_source"]
    assert moved["embedding"] == vec
    rt.close()
