/* Unit test: engine/der.h, differential against OpenSSL 3.0.
 *
 * Every certificate under $BIRCH_VECTORS/certs, and certificates minted here with OpenSSL's API,
 * are walked and compared field by field with d2i_X509; the TBS span is checked by verifying
 * the signature over it with the issuer's key. The precertificate TBS rewriting is checked
 * against the final certificates of the C++ test set, VERIFIED_SCTS.json, the navigli data
 * tiles, and an independent rebuild with OpenSSL. Truncations and byte flips run against guard
 * pages, so any read outside the input crashes. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "engine/der.h"
#include "tests/lib/check.h"
#include "tests/lib/vec.h"

#define POOL_MAX         512
#define CPP_DIR          "certs/google-certificate-transparency-cpp/"
#define SIG_ALG_MISMATCH "certificate: signatureAlgorithm differs from the TBS signature field"
#define FINAL_PEM        "static-ct/sunlight-navigli2025h2/example-final-cert-with-embedded-scts.pem"

/* ---- small helpers ---- */

static size_t
hdr_len(size_t n)
{
	return n < 0x80 ? 2 : n < 0x100 ? 3 : n < 0x10000 ? 4 : 5;
}

/* Writes tag, length and content at out; returns the bytes written. */
static size_t
tlv(uint8_t *out, uint8_t tag, const void *content, size_t n)
{
	size_t h = hdr_len(n);
	out[0] = tag;
	if (h == 2) {
		out[1] = (uint8_t)n;
	} else {
		out[1] = (uint8_t)(0x80 | (h - 2));
		for (size_t i = 0; i < h - 2; i++)
			out[h - 1 - i] = (uint8_t)(n >> (8 * i));
	}
	if (n)
		memmove(out + h, content, n);
	return h + n;
}

static long
unhex(uint8_t *out, size_t cap, const char *s)
{
	size_t n = strlen(s);
	if (n % 2 || n / 2 > cap)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return (long)(n / 2);
}

static bool
span_is(const struct der_span *s, const void *p, size_t n)
{
	return s->len == n && (n == 0 || memcmp(s->p, p, n) == 0);
}

static bool
span_in(const struct der_span *s, const struct der_span *outer)
{
	return s->p >= outer->p && s->p + s->len <= outer->p + outer->len;
}

/* i2d output equals the span; frees the i2d buffer (read only after the i2d call has run). */
static bool
i2d_is(int n, unsigned char **buf, const struct der_span *s)
{
	bool eq = n > 0 && span_is(s, *buf, (size_t)n);
	OPENSSL_free(*buf);
	*buf = NULL;
	return eq;
}

static X509 *
d2i_exact(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	if (x && p != der + len) {
		X509_free(x);
		x = NULL;
	}
	ERR_clear_error();
	return x;
}

static enum der_sig_alg
alg_of_nid(int nid)
{
	switch (nid) {
	case NID_sha1WithRSAEncryption:
		return DER_SIG_RSA_PKCS1_SHA1;
	case NID_sha256WithRSAEncryption:
		return DER_SIG_RSA_PKCS1_SHA256;
	case NID_sha384WithRSAEncryption:
		return DER_SIG_RSA_PKCS1_SHA384;
	case NID_sha512WithRSAEncryption:
		return DER_SIG_RSA_PKCS1_SHA512;
	case NID_ecdsa_with_SHA256:
		return DER_SIG_ECDSA_SHA256;
	case NID_ecdsa_with_SHA384:
		return DER_SIG_ECDSA_SHA384;
	case NID_ecdsa_with_SHA512:
		return DER_SIG_ECDSA_SHA512;
	case NID_ED25519:
		return DER_SIG_ED25519;
	default:
		return DER_SIG_UNKNOWN;
	}
}

/* Verifies the signature over c->tbs_tlv with key, the way a log checks a chain. */
static bool
verify_span(const struct der_cert *c, EVP_PKEY *key)
{
	const EVP_MD *md = NULL;
	switch (c->sig_alg) {
	case DER_SIG_RSA_PKCS1_SHA1:
		md = EVP_sha1();
		break;
	case DER_SIG_RSA_PKCS1_SHA256:
	case DER_SIG_ECDSA_SHA256:
		md = EVP_sha256();
		break;
	case DER_SIG_RSA_PKCS1_SHA384:
	case DER_SIG_ECDSA_SHA384:
		md = EVP_sha384();
		break;
	case DER_SIG_RSA_PKCS1_SHA512:
	case DER_SIG_ECDSA_SHA512:
		md = EVP_sha512();
		break;
	case DER_SIG_ED25519:
		break;
	default:
		return false;
	}
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = ctx && EVP_DigestVerifyInit(ctx, NULL, md, NULL, key) == 1 &&
	          EVP_DigestVerify(ctx, c->sig.p, c->sig.len, c->tbs_tlv.p, c->tbs_tlv.len) == 1;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

/* Extension fields parsed from an Extension TLV, independently of the walk. */
static bool
ext_fields(const struct der_span *ext, bool *critical, struct der_span *value)
{
	uint8_t t;
	struct der_span c, x;
	size_t total;
	const char *r;
	if (der_tlv(ext->p, ext->len, &t, &c, &total, &r))
		return false;
	const uint8_t *p = c.p, *end = c.p + c.len;
	*critical = false;
	for (int i = 0; i < 3 && p < end; i++) {
		if (der_tlv(p, (size_t)(end - p), &t, &x, &total, &r))
			return false;
		if (t == DER_TAG_BOOLEAN)
			*critical = x.len == 1 && x.p[0] != 0;
		if (t == DER_TAG_OCTET_STRING)
			*value = x;
		p += total;
	}
	return true;
}

/* OpenSSL's time as Unix seconds (timegm is fine in a test), with RFC 5280's "no
 * well-defined expiration" mapped the way der.h documents. */
static bool
openssl_time(const ASN1_TIME *t, bool is_not_after, int64_t *out)
{
	struct tm tm;
	if (ASN1_TIME_to_tm(t, &tm) != 1)
		return false;
	*out = (int64_t)timegm(&tm);
	if (is_not_after && ASN1_STRING_type(t) == V_ASN1_GENERALIZEDTIME &&
	    ASN1_STRING_length(t) == 15 &&
	    memcmp(ASN1_STRING_get0_data(t), "99991231235959Z", 15) == 0)
		*out = INT64_MAX;
	return true;
}

static bool
eku_has_ct(X509 *x)
{
	int crit = 0;
	EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, &crit, NULL);
	bool has = false;
	for (int i = 0; eku && i < sk_ASN1_OBJECT_num(eku); i++)
		has |= OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i)) == NID_ct_precert_signer;
	EXTENDED_KEY_USAGE_free(eku);
	ERR_clear_error();
	return has;
}

/* OpenSSL's view of the extension with nid against the walk's flag and TLV. */
static void
compare_ext(const char *label, X509 *x, int nid, bool have, const struct der_span *tlv,
            const char *what)
{
	int i = X509_get_ext_by_NID(x, nid, -1);
	CHECK((i >= 0) == have, "%s: %s present: walk %d, OpenSSL %d", label, what, have, i >= 0);
	if (i < 0 || !have || !tlv)
		return;
	X509_EXTENSION *e = X509_get_ext(x, i);
	const ASN1_OCTET_STRING *d = X509_EXTENSION_get_data(e);
	bool crit = false;
	struct der_span v = {NULL, 0};
	CHECK(ext_fields(tlv, &crit, &v), "%s: %s TLV does not parse", label, what);
	CHECK(crit == (X509_EXTENSION_get_critical(e) != 0), "%s: %s critical", label, what);
	CHECK(span_is(&v, ASN1_STRING_get0_data(d), (size_t)ASN1_STRING_length(d)), "%s: %s value",
	      label, what);
}

/* Every field of the walk against d2i_X509 of the same bytes. */
static void
compare_with_openssl(const char *label, const struct der_cert *c, X509 *x)
{
	unsigned char *buf = NULL;
	CHECK(c->version == X509_get_version(x) + 1, "%s: version %d vs %ld", label, c->version,
	      X509_get_version(x) + 1);

	int n = i2d_ASN1_INTEGER(X509_get0_serialNumber(x), &buf);
	uint8_t t;
	struct der_span sc = {NULL, 0};
	size_t total;
	const char *r;
	CHECK(n > 0 && der_tlv(buf, (size_t)n, &t, &sc, &total, &r) == 0 &&
	              span_is(&c->serial, sc.p, sc.len),
	      "%s: serial", label);
	OPENSSL_free(buf);
	buf = NULL;
	CHECK(i2d_is(i2d_X509_NAME(X509_get_issuer_name(x), &buf), &buf, &c->issuer_tlv),
	      "%s: issuer", label);
	buf = NULL;
	CHECK(i2d_is(i2d_X509_NAME(X509_get_subject_name(x), &buf), &buf, &c->subject_tlv),
	      "%s: subject", label);
	buf = NULL;
	CHECK(i2d_is(i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &buf), &buf, &c->spki_tlv),
	      "%s: subjectPublicKeyInfo", label);

	int64_t nb = 0, na = 0;
	CHECK(openssl_time(X509_get0_notBefore(x), false, &nb) && nb == c->not_before,
	      "%s: notBefore %lld vs %lld", label, (long long)c->not_before, (long long)nb);
	CHECK(openssl_time(X509_get0_notAfter(x), true, &na) && na == c->not_after,
	      "%s: notAfter %lld vs %lld", label, (long long)c->not_after, (long long)na);

	const ASN1_BIT_STRING *sig;
	const X509_ALGOR *alg;
	X509_get0_signature(&sig, &alg, x);
	CHECK(span_is(&c->sig, ASN1_STRING_get0_data(sig), (size_t)ASN1_STRING_length(sig)),
	      "%s: signature bytes", label);
	buf = NULL;
	CHECK(i2d_is(i2d_X509_ALGOR(alg, &buf), &buf, &c->sig_alg_tlv), "%s: signatureAlgorithm",
	      label);
	/* OpenSSL names the algorithm by its OID alone; the walk also requires RSA parameters to be
	 * NULL or absent and the others absent. */
	const ASN1_OBJECT *obj;
	int ptype;
	const void *pval;
	X509_ALGOR_get0(&obj, &ptype, &pval, alg);
	enum der_sig_alg want = alg_of_nid(X509_get_signature_nid(x));
	bool rsa = want >= DER_SIG_RSA_PKCS1_SHA1 && want <= DER_SIG_RSA_PKCS1_SHA512;
	if (!(ptype == V_ASN1_UNDEF || (rsa && ptype == V_ASN1_NULL)))
		want = DER_SIG_UNKNOWN;
	CHECK(c->sig_alg == want, "%s: sig alg %d, OpenSSL %d (nid %d)", label, c->sig_alg, want,
	      X509_get_signature_nid(x));

	uint32_t xf = X509_get_extension_flags(x);
	ERR_clear_error();
	CHECK(!(c->flags & DER_F_BC) == !(xf & EXFLAG_BCONS), "%s: basicConstraints", label);
	CHECK(!(c->flags & DER_F_BC_CA) == !(xf & EXFLAG_CA), "%s: cA", label);
	long pl = X509_get_pathlen(x); /* the walk caps pathLen at INT_MAX */
	CHECK(c->bc_path_len == (pl > INT_MAX ? INT_MAX : pl), "%s: pathLen %d vs %ld", label,
	      c->bc_path_len, pl);
	CHECK(!(c->flags & DER_F_KU) == !(xf & EXFLAG_KUSAGE), "%s: keyUsage", label);
	if ((xf & EXFLAG_KUSAGE) && !(xf & EXFLAG_INVALID))
		CHECK(!(c->flags & DER_F_KU_CERT_SIGN) ==
		              !(X509_get_key_usage(x) & KU_KEY_CERT_SIGN),
		      "%s: keyCertSign", label);
	CHECK(!(c->flags & DER_F_EKU) == !(xf & EXFLAG_XKUSAGE), "%s: extKeyUsage", label);
	CHECK(!(c->flags & DER_F_EKU_CT) == !eku_has_ct(x), "%s: CT EKU", label);
	/* OpenSSL hides its parsed extensions once any extension fails to decode; the walk skips
	 * the extensions it does not know */
	if (!(xf & EXFLAG_INVALID))
		CHECK(!(c->flags & DER_F_SKI) == !X509_get0_subject_key_id(x), "%s: SKI parsed",
		      label);
	compare_ext(label, x, NID_subject_key_identifier, c->flags & DER_F_SKI, NULL, "SKI");
	compare_ext(label, x, NID_authority_key_identifier, c->flags & DER_F_AKI, &c->aki_tlv,
	            "AKI");
	if (c->flags & DER_F_AKI) {
		int i = X509_get_ext_by_NID(x, NID_authority_key_identifier, -1);
		const ASN1_OCTET_STRING *d = X509_EXTENSION_get_data(X509_get_ext(x, i));
		CHECK(span_is(&c->aki_value, ASN1_STRING_get0_data(d),
		              (size_t)ASN1_STRING_length(d)),
		      "%s: AKI value", label);
	}
	compare_ext(label, x, NID_ct_precert_poison, c->flags & DER_F_POISON, &c->poison_tlv,
	            "poison");
	int pi = X509_get_ext_by_NID(x, NID_ct_precert_poison, -1);
	bool pcrit = false;
	if (pi >= 0) {
		X509_EXTENSION *e = X509_get_ext(x, pi);
		const ASN1_OCTET_STRING *d = X509_EXTENSION_get_data(e);
		pcrit = X509_EXTENSION_get_critical(e) && ASN1_STRING_length(d) == 2 &&
		        memcmp(ASN1_STRING_get0_data(d), "\x05\x00", 2) == 0;
	}
	CHECK(!(c->flags & DER_F_POISON_CRITICAL) == !pcrit, "%s: critical poison", label);
	compare_ext(label, x, NID_ct_precert_scts, c->flags & DER_F_SCT_LIST, &c->sct_list_tlv,
	            "SCT list");
	CHECK(X509_get_ext_count(x) == 0 || c->exts.len > 0, "%s: extensions span", label);
}

