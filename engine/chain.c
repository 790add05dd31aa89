/* engine/chain.c: chain validation; see chain.h for the policy and the contract.
 *
 * Shape: a leaf is walked with Birch's DER walk (engine/der.h) and verified with the key of its
 * issuer. The issuers (chain[1..n-1], as submitted) are checked once per checker and kept in a
 * direct-mapped cache keyed by their exact bytes, with the issuer's decoded key and a verify
 * context, so a repeat submission from the same CA costs one walk and one verification.
 */
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA1/SHA256/... one-shot: no context or fetch per call */
#include "engine/chain.h"

#include <errno.h>
#include <fcntl.h>
#include <gmp.h>
#include <nettle/dsa.h>
#include <nettle/ecc-curve.h>
#include <nettle/ecc.h>
#include <nettle/ecdsa.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHAIN_P384_LEN       48
#define CHAIN_ROOTS_FILE_MAX (64u << 20) /* a roots bundle larger than this is refused */

enum chain_key_type {
	CHAIN_KEY_NONE = 0,
	CHAIN_KEY_RSA,
	CHAIN_KEY_EC,   /* ECDSA through OpenSSL (P-256, P-521) */
	CHAIN_KEY_P384, /* ECDSA P-384 through nettle */
};

/* A decoded issuer key. */
struct chain_key {
	enum chain_key_type type;
	EVP_PKEY *pkey;
	struct ecc_point p384; /* CHAIN_KEY_P384 */
};

/* A verify context for one key, owned by one checker. */
struct chain_vctx {
	EVP_PKEY_CTX *ctx;
	enum der_sig_alg alg; /* the digest the context is set for (RSA only) */
};

struct chain_root {
	uint8_t *der;
	size_t len;
	uint8_t fp[CHAIN_HASH_LEN];        /* SHA-256 of the DER */
	uint8_t spki_hash[CHAIN_HASH_LEN]; /* SHA-256 of the SubjectPublicKeyInfo */
	uint8_t *subject;                  /* Name TLV (a copy) */
	size_t subject_len;
	struct chain_key key;
};

struct chain_roots {
	struct chain_root *v;
	size_t n, cap;
};

/* One cached issuer chain: chain[1..n-1] of a submission, byte for byte, known to lead to a
 * root. Everything a leaf check needs without walking or parsing the issuers again. */
struct chain_entry {
	uint64_t tag;  /* 0: empty */
	uint8_t *copy; /* the submitted issuers, concatenated */
	size_t lens[CHAIN_MAX];
	size_t nsub;        /* submitted issuers (n - 1) */
	size_t used;        /* of which part of the path (the rest trimmed after the root) */
	bool root_added;    /* the root was not submitted */
	size_t root;        /* index into roots when root_added */
	size_t subject_off; /* chain[1]'s subject within copy */
	size_t subject_len;
	bool psc;            /* chain[1] is a Precertificate Signing Certificate */
	bool issuer_is_root; /* chain[1] is an accepted root (its key is the root's) */
	uint8_t issuer_key_hash[CHAIN_HASH_LEN];     /* of chain[1] */
	uint8_t psc_issuer_key_hash[CHAIN_HASH_LEN]; /* of the PSC's issuer, when psc */
	struct chain_key key;                        /* chain[1]'s key (unless issuer_is_root) */
	struct chain_vctx vctx;
};

struct chain_checker {
	const struct chain_roots *roots;
	struct chain_policy policy;
	struct chain_entry *cache;
	size_t ncache;
	struct chain_vctx *root_vctx; /* one per root, made when first needed */
	size_t nroot_vctx;
	mpz_t r, s; /* nettle signature scratch, grown once */
	struct chain_stats stats;
};

/* ---- keys and signatures ----------------------------------------------------------------- */

static void
chain_key_free(struct chain_key *k)
{
	if (k->type == CHAIN_KEY_P384)
		ecc_point_clear(&k->p384);
	EVP_PKEY_free(k->pkey);
	memset(k, 0, sizeof *k);
}

