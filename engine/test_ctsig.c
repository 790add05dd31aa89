/* engine/test_ctsig.c: deterministic ECDSA P-256 signing (RFC 6979, HMAC-SHA-256) in ctsig.
 *
 * Known answers from RFC 6979 appendix A.2.5 (k, r and s for "sample" and "test"); the nonce
 * against an independent RFC 6979 written here on OpenSSL's HMAC() and bignums; determinism
 * across signers and key loads; every signature checked by OpenSSL's verifier and its DER
 * re-encoded by OpenSSL byte for byte; and no allocation while signing. Keys are made from
 * scalars as SEC 1 PEMs without a public key, so OpenSSL derives the public key itself.
 * Random inputs come from a fixed-seed generator, so every run signs the same things.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/rand.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "engine/b64.h"
#include "engine/ctenc.h"
#include "engine/ctsig.h"
#include "engine/ctsig_int.h"
#include "tests/lib/check.h"
#include "tests/lib/osslcount.h"

#define SCALAR CTSIG_P256_SCALAR_LEN

/* The P-256 group order q, big-endian. */
static const char q_hex[] = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";

/* ---- helpers ---- */

static void
unhex(uint8_t *out, size_t len, const char *hex)
{
	if (strlen(hex) != 2 * len)
		check_harness("unhex: wrong length");
	for (size_t i = 0; i < 2 * len; i++) {
		char c = hex[i];
		int v = c >= '0' && c <= '9'   ? c - '0'
		        : c >= 'a' && c <= 'f' ? c - 'a' + 10
		        : c >= 'A' && c <= 'F' ? c - 'A' + 10
		                               : -1;
		if (v < 0)
			check_harness("unhex: not hex");
		out[i / 2] = (uint8_t)(i % 2 ? out[i / 2] | v : v << 4);
	}
}

/* splitmix64: a fixed-seed source for keys and messages. */
static uint64_t rng_state = 0x6269726368637473; /* "birchcts" */

static uint64_t
rng64(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
	return z ^ (z >> 31);
}

static void
rng_bytes(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(rng64() >> 56);
}

/* A scalar in [1, q-1]. */
static void
rng_scalar(uint8_t d[SCALAR])
{
	uint8_t q[SCALAR];
	unhex(q, SCALAR, q_hex);
	for (int tries = 0; tries < 100; tries++) {
		rng_bytes(d, SCALAR);
		bool zero = true;
		for (size_t i = 0; i < SCALAR; i++)
			zero &= d[i] == 0;
		if (!zero && memcmp(d, q, SCALAR) < 0)
			return;
	}
	check_harness("rng_scalar");
}

