/* tools/cmd_load.c: birch load ca, birch load run: the load generator. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/ctsig.h"
#include "net/config.h"
#include "tools/cmd.h"
#include "tools/load_client.h"
#include "tools/load_mint.h"

#define KEY_FILE_MAX     (1u << 20)
#define DEFAULT_CONC     32
#define DEFAULT_REQUESTS 10000
#define DEFAULT_POOL     100000
#define DEFAULT_RATE_CON 64
#define DEFAULT_TIMEOUT  10
#define DAY              86400
#define PROGRESS_NS      (5 * 1000000000ull)
#define PROGRESS_AFTER   (10 * 1000000000ull)
#define FD_SPARE         64

static const char load_usage[] =
        "usage: birch load ca --out DIR\n"
        "       birch load mint --ca DIR --count N --out FILE [--mix ...] [--precerts PERCENT]\n"
        "               [--not-after RFC3339] [--seed N]\n"
        "       birch load run --url http://HOST:PORT[/prefix] --ca DIR --log-key KEY.pem\n"
        "               [--mix rsa=1,p256=1,p384=1] [--precerts PERCENT]\n"
        "               [--concurrency N | --rate N] [--connections N] [--threads N]\n"
        "               [--duration SECONDS | --requests N] [--pool N] [--timeout SECONDS]\n"
        "               [--not-after RFC3339] [--seed N] [--json]\n"
        "\n"
        "ca    creates a test CA in DIR (mode 0700): a self-signed P-256 root and three\n"
        "      intermediates it signs (RSA-2048, P-256, P-384), each key and certificate as PEM\n"
        "      (root.pem, root.key.pem, rsa.pem, rsa.key.pem, p256.pem, ...), and roots.pem (the\n"
        "      root alone, for the log's --roots). A DIR that already holds a complete test CA\n"
        "      is reused; any other non-empty DIR is refused.\n"
        "mint  writes N minted chains to FILE, one add-chain body per line (JSON Lines), each\n"
        "      with an extra member \"precert\": true or false saying which endpoint takes it\n"
        "      (logs ignore members other than \"chain\"): for tests, curl and other clients.\n"
        "run   mints every chain it will send before the timed run (distinct leaves under the\n"
        "      CA's intermediates, certificates and precertificates, on all CPUs, progress on\n"
        "      stderr), then sends them as add-chain / add-pre-chain requests over HTTP/1.1\n"
        "      keep-alive connections and keeps every answer. The SCTs are verified only after\n"
        "      the timed window, so that verification takes no CPU from the server being\n"
        "      measured: each 200 answer is parsed, its log ID and signature checked against\n"
        "      --log-key (the log's private key as birch keygen writes it, or its public key),\n"
        "      and its leaf_index extension, when present (static-ct-api), must be distinct.\n"
        "\n"
        "  --mix             issuer weights (default rsa=1,p256=1,p384=1; a name left out is 0)\n"
        "  --precerts        percentage of precertificates (default 50)\n"
        "  --concurrency N   closed loop: N requests in flight (default 32)\n"
        "  --rate N          open loop: N requests per second, each due at a fixed time; latency\n"
        "                    counts from when a request was due, so queueing is not hidden, and\n"
        "                    one still queued --timeout after it was due is a timeout\n"
        "  --connections N   connections (default: the concurrency; 64 with --rate); one\n"
        "                    request at a time on each\n"
        "  --threads N       client event loops (default 1)\n"
        "  --duration S      closed loop: send for S seconds from a pool of --pool chains\n"
        "                    (default 100000; the run ends early if it is used up); open loop:\n"
        "                    rate x S requests\n"
        "  --requests N      send N requests (default 10000 when no --duration)\n"
        "  --timeout S       per request (default 10)\n"
        "  --not-after T     the leaves' NotAfter (default now + 90 days): it must fall in the\n"
        "                    log's NotAfter window\n"
        "  --seed N          chooses serials and the mix (default random; printed)\n"
        "  --json            the report as one JSON object on stdout\n"
        "\n"
        "Report: requests, ok (verified SCTs), errors by kind (connect, timeout, closed,\n"
        "http_400 with the first reason, http_503, http_other, bad_json, bad_log_id,\n"
        "bad_signature, duplicate_index), throughput (ok per second from the start to the last\n"
        "answer), latency p50/p90/p99/max of the 200 answers, mint rate (per core, per issuer)\n"
        "and the verification result. Progress every 5 s on stderr on runs longer than 10 s.\n"
        "Exit status: 0 every request got a verified SCT, 1 any did not, 2 usage or bad input.\n";

/* ---- argument helpers ---- */

