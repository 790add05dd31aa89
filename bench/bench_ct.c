/* bench/bench_ct.c: chain validation per issuer key type, beside the raw signature-verify rate
 * for the same keys, measured in the same run.
 *
 * For each issuer key type (RSA-2048, P-256, P-384) the bench mints a root, an intermediate of
 * that type and 64 leaves (P-256 keys, signed by the intermediate with SHA-256, or SHA-384 for
 * P-384). Contenders, racing round-robin so that their ratios come from the same time window:
 *   raw_openssl  SHA of the leaf's TBS plus EVP_PKEY_verify with a context made once: the
 *                cheapest OpenSSL verification of that signature;
 *   raw_nettle   (P-384 only) SHA-384 plus nettle's ecdsa_verify with r and s already parsed;
 *   chain_check  Birch's chain_check() of [leaf, intermediate] with a warm issuer cache: the
 *                leaf's DER walk, policy checks, the cache lookup and the verification.
 * One line per case:
 *   bench=ct op=chain_check issuer=P-384 per_s=1987 ns_per_op=503271 raw_per_s=2051
 *     raw=nettle vs_raw=0.97x raw_openssl_per_s=1083
 * vs_raw is against the fastest raw verifier for the key type (nettle for P-384), which is the
 * issue's target: chain validation at least 0.90x of it.
 *
 * SCT signing, one line:
 *   bench=ct op=sct_sign per_s=31000 ns_per_op=32258 raw_per_s=32500 vs_raw=0.95x
 * raw: SHA-256 of the same RFC 6962 signed data (a 1.5 KB certificate entry) plus
 * EVP_PKEY_sign with a context made once, OpenSSL's cheapest P-256 signature; Birch:
 * ctsig_sct_sign() of the entry (the signed data streamed into the hash, the DigitallySigned
 * written). The target is at least 0.90x.
 *
 * Usage: bench_ct [--quick]   (--quick: short runs, a smoke test)
 */
#include <errno.h>
#include <gmp.h>
#include <nettle/dsa.h>
#include <nettle/ecc-curve.h>
#include <nettle/ecc.h>
#include <nettle/ecdsa.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/chain.h"
#include "engine/ctenc.h"
#include "engine/ctsig.h"
#include "tests/lib/mint.h"

#define NLEAVES 64

static double rep_seconds = 0.3;
static int reps = 5;

struct leafset {
	const char *name;
	EVP_PKEY *int_key;
	uint8_t *der[NLEAVES + 2]; /* leaves, then the intermediate, then the root */
	size_t len[NLEAVES + 2];
	unsigned char *tbs[NLEAVES];
	size_t tbs_len[NLEAVES];
	const unsigned char *sig[NLEAVES];
	size_t sig_len[NLEAVES];
	const EVP_MD *md;
	EVP_PKEY_CTX *vctx;
	struct ecc_point p384; /* nettle key, P-384 only */
	struct dsa_signature ns[NLEAVES];
	struct chain_roots *roots;
	struct chain_checker *checker;
	X509 *keep[NLEAVES + 2];
};

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void
die(const char *what)
{
	fprintf(stderr, "bench_ct: %s\n", what);
	exit(1);
}

static void
digest(const struct leafset *s, size_t i, uint8_t *out, size_t *dlen)
{
	if (s->md == EVP_sha384()) {
		SHA384(s->tbs[i], s->tbs_len[i], out);
		*dlen = 48;
	} else {
		SHA256(s->tbs[i], s->tbs_len[i], out);
		*dlen = 32;
	}
}

