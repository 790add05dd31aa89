/* Fuzz target: tiles_path_parse(). Invariants: a path that parses formats back to exactly the
 * same bytes (the parser accepts one spelling per tile), with a valid width and level. */
#include <string.h>

#include "engine/tiles.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tiles_id t;
	if (tiles_path_parse(&t, (const char *)data, size, 63) != 0)
		return 0;
	FUZZ_REQUIRE(t.width >= 1 && t.width <= TILES_WIDTH && t.level <= 63);
	FUZZ_REQUIRE(!t.data || t.level == 0);
	char back[TILES_PATH_MAX];
	int n = tiles_path(back, sizeof back, &t);
	FUZZ_REQUIRE(n > 0 && (size_t)n == size && memcmp(back, data, size) == 0);
	return 0;
}
