"""PostgreSQL and Redis from the Debian packages, for Airflow's production executor without Docker.

``stack up --services postgres,redis`` (and ``NEWSWATCH_AIRFLOW_EXECUTOR=celery``, which starts them with
Airflow) runs both as unprivileged processes on 127.0.0.1: PostgreSQL holds Airflow's metadata database and
the Celery result backend, Redis is the Celery broker. The binaries are the distribution's
(``apt-get install postgresql redis-server``; Debian keeps the PostgreSQL server tools in
``/usr/lib/postgresql/<version>/bin``); nothing is configured system-wide and no distro service is used.

Each server's files live in the cache folder's ``run/`` (which the unprivileged user can reach, like the
Elasticsearch node's), one folder per checkout (``var_dir``) and port. The passwords, unless set, are
generated once and kept there (``secret``, readable by us only). Callers get URLs from ``airflow_db_url``,
``celery_result_backend`` and ``celery_broker_url``; ``stop_postgres``/``stop_redis`` stop what started.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from newswatch.errors import ServiceError
from newswatch.localstack.services import _pid_alive, as_user, own_dir, service_user
from newswatch.settings import Settings

log = logging.getLogger(__name__)

PG_PACKAGE = "postgresql"
PG_ROOT = Path("/usr/lib/postgresql")  # Debian: <PG_ROOT>/<major>/bin/{initdb,pg_ctl,postgres,psql}
REDIS_PACKAGE = "redis-server"


# ------------------------------------------------------------------------------------------------ paths


def _server_dir(settings: Settings, kind: str, port: int) -> Path:
    owner = hashlib.sha1(str(Path(settings.var_dir).resolve()).encode()).hexdigest()[:10]
    return settings.cache_dir / "run" / f"{kind}-{port}-{owner}"


def pg_dir(settings: Settings) -> Path:
    """The PostgreSQL server's folder: ``data/`` (PGDATA), ``sock/`` (its Unix socket), ``log``, ``secret``."""
    return _server_dir(settings, "pg", settings.postgres.port)


def redis_dir(settings: Settings) -> Path:
    return _server_dir(settings, "redis", settings.redis.port)


def _secret(folder: Path, configured: str | None) -> str:
    """The configured password, or the one generated on first use and kept in ``folder/secret``."""
    if configured:
        return configured
    path = folder / "secret"
    folder.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.read_text().strip():
        return path.read_text().strip()
    value = secrets.token_hex(16)  # hex: safe inside URLs and SQL literals
    path.write_text(value)
    path.chmod(0o600)
    return value


def pg_password(settings: Settings) -> str:
    pw = settings.postgres.password
    return _secret(pg_dir(settings), pw.get_secret_value() if pw else None)


def redis_password(settings: Settings) -> str:
    pw = settings.redis.password
    return _secret(redis_dir(settings), pw.get_secret_value() if pw else None)


def airflow_db_url(settings: Settings) -> str:
    """``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN`` for the local PostgreSQL (psycopg2, the ``airflow`` extra)."""
    p = settings.postgres
    return f"postgresql+psycopg2://{p.user}:{pg_password(settings)}@127.0.0.1:{p.port}/{p.database}"


def celery_result_backend(settings: Settings) -> str:
    """``AIRFLOW__CELERY__RESULT_BACKEND``: Celery's database backend on the same PostgreSQL database."""
    p = settings.postgres
    return f"db+postgresql+psycopg2://{p.user}:{pg_password(settings)}@127.0.0.1:{p.port}/{p.database}"


def celery_broker_url(settings: Settings) -> str:
    """``AIRFLOW__CELERY__BROKER_URL``: database 0 of the local Redis."""
    return f"redis://:{redis_password(settings)}@127.0.0.1:{settings.redis.port}/0"


# ------------------------------------------------------------------------------------------- binaries


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", path.parent.parent.name)) or (0,)


def find_pg_bin() -> Path:
    """The folder of ``initdb``/``pg_ctl``/``postgres``: Debian's newest ``/usr/lib/postgresql/<v>/bin``,
    else wherever ``PATH`` has ``pg_ctl`` (other distributions, Homebrew)."""
    found = sorted(PG_ROOT.glob("*/bin/initdb"), key=_version_key, reverse=True)
    if found:
        return found[0].parent
    on_path = shutil.which("pg_ctl")
    if on_path and (Path(on_path).resolve().parent / "initdb").exists():
        return Path(on_path).resolve().parent
    raise ServiceError(f"PostgreSQL server binaries not found ({PG_ROOT}/*/bin, PATH): "
                       f"apt-get install {PG_PACKAGE}")


