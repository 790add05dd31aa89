/* net/rd.c: the read path (net/rd.h).
 *
 * Every request starts from the latest signed head, read from the store (one LMDB read
 * transaction, renewed per call): its size bounds what the request may see. Proofs come from
 * the tiles through this rd's tlog reader (engine/tlog.h); entries from the data tiles, their
 * chains from the issuer store; get-proof-by-hash looks the leaf hash up in the lagging hash
 * index and, for leaves it does not cover yet (the rows of about the last second), scans the
 * level-0 hashes between the index's watermark and the tree size.
 */
#include "net/rd.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/b64.h"
#include "engine/ctenc.h"
#include "engine/hex.h"
#include "engine/merkle.h"
#include "engine/tiles.h"
#include "storage/store.h"

#define RD_QUERY_VALUE_MAX 256
#define RD_TEXT            "text/plain; charset=utf-8"
#define RD_JSON            "application/json"
#define RD_IMMUTABLE       RD_TILE_IMMUTABLE
#define RD_SHORT           "public, max-age=60"
#define RD_CHECKPOINT_CC   "public, max-age=1"

const char *const rd_endpoint_name[RD_EP_N] = {
        "get-sth",     "get-sth-consistency", "get-proof-by-hash",
        "get-entries", "get-entry-and-proof", "checkpoint",
        "tile",        "data-tile",           "issuer",
};

struct rd_buf {
	uint8_t *p;
	size_t len, cap;
};

struct rd_log {
	struct tlog *t;
	struct tlog_reader *rr;
	/* the latest head, as of this thread's last request; reused while the store's head
	 * counter (store_head_seq) stays at head_seq */
	struct store_head head;
	uint8_t head_buf[STORE_HEAD_MAX];
	uint64_t head_seq;
	bool head_ok;
	/* get-sth rendered for (size, timestamp) */
	char *sth_json;
	size_t sth_json_len;
	uint64_t sth_size, sth_ts;
	bool sth_valid;
};

/* A full tile in memory (struct rd_hold to callers). refs: one while the cache holds it, one
 * per answer in flight that sends it. */
struct rd_hold {
	struct rd_hold *chain;         /* the cache's hash bucket */
	struct rd_hold *newer, *older; /* the cache's use order */
	bool cached;
	bool data;
	uint8_t level;
	unsigned shard;
	uint64_t index;
	unsigned refs;
	size_t len;
	uint8_t bytes[];
};

#define RD_TC_BUCKETS 4096

struct rd_tcache {
	size_t cap, bytes;
	struct rd_hold *newest, *oldest;
	struct rd_hold *bucket[RD_TC_BUCKETS];
};

/* An open full data tile, for rd_data_tile_file(). */
struct rd_file_slot {
	int fd; /* -1: free */
	unsigned shard;
	uint64_t index, len;
	unsigned refs; /* answers sending it */
	uint64_t used; /* r->file_clock at its last use */
};

struct rd {
	struct rd_log *log;
	unsigned n;
	struct rd_file_slot files[RD_FILES];
	uint64_t file_clock;
	struct rd_tcache *tc; /* NULL: no tile cache */
	struct rd_buf out;    /* the answer */
	struct rd_buf extra;  /* one entry's extra_data */
	merkle_hash_t proof[MERKLE_MAX_PROOF];
};

/* ---- buffers ------------------------------------------------------------------------------ */

