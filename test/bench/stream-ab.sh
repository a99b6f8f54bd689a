#!/usr/bin/env bash
# `npm run bench:stream-ab`: the issue-3 A/B in one run. Gateway variants side by side in front of
# one unpaced simulator, streaming 64 chunks at wrk -c32, rounds interleaved (the order reverses
# every other round); prints each variant's streams/s and gateway CPU per stream per round, then
# the medians and every variant's ratio to `off`.
#
#   on                   the defaults: stream tap, usage injection and stripping, metrics, statistics
#   no-usage-request     on, but without asking vLLM for the usage event (metrics.requestStreamUsage: false)
#   off                  metrics.enabled: false, a plain relay (the bar's "instrumentation off")
#   base                 only when BASE_DIR is set: the `on` defaults of another build (e.g. a git
#                        archive of an older commit, built, with node_modules) for an old-vs-new A/B
#
# PAIR=analytics instead compares `analytics` (the defaults: anomaly detection, capacity planning,
# built-in alerts) with `no-analytics` (those three disabled), issue 21's "no per-request cost".
# PAIR=guardrails compares `on` (this build; guardrails are off by default) with `base`, the build
# of PRE_GUARDRAILS_COMMIT built once by base-build.sh: issue 25's "guardrails off: within noise of
# today's build". Both run a second process of the baseline (`-twin`): what two identical gateways
# differ by is the benchmark's noise, beside the 95 % interval of the median paired ratio.
#
# Usage: npm run bench:stream-ab -- [ROUNDS=30] [SECONDS=1]. CPU per stream (from /proc) is the steadier
# figure on a shared machine: throughput also moves with whatever else runs on the two cores.
# SCENARIO=chat16 sends non-streaming chats of 16 tokens instead (the proxy benchmark's request),
# for an old-vs-new A/B of what every request pays; the issue-3 bar is judged on streams only.
set -euo pipefail
cd "$(dirname "$0")/../.."
# Many short rounds: on this shared host, 8-12 rounds of 4-5 s did not show a known 10 us of CPU
# per request added on purpose; 40 rounds of 1 s did (test/bench/RESULTS.md, "How the benchmarks measure").
ROUNDS=${1:-30}
SECONDS_PER_RUN=${2:-1}
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }
npm run --silent build

WORK_PREFIX=tollbooth-stream-ab
# shellcheck source=processes.sh
source "test/bench/processes.sh"

start_unpaced_simulator

declare -A URL PID
NAMES=()
start_variant() { # name build-dir extra-yaml
  local port
  port=$(free_port)
  cat >"$WORK/$1.yaml" <<YAML
server: { host: 127.0.0.1, port: $port }
auth: { enabled: false }
replicas:
  - name: sim
    url: http://127.0.0.1:$SIM_PORT
    models: [tollbooth-sim-model]
$3
YAML
  node "$2/dist/src/cli/tollbooth.js" start --config "$WORK/$1.yaml" >/dev/null 2>"$WORK/$1.err" &
  PID[$1]=$!
  PIDS+=("$!")
  URL[$1]="http://127.0.0.1:$port"
  wait_ready "${URL[$1]}/ready"
  NAMES+=("$1")
}
# The last main commit before guardrails existed: the parent of the first commit that touched
# src/guardrails (`git log --format=%h -- src/guardrails | tail -1`, then ^).
PRE_GUARDRAILS_COMMIT=05e0c1d
PAIR=${PAIR:-instrumentation}
case "$PAIR" in
  instrumentation)
    [[ -n "${BASE_DIR:-}" ]] && start_variant base "$BASE_DIR" ''
    start_variant on "$PWD" ''
    start_variant no-usage-request "$PWD" 'metrics: { requestStreamUsage: false }'
    start_variant off "$PWD" 'metrics: { enabled: false }'
    ;;
  analytics)
    no_analytics=$'analytics: { anomaly: { enabled: false }, capacity: { enabled: false } }\nalerts: { enabled: false }'
    start_variant analytics "$PWD" ''
    start_variant no-analytics "$PWD" "$no_analytics"
    start_variant no-analytics-twin "$PWD" "$no_analytics"
    ;;
  guardrails)
    base_dir=${BASE_DIR:-$(bash test/bench/base-build.sh "$PRE_GUARDRAILS_COMMIT")}
    start_variant base "$base_dir" ''
    start_variant base-twin "$base_dir" ''
    start_variant on "$PWD" ''
    ;;
  *) echo "PAIR is instrumentation, analytics or guardrails, got $PAIR" >&2; exit 2 ;;
esac

SCENARIO=${SCENARIO:-stream64}
case "$SCENARIO" in
  stream64) STREAM=true TOKENS=64 ;;
  chat16) STREAM=false TOKENS=16 ;;
  *) echo "SCENARIO is stream64 or chat16, got $SCENARIO" >&2; exit 2 ;;
esac
cat >"$WORK/stream.lua" <<LUA
wrk.method = "POST"
wrk.path = "/v1/chat/completions"
wrk.body = '{"model":"tollbooth-sim-model","messages":[{"role":"user","content":"Say something about toll booths."}],"stream":$STREAM}'
wrk.headers["content-type"] = "application/json"
wrk.headers["x-sim-tokens"] = "$TOKENS"
wrk.headers["x-sim-itl-ms"] = "0"
wrk.headers["x-sim-ttft-ms"] = "0"
LUA
# utime + stime of a process, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
ticks_per_second=$(getconf CLK_TCK)

for name in "${NAMES[@]}"; do wrk -t1 -c32 -d2s -s "$WORK/stream.lua" "${URL[$name]}" >/dev/null; done
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
RESULTS="$WORK/results.tsv"
for round in $(seq "$ROUNDS"); do
  order=("${NAMES[@]}")
  if ((round % 2 == 0)); then order=(); for ((i = ${#NAMES[@]} - 1; i >= 0; i--)); do order+=("${NAMES[$i]}"); done; fi
  line="round $round:"
  for name in "${order[@]}"; do
    # Unmeasured second first: a gateway that sat idle while the others ran has shrunk its heap
    # and cooled its caches, which cost the first variant of each round more than the others.
    wrk -t1 -c32 -d1s -s "$WORK/stream.lua" "${URL[$name]}" >/dev/null
    before=$(cpu_ticks "${PID[$name]}")
    out=$(wrk -t1 -c32 -d"${SECONDS_PER_RUN}s" -s "$WORK/stream.lua" "${URL[$name]}")
    after=$(cpu_ticks "${PID[$name]}")
    rate=$(awk '/Requests\/sec/ { print $2 }' <<<"$out")
    streams=$(awk '/requests in/ { print $1 }' <<<"$out")
    micros=$(( (after - before) * 1000000 / ticks_per_second / streams ))
    printf '%s\t%s\t%s\t%s\n' "$round" "$name" "$rate" "$micros" >>"$RESULTS"
    line+=" $name=${rate}/s (${micros} µs)"
  done
  echo "$line"
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
node dist/test/bench/stream-ab-summary.js "$RESULTS" "$SCENARIO" "$PAIR"
