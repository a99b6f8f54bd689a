#!/usr/bin/env bash
# `npm run bench:peers [-- --quick]`: Tollbooth beside its peers, every one in front of the same
# simulator on loopback. Installs the peers when missing (peers/install-peers.sh), starts them, then
# runs the orchestrator (dist/test/bench/peer-bench.js), which measures them in interleaved rounds
# with the proxy benchmark's tools and writes the table, the JSON and test/bench/peers.png.
#
# Targets: direct (the simulator itself) · nginx (1 worker) · vllm-router (Rust, PyPI) ·
# node-floor (peers/node-floor.ts: node:http + one undici Pool, nothing else; what Node alone costs) ·
# tollbooth (auth with one key, memory rate limits that never limit, session routing, metrics on) ·
# tollbooth-tracing (the same, 100 % of requests traced to the minimal OTLP sink) · litellm (its
# proxy, 1 worker, master key). One API key is sent to every target (`Authorization: Bearer`):
# Tollbooth and LiteLLM check it, the others pass it on and the simulator ignores it.
#
# Quick mode (`--quick` or BENCH_QUICK=1): one short round and 200 open streams, a smoke run of a
# few minutes. Knobs (environment) otherwise: BENCH_ROUNDS (3), BENCH_WRK_SECONDS (4),
# BENCH_PACED_MS (4500), BENCH_MEMORY_STREAMS (1000), BENCH_PEERS (a comma-separated subset of the
# target names; direct is always measured).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

for arg in "$@"; do
  case $arg in
    --quick) BENCH_QUICK=1 ;;
    *) echo "unknown argument $arg (known: --quick)" >&2 && exit 2 ;;
  esac
done
if [[ "${BENCH_QUICK:-0}" == 1 ]]; then
  : "${BENCH_ROUNDS:=1}" "${BENCH_WRK_SECONDS:=2}" "${BENCH_PACED_MS:=2500}" "${BENCH_MEMORY_STREAMS:=200}"
fi
export BENCH_ROUNDS="${BENCH_ROUNDS:-3}" BENCH_WRK_SECONDS="${BENCH_WRK_SECONDS:-4}" BENCH_PACED_MS="${BENCH_PACED_MS:-4500}" BENCH_MEMORY_STREAMS="${BENCH_MEMORY_STREAMS:-1000}"
wanted() { [[ -z "${BENCH_PEERS:-}" || ",$BENCH_PEERS," == *",$1,"* ]]; }

declare -A PEER
while IFS=$'\t' read -r name command; do PEER[$name]=$command; done < <(bash test/bench/peers/install-peers.sh)
export PATH="$PATH:/usr/sbin"
npm run --silent build

WORK_PREFIX=tollbooth-peers
# shellcheck source=processes.sh
source "$ROOT/test/bench/processes.sh"
start_unpaced_simulator
SIM_URL="http://127.0.0.1:$SIM_PORT"
MODEL=tollbooth-sim-model

make_api_key

target() { # name url pid [own-ttft-metrics-url metric-name] → one BENCH_TARGETS entry
  local ttft=''
  [[ -n "${4:-}" ]] && ttft=",\"ttft\":{\"url\":\"$4\",\"metric\":\"$5\"}"
  printf '{"name":"%s","url":"%s","pid":%s%s}' "$1" "$2" "$3" "$ttft"
}
recipe() { # name argv-json url ready-path [ready-timeout-ms] → one BENCH_MEMORY_SERVERS entry (a fresh server)
  printf '{"name":"%s","argv":%s,"url":"%s","readyPath":"%s","measure":"process","readyTimeoutMs":%s}' "$1" "$2" "$3" "$4" "${5:-10000}"
}
json_argv() { node -e 'console.log(JSON.stringify(process.argv.slice(1)))' -- "$@"; }
TARGETS=$(target direct "$SIM_URL" "$SIM_PID")
MEMORY_SERVERS=()

