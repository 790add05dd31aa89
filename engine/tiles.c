/* engine/tiles.c: tile paths, tile sets and the tile-backed node source. */
#include "engine/tiles.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/sha256x.h"

#define MAX_LEVEL_IN_PATH 63 /* tlog-tiles allows levels 0..63 in a path */

int
tiles_index_format(char *buf, size_t cap, uint64_t n)
{
	/* Groups of three digits, most significant first. */
	unsigned groups[7], ng = 0;
	do {
		groups[ng++] = (unsigned)(n % 1000);
		n /= 1000;
	} while (n > 0);
	size_t len = 0;
	for (unsigned i = ng; i-- > 0;) {
		if (len + 5 > cap)
			return -ENOSPC;
		len += (size_t)sprintf(buf + len, i > 0 ? "x%03u/" : "%03u", groups[i]);
	}
	return (int)len;
}

int
tiles_path(char *buf, size_t cap, const struct tiles_id *t)
{
	if (t->width == 0 || t->width > TILES_WIDTH || t->level > MAX_LEVEL_IN_PATH ||
	    (t->data && t->level != 0))
		return -EINVAL;
	char idx[40]; /* 7 groups of "xDDD/" */
	int n = tiles_index_format(idx, sizeof idx, t->index);
	if (n < 0)
		return n;
	int len;
	if (t->data)
		len = snprintf(buf, cap, "tile/data/%s", idx);
	else
		len = snprintf(buf, cap, "tile/%u/%s", t->level, idx);
	if (len >= 0 && (size_t)len < cap && t->width < TILES_WIDTH)
		len += snprintf(buf + len, cap - (size_t)len, ".p/%u", t->width);
	if (len < 0 || (size_t)len >= cap)
		return -ENOSPC;
	return len;
}

/* Parses a decimal without sign or leading zeros ("0" alone is fine) from [*p, end) up to
 * the next '/', '.' or end. */
