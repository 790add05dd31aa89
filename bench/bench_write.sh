#!/usr/bin/env bash
# bench/bench_write.sh: add-chain throughput and latency of `birch serve` under `birch load`,
# beside the crypto bound measured in the same run.
#
# Crypto bound: what the server's cores could do if they did nothing but the cryptography an
# entry needs: verify the leaf's signature with its issuer's key (the fastest raw verifier per
# key type, from bench_ct: OpenSSL for RSA-2048 and P-256, nettle for P-384) and make one raw
# ECDSA P-256 signature (OpenSSL EVP_PKEY_sign). For a mix with weights w_i:
#   bound = cores / (sum_i (w_i / W) / verify_i + 1 / sign)      entries per second
# `cores` is the lcores the server gets (workers = the machine's CPUs); the load generator runs
# on the same CPUs, so the ratio is charged for its share too (the script prints both CPU
# shares).
#
# Per mix: max throughput (closed loop, 512 in flight), then latency at half of that rate (open
# loop, latency from each request's due time), with the default batch deadline of 10 ms. Then
# overload: 4x more in flight than the pool allows: the 503 count and the server's RSS, sampled
# every second (it must stay flat).
#
# Usage: bench/bench_write.sh [BUILD_DIR] [--quick]   (BUILD_DIR default: build; it must have
# been configured with -Dbench=true). Prints one "bench=write ..." line per figure.
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
CT=$BUILD/bench/bench_ct
[ -x "$B" ] || { echo "bench_write: $B not built" >&2; exit 2; }
[ -x "$CT" ] || { echo "bench_write: $CT not built (meson configure $BUILD -Dbench=true)" >&2; exit 2; }
CORES=$(nproc)
ulimit -n 65536 2>/dev/null || true
T=$(mktemp -d /tmp/birch-bench-write-XXXXXX)
SP=
cleanup() { [ -n "$SP" ] && kill -TERM "$SP" 2>/dev/null && wait "$SP" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
"$B" keygen --out "$T/key.pem" >/dev/null
"$B" load ca --out "$T/ca" >/dev/null
if [ $QUICK = 1 ]; then N_MAX=3000; DUR=3; OVER=4; OPOOL=20000; else N_MAX=150000; DUR=20; OVER=30; OPOOL=400000; fi

PORT=$((20000 + $$ % 20000))
start_server() { # $1 data dir, then extra args
  local d=$1; shift
  "$B" serve --listen 127.0.0.1:$PORT --data "$d" --key "$T/key.pem" --roots "$T/ca/roots.pem" \
    --log-level warn "$@" 2>>"$T/serve.log" &
  SP=$!
  for _ in $(seq 1 300); do
    (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && return 0
    sleep 0.1
  done
  echo "bench_write: server did not start:" >&2; tail -5 "$T/serve.log" >&2; exit 1
}
stop_server() { kill -TERM "$SP"; wait "$SP" || true; SP=; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
jget() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }
load() { "$B" load run --url http://127.0.0.1:$PORT --ca "$T/ca" --log-key "$T/key.pem" --json "$@"; }

# ---- the crypto bound, measured now -----------------------------------------------------------
echo "# bench_ct: raw verify and sign rates per core (same run)" >&2
"$CT" $([ $QUICK = 1 ] && echo --quick) >"$T/ct.txt"
raw() { grep "issuer=$1 " "$T/ct.txt" | sed 's/.* raw_per_s=\([0-9.]*\).*/\1/'; }
V_RSA=$(raw RSA-2048); V_P256=$(raw P-256); V_P384=$(raw P-384)
SIGN=$(grep "op=sct_sign" "$T/ct.txt" | sed 's/.* raw_per_s=\([0-9.]*\).*/\1/')
SCT_SIGN=$(grep "op=sct_sign" "$T/ct.txt" | sed 's/.* per_s=\([0-9.]*\) ns_per_op.*/\1/')
echo "bench=write op=raw cores=$CORES verify_rsa_per_s=$V_RSA verify_p256_per_s=$V_P256 verify_p384_per_s=$V_P384 sign_p256_per_s=$SIGN birch_sct_sign_per_s=$SCT_SIGN"

bound() { # weights rsa p256 p384
  python3 -c "
import sys
w=[float(x) for x in sys.argv[1:4]]; v=[float(x) for x in sys.argv[4:7]]; s=float(sys.argv[7]); c=int(sys.argv[8])
per=sum(wi/sum(w)/vi for wi,vi in zip(w,v))+1/s
print('%.0f' % (c/per))" "$@" "$V_RSA" "$V_P256" "$V_P384" "$SIGN" "$CORES"
}

run_mix() { # name rsa p256 p384
  local name=$1 w="rsa=$2,p256=$3,p384=$4" b
  b=$(bound "$2" "$3" "$4")
  local d="$T/data-$name"
  start_server "$d"
  local s0 l0 s1
  s0=$(cpu_ticks "$SP")
  load --mix "$w" --concurrency 512 --requests "$N_MAX" >"$T/max.json" 2>"$T/load.err" &
  local lp=$!
  wait $lp || true
  s1=$(cpu_ticks "$SP")
  local tput win
  tput=$(jget "$T/max.json" "d['throughput']")
  win=$(jget "$T/max.json" "d['window_s']")
  echo "bench=write mix=$name case=max add_chain_per_s=$tput bound_per_s=$b ratio=$(python3 -c "print('%.2f' % ($tput/$b))")x" \
       "p50_ms=$(jget "$T/max.json" "d['latency_ms']['p50']") p99_ms=$(jget "$T/max.json" "d['latency_ms']['p99']")" \
       "ok=$(jget "$T/max.json" "d['ok']") errors=$(jget "$T/max.json" "sum(d['errors'].values())")" \
       "server_cpu_s=$(python3 -c "print('%.1f' % (($s1-$s0)/100))") window_s=$win"
  local half
  half=$(python3 -c "print(max(1, int($tput/2)))")
  load --mix "$w" --rate "$half" --connections 1024 --duration "$DUR" >"$T/half.json" 2>"$T/load.err" || true
  echo "bench=write mix=$name case=half_rate rate_per_s=$half" \
       "achieved_per_s=$(jget "$T/half.json" "d['throughput']")" \
       "p50_ms=$(jget "$T/half.json" "d['latency_ms']['p50']") p90_ms=$(jget "$T/half.json" "d['latency_ms']['p90']")" \
       "p99_ms=$(jget "$T/half.json" "d['latency_ms']['p99']") max_ms=$(jget "$T/half.json" "d['latency_ms']['max']")" \
       "ok=$(jget "$T/half.json" "d['ok']") errors=$(jget "$T/half.json" "sum(d['errors'].values())")"
  stop_server
}

run_mix p256 0 1 0
run_mix mixed 1 1 1

# ---- overload: memory stays flat, the excess gets 503 --------------------------------------------
start_server "$T/data-over" --pool 1024
load --mix p256=1 --concurrency 4096 --connections 4096 --duration "$OVER" --pool "$OPOOL" \
  >"$T/over.json" 2>"$T/load.err" &
LP=$!
RSS=()
while kill -0 $LP 2>/dev/null; do
  RSS+=("$(awk '/VmRSS/ {print $2}' /proc/$SP/status)")
  sleep 1
done
wait $LP || true
python3 - "$T/over.json" "${RSS[@]}" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
rss = [int(x) for x in sys.argv[2:] if x]
half = rss[len(rss) // 2:] or rss
print("bench=write case=overload in_flight=4096 pool=1024 ok=%d http_503=%d other_errors=%d "
      "rss_mb_first=%.1f rss_mb_max=%.1f rss_mb_last=%.1f rss_mb_growth_second_half=%.1f samples=%d"
      % (d["ok"], d["errors"]["http_503"], sum(d["errors"].values()) - d["errors"]["http_503"],
         rss[0] / 1024, max(rss) / 1024, rss[-1] / 1024, (max(half) - half[0]) / 1024, len(rss)))
print("bench=write case=overload rss_mb_series=" + ",".join("%.0f" % (r / 1024) for r in rss))
EOF
stop_server