static int
buf_reserve(struct rd_buf *b, size_t more)
{
	if (more > RD_BODY_MAX + 4096 || b->len > RD_BODY_MAX + 4096 - more)
		return -E2BIG;
	if (b->len + more <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more)
		cap *= 2;
	uint8_t *p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

static int
buf_put(struct rd_buf *b, const void *p, size_t n)
{
	int rc = buf_reserve(b, n);
	if (rc == 0) {
		memcpy(b->p + b->len, p, n);
		b->len += n;
	}
	return rc;
}

static int
buf_str(struct rd_buf *b, const char *s)
{
	return buf_put(b, s, strlen(s));
}

static int
buf_b64(struct rd_buf *b, const uint8_t *p, size_t n)
{
	size_t e = B64_ENCODED_LEN(n);
	int rc = buf_reserve(b, e + 1); /* b64_encode writes a NUL */
	if (rc == 0)
		b->len += b64_encode((char *)b->p + b->len, p, n);
	return rc;
}

static int
buf_u64(struct rd_buf *b, uint64_t v)
{
	char s[24];
	int n = snprintf(s, sizeof s, "%" PRIu64, v);
	return buf_put(b, s, (size_t)n);
}

/* ---- answers ------------------------------------------------------------------------------ */

static void
answer(struct rd_resp *out, int status, const char *ctype, const char *cc, const void *body,
       size_t len)
{
	out->status = status;
	out->content_type = ctype;
	out->cache_control = cc;
	out->body = body;
	out->len = len;
	out->hold = NULL;
}

/* A one-line text answer; reason is static. */
static void
fail(struct rd_resp *out, int status, const char *reason)
{
	answer(out, status, RD_TEXT, NULL, reason, strlen(reason));
}

static void
json_done(struct rd *r, struct rd_resp *out, int rc)
{
	if (rc == 0)
		answer(out, 200, RD_JSON, NULL, r->out.p, r->out.len);
	else if (rc == -E2BIG)
		fail(out, 500, "answer too large\n");
	else
		fail(out, 503, "out of memory\n");
}

static void
store_failed(struct rd_resp *out, int rc)
{
	(void)rc;
	fail(out, 503, "log storage unavailable\n");
}

/* ---- query strings --------------------------------------------------------------------------- */

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Finds `name` in the query and percent-decodes its value into v (NUL-terminated). '+' stays
 * '+': base64 hashes sent without escaping keep their meaning. Returns the value's length,
 * -ENOENT when absent, -EEXIST when given twice, -EINVAL for a bad escape or a value longer
 * than RD_QUERY_VALUE_MAX - 1. */
static int
query_get(const char *q, size_t qlen, const char *name, char v[RD_QUERY_VALUE_MAX])
{
	size_t nlen = strlen(name);
	int found = -ENOENT;
	size_t i = 0;
	while (i <= qlen) {
		size_t j = i;
		while (j < qlen && q[j] != '&')
			j++;
		const char *eq = memchr(q + i, '=', j - i);
		size_t klen = eq ? (size_t)(eq - (q + i)) : j - i;
		if (klen == nlen && memcmp(q + i, name, nlen) == 0) {
			if (found >= 0)
				return -EEXIST;
			size_t o = 0;
			for (const char *p = eq ? eq + 1 : q + j; p < q + j; p++) {
				int c = (unsigned char)*p;
				if (c == '%') {
					if (q + j - p < 3 || hexval(p[1]) < 0 || hexval(p[2]) < 0)
						return -EINVAL;
					c = hexval(p[1]) << 4 | hexval(p[2]);
					p += 2;
				}
				if (o + 1 >= RD_QUERY_VALUE_MAX)
					return -EINVAL;
				v[o++] = (char)c;
			}
			v[o] = 0;
			found = (int)o;
		}
		i = j + 1;
	}
	return found;
}

/* A decimal parameter: digits only, at most 2^63 - 1. On failure *why names the problem. */
static int
query_u64(const char *q, size_t qlen, const char *name, uint64_t *out, const char **why)
{
	char v[RD_QUERY_VALUE_MAX];
	int n = query_get(q, qlen, name, v);
	static const char *const missing[] = {
	        "missing parameter first\n",     "missing parameter second\n",
	        "missing parameter tree_size\n", "missing parameter start\n",
	        "missing parameter end\n",       "missing parameter leaf_index\n"};
	static const char *const bad[] = {
	        "first is not a decimal number\n",     "second is not a decimal number\n",
	        "tree_size is not a decimal number\n", "start is not a decimal number\n",
	        "end is not a decimal number\n",       "leaf_index is not a decimal number\n"};
	static const char *const names[] = {"first", "second", "tree_size",
	                                    "start", "end",    "leaf_index"};
	unsigned k = 0;
	while (k < 5 && strcmp(names[k], name) != 0)
		k++;
	if (n == -ENOENT) {
		*why = missing[k];
		return -EINVAL;
	}
	if (n <= 0 || n > 19) {
		*why = n == -EEXIST ? "a parameter is given twice\n" : bad[k];
		return -EINVAL;
	}
	uint64_t x = 0;
	for (int i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9') {
			*why = bad[k];
			return -EINVAL;
		}
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	if (x > (uint64_t)INT64_MAX || (n > 1 && v[0] == '0')) {
		*why = bad[k];
		return -EINVAL;
	}
	*out = x;
	return 0;
}

/* ---- the head ------------------------------------------------------------------------------ */

/* Refreshes l->head from the store when a head was recorded since the last load: 0, or -errno
 * (-ENOENT: nothing signed yet). The counter is taken first, so a head recorded during the
 * read only makes the next request read again. */
static int
head_load(struct rd_log *l)
{
	uint64_t seq = store_head_seq(tlog_store(l->t));
	if (l->head_ok && l->head_seq == seq)
		return 0;
	int rc =
	        store_head_get(tlog_reader_store(l->rr), &l->head, l->head_buf, sizeof l->head_buf);
	l->head_ok = rc == 0;
	l->head_seq = seq;
	return rc;
}

/* Loads the head and answers 503 when it cannot; returns false then. */
static bool
head_or_fail(struct rd_log *l, struct rd_resp *out)
{
	int rc = head_load(l);
	if (rc == -ENOENT) {
		fail(out, 503, "no signed tree head yet\n");
		return false;
	}
	if (rc < 0) {
		store_failed(out, rc);
		return false;
	}
	return true;
}

static void
get_sth(struct rd *r, struct rd_log *l, struct rd_resp *out)
{
	if (!head_or_fail(l, out))
		return;
	const struct store_head *h = &l->head;
	if (!l->sth_valid || l->sth_size != h->size || l->sth_ts != h->timestamp) {
		struct rd_buf b = {0};
		int rc = buf_str(&b, "{\"tree_size\":");
		rc = rc ? rc : buf_u64(&b, h->size);
		rc = rc ? rc : buf_str(&b, ",\"timestamp\":");
		rc = rc ? rc : buf_u64(&b, h->timestamp);
		rc = rc ? rc : buf_str(&b, ",\"sha256_root_hash\":\"");
		rc = rc ? rc : buf_b64(&b, h->root, sizeof h->root);
		rc = rc ? rc : buf_str(&b, "\",\"tree_head_signature\":\"");
		rc = rc ? rc : buf_b64(&b, h->sth, h->sth_len);
		rc = rc ? rc : buf_str(&b, "\"}");
		if (rc) {
			free(b.p);
			json_done(r, out, rc);
			return;
		}
		free(l->sth_json);
		l->sth_json = (char *)b.p;
		l->sth_json_len = b.len;
		l->sth_size = h->size;
		l->sth_ts = h->timestamp;
		l->sth_valid = true;
	}
	answer(out, 200, RD_JSON, NULL, l->sth_json, l->sth_json_len);
}

/* ---- proofs -------------------------------------------------------------------------------- */

static int
put_path(struct rd_buf *b, const merkle_hash_t *proof, size_t n)
{
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		rc = buf_str(b, i ? ",\"" : "\"");
		rc = rc ? rc : buf_b64(b, proof[i], MERKLE_HASH_LEN);
		rc = rc ? rc : buf_str(b, "\"");
	}
	return rc;
}

