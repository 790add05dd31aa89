/* bench/bench_sha256x.c: batched RFC 6962 hashing per implementation, with OpenSSL baselines
 * measured in the same run.
 *
 * One machine-readable line per case:
 *   bench=sha256x op=pairs impl=shani batch=1024 ns_per_op=41.2 mops=24.27 vs_lowlevel=2.71x
 *     lowlevel_ns=111.6
 * ns_per_op is per hash (a node or a leaf), the best of several repetitions of about 0.2 s
 * each. vs_lowlevel is the speed-up over OpenSSL's low-level SHA256_Init/Update/Final on the
 * same message (a 65-byte node, or a leaf of the same length), which is what the engine would
 * do without batching; lowlevel_ns is that baseline.
 *
 * The machine is shared and noisy, and its speed drifts over seconds, so the contenders of a
 * case (the baseline and every implementation at one batch size) race round-robin: each
 * repetition runs all of them back to back and each keeps its best. Ratios within a case are
 * then taken in the same time window.
 *
 * Usage: bench_sha256x [--quick]   (--quick: short runs, a smoke test)
 */
#ifndef OPENSSL_SUPPRESS_DEPRECATED
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA256_Init/Update/Final: the low-level baseline */
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/sha.h>

#include "engine/sha256x.h"

#define HLEN     SHA256X_LEN
#define MAXBATCH 4096
#define MAXLEAF  1500

static const size_t node_batches[] = {1, 2, 4, 8, 16, 64, 256, 1024, 4096};
static const size_t leaf_lens[] = {32, 200, 1500};
static const size_t leaf_batch = 1024;
static const enum sha256x_impl impls[] = {SHA256X_OPENSSL, SHA256X_SHANI, SHA256X_AVX2,
                                          SHA256X_AVX512};

static double rep_seconds = 0.2; /* one repetition */
static int reps = 3;             /* best of */

/* Inputs, filled once from a fixed seed. */
static uint8_t hashes[2 * MAXBATCH][HLEN];
static uint8_t out[MAXBATCH][HLEN];
static const uint8_t *left[MAXBATCH], *right[MAXBATCH];
static uint8_t leaf_data[7 * MAXBATCH + MAXLEAF]; /* leaf i at 7 * i: unaligned, overlapping */
static const uint8_t *leaf_msg[MAXBATCH];
static size_t leaf_len[MAXBATCH];

/* One contender: `iters` calls of fn, each hashing `batch` messages with `impl` selected
 * (SHA256X_AUTO: fn calls OpenSSL directly). */
struct run {
	void (*fn)(const struct run *r, size_t iters);
	enum sha256x_impl impl;
	size_t batch;
	size_t len;   /* leaf length */
	size_t iters; /* per repetition, from calibrate() */
	double best;  /* ns per hash */
};

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double
timed(const struct run *r, size_t iters)
{
	if (r->impl != SHA256X_AUTO && sha256x_select(r->impl) != 0)
		abort(); /* checked supported before the race */
	double t0 = now();
	r->fn(r, iters);
	return now() - t0;
}

/* Iterations double until a run lasts a tenth of a repetition (this also warms caches and the
 * clock), then scale so one repetition lasts about rep_seconds. */
static void
calibrate(struct run *r)
{
	size_t iters = 1;
	double dt;
	while ((dt = timed(r, iters)) < rep_seconds / 10 && iters < ((size_t)1 << 40))
		iters *= 2;
	r->iters = (size_t)((double)iters * rep_seconds / dt) + 1;
	r->best = 1e30;
}

/* Round-robin repetitions of n contenders; each keeps its best ns per hash. */
static void
race(struct run *r, size_t n)
{
	for (size_t k = 0; k < n; k++)
		calibrate(&r[k]);
	for (int i = 0; i < reps; i++) {
		for (size_t k = 0; k < n; k++) {
			double ns = timed(&r[k], r[k].iters) * 1e9 /
			            ((double)r[k].iters * (double)r[k].batch);
			if (ns < r[k].best)
				r[k].best = ns;
		}
	}
}

/* Keeps the compiler from dropping a result it can see is unused. */
static void
consume(const void *p)
{
	__asm__ volatile("" : : "r"(p) : "memory");
}

/* ---- cases ---------------------------------------------------------------------------------- */

/* SHA256() wants the message in one piece, so this baseline includes a 64-byte copy. */
static void
run_oneshot_node(const struct run *r, size_t iters)
{
	uint8_t msg[1 + 2 * HLEN];
	msg[0] = 0x01;
	for (size_t i = 0; i < iters; i++) {
		memcpy(msg + 1, hashes[2 * (i & 1023)], 2 * HLEN);
		SHA256(msg, sizeof msg, out[0]);
		consume(out);
	}
}

static void
run_lowlevel_node(const struct run *r, size_t iters)
{
	static const uint8_t prefix = 0x01;
	for (size_t i = 0; i < iters; i++) {
		SHA256_CTX c;
		SHA256_Init(&c);
		SHA256_Update(&c, &prefix, 1);
		SHA256_Update(&c, hashes[2 * (i & 1023)], HLEN);
		SHA256_Update(&c, hashes[2 * (i & 1023) + 1], HLEN);
		SHA256_Final(out[0], &c);
		consume(out);
	}
}

static void
run_lowlevel_leaf(const struct run *r, size_t iters)
{
	static const uint8_t prefix = 0x00;
	for (size_t i = 0; i < iters; i++) {
		SHA256_CTX c;
		SHA256_Init(&c);
		SHA256_Update(&c, &prefix, 1);
		SHA256_Update(&c, leaf_msg[i & 1023], r->len);
		SHA256_Final(out[0], &c);
		consume(out);
	}
}

