/* bench/bench_proof.c: proof generation on one core over a large log on disk, beside the
 * batched node hasher measured in the same run.
 *
 *   bench_proof [--entries N] [--proofs K] [--dir D] [--keep] [--quick]
 *
 * Builds a plain-format log of N entries (default 10,000,000; --quick 300,000) in a fresh
 * directory under --dir, $TMPDIR or /tmp (about 60 bytes of disk per entry), records a head,
 * waits for the hash index, then times on this thread, K random leaves each (default 200,000):
 *   hash_lookup         the leaf-hash index (store_hash_get), as get-proof-by-hash does first
 *   inclusion_cold      an inclusion proof from the tiles with a fresh node source per proof
 *                       (every tile read and reduced again, as a client does)
 *   inclusion_cached    the same through a tlog reader, whose expanded-tile cache persists
 *   consistency_cached  consistency proofs from a random earlier size to N
 *   get_proof_by_hash   the whole request in net/rd.c: query parsing, base64, the index, the
 *                       proof and the JSON answer, as a gateway thread runs it
 * Every answer of the last case is checked for status 200 and, for a sample, its audit path
 * is verified against the root. Figures are per second on one core, with the cost of one
 * proof in batched node hashes (node_ns, sha256x_pairs at batch 256 measured in the same
 * run). --keep leaves the log and prints its directory; --dir D with a log already of N
 * entries in D/log reuses it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/b64.h"
#include "engine/merkle.h"
#include "engine/sha256x.h"
#include "engine/tiles.h"
#include "engine/tlog.h"
#include "net/rd.h"
#include "storage/store.h"
#include "tests/lib/plainlog.h"

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng = 0x5eed;

static uint64_t
next(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void
die(const char *what, const char *why)
{
	fprintf(stderr, "bench_proof: %s: %s\n", what, why ? why : "failed");
	exit(1);
}

/* A plain-format log of n entries with a head at n (tests/lib/plainlog.h). */
static void
build(struct tlog *t, uint64_t n)
{
	const char *why = NULL;
	double t0 = now();
	if (plainlog_fill(t, n, 4096, "birch.bench/proof", &why) < 0)
		die("building the log", why);
	printf("bench=proof op=build entries=%" PRIu64 " seconds=%.1f\n", n, now() - t0);
}

static double node_ns_best = 1e9;

/* ns per node of sha256x_pairs at batch 256. */
static void
node_baseline(void)
{
	static merkle_hash_t in[512], out[256];
	for (size_t i = 0; i < 512; i++)
		for (int w = 0; w < 4; w++) {
			uint64_t v = next();
			memcpy(in[i] + 8 * w, &v, 8);
		}
	long n = 0;
	double t0 = now(), t;
	do {
		for (int i = 0; i < 100; i++)
			sha256x_pairs((uint8_t(*)[32])out, (const uint8_t(*)[32])in, 256);
		n += 100 * 256;
		t = now() - t0;
	} while (t < 0.3);
	double ns = t * 1e9 / (double)n;
	if (ns < node_ns_best)
		node_ns_best = ns;
}

static void
report(const char *op, uint64_t n, long k, double secs, const char *extra)
{
	double us = secs * 1e6 / (double)k;
	printf("bench=proof op=%s tree=%" PRIu64 " count=%ld us_each=%.2f per_s_one_core=%.0f "
	       "node_hashes_each=%.0f%s%s\n",
	       op, n, k, us, (double)k / secs, us * 1000 / node_ns_best, extra ? " " : "",
	       extra ? extra : "");
}

struct picks {
	uint64_t *index;
	merkle_hash_t *hash;
	char (*query)[160];
	long n;
};

