#!/usr/bin/env bash
# Installs the PyPI package kubernetes-validate (it bundles the Kubernetes JSON schemas of many
# Kubernetes versions) into a virtualenv, once, and prints the path of its `kubernetes-validate`
# command as the last line of stdout.
#
#   KUBERNETES_VALIDATE_VERSION  pinned: 1.37.0
#   TOLLBOOTH_CACHE_DIR          where the virtualenv is kept (default ~/.cache/tollbooth)
#
# Any failure (no python3 with venv, the package cannot be installed) exits non-zero, and the Helm
# chart tests fail: they never pass without the real schemas.
set -euo pipefail

version="${KUBERNETES_VALIDATE_VERSION:-1.37.0}"
cache_dir="${TOLLBOOTH_CACHE_DIR:-$HOME/.cache/tollbooth}"
venv="$cache_dir/kubernetes-validate-$version"
command_path="$venv/bin/kubernetes-validate"
# Written last: a virtualenv without it is a broken install and is made again.
installed_marker="$venv/.installed"

if [ -f "$installed_marker" ]; then
  echo "$command_path"
  exit 0
fi
command -v python3 >/dev/null 2>&1 || { echo "cannot install kubernetes-validate: no python3 on PATH" >&2; exit 3; }

mkdir -p "$cache_dir"
exec 9>"$venv.lock"
flock 9
if [ -f "$installed_marker" ]; then
  echo "$command_path"
  exit 0
fi
echo "installing kubernetes-validate $version (once; cached at $venv) ..." >&2
# A virtualenv's scripts name their interpreter by absolute path, so it is built under its final name.
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet "kubernetes-validate==$version" >&2
touch "$installed_marker"
echo "$command_path"