/* The spans of a successful walk lie inside the input and nest as they should. */
static void
check_spans(const char *label, const struct der_cert *c, const uint8_t *in, size_t len)
{
	struct der_span all = {in, len};
	CHECK(span_is(&c->cert_tlv, in, len), "%s: cert_tlv is the input", label);
	CHECK(span_in(&c->tbs_tlv, &all) && span_in(&c->sig_alg_tlv, &all) &&
	              span_in(&c->sig, &all),
	      "%s: outer spans", label);
	const struct der_span *in_tbs[] = {&c->serial, &c->issuer_tlv, &c->subject_tlv,
	                                   &c->spki_tlv};
	for (size_t i = 0; i < 4; i++)
		CHECK(span_in(in_tbs[i], &c->tbs_tlv), "%s: span %zu outside the TBS", label, i);
	CHECK(c->serial.p < c->issuer_tlv.p && c->issuer_tlv.p < c->subject_tlv.p &&
	              c->subject_tlv.p < c->spki_tlv.p,
	      "%s: field order", label);
	if (c->exts.len)
		CHECK(span_in(&c->exts, &c->tbs_tlv) && c->exts.p > c->spki_tlv.p,
		      "%s: extensions span", label);
}

/* ---- the vector pool ---- */

struct vcert {
	char name[200]; /* path below $BIRCH_VECTORS, '#', block index */
	uint8_t *der;
	size_t len;
	X509 *x; /* NULL when d2i_X509 rejects it */
	int rc;  /* der_cert_walk */
	const char *reason;
	struct der_cert c;
};

static struct vcert pool[POOL_MAX];
static size_t pool_n;

static int
pool_add(void *ctx, const uint8_t *der, size_t len, size_t i)
{
	if (pool_n == POOL_MAX)
		check_harness("more vector certificates than POOL_MAX");
	struct vcert *v = &pool[pool_n++];
	snprintf(v->name, sizeof v->name, "%s#%zu", (const char *)ctx, i);
	v->der = malloc(len);
	if (!v->der)
		check_harness("out of memory");
	memcpy(v->der, der, len);
	v->len = len;
	v->x = d2i_exact(v->der, len);
	v->rc = der_cert_walk(v->der, len, &v->c, &v->reason);
	return 0;
}

static const char *
rel_name(const char *path)
{
	const char *root = getenv("BIRCH_VECTORS");
	size_t n = root ? strlen(root) : 0;
	return strncmp(path, root, n) == 0 && path[n] == '/' ? path + n + 1 : path;
}

static size_t vector_files_n;
static char *vector_files[256];

static void
pool_load(void)
{
	static const char *const suffixes[] = {".pem", ".cert", ".chain"};
	if (pool_n)
		return;
	char *dir = vec_path("certs");
	for (size_t s = 0; s < 3; s++) {
		size_t n = 0;
		char **files = vec_list(dir, suffixes[s], &n);
		for (size_t i = 0; i < n; i++) {
			if (vector_files_n < 255)
				vector_files[vector_files_n++] = files[i];
			else
				free(files[i]);
		}
		free(files);
	}
	free(dir);
	vector_files[vector_files_n++] = vec_path(FINAL_PEM);
	for (size_t i = 0; i < vector_files_n; i++) {
		size_t len;
		char *buf = (char *)vec_read(vector_files[i], &len);
		const char *reason = "";
		long r = der_pem_each(buf, len, pool_add, (void *)rel_name(vector_files[i]),
		                      &reason);
		CHECK(r >= 0, "%s: der_pem_each %ld (%s)", vector_files[i], r, reason);
		free(buf);
	}
}

static struct vcert *
pool_find(const char *rel)
{
	size_t n = strlen(rel);
	for (size_t i = 0; i < pool_n; i++)
		if (strncmp(pool[i].name, rel, n) == 0 && strcmp(pool[i].name + n, "#0") == 0)
			return &pool[i];
	fprintf(stderr, "no vector %s\n", rel);
	check_harness("vector certificate missing");
}

/* ---- vectors ---- */

static void
walk_matches_openssl_on_every_vector_cert(void)
{
	pool_load();
	size_t agree = 0, both_reject = 0, sct = 0, poison = 0, fake = 0;
	for (size_t i = 0; i < pool_n; i++) {
		struct vcert *v = &pool[i];
		if (v->rc == 0 && v->x) {
			agree++;
			compare_with_openssl(v->name, &v->c, v->x);
			check_spans(v->name, &v->c, v->der, v->len);
			/* OpenSSL's re-encoding of a DER TBS is the same bytes */
			X509 *d = X509_dup(v->x);
			unsigned char *tbs = NULL;
			CHECK(i2d_is(i2d_re_X509_tbs(d, &tbs), &tbs, &v->c.tbs_tlv),
			      "%s: tbs_tlv vs i2d_re_X509_tbs", v->name);
			X509_free(d);
			sct += !!(v->c.flags & DER_F_SCT_LIST);
			poison += !!(v->c.flags & DER_F_POISON);
		} else if (v->rc != 0 && !v->x) {
			both_reject++;
			printf("  both reject %s: walk %d (%s)\n", v->name, v->rc, v->reason);
		} else if (v->rc != 0) {
			printf("  walk rejects what OpenSSL accepts: %s: %d (%s)\n", v->name, v->rc,
			       v->reason);
			/* allowed: -ENOTSUP, and der.h's rule that the outer signatureAlgorithm is
			 * the TBS's byte for byte (test-*-chain.pem carry an SCT in a fake
			 * certificate whose outer algorithm is OID 0.0) */
			CHECK(v->rc == -ENOTSUP || strcmp(v->reason, SIG_ALG_MISMATCH) == 0,
			      "%s: walk %d (%s), OpenSSL accepts", v->name, v->rc, v->reason);
			fake += v->rc != -ENOTSUP;
		} else {
			CHECK(0, "%s: the walk accepts what OpenSSL rejects", v->name);
		}
		if (strstr(v->name, "md2"))
			printf("  %s: walk %d sig_alg %d (%s), OpenSSL %s nid %d\n", v->name, v->rc,
			       v->c.sig_alg, v->rc ? v->reason : "ok", v->x ? "parses" : "rejects",
			       v->x ? X509_get_signature_nid(v->x) : 0);
	}
	printf("  %zu certificates in %zu files: %zu agree, %zu rejected by both; %zu with SCT "
	       "list, %zu precerts\n",
	       pool_n, vector_files_n, agree, both_reject, sct, poison);
	CHECK(pool_n >= 90 && agree + both_reject + fake == pool_n && both_reject <= 1 && fake <= 3,
	      "pool %zu agree %zu both_reject %zu", pool_n, agree, both_reject);
	CHECK(sct >= 5 && poison >= 5, "SCT lists %zu, precerts %zu", sct, poison);
}

static void
tbs_span_verifies_under_the_issuer_key(void)
{
	pool_load();
	size_t verified = 0, pairs = 0;
	for (size_t i = 0; i < pool_n; i++) {
		struct vcert *v = &pool[i];
		if (v->rc || !v->x)
			continue;
		bool any = false;
		for (size_t j = 0; j < pool_n; j++) {
			struct vcert *u = &pool[j];
			if (u->rc || !u->x ||
			    !span_is(&u->c.subject_tlv, v->c.issuer_tlv.p, v->c.issuer_tlv.len))
				continue;
			EVP_PKEY *key = X509_get0_pubkey(u->x);
			bool ours = key && verify_span(&v->c, key);
			bool theirs = key && X509_verify(v->x, key) == 1;
			ERR_clear_error();
			CHECK(ours == theirs, "%s under %s: walk span %d, X509_verify %d", v->name,
			      u->name, ours, theirs);
			pairs++;
			any |= ours;
		}
		verified += any;
	}
	printf("  %zu certificates verified over tbs_tlv (%zu issuer candidates tried)\n", verified,
	       pairs);
	CHECK(verified >= 70, "only %zu verified", verified);
}

static int
collect_der(void *ctx, const uint8_t *der, size_t len, size_t i)
{
	struct {
		uint8_t *p[64];
		size_t len[64];
		size_t n;
	} *out = ctx;
	if (out->n == 64 || i != out->n)
		return -1;
	out->p[out->n] = malloc(len);
	memcpy(out->p[out->n], der, len);
	out->len[out->n++] = len;
	return 0;
}

static void
pem_each_matches_openssl_pem_reader(void)
{
	pool_load();
	size_t blocks = 0;
	for (size_t f = 0; f < vector_files_n; f++) {
		struct {
			uint8_t *p[64];
			size_t len[64];
			size_t n;
		} ours = {{0}, {0}, 0};
		size_t len;
		char *buf = (char *)vec_read(vector_files[f], &len);
		const char *reason = "";
		long r = der_pem_each(buf, len, collect_der, &ours, &reason);
		free(buf);
		BIO *bio = BIO_new_file(vector_files[f], "r");
		size_t k = 0;
		char *name = NULL, *header = NULL;
		unsigned char *data = NULL;
		long dlen = 0;
		for (int guard = 0;
		     guard < 256 && bio && PEM_read_bio(bio, &name, &header, &data, &dlen) == 1;
		     guard++) {
			if (strcmp(name, "CERTIFICATE") == 0) {
				CHECK(k < ours.n && ours.len[k] == (size_t)dlen &&
				              memcmp(ours.p[k], data, (size_t)dlen) == 0,
				      "%s: block %zu differs from PEM_read_bio", vector_files[f],
				      k);
				k++;
			}
			OPENSSL_free(name);
			OPENSSL_free(header);
			OPENSSL_free(data);
		}
		ERR_clear_error();
		BIO_free(bio);
		CHECK(r == (long)k && ours.n == k, "%s: %ld blocks, OpenSSL %zu", vector_files[f],
		      r, k);
		blocks += k;
		for (size_t i = 0; i < ours.n; i++)
			free(ours.p[i]);
	}
	CHECK(blocks == pool_n, "blocks %zu pool %zu", blocks, pool_n);
}

