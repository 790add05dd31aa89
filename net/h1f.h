/* net/h1f.h: picks out the plain HTTP/1.1 GET requests the gateway may answer itself, ahead
 * of h2o, so that it can send a full data tile with sendfile(2) (h2o 2.2.5 writes every body
 * from memory; the copy into the socket was the largest cost of serving data tiles). Anything
 * this module does not fully understand goes to h2o unread, and h2o answers it as before.
 *
 * Contract
 * - h1f_parse() looks at the bytes a connection has received so far and says H1F_GET when
 *   they begin with one complete request that is exactly:
 *     GET <path> HTTP/1.1 CRLF, header lines "name: value" CRLF, an empty line (CRLF),
 *   the whole head at most H1F_HEAD_MAX bytes and H1F_HEADERS_MAX header lines, where
 *   - <path> is "/" and then only [A-Za-z0-9_./-], with no "//" and no "/." (no dot
 *     segment, so h2o's normalised path is the path itself), at most H1F_PATH_MAX bytes;
 *   - every header name is a token (RFC 9110) and every value visible ASCII, space or tab;
 *   - no header that frames a body or changes the connection: Content-Length,
 *     Transfer-Encoding, Expect, Upgrade, HTTP2-Settings, TE; Connection only as
 *     "keep-alive" or "close".
 *   Anything else, complete or not, is H1F_PASS: the caller hands the bytes to h2o as they
 *   are, and h2o waits for more, answers 400, or serves the request.
 * - On H1F_GET, out has the path (pointing into buf), the head's length (the bytes to consume
 *   once answered) and whether the connection stays open afterwards (HTTP/1.1's default,
 *   unless "Connection: close").
 * - Pure: no allocation, no I/O; reads at most len bytes of buf. Fuzzed (fuzz.h1f). */
#ifndef BIRCH_NET_H1F_H
#define BIRCH_NET_H1F_H

#include <stdbool.h>
#include <stddef.h>

#define H1F_HEAD_MAX    4096
#define H1F_HEADERS_MAX 64
#define H1F_PATH_MAX    512

enum h1f_verdict { H1F_PASS, H1F_GET };

struct h1f_req {
	const char *path;
	size_t path_len;
	size_t head_len;
	bool keep_alive;
};

enum h1f_verdict h1f_parse(const char *buf, size_t len, struct h1f_req *out);

#endif