static void
nettle_key(struct leafset *s)
{
	uint8_t pt[97];
	size_t len = 0;
	if (!EVP_PKEY_get_octet_string_param(s->int_key, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof pt,
	                                     &len) ||
	    len != 97)
		die("P-384 point");
	mpz_t x, y;
	mpz_inits(x, y, NULL);
	mpz_import(x, 48, 1, 1, 1, 0, pt + 1);
	mpz_import(y, 48, 1, 1, 1, 0, pt + 49);
	ecc_point_init(&s->p384, nettle_get_secp_384r1());
	if (!ecc_point_set(&s->p384, x, y))
		die("P-384 point not on the curve");
	mpz_clears(x, y, NULL);
	for (size_t i = 0; i < NLEAVES; i++) {
		const unsigned char *p = s->sig[i];
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)s->sig_len[i]);
		const BIGNUM *r, *sv;
		ECDSA_SIG_get0(es, &r, &sv);
		uint8_t rb[48], sb[48];
		BN_bn2binpad(r, rb, 48);
		BN_bn2binpad(sv, sb, 48);
		dsa_signature_init(&s->ns[i]);
		mpz_import(s->ns[i].r, 48, 1, 1, 1, 0, rb);
		mpz_import(s->ns[i].s, 48, 1, 1, 1, 0, sb);
		ECDSA_SIG_free(es);
	}
}

static void
leafset_make(struct leafset *s, const char *name, enum mint_key_type t)
{
	memset(s, 0, sizeof *s);
	s->name = name;
	EVP_PKEY *root_key = mint_key(t);
	s->int_key = mint_key(t);
	struct mint_opts ca = {.cn = "Birch bench root", .ca = true, .path_len = -1};
	struct mint_opts in = {
	        .cn = "Birch bench intermediate", .ca = true, .path_len = 0, .aki = true};
	X509 *root = mint_cert(root_key, NULL, NULL, &ca);
	X509 *inter = mint_cert(s->int_key, root, root_key, &in);
	for (size_t i = 0; i < NLEAVES; i++) {
		EVP_PKEY *lk = mint_key(MINT_P256);
		char cn[64];
		snprintf(cn, sizeof cn, "leaf%zu.bench.example", i);
		struct mint_opts lo = {.cn = cn, .aki = true};
		X509 *leaf = mint_cert(lk, inter, s->int_key, &lo);
		s->der[i] = mint_der(leaf, &s->len[i]);
		int n = i2d_re_X509_tbs(leaf, &s->tbs[i]);
		if (n <= 0)
			die("i2d_re_X509_tbs");
		s->tbs_len[i] = (size_t)n;
		const ASN1_BIT_STRING *sig;
		X509_get0_signature(&sig, NULL, leaf);
		s->sig[i] = ASN1_STRING_get0_data(sig);
		s->sig_len[i] = (size_t)ASN1_STRING_length(sig);
		s->keep[i] = leaf;
		EVP_PKEY_free(lk);
	}
	s->der[NLEAVES] = mint_der(inter, &s->len[NLEAVES]);
	s->der[NLEAVES + 1] = mint_der(root, &s->len[NLEAVES + 1]);
	s->keep[NLEAVES] = inter;
	s->keep[NLEAVES + 1] = root;
	s->md = t == MINT_P384 ? EVP_sha384() : EVP_sha256();
	s->vctx = EVP_PKEY_CTX_new(s->int_key, NULL);
	if (!s->vctx || EVP_PKEY_verify_init(s->vctx) <= 0)
		die("EVP_PKEY_verify_init");
	if (t == MINT_RSA2048 && (EVP_PKEY_CTX_set_rsa_padding(s->vctx, RSA_PKCS1_PADDING) <= 0 ||
	                          EVP_PKEY_CTX_set_signature_md(s->vctx, s->md) <= 0))
		die("RSA verify setup");
	if (t == MINT_P384)
		nettle_key(s);
	const char *why = NULL;
	if (chain_roots_new(&s->roots) != 0 ||
	    chain_roots_add_der(s->roots, s->der[NLEAVES + 1], s->len[NLEAVES + 1], &why) != 1)
		die(why ? why : "roots");
	struct chain_policy pol = {INT64_MIN, INT64_MAX};
	if (chain_checker_new(&s->checker, s->roots, &pol, 0) != 0)
		die("checker");
	EVP_PKEY_free(root_key);
}

