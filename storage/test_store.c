/* storage/test_store.c: the store on real files, real io_uring and real LMDB. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/store.h"
#include "tests/lib/check.h"
#include "tests/lib/tmpdir.h"

static struct store *
open_new(const char *dir, const struct store_opts *base)
{
	struct store_opts o = base ? *base : (struct store_opts){0};
	o.create = true;
	struct store *s = NULL;
	const char *why = NULL;
	int rc = store_open(&s, dir, &o, &why);
	if (rc < 0) {
		fprintf(stderr, "store_open %s: %s (%d)\n", dir, why, rc);
		check_harness("cannot open a store");
	}
	return s;
}

static void
fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed * 131 + i * 7);
}

static void
commit_files_state_and_issuers_survive_reopen(void)
{
	char *dir = tmpdir_make("store");
	struct store *s = open_new(dir, NULL);
	static uint8_t a[5000], b[70000], der[900];
	fill(a, sizeof a, 1), fill(b, sizeof b, 2), fill(der, sizeof der, 3);
	struct store_file files[] = {
	        {.path = "tile/data/000.p/3", .data = a, .len = sizeof a},
	        {.path = "tile/0/x001/x002/003", .data = b, .len = sizeof b},
	};
	struct store_issuer iss = {{0}, der, sizeof der};
	iss.fingerprint[0] = 0xab;
	struct store_batch batch = {.files = files, .nfiles = 2, .issuers = &iss, .nissuers = 1};
	batch.state.size = 3;
	batch.state.root[0] = 0x42;
	batch.state.timestamp = 1234;
	const char *why = NULL;
	CHECK(store_commit(s, &batch, &why) == 0, "commit: %s", why);
	store_close(s);

	struct store_opts o = {0};
	CHECK(store_open(&s, dir, &o, &why) == 0, "reopen: %s", why);
	struct store_state st;
	store_state_get(s, &st);
	CHECK(st.size == 3 && st.root[0] == 0x42 && st.timestamp == 1234, "state after reopen");
	static uint8_t buf[80000];
	CHECK(store_file_read(s, "tile/data/000.p/3", buf, sizeof buf) == (ssize_t)sizeof a &&
	              memcmp(buf, a, sizeof a) == 0,
	      "data tile bytes");
	CHECK(store_file_read(s, "tile/0/x001/x002/003", buf, sizeof buf) == (ssize_t)sizeof b &&
	              memcmp(buf, b, sizeof b) == 0,
	      "hash tile bytes");
	CHECK(store_file_read(s, "tile/0/x001/x002/003", buf, 100) == -EFBIG, "cap too small");
	CHECK(store_file_read(s, "tile/0/004", buf, sizeof buf) == -ENOENT, "missing tile");
	CHECK(store_file_read(s, "../etc/passwd", buf, sizeof buf) == -EINVAL, "escape refused");
	uint64_t len = 0;
	int fd = store_file_open(s, "tile/data/000.p/3", &len);
	CHECK(fd >= 0 && len == sizeof a, "file open for sendfile");
	if (fd >= 0)
		close(fd);
	struct store_reader *r;
	CHECK(store_reader_open(s, &r) == 0, "reader");
	CHECK(store_issuer_get(r, iss.fingerprint, buf, sizeof buf) == (int)sizeof der &&
	              memcmp(buf, der, sizeof der) == 0,
	      "issuer DER");
	uint8_t other[32] = {1};
	CHECK(store_issuer_get(r, other, buf, sizeof buf) == -ENOENT, "unknown issuer");
	store_reader_close(r);
	store_close(s);
	tmpdir_remove(dir);
	free(dir);
}

static void
index_rows_are_found_after_sync_and_reopen(void)
{
	char *dir = tmpdir_make("store");
	struct store_opts o = {.index_queue_rows = 100}; /* smaller than a batch: pieces */
	struct store *s = open_new(dir, &o);
	enum { N = 1000 };
	static struct store_row rows[N];
	static struct store_hash_row hashes[N];
	for (unsigned i = 0; i < N; i++) {
		fill(rows[i].key, 32, i + 10);
		rows[i].key[0] = (uint8_t)i, rows[i].key[1] = (uint8_t)(i >> 8);
		rows[i].len = 16;
		fill(rows[i].value, 16, i);
		fill(hashes[i].hash, 32, i + 5000);
		hashes[i].hash[0] = (uint8_t)i, hashes[i].hash[1] = (uint8_t)(i >> 8);
		hashes[i].index = i;
	}
	struct store_batch b = {.dedup = rows, .ndedup = N, .hashes = hashes, .nhashes = N};
	b.state.size = N;
	const char *why = NULL;
	CHECK(store_commit(s, &b, &why) == 0, "commit: %s", why);
	CHECK(store_index_sync(s, &why) == 0, "index sync: %s", why);
	CHECK(store_index_watermark(s) == N, "watermark %llu",
	      (unsigned long long)store_index_watermark(s));
	store_close(s);
	CHECK(store_open(&s, dir, &o, &why) == 0, "reopen: %s", why);
	CHECK(store_index_watermark(s) == N, "watermark after reopen");
	struct store_reader *r;
	CHECK(store_reader_open(s, &r) == 0, "reader");
	unsigned found = 0;
	for (unsigned i = 0; i < N; i++) {
		uint8_t v[STORE_VALUE_MAX];
		uint64_t idx = 0;
		if (store_dedup_get(r, rows[i].key, v) == 16 && memcmp(v, rows[i].value, 16) == 0 &&
		    store_hash_get(r, hashes[i].hash, &idx) == 0 && idx == i)
			found++;
	}
	CHECK(found == N, "rows found: %u of %u", found, N);
	uint8_t v[STORE_VALUE_MAX], none[32] = {0};
	CHECK(store_dedup_get(r, none, v) == -ENOENT, "absent key");
	/* A second row for a key never replaces the first. */
	struct store_row again = rows[7];
	again.value[0] ^= 1;
	struct store_batch b2 = {.dedup = &again, .ndedup = 1};
	b2.state.size = N + 1;
	CHECK(store_commit(s, &b2, &why) == 0 && store_index_sync(s, &why) == 0, "second commit");
	CHECK(store_dedup_get(r, rows[7].key, v) == 16 && memcmp(v, rows[7].value, 16) == 0,
	      "first row wins");
	struct store_usage u;
	/* The duplicate row counts until a merge drops it. */
	CHECK(store_usage_get(s, &u) == 0 && u.dedup_rows - N <= 1 && u.hash_rows == N,
	      "usage rows");
	store_reader_close(r);
	store_close(s);
	tmpdir_remove(dir);
	free(dir);
}

