"""Shared fixtures. Integration fixtures start real services on loopback and stop what they started."""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def es_url() -> Iterator[str]:
    """A real Elasticsearch node (started from the Maven Central distribution if none answers)."""
    from newswatch.localstack import services as stack
    from newswatch.settings import ElasticsearchSettings, Settings

    url = os.environ.get("NEWSWATCH_TEST_ES_URL", "http://127.0.0.1:9250")
    settings = Settings(es=ElasticsearchSettings(url=url))
    started = stack.es_healthy(settings) is None
    if started:
        info = stack.start_es(settings)
        print(f"\nstarted Elasticsearch {settings.es.version} on {url} in {info['seconds']}s")
    yield url
    if started and not os.environ.get("NEWSWATCH_TEST_KEEP_ES"):
        stack.stop_es(settings)


@pytest.fixture(scope="session")
def demo_site() -> Iterator[str]:
    """The bundled sample news site on a free loopback port; yields its base URL."""
    from newswatch.localstack.demosite import make_server

    server = make_server(host="127.0.0.1", port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture()
def smtp_sink(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A real SMTP server (aiosmtpd) on loopback that keeps messages as .eml files."""
    from newswatch.localstack.mailsink import start_sink

    port = free_port()
    folder = tmp_path / "mail"
    controller = start_sink(folder, "127.0.0.1", port)
    yield port, folder
    controller.stop()


@pytest.fixture()
def settings_factory(es_url: str, tmp_path: Path):
    """Settings bound to the test Elasticsearch under a unique index prefix (indices removed afterwards)."""
    from newswatch.clients import make_es
    from newswatch.index import drop_indices
    from newswatch.settings import ElasticsearchSettings, FetchSettings, Settings, SMTPSettings

    prefix = f"nwtest-{uuid.uuid4().hex[:8]}"
    made: list[Settings] = []

    def make(**overrides) -> Settings:
        smtp = overrides.pop("smtp_port", 8025)
        overrides.setdefault("fetch", FetchSettings(min_host_gap=0.0))  # the sample site is ours: no gap
        s = Settings(
            es=ElasticsearchSettings(url=es_url, index_prefix=prefix),
            smtp=SMTPSettings(port=smtp),
            var_dir=tmp_path / "var",
            allowed_networks="127.0.0.1/32",
            **overrides,
        )
        made.append(s)
        return s

    yield make
    if made:
        es = make_es(made[0])
        drop_indices(es, made[0])
        es.close()
