/* storage/store.c: open and close, the durable commit, the index thread, reads. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "storage/store_int.h"

#define DEFAULT_QUEUE_ROWS 32768
#define INDEX_FLUSH_MS     1000 /* rows wait at most this long for a fuller run */

static void *index_main(void *arg);
static int disk_full(struct store *s, int rc, const char **why);

/* ---- open and close ------------------------------------------------------------------------ */

static int
queue_alloc(struct store_queue *q, size_t cap)
{
	/* Touched now, so resident memory is the same from the first batch to the billionth. */
	q->dedup = malloc(cap * sizeof *q->dedup);
	q->hashes = malloc(cap * sizeof *q->hashes);
	if (q->dedup)
		memset(q->dedup, 0, cap * sizeof *q->dedup);
	if (q->hashes)
		memset(q->hashes, 0, cap * sizeof *q->hashes);
	q->nd = q->nh = 0;
	q->has_size = false;
	return q->dedup && q->hashes ? 0 : -ENOMEM;
}

static void
queue_free(struct store_queue *q)
{
	free(q->dedup);
	free(q->hashes);
	q->dedup = NULL;
	q->hashes = NULL;
}

int
store_open(struct store **out, const char *dir, const struct store_opts *o, const char **reason)
{
	static const struct store_opts defaults;
	const char *why = NULL;
	*out = NULL;
	if (o == NULL)
		o = &defaults;
	if (o->create && !o->read_only && mkdir(dir, 0755) < 0 && errno != EEXIST) {
		if (reason)
			*reason = "cannot create the log directory";
		return -errno;
	}
	struct store *s = calloc(1, sizeof *s);
	if (s == NULL)
		return -ENOMEM;
	s->opts = *o;
	s->dirfd = -1;
	pthread_mutex_init(&s->state_lock, NULL);
	pthread_mutex_init(&s->qlock, NULL);
	pthread_cond_init(&s->qcond, NULL);
	pthread_cond_init(&s->qdone, NULL);
	s->dir = strdup(dir);
	int rc = s->dir ? 0 : -ENOMEM;
	if (rc < 0)
		goto fail;
	s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		rc = -errno;
		why = "cannot open the log directory";
		goto fail;
	}
	if (!o->read_only && !o->create) {
		/* An existing log only: never create LMDB files in a directory by mistake. */
		struct stat st;
		if (fstatat(s->dirfd, "state.mdb", &st, 0) < 0) {
			rc = -ENOENT;
			why = "no state.mdb: not a Birch log directory (create it first)";
			goto fail;
		}
	}
	rc = sdb_open(&s->db, dir, o, s->format, &why);
	if (rc < 0)
		goto fail;
	rc = sdb_state_read(&s->db, &s->state, &why);
	if (rc < 0)
		goto fail;
	char ipath[4096];
	snprintf(ipath, sizeof ipath, "%s/index", dir);
	struct runs_opts ro = {.ntables = 2, .read_only = o->read_only};
	rc = runs_open(&s->runs, ipath, &ro, &why);
	if (rc < 0)
		goto fail;
	s->watermark = runs_mark(s->runs);
	if (s->watermark > s->state.size) {
		rc = -EBADMSG;
		why = "index/ covers more entries than state.mdb commits (state.mdb restored from "
		      "an older copy?)";
		goto fail;
	}
	if (o->read_only)
		goto done;
	if (o->create && mkdirat(s->dirfd, "tile", 0755) < 0 && errno != EEXIST) {
		rc = -errno;
		why = "cannot create tile/";
		goto fail;
	}
	rc = sio_init(&s->io);
	if (rc < 0) {
		why = "io_uring_queue_init failed (io_uring disabled in this kernel?)";
		goto fail;
	}
	s->direct_ok = !o->no_direct;
	s->qcap = o->index_queue_rows ? o->index_queue_rows : DEFAULT_QUEUE_ROWS;
	s->hrows = calloc(s->qcap, sizeof *s->hrows);
	if (s->hrows == NULL || queue_alloc(&s->q, s->qcap) < 0 ||
	    queue_alloc(&s->work, s->qcap) < 0) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = -pthread_create(&s->index_thread, NULL, index_main, s);
	if (rc < 0) {
		why = "cannot start the index thread";
		goto fail;
	}
	s->index_running = true;
done:
	*out = s;
	return 0;
