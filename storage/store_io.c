/* storage/store_io.c: whole-file writes and fdatasync through io_uring. */
#include <errno.h>
#include <string.h>

#include "storage/store_int.h"

/* ---- fault injection (tests) ------------------------------------------------------------- */
static enum store_fault_op fault_op;
static unsigned fault_nth;
static int fault_res;

void
store_fault_inject(enum store_fault_op op, unsigned nth, int res)
{
	fault_op = op;
	fault_nth = nth;
	fault_res = res;
}

/* The completion's result, or the injected one when this is the armed completion of its kind
 * (`sync`: an fdatasync's). */
static int
cqe_result(const struct io_uring_cqe *cqe, bool sync)
{
	if (fault_nth == 0)
		return cqe->res;
	if (fault_op != STORE_FAULT_ANY && (fault_op == STORE_FAULT_SYNC) != sync)
		return cqe->res;
	if (--fault_nth > 0)
		return cqe->res;
	int res = fault_res;
	/* A short write keeps the rest for a resubmission; never more than the kernel took. */
	if (res > 0 && cqe->res >= 0 && res > cqe->res)
		res = cqe->res;
	return res;
}

int
sio_init(struct sio *io)
{
	memset(io, 0, sizeof *io);
	int rc = io_uring_queue_init(SIO_DEPTH, &io->ring, 0);
	if (rc < 0)
		return rc;
	io->ready = true;
	return 0;
}

void
sio_free(struct sio *io)
{
	if (io->ready)
		io_uring_queue_exit(&io->ring);
	io->ready = false;
}

#define MAX_WRITE (1u << 30)

static bool
queue_write(struct sio *io, struct sio_job *j, size_t tag)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&io->ring);
	if (sqe == NULL)
		return false;
	size_t left = j->len - j->done;
	unsigned n = left > MAX_WRITE ? MAX_WRITE : (unsigned)left;
	io_uring_prep_write(sqe, j->fd, j->data + j->done, n, j->off + j->done);
	io_uring_sqe_set_data64(sqe, tag);
	return true;
}

/* Submits what is queued and reaps at least one completion batch; for each, fn(tag, res).
 * Tags with SYNC_TAG set are fdatasyncs. */
#define SYNC_TAG ((uint64_t)1 << 62)

static int
reap(struct sio *io, int (*fn)(void *, uint64_t, int), void *ctx, unsigned *completed)
{
	int rc = io_uring_submit_and_wait(&io->ring, 1);
	if (rc < 0 && rc != -EINTR)
		return rc;
	struct io_uring_cqe *cqes[SIO_DEPTH];
	unsigned got = io_uring_peek_batch_cqe(&io->ring, cqes, SIO_DEPTH);
	int first = 0;
	for (unsigned i = 0; i < got; i++) {
		uint64_t tag = io_uring_cqe_get_data64(cqes[i]);
		int r = fn(ctx, tag, cqe_result(cqes[i], (tag & SYNC_TAG) != 0));
		if (r < 0 && first == 0)
			first = r;
	}
	io_uring_cq_advance(&io->ring, got);
	*completed = got;
	return first;
}

struct wctx {
	struct sio *io;
	struct sio_job *jobs;
	size_t *retry; /* tags to resubmit */
	size_t nretry;
};

static int
on_write(void *p, uint64_t tag, int res)
{
	struct wctx *c = p;
	struct sio_job *j = &c->jobs[tag];
	if (res == -EAGAIN || res == -EINTR) {
		c->retry[c->nretry++] = tag;
		return 0;
	}
	if (res < 0)
		return res;
	if (res == 0)
		return -EIO; /* no progress on a regular file: treat as an I/O error */
	j->done += (size_t)res;
	if (j->done < j->len)
		c->retry[c->nretry++] = tag; /* short write: continue from where it stopped */
	return 0;
}

static const char *
io_reason(int rc)
{
	switch (rc) {
	case -ENOSPC:
	case -EDQUOT:
		return "disk full while writing tiles";
	case -EFBIG:
		return "file size limit reached while writing tiles";
	case -EROFS:
		return "file system is read-only";
	default:
		return "I/O error while writing tiles";
	}
}

