/* storage/runs.c: sorted run files merged in tiers; see runs.h for the contract and policy.
 *
 * Locks: `mlock` guards the run lists, ids, the mark, manifest writes, the failure and the
 * merge state; `cond` (with mlock) signals merge work, merge progress and stop. `snap_lock`
 * only guards the pointer to the published snapshot and readers taking a reference on it.
 * Run refcounts are changed under mlock only (by the list, each snapshot, a merge in flight);
 * readers count on the snapshot (atomically) and never free: the writer side reaps retired
 * snapshots whose count reached zero, so runs_get never unmaps and never makes a syscall.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "storage/runs.h"

#define RUN_MAGIC     "BIRCHRUN"
#define RUN_VERSION   1
#define RUN_HDR       64
#define ROW_FIXED     (STORE_KEY_LEN + 1) /* key and len before the value */
#define MAN_MAGIC     "BIRCHMAN"
#define MAN_VERSION   1
#define MAN_NAME      "manifest"
#define MAN_TMP       "manifest.tmp"
#define MAN_HDR       40
#define MAN_RUN       32
#define MAN_RUNS_MAX  65536
#define FANOUT_DEF    8
#define FANOUT_MAX    64
#define TIER_MAX      64
#define BEHIND        4             /* runs_add waits while a tier holds BEHIND * fanout runs */
#define NROWS_MAX     (1ull << 48)  /* sanity bound on a run's rows */
#define WBUF          (1u << 20)    /* write buffer: one pwrite per MiB */
#define WB_CHUNK      (32ull << 20) /* long writes start writeback every 32 MiB */
#define SORT_BITS     16            /* counting sort on at most the top 16 bits of a key */
#define SMALL_BUCKET  32            /* insertion sort up to this many rows, heapsort above */
#define SEARCH_SMALL  16            /* brackets this small are binary searched */
#define INTERP_MAX    12            /* interpolation probes before bisecting */
#define SUM_SEED      0x626972636872756eull
#define MSGS_PER_FILE 8
#define REAP_SECONDS  1

/* Invariants whose breach would corrupt the index: checked in every build. */
#define RUNS_MUST(c)                                                                               \
	do {                                                                                       \
		if (!(c))                                                                          \
			abort();                                                                   \
	} while (0)

struct run {
	uint64_t id, nrows;
	unsigned table, tier, width;
	int fd;
	const uint8_t *map; /* the whole file, read-only; rows at map + RUN_HDR */
	size_t maplen;
	unsigned refs; /* the list, each snapshot and a merge holding it; under mlock */
	char name[40];
};

/* An immutable view of every table's runs, oldest first. */
struct snap {
	atomic_long refs;  /* readers, plus one while published */
	struct snap *next; /* on the retired list */
	size_t n[RUNS_TABLES_MAX];
	struct run **runs[RUNS_TABLES_MAX];
	struct run *all[];
};

struct rlist {
	struct run **v; /* oldest first */
	size_t n, cap;
};

/* A sort entry: a row of the caller's array by position. */
struct ent {
	uint64_t k; /* the key's first 8 bytes, big-endian */
	uint32_t i; /* position in the caller's array: the tie-break that makes the sort stable */
	uint32_t pad;
};

struct mjob {
	unsigned t, tier, k;
	size_t start;
	uint64_t id;
	struct run *in[FANOUT_MAX]; /* oldest first */
};

/* One file being written: rows gathered in buf, one pwrite per buffer. */
struct wr {
	int fd;
	uint8_t *buf;
	size_t used;
	uint64_t off, started; /* bytes written; bytes handed to writeback */
	uint64_t sum;          /* checksum of the rows so far */
	const atomic_bool *stop;
};

struct runs {
	char *dir;
	int dirfd;
	unsigned ntables, fanout;
	bool read_only;

	pthread_mutex_t mlock;
	pthread_cond_t cond;
	struct rlist list[RUNS_TABLES_MAX];
	uint64_t next_id;
	_Atomic uint64_t mark; /* written under mlock; read by runs_mark without it */
	int failed_rc;
	bool failed_told;
	char failed_why[320];
	bool merging, thread_running;
	atomic_bool stop;
	pthread_t thread;
	struct snap *retired;
	uint8_t *man; /* manifest encoding buffer */
	size_t man_cap;

	pthread_mutex_t snap_lock;
	struct snap *snap;

	/* runs_add scratch (the adding thread), grown to the largest add */
	uint8_t *abuf;
	struct ent *ent, *ent2;
	size_t ent_cap;
	uint32_t *count;
	/* merge scratch (the merge thread) */
	uint8_t *mbuf;
};

/* ---- small helpers ---------------------------------------------------------------------- */

static __thread char why_buf[320];

/* A reason naming a file: in this thread's buffer, valid until its next runs_* call. */
__attribute__((format(printf, 1, 2))) static const char *
whyf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why_buf, sizeof why_buf, fmt, ap);
	va_end(ap);
	return why_buf;
}