fail:
	if (reason)
		*reason = why ? why : "cannot open the log";
	store_close(s);
	return rc;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	if (s->index_running) {
		pthread_mutex_lock(&s->qlock);
		s->stop = true;
		pthread_cond_broadcast(&s->qcond);
		pthread_mutex_unlock(&s->qlock);
		pthread_join(s->index_thread, NULL);
	}
	queue_free(&s->q);
	queue_free(&s->work);
	free(s->hrows);
	runs_close(s->runs);
	sio_free(&s->io);
	sdb_close(&s->db);
	if (s->dirfd >= 0)
		close(s->dirfd);
	free(s->jobs);
	free(s->fds);
	free(s->dir);
	pthread_mutex_destroy(&s->state_lock);
	pthread_mutex_destroy(&s->qlock);
	pthread_cond_destroy(&s->qcond);
	pthread_cond_destroy(&s->qdone);
	free(s);
}

const char *
store_dir(const struct store *s)
{
	return s->dir;
}

const char *
store_format(const struct store *s)
{
	return s->format;
}

void
store_state_get(struct store *s, struct store_state *out)
{
	pthread_mutex_lock(&s->state_lock);
	*out = s->state;
	pthread_mutex_unlock(&s->state_lock);
}

/* ---- the index thread ------------------------------------------------------------------------ */

static bool
queue_empty(const struct store_queue *q)
{
	return q->nd == 0 && q->nh == 0 && !q->has_size;
}

static size_t
queue_rows(const struct store_queue *q)
{
	return q->nd > q->nh ? q->nd : q->nh;
}

/* Waits for rows worth a run: half a queue, a sync or stop, or INDEX_FLUSH_MS after the first
 * rows came. Called and returns with qlock held. */
static void
wait_for_rows(struct store *s)
{
	while (!s->stop && queue_empty(&s->q))
		pthread_cond_wait(&s->qcond, &s->qlock);
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += INDEX_FLUSH_MS / 1000;
	until.tv_nsec += (long)(INDEX_FLUSH_MS % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000)
		until.tv_sec++, until.tv_nsec -= 1000000000;
	while (!s->stop && !s->qsync && queue_rows(&s->q) < s->qcap / 2)
		if (pthread_cond_timedwait(&s->qcond, &s->qlock, &until) == ETIMEDOUT)
			break;
}

/* One run per table from the work queue, with the watermark it completes. */
static int
write_runs(struct store *s, uint64_t wm, const char **why)
{
	for (size_t i = 0; i < s->work.nh; i++) {
		struct store_row *r = &s->hrows[i];
		memcpy(r->key, s->work.hashes[i].hash, STORE_HASH_LEN);
		r->len = 8;
		uint64_t v = s->work.hashes[i].index;
		for (int k = 7; k >= 0; k--, v >>= 8)
			r->value[k] = (uint8_t)v;
	}
	struct store_row *const rows[2] = {s->work.dedup, s->hrows};
	const size_t n[2] = {s->work.nd, s->work.nh};
	return runs_add(s->runs, rows, n, wm, why);
}

static void *
index_main(void *arg)
{
	struct store *s = arg;
	pthread_mutex_lock(&s->qlock);
	for (;;) {
		wait_for_rows(s);
		if (queue_empty(&s->q))
			break; /* stopping, and nothing left */
		struct store_queue t = s->work;
		s->work = s->q;
		s->q = t;
		s->qbusy = true;
		uint64_t wm = s->work.has_size ? s->work.size : s->watermark;
		bool failed = s->index_rc != 0;
		pthread_mutex_unlock(&s->qlock);

		int rc = 0;
		const char *why = NULL;
		if (!failed)
			rc = write_runs(s, wm, &why);
		pthread_mutex_lock(&s->qlock);
		if (rc < 0 && s->index_rc == 0) {
			s->index_rc = rc;
			s->index_reason = why;
		} else if (rc == 0 && !failed) {
			s->watermark = wm;
		}
		s->work.nd = s->work.nh = 0;
		s->work.has_size = false;
		s->qbusy = false;
		pthread_cond_broadcast(&s->qdone);
	}
	pthread_mutex_unlock(&s->qlock);
	return NULL;
}

int
store_index_push(struct store *s, const struct store_row *dedup, size_t nd,
                 const struct store_hash_row *hashes, size_t nh, uint64_t size, const char **reason)
{
	if (!s->index_running) {
		if (reason)
			*reason = "the log is open read-only";
		return -EROFS;
	}
	pthread_mutex_lock(&s->qlock);
	int rc = 0;
	/* Rows go in pieces of at most the queue's capacity; only the last one sets the size. */
	while (rc == 0 && (nd > 0 || nh > 0 || size > 0)) {
		while (s->index_rc == 0 && (s->q.nd == s->qcap || s->q.nh == s->qcap))
			pthread_cond_wait(&s->qdone, &s->qlock);
		if (s->index_rc != 0) {
			rc = s->index_rc;
			if (reason)
				*reason = s->index_reason;
			break;
		}
		size_t td = s->qcap - s->q.nd < nd ? s->qcap - s->q.nd : nd;
		size_t th = s->qcap - s->q.nh < nh ? s->qcap - s->q.nh : nh;
		if (td > 0)
			memcpy(s->q.dedup + s->q.nd, dedup, td * sizeof *dedup);
		if (th > 0)
			memcpy(s->q.hashes + s->q.nh, hashes, th * sizeof *hashes);
		s->q.nd += td, s->q.nh += th;
		dedup += td, hashes += th;
		nd -= td, nh -= th;
		if (nd == 0 && nh == 0) {
			s->q.size = size;
			s->q.has_size = true;
			size = 0;
		}
		pthread_cond_signal(&s->qcond);
		if (nd == 0 && nh == 0)
			break;
	}
	pthread_mutex_unlock(&s->qlock);
	return rc;
}

