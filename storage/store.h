/* storage/store.h: a log directory on disk: files written through io_uring, state in LMDB,
 * lagging indexes in sorted run files, and the one durable commit. Bytes, keys and
 * durability; no CT, no Merkle.
 *
 * A log directory holds
 *   tile/...      the files a commit writes (the engine puts tlog tiles there), relative paths;
 *   issuer/...    more files a commit writes (the engine puts issuer certificates there);
 *   checkpoint    a file replaced whole (store_file_replace): the engine's copy of the latest
 *                 signed head's checkpoint, so that tile/, issuer/ and checkpoint can be
 *                 served by a static web server as they are;
 *   edge/...      files that grow in place across commits (the engine's right edge);
 *   state.mdb     LMDB, synced by every commit: the committed state (size, root, timestamp),
 *                 the latest signed head (size, root, timestamp, STH and checkpoint bytes),
 *                 every size and root ever signed, and issuers (fingerprint to DER);
 *   index/        the indexes that may lag: dedup (key to value) and leaf hash to index, as
 *                 sorted run files merged in tiers (storage/runs.h), with a manifest that
 *                 records the watermark (the size they cover). A background thread writes a
 *                 run per table every half queue or second, after the state commits that
 *                 cover its rows. Recovery rebuilds the rows between the watermark and the
 *                 committed size from the tiles.
 * Why runs, not B-tree rows: random 32-byte keys dirty about one page per row in a B-tree,
 * several times the bytes of the entry itself and more as the table grows; sorted runs are
 * written sequentially, each row once per merge tier (bench/README.md).
 *
 * Commit order (store_commit): every file written, links made, files and the directories
 * that gained entries fdatasync'd in one round (the batch's check runs meanwhile); then one
 * synced LMDB transaction with the new state; then the index rows are queued; then return.
 * Once it returns 0, a crash or power cut cannot lose the batch.
 *
 * Threads
 * - One writer thread per store calls store_commit(), store_head_put() and store_index_push();
 *   it owns the io_uring ring (made at open, one per store, so one per writing thread).
 * - Any thread may read through its own struct store_reader (LMDB read transactions are
 *   reset and renewed, never held across calls) and store_file_*().
 * - A failed write, fdatasync or commit marks the store failed: every later write returns
 *   -EIO with the first reason ("reopen the log"); the page cache can no longer be trusted.
 *   Close it and open again; recovery starts from what is durable.
 *
 * Errors: 0 or a negative errno; where the cause matters, *reason gets a static string
 * (reason may be NULL). -ENOSPC: disk or LMDB map full. -EEXIST: a different root for a size
 * already signed (a fork). -EBADMSG: the files contradict each other. No allocation per entry:
 * a commit allocates nothing once its buffers have grown to the largest batch seen.
 */
#ifndef BIRCH_STORAGE_STORE_H
#define BIRCH_STORAGE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define STORE_KEY_LEN    32
#define STORE_HASH_LEN   32
#define STORE_VALUE_MAX  96   /* dedup values: the caller's bytes (an index, a timestamp, ...) */
#define STORE_HEAD_MAX   8192 /* STH plus checkpoint bytes of one signed head */
#define STORE_PATH_MAX   256
#define STORE_ISSUER_MAX (64 * 1024)

struct store;

struct store_opts {
	uint64_t state_map_bytes; /* LMDB map for state.mdb; 0: 64 GiB (address space only) */
	size_t index_queue_rows;  /* rows queued for the index thread before commits wait;
	                             0: 32768 */
	bool read_only;           /* no writer, no index thread (info, fsck while serving) */
	bool create;              /* create the directory layout when it is missing */
	const char *format;       /* the entry format label (<= 31 bytes): recorded when the
	                             log is created, refused (-EPROTO) when it differs later;
	                             NULL accepts whatever the log holds */
	bool no_direct;           /* every file through the page cache, never O_DIRECT
	                             (benchmarks compare; see struct store_file) */
};

