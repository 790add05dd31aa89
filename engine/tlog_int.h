/* engine/tlog_int.h: internals shared by tlog.c and tlog_fsck.c; not a public header. */
#ifndef BIRCH_ENGINE_TLOG_INT_H
#define BIRCH_ENGINE_TLOG_INT_H

#include "engine/tlog.h"

#define TLOG_MAX_TILE_BYTES (256u << 20) /* a data tile larger than this is refused */

/* One tile of the batch being committed: its bytes live in the arena. */
struct tlog_built {
	struct tiles_id id;
	size_t off, len;
	size_t old_len; /* bytes of it already committed (the old right edge), else 0 */
	char path[TILES_PATH_MAX];
	char epath[TILES_PATH_MAX];    /* its edge file */
	char pdir[TILES_PATH_MAX + 4]; /* "<path>.p", removed once this full tile is durable */
};

#define TLOG_LEVELS (TILES_MAX_LEVEL + 2) /* hash levels 0..7, then data */

#define TLOG_ISSUER_PATH (7 + 2 * STORE_KEY_LEN + 1) /* "issuer/<64 hex digits>" */

/* One issuer file of the batch being committed: its path and its issuer in the batch. */
struct tlog_issuer_file {
	char path[TLOG_ISSUER_PATH];
	size_t i;
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
	struct store_mid *mids;   /* the batch's full hash tiles' mid nodes (built_cap) */
	struct store_file *files; /* the built tiles', then the issuers' (files_cap) */
	size_t files_cap;
	struct tlog_issuer_file *ifiles; /* the batch's issuers, each fingerprint once */
	size_t nifiles, ifiles_cap;
	int checkpoint_rc; /* the last write of the file `checkpoint` */
	const char *checkpoint_why;
	struct store_link *links;
	const char **rmdirs;
	const struct merkle_frontier *pending; /* the tree a commit in flight makes */
	size_t nbatch;                         /* and its batch's entry count */
	/* Per level (TLOG_LEVELS, data last): 1 + the tile whose partial tiles were written at
	 * their tlog paths for a signed head (its .p directory goes once the tile is full). */
	uint64_t published[TLOG_LEVELS];
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
	struct tiles_cache *xc; /* expanded hash tiles, kept across calls */
	uint8_t *buf;
	size_t cap;
};

/* Reads a tile into *buf (grown as needed). A partial tile comes from its edge file or, once
 * that is gone, from the full tile: either may hold more than the partial (take the prefix).
 * Returns 0 or -errno (-ENOENT: missing). */
int tlog_tile_read(struct store *st, const struct tiles_id *id, uint8_t **buf, size_t *cap,
                   size_t *len);
/* "edge/data/<N>" or "edge/<L>/<N>": where tile id's right edge grows in place. */
int tlog_edge_path(char *out, size_t cap, const struct tiles_id *id);
/* Splits exactly `want` entries off p[0, n) with nothing left over; 0 or -EBADMSG. */
int tlog_split(const struct tlog_codec *c, const uint8_t *p, size_t n, size_t want,
               const uint8_t **entry, size_t *len);
/* Splits the first `want` entries off p[0, n); returns the bytes they take or -EBADMSG. */
long tlog_split_prefix(const struct tlog_codec *c, const uint8_t *p, size_t n, size_t want,
                       const uint8_t **entry, size_t *len);
void tlog_msg(char *msg, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void tlog_hex(char out[65], const uint8_t h[32]);
/* The tile's file, for messages: its path, or for a partial tile its edge file ("?" for an
 * id without one). */
void tlog_tile_name(char path[TILES_PATH_MAX], const struct tiles_id *id);

#endif
