/* Unit test: engine/tiles.h paths, tile sets, growth diffs and the tile-backed node source,
 * against ../shared/vectors (C2SP and tessera path examples, real tile trees) and against the
 * in-memory tree. */
#include <errno.h>
#include <stdlib.h>

#include "engine/hex.h"
#include "engine/merkle.h"
#include "engine/tiles.h"
#include "tests/lib/check.h"
#include "tests/lib/ref.h"
#include "tests/lib/vec.h"

static struct vec_json *tp; /* static-ct/tile_paths.json */

static bool
same_id(const struct tiles_id *a, const struct tiles_id *b)
{
	return a->index == b->index && a->width == b->width && a->level == b->level &&
	       a->data == b->data;
}

static void
index_paths_match_published_examples(void)
{
	const struct vec_json *ex = vec_must(tp, "n_path_examples", VEC_OBJ);
	for (size_t i = 0; i < ex->n; i++) {
		char buf[64];
		uint64_t n = strtoull(ex->key[i], NULL, 10);
		CHECK(tiles_index_format(buf, sizeof buf, n) > 0 &&
		              strcmp(buf, ex->item[i].str) == 0,
		      "N=%s: got %s want %s", ex->key[i], buf, ex->item[i].str);
	}
	struct {
		struct tiles_id t;
		const char *want;
	} cases[] = {
	        {{0, 256, 0, false}, "tile/0/000"},
	        {{0, 255, 0, false}, "tile/0/000.p/255"},
	        {{455667, 256, 15, false}, "tile/15/x455/667"},
	        {{123456789, 41, 15, false}, "tile/15/x123/x456/789.p/41"},
	        {{1234067, 256, 0, true}, "tile/data/x001/x234/067"},
	        {{3, 10, 0, true}, "tile/data/003.p/10"},
	        {{UINT64_MAX, 255, 63, false}, "tile/63/x018/x446/x744/x073/x709/x551/615.p/255"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char buf[TILES_PATH_MAX];
		struct tiles_id back;
		int n = tiles_path(buf, sizeof buf, &cases[i].t);
		CHECK(n > 0 && strcmp(buf, cases[i].want) == 0, "path %s, got %s", cases[i].want,
		      buf);
		CHECK(tiles_path_parse(&back, buf, (size_t)n, 63) == 0 &&
		              same_id(&back, &cases[i].t),
		      "parse %s", buf);
	}
	char small[10];
	CHECK(tiles_path(small, sizeof small, &cases[0].t) == -ENOSPC, "short buffer");
	struct tiles_id bad = {0, 0, 0, false};
	CHECK(tiles_path(small, sizeof small, &bad) == -EINVAL, "width 0");
}

static void
malformed_paths_are_rejected(void)
{
	const struct vec_json *rej = vec_must(
	        tp, "must_reject_when_parsing (from trillian-tessera api/layout/paths_test.go)",
	        VEC_ARR);
	for (size_t i = 0; i < rej->n; i++) {
		char path[128];
		snprintf(path, sizeof path, "tile/%s/%s", rej->item[i].item[0].str,
		         rej->item[i].item[1].str);
		struct tiles_id t;
		CHECK(tiles_path_parse(&t, path, strlen(path), 63) == -EINVAL, "accepted %s", path);
	}
	CHECK(rej->n >= 15, "reject cases: %zu", rej->n);
	const char *more[] = {
	        "",
	        "tile",
	        "tile/",
	        "tile/0/",
	        "tile/00/000",
	        "tile/01/000",
	        "tile/6/000",
	        "tile/0/000.p/0",
	        "tile/0/000.p/01",
	        "tile/0/000.p/256",
	        "tile/0/000.p/12x",
	        "tile/0/000/",
	        "tile/0/x000",
	        "tile/0/x000/",
	        "tile/0/0000",
	        "tile/0/00",
	        "tile/data/000.p/",
	        "tile/data/",
	        "tile/dat/000",
	        "/tile/0/000",
	        "tile/0/000 ",
	        "tile/0/x018/x446/x744/x073/x709/x551/616",
	        /* found by fuzzing: a leading zero group is a second spelling of tile 234067 */
	        "tile/data/x000/x234/067",
	        "tile/0/x000/001",
	        "tile/0/x000/x000/000",
	        "tile/0/000\0",
	};
	for (size_t i = 0; i < sizeof more / sizeof more[0]; i++) {
		struct tiles_id t;
		size_t len = strlen(more[i]) + (i == sizeof more / sizeof more[0] - 1);
		CHECK(tiles_path_parse(&t, more[i], len, TILES_STATIC_CT_MAX_LEVEL) == -EINVAL,
		      "accepted '%s'", more[i]);
	}
	struct tiles_id t;
	CHECK(tiles_path_parse(&t, "tile/5/000", 10, TILES_STATIC_CT_MAX_LEVEL) == 0, "level 5");
}

static void
paths_round_trip_for_random_ids(void)
{
	uint64_t rnd = 11;
	for (int i = 0; i < 20000; i++) {
		struct tiles_id t = {.index = ref_rand(&rnd) >> (ref_rand(&rnd) % 64),
		                     .width = (uint16_t)(ref_rand(&rnd) % 256 + 1),
		                     .level = (uint8_t)(ref_rand(&rnd) % 64)};
		t.data = t.level == 0 && (ref_rand(&rnd) & 1);
		char buf[TILES_PATH_MAX];
		struct tiles_id back;
		int n = tiles_path(buf, sizeof buf, &t);
		CHECK(n > 0 && tiles_path_parse(&back, buf, (size_t)n, 63) == 0 &&
		              same_id(&back, &t),
		      "round trip of %s", buf);
	}
}

/* The tile set of a tree, as sorted paths, from tiles_grow(0, size). */
static size_t
tile_set(char (*out)[TILES_PATH_MAX], size_t cap, uint64_t old, uint64_t size, bool data)
{
	struct tiles_iter it;
	struct tiles_id t;
	size_t n = 0;
	tiles_grow_begin(&it, old, size, data);
	while (tiles_grow_next(&it, &t) && n < cap)
		if (tiles_path(out[n++], TILES_PATH_MAX, &t) < 0)
			check_harness("path");
	return n;
}

static int
cmp_path(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void
tile_sets_match_c2sp_examples(void)
{
	static char got[4096][TILES_PATH_MAX];
	const struct vec_json *sets = vec_must(tp, "tile_sets_for_sizes", VEC_OBJ);
	for (size_t i = 0; i < sets->n; i++) {
		uint64_t size = strtoull(sets->key[i], NULL, 10);
		size_t n = tile_set(got, 4096, 0, size, false);
		const struct vec_json *want = &sets->item[i];
		CHECK(n == want->n, "size %s: %zu tiles, want %zu", sets->key[i], n, want->n);
		qsort(got, n, TILES_PATH_MAX, cmp_path);
		for (size_t j = 0; j < n && j < want->n; j++) {
			bool found = false;
			for (size_t k = 0; k < n; k++)
				found |= strcmp(got[k], want->item[j].str) == 0;
			CHECK(found, "size %s: missing %s", sets->key[i], want->item[j].str);
		}
	}
	/* C2SP's 70000-leaf example: 273 full level-0 tiles, 0/273.p/112, 1/000, 1/001.p/17,
	 * 2/000.p/1 */
	size_t n = tile_set(got, 4096, 0, 70000, false);
	size_t full0 = 0;
	for (size_t i = 0; i < n; i++)
		full0 += strncmp(got[i], "tile/0/", 7) == 0 && strchr(got[i], '.') == NULL;
	CHECK(full0 == 273 && n == 277, "70000: %zu full level-0 of %zu", full0, n);
	CHECK(strcmp(got[273], "tile/0/273.p/112") == 0 && strcmp(got[274], "tile/1/000") == 0 &&
	              strcmp(got[275], "tile/1/001.p/17") == 0 &&
	              strcmp(got[276], "tile/2/000.p/1") == 0,
	      "70000 partials: %s %s %s %s", got[273], got[274], got[275], got[276]);
	/* with data tiles: data tiles mirror level 0 and come first */
	n = tile_set(got, 4096, 0, 300, true);
	CHECK(n == 5 && strcmp(got[0], "tile/data/000") == 0 &&
	              strcmp(got[1], "tile/data/001.p/44") == 0 &&
	              strcmp(got[2], "tile/0/000") == 0,
	      "300 with data: %zu %s %s", n, got[0], got[1]);
}

/* Growth A -> B touches exactly the tiles of B that A does not have at the same width. */
static void
growth_lists_exactly_the_new_and_changed_tiles(void)
{
	enum { CAP = 16384 }; /* holds every tile of a 1.6M-leaf tree, data tiles included */
	static char a[CAP][TILES_PATH_MAX], b[CAP][TILES_PATH_MAX], d[CAP][TILES_PATH_MAX];
	uint64_t rnd = 5;
	for (int round = 0; round < 300; round++) {
		uint64_t A = ref_rand(&rnd) % (round < 150 ? 2000 : 1500000);
		uint64_t B = A + ref_rand(&rnd) % (round % 3 == 0 ? 300 : 70000);
		size_t na = tile_set(a, CAP, 0, A, true), nb = tile_set(b, CAP, 0, B, true);
		size_t nd = tile_set(d, CAP, A, B, true);
		CHECK(na < CAP && nb < CAP, "harness capacity");
		qsort(a, na, TILES_PATH_MAX, cmp_path);
		size_t expect = 0;
		for (size_t i = 0; i < nb; i++) {
			bool in_a = bsearch(b[i], a, na, TILES_PATH_MAX, cmp_path) != NULL;
			if (in_a)
				continue;
			expect++;
			bool listed = false;
			for (size_t j = 0; j < nd && !listed; j++)
				listed = strcmp(d[j], b[i]) == 0;
			CHECK(listed, "%llu->%llu: %s not listed", (unsigned long long)A,
			      (unsigned long long)B, b[i]);
		}
		CHECK(nd == expect, "%llu->%llu: %zu listed, %zu expected", (unsigned long long)A,
		      (unsigned long long)B, nd, expect);
	}
	struct tiles_iter it;
	struct tiles_id t;
	tiles_grow_begin(&it, 10, 10, true);
	CHECK(!tiles_grow_next(&it, &t), "no growth, no tiles");
	tiles_grow_begin(&it, 10, 5, true);
	CHECK(!tiles_grow_next(&it, &t), "shrink lists nothing");
}

/* ---- tiles on disk ---- */

struct dir_reader {
	const char *dir;
	unsigned reads;
	merkle_hash_t level1[4]; /* navigli: the level-1 hashes published in the vectors */
	unsigned nlevel1;
};

static int
read_dir_tile(void *ctx, const struct tiles_id *t, uint8_t *buf)
{
	struct dir_reader *r = ctx;
	char rel[TILES_PATH_MAX], path[512];
	r->reads++;
	if (t->level == 1 && r->nlevel1 > 0) {
		if (t->index != 0 || t->width > r->nlevel1)
			return -ENOENT;
		memcpy(buf, r->level1, 32u * t->width);
		return 0;
	}
	if (tiles_path(rel, sizeof rel, t) < 0)
		return -EINVAL;
	snprintf(path, sizeof path, "%s/%s", r->dir, rel);
	FILE *f = fopen(path, "rb");
	if (!f)
		return -ENOENT;
	size_t want = 32u * t->width, got = fread(buf, 1, want, f);
	fclose(f);
	return got == want ? 0 : -EIO;
}

/* "origin\nsize\nbase64root\n..." */
static void
checkpoint_root(const char *path, uint64_t *size, merkle_hash_t root)
{
	size_t len;
	char *text = (char *)vec_read(path, &len);
	char *l1 = strchr(text, '\n');
	char *l2 = l1 ? strchr(l1 + 1, '\n') : NULL;
	char *l3 = l2 ? strchr(l2 + 1, '\n') : NULL;
	if (!l3)
		check_harness("checkpoint layout");
	*l2 = *l3 = 0;
	*size = strtoull(l1 + 1, NULL, 10);
	if (vec_b64(root, 32, l2 + 1) != 32)
		check_harness("checkpoint root");
	free(text);
}

static void
roots_from_tessera_testdata_tiles_match_its_checkpoints(void)
{
	char *dir = vec_path("tlog-tiles/trillian-tessera-testdata-log");
	for (int n = 1; n <= 15; n++) {
		char cp[512];
		snprintf(cp, sizeof cp, "%s/checkpoint.%d", dir, n);
		uint64_t size;
		merkle_hash_t want, got;
		checkpoint_root(cp, &size, want);
		CHECK(size == (uint64_t)n, "checkpoint.%d has size %llu", n,
		      (unsigned long long)size);
		struct dir_reader r = {.dir = dir};
		struct tiles_source ts;
		tiles_source_init(&ts, size, read_dir_tile, &r);
		struct merkle_source src = tiles_source_view(&ts);
		CHECK(merkle_range_root(&src, 0, size, got) == 0, "root from tiles at %d", n);
		CHECK_MEM(got, want, 32, "root at size %d", n);
		CHECK(r.reads == 1, "one tile read for size %d, got %u", n, r.reads);
	}
}

static void
root_from_skylight_mirror_tiles_matches_its_checkpoint(void)
{
	char *dir = vec_path("static-ct/sunlight-skylight-testdata/witness/mirror/"
	                     "000de184301123b9278c086a7d9f68c9577e83872224c197058fd90784ea9706");
	char cp[512];
	snprintf(cp, sizeof cp, "%s/checkpoint", dir);
	uint64_t size;
	merkle_hash_t want, got;
	checkpoint_root(cp, &size, want);
	struct dir_reader r = {.dir = dir};
	struct tiles_source ts;
	tiles_source_init(&ts, size, read_dir_tile, &r);
	struct merkle_source src = tiles_source_view(&ts);
	CHECK(size == 300 && merkle_range_root(&src, 0, size, got) == 0, "root from tiles");
	CHECK_MEM(got, want, 32, "mirror root at 300");
	/* The records are "record 0" .. "record 299": leaf 123's inclusion verifies from tiles. */
	merkle_hash_t leaf, p[MERKLE_MAX_PROOF];
	size_t pn;
	merkle_leaf_hash(leaf, (const uint8_t *)"record 123", 10);
	CHECK(merkle_inclusion_proof(&src, 123, size, p, &pn) == 0 &&
	              merkle_verify_inclusion(123, size, leaf, p, pn, want, NULL) == 0,
	      "inclusion of record 123 from tiles");
}

static void
roots_from_navigli_production_tiles_match_published_values(void)
{
	struct vec_json *v = vec_json_file(vec_path("static-ct/VERIFIED_STATIC_CT_AND_TLOG.json"));
	const struct vec_json *nv = vec_must(v, "navigli2025h2_tiles", VEC_OBJ);
	struct dir_reader r = {.dir = vec_path("static-ct/sunlight-navigli2025h2")};
	const struct vec_json *l1 = vec_must(nv, "level1_tile_entries_would_be", VEC_ARR);
	for (size_t i = 0; i < l1->n && i < 4; i++)
		if (hex_decode(r.level1[i], 32, l1->item[i].str, 64, NULL) != 32)
			check_harness("level1 hash");
	r.nlevel1 = (unsigned)l1->n;
	const char *keys[] = {"root_at_tree_size_1", "root_at_tree_size_256",
	                      "root_at_tree_size_778", "root_at_tree_size_1024"};
	uint64_t sizes[] = {1, 256, 778, 1024};
	for (int i = 0; i < 4; i++) {
		merkle_hash_t want, got;
		if (hex_decode(want, 32, vec_must(nv, keys[i], VEC_STR)->str, 64, NULL) != 32)
			check_harness("root");
		struct tiles_source ts;
		tiles_source_init(&ts, sizes[i], read_dir_tile, &r);
		struct merkle_source src = tiles_source_view(&ts);
		CHECK(merkle_range_root(&src, 0, sizes[i], got) == 0, "root at %llu",
		      (unsigned long long)sizes[i]);
		CHECK_MEM(got, want, 32, "navigli root at %llu", (unsigned long long)sizes[i]);
	}
	/* The published level-1 hashes are the roots of the four full level-0 tiles (reference MTH
	 * over each tile file's 256 hashes). */
	for (uint64_t i = 0; i < 4; i++) {
		merkle_hash_t tile[TILES_WIDTH], root;
		struct tiles_id id = {.index = i, .width = TILES_WIDTH};
		r.nlevel1 = 0;
		CHECK(read_dir_tile(&r, &id, (uint8_t *)tile) == 0, "read tile/0/%03llu",
		      (unsigned long long)i);
		ref_mth(root, (const uint8_t(*)[32])tile, 0, TILES_WIDTH);
		CHECK_MEM(root, r.level1[i], 32, "level-1 hash %llu", (unsigned long long)i);
	}
}

/* Tiles cut from an in-memory tree serve the same roots and proofs as the tree itself. */
struct mem_reader {
	struct merkle_memtree *t;
};

static int
read_mem_tile(void *ctx, const struct tiles_id *t, uint8_t *buf)
{
	struct mem_reader *r = ctx;
	unsigned level = TILES_HEIGHT * t->level;
	for (unsigned i = 0; i < t->width; i++) {
		uint64_t idx = t->index * TILES_WIDTH + i;
		if (idx >= (r->t->frontier.size >> level))
			return -ENOENT;
		memcpy(buf + 32 * i, r->t->level[level][idx], 32);
	}
	return 0;
}

/* The root, an inclusion proof and a consistency proof (random index and old size) at size n
 * from `got` are the tree's (`want`). */
static void
same_as_tree(const struct merkle_source *got, const struct merkle_source *want, uint64_t n,
             uint64_t *rnd)
{
	merkle_hash_t a, b, pa[MERKLE_MAX_PROOF], pb[MERKLE_MAX_PROOF];
	size_t la, lb;
	CHECK(merkle_range_root(got, 0, n, a) == 0 && merkle_range_root(want, 0, n, b) == 0,
	      "roots");
	CHECK_MEM(a, b, 32, "root at %llu", (unsigned long long)n);
	uint64_t m = ref_rand(rnd) % n, old = ref_rand(rnd) % n + 1;
	CHECK(merkle_inclusion_proof(got, m, n, pa, &la) == 0 &&
	              merkle_inclusion_proof(want, m, n, pb, &lb) == 0 && la == lb &&
	              memcmp(pa, pb, 32 * la) == 0,
	      "inclusion %llu in %llu", (unsigned long long)m, (unsigned long long)n);
	CHECK(merkle_consistency_proof(got, old, n, pa, &la) == 0 &&
	              merkle_consistency_proof(want, old, n, pb, &lb) == 0 && la == lb &&
	              memcmp(pa, pb, 32 * la) == 0,
	      "consistency %llu->%llu", (unsigned long long)old, (unsigned long long)n);
}

static void
tile_source_serves_the_same_roots_and_proofs_as_the_tree(void)
{
	enum { N = 300000 };
	merkle_hash_t *leaves = malloc((size_t)N * 32);
	ref_leaves(leaves, 0, N, 21);
	struct merkle_memtree t;
	CHECK(merkle_memtree_init(&t, 4096) == 0 && merkle_memtree_append(&t, leaves, N) == 0,
	      "memtree");
	struct mem_reader r = {&t};
	struct merkle_source mem = merkle_memtree_source(&t);
	uint64_t rnd = 77;
	for (int round = 0; round < 200; round++) {
		uint64_t n = round < 20 ? (uint64_t)round + 1 : ref_rand(&rnd) % N + 1;
		if (round == 20)
			n = 65536;
		if (round == 21)
			n = N;
		struct tiles_source ts;
		tiles_source_init(&ts, n, read_mem_tile, &r);
		struct merkle_source tiles = tiles_source_view(&ts);
		same_as_tree(&tiles, &mem, n, &rnd);
	}
	/* A node that is not complete at the source's size is refused. */
	struct tiles_source ts;
	tiles_source_init(&ts, 300, read_mem_tile, &r);
	merkle_hash_t h;
	CHECK(tiles_source_view(&ts).node(&ts, 8, 1, h) == -ENOENT, "incomplete node refused");
	merkle_memtree_free(&t);
	free(leaves);
}

/* Fails reads of one tile while fail_index is set. */
struct flaky_reader {
	struct mem_reader m;
	uint64_t fail_index;
	bool failing;
};

static int
read_flaky_tile(void *ctx, const struct tiles_id *t, uint8_t *buf)
{
	struct flaky_reader *f = ctx;
	if (f->failing && t->level == 0 && t->index == f->fail_index)
		return -EIO;
	return read_mem_tile(&f->m, t, buf);
}

static void
cached_source_serves_the_same_proofs_as_the_tree_through_evictions(void)
{
	enum { N = 300000 };
	merkle_hash_t *leaves = malloc((size_t)N * 32);
	ref_leaves(leaves, 0, N, 22);
	struct merkle_memtree t;
	CHECK(merkle_memtree_init(&t, 4096) == 0 && merkle_memtree_append(&t, leaves, N) == 0,
	      "memtree");
	struct flaky_reader r = {{&t}, 0, false};
	struct merkle_source mem = merkle_memtree_source(&t);
	struct tiles_cache *c = NULL;
	CHECK(tiles_cache_new(&c, 1) == -EINVAL && tiles_cache_new(&c, 65537) == -EINVAL,
	      "slot count checked");
	CHECK(tiles_cache_new(&c, 5) == 0, "cache");
	uint64_t rnd = 78;
	/* One small cache across trees of many sizes: partial tiles of every width, entries
	 * evicted all the time. */
	for (int round = 0; round < 300; round++) {
		uint64_t n = round < 30 ? (uint64_t)round * 37 + 1 : ref_rand(&rnd) % N + 1;
		struct tiles_source ts;
		tiles_source_init(&ts, n, read_flaky_tile, &r);
		tiles_source_use_cache(&ts, c, NULL, NULL);
		struct merkle_source x = tiles_source_view(&ts);
		same_as_tree(&x, &mem, n, &rnd);
	}
	/* A failed read caches nothing; the next read of the tile succeeds. */
	struct tiles_source ts;
	tiles_source_init(&ts, N, read_flaky_tile, &r);
	tiles_source_use_cache(&ts, c, NULL, NULL);
	struct merkle_source x = tiles_source_view(&ts);
	merkle_hash_t p[MERKLE_MAX_PROOF], q[MERKLE_MAX_PROOF];
	size_t pl, ql;
	r.fail_index = 1000;
	r.failing = true;
	CHECK(merkle_inclusion_proof(&x, 1000 * 256 + 7, N, p, &pl) == -EIO,
	      "read error passed on");
	r.failing = false;
	CHECK(merkle_inclusion_proof(&x, 1000 * 256 + 7, N, p, &pl) == 0 &&
	              merkle_inclusion_proof(&mem, 1000 * 256 + 7, N, q, &ql) == 0 && pl == ql &&
	              memcmp(p, q, 32 * pl) == 0,
	      "proof after the failed read");
	tiles_cache_free(c);

	/* Cold leaves pass through: with room for the upper tiles (5 of level 1, one of level 2),
	 * a stream of proofs for random leaves misses once per proof (its level-0 tile) and
	 * reads each upper tile once. */
	CHECK(tiles_cache_new(&c, 16) == 0, "cache");
	tiles_source_init(&ts, N, read_flaky_tile, &r);
	tiles_source_use_cache(&ts, c, NULL, NULL);
	x = tiles_source_view(&ts);
	enum { PROOFS = 2000 };
	for (int i = 0; i < PROOFS; i++)
		CHECK(merkle_inclusion_proof(&x, ref_rand(&rnd) % N, N, p, &pl) == 0, "proof");
	struct tiles_cache_stats st;
	tiles_cache_stats(c, &st);
	CHECK(st.slots == 16 && st.used <= 16 && st.hits + st.misses >= 3 * PROOFS, "stats");
	CHECK(st.misses <= PROOFS + 6, "%llu misses for %d proofs", (unsigned long long)st.misses,
	      PROOFS);
	tiles_cache_clear(c);
	tiles_cache_stats(c, &st);
	CHECK(st.used == 0, "cleared");
	tiles_cache_free(c);
	merkle_memtree_free(&t);
	free(leaves);
}

/* Mid nodes from the in-memory tree (level 8L + 4), except for tiles whose index is a
 * multiple of `skip` (as for a log older than mid nodes); error_index fails with -EIO. */
struct mid_reader {
	struct merkle_memtree *t;
	uint64_t skip, error_index;
	unsigned calls;
};

static int
read_mem_mid(void *ctx, unsigned level, uint64_t index, merkle_hash_t out[TILES_MID])
{
	struct mid_reader *m = ctx;
	m->calls++;
	if (index == m->error_index)
		return -EIO;
	if (m->skip && index % m->skip == 0)
		return -ENOENT;
	unsigned l = TILES_HEIGHT * level + 4;
	for (unsigned i = 0; i < TILES_MID; i++)
		memcpy(out[i], m->t->level[l][index * TILES_MID + i], 32);
	return 0;
}

static void
stored_mid_nodes_give_the_same_proofs_with_fewer_hashes(void)
{
	enum { N = 200000 };
	merkle_hash_t *leaves = malloc((size_t)N * 32);
	ref_leaves(leaves, 0, N, 23);
	struct merkle_memtree t;
	CHECK(merkle_memtree_init(&t, 4096) == 0 && merkle_memtree_append(&t, leaves, N) == 0,
	      "memtree");
	/* tiles_mid is the tree's level 4 (and level 12 over a level-1 tile) */
	merkle_hash_t mid[TILES_MID];
	tiles_mid((const merkle_hash_t *)t.level[0][256 * 7], mid);
	CHECK_MEM(mid, t.level[4][16 * 7], 32 * TILES_MID, "tiles_mid of tile 0/7");
	tiles_mid((const merkle_hash_t *)t.level[8][0], mid);
	CHECK_MEM(mid, t.level[12][0], 32 * TILES_MID, "tiles_mid of tile 1/0");

	struct mem_reader r = {&t};
	struct mid_reader m = {&t, 3, UINT64_MAX, 0};
	struct merkle_source mem = merkle_memtree_source(&t);
	struct tiles_cache *c = NULL;
	CHECK(tiles_cache_new(&c, 8) == 0, "cache");
	uint64_t rnd = 79;
	for (int round = 0; round < 400; round++) {
		uint64_t n = round < 40 ? (uint64_t)round * 97 + 1 : ref_rand(&rnd) % N + 1;
		struct tiles_source ts;
		tiles_source_init(&ts, n, read_mem_tile, &r);
		tiles_source_use_cache(&ts, c, read_mem_mid, &m);
		struct merkle_source x = tiles_source_view(&ts);
		same_as_tree(&x, &mem, n, &rnd);
	}
	CHECK(m.calls > 100, "mid nodes read (%u calls)", m.calls);
	/* A mid read error is passed on and caches nothing. */
	tiles_cache_clear(c);
	struct tiles_source ts;
	tiles_source_init(&ts, N, read_mem_tile, &r);
	tiles_source_use_cache(&ts, c, read_mem_mid, &m);
	struct merkle_source x = tiles_source_view(&ts);
	merkle_hash_t p[MERKLE_MAX_PROOF];
	size_t pl;
	m.error_index = 500;
	CHECK(merkle_inclusion_proof(&x, 500 * 256 + 1, N, p, &pl) == -EIO, "mid error passed on");
	m.error_index = UINT64_MAX;
	merkle_hash_t root;
	merkle_frontier_root(&t.frontier, root);
	CHECK(merkle_inclusion_proof(&x, 500 * 256 + 1, N, p, &pl) == 0 &&
	              merkle_verify_inclusion(500 * 256 + 1, N, leaves[500 * 256 + 1], p, pl, root,
	                                      NULL) == 0,
	      "proof after the error");
	tiles_cache_free(c);
	merkle_memtree_free(&t);
	free(leaves);
}

int
main(void)
{
	tp = vec_json_file(vec_path("static-ct/tile_paths.json"));
	RUN(index_paths_match_published_examples);
	RUN(malformed_paths_are_rejected);
	RUN(paths_round_trip_for_random_ids);
	RUN(tile_sets_match_c2sp_examples);
	RUN(growth_lists_exactly_the_new_and_changed_tiles);
	RUN(roots_from_tessera_testdata_tiles_match_its_checkpoints);
	RUN(root_from_skylight_mirror_tiles_matches_its_checkpoint);
	RUN(roots_from_navigli_production_tiles_match_published_values);
	RUN(tile_source_serves_the_same_roots_and_proofs_as_the_tree);
	RUN(cached_source_serves_the_same_proofs_as_the_tree_through_evictions);
	RUN(stored_mid_nodes_give_the_same_proofs_with_fewer_hashes);
	return check_done();
}
