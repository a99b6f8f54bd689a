#!/usr/bin/env bash
# Builds another commit of Tollbooth once, for the benchmarks' old-vs-new A/Bs (BASE_DIR of
# stream-ab.sh), and prints its folder: ~/.cache/tollbooth/bench-builds/<full sha>. The tree comes
# from `git archive` (no worktree registered in the repository), then `npm ci` and `npm run build`;
# a folder holding `.built` is reused as it is. Usage: test/bench/base-build.sh COMMIT
set -euo pipefail
cd "$(dirname "$0")/../.."
[[ $# -eq 1 ]] || { echo "usage: $0 COMMIT" >&2; exit 2; }
sha=$(git rev-parse --verify "$1^{commit}")
cache="$HOME/.cache/tollbooth/bench-builds"
dir="$cache/$sha"
mkdir -p "$cache"
exec 9>"$dir.lock"
flock 9
if [[ ! -f "$dir/.built" ]]; then
  rm -rf "$dir"
  mkdir -p "$dir"
  git archive "$sha" | tar -x -C "$dir"
  (cd "$dir" && npm ci --prefer-offline --no-audit --no-fund >&2 && npm run --silent build >&2)
  touch "$dir/.built"
fi
echo "$dir"