/* P-384 keys go to nettle: the uncompressed point 04 || X || Y from OpenSSL's decoding. */
static int
chain_key_p384(struct chain_key *k)
{
	uint8_t pt[1 + 2 * CHAIN_P384_LEN];
	size_t len = 0;
	if (!EVP_PKEY_get_octet_string_param(k->pkey, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof pt,
	                                     &len) ||
	    len != sizeof pt || pt[0] != 0x04)
		return 0; /* not uncompressed: leave it to OpenSSL */
	mpz_t x, y;
	mpz_inits(x, y, NULL);
	mpz_import(x, CHAIN_P384_LEN, 1, 1, 1, 0, pt + 1);
	mpz_import(y, CHAIN_P384_LEN, 1, 1, 1, 0, pt + 1 + CHAIN_P384_LEN);
	ecc_point_init(&k->p384, nettle_get_secp_384r1());
	int ok = ecc_point_set(&k->p384, x, y);
	mpz_clears(x, y, NULL);
	if (!ok) {
		ecc_point_clear(&k->p384);
		return -1;
	}
	k->type = CHAIN_KEY_P384;
	return 1;
}

/* Decodes a SubjectPublicKeyInfo (OpenSSL; once per issuer). */
static int
chain_key_from_spki(struct chain_key *k, struct der_span spki, const char **reason)
{
	memset(k, 0, sizeof *k);
	const unsigned char *p = spki.p;
	k->pkey = d2i_PUBKEY(NULL, &p, (long)spki.len);
	if (!k->pkey || p != spki.p + spki.len) {
		ERR_clear_error();
		EVP_PKEY_free(k->pkey);
		k->pkey = NULL;
		*reason = "issuer public key does not parse";
		return -EBADMSG;
	}
	switch (EVP_PKEY_get_base_id(k->pkey)) {
	case EVP_PKEY_RSA:
		k->type = CHAIN_KEY_RSA;
		return 0;
	case EVP_PKEY_EC: {
		char group[32];
		size_t glen = 0;
		k->type = CHAIN_KEY_EC;
		if (EVP_PKEY_get_group_name(k->pkey, group, sizeof group, &glen) &&
		    strcmp(group, "secp384r1") == 0 && chain_key_p384(k) < 0) {
			chain_key_free(k);
			*reason = "issuer P-384 key is not on the curve";
			return -EBADMSG;
		}
		return 0;
	}
	default:
		chain_key_free(k);
		*reason = "issuer key type is not RSA or ECDSA";
		return -EACCES;
	}
}

static void
chain_vctx_free(struct chain_vctx *v)
{
	EVP_PKEY_CTX_free(v->ctx);
	v->ctx = NULL;
}

/* The digest of the signed bytes for alg; its length, or 0 for an unsupported algorithm. */
static size_t
chain_digest(enum der_sig_alg alg, struct der_span tbs, uint8_t out[SHA512_DIGEST_LENGTH],
             const EVP_MD **md)
{
	switch (alg) {
	case DER_SIG_RSA_PKCS1_SHA1:
		*md = EVP_sha1();
		SHA1(tbs.p, tbs.len, out);
		return SHA_DIGEST_LENGTH;
	case DER_SIG_RSA_PKCS1_SHA256:
	case DER_SIG_ECDSA_SHA256:
		*md = EVP_sha256();
		SHA256(tbs.p, tbs.len, out);
		return SHA256_DIGEST_LENGTH;
	case DER_SIG_RSA_PKCS1_SHA384:
	case DER_SIG_ECDSA_SHA384:
		*md = EVP_sha384();
		SHA384(tbs.p, tbs.len, out);
		return SHA384_DIGEST_LENGTH;
	case DER_SIG_RSA_PKCS1_SHA512:
	case DER_SIG_ECDSA_SHA512:
		*md = EVP_sha512();
		SHA512(tbs.p, tbs.len, out);
		return SHA512_DIGEST_LENGTH;
	default:
		return 0;
	}
}

static bool
chain_alg_is_rsa(enum der_sig_alg alg)
{
	return alg == DER_SIG_RSA_PKCS1_SHA1 || alg == DER_SIG_RSA_PKCS1_SHA256 ||
	       alg == DER_SIG_RSA_PKCS1_SHA384 || alg == DER_SIG_RSA_PKCS1_SHA512;
}