def find_redis() -> Path:
    path = shutil.which("redis-server")
    if not path:
        raise ServiceError(f"redis-server not found: apt-get install {REDIS_PACKAGE}")
    return Path(path)


# ------------------------------------------------------------------------------------------ postgresql


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _run(argv: list[str], what: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    if proc.returncode != 0:
        raise ServiceError(f"{what} failed ({proc.returncode}): {(proc.stderr or proc.stdout).strip()[-1500:]}")
    return proc


def pg_ready(settings: Settings, bindir: Path | None = None) -> bool:
    """The server accepts connections on its TCP port (``pg_isready``)."""
    bindir = bindir or find_pg_bin()
    proc = subprocess.run([str(bindir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(settings.postgres.port)],
                          capture_output=True)
    return proc.returncode == 0


def start_postgres(settings: Settings, *, wait: float = 60.0) -> dict[str, Any]:
    """Initialise (once) and start the local PostgreSQL; create the Airflow role and database (once).

    Local (Unix-socket) connections are trusted, and the socket lives in a folder only the server's user
    can enter; TCP on 127.0.0.1 needs the password (scram-sha-256)."""
    started = time.monotonic()
    bindir = find_pg_bin()
    folder, port = pg_dir(settings), settings.postgres.port
    data, sock = folder / "data", folder / "sock"
    row = {"service": "postgres", "url": f"postgresql://127.0.0.1:{port}/{settings.postgres.database}"}
    user = service_user(settings)
    if _postmaster_pid(data) is not None and pg_ready(settings, bindir):
        return {**row, "status": "already running", "seconds": 0.0}
    if not _port_free(port):
        raise ServiceError(f"port {port} is taken by another program: set NEWSWATCH_POSTGRES__PORT")
    password = pg_password(settings)
    sock.mkdir(parents=True, exist_ok=True)
    own_dir(settings, folder, user)
    (folder / "secret").chmod(0o600)
    fresh = not (data / "PG_VERSION").exists()
    if fresh:
        shutil.rmtree(data, ignore_errors=True)
        _run(as_user([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-E", "UTF8", "--no-locale",
                      "--auth-local=trust", "--auth-host=scram-sha-256", "--no-instructions"], user),
             "initdb", cwd=str(folder))
    # Airflow's API server, scheduler, DAG processor and worker each keep a pool: room beyond the default 100
    opts = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c max_connections=200"
    _run(as_user([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w", "-t", str(int(wait)),
                  "-o", opts, "start"], user), f"pg_ctl start (see {folder / 'log'})", cwd=str(folder))
    deadline = time.monotonic() + wait
    while not pg_ready(settings, bindir):
        if time.monotonic() > deadline:
            raise ServiceError(f"PostgreSQL did not accept connections on {port} in {wait}s; see {folder / 'log'}")
        time.sleep(0.3)
    if fresh:
        p = settings.postgres
        psql = [str(bindir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", str(sock), "-p", str(port),
                "-U", "postgres", "-d", "postgres"]
        _run(as_user([*psql, "-c", f"CREATE ROLE \"{p.user}\" LOGIN PASSWORD '{password}'"], user),
             "create role", cwd=str(folder))
        _run(as_user([*psql, "-c", f"CREATE DATABASE \"{p.database}\" OWNER \"{p.user}\""], user),
             "create database", cwd=str(folder))
    log.info("postgres on 127.0.0.1:%d (%s)", port, "initialised" if fresh else "existing data")
    return {**row, "status": "started", "seconds": round(time.monotonic() - started, 1)}


def _postmaster_pid(data: Path) -> int | None:
    try:
        pid = int((data / "postmaster.pid").read_text().splitlines()[0])
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError, IndexError):
        return None


def stop_postgres(settings: Settings, *, remove: bool = False, wait: float = 60.0) -> dict[str, Any]:
    """Stop the local PostgreSQL (fast shutdown: sessions are cut, nothing is lost); ``remove`` deletes its
    folder too (tests: every run starts from an empty cluster)."""
    folder = pg_dir(settings)
    data = folder / "data"
    status = "not running"
    if _postmaster_pid(data) is not None:
        bindir = find_pg_bin()
        proc = subprocess.run(as_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "-t",
                                       str(int(wait)), "stop"], service_user(settings)),
                              capture_output=True, text=True, cwd=str(folder))
        status = "stopped"
        if proc.returncode != 0 and (pid := _postmaster_pid(data)) is not None:
            os.kill(pid, 9)
            status = "killed"
    if remove:
        shutil.rmtree(folder, ignore_errors=True)
    return {"service": "postgres", "status": status}


