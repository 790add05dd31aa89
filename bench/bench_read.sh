#!/usr/bin/env bash
# bench/bench_read.sh: the read path of `birch serve` under wrk on loopback, beside nginx serving
# the same tile files from the same data directory in the same run.
#
# Builds a log of N entries with `birch load` (default 20,000; --quick 3,000), then for each
# case runs wrk (1 thread, 64 connections, keep-alive) against Birch and, for static files,
# against nginx (worker_processes = Birch's gateway threads, sendfile on, access log off):
#   checkpoint            /checkpoint
#   tile                  /tile/0/000 (a full 8 KiB hash tile)
#   data_tile             /tile/data/000 (a full data tile, 256 entries)
#   get_entries           /ct/v1/get-entries, 1,000-entry pages (MB/s of JSON)
#   get_proof_by_hash     random leaves of the tree (a wrk Lua script cycles through 1,000)
# and prints one "bench=read ..." line per case with requests/s, MB/s and p99, and the ratio to
# nginx where nginx serves the same bytes, with each server's CPU time per request (user +
# system, all threads; wrk shares the machine, so when wrk is the bottleneck both servers
# reach the same rate and CPU per request is what tells them apart).
#
# Usage: bench/bench_read.sh [BUILD_DIR] [--quick]   (BUILD_DIR default: build)
set -euo pipefail
BUILD=build
QUICK=0
for a in "$@"; do
  case "$a" in
    -h|--help) sed -n '2,20s/^# \{0,1\}//p' "$0"; exit 0 ;;
    --quick) QUICK=1 ;;
    *) BUILD=$a ;;
  esac
done
B=$BUILD/tools/birch
[ -x "$B" ] || { echo "bench_read: $B not built" >&2; exit 2; }
command -v wrk >/dev/null || { echo "bench_read: wrk missing (tools/setup.sh installs it)" >&2; exit 2; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "bench_read: nginx missing (tools/setup.sh installs nginx-light)" >&2; exit 2; }
if [ $QUICK = 1 ]; then N=3000; DUR=3; else N=20000; DUR=10; fi
T=$(mktemp -d /tmp/birch-bench-read-XXXXXX)
chmod 755 "$T"
SP=; NP=
cleanup() {
  [ -n "$SP" ] && kill -TERM "$SP" 2>/dev/null && wait "$SP" 2>/dev/null
  [ -n "$NP" ] && kill -QUIT "$NP" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
PORT=$((20000 + $$ % 20000)); NPORT=$((PORT + 1))
"$B" keygen --out "$T/key.pem" >/dev/null
"$B" load ca --out "$T/ca" >/dev/null
"$B" serve --listen 127.0.0.1:$PORT --data "$T/data" --key "$T/key.pem" --roots "$T/ca/roots.pem" \
  --log-level warn 2>>"$T/serve.log" &
SP=$!
for _ in $(seq 1 300); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
U=http://127.0.0.1:$PORT
"$B" load run --url $U --ca "$T/ca" --log-key "$T/key.pem" --requests $N --concurrency 256 \
  --json >"$T/load.json" 2>/dev/null
for _ in $(seq 1 100); do
  size=$(python3 -c "import json,urllib.request; print(json.load(urllib.request.urlopen('$U/ct/v1/get-sth'))['tree_size'])")
  [ "$size" = "$N" ] && break; sleep 0.1
done
[ "$size" = "$N" ] || { echo "bench_read: tree size $size, expected $N" >&2; exit 1; }
chmod -R a+rX "$T/data"

cat >"$T/nginx.conf" <<NG
worker_processes 1;
daemon off;
pid $T/nginx.pid;
error_log $T/nginx.err warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$NPORT;
    root $T/data;
    location = /checkpoint { default_type "text/plain; charset=utf-8"; add_header Cache-Control "public, max-age=1"; }
    location /tile/ { default_type application/octet-stream; add_header Cache-Control "public, max-age=31536000, immutable"; }
  }
}
NG
"$NGINX" -c "$T/nginx.conf" -p "$T" &
NP=$!
for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/$NPORT) 2>/dev/null && break; sleep 0.1; done

