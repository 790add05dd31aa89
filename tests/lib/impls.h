/* tests/lib/impls.h: runs a test suite once under every SHA-256 implementation this CPU
 * supports (a skip line for the others), then leaves the automatic choice selected. */
#ifndef BIRCH_TESTS_IMPLS_H
#define BIRCH_TESTS_IMPLS_H

#include <stdio.h>

#include "engine/sha256x.h"
#include "tests/lib/check.h"

static inline void
check_each_impl(void (*suite)(void))
{
	for (int i = SHA256X_OPENSSL; i < SHA256X_IMPL_COUNT; i++) {
		enum sha256x_impl impl = (enum sha256x_impl)i;
		if (sha256x_select(impl) != 0) {
			printf("skip %s: not supported by this CPU\n", sha256x_impl_name(impl));
			continue;
		}
		printf("-- sha256x implementation: %s\n", sha256x_impl_name(impl));
		suite();
	}
	if (sha256x_select(SHA256X_AUTO) != 0)
		check_harness("cannot select the automatic SHA-256 implementation");
	printf("-- sha256x implementation: %s\n", sha256x_impl_name(sha256x_selected()));
}

#endif
