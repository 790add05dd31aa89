/* tools/load_mint.c: the test CA, leaf templates, minting and SCT checks of `birch load`. See
 * load_mint.h. */
#include "tools/load_mint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gmp.h>
#include <nettle/dsa.h>
#include <nettle/ecc-curve.h>
#include <nettle/ecc.h>
#include <nettle/ecdsa.h>
#include <openssl/core_names.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/b64.h"
#include "engine/ctenc.h"
#include "engine/ctsig.h"
#include "engine/json.h"

#define CA_DAY       86400
#define CA_LIFETIME  (10 * 365 * CA_DAY)
#define CA_SERIAL    16
#define SIG_MAX      512 /* RSA-4096 would fit; ours are 256 (RSA-2048) or <= 104 (ECDSA) */
#define DIGEST_MAX   48
#define MINT_CHUNK   64  /* requests a minting thread takes at a time */
#define MINT_THREADS 256 /* the most minting threads */
#define NAME_SUFFIX  ".load.birch.test"

/* The serial of a template (found and patched in its TBS): positive, 16 bytes. */
static const uint8_t serial_marker[LOAD_SERIAL_LEN] = {0x42, 'I', 'R', 'C', 'H', '-', 'L', 'O',
                                                       'A',  'D', '-', 'S', 'E', 'R', 'I', 'L'};
static const char name_marker[LOAD_NAME_HEX + 1] = "zzzzzzzzzzzzzzzz";

static const char *const issuer_names[LOAD_ISSUERS] = {"rsa", "p256", "p384"};

const char *
load_issuer_name(enum load_issuer i)
{
	return (unsigned)i < LOAD_ISSUERS ? issuer_names[i] : "?";
}

/* ---- small helpers ---- */

static uint64_t
splitmix64(uint64_t x)
{
	x += UINT64_C(0x9e3779b97f4a7c15);
	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

static uint64_t
now_ns(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* DER definite length; returns the bytes written (out may be NULL to count). */
static size_t
der_len_put(uint8_t *out, size_t len)
{
	if (len < 0x80) {
		if (out)
			out[0] = (uint8_t)len;
		return 1;
	}
	size_t n = len < 0x100 ? 1 : len < 0x10000 ? 2 : 3;
	if (out) {
		out[0] = (uint8_t)(0x80 | n);
		for (size_t i = 0; i < n; i++)
			out[1 + i] = (uint8_t)(len >> (8 * (n - 1 - i)));
	}
	return 1 + n;
}

/* i2d of x into a malloc'd buffer (not OpenSSL's). */
static uint8_t *
x509_der(X509 *x, size_t *len)
{
	unsigned char *d = NULL;
	int n = i2d_X509(x, &d);
	if (n <= 0)
		return NULL;
	uint8_t *out = malloc((size_t)n);
	if (out) {
		memcpy(out, d, (size_t)n);
		*len = (size_t)n;
	}
	OPENSSL_free(d);
	return out;
}

static const EVP_MD *
md_for(EVP_PKEY *signer)
{
	if (EVP_PKEY_get_base_id(signer) == EVP_PKEY_EC && EVP_PKEY_get_bits(signer) == 384)
		return EVP_sha384();
	return EVP_sha256();
}

static int
ext_add(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	int ok = e && X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	return ok ? 0 : -EIO;
}

/* The CT poison (1.3.6.1.4.1.11129.2.4.3), critical, value ASN.1 NULL. */
static int
ext_poison(X509 *x)
{
	static const unsigned char null_der[] = {0x05, 0x00};
	ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.4.1.11129.2.4.3", 1);
	ASN1_OCTET_STRING *v = ASN1_OCTET_STRING_new();
	X509_EXTENSION *e = NULL;
	int ok = oid && v && ASN1_OCTET_STRING_set(v, null_der, sizeof null_der) &&
	         (e = X509_EXTENSION_create_by_OBJ(NULL, oid, 1, v)) && X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	ASN1_OBJECT_free(oid);
	ASN1_OCTET_STRING_free(v);
	return ok ? 0 : -EIO;
}

static int
set_serial(X509 *x, const uint8_t *bytes, size_t len)
{
	BIGNUM *bn = BN_bin2bn(bytes, (int)len, NULL);
	ASN1_INTEGER *ai = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
	int ok = ai && X509_set_serialNumber(x, ai);
	ASN1_INTEGER_free(ai);
	BN_free(bn);
	return ok ? 0 : -EIO;
}

static int
set_name(X509_NAME *name, const char *cn)
{
	if (!X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
	                                (const unsigned char *)"Birch load test", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
	                                0))
		return -EIO;
	return 0;
}

/* ---- the test CA ---- */

struct ca_cert {
	EVP_PKEY *key;
	X509 *cert;
	uint8_t *der;
	size_t len;
};

struct load_ca {
	struct ca_cert root;
	struct ca_cert inter[LOAD_ISSUERS];
};

static void
ca_cert_clear(struct ca_cert *c)
{
	EVP_PKEY_free(c->key);
	X509_free(c->cert);
	free(c->der);
	memset(c, 0, sizeof *c);
}

void
load_ca_free(struct load_ca *ca)
{
	if (!ca)
		return;
	ca_cert_clear(&ca->root);
	for (unsigned i = 0; i < LOAD_ISSUERS; i++)
		ca_cert_clear(&ca->inter[i]);
	free(ca);
}

struct der_span
load_ca_root(const struct load_ca *ca)
{
	return (struct der_span){ca->root.der, ca->root.len};
}

struct der_span
load_ca_issuer(const struct load_ca *ca, enum load_issuer i)
{
	return (struct der_span){ca->inter[i].der, ca->inter[i].len};
}

static EVP_PKEY *
key_gen(enum load_issuer t)
{
	switch (t) {
	case LOAD_RSA2048:
		return EVP_RSA_gen(2048);
	case LOAD_P256:
		return EVP_EC_gen("P-256");
	case LOAD_P384:
		return EVP_EC_gen("P-384");
	default:
		return NULL;
	}
}

/* A CA certificate for c->key, issued by issuer (NULL: self-signed). */
static int
ca_cert_make(struct ca_cert *c, const char *cn, const struct ca_cert *issuer)
{
	int64_t now = (int64_t)time(NULL);
	uint8_t serial[CA_SERIAL];
	X509 *x = X509_new();
	int rc = -EIO;
	if (!x || RAND_bytes(serial, sizeof serial) != 1)
		goto out;
	serial[0] = (uint8_t)(0x40 | (serial[0] & 0x3f));
	if (!X509_set_version(x, 2) || set_serial(x, serial, sizeof serial) != 0 ||
	    set_name(X509_get_subject_name(x), cn) != 0 ||
	    !X509_set_issuer_name(x, X509_get_subject_name(issuer ? issuer->cert : x)) ||
	    !ASN1_TIME_set(X509_getm_notBefore(x), (time_t)(now - CA_DAY)) ||
	    !ASN1_TIME_set(X509_getm_notAfter(x), (time_t)(now + CA_LIFETIME)) ||
	    !X509_set_pubkey(x, c->key))
		goto out;
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, issuer ? issuer->cert : x, x, NULL, NULL, 0);
	if (ext_add(x, &ctx, NID_basic_constraints,
	            issuer ? "critical,CA:TRUE,pathlen:0" : "critical,CA:TRUE") != 0 ||
	    ext_add(x, &ctx, NID_key_usage, "critical,digitalSignature,keyCertSign,cRLSign") != 0 ||
	    ext_add(x, &ctx, NID_subject_key_identifier, "hash") != 0 ||
	    (issuer && ext_add(x, &ctx, NID_authority_key_identifier, "keyid:always") != 0))
		goto out;
	EVP_PKEY *signer = issuer ? issuer->key : c->key;
	if (!X509_sign(x, signer, md_for(signer)))
		goto out;
	c->der = x509_der(x, &c->len);
	if (!c->der)
		goto out;
	c->cert = x;
	x = NULL;
	rc = 0;
out:
	X509_free(x);
	return rc;
}

