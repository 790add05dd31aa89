/* net/pipe.c: see net/pipe.h. */
#include "net/pipe.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_pause.h>
#include <rte_ring.h>

#include "engine/b64.h"
#include "engine/chain.h"
#include "engine/ctlog.h"
#include "engine/ctsig.h"
#include "engine/json.h"
#include "engine/seq.h"
#include "net/metrics.h"
#include "net/log.h"

#define BURST      32
#define TOKENS     256         /* JSON tokens per add-chain body: the chain and a few extras */
#define HEAD_EVERY 1000000000u /* ns between tree heads while the tree grows */
#define CPUS_MAX   256

struct shard {
	struct pipe *p;
	unsigned id;
	const struct config_shard *cfg;
	struct ctsig_key *key;
	struct chain_roots *roots;
	struct chain_policy policy;
	struct seq *seq;
	uint8_t log_id[CTENC_HASH_LEN];

	struct req *slots;
	uint8_t *arena;
	size_t nslots;
	struct rte_ring *free_slots;   /* free_<shard> */
	struct rte_ring *admit_to_seq; /* admit_to_seq_<shard> */
	char *roots_json;
	size_t roots_json_len;
	char *log_json;             /* pipe_log_json() */
	_Atomic int failed;         /* the store failed: refuse until restarted */
	_Atomic uint64_t tree_size; /* committed, for stats */
	_Atomic uint64_t head_size; /* signed and published */
	_Atomic uint64_t entries;   /* sequenced into this shard (new entries) */
	/* /metrics, written by the sequencer only */
	struct metrics_hist m_batch;  /* entries per commit */
	struct metrics_hist m_commit; /* seq_commit() duration */
	struct metrics_hist m_seq;    /* a batch's first entry sequenced -> its commit returned */

	/* the sequencer stage's own */
	unsigned lcore;
	struct req **held; /* sequenced, waiting for their batch's commit */
	struct der_span *spans;
	size_t nheld, held_cap;
	uint64_t first_ns, head_ns;
};

struct worker {
	struct pipe *p;
	unsigned lcore;
	struct chain_checker *checker[CONFIG_SHARDS_MAX];
	struct store_reader *reader[CONFIG_SHARDS_MAX];
	struct ctsig_signer *signer[CONFIG_SHARDS_MAX];
	uint8_t *der; /* decoded chain */
	size_t der_cap;
	struct json_tok tok[TOKENS];
	/* counters, summed by pipe_stats_get */
	_Atomic uint64_t admitted, refused, duplicates, signed_scts;
} __attribute__((aligned(64)));

struct pipe {
	const struct config *c;
	struct shard shard[CONFIG_SHARDS_MAX];
	unsigned nshards;
	struct gw_shard gws[CONFIG_SHARDS_MAX];
	struct tlog *tlogs[CONFIG_SHARDS_MAX]; /* pipe_read_logs() */
	struct worker *w;
	unsigned nworkers;
	struct rte_ring *gw_to_admit, *seq_to_sign;
	struct gw *gw;
	_Atomic int quit;
	_Atomic unsigned seq_running;
	_Atomic uint64_t sequenced, batches, heads, dup_seq;
	pthread_mutex_t rate_mu; /* entries_per_second between scrapes */
	uint64_t rate_ns, rate_entries;
	double rate;
	/* Test hook: BIRCH_TEST_COMMIT_STALL_MS holds every batch this long before its commit,
	 * so tests can fill the pool (503) and kill the server with batches in flight. */
	uint64_t stall_ns;
};

static uint64_t
mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Idle: spin a little, then nap; lcores may share CPUs with each other and with the gateway. */
static void
idle(unsigned *spins)
{
	if (*spins < 64) {
		rte_pause();
		(*spins)++;
		return;
	}
	struct timespec ts = {0, *spins < 512 ? 20000 : 200000};
	(*spins)++;
	nanosleep(&ts, NULL);
}

/* ---- the EAL ----------------------------------------------------------------------------- */

static int
cpus_parse(const char *s, int *cpu, int max)
{
	int n = 0;
	if (*s == '\0') {
		cpu_set_t set;
		if (sched_getaffinity(0, sizeof set, &set) != 0)
			return -errno;
		for (int i = 0; i < CPU_SETSIZE && n < max; i++)
			if (CPU_ISSET(i, &set))
				cpu[n++] = i;
		return n;
	}
	while (*s) {
		char *end;
		long a = strtol(s, &end, 10), b = a;
		if (end == s || a < 0 || a >= CPU_SETSIZE)
			return -EINVAL;
		s = end;
		if (*s == '-') {
			b = strtol(s + 1, &end, 10);
			if (end == s + 1 || b < a || b >= CPU_SETSIZE)
				return -EINVAL;
			s = end;
		}
		for (long i = a; i <= b; i++) {
			if (n == max)
				return -E2BIG;
			cpu[n++] = (int)i;
		}
		if (*s == ',')
			s++;
		else if (*s)
			return -EINVAL;
	}
	return n;
}

static int
appendf(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf + *len, cap - *len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap - *len)
		return -E2BIG;
	*len += (size_t)n;
	return 0;
}

static unsigned
workers_of(const struct config *c, int ncpus)
{
	return c->workers ? c->workers : (unsigned)(ncpus > 0 ? ncpus : 1);
}