/* nettle's P-384 verification of a DER ECDSA-Sig-Value that must re-encode to itself. */
static int
chain_verify_p384(struct chain_checker *c, const struct chain_key *k, const uint8_t *dgst,
                  size_t dlen, struct der_span sig)
{
	const unsigned char *p = sig.p;
	ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)sig.len);
	int ok = 0;
	if (!es || p != sig.p + sig.len)
		goto out;
	unsigned char *re = NULL;
	int relen = i2d_ECDSA_SIG(es, &re);
	bool same = relen == (int)sig.len && memcmp(re, sig.p, sig.len) == 0;
	OPENSSL_free(re);
	if (!same)
		goto out;
	const BIGNUM *r, *s;
	ECDSA_SIG_get0(es, &r, &s);
	uint8_t rb[CHAIN_P384_LEN], sb[CHAIN_P384_LEN];
	if (BN_is_negative(r) || BN_is_negative(s) || BN_bn2binpad(r, rb, sizeof rb) < 0 ||
	    BN_bn2binpad(s, sb, sizeof sb) < 0)
		goto out;
	mpz_import(c->r, sizeof rb, 1, 1, 1, 0, rb);
	mpz_import(c->s, sizeof sb, 1, 1, 1, 0, sb);
	struct dsa_signature ds;
	memcpy(ds.r, c->r, sizeof(mpz_t));
	memcpy(ds.s, c->s, sizeof(mpz_t));
	ok = ecdsa_verify(&k->p384, dlen, dgst, &ds);
out:
	ECDSA_SIG_free(es);
	ERR_clear_error();
	return ok;
}

/* Verifies sig (alg) over tbs with key k; v is k's verify context for this checker. */
static int
chain_verify(struct chain_checker *c, const struct chain_key *k, struct chain_vctx *v,
             enum der_sig_alg alg, struct der_span tbs, struct der_span sig, const char **reason)
{
	uint8_t dgst[SHA512_DIGEST_LENGTH];
	const EVP_MD *md = NULL;
	size_t dlen = chain_digest(alg, tbs, dgst, &md);
	if (dlen == 0) {
		*reason = "unsupported signature algorithm";
		return -EACCES;
	}
	if (k->type == CHAIN_KEY_NONE) {
		*reason = "issuer key type is not supported";
		return -EACCES;
	}
	bool rsa = chain_alg_is_rsa(alg);
	if (rsa != (k->type == CHAIN_KEY_RSA)) {
		*reason = "signature algorithm does not match the issuer's key type";
		return -EACCES;
	}
	if (k->type == CHAIN_KEY_P384)
		return chain_verify_p384(c, k, dgst, dlen, sig) == 1 ? 0 : -EACCES;
	if (!v->ctx) {
		v->ctx = EVP_PKEY_CTX_new(k->pkey, NULL);
		if (!v->ctx || EVP_PKEY_verify_init(v->ctx) <= 0 ||
		    (rsa && EVP_PKEY_CTX_set_rsa_padding(v->ctx, RSA_PKCS1_PADDING) <= 0)) {
			chain_vctx_free(v);
			ERR_clear_error();
			*reason = "cannot set up signature verification";
			return -ENOMEM;
		}
		v->alg = DER_SIG_UNKNOWN;
	}
	if (rsa && v->alg != alg) {
		if (EVP_PKEY_CTX_set_signature_md(v->ctx, md) <= 0) {
			ERR_clear_error();
			*reason = "cannot set up signature verification";
			return -ENOMEM;
		}
		v->alg = alg;
	}
	int ok = EVP_PKEY_verify(v->ctx, sig.p, sig.len, dgst, dlen);
	if (ok != 1) {
		ERR_clear_error();
		return -EACCES;
	}
	return 0;
}

/* ---- roots ------------------------------------------------------------------------------- */

int
chain_roots_new(struct chain_roots **out)
{
	*out = calloc(1, sizeof **out);
	return *out ? 0 : -ENOMEM;
}

static void
chain_root_free(struct chain_root *r)
{
	free(r->der);
	free(r->subject);
	chain_key_free(&r->key);
}

void
chain_roots_free(struct chain_roots *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		chain_root_free(&r->v[i]);
	free(r->v);
	free(r);
}

size_t
chain_roots_count(const struct chain_roots *r)
{
	return r->n;
}

struct der_span
chain_roots_get(const struct chain_roots *r, size_t i)
{
	struct der_span s = {0};
	if (i < r->n) {
		s.p = r->v[i].der;
		s.len = r->v[i].len;
	}
	return s;
}

