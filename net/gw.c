/* net/gw.c: the HTTP gateway (net/gw.h) on h2o 2.2.5's own event loop (libh2o-evloop).
 *
 * Why h2o and not libmicrohttpd: bench/README.md, "HTTP library choice" (less CPU per request,
 * no keep-alive stalls under many connections, a built-in 413 that never buffers the body).
 *
 * Listeners: each listen address is bound once, and every gateway thread polls its own dup()
 * of that one socket; the thread whose accept4() wins owns the connection. Not SO_REUSEPORT
 * per thread, because then a second server of the same user could bind the same port and
 * silently take part of the traffic, where one plain bind fails with "Address already in
 * use"; port 0 also needs no second bind to the port the first one got. The price is that a
 * new connection wakes every idle gateway thread and all but one get EAGAIN, small beside a
 * request with the few gateway threads a server runs. h2o's own server does the same.
 *
 * A submission: once h2o has the whole body, the handler takes a slot (req_get), points
 * r->body into h2o's input buffer and submits the slot. h2o reads nothing more from the
 * connection until the answer is written, so that buffer neither moves nor goes away while
 * the pipeline holds the slot. gw_complete() hands the slot back through the owning thread's
 * h2o_multithread_receiver (a mutex-guarded list, and one byte down a pipe only when the
 * list was empty, so a burst of completions costs one wake-up); that thread writes the answer
 * (h2o copies it) and puts the slot back. A client that went away meanwhile is noticed only
 * when the answer is written: the write fails, h2o closes the connection, and the slot has
 * been returned already.
 *
 * Full data tiles: see "full data tiles before h2o" below (sendfile, ahead of h2o).
 *
 * Memory: one struct gw_conn (malloc) per connection besides h2o's own, at most
 * max_connections of them (more are accepted and closed at once); per thread at most
 * RD_FILES open tile files (net/rd.h), and one more per connection sending a tile beyond
 * those. h2o buffers a request body only up to max_body (max_request_entity_size: a larger
 * Content-Length is answered 413 before any of the body is read, a chunked body when its
 * decoded size passes the limit, and the connection is then closed). h2o aborts the process
 * when malloc fails.
 */
#include "net/gw.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define H2O_USE_LIBUV 0 /* the evloop build; its pkg-config file does not say so */
#include <h2o.h>

#include "net/h1f.h"
#include "net/log.h"
#include "net/metrics.h"
#include "net/rd.h"

#define GW_THREADS_MAX   256 /* r->gw_thread is 16 bits; config allows 64 */
#define GW_ACCEPT_BURST  64  /* connections accepted per wake-up, per thread */
#define GW_BACKLOG       1024
#define GW_STOP_WAIT_MS  3000 /* gw_stop: how long a thread waits for its connections to go */
#define GW_ACCEPT_LOG_NS (10ull * 1000000000ull) /* one accept error line per 10 s per thread */

enum gw_endpoint {
	GW_EP_NONE,
	GW_EP_ADD_CHAIN,
	GW_EP_ADD_PRE_CHAIN,
	GW_EP_GET_ROOTS,
	GW_EP_READ, /* the read path (net/rd.h) */
	GW_EP_LOG_LIST,
	GW_EP_METRICS,
};

/* Endpoints as /metrics names them: the write side, then net/rd.h's, then the rest. */
enum {
	GW_M_ADD_CHAIN,
	GW_M_ADD_PRE_CHAIN,
	GW_M_GET_ROOTS,
	GW_M_READ, /* + enum rd_endpoint */
	GW_M_LOG_LIST = GW_M_READ + RD_EP_N,
	GW_M_METRICS,
	GW_M_OTHER, /* 404s and the like */
	GW_M_N
};
static const char *const gw_m_name[GW_M_N] = {"add-chain",
                                              "add-pre-chain",
                                              "get-roots",
                                              "get-sth",
                                              "get-sth-consistency",
                                              "get-proof-by-hash",
                                              "get-entries",
                                              "get-entry-and-proof",
                                              "checkpoint",
                                              "tile",
                                              "data-tile",
                                              "issuer",
                                              "log.v3.json",
                                              "metrics",
                                              "other"};

/* Refusals by reason, per thread: the one-line reasons are a small fixed set (static strings
 * in the pipeline and here), so a small table keyed by the text holds them all; past
 * GW_REASONS distinct texts, the rest count under "other". */
#define GW_REASONS     64
#define GW_REASON_TEXT 96
struct gw_reason {
	uint64_t hash; /* 0: free */
	uint16_t status;
	char text[GW_REASON_TEXT];
	_Atomic uint64_t count; /* published after text (release) */
};

#define GW_METRICS_CAP (512u << 10) /* a /metrics answer, at most */

/* A submission the pipeline holds; lives in the h2o request's pool, which h2o keeps until the
 * answer has been written. */
struct gw_pending {
	h2o_multithread_message_t msg; /* gw_complete() -> the owning thread */
	h2o_linklist_t link;           /* the thread's pending list (gw_stop) */
	h2o_req_t *hreq;
	struct req *r;
};

/* A connection. Until `h2o` is set it is the gateway's own (gw_fast_*): plain GETs of full
 * data tiles are answered here with sendfile; anything else hands it to h2o for good. */
struct gw_conn {
	h2o_linklist_t link; /* the thread's connections (gw_stop) */
	h2o_socket_t *sock;
	struct gw_thread *t;
	bool h2o;                 /* h2o has it */
	bool reading;             /* waiting to read (gw_fast_on_io) */
	bool keep;                /* the answer being sent leaves the connection open */
	h2o_timeout_entry_t idle; /* waiting for a request (h2o's HTTP/1 request timeout) */
	struct rd_file file;      /* the tile being sent; file.fd -1: none */
	off_t off, end;           /* its bytes still to send */
	size_t req_len;           /* the request answered, consumed once sent */
	size_t head_off, head_len;
	char head[256]; /* the answer's status line and headers */
};

struct gw_thread {
	struct gw *g;
	unsigned idx;
	pthread_t tid;
	bool started;
	bool listeners_closed;
	h2o_evloop_t *loop;
	h2o_context_t ctx;
	bool ctx_inited;
	h2o_accept_ctx_t accept_ctx;
	h2o_multithread_receiver_t done_rx;
	int lfd[CONFIG_LISTEN_MAX]; /* dups of the listening sockets, until ls[] owns them */
	h2o_socket_t *ls[CONFIG_LISTEN_MAX];
	h2o_timeout_entry_t accept_retry; /* listeners paused after EMFILE and the like */
	uint64_t accept_log_ns;
	h2o_mem_pool_t leftovers; /* h2o's recycled pool chunks at exit (gw_thread_main) */
	h2o_linklist_t conns;     /* struct gw_conn */
	h2o_linklist_t pending;   /* struct gw_pending */
	unsigned nconns;
	struct rd *rd; /* this thread's read path; NULL without one */
	/* the request being answered synchronously (gw_on_req) or completed (gw_on_done) */
	unsigned cur_m;
	uint64_t cur_t0;
	struct metrics_hist lat[GW_M_N];
	_Atomic uint64_t by_class[GW_M_N][6];
	struct gw_reason reason[GW_REASONS + 1]; /* [GW_REASONS]: "other" */
	char *metrics_buf;                       /* GW_METRICS_CAP, on the first /metrics */

	/* Statistics: written by this thread only, read by gw_stats_get(). */
	_Atomic uint64_t requests, responses[6], connections_total;
	/* answered by h2o before our handler; copied from h2o's counters once per loop turn */
	_Atomic uint64_t h2o_400, h2o_413, h2o_417;
} __attribute__((aligned(64)));

