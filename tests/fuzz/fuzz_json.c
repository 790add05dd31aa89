/* Fuzz target: json_parse() and the CT shapes on the same input. Invariants:
 * - a refusal is -EBADMSG or -E2BIG with a reason and an offset inside the input;
 * - accepted tokens lie inside the input and inside their parents, siblings in order and
 *   disjoint, counts and skip indices consistent, nesting within JSON_DEPTH_MAX, the root
 *   spanning the input less its surrounding whitespace; brackets, quotes and literals where
 *   the types say; a token array one short fails with -E2BIG;
 * - every string reads back (unescaped) no longer than its raw text and compares equal to
 *   itself; an unescaped string reads back as its raw text; json_u64 succeeds exactly on
 *   digit-only numbers below 2^64 and gives their value;
 * - json_chain_parse either fails with a reason and no certificates, or returns 1..16
 *   non-empty spans inside the output buffer, in order, whose base64 re-encoding is the
 *   (unescaped) string in the input, and appears verbatim in it when it has no escapes;
 * - json_sct_parse and json_sth_parse likewise: the re-encoded fields equal the input's. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "engine/b64.h"
#include "engine/json.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_JSON_MAX  (64 * 1024)
#define FUZZ_JSON_TOKS 1024

static struct json_tok tok[FUZZ_JSON_TOKS];
static struct json_tok tok2[FUZZ_JSON_TOKS];
static uint8_t buf[FUZZ_JSON_MAX + 16];
static char str[FUZZ_JSON_MAX];
static char enc[B64_ENCODED_LEN(FUZZ_JSON_MAX) + 1];

static bool
is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The span [p, p + n) lies inside buf[0..cap). */
static bool
in_buf(const uint8_t *p, size_t n, size_t cap)
{
	return p >= buf && p <= buf + cap && n <= (size_t)(buf + cap - p);
}

/* The value of member key of the root object, unescaped, equals the base64 of p[0..n); and
 * appears verbatim in the input when the input has no backslash. */
static void
check_b64_member(const struct json_doc *d, const char *key, const uint8_t *p, size_t n)
{
	uint32_t v;
	FUZZ_REQUIRE(json_obj_get(d, 0, key, &v, NULL) == 0);
	long k = json_str_read(d, v, str, sizeof str, NULL);
	size_t m = b64_encode(enc, p, n);
	FUZZ_REQUIRE(k >= 0 && (size_t)k == m && memcmp(str, enc, m) == 0);
	if (!memchr(d->text, '\\', d->len))
		FUZZ_REQUIRE(memmem(d->text, d->len, enc, m) != NULL);
}

static void
check_u64_member(const struct json_doc *d, const char *key, uint64_t want)
{
	uint32_t v;
	uint64_t got;
	FUZZ_REQUIRE(json_obj_get(d, 0, key, &v, NULL) == 0);
	FUZZ_REQUIRE(json_u64(d, v, &got, NULL) == 0 && got == want);
}

/* The number token's text, by a second method: digits only, and below 2^64 by comparison
 * with "18446744073709551615". */
static bool
ref_u64(const char *s, size_t n, uint64_t *v)
{
	static const char max[] = "18446744073709551615";
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	if (n > sizeof max - 1 || (n == sizeof max - 1 && memcmp(s, max, n) > 0))
		return false;
	*v = 0;
	for (size_t i = 0; i < n; i++)
		*v = *v * 10 + (uint64_t)(s[i] - '0');
	return true;
}