static void
get_sth_consistency(struct rd *r, struct rd_log *l, const char *q, size_t ql, struct rd_resp *out)
{
	uint64_t first, second;
	const char *why = NULL;
	if (query_u64(q, ql, "first", &first, &why) || query_u64(q, ql, "second", &second, &why))
		return fail(out, 400, why);
	if (!head_or_fail(l, out))
		return;
	if (second > l->head.size)
		return fail(out, 400, "second is beyond the latest signed tree head\n");
	if (first > second)
		return fail(out, 400, "first is greater than second\n");
	size_t n = 0;
	if (first > 0 && first < second) {
		struct merkle_source src = tlog_reader_source(l->rr, second);
		int rc = merkle_consistency_proof(&src, first, second, r->proof, &n);
		if (rc < 0)
			return store_failed(out, rc);
	}
	r->out.len = 0;
	int rc = buf_str(&r->out, "{\"consistency\":[");
	rc = rc ? rc : put_path(&r->out, r->proof, n);
	rc = rc ? rc : buf_str(&r->out, "]}");
	json_done(r, out, rc);
}

/* The index of the leaf with hash `h` in the tree of `size`: 0, -ENOENT, or -errno. */
static int
leaf_find(struct rd_log *l, const merkle_hash_t h, uint64_t size, uint64_t *index)
{
	struct store *st = tlog_store(l->t);
	uint64_t wm = store_index_watermark(st); /* before the lookup: rows below it are there */
	int rc = store_hash_get(tlog_reader_store(l->rr), h, index);
	if (rc == 0)
		return *index < size ? 0 : -ENOENT;
	if (rc != -ENOENT)
		return rc;
	/* Not in the index: it may lag the tree by about a second of entries. */
	if (wm >= size)
		return -ENOENT;
	struct merkle_source src = tlog_reader_source(l->rr, size);
	for (uint64_t i = wm; i < size; i++) {
		merkle_hash_t x;
		rc = src.node(src.ctx, 0, i, x);
		if (rc < 0)
			return rc;
		if (memcmp(x, h, MERKLE_HASH_LEN) == 0) {
			*index = i;
			return 0;
		}
	}
	return -ENOENT;
}