struct gw_handler {
	h2o_handler_t super;
	struct gw *g;
};

struct gw_route_shard {
	char prefix[CONFIG_PREFIX_MAX];
	size_t prefix_len;
	const char *roots_json;
	size_t roots_json_len;
	const char *log_json;
	size_t log_json_len;
	bool read_only;
};

struct gw {
	h2o_globalconf_t conf;
	bool conf_inited;
	struct gw_route_shard *shards;
	unsigned nshards;
	struct gw_pipeline pipe;
	bool reads; /* the config named tlogs: the read path is served */
	void (*metrics)(void *ctx, struct metrics_out *o);
	void *metrics_ctx;
	unsigned max_connections;
	char retry_after[16]; /* the config's, as a header value */
	uint16_t port[CONFIG_LISTEN_MAX];
	unsigned nlisten;

	_Atomic unsigned conns_open;
	_Atomic long inflight;   /* submitted and not yet answered (or about to be submitted) */
	_Atomic long completing; /* callers inside gw_complete() */
	atomic_bool draining, stopping;
	atomic_bool stop_sent; /* gw_stop() has woken every thread: their pipes may close */
	_Atomic unsigned threads_drained;
	pthread_mutex_t ready_mu; /* gw_start() waits until every thread has set up */
	pthread_cond_t ready_cv;
	unsigned nready;

	struct gw_thread *threads;
	unsigned nthreads;
};

static uint64_t
gw_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void
gw_stat_inc(_Atomic uint64_t *s)
{
	/* one writer per counter: a relaxed load and store, no locked instruction */
	atomic_store_explicit(s, atomic_load_explicit(s, memory_order_relaxed) + 1,
	                      memory_order_relaxed);
}

static void
gw_wake(struct gw_thread *t)
{
	h2o_multithread_send_message(&t->done_rx, NULL);
}

/* ---- answers ---- */

static const char *
gw_status_reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 413:
		return "Payload Too Large";
	case 429:
		return "Too Many Requests";
	case 500:
		return "Internal Server Error";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return status < 400 ? "OK" : status < 500 ? "Client Error" : "Server Error";
	}
}

static uint64_t
gw_reason_hash(int status, const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull ^ (uint64_t)status;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
	return h ? h : 1;
}

static void
gw_reason_count(struct gw_thread *t, int status, const char *text, size_t n)
{
	while (n > 0 && text[n - 1] == '\n')
		n--;
	if (n >= GW_REASON_TEXT)
		n = GW_REASON_TEXT - 1;
	uint64_t h = gw_reason_hash(status, text, n);
	struct gw_reason *r = &t->reason[GW_REASONS];
	for (unsigned i = 0; i < GW_REASONS; i++) {
		struct gw_reason *x = &t->reason[(h + i) % GW_REASONS];
		if (x->hash == h) {
			r = x;
			break;
		}
		if (x->hash == 0) {
			x->hash = h;
			x->status = (uint16_t)status;
			memcpy(x->text, text, n);
			x->text[n] = 0;
			r = x;
			break;
		}
	}
	atomic_fetch_add_explicit(&r->count, 1, memory_order_release);
}

/* Counts an answer of the current request (t->cur_m, t->cur_t0) by class and latency, and a
 * refusal by its reason. */
static void
gw_observe(struct gw_thread *t, int status, const char *body, size_t len)
{
	unsigned c = status / 100 <= 5 ? (unsigned)status / 100 : 5;
	gw_stat_inc(&t->responses[c]);
	gw_stat_inc(&t->by_class[t->cur_m][c]);
	metrics_hist_add(&t->lat[t->cur_m], metrics_bounds_ns, gw_now_ns() - t->cur_t0);
	if (status >= 400 && t->cur_m != GW_M_OTHER)
		gw_reason_count(t, status, body, len);
}

/* Writes one answer; the body is copied (h2o_send_inline), so it may be the slot's. A 503
 * gets Retry-After (retry_after seconds, or the config's when 0); allow, when not NULL, goes
 * into an Allow header. */
static void
gw_send(struct gw_thread *t, h2o_req_t *req, int status, bool json, const char *body, size_t len,
        uint32_t retry_after, const char *allow)
{
	req->res.status = status;
	req->res.reason = gw_status_reason(status);
	if (json)
		h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
		               H2O_STRLIT("application/json"));
	else
		h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
		               H2O_STRLIT("text/plain; charset=utf-8"));
	if (status == 503) {
		if (retry_after == 0) {
			h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL,
			               t->g->retry_after, strlen(t->g->retry_after));
		} else {
			char *v = h2o_mem_alloc_pool(&req->pool, 12);
			int n = snprintf(v, 12, "%u", (unsigned)retry_after);
			h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL,
			               v, (size_t)n);
		}
	}
	if (allow != NULL)
		h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, allow,
		               strlen(allow));
	req->res.content_length = len;
	gw_observe(t, status, body, len);
	h2o_send_inline(req, body, len);
}

/* A status the gateway decides itself; reason ends with its "\n". */
static void
gw_send_error(struct gw_thread *t, h2o_req_t *req, int status, const char *reason,
              const char *allow)
{
	gw_send(t, req, status, false, reason, strlen(reason), 0, allow);
}

/* The pipeline's answer in r: 200 with its JSON, or r->status with the reason and "\n". */
static void
gw_send_completion(struct gw_thread *t, h2o_req_t *req, const struct req *r)
{
	size_t len = r->resp_len <= REQ_RESP_MAX ? r->resp_len : REQ_RESP_MAX;
	int status = r->status;
	if (status < 200 || status > 599)
		status = 500; /* a pipeline bug; still an answer */
	if (status == 200) {
		gw_send(t, req, 200, true, r->resp, len, 0, NULL);
		return;
	}
	char line[REQ_RESP_MAX + 1];
	memcpy(line, r->resp, len);
	line[len] = '\n';
	gw_send(t, req, status, false, line, len + 1, r->retry_after, NULL);
}

/* ---- routing ---- */

/* The shard whose prefix is the longest one ending at a segment boundary of path (the root
 * shard "" matches every path), and the endpoint under it. */
static enum gw_endpoint
gw_route(const struct gw *g, const char *path, size_t len, unsigned *shard)
{
	long best = -1;
	size_t best_len = 0;
	for (unsigned i = 0; i < g->nshards; i++) {
		const struct gw_route_shard *s = &g->shards[i];
		if (s->prefix_len > len || (best >= 0 && s->prefix_len <= best_len))
			continue;
		if (memcmp(path, s->prefix, s->prefix_len) != 0)
			continue;
		if (s->prefix_len < len && path[s->prefix_len] != '/')
			continue;
		best = i;
		best_len = s->prefix_len;
	}
	if (best < 0)
		return GW_EP_NONE;
	*shard = (unsigned)best;
	const char *rest = path + best_len;
	size_t rlen = len - best_len;
	if (h2o_memis(rest, rlen, H2O_STRLIT("/ct/v1/add-chain")))
		return GW_EP_ADD_CHAIN;
	if (h2o_memis(rest, rlen, H2O_STRLIT("/ct/v1/add-pre-chain")))
		return GW_EP_ADD_PRE_CHAIN;
	if (h2o_memis(rest, rlen, H2O_STRLIT("/ct/v1/get-roots")))
		return GW_EP_GET_ROOTS;
	if (g->reads && rd_is_read_path(rest, rlen))
		return GW_EP_READ;
	if (h2o_memis(rest, rlen, H2O_STRLIT("/log.v3.json")))
		return GW_EP_LOG_LIST;
	return GW_EP_NONE;
}