static ssize_t
chain_root_find(const struct chain_roots *r, const uint8_t fp[CHAIN_HASH_LEN])
{
	for (size_t i = 0; i < r->n; i++)
		if (memcmp(r->v[i].fp, fp, CHAIN_HASH_LEN) == 0)
			return (ssize_t)i;
	return -1;
}

/* Subject and SPKI of a root: the walk's spans, or where the walk refuses an old root that
 * OpenSSL reads, OpenSSL's encodings of them. */
static int
chain_root_parse(struct chain_root *root, const char **reason)
{
	struct der_cert dc;
	const char *why = NULL;
	const unsigned char *p = root->der;
	X509 *x = d2i_X509(NULL, &p, (long)root->len);
	if (!x || p != root->der + root->len) {
		X509_free(x);
		ERR_clear_error();
		*reason = "root certificate does not parse";
		return -EBADMSG;
	}
	uint8_t *spki_copy = NULL;
	struct der_span spki;
	int rc = 0;
	if (der_cert_walk(root->der, root->len, &dc, &why) == 0) {
		root->subject = malloc(dc.subject_tlv.len);
		if (root->subject)
			memcpy(root->subject, dc.subject_tlv.p, dc.subject_tlv.len);
		root->subject_len = dc.subject_tlv.len;
		spki = dc.spki_tlv;
	} else {
		unsigned char *subj = NULL, *sp = NULL;
		int slen = i2d_X509_NAME(X509_get_subject_name(x), &subj);
		int plen = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &sp);
		if (slen <= 0 || plen <= 0) {
			OPENSSL_free(subj);
			OPENSSL_free(sp);
			rc = -EBADMSG;
			*reason = "root certificate does not parse";
			goto out;
		}
		root->subject = malloc((size_t)slen);
		if (root->subject)
			memcpy(root->subject, subj, (size_t)slen);
		root->subject_len = (size_t)slen;
		OPENSSL_free(subj);
		spki_copy = malloc((size_t)plen);
		if (spki_copy)
			memcpy(spki_copy, sp, (size_t)plen);
		OPENSSL_free(sp);
		spki.p = spki_copy;
		spki.len = (size_t)plen;
		if (!spki_copy)
			root->subject = (free(root->subject), NULL);
	}
	if (!root->subject) {
		rc = -ENOMEM;
		*reason = "out of memory";
		goto out;
	}
	SHA256(spki.p, spki.len, root->spki_hash);
	/* A root whose key Birch cannot use still counts as accepted (get-roots lists it), but
	 * nothing can chain to it. */
	if (chain_key_from_spki(&root->key, spki, &why) != 0)
		memset(&root->key, 0, sizeof root->key);
out:
	free(spki_copy);
	X509_free(x);
	return rc;
}

int
chain_roots_add_der(struct chain_roots *r, const uint8_t *der, size_t len, const char **reason)
{
	const char *dummy;
	if (!reason)
		reason = &dummy;
	if (len == 0 || len > DER_CERT_MAX) {
		*reason = "root certificate is empty or too large";
		return -EBADMSG;
	}
	uint8_t fp[CHAIN_HASH_LEN];
	SHA256(der, len, fp);
	if (chain_root_find(r, fp) >= 0)
		return 0;
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 64;
		struct chain_root *v = realloc(r->v, cap * sizeof *v);
		if (!v) {
			*reason = "out of memory";
			return -ENOMEM;
		}
		r->v = v;
		r->cap = cap;
	}
	struct chain_root *root = &r->v[r->n];
	memset(root, 0, sizeof *root);
	root->der = malloc(len);
	if (!root->der) {
		*reason = "out of memory";
		return -ENOMEM;
	}
	memcpy(root->der, der, len);
	root->len = len;
	memcpy(root->fp, fp, sizeof fp);
	int rc = chain_root_parse(root, reason);
	if (rc != 0) {
		chain_root_free(root);
		return rc;
	}
	r->n++;
	return 1;
}

struct chain_pem_ctx {
	struct chain_roots *r;
	long added;
	const char *why;
	int rc;
};

static int
chain_pem_one(void *ctx, const uint8_t *der, size_t len, size_t i)
{
	struct chain_pem_ctx *pc = ctx;
	int rc = chain_roots_add_der(pc->r, der, len, &pc->why);
	if (rc < 0) {
		pc->rc = rc;
		return rc;
	}
	pc->added += rc;
	return 0;
}