static void
get_proof_by_hash(struct rd *r, struct rd_log *l, const char *q, size_t ql, struct rd_resp *out)
{
	char v[RD_QUERY_VALUE_MAX];
	uint64_t size;
	const char *why = NULL;
	int n = query_get(q, ql, "hash", v);
	if (n == -ENOENT)
		return fail(out, 400, "missing parameter hash\n");
	if (n == -EEXIST)
		return fail(out, 400, "a parameter is given twice\n");
	merkle_hash_t h;
	uint8_t dec[RD_QUERY_VALUE_MAX];
	long dl = n > 0 ? b64_decode(dec, sizeof dec, v, (size_t)n, NULL) : -EINVAL;
	if (dl != MERKLE_HASH_LEN)
		return fail(out, 400, "hash is not 32 bytes of base64\n");
	memcpy(h, dec, sizeof h);
	if (query_u64(q, ql, "tree_size", &size, &why))
		return fail(out, 400, why);
	if (size == 0)
		return fail(out, 400, "tree_size must be at least 1\n");
	if (!head_or_fail(l, out))
		return;
	if (size > l->head.size)
		return fail(out, 400, "tree_size is beyond the latest signed tree head\n");
	uint64_t index;
	int rc = leaf_find(l, h, size, &index);
	if (rc == -ENOENT)
		return fail(out, 404, "no leaf with that hash in the tree of that size\n");
	if (rc < 0)
		return store_failed(out, rc);
	size_t np = 0;
	struct merkle_source src = tlog_reader_source(l->rr, size);
	rc = merkle_inclusion_proof(&src, index, size, r->proof, &np);
	if (rc < 0)
		return store_failed(out, rc);
	r->out.len = 0;
	rc = buf_str(&r->out, "{\"leaf_index\":");
	rc = rc ? rc : buf_u64(&r->out, index);
	rc = rc ? rc : buf_str(&r->out, ",\"audit_path\":[");
	rc = rc ? rc : put_path(&r->out, r->proof, np);
	rc = rc ? rc : buf_str(&r->out, "]}");
	json_done(r, out, rc);
}

/* ---- entries ------------------------------------------------------------------------------- */

static void
put_u24(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 16);
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)v;
}

/* One ASN.1Cert (24-bit length, DER) of the issuer with fingerprint fp, appended to b. */
static int
put_issuer(struct rd_log *l, struct rd_buf *b, const uint8_t *fp)
{
	int rc = buf_reserve(b, 3 + STORE_ISSUER_MAX);
	if (rc)
		return rc;
	int n = store_issuer_get(tlog_reader_store(l->rr), fp, b->p + b->len + 3, STORE_ISSUER_MAX);
	if (n < 0)
		return n == -ENOENT ? -EBADMSG : n; /* a committed entry names a stored issuer */
	put_u24(b->p + b->len, (size_t)n);
	b->len += 3 + (size_t)n;
	return 0;
}

/* RFC 6962 section 4.6 extra_data of a TileLeaf into r->extra. */
static int
extra_data(struct rd *r, struct rd_log *l, const struct ctenc_tile_leaf *tl)
{
	struct rd_buf *b = &r->extra;
	b->len = 0;
	int rc = 0;
	if (tl->entry.type == CTENC_PRECERT_ENTRY) {
		uint8_t len[3];
		put_u24(len, tl->precert_len);
		rc = buf_put(b, len, 3);
		rc = rc ? rc : buf_put(b, tl->precert, tl->precert_len);
	}
	size_t at = b->len;
	rc = rc ? rc : buf_reserve(b, 3);
	if (rc)
		return rc;
	b->len += 3;
	for (size_t i = 0; i < tl->chain_n; i++)
		if ((rc = put_issuer(l, b, tl->chain + i * CTENC_HASH_LEN)) < 0)
			return rc;
	size_t list = b->len - at - 3;
	if (list > 0xffffff)
		return -EBADMSG;
	put_u24(b->p + at, list);
	return 0;
}

/* {"leaf_input":"...","extra_data":"..." (no closing brace) for one TileLeaf. */
static int
put_entry(struct rd *r, struct rd_log *l, const uint8_t *e, size_t len)
{
	struct ctenc_tile_leaf tl;
	long used = ctenc_tile_leaf_parse(&tl, e, len, NULL);
	if (used < 0 || (size_t)used != len)
		return -EBADMSG;
	int rc = extra_data(r, l, &tl);
	if (rc)
		return rc;
	/* leaf_input: MerkleTreeLeaf = version v1 (0), leaf_type timestamped_entry (0), te. The
	 * two zero bytes and te are encoded as one base64 run without copying: the first group
	 * takes 0, 0 and te[0]. */
	size_t need = B64_ENCODED_LEN(2 + tl.te_len) + B64_ENCODED_LEN(r->extra.len) + 40;
	if ((rc = buf_reserve(&r->out, need + 1)) != 0)
		return rc;
	rc = buf_str(&r->out, "{\"leaf_input\":\"");
	uint8_t head[3] = {0, 0, tl.te[0]};
	rc = rc ? rc : buf_b64(&r->out, head, 3);
	rc = rc ? rc : buf_b64(&r->out, tl.te + 1, tl.te_len - 1);
	rc = rc ? rc : buf_str(&r->out, "\",\"extra_data\":\"");
	rc = rc ? rc : buf_b64(&r->out, r->extra.p, r->extra.len);
	rc = rc ? rc : buf_str(&r->out, "\"");
	return rc;
}

