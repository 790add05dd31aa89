/* storage/store_int.h: internals shared by the storage sources; not a public header. */
#ifndef BIRCH_STORAGE_STORE_INT_H
#define BIRCH_STORAGE_STORE_INT_H

#include <liburing.h>
#include <lmdb.h>
#include <pthread.h>

#include "storage/runs.h"
#include "storage/store.h"

/* ---- io_uring: one ring per writing thread (store_io.c) ----------------------------------- */
#define SIO_DEPTH 256

struct sio {
	struct io_uring ring;
	bool ready;
};

/* One file's bytes to write at offset `off`. `done` counts what the kernel has taken so far.
 * With dfd >= 0 (sio_write_sync() only), bytes [0, dlen) go through dfd, an O_DIRECT
 * descriptor of the same file (data, off and dlen aligned to SIO_DIRECT_ALIGN), and `done`
 * starts at dlen: the buffered part is the unaligned tail. */
struct sio_job {
	int fd;
	const uint8_t *data;
	size_t len;
	size_t done;
	uint64_t off;
	bool synced; /* sio_write_sync(): its fdatasync has completed */
	int dfd;
	size_t dlen;
	bool dok; /* the O_DIRECT part was written whole */
};
#define SIO_DIRECT_ALIGN 4096

int sio_init(struct sio *io);
void sio_free(struct sio *io);
/* Writes every job whole: tagged requests (user_data = job index), completions reaped in
 * batches, short writes continued, -EAGAIN resubmitted. Returns 0 or the first error. */
int sio_write_all(struct sio *io, struct sio_job *jobs, size_t n, const char **reason);
/* fdatasync on every fd at once (one request each, reaped together). A failure is final:
 * never retried (the page cache cannot be trusted after it). `during` (may be NULL) runs once
 * while the requests are in flight; its error is returned in *during_rc (the syncs still
 * finish). */
struct sio_during {
	int (*fn)(void *ctx, const char **why);
	void *ctx;
	int rc;
	const char *why;
};
int sio_sync_all(struct sio *io, const int *fds, size_t n, struct sio_during *during,
                 const char **reason);
/* Every job written whole and its file fdatasynced, and every fd in dirs fdatasynced, all in
 * flight together: each write is linked to its file's fdatasync, which starts once the write
 * has completed. `during` as for sio_sync_all(). Short writes are continued and -EAGAIN
 * retried, and their fdatasyncs done after them. Returns 0 or the first error; an fdatasync
 * failure is final as above. */
int sio_write_sync(struct sio *io, struct sio_job *jobs, size_t n, const int *dirs, size_t nd,
                   struct sio_during *during, const char **reason);

/* ---- LMDB (store_db.c) -------------------------------------------------------------------- */
/* The one place LMDB's codes become errnos and reasons. */
int sdb_err(int rc, const char *what, const char **reason);

struct sdb {
	MDB_env *state_env;
	MDB_dbi meta, sig, issuers;
	MDB_dbi mids;  /* see has_mids */
	bool has_mids; /* false: a read-only open of a log older than mid nodes */
};

int sdb_open(struct sdb *db, const char *dir, const struct store_opts *o, char format[32],
             const char **reason);
void sdb_close(struct sdb *db);
int sdb_state_read(struct sdb *db, struct store_state *st, const char **reason);
/* One synced transaction: the new state and issuers. */
int sdb_commit_state(struct sdb *db, const struct store_batch *b, const char **reason);
int sdb_head_put(struct sdb *db, const struct store_head *h, const char **reason);
/* ---- the store (store.c) ------------------------------------------------------------------ */
struct store_queue {
	struct store_row *dedup;
	struct store_hash_row *hashes;
	size_t nd, nh;
	uint64_t size; /* the watermark these rows complete */
	bool has_size;
};

struct store {
	char *dir;
	char format[32];
	int dirfd;
	struct store_opts opts;
	struct sdb db;
	struct sio io;
	struct store_state state; /* guarded by state_lock for readers on other threads */
	pthread_mutex_t state_lock;
	const char *failed; /* first write failure; writes refuse after it */
	int failed_rc;
	uint64_t head_seq; /* store_head_seq(): atomic, bumped after each recorded head */

	/* index thread */
	pthread_t index_thread;
	bool index_running;
	pthread_mutex_t qlock;
	pthread_cond_t qcond; /* rows queued, or stop */
	pthread_cond_t qdone; /* a queue was committed, or failed */
	struct store_queue q, work;
	struct store_row *hrows; /* the work queue's hash rows as runs rows */
	size_t qcap;
	bool qbusy, stop, qsync;
	struct runs *runs; /* index/: table 0 dedup, table 1 leaf hash to index */
	uint64_t watermark;
	int index_rc;
	const char *index_reason;

	/* commit scratch, grown to the largest batch and reused */
	struct sio_job *jobs;
	int *fds;
	size_t jobs_cap, fds_cap;
	bool direct_ok; /* the file system takes O_DIRECT writes (until one open says no) */
};

struct store_reader {
	struct store *s;
	MDB_txn *st; /* reset between calls */
};

#endif
