/* tools/load_client.c: keep-alive HTTP/1.1 event loops that send a load_set, and the checks of
 * what came back. See load_client.h. */
#include "tools/load_client.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "engine/ctsig.h"

#define RBUF_CAP     16384 /* the largest answer kept whole (SCTs are ~250 bytes) */
#define BODY_KEEP    (LOAD_VERIFY_BODY + 1)
#define SCAN_NS      (10 * 1000000ull) /* how often in-flight requests are checked for timeouts */
#define EVENTS_MAX   256
#define LOOPS_MAX    255 /* result.thread is a byte */
#define VERIFY_MAX   256
#define INTERIM_MAX  8 /* 1xx answers skipped before the real one */
#define CL_MAX       (1u << 30)
#define FIRST400_MAX 160

static const char *const err_names[LOAD_E_KINDS] = {
        "ok",         "connect",  "timeout",    "closed",        "http_400",        "http_503",
        "http_other", "bad_json", "bad_log_id", "bad_signature", "duplicate_index",
};

const char *
load_err_name(enum load_err e)
{
	return (unsigned)e < LOAD_E_KINDS ? err_names[e] : "?";
}

static uint64_t
mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the target ---- */

int
load_target_parse(struct load_target *t, const char *url, const char **reason)
{
	memset(t, 0, sizeof *t);
	if (strncmp(url, "http://", 7) != 0) {
		*reason = "the URL must start with http:// (https is not supported)";
		return -EINVAL;
	}
	const char *h = url + 7;
	const char *slash = strchr(h, '/');
	size_t hostport = slash ? (size_t)(slash - h) : strlen(h);
	if (hostport == 0 || hostport > LOAD_HOST_MAX) {
		*reason = "the URL has no host, or one too long";
		return -EINVAL;
	}
	char host[LOAD_HOST_MAX + 1], port[8] = "80";
	const char *p = h, *end = h + hostport, *colon = NULL;
	size_t hl;
	if (*p == '[') { /* [IPv6] */
		const char *rb = memchr(p, ']', hostport);
		if (!rb) {
			*reason = "the URL's IPv6 address has no ']'";
			return -EINVAL;
		}
		hl = (size_t)(rb - p - 1);
		memcpy(host, p + 1, hl);
		if (rb + 1 < end) {
			if (rb[1] != ':') {
				*reason = "the URL has junk after its IPv6 address";
				return -EINVAL;
			}
			colon = rb + 1;
		}
	} else {
		colon = memchr(p, ':', hostport);
		hl = colon ? (size_t)(colon - p) : hostport;
		memcpy(host, p, hl);
	}
	host[hl] = '\0';
	if (colon) {
		size_t pl = (size_t)(end - colon - 1);
		if (pl == 0 || pl > 5) {
			*reason = "the URL's port is not a number from 1 to 65535";
			return -EINVAL;
		}
		memcpy(port, colon + 1, pl);
		port[pl] = '\0';
		unsigned long v = 0;
		for (size_t i = 0; i < pl; i++) {
			if (port[i] < '0' || port[i] > '9') {
				v = 0;
				break;
			}
			v = v * 10 + (unsigned)(port[i] - '0');
		}
		if (v == 0 || v > 65535) {
			*reason = "the URL's port is not a number from 1 to 65535";
			return -EINVAL;
		}
	}
	if (hl == 0) {
		*reason = "the URL has no host";
		return -EINVAL;
	}
	memcpy(t->host, h, hostport);
	t->host[hostport] = '\0';
	if (slash) {
		size_t pl = strlen(slash);
		while (pl > 0 && slash[pl - 1] == '/')
			pl--;
		if (pl > LOAD_PREFIX_MAX) {
			*reason = "the URL's path prefix is too long";
			return -EINVAL;
		}
		for (size_t i = 0; i < pl; i++) {
			unsigned char c = (unsigned char)slash[i];
			if (c <= ' ' || c >= 0x7f || c == '?' || c == '#') {
				*reason =
				        "the URL's path prefix has a character that needs escaping";
				return -EINVAL;
			}
		}
		memcpy(t->prefix, slash, pl);
		t->prefix[pl] = '\0';
	}
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
	if (getaddrinfo(host, port, &hints, &ai) != 0 || !ai) {
		*reason = "the URL's host does not resolve";
		return -EINVAL;
	}
	memcpy(&t->addr, ai->ai_addr, ai->ai_addrlen);
	t->addr_len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

/* ---- HTTP/1.1 answers ---- */

struct http_answer {
	int status;
	bool close;       /* Connection: close, or HTTP/1.0 without keep-alive */
	size_t consumed;  /* bytes of the buffer the answer spans */
	const char *body; /* into the buffer, or the chunk scratch */
	size_t body_len;
};

static bool
header_is(const char *line, size_t len, const char *name, const char **value, size_t *vlen)
{
	size_t n = strlen(name);
	if (len <= n || line[n] != ':' || strncasecmp(line, name, n) != 0)
		return false;
	const char *v = line + n + 1, *e = line + len;
	while (v < e && (*v == ' ' || *v == '\t'))
		v++;
	while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	*value = v;
	*vlen = (size_t)(e - v);
	return true;
}

static bool
has_token(const char *v, size_t len, const char *tok)
{
	size_t n = strlen(tok);
	for (size_t i = 0; i + n <= len; i++)
		if (strncasecmp(v + i, tok, n) == 0)
			return true;
	return false;
}

/* Decodes a chunked body starting at buf[pos]: 1 complete (*end past the trailers), 0 more
 * bytes needed, -1 malformed or larger than cap. */
static int
http_chunked(const char *buf, size_t len, size_t pos, char *out, size_t cap, size_t *out_len,
             size_t *end)
{
	size_t o = 0;
	while (pos < len) {
		const char *lf = memchr(buf + pos, '\n', len - pos);
		if (!lf)
			return len - pos > 64 ? -1 : 0;
		size_t line_end = (size_t)(lf - buf);
		if (line_end == pos || buf[line_end - 1] != '\r')
			return -1;
		uint64_t size = 0;
		size_t i = pos, digits = 0;
		for (; i < line_end - 1; i++, digits++) {
			char c = buf[i];
			unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
			             : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
			             : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
			                                    : 16u;
			if (d == 16)
				break;
			if (size > CL_MAX)
				return -1;
			size = size * 16 + d;
		}
		if (digits == 0 || (i < line_end - 1 && buf[i] != ';' && buf[i] != ' '))
			return -1;
		pos = line_end + 1;
		if (size == 0) { /* trailers, up to an empty line */
			for (;;) {
				lf = memchr(buf + pos, '\n', len - pos);
				if (!lf)
					return 0;
				size_t le = (size_t)(lf - buf);
				if (le == pos || buf[le - 1] != '\r')
					return -1;
				bool empty = le == pos + 1;
				pos = le + 1;
				if (empty) {
					*out_len = o;
					*end = pos;
					return 1;
				}
			}
		}
		if (len - pos < size + 2)
			return 0;
		if (o + size > cap || buf[pos + size] != '\r' || buf[pos + size + 1] != '\n')
			return -1;
		memcpy(out + o, buf + pos, size);
		o += size;
		pos += size + 2;
	}
	return 0;
}

/* Parses an answer at the start of buf[0..len): 1 complete, 0 more bytes needed (or, with
 * eof, the connection ended early: -1), -1 malformed. scratch (cap bytes) takes a chunked
 * body. */
static int
http_answer_parse(const char *buf, size_t len, bool eof, char *scratch, size_t cap,
                  struct http_answer *a)
{
	size_t base = 0;
	for (unsigned interim = 0; interim <= INTERIM_MAX; interim++) {
		memset(a, 0, sizeof *a);
		const char *b = buf + base;
		size_t n = len - base;
		const char *hend = NULL;
		for (size_t i = 3; i < n; i++) {
			if (b[i] == '\n' && b[i - 1] == '\r' && b[i - 2] == '\n' &&
			    b[i - 3] == '\r') {
				hend = b + i + 1;
				break;
			}
		}
		if (!hend)
			return eof || n >= RBUF_CAP ? -1 : 0;
		if (n < 12 || memcmp(b, "HTTP/1.", 7) != 0 || (b[7] != '0' && b[7] != '1') ||
		    b[8] != ' ' || b[9] < '1' || b[9] > '5' || b[10] < '0' || b[10] > '9' ||
		    b[11] < '0' || b[11] > '9')
			return -1;
		a->status = (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
		bool http10 = b[7] == '0', keep_alive = false, chunked = false, have_cl = false;
		uint64_t cl = 0;
		const char *line = memchr(b, '\n', (size_t)(hend - b)) + 1;
		while (line < hend - 2) {
			const char *lf = memchr(line, '\n', (size_t)(hend - line));
			size_t ll = (size_t)(lf - line);
			if (ll == 0 || line[ll - 1] != '\r')
				return -1;
			ll--;
			const char *v;
			size_t vl;
			if (header_is(line, ll, "Content-Length", &v, &vl)) {
				if (vl == 0 || vl > 10 || have_cl)
					return -1;
				for (size_t i = 0; i < vl; i++) {
					if (v[i] < '0' || v[i] > '9')
						return -1;
					cl = cl * 10 + (uint64_t)(v[i] - '0');
				}
				if (cl > CL_MAX)
					return -1;
				have_cl = true;
			} else if (header_is(line, ll, "Transfer-Encoding", &v, &vl)) {
				chunked = has_token(v, vl, "chunked");
			} else if (header_is(line, ll, "Connection", &v, &vl)) {
				if (has_token(v, vl, "close"))
					a->close = true;
				if (has_token(v, vl, "keep-alive"))
					keep_alive = true;
			}
			line = lf + 1;
		}
		if (http10 && !keep_alive)
			a->close = true;
		size_t head = (size_t)(hend - b);
		if (a->status >= 100 && a->status < 200) { /* interim: skip it */
			base += head;
			continue;
		}
		if (a->status == 204 || a->status == 304) {
			a->body = hend;
			a->consumed = base + head;
			return 1;
		}
		if (chunked) {
			size_t end = 0, bl = 0;
			int rc = http_chunked(b, n, head, scratch, cap, &bl, &end);
			if (rc <= 0)
				return rc < 0 || eof ? -1 : 0;
			a->body = scratch;
			a->body_len = bl;
			a->consumed = base + end;
			return 1;
		}
		if (have_cl) {
			if (cl > RBUF_CAP)
				return -1;
			if (n - head < cl)
				return eof ? -1 : 0;
			a->body = hend;
			a->body_len = (size_t)cl;
			a->consumed = base + head + (size_t)cl;
			return 1;
		}
		/* Delimited by the end of the connection. */
		if (!eof)
			return n >= RBUF_CAP ? -1 : 0;
		a->close = true;
		a->body = hend;
		a->body_len = n - head;
		a->consumed = len;
		return 1;
	}
	return -1;
}

/* ---- the run ---- */

struct load_result {
	uint64_t lat_ns;
	uint64_t done_ns; /* since the start */
	uint64_t leaf_index;
	uint32_t body_off;
	uint16_t body_len;
	uint16_t status;
	uint8_t err;
	uint8_t thread;
	uint8_t state; /* 0 unsent, 1 in flight, 2 finished */
	uint8_t has_index;
};

enum conn_state { C_DOWN, C_CONNECTING, C_SENDING, C_WAITING, C_IDLE };

struct loop;

struct conn {
	int fd;
	enum conn_state st;
	bool busy;
	bool used; /* this fd has carried a complete exchange */
	bool retried;
	uint64_t req;
	uint64_t origin; /* latency origin: send (closed loop) or due time (open loop) */
	uint64_t deadline;
	size_t sent;
	size_t rlen;
	char *rbuf;
	struct loop *loop;
};

struct loop {
	alignas(64) _Atomic uint64_t sent;
	_Atomic uint64_t answered, http_200, failed;
	alignas(64) struct load_run *run;
	unsigned id;
	int ep;
	struct conn *conns;
	unsigned nconns;
	struct conn **free;
	unsigned nfree;
	unsigned active;
	unsigned inflight_max;
	uint64_t my_total; /* open loop: requests i = id mod threads */
	uint64_t due_m, send_m;
	char *arena;
	size_t alen, acap;
	char *scratch;
	char first400[FIRST400_MAX];
	uint64_t first400_at;
	pthread_t th;
	bool started;
	int error;
};

struct load_run {
	const struct load_set *set;
	struct load_run_opts o;
	struct load_result *res;
	struct loop *loops;
	unsigned nloops;
	_Atomic uint64_t next;
	atomic_int stop;
	_Atomic unsigned running;
	uint64_t t0;
	bool joined;
	bool verified;
	const char *why[LOAD_E_KINDS];
};

static void
conn_close(struct conn *c)
{
	if (c->fd >= 0) {
		epoll_ctl(c->loop->ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1;
	c->st = C_DOWN;
	c->used = false;
	c->rlen = 0;
}

static void
body_keep(struct loop *l, struct load_result *r, const char *body, size_t len)
{
	if (len > BODY_KEEP)
		len = BODY_KEEP;
	if (l->alen + len > l->acap) {
		size_t cap = l->acap ? l->acap : 65536;
		while (cap < l->alen + len)
			cap *= 2;
		char *p = cap <= UINT32_MAX ? realloc(l->arena, cap) : NULL;
		if (!p) {
			r->body_len = 0;
			return; /* unkept: verification reports it as bad JSON */
		}
		l->arena = p;
		l->acap = cap;
	}
	memcpy(l->arena + l->alen, body, len);
	r->body_off = (uint32_t)l->alen;
	r->body_len = (uint16_t)len;
	l->alen += len;
}

/* Request c->req is over: answered with status (err LOAD_OK for 200) or failed. */
static void
conn_finish(struct conn *c, enum load_err err, int status, const char *body, size_t blen)
{
	struct loop *l = c->loop;
	struct load_run *run = l->run;
	struct load_result *r = &run->res[c->req];
	uint64_t now = mono_ns();
	r->state = 2;
	r->err = (uint8_t)err;
	r->status = (uint16_t)status;
	r->thread = (uint8_t)l->id;
	r->lat_ns = now - c->origin;
	r->done_ns = now - run->t0;
	if (body)
		body_keep(l, r, body, blen);
	if (err == LOAD_E_HTTP_400 && l->first400_at == 0) {
		size_t n = blen < FIRST400_MAX - 1 ? blen : FIRST400_MAX - 1;
		for (size_t i = 0; i < n; i++) {
			unsigned char ch = (unsigned char)body[i];
			l->first400[i] = ch < ' ' ? ' ' : ch >= 0x7f ? '?' : (char)ch;
		}
		while (n > 0 && l->first400[n - 1] == ' ')
			n--;
		l->first400[n] = '\0';
		l->first400_at = r->done_ns ? r->done_ns : 1;
	}
	atomic_store_explicit(&l->answered,
	                      atomic_load_explicit(&l->answered, memory_order_relaxed) + 1,
	                      memory_order_relaxed);
	if (status == 200)
		atomic_store_explicit(&l->http_200,
		                      atomic_load_explicit(&l->http_200, memory_order_relaxed) + 1,
		                      memory_order_relaxed);
	else
		atomic_store_explicit(&l->failed,
		                      atomic_load_explicit(&l->failed, memory_order_relaxed) + 1,
		                      memory_order_relaxed);
	c->busy = false;
	c->rlen = 0;
	l->active--;
	l->free[l->nfree++] = c;
	if (err != LOAD_OK && status == 0)
		conn_close(c);
	else if (c->fd >= 0)
		c->st = C_IDLE;
}

static void conn_write(struct conn *c);

static void
conn_open(struct conn *c)
{
	const struct load_target *t = c->loop->run->o.target;
	c->fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		conn_finish(c, LOAD_E_CONNECT, 0, NULL, 0);
		return;
	}
	int one = 1;
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
	                         .data.ptr = c};
	if (epoll_ctl(c->loop->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
		conn_finish(c, LOAD_E_CONNECT, 0, NULL, 0);
		return;
	}
	c->used = false;
	if (connect(c->fd, (const struct sockaddr *)&t->addr, t->addr_len) == 0) {
		c->st = C_SENDING;
		conn_write(c);
	} else if (errno == EINPROGRESS) {
		c->st = C_CONNECTING;
	} else {
		conn_finish(c, LOAD_E_CONNECT, 0, NULL, 0);
	}
}

/* The connection broke before a complete answer. A reused connection that the server closed
 * before answering anything gets the request once more on a new connection. */
static void
conn_broken(struct conn *c)
{
	if (c->used && !c->retried && c->rlen == 0) {
		c->retried = true;
		conn_close(c);
		c->sent = 0;
		conn_open(c);
		return;
	}
	conn_finish(c, LOAD_E_CLOSED, 0, NULL, 0);
}

static void conn_read(struct conn *c);

static void
conn_write(struct conn *c)
{
	const struct load_set *set = c->loop->run->set;
	const struct load_req *q = &set->req[c->req];
	const char *slot = load_set_slot(set, c->req);
	const char *tail = set->tail[q->issuer].bytes;
	size_t tl = set->tail[q->issuer].len, total = q->len + tl;
	while (c->sent < total) {
		struct iovec iov[2];
		int n = 0;
		if (c->sent < q->len) {
			iov[n++] = (struct iovec){(void *)(slot + c->sent), q->len - c->sent};
			iov[n++] = (struct iovec){(void *)tail, tl};
		} else {
			iov[n++] = (struct iovec){(void *)(tail + (c->sent - q->len)),
			                          total - c->sent};
		}
		struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)n};
		ssize_t w = sendmsg(c->fd, &m, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return; /* EPOLLOUT resumes */
			conn_broken(c);
			return;
		}
		c->sent += (size_t)w;
	}
	c->st = C_WAITING;
	conn_read(c); /* an answer may already be there (edge-triggered) */
}

static void
conn_answer(struct conn *c, const struct http_answer *a)
{
	enum load_err e = a->status == 200   ? LOAD_OK
	                  : a->status == 400 ? LOAD_E_HTTP_400
	                  : a->status == 503 ? LOAD_E_HTTP_503
	                                     : LOAD_E_HTTP_OTHER;
	bool close_after = a->close || a->consumed != c->rlen;
	c->used = true;
	conn_finish(c, e, a->status, a->body, a->body_len);
	if (close_after)
		conn_close(c);
}

static void
conn_read(struct conn *c)
{
	struct loop *l = c->loop;
	for (;;) {
		if (c->rlen == RBUF_CAP) {
			conn_finish(c, LOAD_E_CLOSED, 0, NULL, 0);
			return;
		}
		ssize_t n = recv(c->fd, c->rbuf + c->rlen, RBUF_CAP - c->rlen, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			conn_broken(c);
			return;
		}
		bool eof = n == 0;
		c->rlen += (size_t)n;
		if (eof && c->rlen == 0) {
			conn_broken(c);
			return;
		}
		struct http_answer a;
		int rc = http_answer_parse(c->rbuf, c->rlen, eof, l->scratch, RBUF_CAP, &a);
		if (rc < 0) {
			conn_finish(c, LOAD_E_CLOSED, 0, NULL, 0);
			return;
		}
		if (rc > 0) {
			if (eof)
				a.close = true;
			conn_answer(c, &a);
			return;
		}
	}
}

static void
conn_event(struct conn *c, uint32_t ev)
{
	switch (c->st) {
	case C_CONNECTING: {
		int err = 0;
		socklen_t sl = sizeof err;
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &sl) != 0)
			err = errno;
		if (err == EINPROGRESS || (err == 0 && !(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))))
			return;
		if (err != 0) {
			conn_finish(c, LOAD_E_CONNECT, 0, NULL, 0);
			return;
		}
		c->st = C_SENDING;
		conn_write(c);
		return;
	}
	case C_SENDING:
		if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			conn_write(c);
		return;
	case C_WAITING:
		conn_read(c);
		return;
	case C_IDLE:
		/* The server closed an idle keep-alive connection, or sent what nobody asked. */
		if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			conn_close(c);
		return;
	case C_DOWN:
		return;
	}
}