long
chain_roots_add_pem(struct chain_roots *r, const char *pem, size_t len, const char **reason)
{
	const char *dummy;
	if (!reason)
		reason = &dummy;
	char *buf = malloc(len + 1);
	if (!buf) {
		*reason = "out of memory";
		return -ENOMEM;
	}
	memcpy(buf, pem, len);
	buf[len] = '\0';
	size_t before = r->n;
	struct chain_pem_ctx pc = {.r = r};
	long n = der_pem_each(buf, len, chain_pem_one, &pc, reason);
	free(buf);
	if (n < 0 || pc.rc < 0) {
		if (pc.rc < 0)
			*reason = pc.why;
		/* All or nothing: drop what this bundle added. */
		while (r->n > before)
			chain_root_free(&r->v[--r->n]);
		return pc.rc < 0 ? pc.rc : n;
	}
	if (n == 0) {
		*reason = "no CERTIFICATE blocks in the roots file";
		return -EBADMSG;
	}
	return pc.added;
}

long
chain_roots_add_file(struct chain_roots *r, const char *path, const char **reason)
{
	const char *dummy;
	if (!reason)
		reason = &dummy;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*reason = "cannot open the roots file";
		return -errno;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || st.st_size > CHAIN_ROOTS_FILE_MAX) {
		close(fd);
		*reason = "roots file is too large";
		return -EFBIG;
	}
	char *buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		*reason = "out of memory";
		return -ENOMEM;
	}
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	long rc = chain_roots_add_pem(r, buf, got, reason);
	free(buf);
	return rc;
}

/* ---- checker ----------------------------------------------------------------------------- */

int
chain_checker_new(struct chain_checker **out, const struct chain_roots *roots,
                  const struct chain_policy *policy, size_t cache_entries)
{
	struct chain_checker *c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	c->roots = roots;
	c->policy = *policy;
	c->ncache = cache_entries ? cache_entries : CHAIN_CACHE_DEFAULT;
	c->cache = calloc(c->ncache, sizeof *c->cache);
	c->nroot_vctx = roots->n;
	c->root_vctx = calloc(roots->n ? roots->n : 1, sizeof *c->root_vctx);
	if (!c->cache || !c->root_vctx) {
		free(c->cache);
		free(c->root_vctx);
		free(c);
		return -ENOMEM;
	}
	mpz_init2(c->r, 8 * CHAIN_P384_LEN + 64);
	mpz_init2(c->s, 8 * CHAIN_P384_LEN + 64);
	*out = c;
	return 0;
}

static void
chain_entry_clear(struct chain_entry *e)
{
	free(e->copy);
	chain_key_free(&e->key);
	chain_vctx_free(&e->vctx);
	memset(e, 0, sizeof *e);
}

void
chain_checker_free(struct chain_checker *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->ncache; i++)
		chain_entry_clear(&c->cache[i]);
	for (size_t i = 0; i < c->nroot_vctx; i++)
		chain_vctx_free(&c->root_vctx[i]);
	mpz_clears(c->r, c->s, NULL);
	free(c->cache);
	free(c->root_vctx);
	free(c);
}

void
chain_checker_stats(const struct chain_checker *c, struct chain_stats *out)
{
	*out = c->stats;
}

/* The cache tag of an issuer list: the tail of chain[1] (the end of its signature, as random
 * as a hash), its length and the count. Never 0. */
static uint64_t
chain_tag(const struct der_span *iss, size_t n)
{
	uint64_t t = 0;
	size_t len = iss[0].len;
	memcpy(&t, iss[0].p + len - (len < 8 ? len : 8), len < 8 ? len : 8);
	t ^= (uint64_t)len * 0x9e3779b97f4a7c15ull ^ (uint64_t)n * 0xff51afd7ed558ccdull;
	t ^= t >> 29;
	return t ? t : 1;
}

static bool
chain_entry_matches(const struct chain_entry *e, uint64_t tag, const struct der_span *iss, size_t n)
{
	if (e->tag != tag || e->nsub != n)
		return false;
	size_t off = 0;
	for (size_t i = 0; i < n; i++) {
		if (e->lens[i] != iss[i].len || memcmp(e->copy + off, iss[i].p, iss[i].len) != 0)
			return false;
		off += iss[i].len;
	}
	return true;
}