/* Contenders: each runs `iters` verifications over the leaves in turn; returns failures. */
static size_t
run_raw_openssl(struct leafset *s, size_t iters)
{
	size_t bad = 0;
	for (size_t k = 0; k < iters; k++) {
		size_t i = k % NLEAVES;
		uint8_t d[64];
		size_t dlen;
		digest(s, i, d, &dlen);
		if (EVP_PKEY_verify(s->vctx, s->sig[i], s->sig_len[i], d, dlen) != 1)
			bad++;
	}
	return bad;
}

static size_t
run_raw_nettle(struct leafset *s, size_t iters)
{
	size_t bad = 0;
	for (size_t k = 0; k < iters; k++) {
		size_t i = k % NLEAVES;
		uint8_t d[64];
		size_t dlen;
		digest(s, i, d, &dlen);
		if (ecdsa_verify(&s->p384, dlen, d, &s->ns[i]) != 1)
			bad++;
	}
	return bad;
}

static size_t
run_chain(struct leafset *s, size_t iters)
{
	size_t bad = 0;
	struct der_span chain[2] = {{0}, {s->der[NLEAVES], s->len[NLEAVES]}};
	struct chain_result res;
	for (size_t k = 0; k < iters; k++) {
		size_t i = k % NLEAVES;
		chain[0].p = s->der[i];
		chain[0].len = s->len[i];
		const char *why;
		if (chain_check(s->checker, chain, 2, false, &res, &why) != 0)
			bad++;
	}
	return bad;
}

enum contender { C_OPENSSL, C_NETTLE, C_CHAIN, C_N };

static size_t
run_one(enum contender c, struct leafset *s, size_t iters)
{
	switch (c) {
	case C_OPENSSL:
		return run_raw_openssl(s, iters);
	case C_NETTLE:
		return run_raw_nettle(s, iters);
	default:
		return run_chain(s, iters);
	}
}

static void
bench_set(struct leafset *s, bool p384)
{
	double best[C_N] = {0};
	size_t iters[C_N];
	/* Calibrate each contender to about rep_seconds. */
	for (int c = 0; c < C_N; c++) {
		if (c == C_NETTLE && !p384)
			continue;
		size_t n = 16;
		double t0 = now();
		if (run_one((enum contender)c, s, n) != 0)
			die("a verification failed during calibration");
		double dt = now() - t0;
		iters[c] = (size_t)(rep_seconds / (dt / (double)n));
		if (iters[c] < 16)
			iters[c] = 16;
	}
	for (int r = 0; r < reps; r++)
		for (int k = 0; k < C_N; k++) {
			int c = (k + r) % C_N;
			if (c == C_NETTLE && !p384)
				continue;
			double t0 = now();
			size_t bad = run_one((enum contender)c, s, iters[c]);
			double dt = now() - t0;
			if (bad)
				die("a verification failed");
			double rate = (double)iters[c] / dt;
			if (rate > best[c])
				best[c] = rate;
		}
	double raw = best[C_OPENSSL];
	const char *raw_name = "openssl";
	if (p384 && best[C_NETTLE] > raw) {
		raw = best[C_NETTLE];
		raw_name = "nettle";
	}
	printf("bench=ct op=chain_check issuer=%s per_s=%.0f ns_per_op=%.0f raw_per_s=%.0f raw=%s "
	       "vs_raw=%.2fx raw_openssl_per_s=%.0f",
	       s->name, best[C_CHAIN], 1e9 / best[C_CHAIN], raw, raw_name, best[C_CHAIN] / raw,
	       best[C_OPENSSL]);
	if (p384)
		printf(" raw_nettle_per_s=%.0f", best[C_NETTLE]);
	printf("\n");
	fflush(stdout);
	struct chain_stats st;
	chain_checker_stats(s->checker, &st);
	if (st.cache_misses > 1)
		die("the issuer cache missed more than once");
}

