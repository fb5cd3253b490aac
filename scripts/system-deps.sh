#!/usr/bin/env bash
# Debian packages the tests drive as real peers: Chromium for the browser tests (no browser
# download), CJK fonts for the Chinese UI screenshots, docker-compose (v1, engine-less
# `config` validation of docker-compose.yml). Installed only when missing, only as root.
set -u
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -d /usr/share/fonts/opentype/noto ] || need+=(fonts-noto-cjk)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "missing system packages: ${need[*]} (install them with apt-get as root)" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || true
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 \
  || echo "apt-get install ${need[*]} failed" >&2
exit 0