static uint32_t
get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t
get_le64(const uint8_t *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

static void
put_le32(uint8_t *p, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void
put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

/* The key's first 8 bytes as a big-endian number: its position in the key space. */
static inline uint64_t
key64(const uint8_t *key)
{
	uint64_t v;
	memcpy(&v, key, sizeof v);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

/* A fast non-cryptographic checksum (corruption, not attacks). */
static inline uint64_t
sum_mix(uint64_t h, uint64_t w)
{
	h = (h ^ w) * 0x9e3779b97f4a7c15ull;
	return h ^ (h >> 31);
}

static uint64_t
sum_bytes(uint64_t h, const uint8_t *p, size_t n)
{
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		h = sum_mix(h, w);
	}
	uint64_t w = (uint64_t)n << 56;
	for (unsigned s = 0; i < n; i++, s += 8)
		w ^= (uint64_t)p[i] << s;
	return sum_mix(h, w);
}

static int
pwrite_all(int fd, const uint8_t *p, size_t n, uint64_t off)
{
	while (n > 0) {
		ssize_t k = pwrite(fd, p, n, (off_t)off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return -EIO;
		p += k, n -= (size_t)k, off += (uint64_t)k;
	}
	return 0;
}

static int
pread_all(int fd, uint8_t *p, size_t n)
{
	for (size_t done = 0; done < n;) {
		ssize_t k = pread(fd, p + done, n - done, (off_t)done);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return -EBADMSG;
		done += (size_t)k;
	}
	return 0;
}

static void
cond_wait_seconds(pthread_cond_t *c, pthread_mutex_t *m, unsigned seconds)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += seconds;
	pthread_cond_timedwait(c, m, &ts);
}

/* ---- failure: the first one sticks ------------------------------------------------------ */

/* Under mlock. `told`: the caller reports it now (a failed add), else the next add does. */
static void
fail(struct runs *r, int rc, const char *why, bool told)
{
	if (r->failed_rc == 0) {
		r->failed_rc = rc;
		r->failed_told = told;
		snprintf(r->failed_why, sizeof r->failed_why, "%s",
		         why ? why : "index write failed");
	}
	pthread_cond_broadcast(&r->cond);
}

/* Under mlock, failed: the original code the first time, -EIO after. */
static int
failed_report(struct runs *r, const char **why)
{
	int rc = r->failed_told ? -EIO : r->failed_rc;
	r->failed_told = true;
	*why = whyf("%s", r->failed_why);
	return rc;
}

/* ---- run files ---------------------------------------------------------------------------- */

static struct run *
run_alloc(uint64_t id, unsigned table, unsigned tier, uint64_t nrows, unsigned width)
{
	struct run *run = calloc(1, sizeof *run);
	if (run == NULL)
		return NULL;
	run->id = id, run->table = table, run->tier = tier;
	run->nrows = nrows, run->width = width;
	run->fd = -1;
	snprintf(run->name, sizeof run->name, "t%u-%" PRIu64 ".run", table, id);
	return run;
}

static void
run_free(struct run *run)
{
	if (run->map)
		munmap((void *)run->map, run->maplen);
	if (run->fd >= 0)
		close(run->fd);
	free(run);
}

/* Under mlock. */
static void
run_put(struct run *run)
{
	RUNS_MUST(run->refs > 0);
	if (--run->refs == 0)
		run_free(run);
}

static void
hdr_encode(uint8_t h[RUN_HDR], const struct run *run, uint64_t rows_sum)
{
	memset(h, 0, RUN_HDR);
	memcpy(h, RUN_MAGIC, 8);
	put_le32(h + 8, RUN_VERSION);
	put_le32(h + 12, run->table);
	put_le32(h + 16, run->width);
	put_le32(h + 20, run->tier);
	put_le64(h + 24, run->nrows);
	put_le64(h + 32, run->id);
	put_le64(h + 40, rows_sum);
	put_le64(h + 56, sum_bytes(SUM_SEED, h, 56));
}

/* What is wrong with a run's header given what the manifest says; NULL when sane. */
static const char *
hdr_problem(const uint8_t *h, const struct run *run)
{
	if (memcmp(h, RUN_MAGIC, 8) != 0)
		return "not a run file (bad magic)";
	if (get_le64(h + 56) != sum_bytes(SUM_SEED, h, 56))
		return "header checksum mismatch";
	if (get_le32(h + 8) != RUN_VERSION)
		return "unknown run format version";
	if (get_le32(h + 12) != run->table || get_le32(h + 16) != run->width ||
	    get_le32(h + 20) != run->tier || get_le64(h + 24) != run->nrows ||
	    get_le64(h + 32) != run->id)
		return "header disagrees with the manifest";
	return NULL;
}

/* Maps run->fd whole for lookups and checks the header. */
static int
run_map(struct run *run, const char **why)
{
	struct stat st;
	if (fstat(run->fd, &st) < 0) {
		int err = errno;
		*why = whyf("cannot stat index run %s", run->name);
		return -err;
	}
	uint64_t want = RUN_HDR + run->nrows * run->width;
	if ((uint64_t)st.st_size != want) {
		*why = whyf("index run %s: %" PRIu64 " bytes, the manifest says %" PRIu64,
		            run->name, (uint64_t)st.st_size, want);
		return -EBADMSG;
	}
	void *m = mmap(NULL, want, PROT_READ, MAP_SHARED, run->fd, 0);
	if (m == MAP_FAILED) {
		int err = errno;
		*why = whyf("cannot map index run %s", run->name);
		return -err;
	}
	(void)madvise(m, want, MADV_RANDOM); /* a lookup reads a few pages: no readahead */
	run->map = m, run->maplen = want;
	const char *bad = hdr_problem(run->map, run);
	if (bad) {
		*why = whyf("index run %s: %s", run->name, bad);
		return -EBADMSG;
	}
	return 0;
}

/* A second, sequential mapping for reading a run whole (merges, checks). */
static const uint8_t *
run_map_seq(const struct run *run)
{
	void *m = mmap(NULL, run->maplen, PROT_READ, MAP_SHARED, run->fd, 0);
	if (m == MAP_FAILED)
		return NULL;
	(void)madvise(m, run->maplen, MADV_SEQUENTIAL);
	return m;
}

static int
wr_flush(struct wr *w)
{
	if (w->stop && atomic_load_explicit(w->stop, memory_order_relaxed))
		return -ECANCELED;
	int rc = pwrite_all(w->fd, w->buf, w->used, w->off);
	if (rc < 0)
		return rc;
	w->off += w->used, w->used = 0;
	if (w->off - w->started >= WB_CHUNK) {
		/* Start writeback early: dirty pages stay bounded, the final fdatasync is short. */
		(void)sync_file_range(w->fd, (off_t)w->started, (off_t)(w->off - w->started),
		                      SYNC_FILE_RANGE_WRITE);
		w->started = w->off;
	}
	return 0;
}

/* Room for one row of `width` bytes at the end of the buffer. */
static inline int
wr_row(struct wr *w, unsigned width, uint8_t **row)
{
	if (w->used + width > WBUF) {
		int rc = wr_flush(w);
		if (rc < 0)
			return rc;
	}
	*row = w->buf + w->used;
	w->used += width;
	return 0;
}

/* Creates run->name and starts a writer on it, the header's place left blank. */
static int
run_create(struct runs *r, struct run *run, struct wr *w, uint8_t *buf, const atomic_bool *stop,
           const char **why)
{
	run->fd = openat(r->dirfd, run->name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (run->fd < 0) {
		int err = errno;
		*why = whyf("creating index run %s", run->name);
		return -err;
	}
	*w = (struct wr){.fd = run->fd, .buf = buf, .used = RUN_HDR, .sum = SUM_SEED, .stop = stop};
	memset(buf, 0, RUN_HDR);
	return 0;
}

/* Writes what is buffered and the header, fdatasyncs and maps the run. */
static int
run_finish(struct run *run, struct wr *w, const char **why)
{
	uint8_t h[RUN_HDR];
	int rc = wr_flush(w);
	if (rc == -ECANCELED)
		return rc;
	if (rc == 0) {
		hdr_encode(h, run, w->sum);
		rc = pwrite_all(run->fd, h, sizeof h, 0);
	}
	if (rc < 0) {
		*why = whyf("writing index run %s", run->name);
		return rc;
	}
	if (fdatasync(run->fd) < 0) {
		int err = errno;
		*why = whyf("syncing index run %s", run->name);
		return -err;
	}
	return run_map(run, why);
}

/* Removes a run file that no manifest names and frees it. */
static void
run_discard(struct runs *r, struct run *run)
{
	(void)unlinkat(r->dirfd, run->name, 0);
	run_free(run);
}

/* ---- snapshots ------------------------------------------------------------------------------ */

/* Under mlock: a snapshot of the lists, holding a reference on each run. */
static struct snap *
snap_build(struct runs *r)
{
	size_t total = 0;
	for (unsigned t = 0; t < r->ntables; t++)
		total += r->list[t].n;
	struct snap *s = malloc(sizeof *s + total * sizeof(struct run *));
	if (s == NULL)
		return NULL;
	atomic_init(&s->refs, 1);
	s->next = NULL;
	struct run **p = s->all;
	for (unsigned t = 0; t < RUNS_TABLES_MAX; t++) {
		const struct rlist *l = &r->list[t];
		s->runs[t] = p, s->n[t] = t < r->ntables ? l->n : 0;
		for (size_t i = 0; i < s->n[t]; i++)
			p[i] = l->v[i], p[i]->refs++;
		p += s->n[t];
	}
	return s;
}

/* Under mlock. */
static void
snap_free(struct snap *s)
{
	for (unsigned t = 0; t < RUNS_TABLES_MAX; t++)
		for (size_t i = 0; i < s->n[t]; i++)
			run_put(s->runs[t][i]);
	free(s);
}

/* Under mlock: frees retired snapshots no reader holds any more. */
static void
snap_reap(struct runs *r)
{
	struct snap **pp = &r->retired;
	while (*pp) {
		struct snap *s = *pp;
		if (atomic_load_explicit(&s->refs, memory_order_acquire) == 0) {
			*pp = s->next;
			snap_free(s);
		} else {
			pp = &s->next;
		}
	}
}

/* Under mlock: makes s the snapshot readers get (NULL at close). */
static void
snap_publish(struct runs *r, struct snap *s)
{
	pthread_mutex_lock(&r->snap_lock);
	struct snap *old = r->snap;
	r->snap = s;
	pthread_mutex_unlock(&r->snap_lock);
	if (old) {
		atomic_fetch_sub_explicit(&old->refs, 1, memory_order_release);
		old->next = r->retired;
		r->retired = old;
	}
	snap_reap(r);
}

static struct snap *
snap_get(struct runs *r)
{
	pthread_mutex_lock(&r->snap_lock);
	struct snap *s = r->snap;
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(&r->snap_lock);
	return s;
}

static void
snap_put(struct snap *s)
{
	atomic_fetch_sub_explicit(&s->refs, 1, memory_order_release);
}

/* ---- run lists ------------------------------------------------------------------------------ */

static int
list_reserve(struct rlist *l, size_t more)
{
	if (l->n + more <= l->cap)
		return 0;
	size_t cap = l->cap ? l->cap : 16;
	while (cap < l->n + more)
		cap *= 2;
	struct run **v = realloc(l->v, cap * sizeof *v);
	if (v == NULL)
		return -ENOMEM;
	l->v = v, l->cap = cap;
	return 0;
}

/* Under mlock: the next group to merge, `fanout` adjacent runs of one tier: the lowest such
 * tier over all tables, then the oldest group. False when there is none. */
static bool
merge_pick(const struct runs *r, struct mjob *j)
{
	unsigned best = TIER_MAX - 1; /* a tier that cannot climb is never merged */
	bool found = false;
	for (unsigned t = 0; t < r->ntables; t++) {
		const struct rlist *l = &r->list[t];
		for (size_t i = 0, e; i < l->n; i = e) {
			unsigned tier = l->v[i]->tier;
			for (e = i + 1; e < l->n && l->v[e]->tier == tier;)
				e++;
			if (e - i >= r->fanout && tier < best) {
				best = tier, found = true;
				j->t = t, j->tier = tier, j->start = i, j->k = r->fanout;
			}
		}
	}
	return found;
}

/* Under mlock: whether some tier holds BEHIND * fanout runs (runs_add then waits). */
static bool
merges_behind(const struct runs *r)
{
	for (unsigned t = 0; t < r->ntables; t++) {
		unsigned count[TIER_MAX] = {0};
		const struct rlist *l = &r->list[t];
		for (size_t i = 0; i < l->n; i++)
			if (++count[l->v[i]->tier] >= BEHIND * r->fanout)
				return true;
	}
	return false;
}

/* ---- manifest ------------------------------------------------------------------------------- */

/* Under mlock: the lists, next id and mark, durably: write tmp, fdatasync, rename, fsync dir. */
static int
manifest_write(struct runs *r, uint64_t mark, const char **why)
{
	size_t nruns = 0;
	for (unsigned t = 0; t < r->ntables; t++)
		nruns += r->list[t].n;
	size_t len = MAN_HDR + nruns * MAN_RUN + 8;
	if (len > r->man_cap) {
		uint8_t *m = realloc(r->man, len * 2);
		if (m == NULL) {
			*why = "no memory for the index manifest";
			return -ENOMEM;
		}
		r->man = m, r->man_cap = len * 2;
	}
	uint8_t *p = r->man;
	memset(p, 0, MAN_HDR);
	memcpy(p, MAN_MAGIC, 8);
	put_le32(p + 8, MAN_VERSION);
	put_le32(p + 12, r->ntables);
	put_le32(p + 16, (uint32_t)nruns);
	put_le64(p + 24, r->next_id);
	put_le64(p + 32, mark);
	p += MAN_HDR;
	for (unsigned t = 0; t < r->ntables; t++)
		for (size_t i = 0; i < r->list[t].n; i++, p += MAN_RUN) {
			const struct run *run = r->list[t].v[i];
			memset(p, 0, MAN_RUN);
			put_le64(p, run->id);
			put_le64(p + 8, run->nrows);
			put_le32(p + 16, run->table);
			put_le32(p + 20, run->tier);
			put_le32(p + 24, run->width);
		}
	put_le64(p, sum_bytes(SUM_SEED, r->man, len - 8));

	int fd = openat(r->dirfd, MAN_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		*why = "creating the index manifest.tmp";
		return -errno;
	}
	int rc = pwrite_all(fd, r->man, len, 0);
	if (rc == 0 && fdatasync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc < 0) {
		*why = "writing the index manifest.tmp";
		return rc;
	}
	if (renameat(r->dirfd, MAN_TMP, r->dirfd, MAN_NAME) < 0) {
		*why = "renaming the index manifest";
		return -errno;
	}
	if (fsync(r->dirfd) < 0) {
		*why = "syncing the index directory after the manifest";
		return -errno;
	}
	return 0;
}

/* One run entry of a manifest: checked, opened and mapped, appended to its table's list. */
static int
manifest_run(struct runs *r, const uint8_t *p, const char **why)
{
	uint64_t id = get_le64(p), nrows = get_le64(p + 8);
	unsigned table = get_le32(p + 16), tier = get_le32(p + 20), width = get_le32(p + 24);
	if (table >= r->ntables || tier >= TIER_MAX || width <= ROW_FIXED ||
	    width > ROW_FIXED + STORE_VALUE_MAX || nrows == 0 || nrows > NROWS_MAX || id == 0 ||
	    id >= r->next_id) {
		*why = whyf("%s/%s: a run entry is out of range", r->dir, MAN_NAME);
		return -EBADMSG;
	}
	for (unsigned t = 0; t < r->ntables; t++)
		for (size_t i = 0; i < r->list[t].n; i++)
			if (r->list[t].v[i]->id == id) {
				*why = whyf("%s/%s: run %" PRIu64 " named twice", r->dir, MAN_NAME,
				            id);
				return -EBADMSG;
			}
	struct rlist *l = &r->list[table];
	struct run *run = run_alloc(id, table, tier, nrows, width);
	if (run == NULL || list_reserve(l, 1) < 0) {
		free(run);
		*why = "no memory for the index runs";
		return -ENOMEM;
	}
	run->fd = openat(r->dirfd, run->name, O_RDONLY | O_CLOEXEC);
	int rc = run->fd < 0 ? -errno : run_map(run, why);
	if (run->fd < 0)
		*why = whyf("cannot open index run %s named by the manifest", run->name);
	if (rc < 0) {
		run_free(run);
		return rc;
	}
	run->refs = 1;
	l->v[l->n++] = run;
	return 0;
}

static int
manifest_parse(struct runs *r, const uint8_t *m, size_t len, unsigned want_tables, const char **why)
{
	if (len < MAN_HDR + 8 || memcmp(m, MAN_MAGIC, 8) != 0) {
		*why = whyf("%s/%s: not an index manifest", r->dir, MAN_NAME);
		return -EBADMSG;
	}
	if (get_le64(m + len - 8) != sum_bytes(SUM_SEED, m, len - 8)) {
		*why = whyf("%s/%s: checksum mismatch", r->dir, MAN_NAME);
		return -EBADMSG;
	}
	uint32_t version = get_le32(m + 8), ntables = get_le32(m + 12), nruns = get_le32(m + 16);
	if (version != MAN_VERSION) {
		*why = whyf("%s/%s: unknown manifest version %u", r->dir, MAN_NAME, version);
		return -EBADMSG;
	}
	if (ntables == 0 || ntables > RUNS_TABLES_MAX || len != MAN_HDR + nruns * MAN_RUN + 8) {
		*why = whyf("%s/%s: header out of range", r->dir, MAN_NAME);
		return -EBADMSG;
	}
	if (want_tables && want_tables != ntables) {
		*why = whyf("%s/%s holds %u tables, not %u", r->dir, MAN_NAME, ntables,
		            want_tables);
		return -EINVAL;
	}
	r->ntables = ntables;
	r->next_id = get_le64(m + 24);
	atomic_store(&r->mark, get_le64(m + 32));
	for (uint32_t i = 0; i < nruns; i++) {
		int rc = manifest_run(r, m + MAN_HDR + (size_t)i * MAN_RUN, why);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Reads the manifest and opens every run it names; a missing manifest is a new index. */
static int
manifest_load(struct runs *r, unsigned want_tables, const char **why)
{
	int fd = openat(r->dirfd, MAN_NAME, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		r->ntables = want_tables ? want_tables : 1;
		r->next_id = 1;
		atomic_store(&r->mark, 0);
		return 0;
	}
	if (fd < 0) {
		int err = errno;
		*why = whyf("cannot open %s/%s", r->dir, MAN_NAME);
		return -err;
	}
	struct stat st;
	int rc = fstat(fd, &st) < 0 ? -errno : 0;
	size_t len = rc == 0 ? (size_t)st.st_size : 0;
	uint8_t *m = NULL;
	if (rc == 0 && (len < MAN_HDR + 8 || len > MAN_HDR + MAN_RUNS_MAX * MAN_RUN + 8)) {
		*why = whyf("%s/%s: %zu bytes is not a manifest", r->dir, MAN_NAME, len);
		rc = -EBADMSG;
	} else if (rc == 0 && (m = malloc(len)) == NULL) {
		*why = "no memory for the index manifest";
		rc = -ENOMEM;
	} else if (rc == 0 && (rc = pread_all(fd, m, len)) < 0) {
		*why = whyf("cannot read %s/%s", r->dir, MAN_NAME);
	} else if (rc < 0) {
		*why = whyf("cannot stat %s/%s", r->dir, MAN_NAME);
	}
	close(fd);
	if (rc == 0)
		rc = manifest_parse(r, m, len, want_tables, why);
	free(m);
	return rc;
}

static bool
named(const struct runs *r, unsigned t, uint64_t id)
{
	if (t >= r->ntables)
		return false;
	for (size_t i = 0; i < r->list[t].n; i++)
		if (r->list[t].v[i]->id == id)
			return true;
	return false;
}

/* Removes what a crash left: run files the manifest does not name, a manifest.tmp. */
static int
remove_strays(struct runs *r, const char **why)
{
	int fd = dup(r->dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (d == NULL) {
		int err = errno;
		if (fd >= 0)
			close(fd);
		*why = whyf("cannot list %s", r->dir);
		return -err;
	}
	unsigned removed = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		unsigned t;
		uint64_t id;
		char canon[40];
		bool stray = strcmp(e->d_name, MAN_TMP) == 0;
		if (!stray && sscanf(e->d_name, "t%u-%" SCNu64 ".run", &t, &id) == 2) {
			snprintf(canon, sizeof canon, "t%u-%" PRIu64 ".run", t, id);
			stray = strcmp(canon, e->d_name) == 0 && !named(r, t, id);
		}
		if (stray && unlinkat(r->dirfd, e->d_name, 0) == 0)
			removed++;
	}
	closedir(d);
	if (removed && fsync(r->dirfd) < 0) {
		int err = errno;
		*why = whyf("syncing %s after removing leftover runs", r->dir);
		return -err;
	}
	return 0;
}

/* ---- sorting a new run ------------------------------------------------------------------- */

static inline int
ent_cmp(const struct store_row *rows, const struct ent *a, const struct ent *b)
{
	if (a->k != b->k)
		return a->k < b->k ? -1 : 1;
	int c = memcmp(rows[a->i].key + 8, rows[b->i].key + 8, STORE_KEY_LEN - 8);
	if (c != 0)
		return c;
	return (a->i > b->i) - (a->i < b->i);
}

static void
ent_insertion_sort(const struct store_row *rows, struct ent *e, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		struct ent x = e[i];
		size_t j = i;
		for (; j > 0 && ent_cmp(rows, &e[j - 1], &x) > 0; j--)
			e[j] = e[j - 1];
		e[j] = x;
	}
}

static void
ent_sift(const struct store_row *rows, struct ent *e, size_t root, size_t n)
{
	for (size_t c; (c = 2 * root + 1) < n; root = c) {
		if (c + 1 < n && ent_cmp(rows, &e[c], &e[c + 1]) < 0)
			c++;
		if (ent_cmp(rows, &e[root], &e[c]) >= 0)
			return;
		struct ent x = e[root];
		e[root] = e[c], e[c] = x;
	}
}

/* For a crowded bucket (keys that are not uniform): O(m log m), no allocation. */
static void
ent_heap_sort(const struct store_row *rows, struct ent *e, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		ent_sift(rows, e, i, n);
	for (size_t end = n; end-- > 1;) {
		struct ent x = e[0];
		e[0] = e[end], e[end] = x;
		ent_sift(rows, e, 0, end);
	}
}

static int
sort_grow(struct runs *r, size_t n)
{
	if (n <= r->ent_cap)
		return 0;
	size_t cap = n + n / 4;
	struct ent *a = realloc(r->ent, cap * sizeof *a);
	if (a)
		r->ent = a;
	struct ent *b = a ? realloc(r->ent2, cap * sizeof *b) : NULL;
	if (b == NULL)
		return -ENOMEM;
	r->ent2 = b, r->ent_cap = cap;
	return 0;
}

/* Sorts rows by key into r->ent2: a counting sort on the top bits of the key (one bucket per
 * row or so, at most 2^16), then each bucket by (key, position). Stable: the position breaks
 * ties, so of equal keys the earlier row comes first. O(n) for uniform keys. */
static int
sort_rows(struct runs *r, const struct store_row *rows, size_t n)
{
	if (sort_grow(r, n) < 0)
		return -ENOMEM;
	unsigned bits = 1;
	while (bits < SORT_BITS && ((size_t)1 << bits) < n)
		bits++;
	size_t nb = (size_t)1 << bits;
	unsigned shift = 64 - bits;
	uint32_t *cnt = r->count;
	struct ent *e = r->ent, *out = r->ent2;
	memset(cnt, 0, (nb + 1) * sizeof *cnt);
	for (size_t i = 0; i < n; i++) {
		e[i] = (struct ent){.k = key64(rows[i].key), .i = (uint32_t)i};
		cnt[(e[i].k >> shift) + 1]++;
	}
	for (size_t b = 1; b <= nb; b++)
		cnt[b] += cnt[b - 1];
	for (size_t i = 0; i < n; i++)
		out[cnt[e[i].k >> shift]++] = e[i];
	/* now cnt[b] is where bucket b ends */
	for (size_t b = 0, start = 0; b < nb; start = cnt[b], b++) {
		size_t m = cnt[b] - start;
		if (m > SMALL_BUCKET)
			ent_heap_sort(rows, out + start, m);
		else if (m > 1)
			ent_insertion_sort(rows, out + start, m);
	}
	return 0;
}

/* One new tier-0 run of n rows (n > 0): sorted, written, synced, mapped. */
static int
add_run(struct runs *r, unsigned t, uint64_t id, const struct store_row *rows, size_t n,
        unsigned width, struct run **out, const char **why)
{
	struct run *run = run_alloc(id, t, 0, n, width);
	if (run == NULL || sort_rows(r, rows, n) < 0) {
		free(run);
		*why = "no memory to sort index rows";
		return -ENOMEM;
	}
	struct wr w;
	int rc = run_create(r, run, &w, r->abuf, NULL, why);
	for (size_t j = 0; rc == 0 && j < n; j++) {
		const struct store_row *row = &rows[r->ent2[j].i];
		uint8_t *p;
		if ((rc = wr_row(&w, width, &p)) < 0)
			break;
		memcpy(p, row->key, STORE_KEY_LEN);
		p[STORE_KEY_LEN] = row->len;
		memcpy(p + ROW_FIXED, row->value, row->len);
		memset(p + ROW_FIXED + row->len, 0, width - ROW_FIXED - row->len);
		w.sum = sum_bytes(w.sum, p, width);
	}
	if (rc < 0 && run->fd >= 0)
		*why = whyf("writing index run %s", run->name);
	if (rc == 0)
		rc = run_finish(run, &w, why);
	if (rc < 0) {
		run_discard(r, run);
		return rc;
	}
	*out = run;
	return 0;
}

/* ---- lookups -------------------------------------------------------------------------------- */

/* The first row of `run` whose key equals key, or NULL. Each probe interpolates between the
 * keys at the ends of the bracket [lo, hi): about log log n probes for uniform keys, each
 * nearer the target than the last (so later probes hit cached lines). After INTERP_MAX
 * probes, or when interpolation cannot help (equal end keys), it bisects: O(log n) at worst. */
static const uint8_t *
run_find(const struct run *run, const uint8_t *key)
{
	const uint8_t *base = run->map + RUN_HDR;
	size_t w = run->width, lo = 0, hi = (size_t)run->nrows;
	uint64_t k = key64(key);
	/* rows below lo are < key, rows from hi on are >= key; keys within lie in [klo, khi] */
	unsigned __int128 klo = 0, khi = (unsigned __int128)1 << 64;
	for (unsigned probes = 0; hi - lo > SEARCH_SMALL; probes++) {
		size_t span = hi - lo, pos;
		if (probes >= INTERP_MAX || khi <= klo) {
			pos = lo + span / 2;
		} else {
			unsigned __int128 off = (k - klo) * span / (khi - klo);
			pos = lo + (off < span ? (size_t)off : span - 1);
		}
		const uint8_t *row = base + pos * w;
		if (memcmp(row, key, STORE_KEY_LEN) < 0)
			lo = pos + 1, klo = key64(row);
		else
			hi = pos, khi = key64(row);
	}
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (memcmp(base + mid * w, key, STORE_KEY_LEN) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < run->nrows && memcmp(base + lo * w, key, STORE_KEY_LEN) == 0)
		return base + lo * w;
	return NULL;
}

/* Starts loading the row a search of run will probe first: the first probes of different runs
 * are independent, so their cache misses overlap instead of adding up. */
static inline void
run_prefetch(const struct run *run, uint64_t k)
{
	size_t pos = (size_t)(((unsigned __int128)k * run->nrows) >> 64);
	__builtin_prefetch(run->map + RUN_HDR + pos * run->width);
}

int
runs_get(struct runs *r, unsigned t, const uint8_t key[STORE_KEY_LEN], uint8_t *value)
{
	if (t >= r->ntables)
		return -ENOENT;
	struct snap *s = snap_get(r);
	int rc = -ENOENT;
	uint64_t k = key64(key);
	for (size_t i = 0; i < s->n[t]; i++)
		run_prefetch(s->runs[t][i], k);
	for (size_t i = 0; i < s->n[t]; i++) { /* oldest first: the first match wins */
		const struct run *run = s->runs[t][i];
		const uint8_t *row = run_find(run, key);
		if (row == NULL)
			continue;
		unsigned len = row[STORE_KEY_LEN];
		if (len == 0 || len > run->width - ROW_FIXED) {
			rc = -EBADMSG; /* a corrupt file must not overrun value */
		} else {
			memcpy(value, row + ROW_FIXED, len);
			rc = (int)len;
		}
		break;
	}
	snap_put(s);
	return rc;
}

/* ---- merges --------------------------------------------------------------------------------- */

struct src {
	const uint8_t *p, *end; /* the next row, the end of the rows */
	uint64_t k;             /* key64 of the next row */
	unsigned width, age;    /* age: position in the job, 0 oldest */
};

/* Heap order: by key, then the older input first (so the oldest of equal keys is emitted). */
static inline bool
src_less(const struct src *a, const struct src *b)
{
	if (a->k != b->k)
		return a->k < b->k;
	int c = memcmp(a->p + 8, b->p + 8, STORE_KEY_LEN - 8);
	return c != 0 ? c < 0 : a->age < b->age;
}

static void
src_sift(struct src *h, size_t n, size_t i)
{
	for (size_t c; (c = 2 * i + 1) < n; i = c) {
		if (c + 1 < n && src_less(&h[c + 1], &h[c]))
			c++;
		if (!src_less(&h[c], &h[i]))
			return;
		struct src x = h[i];
		h[i] = h[c], h[c] = x;
	}
}

/* Streams the k-way merge of the job's inputs into w; later duplicates of a key are dropped. */
static int
merge_rows(struct src *h, size_t n, struct wr *w, unsigned width, uint64_t *nrows)
{
	uint8_t last[STORE_KEY_LEN];
	bool have_last = false;
	for (size_t i = n / 2; i-- > 0;)
		src_sift(h, n, i);
	while (n > 0) {
		struct src *s = &h[0];
		if (!have_last || memcmp(s->p, last, STORE_KEY_LEN) != 0) {
			uint8_t *p;
			int rc = wr_row(w, width, &p);
			if (rc < 0)
				return rc;
			memcpy(p, s->p, s->width);
			memset(p + s->width, 0, width - s->width);
			w->sum = sum_bytes(w->sum, p, width);
			memcpy(last, s->p, STORE_KEY_LEN), have_last = true;
			(*nrows)++;
		}
		s->p += s->width;
		if (s->p == s->end)
			h[0] = h[--n];
		else
			s->k = key64(s->p);
		src_sift(h, n, 0);
	}
	return 0;
}

/* Writes the merged run of job j (not yet named by any manifest). */
static int
merge_write(struct runs *r, struct mjob *j, struct run **out, const char **why)
{
	const uint8_t *maps[FANOUT_MAX] = {0};
	struct src h[FANOUT_MAX];
	unsigned width = 0;
	int rc = 0;
	for (unsigned i = 0; i < j->k; i++)
		width = j->in[i]->width > width ? j->in[i]->width : width;
	struct run *run = run_alloc(j->id, j->t, j->tier + 1, 0, width);
	if (run == NULL) {
		*why = "no memory for an index merge";
		return -ENOMEM;
	}
	for (unsigned i = 0; i < j->k && rc == 0; i++) {
		const struct run *in = j->in[i];
		if ((maps[i] = run_map_seq(in)) == NULL) {
			rc = -errno;
			*why = whyf("cannot map index run %s to merge it", in->name);
			break;
		}
		h[i] = (struct src){.p = maps[i] + RUN_HDR, .width = in->width, .age = i};
		h[i].end = h[i].p + in->nrows * in->width;
		h[i].k = key64(h[i].p);
	}
	struct wr w;
	if (rc == 0)
		rc = run_create(r, run, &w, r->mbuf, &r->stop, why);
	if (rc == 0) {
		rc = merge_rows(h, j->k, &w, width, &run->nrows);
		if (rc < 0 && rc != -ECANCELED)
			*why = whyf("writing index run %s", run->name);
	}
	if (rc == 0)
		rc = run_finish(run, &w, why);
	for (unsigned i = 0; i < j->k; i++)
		if (maps[i])
			munmap((void *)maps[i], j->in[i]->maplen);
	if (rc == 0 && fsync(r->dirfd) < 0) {
		rc = -errno;
		*why = whyf("syncing the index directory for %s", run->name);
	}
	if (rc < 0) {
		if (run->fd >= 0)
			run_discard(r, run);
		else
			run_free(run);
		return rc;
	}
	*out = run;
	return 0;
}

/* Under mlock: the merged run replaces its inputs, in place, in a durable manifest; then
 * readers see it and the inputs' files go (their mappings stay until no reader holds them). */
static int
merge_commit(struct runs *r, struct mjob *j, struct run *out, const char **why)
{
	struct rlist *l = &r->list[j->t];
	size_t at = 0;
	while (at < l->n && l->v[at] != j->in[0])
		at++;
	/* Only this thread removes runs and adds only append: the group is still adjacent. */
	for (unsigned i = 0; i < j->k; i++)
		RUNS_MUST(at + i < l->n && l->v[at + i] == j->in[i]);
	l->v[at] = out;
	memmove(l->v + at + 1, l->v + at + j->k, (l->n - at - j->k) * sizeof *l->v);
	l->n -= j->k - 1;
	out->refs = 1;
	for (unsigned i = 0; i < j->k; i++)
		run_put(j->in[i]); /* the list's reference; the job still holds one */
	struct snap *s = snap_build(r);
	if (s == NULL) {
		*why = "no memory for an index snapshot";
		return -ENOMEM;
	}
	int rc = manifest_write(r, atomic_load(&r->mark), why);
	if (rc < 0) {
		snap_free(s);
		return rc;
	}
	snap_publish(r, s);
	for (unsigned i = 0; i < j->k; i++)
		(void)unlinkat(r->dirfd, j->in[i]->name, 0); /* a leftover is removed at open */
	return 0;
}

static void *
merge_main(void *arg)
{
	struct runs *r = arg;
	pthread_mutex_lock(&r->mlock);
	for (;;) {
		struct mjob j;
		bool work = false;
		while (!atomic_load(&r->stop) && r->failed_rc == 0 && !(work = merge_pick(r, &j))) {
			snap_reap(r);
			if (r->retired) /* come back for what readers still hold */
				cond_wait_seconds(&r->cond, &r->mlock, REAP_SECONDS);
			else
				pthread_cond_wait(&r->cond, &r->mlock);
		}
		if (!work || atomic_load(&r->stop) || r->failed_rc)
			break;
		r->merging = true;
		j.id = r->next_id++;
		for (unsigned i = 0; i < j.k; i++) {
			j.in[i] = r->list[j.t].v[j.start + i];
			j.in[i]->refs++;
		}
		pthread_mutex_unlock(&r->mlock);
		const char *why = NULL;
		struct run *out = NULL;
		int rc = merge_write(r, &j, &out, &why);
		pthread_mutex_lock(&r->mlock);
		if (rc == 0)
			rc = merge_commit(r, &j, out, &why);
		if (rc < 0 && rc != -ECANCELED)
			fail(r, rc, why, false);
		for (unsigned i = 0; i < j.k; i++)
			run_put(j.in[i]);
		r->merging = false;
		pthread_cond_broadcast(&r->cond);
	}
	r->merging = false;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->mlock);
	return NULL;
}

/* ---- open and close ------------------------------------------------------------------------- */

static void
lists_clear(struct runs *r)
{
	for (unsigned t = 0; t < RUNS_TABLES_MAX; t++) {
		for (size_t i = 0; i < r->list[t].n; i++)
			run_put(r->list[t].v[i]);
		r->list[t].n = 0;
	}
}

static int
runs_init(struct runs *r, const char *dir, const struct runs_opts *o, unsigned fanout)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&r->mlock, NULL);
	pthread_mutex_init(&r->snap_lock, NULL);
	pthread_cond_init(&r->cond, &ca);
	pthread_condattr_destroy(&ca);
	atomic_init(&r->stop, false);
	r->dirfd = -1;
	r->fanout = fanout;
	r->read_only = o->read_only;
	r->ntables = 1;
	r->dir = strdup(dir);
	if (r->dir == NULL)
		return -ENOMEM;
	if (o->read_only)
		return 0;
	r->abuf = malloc(WBUF);
	r->mbuf = malloc(WBUF);
	r->count = malloc(((1u << SORT_BITS) + 1) * sizeof *r->count);
	return r->abuf && r->mbuf && r->count ? 0 : -ENOMEM;
}

/* Loads the manifest and its runs. A read-only open may race a merge that removes a run
 * between reading the manifest and opening the run: it reads the manifest again. */
static int
runs_load(struct runs *r, const struct runs_opts *o, const char **why)
{
	int rc = 0;
	for (unsigned tries = 0; tries < 4; tries++) {
		rc = manifest_load(r, o->ntables, why);
		if (rc != -ENOENT || !r->read_only)
			break;
		lists_clear(r);
	}
	if (rc == 0 && !r->read_only)
		rc = remove_strays(r, why);
	return rc;
}

int
runs_open(struct runs **out, const char *dir, const struct runs_opts *o, const char **reason)
{
	static const struct runs_opts defaults;
	const char *why = NULL;
	struct runs *r = NULL;
	int rc;
	*out = NULL;
	o = o ? o : &defaults;
	unsigned fanout = o->fanout ? o->fanout : FANOUT_DEF;
	if (o->ntables > RUNS_TABLES_MAX || fanout < 2 || fanout > FANOUT_MAX) {
		why = "index options out of range";
		rc = -EINVAL;
		goto fail;
	}
	if (!o->read_only && mkdir(dir, 0755) < 0 && errno != EEXIST) {
		rc = -errno;
		why = whyf("cannot create the index directory %s", dir);
		goto fail;
	}
	r = calloc(1, sizeof *r);
	if (r == NULL || runs_init(r, dir, o, fanout) < 0) {
		rc = -ENOMEM;
		why = "no memory for the index";
		goto fail;
	}
	r->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r->dirfd < 0) {
		rc = -errno;
		why = whyf("cannot open the index directory %s", dir);
		goto fail;
	}
	if ((rc = runs_load(r, o, &why)) < 0)
		goto fail;
	pthread_mutex_lock(&r->mlock);
	struct snap *s = snap_build(r);
	if (s)
		snap_publish(r, s);
	pthread_mutex_unlock(&r->mlock);
	if (s == NULL) {
		rc = -ENOMEM;
		why = "no memory for an index snapshot";
		goto fail;
	}
	if (!o->read_only) {
		if ((rc = -pthread_create(&r->thread, NULL, merge_main, r)) < 0) {
			why = "cannot start the index merge thread";
			goto fail;
		}
		r->thread_running = true;
	}
	*out = r;
	return 0;
fail:
	runs_close(r);
	if (reason)
		*reason = why;
	return rc;
}

