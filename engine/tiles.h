/* engine/tiles.h: C2SP tlog-tiles arithmetic as static-ct-api uses it.
 *
 * A hash tile at level L, index N holds up to 256 hashes of Merkle level 8L, indices
 * [256N, 256N + 256); a data tile (tile/data/N) holds the entries of level 0 over the same
 * range. A tile is full (width 256) or partial (width 1..255, path suffix ".p/<W>"). N is
 * written in 3-digit groups, all but the last prefixed with 'x': 1234067 -> x001/x234/067.
 *
 * Contract: pure functions over caller-owned buffers; no allocation except tiles_cache_new().
 * The tile node source (struct tiles_source) is owned by one thread at a time and caches one
 * tile per level, or takes its nodes from a struct tiles_cache of expanded tiles.
 * Errors are negative errno values.
 */
#ifndef BIRCH_ENGINE_TILES_H
#define BIRCH_ENGINE_TILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/merkle.h"

#define TILES_HEIGHT              8
#define TILES_WIDTH               256
#define TILES_MAX_LEVEL           7  /* 8 tile levels cover the 64 Merkle levels */
#define TILES_STATIC_CT_MAX_LEVEL 5  /* static-ct-api serves tile levels 0..5 only */
#define TILES_PATH_MAX            64 /* "tile/data/x018/x446/x744/x073/x709/x551/615.p/255" fits */

struct tiles_id {
	uint64_t index; /* N */
	uint16_t width; /* 1..256; 256 is a full tile */
	uint8_t level;  /* L; 0 for data tiles */
	bool data;      /* tile/data/N rather than tile/L/N */
};

/* Writes the path ("tile/L/N[.p/W]" or "tile/data/N[.p/W]") and a NUL. Returns its length,
 * -EINVAL for a bad id (width 0 or above 256, level above 63, data tile with level != 0),
 * or -ENOSPC when cap is too small. */
__attribute__((warn_unused_result)) int tiles_path(char *buf, size_t cap, const struct tiles_id *t);

/* Parses a path as tiles_path() writes it, strictly, so each tile has exactly one path: the
 * level in decimal without leading zeros (0..max_level), every N group exactly 3 digits and
 * no leading "x000/" group, the width 1..255 without leading zeros, N within 64 bits.
 * Returns 0 or -EINVAL. */
__attribute__((warn_unused_result)) int tiles_path_parse(struct tiles_id *t, const char *path,
                                                         size_t len, unsigned max_level);

/* The N part alone. Returns its length or -ENOSPC. */
__attribute__((warn_unused_result)) int tiles_index_format(char *buf, size_t cap, uint64_t n);

/* Width of tile (level, index) in a tree of `size` leaves: 256, 1..255, or 0 when the tile
 * does not exist at that size. */
unsigned tiles_width(uint64_t size, unsigned level, uint64_t index);

/* The tiles that a growth from `old` to `new` leaves creates or changes (each at its width
 * at `new`): data tiles first when with_data, then hash tiles by level, lowest index first.
 * tiles_grow_begin(it, 0, size, ...) lists a whole tree's tile set. */
struct tiles_iter {
	uint64_t old, new;
	uint64_t next; /* next tile index at the current level */
	uint8_t level;
	bool data; /* currently listing data tiles */
	bool done;
};

void tiles_grow_begin(struct tiles_iter *it, uint64_t old, uint64_t new, bool with_data);
bool tiles_grow_next(struct tiles_iter *it, struct tiles_id *out);

/* ---- a node source over hash tiles, the way a client computes roots and proofs ---- */

/* Reads hash tile t (never a data tile) into buf, which has room for t->width * 32 bytes.
 * Returns 0 or a negative errno (-ENOENT when the tile is missing). */
typedef int (*tiles_read_fn)(void *ctx, const struct tiles_id *t, uint8_t *buf);

struct tiles_cache;

#define TILES_MID 16 /* nodes of sub-level 4 in a full tile */

/* Reads the stored mid nodes of full hash tile (level, index): 0, -ENOENT when none are
 * stored (the tile is then expanded from its hashes), or another negative errno. */
typedef int (*tiles_mid_fn)(void *ctx, unsigned level, uint64_t index,
                            merkle_hash_t out[TILES_MID]);

struct tiles_source {
	uint64_t size;
	tiles_read_fn read;
	void *ctx;
	struct tiles_cache *xc; /* NULL: the one-tile-per-level cache below */
	tiles_mid_fn mid;
	void *mid_ctx;
	struct {
		struct tiles_id id;
		bool valid;
		merkle_hash_t hash[TILES_WIDTH];
	} cache[TILES_MAX_LEVEL + 1];
};

/* Serves the complete-subtree nodes of the tree of `size` leaves from its tiles: a node at
 * Merkle level 8L + s (s < 8) is recomputed from 2^s hashes of one level-L tile. A partial
 * tile that reads as -ENOENT is read again as the full tile (its prefix is the same). */
void tiles_source_init(struct tiles_source *ts, uint64_t size, tiles_read_fn read, void *ctx);
struct merkle_source tiles_source_view(struct tiles_source *ts);

/* ---- a cache of expanded hash tiles, for a server answering many proofs ----
 *
 * An entry holds every node inside one hash tile: its hashes (Merkle level 8L) and the
 * complete subtrees over them up to level 8L + 7, TILES_NODES hashes (16 KiB) for a full tile,
 * so a node costs a copy instead of up to 127 node hashes. Tiles are keyed by (level, index,
 * width): a full tile never changes and a partial one grows into another key. One cache
 * serves the sources of one tree only (the same read function and context), one thread at a
 * time, for as long as that tree's tiles are not rewritten (a log's committed tiles never are).
 *
 * Eviction is a clock in each of two regions: a quarter of the slots for level-0 tiles, the
 * rest for the tiles above, so a stream of proofs for cold leaves (a new level-0 tile each)
 * does not push out the few upper tiles that every proof reads. Memory: slots x 16 KiB,
 * allocated at creation and touched as slots fill. */
#define TILES_NODES 510 /* 256 + 128 + ... + 2: sub-levels 0..7 of a full tile */

/* The TILES_MID nodes of sub-level 4 (Merkle level 8L + 4) of a full tile of level L, from
 * its hashes: 240 node hashes. A log stores them beside the tile (storage/store.h,
 * store_mid) so that a proof need not recompute them. */
void tiles_mid(const merkle_hash_t tile[TILES_WIDTH], merkle_hash_t out[TILES_MID]);

struct tiles_cache_stats {
	uint64_t hits, misses;
	unsigned slots, used;
};

/* Returns 0, -EINVAL for slots below 2 or above 65536, or -ENOMEM. */
__attribute__((warn_unused_result)) int tiles_cache_new(struct tiles_cache **out, unsigned slots);
void tiles_cache_free(struct tiles_cache *c);
void tiles_cache_stats(const struct tiles_cache *c, struct tiles_cache_stats *out);
/* Drops every entry (for a tree whose tiles were rewritten, as after a repair). */
void tiles_cache_clear(struct tiles_cache *c);
/* Makes ts (after tiles_source_init) take its nodes from c, reading and expanding a tile on a
 * miss. With `mid` (may be NULL), a full tile whose mid nodes are stored is not expanded: its
 * nodes below sub-level 4 are reduced from at most 8 hashes when asked for, and those above
 * from the mid nodes, so a cold tile costs about 14 node hashes instead of 255. */
void tiles_source_use_cache(struct tiles_source *ts, struct tiles_cache *c, tiles_mid_fn mid,
                            void *mid_ctx);

#endif
