#!/usr/bin/env bash
# Builds Docker Compose (the standalone `docker-compose` binary) from the Go module proxy, once,
# into a cache directory, and prints the binary's path as the last line of stdout. The tests run
# its `config` command on deploy/compose.yaml: it needs no Docker engine.
#
#   COMPOSE_VERSION          module version to build (pinned: v5.6.0, the newest release whose
#                            go.mod this machine's Go accepts; see env/packages/go-partial.tsv)
#   TOLLBOOTH_CACHE_DIR      where the binary is kept (default ~/.cache/tollbooth)
#   TOLLBOOTH_COMPOSE_BINARY use this binary instead of building one
#
# Exit status 0: the path is printed. Exit status 3: compose cannot be built here (no Go, or a Go
# older than the module needs); the reason is on stderr. Any other failure (download, compile) is
# an error. Either way the compose test fails.
set -euo pipefail

version="${COMPOSE_VERSION:-v5.6.0}"
cache_dir="${TOLLBOOTH_CACHE_DIR:-$HOME/.cache/tollbooth}"
build_dir="$cache_dir/compose-$version"
binary="$build_dir/docker-compose"

if [ -n "${TOLLBOOTH_COMPOSE_BINARY:-}" ]; then
  [ -x "$TOLLBOOTH_COMPOSE_BINARY" ] || { echo "TOLLBOOTH_COMPOSE_BINARY=$TOLLBOOTH_COMPOSE_BINARY is not an executable file" >&2; exit 1; }
  echo "$TOLLBOOTH_COMPOSE_BINARY"
  exit 0
fi
if [ -x "$binary" ]; then
  echo "$binary"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  echo "cannot build Docker Compose $version: no Go toolchain on PATH (its go.mod needs Go >= 1.26.8)" >&2
  exit 3
fi
mkdir -p "$build_dir"
# Several test processes may ask at once: one builds, the others wait and reuse its binary.
exec 9>"$build_dir/build.lock"
flock 9
if [ -x "$binary" ]; then
  echo "$binary"
  exit 0
fi

started=$(date +%s)
echo "building Docker Compose $version (once; cached at $binary) ..." >&2
module_dir="$(go mod download -json "github.com/docker/compose/v5@$version" | sed -nE 's/^[[:space:]]*"Dir": "(.*)",?$/\1/p')"
[ -d "$module_dir" ] || { echo "go mod download did not report a module directory for compose@$version" >&2; exit 1; }
# Built inside the module's own (read-only) directory so its go.mod and go.sum pin every dependency.
# GOTOOLCHAIN=local: a Go older than the module's `go` line fails here (exit 3) instead of fetching
# another toolchain from outside the registries this project reaches.
if ! (cd "$module_dir" && GOTOOLCHAIN=local go build -trimpath -ldflags "-s -w -X github.com/docker/compose/v5/internal.Version=$version" -o "$binary.partial" ./cmd) 2>"$build_dir/build.log"; then
  cat "$build_dir/build.log" >&2
  if grep -q 'requires go >=' "$build_dir/build.log"; then exit 3; fi
  exit 1
fi
mv "$binary.partial" "$binary"
echo "built Docker Compose $version in $(( $(date +%s) - started )) s: $binary" >&2
echo "$binary"
