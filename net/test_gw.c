/* net/test_gw.c: the HTTP gateway against plain sockets on 127.0.0.1, with a test pipeline:
 * a fixed pool of struct req, and a completion thread that answers each submission from a
 * queue with a canned answer (by default 200 with JSON that echoes the start of the body, read
 * at completion time, so the borrowed body must still be there). Every loop is bounded in
 * count, and every socket read and write by a 5 s timeout.
 */
#include "net/gw.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/log.h"
#include "tests/lib/check.h"

#define POOL        8
#define BODY_CAP    8192
#define IO_TIMEOUT  5 /* seconds, per read or write */
#define WAIT_MS_MAX 5000

/* ---- the test pipeline ---- */

struct tpipe {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct req slot[POOL];
	uint8_t buf[POOL][64];
	bool used[POOL];
	unsigned gets, puts, submits, completes;
	int submit_rc; /* what submit returns (0, or -ENOBUFS for a full ring) */
	bool hold;     /* completions wait until this is false */
	bool quit;
	struct req *q[POOL]; /* submitted, not yet completed (FIFO) */
	unsigned qh, qt;
	/* the canned answer; status 200 means: JSON echoing the body */
	uint16_t status;
	char reason[64];
	uint32_t retry_after;
	/* what the last submission carried */
	pthread_t submit_thread, complete_thread;
	unsigned last_shard;
	uint8_t last_kind;
	size_t last_body_len;
	unsigned last_gw_thread;
	uint64_t last_t_start_ns;
	struct gw *g;
	pthread_t tid;
};

static uint64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static struct req *
tp_req_get(void *ctx, unsigned shard)
{
	struct tpipe *tp = ctx;
	struct req *r = NULL;
	pthread_mutex_lock(&tp->mu);
	for (unsigned i = 0; i < POOL; i++)
		if (!tp->used[i]) {
			tp->used[i] = true;
			r = &tp->slot[i];
			memset(r, 0, sizeof *r);
			r->buf = tp->buf[i];
			r->cap = sizeof tp->buf[i];
			r->shard = (uint16_t)shard;
			tp->gets++;
			break;
		}
	pthread_mutex_unlock(&tp->mu);
	return r;
}

static void
tp_req_put(void *ctx, struct req *r)
{
	struct tpipe *tp = ctx;
	pthread_mutex_lock(&tp->mu);
	size_t i = (size_t)(r - tp->slot);
	if (i < POOL && tp->used[i]) {
		tp->used[i] = false;
		tp->puts++;
	} else {
		tp->puts += 1000; /* a double put or a stranger: makes the counts disagree */
	}
	pthread_cond_broadcast(&tp->cv);
	pthread_mutex_unlock(&tp->mu);
}

static int
tp_submit(void *ctx, struct req *r)
{
	struct tpipe *tp = ctx;
	pthread_mutex_lock(&tp->mu);
	int rc = tp->submit_rc;
	if (rc == 0) {
		tp->submit_thread = pthread_self();
		tp->last_shard = r->shard;
		tp->last_kind = r->kind;
		tp->last_body_len = r->body_len;
		tp->last_gw_thread = r->gw_thread;
		tp->last_t_start_ns = r->t_start_ns;
		tp->q[tp->qh++ % POOL] = r;
		tp->submits++;
		pthread_cond_broadcast(&tp->cv);
	}
	pthread_mutex_unlock(&tp->mu);
	return rc;
}

/* Fills r's completion fields with the canned answer. */
static void
tp_answer(struct tpipe *tp, struct req *r)
{
	r->status = tp->status;
	r->retry_after = tp->retry_after;
	if (tp->status == 200) {
		char echo[33];
		size_t n = r->body_len < 32 ? r->body_len : 32;
		for (size_t i = 0; i < n; i++) {
			uint8_t c = r->body[i];
			echo[i] = c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ? (char)c : '.';
		}
		echo[n] = 0;
		int len = snprintf(r->resp, sizeof r->resp,
		                   "{\"kind\":%u,\"shard\":%u,\"len\":%zu,\"echo\":\"%s\"}",
		                   r->kind, r->shard, r->body_len, echo);
		r->resp_len = (uint16_t)len;
	} else {
		r->resp_len = (uint16_t)strlen(tp->reason);
		memcpy(r->resp, tp->reason, r->resp_len);
	}
}

static void *
tp_completer(void *arg)
{
	struct tpipe *tp = arg;
	pthread_mutex_lock(&tp->mu);
	for (;;) {
		while (!tp->quit && (tp->hold || tp->qt == tp->qh)) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 50 * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&tp->cv, &tp->mu, &ts);
		}
		if (tp->quit)
			break;
		struct req *r = tp->q[tp->qt++ % POOL];
		tp->complete_thread = pthread_self();
		tp->completes++;
		tp_answer(tp, r);
		struct gw *g = tp->g;
		pthread_mutex_unlock(&tp->mu);
		gw_complete(g, r);
		pthread_mutex_lock(&tp->mu);
	}
	pthread_mutex_unlock(&tp->mu);
	return NULL;
}

static void
tp_init(struct tpipe *tp)
{
	memset(tp, 0, sizeof *tp);
	pthread_mutex_init(&tp->mu, NULL);
	pthread_cond_init(&tp->cv, NULL);
	tp->status = 200;
	if (pthread_create(&tp->tid, NULL, tp_completer, tp) != 0)
		check_harness("pthread_create");
}

static void
tp_set_hold(struct tpipe *tp, bool hold)
{
	pthread_mutex_lock(&tp->mu);
	tp->hold = hold;
	pthread_cond_broadcast(&tp->cv);
	pthread_mutex_unlock(&tp->mu);
}

static unsigned
tp_count(struct tpipe *tp, const unsigned *field)
{
	pthread_mutex_lock(&tp->mu);
	unsigned v = *field;
	pthread_mutex_unlock(&tp->mu);
	return v;
}

