/* tests/mklog.c: test helper: mklog DIR N creates a plain-format log of N entries (entry i is a
 * pure function of i) and records a signed head at size N. Exit 0, or 1 with a message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/tlog.h"

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
	static uint8_t buf[1000][200];
	const uint8_t *e[1000];
	size_t len[1000];
	const char *why = NULL;
	while (tlog_size(t) < n) {
		uint64_t first = tlog_size(t);
		size_t k = n - first > 1000 ? 1000 : (size_t)(n - first);
		for (size_t i = 0; i < k; i++) {
			char body[64];
			int bl = snprintf(body, sizeof body, "entry %llu",
			                  (unsigned long long)(first + i));
			len[i] = (size_t)tlog_plain_encode(buf[i], sizeof buf[i],
			                                   (const uint8_t *)body, (size_t)bl);
			e[i] = buf[i];
		}
		struct tlog_batch b = {
		        .entry = e, .len = len, .n = k, .timestamp = 1700000000000ull};
		if (tlog_append(t, &b, &why) < 0) {
			fprintf(stderr, "mklog: append: %s\n", why);
			return 1;
		}
	}
	struct store_head h = {.size = n, .timestamp = 1700000000001ull};
	tlog_root(t, h.root);
	const uint8_t sth[4] = {0};
	const char ck[] = "birch.test/mklog\n42\nroot\n\n- sig\n";
	h.sth = sth, h.sth_len = sizeof sth;
	h.checkpoint = (const uint8_t *)ck, h.checkpoint_len = strlen(ck);
	if (n > 0 && tlog_head_put(t, &h, &why) < 0) {
		fprintf(stderr, "mklog: head: %s\n", why);
		return 1;
	}
	tlog_close(t);
	return 0;
}