/* JSON borrowed for the gateway's life (get-roots, log.v3.json): sent from where it is. */
static void
gw_send_static_json(struct gw_thread *t, h2o_req_t *req, const char *json, size_t len)
{
	static h2o_generator_t generator = {NULL, NULL};
	req->res.status = 200;
	req->res.reason = "OK";
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
	               H2O_STRLIT("application/json"));
	req->res.content_length = len;
	gw_observe(t, 200, NULL, 0);
	h2o_start_response(req, &generator);
	h2o_iovec_t body = h2o_iovec_init(json, len);
	if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD")))
		h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
	else
		h2o_send(req, &body, 1, H2O_SEND_STATE_FINAL);
}

/* A held body (a cached tile) is let go when the request's pool is cleared, after h2o has
 * sent it. */
static void
gw_hold_dispose(void *p)
{
	rd_release(*(struct rd_hold **)p);
}

/* A read (net/rd.h), answered here on the gateway thread: a held body (a cached full tile) is
 * sent from where it is, kept until the request is done; any other is copied into the
 * request's pool (h2o_send_inline), so the rd's buffer is free again at once. */
static void
gw_read(struct gw_thread *t, h2o_req_t *req, unsigned shard, const char *path, size_t len, bool get)
{
	const char *q = "";
	size_t qlen = 0;
	if (req->query_at != SIZE_MAX && req->query_at < req->path.len) {
		q = req->path.base + req->query_at + 1;
		qlen = req->path.len - req->query_at - 1;
	}
	struct rd_resp a;
	rd_get(t->rd, shard, get, path, len, q, qlen, &a);
	if (a.status == 405) {
		gw_send_error(t, req, 405, "method not allowed\n", "GET, HEAD");
		return;
	}
	req->res.status = a.status;
	req->res.reason = gw_status_reason(a.status);
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, a.content_type,
	               strlen(a.content_type));
	if (a.cache_control)
		h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
		               a.cache_control, strlen(a.cache_control));
	if (a.status == 503)
		h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL,
		               t->g->retry_after, strlen(t->g->retry_after));
	req->res.content_length = a.len;
	gw_observe(t, a.status, (const char *)a.body, a.status >= 400 ? a.len : 0);
	static h2o_generator_t generator = {NULL, NULL};
	if (a.hold) {
		struct rd_hold **hp = h2o_mem_alloc_shared(&req->pool, sizeof *hp, gw_hold_dispose);
		*hp = a.hold;
	}
	if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
		h2o_start_response(req, &generator);
		h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
		return;
	}
	if (a.hold) {
		h2o_iovec_t body = h2o_iovec_init(a.body, a.len);
		h2o_start_response(req, &generator);
		h2o_send(req, &body, 1, H2O_SEND_STATE_FINAL);
		return;
	}
	h2o_send_inline(req, (const char *)a.body, a.len);
}

static void
gw_add(struct gw_thread *t, h2o_req_t *req, unsigned shard, enum req_kind kind)
{
	struct gw *g = t->g;
	if (g->shards[shard].read_only) {
		gw_send_error(t, req, 403, "log is read-only\n", NULL);
		return;
	}
	/* Counted before the draining check, so that gw_drain(), which sets draining and then
	 * reads inflight, either is seen here or sees this submission. */
	atomic_fetch_add(&g->inflight, 1);
	if (atomic_load(&g->draining)) {
		atomic_fetch_sub(&g->inflight, 1);
		gw_send_error(t, req, 503, "draining\n", NULL);
		return;
	}
	struct req *r = g->pipe.req_get(g->pipe.ctx, shard);
	if (r == NULL) {
		atomic_fetch_sub(&g->inflight, 1);
		gw_send_error(t, req, 503, "too many requests in flight\n", NULL);
		return;
	}
	struct gw_pending *p = h2o_mem_alloc_pool(&req->pool, sizeof *p);
	memset(p, 0, sizeof *p);
	p->hreq = req;
	p->r = r;
	r->kind = (uint8_t)kind;
	r->shard = (uint16_t)shard;
	r->gw_thread = (uint16_t)t->idx;
	r->body = (const uint8_t *)req->entity.base;
	r->body_len = req->entity.base != NULL ? req->entity.len : 0;
	r->gw_handle = p;
	r->t_start_ns = gw_now_ns();
	/* Linked before submit: the pipeline may complete it at once, from any thread. */
	h2o_linklist_insert(&t->pending, &p->link);
	if (g->pipe.submit(g->pipe.ctx, r) != 0) {
		h2o_linklist_unlink(&p->link);
		g->pipe.req_put(g->pipe.ctx, r);
		atomic_fetch_sub(&g->inflight, 1);
		gw_send_error(t, req, 503, "submission queue full\n", NULL);
	}
}

/* ---- /metrics ---- */

static void
gw_metrics_render(struct gw *g, struct metrics_out *o)
{
	metrics_head(o, "birch_http_requests_total", "counter",
	             "HTTP answers by endpoint and status class.");
	static const char *const cls[6] = {"", "1xx", "2xx", "3xx", "4xx", "5xx"};
	for (unsigned m = 0; m < GW_M_N; m++)
		for (unsigned c = 1; c < 6; c++) {
			uint64_t n = 0;
			for (unsigned i = 0; i < g->nthreads; i++)
				n += atomic_load_explicit(&g->threads[i].by_class[m][c],
				                          memory_order_relaxed);
			if (n > 0 || c == 2)
				metrics_printf(
				        o,
				        "birch_http_requests_total{endpoint=\"%s\",code=\"%s\"} "
				        "%llu\n",
				        gw_m_name[m], cls[c], (unsigned long long)n);
		}
	metrics_head(o, "birch_http_request_duration_seconds", "histogram",
	             "Time from a request's arrival (or, for add-*, from its hand-off to the "
	             "pipeline) to its answer, by endpoint.");
	for (unsigned m = 0; m < GW_M_N; m++) {
		struct metrics_hist h;
		memset(&h, 0, sizeof h);
		for (unsigned i = 0; i < g->nthreads; i++)
			metrics_hist_sum(&h, &g->threads[i].lat[m]);
		char labels[64];
		snprintf(labels, sizeof labels, "endpoint=\"%s\"", gw_m_name[m]);
		metrics_hist_put(o, "birch_http_request_duration_seconds", labels, &h, true);
	}
	metrics_head(o, "birch_rejections_total", "counter",
	             "Requests answered 4xx or 5xx by the write and read endpoints, by status and "
	             "reason (the one-line body).");
	for (unsigned i = 0; i < g->nthreads; i++) {
		const struct gw_thread *t = &g->threads[i];
		for (unsigned k = 0; k <= GW_REASONS; k++) {
			uint64_t n =
			        atomic_load_explicit(&t->reason[k].count, memory_order_acquire);
			if (n == 0)
				continue;
			/* Per thread: the same reason may appear once per thread; Prometheus sums
			 * series with equal labels poorly, so the thread is a label too. */
			metrics_printf(o,
			               "birch_rejections_total{thread=\"%u\",code=\"%u\",reason=\"",
			               i, k < GW_REASONS ? t->reason[k].status : 0);
			metrics_label(o, k < GW_REASONS ? t->reason[k].text : "other");
			metrics_printf(o, "\"} %llu\n", (unsigned long long)n);
		}
	}
	struct gw_stats st;
	gw_stats_get(g, &st);
	metrics_head(o, "birch_http_connections_open", "gauge", "Open HTTP connections.");
	metrics_printf(o, "birch_http_connections_open %llu\n",
	               (unsigned long long)st.connections_open);
	metrics_head(o, "birch_http_connections_total", "counter", "HTTP connections accepted.");
	metrics_printf(o, "birch_http_connections_total %llu\n",
	               (unsigned long long)st.connections_total);
	if (g->metrics)
		g->metrics(g->metrics_ctx, o);
}

