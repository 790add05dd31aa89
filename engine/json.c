/* engine/json.c: see json.h. */
#include "engine/json.h"

#include <errno.h>
#include <string.h>

#include "engine/b64.h"

/* ---- tokenizer ---- */

enum json_state {
	JSON_WANT_VALUE,          /* at the top, after ':' or after ',' in an array */
	JSON_WANT_VALUE_OR_CLOSE, /* just after '[' */
	JSON_WANT_KEY,            /* after ',' in an object */
	JSON_WANT_KEY_OR_CLOSE,   /* just after '{' */
	JSON_WANT_COLON,          /* after a member name */
	JSON_AFTER_VALUE,         /* after a complete value */
};

static int
json_fail(struct json_doc *doc, size_t at, int err, const char *why, const char **reason)
{
	doc->n = 0;
	doc->error_at = at;
	if (reason)
		*reason = why;
	return err;
}

static bool
json_is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool
json_is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int
json_hex_digit(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The 4 hex digits at s[at..at+4) as a number, or -1 (also when they run past len). */
static long
json_hex4(const unsigned char *s, size_t len, size_t at)
{
	if (at > len || len - at < 4)
		return -1;
	long v = 0;
	for (size_t k = 0; k < 4; k++) {
		int d = json_hex_digit(s[at + k]);
		if (d < 0)
			return -1;
		v = v << 4 | d;
	}
	return v;
}

/* The length of the well-formed UTF-8 sequence at s[0..n) (n >= 1, s[0] >= 0x80), or 0. Refuses
 * overlong forms, surrogates (ED A0..BF) and anything above U+10FFFF (Unicode table 3-7). */
static size_t
json_utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t k;
	unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */
	if (c >= 0xc2 && c <= 0xdf) {
		k = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		k = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		k = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (n < k || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < k; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return k;
}

/* Bytes that stand for themselves inside a string: printable ASCII but '"' and '\\'. */
static const uint8_t json_plain[256] = {
        [0x20 ... 0x21] = 1,
        [0x23 ... 0x5b] = 1,
        [0x5d ... 0x7f] = 1,
};

/* Scans the string whose opening quote is at *pos. 0 with *pos just past the closing quote,
 * or -1 with *pos at the fault and *why set. */
static int
json_scan_string(const unsigned char *s, size_t len, size_t *pos, uint8_t *flags, const char **why)
{
	size_t p = *pos + 1;
	for (;;) {
		while (len - p >= 4 && json_plain[s[p]] && json_plain[s[p + 1]] &&
		       json_plain[s[p + 2]] && json_plain[s[p + 3]])
			p += 4;
		while (p < len && json_plain[s[p]])
			p++;
		if (p == len) {
			*why = "JSON: unterminated string";
			goto fail;
		}
		unsigned char c = s[p];
		if (c == '"') {
			*pos = p + 1;
			return 0;
		}
		if (c == '\\') {
			*flags |= JSON_F_ESCAPED;
			if (p + 1 == len) {
				*why = "JSON: unterminated string";
				goto fail;
			}
			switch (s[p + 1]) {
			case '"':
			case '\\':
			case '/':
			case 'b':
			case 'f':
			case 'n':
			case 'r':
			case 't':
				p += 2;
				continue;
			case 'u':
				break;
			default:
				*why = "JSON: invalid escape in a string";
				goto fail;
			}
			long u = json_hex4(s, len, p + 2);
			if (u < 0) {
				*why = "JSON: bad \\u escape";
				goto fail;
			}
			if (u >= 0xdc00 && u <= 0xdfff) {
				*why = "JSON: lone surrogate in a \\u escape";
				goto fail;
			}
			if (u < 0xd800 || u > 0xdbff) {
				p += 6;
				continue;
			}
			/* A high surrogate: a low one must follow at once. */
			long lo = -1;
			if (len - p >= 8 && s[p + 6] == '\\' && s[p + 7] == 'u')
				lo = json_hex4(s, len, p + 8);
			if (lo < 0xdc00 || lo > 0xdfff) {
				*why = "JSON: lone surrogate in a \\u escape";
				goto fail;
			}
			p += 12;
			continue;
		}
		if (c < 0x20) {
			*why = "JSON: control character in a string";
			goto fail;
		}
		size_t k = json_utf8_len(s + p, len - p);
		if (k == 0) {
			*why = "JSON: invalid UTF-8 in a string";
			goto fail;
		}
		p += k;
	}
fail:
	*pos = p;
	return -1;
}

/* Scans the number starting at *pos. 0 with *pos past it, or -1 with *pos at the fault. */
static int
json_scan_number(const unsigned char *s, size_t len, size_t *pos, const char **why)
{
	size_t p = *pos;
	if (s[p] == '-')
		p++;
	if (p == len || !json_is_digit(s[p])) {
		*why = "JSON: number without digits";
		goto fail;
	}
	if (s[p] == '0') {
		p++;
		if (p < len && json_is_digit(s[p])) {
			*why = "JSON: number with a leading zero";
			goto fail;
		}
	} else {
		while (p < len && json_is_digit(s[p]))
			p++;
	}
	if (p < len && s[p] == '.') {
		p++;
		if (p == len || !json_is_digit(s[p])) {
			*why = "JSON: number without digits after '.'";
			goto fail;
		}
		while (p < len && json_is_digit(s[p]))
			p++;
	}
	if (p < len && (s[p] == 'e' || s[p] == 'E')) {
		p++;
		if (p < len && (s[p] == '+' || s[p] == '-'))
			p++;
		if (p == len || !json_is_digit(s[p])) {
			*why = "JSON: number without digits in its exponent";
			goto fail;
		}
		while (p < len && json_is_digit(s[p]))
			p++;
	}
	*pos = p;
	return 0;
fail:
	*pos = p;
	return -1;
}

int
json_parse(struct json_doc *doc, struct json_tok *tok, size_t cap, const char *text, size_t len,
           const char **reason)
{
	const unsigned char *s = (const unsigned char *)text;
	uint32_t stack[JSON_DEPTH_MAX]; /* open containers, innermost last */
	unsigned depth = 0;
	uint32_t n = 0;
	size_t pos = 0;
	enum json_state state = JSON_WANT_VALUE;
	const char *why;

	doc->text = text;
	doc->len = len;
	doc->tok = tok;
	doc->n = 0;
	doc->error_at = 0;
	if (len > JSON_LEN_MAX)
		return json_fail(doc, 0, -E2BIG, "JSON: input larger than 4 GiB", reason);
	if (cap > UINT32_MAX)
		cap = UINT32_MAX;
	if (len >= 3 && s[0] == 0xef && s[1] == 0xbb && s[2] == 0xbf)
		return json_fail(doc, 0, -EBADMSG, "JSON: byte order mark", reason);

	/* Each pass consumes one token or one punctuation mark, so the loop ends within len
	 * passes after the whitespace. */
	for (;;) {
		while (pos < len && json_is_ws(s[pos]))
			pos++;
		if (pos == len) {
			if (state == JSON_AFTER_VALUE && depth == 0)
				break;
			return json_fail(doc, pos, -EBADMSG,
			                 n == 0 ? "JSON: empty input"
			                        : "JSON: unexpected end of input",
			                 reason);
		}
		unsigned char c = s[pos];
		struct json_tok *parent = depth > 0 ? &tok[stack[depth - 1]] : NULL;
		bool in_object = parent && parent->type == JSON_OBJECT;

		if (state == JSON_WANT_COLON) {
			if (c != ':')
				return json_fail(doc, pos, -EBADMSG,
				                 "JSON: expected ':' after a member name", reason);
			pos++;
			state = JSON_WANT_VALUE;
			continue;
		}
		if (state == JSON_AFTER_VALUE) {
			if (!parent)
				return json_fail(doc, pos, -EBADMSG,
				                 "JSON: trailing data after the value", reason);
			if (c == ',') {
				pos++;
				state = in_object ? JSON_WANT_KEY : JSON_WANT_VALUE;
				continue;
			}
			if (c != (in_object ? '}' : ']'))
				return json_fail(doc, pos, -EBADMSG,
				                 in_object
				                         ? "JSON: expected ',' or '}' in an object"
				                         : "JSON: expected ',' or ']' in an array",
				                 reason);
			goto close;
		}
		if ((state == JSON_WANT_VALUE_OR_CLOSE && c == ']') ||
		    (state == JSON_WANT_KEY_OR_CLOSE && c == '}'))
			goto close;

		/* A value or a member name. */
		bool key = state == JSON_WANT_KEY || state == JSON_WANT_KEY_OR_CLOSE;
		if (key && c != '"')
			return json_fail(doc, pos, -EBADMSG,
			                 c == '}' ? "JSON: trailing comma in an object"
			                          : "JSON: expected a member name string",
			                 reason);
		if (parent && !in_object && c == ']')
			return json_fail(doc, pos, -EBADMSG, "JSON: trailing comma in an array",
			                 reason);
		if (n == cap)
			return json_fail(doc, pos, -E2BIG, "too many JSON values", reason);
		struct json_tok *t = &tok[n];
		t->start = (uint32_t)pos;
		t->count = 0;
		t->flags = 0;
		t->next = n + 1;
		if (parent && (key || !in_object))
			parent->count++;
		n++;
		switch (c) {
		case '{':
		case '[':
			if (depth == JSON_DEPTH_MAX)
				return json_fail(doc, pos, -E2BIG,
				                 "JSON: nested deeper than 32 levels", reason);
			t->type = c == '{' ? JSON_OBJECT : JSON_ARRAY;
			stack[depth++] = n - 1;
			pos++;
			state = c == '{' ? JSON_WANT_KEY_OR_CLOSE : JSON_WANT_VALUE_OR_CLOSE;
			continue;
		case '"':
			t->type = JSON_STRING;
			if (json_scan_string(s, len, &pos, &t->flags, &why) < 0)
				return json_fail(doc, pos, -EBADMSG, why, reason);
			state = key ? JSON_WANT_COLON : JSON_AFTER_VALUE;
			break;
		case '-':
		case '0':
		case '1':
		case '2':
		case '3':
		case '4':
		case '5':
		case '6':
		case '7':
		case '8':
		case '9':
			t->type = JSON_NUMBER;
			if (json_scan_number(s, len, &pos, &why) < 0)
				return json_fail(doc, pos, -EBADMSG, why, reason);
			state = JSON_AFTER_VALUE;
			break;
		case 't':
		case 'f':
		case 'n': {
			const char *lit = c == 't' ? "true" : c == 'f' ? "false" : "null";
			size_t k = strlen(lit);
			if (len - pos < k || memcmp(s + pos, lit, k) != 0)
				return json_fail(doc, pos, -EBADMSG,
				                 "JSON: bad literal (not true, false or null)",
				                 reason);
			t->type = c == 't' ? JSON_TRUE : c == 'f' ? JSON_FALSE : JSON_NULL;
			pos += k;
			state = JSON_AFTER_VALUE;
			break;
		}
		default:
			return json_fail(doc, pos, -EBADMSG, "JSON: unexpected character", reason);
		}
		t->end = (uint32_t)pos;
		continue;
	close:
		parent->end = (uint32_t)(pos + 1);
		parent->next = n;
		depth--;
		pos++;
		state = JSON_AFTER_VALUE;
	}
	doc->n = n;
	return 0;
}

/* ---- reading tokens ---- */

static int
json_err(int err, const char *why, const char **reason)
{
	if (reason)
		*reason = why;
	return err;
}

static bool
json_is(const struct json_doc *doc, uint32_t i, enum json_type type)
{
	return i < doc->n && doc->tok[i].type == type;
}

/* Decodes one character of the body of a string the tokenizer accepted, at s[*p]: writes its
 * UTF-8 bytes to out and returns their count (1..4), advancing *p past it. A raw multi-byte
 * character comes out one byte per call. */
static unsigned
json_unescape_one(const unsigned char *s, size_t len, size_t *p, uint8_t out[4])
{
	size_t i = *p;
	if (s[i] != '\\') {
		out[0] = s[i];
		*p = i + 1;
		return 1;
	}
	*p = i + 2;
	switch (s[i + 1]) {
	case 'b':
		out[0] = '\b';
		return 1;
	case 'f':
		out[0] = '\f';
		return 1;
	case 'n':
		out[0] = '\n';
		return 1;
	case 'r':
		out[0] = '\r';
		return 1;
	case 't':
		out[0] = '\t';
		return 1;
	case 'u':
		break;
	default: /* '"', '\\', '/' */
		out[0] = s[i + 1];
		return 1;
	}
	unsigned long cp = (unsigned long)json_hex4(s, len, i + 2);
	*p = i + 6;
	if (cp >= 0xd800 && cp <= 0xdbff) {
		unsigned long lo = (unsigned long)json_hex4(s, len, i + 8);
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		*p = i + 12;
	}
	if (cp < 0x80) {
		out[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (uint8_t)(0xc0 | cp >> 6);
		out[1] = (uint8_t)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (uint8_t)(0xe0 | cp >> 12);
		out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (uint8_t)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (uint8_t)(0xf0 | cp >> 18);
	out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (uint8_t)(0x80 | (cp & 0x3f));
	return 4;
}

bool
json_str_equal(const struct json_doc *doc, uint32_t i, const char *str, size_t n)
{
	if (!json_is(doc, i, JSON_STRING))
		return false;
	const struct json_tok *t = &doc->tok[i];
	const unsigned char *s = (const unsigned char *)doc->text;
	size_t p = t->start + 1, e = t->end - 1;
	if (!(t->flags & JSON_F_ESCAPED))
		return e - p == n && memcmp(s + p, str, n) == 0;
	/* Unescaping never lengthens, so the loop runs at most e - p times. */
	size_t o = 0;
	while (p < e) {
		uint8_t u[4];
		unsigned k = json_unescape_one(s, e, &p, u);
		if (n - o < k || memcmp(str + o, u, k) != 0)
			return false;
		o += k;
	}
	return o == n;
}

long
json_str_read(const struct json_doc *doc, uint32_t i, char *out, size_t cap, const char **reason)
{
	if (!json_is(doc, i, JSON_STRING))
		return json_err(-EBADMSG, "JSON: expected a string", reason);
	const struct json_tok *t = &doc->tok[i];
	const unsigned char *s = (const unsigned char *)doc->text;
	size_t p = t->start + 1, e = t->end - 1;
	if (!(t->flags & JSON_F_ESCAPED)) {
		if (e - p > cap)
			return json_err(-ENOSPC, "JSON: string too long for its buffer", reason);
		memcpy(out, s + p, e - p);
		return (long)(e - p);
	}
	size_t o = 0;
	while (p < e) {
		uint8_t u[4];
		unsigned k = json_unescape_one(s, e, &p, u);
		if (cap - o < k)
			return json_err(-ENOSPC, "JSON: string too long for its buffer", reason);
		memcpy(out + o, u, k);
		o += k;
	}
	return (long)o;
}

long
json_b64_read(const struct json_doc *doc, uint32_t i, uint8_t *out, size_t cap, const char **reason)
{
	if (!json_is(doc, i, JSON_STRING))
		return json_err(-EBADMSG, "JSON: expected a base64 string", reason);
	const struct json_tok *t = &doc->tok[i];
	const unsigned char *s = (const unsigned char *)doc->text;
	size_t p = t->start + 1, e = t->end - 1;
	long r;
	if (!(t->flags & JSON_F_ESCAPED)) {
		r = b64_decode(out, cap, (const char *)s + p, e - p, NULL);
		goto done;
	}
	/* Escaped: unescape 256 characters at a time (a multiple of 4, so every piece but the
	 * last decodes on its own) and refuse padding anywhere but in the last piece. */
	char piece[256];
	size_t o = 0;
	bool padded = false;
	while (p < e) {
		size_t c = 0;
		while (p < e && c < sizeof piece) {
			uint8_t u[4];
			if (json_unescape_one(s, e, &p, u) != 1 || u[0] >= 0x80)
				return json_err(-EBADMSG, "JSON: bad base64", reason);
			piece[c++] = (char)u[0];
		}
		if (padded)
			return json_err(-EBADMSG, "JSON: bad base64", reason);
		r = b64_decode(out + o, cap - o, piece, c, NULL);
		if (r < 0)
			goto done;
		o += (size_t)r;
		padded = piece[c - 1] == '=';
	}
	r = (long)o;
done:
	if (r == -ENOSPC)
		return json_err(-ENOSPC, "JSON: base64 value too long for its buffer", reason);
	if (r < 0)
		return json_err(-EBADMSG, "JSON: bad base64", reason);
	return r;
}

int
json_u64(const struct json_doc *doc, uint32_t i, uint64_t *out, const char **reason)
{
	if (!json_is(doc, i, JSON_NUMBER))
		return json_err(-EBADMSG, "JSON: expected a number", reason);
	const struct json_tok *t = &doc->tok[i];
	const char *s = doc->text;
	uint64_t v = 0;
	if (s[t->start] == '-')
		return json_err(-EBADMSG, "JSON: negative number where an unsigned one is expected",
		                reason);
	for (size_t p = t->start; p < t->end; p++) {
		if (!json_is_digit((unsigned char)s[p]))
			return json_err(-EBADMSG, "JSON: number is not an integer", reason);
		unsigned d = (unsigned)(s[p] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return json_err(-EBADMSG, "JSON: integer above 2^64-1", reason);
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int
json_obj_get(const struct json_doc *doc, uint32_t obj, const char *key, uint32_t *val,
             const char **reason)
{
	if (!json_is(doc, obj, JSON_OBJECT))
		return json_err(-EBADMSG, "JSON: expected an object", reason);
	size_t klen = strlen(key);
	uint32_t k = obj + 1;
	bool found = false;
	for (uint32_t m = 0; m < doc->tok[obj].count; m++) {
		if (json_str_equal(doc, k, key, klen)) {
			if (found)
				return json_err(-EBADMSG, "JSON: duplicate member name", reason);
			found = true;
			*val = k + 1;
		}
		k = doc->tok[k + 1].next;
	}
	return found ? 0 : json_err(-ENOENT, "JSON: no such member", reason);
}

/* ---- CT shapes ---- */

int
json_chain_parse(struct json_chain *chain, uint8_t *buf, size_t cap, struct json_tok *tok,
                 size_t ntok, const char *body, size_t len, const char **reason)
{
	struct json_doc d;
	uint32_t arr;
	int r;
	const char *why;

	chain->n = 0;
	r = json_parse(&d, tok, ntok, body, len, reason);
	if (r < 0)
		return r;
	if (d.tok[0].type != JSON_OBJECT)
		return json_err(-EBADMSG, "request body is not a JSON object", reason);
	r = json_obj_get(&d, 0, "chain", &arr, NULL);
	if (r == -ENOENT)
		return json_err(-EBADMSG, "missing \"chain\"", reason);
	if (r < 0)
		return json_err(-EBADMSG, "duplicate \"chain\" member", reason);
	if (d.tok[arr].type != JSON_ARRAY)
		return json_err(-EBADMSG, "\"chain\" is not an array", reason);
	uint32_t count = d.tok[arr].count;
	if (count == 0)
		return json_err(-EBADMSG, "chain is empty", reason);
	if (count > JSON_CHAIN_MAX)
		return json_err(-E2BIG, "chain has more than 16 certificates", reason);

	size_t o = 0;
	uint32_t it = arr + 1;
	for (uint32_t i = 0; i < count; i++, it = d.tok[it].next) {
		if (d.tok[it].type != JSON_STRING) {
			r = json_err(-EBADMSG, "chain item is not a string", &why);
			goto fail;
		}
		long k = json_b64_read(&d, it, buf + o, cap - o, NULL);
		if (k == -ENOSPC) {
			r = json_err(-ENOSPC, "certificates larger than the buffer", &why);
			goto fail;
		}
		if (k < 0) {
			r = json_err(-EBADMSG, "chain item is not valid base64", &why);
			goto fail;
		}
		if (k == 0) {
			r = json_err(-EBADMSG, "chain item is an empty certificate", &why);
			goto fail;
		}
		chain->cert[i].p = buf + o;
		chain->cert[i].len = (size_t)k;
		o += (size_t)k;
	}
	chain->n = count;
	return 0;
fail:
	memset(chain, 0, sizeof *chain);
	if (reason)
		*reason = why;
	return r;
}

/* The value of a member every response must carry once, of the given type. */
static int
json_need(const struct json_doc *d, const char *key, enum json_type type, uint32_t *val,
          const char *missing, const char *dup, const char *bad, const char **why)
{
	int r = json_obj_get(d, 0, key, val, NULL);
	if (r == -ENOENT)
		return json_err(-EBADMSG, missing, why);
	if (r < 0)
		return json_err(-EBADMSG, dup, why);
	if (d->tok[*val].type != type)
		return json_err(-EBADMSG, bad, why);
	return 0;
}

#define JSON_NEED(d, key, type, val, prefix, why)                                                  \
	json_need(d, key, type, val, prefix "missing \"" key "\"", prefix "duplicate \"" key "\"", \
	          prefix "bad \"" key "\"", why)

/* A DigitallySigned: hash algorithm, signature algorithm, opaque signature<0..2^16-1>. */
static bool
json_digitally_signed(const uint8_t *p, size_t len)
{
	return len >= 4 && len == 4 + ((size_t)p[2] << 8 | p[3]);
}

/* A base64 member of exactly `want` bytes. */
static int
json_fixed_b64(const struct json_doc *d, uint32_t v, uint8_t *out, size_t want, const char *bad,
               const char **why)
{
	long k = json_b64_read(d, v, out, want, NULL);
	if (k != (long)want)
		return json_err(-EBADMSG, bad, why);
	return 0;
}

int
json_sct_parse(struct json_sct *sct, uint8_t *buf, size_t cap, struct json_tok *tok, size_t ntok,
               const char *text, size_t len, const char **reason)
{
	struct json_doc d;
	uint32_t v;
	uint64_t version;
	long k;
	int r;
	const char *why;

	memset(sct, 0, sizeof *sct);
	r = json_parse(&d, tok, ntok, text, len, &why);
	if (r < 0)
		goto fail;
	if (d.tok[0].type != JSON_OBJECT) {
		r = json_err(-EBADMSG, "SCT: response is not a JSON object", &why);
		goto fail;
	}
	if ((r = JSON_NEED(&d, "sct_version", JSON_NUMBER, &v, "SCT: ", &why)) < 0)
		goto fail;
	if (json_u64(&d, v, &version, NULL) < 0 || version != 0) {
		r = json_err(-EBADMSG, "SCT: sct_version is not 0 (v1)", &why);
		goto fail;
	}
	if ((r = JSON_NEED(&d, "id", JSON_STRING, &v, "SCT: ", &why)) < 0)
		goto fail;
	if ((r = json_fixed_b64(&d, v, sct->id, JSON_SCT_ID_LEN,
	                        "SCT: \"id\" is not 32 bytes of base64", &why)) < 0)
		goto fail;
	if ((r = JSON_NEED(&d, "timestamp", JSON_NUMBER, &v, "SCT: ", &why)) < 0)
		goto fail;
	if (json_u64(&d, v, &sct->timestamp, NULL) < 0) {
		r = json_err(-EBADMSG, "SCT: bad \"timestamp\"", &why);
		goto fail;
	}
	if ((r = JSON_NEED(&d, "extensions", JSON_STRING, &v, "SCT: ", &why)) < 0)
		goto fail;
	k = json_b64_read(&d, v, buf, cap, NULL);
	if (k == -ENOSPC) {
		r = json_err(-ENOSPC, "SCT: buffer too small", &why);
		goto fail;
	}
	if (k < 0 || k > JSON_SCT_EXT_MAX) {
		r = json_err(-EBADMSG, "SCT: bad \"extensions\"", &why);
		goto fail;
	}
	sct->ext.p = buf;
	sct->ext.len = (size_t)k;
	if ((r = JSON_NEED(&d, "signature", JSON_STRING, &v, "SCT: ", &why)) < 0)
		goto fail;
	k = json_b64_read(&d, v, buf + sct->ext.len, cap - sct->ext.len, NULL);
	if (k == -ENOSPC) {
		r = json_err(-ENOSPC, "SCT: buffer too small", &why);
		goto fail;
	}
	if (k < 0 || !json_digitally_signed(buf + sct->ext.len, (size_t)k)) {
		r = json_err(-EBADMSG, "SCT: \"signature\" is not a base64 DigitallySigned", &why);
		goto fail;
	}
	sct->sig.p = buf + sct->ext.len;
	sct->sig.len = (size_t)k;
	sct->version = 0;
	return 0;
fail:
	memset(sct, 0, sizeof *sct);
	if (reason)
		*reason = why;
	return r;
}

int
json_sth_parse(struct json_sth *sth, uint8_t *buf, size_t cap, struct json_tok *tok, size_t ntok,
               const char *text, size_t len, const char **reason)
{
	struct json_doc d;
	uint32_t v;
	long k;
	int r;
	const char *why;

	memset(sth, 0, sizeof *sth);
	r = json_parse(&d, tok, ntok, text, len, &why);
	if (r < 0)
		goto fail;
	if (d.tok[0].type != JSON_OBJECT) {
		r = json_err(-EBADMSG, "STH: response is not a JSON object", &why);
		goto fail;
	}
	if ((r = JSON_NEED(&d, "tree_size", JSON_NUMBER, &v, "STH: ", &why)) < 0)
		goto fail;
	if (json_u64(&d, v, &sth->tree_size, NULL) < 0) {
		r = json_err(-EBADMSG, "STH: bad \"tree_size\"", &why);
		goto fail;
	}
	if ((r = JSON_NEED(&d, "timestamp", JSON_NUMBER, &v, "STH: ", &why)) < 0)
		goto fail;
	if (json_u64(&d, v, &sth->timestamp, NULL) < 0) {
		r = json_err(-EBADMSG, "STH: bad \"timestamp\"", &why);
		goto fail;
	}
	if ((r = JSON_NEED(&d, "sha256_root_hash", JSON_STRING, &v, "STH: ", &why)) < 0)
		goto fail;
	if ((r = json_fixed_b64(&d, v, sth->root, JSON_SHA256_LEN,
	                        "STH: \"sha256_root_hash\" is not 32 bytes of base64", &why)) < 0)
		goto fail;
	if ((r = JSON_NEED(&d, "tree_head_signature", JSON_STRING, &v, "STH: ", &why)) < 0)
		goto fail;
	k = json_b64_read(&d, v, buf, cap, NULL);
	if (k == -ENOSPC) {
		r = json_err(-ENOSPC, "STH: buffer too small", &why);
		goto fail;
	}
	if (k < 0 || !json_digitally_signed(buf, (size_t)k)) {
		r = json_err(-EBADMSG,
		             "STH: \"tree_head_signature\" is not a base64 DigitallySigned", &why);
		goto fail;
	}
	sth->sig.p = buf;
	sth->sig.len = (size_t)k;
	return 0;
fail:
	memset(sth, 0, sizeof *sth);
	if (reason)
		*reason = why;
	return r;
}
