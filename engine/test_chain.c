/* engine/test_chain.c: chain validation against the certificate-transparency test chains (their
 * accept/reject outcomes as the production logs give them), the Trillian test CA, and chains
 * minted here with RSA-2048, P-256 and P-384 issuers. Most vectors have expired: the policy
 * enforces no validity dates but the shard's NotAfter window, which these tests open wide. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <errno.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/chain.h"
#include "tests/lib/check.h"
#include "tests/lib/mint.h"
#include "tests/lib/vec.h"

#define CPP      "certs/google-certificate-transparency-cpp/"
#define TRILLIAN "certs/certificate-transparency-go/trillian-testdata/"

static const struct chain_policy open_window = {INT64_MIN, INT64_MAX};

/* A chain read with OpenSSL (independently of Birch's PEM and DER code). */
struct pem_chain {
	uint8_t *der[CHAIN_MAX + 8];
	struct der_span span[CHAIN_MAX + 8];
	size_t n;
};

static void
pem_chain_add_file(struct pem_chain *c, const char *rel)
{
	char *path = vec_path(rel);
	BIO *b = BIO_new_file(path, "r");
	if (!b)
		check_harness(path);
	for (X509 *x; c->n < sizeof c->der / sizeof c->der[0] &&
	              (x = PEM_read_bio_X509(b, NULL, NULL, NULL));) {
		unsigned char *d = NULL;
		int len = i2d_X509(x, &d);
		c->der[c->n] = malloc((size_t)len);
		memcpy(c->der[c->n], d, (size_t)len);
		c->span[c->n].p = c->der[c->n];
		c->span[c->n].len = (size_t)len;
		c->n++;
		OPENSSL_free(d);
		X509_free(x);
	}
	BIO_free(b);
	free(path);
}

static struct pem_chain
pem_chain_of(const char *a, const char *b, const char *c)
{
	struct pem_chain ch = {0};
	const char *files[] = {a, b, c};
	for (size_t i = 0; i < 3; i++)
		if (files[i])
			pem_chain_add_file(&ch, files[i]);
	return ch;
}

static void
pem_chain_free(struct pem_chain *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->der[i]);
	c->n = 0;
}

static struct chain_roots *
roots_of(const char *a, const char *b)
{
	struct chain_roots *r;
	if (chain_roots_new(&r) != 0)
		check_harness("chain_roots_new");
	const char *files[] = {a, b};
	for (size_t i = 0; i < 2; i++) {
		if (!files[i])
			continue;
		char *path = vec_path(files[i]);
		const char *why = NULL;
		if (chain_roots_add_file(r, path, &why) < 0)
			check_harness(why);
		free(path);
	}
	return r;
}

/* Runs one check with a fresh checker; returns its code and the reason. */
static int
check_once(struct chain_roots *roots, struct pem_chain *ch, bool precert, struct chain_result *res,
           const char **why)
{
	struct chain_checker *c;
	if (chain_checker_new(&c, roots, &open_window, 0) != 0)
		check_harness("chain_checker_new");
	*why = NULL;
	int rc = chain_check(c, ch->span, ch->n, precert, res, why);
	chain_checker_free(c);
	return rc;
}

static void
spki_hash_of(const struct der_span *cert, uint8_t out[32])
{
	const unsigned char *p = cert->p;
	X509 *x = d2i_X509(NULL, &p, (long)cert->len);
	unsigned char *spki = NULL;
	int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &spki);
	SHA256(spki, (size_t)len, out);
	OPENSSL_free(spki);
	X509_free(x);
}