int
load_ca_new(struct load_ca **out, const char **reason)
{
	static const char *const cns[LOAD_ISSUERS] = {
	        "Birch load test RSA-2048 intermediate",
	        "Birch load test P-256 intermediate",
	        "Birch load test P-384 intermediate",
	};
	*out = NULL;
	struct load_ca *ca = calloc(1, sizeof *ca);
	if (!ca)
		return -ENOMEM;
	ca->root.key = key_gen(LOAD_P256);
	if (!ca->root.key || ca_cert_make(&ca->root, "Birch load test root", NULL) != 0) {
		*reason = "root: key or certificate generation failed";
		load_ca_free(ca);
		return -EIO;
	}
	for (unsigned i = 0; i < LOAD_ISSUERS; i++) {
		ca->inter[i].key = key_gen((enum load_issuer)i);
		if (!ca->inter[i].key || ca_cert_make(&ca->inter[i], cns[i], &ca->root) != 0) {
			*reason = "intermediate: key or certificate generation failed";
			load_ca_free(ca);
			return -EIO;
		}
	}
	*out = ca;
	return 0;
}

/* The file names of the CA directory, and reasons naming them. */
struct ca_files {
	const char *cert, *key;
	const char *why_read, *why_match, *why_type, *why_sig, *why_write;
};

#define CA_FILES(name, what)                                                                       \
	{                                                                                          \
		name ".pem", name ".key.pem", name ".pem or " name ".key.pem: missing or not PEM", \
		        name ".key.pem: not the key of " name ".pem", name ".key.pem: not " what,  \
		        name ".pem: not a CA signed by the root",                                  \
		        name ".pem or " name ".key.pem: cannot write (exists?)"                    \
	}

static const struct ca_files root_files = CA_FILES("root", "a P-256 key");
static const struct ca_files inter_files[LOAD_ISSUERS] = {
        CA_FILES("rsa", "an RSA-2048 key"),
        CA_FILES("p256", "a P-256 key"),
        CA_FILES("p384", "a P-384 key"),
};

