/* engine/test_tlog.c: the tiled log on real files: batches against an in-memory tree,
 * reopen, entries and proofs from the tiles, index rebuild, and refusal of contradictions. */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/tlog.h"
#include "tests/lib/check.h"
#include "tests/lib/ref.h"
#include "tests/lib/tmpdir.h"

#define MAXE 700

/* Entry i's encoded bytes, a pure function of i (so any reader can check any entry). */
static size_t
make_entry(uint64_t i, uint8_t *out)
{
	uint8_t body[MAXE];
	uint64_t st = i * 0x9e3779b97f4a7c15ull + 1;
	size_t len = 20 + (size_t)(ref_rand(&st) % (MAXE - 40));
	for (size_t j = 0; j < len; j++)
		body[j] = (uint8_t)(ref_rand(&st) >> 24);
	memcpy(body, &i, sizeof i);
	return (size_t)tlog_plain_encode(out, MAXE + 3, body, len);
}

static uint8_t ebuf[4096][MAXE + 3];
static const uint8_t *eptr[4096];
static size_t elen[4096];

static int
append_range(struct tlog *t, uint64_t first, size_t n, const char **why)
{
	for (size_t i = 0; i < n; i++) {
		elen[i] = make_entry(first + i, ebuf[i]);
		eptr[i] = ebuf[i];
	}
	struct tlog_batch b = {.entry = eptr, .len = elen, .n = n, .timestamp = 1000 + first};
	return tlog_append(t, &b, why);
}

static struct tlog *
open_log(const char *dir, bool create, char *msg)
{
	struct tlog_opts o = {.store.create = create, .max_batch = 4096};
	struct tlog *t = NULL;
	int rc = tlog_open(&t, dir, &tlog_codec_plain, &o, msg, 512);
	return rc == 0 ? t : NULL;
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

static void
leaf_of(uint64_t i, merkle_hash_t out)
{
	uint8_t e[MAXE + 3];
	size_t n = make_entry(i, e);
	merkle_leaf_hash(out, e, n);
}

static void
problem_print(void *ctx, const char *msg)
{
	(void)ctx;
	printf("  fsck: %s\n", msg);
}

static void
appends_match_an_in_memory_tree_across_reopen(void)
{
	char *dir = tmpdir_make("tlog");
	char msg[512] = "";
	struct tlog *t = open_log(dir, true, msg);
	CHECK(t != NULL, "create: %s", msg);
	if (t == NULL)
		return;
	struct merkle_memtree mt;
	if (merkle_memtree_init(&mt, 4096) < 0)
		check_harness("memtree");
	uint64_t st = 7;
	const size_t sizes[] = {1, 2, 253, 1, 256, 300, 1024, 5, 4096, 700, 17, 255, 3000};
	for (unsigned round = 0; round < 2; round++) {
		for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
			size_t n = sizes[s];
			uint64_t first = tlog_size(t);
			const char *why = NULL;
			int rc = append_range(t, first, n, &why);
			CHECK(rc == 0, "append %zu at %llu: %s", n, (unsigned long long)first, why);
			merkle_hash_t lv[4096];
			for (size_t i = 0; i < n; i++)
				leaf_of(first + i, lv[i]);
			if (merkle_memtree_append(&mt, (const merkle_hash_t *)lv, n) < 0)
				check_harness("memtree append");
			merkle_hash_t a, b;
			tlog_root(t, a);
			merkle_frontier_root(&mt.frontier, b);
			CHECK_MEM(a, b, 32, "root after %llu", (unsigned long long)tlog_size(t));
		}
		/* Reopen: the tree continues from the tiles. */
		tlog_close(t);
		t = open_log(dir, false, msg);
		CHECK(t != NULL, "reopen: %s", msg);
		if (t == NULL)
			return;
		merkle_hash_t a, b;
		tlog_root(t, a);
		merkle_frontier_root(&mt.frontier, b);
		CHECK(tlog_size(t) == mt.frontier.size && memcmp(a, b, 32) == 0,
		      "root after reopen");
	}
	uint64_t n = tlog_size(t);
	/* Entries, proofs and the hash index from the tiles. */
	struct tlog_reader *r;
	CHECK(tlog_reader_open(t, &r) == 0, "reader");
	unsigned bad = 0;
	CHECK(tlog_entries(r, 0, n, check_entry, &bad) == 0 && bad == 0, "every entry (%u bad)",
	      bad);
	CHECK(tlog_entries(r, 250, 777, check_entry, &bad) == 0 && bad == 0, "a range");
	CHECK(tlog_entries(r, 0, n + 1, check_entry, &bad) == -EINVAL, "beyond the tree");
	const char *why = NULL;
	CHECK(store_index_sync(tlog_store(t), &why) == 0, "index sync");
	for (unsigned q = 0; q < 50; q++) {
		uint64_t size = 1 + ref_rand(&st) % n, idx = ref_rand(&st) % size;
		struct merkle_source src = tlog_reader_source(r, size);
		struct merkle_source ref = merkle_memtree_source(&mt);
		merkle_hash_t proof[MERKLE_MAX_PROOF], root, leaf;
		size_t len = 0;
		CHECK(merkle_range_root(&ref, 0, size, root) == 0, "reference root");
		leaf_of(idx, leaf);
		int rc = merkle_inclusion_proof(&src, idx, size, proof, &len);
		CHECK(rc == 0 &&
		              merkle_verify_inclusion(idx, size, leaf, (const merkle_hash_t *)proof,
		                                      len, root, NULL) == 0,
		      "inclusion %llu in %llu", (unsigned long long)idx, (unsigned long long)size);
		uint64_t got = 0;
		CHECK(store_hash_get(tlog_reader_store(r), leaf, &got) == 0 && got == idx,
		      "hash index for %llu", (unsigned long long)idx);
	}
	tlog_reader_close(r);
	/* Full tiles lost their edge files; no partial tile was written at a tlog path. */
	struct stat sb;
	char p[512];
	snprintf(p, sizeof p, "%s/edge/data/0", dir);
	CHECK(stat(p, &sb) < 0 && errno == ENOENT, "a full tile's edge file is removed");
	snprintf(p, sizeof p, "%s/tile/data/000.p", dir);
	CHECK(stat(p, &sb) < 0 && errno == ENOENT, "no partial tile without a signed head");
	tlog_close(t);
	struct tlog_fsck_stats fs;
	long probs = tlog_fsck(dir, &tlog_codec_plain, &fs, problem_print, NULL);
	CHECK(probs == 0 && fs.entries == n && fs.size == n, "fsck clean (%ld), %llu entries",
	      probs, (unsigned long long)fs.entries);
	CHECK(tmpdir_fsck(dir) <= 0, "birch log fsck clean");
	merkle_memtree_free(&mt);
	tmpdir_remove(dir);
	free(dir);
}

