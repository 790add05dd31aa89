/* engine/test_json.c: the strict JSON tokenizer against RFC 8259 cases in the style of
 * JSONTestSuite (y_ accepted, n_ refused with their reason), its helpers, and the CT shapes on
 * bodies built from the vectors: add-chain from PEM chains (OpenSSL reads and base64-encodes
 * them, independently of engine/b64.c), the SCT from test-cert.proof and the
 * signatures_test_vectors SCT, the STH from real get-sth responses. Every input is placed
 * against a guard page so any read past its end crashes. */
#include <errno.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine/json.h"
#include "tests/lib/check.h"
#include "tests/lib/vec.h"

/* ---- test helpers ---- */

static uint8_t *guard_base;
static size_t guard_span;

/* A copy of p[0..len) that ends where an unmapped page begins (valid until the next call). */
static const char *
guarded(const void *p, size_t len)
{
	if (!guard_base) {
		size_t page = (size_t)sysconf(_SC_PAGESIZE);
		guard_span = (1024 * 1024 + page - 1) / page * page;
		guard_base = mmap(NULL, guard_span + page, PROT_READ | PROT_WRITE,
		                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (guard_base == MAP_FAILED)
			check_harness("mmap failed");
		if (mprotect(guard_base + guard_span, page, PROT_NONE) != 0)
			check_harness("mprotect failed");
	}
	if (len > guard_span)
		check_harness("guarded input too long");
	uint8_t *at = guard_base + guard_span - len;
	memcpy(at, p, len);
	return (const char *)at;
}

static size_t
hexdec(uint8_t *out, size_t cap, const char *hex)
{
	size_t n = strlen(hex) / 2;
	if (n > cap)
		check_harness("hex vector too long");
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			check_harness("bad hex in a vector");
		out[i] = (uint8_t)v;
	}
	return n;
}

/* Base64 by OpenSSL (not engine/b64.c), malloc'd and NUL-terminated. */
static char *
ossl_b64(const uint8_t *p, size_t n)
{
	char *s = malloc(4 * (n / 3 + 1) + 1);
	if (!s || EVP_EncodeBlock((unsigned char *)s, p, (int)n) < 0)
		check_harness("EVP_EncodeBlock");
	return s;
}

/* A growable string for building bodies (test-only). */
struct sb {
	char *p;
	size_t len, cap;
};