int
sio_write_all(struct sio *io, struct sio_job *jobs, size_t n, const char **reason)
{
	size_t retry[SIO_DEPTH];
	struct wctx c = {io, jobs, retry, 0};
	size_t next = 0;       /* next job never submitted */
	unsigned inflight = 0; /* submitted, not reaped */
	int err = 0;
	while (next < n || inflight > 0 || c.nretry > 0) {
		/* Resubmissions first, then new jobs, as far as the ring has room. */
		while (err == 0 && c.nretry > 0 && inflight < SIO_DEPTH &&
		       queue_write(io, &jobs[c.retry[c.nretry - 1]], c.retry[c.nretry - 1])) {
			c.nretry--;
			inflight++;
		}
		while (err == 0 && next < n && inflight < SIO_DEPTH) {
			if (jobs[next].done >= jobs[next].len) {
				next++;
				continue;
			}
			if (!queue_write(io, &jobs[next], next))
				break;
			next++;
			inflight++;
		}
		if (err != 0) {
			c.nretry = 0;
			next = n;
		}
		if (inflight == 0)
			continue;
		unsigned got = 0;
		int rc = reap(io, on_write, &c, &got);
		inflight -= got;
		if (rc < 0 && err == 0)
			err = rc;
	}
	if (err != 0 && reason)
		*reason = io_reason(err);
	return err;
}

struct sctx {
	const int *fds;
	size_t *retry;
	size_t nretry;
};

static int
on_sync(void *p, uint64_t tag, int res)
{
	struct sctx *c = p;
	tag &= ~SYNC_TAG;
	if (res == -EAGAIN || res == -EINTR) { /* not started: safe to ask again */
		c->retry[c->nretry++] = tag;
		return 0;
	}
	return res < 0 ? res : 0;
}

static bool
queue_sync(struct sio *io, int fd, size_t tag)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&io->ring);
	if (sqe == NULL)
		return false;
	io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
	io_uring_sqe_set_data64(sqe, tag | SYNC_TAG);
	return true;
}

int
sio_sync_all(struct sio *io, const int *fds, size_t n, struct sio_during *during,
             const char **reason)
{
	size_t retry[SIO_DEPTH];
	struct sctx c = {fds, retry, 0};
	size_t next = 0;
	unsigned inflight = 0;
	int err = 0;
	while (next < n || inflight > 0 || c.nretry > 0) {
		while (err == 0 && c.nretry > 0 && inflight < SIO_DEPTH &&
		       queue_sync(io, fds[c.retry[c.nretry - 1]], c.retry[c.nretry - 1])) {
			c.nretry--;
			inflight++;
		}
		while (err == 0 && next < n && inflight < SIO_DEPTH &&
		       queue_sync(io, fds[next], next)) {
			next++;
			inflight++;
		}
		if (err != 0) {
			c.nretry = 0;
			next = n;
		}
		if (during && during->fn) { /* the CPU work that overlaps the device's */
			if (inflight > 0 && io_uring_submit(&io->ring) < 0 && err == 0)
				err = -EIO;
			during->rc = during->fn(during->ctx, &during->why);
			during->fn = NULL;
		}
		if (inflight == 0)
			continue;
		unsigned got = 0;
		int rc = reap(io, on_sync, &c, &got);
		inflight -= got;
		if (rc < 0 && err == 0)
			err = rc;
	}
	if (during && during->fn) {
		during->rc = during->fn(during->ctx, &during->why);
		during->fn = NULL;
	}
	if (err != 0 && reason)
		*reason = err == -ENOSPC ? "disk full while syncing tiles"
		                         : "fdatasync failed: the written tiles may be lost";
	return err;
}

/* ---- writes and their fdatasyncs in flight together ---------------------------------------- */

#define DIR_TAG    ((uint64_t)1 << 61)
#define DIRECT_TAG ((uint64_t)1 << 60)
#define INDEX_TAG  (DIRECT_TAG - 1)

struct wsctx {
	struct sio_job *jobs;
	const int *dirs;
	bool sync_failed; /* the first error was an fdatasync's */
};

static bool
not_started(int res)
{
	return res == -EAGAIN || res == -EINTR || res == -ECANCELED;
}

static int
on_write_sync(void *p, uint64_t tag, int res)
{
	struct wsctx *c = p;
	size_t i = (size_t)(tag & INDEX_TAG);
	if (tag & DIR_TAG) {
		if (not_started(res)) /* rare: the directory synced here, blocking */
			res = fdatasync(c->dirs[i]) == 0 ? 0 : -errno;
		if (res < 0)
			c->sync_failed = true;
		return res < 0 ? res : 0;
	}
	struct sio_job *j = &c->jobs[i];
	if (tag & DIRECT_TAG) { /* anything short of whole is written again, buffered */
		if (res == (int)j->dlen)
			j->dok = true;
		else if (res < 0 && !not_started(res) && res != -EINVAL)
			return res;
		return 0;
	}
	if (tag & SYNC_TAG) {
		if (res == 0)
			j->synced = true;
		else if (!not_started(res))
			return c->sync_failed = true, res;
		return 0;
	}
	if (not_started(res))
		return 0; /* finished after the others */
	if (res < 0)
		return res;
	if (res == 0)
		return -EIO; /* no progress on a regular file: treat as an I/O error */
	j->done += (size_t)res;
	return 0;
}

