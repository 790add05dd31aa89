/* tools/load_client.h: the sending half of `birch load`: HTTP/1.1 clients that send a
 * load_set's prebuilt requests to any RFC 6962 log over keep-alive connections, at a fixed
 * concurrency (closed loop) or a fixed rate (open loop), keep every answer, and check the
 * answers after the timed window.
 *
 * The run: `threads` event loops (epoll, non-blocking sockets), each owning its share of the
 * connections; a connection carries one request at a time, is opened when it first gets a
 * request and reopened after the server closes it, a timeout or an error. A request written on
 * a reused connection that the server had closed before answering (the keep-alive race) is
 * sent once more on a new connection. Closed loop: each of `concurrency` connections sends
 * its next request as soon as the last is answered. Open loop: request i is due at start +
 * i / rate (thread k sends the requests i = k mod threads); a due request waits for a free
 * connection, its latency counts from when it was due (so a stalled server cannot hide
 * queueing), and one still waiting `timeout` after it was due is counted as a timeout
 * without being sent.
 *
 * Contract:
 * - Tool code: allocates at start (results, connection buffers, one body arena per thread
 *   that grows by doubling) and nothing per request otherwise; never prints.
 * - load_run_start() starts the threads; load_run_progress() and load_run_stop() may be called
 *   from any thread while it runs; load_run_wait() and everything after it belong to the
 *   thread that started it. The load_set and the target must outlive the run.
 * - Errors: 0 or a negative errno with *reason (a static string).
 */
#ifndef BIRCH_TOOLS_LOAD_CLIENT_H
#define BIRCH_TOOLS_LOAD_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "tools/load_mint.h"

struct ctsig_pub;

/* The log: "http://HOST[:PORT][/prefix]", HOST a name, an IPv4 address or [IPv6]. */
struct load_target {
	struct sockaddr_storage addr;
	socklen_t addr_len;
	char host[LOAD_HOST_MAX + 1];     /* the Host header: as in the URL, with the port */
	char prefix[LOAD_PREFIX_MAX + 1]; /* "" or "/name", without a trailing slash */
};

/* Parses and resolves (getaddrinfo, the first address) the URL. 0 or -EINVAL with *reason. */
__attribute__((warn_unused_result)) int load_target_parse(struct load_target *t, const char *url,
                                                          const char **reason);

/* What became of a request. */
enum load_err {
	LOAD_OK = 0,       /* a verified SCT (or, before verification, an HTTP 200) */
	LOAD_E_CONNECT,    /* the connection could not be made */
	LOAD_E_TIMEOUT,    /* no complete answer within the timeout */
	LOAD_E_CLOSED,     /* closed or reset mid-request, or a malformed or oversized answer */
	LOAD_E_HTTP_400,   /* the log refused the chain */
	LOAD_E_HTTP_503,   /* the log was overloaded */
	LOAD_E_HTTP_OTHER, /* any other status */
	LOAD_E_BAD_JSON,   /* 200 with a body that is not an SCT response */
	LOAD_E_BAD_LOG_ID, /* an SCT from another log key */
	LOAD_E_BAD_SIG,    /* an SCT whose signature does not cover the chain sent */
	LOAD_E_DUP_INDEX,  /* a leaf_index already given to another of this run's requests */
	LOAD_E_KINDS,
};

/* "connect", "timeout", "closed", "http_400", "http_503", "http_other", "bad_json",
 * "bad_log_id", "bad_signature", "duplicate_index". */
const char *load_err_name(enum load_err e);

struct load_run_opts {
	const struct load_target *target;
	unsigned concurrency; /* closed loop: requests in flight; 0 with rate > 0 */
	uint64_t rate;        /* open loop: requests per second; 0 for closed loop */
	unsigned connections; /* at least concurrency; open loop: the most requests in flight */
	unsigned threads;     /* event loops: 1..255, at most connections (and concurrency) */
	uint64_t duration_ns; /* closed loop: stop sending after this (0: send every request) */
	uint64_t timeout_ns;  /* per request */
};

struct load_progress {
	uint64_t sent;     /* requests handed to a connection (or failed before) */
	uint64_t answered; /* requests finished: answered or failed */
	uint64_t http_200;
	uint64_t failed; /* finished without a 200 */
};

struct load_run;

__attribute__((warn_unused_result)) int load_run_start(struct load_run **out,
                                                       const struct load_set *set,
                                                       const struct load_run_opts *o,
                                                       const char **reason);
/* Sums the threads' live counters (relaxed reads). */
void load_run_progress(const struct load_run *r, struct load_progress *p);
/* No new requests are sent; those in flight finish or time out. */
void load_run_stop(struct load_run *r);
/* Waits up to timeout_ms for every thread to finish; true when they have (and are joined). */
bool load_run_wait(struct load_run *r, unsigned timeout_ms);
void load_run_free(struct load_run *r);

/* The response body kept for request i (NULL when none), after load_run_wait(). */
const char *load_run_body(const struct load_run *r, uint64_t i, size_t *len);

struct load_verify_opts {
	const struct ctsig_pub *pub;
	unsigned threads; /* 0: one per online CPU */
};

/* Checks every HTTP 200 answer (load_sct_check) with `threads` threads, then that the
 * leaf indexes are distinct; failures become LOAD_E_BAD_* and LOAD_E_DUP_INDEX. Call once,
 * after load_run_wait(). */
__attribute__((warn_unused_result)) int
load_run_verify(struct load_run *r, const struct load_verify_opts *o, const char **reason);

struct load_report {
	uint64_t requests;             /* sent */
	uint64_t unsent;               /* minted but never sent (duration over, or stopped) */
	uint64_t ok;                   /* verified SCTs (HTTP 200 before load_run_verify) */
	uint64_t err[LOAD_E_KINDS];    /* err[LOAD_OK] unused */
	char first_400[160];           /* the first 400 answer's body, one line */
	const char *why[LOAD_E_KINDS]; /* the first reason seen for each verification failure */
	uint64_t window_ns;            /* start to the last answer */
	double ok_per_s;
	uint64_t lat_n; /* latencies of HTTP 200 answers, ns */
	uint64_t p50, p90, p99, max;
	uint64_t with_index; /* SCTs that carried leaf_index (static-ct-api) */
	bool verified;       /* load_run_verify ran */
};

/* Sums up the run (allocates a latency array briefly). */
__attribute__((warn_unused_result)) int load_run_report(const struct load_run *r,
                                                        struct load_report *rep);

#endif