static void
lost_index_is_rebuilt_from_the_data_tiles(void)
{
	char *dir = tmpdir_make("tlog");
	char msg[512] = "", p[512];
	struct tlog *t = open_log(dir, true, msg);
	const char *why = NULL;
	CHECK(t && append_range(t, 0, 1000, &why) == 0, "append");
	tlog_close(t);
	struct stat sb;
	snprintf(p, sizeof p, "%s/index/manifest", dir);
	CHECK(stat(p, &sb) == 0, "index/ has a manifest");
	snprintf(p, sizeof p, "%s/index", dir);
	tmpdir_remove(p);
	CHECK(stat(p, &sb) < 0, "index/ removed");
	t = open_log(dir, false, msg);
	CHECK(t != NULL, "reopen without index/: %s", msg);
	if (t == NULL)
		return;
	CHECK(store_index_watermark(tlog_store(t)) == 1000, "watermark rebuilt");
	struct tlog_reader *r;
	CHECK(tlog_reader_open(t, &r) == 0, "reader");
	unsigned found = 0;
	for (uint64_t i = 0; i < 1000; i++) {
		merkle_hash_t leaf;
		uint64_t got;
		leaf_of(i, leaf);
		if (store_hash_get(tlog_reader_store(r), leaf, &got) == 0 && got == i)
			found++;
	}
	CHECK(found == 1000, "every leaf hash found (%u)", found);
	tlog_reader_close(r);
	tlog_close(t);
	CHECK(tlog_fsck(dir, &tlog_codec_plain, NULL, problem_print, NULL) == 0, "fsck clean");
	tmpdir_remove(dir);
	free(dir);
}

