/* engine/b64.c: see b64.h. */
#include "engine/b64.h"

#include <errno.h>
#include <stdbool.h>

static const char b64_alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
b64_encode(char *out, const uint8_t *in, size_t len)
{
	size_t o = 0, i = 0;
	for (; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = b64_alphabet[(v >> 6) & 63];
		out[o++] = b64_alphabet[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = '=';
		out[o++] = '=';
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = b64_alphabet[(v >> 6) & 63];
		out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

/* The 6-bit value of c, or -1. */
static int
b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static long
b64_fail(size_t *bad, size_t at)
{
	if (bad)
		*bad = at;
	return -EINVAL;
}

/* The 6-bit value of every byte, 0x80 for anything outside the alphabet: the hot loop ORs
 * four lookups and tests one bit. */
static const uint8_t b64_table[256] = {
#define X8 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80
        X8, X8, X8, X8, X8,                               /* 0x00-0x27 */
        0x80, 0x80, 0x80, 62, 0x80, 0x80, 0x80, 63,      /* 0x28-0x2f: '+' '/' */
        52, 53, 54, 55, 56, 57, 58, 59,                  /* '0'-'7' */
        60, 61, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,      /* '8' '9' */
        0x80, 0, 1, 2, 3, 4, 5, 6,                       /* '@' 'A'-'G' */
        7, 8, 9, 10, 11, 12, 13, 14,                     /* 'H'-'O' */
        15, 16, 17, 18, 19, 20, 21, 22,                  /* 'P'-'W' */
        23, 24, 25, 0x80, 0x80, 0x80, 0x80, 0x80,        /* 'X'-'Z' */
        0x80, 26, 27, 28, 29, 30, 31, 32,                /* '`' 'a'-'g' */
        33, 34, 35, 36, 37, 38, 39, 40,                  /* 'h'-'o' */
        41, 42, 43, 44, 45, 46, 47, 48,                  /* 'p'-'w' */
        49, 50, 51, 0x80, 0x80, 0x80, 0x80, 0x80,        /* 'x'-'z' */
        X8, X8, X8, X8, X8, X8, X8, X8, X8, X8, X8, X8, X8, X8, X8, X8, /* 0x80-0xff */
#undef X8
};

long
b64_decode(uint8_t *out, size_t cap, const char *in, size_t len, size_t *bad)
{
	if (len % 4 != 0)
		return b64_fail(bad, len);
	size_t pad = 0;
	if (len > 0 && in[len - 1] == '=')
		pad = (len > 1 && in[len - 2] == '=') ? 2 : 1;
	size_t n = len / 4 * 3 - pad;
	if (n > cap)
		return -ENOSPC;
	const uint8_t *u = (const uint8_t *)in;
	size_t o = 0, i = 0;
	/* Every quad but the last: no padding there, so any byte outside the alphabet fails. */
	for (; i + 4 < len; i += 4) {
		uint32_t a = b64_table[u[i]], b = b64_table[u[i + 1]], c = b64_table[u[i + 2]],
		         d = b64_table[u[i + 3]];
		if ((a | b | c | d) & 0x80)
			break; /* the slow loop below names the byte */
		uint32_t v = a << 18 | b << 12 | c << 6 | d;
		out[o++] = (uint8_t)(v >> 16);
		out[o++] = (uint8_t)(v >> 8);
		out[o++] = (uint8_t)v;
	}
	for (; i < len; i += 4) {
		bool last = i + 4 == len;
		uint32_t v = 0;
		for (size_t k = 0; k < 4; k++) {
			int d = b64_value(in[i + k]);
			if (d < 0) {
				if (!(last && in[i + k] == '=' && k >= 4 - pad))
					return b64_fail(bad, i + k);
				d = 0;
			}
			v = v << 6 | (uint32_t)d;
		}
		/* The bits that padding leaves unused must be zero (one encoding per string). */
		if (last && pad == 1 && (v & 0xff) != 0)
			return b64_fail(bad, i + 2);
		if (last && pad == 2 && (v & 0xffff) != 0)
			return b64_fail(bad, i + 1);
		out[o++] = (uint8_t)(v >> 16);
		if (o < n)
			out[o++] = (uint8_t)(v >> 8);
		if (o < n)
			out[o++] = (uint8_t)v;
	}
	return (long)o;
}
