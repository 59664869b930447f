"""Faults on the single node and on workers, each with counts: Elasticsearch killed with SIGKILL in the
middle of indexing and restarted; the fetch step's process killed with SIGKILL in the middle of a batch; the
staging store unwritable. In each case the user sees one line, the retry completes, and afterwards every
article is present exactly once (expected = found, 0 duplicates, 0 lost)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from newswatch.clients import make_es
from newswatch.localstack import services
from newswatch.localstack.demosite import expected_articles
from newswatch.localstack.demosite.live import LiveStore
from newswatch.localstack.demosite.server import DemoSiteHandler, DemoSiteServer
from newswatch.settings import ElasticsearchSettings, Settings
from tests.conftest import free_port
from tests.integration.helpers import write_demo_feeds

pytestmark = pytest.mark.integration

NW = str(Path(sys.executable).with_name("newswatch"))
REPO = Path(__file__).resolve().parents[2]


def run_nw(env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([NW, *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=timeout,
                          cwd=REPO)


def env_for(es_url: str, prefix: str, tmp: Path, **extra: str) -> dict[str, str]:
    return {"NEWSWATCH_ES__URL": es_url, "NEWSWATCH_ES__INDEX_PREFIX": prefix, "NEWSWATCH_VAR_DIR": str(tmp / "var"),
            "NEWSWATCH_ALLOWED_NETWORKS": "127.0.0.1/32", "NEWSWATCH_FETCH__MIN_HOST_GAP": "0", **extra}


def counts(es: Any, index: str, field: str = "url") -> dict[str, int]:
    """Documents, distinct values of ``field`` and values held by more than one document."""
    es.indices.refresh(index=index)
    total = es.count(index=index)["count"]
    resp = es.search(index=index, size=0, aggs={
        "distinct": {"cardinality": {"field": field, "precision_threshold": 40000}},
        "dupes": {"terms": {"field": field, "min_doc_count": 2, "size": 10}}})
    return {"documents": total, "distinct": resp["aggregations"]["distinct"]["value"],
            "duplicated": len(resp["aggregations"]["dupes"]["buckets"])}


# ------------------------------------------------------------------ Elasticsearch killed in the middle of indexing


@pytest.fixture()
def own_node(tmp_path: Path) -> Iterator[Settings]:
    """A node of our own (the test kills it): its own port and data folder, removed afterwards."""
    import shutil

    port = free_port()
    settings = Settings(es=ElasticsearchSettings(url=f"http://127.0.0.1:{port}", index_prefix="nwfault"),
                        var_dir=tmp_path / "var")
    services.start_es(settings)
    try:
        yield settings
    finally:
        services.stop_es(settings)
        shutil.rmtree(services.es_node_dir(settings), ignore_errors=True)


def articles_file(path: Path, n: int) -> Path:
    """``n`` articles as ``index --file`` takes them: a third about the topic (tagged, clustered), distinct URLs."""
    core = ("North Korean soldiers deployed to Russia's Kursk region came under Ukrainian drone attack near {place}, "
            "Ukraine's military intelligence said, and about {n} of them were wounded. South Korea's spy agency "
            "said Pyongyang had sent about 11,000 troops to fight for Russia.")
    other = ("The city council of {place} approved a budget of {n} million for new tram lines and a bus depot, "
             "with work to start in the spring and the first line to open within two years.")
    places = ["Sudzha", "Korenevo", "Malaya Loknya", "Plekhovo", "Sverdlikovo", "Guevo", "Oleshnya", "Lgov"]
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            text = (core if i % 3 == 0 else other).format(place=places[i % len(places)], n=100 + i)
            f.write(json.dumps({"url": f"https://news.example.org/fault/{i:05d}", "title": f"Report {i}: {text[:60]}",
                                "text": text + " " + text, "published": f"2024-11-{1 + i % 28:02d}T08:00:00Z",
                                "source": f"Outlet {i % 7}", "lang": "en"}) + "\n")
    return path


def test_elasticsearch_killed_mid_index_then_the_retry_loses_and_doubles_nothing(own_node: Settings,
                                                                                  tmp_path: Path) -> None:
    n = 1000
    t0 = time.monotonic()
    data = articles_file(tmp_path / "articles.jsonl", n)
    env = env_for(own_node.es.url, own_node.es.index_prefix, tmp_path)
    assert run_nw(env, "init", "--json").returncode == 0
    index = f"{own_node.es.index_prefix}-articles"
    watcher = make_es(own_node, max_retries=0, request_timeout=2)

    proc = subprocess.Popen([NW, "index", "--file", str(data), "--json"], env={**os.environ, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    killed_at = None
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:  # kill the node once the first chunks are in
        try:
            if watcher.count(index=index)["count"] >= 500:
                pid = int((services.es_node_dir(own_node) / "pid").read_text().strip())
                os.kill(pid, signal.SIGKILL)
                killed_at = watcher.count  # marker: we killed it
                break
        except Exception:
            pass
        time.sleep(0.2)
    assert killed_at is not None, "indexing finished before the node could be killed"
    t_kill = time.monotonic()
    out, err = proc.communicate(timeout=300)
    t_failed = time.monotonic()
    # the user sees one line naming the node and what to do, and a non-zero exit
    assert proc.returncode == 1, (out, err)
    lines = [x for x in err.splitlines() if x.strip() and not x.startswith("[")]  # progress lines are "[…]"
    message = [x for x in lines if x.startswith("newswatch:")]
    assert len(message) == 1 and own_node.es.url in message[0], err
    assert "Traceback" not in err

    # the node comes back on its data folder; the same command again (what a task retry runs) completes
    (services.es_node_dir(own_node) / "pid").unlink(missing_ok=True)
    services.start_es(own_node)
    es = make_es(own_node)
    es.cluster.health(index=index, wait_for_status="yellow", timeout="60s")
    before_retry = counts(es, index)
    t_up = time.monotonic()
    retry = run_nw(env, "index", "--file", str(data), "--json")
    assert retry.returncode == 0, retry.stderr
    after = counts(es, index)
    print(f"\nES killed mid-index: expected {n}, found before the retry {before_retry['documents']}, "
          f"after {after['documents']}, duplicated {after['duplicated']}; killed after {t_kill - t0:.0f}s, the "
          f"command failed {t_failed - t_kill:.0f}s later, node back after {t_up - t_failed:.0f}s, retry took "
          f"{time.monotonic() - t_up:.0f}s; the user saw: {message[0]}")
    assert after == {"documents": n, "distinct": n, "duplicated": 0}
    es.close()
    watcher.close()


# ------------------------------------------------------------------ the fetch process killed in the middle of a batch


class SlowPages(DemoSiteHandler):
    """The sample site, with every article page answered after a pause (feeds stay fast)."""

    delay = 0.4

    def is_page(self) -> bool:
        return not any(self.path.endswith(s) for s in (".rss", ".xml", ".atom", "robots.txt")) \
            and "feed" not in self.path

    def do_GET(self) -> None:
        if self.is_page():
            time.sleep(self.delay)
        super().do_GET()


def serve_site(handler: type[DemoSiteHandler]) -> Iterator[str]:
    """The sample site with ``handler`` on a free loopback port, in a thread, for the length of a fixture."""
    server = DemoSiteServer(("127.0.0.1", 0), handler, LiveStore(None))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture()
def slow_site() -> Iterator[str]:
    yield from serve_site(SlowPages)


def test_fetch_killed_mid_batch_then_the_retry_redoes_it_and_nothing_is_lost_or_doubled(
        es_url: str, slow_site: str, settings_factory, tmp_path: Path) -> None:
    settings = settings_factory()
    feeds = write_demo_feeds(tmp_path / "feeds.yaml", slow_site)
    env = env_for(es_url, settings.es.index_prefix, tmp_path, NEWSWATCH_FEEDS_FILE=str(feeds),
                  NEWSWATCH_FETCH__CONCURRENCY="1")
    expected = len(expected_articles())
    polled = run_nw(env, "poll", "--batch", "b1", "--json")
    assert polled.returncode == 0, polled.stderr
    assert json.loads(polled.stdout)["new_entries"] == expected

    # the fetch step (what the DAG's fetch task runs) killed with SIGKILL after a few pages
    proc = subprocess.Popen([NW, "fetch", "--batch", "b1", "--json"], env={**os.environ, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    time.sleep(4 * SlowPages.delay + 2.5)  # start-up, then a few pages
    assert proc.poll() is None, "the fetch finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)

    # nothing of the batch was indexed or marked done; the retry fetches the batch again and indexing completes
    retry = run_nw(env, "fetch", "--batch", "b1", "--json")
    assert retry.returncode == 0, retry.stderr
    assert json.loads(retry.stdout)["articles"] == expected
    indexed = run_nw(env, "index", "--batch", "b1", "--json")
    assert indexed.returncode == 0, indexed.stderr
    es = make_es(settings)
    found = counts(es, f"{settings.es.index_prefix}-articles")
    print(f"\nfetch killed mid-batch: expected {expected}, found {found}")
    assert found == {"documents": expected, "distinct": expected, "duplicated": 0}
    # and a second index of the same batch (a retried index task) adds nothing
    again = run_nw(env, "index", "--batch", "b1", "--json")
    assert again.returncode == 0 and counts(es, f"{settings.es.index_prefix}-articles") == found
    es.close()


# -------------------------------------------------------- an Airflow task process killed in the middle of a fetch


class SlowerPages(SlowPages):
    """Pages after 2 s each (a shard's batch takes half a minute or more), counted as they are asked for."""

    delay = 2.0
    served = 0

    def do_GET(self) -> None:
        super().do_GET()
        if self.is_page():
            type(self).served += 1


@pytest.fixture()
def slower_site() -> Iterator[str]:
    yield from serve_site(SlowerPages)


def _task_process(ti_id: str) -> int | None:
    """The pid of the task process Airflow's supervisor started for task instance ``ti_id``."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            head = "airflow worker -- "
            if cmdline.startswith(head) and cmdline[len(head):].strip().replace("-", "") == ti_id.replace("-", ""):
                return int(entry.name)
    return None


@pytest.mark.timeout(900)
def test_an_airflow_fetch_task_killed_mid_batch_is_retried_and_nothing_is_lost_or_doubled(
        es_url: str, slower_site: str, smtp_sink, tmp_path: Path) -> None:
    """The real scheduler with the LocalExecutor runs the poll DAG; the task process of one ``fetch_shard``
    is killed with SIGKILL while it fetches its batch. Airflow records that try as failed, retries it, and the
    run ends with every article of the site indexed exactly once."""
    import sqlalchemy

    from tests.integration.helpers import airflow_env, start_airflow, stop_processes, trigger_when_parsed

    port, _ = smtp_sink
    home = tmp_path / "airflow"
    home.mkdir()
    api_port = free_port()
    prefix = f"nwkill-{os.getpid()}-{int(time.time())}"
    bindir = Path(sys.executable).parent
    env = airflow_env(home, tmp_path, es_url=es_url, prefix=prefix, smtp_port=port, demo_site=slower_site, **{
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": os.urandom(16).hex(),
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "PATH": f"{bindir}:{os.environ.get('PATH', '')}",
        "NEWSWATCH_POLL_SCHEDULE": "none",
        "NEWSWATCH_FETCH__CONCURRENCY": "1",
    })
    airflow = str(bindir / "airflow")
    migrate = subprocess.run([airflow, "db", "migrate"], env=env, capture_output=True, text=True, timeout=300,
                             cwd=REPO)
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    db = sqlalchemy.create_engine(f"sqlite:///{home / 'airflow.db'}")

    def rows(sql: str) -> list[Any]:
        with db.connect() as conn:
            return list(conn.execute(sqlalchemy.text(sql)).all())

    procs: list[subprocess.Popen[bytes]] = []
    settings = Settings(es=ElasticsearchSettings(url=es_url, index_prefix=prefix))
    es = make_es(settings)
    try:
        logs = start_airflow(env, tmp_path, [("api-server", ["api-server", "--port", str(api_port)]),
                                             ("scheduler", ["scheduler"]), ("dag-processor", ["dag-processor"])],
                             procs)
        deadline = time.monotonic() + 600
        trigger_when_parsed(env, "newswatch_poll", {"force": True}, deadline)

        killed = None  # (task instance id, map index, pid)
        missed: dict[int, int] = {}  # map index -> pid of a kill that landed after its try reported its end
        while killed is None and time.monotonic() < deadline:
            running = rows("SELECT id, map_index FROM task_instance WHERE dag_id = 'newswatch_poll' AND "
                           "task_id = 'shard.fetch_shard' AND state = 'running' AND try_number = 1")
            for ti_id, map_index in running:
                if map_index in missed:
                    continue
                pid = _task_process(str(ti_id))
                if not pid:
                    continue
                seen = SlowerPages.served
                wait_until = time.monotonic() + 30
                while SlowerPages.served < seen + 2 and time.monotonic() < wait_until:
                    time.sleep(0.1)  # a couple of pages into its batch
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:  # that batch was done already: try the other shard's
                    continue
                # The kill counts once Airflow sees that try end without success; a kill that lands after the
                # try sent its success (the batch was done) did not test anything: try the other shard's.
                outcome = None
                settle = time.monotonic() + 60
                while outcome is None and time.monotonic() < settle:
                    now = rows("SELECT try_number, state FROM task_instance WHERE task_id = 'shard.fetch_shard' "
                               f"AND map_index = {map_index}")
                    if now and (now[0][0] > 1 or now[0][1] in ("failed", "up_for_retry")):
                        outcome = "failed"
                    elif now and now[0][1] == "success":
                        outcome = "missed"
                    else:
                        time.sleep(0.5)
                if outcome == "missed":
                    missed[map_index] = pid
                    continue
                killed = (str(ti_id), map_index, pid)
                break
            time.sleep(0.3)
        assert killed, f"no fetch task was seen running mid-batch (kills that came too late: {missed})"
        t_kill = time.monotonic()

        state = None
        while time.monotonic() < deadline:
            runs = rows("SELECT state FROM dag_run WHERE dag_id = 'newswatch_poll'")
            state = runs[0][0] if runs else None
            if state in ("success", "failed"):
                break
            time.sleep(3)
        tails = {n: p.read_text(errors="replace")[-3000:] for n, p in logs.items()}
        assert state == "success", (state, tails["scheduler"])
        tries = rows("SELECT try_number, state FROM task_instance_history WHERE task_id = 'shard.fetch_shard' "
                     f"AND map_index = {killed[1]} ORDER BY try_number")
        final = rows("SELECT try_number, state FROM task_instance WHERE task_id = 'shard.fetch_shard' "
                     f"AND map_index = {killed[1]}")
        everything = rows("SELECT map_index, try_number, state FROM task_instance_history "
                          "WHERE task_id = 'shard.fetch_shard' ORDER BY map_index, try_number")
        assert tries and tries[0][1] in ("failed", "up_for_retry"), (tries, everything, missed)  # the killed try
        assert final == [(2, "success")], final  # ... and its retry did the batch

        expected = len(expected_articles())
        found = counts(es, f"{prefix}-articles")
        print(f"\nAirflow fetch task (map index {killed[1]}) killed with SIGKILL: tries {tries} then {final} "
              f"(late kills {missed}); "
              f"run done {time.monotonic() - t_kill:.0f}s after the kill; expected {expected}, found {found}")
        assert found == {"documents": expected, "distinct": expected, "duplicated": 0}
    finally:
        stop_processes(procs)
        db.dispose()
        from newswatch import index

        index.drop_indices(es, settings)
        es.close()


# ------------------------------------------------------------------ the staging store unwritable


def test_unwritable_staging_is_one_clear_line_and_no_feed_state_moves(es_url: str, demo_site: str, settings_factory,
                                                                     tmp_path: Path) -> None:
    settings = settings_factory()
    feeds = write_demo_feeds(tmp_path / "feeds.yaml", demo_site)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the staging folder should be")  # root ignores permission bits: use a file
    env = env_for(es_url, settings.es.index_prefix, tmp_path, NEWSWATCH_FEEDS_FILE=str(feeds),
                  NEWSWATCH_STAGING_URL=str(blocker / "staging"))
    failed = run_nw(env, "poll", "--batch", "b1", "--json")
    assert failed.returncode == 1, (failed.stdout, failed.stderr)
    lines = [x for x in failed.stderr.splitlines() if x.startswith("newswatch:")]
    assert len(lines) == 1 and "StagingError" in lines[0] and str(blocker) in lines[0], failed.stderr
    assert "Traceback" not in failed.stderr

    # no feed state moved forward: with the store fixed, the next poll finds every entry new again
    es = make_es(settings)
    feeds_index = f"{settings.es.index_prefix}-feeds"
    if es.indices.exists(index=feeds_index):
        es.indices.refresh(index=feeds_index)
        docs = [h["_source"] for h in es.search(index=feeds_index, size=100)["hits"]["hits"]]
        assert not any(d.get("etag") or d.get("last_modified") or d.get("content_hash") for d in docs), docs
    fixed = {**env, "NEWSWATCH_STAGING_URL": str(tmp_path / "staging")}
    polled = run_nw(fixed, "poll", "--batch", "b2", "--json")
    assert polled.returncode == 0, polled.stderr
    assert json.loads(polled.stdout)["new_entries"] == len(expected_articles())
    es.close()
