/* bench/http/http_h2o.c: the gateway's pattern on h2o 2.2.5 (libh2o-evloop), for
 * bench/http/compare.sh: one event-loop thread; POST /ct/v1/add-chain is handed to a worker
 * thread, which "completes" it and sends it back to the loop through an
 * h2o_multithread_receiver (a pipe the loop polls); the loop then answers. GET /static: a
 * 4 KB body. Usage: http_h2o PORT [SPIN_US]. Not part of the build (see compare.sh).
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define H2O_USE_LIBUV 0 /* the evloop build; its .pc file does not say so */
#include <h2o.h>

#define MAX_BODY (512 * 1024)
#define QCAP     4096 /* pending submissions, power of two; more than wrk's connections */

struct pending {
	h2o_multithread_message_t msg; /* first: the receiver gets a list of these */
	h2o_req_t *req;
	size_t body_len;
};

static h2o_globalconf_t config;
static h2o_context_t ctx;
static h2o_accept_ctx_t accept_ctx;
static h2o_multithread_receiver_t done_receiver;
static unsigned spin_us;
static char static_body[4096];

/* loop -> worker: a mutex and a condition variable around a ring of pointers */
static pthread_mutex_t q_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_cv = PTHREAD_COND_INITIALIZER;
static struct pending *q[QCAP];
static unsigned q_head, q_tail;

static void
spin(unsigned us)
{
	if (us == 0)
		return;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	do
		clock_gettime(CLOCK_MONOTONIC, &b);
	while ((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) < (long)us * 1000);
}

static void *
worker(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_mutex_lock(&q_mu);
		while (q_head == q_tail)
			pthread_cond_wait(&q_cv, &q_mu);
		struct pending *p = q[q_tail++ % QCAP];
		pthread_mutex_unlock(&q_mu);
		spin(spin_us);
		h2o_multithread_send_message(&done_receiver, &p->msg);
	}
	return NULL;
}

static void
on_done(h2o_multithread_receiver_t *recv, h2o_linklist_t *messages)
{
	(void)recv;
	while (!h2o_linklist_is_empty(messages)) {
		struct pending *p =
		        H2O_STRUCT_FROM_MEMBER(struct pending, msg.link, messages->next);
		h2o_linklist_unlink(&p->msg.link);
		static const char sct[] = "{\"sct_version\":0,\"id\":\"AAAA\",\"timestamp\":1,"
		                          "\"extensions\":\"\",\"signature\":\"BAMARzBF\"}";
		h2o_req_t *req = p->req;
		req->res.status = 200;
		req->res.reason = "OK";
		h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
		               H2O_STRLIT("application/json"));
		req->res.content_length = sizeof sct - 1;
		h2o_send_inline(req, sct, sizeof sct - 1);
	}
}

static int
on_req(h2o_handler_t *self, h2o_req_t *req)
{
	(void)self;
	if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST")) &&
	    h2o_memis(req->path_normalized.base, req->path_normalized.len,
	              H2O_STRLIT("/ct/v1/add-chain"))) {
		struct pending *p = h2o_mem_alloc_pool(&req->pool, sizeof *p);
		memset(p, 0, sizeof *p);
		p->req = req;
		p->body_len = req->entity.len;
		pthread_mutex_lock(&q_mu);
		if (q_head - q_tail == QCAP) {
			pthread_mutex_unlock(&q_mu);
			h2o_send_error_503(req, "Service Unavailable", "full\n", 0);
			return 0;
		}
		q[q_head++ % QCAP] = p;
		pthread_cond_signal(&q_cv);
		pthread_mutex_unlock(&q_mu);
		return 0;
	}
	if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
	    h2o_memis(req->path_normalized.base, req->path_normalized.len, H2O_STRLIT("/static"))) {
		req->res.status = 200;
		req->res.reason = "OK";
		h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
		               H2O_STRLIT("application/octet-stream"));
		req->res.content_length = sizeof static_body;
		h2o_send_inline(req, static_body, sizeof static_body);
		return 0;
	}
	h2o_send_error_404(req, "Not Found", "not found\n", 0);
	return 0;
}

static void
on_accept(h2o_socket_t *listener, const char *err)
{
	if (err != NULL)
		return;
	for (int i = 0; i < 64; i++) {
		h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
		if (sock == NULL)
			return;
		h2o_accept(&accept_ctx, sock);
	}
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: http_h2o PORT [SPIN_US]\n");
		return 2;
	}
	int port = atoi(argv[1]);
	spin_us = argc > 2 ? (unsigned)atoi(argv[2]) : 0;
	memset(static_body, 'x', sizeof static_body);

	h2o_config_init(&config);
	config.max_request_entity_size = MAX_BODY;
	config.server_name = h2o_iovec_init(H2O_STRLIT("bench"));
	h2o_hostconf_t *host =
	        h2o_config_register_host(&config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
	h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
	h2o_handler_t *h = h2o_create_handler(path, sizeof *h);
	h->on_req = on_req;

	h2o_evloop_t *loop = h2o_evloop_create();
	h2o_context_init(&ctx, loop, &config);
	accept_ctx.ctx = &ctx;
	accept_ctx.hosts = config.hosts;
	h2o_multithread_register_receiver(ctx.queue, &done_receiver, on_done);

	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 1024) != 0) {
		perror("bind/listen");
		return 1;
	}
	h2o_socket_t *ls = h2o_evloop_socket_create(loop, fd, H2O_SOCKET_FLAG_DONT_READ);
	h2o_socket_read_start(ls, on_accept);

	pthread_t t;
	pthread_create(&t, NULL, worker, NULL);
	for (;;)
		h2o_evloop_run(loop, INT32_MAX);
}
