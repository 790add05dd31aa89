/* engine/test_tlog.c: the tiled log on real files: batches against an in-memory tree,
 * reopen, entries and proofs from the tiles, index rebuild, and refusal of contradictions. */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lmdb.h>
#include <openssl/sha.h>

#include "engine/hex.h"
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
	/* Every full hash tile has its mid nodes (the tree's level 8L + 4) in the state; a
	 * partial one has none. */
	for (unsigned L = 0; L < 2; L++) {
		uint64_t count = n >> (8 * L);
		for (uint64_t k = 0; k <= count / TILES_WIDTH; k++) {
			uint8_t mid[STORE_MID_NODES][STORE_HASH_LEN];
			int rc = store_mid_get(tlog_reader_store(r), L, k, mid);
			if ((k + 1) * TILES_WIDTH > count) {
				CHECK(rc == -ENOENT, "no mid nodes for partial tile %u/%llu", L,
				      (unsigned long long)k);
				continue;
			}
			CHECK(rc == 0 && memcmp(mid, mt.level[8 * L + 4][k * 16], sizeof mid) == 0,
			      "mid nodes of tile %u/%llu", L, (unsigned long long)k);
		}
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

	/* 6. Wrong mid-level nodes for tile 0/1 in state.mdb: fsck names them. */
	dir = make_log(600);
	first[0] = 0;
	CHECK(tlog_fsck(dir, &tlog_codec_plain, NULL, count_problem, first) == 0, "clean first");
	snprintf(p, sizeof p, "%s/state.mdb", dir);
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	uint8_t key[8] = {0, 0, 0, 0, 0, 0, 0, 1}, zero[16 * 32] = {0};
	MDB_val k = {sizeof key, key}, v = {sizeof zero, zero};
	if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, 8) ||
	    mdb_env_open(env, p, MDB_NOSUBDIR, 0644) || mdb_txn_begin(env, NULL, 0, &txn) ||
	    mdb_dbi_open(txn, "mids", 0, &dbi) || mdb_put(txn, dbi, &k, &v, 0) ||
	    mdb_txn_commit(txn))
		check_harness("state.mdb");
	mdb_env_close(env);
	CHECK(tlog_fsck(dir, &tlog_codec_plain, NULL, count_problem, first) == 1 &&
	              strstr(first, "mid-level nodes of tile/0/001"),
	      "fsck names the mid-level nodes: %s", first);
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

static bool
exists_rel(const char *dir, const char *rel)
{
	char p[512];
	struct stat sb;
	snprintf(p, sizeof p, "%s/%s", dir, rel);
	return stat(p, &sb) == 0;
}

static void
write_rel(const char *dir, const char *rel, const void *data, size_t len)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", dir, rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len)
		check_harness("cannot write a file");
	close(fd);
}

static void
remove_rel(const char *dir, const char *rel)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", dir, rel);
	unlink(p);
}

/* The head of the tree at its current size, with checkpoint bytes naming the size. */
static struct store_head
head_now(struct tlog *t, char *cp, size_t cap)
{
	struct store_head h = {.size = tlog_size(t), .timestamp = 7 + tlog_size(t)};
	tlog_root(t, h.root);
	int n = snprintf(cp, cap, "birch.test/log\n%llu\nroot\n\n- sig\n",
	                 (unsigned long long)h.size);
	h.sth = (const uint8_t *)"sth", h.sth_len = 3;
	h.checkpoint = (const uint8_t *)cp, h.checkpoint_len = (size_t)n;
	return h;
}

/* The file `checkpoint` holds exactly h's checkpoint bytes. */
static bool
checkpoint_is(const char *dir, const struct store_head *h)
{
	uint8_t got[1024];
	long n = file_bytes(dir, "checkpoint", got, sizeof got);
	return n == (long)h->checkpoint_len && memcmp(got, h->checkpoint, h->checkpoint_len) == 0;
}

