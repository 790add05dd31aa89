#define OPENSSL_SUPPRESS_DEPRECATED
#include "tests/lib/ref.h"

#include <string.h>

#include <openssl/sha.h>

void
ref_leaf(uint8_t out[32], const uint8_t *data, size_t len)
{
	SHA256_CTX c;
	SHA256_Init(&c);
	SHA256_Update(&c, "\x00", 1);
	SHA256_Update(&c, data, len);
	SHA256_Final(out, &c);
}

void
ref_node(uint8_t out[32], const uint8_t l[32], const uint8_t r[32])
{
	SHA256_CTX c;
	SHA256_Init(&c);
	SHA256_Update(&c, "\x01", 1);
	SHA256_Update(&c, l, 32);
	SHA256_Update(&c, r, 32);
	SHA256_Final(out, &c);
}

/* k: the largest power of two smaller than n (n > 1), as RFC 6962 2.1 defines it. */
static uint64_t
k_of(uint64_t n)
{
	uint64_t k = 1;
	while (k * 2 < n)
		k *= 2;
	return k;
}

void
ref_mth(uint8_t out[32], const uint8_t (*leaf)[32], uint64_t lo, uint64_t hi)
{
	uint64_t n = hi - lo;
	if (n == 0) {
		SHA256((const uint8_t *)"", 0, out);
		return;
	}
	if (n == 1) {
		memcpy(out, leaf[lo], 32);
		return;
	}
	uint64_t k = k_of(n);
	uint8_t l[32], r[32];
	ref_mth(l, leaf, lo, lo + k);
	ref_mth(r, leaf, lo + k, hi);
	ref_node(out, l, r);
}

static size_t
path(uint8_t (*proof)[32], const uint8_t (*leaf)[32], uint64_t m, uint64_t lo, uint64_t hi)
{
	uint64_t n = hi - lo;
	if (n <= 1)
		return 0;
	uint64_t k = k_of(n);
	size_t len;
	if (m < k) {
		len = path(proof, leaf, m, lo, lo + k);
		ref_mth(proof[len], leaf, lo + k, hi);
	} else {
		len = path(proof, leaf, m - k, lo + k, hi);
		ref_mth(proof[len], leaf, lo, lo + k);
	}
	return len + 1;
}

size_t
ref_path(uint8_t (*proof)[32], const uint8_t (*leaf)[32], uint64_t m, uint64_t n)
{
	return path(proof, leaf, m, 0, n);
}

static size_t
subproof(uint8_t (*proof)[32], const uint8_t (*leaf)[32], uint64_t m, uint64_t lo, uint64_t hi,
         int b)
{
	uint64_t n = hi - lo;
	if (m == n) {
		if (b)
			return 0;
		ref_mth(proof[0], leaf, lo, hi);
		return 1;
	}
	uint64_t k = k_of(n);
	size_t len;
	if (m <= k) {
		len = subproof(proof, leaf, m, lo, lo + k, b);
		ref_mth(proof[len], leaf, lo + k, hi);
	} else {
		len = subproof(proof, leaf, m - k, lo + k, hi, 0);
		ref_mth(proof[len], leaf, lo, lo + k);
	}
	return len + 1;
}

size_t
ref_proof(uint8_t (*proof)[32], const uint8_t (*leaf)[32], uint64_t m, uint64_t n)
{
	return subproof(proof, leaf, m, 0, n, 1);
}

uint64_t
ref_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void
ref_leaves(uint8_t (*out)[32], uint64_t first, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t d[16];
		uint64_t idx = first + i;
		for (int b = 0; b < 8; b++) {
			d[b] = (uint8_t)(idx >> (8 * b));
			d[8 + b] = (uint8_t)(seed >> (8 * b));
		}
		ref_leaf(out[i], d, sizeof d);
	}
}
