/* tools/test_load_mint.c: the load generator's minted chains pass Birch's chain check and
 * OpenSSL's own parse and verify (a second computation), are distinct, travel in request
 * bodies that json_chain_parse reads back, and its SCT check accepts a log's SCT and refuses
 * any change; the CA directory round-trips. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/b64.h"
#include "engine/chain.h"
#include "engine/ctenc.h"
#include "engine/ctsig.h"
#include "engine/json.h"
#include "tests/lib/check.h"
#include "tests/lib/tmpdir.h"
#include "tools/load_mint.h"

#define DAY 86400

static struct load_ca *ca; /* one CA for every case (RSA key generation is slow) */
static struct load_tmpl_opts topts;

static const char *const kind[2] = {"certificate", "precertificate"};

static struct load_tmpl *
tmpl_of(const struct load_ca *c, enum load_issuer i, bool precert, const struct load_tmpl_opts *o)
{
	struct load_tmpl *t = NULL;
	const char *why = NULL;
	if (load_tmpl_new(&t, c, i, precert, o, &why) != 0)
		check_harness(why ? why : "load_tmpl_new");
	return t;
}

static struct load_signer *
signer_of(const struct load_tmpl *t)
{
	struct load_signer *s = NULL;
	if (load_signer_new(&s, t) != 0)
		check_harness("load_signer_new");
	return s;
}

static struct chain_checker *
checker_for(const struct load_ca *c, struct chain_roots **roots, const struct chain_policy *pol)
{
	const char *why = NULL;
	struct der_span r = load_ca_root(c);
	struct chain_checker *ck = NULL;
	if (chain_roots_new(roots) != 0 || chain_roots_add_der(*roots, r.p, r.len, &why) != 1 ||
	    chain_checker_new(&ck, *roots, pol, 0) != 0)
		check_harness("chain roots or checker");
	return ck;
}

static void
spki_hash(const uint8_t *cert, size_t len, uint8_t out[32])
{
	const unsigned char *p = cert;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	unsigned char *spki = NULL;
	int n = x ? i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &spki) : -1;
	if (n <= 0)
		check_harness("issuer SPKI");
	SHA256(spki, (size_t)n, out);
	OPENSSL_free(spki);
	X509_free(x);
}

static void
minted_chains_pass_birch_chain_check(void)
{
	struct chain_policy pol = {topts.not_after, topts.not_after + 1};
	struct chain_roots *roots;
	struct chain_checker *ck = checker_for(ca, &roots, &pol);
	struct chain_policy closed = {topts.not_after + 1, INT64_MAX};
	struct chain_roots *roots2;
	struct chain_checker *ck_closed = checker_for(ca, &roots2, &closed);
	for (unsigned i = 0; i < LOAD_ISSUERS; i++) {
		struct der_span issuer = load_ca_issuer(ca, (enum load_issuer)i);
		uint8_t ikh[32];
		spki_hash(issuer.p, issuer.len, ikh);
		for (unsigned pre = 0; pre < 2; pre++) {
			struct load_tmpl *t = tmpl_of(ca, (enum load_issuer)i, pre, &topts);
			struct load_signer *s = signer_of(t);
			for (uint64_t n = 0; n < 4; n++) {
				uint8_t leaf[LOAD_LEAF_MAX];
				long len = load_mint_leaf(s, n * 1000003u + i, leaf, sizeof leaf);
				CHECK(len > 0, "%s %s: mint failed", load_issuer_name(i),
				      kind[pre]);
				if (len <= 0)
					continue;
				struct der_span chain[2] = {{leaf, (size_t)len}, issuer};
				struct chain_result res;
				const char *why = NULL;
				int rc = chain_check(ck, chain, 2, pre, &res, &why);
				CHECK(rc == 0, "%s %s %llu: chain_check %d (%s)",
				      load_issuer_name(i), kind[pre], (unsigned long long)n, rc,
				      why ? why : "");
				if (rc == 0) {
					CHECK(res.precert == (bool)pre, "precert flag");
					CHECK(res.nissuers == 2 && res.root_added,
					      "the root is added from the roots");
					CHECK_MEM(res.issuer_key_hash, ikh, 32,
					          "%s: issuer key hash", load_issuer_name(i));
				}
				/* The other endpoint refuses it: the poison decides. */
				rc = chain_check(ck, chain, 2, !pre, &res, &why);
				CHECK(rc == -EACCES, "%s %s on the wrong endpoint: %d",
				      load_issuer_name(i), kind[pre], rc);
				/* A shard whose window excludes the NotAfter refuses it. */
				rc = chain_check(ck_closed, chain, 2, pre, &res, &why);
				CHECK(rc == -EACCES, "%s %s outside the NotAfter window: %d",
				      load_issuer_name(i), kind[pre], rc);
				/* A flipped signature byte is caught. */
				leaf[len - 5] ^= 1;
				rc = chain_check(ck, chain, 2, pre, &res, &why);
				CHECK(rc != 0, "%s %s: tampered signature accepted",
				      load_issuer_name(i), kind[pre]);
			}
			load_signer_free(s);
			load_tmpl_free(t);
		}
	}
	chain_checker_free(ck);
	chain_roots_free(roots);
	chain_checker_free(ck_closed);
	chain_roots_free(roots2);
}

