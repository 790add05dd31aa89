/* engine/b64.h: standard base64 (RFC 4648 section 4, with '=' padding), as RFC 6962's JSON
 * and signed notes use it.
 *
 * Contract: pure functions, no allocation, any thread. Decoding is strict: the length must be a
 * multiple of 4, padding only at the end, no whitespace, and the unused bits of the last
 * symbol must be zero, so each byte string has exactly one accepted encoding.
 */
#ifndef BIRCH_ENGINE_B64_H
#define BIRCH_ENGINE_B64_H

#include <stddef.h>
#include <stdint.h>

/* The encoded length of len bytes (without a NUL). */
#define B64_ENCODED_LEN(len) ((((len) + 2) / 3) * 4)
/* The most bytes len characters can decode to. */
#define B64_DECODED_MAX(len) (((len) / 4) * 3)

/* Writes B64_ENCODED_LEN(len) characters and a NUL to out. Returns the characters written. */
size_t b64_encode(char *out, const uint8_t *in, size_t len);

/* Decodes len characters into out. Returns the bytes written, -EINVAL for malformed input
 * (*bad, when not NULL, gets the offset of the first bad character), or -ENOSPC when the
 * result would exceed cap. */
__attribute__((warn_unused_result)) long b64_decode(uint8_t *out, size_t cap, const char *in,
                                                    size_t len, size_t *bad);

#endif