int
store_index_sync(struct store *s, const char **reason)
{
	if (!s->index_running)
		return 0;
	pthread_mutex_lock(&s->qlock);
	s->qsync = true;
	pthread_cond_signal(&s->qcond);
	while (s->index_rc == 0 && (!queue_empty(&s->q) || s->qbusy))
		pthread_cond_wait(&s->qdone, &s->qlock);
	s->qsync = false;
	int rc = s->index_rc;
	if (rc != 0 && reason)
		*reason = s->index_reason;
	pthread_mutex_unlock(&s->qlock);
	return rc;
}

uint64_t
store_index_watermark(struct store *s)
{
	pthread_mutex_lock(&s->qlock);
	uint64_t w = s->watermark;
	pthread_mutex_unlock(&s->qlock);
	return w;
}

/* ---- the commit ---------------------------------------------------------------------------- */

/* LMDB reports a write cut short by a full disk as EIO: name it when the disk is full. */
static int
disk_full(struct store *s, int rc, const char **why)
{
	struct statvfs v;
	if (rc == -EIO && fstatvfs(s->dirfd, &v) == 0 &&
	    (uint64_t)v.f_bavail * v.f_frsize < 4u * 1024 * 1024) {
		*why = "disk full while committing LMDB";
		return -ENOSPC;
	}
	return rc;
}

static int
fail(struct store *s, int rc, const char *why, const char **reason)
{
	if (s->failed == NULL) {
		s->failed = why;
		s->failed_rc = rc;
	}
	if (reason)
		*reason = why;
	return rc;
}

static bool
path_ok(const char *p)
{
	size_t n = strnlen(p, STORE_PATH_MAX);
	if (n == 0 || n == STORE_PATH_MAX || p[0] == '/')
		return false;
	for (const char *c = p; *c; c++)
		if (c[0] == '.' && c[1] == '.' && (c == p || c[-1] == '/') &&
		    (c[2] == '/' || c[2] == 0))
			return false;
	return true;
}

/* Directories one batch may sync: each tile level's tile/ and edge/ directories and those
 * made for them, where several levels fill in one batch; issuer/ and its parent. */
#define DIRSET_MAX 48

struct dirset {
	char path[DIRSET_MAX][STORE_PATH_MAX];
	size_t n;
};

static int
dirset_add(struct dirset *d, const char *path, size_t len)
{
	for (size_t i = 0; i < d->n; i++)
		if (strlen(d->path[i]) == len && memcmp(d->path[i], path, len) == 0)
			return 0;
	if (d->n == DIRSET_MAX)
		return -E2BIG;
	memcpy(d->path[d->n], path, len);
	d->path[d->n][len] = 0;
	d->n++;
	return 0;
}

/* Parent of path ("." for a top-level name) into d. */
static int
dirset_add_parent(struct dirset *d, const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? dirset_add(d, path, (size_t)(slash - path)) : dirset_add(d, ".", 1);
}

/* mkdir -p of path's parent; each directory made has its own parent added to `sync`. */
static int
make_parents(int dirfd, const char *path, struct dirset *sync)
{
	char buf[STORE_PATH_MAX];
	size_t n = strlen(path);
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i < n; i++) {
		if (buf[i] != '/')
			continue;
		buf[i] = 0;
		if (mkdirat(dirfd, buf, 0755) == 0) {
			int rc = dirset_add_parent(sync, buf);
			if (rc < 0)
				return rc;
		} else if (errno != EEXIST) {
			return -errno;
		}
		buf[i] = '/';
	}
	return 0;
}