static int
parse_mix(const char *s, unsigned w[LOAD_ISSUERS])
{
	memset(w, 0, sizeof(unsigned) * LOAD_ISSUERS);
	unsigned total = 0;
	while (*s) {
		const char *eq = strchr(s, '=');
		if (!eq)
			return -1;
		size_t nl = (size_t)(eq - s);
		int which = -1;
		for (unsigned i = 0; i < LOAD_ISSUERS; i++)
			if (strlen(load_issuer_name(i)) == nl &&
			    strncmp(s, load_issuer_name(i), nl) == 0)
				which = (int)i;
		if (which < 0)
			return -1;
		const char *v = eq + 1, *end = strchr(v, ',');
		size_t vl = end ? (size_t)(end - v) : strlen(v);
		char num[16];
		uint64_t x;
		if (vl == 0 || vl >= sizeof num)
			return -1;
		memcpy(num, v, vl);
		num[vl] = '\0';
		if (!cmd_parse_u64(num, &x) || x > 1000000)
			return -1;
		w[which] = (unsigned)x;
		total += (unsigned)x;
		s = end ? end + 1 : v + vl;
	}
	return total > 0 ? 0 : -1;
}

/* RFC 3339, the config's parser (one implementation of the format in Birch). */
static int
parse_rfc3339(const char *s, int64_t *out)
{
	return config_parse_time(s, strlen(s), out) == 0 ? 0 : -1;
}

/* The log's public key from a public key PEM or a private key PEM. */
static int
log_key_load(const char *path, struct ctsig_pub **pub)
{
	size_t len = 0;
	char *pem = cmd_read_file(path, KEY_FILE_MAX, &len);
	if (!pem)
		return cmd_usage_error("load run", "--log-key %s: %s", path, strerror(errno));
	const char *why = NULL;
	int rc = ctsig_pub_from_pem(pub, pem, len, &why);
	if (rc != 0) {
		struct ctsig_key *k = NULL;
		const char *why2 = NULL;
		if (ctsig_key_from_pem(&k, pem, len, &why2) == 0) {
			size_t sl = 0;
			const uint8_t *spki = ctsig_key_spki(k, &sl);
			rc = ctsig_pub_from_spki(pub, spki, sl, &why);
			ctsig_key_free(k);
		}
	}
	free(pem);
	if (rc != 0)
		return cmd_usage_error(
		        "load run",
		        "--log-key %s: neither a log public key nor a P-256 private key "
		        "PEM (%s)",
		        path, why ? why : "unreadable");
	return 0;
}

static uint64_t
mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- birch load ca ---- */

static int
load_ca(int argc, char **argv)
{
	const char *out = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(load_usage, stdout);
			return 0;
		} else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
			out = argv[++i];
		} else {
			return cmd_usage_error("load ca",
			                       "unknown or incomplete argument '%s' (try --help)",
			                       argv[i]);
		}
	}
	if (!out)
		return cmd_usage_error("load ca", "--out DIR is required (try --help)");
	bool reused = false;
	const char *why = NULL;
	int rc = load_ca_init_dir(out, &reused, &why);
	if (rc != 0)
		return cmd_usage_error("load ca", "--out %s: %s%s%s", out, why ? why : "",
		                       why ? ": " : "", strerror(-rc));
	if (reused)
		printf("%s: already holds a complete test CA; reusing it\n", out);
	else
		printf("%s: test CA written (root.pem, rsa.pem, p256.pem, p384.pem and their keys; "
		       "roots.pem for the log's --roots)\n",
		       out);
	return 0;
}

/* ---- birch load run ---- */

