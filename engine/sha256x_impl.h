/* engine/sha256x_impl.h: private to engine/sha256x*.c. Each implementation fills one ops table
 * with the three batch entry points of engine/sha256x.h (same contracts) and a CPU check. */
#ifndef BIRCH_ENGINE_SHA256X_IMPL_H
#define BIRCH_ENGINE_SHA256X_IMPL_H

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

/* SHA-256 initial state and round constants (FIPS 180-4), shared by the SIMD kernels. */
extern const uint32_t sha256x_iv[8];
extern const uint32_t sha256x_k[64];

#endif
