#!/usr/bin/env bash
# `make bench`: every benchmark in bench/, each printing ratios against a bare baseline of the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results
for b in bench/bench_*.py; do
  echo "== $b"
  .venv/bin/python "$b"
done
