/* engine/merkle.h: the RFC 6962 / RFC 9162 Merkle tree: hashes, the frontier, batch append,
 * proofs from a node source, and proof verification.
 *
 * Contract
 * - Hashes are 32-byte SHA-256 values: leaf = H(0x00 || data), node = H(0x01 || left || right),
 *   the empty tree's root = H(""). Hashing goes through engine/sha256x.h (batched, SIMD).
 * - A node (level, index) is the root of the complete subtree over leaves
 *   [index << level, (index + 1) << level); level 0 holds the leaf hashes.
 * - struct merkle_frontier is the compact range [0, size): one complete-subtree root per set
 *   bit of size (2 KiB whatever the size). It is plain data: copy it, store it, compare it.
 *   One writer at a time; readers of a copy need no lock.
 * - merkle_append() extends a frontier by a batch with the batched node hasher and reports
 *   every new complete-subtree node, level by level, in caller-owned scratch (made once with
 *   merkle_append_scratch_init(); no allocation, lock or syscall per call).
 * - Proofs read nodes through struct merkle_source (in memory here, tiles in engine/tiles.h,
 *   storage later). Functions return 0 or a negative errno; the verify functions also give a
 *   short static reason string for an error body. The proof arrays are caller-owned with room
 *   for MERKLE_MAX_PROOF hashes.
 */
#ifndef BIRCH_ENGINE_MERKLE_H
#define BIRCH_ENGINE_MERKLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MERKLE_HASH_LEN   32
#define MERKLE_MAX_LEVELS 64  /* a tree of at most 2^64 - 1 leaves */
#define MERKLE_MAX_PROOF  128 /* more than any inclusion or consistency proof needs */

typedef uint8_t merkle_hash_t[MERKLE_HASH_LEN];

/* ---- hashes --------------------------------------------------------------------------- */

void merkle_leaf_hash(merkle_hash_t out, const uint8_t *data, size_t len);
void merkle_node_hash(merkle_hash_t out, const merkle_hash_t left, const merkle_hash_t right);
void merkle_empty_root(merkle_hash_t out);

/* ---- frontier and append ---------------------------------------------------------------- */

struct merkle_frontier {
	uint64_t size;
	merkle_hash_t peak[MERKLE_MAX_LEVELS]; /* peak[l] is node (l, (size >> l) - 1) when bit l
	                                          of size is set; unused slots are zero */
};

/* New complete-subtree nodes made by one merkle_append() at one level. */
struct merkle_level_span {
	uint64_t first;            /* index of hash[0] at this level */
	size_t count;              /* number of new nodes */
	const merkle_hash_t *hash; /* borrowed: valid until the next append with this scratch */
};

struct merkle_append_scratch {
	size_t max_leaves;  /* the largest batch this scratch takes */
	merkle_hash_t *buf; /* owned: room for every level's new nodes */
	unsigned nlevels;   /* levels filled by the last append (0 when it added nothing) */
	struct merkle_level_span level[MERKLE_MAX_LEVELS];
};

void merkle_frontier_init(struct merkle_frontier *f);

/* The root of the tree the frontier describes (H("") when empty). */
void merkle_frontier_root(const struct merkle_frontier *f, merkle_hash_t out);

/* Appends one leaf hash: amortized one node hash. For streams of single leaves. */
__attribute__((warn_unused_result)) int merkle_frontier_push(struct merkle_frontier *f,
                                                             const merkle_hash_t leaf);

/* Allocates scratch for batches of up to max_leaves leaves (the only allocation).
 * Returns 0 or -ENOMEM / -EINVAL. */
__attribute__((warn_unused_result)) int merkle_append_scratch_init(struct merkle_append_scratch *s,
                                                                   size_t max_leaves);
void merkle_append_scratch_free(struct merkle_append_scratch *s);

/* Appends n leaf hashes to f. Afterwards s->level[0 .. s->nlevels) lists every new node:
 * level[0] is the leaves themselves (hash points into `leaves`, which must stay valid as long
 * as the spans are used), level[l] for l > 0 the new nodes of level l, lowest index first.
 * Returns 0, -E2BIG when n > s->max_leaves, or -EOVERFLOW when the tree would pass 2^64 - 1. */