int
pipe_eal_start(const struct config *c, const char *argv0, char *err, size_t err_len)
{
	int cpu[CPUS_MAX];
	int ncpu = cpus_parse(c->cpus, cpu, CPUS_MAX);
	if (ncpu <= 0) {
		snprintf(err, err_len, "cpus: cannot use '%s'", c->cpus);
		return -EINVAL;
	}
	unsigned nw = workers_of(c, ncpu);
	/* lcore 0: main; 1..nw: workers, pinned round-robin; then one sequencer per shard, free
	 * to run on any of the CPUs (it mostly waits for the disk). */
	char all[1024], lcores[8192];
	size_t al = 0, ll = 0;
	for (int i = 0; i < ncpu; i++)
		if (appendf(all, sizeof all, &al, "%s%d", i ? "," : "", cpu[i]) < 0)
			goto toolong;
	if (appendf(lcores, sizeof lcores, &ll, "0@(%s)", all) < 0)
		goto toolong;
	for (unsigned i = 0; i < nw; i++)
		if (appendf(lcores, sizeof lcores, &ll, ",%u@%d", i + 1, cpu[i % (unsigned)ncpu]) <
		    0)
			goto toolong;
	for (unsigned i = 0; i < c->nshards; i++)
		if (appendf(lcores, sizeof lcores, &ll, ",%u@(%s)", 1 + nw + i, all) < 0)
			goto toolong;

	static char argbuf[CONFIG_EAL_MAX + 16];
	static char prefix[64], lc[8192 + 16];
	char *argv[96];
	int argc = 0;
	argv[argc++] = (char *)argv0;
	snprintf(lc, sizeof lc, "--lcores=%s", lcores);
	argv[argc++] = lc;
	bool has_prefix = false, has_log = false;
	if (c->eal_args[0]) {
		snprintf(argbuf, sizeof argbuf, "%s", c->eal_args);
		for (char *save = NULL, *t = strtok_r(argbuf, " \t", &save); t;
		     t = strtok_r(NULL, " \t", &save)) {
			if (argc >= 90) {
				snprintf(err, err_len, "eal_args: too many arguments");
				return -E2BIG;
			}
			has_prefix |= strncmp(t, "--file-prefix", 13) == 0;
			has_log |= strncmp(t, "--log-level", 11) == 0;
			argv[argc++] = t;
		}
	} else {
		static char *defaults[] = {"--no-huge", "--no-pci", "--no-shconf", "-m", "128"};
		for (size_t i = 0; i < sizeof defaults / sizeof *defaults; i++)
			argv[argc++] = defaults[i];
	}
	if (!has_prefix) {
		snprintf(prefix, sizeof prefix, "--file-prefix=birch-%ld", (long)getpid());
		argv[argc++] = prefix;
	}
	if (!has_log)
		argv[argc++] = "--log-level=*:error";
	argv[argc] = NULL;
	if (rte_eal_init(argc, argv) < 0) {
		snprintf(
		        err, err_len,
		        "DPDK EAL cannot start: %s (EAL arguments: %s; see eal_args in the config; "
		        "without hugepages Birch needs root)",
		        rte_strerror(rte_errno), c->eal_args[0] ? c->eal_args : "the defaults");
		return -EIO;
	}
	if (rte_lcore_count() < 1 + nw + c->nshards) {
		snprintf(err, err_len, "DPDK EAL gave %u lcores, %u needed", rte_lcore_count(),
		         1 + nw + c->nshards);
		rte_eal_cleanup();
		return -EINVAL;
	}
	return 0;
toolong:
	snprintf(err, err_len, "cpus: too many CPUs for the lcore map");
	return -E2BIG;
}

void
pipe_eal_stop(void)
{
	rte_eal_cleanup();
}

/* ---- set-up ------------------------------------------------------------------------------- */

static unsigned
ring_size(size_t n)
{
	unsigned s = 64;
	while (s <= n) /* an rte_ring of size s holds s - 1 */
		s <<= 1;
	return s;
}

static struct rte_ring *
ring_make(const char *name, size_t n, unsigned flags)
{
	return rte_ring_create(name, ring_size(n), SOCKET_ID_ANY, flags);
}

static int
roots_json_render(struct shard *sh)
{
	size_t n = chain_roots_count(sh->roots), cap = 32;
	for (size_t i = 0; i < n; i++)
		cap += B64_ENCODED_LEN(chain_roots_get(sh->roots, i).len) + 3;
	char *j = malloc(cap);
	if (!j)
		return -ENOMEM;
	size_t o = (size_t)sprintf(j, "{\"certificates\":[");
	for (size_t i = 0; i < n; i++) {
		struct der_span d = chain_roots_get(sh->roots, i);
		if (i)
			j[o++] = ',';
		j[o++] = '"';
		o += b64_encode(j + o, d.p, d.len);
		j[o++] = '"';
	}
	o += (size_t)sprintf(j + o, "]}");
	sh->roots_json = j;
	sh->roots_json_len = o;
	return 0;
}

