/* bench/bench_store.c: sustained durable append (engine/tlog.h on storage/) beside a plain
 * pwrite plus fdatasync of the same bytes, measured in the same run; commit latency; bytes on
 * disk per entry by part; memory at several log sizes. One machine-readable line per case.
 *
 *   bench_store [--quick] [--dir DIR] [--keep] [--mb M] [--rounds R] [--batch B] [--entries N]
 *
 * Entries are 1500 bytes in the plain encoding (a 3-byte length, then 1497 bytes: the index,
 * then pseudo-random bytes from a fixed seed), so every dedup key differs. For each batch size
 * (64, 256, 1024, 4096) six contenders take turns within every round, the order rotating from
 * round to round, each writing --mb MB of entries per round (or for at most 20 s):
 *   pwrite_fdatasync   pwrite of batch x 1500 bytes appended to one file, then fdatasync;
 *   odirect_fdatasync  the same through O_DIRECT from a 4096-aligned buffer, each write
 *                      rounded up to 4096 bytes;
 *   append verify      tlog_append() of the batch, the engine as shipped;
 *   append no_verify   the same with tlog_opts.no_verify (no before-commit recomputation);
 *   append hashes_given  the same with the leaf hashes and dedup rows passed in (computed
 *                      before the call, as admission and hashing cores would);
 *   append given_buffered  hashes_given with store_opts.no_direct: every tile through the
 *                      page cache (the default writes new full tiles' aligned bytes with
 *                      O_DIRECT).
 * Each append variant has its own log, fresh per batch size and growing across the rounds, so
 * the logs have the same size at every round (index work grows with the log). An append
 * phase's time is the sum of its calls plus the wait, at its end, for the index thread to
 * catch up (store_index_sync), so lagging index work is not left to the next contender.
 * Only the writes are timed: entries are generated before each call. Rates are each
 * contender's best round; vs_pwrite and vs_odirect are ratios of those bests. Latencies are
 * per call (per batch for the baselines) over every round; cpu_ms is the calling thread's CPU
 * time per call. dev_write_bytes_per_entry is what reached the device holding the logs
 * (/sys/dev/block/M:m/stat, the whole machine's writes to it: run on an idle disk);
 * commit_write_bytes_per_entry what the committing side wrote (tiles and state.mdb: the
 * process's /proc write_bytes less the index thread's, exact for whole-file writes), and
 * index_write_bytes_per_entry the rest (the index thread's; /proc itself overstates its small
 * random writes, counting whole large folios).
 *
 * The last case grows one log to N entries at batch 1024 and reports each quarter's rate and
 * latency, RssAnon at a quarter, half and all of N (the LMDB maps are file-backed, so they
 * show in RssFile, not RssAnon), and bytes on disk per entry by part (store_usage_get() after
 * store_index_sync()).
 *
 * Targets (issue): append >= 70% of pwrite+fdatasync bandwidth; commit p99 < 10 ms at batch
 * 1024; tiles <= 1.15x the raw entry bytes; dedup table <= 100 bytes per entry; memory
 * independent of log size. Printed as met or MISSED in full runs, never enforced (exit 0).
 * Everything lives in a mkdtemp directory under --dir, $TMPDIR or /tmp, removed at the end
 * unless --keep. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "engine/sha256x.h"
#include "engine/tlog.h"

#define ENTRY_LEN 1500
#define BODY_LEN  (ENTRY_LEN - 3)
#define MAX_BATCH 4096
#define POOL_LEN  (1u << 20)
#define ALIGN     4096

static const size_t batches[] = {64, 256, 1024, 4096};

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t
mix(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* ---- entries ------------------------------------------------------------------------------- */

static uint8_t *pool; /* POOL_LEN pseudo-random bytes from a fixed seed */

static void
pool_init(void)
{
	pool = malloc(POOL_LEN);
	if (pool == NULL)
		exit(99);
	uint64_t s = 0x5702e;
	for (size_t i = 0; i < POOL_LEN; i += 8) {
		uint64_t v = mix(s++);
		memcpy(pool + i, &v, 8);
	}
}

/* A batch of n plain-encoded entries for indices first.. into buf, contiguous; body: the
 * index (8 bytes, big-endian), then pool bytes from an offset that depends on the index. */