static void
roots_load_counts_each_root_once_and_refuses_corrupted_files(void)
{
	struct chain_roots *r;
	CHECK(chain_roots_new(&r) == 0, "new");
	const char *why = NULL;
	char *ca = vec_path(CPP "ca-cert.pem");
	CHECK(chain_roots_add_file(r, ca, &why) == 1, "first load adds one (%s)", why);
	CHECK(chain_roots_add_file(r, ca, &why) == 0, "second load adds none");
	CHECK(chain_roots_count(r) == 1, "one root");
	char *two = vec_path(CPP "test-colliding-roots.pem");
	CHECK(chain_roots_add_file(r, two, &why) == 2, "colliding roots are two roots");
	CHECK(chain_roots_count(r) == 3, "three roots");
	char *bad = vec_path(CPP "test-corrupted.pem");
	why = NULL;
	CHECK(chain_roots_add_file(r, bad, &why) < 0 && why, "corrupted file refused");
	CHECK(chain_roots_count(r) == 3, "nothing added from the corrupted file");
	char *none = vec_path(CPP "test-nonexistent.pem");
	CHECK(chain_roots_add_file(r, none, &why) == -ENOENT, "missing file is ENOENT");
	CHECK(chain_roots_add_pem(r, "no pem here", 11, &why) < 0, "text without blocks refused");
	struct der_span first = chain_roots_get(r, 0);
	struct pem_chain ch = pem_chain_of(CPP "ca-cert.pem", NULL, NULL);
	CHECK(first.len == ch.span[0].len && memcmp(first.p, ch.span[0].p, first.len) == 0,
	      "get-roots returns the DER as loaded");
	pem_chain_free(&ch);
	free(ca), free(two), free(bad), free(none);
	chain_roots_free(r);
}

static void
leaf_issued_by_root_is_accepted_with_or_without_the_root_and_repeats_trimmed(void)
{
	struct chain_roots *r = roots_of(CPP "ca-cert.pem", NULL);
	struct chain_roots *empty = roots_of(NULL, NULL);
	struct chain_result res;
	const char *why;
	struct pem_chain ch = pem_chain_of(CPP "test-cert.pem", NULL, NULL);
	CHECK(check_once(empty, &ch, false, &res, &why) == -EACCES, "no roots: refused");
	CHECK(why && strstr(why, "accepted root"), "reason names the root: %s", why);
	CHECK(check_once(r, &ch, false, &res, &why) == 0, "leaf alone accepted: %s", why);
	CHECK(res.nissuers == 1 && res.root_added, "root appended to the stored chain");
	pem_chain_free(&ch);

	ch = pem_chain_of(CPP "test-cert.pem", CPP "ca-cert.pem", CPP "ca-cert.pem");
	CHECK(ch.n == 3, "three certificates read");
	CHECK(check_once(r, &ch, false, &res, &why) == 0, "leaf, root, root accepted: %s", why);
	CHECK(res.nissuers == 1 && !res.root_added, "repeated root trimmed");
	CHECK(res.issuers[0].p == ch.span[1].p, "stored chain borrows the submission");
	uint8_t want[32];
	spki_hash_of(&ch.span[1], want);
	CHECK_MEM(res.issuer_key_hash, want, 32, "issuer key hash is the root's SPKI hash");
	pem_chain_free(&ch);
	chain_roots_free(r);
	chain_roots_free(empty);
}

static void
intermediate_chains_are_accepted_in_order_and_refused_out_of_order(void)
{
	struct chain_roots *r = roots_of(CPP "ca-cert.pem", NULL);
	struct chain_result res;
	const char *why;
	struct pem_chain ch = pem_chain_of(CPP "test-intermediate-cert.pem", NULL, NULL);
	CHECK(check_once(r, &ch, false, &res, &why) == -EACCES, "intermediate missing: refused");
	pem_chain_free(&ch);
	ch = pem_chain_of(CPP "test-intermediate-cert.pem", CPP "intermediate-cert.pem", NULL);
	CHECK(check_once(r, &ch, false, &res, &why) == 0, "leaf + intermediate: %s", why);
	CHECK(res.nissuers == 2 && res.root_added, "intermediate and root stored");
	uint8_t want[32];
	spki_hash_of(&ch.span[1], want);
	CHECK_MEM(res.issuer_key_hash, want, 32, "issuer key hash is the intermediate's");
	pem_chain_free(&ch);
	ch = pem_chain_of(CPP "intermediate-cert.pem", CPP "test-intermediate-cert.pem", NULL);
	CHECK(check_once(r, &ch, false, &res, &why) == -EACCES && why, "misordered refused");
	pem_chain_free(&ch);
	chain_roots_free(r);
}