static void
loop_start(struct loop *l, uint64_t i, uint64_t origin, uint64_t now)
{
	struct conn *c = l->free[--l->nfree];
	struct load_run *run = l->run;
	c->busy = true;
	c->req = i;
	c->origin = origin;
	c->deadline = now + run->o.timeout_ns;
	c->sent = 0;
	c->rlen = 0;
	c->retried = false;
	run->res[i].state = 1;
	l->active++;
	atomic_store_explicit(&l->sent, atomic_load_explicit(&l->sent, memory_order_relaxed) + 1,
	                      memory_order_relaxed);
	if (c->fd < 0) {
		conn_open(c);
	} else {
		c->st = C_SENDING;
		conn_write(c);
	}
}

/* A queued open-loop request that waited past its timeout: failed without being sent. */
static void
loop_expire(struct loop *l, uint64_t i, uint64_t due, uint64_t now)
{
	struct load_result *r = &l->run->res[i];
	r->state = 2;
	r->err = LOAD_E_TIMEOUT;
	r->thread = (uint8_t)l->id;
	r->lat_ns = now - due;
	r->done_ns = now - l->run->t0;
	atomic_store_explicit(&l->sent, atomic_load_explicit(&l->sent, memory_order_relaxed) + 1,
	                      memory_order_relaxed);
	atomic_store_explicit(&l->answered,
	                      atomic_load_explicit(&l->answered, memory_order_relaxed) + 1,
	                      memory_order_relaxed);
	atomic_store_explicit(&l->failed,
	                      atomic_load_explicit(&l->failed, memory_order_relaxed) + 1,
	                      memory_order_relaxed);
}

