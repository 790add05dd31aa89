/* engine/tlog.h: a tiled Merkle log on storage/: appends batches as tlog tiles through one
 * durable commit, recovers and checks itself on open, serves entries and proofs from the
 * tiles, and checks a whole log (fsck).
 *
 * Contract
 * - Entries are opaque byte strings to this module; a codec (struct tlog_codec) says how data
 *   tile bytes split into entries and what each entry's leaf hash and dedup row are. The CT
 *   encodings bring theirs; tlog_codec_plain (a 24-bit length prefix) serves tests and tools.
 * - One writer thread calls tlog_append() and tlog_head_put(); readers on other threads use
 *   their own struct tlog_reader. A tlog_append() that returns 0 is durable (tiles fdatasync'd,
 *   then one synced LMDB commit): only then may anything that covers the batch be signed.
 * - Before a batch is committed, its new root is recomputed from the tiles just built (with
 *   the older tiles read back from disk) and each entry's leaf hash is recomputed from the data
 *   tile bytes; a mismatch refuses the batch (-EBADMSG), so a flipped bit never gets signed.
 *   The recomputation runs while the batch's files sync, so it costs no latency.
 * - Files: a full tile lives at its tlog-tiles path (tile/<L>/<N>, tile/data/<N>). The right
 *   edge, the one partial tile per level, grows in place in edge/<L>/<N> and edge/data/<N>
 *   (only the new bytes are written; no file is created or deleted per batch); once full, the
 *   tile gets its tlog path as a second name and the edge name goes. tlog_head_put() writes the
 *   partial tiles of the signed size at their tlog paths (N.p/W) before recording the head,
 *   so the tile directory serves every signed size as it is; a .p directory goes once its
 *   tile is full.
 * - Static serving (C2SP static-ct-api): the directory's tile/, issuer/ and checkpoint can be
 *   served as they are by any static web server (contrib/nginx-birch.conf).
 *   issuer/<64 lowercase hex of SHA-256(DER)> holds each issuer's DER, written by the commit
 *   of the batch that names it (struct tlog_batch.issuers), so it is durable when the batch
 *   is. checkpoint holds exactly the latest signed head's checkpoint bytes, replaced
 *   atomically (store_file_replace) by tlog_head_put() only after the head is recorded in
 *   state.mdb, so it never covers more than what is durable and recorded. state.mdb is the
 *   record; the two are copies: writing checkpoint is best effort (a failure does not fail
 *   the head; the next head writes it again), and tlog_open() (not read-only) repairs both
 *   from state.mdb: checkpoint rewritten when missing or different (logs made before it
 *   existed, a crash between the head's commit and the rename), every issuer file written
 *   when missing or different, and an issuer file state.mdb does not know (left by a batch
 *   that never committed) removed.
 * - tlog_open() recovers after a crash at any moment: the committed state is what counts,
 *   bytes past it are ignored and later overwritten, and index rows that lag are rebuilt from
 *   the data tiles. A log whose tiles contradict its committed state or its last signed head
 *   refuses to open (-EBADMSG) with a message naming the tile or size at fault. Open reads
 *   O(log size) tiles: the right edge, not the history (tlog_fsck() reads everything).
 * - Memory is independent of the log size: the right edge (one partial tile per level and
 *   the partial data tile) plus buffers grown to the largest batch. No allocation per entry.
 * - Errors: 0 or a negative errno; messages go to a caller buffer (msg, msg_len) or *reason.
 */
#ifndef BIRCH_ENGINE_TLOG_H
#define BIRCH_ENGINE_TLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/merkle.h"
#include "engine/tiles.h"
#include "storage/store.h"

struct tlog_codec {
	const char *name; /* recorded in the log at creation: "plain", ... */
	/* Length of the entry at the start of p[0, n): > 0, or -EBADMSG (malformed, truncated). */
	long (*entry_len)(const uint8_t *p, size_t n);
	/* out[i] = the Merkle leaf hash of entry[i] (len[i] bytes), for i < n: a whole batch at a
	 * time, so that the batched SHA-256 kernels (engine/sha256x.h) can run full lanes. */
	void (*leaf_hashes)(const uint8_t *const *entry, const size_t *len, size_t n,
	                    merkle_hash_t *out);
	/* The entry's dedup row, for the entry at `index` (NULL: the format keeps no dedup). */
	int (*dedup_row)(const uint8_t *entry, size_t len, uint64_t index, struct store_row *out);
};

/* opaque<1..2^24-1>: a 3-byte big-endian length, then the bytes. Leaf hash: the RFC 6962 leaf
 * hash of the whole entry; dedup key SHA-256 of the whole entry, value the 8-byte index. */
extern const struct tlog_codec tlog_codec_plain;
/* Writes the plain encoding of data into out (len + 3 bytes). Returns the length or -E2BIG. */
long tlog_plain_encode(uint8_t *out, size_t cap, const uint8_t *data, size_t len);

