/* Unit test: engine/merkle.h hashes, frontier and batch append, against the RFC 6962 vectors
 * (under every SHA-256 implementation the CPU runs) and against the independent reference in
 * tests/lib/ref.c. */
#include <errno.h>
#include <stdlib.h>

#include "engine/hex.h"
#include "engine/merkle.h"
#include "engine/sha256x.h"
#include "tests/lib/check.h"
#include "tests/lib/impls.h"
#include "tests/lib/ref.h"
#include "tests/lib/vec.h"

static struct vec_json *v8; /* rfc6962_8leaf.json */

static void
hex32(merkle_hash_t out, const char *hex)
{
	if (hex_decode(out, MERKLE_HASH_LEN, hex, strlen(hex), NULL) != MERKLE_HASH_LEN)
		check_harness("vector hash is not 32 bytes of hex");
}

static void
leaf_and_node_hashes_match_rfc6962_vectors(void)
{
	const struct vec_json *in = vec_must(v8, "leaf_inputs_hex", VEC_ARR);
	const struct vec_json *want = vec_must(v8, "leaf_hashes", VEC_ARR);
	for (size_t i = 0; i < in->n; i++) {
		uint8_t data[64];
		long len = hex_decode(data, sizeof data, in->item[i].str, strlen(in->item[i].str),
		                      NULL);
		merkle_hash_t got, exp;
		merkle_leaf_hash(got, data, (size_t)len);
		hex32(exp, want->item[i].str);
		CHECK_MEM(got, exp, 32, "leaf hash %zu", i);
	}
	const struct vec_json *nodes = vec_must(v8, "complete_subtree_nodes", VEC_OBJ);
	for (unsigned l = 1; l <= 3; l++) {
		char key[16];
		snprintf(key, sizeof key, "level%u", l);
		const struct vec_json *lo = vec_must(
		        nodes, l == 1 ? "level0" : (l == 2 ? "level1" : "level2"), VEC_ARR);
		const struct vec_json *hi = vec_must(nodes, key, VEC_ARR);
		for (size_t i = 0; i < hi->n; i++) {
			merkle_hash_t a, b, got, exp;
			hex32(a, lo->item[2 * i].str);
			hex32(b, lo->item[2 * i + 1].str);
			hex32(exp, hi->item[i].str);
			merkle_node_hash(got, a, b);
			CHECK_MEM(got, exp, 32, "node level %u index %zu", l, i);
		}
	}
	merkle_hash_t e, exp;
	merkle_empty_root(e);
	hex32(exp, vec_must(v8, "empty_tree_root", VEC_STR)->str);
	CHECK_MEM(e, exp, 32, "empty root");
}

static void
roots_of_every_prefix_match_rfc6962_vectors(void)
{
	const struct vec_json *lh = vec_must(v8, "leaf_hashes", VEC_ARR);
	const struct vec_json *roots = vec_must(v8, "roots", VEC_OBJ);
	merkle_hash_t leaves[8];
	for (size_t i = 0; i < 8; i++)
		hex32(leaves[i], lh->item[i].str);
	for (size_t n = 0; n <= 8; n++) {
		char key[4];
		snprintf(key, sizeof key, "%zu", n);
		merkle_hash_t exp, got_push, got_batch;
		hex32(exp, vec_must(roots, key, VEC_STR)->str);

		struct merkle_frontier f;
		merkle_frontier_init(&f);
		for (size_t i = 0; i < n; i++)
			CHECK(merkle_frontier_push(&f, leaves[i]) == 0, "push");
		merkle_frontier_root(&f, got_push);
		CHECK_MEM(got_push, exp, 32, "root of size %zu by push", n);

		struct merkle_append_scratch s;
		CHECK(merkle_append_scratch_init(&s, 8) == 0, "scratch");
		merkle_frontier_init(&f);
		CHECK(merkle_append(&f, &s, leaves, n) == 0, "append");
		merkle_frontier_root(&f, got_batch);
		CHECK_MEM(got_batch, exp, 32, "root of size %zu by one batch", n);
		merkle_append_scratch_free(&s);
	}
}

/* Appends random batch sizes up to 1024 leaves; after every batch the frontier root equals the
 * reference MTH, and the reported spans are exactly the new complete-subtree nodes. */
