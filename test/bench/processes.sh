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

wait_ready() { # url [seconds, default 10]
  local attempt
  for attempt in $(seq 1 $((${2:-10} * 10))); do
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

# nginx, the reference proxy: 1 worker, no response buffering, HTTP/1.1 keep-alive upstream to the
# simulator (SIM_PORT), no access log.
write_nginx_config() { # dir port
  local dir=$1 port=$2
  mkdir -p "$dir"
  cat >"$dir/nginx.conf" <<NGINX
worker_processes 1;
user root;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
worker_rlimit_nofile 65536;
events { worker_connections 16384; }
http {
  access_log off;
  client_body_temp_path $dir/client_temp;
  proxy_temp_path $dir/proxy_temp;
  fastcgi_temp_path $dir/fastcgi_temp;
  uwsgi_temp_path $dir/uwsgi_temp;
  scgi_temp_path $dir/scgi_temp;
  # No per-connection request cap: wrk's connections live the whole run, as with Node.
  keepalive_requests 1000000;
  upstream sim {
    server 127.0.0.1:$SIM_PORT;
    keepalive 1024;
    keepalive_requests 1000000;
    # Below Node's 5 s server keep-alive, so nginx never reuses a connection the simulator closes.
    keepalive_timeout 4s;
  }
  server {
    listen 127.0.0.1:$port;
    location / {
      proxy_pass http://sim;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
NGINX
}
nginx_argv() { # dir → JSON argv for a foreground nginx with that dir's config
  printf '["nginx","-e","%s/error.log","-p","%s","-c","%s/nginx.conf","-g","daemon off;"]' "$1" "$1" "$1"
}

start_nginx() { # dir → NGINX_PORT, NGINX_WORKER (the process that does the work)
  NGINX_PORT=$(free_port)
  write_nginx_config "$1" "$NGINX_PORT"
  nginx -e "$1/error.log" -p "$1" -c "$1/nginx.conf" -g 'daemon off;' &
  local master=$!
  PIDS+=("$master")
  wait_ready "http://127.0.0.1:$NGINX_PORT/health"
  NGINX_WORKER=$(awk '{print $1}' "/proc/$master/task/$master/children")
}

# The bench API key: API_KEY (sent by the clients) and KEY_HASH (in the gateway's config). Needs the build.
make_api_key() {
  API_KEY=$(node --input-type=module -e "import { generateApiKey } from './dist/src/auth/key-format.js'; console.log(generateApiKey())")
  KEY_HASH=$(node --input-type=module -e "import { hashApiKey } from './dist/src/auth/key-format.js'; console.log(hashApiKey(process.argv[1]))" "$API_KEY")
}

# Tollbooth as the peer benchmark runs it, the features a deployment runs with: auth (one key,
# KEY_HASH), memory rate limits far above anything a bench sends, session routing, metrics; in front
# of SIM_URL serving MODEL.
write_tollbooth_config() { # file port
  cat >"$1" <<YAML
server: { host: 127.0.0.1, port: $2 }
auth:
  enabled: true
  keys:
    - id: bench
      tenant: bench
      hash: "$KEY_HASH"
      models: ['*']
      limits: { requestsPerMinute: 1000000000, tokensPerMinute: 1000000000000, maxConcurrent: 10000 }
rateLimits: { store: memory }
routing: { strategy: session }
metrics: { enabled: true }
replicas:
  - name: sim
    url: $SIM_URL
    models: [$MODEL]
YAML
}
