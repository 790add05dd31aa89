/* engine/ctenc.c: RFC 6962 / static-ct-api encodings. See ctenc.h for the contract. */
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA256_Init/Update/Final: no allocation, no fetch */
#include "engine/ctenc.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <openssl/sha.h>

#include "engine/b64.h"

/* ---- output: a buffer whose room was checked up front, or a running hash ---- */

struct sink {
	uint8_t *out;   /* buffer mode: room for every byte was checked before writing */
	size_t len;     /* bytes put so far */
	SHA256_CTX *sh; /* hash mode when not NULL */
};

static void
put(struct sink *s, const void *p, size_t n)
{
	if (n == 0)
		return;
	if (s->sh)
		SHA256_Update(s->sh, p, n);
	else
		memcpy(s->out + s->len, p, n);
	s->len += n;
}

static void
put_be(struct sink *s, uint64_t v, unsigned bytes)
{
	uint8_t b[8];
	for (unsigned i = 0; i < bytes; i++)
		b[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
	put(s, b, bytes);
}

static void
store_be(uint8_t *p, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
}

/* ---- input: a bounded reader ---- */

struct rd {
	const uint8_t *p;
	size_t n;
};

static bool
rd_be(struct rd *r, unsigned bytes, uint64_t *v)
{
	if (r->n < bytes)
		return false;
	uint64_t x = 0;
	for (unsigned i = 0; i < bytes; i++)
		x = x << 8 | r->p[i];
	r->p += bytes;
	r->n -= bytes;
	*v = x;
	return true;
}

static bool
rd_bytes(struct rd *r, size_t len, const uint8_t **out)
{
	if (r->n < len)
		return false;
	*out = r->p;
	r->p += len;
	r->n -= len;
	return true;
}

/* A vector with a `bytes`-byte length prefix. */
static bool
rd_vec(struct rd *r, unsigned bytes, const uint8_t **out, size_t *len)
{
	uint64_t l;
	if (!rd_be(r, bytes, &l) || !rd_bytes(r, (size_t)l, out))
		return false;
	*len = (size_t)l;
	return true;
}

static int
fail(const char **reason, const char *why)
{
	if (reason)
		*reason = why;
	return -EBADMSG;
}

/* ---- hashing ---- */

void
ctenc_sha256(uint8_t out[CTENC_HASH_LEN], const uint8_t *in, size_t len)
{
	SHA256_CTX c;
	SHA256_Init(&c);
	if (len)
		SHA256_Update(&c, in, len);
	SHA256_Final(out, &c);
}

/* ---- TimestampedEntry ---- */

static bool
entry_ok(const struct ctenc_entry *e)
{
	if (e->type != CTENC_X509_ENTRY && e->type != CTENC_PRECERT_ENTRY)
		return false;
	if (e->cert == NULL || e->cert_len == 0 || e->cert_len > CTENC_CERT_MAX)
		return false;
	if (e->ext_len > CTENC_EXT_MAX || (e->ext_len > 0 && e->ext == NULL))
		return false;
	return true;
}

static size_t
te_len(const struct ctenc_entry *e)
{
	size_t n = 8 + 2 + 3 + e->cert_len + 2 + e->ext_len;
	if (e->type == CTENC_PRECERT_ENTRY)
		n += CTENC_HASH_LEN;
	return n;
}

static void
emit_te(struct sink *s, const struct ctenc_entry *e)
{
	put_be(s, e->timestamp, 8);
	put_be(s, (uint64_t)e->type, 2);
	if (e->type == CTENC_PRECERT_ENTRY)
		put(s, e->issuer_key_hash, CTENC_HASH_LEN);
	put_be(s, e->cert_len, 3);
	put(s, e->cert, e->cert_len);
	put_be(s, e->ext_len, 2);
	put(s, e->ext, e->ext_len);
}

long
ctenc_timestamped_entry_len(const struct ctenc_entry *e)
{
	return entry_ok(e) ? (long)te_len(e) : -EINVAL;
}

long
ctenc_leaf_len(const struct ctenc_entry *e)
{
	return entry_ok(e) ? (long)(2 + te_len(e)) : -EINVAL;
}

long
ctenc_timestamped_entry(uint8_t *out, size_t cap, const struct ctenc_entry *e)
{
	if (!entry_ok(e))
		return -EINVAL;
	if (te_len(e) > cap)
		return -ENOSPC;
	struct sink s = {.out = out};
	emit_te(&s, e);
	return (long)s.len;
}

/* MerkleTreeLeaf and the SCT signature input share their bytes in v1: two zero enums, then
 * the TimestampedEntry. */
static long
zero_zero_te(uint8_t *out, size_t cap, const struct ctenc_entry *e)
{
	if (!entry_ok(e))
		return -EINVAL;
	if (2 + te_len(e) > cap)
		return -ENOSPC;
	struct sink s = {.out = out};
	static const uint8_t v1_zero[2] = {0, 0};
	put(&s, v1_zero, 2);
	emit_te(&s, e);
	return (long)s.len;
}

long
ctenc_leaf(uint8_t *out, size_t cap, const struct ctenc_entry *e)
{
	return zero_zero_te(out, cap, e); /* version v1, leaf_type timestamped_entry */
}

long
ctenc_sct_signed_data(uint8_t *out, size_t cap, const struct ctenc_entry *e)
{
	return zero_zero_te(out, cap, e); /* version v1, signature_type certificate_timestamp */
}

/* SHA-256(prefix || TimestampedEntry) with `zeros` leading zero bytes. */
static int
hash_te(uint8_t out[CTENC_HASH_LEN], const struct ctenc_entry *e, size_t zeros)
{
	if (!entry_ok(e))
		return -EINVAL;
	static const uint8_t z[3] = {0, 0, 0};
	SHA256_CTX c;
	SHA256_Init(&c);
	struct sink s = {.sh = &c};
	put(&s, z, zeros);
	emit_te(&s, e);
	SHA256_Final(out, &c);
	return 0;
}

int
ctenc_leaf_hash(uint8_t out[CTENC_HASH_LEN], const struct ctenc_entry *e)
{
	return hash_te(out, e, 3); /* leaf prefix 0x00, version v1, leaf_type */
}

int
ctenc_sct_signed_digest(uint8_t out[CTENC_HASH_LEN], const struct ctenc_entry *e)
{
	return hash_te(out, e, 2); /* version v1, signature_type */
}

void
ctenc_leaf_hash_te(uint8_t out[CTENC_HASH_LEN], const uint8_t *te, size_t len)
{
	static const uint8_t z[3] = {0, 0, 0};
	SHA256_CTX c;
	SHA256_Init(&c);
	SHA256_Update(&c, z, 3);
	if (len)
		SHA256_Update(&c, te, len);
	SHA256_Final(out, &c);
}

static int
parse_te(struct ctenc_entry *e, struct rd *r, const char **reason)
{
	uint64_t v;
	const uint8_t *p;
	memset(e, 0, sizeof(*e));
	if (!rd_be(r, 8, &e->timestamp))
		return fail(reason, "timestamped_entry: truncated timestamp");
	if (!rd_be(r, 2, &v))
		return fail(reason, "timestamped_entry: truncated entry_type");
	if (v == CTENC_PRECERT_ENTRY) {
		e->type = CTENC_PRECERT_ENTRY;
		if (!rd_bytes(r, CTENC_HASH_LEN, &p))
			return fail(reason, "timestamped_entry: truncated issuer_key_hash");
		memcpy(e->issuer_key_hash, p, CTENC_HASH_LEN);
	} else if (v == CTENC_X509_ENTRY) {
		e->type = CTENC_X509_ENTRY;
	} else {
		return fail(reason, "timestamped_entry: unknown entry_type");
	}
	if (!rd_vec(r, 3, &e->cert, &e->cert_len))
		return fail(reason, e->type == CTENC_X509_ENTRY
		                            ? "timestamped_entry: truncated certificate"
		                            : "timestamped_entry: truncated tbs_certificate");
	if (e->cert_len == 0)
		return fail(reason, "timestamped_entry: empty certificate");
	if (!rd_vec(r, 2, &e->ext, &e->ext_len))
		return fail(reason, "timestamped_entry: truncated extensions");
	return 0;
}

long
ctenc_timestamped_entry_parse(struct ctenc_entry *e, const uint8_t *in, size_t len,
                              const char **reason)
{
	struct rd r = {in, len};
	int rc = parse_te(e, &r, reason);
	if (rc < 0)
		return rc;
	return (long)(len - r.n);
}

int
ctenc_leaf_parse(struct ctenc_entry *e, const uint8_t *in, size_t len, const char **reason)
{
	struct rd r = {in, len};
	uint64_t v;
	if (!rd_be(&r, 1, &v))
		return fail(reason, "merkle_tree_leaf: truncated version");
	if (v != 0)
		return fail(reason, "merkle_tree_leaf: version is not v1");
	if (!rd_be(&r, 1, &v))
		return fail(reason, "merkle_tree_leaf: truncated leaf_type");
	if (v != 0)
		return fail(reason, "merkle_tree_leaf: leaf_type is not timestamped_entry");
	int rc = parse_te(e, &r, reason);
	if (rc < 0)
		return rc;
	if (r.n != 0)
		return fail(reason, "merkle_tree_leaf: trailing bytes");
	return 0;
}

/* ---- STH signature input ---- */

void
ctenc_sth_signed_data(uint8_t out[CTENC_STH_SIGNED_LEN], uint64_t timestamp, uint64_t tree_size,
                      const uint8_t root[CTENC_HASH_LEN])
{
	out[0] = 0; /* version v1 */
	out[1] = 1; /* signature_type tree_hash */
	store_be(out + 2, timestamp, 8);
	store_be(out + 10, tree_size, 8);
	memcpy(out + 18, root, CTENC_HASH_LEN);
}

/* ---- DigitallySigned ---- */

long
ctenc_dsig(uint8_t *out, size_t cap, const struct ctenc_dsig *d)
{
	if (d->len > CTENC_SIG_MAX || (d->len > 0 && d->der == NULL))
		return -EINVAL;
	if (4 + d->len > cap)
		return -ENOSPC;
	out[0] = d->hash;
	out[1] = d->sig;
	store_be(out + 2, d->len, 2);
	if (d->len)
		memcpy(out + 4, d->der, d->len);
	return (long)(4 + d->len);
}

static int
parse_dsig(struct ctenc_dsig *d, struct rd *r, const char **reason)
{
	uint64_t v;
	if (!rd_be(r, 1, &v))
		return fail(reason, "digitally_signed: truncated hash algorithm");
	d->hash = (uint8_t)v;
	if (!rd_be(r, 1, &v))
		return fail(reason, "digitally_signed: truncated signature algorithm");
	d->sig = (uint8_t)v;
	if (!rd_vec(r, 2, &d->der, &d->len))
		return fail(reason, "digitally_signed: truncated signature");
	return 0;
}

int
ctenc_dsig_parse(struct ctenc_dsig *d, const uint8_t *in, size_t len, const char **reason)
{
	struct rd r = {in, len};
	int rc = parse_dsig(d, &r, reason);
	if (rc < 0)
		return rc;
	if (r.n != 0)
		return fail(reason, "digitally_signed: trailing bytes");
	return 0;
}

/* ---- SignedCertificateTimestamp ---- */

long
ctenc_sct(uint8_t *out, size_t cap, const struct ctenc_sct *s)
{
	struct ctenc_dsig d;
	if (s->ext_len > CTENC_EXT_MAX || (s->ext_len > 0 && s->ext == NULL))
		return -EINVAL;
	if (s->dsig == NULL || ctenc_dsig_parse(&d, s->dsig, s->dsig_len, NULL) < 0)
		return -EINVAL;
	size_t n = 1 + CTENC_HASH_LEN + 8 + 2 + s->ext_len + s->dsig_len;
	if (n > cap)
		return -ENOSPC;
	struct sink k = {.out = out};
	static const uint8_t v1 = 0;
	put(&k, &v1, 1);
	put(&k, s->log_id, CTENC_HASH_LEN);
	put_be(&k, s->timestamp, 8);
	put_be(&k, s->ext_len, 2);
	put(&k, s->ext, s->ext_len);
	put(&k, s->dsig, s->dsig_len);
	return (long)k.len;
}

int
ctenc_sct_parse(struct ctenc_sct *s, const uint8_t *in, size_t len, const char **reason)
{
	struct rd r = {in, len};
	uint64_t v;
	const uint8_t *p;
	struct ctenc_dsig d;
	memset(s, 0, sizeof(*s));
	if (!rd_be(&r, 1, &v))
		return fail(reason, "sct: truncated version");
	if (v != 0)
		return fail(reason, "sct: version is not v1");
	if (!rd_bytes(&r, CTENC_HASH_LEN, &p))
		return fail(reason, "sct: truncated log id");
	memcpy(s->log_id, p, CTENC_HASH_LEN);
	if (!rd_be(&r, 8, &s->timestamp))
		return fail(reason, "sct: truncated timestamp");
	if (!rd_vec(&r, 2, &s->ext, &s->ext_len))
		return fail(reason, "sct: truncated extensions");
	s->dsig = r.p;
	int rc = parse_dsig(&d, &r, reason);
	if (rc < 0)
		return rc;
	if (r.n != 0)
		return fail(reason, "sct: trailing bytes after signature");
	s->dsig_len = (size_t)(r.p - s->dsig);
	return 0;
}

/* ---- leaf_index ---- */

int
ctenc_ext_leaf_index(uint8_t out[CTENC_LEAF_INDEX_EXT], uint64_t index)
{
	if (index > CTENC_LEAF_INDEX_MAX)
		return -EINVAL;
	out[0] = 0; /* leaf_index */
	out[1] = 0;
	out[2] = 5;
	store_be(out + 3, index, 5);
	return CTENC_LEAF_INDEX_EXT;
}

int
ctenc_ext_leaf_index_parse(uint64_t *index, const uint8_t *ext, size_t len, const char **reason)
{
	struct rd r = {ext, len};
	uint8_t seen[32] = {0};
	bool found = false;
	/* Each Extension is at least 3 bytes, so this loop runs at most len/3 times. */
	while (r.n > 0) {
		uint64_t type;
		const uint8_t *data;
		size_t dlen;
		if (!rd_be(&r, 1, &type))
			return fail(reason, "extensions: truncated extension type");
		if (!rd_vec(&r, 2, &data, &dlen))
			return fail(reason, "extensions: truncated extension data");
		if (seen[type / 8] & (1u << (type % 8)))
			return fail(reason, "extensions: duplicate extension type");
		seen[type / 8] |= (uint8_t)(1u << (type % 8));
		if (type == 0) {
			if (dlen != 5)
				return fail(reason, "extensions: leaf_index is not 5 bytes");
			uint64_t x = 0;
			for (unsigned i = 0; i < 5; i++)
				x = x << 8 | data[i];
			*index = x;
			found = true;
		}
	}
	if (!found) {
		if (reason)
			*reason = "extensions: no leaf_index";
		return -ENOENT;
	}
	return 0;
}

/* ---- extra_data ---- */

/* Total bytes of the uint24-prefixed certificates, or -EINVAL. */
static long
chain_bytes(const struct ctenc_cert *chain, size_t n)
{
	if (n > 0 && chain == NULL)
		return -EINVAL;
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		if (chain[i].der == NULL || chain[i].len == 0 || chain[i].len > CTENC_CERT_MAX)
			return -EINVAL;
		total += 3 + chain[i].len;
		if (total > CTENC_CERT_MAX)
			return -EINVAL;
	}
	return (long)total;
}