static void
run_pairs(const struct run *r, size_t iters)
{
	for (size_t i = 0; i < iters; i++) {
		sha256x_pairs(out, (const uint8_t(*)[HLEN])hashes, r->batch);
		consume(out);
	}
}

static void
run_nodes(const struct run *r, size_t iters)
{
	for (size_t i = 0; i < iters; i++) {
		sha256x_nodes(out, left, right, r->batch);
		consume(out);
	}
}

static void
run_leaves(const struct run *r, size_t iters)
{
	for (size_t i = 0; i < iters; i++) {
		sha256x_leaves(out, leaf_msg, leaf_len, r->batch);
		consume(out);
	}
}

/* ---- driver --------------------------------------------------------------------------------- */

static void
setup(void)
{
	uint64_t s = 0x5eed5eed5eedULL; /* fixed seed: splitmix64 */
	uint8_t *bytes[] = {&hashes[0][0], leaf_data};
	size_t sizes[] = {sizeof hashes, sizeof leaf_data};
	for (int k = 0; k < 2; k++) {
		for (size_t i = 0; i < sizes[k]; i++) {
			uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
			z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
			z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
			bytes[k][i] = (uint8_t)(z ^ (z >> 31));
		}
	}
	/* sha256x_nodes takes scattered pointers; make them so (a stride-3 walk), as a tree's
	 * sibling lookups are. */
	for (size_t i = 0; i < MAXBATCH; i++) {
		left[i] = hashes[(3 * i) % (2 * MAXBATCH)];
		right[i] = hashes[(3 * i + 1) % (2 * MAXBATCH)];
	}
}

static void
print_line(const char *op, const char *impl, const struct run *r, const struct run *base)
{
	printf("bench=sha256x op=%s impl=%s batch=%zu", op, impl, r->batch);
	if (r->len > 0)
		printf(" len=%zu", r->len);
	printf(" ns_per_op=%.1f mops=%.2f", r->best, 1e3 / r->best);
	if (r->len > 0)
		printf(" mb_s=%.0f", (double)r->len * 1e3 / r->best);
	printf(" vs_lowlevel=%.2fx lowlevel_ns=%.1f\n", base->best / r->best, base->best);
	fflush(stdout);
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: bench_sha256x [--quick]\n"
	           "  Batched RFC 6962 node and leaf hashing per implementation, with OpenSSL\n"
	           "  one-shot and low-level baselines; one line per case.\n"
	           "  --quick  short runs (a smoke test, numbers not meaningful)\n");
}

int
main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			rep_seconds = 0.002;
			reps = 1;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "bench_sha256x: unknown argument '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	setup();

	/* The implementations this CPU runs; the others get one line saying so. */
	enum sha256x_impl have[sizeof impls / sizeof impls[0]];
	size_t nhave = 0;
	for (size_t k = 0; k < sizeof impls / sizeof impls[0]; k++) {
		if (sha256x_supported(impls[k]))
			have[nhave++] = impls[k];
		else
			printf("bench=sha256x impl=%s skipped=unsupported\n",
			       sha256x_impl_name(impls[k]));
	}

	/* The baselines on their own: a 65-byte node, low-level and one-shot. */
	struct run base[2] = {
	        {.fn = run_lowlevel_node, .impl = SHA256X_AUTO, .batch = 1},
	        {.fn = run_oneshot_node, .impl = SHA256X_AUTO, .batch = 1},
	};
	race(base, 2);
	print_line("node", "openssl-lowlevel", &base[0], &base[0]);
	print_line("node", "openssl-oneshot", &base[1], &base[0]);

	/* Nodes: per batch size, the low-level baseline against pairs and nodes of each. */
	for (size_t b = 0; b < sizeof node_batches / sizeof node_batches[0]; b++) {
		struct run r[1 + 2 * sizeof impls / sizeof impls[0]];
		size_t n = 0;
		r[n++] = (struct run){.fn = run_lowlevel_node, .impl = SHA256X_AUTO, .batch = 1};
		for (size_t k = 0; k < nhave; k++) {
			r[n++] = (struct run){
			        .fn = run_pairs, .impl = have[k], .batch = node_batches[b]};
			r[n++] = (struct run){
			        .fn = run_nodes, .impl = have[k], .batch = node_batches[b]};
		}
		race(r, n);
		for (size_t k = 1; k < n; k++)
			print_line(r[k].fn == run_pairs ? "pairs" : "nodes",
			           sha256x_impl_name(r[k].impl), &r[k], &r[0]);
	}

	/* Leaves of one length per case, against low-level OpenSSL on the same length. */
	for (size_t j = 0; j < sizeof leaf_lens / sizeof leaf_lens[0]; j++) {
		size_t len = leaf_lens[j];
		for (size_t i = 0; i < leaf_batch; i++) {
			leaf_msg[i] = leaf_data + 7 * i;
			leaf_len[i] = len;
		}
		struct run r[1 + sizeof impls / sizeof impls[0]];
		size_t n = 0;
		r[n++] = (struct run){
		        .fn = run_lowlevel_leaf, .impl = SHA256X_AUTO, .batch = 1, .len = len};
		for (size_t k = 0; k < nhave; k++)
			r[n++] = (struct run){
			        .fn = run_leaves, .impl = have[k], .batch = leaf_batch, .len = len};
		race(r, n);
		print_line("leaf", "openssl-lowlevel", &r[0], &r[0]);
		for (size_t k = 1; k < n; k++)
			print_line("leaf", sha256x_impl_name(r[k].impl), &r[k], &r[0]);
	}
	return 0;
}
