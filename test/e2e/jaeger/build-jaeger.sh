#!/usr/bin/env bash
# Builds Jaeger v2 (the `jaeger` binary, OpenTelemetry Collector based) from the Go module proxy,
# once, into a cache directory, and prints the binary's path as the last line of stdout.
#
#   JAEGER_VERSION        module version to build (pinned: v1.75.0, the version this workplace's
#                         package list approves; it is a Jaeger v2 build, and the module path has
#                         no /v2, so v2 tags cannot be named directly)
#   TOLLBOOTH_CACHE_DIR   where the binary is kept (default ~/.cache/tollbooth)
#   TOLLBOOTH_JAEGER_BINARY  use this binary instead of building one
#
# Exit status 0: the path is printed. Exit status 3: Jaeger cannot be built here (no Go, or a Go
# older than the module needs); the reason is on stderr. Any other failure (download, compile) is
# an error. Either way the end-to-end trace tests fail unless the run opts out of them
# (TOLLBOOTH_SKIP_JAEGER_TESTS=1, which `npm test` reports in its last line).
set -euo pipefail
source "$(dirname "$0")/../../lib/cached-go-build.sh"

version="${JAEGER_VERSION:-v1.75.0}"
cache_dir="${TOLLBOOTH_CACHE_DIR:-$HOME/.cache/tollbooth}"

build_jaeger() {
  local output="$1" module_dir
  module_dir="$(go mod download -json "github.com/jaegertracing/jaeger@$version" | sed -nE 's/^[[:space:]]*"Dir": "(.*)",?$/\1/p')"
  [ -d "$module_dir" ] || { echo "go mod download did not report a module directory for jaeger@$version" >&2; exit 1; }
  # Built inside the module's own (read-only) directory so its go.mod, replace line included, applies;
  # `go install module@version` refuses modules with replace lines.
  (cd "$module_dir" && go build -o "$output" ./cmd/jaeger)
}

# Jaeger's go.mod needs Go >= 1.24.
cached_go_build "Jaeger $version" "$cache_dir/jaeger-$version" 24 build_jaeger TOLLBOOTH_JAEGER_BINARY