static int
write_new(const char *dir, const char *name, const char *data, size_t len, mode_t mode)
{
	char path[4096];
	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
		return -ENAMETOOLONG;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	size_t done = 0;
	while (done < len) {
		ssize_t n = write(fd, data + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? -errno : -EIO;
			close(fd);
			return e;
		}
		done += (size_t)n;
	}
	if (fsync(fd) != 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return close(fd) == 0 ? 0 : -errno;
}

/* Writes a PEM of a certificate or a key (exactly one non-NULL) to dir/name. */
static int
write_pem(const char *dir, const char *name, X509 *x, EVP_PKEY *k)
{
	BIO *b = BIO_new(BIO_s_mem());
	if (!b)
		return -ENOMEM;
	int ok = x ? PEM_write_bio_X509(b, x)
	           : PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
	char *data = NULL;
	long len = ok ? BIO_get_mem_data(b, &data) : -1;
	int rc = len > 0 ? write_new(dir, name, data, (size_t)len, k ? 0600 : 0644) : -EIO;
	BIO_free(b);
	return rc;
}

int
load_ca_save(const struct load_ca *ca, const char *dir, const char **reason)
{
	const struct ca_cert *c[1 + LOAD_ISSUERS] = {&ca->root, &ca->inter[0], &ca->inter[1],
	                                             &ca->inter[2]};
	const struct ca_files *f[1 + LOAD_ISSUERS] = {&root_files, &inter_files[0], &inter_files[1],
	                                              &inter_files[2]};
	for (unsigned i = 0; i < 1 + LOAD_ISSUERS; i++) {
		int rc = write_pem(dir, f[i]->key, NULL, c[i]->key);
		if (rc == 0)
			rc = write_pem(dir, f[i]->cert, c[i]->cert, NULL);
		if (rc != 0) {
			*reason = f[i]->why_write;
			return rc;
		}
	}
	int rc = write_pem(dir, "roots.pem", ca->root.cert, NULL);
	if (rc != 0)
		*reason = "roots.pem: cannot write (exists?)";
	if (rc == 0) {
		int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0) {
			(void)fsync(fd);
			close(fd);
		}
	}
	return rc;
}

static X509 *
read_cert(const char *dir, const char *name)
{
	char path[4096];
	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
		return NULL;
	BIO *b = BIO_new_file(path, "r");
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	return x;
}

static EVP_PKEY *
read_key(const char *dir, const char *name)
{
	char path[4096];
	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
		return NULL;
	BIO *b = BIO_new_file(path, "r");
	EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	return k;
}

static bool
key_is(EVP_PKEY *k, enum load_issuer t)
{
	int id = EVP_PKEY_get_base_id(k), bits = EVP_PKEY_get_bits(k);
	switch (t) {
	case LOAD_RSA2048:
		return id == EVP_PKEY_RSA && bits == 2048;
	case LOAD_P256:
		return id == EVP_PKEY_EC && bits == 256;
	case LOAD_P384:
		return id == EVP_PKEY_EC && bits == 384;
	default:
		return false;
	}
}

static int
ca_cert_read(struct ca_cert *c, const char *dir, const struct ca_files *f, enum load_issuer t,
             const struct ca_cert *root, const char **reason)
{
	c->cert = read_cert(dir, f->cert);
	c->key = read_key(dir, f->key);
	if (!c->cert || !c->key) {
		*reason = f->why_read;
		return -EINVAL;
	}
	if (!key_is(c->key, t)) {
		*reason = f->why_type;
		return -EINVAL;
	}
	if (X509_check_private_key(c->cert, c->key) != 1) {
		*reason = f->why_match;
		return -EINVAL;
	}
	if (root && (X509_check_ca(c->cert) < 1 || X509_verify(c->cert, root->key) != 1 ||
	             X509_NAME_cmp(X509_get_issuer_name(c->cert),
	                           X509_get_subject_name(root->cert)) != 0)) {
		*reason = f->why_sig;
		return -EINVAL;
	}
	c->der = x509_der(c->cert, &c->len);
	if (!c->der)
		return -ENOMEM;
	return 0;
}

int
load_ca_load(struct load_ca **out, const char *dir, const char **reason)
{
	*out = NULL;
	struct load_ca *ca = calloc(1, sizeof *ca);
	if (!ca)
		return -ENOMEM;
	int rc = ca_cert_read(&ca->root, dir, &root_files, LOAD_P256, NULL, reason);
	for (unsigned i = 0; rc == 0 && i < LOAD_ISSUERS; i++)
		rc = ca_cert_read(&ca->inter[i], dir, &inter_files[i], (enum load_issuer)i,
		                  &ca->root, reason);
	if (rc == 0) {
		X509 *r = read_cert(dir, "roots.pem");
		if (!r || X509_cmp(r, ca->root.cert) != 0) {
			*reason = "roots.pem: missing or not root.pem";
			rc = -EINVAL;
		}
		X509_free(r);
	}
	if (rc != 0) {
		load_ca_free(ca);
		return rc;
	}
	*out = ca;
	return 0;
}

int
load_ca_init_dir(const char *dir, bool *reused, const char **reason)
{
	*reused = false;
	struct stat st;
	if (stat(dir, &st) != 0) {
		if (errno != ENOENT) {
			*reason = "cannot stat the directory";
			return -errno;
		}
		if (mkdir(dir, 0700) != 0) {
			*reason = "cannot create the directory";
			return -errno;
		}
	} else {
		if (!S_ISDIR(st.st_mode)) {
			*reason = "exists and is not a directory";
			return -ENOTDIR;
		}
		DIR *d = opendir(dir);
		if (!d) {
			*reason = "cannot read the directory";
			return -errno;
		}
		size_t entries = 0;
		for (struct dirent *e; (e = readdir(d)) != NULL;)
			if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
				entries++;
		closedir(d);
		if (entries > 0) {
			struct load_ca *ca = NULL;
			const char *why = NULL;
			if (load_ca_load(&ca, dir, &why) == 0) {
				load_ca_free(ca);
				*reused = true;
				return 0;
			}
			*reason = "not empty and not a complete test CA";
			return -EEXIST;
		}
		if (chmod(dir, 0700) != 0) {
			*reason = "cannot set the directory's mode to 0700";
			return -errno;
		}
	}
	struct load_ca *ca = NULL;
	int rc = load_ca_new(&ca, reason);
	if (rc == 0)
		rc = load_ca_save(ca, dir, reason);
	load_ca_free(ca);
	return rc;
}

/* ---- leaf templates ---- */

