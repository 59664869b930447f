"""The local stack without Docker: Elasticsearch, the SMTP sink, the sample news site and Airflow.

Elasticsearch comes from Maven Central (``org.elasticsearch.distribution.integ-test-zip``), fetched with
``mvn dependency:copy`` into the cache folder (outside the repository) and run as a single node on
127.0.0.1. Elasticsearch refuses to run as root, so when we are root it runs as an unprivileged system
user (created on first use). The other services are our own Python processes. Every service writes a pid
file under ``var/run`` and a log under ``var/log``; ``stack down`` stops them all.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import httpx

from newswatch.errors import ServiceError
from newswatch.settings import Settings

log = logging.getLogger(__name__)

# The local stack runs from a source checkout (``make demo``, ``make test``): its dags/ and working directory.
REPO_ROOT = Path(__file__).resolve().parents[2]

MAVEN_GROUP = "org.elasticsearch.distribution.integ-test-zip"


# ------------------------------------------------------------------------------------------------ java


def java_major(java_home: Path) -> int:
    release = java_home / "release"
    if release.exists():
        for line in release.read_text().splitlines():
            if line.startswith("JAVA_VERSION="):
                version = line.split("=", 1)[1].strip().strip('"')
                return int(version.split(".")[0])
    return 0


def find_java(settings: Settings, minimum: int = 21) -> Path:
    """A JDK able to run the configured Elasticsearch: the setting, $JAVA_HOME, or the newest in /usr/lib/jvm."""
    candidates: list[Path] = []
    if settings.es.java_home:
        candidates.append(Path(settings.es.java_home))
    for var in ("ES_JAVA_HOME", "JAVA_HOME"):
        if os.environ.get(var):
            candidates.append(Path(os.environ[var]))
    jvm = Path("/usr/lib/jvm")
    if jvm.is_dir():
        candidates += sorted((p for p in jvm.iterdir() if p.is_dir()), key=java_major, reverse=True)
    for home in candidates:
        if (home / "bin" / "java").exists() and java_major(home) >= minimum:
            return home
    raise ServiceError(f"no JDK {minimum}+ found (looked at {[str(c) for c in candidates]}); "
                       "set NEWSWATCH_ES__JAVA_HOME")


# ----------------------------------------------------------------------------------------- elasticsearch


def es_home(settings: Settings) -> Path:
    return settings.cache_dir / f"elasticsearch-{settings.es.version}"


def es_local_url(settings: Settings) -> str:
    """The node ``stack up`` runs: the first of ``NEWSWATCH_ES__URL``'s comma-separated URLs."""
    return settings.es.url.split(",")[0].strip().rstrip("/")


def es_port(settings: Settings) -> int:
    return httpx.URL(es_local_url(settings)).port or 9200


def es_node_dir(settings: Settings) -> Path:
    """The node's data, logs and pid: outside the checkout (the unprivileged ES user must reach it) but one
    per checkout (``var_dir``) and port, so a second clone starts from an empty node, not from another
    clone's articles and feed state."""
    owner = hashlib.sha1(str(Path(settings.var_dir).resolve()).encode()).hexdigest()[:10]
    return settings.cache_dir / "run" / f"es-{es_port(settings)}-{owner}"