static void
flip_byte(const char *dir, const char *rel, long off)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", dir, rel);
	int fd = open(p, O_RDWR);
	if (fd < 0)
		check_harness("cannot open a tile to corrupt it");
	uint8_t c;
	if (off < 0)
		off += lseek(fd, 0, SEEK_END);
	if (pread(fd, &c, 1, off) != 1)
		check_harness("pread");
	c ^= 0x20;
	if (pwrite(fd, &c, 1, off) != 1)
		check_harness("pwrite");
	close(fd);
}

static void
count_problem(void *ctx, const char *msg)
{
	char *first = ctx;
	if (first[0] == 0)
		snprintf(first, 512, "%s", msg);
}

static char *
make_log(uint64_t n)
{
	char *dir = tmpdir_make("tlog");
	char msg[512];
	struct tlog *t = open_log(dir, true, msg);
	const char *why = NULL;
	for (uint64_t done = 0; t && done < n;) {
		size_t k = n - done > 1000 ? 1000 : (size_t)(n - done);
		if (append_range(t, done, k, &why) < 0)
			check_harness("append");
		done += k;
	}
	tlog_close(t);
	return dir;
}

static void
corrupted_tiles_refuse_to_open_or_fail_fsck(void)
{
	char msg[512], first[512];
	/* 1. The newest full data tile: open refuses and names it. */
	char *dir = make_log(600); /* full data tiles 0 and 1, 88 entries in edge/data/2 */
	flip_byte(dir, "tile/data/001", 100);
	msg[0] = 0;
	CHECK(open_log(dir, false, msg) == NULL, "open refuses a changed full tile");
	CHECK(strstr(msg, "tile/data/001") != NULL, "and names it: %s", msg);
	first[0] = 0;
	CHECK(tlog_fsck(dir, &tlog_codec_plain, NULL, count_problem, first) > 0, "fsck fails too");
	CHECK(strstr(first, "tile/data/001") != NULL, "fsck names it: %s", first);
	CHECK(tmpdir_fsck(dir) == 1 || tmpdir_fsck(dir) == -1, "birch log fsck exits 1");
	tmpdir_remove(dir);
	free(dir);

	/* 2. An old full data tile: open reads only the right edge, fsck finds it. */
	dir = make_log(1500);
	flip_byte(dir, "tile/data/001", 5);
	struct tlog *t = open_log(dir, false, msg);
	CHECK(t != NULL, "open reads the right edge only: %s", msg);
	tlog_close(t);
	first[0] = 0;
	CHECK(tlog_fsck(dir, &tlog_codec_plain, NULL, count_problem, first) > 0 &&
	              strstr(first, "tile/data/001"),
	      "fsck finds an old changed tile: %s", first);
	tmpdir_remove(dir);
	free(dir);

	/* 3. A truncated partial hash tile: open refuses (the root cannot be recomputed). */
	dir = make_log(600);
	char p[512];
	snprintf(p, sizeof p, "%s/edge/0/2", dir);
	if (truncate(p, 88 * 32 - 5) < 0)
		check_harness("truncate");
	msg[0] = 0;
	CHECK(open_log(dir, false, msg) == NULL, "open refuses a truncated hash tile: %s", msg);
	first[0] = 0;
	CHECK(tlog_fsck(dir, &tlog_codec_plain, NULL, count_problem, first) > 0 &&
	              strstr(first, "edge/0/2"),
	      "fsck names the truncated tile: %s", first);
	tmpdir_remove(dir);
	free(dir);

	/* 4. A truncated partial data tile. */
	dir = make_log(600);
	snprintf(p, sizeof p, "%s/edge/data/2", dir);
	struct stat sb;
	if (stat(p, &sb) < 0 || truncate(p, sb.st_size - 1) < 0)
		check_harness("truncate");
	msg[0] = 0;
	CHECK(open_log(dir, false, msg) == NULL && strstr(msg, "edge/data/2"),
	      "open refuses a truncated data tile: %s", msg);
	CHECK(tlog_fsck(dir, &tlog_codec_plain, NULL, NULL, NULL) > 0, "fsck fails");
	tmpdir_remove(dir);
	free(dir);

	/* 5. A changed hash tile high up: the committed root no longer reproduces. */
	dir = make_log(70000); /* level-1 tile 1, 17 wide, holds node (8, 256..272) */
	flip_byte(dir, "edge/1/1", 3);
	msg[0] = 0;
	CHECK(open_log(dir, false, msg) == NULL && strstr(msg, "root"),
	      "open refuses a root the tiles do not give: %s", msg);
	first[0] = 0;
	CHECK(tlog_fsck(dir, &tlog_codec_plain, NULL, count_problem, first) > 0 &&
	              strstr(first, "edge/1/1"),
	      "fsck names the level-1 tile: %s", first);
	tmpdir_remove(dir);
	free(dir);
}

