#!/usr/bin/env bash
# `npm test`: install the system tools the tests use when they are missing, type-check and build
# (process-level tests start the built CLI), then every unit, integration and end-to-end test.
# Benchmarks are separate (`npm run bench`, `npm run bench:routing`).
set -euo pipefail
cd "$(dirname "$0")/.."

bash test/ensure-system-tools.sh
npm run --silent build

# The timing-accuracy tests compare clocks read in three processes; they run alone, after the
# rest, so the other test files' load on these two cores does not enter their error budget.
TIMING_TESTS=test/integration/telemetry/accuracy.test.ts
if [ "$#" -gt 0 ]; then
  npx vitest run "$@"
else
  npx vitest run --exclude "$TIMING_TESTS"
  npx vitest run "$TIMING_TESTS"
fi