static void
emit_chain(struct sink *s, const struct ctenc_cert *chain, size_t n, size_t total)
{
	put_be(s, total, 3);
	for (size_t i = 0; i < n; i++) {
		put_be(s, chain[i].len, 3);
		put(s, chain[i].der, chain[i].len);
	}
}

long
ctenc_extra_data_x509(uint8_t *out, size_t cap, const struct ctenc_cert *chain, size_t n)
{
	long total = chain_bytes(chain, n);
	if (total < 0)
		return total;
	if (3 + (size_t)total > cap)
		return -ENOSPC;
	struct sink s = {.out = out};
	emit_chain(&s, chain, n, (size_t)total);
	return (long)s.len;
}

long
ctenc_extra_data_precert(uint8_t *out, size_t cap, const struct ctenc_cert *precert,
                         const struct ctenc_cert *chain, size_t n)
{
	long total = chain_bytes(chain, n);
	if (total < 0)
		return total;
	if (precert == NULL || chain_bytes(precert, 1) < 0)
		return -EINVAL;
	if (3 + precert->len + 3 + (size_t)total > cap)
		return -ENOSPC;
	struct sink s = {.out = out};
	put_be(&s, precert->len, 3);
	put(&s, precert->der, precert->len);
	emit_chain(&s, chain, n, (size_t)total);
	return (long)s.len;
}

