/* engine/sha256x.h: batched SHA-256 for Merkle hashing (RFC 6962 leaf and node hashes).
 *
 * Contract
 * - One call hashes a whole batch: leaves are SHA-256(0x00 || data) of any length, nodes are
 *   SHA-256(0x01 || left || right) of two 32-byte hashes.
 * - Implementations: OpenSSL (the reference), x86 SHA-NI with several messages interleaved,
 *   AVX2 8-lane and AVX-512 16-lane multi-buffer. sha256x_init() picks the fastest the CPU supports; tests and
 *   benchmarks may pick one with sha256x_select(). The selection is process-wide: change it
 *   only while no other thread hashes (start-up, single-threaded tests).
 * - Hot path: the batch calls never allocate, lock or make a syscall; any thread may call
 *   them concurrently. Inputs are borrowed for the duration of the call only.
 * - Outputs: out[i] belongs to input i. For sha256x_pairs(), out may be exactly `in`
 *   (in-place level reduction); any other overlap is undefined.
 */
#ifndef BIRCH_ENGINE_SHA256X_H
#define BIRCH_ENGINE_SHA256X_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHA256X_LEN 32

enum sha256x_impl {
	SHA256X_AUTO = 0, /* the fastest supported; only an argument to sha256x_select() */
	SHA256X_OPENSSL,  /* OpenSSL SHA256_Init/Update/Final: the reference */
	SHA256X_SHANI,    /* x86 SHA extensions, independent messages interleaved */
	SHA256X_AVX2,     /* AVX2, 8 messages in 8 lanes */
	SHA256X_AVX512,   /* AVX-512, 16 messages in 16 lanes */
	SHA256X_IMPL_COUNT
};

/* Chooses the fastest implementation this CPU supports. Idempotent; cheap after the first call.
 * The batch calls also do this on first use. */
void sha256x_init(void);

/* True when this CPU (and build) can run `impl`. SHA256X_AUTO and SHA256X_OPENSSL: always. */
bool sha256x_supported(enum sha256x_impl impl);

/* Makes `impl` the process-wide implementation. Returns 0, -ENOTSUP when the CPU lacks it,
 * or -EINVAL for an unknown value. */
__attribute__((warn_unused_result)) int sha256x_select(enum sha256x_impl impl);

/* The implementation in use (never SHA256X_AUTO). */
enum sha256x_impl sha256x_selected(void);

/* "openssl", "shani", "avx2", "avx512", "auto"; NULL for an unknown value. */
const char *sha256x_impl_name(enum sha256x_impl impl);

/* Parses a name as printed by sha256x_impl_name(). Returns 0 or -EINVAL. */
__attribute__((warn_unused_result)) int sha256x_impl_parse(const char *name,
                                                           enum sha256x_impl *out);

/* out[i] = SHA-256(0x00 || msg[i][0 .. len[i])) for i < n. msg[i] may be NULL when len[i] == 0. */
void sha256x_leaves(uint8_t (*out)[SHA256X_LEN], const uint8_t *const *msg, const size_t *len,
                    size_t n);

/* out[i] = SHA-256(0x01 || left[i] || right[i]) for i < n. */
void sha256x_nodes(uint8_t (*out)[SHA256X_LEN], const uint8_t *const *left,
                   const uint8_t *const *right, size_t n);

/* out[i] = SHA-256(0x01 || in[2i] || in[2i+1]) for i < n: one level of a tree up.
 * `in` holds 2n hashes; out may equal in. */
void sha256x_pairs(uint8_t (*out)[SHA256X_LEN], const uint8_t (*in)[SHA256X_LEN], size_t n);

#endif