def ensure_es_distribution(settings: Settings) -> Path:
    """Download (once) and unpack the Elasticsearch distribution; return its home folder."""
    home = es_home(settings)
    if (home / "bin" / "elasticsearch").exists():
        return home
    version = settings.es.version
    downloads = settings.cache_dir / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    archive = downloads / f"elasticsearch-{version}.zip"
    if not archive.exists():
        if not shutil.which("mvn"):
            raise ServiceError("Maven (mvn) is needed to fetch Elasticsearch from Maven Central")
        cmd = ["mvn", "-q", "-B", "dependency:copy", f"-Dartifact={MAVEN_GROUP}:elasticsearch:{version}:zip",
               f"-DoutputDirectory={downloads}"]
        log.info("fetching Elasticsearch %s: %s", version, " ".join(cmd))
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=downloads)
        if proc.returncode != 0 or not archive.exists():
            raise ServiceError(f"mvn could not fetch Elasticsearch {version}:\n"
                               f"{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    staging = settings.cache_dir / f".unpack-{version}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            path = Path(zf.extract(info, staging))
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                path.chmod(mode)
    unpacked = staging / f"elasticsearch-{version}"
    for p in [unpacked, *unpacked.rglob("*")]:  # readable by the unprivileged user
        p.chmod(p.stat().st_mode | 0o044 | (0o011 if p.is_dir() else 0))
    unpacked.rename(home)
    shutil.rmtree(staging, ignore_errors=True)
    settings.cache_dir.chmod(0o755)
    return home


def service_user(settings: Settings) -> pwd.struct_passwd | None:
    """The account the local servers (Elasticsearch, PostgreSQL, Redis) run as: ourselves, or (as root) the
    unprivileged ``run_as`` user (created on first use): Elasticsearch and PostgreSQL refuse to run as root."""
    if os.geteuid() != 0:
        return None
    name = settings.es.run_as
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                       check=True, capture_output=True)
        return pwd.getpwnam(name)


def as_user(argv: list[str], user: pwd.struct_passwd | None) -> list[str]:
    """``argv`` run as ``user`` (``setpriv`` execs it: the pid is the server's own), or as is."""
    if user is None:
        return argv
    return ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups", *argv]


def own_dir(settings: Settings, path: Path, user: pwd.struct_passwd | None) -> None:
    """Make ``path`` (under the cache folder's ``run/``) the unprivileged user's, with its parents enterable."""
    path.mkdir(parents=True, exist_ok=True)
    if user is not None:
        for parent in [settings.cache_dir, settings.cache_dir / "run"]:
            parent.chmod(0o755)
        subprocess.run(["chown", "-R", f"{user.pw_uid}:{user.pw_gid}", str(path)], check=True)


def es_healthy(settings: Settings, timeout: float = 2.0) -> dict[str, Any] | None:
    try:
        resp = httpx.get(f"{es_local_url(settings)}/_cluster/health", timeout=timeout, trust_env=False)
        if resp.status_code == 200 and resp.json().get("status") in ("green", "yellow"):
            data: dict[str, Any] = resp.json()
            return data
    except (httpx.HTTPError, ValueError):
        return None
    return None


def launch_es_node(settings: Settings, node: Path, options: dict[str, str], *, heap: str | None = None) -> Path:
    """Start one Elasticsearch node daemonised (pid in ``node/pid``) with its data, logs and config under
    ``node`` and ``-E`` ``options`` on top of the common ones (loopback, no security, no disk watermarks);
    return the JDK it runs on. Used for the single node of ``stack up`` and for the nodes of a cluster."""
    home = ensure_es_distribution(settings)
    java = find_java(settings, 21 if int(settings.es.version.split(".")[0]) >= 9 else 17)
    for sub in ("data", "logs", "tmp"):
        (node / sub).mkdir(parents=True, exist_ok=True)
    if not (node / "config").exists():
        shutil.copytree(home / "config", node / "config")
    user = service_user(settings)
    own_dir(settings, node, user)
    common = {"network.host": "127.0.0.1", "path.data": str(node / "data"), "path.logs": str(node / "logs"),
              "xpack.security.enabled": "false", "cluster.routing.allocation.disk.threshold_enabled": "false"}
    argv = [str(home / "bin" / "elasticsearch"), "-d", "-p", str(node / "pid")]
    for key, value in {**common, **options}.items():
        argv += ["-E", f"{key}={value}"]
    heap = heap or settings.es.heap
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "ES_JAVA_HOME": str(java), "ES_PATH_CONF": str(node / "config"),
           "ES_TMPDIR": str(node / "tmp"), "ES_JAVA_OPTS": f"-Xms{heap} -Xmx{heap}", "HOME": str(node)}
    out = subprocess.run(as_user(argv, user), env=env, capture_output=True, text=True, cwd=str(node))
    if out.returncode != 0:
        raise ServiceError(f"Elasticsearch failed to start:\n{out.stdout[-3000:]}{out.stderr[-3000:]}")
    return java


