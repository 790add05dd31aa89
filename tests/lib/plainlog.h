/* tests/lib/plainlog.h: a plain-format log of the entries "entry <i>" (i = 0, 1, ...), for the
 * tests and benchmarks that need a real log on disk quickly. The head it records carries
 * placeholder STH bytes and a checkpoint note with origin `origin` and no real signature. */
#ifndef BIRCH_TESTS_LIB_PLAINLOG_H
#define BIRCH_TESTS_LIB_PLAINLOG_H

#include <stdint.h>

#include "engine/tlog.h"

/* Appends entries until the log holds n, `batch` (1..4096, at most the log's max_batch) per
 * commit, then records a head at n unless n is 0. Returns 0, or a negative errno with *why. */
int plainlog_fill(struct tlog *t, uint64_t n, size_t batch, const char *origin, const char **why);

#endif