static uint64_t
due_of(const struct load_run *run, uint64_t i)
{
	return run->t0 + (uint64_t)(((unsigned __int128)i * 1000000000u) / run->o.rate);
}

/* Hands out requests; returns true while more may come. */
static bool
loop_dispatch(struct loop *l, uint64_t now)
{
	struct load_run *run = l->run;
	const uint64_t n = run->set->n;
	bool stop = atomic_load_explicit(&run->stop, memory_order_relaxed);
	if (run->o.rate == 0) {
		if (stop || (run->o.duration_ns && now - run->t0 >= run->o.duration_ns))
			return false;
		while (l->nfree > 0 && l->active < l->inflight_max) {
			uint64_t i = atomic_fetch_add_explicit(&run->next, 1, memory_order_relaxed);
			if (i >= n)
				return false;
			loop_start(l, i, now, now);
		}
		return true;
	}
	if (stop)
		return false;
	uint64_t T = run->nloops;
	while (l->due_m < l->my_total && due_of(run, l->id + l->due_m * T) <= now)
		l->due_m++;
	while (l->send_m < l->due_m) {
		uint64_t i = l->id + l->send_m * T, due = due_of(run, i);
		if (now - due > run->o.timeout_ns) {
			loop_expire(l, i, due, now);
		} else {
			if (l->nfree == 0)
				break;
			loop_start(l, i, due, now);
		}
		l->send_m++;
	}
	return l->send_m < l->my_total;
}