static void
precerts_need_add_pre_chain_and_certs_need_add_chain(void)
{
	struct chain_roots *r = roots_of(CPP "ca-cert.pem", NULL);
	struct chain_result res;
	const char *why;
	struct pem_chain ch =
	        pem_chain_of(CPP "test-embedded-pre-cert.pem", CPP "ca-cert.pem", NULL);
	CHECK(check_once(r, &ch, true, &res, &why) == 0, "precert accepted: %s", why);
	CHECK(res.precert && !res.psc, "a precert without a PSC");
	uint8_t want[32];
	spki_hash_of(&ch.span[1], want);
	CHECK_MEM(res.issuer_key_hash, want, 32, "issuer key hash of ca-cert");
	CHECK(check_once(r, &ch, false, &res, &why) == -EACCES && strstr(why, "add-pre-chain"),
	      "precert sent to add-chain refused: %s", why);
	pem_chain_free(&ch);
	ch = pem_chain_of(CPP "test-cert.pem", NULL, NULL);
	CHECK(check_once(r, &ch, true, &res, &why) == -EACCES && strstr(why, "poison"),
	      "certificate sent to add-pre-chain refused: %s", why);
	pem_chain_free(&ch);
	chain_roots_free(r);
}

static void
psc_signed_precerts_take_the_final_issuers_key_hash(void)
{
	struct chain_roots *r = roots_of(CPP "ca-cert.pem", NULL);
	struct chain_result res;
	const char *why;
	/* issuer_key_hash from VERIFIED_SCTS.json for both PSC cases. */
	static const uint8_t ca_hash[32] = {0x02, 0xad, 0xdd, 0xca, 0x08, 0xb8, 0xbf, 0x98,
	                                    0x61, 0xf0, 0x35, 0x94, 0x0c, 0x94, 0x01, 0x56,
	                                    0xd8, 0x35, 0x0f, 0xdf, 0xf8, 0x99, 0xa6, 0x23,
	                                    0x9c, 0x6b, 0xd7, 0x72, 0x55, 0xb8, 0xf8, 0xfc};
	static const uint8_t int_hash[32] = {0x6f, 0xa8, 0x70, 0xe5, 0x2e, 0x06, 0x5a, 0x34,
	                                     0x24, 0x36, 0x67, 0x40, 0x9e, 0x8b, 0xfd, 0xf2,
	                                     0x9f, 0xfa, 0x9e, 0x49, 0xc7, 0x31, 0x52, 0x5c,
	                                     0x16, 0x7b, 0x30, 0xe8, 0xad, 0x6a, 0x75, 0x16};
	struct pem_chain ch = pem_chain_of(CPP "test-embedded-with-preca-pre-cert.pem",
	                                   CPP "ca-pre-cert.pem", NULL);
	CHECK(check_once(r, &ch, true, &res, &why) == 0, "PSC chain accepted: %s", why);
	CHECK(res.psc && res.nissuers == 2 && res.root_added, "PSC, then the root appended");
	CHECK_MEM(res.issuer_key_hash, ca_hash, 32, "key hash of ca-cert, not of the PSC");
	CHECK(res.psc_cert.subject_tlv.p == NULL ||
	              (res.psc_cert.subject_tlv.p >= ch.span[1].p &&
	               res.psc_cert.subject_tlv.p < ch.span[1].p + ch.span[1].len),
	      "psc_cert spans the submitted PSC");
	pem_chain_free(&ch);
	ch = pem_chain_of(CPP "test-embedded-with-preca-pre-cert.pem", NULL, NULL);
	CHECK(check_once(r, &ch, true, &res, &why) == -EACCES, "PSC missing: refused");
	pem_chain_free(&ch);

	ch = pem_chain_of(CPP "test-embedded-with-intermediate-preca-pre-cert.pem",
	                  CPP "intermediate-pre-cert.pem", CPP "intermediate-cert.pem");
	CHECK(check_once(r, &ch, true, &res, &why) == 0, "PSC under an intermediate: %s", why);
	CHECK(res.psc && res.nissuers == 3, "PSC, intermediate, root");
	CHECK_MEM(res.issuer_key_hash, int_hash, 32, "key hash of the intermediate");
	pem_chain_free(&ch);
	ch = pem_chain_of(CPP "test-embedded-with-intermediate-pre-cert.pem",
	                  CPP "intermediate-cert.pem", NULL);
	CHECK(check_once(r, &ch, true, &res, &why) == 0, "precert under an intermediate: %s", why);
	CHECK(!res.psc, "no PSC");
	CHECK_MEM(res.issuer_key_hash, int_hash, 32, "key hash of the intermediate");
	pem_chain_free(&ch);
	chain_roots_free(r);
}

