/* Fuzz target: b64_decode(). Invariants: an accepted input re-encodes to exactly the same bytes
 * (one spelling per byte string), with the length the padding implies; a refusal for bad
 * input names an offset inside it; -ENOSPC only when the result exceeds the capacity; nothing
 * is written past the capacity. And the other way round: the input read as bytes encodes to
 * a string that decodes back to them. */
#include <errno.h>
#include <string.h>

#include "engine/b64.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_B64_MAX 4096

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[FUZZ_B64_MAX + 16];
	static char back[B64_ENCODED_LEN(FUZZ_B64_MAX) + 1];
	if (size > FUZZ_B64_MAX)
		return 0;
	/* Room for the most the input can decode to, less one byte for some sizes, so that the
	 * -ENOSPC path is reached too. */
	size_t cap = B64_DECODED_MAX(size);
	if (cap > 0 && (size / 4) % 3 == 2)
		cap--;
	memset(out + cap, 0xa5, 16);
	size_t bad = (size_t)-1;
	const char *in = (const char *)data;
	long n = b64_decode(out, cap, in, size, &bad);
	for (size_t i = 0; i < 16; i++)
		FUZZ_REQUIRE(out[cap + i] == 0xa5);

	size_t pad = 0;
	if (size >= 4 && size % 4 == 0)
		pad = in[size - 1] != '=' ? 0 : in[size - 2] == '=' ? 2 : 1;
	if (n >= 0) {
		FUZZ_REQUIRE(size % 4 == 0);
		FUZZ_REQUIRE((size_t)n == size / 4 * 3 - pad && (size_t)n <= cap);
		size_t m = b64_encode(back, out, (size_t)n);
		FUZZ_REQUIRE(m == size && memcmp(back, in, size) == 0 && back[m] == '\0');
	} else if (n == -ENOSPC) {
		FUZZ_REQUIRE(size / 4 * 3 - pad > cap);
	} else {
		FUZZ_REQUIRE(n == -EINVAL && bad <= size);
		FUZZ_REQUIRE(size % 4 != 0 || bad < size);
	}

	/* The input as bytes: encode, decode, compare. */
	size_t m = b64_encode(back, data, size);
	FUZZ_REQUIRE(m == B64_ENCODED_LEN(size) && back[m] == '\0');
	memset(out + size, 0xa5, 16);
	n = b64_decode(out, size, back, m, NULL);
	FUZZ_REQUIRE(n == (long)size && memcmp(out, data, size) == 0);
	for (size_t i = 0; i < 16; i++)
		FUZZ_REQUIRE(out[size + i] == 0xa5);
	return 0;
}
