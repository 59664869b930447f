"""Keep Airflow's home (config, SQLite) out of ~/airflow for DAG tests; put the DAG folder on ``sys.path``
as Airflow does for a bundle (the DAG files import ``_newswatch_common`` from it)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

DAGS = str(Path(__file__).resolve().parents[2] / "dags")
if DAGS not in sys.path:
    sys.path.insert(0, DAGS)

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="newswatch-airflow-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
