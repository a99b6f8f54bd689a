#!/usr/bin/env bash
# `npm test`: install the system tools the tests use when they are missing, type-check and build
# (process-level tests start the built CLI), then every unit, integration and end-to-end test.
# Benchmarks are separate (`npm run bench`).
set -euo pipefail
cd "$(dirname "$0")/.."

bash test/ensure-system-tools.sh
npm run --silent build
npx vitest run "$@"
