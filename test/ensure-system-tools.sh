#!/usr/bin/env bash
# Installs, from Debian's packages, the real tools the tests run against when they are missing:
#   promtool (package prometheus)        checks our Prometheus exposition, rules and rule tests
#   amtool (package prometheus-alertmanager)  checks the Alertmanager config and its routes
#   redis-server (package redis-server)  the shared store of rate limits and keys
#   tmux (package tmux)                  the real terminal `tollbooth top` is tested in
#   chromium (package chromium)          the real browser of the dashboard test and the screenshots (playwright-core)
#   DejaVu Sans Mono (fonts-dejavu-core) the monospace font of the `tollbooth top` screenshot
#   openssl (package openssl)            the CAs and certificates of the admin listener's mTLS test
set -euo pipefail

missing=()
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v amtool >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf ] || missing+=(fonts-dejavu-core)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
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