struct load_tmpl {
	enum load_issuer issuer;
	bool precert;
	EVP_PKEY *key; /* the issuer's, up-referenced */
	const EVP_MD *md;
	uint8_t *tbs; /* the template TBSCertificate DER */
	size_t tbs_len;
	size_t serial_off;  /* offset of the 16 serial content bytes in tbs */
	size_t name_off[2]; /* the hex name in CN and SAN */
	uint8_t alg[64];    /* the outer AlgorithmIdentifier DER */
	size_t alg_len;
	size_t sig_max;
	uint8_t serial_prefix[LOAD_SERIAL_LEN / 2];
};

void
load_tmpl_free(struct load_tmpl *t)
{
	if (!t)
		return;
	EVP_PKEY_free(t->key);
	free(t->tbs);
	free(t);
}

void
load_tmpl_serial(const struct load_tmpl *t, uint64_t n, uint8_t out[LOAD_SERIAL_LEN])
{
	memcpy(out, t->serial_prefix, sizeof t->serial_prefix);
	for (unsigned i = 0; i < 8; i++)
		out[8 + i] = (uint8_t)(n >> (56 - 8 * i));
}

/* Certificate DER from tbs, the template's AlgorithmIdentifier and sig. Length or -ENOSPC. */
static long
cert_assemble(uint8_t *out, size_t cap, const struct load_tmpl *t, const uint8_t *tbs,
              const uint8_t *sig, size_t sig_len)
{
	size_t bits = 1 + sig_len;
	size_t content = t->tbs_len + t->alg_len + 1 + der_len_put(NULL, bits) + bits;
	size_t total = 1 + der_len_put(NULL, content) + content;
	if (total > cap)
		return -ENOSPC;
	uint8_t *p = out;
	*p++ = DER_TAG_SEQUENCE;
	p += der_len_put(p, content);
	memcpy(p, tbs, t->tbs_len);
	p += t->tbs_len;
	memcpy(p, t->alg, t->alg_len);
	p += t->alg_len;
	*p++ = DER_TAG_BIT_STRING;
	p += der_len_put(p, bits);
	*p++ = 0; /* no unused bits */
	memcpy(p, sig, sig_len);
	return (long)total;
}

/* Offsets of every occurrence of needle in hay; returns their count (at most max stored). */
static size_t
find_all(const uint8_t *hay, size_t len, const void *needle, size_t nlen, size_t *off, size_t max)
{
	size_t count = 0;
	for (size_t i = 0; i + nlen <= len; i++) {
		if (memcmp(hay + i, needle, nlen) == 0) {
			if (count < max)
				off[count] = i;
			count++;
		}
	}
	return count;
}

int
load_tmpl_new(struct load_tmpl **out, const struct load_ca *ca, enum load_issuer i, bool precert,
              const struct load_tmpl_opts *o, const char **reason)
{
	*out = NULL;
	if ((unsigned)i >= LOAD_ISSUERS || o->not_after <= o->not_before) {
		*reason = "template: bad issuer or validity";
		return -EINVAL;
	}
	const struct ca_cert *issuer = &ca->inter[i];
	struct load_tmpl *t = calloc(1, sizeof *t);
	EVP_PKEY *leaf_key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	unsigned char *tbs = NULL, *alg = NULL;
	uint8_t *full = NULL;
	int rc = -EIO;
	*reason = "template: OpenSSL failed to build the leaf";
	if (!t || !leaf_key || !x) {
		rc = -ENOMEM;
		goto out;
	}
	t->issuer = i;
	t->precert = precert;
	t->key = issuer->key;
	EVP_PKEY_up_ref(t->key);
	t->md = md_for(t->key);
	t->sig_max = (size_t)EVP_PKEY_get_size(t->key);
	uint64_t s = splitmix64(o->seed ^ (UINT64_C(0x5e41a1) + (uint64_t)i));
	for (unsigned k = 0; k < sizeof t->serial_prefix; k++)
		t->serial_prefix[k] = (uint8_t)(s >> (56 - 8 * k));
	t->serial_prefix[0] = (uint8_t)(0x40 | (t->serial_prefix[0] & 0x3f));

	char cn[LOAD_NAME_HEX + sizeof NAME_SUFFIX], san[sizeof cn + 4];
	snprintf(cn, sizeof cn, "%s%s", name_marker, NAME_SUFFIX);
	snprintf(san, sizeof san, "DNS:%s", cn);
	if (!X509_set_version(x, 2) || set_serial(x, serial_marker, sizeof serial_marker) != 0 ||
	    !X509_set_issuer_name(x, X509_get_subject_name(issuer->cert)) ||
	    set_name(X509_get_subject_name(x), cn) != 0 ||
	    !ASN1_TIME_set(X509_getm_notBefore(x), (time_t)o->not_before) ||
	    !ASN1_TIME_set(X509_getm_notAfter(x), (time_t)o->not_after) ||
	    !X509_set_pubkey(x, leaf_key))
		goto out;
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, issuer->cert, x, NULL, NULL, 0);
	if (ext_add(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
	    ext_add(x, &ctx, NID_key_usage, "critical,digitalSignature") != 0 ||
	    ext_add(x, &ctx, NID_ext_key_usage, "serverAuth") != 0 ||
	    ext_add(x, &ctx, NID_subject_key_identifier, "hash") != 0 ||
	    ext_add(x, &ctx, NID_authority_key_identifier, "keyid:always") != 0 ||
	    ext_add(x, &ctx, NID_subject_alt_name, san) != 0 || (precert && ext_poison(x) != 0))
		goto out;
	if (!X509_sign(x, t->key, t->md))
		goto out;
	int n = i2d_re_X509_tbs(x, &tbs);
	const ASN1_BIT_STRING *psig = NULL;
	const X509_ALGOR *palg = NULL;
	X509_get0_signature(&psig, &palg, x);
	int an = palg ? i2d_X509_ALGOR(palg, &alg) : -1;
	if (n <= 0 || an <= 0 || (size_t)an > sizeof t->alg)
		goto out;
	t->tbs = malloc((size_t)n);
	if (!t->tbs) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(t->tbs, tbs, (size_t)n);
	t->tbs_len = (size_t)n;
	memcpy(t->alg, alg, (size_t)an);
	t->alg_len = (size_t)an;

	/* Find the patch points: the serial INTEGER once, the name twice (CN, SAN). */
	uint8_t serial_tlv[2 + LOAD_SERIAL_LEN] = {DER_TAG_INTEGER, LOAD_SERIAL_LEN};
	memcpy(serial_tlv + 2, serial_marker, LOAD_SERIAL_LEN);
	size_t off[3];
	*reason = "template: marker serial or name not found exactly where expected";
	if (find_all(t->tbs, t->tbs_len, serial_tlv, sizeof serial_tlv, off, 3) != 1)
		goto out;
	t->serial_off = off[0] + 2;
	if (find_all(t->tbs, t->tbs_len, name_marker, LOAD_NAME_HEX, off, 3) != 2)
		goto out;
	t->name_off[0] = off[0];
	t->name_off[1] = off[1];

	/* Self-check: our assembly of OpenSSL's own signature gives OpenSSL's certificate. */
	size_t full_len = 0;
	full = x509_der(x, &full_len);
	uint8_t mine[LOAD_LEAF_MAX];
	long m = full && psig ? cert_assemble(mine, sizeof mine, t, t->tbs, psig->data,
	                                      (size_t)psig->length)
	                      : -EIO;
	*reason = "template: the certificate assembly does not match OpenSSL's";
	if (m < 0 || (size_t)m != full_len || memcmp(mine, full, full_len) != 0 ||
	    full_len + t->sig_max + 8 > LOAD_LEAF_MAX)
		goto out;
	*out = t;
	t = NULL;
	rc = 0;
	*reason = NULL;
out:
	OPENSSL_free(tbs);
	OPENSSL_free(alg);
	free(full);
	X509_free(x);
	EVP_PKEY_free(leaf_key);
	load_tmpl_free(t);
	return rc;
}