void
runs_close(struct runs *r)
{
	if (r == NULL)
		return;
	if (r->thread_running) {
		pthread_mutex_lock(&r->mlock);
		atomic_store(&r->stop, true);
		pthread_cond_broadcast(&r->cond);
		pthread_mutex_unlock(&r->mlock);
		pthread_join(r->thread, NULL);
		r->thread_running = false;
	}
	pthread_mutex_lock(&r->mlock);
	if (r->snap)
		snap_publish(r, NULL); /* no reader is left: every retired snapshot is freed */
	lists_clear(r);
	pthread_mutex_unlock(&r->mlock);
	for (unsigned t = 0; t < RUNS_TABLES_MAX; t++)
		free(r->list[t].v);
	if (r->dirfd >= 0)
		close(r->dirfd);
	pthread_mutex_destroy(&r->mlock);
	pthread_mutex_destroy(&r->snap_lock);
	pthread_cond_destroy(&r->cond);
	free(r->man);
	free(r->abuf);
	free(r->mbuf);
	free(r->count);
	free(r->ent);
	free(r->ent2);
	free(r->dir);
	free(r);
}

/* ---- adds ----------------------------------------------------------------------------------- */

/* Checks the rows before anything is written; the width of each table's run. */
static int
add_check(const struct runs *r, struct store_row *const rows[], const size_t n[], unsigned width[],
          const char **why)
{
	for (unsigned t = 0; t < r->ntables; t++) {
		unsigned max = 0;
		if (n[t] > 0 && (rows[t] == NULL || n[t] > UINT32_MAX)) {
			*why = "index rows missing or too many";
			return -EINVAL;
		}
		for (size_t i = 0; i < n[t]; i++) {
			unsigned len = rows[t][i].len;
			if (len == 0 || len > STORE_VALUE_MAX) {
				*why = "index value length out of range";
				return -EINVAL;
			}
			max = len > max ? len : max;
		}
		width[t] = ROW_FIXED + max;
	}
	return 0;
}