static void
check_tokens(const struct json_doc *d)
{
	const struct json_tok *t = d->tok;
	const char *s = d->text;
	FUZZ_REQUIRE(d->n >= 1 && d->n <= FUZZ_JSON_TOKS && t[0].next == d->n);
	size_t a = 0, b = d->len;
	while (a < b && is_ws(s[a]))
		a++;
	while (b > a && is_ws(s[b - 1]))
		b--;
	FUZZ_REQUIRE(t[0].start == a && t[0].end == b);

	/* Depth of each token, from a stack of open containers (bounded by JSON_DEPTH_MAX+1). */
	uint32_t open[JSON_DEPTH_MAX + 1];
	unsigned depth = 0;
	for (uint32_t i = 0; i < d->n; i++) {
		while (depth > 0 && t[open[depth - 1]].next <= i)
			depth--;
		if (depth > 0) {
			const struct json_tok *p = &t[open[depth - 1]];
			FUZZ_REQUIRE(t[i].start > p->start && t[i].end < p->end);
			FUZZ_REQUIRE(t[i].next <= p->next);
		}
		FUZZ_REQUIRE(t[i].start < t[i].end && t[i].end <= d->len);
		FUZZ_REQUIRE(t[i].next > i && t[i].next <= d->n);
		switch (t[i].type) {
		case JSON_OBJECT:
		case JSON_ARRAY: {
			bool obj = t[i].type == JSON_OBJECT;
			FUZZ_REQUIRE(s[t[i].start] == (obj ? '{' : '['));
			FUZZ_REQUIRE(s[t[i].end - 1] == (obj ? '}' : ']'));
			/* Items: follow the skip indices; they must land exactly on next. */
			uint32_t items = obj ? 2 * t[i].count : t[i].count;
			uint32_t c = i + 1, prev_end = t[i].start;
			for (uint32_t k = 0; k < items; k++) {
				FUZZ_REQUIRE(c < t[i].next);
				FUZZ_REQUIRE(t[c].start >= prev_end + 1);
				if (obj && k % 2 == 0)
					FUZZ_REQUIRE(t[c].type == JSON_STRING);
				prev_end = t[c].end;
				c = t[c].next;
			}
			FUZZ_REQUIRE(c == t[i].next);
			FUZZ_REQUIRE(depth < JSON_DEPTH_MAX);
			open[depth++] = i;
			break;
		}
		case JSON_STRING: {
			FUZZ_REQUIRE(t[i].next == i + 1 && t[i].count == 0);
			FUZZ_REQUIRE(t[i].end - t[i].start >= 2);
			FUZZ_REQUIRE(s[t[i].start] == '"' && s[t[i].end - 1] == '"');
			size_t raw = t[i].end - t[i].start - 2;
			bool esc = memchr(s + t[i].start + 1, '\\', raw) != NULL;
			FUZZ_REQUIRE(esc == ((t[i].flags & JSON_F_ESCAPED) != 0));
			long k = json_str_read(d, i, str, sizeof str, NULL);
			FUZZ_REQUIRE(k >= 0 && (size_t)k <= raw);
			if (!esc)
				FUZZ_REQUIRE((size_t)k == raw &&
				             memcmp(str, s + t[i].start + 1, raw) == 0);
			FUZZ_REQUIRE(json_str_equal(d, i, str, (size_t)k));
			if (k > 0)
				FUZZ_REQUIRE(!json_str_equal(d, i, str, (size_t)k - 1));
			break;
		}
		case JSON_NUMBER: {
			FUZZ_REQUIRE(t[i].next == i + 1 && t[i].count == 0);
			uint64_t v = 0, w = 0;
			bool ok = ref_u64(s + t[i].start, t[i].end - t[i].start, &w);
			FUZZ_REQUIRE((json_u64(d, i, &v, NULL) == 0) == ok);
			FUZZ_REQUIRE(!ok || v == w);
			break;
		}
		case JSON_TRUE:
		case JSON_FALSE:
		case JSON_NULL: {
			const char *lit = t[i].type == JSON_TRUE    ? "true"
			                  : t[i].type == JSON_FALSE ? "false"
			                                            : "null";
			FUZZ_REQUIRE(t[i].next == i + 1 && t[i].count == 0);
			FUZZ_REQUIRE(t[i].end - t[i].start == strlen(lit));
			FUZZ_REQUIRE(memcmp(s + t[i].start, lit, strlen(lit)) == 0);
			break;
		}
		default:
			FUZZ_REQUIRE(0);
		}
	}
}

static void
check_chain(const char *in, size_t size)
{
	struct json_chain chain;
	const char *why = NULL;
	size_t cap = B64_DECODED_MAX(size);
	memset(buf + cap, 0xa5, 16);
	int r = json_chain_parse(&chain, buf, cap, tok2, FUZZ_JSON_TOKS, in, size, &why);
	for (size_t i = 0; i < 16; i++)
		FUZZ_REQUIRE(buf[cap + i] == 0xa5);
	if (r < 0) {
		FUZZ_REQUIRE(why != NULL && chain.n == 0);
		FUZZ_REQUIRE(r == -EBADMSG || r == -E2BIG); /* cap always suffices */
		return;
	}
	FUZZ_REQUIRE(r == 0 && chain.n >= 1 && chain.n <= JSON_CHAIN_MAX);
	struct json_doc d;
	FUZZ_REQUIRE(json_parse(&d, tok2, FUZZ_JSON_TOKS, in, size, NULL) == 0);
	uint32_t arr;
	FUZZ_REQUIRE(json_obj_get(&d, 0, "chain", &arr, NULL) == 0);
	FUZZ_REQUIRE(d.tok[arr].type == JSON_ARRAY && d.tok[arr].count == chain.n);
	const uint8_t *prev = buf;
	uint32_t it = arr + 1;
	for (size_t i = 0; i < chain.n; i++, it = d.tok[it].next) {
		FUZZ_REQUIRE(chain.cert[i].len > 0 && chain.cert[i].p >= prev);
		FUZZ_REQUIRE(in_buf(chain.cert[i].p, chain.cert[i].len, cap));
		prev = chain.cert[i].p + chain.cert[i].len;
		long k = json_str_read(&d, it, str, sizeof str, NULL);
		size_t m = b64_encode(enc, chain.cert[i].p, chain.cert[i].len);
		FUZZ_REQUIRE(k >= 0 && (size_t)k == m && memcmp(str, enc, m) == 0);
		if (!memchr(in, '\\', size))
			FUZZ_REQUIRE(memmem(in, size, enc, m) != NULL);
	}
}

