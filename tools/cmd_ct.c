/* tools/cmd_ct.c: birch keygen, birch ct leaf, birch ct verify-sct. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/b64.h"
#include "engine/ctenc.h"
#include "engine/ctsig.h"
#include "engine/der.h"
#include "engine/hex.h"
#include "engine/json.h"
#include "tools/cmd.h"

#define CT_FILE_MAX  (16u << 20) /* the largest chain, key or SCT file read */
#define CT_CHAIN_MAX 16

static const char keygen_usage[] =
        "usage: birch keygen --out KEY.pem\n"
        "\n"
        "Generates a log's ECDSA P-256 private key and writes it to KEY.pem (PKCS#8 PEM, mode\n"
        "0600; an existing file is never overwritten). Prints the log ID and the public key in\n"
        "base64 DER (SubjectPublicKeyInfo), as log lists carry them.\n"
        "Exit status: 0 written, 2 usage or the key cannot be written.\n";

static const char ct_usage[] =
        "usage: birch ct leaf --chain CHAIN.pem [--precert] [--timestamp MS] [--extensions HEX]\n"
        "       birch ct verify-sct --key PUB.pem --chain CHAIN.pem --sct FILE [--precert]\n"
        "\n"
        "leaf        prints the RFC 6962 MerkleTreeLeaf (hex) of the chain's first certificate\n"
        "            and its leaf hash, for the given SCT timestamp (default 0) and CtExtensions\n"
        "            (default none; a static-ct-api log's SCTs carry leaf_index). With --precert\n"
        "            (or when the leaf carries the CT poison) it is a precert_entry: the TBS\n"
        "            without the poison, rewritten for a Precertificate Signing Certificate, and\n"
        "            the issuer key hash of the final issuer, both taken from the chain.\n"
        "verify-sct  checks an SCT (binary TLS SignedCertificateTimestamp, or the RFC 6962 JSON\n"
        "            form of an add-chain response) against the log's public key (PEM; P-256 or\n"
        "            RSA) and the chain (the leaf and its issuers, PEM). Prints 'valid'.\n"
        "\n"
        "The chain is read as given: no chain validation against roots is done here.\n"
        "Exit status: 0 valid, 1 the SCT does not verify (the reason on stderr), 2 bad input\n"
        "or usage.\n";

int
cmd_keygen(int argc, char **argv)
{
	const char *out = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(keygen_usage, stdout);
			return 0;
		} else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
			out = argv[++i];
		} else {
			return cmd_usage_error("keygen",
			                       "unknown or incomplete argument '%s' (try --help)",
			                       argv[i]);
		}
	}
	if (!out)
		return cmd_usage_error("keygen", "--out KEY.pem is required (try --help)");
	const char *why = NULL;
	int rc = ctsig_keygen(out, &why);
	if (rc == -EEXIST)
		return cmd_usage_error("keygen", "%s: exists; birch keygen never overwrites a key",
		                       out);
	if (rc < 0)
		return cmd_usage_error("keygen", "%s: %s", out, why ? why : strerror(-rc));
	struct ctsig_key *k = NULL;
	rc = ctsig_key_load(&k, out, &why);
	if (rc < 0)
		return cmd_usage_error("keygen", "%s: written but cannot be read back: %s", out,
		                       why ? why : strerror(-rc));
	char id[B64_ENCODED_LEN(CTENC_HASH_LEN) + 1];
	char spki[CTSIG_SPKI_B64_MAX];
	b64_encode(id, ctsig_key_log_id(k), CTENC_HASH_LEN);
	long n = ctsig_key_spki_b64(spki, sizeof spki, k);
	ctsig_key_free(k);
	if (n < 0)
		return cmd_usage_error("keygen", "cannot encode the public key");
	printf("key     %s\nlog_id  %s\npublic  %s\n", out, id, spki);
	return 0;
}

/* The chain of a PEM file as DER spans into the (modified) file buffer. */
struct ct_chain {
	char *buf;
	struct der_span der[CT_CHAIN_MAX];
	size_t n;
	bool too_many;
};

static int
ct_chain_one(void *ctx, const uint8_t *der, size_t len, size_t i)
{
	struct ct_chain *c = ctx;
	if (c->n == CT_CHAIN_MAX) {
		c->too_many = true;
		return 1;
	}
	c->der[c->n].p = der;
	c->der[c->n].len = len;
	c->n++;
	return 0;
}

static int
ct_chain_read(const char *cmd, const char *path, struct ct_chain *c)
{
	memset(c, 0, sizeof *c);
	size_t len = 0;
	c->buf = cmd_read_file(path, CT_FILE_MAX, &len);
	if (!c->buf)
		return cmd_usage_error(cmd, "%s: %s", path, strerror(errno));
	const char *why = NULL;
	long n = der_pem_each(c->buf, len, ct_chain_one, c, &why);
	if (c->too_many)
		return cmd_usage_error(cmd, "%s: more than %d certificates", path, CT_CHAIN_MAX);
	if (n < 0)
		return cmd_usage_error(cmd, "%s: %s", path, why ? why : "not a PEM chain");
	if (c->n == 0)
		return cmd_usage_error(cmd, "%s: no CERTIFICATE blocks", path);
	return 0;
}

