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
# than its go.mod needs: 1.26); the reason is on stderr. Any other failure (download, compile) is
# an error. Either way the Helm chart tests fail: they never pass without a real helm.
set -euo pipefail
source "$(dirname "$0")/../lib/cached-go-build.sh"

version="${HELM_VERSION:-v4.3.2}"
cache_dir="${TOLLBOOTH_CACHE_DIR:-$HOME/.cache/tollbooth}"

build_helm() {
  local output="$1" gobin="$1.gobin"
  rm -rf "$gobin"
  if GOBIN="$gobin" go install "helm.sh/helm/v4/cmd/helm@$version"; then
    mv "$gobin/helm" "$output"
  else
    echo "go install refused helm.sh/helm/v4@$version; building inside the downloaded module instead" >&2
    local module_dir
    module_dir="$(go mod download -json "helm.sh/helm/v4@$version" | sed -nE 's/^[[:space:]]*"Dir": "(.*)",?$/\1/p')"
    [ -d "$module_dir" ] || { echo "go mod download did not report a module directory for helm.sh/helm/v4@$version" >&2; exit 1; }
    (cd "$module_dir" && go build -o "$output" ./cmd/helm)
  fi
  rm -rf "$gobin"
}

cached_go_build "Helm $version" "$cache_dir/helm-$version/helm" 26 build_helm TOLLBOOTH_HELM_BINARY
