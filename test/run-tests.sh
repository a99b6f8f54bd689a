#!/usr/bin/env bash
# `npm test`: install the system tools the tests use when they are missing, type-check and build
# (process-level tests start the built CLI), then every unit, integration and end-to-end test.
# Benchmarks and soaks are separate (`npm run bench`, `bench:routing`, `bench:admission`, `bench:tracing`).
set -euo pipefail
cd "$(dirname "$0")/.."

bash test/ensure-system-tools.sh
# test/integration/gateway/slow-clients.test.ts holds 2 x 2,000 sockets in one process.
soft_files="$(ulimit -n)"
if [ "$soft_files" != unlimited ] && [ "$soft_files" -lt 8192 ]; then ulimit -Sn 8192 2>/dev/null || ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true; fi
npm run --silent build

if [ "$#" -gt 0 ]; then
  npx vitest run "$@"
  exit 0
fi

# Tools some tests need are built from the registries once and cached under ~/.cache/tollbooth,
# one after another in the background while the main suite runs (in parallel they would fight the
# suite for the two cores). On a fresh machine, about: helm from the Go module proxy 5 minutes,
# kubernetes-validate from PyPI half a minute, Docker Compose 2 to 4 minutes, Jaeger v2 4 minutes;
# nothing once cached. A tool that cannot be had fails the run with its log. The Jaeger end-to-end
# trace tests alone may be left out on purpose with TOLLBOOTH_SKIP_JAEGER_TESTS=1, which the run's
# last line reports.
skip_jaeger="${TOLLBOOTH_SKIP_JAEGER_TESTS:-0}"
tools_dir="$(mktemp -d)"
build_tool() { # name command...: its output to $tools_dir/name.log, its exit status to name.status
  local name=$1
  shift
  local status=0
  "$@" >"$tools_dir/$name.log" 2>&1 || status=$?
  echo "$status" >"$tools_dir/$name.status"
}
{
  build_tool helm bash -c 'bash test/deploy/build-helm.sh && bash test/deploy/install-kubernetes-validate.sh'
  build_tool compose bash test/e2e/compose/build-compose.sh
  if [ "$skip_jaeger" != 1 ]; then build_tool jaeger bash test/e2e/jaeger/build-jaeger.sh; fi
} &
tools_build=$!
require_tool() { # name what-needs-it
  local status
  status="$(cat "$tools_dir/$1.status" 2>/dev/null || echo missing)"
  [ "$status" = 0 ] && return 0
  echo "$1 could not be installed (exit $status), so $2 cannot run:" >&2
  cat "$tools_dir/$1.log" >&2 || true
  exit 1
}

# The timing-accuracy tests compare clocks read in three processes; they run alone, after the
# rest, so the other test files' load on these two cores does not enter their error budget.
TIMING_TESTS=test/integration/telemetry/accuracy.test.ts
# The tests that render the chart with helm wait for its build: the chart's own checks, and the
# three gateways run with the configuration the chart renders.
HELM_TESTS=(test/integration/deploy/helm-chart.test.ts test/integration/deploy/instances.test.ts)
main_excludes=(--exclude "$TIMING_TESTS" --exclude 'test/e2e/**')
for test in "${HELM_TESTS[@]}"; do main_excludes+=(--exclude "$test"); done
npx vitest run "${main_excludes[@]}"

wait "$tools_build"
require_tool helm 'the Helm chart and chart-configured instances tests'
require_tool compose 'the compose test'
if [ "$skip_jaeger" != 1 ]; then
  require_tool jaeger 'the end-to-end trace tests (TOLLBOOTH_SKIP_JAEGER_TESTS=1 leaves them out knowingly)'
  npx vitest run "${HELM_TESTS[@]}" test/e2e
else
  npx vitest run "${HELM_TESTS[@]}" test/e2e/compose
fi

npx vitest run "$TIMING_TESTS"

if [ "$skip_jaeger" = 1 ]; then
  echo "NOTE: TOLLBOOTH_SKIP_JAEGER_TESTS=1: the end-to-end tests against a real Jaeger (test/e2e, all but test/e2e/compose) were not run."
fi