static int
collect(void *ctx, uint64_t size, const uint8_t root[32], uint64_t ts)
{
	uint64_t *got = ctx;
	got[got[0] + 1] = size;
	got[0]++;
	(void)root, (void)ts;
	return 0;
}

static void
a_signed_size_never_gets_a_second_root(void)
{
	char *dir = tmpdir_make("store");
	struct store *s = open_new(dir, NULL);
	const char *why = NULL;
	struct store_batch b = {0};
	b.state.size = 10;
	CHECK(store_commit(s, &b, &why) == 0, "commit");
	uint8_t sth[] = "sth-bytes", ck[] = "checkpoint\n";
	struct store_head h = {10, {1}, 99, sth, sizeof sth, ck, sizeof ck};
	CHECK(store_head_put(s, &h, &why) == 0, "head put: %s", why);
	h.timestamp = 100; /* same root again, later: allowed */
	CHECK(store_head_put(s, &h, &why) == 0, "same root re-signed");
	h.root[0] = 2;
	CHECK(store_head_put(s, &h, &why) == -EEXIST, "second root refused");
	CHECK(why && strstr(why, "fork"), "reason names the fork: %s", why ? why : "");
	struct store_head far = {11, {1}, 1, sth, 1, ck, 1};
	CHECK(store_head_put(s, &far, &why) == -EINVAL, "head beyond the committed size");
	struct store_head h5 = {5, {5}, 7, sth, 3, ck, 2};
	CHECK(store_head_put(s, &h5, &why) == 0, "an older size");
	store_close(s);

	struct store_opts o = {0};
	CHECK(store_open(&s, dir, &o, &why) == 0, "reopen");
	h.root[0] = 2;
	CHECK(store_head_put(s, &h, &why) == -EEXIST, "refused after reopen too");
	struct store_reader *r;
	CHECK(store_reader_open(s, &r) == 0, "reader");
	uint8_t buf[STORE_HEAD_MAX + 64];
	struct store_head got;
	CHECK(store_head_get(r, &got, buf, sizeof buf) == 0 && got.size == 5 && got.sth_len == 3 &&
	              got.checkpoint_len == 2,
	      "latest head is the last recorded");
	uint8_t root[32];
	uint64_t ts;
	CHECK(store_signed_get(r, 10, root, &ts) == 0 && root[0] == 1 && ts == 99, "signed 10");
	CHECK(store_signed_get(r, 11, root, &ts) == -ENOENT, "never signed");
	uint64_t sizes[8] = {0};
	CHECK(store_signed_each(r, collect, sizes) == 0 && sizes[0] == 2 && sizes[1] == 5 &&
	              sizes[2] == 10,
	      "signed sizes in order");
	store_reader_close(r);
	store_close(s);
	tmpdir_remove(dir);
	free(dir);
}