static int
shard_open(struct pipe *p, struct shard *sh, char *err, size_t err_len)
{
	const struct config_shard *cs = sh->cfg;
	const char *why = NULL;
	int rc = ctsig_key_load(&sh->key, cs->key, &why);
	if (rc < 0) {
		snprintf(err, err_len, "[shard %s] key %s: %s", cs->name, cs->key,
		         why ? why : strerror(-rc));
		return rc;
	}
	memcpy(sh->log_id, ctsig_key_log_id(sh->key), CTENC_HASH_LEN);
	if ((rc = chain_roots_new(&sh->roots)) < 0)
		return rc;
	for (unsigned i = 0; i < cs->nroots; i++) {
		long n = chain_roots_add_file(sh->roots, cs->roots[i], &why);
		if (n < 0) {
			snprintf(err, err_len, "[shard %s] roots %s: %s", cs->name, cs->roots[i],
			         why ? why : strerror((int)-n));
			return (int)n;
		}
	}
	if (chain_roots_count(sh->roots) == 0) {
		snprintf(err, err_len, "[shard %s] roots: no certificate in %s", cs->name,
		         cs->roots[0]);
		return -EINVAL;
	}
	sh->policy.not_after_start = cs->not_after_start;
	sh->policy.not_after_end = cs->not_after_end;
	if ((rc = roots_json_render(sh)) < 0)
		return rc;
	struct seq_opts so = {
	        .dir = cs->data,
	        .create = true,
	        .key = sh->key,
	        .origin = cs->origin,
	        .batch_max = cs->batch_size,
	};
	char msg[512];
	if ((rc = seq_open(&sh->seq, &so, msg, sizeof msg)) < 0) {
		snprintf(err, err_len, "[shard %s] %s", cs->name, msg);
		return rc;
	}
	/* slots: the pool, each with its buffer */
	sh->nslots = cs->pool;
	size_t slot = p->c->slot_bytes;
	sh->slots = calloc(sh->nslots, sizeof *sh->slots);
	sh->arena = malloc(sh->nslots * slot);
	sh->held_cap = 2 * (size_t)cs->batch_size;
	sh->held = calloc(sh->held_cap, sizeof *sh->held);
	sh->spans = calloc(sh->held_cap * CHAIN_MAX, sizeof *sh->spans);
	if (!sh->slots || !sh->arena || !sh->held || !sh->spans)
		return -ENOMEM;
	char name[RTE_RING_NAMESIZE];
	snprintf(name, sizeof name, "free_%u", sh->id);
	sh->free_slots = ring_make(name, sh->nslots, 0);
	snprintf(name, sizeof name, "admit_to_seq_%u", sh->id);
	sh->admit_to_seq = ring_make(name, sh->nslots, RING_F_SC_DEQ);
	if (!sh->free_slots || !sh->admit_to_seq) {
		snprintf(err, err_len, "[shard %s] rings: %s", cs->name, rte_strerror(rte_errno));
		return -ENOMEM;
	}
	for (size_t i = 0; i < sh->nslots; i++) {
		struct req *r = &sh->slots[i];
		r->buf = sh->arena + i * slot;
		r->cap = slot;
		r->shard = (uint16_t)sh->id;
		if (rte_ring_enqueue(sh->free_slots, r) != 0)
			return -ENOBUFS;
	}
	struct gw_shard *g = &p->gws[sh->id];
	g->prefix = cs->prefix;
	g->roots_json = sh->roots_json;
	g->roots_json_len = sh->roots_json_len;
	g->read_only = cs->read_only;
	p->tlogs[sh->id] = seq_tlog(sh->seq);
	atomic_store(&sh->head_size, seq_head_size(sh->seq));
	return 0;
}

static int
worker_init(struct pipe *p, struct worker *w, char *err, size_t err_len)
{
	w->p = p;
	w->der_cap = B64_DECODED_MAX(p->c->max_body);
	w->der = malloc(w->der_cap);
	if (!w->der)
		return -ENOMEM;
	for (unsigned s = 0; s < p->nshards; s++) {
		struct shard *sh = &p->shard[s];
		int rc = chain_checker_new(&w->checker[s], sh->roots, &sh->policy, 0);
		if (rc == 0)
			rc = store_reader_open(tlog_store(seq_tlog(sh->seq)), &w->reader[s]);
		if (rc == 0)
			rc = ctsig_signer_new(&w->signer[s], sh->key);
		if (rc < 0) {
			snprintf(err, err_len, "[shard %s] worker set-up: %s", sh->cfg->name,
			         strerror(-rc));
			return rc;
		}
	}
	return 0;
}

int
pipe_open(struct pipe **out, const struct config *c, char *err, size_t err_len)
{
	*out = NULL;
	if (err_len)
		err[0] = 0;
	struct pipe *p = calloc(1, sizeof *p);
	if (!p)
		return -ENOMEM;
	p->c = c;
	p->nshards = c->nshards;
	pthread_mutex_init(&p->rate_mu, NULL);
	const char *stall = getenv("BIRCH_TEST_COMMIT_STALL_MS");
	if (stall && *stall) {
		p->stall_ns = strtoull(stall, NULL, 10) * 1000000u;
		blog(BLOG_WARN, "pipe", "test hook: every commit stalls %s ms", stall);
	}
	int cpu[CPUS_MAX];
	int ncpu = cpus_parse(c->cpus, cpu, CPUS_MAX);
	p->nworkers = workers_of(c, ncpu);
	int rc = 0;
	size_t total = 0;
	for (unsigned s = 0; s < p->nshards; s++) {
		struct shard *sh = &p->shard[s];
		sh->p = p;
		sh->id = s;
		sh->cfg = &c->shard[s];
		sh->lcore = 1 + p->nworkers + s;
		if ((rc = shard_open(p, sh, err, err_len)) < 0) {
			if (!err[0])
				snprintf(err, err_len, "[shard %s]: %s", sh->cfg->name,
				         strerror(-rc));
			goto fail;
		}
		atomic_store(&sh->tree_size, seq_size(sh->seq));
		total += sh->nslots;
	}
	p->gw_to_admit = ring_make("gw_to_admit", total, 0);
	p->seq_to_sign = ring_make("seq_to_sign", total, 0);
	if (!p->gw_to_admit || !p->seq_to_sign) {
		snprintf(err, err_len, "rings: %s", rte_strerror(rte_errno));
		rc = -ENOMEM;
		goto fail;
	}
	p->w = aligned_alloc(64, p->nworkers * sizeof *p->w);
	if (!p->w) {
		rc = -ENOMEM;
		goto fail;
	}
	memset(p->w, 0, p->nworkers * sizeof *p->w);
	for (unsigned i = 0; i < p->nworkers; i++) {
		p->w[i].lcore = 1 + i;
		if ((rc = worker_init(p, &p->w[i], err, err_len)) < 0)
			goto fail;
	}
	*out = p;
	return 0;
fail:
	pipe_close(p);
	return rc < 0 ? rc : -EINVAL;
}