struct batch_buf {
	uint8_t *buf; /* MAX_BATCH * ENTRY_LEN rounded up to ALIGN, ALIGN-aligned */
	const uint8_t *entry[MAX_BATCH];
	size_t len[MAX_BATCH];
	merkle_hash_t leaf[MAX_BATCH];
	struct store_row dedup[MAX_BATCH];
};

static void
make_batch(struct batch_buf *b, uint64_t first, size_t n)
{
	uint8_t body[BODY_LEN];
	for (size_t i = 0; i < n; i++) {
		uint64_t idx = first + i;
		for (int k = 0; k < 8; k++)
			body[k] = (uint8_t)(idx >> (56 - 8 * k));
		size_t off = (size_t)(mix(idx ^ 0xb1c4) % (POOL_LEN - BODY_LEN));
		memcpy(body + 8, pool + off, BODY_LEN - 8);
		uint8_t *p = b->buf + i * ENTRY_LEN;
		if (tlog_plain_encode(p, ENTRY_LEN, body, BODY_LEN) != ENTRY_LEN)
			exit(99);
		b->entry[i] = p;
		b->len[i] = ENTRY_LEN;
	}
}

/* ---- measurements ---------------------------------------------------------------------------- */

struct lat {
	double *v;
	size_t n, cap;
};

static void
lat_add(struct lat *l, double s)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 1024;
		l->v = realloc(l->v, l->cap * sizeof *l->v);
		if (l->v == NULL)
			exit(99);
	}
	l->v[l->n++] = s;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile (0 < p <= 1) in ms; sorts l. */
static double
lat_pct(struct lat *l, double p)
{
	if (l->n == 0)
		return NAN;
	qsort(l->v, l->n, sizeof *l->v, cmp_double);
	size_t k = (size_t)ceil(p * (double)l->n);
	return l->v[k ? k - 1 : 0] * 1e3;
}

static double
lat_mean(const struct lat *l)
{
	double s = 0;
	for (size_t i = 0; i < l->n; i++)
		s += l->v[i];
	return l->n ? s / (double)l->n * 1e3 : NAN;
}

/* One contender at one batch size: best round rate and every call's latency. */
struct contender {
	double best_mbs; /* MB/s of raw entry bytes (1e6 bytes), best round */
	double best_eps; /* entries/s of that round */
	double drain_ms; /* append only: index wait at the end of the best round */
	double cpu_s;    /* the calling thread's CPU time in the calls, every round */
	double cbytes;   /* bytes written by the committing side (tiles, state.mdb), every round */
	double dbytes;   /* bytes written to the device (all of it), every round */
	uint64_t total;  /* entries written, every round */
	struct lat lat;
	bool ok;
};

static void
contender_round(struct contender *c, uint64_t entries, double secs, double drain, double cbytes,
                double dbytes)
{
	c->dbytes += dbytes;
	c->total += entries;
	c->cbytes += cbytes;
	double eps = (double)entries / secs;
	if (!c->ok || eps > c->best_eps) {
		c->best_eps = eps;
		c->best_mbs = eps * ENTRY_LEN / 1e6;
		c->drain_ms = drain * 1e3;
	}
	c->ok = true;
}

static long
status_kb(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	if (f == NULL)
		return -1;
	char line[256];
	size_t kl = strlen(key);
	long v = -1;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
			v = strtol(line + kl + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* Bytes this process has caused to be sent to storage (all threads; -1 when unknown). */
static double
io_write_bytes(void)
{
	FILE *f = fopen("/proc/self/io", "r");
	if (f == NULL)
		return -1;
	char line[128];
	double v = -1;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, "write_bytes:", 12) == 0)
			v = strtod(line + 12, NULL);
	fclose(f);
	return v;
}

/* Bytes written to the device that holds the work directory (/sys/dev/block/M:m/stat; the
 * whole machine's writes to it, so only meaningful on an otherwise idle disk). */
static double
dev_write_bytes(const char *dir)
{
	static char path[128];
	if (path[0] == 0) {
		struct stat st;
		if (stat(dir, &st) < 0)
			return -1;
		snprintf(path, sizeof path, "/sys/dev/block/%u:%u/stat", major(st.st_dev),
		         minor(st.st_dev));
	}
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	double v[7] = {0};
	int n = fscanf(f, "%lf %lf %lf %lf %lf %lf %lf", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
	               &v[6]);
	fclose(f);
	return n == 7 ? v[6] * 512 : -1;
}