static void
short_writes_and_eagain_still_write_whole_files(void)
{
	char *dir = tmpdir_make("store");
	struct store *s = open_new(dir, NULL);
	static uint8_t a[100000];
	fill(a, sizeof a, 9);
	struct store_file f = {.path = "tile/data/001", .data = a, .len = sizeof a};
	struct store_batch b = {.files = &f, .nfiles = 1};
	b.state.size = 1;
	const char *why = NULL;
	store_fault_inject(STORE_FAULT_WRITE, 1, 4096); /* the first write completes short */
	CHECK(store_commit(s, &b, &why) == 0, "commit with a short write: %s", why);
	static uint8_t buf[200000];
	CHECK(store_file_read(s, f.path, buf, sizeof buf) == (ssize_t)sizeof a &&
	              memcmp(buf, a, sizeof a) == 0,
	      "whole file after a short write");
	f.path = "tile/data/002";
	store_fault_inject(STORE_FAULT_WRITE, 1, -EAGAIN);
	b.state.size = 2;
	CHECK(store_commit(s, &b, &why) == 0, "commit with EAGAIN: %s", why);
	CHECK(store_file_read(s, f.path, buf, sizeof buf) == (ssize_t)sizeof a,
	      "whole after EAGAIN");
	store_fault_inject(STORE_FAULT_SYNC, 1, -EAGAIN); /* an fdatasync this time */
	b.state.size = 3;
	f.path = "tile/data/003";
	CHECK(store_commit(s, &b, &why) == 0, "fsync EAGAIN retried: %s", why);
	/* A stale longer file at the same path is trimmed to the new bytes. */
	f.path = "tile/data/001";
	f.len = 10;
	b.state.size = 4;
	CHECK(store_commit(s, &b, &why) == 0, "rewrite");
	CHECK(store_file_read(s, f.path, buf, sizeof buf) == 10, "trimmed");
	store_close(s);
	tmpdir_remove(dir);
	free(dir);
}

/* Aligned bytes take the O_DIRECT path (where the file system has it); a direct write that
 * comes back short or refused is written again through the page cache. */