struct entries_ctx {
	struct rd *r;
	struct rd_log *l;
	uint64_t n;
	int err;
};

static int
entries_one(void *ctx, uint64_t index, const uint8_t *e, size_t len)
{
	(void)index;
	struct entries_ctx *c = ctx;
	struct rd *r = c->r;
	if (c->n > 0 && r->out.len + 2 * len + 64 * 1024 > RD_BODY_MAX)
		return 1; /* full enough: fewer entries than asked, as RFC 6962 allows */
	size_t mark = r->out.len;
	int rc = buf_str(&r->out, c->n ? "," : "");
	rc = rc ? rc : put_entry(r, c->l, e, len);
	rc = rc ? rc : buf_str(&r->out, "}");
	if (rc == -E2BIG && c->n > 0) {
		r->out.len = mark;
		return 1;
	}
	if (rc) {
		c->err = rc;
		return rc;
	}
	c->n++;
	return 0;
}

static void
get_entries(struct rd *r, struct rd_log *l, const char *q, size_t ql, struct rd_resp *out)
{
	uint64_t start, end;
	const char *why = NULL;
	if (query_u64(q, ql, "start", &start, &why) || query_u64(q, ql, "end", &end, &why))
		return fail(out, 400, why);
	if (start > end)
		return fail(out, 400, "start is greater than end\n");
	if (!head_or_fail(l, out))
		return;
	if (start >= l->head.size)
		return fail(out, 400, "start is beyond the latest signed tree head\n");
	if (end >= l->head.size)
		end = l->head.size - 1;
	if (end - start >= RD_ENTRIES_MAX)
		end = start + RD_ENTRIES_MAX - 1;
	r->out.len = 0;
	int rc = buf_str(&r->out, "{\"entries\":[");
	if (rc)
		return json_done(r, out, rc);
	struct entries_ctx c = {r, l, 0, 0};
	rc = tlog_entries(l->rr, start, end + 1, entries_one, &c);
	if (rc < 0 || c.err)
		return c.err == -ENOMEM ? json_done(r, out, c.err) : store_failed(out, rc);
	rc = buf_str(&r->out, "]}");
	json_done(r, out, rc);
}

struct one_ctx {
	struct rd *r;
	struct rd_log *l;
	int rc;
};

static int
entry_one(void *ctx, uint64_t index, const uint8_t *e, size_t len)
{
	(void)index;
	struct one_ctx *c = ctx;
	c->rc = put_entry(c->r, c->l, e, len);
	return c->rc ? c->rc : 1;
}

static void
get_entry_and_proof(struct rd *r, struct rd_log *l, const char *q, size_t ql, struct rd_resp *out)
{
	uint64_t index, size;
	const char *why = NULL;
	if (query_u64(q, ql, "leaf_index", &index, &why) ||
	    query_u64(q, ql, "tree_size", &size, &why))
		return fail(out, 400, why);
	if (index >= size)
		return fail(out, 400, "leaf_index must be less than tree_size\n");
	if (!head_or_fail(l, out))
		return;
	if (size > l->head.size)
		return fail(out, 400, "tree_size is beyond the latest signed tree head\n");
	size_t np = 0;
	struct merkle_source src = tlog_reader_source(l->rr, size);
	int rc = merkle_inclusion_proof(&src, index, size, r->proof, &np);
	if (rc < 0)
		return store_failed(out, rc);
	r->out.len = 0;
	struct one_ctx c = {r, l, 0};
	rc = tlog_entries(l->rr, index, index + 1, entry_one, &c);
	if (c.rc == -ENOMEM || c.rc == -E2BIG)
		return json_done(r, out, c.rc);
	if (rc < 0 || c.rc < 0)
		return store_failed(out, rc < 0 ? rc : c.rc);
	rc = buf_str(&r->out, ",\"audit_path\":[");
	rc = rc ? rc : put_path(&r->out, r->proof, np);
	rc = rc ? rc : buf_str(&r->out, "]}");
	json_done(r, out, rc);
}

/* ---- static-ct-api ------------------------------------------------------------------------- */

static void
get_checkpoint(struct rd_log *l, struct rd_resp *out)
{
	if (!head_or_fail(l, out))
		return;
	answer(out, 200, RD_TEXT, RD_CHECKPOINT_CC, l->head.checkpoint, l->head.checkpoint_len);
}

/* ---- the tile cache ------------------------------------------------------------------------ */

void
rd_release(struct rd_hold *h)
{
	if (h && --h->refs == 0)
		free(h);
}

static unsigned
tc_bucket(unsigned shard, const struct tiles_id *id)
{
	uint64_t k = id->index * 0x9e3779b97f4a7c15ull ^
	             ((uint64_t)shard << 40 | (uint64_t)id->level << 8 | id->data);
	k ^= k >> 31;
	return (unsigned)(k * 0xbf58476d1ce4e5b9ull >> 52) % RD_TC_BUCKETS;
}

