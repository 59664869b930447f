#!/usr/bin/env bash
# Headless Chromium and ChromeDriver from Debian's packages, for the tests that look at rendered pages
# (alert emails, the timeline page). A no-op when both are installed.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-browser: chromium and chromedriver are missing; run as root: apt-get install chromium chromium-driver" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
start=$(date +%s)
apt-get update -qq >/dev/null
apt-get install -y -qq chromium chromium-driver >/dev/null
echo "install-browser: $(( $(date +%s) - start ))s ($(chromium --version))"