static int
count_only(void *ctx, const uint8_t *der, size_t len, size_t i)
{
	size_t *n = ctx;
	(*n)++;
	return len == 3 && memcmp(der, "abc", 3) == 0 ? 0 : 7;
}

static void
pem_each_skips_other_blocks_and_rejects_bad_base64(void)
{
	static const struct {
		const char *text;
		long want;
		size_t calls;
	} cases[] = {
	        {"", 0, 0},
	        {"junk\n-----BEGIN CERTIFICATE-----\nYWJj\n-----END CERTIFICATE-----\nmore", 1, 1},
	        {"-----BEGIN CERTIFICATE-----\r\nYW\r\nJj\r\n-----END CERTIFICATE-----\r\n"
	         "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
	         "-----BEGIN TRUSTED CERTIFICATE-----\nAAAA\n-----END TRUSTED CERTIFICATE-----\n"
	         "-----BEGIN CERTIFICATE-----\nYWJj\n-----END CERTIFICATE-----\n",
	         2, 2},
	        {"-----BEGIN CERTIFICATE-----\nYWJj\n", -EBADMSG, 0},
	        {"-----BEGIN CERTIFICATE-----\nYW*j\n-----END CERTIFICATE-----", -EBADMSG, 0},
	        {"-----BEGIN CERTIFICATE-----\nYWJ\n-----END CERTIFICATE-----", -EBADMSG, 0},
	        {"-----BEGIN CERTIFICATE-----\nYQ==YWJj\n-----END CERTIFICATE-----", -EBADMSG, 0},
	        {"-----BEGIN CERTIFICATE-----\nYR==\n-----END CERTIFICATE-----", -EBADMSG, 0},
	        {"-----BEGIN CERTIFICATE-----\nY===\n-----END CERTIFICATE-----", -EBADMSG, 0},
	        {"-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----", -EBADMSG, 0},
	        /* fn's first non-zero return stops the walk and is returned */
	        {"-----BEGIN CERTIFICATE-----\nYQ==\n-----END CERTIFICATE-----\n"
	         "-----BEGIN CERTIFICATE-----\nYWJj\n-----END CERTIFICATE-----",
	         7, 1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char buf[1024];
		size_t n = strlen(cases[i].text), calls = 0;
		memcpy(buf, cases[i].text, n);
		const char *reason = "";
		long r = der_pem_each(buf, n, count_only, &calls, &reason);
		CHECK(r == cases[i].want && calls == cases[i].calls,
		      "case %zu: %ld (%s), %zu calls; want %ld, %zu", i, r, reason, calls,
		      cases[i].want, cases[i].calls);
	}
}

/* ---- precertificates from the vectors ---- */

struct owned {
	uint8_t *der;
	size_t len;
	struct der_cert c;
};

static struct owned
owned_first(const char *rel)
{
	struct vcert *v = pool_find(rel);
	struct owned o = {v->der, v->len, v->c};
	CHECK(v->rc == 0, "%s: %s", rel, v->reason);
	return o;
}

static uint8_t tbs_a[DER_CERT_MAX + 4096], tbs_b[DER_CERT_MAX + 4096], tbs_c[DER_CERT_MAX + 4096];

static void
precert_tbs_matches_final_cert_without_sct_list(void)
{
	pool_load();
	char *path = vec_path(CPP_DIR "VERIFIED_SCTS.json");
	struct vec_json *j = vec_json_file(path);
	free(path);
	const struct vec_json *cases = vec_must(j, "cases", VEC_ARR);
	size_t done = 0;
	for (size_t i = 0; i < cases->n; i++) {
		const struct vec_json *cs = &cases->item[i];
		const struct vec_json *fin = vec_get(cs, "final_cert");
		if (!fin)
			continue;
		char rel[256];
		const char *pre_name = vec_must(cs, "precert", VEC_STR)->str;
		snprintf(rel, sizeof rel, CPP_DIR "%s", pre_name);
		struct owned pre = owned_first(rel);
		snprintf(rel, sizeof rel, CPP_DIR "%s", fin->str);
		struct owned final = owned_first(rel);
		const struct vec_json *psc_name = vec_get(cs, "precert_signed_by_psc");
		struct owned psc = {0};
		bool has_psc = psc_name && psc_name->type == VEC_STR;
		if (has_psc) {
			snprintf(rel, sizeof rel, CPP_DIR "%s", psc_name->str);
			psc = owned_first(rel);
			CHECK(psc.c.flags & DER_F_EKU_CT, "%s: the PSC has the CT EKU", pre_name);
		}
		CHECK((pre.c.flags & (DER_F_POISON | DER_F_POISON_CRITICAL)) ==
		              (DER_F_POISON | DER_F_POISON_CRITICAL),
		      "%s: critical poison", pre_name);
		const char *reason = "";
		long a = der_precert_tbs(tbs_a, sizeof tbs_a, &pre.c, has_psc ? &psc.c : NULL,
		                         &reason);
		long b = der_tbs_without_sct_list(tbs_b, sizeof tbs_b, &final.c, &reason);
		long h = unhex(tbs_c, sizeof tbs_c, vec_must(cs, "defanged_tbs_hex", VEC_STR)->str);
		CHECK(a > 0 && a == b && memcmp(tbs_a, tbs_b, (size_t)a) == 0,
		      "%s: precert TBS (%ld) != final cert TBS less SCT list (%ld)", pre_name, a,
		      b);
		CHECK(a == h && memcmp(tbs_a, tbs_c, (size_t)h) == 0,
		      "%s: precert TBS != defanged_tbs_hex", pre_name);
		CHECK(a == (long)vec_u64(cs, "defanged_tbs_len"), "%s: length", pre_name);
		if (has_psc) {
			long c = der_precert_tbs(tbs_c, sizeof tbs_c, &pre.c, NULL, &reason);
			CHECK(c > 0 && (c != a || memcmp(tbs_a, tbs_c, (size_t)a) != 0),
			      "%s: ignoring the PSC must change the TBS", pre_name);
		}
		done++;
	}
	CHECK(done == 4, "%zu embedded cases", done);
}

static bool
take(const uint8_t *b, size_t len, size_t *pos, size_t n, const uint8_t **out)
{
	if (len - *pos < n)
		return false;
	*out = b + *pos;
	*pos += n;
	return true;
}

static bool
take_var(const uint8_t *b, size_t len, size_t *pos, int width, const uint8_t **out, size_t *n)
{
	const uint8_t *l;
	if (!take(b, len, pos, (size_t)width, &l))
		return false;
	*n = 0;
	for (int i = 0; i < width; i++)
		*n = *n << 8 | l[i];
	return take(b, len, pos, *n, out);
}

static void
precert_tbs_matches_navigli_tile_entries(void)
{
	static const char *const tiles[] = {"000", "001", "002", "003"};
	size_t precerts = 0, x509 = 0;
	for (size_t t = 0; t < 4; t++) {
		char rel[128];
		snprintf(rel, sizeof rel, "static-ct/sunlight-navigli2025h2/tile/data/%s",
		         tiles[t]);
		char *path = vec_path(rel);
		size_t len, pos = 0;
		uint8_t *b = vec_read(path, &len);
		for (size_t e = 0; e < 256; e++) {
			const uint8_t *hdr, *tbs, *ext, *pre, *chain, *ikh;
			size_t tbs_len, ext_len, pre_len, chain_len;
			if (!take(b, len, &pos, 10, &hdr)) {
				CHECK(0, "%s: entry %zu truncated", rel, e);
				break;
			}
			if (hdr[8] == 0 && hdr[9] == 0) { /* x509_entry */
				bool ok = take_var(b, len, &pos, 3, &pre, &pre_len) &&
				          take_var(b, len, &pos, 2, &ext, &ext_len) &&
				          take_var(b, len, &pos, 2, &chain, &chain_len);
				CHECK(ok, "%s: x509 entry %zu", rel, e);
				x509++;
				continue;
			}
			bool ok = hdr[8] == 0 && hdr[9] == 1 && take(b, len, &pos, 32, &ikh) &&
			          take_var(b, len, &pos, 3, &tbs, &tbs_len) &&
			          take_var(b, len, &pos, 2, &ext, &ext_len) &&
			          take_var(b, len, &pos, 3, &pre, &pre_len) &&
			          take_var(b, len, &pos, 2, &chain, &chain_len);
			if (!ok) {
				CHECK(0, "%s: entry %zu does not parse", rel, e);
				break;
			}
			struct der_cert c;
			const char *reason = "";
			int rc = der_cert_walk(pre, pre_len, &c, &reason);
			long n = rc ? rc : der_precert_tbs(tbs_a, sizeof tbs_a, &c, NULL, &reason);
			CHECK(n == (long)tbs_len && memcmp(tbs_a, tbs, tbs_len) == 0,
			      "%s: entry %zu: %ld (%s)", rel, e, n, reason);
			precerts++;
		}
		CHECK(pos == len, "%s: %zu trailing bytes", rel, len - pos);
		free(b);
		free(path);
	}
	printf("  %zu precert entries, %zu x509 entries\n", precerts, x509);
	CHECK(precerts + x509 == 1024 && precerts > 0, "entries %zu + %zu", precerts, x509);
}

/* ---- minted certificates ---- */

enum {
	M_POISON = 1u << 0,         /* critical, 05 00 */
	M_POISON_NONCRIT = 1u << 1, /* not critical, 05 00 */
	M_POISON_BADVAL = 1u << 2,  /* critical, 04 00 */
	M_SKI = 1u << 3,            /* SKI first, so the poison sits between others */
	M_AKI = 1u << 4,            /* keyIdentifier only */
	M_AKI_CRIT = 1u << 5,       /* ... marked critical */
	M_AKI_FULL = 1u << 6,       /* keyIdentifier, authorityCertIssuer, serial */
	M_KU_SIGN = 1u << 7,        /* keyCertSign, cRLSign */
	M_KU_DS = 1u << 8,          /* digitalSignature */
	M_EKU = 1u << 9,            /* serverAuth */
	M_EKU_CT = 1u << 10,        /* serverAuth + CT precert signing */
	M_BC_CA = 1u << 11,         /* cA TRUE */
	M_BC_PATHLEN = 1u << 12,    /* cA TRUE, pathLen m->pathlen */
	M_BC_LEAF = 1u << 13,       /* empty SEQUENCE (cA FALSE) */
	M_SCT = 1u << 14,           /* an SCT list (dummy contents) */
	M_UNKNOWN_CRIT = 1u << 15,  /* 1.2.3.4.5, critical */
};

struct mint {
	const char *cn;
	int version;
	const char *serial_hex; /* BN_hex2bn syntax, "-" for negative */
	const char *nb, *na;
	unsigned ext;
	int pathlen;
	EVP_PKEY *key;
	X509 *issuer; /* NULL: self-signed */
	EVP_PKEY *issuer_key;
	const EVP_MD *md;
};

static void
add_raw(X509 *x, const char *oid, int crit, const void *val, size_t n)
{
	ASN1_OBJECT *o = OBJ_txt2obj(oid, 1);
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	X509_EXTENSION *e = NULL;
	if (!o || !os || !ASN1_OCTET_STRING_set(os, val, (int)n) ||
	    !(e = X509_EXTENSION_create_by_OBJ(NULL, o, crit, os)) || !X509_add_ext(x, e, -1))
		check_harness("cannot add a raw extension");
	X509_EXTENSION_free(e);
	ASN1_OCTET_STRING_free(os);
	ASN1_OBJECT_free(o);
}

static void
add_conf(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!e || !X509_add_ext(x, e, -1))
		check_harness("cannot add an extension");
	X509_EXTENSION_free(e);
}

