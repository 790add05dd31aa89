/* engine/json.h: Birch's strict, zero-copy JSON reader (RFC 8259), and the CT shapes built on
 * it: the RFC 6962 add-chain / add-pre-chain request body (submission hot path), and the SCT
 * and get-sth responses (tools, the monitor).
 *
 * Contract: pure functions over caller-owned buffers, any thread, no allocation, no syscall,
 * no recursion. The tokenizer writes into the caller's token array; tokens and every span
 * borrow the input text and live as long as it does. Nothing is read outside [text,
 * text + len); the text need not be NUL-terminated. Errors: 0 (or a length) on success, or a
 * negative errno with *reason a static string for an HTTP 400 body, never printed here:
 *   -EBADMSG  malformed JSON, or JSON of the wrong shape ("JSON: unterminated string");
 *   -E2BIG    a limit: more tokens than the caller's array ("too many JSON values"), nesting
 *             deeper than JSON_DEPTH_MAX, input above JSON_LEN_MAX, more than JSON_CHAIN_MAX
 *             certificates;
 *   -ENOSPC   a caller's output buffer too small (B64_DECODED_MAX(len) bytes always suffice
 *             for the base64 shapes);
 *   -ENOENT   json_obj_get only: no such member.
 * Every function that takes a `reason` accepts NULL.
 *
 * What the tokenizer accepts is exactly RFC 8259 JSON-text: one value with optional
 * surrounding whitespace (space, tab, LF, CR); no byte order mark, no trailing data, no
 * trailing commas, no comments, no leading zeros, no '+', no bare '.', no NaN; strings of valid
 * UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF), no raw control characters,
 * only the escapes \" \\ \/ \b \f \n \r \t \uXXXX, and \u surrogates only as a high-low pair.
 * Duplicate member names are allowed by the tokenizer (RFC 8259 leaves them open) but every
 * lookup through json_obj_get() rejects a duplicate of the name it looks up.
 */
#ifndef BIRCH_ENGINE_JSON_H
#define BIRCH_ENGINE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_DEPTH_MAX 32           /* arrays/objects nested deeper: -E2BIG */
#define JSON_LEN_MAX   0xfffffffful /* token offsets are 32-bit */

enum json_type {
	JSON_OBJECT = 1,
	JSON_ARRAY,
	JSON_STRING,
	JSON_NUMBER,
	JSON_TRUE,
	JSON_FALSE,
	JSON_NULL,
};

#define JSON_F_ESCAPED 0x01 /* string token: has at least one backslash escape */

/* One value. Its text is [start, end): a string's span includes both quotes, a container's
 * both brackets. The tokens of a container's contents follow it in document order; `next` is
 * the index just past the container and everything in it, so the items of container i are
 * i + 1, tok[i + 1].next, ... (count of them), and an object's items alternate member name
 * (a string token) and value: count is the number of members. */
struct json_tok {
	uint32_t start, end;
	uint32_t next;
	uint32_t count; /* items of an array, members of an object; 0 for scalars */
	uint8_t type;   /* enum json_type */
	uint8_t flags;  /* JSON_F_* */
};

/* A tokenized document: borrows the text and the token array. tok[0] is the root value. */
struct json_doc {
	const char *text;
	size_t len;
	const struct json_tok *tok;
	uint32_t n;      /* tokens used */
	size_t error_at; /* after a failed json_parse: the offset where it stopped */
};

/* Tokenizes text[0..len) into tok[0..cap). 0, or -EBADMSG / -E2BIG with *reason. On failure
 * doc->n is 0 and doc->error_at the offset of the byte at fault. */
__attribute__((warn_unused_result)) int json_parse(struct json_doc *doc, struct json_tok *tok,
                                                   size_t cap, const char *text, size_t len,
                                                   const char **reason);

/* The value of member `key` (NUL-terminated, compared with the member name after unescaping)
 * of object token obj: *val gets its token index. 0; -ENOENT when absent; -EBADMSG when the
 * name occurs more than once ("JSON: duplicate member name") or obj is not an object. */
__attribute__((warn_unused_result)) int json_obj_get(const struct json_doc *doc, uint32_t obj,
                                                     const char *key, uint32_t *val,
                                                     const char **reason);

/* Whether string token i, unescaped, equals s[0..n). False for a token that is not a string. */
bool json_str_equal(const struct json_doc *doc, uint32_t i, const char *s, size_t n);

/* Writes string token i, unescaped (as UTF-8; \u0000 gives a NUL byte), to out, without a NUL
 * terminator. Returns its length (at most the raw length, end - start - 2), -EBADMSG when i is
 * not a string, or -ENOSPC when it does not fit in cap. */
