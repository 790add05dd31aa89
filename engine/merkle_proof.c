/* engine/merkle_proof.c: RFC 6962 proofs from a node source, RFC 9162 verification. */
#include "engine/merkle.h"

#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>

/* Largest power of two strictly below n (n >= 2). */
static uint64_t
split_point(uint64_t n)
{
	return (uint64_t)1 << (63 - __builtin_clzll(n - 1));
}

static bool
is_pow2(uint64_t n)
{
	return n != 0 && (n & (n - 1)) == 0;
}

int
merkle_range_root(const struct merkle_source *src, uint64_t begin, uint64_t end, merkle_hash_t out)
{
	if (end < begin)
		return -EINVAL;
	if (end == begin) {
		merkle_empty_root(out);
		return 0;
	}
	uint64_t n = end - begin;
	unsigned top = 63u - (unsigned)__builtin_clzll(n);
	if (begin & (((uint64_t)1 << top) - 1))
		return -EINVAL; /* not a range that RFC 6962 recursion produces */

	/* MTH splits at the largest power of two below n, so the range is the complete subtrees
	 * of n's set bits, largest first; fold them from the right. */
	merkle_hash_t part[MERKLE_MAX_LEVELS];
	unsigned nparts = 0;
	uint64_t pos = begin;
	for (int l = (int)top; l >= 0; l--) {
		if (!(n >> l & 1))
			continue;
		int rc = src->node(src->ctx, (unsigned)l, pos >> l, part[nparts]);
		if (rc != 0)
			return rc;
		nparts++;
		pos += (uint64_t)1 << l;
	}
	merkle_hash_t h;
	memcpy(h, part[nparts - 1], MERKLE_HASH_LEN);
	for (unsigned i = nparts - 1; i-- > 0;)
		merkle_node_hash(h, part[i], h);
	memcpy(out, h, MERKLE_HASH_LEN);
	return 0;
}

/* The complete subtree [lo, lo + k), k a power of two and lo a multiple of k. */
static int
subtree(const struct merkle_source *src, uint64_t lo, uint64_t k, merkle_hash_t out)
{
	unsigned level = (unsigned)__builtin_ctzll(k);
	return src->node(src->ctx, level, lo >> level, out);
}

/* Reverses proof[0 .. n): the walks below collect siblings from the root down, and RFC 6962
 * orders proofs from the leaf up. */
static void
reverse(merkle_hash_t *proof, size_t n)
{
	for (size_t i = 0, j = n - 1; n > 1 && i < j; i++, j--) {
		merkle_hash_t t;
		memcpy(t, proof[i], MERKLE_HASH_LEN);
		memcpy(proof[i], proof[j], MERKLE_HASH_LEN);
		memcpy(proof[j], t, MERKLE_HASH_LEN);
	}
}

int
merkle_inclusion_proof(const struct merkle_source *src, uint64_t index, uint64_t size,
                       merkle_hash_t *proof, size_t *len)
{
	*len = 0;
	if (index >= size)
		return -EINVAL;
	/* PATH(m, D[lo:hi]) = PATH(m, D[lo:lo+k]) : MTH(D[lo+k:hi])  when m < lo + k
	 *                   = PATH(m, D[lo+k:hi]) : MTH(D[lo:lo+k])  otherwise */
	uint64_t lo = 0, hi = size;
	size_t n = 0;
	while (hi - lo > 1) {
		uint64_t k = split_point(hi - lo);
		int rc;
		if (index < lo + k) {
			rc = merkle_range_root(src, lo + k, hi, proof[n]);
			hi = lo + k;
		} else {
			rc = subtree(src, lo, k, proof[n]);
			lo += k;
		}
		if (rc != 0)
			return rc;
		n++;
	}
	reverse(proof, n);
	*len = n;
	return 0;
}

