#!/usr/bin/env bash
# Instructions per stream of the relay path with and without the stream tap (see
# stream-tap-instructions.ts): cachegrind counts every instruction of a run with WARM-UP streams
# only and of one with STREAMS more; the difference divided by STREAMS is the cost of one stream.
# Usage: test/bench/stream-tap-instructions.sh [variant…]   (build first into $TB, default /tmp/tb)
set -euo pipefail
TB=${TB:-/tmp/tb}
STREAMS=${STREAMS:-2000}
variants=("$@")
[ ${#variants[@]} -eq 0 ] && variants=(relay tap tap-strip tap-split)
count() {
  valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
    node --single-threaded "$TB/test/bench/stream-tap-instructions.js" "$1" "$2" 2>&1 |
    sed -n 's/.*I *refs: *//p' | tr -d ,
}
for variant in "${variants[@]}"; do
  base=$(count "$variant" 0)
  loaded=$(count "$variant" "$STREAMS")
  echo "$variant $(( (loaded - base) / STREAMS )) instructions/stream"
done