static void
sb_add(struct sb *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			check_harness("out of memory");
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_str(struct sb *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

#define PEM_CHAIN_MAX 8

struct pem_chain {
	size_t n;
	uint8_t *der[PEM_CHAIN_MAX];
	size_t len[PEM_CHAIN_MAX];
	size_t total;
};

/* Every certificate of a PEM file under $BIRCH_VECTORS, as DER, by OpenSSL. */
static void
pem_chain_load(struct pem_chain *c, const char *rel)
{
	char *path = vec_path(rel);
	BIO *bio = BIO_new_file(path, "r");
	if (!bio)
		check_harness("cannot open a PEM vector");
	memset(c, 0, sizeof *c);
	X509 *x;
	while (c->n < PEM_CHAIN_MAX && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
		unsigned char *der = NULL;
		int n = i2d_X509(x, &der);
		if (n <= 0)
			check_harness("i2d_X509");
		c->der[c->n] = der;
		c->len[c->n] = (size_t)n;
		c->total += (size_t)n;
		c->n++;
		X509_free(x);
	}
	BIO_free(bio);
	free(path);
	if (c->n == 0)
		check_harness("no certificate in a PEM vector");
}

static void
pem_chain_free(struct pem_chain *c)
{
	for (size_t i = 0; i < c->n; i++)
		OPENSSL_free(c->der[i]);
}

/* ---- the tokenizer: accepted and refused texts ---- */

static const struct jcase {
	const char *name;
	const char *text;
	size_t len;         /* 0: strlen(text) */
	int err;            /* 0, -EBADMSG or -E2BIG */
	const char *reason; /* for refusals */
	size_t at;          /* for refusals: error_at (SIZE_MAX: not checked) */
} jcases[] = {
        /* y_: RFC 8259 JSON-text */
        {"y_array_empty", "[]", 0, 0, NULL, 0},
        {"y_object_empty", "{}", 0, 0, NULL, 0},
        {"y_string_empty", "\"\"", 0, 0, NULL, 0},
        {"y_scalar_top_level_number", "0", 0, 0, NULL, 0},
        {"y_scalar_top_level_true", "true", 0, 0, NULL, 0},
        {"y_scalar_top_level_false_in_ws", " false ", 0, 0, NULL, 0},
        {"y_scalar_top_level_null", "null", 0, 0, NULL, 0},
        {"y_number_minus_zero", "-0", 0, 0, NULL, 0},
        {"y_number_1e5", "1e5", 0, 0, NULL, 0},
        {"y_number_1E_plus_2", "1E+2", 0, 0, NULL, 0},
        {"y_number_frac_exp", "-1.5e-3", 0, 0, NULL, 0},
        {"y_number_zero_frac", "0.0", 0, 0, NULL, 0},
        {"y_number_zero_exp", "0e0", 0, 0, NULL, 0},
        {"y_number_huge", "123456789012345678901234567890e999", 0, 0, NULL, 0},
        {"y_nested_arrays", "[[[[]],[[]]],[]]", 0, 0, NULL, 0},
        {"y_object_mixed", "{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"},\"\":-2.5}", 0, 0,
         NULL, 0},
        {"y_string_all_short_escapes", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", 0, 0, NULL, 0},
        {"y_string_u_escapes", "\"\\u0041\\u00e9\\u20AC\\uFFFF\"", 0, 0, NULL, 0},
        {"y_string_surrogate_pair", "\"\\ud83d\\ude00\"", 0, 0, NULL, 0},
        {"y_string_surrogate_pair_max", "\"\\uDBFF\\uDFFF\"", 0, 0, NULL, 0},
        {"y_string_u0000", "\"\\u0000\"", 0, 0, NULL, 0},
        {"y_string_utf8", "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"", 0, 0, NULL, 0},
        {"y_string_utf8_u10ffff", "\"\xf4\x8f\xbf\xbf\"", 0, 0, NULL, 0},
        {"y_string_utf8_noncharacter_uffff", "\"\xef\xbf\xbf\"", 0, 0, NULL, 0},
        {"y_string_del_raw", "\"\x7f\"", 0, 0, NULL, 0},
        {"y_whitespace_all_four", "\t\n\r [ 1 ,\n2 ]\r\n", 0, 0, NULL, 0},
        {"y_duplicate_names_tokenize", "{\"a\":1,\"a\":2}", 0, 0, NULL, 0},

        /* n_: refused, with the reason and where */
        {"n_empty", "", 0, -EBADMSG, "JSON: empty input", 0},
        {"n_whitespace_only", " \n\t", 0, -EBADMSG, "JSON: empty input", 3},
        {"n_bom", "\xef\xbb\xbf{}", 0, -EBADMSG, "JSON: byte order mark", 0},
        {"n_number_leading_zero", "01", 0, -EBADMSG, "JSON: number with a leading zero", 1},
        {"n_number_minus_leading_zero", "-012", 0, -EBADMSG, "JSON: number with a leading zero", 2},
        {"n_number_leading_zeros_in_array", "[00]", 0, -EBADMSG, "JSON: number with a leading zero",
         2},
        {"n_number_plus", "+1", 0, -EBADMSG, "JSON: unexpected character", 0},
        {"n_number_bare_fraction", ".5", 0, -EBADMSG, "JSON: unexpected character", 0},
        {"n_number_dot_no_digits", "1.", 0, -EBADMSG, "JSON: number without digits after '.'", 2},
        {"n_number_dot_then_exp", "1.e5", 0, -EBADMSG, "JSON: number without digits after '.'", 2},
        {"n_number_exp_no_digits", "1e", 0, -EBADMSG, "JSON: number without digits in its exponent",
         2},
        {"n_number_exp_sign_no_digits", "[1e+]", 0, -EBADMSG,
         "JSON: number without digits in its exponent", 4},
        {"n_number_minus_alone", "-", 0, -EBADMSG, "JSON: number without digits", 1},
        {"n_number_minus_space", "- 1", 0, -EBADMSG, "JSON: number without digits", 1},
        {"n_number_hex", "0x10", 0, -EBADMSG, "JSON: trailing data after the value", 1},
        {"n_number_nan", "NaN", 0, -EBADMSG, "JSON: unexpected character", 0},
        {"n_number_infinity", "[-Infinity]", 0, -EBADMSG, "JSON: number without digits", 2},
        {"n_array_trailing_comma", "[1,]", 0, -EBADMSG, "JSON: trailing comma in an array", 3},
        {"n_object_trailing_comma", "{\"a\":1,}", 0, -EBADMSG, "JSON: trailing comma in an object",
         7},
        {"n_array_leading_comma", "[,1]", 0, -EBADMSG, "JSON: unexpected character", 1},
        {"n_array_double_comma", "[1,,2]", 0, -EBADMSG, "JSON: unexpected character", 3},
        {"n_array_missing_comma", "[1 2]", 0, -EBADMSG, "JSON: expected ',' or ']' in an array", 3},
        {"n_array_closed_by_brace", "[1}", 0, -EBADMSG, "JSON: expected ',' or ']' in an array", 2},
        {"n_object_closed_by_bracket", "{\"a\":1]", 0, -EBADMSG,
         "JSON: expected ',' or '}' in an object", 6},
        {"n_object_missing_comma", "{\"a\":1 \"b\":2}", 0, -EBADMSG,
         "JSON: expected ',' or '}' in an object", 7},
        {"n_object_missing_colon", "{\"a\" 1}", 0, -EBADMSG,
         "JSON: expected ':' after a member name", 5},
        {"n_object_unquoted_name", "{a:1}", 0, -EBADMSG, "JSON: expected a member name string", 1},
        {"n_object_number_name", "{1:1}", 0, -EBADMSG, "JSON: expected a member name string", 1},
        {"n_object_missing_value", "{\"a\":}", 0, -EBADMSG, "JSON: unexpected character", 5},
        {"n_object_bracket_as_value_end", "{\"a\":]", 0, -EBADMSG, "JSON: unexpected character", 5},
        {"n_single_quotes", "['a']", 0, -EBADMSG, "JSON: unexpected character", 1},
        {"n_comment_after", "[1]//", 0, -EBADMSG, "JSON: trailing data after the value", 3},
        {"n_comment_before", "/*c*/[1]", 0, -EBADMSG, "JSON: unexpected character", 0},
        {"n_unclosed_array", "[1", 0, -EBADMSG, "JSON: unexpected end of input", 2},
        {"n_unclosed_object", "{", 0, -EBADMSG, "JSON: unexpected end of input", 1},
        {"n_unclosed_after_colon", "{\"a\":", 0, -EBADMSG, "JSON: unexpected end of input", 5},
        {"n_unclosed_after_name", "{\"a\"", 0, -EBADMSG, "JSON: unexpected end of input", 4},
        {"n_close_without_open", "]", 0, -EBADMSG, "JSON: unexpected character", 0},
        {"n_two_values", "{}{}", 0, -EBADMSG, "JSON: trailing data after the value", 2},
        {"n_two_numbers", "1 2", 0, -EBADMSG, "JSON: trailing data after the value", 2},
        {"n_trailing_garbage", "[] x", 0, -EBADMSG, "JSON: trailing data after the value", 3},
        {"n_literal_truncated", "tru", 0, -EBADMSG, "JSON: bad literal (not true, false or null)",
         0},
        {"n_literal_wrong_case", "True", 0, -EBADMSG, "JSON: unexpected character", 0},
        {"n_literal_nul", "[nul]", 0, -EBADMSG, "JSON: bad literal (not true, false or null)", 1},
        {"n_literal_run_on", "truefalse", 0, -EBADMSG, "JSON: trailing data after the value", 4},
        {"n_nul_before", "\0[]", 3, -EBADMSG, "JSON: unexpected character", 0},
        {"n_nul_after", "[]\0", 3, -EBADMSG, "JSON: trailing data after the value", 2},
        {"n_nul_in_array", "[\0]", 3, -EBADMSG, "JSON: unexpected character", 1},
        {"n_nul_in_string", "\"a\0b\"", 5, -EBADMSG, "JSON: control character in a string", 2},
        {"n_string_raw_tab", "\"\t\"", 0, -EBADMSG, "JSON: control character in a string", 1},
        {"n_string_raw_newline", "[\"a\nb\"]", 0, -EBADMSG, "JSON: control character in a string",
         3},
        {"n_string_unterminated", "\"abc", 0, -EBADMSG, "JSON: unterminated string", 4},
        {"n_string_unterminated_escape", "\"abc\\", 0, -EBADMSG, "JSON: unterminated string", 4},
        {"n_string_escaped_quote_at_end", "\"abc\\\"", 0, -EBADMSG, "JSON: unterminated string", 6},
        {"n_string_invalid_escape_x", "\"\\x41\"", 0, -EBADMSG, "JSON: invalid escape in a string",
         1},
        {"n_string_invalid_escape_U", "\"\\U0041\"", 0, -EBADMSG,
         "JSON: invalid escape in a string", 1},
        {"n_string_invalid_escape_apostrophe", "\"\\'\"", 0, -EBADMSG,
         "JSON: invalid escape in a string", 1},
        {"n_string_escape_bad_hex", "\"\\u00g0\"", 0, -EBADMSG, "JSON: bad \\u escape", 1},
        {"n_string_escape_short", "\"\\u004\"", 0, -EBADMSG, "JSON: bad \\u escape", 1},
        {"n_string_escape_truncated_at_end", "\"\\u00", 0, -EBADMSG, "JSON: bad \\u escape", 1},
        {"n_string_lone_high_surrogate", "\"\\ud800\"", 0, -EBADMSG,
         "JSON: lone surrogate in a \\u escape", 1},
        {"n_string_lone_low_surrogate", "\"\\udc00\"", 0, -EBADMSG,
         "JSON: lone surrogate in a \\u escape", 1},
        {"n_string_high_high_surrogate", "\"\\ud800\\ud800\"", 0, -EBADMSG,
         "JSON: lone surrogate in a \\u escape", 1},
        {"n_string_high_then_char", "\"\\uD83Da\"", 0, -EBADMSG,
         "JSON: lone surrogate in a \\u escape", 1},
        {"n_string_high_at_end", "\"\\uD83D", 0, -EBADMSG, "JSON: lone surrogate in a \\u escape",
         1},
        {"n_string_low_then_high", "\"\\ude00\\ud83d\"", 0, -EBADMSG,
         "JSON: lone surrogate in a \\u escape", 1},
        {"n_utf8_overlong_slash", "\"\xc0\xaf\"", 0, -EBADMSG, "JSON: invalid UTF-8 in a string",
         1},
        {"n_utf8_overlong_c1", "\"\xc1\xbf\"", 0, -EBADMSG, "JSON: invalid UTF-8 in a string", 1},
        {"n_utf8_overlong_3byte", "\"\xe0\x80\xaf\"", 0, -EBADMSG,
         "JSON: invalid UTF-8 in a string", 1},
        {"n_utf8_overlong_4byte", "\"\xf0\x8f\xbf\xbf\"", 0, -EBADMSG,
         "JSON: invalid UTF-8 in a string", 1},
        {"n_utf8_surrogate_d800", "\"\xed\xa0\x80\"", 0, -EBADMSG,
         "JSON: invalid UTF-8 in a string", 1},
        {"n_utf8_above_10ffff", "\"\xf4\x90\x80\x80\"", 0, -EBADMSG,
         "JSON: invalid UTF-8 in a string", 1},
        {"n_utf8_f5", "\"\xf5\x80\x80\x80\"", 0, -EBADMSG, "JSON: invalid UTF-8 in a string", 1},
        {"n_utf8_truncated", "\"\xe2\x82\"", 0, -EBADMSG, "JSON: invalid UTF-8 in a string", 1},
        {"n_utf8_truncated_at_end", "\"\xe2\x82", 0, -EBADMSG, "JSON: invalid UTF-8 in a string",
         1},
        {"n_utf8_lone_continuation", "\"\x80\"", 0, -EBADMSG, "JSON: invalid UTF-8 in a string", 1},
        {"n_utf8_ff", "\"\xff\"", 0, -EBADMSG, "JSON: invalid UTF-8 in a string", 1},
        {"n_utf8_outside_string", "[\xc3\xa9]", 0, -EBADMSG, "JSON: unexpected character", 1},
};

static void
rfc8259_cases_accepted_or_refused_with_reason(void)
{
	struct json_tok tok[64];
	for (size_t i = 0; i < sizeof jcases / sizeof jcases[0]; i++) {
		const struct jcase *c = &jcases[i];
		size_t len = c->len ? c->len : strlen(c->text);
		struct json_doc d;
		const char *why = NULL;
		int r = json_parse(&d, tok, 64, guarded(c->text, len), len, &why);
		CHECK(r == c->err, "%s: got %d (%s), want %d", c->name, r, why ? why : "-", c->err);
		if (c->err == 0) {
			CHECK(r != 0 || (d.n >= 1 && tok[0].next == d.n), "%s: tokens", c->name);
			continue;
		}
		CHECK(why && strcmp(why, c->reason) == 0, "%s: reason \"%s\", want \"%s\"", c->name,
		      why ? why : "(none)", c->reason);
		CHECK(d.n == 0 && d.error_at == c->at, "%s: error_at %zu, want %zu", c->name,
		      d.error_at, c->at);
	}
}

/* '[' * depth then ']' * depth. */
static char *
nested(size_t depth)
{
	char *s = malloc(2 * depth + 1);
	if (!s)
		check_harness("out of memory");
	memset(s, '[', depth);
	memset(s + depth, ']', depth);
	s[2 * depth] = '\0';
	return s;
}

static void
nesting_to_32_accepted_deeper_refused_cleanly(void)
{
	static struct json_tok tok[128];
	struct json_doc d;
	const char *why = NULL;
	char *s = nested(JSON_DEPTH_MAX);
	CHECK(json_parse(&d, tok, 128, guarded(s, strlen(s)), strlen(s), &why) == 0 &&
	              d.n == JSON_DEPTH_MAX && tok[0].next == JSON_DEPTH_MAX &&
	              tok[JSON_DEPTH_MAX - 1].start == JSON_DEPTH_MAX - 1,
	      "depth 32: %s", why ? why : "");
	free(s);
	s = nested(JSON_DEPTH_MAX + 1);
	CHECK(json_parse(&d, tok, 128, guarded(s, strlen(s)), strlen(s), &why) == -E2BIG &&
	              strcmp(why, "JSON: nested deeper than 32 levels") == 0 &&
	              d.error_at == JSON_DEPTH_MAX,
	      "depth 33");
	free(s);
	/* 100000 levels, objects and arrays mixed: refused at level 33, nothing deeper read. */
	size_t deep = 100000;
	s = malloc(5 * deep + 1);
	if (!s)
		check_harness("out of memory");
	size_t k = 0;
	for (size_t i = 0; i < deep; i++) {
		if (i % 2) {
			memcpy(s + k, "{\"a\":", 5);
			k += 5;
		} else {
			s[k++] = '[';
		}
	}
	CHECK(json_parse(&d, tok, 128, guarded(s, k), k, &why) == -E2BIG &&
	              strcmp(why, "JSON: nested deeper than 32 levels") == 0,
	      "depth 100000");
	free(s);
}

static void
token_array_full_is_e2big_too_many_values(void)
{
	struct json_tok tok[8];
	struct json_doc d;
	const char *why = NULL;
	const char *s = "[1,2,3]";
	CHECK(json_parse(&d, tok, 4, guarded(s, 7), 7, &why) == 0 && d.n == 4, "4 tokens fit");
	CHECK(json_parse(&d, tok, 3, guarded(s, 7), 7, &why) == -E2BIG &&
	              strcmp(why, "too many JSON values") == 0 && d.error_at == 5 && d.n == 0,
	      "3 tokens: %s", why);
	CHECK(json_parse(&d, tok, 0, guarded(s, 7), 7, &why) == -E2BIG, "no tokens");
	CHECK(json_parse(&d, tok, 8, s, JSON_LEN_MAX + 1ull, &why) == -E2BIG &&
	              strcmp(why, "JSON: input larger than 4 GiB") == 0,
	      "above 4 GiB (not read)");
}

static void
tokens_have_spans_counts_and_skip_indices(void)
{
	struct json_tok tok[16];
	struct json_doc d;
	/*                  0         1         2         3
	 *                  0123456789012345678901234567890123456 */
	const char *s = " {\"a\":[1,{\"b\":null}],\"c\":\"x\\n\"} ";
	size_t len = strlen(s);
	CHECK(json_parse(&d, tok, 16, guarded(s, len), len, NULL) == 0 && d.n == 9, "parse: %u",
	      d.n);
	static const struct {
		uint8_t type;
		uint32_t start, end, next, count;
		uint8_t flags;
	} want[] = {
	        {JSON_OBJECT, 1, 31, 9, 2, 0}, /* {...} */
	        {JSON_STRING, 2, 5, 2, 0, 0},  /* "a" */
	        {JSON_ARRAY, 6, 20, 7, 2, 0},  /* [1,{"b":null}] */
	        {JSON_NUMBER, 7, 8, 4, 0, 0},  /* 1 */
	        {JSON_OBJECT, 9, 19, 7, 1, 0}, /* {"b":null} */
	        {JSON_STRING, 10, 13, 6, 0, 0},
	        {JSON_NULL, 14, 18, 7, 0, 0},
	        {JSON_STRING, 21, 24, 8, 0, 0}, /* "c" */
	        {JSON_STRING, 25, 30, 9, 0, JSON_F_ESCAPED},
	};
	for (uint32_t i = 0; i < 9 && i < d.n; i++)
		CHECK(tok[i].type == want[i].type && tok[i].start == want[i].start &&
		              tok[i].end == want[i].end && tok[i].next == want[i].next &&
		              tok[i].count == want[i].count && tok[i].flags == want[i].flags,
		      "token %u: type %u [%u,%u) next %u count %u", i, tok[i].type, tok[i].start,
		      tok[i].end, tok[i].next, tok[i].count);
}

static void
every_vector_json_file_tokenizes(void)
{
	char *dir = vec_path("");
	size_t n = 0;
	char **files = vec_list(dir, ".json", &n);
	CHECK(n >= 10, "only %zu JSON vector files", n);
	for (size_t i = 0; i < n && i < 1000; i++) {
		size_t len;
		uint8_t *text = vec_read(files[i], &len);
		struct json_tok *tok = malloc((len + 1) * sizeof *tok);
		if (!tok)
			check_harness("out of memory");
		struct json_doc d;
		const char *why = NULL;
		int r = json_parse(&d, tok, len + 1, (const char *)text, len, &why);
		CHECK(r == 0 && d.n >= 1 && tok[0].type == JSON_OBJECT, "%s: %d %s at %zu",
		      files[i], r, why ? why : "", d.error_at);
		free(tok);
		free(text);
		free(files[i]);
	}
	free(files);
	free(dir);
}

/* ---- helpers ---- */

static void
obj_get_compares_unescaped_names_and_refuses_duplicates(void)
{
	struct json_tok tok[32];
	struct json_doc d;
	uint32_t v = 0;
	const char *why;
	const char *s = "{\"ch\\u0061in\":1,\"\\u00e9t\\u00E9\":2,\"chai\":3,\"chains\":4,"
	                "\"a\\/b\":5,\"x\":{\"chain\":6}}";
	size_t len = strlen(s);
	if (json_parse(&d, tok, 32, guarded(s, len), len, NULL) != 0)
		check_harness("parse");
	CHECK(json_obj_get(&d, 0, "chain", &v, NULL) == 0 && d.tok[v].type == JSON_NUMBER &&
	              d.text[d.tok[v].start] == '1',
	      "chain by escaped name");
	CHECK(json_obj_get(&d, 0, "\xc3\xa9t\xc3\xa9", &v, NULL) == 0 &&
	              d.text[d.tok[v].start] == '2',
	      "UTF-8 name by \\u escapes");
	CHECK(json_obj_get(&d, 0, "chai", &v, NULL) == 0 && d.text[d.tok[v].start] == '3', "chai");
	CHECK(json_obj_get(&d, 0, "a/b", &v, NULL) == 0 && d.text[d.tok[v].start] == '5', "a/b");
	CHECK(json_obj_get(&d, 0, "cha", &v, &why) == -ENOENT, "prefix is not a match");
	CHECK(json_obj_get(&d, 0, "x", &v, NULL) == 0 && d.tok[v].type == JSON_OBJECT, "x");
	uint32_t inner = v;
	CHECK(json_obj_get(&d, inner, "chain", &v, NULL) == 0 && d.text[d.tok[v].start] == '6',
	      "nested object is searched on its own");
	CHECK(json_obj_get(&d, 1, "chain", &v, &why) == -EBADMSG &&
	              strcmp(why, "JSON: expected an object") == 0,
	      "not an object");

	const char *dup = "{\"a\":1,\"b\":2,\"\\u0061\":3}";
	len = strlen(dup);
	if (json_parse(&d, tok, 32, guarded(dup, len), len, NULL) != 0)
		check_harness("parse");
	CHECK(json_obj_get(&d, 0, "a", &v, &why) == -EBADMSG &&
	              strcmp(why, "JSON: duplicate member name") == 0,
	      "duplicate through an escape");
	CHECK(json_obj_get(&d, 0, "b", &v, NULL) == 0, "other names unaffected");
}

static void
str_read_unescapes_every_escape(void)
{
	struct json_tok tok[4];
	struct json_doc d;
	const char *s = "\"a\\n\\u00e9\\ud83d\\ude00\\u0000z\\\"\\\\\\/\\b\\f\\r\\t\\u20ac\"";
	size_t len = strlen(s);
	if (json_parse(&d, tok, 4, guarded(s, len), len, NULL) != 0)
		check_harness("parse");
	static const char want[] = "a\n\xc3\xa9\xf0\x9f\x98\x80"
	                           "\0z\"\\/\b\f\r\t\xe2\x82\xac";
	char out[64];
	long n = json_str_read(&d, 0, out, sizeof out, NULL);
	CHECK(n == (long)sizeof want - 1 && memcmp(out, want, sizeof want - 1) == 0, "read: %ld",
	      n);
	CHECK(json_str_equal(&d, 0, want, sizeof want - 1), "equal");
	CHECK(!json_str_equal(&d, 0, want, sizeof want - 2), "shorter is not equal");
	const char *why;
	CHECK(json_str_read(&d, 0, out, sizeof want - 2, &why) == -ENOSPC &&
	              strcmp(why, "JSON: string too long for its buffer") == 0,
	      "one byte short");

	const char *t = "[\"plain\",7]";
	len = strlen(t);
	if (json_parse(&d, tok, 4, guarded(t, len), len, NULL) != 0)
		check_harness("parse");
	CHECK(json_str_read(&d, 1, out, 5, NULL) == 5 && memcmp(out, "plain", 5) == 0, "plain");
	CHECK(json_str_read(&d, 1, out, 4, NULL) == -ENOSPC, "plain, short");
	CHECK(json_str_read(&d, 2, out, 4, &why) == -EBADMSG &&
	              strcmp(why, "JSON: expected a string") == 0,
	      "number is not a string");
	CHECK(json_str_read(&d, 3, out, 4, NULL) == -EBADMSG, "index past the end");
}

static void
b64_read_decodes_plain_and_escaped_strings(void)
{
	struct json_tok tok[16];
	struct json_doc d;
	uint8_t out[512];
	const char *why;
	const char *s = "[\"Zm9vYmFy\",\"\\/w==\",\"Zm9v\\u0059g==\",\"Zm9\\u00e9\",\"Zh==\",\"\","
	                "\"Zm9v\\nYmFy\",1]";
	size_t len = strlen(s);
	if (json_parse(&d, tok, 16, guarded(s, len), len, NULL) != 0)
		check_harness("parse");
	CHECK(json_b64_read(&d, 1, out, sizeof out, NULL) == 6 && memcmp(out, "foobar", 6) == 0,
	      "plain");
	CHECK(json_b64_read(&d, 2, out, sizeof out, NULL) == 1 && out[0] == 0xff, "\\/ is a slash");
	CHECK(json_b64_read(&d, 3, out, sizeof out, NULL) == 4 && memcmp(out, "foob", 4) == 0,
	      "\\u0059 is Y");
	CHECK(json_b64_read(&d, 4, out, sizeof out, &why) == -EBADMSG &&
	              strcmp(why, "JSON: bad base64") == 0,
	      "non-ASCII escape");
	CHECK(json_b64_read(&d, 5, out, sizeof out, NULL) == -EBADMSG, "unused bits set");
	CHECK(json_b64_read(&d, 6, out, sizeof out, NULL) == 0, "empty");
	CHECK(json_b64_read(&d, 7, out, sizeof out, NULL) == -EBADMSG, "escaped newline");
	CHECK(json_b64_read(&d, 8, out, sizeof out, &why) == -EBADMSG &&
	              strcmp(why, "JSON: expected a base64 string") == 0,
	      "number");
	CHECK(json_b64_read(&d, 1, out, 5, &why) == -ENOSPC &&
	              strcmp(why, "JSON: base64 value too long for its buffer") == 0,
	      "plain, short");
	CHECK(json_b64_read(&d, 3, out, 3, NULL) == -ENOSPC, "escaped, short");

	/* Long escaped strings go through the 256-character pieces: 300 bytes with every '/'
	 * escaped and the first character as \u00XX; and padding at a piece boundary. */
	uint8_t raw[300];
	for (size_t i = 0; i < sizeof raw; i++)
		raw[i] = (uint8_t)(i * 37 + 11);
	raw[0] = 0xff; /* starts with '/' */
	char *b = ossl_b64(raw, sizeof raw);
	struct sb body = {0};
	sb_str(&body, "[\"");
	for (size_t i = 0; b[i]; i++) {
		char e[16];
		if (i == 0)
			snprintf(e, sizeof e, "\\u%04x", (unsigned)(unsigned char)b[i]);
		else if (b[i] == '/')
			snprintf(e, sizeof e, "\\/");
		else
			snprintf(e, sizeof e, "%c", b[i]);
		sb_str(&body, e);
	}
	sb_str(&body, "\",\"");
	/* 256 characters ending in "==" (a complete base64 of 190 bytes), then "AAAA". */
	char *b190 = ossl_b64(raw, 190);
	sb_str(&body, "\\/");
	sb_str(&body, b190 + 1);
	sb_str(&body, "AAAA\"]");
	free(b);
	if (strlen(b190) != 256 || b190[0] != '/' || b190[255] != '=')
		check_harness("b190");
	free(b190);
	if (json_parse(&d, tok, 16, guarded(body.p, body.len), body.len, NULL) != 0)
		check_harness("parse long");
	long n = json_b64_read(&d, 1, out, sizeof out, NULL);
	CHECK(n == 300 && memcmp(out, raw, 300) == 0, "300 bytes escaped: %ld", n);
	CHECK(json_b64_read(&d, 2, out, sizeof out, NULL) == -EBADMSG,
	      "padding at a piece boundary then more");
	free(body.p);
}

static void
u64_reads_exact_unsigned_integers_only(void)
{
	struct json_tok tok[16];
	struct json_doc d;
	const char *s = "[0,18446744073709551615,18446744073709551616,99999999999999999999,-0,-1,"
	                "1.0,1e3,\"1\",1348589667204]";
	size_t len = strlen(s);
	if (json_parse(&d, tok, 16, guarded(s, len), len, NULL) != 0)
		check_harness("parse");
	uint64_t v = 7;
	const char *why;
	CHECK(json_u64(&d, 1, &v, NULL) == 0 && v == 0, "0");
	CHECK(json_u64(&d, 2, &v, NULL) == 0 && v == UINT64_MAX, "2^64-1");
	CHECK(json_u64(&d, 3, &v, &why) == -EBADMSG &&
	              strcmp(why, "JSON: integer above 2^64-1") == 0,
	      "2^64");
	CHECK(json_u64(&d, 4, &v, NULL) == -EBADMSG, "20 nines");
	CHECK(json_u64(&d, 5, &v, &why) == -EBADMSG &&
	              strcmp(why, "JSON: negative number where an unsigned one is expected") == 0,
	      "-0");
	CHECK(json_u64(&d, 6, &v, NULL) == -EBADMSG, "-1");
	CHECK(json_u64(&d, 7, &v, &why) == -EBADMSG &&
	              strcmp(why, "JSON: number is not an integer") == 0,
	      "1.0");
	CHECK(json_u64(&d, 8, &v, NULL) == -EBADMSG, "1e3");
	CHECK(json_u64(&d, 9, &v, &why) == -EBADMSG && strcmp(why, "JSON: expected a number") == 0,
	      "string");
	CHECK(json_u64(&d, 10, &v, NULL) == 0 && v == 1348589667204ull, "timestamp");
}

/* ---- add-chain ---- */

enum body_style {
	BODY_COMPACT,
	BODY_PRETTY_WITH_EXTRAS, /* whitespace, unknown members before and after */
	BODY_ESCAPED_SLASHES,    /* '/' written as "\/", as PHP's json_encode does */
};

static struct sb
chain_body(const struct pem_chain *c, enum body_style style)
{
	struct sb b = {0};
	if (style == BODY_PRETTY_WITH_EXTRAS)
		sb_str(&b,
		       "{\n  \"extra\": {\"x\": [1, 2.5, null, \"chain\"]},\n  \"chain\" : [\n");
	else
		sb_str(&b, "{\"chain\":[");
	for (size_t i = 0; i < c->n; i++) {
		char *e = ossl_b64(c->der[i], c->len[i]);
		sb_str(&b, i ? (style == BODY_PRETTY_WITH_EXTRAS ? ",\n    \"" : ",\"")
		             : (style == BODY_PRETTY_WITH_EXTRAS ? "    \"" : "\""));
		for (size_t k = 0; e[k]; k++)
			sb_str(&b, style == BODY_ESCAPED_SLASHES && e[k] == '/'
			                   ? "\\/"
			                   : (char[2]){e[k], 0});
		sb_str(&b, "\"");
		free(e);
	}
	sb_str(&b, style == BODY_PRETTY_WITH_EXTRAS ? "\n  ],\n  \"z\": true\n}\n" : "]}");
	return b;
}

static const char *const chain_files[] = {
        "certs/google-certificate-transparency-cpp/test-intermediate-cert-chain.pem",
        "certs/google-certificate-transparency-cpp/test-cert-chain.pem",
        ("certs/google-certificate-transparency-cpp/"
         "test-embedded-with-intermediate-preca-pre-cert.pem"),
        "certs/certificate-transparency-go/trillian-testdata/subleaf.chain",
        "certs/certificate-transparency-go/trillian-testdata/subleaf-pre.chain",
        "certs/certificate-transparency-go/trillian-testdata/leaf00.chain",
};

static void
add_chain_bodies_of_vector_chains_decode_to_their_der(void)
{
	struct json_tok tok[64];
	for (size_t f = 0; f < sizeof chain_files / sizeof chain_files[0]; f++) {
		struct pem_chain c;
		pem_chain_load(&c, chain_files[f]);
		for (int style = BODY_COMPACT; style <= BODY_ESCAPED_SLASHES; style++) {
			struct sb body = chain_body(&c, (enum body_style)style);
			/* Exactly the room the DER needs, then one byte less. */
			uint8_t *buf = malloc(c.total);
			struct json_chain chain;
			const char *why = NULL;
			int r = json_chain_parse(&chain, buf, c.total, tok, 64,
			                         guarded(body.p, body.len), body.len, &why);
			CHECK(r == 0 && chain.n == c.n, "%s style %d: %d %s", chain_files[f], style,
			      r, why ? why : "");
			for (size_t i = 0; r == 0 && i < c.n; i++)
				CHECK(chain.cert[i].len == c.len[i] &&
				              memcmp(chain.cert[i].p, c.der[i], c.len[i]) == 0,
				      "%s style %d: certificate %zu differs", chain_files[f], style,
				      i);
			r = json_chain_parse(&chain, buf, c.total - 1, tok, 64,
			                     guarded(body.p, body.len), body.len, &why);
			CHECK(r == -ENOSPC && chain.n == 0 &&
			              strcmp(why, "certificates larger than the buffer") == 0,
			      "%s style %d: one byte short gives %d", chain_files[f], style, r);
			free(buf);
			free(body.p);
		}
		CHECK(c.n >= 1, "%s", chain_files[f]);
		pem_chain_free(&c);
	}
}

/* A chain body of n copies of "AAAA" (3 zero bytes each). */
static struct sb
n_item_chain(size_t n)
{
	struct sb b = {0};
	sb_str(&b, "{\"chain\":[");
	for (size_t i = 0; i < n; i++)
		sb_str(&b, i ? ",\"AAAA\"" : "\"AAAA\"");
	sb_str(&b, "]}");
	return b;
}

static void
add_chain_sixteen_certificates_accepted_seventeen_refused(void)
{
	struct json_tok tok[JSON_CHAIN_TOKENS_MIN];
	uint8_t buf[256];
	struct json_chain chain;
	const char *why = NULL;
	struct sb b = n_item_chain(JSON_CHAIN_MAX);
	CHECK(json_chain_parse(&chain, buf, sizeof buf, tok, JSON_CHAIN_TOKENS_MIN,
	                       guarded(b.p, b.len), b.len, &why) == 0 &&
	              chain.n == JSON_CHAIN_MAX && chain.cert[15].p == buf + 45 &&
	              chain.cert[15].len == 3,
	      "16: %s", why ? why : "");
	free(b.p);
	b = n_item_chain(JSON_CHAIN_MAX + 1);
	CHECK(json_chain_parse(&chain, buf, sizeof buf, tok, JSON_CHAIN_TOKENS_MIN,
	                       guarded(b.p, b.len), b.len, &why) == -E2BIG &&
	              chain.n == 0 && strcmp(why, "chain has more than 16 certificates") == 0,
	      "17");
	free(b.p);
}

#define Z10 "0,0,0,0,0,0,0,0,0,0,"

static const struct chain_err {
	const char *name;
	const char *body;
	int err;
	const char *reason;
} chain_errs[] = {
        {"not_json", "{\"chain\":[\"AAAA\"]", -EBADMSG, "JSON: unexpected end of input"},
        {"trailing_data", "{\"chain\":[\"AAAA\"]} x", -EBADMSG,
         "JSON: trailing data after the value"},
        {"array_body", "[\"AAAA\"]", -EBADMSG, "request body is not a JSON object"},
        {"string_body", "\"chain\"", -EBADMSG, "request body is not a JSON object"},
        {"missing_chain", "{}", -EBADMSG, "missing \"chain\""},
        {"chain_wrong_case", "{\"Chain\":[\"AAAA\"]}", -EBADMSG, "missing \"chain\""},
        {"chain_nested_only", "{\"x\":{\"chain\":[\"AAAA\"]}}", -EBADMSG, "missing \"chain\""},
        {"duplicate_chain", "{\"chain\":[\"AAAA\"],\"chain\":[\"AAAA\"]}", -EBADMSG,
         "duplicate \"chain\" member"},
        {"duplicate_chain_escaped", "{\"chain\":[\"AAAA\"],\"\\u0063hain\":[]}", -EBADMSG,
         "duplicate \"chain\" member"},
        {"chain_is_string", "{\"chain\":\"AAAA\"}", -EBADMSG, "\"chain\" is not an array"},
        {"chain_is_null", "{\"chain\":null}", -EBADMSG, "\"chain\" is not an array"},
        {"chain_is_object", "{\"chain\":{\"0\":\"AAAA\"}}", -EBADMSG, "\"chain\" is not an array"},
        {"chain_empty", "{\"chain\":[]}", -EBADMSG, "chain is empty"},
        {"item_number", "{\"chain\":[\"AAAA\",1]}", -EBADMSG, "chain item is not a string"},
        {"item_null", "{\"chain\":[null]}", -EBADMSG, "chain item is not a string"},
        {"item_array", "{\"chain\":[[\"AAAA\"]]}", -EBADMSG, "chain item is not a string"},
        {"item_bad_length", "{\"chain\":[\"AAA\"]}", -EBADMSG, "chain item is not valid base64"},
        {"item_bad_char", "{\"chain\":[\"AA-A\"]}", -EBADMSG, "chain item is not valid base64"},
        {"item_unused_bits", "{\"chain\":[\"Zh==\"]}", -EBADMSG, "chain item is not valid base64"},
        {"item_pem_line_break", "{\"chain\":[\"AAAA\\nAAAA\"]}", -EBADMSG,
         "chain item is not valid base64"},
        {"item_space", "{\"chain\":[\"AAAA AAAA\"]}", -EBADMSG, "chain item is not valid base64"},
        {"item_pem_armour", "{\"chain\":[\"-----BEGIN CERTIFICATE-----\"]}", -EBADMSG,
         "chain item is not valid base64"},
        {"item_empty", "{\"chain\":[\"AAAA\",\"\"]}", -EBADMSG,
         "chain item is an empty certificate"},
        {"deep_extra_member",
         "{\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],"
         "\"chain\":[\"AAAA\"]}",
         -E2BIG, "JSON: nested deeper than 32 levels"},
        {"too_many_values", "{\"x\":[" Z10 Z10 Z10 Z10 Z10 Z10 Z10 "0],\"chain\":[\"AAAA\"]}",
         -E2BIG, "too many JSON values"},
};

static void
add_chain_errors_have_their_reasons(void)
{
	struct json_tok tok[64];
	uint8_t buf[64];
	for (size_t i = 0; i < sizeof chain_errs / sizeof chain_errs[0]; i++) {
		const struct chain_err *e = &chain_errs[i];
		struct json_chain chain;
		memset(&chain, 0x5a, sizeof chain);
		const char *why = NULL;
		size_t len = strlen(e->body);
		int r = json_chain_parse(&chain, buf, sizeof buf, tok, 64, guarded(e->body, len),
		                         len, &why);
		CHECK(r == e->err && chain.n == 0, "%s: %d", e->name, r);
		CHECK(why && strcmp(why, e->reason) == 0, "%s: \"%s\", want \"%s\"", e->name,
		      why ? why : "(none)", e->reason);
	}
	/* And one that parses, with the same token array: the refusals are not the limits. */
	struct json_chain chain;
	const char *ok = "{\"x\":[1,2],\"chain\":[\"AAAA\",\"AAE=\"],\"y\":{}}";
	CHECK(json_chain_parse(&chain, buf, sizeof buf, tok, 64, guarded(ok, strlen(ok)),
	                       strlen(ok), NULL) == 0 &&
	              chain.n == 2 && chain.cert[1].p == buf + 3 && chain.cert[1].len == 2 &&
	              buf[4] == 1,
	      "extras ignored");
	/* reason may be NULL. */
	CHECK(json_chain_parse(&chain, buf, sizeof buf, tok, 64, "{}", 2, NULL) == -EBADMSG,
	      "NULL reason");
}

/* ---- SCT and STH ---- */

static struct sb
sct_json(const uint8_t id[32], const char *ts, const uint8_t *ext, size_t ext_len,
         const uint8_t *sig, size_t sig_len)
{
	struct sb b = {0};
	char *e_id = ossl_b64(id, 32), *e_ext = ossl_b64(ext, ext_len),
	     *e_sig = ossl_b64(sig, sig_len);
	sb_str(&b, "{\"sct_version\":0,\"id\":\"");
	sb_str(&b, e_id);
	sb_str(&b, "\",\"timestamp\":");
	sb_str(&b, ts);
	sb_str(&b, ",\"extensions\":\"");
	sb_str(&b, e_ext);
	sb_str(&b, "\",\"signature\":\"");
	sb_str(&b, e_sig);
	sb_str(&b, "\"}");
	free(e_id);
	free(e_ext);
	free(e_sig);
	return b;
}

static void
sct_json_of_test_cert_proof_round_trips(void)
{
	/* test-cert.proof is a TLS SignedCertificateTimestamp: version, id[32], timestamp[8],
	 * extensions<0..2^16-1>, DigitallySigned. */
	char *path = vec_path("certs/google-certificate-transparency-cpp/test-cert.proof");
	size_t len;
	uint8_t *p = vec_read(path, &len);
	free(path);
	if (len != 118 || p[0] != 0)
		check_harness("test-cert.proof is not the 118-byte v1 SCT");
	size_t ext_len = (size_t)p[41] << 8 | p[42];
	const uint8_t *ext = p + 43, *sig = p + 43 + ext_len;
	size_t sig_len = len - 43 - ext_len;
	uint64_t ts = 0;
	for (int i = 0; i < 8; i++)
		ts = ts << 8 | p[33 + i];
	char tss[24];
	snprintf(tss, sizeof tss, "%llu", (unsigned long long)ts);
	struct sb b = sct_json(p + 1, tss, ext, ext_len, sig, sig_len);

	struct json_tok tok[JSON_SHAPE_TOKENS];
	uint8_t buf[256];
	struct json_sct sct;
	const char *why = NULL;
	int r = json_sct_parse(&sct, buf, sizeof buf, tok, JSON_SHAPE_TOKENS, guarded(b.p, b.len),
	                       b.len, &why);
	CHECK(r == 0, "parse: %s", why ? why : "");
	uint8_t log_id[32];
	hexdec(log_id, 32, "df1c2ec11500945247a96168325ddc5c7959e8f7c6d388fc002e0bbd3f74d764");
	CHECK(sct.version == 0 && memcmp(sct.id, log_id, 32) == 0, "id is the C++ test log's");
	CHECK(sct.timestamp == ts && ts == 0x13ddb27ded9ull, "timestamp %llu",
	      (unsigned long long)sct.timestamp);
	CHECK(sct.ext.len == 0, "no extensions");
	CHECK(sct.sig.len == sig_len && sig_len == 75 && memcmp(sct.sig.p, sig, sig_len) == 0,
	      "signature");
	CHECK(sct.sig.p >= buf && sct.sig.p + sct.sig.len <= buf + sizeof buf, "sig in buf");
	free(b.p);
	free(p);
}

static void
sct_json_of_signature_vectors_round_trips_in_any_member_order(void)
{
	char *path = vec_path("certs/certificate-transparency-go/signatures_test_vectors.json");
	struct vec_json *v = vec_json_file(path);
	free(path);
	const struct vec_json *sct = vec_must(v, "sct", VEC_OBJ);
	uint8_t id[32], sig[600];
	hexdec(id, 32, vec_must(v, "ec_log_id_hex", VEC_STR)->str);
	uint64_t ts = vec_u64(sct, "timestamp");
	const char *sigs[] = {"ecdsa_sig", "rsa_sig"};
	for (size_t k = 0; k < 2; k++) {
		const struct vec_json *s = vec_must(sct, sigs[k], VEC_OBJ);
		size_t sig_len =
		        hexdec(sig, sizeof sig, vec_must(s, "digitally_signed_hex", VEC_STR)->str);
		char *e_id = ossl_b64(id, 32), *e_sig = ossl_b64(sig, sig_len);
		/* Reordered, spaced, with an unknown member, as a log might send it. */
		struct sb b = {0};
		sb_str(&b, "{ \"signature\" : \"");
		sb_str(&b, e_sig);
		sb_str(&b,
		       "\",\n \"extensions\": \"\", \"vendor\": {\"a\": [1]},\n \"timestamp\": ");
		char tss[24];
		snprintf(tss, sizeof tss, "%llu", (unsigned long long)ts);
		sb_str(&b, tss);
		sb_str(&b, ", \"id\": \"");
		sb_str(&b, e_id);
		sb_str(&b, "\", \"sct_version\": 0 }");
		struct json_tok tok[JSON_SHAPE_TOKENS];
		uint8_t buf[600];
		struct json_sct out;
		const char *why = NULL;
		int r = json_sct_parse(&out, buf, sizeof buf, tok, JSON_SHAPE_TOKENS,
		                       guarded(b.p, b.len), b.len, &why);
		CHECK(r == 0 && memcmp(out.id, id, 32) == 0 && out.timestamp == 1348589665525ull &&
		              out.ext.len == 0 && out.sig.len == sig_len &&
		              memcmp(out.sig.p, sig, sig_len) == 0,
		      "%s: %d %s", sigs[k], r, why ? why : "");
		free(e_id);
		free(e_sig);
		free(b.p);
	}
}

static void
sct_json_errors_have_their_reasons(void)
{
	static const struct {
		const char *name, *json;
		int err;
		const char *reason;
	} cases[] = {
	/* id: 32 zero bytes; signature: 04 03 00 01 00 */
#define SCT_ID   "\"id\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\""
#define SCT_SIG  "\"signature\":\"BAMAAQA=\""
#define SCT_REST "\"timestamp\":5,\"extensions\":\"AQI=\""
	        {"ok", "{\"sct_version\":0," SCT_ID "," SCT_REST "," SCT_SIG "}", 0, NULL},
	        {"not_object", "[]", -EBADMSG, "SCT: response is not a JSON object"},
	        {"bad_json", "{\"sct_version\":0,}", -EBADMSG, "JSON: trailing comma in an object"},
	        {"missing_version", "{" SCT_ID "," SCT_REST "," SCT_SIG "}", -EBADMSG,
	         "SCT: missing \"sct_version\""},
	        {"version_1", "{\"sct_version\":1," SCT_ID "," SCT_REST "," SCT_SIG "}", -EBADMSG,
	         "SCT: sct_version is not 0 (v1)"},
	        {"version_string", "{\"sct_version\":\"0\"," SCT_ID "," SCT_REST "," SCT_SIG "}",
	         -EBADMSG, "SCT: bad \"sct_version\""},
	        {"missing_id", "{\"sct_version\":0," SCT_REST "," SCT_SIG "}", -EBADMSG,
	         "SCT: missing \"id\""},
	        {"duplicate_id",
	         "{\"sct_version\":0," SCT_ID "," SCT_ID "," SCT_REST "," SCT_SIG "}", -EBADMSG,
	         "SCT: duplicate \"id\""},
	        {"id_31_bytes",
	         "{\"sct_version\":0,\"id\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="
	         "\"," SCT_REST "," SCT_SIG "}",
	         -EBADMSG, "SCT: \"id\" is not 32 bytes of base64"},
	        {"id_33_bytes",
	         "{\"sct_version\":0,\"id\":"
	         "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"," SCT_REST "," SCT_SIG "}",
	         -EBADMSG, "SCT: \"id\" is not 32 bytes of base64"},
	        {"missing_timestamp",
	         "{\"sct_version\":0," SCT_ID ",\"extensions\":\"\"," SCT_SIG "}", -EBADMSG,
	         "SCT: missing \"timestamp\""},
	        {"timestamp_negative",
	         "{\"sct_version\":0," SCT_ID ",\"timestamp\":-5,\"extensions\":\"\"," SCT_SIG "}",
	         -EBADMSG, "SCT: bad \"timestamp\""},
	        {"timestamp_fraction",
	         "{\"sct_version\":0," SCT_ID ",\"timestamp\":5.0,\"extensions\":\"\"," SCT_SIG "}",
	         -EBADMSG, "SCT: bad \"timestamp\""},
	        {"missing_extensions", "{\"sct_version\":0," SCT_ID ",\"timestamp\":5," SCT_SIG "}",
	         -EBADMSG, "SCT: missing \"extensions\""},
	        {"extensions_null",
	         "{\"sct_version\":0," SCT_ID ",\"timestamp\":5,\"extensions\":null," SCT_SIG "}",
	         -EBADMSG, "SCT: bad \"extensions\""},
	        {"extensions_not_b64",
	         "{\"sct_version\":0," SCT_ID ",\"timestamp\":5,\"extensions\":\"A\"," SCT_SIG "}",
	         -EBADMSG, "SCT: bad \"extensions\""},
	        {"missing_signature", "{\"sct_version\":0," SCT_ID "," SCT_REST "}", -EBADMSG,
	         "SCT: missing \"signature\""},
	        {"signature_too_short",
	         "{\"sct_version\":0," SCT_ID "," SCT_REST ",\"signature\":\"BAMA\"}", -EBADMSG,
	         "SCT: \"signature\" is not a base64 DigitallySigned"},
	        {"signature_length_mismatch",
	         "{\"sct_version\":0," SCT_ID "," SCT_REST ",\"signature\":\"BAMAAgA=\"}", -EBADMSG,
	         "SCT: \"signature\" is not a base64 DigitallySigned"},
	        {"signature_empty",
	         "{\"sct_version\":0," SCT_ID "," SCT_REST ",\"signature\":\"\"}", -EBADMSG,
	         "SCT: \"signature\" is not a base64 DigitallySigned"},
	};
	struct json_tok tok[JSON_SHAPE_TOKENS];
	uint8_t buf[64];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct json_sct sct;
		const char *why = NULL;
		size_t len = strlen(cases[i].json);
		int r = json_sct_parse(&sct, buf, sizeof buf, tok, JSON_SHAPE_TOKENS,
		                       guarded(cases[i].json, len), len, &why);
		CHECK(r == cases[i].err, "%s: %d (%s)", cases[i].name, r, why ? why : "");
		if (cases[i].err == 0) {
			CHECK(r != 0 ||
			              (sct.timestamp == 5 && sct.ext.len == 2 && sct.ext.p == buf &&
			               buf[1] == 2 && sct.sig.len == 5 && sct.sig.p == buf + 2),
			      "%s: fields", cases[i].name);
			/* Room for ext and sig exactly, then one byte less. */
			r = json_sct_parse(&sct, buf, 7, tok, JSON_SHAPE_TOKENS,
			                   guarded(cases[i].json, len), len, &why);
			CHECK(r == 0, "%s: exact room", cases[i].name);
			r = json_sct_parse(&sct, buf, 6, tok, JSON_SHAPE_TOKENS,
			                   guarded(cases[i].json, len), len, &why);
			CHECK(r == -ENOSPC && strcmp(why, "SCT: buffer too small") == 0 &&
			              sct.sig.p == NULL,
			      "%s: one byte short", cases[i].name);
			continue;
		}
		CHECK(why && strcmp(why, cases[i].reason) == 0, "%s: \"%s\", want \"%s\"",
		      cases[i].name, why ? why : "(none)", cases[i].reason);
		CHECK(sct.sig.p == NULL && sct.timestamp == 0, "%s: output zeroed", cases[i].name);
	}
}

/* Checks json_sth_parse of text against the vector's get_sth_json object. */
static void
check_sth(const char *what, const char *text, size_t len, const struct vec_json *want)
{
	struct json_tok tok[JSON_SHAPE_TOKENS];
	uint8_t buf[128], root[32], sig[128];
	struct json_sth sth;
	const char *why = NULL;
	int r = json_sth_parse(&sth, buf, sizeof buf, tok, JSON_SHAPE_TOKENS, guarded(text, len),
	                       len, &why);
	CHECK(r == 0, "%s: %d %s", what, r, why ? why : "");
	long rl = vec_b64(root, sizeof root, vec_must(want, "sha256_root_hash", VEC_STR)->str);
	long sl = vec_b64(sig, sizeof sig, vec_must(want, "tree_head_signature", VEC_STR)->str);
	CHECK(rl == 32 && memcmp(sth.root, root, 32) == 0, "%s: root", what);
	CHECK(sl > 0 && sth.sig.len == (size_t)sl && memcmp(sth.sig.p, sig, (size_t)sl) == 0,
	      "%s: signature", what);
	CHECK(sth.tree_size == vec_u64(want, "tree_size") &&
	              sth.timestamp == vec_u64(want, "timestamp"),
	      "%s: size and timestamp", what);
}

static void
sth_json_of_real_get_sth_responses_parses(void)
{
	/* The responses as they sit in the vector file, found with this tokenizer and parsed
	 * from their own text; the expected values come from tests/lib/vec.c. */
	char *path = vec_path("static-ct/VERIFIED_STATIC_CT_AND_TLOG.json");
	size_t len;
	uint8_t *text = vec_read(path, &len);
	struct vec_json *v = vec_json_file(path);
	free(path);
	struct json_tok *tok = malloc((len + 1) * sizeof *tok);
	struct json_doc d;
	if (!tok || json_parse(&d, tok, len + 1, (const char *)text, len, NULL) != 0)
		check_harness("tokenize VERIFIED_STATIC_CT_AND_TLOG.json");
	const char *names[] = {"argon2024_get_sth", "sunlight_checkpoint_test_sth"};
	for (size_t i = 0; i < 2; i++) {
		uint32_t o, s;
		if (json_obj_get(&d, 0, names[i], &o, NULL) != 0 ||
		    json_obj_get(&d, o, "get_sth_json", &s, NULL) != 0)
			check_harness("get_sth_json not found in VERIFIED_STATIC_CT_AND_TLOG.json");
		const struct vec_json *want =
		        vec_must(vec_must(v, names[i], VEC_OBJ), "get_sth_json", VEC_OBJ);
		check_sth(names[i], (const char *)text + tok[s].start, tok[s].end - tok[s].start,
		          want);
	}
	free(tok);
	free(text);
}

static void
sth_json_of_signature_vectors_round_trips(void)
{
	char *path = vec_path("certs/certificate-transparency-go/signatures_test_vectors.json");
	struct vec_json *v = vec_json_file(path);
	free(path);
	const struct vec_json *sth = vec_must(v, "sth", VEC_OBJ);
	uint8_t root[32], sig[128];
	hexdec(root, 32, vec_must(sth, "sha256_root_hash_hex", VEC_STR)->str);
	size_t sig_len = hexdec(
	        sig, sizeof sig,
	        vec_must(vec_must(sth, "ecdsa_sig", VEC_OBJ), "digitally_signed_hex", VEC_STR)
	                ->str);
	char *e_root = ossl_b64(root, 32), *e_sig = ossl_b64(sig, sig_len);
	struct sb b = {0};
	char num[64];
	snprintf(num, sizeof num, "{\"tree_size\":%llu,\"timestamp\":%llu,",
	         (unsigned long long)vec_u64(sth, "tree_size"),
	         (unsigned long long)vec_u64(sth, "timestamp"));
	sb_str(&b, num);
	sb_str(&b, "\"sha256_root_hash\":\"");
	sb_str(&b, e_root);
	sb_str(&b, "\",\"tree_head_signature\":\"");
	sb_str(&b, e_sig);
	sb_str(&b, "\"}");
	struct json_tok tok[JSON_SHAPE_TOKENS];
	uint8_t buf[128];
	struct json_sth out;
	const char *why = NULL;
	int r = json_sth_parse(&out, buf, sizeof buf, tok, JSON_SHAPE_TOKENS, guarded(b.p, b.len),
	                       b.len, &why);
	CHECK(r == 0 && out.tree_size == 42 && out.timestamp == 1348589667204ull &&
	              memcmp(out.root, root, 32) == 0 && out.sig.len == sig_len &&
	              memcmp(out.sig.p, sig, sig_len) == 0,
	      "%d %s", r, why ? why : "");
	/* The signature alone needs sig_len bytes of buf. */
	r = json_sth_parse(&out, buf, sig_len - 1, tok, JSON_SHAPE_TOKENS, guarded(b.p, b.len),
	                   b.len, &why);
	CHECK(r == -ENOSPC && strcmp(why, "STH: buffer too small") == 0, "one byte short: %d", r);
	free(e_root);
	free(e_sig);
	free(b.p);
}

static void
sth_json_errors_have_their_reasons(void)
{
	static const struct {
		const char *name, *json;
		const char *reason;
	} cases[] = {
#define STH_ROOT "\"sha256_root_hash\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\""
#define STH_SIG  "\"tree_head_signature\":\"BAMAAQA=\""
	        {"not_object", "null", "STH: response is not a JSON object"},
	        {"missing_tree_size", "{\"timestamp\":1," STH_ROOT "," STH_SIG "}",
	         "STH: missing \"tree_size\""},
	        {"tree_size_fraction",
	         "{\"tree_size\":1.5,\"timestamp\":1," STH_ROOT "," STH_SIG "}",
	         "STH: bad \"tree_size\""},
	        {"tree_size_overflow",
	         "{\"tree_size\":18446744073709551616,\"timestamp\":1," STH_ROOT "," STH_SIG "}",
	         "STH: bad \"tree_size\""},
	        {"tree_size_string",
	         "{\"tree_size\":\"1\",\"timestamp\":1," STH_ROOT "," STH_SIG "}",
	         "STH: bad \"tree_size\""},
	        {"duplicate_timestamp",
	         "{\"tree_size\":1,\"timestamp\":1,\"timestamp\":2," STH_ROOT "," STH_SIG "}",
	         "STH: duplicate \"timestamp\""},
	        {"missing_root", "{\"tree_size\":1,\"timestamp\":1," STH_SIG "}",
	         "STH: missing \"sha256_root_hash\""},
	        {"root_31_bytes",
	         "{\"tree_size\":1,\"timestamp\":1,\"sha256_root_hash\":"
	         "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\"," STH_SIG "}",
	         "STH: \"sha256_root_hash\" is not 32 bytes of base64"},
	        {"root_hex",
	         "{\"tree_size\":1,\"timestamp\":1,\"sha256_root_hash\":"
	         "\"18041bd4665083001fba8c5411d2d748e8abbfdcdfd9218cb02b68a78e7d4c23\"," STH_SIG
	         "}",
	         "STH: \"sha256_root_hash\" is not 32 bytes of base64"},
	        {"missing_signature", "{\"tree_size\":1,\"timestamp\":1," STH_ROOT "}",
	         "STH: missing \"tree_head_signature\""},
	        {"signature_empty_digitally_signed",
	         "{\"tree_size\":1,\"timestamp\":1," STH_ROOT
	         ",\"tree_head_signature\":\"BAMAAA==\"}",
	         NULL},
	        {"signature_not_digitally_signed",
	         "{\"tree_size\":1,\"timestamp\":1," STH_ROOT
	         ",\"tree_head_signature\":\"BAMAAQ==\"}",
	         "STH: \"tree_head_signature\" is not a base64 DigitallySigned"},
	        {"signature_number",
	         "{\"tree_size\":1,\"timestamp\":1," STH_ROOT ",\"tree_head_signature\":4}",
	         "STH: bad \"tree_head_signature\""},
	};
	struct json_tok tok[JSON_SHAPE_TOKENS];
	uint8_t buf[64];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct json_sth sth;
		const char *why = NULL;
		size_t len = strlen(cases[i].json);
		int r = json_sth_parse(&sth, buf, sizeof buf, tok, JSON_SHAPE_TOKENS,
		                       guarded(cases[i].json, len), len, &why);
		if (!cases[i].reason) {
			/* 04 03 00 00: a well-formed DigitallySigned with an empty signature. */
			CHECK(r == 0 && sth.sig.len == 4, "%s: %d", cases[i].name, r);
			continue;
		}
		CHECK(r == -EBADMSG, "%s: %d", cases[i].name, r);
		CHECK(why && strcmp(why, cases[i].reason) == 0, "%s: \"%s\", want \"%s\"",
		      cases[i].name, why ? why : "(none)", cases[i].reason);
		CHECK(sth.tree_size == 0 && sth.sig.p == NULL, "%s: output zeroed", cases[i].name);
	}
}

int
main(void)
{
	RUN(rfc8259_cases_accepted_or_refused_with_reason);
	RUN(nesting_to_32_accepted_deeper_refused_cleanly);
	RUN(token_array_full_is_e2big_too_many_values);
	RUN(tokens_have_spans_counts_and_skip_indices);
	RUN(every_vector_json_file_tokenizes);
	RUN(obj_get_compares_unescaped_names_and_refuses_duplicates);
	RUN(str_read_unescapes_every_escape);
	RUN(b64_read_decodes_plain_and_escaped_strings);
	RUN(u64_reads_exact_unsigned_integers_only);
	RUN(add_chain_bodies_of_vector_chains_decode_to_their_der);
	RUN(add_chain_sixteen_certificates_accepted_seventeen_refused);
	RUN(add_chain_errors_have_their_reasons);
	RUN(sct_json_of_test_cert_proof_round_trips);
	RUN(sct_json_of_signature_vectors_round_trips_in_any_member_order);
	RUN(sct_json_errors_have_their_reasons);
	RUN(sth_json_of_real_get_sth_responses_parses);
	RUN(sth_json_of_signature_vectors_round_trips);
	RUN(sth_json_errors_have_their_reasons);
	return check_done();
}