static void
minted_leaves_match_openssl_parse(void)
{
	ASN1_OBJECT *poison = OBJ_txt2obj("1.3.6.1.4.1.11129.2.4.3", 1);
	for (unsigned i = 0; i < LOAD_ISSUERS; i++) {
		struct der_span id = load_ca_issuer(ca, (enum load_issuer)i);
		const unsigned char *ip = id.p;
		X509 *issuer = d2i_X509(NULL, &ip, (long)id.len);
		if (!issuer)
			check_harness("issuer d2i");
		for (unsigned pre = 0; pre < 2; pre++) {
			struct load_tmpl *t = tmpl_of(ca, (enum load_issuer)i, pre, &topts);
			struct load_signer *s = signer_of(t);
			for (uint64_t k = 0; k < 3; k++) {
				uint64_t n = UINT64_C(0x0123456789abcdef) + k * 77;
				uint8_t leaf[LOAD_LEAF_MAX];
				long len = load_mint_leaf(s, n, leaf, sizeof leaf);
				const unsigned char *p = leaf;
				X509 *x = len > 0 ? d2i_X509(NULL, &p, len) : NULL;
				CHECK(x && p == leaf + len, "%s %s: d2i_X509 refuses the leaf",
				      load_issuer_name(i), kind[pre]);
				if (!x)
					continue;
				CHECK(X509_verify(x, X509_get0_pubkey(issuer)) == 1,
				      "%s %s: X509_verify with the issuer key", load_issuer_name(i),
				      kind[pre]);
				CHECK(X509_check_issued(issuer, x) == X509_V_OK, "%s: issued by",
				      load_issuer_name(i));
				/* Re-encoding gives the same bytes (DER, nothing OpenSSL re-sorts).
				 */
				unsigned char *re = NULL;
				int rl = i2d_X509(x, &re);
				CHECK(rl == len && memcmp(re, leaf, (size_t)len) == 0,
				      "%s %s: re-encoding differs", load_issuer_name(i), kind[pre]);
				OPENSSL_free(re);
				/* Serial, names, validity, poison. */
				uint8_t want[LOAD_SERIAL_LEN];
				load_tmpl_serial(t, n, want);
				BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
				uint8_t got[LOAD_SERIAL_LEN + 1];
				CHECK(bn && BN_num_bytes(bn) == LOAD_SERIAL_LEN &&
				              BN_bn2bin(bn, got) == LOAD_SERIAL_LEN &&
				              memcmp(got, want, LOAD_SERIAL_LEN) == 0,
				      "%s %s: serial", load_issuer_name(i), kind[pre]);
				BN_free(bn);
				char cn[128], want_cn[64];
				snprintf(want_cn, sizeof want_cn, "%016llx.load.birch.test",
				         (unsigned long long)n);
				CHECK(X509_NAME_get_text_by_NID(X509_get_subject_name(x),
				                                NID_commonName, cn,
				                                sizeof cn) > 0 &&
				              strcmp(cn, want_cn) == 0,
				      "CN %s", cn);
				CHECK(X509_check_host(x, want_cn, 0, 0, NULL) == 1, "SAN %s",
				      want_cn);
				CHECK(X509_cmp_time(X509_get0_notAfter(x),
				                    &(time_t){topts.not_after}) == 0 ||
				              ASN1_TIME_cmp_time_t(X509_get0_notAfter(x),
				                                   (time_t)topts.not_after) == 0,
				      "notAfter");
				int at = X509_get_ext_by_OBJ(x, poison, -1);
				if (pre)
					CHECK(at >= 0 && X509_EXTENSION_get_critical(
					                         X509_get_ext(x, at)),
					      "%s precertificate: critical poison",
					      load_issuer_name(i));
				else
					CHECK(at < 0, "%s certificate: no poison",
					      load_issuer_name(i));
				X509_free(x);
			}
			load_signer_free(s);
			load_tmpl_free(t);
		}
		X509_free(issuer);
	}
	ASN1_OBJECT_free(poison);
}