/* ---- signers ---- */

struct load_signer {
	const struct load_tmpl *t;
	EVP_PKEY_CTX *pctx;
	uint8_t *tbs; /* a private copy of the template's TBS, patched per leaf */
	bool nettle;  /* P-384: nettle signs (see below) */
	bool rand_failed;
	struct ecc_scalar nkey;
	struct dsa_signature nsig;
};

/* P-384 signing goes through nettle: OpenSSL 3.0 has no dedicated P-384 code and signs about
 * 1.2k/s per core here, nettle 3.8 about 5.5-6k/s (measured on the 2-core dev VM). The nonce
 * comes from OpenSSL's CSPRNG. */
static void
nettle_random(void *ctx, size_t len, uint8_t *dst)
{
	struct load_signer *s = ctx;
	if (RAND_bytes(dst, (int)len) != 1) {
		s->rand_failed = true;
		memset(dst, 0, len);
	}
}

static int
nettle_key_init(struct load_signer *s)
{
	BIGNUM *bn = NULL;
	uint8_t b[48];
	mpz_t z;
	if (!EVP_PKEY_get_bn_param(s->t->key, OSSL_PKEY_PARAM_PRIV_KEY, &bn) ||
	    BN_bn2binpad(bn, b, sizeof b) != (int)sizeof b) {
		BN_clear_free(bn);
		return -EIO;
	}
	BN_clear_free(bn);
	mpz_init(z);
	mpz_import(z, sizeof b, 1, 1, 1, 0, b);
	OPENSSL_cleanse(b, sizeof b);
	ecc_scalar_init(&s->nkey, nettle_get_secp_384r1());
	dsa_signature_init(&s->nsig);
	s->nettle = true;
	int ok = ecc_scalar_set(&s->nkey, z);
	mpz_clear(z);
	return ok ? 0 : -EIO;
}

/* An INTEGER from a positive mpz: minimal, with a 0x00 when the top bit is set. */
static size_t
der_mpz(uint8_t *out, const mpz_t v)
{
	uint8_t b[64];
	size_t n = 0;
	mpz_export(b, &n, 1, 1, 1, 0, v);
	size_t pad = n == 0 || (b[0] & 0x80);
	out[0] = DER_TAG_INTEGER;
	out[1] = (uint8_t)(n + pad);
	out[2] = 0;
	memcpy(out + 2 + pad, b, n);
	return 2 + pad + n;
}

/* Ecdsa-Sig-Value DER of (r, s) for P-384: at most 2 + 2 * (2 + 49) = 104 bytes. */
static size_t
der_ecdsa_sig(uint8_t *out, const struct dsa_signature *sig)
{
	uint8_t body[2 * 51];
	size_t n = der_mpz(body, sig->r);
	n += der_mpz(body + n, sig->s);
	size_t h = 1 + der_len_put(NULL, n);
	out[0] = DER_TAG_SEQUENCE;
	der_len_put(out + 1, n);
	memcpy(out + h, body, n);
	return h + n;
}

