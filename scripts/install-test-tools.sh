#!/usr/bin/env bash
# Debian packages the tests use: headless Chromium and ChromeDriver (the tests that look at rendered pages:
# alert emails), docker-compose (validates docker/docker-compose.yml; no Docker engine is needed for
# `config`), and PostgreSQL and Redis (the CeleryExecutor end-to-end test: metadata database and result
# backend, broker). Only the binaries are used: the tests start their own servers on free loopback ports as
# an unprivileged user (newswatch.localstack.pgredis), never the distro services. A no-op when all are
# installed.
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
# Debian keeps the server tools (initdb, pg_ctl) off PATH, in /usr/lib/postgresql/<version>/bin
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "install-test-tools: missing ${missing[*]}; run as root: apt-get install ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
start=$(date +%s)
apt-get update -qq >/dev/null
apt-get install -y -qq "${missing[@]}" >/dev/null
echo "install-test-tools: ${missing[*]} in $(( $(date +%s) - start ))s"
