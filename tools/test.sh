#!/usr/bin/env bash
# Sets up, builds and runs every Birch test: the release build, then the same tests again in a
# sanitizer build (ASan + UBSan). Ends with one line "N passed, N failed[, N skipped]" and
# exits non-zero when any test failed or none ran.
# Usage: tools/test.sh [--no-sanitize]   (BIRCH_VECTORS overrides ../shared/vectors)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
top=$(pwd)
sanitize=1
case "${1:-}" in
  -h|--help) sed -n '2,5s/^# \{0,1\}//p' "$0"; exit 0 ;;
  --no-sanitize) sanitize=0 ;;
  "") ;;
  *) echo "test: unknown argument '$1' (try --help)" >&2; exit 2 ;;
esac

tools/setup.sh || { echo "0 passed, 1 failed"; exit 1; }

vectors=${BIRCH_VECTORS:-$top/../shared/vectors}
if [ ! -d "$vectors" ]; then
  echo "test: vectors not found at $vectors (set BIRCH_VECTORS); tests that need them will fail" >&2
fi

# LSan: the test-only vector reader keeps parsed JSON for the process lifetime on purpose.
export LSAN_OPTIONS="suppressions=$top/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1"

configs=("build:")
[ "$sanitize" = 1 ] && configs+=("build-san:-Db_sanitize=address,undefined -Db_lundef=false -Dbench=false")

status=0
for c in "${configs[@]}"; do
  dir=${c%%:*}; opts=${c#*:}
  echo "== $dir ${opts:-(release)}"
  reconf=(); [ -f "$dir/build.ninja" ] && reconf=(--reconfigure)
  # shellcheck disable=SC2086
  meson setup "${reconf[@]}" "$dir" $opts -Dvectors="$vectors" >"/tmp/birch-setup-$dir.log" 2>&1 || {
    cat "/tmp/birch-setup-$dir.log" >&2; echo "test: meson setup $dir failed" >&2; status=1; continue; }
  ninja -C "$dir" >"/tmp/birch-ninja-$dir.log" 2>&1 || {
    tail -n 40 "/tmp/birch-ninja-$dir.log" >&2; echo "test: build $dir failed" >&2; status=1; continue; }
  rm -f "$dir/meson-logs/testlog.json"
  meson test -C "$dir" --print-errorlogs --num-processes 2 || true
done

# Count every test of every configuration from meson's machine-readable logs.
python3 - "${configs[@]%%:*}" <<'PY'
import json, os, sys
p = f = s = 0
for d in sys.argv[1:]:
    log = os.path.join(d, "meson-logs", "testlog.json")
    if not os.path.exists(log):
        f += 1
        print(f"{d}: no test log (build failed)")
        continue
    for line in open(log):
        r = json.loads(line)["result"]
        if r == "OK": p += 1
        elif r == "SKIP": s += 1
        else: f += 1
print(f"{p} passed, {f} failed" + (f", {s} skipped" if s else ""))
sys.exit(1 if f or p == 0 else 0)
PY
rc=$?
[ $status -ne 0 ] && rc=1
exit $rc
