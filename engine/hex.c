#include "engine/hex.h"

#include <errno.h>

void
hex_encode(char *out, const uint8_t *in, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

static int
nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

long
hex_decode(uint8_t *out, size_t cap, const char *in, size_t len, size_t *bad)
{
	if (len % 2 != 0) {
		if (bad)
			*bad = len;
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		if (nibble(in[i]) < 0) {
			if (bad)
				*bad = i;
			return -EINVAL;
		}
	}
	if (len / 2 > cap)
		return -ENOSPC;
	for (size_t i = 0; i < len / 2; i++)
		out[i] = (uint8_t)(nibble(in[2 * i]) << 4 | nibble(in[2 * i + 1]));
	return (long)(len / 2);
}