static void
check_sct(const char *in, size_t size)
{
	struct json_sct sct;
	const char *why = NULL;
	size_t cap = B64_DECODED_MAX(size);
	int r = json_sct_parse(&sct, buf, cap, tok2, FUZZ_JSON_TOKS, in, size, &why);
	if (r < 0) {
		FUZZ_REQUIRE(why != NULL && sct.sig.p == NULL && sct.timestamp == 0);
		return;
	}
	FUZZ_REQUIRE(sct.version == 0 && sct.ext.len <= JSON_SCT_EXT_MAX);
	FUZZ_REQUIRE(in_buf(sct.ext.p, sct.ext.len, cap) && in_buf(sct.sig.p, sct.sig.len, cap));
	FUZZ_REQUIRE(sct.sig.p >= sct.ext.p + sct.ext.len);
	FUZZ_REQUIRE(sct.sig.len >= 4 && sct.sig.len == 4u + (sct.sig.p[2] << 8 | sct.sig.p[3]));
	struct json_doc d;
	FUZZ_REQUIRE(json_parse(&d, tok2, FUZZ_JSON_TOKS, in, size, NULL) == 0);
	check_b64_member(&d, "id", sct.id, sizeof sct.id);
	check_b64_member(&d, "extensions", sct.ext.p, sct.ext.len);
	check_b64_member(&d, "signature", sct.sig.p, sct.sig.len);
	check_u64_member(&d, "timestamp", sct.timestamp);
	check_u64_member(&d, "sct_version", 0);
}

static void
check_sth(const char *in, size_t size)
{
	struct json_sth sth;
	const char *why = NULL;
	size_t cap = B64_DECODED_MAX(size);
	int r = json_sth_parse(&sth, buf, cap, tok2, FUZZ_JSON_TOKS, in, size, &why);
	if (r < 0) {
		FUZZ_REQUIRE(why != NULL && sth.sig.p == NULL && sth.tree_size == 0);
		return;
	}
	FUZZ_REQUIRE(in_buf(sth.sig.p, sth.sig.len, cap));
	FUZZ_REQUIRE(sth.sig.len >= 4 && sth.sig.len == 4u + (sth.sig.p[2] << 8 | sth.sig.p[3]));
	struct json_doc d;
	FUZZ_REQUIRE(json_parse(&d, tok2, FUZZ_JSON_TOKS, in, size, NULL) == 0);
	check_b64_member(&d, "sha256_root_hash", sth.root, sizeof sth.root);
	check_b64_member(&d, "tree_head_signature", sth.sig.p, sth.sig.len);
	check_u64_member(&d, "tree_size", sth.tree_size);
	check_u64_member(&d, "timestamp", sth.timestamp);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FUZZ_JSON_MAX)
		return 0;
	const char *in = (const char *)data;
	struct json_doc d;
	const char *why = NULL;
	int r = json_parse(&d, tok, FUZZ_JSON_TOKS, in, size, &why);
	if (r < 0) {
		FUZZ_REQUIRE(r == -EBADMSG || r == -E2BIG);
		FUZZ_REQUIRE(why != NULL && d.n == 0 && d.error_at <= size);
	} else {
		FUZZ_REQUIRE(r == 0);
		check_tokens(&d);
		/* One token short: the same walk, stopped at the last token. */
		struct json_doc d2;
		why = NULL;
		r = json_parse(&d2, tok2, d.n - 1, in, size, &why);
		FUZZ_REQUIRE(r == -E2BIG && why && strcmp(why, "too many JSON values") == 0);
	}
	check_chain(in, size);
	check_sct(in, size);
	check_sth(in, size);
	return 0;
}