struct mint_progress {
	pthread_mutex_t lock;
	uint64_t t0, last;
	bool quiet;
};

static void
mint_progress_cb(void *ctx, uint64_t done, uint64_t n)
{
	struct mint_progress *mp = ctx;
	uint64_t now = mono_ns();
	pthread_mutex_lock(&mp->lock);
	if (now - mp->last >= PROGRESS_NS) {
		mp->last = now;
		double s = (double)(now - mp->t0) / 1e9;
		fprintf(stderr, "birch load: minted %" PRIu64 " of %" PRIu64 " chains (%.0f/s)\n",
		        done, n, s > 0 ? (double)done / s : 0);
	}
	pthread_mutex_unlock(&mp->lock);
}

static volatile sig_atomic_t interrupted;

static void
on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void
json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

struct run_args {
	const char *url, *ca_dir, *key_path;
	unsigned weight[LOAD_ISSUERS];
	uint64_t precerts, concurrency, rate, connections, threads, duration, requests, pool,
	        timeout, seed;
	int64_t not_after;
	bool have_conc, have_rate, have_duration, have_requests, have_seed, have_pool, json;
};

static double
per_s(uint64_t count, uint64_t ns)
{
	return ns ? (double)count * 1e9 / (double)ns : 0;
}

static void
report_text(const struct run_args *a, const struct load_report *rep, const struct load_set *set,
            bool pool_exhausted)
{
	const struct load_mint_stats *ms = &set->stats;
	printf("target    %s: %s, %" PRIu64 " connections, %" PRIu64 " thread%s, seed %" PRIu64
	       "\n",
	       a->url, a->rate ? "open loop" : "closed loop", a->connections, a->threads,
	       a->threads == 1 ? "" : "s", a->seed);
	if (a->rate)
		printf("          rate %" PRIu64 "/s\n", a->rate);
	else
		printf("          concurrency %" PRIu64 "\n", a->concurrency);
	printf("minted    %" PRIu64 " chains in %.2f s on %u threads (%.0f/s); per core:", set->n,
	       (double)ms->wall_ns / 1e9, ms->threads, per_s(set->n, ms->wall_ns));
	for (unsigned i = 0; i < LOAD_ISSUERS; i++)
		if (ms->count[i])
			printf(" %s %.0f/s", load_issuer_name(i),
			       per_s(ms->count[i], ms->sign_ns[i]));
	printf("\n");
	printf("requests  %" PRIu64 " sent, %" PRIu64 " ok, %" PRIu64 " failed", rep->requests,
	       rep->ok, rep->requests - rep->ok);
	if (rep->unsent)
		printf(" (%" PRIu64 " minted but not sent%s)", rep->unsent,
		       pool_exhausted ? "" : ": duration over or interrupted");
	printf("\n");
	if (pool_exhausted)
		printf("          the pool of %" PRIu64 " chains ran out before --duration: raise "
		       "--pool\n",
		       set->n);
	printf("errors   ");
	bool any = false;
	for (unsigned e = LOAD_E_CONNECT; e < LOAD_E_KINDS; e++) {
		if (!rep->err[e])
			continue;
		printf("%s %s %" PRIu64, any ? ";" : "", load_err_name(e), rep->err[e]);
		any = true;
		if (e == LOAD_E_HTTP_400)
			printf(" (first: \"%s\")", rep->first_400);
		else if (rep->why[e])
			printf(" (first: %s)", rep->why[e]);
	}
	printf(any ? "\n" : " none\n");
	printf("window    %.3f s: %.1f ok/s\n", (double)rep->window_ns / 1e9, rep->ok_per_s);
	if (rep->lat_n)
		printf("latency   p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms (%" PRIu64
		       " answers with HTTP 200%s)\n",
		       (double)rep->p50 / 1e6, (double)rep->p90 / 1e6, (double)rep->p99 / 1e6,
		       (double)rep->max / 1e6, rep->lat_n,
		       a->rate ? ", from when each was due" : "");
	else
		printf("latency   no HTTP 200 answers\n");
	uint64_t bad = rep->err[LOAD_E_BAD_JSON] + rep->err[LOAD_E_BAD_LOG_ID] +
	               rep->err[LOAD_E_BAD_SIG] + rep->err[LOAD_E_DUP_INDEX];
	printf("verify    %" PRIu64 " SCTs verified after the run, %" PRIu64 " refused; leaf_index "
	       "on %" PRIu64 "%s\n",
	       rep->ok, bad, rep->with_index,
	       rep->with_index ? (rep->err[LOAD_E_DUP_INDEX] ? ", some repeated" : ", all distinct")
	                       : " (not a static-ct-api log?)");
}