static void
pick(struct tlog_reader *rr, uint64_t n, long k, struct picks *p)
{
	p->n = k;
	p->index = malloc((size_t)k * sizeof *p->index);
	p->hash = malloc((size_t)k * sizeof *p->hash);
	p->query = malloc((size_t)k * sizeof *p->query);
	if (!p->index || !p->hash || !p->query)
		die("picks", "out of memory");
	struct merkle_source src = tlog_reader_source(rr, n);
	for (long i = 0; i < k; i++) {
		p->index[i] = next() % n;
		if (src.node(src.ctx, 0, p->index[i], p->hash[i]) != 0)
			die("leaf hash", "tile read failed");
		char b[48];
		b64_encode(b, p->hash[i], 32);
		/* '+', '/' and '=' percent-encoded, as a client sends them */
		int o = snprintf(p->query[i], sizeof p->query[i], "hash=");
		for (const char *c = b; *c; c++)
			o += *c == '+'   ? sprintf(p->query[i] + o, "%%2B")
			     : *c == '/' ? sprintf(p->query[i] + o, "%%2F")
			     : *c == '=' ? sprintf(p->query[i] + o, "%%3D")
			                 : sprintf(p->query[i] + o, "%c", *c);
		snprintf(p->query[i] + o, sizeof p->query[i] - (size_t)o, "&tree_size=%" PRIu64, n);
	}
}

static void
run(struct tlog *t, uint64_t n, long k)
{
	struct tlog_reader *rr = NULL, *fresh = NULL;
	if (tlog_reader_open(t, &rr) < 0 || tlog_reader_open(t, &fresh) < 0)
		die("reader", NULL);
	struct picks p;
	pick(fresh, n, k, &p);
	merkle_hash_t root, proof[MERKLE_MAX_PROOF];
	tlog_root(t, root);
	size_t len;

	node_baseline();
	/* hash_lookup */
	struct store_reader *sr = tlog_reader_store(rr);
	double t0 = now();
	for (long i = 0; i < k; i++) {
		uint64_t idx;
		if (store_hash_get(sr, p.hash[i], &idx) != 0 || idx != p.index[i])
			die("hash lookup", "wrong answer");
	}
	report("hash_lookup", n, k, now() - t0, NULL);

	/* inclusion_cold: a tiles source without the cache, fresh per proof */
	long kc = k / 10 ? k / 10 : 1;
	node_baseline();
	t0 = now();
	for (long i = 0; i < kc; i++) {
		tlog_reader_close(fresh);
		if (tlog_reader_open(t, &fresh) < 0)
			die("reader", NULL);
		struct merkle_source src = tlog_reader_source(fresh, n);
		if (merkle_inclusion_proof(&src, p.index[i], n, proof, &len) != 0)
			die("inclusion", "failed");
	}
	report("inclusion_cold", n, kc, now() - t0, "source=fresh_reader_per_proof");

	node_baseline();
	t0 = now();
	for (long i = 0; i < k; i++) {
		struct merkle_source src = tlog_reader_source(rr, n);
		if (merkle_inclusion_proof(&src, p.index[i], n, proof, &len) != 0)
			die("inclusion", "failed");
	}
	report("inclusion_cached", n, k, now() - t0, "source=tlog_reader");
	for (long i = 0; i < k && i < 2000; i++) {
		struct merkle_source src = tlog_reader_source(rr, n);
		if (merkle_inclusion_proof(&src, p.index[i], n, proof, &len) != 0 ||
		    merkle_verify_inclusion(p.index[i], n, p.hash[i], proof, len, root, NULL) != 0)
			die("inclusion", "does not verify");
	}

	t0 = now();
	for (long i = 0; i < k; i++) {
		struct merkle_source src = tlog_reader_source(rr, n);
		if (merkle_consistency_proof(&src, p.index[i] + 1, n, proof, &len) != 0)
			die("consistency", "failed");
	}
	report("consistency_cached", n, k, now() - t0, "source=tlog_reader");

	/* the request as the gateway runs it */
	struct rd *r = NULL;
	struct tlog *const logs[1] = {t};
	if (rd_open(&r, logs, 1, 0) < 0)
		die("rd", NULL);
	static const char path[] = "/ct/v1/get-proof-by-hash";
	long bad = 0;
	size_t bytes = 0;
	node_baseline();
	t0 = now();
	for (long i = 0; i < k; i++) {
		struct rd_resp a;
		rd_get(r, 0, true, path, sizeof path - 1, p.query[i], strlen(p.query[i]), &a);
		bad += a.status != 200;
		bytes += a.len;
	}
	double secs = now() - t0;
	char extra[96];
	snprintf(extra, sizeof extra, "errors=%ld json_bytes_each=%.0f", bad, (double)bytes / k);
	report("get_proof_by_hash", n, k, secs, extra);
	if (bad)
		die("get-proof-by-hash", "non-200 answers");
	/* the answers verify: parse the audit path of a sample */
	for (long i = 0; i < k && i < 1000; i++) {
		struct rd_resp a;
		rd_get(r, 0, true, path, sizeof path - 1, p.query[i], strlen(p.query[i]), &a);
		char *s = strndup((const char *)a.body, a.len);
		char *ap = strstr(s, "\"audit_path\":[");
		uint64_t idx = strtoull(s + strlen("{\"leaf_index\":"), NULL, 10);
		size_t np = 0;
		for (char *q = ap ? strchr(ap, '[') + 1 : NULL;
		     q && *q == '"' && np < MERKLE_MAX_PROOF; np++) {
			char *end = strchr(q + 1, '"');
			if (!end ||
			    b64_decode(proof[np], 32, q + 1, (size_t)(end - q - 1), NULL) != 32)
				die("answer", "bad audit path");
			q = end + 1 + (end[1] == ',');
		}
		if (idx != p.index[i] ||
		    merkle_verify_inclusion(idx, n, p.hash[i], proof, np, root, NULL) != 0)
			die("answer", "audit path does not verify");
		free(s);
	}
	printf("bench=proof op=node_hash ns=%.1f impl=%s\n", node_ns_best,
	       sha256x_impl_name(sha256x_selected()));
	rd_close(r);
	tlog_reader_close(rr);
	tlog_reader_close(fresh);
	free(p.index);
	free(p.hash);
	free(p.query);
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: bench_proof [--entries N] [--proofs K] [--dir D] [--keep] [--quick]\n");
}