/* A SEC 1 "EC PRIVATE KEY" PEM for scalar d on prime256v1, without the optional public key. */
static size_t
sec1_pem(char *out, size_t cap, const uint8_t d[SCALAR])
{
	static const uint8_t head[] = {0x30, 0x31, 0x02, 0x01, 0x01, 0x04, 0x20};
	static const uint8_t tail[] = {0xa0, 0x0a, 0x06, 0x08, 0x2a, 0x86,
	                               0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
	uint8_t der[sizeof(head) + SCALAR + sizeof(tail)];
	memcpy(der, head, sizeof(head));
	memcpy(der + sizeof(head), d, SCALAR);
	memcpy(der + sizeof(head) + SCALAR, tail, sizeof(tail));
	char b64[B64_ENCODED_LEN(sizeof(der)) + 1];
	size_t n = b64_encode(b64, der, sizeof(der));
	int w = snprintf(
	        out, cap,
	        "-----BEGIN EC PRIVATE KEY-----\n%.64s\n%s\n-----END EC PRIVATE KEY-----\n", b64,
	        b64 + 64);
	if (n <= 64 || w < 0 || (size_t)w >= cap)
		check_harness("sec1_pem");
	return (size_t)w;
}

static struct ctsig_key *
key_from_scalar(const uint8_t d[SCALAR])
{
	char pem[256];
	size_t n = sec1_pem(pem, sizeof(pem), d);
	struct ctsig_key *k = NULL;
	const char *why = NULL;
	if (ctsig_key_from_pem(&k, pem, n, &why) != 0)
		check_harness(why ? why : "ctsig_key_from_pem");
	return k;
}

static struct ctsig_signer *
signer(const struct ctsig_key *k)
{
	struct ctsig_signer *s = NULL;
	if (ctsig_signer_new(&s, k) != 0)
		check_harness("ctsig_signer_new");
	return s;
}

static EVP_PKEY *
openssl_pub(const struct ctsig_key *k)
{
	size_t len;
	const uint8_t *p = ctsig_key_spki(k, &len);
	EVP_PKEY *pk = d2i_PUBKEY(NULL, &p, (long)len);
	if (pk == NULL)
		check_harness("d2i_PUBKEY");
	return pk;
}

/* OpenSSL's verdict on a DigitallySigned over msg (SHA-256, ECDSA). */
static bool
openssl_verifies(EVP_PKEY *pk, const uint8_t *dsig, size_t n, const uint8_t *msg, size_t len)
{
	if (n < 4 || dsig[0] != 4 || dsig[1] != 3 || (size_t)(dsig[2] << 8 | dsig[3]) != n - 4)
		return false;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	bool ok = c && EVP_DigestVerifyInit(c, NULL, EVP_sha256(), NULL, pk) == 1 &&
	          EVP_DigestVerify(c, dsig + 4, n - 4, msg, len) == 1;
	EVP_MD_CTX_free(c);
	return ok;
}

/* The same over a digest as given. */
static bool
openssl_verifies_digest(EVP_PKEY *pk, const uint8_t *dsig, size_t n, const uint8_t d[32])
{
	if (n < 4)
		return false;
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
	bool ok = c && EVP_PKEY_verify_init(c) == 1 &&
	          EVP_PKEY_verify(c, dsig + 4, n - 4, d, 32) == 1;
	EVP_PKEY_CTX_free(c);
	return ok;
}

/* Splits the DER Ecdsa-Sig-Value of a DigitallySigned into 32-byte r and s, with OpenSSL's
 * parser, and checks that OpenSSL re-encodes it to the same bytes (so it is strict DER). */
static bool
split_sig(uint8_t r[32], uint8_t s[32], const uint8_t *dsig, size_t n)
{
	if (n < 4)
		return false;
	const uint8_t *p = dsig + 4;
	ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)(n - 4));
	if (sig == NULL)
		return false;
	bool ok = p == dsig + n;
	const BIGNUM *br, *bs;
	ECDSA_SIG_get0(sig, &br, &bs);
	ok = ok && BN_bn2binpad(br, r, 32) == 32 && BN_bn2binpad(bs, s, 32) == 32;
	uint8_t *again = NULL;
	int m = i2d_ECDSA_SIG(sig, &again);
	ok = ok && m > 0 && (size_t)m == n - 4 && memcmp(again, dsig + 4, n - 4) == 0;
	OPENSSL_free(again);
	ECDSA_SIG_free(sig);
	return ok;
}

/* out = HMAC-SHA-256(key, msg) by OpenSSL; out may overlap key or msg. */
static void
ref_hmac(uint8_t out[32], const uint8_t key[32], const uint8_t *msg, size_t len)
{
	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (HMAC(EVP_sha256(), key, 32, msg, len, mac, &n) == NULL || n != 32)
		check_harness("HMAC");
	memcpy(out, mac, 32);
}

/* RFC 6979 section 3.2 again, straight from the text, on OpenSSL's HMAC() and bignums: the
 * reference for ctsig_rfc6979_nonce. Returns false when d is out of range. */