/* Under mlock: waits while merges are far behind; reserves list room and run ids. */
static int
add_begin(struct runs *r, const size_t n[], uint64_t ids[], const char **why)
{
	while (r->failed_rc == 0 && merges_behind(r))
		pthread_cond_wait(&r->cond, &r->mlock);
	if (r->failed_rc)
		return failed_report(r, why);
	for (unsigned t = 0; t < r->ntables; t++) {
		if (n[t] == 0)
			continue;
		if (list_reserve(&r->list[t], 1) < 0) {
			*why = "no memory for the index runs";
			return -ENOMEM;
		}
		ids[t] = r->next_id++;
	}
	return 0;
}

/* Under mlock: the new runs join their lists in a durable manifest, then readers see them.
 * *named: the runs are in the lists (a manifest may name them), so never to be removed. */
static int
add_commit(struct runs *r, struct run *made[], uint64_t mark, bool *named_out, const char **why)
{
	if (r->failed_rc) /* a merge failed meanwhile */
		return failed_report(r, why);
	for (unsigned t = 0; t < r->ntables; t++)
		if (made[t]) {
			made[t]->refs = 1;
			r->list[t].v[r->list[t].n++] = made[t];
		}
	*named_out = true;
	struct snap *s = snap_build(r);
	if (s == NULL) {
		*why = "no memory for an index snapshot";
		return -ENOMEM;
	}
	int rc = manifest_write(r, mark, why);
	if (rc < 0) {
		snap_free(s);
		return rc;
	}
	atomic_store(&r->mark, mark);
	snap_publish(r, s);
	pthread_cond_broadcast(&r->cond); /* work for the merge thread */
	return 0;
}