static void
batch_append_matches_reference_for_every_size_to_1024(void)
{
	enum { N = 1024 };
	static merkle_hash_t leaves[N];
	ref_leaves(leaves, 0, N, 1);
	uint64_t rnd = 42;
	for (int round = 0; round < 4; round++) {
		struct merkle_frontier f;
		struct merkle_append_scratch s;
		merkle_frontier_init(&f);
		CHECK(merkle_append_scratch_init(&s, 300) == 0, "scratch");
		uint64_t size = 0;
		while (size < N) {
			size_t n = round == 0
			                   ? 1
			                   : (size_t)(ref_rand(&rnd) % (round == 3 ? 300 : 17)) + 1;
			if (size + n > N)
				n = N - size;
			CHECK(merkle_append(&f, &s, leaves + size, n) == 0, "append");
			/* every new node, checked against the reference */
			unsigned levels_expected = 0;
			for (unsigned l = 0; l < 64 && ((size + n) >> l) > (size >> l); l++)
				levels_expected = l + 1;
			CHECK(s.nlevels == levels_expected, "levels %u want %u", s.nlevels,
			      levels_expected);
			for (unsigned l = 0; l < s.nlevels; l++) {
				const struct merkle_level_span *sp = &s.level[l];
				CHECK(sp->first == size >> l &&
				              sp->count == ((size + n) >> l) - (size >> l),
				      "span level %u first %llu count %zu", l,
				      (unsigned long long)sp->first, sp->count);
				for (size_t i = 0; i < sp->count; i++) {
					merkle_hash_t exp;
					uint64_t lo = (sp->first + i) << l;
					ref_mth(exp, (const uint8_t(*)[32])leaves, lo,
					        lo + ((uint64_t)1 << l));
					CHECK_MEM(sp->hash[i], exp, 32, "node (%u,%llu)", l,
					          (unsigned long long)(sp->first + i));
				}
			}
			size += n;
			merkle_hash_t got, exp;
			merkle_frontier_root(&f, got);
			ref_mth(exp, (const uint8_t(*)[32])leaves, 0, size);
			CHECK_MEM(got, exp, 32, "root at size %llu (round %d)",
			          (unsigned long long)size, round);
			CHECK(f.size == size, "size");
		}
		merkle_append_scratch_free(&s);
	}
}

static void
push_and_batch_append_agree_on_random_sizes_to_1m(void)
{
	enum { N = 1000000 };
	merkle_hash_t *leaves = malloc((size_t)N * 32);
	ref_leaves(leaves, 0, N, 7);
	uint64_t rnd = 7;
	uint64_t checkpoints[12];
	for (int i = 0; i < 12; i++)
		checkpoints[i] = ref_rand(&rnd) % N + 1;
	checkpoints[11] = N;
	struct merkle_frontier push, batch;
	struct merkle_append_scratch s;
	merkle_frontier_init(&push);
	merkle_frontier_init(&batch);
	CHECK(merkle_append_scratch_init(&s, 4096) == 0, "scratch");
	for (uint64_t i = 0; i < N; i++) {
		CHECK(merkle_frontier_push(&push, leaves[i]) == 0, "push");
		if (push.size % 4096 == 0 || push.size == N) {
			uint64_t n = push.size - batch.size;
			CHECK(merkle_append(&batch, &s, leaves + batch.size, (size_t)n) == 0,
			      "append");
			CHECK(memcmp(&push, &batch, sizeof push) == 0, "frontiers differ at %llu",
			      (unsigned long long)push.size);
		}
		for (int c = 0; c < 12; c++) {
			if (push.size != checkpoints[c])
				continue;
			merkle_hash_t got, exp;
			merkle_frontier_root(&push, got);
			ref_mth(exp, (const uint8_t(*)[32])leaves, 0, push.size);
			CHECK_MEM(got, exp, 32, "root at random size %llu",
			          (unsigned long long)push.size);
		}
	}
	merkle_append_scratch_free(&s);
	free(leaves);
}

static void
append_rejects_oversized_batch_and_overflow(void)
{
	struct merkle_frontier f;
	struct merkle_append_scratch s;
	merkle_hash_t leaves[4] = {{0}};
	merkle_frontier_init(&f);
	CHECK(merkle_append_scratch_init(&s, 2) == 0, "scratch");
	CHECK(merkle_append(&f, &s, leaves, 3) == -E2BIG, "batch above max_leaves");
	CHECK(f.size == 0, "failed append leaves the frontier alone");
	CHECK(merkle_append(&f, &s, leaves, 0) == 0 && s.nlevels == 0, "empty batch is a no-op");
	f.size = UINT64_MAX - 1;
	CHECK(merkle_append(&f, &s, leaves, 2) == -EOVERFLOW, "size past 2^64-1");
	CHECK(merkle_append(&f, &s, leaves, 1) == 0 && f.size == UINT64_MAX, "last leaf fits");
	CHECK(merkle_frontier_push(&f, leaves[0]) == -EOVERFLOW, "push past 2^64-1");
	merkle_append_scratch_free(&s);
	CHECK(merkle_append_scratch_init(&s, 0) == -EINVAL && s.buf == NULL,
	      "zero-size scratch refused");
	/* The frontier is a fixed 2 KiB whatever the size: O(log n) for any tree. */
	CHECK(sizeof(struct merkle_frontier) == 8 + 64 * 32, "frontier size %zu",
	      sizeof(struct merkle_frontier));
}

static void
per_impl_suite(void)
{
	RUN(leaf_and_node_hashes_match_rfc6962_vectors);
	RUN(roots_of_every_prefix_match_rfc6962_vectors);
	RUN(batch_append_matches_reference_for_every_size_to_1024);
}

int
main(void)
{
	v8 = vec_json_file(vec_path("merkle/rfc6962_8leaf.json"));
	check_each_impl(per_impl_suite);
	RUN(push_and_batch_append_agree_on_random_sizes_to_1m);
	RUN(append_rejects_oversized_batch_and_overflow);
	return check_done();
}