/* Waits (bounded) until *field reaches want. */
static bool
tp_wait(struct tpipe *tp, const unsigned *field, unsigned want)
{
	uint64_t until = now_ms() + WAIT_MS_MAX;
	for (unsigned i = 0; i < 100000 && now_ms() < until; i++) {
		if (tp_count(tp, field) >= want)
			return true;
		sleep_ms(1);
	}
	return tp_count(tp, field) >= want;
}

static void
tp_fini(struct tpipe *tp)
{
	pthread_mutex_lock(&tp->mu);
	tp->quit = true;
	pthread_cond_broadcast(&tp->cv);
	pthread_mutex_unlock(&tp->mu);
	pthread_join(tp->tid, NULL);
	pthread_cond_destroy(&tp->cv);
	pthread_mutex_destroy(&tp->mu);
}

/* ---- a gateway on 127.0.0.1:0 ---- */

struct tgw {
	struct tpipe tp;
	struct gw *g;
	uint16_t port;
};

static const char roots_root[] = "{\"certificates\":[\"cm9vdA==\"]}";
static const char roots_a[] = "{\"certificates\":[\"YQ==\",\"YWFh\"]}";
static const char roots_ab[] = "{\"certificates\":[]}";

static const struct gw_shard default_shards[] = {
        {"", roots_root, sizeof roots_root - 1, false, NULL, 0},
        {"/a", roots_a, sizeof roots_a - 1, false, NULL, 0},
        {"/a/b", roots_ab, sizeof roots_ab - 1, false, NULL, 0},
        {"/ro", roots_ab, sizeof roots_ab - 1, true, NULL, 0},
};

struct topts {
	const struct gw_shard *shards;
	unsigned nshards;
	unsigned threads;
	unsigned max_connections;
	size_t max_body;
	unsigned retry_after;
};

static void
tgw_start(struct tgw *t, const struct topts *o)
{
	tp_init(&t->tp);
	static struct config_listen listen = {"127.0.0.1", 0};
	struct gw_config c = {
	        .listen = &listen,
	        .nlisten = 1,
	        .threads = o && o->threads ? o->threads : 2,
	        .max_connections = o && o->max_connections ? o->max_connections : 64,
	        .max_body = o && o->max_body ? o->max_body : BODY_CAP,
	        .shards = o && o->shards ? o->shards : default_shards,
	        .nshards = o && o->shards ? o->nshards : 4,
	        .pipe = {tp_req_get, tp_submit, tp_req_put, &t->tp},
	        .retry_after = o ? o->retry_after : 0,
	};
	char err[256];
	int rc = gw_start(&t->g, &c, err, sizeof err);
	if (rc != 0) {
		fprintf(stderr, "gw_start: %d %s\n", rc, err);
		check_harness("gw_start failed");
	}
	t->tp.g = t->g;
	t->port = gw_port(t->g, 0);
}

static void
tgw_stop(struct tgw *t)
{
	tp_set_hold(&t->tp, false);
	unsigned left = gw_drain(t->g, WAIT_MS_MAX);
	CHECK(left == 0, "%u submissions still in flight at the end", left);
	gw_stop(t->g);
	CHECK(t->tp.gets == t->tp.puts, "slots taken %u, returned %u", t->tp.gets, t->tp.puts);
	tp_fini(&t->tp);
}

/* ---- a raw HTTP/1.1 client ---- */

struct cli {
	int fd;
	size_t len;      /* bytes in buf not yet consumed */
	char buf[65536]; /* what was read past the last response */
};

struct resp {
	int status;
	char head[4096]; /* the status line and headers, NUL-terminated */
	char body[16384];
	size_t body_len;
};

static int
cli_connect(struct cli *c, uint16_t port)
{
	c->len = 0;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		check_harness("socket");
	struct timeval tv = {IO_TIMEOUT, 0};
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		int e = errno;
		close(c->fd);
		c->fd = -1;
		return -e;
	}
	return 0;
}

static void
cli_close(struct cli *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static bool
cli_send(struct cli *c, const void *p, size_t n)
{
	const char *s = p;
	for (unsigned i = 0; i < 10000 && n > 0; i++) {
		ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);
		if (w <= 0)
			return false;
		s += w;
		n -= (size_t)w;
	}
	return n == 0;
}

static bool
cli_sendf(struct cli *c, const char *s)
{
	return cli_send(c, s, strlen(s));
}

/* Reads more into c->buf: > 0 bytes, 0 at end of file, -1 on error or timeout. */
static ssize_t
cli_fill(struct cli *c)
{
	if (c->len == sizeof c->buf)
		return -1;
	ssize_t r = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
	if (r > 0)
		c->len += (size_t)r;
	return r < 0 ? -1 : r;
}

static void
cli_consume(struct cli *c, size_t n)
{
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
}

/* The value of header name in r->head (case-insensitive), copied into out; false if absent. */
static bool
resp_header(const struct resp *r, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);
	const char *p = strstr(r->head, "\r\n");
	for (unsigned i = 0; i < 100 && p != NULL; i++) {
		p += 2;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;
			while (*v == ' ')
				v++;
			const char *e = strstr(v, "\r\n");
			size_t n = e ? (size_t)(e - v) : strlen(v);
			if (n >= cap)
				n = cap - 1;
			memcpy(out, v, n);
			out[n] = 0;
			return true;
		}
		p = strstr(p, "\r\n");
	}
	return false;
}

/* Reads one response (Content-Length bodies; a HEAD answer has none): 0, or -1 when the
 * connection closed or timed out first. */