/* ---- TileLeaf ---- */

long
ctenc_tile_leaf_len(const struct ctenc_tile_leaf *l)
{
	const struct ctenc_entry *e = &l->entry;
	if (!entry_ok(e))
		return -EINVAL;
	if (l->chain_n > CTENC_CHAIN_MAX || (l->chain_n > 0 && l->chain == NULL))
		return -EINVAL;
	size_t n = te_len(e) + 2 + l->chain_n * CTENC_HASH_LEN;
	if (e->type == CTENC_PRECERT_ENTRY) {
		if (l->precert == NULL || l->precert_len == 0 || l->precert_len > CTENC_CERT_MAX)
			return -EINVAL;
		n += 3 + l->precert_len;
	} else if (l->precert != NULL || l->precert_len != 0) {
		return -EINVAL;
	}
	return (long)n;
}

long
ctenc_tile_leaf(uint8_t *out, size_t cap, const struct ctenc_tile_leaf *l)
{
	long n = ctenc_tile_leaf_len(l);
	if (n < 0)
		return n;
	if ((size_t)n > cap)
		return -ENOSPC;
	struct sink s = {.out = out};
	emit_te(&s, &l->entry);
	if (l->entry.type == CTENC_PRECERT_ENTRY) {
		put_be(&s, l->precert_len, 3);
		put(&s, l->precert, l->precert_len);
	}
	put_be(&s, l->chain_n * CTENC_HASH_LEN, 2);
	put(&s, l->chain, l->chain_n * CTENC_HASH_LEN);
	return (long)s.len;
}