static void
edge_cases_get_the_outcomes_production_logs_give(void)
{
	struct chain_result res;
	const char *why;
	/* A v1 root with no basicConstraints, signed with MD2: trusted as it is. */
	struct chain_roots *nobc = roots_of(CPP "test-no-bc-ca-cert.pem", NULL);
	struct pem_chain ch = pem_chain_of(CPP "test-no-bc-cert-chain.pem", NULL, NULL);
	CHECK(check_once(nobc, &ch, false, &res, &why) == 0, "no-BC, MD2 root accepted: %s", why);
	pem_chain_free(&ch);
	/* An MD2-signed intermediate under that root: refused. */
	ch = pem_chain_of(CPP "test-md2-chain.pem", NULL, NULL);
	CHECK(check_once(nobc, &ch, false, &res, &why) == -EACCES && strstr(why, "unsupported"),
	      "MD2 intermediate refused: %s", why);
	pem_chain_free(&ch);
	chain_roots_free(nobc);
	/* A leaf that issues another certificate: refused. */
	struct chain_roots *r = roots_of(CPP "ca-cert.pem", NULL);
	ch = pem_chain_of(CPP "test-no-ca-cert-chain.pem", NULL, NULL);
	CHECK(check_once(r, &ch, false, &res, &why) == -EACCES && strstr(why, "not a CA"),
	      "non-CA issuer refused: %s", why);
	pem_chain_free(&ch);
	chain_roots_free(r);
	/* Two roots with the same name and key: accepted with either or neither submitted. */
	struct chain_roots *col =
	        roots_of(CPP "test-colliding-root1.pem", CPP "test-colliding-root2.pem");
	ch = pem_chain_of(CPP "test-issuer-collision-chain.pem", NULL, NULL);
	CHECK(check_once(col, &ch, false, &res, &why) == 0, "collision chain: %s", why);
	pem_chain_free(&ch);
	ch = pem_chain_of(CPP "test-issuer-collision-chain.pem", CPP "test-colliding-root1.pem",
	                  NULL);
	CHECK(check_once(col, &ch, false, &res, &why) == 0, "with root 1: %s", why);
	pem_chain_free(&ch);
	ch = pem_chain_of(CPP "test-issuer-collision-chain.pem", CPP "test-colliding-root2.pem",
	                  NULL);
	CHECK(check_once(col, &ch, false, &res, &why) == 0, "with root 2: %s", why);
	pem_chain_free(&ch);
	chain_roots_free(col);
}

static void
trillian_test_chains_are_accepted_and_misordered_ones_refused(void)
{
	struct chain_roots *r = roots_of(TRILLIAN "fake-ca.cert", NULL);
	struct chain_result res;
	const char *why;
	char name[128];
	for (int i = 1; i <= 20; i++) {
		snprintf(name, sizeof name, TRILLIAN "leaf%02d.chain", i);
		struct pem_chain ch = pem_chain_of(name, NULL, NULL);
		CHECK(check_once(r, &ch, false, &res, &why) == 0, "%s: %s", name, why);
		pem_chain_free(&ch);
	}
	struct pem_chain ch = pem_chain_of(TRILLIAN "subleaf.chain", NULL, NULL);
	CHECK(check_once(r, &ch, false, &res, &why) == 0, "subleaf.chain: %s", why);
	pem_chain_free(&ch);
	ch = pem_chain_of(TRILLIAN "subleaf-pre.chain", NULL, NULL);
	CHECK(check_once(r, &ch, true, &res, &why) == 0, "subleaf-pre.chain: %s", why);
	pem_chain_free(&ch);
	ch = pem_chain_of(TRILLIAN "subleaf.misordered.chain", NULL, NULL);
	CHECK(check_once(r, &ch, false, &res, &why) == -EACCES, "subleaf misordered refused");
	pem_chain_free(&ch);
	ch = pem_chain_of(TRILLIAN "subleaf-pre.misordered.chain", NULL, NULL);
	CHECK(check_once(r, &ch, true, &res, &why) == -EACCES, "subleaf-pre misordered refused");
	pem_chain_free(&ch);
	chain_roots_free(r);
}

/* A root, an intermediate of the given type, and a leaf; optionally a poisoned leaf. */
struct minted {
	EVP_PKEY *root_key, *int_key, *leaf_key;
	X509 *root, *inter, *leaf;
	uint8_t *der[3];
	size_t len[3];
	struct der_span span[3];
};