int
load_signer_new(struct load_signer **out, const struct load_tmpl *t)
{
	*out = NULL;
	struct load_signer *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->t = t;
	s->tbs = malloc(t->tbs_len);
	if (!s->tbs) {
		load_signer_free(s);
		return -ENOMEM;
	}
	int rc = 0;
	if (t->issuer == LOAD_P384) {
		rc = nettle_key_init(s);
	} else {
		s->pctx = EVP_PKEY_CTX_new_from_pkey(NULL, t->key, NULL);
		if (!s->pctx || EVP_PKEY_sign_init(s->pctx) != 1 ||
		    EVP_PKEY_CTX_set_signature_md(s->pctx, t->md) != 1 ||
		    (EVP_PKEY_get_base_id(t->key) == EVP_PKEY_RSA &&
		     EVP_PKEY_CTX_set_rsa_padding(s->pctx, RSA_PKCS1_PADDING) != 1))
			rc = -EIO;
	}
	if (rc != 0) {
		load_signer_free(s);
		return rc;
	}
	memcpy(s->tbs, t->tbs, t->tbs_len);
	*out = s;
	return 0;
}

void
load_signer_free(struct load_signer *s)
{
	if (!s)
		return;
	EVP_PKEY_CTX_free(s->pctx);
	if (s->nettle) {
		ecc_scalar_clear(&s->nkey);
		dsa_signature_clear(&s->nsig);
	}
	free(s->tbs);
	free(s);
}

long
load_mint_leaf(struct load_signer *s, uint64_t n, uint8_t *out, size_t cap)
{
	static const char hexd[] = "0123456789abcdef";
	const struct load_tmpl *t = s->t;
	load_tmpl_serial(t, n, s->tbs + t->serial_off);
	for (unsigned k = 0; k < 2; k++)
		for (unsigned j = 0; j < LOAD_NAME_HEX; j++)
			s->tbs[t->name_off[k] + j] = (uint8_t)hexd[(n >> (60 - 4 * j)) & 15];
	uint8_t digest[DIGEST_MAX];
	size_t dlen = (size_t)EVP_MD_get_size(t->md);
	if (dlen == 48)
		SHA384(s->tbs, t->tbs_len, digest);
	else
		SHA256(s->tbs, t->tbs_len, digest);
	uint8_t sig[SIG_MAX];
	size_t sig_len = sizeof sig;
	if (s->nettle) {
		ecdsa_sign(&s->nkey, s, nettle_random, dlen, digest, &s->nsig);
		if (s->rand_failed)
			return -EIO;
		sig_len = der_ecdsa_sig(sig, &s->nsig);
	} else if (EVP_PKEY_sign(s->pctx, sig, &sig_len, digest, dlen) != 1) {
		return -EIO;
	}
	return cert_assemble(out, cap, t, s->tbs, sig, sig_len);
}

/* ---- the request set ---- */

static const char body_open[] = "{\"chain\":[\"";

struct mint_job {
	struct load_set *set;
	const struct load_plan *plan;
	struct load_tmpl *tmpl[LOAD_ISSUERS][2];
	const char *path[2];
	unsigned total_weight;
	_Atomic uint64_t next, done;
	atomic_int failed;
	load_progress_fn progress;
	void *ctx;
	pthread_mutex_t stats_lock;
};

/* Which issuer, and whether a precertificate, request i is. */
static void
mint_choose(const struct load_plan *p, unsigned total_weight, uint64_t i, unsigned *issuer,
            bool *precert)
{
	uint64_t r = splitmix64(p->tmpl.seed ^ splitmix64(i));
	unsigned w = (unsigned)((r & 0xffffffffu) % total_weight);
	unsigned k = 0;
	while (k + 1 < LOAD_ISSUERS && w >= p->weight[k]) {
		w -= p->weight[k];
		k++;
	}
	*issuer = k;
	*precert = (unsigned)((r >> 32) % 100) < p->precert_pct;
}