static void
loop_timeouts(struct loop *l, uint64_t now)
{
	for (unsigned k = 0; k < l->nconns; k++) {
		struct conn *c = &l->conns[k];
		if (c->busy && now >= c->deadline) {
			conn_close(c);
			conn_finish(c, LOAD_E_TIMEOUT, 0, NULL, 0);
		}
	}
}

static void *
loop_main(void *arg)
{
	struct loop *l = arg;
	struct load_run *run = l->run;
	struct epoll_event ev[EVENTS_MAX];
	uint64_t last_scan = mono_ns();
	for (;;) {
		uint64_t now = mono_ns();
		bool more = loop_dispatch(l, now);
		if (!more && l->active == 0)
			break;
		/* Sleep until the next due request, the next timeout scan, or an event. */
		uint64_t wake = last_scan + SCAN_NS;
		if (more && run->o.rate && l->due_m < l->my_total) {
			uint64_t d = due_of(run, l->id + l->due_m * run->nloops);
			if (l->send_m < l->due_m && l->nfree > 0)
				d = now;
			if (d < wake)
				wake = d;
		}
		if (more && !run->o.rate && run->o.duration_ns) {
			uint64_t end = run->t0 + run->o.duration_ns;
			if (end < wake)
				wake = end;
		}
		uint64_t wait = wake > now ? wake - now : 0;
		struct timespec ts = {(time_t)(wait / 1000000000u), (long)(wait % 1000000000u)};
		int k = epoll_pwait2(l->ep, ev, EVENTS_MAX, &ts, NULL);
		if (k < 0 && errno == ENOSYS) {
			k = epoll_wait(l->ep, ev, EVENTS_MAX, (int)((wait + 999999) / 1000000));
		}
		for (int j = 0; j < k; j++)
			conn_event(ev[j].data.ptr, ev[j].events);
		now = mono_ns();
		if (now - last_scan >= SCAN_NS) {
			loop_timeouts(l, now);
			last_scan = now;
		}
	}
	for (unsigned k = 0; k < l->nconns; k++)
		conn_close(&l->conns[k]);
	atomic_fetch_sub(&run->running, 1);
	return NULL;
}