static void
tc_unlink_use(struct rd_tcache *c, struct rd_hold *h)
{
	if (h->newer)
		h->newer->older = h->older;
	else
		c->newest = h->older;
	if (h->older)
		h->older->newer = h->newer;
	else
		c->oldest = h->newer;
	h->newer = h->older = NULL;
}

static void
tc_push_newest(struct rd_tcache *c, struct rd_hold *h)
{
	h->older = c->newest;
	h->newer = NULL;
	if (c->newest)
		c->newest->newer = h;
	c->newest = h;
	if (!c->oldest)
		c->oldest = h;
}

static void
tc_drop(struct rd_tcache *c, struct rd_hold *h)
{
	struct rd_hold **p = &c->bucket[tc_bucket(
	        h->shard,
	        &(struct tiles_id){.index = h->index, .level = h->level, .data = h->data})];
	while (*p != h)
		p = &(*p)->chain;
	*p = h->chain;
	tc_unlink_use(c, h);
	c->bytes -= h->len;
	h->cached = false;
	rd_release(h);
}

static struct rd_hold *
tc_find(struct rd_tcache *c, unsigned shard, const struct tiles_id *id)
{
	for (struct rd_hold *h = c->bucket[tc_bucket(shard, id)]; h; h = h->chain)
		if (h->index == id->index && h->level == id->level && h->data == id->data &&
		    h->shard == shard) {
			tc_unlink_use(c, h);
			tc_push_newest(c, h);
			return h;
		}
	return NULL;
}

/* Reads the full tile at path (flen bytes, open as fd) into a new entry, caches it (dropping
 * the least recently used past the cap) and returns it with a reference for the caller. */
static int
tc_load(struct rd_tcache *c, unsigned shard, const struct tiles_id *id, int fd, size_t flen,
        struct rd_hold **out)
{
	struct rd_hold *h = malloc(sizeof *h + flen);
	if (!h)
		return -ENOMEM;
	ssize_t got = store_pread_all(fd, h->bytes, flen, 0);
	if (got < 0 || (size_t)got != flen) {
		free(h);
		return got < 0 ? (int)got : -EIO;
	}
	*h = (struct rd_hold){.cached = true,
	                      .data = id->data,
	                      .level = id->level,
	                      .shard = shard,
	                      .index = id->index,
	                      .refs = 2,
	                      .len = flen};
	unsigned b = tc_bucket(shard, id);
	h->chain = c->bucket[b];
	c->bucket[b] = h;
	tc_push_newest(c, h);
	c->bytes += flen;
	while (c->bytes > c->cap && c->oldest != h)
		tc_drop(c, c->oldest);
	*out = h;
	return 0;
}

static void
tile_answer(struct rd_resp *out, const struct tiles_id *id, const uint8_t *p, size_t len)
{
	answer(out, 200, RD_TILE_CONTENT_TYPE, id->width == TILES_WIDTH ? RD_IMMUTABLE : RD_SHORT,
	       p, len);
}

static void
get_tile(struct rd *r, struct rd_log *l, const char *path, size_t plen, struct rd_resp *out)
{
	struct tiles_id id;
	/* path is "/tile/..."; tiles_path_parse wants "tile/..." */
	if (tiles_path_parse(&id, path + 1, plen - 1, TILES_STATIC_CT_MAX_LEVEL) < 0)
		return fail(out, 404, "not found\n");
	if (!head_or_fail(l, out))
		return;
	/* Only tiles of the published tree: a full tile once the head covers it, a partial one
	 * of a width the published tree has reached. */
	unsigned w = tiles_width(l->head.size, id.level, id.index);
	if (w == 0 || id.width > w)
		return fail(out, 404, "not found\n");
	unsigned shard = (unsigned)(l - r->log);
	bool cacheable = r->tc && id.width == TILES_WIDTH;
	struct rd_hold *h = cacheable ? tc_find(r->tc, shard, &id) : NULL;
	if (h) {
		h->refs++;
		tile_answer(out, &id, h->bytes, h->len);
		out->hold = h;
		return;
	}
	char p[TILES_PATH_MAX + 1];
	if (plen - 1 > TILES_PATH_MAX)
		return fail(out, 404, "not found\n");
	memcpy(p, path + 1, plen - 1);
	p[plen - 1] = 0;
	struct store *st = tlog_store(l->t);
	uint64_t flen = 0;
	int fd = store_file_open(st, p, &flen);
	if (fd == -ENOENT)
		return fail(out, 404, "not found\n");
	if (fd < 0)
		return store_failed(out, fd);
	if (cacheable && flen <= r->tc->cap / 8) {
		int rc = tc_load(r->tc, shard, &id, fd, (size_t)flen, &h);
		close(fd);
		if (rc < 0)
			return rc == -ENOMEM ? fail(out, 503, "out of memory\n")
			                     : store_failed(out, rc);
		tile_answer(out, &id, h->bytes, h->len);
		out->hold = h;
		return;
	}
	int rc = flen > RD_BODY_MAX ? -E2BIG : 0;
	rc = rc ? rc : (r->out.len = 0, buf_reserve(&r->out, (size_t)flen));
	ssize_t got = rc ? rc : store_pread_all(fd, r->out.p, (size_t)flen, 0);
	close(fd);
	if (got < 0 || (uint64_t)got != flen)
		return got == -E2BIG ? fail(out, 500, "tile too large to serve\n")
		                     : store_failed(out, (int)got);
	tile_answer(out, &id, r->out.p, (size_t)flen);
}

