/* net/test_h1f.c: which requests the gateway answers itself (net/h1f.h): plain HTTP/1.1 GETs,
 * and nothing that h2o would read differently (a body, a dot segment, another version or
 * method, an incomplete head, a folded or malformed header line) . */
#include <stdio.h>
#include <string.h>

#include "net/h1f.h"
#include "tests/lib/check.h"

static enum h1f_verdict
parse(const char *s, struct h1f_req *q)
{
	return h1f_parse(s, strlen(s), q);
}

static void
plain_get_is_served_with_its_path_and_head_length(void)
{
	const char *s = "GET /tile/data/x001/234 HTTP/1.1\r\nHost: 127.0.0.1:6962\r\n"
	                "User-Agent: wrk\r\nAccept-Encoding: gzip\r\n\r\n";
	struct h1f_req q;
	CHECK(parse(s, &q) == H1F_GET, "served");
	CHECK(q.path_len == strlen("/tile/data/x001/234") &&
	              memcmp(q.path, "/tile/data/x001/234", q.path_len) == 0,
	      "path");
	CHECK(q.head_len == strlen(s), "head length %zu", q.head_len);
	CHECK(q.keep_alive, "HTTP/1.1 stays open by default");
}

static void
connection_header_decides_keep_alive(void)
{
	struct h1f_req q;
	CHECK(parse("GET /a HTTP/1.1\r\nConnection: close\r\n\r\n", &q) == H1F_GET && !q.keep_alive,
	      "close");
	CHECK(parse("GET /a HTTP/1.1\r\nconnection:  Keep-Alive \r\n\r\n", &q) == H1F_GET &&
	              q.keep_alive,
	      "keep-alive, any case, spaces trimmed");
	CHECK(parse("GET /a HTTP/1.1\r\nConnection: upgrade\r\n\r\n", &q) == H1F_PASS,
	      "another connection option");
	CHECK(parse("GET /a HTTP/1.1\r\nConnection: close\r\nConnection: keep-alive\r\n\r\n", &q) ==
	              H1F_PASS,
	      "two Connection headers");
}

static void
pipelined_requests_are_taken_one_at_a_time(void)
{
	const char *one = "GET /tile/data/000 HTTP/1.1\r\nHost: x\r\n\r\n";
	char two[256];
	snprintf(two, sizeof two, "%sGET /checkpoint HTTP/1.1\r\n\r\n", one);
	struct h1f_req q;
	CHECK(parse(two, &q) == H1F_GET && q.head_len == strlen(one), "the first head only");
	CHECK(parse(two + q.head_len, &q) == H1F_GET && q.path_len == strlen("/checkpoint"),
	      "then the second");
}

static void
anything_else_goes_to_h2o(void)
{
	static const char *const pass[] = {
	        "HEAD /a HTTP/1.1\r\n\r\n",
	        "POST /a HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
	        "get /a HTTP/1.1\r\n\r\n",
	        "GET /a HTTP/1.0\r\n\r\n",
	        "GET /a HTTP/2.0\r\n\r\n",
	        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	        "GET a HTTP/1.1\r\n\r\n",
	        "GET http://x/a HTTP/1.1\r\n\r\n",
	        "GET /a?x=1 HTTP/1.1\r\n\r\n",
	        "GET /a%2f HTTP/1.1\r\n\r\n",
	        "GET //a HTTP/1.1\r\n\r\n",
	        "GET /a/./b HTTP/1.1\r\n\r\n",
	        "GET /a/../b HTTP/1.1\r\n\r\n",
	        "GET /a/. HTTP/1.1\r\n\r\n",
	        "GET /.hidden HTTP/1.1\r\n\r\n",
	        "GET /a  HTTP/1.1\r\n\r\n",
	        "GET /a HTTP/1.1\n\n",
	        "GET /a HTTP/1.1\r\nHost: x\n\r\n",
	        "GET /a HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
	        "GET /a HTTP/1.1\r\ncontent-length: 0\r\n\r\n",
	        "GET /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	        "GET /a HTTP/1.1\r\nExpect: 100-continue\r\n\r\n",
	        "GET /a HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
	        "GET /a HTTP/1.1\r\nHTTP2-Settings: AAA\r\n\r\n",
	        "GET /a HTTP/1.1\r\nTE: trailers\r\n\r\n",
	        "GET /a HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
	        "GET /a HTTP/1.1\r\nHost : x\r\n\r\n",
	        "GET /a HTTP/1.1\r\n: x\r\n\r\n",
	        "GET /a HTTP/1.1\r\nHost x\r\n\r\n",
	        "GET /a HTTP/1.1\r\nX: a\x01b\r\n\r\n",
	        "GET /a HTTP/1.1\r\nX: caf\xc3\xa9\r\n\r\n",
	        "GET /a HTTP/1.1\r\nHo\"st: x\r\n\r\n",
	        "",
	        "GET",
	};
	for (size_t i = 0; i < sizeof pass / sizeof pass[0]; i++) {
		struct h1f_req q;
		CHECK(parse(pass[i], &q) == H1F_PASS, "passed on: %s", pass[i]);
	}
	/* a NUL inside the value, which strlen() would hide */
	static const char nul[] = "GET /a HTTP/1.1\r\nX: a\0b\r\n\r\n";
	struct h1f_req q;
	CHECK(h1f_parse(nul, sizeof nul - 1, &q) == H1F_PASS, "NUL in a value");
}