/* Verifies that cert `child` is issued by root `i`: names and signature. */
static int
chain_by_root(struct chain_checker *c, size_t i, const struct der_cert *child, const char **why)
{
	const struct chain_root *root = &c->roots->v[i];
	if (root->subject_len != child->issuer_tlv.len ||
	    memcmp(root->subject, child->issuer_tlv.p, root->subject_len) != 0)
		return -ESRCH;
	if (root->key.type == CHAIN_KEY_NONE)
		return -ESRCH;
	struct chain_vctx *v = i < c->nroot_vctx ? &c->root_vctx[i] : NULL;
	struct chain_vctx tmp = {0};
	int rc = chain_verify(c, &root->key, v ? v : &tmp, child->sig_alg, child->tbs_tlv,
	                      child->sig, why);
	chain_vctx_free(&tmp);
	return rc;
}

/* The first root that issued `child` (colliding names are each tried), or -1 with *reason. */
static ssize_t
chain_find_issuing_root(struct chain_checker *c, const struct der_cert *child, const char **reason)
{
	const char *why = NULL;
	bool named = false;
	for (size_t i = 0; i < c->roots->n; i++) {
		int rc = chain_by_root(c, i, child, &why);
		if (rc == 0)
			return (ssize_t)i;
		if (rc != -ESRCH)
			named = true;
	}
	if (!named)
		*reason = "chain does not lead to an accepted root";
	else if (why && strcmp(why, "unsupported signature algorithm") == 0)
		*reason = "unsupported signature algorithm in the chain";
	else
		*reason = "signature by the accepted root does not verify";
	return -1;
}

static bool
chain_same_name(struct der_span a, struct der_span b)
{
	return a.len == b.len && memcmp(a.p, b.p, a.len) == 0;
}

/* Issuers are parsed by OpenSSL too, once per cache miss: a certificate that Birch's walk
 * accepts but OpenSSL's full parser refuses is not trusted as an issuer. */
static bool
chain_openssl_parses(struct der_span der)
{
	const unsigned char *p = der.p;
	X509 *x = d2i_X509(NULL, &p, (long)der.len);
	bool ok = x && p == der.p + der.len;
	X509_free(x);
	if (!ok)
		ERR_clear_error();
	return ok;
}

/* The reason for a failed link between two submitted certificates. */
static const char *
chain_link_reason(const char *why)
{
	if (why && strcmp(why, "unsupported signature algorithm") == 0)
		return "unsupported signature algorithm in the chain";
	return "a signature in the chain does not verify";
}

/* Checks the submitted issuers iss[0..n) (chain[1..]) as a path to a root for a leaf whose
 * issuer is leaf_issuer, and fills a cache entry. The leaf itself is not verified here. */
