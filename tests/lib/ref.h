/* tests/lib/ref.h: an independent RFC 6962 reference for cross-checks. It follows the RFC's
 * recursive definitions literally (MTH, PATH, PROOF/SUBPROOF) with OpenSSL's SHA-256 and
 * shares no code with engine/: slow on purpose, O(n) hashes per call. Test-only. */
#ifndef BIRCH_TESTS_REF_H
#define BIRCH_TESTS_REF_H

#include <stddef.h>
#include <stdint.h>

void ref_leaf(uint8_t out[32], const uint8_t *data, size_t len);
void ref_node(uint8_t out[32], const uint8_t l[32], const uint8_t r[32]);
/* MTH(D[lo:hi]) over leaf hashes. */
void ref_mth(uint8_t out[32], const uint8_t (*leaf)[32], uint64_t lo, uint64_t hi);
/* PATH(m, D[0:n]) into proof (room for 64); returns the length. */
size_t ref_path(uint8_t (*proof)[32], const uint8_t (*leaf)[32], uint64_t m, uint64_t n);
/* PROOF(m, D[0:n]) into proof (room for 128); returns the length. */
size_t ref_proof(uint8_t (*proof)[32], const uint8_t (*leaf)[32], uint64_t m, uint64_t n);
/* Deterministic pseudo-random leaf hashes: leaf i = H(0x00 || le64(i) || le64(seed)). */
void ref_leaves(uint8_t (*out)[32], uint64_t first, size_t n, uint64_t seed);
/* splitmix64 */
uint64_t ref_rand(uint64_t *state);

#endif