/* Builds the TimestampedEntry's signed part for the chain: x509 (the leaf DER) or precert (the
 * rewritten TBS and the final issuer's key hash). tbs must hold DER_CERT_MAX + 4096 bytes. */
static int
ct_entry_from_chain(const char *cmd, const struct ct_chain *c, bool precert, uint8_t *tbs,
                    struct ctenc_entry *e)
{
	struct der_cert leaf, psc;
	const char *why = NULL;
	if (der_cert_walk(c->der[0].p, c->der[0].len, &leaf, &why) != 0)
		return cmd_usage_error(cmd, "leaf certificate: %s", why);
	memset(e, 0, sizeof *e);
	if (!precert && !(leaf.flags & DER_F_POISON)) {
		e->type = CTENC_X509_ENTRY;
		e->cert = c->der[0].p;
		e->cert_len = c->der[0].len;
		return 0;
	}
	if (!(leaf.flags & DER_F_POISON))
		return cmd_usage_error(cmd, "--precert: the leaf has no CT poison extension");
	if (c->n < 2)
		return cmd_usage_error(cmd, "a precertificate needs its issuer in the chain");
	struct der_cert issuer;
	if (der_cert_walk(c->der[1].p, c->der[1].len, &issuer, &why) != 0)
		return cmd_usage_error(cmd, "issuer certificate: %s", why);
	const struct der_cert *pscp = NULL;
	const struct der_cert *final = &issuer;
	if (issuer.flags & DER_F_EKU_CT) { /* a Precertificate Signing Certificate */
		if (c->n < 3)
			return cmd_usage_error(
			        cmd, "the precertificate is signed by a Precertificate "
			             "Signing Certificate: the chain needs its issuer too");
		psc = issuer;
		pscp = &psc;
		if (der_cert_walk(c->der[2].p, c->der[2].len, &issuer, &why) != 0)
			return cmd_usage_error(cmd, "certificate 3: %s", why);
		final = &issuer;
	}
	long n = der_precert_tbs(tbs, DER_CERT_MAX + 4096, &leaf, pscp, &why);
	if (n < 0)
		return cmd_usage_error(cmd, "precertificate TBS: %s",
		                       why ? why : strerror((int)-n));
	e->type = CTENC_PRECERT_ENTRY;
	e->cert = tbs;
	e->cert_len = (size_t)n;
	ctenc_sha256(e->issuer_key_hash, final->spki_tlv.p, final->spki_tlv.len);
	return 0;
}

static int
ct_leaf(int argc, char **argv)
{
	const char *chain_path = NULL;
	bool precert = false;
	uint64_t ts = 0;
	const char *ext_hex = "";
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(ct_usage, stdout);
			return 0;
		} else if (strcmp(argv[i], "--chain") == 0 && i + 1 < argc) {
			chain_path = argv[++i];
		} else if (strcmp(argv[i], "--precert") == 0) {
			precert = true;
		} else if (strcmp(argv[i], "--timestamp") == 0 && i + 1 < argc) {
			if (!cmd_parse_u64(argv[++i], &ts))
				return cmd_usage_error("ct leaf",
				                       "--timestamp: '%s' is not milliseconds",
				                       argv[i]);
		} else if (strcmp(argv[i], "--extensions") == 0 && i + 1 < argc) {
			ext_hex = argv[++i];
		} else {
			return cmd_usage_error("ct leaf",
			                       "unknown or incomplete argument '%s' (try --help)",
			                       argv[i]);
		}
	}
	if (!chain_path)
		return cmd_usage_error("ct leaf", "--chain CHAIN.pem is required (try --help)");
	static uint8_t ext[CTENC_EXT_MAX];
	long elen = hex_decode(ext, sizeof ext, ext_hex, strlen(ext_hex), NULL);
	if (elen < 0)
		return cmd_usage_error("ct leaf", "--extensions: not hex of at most 65535 bytes");
	struct ct_chain c;
	int rc = ct_chain_read("ct leaf", chain_path, &c);
	static uint8_t tbs[DER_CERT_MAX + 4096];
	struct ctenc_entry e;
	if (rc == 0)
		rc = ct_entry_from_chain("ct leaf", &c, precert, tbs, &e);
	if (rc == 0) {
		e.timestamp = ts;
		e.ext = ext;
		e.ext_len = (size_t)elen;
		long len = ctenc_leaf_len(&e);
		uint8_t *leaf = len > 0 ? malloc((size_t)len) : NULL;
		char *hex = len > 0 ? malloc(2 * (size_t)len + 1) : NULL;
		uint8_t h[CTENC_HASH_LEN];
		char hh[2 * CTENC_HASH_LEN + 1];
		if (!leaf || !hex || ctenc_leaf(leaf, (size_t)len, &e) != len ||
		    ctenc_leaf_hash(h, &e) != 0) {
			rc = cmd_usage_error("ct leaf", "cannot encode the leaf");
		} else {
			hex_encode(hex, leaf, (size_t)len);
			hex_encode(hh, h, CTENC_HASH_LEN);
			printf("entry_type  %s\nleaf_hash   %s\nleaf        %s\n",
			       e.type == CTENC_PRECERT_ENTRY ? "precert_entry" : "x509_entry", hh,
			       hex);
		}
		free(leaf);
		free(hex);
	}
	free(c.buf);
	return rc;
}

