#!/usr/bin/env bash
# `npm run bench:profile [-- MODE]`: the gateway as the peer benchmark runs it (auth, memory rate
# limits, session routing, metrics; write_tollbooth_config in processes.sh) in front of the unpaced
# simulator, under the peer benchmark's loads. Takes the bench lock, builds, and runs the
# orchestrator (dist/test/bench/profile-gateway.js).
#
#   profile (default)  one fresh gateway per load under `node --cpu-prof` (and --trace-gc): the top
#                      self and inclusive shares (cpu-profile-summary.ts), GC pauses, CPU per unit
#   ab BASE_DIR        the build in BASE_DIR (a checkout with dist/ and node_modules/, e.g. a
#                      `git worktree` of main, built) beside this one, interleaved rounds: CPU µs per
#                      request and ms per stream from /proc, paired per round
#
# Loads (PROFILE_LOADS, comma-separated): c32 (non-streaming chat of 16 tokens, wrk -c32), paced10 and
# paced100 (10 or 100 concurrent streams of 64 chunks 20 ms apart); in ab mode also open1000 (RSS per
# open stream, 1000 held open, a fresh gateway each time). Knobs (environment):
# PROFILE_SECONDS (10 per load in profile mode, 3 per measurement in ab mode), AB_ROUNDS (10),
# NODE_FLAGS (node flags of this build's gateway, e.g. --max-semi-space-size=32; with BASE_DIR=. an
# A/B of the flag alone), PROFILE_DIR (where profiles and GC logs go; test/bench/out/profile-<time>).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
if [[ -z "${TOLLBOOTH_BENCH_LOCKED:-}" ]]; then
  TOLLBOOTH_BENCH_LOCKED=1 exec flock /tmp/tollbooth-bench.lock bash "$0" "$@"
fi
MODE=${1:-profile}
BASE_DIR=${2:-}
case $MODE in
  profile) ;;
  ab) [[ -f "$BASE_DIR/dist/src/cli/tollbooth.js" ]] || { echo "ab needs BASE_DIR with a built dist/ (got '${BASE_DIR}')" >&2; exit 2; } ;;
  *) echo "unknown mode $MODE (profile or ab BASE_DIR)" >&2; exit 2 ;;
esac
command -v wrk >/dev/null || { echo "wrk is missing (apt-get install wrk)" >&2; exit 1; }
npm run --silent build

WORK_PREFIX=tollbooth-profile
# shellcheck source=processes.sh
source "$ROOT/test/bench/processes.sh"
start_unpaced_simulator
SIM_URL="http://127.0.0.1:$SIM_PORT"
MODEL=tollbooth-sim-model
make_api_key

gateway() { # name build-dir node-flags → one BENCH_GATEWAYS entry (its own ports and configs: the
  # memory load starts a fresh process beside the long-lived one)
  local port memory_port
  port=$(free_port) memory_port=$(free_port)
  write_tollbooth_config "$WORK/$1.yaml" "$port"
  write_tollbooth_config "$WORK/$1-memory.yaml" "$memory_port"
  printf '{"name":"%s","cli":"%s","config":"%s","url":"http://127.0.0.1:%s","memoryConfig":"%s","memoryUrl":"http://127.0.0.1:%s","nodeFlags":%s}' \
    "$1" "$2/dist/src/cli/tollbooth.js" "$WORK/$1.yaml" "$port" "$WORK/$1-memory.yaml" "$memory_port" \
    "$(node -e 'console.log(JSON.stringify(process.argv.slice(1)))' -- ${3:-})"
}
GATEWAYS=$(gateway current "$ROOT" "${NODE_FLAGS:-}")
[[ $MODE == ab ]] && GATEWAYS="$(gateway base "$(cd "$BASE_DIR" && pwd)" ''),$GATEWAYS"

BENCH_MODE=$MODE BENCH_GATEWAYS="[$GATEWAYS]" BENCH_SIM_PID=$SIM_PID BENCH_PID_FILE="$PID_FILE" BENCH_WORK=$WORK BENCH_API_KEY="$API_KEY" \
  BENCH_PROFILE_DIR="${PROFILE_DIR:-$ROOT/test/bench/out/profile-$(date -u +%Y%m%dT%H%M%S)}" \
  node dist/test/bench/profile-gateway.js
