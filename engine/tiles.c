/* engine/tiles.c: tile paths, tile sets and the tile-backed node source. */
#include "engine/tiles.h"

#include <errno.h>
#include <stdio.h>
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

static int
tiles_node(void *ctx, unsigned level, uint64_t index, merkle_hash_t out)
{
	struct tiles_source *ts = ctx;
	unsigned tl = level / TILES_HEIGHT, s = level % TILES_HEIGHT;
	if (level >= MERKLE_MAX_LEVELS || index >= (ts->size >> level))
		return -ENOENT;      /* not a complete subtree of this tree */
	uint64_t first = index << s; /* first hash of level 8*tl under this node */
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
