#!/usr/bin/env bash
# `make test`: unit, DAG, hostile-server, integration and end-to-end tests. The integration fixtures start
# a real Elasticsearch (from Maven Central, cached outside the repo) on 127.0.0.1:9250, a real SMTP server
# and the sample site, and stop what they started.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-tools.sh
export NEWSWATCH_TEST_ES_URL=${NEWSWATCH_TEST_ES_URL:-http://127.0.0.1:9250}
was_running=$(.venv/bin/python -c 'import os; from newswatch.settings import Settings, ElasticsearchSettings; from newswatch.localstack.services import es_healthy; print(1 if es_healthy(Settings(es=ElasticsearchSettings(url=os.environ["NEWSWATCH_TEST_ES_URL"]))) else 0)')
cleanup() {
  if [ "$was_running" = 0 ]; then
    NEWSWATCH_ES__URL=$NEWSWATCH_TEST_ES_URL .venv/bin/newswatch stack down --services es >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT
start=$(date +%s)
.venv/bin/python -m pytest tests -ra --durations=10 -p no:cacheprovider "$@"
echo "make test: $(( $(date +%s) - start ))s"