static int
cli_read(struct cli *c, struct resp *r, bool head_request)
{
	memset(r, 0, sizeof *r);
	char *end = NULL;
	for (unsigned i = 0; i < 1000; i++) {
		end = memmem(c->buf, c->len, "\r\n\r\n", 4);
		if (end != NULL)
			break;
		if (cli_fill(c) <= 0)
			return -1;
	}
	if (end == NULL)
		return -1;
	size_t hl = (size_t)(end - c->buf) + 2;
	if (hl >= sizeof r->head)
		return -1;
	memcpy(r->head, c->buf, hl);
	r->head[hl] = 0;
	if (sscanf(r->head, "HTTP/1.%*d %d", &r->status) != 1)
		return -1;
	cli_consume(c, hl + 2);
	char v[32];
	size_t cl = 0;
	if (!head_request && resp_header(r, "content-length", v, sizeof v))
		cl = strtoul(v, NULL, 10);
	if (cl > sizeof r->body)
		return -1;
	for (unsigned i = 0; i < 1000 && c->len < cl; i++)
		if (cli_fill(c) <= 0)
			return -1;
	if (c->len < cl)
		return -1;
	memcpy(r->body, c->buf, cl);
	r->body_len = cl;
	cli_consume(c, cl);
	return 0;
}

/* True when the server has closed the connection (end of file or reset) within the timeout,
 * without sending anything more. */
static bool
cli_closed_by_server(struct cli *c)
{
	for (unsigned i = 0; i < 100; i++) {
		size_t before = c->len;
		ssize_t r = cli_fill(c);
		if (r == 0)
			return true;
		if (r < 0)
			return errno == ECONNRESET || errno == EPIPE;
		if (c->len > before)
			return false;
	}
	return false;
}

static bool
cli_post(struct cli *c, const char *path, const char *body, size_t len)
{
	char head[512];
	snprintf(head, sizeof head,
	         "POST %s HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
	         "Content-Length: %zu\r\n\r\n",
	         path, len);
	return cli_sendf(c, head) && cli_send(c, body, len);
}

static bool
cli_get(struct cli *c, const char *method, const char *path)
{
	char head[512];
	snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: test\r\n\r\n", method, path);
	return cli_sendf(c, head);
}

static bool
body_is(const struct resp *r, const char *s)
{
	return r->body_len == strlen(s) && memcmp(r->body, s, r->body_len) == 0;
}

static bool
header_is(const struct resp *r, const char *name, const char *want)
{
	char v[256];
	return resp_header(r, name, v, sizeof v) && strcmp(v, want) == 0;
}

/* One request on a fresh connection, its answer in *r. */
static int
one_shot(struct tgw *t, const char *method, const char *path, const char *body, struct resp *r)
{
	struct cli *c = malloc(sizeof *c);
	if (c == NULL || cli_connect(c, t->port) != 0)
		check_harness("connect");
	bool ok = strcmp(method, "POST") == 0 ? cli_post(c, path, body, strlen(body))
	                                      : cli_get(c, method, path);
	int rc = ok ? cli_read(c, r, strcmp(method, "HEAD") == 0) : -1;
	cli_close(c);
	free(c);
	return rc;
}

/* ---- the tests ---- */

static void
add_chain_answer_comes_from_another_thread(void)
{
	struct tgw t;
	tgw_start(&t, NULL);
	struct resp r;
	const char *body = "{\"chain\":[\"MIIBxx\"]}";
	CHECK(one_shot(&t, "POST", "/ct/v1/add-chain", body, &r) == 0, "no answer");
	CHECK(r.status == 200, "status %d", r.status);
	CHECK(header_is(&r, "content-type", "application/json"), "content type: %s", r.head);
	CHECK(body_is(&r, "{\"kind\":0,\"shard\":0,\"len\":20,\"echo\":\"{.chain.:[.MIIBxx.]}\"}"),
	      "body %.*s", (int)r.body_len, r.body);
	CHECK(t.tp.submits == 1 && t.tp.completes == 1, "submits %u completes %u", t.tp.submits,
	      t.tp.completes);
	CHECK(!pthread_equal(t.tp.submit_thread, t.tp.complete_thread),
	      "completed on the submitting thread");
	CHECK(!pthread_equal(t.tp.submit_thread, pthread_self()), "submitted on the test thread");
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	CHECK(t.tp.last_t_start_ns > 0 && t.tp.last_t_start_ns <= now_ns &&
	              now_ns - t.tp.last_t_start_ns < 5000000000ull,
	      "t_start_ns %llu, now %llu", (unsigned long long)t.tp.last_t_start_ns,
	      (unsigned long long)now_ns);
	CHECK(t.tp.last_gw_thread < 2, "gw_thread %u", t.tp.last_gw_thread);
	CHECK(t.tp.last_kind == REQ_ADD_CHAIN && t.tp.last_body_len == strlen(body),
	      "kind %u len %zu", t.tp.last_kind, t.tp.last_body_len);

	CHECK(one_shot(&t, "POST", "/ct/v1/add-pre-chain", "pre", &r) == 0, "no answer");
	CHECK(r.status == 200 && t.tp.last_kind == REQ_ADD_PRE_CHAIN, "status %d kind %u", r.status,
	      t.tp.last_kind);
	CHECK(body_is(&r, "{\"kind\":1,\"shard\":0,\"len\":3,\"echo\":\"pre\"}"), "body %.*s",
	      (int)r.body_len, r.body);
	tgw_stop(&t);
}

static void
keep_alive_serves_many_requests_on_one_connection(void)
{
	struct tgw t;
	tgw_start(&t, NULL);
	struct cli *c = malloc(sizeof *c);
	CHECK(cli_connect(c, t.port) == 0, "connect");
	unsigned ok = 0;
	for (unsigned i = 0; i < 100; i++) {
		struct resp r;
		char body[64];
		snprintf(body, sizeof body, "request %u", i);
		bool get = i % 3 == 2;
		bool sent = get ? cli_get(c, "GET", "/ct/v1/get-roots")
		                : cli_post(c, "/ct/v1/add-chain", body, strlen(body));
		if (!sent || cli_read(c, &r, false) != 0 || r.status != 200)
			break;
		if (!get && !memmem(r.body, r.body_len, body, strlen(body)))
			break;
		ok++;
	}
	CHECK(ok == 100, "%u of 100 answered on one connection", ok);
	struct gw_stats st;
	gw_stats_get(t.g, &st);
	CHECK(st.connections_total == 1, "%llu connections",
	      (unsigned long long)st.connections_total);
	CHECK(st.requests == 100 && st.responses[2] == 100, "requests %llu, 2xx %llu",
	      (unsigned long long)st.requests, (unsigned long long)st.responses[2]);
	CHECK(st.connections_open == 1, "open %llu", (unsigned long long)st.connections_open);
	cli_close(c);
	free(c);
	tgw_stop(&t);
}

