/* Fuzz target: the read path's request parsing (net/rd.h): query strings, numbers, base64
 * hashes, tile paths and issuer names, against a real 300-entry log made once per process in
 * a temporary directory. The input is "PATH?QUERY"; its first byte picks GET (even) or POST.
 * Invariants: every answer has a status rd.h allows; a 4xx or 5xx body is one line ending in
 * "\n"; a 200 has a body and a content type; a JSON answer is an object. */
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/tlog.h"
#include "net/rd.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char g_dir[64];
static struct tlog *g_log;
static struct rd *g_rd;

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(p);
}

static void
cleanup(void)
{
	rd_close(g_rd);
	tlog_close(g_log);
	nftw(g_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
setup(void)
{
	snprintf(g_dir, sizeof g_dir, "/tmp/birch-fuzz-rd-XXXXXX");
	FUZZ_REQUIRE(mkdtemp(g_dir) != NULL);
	struct tlog_opts o = {.store.create = true, .max_batch = 1000};
	char msg[256];
	FUZZ_REQUIRE(tlog_open(&g_log, g_dir, &tlog_codec_plain, &o, msg, sizeof msg) == 0);
	static uint8_t buf[300][64];
	const uint8_t *e[300];
	size_t len[300];
	for (unsigned i = 0; i < 300; i++) {
		char body[32];
		int bl = snprintf(body, sizeof body, "entry %u", i);
		len[i] = (size_t)tlog_plain_encode(buf[i], sizeof buf[i], (const uint8_t *)body,
		                                   (size_t)bl);
		e[i] = buf[i];
	}
	const char *why = NULL;
	struct tlog_batch b = {.entry = e, .len = len, .n = 300, .timestamp = 1700000000000ull};
	FUZZ_REQUIRE(tlog_append(g_log, &b, &why) == 0);
	struct store_head h = {.size = 300, .timestamp = 1700000000001ull};
	tlog_root(g_log, h.root);
	const uint8_t sth[4] = {4, 3, 0, 0};
	const char ck[] = "birch.test/fuzz\n300\nroot\n\n- sig\n";
	h.sth = sth, h.sth_len = sizeof sth;
	h.checkpoint = (const uint8_t *)ck, h.checkpoint_len = strlen(ck);
	FUZZ_REQUIRE(tlog_head_put(g_log, &h, &why) == 0);
	FUZZ_REQUIRE(rd_open(&g_rd, &g_log, 1, 1u << 20) == 0);
	atexit(cleanup);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!g_rd)
		setup();
	if (size < 1)
		return 0;
	bool get = (data[0] & 1) == 0;
	const char *s = (const char *)data + 1;
	size_t n = size - 1;
	const char *q = memchr(s, '?', n);
	size_t plen = q ? (size_t)(q - s) : n;
	const char *query = q ? q + 1 : "";
	size_t qlen = q ? n - plen - 1 : 0;
	if (!rd_is_read_path(s, plen)) {
		FUZZ_REQUIRE(rd_endpoint_of(s, plen) == RD_EP_N);
		return 0;
	}
	struct rd_resp a;
	memset(&a, 0xa5, sizeof a);
	rd_get(g_rd, 0, get, s, plen, query, qlen, &a);
	FUZZ_REQUIRE(a.status == 200 || a.status == 400 || a.status == 404 || a.status == 405 ||
	             a.status == 500 || a.status == 503);
	FUZZ_REQUIRE(a.content_type != NULL && a.content_type[0] != 0);
	FUZZ_REQUIRE(a.len == 0 || a.body != NULL);
	if (!get)
		FUZZ_REQUIRE(a.status == 405);
	if (a.status != 200) {
		FUZZ_REQUIRE(a.len > 0 && a.body[a.len - 1] == '\n');
		FUZZ_REQUIRE(memchr(a.body, '\n', a.len) == a.body + a.len - 1);
	} else if (strcmp(a.content_type, "application/json") == 0) {
		FUZZ_REQUIRE(a.len >= 2 && a.body[0] == '{' && a.body[a.len - 1] == '}');
	}
	FUZZ_REQUIRE(!a.hold || a.status == 200);
	rd_release(a.hold);
	return 0;
}