static void
add_key_ids(X509 *x, const struct mint *m, bool ski)
{
	unsigned char id[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	if (ski) {
		ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
		if (!X509_pubkey_digest(x, EVP_sha1(), id, &n) ||
		    !ASN1_OCTET_STRING_set(os, id, (int)n) ||
		    !X509_add1_ext_i2d(x, NID_subject_key_identifier, os, 0, X509V3_ADD_APPEND))
			check_harness("SKI");
		ASN1_OCTET_STRING_free(os);
		return;
	}
	X509 *iss = m->issuer ? m->issuer : x;
	AUTHORITY_KEYID *a = AUTHORITY_KEYID_new();
	a->keyid = ASN1_OCTET_STRING_new();
	if (!X509_pubkey_digest(iss, EVP_sha1(), id, &n) ||
	    !ASN1_OCTET_STRING_set(a->keyid, id, (int)n))
		check_harness("AKI");
	if (m->ext & M_AKI_FULL) {
		GENERAL_NAME *g = GENERAL_NAME_new();
		g->type = GEN_DIRNAME;
		g->d.dirn = X509_NAME_dup(X509_get_issuer_name(iss));
		a->issuer = GENERAL_NAMES_new();
		sk_GENERAL_NAME_push(a->issuer, g);
		a->serial = ASN1_INTEGER_dup(X509_get0_serialNumber(iss));
	}
	if (!X509_add1_ext_i2d(x, NID_authority_key_identifier, a, !!(m->ext & M_AKI_CRIT),
	                       X509V3_ADD_APPEND))
		check_harness("AKI");
	AUTHORITY_KEYID_free(a);
}

static X509 *
mint(const struct mint *m)
{
	static const uint8_t null[] = {0x05, 0x00}, octets[] = {0x04, 0x00};
	static const uint8_t scts[] = {0x04, 0x06, 0x00, 0x04, 0x00, 0x02, 0xab, 0xcd};
	X509 *x = X509_new();
	BIGNUM *bn = NULL;
	ASN1_INTEGER *sn = NULL;
	X509_NAME *name = X509_NAME_new();
	ASN1_TIME *t = ASN1_TIME_new();
	if (!x || !X509_set_version(x, m->version - 1) ||
	    !BN_hex2bn(&bn, m->serial_hex ? m->serial_hex : "1234") ||
	    !(sn = BN_to_ASN1_INTEGER(bn, NULL)) || !X509_set_serialNumber(x, sn) ||
	    !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
	                                (const unsigned char *)"Birch test", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)m->cn, -1,
	                                -1, 0) ||
	    !X509_set_subject_name(x, name) ||
	    !X509_set_issuer_name(x, m->issuer ? X509_get_subject_name(m->issuer) : name) ||
	    !ASN1_TIME_set_string(t, m->nb) || !X509_set1_notBefore(x, t) ||
	    !ASN1_TIME_set_string(t, m->na) || !X509_set1_notAfter(x, t) ||
	    !X509_set_pubkey(x, m->key))
		check_harness("cannot mint a certificate");
	BN_free(bn);
	ASN1_INTEGER_free(sn);
	X509_NAME_free(name);
	ASN1_TIME_free(t);
	if (m->ext & M_SKI)
		add_key_ids(x, m, true);
	if (m->ext & M_POISON)
		add_raw(x, "1.3.6.1.4.1.11129.2.4.3", 1, null, 2);
	if (m->ext & M_POISON_NONCRIT)
		add_raw(x, "1.3.6.1.4.1.11129.2.4.3", 0, null, 2);
	if (m->ext & M_POISON_BADVAL)
		add_raw(x, "1.3.6.1.4.1.11129.2.4.3", 1, octets, 2);
	if (m->ext & (M_AKI | M_AKI_CRIT | M_AKI_FULL))
		add_key_ids(x, m, false);
	if (m->ext & M_KU_SIGN)
		add_conf(x, NID_key_usage, "critical,keyCertSign,cRLSign");
	if (m->ext & M_KU_DS)
		add_conf(x, NID_key_usage, "critical,digitalSignature");
	if (m->ext & M_EKU)
		add_conf(x, NID_ext_key_usage, "serverAuth");
	if (m->ext & M_EKU_CT)
		add_conf(x, NID_ext_key_usage, "serverAuth,1.3.6.1.4.1.11129.2.4.4");
	if (m->ext & M_BC_CA)
		add_conf(x, NID_basic_constraints, "critical,CA:TRUE");
	if (m->ext & M_BC_PATHLEN) {
		char v[64];
		snprintf(v, sizeof v, "critical,CA:TRUE,pathlen:%d", m->pathlen);
		add_conf(x, NID_basic_constraints, v);
	}
	if (m->ext & M_BC_LEAF)
		add_conf(x, NID_basic_constraints, "CA:FALSE");
	if (m->ext & M_SCT)
		add_raw(x, "1.3.6.1.4.1.11129.2.4.2", 0, scts, sizeof scts);
	if (m->ext & M_UNKNOWN_CRIT)
		add_raw(x, "1.2.3.4.5", 1, null, 2);
	if (X509_sign(x, m->issuer_key ? m->issuer_key : m->key, m->md) <= 0)
		check_harness("X509_sign");
	return x;
}

/* The flags the walk must report for m, from the recipe alone. */
static uint32_t
mint_flags(const struct mint *m)
{
	uint32_t f = 0;
	if (m->ext & (M_POISON | M_POISON_NONCRIT | M_POISON_BADVAL))
		f |= DER_F_POISON;
	if (m->ext & M_POISON)
		f |= DER_F_POISON_CRITICAL;
	if (m->ext & M_SKI)
		f |= DER_F_SKI;
	if (m->ext & (M_AKI | M_AKI_CRIT | M_AKI_FULL))
		f |= DER_F_AKI;
	if (m->ext & M_KU_SIGN)
		f |= DER_F_KU | DER_F_KU_CERT_SIGN;
	if (m->ext & M_KU_DS)
		f |= DER_F_KU;
	if (m->ext & M_EKU)
		f |= DER_F_EKU;
	if (m->ext & M_EKU_CT)
		f |= DER_F_EKU | DER_F_EKU_CT;
	if (m->ext & (M_BC_CA | M_BC_PATHLEN))
		f |= DER_F_BC | DER_F_BC_CA;
	if (m->ext & M_BC_LEAF)
		f |= DER_F_BC;
	if (m->ext & M_SCT)
		f |= DER_F_SCT_LIST;
	return f;
}

static EVP_PKEY *key_rsa, *key_p256, *key_p384, *key_ed25519, *key_leaf;

static void
keys_make(void)
{
	if (key_rsa)
		return;
	key_rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	key_p256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	key_p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	key_ed25519 = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	key_leaf = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (!key_rsa || !key_p256 || !key_p384 || !key_ed25519 || !key_leaf)
		check_harness("key generation");
}

/* Walks x's DER and compares with OpenSSL, the recipe, i2d_re_X509_tbs and the issuer's
 * signature. */
static void
check_minted(const char *label, X509 *x, const struct mint *m, enum der_sig_alg want_alg)
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);
	struct der_cert c;
	const char *reason = "";
	int rc = n > 0 ? der_cert_walk(der, (size_t)n, &c, &reason) : -1;
	CHECK(rc == 0, "%s: walk %d (%s)", label, rc, reason);
	if (rc == 0) {
		X509 *y = d2i_exact(der, (size_t)n);
		CHECK(y != NULL, "%s: OpenSSL re-reads its own certificate", label);
		if (y)
			compare_with_openssl(label, &c, y);
		X509_free(y);
		check_spans(label, &c, der, (size_t)n);
		CHECK(c.flags == mint_flags(m), "%s: flags %#x, recipe %#x", label, c.flags,
		      mint_flags(m));
		CHECK(c.sig_alg == want_alg, "%s: sig_alg %d want %d", label, c.sig_alg, want_alg);
		CHECK(c.version == m->version, "%s: version", label);
		CHECK(c.bc_path_len == (m->ext & M_BC_PATHLEN ? m->pathlen : -1), "%s: pathLen",
		      label);
		unsigned char *tbs = NULL;
		CHECK(i2d_is(i2d_re_X509_tbs(x, &tbs), &tbs, &c.tbs_tlv),
		      "%s: tbs_tlv vs i2d_re_X509_tbs", label);
		CHECK(verify_span(&c, m->issuer_key ? m->issuer_key : m->key),
		      "%s: signature over tbs_tlv", label);
		CHECK(!(c.flags & DER_F_AKI) || span_in(&c.aki_value, &c.aki_tlv),
		      "%s: AKI value inside its TLV", label);
	}
	OPENSSL_free(der);
}

static const char *const times[][2] = {
        {"491231235959Z", "500101000000Z"},     /* UTCTime 2049, UTCTime 1950 */
        {"20491231235959Z", "20500101000000Z"}, /* GeneralizedTime 2049 and 2050 */
        {"700101000000Z", "99991231235959Z"},   /* the epoch; no expiry (INT64_MAX) */
        {"000229120000Z", "99991231235958Z"},   /* 2000 leap day; one second earlier */
        {"20380119031408Z", "21000228235959Z"}, /* past 2^31; 2100 is not leap */
        {"16010101000000Z", "19691231235959Z"}, /* before the epoch */
        {"500101000000Z", "991231235959Z"},     {"240229000000Z", "20240301000000Z"},
};

static const struct {
	const char *name;
	int version;
	const char *serial;
	unsigned ext;
	int pathlen;
} variants[] = {
        {"leaf", 3, "80", M_SKI | M_AKI | M_KU_DS | M_EKU | M_BC_LEAF, 0},
        {"precert", 3, "-5", M_SKI | M_POISON | M_AKI | M_KU_DS | M_EKU, 0},
        {"precert-noncritical-poison", 3, "7fffffffffffffffffffffffffffffffffffffff",
         M_POISON_NONCRIT | M_AKI, 0},
        {"precert-poison-bad-value", 3, "0", M_POISON_BADVAL, 0},
        {"psc", 3, "100", M_EKU_CT | M_BC_CA | M_KU_SIGN | M_SKI | M_AKI, 0},
        {"ca-pathlen", 3, "ff", M_BC_PATHLEN | M_KU_SIGN | M_SKI, 3},
        {"ca-pathlen0", 3, "ff00", M_BC_PATHLEN | M_AKI_FULL, 0},
        {"final-with-scts", 3, "1", M_SCT | M_AKI | M_SKI, 0},
        {"unknown-critical", 3, "2", M_UNKNOWN_CRIT | M_AKI_CRIT, 0},
        {"v1", 1, "3", 0, 0},
        {"v3-no-extensions", 3, "4", 0, 0},
};