def start_es(settings: Settings, *, wait: float = 180.0) -> dict[str, Any]:
    """Start a single-node Elasticsearch unless one already answers; wait until it is healthy."""
    started = time.monotonic()
    if es_healthy(settings):
        return {"service": "elasticsearch", "status": "already running", "url": settings.es.url, "seconds": 0.0}
    node = es_node_dir(settings)
    port = es_port(settings)
    java = launch_es_node(settings, node, {"http.port": str(port), "transport.port": f"{port + 100}-{port + 200}",
                                           "discovery.type": "single-node"})
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        health = es_healthy(settings)
        if health:
            return {"service": "elasticsearch", "status": "started", "url": settings.es.url,
                    "version": settings.es.version, "java": str(java),
                    "seconds": round(time.monotonic() - started, 1)}
        time.sleep(0.5)
    raise ServiceError(f"Elasticsearch did not become healthy in {wait}s; see {node / 'logs'}")


def stop_es(settings: Settings, *, wait: float = 60.0) -> dict[str, Any]:
    pidfile = es_node_dir(settings) / "pid"
    if not pidfile.exists():
        return {"service": "elasticsearch", "status": "not running"}
    pid = int(pidfile.read_text().strip() or 0)
    status = _kill(pid, wait)
    pidfile.unlink(missing_ok=True)
    return {"service": "elasticsearch", "status": status}


def _kill(pid: int, wait: float) -> str:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return "not running"
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return "stopped"
        time.sleep(0.2)
    os.kill(pid, signal.SIGKILL)
    return "killed"


# ------------------------------------------------------------------------------ our own python services


def _run_dir(settings: Settings) -> Path:
    path = settings.var_dir / "run"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _pid_alive(pidfile: Path) -> int | None:
    if not pidfile.exists():
        return None
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, 0)
        return pid
    except (ValueError, ProcessLookupError, PermissionError):
        return None


def start_process(settings: Settings, name: str, argv: list[str], *, env: dict[str, str] | None = None,
                  ready_url: str | None = None, wait: float = 60.0) -> dict[str, Any]:
    """Start ``argv`` detached with a pid file and a log; wait for ``ready_url`` to answer if given."""
    pidfile = _run_dir(settings) / f"{name}.pid"
    if (pid := _pid_alive(pidfile)) is not None:
        return {"service": name, "status": "already running", "pid": pid}
    logdir = settings.var_dir / "log"
    logdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with open(logdir / f"{name}.log", "ab") as logf:
        proc = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**os.environ, **(env or {})}, start_new_session=True, cwd=str(REPO_ROOT))
    pidfile.write_text(str(proc.pid))
    if ready_url:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise ServiceError(f"{name} exited with {proc.returncode}; see {logdir / f'{name}.log'}")
            try:
                if httpx.get(ready_url, timeout=2, trust_env=False).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            raise ServiceError(f"{name} did not answer {ready_url} within {wait}s")
    return {"service": name, "status": "started", "pid": proc.pid, "seconds": round(time.monotonic() - started, 1)}


def stop_process(settings: Settings, name: str, wait: float = 30.0) -> dict[str, Any]:
    pidfile = _run_dir(settings) / f"{name}.pid"
    pid = _pid_alive(pidfile)
    if pid is None:
        pidfile.unlink(missing_ok=True)
        return {"service": name, "status": "not running"}
    try:
        os.killpg(pid, signal.SIGTERM)  # the whole session: airflow standalone has children
    except ProcessLookupError:
        pass
    status = _kill(pid, wait)
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    pidfile.unlink(missing_ok=True)
    return {"service": name, "status": status}