const struct gw_shard *
pipe_gw_shards(const struct pipe *p)
{
	return p->gws;
}

struct tlog *const *
pipe_read_logs(const struct pipe *p)
{
	return p->tlogs;
}

const uint8_t *
pipe_log_id(const struct pipe *p, unsigned shard)
{
	return p->shard[shard].log_id;
}

/* ---- the gateway's side ------------------------------------------------------------------ */

static struct req *
gw_req_get(void *ctx, unsigned shard)
{
	struct pipe *p = ctx;
	void *r = NULL;
	if (shard >= p->nshards || rte_ring_dequeue(p->shard[shard].free_slots, &r) != 0)
		return NULL;
	struct req *q = r;
	q->status = 0, q->resp_len = 0, q->retry_after = 0, q->dup = 0, q->nissuers = 0;
	return q;
}

static int
gw_submit(void *ctx, struct req *r)
{
	struct pipe *p = ctx;
	return rte_ring_enqueue(p->gw_to_admit, r) == 0 ? 0 : -ENOBUFS;
}

static void
gw_req_put(void *ctx, struct req *r)
{
	struct pipe *p = ctx;
	/* cannot fail: the ring holds every slot */
	(void)rte_ring_enqueue(p->shard[r->shard].free_slots, r);
}

struct gw_pipeline
pipe_gw_ops(struct pipe *p)
{
	struct gw_pipeline ops = {gw_req_get, gw_submit, gw_req_put, p};
	return ops;
}

/* ---- completion ---------------------------------------------------------------------------- */

static void
finish(struct pipe *p, struct req *r, uint16_t status, const char *reason)
{
	r->status = status;
	size_t n = strlen(reason ? reason : "");
	if (n >= sizeof r->resp)
		n = sizeof r->resp - 1;
	memcpy(r->resp, reason ? reason : "", n);
	r->resp[n] = 0;
	r->resp_len = (uint16_t)n;
	if (status == 503)
		r->retry_after = 1;
	gw_complete(p->gw, r);
}

static void
sign_finish(struct worker *w, struct req *r)
{
	struct pipe *p = w->p;
	struct shard *sh = &p->shard[r->shard];
	uint8_t dsig[CTSIG_DSIG_MAX];
	long dl = ctlog_sct_sign(w->signer[r->shard], dsig, sizeof dsig, r->buf, r->te_len);
	long jl = dl < 0 ? dl
	                 : ctlog_sct_json(r->resp, sizeof r->resp, sh->log_id, r->timestamp,
	                                  r->index, dsig, (size_t)dl);
	if (jl < 0) {
		blog(BLOG_ERROR, "sign", "[shard %s] cannot sign an SCT: %s", sh->cfg->name,
		     strerror((int)-jl));
		finish(p, r, 500, "cannot sign the SCT");
		return;
	}
	r->status = 200;
	r->resp_len = (uint16_t)jl;
	atomic_fetch_add_explicit(&w->signed_scts, 1, memory_order_relaxed);
	gw_complete(p->gw, r);
}

/* ---- admission ------------------------------------------------------------------------------ */

/* Parses, validates and builds r's entry; looks it up in the dedup index. Returns the shard's
 * ring when r goes on to its sequencer, NULL when r was answered here. */
static struct rte_ring *
admit(struct worker *w, struct req *r)
{
	struct pipe *p = w->p;
	struct shard *sh = &p->shard[r->shard];
	const char *why = NULL;
	if (atomic_load_explicit(&sh->failed, memory_order_relaxed)) {
		finish(p, r, 503, "log storage failed; the operator must restart the log");
		return NULL;
	}
	struct json_chain ch;
	int rc = json_chain_parse(&ch, w->der, w->der_cap, w->tok, TOKENS, (const char *)r->body,
	                          r->body_len, &why);
	if (rc < 0)
		goto refuse;
	struct der_span spans[JSON_CHAIN_MAX];
	for (size_t i = 0; i < ch.n; i++)
		spans[i].p = ch.cert[i].p, spans[i].len = ch.cert[i].len;
	struct chain_result res;
	rc = chain_check(w->checker[r->shard], spans, ch.n, r->kind == REQ_ADD_PRE_CHAIN, &res,
	                 &why);
	if (rc < 0)
		goto refuse;
	struct ctlog_built b;
	long len = ctlog_entry_build(r->buf, r->cap, &res, &b, &why);
	if (len < 0) {
		rc = (int)len;
		goto refuse;
	}
	size_t o = (size_t)len;
	for (size_t i = 0; i < res.nissuers; i++) {
		if (res.issuers[i].len > r->cap - o) {
			rc = -ENOSPC;
			why = "entry larger than the slot";
			goto refuse;
		}
		memcpy(r->buf + o, res.issuers[i].p, res.issuers[i].len);
		r->issuer_off[i] = (uint32_t)o;
		r->issuer_len[i] = (uint32_t)res.issuers[i].len;
		o += res.issuers[i].len;
	}
	r->nissuers = (uint8_t)res.nissuers;
	r->entry_len = b.len, r->te_len = b.te_len, r->index_off = b.index_off;
	memcpy(r->dedup_key, b.dedup_key, sizeof r->dedup_key);
	atomic_fetch_add_explicit(&w->admitted, 1, memory_order_relaxed);
	r->admit_wm = seq_watermark(sh->seq);
	uint64_t idx, ts;
	rc = seq_lookup(w->reader[r->shard], b.dedup_key, &idx, &ts);
	if (rc == 0) { /* logged before: the same SCT again */
		r->dup = 1, r->index = idx, r->timestamp = ts;
		ctlog_entry_stamp(r->buf, r->index_off, ts, idx);
		atomic_fetch_add_explicit(&w->duplicates, 1, memory_order_relaxed);
		sign_finish(w, r);
		return NULL;
	}
	if (rc != -ENOENT) {
		finish(p, r, 503, "dedup index unavailable");
		return NULL;
	}
	return sh->admit_to_seq;
refuse:
	atomic_fetch_add_explicit(&w->refused, 1, memory_order_relaxed);
	finish(p, r, rc == -ENOSPC ? 413 : rc == -ENOMEM ? 503 : 400, why ? why : "refused");
	return NULL;
}

