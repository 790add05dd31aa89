/* bench/bench_merkle.c: Merkle append and proof costs, beside OpenSSL SHA-256 baselines and the
 * batched node hasher measured in the same run. One machine-readable line per case.
 *
 *   bench_merkle [--quick] [--big N]   (--big: leaves in the large append run, default 100M)
 *
 * Leaf hashes are given (pseudo-random, generated before timing): an append's cost is the
 * tree's, not leaf hashing. Rates are the best of several repetitions (noisy machine). */
#include <math.h>
#include <openssl/sha.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/merkle.h"
#include "engine/sha256x.h"
#include "engine/tiles.h"

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng = 0x6962;

static uint64_t
next(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void
fill(merkle_hash_t *h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (int w = 0; w < 4; w++) {
			uint64_t v = next();
			memcpy(h[i] + 8 * w, &v, 8);
		}
}

static volatile uint8_t sink;
static int reps = 5;
static double min_time = 0.2;

/* Each timer below measures one repetition (about min_time seconds) and returns ns per item.
 * Cases that are compared are measured in turn within each repetition and the best of each is
 * kept, so the machine's drift over seconds does not skew their ratio. */

/* Times fn(i) for i = 0, 1, ... in groups of 1000 for about min_time; ns per call. */
#define TIME_LOOP(stmt)                                                                            \
	do {                                                                                       \
		long n_ = 0;                                                                       \
		double t0_ = now(), t_;                                                            \
		do {                                                                               \
			for (int i = 0; i < 1000; i++) {                                           \
				stmt;                                                              \
			}                                                                          \
			n_ += 1000;                                                                \
		} while ((t_ = now() - t0_) < min_time);                                           \
		return t_ / (double)n_ * 1e9;                                                      \
	} while (0)

static double
baseline_oneshot(void)
{
	uint8_t msg[65] = {1}, out[32];
	TIME_LOOP(msg[1] = (uint8_t)i; SHA256(msg, sizeof msg, out); sink ^= out[0]);
}

static void
lowlevel_node(uint8_t out[32], const uint8_t l[32], const uint8_t r[32])
{
	SHA256_CTX c;
	SHA256_Init(&c);
	SHA256_Update(&c, "\x01", 1);
	SHA256_Update(&c, l, 32);
	SHA256_Update(&c, r, 32);
	SHA256_Final(out, &c);
}

static double
baseline_lowlevel(void)
{
	uint8_t l[32] = {1}, r[32] = {2}, out[32];
	TIME_LOOP(l[0] = (uint8_t)i; lowlevel_node(out, l, r); sink ^= out[0]);
}

/* ns per node for sha256x_pairs at batch 1024 */
static double
batched_nodes(void)
{
	enum { B = 1024 };
	static merkle_hash_t in[2 * B], out[B];
	static bool filled;
	if (!filled)
		fill(in, 2 * B), filled = true;
	long n = 0;
	double t0 = now(), t;
	do {
		sha256x_pairs((uint8_t(*)[32])out, (const uint8_t(*)[32])in, B);
		sink ^= out[0][0];
		n += B;
	} while ((t = now() - t0) < min_time);
	return t / (double)n * 1e9;
}

/* ns per leaf appending `total` leaves in batches of `batch` (batch 0: merkle_frontier_push).
 * Leaf hashes cycle through a 1M-hash pool. */
static double
append_run(uint64_t total, size_t batch, merkle_hash_t *pool, size_t pool_n)
{
	struct merkle_append_scratch s;
	struct merkle_frontier f;
	if (merkle_append_scratch_init(&s, batch ? batch : 1) != 0)
		exit(99);
	merkle_frontier_init(&f);
	size_t at = 0;
	double t0 = now();
	for (uint64_t done = 0; done < total;) {
		size_t k = batch ? batch : 1;
		if (total - done < k)
			k = (size_t)(total - done);
		if (at + k > pool_n)
			at = 0;
		int rc = batch ? merkle_append(&f, &s, pool + at, k)
		               : merkle_frontier_push(&f, pool[at]);
		if (rc != 0)
			exit(99);
		at += k;
		done += k;
	}
	double t = now() - t0;
	merkle_hash_t root;
	merkle_frontier_root(&f, root);
	sink ^= root[0];
	merkle_append_scratch_free(&s);
	return t / (double)total * 1e9;
}

struct mem_tiles {
	struct merkle_memtree *t;
};

static int
read_tile(void *ctx, const struct tiles_id *id, uint8_t *buf)
{
	struct mem_tiles *m = ctx;
	unsigned level = TILES_HEIGHT * id->level;
	memcpy(buf, m->t->level[level][id->index * TILES_WIDTH], 32u * id->width);
	return 0;
}

static void
proofs(merkle_hash_t *pool, uint64_t n, int quick)
{
	struct merkle_memtree t;
	if (merkle_memtree_init(&t, 4096) != 0 || merkle_memtree_append(&t, pool, n) != 0)
		exit(99);
	struct merkle_source mem = merkle_memtree_source(&t);
	struct mem_tiles mt = {&t};
	static struct tiles_source ts;
	merkle_hash_t p[MERKLE_MAX_PROOF];
	size_t len;
	int count = quick ? 2000 : 20000;
	for (int kind = 0; kind < 4; kind++) {
		bool tiles = kind >= 2, incl = kind % 2 == 0;
		double t0 = now();
		for (int i = 0; i < count; i++) {
			uint64_t size = n - next() % (n / 2);
			uint64_t a = next() % size;
			struct merkle_source *src = &mem, tsrc;
			if (tiles) {
				/* a client's view: a fresh source per proof, so every tile is read
				 * again */
				tiles_source_init(&ts, size, read_tile, &mt);
				tsrc = tiles_source_view(&ts);
				src = &tsrc;
			}
			int rc = incl ? merkle_inclusion_proof(src, a, size, p, &len)
			              : merkle_consistency_proof(src, a + 1, size, p, &len);
			if (rc != 0)
				exit(99);
			sink ^= p[0][0];
		}
		double us = (now() - t0) / count * 1e6;
		printf("bench=merkle op=%s_proof source=%s tree=%llu us_per_proof=%.2f "
		       "proofs_per_s=%.0f\n",
		       incl ? "inclusion" : "consistency", tiles ? "tiles" : "memory",
		       (unsigned long long)n, us, 1e6 / us);
	}
	merkle_memtree_free(&t);
}

int
main(int argc, char **argv)
{
	int quick = 0;
	uint64_t big = 100000000;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			quick = 1;
		} else if (strcmp(argv[i], "--big") == 0 && i + 1 < argc) {
			big = strtoull(argv[++i], NULL, 10);
		} else {
			fprintf(stderr, "usage: bench_merkle [--quick] [--big N]\n");
			return strcmp(argv[i], "--help") == 0 ? 0 : 2;
		}
	}
	if (quick) {
		reps = 2, min_time = 0.02, big = 2000000;
	}
	sha256x_init();
	const char *impl = sha256x_impl_name(sha256x_selected());
	enum { POOL = 1 << 20 };
	merkle_hash_t *pool = malloc((size_t)POOL * 32);
	if (!pool)
		return 99;
	fill(pool, POOL);

	double one = 1e30, low = 1e30, node = 1e30;
	for (int r = 0; r < reps; r++) {
		one = fmin(one, baseline_oneshot());
		low = fmin(low, baseline_lowlevel());
		node = fmin(node, batched_nodes());
	}
	printf("bench=merkle op=baseline_sha256_oneshot ns_per_node=%.1f\n", one);
	printf("bench=merkle op=baseline_sha256_lowlevel ns_per_node=%.1f\n", low);
	printf("bench=merkle op=node_batch impl=%s batch=1024 ns_per_node=%.1f vs_lowlevel=%.2fx\n",
	       impl, node, low / node);

	/* Each append case against the batched node hasher and low-level OpenSSL, in turn. */
	size_t batches[] = {0, 1, 16, 256, 1024, 4096, 4096};
	int nb = (int)(sizeof batches / sizeof batches[0]);
	for (int b = 0; b < nb; b++) {
		bool is_big = b == nb - 1;
		uint64_t total = is_big ? big : (quick ? 200000 : 1000000);
		double a = 1e30, nd = 1e30, lw = 1e30;
		for (int r = 0; r < (is_big ? 1 : reps); r++) {
			nd = fmin(nd, batched_nodes());
			lw = fmin(lw, baseline_lowlevel());
			a = fmin(a, append_run(total, batches[b], pool, POOL));
		}
		printf("bench=merkle op=append%s impl=%s leaves=%llu batch=%zu ns_per_leaf=%.1f "
		       "mleaves_per_s=%.2f node_ns=%.1f vs_node_batch=%.0f%% vs_lowlevel=%.2fx\n",
		       batches[b] ? "" : "_push", impl, (unsigned long long)total,
		       batches[b] ? batches[b] : 1, a, 1e3 / a, nd, 100.0 * nd / a, lw / a);
	}
	printf("bench=merkle op=frontier_memory bytes=%zu (fixed: 64 levels x 32 bytes + size, any "
	       "tree)\n",
	       sizeof(struct merkle_frontier));
	proofs(pool, quick ? 100000 : POOL, quick);
	free(pool);
	return 0;
}
