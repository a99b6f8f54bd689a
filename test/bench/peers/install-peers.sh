#!/usr/bin/env bash
# Installs the peers `npm run bench:peers` measures Tollbooth against, once, pinned, from the
# registries this project reaches, and prints `name<TAB>command` lines for run-peers.sh:
#   nginx         Debian's package (the reference proxy); wrk and chromium (the chart) too when missing
#   vllm-router   PyPI vllm-router (the Rust router of the vLLM project), in a cached venv
#   litellm       PyPI litellm[proxy] (the LiteLLM proxy server), in the same venv, with
#                 prometheus-client so that its Prometheus callback (its own TTFT figure) loads
#
#   TOLLBOOTH_CACHE_DIR   where the venv lives (default ~/.cache/tollbooth)
# The first install takes about 3 minutes; later runs only compare the pinned list with the venv's stamp.
set -euo pipefail

VLLM_ROUTER_VERSION=0.1.17
LITELLM_VERSION=1.108.0
REQUIREMENTS=("vllm-router==$VLLM_ROUTER_VERSION" "litellm[proxy]==$LITELLM_VERSION" "prometheus-client==0.26.0")
cache_dir="${TOLLBOOTH_CACHE_DIR:-$HOME/.cache/tollbooth}"
venv="$cache_dir/peers-vllm-router-$VLLM_ROUTER_VERSION-litellm-$LITELLM_VERSION"

debian_install() { # packages...
  local sudo_cmd=
  [ "$(id -u)" -ne 0 ] && sudo_cmd=sudo
  echo "installing $* from Debian's packages" >&2
  $sudo_cmd apt-get install -y --no-install-recommends "$@" >/dev/null 2>&1 ||
    { $sudo_cmd apt-get update >/dev/null && $sudo_cmd apt-get install -y --no-install-recommends "$@" >/dev/null; }
}
# chromium draws the chart at the end of the run: missing, the run would fail after all its rounds.
missing=()
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
command -v wrk >/dev/null || missing+=(wrk)
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
((${#missing[@]} == 0)) || debian_install "${missing[@]}"

mkdir -p "$cache_dir"
exec 9>"$venv.lock"
flock 9
stamp="$venv/tollbooth-requirements.txt"
wanted=$(printf '%s\n' "${REQUIREMENTS[@]}")
if [[ ! -x "$venv/bin/pip" ]]; then
  rm -rf "$venv"
  # Debian splits venv (with its pip) out of python3.
  python3 -m venv "$venv" 2>/dev/null || {
    rm -rf "$venv"
    debian_install python3-venv
    python3 -m venv "$venv"
  }
fi
if [[ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]]; then
  started=$(date +%s)
  # pip installs only what the venv lacks: a new pin costs its own download, not the whole set's.
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${REQUIREMENTS[@]}" >&2
  printf '%s\n' "$wanted" >"$stamp"
  echo "peers installed into $venv in $(($(date +%s) - started)) s" >&2
fi

printf 'nginx\t%s\n' "$(command -v nginx || echo /usr/sbin/nginx)"
printf 'vllm-router\t%s\n' "$venv/bin/vllm-router"
printf 'litellm\t%s\n' "$venv/bin/litellm"