static int
worker_loop(void *arg)
{
	struct worker *w = arg;
	struct pipe *p = w->p;
	void *burst[BURST];
	unsigned spins = 0;
	for (;;) {
		/* signing first: those requests are the oldest and their entries are durable */
		unsigned n = rte_ring_dequeue_burst(p->seq_to_sign, burst, BURST, NULL);
		for (unsigned i = 0; i < n; i++)
			sign_finish(w, burst[i]);
		unsigned m = rte_ring_dequeue_burst(p->gw_to_admit, burst, BURST, NULL);
		for (unsigned i = 0; i < m; i++) {
			struct req *r = burst[i];
			struct rte_ring *to = admit(w, r);
			if (to)
				(void)rte_ring_enqueue(to,
				                       r); /* sized for every slot: cannot fail */
		}
		if (n + m) {
			spins = 0;
			continue;
		}
		if (atomic_load(&p->quit) && atomic_load(&p->seq_running) == 0 &&
		    rte_ring_empty(p->seq_to_sign) && rte_ring_empty(p->gw_to_admit))
			return 0;
		idle(&spins);
	}
}

/* ---- the sequencer ------------------------------------------------------------------------- */

static void
seq_fail(struct pipe *p, struct shard *sh, const char *why)
{
	if (!atomic_exchange(&sh->failed, 1))
		blog(BLOG_ERROR, "seq",
		     "[shard %s] storage failed: %s; refusing submissions until restarted",
		     sh->cfg->name, why ? why : "unknown");
	for (size_t i = 0; i < sh->nheld; i++)
		finish(p, sh->held[i], 503,
		       "log storage failed; the operator must restart the log");
	sh->nheld = 0;
}

static void
seq_release(struct pipe *p, struct shard *sh)
{
	const char *why = NULL;
	if (p->stall_ns) {
		struct timespec ts = {(time_t)(p->stall_ns / 1000000000u),
		                      (long)(p->stall_ns % 1000000000u)};
		nanosleep(&ts, NULL);
	}
	uint64_t t0 = mono_ns();
	size_t nheld = sh->nheld;
	int rc = seq_commit(sh->seq, &why);
	if (rc < 0) {
		seq_fail(p, sh, why);
		return;
	}
	uint64_t t1 = mono_ns();
	metrics_hist_add(&sh->m_batch, metrics_bounds_n, nheld);
	metrics_hist_add(&sh->m_commit, metrics_bounds_ns, t1 - t0);
	metrics_hist_add(&sh->m_seq, metrics_bounds_ns, t1 - sh->first_ns);
	atomic_fetch_add_explicit(&p->batches, 1, memory_order_relaxed);
	atomic_store_explicit(&sh->tree_size, seq_size(sh->seq), memory_order_relaxed);
	/* durable: now the signers may have them (the ring holds every slot) */
	for (size_t done = 0; done < sh->nheld;)
		done += rte_ring_enqueue_burst(p->seq_to_sign, (void **)sh->held + done,
		                               (unsigned)(sh->nheld - done), NULL);
	sh->nheld = 0;
}

static void
seq_one(struct pipe *p, struct shard *sh, struct req *r, uint64_t now)
{
	if (atomic_load_explicit(&sh->failed, memory_order_relaxed)) {
		finish(p, r, 503, "log storage failed; the operator must restart the log");
		return;
	}
	struct der_span *sp = &sh->spans[sh->nheld * CHAIN_MAX];
	for (unsigned i = 0; i < r->nissuers; i++)
		sp[i].p = r->buf + r->issuer_off[i], sp[i].len = r->issuer_len[i];
	struct seq_entry e = {
	        .entry = r->buf,
	        .len = r->entry_len,
	        .te_len = r->te_len,
	        .index_off = r->index_off,
	        .dedup_key = r->dedup_key,
	        .admit_wm = r->admit_wm,
	        .issuers = sp,
	        .nissuers = r->nissuers,
	};
	const char *why = NULL;
	int v = seq_add(sh->seq, &e, &why);
	if (v < 0) {
		finish(p, r, 503, why);
		return;
	}
	r->index = e.index, r->timestamp = e.timestamp;
	if (v == SEQ_DUP_DURABLE) {
		r->dup = 1;
		atomic_fetch_add_explicit(&p->dup_seq, 1, memory_order_relaxed);
		(void)rte_ring_enqueue(p->seq_to_sign, r);
		return;
	}
	if (v == SEQ_DUP_PENDING) {
		r->dup = 1;
		atomic_fetch_add_explicit(&p->dup_seq, 1, memory_order_relaxed);
	} else {
		atomic_fetch_add_explicit(&p->sequenced, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&sh->entries, 1, memory_order_relaxed);
	}
	if (sh->nheld == 0)
		sh->first_ns = now;
	sh->held[sh->nheld++] = r;
}