__attribute__((warn_unused_result)) long json_str_read(const struct json_doc *doc, uint32_t i,
                                                       char *out, size_t cap, const char **reason);

/* Decodes string token i as strict base64 (engine/b64.h) into out. A string without escapes
 * is decoded in place from the input; one with escapes (a JSON encoder may write '/' as "\/")
 * is unescaped piecewise on the stack, and any non-ASCII character is rejected. Returns the
 * byte count, -EBADMSG (not a string, not base64), or -ENOSPC. */
__attribute__((warn_unused_result)) long json_b64_read(const struct json_doc *doc, uint32_t i,
                                                       uint8_t *out, size_t cap,
                                                       const char **reason);

/* Reads number token i as an unsigned 64-bit integer, exactly: digits only (no '-', fraction
 * or exponent, so "1e3", "1.0" and "-0" are refused), overflow refused. 0 or -EBADMSG. */
__attribute__((warn_unused_result)) int json_u64(const struct json_doc *doc, uint32_t i,
                                                 uint64_t *out, const char **reason);

/* ---- CT shapes ---- */

#define JSON_CHAIN_MAX 16 /* certificates in one add-chain / add-pre-chain body */
/* Tokens an add-chain body of JSON_CHAIN_MAX + 1 certificates needs (object, name, array,
 * items), so that a 17th certificate reports as such; extra members need more. */
#define JSON_CHAIN_TOKENS_MIN (3 + JSON_CHAIN_MAX + 1)

struct json_span {
	const uint8_t *p;
	size_t len;
};

struct json_chain {
	size_t n;                              /* 1..JSON_CHAIN_MAX */
	struct json_span cert[JSON_CHAIN_MAX]; /* DER, in order, pointing into the caller's buf */
};

/* Parses an RFC 6962 add-chain or add-pre-chain body {"chain": ["<base64 DER>", ...]} of len
 * bytes, tokenizing into tok[0..ntok), and decodes every certificate into buf[0..cap), one
 * after the other. Members other than "chain" are ignored (clients may send more); a second
 * "chain" is refused. Each certificate must be non-empty base64. The caller bounds len (the
 * HTTP layer's body limit). 0, or -EBADMSG / -E2BIG / -ENOSPC with *reason; on failure
 * chain->n is 0. cap = B64_DECODED_MAX(len) always suffices. */
__attribute__((warn_unused_result)) int json_chain_parse(struct json_chain *chain, uint8_t *buf,
                                                         size_t cap, struct json_tok *tok,
                                                         size_t ntok, const char *body, size_t len,
                                                         const char **reason);

#define JSON_SCT_ID_LEN   32
#define JSON_SCT_EXT_MAX  65535 /* opaque CtExtensions<0..2^16-1> */
#define JSON_SCT_SIG_MAX  (4 + 65535)
#define JSON_SHA256_LEN   32
#define JSON_SHAPE_TOKENS 64 /* tokens for an SCT or STH response with a few extra members */

/* The RFC 6962 section 4.1 response:
 * {"sct_version":0,"id":"<b64, 32 bytes>","timestamp":N,"extensions":"<b64>",
 *  "signature":"<b64 DigitallySigned>"}. All five members are required, each at most once;
 * others are ignored. sct_version must be 0 (v1). The signature must be a well-formed
 * DigitallySigned (hash byte, signature byte, 16-bit length, that many bytes). */
struct json_sct {
	uint8_t version;
	uint8_t id[JSON_SCT_ID_LEN];
	uint64_t timestamp;
	struct json_span ext; /* into the caller's buf; may be empty */
	struct json_span sig; /* into the caller's buf, after ext */
};

/* Parses an SCT response of len bytes, tokenizing into tok[0..ntok). 0 or a negative errno
 * with *reason. */
__attribute__((warn_unused_result)) int json_sct_parse(struct json_sct *sct, uint8_t *buf,
                                                       size_t cap, struct json_tok *tok,
                                                       size_t ntok, const char *text, size_t len,
                                                       const char **reason);

/* The RFC 6962 section 4.3 get-sth response:
 * {"tree_size":N,"timestamp":N,"sha256_root_hash":"<b64, 32 bytes>",
 *  "tree_head_signature":"<b64 DigitallySigned>"}, with the same rules as json_sct. */
struct json_sth {
	uint64_t tree_size;
	uint64_t timestamp;
	uint8_t root[JSON_SHA256_LEN];
	struct json_span sig; /* into the caller's buf */
};

__attribute__((warn_unused_result)) int json_sth_parse(struct json_sth *sth, uint8_t *buf,
                                                       size_t cap, struct json_tok *tok,
                                                       size_t ntok, const char *text, size_t len,
                                                       const char **reason);

#endif
