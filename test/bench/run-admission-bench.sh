#!/usr/bin/env bash
# `npm run bench:admission`: what API-key auth plus rate limits add to a request (issue 4). Takes the
# shared benchmark lock (/tmp/tollbooth-bench.lock), builds, and runs the orchestrator
# (dist/test/bench/admission-bench.js), which starts a redis-server, the simulator and three
# gateways (auth off / limits in memory / limits in Redis) on free loopback ports, measures them
# interleaved, and stops them all however it ends. Arguments go to the orchestrator
# (--rounds 5 --seconds 5 --connections 32; or `profile --profile-dir DIR`).
#
# Knobs (environment): ADMISSION_SKIP_BUILD (1: use dist/ as is).
set -euo pipefail
cd "$(dirname "$0")/../.."

if [[ -z "${TOLLBOOTH_BENCH_LOCKED:-}" ]]; then
  TOLLBOOTH_BENCH_LOCKED=1 exec flock /tmp/tollbooth-bench.lock bash "$0" "$@"
fi

command -v wrk >/dev/null || { echo "wrk is missing (apt-get install wrk)" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "redis-server is missing (apt-get install redis-server)" >&2; exit 1; }
[[ -n "${ADMISSION_SKIP_BUILD:-}" ]] || npm run --silent build

# Which gateway code was measured.
if COMMIT=$(git rev-parse --short HEAD 2>/dev/null); then
  git diff --quiet HEAD -- src && [[ -z "$(git ls-files --others --exclude-standard src)" ]] || COMMIT+=" + uncommitted src changes"
else
  COMMIT=unknown
fi
ulimit -n 65536 2>/dev/null || true
ADMISSION_GIT_COMMIT="$COMMIT" node dist/test/bench/admission-bench.js "$@"