static void
gw_metrics(struct gw_thread *t, h2o_req_t *req)
{
	if (t->metrics_buf == NULL && (t->metrics_buf = malloc(GW_METRICS_CAP)) == NULL) {
		gw_send_error(t, req, 503, "out of memory\n", NULL);
		return;
	}
	struct metrics_out o = {t->metrics_buf, 0, GW_METRICS_CAP, false};
	gw_metrics_render(t->g, &o);
	req->res.status = 200;
	req->res.reason = "OK";
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
	               H2O_STRLIT("text/plain; version=0.0.4; charset=utf-8"));
	req->res.content_length = o.len;
	gw_observe(t, 200, NULL, 0);
	h2o_send_inline(req, o.p, o.len);
}

static int
gw_on_req(h2o_handler_t *self, h2o_req_t *req)
{
	struct gw *g = ((struct gw_handler *)self)->g;
	struct gw_thread *t = H2O_STRUCT_FROM_MEMBER(struct gw_thread, ctx, req->conn->ctx);
	gw_stat_inc(&t->requests);

	h2o_iovec_t path = req->path_normalized.base != NULL ? req->path_normalized : req->path;
	unsigned shard = 0;
	t->cur_t0 = gw_now_ns();
	enum gw_endpoint ep = h2o_memis(path.base, path.len, H2O_STRLIT("/metrics"))
	                              ? GW_EP_METRICS
	                              : gw_route(g, path.base, path.len, &shard);
	const char *rest = path.base + (ep != GW_EP_METRICS ? g->shards[shard].prefix_len : 0);
	size_t rlen = path.len - (size_t)(rest - path.base);
	switch (ep) {
	case GW_EP_ADD_CHAIN:
		t->cur_m = GW_M_ADD_CHAIN;
		break;
	case GW_EP_ADD_PRE_CHAIN:
		t->cur_m = GW_M_ADD_PRE_CHAIN;
		break;
	case GW_EP_GET_ROOTS:
		t->cur_m = GW_M_GET_ROOTS;
		break;
	case GW_EP_READ:
		t->cur_m = GW_M_READ + (unsigned)rd_endpoint_of(rest, rlen);
		break;
	case GW_EP_LOG_LIST:
		t->cur_m = GW_M_LOG_LIST;
		break;
	case GW_EP_METRICS:
		t->cur_m = GW_M_METRICS;
		break;
	case GW_EP_NONE:
		t->cur_m = GW_M_OTHER;
		break;
	}
	bool post = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"));
	bool get = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) ||
	           h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
	switch (ep) {
	case GW_EP_ADD_CHAIN:
	case GW_EP_ADD_PRE_CHAIN:
		if (!post)
			gw_send_error(t, req, 405, "method not allowed\n", "POST");
		else
			gw_add(t, req, shard,
			       ep == GW_EP_ADD_CHAIN ? REQ_ADD_CHAIN : REQ_ADD_PRE_CHAIN);
		break;
	case GW_EP_GET_ROOTS:
		if (!get)
			gw_send_error(t, req, 405, "method not allowed\n", "GET, HEAD");
		else
			gw_send_static_json(t, req, g->shards[shard].roots_json,
			                    g->shards[shard].roots_json_len);
		break;
	case GW_EP_READ:
		gw_read(t, req, shard, rest, rlen, get);
		break;
	case GW_EP_LOG_LIST:
		if (!get)
			gw_send_error(t, req, 405, "method not allowed\n", "GET, HEAD");
		else if (g->shards[shard].log_json_len == 0)
			gw_send_error(t, req, 404, "not found\n", NULL);
		else
			gw_send_static_json(t, req, g->shards[shard].log_json,
			                    g->shards[shard].log_json_len);
		break;
	case GW_EP_METRICS:
		if (!get)
			gw_send_error(t, req, 405, "method not allowed\n", "GET, HEAD");
		else
			gw_metrics(t, req);
		break;
	case GW_EP_NONE:
		gw_send_error(t, req, 404, "not found\n", NULL);
		break;
	}
	return 0;
}

/* Completions from gw_complete(), on the owning thread. */
static void
gw_on_done(h2o_multithread_receiver_t *rx, h2o_linklist_t *messages)
{
	struct gw_thread *t = H2O_STRUCT_FROM_MEMBER(struct gw_thread, done_rx, rx);
	struct gw *g = t->g;
	while (!h2o_linklist_is_empty(messages)) {
		struct gw_pending *p =
		        H2O_STRUCT_FROM_MEMBER(struct gw_pending, msg.link, messages->next);
		h2o_linklist_unlink(&p->msg.link);
		h2o_linklist_unlink(&p->link);
		struct req *r = p->r;
		h2o_req_t *req = p->hreq; /* p is the request's: not touched after the answer */
		t->cur_m = r->kind == REQ_ADD_PRE_CHAIN ? GW_M_ADD_PRE_CHAIN : GW_M_ADD_CHAIN;
		t->cur_t0 = r->t_start_ns;
		gw_send_completion(t, req, r);
		g->pipe.req_put(g->pipe.ctx, r);
		atomic_fetch_sub(&g->inflight, 1);
	}
}

/* ---- connections ---- */

/* ---- full data tiles before h2o ---------------------------------------------------------- */

/* h2o 2.2.5 writes every body from memory, and the copy of a 256-entry data tile into the
 * socket cost more than the rest of the answer (bench/README.md, "The read path"). So a new
 * connection is the gateway's own while its requests are plain GETs of full data tiles
 * (net/h1f.h says which): those are answered here, head with send(), body with sendfile()
 * from the tile's file. The first request that is anything else (another path, a partial
 * tile, HEAD, a body, a request not yet complete in what has arrived) hands the connection to
 * h2o with its unread bytes, and h2o serves it from then on as any other. Answers stay in
 * order: a connection is handed over only between answers. */

static void gw_fast_run(struct gw_conn *c);

/* Bytes arrived (gw_fast_run waits to read) or the socket has room (it waits to write). */
static void
gw_fast_on_io(h2o_socket_t *sock, const char *err)
{
	struct gw_conn *c = sock->data;
	if (err != NULL) {
		h2o_socket_close(sock);
		return;
	}
	gw_fast_run(c);
}

static void
gw_fast_on_idle(h2o_timeout_entry_t *e)
{
	struct gw_conn *c = H2O_STRUCT_FROM_MEMBER(struct gw_conn, idle, e);
	h2o_socket_close(c->sock);
}

/* h2o has it from here on, with whatever is unread in its input buffer. */
static void
gw_fast_hand_over(struct gw_conn *c)
{
	if (h2o_timeout_is_linked(&c->idle))
		h2o_timeout_unlink(&c->idle);
	if (c->reading)
		h2o_socket_read_stop(c->sock);
	c->reading = false;
	c->h2o = true;
	h2o_accept(&c->t->accept_ctx, c->sock);
}

/* The Date header's value, formatted once a second. */
static const char *
gw_fast_date(void)
{
	static __thread time_t at;
	static __thread char s[40];
	time_t now = time(NULL);
	if (now != at || s[0] == 0) {
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(s, sizeof s, "%a, %d %b %Y %H:%M:%S GMT", &tm);
		at = now;
	}
	return s;
}