/* The writes of job i linked to its file's fdatasync: the sync starts once the writes have
 * completed whole (a short or failed one cancels what follows it). Needs three free SQEs. */
static unsigned
queue_write_sync(struct sio *io, struct sio_job *j, size_t i)
{
	unsigned n = 1;
	if (j->dfd >= 0 && j->dlen > 0) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&io->ring);
		io_uring_prep_write(sqe, j->dfd, j->data, (unsigned)j->dlen, j->off);
		io_uring_sqe_set_data64(sqe, i | DIRECT_TAG);
		sqe->flags |= IOSQE_IO_LINK;
		n++;
	}
	if (j->done < j->len) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&io->ring);
		size_t left = j->len - j->done;
		unsigned wlen = left > MAX_WRITE ? MAX_WRITE : (unsigned)left;
		io_uring_prep_write(sqe, j->fd, j->data + j->done, wlen, j->off + j->done);
		io_uring_sqe_set_data64(sqe, i);
		sqe->flags |= IOSQE_IO_LINK;
		n++;
	}
	struct io_uring_sqe *sqe = io_uring_get_sqe(&io->ring);
	io_uring_prep_fsync(sqe, j->fd, IORING_FSYNC_DATASYNC);
	io_uring_sqe_set_data64(sqe, i | SYNC_TAG);
	return n;
}

/* Writes left over by the first pass (short, -EAGAIN) and syncs left undone (cancelled behind
 * them, or not started): rare, so plainly, one after another. */
static int
finish(struct sio *io, struct sio_job *jobs, size_t n, bool *sync_failed, const char **reason)
{
	for (size_t i = 0; i < n; i++) {
		struct sio_job *j = &jobs[i];
		if (j->dfd >= 0 && j->dlen > 0 && !j->dok) /* the aligned part again, buffered */
			j->done = 0, j->dlen = 0;
		if (j->done < j->len) /* written again: synced again after */
			j->synced = false;
	}
	int rc = sio_write_all(io, jobs, n, reason);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (jobs[i].synced)
			continue;
		if (fdatasync(jobs[i].fd) < 0)
			return *sync_failed = true, -errno;
		jobs[i].synced = true;
	}
	return 0;
}

int
sio_write_sync(struct sio *io, struct sio_job *jobs, size_t n, const int *dirs, size_t nd,
               struct sio_during *during, const char **reason)
{
	struct wsctx c = {jobs, dirs, false};
	size_t next = 0, nextd = 0;
	unsigned inflight = 0;
	int err = 0;
	for (size_t i = 0; i < n; i++)
		jobs[i].synced = jobs[i].dok = false;
	while (next < n || nextd < nd || inflight > 0) {
		while (err == 0 && next < n && io_uring_sq_space_left(&io->ring) >= 3 &&
		       inflight + 3 <= SIO_DEPTH) {
			inflight += queue_write_sync(io, &jobs[next], next);
			next++;
		}
		while (err == 0 && next == n && nextd < nd && inflight < SIO_DEPTH) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&io->ring);
			if (sqe == NULL)
				break;
			io_uring_prep_fsync(sqe, dirs[nextd], IORING_FSYNC_DATASYNC);
			io_uring_sqe_set_data64(sqe, nextd | DIR_TAG | SYNC_TAG);
			nextd++;
			inflight++;
		}
		if (err != 0)
			next = n, nextd = nd;
		if (during && during->fn) { /* the CPU work that overlaps the device's */
			if (inflight > 0 && io_uring_submit(&io->ring) < 0 && err == 0)
				err = -EIO;
			during->rc = during->fn(during->ctx, &during->why);
			during->fn = NULL;
		}
		if (inflight == 0)
			continue;
		unsigned got = 0;
		int rc = reap(io, on_write_sync, &c, &got);
		inflight -= got;
		if (rc < 0 && err == 0)
			err = rc;
	}
	if (during && during->fn) {
		during->rc = during->fn(during->ctx, &during->why);
		during->fn = NULL;
	}
	if (err == 0)
		err = finish(io, jobs, n, &c.sync_failed, reason);
	if (err != 0 && reason)
		*reason = !c.sync_failed   ? io_reason(err)
		          : err == -ENOSPC ? "disk full while syncing tiles"
		                           : "fdatasync failed: the written tiles may be lost";
	return err;
}