static int
cmp_hash(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

/* SHA-256 of every leaf of a set, sorted. */
static uint8_t (*set_hashes(const struct load_set *set))[32]
{
	uint8_t(*h)[32] = malloc(set->n * 32);
	if (!h)
		check_harness("out of memory");
	for (uint64_t i = 0; i < set->n; i++) {
		uint8_t leaf[LOAD_LEAF_MAX];
		long len = load_set_leaf(set, i, leaf, sizeof leaf);
		CHECK(len > 0, "request %llu: leaf does not decode", (unsigned long long)i);
		SHA256(leaf, len > 0 ? (size_t)len : 0, h[i]);
	}
	qsort(h, set->n, 32, cmp_hash);
	return h;
}

static void
set_mint(struct load_set *set, uint64_t n, uint64_t seed, unsigned threads)
{
	struct load_plan p = {
	        .n = n,
	        .weight = {1, 1, 1},
	        .precert_pct = 50,
	        .tmpl = topts,
	        .threads = threads,
	        .host = "127.0.0.1:6962",
	        .prefix = "/shard1",
	};
	p.tmpl.seed = seed;
	const char *why = NULL;
	int rc = load_set_mint(set, ca, &p, NULL, NULL, &why);
	if (rc != 0)
		check_harness(why ? why : "load_set_mint");
}

static void
minted_leaves_are_distinct(void)
{
	struct load_set a, b;
	set_mint(&a, 400, 7, 2);
	set_mint(&b, 400, 8, 2);
	uint64_t total = 0, per_kind[LOAD_ISSUERS][2] = {{0}};
	for (unsigned i = 0; i < LOAD_ISSUERS; i++)
		total += a.stats.count[i];
	CHECK(total == 400, "stats count %llu leaves", (unsigned long long)total);
	for (uint64_t i = 0; i < a.n; i++)
		per_kind[a.req[i].issuer % LOAD_ISSUERS][a.req[i].precert]++;
	for (unsigned i = 0; i < LOAD_ISSUERS; i++)
		for (unsigned k = 0; k < 2; k++)
			CHECK(per_kind[i][k] > 20, "the mix picks %s %s (%llu times)",
			      load_issuer_name(i), kind[k], (unsigned long long)per_kind[i][k]);
	uint8_t(*ha)[32] = set_hashes(&a);
	uint8_t(*hb)[32] = set_hashes(&b);
	size_t dup = 0, common = 0;
	for (uint64_t i = 1; i < a.n; i++)
		dup += memcmp(ha[i - 1], ha[i], 32) == 0;
	CHECK(dup == 0, "%zu duplicate leaves in one set", dup);
	/* Two seeds: no leaf in common (merge walk over the sorted lists). */
	for (uint64_t i = 0, j = 0; i < a.n && j < b.n;) {
		int c = memcmp(ha[i], hb[j], 32);
		if (c == 0) {
			common++;
			i++;
			j++;
		} else if (c < 0) {
			i++;
		} else {
			j++;
		}
	}
	CHECK(common == 0, "%zu leaves shared by two seeds", common);
	/* The same seed mints the same choices (reproducible runs). */
	struct load_set c;
	set_mint(&c, 400, 7, 1);
	size_t same = 0;
	for (uint64_t i = 0; i < a.n; i++)
		same += a.req[i].issuer == c.req[i].issuer && a.req[i].precert == c.req[i].precert;
	CHECK(same == a.n, "same seed, different mix (%zu of %llu)", same, (unsigned long long)a.n);
	free(ha);
	free(hb);
	load_set_free(&a);
	load_set_free(&b);
	load_set_free(&c);
}

static void
request_body_round_trips_through_json_chain_parse(void)
{
	struct load_set set;
	set_mint(&set, 90, 11, 2);
	static char req[16384];
	static uint8_t buf[16384];
	struct json_tok tok[JSON_CHAIN_TOKENS_MIN + 8];
	for (uint64_t i = 0; i < set.n; i++) {
		const struct load_req *r = &set.req[i];
		const char *slot = load_set_slot(&set, i);
		size_t tl = set.tail[r->issuer].len;
		if (r->len + tl >= sizeof req)
			check_harness("request too long for the test buffer");
		memcpy(req, slot, r->len);
		memcpy(req + r->len, set.tail[r->issuer].bytes, tl);
		size_t len = r->len + tl;
		req[len] = '\0';
		const char *want_line = r->precert ? "POST /shard1/ct/v1/add-pre-chain HTTP/1.1\r\n"
		                                   : "POST /shard1/ct/v1/add-chain HTTP/1.1\r\n";
		CHECK(strncmp(req, want_line, strlen(want_line)) == 0, "request line of %llu",
		      (unsigned long long)i);
		CHECK(strstr(req, "\r\nHost: 127.0.0.1:6962\r\n") != NULL, "Host header");
		const char *body = strstr(req, "\r\n\r\n");
		const char *cl = strstr(req, "\r\nContent-Length: ");
		if (!body || !cl) {
			CHECK(0, "request %llu has no header end or Content-Length",
			      (unsigned long long)i);
			continue;
		}
		body += 4;
		size_t blen = len - (size_t)(body - req);
		CHECK(strtoull(cl + 18, NULL, 10) == blen, "Content-Length %llu, body %zu",
		      strtoull(cl + 18, NULL, 10), blen);
		struct json_chain ch;
		const char *why = NULL;
		int rc = json_chain_parse(&ch, buf, sizeof buf, tok, sizeof tok / sizeof tok[0],
		                          body, blen, &why);
		CHECK(rc == 0 && ch.n == 2, "json_chain_parse %d (%s)", rc, why ? why : "");
		if (rc != 0)
			continue;
		uint8_t leaf[LOAD_LEAF_MAX];
		long ll = load_set_leaf(&set, i, leaf, sizeof leaf);
		struct der_span is = load_ca_issuer(ca, (enum load_issuer)r->issuer);
		CHECK(ll > 0 && ch.cert[0].len == (size_t)ll &&
		              memcmp(ch.cert[0].p, leaf, (size_t)ll) == 0,
		      "chain[0] is the leaf");
		CHECK(ch.cert[1].len == is.len && memcmp(ch.cert[1].p, is.p, is.len) == 0,
		      "chain[1] is the %s intermediate", load_issuer_name(r->issuer));
		struct der_cert w;
		CHECK(der_cert_walk(leaf, (size_t)ll, &w, &why) == 0 &&
		              !!(w.flags & DER_F_POISON) == r->precert,
		      "the leaf's poison matches the endpoint");
	}
	load_set_free(&set);
}

/* The JSON an RFC 6962 log returns for entry e signed by s. */
static size_t
sct_json(char *out, size_t cap, const uint8_t id[32], uint64_t ts, const uint8_t *ext,
         size_t ext_len, const uint8_t *dsig, size_t dsig_len)
{
	char idb[64], extb[64], sigb[256];
	b64_encode(idb, id, 32);
	b64_encode(extb, ext, ext_len);
	b64_encode(sigb, dsig, dsig_len);
	int n = snprintf(
	        out, cap,
	        "{\"sct_version\":0,\"id\":\"%s\",\"timestamp\":%llu,\"extensions\":\"%s\","
	        "\"signature\":\"%s\"}",
	        idb, (unsigned long long)ts, extb, sigb);
	if (n < 0 || (size_t)n >= cap)
		check_harness("SCT JSON too long");
	return (size_t)n;
}

/* The precert TBS by OpenSSL: the leaf without its poison extension, re-encoded. */
static size_t
openssl_precert_tbs(const uint8_t *leaf, size_t len, uint8_t *out, size_t cap)
{
	const unsigned char *p = leaf;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	ASN1_OBJECT *poison = OBJ_txt2obj("1.3.6.1.4.1.11129.2.4.3", 1);
	int at = x ? X509_get_ext_by_OBJ(x, poison, -1) : -1;
	X509_EXTENSION *e = at >= 0 ? X509_delete_ext(x, at) : NULL;
	unsigned char *tbs = NULL;
	int n = e ? i2d_re_X509_tbs(x, &tbs) : -1;
	if (n <= 0 || (size_t)n > cap)
		check_harness("OpenSSL precert TBS");
	memcpy(out, tbs, (size_t)n);
	OPENSSL_free(tbs);
	X509_EXTENSION_free(e);
	ASN1_OBJECT_free(poison);
	X509_free(x);
	return (size_t)n;
}

static void
sct_response_verifies(void)
{
	char *dir = tmpdir_make("load-sct");
	char path[4096];
	snprintf(path, sizeof path, "%s/log.pem", dir);
	const char *why = NULL;
	struct ctsig_key *key = NULL;
	struct ctsig_signer *sg = NULL;
	struct ctsig_pub *pub = NULL, *other = NULL;
	size_t spki_len = 0;
	if (ctsig_keygen(path, &why) != 0 || ctsig_key_load(&key, path, &why) != 0 ||
	    ctsig_signer_new(&sg, key) != 0)
		check_harness("log key");
	const uint8_t *spki = ctsig_key_spki(key, &spki_len);
	if (ctsig_pub_from_spki(&pub, spki, spki_len, &why) != 0)
		check_harness("log public key");
	/* Another log's key, for the wrong-log case. */
	snprintf(path, sizeof path, "%s/other.pem", dir);
	struct ctsig_key *okey = NULL;
	if (ctsig_keygen(path, &why) != 0 || ctsig_key_load(&okey, path, &why) != 0)
		check_harness("second log key");
	spki = ctsig_key_spki(okey, &spki_len);
	if (ctsig_pub_from_spki(&other, spki, spki_len, &why) != 0)
		check_harness("second public key");
	struct load_verifier *v = NULL;
	if (load_verifier_new(&v) != 0)
		check_harness("verifier");

	for (unsigned i = 0; i < LOAD_ISSUERS; i++) {
		struct der_span issuer = load_ca_issuer(ca, (enum load_issuer)i);
		uint8_t ikh[32];
		spki_hash(issuer.p, issuer.len, ikh);
		for (unsigned pre = 0; pre < 2; pre++) {
			struct load_tmpl *t = tmpl_of(ca, (enum load_issuer)i, pre, &topts);
			struct load_signer *s = signer_of(t);
			uint8_t leaf[LOAD_LEAF_MAX], tbs[LOAD_LEAF_MAX];
			long len = load_mint_leaf(s, 4242 + i, leaf, sizeof leaf);
			if (len <= 0)
				check_harness("mint");
			struct ctenc_entry e = {
			        .timestamp = UINT64_C(1767225600000) + i,
			        .type = CTENC_X509_ENTRY,
			        .cert = leaf,
			        .cert_len = (size_t)len,
			};
			if (pre) {
				e.type = CTENC_PRECERT_ENTRY;
				e.cert_len =
				        openssl_precert_tbs(leaf, (size_t)len, tbs, sizeof tbs);
				e.cert = tbs;
				memcpy(e.issuer_key_hash, ikh, 32);
			}
			uint8_t ext[CTENC_LEAF_INDEX_EXT];
			uint64_t index = 1000 + 2 * i + pre;
			if (ctenc_ext_leaf_index(ext, index) != CTENC_LEAF_INDEX_EXT)
				check_harness("leaf_index extension");
			e.ext = ext;
			e.ext_len = sizeof ext;
			uint8_t dsig[CTSIG_DSIG_MAX];
			long dl = ctsig_sct_sign(sg, dsig, sizeof dsig, &e);
			if (dl <= 0)
				check_harness("ctsig_sct_sign");
			char body[1024];
			size_t bl = sct_json(body, sizeof body, ctsig_key_log_id(key), e.timestamp,
			                     ext, sizeof ext, dsig, (size_t)dl);
			struct load_sct_info info;
			enum load_verdict vd = load_sct_check(v, pub, pre, leaf, (size_t)len, ikh,
			                                      body, bl, &info, &why);
			CHECK(vd == LOAD_SCT_OK, "%s %s: verdict %d (%s)", load_issuer_name(i),
			      kind[pre], vd, why ? why : "");
			CHECK(info.has_index && info.leaf_index == index &&
			              info.timestamp == e.timestamp,
			      "%s %s: leaf_index and timestamp", load_issuer_name(i), kind[pre]);
			/* The same SCT for the other entry type, or another log's key: refused. */
			vd = load_sct_check(v, pub, !pre, leaf, (size_t)len, ikh, body, bl, &info,
			                    &why);
			CHECK(vd == LOAD_SCT_BAD_SIG, "%s %s as the other type: %d",
			      load_issuer_name(i), kind[pre], vd);
			vd = load_sct_check(v, other, pre, leaf, (size_t)len, ikh, body, bl, &info,
			                    &why);
			CHECK(vd == LOAD_SCT_BAD_LOG_ID, "another log's key: %d", vd);
			/* Each signature byte flipped (past the algorithm and length bytes). */
			for (long k = 4; k < dl; k++) {
				dsig[k] ^= 0x01;
				bl = sct_json(body, sizeof body, ctsig_key_log_id(key), e.timestamp,
				              ext, sizeof ext, dsig, (size_t)dl);
				dsig[k] ^= 0x01;
				vd = load_sct_check(v, pub, pre, leaf, (size_t)len, ikh, body, bl,
				                    &info, &why);
				CHECK(vd == LOAD_SCT_BAD_SIG,
				      "%s %s: signature byte %ld flipped: %d", load_issuer_name(i),
				      kind[pre], k, vd);
			}
			/* A flipped timestamp, extension or leaf byte. */
			bl = sct_json(body, sizeof body, ctsig_key_log_id(key), e.timestamp ^ 1,
			              ext, sizeof ext, dsig, (size_t)dl);
			vd = load_sct_check(v, pub, pre, leaf, (size_t)len, ikh, body, bl, &info,
			                    &why);
			CHECK(vd == LOAD_SCT_BAD_SIG, "timestamp flipped: %d", vd);
			ext[7] ^= 1;
			bl = sct_json(body, sizeof body, ctsig_key_log_id(key), e.timestamp, ext,
			              sizeof ext, dsig, (size_t)dl);
			ext[7] ^= 1;
			vd = load_sct_check(v, pub, pre, leaf, (size_t)len, ikh, body, bl, &info,
			                    &why);
			CHECK(vd == LOAD_SCT_BAD_SIG, "leaf_index flipped: %d", vd);
			bl = sct_json(body, sizeof body, ctsig_key_log_id(key), e.timestamp, ext,
			              sizeof ext, dsig, (size_t)dl);
			leaf[len / 2] ^= 0x10;
			vd = load_sct_check(v, pub, pre, leaf, (size_t)len, ikh, body, bl, &info,
			                    &why);
			leaf[len / 2] ^= 0x10;
			CHECK(vd == LOAD_SCT_BAD_SIG || (pre && vd != LOAD_SCT_OK),
			      "leaf byte flipped: %d", vd);
			if (pre) {
				uint8_t wrong[32];
				memcpy(wrong, ikh, 32);
				wrong[0] ^= 1;
				vd = load_sct_check(v, pub, pre, leaf, (size_t)len, wrong, body, bl,
				                    &info, &why);
				CHECK(vd == LOAD_SCT_BAD_SIG, "issuer key hash flipped: %d", vd);
			}
			/* Not an SCT response. */
			vd = load_sct_check(v, pub, pre, leaf, (size_t)len, ikh, "{\"x\":1}", 7,
			                    &info, &why);
			CHECK(vd == LOAD_SCT_BAD_JSON, "not an SCT: %d", vd);
			vd = load_sct_check(v, pub, pre, leaf, (size_t)len, ikh, body, bl - 1,
			                    &info, &why);
			CHECK(vd == LOAD_SCT_BAD_JSON, "truncated JSON: %d", vd);
			load_signer_free(s);
			load_tmpl_free(t);
		}
	}
	/* An RFC 6962 log without leaf_index: valid, no index. */
	{
		struct load_tmpl *t = tmpl_of(ca, LOAD_P256, false, &topts);
		struct load_signer *s = signer_of(t);
		uint8_t leaf[LOAD_LEAF_MAX];
		long len = load_mint_leaf(s, 99, leaf, sizeof leaf);
		struct ctenc_entry e = {.timestamp = 5,
		                        .type = CTENC_X509_ENTRY,
		                        .cert = leaf,
		                        .cert_len = (size_t)len};
		uint8_t dsig[CTSIG_DSIG_MAX];
		long dl = ctsig_sct_sign(sg, dsig, sizeof dsig, &e);
		char body[1024];
		size_t bl = sct_json(body, sizeof body, ctsig_key_log_id(key), 5, NULL, 0, dsig,
		                     dl > 0 ? (size_t)dl : 0);
		struct load_sct_info info;
		uint8_t none[32] = {0};
		enum load_verdict vd = load_sct_check(v, pub, false, leaf, (size_t)len, none, body,
		                                      bl, &info, &why);
		CHECK(vd == LOAD_SCT_OK && !info.has_index, "SCT without extensions: %d", vd);
		load_signer_free(s);
		load_tmpl_free(t);
	}
	load_verifier_free(v);
	ctsig_pub_free(pub);
	ctsig_pub_free(other);
	ctsig_signer_free(sg);
	ctsig_key_free(key);
	ctsig_key_free(okey);
	tmpdir_remove(dir);
	free(dir);
}

static mode_t
mode_of(const char *dir, const char *name)
{
	char p[4096];
	struct stat st;
	snprintf(p, sizeof p, "%s%s%s", dir, name ? "/" : "", name ? name : "");
	return stat(p, &st) == 0 ? (st.st_mode & 07777) : (mode_t)-1;
}

static void
ca_dir_round_trip(void)
{
	char *base = tmpdir_make("load-ca");
	char dir[4096], other[4096], path[8192];
	snprintf(dir, sizeof dir, "%s/ca", base);
	const char *why = NULL;
	bool reused = true;
	int rc = load_ca_init_dir(dir, &reused, &why);
	CHECK(rc == 0 && !reused, "ca --out a new directory: %d (%s)", rc, why ? why : "");
	CHECK(mode_of(dir, NULL) == 0700, "directory mode %o", (unsigned)mode_of(dir, NULL));
	CHECK(mode_of(dir, "p384.key.pem") == 0600, "key mode %o",
	      (unsigned)mode_of(dir, "p384.key.pem"));
	struct load_ca *c1 = NULL, *c2 = NULL;
	rc = load_ca_load(&c1, dir, &why);
	CHECK(rc == 0, "load: %d (%s)", rc, why ? why : "");
	if (rc != 0)
		goto out;
	/* roots.pem, read by the log's own loader, accepts chains minted from the loaded CA. */
	struct chain_roots *roots = NULL;
	struct chain_checker *ck = NULL;
	struct chain_policy pol = {INT64_MIN, INT64_MAX};
	snprintf(path, sizeof path, "%s/roots.pem", dir);
	if (chain_roots_new(&roots) != 0)
		check_harness("roots");
	CHECK(chain_roots_add_file(roots, path, &why) == 1, "roots.pem holds one root");
	if (chain_checker_new(&ck, roots, &pol, 0) != 0)
		check_harness("checker");
	for (unsigned i = 0; i < LOAD_ISSUERS; i++) {
		struct load_tmpl *t = tmpl_of(c1, (enum load_issuer)i, i == 1, &topts);
		struct load_signer *s = signer_of(t);
		uint8_t leaf[LOAD_LEAF_MAX];
		long len = load_mint_leaf(s, 1, leaf, sizeof leaf);
		struct der_span chain[2] = {{leaf, len > 0 ? (size_t)len : 0},
		                            load_ca_issuer(c1, (enum load_issuer)i)};
		struct chain_result res;
		rc = chain_check(ck, chain, 2, i == 1, &res, &why);
		CHECK(rc == 0, "%s chain from the loaded CA: %d (%s)", load_issuer_name(i), rc,
		      why ? why : "");
		load_signer_free(s);
		load_tmpl_free(t);
	}
	chain_checker_free(ck);
	chain_roots_free(roots);
	/* ca --out again: reused, not regenerated. */
	rc = load_ca_init_dir(dir, &reused, &why);
	CHECK(rc == 0 && reused, "second ca --out: %d reused %d", rc, reused);
	rc = load_ca_load(&c2, dir, &why);
	struct der_span r1 = load_ca_root(c1), r2 = c2 ? load_ca_root(c2) : (struct der_span){0};
	CHECK(rc == 0 && r1.len == r2.len && memcmp(r1.p, r2.p, r1.len) == 0,
	      "the reused CA is the same CA");
	/* A CA missing a key is not complete: refused, and nothing in it is touched. */
	snprintf(path, sizeof path, "%s/p384.key.pem", dir);
	unlink(path);
	rc = load_ca_init_dir(dir, &reused, &why);
	CHECK(rc == -EEXIST, "incomplete CA directory: %d", rc);
	CHECK(access(path, F_OK) != 0, "nothing was written into it");
	/* Another non-empty directory is refused; an existing empty one is used. */
	snprintf(other, sizeof other, "%s/other", base);
	mkdir(other, 0755);
	snprintf(path, sizeof path, "%s/notes.txt", other);
	FILE *f = fopen(path, "w");
	if (f)
		fclose(f);
	rc = load_ca_init_dir(other, &reused, &why);
	CHECK(rc == -EEXIST, "non-empty directory: %d", rc);
	unlink(path);
	rc = load_ca_init_dir(other, &reused, &why);
	CHECK(rc == 0 && !reused && mode_of(other, NULL) == 0700,
	      "empty existing directory: %d, mode %o", rc, (unsigned)mode_of(other, NULL));
	snprintf(path, sizeof path, "%s/notes.txt", base);
	f = fopen(path, "w");
	if (f)
		fclose(f);
	rc = load_ca_init_dir(path, &reused, &why);
	CHECK(rc == -ENOTDIR, "a file: %d", rc);
out:
	load_ca_free(c1);
	load_ca_free(c2);
	tmpdir_remove(base);
	free(base);
}

/* ---- end to end: `birch load run` against a minimal RFC 6962 log in this process ---- */

/* The fake log answers add-chain / add-pre-chain like a log: json_chain_parse, chain_check,
 * an SCT signed with ctsig carrying a leaf_index. It misbehaves on purpose by request number
 * (1, 2, ... in arrival order). */
struct fake_log {
	int lfd;
	uint16_t port;
	pthread_t acceptor;
	pthread_mutex_t lock;
	pthread_t conn_th[512];
	unsigned nconn;
	const struct chain_roots *roots;
	const struct ctsig_key *key;
	_Atomic uint64_t counter, index;
	/* misbehaviour: every k-th request (0: never) */
	unsigned every_503, every_400, close_every, chunked_every, silent_close_every;
	uint64_t dup_at, badsig_at, stall_at; /* one request each (0: none) */
	char prefix[32];
	_Atomic uint64_t wrong_path; /* requests to a path the log does not serve */
};

struct fake_conn {
	struct fake_log *log;
	int fd;
};

static bool
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

static void
fake_answer(int fd, int status, const char *body, bool close_it, bool chunked)
{
	char head[256];
	const char *text = status == 200 ? "OK" : status == 400 ? "Bad Request" : "Unavailable";
	size_t bl = strlen(body);
	int n;
	if (chunked)
		n = snprintf(head, sizeof head,
		             "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
		             "Transfer-Encoding: chunked\r\n%s\r\n",
		             status, text, close_it ? "Connection: close\r\n" : "");
	else
		n = snprintf(head, sizeof head,
		             "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: "
		             "%zu\r\n%s\r\n",
		             status, text, bl, close_it ? "Connection: close\r\n" : "");
	write_all(fd, head, (size_t)n);
	if (!chunked) {
		write_all(fd, body, bl);
		return;
	}
	/* Two chunks and an empty trailer section. */
	size_t half = bl / 2;
	char ch[64];
	n = snprintf(ch, sizeof ch, "%zx;ext=1\r\n", half);
	write_all(fd, ch, (size_t)n);
	write_all(fd, body, half);
	n = snprintf(ch, sizeof ch, "\r\n%zx\r\n", bl - half);
	write_all(fd, ch, (size_t)n);
	write_all(fd, body + half, bl - half);
	write_all(fd, "\r\n0\r\n\r\n", 7);
}

static void *
fake_conn_main(void *arg)
{
	struct fake_conn *fc = arg;
	struct fake_log *log = fc->log;
	struct chain_policy pol = {INT64_MIN, INT64_MAX};
	struct chain_checker *ck = NULL;
	struct ctsig_signer *sg = NULL;
	static _Thread_local char buf[65536];
	static _Thread_local uint8_t der[65536], tbs[LOAD_LEAF_MAX + 64];
	struct json_tok tok[64];
	if (chain_checker_new(&ck, log->roots, &pol, 0) != 0 ||
	    ctsig_signer_new(&sg, log->key) != 0)
		goto out;
	size_t have = 0;
	for (;;) {
		/* One request: headers, then Content-Length bytes. */
		char *hend = NULL;
		while (!(hend = memmem(buf, have, "\r\n\r\n", 4))) {
			if (have == sizeof buf)
				goto out;
			ssize_t n = recv(fc->fd, buf + have, sizeof buf - have, 0);
			if (n <= 0)
				goto out;
			have += (size_t)n;
		}
		size_t head = (size_t)(hend + 4 - buf);
		const char *cl = strcasestr(buf, "\r\nContent-Length: ");
		size_t blen = cl && cl < hend ? strtoul(cl + 18, NULL, 10) : 0;
		if (head + blen > sizeof buf)
			goto out;
		while (have < head + blen) {
			ssize_t n = recv(fc->fd, buf + have, sizeof buf - have, 0);
			if (n <= 0)
				goto out;
			have += (size_t)n;
		}
		uint64_t k = atomic_fetch_add(&log->counter, 1) + 1;
		char path[96];
		bool pre = false;
		snprintf(path, sizeof path, "POST %s/ct/v1/add-pre-chain HTTP/1.1\r\n",
		         log->prefix);
		if (strncmp(buf, path, strlen(path)) == 0) {
			pre = true;
		} else {
			snprintf(path, sizeof path, "POST %s/ct/v1/add-chain HTTP/1.1\r\n",
			         log->prefix);
			if (strncmp(buf, path, strlen(path)) != 0)
				atomic_fetch_add(&log->wrong_path, 1);
		}
		bool close_it = log->close_every && k % log->close_every == 0;
		bool chunked = log->chunked_every && k % log->chunked_every == 0;
		bool silent = log->silent_close_every && k % log->silent_close_every == 0;
		char answer[1024];
		int status = 200;
		if (k == log->stall_at) {
			struct timespec ts = {1, 500000000};
			nanosleep(&ts, NULL);
			goto out;
		} else if (log->every_503 && k % log->every_503 == 0) {
			status = 503;
			snprintf(answer, sizeof answer, "busy");
		} else if (log->every_400 && k % log->every_400 == 0) {
			status = 400;
			snprintf(answer, sizeof answer, "chain: refused \"for the test\"");
		} else {
			struct json_chain chain;
			struct chain_result res;
			struct der_span spans[JSON_CHAIN_MAX];
			const char *why = NULL;
			if (json_chain_parse(&chain, der, sizeof der, tok, 64, buf + head, blen,
			                     &why) != 0) {
				status = 400;
				snprintf(answer, sizeof answer, "%s", why);
			} else {
				for (size_t i = 0; i < chain.n; i++)
					spans[i] = (struct der_span){chain.cert[i].p,
					                             chain.cert[i].len};
				if (chain_check(ck, spans, chain.n, pre, &res, &why) != 0) {
					status = 400;
					snprintf(answer, sizeof answer, "%s", why);
				}
			}
			if (status == 200) {
				struct ctenc_entry e = {
				        .timestamp = (uint64_t)time(NULL) * 1000,
				        .type = CTENC_X509_ENTRY,
				        .cert = spans[0].p,
				        .cert_len = spans[0].len,
				};
				if (pre) {
					long tl = der_precert_tbs(tbs, sizeof tbs, &res.leaf, NULL,
					                          &why);
					e.type = CTENC_PRECERT_ENTRY;
					e.cert = tbs;
					e.cert_len = tl > 0 ? (size_t)tl : 0;
					memcpy(e.issuer_key_hash, res.issuer_key_hash, 32);
				}
				uint64_t idx = k == log->dup_at ? atomic_load(&log->index) - 1
				                                : atomic_fetch_add(&log->index, 1);
				uint8_t ext[CTENC_LEAF_INDEX_EXT], dsig[CTSIG_DSIG_MAX];
				if (ctenc_ext_leaf_index(ext, idx) < 0)
					goto out;
				e.ext = ext;
				e.ext_len = sizeof ext;
				long dl = ctsig_sct_sign(sg, dsig, sizeof dsig, &e);
				if (dl <= 0)
					goto out;
				if (k == log->badsig_at)
					dsig[dl - 3] ^= 0x40;
				sct_json(answer, sizeof answer, ctsig_key_log_id(log->key),
				         e.timestamp, ext, sizeof ext, dsig, (size_t)dl);
			}
		}
		fake_answer(fc->fd, status, answer, close_it, chunked);
		memmove(buf, buf + head + blen, have - head - blen);
		have -= head + blen;
		if (close_it || silent)
			goto out;
	}
out:
	chain_checker_free(ck);
	ctsig_signer_free(sg);
	close(fc->fd);
	free(fc);
	return NULL;
}

static void *
fake_accept_main(void *arg)
{
	struct fake_log *log = arg;
	for (;;) {
		int fd = accept(log->lfd, NULL, NULL);
		if (fd < 0)
			break;
		int one = 1;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		struct fake_conn *fc = malloc(sizeof *fc);
		pthread_mutex_lock(&log->lock);
		bool room = fc && log->nconn < sizeof log->conn_th / sizeof log->conn_th[0];
		if (room) {
			*fc = (struct fake_conn){log, fd};
			room = pthread_create(&log->conn_th[log->nconn], NULL, fake_conn_main,
			                      fc) == 0;
			if (room)
				log->nconn++;
		}
		pthread_mutex_unlock(&log->lock);
		if (!room) {
			close(fd);
			free(fc);
		}
	}
	return NULL;
}

static void
fake_start(struct fake_log *log)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	log->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (log->lfd < 0 || bind(log->lfd, (struct sockaddr *)&a, sizeof a) != 0 ||
	    listen(log->lfd, 128) != 0 || getsockname(log->lfd, (struct sockaddr *)&a, &al) != 0)
		check_harness("fake log: listen");
	log->port = ntohs(a.sin_port);
	pthread_mutex_init(&log->lock, NULL);
	if (pthread_create(&log->acceptor, NULL, fake_accept_main, log) != 0)
		check_harness("fake log: thread");
}

