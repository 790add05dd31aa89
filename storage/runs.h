/* storage/runs.h: a log-structured index of sorted, immutable run files merged in tiers.
 * Keys are 32 bytes, uniformly distributed (SHA-256 outputs); values are 1..96 bytes. It holds
 * the store's lagging indexes (dedup, leaf hash to entry index) with sequential writes only.
 *
 * On disk, in one directory:
 *   t<table>-<id>.run  a 64-byte header (magic "BIRCHRUN", version, table, width, row count,
 *                      id, a checksum of the rows, a checksum of the header), then the rows
 *                      sorted by key, `width` bytes each: key[32], len[1], value zero-padded
 *                      to width - 33, where width = 33 + the largest len in that file.
 *   manifest           the live runs of every table in age order, the next run id and the
 *                      caller's mark, with a checksum. Replaced by write tmp, fdatasync,
 *                      rename, fsync dir; a run file is complete and synced (file and
 *                      directory) before a manifest names it. After a crash, open yields exactly
 *                      the last manifest that reached the disk and removes the files it does
 *                      not name.
 *
 * Merge policy (per table). The runs of a table form one list ordered by age, oldest first;
 * runs_add appends a tier-0 run at the new end. The merge thread looks for `fanout` adjacent
 * runs of the same tier, takes the lowest such tier (oldest group first), and replaces that
 * group in place by one run of tier + 1. Only adjacent runs are ever merged, so the list stays
 * ordered by age and "oldest wins" survives every merge; with this policy tiers also stay
 * non-increasing from old to new (the shape of a tiered LSM). Each row is rewritten once per
 * tier it climbs: about log_fanout(total rows / rows per add) times. Backpressure: runs_add
 * waits while any tier of any table holds 4 * fanout runs or more (the merge thread is behind).
 *
 * Lookups: every run is mmap'd read-only (no readahead); no index lives in memory. A search
 * interpolates on the key's first 8 bytes (big-endian) between the keys at the ends of the
 * bracket: about log log n probes for uniform keys, each nearer than the last; after 12 it
 * bisects, so O(log n) at worst. The first probe of every run is prefetched up front so their
 * cache misses overlap. Runs are searched oldest first and the first match wins; within a run
 * the lowest position of equal keys wins: the value added first for a key is returned.
 *
 * Threads
 * - runs_add: one thread at a time (the store's index thread). runs_get, runs_stats, runs_mark,
 *   runs_check: any thread, concurrently with runs_add and merges. runs_quiesce: any thread.
 *   runs_close: after every other call has returned.
 * - A background merge thread per object (none when read-only). runs_close abandons an
 *   unfinished merge and removes its output.
 * - Readers take a reference on an immutable snapshot of the runs under a short mutex; a merged
 *   input is unlinked once the manifest that drops it is durable, and unmapped by the writer
 *   side (runs_add or a merge) once no reader holds a snapshot naming it.
 *
 * Errors: 0 or a negative errno; *reason (may be NULL) gets a short string naming what failed,
 * either static or in a thread-local buffer valid until this thread's next runs_* call (no
 * library code prints). -EBADMSG: a manifest or run file is corrupt. -EROFS: runs_add on a
 * read-only object. After a failed write or fdatasync (of an add or of a merge), the object
 * refuses every later runs_add: the first report carries the original code, later ones -EIO,
 * with the first reason; close and open again. A merge failure is reported by the next
 * runs_add or runs_quiesce.
 *
 * Memory: bounded buffers only (1 MiB write buffers, sort scratch grown to the largest add);
 * nothing grows with the number of rows except file-backed mappings. runs_get allocates
 * nothing and makes no syscall; runs_add allocates nothing per row.
 */
#ifndef BIRCH_STORAGE_RUNS_H
#define BIRCH_STORAGE_RUNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/store.h"

#define RUNS_TABLES_MAX 4

struct runs;

struct runs_opts {
	unsigned ntables; /* 1..RUNS_TABLES_MAX; 0: whatever the manifest holds (1 when new) */
	unsigned fanout;  /* runs of one tier merged at once, >= 2; 0: 8 */
	bool read_only;   /* no merge thread, no file removed or written */
};

struct runs_stats {
	uint64_t rows;  /* duplicates of a key count until a merge drops them */
	uint64_t bytes; /* file sizes, headers included */
	uint64_t files;
};

/* Opens `dir` (created when missing unless read-only); o may be NULL for defaults. Removes run
 * files the manifest does not name and a leftover manifest.tmp (unless read-only). -EINVAL when
 * o->ntables differs from the manifest's. */
__attribute__((warn_unused_result)) int runs_open(struct runs **out, const char *dir,
                                                  const struct runs_opts *o, const char **reason);
/* Stops the merge thread (an unfinished merge is abandoned) and frees everything. NULL is fine. */
void runs_close(struct runs *r);

/* Adds one run per table: rows and n have one entry per table; rows[t] holds n[t] rows in any
 * order (only read, never kept; NULL when n[t] is 0). Writes each non-empty run sorted by key
 * (stable: of equal keys in one add, the earlier row wins), fdatasyncs them and the directory, then
 * durably writes a manifest naming every live run and `mark` (opaque to this module: the caller's
 * watermark), then makes the rows visible to readers. Returns only after all that. Waits first
 * while the merge thread is far behind (see backpressure above). */
__attribute__((warn_unused_result)) int runs_add(struct runs *r, struct store_row *const rows[],
                                                 const size_t n[], uint64_t mark,
                                                 const char **reason);
/* The mark of the current manifest; 0 for a new directory. Lock-free. */
uint64_t runs_mark(struct runs *r);

/* The value for key in table t into value (STORE_VALUE_MAX bytes): returns its length, -ENOENT
 * (also for t out of range), or -EBADMSG when the row found has a corrupt length. The oldest
 * row for a key wins. No allocation, no syscall, one short mutex. */
__attribute__((warn_unused_result)) int runs_get(struct runs *r, unsigned t,
                                                 const uint8_t key[STORE_KEY_LEN], uint8_t *value);

/* The current runs of table t (all zero for t out of range). */
void runs_stats(struct runs *r, unsigned t, struct runs_stats *out);

/* Waits until no merge is pending or running; returns the merge error if one happened. */
__attribute__((warn_unused_result)) int runs_quiesce(struct runs *r, const char **reason);

/* Reads every run file of every table whole: header, checksum of the rows, lengths 1..96 with
 * zero padding, keys in non-decreasing order. Calls problem() with a message naming the file
 * for each problem (at most 8 messages per file, then one summary); returns the number of
 * problems found. problem may be NULL (count only). For fsck; runs alongside everything else. */
long runs_check(struct runs *r, void (*problem)(void *ctx, const char *msg), void *ctx);

#endif