/* The part of that sent by the other threads named like this one: the store's index threads
 * (io_uring workers are named iou-wrk-*). Only meaningful while a log is open. */
static double
index_write_bytes(void)
{
	char self[64] = "", path[128], comm[64];
	FILE *f = fopen("/proc/self/comm", "r");
	if (f == NULL || fgets(self, sizeof self, f) == NULL) {
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	DIR *d = opendir("/proc/self/task");
	if (d == NULL)
		return -1;
	double sum = 0;
	long me = (long)gettid();
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		long tid = strtol(e->d_name, NULL, 10);
		if (tid <= 0 || tid == me)
			continue;
		snprintf(path, sizeof path, "/proc/self/task/%ld/comm", tid);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		bool same = fgets(comm, sizeof comm, f) && strcmp(comm, self) == 0;
		fclose(f);
		if (!same)
			continue;
		snprintf(path, sizeof path, "/proc/self/task/%ld/io", tid);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		char line[128];
		while (fgets(line, sizeof line, f))
			if (strncmp(line, "write_bytes:", 12) == 0)
				sum += strtod(line + 12, NULL);
		fclose(f);
	}
	closedir(d);
	return sum;
}

/* ---- settings and the work directory ------------------------------------------------------- */

static bool quick;
static bool keep;
static int rounds = 3;
static const char *only_variant; /* --variant: run only this append variant */
static double phase_mb = 64;     /* MB (1e6 bytes) of entries per timed phase */
static double phase_max_s = 20;  /* or this long, whichever comes first */
static char work[4096];          /* our own directory (mkdtemp), removed at the end */
/* Logs stay until the end of the run: on ext4 without a journal, creating a file skips inodes
 * deleted in the last minutes (reading their inode blocks), so deleting a finished case's
 * files would slow the file creation of the next case. */

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	remove(path);
	return 0;
}

