#!/usr/bin/env bash
# Installs Debian's chromium when it is missing (browser tests need /usr/bin/chromium).
set -euo pipefail
[ -x /usr/bin/chromium ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "[ensure-chromium] /usr/bin/chromium missing and apt-get not usable as root" >&2
  exit 1
fi
echo "[ensure-chromium] installing Debian's chromium (about a minute)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq chromium >/dev/null