static void
head_maybe(struct pipe *p, struct shard *sh, uint64_t now, bool force)
{
	if (!force && now - sh->head_ns < HEAD_EVERY)
		return;
	if (atomic_load_explicit(&sh->failed, memory_order_relaxed))
		return;
	sh->head_ns = now;
	const char *why = NULL;
	int rc = seq_sign_head(sh->seq, &why);
	if (rc < 0) {
		blog(BLOG_ERROR, "seq", "[shard %s] tree head not signed: %s", sh->cfg->name,
		     why ? why : strerror(-rc));
		if (rc != -EEXIST) /* a fork refused stays refused; storage errors fail the shard */
			seq_fail(p, sh, why);
		else
			atomic_store(&sh->failed, 1);
	} else if (rc > 0) {
		atomic_fetch_add_explicit(&p->heads, 1, memory_order_relaxed);
		atomic_store_explicit(&sh->head_size, seq_head_size(sh->seq), memory_order_relaxed);
	}
}

/* The ring ran dry with a batch open: nothing is due before the batch's deadline, so sleep
 * towards it in steps of at most SEQ_NAP_MAX rather than polling. Polling every 20 us cost the
 * sequencer about 40,000 wake-ups a second under load, CPU the workers needed for their
 * signatures (bench/README.md); a step of 1 ms lets at most a millisecond's arrivals collect
 * in the ring, which holds every slot. */
#define SEQ_NAP_MAX 1000000u
static void
seq_nap(const struct shard *sh, uint64_t now, uint64_t deadline)
{
	uint64_t due = sh->first_ns + deadline;
	if (now >= due)
		return;
	uint64_t ns = due - now < SEQ_NAP_MAX ? due - now : SEQ_NAP_MAX;
	struct timespec ts = {0, (long)ns};
	nanosleep(&ts, NULL);
}

static int
seq_loop(void *arg)
{
	struct shard *sh = arg;
	struct pipe *p = sh->p;
	const uint64_t deadline = (uint64_t)sh->cfg->batch_deadline_ms * 1000000u;
	struct req *burst[BURST];
	unsigned spins = 0;
	sh->head_ns = mono_ns();
	for (;;) {
		bool quitting = atomic_load(&p->quit);
		size_t room = seq_room(sh->seq);
		if (room > sh->held_cap - sh->nheld)
			room = sh->held_cap - sh->nheld;
		if (room > BURST)
			room = BURST;
		unsigned n = room ? rte_ring_sc_dequeue_burst(sh->admit_to_seq, (void **)burst,
		                                              (unsigned)room, NULL)
		                  : 0;
		uint64_t now = mono_ns();
		for (unsigned i = 0; i < n; i++)
			seq_one(p, sh, burst[i], now);
		/* A batch closes when full or at its deadline (from its first entry): waiting for
		 * the deadline rather than committing whenever the ring runs dry costs latency at
		 * low load (at most the deadline) and saves most commits at high load, where
		 * measured throughput rose from 10k/s to 13k/s (bench/README.md). */
		if (sh->nheld > 0 && (seq_room(sh->seq) == 0 || sh->nheld == sh->held_cap ||
		                      now - sh->first_ns >= deadline))
			seq_release(p, sh);
		bool idle_now = n == 0 && sh->nheld == 0;
		head_maybe(p, sh, now, false);
		if (quitting && idle_now && rte_ring_empty(sh->admit_to_seq)) {
			head_maybe(p, sh, now, true);
			break;
		}
		if (n == 0 && sh->nheld > 0)
			seq_nap(sh, now, deadline);
		else if (n == 0)
			idle(&spins);
		else
			spins = 0;
	}
	atomic_fetch_sub(&p->seq_running, 1);
	return 0;
}

/* ---- launch and stop ------------------------------------------------------------------------ */

int
pipe_launch(struct pipe *p, struct gw *g, char *err, size_t err_len)
{
	p->gw = g;
	atomic_store(&p->seq_running, p->nshards);
	for (unsigned s = 0; s < p->nshards; s++) {
		int rc = rte_eal_remote_launch(seq_loop, &p->shard[s], p->shard[s].lcore);
		if (rc != 0) {
			snprintf(err, err_len,
			         "cannot launch the sequencer of [shard %s] on lcore %u",
			         p->shard[s].cfg->name, p->shard[s].lcore);
			return -EIO;
		}
	}
	for (unsigned i = 0; i < p->nworkers; i++) {
		int rc = rte_eal_remote_launch(worker_loop, &p->w[i], p->w[i].lcore);
		if (rc != 0) {
			snprintf(err, err_len, "cannot launch worker %u on lcore %u", i,
			         p->w[i].lcore);
			return -EIO;
		}
	}
	return 0;
}

void
pipe_quit(struct pipe *p)
{
	atomic_store(&p->quit, 1);
	for (unsigned s = 0; s < p->nshards; s++)
		rte_eal_wait_lcore(p->shard[s].lcore);
	for (unsigned i = 0; i < p->nworkers; i++)
		rte_eal_wait_lcore(p->w[i].lcore);
}

void
pipe_close(struct pipe *p)
{
	if (!p)
		return;
	for (unsigned i = 0; p->w && i < p->nworkers; i++) {
		struct worker *w = &p->w[i];
		for (unsigned s = 0; s < p->nshards; s++) {
			chain_checker_free(w->checker[s]);
			if (w->reader[s])
				store_reader_close(w->reader[s]);
			ctsig_signer_free(w->signer[s]);
		}
		free(w->der);
	}
	free(p->w);
	for (unsigned s = 0; s < p->nshards; s++) {
		struct shard *sh = &p->shard[s];
		seq_close(sh->seq);
		chain_roots_free(sh->roots);
		ctsig_key_free(sh->key);
		rte_ring_free(sh->free_slots);
		rte_ring_free(sh->admit_to_seq);
		free(sh->slots);
		free(sh->arena);
		free(sh->held);
		free(sh->spans);
		free(sh->roots_json);
		free(sh->log_json);
	}
	rte_ring_free(p->gw_to_admit);
	rte_ring_free(p->seq_to_sign);
	free(p);
}

