"""Trigger newswatch_poll in the running Airflow and wait for it and the alert run it schedules.

Talks to the Airflow 3 REST API (``/auth/token`` then ``/api/v2``) with the admin login that
``newswatch stack up`` created. Exits non-zero if a run fails or the timeout passes.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime

import httpx

from newswatch.settings import Settings
from newswatch.stack import airflow_password


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

    def wait_for(what: str, check) -> object:
        while time.monotonic() < deadline:
            result = check()
            if result:
                return result
            time.sleep(3)
        print(f"timed out waiting for {what}", file=sys.stderr)
        sys.exit(1)

    since = datetime.now(UTC).isoformat()
    for dag_id in ("newswatch_poll", "newswatch_alert"):
        wait_for(f"{dag_id} to be parsed", lambda d=dag_id: client.get(f"/api/v2/dags/{d}").status_code == 200)
        client.patch(f"/api/v2/dags/{dag_id}", json={"is_paused": False}).raise_for_status()
    resp = client.post("/api/v2/dags/newswatch_poll/dagRuns",
                       json={"logical_date": None, "conf": {"force": True}, "note": "triggered by make demo/run"})
    resp.raise_for_status()
    run_id = resp.json()["dag_run_id"]
    print(f"triggered newswatch_poll run {run_id}", file=sys.stderr)

    def runs(dag_id: str, **params: str) -> list[dict]:
        resp = client.get(f"/api/v2/dags/{dag_id}/dagRuns", params={"limit": 100, **params})
        return list(resp.json().get("dag_runs", []))

    def settled(dag_id: str, **params: str) -> list[dict] | None:
        current = runs(dag_id, **params)
        return current if current and all(r["state"] in ("success", "failed") for r in current) else None

    # Unpausing lets the scheduler start its own run beside ours: wait for every poll run since we began.
    polls = wait_for("the poll runs", lambda: (r := settled("newswatch_poll")) and
                     any(x["dag_run_id"] == run_id for x in r) and r)
    for r in polls:  # type: ignore[union-attr]
        print(f"newswatch_poll {r['dag_run_id']}: {r['state']}", file=sys.stderr)
    if any(r["state"] != "success" for r in polls):  # type: ignore[union-attr]
        return 1
    emitted = any(
        t["task_id"] == "publish" and t["state"] == "success"
        for r in polls  # type: ignore[union-attr]
        for t in client.get(f"/api/v2/dags/newswatch_poll/dagRuns/{r['dag_run_id']}/taskInstances")
        .json()["task_instances"]
    )
    if not emitted:
        print("nothing new was indexed, so no alert run was scheduled", file=sys.stderr)
        return 0
    alerts = wait_for("the alert run", lambda: settled("newswatch_alert", run_after_gte=since))
    for r in alerts:  # type: ignore[union-attr]
        print(f"newswatch_alert {r['dag_run_id']}: {r['state']}", file=sys.stderr)
    return 0 if all(r["state"] == "success" for r in alerts) else 1  # type: ignore[union-attr]


if __name__ == "__main__":
    sys.exit(main())
