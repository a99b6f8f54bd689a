#!/usr/bin/env bash
# `npm run bench:routing`: the session-aware routing benchmark. Takes the shared benchmark lock
# (/tmp/tollbooth-bench.lock, so it never measures at the same time as `npm run bench`), builds,
# runs the routing-decision micro-benchmark, then starts 4 simulator replicas (prefix cache on,
# cached-token reporting on) and one gateway per routing variant, identical except
# `routing.strategy` (session, round-robin, least-loaded; plus session with capacityFactor 2 as a
# labelled extra), and a fifth session gateway for the failover scenario, all on loopback free
# ports; the orchestrator (dist/test/bench/routing-bench.js) drives the load and writes the report.
# Every process started here is stopped on exit, however the script ends.
#
# Knobs (environment): ROUTING_CONVERSATIONS (100 per variant per round), ROUTING_ROUNDS (2),
# ROUTING_TURNS (6), ROUTING_CONCURRENCY (32), ROUTING_FAILOVER (1; 0 skips the scenario),
# ROUTING_EXTRA_CF (2; empty skips the capacityFactor variant), ROUTING_SKIP_BUILD (1: use dist/ as is).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

if [[ -z "${TOLLBOOTH_BENCH_LOCKED:-}" ]]; then
  TOLLBOOTH_BENCH_LOCKED=1 exec flock /tmp/tollbooth-bench.lock bash "$0" "$@"
fi

[[ -n "${ROUTING_SKIP_BUILD:-}" ]] || npm run --silent build

WORK_PREFIX=tollbooth-routing-bench
# shellcheck source=processes.sh
source "$ROOT/test/bench/processes.sh"

# --- the routing decision micro-benchmark first, on a quiet machine (compiled by the build above).
node dist/test/bench/routing-decision-bench.js | tee "$WORK/decision.txt" >&2

# --- 4 simulator replicas.
SIM_DESC='prefillBaseMs 5, prefillPerTokenMs 0.1 (uncached tokens), interTokenMs 8, 24–48 output tokens, maxRunning 16, prefix cache 4096 × 16-token blocks, reportCachedTokens'
cat >"$WORK/sim.yaml" <<YAML
prefillBaseMs: 5
prefillPerTokenMs: 0.1
interTokenMs: 8
outputTokens: { min: 24, max: 48 }
maxRunning: 16
maxModelLen: 16384
prefixCache: { enabled: true, blockTokens: 16, capacityBlocks: 4096 }
reportCachedTokens: true
truthCapacity: 1000
YAML
SIMS=""
REPLICAS_YAML=""
for i in 0 1 2 3; do
  port=$(free_port)
  node dist/src/cli/tollbooth.js sim --config "$WORK/sim.yaml" --port "$port" --seed "$((i + 1))" >"$WORK/sim-$i.log" 2>&1 &
  PIDS+=("$!")
  SIMS+="${SIMS:+,}{\"name\":\"r$i\",\"url\":\"http://127.0.0.1:$port\",\"pid\":$!}"
  REPLICAS_YAML+="  - { name: r$i, url: 'http://127.0.0.1:$port', models: [tollbooth-sim-model] }"$'\n'
  wait_ready "http://127.0.0.1:$port/health"
done

# --- gateways: identical except the routing block; access log (stdout) to /dev/null; auth off
# (routing is measured here; `npm run bench:admission` measures auth and limits).
GATEWAYS=""
start_gateway() { # name routing-yaml → GATEWAY_URL, ADMIN_URL
  local name=$1 routing=$2 port admin_port
  port=$(free_port)
  admin_port=$(free_port)
  cat >"$WORK/$name.yaml" <<YAML
server: { host: 127.0.0.1, port: $port }
auth: { enabled: false }
replicas:
$REPLICAS_YAML
routing: $routing
YAML
  TOLLBOOTH_ADMIN_PORT=$admin_port node dist/src/cli/tollbooth.js start --config "$WORK/$name.yaml" >/dev/null 2>"$WORK/$name.err" &
  PIDS+=("$!")
  GATEWAY_URL="http://127.0.0.1:$port"
  ADMIN_URL="http://127.0.0.1:$admin_port"
  wait_ready "$GATEWAY_URL/ready"
}
add_variant() { # name strategy capacityFactor extra
  start_gateway "$1" "{ strategy: $2, capacityFactor: $3 }"
  GATEWAYS+="${GATEWAYS:+,}{\"name\":\"$1\",\"url\":\"$GATEWAY_URL\",\"adminUrl\":\"$ADMIN_URL\",\"strategy\":\"$2\",\"capacityFactor\":$3,\"extra\":$4}"
}
add_variant session session 1.25 false
add_variant round-robin round-robin 1.25 false
add_variant least-loaded least-loaded 1.25 false
if [[ -n "${ROUTING_EXTRA_CF-2}" ]]; then
  add_variant "session-cf${ROUTING_EXTRA_CF-2}" session "${ROUTING_EXTRA_CF-2}" true
fi
FAILOVER_JSON=""
if [[ "${ROUTING_FAILOVER:-1}" != 0 ]]; then
  start_gateway failover "{ strategy: session, capacityFactor: 1.25 }"
  FAILOVER_JSON="{\"url\":\"$GATEWAY_URL\",\"adminUrl\":\"$ADMIN_URL\"}"
fi

# Which gateway code was measured.
if COMMIT=$(git rev-parse --short HEAD 2>/dev/null); then
  git diff --quiet HEAD -- src && [[ -z "$(git ls-files --others --exclude-standard src)" ]] || COMMIT+=" + uncommitted src changes"
else
  COMMIT=unknown
fi
ROUTING_GIT_COMMIT="$COMMIT" ROUTING_GATEWAYS="[$GATEWAYS]" ROUTING_SIMS="[$SIMS]" ROUTING_FAILOVER="$FAILOVER_JSON" \
  ROUTING_DECISION_OUTPUT="$WORK/decision.txt" ROUTING_OUT_DIR="$ROOT/test/bench/out" ROUTING_SIM_CONFIG="$SIM_DESC" \
  node dist/test/bench/routing-bench.js