static void
checkpoint_file_is_the_latest_recorded_head_and_reopen_repairs_it(void)
{
	char *dir = make_log(300);
	char msg[512], cp[3][128];
	struct tlog *t = open_log(dir, false, msg);
	CHECK(t != NULL, "open: %s", msg);
	if (t == NULL)
		return;
	CHECK(!exists_rel(dir, "checkpoint"), "no checkpoint before the first head");
	const char *why = NULL;
	struct store_head h1 = head_now(t, cp[0], sizeof cp[0]);
	CHECK(tlog_head_put(t, &h1, &why) == 0, "head 300: %s", why);
	CHECK(checkpoint_is(dir, &h1), "checkpoint holds head 300's bytes");
	CHECK(tlog_checkpoint_status(t, &why) == 0, "status clean");
	CHECK(append_range(t, 300, 150, &why) == 0, "append: %s", why);
	CHECK(checkpoint_is(dir, &h1), "an append alone does not change it");
	struct store_head h2 = head_now(t, cp[1], sizeof cp[1]);
	CHECK(tlog_head_put(t, &h2, &why) == 0, "head 450: %s", why);
	CHECK(checkpoint_is(dir, &h2), "checkpoint follows the latest head (450)");
	CHECK(!exists_rel(dir, ".checkpoint.tmp"), "no temporary file left");
	/* A refused head (not the tree's root) publishes nothing. */
	struct store_head bad = head_now(t, cp[2], sizeof cp[2]);
	bad.root[0] ^= 1;
	CHECK(tlog_head_put(t, &bad, &why) == -EBADMSG, "wrong root refused");
	CHECK(checkpoint_is(dir, &h2), "checkpoint unchanged by the refused head");
	/* A failed write does not fail the head (state.mdb is the record) and is reported; the
	 * next head writes the file again. */
	char p[512];
	snprintf(p, sizeof p, "%s/checkpoint", dir);
	remove_rel(dir, "checkpoint");
	if (mkdir(p, 0755) < 0)
		check_harness("mkdir");
	write_rel(dir, "checkpoint/x", "x", 1); /* a non-empty directory: rename fails */
	CHECK(append_range(t, 450, 10, &why) == 0, "append: %s", why);
	struct store_head h3 = head_now(t, cp[2], sizeof cp[2]);
	CHECK(tlog_head_put(t, &h3, &why) == 0, "head 460 recorded though its file fails: %s", why);
	why = NULL;
	CHECK(tlog_checkpoint_status(t, &why) < 0 && why, "the failure is reported: %s",
	      why ? why : "");
	remove_rel(dir, "checkpoint/x");
	rmdir(p);
	CHECK(tlog_head_put(t, &h3, &why) == 0 && checkpoint_is(dir, &h3),
	      "the same head again writes the file: %s", why);
	CHECK(tlog_checkpoint_status(t, NULL) == 0, "status clean again");
	/* A crash between the head's commit and the rename: the head is in state.mdb, the file
	 * still holds the previous one. Reopen publishes the recorded head. */
	CHECK(append_range(t, 460, 40, &why) == 0, "append: %s", why);
	char cp4[128];
	struct store_head h4 = head_now(t, cp4, sizeof cp4);
	CHECK(store_head_put(tlog_store(t), &h4, &why) == 0, "head 500 recorded, no file");
	CHECK(checkpoint_is(dir, &h3), "the file lags the record");
	tlog_close(t);
	/* A read-only open never writes. */
	struct tlog_opts ro = {.store.read_only = true};
	t = NULL;
	CHECK(tlog_open(&t, dir, &tlog_codec_plain, &ro, msg, sizeof msg) == 0, "read-only: %s",
	      msg);
	tlog_close(t);
	CHECK(checkpoint_is(dir, &h3), "read-only open leaves the file");
	t = open_log(dir, false, msg);
	CHECK(t != NULL, "reopen: %s", msg);
	tlog_close(t);
	CHECK(checkpoint_is(dir, &h4), "reopen writes the recorded head (500)");
	/* Missing (a log made before the file existed), corrupted, or longer: each rewritten. */
	remove_rel(dir, "checkpoint");
	t = open_log(dir, false, msg);
	tlog_close(t);
	CHECK(checkpoint_is(dir, &h4), "a missing checkpoint is written on open");
	flip_byte(dir, "checkpoint", 3);
	t = open_log(dir, false, msg);
	tlog_close(t);
	CHECK(checkpoint_is(dir, &h4), "a corrupted checkpoint is rewritten on open");
	char longer[256];
	snprintf(longer, sizeof longer, "%.*sjunk\n", (int)h4.checkpoint_len, cp4);
	write_rel(dir, "checkpoint", longer, strlen(longer));
	t = open_log(dir, false, msg);
	tlog_close(t);
	CHECK(checkpoint_is(dir, &h4), "a longer checkpoint is cut back on open");
	CHECK(tlog_fsck(dir, &tlog_codec_plain, NULL, problem_print, NULL) == 0, "fsck clean");
	tmpdir_remove(dir);
	free(dir);
}

/* Issuer i's DER: bytes that are a pure function of i; fp = SHA-256(DER). */
static size_t
make_issuer(unsigned i, uint8_t *der, uint8_t fp[32])
{
	size_t len = 300 + i * 37;
	uint64_t st = 1000 + i;
	for (size_t j = 0; j < len; j++)
		der[j] = (uint8_t)(ref_rand(&st) >> 24);
	SHA256(der, len, fp);
	return len;
}

/* "issuer/<64 lowercase hex>" */
static void
issuer_rel(char out[80], const uint8_t fp[32])
{
	char hx[65];
	hex_encode(hx, fp, 32);
	snprintf(out, 80, "issuer/%s", hx);
}

static bool
issuer_file_is(const char *dir, const struct store_issuer *is)
{
	char rel[80];
	uint8_t got[4096];
	issuer_rel(rel, is->fingerprint);
	long n = file_bytes(dir, rel, got, sizeof got);
	return n == (long)is->len && memcmp(got, is->der, is->len) == 0;
}