static void
report_json(const struct run_args *a, const struct load_report *rep, const struct load_set *set,
            bool pool_exhausted)
{
	const struct load_mint_stats *ms = &set->stats;
	printf("{\"url\":");
	json_str(stdout, a->url);
	printf(",\"mode\":\"%s\",\"concurrency\":%" PRIu64 ",\"rate\":%" PRIu64
	       ",\"connections\":%" PRIu64 ",\"threads\":%" PRIu64 ",\"seed\":%" PRIu64,
	       a->rate ? "rate" : "concurrency", a->rate ? 0 : a->concurrency, a->rate,
	       a->connections, a->threads, a->seed);
	printf(",\"requests\":%" PRIu64 ",\"unsent\":%" PRIu64
	       ",\"pool_exhausted\":%s,\"ok\":%" PRIu64 ",\"errors\":{",
	       rep->requests, rep->unsent, pool_exhausted ? "true" : "false", rep->ok);
	for (unsigned e = LOAD_E_CONNECT; e < LOAD_E_KINDS; e++)
		printf("%s\"%s\":%" PRIu64, e == LOAD_E_CONNECT ? "" : ",", load_err_name(e),
		       rep->err[e]);
	printf("},\"first_400\":");
	if (rep->err[LOAD_E_HTTP_400])
		json_str(stdout, rep->first_400);
	else
		printf("null");
	printf(",\"reasons\":{");
	bool first = true;
	for (unsigned e = LOAD_E_BAD_JSON; e < LOAD_E_KINDS; e++) {
		if (!rep->why[e])
			continue;
		printf("%s\"%s\":", first ? "" : ",", load_err_name(e));
		json_str(stdout, rep->why[e]);
		first = false;
	}
	printf("},\"window_s\":%.6f,\"throughput\":%.3f", (double)rep->window_ns / 1e9,
	       rep->ok_per_s);
	printf(",\"latency_ms\":{\"n\":%" PRIu64
	       ",\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"max\":%.3f}",
	       rep->lat_n, (double)rep->p50 / 1e6, (double)rep->p90 / 1e6, (double)rep->p99 / 1e6,
	       (double)rep->max / 1e6);
	printf(",\"mint\":{\"chains\":%" PRIu64 ",\"seconds\":%.3f,\"per_s\":%.1f,\"threads\":%u,"
	       "\"per_core_per_s\":{",
	       set->n, (double)ms->wall_ns / 1e9, per_s(set->n, ms->wall_ns), ms->threads);
	first = true;
	for (unsigned i = 0; i < LOAD_ISSUERS; i++) {
		if (!ms->count[i])
			continue;
		printf("%s\"%s\":%.1f", first ? "" : ",", load_issuer_name(i),
		       per_s(ms->count[i], ms->sign_ns[i]));
		first = false;
	}
	uint64_t bad = rep->err[LOAD_E_BAD_JSON] + rep->err[LOAD_E_BAD_LOG_ID] +
	               rep->err[LOAD_E_BAD_SIG] + rep->err[LOAD_E_DUP_INDEX];
	printf("}},\"verify\":{\"verified\":%" PRIu64 ",\"refused\":%" PRIu64
	       ",\"with_leaf_index\":%" PRIu64 ",\"leaf_index_distinct\":%s}}\n",
	       rep->ok, bad, rep->with_index, rep->err[LOAD_E_DUP_INDEX] ? "false" : "true");
}

