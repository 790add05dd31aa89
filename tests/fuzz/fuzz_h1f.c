/* Fuzz target: h1f_parse(). Invariants: reads only the input (ASan); when it serves a request,
 * the input begins "GET /", the head lies within the input and H1F_HEAD_MAX and ends with an
 * empty line, the path lies inside the request line and has no byte outside [A-Za-z0-9_./-],
 * no "//" and no "/."; no strict prefix of that head is served; and the head alone parses to
 * the same request. */
#include <stdint.h>
#include <string.h>

#include "net/h1f.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct h1f_req q;
	if (h1f_parse(s, size, &q) != H1F_GET)
		return 0;
	FUZZ_REQUIRE(size >= 5 && memcmp(s, "GET /", 5) == 0);
	FUZZ_REQUIRE(q.head_len <= size && q.head_len <= H1F_HEAD_MAX && q.head_len >= 4);
	FUZZ_REQUIRE(memcmp(s + q.head_len - 4, "\r\n\r\n", 4) == 0);
	FUZZ_REQUIRE(q.path == s + 4 && q.path_len >= 1 && q.path_len <= H1F_PATH_MAX);
	FUZZ_REQUIRE(q.path_len + 4 + 11 <= q.head_len);
	for (size_t i = 0; i < q.path_len; i++) {
		char c = q.path[i];
		FUZZ_REQUIRE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		             (c >= 'A' && c <= 'Z') || c == '_' || c == '.' || c == '/' ||
		             c == '-');
		if (i > 0 && q.path[i - 1] == '/')
			FUZZ_REQUIRE(c != '/' && c != '.');
	}
	struct h1f_req again;
	for (size_t cut = q.head_len > 64 ? q.head_len - 64 : 0; cut < q.head_len; cut++)
		FUZZ_REQUIRE(h1f_parse(s, cut, &again) == H1F_PASS);
	FUZZ_REQUIRE(h1f_parse(s, q.head_len, &again) == H1F_GET);
	FUZZ_REQUIRE(again.head_len == q.head_len && again.path == q.path &&
	             again.path_len == q.path_len && again.keep_alive == q.keep_alive);
	return 0;
}
