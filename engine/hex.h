/* engine/hex.h: lowercase hex encoding and strict decoding.
 *
 * Contract: pure functions, no allocation, any thread. Decoding accepts upper and lower case,
 * rejects odd lengths and non-hex characters, and never writes past `cap`.
 */
#ifndef BIRCH_ENGINE_HEX_H
#define BIRCH_ENGINE_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Writes 2*len hex digits and a NUL to out (capacity 2*len+1). */
void hex_encode(char *out, const uint8_t *in, size_t len);

/* Decodes `len` hex characters into out. Returns the number of bytes written (len/2), or
 * -EINVAL for an odd length or a non-hex character (*bad, when not NULL, gets its offset),
 * or -ENOSPC when len/2 > cap. */
__attribute__((warn_unused_result)) long hex_decode(uint8_t *out, size_t cap, const char *in,
                                                    size_t len, size_t *bad);

#endif
