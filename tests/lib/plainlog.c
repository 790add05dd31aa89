/* tests/lib/plainlog.c: see plainlog.h. */
#include "tests/lib/plainlog.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

int
plainlog_fill(struct tlog *t, uint64_t n, size_t batch, const char *origin, const char **why)
{
	enum { MAX = 4096 };
	static uint8_t buf[MAX][40];
	const uint8_t *e[MAX];
	size_t len[MAX];
	if (batch == 0 || batch > MAX) {
		*why = "batch must be 1..4096";
		return -EINVAL;
	}
	while (tlog_size(t) < n) {
		uint64_t first = tlog_size(t);
		size_t k = n - first > batch ? batch : (size_t)(n - first);
		for (size_t i = 0; i < k; i++) {
			char body[32];
			int bl = snprintf(body, sizeof body, "entry %" PRIu64, first + i);
			len[i] = (size_t)tlog_plain_encode(buf[i], sizeof buf[i],
			                                   (const uint8_t *)body, (size_t)bl);
			e[i] = buf[i];
		}
		struct tlog_batch b = {
		        .entry = e, .len = len, .n = k, .timestamp = 1700000000000ull};
		int rc = tlog_append(t, &b, why);
		if (rc < 0)
			return rc;
	}
	if (n == 0)
		return 0;
	struct store_head h = {.size = n, .timestamp = 1700000000001ull};
	tlog_root(t, h.root);
	static const uint8_t sth[4] = {0};
	char ck[300];
	int cl = snprintf(ck, sizeof ck, "%s\n%" PRIu64 "\nroot\n\n- sig\n", origin, n);
	if (cl < 0 || (size_t)cl >= sizeof ck) {
		*why = "origin too long";
		return -EINVAL;
	}
	h.sth = sth, h.sth_len = sizeof sth;
	h.checkpoint = (const uint8_t *)ck, h.checkpoint_len = (size_t)cl;
	return tlog_head_put(t, &h, why);
}