static bool
ref_nonce(uint8_t k[32], const uint8_t x[32], const uint8_t h1[32])
{
	BN_CTX *ctx = BN_CTX_new();
	BIGNUM *q = NULL, *h = BN_bin2bn(h1, 32, NULL), *xb = BN_bin2bn(x, 32, NULL),
	       *kb = BN_new();
	if (!ctx || !h || !xb || !kb || !BN_hex2bn(&q, q_hex))
		check_harness("ref_nonce: bignums");
	bool ok = !BN_is_zero(xb) && BN_cmp(xb, q) < 0;
	uint8_t V[32], K[32], m[32 + 1 + 32 + 32], ho[32];
	/* bits2octets(h1) = int2octets(bits2int(h1) mod q); qlen = 256, so bits2int(h1) = h1. */
	if (!BN_mod(h, h, q, ctx) || BN_bn2binpad(h, ho, 32) != 32)
		check_harness("ref_nonce: bits2octets");
	memset(V, 0x01, 32);                         /* b */
	memset(K, 0x00, 32);                         /* c */
	for (int step = 0; ok && step < 2; step++) { /* d, e, then f, g */
		memcpy(m, V, 32);
		m[32] = (uint8_t)step;
		memcpy(m + 33, x, 32);
		memcpy(m + 65, ho, 32);
		ref_hmac(K, K, m, sizeof(m));
		ref_hmac(V, K, V, 32);
	}
	for (int tries = 0; ok && tries < 64; tries++) { /* h */
		ref_hmac(V, K, V, 32);
		if (!BN_bin2bn(V, 32, kb))
			check_harness("ref_nonce: bits2int");
		if (!BN_is_zero(kb) && BN_cmp(kb, q) < 0) {
			memcpy(k, V, 32);
			break;
		}
		memcpy(m, V, 32);
		m[32] = 0x00;
		ref_hmac(K, K, m, 33);
		ref_hmac(V, K, V, 32);
	}
	BN_free(q), BN_free(h), BN_free(xb), BN_free(kb);
	BN_CTX_free(ctx);
	return ok;
}

/* ---- cases ---- */

static void
rfc6979_p256_sha256_known_answers(void)
{
	/* RFC 6979 appendix A.2.5: ECDSA, 256 bits (prime field), NIST P-256, with SHA-256. */
	static const char x_hex[] =
	        "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721";
	static const char ux_hex[] =
	        "60fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6";
	static const char uy_hex[] =
	        "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299";
	static const struct {
		const char *msg, *k, *r, *s;
	} v[] = {
	        {"sample", "a6e3c57dd01abe90086538398355dd4c3b17aa873382b0f24d6129493d8aad60",
	         "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716",
	         "f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8"},
	        {"test", "d16b6ae827f17175e040871a1c7ec3500192c4c92677336ec2537acaee0008e0",
	         "f1abb023518351cd71d881567b1ea663ed3efcf6c5132b354f28d3b0b7d38367",
	         "019f4113742a2b14bd25926b49c649155f267e60d3814b4c0cc84250e46f0083"},
	};
	uint8_t x[32], u[64];
	unhex(x, 32, x_hex);
	unhex(u, 32, ux_hex);
	unhex(u + 32, 32, uy_hex);
	struct ctsig_key *key = key_from_scalar(x);
	size_t spki_len;
	const uint8_t *spki = ctsig_key_spki(key, &spki_len);
	/* OpenSSL derived U = xG from the scalar alone: the RFC's U means x was copied right. */
	CHECK(spki_len == CTSIG_P256_SPKI_LEN && spki[26] == 0x04 && memcmp(spki + 27, u, 64) == 0,
	      "public key of the RFC scalar is the RFC's U");
	struct ctsig_signer *s = signer(key);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint8_t h1[32], k[32], want_k[32], want_r[32], want_s[32], r[32], sv[32];
		uint8_t dsig[CTSIG_DSIG_MAX];
		unhex(want_k, 32, v[i].k);
		unhex(want_r, 32, v[i].r);
		unhex(want_s, 32, v[i].s);
		SHA256((const uint8_t *)v[i].msg, strlen(v[i].msg), h1);
		CHECK(ctsig_rfc6979_nonce(k, x, h1) == 0, "%s: nonce", v[i].msg);
		CHECK_MEM(k, want_k, 32, "%s: k is the RFC's", v[i].msg);
		long n = ctsig_sign(s, dsig, sizeof(dsig), (const uint8_t *)v[i].msg,
		                    strlen(v[i].msg));
		CHECK(n > 4 && dsig[0] == CTENC_HASH_SHA256 && dsig[1] == CTENC_SIG_ECDSA &&
		              (size_t)(dsig[2] << 8 | dsig[3]) == (size_t)n - 4,
		      "%s: DigitallySigned header (%ld)", v[i].msg, n);
		CHECK(n > 4 && split_sig(r, sv, dsig, (size_t)n), "%s: strict DER", v[i].msg);
		CHECK_MEM(r, want_r, 32, "%s: r is the RFC's", v[i].msg);
		CHECK_MEM(sv, want_s, 32, "%s: s is the RFC's", v[i].msg);
		/* The digest entry point is the same signature. */
		uint8_t d2[CTSIG_DSIG_MAX];
		long n2 = ctsig_sign_digest(s, d2, sizeof(d2), h1);
		CHECK(n2 == n && n > 0 && memcmp(d2, dsig, (size_t)n) == 0,
		      "%s: ctsig_sign_digest agrees", v[i].msg);
	}
	ctsig_signer_free(s);
	ctsig_key_free(key);
}