# --- Tollbooth (write_tollbooth_config in processes.sh).
TRACING_ENV=()
# Its histograms are on the admin listener (processes.sh puts that on port 0): a known port here.
start_tollbooth() { # name [env assignments...] → GATEWAY_PORT, GATEWAY_PID, GATEWAY_ADMIN_PORT
  local name=$1
  shift
  GATEWAY_PORT=$(free_port) GATEWAY_ADMIN_PORT=$(free_port)
  write_tollbooth_config "$WORK/$name.yaml" "$GATEWAY_PORT"
  env TOLLBOOTH_ADMIN_PORT="$GATEWAY_ADMIN_PORT" "$@" node dist/src/cli/tollbooth.js start --config "$WORK/$name.yaml" >/dev/null 2>"$WORK/$name.err" &
  GATEWAY_PID=$!
  PIDS+=("$GATEWAY_PID")
  wait_ready "http://127.0.0.1:$GATEWAY_PORT/ready"
}
tollbooth_recipe() { # name [env assignments...]
  local name=$1 port
  shift
  port=$(free_port)
  write_tollbooth_config "$WORK/$name-mem.yaml" "$port"
  recipe "$name" "$(json_argv env "$@" node dist/src/cli/tollbooth.js start --config "$WORK/$name-mem.yaml")" "http://127.0.0.1:$port" /ready
}
if wanted tollbooth; then
  start_tollbooth tollbooth
  TARGETS+=,$(target tollbooth "http://127.0.0.1:$GATEWAY_PORT" "$GATEWAY_PID" "http://127.0.0.1:$GATEWAY_ADMIN_PORT/metrics" tollbooth_time_to_first_token_seconds)
  MEMORY_SERVERS+=("$(tollbooth_recipe tollbooth)")
