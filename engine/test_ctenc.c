/* engine/test_ctenc.c: ctenc (encodings) and ctsig (signatures, checkpoints) against the
 * known-answer vectors in $BIRCH_VECTORS (the google C++ and Go test data, real Argon2018
 * entries, real static-ct checkpoints and navigli2025h2 data tiles), plus strictness,
 * buffer-bound and round-trip cases with a freshly generated key, cross-checked with plain
 * OpenSSL. Parsers are fed inputs that end against a guard page, so any over-read crashes.
 * OpenSSL's X509 code is used here (test-only) to turn PEMs into DER, take SPKIs and strip
 * extensions from TBSCertificates. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "engine/b64.h"
#include "engine/ctenc.h"
#include "engine/ctsig.h"
#include "tests/lib/check.h"
#include "tests/lib/osslcount.h"
#include "tests/lib/tmpdir.h"
#include "tests/lib/vec.h"

/* ---- helpers ---- */

static uint8_t *guard_base;
static size_t guard_page;
#define GUARD_PAGES 1024 /* inputs up to 4 MiB with 4 KiB pages */

/* A copy of p that ends where an unmapped page begins. Valid until the next call. */
static const uint8_t *
guarded(const void *p, size_t len)
{
	if (!guard_base) {
		guard_page = (size_t)sysconf(_SC_PAGESIZE);
		guard_base = mmap(NULL, (GUARD_PAGES + 1) * guard_page, PROT_READ | PROT_WRITE,
		                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (guard_base == MAP_FAILED)
			check_harness("mmap failed");
		if (mprotect(guard_base + GUARD_PAGES * guard_page, guard_page, PROT_NONE) != 0)
			check_harness("mprotect failed");
	}
	if (len > GUARD_PAGES * guard_page)
		check_harness("guarded input too long");
	uint8_t *at = guard_base + GUARD_PAGES * guard_page - len;
	if (len)
		memcpy(at, p, len);
	return at;
}

static int
nib(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes hex into a malloc'd buffer (harness error when malformed). */
static uint8_t *
unhex(const char *s, size_t *len)
{
	size_t n = strlen(s);
	if (n % 2)
		check_harness("odd hex");
	uint8_t *out = malloc(n / 2 + 1);
	if (!out)
		check_harness("out of memory");
	for (size_t i = 0; i < n / 2; i++) {
		int a = nib(s[2 * i]), b = nib(s[2 * i + 1]);
		if (a < 0 || b < 0)
			check_harness("bad hex");
		out[i] = (uint8_t)(a << 4 | b);
	}
	*len = n / 2;
	return out;
}

static void
unhex32(uint8_t out[32], const char *s)
{
	size_t n;
	uint8_t *b = unhex(s, &n);
	if (n != 32)
		check_harness("expected 32 hex bytes");
	memcpy(out, b, 32);
	free(b);
}

static const char *
jstr(const struct vec_json *o, const char *key)
{
	return vec_must(o, key, VEC_STR)->str;
}

/* A vector JSON file, parsed; kept reachable for the life of the test (vec.h has no free). */
static struct vec_json *
jfile(const char *rel)
{
	static struct vec_json *keep[16];
	static size_t kept;
	char *path = vec_path(rel);
	struct vec_json *j = vec_json_file(path);
	free(path);
	if (kept < sizeof(keep) / sizeof(keep[0]))
		keep[kept++] = j;
	return j;
}

static char *
vfile(const char *rel, size_t *len)
{
	char *p = vec_path(rel);
	size_t n;
	char *d = (char *)vec_read(p, &n);
	free(p);
	if (len)
		*len = n;
	return d;
}

static X509 *
pem_x509(const char *rel)
{
	char *p = vec_path(rel);
	BIO *b = BIO_new_file(p, "r");
	if (!b)
		check_harness(p);
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	if (!x)
		check_harness(p);
	free(p);
	return x;
}

static uint8_t *
x509_der(X509 *x, size_t *len)
{
	uint8_t *der = NULL;
	int n = i2d_X509(x, &der);
	if (n <= 0)
		check_harness("i2d_X509");
	*len = (size_t)n;
	return der; /* OPENSSL_free */
}

static uint8_t *
pem_cert_der(const char *rel, size_t *len)
{
	X509 *x = pem_x509(rel);
	uint8_t *der = x509_der(x, len);
	X509_free(x);
	return der;
}

/* SHA-256 of the certificate's SubjectPublicKeyInfo, with OpenSSL (independent of ctenc). */
static void
x509_spki_hash(uint8_t out[32], X509 *x)
{
	uint8_t *der = NULL;
	int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
	if (n <= 0)
		check_harness("i2d_X509_PUBKEY");
	SHA256(der, (size_t)n, out);
	OPENSSL_free(der);
}

/* The TBSCertificate with extension nid removed (re-encoded by OpenSSL). */
static uint8_t *
tbs_without(X509 *x, int nid, size_t *len)
{
	X509 *d = X509_dup(x);
	int at = X509_get_ext_by_NID(d, nid, -1);
	if (at < 0)
		check_harness("extension to remove is absent");
	X509_EXTENSION_free(X509_delete_ext(d, at));
	uint8_t *der = NULL;
	int n = i2d_re_X509_tbs(d, &der);
	X509_free(d);
	if (n <= 0)
		check_harness("i2d_re_X509_tbs");
	*len = (size_t)n;
	return der;
}

/* The first SCT of a certificate's embedded SCT list (a pointer into a malloc'd copy). */
static uint8_t *
embedded_sct(X509 *x, size_t *len)
{
	int at = X509_get_ext_by_NID(x, NID_ct_precert_scts, -1);
	if (at < 0)
		check_harness("no embedded SCT list");
	ASN1_OCTET_STRING *os = X509_EXTENSION_get_data(X509_get_ext(x, at));
	const uint8_t *p = ASN1_STRING_get0_data(os);
	size_t n = (size_t)ASN1_STRING_length(os);
	/* An inner OCTET STRING holding the TLS SignedCertificateTimestampList. */
	if (n < 2 || p[0] != 0x04)
		check_harness("SCT list is not an OCTET STRING");
	size_t hl = 2, l = p[1];
	if (l == 0x81 && n >= 3)
		l = p[2], hl = 3;
	else if (l == 0x82 && n >= 4)
		l = (size_t)p[2] << 8 | p[3], hl = 4;
	if (hl + l != n || l < 4)
		check_harness("SCT list length");
	const uint8_t *q = p + hl;
	size_t total = (size_t)q[0] << 8 | q[1], first = (size_t)q[2] << 8 | q[3];
	if (total + 2 != l || first + 2 > total)
		check_harness("SCT list framing");
	uint8_t *out = malloc(first);
	memcpy(out, q + 4, first);
	*len = first;
	return out;
}

static struct ctsig_pub *
pub_pem(const char *rel)
{
	size_t n;
	char *pem = vfile(rel, &n);
	struct ctsig_pub *k = NULL;
	const char *why = NULL;
	if (ctsig_pub_from_pem(&k, pem, n, &why) != 0)
		check_harness(why ? why : "pub_pem");
	free(pem);
	return k;
}

static uint8_t *
b64dec(const char *s, size_t *len)
{
	size_t n = strlen(s);
	uint8_t *out = malloc(B64_DECODED_MAX(n) + 1);
	long r = b64_decode(out, B64_DECODED_MAX(n) + 1, s, n, NULL);
	if (r < 0)
		check_harness("bad base64 in a vector");
	*len = (size_t)r;
	return out;
}

static struct ctsig_pub *
pub_b64(const char *s)
{
	size_t n;
	uint8_t *der = b64dec(s, &n);
	struct ctsig_pub *k = NULL;
	const char *why = NULL;
	if (ctsig_pub_from_spki(&k, der, n, &why) != 0)
		check_harness(why ? why : "pub_b64");
	free(der);
	return k;
}

/* Verifies a (sha256, ecdsa) DigitallySigned over msg with plain OpenSSL EVP_DigestVerify:
 * the independent check of what ctsig signs. */
static bool
ossl_verify(const uint8_t *spki, size_t spki_len, const uint8_t *dsig, size_t dlen,
            const uint8_t *msg, size_t mlen)
{
	if (dlen < 4 || dsig[0] != 4 || dsig[1] != 3 ||
	    ((size_t)dsig[2] << 8 | dsig[3]) != dlen - 4)
		return false;
	const uint8_t *p = spki;
	EVP_PKEY *pk = d2i_PUBKEY(NULL, &p, (long)spki_len);
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	bool ok = pk && m && EVP_DigestVerifyInit(m, NULL, EVP_sha256(), NULL, pk) == 1 &&
	          EVP_DigestVerify(m, dsig + 4, dlen - 4, msg, mlen) == 1;
	EVP_MD_CTX_free(m);
	EVP_PKEY_free(pk);
	ERR_clear_error();
	return ok;
}

static uint64_t
be(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* ---- RFC 6962 vectors: google/certificate-transparency C++ test data ---- */

#define CPP "certs/google-certificate-transparency-cpp/"

static void
cpp_scts_signed_data_leaves_and_signatures_match(void)
{
	struct vec_json *j = jfile(CPP "VERIFIED_SCTS.json");
	const struct vec_json *cases = vec_must(j, "cases", VEC_ARR);
	unsigned ecdsa = 0, rsa = 0, verified = 0;
	CHECK(cases->n == 8, "8 SCT cases, got %zu", cases->n);
	for (size_t i = 0; i < cases->n && i < 16; i++) {
		const struct vec_json *c = &cases->item[i];
		const char *why = NULL;
		char rel[256];
		struct ctenc_entry e = {0};
		uint8_t *cert = NULL, *tbs = NULL;
		size_t cert_len = 0;
		bool precert = strcmp(jstr(c, "entry_type"), "precert_entry") == 0;

		/* The SCT (.proof) parses and re-encodes byte for byte. */
		snprintf(rel, sizeof(rel), CPP "%s", jstr(c, "sct"));
		size_t proof_len;
		char *proof = vfile(rel, &proof_len);
		struct ctenc_sct sct;
		int rc = ctenc_sct_parse(&sct, guarded(proof, proof_len), proof_len, &why);
		CHECK(rc == 0, "case %zu: SCT parse: %s", i, why);
		if (rc != 0) {
			free(proof);
			continue;
		}
		uint8_t log_id[32];
		unhex32(log_id, jstr(c, "sct_log_id_hex"));
		CHECK_MEM(sct.log_id, log_id, 32, "case %zu: log id", i);
		CHECK(sct.timestamp == vec_u64(c, "sct_timestamp"), "case %zu: timestamp", i);
		CHECK(sct.ext_len == 0, "case %zu: no extensions", i);
		uint8_t re[512];
		struct ctenc_sct copy = sct;
		uint8_t dsig[512];
		memcpy(dsig, sct.dsig, sct.dsig_len); /* the guarded copy is reused below */
		copy.dsig = dsig;
		sct.dsig = dsig;
		sct.ext = NULL; /* ext_len is 0 */
		long n = ctenc_sct(re, sizeof(re), &copy);
		CHECK(n == (long)proof_len && memcmp(re, proof, proof_len) == 0,
		      "case %zu: SCT re-encodes byte for byte", i);
		const struct vec_json *alg = vec_must(c, "sig_alg", VEC_ARR);
		CHECK(dsig[0] == alg->item[0].num && dsig[1] == alg->item[1].num,
		      "case %zu: algorithm bytes", i);
		if (dsig[1] == CTENC_SIG_ECDSA)
			ecdsa++;
		if (dsig[1] == CTENC_SIG_RSA)
			rsa++;

		e.timestamp = sct.timestamp;
		if (!precert) {
			snprintf(rel, sizeof(rel), CPP "%s", jstr(c, "cert"));
			cert = pem_cert_der(rel, &cert_len);
			e.type = CTENC_X509_ENTRY;
			e.cert = cert;
			e.cert_len = cert_len;
		} else {
			tbs = unhex(jstr(c, "defanged_tbs_hex"), &cert_len);
			CHECK(cert_len == vec_u64(c, "defanged_tbs_len"), "case %zu: tbs length",
			      i);
			e.type = CTENC_PRECERT_ENTRY;
			e.cert = tbs;
			e.cert_len = cert_len;
			/* issuer_key_hash: the final issuer's SPKI, even when a PSC signed. */
			snprintf(rel, sizeof(rel), CPP "%s", jstr(c, "final_issuer"));
			X509 *iss = pem_x509(rel);
			size_t spki_len;
			uint8_t *spki = NULL;
			int sl = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(iss), &spki);
			spki_len = sl > 0 ? (size_t)sl : 0;
			ctenc_sha256(e.issuer_key_hash, spki, spki_len);
			OPENSSL_free(spki);
			X509_free(iss);
			uint8_t ikh[32];
			unhex32(ikh, jstr(c, "issuer_key_hash_hex"));
			CHECK_MEM(e.issuer_key_hash, ikh, 32, "case %zu: issuer_key_hash", i);
			/* The final certificate's TBS minus the SCT list is the same TBS. */
			const struct vec_json *fc = vec_get(c, "final_cert");
			if (fc && fc->type == VEC_STR) {
				snprintf(rel, sizeof(rel), CPP "%s", fc->str);
				X509 *fx = pem_x509(rel);
				size_t fl;
				uint8_t *ft = tbs_without(fx, NID_ct_precert_scts, &fl);
				CHECK(fl == cert_len && memcmp(ft, tbs, fl) == 0,
				      "case %zu: final TBS minus SCT list", i);
				size_t el;
				uint8_t *es = embedded_sct(fx, &el);
				CHECK(el == proof_len && memcmp(es, proof, el) == 0,
				      "case %zu: embedded SCT equals .proof", i);
				free(es);
				OPENSSL_free(ft);
				X509_free(fx);
			}
		}

		/* Signed data, MerkleTreeLeaf and leaf hash. */
		size_t want_len;
		uint8_t *want = unhex(jstr(c, "signed_data_hex"), &want_len);
		CHECK(want_len == vec_u64(c, "signed_data_len"), "case %zu: vector length", i);
		uint8_t *buf = malloc(want_len + 16);
		n = ctenc_sct_signed_data(buf, want_len + 16, &e);
		CHECK(n == (long)want_len && memcmp(buf, want, want_len) == 0,
		      "case %zu: SCT signed data (%ld vs %zu bytes)", i, n, want_len);
		CHECK(ctenc_leaf_len(&e) == (long)want_len, "case %zu: leaf length", i);
		n = ctenc_leaf(buf, want_len + 16, &e);
		const struct vec_json *mtl = vec_get(c, "merkle_tree_leaf_hex");
		if (mtl) {
			size_t ml;
			uint8_t *m = unhex(mtl->str, &ml);
			CHECK(n == (long)ml && memcmp(buf, m, ml) == 0, "case %zu: MerkleTreeLeaf",
			      i);
			free(m);
		}
		uint8_t h[32], want_h[32], d[32];
		unhex32(want_h, jstr(c, "leaf_hash"));
		CHECK(ctenc_leaf_hash(h, &e) == 0 && memcmp(h, want_h, 32) == 0,
		      "case %zu: leaf hash", i);
		unhex32(want_h, jstr(c, "signed_data_sha256"));
		CHECK(ctenc_sct_signed_digest(d, &e) == 0 && memcmp(d, want_h, 32) == 0,
		      "case %zu: signed data digest", i);
		struct ctenc_entry back;
		CHECK(ctenc_leaf_parse(&back, guarded(buf, (size_t)n), (size_t)n, &why) == 0 &&
		              back.type == e.type && back.cert_len == e.cert_len &&
		              back.timestamp == e.timestamp,
		      "case %zu: leaf parses back: %s", i, why);

		/* The signature verifies under its key, and under nothing else. */
		snprintf(rel, sizeof(rel), CPP "%s", jstr(c, "verify_key"));
		struct ctsig_pub *k = pub_pem(rel);
		CHECK_MEM(ctsig_pub_log_id(k), log_id, 32, "case %zu: key's log id", i);
		rc = ctsig_sct_verify_tls(k, &sct, &e, &why);
		CHECK(rc == 0, "case %zu: SCT verifies: %s", i, why);
		verified += rc == 0;
		CHECK(ctsig_verify(k, dsig, sct.dsig_len, want, want_len, &why) == 0,
		      "case %zu: DigitallySigned over the vector bytes", i);
		want[want_len - 3] ^= 1; /* inside the certificate/TBS */
		CHECK(ctsig_verify(k, dsig, sct.dsig_len, want, want_len, &why) == -EBADMSG,
		      "case %zu: flipped signed byte fails", i);
		struct ctenc_entry late = e;
		late.timestamp++;
		CHECK(ctsig_sct_verify(k, &late, dsig, sct.dsig_len, &why) == -EBADMSG,
		      "case %zu: other timestamp fails", i);
		struct ctsig_pub *other =
		        pub_pem(dsig[1] == CTENC_SIG_RSA ? CPP "ct-server-key-public.pem"
		                                         : CPP "rsa/ct-server-key-public-rsa.pem");
		why = NULL;
		CHECK(ctsig_sct_verify_tls(other, &sct, &e, &why) == -EBADMSG && why &&
		              strstr(why, "log id"),
		      "case %zu: other key: log id mismatch", i);
		why = NULL;
		CHECK(ctsig_sct_verify(other, &e, dsig, sct.dsig_len, &why) == -EBADMSG && why &&
		              strstr(why, "algorithm"),
		      "case %zu: other key type: algorithm mismatch (%s)", i, why);
		ctsig_pub_free(other);
		ctsig_pub_free(k);
		free(buf);
		free(want);
		free(proof);
		free(tbs);
		OPENSSL_free(cert);
	}
	CHECK(ecdsa == 6 && rsa == 2, "6 ECDSA and 2 RSA SCTs, got %u and %u", ecdsa, rsa);
	CHECK(verified == 8, "all 8 SCTs verify, %u did", verified);
}

/* test-invalid-embedded-cert.pem carries an SCT that is not over its own TBS. */
static void
cpp_invalid_embedded_sct_fails(void)
{
	X509 *iss = pem_x509(CPP "ca-cert.pem");
	struct ctsig_pub *k = pub_pem(CPP "ct-server-key-public.pem");
	const char *names[2] = {CPP "test-embedded-cert.pem", CPP "test-invalid-embedded-cert.pem"};
	for (int bad = 0; bad < 2; bad++) {
		X509 *x = pem_x509(names[bad]);
		size_t sl, tl;
		uint8_t *raw = embedded_sct(x, &sl);
		uint8_t *tbs = tbs_without(x, NID_ct_precert_scts, &tl);
		struct ctenc_sct sct;
		const char *why = NULL;
		CHECK(ctenc_sct_parse(&sct, raw, sl, &why) == 0, "%s: SCT parses: %s", names[bad],
		      why);
		struct ctenc_entry e = {.type = CTENC_PRECERT_ENTRY, .cert = tbs, .cert_len = tl};
		x509_spki_hash(e.issuer_key_hash, iss);
		int rc = ctsig_sct_verify_tls(k, &sct, &e, &why);
		if (bad) {
			CHECK(sct.timestamp == 1365181457060, "invalid cert's SCT timestamp");
			CHECK(rc == -EBADMSG && why && strstr(why, "does not verify"),
			      "invalid embedded SCT fails: %d %s", rc, why);
		} else {
			CHECK(rc == 0, "valid embedded SCT verifies (control): %s", why);
		}
		free(raw);
		OPENSSL_free(tbs);
		X509_free(x);
	}
	ctsig_pub_free(k);
	X509_free(iss);
}

/* ---- certificate-transparency-go vectors ---- */

#define CTGO "certs/certificate-transparency-go/"

static void
ctgo_signature_vectors_match_and_verify(void)
{
	struct vec_json *j = jfile(CTGO "signatures_test_vectors.json");
	struct ctsig_pub *ec = pub_pem(CTGO "sigtest-ec-p256-pubkey.pem");
	struct ctsig_pub *rsa = pub_pem(CTGO "sigtest-rsa2048-pubkey.pem");
	uint8_t id[32];
	unhex32(id, jstr(j, "ec_log_id_hex"));
	CHECK_MEM(ctsig_pub_log_id(ec), id, 32, "EC log id");
	unhex32(id, jstr(j, "rsa_log_id_hex"));
	CHECK_MEM(ctsig_pub_log_id(rsa), id, 32, "RSA log id");
	const char *why = NULL;

	const struct vec_json *s = vec_must(j, "sct", VEC_OBJ);
	size_t cl, wl, el, rl;
	uint8_t *cert = unhex(jstr(s, "cert_der_hex"), &cl);
	uint8_t *want = unhex(jstr(s, "signed_data_hex"), &wl);
	struct ctenc_entry e = {.timestamp = vec_u64(s, "timestamp"),
	                        .type = CTENC_X509_ENTRY,
	                        .cert = cert,
	                        .cert_len = cl};
	uint8_t buf[2048];
	long n = ctenc_sct_signed_data(buf, sizeof(buf), &e);
	CHECK(n == (long)wl && memcmp(buf, want, wl) == 0, "SCT signed data");
	uint8_t *es = unhex(jstr(vec_must(s, "ecdsa_sig", VEC_OBJ), "digitally_signed_hex"), &el);
	uint8_t *rs = unhex(jstr(vec_must(s, "rsa_sig", VEC_OBJ), "digitally_signed_hex"), &rl);
	CHECK(ctsig_sct_verify(ec, &e, es, el, &why) == 0, "EC SCT signature: %s", why);
	CHECK(ctsig_sct_verify(rsa, &e, rs, rl, &why) == 0, "RSA SCT signature: %s", why);
	CHECK(ctsig_sct_verify(ec, &e, rs, rl, &why) == -EBADMSG, "RSA signature, EC key");
	CHECK(ctsig_sct_verify(rsa, &e, es, el, &why) == -EBADMSG, "EC signature, RSA key");
	/* An ECDSA signature relabelled as RSA (and the reverse) is refused before any math. */
	es[1] = CTENC_SIG_RSA;
	why = NULL;
	CHECK(ctsig_sct_verify(ec, &e, es, el, &why) == -EBADMSG && why && strstr(why, "algorithm"),
	      "relabelled algorithm byte");
	es[1] = CTENC_SIG_ECDSA;
	es[0] = 2; /* sha1 */
	why = NULL;
	CHECK(ctsig_sct_verify(ec, &e, es, el, &why) == -EBADMSG && why && strstr(why, "sha256"),
	      "hash algorithm other than sha256");
	es[0] = CTENC_HASH_SHA256;
	rs[rl - 1] ^= 0x80;
	CHECK(ctsig_sct_verify(rsa, &e, rs, rl, &why) == -EBADMSG, "flipped RSA signature");
	CHECK(ctsig_sct_verify(rsa, &e, rs, rl - 1, &why) == -EBADMSG, "truncated RSA signature");
	free(es);
	free(rs);
	free(want);
	free(cert);

	const struct vec_json *t = vec_must(j, "sth", VEC_OBJ);
	uint8_t root[32], sd[CTENC_STH_SIGNED_LEN];
	unhex32(root, jstr(t, "sha256_root_hash_hex"));
	want = unhex(jstr(t, "signed_data_hex"), &wl);
	ctenc_sth_signed_data(sd, vec_u64(t, "timestamp"), vec_u64(t, "tree_size"), root);
	CHECK(wl == sizeof(sd) && memcmp(sd, want, wl) == 0, "STH signed data");
	es = unhex(jstr(vec_must(t, "ecdsa_sig", VEC_OBJ), "digitally_signed_hex"), &el);
	CHECK(ctsig_sth_verify(ec, vec_u64(t, "timestamp"), vec_u64(t, "tree_size"), root, es, el,
	                       &why) == 0,
	      "STH signature: %s", why);
	CHECK(ctsig_sth_verify(ec, vec_u64(t, "timestamp"), vec_u64(t, "tree_size") + 1, root, es,
	                       el, &why) == -EBADMSG,
	      "STH signature, other size");
	free(es);
	free(want);

	/* Pure encoding KATs from serialization_test.go. */
	const struct vec_json *f = vec_must(j, "serialization_fixed_vectors", VEC_OBJ);
	static const uint8_t ikh[] = "iamapublickeyshatwofivesixdigest";
	e = (struct ctenc_entry){.timestamp = 1234,
	                         .type = CTENC_X509_ENTRY,
	                         .cert = (const uint8_t *)"certificate",
	                         .cert_len = 11};
	want = unhex(jstr(f, "sct_signature_input_x509 (ts=1234, cert='certificate')"), &wl);
	n = ctenc_sct_signed_data(buf, sizeof(buf), &e);
	CHECK(n == (long)wl && memcmp(buf, want, wl) == 0, "x509 signature input KAT");
	free(want);
	e.type = CTENC_PRECERT_ENTRY;
	e.cert = (const uint8_t *)"tbs";
	e.cert_len = 3;
	memcpy(e.issuer_key_hash, ikh, 32);
	want = unhex(jstr(f, "sct_signature_input_precert (ts=1234, ikh=..., tbs='tbs')"), &wl);
	n = ctenc_sct_signed_data(buf, sizeof(buf), &e);
	CHECK(n == (long)wl && memcmp(buf, want, wl) == 0, "precert signature input KAT");
	free(want);
	want = unhex(jstr(f, "sth_signature_input (ts=2345, size=6, "
	                     "root='imustbeexactlythirtytwobyteslong')"),
	             &wl);
	ctenc_sth_signed_data(sd, 2345, 6, (const uint8_t *)"imustbeexactlythirtytwobyteslong");
	CHECK(wl == sizeof(sd) && memcmp(sd, want, wl) == 0, "STH signature input KAT");
	free(want);
	want = unhex(jstr(f, "serialized_sct (v1, id=..., ts=1234, no ext, sig 0403 len 9 "
	                     "'signature')"),
	             &wl);
	uint8_t ds[16];
	struct ctenc_dsig dd = {CTENC_HASH_SHA256, CTENC_SIG_ECDSA, (const uint8_t *)"signature",
	                        9};
	long dl = ctenc_dsig(ds, sizeof(ds), &dd);
	struct ctenc_sct sct = {.timestamp = 1234, .dsig = ds, .dsig_len = (size_t)dl};
	memcpy(sct.log_id, ikh, 32);
	n = ctenc_sct(buf, sizeof(buf), &sct);
	CHECK(dl == 13 && n == (long)wl && memcmp(buf, want, wl) == 0, "serialized SCT KAT");
	struct ctenc_sct back;
	CHECK(ctenc_sct_parse(&back, guarded(want, wl), wl, &why) == 0 && back.timestamp == 1234 &&
	              back.dsig_len == 13 && memcmp(back.log_id, ikh, 32) == 0,
	      "serialized SCT KAT parses: %s", why);
	free(want);
	ctsig_pub_free(ec);
	ctsig_pub_free(rsa);
}

/* Parses a uint24 list of uint24 certificates (test-side, to feed the encoder). */
static size_t
split_chain(const uint8_t *p, size_t n, struct ctenc_cert *out, size_t max)
{
	if (n < 3 || be(p, 3) != n - 3)
		check_harness("chain framing");
	size_t i = 3, k = 0;
	while (i < n && k < max) {
		size_t l = (size_t)be(p + i, 3);
		out[k].der = p + i + 3;
		out[k].len = l;
		i += 3 + l;
		k++;
	}
	if (i != n)
		check_harness("chain framing");
	return k;
}

static void
argon2018_leaf_input_and_extra_data_reencode(void)
{
	struct vec_json *j = jfile(CTGO "argon2018_entries_1_2.json");
	const struct vec_json *es = vec_must(j, "entries", VEC_ARR);
	CHECK(es->n == 2, "two entries");
	for (size_t i = 0; i < es->n && i < 2; i++) {
		const struct vec_json *x = &es->item[i];
		size_t ll, xl;
		uint8_t *leaf = unhex(jstr(x, "leaf_input_hex"), &ll);
		uint8_t *extra = unhex(jstr(x, "extra_data_hex"), &xl);
		struct ctenc_entry e;
		const char *why = NULL;
		const uint8_t *g = guarded(leaf, ll);
		CHECK(ctenc_leaf_parse(&e, g, ll, &why) == 0, "entry %zu parses: %s", i, why);
		e.cert = leaf + (e.cert - g); /* repoint from the guarded copy to leaf */
		if (e.ext)
			e.ext = leaf + (e.ext - g);
		bool precert = strcmp(jstr(x, "entry_type"), "precert_entry") == 0;
		CHECK(e.type == (precert ? CTENC_PRECERT_ENTRY : CTENC_X509_ENTRY),
		      "entry %zu type", i);
		CHECK(e.timestamp == vec_u64(x, "timestamp"), "entry %zu timestamp", i);
		uint8_t *buf = malloc(ll + xl + 64);
		long n = ctenc_leaf(buf, ll + xl + 64, &e);
		CHECK(n == (long)ll && memcmp(buf, leaf, ll) == 0, "entry %zu leaf re-encodes", i);
		uint8_t h[32], want[32];
		unhex32(want, jstr(x, "leaf_hash_hex"));
		CHECK(ctenc_leaf_hash(h, &e) == 0 && memcmp(h, want, 32) == 0,
		      "entry %zu leaf hash", i);

		struct ctenc_cert chain[8];
		size_t nc;
		if (precert) {
			struct ctenc_cert pre = {extra + 3, (size_t)be(extra, 3)};
			nc = split_chain(extra + 3 + pre.len, xl - 3 - pre.len, chain, 8);
			n = ctenc_extra_data_precert(buf, ll + xl + 64, &pre, chain, nc);
			/* issuer_key_hash is the SPKI hash of chain[0], the issuer. */
			const uint8_t *p = chain[0].der;
			X509 *iss = d2i_X509(NULL, &p, (long)chain[0].len);
			CHECK(iss != NULL, "chain[0] parses");
			if (iss) {
				x509_spki_hash(h, iss);
				CHECK_MEM(h, e.issuer_key_hash, 32,
				          "issuer_key_hash is chain[0]'s");
				X509_free(iss);
			}
		} else {
			nc = split_chain(extra, xl, chain, 8);
			n = ctenc_extra_data_x509(buf, ll + xl + 64, chain, nc);
		}
		CHECK(nc == 2, "entry %zu: two chain certificates", i);
		CHECK(n == (long)xl && memcmp(buf, extra, xl) == 0,
		      "entry %zu extra_data re-encodes", i);
		if (precert) {
			struct ctenc_cert pre = {extra + 3, (size_t)be(extra, 3)};
			n = ctenc_extra_data_precert(buf, xl - 1, &pre, chain, nc);
		} else {
			n = ctenc_extra_data_x509(buf, xl - 1, chain, nc);
		}
		CHECK(n == -ENOSPC, "entry %zu extra_data needs all its room", i);
		free(buf);
		free(leaf);
		free(extra);
	}
}

/* ---- static-ct checkpoints ---- */

#define SCT_DIR "static-ct/"

static void
check_checkpoint(const char *file, const char *spki_b64, const char *log_id_b64, const char *key_id,
                 uint64_t size, const uint8_t root[32], uint64_t ts)
{
	size_t len;
	char *note = vfile(file, &len);
	struct ctsig_pub *k = pub_b64(spki_b64);
	size_t idl;
	uint8_t *id = b64dec(log_id_b64, &idl);
	CHECK(idl == 32 && memcmp(ctsig_pub_log_id(k), id, 32) == 0, "%s: log id", file);
	const char *origin = note;
	size_t olen = (size_t)((const char *)memchr(note, '\n', len) - note);
	struct ctsig_checkpoint cp;
	const char *why = NULL;
	int rc = ctsig_checkpoint_verify(&cp, k, origin, olen, (const char *)guarded(note, len),
	                                 len, &why);
	CHECK(rc == 0, "%s verifies: %s", file, why);
	CHECK(cp.body.size == size && memcmp(cp.body.root, root, 32) == 0, "%s: size and root",
	      file);
	CHECK(cp.timestamp == ts, "%s: timestamp %llu", file, (unsigned long long)cp.timestamp);
	uint32_t kid = ctsig_note_key_id(origin, olen, ctsig_pub_log_id(k));
	char hex[9];
	snprintf(hex, sizeof(hex), "%08x", kid);
	CHECK(strcmp(hex, key_id) == 0, "%s: key id %s, want %s", file, hex, key_id);
	/* The signature line's first 4 bytes are that key ID. */
	const char *b = strrchr(note, ' ') + 1;
	size_t sl;
	char tmp[256];
	snprintf(tmp, sizeof(tmp), "%.*s", (int)(note + len - 1 - b), b);
	uint8_t *sig = b64dec(tmp, &sl);
	CHECK(sl > 12 && be(sig, 4) == kid && be(sig + 4, 8) == ts, "%s: signature prefix", file);
	/* Re-encoding the note from its parts reproduces it byte for byte. */
	char out[CTSIG_CHECKPOINT_MAX];
	long n = ctsig_checkpoint_from_sth(out, sizeof(out), origin, olen, ctsig_pub_log_id(k), ts,
	                                   size, root, sig + 12, sl - 12);
	CHECK(n == (long)len && memcmp(out, note, len) == 0, "%s: re-encodes", file);
	/* Not the log's key: no signature by it. */
	struct ctsig_pub *other = pub_pem(CPP "ct-server-key-public.pem");
	why = NULL;
	CHECK(ctsig_checkpoint_verify(&cp, other, origin, olen, note, len, &why) == -EBADMSG &&
	              why && strstr(why, "no signature"),
	      "%s: wrong key fails: %s", file, why);
	ctsig_pub_free(other);
	/* Wrong expected origin. */
	why = NULL;
	CHECK(ctsig_checkpoint_verify(&cp, k, "example.org", 11, note, len, &why) == -EBADMSG &&
	              why && strstr(why, "origin"),
	      "%s: wrong origin fails: %s", file, why);
	free(sig);
	free(id);
	ctsig_pub_free(k);
	free(note);
}

static void
static_ct_checkpoints_verify_and_key_ids_recompute(void)
{
	struct vec_json *j = jfile(SCT_DIR "VERIFIED_STATIC_CT_AND_TLOG.json");
	uint8_t root[32];
	size_t rl;

	const struct vec_json *r = vec_must(j, "rome2024h1_checkpoint", VEC_OBJ);
	unhex32(root, jstr(r, "root_hex"));
	const struct vec_json *sig0 = &vec_must(r, "sigs", VEC_ARR)->item[0];
	check_checkpoint(SCT_DIR "checkpoints/rome2024h1.checkpoint",
	                 jstr(r, "public_key_spki_b64"), jstr(r, "log_id_b64"),
	                 jstr(r, "expected_key_id"), vec_u64(r, "tree_size"), root,
	                 vec_u64(sig0, "timestamp_ms"));

	const struct vec_json *a = vec_must(j, "argon2024_get_sth", VEC_OBJ);
	const struct vec_json *g = vec_must(a, "get_sth_json", VEC_OBJ);
	uint8_t *rb = b64dec(jstr(g, "sha256_root_hash"), &rl);
	memcpy(root, rb, 32);
	free(rb);
	check_checkpoint(SCT_DIR "checkpoints/argon2024_converted_from_get-sth.checkpoint",
	                 jstr(a, "public_key_spki_b64"), jstr(a, "log_id_b64"),
	                 jstr(a, "key_id_computed"), vec_u64(g, "tree_size"), root,
	                 vec_u64(g, "timestamp"));
	/* The get-sth signature itself verifies as an STH. */
	struct ctsig_pub *k = pub_b64(jstr(a, "public_key_spki_b64"));
	size_t dl;
	uint8_t *ds = b64dec(jstr(g, "tree_head_signature"), &dl);
	const char *why = NULL;
	CHECK(ctsig_sth_verify(k, vec_u64(g, "timestamp"), vec_u64(g, "tree_size"), root, ds, dl,
	                       &why) == 0,
	      "argon2024 get-sth verifies: %s", why);
	free(ds);
	ctsig_pub_free(k);

	const struct vec_json *s = vec_must(j, "sunlight_checkpoint_test_sth", VEC_OBJ);
	g = vec_must(s, "get_sth_json", VEC_OBJ);
	rb = b64dec(jstr(g, "sha256_root_hash"), &rl);
	memcpy(root, rb, 32);
	free(rb);
	k = pub_b64(jstr(s, "public_key_spki_b64"));
	char kid[9];
	snprintf(kid, sizeof(kid), "%08x",
	         ctsig_note_key_id("example.com", 11, ctsig_pub_log_id(k)));
	ctsig_pub_free(k);
	check_checkpoint(SCT_DIR "checkpoints/sunlight-test-sth_as_example.com.checkpoint",
	                 jstr(s, "public_key_spki_b64"), jstr(s, "log_id_b64"), kid,
	                 vec_u64(g, "tree_size"), root, vec_u64(g, "timestamp"));
	CHECK(strcmp(kid, "2430cadf") == 0, "example.com key id %s (from the note: JDDK3w)", kid);

	/* The skylight test tree, key from its log.v3.json. */
	const struct vec_json *y = vec_must(j, "skylight_rome2026h1", VEC_OBJ);
	struct vec_json *lj = jfile(SCT_DIR "sunlight-skylight-testdata/tree/log.v3.json");
	unhex32(root, jstr(y, "root_hex"));
	sig0 = &vec_must(y, "sigs", VEC_ARR)->item[0];
	check_checkpoint(SCT_DIR "sunlight-skylight-testdata/tree/checkpoint", jstr(lj, "key"),
	                 jstr(lj, "log_id"), jstr(y, "expected_key_id"), vec_u64(y, "tree_size"),
	                 root, vec_u64(sig0, "timestamp_ms"));
}

/* Every way of breaking the rome checkpoint is refused. */
static void
checkpoint_note_negative_cases_fail_with_reasons(void)
{
	struct vec_json *j = jfile(SCT_DIR "VERIFIED_STATIC_CT_AND_TLOG.json");
	const struct vec_json *r = vec_must(j, "rome2024h1_checkpoint", VEC_OBJ);
	struct ctsig_pub *k = pub_b64(jstr(r, "public_key_spki_b64"));
	size_t len;
	char *note = vfile(SCT_DIR "checkpoints/rome2024h1.checkpoint", &len);
	const char *origin = "rome.ct.filippo.io/2024h1";
	size_t ol = strlen(origin);
	struct ctsig_checkpoint cp;
	const char *why;
	char buf[2048];
	if (len + 600 > sizeof(buf))
		check_harness("rome checkpoint too long");

#define VERIFY(n, l) ctsig_checkpoint_verify(&cp, k, origin, ol, (n), (l), &why)
	why = NULL;
	CHECK(VERIFY((const char *)guarded(note, len), len) == 0, "control: verifies: %s", why);

	/* Every truncation fails (and never reads past the end). */
	for (size_t l = 0; l < len; l++) {
		why = NULL;
		CHECK(VERIFY((const char *)guarded(note, l), l) < 0 && why,
		      "truncation at %zu accepted", l);
	}
	/* Every single-byte flip fails. */
	for (size_t i = 0; i < len; i++) {
		memcpy(buf, note, len);
		buf[i] ^= 0x01;
		why = NULL;
		CHECK(VERIFY((const char *)guarded(buf, len), len) < 0 && why,
		      "flip at %zu accepted", i);
	}
	size_t body_len = (size_t)(strstr(note, "\n\n") - note) + 1;
	const char *sigline = note + body_len + 1;
	size_t sig_len = len - body_len - 1;

	/* An extra signature by an unknown key (other name, or same name and other ID) is
	 * ignored, before or after the log's. */
	const char *unknown[2] = {"\xe2\x80\x94 witness.example.org uKLPIAAAAABpVFsAAAAA\n",
	                          "\xe2\x80\x94 rome.ct.filippo.io/2024h1 AAAAAAAAAAAA\n"};
	for (int u = 0; u < 2; u++) {
		size_t ul = strlen(unknown[u]);
		memcpy(buf, note, body_len + 1);
		memcpy(buf + body_len + 1, unknown[u], ul);
		memcpy(buf + body_len + 1 + ul, sigline, sig_len);
		why = NULL;
		CHECK(VERIFY(buf, len + ul) == 0, "unknown signature %d first: %s", u, why);
		memcpy(buf, note, len);
		memcpy(buf + len, unknown[u], ul);
		CHECK(VERIFY(buf, len + ul) == 0, "unknown signature %d last: %s", u, why);
	}
	/* Only an unknown key's signature: refused. */
	memcpy(buf, note, body_len + 1);
	memcpy(buf + body_len + 1, unknown[0], strlen(unknown[0]));
	why = NULL;
	CHECK(VERIFY(buf, body_len + 1 + strlen(unknown[0])) == -EBADMSG && why &&
	              strstr(why, "no signature"),
	      "only unknown signatures: %s", why);

	/* Malformed lines anywhere in the signature block: refused. */
	const char *bad_lines[] = {
	        "- witness.example.org uKLPIAAAAABpVFsAAAAA\n",    /* hyphen, not em dash */
	        "\xe2\x80\x94  uKLPIAAAAABpVFsAAAAA\n",            /* empty name */
	        "\xe2\x80\x94 witness.example.org uKLP\n",         /* 3 bytes: no key ID */
	        "\xe2\x80\x94 witness+x uKLPIAAAAABpVFsAAAAA\n",   /* '+' in name */
	        "\xe2\x80\x94 witness.example.org uKLP!AAA\n",     /* not base64 */
	        "\xe2\x80\x94 witness.example.org\n",              /* no signature */
	        "\xe2\x80\x94 witness.example.org uKLPIAAAAAB=\n", /* bad padding */
	        "\n",                                              /* blank line in the block */
	};
	for (size_t b = 0; b < sizeof(bad_lines) / sizeof(bad_lines[0]); b++) {
		size_t bl = strlen(bad_lines[b]);
		memcpy(buf, note, len);
		memcpy(buf + len, bad_lines[b], bl);
		why = NULL;
		int rc = VERIFY(buf, len + bl);
		CHECK(rc == -EBADMSG && why, "bad line %zu accepted: %d", b, rc);
	}
	/* Body changes that keep the signature bytes: size, root, an extension line, origin. */
	const char *bodies[] = {
	        "rome.ct.filippo.io/2024h1\n115474667\n2q1K6aiIJR+F7TyhiWOghoWOjY0/"
	        "3dVBLsBbAvB4xCw=\n",
	        "rome.ct.filippo.io/2024h1\n115474666\n2q1K6aiIJR+F7TyhiWOghoWOjY0/"
	        "3dVBLsBbAvB4xC0=\n",
	        "rome.ct.filippo.io/2024h1\n115474666\n2q1K6aiIJR+F7TyhiWOghoWOjY0/"
	        "3dVBLsBbAvB4xCw=\n"
	        "ext\n",
	        "rome.ct.filippo.io/2024h2\n115474666\n2q1K6aiIJR+F7TyhiWOghoWOjY0/"
	        "3dVBLsBbAvB4xCw=\n",
	        "rome.ct.filippo.io/2024h1\n0115474666\n2q1K6aiIJR+F7TyhiWOghoWOjY0/"
	        "3dVBLsBbAvB4xCw=\n",
	};
	for (size_t b = 0; b < sizeof(bodies) / sizeof(bodies[0]); b++) {
		size_t bl = strlen(bodies[b]);
		memcpy(buf, bodies[b], bl);
		memcpy(buf + bl, note + body_len, len - body_len);
		why = NULL;
		CHECK(VERIFY(buf, bl + len - body_len) == -EBADMSG && why, "body %zu accepted", b);
	}
	/* CRLF, a control character, invalid UTF-8. */
	const char *texts[] = {"rome.ct.filippo.io/2024h1\r\n", "\x01", "\xc0\xaf", "\xed\xa0\x80"};
	for (size_t b = 0; b < sizeof(texts) / sizeof(texts[0]); b++) {
		memcpy(buf, note, len);
		memcpy(buf + len, texts[b], strlen(texts[b]));
		buf[len + strlen(texts[b])] = '\n';
		why = NULL;
		CHECK(VERIFY(buf, len + strlen(texts[b]) + 1) == -EBADMSG && why,
		      "text %zu accepted", b);
	}
	/* A second signature by the log's key that does not verify spoils the note. */
	memcpy(buf, note, len);
	memcpy(buf + len, sigline, sig_len);
	buf[len + sig_len - 3] ^= 0x02; /* inside the base64 of the ECDSA signature */
	why = NULL;
	CHECK(VERIFY(buf, len + sig_len) == -EBADMSG && why, "bad second signature by the key: %s",
	      why);
	/* The expected origin is checked even when the key matches. */
	why = NULL;
	CHECK(ctsig_checkpoint_verify(&cp, k, "rome.ct.filippo.io/2024h2", ol, note, len, &why) ==
	              -EBADMSG,
	      "other expected origin");
	CHECK(ctsig_checkpoint_verify(&cp, k, "bad origin", 10, note, len, &why) == -EINVAL,
	      "invalid expected origin");
#undef VERIFY
	ctsig_pub_free(k);
	free(note);
}

/* ---- navigli2025h2 data tiles ---- */

#define NAV SCT_DIR "sunlight-navigli2025h2/"

static void
navigli_data_tiles_parse_reencode_and_hash_to_level0(void)
{
	static const struct {
		const char *name;
		unsigned width;
		uint64_t index;
	} tiles[] = {{"000", 256, 0},
	             {"001", 256, 1},
	             {"002", 256, 2},
	             {"003", 256, 3},
	             {"003.p/10", 10, 3}};
	struct vec_json *j = jfile(SCT_DIR "VERIFIED_STATIC_CT_AND_TLOG.json");
	const struct vec_json *first =
	        vec_must(vec_must(j, "navigli2025h2_tiles", VEC_OBJ), "first_entry", VEC_OBJ);
	unsigned leaves = 0, precerts = 0;
	for (size_t t = 0; t < sizeof(tiles) / sizeof(tiles[0]); t++) {
		char rel[128];
		size_t dl, hl;
		snprintf(rel, sizeof(rel), NAV "tile/data/%s", tiles[t].name);
		char *data = vfile(rel, &dl);
		snprintf(rel, sizeof(rel), NAV "tile/0/%s", tiles[t].name);
		char *hashes = vfile(rel, &hl);
		CHECK(hl == 32 * tiles[t].width, "%s: level-0 tile width", tiles[t].name);
		const uint8_t *in = guarded(data, dl);
		size_t off = 0;
		unsigned i = 0;
		uint8_t *re = malloc(dl);
		for (; i <= tiles[t].width && off < dl; i++) {
			struct ctenc_tile_leaf l;
			const char *why = NULL;
			long n = ctenc_tile_leaf_parse(&l, in + off, dl - off, &why);
			CHECK(n > 0, "%s[%u]: parses: %s", tiles[t].name, i, why);
			if (n <= 0)
				break;
			CHECK(ctenc_tile_leaf(re, dl, &l) == n &&
			              memcmp(re, in + off, (size_t)n) == 0,
			      "%s[%u]: re-encodes byte for byte", tiles[t].name, i);
			CHECK(ctenc_tile_leaf_len(&l) == n, "%s[%u]: length", tiles[t].name, i);
			uint8_t h1[32], h2[32];
			ctenc_leaf_hash_te(h1, l.te, l.te_len);
			CHECK(ctenc_leaf_hash(h2, &l.entry) == 0 && memcmp(h1, h2, 32) == 0,
			      "%s[%u]: leaf hash two ways", tiles[t].name, i);
			CHECK(i < tiles[t].width && memcmp(h1, hashes + 32 * i, 32) == 0,
			      "%s[%u]: leaf hash equals level-0 tile", tiles[t].name, i);
			CHECK(ctenc_timestamped_entry_len(&l.entry) == (long)l.te_len,
			      "%s[%u]: TimestampedEntry length", tiles[t].name, i);
			uint64_t idx = UINT64_MAX;
			CHECK(ctenc_ext_leaf_index_parse(&idx, l.entry.ext, l.entry.ext_len,
			                                 &why) == 0 &&
			              idx == tiles[t].index * 256 + i,
			      "%s[%u]: leaf_index %llu", tiles[t].name, i, (unsigned long long)idx);
			CHECK(l.chain_n >= 1, "%s[%u]: chain", tiles[t].name, i);
			precerts += l.entry.type == CTENC_PRECERT_ENTRY;
			if (t == 0 && i == 0) {
				CHECK(l.entry.timestamp == vec_u64(first, "timestamp") &&
				              l.te_len == 1200 && l.precert_len == 1446 &&
				              l.chain_n == 2,
				      "entry 0 layout");
				const struct vec_json *fp =
				        vec_must(first, "chain_fingerprints", VEC_ARR);
				for (size_t c = 0; c < 2 && c < fp->n; c++) {
					uint8_t want[32];
					unhex32(want, fp->item[c].str);
					CHECK_MEM(l.chain + 32 * c, want, 32,
					          "entry 0 fingerprint %zu", c);
				}
				unhex32(h2, jstr(first, "leaf_hash_hex"));
				CHECK_MEM(h1, h2, 32, "entry 0 leaf hash");
			}
			off += (size_t)n;
			leaves++;
		}
		CHECK(i == tiles[t].width && off == dl, "%s: %u leaves fill the tile",
		      tiles[t].name, i);
		free(re);
		free(data);
		free(hashes);
	}
	CHECK(leaves == 1034 && precerts == 1034, "1034 precert leaves, got %u/%u", leaves,
	      precerts);
}

static void
navigli_embedded_sct_with_leaf_index_verifies_only_with_it(void)
{
	struct vec_json *j = jfile(NAV "VERIFIED_embedded_sct_with_leaf_index.json");
	const struct vec_json *s = &vec_must(j, "scts", VEC_ARR)->item[1];
	struct ctsig_pub *k = pub_pem(NAV "navigli2025h2-pubkey.pem");
	uint8_t id[32];
	unhex32(id, jstr(j, "log_id_hex"));
	CHECK_MEM(ctsig_pub_log_id(k), id, 32, "navigli log id");
	size_t sl, tl, wl;
	uint8_t *raw = unhex(jstr(s, "serialized_sct_hex"), &sl);
	uint8_t *tbs =
	        unhex(jstr(j, "precert_tbs_hex (final TBS minus 1.3.6.1.4.1.11129.2.4.2)"), &tl);
	uint8_t *want = unhex(jstr(s, "signed_data_hex"), &wl);
	struct ctenc_sct sct;
	const char *why = NULL;
	CHECK(ctenc_sct_parse(&sct, raw, sl, &why) == 0, "SCT parses: %s", why);
	uint64_t idx = 0;
	CHECK(ctenc_ext_leaf_index_parse(&idx, sct.ext, sct.ext_len, &why) == 0 && idx == 82000014,
	      "leaf_index %llu", (unsigned long long)idx);
	uint8_t ext[CTENC_LEAF_INDEX_EXT];
	CHECK(ctenc_ext_leaf_index(ext, idx) == CTENC_LEAF_INDEX_EXT &&
	              sct.ext_len == sizeof(ext) && memcmp(ext, sct.ext, sizeof(ext)) == 0,
	      "leaf_index re-encodes");
	/* The TBS from the PEM (OpenSSL strips the SCT list) is the vector's. */
	X509 *x = pem_x509(NAV "example-final-cert-with-embedded-scts.pem");
	size_t fl;
	uint8_t *ft = tbs_without(x, NID_ct_precert_scts, &fl);
	CHECK(fl == tl && memcmp(ft, tbs, tl) == 0, "final TBS minus SCT list");
	OPENSSL_free(ft);
	X509_free(x);

	struct ctenc_entry e = {.type = CTENC_PRECERT_ENTRY, .cert = tbs, .cert_len = tl};
	unhex32(e.issuer_key_hash, jstr(j, "issuer_key_hash_hex"));
	e.timestamp = sct.timestamp;
	e.ext = sct.ext;
	e.ext_len = sct.ext_len;
	uint8_t *buf = malloc(wl);
	CHECK(ctenc_sct_signed_data(buf, wl, &e) == (long)wl && memcmp(buf, want, wl) == 0,
	      "signed data with the extension");
	uint8_t h[32], w[32];
	unhex32(w, jstr(s, "leaf_hash_hex (should be at that index in navigli2025h2 level-0 tiles; "
	                   "not verifiable offline)"));
	CHECK(ctenc_leaf_hash(h, &e) == 0 && memcmp(h, w, 32) == 0, "leaf hash");
	CHECK(ctsig_sct_verify_tls(k, &sct, &e, &why) == 0, "verifies with leaf_index: %s", why);
	e.ext = NULL;
	e.ext_len = 0;
	why = NULL;
	CHECK(ctsig_sct_verify(k, &e, sct.dsig, sct.dsig_len, &why) == -EBADMSG && why &&
	              strstr(why, "does not verify"),
	      "fails without the extension");
	free(buf);
	free(want);
	free(tbs);
	free(raw);
	ctsig_pub_free(k);
}

/* ---- strictness and bounds (no vectors needed) ---- */

static const uint8_t test_cert[] = {0x30, 0x03, 0x02, 0x01, 0x07};

static void
sct_parse_refuses_truncation_trailing_bytes_and_v2(void)
{
	uint8_t dsig[20] = {4, 3, 0, 16};
	uint8_t ext[CTENC_LEAF_INDEX_EXT];
	if (ctenc_ext_leaf_index(ext, 1234) != CTENC_LEAF_INDEX_EXT)
		check_harness("leaf index");
	struct ctenc_sct s = {
	        .timestamp = 99, .ext = ext, .ext_len = 8, .dsig = dsig, .dsig_len = 20};
	memset(s.log_id, 0xab, 32);
	uint8_t raw[128];
	long n = ctenc_sct(raw, sizeof(raw), &s);
	CHECK(n == CTENC_SCT_FIXED_LEN + 8 + 16, "SCT length %ld", n);
	for (long cap = 0; cap < n; cap++)
		CHECK(ctenc_sct(raw, (size_t)cap, &s) == -ENOSPC, "cap %ld", cap);
	n = ctenc_sct(raw, sizeof(raw), &s);
	struct ctenc_sct p;
	const char *why = NULL;
	CHECK(ctenc_sct_parse(&p, guarded(raw, (size_t)n), (size_t)n, &why) == 0 &&
	              p.timestamp == 99 && p.ext_len == 8 && p.dsig_len == 20,
	      "parses: %s", why);
	for (long l = 0; l < n; l++) {
		why = NULL;
		CHECK(ctenc_sct_parse(&p, guarded(raw, (size_t)l), (size_t)l, &why) == -EBADMSG &&
		              why,
		      "truncation %ld", l);
	}
	raw[n] = 0;
	CHECK(ctenc_sct_parse(&p, guarded(raw, (size_t)n + 1), (size_t)n + 1, &why) == -EBADMSG &&
	              strstr(why, "trailing"),
	      "trailing byte");
	raw[0] = 1;
	CHECK(ctenc_sct_parse(&p, guarded(raw, (size_t)n), (size_t)n, &why) == -EBADMSG &&
	              strstr(why, "version"),
	      "v2 refused");
	/* A DigitallySigned that does not parse is refused by the encoder. */
	s.dsig_len = 19;
	CHECK(ctenc_sct(raw, sizeof(raw), &s) == -EINVAL, "bad DigitallySigned");
	struct ctenc_dsig d;
	CHECK(ctenc_dsig_parse(&d, dsig, 19, &why) == -EBADMSG, "short DigitallySigned");
	CHECK(ctenc_dsig_parse(&d, dsig, 20, &why) == 0 && d.len == 16, "DigitallySigned");
	uint8_t two[21];
	memcpy(two, dsig, 20);
	two[20] = 0;
	CHECK(ctenc_dsig_parse(&d, two, 21, &why) == -EBADMSG && strstr(why, "trailing"),
	      "DigitallySigned trailing byte");
}

static void
tile_leaf_parse_refuses_malformed_leaves(void)
{
	uint8_t fp[64];
	memset(fp, 0x5a, sizeof(fp));
	uint8_t ext[CTENC_LEAF_INDEX_EXT];
	if (ctenc_ext_leaf_index(ext, 7) < 0)
		check_harness("ext");
	uint8_t pre[] = {0x30, 0x04, 0x02, 0x02, 0x01, 0x02};
	struct ctenc_tile_leaf l = {.entry = {.timestamp = 5,
	                                      .type = CTENC_PRECERT_ENTRY,
	                                      .cert = test_cert,
	                                      .cert_len = sizeof(test_cert),
	                                      .ext = ext,
	                                      .ext_len = sizeof(ext)},
	                            .precert = pre,
	                            .precert_len = sizeof(pre),
	                            .chain = fp,
	                            .chain_n = 2};
	uint8_t raw[512];
	long n = ctenc_tile_leaf(raw, sizeof(raw), &l);
	CHECK(n == ctenc_tile_leaf_len(&l) && n == 8 + 2 + 32 + 3 + 5 + 2 + 8 + 3 + 6 + 2 + 64,
	      "precert tile leaf length %ld", n);
	for (long cap = 0; cap < n; cap++)
		CHECK(ctenc_tile_leaf(raw, (size_t)cap, &l) == -ENOSPC, "cap %ld", cap);
	n = ctenc_tile_leaf(raw, sizeof(raw), &l);
	struct ctenc_tile_leaf p;
	const char *why = NULL;
	CHECK(ctenc_tile_leaf_parse(&p, guarded(raw, (size_t)n), (size_t)n, &why) == n &&
	              p.chain_n == 2 && p.precert_len == 6 && p.te_len == 60,
	      "parses: %s", why);
	for (long t = 0; t < n; t++) {
		why = NULL;
		CHECK(ctenc_tile_leaf_parse(&p, guarded(raw, (size_t)t), (size_t)t, &why) ==
		                      -EBADMSG &&
		              why,
		      "truncation %ld", t);
	}
	/* Two leaves back to back: the first parse spans exactly the first. */
	memcpy(raw + n, raw, (size_t)n);
	CHECK(ctenc_tile_leaf_parse(&p, raw, 2 * (size_t)n, &why) == n, "concatenated leaves");
	/* Fingerprint list not a multiple of 32. */
	uint8_t bad[512];
	memcpy(bad, raw, (size_t)n);
	bad[n - 65] = 63;
	CHECK(ctenc_tile_leaf_parse(&p, guarded(bad, (size_t)n - 1), (size_t)n - 1, &why) ==
	                      -EBADMSG &&
	              strstr(why, "fingerprint"),
	      "odd fingerprint list");
	/* Unknown entry type, empty TBS, empty pre_certificate. */
	memcpy(bad, raw, (size_t)n);
	bad[9] = 2;
	CHECK(ctenc_tile_leaf_parse(&p, bad, (size_t)n, &why) == -EBADMSG &&
	              strstr(why, "entry_type"),
	      "entry type 2");
	uint8_t empty[] = {0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	CHECK(ctenc_tile_leaf_parse(&p, guarded(empty, sizeof(empty)), sizeof(empty), &why) ==
	                      -EBADMSG &&
	              strstr(why, "empty"),
	      "empty certificate");
	/* x509 leaves: no pre_certificate; and the encoder refuses one. */
	l.entry.type = CTENC_X509_ENTRY;
	CHECK(ctenc_tile_leaf(raw, sizeof(raw), &l) == -EINVAL, "x509 with pre_certificate");
	l.precert = NULL;
	l.precert_len = 0;
	n = ctenc_tile_leaf(raw, sizeof(raw), &l);
	CHECK(n == 8 + 2 + 3 + 5 + 2 + 8 + 2 + 64, "x509 tile leaf length %ld", n);
	CHECK(ctenc_tile_leaf_parse(&p, guarded(raw, (size_t)n), (size_t)n, &why) == n &&
	              p.precert == NULL && p.entry.type == CTENC_X509_ENTRY,
	      "x509 parses: %s", why);
	l.chain_n = CTENC_CHAIN_MAX + 1;
	CHECK(ctenc_tile_leaf_len(&l) == -EINVAL, "chain too long");
}

static void
entry_encoders_check_ranges_and_room(void)
{
	struct ctenc_entry e = {.timestamp = 1,
	                        .type = CTENC_X509_ENTRY,
	                        .cert = test_cert,
	                        .cert_len = sizeof(test_cert)};
	uint8_t buf[64];
	long n = ctenc_leaf(buf, sizeof(buf), &e);
	CHECK(n == 2 + 8 + 2 + 3 + 5 + 2, "leaf length %ld", n);
	for (long cap = 0; cap < n; cap++) {
		CHECK(ctenc_leaf(buf, (size_t)cap, &e) == -ENOSPC, "leaf cap %ld", cap);
		CHECK(ctenc_sct_signed_data(buf, (size_t)cap, &e) == -ENOSPC, "signed cap %ld",
		      cap);
		if (cap < n - 2)
			CHECK(ctenc_timestamped_entry(buf, (size_t)cap, &e) == -ENOSPC,
			      "te cap %ld", cap);
	}
	uint8_t h[32];
	struct ctenc_entry bad = e;
	bad.type = (enum ctenc_entry_type)2;
	CHECK(ctenc_leaf(buf, sizeof(buf), &bad) == -EINVAL && ctenc_leaf_hash(h, &bad) == -EINVAL,
	      "entry type 2");
	bad = e;
	bad.cert_len = 0;
	CHECK(ctenc_leaf(buf, sizeof(buf), &bad) == -EINVAL, "empty certificate");
	bad.cert_len = CTENC_CERT_MAX + 1;
	CHECK(ctenc_leaf_len(&bad) == -EINVAL, "certificate over 2^24-1");
	bad = e;
	bad.ext_len = CTENC_EXT_MAX + 1;
	bad.ext = test_cert;
	CHECK(ctenc_timestamped_entry_len(&bad) == -EINVAL, "extensions over 2^16-1");
	bad.ext = NULL;
	bad.ext_len = 1;
	CHECK(ctenc_timestamped_entry_len(&bad) == -EINVAL, "extensions NULL");
	/* The leaf parser: version and leaf_type must be 0, no trailing bytes. */
	n = ctenc_leaf(buf, sizeof(buf), &e);
	struct ctenc_entry p;
	const char *why;
	for (long t = 0; t < n; t++)
		CHECK(ctenc_leaf_parse(&p, guarded(buf, (size_t)t), (size_t)t, &why) == -EBADMSG,
		      "leaf truncation %ld", t);
	buf[n] = 0;
	CHECK(ctenc_leaf_parse(&p, buf, (size_t)n + 1, &why) == -EBADMSG, "leaf trailing byte");
	buf[0] = 1;
	CHECK(ctenc_leaf_parse(&p, buf, (size_t)n, &why) == -EBADMSG, "leaf version 1");
	buf[0] = 0;
	buf[1] = 1;
	CHECK(ctenc_leaf_parse(&p, buf, (size_t)n, &why) == -EBADMSG, "leaf_type 1");
	/* extra_data refuses empty and over-long certificates. */
	struct ctenc_cert c[2] = {{test_cert, sizeof(test_cert)}, {test_cert, 0}};
	CHECK(ctenc_extra_data_x509(buf, sizeof(buf), c, 2) == -EINVAL, "empty chain cert");
	CHECK(ctenc_extra_data_x509(buf, sizeof(buf), c, 1) == 3 + 3 + 5, "one chain cert");
	CHECK(ctenc_extra_data_x509(buf, sizeof(buf), NULL, 0) == 3 && buf[2] == 0, "empty chain");
	CHECK(ctenc_extra_data_precert(buf, sizeof(buf), NULL, c, 1) == -EINVAL, "no precert");
	CHECK(ctenc_extra_data_precert(buf, 10, c, c, 1) == -ENOSPC, "precert room");
}

static void
leaf_index_extension_round_trips_and_is_strict(void)
{
	uint8_t b[CTENC_LEAF_INDEX_EXT];
	const uint64_t vals[] = {0, 1, 82000014, CTENC_LEAF_INDEX_MAX};
	for (size_t i = 0; i < 4; i++) {
		uint64_t back = 1;
		const char *why;
		CHECK(ctenc_ext_leaf_index(b, vals[i]) == CTENC_LEAF_INDEX_EXT &&
		              ctenc_ext_leaf_index_parse(&back, b, sizeof(b), &why) == 0 &&
		              back == vals[i],
		      "round trip %llu", (unsigned long long)vals[i]);
	}
	CHECK(ctenc_ext_leaf_index(b, CTENC_LEAF_INDEX_MAX + 1) == -EINVAL, "over 40 bits");
	static const uint8_t navigli[] = {0, 0, 5, 0, 4, 0xe3, 0x38, 0x8e};
	CHECK(ctenc_ext_leaf_index(b, 82000014) == 8 && memcmp(b, navigli, 8) == 0,
	      "navigli encoding");
	struct {
		const uint8_t *p;
		size_t n;
		int rc;
	} cases[] = {
	        {(const uint8_t *)"", 0, -ENOENT},
	        {(const uint8_t *)"\x07\x00\x00", 3, -ENOENT}, /* unknown */
	        {(const uint8_t *)"\x07\x00\x01\xff\x00\x00\x05\x00\x00\x00\x00\x09", 12, 0},
	        {(const uint8_t *)"\x00\x00\x04\x00\x00\x00\x09", 7, -EBADMSG}, /* 4 bytes */
	        {(const uint8_t *)"\x00\x00\x05\x00\x00\x00\x00\x09\x00", 9,
	         -EBADMSG},                                                     /* trailing */
	        {(const uint8_t *)"\x00\x00\x05\x00\x00\x00\x00", 7, -EBADMSG}, /* short */
	        {(const uint8_t
	                  *)"\x00\x00\x05\x00\x00\x00\x00\x09\x00\x00\x05\x00\x00\x00\x00\x09",
	         16, -EBADMSG},                                             /* duplicate */
	        {(const uint8_t *)"\x07\x00\x00\x07\x00\x00", 6, -EBADMSG}, /* duplicate unknown */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 0;
		const char *why = NULL;
		int rc = ctenc_ext_leaf_index_parse(&v, guarded(cases[i].p, cases[i].n), cases[i].n,
		                                    &why);
		CHECK(rc == cases[i].rc && (rc == 0 ? v == 9 : why != NULL), "case %zu: %d", i, rc);
	}
}

static void
checkpoint_body_round_trips_and_is_strict(void)
{
	uint8_t root[32];
	for (int i = 0; i < 32; i++)
		root[i] = (uint8_t)i;
	char out[CTENC_CHECKPOINT_MAX];
	long n = ctenc_checkpoint(out, sizeof(out), "example.com/log", 15, 18446744073709551615ull,
	                          root);
	const char *want = "example.com/log\n18446744073709551615\n"
	                   "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n";
	CHECK(n == (long)strlen(want) && strcmp(out, want) == 0, "encoding: %s", out);
	for (long cap = 0; cap <= n; cap++)
		CHECK(ctenc_checkpoint(out, (size_t)cap, "example.com/log", 15,
		                       18446744073709551615ull, root) == -ENOSPC,
		      "cap %ld", cap);
	struct ctenc_checkpoint c;
	const char *why = NULL;
	CHECK(ctenc_checkpoint_parse(&c, (const char *)guarded(want, strlen(want)), strlen(want),
	                             &why) == 0 &&
	              c.size == UINT64_MAX && c.origin_len == 15 && memcmp(c.root, root, 32) == 0,
	      "parse: %s", why);
	CHECK(ctenc_checkpoint(out, sizeof(out), "a", 1, 0, root) == 49 &&
	              ctenc_checkpoint_parse(&c, out, 49, &why) == 0 && c.size == 0,
	      "size 0");
	const char *origins[] = {"", "a b", "a+b", "a\tb", "caf\xc3\xa9"};
	for (size_t i = 0; i < 5; i++)
		CHECK(ctenc_checkpoint(out, sizeof(out), origins[i], strlen(origins[i]), 1, root) ==
		              -EINVAL,
		      "origin %zu", i);
	const char *bad[] = {
	        "o\n18446744073709551616\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
	        "o\n01\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
	        "o\n\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
	        "o\n-1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
	        "o\n1 \nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
	        "o\n1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n",
	        "o\n1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
	        "o\n1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\next\n",
	        "o\n1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==\n",
	        "o\n1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=\n",
	        "\n1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
	        "o\r\n1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
	        "",
	};
	const char *good = "o\n1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n";
	CHECK(ctenc_checkpoint_parse(&c, good, strlen(good), &why) == 0 && c.size == 1,
	      "control body parses");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		CHECK(ctenc_checkpoint_parse(&c, (const char *)guarded(bad[i], strlen(bad[i])),
		                             strlen(bad[i]), &why) == -EBADMSG &&
		              why,
		      "bad body %zu accepted", i);
	}
}

/* ---- keys, signing and round trips ---- */

static void
fresh_key_signs_sct_sth_and_checkpoint_that_verify_here_and_in_openssl(void)
{
	char *dir = tmpdir_make("ctsig");
	char path[4096];
	snprintf(path, sizeof(path), "%s/log.key", dir);
	const char *why = NULL;
	CHECK(ctsig_keygen(path, &why) == 0, "keygen: %s", why);
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "key file mode %o",
	      st.st_mode & 0777);
	CHECK(ctsig_keygen(path, &why) == -EEXIST, "keygen refuses to overwrite");
	snprintf(path, sizeof(path), "%s/no/such/dir/key", dir);
	CHECK(ctsig_keygen(path, &why) == -ENOENT, "keygen in a missing directory");
	snprintf(path, sizeof(path), "%s/log.key", dir);

	struct ctsig_key *key = NULL;
	CHECK(ctsig_key_load(&key, path, &why) == 0, "load: %s", why);
	if (!key) {
		tmpdir_remove(dir);
		free(dir);
		return;
	}
	size_t spki_len;
	const uint8_t *spki = ctsig_key_spki(key, &spki_len);
	uint8_t h[32];
	SHA256(spki, spki_len, h);
	CHECK(spki_len == CTSIG_P256_SPKI_LEN && memcmp(h, ctsig_key_log_id(key), 32) == 0,
	      "log id is SHA-256 of the SPKI");
	char b64[CTSIG_SPKI_B64_MAX];
	long bl = ctsig_key_spki_b64(b64, sizeof(b64), key);
	size_t dl;
	uint8_t *dec = b64dec(b64, &dl);
	CHECK(bl == 124 && dl == spki_len && memcmp(dec, spki, dl) == 0, "SPKI base64");
	free(dec);
	CHECK(ctsig_key_spki_b64(b64, sizeof(b64) - 1, key) == -ENOSPC, "SPKI base64 room");
	struct ctsig_pub *pub = NULL;
	CHECK(ctsig_pub_from_spki(&pub, spki, spki_len, &why) == 0, "pub: %s", why);
	CHECK(memcmp(ctsig_pub_log_id(pub), ctsig_key_log_id(key), 32) == 0, "pub log id");
	struct ctsig_signer *s = NULL;
	CHECK(ctsig_signer_new(&s, key) == 0, "signer");

	/* SCTs for an x509 and a precert entry, with a leaf_index. */
	uint8_t ext[CTENC_LEAF_INDEX_EXT];
	if (ctenc_ext_leaf_index(ext, 41) < 0)
		check_harness("ext");
	struct ctenc_entry e = {.timestamp = 1700000000123,
	                        .type = CTENC_X509_ENTRY,
	                        .cert = test_cert,
	                        .cert_len = sizeof(test_cert),
	                        .ext = ext,
	                        .ext_len = sizeof(ext)};
	for (int t = 0; t < 2; t++) {
		if (t == 1) {
			e.type = CTENC_PRECERT_ENTRY;
			memset(e.issuer_key_hash, 0x42, 32);
		}
		uint8_t dsig[CTSIG_DSIG_MAX], msg[64];
		long n = ctsig_sct_sign(s, dsig, sizeof(dsig), &e);
		CHECK(n > 8 && n <= CTSIG_DSIG_MAX && dsig[0] == 4 && dsig[1] == 3, "SCT sign %ld",
		      n);
		if (n <= 0)
			continue;
		CHECK(ctsig_sct_verify(pub, &e, dsig, (size_t)n, &why) == 0, "SCT verifies: %s",
		      why);
		long ml = ctenc_sct_signed_data(msg, sizeof(msg), &e);
		CHECK(ossl_verify(spki, spki_len, dsig, (size_t)n, msg, (size_t)ml),
		      "OpenSSL verifies the SCT signature");
		struct ctenc_sct sct = {.timestamp = e.timestamp,
		                        .ext = ext,
		                        .ext_len = sizeof(ext),
		                        .dsig = dsig,
		                        .dsig_len = (size_t)n};
		memcpy(sct.log_id, ctsig_key_log_id(key), 32);
		uint8_t raw[256];
		long rl = ctenc_sct(raw, sizeof(raw), &sct);
		struct ctenc_sct back;
		CHECK(rl > 0 && ctenc_sct_parse(&back, raw, (size_t)rl, &why) == 0 &&
		              ctsig_sct_verify_tls(pub, &back, &e, &why) == 0,
		      "TLS SCT round trip: %s", why);
		struct ctenc_entry other = e;
		other.ext_len = 0;
		CHECK(ctsig_sct_verify(pub, &other, dsig, (size_t)n, &why) == -EBADMSG,
		      "without extension fails");
		for (long i = 0; i < n; i++) {
			dsig[i] ^= 0x10;
			CHECK(ctsig_sct_verify(pub, &e, dsig, (size_t)n, &why) != 0,
			      "flip in byte %ld accepted", i);
			dsig[i] ^= 0x10;
		}
		CHECK(ctsig_sct_sign(s, dsig, CTSIG_DSIG_MAX - 1, &e) == -ENOSPC, "sign room");
	}

	/* STH and checkpoint. */
	uint8_t root[32];
	SHA256((const uint8_t *)"root", 4, root);
	uint8_t dsig[CTSIG_DSIG_MAX], sd[CTENC_STH_SIGNED_LEN];
	long n = ctsig_sth_sign(s, dsig, sizeof(dsig), 1700000000999, 12345, root);
	CHECK(n > 8 &&
	              ctsig_sth_verify(pub, 1700000000999, 12345, root, dsig, (size_t)n, &why) == 0,
	      "STH round trip: %s", why);
	ctenc_sth_signed_data(sd, 1700000000999, 12345, root);
	CHECK(ossl_verify(spki, spki_len, dsig, (size_t)n, sd, sizeof(sd)),
	      "OpenSSL verifies the STH signature");
	CHECK(ctsig_sth_verify(pub, 1700000000998, 12345, root, dsig, (size_t)n, &why) == -EBADMSG,
	      "STH other timestamp");

	char note[CTSIG_CHECKPOINT_MAX];
	const char *origin = "birch.example/2026h1";
	long nl = ctsig_checkpoint_sign(s, note, sizeof(note), origin, strlen(origin),
	                                1700000000999, 12345, root);
	CHECK(nl > 0 && (size_t)nl == strlen(note), "checkpoint sign %ld", nl);
	struct ctsig_checkpoint cp;
	CHECK(ctsig_checkpoint_verify(&cp, pub, origin, strlen(origin), note, (size_t)nl, &why) ==
	                      0 &&
	              cp.body.size == 12345 && cp.timestamp == 1700000000999 &&
	              memcmp(cp.body.root, root, 32) == 0,
	      "checkpoint round trip: %s", why);
	/* Independently: the signature line carries key ID || timestamp || DigitallySigned,
	 * and the DigitallySigned verifies in OpenSSL over the STH input. */
	const char *b = strrchr(note, ' ') + 1;
	char line[256];
	snprintf(line, sizeof(line), "%.*s", (int)(note + nl - 1 - b), b);
	size_t sl;
	uint8_t *sig = b64dec(line, &sl);
	uint8_t kid_in[64];
	memcpy(kid_in, origin, strlen(origin));
	kid_in[strlen(origin)] = '\n';
	kid_in[strlen(origin) + 1] = 0x05;
	memcpy(kid_in + strlen(origin) + 2, ctsig_key_log_id(key), 32);
	SHA256(kid_in, strlen(origin) + 34, h);
	CHECK(sl > 12 && memcmp(sig, h, 4) == 0 && be(sig + 4, 8) == 1700000000999 &&
	              ossl_verify(spki, spki_len, sig + 12, sl - 12, sd, sizeof(sd)),
	      "checkpoint signature checked with OpenSSL");
	free(sig);
	CHECK(ctsig_checkpoint_sign(s, note, sizeof(note), "bad origin", 10, 1, 1, root) == -EINVAL,
	      "checkpoint origin with a space");
	/* Room is that of the longest signature (72-byte DER), whatever this one's length. */
	size_t most = (size_t)(strstr(note, "\n\n") - note) + 2 + 4 + strlen(origin) + 1 +
	              B64_ENCODED_LEN(4 + 8 + CTSIG_DSIG_MAX) + 1 + 1;
	CHECK(ctsig_checkpoint_sign(s, note, most - 1, origin, strlen(origin), 1700000000999, 12345,
	                            root) == -ENOSPC,
	      "checkpoint room");
	CHECK(ctsig_checkpoint_sign(s, note, most, origin, strlen(origin), 1700000000999, 12345,
	                            root) > 0,
	      "checkpoint with exactly the room");

	ctsig_signer_free(s);
	ctsig_pub_free(pub);
	ctsig_key_free(key);
	tmpdir_remove(dir);
	free(dir);
}

static void
key_loading_accepts_p256_only(void)
{
	const char *why = NULL;
	struct ctsig_key *k = NULL;
	EVP_PKEY *keys[3] = {EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048),
	                     EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384"),
	                     EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024)};
	for (int i = 0; i < 3; i++) {
		if (!keys[i])
			check_harness("keygen");
		BIO *m = BIO_new(BIO_s_mem());
		PEM_write_bio_PrivateKey(m, keys[i], NULL, NULL, 0, NULL, NULL);
		char *pem;
		long pl = BIO_get_mem_data(m, &pem);
		why = NULL;
		CHECK(ctsig_key_from_pem(&k, pem, (size_t)pl, &why) == -EINVAL && k == NULL && why,
		      "private key %d refused", i);
		BIO_free(m);
		uint8_t *der = NULL;
		int dl = i2d_PUBKEY(keys[i], &der);
		struct ctsig_pub *p = NULL;
		int rc = ctsig_pub_from_spki(&p, der, (size_t)dl, &why);
		CHECK(i == 0 ? rc == 0 : rc == -EINVAL, "public key %d: %d", i, rc);
		ctsig_pub_free(p);
		OPENSSL_free(der);
		EVP_PKEY_free(keys[i]);
	}
	/* An encrypted key is refused, without prompting for a passphrase. */
	EVP_PKEY *ec = EVP_EC_gen("P-256");
	BIO *m = BIO_new(BIO_s_mem());
	if (!ec || !m ||
	    PEM_write_bio_PrivateKey(m, ec, EVP_aes_128_cbc(), (unsigned char *)"secret", 6, NULL,
	                             NULL) != 1)
		check_harness("encrypted PEM");
	char *pem;
	long pl = BIO_get_mem_data(m, &pem);
	why = NULL;
	CHECK(ctsig_key_from_pem(&k, pem, (size_t)pl, &why) == -EINVAL && k == NULL,
	      "encrypted key refused: %s", why);
	BIO_free(m);
	EVP_PKEY_free(ec);
	CHECK(ctsig_key_from_pem(&k, "junk", 4, &why) == -EINVAL, "junk PEM");
	struct ctsig_pub *p = NULL;
	CHECK(ctsig_pub_from_spki(&p, (const uint8_t *)"\x30\x00", 2, &why) == -EINVAL,
	      "junk SPKI");
	CHECK(ctsig_pub_from_pem(&p, "junk", 4, &why) == -EINVAL, "junk public PEM");
	CHECK(ctsig_key_load(&k, "/nonexistent/birch.key", &why) == -ENOENT, "missing key file");
}