static void
minted_make(struct minted *m, enum mint_key_type t, const struct mint_opts *leaf_opts)
{
	memset(m, 0, sizeof *m);
	m->root_key = mint_key(t);
	m->int_key = mint_key(t);
	m->leaf_key = mint_key(MINT_P256);
	struct mint_opts ca = {.cn = "Birch root", .ca = true, .path_len = -1};
	struct mint_opts in = {.cn = "Birch intermediate", .ca = true, .path_len = 0, .aki = true};
	m->root = mint_cert(m->root_key, NULL, NULL, &ca);
	m->inter = mint_cert(m->int_key, m->root, m->root_key, &in);
	m->leaf = mint_cert(m->leaf_key, m->inter, m->int_key, leaf_opts);
	X509 *all[3] = {m->leaf, m->inter, m->root};
	for (size_t i = 0; i < 3; i++) {
		m->der[i] = mint_der(all[i], &m->len[i]);
		m->span[i].p = m->der[i];
		m->span[i].len = m->len[i];
	}
}

static void
minted_free(struct minted *m)
{
	EVP_PKEY_free(m->root_key), EVP_PKEY_free(m->int_key), EVP_PKEY_free(m->leaf_key);
	X509_free(m->root), X509_free(m->inter), X509_free(m->leaf);
	for (size_t i = 0; i < 3; i++)
		free(m->der[i]);
}

/* A checker (open window) whose only accepted root is m's root. */
static struct chain_checker *
minted_checker(const struct minted *m, struct chain_roots **roots)
{
	struct chain_checker *c = NULL;
	const char *why = NULL;
	if (chain_roots_new(roots) != 0 ||
	    chain_roots_add_der(*roots, m->der[2], m->len[2], &why) != 1 ||
	    chain_checker_new(&c, *roots, &open_window, 0) != 0)
		check_harness(why ? why : "minted root or checker");
	return c;
}

static void
minted_chains_verify_for_each_issuer_key_type_and_tampering_is_caught(void)
{
	const enum mint_key_type types[] = {MINT_RSA2048, MINT_P256, MINT_P384};
	const char *names[] = {"RSA-2048", "P-256", "P-384"};
	for (size_t t = 0; t < 3; t++) {
		struct minted m;
		struct mint_opts lo = {.cn = "leaf.example"};
		minted_make(&m, types[t], &lo);
		struct chain_roots *r;
		struct chain_checker *c = minted_checker(&m, &r);
		const char *why = NULL;
		struct chain_result res;
		CHECK(chain_check(c, m.span, 2, false, &res, &why) == 0, "%s chain: %s", names[t],
		      why);
		CHECK(chain_check(c, m.span, 3, false, &res, &why) == 0, "%s with root: %s",
		      names[t], why);
		/* Flip a bit of the leaf's signature (its last byte), then of its TBS. */
		uint8_t *bad = malloc(m.len[0]);
		memcpy(bad, m.der[0], m.len[0]);
		bad[m.len[0] - 1] ^= 1;
		struct der_span sp[2] = {{bad, m.len[0]}, m.span[1]};
		int rc = chain_check(c, sp, 2, false, &res, &why);
		CHECK(rc == -EACCES || rc == -EBADMSG, "%s: flipped signature refused (%d)",
		      names[t], rc);
		memcpy(bad, m.der[0], m.len[0]);
		bad[m.len[0] / 3] ^= 0x10; /* inside the TBS, likely a name or the key */
		rc = chain_check(c, sp, 2, false, &res, &why);
		CHECK(rc != 0, "%s: flipped TBS refused", names[t]);
		free(bad);
		struct chain_stats st;
		chain_checker_stats(c, &st);
		CHECK(st.cache_hits >= 1, "%s: the repeat used the issuer cache", names[t]);
		chain_checker_free(c);
		chain_roots_free(r);
		minted_free(&m);
	}
}

/* Writes a DER TLV header (tag, definite length) and returns its size. */
static size_t
put_header(uint8_t *out, uint8_t tag, size_t len)
{
	out[0] = tag;
	if (len < 0x80) {
		out[1] = (uint8_t)len;
		return 2;
	}
	if (len < 0x100) {
		out[1] = 0x81, out[2] = (uint8_t)len;
		return 3;
	}
	out[1] = 0x82, out[2] = (uint8_t)(len >> 8), out[3] = (uint8_t)len;
	return 4;
}