static void
pipelined_requests_are_answered_in_order(void)
{
	struct tgw t;
	tgw_start(&t, NULL);
	struct cli *c = malloc(sizeof *c);
	CHECK(cli_connect(c, t.port) == 0, "connect");
	const char two[] =
	        "POST /ct/v1/add-chain HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n"
	        "first"
	        "POST /a/ct/v1/add-chain HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n\r\n"
	        "second"
	        "GET /a/ct/v1/get-roots HTTP/1.1\r\nHost: t\r\n\r\n";
	CHECK(cli_send(c, two, sizeof two - 1), "send");
	struct resp r;
	CHECK(cli_read(c, &r, false) == 0 && r.status == 200 &&
	              body_is(&r, "{\"kind\":0,\"shard\":0,\"len\":5,\"echo\":\"first\"}"),
	      "first: %d %.*s", r.status, (int)r.body_len, r.body);
	CHECK(cli_read(c, &r, false) == 0 && r.status == 200 &&
	              body_is(&r, "{\"kind\":0,\"shard\":1,\"len\":6,\"echo\":\"second\"}"),
	      "second: %d %.*s", r.status, (int)r.body_len, r.body);
	CHECK(cli_read(c, &r, false) == 0 && r.status == 200 && body_is(&r, roots_a), "third: %d",
	      r.status);
	cli_close(c);
	free(c);
	tgw_stop(&t);
}

static void
many_connections_on_many_threads_each_get_their_own_answers(void)
{
	struct tgw t;
	struct topts o = {.threads = 4};
	tgw_start(&t, &o);
	struct cli *c = calloc(POOL, sizeof *c);
	for (unsigned i = 0; i < POOL; i++)
		CHECK(cli_connect(&c[i], t.port) == 0, "connect %u", i);
	unsigned ok = 0;
	for (unsigned round = 0; round < 50; round++) {
		char body[POOL][32];
		for (unsigned i = 0; i < POOL; i++) {
			snprintf(body[i], sizeof body[i], "conn %u round %u", i, round);
			CHECK(cli_post(&c[i], "/a/ct/v1/add-chain", body[i], strlen(body[i])),
			      "send");
		}
		for (unsigned i = 0; i < POOL; i++) {
			struct resp r;
			if (cli_read(&c[i], &r, false) == 0 && r.status == 200 &&
			    memmem(r.body, r.body_len, body[i], strlen(body[i])))
				ok++;
		}
	}
	CHECK(ok == 50 * POOL, "%u of %u answered with their own body", ok, 50 * POOL);
	for (unsigned i = 0; i < POOL; i++)
		cli_close(&c[i]);
	free(c);
	tgw_stop(&t);
}

static void
chunked_body_is_submitted_whole(void)
{
	struct tgw t;
	tgw_start(&t, NULL);
	struct cli *c = malloc(sizeof *c);
	CHECK(cli_connect(c, t.port) == 0, "connect");
	CHECK(cli_sendf(c, "POST /ct/v1/add-chain HTTP/1.1\r\nHost: t\r\n"
	                   "Transfer-Encoding: chunked\r\n\r\n"
	                   "4\r\nabcd\r\n6\r\nefghij\r\n0\r\n\r\n"),
	      "send");
	struct resp r;
	CHECK(cli_read(c, &r, false) == 0 && r.status == 200 &&
	              body_is(&r, "{\"kind\":0,\"shard\":0,\"len\":10,\"echo\":\"abcdefghij\"}"),
	      "%d %.*s", r.status, (int)r.body_len, r.body);
	cli_close(c);
	free(c);
	tgw_stop(&t);
}

static void
oversize_body_gets_413_and_the_connection_survives_or_closes_cleanly(void)
{
	struct tgw t;
	struct topts o = {.max_body = 4096};
	tgw_start(&t, &o);
	struct cli *c = malloc(sizeof *c);

	/* A declared length over the limit: refused before the body is sent. */
	CHECK(cli_connect(c, t.port) == 0, "connect");
	CHECK(cli_sendf(c, "POST /ct/v1/add-chain HTTP/1.1\r\nHost: t\r\n"
	                   "Content-Length: 1000000\r\n\r\n"),
	      "send");
	struct resp r;
	CHECK(cli_read(c, &r, false) == 0 && r.status == 413, "status %d", r.status);
	CHECK(cli_closed_by_server(c), "connection left open after 413 with an unread body");
	cli_close(c);

	/* Exactly the limit is fine. */
	char *big = malloc(4097);
	memset(big, 'x', 4097);
	big[4096] = 0;
	CHECK(one_shot(&t, "POST", "/ct/v1/add-chain", big, &r) == 0 && r.status == 200,
	      "4096 bytes: status %d", r.status);

	/* A chunked body that grows past the limit. */
	CHECK(cli_connect(c, t.port) == 0, "connect");
	CHECK(cli_sendf(c, "POST /ct/v1/add-chain HTTP/1.1\r\nHost: t\r\n"
	                   "Transfer-Encoding: chunked\r\n\r\n"),
	      "send");
	bool sent = true;
	for (unsigned i = 0; i < 3 && sent; i++)
		sent = cli_sendf(c, "800\r\n") && cli_send(c, big, 2048) && cli_sendf(c, "\r\n");
	CHECK(cli_read(c, &r, false) == 0 && r.status == 413, "chunked: status %d", r.status);
	CHECK(cli_closed_by_server(c), "connection left open after a chunked 413");
	cli_close(c);
	free(big);
	free(c);
	CHECK(t.tp.gets == 1, "%u slots taken for one body within the limit", t.tp.gets);

	/* The gateway still serves. */
	CHECK(one_shot(&t, "POST", "/ct/v1/add-chain", "ok", &r) == 0 && r.status == 200,
	      "after 413: status %d", r.status);
	/* h2o's own 413s reach the statistics when its thread next goes round its loop */
	struct gw_stats st;
	for (unsigned i = 0; i < 1000; i++) {
		gw_stats_get(t.g, &st);
		if (st.responses[4] >= 2)
			break;
		sleep_ms(5);
	}
	CHECK(st.responses[4] == 2, "4xx %llu", (unsigned long long)st.responses[4]);
	tgw_stop(&t);
}