static void
fake_stop(struct fake_log *log)
{
	shutdown(log->lfd, SHUT_RDWR);
	pthread_join(log->acceptor, NULL);
	close(log->lfd);
	for (unsigned i = 0; i < log->nconn; i++)
		pthread_join(log->conn_th[i], NULL);
	pthread_mutex_destroy(&log->lock);
}

/* Runs "$BIRCH_BIN load run ARGS" (stdout captured, stderr dropped); returns the exit status. */
static int
birch_load(char *out, size_t cap, const char *args)
{
	char cmd[4096];
	snprintf(cmd, sizeof cmd, "'%s' load run %s 2>/dev/null", getenv("BIRCH_BIN"), args);
	fflush(NULL);
	FILE *p = popen(cmd, "r");
	if (!p)
		check_harness("popen");
	size_t n = fread(out, 1, cap - 1, p);
	out[n] = '\0';
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A member of the report, by path "a" or "a.b"; UINT64_MAX when missing. */
static uint64_t
report_u64(const char *json, const char *path)
{
	static struct json_tok tok[256];
	struct json_doc d;
	uint32_t at = 0, v;
	uint64_t x;
	if (json_parse(&d, tok, 256, json, strlen(json), NULL) != 0)
		return UINT64_MAX;
	char key[64];
	snprintf(key, sizeof key, "%s", path);
	char *dot = strchr(key, '.');
	if (dot) {
		*dot = '\0';
		if (json_obj_get(&d, 0, key, &at, NULL) != 0)
			return UINT64_MAX;
		if (json_obj_get(&d, at, dot + 1, &v, NULL) != 0)
			return UINT64_MAX;
	} else if (json_obj_get(&d, 0, key, &v, NULL) != 0) {
		return UINT64_MAX;
	}
	if (d.tok[v].type == JSON_TRUE)
		return 1;
	if (d.tok[v].type == JSON_FALSE)
		return 0;
	return json_u64(&d, v, &x, NULL) == 0 ? x : UINT64_MAX - 1;
}

struct e2e {
	char *dir;
	char ca[4200], key[4200], pub[4200];
	struct load_ca *ca_loaded;
	struct chain_roots *roots;
	struct ctsig_key *log_key;
};

static bool
e2e_setup(struct e2e *e)
{
	const char *bin = getenv("BIRCH_BIN");
	if (!bin || access(bin, X_OK) != 0) {
		printf("     (BIRCH_BIN is not set or not built: end-to-end case not run)\n");
		return false;
	}
	memset(e, 0, sizeof *e);
	e->dir = tmpdir_make("load-e2e");
	snprintf(e->ca, sizeof e->ca, "%s/ca", e->dir);
	snprintf(e->key, sizeof e->key, "%s/log.pem", e->dir);
	snprintf(e->pub, sizeof e->pub, "%s/log.pub.pem", e->dir);
	const char *why = NULL;
	bool reused;
	if (load_ca_init_dir(e->ca, &reused, &why) != 0 ||
	    load_ca_load(&e->ca_loaded, e->ca, &why) != 0 || ctsig_keygen(e->key, &why) != 0 ||
	    ctsig_key_load(&e->log_key, e->key, &why) != 0)
		check_harness(why ? why : "e2e setup");
	struct der_span r = load_ca_root(e->ca_loaded);
	if (chain_roots_new(&e->roots) != 0 || chain_roots_add_der(e->roots, r.p, r.len, &why) != 1)
		check_harness("e2e roots");
	/* The public key as PEM, for --log-key given a public key. */
	size_t sl = 0;
	const unsigned char *spki = ctsig_key_spki(e->log_key, &sl);
	EVP_PKEY *pk = d2i_PUBKEY(NULL, &spki, (long)sl);
	FILE *f = fopen(e->pub, "w");
	if (!pk || !f || !PEM_write_PUBKEY(f, pk))
		check_harness("public key PEM");
	fclose(f);
	EVP_PKEY_free(pk);
	return true;
}

static void
e2e_free(struct e2e *e)
{
	chain_roots_free(e->roots);
	load_ca_free(e->ca_loaded);
	ctsig_key_free(e->log_key);
	tmpdir_remove(e->dir);
	free(e->dir);
}

static void
load_run_gets_every_sct_verified_from_a_well_behaved_log(void)
{
	struct e2e e;
	if (!e2e_setup(&e))
		return;
	struct fake_log log = {.roots = e.roots, .key = e.log_key, .prefix = "/shard"};
	log.silent_close_every = 37; /* the keep-alive race: retried, not an error */
	fake_start(&log);
	static char out[16384];
	char args[16384];
	snprintf(args, sizeof args,
	         "--url http://127.0.0.1:%u/shard/ --ca '%s' --log-key '%s' --requests 300 "
	         "--concurrency 8 --threads 2 --seed 5 --json",
	         log.port, e.ca, e.key);
	int rc = birch_load(out, sizeof out, args);
	CHECK(rc == 0, "closed loop: exit %d: %s", rc, out);
	CHECK(report_u64(out, "requests") == 300 && report_u64(out, "ok") == 300,
	      "300 requests, 300 ok: %s", out);
	CHECK(report_u64(out, "verify.with_leaf_index") == 300 &&
	              report_u64(out, "verify.leaf_index_distinct") == 1,
	      "leaf indexes: %s", out);
	static const char *const kinds[] = {
	        "connect",    "timeout",  "closed",     "http_400",      "http_503",
	        "http_other", "bad_json", "bad_log_id", "bad_signature", "duplicate_index"};
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		char p[64];
		snprintf(p, sizeof p, "errors.%s", kinds[i]);
		CHECK(report_u64(out, p) == 0, "%s: %llu", p,
		      (unsigned long long)report_u64(out, p));
	}
	CHECK(atomic_load(&log.counter) == 300 && atomic_load(&log.wrong_path) == 0,
	      "the log saw %llu requests, %llu to a wrong path",
	      (unsigned long long)atomic_load(&log.counter),
	      (unsigned long long)atomic_load(&log.wrong_path));
	/* Open loop, with the public key. */
	atomic_store(&log.counter, 0);
	snprintf(args, sizeof args,
	         "--url http://127.0.0.1:%u/shard --ca '%s' --log-key '%s' --rate 400 --duration 1 "
	         "--connections 4 --mix p256=3,rsa=1 --precerts 30 --json",
	         log.port, e.ca, e.pub);
	rc = birch_load(out, sizeof out, args);
	CHECK(rc == 0, "open loop: exit %d: %s", rc, out);
	CHECK(report_u64(out, "requests") == 400 && report_u64(out, "ok") == 400 &&
	              report_u64(out, "latency_ms.n") == 400,
	      "open loop, 400 requests: %s", out);
	CHECK(report_u64(out, "window_s") == UINT64_MAX - 1, "window_s is a number");
	fake_stop(&log);
	e2e_free(&e);
}

