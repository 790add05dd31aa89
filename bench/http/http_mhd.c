/* bench/http/http_mhd.c: the gateway's pattern on GNU libmicrohttpd 0.9.75, for
 * bench/http/compare.sh: one internal epoll thread; POST /ct/v1/add-chain is buffered, then
 * the connection is suspended (MHD_suspend_connection) and the request handed to a worker
 * thread, which "completes" it and calls MHD_resume_connection (MHD wakes its thread through
 * its inter-thread channel); the access handler, called again, queues the answer. GET
 * /static: a 4 KB body. Usage: http_mhd PORT [SPIN_US]. Not part of the build (see
 * compare.sh).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#define MAX_BODY (512 * 1024)
#define QCAP     4096

struct pending {
	struct MHD_Connection *conn;
	size_t body_len, cl;
	atomic_int done; /* the worker has completed it */
	int submitted;
	char *body;
};

static unsigned spin_us;
static struct pending get_marker; /* *con_cls of a GET between its two calls */
static char static_body[4096];
static struct MHD_Response *static_resp, *sct_resp, *e413_resp, *e404_resp;

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
		atomic_store(&p->done, 1);
		MHD_resume_connection(p->conn);
	}
	return NULL;
}

static enum MHD_Result
on_req(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
       const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	(void)cls;
	(void)version;
	if (strcmp(method, "GET") == 0) {
		/* The usual MHD idiom: the first call only sees the headers; answering in it
		 * makes 0.9.75 close the connection after the response (no keep-alive). */
		if (*con_cls == NULL) {
			*con_cls = &get_marker;
			return MHD_YES;
		}
		*con_cls = NULL;
		if (strcmp(url, "/static") == 0)
			return MHD_queue_response(conn, MHD_HTTP_OK, static_resp);
		return MHD_queue_response(conn, MHD_HTTP_NOT_FOUND, e404_resp);
	}
	if (strcmp(method, "POST") != 0 || strcmp(url, "/ct/v1/add-chain") != 0)
		return MHD_queue_response(conn, MHD_HTTP_NOT_FOUND, e404_resp);

	struct pending *p = *con_cls;
	if (p == NULL) {
		/* First call: headers only. A declared body over the limit is refused before it
		 * is read (MHD then closes the connection). */
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		                                             MHD_HTTP_HEADER_CONTENT_LENGTH);
		size_t n = cl ? strtoul(cl, NULL, 10) : 0;
		if (n > MAX_BODY)
			return MHD_queue_response(conn, MHD_HTTP_CONTENT_TOO_LARGE, e413_resp);
		p = calloc(1, sizeof *p);
		if (p == NULL)
			return MHD_NO;
		p->cl = n;
		p->body = malloc(n ? n : 1);
		if (p->body == NULL) {
			free(p);
			return MHD_NO;
		}
		p->conn = conn;
		*con_cls = p;
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		if (p->body_len + *upload_data_size > p->cl)
			return MHD_queue_response(conn, MHD_HTTP_CONTENT_TOO_LARGE, e413_resp);
		memcpy(p->body + p->body_len, upload_data, *upload_data_size);
		p->body_len += *upload_data_size;
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (!p->submitted) {
		p->submitted = 1;
		pthread_mutex_lock(&q_mu);
		q[q_head++ % QCAP] = p;
		pthread_cond_signal(&q_cv);
		pthread_mutex_unlock(&q_mu);
		MHD_suspend_connection(conn);
		return MHD_YES;
	}
	if (!atomic_load(&p->done))
		return MHD_YES; /* not possible: resumed only once done */
	return MHD_queue_response(conn, MHD_HTTP_OK, sct_resp);
}

static void
on_done(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode t)
{
	(void)cls;
	(void)conn;
	(void)t;
	struct pending *p = *con_cls;
	if (p != NULL && p != &get_marker) {
		free(p->body);
		free(p);
		*con_cls = NULL;
	}
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: http_mhd PORT [SPIN_US]\n");
		return 2;
	}
	int port = atoi(argv[1]);
	spin_us = argc > 2 ? (unsigned)atoi(argv[2]) : 0;
	memset(static_body, 'x', sizeof static_body);
	static const char sct[] = "{\"sct_version\":0,\"id\":\"AAAA\",\"timestamp\":1,"
	                          "\"extensions\":\"\",\"signature\":\"BAMARzBF\"}";
	static_resp = MHD_create_response_from_buffer(sizeof static_body, static_body,
	                                              MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(static_resp, "Content-Type", "application/octet-stream");
	sct_resp = MHD_create_response_from_buffer(sizeof sct - 1, (void *)sct,
	                                           MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(sct_resp, "Content-Type", "application/json");
	e413_resp = MHD_create_response_from_buffer(15, (void *)"body too large\n",
	                                            MHD_RESPMEM_PERSISTENT);
	e404_resp =
	        MHD_create_response_from_buffer(10, (void *)"not found\n", MHD_RESPMEM_PERSISTENT);

	pthread_t t;
	pthread_create(&t, NULL, worker, NULL);
	struct MHD_Daemon *d = MHD_start_daemon(
	        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO |
	                MHD_USE_ERROR_LOG,
	        (uint16_t)port, NULL, NULL, on_req, NULL, MHD_OPTION_NOTIFY_COMPLETED, on_done,
	        NULL, MHD_OPTION_CONNECTION_LIMIT, 1024u, MHD_OPTION_END);
	if (d == NULL) {
		fprintf(stderr, "MHD_start_daemon failed\n");
		return 1;
	}
	for (;;)
		pause();
}
