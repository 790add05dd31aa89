/* storage/test_runs.c: run files merged in tiers, on real files, with the merge thread live. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "storage/runs.h"
#include "tests/lib/check.h"
#include "tests/lib/tmpdir.h"

/* ---- helpers -------------------------------------------------------------------------------- */

static uint64_t
mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* Uniform keys, like SHA-256 outputs: row i of stream `seed`. */
static void
make_key(uint8_t key[STORE_KEY_LEN], uint64_t seed, uint64_t i)
{
	for (unsigned w = 0; w < 4; w++) {
		uint64_t v = mix64(seed * 0x100000001b3ull + i * 4 + w);
		memcpy(key + 8 * w, &v, 8);
	}
}

static void
make_row(struct store_row *row, uint64_t seed, uint64_t i, unsigned len, unsigned salt)
{
	memset(row, 0, sizeof *row);
	make_key(row->key, seed, i);
	row->len = (uint8_t)len;
	uint64_t v = mix64(i ^ ((uint64_t)salt << 40) ^ seed);
	for (unsigned b = 0; b < len; b++)
		row->value[b] = (uint8_t)(v >> (b % 8 * 8)) ^ (uint8_t)b;
}

/* Whether runs_get returns exactly row's value. */
static bool
get_is(struct runs *r, unsigned t, const struct store_row *row)
{
	uint8_t v[STORE_VALUE_MAX];
	int n = runs_get(r, t, row->key, v);
	return n == row->len && memcmp(v, row->value, row->len) == 0;
}

static struct runs *
open_runs(const char *dir, unsigned ntables, unsigned fanout, bool ro)
{
	struct runs_opts o = {.ntables = ntables, .fanout = fanout, .read_only = ro};
	struct runs *r = NULL;
	const char *why = NULL;
	int rc = runs_open(&r, dir, &o, &why);
	if (rc < 0) {
		fprintf(stderr, "runs_open %s: %s (%d)\n", dir, why, rc);
		check_harness("cannot open runs");
	}
	return r;
}

static int
add1(struct runs *r, struct store_row *rows, size_t n, uint64_t mark)
{
	struct store_row *const v[1] = {rows};
	const size_t nv[1] = {n};
	const char *why = NULL;
	int rc = runs_add(r, v, nv, mark, &why);
	if (rc < 0)
		fprintf(stderr, "runs_add: %s (%d)\n", why, rc);
	return rc;
}

static unsigned
count_files(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	unsigned n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name), s = strlen(suffix);
		n += l >= s && strcmp(e->d_name + l - s, suffix) == 0;
	}
	if (d)
		closedir(d);
	return n;
}

static bool
exists(const char *dir, const char *name)
{
	char p[512];
	struct stat st;
	snprintf(p, sizeof p, "%s/%s", dir, name);
	return stat(p, &st) == 0;
}

static void
write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len)
		check_harness("cannot write a test file");
	close(fd);
}

static void
patch_file(const char *dir, const char *name, off_t off, const void *data, size_t len)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	int fd = open(p, O_WRONLY);
	if (fd < 0 || pwrite(fd, data, len, off) != (ssize_t)len)
		check_harness("cannot patch a test file");
	close(fd);
}

static void
read_at(const char *dir, const char *name, off_t off, void *data, size_t len)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	int fd = open(p, O_RDONLY);
	if (fd < 0 || pread(fd, data, len, off) != (ssize_t)len)
		check_harness("cannot read a test file");
	close(fd);
}

static void
done_with(char *dir)
{
	tmpdir_remove(dir);
	free(dir);
}

/* ---- lookups across merges --------------------------------------------------------------------
 */

enum { ADDS = 30, PER = 300 };

/* Value lengths change with the add: 8, then 1/96/8 mixed, then 1: merges change width. */
static unsigned
len_of(uint64_t i)
{
	unsigned a = (unsigned)(i / PER);
	static const unsigned mixed[3] = {1, 96, 8};
	return a < 10 ? 8 : a < 20 ? mixed[i % 3] : 1;
}