/* ---- /log.v3.json --------------------------------------------------------------------------- */

static void
fmt_time(char out[32], int64_t secs)
{
	time_t t = (time_t)secs;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The shard's entry in a Chrome v3 log list ("logs" array shape): the state's timestamp is
 * the first signed head's (when the log began), or for a read-only log the latest head's,
 * which is also its final_tree_head. */
static int
log_json_render(struct shard *sh, uint16_t port, char **out, size_t *len)
{
	const struct config_shard *cs = sh->cfg;
	const struct config *c = sh->p->c;
	char url[CONFIG_URL_MAX + 160];
	if (cs->url[0]) {
		snprintf(url, sizeof url, "%s", cs->url);
	} else {
		const struct config_listen *l = &c->listen[0];
		bool v6 = strchr(l->host, ':') != NULL;
		snprintf(url, sizeof url, "http://%s%s%s:%u%s/", v6 ? "[" : "", l->host,
		         v6 ? "]" : "", port, cs->prefix);
	}
	struct tlog_reader *tr = NULL;
	struct store_head h;
	static uint8_t hb[STORE_HEAD_MAX]; /* start-up only, one shard at a time */
	uint8_t root0[STORE_HASH_LEN];
	uint64_t first_ts = 0;
	int rc = tlog_reader_open(seq_tlog(sh->seq), &tr);
	if (rc == 0)
		rc = store_head_get(tlog_reader_store(tr), &h, hb, sizeof hb);
	if (rc == 0 && store_signed_get(tlog_reader_store(tr), 0, root0, &first_ts) < 0)
		first_ts = h.timestamp; /* size 0 was never signed alone: the first head we have */
	tlog_reader_close(tr);
	if (rc < 0)
		return rc;
	size_t cap = 4096 + 2 * CONFIG_DESCRIPTION_MAX + sizeof url;
	char *j = malloc(cap);
	if (!j)
		return -ENOMEM;
	char id[64], key[256], ts[32], root[64];
	b64_encode(id, sh->log_id, sizeof sh->log_id);
	if (ctsig_key_spki_b64(key, sizeof key, sh->key) < 0)
		key[0] = 0;
	size_t o = 0;
	o += (size_t)snprintf(j + o, cap - o,
	                      "{\"description\":\"%s\",\"log_id\":\"%s\",\"key\":\"%s\","
	                      "\"url\":\"%s\",\"mmd\":%u,",
	                      cs->description, id, key, url, cs->mmd);
	if (cs->not_after_start != 0 || cs->not_after_end != INT64_MAX) {
		char a[32], b[32];
		fmt_time(a, cs->not_after_start);
		fmt_time(b, cs->not_after_end);
		o += (size_t)snprintf(j + o, cap - o,
		                      "\"temporal_interval\":{\"start_inclusive\":\"%s\","
		                      "\"end_exclusive\":\"%s\"},",
		                      a, b);
	}
	if (cs->read_only) {
		fmt_time(ts, (int64_t)(h.timestamp / 1000));
		b64_encode(root, h.root, sizeof h.root);
		o += (size_t)snprintf(j + o, cap - o,
		                      "\"state\":{\"readonly\":{\"timestamp\":\"%s\","
		                      "\"final_tree_head\":{\"sha256_root_hash\":\"%s\","
		                      "\"tree_size\":%llu}}}}",
		                      ts, root, (unsigned long long)h.size);
	} else {
		fmt_time(ts, (int64_t)(first_ts / 1000));
		o += (size_t)snprintf(j + o, cap - o,
		                      "\"state\":{\"usable\":{\"timestamp\":\"%s\"}}}", ts);
	}
	if (o >= cap) {
		free(j);
		return -E2BIG;
	}
	*out = j;
	*len = o;
	return 0;
}

void
pipe_log_json(void *ctx, unsigned shard, uint16_t port, const char **json, size_t *len)
{
	struct pipe *p = ctx;
	*json = NULL;
	*len = 0;
	if (shard >= p->nshards)
		return;
	struct shard *sh = &p->shard[shard];
	free(sh->log_json);
	sh->log_json = NULL;
	int rc = log_json_render(sh, port, &sh->log_json, len);
	if (rc < 0) {
		blog(BLOG_WARN, "pipe", "[shard %s] /log.v3.json not available: %s", sh->cfg->name,
		     strerror(-rc));
		*len = 0;
		return;
	}
	*json = sh->log_json;
}

/* ---- /metrics ---------------------------------------------------------------------------- */

/* One gauge per ring: its entries (cap: false) or its capacity. */
static void
ring_gauges(struct pipe *p, struct metrics_out *o, bool cap)
{
	const char *name = cap ? "birch_ring_capacity" : "birch_ring_entries";
	struct {
		char n[CONFIG_NAME_MAX + 16];
		const struct rte_ring *r;
	} rings[2 + 2 * CONFIG_SHARDS_MAX];
	unsigned k = 0;
	snprintf(rings[k].n, sizeof rings[k].n, "gw_to_admit");
	rings[k++].r = p->gw_to_admit;
	snprintf(rings[k].n, sizeof rings[k].n, "seq_to_sign");
	rings[k++].r = p->seq_to_sign;
	for (unsigned s = 0; s < p->nshards; s++) {
		snprintf(rings[k].n, sizeof rings[k].n, "admit_to_seq_%s", p->shard[s].cfg->name);
		rings[k++].r = p->shard[s].admit_to_seq;
		snprintf(rings[k].n, sizeof rings[k].n, "free_%s", p->shard[s].cfg->name);
		rings[k++].r = p->shard[s].free_slots;
	}
	for (unsigned i = 0; i < k; i++)
		metrics_printf(o, "%s{ring=\"%s\"} %u\n", name, rings[i].n,
		               cap ? rte_ring_get_capacity(rings[i].r)
		                   : rte_ring_count(rings[i].r));
}

void
pipe_metrics(void *ctx, struct metrics_out *o)
{
	struct pipe *p = ctx;
	struct pipe_stats st;
	pipe_stats_get(p, &st);
	metrics_head(o, "birch_ring_entries", "gauge",
	             "Requests waiting in each ring between stages (free_* holds a shard's free "
	             "request slots).");
	ring_gauges(p, o, false);
	metrics_head(o, "birch_ring_capacity", "gauge", "Each ring's capacity.");
	ring_gauges(p, o, true);
	metrics_head(o, "birch_tree_size", "gauge", "Committed entries in the shard's tree.");
	for (unsigned s = 0; s < p->nshards; s++)
		metrics_printf(o, "birch_tree_size{log=\"%s\"} %llu\n", p->shard[s].cfg->name,
		               (unsigned long long)atomic_load(&p->shard[s].tree_size));
	metrics_head(o, "birch_signed_tree_size", "gauge",
	             "The tree size of the latest signed (published) tree head.");
	for (unsigned s = 0; s < p->nshards; s++)
		metrics_printf(o, "birch_signed_tree_size{log=\"%s\"} %llu\n",
		               p->shard[s].cfg->name,
		               (unsigned long long)atomic_load(&p->shard[s].head_size));
	metrics_head(o, "birch_entries_total", "counter",
	             "New entries sequenced since start (rate() gives entries per second).");
	for (unsigned s = 0; s < p->nshards; s++)
		metrics_printf(o, "birch_entries_total{log=\"%s\"} %llu\n", p->shard[s].cfg->name,
		               (unsigned long long)atomic_load(&p->shard[s].entries));
	pthread_mutex_lock(&p->rate_mu);
	uint64_t now = mono_ns();
	if (p->rate_ns == 0 || now - p->rate_ns >= 1000000000u) {
		if (p->rate_ns != 0)
			p->rate = (double)(st.sequenced - p->rate_entries) * 1e9 /
			          (double)(now - p->rate_ns);
		p->rate_ns = now;
		p->rate_entries = st.sequenced;
	}
	double rate = p->rate;
	pthread_mutex_unlock(&p->rate_mu);
	metrics_head(o, "birch_entries_per_second", "gauge",
	             "New entries per second over all shards, between the two latest scrapes at "
	             "least a second apart.");
	metrics_printf(o, "birch_entries_per_second %.1f\n", rate);
	metrics_head(o, "birch_dedup_hits_total", "counter",
	             "Submissions answered with an existing entry's SCT.");
	metrics_printf(o, "birch_dedup_hits_total %llu\n", (unsigned long long)st.duplicates);
	metrics_head(o, "birch_admission_refused_total", "counter",
	             "Submissions refused by admission (bad input, untrusted chain, ...; "
	             "birch_rejections_total has the reasons).");
	metrics_printf(o, "birch_admission_refused_total %llu\n", (unsigned long long)st.refused);
	metrics_head(o, "birch_scts_signed_total", "counter", "SCTs signed (new and duplicate).");
	metrics_printf(o, "birch_scts_signed_total %llu\n", (unsigned long long)st.signed_scts);
	metrics_head(o, "birch_tree_heads_signed_total", "counter", "Tree heads signed.");
	metrics_printf(o, "birch_tree_heads_signed_total %llu\n", (unsigned long long)st.heads);
	metrics_head(o, "birch_batch_entries", "histogram", "Entries per durable commit.");
	for (unsigned s = 0; s < p->nshards; s++) {
		char l[CONFIG_NAME_MAX + 16];
		snprintf(l, sizeof l, "log=\"%s\"", p->shard[s].cfg->name);
		metrics_hist_put(o, "birch_batch_entries", l, &p->shard[s].m_batch, false);
	}
	metrics_head(o, "birch_commit_duration_seconds", "histogram",
	             "Duration of one durable commit (tiles written and synced, then LMDB).");
	for (unsigned s = 0; s < p->nshards; s++) {
		char l[CONFIG_NAME_MAX + 16];
		snprintf(l, sizeof l, "log=\"%s\"", p->shard[s].cfg->name);
		metrics_hist_put(o, "birch_commit_duration_seconds", l, &p->shard[s].m_commit,
		                 true);
	}
	metrics_head(o, "birch_sequencing_duration_seconds", "histogram",
	             "From a batch's first entry being sequenced to its commit returning (the wait "
	             "for the batch to close, plus the commit).");
	for (unsigned s = 0; s < p->nshards; s++) {
		char l[CONFIG_NAME_MAX + 16];
		snprintf(l, sizeof l, "log=\"%s\"", p->shard[s].cfg->name);
		metrics_hist_put(o, "birch_sequencing_duration_seconds", l, &p->shard[s].m_seq,
		                 true);
	}
}

void
pipe_stats_get(const struct pipe *p, struct pipe_stats *out)
{
	memset(out, 0, sizeof *out);
	for (unsigned i = 0; i < p->nworkers; i++) {
		out->admitted += atomic_load(&p->w[i].admitted);
		out->refused += atomic_load(&p->w[i].refused);
		out->duplicates += atomic_load(&p->w[i].duplicates);
		out->signed_scts += atomic_load(&p->w[i].signed_scts);
	}
	out->duplicates += atomic_load(&p->dup_seq);
	out->sequenced = atomic_load(&p->sequenced);
	out->batches = atomic_load(&p->batches);
	out->heads = atomic_load(&p->heads);
	for (unsigned s = 0; s < p->nshards; s++)
		out->tree_size[s] = atomic_load(&p->shard[s].tree_size);
}