static void
nonce_matches_an_independent_rfc6979(void)
{
	uint8_t q[32], x[32], h1[32], k[32], want[32];
	unhex(q, 32, q_hex);
	for (int i = 0; i < 200; i++) {
		rng_scalar(x);
		rng_bytes(h1, 32);
		switch (i) { /* edges of both inputs; h1 >= q takes the reduction in bits2octets */
		case 0:
			memset(x, 0, 32), x[31] = 1;
			break;
		case 1:
			memcpy(x, q, 32), x[31] -= 1;
			break;
		case 2:
			memset(h1, 0xff, 32);
			break;
		case 3:
			memcpy(h1, q, 32);
			break;
		case 4:
			memcpy(h1, q, 32), h1[31] -= 1;
			break;
		case 5:
			memcpy(h1, q, 32), h1[31] += 1;
			break;
		case 6:
			memset(h1, 0, 32);
			break;
		}
		if (!ref_nonce(want, x, h1))
			check_harness("reference nonce");
		CHECK(ctsig_rfc6979_nonce(k, x, h1) == 0 && memcmp(k, want, 32) == 0,
		      "case %d: nonce differs from the reference", i);
	}
	/* Scalars outside [1, q-1] are refused, and k is zeroed. */
	uint8_t bad[3][32];
	memset(bad[0], 0, 32);
	memcpy(bad[1], q, 32);
	memset(bad[2], 0xff, 32);
	for (int i = 0; i < 3; i++) {
		memset(k, 0xaa, 32);
		uint8_t zero[32] = {0};
		CHECK(ctsig_rfc6979_nonce(k, bad[i], h1) == -EINVAL && memcmp(k, zero, 32) == 0,
		      "bad scalar %d refused", i);
	}
}

static void
same_message_same_signature(void)
{
	uint8_t d[32];
	rng_scalar(d);
	struct ctsig_key *k1 = key_from_scalar(d), *k2 = key_from_scalar(d); /* a restart */
	struct ctsig_signer *a = signer(k1), *b = signer(k1), *c = signer(k2);
	for (int i = 0; i < 20; i++) {
		uint8_t msg[300], sa[CTSIG_DSIG_MAX], sb[CTSIG_DSIG_MAX], sc[CTSIG_DSIG_MAX];
		size_t len = (size_t)(rng64() % sizeof(msg));
		rng_bytes(msg, len);
		long na = ctsig_sign(a, sa, sizeof(sa), msg, len);
		long na2 = ctsig_sign(a, sb, sizeof(sb), msg, len);
		CHECK(na > 0 && na2 == na && memcmp(sa, sb, (size_t)na) == 0,
		      "message %d: the same signer signs twice alike", i);
		long nb = ctsig_sign(b, sb, sizeof(sb), msg, len);
		long nc = ctsig_sign(c, sc, sizeof(sc), msg, len);
		CHECK(nb == na && na > 0 && memcmp(sa, sb, (size_t)na) == 0,
		      "message %d: a second signer signs alike", i);
		CHECK(nc == na && na > 0 && memcmp(sa, sc, (size_t)na) == 0,
		      "message %d: a signer of the key loaded again signs alike", i);
	}
	/* Tree heads and checkpoints too. */
	uint8_t root[32], ha[CTSIG_DSIG_MAX], hc[CTSIG_DSIG_MAX];
	rng_bytes(root, 32);
	long na = ctsig_sth_sign(a, ha, sizeof(ha), 1767225600000, 12345, root);
	long nc = ctsig_sth_sign(c, hc, sizeof(hc), 1767225600000, 12345, root);
	CHECK(na > 0 && na == nc && memcmp(ha, hc, (size_t)na) == 0, "STH signatures alike");
	static const char origin[] = "log.example/birch";
	char ca[CTSIG_CHECKPOINT_MAX], cc[CTSIG_CHECKPOINT_MAX];
	na = ctsig_checkpoint_sign(a, ca, sizeof(ca), origin, strlen(origin), 1767225600000, 12345,
	                           root);
	nc = ctsig_checkpoint_sign(c, cc, sizeof(cc), origin, strlen(origin), 1767225600000, 12345,
	                           root);
	CHECK(na > 0 && na == nc && strcmp(ca, cc) == 0, "checkpoints alike");
	ctsig_signer_free(a), ctsig_signer_free(b), ctsig_signer_free(c);
	ctsig_key_free(k1), ctsig_key_free(k2);
}

