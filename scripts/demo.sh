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
# alert emails link each story to the timeline page of this Airflow
export NEWSWATCH_ALERTS__TIMELINE_URL=${NEWSWATCH_ALERTS__TIMELINE_URL:-http://127.0.0.1:${NEWSWATCH_AIRFLOW_PORT:-8080}/newswatch/timeline/}
start=$(date +%s)
# A demo re-run starts from an empty demo state: its live articles are the same events each time, so over the
# last demo's state they would join the stories it already alerted and rounds 2 and 3 would send nothing.
# Only a folder that no `make run` used (its real articles are kept) and only NEWSWATCH_STAGING_URL's default.
reset=
if [ "$mode" = demo ] && [ -e "$NEWSWATCH_VAR_DIR/.demo-ran" ] && [ ! -e "$NEWSWATCH_VAR_DIR/.run-ran" ] \
    && [ -z "${NEWSWATCH_STAGING_URL:-}" ]; then
  echo "== An earlier demo ran in $NEWSWATCH_VAR_DIR: starting again from an empty demo state =="
  $NW stack down --services site,mail >/dev/null
  rm -rf "$NEWSWATCH_VAR_DIR/demosite-live" "$NEWSWATCH_VAR_DIR/mail" "$NEWSWATCH_VAR_DIR/staging"
  reset=1
fi
$NW stack up --services "$services"
if [ -n "$reset" ]; then
  .venv/bin/python -c 'from newswatch import index; from newswatch.clients import make_es
from newswatch.settings import Settings
s = Settings(); index.drop_indices(make_es(s), s)'
fi
$NW init --json >/dev/null
touch "$NEWSWATCH_VAR_DIR/.$mode-ran"
timeout=${NEWSWATCH_DEMO_TIMEOUT:-480}
echo "== Round 1: the feeds' history (first poll): one backlog digest, not one email per story =="
.venv/bin/python scripts/run_dags.py --timeout "$timeout"
if [ "$mode" = demo ]; then
  site=http://127.0.0.1:${NEWSWATCH_DEMO_PORT:-8765}
  publish() { .venv/bin/python -c "import sys; from newswatch.localstack.demosite import publish; print(publish(sys.argv[1], sys.argv[2])['url'])" "$site" "$1"; }
  echo "== Round 2: a fresh matching article appears on the sample site: one immediate email =="
  publish fresh
  .venv/bin/python scripts/run_dags.py --timeout "$timeout"
  echo "== Round 3: a second outlet (Korean) confirms it with a larger number: one follow-up in the same thread =="
  publish followup
  .venv/bin/python scripts/run_dags.py --timeout "$timeout"
  echo "== Round 4: every DAG again: nothing more is sent =="
  .venv/bin/python scripts/run_dags.py --timeout "$timeout"
  $NW digest --json
fi
echo
echo "== Timeline: 'Kursk' (core and related) =="
$NW timeline Kursk --level core --level related --interval month --stories 5 --top 0
echo
echo "== Alert emails =="
$NW mail list
echo
$NW alerts stats
echo
pw=$(.venv/bin/python -c 'from newswatch.settings import Settings; from newswatch.localstack.services import airflow_password; print(airflow_password(Settings()))')
port=${NEWSWATCH_AIRFLOW_PORT:-8080}
cat <<MSG
== newswatch is running ($mode, $(( $(date +%s) - start ))s) ==
  Airflow UI:     http://127.0.0.1:$port   login: admin / $pw
  Timeline page:  http://127.0.0.1:$port/newswatch/timeline/   (also "Timeline" in the Airflow UI's menu)
  Elasticsearch:  ${NEWSWATCH_ES__URL:-http://127.0.0.1:9200}
  Alert emails:   $NEWSWATCH_VAR_DIR/mail/   (newswatch mail list)
  Try:            .venv/bin/newswatch timeline "North Korean troops" --interval week
                  .venv/bin/newswatch claims
                  .venv/bin/newswatch feeds status
  Stop:           make stop
MSG
