#!/usr/bin/env bash
# `npm run fuzz`: the property-based tests of test/fuzz with FUZZ_RUNS cases per target (100,000
# unless set), then one line per target and the total. Arguments go to vitest: test files replace
# the folder (e.g. `npm run fuzz -- test/fuzz/stream-tap.test.ts`), options such as -t add to it.
# A failure prints fast-check's seed and path: FUZZ_SEED=<seed> FUZZ_PATH=<path> replays it.
set -uo pipefail
cd "$(dirname "$0")/../.."

npm run --silent build || exit 1
report="$(mktemp)"
trap 'rm -f "$report"' EXIT

export FUZZ_RUNS="${FUZZ_RUNS:-100000}"
targets=(test/fuzz)
for argument in "$@"; do
  if [[ "$argument" == *.ts ]]; then targets=(); fi
done
FUZZ_REPORT="$report" npx vitest run "${targets[@]}" "$@"
status=$?

echo
echo "fuzz summary (FUZZ_RUNS=$FUZZ_RUNS)"
awk -F '\t' '
  { printf "  %-32s %10d cases  %s%s\n", $1, $2, $3, ($3 == "failed" ? "  seed " $4 : ""); total += $2; if ($3 == "failed") failed++ }
  END { printf "  %-32s %10d cases  %d target(s), %d failed\n", "total", total, NR, failed + 0 }
' "$report"
exit "$status"
