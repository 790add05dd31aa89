/* tests/lib/osslcount.c: see osslcount.h. */
#include "tests/lib/osslcount.h"

#include <stdlib.h>

#include <openssl/crypto.h>

unsigned long osslcount_allocs;

static void *
count_malloc(size_t n, const char *file, int line)
{
	(void)file, (void)line;
	osslcount_allocs++;
	return malloc(n);
}

static void *
count_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file, (void)line;
	osslcount_allocs++;
	return realloc(p, n);
}

static void
count_free(void *p, const char *file, int line)
{
	(void)file, (void)line;
	free(p);
}

int
osslcount_install(void)
{
	return CRYPTO_set_mem_functions(count_malloc, count_realloc, count_free);
}