fi
if wanted tollbooth-tracing; then
  SINK_PORT=$(free_port)
  node dist/test/bench/otlp-sink.js "$SINK_PORT" >/dev/null &
  SINK_PID=$!
  PIDS+=("$SINK_PID")
  wait_ready "http://127.0.0.1:$SINK_PORT/spans"
  TRACING_ENV=(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$SINK_PORT" OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf OTEL_TRACES_SAMPLER=always_on OTEL_SERVICE_NAME=tollbooth-peers)
  start_tollbooth tollbooth-tracing "${TRACING_ENV[@]}"
  TARGETS+=,$(target tollbooth-tracing "http://127.0.0.1:$GATEWAY_PORT" "$GATEWAY_PID" "http://127.0.0.1:$GATEWAY_ADMIN_PORT/metrics" tollbooth_time_to_first_token_seconds)
  MEMORY_SERVERS+=("$(tollbooth_recipe tollbooth-tracing "${TRACING_ENV[@]}")")
fi

# --- nginx (processes.sh): the reference proxy.
if wanted nginx; then
  start_nginx "$WORK/nginx"
  TARGETS+=,$(target nginx "http://127.0.0.1:$NGINX_PORT" "$NGINX_WORKER")
  port=$(free_port)
  write_nginx_config "$WORK/nginx-mem" "$port"
  MEMORY_SERVERS+=("$(recipe nginx "$(nginx_argv "$WORK/nginx-mem")" "http://127.0.0.1:$port" /health | sed 's/"measure":"process"/"measure":"first-child"/')")
fi

# --- The Node floor: the cheapest reverse proxy Node can be, the reference for Tollbooth's costs.
# Its /health is the simulator's, passed through (as nginx's).
floor_argv() { # port
  json_argv node dist/test/bench/peers/node-floor.js --port "$1" --upstream "$SIM_URL"
}
if wanted node-floor; then
  port=$(free_port)
  node dist/test/bench/peers/node-floor.js --port "$port" --upstream "$SIM_URL" >/dev/null 2>"$WORK/node-floor.err" &
  FLOOR_PID=$!
  PIDS+=("$FLOOR_PID")
  wait_ready "http://127.0.0.1:$port/health"
  TARGETS+=,$(target node-floor "http://127.0.0.1:$port" "$FLOOR_PID")
  port=$(free_port)
  MEMORY_SERVERS+=("$(recipe node-floor "$(floor_argv "$port")" "http://127.0.0.1:$port" /health)")
fi

# --- vllm-router: consistent hashing (its session affinity); its Prometheus listener times each
# request until the upstream's response headers, which for a stream is not the first token.
router_argv() { # port prometheus-port
  json_argv "${PEER[vllm-router]}" --host 127.0.0.1 --port "$1" --worker-urls "$SIM_URL" --policy consistent_hash --prometheus-port "$2"
}
if wanted vllm-router; then
  port=$(free_port) prometheus_port=$(free_port)
  "${PEER[vllm-router]}" --host 127.0.0.1 --port "$port" --worker-urls "$SIM_URL" --policy consistent_hash --prometheus-port "$prometheus_port" >"$WORK/vllm-router.log" 2>&1 &
  ROUTER_PID=$!
  PIDS+=("$ROUTER_PID")
  wait_ready "http://127.0.0.1:$port/health"
  TARGETS+=,$(target vllm-router "http://127.0.0.1:$port" "$ROUTER_PID" "http://127.0.0.1:$prometheus_port/metrics" vllm_router_generate_duration_seconds)
  port=$(free_port) prometheus_port=$(free_port)
  MEMORY_SERVERS+=("$(recipe vllm-router "$(router_argv "$port" "$prometheus_port")" "http://127.0.0.1:$port" /health)")
fi

# --- LiteLLM: the simulator as a hosted vLLM model. The client's x-sim-* headers reach it only with
# general_settings.forward_client_headers_to_llm_api (under litellm_settings it is ignored, and
# every request would get the simulator's default length and pacing). Its Prometheus callback
# gives its own TTFT (litellm_llm_api_time_to_first_token_metric, at /metrics/).
write_litellm_config() { # file
  cat >"$1" <<YAML
model_list:
  - model_name: $MODEL
    litellm_params:
      model: hosted_vllm/$MODEL
      api_base: $SIM_URL/v1
general_settings:
  master_key: "$API_KEY"
  forward_client_headers_to_llm_api: true
litellm_settings:
  callbacks: ["prometheus"]
YAML
}
# Its bundled price list instead of a download at every start; its log (one line per request) to a file.
litellm_argv() { # port log
  json_argv sh -c 'log=$1; shift; exec env LITELLM_LOCAL_MODEL_COST_MAP=True "$@" >>"$log" 2>&1' litellm "$2" \
    "${PEER[litellm]}" --config "$WORK/litellm.yaml" --host 127.0.0.1 --port "$1" --num_workers 1
}
if wanted litellm; then
  write_litellm_config "$WORK/litellm.yaml"
  port=$(free_port)
  LITELLM_LOCAL_MODEL_COST_MAP=True "${PEER[litellm]}" --config "$WORK/litellm.yaml" --host 127.0.0.1 --port "$port" --num_workers 1 >"$WORK/litellm.log" 2>&1 &
  LITELLM_PID=$!
  PIDS+=("$LITELLM_PID")
  wait_ready "http://127.0.0.1:$port/health/liveliness" 120
  TARGETS+=,$(target litellm "http://127.0.0.1:$port" "$LITELLM_PID" "http://127.0.0.1:$port/metrics/" litellm_llm_api_time_to_first_token_metric)
  port=$(free_port)
  MEMORY_SERVERS+=("$(recipe litellm "$(litellm_argv "$port" "$WORK/litellm-mem.log")" "http://127.0.0.1:$port" /health/liveliness 120000)")
fi

if COMMIT=$(git rev-parse --short HEAD 2>/dev/null); then
  git diff --quiet HEAD -- src || COMMIT+=" + uncommitted src changes"
else
  COMMIT=unknown
fi
versions=$(printf '{"nginx":"%s","vllm-router":"%s","litellm":"%s","wrk":"%s"}' \
  "$(nginx -v 2>&1 | sed 's|.*/||')" "$("${PEER[vllm-router]%/*}/pip" show vllm-router 2>/dev/null | awk '/^Version/{print $2}')" \
  "$("${PEER[litellm]%/*}/pip" show litellm 2>/dev/null | awk '/^Version/{print $2}')" "$(wrk -v 2>&1 | head -1 | cut -d' ' -f2)")
MEMORY_JSON=$(IFS=,; echo "[${MEMORY_SERVERS[*]}]")
BENCH_TARGETS="[$TARGETS]" BENCH_HELPER_PIDS="${SINK_PID:-}" BENCH_MEMORY_SERVERS="$MEMORY_JSON" BENCH_PID_FILE="$PID_FILE" BENCH_SIM_PID=$SIM_PID \
  BENCH_WORK=$WORK BENCH_OUT_DIR="$ROOT/test/bench/out" BENCH_CHART="$ROOT/test/bench/peers.png" BENCH_API_KEY="$API_KEY" \
  BENCH_VERSIONS="$versions" BENCH_NPROC=$(nproc) BENCH_GIT_COMMIT="$COMMIT" BENCH_QUICK="${BENCH_QUICK:-0}" \
  node dist/test/bench/peer-bench.js