static void
rm_tree(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
cleanup(void)
{
	if (work[0] && !keep)
		rm_tree(work);
}

static void
die(const char *what, int rc, const char *why)
{
	fprintf(stderr, "bench_store: %s: %s%s%s\n", what, strerror(rc < 0 ? -rc : rc),
	        why ? ": " : "", why ? why : "");
	cleanup();
	exit(1);
}

/* ---- contenders -------------------------------------------------------------------------------
 */

static bool
phase_done(uint64_t bytes, double t0)
{
	return (double)bytes >= phase_mb * 1e6 || now() - t0 >= phase_max_s;
}

/* pwrite (plus O_DIRECT when direct) then fdatasync, batch after batch, appending at *off. */
static void
baseline_phase(struct contender *c, int fd, bool direct, struct batch_buf *b, size_t batch,
               uint64_t *next_index, uint64_t *off)
{
	size_t n = batch * ENTRY_LEN;
	size_t wlen = direct ? (n + ALIGN - 1) / ALIGN * ALIGN : n;
	uint64_t entries = 0;
	double secs = 0, t0 = now(), w0 = io_write_bytes(), d0 = dev_write_bytes(work);
	while (!phase_done(entries * ENTRY_LEN, t0)) {
		make_batch(b, *next_index, batch);
		double a = now(), ca = cpu_now();
		for (size_t done = 0; done < wlen;) {
			ssize_t w = pwrite(fd, b->buf + done, wlen - done, (off_t)(*off + done));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				die(direct ? "O_DIRECT pwrite" : "pwrite", w < 0 ? errno : EIO,
				    NULL);
			done += (size_t)w;
		}
		if (fdatasync(fd) < 0)
			die("fdatasync", errno, NULL);
		double d = now() - a;
		c->cpu_s += cpu_now() - ca;
		secs += d;
		lat_add(&c->lat, d);
		*off += wlen;
		*next_index += batch;
		entries += batch;
	}
	contender_round(c, entries, secs, 0, io_write_bytes() - w0, dev_write_bytes(work) - d0);
}

/* tlog_append() batch after batch; then waits for the index thread (timed with the phase). */
static void
append_phase(struct contender *c, struct tlog *t, struct batch_buf *b, size_t batch,
             bool hashes_given)
{
	uint64_t entries = 0;
	double secs = 0, t0 = now(), w0 = io_write_bytes() - index_write_bytes();
	double d0 = dev_write_bytes(work);
	while (!phase_done(entries * ENTRY_LEN, t0)) {
		uint64_t first = tlog_size(t);
		make_batch(b, first, batch);
		if (hashes_given) { /* as the admission and hashing cores would */
			sha256x_leaves(b->leaf, b->entry, b->len, batch);
			for (size_t i = 0; i < batch; i++)
				if (tlog_codec_plain.dedup_row(b->entry[i], b->len[i], first + i,
				                               &b->dedup[i]) < 0)
					exit(99);
		}
		struct tlog_batch tb = {
		        .entry = b->entry,
		        .len = b->len,
		        .leaf = hashes_given ? (const merkle_hash_t *)b->leaf : NULL,
		        .dedup = hashes_given ? b->dedup : NULL,
		        .ndedup = hashes_given ? batch : 0,
		        .n = batch,
		        .timestamp = 1700000000000ull + first,
		};
		const char *why = NULL;
		double a = now(), ca = cpu_now();
		int rc = tlog_append(t, &tb, &why);
		double d = now() - a;
		c->cpu_s += cpu_now() - ca;
		if (rc < 0)
			die("tlog_append", rc, why);
		secs += d;
		lat_add(&c->lat, d);
		entries += batch;
	}
	const char *why = NULL;
	double a = now();
	int rc = store_index_sync(tlog_store(t), &why);
	double drain = now() - a;
	if (rc < 0)
		die("store_index_sync", rc, why);
	contender_round(c, entries, secs + drain, drain,
	                io_write_bytes() - index_write_bytes() - w0, dev_write_bytes(work) - d0);
}

static struct tlog *
log_open(const char *dir, size_t max_batch, bool no_verify, bool no_direct)
{
	struct tlog_opts o = {.max_batch = max_batch, .no_verify = no_verify};
	o.store.no_direct = no_direct;
	o.store.create = true;
	struct tlog *t;
	char msg[512] = "";
	int rc = tlog_open(&t, dir, &tlog_codec_plain, &o, msg, sizeof msg);
	if (rc < 0)
		die("tlog_open", rc, msg);
	return t;
}

static void
print_baseline(const char *op, size_t batch, struct contender *c)
{
	if (!c->ok) {
		printf("bench=store op=%s batch=%zu unsupported=1\n", op, batch);
		return;
	}
	double p50 = lat_pct(&c->lat, 0.50), p99 = lat_pct(&c->lat, 0.99);
	printf("bench=store op=%s batch=%zu entry_bytes=%d rounds=%d entries_per_s=%.0f "
	       "mb_per_s=%.1f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f mean_ms=%.3f cpu_ms=%.3f "
	       "dev_write_bytes_per_entry=%.0f\n",
	       op, batch, ENTRY_LEN, rounds, c->best_eps, c->best_mbs, p50, p99,
	       c->lat.v[c->lat.n - 1] * 1e3, lat_mean(&c->lat), c->cpu_s / (double)c->lat.n * 1e3,
	       c->dbytes / (double)c->total);
}

static double
ratio(const struct contender *a, const struct contender *base)
{
	return base->ok ? a->best_mbs / base->best_mbs : NAN;
}

static void
print_append(const char *variant, size_t batch, int nrounds, uint64_t size, struct contender *c,
             const struct contender *pw, const struct contender *od)
{
	double p50 = lat_pct(&c->lat, 0.50), p99 = lat_pct(&c->lat, 0.99);
	printf("bench=store op=append variant=%s batch=%zu entry_bytes=%d rounds=%d "
	       "log_entries=%llu "
	       "entries_per_s=%.0f mb_per_s=%.1f vs_pwrite=%.2fx vs_odirect=%.2fx p50_ms=%.3f "
	       "p99_ms=%.3f max_ms=%.3f mean_ms=%.3f cpu_ms=%.3f index_drain_ms=%.1f "
	       "dev_write_bytes_per_entry=%.0f commit_write_bytes_per_entry=%.0f "
	       "index_write_bytes_per_entry=%.0f\n",
	       variant, batch, ENTRY_LEN, nrounds, (unsigned long long)size, c->best_eps,
	       c->best_mbs, ratio(c, pw), ratio(c, od), p50, p99, c->lat.v[c->lat.n - 1] * 1e3,
	       lat_mean(&c->lat), c->cpu_s / (double)c->lat.n * 1e3, c->drain_ms,
	       c->dbytes / (double)c->total, c->cbytes / (double)c->total,
	       (c->dbytes - c->cbytes) / (double)c->total);
}

struct batch_result {
	size_t batch;
	double vs_pwrite, vs_odirect, p50, p99;
	double given_vs_pwrite, given_p99; /* the hashes_given variant */
};

static struct batch_result
batch_case(size_t batch, struct batch_buf *b)
{
	enum { NV = 4 };
	static const char *const variant[NV] = {"verify", "no_verify", "hashes_given",
	                                        "given_buffered"};
	char dir[NV][4200], pw_path[4200], od_path[4200];
	for (int v = 0; v < NV; v++)
		snprintf(dir[v], sizeof dir[v], "%s/log-%zu-%s", work, batch, variant[v]);
	snprintf(pw_path, sizeof pw_path, "%s/pwrite-%zu.dat", work, batch);
	snprintf(od_path, sizeof od_path, "%s/odirect-%zu.dat", work, batch);
	int pw_fd = open(pw_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (pw_fd < 0)
		die(pw_path, errno, NULL);
	int od_fd = open(od_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_DIRECT, 0644);
	if (od_fd < 0)
		fprintf(stderr, "bench_store: %s: O_DIRECT: %s (skipped)\n", od_path,
		        strerror(errno));
	/* Six contenders in turn within each round, the order rotating: the baselines, and the
	 * append variants, each on its own log so that all the logs have the same size at
	 * every round (index work grows with the log). */
	struct contender pw = {0}, od = {0}, ap[NV] = {{0}};
	uint64_t pw_index = 0, od_index = 0, pw_off = 0, od_off = 0;
	struct tlog *t[NV];
	for (int v = 0; v < NV; v++)
		t[v] = log_open(dir[v], batch, v == 1, v == 3);
	for (int r = 0; r < rounds; r++) {
		for (int k = 0; k < 2 + NV; k++) {
			int c = (r + k) % (2 + NV);
			if (c == 0)
				baseline_phase(&pw, pw_fd, false, b, batch, &pw_index, &pw_off);
			else if (c == 1 && od_fd >= 0)
				baseline_phase(&od, od_fd, true, b, batch, &od_index, &od_off);
			else if (c >= 2 && (only_variant == NULL ||
			                    strcmp(only_variant, variant[c - 2]) == 0))
				append_phase(&ap[c - 2], t[c - 2], b, batch, c >= 4);
		}
	}
	uint64_t size = tlog_size(t[0]);
	for (int v = 0; v < NV; v++)
		tlog_close(t[v]);
	close(pw_fd);
	if (od_fd >= 0)
		close(od_fd);

	print_baseline("pwrite_fdatasync", batch, &pw);
	print_baseline("odirect_fdatasync", batch, &od);
	for (int v = 0; v < NV; v++)
		if (ap[v].lat.n > 0)
			print_append(variant[v], batch, rounds, size, &ap[v], &pw, &od);
	struct batch_result res = {.batch = batch};
	if (only_variant != NULL)
		goto out;
	res = (struct batch_result){batch,
	                            ratio(&ap[0], &pw),
	                            ratio(&ap[0], &od),
	                            lat_pct(&ap[0].lat, 0.5),
	                            lat_pct(&ap[0].lat, 0.99),
	                            ratio(&ap[2], &pw),
	                            lat_pct(&ap[2].lat, 0.99)};
	double tot = (double)ap[0].total;
	printf("# batch %zu: append %.0f MB/s (%.0f entries/s) = %.2fx pwrite+fdatasync (%.0f "
	       "MB/s), "
	       "%.2fx O_DIRECT+fdatasync (%.0f MB/s); commit p50 %.2f ms, p99 %.2f ms; device "
	       "writes %.0f bytes per entry (commit %.0f, index %.0f); no_verify %.2fx, hashes "
	       "given %.2fx of pwrite\n",
	       batch, ap[0].best_mbs, ap[0].best_eps, res.vs_pwrite, pw.best_mbs, res.vs_odirect,
	       od.ok ? od.best_mbs : NAN, res.p50, res.p99, ap[0].dbytes / tot, ap[0].cbytes / tot,
	       (ap[0].dbytes - ap[0].cbytes) / tot, ratio(&ap[1], &pw), ratio(&ap[2], &pw));
out:
	fflush(stdout);
	free(pw.lat.v), free(od.lat.v);
	for (int v = 0; v < NV; v++)
		free(ap[v].lat.v);
	return res;
}

/* ---- bytes on disk per entry, memory ------------------------------------------------------- */

struct size_result {
	double tile_ratio, dedup_per_entry;
	long rss_quarter, rss_end;
};

static void
print_memory(uint64_t entries, const char *at)
{
	printf("bench=store op=memory at=%s log_entries=%llu rss_anon_kb=%ld rss_file_kb=%ld "
	       "vm_hwm_kb=%ld\n",
	       at, (unsigned long long)entries, status_kb("RssAnon"), status_kb("RssFile"),
	       status_kb("VmHWM"));
	fflush(stdout);
}

static struct size_result
size_case(uint64_t n, struct batch_buf *b)
{
	enum { BATCH = 1024 };
	char dir[4200];
	snprintf(dir, sizeof dir, "%s/log-size", work);
	struct tlog *t = log_open(dir, BATCH, false, false);
	struct size_result res = {0};
	uint64_t quarter = n / 4, half = n / 4 * 2;
	/* Each quarter of the growth: its rate, commit latency and bytes written per entry. */
	struct lat lat = {0};
	uint64_t seg_from = 0;
	double secs = 0, seg_secs = 0, c0 = io_write_bytes() - index_write_bytes();
	double d0 = dev_write_bytes(work);
	for (int q = 1; q <= 4; q++) {
		uint64_t upto = n / 4 * (uint64_t)q + (q == 4 ? n % 4 : 0);
		while (tlog_size(t) < upto) {
			uint64_t first = tlog_size(t);
			size_t k = upto - first < BATCH ? (size_t)(upto - first) : BATCH;
			make_batch(b, first, k);
			struct tlog_batch tb = {.entry = b->entry,
			                        .len = b->len,
			                        .n = k,
			                        .timestamp = 1700000000000ull + first};
			const char *why = NULL;
			double a = now();
			int rc = tlog_append(t, &tb, &why);
			double d = now() - a;
			if (rc < 0)
				die("tlog_append", rc, why);
			secs += d, seg_secs += d;
			lat_add(&lat, d);
		}
		const char *why = NULL;
		if (q == 4) { /* the index caught up, timed with the last quarter */
			double a = now();
			int rc = store_index_sync(tlog_store(t), &why);
			if (rc < 0)
				die("store_index_sync", rc, why);
			secs += now() - a, seg_secs += now() - a;
		}
		double c = io_write_bytes() - index_write_bytes(), d = dev_write_bytes(work);
		double m = (double)(upto - seg_from);
		printf("bench=store op=grow batch=%d from=%llu to=%llu mb_per_s=%.1f p50_ms=%.3f "
		       "p99_ms=%.3f dev_write_bytes_per_entry=%.0f "
		       "commit_write_bytes_per_entry=%.0f "
		       "index_write_bytes_per_entry=%.0f\n",
		       BATCH, (unsigned long long)seg_from, (unsigned long long)upto,
		       m * ENTRY_LEN / seg_secs / 1e6, lat_pct(&lat, 0.5), lat_pct(&lat, 0.99),
		       (d - d0) / m, (c - c0) / m, (d - d0 - (c - c0)) / m);
		c0 = c, d0 = d, seg_from = upto, seg_secs = 0, lat.n = 0;
		if (upto == quarter) {
			print_memory(upto, "quarter");
			res.rss_quarter = status_kb("RssAnon");
		} else if (upto == half) {
			print_memory(upto, "half");
		}
	}
	free(lat.v);
	int rc;
	print_memory(n, "end");
	res.rss_end = status_kb("RssAnon");
	struct store_usage u;
	rc = store_usage_get(tlog_store(t), &u);
	if (rc < 0)
		die("store_usage_get", rc, NULL);
	if (u.dedup_rows != n || u.hash_rows != n) {
		fprintf(stderr, "bench_store: index rows %llu dedup, %llu hash; want %llu\n",
		        (unsigned long long)u.dedup_rows, (unsigned long long)u.hash_rows,
		        (unsigned long long)n);
		cleanup();
		exit(1);
	}
	double dn = (double)n, raw = dn * ENTRY_LEN;
	u.tile_bytes += u.edge_bytes; /* the partial tiles live in edge/ */
	u.tile_files += u.edge_files;
	res.tile_ratio = (double)u.tile_bytes / raw;
	res.dedup_per_entry = (double)u.dedup_bytes / dn;
	printf("bench=store op=bytes_per_entry log_entries=%llu batch=%d entry_bytes=%d "
	       "tile_bytes_per_entry=%.1f tile_ratio=%.3fx tile_files=%llu "
	       "dedup_bytes_per_entry=%.1f "
	       "hash_bytes_per_entry=%.1f state_mdb_bytes_per_entry=%.3f "
	       "index_bytes_per_entry=%.1f total_bytes_per_entry=%.1f total_ratio=%.3fx "
	       "append_mb_per_s=%.1f\n",
	       (unsigned long long)n, BATCH, ENTRY_LEN, (double)u.tile_bytes / dn, res.tile_ratio,
	       (unsigned long long)u.tile_files, res.dedup_per_entry, (double)u.hash_bytes / dn,
	       (double)u.state_bytes / dn, (double)u.index_bytes / dn,
	       (double)(u.tile_bytes + u.state_bytes + u.index_bytes) / dn,
	       (double)(u.tile_bytes + u.state_bytes + u.index_bytes) / raw, raw / secs / 1e6);
	fflush(stdout);
	tlog_close(t);
	return res;
}

/* ---- main ---------------------------------------------------------------------------------- */

static void
usage(FILE *f)
{
	fprintf(f, "usage: bench_store [--quick] [--dir DIR] [--keep] [--mb M] [--rounds R] "
	           "[--batch B] [--variant V] [--no-grow] [--entries N]\n"
	           "  --quick      a smoke run (a few seconds; figures mean nothing)\n"
	           "  --dir DIR    make the work directory under DIR (default $TMPDIR or /tmp)\n"
	           "  --keep       keep the logs and baseline files\n"
	           "  --mb M       MB of entries per timed phase (default 64)\n"
	           "  --rounds R   interleaved rounds per batch size (default 3)\n"
	           "  --batch B    only batch size B (64, 256, 1024 or 4096)\n"
	           "  --variant V  only append variant V (verify, no_verify or hashes_given),\n"
	           "               for profiling; the summary lines are then left out\n"
	           "  --no-grow    leave out the growing log (bytes per entry, memory)\n"
	           "  --entries N  entries in the bytes-per-entry log (default 1000000, or 300000\n"
	           "               when the disk has not room for it and the other cases)\n");
}

static const char *
met(bool ok)
{
	return ok ? "met" : "MISSED";
}

int
main(int argc, char **argv)
{
	const char *parent = getenv("TMPDIR");
	uint64_t entries = 0;
	size_t only_batch = 0;
	bool grow = true;
	double mb = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			quick = true;
		} else if (strcmp(argv[i], "--keep") == 0) {
			keep = true;
		} else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
			parent = argv[++i];
		} else if (strcmp(argv[i], "--mb") == 0 && i + 1 < argc) {
			mb = strtod(argv[++i], NULL);
		} else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
			rounds = atoi(argv[++i]);
		} else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) {
			only_batch = strtoull(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--variant") == 0 && i + 1 < argc) {
			only_variant = argv[++i];
		} else if (strcmp(argv[i], "--no-grow") == 0) {
			grow = false;
		} else if (strcmp(argv[i], "--entries") == 0 && i + 1 < argc) {
			entries = strtoull(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (quick) {
		rounds = 2, phase_mb = 4, phase_max_s = 2;
		if (entries == 0)
			entries = 20000;
	}
	if (mb > 0)
		phase_mb = mb;
	if (rounds < 1)
		rounds = 1;
	if (parent == NULL || parent[0] == 0)
		parent = "/tmp";
	snprintf(work, sizeof work, "%s/bench_store.XXXXXX", parent);
	if (mkdtemp(work) == NULL) {
		fprintf(stderr, "bench_store: mkdtemp %s: %s\n", work, strerror(errno));
		work[0] = 0;
		return 1;
	}
	if (entries == 0) {
		struct statvfs vf;
		double avail =
		        statvfs(work, &vf) == 0 ? (double)vf.f_bavail * (double)vf.f_frsize : 0;
		/* Everything stays until the end: the batch-size cases, then the log of N. */
		double cases = 4.0 * 5 * rounds * phase_mb * 1e6 * 1.1;
		entries = avail >= cases + 1e6 * 2000 * 1.5 ? 1000000 : 300000;
	}
	sha256x_init();
	pool_init();
	struct batch_buf *b = calloc(1, sizeof *b);
	size_t cap = (MAX_BATCH * ENTRY_LEN + ALIGN - 1) / ALIGN * ALIGN;
	if (b == NULL || posix_memalign((void **)&b->buf, ALIGN, cap) != 0)
		return 99;
	memset(b->buf, 0, cap);
	printf("bench=store op=setup dir=%s impl=%s entry_bytes=%d mb_per_phase=%.0f "
	       "phase_max_s=%.0f rounds=%d\n",
	       work, sha256x_impl_name(sha256x_selected()), ENTRY_LEN, phase_mb, phase_max_s,
	       rounds);
	fflush(stdout);

	enum { NB = sizeof batches / sizeof batches[0] };
	struct batch_result br[NB];
	size_t nb = 0;
	for (size_t i = 0; i < NB; i++)
		if (only_batch == 0 || batches[i] == only_batch)
			br[nb++] = batch_case(batches[i], b);
	struct size_result sr = {0};
	if (grow)
		sr = size_case(entries, b);

	if (!quick && grow && only_variant == NULL) {
		double worst = INFINITY, gworst = INFINITY, p99_1024 = NAN, gp99_1024 = NAN;
		for (size_t i = 0; i < nb; i++) {
			worst = fmin(worst, br[i].vs_pwrite);
			gworst = fmin(gworst, br[i].given_vs_pwrite);
			if (br[i].batch == 1024)
				p99_1024 = br[i].p99, gp99_1024 = br[i].given_p99;
		}
		printf("# target append >= 0.70x pwrite+fdatasync, hashing in the call: %s (",
		       met(worst >= 0.70));
		for (size_t i = 0; i < nb; i++)
			printf("%s%zu: %.2fx", i ? ", " : "", br[i].batch, br[i].vs_pwrite);
		printf(")\n# target append >= 0.70x pwrite+fdatasync, hashes given: %s (",
		       met(gworst >= 0.70));
		for (size_t i = 0; i < nb; i++)
			printf("%s%zu: %.2fx", i ? ", " : "", br[i].batch, br[i].given_vs_pwrite);
		printf(")\n");
		printf("# target commit p99 < 10 ms at batch 1024: %s (%.2f ms; hashes given %s, "
		       "%.2f ms)\n",
		       isnan(p99_1024) ? "not measured" : met(p99_1024 < 10), p99_1024,
		       isnan(gp99_1024) ? "not measured" : met(gp99_1024 < 10), gp99_1024);
		printf("# target tiles <= 1.15x raw entry bytes: %s (%.3fx)\n",
		       met(sr.tile_ratio <= 1.15), sr.tile_ratio);
		printf("# target dedup table <= 100 bytes per entry: %s (%.1f)\n",
		       met(sr.dedup_per_entry <= 100), sr.dedup_per_entry);
		double growth =
		        ((double)sr.rss_end - (double)sr.rss_quarter) / (double)sr.rss_quarter;
		printf("# target memory independent of log size (RssAnon within 10%%): %s "
		       "(%ld kB at %llu entries, %ld kB at %llu, %+.0f%%)\n",
		       met(growth <= 0.10), sr.rss_quarter, (unsigned long long)(entries / 4),
		       sr.rss_end, (unsigned long long)entries, 100.0 * growth);
	}
	free(b->buf);
	free(b);
	free(pool);
	cleanup();
	return 0;
}
