#!/usr/bin/env bash
# Sets up, builds and runs a working CT log with embedded defaults: `birch demo` creates
# ./birch-demo (a log key, a test CA, a config), starts the log on 127.0.0.1:6962, submits
# certificates and precertificates, prints their SCTs and the tree head, and keeps serving
# until Ctrl-C. Arguments are passed to `birch demo` (--dir, --port, --count, --exit).
# Usage: tools/run.sh [--port N] [--dir DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in -h|--help) sed -n '2,6s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
tools/setup.sh >&2
[ -f build/build.ninja ] || meson setup build >/tmp/birch-setup-build.log 2>&1 || {
  cat /tmp/birch-setup-build.log >&2; exit 1; }
ninja -C build >/tmp/birch-ninja-build.log 2>&1 || { tail -n 40 /tmp/birch-ninja-build.log >&2; exit 1; }
exec build/tools/birch demo "$@"