/* Starts the answer to the request at the head of the input when it is a full data tile of
 * the published tree; false: h2o is to answer it. */
static bool
gw_fast_begin(struct gw_conn *c)
{
	struct gw_thread *t = c->t;
	struct gw *g = t->g;
	struct h1f_req q;
	h2o_buffer_t *in = c->sock->input;
	if (h1f_parse(in->bytes, in->size, &q) != H1F_GET)
		return false;
	unsigned shard = 0;
	if (gw_route(g, q.path, q.path_len, &shard) != GW_EP_READ)
		return false;
	const char *rest = q.path + g->shards[shard].prefix_len;
	size_t rlen = q.path_len - g->shards[shard].prefix_len;
	t->cur_t0 = gw_now_ns();
	struct rd_file f;
	if (rd_data_tile_file(t->rd, shard, rest, rlen, &f) < 0)
		return false;
	c->keep = q.keep_alive && !t->ctx.shutdown_requested;
	int n = snprintf(c->head, sizeof c->head,
	                 "HTTP/1.1 200 OK\r\nDate: %s\r\nConnection: %s\r\n"
	                 "Content-Length: %llu\r\ncontent-type: " RD_TILE_CONTENT_TYPE
	                 "\r\ncache-control: " RD_TILE_IMMUTABLE "\r\n\r\n",
	                 gw_fast_date(), c->keep ? "keep-alive" : "close",
	                 (unsigned long long)f.len);
	if (n < 0 || (size_t)n >= sizeof c->head) {
		rd_file_release(t->rd, &f);
		return false;
	}
	gw_stat_inc(&t->requests);
	t->cur_m = GW_M_READ + RD_EP_DATA_TILE;
	gw_observe(t, 200, NULL, 0);
	c->file = f;
	c->off = 0;
	c->end = (off_t)f.len;
	c->head_off = 0;
	c->head_len = (size_t)n;
	c->req_len = q.head_len;
	return true;
}

/* Sends what the socket takes of the answer: 1 when all of it is sent, 0 when waiting for
 * room (gw_fast_on_io is armed), -1 when the connection failed. */
static int
gw_fast_write(struct gw_conn *c)
{
	int s = h2o_socket_get_fd(c->sock);
	while (c->head_off < c->head_len) {
		ssize_t n = send(s, c->head + c->head_off, c->head_len - c->head_off,
		                 MSG_NOSIGNAL | (c->off < c->end ? MSG_MORE : 0));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			goto wait;
		if (n <= 0)
			return -1;
		c->head_off += (size_t)n;
	}
	while (c->off < c->end) {
		ssize_t n = sendfile(s, c->file.fd, &c->off, (size_t)(c->end - c->off));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			goto wait;
		if (n <= 0)
			return -1; /* failed, or the file ended early (never, once full) */
	}
	rd_file_release(c->t->rd, &c->file);
	c->file.fd = -1;
	return 1;
wait:
	h2o_socket_notify_write(c->sock, gw_fast_on_io);
	return 0;
}

/* Answers the requests in the input, one after another, until one is h2o's, the input is
 * used up (then waits for more, within h2o's request timeout), or the socket is full. */
static void
gw_fast_run(struct gw_conn *c)
{
	if (h2o_timeout_is_linked(&c->idle))
		h2o_timeout_unlink(&c->idle);
	for (;;) {
		if (c->file.fd >= 0) {
			if (c->reading)
				h2o_socket_read_stop(c->sock);
			c->reading = false;
			int rc = gw_fast_write(c);
			if (rc < 0) {
				h2o_socket_close(c->sock);
				return;
			}
			if (rc == 0)
				return;
			h2o_buffer_consume(&c->sock->input, c->req_len);
			if (!c->keep) {
				h2o_socket_close(c->sock);
				return;
			}
		}
		if (c->sock->input->size == 0) {
			if (!c->reading)
				h2o_socket_read_start(c->sock, gw_fast_on_io);
			c->reading = true;
			h2o_timeout_link(c->t->loop, &c->t->ctx.http1.req_timeout, &c->idle);
			return;
		}
		if (!gw_fast_begin(c)) {
			gw_fast_hand_over(c);
			return;
		}
	}
}

static void
gw_on_conn_close(void *data)
{
	struct gw_conn *c = data;
	struct gw_thread *t = c->t;
	if (h2o_timeout_is_linked(&c->idle))
		h2o_timeout_unlink(&c->idle);
	if (c->file.fd >= 0)
		rd_file_release(t->rd, &c->file);
	h2o_linklist_unlink(&c->link);
	t->nconns--;
	atomic_fetch_sub(&t->g->conns_open, 1);
	free(c);
}

static void gw_on_accept(h2o_socket_t *listener, const char *err);

static void
gw_listeners_read(struct gw_thread *t, bool on)
{
	for (unsigned i = 0; i < t->g->nlisten; i++) {
		if (t->ls[i] == NULL)
			continue;
		if (on)
			h2o_socket_read_start(t->ls[i], gw_on_accept);
		else
			h2o_socket_read_stop(t->ls[i]);
	}
}

static void
gw_on_accept_retry(h2o_timeout_entry_t *entry)
{
	struct gw_thread *t = H2O_STRUCT_FROM_MEMBER(struct gw_thread, accept_retry, entry);
	if (!t->listeners_closed)
		gw_listeners_read(t, true);
}

static void
gw_accept_error(struct gw_thread *t, int e)
{
	if (e == EAGAIN || e == EWOULDBLOCK || e == EINTR || e == ECONNABORTED || e == EPROTO)
		return;
	uint64_t now = gw_now_ns();
	if (t->accept_log_ns == 0 || now - t->accept_log_ns >= GW_ACCEPT_LOG_NS) {
		t->accept_log_ns = now;
		blog(BLOG_WARN, "gw", "thread %u: accept: %s; pausing 100 ms", t->idx, strerror(e));
	}
	/* Out of descriptors or memory: the listener stays readable, so wait rather than spin. */
	gw_listeners_read(t, false);
	if (!h2o_timeout_is_linked(&t->accept_retry))
		h2o_timeout_link(t->loop, &t->ctx.hundred_ms_timeout, &t->accept_retry);
}