static void
different_message_different_signature(void)
{
	enum { N = 64 };
	uint8_t d[32];
	rng_scalar(d);
	struct ctsig_key *key = key_from_scalar(d);
	struct ctsig_signer *s = signer(key);
	static uint8_t sig[N][CTSIG_DSIG_MAX];
	long len[N];
	uint8_t msg[64];
	rng_bytes(msg, sizeof(msg));
	for (int i = 0; i < N; i++) {
		if (i > 0) /* each message one bit away from the one before */
			msg[(i / 8) % sizeof(msg)] ^= (uint8_t)(1u << (i % 8));
		len[i] = ctsig_sign(s, sig[i], sizeof(sig[i]), msg, sizeof(msg));
		CHECK(len[i] > 0, "message %d signed", i);
	}
	/* Distinct signatures, and distinct r: a fresh nonce for every message. */
	int same = 0, same_r = 0;
	for (int i = 0; i < N; i++) {
		for (int j = i + 1; j < N; j++) {
			uint8_t ri[32], si[32], rj[32], sj[32];
			same += len[i] == len[j] && memcmp(sig[i], sig[j], (size_t)len[i]) == 0;
			if (split_sig(ri, si, sig[i], (size_t)len[i]) &&
			    split_sig(rj, sj, sig[j], (size_t)len[j]))
				same_r += memcmp(ri, rj, 32) == 0;
		}
	}
	CHECK(same == 0 && same_r == 0, "%d equal signatures, %d equal r among %d messages", same,
	      same_r, N);
	/* The same message under another key: another signature. */
	uint8_t d2[32], other[CTSIG_DSIG_MAX];
	rng_scalar(d2);
	struct ctsig_key *key2 = key_from_scalar(d2);
	struct ctsig_signer *s2 = signer(key2);
	long n2 = ctsig_sign(s2, other, sizeof(other), msg, sizeof(msg));
	CHECK(n2 > 0 && (n2 != len[N - 1] || memcmp(other, sig[N - 1], (size_t)n2) != 0),
	      "another key signs differently");
	ctsig_signer_free(s2), ctsig_key_free(key2);
	ctsig_signer_free(s), ctsig_key_free(key);
}

static void
signatures_verify_with_openssl(void)
{
	enum { KEYS = 4, PER_KEY = 500 };
	unsigned short_r = 0, short_s = 0, pad_r = 0;
	for (int kn = 0; kn < KEYS; kn++) {
		uint8_t d[32];
		rng_scalar(d);
		struct ctsig_key *key = key_from_scalar(d);
		struct ctsig_signer *s = signer(key);
		EVP_PKEY *pk = openssl_pub(key);
		for (int i = 0; i < PER_KEY; i++) {
			uint8_t msg[512], dsig[CTSIG_DSIG_MAX], r[32], sv[32];
			size_t len = (size_t)(rng64() % sizeof(msg));
			rng_bytes(msg, len);
			long n = ctsig_sign(s, dsig, sizeof(dsig), msg, len);
			CHECK(n > 8 && n <= CTSIG_DSIG_MAX, "key %d message %d: length %ld", kn, i,
			      n);
			if (n <= 8)
				continue;
			CHECK(openssl_verifies(pk, dsig, (size_t)n, msg, len),
			      "key %d message %d: OpenSSL verifies", kn, i);
			CHECK(split_sig(r, sv, dsig, (size_t)n), "key %d message %d: strict DER",
			      kn, i);
			short_r += r[0] == 0, short_s += sv[0] == 0, pad_r += r[0] >= 0x80;
			/* One flipped bit and it no longer verifies. */
			dsig[4 + (size_t)(rng64() % (uint64_t)(n - 4))] ^= 0x10;
			CHECK(!openssl_verifies(pk, dsig, (size_t)n, msg, len),
			      "key %d message %d: a flipped bit fails", kn, i);
		}
		/* Digests at the edges: 0, q - 1, q, q + 1, 2^256 - 1 (h >= q is reduced). */
		uint8_t edge[5][32];
		memset(edge[0], 0, 32);
		for (int e = 1; e <= 3; e++) {
			unhex(edge[e], 32, q_hex);
			edge[e][31] = (uint8_t)(edge[e][31] + e - 2);
		}
		memset(edge[4], 0xff, 32);
		for (int e = 0; e < 5; e++) {
			uint8_t dsig[CTSIG_DSIG_MAX];
			long n = ctsig_sign_digest(s, dsig, sizeof(dsig), edge[e]);
			CHECK(n > 0 && openssl_verifies_digest(pk, dsig, (size_t)n, edge[e]),
			      "key %d edge digest %d: OpenSSL verifies", kn, e);
		}
		EVP_PKEY_free(pk);
		ctsig_signer_free(s);
		ctsig_key_free(key);
	}
	/* 2000 signatures: both DER paddings happen (about half of r have the top bit set). */
	CHECK(pad_r > 0, "no r needed a 0x00 pad (%u short r, %u short s)", short_r, short_s);
}