static int
parse_dec(const char **p, const char *end, uint64_t max, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	while (*p < end && **p >= '0' && **p <= '9') {
		unsigned d = (unsigned)(**p - '0');
		if (v > (max - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
		(*p)++;
	}
	size_t n = (size_t)(*p - s);
	if (n == 0 || (n > 1 && s[0] == '0'))
		return -EINVAL;
	*out = v;
	return 0;
}

/* N: groups "xDDD/" ... "DDD", as few as the value needs: a leading "x000/" group would be a
 * second spelling of the same tile. */
static int
parse_index(const char **p, const char *end, uint64_t *out)
{
	uint64_t v = 0;
	for (bool first = true;; first = false) {
		bool more = *p < end && **p == 'x';
		const char *g = *p + (more ? 1 : 0);
		if (end - g < 3)
			return -EINVAL;
		unsigned d = 0;
		for (int i = 0; i < 3; i++) {
			if (g[i] < '0' || g[i] > '9')
				return -EINVAL;
			d = d * 10 + (unsigned)(g[i] - '0');
		}
		if (v > (UINT64_MAX - d) / 1000 || (first && more && d == 0))
			return -EINVAL;
		v = v * 1000 + d;
		*p = g + 3;
		if (!more)
			break;
		if (*p >= end || **p != '/')
			return -EINVAL;
		(*p)++;
	}
	*out = v;
	return 0;
}

static bool
take(const char **p, const char *end, const char *lit)
{
	size_t n = strlen(lit);
	if ((size_t)(end - *p) < n || memcmp(*p, lit, n) != 0)
		return false;
	*p += n;
	return true;
}

int
tiles_path_parse(struct tiles_id *t, const char *path, size_t len, unsigned max_level)
{
	const char *p = path, *end = path + len;
	struct tiles_id r = {.width = TILES_WIDTH};
	uint64_t v;
	if (!take(&p, end, "tile/"))
		return -EINVAL;
	if (take(&p, end, "data/")) {
		r.data = true;
	} else {
		if (parse_dec(&p, end, MAX_LEVEL_IN_PATH, &v) != 0 || v > max_level ||
		    !take(&p, end, "/"))
			return -EINVAL;
		r.level = (uint8_t)v;
	}
	if (parse_index(&p, end, &r.index) != 0)
		return -EINVAL;
	if (p < end) {
		if (!take(&p, end, ".p/") || parse_dec(&p, end, TILES_WIDTH - 1, &v) != 0 || v == 0)
			return -EINVAL;
		r.width = (uint16_t)v;
	}
	if (p != end)
		return -EINVAL;
	*t = r;
	return 0;
}

unsigned
tiles_width(uint64_t size, unsigned level, uint64_t index)
{
	if (level > TILES_MAX_LEVEL)
		return 0;
	uint64_t hashes = size >> (TILES_HEIGHT * level); /* hashes at Merkle level 8L */
	uint64_t full = hashes / TILES_WIDTH;
	if (index < full)
		return TILES_WIDTH;
	if (index == full)
		return (unsigned)(hashes % TILES_WIDTH);
	return 0;
}

/* First tile index at `level` that the growth touches, or done when none. */
static void
level_start(struct tiles_iter *it)
{
	for (;;) {
		if (it->level > TILES_MAX_LEVEL) {
			it->done = true;
			return;
		}
		unsigned shift = TILES_HEIGHT * it->level;
		uint64_t a = it->old >> shift, b = it->new >> shift;
		if (a < b) {
			it->next = a / TILES_WIDTH;
			return;
		}
		if (it->data) {
			it->data =
			        false; /* no new entries: no data tiles, and no hash tiles either */
			continue;
		}
		it->done = true; /* no new hashes at this level, so none above */
		return;
	}
}

void
tiles_grow_begin(struct tiles_iter *it, uint64_t old, uint64_t new, bool with_data)
{
	*it = (struct tiles_iter){.old = old, .new = new, .data = with_data};
	if (new <= old) {
		it->done = true;
		return;
	}
	level_start(it);
}

bool
tiles_grow_next(struct tiles_iter *it, struct tiles_id *out)
{
	while (!it->done) {
		unsigned w = tiles_width(it->new, it->level, it->next);
		if (w > 0) {
			*out = (struct tiles_id){.index = it->next,
			                         .width = (uint16_t)w,
			                         .level = it->data ? 0 : it->level,
			                         .data = it->data};
			it->next++;
			return true;
		}
		if (it->data)
			it->data = false; /* hash tiles of level 0 follow */
		else
			it->level++;
		level_start(it);
	}
	return false;
}

/* ---- tile node source ---- */

void
tiles_source_init(struct tiles_source *ts, uint64_t size, tiles_read_fn read, void *ctx)
{
	ts->size = size;
	ts->read = read;
	ts->ctx = ctx;
	ts->xc = NULL;
	ts->mid = NULL;
	ts->mid_ctx = NULL;
	for (unsigned l = 0; l <= TILES_MAX_LEVEL; l++)
		ts->cache[l].valid = false;
}

static int
tile_at(struct tiles_source *ts, unsigned level, uint64_t index, const merkle_hash_t **out)
{
	unsigned w = tiles_width(ts->size, level, index);
	if (w == 0)
		return -ENOENT;
	struct tiles_id id = {.index = index, .width = (uint16_t)w, .level = (uint8_t)level};
	typeof(ts->cache[0]) *c = &ts->cache[level];
	if (!c->valid || c->id.index != index || c->id.width != w) {
		c->valid = false;
		int rc = ts->read(ts->ctx, &id, (uint8_t *)c->hash);
		if (rc == -ENOENT && w < TILES_WIDTH) {
			/* The tile has since filled up and its partial form is gone: the full
			 * tile's first w hashes are the same, as clients assume. */
			struct tiles_id full = id;
			full.width = TILES_WIDTH;
			rc = ts->read(ts->ctx, &full, (uint8_t *)c->hash);
		}
		if (rc != 0)
			return rc;
		c->id = id;
		c->valid = true;
	}
	*out = c->hash;
	return 0;
}

static int xc_node(struct tiles_source *ts, unsigned tl, unsigned s, uint64_t first,
                   merkle_hash_t out);

static int
tiles_node(void *ctx, unsigned level, uint64_t index, merkle_hash_t out)
{
	struct tiles_source *ts = ctx;
	unsigned tl = level / TILES_HEIGHT, s = level % TILES_HEIGHT;
	if (level >= MERKLE_MAX_LEVELS || index >= (ts->size >> level))
		return -ENOENT;      /* not a complete subtree of this tree */
	uint64_t first = index << s; /* first hash of level 8*tl under this node */
	if (ts->xc)
		return xc_node(ts, tl, s, first, out);
	const merkle_hash_t *tile;
	int rc = tile_at(ts, tl, first / TILES_WIDTH, &tile);
	if (rc != 0)
		return rc;
	/* Reduce 2^s hashes to one, level by level, in a scratch copy. */
	merkle_hash_t buf[TILES_WIDTH / 2];
	size_t n = (size_t)1 << s;
	if (s == 0) {
		memcpy(out, tile[first % TILES_WIDTH], MERKLE_HASH_LEN);
		return 0;
	}
	sha256x_pairs((uint8_t(*)[SHA256X_LEN])buf,
	              (const uint8_t(*)[SHA256X_LEN])(tile + first % TILES_WIDTH), n / 2);
	for (n /= 2; n > 1; n /= 2)
		sha256x_pairs((uint8_t(*)[SHA256X_LEN])buf, (const uint8_t(*)[SHA256X_LEN])buf,
		              n / 2);
	memcpy(out, buf[0], MERKLE_HASH_LEN);
	return 0;
}

struct merkle_source
tiles_source_view(struct tiles_source *ts)
{
	return (struct merkle_source){.node = tiles_node, .ctx = ts};
}

/* ---- the expanded-tile cache ---- */

#define XC_NONE UINT32_MAX

struct xc_slot {
	uint64_t index;
	uint16_t width; /* 0: free */
	uint8_t level;
	bool ref;      /* the clock's second chance */
	bool lazy;     /* sub-levels 1..3 not computed (made from stored mid nodes) */
	uint32_t next; /* bucket chain */
};

struct tiles_cache {
	unsigned slots, used;
	unsigned low;     /* slots [0, low) take level-0 tiles, [low, slots) the others */
	unsigned hand[2]; /* a clock per region */
	uint32_t mask;    /* buckets - 1 */
	uint32_t *bucket;
	struct xc_slot *slot;
	merkle_hash_t (*node)[TILES_NODES];
	uint64_t hits, misses;
};

/* Where sub-level s (0..7) of a tile starts in its TILES_NODES hashes. */
static unsigned
xc_off(unsigned s)
{
	return 2 * TILES_WIDTH - (2 * TILES_WIDTH >> s);
}

static uint32_t
xc_hash(const struct tiles_cache *c, unsigned level, uint64_t index, unsigned width)
{
	uint64_t h = (index * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)level << 56 | width);
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	return (uint32_t)(h >> 32) & c->mask;
}

int
tiles_cache_new(struct tiles_cache **out, unsigned slots)
{
	*out = NULL;
	if (slots < 2 || slots > 65536)
		return -EINVAL;
	struct tiles_cache *c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	unsigned buckets = 1;
	while (buckets < 2 * slots)
		buckets *= 2;
	c->slots = slots;
	c->low = slots / 4 ? slots / 4 : 1;
	c->mask = buckets - 1;
	c->bucket = malloc(buckets * sizeof *c->bucket);
	c->slot = calloc(slots, sizeof *c->slot);
	c->node = malloc(slots * sizeof *c->node); /* touched as slots fill */
	if (!c->bucket || !c->slot || !c->node) {
		tiles_cache_free(c);
		return -ENOMEM;
	}
	tiles_cache_clear(c);
	*out = c;
	return 0;
}

void
tiles_cache_free(struct tiles_cache *c)
{
	if (!c)
		return;
	free(c->bucket);
	free(c->slot);
	free(c->node);
	free(c);
}

void
tiles_cache_clear(struct tiles_cache *c)
{
	for (uint32_t i = 0; i <= c->mask; i++)
		c->bucket[i] = XC_NONE;
	for (unsigned i = 0; i < c->slots; i++)
		c->slot[i] = (struct xc_slot){.next = XC_NONE};
	c->used = 0;
	c->hand[0] = 0;
	c->hand[1] = c->low;
}

void
tiles_cache_stats(const struct tiles_cache *c, struct tiles_cache_stats *out)
{
	*out = (struct tiles_cache_stats){c->hits, c->misses, c->slots, c->used};
}

void
tiles_source_use_cache(struct tiles_source *ts, struct tiles_cache *c, tiles_mid_fn mid,
                       void *mid_ctx)
{
	ts->xc = c;
	ts->mid = mid;
	ts->mid_ctx = mid_ctx;
}

/* Unlinks slot i from its bucket chain and frees it. */
static void
xc_drop(struct tiles_cache *c, uint32_t i)
{
	struct xc_slot *e = &c->slot[i];
	uint32_t *p = &c->bucket[xc_hash(c, e->level, e->index, e->width)];
	while (*p != i)
		p = &c->slot[*p].next;
	*p = e->next;
	*e = (struct xc_slot){.next = XC_NONE};
	c->used--;
}

/* A free slot for a tile of `level`, from that level's region: its clock hand passes
 * referenced slots once (clearing their mark) and takes the first unreferenced one. Level-0
 * tiles have a quarter of the slots to themselves: there are 256 times as many of them as of
 * level-1 tiles and a stream of proofs for cold leaves brings a new one each time, which must
 * not push out the few upper tiles that every proof reads. */
static uint32_t
xc_victim(struct tiles_cache *c, unsigned level)
{
	unsigned r = level > 0, lo = r ? c->low : 0, hi = r ? c->slots : c->low;
	for (;;) {
		uint32_t i = c->hand[r];
		c->hand[r] = i + 1 < hi ? i + 1 : lo;
		struct xc_slot *e = &c->slot[i];
		if (e->width == 0)
			return i;
		if (!e->ref) {
			xc_drop(c, i);
			return i;
		}
		e->ref = false;
	}
}

/* Computes sub-levels from..7 of a tile whose sub-level from - 1 is in place (w hashes wide at
 * sub-level 0). */
static void
xc_expand(merkle_hash_t *n, unsigned w, unsigned from)
{
	for (unsigned s = from; s < TILES_HEIGHT && (w >> s) > 0; s++)
		sha256x_pairs((uint8_t(*)[SHA256X_LEN])(n + xc_off(s)),
		              (const uint8_t(*)[SHA256X_LEN])(n + xc_off(s - 1)), w >> s);
}

void
tiles_mid(const merkle_hash_t tile[TILES_WIDTH], merkle_hash_t out[TILES_MID])
{
	merkle_hash_t buf[TILES_WIDTH / 2];
	sha256x_pairs((uint8_t(*)[SHA256X_LEN])buf, (const uint8_t(*)[SHA256X_LEN])tile,
	              TILES_WIDTH / 2);
	for (size_t n = TILES_WIDTH / 4; n > TILES_MID; n /= 2)
		sha256x_pairs((uint8_t(*)[SHA256X_LEN])buf, (const uint8_t(*)[SHA256X_LEN])buf, n);
	sha256x_pairs((uint8_t(*)[SHA256X_LEN])out, (const uint8_t(*)[SHA256X_LEN])buf, TILES_MID);
}

/* Fills slot i's nodes for tile id (w wide) from the source: the whole expansion, or with
 * stored mid nodes sub-levels 0 and 4..7 only (lazy). */
static int
xc_fill(struct tiles_source *ts, uint32_t i, const struct tiles_id *id, bool *lazy)
{
	merkle_hash_t *n = ts->xc->node[i];
	unsigned w = id->width;
	int rc = ts->read(ts->ctx, id, (uint8_t *)n);
	if (rc == -ENOENT && w < TILES_WIDTH) {
		struct tiles_id full = *id; /* grown since: the full tile has the same prefix */
		full.width = TILES_WIDTH;
		rc = ts->read(ts->ctx, &full, (uint8_t *)n);
	}
	if (rc != 0)
		return rc;
	*lazy = false;
	if (w == TILES_WIDTH && ts->mid) {
		rc = ts->mid(ts->mid_ctx, id->level, id->index, n + xc_off(4));
		if (rc == 0) {
			xc_expand(n, w, 5);
			*lazy = true;
			return 0;
		}
		if (rc != -ENOENT)
			return rc;
	}
	xc_expand(n, w, 1);
	return 0;
}

/* The slot of expanded tile (level, index) of ts's tree, from the cache or read and filled. */
static int
xc_tile(struct tiles_source *ts, unsigned level, uint64_t index, uint32_t *out)
{
	struct tiles_cache *c = ts->xc;
	unsigned w = tiles_width(ts->size, level, index);
	if (w == 0)
		return -ENOENT;
	uint32_t b = xc_hash(c, level, index, w);
	for (uint32_t i = c->bucket[b]; i != XC_NONE; i = c->slot[i].next) {
		struct xc_slot *e = &c->slot[i];
		if (e->index == index && e->level == level && e->width == w) {
			e->ref = true;
			c->hits++;
			*out = i;
			return 0;
		}
	}
	c->misses++;
	uint32_t i = xc_victim(c, level);
	struct tiles_id id = {.index = index, .width = (uint16_t)w, .level = (uint8_t)level};
	bool lazy;
	int rc = xc_fill(ts, i, &id, &lazy);
	if (rc != 0)
		return rc; /* the slot stays free */
	c->slot[i] = (struct xc_slot){.index = index,
	                              .width = (uint16_t)w,
	                              .level = (uint8_t)level,
	                              .ref = true,
	                              .lazy = lazy,
	                              .next = c->bucket[b]};
	c->bucket[b] = i;
	c->used++;
	*out = i;
	return 0;
}

static int
xc_node(struct tiles_source *ts, unsigned tl, unsigned s, uint64_t first, merkle_hash_t out)
{
	uint32_t i;
	int rc = xc_tile(ts, tl, first / TILES_WIDTH, &i);
	if (rc != 0)
		return rc;
	const merkle_hash_t *n = ts->xc->node[i];
	unsigned p = first % TILES_WIDTH;
	if (!ts->xc->slot[i].lazy || s == 0 || s >= 4) {
		memcpy(out, n[xc_off(s) + (p >> s)], MERKLE_HASH_LEN);
		return 0;
	}
	/* below the mid nodes of a lazy tile: reduce 2^s (at most 8) hashes */
	merkle_hash_t buf[4];
	size_t k = (size_t)1 << s;
	sha256x_pairs((uint8_t(*)[SHA256X_LEN])buf, (const uint8_t(*)[SHA256X_LEN])(n + p), k / 2);
	for (k /= 2; k > 1; k /= 2)
		sha256x_pairs((uint8_t(*)[SHA256X_LEN])buf, (const uint8_t(*)[SHA256X_LEN])buf,
		              k / 2);
	memcpy(out, buf[0], MERKLE_HASH_LEN);
	return 0;
}