struct store_state {
	uint64_t size;
	uint8_t root[STORE_HASH_LEN];
	uint64_t timestamp; /* the caller's clock, milliseconds */
};

/* A signed head. The bytes are borrowed by store_head_put() and copied out by store_head_get(). */
struct store_head {
	uint64_t size;
	uint8_t root[STORE_HASH_LEN];
	uint64_t timestamp;
	const uint8_t *sth;
	size_t sth_len;
	const uint8_t *checkpoint;
	size_t checkpoint_len;
};

struct store_file {
	const char *path; /* relative, like "tile/0/x001/234.p/7"; no "..", no leading '/' */
	const uint8_t *data;
	size_t len;
	/* false: the file becomes exactly these bytes (created, or a stale one overwritten and
	 * trimmed). true: the bytes go at `offset` into the file as it is (created when missing),
	 * nothing trimmed: a file that grows in place, bytes before `offset` untouched. */
	bool in_place;
	uint64_t offset;
	/* A whole file (not in_place) whose data starts on a 4096-byte boundary has its aligned
	 * prefix written with O_DIRECT, bypassing the page cache, where the file system allows
	 * it; the rest goes through the page cache. Either way the same bytes become durable. */
};

/* `to` becomes a second name of the file `from` (a stale `to` is replaced) before the sync;
 * `from` is unlinked after the commit. No inode is allocated or freed. */
struct store_link {
	const char *from, *to;
};

struct store_row {
	uint8_t key[STORE_KEY_LEN];
	uint8_t len; /* 1..STORE_VALUE_MAX */
	uint8_t value[STORE_VALUE_MAX];
};

struct store_hash_row {
	uint8_t hash[STORE_HASH_LEN];
	uint64_t index;
};

/* The 16 nodes of Merkle level 8L + 4 under the full hash tile (L, N), each the root of 16 of
 * the tile's hashes: derived from the tile, written in the commit that fills it, so a proof
 * reads them instead of recomputing 240 node hashes (engine/tiles.h, tiles_mid). */
#define STORE_MID_NODES 16
struct store_mid {
	uint64_t index; /* N, below 2^56 */
	uint8_t level;  /* L */
	uint8_t hash[STORE_MID_NODES][STORE_HASH_LEN];
};

struct store_issuer {
	uint8_t fingerprint[STORE_KEY_LEN];
	const uint8_t *der;
	size_t len;
};

/* One batch for store_commit(). Everything is borrowed for the duration of the call. */
struct store_batch {
	const struct store_file *files;
	size_t nfiles;
	const struct store_link *links;
	size_t nlinks;
	const char *const *remove_dirs; /* removed (recursively) after the commit; best effort */
	size_t nremove_dirs;
	/* Runs once while the files sync (CPU work overlapping the device's); a non-zero return
	 * refuses the batch before the state commit, with *why, and the store stays usable (the
	 * bytes written lie past the committed state). NULL: none. */
	int (*check)(void *ctx, const char **why);
	void *check_ctx;
	struct store_state state; /* the new committed state; size never below the current one */
	const struct store_issuer *issuers;
	size_t nissuers;
	const struct store_row *dedup;
	size_t ndedup;
	const struct store_hash_row *hashes;
	size_t nhashes;
	const struct store_mid *mids; /* committed with the state */
	size_t nmids;
};

/* Opens (or with o->create, creates) the log directory `dir`. o may be NULL for defaults.
 * Returns 0 or a negative errno with *reason. */
__attribute__((warn_unused_result)) int store_open(struct store **out, const char *dir,
                                                   const struct store_opts *o, const char **reason);
/* Drains the index queue (its rows committed), stops the index thread and closes. NULL is fine. */
void store_close(struct store *s);

/* The durable commit; see the contract above. Writer thread only. */
__attribute__((warn_unused_result)) int store_commit(struct store *s, const struct store_batch *b,
                                                     const char **reason);