static void
walk_matches_openssl_on_minted_certs(void)
{
	keys_make();
	const struct {
		const char *name;
		EVP_PKEY **key;
		const EVP_MD *md[4];
		enum der_sig_alg alg[4];
	} issuers[] = {
	        {"rsa2048",
	         &key_rsa,
	         {EVP_sha256(), EVP_sha1(), EVP_sha384(), EVP_sha512()},
	         {DER_SIG_RSA_PKCS1_SHA256, DER_SIG_RSA_PKCS1_SHA1, DER_SIG_RSA_PKCS1_SHA384,
	          DER_SIG_RSA_PKCS1_SHA512}},
	        {"p256", &key_p256, {EVP_sha256()}, {DER_SIG_ECDSA_SHA256}},
	        {"p384",
	         &key_p384,
	         {EVP_sha384(), EVP_sha512()},
	         {DER_SIG_ECDSA_SHA384, DER_SIG_ECDSA_SHA512}},
	        {"ed25519", &key_ed25519, {NULL}, {DER_SIG_ED25519}},
	};
	size_t minted = 0;
	for (size_t i = 0; i < sizeof issuers / sizeof issuers[0]; i++) {
		struct mint ca = {"Birch test CA",
		                  3,
		                  "01",
		                  "20200101000000Z",
		                  "20400101000000Z",
		                  M_BC_CA | M_KU_SIGN | M_SKI | M_AKI,
		                  0,
		                  *issuers[i].key,
		                  NULL,
		                  NULL,
		                  issuers[i].md[0]};
		X509 *cax = mint(&ca);
		char label[160];
		snprintf(label, sizeof label, "%s CA", issuers[i].name);
		check_minted(label, cax, &ca, issuers[i].alg[0]);
		minted++;
		for (size_t k = 0; k < 4 && (k == 0 || issuers[i].md[k]); k++) {
			for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
				size_t ti = (v + i + k) % (sizeof times / sizeof times[0]);
				struct mint m = {variants[v].name,
				                 variants[v].version,
				                 variants[v].serial,
				                 times[ti][0],
				                 times[ti][1],
				                 variants[v].ext,
				                 variants[v].pathlen,
				                 key_leaf,
				                 cax,
				                 *issuers[i].key,
				                 issuers[i].md[k]};
				X509 *x = mint(&m);
				snprintf(label, sizeof label, "%s/%zu %s [%s, %s]", issuers[i].name,
				         k, variants[v].name, m.nb, m.na);
				check_minted(label, x, &m, issuers[i].alg[k]);
				X509_free(x);
				minted++;
			}
		}
		X509_free(cax);
	}
	printf("  %zu minted certificates\n", minted);
}

static void
times_convert_to_unix_seconds(void)
{
	keys_make();
	/* every time pair in both positions, against OpenSSL and fixed values */
	static const struct {
		const char *s;
		int64_t want;
	} fixed[] = {
	        {"700101000000Z", 0},
	        {"491231235959Z", 2524607999},
	        {"500101000000Z", -631152000},
	        {"20500101000000Z", 2524608000},
	        {"000229120000Z", 951825600},
	        {"20380119031408Z", 2147483648},
	        {"16010101000000Z", -11644473600},
	        {"99991231235958Z", 253402300798},
	};
	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
		struct mint m = {"t", 3,        "1",  fixed[i].s, fixed[i].s,  0,
		                 0,   key_p256, NULL, NULL,       EVP_sha256()};
		X509 *x = mint(&m);
		unsigned char *der = NULL;
		int n = i2d_X509(x, &der);
		struct der_cert c;
		const char *reason = "";
		int rc = der_cert_walk(der, (size_t)n, &c, &reason);
		CHECK(rc == 0 && c.not_before == fixed[i].want && c.not_after == fixed[i].want,
		      "%s: %d %lld, want %lld", fixed[i].s, rc, (long long)c.not_before,
		      (long long)fixed[i].want);
		OPENSSL_free(der);
		X509_free(x);
	}
	struct mint m = {"t",      3,    "1",  "99991231235959Z", "99991231235959Z", 0, 0,
	                 key_p256, NULL, NULL, EVP_sha256()};
	X509 *x = mint(&m);
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);
	struct der_cert c;
	const char *reason = "";
	CHECK(der_cert_walk(der, (size_t)n, &c, &reason) == 0 && c.not_after == INT64_MAX &&
	              c.not_before == 253402300799,
	      "9999-12-31T23:59:59Z: only notAfter means no expiry");
	OPENSSL_free(der);
	X509_free(x);
}

/* ---- crafted certificates: a template's TBS taken apart and put back with changes ---- */

struct tmpl {
	uint8_t *der;
	size_t len;
	struct der_span el[10]; /* the TBS elements, as TLVs */
	size_t n;
	EVP_PKEY *key; /* signs the crafted certificates */
};

static struct tmpl tpl;

static void
tmpl_make(void)
{
	if (tpl.der)
		return;
	keys_make();
	struct mint m = {"crafted",
	                 3,
	                 "42",
	                 "240101000000Z",
	                 "20500101000000Z",
	                 M_SKI | M_AKI | M_KU_DS,
	                 0,
	                 key_leaf,
	                 NULL,
	                 key_p256,
	                 EVP_sha256()};
	X509 *x = mint(&m);
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);
	X509_free(x);
	tpl.der = malloc((size_t)n);
	memcpy(tpl.der, der, (size_t)n);
	OPENSSL_free(der);
	tpl.len = (size_t)n;
	tpl.key = key_p256;
	struct der_cert c;
	const char *r;
	if (der_cert_walk(tpl.der, tpl.len, &c, &r))
		check_harness("template does not walk");
	uint8_t t;
	struct der_span body;
	size_t total;
	if (der_tlv(c.tbs_tlv.p, c.tbs_tlv.len, &t, &body, &total, &r))
		check_harness("template TBS");
	for (const uint8_t *p = body.p; p < body.p + body.len && tpl.n < 10;) {
		struct der_span x2;
		if (der_tlv(p, (size_t)(body.p + body.len - p), &t, &x2, &total, &r))
			check_harness("template TBS element");
		tpl.el[tpl.n].p = p;
		tpl.el[tpl.n++].len = total;
		p += total;
	}
	if (tpl.n != 8)
		check_harness("template TBS has not 8 elements");
}

enum { EL_VERSION, EL_SERIAL, EL_SIG, EL_ISSUER, EL_VALIDITY, EL_SUBJECT, EL_SPKI, EL_EXTS };

static uint8_t craft_buf[DER_CERT_MAX + 65536], craft_tmp[DER_CERT_MAX + 65536];

/* Signs tbs (with md, NULL for Ed25519) and wraps it as a Certificate in craft_buf. */
static size_t
craft_cert(const uint8_t *tbs, size_t tbs_len, const uint8_t *alg, size_t alg_len, EVP_PKEY *key,
           const EVP_MD *md)
{
	uint8_t sig[600];
	size_t sig_len = sizeof sig - 1;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	sig[0] = 0;
	if (!ctx || EVP_DigestSignInit(ctx, NULL, md, NULL, key) != 1 ||
	    EVP_DigestSign(ctx, sig + 1, &sig_len, tbs, tbs_len) != 1)
		check_harness("EVP_DigestSign");
	EVP_MD_CTX_free(ctx);
	size_t n = 0;
	memmove(craft_tmp, tbs, tbs_len);
	n += tbs_len;
	memcpy(craft_tmp + n, alg, alg_len);
	n += alg_len;
	n += tlv(craft_tmp + n, DER_TAG_BIT_STRING, sig, sig_len + 1);
	return tlv(craft_buf, DER_TAG_SEQUENCE, craft_tmp, n);
}

/* A TBS from the template's elements with el[i] replaced by rep[i] where rep[i].p is set
 * (rep[i].len 0 drops it), and extra appended. Returns its length in out. */
static size_t
craft_tbs(uint8_t *out, const struct der_span *rep, const uint8_t *extra, size_t extra_len)
{
	static uint8_t body[DER_CERT_MAX + 65536];
	size_t n = 0;
	for (size_t i = 0; i < tpl.n; i++) {
		const struct der_span *s = rep && rep[i].p ? &rep[i] : &tpl.el[i];
		memcpy(body + n, s->p, s->len);
		n += s->len;
	}
	if (extra_len)
		memcpy(body + n, extra, extra_len);
	n += extra_len;
	return tlv(out, DER_TAG_SEQUENCE, body, n);
}

/* Walks craft_buf[0..len) and reports both verdicts; returns the walk's code. */
static int
craft_check(const char *label, size_t len, int want, struct der_cert *c)
{
	const char *reason = "";
	int rc = der_cert_walk(craft_buf, len, c, &reason);
	X509 *x = d2i_exact(craft_buf, len);
	printf("  %-44s walk %-4d %-58s OpenSSL %s\n", label, rc, rc ? reason : "",
	       x ? "parses" : "rejects");
	CHECK(rc == want, "%s: walk %d (%s), want %d", label, rc, reason, want);
	CHECK(rc || x, "%s: the walk accepts what OpenSSL rejects", label);
	if (rc == 0 && x) {
		compare_with_openssl(label, c, x);
		check_spans(label, c, craft_buf, len);
	}
	X509_free(x);
	return rc;
}

/* An Extension TLV: crit -1 absent, 0 explicit FALSE, 1 TRUE, 2 a bad BOOLEAN (01). */
static size_t
craft_ext(uint8_t *out, const uint8_t *oid, size_t oid_len, int crit, const uint8_t *val,
          size_t val_len)
{
	uint8_t body[70000];
	size_t n = tlv(body, DER_TAG_OID, oid, oid_len);
	if (crit >= 0) {
		uint8_t b = crit == 0 ? 0x00 : crit == 1 ? 0xff : 0x01;
		n += tlv(body + n, DER_TAG_BOOLEAN, &b, 1);
	}
	n += tlv(body + n, DER_TAG_OCTET_STRING, val, val_len);
	return tlv(out, DER_TAG_SEQUENCE, body, n);
}

/* [3] { SEQUENCE { exts } } */
static size_t
craft_exts(uint8_t *out, const uint8_t *exts, size_t n)
{
	static uint8_t seq[DER_CERT_MAX + 65536];
	size_t s = tlv(seq, DER_TAG_SEQUENCE, exts, n);
	return tlv(out, DER_TAG_CTX(3), seq, s);
}

