/* net/gw.h: the HTTP gateway: HTTP/1.1 with keep-alive on the configured listen addresses,
 * routing each request to a shard by URL prefix.
 *
 * Endpoints, under each shard's prefix ("" or "/name"):
 *   POST /ct/v1/add-chain, POST /ct/v1/add-pre-chain: the body goes to the pipeline in a
 *        struct req (net/req.h) and the answer comes back through gw_complete();
 *   GET  /ct/v1/get-roots: the shard's pre-rendered JSON;
 *   GET  the read path (net/rd.h: get-sth, proofs, entries, checkpoint, tiles, issuers),
 *        answered on the gateway thread itself from the shard's tlog;
 *   GET  /log.v3.json: the shard's entry in a Chrome v3 log list (pre-rendered);
 *   GET  /metrics (not under a prefix): Prometheus text, see gw_config.metrics;
 *   GET  other paths: 404.
 * Status codes the gateway decides itself: 404 (no such path or shard), 405 (wrong method,
 * with Allow), 413 (body over max_body; the body is not buffered past the limit), 503 with
 * Retry-After (no free slot, a full ring, or draining), 403 for add-* on a read-only shard,
 * 400 for a malformed HTTP request.
 * Error bodies are text/plain, one line: the reason.
 *
 * Threads: gw_start() starts `threads` event-loop threads (the gateway's own, not lcores; they
 * sleep in the kernel when idle). gw_complete() may be called from any thread; the response is
 * written by the gateway thread that owns the connection (r->gw_thread), which then returns
 * the slot with req_put(). gw_drain() and gw_stop() are for the thread that called gw_start().
 *
 * Memory: at most max_connections connections, each buffering at most max_body bytes of
 * request body; a slot is taken from the pipeline only once a body is complete.
 *
 * Errors: gw_start() returns 0 or -errno with a one-line message in err naming the address
 * or setting at fault ("127.0.0.1:6962: Address already in use").
 */
#ifndef BIRCH_NET_GW_H
#define BIRCH_NET_GW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/config.h"
#include "net/req.h"

struct tlog;
struct metrics_out;

struct gw;

struct gw_shard {
	const char *prefix;     /* "" or "/name" (net/config.h) */
	const char *roots_json; /* the get-roots body, borrowed for the gateway's life */
	size_t roots_json_len;
	bool read_only;       /* add-* answer 403 "log is read-only" */
	const char *log_json; /* the /log.v3.json body, borrowed likewise; NULL: 404 */
	size_t log_json_len;
};

/* The pipeline as the gateway sees it. All three are called on gateway threads. */
struct gw_pipeline {
	/* A free slot of the shard, or NULL when the shard's pool is exhausted (503). */
	struct req *(*req_get)(void *ctx, unsigned shard);
	/* Hands a filled slot to admission: 0, or -ENOBUFS when the ring is full (the gateway
	 * answers 503 and puts the slot back). */
	int (*submit)(void *ctx, struct req *r);
	void (*req_put)(void *ctx, struct req *r);
	void *ctx;
};

struct gw_config {
	const struct config_listen *listen;
	unsigned nlisten;
	unsigned threads;
	unsigned max_connections;
	size_t max_body;
	const struct gw_shard *shards;
	unsigned nshards;
	struct gw_pipeline pipe;
	unsigned retry_after; /* seconds in 503 answers; 0: 1 */
	/* The read path (net/rd.h): one tlog per shard, borrowed for the gateway's life and read
	 * through each thread's own readers. NULL: read paths answer 404 (tests of the write
	 * side alone). */
	struct tlog *const *read_logs;
	size_t tile_cache_bytes; /* per gateway thread (net/rd.h); 0: none */
	/* /metrics: the gateway writes its own series (requests, latency and refusals by
	 * endpoint, connections), then calls this, on a gateway thread, for the rest. NULL: none.
	 */
	void (*metrics)(void *ctx, struct metrics_out *o);
	void *metrics_ctx;
	/* /log.v3.json: called once per shard by gw_start() once the listeners are bound (port:
	 * the first listener's), with metrics_ctx; the JSON is borrowed for the gateway's life.
	 * NULL: gw_shard.log_json is used. */
	void (*log_json)(void *ctx, unsigned shard, uint16_t port, const char **json, size_t *len);
};

__attribute__((warn_unused_result)) int gw_start(struct gw **out, const struct gw_config *c,
                                                 char *err, size_t err_len);
/* The port listener i is bound to (useful with port 0). */
uint16_t gw_port(const struct gw *g, unsigned i);
/* r's completion fields are set: send the answer. Any thread, but never once gw_stop() has
 * begun (stop the pipeline first); gw_stop() answers what is still pending 503 "stopping"
 * and leaves those slots with the pipeline. */
void gw_complete(struct gw *g, struct req *r);
/* Stops accepting connections and answers new submissions 503 ("draining"), then waits up to
 * timeout_ms until no submission is in flight. Returns the number still in flight. */
unsigned gw_drain(struct gw *g, unsigned timeout_ms);
/* Closes every connection and joins the threads. NULL is fine. */
void gw_stop(struct gw *g);

struct gw_stats {
	uint64_t requests, responses[6]; /* by class: [1] 1xx ... [5] 5xx */
	uint64_t connections_open, connections_total;
};
void gw_stats_get(const struct gw *g, struct gw_stats *out);

#endif