/* An SCT file: JSON when its first non-space byte is '{', else binary TLS. */
static int
ct_sct_read(const char *path, struct ctenc_sct *sct, uint8_t **keep, const char **why)
{
	size_t len = 0;
	char *raw = cmd_read_file(path, CT_FILE_MAX, &len);
	*keep = (uint8_t *)raw;
	if (!raw) {
		*why = strerror(errno);
		return -EINVAL;
	}
	size_t i = 0;
	while (i < len && (raw[i] == ' ' || raw[i] == '\n' || raw[i] == '\r' || raw[i] == '\t'))
		i++;
	if (i == len || raw[i] != '{')
		return ctenc_sct_parse(sct, (const uint8_t *)raw, len, why);
	static struct json_tok tok[JSON_SHAPE_TOKENS];
	static uint8_t buf[JSON_SCT_EXT_MAX + JSON_SCT_SIG_MAX];
	struct json_sct js;
	int rc = json_sct_parse(&js, buf, sizeof buf, tok, JSON_SHAPE_TOKENS, raw, len, why);
	if (rc < 0)
		return rc;
	memcpy(sct->log_id, js.id, CTENC_HASH_LEN);
	sct->timestamp = js.timestamp;
	sct->ext = js.ext.p;
	sct->ext_len = js.ext.len;
	sct->dsig = js.sig.p;
	sct->dsig_len = js.sig.len;
	return 0;
}

static int
ct_verify_sct(int argc, char **argv)
{
	const char *key_path = NULL, *chain_path = NULL, *sct_path = NULL;
	bool precert = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(ct_usage, stdout);
			return 0;
		} else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc) {
			key_path = argv[++i];
		} else if (strcmp(argv[i], "--chain") == 0 && i + 1 < argc) {
			chain_path = argv[++i];
		} else if (strcmp(argv[i], "--sct") == 0 && i + 1 < argc) {
			sct_path = argv[++i];
		} else if (strcmp(argv[i], "--precert") == 0) {
			precert = true;
		} else {
			return cmd_usage_error("ct verify-sct",
			                       "unknown or incomplete argument '%s' (try --help)",
			                       argv[i]);
		}
	}
	if (!key_path || !chain_path || !sct_path)
		return cmd_usage_error("ct verify-sct",
		                       "--key, --chain and --sct are required (try "
		                       "--help)");
	size_t klen = 0;
	char *kpem = cmd_read_file(key_path, CT_FILE_MAX, &klen);
	if (!kpem)
		return cmd_usage_error("ct verify-sct", "%s: %s", key_path, strerror(errno));
	struct ctsig_pub *pub = NULL;
	const char *why = NULL;
	int rc = ctsig_pub_from_pem(&pub, kpem, klen, &why);
	free(kpem);
	if (rc < 0)
		return cmd_usage_error("ct verify-sct", "%s: %s", key_path, why ? why : "bad key");
	struct ct_chain c;
	uint8_t *keep = NULL;
	static uint8_t tbs[DER_CERT_MAX + 4096];
	struct ctenc_entry e;
	struct ctenc_sct sct;
	rc = ct_chain_read("ct verify-sct", chain_path, &c);
	if (rc == 0)
		rc = ct_entry_from_chain("ct verify-sct", &c, precert, tbs, &e);
	if (rc == 0 && ct_sct_read(sct_path, &sct, &keep, &why) < 0)
		rc = cmd_usage_error("ct verify-sct", "%s: %s", sct_path, why ? why : "bad SCT");
	if (rc == 0) {
		why = NULL;
		if (ctsig_sct_verify_tls(pub, &sct, &e, &why) == 0) {
			puts("valid");
		} else {
			fprintf(stderr, "birch ct verify-sct: invalid: %s\n",
			        why ? why : "signature does not verify");
			rc = EXIT_NEGATIVE;
		}
	}
	free(keep);
	free(c.buf);
	ctsig_pub_free(pub);
	return rc;
}

int
cmd_ct(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(ct_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	if (strcmp(argv[1], "leaf") == 0)
		return ct_leaf(argc - 1, argv + 1);
	if (strcmp(argv[1], "verify-sct") == 0)
		return ct_verify_sct(argc - 1, argv + 1);
	return cmd_usage_error("ct", "unknown subcommand '%s' (try --help)", argv[1]);
}
