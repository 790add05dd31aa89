/* engine/tlog_int.h: internals shared by tlog.c and tlog_fsck.c; not a public header. */
#ifndef BIRCH_ENGINE_TLOG_INT_H
#define BIRCH_ENGINE_TLOG_INT_H

#include "engine/tlog.h"

#define TLOG_MAX_TILE_BYTES (256u << 20) /* a data tile larger than this is refused */

/* One tile of the batch being committed: its bytes live in the arena. */
struct tlog_built {
	struct tiles_id id;
	size_t off, len;
	char path[TILES_PATH_MAX];
	char pdir[TILES_PATH_MAX + 4]; /* "<path>.p", removed once this full tile is durable */
};

struct tlog {
	struct store *st;
	const struct tlog_codec *codec;
	struct tlog_opts opts;
	size_t max_batch;
	struct merkle_frontier f; /* the committed tree */
	uint64_t timestamp;
	/* The right edge of the committed tree: level L's partial hash tile holds
	 * (size >> 8L) % 256 hashes; dedge is the partial data tile's bytes. */
	merkle_hash_t edge[TILES_MAX_LEVEL + 1][TILES_WIDTH];
	uint8_t *dedge;
	size_t dedge_len, dedge_cap;
	/* Batch scratch, made at open and grown to the largest batch. */
	struct merkle_append_scratch scratch;
	merkle_hash_t *leaves;
	const merkle_hash_t *cur_leaves;
	struct store_row *drows;
	struct store_hash_row *hrows;
	struct tlog_built *built;
	struct store_file *files;
	const char **rmdirs;
	size_t nbuilt, built_cap;
	uint8_t *arena;
	size_t arena_cap;
	uint8_t *rbuf; /* tile reads during open */
	size_t rbuf_cap;
};

struct tlog_reader {
	struct tlog *t;
	struct store_reader *sr;
	struct tiles_source ts;
	uint8_t *buf;
	size_t cap;
};

/* Reads a whole tile into *buf (grown as needed). Returns 0 or -errno (-ENOENT: missing). */
int tlog_tile_read(struct store *st, const struct tiles_id *id, uint8_t **buf, size_t *cap,
                   size_t *len);
/* Splits exactly `want` entries off p[0, n) with nothing left over; 0 or -EBADMSG. */
int tlog_split(const struct tlog_codec *c, const uint8_t *p, size_t n, size_t want,
               const uint8_t **entry, size_t *len);
void tlog_msg(char *msg, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void tlog_hex(char out[65], const uint8_t h[32]);
/* The tile's path, for messages ("?" for an id without one). */
void tlog_tile_name(char path[TILES_PATH_MAX], const struct tiles_id *id);

#endif
