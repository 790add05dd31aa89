/* storage/store_io.c: whole-file writes and fdatasync through io_uring. */
#include <errno.h>
#include <string.h>

#include "storage/store_int.h"

/* ---- fault injection (tests) ------------------------------------------------------------- */
static unsigned fault_nth;
static int fault_res;

void
store_fault_inject(unsigned nth, int res)
{
	fault_nth = nth;
	fault_res = res;
}

/* The completion's result, or the injected one when this is the armed completion. */
static int
cqe_result(const struct io_uring_cqe *cqe)
{
	if (fault_nth == 0)
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

/* Submits what is queued and reaps at least one completion batch; for each, fn(tag, res). */
static int
reap(struct sio *io, unsigned inflight, int (*fn)(void *, size_t, int), void *ctx,
     unsigned *completed)
{
	int rc = io_uring_submit_and_wait(&io->ring, 1);
	if (rc < 0 && rc != -EINTR)
		return rc;
	struct io_uring_cqe *cqes[SIO_DEPTH];
	unsigned got = io_uring_peek_batch_cqe(&io->ring, cqes, SIO_DEPTH);
	int first = 0;
	for (unsigned i = 0; i < got; i++) {
		int r = fn(ctx, (size_t)io_uring_cqe_get_data64(cqes[i]), cqe_result(cqes[i]));
		if (r < 0 && first == 0)
			first = r;
	}
	io_uring_cq_advance(&io->ring, got);
	*completed = got;
	(void)inflight;
	return first;
}

struct wctx {
	struct sio *io;
	struct sio_job *jobs;
	size_t *retry; /* tags to resubmit */
	size_t nretry;
};

static int
on_write(void *p, size_t tag, int res)
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
			if (jobs[next].len == 0) {
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
		int rc = reap(io, inflight, on_write, &c, &got);
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
on_sync(void *p, size_t tag, int res)
{
	struct sctx *c = p;
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
	io_uring_sqe_set_data64(sqe, tag);
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
		int rc = reap(io, inflight, on_sync, &c, &got);
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
