#!/usr/bin/env bash
# Installs, from Debian's packages, the real tools the tests run against when they are missing:
#   promtool (package prometheus)        checks our Prometheus exposition, rules and rule tests
#   amtool (package prometheus-alertmanager)  checks the Alertmanager config and its routes
#   redis-server (package redis-server)  the shared store of rate limits and keys
#   chromium (package chromium)          the real browser the live dashboard's test drives (playwright-core)
set -euo pipefail

missing=()
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v amtool >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  sudo_cmd=sudo
else
  sudo_cmd=
fi
echo "installing test tools: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have no package lists yet: update once when the first try fails.
$sudo_cmd apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
  || { $sudo_cmd apt-get update >/dev/null && $sudo_cmd apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; }
