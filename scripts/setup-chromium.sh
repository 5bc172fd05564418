#!/usr/bin/env bash
# Installs Debian's `chromium` package when /usr/bin/chromium is missing, for the report's
# headless-browser test (tests/it/report.rs). Non-interactive and quiet; does nothing when
# chromium is already there. Needs root (or sudo) and apt-get; elsewhere it says what to do.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "setup-chromium: apt-get not found; install Chromium so that /usr/bin/chromium exists" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then
    sudo="sudo"
  else
    echo "setup-chromium: run as root (or install sudo) to install chromium" >&2
    exit 1
  fi
fi
echo "setup-chromium: installing chromium (Debian package)"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
if [ ! -x /usr/bin/chromium ]; then
  echo "setup-chromium: the chromium package did not provide /usr/bin/chromium" >&2
  exit 1
fi