/* Writes files durably (as store_commit does) without changing the state: for copies that
 * readers of other files may want, like the partial tiles of a signed size. Writer thread. */
__attribute__((warn_unused_result)) int
store_files_put(struct store *s, const struct store_file *files, size_t n, const char **reason);

/* Replaces the file at path (relative; missing directories are made) with exactly these bytes,
 * atomically: they go to a temporary file in the same directory (".<name>.tmp"), which is
 * fdatasync'd and renamed over path, and then the directory is fsync'd. A concurrent reader
 * (another process, a web server) sees the old bytes or the new ones, never a mix; once this
 * returns 0 the new bytes survive a crash. For small files that copy something recorded
 * elsewhere (a checkpoint): plain syscalls, not the ring; not for the hot path. On failure
 * path holds its old bytes (or, when only the directory sync failed, possibly the new ones),
 * the temporary file is removed, and the store stays usable: nothing committed depends on
 * the file. Writer thread only. */
__attribute__((warn_unused_result)) int store_file_replace(struct store *s, const char *path,
                                                           const uint8_t *data, size_t len,
                                                           const char **reason);

/* Recovery at open (writer thread): trims a file past the committed state to `len` bytes,
 * durably; removes a file that no committed state needs. -ENOENT when it is missing. */
__attribute__((warn_unused_result)) int store_file_trim(struct store *s, const char *path,
                                                        uint64_t len, const char **reason);
int store_file_remove(struct store *s, const char *path);

/* Records a signed head before anyone sees it: one synced transaction that adds (size, root)
 * to the record of signed sizes and makes it the latest head. -EEXIST when that size was
 * signed with another root (the log must not publish it), -EINVAL when head->size is beyond
 * the committed size or the bytes exceed STORE_HEAD_MAX. Writer thread only. */
__attribute__((warn_unused_result)) int
store_head_put(struct store *s, const struct store_head *head, const char **reason);

/* A counter that store_head_put() bumps after each head it records (0 after open). A reader
 * that keeps a copy of the head takes the counter before store_head_get() and may reuse the
 * copy for as long as the counter has not moved. Any thread; one atomic load. */
uint64_t store_head_seq(struct store *s);

/* Queues index rows covering the tree up to `size` (recovery uses it to rebuild what lags).
 * Waits while the queue is full. Writer thread only. */
__attribute__((warn_unused_result)) int
store_index_push(struct store *s, const struct store_row *dedup, size_t ndedup,
                 const struct store_hash_row *hashes, size_t nhashes, uint64_t size,
                 const char **reason);
/* Waits until every queued row is in index/ (a run written at once). Returns 0 or the index
 * error. */
__attribute__((warn_unused_result)) int store_index_sync(struct store *s, const char **reason);
/* The size up to which index/ holds every row (written, synced). */
uint64_t store_index_watermark(struct store *s);

/* The committed state, as of the last commit (or open). Any thread. */
void store_state_get(struct store *s, struct store_state *out);
const char *store_dir(const struct store *s);
/* The entry format label recorded at creation ("" for none). */
const char *store_format(const struct store *s);

/* ---- reads: any thread, each with its own reader --------------------------------------- */
struct store_reader;
__attribute__((warn_unused_result)) int store_reader_open(struct store *s,
                                                          struct store_reader **out);
void store_reader_close(struct store_reader *r);

/* The latest signed head; its byte fields point into buf (cap bytes). -ENOENT when none. */
__attribute__((warn_unused_result)) int
store_head_get(struct store_reader *r, struct store_head *out, uint8_t *buf, size_t cap);
/* The root and first timestamp signed for `size`; -ENOENT when that size was never signed. */
__attribute__((warn_unused_result)) int store_signed_get(struct store_reader *r, uint64_t size,
                                                         uint8_t root[STORE_HASH_LEN],
                                                         uint64_t *timestamp);