int
merkle_consistency_proof(const struct merkle_source *src, uint64_t old, uint64_t size,
                         merkle_hash_t *proof, size_t *len)
{
	*len = 0;
	if (old == 0 || old > size)
		return -EINVAL;
	/* SUBPROOF(m, D[lo:hi], b): when m == hi - lo, nothing if b, else MTH(D[lo:hi]);
	 * otherwise split at k: m <= k recurses left and adds MTH(D[lo+k:hi]),
	 * m > k recurses right (b = false) and adds MTH(D[lo:lo+k]). Here m = old - lo. */
	uint64_t lo = 0, hi = size;
	bool b = true;
	size_t n = 0;
	while (old - lo != hi - lo) {
		uint64_t k = split_point(hi - lo);
		int rc;
		if (old - lo <= k) {
			rc = merkle_range_root(src, lo + k, hi, proof[n]);
			hi = lo + k;
		} else {
			rc = subtree(src, lo, k, proof[n]);
			lo += k;
			b = false;
		}
		if (rc != 0)
			return rc;
		n++;
	}
	if (!b) {
		int rc = merkle_range_root(src, lo, hi, proof[n]);
		if (rc != 0)
			return rc;
		n++;
	}
	reverse(proof, n);
	*len = n;
	return 0;
}

static int
fail(const char **reason, const char *why)
{
	if (reason)
		*reason = why;
	return -EBADMSG;
}

static bool
hash_eq(const merkle_hash_t a, const merkle_hash_t b)
{
	return CRYPTO_memcmp(a, b, MERKLE_HASH_LEN) == 0;
}

int
merkle_verify_inclusion(uint64_t index, uint64_t size, const merkle_hash_t leaf,
                        const merkle_hash_t *proof, size_t len, const merkle_hash_t root,
                        const char **reason)
{
	if (reason)
		*reason = NULL;
	if (index >= size) {
		if (reason)
			*reason = "leaf index is not below the tree size";
		return -EINVAL;
	}
	uint64_t fn = index, sn = size - 1;
	merkle_hash_t r;
	memcpy(r, leaf, MERKLE_HASH_LEN);
	for (size_t i = 0; i < len; i++) {
		if (sn == 0)
			return fail(reason, "inclusion proof is too long");
		if ((fn & 1) || fn == sn) {
			merkle_node_hash(r, proof[i], r);
			while (!(fn & 1) && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else {
			merkle_node_hash(r, r, proof[i]);
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0)
		return fail(reason, "inclusion proof is too short");
	if (!hash_eq(r, root))
		return fail(reason, "inclusion proof does not lead to the root");
	return 0;
}

int
merkle_verify_consistency(uint64_t old, uint64_t size, const merkle_hash_t old_root,
                          const merkle_hash_t root, const merkle_hash_t *proof, size_t len,
                          const char **reason)
{
	if (reason)
		*reason = NULL;
	if (old == 0 || old > size) {
		if (reason)
			*reason = old == 0 ? "old tree size must be at least 1"
			                   : "old tree size is greater than the new one";
		return -EINVAL;
	}
	if (old == size) {
		if (len != 0)
			return fail(reason, "consistency proof between equal sizes must be empty");
		if (!hash_eq(old_root, root))
			return fail(reason, "roots differ for the same tree size");
		return 0;
	}
	if (len == 0)
		return fail(reason, "consistency proof is empty");

	/* When old is a power of two its root is the proof's implicit first node. */
	const merkle_hash_t *seed = proof;
	size_t i = 1;
	if (is_pow2(old)) {
		seed = (const merkle_hash_t *)old_root;
		i = 0;
	}
	uint64_t fn = old - 1, sn = size - 1;
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	merkle_hash_t fr, sr;
	memcpy(fr, *seed, MERKLE_HASH_LEN);
	memcpy(sr, *seed, MERKLE_HASH_LEN);
	for (; i < len; i++) {
		if (sn == 0)
			return fail(reason, "consistency proof is too long");
		if ((fn & 1) || fn == sn) {
			merkle_node_hash(fr, proof[i], fr);
			merkle_node_hash(sr, proof[i], sr);
			while (!(fn & 1) && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else {
			merkle_node_hash(sr, sr, proof[i]);
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0)
		return fail(reason, "consistency proof is too short");
	if (!hash_eq(fr, old_root))
		return fail(reason, "consistency proof does not lead to the old root");
	if (!hash_eq(sr, root))
		return fail(reason, "consistency proof does not lead to the new root");
	return 0;
}