static void *
mint_worker(void *arg)
{
	struct mint_job *j = arg;
	struct load_set *set = j->set;
	const struct load_plan *p = j->plan;
	struct load_signer *sg[LOAD_ISSUERS][2] = {{NULL}};
	struct load_mint_stats st = {0};
	uint8_t leaf[LOAD_LEAF_MAX];
	int failed = 0;
	while (!failed && !atomic_load_explicit(&j->failed, memory_order_relaxed)) {
		uint64_t a = atomic_fetch_add(&j->next, MINT_CHUNK);
		if (a >= set->n)
			break;
		uint64_t b = a + MINT_CHUNK < set->n ? a + MINT_CHUNK : set->n;
		/* One issuer at a time over the chunk, so one clock pair times each group. */
		for (unsigned is = 0; is < LOAD_ISSUERS && !failed; is++) {
			uint64_t t0 = now_ns(CLOCK_THREAD_CPUTIME_ID), count = 0;
			for (uint64_t i = a; i < b && !failed; i++) {
				unsigned issuer;
				bool pre;
				mint_choose(p, j->total_weight, i, &issuer, &pre);
				if (issuer != is)
					continue;
				if (!sg[is][pre] &&
				    load_signer_new(&sg[is][pre], j->tmpl[is][pre]) != 0) {
					failed = 1;
					break;
				}
				long n = load_mint_leaf(sg[is][pre], i, leaf, sizeof leaf);
				if (n < 0) {
					failed = 1;
					break;
				}
				char *slot = set->arena + i * set->stride;
				size_t b64len = B64_ENCODED_LEN((size_t)n);
				size_t body = sizeof body_open - 1 + b64len + set->tail[is].len;
				int h = snprintf(slot, set->stride,
				                 "POST %s/ct/v1/%s HTTP/1.1\r\nHost: %s\r\n"
				                 "Content-Type: application/json\r\n"
				                 "Content-Length: %zu\r\n\r\n%s",
				                 p->prefix, j->path[pre], p->host, body, body_open);
				if (h < 0 || (size_t)h + b64len + 1 > set->stride) {
					failed = 1;
					break;
				}
				b64_encode(slot + h, leaf, (size_t)n);
				set->req[i] = (struct load_req){
				        .len = (uint32_t)((size_t)h + b64len),
				        .leaf_off = (uint16_t)h,
				        .leaf_len = (uint16_t)b64len,
				        .issuer = (uint8_t)is,
				        .precert = pre,
				};
				count++;
			}
			if (count) {
				st.count[is] += count;
				st.sign_ns[is] += now_ns(CLOCK_THREAD_CPUTIME_ID) - t0;
			}
		}
		uint64_t before = atomic_fetch_add(&j->done, b - a);
		if (j->progress && (before + (b - a)) / 1000 != before / 1000)
			j->progress(j->ctx, before + (b - a), set->n);
	}
	if (failed)
		atomic_store(&j->failed, 1);
	for (unsigned is = 0; is < LOAD_ISSUERS; is++)
		for (unsigned k = 0; k < 2; k++)
			load_signer_free(sg[is][k]);
	pthread_mutex_lock(&j->stats_lock);
	for (unsigned is = 0; is < LOAD_ISSUERS; is++) {
		set->stats.count[is] += st.count[is];
		set->stats.sign_ns[is] += st.sign_ns[is];
	}
	pthread_mutex_unlock(&j->stats_lock);
	return NULL;
}

void
load_set_free(struct load_set *set)
{
	free(set->req);
	free(set->arena);
	for (unsigned i = 0; i < LOAD_ISSUERS; i++)
		free(set->tail[i].bytes);
	memset(set, 0, sizeof *set);
}

static unsigned
online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > MINT_THREADS ? MINT_THREADS : (unsigned)n;
}