int
runs_add(struct runs *r, struct store_row *const rows[], const size_t n[], uint64_t mark,
         const char **reason)
{
	const char *why = NULL;
	unsigned width[RUNS_TABLES_MAX] = {0};
	uint64_t ids[RUNS_TABLES_MAX] = {0};
	struct run *made[RUNS_TABLES_MAX] = {0};
	bool in_lists = false, any = false;
	int rc;
	if (r->read_only) {
		why = "the index is open read-only";
		rc = -EROFS;
		goto out;
	}
	if ((rc = add_check(r, rows, n, width, &why)) < 0)
		goto out;
	pthread_mutex_lock(&r->mlock);
	rc = add_begin(r, n, ids, &why);
	pthread_mutex_unlock(&r->mlock);
	if (rc < 0)
		goto out;
	for (unsigned t = 0; t < r->ntables && rc == 0; t++) {
		if (n[t] == 0)
			continue;
		rc = add_run(r, t, ids[t], rows[t], n[t], width[t], &made[t], &why);
		any = true;
	}
	if (rc == 0 && any && fsync(r->dirfd) < 0) {
		rc = -errno;
		why = "syncing the index directory";
	}
	pthread_mutex_lock(&r->mlock);
	if (rc == 0)
		rc = add_commit(r, made, mark, &in_lists, &why);
	if (rc < 0) {
		for (unsigned t = 0; t < r->ntables && !in_lists; t++)
			if (made[t])
				run_discard(r, made[t]);
		fail(r, rc, why, true);
	}
	pthread_mutex_unlock(&r->mlock);
out:
	if (rc < 0 && reason)
		*reason = why;
	return rc;
}