struct tlog;

struct tlog_opts {
	struct store_opts store; /* create, read_only, map sizes, queue */
	size_t max_batch;        /* entries per tlog_append(); 0: 4096 */
	bool no_verify;          /* skip the before-commit recomputation (benchmarks compare) */
};

__attribute__((warn_unused_result)) int tlog_open(struct tlog **out, const char *dir,
                                                  const struct tlog_codec *codec,
                                                  const struct tlog_opts *o, char *msg,
                                                  size_t msg_len);
void tlog_close(struct tlog *t);

struct tlog_batch {
	const uint8_t *const *entry; /* encoded entries, as the data tiles hold them */
	const size_t *len;
	const merkle_hash_t *leaf; /* their leaf hashes, or NULL to compute them here */
	size_t n;
	/* Their dedup rows, as admission computed them (one per entry that has one), or NULL to
	 * ask the codec here. */
	const struct store_row *dedup;
	size_t ndedup;
	uint64_t timestamp;
	const struct store_issuer *issuers; /* new issuers the entries refer to */
	size_t nissuers;
};
/* Appends the batch at indices [size, size + n) and commits it durably, with a file
 * issuer/<hex> for each issuer. -EINVAL when an entry is malformed or an issuer's
 * fingerprint is not the SHA-256 of its DER (1..STORE_ISSUER_MAX bytes). Writer thread. */
__attribute__((warn_unused_result)) int tlog_append(struct tlog *t, const struct tlog_batch *b,
                                                    const char **reason);

/* The committed tree: size and root (H("") for an empty log). Writer thread. */
uint64_t tlog_size(const struct tlog *t);
void tlog_root(const struct tlog *t, merkle_hash_t out);
struct store *tlog_store(struct tlog *t);

/* Records a signed head for `size` (<= the committed size) after checking that `root` is the
 * tree's root at that size (recomputed from the tiles). -EBADMSG when it is not, -EEXIST when
 * another root was signed for that size. Writer thread. Once the head is recorded, its
 * checkpoint bytes replace the file `checkpoint` (skipped when h->checkpoint_len is 0); that
 * write is best effort: 0 means the head was recorded, whatever became of the file (see
 * Static serving above). */
__attribute__((warn_unused_result)) int tlog_head_put(struct tlog *t, const struct store_head *h,
                                                      const char **reason);

/* The result of the last write of the file `checkpoint` (by tlog_head_put(), or the repair
 * in tlog_open()): 0, or a negative errno with *reason (may be NULL). For logs and metrics:
 * the head was recorded either way. Writer thread. */
int tlog_checkpoint_status(const struct tlog *t, const char **reason);

/* ---- reads -------------------------------------------------------------------------------- */
/* A reader keeps up to TLOG_READER_TILES expanded hash tiles (engine/tiles.h, tiles_cache;
 * 16 KiB each, touched as they fill) across calls, so proofs for a hot tree cost copies. */
#define TLOG_READER_TILES 256
struct tlog_reader;
__attribute__((warn_unused_result)) int tlog_reader_open(struct tlog *t, struct tlog_reader **out);
void tlog_reader_close(struct tlog_reader *r);
struct store_reader *tlog_reader_store(struct tlog_reader *r);
/* A node source over the tiles of the tree of `size` (<= the committed size). Valid until the
 * next call with this reader. */
struct merkle_source tlog_reader_source(struct tlog_reader *r, uint64_t size);
/* Calls fn for each entry with index in [start, end) (end <= the committed size); stops at
 * fn's first non-zero return and gives it back. The entry bytes are borrowed for the call. */
__attribute__((warn_unused_result)) int
tlog_entries(struct tlog_reader *r, uint64_t start, uint64_t end,
             int (*fn)(void *ctx, uint64_t index, const uint8_t *entry, size_t len), void *ctx);

/* ---- checking a whole log -------------------------------------------------------------------- */
/* Everything recomputed from the tiles: every data tile splits into its entries, every hash
 * tile matches, the committed root, every signed size and root, the latest head, the index
 * rows below the watermark. Calls problem() once per problem found. Returns the number of
 * problems (0: clean), or a negative errno when the log cannot be read at all. Opens the log
 * read-only, so it can run beside a live writer (checking what was committed at its start). */
struct tlog_fsck_stats {
	uint64_t size, entries, data_tiles, hash_tiles, signed_sizes, index_rows_checked;
};
__attribute__((warn_unused_result)) long tlog_fsck(const char *dir, const struct tlog_codec *codec,
                                                   struct tlog_fsck_stats *stats,
                                                   void (*problem)(void *ctx, const char *msg),
                                                   void *ctx);

/* The codec named in a log directory ("plain"), or NULL. */
const struct tlog_codec *tlog_codec_find(const char *name);

#endif