# 1,000 get-proof-by-hash paths for leaves spread over the tree, from the level-0 hash tiles.
python3 - "$T/data" "$N" >"$T/proof.lua" <<'PY'
import base64, os, random, sys, urllib.parse
d, n = sys.argv[1], int(sys.argv[2])
def tpath(k):
    s = "%03d" % (k % 1000); k //= 1000
    while k: s = "x%03d/%s" % (k % 1000, s); k //= 1000
    return s
hashes = []
for k in range(n // 256):
    b = open(os.path.join(d, "tile/0", tpath(k)), "rb").read()
    hashes += [b[i:i + 32] for i in range(0, len(b), 32)]
random.seed(1)
pick = random.sample(hashes, min(1000, len(hashes)))
print("paths = {")
for h in pick:
    q = urllib.parse.quote(base64.b64encode(h).decode(), safe="")
    print('  "/ct/v1/get-proof-by-hash?hash=%s&tree_size=%d",' % (q, n))
print("}\ni = 0\nrequest = function()\n  i = i % #paths + 1\n  return wrk.format(nil, paths[i])\nend")
PY
cat >"$T/entries.lua" <<LUA
i = 0
request = function()
  local start = (i * 1000) % ($N - 999)
  i = i + 1
  return wrk.format(nil, "/ct/v1/get-entries?start=" .. start .. "&end=" .. (start + 999))
end
LUA

# wrk's summary -> "reqs_per_s mb_per_s p99_ms"
run_wrk() { # url [script]
  local out
  out=$(wrk -t1 -c64 -d${DUR}s --latency ${2:+-s "$2"} "$1" 2>&1)
  echo "$out" | python3 -c '
import re, sys
t = sys.stdin.read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
m = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", t)
mb = float(m.group(1)) * {"B": 1e-6, "KB": 1.024e-3, "MB": 1.048576, "GB": 1073.741824}[m.group(2)]
p = re.search(r"99%\s+([\d.]+)(\w+)", t)
p99 = float(p.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3}[p.group(2)]
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
print("%.0f %.1f %.2f %s" % (rps, mb, p99, bad.group(1) if bad else 0))'
}
# CPU time (clock ticks, user + system) of the given processes, all their threads.
ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' /proc/$p/stat))); done; echo $t; }
# microseconds of CPU per request: ticks before, ticks after, requests/s
us_per_req() { python3 -c "print('%.1f' % (($2 - $1) * 1e6 / $(getconf CLK_TCK) / max(1.0, $3 * $DUR)))"; }
NW=$(pgrep -P "$NP" | tr '\n' ' ')
echo "bench=read op=setup entries=$N birch=$U nginx=http://127.0.0.1:$NPORT duration_s=$DUR wrk_threads=1 connections=64"
for c in "checkpoint /checkpoint" "tile /tile/0/000" "data_tile /tile/data/000"; do
  set -- $c
  b0=$(ticks $SP)
  read -r br bm bp be <<<"$(run_wrk "$U$2")"
  b1=$(ticks $SP); n0=$(ticks $NP $NW)
  read -r nr nm np ne <<<"$(run_wrk "http://127.0.0.1:$NPORT$2")"
  n1=$(ticks $NP $NW)
  echo "bench=read case=$1 birch_per_s=$br nginx_per_s=$nr ratio=$(python3 -c "print('%.2f' % ($br/$nr))")x" \
       "birch_mb_per_s=$bm nginx_mb_per_s=$nm birch_p99_ms=$bp nginx_p99_ms=$np" \
       "birch_cpu_us_per_req=$(us_per_req $b0 $b1 $br) nginx_cpu_us_per_req=$(us_per_req $n0 $n1 $nr)" \
       "errors=$((be + ne))"
done
read -r er em ep ee <<<"$(run_wrk "$U/" "$T/entries.lua")"
echo "bench=read case=get_entries pages_per_s=$er mb_per_s=$em p99_ms=$ep errors=$ee"
read -r pr pm pp pe <<<"$(run_wrk "$U/" "$T/proof.lua")"
echo "bench=read case=get_proof_by_hash tree=$N per_s=$pr p99_ms=$pp errors=$pe"
echo "bench=read op=cpu server_cpu_s=$(awk '{printf "%.1f", ($14+$15)/100}' /proc/$SP/stat)"