static void
sct_signature_is_a_function_of_the_entry(void)
{
	uint8_t d[32], cert[700], ext[CTENC_LEAF_INDEX_EXT];
	rng_scalar(d);
	rng_bytes(cert, sizeof(cert));
	if (ctenc_ext_leaf_index(ext, 4242) < 0)
		check_harness("leaf_index extension");
	struct ctsig_key *k1 = key_from_scalar(d), *k2 = key_from_scalar(d);
	struct ctsig_signer *a = signer(k1), *b = signer(k2);
	struct ctsig_pub *pub = NULL;
	size_t spki_len;
	const uint8_t *spki = ctsig_key_spki(k1, &spki_len);
	const char *why = NULL;
	if (ctsig_pub_from_spki(&pub, spki, spki_len, &why) != 0)
		check_harness("ctsig_pub_from_spki");
	struct ctenc_entry e = {.timestamp = 1767225600123,
	                        .type = CTENC_X509_ENTRY,
	                        .cert = cert,
	                        .cert_len = sizeof(cert),
	                        .ext = ext,
	                        .ext_len = sizeof(ext)};
	for (int t = 0; t < 2; t++) {
		if (t == 1) {
			e.type = CTENC_PRECERT_ENTRY;
			rng_bytes(e.issuer_key_hash, sizeof(e.issuer_key_hash));
		}
		uint8_t sa[CTSIG_DSIG_MAX], sb[CTSIG_DSIG_MAX], sc[CTSIG_DSIG_MAX];
		long na = ctsig_sct_sign(a, sa, sizeof(sa), &e);
		/* A rebuild from the stored entry: another signer, another key object, a copy. */
		struct ctenc_entry again = e;
		long nb = ctsig_sct_sign(b, sb, sizeof(sb), &again);
		CHECK(na > 0 && nb == na && memcmp(sa, sb, (size_t)na) == 0,
		      "type %d: the same SCT signature from the same entry", t);
		CHECK(na > 0 && ctsig_sct_verify(pub, &e, sa, (size_t)na, &why) == 0,
		      "type %d: the SCT verifies: %s", t, why ? why : "");
		/* Any field of the entry changes it. */
		again.timestamp++;
		long nc = ctsig_sct_sign(b, sc, sizeof(sc), &again);
		CHECK(nc > 0 && (nc != na || memcmp(sa, sc, (size_t)na) != 0),
		      "type %d: another timestamp, another signature", t);
		again = e;
		again.ext_len = 0;
		nc = ctsig_sct_sign(b, sc, sizeof(sc), &again);
		CHECK(nc > 0 && (nc != na || memcmp(sa, sc, (size_t)na) != 0),
		      "type %d: without the extension, another signature", t);
	}
	ctsig_pub_free(pub);
	ctsig_signer_free(a), ctsig_signer_free(b);
	ctsig_key_free(k1), ctsig_key_free(k2);
}

/* ---- allocation counting (OpenSSL's allocator, installed before anything else) ---- */

static int counting;