static void
crafted_edge_cases_match_the_contract(void)
{
	tmpl_make();
	static const uint8_t ecdsa256[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
	                                   0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
	static const uint8_t ecdsa384[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
	                                   0x48, 0xce, 0x3d, 0x04, 0x03, 0x03};
	static const uint8_t ecdsa256_null[] = {0x30, 0x0c, 0x06, 0x08, 0x2a, 0x86, 0x48,
	                                        0xce, 0x3d, 0x04, 0x03, 0x02, 0x05, 0x00};
	static const uint8_t rsa256_noparams[] = {0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48,
	                                          0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b};
	static const uint8_t pss[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
	                              0xf7, 0x0d, 0x01, 0x01, 0x0a, 0x30, 0x00};
	static const uint8_t oid_unknown[] = {0x2a, 0x03, 0x04, 0x05};
	static const uint8_t oid_bc[] = {0x55, 0x1d, 0x13}, oid_ku[] = {0x55, 0x1d, 0x0f};
	static const uint8_t oid_aki[] = {0x55, 0x1d, 0x23};
	static const uint8_t null[] = {0x05, 0x00};
	uint8_t tbs[DER_CERT_MAX + 65536], el[4][256], exts[4096];
	struct der_span rep[10];
	struct der_cert c;
	size_t n, e;

#define REP_RESET() memset(rep, 0, sizeof rep)
#define SIGN_P256(tbs_len)                                                                         \
	craft_cert(tbs, (tbs_len), ecdsa256, sizeof ecdsa256, tpl.key, EVP_sha256())

	/* RSA without the NULL parameters: OpenSSL accepts it and so does the walk */
	REP_RESET();
	rep[EL_SIG] = (struct der_span){rsa256_noparams, sizeof rsa256_noparams};
	n = craft_tbs(tbs, rep, NULL, 0);
	n = craft_cert(tbs, n, rsa256_noparams, sizeof rsa256_noparams, key_rsa, EVP_sha256());
	if (craft_check("rsa-sha256 without NULL parameters", n, 0, &c) == 0) {
		CHECK(c.sig_alg == DER_SIG_RSA_PKCS1_SHA256 && verify_span(&c, key_rsa),
		      "RSA without parameters: %d", c.sig_alg);
		X509 *x = d2i_exact(craft_buf, n);
		CHECK(x && X509_verify(x, key_rsa) == 1, "OpenSSL verifies it too");
		X509_free(x);
		ERR_clear_error();
	}
	/* ECDSA with NULL parameters, and RSASSA-PSS: unknown, still walked */
	REP_RESET();
	rep[EL_SIG] = (struct der_span){ecdsa256_null, sizeof ecdsa256_null};
	n = craft_tbs(tbs, rep, NULL, 0);
	n = craft_cert(tbs, n, ecdsa256_null, sizeof ecdsa256_null, tpl.key, EVP_sha256());
	if (craft_check("ecdsa-with-SHA256 with NULL parameters", n, 0, &c) == 0)
		CHECK(c.sig_alg == DER_SIG_UNKNOWN, "ECDSA with NULL: %d", c.sig_alg);
	REP_RESET();
	rep[EL_SIG] = (struct der_span){pss, sizeof pss};
	n = craft_tbs(tbs, rep, NULL, 0);
	n = craft_cert(tbs, n, pss, sizeof pss, tpl.key, EVP_sha256());
	if (craft_check("RSASSA-PSS (unknown algorithm)", n, 0, &c) == 0)
		CHECK(c.sig_alg == DER_SIG_UNKNOWN, "PSS: %d", c.sig_alg);
	/* the outer signatureAlgorithm must be the TBS's byte for byte */
	n = craft_tbs(tbs, NULL, NULL, 0);
	n = craft_cert(tbs, n, ecdsa384, sizeof ecdsa384, tpl.key, EVP_sha384());
	craft_check("outer signatureAlgorithm differs", n, -EBADMSG, &c);
	n = craft_tbs(tbs, NULL, NULL, 0);
	n = craft_cert(tbs, n, ecdsa256_null, sizeof ecdsa256_null, tpl.key, EVP_sha256());
	craft_check("outer adds NULL parameters", n, -EBADMSG, &c);

	/* versions */
	static const uint8_t v1_explicit[] = {0xa0, 0x03, 0x02, 0x01, 0x00};
	static const uint8_t v2[] = {0xa0, 0x03, 0x02, 0x01, 0x01};
	static const uint8_t v4[] = {0xa0, 0x03, 0x02, 0x01, 0x03};
	static const uint8_t v3_nonminimal[] = {0xa0, 0x04, 0x02, 0x02, 0x00, 0x02};
	static const uint8_t uids[] = {0x81, 0x03, 0x00, 0xab, 0xcd, 0x82, 0x02, 0x04, 0xf0};
	static const uint8_t uid_bad_bits[] = {0x81, 0x02, 0x04, 0xf8};
	REP_RESET();
	rep[EL_VERSION] = (struct der_span){v1_explicit, sizeof v1_explicit};
	rep[EL_EXTS] = (struct der_span){v1_explicit, 0};
	n = SIGN_P256(craft_tbs(tbs, rep, NULL, 0));
	if (craft_check("v1 with the version written out (DEFAULT)", n, 0, &c) == 0)
		CHECK(c.version == 1, "explicit v1");
	REP_RESET();
	rep[EL_VERSION] = (struct der_span){v1_explicit, 0};
	rep[EL_EXTS] = (struct der_span){v1_explicit, 0};
	n = SIGN_P256(craft_tbs(tbs, rep, NULL, 0));
	if (craft_check("v1, version omitted", n, 0, &c) == 0)
		CHECK(c.version == 1 && c.exts.len == 0 && c.flags == 0, "v1");
	REP_RESET();
	rep[EL_VERSION] = (struct der_span){v2, sizeof v2};
	rep[EL_EXTS] = (struct der_span){v2, 0};
	n = SIGN_P256(craft_tbs(tbs, rep, uids, sizeof uids));
	if (craft_check("v2 with both unique identifiers", n, 0, &c) == 0)
		CHECK(c.version == 2, "v2");
	REP_RESET();
	rep[EL_VERSION] = (struct der_span){v2, sizeof v2};
	rep[EL_EXTS] = (struct der_span){v2, 0};
	n = SIGN_P256(craft_tbs(tbs, rep, uid_bad_bits, sizeof uid_bad_bits));
	craft_check("unique identifier with non-zero unused bits", n, -EBADMSG, &c);
	REP_RESET();
	rep[EL_VERSION] = (struct der_span){v2, 0};
	rep[EL_EXTS] = (struct der_span){v2, 0};
	n = SIGN_P256(craft_tbs(tbs, rep, uids, sizeof uids));
	craft_check("v1 with unique identifiers", n, -EBADMSG, &c);
	REP_RESET();
	rep[EL_VERSION] = (struct der_span){v2, sizeof v2};
	n = SIGN_P256(craft_tbs(tbs, rep, NULL, 0));
	craft_check("v2 with extensions", n, -EBADMSG, &c);
	REP_RESET();
	rep[EL_VERSION] = (struct der_span){v4, sizeof v4};
	n = SIGN_P256(craft_tbs(tbs, rep, NULL, 0));
	craft_check("version 4", n, -EBADMSG, &c);
	REP_RESET();
	rep[EL_VERSION] = (struct der_span){v3_nonminimal, sizeof v3_nonminimal};
	n = SIGN_P256(craft_tbs(tbs, rep, NULL, 0));
	craft_check("version INTEGER not minimal", n, -EBADMSG, &c);

	/* serial numbers */
	static const uint8_t ser_nonmin[] = {0x02, 0x02, 0x00, 0x01};
	static const uint8_t ser_nonmin_neg[] = {0x02, 0x02, 0xff, 0x80};
	static const uint8_t ser_empty[] = {0x02, 0x00};
	static const uint8_t ser_neg[] = {0x02, 0x01, 0xff};
	const struct {
		const char *name;
		const uint8_t *p;
		size_t len;
		int want;
	} serials[] = {
	        {"serial 00 01 (not minimal)", ser_nonmin, sizeof ser_nonmin, -EBADMSG},
	        {"serial ff 80 (not minimal)", ser_nonmin_neg, sizeof ser_nonmin_neg, -EBADMSG},
	        {"serial empty", ser_empty, sizeof ser_empty, -EBADMSG},
	        {"serial -1 (negative, as OpenSSL allows)", ser_neg, sizeof ser_neg, 0},
	};
	for (size_t i = 0; i < sizeof serials / sizeof serials[0]; i++) {
		REP_RESET();
		rep[EL_SERIAL] = (struct der_span){serials[i].p, serials[i].len};
		n = SIGN_P256(craft_tbs(tbs, rep, NULL, 0));
		craft_check(serials[i].name, n, serials[i].want, &c);
	}

	/* times: only YYMMDDHHMMSSZ and YYYYMMDDHHMMSSZ, real dates */
	const struct {
		uint8_t tag;
		const char *s;
		int want;
	} tms[] = {
	        {DER_TAG_UTC_TIME, "240101000000Z", 0},
	        {DER_TAG_GEN_TIME, "20240229235959Z", 0},
	        {DER_TAG_UTC_TIME, "2401010000Z", -EBADMSG},       /* no seconds */
	        {DER_TAG_UTC_TIME, "240101000000+0100", -EBADMSG}, /* offset */
	        {DER_TAG_UTC_TIME, "240101000000", -EBADMSG},      /* no Z */
	        {DER_TAG_GEN_TIME, "20240101000000.5Z", -EBADMSG}, /* fraction */
	        {DER_TAG_GEN_TIME, "20240101000000z", -EBADMSG},
	        {DER_TAG_UTC_TIME, "241301000000Z", -EBADMSG},   /* month 13 */
	        {DER_TAG_UTC_TIME, "230229000000Z", -EBADMSG},   /* not a leap year */
	        {DER_TAG_GEN_TIME, "21000229000000Z", -EBADMSG}, /* nor is 2100 */
	        {DER_TAG_UTC_TIME, "240431000000Z", -EBADMSG},   /* April 31 */
	        {DER_TAG_UTC_TIME, "240101240000Z", -EBADMSG},   /* hour 24 */
	        {DER_TAG_UTC_TIME, "240101006000Z", -EBADMSG},   /* minute 60 */
	        {DER_TAG_UTC_TIME, "240101000060Z", -EBADMSG},   /* leap second */
	        {DER_TAG_UTC_TIME, "24010100000 Z", -EBADMSG},
	        {DER_TAG_UTC_TIME, "20240101000000Z", -EBADMSG}, /* 4-digit year in UTCTime */
	        {DER_TAG_GEN_TIME, "240101000000Z", -EBADMSG},
	        {DER_TAG_OCTET_STRING, "240101000000Z", -EBADMSG},
	};
	for (size_t i = 0; i < sizeof tms / sizeof tms[0]; i++) {
		uint8_t v[64];
		size_t vn = tlv(v, tms[i].tag, tms[i].s, strlen(tms[i].s));
		vn += tlv(v + vn, DER_TAG_GEN_TIME, "20500101000000Z", 15);
		REP_RESET();
		n = tlv(el[0], DER_TAG_SEQUENCE, v, vn);
		rep[EL_VALIDITY] = (struct der_span){el[0], n};
		n = SIGN_P256(craft_tbs(tbs, rep, NULL, 0));
		char label[64];
		snprintf(label, sizeof label, "notBefore %s (tag %02x)", tms[i].s, tms[i].tag);
		craft_check(label, n, tms[i].want, &c);
	}

	/* extensions */
	static const uint8_t bc_neg[] = {0x30, 0x06, 0x01, 0x01, 0xff, 0x02, 0x01, 0xff};
	static const uint8_t bc_huge[] = {0x30, 0x0a, 0x01, 0x01, 0xff, 0x02,
	                                  0x05, 0x01, 0x00, 0x00, 0x00, 0x00};
	static const uint8_t bc_false[] = {0x30, 0x03, 0x01, 0x01, 0x00};
	static const uint8_t bc_trailing[] = {0x30, 0x02, 0x01, 0x01, 0xff};
	static const uint8_t ku_bits[] = {0x03, 0x02, 0x01, 0x05};
	static const uint8_t ku_sign[] = {0x03, 0x02, 0x01, 0x06};
	static const uint8_t aki_bad[] = {0x30, 0x04, 0x82, 0x01, 0x01, 0x80};
	const struct {
		const char *name;
		const uint8_t *oid;
		size_t oid_len;
		int crit;
		const uint8_t *val;
		size_t val_len;
		int want;
		uint32_t flags; /* the walk's flags when it accepts */
	} xs[] = {
	        {"critical written as FALSE (DEFAULT)", oid_unknown, sizeof oid_unknown, 0, null, 2,
	         0, 0},
	        {"critical as BOOLEAN 01", oid_unknown, sizeof oid_unknown, 2, null, 2, -EBADMSG,
	         0},
	        {"basicConstraints pathLen -1", oid_bc, 3, 1, bc_neg, sizeof bc_neg, -EBADMSG, 0},
	        {"basicConstraints pathLen 2^32 (as INT_MAX)", oid_bc, 3, 1, bc_huge,
	         sizeof bc_huge, 0, DER_F_BC | DER_F_BC_CA},
	        {"basicConstraints cA FALSE written out", oid_bc, 3, -1, bc_false, sizeof bc_false,
	         0, DER_F_BC},
	        {"basicConstraints value with trailing data", oid_bc, 3, -1, bc_trailing,
	         sizeof bc_trailing - 1, -EBADMSG, 0},
	        {"keyUsage with non-zero unused bits", oid_ku, 3, 1, ku_bits, sizeof ku_bits,
	         -EBADMSG, 0},
	        {"keyUsage keyCertSign", oid_ku, 3, 1, ku_sign, sizeof ku_sign, 0,
	         DER_F_KU | DER_F_KU_CERT_SIGN},
	        {"AKI fields out of order", oid_aki, 3, -1, aki_bad, sizeof aki_bad, -EBADMSG, 0},
	};
	for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
		e = craft_ext(exts, xs[i].oid, xs[i].oid_len, xs[i].crit, xs[i].val, xs[i].val_len);
		REP_RESET();
		uint8_t w[4096];
		n = craft_exts(w, exts, e);
		rep[EL_EXTS] = (struct der_span){w, n};
		n = SIGN_P256(craft_tbs(tbs, rep, NULL, 0));
		if (craft_check(xs[i].name, n, xs[i].want, &c) == 0)
			CHECK(c.flags == xs[i].flags, "%s: flags %#x", xs[i].name, c.flags);
	}
	{
		/* the same extension twice */
		e = craft_ext(exts, oid_unknown, sizeof oid_unknown, -1, null, 2);
		e += craft_ext(exts + e, oid_bc, 3, -1, bc_false, sizeof bc_false);
		e += craft_ext(exts + e, oid_unknown, sizeof oid_unknown, -1, null, 2);
		uint8_t w[4096];
		REP_RESET();
		rep[EL_EXTS] = (struct der_span){w, craft_exts(w, exts, e)};
		n = SIGN_P256(craft_tbs(tbs, rep, NULL, 0));
		craft_check("duplicate extension", n, -EBADMSG, &c);
		/* an empty Extensions SEQUENCE */
		REP_RESET();
		rep[EL_EXTS] = (struct der_span){w, craft_exts(w, exts, 0)};
		n = SIGN_P256(craft_tbs(tbs, rep, NULL, 0));
		if (craft_check("empty Extensions SEQUENCE", n, 0, &c) == 0)
			CHECK(c.exts.len == 0 && c.flags == 0, "empty extensions");
		/* 64 extensions walk; 65 are more than the walk keeps for the duplicate check */
		for (size_t count = 64; count <= 65; count++) {
			e = 0;
			for (size_t k = 0; k < count; k++) {
				uint8_t oid[] = {0x2a, 0x03, 0x04, (uint8_t)k};
				e += craft_ext(exts + e, oid, sizeof oid, -1, null, 2);
			}
			REP_RESET();
			rep[EL_EXTS] = (struct der_span){w, craft_exts(w, exts, e)};
			n = SIGN_P256(craft_tbs(tbs, rep, NULL, 0));
			craft_check(count == 64 ? "64 extensions" : "65 extensions", n,
			            count == 64 ? 0 : -ENOTSUP, &c);
		}
		/* a certificate over DER_CERT_MAX */
		static uint8_t big[DER_CERT_MAX + 100], bigext[DER_CERT_MAX + 200];
		memset(big, 0x41, sizeof big);
		e = craft_ext(bigext, oid_unknown, sizeof oid_unknown, -1, big, sizeof big);
		REP_RESET();
		static uint8_t bw[DER_CERT_MAX + 300];
		rep[EL_EXTS] = (struct der_span){bw, craft_exts(bw, bigext, e)};
		n = SIGN_P256(craft_tbs(tbs, rep, NULL, 0));
		craft_check("certificate over DER_CERT_MAX", n, -EBADMSG, &c);
	}

	/* framing: trailing bytes, unused bits in the signature, BER lengths, high tags */
	n = SIGN_P256(craft_tbs(tbs, NULL, NULL, 0));
	craft_buf[n] = 0;
	craft_check("trailing byte after the certificate", n + 1, -EBADMSG, &c);
	static const uint8_t trailing_null[] = {0x05, 0x00};
	n = SIGN_P256(craft_tbs(tbs, NULL, trailing_null, sizeof trailing_null));
	craft_check("unknown field after the extensions", n, -EBADMSG, &c);
	n = SIGN_P256(craft_tbs(tbs, NULL, NULL, 0));
	{
		/* signatureValue with one unused bit */
		struct der_cert ok;
		const char *r;
		if (der_cert_walk(craft_buf, n, &ok, &r) == 0) {
			size_t off = (size_t)(ok.sig.p - 1 - craft_buf);
			craft_buf[off] = 1;
			craft_buf[n - 1] &= 0xfe;
			craft_check("signatureValue with an unused bit", n, -EBADMSG, &c);
		}
	}
	{
		/* the serial's length in long form: 02 81 01 2a */
		uint8_t s[] = {0x02, 0x81, 0x01, 0x2a};
		REP_RESET();
		rep[EL_SERIAL] = (struct der_span){s, sizeof s};
		n = SIGN_P256(craft_tbs(tbs, rep, NULL, 0));
		craft_check("length in long form below 128", n, -EBADMSG, &c);
		/* indefinite length on the TBS (BER) */
		size_t tn = craft_tbs(tbs, NULL, NULL, 0);
		uint8_t t;
		struct der_span body;
		size_t total;
		const char *r;
		if (der_tlv(tbs, tn, &t, &body, &total, &r))
			check_harness("crafted TBS");
		size_t bl = body.len;
		memmove(tbs + 2, body.p, bl);
		tbs[0] = 0x30;
		tbs[1] = 0x80;
		tbs[2 + bl] = 0;
		tbs[3 + bl] = 0;
		n = SIGN_P256(4 + bl);
		craft_check("indefinite length", n, -EBADMSG, &c);
		/* a multi-byte tag (1f 81 00: tag number 128) as a Name value */
		static const uint8_t nm[] = {0x30, 0x0d, 0x31, 0x0b, 0x30, 0x09, 0x06, 0x03,
		                             0x55, 0x04, 0x03, 0x1f, 0x81, 0x00, 0x00};
		REP_RESET();
		rep[EL_ISSUER] = (struct der_span){nm, sizeof nm};
		n = SIGN_P256(craft_tbs(tbs, rep, NULL, 0));
		craft_check("multi-byte tag in the issuer", n, -EBADMSG, &c);
	}
	{
		/* Name shapes: an empty RDN SET, and an attribute without a value */
		uint8_t empty_rdn[] = {0x30, 0x02, 0x31, 0x00};
		uint8_t no_value[] = {0x30, 0x09, 0x31, 0x07, 0x30, 0x05,
		                      0x06, 0x03, 0x55, 0x04, 0x03};
		uint8_t empty_name[] = {0x30, 0x00};
		REP_RESET();
		rep[EL_SUBJECT] = (struct der_span){empty_rdn, sizeof empty_rdn};
		n = SIGN_P256(craft_tbs(tbs, rep, NULL, 0));
		craft_check("subject with an empty RDN", n, -EBADMSG, &c);
		REP_RESET();
		rep[EL_SUBJECT] = (struct der_span){no_value, sizeof no_value};
		n = SIGN_P256(craft_tbs(tbs, rep, NULL, 0));
		craft_check("subject attribute without a value", n, -EBADMSG, &c);
		REP_RESET();
		rep[EL_SUBJECT] = (struct der_span){empty_name, sizeof empty_name};
		n = SIGN_P256(craft_tbs(tbs, rep, NULL, 0));
		craft_check("empty subject", n, 0, &c);
	}
#undef REP_RESET
#undef SIGN_P256
}