__attribute__((warn_unused_result)) int merkle_append(struct merkle_frontier *f,
                                                      struct merkle_append_scratch *s,
                                                      const merkle_hash_t *leaves, size_t n);

/* ---- proofs ------------------------------------------------------------------------------ */

/* A source of complete-subtree nodes. node() writes node (level, index) to out and returns 0,
 * or a negative errno (for example -ENOENT when it does not hold that node, -EIO). */
struct merkle_source {
	int (*node)(void *ctx, unsigned level, uint64_t index, merkle_hash_t out);
	void *ctx;
};

/* MTH(D[begin:end)) where [begin, end) is a range RFC 6962 recursion produces: begin is a
 * multiple of the largest power of two not above end - begin. The root of a whole tree is
 * merkle_range_root(src, 0, size). An empty range gives H(""). Returns 0, -EINVAL for a
 * misaligned range, or the source's error. */
__attribute__((warn_unused_result)) int
merkle_range_root(const struct merkle_source *src, uint64_t begin, uint64_t end, merkle_hash_t out);

/* RFC 6962 PATH(index, D[size]): *len hashes, nearest the leaf first.
 * Returns 0, -EINVAL when index >= size, or the source's error. */
__attribute__((warn_unused_result)) int merkle_inclusion_proof(const struct merkle_source *src,
                                                               uint64_t index, uint64_t size,
                                                               merkle_hash_t *proof, size_t *len);

/* RFC 6962 PROOF(old, D[size]). old == size gives an empty proof.
 * Returns 0, -EINVAL when old == 0 or old > size, or the source's error. */
__attribute__((warn_unused_result)) int merkle_consistency_proof(const struct merkle_source *src,
                                                                 uint64_t old, uint64_t size,
                                                                 merkle_hash_t *proof, size_t *len);

/* RFC 9162 2.1.3.2. Returns 0 when the proof shows leaf at index in the tree of `size` with
 * `root`; otherwise -EINVAL (index not below size) or -EBADMSG (the proof does not verify),
 * with *reason set when reason is not NULL. */
__attribute__((warn_unused_result)) int
merkle_verify_inclusion(uint64_t index, uint64_t size, const merkle_hash_t leaf,
                        const merkle_hash_t *proof, size_t len, const merkle_hash_t root,
                        const char **reason);

/* RFC 9162 2.1.4.2. Returns 0 when the proof shows the tree (old, old_root) is a prefix of
 * (size, root); -EINVAL for old == 0 or old > size; -EBADMSG when it does not verify. */
__attribute__((warn_unused_result)) int merkle_verify_consistency(uint64_t old, uint64_t size,
                                                                  const merkle_hash_t old_root,
                                                                  const merkle_hash_t root,
                                                                  const merkle_hash_t *proof,
                                                                  size_t len, const char **reason);

/* ---- an in-memory tree (tests, tools, small logs) ------------------------------------- */

/* Every complete-subtree node of a growing tree, level by level, in memory: about two hashes
 * per leaf. Built by merkle_append() spans; serves as a merkle_source. */
struct merkle_memtree {
	struct merkle_frontier frontier;
	struct merkle_append_scratch scratch;
	merkle_hash_t *level[MERKLE_MAX_LEVELS]; /* owned; level[l] holds size >> l nodes */
	uint64_t cap[MERKLE_MAX_LEVELS];
};

__attribute__((warn_unused_result)) int merkle_memtree_init(struct merkle_memtree *t,
                                                            size_t max_batch);
void merkle_memtree_free(struct merkle_memtree *t);
/* Appends a batch of leaf hashes (split into max_batch pieces). Returns 0 or -ENOMEM. */
__attribute__((warn_unused_result)) int
merkle_memtree_append(struct merkle_memtree *t, const merkle_hash_t *leaves, size_t n);
/* The source view; valid while t lives and is not appended to concurrently. */
struct merkle_source merkle_memtree_source(struct merkle_memtree *t);

#endif
