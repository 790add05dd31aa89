/* tests/test_crash.c: SIGKILL at random moments, then reopen, at least 50 times.
 *
 * A child process opens the log (recovering it) and appends batches of entries whose bytes
 * are a pure function of their index, reporting each size whose append returned on a pipe,
 * and now and then records a signed head. The parent kills it after a random delay, so kills
 * land during open and index rebuild, tile writes, fdatasync, the LMDB commit and index
 * commits. After each kill the parent reopens the log and checks: the committed size never
 * goes backwards and covers every append that returned; every entry is byte-identical; the
 * root recomputed from the tiles equals the committed root; the hash index finds entries.
 * At the end, birch log fsck must find the log clean. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/tlog.h"
#include "tests/lib/check.h"
#include "tests/lib/ref.h"
#include "tests/lib/tmpdir.h"

#define KILLS     60
#define MAX_BATCH 600
#define MAXE      300

static size_t
make_entry(uint64_t i, uint8_t *out)
{
	uint8_t body[MAXE];
	uint64_t st = i * 0x9e3779b97f4a7c15ull + 3;
	size_t len = 16 + (size_t)(ref_rand(&st) % (MAXE - 32));
	for (size_t j = 0; j < len; j++)
		body[j] = (uint8_t)(ref_rand(&st) >> 24);
	memcpy(body, &i, sizeof i);
	return (size_t)tlog_plain_encode(out, MAXE + 3, body, len);
}

static uint8_t ebuf[MAX_BATCH][MAXE + 3];
static const uint8_t *eptr[MAX_BATCH];
static size_t elen[MAX_BATCH];

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The child: recover, then append until killed. Never returns. */
static void
child(const char *dir, int fd, uint64_t seed)
{
	struct tlog_opts o = {.max_batch = MAX_BATCH};
	struct tlog *t = NULL;
	char msg[512];
	if (tlog_open(&t, dir, &tlog_codec_plain, &o, msg, sizeof msg) < 0) {
		fprintf(stderr, "child: open: %s\n", msg);
		_exit(3);
	}
	for (unsigned round = 0; round < 100000; round++) {
		uint64_t first = tlog_size(t);
		size_t n = 1 + (size_t)(ref_rand(&seed) % MAX_BATCH);
		for (size_t i = 0; i < n; i++) {
			elen[i] = make_entry(first + i, ebuf[i]);
			eptr[i] = ebuf[i];
		}
		struct tlog_batch b = {.entry = eptr, .len = elen, .n = n, .timestamp = first};
		const char *why = NULL;
		if (tlog_append(t, &b, &why) < 0) {
			fprintf(stderr, "child: append: %s\n", why);
			_exit(4);
		}
		uint64_t size = tlog_size(t);
		if (ref_rand(&seed) % 4 == 0) {
			struct store_head h = {.size = size, .timestamp = size};
			tlog_root(t, h.root);
			uint8_t sth[8] = {1}, ck[] = "birch.test/crash\n";
			h.sth = sth, h.sth_len = sizeof sth, h.checkpoint = ck,
			h.checkpoint_len = sizeof ck;
			if (tlog_head_put(t, &h, &why) < 0) {
				fprintf(stderr, "child: head: %s\n", why);
				_exit(5);
			}
		}
		if (write(fd, &size, sizeof size) != (ssize_t)sizeof size)
			_exit(6);
	}
	_exit(0);
}

static int
check_entry(void *ctx, uint64_t index, const uint8_t *e, size_t len)
{
	unsigned *bad = ctx;
	uint8_t want[MAXE + 3];
	size_t wl = make_entry(index, want);
	if (wl != len || memcmp(want, e, len) != 0)
		(*bad)++;
	return 0;
}