static int
parse_run_args(int argc, char **argv, struct run_args *a)
{
	static const char *cmd = "load run";
	memset(a, 0, sizeof *a);
	a->weight[LOAD_RSA2048] = a->weight[LOAD_P256] = a->weight[LOAD_P384] = 1;
	a->precerts = 50;
	a->threads = 1;
	a->timeout = DEFAULT_TIMEOUT;
	a->pool = DEFAULT_POOL;
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		uint64_t *num = NULL;
		bool *flag = NULL;
		if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
			fputs(load_usage, stdout);
			return -1;
		} else if (strcmp(o, "--json") == 0) {
			a->json = true;
			continue;
		} else if (!v) {
			return cmd_usage_error(
			        cmd, "unknown or incomplete argument '%s' (try --help)", o);
		} else if (strcmp(o, "--url") == 0) {
			a->url = v;
		} else if (strcmp(o, "--ca") == 0) {
			a->ca_dir = v;
		} else if (strcmp(o, "--log-key") == 0) {
			a->key_path = v;
		} else if (strcmp(o, "--mix") == 0) {
			if (parse_mix(v, a->weight) != 0)
				return cmd_usage_error(
				        cmd,
				        "--mix: '%s' is not like rsa=1,p256=1,p384=1 "
				        "(weights 0..1000000, not all 0)",
				        v);
		} else if (strcmp(o, "--not-after") == 0) {
			if (parse_rfc3339(v, &a->not_after) != 0)
				return cmd_usage_error(cmd,
				                       "--not-after: '%s' is not an RFC 3339 time "
				                       "(2026-03-01T00:00:00Z)",
				                       v);
		} else if (strcmp(o, "--precerts") == 0) {
			num = &a->precerts;
		} else if (strcmp(o, "--concurrency") == 0) {
			num = &a->concurrency, flag = &a->have_conc;
		} else if (strcmp(o, "--rate") == 0) {
			num = &a->rate, flag = &a->have_rate;
		} else if (strcmp(o, "--connections") == 0) {
			num = &a->connections;
		} else if (strcmp(o, "--threads") == 0) {
			num = &a->threads;
		} else if (strcmp(o, "--duration") == 0) {
			num = &a->duration, flag = &a->have_duration;
		} else if (strcmp(o, "--requests") == 0) {
			num = &a->requests, flag = &a->have_requests;
		} else if (strcmp(o, "--pool") == 0) {
			num = &a->pool, flag = &a->have_pool;
		} else if (strcmp(o, "--timeout") == 0) {
			num = &a->timeout;
		} else if (strcmp(o, "--seed") == 0) {
			num = &a->seed, flag = &a->have_seed;
		} else {
			return cmd_usage_error(cmd, "unknown argument '%s' (try --help)", o);
		}
		if (num && !cmd_parse_u64(v, num))
			return cmd_usage_error(cmd, "%s: '%s' is not a whole number", o, v);
		if (flag)
			*flag = true;
		i++;
	}
	if (!a->url || !a->ca_dir || !a->key_path)
		return cmd_usage_error(cmd, "--url, --ca and --log-key are required (try --help)");
	if (a->have_conc && a->have_rate)
		return cmd_usage_error(cmd, "--concurrency and --rate: give one");
	if (a->have_duration && a->have_requests)
		return cmd_usage_error(cmd, "--duration and --requests: give one");
	if (a->precerts > 100)
		return cmd_usage_error(cmd, "--precerts: a percentage from 0 to 100");
	if (a->have_rate && (a->rate == 0 || a->rate > 10000000))
		return cmd_usage_error(cmd, "--rate: from 1 to 10000000 per second");
	if (!a->have_rate)
		a->concurrency = a->have_conc ? a->concurrency : DEFAULT_CONC;
	if (!a->have_rate && (a->concurrency == 0 || a->concurrency > 100000))
		return cmd_usage_error(cmd, "--concurrency: from 1 to 100000");
	if (a->have_duration && (a->duration == 0 || a->duration > 7 * DAY))
		return cmd_usage_error(cmd, "--duration: from 1 to 604800 seconds");
	if (a->have_requests && (a->requests == 0 || a->requests > 100000000))
		return cmd_usage_error(cmd, "--requests: from 1 to 100000000");
	if (a->have_pool && (a->pool == 0 || a->pool > 100000000))
		return cmd_usage_error(cmd, "--pool: from 1 to 100000000");
	if (a->have_pool && (a->have_rate || !a->have_duration))
		return cmd_usage_error(cmd, "--pool: only with --concurrency and --duration");
	if (a->timeout == 0 || a->timeout > 3600)
		return cmd_usage_error(cmd, "--timeout: from 1 to 3600 seconds");
	if (a->connections == 0)
		a->connections = a->have_rate ? DEFAULT_RATE_CON : a->concurrency;
	if (a->connections > 100000)
		return cmd_usage_error(cmd, "--connections: at most 100000");
	if (!a->have_rate && a->connections < a->concurrency)
		return cmd_usage_error(
		        cmd, "--connections: at least --concurrency (one request at a time "
		             "on each connection)");
	if (a->threads == 0 || a->threads > 255 || a->threads > a->connections ||
	    (!a->have_rate && a->threads > a->concurrency))
		return cmd_usage_error(cmd, "--threads: from 1 to 255, at most one per connection "
		                            "(and per request in flight)");
	/* How many chains to mint. */
	if (a->have_rate)
		a->requests = a->have_duration
		                      ? a->rate * a->duration
		                      : (a->have_requests ? a->requests : DEFAULT_REQUESTS);
	else if (a->have_duration)
		a->requests = a->pool;
	else if (!a->have_requests)
		a->requests = DEFAULT_REQUESTS;
	if (a->requests > 100000000)
		return cmd_usage_error(cmd, "--rate x --duration: at most 100000000 requests");
	if (!a->have_seed) {
		uint64_t s = 0;
		if (getrandom(&s, sizeof s, 0) != (ssize_t)sizeof s)
			s = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
		a->seed = s;
	}
	return 0;
}

