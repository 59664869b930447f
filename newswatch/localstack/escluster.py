"""A local Elasticsearch cluster of several nodes on loopback, for the failover test (and for trying it).

Every node is the same integ-test-zip distribution as the single node of ``stack up``, started by
``services.launch_es_node`` (so it runs unprivileged when we are root) with its own folder (data, logs,
config, pid), ``node.name``, HTTP and transport port; ``discovery.seed_hosts`` lists every transport port
and ``cluster.initial_master_nodes`` every name, so the nodes elect a master and form one cluster. A node
can be SIGKILLed (``kill_node``) and started again on its data (``start_node``): it rejoins the cluster.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from newswatch.errors import ServiceError
from newswatch.localstack.services import _kill, launch_es_node
from newswatch.settings import Settings


@dataclass(frozen=True)
class ESNode:
    name: str
    http_port: int
    transport_port: int
    folder: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def pid(self) -> int | None:
        try:
            pid = int((self.folder / "pid").read_text().strip())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None


@dataclass(frozen=True)
class ESCluster:
    name: str
    nodes: tuple[ESNode, ...]
    heap: str

    @property
    def url(self) -> str:
        """Every node's URL, comma-separated: the form ``NEWSWATCH_ES__URL`` takes for several nodes."""
        return ",".join(n.url for n in self.nodes)

    def node(self, name: str) -> ESNode:
        return next(n for n in self.nodes if n.name == name)


def plan_cluster(settings: Settings, name: str, http_ports: list[int], transport_ports: list[int], *,
                 heap: str = "320m") -> ESCluster:
    """The cluster ``name`` with one node per port pair, each node's folder in the cache's ``run/``."""
    if len(http_ports) != len(transport_ports):
        raise ValueError("one transport port per HTTP port")
    nodes = tuple(ESNode(f"{name}-{i}", h, t, settings.cache_dir / "run" / f"escluster-{name}-{i}")
                  for i, (h, t) in enumerate(zip(http_ports, transport_ports, strict=True)))
    return ESCluster(name, nodes, heap)


def start_node(settings: Settings, cluster: ESCluster, node: ESNode) -> None:
    """Start (or restart, on its existing data) one node of ``cluster``; returns once it is launched."""
    launch_es_node(settings, node.folder, {
        "cluster.name": cluster.name,
        "node.name": node.name,
        "http.port": str(node.http_port),
        "transport.port": str(node.transport_port),
        "discovery.seed_hosts": ",".join(f"127.0.0.1:{n.transport_port}" for n in cluster.nodes),
        "cluster.initial_master_nodes": ",".join(n.name for n in cluster.nodes),
    }, heap=cluster.heap)


def health(url: str, timeout: float = 2.0) -> dict[str, Any] | None:
    """``_cluster/health`` of the cluster as one node sees it, or None when that node does not answer."""
    try:
        resp = httpx.get(f"{url}/_cluster/health", timeout=timeout, trust_env=False)
        if resp.status_code == 200:
            data: dict[str, Any] = resp.json()
            return data
    except (httpx.HTTPError, ValueError):
        return None
    return None


def wait_for_cluster(cluster: ESCluster, *, nodes: int | None = None, status: str = "green",
                     wait: float = 180.0, via: list[ESNode] | None = None) -> dict[str, Any]:
    """Wait until a node (of ``via``, default all) reports ``nodes`` nodes (default all) and ``status``."""
    want = len(cluster.nodes) if nodes is None else nodes
    order = {"red": 0, "yellow": 1, "green": 2}
    deadline = time.monotonic() + wait
    last: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        for node in via or cluster.nodes:
            h = health(node.url)
            if h:
                last = h
                if h.get("number_of_nodes") == want and order.get(h.get("status", ""), -1) >= order[status]:
                    return h
        time.sleep(0.5)
    raise ServiceError(f"cluster {cluster.name} not {status} with {want} nodes after {wait}s: {last}; "
                       f"see {cluster.nodes[0].folder / 'logs'}")


def start_cluster(settings: Settings, cluster: ESCluster, *, wait: float = 240.0) -> dict[str, Any]:
    """Start every node, then wait for one green cluster of all of them. The nodes start side by side: a
    daemonised node reports started only once it has joined a cluster, which takes a quorum of the others."""
    started = time.monotonic()
    with ThreadPoolExecutor(len(cluster.nodes)) as pool:
        for future in [pool.submit(start_node, settings, cluster, n) for n in cluster.nodes]:
            future.result()
    h = wait_for_cluster(cluster, wait=wait)
    return {"service": "elasticsearch-cluster", "status": "started", "url": cluster.url,
            "nodes": h["number_of_nodes"], "seconds": round(time.monotonic() - started, 1)}


def kill_node(node: ESNode) -> int:
    """SIGKILL the node (no shutdown of any kind: the crash the cluster has to survive); its pid."""
    pid = node.pid
    if pid is None:
        raise ServiceError(f"node {node.name} is not running")
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while node.pid is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    (node.folder / "pid").unlink(missing_ok=True)
    return pid


def stop_cluster(cluster: ESCluster, *, remove: bool = True) -> list[dict[str, Any]]:
    """Stop every node (SIGTERM, then SIGKILL after a grace period); ``remove`` deletes their folders."""
    rows = []
    for node in cluster.nodes:
        pid = node.pid
        rows.append({"node": node.name, "status": _kill(pid, 60) if pid is not None else "not running"})
        (node.folder / "pid").unlink(missing_ok=True)
    if remove:
        for node in cluster.nodes:
            shutil.rmtree(node.folder, ignore_errors=True)
    return rows
