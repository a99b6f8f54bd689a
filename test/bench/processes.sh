# Sourced by the benchmark scripts: a scratch folder, the processes they start (PIDS, and pids
# written to $PID_FILE by the orchestrators), stopped on exit however the script ends, and the
# small helpers both need. Expects WORK_PREFIX to be set before sourcing.
WORK=$(mktemp -d "/tmp/${WORK_PREFIX}.XXXXXX")
PIDS=()
# Orchestrators append the pids of servers they start themselves here.
PID_FILE="$WORK/spawned.pids"
: >"$PID_FILE"

cleanup() {
  local pid
  mapfile -t -O "${#PIDS[@]}" PIDS <"$PID_FILE" || true
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  # The gateway drains on SIGTERM; give everything a moment, then make sure.
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    local alive=0
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive == 0)) && break
    sleep 0.3
  done
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Thousands of client streams plus as many upstream connections per proxy.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# Every gateway's admin listener on a free port (the default 8081 would be taken by the second one).
# An environment override rather than a config line: older builds in an A/B ignore it.
export TOLLBOOTH_ADMIN_PORT=0

free_port() {
  node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

wait_ready() { # url
  local attempt
  for attempt in $(seq 1 100); do
    curl -sf -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "not ready: $1" >&2
  return 1
}

# The benchmarks' simulator (UNPACED_SIMULATOR_CONFIG in report.ts, written as JSON, which is YAML):
# unpaced, zero prefill, 16 tokens unless a request's x-sim-* headers say otherwise. Needs the build;
# sets SIM_PORT and SIM_PID.
start_unpaced_simulator() {
  SIM_PORT=$(free_port)
  node --input-type=module -e "import { UNPACED_SIMULATOR_CONFIG } from './dist/test/bench/report.js'; console.log(JSON.stringify(UNPACED_SIMULATOR_CONFIG))" >"$WORK/sim.yaml"
  node dist/src/cli/tollbooth.js sim --config "$WORK/sim.yaml" --port "$SIM_PORT" >"$WORK/sim.log" 2>&1 &
  SIM_PID=$!
  PIDS+=("$SIM_PID")
  wait_ready "http://127.0.0.1:$SIM_PORT/health"
}