static void
every_added_key_is_found_while_tiers_form(void)
{
	char *dir = tmpdir_make("runs");
	struct runs *r = open_runs(dir, 2, 3, false);
	static struct store_row rows0[PER], rows1[PER / 2];
	struct store_row want;
	unsigned missing_ok = 0, bad = 0;
	for (uint64_t a = 0; a < ADDS; a++) {
		for (unsigned j = 0; j < PER; j++)
			make_row(&rows0[j], 1, a * PER + j, len_of(a * PER + j), 0);
		for (unsigned j = 0; j < PER / 2; j++)
			make_row(&rows1[j], 2, a * PER + j, 4 + j % 5, 0);
		struct store_row *const v[2] = {rows0, rows1};
		const size_t n[2] = {PER, PER / 2};
		const char *why = NULL;
		CHECK(runs_add(r, v, n, a + 1, &why) == 0, "add %u: %s", (unsigned)a, why);
		/* this add in full, and every 7th row added before */
		for (uint64_t i = 0; i < (a + 1) * PER; i += i >= a * PER ? 1 : 7) {
			make_row(&want, 1, i, len_of(i), 0);
			bad += !get_is(r, 0, &want);
		}
	}
	CHECK(bad == 0, "%u wrong answers during adds", bad);
	const char *why = NULL;
	CHECK(runs_quiesce(r, &why) == 0, "quiesce: %s", why);
	bad = 0;
	for (uint64_t i = 0; i < ADDS * PER; i++) {
		make_row(&want, 1, i, len_of(i), 0);
		bad += !get_is(r, 0, &want);
		if (i % PER < PER / 2) {
			make_row(&want, 2, (i / PER) * PER + i % PER, 4 + (i % PER) % 5, 0);
			bad += !get_is(r, 1, &want);
		}
	}
	CHECK(bad == 0, "%u wrong answers after merges", bad);
	uint8_t v[STORE_VALUE_MAX];
	for (uint64_t i = 0; i < 2000; i++) {
		make_key(want.key, 99, i);
		missing_ok += runs_get(r, 0, want.key, v) == -ENOENT &&
		              runs_get(r, 1, want.key, v) == -ENOENT;
	}
	CHECK(missing_ok == 2000, "missing keys: %u of 2000 gave -ENOENT", missing_ok);
	CHECK(runs_get(r, 2, want.key, v) == -ENOENT, "a table beyond ntables");
	struct runs_stats st;
	runs_stats(r, 0, &st);
	/* 30 adds with fanout 3 are 1010 in base 3: one tier-3 run and one tier-1 run */
	CHECK(st.rows == ADDS * PER && st.files == 2, "table 0: %llu rows in %llu files",
	      (unsigned long long)st.rows, (unsigned long long)st.files);
	runs_stats(r, 1, &st);
	CHECK(st.rows == ADDS * (PER / 2) && st.files == 2, "table 1: %llu rows in %llu files",
	      (unsigned long long)st.rows, (unsigned long long)st.files);
	CHECK(runs_check(r, NULL, NULL) == 0, "a clean index checks clean");
	runs_close(r);
	CHECK(count_files(dir, ".run") == 4, "only live runs on disk: %u",
	      count_files(dir, ".run"));
	done_with(dir);
}

