/* Fuzz target: hex_decode(). Invariants: success exactly for even-length all-hex input;
 * decode then encode gives the input lower-cased; never writes past the capacity. */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "engine/hex.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[4096 + 16];
	static char back[2 * sizeof out + 1];
	size_t cap = size / 2 > 4096 ? 4096 : size / 2;
	out[cap] = 0xa5; /* canary just past the capacity */
	size_t bad = 0;
	long n = hex_decode(out, cap, (const char *)data, size, &bad);
	FUZZ_REQUIRE(out[cap] == 0xa5);
	bool all_hex = size % 2 == 0;
	for (size_t i = 0; i < size && all_hex; i++)
		all_hex = isxdigit(data[i]);
	if (n < 0) {
		FUZZ_REQUIRE(!all_hex || size / 2 > cap);
		return 0;
	}
	FUZZ_REQUIRE(all_hex && (size_t)n == size / 2);
	hex_encode(back, out, (size_t)n);
	for (size_t i = 0; i < size; i++)
		FUZZ_REQUIRE(back[i] == tolower(data[i]));
	return 0;
}