static int
load_run_cmd(int argc, char **argv)
{
	static const char *cmd = "load run";
	struct run_args a;
	int rc = parse_run_args(argc, argv, &a);
	if (rc != 0)
		return rc < 0 ? 0 : rc;
	const char *why = NULL;
	struct load_target target;
	if (load_target_parse(&target, a.url, &why) != 0)
		return cmd_usage_error(cmd, "--url %s: %s", a.url, why);
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    a.connections + FD_SPARE > rl.rlim_cur)
		return cmd_usage_error(cmd,
		                       "--connections %" PRIu64 ": above the open-file limit %lu",
		                       a.connections, (unsigned long)rl.rlim_cur);
	struct ctsig_pub *pub = NULL;
	rc = log_key_load(a.key_path, &pub);
	if (rc != 0)
		return rc;
	struct load_ca *ca = NULL;
	if (load_ca_load(&ca, a.ca_dir, &why) != 0) {
		ctsig_pub_free(pub);
		return cmd_usage_error(cmd, "--ca %s: %s (make one with birch load ca --out DIR)",
		                       a.ca_dir, why);
	}
	int64_t now = (int64_t)time(NULL);
	if (a.not_after == 0)
		a.not_after = now + 90 * DAY;
	int64_t not_before = now - 3600;
	if (not_before >= a.not_after)
		not_before = a.not_after - DAY;

	/* Mint everything first. */
	struct load_plan plan = {
	        .n = a.requests,
	        .precert_pct = (unsigned)a.precerts,
	        .tmpl = {.not_before = not_before, .not_after = a.not_after, .seed = a.seed},
	        .host = target.host,
	        .prefix = target.prefix,
	};
	memcpy(plan.weight, a.weight, sizeof plan.weight);
	struct mint_progress mp = {.t0 = mono_ns()};
	mp.last = mp.t0;
	pthread_mutex_init(&mp.lock, NULL);
	fprintf(stderr, "birch load: minting %" PRIu64 " chains (seed %" PRIu64 ")\n", plan.n,
	        a.seed);
	struct load_set set;
	rc = load_set_mint(&set, ca, &plan, mint_progress_cb, &mp, &why);
	pthread_mutex_destroy(&mp.lock);
	load_ca_free(ca);
	if (rc != 0) {
		ctsig_pub_free(pub);
		return cmd_usage_error(cmd, "minting: %s", why ? why : strerror(-rc));
	}
	fprintf(stderr, "birch load: minted %" PRIu64 " chains in %.1f s; sending to %s\n", set.n,
	        (double)set.stats.wall_ns / 1e9, a.url);

	/* The timed run. */
	struct load_run_opts ro = {
	        .target = &target,
	        .concurrency = a.rate ? 0 : (unsigned)a.concurrency,
	        .rate = a.rate,
	        .connections = (unsigned)a.connections,
	        .threads = (unsigned)a.threads,
	        .duration_ns = !a.rate && a.have_duration ? a.duration * 1000000000ull : 0,
	        .timeout_ns = a.timeout * 1000000000ull,
	};
	uint64_t expect_ns = a.rate ? set.n * 1000000000ull / a.rate : ro.duration_ns;
	struct sigaction sa = {.sa_handler = on_sigint}, old_sa;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_sa);
	struct load_run *run = NULL;
	rc = load_run_start(&run, &set, &ro, &why);
	if (rc != 0) {
		sigaction(SIGINT, &old_sa, NULL);
		load_set_free(&set);
		ctsig_pub_free(pub);
		return cmd_usage_error(cmd, "%s", why);
	}
	uint64_t t0 = mono_ns(), next_print = t0 + PROGRESS_NS;
	struct load_progress last = {0};
	bool stopped = false;
	while (!load_run_wait(run, 100)) {
		if (interrupted && !stopped) {
			fprintf(stderr,
			        "birch load: interrupted; waiting for requests in flight\n");
			load_run_stop(run);
			stopped = true;
		}
		uint64_t t = mono_ns();
		if (t >= next_print) {
			struct load_progress p;
			load_run_progress(run, &p);
			if (expect_ns > PROGRESS_AFTER || t - t0 >= PROGRESS_AFTER)
				fprintf(stderr,
				        "birch load: %4.0f s: %" PRIu64 " sent, %" PRIu64
				        " answered 200, %" PRIu64
				        " failed; %.0f answers/s in the last "
				        "5 s\n",
				        (double)(t - t0) / 1e9, p.sent, p.http_200, p.failed,
				        (double)(p.answered - last.answered) * 1e9 /
				                (double)(t - next_print + PROGRESS_NS));
			last = p;
			next_print += PROGRESS_NS;
		}
	}
	sigaction(SIGINT, &old_sa, NULL);
	struct load_progress fin;
	load_run_progress(run, &fin);
	bool pool_exhausted = !a.rate && a.have_duration && !stopped && fin.sent == set.n &&
	                      mono_ns() - t0 < ro.duration_ns;

	/* Verification, after the window. */
	if (!a.json)
		fprintf(stderr, "birch load: verifying %" PRIu64 " answers\n", fin.http_200);
	struct load_verify_opts vo = {.pub = pub, .threads = 0};
	struct load_report rep;
	rc = load_run_verify(run, &vo, &why);
	if (rc == 0)
		rc = load_run_report(run, &rep);
	if (rc != 0) {
		load_run_free(run);
		load_set_free(&set);
		ctsig_pub_free(pub);
		fprintf(stderr, "birch load run: %s\n", why ? why : strerror(-rc));
		return EXIT_NEGATIVE;
	}
	if (a.json)
		report_json(&a, &rep, &set, pool_exhausted);
	else
		report_text(&a, &rep, &set, pool_exhausted);
	fflush(stdout);
	bool all_ok = rep.requests > 0 && rep.ok == rep.requests;
	load_run_free(run);
	load_set_free(&set);
	ctsig_pub_free(pub);
	return all_ok ? 0 : EXIT_NEGATIVE;
}