static void
a_signed_head_must_match_the_tree(void)
{
	char *dir = make_log(300);
	char msg[512];
	struct tlog *t = open_log(dir, false, msg);
	CHECK(t != NULL, "open");
	if (t == NULL)
		return;
	struct store_head h = {.size = 300, .timestamp = 5};
	tlog_root(t, h.root);
	uint8_t sth[] = {1, 2, 3};
	h.sth = sth, h.sth_len = 3, h.checkpoint = sth, h.checkpoint_len = 3;
	const char *why = NULL;
	CHECK(tlog_head_put(t, &h, &why) == 0, "head at the tree's root: %s", why);
	struct store_head old = h;
	old.size = 100;
	CHECK(tlog_head_put(t, &old, &why) == -EBADMSG, "wrong root for size 100 refused");
	struct store_head bad = h;
	bad.root[0] ^= 1;
	CHECK(tlog_head_put(t, &bad, &why) == -EBADMSG, "wrong root for the current size refused");
	/* Written around the check, as a bug or a restore might: the next open refuses. */
	bad.size = 200;
	CHECK(store_head_put(tlog_store(t), &bad, &why) == 0, "raw head write");
	tlog_close(t);
	msg[0] = 0;
	CHECK(open_log(dir, false, msg) == NULL && strstr(msg, "signed head"),
	      "open refuses a signed head that differs from the tree: %s", msg);
	char first[512] = "";
	CHECK(tlog_fsck(dir, &tlog_codec_plain, NULL, count_problem, first) > 0 &&
	              strstr(first, "size 200"),
	      "fsck names the signed size: %s", first);
	tmpdir_remove(dir);
	free(dir);
}

/* Bytes of a file, or -1. */
static long
file_bytes(const char *dir, const char *rel, uint8_t *buf, size_t cap)
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