uint64_t
runs_mark(struct runs *r)
{
	return atomic_load(&r->mark);
}

int
runs_quiesce(struct runs *r, const char **reason)
{
	const char *why = NULL;
	struct mjob j;
	int rc = 0;
	pthread_mutex_lock(&r->mlock);
	while (r->thread_running && r->failed_rc == 0 && (r->merging || merge_pick(r, &j)))
		pthread_cond_wait(&r->cond, &r->mlock);
	if (r->failed_rc)
		rc = failed_report(r, &why);
	pthread_mutex_unlock(&r->mlock);
	if (rc < 0 && reason)
		*reason = why;
	return rc;
}

void
runs_stats(struct runs *r, unsigned t, struct runs_stats *out)
{
	*out = (struct runs_stats){0};
	if (t >= r->ntables)
		return;
	struct snap *s = snap_get(r);
	for (size_t i = 0; i < s->n[t]; i++) {
		out->rows += s->runs[t][i]->nrows;
		out->bytes += s->runs[t][i]->maplen;
		out->files++;
	}
	snap_put(s);
}

/* ---- check ---------------------------------------------------------------------------------- */

struct check {
	void (*problem)(void *ctx, const char *msg);
	void *ctx;
	const char *name;
	long found;
};

__attribute__((format(printf, 2, 3))) static void
check_problem(struct check *c, const char *fmt, ...)
{
	char msg[256];
	int k = snprintf(msg, sizeof msg, "index run %s: ", c->name);
	if (c->found++ >= MSGS_PER_FILE || k < 0 || (size_t)k >= sizeof msg)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg + k, sizeof msg - (size_t)k, fmt, ap);
	va_end(ap);
	if (c->problem)
		c->problem(c->ctx, msg);
}

