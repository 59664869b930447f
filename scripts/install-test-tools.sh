#!/usr/bin/env bash
# Debian packages the tests use: headless Chromium and ChromeDriver (the tests that look at rendered pages:
# alert emails) and docker-compose (validates docker/docker-compose.yml; no Docker engine is needed for
# `config`). A no-op when all are installed.
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
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