static void
issuer_files_are_written_by_the_commit_and_repaired_on_open(void)
{
	char *dir = make_log(10);
	char msg[512];
	struct tlog *t = open_log(dir, false, msg);
	if (t == NULL)
		check_harness("open");
	static uint8_t der[4][2048];
	struct store_issuer iss[4];
	for (unsigned i = 0; i < 4; i++) {
		memset(&iss[i], 0, sizeof iss[i]);
		iss[i].len = make_issuer(i, der[i], iss[i].fingerprint);
		iss[i].der = der[i];
	}
	/* A fingerprint that is not the SHA-256 of the DER refuses the batch: nothing would be
	 * published under a wrong name. */
	struct store_issuer wrong = iss[0];
	wrong.fingerprint[5] ^= 1;
	for (size_t i = 0; i < 5; i++) {
		elen[i] = make_entry(10 + i, ebuf[i]);
		eptr[i] = ebuf[i];
	}
	struct tlog_batch b = {.entry = eptr, .len = elen, .n = 5, .timestamp = 50};
	b.issuers = &wrong, b.nissuers = 1;
	const char *why = NULL;
	CHECK(tlog_append(t, &b, &why) == -EINVAL && why && strstr(why, "fingerprint"),
	      "a wrong fingerprint is refused: %s", why ? why : "");
	CHECK(tlog_size(t) == 10 && !exists_rel(dir, "issuer"), "nothing changed");
	/* Two issuers, one of them given twice: one file each, durable with the batch. */
	const struct store_issuer batch_iss[3] = {iss[0], iss[1], iss[0]};
	b.issuers = batch_iss, b.nissuers = 3;
	CHECK(tlog_append(t, &b, &why) == 0, "append with issuers: %s", why);
	CHECK(issuer_file_is(dir, &iss[0]) && issuer_file_is(dir, &iss[1]),
	      "issuer files hold their DER under issuer/<sha256 hex>");
	struct store_reader *r = NULL;
	uint8_t got[4096];
	CHECK(store_reader_open(tlog_store(t), &r) == 0 &&
	              store_issuer_get(r, iss[1].fingerprint, got, sizeof got) == (int)iss[1].len,
	      "and state.mdb has them");
	store_reader_close(r);
	for (size_t i = 0; i < 5; i++) {
		elen[i] = make_entry(15 + i, ebuf[i]);
		eptr[i] = ebuf[i];
	}
	b.issuers = &iss[2], b.nissuers = 1;
	CHECK(tlog_append(t, &b, &why) == 0 && issuer_file_is(dir, &iss[2]), "a third: %s", why);
	tlog_close(t);

	/* Reopen repairs issuer/ from state.mdb: a missing file (a log made before issuer/
	 * existed) and a corrupted one written again; a file state.mdb does not know (a batch
	 * that never committed) and a temporary left by a cut-short replacement removed; a name
	 * that is not ours left alone. */
	char rel[80];
	issuer_rel(rel, iss[0].fingerprint);
	remove_rel(dir, rel);
	issuer_rel(rel, iss[1].fingerprint);
	flip_byte(dir, rel, 10);
	issuer_rel(rel, iss[3].fingerprint);
	write_rel(dir, rel, der[3], iss[3].len);
	write_rel(dir, "issuer/.deadbeef.tmp", "x", 1);
	write_rel(dir, "issuer/README", "x", 1);
	t = open_log(dir, false, msg);
	CHECK(t != NULL, "reopen: %s", msg);
	tlog_close(t);
	CHECK(issuer_file_is(dir, &iss[0]), "a missing issuer file is written on open");
	CHECK(issuer_file_is(dir, &iss[1]), "a corrupted issuer file is rewritten on open");
	CHECK(issuer_file_is(dir, &iss[2]), "an intact one stays");
	CHECK(!exists_rel(dir, rel), "an issuer state.mdb does not know is removed");
	CHECK(!exists_rel(dir, "issuer/.deadbeef.tmp"), "a leftover temporary is removed");
	CHECK(exists_rel(dir, "issuer/README"), "a file that is not ours is left alone");
	/* The whole directory gone: every file comes back. */
	remove_rel(dir, "issuer/README");
	for (unsigned i = 0; i < 3; i++) {
		issuer_rel(rel, iss[i].fingerprint);
		remove_rel(dir, rel);
	}
	char p[512];
	snprintf(p, sizeof p, "%s/issuer", dir);
	CHECK(rmdir(p) == 0, "issuer/ removed");
	t = open_log(dir, false, msg);
	CHECK(t != NULL, "reopen: %s", msg);
	tlog_close(t);
	CHECK(issuer_file_is(dir, &iss[0]) && issuer_file_is(dir, &iss[1]) &&
	              issuer_file_is(dir, &iss[2]),
	      "issuer/ rebuilt from state.mdb");
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
	RUN(checkpoint_file_is_the_latest_recorded_head_and_reopen_repairs_it);
	RUN(issuer_files_are_written_by_the_commit_and_repaired_on_open);
	RUN(malformed_entries_are_refused_without_changing_the_log);
	RUN(io_errors_at_any_step_leave_an_openable_consistent_log);
	RUN(readers_on_other_threads_see_committed_states_only);
	return check_done();
}