static void
loops_free(struct load_run *r)
{
	for (unsigned t = 0; t < r->nloops; t++) {
		struct loop *l = &r->loops[t];
		for (unsigned k = 0; l->conns && k < l->nconns; k++) {
			conn_close(&l->conns[k]);
			free(l->conns[k].rbuf);
		}
		if (l->ep >= 0)
			close(l->ep);
		free(l->conns);
		free(l->free);
		free(l->arena);
		free(l->scratch);
	}
	free(r->loops);
	r->loops = NULL;
}

void
load_run_free(struct load_run *r)
{
	if (!r)
		return;
	if (!r->joined) {
		load_run_stop(r);
		while (!load_run_wait(r, 1000))
			;
	}
	loops_free(r);
	free(r->res);
	free(r);
}

int
load_run_start(struct load_run **out, const struct load_set *set, const struct load_run_opts *o,
               const char **reason)
{
	*out = NULL;
	if (!o->target || (o->rate == 0) == (o->concurrency == 0) || o->threads == 0 ||
	    o->threads > LOOPS_MAX || o->connections < o->threads ||
	    (o->concurrency && o->concurrency < o->threads) || o->connections < o->concurrency ||
	    o->timeout_ns == 0 || set->n == 0) {
		*reason =
		        "run options: one of concurrency or rate; 1..255 threads, at most one per "
		        "connection; connections >= concurrency; a timeout; requests";
		return -EINVAL;
	}
	struct load_run *r = calloc(1, sizeof *r);
	if (!r)
		return -ENOMEM;
	r->set = set;
	r->o = *o;
	r->nloops = o->threads;
	r->res = calloc(set->n, sizeof *r->res);
	r->loops = calloc(r->nloops, sizeof *r->loops);
	r->joined = true;
	if (!r->res || !r->loops) {
		free(r->res);
		free(r->loops);
		free(r);
		*reason = "not enough memory for the results";
		return -ENOMEM;
	}
	for (unsigned t = 0; t < r->nloops; t++)
		r->loops[t].ep = -1;
	int rc = 0;
	for (unsigned t = 0; t < r->nloops && rc == 0; t++) {
		struct loop *l = &r->loops[t];
		l->run = r;
		l->id = t;
		l->nconns = o->connections / r->nloops + (t < o->connections % r->nloops);
		l->inflight_max = o->concurrency ? o->concurrency / r->nloops +
		                                           (t < o->concurrency % r->nloops)
		                                 : l->nconns;
		l->my_total = t < set->n ? (set->n - t + r->nloops - 1) / r->nloops : 0;
		l->ep = epoll_create1(EPOLL_CLOEXEC);
		l->conns = calloc(l->nconns, sizeof *l->conns);
		l->free = calloc(l->nconns, sizeof *l->free);
		l->scratch = malloc(RBUF_CAP);
		if (l->ep < 0 || !l->conns || !l->free || !l->scratch) {
			rc = -ENOMEM;
			break;
		}
		for (unsigned k = 0; k < l->nconns; k++) {
			struct conn *c = &l->conns[k];
			c->fd = -1;
			c->loop = l;
			c->rbuf = malloc(RBUF_CAP);
			if (!c->rbuf) {
				rc = -ENOMEM;
				break;
			}
			l->free[l->nfree++] = &l->conns[l->nconns - 1 - k];
		}
		/* The body arena, sized for this loop's share of SCT answers. */
		uint64_t share = set->n / r->nloops + 1;
		l->acap = share < (UINT32_MAX / 320) ? (size_t)share * 320 : UINT32_MAX;
		l->arena = malloc(l->acap);
		if (!l->arena)
			l->acap = 0;
	}
	if (rc != 0) {
		*reason = "not enough memory or file descriptors for the event loops";
		loops_free(r);
		free(r->res);
		free(r);
		return rc;
	}
	r->joined = false;
	r->t0 = mono_ns();
	atomic_store(&r->running, r->nloops);
	for (unsigned t = 0; t < r->nloops; t++) {
		struct loop *l = &r->loops[t];
		if (pthread_create(&l->th, NULL, loop_main, l) != 0) {
			atomic_fetch_sub(&r->running, r->nloops - t);
			atomic_store(&r->stop, 1);
			break;
		}
		l->started = true;
	}
	*out = r;
	return 0;
}