static int
chain_fill(struct chain_checker *c, struct chain_entry *e, const struct der_span *iss, size_t n,
           bool precert, const char **reason)
{
	struct der_cert w[CHAIN_MAX];
	const char *why = NULL;
	if (n == 0 || n > CHAIN_MAX) {
		*reason = "chain length out of range";
		return -EBADMSG;
	}
	for (size_t i = 0; i < n; i++) {
		if (iss[i].len == 0 || iss[i].len > DER_CERT_MAX) {
			*reason = "chain certificate is empty or too large";
			return -EBADMSG;
		}
		if (der_cert_walk(iss[i].p, iss[i].len, &w[i], &why) != 0 ||
		    !chain_openssl_parses(iss[i])) {
			*reason = "chain certificate does not parse";
			return -EBADMSG;
		}
	}
	/* Walk up: w[i] is issued by w[i+1], until an accepted root. */
	size_t used = n;
	ssize_t root = -1;
	bool root_added = false;
	for (size_t i = 0; i < n; i++) {
		uint8_t fp[CHAIN_HASH_LEN];
		SHA256(iss[i].p, iss[i].len, fp);
		ssize_t ri = chain_root_find(c->roots, fp);
		if (ri >= 0) {
			used = i + 1;
			root = ri;
			break;
		}
		/* Not a root: a CA within its path length (i intermediates below it). */
		if (!(w[i].flags & DER_F_BC_CA)) {
			*reason = "issuer is not a CA (no basicConstraints cA)";
			return -EACCES;
		}
		if (w[i].bc_path_len >= 0 && (size_t)w[i].bc_path_len < i) {
			*reason = "issuer's pathLenConstraint is exceeded";
			return -EACCES;
		}
		if (i + 1 < n) {
			if (!chain_same_name(w[i].issuer_tlv, w[i + 1].subject_tlv)) {
				*reason = "chain is not in order: an issuer name does not match "
				          "the next "
				          "certificate";
				return -EACCES;
			}
			struct chain_key k;
			int rc = chain_key_from_spki(&k, w[i + 1].spki_tlv, reason);
			if (rc != 0)
				return rc;
			struct chain_vctx v = {0};
			rc = chain_verify(c, &k, &v, w[i].sig_alg, w[i].tbs_tlv, w[i].sig, &why);
			chain_vctx_free(&v);
			chain_key_free(&k);
			if (rc != 0) {
				*reason = chain_link_reason(why);
				return -EACCES;
			}
		}
	}
	if (root < 0) {
		root = chain_find_issuing_root(c, &w[n - 1], reason);
		if (root < 0)
			return -EACCES;
		root_added = true;
	}
	/* Fill the entry. */
	size_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += iss[i].len;
	chain_entry_clear(e);
	e->copy = malloc(total);
	if (!e->copy) {
		*reason = "out of memory";
		return -ENOMEM;
	}
	size_t off = 0;
	for (size_t i = 0; i < n; i++) {
		memcpy(e->copy + off, iss[i].p, iss[i].len);
		e->lens[i] = iss[i].len;
		off += iss[i].len;
	}
	e->nsub = n;
	e->used = used;
	e->root_added = root_added;
	e->root = (size_t)root;
	e->subject_off = (size_t)(w[0].subject_tlv.p - iss[0].p);
	e->subject_len = w[0].subject_tlv.len;
	e->issuer_is_root = !root_added && used == 1;
	SHA256(w[0].spki_tlv.p, w[0].spki_tlv.len, e->issuer_key_hash);
	e->psc = precert && (w[0].flags & DER_F_EKU_CT) && !e->issuer_is_root;
	if (e->psc) {
		if (used >= 2)
			SHA256(w[1].spki_tlv.p, w[1].spki_tlv.len, e->psc_issuer_key_hash);
		else
			memcpy(e->psc_issuer_key_hash, c->roots->v[root].spki_hash, CHAIN_HASH_LEN);
	}
	if (!e->issuer_is_root) {
		int rc = chain_key_from_spki(&e->key, w[0].spki_tlv, reason);
		if (rc != 0) {
			chain_entry_clear(e);
			return rc;
		}
	}
	return 0;
}

/* The leaf's own rules: poison per endpoint, NotAfter window, a known signature algorithm. */
static int
chain_leaf_policy(const struct chain_checker *c, const struct der_cert *leaf, bool precert,
                  const char **reason)
{
	if (precert) {
		if (!(leaf->flags & DER_F_POISON)) {
			*reason = "add-pre-chain: the leaf is not a precertificate (no CT poison "
			          "extension)";
			return -EACCES;
		}
		if (!(leaf->flags & DER_F_POISON_CRITICAL)) {
			*reason =
			        "precertificate poison extension is not critical with a NULL value";
			return -EACCES;
		}
	} else if (leaf->flags & DER_F_POISON) {
		*reason = "add-chain: the leaf is a precertificate (CT poison extension); use "
		          "add-pre-chain";
		return -EACCES;
	}
	if (leaf->not_after < c->policy.not_after_start ||
	    leaf->not_after >= c->policy.not_after_end) {
		*reason = "leaf NotAfter is outside this log's temporal window";
		return -EACCES;
	}
	if (leaf->sig_alg == DER_SIG_UNKNOWN || leaf->sig_alg == DER_SIG_ED25519) {
		*reason = "unsupported signature algorithm on the leaf";
		return -EACCES;
	}
	return 0;
}