/* Keys that are not uniform: crowded sort buckets and interpolation that must fall back. */
static void
skewed_keys_still_sort_and_search_correctly(void)
{
	char *dir = tmpdir_make("runs");
	struct runs *r = open_runs(dir, 1, 2, false);
	enum { N = 3000 };
	static struct store_row rows[N];
	for (unsigned a = 0; a < 4; a++) {
		for (unsigned j = 0; j < N; j++) {
			struct store_row *row = &rows[j];
			uint64_t i = (uint64_t)a * N + j;
			make_row(row, 3, i, 1 + i % 96, 0);
			/* most keys share their first 8 bytes (all zero or all 0xff) */
			if (i % 10 < 6)
				memset(row->key, 0, 8);
			else if (i % 10 < 9)
				memset(row->key, 0xff, 8);
		}
		CHECK(add1(r, rows, N, a) == 0, "add %u", a);
	}
	const char *why = NULL;
	CHECK(runs_quiesce(r, &why) == 0, "quiesce: %s", why);
	unsigned bad = 0;
	for (uint64_t i = 0; i < 4 * N; i++) {
		struct store_row want;
		make_row(&want, 3, i, 1 + i % 96, 0);
		if (i % 10 < 6)
			memset(want.key, 0, 8);
		else if (i % 10 < 9)
			memset(want.key, 0xff, 8);
		bad += !get_is(r, 0, &want);
	}
	CHECK(bad == 0, "%u skewed keys wrong", bad);
	uint8_t v[STORE_VALUE_MAX], zero[STORE_KEY_LEN] = {0}, ones[STORE_KEY_LEN];
	memset(ones, 0xff, sizeof ones);
	CHECK(runs_get(r, 0, zero, v) == -ENOENT && runs_get(r, 0, ones, v) == -ENOENT,
	      "the extreme keys are absent");
	CHECK(runs_check(r, NULL, NULL) == 0, "sorted");
	runs_close(r);
	done_with(dir);
}

/* ---- oldest wins ------------------------------------------------------------------------------
 */

static void
oldest_value_wins_for_a_repeated_key(void)
{
	char *dir = tmpdir_make("runs");
	struct runs *r = open_runs(dir, 1, 2, false);
	enum { N = 100 };
	static struct store_row rows[N + 2];
	struct store_row first5, first_dup, second_dup;
	for (unsigned j = 0; j < N; j++)
		make_row(&rows[j], 4, j, 8, 0);
	first5 = rows[5];
	/* one key twice in the same add: the earlier row wins */
	make_row(&first_dup, 4, 1000, 3, 1);
	make_row(&second_dup, 4, 1000, 96, 2);
	rows[N] = first_dup, rows[N + 1] = second_dup;
	CHECK(add1(r, rows, N + 2, 1) == 0, "first add");
	unsigned bad = 0;
	for (unsigned a = 2; a <= 8; a++) {
		for (unsigned j = 0; j < N; j++)
			make_row(&rows[j], 4, a * 10000 + j, 8, 0);
		make_row(&rows[0], 4, 5, 1 + a * 11, a); /* key 5 again, another value */
		make_row(&rows[1], 4, 1000, 96, a);      /* the duplicated key again */
		CHECK(add1(r, rows, N, a) == 0, "add %u", a);
		bad += !get_is(r, 0, &first5) + !get_is(r, 0, &first_dup);
	}
	CHECK(bad == 0, "a later value won %u times", bad);
	const char *why = NULL;
	CHECK(runs_quiesce(r, &why) == 0, "quiesce: %s", why);
	CHECK(get_is(r, 0, &first5) && get_is(r, 0, &first_dup), "oldest wins after merges");
	struct runs_stats st;
	runs_stats(r, 0, &st);
	/* 8 adds, fanout 2: one run; the 2 + 7 + 7 repeated rows were dropped by merges */
	unsigned unique = (N + 1) + 7 * (N - 2);
	CHECK(st.files == 1 && st.rows == unique, "%llu rows in %llu files, want %u in 1",
	      (unsigned long long)st.rows, (unsigned long long)st.files, unique);
	runs_close(r);
	r = open_runs(dir, 1, 2, false);
	CHECK(get_is(r, 0, &first5) && get_is(r, 0, &first_dup), "oldest wins after reopen");
	CHECK(runs_mark(r) == 8, "mark %llu", (unsigned long long)runs_mark(r));
	runs_close(r);
	done_with(dir);
}

/* ---- durability and recovery ------------------------------------------------------------------
 */

