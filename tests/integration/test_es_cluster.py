"""A three-node Elasticsearch cluster loses a node to SIGKILL in the middle of indexing: nothing is lost.

The ``es_cluster`` fixture starts three integ-test-zip nodes on free loopback ports (each its own data
folder, HTTP and transport port, modest heap; ``newswatch.localstack.escluster``) and waits for one green
cluster; it stops them and deletes their folders afterwards, also when the test fails. The client is
``make_es`` on a comma-separated ``NEWSWATCH_ES__URL`` of all three nodes, the indices are those of
``ensure_indices`` (one replica on a cluster). The writes are the indexing step's own, chunk by chunk: an
``mget`` of the chunk's ids, ``index.bulk_upsert`` and a refresh (``steps.indexing.index_articles`` minus
the tagging, embedding and story clustering, which cost ~0.4 s an article on a 2-core machine and touch
Elasticsearch the same way). The node holding the articles' primary shard is killed while a bulk request
is in flight; the remaining chunks must go on without an error (the client retries on the surviving
nodes; the replica is promoted), every article must then be there exactly once, and the killed node,
started again on its data, must rejoin a green cluster.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from newswatch import index
from newswatch.clients import es_hosts, make_es
from newswatch.localstack import escluster
from newswatch.records import Article
from newswatch.settings import ElasticsearchSettings, Settings
from tests.conftest import free_port

pytestmark = [pytest.mark.integration]

ARTICLES = int(os.environ.get("NEWSWATCH_TEST_CLUSTER_ARTICLES", "3000"))
CHUNK = 200  # documents per bulk request, as bulk_upsert's chunk_size
HEAP = "320m"


def _available_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) // 1024
    return 0


@pytest.fixture()
def es_cluster(tmp_path: Path) -> Iterator[escluster.ESCluster]:
    # three JVMs of heap plus their off-heap memory: CI machines have it (24 GB); say so plainly if not
    assert _available_mb() >= 3000, f"a three-node cluster needs ~3 GB free memory, {_available_mb()} MB available"
    ports = set()
    while len(ports) < 6:
        ports.add(free_port())
    http, transport = sorted(ports)[:3], sorted(ports)[3:]
    settings = Settings(var_dir=tmp_path / "var")
    cluster = escluster.plan_cluster(settings, f"nwcl-{uuid.uuid4().hex[:6]}", http, transport, heap=HEAP)
    try:
        info = escluster.start_cluster(settings, cluster)
        print(f"\ncluster {cluster.name}: {info['nodes']} nodes green in {info['seconds']}s on {cluster.url}")
        yield cluster
    finally:
        escluster.stop_cluster(cluster, remove=True)


def _article(i: int) -> Article:
    return Article.from_input({
        "url": f"https://outlet{i % 13}.example/news/{i}",
        "title": f"Report {i} from the border region",
        "text": f"Article number {i}. Officials said the situation near the border was unchanged on day {i % 97}.",
        "published": "2025-03-01T00:00:00+00:00",
        "lang": "en",
    }, fetched_at="2025-03-01T00:10:00+00:00")


def _shards(es, name: str) -> list[dict]:
    return list(es.cat.shards(index=name, format="json", h="prirep,state,node"))


@pytest.mark.timeout(1200)  # three JVMs starting on a shared 2-core machine
def test_indexing_survives_a_node_killed_mid_way(es_cluster: escluster.ESCluster, tmp_path: Path) -> None:
    prefix = f"nwcl-{uuid.uuid4().hex[:8]}"
    settings = Settings(es=ElasticsearchSettings(url=es_cluster.url, index_prefix=prefix), var_dir=tmp_path / "var")
    assert es_hosts(settings) == [n.url for n in es_cluster.nodes]
    es = make_es(settings)
    try:
        index.ensure_indices(es, settings)
        art = index.index_name(settings, "articles")
        es.cluster.health(index=art, wait_for_status="green", timeout="60s")
        shards = _shards(es, art)
        # auto_expand_replicas 0-1 gives one replica on a cluster: a primary and a replica, on two nodes
        assert sorted(s["prirep"] for s in shards) == ["p", "r"] and len({s["node"] for s in shards}) == 2, shards
        assert next(iter(es.indices.get_settings(index=art).values()))["settings"]["index"]["number_of_replicas"] == "1"
        victim = es_cluster.node(next(s["node"] for s in shards if s["prirep"] == "p"))
        master = es.cat.master(format="json")[0]["node"]

        articles = [_article(i) for i in range(ARTICLES)]
        chunks = [articles[i:i + CHUNK] for i in range(0, len(articles), CHUNK)]
        kill_at = len(chunks) // 2
        killed: dict[str, float] = {}

        def kill() -> None:
            time.sleep(0.05)  # the bulk request of chunk kill_at is on its way
            killed["pid"] = escluster.kill_node(victim)
            killed["at"] = time.monotonic()


        totals = {"created": 0, "updated": 0, "already_there": 0}
        started = time.monotonic()
        killer = None
        for n, chunk in enumerate(chunks):
            if n == kill_at:
                killer = threading.Thread(target=kill)
                killer.start()
            ids = [a.id for a in chunk]
            totals["already_there"] += len(index.find_docs(es, settings, "articles", ids, source=False))
            counts = index.bulk_upsert(es, index.write_alias(settings, "articles"), ((a.id, a.doc()) for a in chunk))
            es.indices.refresh(index=art)
            totals["created"] += counts["created"]
            totals["updated"] += counts["updated"]
        assert killer is not None
        killer.join()
        assert "at" in killed, "the node was not killed"
        indexing = time.monotonic() - started
        after_kill = time.monotonic() - killed["at"]
        degraded = escluster.health(next(n for n in es_cluster.nodes if n != victim).url) or {}

        expected = {a.id for a in articles}
        es.indices.refresh(index=art)
        hits = es.search(index=art, query={"match_all": {}}, source=False, size=len(expected) + 100,
                         sort=["_doc"], track_total_hits=True)["hits"]
        found = [h["_id"] for h in hits["hits"]]
        duplicated = len(found) - len(set(found))
        print(f"\nkilled {victim.name} (primary of {art}{', elected master' if victim.name == master else ''}) "
              f"at chunk {kill_at}/{len(chunks)}; indexing {indexing:.1f}s ({after_kill:.1f}s after the kill), "
              f"cluster then {degraded.get('status')} with {degraded.get('number_of_nodes')} nodes; "
              f"writes {totals}")
        print(f"documents expected {len(expected)}, found {len(found)}, distinct {len(set(found))}, "
              f"duplicated {duplicated}, missing {len(expected - set(found))}")
        assert es.count(index=art)["count"] == len(expected)
        assert set(found) == expected and duplicated == 0
        assert totals["created"] + totals["updated"] == len(expected)  # each article written by one bulk item

        # the killed node, started again on its data folder, rejoins; the replica is rebuilt: green again
        restarted = time.monotonic()
        escluster.start_node(Settings(var_dir=tmp_path / "var"), es_cluster, victim)
        h = escluster.wait_for_cluster(es_cluster, status="green", wait=180)
        rejoin = time.monotonic() - restarted
        nodes = {n["name"] for n in es.cat.nodes(format="json", h="name")}
        print(f"{victim.name} rejoined: {h['number_of_nodes']} nodes, {h['status']} after {rejoin:.1f}s")
        assert nodes == {n.name for n in es_cluster.nodes}
        stats = next(iter(es.indices.stats(index=art, metric="docs")["indices"].values()))
        assert stats["primaries"]["docs"]["count"] == len(expected)
        assert stats["total"]["docs"]["count"] == 2 * len(expected)  # the replica holds the same, once each
        assert es.count(index=art)["count"] == len(expected)
    finally:
        try:
            index.drop_indices(es, settings)
        finally:
            es.close()