/* ---- TBS rewriting against an OpenSSL rebuild ---- */

/* OpenSSL's idea of the precert TBS, built independently: X509_dup, delete the poison, take
 * the PSC's issuer and AKI, re-encode. */
static size_t
openssl_precert_tbs(X509 *pre, X509 *psc, uint8_t *out)
{
	X509 *d = X509_dup(pre);
	int i = X509_get_ext_by_NID(d, NID_ct_precert_poison, -1);
	if (i < 0)
		check_harness("no poison");
	X509_EXTENSION_free(X509_delete_ext(d, i));
	if (psc) {
		X509_set_issuer_name(d, X509_get_issuer_name(psc));
		int pi = X509_get_ext_by_NID(psc, NID_authority_key_identifier, -1);
		int di = X509_get_ext_by_NID(d, NID_authority_key_identifier, -1);
		if (di >= 0 && pi >= 0) {
			X509_EXTENSION_set_data(X509_get_ext(d, di),
			                        X509_EXTENSION_get_data(X509_get_ext(psc, pi)));
		} else if (di >= 0) {
			X509_EXTENSION_free(X509_delete_ext(d, di));
		} else if (pi >= 0) {
			X509_EXTENSION *e = X509_EXTENSION_dup(X509_get_ext(psc, pi));
			X509_EXTENSION_set_critical(e, 0);
			X509_add_ext(d, e, -1);
			X509_EXTENSION_free(e);
		}
	}
	unsigned char *t = NULL;
	int n = i2d_re_X509_tbs(d, &t);
	if (n <= 0)
		check_harness("i2d_re_X509_tbs");
	size_t len = (size_t)n;
	memcpy(out, t, len);
	/* RFC 5280 makes Extensions SIZE (1..MAX): OpenSSL writes an emptied stack as a3 02 30 00,
	 * Birch (and der.h) drops the [3] field. */
	if (X509_get_ext_count(d) == 0 && len >= 4 &&
	    memcmp(out + len - 4, "\xa3\x02\x30\x00", 4) == 0) {
		uint8_t tag;
		struct der_span body;
		size_t total;
		const char *r;
		if (der_tlv(t, len, &tag, &body, &total, &r))
			check_harness("re-encoded TBS");
		len = tlv(out, DER_TAG_SEQUENCE, body.p, body.len - 4);
	}
	OPENSSL_free(t);
	X509_free(d);
	return len;
}

static void
walk_x509(X509 *x, uint8_t **der, struct der_cert *c)
{
	*der = NULL;
	int n = i2d_X509(x, der);
	const char *r = "";
	if (n <= 0 || der_cert_walk(*der, (size_t)n, c, &r))
		check_harness(r);
}

static void
precert_tbs_with_psc_matches_openssl_rebuild(void)
{
	keys_make();
	struct mint root_m = {"Birch root",
	                      3,
	                      "1",
	                      "20200101000000Z",
	                      "20400101000000Z",
	                      M_BC_CA | M_KU_SIGN | M_SKI,
	                      0,
	                      key_p384,
	                      NULL,
	                      NULL,
	                      EVP_sha384()};
	X509 *root = mint(&root_m);
	X509 *psc[2];
	for (int a = 0; a < 2; a++) {
		struct mint m = {a ? "Birch PSC with AKI" : "Birch PSC without AKI",
		                 3,
		                 "2",
		                 "20200101000000Z",
		                 "20400101000000Z",
		                 M_EKU_CT | M_BC_CA | M_KU_SIGN | M_SKI | (a ? M_AKI_FULL : 0u),
		                 0,
		                 key_p256,
		                 root,
		                 key_p384,
		                 EVP_sha384()};
		psc[a] = mint(&m);
	}
	const struct {
		const char *name;
		unsigned ext;
	} pres[] = {
	        {"no AKI", M_SKI | M_POISON | M_KU_DS | M_EKU},
	        {"AKI", M_SKI | M_POISON | M_AKI | M_KU_DS | M_EKU},
	        {"critical AKI", M_SKI | M_POISON | M_AKI_CRIT | M_KU_DS | M_EKU | M_SCT},
	        {"poison only", M_POISON},
	        {"poison first, AKI last", M_POISON | M_AKI},
	};
	size_t checked = 0;
	for (size_t p = 0; p < sizeof pres / sizeof pres[0]; p++) {
		for (int a = 0; a < 3; a++) { /* PSC without AKI, with AKI, no PSC */
			X509 *issuer = a < 2 ? psc[a] : root;
			EVP_PKEY *ikey = a < 2 ? key_p256 : key_p384;
			struct mint m = {"precert.example",
			                 3,
			                 "77",
			                 "20240101000000Z",
			                 "20250101000000Z",
			                 pres[p].ext,
			                 0,
			                 key_leaf,
			                 issuer,
			                 ikey,
			                 EVP_sha256()};
			X509 *pre = mint(&m);
			uint8_t *pre_der, *psc_der = NULL;
			struct der_cert pc, sc;
			walk_x509(pre, &pre_der, &pc);
			if (a < 2)
				walk_x509(psc[a], &psc_der, &sc);
			const char *reason = "";
			long got = der_precert_tbs(tbs_a, sizeof tbs_a, &pc, a < 2 ? &sc : NULL,
			                           &reason);
			size_t want = openssl_precert_tbs(pre, a < 2 ? psc[a] : NULL, tbs_b);
			CHECK(got == (long)want && memcmp(tbs_a, tbs_b, want) == 0,
			      "precert %s, %s: %ld vs OpenSSL %zu (%s)", pres[p].name,
			      a == 0   ? "PSC without AKI"
			      : a == 1 ? "PSC with AKI"
			               : "no PSC",
			      got, want, reason);
			long bound = (long)pc.tbs_tlv.len + 16 +
			             (a < 2 ? (long)(sc.issuer_tlv.len + sc.aki_value.len) : 0);
			CHECK(got <= bound, "size bound %ld > %ld", got, bound);
			/* the result is a TBS: walk it as one, inside a certificate */
			uint8_t alg[32];
			memcpy(alg, pc.sig_alg_tlv.p, pc.sig_alg_tlv.len);
			size_t cn = craft_cert(tbs_a, (size_t)got, alg, pc.sig_alg_tlv.len, ikey,
			                       EVP_sha256());
			struct der_cert rc;
			CHECK(der_cert_walk(craft_buf, cn, &rc, &reason) == 0 &&
			              !(rc.flags & DER_F_POISON),
			      "rewritten TBS walks: %s", reason);
			OPENSSL_free(pre_der);
			OPENSSL_free(psc_der);
			X509_free(pre);
			checked++;
		}
	}
	X509_free(psc[0]);
	X509_free(psc[1]);
	X509_free(root);
	CHECK(checked == 15, "%zu cases", checked);
}