static void
reopen_keeps_the_mark_and_every_row(void)
{
	char *dir = tmpdir_make("runs");
	struct runs *r = open_runs(dir, 1, 4, false);
	CHECK(runs_mark(r) == 0, "a new index has mark 0");
	enum { N = 500, A = 9 };
	static struct store_row rows[N];
	for (unsigned a = 0; a < A; a++) {
		for (unsigned j = 0; j < N; j++)
			make_row(&rows[j], 5, (uint64_t)a * N + j, 1 + j % 20, 0);
		CHECK(add1(r, rows, N, (a + 1) * 10) == 0, "add %u", a);
	}
	const size_t none[1] = {0};
	struct store_row *const nothing[1] = {NULL};
	const char *why = NULL;
	CHECK(runs_add(r, nothing, none, 12345, &why) == 0, "an empty add moves the mark: %s", why);
	CHECK(runs_mark(r) == 12345, "mark");
	runs_close(r); /* a merge may be pending or running: it is abandoned */
	unsigned on_disk = count_files(dir, ".run");

	r = open_runs(dir, 1, 4, true);
	struct runs_stats st;
	runs_stats(r, 0, &st);
	CHECK(st.files == on_disk, "every run file is named by the manifest (%u, %llu)", on_disk,
	      (unsigned long long)st.files);
	runs_close(r);
	r = open_runs(dir, 0, 4, false); /* ntables 0: what the manifest holds */
	CHECK(runs_mark(r) == 12345, "mark after reopen: %llu", (unsigned long long)runs_mark(r));
	unsigned bad = 0;
	for (uint64_t i = 0; i < A * N; i++) {
		struct store_row want;
		make_row(&want, 5, i, 1 + (i % N) % 20, 0);
		bad += !get_is(r, 0, &want);
	}
	CHECK(bad == 0, "%u rows lost across reopen", bad);
	runs_close(r);
	struct runs_opts two = {.ntables = 2};
	CHECK(runs_open(&r, dir, &two, &why) == -EINVAL && r == NULL, "another table count");
	done_with(dir);
}

static void
leftovers_of_a_crash_are_removed_on_open_but_not_read_only(void)
{
	char *dir = tmpdir_make("runs");
	struct runs *r = open_runs(dir, 1, 8, false);
	enum { N = 200 };
	static struct store_row rows[N];
	for (unsigned a = 0; a < 3; a++) {
		for (unsigned j = 0; j < N; j++)
			make_row(&rows[j], 6, (uint64_t)a * N + j, 8, 0);
		CHECK(add1(r, rows, N, a + 1) == 0, "add %u", a);
	}
	runs_close(r);
	static const char junk[100] = "not a run";
	write_file(dir, "t0-999.run", junk, sizeof junk);
	write_file(dir, "manifest.tmp", junk, sizeof junk);
	write_file(dir, "notes.txt", junk, sizeof junk);
	uint8_t man[64], man2[64];
	read_at(dir, "manifest", 0, man, sizeof man);

	/* read-only, with a fanout that would merge the three runs: nothing moves */
	r = open_runs(dir, 1, 2, true);
	struct store_row want;
	make_row(&want, 6, 2 * N + 7, 8, 0);
	CHECK(get_is(r, 0, &want), "read-only lookups");
	const char *why = NULL;
	CHECK(add1(r, rows, N, 9) == -EROFS, "read-only refuses adds");
	CHECK(runs_quiesce(r, &why) == 0, "nothing to wait for");
	struct runs_stats st;
	runs_stats(r, 0, &st);
	CHECK(st.files == 3, "no merge in read-only mode");
	runs_close(r);
	read_at(dir, "manifest", 0, man2, sizeof man2);
	CHECK(exists(dir, "t0-999.run") && exists(dir, "manifest.tmp") &&
	              count_files(dir, ".run") == 4 && memcmp(man, man2, sizeof man) == 0,
	      "read-only open left every file as it was");

	r = open_runs(dir, 1, 8, false);
	CHECK(!exists(dir, "t0-999.run") && !exists(dir, "manifest.tmp"), "leftovers removed");
	CHECK(exists(dir, "notes.txt"), "files that are not runs stay");
	CHECK(count_files(dir, ".run") == 3 && get_is(r, 0, &want), "live runs stay");
	runs_close(r);
	done_with(dir);
}