static void
aligned_files_are_whole_after_short_or_refused_direct_writes(void)
{
	char *dir = tmpdir_make("store");
	struct store *s = open_new(dir, NULL);
	enum { LEN = 3 * 4096 + 100 };
	uint8_t *a = NULL;
	if (posix_memalign((void **)&a, 4096, LEN) != 0)
		check_harness("out of memory");
	static uint8_t buf[LEN + 10];
	struct store_file f = {.path = "tile/data/000", .data = a, .len = LEN};
	struct store_batch b = {.files = &f, .nfiles = 1};
	static const char *const path[] = {"tile/data/000", "tile/data/001", "tile/data/002",
	                                   "tile/data/003"};
	/* none, a short first write, a refused one, and an EAGAIN */
	static const int fault[] = {0, 4096, -EINVAL, -EAGAIN};
	/* A refused direct write only exists where the file system takes O_DIRECT at all. */
	char probe[4200];
	snprintf(probe, sizeof probe, "%s/probe", dir);
	int pfd = open(probe, O_WRONLY | O_CREAT | O_DIRECT | O_CLOEXEC, 0644);
	bool direct = pfd >= 0;
	if (pfd >= 0)
		close(pfd);
	const char *why = NULL;
	for (unsigned k = 0; k < 4; k++) {
		if (fault[k] == -EINVAL && !direct)
			continue;
		fill(a, LEN, 20 + k);
		f.path = path[k];
		b.state.size = k + 1;
		store_fault_inject(STORE_FAULT_WRITE, fault[k] ? 1 : 0, fault[k]);
		CHECK(store_commit(s, &b, &why) == 0, "commit %u: %s", k, why ? why : "");
		store_fault_inject(STORE_FAULT_ANY, 0, 0);
		CHECK(store_file_read(s, f.path, buf, sizeof buf) == LEN &&
		              memcmp(buf, a, LEN) == 0,
		      "%s whole and byte-identical (fault %d)", f.path, fault[k]);
	}
	store_close(s);
	free(a);
	tmpdir_remove(dir);
	free(dir);
}

static void
io_error_stops_the_writer_and_reopen_recovers(void)
{
	char *dir = tmpdir_make("store");
	struct store *s = open_new(dir, NULL);
	uint8_t a[300];
	fill(a, sizeof a, 4);
	struct store_file f = {.path = "tile/data/000.p/1", .data = a, .len = sizeof a};
	struct store_batch b = {.files = &f, .nfiles = 1};
	b.state.size = 1;
	const char *why = NULL;
	CHECK(store_commit(s, &b, &why) == 0, "first commit");
	for (unsigned nth = 1; nth <= 2; nth++) { /* the write, then an fdatasync */
		store_fault_inject(nth == 1 ? STORE_FAULT_WRITE : STORE_FAULT_SYNC, 1, -EIO);
		f.path = nth == 1 ? "tile/data/000.p/2" : "tile/data/000.p/3";
		b.state.size = 1 + nth;
		why = NULL;
		CHECK(store_commit(s, &b, &why) == -EIO, "injected EIO fails the commit (%u)", nth);
		CHECK(why != NULL, "with a reason");
		if (nth == 2)
			CHECK(why && strstr(why, "fdatasync"), "fsync failure named: %s",
			      why ? why : "");
		b.state.size = 10;
		CHECK(store_commit(s, &b, &why) == -EIO, "every later commit refused");
		store_fault_inject(STORE_FAULT_ANY, 0, 0);
		store_close(s);
		struct store_opts o = {0};
		CHECK(store_open(&s, dir, &o, &why) == 0, "reopen after EIO: %s", why);
		struct store_state st;
		store_state_get(s, &st);
		CHECK(st.size == 1, "state is the last commit, size %llu",
		      (unsigned long long)st.size);
	}
	store_close(s);
	tmpdir_remove(dir);
	free(dir);
}

static void
a_full_state_map_is_a_clear_error_and_leaves_a_consistent_store(void)
{
	char *dir = tmpdir_make("store");
	struct store_opts tiny = {.state_map_bytes = 64 * 1024};
	struct store *s = open_new(dir, &tiny);
	static uint8_t der[8000];
	const char *why = NULL;
	int rc = 0;
	uint64_t size = 0;
	/* Issuers fill state.mdb. */
	for (unsigned i = 0; i < 64 && rc == 0; i++) {
		struct store_issuer iss = {{(uint8_t)i, 1}, der, sizeof der};
		struct store_batch b = {.issuers = &iss, .nissuers = 1};
		b.state.size = size + 1;
		rc = store_commit(s, &b, &why);
		if (rc == 0)
			size++;
	}
	CHECK(rc == -ENOSPC, "state map full gives ENOSPC (%d)", rc);
	CHECK(why && strstr(why, "map full"), "reason: %s", why ? why : "");
	store_close(s);
	CHECK(store_open(&s, dir, &tiny, &why) == 0, "reopen after map full: %s", why);
	struct store_state st;
	store_state_get(s, &st);
	CHECK(st.size == size && size > 0, "state is the last good commit (%llu)",
	      (unsigned long long)size);
	store_close(s);

	/* The commit that returned stays durable with a bigger map; the store goes on. */
	struct store_opts big = {0};
	CHECK(store_open(&s, dir, &big, &why) == 0, "reopen with a bigger state map");
	struct store_batch b = {0};
	b.state.size = size + 1;
	CHECK(store_commit(s, &b, &why) == 0, "commits again: %s", why ? why : "");
	store_close(s);
	tmpdir_remove(dir);
	free(dir);
}

