/* engine/ctsig_int.h: ctsig.c's own P-256 scalar arithmetic, exposed only so that
 * engine/test_ctsig.c can check it against OpenSSL's BIGNUM code, value by value. */
#ifndef BIRCH_ENGINE_CTSIG_INT_H
#define BIRCH_ENGINE_CTSIG_INT_H

#include <stdint.h>

/* out = in^-1 mod q (the P-256 group order), big-endian, for in in [1, q-1]; constant time. */
void ctsig_int_ord_inverse(uint8_t out[32], const uint8_t in[32]);

#endif