static void
a_corrupt_manifest_or_run_is_refused_with_a_reason(void)
{
	char *dir = tmpdir_make("runs");
	struct runs *r = open_runs(dir, 1, 8, false);
	enum { N = 50 };
	static struct store_row rows[N];
	for (unsigned j = 0; j < N; j++)
		make_row(&rows[j], 7, j, 8, 0);
	CHECK(add1(r, rows, N, 1) == 0, "add");
	runs_close(r);

	struct runs_opts o = {.ntables = 1};
	const char *why = NULL;
	uint8_t b;
	read_at(dir, "manifest", 20, &b, 1);
	b ^= 0x10;
	patch_file(dir, "manifest", 20, &b, 1);
	int rc = runs_open(&r, dir, &o, &why);
	CHECK(rc == -EBADMSG && why && strstr(why, "manifest") && strstr(why, "checksum"),
	      "corrupt manifest: %d %s", rc, why ? why : "(no reason)");
	o.read_only = true;
	CHECK(runs_open(&r, dir, &o, &why) == -EBADMSG, "also read-only");
	b ^= 0x10;
	patch_file(dir, "manifest", 20, &b, 1);
	o.read_only = false;

	/* a run header that fails its checksum: the reason names the file */
	read_at(dir, "t0-1.run", 30, &b, 1);
	b ^= 1;
	patch_file(dir, "t0-1.run", 30, &b, 1);
	rc = runs_open(&r, dir, &o, &why);
	CHECK(rc == -EBADMSG && why && strstr(why, "t0-1.run"), "corrupt run: %d %s", rc,
	      why ? why : "(no reason)");
	b ^= 1;
	patch_file(dir, "t0-1.run", 30, &b, 1);
	CHECK(runs_open(&r, dir, &o, &why) == 0, "repaired: %s", why);
	runs_close(r);
	done_with(dir);
}

/* ---- check ---------------------------------------------------------------------------------- */

struct problems {
	unsigned n;
	bool named, order, length;
};

static void
note_problem(void *ctx, const char *msg)
{
	struct problems *p = ctx;
	p->n++;
	p->named |= strstr(msg, "t0-2.run") != NULL;
	p->order |= strstr(msg, "out of order") != NULL;
	p->length |= strstr(msg, "length") != NULL;
}

static void
check_finds_an_unsorted_run_file(void)
{
	char *dir = tmpdir_make("runs");
	struct runs *r = open_runs(dir, 1, 8, false);
	enum { N = 100 };
	static struct store_row rows[N];
	for (unsigned a = 0; a < 2; a++) {
		for (unsigned j = 0; j < N; j++)
			make_row(&rows[j], 8, (uint64_t)a * N + j, 8, 0);
		CHECK(add1(r, rows, N, a + 1) == 0, "add %u", a);
	}
	struct problems p = {0};
	CHECK(runs_check(r, note_problem, &p) == 0 && p.n == 0, "clean");
	runs_close(r);

	/* swap two rows of t0-2.run (width 41) and give a third length 0: the header still checks
	 */
	enum { W = 41, HDR = 64 };
	uint8_t a[W], b[W], zero = 0;
	read_at(dir, "t0-2.run", HDR + 3 * W, a, W);
	read_at(dir, "t0-2.run", HDR + 40 * W, b, W);
	patch_file(dir, "t0-2.run", HDR + 3 * W, b, W);
	patch_file(dir, "t0-2.run", HDR + 40 * W, a, W);
	patch_file(dir, "t0-2.run", HDR + 60 * W + 32, &zero, 1);
	r = open_runs(dir, 1, 8, true);
	long found = runs_check(r, note_problem, &p);
	CHECK(found >= 3 && p.n >= 3 && p.named && p.order && p.length,
	      "found %ld problems, %u messages (named %d, order %d, length %d)", found, p.n,
	      p.named, p.order, p.length);
	runs_close(r);
	done_with(dir);
}

