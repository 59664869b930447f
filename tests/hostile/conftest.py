"""Fixtures of the hostile suite: the misbehaving server, two listeners that must stay silent, tight limits."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from extractors.fetch import FetchPolicy
from newswatch import clients
from newswatch.settings import FetchSettings, Settings
from tests.hostile.cases import CASES, EXTRA_ROUTES, Env, make_bombs
from tests.hostile.server import Canary, HostileServer

# One loopback server stands in for dozens of hosts, so the per-host politeness limits are lifted.
TIGHT = FetchSettings(connect_timeout=1.0, read_timeout=1.0, total_timeout=3.0, max_bytes=2 * 1024 * 1024,
                      max_redirects=5, concurrency=8, per_host=8, min_host_gap=0.0)


@dataclass
class Hostile:
    server: HostileServer
    canary: Canary  # 127.0.0.1, allowed, but only reachable through an external entity
    guarded: Canary  # 127.0.0.2, outside allowed_networks
    env: Env
    settings: Settings
    policy: FetchPolicy
    http: httpx.Client

    def url(self, case_name: str, kind: str = "feed") -> str:
        case = next(c for c in CASES if c.name == case_name and c.kind == kind)
        return case.url(self.env) if case.url else self.server.url(case.path)


def make_settings(**fetch_overrides: object) -> Settings:
    return Settings(allowed_networks="127.0.0.1/32", fetch=TIGHT.model_copy(update=fetch_overrides))


@pytest.fixture(scope="session")
def hostile() -> Iterator[Hostile]:
    server = HostileServer()
    canary = Canary("127.0.0.1")
    guarded = Canary("127.0.0.2")
    env = Env(base=server.base, canary=canary.url(""), guarded=guarded.url(""), guarded_port=guarded.port,
              bombs=make_bombs())
    for case in CASES:
        if case.behaviour is not None:
            server.route(case.path, case.behaviour(env))
    for path, behaviour in EXTRA_ROUTES.items():
        server.route(path, behaviour(env))
    server.start_process()
    settings = make_settings()
    http = clients.http_client(settings)
    try:
        yield Hostile(server, canary, guarded, env, settings, clients.fetch_policy(settings), http)
    finally:
        http.close()
        server.stop()
        canary.stop()
        guarded.stop()
