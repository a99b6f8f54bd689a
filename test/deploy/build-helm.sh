#!/usr/bin/env bash
# Builds Helm from the Go module proxy, once, into a cache directory, and prints the binary's path
# as the last line of stdout.
#
#   HELM_VERSION          module version of helm.sh/helm/v4 to build (pinned: v4.3.2, the version
#                         this workplace's package list approves)
#   TOLLBOOTH_CACHE_DIR   where the binary is kept (default ~/.cache/tollbooth)
#   TOLLBOOTH_HELM_BINARY use this binary instead of building one
#
# Exit status 0: the path is printed. Exit status 3: Helm cannot be built here (no Go, or a Go older
# than the module needs); the reason is on stderr. Any other failure (download, compile) is an
# error. Either way the Helm chart tests fail: they never pass without a real helm.
set -euo pipefail

version="${HELM_VERSION:-v4.3.2}"
cache_dir="${TOLLBOOTH_CACHE_DIR:-$HOME/.cache/tollbooth}"
install_dir="$cache_dir/helm-$version"
binary="$install_dir/helm"

if [ -n "${TOLLBOOTH_HELM_BINARY:-}" ]; then
  [ -x "$TOLLBOOTH_HELM_BINARY" ] || { echo "TOLLBOOTH_HELM_BINARY=$TOLLBOOTH_HELM_BINARY is not an executable file" >&2; exit 1; }
  echo "$TOLLBOOTH_HELM_BINARY"
  exit 0
fi
if [ -x "$binary" ]; then
  echo "$binary"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  echo "cannot build Helm $version: no Go toolchain on PATH (Helm v4's go.mod needs a recent Go; Debian bookworm's golang-go is 1.19)" >&2
  exit 3
fi

mkdir -p "$install_dir"
# Several test processes may ask at once: one builds, the others wait and reuse its binary.
exec 9>"$install_dir.lock"
flock 9
if [ -x "$binary" ]; then
  echo "$binary"
  exit 0
fi

started=$(date +%s)
echo "building Helm $version (once; cached at $binary) ..." >&2
# `go install` builds into a private GOBIN first so a half-written binary never sits at $binary.
partial_dir="$install_dir/partial"
rm -rf "$partial_dir"
if ! GOBIN="$partial_dir" go install "helm.sh/helm/v4/cmd/helm@$version"; then
  echo "go install refused helm.sh/helm/v4@$version; building inside the downloaded module instead" >&2
  module_dir="$(go mod download -json "helm.sh/helm/v4@$version" | sed -nE 's/^[[:space:]]*"Dir": "(.*)",?$/\1/p')"
  [ -d "$module_dir" ] || { echo "go mod download did not report a module directory for helm.sh/helm/v4@$version" >&2; exit 1; }
  mkdir -p "$partial_dir"
  (cd "$module_dir" && go build -o "$partial_dir/helm" ./cmd/helm)
fi
mv "$partial_dir/helm" "$binary"
rm -rf "$partial_dir"
echo "built Helm $version in $(( $(date +%s) - started )) s: $binary" >&2
echo "$binary"
