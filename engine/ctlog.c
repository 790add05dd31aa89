/* engine/ctlog.c: see engine/ctlog.h. */
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA256_Init/Update/Final: no per-call fetch */
#include "engine/ctlog.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/sha.h>

#include "engine/b64.h"
#include "engine/sha256x.h"

static void
put_be(uint8_t *p, uint64_t v, unsigned bytes)
{
	for (unsigned i = bytes; i-- > 0; v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t
get_be(const uint8_t *p, unsigned bytes)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < bytes; i++)
		v = v << 8 | p[i];
	return v;
}

static long
fail(const char **reason, const char *r, long err)
{
	if (reason)
		*reason = r;
	return err;
}

/* TimestampedEntry up to signed_entry's certificate bytes, which the caller writes at
 * out + head; returns head. */
static size_t
te_head(uint8_t *out, bool precert, const uint8_t ikh[CTENC_HASH_LEN], size_t cert_len)
{
	size_t o = 0;
	memset(out, 0, 8); /* timestamp, stamped later */
	o += 8;
	out[o++] = 0;
	out[o++] = precert ? CTENC_PRECERT_ENTRY : CTENC_X509_ENTRY;
	if (precert) {
		memcpy(out + o, ikh, CTENC_HASH_LEN);
		o += CTENC_HASH_LEN;
	}
	put_be(out + o, cert_len, 3);
	return o + 3;
}

long
ctlog_entry_build(uint8_t *out, size_t cap, const struct chain_result *res, struct ctlog_built *b,
                  const char **reason)
{
	const bool pre = res->precert;
	const size_t head = 8 + 2 + (pre ? CTENC_HASH_LEN : 0) + 3;
	if (cap < head)
		return fail(reason, "entry larger than the slot", -ENOSPC);
	/* signed_entry: the certificate, or the TBS rewritten in place after the head */
	size_t cert_len;
	if (pre) {
		long n = der_precert_tbs(out + head, cap - head, &res->leaf,
		                         res->psc ? &res->psc_cert : NULL, reason);
		if (n == -ENOSPC)
			return fail(reason, "entry larger than the slot", -ENOSPC);
		if (n < 0)
			return n;
		cert_len = (size_t)n;
	} else {
		cert_len = res->leaf.cert_tlv.len;
		if (cert_len > cap - head)
			return fail(reason, "entry larger than the slot", -ENOSPC);
		memcpy(out + head, res->leaf.cert_tlv.p, cert_len);
	}
	if (cert_len == 0 || cert_len > CTENC_CERT_MAX)
		return fail(reason, "certificate too large", -EINVAL);
	te_head(out, pre, res->issuer_key_hash, cert_len);
	size_t o = head + cert_len;
	const size_t tail = 2 + CTENC_LEAF_INDEX_EXT + (pre ? 3 + res->leaf.cert_tlv.len : 0) + 2 +
	                    res->nissuers * CTENC_HASH_LEN;
	if (tail > cap - o)
		return fail(reason, "entry larger than the slot", -ENOSPC);
	/* extensions: leaf_index, stamped later */
	put_be(out + o, CTENC_LEAF_INDEX_EXT, 2);
	o += 2;
	int rc = ctenc_ext_leaf_index(out + o, 0);
	if (rc < 0)
		return fail(reason, "leaf_index", rc);
	b->index_off = (uint32_t)(o + 3);
	o += CTENC_LEAF_INDEX_EXT;
	b->te_len = (uint32_t)o;
	if (pre) { /* pre_certificate: the submitted precertificate */
		put_be(out + o, res->leaf.cert_tlv.len, 3);
		memcpy(out + o + 3, res->leaf.cert_tlv.p, res->leaf.cert_tlv.len);
		o += 3 + res->leaf.cert_tlv.len;
	}
	put_be(out + o, res->nissuers * CTENC_HASH_LEN, 2);
	o += 2;
	for (size_t i = 0; i < res->nissuers; i++, o += CTENC_HASH_LEN)
		ctenc_sha256(out + o, res->issuers[i].p, res->issuers[i].len);
	b->len = (uint32_t)o;
	struct ctenc_entry e = {
	        .type = pre ? CTENC_PRECERT_ENTRY : CTENC_X509_ENTRY,
	        .cert = out + head,
	        .cert_len = cert_len,
	};
	if (pre)
		memcpy(e.issuer_key_hash, res->issuer_key_hash, CTENC_HASH_LEN);
	ctlog_dedup_key(b->dedup_key, &e);
	return (long)o;
}

void
ctlog_entry_stamp(uint8_t *entry, uint32_t index_off, uint64_t timestamp, uint64_t index)
{
	put_be(entry, timestamp, 8);
	put_be(entry + index_off, index, 5);
}

void
ctlog_dedup_key(uint8_t out[CTLOG_KEY_LEN], const struct ctenc_entry *e)
{
	uint8_t type[2] = {0, (uint8_t)e->type};
	SHA256_CTX c;
	SHA256_Init(&c);
	SHA256_Update(&c, type, 2);
	if (e->type == CTENC_PRECERT_ENTRY)
		SHA256_Update(&c, e->issuer_key_hash, CTENC_HASH_LEN);
	SHA256_Update(&c, e->cert, e->cert_len);
	SHA256_Final(out, &c);
}