int
load_set_mint(struct load_set *set, const struct load_ca *ca, const struct load_plan *p,
              load_progress_fn progress, void *ctx, const char **reason)
{
	memset(set, 0, sizeof *set);
	struct mint_job *j = calloc(1, sizeof *j);
	if (!j)
		return -ENOMEM;
	int rc = -EINVAL;
	for (unsigned i = 0; i < LOAD_ISSUERS; i++)
		j->total_weight += p->weight[i];
	if (p->n == 0 || j->total_weight == 0 || p->precert_pct > 100 || !p->host || !p->prefix ||
	    strlen(p->host) > LOAD_HOST_MAX || strlen(p->prefix) > LOAD_PREFIX_MAX) {
		*reason =
		        "plan: no requests, no issuer weight, or bad precert share, host or prefix";
		free(j);
		return -EINVAL;
	}
	j->set = set;
	j->plan = p;
	j->path[0] = "add-chain";
	j->path[1] = "add-pre-chain";
	j->progress = progress;
	j->ctx = ctx;
	pthread_mutex_init(&j->stats_lock, NULL);
	set->n = p->n;

	/* Templates for what the plan can pick; the longest leaf sizes the slots. */
	size_t leaf_max = 0;
	for (unsigned i = 0; i < LOAD_ISSUERS; i++) {
		if (!p->weight[i])
			continue;
		for (unsigned k = 0; k < 2; k++) {
			if ((k == 1 && p->precert_pct == 0) || (k == 0 && p->precert_pct == 100))
				continue;
			rc = load_tmpl_new(&j->tmpl[i][k], ca, (enum load_issuer)i, k == 1,
			                   &p->tmpl, reason);
			if (rc != 0)
				goto out;
			size_t m = j->tmpl[i][k]->tbs_len + j->tmpl[i][k]->alg_len +
			           j->tmpl[i][k]->sig_max + 16;
			if (m > leaf_max)
				leaf_max = m;
		}
		/* The shared tail: `","<intermediate base64>"]}` and the issuer key hash. */
		const struct ca_cert *c = &ca->inter[i];
		size_t tl = 3 + B64_ENCODED_LEN(c->len) + 3;
		set->tail[i].bytes = malloc(tl + 1);
		if (!set->tail[i].bytes) {
			rc = -ENOMEM;
			goto out;
		}
		memcpy(set->tail[i].bytes, "\",\"", 3);
		b64_encode(set->tail[i].bytes + 3, c->der, c->len);
		memcpy(set->tail[i].bytes + tl - 3, "\"]}", 4);
		set->tail[i].len = tl;
		const uint8_t *spki = NULL;
		X509_PUBKEY *xp = X509_get_X509_PUBKEY(c->cert);
		unsigned char *spki_der = NULL;
		int sl = xp ? i2d_X509_PUBKEY(xp, &spki_der) : -1;
		if (sl <= 0) {
			*reason = "intermediate: cannot encode its public key";
			rc = -EIO;
			goto out;
		}
		spki = spki_der;
		ctenc_sha256(set->tail[i].key_hash, spki, (size_t)sl);
		OPENSSL_free(spki_der);
	}
	char head[1024];
	int hl = snprintf(head, sizeof head,
	                  "POST %s/ct/v1/add-pre-chain HTTP/1.1\r\nHost: %s\r\n"
	                  "Content-Type: application/json\r\nContent-Length: 9999999\r\n\r\n%s",
	                  p->prefix, p->host, body_open);
	set->stride = ((size_t)hl + B64_ENCODED_LEN(leaf_max) + 1 + 63) & ~(size_t)63;
	if (p->n > SIZE_MAX / set->stride || p->n > SIZE_MAX / sizeof *set->req) {
		*reason = "too many requests for memory";
		rc = -ENOMEM;
		goto out;
	}
	set->req = malloc(p->n * sizeof *set->req);
	set->arena = malloc(p->n * set->stride);
	if (!set->req || !set->arena) {
		*reason = "not enough memory for the requests";
		rc = -ENOMEM;
		goto out;
	}

	unsigned nt = p->threads ? p->threads : online_cpus();
	if (nt > MINT_THREADS)
		nt = MINT_THREADS;
	if ((uint64_t)nt > (p->n + MINT_CHUNK - 1) / MINT_CHUNK)
		nt = (unsigned)((p->n + MINT_CHUNK - 1) / MINT_CHUNK);
	pthread_t th[MINT_THREADS];
	unsigned started = 0;
	uint64_t t0 = now_ns(CLOCK_MONOTONIC);
	for (; started < nt; started++)
		if (pthread_create(&th[started], NULL, mint_worker, j) != 0)
			break;
	if (started == 0)
		mint_worker(j);
	for (unsigned i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	set->stats.wall_ns = now_ns(CLOCK_MONOTONIC) - t0;
	set->stats.threads = started ? started : 1;
	rc = 0;
	if (atomic_load(&j->failed)) {
		*reason = "minting failed (OpenSSL signing or a slot too small)";
		rc = -EIO;
	}
out:
	for (unsigned i = 0; i < LOAD_ISSUERS; i++)
		for (unsigned k = 0; k < 2; k++)
			load_tmpl_free(j->tmpl[i][k]);
	pthread_mutex_destroy(&j->stats_lock);
	free(j);
	if (rc != 0)
		load_set_free(set);
	return rc;
}

long
load_set_leaf(const struct load_set *set, uint64_t i, uint8_t *out, size_t cap)
{
	const struct load_req *r = &set->req[i];
	long n = b64_decode(out, cap, load_set_slot(set, i) + r->leaf_off, r->leaf_len, NULL);
	return n < 0 ? -EBADMSG : n;
}

/* ---- SCT responses ---- */

struct load_verifier {
	struct json_tok tok[JSON_SHAPE_TOKENS];
	uint8_t buf[LOAD_VERIFY_BODY];
	uint8_t tbs[LOAD_LEAF_MAX + 64];
};

int
load_verifier_new(struct load_verifier **out)
{
	*out = malloc(sizeof **out);
	return *out ? 0 : -ENOMEM;
}

void
load_verifier_free(struct load_verifier *v)
{
	free(v);
}

enum load_verdict
load_sct_check(struct load_verifier *v, const struct ctsig_pub *pub, bool precert,
               const uint8_t *leaf, size_t leaf_len, const uint8_t issuer_key_hash[32],
               const char *body, size_t body_len, struct load_sct_info *info, const char **reason)
{
	const char *why = NULL;
	memset(info, 0, sizeof *info);
	if (body_len > LOAD_VERIFY_BODY) {
		*reason = "response body too long for an SCT";
		return LOAD_SCT_BAD_JSON;
	}
	struct json_sct js;
	if (json_sct_parse(&js, v->buf, sizeof v->buf, v->tok, JSON_SHAPE_TOKENS, body, body_len,
	                   &why) != 0) {
		*reason = why ? why : "not an SCT response";
		return LOAD_SCT_BAD_JSON;
	}
	info->timestamp = js.timestamp;
	if (memcmp(js.id, ctsig_pub_log_id(pub), JSON_SCT_ID_LEN) != 0) {
		*reason = "SCT id is not the log key's";
		return LOAD_SCT_BAD_LOG_ID;
	}
	struct ctenc_entry e = {.type = CTENC_X509_ENTRY, .cert = leaf, .cert_len = leaf_len};
	if (precert) {
		struct der_cert w;
		if (der_cert_walk(leaf, leaf_len, &w, &why) != 0) {
			*reason = why ? why : "precertificate does not walk";
			return LOAD_SCT_BAD_SIG;
		}
		long n = der_precert_tbs(v->tbs, sizeof v->tbs, &w, NULL, &why);
		if (n < 0) {
			*reason = why ? why : "precertificate TBS";
			return LOAD_SCT_BAD_SIG;
		}
		e.type = CTENC_PRECERT_ENTRY;
		e.cert = v->tbs;
		e.cert_len = (size_t)n;
		memcpy(e.issuer_key_hash, issuer_key_hash, CTENC_HASH_LEN);
	}
	struct ctenc_sct sct = {
	        .timestamp = js.timestamp,
	        .ext = js.ext.p,
	        .ext_len = js.ext.len,
	        .dsig = js.sig.p,
	        .dsig_len = js.sig.len,
	};
	memcpy(sct.log_id, js.id, CTENC_HASH_LEN);
	if (ctsig_sct_verify_tls(pub, &sct, &e, &why) != 0) {
		*reason = why ? why : "SCT signature does not verify";
		return LOAD_SCT_BAD_SIG;
	}
	int rc = ctenc_ext_leaf_index_parse(&info->leaf_index, js.ext.p, js.ext.len, &why);
	if (rc == 0) {
		info->has_index = true;
	} else if (rc != -ENOENT) {
		*reason = why ? why : "SCT extensions malformed";
		return LOAD_SCT_BAD_JSON;
	}
	*reason = NULL;
	return LOAD_SCT_OK;
}