/* A certificate from a TBS, an algorithm and signature bytes (malloc'd). */
static uint8_t *
cert_with_signature(const struct der_cert *dc, const uint8_t *sig, size_t sig_len, size_t *len)
{
	uint8_t bits[600];
	size_t bl = put_header(bits, 0x03, sig_len + 1);
	bits[bl++] = 0;
	memcpy(bits + bl, sig, sig_len);
	bl += sig_len;
	size_t body = dc->tbs_tlv.len + dc->sig_alg_tlv.len + bl;
	uint8_t *out = malloc(body + 8);
	size_t o = put_header(out, 0x30, body);
	memcpy(out + o, dc->tbs_tlv.p, dc->tbs_tlv.len), o += dc->tbs_tlv.len;
	memcpy(out + o, dc->sig_alg_tlv.p, dc->sig_alg_tlv.len), o += dc->sig_alg_tlv.len;
	memcpy(out + o, bits, bl), o += bl;
	*len = o;
	return out;
}

static void
ecdsa_signatures_that_are_not_canonical_der_are_refused(void)
{
	const enum mint_key_type types[] = {MINT_P256, MINT_P384};
	for (size_t t = 0; t < 2; t++) {
		struct minted m;
		struct mint_opts lo = {.cn = "leaf.example"};
		minted_make(&m, types[t], &lo);
		struct chain_roots *r;
		struct chain_checker *c = minted_checker(&m, &r);
		const char *why = NULL;
		struct der_cert dc;
		CHECK(der_cert_walk(m.der[0], m.len[0], &dc, &why) == 0, "walk the minted leaf");
		/* The same signature, re-assembled: accepted (the rebuild is faithful). */
		size_t len;
		uint8_t *same = cert_with_signature(&dc, dc.sig.p, dc.sig.len, &len);
		struct der_span sp[2] = {{same, len}, m.span[1]};
		struct chain_result res;
		CHECK(chain_check(c, sp, 2, false, &res, &why) == 0,
		      "re-assembled leaf accepted: %s", why);
		/* r with a superfluous leading zero: the same numbers, not DER. */
		uint8_t sig[600];
		const uint8_t *in = dc.sig.p;
		size_t rlen = in[3];
		CHECK(in[0] == 0x30 && in[2] == 0x02 && dc.sig.len < 0x7f, "short-form ECDSA-Sig");
		sig[0] = 0x30, sig[1] = (uint8_t)(in[1] + 1), sig[2] = 0x02,
		sig[3] = (uint8_t)(rlen + 1);
		sig[4] = 0x00;
		memcpy(sig + 5, in + 4, dc.sig.len - 4);
		uint8_t *bad = cert_with_signature(&dc, sig, dc.sig.len + 1, &len);
		sp[0].p = bad;
		sp[0].len = len;
		int rc = chain_check(c, sp, 2, false, &res, &why);
		CHECK(rc == -EACCES, "%s: non-minimal r refused (%d, %s)",
		      types[t] == MINT_P384 ? "P-384 (nettle)" : "P-256 (OpenSSL)", rc, why);
		free(same);
		free(bad);
		chain_checker_free(c);
		chain_roots_free(r);
		minted_free(&m);
	}
}

static void
issuer_cache_makes_repeats_hits_and_different_issuers_misses(void)
{
	struct chain_roots *r = roots_of(TRILLIAN "fake-ca.cert", NULL);
	struct chain_checker *c;
	CHECK(chain_checker_new(&c, r, &open_window, 4) == 0, "checker with 4 cache slots");
	struct chain_result res;
	const char *why;
	char name[128];
	for (int round = 0; round < 2; round++)
		for (int i = 1; i <= 10; i++) {
			snprintf(name, sizeof name, TRILLIAN "leaf%02d.chain", i);
			struct pem_chain ch = pem_chain_of(name, NULL, NULL);
			CHECK(chain_check(c, ch.span, ch.n, false, &res, &why) == 0, "%s: %s", name,
			      why);
			pem_chain_free(&ch);
		}
	struct chain_stats st;
	chain_checker_stats(c, &st);
	CHECK(st.checks == 20 && st.accepted == 20, "20 checks accepted");
	CHECK(st.cache_misses >= 1 && st.cache_hits >= 10, "mostly hits (%llu hits, %llu misses)",
	      (unsigned long long)st.cache_hits, (unsigned long long)st.cache_misses);
	chain_checker_free(c);
	chain_roots_free(r);
}

