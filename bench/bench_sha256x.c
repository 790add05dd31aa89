/* bench/bench_sha256x.c: batched RFC 6962 hashing per implementation, with OpenSSL baselines
 * measured in the same run.
 *
 * One machine-readable line per case:
 *   bench=sha256x op=pairs impl=shani batch=1024 ns_per_op=41.2 mops=24.27 vs_lowlevel=2.71x
 * ns_per_op is per hash (a node or a leaf), the best of several repetitions of about 0.2 s
 * each, since the machine is shared and noisy. vs_lowlevel is the speed-up over OpenSSL's
 * low-level SHA256_Init/Update/Final on the same message (a 65-byte node, or a leaf of the same
 * length), which is what the engine would do without batching.
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

static const size_t node_batches[] = { 1, 2, 4, 8, 16, 64, 256, 1024, 4096 };
static const size_t leaf_lens[] = { 32, 200, 1500 };
static const size_t leaf_batch = 1024;
static const enum sha256x_impl impls[] = { SHA256X_OPENSSL, SHA256X_SHANI, SHA256X_AVX2 };

static double rep_seconds = 0.2; /* one repetition */
static int reps = 3;              /* best of */

/* Inputs, filled once from a fixed seed. */
static uint8_t hashes[2 * MAXBATCH][HLEN];
static uint8_t out[MAXBATCH][HLEN];
static const uint8_t *left[MAXBATCH], *right[MAXBATCH];
static uint8_t leaf_data[MAXBATCH * 8 + MAXLEAF]; /* leaves overlap: only bandwidth matters */
static const uint8_t *leaf_msg[MAXBATCH];
static size_t leaf_len[MAXBATCH];

/* What a case runs: `iters` calls of `batch` hashes. */
struct run {
	void (*fn)(const struct run *r, size_t iters);
	size_t batch;
	size_t len; /* leaf length */
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
	double t0 = now();
	r->fn(r, iters);
	return now() - t0;
}

/* Best ns per hash. Iterations double until a run lasts a tenth of a repetition (this also
 * warms caches and the clock), then scale so one repetition lasts about rep_seconds. */
static double
measure(const struct run *r)
{
	size_t iters = 1;
	double dt;
	while ((dt = timed(r, iters)) < rep_seconds / 10 && iters < ((size_t)1 << 40))
		iters *= 2;
	iters = (size_t)((double)iters * rep_seconds / dt) + 1;

	double best = 1e30;
	for (int i = 0; i < reps; i++) {
		double ns = timed(r, iters) * 1e9 / ((double)iters * (double)r->batch);
		if (ns < best)
			best = ns;
	}
	return best;
}

/* Keeps the compiler from dropping a result it can see is unused. */
static void
consume(const void *p)
{
	__asm__ volatile("" : : "r"(p) : "memory");
}

/* ---- cases ---------------------------------------------------------------------------------- */

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
		sha256x_pairs(out, (const uint8_t (*)[HLEN])hashes, r->batch);
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
	uint8_t *bytes[] = { &hashes[0][0], leaf_data };
	size_t sizes[] = { sizeof hashes, sizeof leaf_data };
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
print_line(const char *op, const char *impl, size_t batch, size_t len, double ns, double base)
{
	printf("bench=sha256x op=%s impl=%s batch=%zu", op, impl, batch);
	if (len > 0)
		printf(" len=%zu", len);
	printf(" ns_per_op=%.1f mops=%.2f", ns, 1e3 / ns);
	if (len > 0)
		printf(" mb_s=%.0f", (double)len * 1e3 / ns);
	printf(" vs_lowlevel=%.2fx\n", base / ns);
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

	/* Baselines first: every other line is relative to the low-level node. */
	double lowlevel = measure(&(struct run){ .fn = run_lowlevel_node, .batch = 1 });
	double oneshot = measure(&(struct run){ .fn = run_oneshot_node, .batch = 1 });
	print_line("node", "openssl-lowlevel", 1, 0, lowlevel, lowlevel);
	print_line("node", "openssl-oneshot", 1, 0, oneshot, lowlevel);

	for (size_t k = 0; k < sizeof impls / sizeof impls[0]; k++) {
		const char *name = sha256x_impl_name(impls[k]);
		if (sha256x_select(impls[k]) != 0) {
			printf("bench=sha256x impl=%s skipped=unsupported\n", name);
			continue;
		}
		for (size_t b = 0; b < sizeof node_batches / sizeof node_batches[0]; b++) {
			struct run r = { .fn = run_pairs, .batch = node_batches[b] };
			print_line("pairs", name, r.batch, 0, measure(&r), lowlevel);
			r.fn = run_nodes;
			print_line("nodes", name, r.batch, 0, measure(&r), lowlevel);
		}
	}

	for (size_t j = 0; j < sizeof leaf_lens / sizeof leaf_lens[0]; j++) {
		size_t len = leaf_lens[j];
		for (size_t i = 0; i < leaf_batch; i++) {
			leaf_msg[i] = leaf_data + 7 * i; /* distinct starts, mostly unaligned */
			leaf_len[i] = len;
		}
		double base = measure(&(struct run){ .fn = run_lowlevel_leaf, .batch = 1, .len = len });
		print_line("leaf", "openssl-lowlevel", 1, len, base, base);
		for (size_t k = 0; k < sizeof impls / sizeof impls[0]; k++) {
			if (sha256x_select(impls[k]) != 0)
				continue;
			struct run r = { .fn = run_leaves, .batch = leaf_batch, .len = len };
			print_line("leaf", sha256x_impl_name(impls[k]), r.batch, len, measure(&r), base);
		}
	}
	return 0;
}
