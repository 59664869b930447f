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

    for dag_id in ("newswatch_poll", "newswatch_alert"):
        wait_for(f"{dag_id} to be parsed", lambda d=dag_id: client.get(f"/api/v2/dags/{d}").status_code == 200)
        client.patch(f"/api/v2/dags/{dag_id}", json={"is_paused": False}).raise_for_status()
    since = datetime.now(UTC).isoformat()
    resp = client.post("/api/v2/dags/newswatch_poll/dagRuns",
                       json={"logical_date": None, "conf": {"force": True}, "note": "triggered by make demo/run"})
    resp.raise_for_status()
    run_id = resp.json()["dag_run_id"]
    print(f"triggered newswatch_poll run {run_id}", file=sys.stderr)

    def run_state(dag_id: str, rid: str) -> str | None:
        state = client.get(f"/api/v2/dags/{dag_id}/dagRuns/{rid}").json().get("state")
        return state if state in ("success", "failed") else None

    state = wait_for("the poll run", lambda: run_state("newswatch_poll", run_id))
    print(f"newswatch_poll {run_id}: {state}", file=sys.stderr)
    if state != "success":
        return 1

    def alert_run() -> str | None:
        runs = client.get("/api/v2/dags/newswatch_alert/dagRuns",
                          params={"run_after_gte": since, "order_by": "-run_after"}).json().get("dag_runs", [])
        done = [r for r in runs if r["state"] in ("success", "failed")]
        return f"{done[0]['dag_run_id']}:{done[0]['state']}" if done else None

    summary = client.get(f"/api/v2/dags/newswatch_poll/dagRuns/{run_id}/taskInstances").json()
    skipped = any(t["task_id"] == "summarize" and t["state"] == "skipped" for t in summary["task_instances"])
    if skipped:
        print("nothing new was indexed, so no alert run was scheduled", file=sys.stderr)
        return 0
    alert = str(wait_for("the alert run", alert_run))
    print(f"newswatch_alert {alert}", file=sys.stderr)
    return 0 if alert.endswith(":success") else 1


if __name__ == "__main__":
    sys.exit(main())