/* ---- failures ------------------------------------------------------------------------------- */

static void
set_file_limit(rlim_t bytes)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_FSIZE, &rl) < 0)
		check_harness("getrlimit");
	rl.rlim_cur = bytes == 0 ? rl.rlim_max : bytes;
	if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
		check_harness("setrlimit");
}

static void
a_failed_write_refuses_later_adds_until_reopen(void)
{
	char *dir = tmpdir_make("runs");
	struct runs *r = open_runs(dir, 1, 8, false);
	enum { N = 1000 };
	static struct store_row rows[N];
	for (unsigned j = 0; j < N; j++)
		make_row(&rows[j], 9, j, 8, 0);
	CHECK(add1(r, rows, 100, 1) == 0, "a small add");
	set_file_limit(8192); /* a run of 1000 rows (41 KB) cannot be written: EFBIG */
	const char *why = NULL;
	struct store_row *const v[1] = {rows + 100};
	const size_t n[1] = {N - 100};
	int rc = runs_add(r, v, n, 2, &why);
	CHECK(rc == -EFBIG && why && strstr(why, "writing index run t0-2.run"), "failed add: %d %s",
	      rc, why ? why : "(no reason)");
	set_file_limit(0);
	CHECK(add1(r, rows + 100, 10, 3) == -EIO, "later adds refused");
	runs_close(r);
	CHECK(count_files(dir, ".run") == 1, "the failed run file was removed");
	r = open_runs(dir, 1, 8, false);
	CHECK(runs_mark(r) == 1 && get_is(r, 0, &rows[50]) && !get_is(r, 0, &rows[500]),
	      "reopen: the last durable manifest");
	CHECK(add1(r, rows + 100, N - 100, 2) == 0 && get_is(r, 0, &rows[500]), "adds again");
	runs_close(r);
	done_with(dir);
}

static void
a_failed_merge_is_reported_by_the_next_call(void)
{
	char *dir = tmpdir_make("runs");
	struct runs *r = open_runs(dir, 1, 2, false);
	enum { N = 1000 };
	static struct store_row rows[2 * N];
	for (unsigned j = 0; j < 2 * N; j++)
		make_row(&rows[j], 10, j, 8, 0);
	set_file_limit(64 * 1024); /* each run fits (41 KB), their merge (82 KB) does not */
	CHECK(add1(r, rows, N, 1) == 0 && add1(r, rows + N, N, 2) == 0, "two adds");
	const char *why = NULL;
	int rc = runs_quiesce(r, &why);
	CHECK(rc == -EFBIG && why && strstr(why, "t0-3.run"), "merge failure: %d %s", rc,
	      why ? why : "(no reason)");
	CHECK(add1(r, rows, 1, 3) == -EIO, "adds refused after a merge failure");
	CHECK(get_is(r, 0, &rows[10]) && get_is(r, 0, &rows[N + 10]), "reads still work");
	set_file_limit(0);
	runs_close(r);
	CHECK(count_files(dir, ".run") == 2, "the merge output was removed");
	r = open_runs(dir, 1, 2, false);
	CHECK(runs_quiesce(r, &why) == 0, "the merge succeeds after reopen: %s", why);
	struct runs_stats st;
	runs_stats(r, 0, &st);
	CHECK(st.files == 1 && st.rows == 2 * N && get_is(r, 0, &rows[N + 10]), "merged");
	runs_close(r);
	done_with(dir);
}

/* ---- concurrency ---------------------------------------------------------------------------- */

struct race {
	struct runs *r;
	atomic_ulong published; /* rows whose add has returned */
	atomic_bool done;
};

struct reader {
	struct race *race;
	uint64_t seed;
	unsigned long lookups, wrong, found_absent;
};