void
load_run_progress(const struct load_run *r, struct load_progress *p)
{
	memset(p, 0, sizeof *p);
	for (unsigned t = 0; t < r->nloops; t++) {
		const struct loop *l = &r->loops[t];
		p->sent += atomic_load_explicit(&l->sent, memory_order_relaxed);
		p->answered += atomic_load_explicit(&l->answered, memory_order_relaxed);
		p->http_200 += atomic_load_explicit(&l->http_200, memory_order_relaxed);
		p->failed += atomic_load_explicit(&l->failed, memory_order_relaxed);
	}
}

void
load_run_stop(struct load_run *r)
{
	atomic_store(&r->stop, 1);
}

bool
load_run_wait(struct load_run *r, unsigned timeout_ms)
{
	if (r->joined)
		return true;
	for (unsigned waited = 0; atomic_load(&r->running) > 0; waited += 10) {
		if (waited >= timeout_ms)
			return false;
		struct timespec ts = {0, 10 * 1000000};
		nanosleep(&ts, NULL);
	}
	for (unsigned t = 0; t < r->nloops; t++)
		if (r->loops[t].started)
			pthread_join(r->loops[t].th, NULL);
	r->joined = true;
	return true;
}

const char *
load_run_body(const struct load_run *r, uint64_t i, size_t *len)
{
	const struct load_result *x = &r->res[i];
	if (x->state != 2 || x->body_len == 0 || !r->loops[x->thread].arena) {
		*len = 0;
		return NULL;
	}
	*len = x->body_len;
	return r->loops[x->thread].arena + x->body_off;
}