/* The C++ test log's private key (an "EC PARAMETERS" block, then "EC PRIVATE KEY") loads
 * with the published LogID and signs what its public key verifies. */
static void
cpp_test_log_private_key_signs_under_its_log_id(void)
{
	size_t n;
	char *pem = vfile(CPP "ct-server-key.pem", &n);
	struct ctsig_key *k = NULL;
	const char *why = NULL;
	CHECK(ctsig_key_from_pem(&k, pem, n, &why) == 0, "load: %s", why);
	free(pem);
	if (!k)
		return;
	uint8_t id[32];
	unhex32(id, "df1c2ec11500945247a96168325ddc5c7959e8f7c6d388fc002e0bbd3f74d764");
	CHECK_MEM(ctsig_key_log_id(k), id, 32, "LogID");
	char b64[CTSIG_SPKI_B64_MAX];
	CHECK(ctsig_key_spki_b64(b64, sizeof(b64), k) > 0, "spki b64");
	struct ctsig_pub *pub = pub_pem(CPP "ct-server-key-public.pem");
	struct ctsig_signer *s = NULL;
	CHECK(ctsig_signer_new(&s, k) == 0, "signer");
	uint8_t d[CTSIG_DSIG_MAX];
	long l = ctsig_sign(s, d, sizeof(d), (const uint8_t *)"hello", 5);
	CHECK(l > 0 && ctsig_verify(pub, d, (size_t)l, (const uint8_t *)"hello", 5, &why) == 0,
	      "sign/verify: %s", why);
	ctsig_signer_free(s);
	ctsig_pub_free(pub);
	ctsig_key_free(k);
}

