#!/usr/bin/env bash
# Downloads the prometheus-operator module from the Go module proxy (into Go's module cache, once)
# and prints the directory of its published CustomResourceDefinitions
# (example/prometheus-operator-crd/, monitoring.coreos.com_*.yaml) as the last line of stdout: the
# schemas the chart's ServiceMonitor and PrometheusRule are validated against.
#
#   PROMETHEUS_OPERATOR_VERSION  pinned: v0.85.0, the only version of the module
#                                github.com/prometheus-operator/prometheus-operator the proxy here
#                                lists (`go list -m -versions`); the CRDs are not in the separate
#                                pkg/apis/monitoring module
set -euo pipefail

version="${PROMETHEUS_OPERATOR_VERSION:-v0.85.0}"
command -v go >/dev/null 2>&1 || { echo "cannot fetch the prometheus-operator CRDs: no Go toolchain on PATH" >&2; exit 3; }
module_dir="$(go mod download -json "github.com/prometheus-operator/prometheus-operator@$version" | sed -nE 's/^[[:space:]]*"Dir": "(.*)",?$/\1/p')"
crd_dir="$module_dir/example/prometheus-operator-crd"
[ -d "$crd_dir" ] || { echo "go mod download gave no $crd_dir for prometheus-operator@$version" >&2; exit 1; }
echo "$crd_dir"