/* Calls fn for every signed size in increasing order; stops at fn's first non-zero return. */
__attribute__((warn_unused_result)) int store_signed_each(
        struct store_reader *r,
        int (*fn)(void *ctx, uint64_t size, const uint8_t root[STORE_HASH_LEN], uint64_t timestamp),
        void *ctx);
/* The mid nodes of full hash tile (level, index) into out. -ENOENT when none were recorded
 * (the tile is not full, or the log is older than mid nodes). */
__attribute__((warn_unused_result)) int store_mid_get(struct store_reader *r, unsigned level,
                                                      uint64_t index,
                                                      uint8_t out[STORE_MID_NODES][STORE_HASH_LEN]);
/* Dedup value for key into value (STORE_VALUE_MAX bytes); returns its length or -ENOENT. */
__attribute__((warn_unused_result)) int
store_dedup_get(struct store_reader *r, const uint8_t key[STORE_KEY_LEN], uint8_t *value);
__attribute__((warn_unused_result)) int
store_hash_get(struct store_reader *r, const uint8_t hash[STORE_HASH_LEN], uint64_t *index);
/* Issuer DER into buf; returns its length, -ENOENT, or -ENOSPC when cap is too small. */
__attribute__((warn_unused_result)) int
store_issuer_get(struct store_reader *r, const uint8_t fp[STORE_KEY_LEN], uint8_t *buf, size_t cap);
/* Calls fn for every issuer in fingerprint order; stops at fn's first non-zero return and
 * gives it back. The DER is borrowed for the call only (it points into LMDB's map). fn may
 * write files (store_files_put) but not commit or put a head: a read transaction is open. */
__attribute__((warn_unused_result)) int store_issuer_each(struct store_reader *r,
                                                          int (*fn)(void *ctx,
                                                                    const uint8_t fp[STORE_KEY_LEN],
                                                                    const uint8_t *der, size_t len),
                                                          void *ctx);

/* A whole file into buf; returns its length, -ENOENT, or -EFBIG when it exceeds cap. */
__attribute__((warn_unused_result)) ssize_t store_file_read(struct store *s, const char *path,
                                                            uint8_t *buf, size_t cap);
/* Reads from fd at off until len bytes or the end of the file (EINTR retried); returns the
 * bytes read or -errno. For fds from store_file_open(). */
__attribute__((warn_unused_result)) ssize_t store_pread_all(int fd, uint8_t *buf, size_t len,
                                                            uint64_t off);
/* An fd for zero-copy serving (sendfile); the caller closes it. Returns the fd or -errno. */
__attribute__((warn_unused_result)) int store_file_open(struct store *s, const char *path,
                                                        uint64_t *len);

/* ---- operations ------------------------------------------------------------------------- */
struct store_usage {
	uint64_t tile_bytes, tile_files;  /* allocated bytes under tile/ */
	uint64_t edge_bytes, edge_files;  /* under edge/ (files that grow in place) */
	uint64_t state_bytes;             /* state.mdb, allocated */
	uint64_t index_bytes;             /* index/: the run files of both tables */
	uint64_t dedup_bytes, hash_bytes; /* each table's run files */
	uint64_t dedup_rows, hash_rows, signed_rows, issuer_rows;
};
__attribute__((warn_unused_result)) int store_usage_get(struct store *s, struct store_usage *u);

/* Test hook (fault injection, SQLite style): the nth io_uring completion of kind `op` from now
 * (1 = the next) reports `res` instead of its result: -EIO for an I/O error, -EAGAIN to be
 * retried, or a positive byte count for a short write. nth 0 disarms it. Process-wide. */
enum store_fault_op {
	STORE_FAULT_ANY,   /* any completion */
	STORE_FAULT_WRITE, /* a write's */
	STORE_FAULT_SYNC,  /* an fdatasync's */
};
void store_fault_inject(enum store_fault_op op, unsigned nth, int res);

#endif