static void
signed_heads_write_partial_tiles_at_their_paths_until_full(void)
{
	char *dir = make_log(300);
	char msg[512];
	struct tlog *t = open_log(dir, false, msg);
	CHECK(t != NULL, "open: %s", msg);
	if (t == NULL)
		return;
	struct store_head h = {.size = 300, .timestamp = 5};
	tlog_root(t, h.root);
	uint8_t sth[] = {1};
	h.sth = sth, h.sth_len = 1, h.checkpoint = sth, h.checkpoint_len = 1;
	const char *why = NULL;
	CHECK(tlog_head_put(t, &h, &why) == 0, "head 300: %s", why);
	/* tile/data/001.p/44 holds entries 256..299, tile/0/001.p/44 their leaf hashes. */
	static uint8_t got[256 * (MAXE + 3)], want[256 * (MAXE + 3)];
	size_t wl = 0;
	for (uint64_t i = 256; i < 300; i++)
		wl += make_entry(i, want + wl);
	long n = file_bytes(dir, "tile/data/001.p/44", got, sizeof got);
	CHECK(n == (long)wl && memcmp(got, want, wl) == 0, "partial data tile bytes (%ld)", n);
	n = file_bytes(dir, "tile/0/001.p/44", got, sizeof got);
	bool same = n == 44 * 32;
	for (uint64_t i = 256; same && i < 300; i++) {
		merkle_hash_t lh;
		leaf_of(i, lh);
		same = memcmp(got + (i - 256) * 32, lh, 32) == 0;
	}
	CHECK(same, "partial hash tile holds the leaf hashes (%ld bytes)", n);
	CHECK(tmpdir_fsck(dir) <= 0, "birch log fsck clean");
	/* Once tile 1 is full, its .p directory goes. */
	CHECK(append_range(t, 300, 300, &why) == 0, "append: %s", why);
	struct stat sb;
	char p[512];
	snprintf(p, sizeof p, "%s/tile/data/001.p", dir);
	CHECK(stat(p, &sb) < 0 && errno == ENOENT, "data .p directory removed once full");
	snprintf(p, sizeof p, "%s/tile/0/001.p", dir);
	CHECK(stat(p, &sb) < 0 && errno == ENOENT, "hash .p directory removed once full");
	tlog_close(t);

	/* Leftovers of a crash: bytes past the committed edge, a stale edge file ahead, the
	 * old name of a full tile. Open trims and removes them; the log is unchanged. */
	uint8_t junk[100];
	memset(junk, 0xee, sizeof junk);
	snprintf(p, sizeof p, "%s/edge/data/2", dir);
	int fd = open(p, O_WRONLY | O_APPEND);
	CHECK(fd >= 0 && write(fd, junk, sizeof junk) == (ssize_t)sizeof junk, "junk appended");
	if (fd >= 0)
		close(fd);
	const char *stale[] = {"edge/data/7", "edge/0/0"};
	for (size_t i = 0; i < 2; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, stale[i]);
		fd = open(p, O_WRONLY | O_CREAT, 0644);
		CHECK(fd >= 0 && write(fd, junk, sizeof junk) == (ssize_t)sizeof junk,
		      "stale file");
		if (fd >= 0)
			close(fd);
	}
	CHECK(tmpdir_fsck(dir) <= 0, "fsck clean with the leftovers (uncommitted bytes)");
	t = open_log(dir, false, msg);
	CHECK(t != NULL && tlog_size(t) == 600, "reopen: %s", msg);
	for (size_t i = 0; i < 2; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, stale[i]);
		CHECK(stat(p, &sb) < 0 && errno == ENOENT, "%s removed", stale[i]);
	}
	wl = 0;
	for (uint64_t i = 512; i < 600; i++)
		wl += make_entry(i, want + wl);
	n = file_bytes(dir, "edge/data/2", got, sizeof got);
	CHECK(n == (long)wl && memcmp(got, want, wl) == 0, "edge trimmed to committed (%ld)", n);
	CHECK(t && append_range(t, 600, 100, &why) == 0, "append after: %s", why);
	tlog_close(t);
	CHECK(tlog_fsck(dir, &tlog_codec_plain, NULL, problem_print, NULL) == 0, "fsck clean");
	tmpdir_remove(dir);
	free(dir);
}

static void
malformed_entries_are_refused_without_changing_the_log(void)
{
	char *dir = make_log(10);
	char msg[512];
	struct tlog *t = open_log(dir, false, msg);
	if (t == NULL)
		check_harness("open");
	uint8_t bad[] = {0, 0, 9, 1, 2}; /* claims 9 bytes, holds 2 */
	const uint8_t *p = bad;
	size_t len = sizeof bad;
	struct tlog_batch b = {.entry = &p, .len = &len, .n = 1};
	const char *why = NULL;
	CHECK(tlog_append(t, &b, &why) == -EINVAL && why, "refused: %s", why ? why : "");
	merkle_hash_t wrong = {1};
	b.entry = eptr, b.len = elen, b.leaf = (const merkle_hash_t *)&wrong;
	elen[0] = make_entry(10, ebuf[0]);
	eptr[0] = ebuf[0];
	CHECK(tlog_append(t, &b, &why) == -EBADMSG && why && strstr(why, "leaf hash"),
	      "a leaf hash that is not the entry's is refused: %s", why ? why : "");
	CHECK(tlog_size(t) == 10, "size unchanged");
	b.leaf = NULL;
	CHECK(tlog_append(t, &b, &why) == 0 && tlog_size(t) == 11, "the log goes on");
	tlog_close(t);
	CHECK(tlog_fsck(dir, &tlog_codec_plain, NULL, problem_print, NULL) == 0, "fsck clean");
	tmpdir_remove(dir);
	free(dir);
}

