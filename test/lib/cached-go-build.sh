# Sourced by the scripts that build a test tool from the Go module proxy (Jaeger, Helm): the tool is
# built once into a cache, under a lock, and reused.
#
#   cached_go_build WHAT BINARY MIN_GO_MINOR BUILD_FUNCTION OVERRIDE_VARIABLE
#
# Prints the binary named by the environment variable OVERRIDE_VARIABLE when it is set (a binary
# brought by the caller, never built), else BINARY as the last line of stdout when it exists or has
# been built. BUILD_FUNCTION is
# called with the path to write the binary to (moved to BINARY only once complete). Exit status 3:
# it cannot be built here (no Go, or a Go older than 1.MIN_GO_MINOR), the reason on stderr; any
# other failure (download, compile) is an error.
cached_go_build() {
  local what="$1" binary="$2" min_go_minor="$3" build="$4" override_variable="$5"
  local override="${!override_variable:-}"
  if [ -n "$override" ]; then
    [ -x "$override" ] || { echo "$override_variable=$override is not an executable file" >&2; exit 1; }
    echo "$override"
    return 0
  fi
  if [ -x "$binary" ]; then
    echo "$binary"
    return 0
  fi
  if ! command -v go >/dev/null 2>&1; then
    echo "cannot build $what: no Go toolchain on PATH (it needs Go >= 1.$min_go_minor; Debian bookworm's golang-go is 1.19)" >&2
    exit 3
  fi
  local go_minor
  go_minor="$(go env GOVERSION | sed -nE 's/^go1\.([0-9]+).*/\1/p')"
  if [ -z "$go_minor" ] || [ "$go_minor" -lt "$min_go_minor" ]; then
    echo "cannot build $what: $(go env GOVERSION) is too old (it needs Go >= 1.$min_go_minor)" >&2
    exit 3
  fi

  mkdir -p "$(dirname "$binary")"
  # Several test processes may ask at once: one builds, the others wait and reuse its binary.
  exec 9>"$binary.lock"
  flock 9
  if [ -x "$binary" ]; then
    echo "$binary"
    return 0
  fi
  local started
  started=$(date +%s)
  echo "building $what (once; cached at $binary) ..." >&2
  rm -rf "$binary.partial"
  "$build" "$binary.partial"
  mv "$binary.partial" "$binary"
  echo "built $what in $(( $(date +%s) - started )) s: $binary" >&2
  echo "$binary"
}