static void
open_refuses_a_directory_that_is_not_a_log(void)
{
	char *dir = tmpdir_make("store");
	struct store *s = NULL;
	const char *why = NULL;
	struct store_opts o = {0};
	CHECK(store_open(&s, dir, &o, &why) == -ENOENT && s == NULL, "no state.mdb");
	CHECK(why && strstr(why, "state.mdb"), "reason names state.mdb: %s", why ? why : "");
	o.read_only = true;
	CHECK(store_open(&s, dir, &o, &why) < 0, "read-only open of an empty directory");
	CHECK(store_open(&s, "/nonexistent/birch", &o, &why) < 0, "missing directory");
	tmpdir_remove(dir);
	free(dir);
}

/* Bytes of dir/rel into buf; -1 when it cannot be read. */
static long
read_rel(const char *dir, const char *rel, uint8_t *buf, size_t cap)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", dir, rel);
	int fd = open(p, O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, cap);
	close(fd);
	return n;
}

static bool
exists_rel(const char *dir, const char *rel)
{
	char p[512];
	struct stat st;
	snprintf(p, sizeof p, "%s/%s", dir, rel);
	return stat(p, &st) == 0;
}

static void
replace_swaps_whole_files_and_an_open_reader_keeps_the_old_bytes(void)
{
	char *dir = tmpdir_make("store");
	struct store *s = open_new(dir, NULL);
	static uint8_t a[3000], b[17], got[4096];
	fill(a, sizeof a, 4), fill(b, sizeof b, 5);
	const char *why = NULL;
	CHECK(store_file_replace(s, "checkpoint", a, sizeof a, &why) == 0, "first: %s", why);
	CHECK(read_rel(dir, "checkpoint", got, sizeof got) == (long)sizeof a &&
	              memcmp(got, a, sizeof a) == 0,
	      "the file holds the bytes");
	/* A reader that opened the old file keeps reading it whole: the new bytes are another
	 * inode, renamed over the name, never written into the old one. */
	char p[512];
	snprintf(p, sizeof p, "%s/checkpoint", dir);
	int fd = open(p, O_RDONLY);
	if (fd < 0)
		check_harness("open checkpoint");
	CHECK(store_file_replace(s, "checkpoint", b, sizeof b, &why) == 0, "shorter: %s", why);
	CHECK(pread(fd, got, sizeof got, 0) == (ssize_t)sizeof a && memcmp(got, a, sizeof a) == 0,
	      "the open reader still sees the old bytes, whole");
	close(fd);
	CHECK(read_rel(dir, "checkpoint", got, sizeof got) == (long)sizeof b &&
	              memcmp(got, b, sizeof b) == 0,
	      "the name now holds exactly the new bytes (nothing left of the longer old ones)");
	CHECK(!exists_rel(dir, ".checkpoint.tmp"), "no temporary file left");
	CHECK(store_file_replace(s, "issuer/sub/x", b, sizeof b, &why) == 0 &&
	              read_rel(dir, "issuer/sub/x", got, sizeof got) == (long)sizeof b,
	      "missing directories are made: %s", why);
	CHECK(store_file_replace(s, "../x", b, sizeof b, &why) == -EINVAL, "escape refused");
	CHECK(store_file_replace(s, "/tmp/x", b, sizeof b, &why) == -EINVAL, "absolute refused");
	CHECK(store_file_replace(s, "", b, sizeof b, &why) == -EINVAL, "empty refused");
	/* A replacement that fails (the name is a non-empty directory) leaves no temporary file
	 * and does not stop the writer: nothing committed depends on the file. */
	CHECK(store_file_replace(s, "issuer", b, sizeof b, &why) < 0 && why,
	      "over a directory: refused (%s)", why ? why : "");
	CHECK(!exists_rel(dir, ".issuer.tmp"), "no temporary file left after a failure");
	struct store_batch batch = {.nfiles = 0};
	batch.state.size = 1;
	CHECK(store_commit(s, &batch, &why) == 0, "the store is still usable: %s", why);
	store_close(s);
	struct store_opts ro = {.read_only = true};
	CHECK(store_open(&s, dir, &ro, &why) == 0, "read-only open: %s", why);
	CHECK(store_file_replace(s, "checkpoint", a, sizeof a, &why) == -EROFS,
	      "read-only refuses");
	CHECK(read_rel(dir, "checkpoint", got, sizeof got) == (long)sizeof b,
	      "and leaves the file as it was");
	store_close(s);
	tmpdir_remove(dir);
	free(dir);
}