static void
gw_on_accept(h2o_socket_t *listener, const char *err)
{
	struct gw_thread *t = listener->data;
	struct gw *g = t->g;
	if (err != NULL)
		return;
	for (unsigned i = 0; i < GW_ACCEPT_BURST; i++) {
		/* accept4 here rather than h2o_evloop_socket_accept(), so that the limit is
		 * checked after this thread has won the connection: every thread wakes for it, and
		 * checking before would let one that loses the race turn it away. */
		int fd = accept4(h2o_socket_get_fd(listener), NULL, NULL,
		                 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			gw_accept_error(t, errno);
			return;
		}
		if (atomic_fetch_add(&g->conns_open, 1) >= g->max_connections) {
			/* Over max_connections: closed at once, so that the client learns now and
			 * the backlog does not fill with connections nobody serves. */
			atomic_fetch_sub(&g->conns_open, 1);
			close(fd);
			continue;
		}
		struct gw_conn *c = malloc(sizeof *c);
		if (c == NULL) {
			atomic_fetch_sub(&g->conns_open, 1);
			close(fd);
			gw_accept_error(t, ENOMEM);
			return;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* as h2o's accept */
		h2o_socket_t *sock = h2o_evloop_socket_create(
		        t->loop, fd, H2O_SOCKET_FLAG_IS_ACCEPTED_CONNECTION);
		*c = (struct gw_conn){.sock = sock, .t = t, .file.fd = -1};
		c->idle.cb = gw_fast_on_idle;
		h2o_linklist_insert(&t->conns, &c->link);
		t->nconns++;
		sock->on_close.cb = gw_on_conn_close;
		sock->on_close.data = c;
		gw_stat_inc(&t->connections_total);
		if (t->rd != NULL) {
			sock->data = c;
			gw_fast_run(c);
		} else {
			c->h2o = true;
			h2o_accept(&t->accept_ctx, sock);
		}
	}
}

static void
gw_close_listeners(struct gw_thread *t)
{
	if (h2o_timeout_is_linked(&t->accept_retry))
		h2o_timeout_unlink(&t->accept_retry);
	for (unsigned i = 0; i < t->g->nlisten; i++) {
		if (t->ls[i] == NULL)
			continue;
		h2o_socket_read_stop(t->ls[i]);
		h2o_socket_close(t->ls[i]);
		t->ls[i] = NULL;
	}
	if (!t->listeners_closed) {
		t->listeners_closed = true;
		atomic_fetch_add(&t->g->threads_drained, 1);
	}
}

/* ---- threads ---- */

static void
gw_publish_h2o_stats(struct gw_thread *t)
{
	const uint64_t *e = t->ctx.emitted_error_status;
	atomic_store_explicit(&t->h2o_400, e[H2O_STATUS_ERROR_400], memory_order_relaxed);
	atomic_store_explicit(&t->h2o_413, e[H2O_STATUS_ERROR_413], memory_order_relaxed);
	atomic_store_explicit(&t->h2o_417, e[H2O_STATUS_ERROR_417], memory_order_relaxed);
}

/* Closes every connection of the thread and lets h2o free them. */
static void
gw_thread_close_all(struct gw_thread *t)
{
	gw_close_listeners(t);
	/* Submissions the pipeline still holds (gw_stop without a complete drain): their
	 * connections get a 503 so that h2o lets them go; the slots stay with the pipeline, which
	 * must not call gw_complete() once gw_stop() has begun. */
	while (!h2o_linklist_is_empty(&t->pending)) {
		struct gw_pending *p =
		        H2O_STRUCT_FROM_MEMBER(struct gw_pending, link, t->pending.next);
		h2o_linklist_unlink(&p->link);
		atomic_fetch_sub(&t->g->inflight, 1);
		gw_send_error(t, p->hreq, 503, "stopping\n", NULL);
	}
	/* Idle keep-alive connections: h2o 2.2.5's HTTP/1 has no shutdown of its own, so shut
	 * the sockets down; h2o sees end of file or a failed write and closes each itself. */
	for (h2o_linklist_t *n = t->conns.next; n != &t->conns; n = n->next) {
		struct gw_conn *c = H2O_STRUCT_FROM_MEMBER(struct gw_conn, link, n);
		shutdown(h2o_socket_get_fd(c->sock), SHUT_RDWR);
	}
	uint64_t until = gw_now_ns() + GW_STOP_WAIT_MS * 1000000ull;
	for (unsigned i = 0; i < 100000 && t->nconns > 0 && gw_now_ns() < until; i++)
		h2o_evloop_run(t->loop, 10);
	if (t->nconns > 0)
		blog(BLOG_WARN, "gw", "thread %u: %u connections still open at stop", t->idx,
		     t->nconns);
}

/* Frees the thread's h2o objects, on the thread itself. */
static void
gw_thread_dispose(struct gw_thread *t)
{
	for (unsigned i = 0; i < t->g->nlisten; i++)
		if (t->ls[i] != NULL) {
			h2o_socket_close(t->ls[i]);
			t->ls[i] = NULL;
		}
	if (t->ctx_inited) {
		if (h2o_timeout_is_linked(&t->accept_retry))
			h2o_timeout_unlink(&t->accept_retry);
		h2o_multithread_queue_t *q = t->ctx.queue;
		h2o_multithread_unregister_receiver(q, &t->done_rx);
		/* h2o_context_request_shutdown() (gw_drain) arms HTTP/2's graceful-shutdown timer
		 * even with HTTP/2 off, and h2o_context_dispose() asserts that no timer is armed.
		 */
		if (h2o_timeout_is_linked(&t->ctx.http2._graceful_shutdown_timeout))
			h2o_timeout_unlink(&t->ctx.http2._graceful_shutdown_timeout);
		h2o_context_dispose(&t->ctx);
		free(q); /* h2o 2.2.5's evloop build closes the queue but does not free it */
		t->ctx_inited = false;
	}
	if (t->loop != NULL) {
		/* h2o 2.2.5 leaves the loop's epoll descriptor open: one per thread per gw_start */
		h2o_evloop_destroy(t->loop);
		t->loop = NULL;
	}
}

/* h2o keeps up to 16 freed socket buffers and 16 freed 4 KB pool chunks in thread-local lists,
 * and has no call that empties them: a gateway thread that exits would leak them. The socket
 * buffers are taken out and freed here; the pool chunks only h2o can free, so they are
 * taken out into t->leftovers (20 chunks' worth of 1008-byte pieces, 4 to a chunk), which
 * gw_free() clears on its own thread. */
static void
gw_thread_take_recycled(struct gw_thread *t)
{
	h2o_mem_recycle_t *a = &h2o_socket_buffer_prototype.allocator;
	for (unsigned i = 0; i < 1000 && a->cnt > 0; i++)
		free(h2o_mem_alloc_recycle(a, 1));
	for (unsigned i = 0; i < 80; i++)
		(void)h2o_mem_alloc_pool(&t->leftovers, 1008);
}

/* Makes the thread's h2o objects, on the thread itself: h2o's sockets and buffers belong to
 * the thread that made them (their free lists are thread-local). */
static void
gw_thread_setup(struct gw_thread *t)
{
	struct gw *g = t->g;
	t->loop = h2o_evloop_create();
	h2o_context_init(&t->ctx, t->loop, &g->conf);
	t->ctx_inited = true;
	t->accept_ctx.ctx = &t->ctx;
	t->accept_ctx.hosts = g->conf.hosts;
	h2o_multithread_register_receiver(t->ctx.queue, &t->done_rx, gw_on_done);
	for (unsigned i = 0; i < g->nlisten; i++) {
		t->ls[i] = h2o_evloop_socket_create(t->loop, t->lfd[i], H2O_SOCKET_FLAG_DONT_READ);
		t->lfd[i] = -1;
		t->ls[i]->data = t;
		h2o_socket_read_start(t->ls[i], gw_on_accept);
	}
	pthread_mutex_lock(&g->ready_mu);
	g->nready++;
	pthread_cond_broadcast(&g->ready_cv);
	pthread_mutex_unlock(&g->ready_mu);
}

static void *
gw_thread_main(void *arg)
{
	struct gw_thread *t = arg;
	struct gw *g = t->g;
	gw_thread_setup(t);
	while (!atomic_load(&g->stopping)) {
		if (atomic_load(&g->draining) && !t->listeners_closed) {
			gw_close_listeners(t);
			/* answers from now on say Connection: close */
			h2o_context_request_shutdown(&t->ctx);
		}
		h2o_evloop_run(t->loop, 1000);
		gw_publish_h2o_stats(t);
	}
	gw_thread_close_all(t);
	gw_publish_h2o_stats(t);
	/* gw_stop() may still be writing its wake-up byte to this thread's pipe (it set stopping
	 * first, and the thread may have seen that on its own): keep the pipe until it is done. */
	for (unsigned i = 0; i < 100000 && !atomic_load(&g->stop_sent); i++)
		h2o_evloop_run(t->loop, 1);
	gw_thread_dispose(t);
	gw_thread_take_recycled(t);
	return NULL;
}

/* ---- start and stop ---- */

static void
gw_fmt_addr(char *out, size_t cap, const struct config_listen *l, uint16_t port)
{
	bool v6 = strchr(l->host, ':') != NULL;
	snprintf(out, cap, "%s%s%s:%u", v6 ? "[" : "", l->host, v6 ? "]" : "", port);
}

/* Binds and listens on l; the socket in *fd, its port in *port. */
static int
gw_listen(const struct config_listen *l, int *fd, uint16_t *port, char *err, size_t err_len)
{
	char addr[96], portstr[8];
	gw_fmt_addr(addr, sizeof addr, l, l->port);
	snprintf(portstr, sizeof portstr, "%u", l->port);
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
	                         .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	int rc = getaddrinfo(l->host[0] ? l->host : NULL, portstr, &hints, &ai);
	if (rc != 0) {
		snprintf(err, err_len, "%s: %s", addr, gai_strerror(rc));
		return rc == EAI_SYSTEM ? -errno : -EINVAL;
	}
	int s = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0) {
		rc = -errno;
		goto fail;
	}
	int one = 1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ai->ai_family == AF_INET6) /* "::" should not take the IPv4 port as well */
		setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(s, ai->ai_addr, ai->ai_addrlen) != 0 || listen(s, GW_BACKLOG) != 0) {
		rc = -errno;
		goto fail;
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	if (getsockname(s, (struct sockaddr *)&ss, &sl) != 0) {
		rc = -errno;
		goto fail;
	}
	*port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
	                                 : ntohs(((struct sockaddr_in *)&ss)->sin_port);
	*fd = s;
	freeaddrinfo(ai);
	return 0;
fail:
	snprintf(err, err_len, "%s: %s", addr, strerror(-rc));
	if (s >= 0)
		close(s);
	freeaddrinfo(ai);
	return rc;
}

