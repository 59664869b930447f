#!/usr/bin/env bash
# `make demo`: the whole stack on the bundled offline sample news site.
# `make run`:  the same on the real feeds in config/feeds.yaml.
# Starts Elasticsearch, the SMTP sink, (the sample site) and Airflow; runs the poll DAG (which triggers the
# alert DAG through its Asset); prints the Airflow UI address and login, a timeline and where the mail is.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-demo}
NW=.venv/bin/newswatch
export NEWSWATCH_VAR_DIR=${NEWSWATCH_VAR_DIR:-$PWD/var}
if [ "$mode" = demo ]; then
  export NEWSWATCH_FEEDS_FILE=${NEWSWATCH_FEEDS_FILE:-$PWD/config/feeds.demo.yaml}
  # the sample site only: its port, not every loopback port (Elasticsearch listens on loopback too)
  export NEWSWATCH_ALLOWED_NETWORKS=${NEWSWATCH_ALLOWED_NETWORKS:-127.0.0.1:${NEWSWATCH_DEMO_PORT:-8765}}
  export NEWSWATCH_FETCH__MIN_HOST_GAP=${NEWSWATCH_FETCH__MIN_HOST_GAP:-0}  # our own local site
  services=es,mail,site,airflow
else
  export NEWSWATCH_FEEDS_FILE=${NEWSWATCH_FEEDS_FILE:-$PWD/config/feeds.yaml}
  services=es,mail,airflow
fi
start=$(date +%s)
$NW stack up --services "$services"
$NW init --json >/dev/null
.venv/bin/python scripts/run_dags.py --timeout "${NEWSWATCH_DEMO_TIMEOUT:-480}"
echo
echo "== Timeline: 'Kursk' (core and related) =="
$NW timeline Kursk --level core --level related --interval month --top 5
echo
echo "== Alert emails =="
$NW mail list
echo
pw=$(.venv/bin/python -c 'from newswatch.settings import Settings; from newswatch.localstack.services import airflow_password; print(airflow_password(Settings()))')
port=${NEWSWATCH_AIRFLOW_PORT:-8080}
cat <<MSG
== newswatch is running ($mode, $(( $(date +%s) - start ))s) ==
  Airflow UI:     http://127.0.0.1:$port   login: admin / $pw
  Elasticsearch:  ${NEWSWATCH_ES__URL:-http://127.0.0.1:9200}
  Alert emails:   $NEWSWATCH_VAR_DIR/mail/   (newswatch mail list)
  Try:            .venv/bin/newswatch timeline "North Korean troops" --interval week
                  .venv/bin/newswatch claims
                  .venv/bin/newswatch feeds status
  Stop:           make stop
MSG
