#!/usr/bin/env bash
# Install everything newswatch needs into .venv with uv (fast), from PyPI only.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
if ! command -v uv >/dev/null 2>&1; then
  # pip into the running Python where allowed; else (a distro Python marked externally managed) into a
  # small bootstrap venv of our own
  if ! python3 -m pip install --quiet --disable-pip-version-check uv 2>/dev/null; then
    python3 -m venv var/uv-bootstrap && var/uv-bootstrap/bin/pip install --quiet uv
    export PATH="$PWD/var/uv-bootstrap/bin:$PATH"
  fi
fi
start=$(date +%s)
[ -x "$VENV/bin/python" ] || uv venv --quiet --python 3.11 "$VENV"
uv pip install --quiet --python "$VENV/bin/python" -e ".[airflow,dev,stack,web]"
echo "install: $(( $(date +%s) - start ))s ($("$VENV/bin/python" -c 'import airflow, elasticsearch; print("airflow", airflow.__version__, "· elasticsearch-py", elasticsearch.__versionstr__)'))"
