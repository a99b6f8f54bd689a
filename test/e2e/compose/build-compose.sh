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
source "$(dirname "$0")/../../lib/cached-go-build.sh"

version="${COMPOSE_VERSION:-v5.6.0}"
cache_dir="${TOLLBOOTH_CACHE_DIR:-$HOME/.cache/tollbooth}"

build_compose() {
  local output="$1" module_dir
  module_dir="$(go mod download -json "github.com/docker/compose/v5@$version" | sed -nE 's/^[[:space:]]*"Dir": "(.*)",?$/\1/p')"
  [ -d "$module_dir" ] || { echo "go mod download did not report a module directory for compose@$version" >&2; exit 1; }
  # Built inside the module's own (read-only) directory so its go.mod and go.sum pin every dependency.
  # GOTOOLCHAIN=local: never fetch another toolchain from outside the registries this project reaches.
  (cd "$module_dir" && GOTOOLCHAIN=local go build -trimpath -ldflags "-s -w -X github.com/docker/compose/v5/internal.Version=$version" -o "$output" ./cmd)
}

cached_go_build "Docker Compose $version" "$cache_dir/compose-$version/docker-compose" 26 build_compose TOLLBOOTH_COMPOSE_BINARY