/* SCT signing against OpenSSL's raw ECDSA P-256 sign, racing round-robin. */
static void
bench_sign(void)
{
	EVP_PKEY *pk = mint_key(MINT_P256);
	BIO *b = BIO_new(BIO_s_mem());
	if (!PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL))
		die("PEM_write_bio_PrivateKey");
	char *pem = NULL;
	long pem_len = BIO_get_mem_data(b, &pem);
	struct ctsig_key *key = NULL;
	struct ctsig_signer *signer = NULL;
	const char *why = NULL;
	if (ctsig_key_from_pem(&key, pem, (size_t)pem_len, &why) != 0 ||
	    ctsig_signer_new(&signer, key) != 0)
		die(why ? why : "ctsig signer");
	BIO_free(b);
	EVP_PKEY_CTX *sctx = EVP_PKEY_CTX_new(pk, NULL);
	if (!sctx || EVP_PKEY_sign_init(sctx) <= 0)
		die("EVP_PKEY_sign_init");
	static uint8_t cert[1500], data[2048], sig[256];
	for (size_t i = 0; i < sizeof cert; i++)
		cert[i] = (uint8_t)(i * 7 + 3);
	struct ctenc_entry e = {.timestamp = 1767225600000,
	                        .type = CTENC_X509_ENTRY,
	                        .cert = cert,
	                        .cert_len = sizeof cert};
	long dlen = ctenc_sct_signed_data(data, sizeof data, &e);
	if (dlen <= 0)
		die("ctenc_sct_signed_data");
	double best_raw = 0, best_birch = 0;
	size_t iters = 0;
	for (int r = -1; r < reps; r++) {
		for (int k = 0; k < 2; k++) {
			bool raw = ((k + r) & 1) == 0;
			size_t n = r < 0 ? 32 : iters;
			double t0 = now();
			for (size_t i = 0; i < n; i++) {
				e.timestamp++;
				if (raw) {
					uint8_t d[32];
					size_t slen = sizeof sig;
					data[2] ^= (uint8_t)i; /* a different message each time */
					SHA256(data, (size_t)dlen, d);
					if (EVP_PKEY_sign(sctx, sig, &slen, d, sizeof d) <= 0)
						die("EVP_PKEY_sign");
				} else if (ctsig_sct_sign(signer, sig, sizeof sig, &e) <= 0) {
					die("ctsig_sct_sign");
				}
			}
			double rate = (double)n / (now() - t0);
			if (r < 0) {
				iters = (size_t)(rep_seconds * rate);
				if (iters < 32)
					iters = 32;
				continue;
			}
			if (raw && rate > best_raw)
				best_raw = rate;
			if (!raw && rate > best_birch)
				best_birch = rate;
		}
	}
	printf("bench=ct op=sct_sign per_s=%.0f ns_per_op=%.0f raw_per_s=%.0f vs_raw=%.2fx\n",
	       best_birch, 1e9 / best_birch, best_raw, best_birch / best_raw);
	fflush(stdout);
	EVP_PKEY_CTX_free(sctx);
	EVP_PKEY_free(pk);
	ctsig_signer_free(signer);
	ctsig_key_free(key);
}

int
main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			rep_seconds = 0.02;
			reps = 1;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			printf("usage: bench_ct [--quick]\n"
			       "Chain validation per issuer key type beside raw verify rates, same "
			       "run.\n");
			return 0;
		} else {
			fprintf(stderr, "bench_ct: unknown argument '%s' (try --help)\n", argv[i]);
			return 2;
		}
	}
	static struct leafset sets[3];
	const char *names[] = {"RSA-2048", "P-256", "P-384"};
	const enum mint_key_type types[] = {MINT_RSA2048, MINT_P256, MINT_P384};
	for (size_t i = 0; i < 3; i++) {
		leafset_make(&sets[i], names[i], types[i]);
		bench_set(&sets[i], types[i] == MINT_P384);
	}
	bench_sign();
	return 0;
}