# ----------------------------------------------------------------------------------------------- redis


def redis_ping(settings: Settings, timeout: float = 1.0) -> bool:
    """Redis answers ``PING`` after ``AUTH`` (spoken in RESP directly: the core needs no Redis client)."""
    password = redis_password(settings).encode()
    msg = (b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n" % (len(password), password)) + b"*1\r\n$4\r\nPING\r\n"
    try:
        with socket.create_connection(("127.0.0.1", settings.redis.port), timeout=timeout) as s:
            s.sendall(msg)
            got = b""
            while b"PONG" not in got and len(got) < 512:
                chunk = s.recv(512)
                if not chunk:
                    break
                got += chunk
            return b"+PONG" in got
    except OSError:
        return False


def _redis_pidfile(settings: Settings) -> Path:
    return redis_dir(settings) / "pid"


def start_redis(settings: Settings, *, wait: float = 30.0) -> dict[str, Any]:
    """Start the local Redis daemonised (pid file in its folder): no persistence (the broker's queue is
    rebuilt by Airflow's scheduler from the metadata database), password required, loopback only."""
    started = time.monotonic()
    folder, port = redis_dir(settings), settings.redis.port
    row = {"service": "redis", "url": f"redis://127.0.0.1:{port}/0"}
    pidfile = _redis_pidfile(settings)
    if _pid_alive(pidfile) is not None and redis_ping(settings):
        return {**row, "status": "already running", "seconds": 0.0}
    binary = find_redis()
    if not _port_free(port):
        raise ServiceError(f"port {port} is taken by another program: set NEWSWATCH_REDIS__PORT")
    password = redis_password(settings)
    user = service_user(settings)
    own_dir(settings, folder, user)
    (folder / "secret").chmod(0o600)
    conf = folder / "redis.conf"  # the password in a file, not on a command line others can read
    conf.write_text(f"requirepass {password}\n")
    conf.chmod(0o600)
    if user is not None:
        os.chown(conf, user.pw_uid, user.pw_gid)
    pidfile.unlink(missing_ok=True)
    argv = [str(binary), str(conf), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--daemonize", "yes", "--pidfile", str(pidfile), "--dir", str(folder), "--logfile", str(folder / "log"),
            "--protected-mode", "yes"]
    _run(as_user(argv, user), "redis-server", cwd=str(folder), env={"PATH": "/usr/bin:/bin"})
    deadline = time.monotonic() + wait
    while not redis_ping(settings):
        if time.monotonic() > deadline:
            raise ServiceError(f"Redis did not answer on {port} in {wait}s; see {folder / 'log'}")
        time.sleep(0.2)
    return {**row, "status": "started", "pid": _pid_alive(pidfile), "seconds": round(time.monotonic() - started, 1)}


def stop_redis(settings: Settings, *, remove: bool = False, wait: float = 20.0) -> dict[str, Any]:
    from newswatch.localstack.services import _kill

    pidfile = _redis_pidfile(settings)
    pid = _pid_alive(pidfile)
    status = _kill(pid, wait) if pid is not None else "not running"
    pidfile.unlink(missing_ok=True)
    if remove:
        shutil.rmtree(redis_dir(settings), ignore_errors=True)
    return {"service": "redis", "status": status}


def status_rows(settings: Settings) -> list[dict[str, Any]]:
    pg_up = _postmaster_pid(pg_dir(settings) / "data") is not None
    return [{"service": "postgres", "status": "running" if pg_up else "down", "port": settings.postgres.port},
            {"service": "redis", "status": "running" if _pid_alive(_redis_pidfile(settings)) else "down",
             "port": settings.redis.port}]
