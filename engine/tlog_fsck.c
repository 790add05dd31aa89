/* engine/tlog_fsck.c: check a whole log from its tiles, in one pass with bounded memory.
 *
 * The pass streams the data tiles in order: each splits into exactly its entries, their leaf
 * hashes must equal the level-0 hash tile, and the leaves feed a frontier whose new nodes at
 * levels 8, 16, ... must equal the higher hash tiles. The pass stops at every signed size on
 * the way to compare that size's root, then at the committed size. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/tlog_int.h"

struct fsck {
	struct store *st;
	struct store_reader *r;
	struct store_reader *mr; /* mid-level nodes, read while r walks the signed sizes */
	const struct tlog_codec *c;
	void (*problem)(void *ctx, const char *msg);
	void *ctx;
	long problems;
	struct tlog_fsck_stats *stats;
	uint64_t n, watermark;
	struct merkle_frontier f;
	struct merkle_append_scratch sc;
	merkle_hash_t lvl[TILES_MAX_LEVEL + 1][TILES_WIDTH]; /* recomputed nodes of level 8L */
	uint64_t next_tile;                                  /* next data tile to load */
	merkle_hash_t leaves[TILES_WIDTH];
	unsigned nleaves, pos;
	uint8_t *buf;
	size_t cap;
	bool broken; /* a data tile could not be read: the rest of the pass is meaningless */
};