/* ---- verification ---- */

struct verify_job {
	struct load_run *run;
	const struct load_verify_opts *o;
	_Atomic uint64_t next;
	atomic_int failed;
	pthread_mutex_t lock;
};

static void *
verify_worker(void *arg)
{
	struct verify_job *j = arg;
	struct load_run *run = j->run;
	const struct load_set *set = run->set;
	struct load_verifier *v = NULL;
	const char *why_first[LOAD_E_KINDS] = {NULL};
	if (load_verifier_new(&v) != 0) {
		atomic_store(&j->failed, 1);
		return NULL;
	}
	uint8_t leaf[LOAD_LEAF_MAX];
	for (;;) {
		uint64_t a = atomic_fetch_add(&j->next, 256);
		if (a >= set->n)
			break;
		uint64_t b = a + 256 < set->n ? a + 256 : set->n;
		for (uint64_t i = a; i < b; i++) {
			struct load_result *x = &run->res[i];
			if (x->state != 2 || x->err != LOAD_OK)
				continue;
			const struct load_req *q = &set->req[i];
			long ll = load_set_leaf(set, i, leaf, sizeof leaf);
			size_t blen = 0;
			const char *body = load_run_body(run, i, &blen);
			const char *why = NULL;
			struct load_sct_info info;
			enum load_verdict vd =
			        ll <= 0 ? LOAD_SCT_BAD_SIG
			                : load_sct_check(v, j->o->pub, q->precert, leaf, (size_t)ll,
			                                 set->tail[q->issuer].key_hash,
			                                 body ? body : "", blen, &info, &why);
			enum load_err e = vd == LOAD_SCT_OK           ? LOAD_OK
			                  : vd == LOAD_SCT_BAD_JSON   ? LOAD_E_BAD_JSON
			                  : vd == LOAD_SCT_BAD_LOG_ID ? LOAD_E_BAD_LOG_ID
			                                              : LOAD_E_BAD_SIG;
			x->err = (uint8_t)e;
			if (e == LOAD_OK) {
				x->has_index = info.has_index;
				x->leaf_index = info.leaf_index;
			} else if (!why_first[e]) {
				why_first[e] = why ? why : load_err_name(e);
			}
		}
	}
	load_verifier_free(v);
	pthread_mutex_lock(&j->lock);
	for (unsigned e = 0; e < LOAD_E_KINDS; e++)
		if (why_first[e] && !run->why[e])
			run->why[e] = why_first[e];
	pthread_mutex_unlock(&j->lock);
	return NULL;
}