long
ctenc_tile_leaf_parse(struct ctenc_tile_leaf *l, const uint8_t *in, size_t len, const char **reason)
{
	struct rd r = {in, len};
	memset(l, 0, sizeof(*l));
	int rc = parse_te(&l->entry, &r, reason);
	if (rc < 0)
		return rc;
	l->te = in;
	l->te_len = len - r.n;
	if (l->entry.type == CTENC_PRECERT_ENTRY) {
		if (!rd_vec(&r, 3, &l->precert, &l->precert_len))
			return fail(reason, "tile_leaf: truncated pre_certificate");
		if (l->precert_len == 0)
			return fail(reason, "tile_leaf: empty pre_certificate");
	}
	size_t clen;
	if (!rd_vec(&r, 2, &l->chain, &clen))
		return fail(reason, "tile_leaf: truncated certificate_chain");
	if (clen % CTENC_HASH_LEN != 0)
		return fail(reason,
		            "tile_leaf: certificate_chain not a list of 32-byte fingerprints");
	l->chain_n = clen / CTENC_HASH_LEN;
	if (l->chain_n == 0)
		l->chain = NULL;
	return (long)(len - r.n);
}

/* ---- checkpoint body ---- */

int
ctenc_origin_check(const char *origin, size_t len)
{
	if (origin == NULL || len == 0 || len > CTENC_ORIGIN_MAX)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)origin[i];
		if (c <= 0x20 || c >= 0x7f || c == '+')
			return -EINVAL;
	}
	return 0;
}