def start_mail(settings: Settings) -> dict[str, Any]:
    argv = [sys.executable, "-m", "newswatch.cli", "serve-mail", "--port", str(settings.smtp.port)]
    res = start_process(settings, "mail", argv)
    _wait_port(settings.smtp.host, settings.smtp.port, 20)
    res["mail_dir"] = str(settings.mail_dir)
    return res


def start_site(settings: Settings) -> dict[str, Any]:
    argv = [sys.executable, "-m", "newswatch.localstack.demosite", "--port", str(settings.demo_port),
            "--live-dir", str(settings.var_dir / "demosite-live")]  # articles published while it runs
    res = start_process(settings, "site", argv, ready_url=f"http://127.0.0.1:{settings.demo_port}/robots.txt")
    res["url"] = f"http://127.0.0.1:{settings.demo_port}/"
    return res


def _wait_port(host: str, port: int, wait: float) -> None:
    import socket

    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.3)
    raise ServiceError(f"nothing listens on {host}:{port} after {wait}s")


# ----------------------------------------------------------------------------------------------- airflow


def airflow_home(settings: Settings) -> Path:
    return settings.var_dir / "airflow"


def airflow_env(settings: Settings) -> dict[str, str]:
    """Environment for every airflow command: home under var/, DAGs from dags/, no examples, unpaused; with
    ``NEWSWATCH_AIRFLOW_EXECUTOR=celery`` also the CeleryExecutor on the local PostgreSQL and Redis."""
    home = airflow_home(settings)
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),  # the timeline page
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__API__PORT": str(settings.airflow_port),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{settings.airflow_port}",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "10",
        "AIRFLOW__CORE__LAZY_LOAD_PLUGINS": "True",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "NO_PROXY": "*",
        # standalone starts its components as `airflow …` subprocesses: our venv's bin must come first
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    if settings.airflow_executor == "celery":
        from newswatch.localstack import pgredis

        env.update({
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": pgredis.airflow_db_url(settings),
            "AIRFLOW__CELERY__BROKER_URL": pgredis.celery_broker_url(settings),
            "AIRFLOW__CELERY__RESULT_BACKEND": pgredis.celery_result_backend(settings),
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "4",
            # separate processes: the workers reach the API server, and all of them sign with one key
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{settings.airflow_port}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": _kept_secret(home / "jwt_secret"),
        })
    return env