/* Reopens the log and checks it against what the child reported. Returns the size. */
static uint64_t
verify(const char *dir, uint64_t reported, uint64_t prev, uint64_t *verified, uint64_t *seed)
{
	struct tlog *t = NULL;
	char msg[512] = "";
	struct tlog_opts o = {.max_batch = MAX_BATCH};
	int rc = tlog_open(&t, dir, &tlog_codec_plain, &o, msg, sizeof msg);
	CHECK(rc == 0, "reopen after kill: %s", msg);
	if (rc < 0)
		return prev;
	uint64_t n = tlog_size(t);
	CHECK(n >= prev, "size went backwards: %llu < %llu", (unsigned long long)n,
	      (unsigned long long)prev);
	CHECK(n >= reported, "lost a returned append: size %llu < reported %llu",
	      (unsigned long long)n, (unsigned long long)reported);
	struct tlog_reader *r;
	if (tlog_reader_open(t, &r) < 0)
		check_harness("reader");
	/* Everything new since the last check, and a sample of the old. */
	unsigned bad = 0;
	uint64_t from = *verified < n ? *verified : n;
	CHECK(tlog_entries(r, from, n, check_entry, &bad) == 0 && bad == 0,
	      "entries [%llu, %llu) byte-identical (%u bad)", (unsigned long long)from,
	      (unsigned long long)n, bad);
	if (n > 0) {
		uint64_t a = ref_rand(seed) % n, b = a + 300 < n ? a + 300 : n;
		CHECK(tlog_entries(r, a, b, check_entry, &bad) == 0 && bad == 0, "old entries");
		merkle_hash_t leaf, root, want;
		uint8_t e[MAXE + 3];
		size_t len = make_entry(a, e);
		merkle_leaf_hash(leaf, e, len);
		uint64_t got = 0;
		CHECK(store_hash_get(tlog_reader_store(r), leaf, &got) == 0 && got == a,
		      "hash index finds entry %llu", (unsigned long long)a);
		struct merkle_source src = tlog_reader_source(r, n);
		CHECK(merkle_range_root(&src, 0, n, root) == 0, "root from tiles");
		tlog_root(t, want);
		CHECK_MEM(root, want, 32, "root from the tiles equals the committed root");
	}
	*verified = n;
	tlog_reader_close(r);
	tlog_close(t);
	return n;
}

static void
sigkill_at_random_moments_loses_nothing_that_returned(void)
{
	char *dir = tmpdir_make("crash");
	struct tlog_opts o = {.store.create = true};
	struct tlog *t = NULL;
	char msg[512];
	if (tlog_open(&t, dir, &tlog_codec_plain, &o, msg, sizeof msg) < 0)
		check_harness(msg);
	tlog_close(t);
	uint64_t seed = 12345, prev = 0, verified = 0;
	unsigned kills = 0, mid_run = 0;
	double start = now_s();
	for (unsigned i = 0; i < KILLS; i++) {
		int p[2];
		if (pipe(p) < 0)
			check_harness("pipe");
		fflush(NULL);
		pid_t pid = fork();
		if (pid < 0)
			check_harness("fork");
		if (pid == 0) {
			close(p[0]);
			child(dir, p[1], seed + i);
		}
		close(p[1]);
		/* 1..60 ms: some kills land during open and recovery, most during appends. */
		struct timespec d = {0, (long)(1000 + ref_rand(&seed) % 60000) * 1000};
		nanosleep(&d, NULL);
		kill(pid, SIGKILL);
		int st = 0;
		waitpid(pid, &st, 0);
		if (WIFEXITED(st)) {
			CHECK(0, "child exited by itself with %d (see stderr)", WEXITSTATUS(st));
			close(p[0]);
			break;
		}
		kills++;
		uint64_t reported = 0, v;
		unsigned nrep = 0;
		for (unsigned k = 0; k < 1000000 && read(p[0], &v, sizeof v) == (ssize_t)sizeof v;
		     k++)
			reported = v, nrep++;
		close(p[0]);
		if (nrep > 0)
			mid_run++;
		prev = verify(dir, reported, prev, &verified, &seed);
		if (now_s() - start > 240) /* bounded in time, even on a slow machine */
			break;
	}
	printf("%u kills (%u after at least one append returned), final size %llu, %.1f s\n", kills,
	       mid_run, (unsigned long long)prev, now_s() - start);
	CHECK(kills >= 50, "at least 50 kills (%u)", kills);
	CHECK(mid_run >= kills / 3, "many kills land after appends began (%u)", mid_run);
	long probs = tlog_fsck(dir, &tlog_codec_plain, NULL, NULL, NULL);
	CHECK(probs == 0, "fsck after the crashes: %ld problems", probs);
	int rc = tmpdir_fsck(dir);
	CHECK(rc == 0 || rc == -1, "birch log fsck exits 0 (%d)", rc);
	tmpdir_remove(dir);
	free(dir);
}

int
main(void)
{
	RUN(sigkill_at_random_moments_loses_nothing_that_returned);
	return check_done();
}
