#!/bin/sh
# bench/http/compare.sh: h2o 2.2.5 against libmicrohttpd 0.9.75 for the gateway's pattern
# (POST handed to a worker thread and answered from the event loop; GET of a 4 KB body), with
# wrk over keep-alive. Prints req/s and the server's CPU seconds per 100k requests
# (utime+stime from /proc/PID/stat) side by side. Not part of the meson build:
#   gcc -O2 -o OUT/http_h2o http_h2o.c $(pkg-config --cflags --libs libh2o-evloop) -lpthread
#   gcc -O2 -o OUT/http_mhd http_mhd.c $(pkg-config --cflags --libs libmicrohttpd) -lpthread
# Usage: bench/http/compare.sh [ROUNDS] [DURATION_S] [CONNECTIONS] [SPIN_US]
# shellcheck disable=SC2046,SC2086 # pkg-config's flags, wrk's arguments and run's fields
# are split into words on purpose.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
rounds=${1:-3}
dur=${2:-5}
conns=${3:-64}
spin=${4:-0}
out=${TMPDIR:-/tmp}/birch-http-bench
mkdir -p "$out"
gcc -O2 -Wall -Wextra -o "$out/http_h2o" "$here/http_h2o.c" \
	$(pkg-config --cflags --libs libh2o-evloop) -lpthread
gcc -O2 -Wall -Wextra -o "$out/http_mhd" "$here/http_mhd.c" \
	$(pkg-config --cflags --libs libmicrohttpd) -lpthread
tck=$(getconf CLK_TCK)

cpu_ticks() { # utime + stime of PID, in clock ticks (fields 14 and 15 of /proc/PID/stat)
	sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# run SERVER PORT CASE: one wrk run; prints "req/s cpu_s_per_100k"
run() {
	"$out/$1" "$2" "$spin" &
	pid=$!
	sleep 0.3
	case $3 in
	post) args="-s $here/post.lua http://127.0.0.1:$2/ct/v1/add-chain" ;;
	get) args="http://127.0.0.1:$2/static" ;;
	esac
	c0=$(cpu_ticks $pid)
	res=$(wrk -t1 -c"$conns" -d"${dur}s" $args)
	c1=$(cpu_ticks $pid)
	kill $pid
	wait $pid 2>/dev/null || true
	reqs=$(echo "$res" | awk '/requests in/ { print $1 }')
	rps=$(echo "$res" | awk '/Requests\/sec/ { print $2 }')
	errs=$(echo "$res" | awk '/Non-2xx|Socket errors/ { printf "%s ", $0 }')
	echo "$rps $(echo "$c0 $c1 $tck $reqs" | awk '{ printf "%.3f", ($2 - $1) / $3 / $4 * 100000 }') $errs"
}

printf '%-5s %-6s %5s %12s %16s %12s %16s\n' round case conns h2o_req/s h2o_cpu_s/100k \
	mhd_req/s mhd_cpu_s/100k
r=1
while [ $r -le "$rounds" ]; do
	for c in post get; do
		set -- $(run http_h2o 18180 $c)
		h_rps=$1 h_cpu=$2
		set -- $(run http_mhd 18181 $c)
		m_rps=$1 m_cpu=$2
		printf '%-5s %-6s %5s %12s %16s %12s %16s\n' $r $c "$conns" "$h_rps" "$h_cpu" \
			"$m_rps" "$m_cpu"
	done
	r=$((r + 1))
done