/* ---- full data tiles as files ---------------------------------------------------------------- */

/* The slot to keep a newly opened tile in: a free one, else the least recently used that no
 * answer is sending (its file closed); NULL when every slot is being sent. */
static struct rd_file_slot *
file_victim(struct rd *r)
{
	struct rd_file_slot *v = NULL;
	for (unsigned i = 0; i < RD_FILES; i++) {
		struct rd_file_slot *f = &r->files[i];
		if (f->fd < 0)
			return f;
		if (f->refs == 0 && (!v || f->used < v->used))
			v = f;
	}
	if (v) {
		close(v->fd);
		v->fd = -1;
	}
	return v;
}

int
rd_data_tile_file(struct rd *r, unsigned shard, const char *path, size_t plen, struct rd_file *out)
{
	struct tiles_id id;
	if (shard >= r->n || rd_endpoint_of(path, plen) != RD_EP_DATA_TILE ||
	    plen - 1 > TILES_PATH_MAX ||
	    tiles_path_parse(&id, path + 1, plen - 1, TILES_STATIC_CT_MAX_LEVEL) < 0 || !id.data ||
	    id.width != TILES_WIDTH)
		return -EINVAL;
	struct rd_log *l = &r->log[shard];
	if (head_load(l) < 0 || tiles_width(l->head.size, id.level, id.index) != TILES_WIDTH)
		return -ENOENT; /* rd_get() says why: no head, or beyond the published tree */
	r->file_clock++;
	for (unsigned i = 0; i < RD_FILES; i++) {
		struct rd_file_slot *f = &r->files[i];
		if (f->fd >= 0 && f->shard == shard && f->index == id.index) {
			f->refs++;
			f->used = r->file_clock;
			*out = (struct rd_file){.fd = f->fd, .len = f->len, .slot = (int)i};
			return 0;
		}
	}
	char p[TILES_PATH_MAX + 1];
	memcpy(p, path + 1, plen - 1);
	p[plen - 1] = 0;
	uint64_t len = 0;
	int fd = store_file_open(tlog_store(l->t), p, &len);
	if (fd < 0)
		return fd;
	if (len > RD_BODY_MAX) {
		close(fd);
		return -E2BIG;
	}
	*out = (struct rd_file){.fd = fd, .len = len, .slot = -1};
	struct rd_file_slot *f = file_victim(r);
	if (f) {
		*f = (struct rd_file_slot){.fd = fd,
		                           .shard = shard,
		                           .index = id.index,
		                           .len = len,
		                           .refs = 1,
		                           .used = r->file_clock};
		out->slot = (int)(f - r->files);
	}
	return 0;
}

void
rd_file_release(struct rd *r, const struct rd_file *f)
{
	if (f->slot < 0)
		close(f->fd);
	else if (f->slot < RD_FILES && r->files[f->slot].refs > 0)
		r->files[f->slot].refs--;
}

static void
get_issuer(struct rd *r, struct rd_log *l, const char *hex, size_t hlen, struct rd_resp *out)
{
	uint8_t fp[CTENC_HASH_LEN];
	if (hlen != 2 * CTENC_HASH_LEN)
		return fail(out, 404, "not found\n");
	for (size_t i = 0; i < CTENC_HASH_LEN; i++) {
		int a = hexval(hex[2 * i]), b = hexval(hex[2 * i + 1]);
		if (a < 0 || b < 0 || (hex[2 * i] >= 'A' && hex[2 * i] <= 'F') ||
		    (hex[2 * i + 1] >= 'A' && hex[2 * i + 1] <= 'F'))
			return fail(out, 404, "not found\n"); /* one path per issuer: lowercase */
		fp[i] = (uint8_t)(a << 4 | b);
	}
	int rc = buf_reserve(&r->out, STORE_ISSUER_MAX);
	if (rc)
		return json_done(r, out, rc);
	int n = store_issuer_get(tlog_reader_store(l->rr), fp, r->out.p, STORE_ISSUER_MAX);
	if (n == -ENOENT)
		return fail(out, 404, "not found\n");
	if (n < 0)
		return store_failed(out, n);
	answer(out, 200, "application/pkix-cert", RD_IMMUTABLE, r->out.p, (size_t)n);
}