static int
grow(void **p, size_t *cap, size_t want, size_t elem)
{
	if (want <= *cap)
		return 0;
	size_t n = *cap ? *cap : 16;
	while (n < want)
		n *= 2;
	void *q = realloc(*p, n * elem);
	if (q == NULL)
		return -ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

static void
close_all(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* A stale file longer than the bytes about to be written is cut to them first: its prefix
 * stays, so a reader never sees it shorter than the new bytes. */
static int
trim_stale(int fd, size_t len)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -1;
	return (uint64_t)st.st_size > len ? ftruncate(fd, (off_t)len) : 0;
}

/* Opens one file of a batch for writing; a new one (and any directory made for it) puts its
 * parent in `sync`. */
static int
open_for_write(struct store *s, const struct store_file *f, struct dirset *sync, const char **why)
{
	const char *p = f->path;
	if (!path_ok(p))
		return *why = "bad file path in batch", -EINVAL;
	/* A new file needs its directory entry synced; a stale one (past the committed state,
	 * from before a crash) is overwritten in place and trimmed. */
	int fd = openat(s->dirfd, p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 && errno == ENOENT) {
		int rc = make_parents(s->dirfd, p, sync);
		if (rc < 0)
			return *why = rc == -ENOSPC ? "disk full while creating tile directories"
			                            : "cannot create tile directories",
			       rc;
		fd = openat(s->dirfd, p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	}
	if (fd >= 0) {
		if (dirset_add_parent(sync, p) < 0) {
			close(fd);
			return *why = "too many directories in one batch", -E2BIG;
		}
	} else if (errno == EEXIST) {
		fd = openat(s->dirfd, p, O_WRONLY | O_CLOEXEC);
		if (fd >= 0 && !f->in_place && trim_stale(fd, f->len) < 0) {
			close(fd);
			return *why = "cannot trim a stale tile", -errno;
		}
	}
	if (fd < 0) {
		int rc = -errno;
		return *why = rc == -ENOSPC ? "disk full while creating tiles"
		                            : "cannot open a tile for writing",
		       rc;
	}
	return fd;
}

/* Second names: each `to` (a stale one replaced) for its `from`. Both parents get synced. */
static int
make_links(struct store *s, const struct store_batch *b, struct dirset *sync, const char **why)
{
	for (size_t i = 0; i < b->nlinks; i++) {
		const struct store_link *l = &b->links[i];
		if (!path_ok(l->from) || !path_ok(l->to))
			return *why = "bad link path in batch", -EINVAL;
		int rc = linkat(s->dirfd, l->from, s->dirfd, l->to, 0) == 0 ? 0 : -errno;
		if (rc == -ENOENT) {
			rc = make_parents(s->dirfd, l->to, sync);
			if (rc == 0)
				rc = linkat(s->dirfd, l->from, s->dirfd, l->to, 0) == 0 ? 0
				                                                        : -errno;
		}
		if (rc == -EEXIST) {
			unlinkat(s->dirfd, l->to, 0);
			rc = linkat(s->dirfd, l->from, s->dirfd, l->to, 0) == 0 ? 0 : -errno;
		}
		if (rc < 0)
			return *why = rc == -ENOSPC ? "disk full while linking a full tile"
			                            : "cannot link a full tile",
			       rc;
		if (dirset_add_parent(sync, l->to) < 0 || dirset_add_parent(sync, l->from) < 0)
			return *why = "too many directories in one batch", -E2BIG;
	}
	return 0;
}

/* A whole new file whose bytes start on a SIO_DIRECT_ALIGN boundary in memory gets a second,
 * O_DIRECT descriptor for its aligned prefix: the bulk of a data tile then goes to the device
 * without a copy into the page cache (measured here: O_DIRECT plus fdatasync runs at 1.4-1.5x
 * the rate of pwrite plus fdatasync). A file system that refuses O_DIRECT turns it off. */
static void
open_direct(struct store *s, const struct store_file *f, struct sio_job *j)
{
	if (!s->direct_ok || f->in_place || f->len < SIO_DIRECT_ALIGN || f->len > (1u << 30) ||
	    (uintptr_t)f->data % SIO_DIRECT_ALIGN != 0)
		return;
	int dfd = openat(s->dirfd, f->path, O_WRONLY | O_DIRECT | O_CLOEXEC);
	if (dfd < 0) {
		if (errno == EINVAL)
			s->direct_ok = false;
		return;
	}
	j->dfd = dfd;
	j->dlen = f->len / SIO_DIRECT_ALIGN * SIO_DIRECT_ALIGN;
	j->done = j->dlen;
}

/* Opens every file (new ones created, with their directories), trims any longer stale one,
 * makes the links, then writes the files and fdatasyncs them and every directory that gained
 * an entry, all in flight together, running the batch's check meanwhile. */
static int
write_files(struct store *s, const struct store_batch *b, struct sio_during *during,
            const char **why)
{
	struct dirset sync = {.n = 0};
	size_t nf = b->nfiles;
	int rc = grow((void **)&s->jobs, &s->jobs_cap, nf, sizeof *s->jobs);
	if (rc == 0)
		rc = grow((void **)&s->fds, &s->fds_cap, nf + DIRSET_MAX, sizeof *s->fds);
	if (rc < 0)
		return *why = "out of memory", rc;
	size_t nfds = 0, njobs = 0;
	for (size_t i = 0; i < nf; i++) {
		const struct store_file *f = &b->files[i];
		int fd = open_for_write(s, f, &sync, why);
		if (fd < 0) {
			rc = fd;
			goto out;
		}
		s->fds[nfds++] = fd;
		struct sio_job *j = &s->jobs[njobs++];
		*j = (struct sio_job){.fd = fd,
		                      .data = f->data,
		                      .len = f->len,
		                      .off = f->in_place ? f->offset : 0,
		                      .dfd = -1};
		open_direct(s, f, j);
	}
	rc = make_links(s, b, &sync, why);
	if (rc < 0)
		goto out;
	for (size_t i = 0; i < sync.n; i++) {
		int fd = openat(s->dirfd, sync.path[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0) {
			rc = -errno, *why = "cannot open a tile directory to sync it";
			goto out;
		}
		s->fds[nfds++] = fd;
	}
	rc = sio_write_sync(&s->io, s->jobs, nf, s->fds + nf, nfds - nf, during, why);
out:
	for (size_t i = 0; i < njobs; i++)
		if (s->jobs[i].dfd >= 0)
			close(s->jobs[i].dfd);
	close_all(s->fds, nfds);
	return rc;
}

static void
remove_tree(int dirfd, const char *path)
{
	int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	DIR *d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			unlinkat(fd, e->d_name, 0);
	closedir(d);
	unlinkat(dirfd, path, AT_REMOVEDIR);
}

/* 0 when the writer may write; -EROFS (read-only) or the first failure's code otherwise. */
static int
writable(struct store *s, const char **reason)
{
	if (!s->index_running) {
		if (reason)
			*reason = "the log is open read-only";
		return -EROFS;
	}
	if (s->failed) {
		if (reason)
			*reason = s->failed;
		return s->failed_rc ? s->failed_rc : -EIO;
	}
	return 0;
}

int
store_commit(struct store *s, const struct store_batch *b, const char **reason)
{
	const char *why = NULL;
	int wrc = writable(s, reason);
	if (wrc < 0)
		return wrc;
	pthread_mutex_lock(&s->qlock);
	int irc = s->index_rc;
	const char *ireason = s->index_reason;
	pthread_mutex_unlock(&s->qlock);
	if (irc != 0)
		return fail(s, irc, ireason, reason);
	if (b->state.size < s->state.size) {
		if (reason)
			*reason = "commit would move the tree size backwards";
		return -EINVAL;
	}
	/* 1. Files durable, the batch's check run meanwhile. */
	struct sio_during during = {b->check, b->check_ctx, 0, NULL};
	int rc = write_files(s, b, &during, &why);
	if (rc < 0)
		return fail(s, rc, why, reason);
	if (during.rc != 0) { /* refused: nothing committed, nothing the state names touched */
		if (reason)
			*reason = during.why;
		return during.rc < 0 ? during.rc : -EBADMSG;
	}
	/* 2. One synced LMDB transaction: from here on the batch is durable. */
	rc = sdb_commit_state(&s->db, b, &why);
	if (rc < 0)
		return fail(s, disk_full(s, rc, &why), why, reason);
	pthread_mutex_lock(&s->state_lock);
	s->state = b->state;
	pthread_mutex_unlock(&s->state_lock);
	/* 3. Rows to the lagging indexes; an index failure shows on the next call. */
	rc = store_index_push(s, b->dedup, b->ndedup, b->hashes, b->nhashes, b->state.size, &why);
	if (rc < 0)
		fail(s, rc, why, NULL);
	for (size_t i = 0; i < b->nlinks; i++)
		if (path_ok(b->links[i].from))
			unlinkat(s->dirfd, b->links[i].from, 0);
	for (size_t i = 0; i < b->nremove_dirs; i++)
		if (path_ok(b->remove_dirs[i]))
			remove_tree(s->dirfd, b->remove_dirs[i]);
	return 0;
}

int
store_file_trim(struct store *s, const char *path, uint64_t len, const char **reason)
{
	if (!path_ok(path))
		return -EINVAL;
	int fd = openat(s->dirfd, path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	int rc = fstat(fd, &st) == 0 ? 0 : -errno;
	if (rc == 0 && (uint64_t)st.st_size > len) /* only bytes past the committed state go */
		rc = ftruncate(fd, (off_t)len) == 0 && fdatasync(fd) == 0 ? 0 : -errno;
	close(fd);
	if (rc < 0 && reason)
		*reason = "cannot trim a file past the committed state";
	return rc;
}

int
store_file_remove(struct store *s, const char *path)
{
	if (!path_ok(path))
		return -EINVAL;
	return unlinkat(s->dirfd, path, 0) == 0 ? 0 : -errno;
}

int
store_files_put(struct store *s, const struct store_file *files, size_t n, const char **reason)
{
	const char *why = NULL;
	int wrc = writable(s, reason);
	if (wrc < 0)
		return wrc;
	struct store_batch b = {.files = files, .nfiles = n};
	int rc = write_files(s, &b, NULL, &why);
	return rc < 0 ? fail(s, rc, why, reason) : 0;
}

/* ".<name>.tmp" beside path: hidden from a static server that serves the directory. */
static int
tmp_name(char out[STORE_PATH_MAX], const char *path)
{
	const char *slash = strrchr(path, '/');
	int dl = slash ? (int)(slash - path + 1) : 0;
	int n = snprintf(out, STORE_PATH_MAX, "%.*s.%s.tmp", dl, path, path + dl);
	return n > 0 && n < STORE_PATH_MAX ? 0 : -ENAMETOOLONG;
}

static int
write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* fsync of every directory in d: makes the names created or renamed in them durable. */
static int
sync_dirs(struct store *s, const struct dirset *d)
{
	for (size_t i = 0; i < d->n; i++) {
		int fd = openat(s->dirfd, d->path[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		int rc = fsync(fd) == 0 ? 0 : -errno;
		close(fd);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int
store_file_replace(struct store *s, const char *path, const uint8_t *data, size_t len,
                   const char **reason)
{
	int rc = writable(s, reason);
	if (rc < 0)
		return rc;
	char tmp[STORE_PATH_MAX];
	if (!path_ok(path) || tmp_name(tmp, path) < 0) {
		if (reason)
			*reason = "bad file path";
		return -EINVAL;
	}
	/* Not fail(): a failure here leaves the old file, and nothing committed depends on it. */
	struct dirset sync = {.n = 0}; /* directories made, then path's own */
	const char *why = "cannot create the temporary file";
	int fd = openat(s->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 && errno == ENOENT) {
		rc = make_parents(s->dirfd, path, &sync);
		if (rc < 0) {
			why = "cannot create the file's directory";
			goto out;
		}
		fd = openat(s->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	}
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	why = "cannot write the temporary file";
	rc = write_all(fd, data, len);
	if (rc == 0 && fdatasync(fd) < 0)
		rc = -errno, why = "cannot fdatasync the temporary file";
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc < 0)
		goto out;
	why = "cannot rename the temporary file";
	if (renameat(s->dirfd, tmp, s->dirfd, path) < 0) {
		rc = -errno;
		goto out;
	}
	rc = dirset_add_parent(&sync, path);
	if (rc == 0)
		rc = sync_dirs(s, &sync);
	if (rc < 0 && reason)
		*reason = "cannot fsync the directory after the rename";
	return rc;
out:
	unlinkat(s->dirfd, tmp, 0);
	if (reason)
		*reason = rc == -ENOSPC ? "disk full while replacing a file" : why;
	return rc;
}

int
store_head_put(struct store *s, const struct store_head *head, const char **reason)
{
	int wrc = writable(s, reason);
	if (wrc < 0)
		return wrc;
	if (head->size > s->state.size) {
		if (reason)
			*reason = "signed head is beyond the committed size";
		return -EINVAL;
	}
	if (head->sth_len + head->checkpoint_len > STORE_HEAD_MAX) {
		if (reason)
			*reason = "signed head bytes too long";
		return -EINVAL;
	}
	const char *why = NULL;
	int rc = sdb_head_put(&s->db, head, &why);
	if (rc == -EEXIST) { /* refused, nothing written: the store stays usable */
		if (reason)
			*reason = why;
		return rc;
	}
	if (rc < 0)
		return fail(s, rc, why, reason);
	__atomic_add_fetch(&s->head_seq, 1, __ATOMIC_RELEASE);
	return 0;
}

uint64_t
store_head_seq(struct store *s)
{
	return __atomic_load_n(&s->head_seq, __ATOMIC_ACQUIRE);
}

/* ---- reads --------------------------------------------------------------------------------- */

int
store_reader_open(struct store *s, struct store_reader **out)
{
	struct store_reader *r = calloc(1, sizeof *r);
	if (r == NULL)
		return -ENOMEM;
	r->s = s;
	int rc = mdb_txn_begin(s->db.state_env, NULL, MDB_RDONLY, &r->st);
	if (rc == 0)
		mdb_txn_reset(r->st);
	if (rc != 0) {
		store_reader_close(r);
		return sdb_err(rc, "reader", NULL);
	}
	*out = r;
	return 0;
}

void
store_reader_close(struct store_reader *r)
{
	if (r == NULL)
		return;
	if (r->st)
		mdb_txn_abort(r->st);
	free(r);
}

static uint64_t
be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* One lookup in a renewed, then reset, read transaction. */
static int
get_one(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, void *out, size_t cap)
{
	int rc = mdb_txn_renew(txn);
	if (rc != 0)
		return sdb_err(rc, "read", NULL);
	MDB_val k = {klen, (void *)key}, d;
	rc = mdb_get(txn, dbi, &k, &d);
	int ret;
	if (rc == 0)
		ret = d.mv_size > cap ? -ENOSPC
		                      : (memcpy(out, d.mv_data, d.mv_size), (int)d.mv_size);
	else
		ret = sdb_err(rc, "read", NULL);
	mdb_txn_reset(txn);
	return ret;
}

int
store_head_get(struct store_reader *r, struct store_head *out, uint8_t *buf, size_t cap)
{
	int n = get_one(r->st, r->s->db.meta, "head", 4, buf, cap);
	if (n < 0)
		return n;
	if (n < 56)
		return -EBADMSG;
	uint64_t lens = be64(buf + 48);
	size_t sl = (size_t)(lens >> 32), cl = (size_t)(lens & 0xffffffffu);
	if (56 + sl + cl != (size_t)n)
		return -EBADMSG;
	out->size = be64(buf);
	memcpy(out->root, buf + 8, STORE_HASH_LEN);
	out->timestamp = be64(buf + 40);
	out->sth = buf + 56;
	out->sth_len = sl;
	out->checkpoint = buf + 56 + sl;
	out->checkpoint_len = cl;
	return 0;
}

int
store_signed_get(struct store_reader *r, uint64_t size, uint8_t root[STORE_HASH_LEN],
                 uint64_t *timestamp)
{
	uint8_t key[8], v[STORE_HASH_LEN + 8];
	for (int i = 7; i >= 0; i--, size >>= 8)
		key[i] = (uint8_t)size;
	int n = get_one(r->st, r->s->db.sig, key, 8, v, sizeof v);
	if (n < 0)
		return n;
	if (n != (int)sizeof v)
		return -EBADMSG;
	memcpy(root, v, STORE_HASH_LEN);
	*timestamp = be64(v + STORE_HASH_LEN);
	return 0;
}

int
store_signed_each(struct store_reader *r,
                  int (*fn)(void *ctx, uint64_t size, const uint8_t root[STORE_HASH_LEN],
                            uint64_t timestamp),
                  void *ctx)
{
	int rc = mdb_txn_renew(r->st);
	if (rc != 0)
		return sdb_err(rc, "read", NULL);
	MDB_cursor *c;
	rc = mdb_cursor_open(r->st, r->s->db.sig, &c);
	if (rc != 0) {
		mdb_txn_reset(r->st);
		return sdb_err(rc, "read", NULL);
	}
	MDB_val k, d;
	int ret = 0;
	for (rc = mdb_cursor_get(c, &k, &d, MDB_FIRST); rc == 0 && ret == 0;
	     rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
		if (k.mv_size != 8 || d.mv_size != STORE_HASH_LEN + 8) {
			ret = -EBADMSG;
			break;
		}
		ret = fn(ctx, be64(k.mv_data), d.mv_data,
		         be64((uint8_t *)d.mv_data + STORE_HASH_LEN));
	}
	mdb_cursor_close(c);
	mdb_txn_reset(r->st);
	if (ret == 0 && rc != MDB_NOTFOUND && rc != 0)
		ret = sdb_err(rc, "read", NULL);
	return ret;
}

int
store_dedup_get(struct store_reader *r, const uint8_t key[STORE_KEY_LEN], uint8_t *value)
{
	return runs_get(r->s->runs, 0, key, value);
}

int
store_hash_get(struct store_reader *r, const uint8_t hash[STORE_HASH_LEN], uint64_t *index)
{
	uint8_t v[STORE_VALUE_MAX];
	int n = runs_get(r->s->runs, 1, hash, v);
	if (n < 0)
		return n;
	if (n != 8)
		return -EBADMSG;
	*index = be64(v);
	return 0;
}

int
store_issuer_get(struct store_reader *r, const uint8_t fp[STORE_KEY_LEN], uint8_t *buf, size_t cap)
{
	return get_one(r->st, r->s->db.issuers, fp, STORE_KEY_LEN, buf, cap);
}

int
store_mid_get(struct store_reader *r, unsigned level, uint64_t index,
              uint8_t out[STORE_MID_NODES][STORE_HASH_LEN])
{
	if (!r->s->db.has_mids || level > 255 || index >> 56)
		return -ENOENT;
	uint8_t key[8];
	uint64_t k = (uint64_t)level << 56 | index;
	for (int i = 0; i < 8; i++)
		key[i] = (uint8_t)(k >> (56 - 8 * i));
	int n = get_one(r->st, r->s->db.mids, key, sizeof key, (uint8_t *)out,
	                STORE_MID_NODES * STORE_HASH_LEN);
	if (n >= 0 && n != STORE_MID_NODES * STORE_HASH_LEN)
		return -EBADMSG;
	return n < 0 ? n : 0;
}

int
store_issuer_each(struct store_reader *r,
                  int (*fn)(void *ctx, const uint8_t fp[STORE_KEY_LEN], const uint8_t *der,
                            size_t len),
                  void *ctx)
{
	int rc = mdb_txn_renew(r->st);
	if (rc != 0)
		return sdb_err(rc, "read", NULL);
	MDB_cursor *c;
	rc = mdb_cursor_open(r->st, r->s->db.issuers, &c);
	if (rc != 0) {
		mdb_txn_reset(r->st);
		return sdb_err(rc, "read", NULL);
	}
	MDB_val k, d;
	int ret = 0;
	for (rc = mdb_cursor_get(c, &k, &d, MDB_FIRST); rc == 0 && ret == 0;
	     rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
		if (k.mv_size != STORE_KEY_LEN) {
			ret = -EBADMSG;
			break;
		}
		ret = fn(ctx, k.mv_data, d.mv_data, d.mv_size);
	}
	mdb_cursor_close(c);
	mdb_txn_reset(r->st);
	if (ret == 0 && rc != MDB_NOTFOUND && rc != 0)
		ret = sdb_err(rc, "read", NULL);
	return ret;
}

ssize_t
store_pread_all(int fd, uint8_t *buf, size_t len, uint64_t off)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, (off_t)(off + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

ssize_t
store_file_read(struct store *s, const char *path, uint8_t *buf, size_t cap)
{
	if (!path_ok(path))
		return -EINVAL;
	int fd = openat(s->dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t rc = store_pread_all(fd, buf, cap, 0);
	if (rc == (ssize_t)cap) { /* full buffer: too big unless the file ends exactly here */
		uint8_t probe;
		ssize_t more = store_pread_all(fd, &probe, 1, cap);
		rc = more == 0 ? rc : more > 0 ? -EFBIG : more;
	}
	close(fd);
	return rc;
}

int
store_file_open(struct store *s, const char *path, uint64_t *len)
{
	if (!path_ok(path))
		return -EINVAL;
	int fd = openat(s->dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -ENOENT;
	}
	*len = (uint64_t)st.st_size;
	return fd;
}

/* ---- operations ---------------------------------------------------------------------------- */

static void
du(int dirfd, const char *path, uint64_t *bytes, uint64_t *files, unsigned depth)
{
	int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || depth > 16) {
		if (fd >= 0)
			close(fd);
		return;
	}
	DIR *d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		struct stat st;
		if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		*bytes += (uint64_t)st.st_blocks * 512;
		if (S_ISDIR(st.st_mode))
			du(fd, e->d_name, bytes, files, depth + 1);
		else
			(*files)++;
	}
	closedir(d);
}

static uint64_t
file_bytes(int dirfd, const char *name)
{
	struct stat st;
	return fstatat(dirfd, name, &st, 0) == 0 ? (uint64_t)st.st_blocks * 512 : 0;
}

static int
table_stat(MDB_env *env, MDB_dbi dbi, uint64_t *bytes, uint64_t *rows)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
	if (rc != 0)
		return sdb_err(rc, "stat", NULL);
	MDB_stat st;
	rc = mdb_stat(txn, dbi, &st);
	mdb_txn_abort(txn);
	if (rc != 0)
		return sdb_err(rc, "stat", NULL);
	if (bytes)
		*bytes = (uint64_t)(st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages) *
		         st.ms_psize;
	*rows = st.ms_entries;
	return 0;
}

int
store_usage_get(struct store *s, struct store_usage *u)
{
	memset(u, 0, sizeof *u);
	du(s->dirfd, "tile", &u->tile_bytes, &u->tile_files, 0);
	du(s->dirfd, "edge", &u->edge_bytes, &u->edge_files, 0);
	u->state_bytes = file_bytes(s->dirfd, "state.mdb");
	struct runs_stats d, h;
	runs_stats(s->runs, 0, &d);
	runs_stats(s->runs, 1, &h);
	u->dedup_bytes = d.bytes, u->dedup_rows = d.rows;
	u->hash_bytes = h.bytes, u->hash_rows = h.rows;
	u->index_bytes = d.bytes + h.bytes;
	int rc = table_stat(s->db.state_env, s->db.sig, NULL, &u->signed_rows);
	if (rc == 0)
		rc = table_stat(s->db.state_env, s->db.issuers, NULL, &u->issuer_rows);
	return rc;
}