static void
io_errors_at_any_step_leave_an_openable_consistent_log(void)
{
	char *dir = make_log(1000);
	char msg[512];
	/* Fail the nth io_uring completion of the next append: each tile write, then each
	 * fdatasync of tiles and directories. */
	for (unsigned nth = 1; nth <= 12; nth++) {
		struct tlog *t = open_log(dir, false, msg);
		CHECK(t != NULL, "open before fault %u: %s", nth, msg);
		if (t == NULL)
			break;
		uint64_t before = tlog_size(t);
		const char *why = NULL;
		store_fault_inject(STORE_FAULT_ANY, nth, -EIO);
		int rc = append_range(t, before, 300, &why);
		store_fault_inject(STORE_FAULT_ANY, 0, 0);
		if (rc == 0) { /* fewer completions than nth: nothing failed */
			tlog_close(t);
			continue;
		}
		CHECK(rc == -EIO && why, "EIO surfaces (%d): %s", rc, why ? why : "");
		CHECK(append_range(t, before, 10, &why) == -EIO, "the writer stays stopped");
		tlog_close(t);
		t = open_log(dir, false, msg);
		CHECK(t != NULL && tlog_size(t) == before, "reopen after EIO %u: %s", nth, msg);
		tlog_close(t);
	}
	CHECK(tlog_fsck(dir, &tlog_codec_plain, NULL, problem_print, NULL) == 0, "fsck clean");
	tmpdir_remove(dir);
	free(dir);
}

struct reader_arg {
	struct tlog *t;
	volatile int stop;
	unsigned rounds, bad;
};

/* Another thread: the committed state, its root from the tiles, entries, while appends run. */
static void *
reader_main(void *p)
{
	struct reader_arg *a = p;
	struct tlog_reader *r;
	if (tlog_reader_open(a->t, &r) < 0) {
		a->bad++;
		return NULL;
	}
	uint64_t seed = 99;
	for (unsigned i = 0; i < 100000 && !a->stop; i++) {
		struct store_state st;
		store_state_get(tlog_store(a->t), &st);
		if (st.size == 0)
			continue;
		struct merkle_source src = tlog_reader_source(r, st.size);
		merkle_hash_t root;
		if (merkle_range_root(&src, 0, st.size, root) != 0 ||
		    memcmp(root, st.root, 32) != 0)
			a->bad++;
		uint64_t from = ref_rand(&seed) % st.size,
		         to = from + 300 < st.size ? from + 300 : st.size;
		unsigned badent = 0;
		if (tlog_entries(r, from, to, check_entry, &badent) != 0 || badent)
			a->bad++;
		a->rounds++;
	}
	tlog_reader_close(r);
	return NULL;
}

static void
readers_on_other_threads_see_committed_states_only(void)
{
	char *dir = make_log(100);
	char msg[512];
	struct tlog *t = open_log(dir, false, msg);
	if (t == NULL)
		check_harness("open");
	struct reader_arg a = {.t = t};
	pthread_t th;
	if (pthread_create(&th, NULL, reader_main, &a) != 0)
		check_harness("thread");
	uint64_t seed = 5;
	const char *why = NULL;
	for (unsigned i = 0; i < 150; i++)
		CHECK(append_range(t, tlog_size(t), 1 + ref_rand(&seed) % 400, &why) == 0,
		      "append: %s", why);
	a.stop = 1;
	pthread_join(th, NULL);
	CHECK(a.bad == 0 && a.rounds > 0, "reader rounds %u, bad %u", a.rounds, a.bad);
	tlog_close(t);
	tmpdir_remove(dir);
	free(dir);
}

int
main(void)
{
	RUN(appends_match_an_in_memory_tree_across_reopen);
	RUN(lost_index_is_rebuilt_from_the_data_tiles);
	RUN(corrupted_tiles_refuse_to_open_or_fail_fsck);
	RUN(a_signed_head_must_match_the_tree);
	RUN(signed_heads_write_partial_tiles_at_their_paths_until_full);
	RUN(malformed_entries_are_refused_without_changing_the_log);
	RUN(io_errors_at_any_step_leave_an_openable_consistent_log);
	RUN(readers_on_other_threads_see_committed_states_only);
	return check_done();
}