/* ---- the hot-path promise: signing adds no allocation to OpenSSL's own ECDSA ---- */

static int counting;

static void
signing_allocates_no_more_than_raw_evp_pkey_sign(void)
{
	if (!counting) {
		printf("     (OpenSSL allocation counting unavailable; case not run)\n");
		return;
	}
	EVP_PKEY *pk = EVP_EC_gen("P-256");
	BIO *m = BIO_new(BIO_s_mem());
	if (!pk || !m || PEM_write_bio_PrivateKey(m, pk, NULL, NULL, 0, NULL, NULL) != 1)
		check_harness("key");
	char *pem;
	long pl = BIO_get_mem_data(m, &pem);
	struct ctsig_key *key = NULL;
	struct ctsig_signer *s = NULL;
	const char *why = NULL;
	if (ctsig_key_from_pem(&key, pem, (size_t)pl, &why) != 0 || ctsig_signer_new(&s, key) != 0)
		check_harness("ctsig key");
	EVP_PKEY_CTX *raw = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
	if (!raw || EVP_PKEY_sign_init(raw) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(raw, EVP_sha256()) != 1)
		check_harness("raw ctx");
	uint8_t d[32] = {1}, sig[CTSIG_DSIG_MAX], root[32] = {2};
	struct ctenc_entry e = {.timestamp = 1,
	                        .type = CTENC_X509_ENTRY,
	                        .cert = test_cert,
	                        .cert_len = sizeof(test_cert)};
	unsigned long a, n_raw, n_sth, n_sct;
	bool ok = true;
	for (int warm = 0; warm < 2; warm++) {
		a = osslcount_allocs;
		for (int i = 0; i < 32; i++) {
			size_t sl = CTSIG_ECDSA_DER_MAX;
			ok &= EVP_PKEY_sign(raw, sig, &sl, d, 32) == 1;
		}
		n_raw = osslcount_allocs - a;
		a = osslcount_allocs;
		for (int i = 0; i < 32; i++)
			ok &= ctsig_sth_sign(s, sig, sizeof(sig), (uint64_t)i, 5, root) > 0;
		n_sth = osslcount_allocs - a;
		a = osslcount_allocs;
		for (int i = 0; i < 32; i++)
			ok &= ctsig_sct_sign(s, sig, sizeof(sig), &e) > 0;
		n_sct = osslcount_allocs - a;
	}
	CHECK(ok, "signing failed");
	/* A rare nonce retry inside ECDSA may allocate a little more; allow 2 per 32. */
	CHECK(n_sth <= n_raw + 2 && n_sct <= n_raw + 2,
	      "allocations per 32 signatures: raw %lu, STH %lu, SCT %lu", n_raw, n_sth, n_sct);
	EVP_PKEY_CTX_free(raw);
	ctsig_signer_free(s);
	ctsig_key_free(key);
	BIO_free(m);
	EVP_PKEY_free(pk);
}

