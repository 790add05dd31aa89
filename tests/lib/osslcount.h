/* tests/lib/osslcount.h: counts OpenSSL's allocations, for tests of the "no allocation per
 * call" promises. osslcount_install() must run before anything else calls OpenSSL (first thing
 * in main); it returns 0 when OpenSSL refused the allocator (the test then skips those cases).
 * Test-only. */
#ifndef BIRCH_TESTS_OSSLCOUNT_H
#define BIRCH_TESTS_OSSLCOUNT_H

extern unsigned long osslcount_allocs; /* malloc and realloc calls so far */

int osslcount_install(void);

#endif
