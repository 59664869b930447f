"""Trigger newswatch_poll in the running Airflow and wait for it and the alert run it schedules.

Talks to the Airflow 3 REST API (``/auth/token`` then ``/api/v2``) with the admin login that
``newswatch stack up`` created. Exits non-zero if a run fails or the timeout passes.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential

from newswatch.localstack.services import airflow_password
from newswatch.settings import Settings


def _transient(exc: BaseException) -> bool:
    """Worth another try: the connection failed, or the API server answered 5xx (with SQLite, a write
    that meets the scheduler's lock answers 500 "database is locked" after 5 s)."""
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code >= 500
    return isinstance(exc, httpx.TransportError)


def _after(stamp: str | None, moment: datetime) -> bool:
    return bool(stamp) and datetime.fromisoformat(str(stamp).replace("Z", "+00:00")) >= moment


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--timeout", type=float, default=480)
    args = parser.parse_args()
    settings = Settings()
    base = f"http://127.0.0.1:{settings.airflow_port}"
    deadline = time.monotonic() + args.timeout
    client = httpx.Client(base_url=base, timeout=30, trust_env=False)
    token = client.post("/auth/token", json={"username": "admin", "password": airflow_password(settings)})
    token.raise_for_status()
    client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"

    @retry(retry=retry_if_exception(_transient), stop=stop_after_attempt(6), wait=wait_exponential(1, max=10),
           reraise=True)
    def call(method: str, url: str, **kwargs: object) -> httpx.Response:
        resp = client.request(method, url, **kwargs)  # type: ignore[arg-type]
        resp.raise_for_status()
        return resp

    def wait_for(what: str, check: Callable[[], Any]) -> Any:
        while time.monotonic() < deadline:
            result = check()
            if result:
                return result
            time.sleep(3)
        print(f"timed out waiting for {what}", file=sys.stderr)
        sys.exit(1)

    started = datetime.now(UTC)
    since = started.isoformat()
    for dag_id in ("newswatch_poll", "newswatch_alert"):
        url = f"/api/v2/dags/{dag_id}"
        wait_for(f"{dag_id} to be parsed", lambda: client.get(url).status_code == 200)  # noqa: B023
        call("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})
    resp = call("POST", "/api/v2/dags/newswatch_poll/dagRuns",
                json={"logical_date": None, "conf": {"force": True}, "note": "triggered by make demo/run"})
    run_id = resp.json()["dag_run_id"]
    print(f"triggered newswatch_poll run {run_id}", file=sys.stderr)

    def runs(dag_id: str, **params: str) -> list[dict]:
        resp = call("GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"limit": 100, **params})
        return list(resp.json().get("dag_runs", []))

    def settled(dag_id: str, **params: str) -> list[dict] | None:
        current = runs(dag_id, **params)
        return current if current and all(r["state"] in ("success", "failed") for r in current) else None

    # Unpausing lets the scheduler start its own run beside ours: wait for every poll run since we began.
    settled_polls = wait_for("the poll runs", lambda: (r := settled("newswatch_poll")) and
                             any(x["dag_run_id"] == run_id for x in r) and r)
    # this round's runs: ours and any the scheduler finished meanwhile (older runs are history: a second
    # `make demo` must not wait for the alert run of the first)
    polls = [r for r in settled_polls if r["dag_run_id"] == run_id or _after(r.get("end_date"), started)]
    for r in polls:
        print(f"newswatch_poll {r['dag_run_id']}: {r['state']}", file=sys.stderr)
    if any(r["state"] != "success" for r in polls):
        return 1
    emitted = any(
        t["task_id"] == "publish" and t["state"] == "success"
        for r in polls
        for t in call("GET", f"/api/v2/dags/newswatch_poll/dagRuns/{r['dag_run_id']}/taskInstances")
        .json()["task_instances"]
    )
    if not emitted:
        print("nothing new was indexed, so no alert run was scheduled", file=sys.stderr)
        return 0
    alerts = wait_for("the alert run", lambda: settled("newswatch_alert", run_after_gte=since))
    for r in alerts:
        print(f"newswatch_alert {r['dag_run_id']}: {r['state']}", file=sys.stderr)
    return 0 if all(r["state"] == "success" for r in alerts) else 1


if __name__ == "__main__":
    sys.exit(main())
