/* net/rd.h: the read path: the RFC 6962 read API and the C2SP static-ct-api, answered from a
 * shard's tiles, signed heads and issuers (engine/tlog.h, storage/store.h). No HTTP library
 * here: the gateway hands over a path and a query string and sends what rd_get() fills in.
 *
 * Endpoints, relative to the shard's prefix:
 *   GET /ct/v1/get-sth                                   the latest signed tree head
 *   GET /ct/v1/get-sth-consistency?first=M&second=N      RFC 6962 PROOF(M, D[N])
 *   GET /ct/v1/get-proof-by-hash?hash=B64&tree_size=N    the leaf's index and audit path
 *   GET /ct/v1/get-entries?start=A&end=B                 at most RD_ENTRIES_MAX entries
 *   GET /ct/v1/get-entry-and-proof?leaf_index=I&tree_size=N
 *   GET /checkpoint                                      the signed note
 *   GET /tile/<L>/<N>[.p/<W>], /tile/data/<N>[.p/<W>]    tiles (static-ct-api levels 0..5)
 *   GET /issuer/<64 hex digits>                          an issuer certificate (DER)
 *
 * What a reader sees is the tree of the latest signed head (the published size): proofs,
 * entries and tiles beyond it are refused (400 for the JSON API; 404 for a tile), even when
 * they are committed already, so nothing unpublished is ever cached by a client or a CDN.
 *
 * Contract
 * - One struct rd per thread (the gateway's threads each open their own); rd_open() may run on
 *   another thread before the first rd_get(). The tlogs are borrowed and outlive the rd; their
 *   writers keep writing meanwhile (every read goes through this rd's own tlog readers).
 * - rd_get() answers every request with a status: 200, 400 with a one-line reason for a bad
 *   parameter, 404 for what does not exist (in the published tree), 405 for a method other
 *   than GET or HEAD on a read path, 503 when the store cannot be read. The body is borrowed
 *   from the rd until its next call.
 * - Memory: an rd holds one response buffer grown to the largest answer, bounded by
 *   RD_BODY_MAX (get-entries stops early rather than pass it; RFC 6962 allows fewer entries
 *   than asked for), a tile cache of at most tile_cache_bytes (full tiles, which never
 *   change once the published tree covers them, least recently used out first; one tile is
 *   at most an eighth of it), and each tlog reader's expanded-tile cache (engine/tlog.h). A
 *   tile the cache drops while answers still send it lives until their rd_release(). Nothing
 *   else is allocated per request, except a cache miss's tile.
 * - Errors: rd_open() returns 0 or -errno.
 */
#ifndef BIRCH_NET_RD_H
#define BIRCH_NET_RD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/tlog.h"

#define RD_ENTRIES_MAX 1000        /* get-entries: most entries in one answer */
#define RD_BODY_MAX    (32u << 20) /* get-entries: stop before the JSON passes this */

struct rd;

/* tile_cache_bytes: room for full tiles kept in memory (0: none). */
__attribute__((warn_unused_result)) int rd_open(struct rd **out, struct tlog *const *logs,
                                                unsigned n, size_t tile_cache_bytes);
void rd_close(struct rd *r);

struct rd_hold;

struct rd_resp {
	int status;
	const char *content_type;  /* static */
	const char *cache_control; /* static; NULL: none */
	const uint8_t *body;       /* borrowed until the next rd_get() on this rd, or with hold
	                              until rd_release(hold) */
	size_t len;
	struct rd_hold *hold; /* non-NULL: the caller must call rd_release(hold) once */
};

/* Lets go of a held body (a full tile from the tile cache, shared by the answers in flight
 * that send it). On the rd's thread, before or after rd_close(). */
void rd_release(struct rd_hold *h);

/* True when `path` (relative to the shard's prefix, without the query) is a read endpoint of
 * this module; the caller answers 404 for anything else. */
bool rd_is_read_path(const char *path, size_t len);

/* Answers `method path?query` for shard `shard` (< n). `get` is true for GET and HEAD (the
 * caller drops the body for HEAD). Call only where rd_is_read_path(path) holds. */
void rd_get(struct rd *r, unsigned shard, bool get, const char *path, size_t plen,
            const char *query, size_t qlen, struct rd_resp *out);

/* The full data tile at `path` (as for rd_get(), shard `shard`) as an open file, for a caller
 * that sends it with sendfile(2) (at explicit offsets: the descriptor may be shared). When
 * rd_get() would answer 200 with this tile, fills *f and returns 0; the caller sends f->len
 * bytes of f->fd and then calls rd_file_release() once. The answer's headers are
 * RD_TILE_CONTENT_TYPE and RD_TILE_IMMUTABLE. Anything else (another endpoint, a partial
 * tile, a tile beyond the published tree, no head yet, a read error) returns a negative
 * errno, and rd_get() gives the answer. The rd keeps up to RD_FILES tiles open (least
 * recently used closed first, never one still being sent); the file never changes once the
 * published tree covers the tile. */
#define RD_FILES 64
struct rd_file {
	int fd;
	uint64_t len;
	int slot; /* the rd's; -1: not kept (rd_file_release closes it) */
};
int rd_data_tile_file(struct rd *r, unsigned shard, const char *path, size_t plen,
                      struct rd_file *f);
/* On the rd's thread, before rd_close(). */
void rd_file_release(struct rd *r, const struct rd_file *f);
#define RD_TILE_CONTENT_TYPE "application/octet-stream"
#define RD_TILE_IMMUTABLE    "public, max-age=31536000, immutable"

/* Counters since rd_open(), for /metrics: answers by endpoint and status class. */
enum rd_endpoint {
	RD_EP_GET_STH,
	RD_EP_GET_STH_CONSISTENCY,
	RD_EP_GET_PROOF_BY_HASH,
	RD_EP_GET_ENTRIES,
	RD_EP_GET_ENTRY_AND_PROOF,
	RD_EP_CHECKPOINT,
	RD_EP_TILE,
	RD_EP_DATA_TILE,
	RD_EP_ISSUER,
	RD_EP_N
};
extern const char *const rd_endpoint_name[RD_EP_N];
/* The endpoint `path` names, or RD_EP_N when it is not a read path. */
enum rd_endpoint rd_endpoint_of(const char *path, size_t len);

#endif
