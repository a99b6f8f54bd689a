#!/usr/bin/env bash
# `npm test`: type-check and build (process-level tests start the built CLI), then every
# unit, integration and end-to-end test. Benchmarks are separate (`npm run bench`).
set -euo pipefail
cd "$(dirname "$0")/.."

npm run --silent build
npx vitest run "$@"