def _kept_secret(path: Path) -> str:
    """A random secret created once and kept in ``path`` (ours only)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.read_text().strip():
        return path.read_text().strip()
    value = secrets.token_urlsafe(32)
    path.write_text(value)
    path.chmod(0o600)
    return value


def airflow_password(settings: Settings) -> str:
    """The admin password (created once, kept in var/airflow/passwords.json)."""
    path = airflow_home(settings) / "passwords.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        try:
            return str(json.loads(path.read_text())["admin"])
        except (ValueError, KeyError):
            pass
    password = secrets.token_urlsafe(12)
    path.write_text(json.dumps({"admin": password}))
    return password


# The separate processes of the CeleryExecutor (``airflow standalone`` would force the LocalExecutor); the
# API server last, so that its health answer means all of them have been launched.
CELERY_COMPONENTS = (("scheduler", ["scheduler"]), ("dag-processor", ["dag-processor"]),
                     ("triggerer", ["triggerer"]), ("worker", ["celery", "worker"]), ("api-server", ["api-server"]))


def start_airflow(settings: Settings, *, wait: float = 240.0) -> dict[str, Any]:
    """``airflow standalone`` (LocalExecutor, SQLite), or with ``NEWSWATCH_AIRFLOW_EXECUTOR=celery`` the
    scheduler, DAG processor, triggerer, a Celery worker and the API server as separate processes."""
    password = airflow_password(settings)
    airflow = Path(sys.executable).with_name("airflow")
    health = f"http://127.0.0.1:{settings.airflow_port}/api/v2/monitor/health"
    env = airflow_env(settings)
    if settings.airflow_executor == "celery":
        started = time.monotonic()
        migrate = subprocess.run([str(airflow), "db", "migrate"], env={**os.environ, **env}, capture_output=True,
                                 text=True, cwd=str(REPO_ROOT), timeout=600)
        if migrate.returncode != 0:
            raise ServiceError(f"airflow db migrate failed on PostgreSQL: {migrate.stderr.strip()[-1500:]}")
        for name, args in CELERY_COMPONENTS:
            start_process(settings, f"airflow-{name}", [str(airflow), *args], env=env,
                          ready_url=health if name == "api-server" else None, wait=wait)
        res: dict[str, Any] = {"service": "airflow", "status": "started", "executor": "CeleryExecutor",
                               "seconds": round(time.monotonic() - started, 1)}
    else:
        res = start_process(settings, "airflow", [str(airflow), "standalone"], env=env, ready_url=health, wait=wait)
    res.update(url=f"http://127.0.0.1:{settings.airflow_port}", user="admin", password=password,
               timeline_url=timeline_url(settings))
    return res


def timeline_url(settings: Settings) -> str:
    """The timeline page on the local Airflow (the plugin in ``plugins/`` mounts it)."""
    return f"http://127.0.0.1:{settings.airflow_port}/newswatch/timeline/"


# ------------------------------------------------------------------------------------------------- stack

SERVICES = ("es", "postgres", "redis", "mail", "site", "airflow")


def up(settings: Settings, services: list[str]) -> list[dict[str, Any]]:
    """Start ``services`` in dependency order; Airflow on the CeleryExecutor brings PostgreSQL and Redis."""
    from newswatch.localstack import pgredis

    unknown = set(services) - set(SERVICES)
    if unknown:
        raise ServiceError(f"unknown service(s) {', '.join(sorted(unknown))}; known: {', '.join(SERVICES)}")
    wanted = set(services)
    if "airflow" in wanted and settings.airflow_executor == "celery":
        wanted |= {"postgres", "redis"}
    starters = {"es": start_es, "postgres": pgredis.start_postgres, "redis": pgredis.start_redis,
                "mail": start_mail, "site": start_site, "airflow": start_airflow}
    return [starters[name](settings) for name in SERVICES if name in wanted]


# the Airflow processes ``stack up`` may have started: ``airflow`` (standalone) or the Celery ones
AIRFLOW_PROCESSES = ("airflow", *(f"airflow-{name}" for name, _ in CELERY_COMPONENTS))


def down(settings: Settings, services: list[str] | None = None) -> list[dict[str, Any]]:
    from newswatch.localstack import pgredis

    out = []
    for name in reversed(SERVICES):
        if services and name not in services:
            continue
        if name == "es":
            out.append(stop_es(settings))
        elif name == "postgres":
            out.append(pgredis.stop_postgres(settings))
        elif name == "redis":
            out.append(pgredis.stop_redis(settings))
        elif name == "airflow":
            rows = [stop_process(settings, n) for n in AIRFLOW_PROCESSES]
            out += [r for r in rows if r["status"] != "not running"] or rows[:1]
        else:
            out.append(stop_process(settings, name))
    return out


def status(settings: Settings) -> list[dict[str, Any]]:
    from newswatch.localstack import pgredis

    health = es_healthy(settings)
    rows: list[dict[str, Any]] = [{"service": "elasticsearch", "url": settings.es.url,
                                   "status": health["status"] if health else "down"}]
    rows += pgredis.status_rows(settings)
    for name in ("mail", "site"):
        pid = _pid_alive(_run_dir(settings) / f"{name}.pid")
        rows.append({"service": name, "status": "running" if pid else "down", "pid": pid})
    pids = {n: _pid_alive(_run_dir(settings) / f"{n}.pid") for n in AIRFLOW_PROCESSES}
    running = [n for n, pid in pids.items() if pid]
    rows.append({"service": "airflow", "status": "running" if running else "down",
                 "executor": "CeleryExecutor" if any(n != "airflow" for n in running) else "LocalExecutor",
                 "processes": ",".join(running) or None,
                 "url": f"http://127.0.0.1:{settings.airflow_port}", "timeline_url": timeline_url(settings)})
    return rows