/* ---- routing ------------------------------------------------------------------------------- */

static bool
is(const char *p, size_t n, const char *s)
{
	size_t l = strlen(s);
	return n == l && memcmp(p, s, l) == 0;
}

static bool
has_prefix(const char *p, size_t n, const char *s)
{
	size_t l = strlen(s);
	return n >= l && memcmp(p, s, l) == 0;
}

enum rd_endpoint
rd_endpoint_of(const char *p, size_t n)
{
	if (is(p, n, "/ct/v1/get-sth"))
		return RD_EP_GET_STH;
	if (is(p, n, "/ct/v1/get-sth-consistency"))
		return RD_EP_GET_STH_CONSISTENCY;
	if (is(p, n, "/ct/v1/get-proof-by-hash"))
		return RD_EP_GET_PROOF_BY_HASH;
	if (is(p, n, "/ct/v1/get-entries"))
		return RD_EP_GET_ENTRIES;
	if (is(p, n, "/ct/v1/get-entry-and-proof"))
		return RD_EP_GET_ENTRY_AND_PROOF;
	if (is(p, n, "/checkpoint"))
		return RD_EP_CHECKPOINT;
	if (has_prefix(p, n, "/tile/data/"))
		return RD_EP_DATA_TILE;
	if (has_prefix(p, n, "/tile/"))
		return RD_EP_TILE;
	if (has_prefix(p, n, "/issuer/"))
		return RD_EP_ISSUER;
	return RD_EP_N;
}

bool
rd_is_read_path(const char *path, size_t len)
{
	return rd_endpoint_of(path, len) != RD_EP_N;
}

void
rd_get(struct rd *r, unsigned shard, bool get, const char *path, size_t plen, const char *query,
       size_t qlen, struct rd_resp *out)
{
	enum rd_endpoint ep = rd_endpoint_of(path, plen);
	if (shard >= r->n || ep == RD_EP_N)
		return fail(out, 404, "not found\n");
	if (!get)
		return fail(out, 405, "method not allowed\n");
	struct rd_log *l = &r->log[shard];
	switch (ep) {
	case RD_EP_GET_STH:
		return get_sth(r, l, out);
	case RD_EP_GET_STH_CONSISTENCY:
		return get_sth_consistency(r, l, query, qlen, out);
	case RD_EP_GET_PROOF_BY_HASH:
		return get_proof_by_hash(r, l, query, qlen, out);
	case RD_EP_GET_ENTRIES:
		return get_entries(r, l, query, qlen, out);
	case RD_EP_GET_ENTRY_AND_PROOF:
		return get_entry_and_proof(r, l, query, qlen, out);
	case RD_EP_CHECKPOINT:
		return get_checkpoint(l, out);
	case RD_EP_TILE:
	case RD_EP_DATA_TILE:
		return get_tile(r, l, path, plen, out);
	case RD_EP_ISSUER:
		return get_issuer(r, l, path + 8, plen - 8, out);
	case RD_EP_N:
		break;
	}
	fail(out, 404, "not found\n");
}

/* ---- open and close ------------------------------------------------------------------------ */

void
rd_close(struct rd *r)
{
	if (!r)
		return;
	for (unsigned i = 0; i < r->n; i++) {
		tlog_reader_close(r->log[i].rr);
		free(r->log[i].sth_json);
	}
	free(r->log);
	for (unsigned i = 0; i < RD_FILES; i++)
		if (r->files[i].fd >= 0)
			close(r->files[i].fd);
	if (r->tc)
		while (r->tc->oldest)
			tc_drop(r->tc, r->tc->oldest); /* entries still sent live on */
	free(r->tc);
	free(r->out.p);
	free(r->extra.p);
	free(r);
}

int
rd_open(struct rd **out, struct tlog *const *logs, unsigned n, size_t tile_cache_bytes)
{
	*out = NULL;
	struct rd *r = calloc(1, sizeof *r);
	if (!r)
		return -ENOMEM;
	for (unsigned i = 0; i < RD_FILES; i++)
		r->files[i].fd = -1;
	if (tile_cache_bytes > 0 && (r->tc = calloc(1, sizeof *r->tc)) != NULL)
		r->tc->cap = tile_cache_bytes;
	r->log = calloc(n ? n : 1, sizeof *r->log);
	if (!r->log || (tile_cache_bytes > 0 && !r->tc)) {
		rd_close(r);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < n; i++) {
		r->log[i].t = logs[i];
		int rc = tlog_reader_open(logs[i], &r->log[i].rr);
		if (rc < 0) {
			rd_close(r);
			return rc;
		}
		r->n = i + 1;
	}
	r->n = n;
	*out = r;
	return 0;
}
