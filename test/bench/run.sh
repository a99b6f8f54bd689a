#!/usr/bin/env bash
# `npm run bench`: the proxy benchmark. Starts the vLLM simulator, Tollbooth and nginx (the
# reference proxy) as separate processes on free loopback ports, then runs the orchestrator
# (dist/test/bench/run-proxy-bench.js), which measures direct / tollbooth / tollbooth-off (metrics
# disabled) / nginx side by side, plus the gateway's timing accuracy against the simulator's truth.
# Every server started here is stopped on exit, however the script ends.
#
# Knobs (environment): BENCH_ROUNDS (3), BENCH_WRK_SECONDS (8), BENCH_PACED_MS (4500),
# BENCH_MEMORY_STREAMS (1000), BENCH_NODE_FLAGS: when set, a second gateway started with these
# node flags (e.g. --max-semi-space-size=32) joins as target "tollbooth-flags" for the c=1
# non-streaming and the paced-stream scenarios.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

ensure_tools() {
  local missing=()
  command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
  command -v wrk >/dev/null || missing+=(wrk)
  ((${#missing[@]} == 0)) && return
  echo "installing ${missing[*]}" >&2
  apt-get install -y "${missing[@]}" >/dev/null || { apt-get update >/dev/null && apt-get install -y "${missing[@]}" >/dev/null; }
}
ensure_tools
export PATH="$PATH:/usr/sbin"

npm run --silent build

WORK_PREFIX=tollbooth-bench
# shellcheck source=processes.sh
source "$ROOT/test/bench/processes.sh"

# --- simulator: unpaced, zero prefill, 16 tokens unless a request's x-sim-* headers say otherwise.
start_unpaced_simulator

# --- Tollbooth: one replica, defaults otherwise (access log on; stdout, hence the log, to /dev/null),
# except auth, which is off: this is the proxy path; `npm run bench:admission` measures auth and limits.
# METRICS_OFF is the instrumentation-off variant: `metrics.enabled: false` (no stream tap, no usage
# injection, no Prometheus, no cost; a plain relay with the short access-log line).
METRICS_OFF='metrics: { enabled: false }'
write_gateway_config() { # name port [extra yaml line]
  cat >"$WORK/$1.yaml" <<YAML
server: { host: 127.0.0.1, port: $2 }
auth: { enabled: false }
replicas:
  - name: sim
    url: http://127.0.0.1:$SIM_PORT
    models: [tollbooth-sim-model]
${3:-}
YAML
}
start_gateway() { # name stdout-file extra-yaml node-flags...
  local name=$1 stdout=$2 extra=$3
  shift 3
  GATEWAY_PORT=$(free_port)
  write_gateway_config "$name" "$GATEWAY_PORT" "$extra"
  node "$@" dist/src/cli/tollbooth.js start --config "$WORK/$name.yaml" >"$stdout" 2>"$WORK/$name.err" &
  GATEWAY_PID=$!
  PIDS+=("$GATEWAY_PID")
  wait_ready "http://127.0.0.1:$GATEWAY_PORT/ready"
}
start_gateway tollbooth /dev/null ''
TARGETS="{\"name\":\"direct\",\"url\":\"http://127.0.0.1:$SIM_PORT\",\"pid\":$SIM_PID}"
TARGETS+=",{\"name\":\"tollbooth\",\"url\":\"http://127.0.0.1:$GATEWAY_PORT\",\"pid\":$GATEWAY_PID}"
start_gateway tollbooth-off /dev/null "$METRICS_OFF"
TARGETS+=",{\"name\":\"tollbooth-off\",\"url\":\"http://127.0.0.1:$GATEWAY_PORT\",\"pid\":$GATEWAY_PID}"
if [[ -n "${BENCH_NODE_FLAGS:-}" ]]; then
  # shellcheck disable=SC2086 # the flags are a list
  start_gateway tollbooth-flags /dev/null '' $BENCH_NODE_FLAGS
  TARGETS+=",{\"name\":\"tollbooth-flags\",\"url\":\"http://127.0.0.1:$GATEWAY_PORT\",\"pid\":$GATEWAY_PID}"
fi
# The accuracy scenario's gateway: default settings like `tollbooth`, but its stdout (the access
# log, whose ttft_ms / tpot_ms / output_tokens are checked) goes to a file. Only that scenario
# sends it traffic, so the throughput targets keep writing their log to /dev/null.
ACCURACY_LOG="$WORK/accuracy-access.log"
start_gateway tollbooth-accuracy "$ACCURACY_LOG" ''
ACCURACY="{\"url\":\"http://127.0.0.1:$GATEWAY_PORT\",\"pid\":$GATEWAY_PID,\"log\":\"$ACCURACY_LOG\"}"

# --- nginx: 1 worker, no response buffering, HTTP/1.1 keep-alive upstream, no access log.
start_nginx "$WORK/nginx"
TARGETS+=",{\"name\":\"nginx\",\"url\":\"http://127.0.0.1:$NGINX_PORT\",\"pid\":$NGINX_WORKER}"

# --- The memory scenario starts a fresh gateway and nginx each round (see fresh-server.ts).
gateway_recipe() { # target-name config-name port
  printf '{"name":"%s","argv":["node","dist/src/cli/tollbooth.js","start","--config","%s"],"url":"http://127.0.0.1:%s","readyPath":"/ready","measure":"process"}' \
    "$1" "$WORK/$2.yaml" "$3"
}
MEM_GATEWAY_PORT=$(free_port)
write_gateway_config tollbooth-mem "$MEM_GATEWAY_PORT"
MEM_OFF_PORT=$(free_port)
write_gateway_config tollbooth-off-mem "$MEM_OFF_PORT" "$METRICS_OFF"
MEM_NGINX_PORT=$(free_port)
write_nginx_config "$WORK/nginx-mem" "$MEM_NGINX_PORT"
MEMORY_SERVERS="[$(gateway_recipe tollbooth tollbooth-mem "$MEM_GATEWAY_PORT"),$(gateway_recipe tollbooth-off tollbooth-off-mem "$MEM_OFF_PORT")"
MEMORY_SERVERS+=",{\"name\":\"nginx\",\"argv\":$(nginx_argv "$WORK/nginx-mem"),\"url\":\"http://127.0.0.1:$MEM_NGINX_PORT\",\"readyPath\":\"/health\",\"measure\":\"first-child\"}]"

# Which gateway code was measured.
if COMMIT=$(git rev-parse --short HEAD 2>/dev/null); then
  git diff --quiet HEAD -- src || COMMIT+=" + uncommitted src changes"
else
  COMMIT=unknown
fi
BENCH_TARGETS="[$TARGETS]" BENCH_ACCURACY="$ACCURACY" BENCH_MEMORY_SERVERS="$MEMORY_SERVERS" BENCH_PID_FILE="$PID_FILE" \
  BENCH_SIM_PID=$SIM_PID BENCH_WORK=$WORK BENCH_OUT_DIR="$ROOT/test/bench/out" \
  BENCH_NPROC=$(nproc) BENCH_NGINX_VERSION="$(nginx -v 2>&1)" BENCH_WRK_VERSION="$(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)" \
  BENCH_GIT_COMMIT="$COMMIT" \
  node dist/test/bench/run-proxy-bench.js