static int
gw_check_config(const struct gw_config *c, char *err, size_t err_len)
{
	if (c->nlisten < 1 || c->nlisten > CONFIG_LISTEN_MAX || c->listen == NULL) {
		snprintf(err, err_len, "listen: need 1 to %d addresses", CONFIG_LISTEN_MAX);
		return -EINVAL;
	}
	if (c->threads < 1 || c->threads > GW_THREADS_MAX) {
		snprintf(err, err_len, "gateway_threads: %u is not in 1..%d", c->threads,
		         GW_THREADS_MAX);
		return -EINVAL;
	}
	if (c->max_connections < 1) {
		snprintf(err, err_len, "max_connections: must be at least 1");
		return -EINVAL;
	}
	if (c->max_body < 1) {
		snprintf(err, err_len, "max_body: must be at least 1");
		return -EINVAL;
	}
	if (c->nshards < 1 || c->nshards > UINT16_MAX || c->shards == NULL) {
		snprintf(err, err_len, "shards: need at least one");
		return -EINVAL;
	}
	if (c->pipe.req_get == NULL || c->pipe.submit == NULL || c->pipe.req_put == NULL) {
		snprintf(err, err_len, "pipeline: req_get, submit and req_put are required");
		return -EINVAL;
	}
	for (unsigned i = 0; i < c->nshards; i++) {
		const char *p = c->shards[i].prefix ? c->shards[i].prefix : "";
		size_t n = strnlen(p, CONFIG_PREFIX_MAX);
		if (n == CONFIG_PREFIX_MAX || (n > 0 && (p[0] != '/' || p[n - 1] == '/'))) {
			snprintf(err, err_len, "shard %u: prefix '%.*s' must be \"\" or \"/name\"",
			         i, (int)(n < 64 ? n : 64), p);
			return -EINVAL;
		}
		for (unsigned j = 0; j < i; j++) {
			const char *q = c->shards[j].prefix ? c->shards[j].prefix : "";
			if (strcmp(p, q) == 0) {
				snprintf(err, err_len, "shard %u: prefix '%s' is shard %u's too", i,
				         p, j);
				return -EINVAL;
			}
		}
	}
	return 0;
}

/* What a thread needs before it starts: its own dup of every listening socket. */
static int
gw_thread_prepare(struct gw *g, struct gw_thread *t, unsigned idx, const int *lfd, char *err,
                  size_t err_len)
{
	t->g = g;
	t->idx = idx;
	h2o_linklist_init_anchor(&t->conns);
	h2o_linklist_init_anchor(&t->pending);
	h2o_mem_init_pool(&t->leftovers);
	t->accept_retry.cb = gw_on_accept_retry;
	for (unsigned i = 0; i < CONFIG_LISTEN_MAX; i++)
		t->lfd[i] = -1;
	for (unsigned i = 0; i < g->nlisten; i++) {
		t->lfd[i] = fcntl(lfd[i], F_DUPFD_CLOEXEC, 0);
		if (t->lfd[i] < 0) {
			int e = errno;
			snprintf(err, err_len, "gateway thread %u: dup: %s", idx, strerror(e));
			return -e;
		}
	}
	return 0;
}

static void
gw_wait_ready(struct gw *g, unsigned n)
{
	pthread_mutex_lock(&g->ready_mu);
	while (g->nready < n) /* setup does not block: no timeout needed */
		pthread_cond_wait(&g->ready_cv, &g->ready_mu);
	pthread_mutex_unlock(&g->ready_mu);
}

static void
gw_free(struct gw *g)
{
	if (g->threads != NULL) {
		for (unsigned i = 0; i < g->nthreads; i++) {
			struct gw_thread *t = &g->threads[i];
			for (unsigned k = 0; k < CONFIG_LISTEN_MAX && t->g != NULL; k++)
				if (t->lfd[k] >= 0) /* a thread that never started */
					close(t->lfd[k]);
			h2o_mem_clear_pool(&t->leftovers); /* fine when zeroed */
			rd_close(t->rd);
			free(t->metrics_buf);
		}
		free(g->threads);
	}
	if (g->conf_inited)
		h2o_config_dispose(&g->conf);
	pthread_cond_destroy(&g->ready_cv);
	pthread_mutex_destroy(&g->ready_mu);
	free(g->shards);
	free(g);
}