struct index_ref {
	uint64_t index;
	uint64_t req;
};

static int
index_cmp(const void *a, const void *b)
{
	const struct index_ref *x = a, *y = b;
	if (x->index != y->index)
		return x->index < y->index ? -1 : 1;
	return x->req < y->req ? -1 : x->req > y->req;
}

int
load_run_verify(struct load_run *r, const struct load_verify_opts *o, const char **reason)
{
	if (!r->joined || r->verified) {
		*reason = "verify: the run is not over, or was verified already";
		return -EINVAL;
	}
	struct verify_job j = {.run = r, .o = o};
	pthread_mutex_init(&j.lock, NULL);
	unsigned nt = o->threads;
	if (nt == 0) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);
		nt = c < 1 ? 1 : (unsigned)c;
	}
	if (nt > VERIFY_MAX)
		nt = VERIFY_MAX;
	pthread_t th[VERIFY_MAX];
	unsigned started = 0;
	for (; started < nt; started++)
		if (pthread_create(&th[started], NULL, verify_worker, &j) != 0)
			break;
	if (started == 0)
		verify_worker(&j);
	for (unsigned t = 0; t < started; t++)
		pthread_join(th[t], NULL);
	pthread_mutex_destroy(&j.lock);
	if (atomic_load(&j.failed)) {
		*reason = "verify: out of memory";
		return -ENOMEM;
	}
	/* Every leaf_index given once: sort (index, request) and mark repeats after the first. */
	uint64_t m = 0;
	for (uint64_t i = 0; i < r->set->n; i++)
		m += r->res[i].state == 2 && r->res[i].err == LOAD_OK && r->res[i].has_index;
	struct index_ref *ix = m ? malloc(m * sizeof *ix) : NULL;
	if (m && !ix) {
		*reason = "verify: out of memory";
		return -ENOMEM;
	}
	uint64_t k = 0;
	for (uint64_t i = 0; i < r->set->n; i++)
		if (r->res[i].state == 2 && r->res[i].err == LOAD_OK && r->res[i].has_index)
			ix[k++] = (struct index_ref){r->res[i].leaf_index, i};
	if (m > 1)
		qsort(ix, m, sizeof *ix, index_cmp);
	for (uint64_t i = 1; i < m; i++) {
		if (ix[i].index == ix[i - 1].index) {
			r->res[ix[i].req].err = LOAD_E_DUP_INDEX;
			if (!r->why[LOAD_E_DUP_INDEX])
				r->why[LOAD_E_DUP_INDEX] =
				        "two SCTs of this run carry one leaf_index";
		}
	}
	free(ix);
	r->verified = true;
	return 0;
}

/* ---- the report ---- */

static int
u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t
rank(const uint64_t *v, uint64_t n, unsigned pct)
{
	uint64_t k = (n * pct + 99) / 100; /* nearest rank */
	return v[k ? k - 1 : 0];
}

int
load_run_report(const struct load_run *r, struct load_report *rep)
{
	memset(rep, 0, sizeof *rep);
	rep->verified = r->verified;
	uint64_t lat_n = 0;
	for (uint64_t i = 0; i < r->set->n; i++)
		lat_n += r->res[i].state == 2 && r->res[i].status == 200;
	uint64_t *lat = lat_n ? malloc(lat_n * sizeof *lat) : NULL;
	if (lat_n && !lat)
		return -ENOMEM;
	uint64_t k = 0;
	for (uint64_t i = 0; i < r->set->n; i++) {
		const struct load_result *x = &r->res[i];
		if (x->state != 2) {
			rep->unsent++;
			continue;
		}
		rep->requests++;
		if (x->err == LOAD_OK)
			rep->ok++;
		else
			rep->err[x->err]++;
		if (x->err == LOAD_OK && x->has_index)
			rep->with_index++;
		if (x->status == 200)
			lat[k++] = x->lat_ns;
		if (x->done_ns > rep->window_ns)
			rep->window_ns = x->done_ns;
	}
	if (lat_n) {
		qsort(lat, lat_n, sizeof *lat, u64_cmp);
		rep->lat_n = lat_n;
		rep->p50 = rank(lat, lat_n, 50);
		rep->p90 = rank(lat, lat_n, 90);
		rep->p99 = rank(lat, lat_n, 99);
		rep->max = lat[lat_n - 1];
	}
	free(lat);
	rep->ok_per_s = rep->window_ns ? (double)rep->ok * 1e9 / (double)rep->window_ns : 0;
	uint64_t first = UINT64_MAX;
	for (unsigned t = 0; t < r->nloops; t++) {
		const struct loop *l = &r->loops[t];
		if (l->first400_at && l->first400_at < first) {
			first = l->first400_at;
			memcpy(rep->first_400, l->first400, sizeof rep->first_400);
		}
	}
	for (unsigned e = 0; e < LOAD_E_KINDS; e++)
		rep->why[e] = r->why[e];
	return 0;
}
