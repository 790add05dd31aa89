/* tests/lib/mint.c: see mint.h. */
#include "tests/lib/mint.h"

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/check.h"

EVP_PKEY *
mint_key(enum mint_key_type t)
{
	EVP_PKEY *k = NULL;
	switch (t) {
	case MINT_RSA2048:
		k = EVP_RSA_gen(2048);
		break;
	case MINT_P256:
		k = EVP_EC_gen("P-256");
		break;
	case MINT_P384:
		k = EVP_EC_gen("P-384");
		break;
	}
	if (!k)
		check_harness("mint: key generation failed");
	return k;
}

static void
mint_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	if (!e || !X509_add_ext(x, e, -1))
		check_harness("mint: cannot add an extension");
	X509_EXTENSION_free(e);
}

/* The CT poison: OID 1.3.6.1.4.1.11129.2.4.3, value ASN.1 NULL. */
static void
mint_poison(X509 *x, bool critical)
{
	static const unsigned char null_der[] = {0x05, 0x00};
	ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.4.1.11129.2.4.3", 1);
	ASN1_OCTET_STRING *v = ASN1_OCTET_STRING_new();
	if (!oid || !v || !ASN1_OCTET_STRING_set(v, null_der, sizeof null_der))
		check_harness("mint: poison");
	X509_EXTENSION *e = X509_EXTENSION_create_by_OBJ(NULL, oid, critical, v);
	if (!e || !X509_add_ext(x, e, -1))
		check_harness("mint: poison");
	X509_EXTENSION_free(e);
	ASN1_OBJECT_free(oid);
	ASN1_OCTET_STRING_free(v);
}

X509 *
mint_cert(EVP_PKEY *subject_key, X509 *issuer, EVP_PKEY *issuer_key, const struct mint_opts *o)
{
	static long counter = 1000;
	struct mint_opts def = {0};
	if (!o)
		o = &def;
	X509 *x = X509_new();
	if (!x)
		check_harness("mint: X509_new");
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), o->serial ? o->serial : ++counter);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"Birch tests",
	                           -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	                           (const unsigned char *)(o->cn ? o->cn : "Birch test"), -1, -1,
	                           0);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
	ASN1_TIME_set(X509_getm_notBefore(x), (time_t)(o->not_before ? o->not_before : 1767225600));
	ASN1_TIME_set(X509_getm_notAfter(x), (time_t)(o->not_after ? o->not_after : 1798761600));
	X509_set_pubkey(x, subject_key);
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	if (!o->no_bc) {
		char bc[64];
		if (o->ca && o->path_len >= 0)
			snprintf(bc, sizeof bc, "critical,CA:TRUE,pathlen:%d", o->path_len);
		else
			snprintf(bc, sizeof bc, "critical,CA:%s", o->ca ? "TRUE" : "FALSE");
		mint_ext(x, &ctx, NID_basic_constraints, bc);
	}
	if (o->aki || o->ca)
		mint_ext(x, &ctx, NID_subject_key_identifier, "hash");
	if (o->aki && issuer && X509_get0_subject_key_id(issuer))
		mint_ext(x, &ctx, NID_authority_key_identifier, "keyid:always");
	if (o->eku_ct)
		mint_ext(x, &ctx, NID_ext_key_usage, "critical,1.3.6.1.4.1.11129.2.4.4");
	if (o->poison)
		mint_poison(x, !o->poison_noncritical);
	EVP_PKEY *signer = issuer_key ? issuer_key : subject_key;
	const EVP_MD *md = EVP_sha256();
	if (EVP_PKEY_get_base_id(signer) == EVP_PKEY_EC && EVP_PKEY_get_bits(signer) == 384)
		md = EVP_sha384();
	if (!X509_sign(x, signer, md))
		check_harness("mint: X509_sign");
	return x;
}

uint8_t *
mint_der(X509 *x, size_t *len)
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);
	if (n <= 0)
		check_harness("mint: i2d_X509");
	uint8_t *out = malloc((size_t)n);
	if (!out)
		check_harness("mint: out of memory");
	memcpy(out, der, (size_t)n);
	OPENSSL_free(der);
	*len = (size_t)n;
	return out;
}

char *
mint_pem(X509 *const *certs, size_t n)
{
	BIO *b = BIO_new(BIO_s_mem());
	for (size_t i = 0; i < n; i++)
		if (!PEM_write_bio_X509(b, certs[i]))
			check_harness("mint: PEM_write_bio_X509");
	char *data = NULL;
	long len = BIO_get_mem_data(b, &data);
	char *out = malloc((size_t)len + 1);
	if (!out)
		check_harness("mint: out of memory");
	memcpy(out, data, (size_t)len);
	out[len] = '\0';
	BIO_free(b);
	return out;
}