/* ---- birch load mint ---- */

static int
load_mint_cmd(int argc, char **argv)
{
	const char *cmd = "load mint", *ca_dir = NULL, *out = NULL, *mix = NULL, *na = NULL;
	uint64_t count = 0, precerts = 50, seed = 0;
	bool have_seed = false;
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
			fputs(load_usage, stdout);
			return 0;
		}
		if (i + 1 >= argc)
			return cmd_usage_error(
			        cmd, "unknown or incomplete argument '%s' (try --help)", o);
		const char *v = argv[++i];
		if (strcmp(o, "--ca") == 0)
			ca_dir = v;
		else if (strcmp(o, "--out") == 0)
			out = v;
		else if (strcmp(o, "--mix") == 0)
			mix = v;
		else if (strcmp(o, "--not-after") == 0)
			na = v;
		else if (strcmp(o, "--count") == 0 && cmd_parse_u64(v, &count))
			;
		else if (strcmp(o, "--precerts") == 0 && cmd_parse_u64(v, &precerts))
			;
		else if (strcmp(o, "--seed") == 0 && cmd_parse_u64(v, &seed))
			have_seed = true;
		else
			return cmd_usage_error(cmd, "bad argument %s '%s' (try --help)", o, v);
	}
	if (!ca_dir || !out || count == 0)
		return cmd_usage_error(cmd, "--ca, --count and --out are required (try --help)");
	if (count > 10000000)
		return cmd_usage_error(cmd, "--count: from 1 to 10000000");
	if (precerts > 100)
		return cmd_usage_error(cmd, "--precerts: a percentage from 0 to 100");
	struct load_plan plan = {
	        .n = count, .weight = {1, 1, 1}, .precert_pct = (unsigned)precerts};
	if (mix && parse_mix(mix, plan.weight) != 0)
		return cmd_usage_error(cmd, "--mix: expected rsa=N,p256=N,p384=N, got '%s'", mix);
	int64_t now = (int64_t)time(NULL);
	plan.tmpl.not_before = now - DAY;
	plan.tmpl.not_after = now + 90 * DAY;
	if (na && parse_rfc3339(na, &plan.tmpl.not_after) != 0)
		return cmd_usage_error(cmd, "--not-after: not an RFC 3339 time: '%s'", na);
	if (!have_seed && getrandom(&seed, sizeof seed, 0) != sizeof seed)
		seed = (uint64_t)now;
	plan.tmpl.seed = seed;
	plan.host = "localhost";
	plan.prefix = "";
	const char *why = NULL;
	struct load_ca *ca = NULL;
	int rc = load_ca_load(&ca, ca_dir, &why);
	if (rc != 0)
		return cmd_usage_error(cmd, "--ca %s: %s", ca_dir, why ? why : strerror(-rc));
	struct load_set set = {0};
	rc = load_set_mint(&set, ca, &plan, NULL, NULL, &why);
	load_ca_free(ca);
	if (rc != 0) {
		fprintf(stderr, "birch load mint: %s\n", why ? why : strerror(-rc));
		return EXIT_NEGATIVE;
	}
	FILE *f = fopen(out, "w");
	if (!f) {
		load_set_free(&set);
		return cmd_usage_error(cmd, "--out %s: %s", out, strerror(errno));
	}
	for (uint64_t i = 0; i < set.n; i++) {
		const struct load_req *r = &set.req[i];
		const char *slot = load_set_slot(&set, i);
		const char *body = memmem(slot, r->len, "\r\n\r\n", 4);
		if (!body || body[4] != '{')
			continue;
		body += 5; /* past the '{' */
		fprintf(f, "{\"precert\":%s,%.*s%.*s\n", r->precert ? "true" : "false",
		        (int)(slot + r->len - body), body, (int)set.tail[r->issuer].len,
		        set.tail[r->issuer].bytes);
	}
	load_set_free(&set);
	if (fclose(f) != 0)
		return cmd_usage_error(cmd, "--out %s: %s", out, strerror(errno));
	fprintf(stderr, "birch load mint: %" PRIu64 " chains in %s (seed %" PRIu64 ")\n", count,
	        out, seed);
	return 0;
}

int
cmd_load(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(load_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	if (strcmp(argv[1], "ca") == 0)
		return load_ca(argc - 1, argv + 1);
	if (strcmp(argv[1], "run") == 0)
		return load_run_cmd(argc - 1, argv + 1);
	if (strcmp(argv[1], "mint") == 0)
		return load_mint_cmd(argc - 1, argv + 1);
	return cmd_usage_error("load", "unknown subcommand '%s' (try --help)", argv[1]);
}