static void report(struct fsck *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
report(struct fsck *k, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	k->problems++;
	if (k->problem)
		k->problem(k->ctx, msg);
}

/* The stored mid-level nodes of full hash tile (L, idx), when there are any (a log written
 * before them has none), against the ones its hashes give. */
static void
compare_mid(struct fsck *k, unsigned L, uint64_t idx, const merkle_hash_t *tile, const char *path)
{
	uint8_t got[STORE_MID_NODES][STORE_HASH_LEN];
	int rc = store_mid_get(k->mr, L, idx, got);
	if (rc == -ENOENT)
		return;
	if (rc < 0) {
		report(k, "state.mdb: mid-level nodes of %s: unreadable", path);
		return;
	}
	merkle_hash_t want[TILES_MID];
	tiles_mid(tile, want);
	if (memcmp(got, want, sizeof want) != 0)
		report(k, "state.mdb: mid-level nodes of %s differ from the ones its hashes give",
		       path);
}

/* Hash tile (L, idx, w) against want[0, w); a partial one is the prefix of its edge file (or of
 * the full tile once that exists), which may hold uncommitted bytes past it. */
static void
compare_hash_tile(struct fsck *k, unsigned L, uint64_t idx, unsigned w, const merkle_hash_t *want)
{
	struct tiles_id id = {idx, (uint16_t)w, (uint8_t)L, false};
	char path[TILES_PATH_MAX];
	tlog_tile_name(path, &id);
	size_t len = 0;
	int rc = tlog_tile_read(k->st, &id, &k->buf, &k->cap, &len);
	if (rc == 0 && w < TILES_WIDTH && len >= (size_t)w * MERKLE_HASH_LEN)
		len = (size_t)w * MERKLE_HASH_LEN;
	k->stats->hash_tiles++;
	if (rc < 0) {
		report(k, "%s: %s", path, rc == -ENOENT ? "missing" : "unreadable");
		return;
	}
	if (len != (size_t)w * MERKLE_HASH_LEN) {
		report(k, "%s: %zu bytes, expected %u (truncated or overlong)", path, len,
		       w * MERKLE_HASH_LEN);
		return;
	}
	for (unsigned i = 0; i < w; i++) {
		if (memcmp(k->buf + (size_t)i * MERKLE_HASH_LEN, want[i], MERKLE_HASH_LEN) != 0) {
			report(k, "%s: hash %u differs from the one recomputed from the data tiles",
			       path, i);
			return;
		}
	}
	if (w == TILES_WIDTH)
		compare_mid(k, L, idx, want, path);
}

static void
check_index(struct fsck *k, uint64_t idx, const uint8_t *e, size_t len, const merkle_hash_t lh)
{
	if (idx >= k->watermark)
		return;
	uint64_t got = 0;
	int rc = store_hash_get(k->r, lh, &got);
	if (rc < 0 || got > idx)
		report(k, "index/: leaf hash of entry %llu %s", (unsigned long long)idx,
		       rc < 0 ? "is missing" : "points past the entry");
	struct store_row row;
	uint8_t v[STORE_VALUE_MAX];
	if (k->c->dedup_row && k->c->dedup_row(e, len, idx, &row) == 0 &&
	    store_dedup_get(k->r, row.key, v) < 0)
		report(k, "index/: dedup row of entry %llu is missing", (unsigned long long)idx);
	k->stats->index_rows_checked++;
}

/* Loads the next data tile: entries, leaf hashes, the level-0 hash tile, index rows. */
static int
load_tile(struct fsck *k)
{
	uint64_t t = k->next_tile++;
	unsigned w = tiles_width(k->n, 0, t);
	struct tiles_id d = {t, (uint16_t)w, 0, true};
	char path[TILES_PATH_MAX];
	tlog_tile_name(path, &d);
	size_t len = 0;
	int rc = tlog_tile_read(k->st, &d, &k->buf, &k->cap, &len);
	k->stats->data_tiles++;
	if (rc < 0) {
		report(k, "%s: %s; entries from %llu on cannot be checked", path,
		       rc == -ENOENT ? "missing" : "unreadable",
		       (unsigned long long)(t * TILES_WIDTH));
		return -EBADMSG;
	}
	const uint8_t *ent[TILES_WIDTH];
	size_t el[TILES_WIDTH];
	/* A partial tile's file (edge or full) may hold more: split only the prefix. */
	size_t off = 0;
	for (unsigned i = 0; i < w; i++) {
		long l = k->c->entry_len(k->buf + off, len - off);
		if (l <= 0) {
			report(k, "%s: entry %u is truncated or malformed (%s entries)", path, i,
			       k->c->name);
			return -EBADMSG;
		}
		ent[i] = k->buf + off;
		el[i] = (size_t)l;
		off += (size_t)l;
	}
	if (off != len && w == TILES_WIDTH)
		report(k, "%s: %zu bytes after its %u entries", path, len - off, w);
	/* Leaf hashes against the level-0 hash tile, named by the data tile. */
	struct tiles_id h = {t, (uint16_t)w, 0, false};
	char hpath[TILES_PATH_MAX];
	tlog_tile_name(hpath, &h);
	uint8_t *hb = NULL;
	size_t hcap = 0, hlen = 0;
	rc = tlog_tile_read(k->st, &h, &hb, &hcap, &hlen);
	bool hash_ok = rc == 0 && hlen >= (size_t)w * MERKLE_HASH_LEN;
	bool reported = false;
	k->c->leaf_hashes(ent, el, w, k->leaves);
	for (unsigned i = 0; i < w; i++) {
		if (hash_ok &&
		    memcmp(hb + (size_t)i * MERKLE_HASH_LEN, k->leaves[i], MERKLE_HASH_LEN)) {
			if (!reported)
				report(k,
				       "%s: entry %llu does not match its leaf hash in %s (one of "
				       "the two "
				       "is corrupted)",
				       path, (unsigned long long)(t * TILES_WIDTH + i), hpath);
			reported = true;
			continue;
		}
		check_index(k, t * TILES_WIDTH + i, ent[i], el[i], k->leaves[i]);
	}
	free(hb);
	k->stats->entries += w;
	compare_hash_tile(k, 0, t, w, (const merkle_hash_t *)k->leaves);
	k->nleaves = w;
	k->pos = 0;
	return 0;
}

/* Feeds leaves until the frontier reaches `target`, comparing each completed hash tile. */
static int
advance(struct fsck *k, uint64_t target)
{
	while (!k->broken && k->f.size < target) {
		if (k->pos == k->nleaves && load_tile(k) < 0) {
			k->broken = true;
			return -EBADMSG;
		}
		size_t m = k->nleaves - k->pos;
		if (m > target - k->f.size)
			m = (size_t)(target - k->f.size);
		if (merkle_append(&k->f, &k->sc, (const merkle_hash_t *)k->leaves + k->pos, m) < 0)
			return -EINVAL;
		k->pos += (unsigned)m;
		for (unsigned L = 1; L <= TILES_MAX_LEVEL; L++) {
			unsigned l = L * TILES_HEIGHT;
			if (l >= k->sc.nlevels)
				break;
			const struct merkle_level_span *sp = &k->sc.level[l];
			for (size_t i = 0; i < sp->count; i++) {
				uint64_t j = sp->first + i;
				memcpy(k->lvl[L][j % TILES_WIDTH], sp->hash[i], MERKLE_HASH_LEN);
				if (j % TILES_WIDTH == TILES_WIDTH - 1)
					compare_hash_tile(k, L, j / TILES_WIDTH, TILES_WIDTH,
					                  (const merkle_hash_t *)k->lvl[L]);
			}
		}
	}
	return 0;
}

static int
on_signed(void *ctx, uint64_t size, const uint8_t root[STORE_HASH_LEN], uint64_t ts)
{
	struct fsck *k = ctx;
	(void)ts;
	k->stats->signed_sizes++;
	if (size > k->n) {
		report(k, "state.mdb: size %llu was signed but only %llu are committed",
		       (unsigned long long)size, (unsigned long long)k->n);
		return 0;
	}
	if (size == 0 || advance(k, size) < 0 || k->broken)
		return 0;
	merkle_hash_t got;
	merkle_frontier_root(&k->f, got);
	if (memcmp(got, root, MERKLE_HASH_LEN) != 0) {
		char a[65], b[65];
		tlog_hex(a, root), tlog_hex(b, got);
		report(k, "size %llu was signed with root %s but the tiles give %s",
		       (unsigned long long)size, a, b);
	}
	return 0;
}

static void
check_head(struct fsck *k)
{
	uint8_t *buf = malloc(STORE_HEAD_MAX + 64);
	if (buf == NULL)
		return;
	struct store_head h;
	int rc = store_head_get(k->r, &h, buf, STORE_HEAD_MAX + 64);
	if (rc == 0) {
		uint8_t root[STORE_HASH_LEN];
		uint64_t ts;
		if (store_signed_get(k->r, h.size, root, &ts) < 0)
			report(k,
			       "state.mdb: the latest head (size %llu) is not in the signed record",
			       (unsigned long long)h.size);
		else if (memcmp(root, h.root, STORE_HASH_LEN) != 0)
			report(k,
			       "state.mdb: the latest head's root differs from the signed record "
			       "at "
			       "size %llu",
			       (unsigned long long)h.size);
	} else if (rc != -ENOENT) {
		report(k, "state.mdb: the latest head is unreadable");
	}
	free(buf);
}

long
tlog_fsck(const char *dir, const struct tlog_codec *codec, struct tlog_fsck_stats *stats,
          void (*problem)(void *ctx, const char *msg), void *ctx)
{
	struct tlog_fsck_stats dummy;
	if (stats == NULL)
		stats = &dummy;
	memset(stats, 0, sizeof *stats);
	struct fsck *k = calloc(1, sizeof *k);
	if (k == NULL)
		return -ENOMEM;
	k->c = codec;
	k->problem = problem;
	k->ctx = ctx;
	k->stats = stats;
	struct store_opts so = {.read_only = true, .format = codec->name};
	const char *why = NULL;
	long rc = store_open(&k->st, dir, &so, &why);
	if (rc < 0) {
		report(k, "%s: %s", dir, why ? why : "cannot open");
		goto out;
	}
	rc = store_reader_open(k->st, &k->r);
	if (rc == 0)
		rc = store_reader_open(k->st, &k->mr);
	if (rc == 0)
		rc = merkle_append_scratch_init(&k->sc, TILES_WIDTH);
	if (rc < 0)
		goto out;
	struct store_state st;
	store_state_get(k->st, &st);
	k->n = stats->size = st.size;
	k->watermark = store_index_watermark(k->st);
	merkle_frontier_init(&k->f);
	rc = store_signed_each(k->r, on_signed, k);
	if (rc < 0)
		report(k, "state.mdb: the signed record is unreadable");
	advance(k, k->n);
	if (!k->broken) {
		for (unsigned L = 1; L <= TILES_MAX_LEVEL; L++) {
			uint64_t count = k->n >> (L * TILES_HEIGHT);
			if (count % TILES_WIDTH)
				compare_hash_tile(k, L, count / TILES_WIDTH,
				                  (unsigned)(count % TILES_WIDTH),
				                  (const merkle_hash_t *)k->lvl[L]);
		}
		if (k->n > 0) {
			merkle_hash_t got;
			merkle_frontier_root(&k->f, got);
			if (memcmp(got, st.root, MERKLE_HASH_LEN) != 0) {
				char a[65], b[65];
				tlog_hex(a, st.root), tlog_hex(b, got);
				report(k,
				       "state.mdb commits size %llu with root %s but the tiles "
				       "give %s",
				       (unsigned long long)k->n, a, b);
			}
		}
	}
	check_head(k);
	rc = 0;
out:
	if (rc == 0)
		rc = k->problems;
	else if (k->problems > 0)
		rc = k->problems;
	store_reader_close(k->r);
	store_reader_close(k->mr);
	store_close(k->st);
	merkle_append_scratch_free(&k->sc);
	free(k->buf);
	free(k);
	return rc;
}