struct iss_seen {
	unsigned n, bad;
	uint8_t last[STORE_KEY_LEN];
};

static int
iss_collect(void *ctx, const uint8_t fp[STORE_KEY_LEN], const uint8_t *der, size_t len)
{
	struct iss_seen *v = ctx;
	uint8_t want[64];
	fill(want, sizeof want, fp[0]);
	if (len != (size_t)(10 + fp[0]) || memcmp(der, want, len) != 0)
		v->bad++;
	if (v->n > 0 && memcmp(v->last, fp, STORE_KEY_LEN) >= 0)
		v->bad++; /* not in increasing order */
	memcpy(v->last, fp, STORE_KEY_LEN);
	v->n++;
	return v->n == 100 ? 7 : 0;
}

static void
issuers_are_listed_in_fingerprint_order_with_their_der(void)
{
	char *dir = tmpdir_make("store");
	struct store *s = open_new(dir, NULL);
	static uint8_t der[3][64];
	struct store_issuer iss[3];
	const uint8_t first[3] = {9, 2, 5}; /* committed out of order */
	for (unsigned i = 0; i < 3; i++) {
		memset(&iss[i], 0, sizeof iss[i]);
		iss[i].fingerprint[0] = first[i];
		fill(der[i], sizeof der[i], first[i]);
		iss[i].der = der[i];
		iss[i].len = 10u + first[i];
	}
	struct store_batch b = {.issuers = iss, .nissuers = 3};
	b.state.size = 1;
	const char *why = NULL;
	CHECK(store_commit(s, &b, &why) == 0, "commit: %s", why);
	struct store_reader *r;
	CHECK(store_reader_open(s, &r) == 0, "reader");
	struct iss_seen v = {0};
	CHECK(store_issuer_each(r, iss_collect, &v) == 0 && v.n == 3 && v.bad == 0,
	      "three issuers, in order, with their DER (%u, bad %u)", v.n, v.bad);
	CHECK(v.last[0] == 9, "the largest fingerprint last");
	memset(&v, 0, sizeof v);
	v.n = 99; /* the next call returns 7: iteration stops and gives it back */
	memset(v.last, 0, sizeof v.last);
	CHECK(store_issuer_each(r, iss_collect, &v) == 7 && v.n == 100, "stops at non-zero");
	store_reader_close(r);
	store_close(s);
	tmpdir_remove(dir);
	free(dir);
}

int
main(void)
{
	RUN(commit_files_state_and_issuers_survive_reopen);
	RUN(index_rows_are_found_after_sync_and_reopen);
	RUN(a_signed_size_never_gets_a_second_root);
	RUN(short_writes_and_eagain_still_write_whole_files);
	RUN(aligned_files_are_whole_after_short_or_refused_direct_writes);
	RUN(io_error_stops_the_writer_and_reopen_recovers);
	RUN(a_full_state_map_is_a_clear_error_and_leaves_a_consistent_store);
	RUN(open_refuses_a_directory_that_is_not_a_log);
	RUN(replace_swaps_whole_files_and_an_open_reader_keeps_the_old_bytes);
	RUN(issuers_are_listed_in_fingerprint_order_with_their_der);
	return check_done();
}