int
main(int argc, char **argv)
{
	uint64_t n = 10000000;
	long k = 200000;
	const char *dir = NULL;
	bool keep = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			n = 300000;
			k = 50000;
		} else if (!strcmp(argv[i], "--keep")) {
			keep = true;
		} else if (!strcmp(argv[i], "--entries") && i + 1 < argc) {
			n = strtoull(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "--proofs") && i + 1 < argc) {
			k = strtol(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
			dir = argv[++i];
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (n < 2 || k < 1)
		die("arguments", "--entries must be at least 2 and --proofs at least 1");
	sha256x_init();
	char base[4096], logdir[4200];
	bool made = false;
	if (dir) {
		snprintf(base, sizeof base, "%s", dir);
		if (mkdir(base, 0755) < 0 && errno != EEXIST)
			die(base, strerror(errno));
	} else {
		const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
		snprintf(base, sizeof base, "%s/birch-bench-proof-XXXXXX", tmp);
		if (!mkdtemp(base))
			die("mkdtemp", strerror(errno));
		made = true;
	}
	snprintf(logdir, sizeof logdir, "%s/log", base);
	struct tlog_opts o = {.store.create = true};
	struct tlog *t = NULL;
	char msg[512];
	if (tlog_open(&t, logdir, &tlog_codec_plain, &o, msg, sizeof msg) < 0)
		die(logdir, msg);
	if (tlog_size(t) != n) {
		if (tlog_size(t) != 0)
			die(logdir, "holds a log of another size");
		build(t, n);
	}
	const char *why = NULL;
	if (store_index_sync(tlog_store(t), &why) < 0)
		die("index", why);
	run(t, n, k);
	tlog_close(t);
	if (keep || !made) {
		printf("bench=proof op=kept dir=%s\n", base);
	} else {
		char cmd[4300];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
		if (system(cmd) != 0)
			fprintf(stderr, "bench_proof: could not remove %s\n", base);
	}
	return 0;
}