static void
not_after_window_and_limits_are_enforced_with_reasons(void)
{
	struct minted m;
	struct mint_opts lo = {.cn = "leaf.example", .not_after = 1800000000};
	minted_make(&m, MINT_P256, &lo);
	struct chain_roots *r;
	const char *why = NULL;
	CHECK(chain_roots_new(&r) == 0 && chain_roots_add_der(r, m.der[2], m.len[2], &why) == 1,
	      "root");
	struct chain_policy pol = {1800000000, 1800000001};
	struct chain_checker *c;
	CHECK(chain_checker_new(&c, r, &pol, 0) == 0, "checker");
	struct chain_result res;
	CHECK(chain_check(c, m.span, 2, false, &res, &why) == 0, "NotAfter == start accepted: %s",
	      why);
	chain_checker_free(c);
	pol.not_after_start = 1800000001;
	pol.not_after_end = INT64_MAX;
	CHECK(chain_checker_new(&c, r, &pol, 0) == 0, "checker");
	CHECK(chain_check(c, m.span, 2, false, &res, &why) == -EACCES && strstr(why, "NotAfter"),
	      "NotAfter before the window refused: %s", why);
	chain_checker_free(c);
	pol.not_after_start = 0;
	pol.not_after_end = 1800000000;
	CHECK(chain_checker_new(&c, r, &pol, 0) == 0, "checker");
	CHECK(chain_check(c, m.span, 2, false, &res, &why) == -EACCES, "NotAfter == end refused");
	chain_checker_free(c);
	CHECK(chain_checker_new(&c, r, &open_window, 0) == 0, "checker");
	/* Limits and garbage. */
	struct der_span many[CHAIN_MAX + 1];
	for (size_t i = 0; i <= CHAIN_MAX; i++)
		many[i] = m.span[i == 0 ? 0 : 1];
	CHECK(chain_check(c, many, CHAIN_MAX + 1, false, &res, &why) == -EBADMSG &&
	              strstr(why, "more than 16"),
	      "17 certificates refused: %s", why);
	CHECK(chain_check(c, many, 0, false, &res, &why) == -EBADMSG && strstr(why, "empty"),
	      "empty chain refused");
	static const uint8_t junk[] = {0x30, 0x03, 0x02, 0x01, 0x01};
	struct der_span j[2] = {{junk, sizeof junk}, m.span[1]};
	CHECK(chain_check(c, j, 2, false, &res, &why) == -EBADMSG && strstr(why, "parse"),
	      "junk leaf refused: %s", why);
	struct der_span j2[2] = {m.span[0], {junk, sizeof junk}};
	CHECK(chain_check(c, j2, 2, false, &res, &why) == -EBADMSG, "junk issuer refused: %s", why);
	chain_checker_free(c);
	chain_roots_free(r);
	minted_free(&m);
}

static void
debian_ca_bundle_loads_whole(void)
{
	struct chain_roots *r;
	CHECK(chain_roots_new(&r) == 0, "new");
	const char *why = NULL;
	long n = chain_roots_add_file(r, "/etc/ssl/certs/ca-certificates.crt", &why);
	if (n == -ENOENT) {
		printf("     (no /etc/ssl/certs/ca-certificates.crt here)\n");
	} else {
		CHECK(n > 50, "the system bundle loads (%ld roots; %s)", n, why ? why : "");
	}
	chain_roots_free(r);
}

int
main(void)
{
	RUN(roots_load_counts_each_root_once_and_refuses_corrupted_files);
	RUN(leaf_issued_by_root_is_accepted_with_or_without_the_root_and_repeats_trimmed);
	RUN(intermediate_chains_are_accepted_in_order_and_refused_out_of_order);
	RUN(precerts_need_add_pre_chain_and_certs_need_add_chain);
	RUN(psc_signed_precerts_take_the_final_issuers_key_hash);
	RUN(edge_cases_get_the_outcomes_production_logs_give);
	RUN(trillian_test_chains_are_accepted_and_misordered_ones_refused);
	RUN(minted_chains_verify_for_each_issuer_key_type_and_tampering_is_caught);
	RUN(ecdsa_signatures_that_are_not_canonical_der_are_refused);
	RUN(issuer_cache_makes_repeats_hits_and_different_issuers_misses);
	RUN(not_after_window_and_limits_are_enforced_with_reasons);
	RUN(debian_ca_bundle_loads_whole);
	return check_done();
}