static void
unknown_path_gets_404(void)
{
	struct tgw t;
	tgw_start(&t, NULL);
	static const char *const cases[][2] = {
	        {"GET", "/"},
	        {"GET", "/ct/v1/get-sth"},
	        {"POST", "/ct/v1/add-chainx"},
	        {"POST", "/ct/v1/add-chain/"},
	        {"POST", "/ab/ct/v1/add-chain"}, /* "/a" matches whole segments only */
	        {"GET", "/nope/ct/v1/get-roots"},
	        {"DELETE", "/x"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct resp r;
		CHECK(one_shot(&t, cases[i][0], cases[i][1], "x", &r) == 0, "%s %s: no answer",
		      cases[i][0], cases[i][1]);
		CHECK(r.status == 404 && body_is(&r, "not found\n"), "%s %s: %d %.*s", cases[i][0],
		      cases[i][1], r.status, (int)r.body_len, r.body);
		CHECK(header_is(&r, "content-type", "text/plain; charset=utf-8"), "%s", r.head);
	}
	CHECK(t.tp.gets == 0, "a slot was taken");
	tgw_stop(&t);
}

static void
no_root_shard_means_404_outside_the_prefixes(void)
{
	static const struct gw_shard only_a[] = {
	        {"/a", roots_a, sizeof roots_a - 1, false, NULL, 0}};
	struct tgw t;
	struct topts o = {.shards = only_a, .nshards = 1};
	tgw_start(&t, &o);
	struct resp r;
	CHECK(one_shot(&t, "POST", "/ct/v1/add-chain", "x", &r) == 0 && r.status == 404,
	      "status %d", r.status);
	CHECK(one_shot(&t, "POST", "/a/ct/v1/add-chain", "x", &r) == 0 && r.status == 200,
	      "status %d", r.status);
	tgw_stop(&t);
}

static void
wrong_method_gets_405_with_allow(void)
{
	struct tgw t;
	tgw_start(&t, NULL);
	struct resp r;
	CHECK(one_shot(&t, "GET", "/ct/v1/add-chain", "", &r) == 0 && r.status == 405, "status %d",
	      r.status);
	CHECK(header_is(&r, "allow", "POST"), "%s", r.head);
	CHECK(one_shot(&t, "PUT", "/a/ct/v1/add-pre-chain", "", &r) == 0 && r.status == 405,
	      "status %d", r.status);
	CHECK(header_is(&r, "allow", "POST"), "%s", r.head);
	CHECK(one_shot(&t, "POST", "/ct/v1/get-roots", "x", &r) == 0 && r.status == 405,
	      "status %d", r.status);
	CHECK(header_is(&r, "allow", "GET, HEAD"), "%s", r.head);
	CHECK(body_is(&r, "method not allowed\n"), "%.*s", (int)r.body_len, r.body);
	CHECK(t.tp.gets == 0, "a slot was taken");
	tgw_stop(&t);
}

static void
empty_pool_gets_503_with_retry_after(void)
{
	struct tgw t;
	struct topts o = {.retry_after = 7};
	tgw_start(&t, &o);
	tp_set_hold(&t.tp, true);
	struct cli *c = calloc(POOL + 1, sizeof *c);
	for (unsigned i = 0; i < POOL; i++) {
		CHECK(cli_connect(&c[i], t.port) == 0, "connect %u", i);
		CHECK(cli_post(&c[i], "/ct/v1/add-chain", "held", 4), "send %u", i);
	}
	CHECK(tp_wait(&t.tp, &t.tp.submits, POOL), "%u of %u submitted", t.tp.submits, POOL);
	struct resp r;
	CHECK(cli_connect(&c[POOL], t.port) == 0, "connect");
	CHECK(cli_post(&c[POOL], "/ct/v1/add-chain", "one more", 8), "send");
	CHECK(cli_read(&c[POOL], &r, false) == 0 && r.status == 503, "status %d", r.status);
	CHECK(header_is(&r, "retry-after", "7"), "%s", r.head);
	CHECK(header_is(&r, "content-type", "text/plain; charset=utf-8"), "%s", r.head);
	CHECK(r.body_len > 1 && r.body[r.body_len - 1] == '\n' &&
	              memchr(r.body, '\n', r.body_len) == r.body + r.body_len - 1,
	      "not one line: %.*s", (int)r.body_len, r.body);
	/* the same connection still works once slots come back */
	tp_set_hold(&t.tp, false);
	for (unsigned i = 0; i < POOL; i++)
		CHECK(cli_read(&c[i], &r, false) == 0 && r.status == 200, "held %u: %d", i,
		      r.status);
	CHECK(cli_post(&c[POOL], "/ct/v1/add-chain", "again", 5), "send");
	CHECK(cli_read(&c[POOL], &r, false) == 0 && r.status == 200, "after: %d", r.status);
	for (unsigned i = 0; i <= POOL; i++)
		cli_close(&c[i]);
	free(c);
	tgw_stop(&t);
}

static void
full_ring_gets_503_and_slot_returned(void)
{
	struct tgw t;
	tgw_start(&t, NULL); /* retry_after 0: 1 */
	t.tp.submit_rc = -ENOBUFS;
	struct resp r;
	for (unsigned i = 0; i < 2 * POOL; i++) {
		CHECK(one_shot(&t, "POST", "/ct/v1/add-chain", "x", &r) == 0 && r.status == 503,
		      "status %d", r.status);
		CHECK(header_is(&r, "retry-after", "1"), "%s", r.head);
	}
	CHECK(t.tp.gets == 2 * POOL && t.tp.puts == 2 * POOL, "gets %u puts %u", t.tp.gets,
	      t.tp.puts);
	t.tp.submit_rc = 0;
	CHECK(one_shot(&t, "POST", "/ct/v1/add-chain", "x", &r) == 0 && r.status == 200,
	      "status %d", r.status);
	struct gw_stats st;
	gw_stats_get(t.g, &st);
	CHECK(st.responses[5] == 2 * POOL, "5xx %llu", (unsigned long long)st.responses[5]);
	tgw_stop(&t);
}

static void
pipeline_errors_are_one_text_line_and_503_keeps_its_retry_after(void)
{
	struct tgw t;
	struct topts o = {.retry_after = 3};
	tgw_start(&t, &o);
	struct resp r;
	t.tp.status = 400;
	snprintf(t.tp.reason, sizeof t.tp.reason, "chain does not end in an accepted root");
	CHECK(one_shot(&t, "POST", "/ct/v1/add-chain", "x", &r) == 0 && r.status == 400,
	      "status %d", r.status);
	CHECK(body_is(&r, "chain does not end in an accepted root\n"), "%.*s", (int)r.body_len,
	      r.body);
	CHECK(!resp_header(&r, "retry-after", (char[8]){0}, 8), "Retry-After on a 400");

	t.tp.status = 503;
	t.tp.retry_after = 9;
	snprintf(t.tp.reason, sizeof t.tp.reason, "sequencer busy");
	CHECK(one_shot(&t, "POST", "/ct/v1/add-chain", "x", &r) == 0 && r.status == 503,
	      "status %d", r.status);
	CHECK(body_is(&r, "sequencer busy\n") && header_is(&r, "retry-after", "9"), "%s%.*s",
	      r.head, (int)r.body_len, r.body);
	t.tp.retry_after = 0;
	CHECK(one_shot(&t, "POST", "/ct/v1/add-chain", "x", &r) == 0 && r.status == 503 &&
	              header_is(&r, "retry-after", "3"),
	      "%s", r.head);
	t.tp.status = 500;
	snprintf(t.tp.reason, sizeof t.tp.reason, "internal error");
	CHECK(one_shot(&t, "POST", "/ct/v1/add-chain", "x", &r) == 0 && r.status == 500 &&
	              body_is(&r, "internal error\n"),
	      "%d", r.status);
	tgw_stop(&t);
}

static void
client_gone_before_completion_returns_the_slot(void)
{
	struct tgw t;
	tgw_start(&t, NULL);
	tp_set_hold(&t.tp, true);
	struct cli *c = calloc(POOL, sizeof *c);
	for (unsigned i = 0; i < POOL; i++) {
		CHECK(cli_connect(&c[i], t.port) == 0, "connect %u", i);
		CHECK(cli_post(&c[i], "/ct/v1/add-chain", "bye", 3), "send %u", i);
	}
	CHECK(tp_wait(&t.tp, &t.tp.submits, POOL), "%u submitted", t.tp.submits);
	for (unsigned i = 0; i < POOL; i++) {
		if (i % 2 == 0) { /* half reset, half a plain close */
			struct linger l = {1, 0};
			setsockopt(c[i].fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
		}
		cli_close(&c[i]);
	}
	sleep_ms(20);
	tp_set_hold(&t.tp, false);
	CHECK(tp_wait(&t.tp, &t.tp.puts, POOL), "%u of %u slots returned", t.tp.puts, POOL);
	struct gw_stats st;
	for (unsigned i = 0; i < 1000; i++) {
		gw_stats_get(t.g, &st);
		if (st.connections_open == 0)
			break;
		sleep_ms(5);
	}
	CHECK(st.connections_open == 0, "%llu connections still open",
	      (unsigned long long)st.connections_open);
	/* every slot is usable again */
	tp_set_hold(&t.tp, true);
	for (unsigned i = 0; i < POOL; i++) {
		CHECK(cli_connect(&c[i], t.port) == 0, "connect %u", i);
		CHECK(cli_post(&c[i], "/ct/v1/add-chain", "back", 4), "send %u", i);
	}
	CHECK(tp_wait(&t.tp, &t.tp.submits, 2 * POOL), "%u submitted", t.tp.submits);
	tp_set_hold(&t.tp, false);
	for (unsigned i = 0; i < POOL; i++) {
		struct resp r;
		CHECK(cli_read(&c[i], &r, false) == 0 && r.status == 200, "%u: %d", i, r.status);
		cli_close(&c[i]);
	}
	free(c);
	tgw_stop(&t);
}

static void
drain_answers_503_and_waits_for_in_flight(void)
{
	struct tgw t;
	tgw_start(&t, NULL);
	tp_set_hold(&t.tp, true);
	struct cli *a = malloc(sizeof *a), *b = malloc(sizeof *b), *n = malloc(sizeof *n);
	CHECK(cli_connect(a, t.port) == 0 && cli_connect(b, t.port) == 0, "connect");
	struct resp r;
	CHECK(cli_get(b, "GET", "/ct/v1/get-roots") && cli_read(b, &r, false) == 0, "b");
	CHECK(cli_post(a, "/ct/v1/add-chain", "in flight", 9), "send");
	CHECK(tp_wait(&t.tp, &t.tp.submits, 1), "not submitted");

	uint64_t t0 = now_ms();
	unsigned left = gw_drain(t.g, 100);
	uint64_t took = now_ms() - t0;
	CHECK(left == 1, "drain: %u in flight, want 1", left);
	CHECK(took >= 90 && took < 2000, "drain with one in flight took %llu ms",
	      (unsigned long long)took);

	/* an open connection: submissions get 503 draining, reads still work */
	CHECK(cli_post(b, "/ct/v1/add-chain", "late", 4), "send");
	CHECK(cli_read(b, &r, false) == 0 && r.status == 503, "status %d", r.status);
	CHECK(body_is(&r, "draining\n") && header_is(&r, "retry-after", "1"), "%s%.*s", r.head,
	      (int)r.body_len, r.body);
	/* no new connections */
	int rc = cli_connect(n, t.port);
	bool refused = rc == -ECONNREFUSED;
	if (rc == 0) {
		refused = cli_get(n, "GET", "/ct/v1/get-roots") && cli_closed_by_server(n);
		cli_close(n);
	}
	CHECK(refused, "a connection was accepted after drain (%d)", rc);

	/* the one in flight is still answered; then the drain completes */
	tp_set_hold(&t.tp, false);
	CHECK(cli_read(a, &r, false) == 0 && r.status == 200, "in flight: %d", r.status);
	t0 = now_ms();
	left = gw_drain(t.g, WAIT_MS_MAX);
	CHECK(left == 0 && now_ms() - t0 < 1000, "drain: %u left", left);
	cli_close(a);
	cli_close(b);
	free(a);
	free(b);
	free(n);
	tgw_stop(&t);
}

static void
malformed_request_line_gets_400(void)
{
	struct tgw t;
	tgw_start(&t, NULL);
	static const char *const bad[] = {
	        "this is not http\r\n\r\n",
	        "GET /ct/v1/get-roots HTTP/1.1\r\nNo colon here\r\n\r\n",
	        "POST /ct/v1/add-chain HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
	        "POST /ct/v1/add-chain HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
	};
	struct cli *c = malloc(sizeof *c);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK(cli_connect(c, t.port) == 0, "connect");
		CHECK(cli_sendf(c, bad[i]), "send");
		struct resp r;
		CHECK(cli_read(c, &r, false) == 0 && r.status == 400, "case %zu: status %d", i,
		      r.status);
		CHECK(cli_closed_by_server(c), "case %zu: left open", i);
		cli_close(c);
	}
	free(c);
	CHECK(t.tp.gets == 0, "a slot was taken");
	tgw_stop(&t);
}

static void
prefix_routes_to_its_shard(void)
{
	struct tgw t;
	tgw_start(&t, NULL);
	static const struct {
		const char *path;
		unsigned shard;
	} cases[] = {
	        {"/ct/v1/add-chain", 0},       {"/a/ct/v1/add-chain", 1},
	        {"/a/b/ct/v1/add-chain", 2},   {"/a/b/ct/v1/add-pre-chain?x=1", 2},
	        {"/a/./b/ct/v1/add-chain", 2},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct resp r;
		CHECK(one_shot(&t, "POST", cases[i].path, "x", &r) == 0 && r.status == 200,
		      "%s: status %d", cases[i].path, r.status);
		CHECK(t.tp.last_shard == cases[i].shard, "%s: shard %u, want %u", cases[i].path,
		      t.tp.last_shard, cases[i].shard);
	}
	tgw_stop(&t);
}

static void
get_roots_serves_the_shard_json(void)
{
	struct tgw t;
	tgw_start(&t, NULL);
	struct resp r;
	CHECK(one_shot(&t, "GET", "/ct/v1/get-roots", "", &r) == 0 && r.status == 200 &&
	              body_is(&r, roots_root),
	      "root: %d %.*s", r.status, (int)r.body_len, r.body);
	CHECK(header_is(&r, "content-type", "application/json"), "%s", r.head);
	CHECK(one_shot(&t, "GET", "/a/ct/v1/get-roots?cache=no", "", &r) == 0 && r.status == 200 &&
	              body_is(&r, roots_a),
	      "a: %d %.*s", r.status, (int)r.body_len, r.body);
	CHECK(one_shot(&t, "GET", "/a/b/ct/v1/get-roots", "", &r) == 0 && r.status == 200 &&
	              body_is(&r, roots_ab),
	      "a/b: %d", r.status);
	CHECK(one_shot(&t, "HEAD", "/a/ct/v1/get-roots", "", &r) == 0 && r.status == 200 &&
	              r.body_len == 0,
	      "HEAD: %d", r.status);
	char want[16];
	snprintf(want, sizeof want, "%zu", sizeof roots_a - 1);
	CHECK(header_is(&r, "content-length", want), "HEAD: %s", r.head);
	CHECK(t.tp.gets == 0, "a slot was taken");
	tgw_stop(&t);
}

static void
read_only_shard_refuses_add_with_403(void)
{
	struct tgw t;
	tgw_start(&t, NULL);
	struct resp r;
	CHECK(one_shot(&t, "POST", "/ro/ct/v1/add-chain", "x", &r) == 0 && r.status == 403,
	      "status %d", r.status);
	CHECK(body_is(&r, "log is read-only\n"), "%.*s", (int)r.body_len, r.body);
	CHECK(one_shot(&t, "POST", "/ro/ct/v1/add-pre-chain", "x", &r) == 0 && r.status == 403,
	      "status %d", r.status);
	CHECK(one_shot(&t, "GET", "/ro/ct/v1/get-roots", "", &r) == 0 && r.status == 200,
	      "get-roots on read-only: %d", r.status);
	CHECK(t.tp.gets == 0, "a slot was taken");
	tgw_stop(&t);
}

static void
many_concurrent_connections_are_bounded(void)
{
	enum { MAXC = 4, EXTRA = 6 };
	struct tgw t;
	struct topts o = {.max_connections = MAXC, .threads = 3};
	tgw_start(&t, &o);
	struct cli *c = calloc(MAXC + EXTRA, sizeof *c);
	struct resp r;
	for (unsigned i = 0; i < MAXC; i++) {
		CHECK(cli_connect(&c[i], t.port) == 0, "connect %u", i);
		CHECK(cli_get(&c[i], "GET", "/ct/v1/get-roots") &&
		              cli_read(&c[i], &r, false) == 0 && r.status == 200,
		      "within the limit %u: %d", i, r.status);
	}
	for (unsigned i = MAXC; i < MAXC + EXTRA; i++) {
		int rc = cli_connect(&c[i], t.port);
		bool turned_away = rc != 0;
		if (rc == 0)
			turned_away = !cli_get(&c[i], "GET", "/ct/v1/get-roots") ||
			              cli_closed_by_server(&c[i]);
		CHECK(turned_away, "connection %u over the limit of %d was served", i, MAXC);
		cli_close(&c[i]);
	}
	struct gw_stats st;
	gw_stats_get(t.g, &st);
	CHECK(st.connections_open == MAXC && st.connections_total == MAXC, "open %llu total %llu",
	      (unsigned long long)st.connections_open, (unsigned long long)st.connections_total);
	/* those within the limit still work; one leaving makes room for another */
	for (unsigned i = 0; i < MAXC; i++)
		CHECK(cli_get(&c[i], "GET", "/ct/v1/get-roots") &&
		              cli_read(&c[i], &r, false) == 0 && r.status == 200,
		      "kept %u", i);
	cli_close(&c[0]);
	for (unsigned i = 0; i < 1000; i++) {
		gw_stats_get(t.g, &st);
		if (st.connections_open < MAXC)
			break;
		sleep_ms(5);
	}
	CHECK(cli_connect(&c[0], t.port) == 0, "reconnect");
	CHECK(cli_get(&c[0], "GET", "/ct/v1/get-roots") && cli_read(&c[0], &r, false) == 0 &&
	              r.status == 200,
	      "after one left: %d", r.status);
	for (unsigned i = 0; i < MAXC + EXTRA; i++)
		cli_close(&c[i]);
	free(c);
	tgw_stop(&t);
}

static void
stop_closes_idle_keep_alive_connections(void)
{
	struct tgw t;
	tgw_start(&t, NULL);
	struct cli *c = calloc(3, sizeof *c);
	struct resp r;
	for (unsigned i = 0; i < 3; i++) {
		CHECK(cli_connect(&c[i], t.port) == 0, "connect");
		CHECK(cli_get(&c[i], "GET", "/ct/v1/get-roots") && cli_read(&c[i], &r, false) == 0,
		      "get");
	}
	/* one more mid-request: headers sent, body not yet */
	CHECK(cli_sendf(&c[2], "POST /ct/v1/add-chain HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"),
	      "send");
	uint64_t t0 = now_ms();
	tgw_stop(&t);
	CHECK(now_ms() - t0 < 2000, "gw_stop took %llu ms", (unsigned long long)(now_ms() - t0));
	for (unsigned i = 0; i < 3; i++) {
		CHECK(cli_closed_by_server(&c[i]), "connection %u still open after gw_stop", i);
		cli_close(&c[i]);
	}
	free(c);
}

static void
start_reports_a_busy_address(void)
{
	struct tgw t;
	tgw_start(&t, NULL);
	struct config_listen l = {"127.0.0.1", t.port};
	struct tpipe *tp = &t.tp;
	struct gw_config c = {
	        .listen = &l,
	        .nlisten = 1,
	        .threads = 1,
	        .max_connections = 4,
	        .max_body = 4096,
	        .shards = default_shards,
	        .nshards = 1,
	        .pipe = {tp_req_get, tp_submit, tp_req_put, tp},
	};
	struct gw *g2 = NULL;
	char err[256] = "";
	int rc = gw_start(&g2, &c, err, sizeof err);
	char want[64];
	snprintf(want, sizeof want, "127.0.0.1:%u: ", t.port);
	CHECK(rc == -EADDRINUSE && g2 == NULL, "rc %d", rc);
	CHECK(strncmp(err, want, strlen(want)) == 0 && strstr(err, "in use"), "err '%s'", err);

	c.listen = &(struct config_listen){"127.0.0.1", 0};
	c.threads = 0;
	rc = gw_start(&g2, &c, err, sizeof err);
	CHECK(rc == -EINVAL && strstr(err, "threads"), "threads 0: %d '%s'", rc, err);
	c.threads = 1;
	c.shards = (const struct gw_shard[]){{"a/", "", 0, false, NULL, 0}};
	rc = gw_start(&g2, &c, err, sizeof err);
	CHECK(rc == -EINVAL && strstr(err, "prefix"), "bad prefix: %d '%s'", rc, err);
	c.shards = default_shards;
	c.listen = &(struct config_listen){"no.such.host.invalid", 0};
	rc = gw_start(&g2, &c, err, sizeof err);
	CHECK(rc < 0 && strncmp(err, "no.such.host.invalid:0: ", 24) == 0, "host: %d '%s'", rc,
	      err);
	gw_stop(NULL);
	tgw_stop(&t);
}

int
main(void)
{
	blog_set_level(BLOG_WARN); /* no "listening on" line per test */
	RUN(add_chain_answer_comes_from_another_thread);
	RUN(keep_alive_serves_many_requests_on_one_connection);
	RUN(pipelined_requests_are_answered_in_order);
	RUN(many_connections_on_many_threads_each_get_their_own_answers);
	RUN(chunked_body_is_submitted_whole);
	RUN(oversize_body_gets_413_and_the_connection_survives_or_closes_cleanly);
	RUN(unknown_path_gets_404);
	RUN(no_root_shard_means_404_outside_the_prefixes);
	RUN(wrong_method_gets_405_with_allow);
	RUN(empty_pool_gets_503_with_retry_after);
	RUN(full_ring_gets_503_and_slot_returned);
	RUN(pipeline_errors_are_one_text_line_and_503_keeps_its_retry_after);
	RUN(client_gone_before_completion_returns_the_slot);
	RUN(drain_answers_503_and_waits_for_in_flight);
	RUN(malformed_request_line_gets_400);
	RUN(prefix_routes_to_its_shard);
	RUN(get_roots_serves_the_shard_json);
	RUN(read_only_shard_refuses_add_with_403);
	RUN(many_concurrent_connections_are_bounded);
	RUN(stop_closes_idle_keep_alive_connections);
	RUN(start_reports_a_busy_address);
	return check_done();
}