/* The leaf is issued directly by an accepted root (nothing else submitted). */
static int
chain_check_rootonly(struct chain_checker *c, struct chain_result *res, const char **reason)
{
	ssize_t ri = chain_find_issuing_root(c, &res->leaf, reason);
	if (ri < 0)
		return -EACCES;
	const struct chain_root *root = &c->roots->v[ri];
	memcpy(res->issuer_key_hash, root->spki_hash, CHAIN_HASH_LEN);
	res->issuers[0].p = root->der;
	res->issuers[0].len = root->len;
	res->nissuers = 1;
	res->root_added = true;
	return 0;
}

int
chain_check(struct chain_checker *c, const struct der_span *chain, size_t n, bool precert,
            struct chain_result *res, const char **reason)
{
	const char *dummy;
	if (!reason)
		reason = &dummy;
	c->stats.checks++;
	if (n == 0) {
		*reason = "empty chain";
		return -EBADMSG;
	}
	if (n > CHAIN_MAX) {
		*reason = "chain has more than 16 certificates";
		return -EBADMSG;
	}
	memset(res, 0, sizeof *res);
	res->precert = precert;
	const char *why = NULL;
	if (chain[0].len == 0 || chain[0].len > DER_CERT_MAX) {
		*reason = "leaf certificate is empty or too large";
		return -EBADMSG;
	}
	int rc = der_cert_walk(chain[0].p, chain[0].len, &res->leaf, &why);
	if (rc != 0) {
		*reason = "leaf certificate does not parse";
		return -EBADMSG;
	}
	rc = chain_leaf_policy(c, &res->leaf, precert, reason);
	if (rc != 0)
		return rc;
	if (n == 1) {
		rc = chain_check_rootonly(c, res, reason);
		if (rc == 0)
			c->stats.accepted++;
		return rc;
	}

	const struct der_span *iss = chain + 1;
	size_t niss = n - 1;
	for (size_t i = 0; i < niss; i++)
		if (iss[i].len == 0) {
			*reason = "chain certificate is empty or too large";
			return -EBADMSG;
		}
	uint64_t tag = chain_tag(iss, niss);
	struct chain_entry *e = &c->cache[tag % c->ncache];
	if (chain_entry_matches(e, tag, iss, niss)) {
		c->stats.cache_hits++;
	} else {
		c->stats.cache_misses++;
		if (e->tag)
			c->stats.cache_evictions++;
		rc = chain_fill(c, e, iss, niss, precert, reason);
		if (rc != 0)
			return rc;
		e->tag = tag;
	}

	struct der_span subject = {e->copy + e->subject_off, e->subject_len};
	if (!chain_same_name(res->leaf.issuer_tlv, subject)) {
		*reason = "chain is not in order: the leaf's issuer is not the next certificate";
		return -EACCES;
	}
	if (e->issuer_is_root) {
		struct chain_vctx tmp = {0};
		struct chain_vctx *v = e->root < c->nroot_vctx ? &c->root_vctx[e->root] : &tmp;
		rc = chain_verify(c, &c->roots->v[e->root].key, v, res->leaf.sig_alg,
		                  res->leaf.tbs_tlv, res->leaf.sig, &why);
		chain_vctx_free(&tmp);
	} else {
		rc = chain_verify(c, &e->key, &e->vctx, res->leaf.sig_alg, res->leaf.tbs_tlv,
		                  res->leaf.sig, &why);
	}
	if (rc != 0) {
		*reason = rc == -EACCES ? "leaf signature does not verify with its issuer's key"
		                        : why;
		if (why &&
		    strcmp(why, "signature algorithm does not match the issuer's key type") == 0)
			*reason = why;
		return rc;
	}

	for (size_t i = 0; i < e->used; i++)
		res->issuers[i] = iss[i];
	res->nissuers = e->used;
	if (e->root_added) {
		res->issuers[res->nissuers].p = c->roots->v[e->root].der;
		res->issuers[res->nissuers].len = c->roots->v[e->root].len;
		res->nissuers++;
		res->root_added = true;
	}
	if (e->psc) {
		res->psc = true;
		if (der_cert_walk(iss[0].p, iss[0].len, &res->psc_cert, &why) != 0) {
			*reason = "chain certificate does not parse";
			return -EBADMSG;
		}
		memcpy(res->issuer_key_hash, e->psc_issuer_key_hash, CHAIN_HASH_LEN);
	} else {
		memcpy(res->issuer_key_hash, e->issuer_key_hash, CHAIN_HASH_LEN);
	}
	c->stats.accepted++;
	return 0;
}