int
main(void)
{
	/* Before any other OpenSSL call, or OpenSSL refuses. */
	counting = osslcount_install();
	RUN(entry_encoders_check_ranges_and_room);
	RUN(sct_parse_refuses_truncation_trailing_bytes_and_v2);
	RUN(tile_leaf_parse_refuses_malformed_leaves);
	RUN(leaf_index_extension_round_trips_and_is_strict);
	RUN(checkpoint_body_round_trips_and_is_strict);
	RUN(fresh_key_signs_sct_sth_and_checkpoint_that_verify_here_and_in_openssl);
	RUN(key_loading_accepts_p256_only);
	RUN(signing_allocates_no_more_than_raw_evp_pkey_sign);
	if (!getenv("BIRCH_VECTORS")) {
		if (check_failures)
			return check_done();
		check_skip("BIRCH_VECTORS unset: the known-answer cases did not run");
	}
	RUN(cpp_scts_signed_data_leaves_and_signatures_match);
	RUN(cpp_invalid_embedded_sct_fails);
	RUN(cpp_test_log_private_key_signs_under_its_log_id);
	RUN(ctgo_signature_vectors_match_and_verify);
	RUN(argon2018_leaf_input_and_extra_data_reencode);
	RUN(static_ct_checkpoints_verify_and_key_ids_recompute);
	RUN(checkpoint_note_negative_cases_fail_with_reasons);
	RUN(navigli_data_tiles_parse_reencode_and_hash_to_level0);
	RUN(navigli_embedded_sct_with_leaf_index_verifies_only_with_it);
	return check_done();
}