int
gw_start(struct gw **out, const struct gw_config *c, char *err, size_t err_len)
{
	*out = NULL;
	int rc = gw_check_config(c, err, err_len);
	if (rc < 0)
		return rc;
	int lfd[CONFIG_LISTEN_MAX];
	unsigned nfd = 0;
	struct gw *g = calloc(1, sizeof *g);
	if (g == NULL)
		goto nomem;
	pthread_mutex_init(&g->ready_mu, NULL);
	pthread_cond_init(&g->ready_cv, NULL);
	g->shards = calloc(c->nshards, sizeof *g->shards);
	if (g->shards == NULL)
		goto nomem;
	g->nshards = c->nshards;
	for (unsigned i = 0; i < c->nshards; i++) {
		const char *p = c->shards[i].prefix ? c->shards[i].prefix : "";
		g->shards[i].prefix_len = strlen(p);
		memcpy(g->shards[i].prefix, p, g->shards[i].prefix_len + 1);
		g->shards[i].roots_json = c->shards[i].roots_json ? c->shards[i].roots_json : "";
		g->shards[i].roots_json_len =
		        c->shards[i].roots_json ? c->shards[i].roots_json_len : 0;
		g->shards[i].read_only = c->shards[i].read_only;
		g->shards[i].log_json = c->shards[i].log_json;
		g->shards[i].log_json_len = c->shards[i].log_json ? c->shards[i].log_json_len : 0;
	}
	g->pipe = c->pipe;
	g->metrics = c->metrics;
	g->metrics_ctx = c->metrics_ctx;
	g->max_connections = c->max_connections;
	snprintf(g->retry_after, sizeof g->retry_after, "%u", c->retry_after ? c->retry_after : 1);
	g->nlisten = c->nlisten;

	for (; nfd < c->nlisten; nfd++) {
		rc = gw_listen(&c->listen[nfd], &lfd[nfd], &g->port[nfd], err, err_len);
		if (rc < 0)
			goto fail;
	}

	if (c->log_json)
		for (unsigned i = 0; i < c->nshards; i++)
			c->log_json(c->metrics_ctx, i, g->port[0], &g->shards[i].log_json,
			            &g->shards[i].log_json_len);

	/* Bodies are bounded by max_body here; never let h2o back a large one by a temp file. */
	if (h2o_socket_buffer_mmap_settings.threshold != SIZE_MAX)
		h2o_socket_buffer_mmap_settings.threshold = SIZE_MAX;
	h2o_config_init(&g->conf);
	g->conf_inited = true;
	g->conf.max_request_entity_size = c->max_body;
	g->conf.http1.upgrade_to_http2 = 0;
	g->conf.server_name = h2o_iovec_init(H2O_STRLIT("")); /* no Server header */
	h2o_hostconf_t *host =
	        h2o_config_register_host(&g->conf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
	h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
	struct gw_handler *h = (struct gw_handler *)h2o_create_handler(path, sizeof *h);
	h->super.on_req = gw_on_req;
	h->g = g;

	g->threads = aligned_alloc(64, sizeof *g->threads * c->threads);
	if (g->threads == NULL)
		goto nomem;
	memset(g->threads, 0, sizeof *g->threads * c->threads);
	g->nthreads = c->threads;
	for (unsigned i = 0; i < c->threads; i++) {
		rc = gw_thread_prepare(g, &g->threads[i], i, lfd, err, err_len);
		if (rc < 0)
			goto fail;
		if (c->read_logs && (rc = rd_open(&g->threads[i].rd, c->read_logs, c->nshards,
		                                  c->tile_cache_bytes)) < 0) {
			snprintf(err, err_len, "gateway thread %u: cannot open the log readers: %s",
			         i, strerror(-rc));
			goto fail;
		}
	}
	g->reads = c->read_logs != NULL;
	/* Every thread polls its own dup; a listening socket closes with the last of them. */
	for (unsigned i = 0; i < nfd; i++)
		close(lfd[i]);
	nfd = 0;

	/* Gateway threads take no asynchronous signals: SIGPIPE from a write to a closed
	 * connection stays pending on the thread instead of killing the process, and SIGINT and
	 * SIGTERM go to the thread that waits for them. */
	sigset_t block, old;
	sigemptyset(&block);
	int sigs[] = {SIGPIPE, SIGINT,  SIGTERM, SIGHUP, SIGQUIT,
	              SIGUSR1, SIGUSR2, SIGALRM, SIGCHLD};
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigaddset(&block, sigs[i]);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	for (unsigned i = 0; i < c->threads; i++) {
		rc = -pthread_create(&g->threads[i].tid, NULL, gw_thread_main, &g->threads[i]);
		if (rc < 0) {
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			snprintf(err, err_len, "gateway thread %u: %s", i, strerror(-rc));
			gw_wait_ready(g, i);
			gw_stop(g);
			return rc;
		}
		g->threads[i].started = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	gw_wait_ready(g, c->threads); /* gw_complete() may be called once we return */

	for (unsigned i = 0; i < c->nlisten; i++) {
		char addr[96];
		gw_fmt_addr(addr, sizeof addr, &c->listen[i], g->port[i]);
		blog(BLOG_DEBUG, "gw", "bound %s (%u threads, %u connections at most)", addr,
		     c->threads, c->max_connections);
	}
	*out = g;
	return 0;

nomem:
	rc = -ENOMEM;
	snprintf(err, err_len, "gateway: out of memory");
fail:
	for (unsigned i = 0; i < nfd; i++)
		close(lfd[i]);
	if (g != NULL)
		gw_free(g);
	return rc;
}

uint16_t
gw_port(const struct gw *g, unsigned i)
{
	return g != NULL && i < g->nlisten ? g->port[i] : 0;
}

void
gw_complete(struct gw *g, struct req *r)
{
	/* Counted, because h2o_multithread_send_message() still writes to the thread's pipe after
	 * the message is in the list, so after the answer may have gone out and the slot come back:
	 * gw_drain() waits for this too, so that gw_stop() never closes a pipe a caller is about
	 * to write to. */
	atomic_fetch_add(&g->completing, 1);
	struct gw_pending *p = r->gw_handle;
	h2o_multithread_send_message(&g->threads[r->gw_thread].done_rx, &p->msg);
	atomic_fetch_sub(&g->completing, 1);
}

unsigned
gw_drain(struct gw *g, unsigned timeout_ms)
{
	if (g == NULL)
		return 0;
	atomic_store(&g->draining, true);
	for (unsigned i = 0; i < g->nthreads; i++)
		if (g->threads[i].started)
			gw_wake(&g->threads[i]);
	uint64_t until = gw_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	for (;;) {
		/* inflight first: once it is 0 while draining, no gw_complete() can begin */
		long n = atomic_load(&g->inflight);
		long busy = atomic_load(&g->completing);
		bool closed = atomic_load(&g->threads_drained) >= g->nthreads;
		if ((n <= 0 && busy == 0 && closed) || gw_now_ns() >= until)
			return n > 0 ? (unsigned)n : 0;
		struct timespec ts = {0, 1000000}; /* 1 ms; a drain is rare */
		nanosleep(&ts, NULL);
	}
}

void
gw_stop(struct gw *g)
{
	if (g == NULL)
		return;
	atomic_store(&g->stopping, true);
	for (unsigned i = 0; i < g->nthreads; i++)
		if (g->threads[i].started)
			gw_wake(&g->threads[i]);
	atomic_store(&g->stop_sent, true);
	for (unsigned i = 0; i < g->nthreads; i++)
		if (g->threads[i].started) {
			pthread_join(g->threads[i].tid, NULL);
			g->threads[i].started = false;
			g->threads[i].g = NULL; /* disposed by the thread itself */
		}
	gw_free(g);
}

void
gw_stats_get(const struct gw *g, struct gw_stats *out)
{
	memset(out, 0, sizeof *out);
	if (g == NULL)
		return;
	for (unsigned i = 0; i < g->nthreads; i++) {
		const struct gw_thread *t = &g->threads[i];
		uint64_t h400 = atomic_load_explicit(&t->h2o_400, memory_order_relaxed);
		uint64_t h413 = atomic_load_explicit(&t->h2o_413, memory_order_relaxed);
		uint64_t h417 = atomic_load_explicit(&t->h2o_417, memory_order_relaxed);
		out->requests += atomic_load_explicit(&t->requests, memory_order_relaxed) + h400 +
		                 h413 + h417;
		for (int k = 0; k < 6; k++)
			out->responses[k] +=
			        atomic_load_explicit(&t->responses[k], memory_order_relaxed);
		out->responses[4] += h400 + h413 + h417;
		out->connections_total +=
		        atomic_load_explicit(&t->connections_total, memory_order_relaxed);
	}
	out->connections_open = atomic_load(&g->conns_open);
}
