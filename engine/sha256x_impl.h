/* engine/sha256x_impl.h: private to engine/sha256x*.c. Each implementation fills one ops table
 * with the three batch entry points of engine/sha256x.h (same contracts) and a CPU check. */
#ifndef BIRCH_ENGINE_SHA256X_IMPL_H
#define BIRCH_ENGINE_SHA256X_IMPL_H

#include <string.h>

#include "engine/sha256x.h"

struct sha256x_ops {
	const char *name;
	bool (*cpu_ok)(void);
	void (*leaves)(uint8_t (*out)[SHA256X_LEN], const uint8_t *const *msg, const size_t *len,
	               size_t n);
	void (*nodes)(uint8_t (*out)[SHA256X_LEN], const uint8_t *const *left,
	              const uint8_t *const *right, size_t n);
	void (*pairs)(uint8_t (*out)[SHA256X_LEN], const uint8_t (*in)[SHA256X_LEN], size_t n);
};

extern const struct sha256x_ops sha256x_ops_openssl; /* engine/sha256x.c */
extern const struct sha256x_ops sha256x_ops_shani;   /* engine/sha256x_shani.c */
extern const struct sha256x_ops sha256x_ops_avx2;    /* engine/sha256x_avx2.c */
extern const struct sha256x_ops sha256x_ops_avx512;  /* engine/sha256x_avx512.c */

/* SHA-256 initial state and round constants (FIPS 180-4), shared by the SIMD kernels. */
extern const uint32_t sha256x_iv[8];
extern const uint32_t sha256x_k[64];

/* ---- leaf padding, shared by the SIMD kernels (plain C, no target attributes) ---- */

/* Blocks in the padded message 0x00 || data || 0x80 || zeros || 64-bit bit length. */
static inline size_t
sha256x_leaf_blocks(size_t len)
{
	return (len + 1 + 1 + 8 + 63) / 64;
}

/* Block b of a leaf's padded message: a pointer straight into msg when the block is all data,
 * else assembled in buf. */
static inline const uint8_t *
sha256x_leaf_block(uint8_t buf[64], const uint8_t *msg, size_t len, size_t b)
{
	size_t total = len + 1; /* prefix and data */
	size_t start = 64 * b;  /* offset of the block in the padded message */

	if (start >= 1 && start <= total && total - start >= 64)
		return msg + start - 1;
	memset(buf, 0, 64);
	size_t at = start == 0 ? 1 : 0; /* buf[0] of block 0 is the 0x00 prefix */
	size_t from = start + at - 1;   /* data offset of buf[at] */
	if (from < len) {
		size_t k = len - from < 64 - at ? len - from : 64 - at;
		memcpy(buf + at, msg + from, k);
	}
	if (total >= start && total - start < 64)
		buf[total - start] = 0x80;
	if (b + 1 == sha256x_leaf_blocks(len)) {
		uint64_t bits = (uint64_t)total * 8;
		for (int i = 0; i < 8; i++)
			buf[63 - i] = (uint8_t)(bits >> (8 * i));
	}
	return buf;
}

#endif