static void
every_incomplete_head_goes_to_h2o(void)
{
	const char *s = "GET /tile/data/000 HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n";
	size_t n = strlen(s);
	unsigned got = 0;
	for (size_t i = 0; i < n; i++) {
		struct h1f_req q;
		got += h1f_parse(s, i, &q) == H1F_GET;
	}
	CHECK(got == 0, "%u of %zu prefixes served", got, n);
}

static void
limits_pass_oversized_requests(void)
{
	static char buf[3 * H1F_HEAD_MAX];
	struct h1f_req q;
	/* the longest path served, and one byte more */
	for (unsigned extra = 0; extra < 2; extra++) {
		size_t n = (size_t)snprintf(buf, sizeof buf, "GET /");
		for (unsigned i = 1; i < H1F_PATH_MAX + extra; i++)
			buf[n++] = 'a';
		n += (size_t)snprintf(buf + n, sizeof buf - n, " HTTP/1.1\r\n\r\n");
		CHECK(h1f_parse(buf, n, &q) == (extra ? H1F_PASS : H1F_GET), "path of %u bytes",
		      H1F_PATH_MAX + extra);
	}
	/* H1F_HEADERS_MAX header lines, and one more */
	for (unsigned extra = 0; extra < 2; extra++) {
		size_t n = (size_t)snprintf(buf, sizeof buf, "GET /a HTTP/1.1\r\n");
		for (unsigned i = 0; i < H1F_HEADERS_MAX + extra; i++)
			n += (size_t)snprintf(buf + n, sizeof buf - n, "X-%u: y\r\n", i);
		n += (size_t)snprintf(buf + n, sizeof buf - n, "\r\n");
		CHECK(h1f_parse(buf, n, &q) == (extra ? H1F_PASS : H1F_GET), "%u headers",
		      H1F_HEADERS_MAX + extra);
	}
	/* a head longer than H1F_HEAD_MAX */
	size_t n = (size_t)snprintf(buf, sizeof buf, "GET /a HTTP/1.1\r\nX: ");
	while (n < H1F_HEAD_MAX)
		buf[n++] = 'v';
	n += (size_t)snprintf(buf + n, sizeof buf - n, "\r\n\r\n");
	CHECK(h1f_parse(buf, n, &q) == H1F_PASS, "a head of %zu bytes", n);
}

int
main(void)
{
	RUN(plain_get_is_served_with_its_path_and_head_length);
	RUN(connection_header_decides_keep_alive);
	RUN(pipelined_requests_are_taken_one_at_a_time);
	RUN(anything_else_goes_to_h2o);
	RUN(every_incomplete_head_goes_to_h2o);
	RUN(limits_pass_oversized_requests);
	return check_done();
}