static void
check_rows(struct check *c, const struct run *run, const uint8_t *map)
{
	const uint8_t *p = map + RUN_HDR, *prev = NULL;
	unsigned w = run->width;
	uint64_t sum = SUM_SEED;
	for (uint64_t i = 0; i < run->nrows; i++, prev = p, p += w) {
		unsigned len = p[STORE_KEY_LEN];
		if (len == 0 || len > w - ROW_FIXED) {
			check_problem(c, "row %" PRIu64 " has length %u (width %u)", i, len, w);
		} else {
			bool padded = true;
			for (unsigned b = ROW_FIXED + len; b < w; b++)
				padded &= p[b] == 0;
			if (!padded)
				check_problem(c, "row %" PRIu64 " has non-zero padding", i);
		}
		if (prev && memcmp(prev, p, STORE_KEY_LEN) > 0)
			check_problem(c, "row %" PRIu64 " is out of order", i);
		sum = sum_bytes(sum, p, w);
	}
	if (sum != get_le64(map + 40))
		check_problem(c, "rows checksum mismatch");
}

static long
check_run(const struct run *run, void (*problem)(void *ctx, const char *msg), void *ctx)
{
	struct check c = {problem, ctx, run->name, 0};
	struct stat st;
	const uint8_t *map = NULL;
	if (fstat(run->fd, &st) < 0)
		check_problem(&c, "cannot stat it: %s", strerror(errno));
	else if ((uint64_t)st.st_size != run->maplen)
		check_problem(&c, "%" PRIu64 " bytes, expected %zu", (uint64_t)st.st_size,
		              run->maplen);
	else if ((map = run_map_seq(run)) == NULL)
		check_problem(&c, "cannot map it: %s", strerror(errno));
	if (map) {
		const char *bad = hdr_problem(map, run);
		if (bad)
			check_problem(&c, "%s", bad);
		check_rows(&c, run, map);
		munmap((void *)map, run->maplen);
	}
	if (c.found > MSGS_PER_FILE && problem) {
		char msg[128];
		snprintf(msg, sizeof msg, "index run %s: %ld more problems", run->name,
		         c.found - MSGS_PER_FILE);
		problem(ctx, msg);
	}
	return c.found;
}

long
runs_check(struct runs *r, void (*problem)(void *ctx, const char *msg), void *ctx)
{
	struct snap *s = snap_get(r);
	long found = 0;
	for (unsigned t = 0; t < r->ntables; t++)
		for (size_t i = 0; i < s->n[t]; i++)
			found += check_run(s->runs[t][i], problem, ctx);
	snap_put(s);
	return found;
}