static void
tbs_rewrite_refuses_missing_extension_and_small_buffers(void)
{
	pool_load();
	struct owned plain = owned_first(CPP_DIR "test-cert.pem");
	struct owned pre = owned_first(CPP_DIR "test-embedded-with-preca-pre-cert.pem");
	struct owned psc = owned_first(CPP_DIR "ca-pre-cert.pem");
	struct owned fin = owned_first(CPP_DIR "test-embedded-cert.pem");
	const char *reason = "";
	CHECK(der_precert_tbs(tbs_a, sizeof tbs_a, &plain.c, NULL, &reason) == -EINVAL,
	      "no poison: -EINVAL");
	CHECK(der_tbs_without_sct_list(tbs_a, sizeof tbs_a, &plain.c, &reason) == -EINVAL,
	      "no SCT list: -EINVAL");
	CHECK(der_tbs_without_sct_list(tbs_a, sizeof tbs_a, &pre.c, &reason) == -EINVAL,
	      "a precert has no SCT list");
	long full = der_precert_tbs(tbs_a, sizeof tbs_a, &pre.c, &psc.c, &reason);
	long full2 = der_tbs_without_sct_list(tbs_c, sizeof tbs_c, &fin.c, &reason);
	CHECK(full > 0 && full2 > 0, "sizes %ld %ld", full, full2);
	for (long cap = 0; cap <= full && cap < 4096; cap++) {
		memset(tbs_b, 0xa5, (size_t)full + 16);
		long r = der_precert_tbs(tbs_b, (size_t)cap, &pre.c, &psc.c, &reason);
		CHECK(cap == full ? r == full : r == -ENOSPC, "cap %ld: %ld", cap, r);
		CHECK(tbs_b[cap] == 0xa5, "cap %ld: wrote past the capacity", cap);
	}
	for (long cap = 0; cap <= full2 && cap < 4096; cap++) {
		memset(tbs_b, 0xa5, (size_t)full2 + 16);
		long r = der_tbs_without_sct_list(tbs_b, (size_t)cap, &fin.c, &reason);
		CHECK(cap == full2 ? r == full2 : r == -ENOSPC, "cap %ld: %ld", cap, r);
		CHECK(tbs_b[cap] == 0xa5, "cap %ld: wrote past the capacity", cap);
	}
}

/* ---- malformed inputs against guard pages ---- */

static uint8_t *guard_base;
static size_t guard_page, guard_span;

/* Copies in to just before (at_end) or just after a PROT_NONE page and walks it there. */
static int
walk_guarded(const uint8_t *in, size_t n, bool at_end, struct der_cert *c, const char **reason)
{
	if (!guard_base) {
		guard_page = (size_t)sysconf(_SC_PAGESIZE);
		guard_span = (DER_CERT_MAX + 4096 + guard_page - 1) / guard_page * guard_page;
		guard_base = mmap(NULL, guard_span + 2 * guard_page, PROT_READ | PROT_WRITE,
		                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (guard_base == MAP_FAILED || mprotect(guard_base, guard_page, PROT_NONE) ||
		    mprotect(guard_base + guard_page + guard_span, guard_page, PROT_NONE))
			check_harness("guard pages");
	}
	if (n > guard_span)
		check_harness("input larger than the guarded region");
	uint8_t *dst = guard_base + guard_page + (at_end ? guard_span - n : 0);
	if (n)
		memcpy(dst, in, n);
	return der_cert_walk(dst, n, c, reason);
}

static void
truncations_and_byte_flips_agree_with_openssl(void)
{
	pool_load();
	static const char *const picks[] = {
	        CPP_DIR "test-embedded-pre-cert.pem",
	        CPP_DIR "ca-pre-cert.pem",
	        "certs/certificate-transparency-go/trillian-testdata/subleaf-pre.cert",
	        FINAL_PEM,
	        CPP_DIR "google-cert.pem",
	};
	static const uint8_t masks[] = {0x01, 0x80, 0xff};
	static uint8_t buf[DER_CERT_MAX];
	struct {
		const char *reason;
		size_t n;
	} why[64];
	size_t nwhy = 0, walks = 0, agree = 0, both_reject = 0, walk_only_rejects = 0;
	for (size_t k = 0; k < sizeof picks / sizeof picks[0]; k++) {
		struct vcert *v = pool_find(picks[k]);
		struct der_cert c;
		const char *reason = "";
		for (size_t cut = 0; cut < v->len; cut++, walks++) {
			int rc = walk_guarded(v->der, cut, cut & 1, &c, &reason);
			CHECK(rc == -EBADMSG, "%s cut at %zu: %d", picks[k], cut, rc);
		}
		CHECK(walk_guarded(v->der, v->len, true, &c, &reason) == 0 &&
		              walk_guarded(v->der, v->len, false, &c, &reason) == 0,
		      "%s: whole", picks[k]);
		for (size_t i = 0; i < v->len; i++) {
			for (size_t m = 0; m < sizeof masks; m++, walks++) {
				memcpy(buf, v->der, v->len);
				buf[i] ^= masks[m];
				int rc = walk_guarded(buf, v->len, (i + m) & 1, &c, &reason);
				X509 *x = d2i_exact(buf, v->len);
				char label[256];
				snprintf(label, sizeof label, "%s byte %zu ^ %02x", picks[k], i,
				         masks[m]);
				if (rc == 0 && x) {
					compare_with_openssl(label, &c, x);
					agree++;
				} else if (rc == 0) {
					CHECK(0, "%s: the walk accepts what OpenSSL rejects",
					      label);
					if (getenv("DER_DEBUG"))
						printf("D %s\n", label);
				} else if (!x) {
					both_reject++;
				} else {
					walk_only_rejects++;
					size_t j = 0;
					while (j < nwhy && why[j].reason != reason)
						j++;
					if (j == nwhy && nwhy < 64)
						why[nwhy++] = (typeof(why[0])){reason, 0};
					if (j < nwhy)
						why[j].n++;
				}
				CHECK(rc == 0 || rc == -EBADMSG || rc == -ENOTSUP, "%s: rc %d",
				      label, rc);
				X509_free(x);
			}
		}
	}
	printf("  %zu guarded walks: flips %zu agree, %zu rejected by both, %zu rejected by the "
	       "walk only:\n",
	       walks, agree, both_reject, walk_only_rejects);
	for (size_t j = 0; j < nwhy; j++)
		printf("    %5zu  %s\n", why[j].n, why[j].reason);
}

static void
tlv_rejects_non_der_framing(void)
{
	static const struct {
		const char *name;
		uint8_t in[8];
		size_t len;
		int want;
		size_t total;
	} cases[] = {
	        {"short form", {0x04, 0x01, 0xaa}, 3, 0, 3},
	        {"long form 0x81 0x80", {0x04, 0x81, 0x80}, 3, -EBADMSG, 0},
	        {"empty input", {0}, 0, -EBADMSG, 0},
	        {"one byte", {0x30}, 1, -EBADMSG, 0},
	        {"indefinite", {0x30, 0x80, 0x00, 0x00}, 4, -EBADMSG, 0},
	        {"long form below 128", {0x04, 0x81, 0x01, 0xaa}, 4, -EBADMSG, 0},
	        {"leading zero length byte", {0x04, 0x82, 0x00, 0x81}, 4, -EBADMSG, 0},
	        {"five length bytes", {0x04, 0x85, 0x01, 0, 0, 0, 0}, 7, -EBADMSG, 0},
	        {"length past the input", {0x04, 0x02, 0xaa}, 3, -EBADMSG, 0},
	        {"truncated long length", {0x04, 0x82, 0x01}, 3, -EBADMSG, 0},
	        {"high tag number form", {0x1f, 0x20, 0x00}, 3, -EBADMSG, 0},
	        {"context tag 30", {0x9e, 0x00}, 2, 0, 2},
	        {"0xff length byte", {0x04, 0xff}, 2, -EBADMSG, 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint8_t t = 0;
		struct der_span c;
		size_t total = 0;
		const char *r = NULL;
		int rc = der_tlv(cases[i].in, cases[i].len, &t, &c, &total, &r);
		CHECK(rc == cases[i].want && (rc || total == cases[i].total),
		      "%s: %d (%s) total %zu", cases[i].name, rc, r ? r : "", total);
		CHECK(rc == 0 || r != NULL, "%s: a reason", cases[i].name);
	}
	/* a 256-byte content takes 0x82 0x01 0x00 */
	static uint8_t big[4 + 256] = {0x04, 0x82, 0x01, 0x00};
	uint8_t t;
	struct der_span c;
	size_t total;
	const char *r;
	CHECK(der_tlv(big, sizeof big, &t, &c, &total, &r) == 0 && c.len == 256 && total == 260,
	      "two-byte length");
}

/* tests/lib/vec.c keeps each JSON file for the life of the test on purpose; tell LeakSanitizer
 * (sanitizer builds only look this hook up). */
const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
	return "leak:vec_json_file\n";
}

int
main(void)
{
	RUN(tlv_rejects_non_der_framing);
	RUN(walk_matches_openssl_on_every_vector_cert);
	RUN(tbs_span_verifies_under_the_issuer_key);
	RUN(pem_each_matches_openssl_pem_reader);
	RUN(pem_each_skips_other_blocks_and_rejects_bad_base64);
	RUN(walk_matches_openssl_on_minted_certs);
	RUN(times_convert_to_unix_seconds);
	RUN(crafted_edge_cases_match_the_contract);
	RUN(precert_tbs_matches_final_cert_without_sct_list);
	RUN(precert_tbs_matches_navigli_tile_entries);
	RUN(precert_tbs_with_psc_matches_openssl_rebuild);
	RUN(tbs_rewrite_refuses_missing_extension_and_small_buffers);
	RUN(truncations_and_byte_flips_agree_with_openssl);
	for (size_t i = 0; i < pool_n; i++) {
		free(pool[i].der);
		X509_free(pool[i].x);
	}
	for (size_t i = 0; i < vector_files_n; i++)
		free(vector_files[i]);
	return check_done();
}