static void
load_run_counts_each_kind_of_failure(void)
{
	struct e2e e;
	if (!e2e_setup(&e))
		return;
	struct fake_log log = {.roots = e.roots, .key = e.log_key};
	log.every_503 = 7;
	log.every_400 = 11;
	log.close_every = 5;
	log.chunked_every = 3;
	log.dup_at = 50;
	log.badsig_at = 60;
	log.stall_at = 100;
	fake_start(&log);
	const uint64_t n = 200;
	uint64_t want503 = 0, want400 = 0;
	for (uint64_t k = 1; k <= n; k++) {
		if (k == log.stall_at)
			continue;
		if (k % 7 == 0)
			want503++;
		else if (k % 11 == 0)
			want400++;
	}
	static char out[16384];
	char args[16384];
	snprintf(args, sizeof args,
	         "--url http://127.0.0.1:%u --ca '%s' --log-key '%s' --requests %llu "
	         "--concurrency 4 --timeout 1 --json",
	         log.port, e.ca, e.key, (unsigned long long)n);
	int rc = birch_load(out, sizeof out, args);
	CHECK(rc == 1, "exit %d", rc);
	CHECK(report_u64(out, "requests") == n, "requests: %s", out);
	CHECK(report_u64(out, "errors.http_503") == want503, "503s (want %llu): %s",
	      (unsigned long long)want503, out);
	CHECK(report_u64(out, "errors.http_400") == want400, "400s (want %llu): %s",
	      (unsigned long long)want400, out);
	CHECK(strstr(out, "\"first_400\":\"chain: refused \\\"for the test\\\"\"") != NULL,
	      "the first 400's reason, escaped: %s", out);
	CHECK(report_u64(out, "errors.duplicate_index") == 1, "duplicate index: %s", out);
	CHECK(report_u64(out, "errors.bad_signature") == 1, "bad signature: %s", out);
	CHECK(report_u64(out, "errors.timeout") == 1, "timeout: %s", out);
	CHECK(report_u64(out, "errors.closed") == 0 && report_u64(out, "errors.connect") == 0 &&
	              report_u64(out, "errors.bad_json") == 0,
	      "no other errors: %s", out);
	CHECK(report_u64(out, "ok") == n - want503 - want400 - 3, "ok: %s", out);
	fake_stop(&log);

	/* Nothing listening: every request is a connect error. */
	snprintf(args, sizeof args,
	         "--url http://127.0.0.1:%u --ca '%s' --log-key '%s' --requests 50 --mix p256=1 "
	         "--json",
	         log.port, e.ca, e.key);
	rc = birch_load(out, sizeof out, args);
	CHECK(rc == 1 && report_u64(out, "errors.connect") == 50, "nothing listening: %d %s", rc,
	      out);
	/* Usage errors: exit 2, nothing on stdout. */
	static const char *const bad[] = {
	        "--mix rsa=x",
	        "--mix ecc=1",
	        "--rate 10 --concurrency 4",
	        "--duration 5 --requests 5",
	        "--precerts 101",
	        "--not-after 2026-02-30T00:00:00Z",
	        "--connections 2 --concurrency 4",
	        "--threads 0",
	        "--bogus 1",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(args, sizeof args, "--url http://127.0.0.1:1 --ca '%s' --log-key '%s' %s",
		         e.ca, e.key, bad[i]);
		rc = birch_load(out, sizeof out, args);
		CHECK(rc == 2 && out[0] == '\0', "'%s': exit %d", bad[i], rc);
	}
	snprintf(args, sizeof args, "--url http://127.0.0.1:1 --ca '%s' --log-key '%s/ca/rsa.pem'",
	         e.ca, e.dir);
	CHECK(birch_load(out, sizeof out, args) == 2, "--log-key not a log key");
	snprintf(args, sizeof args, "--url https://127.0.0.1:1 --ca '%s' --log-key '%s'", e.ca,
	         e.key);
	CHECK(birch_load(out, sizeof out, args) == 2, "https URL");
	snprintf(args, sizeof args, "--url http://127.0.0.1:1 --ca '%s' --log-key '%s'", e.dir,
	         e.key);
	CHECK(birch_load(out, sizeof out, args) == 2, "--ca not a CA directory");
	e2e_free(&e);
}

int
main(void)
{
	const char *why = NULL;
	if (load_ca_new(&ca, &why) != 0)
		check_harness(why ? why : "load_ca_new");
	int64_t now = (int64_t)time(NULL);
	topts = (struct load_tmpl_opts){now - 3600, now + 90 * DAY, 42};
	RUN(minted_chains_pass_birch_chain_check);
	RUN(minted_leaves_match_openssl_parse);
	RUN(minted_leaves_are_distinct);
	RUN(request_body_round_trips_through_json_chain_parse);
	RUN(sct_response_verifies);
	RUN(ca_dir_round_trip);
	RUN(load_run_gets_every_sct_verified_from_a_well_behaved_log);
	RUN(load_run_counts_each_kind_of_failure);
	load_ca_free(ca);
	return check_done();
}
