#!/usr/bin/env bash
# Sets up, builds and runs Birch's main job with embedded defaults. Until the log server
# exists (later issues), that job is `birch demo`: a Merkle tree of synthetic entries with
# its root, tiles and verified proofs. Arguments are passed to `birch demo`.
# Usage: tools/run.sh [--leaves N]
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in -h|--help) sed -n '2,5s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
tools/setup.sh >&2
[ -f build/build.ninja ] || meson setup build >/tmp/birch-setup-build.log 2>&1 || {
  cat /tmp/birch-setup-build.log >&2; exit 1; }
ninja -C build >/tmp/birch-ninja-build.log 2>&1 || { tail -n 40 /tmp/birch-ninja-build.log >&2; exit 1; }
exec build/tools/birch demo "$@"