enum { RACE_ADDS = 40, RACE_PER = 400, RACE_MAX_LOOKUPS = 400000, RACE_MAX_SECONDS = 20 };

static void
race_row(struct store_row *row, uint64_t i)
{
	make_row(row, 11, i, 1 + i % 96, 0);
}

static void *
race_reader(void *arg)
{
	struct reader *rd = arg;
	uint64_t rnd = rd->seed;
	time_t t0 = time(NULL);
	for (unsigned long i = 0; i < RACE_MAX_LOOKUPS; i++) {
		bool last = atomic_load(&rd->race->done);
		unsigned long n = atomic_load(&rd->race->published);
		struct store_row want;
		rnd = mix64(rnd);
		race_row(&want, rnd % n);
		rd->wrong += !get_is(rd->race->r, 0, &want);
		uint8_t v[STORE_VALUE_MAX];
		make_key(want.key, 12, rnd);
		rd->found_absent += runs_get(rd->race->r, 0, want.key, v) != -ENOENT;
		rd->lookups++;
		if (last || (i % 1024 == 0 && time(NULL) - t0 > RACE_MAX_SECONDS))
			break;
	}
	return NULL;
}

static void
concurrent_readers_never_get_a_wrong_answer(void)
{
	char *dir = tmpdir_make("runs");
	struct race x = {.r = open_runs(dir, 1, 3, false)};
	atomic_init(&x.published, 0);
	atomic_init(&x.done, false);
	struct reader rd[2] = {{.race = &x, .seed = 1}, {.race = &x, .seed = 2}};
	pthread_t th[2];
	static struct store_row rows[RACE_PER];
	for (uint64_t a = 0; a < RACE_ADDS; a++) {
		for (unsigned j = 0; j < RACE_PER; j++)
			race_row(&rows[j], a * RACE_PER + j);
		CHECK(add1(x.r, rows, RACE_PER, a) == 0, "add %u", (unsigned)a);
		atomic_store(&x.published, (a + 1) * RACE_PER);
		for (unsigned i = 0; a == 0 && i < 2; i++) /* readers start once rows exist */
			if (pthread_create(&th[i], NULL, race_reader, &rd[i]) != 0)
				check_harness("pthread_create");
	}
	const char *why = NULL;
	CHECK(runs_quiesce(x.r, &why) == 0, "quiesce: %s", why);
	atomic_store(&x.done, true);
	for (unsigned i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		CHECK(rd[i].wrong == 0, "reader %u: %lu wrong answers", i, rd[i].wrong);
		CHECK(rd[i].found_absent == 0, "reader %u: %lu absent keys found", i,
		      rd[i].found_absent);
		CHECK(rd[i].lookups > 100, "reader %u: %lu lookups", i, rd[i].lookups);
	}
	struct runs_stats st;
	runs_stats(x.r, 0, &st);
	CHECK(st.rows == RACE_ADDS * RACE_PER && st.files < RACE_ADDS, "%llu rows in %llu files",
	      (unsigned long long)st.rows, (unsigned long long)st.files);
	runs_close(x.r);
	done_with(dir);
}

int
main(void)
{
	signal(SIGXFSZ, SIG_IGN); /* the file size limit makes writes fail with EFBIG */
	RUN(every_added_key_is_found_while_tiers_form);
	RUN(skewed_keys_still_sort_and_search_correctly);
	RUN(oldest_value_wins_for_a_repeated_key);
	RUN(reopen_keeps_the_mark_and_every_row);
	RUN(leftovers_of_a_crash_are_removed_on_open_but_not_read_only);
	RUN(a_corrupt_manifest_or_run_is_refused_with_a_reason);
	RUN(check_finds_an_unsorted_run_file);
	RUN(a_failed_write_refuses_later_adds_until_reopen);
	RUN(a_failed_merge_is_reported_by_the_next_call);
	RUN(concurrent_readers_never_get_a_wrong_answer);
	return check_done();
}
