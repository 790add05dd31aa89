/* tests/mklog.c: test helper: mklog DIR N creates a plain-format log of N entries (entry i is
 * "entry <i>") and records a head at size N (tests/lib/plainlog.h). Exit 0, or 1 with a
 * message. */
#include <stdio.h>
#include <stdlib.h>

#include "engine/tlog.h"
#include "tests/lib/plainlog.h"

int
main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: mklog DIR N\n");
		return 2;
	}
	uint64_t n = strtoull(argv[2], NULL, 10);
	struct tlog_opts o = {.store.create = true, .max_batch = 1000};
	struct tlog *t = NULL;
	char msg[512];
	if (tlog_open(&t, argv[1], &tlog_codec_plain, &o, msg, sizeof msg) < 0) {
		fprintf(stderr, "mklog: %s\n", msg);
		return 1;
	}
	const char *why = NULL;
	if (plainlog_fill(t, n, 1000, "birch.test/mklog", &why) < 0) {
		fprintf(stderr, "mklog: %s\n", why ? why : "cannot fill the log");
		return 1;
	}
	tlog_close(t);
	return 0;
}