void
ctlog_dedup_value(uint8_t out[CTLOG_DEDUP_VAL_LEN], uint64_t index, uint64_t timestamp)
{
	put_be(out, index, 8);
	put_be(out + 8, timestamp, 8);
}

int
ctlog_dedup_value_parse(const uint8_t *v, size_t len, uint64_t *index, uint64_t *timestamp)
{
	if (len != CTLOG_DEDUP_VAL_LEN)
		return -EBADMSG;
	*index = get_be(v, 8);
	*timestamp = get_be(v + 8, 8);
	return 0;
}

long
ctlog_sct_sign(struct ctsig_signer *s, uint8_t *out, size_t cap, const uint8_t *te, size_t te_len)
{
	static const uint8_t prefix[2] = {0, 0}; /* sct_version v1, certificate_timestamp */
	uint8_t digest[CTENC_HASH_LEN];
	SHA256_CTX c;
	SHA256_Init(&c);
	SHA256_Update(&c, prefix, 2);
	SHA256_Update(&c, te, te_len);
	SHA256_Final(digest, &c);
	return ctsig_sign_digest(s, out, cap, digest);
}

long
ctlog_sct_json(char *out, size_t cap, const uint8_t log_id[CTENC_HASH_LEN], uint64_t timestamp,
               uint64_t index, const uint8_t *dsig, size_t dsig_len)
{
	char id[B64_ENCODED_LEN(CTENC_HASH_LEN) + 1];
	char ext[B64_ENCODED_LEN(CTENC_LEAF_INDEX_EXT) + 1];
	char sig[B64_ENCODED_LEN(CTSIG_DSIG_MAX) + 1];
	uint8_t extb[CTENC_LEAF_INDEX_EXT];
	if (dsig_len > CTSIG_DSIG_MAX || ctenc_ext_leaf_index(extb, index) < 0)
		return -EINVAL;
	id[b64_encode(id, log_id, CTENC_HASH_LEN)] = 0;
	ext[b64_encode(ext, extb, sizeof extb)] = 0;
	sig[b64_encode(sig, dsig, dsig_len)] = 0;
	int n = snprintf(
	        out, cap,
	        "{\"sct_version\":0,\"id\":\"%s\",\"timestamp\":%llu,\"extensions\":\"%s\","
	        "\"signature\":\"%s\"}",
	        id, (unsigned long long)timestamp, ext, sig);
	if (n < 0 || (size_t)n >= cap)
		return -ENOSPC;
	return n;
}

/* ---- the codec -------------------------------------------------------------------------- */

static long
codec_len(const uint8_t *p, size_t n)
{
	struct ctenc_tile_leaf l;
	long r = ctenc_tile_leaf_parse(&l, p, n, NULL);
	return r < 0 ? -EBADMSG : r;
}

/* The TimestampedEntry length of a TileLeaf already split by codec_len. */
static size_t
te_span(const uint8_t *p, size_t n)
{
	struct ctenc_tile_leaf l;
	return ctenc_tile_leaf_parse(&l, p, n, NULL) < 0 ? 0 : l.te_len;
}

/* Leaf hashes SHA-256(0x00 || 0x00 0x00 || te): the two MerkleTreeLeaf bytes go in front of
 * a copy of te in a per-thread scratch, so the batched kernel sees whole messages; an entry
 * too large for a scratch lane is hashed on its own. */
#define LANES     16
#define LANE_SIZE 8192
static void
codec_leaves(const uint8_t *const *entry, const size_t *len, size_t n, merkle_hash_t *out)
{
	static __thread uint8_t scratch[LANES][LANE_SIZE];
	const uint8_t *msg[LANES];
	size_t mlen[LANES];
	size_t at[LANES];
	for (size_t i = 0; i < n;) {
		size_t k = 0;
		for (; i < n && k < LANES; i++) {
			size_t te = te_span(entry[i], len[i]);
			if (te + 2 > LANE_SIZE) {
				ctenc_leaf_hash_te(out[i], entry[i], te);
				continue;
			}
			scratch[k][0] = 0, scratch[k][1] = 0;
			memcpy(scratch[k] + 2, entry[i], te);
			msg[k] = scratch[k], mlen[k] = te + 2, at[k] = i;
			k++;
		}
		uint8_t h[LANES][SHA256X_LEN];
		sha256x_leaves(h, msg, mlen, k);
		for (size_t j = 0; j < k; j++)
			memcpy(out[at[j]], h[j], SHA256X_LEN);
	}
}

static int
codec_dedup(const uint8_t *entry, size_t len, uint64_t index, struct store_row *out)
{
	struct ctenc_tile_leaf l;
	if (ctenc_tile_leaf_parse(&l, entry, len, NULL) < 0)
		return -EBADMSG;
	ctlog_dedup_key(out->key, &l.entry);
	out->len = CTLOG_DEDUP_VAL_LEN;
	ctlog_dedup_value(out->value, index, l.entry.timestamp);
	return 0;
}

const struct tlog_codec ctlog_codec = {"ct", codec_len, codec_leaves, codec_dedup};