/* The private key is read once, at ctsig_signer_new (EVP_PKEY_get_bn_param allocates a
 * BIGNUM each time): signing allocates nothing at all, from the first signature on. */
static void
signing_allocates_nothing_from_the_first_signature(void)
{
	if (!counting) {
		printf("     (OpenSSL allocation counting unavailable; case not run)\n");
		return;
	}
	uint8_t d[32], msg[100], root[32], dsig[CTSIG_DSIG_MAX];
	rng_scalar(d);
	rng_bytes(msg, sizeof(msg));
	rng_bytes(root, sizeof(root));
	struct ctsig_key *key = key_from_scalar(d);
	struct ctsig_signer *s = signer(key);
	struct ctenc_entry e = {
	        .timestamp = 1, .type = CTENC_X509_ENTRY, .cert = msg, .cert_len = sizeof(msg)};
	char note[CTSIG_CHECKPOINT_MAX];
	bool ok = true;
	unsigned long before = osslcount_allocs;
	for (int i = 0; i < 16; i++) {
		msg[0] = (uint8_t)i;
		ok &= ctsig_sign(s, dsig, sizeof(dsig), msg, sizeof(msg)) > 0;
		ok &= ctsig_sct_sign(s, dsig, sizeof(dsig), &e) > 0;
		ok &= ctsig_sth_sign(s, dsig, sizeof(dsig), (uint64_t)i, 7, root) > 0;
		ok &= ctsig_checkpoint_sign(s, note, sizeof(note), "example.org/log", 15,
		                            (uint64_t)i, 7, root) > 0;
	}
	unsigned long n = osslcount_allocs - before;
	CHECK(ok, "signing failed");
	CHECK(n == 0, "%lu OpenSSL allocations in 64 signatures", n);
	ctsig_signer_free(s);
	ctsig_key_free(key);
}

/* The constant-time inverse ctsig.c signs with, against OpenSSL's BN_mod_inverse: edge values
 * and 100,000 random scalars (a wrong inverse would also make a signature fail to verify, but
 * this finds a rare one directly). */
static void
order_inverse_matches_openssl(void)
{
	static const char *qhex =
	        "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551";
	BIGNUM *q = NULL, *a = BN_new(), *want = BN_new();
	BN_CTX *ctx = BN_CTX_new();
	if (!BN_hex2bn(&q, qhex) || !a || !want || !ctx)
		check_harness("BIGNUM");
	unsigned bad = 0, n = 0;
	for (unsigned i = 0; i < 100000 + 6; i++) {
		uint8_t in[32], out[32], ref[32];
		if (i < 6) { /* 1, 2, 3, q-1, q-2, 2^255 mod q */
			static const int small[] = {1, 2, 3};
			if (i < 3) {
				BN_set_word(a, (BN_ULONG)small[i]);
			} else if (i < 5) {
				BN_copy(a, q);
				BN_sub_word(a, (BN_ULONG)(i - 2));
			} else {
				BN_zero(a);
				BN_set_bit(a, 255);
				BN_mod(a, a, q, ctx);
			}
		} else {
			if (RAND_bytes(in, sizeof in) != 1)
				check_harness("RAND_bytes");
			BN_bin2bn(in, 32, a);
			BN_mod(a, a, q, ctx);
			if (BN_is_zero(a))
				continue;
		}
		BN_bn2binpad(a, in, 32);
		ctsig_int_ord_inverse(out, in);
		if (!BN_mod_inverse(want, a, q, ctx))
			check_harness("BN_mod_inverse");
		BN_bn2binpad(want, ref, 32);
		bad += memcmp(out, ref, 32) != 0;
		n++;
	}
	CHECK(bad == 0, "%u of %u inverses differ from BN_mod_inverse", bad, n);
	BN_free(q);
	BN_free(a);
	BN_free(want);
	BN_CTX_free(ctx);
}

int
main(void)
{
	counting = osslcount_install();
	RUN(rfc6979_p256_sha256_known_answers);
	RUN(nonce_matches_an_independent_rfc6979);
	RUN(order_inverse_matches_openssl);
	RUN(same_message_same_signature);
	RUN(different_message_different_signature);
	RUN(signatures_verify_with_openssl);
	RUN(sct_signature_is_a_function_of_the_entry);
	RUN(signing_allocates_nothing_from_the_first_signature);
	return check_done();
}