long
ctenc_checkpoint(char *out, size_t cap, const char *origin, size_t origin_len, uint64_t size,
                 const uint8_t root[CTENC_HASH_LEN])
{
	if (ctenc_origin_check(origin, origin_len) < 0)
		return -EINVAL;
	char digits[20];
	size_t nd = 0;
	do {
		digits[nd++] = (char)('0' + size % 10);
		size /= 10;
	} while (size > 0);
	size_t b64 = B64_ENCODED_LEN(CTENC_HASH_LEN);
	size_t n = origin_len + 1 + nd + 1 + b64 + 1;
	if (n + 1 > cap)
		return -ENOSPC;
	char *p = out;
	memcpy(p, origin, origin_len);
	p += origin_len;
	*p++ = '\n';
	for (size_t i = 0; i < nd; i++)
		*p++ = digits[nd - 1 - i];
	*p++ = '\n';
	p += b64_encode(p, root, CTENC_HASH_LEN); /* writes a NUL we overwrite next */
	*p++ = '\n';
	*p = '\0';
	return (long)n;
}

int
ctenc_checkpoint_parse(struct ctenc_checkpoint *c, const char *body, size_t len,
                       const char **reason)
{
	const char *end = body + len;
	const char *nl;
	memset(c, 0, sizeof(*c));
	if (body == NULL || len == 0)
		return fail(reason, "checkpoint: empty");

	nl = memchr(body, '\n', len);
	if (nl == NULL)
		return fail(reason, "checkpoint: truncated origin line");
	if (ctenc_origin_check(body, (size_t)(nl - body)) < 0)
		return fail(reason, "checkpoint: bad origin");
	c->origin = body;
	c->origin_len = (size_t)(nl - body);

	const char *s = nl + 1;
	nl = memchr(s, '\n', (size_t)(end - s));
	if (nl == NULL)
		return fail(reason, "checkpoint: truncated size line");
	size_t nd = (size_t)(nl - s);
	if (nd == 0 || nd > 20 || (nd > 1 && s[0] == '0'))
		return fail(reason, "checkpoint: bad size");
	uint64_t size = 0;
	for (size_t i = 0; i < nd; i++) {
		if (s[i] < '0' || s[i] > '9')
			return fail(reason, "checkpoint: bad size");
		unsigned d = (unsigned)(s[i] - '0');
		if (size > (UINT64_MAX - d) / 10)
			return fail(reason, "checkpoint: size overflows 64 bits");
		size = size * 10 + d;
	}
	c->size = size;

	s = nl + 1;
	nl = memchr(s, '\n', (size_t)(end - s));
	if (nl == NULL)
		return fail(reason, "checkpoint: truncated root line");
	if ((size_t)(nl - s) != B64_ENCODED_LEN(CTENC_HASH_LEN) ||
	    b64_decode(c->root, sizeof(c->root), s, (size_t)(nl - s), NULL) != CTENC_HASH_LEN)
		return fail(reason, "checkpoint: root is not base64 of 32 bytes");
	if (nl + 1 != end)
		return fail(reason, "checkpoint: extension lines or trailing bytes");
	return 0;
}
