/* tests/fuzz/fuzz_check.h: an invariant that must hold for every fuzz input; a breach aborts,
 * which libFuzzer and the replay test both report. */
#ifndef BIRCH_FUZZ_CHECK_H
#define BIRCH_FUZZ_CHECK_H
#include <stdio.h>
#include <stdlib.h>
#define FUZZ_REQUIRE(c)                                                                            \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #c);  \
			abort();                                                                   \
		}                                                                                  \
	} while (0)
#endif
