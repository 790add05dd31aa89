/* engine/ctsig.c: log keys, RFC 6962 signatures, checkpoint notes. See ctsig.h.
 *
 * Signing path, chosen by measurement: the digest is SHA256_Init/Update/Final on the stack,
 * signed with EVP_PKEY_sign on an EVP_PKEY_CTX sign-initialised once per signer. Measured
 * (OpenSSL 3.0.19, 2-core dev VM, thread CPU time, best of 15 interleaved rounds): raw
 * EVP_PKEY_sign over a digest ~40k/s and 41 OpenSSL allocations per signature;
 * ctsig_sth_sign 99-100% of that with no extra allocation; ctsig_sct_sign over a 1.2 KB TBS
 * ~96% (the hashing); EVP_DigestSignInit + EVP_DigestSign per call on a reused EVP_MD_CTX
 * 89-93% with 15 extra allocations (a provider fetch and a new EVP_PKEY_CTX each time); the
 * EVP_DigestSignInit(ctx, NULL, NULL, NULL, NULL) re-init 90-98% with 11 extra. (The
 * one-shot EVP_DigestSign marks the EVP_MD_CTX finalised, so it must be re-initialised.)
 */
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA256_Init/Update/Final */
#include "engine/ctsig.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "engine/b64.h"

#define RSA_MIN_BITS 2048

struct ctsig_key {
	EVP_PKEY *pkey;
	uint8_t log_id[CTENC_HASH_LEN];
	uint8_t spki[CTSIG_P256_SPKI_LEN];
};

struct ctsig_signer {
	EVP_PKEY_CTX *pctx; /* sign-initialised once, sha256 set */
	const struct ctsig_key *key;
};

struct ctsig_pub {
	EVP_PKEY *pkey;
	uint8_t alg; /* CTENC_SIG_ECDSA or CTENC_SIG_RSA */
	uint8_t log_id[CTENC_HASH_LEN];
};

static int
why(const char **reason, const char *r, int err)
{
	if (reason)
		*reason = r;
	return err;
}

static void
store_be(uint8_t *p, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
}

static uint64_t
load_be(const uint8_t *p, unsigned bytes)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < bytes; i++)
		v = v << 8 | p[i];
	return v;
}

static bool
is_p256(const EVP_PKEY *pkey)
{
	char name[64];
	size_t n = 0;
	if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC)
		return false;
	if (EVP_PKEY_get_group_name(pkey, name, sizeof(name), &n) != 1)
		return false;
	return strcmp(name, SN_X9_62_prime256v1) == 0;
}

/* ---- the private key ---- */

/* Refuses encrypted keys instead of letting OpenSSL prompt on a terminal. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf, (void)size, (void)rwflag, (void)u;
	return -1;
}

static int
key_from_bio(struct ctsig_key **out, BIO *bio, const char **reason)
{
	*out = NULL;
	EVP_PKEY *pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	ERR_clear_error();
	if (pkey == NULL)
		return why(reason, "key: no PEM private key", -EINVAL);
	int rc = -EINVAL;
	struct ctsig_key *k = NULL;
	if (!is_p256(pkey)) {
		why(reason, "key: not an ECDSA P-256 key", -EINVAL);
		goto fail;
	}
	k = calloc(1, sizeof(*k));
	if (k == NULL) {
		rc = why(reason, "key: out of memory", -ENOMEM);
		goto fail;
	}
	/* Encoded with an uncompressed point and the named curve, whatever the file held. */
	if (EVP_PKEY_set_utf8_string_param(pkey, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
	                                   OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED) !=
	            1 ||
	    i2d_PUBKEY(pkey, NULL) != CTSIG_P256_SPKI_LEN) {
		rc = why(reason, "key: cannot encode the public key", -EIO);
		goto fail;
	}
	uint8_t *p = k->spki;
	if (i2d_PUBKEY(pkey, &p) != CTSIG_P256_SPKI_LEN) {
		rc = why(reason, "key: cannot encode the public key", -EIO);
		goto fail;
	}
	ctenc_sha256(k->log_id, k->spki, CTSIG_P256_SPKI_LEN);
	k->pkey = pkey;
	*out = k;
	return 0;
fail:
	ERR_clear_error();
	free(k);
	EVP_PKEY_free(pkey);
	return rc;
}

int
ctsig_key_from_pem(struct ctsig_key **out, const char *pem, size_t len, const char **reason)
{
	*out = NULL;
	if (len > INT_MAX)
		return why(reason, "key: PEM too long", -EINVAL);
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	if (bio == NULL)
		return why(reason, "key: out of memory", -ENOMEM);
	int rc = key_from_bio(out, bio, reason);
	BIO_free(bio);
	return rc;
}

int
ctsig_key_load(struct ctsig_key **out, const char *path, const char **reason)
{
	*out = NULL;
	errno = 0;
	BIO *bio = BIO_new_file(path, "r");
	if (bio == NULL) {
		int e = errno ? errno : EIO;
		ERR_clear_error();
		return why(reason, "key: cannot open the key file", -e);
	}
	int rc = key_from_bio(out, bio, reason);
	BIO_free(bio);
	return rc;
}

void
ctsig_key_free(struct ctsig_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

const uint8_t *
ctsig_key_log_id(const struct ctsig_key *k)
{
	return k->log_id;
}

const uint8_t *
ctsig_key_spki(const struct ctsig_key *k, size_t *len)
{
	*len = CTSIG_P256_SPKI_LEN;
	return k->spki;
}

long
ctsig_key_spki_b64(char *out, size_t cap, const struct ctsig_key *k)
{
	if (cap < B64_ENCODED_LEN(CTSIG_P256_SPKI_LEN) + 1)
		return -ENOSPC;
	return (long)b64_encode(out, k->spki, CTSIG_P256_SPKI_LEN);
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
fsync_parent(const char *path)
{
	char dir[PATH_MAX];
	size_t n = strlen(path);
	if (n >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, path, n + 1);
	char *slash = strrchr(dir, '/');
	if (slash == NULL)
		strcpy(dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

int
ctsig_keygen(const char *path, const char **reason)
{
	int rc;
	int fd = -1;
	BIO *mem = NULL;
	EVP_PKEY *pkey = EVP_EC_gen(SN_X9_62_prime256v1);
	if (pkey == NULL) {
		rc = why(reason, "keygen: key generation failed", -EIO);
		goto out;
	}
	mem = BIO_new(BIO_s_secmem());
	if (mem == NULL || PEM_write_bio_PrivateKey(mem, pkey, NULL, NULL, 0, NULL, NULL) != 1) {
		rc = why(reason, "keygen: cannot encode the key", -EIO);
		goto out;
	}
	char *pem;
	long n = BIO_get_mem_data(mem, &pem);
	if (n <= 0) {
		rc = why(reason, "keygen: cannot encode the key", -EIO);
		goto out;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = why(reason, "keygen: cannot create the key file", -errno);
		goto out;
	}
	rc = fchmod(fd, 0600) < 0 ? -errno : 0; /* exactly 0600 whatever the umask */
	if (rc == 0)
		rc = write_all(fd, pem, (size_t)n);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (rc < 0) {
		why(reason, "keygen: cannot write the key file", rc);
		goto unlink;
	}
	rc = close(fd) < 0 ? -errno : 0;
	fd = -1;
	if (rc < 0) {
		why(reason, "keygen: cannot write the key file", rc);
		goto unlink;
	}
	fd = -1;
	if ((rc = fsync_parent(path)) < 0) {
		why(reason, "keygen: cannot sync the key's directory", rc);
		goto unlink;
	}
	rc = 0;
	goto out;
unlink:
	if (fd >= 0)
		close(fd);
	fd = -1;
	unlink(path);
out:
	if (fd >= 0)
		close(fd);
	BIO_free(mem);
	EVP_PKEY_free(pkey);
	ERR_clear_error();
	return rc;
}

/* ---- signing ---- */

int
ctsig_signer_new(struct ctsig_signer **out, const struct ctsig_key *k)
{
	*out = NULL;
	struct ctsig_signer *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->key = k;
	s->pctx = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL);
	if (s->pctx == NULL || EVP_PKEY_sign_init(s->pctx) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(s->pctx, EVP_sha256()) != 1) {
		ERR_clear_error();
		ctsig_signer_free(s);
		return -EIO;
	}
	*out = s;
	return 0;
}

void
ctsig_signer_free(struct ctsig_signer *s)
{
	if (s == NULL)
		return;
	EVP_PKEY_CTX_free(s->pctx);
	free(s);
}

long
ctsig_sign_digest(struct ctsig_signer *s, uint8_t *out, size_t cap,
                  const uint8_t digest[CTENC_HASH_LEN])
{
	if (cap < CTSIG_DSIG_MAX)
		return -ENOSPC;
	size_t n = CTSIG_ECDSA_DER_MAX;
	if (EVP_PKEY_sign(s->pctx, out + 4, &n, digest, CTENC_HASH_LEN) != 1 ||
	    n > CTSIG_ECDSA_DER_MAX) {
		ERR_clear_error();
		memset(out, 0, CTSIG_DSIG_MAX);
		return -EIO;
	}
	out[0] = CTENC_HASH_SHA256;
	out[1] = CTENC_SIG_ECDSA;
	store_be(out + 2, n, 2);
	return (long)(4 + n);
}

long
ctsig_sign(struct ctsig_signer *s, uint8_t *out, size_t cap, const uint8_t *msg, size_t len)
{
	uint8_t d[CTENC_HASH_LEN];
	ctenc_sha256(d, msg, len);
	return ctsig_sign_digest(s, out, cap, d);
}

long
ctsig_sct_sign(struct ctsig_signer *s, uint8_t *out, size_t cap, const struct ctenc_entry *e)
{
	uint8_t d[CTENC_HASH_LEN];
	int rc = ctenc_sct_signed_digest(d, e);
	if (rc < 0)
		return rc;
	return ctsig_sign_digest(s, out, cap, d);
}

long
ctsig_sth_sign(struct ctsig_signer *s, uint8_t *out, size_t cap, uint64_t timestamp,
               uint64_t tree_size, const uint8_t root[CTENC_HASH_LEN])
{
	uint8_t m[CTENC_STH_SIGNED_LEN];
	ctenc_sth_signed_data(m, timestamp, tree_size, root);
	return ctsig_sign(s, out, cap, m, sizeof(m));
}

/* ---- notes ---- */

uint32_t
ctsig_note_key_id(const char *name, size_t name_len, const uint8_t log_id[CTENC_HASH_LEN])
{
	static const uint8_t sep[2] = {'\n', CTSIG_NOTE_TYPE_6962};
	uint8_t h[CTENC_HASH_LEN];
	SHA256_CTX c;
	SHA256_Init(&c);
	if (name_len)
		SHA256_Update(&c, name, name_len);
	SHA256_Update(&c, sep, 2);
	SHA256_Update(&c, log_id, CTENC_HASH_LEN);
	SHA256_Final(h, &c);
	return (uint32_t)load_be(h, 4);
}

static const char em_dash[] = "\xe2\x80\x94 "; /* U+2014 and a space */

long
ctsig_checkpoint_from_sth(char *out, size_t cap, const char *origin, size_t origin_len,
                          const uint8_t log_id[CTENC_HASH_LEN], uint64_t timestamp,
                          uint64_t tree_size, const uint8_t root[CTENC_HASH_LEN],
                          const uint8_t *dsig, size_t dsig_len)
{
	struct ctenc_dsig d;
	if (dsig == NULL || dsig_len > CTSIG_DSIG_MAX ||
	    ctenc_dsig_parse(&d, dsig, dsig_len, NULL) < 0)
		return -EINVAL;
	long body = ctenc_checkpoint(out, cap, origin, origin_len, tree_size, root);
	if (body < 0)
		return body;
	uint8_t sig[CTSIG_NOTE_KEY_ID + 8 + CTSIG_DSIG_MAX];
	store_be(sig, ctsig_note_key_id(origin, origin_len, log_id), 4);
	store_be(sig + 4, timestamp, 8);
	memcpy(sig + 12, dsig, dsig_len);
	size_t slen = 12 + dsig_len;
	size_t n = (size_t)body + 1 + (sizeof(em_dash) - 1) + origin_len + 1 +
	           B64_ENCODED_LEN(slen) + 1;
	if (n + 1 > cap)
		return -ENOSPC;
	char *p = out + body;
	*p++ = '\n';
	memcpy(p, em_dash, sizeof(em_dash) - 1);
	p += sizeof(em_dash) - 1;
	memcpy(p, origin, origin_len);
	p += origin_len;
	*p++ = ' ';
	p += b64_encode(p, sig, slen);
	*p++ = '\n';
	*p = '\0';
	return (long)n;
}

long
ctsig_checkpoint_sign(struct ctsig_signer *s, char *out, size_t cap, const char *origin,
                      size_t origin_len, uint64_t timestamp, uint64_t tree_size,
                      const uint8_t root[CTENC_HASH_LEN])
{
	if (ctenc_origin_check(origin, origin_len) < 0)
		return -EINVAL;
	/* Room for the longest signature, so that -ENOSPC does not depend on the random
	 * length of this one (and no signature is wasted). */
	long body = ctenc_checkpoint(out, cap, origin, origin_len, tree_size, root);
	if (body < 0)
		return body;
	size_t most = (size_t)body + 1 + (sizeof(em_dash) - 1) + origin_len + 1 +
	              B64_ENCODED_LEN(CTSIG_NOTE_KEY_ID + 8 + CTSIG_DSIG_MAX) + 1;
	if (most + 1 > cap)
		return -ENOSPC;
	uint8_t dsig[CTSIG_DSIG_MAX];
	long n = ctsig_sth_sign(s, dsig, sizeof(dsig), timestamp, tree_size, root);
	if (n < 0)
		return n;
	return ctsig_checkpoint_from_sth(out, cap, origin, origin_len, s->key->log_id, timestamp,
	                                 tree_size, root, dsig, (size_t)n);
}

/* ---- public keys ---- */

static int
pub_wrap(struct ctsig_pub **out, EVP_PKEY *pkey, const uint8_t *spki, size_t spki_len,
         const char **reason)
{
	uint8_t alg;
	if (is_p256(pkey)) {
		alg = CTENC_SIG_ECDSA;
	} else if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA) {
		if (EVP_PKEY_get_bits(pkey) < RSA_MIN_BITS)
			return why(reason, "key: RSA key shorter than 2048 bits", -EINVAL);
		alg = CTENC_SIG_RSA;
	} else {
		return why(reason, "key: neither ECDSA P-256 nor RSA", -EINVAL);
	}
	struct ctsig_pub *k = calloc(1, sizeof(*k));
	if (k == NULL)
		return why(reason, "key: out of memory", -ENOMEM);
	k->pkey = pkey;
	k->alg = alg;
	ctenc_sha256(k->log_id, spki, spki_len);
	*out = k;
	return 0;
}

int
ctsig_pub_from_spki(struct ctsig_pub **out, const uint8_t *der, size_t len, const char **reason)
{
	*out = NULL;
	if (der == NULL || len == 0 || len > INT_MAX)
		return why(reason, "key: empty SubjectPublicKeyInfo", -EINVAL);
	const uint8_t *p = der;
	EVP_PKEY *pkey = d2i_PUBKEY(NULL, &p, (long)len);
	ERR_clear_error();
	if (pkey == NULL)
		return why(reason, "key: malformed SubjectPublicKeyInfo", -EINVAL);
	if (p != der + len) {
		EVP_PKEY_free(pkey);
		return why(reason, "key: trailing bytes after SubjectPublicKeyInfo", -EINVAL);
	}
	int rc = pub_wrap(out, pkey, der, len, reason);
	if (rc < 0)
		EVP_PKEY_free(pkey);
	return rc;
}

int
ctsig_pub_from_pem(struct ctsig_pub **out, const char *pem, size_t len, const char **reason)
{
	*out = NULL;
	if (len > INT_MAX)
		return why(reason, "key: PEM too long", -EINVAL);
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	if (bio == NULL)
		return why(reason, "key: out of memory", -ENOMEM);
	EVP_PKEY *pkey = PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	ERR_clear_error();
	if (pkey == NULL)
		return why(reason, "key: no PEM public key", -EINVAL);
	uint8_t *der = NULL;
	int n = i2d_PUBKEY(pkey, &der);
	if (n <= 0) {
		ERR_clear_error();
		EVP_PKEY_free(pkey);
		return why(reason, "key: cannot encode the public key", -EIO);
	}
	int rc = pub_wrap(out, pkey, der, (size_t)n, reason);
	OPENSSL_free(der);
	if (rc < 0)
		EVP_PKEY_free(pkey);
	return rc;
}

void
ctsig_pub_free(struct ctsig_pub *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

const uint8_t *
ctsig_pub_log_id(const struct ctsig_pub *k)
{
	return k->log_id;
}

int
ctsig_verify_digest(const struct ctsig_pub *k, const uint8_t *dsig, size_t dsig_len,
                    const uint8_t digest[CTENC_HASH_LEN], const char **reason)
{
	struct ctenc_dsig d;
	int rc = ctenc_dsig_parse(&d, dsig, dsig_len, reason);
	if (rc < 0)
		return rc;
	if (d.hash != CTENC_HASH_SHA256)
		return why(reason, "digitally_signed: hash algorithm is not sha256", -EBADMSG);
	if (d.sig != k->alg)
		return why(reason, "digitally_signed: signature algorithm does not match the key",
		           -EBADMSG);
	if (d.len == 0)
		return why(reason, "digitally_signed: empty signature", -EBADMSG);
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL);
	if (c == NULL) {
		ERR_clear_error();
		return why(reason, "verify: out of memory", -ENOMEM);
	}
	rc = -EBADMSG;
	if (EVP_PKEY_verify_init(c) != 1 || EVP_PKEY_CTX_set_signature_md(c, EVP_sha256()) != 1 ||
	    (k->alg == CTENC_SIG_RSA && EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) != 1)) {
		rc = why(reason, "verify: cannot set up the verifier", -EIO);
	} else if (EVP_PKEY_verify(c, d.der, d.len, digest, CTENC_HASH_LEN) == 1) {
		rc = 0;
	} else {
		why(reason, "digitally_signed: signature does not verify", -EBADMSG);
	}
	ERR_clear_error();
	EVP_PKEY_CTX_free(c);
	return rc;
}

int
ctsig_verify(const struct ctsig_pub *k, const uint8_t *dsig, size_t dsig_len, const uint8_t *msg,
             size_t len, const char **reason)
{
	uint8_t d[CTENC_HASH_LEN];
	ctenc_sha256(d, msg, len);
	return ctsig_verify_digest(k, dsig, dsig_len, d, reason);
}

int
ctsig_sct_verify(const struct ctsig_pub *k, const struct ctenc_entry *e, const uint8_t *dsig,
                 size_t dsig_len, const char **reason)
{
	uint8_t d[CTENC_HASH_LEN];
	if (ctenc_sct_signed_digest(d, e) < 0)
		return why(reason, "sct: entry out of range", -EINVAL);
	return ctsig_verify_digest(k, dsig, dsig_len, d, reason);
}

int
ctsig_sct_verify_tls(const struct ctsig_pub *k, const struct ctenc_sct *sct,
                     const struct ctenc_entry *e, const char **reason)
{
	if (memcmp(sct->log_id, k->log_id, CTENC_HASH_LEN) != 0)
		return why(reason, "sct: log id is not this key's", -EBADMSG);
	struct ctenc_entry x = *e;
	x.timestamp = sct->timestamp;
	x.ext = sct->ext;
	x.ext_len = sct->ext_len;
	return ctsig_sct_verify(k, &x, sct->dsig, sct->dsig_len, reason);
}

int
ctsig_sth_verify(const struct ctsig_pub *k, uint64_t timestamp, uint64_t tree_size,
                 const uint8_t root[CTENC_HASH_LEN], const uint8_t *dsig, size_t dsig_len,
                 const char **reason)
{
	uint8_t m[CTENC_STH_SIGNED_LEN];
	ctenc_sth_signed_data(m, timestamp, tree_size, root);
	return ctsig_verify(k, dsig, dsig_len, m, sizeof(m), reason);
}

/* ---- checkpoint notes ---- */

/* Valid UTF-8 (no overlongs, surrogates or code points above U+10FFFF) with no control
 * character other than '\n'. */
static bool
note_text_ok(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = s[i];
		if (c < 0x80) {
			if ((c < 0x20 && c != '\n') || c == 0x7f)
				return false;
			i++;
			continue;
		}
		size_t need;
		uint32_t cp, min;
		if ((c & 0xe0) == 0xc0) {
			need = 1, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			need = 2, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			need = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (n - i - 1 < need)
			return false;
		for (size_t j = 1; j <= need; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		if (cp >= 0x80 && cp < 0xa0) /* C1 controls */
			return false;
		i += need + 1;
	}
	return true;
}

/* The most RFC6962NoteSignature bytes the verifier reads for the log's own key: key ID,
 * timestamp, DigitallySigned header and an RSA signature of up to 16384 bits. */
#define NOTE_SIG_MAX (CTSIG_NOTE_KEY_ID + 8 + 4 + 2048)

/* Checks that b is strict base64 and decodes it in 1024-character chunks, keeping the first
 * cap bytes in out; *total gets the whole decoded length. Returns 0, or -1 when malformed. */
static int
note_b64(uint8_t *out, size_t cap, size_t *total, const char *b, size_t blen)
{
	uint8_t tmp[B64_DECODED_MAX(1024)];
	size_t done = 0;
	*total = 0;
	if (blen == 0 || blen % 4 != 0)
		return -1;
	while (done < blen) { /* at most CTSIG_NOTE_MAX / 1024 rounds */
		size_t chunk = blen - done > 1024 ? 1024 : blen - done;
		if (done + chunk < blen && memchr(b + done, '=', chunk) != NULL)
			return -1; /* padding only at the very end */
		long n = b64_decode(tmp, sizeof(tmp), b + done, chunk, NULL);
		if (n < 0)
			return -1;
		if (*total < cap) {
			size_t keep = (size_t)n < cap - *total ? (size_t)n : cap - *total;
			memcpy(out + *total, tmp, keep);
		}
		*total += (size_t)n;
		done += chunk;
	}
	return 0;
}

int
ctsig_checkpoint_verify(struct ctsig_checkpoint *out, const struct ctsig_pub *k, const char *origin,
                        size_t origin_len, const char *note, size_t len, const char **reason)
{
	memset(out, 0, sizeof(*out));
	if (ctenc_origin_check(origin, origin_len) < 0)
		return why(reason, "note: bad expected origin", -EINVAL);
	if (note == NULL || len == 0)
		return why(reason, "note: empty", -EBADMSG);
	if (len > CTSIG_NOTE_MAX)
		return why(reason, "note: too long", -EBADMSG);
	if (!note_text_ok((const uint8_t *)note, len))
		return why(reason, "note: not UTF-8 text without control characters", -EBADMSG);
	if (note[len - 1] != '\n')
		return why(reason, "note: does not end in a newline", -EBADMSG);

	/* The text ends at the last blank line: find the last "\n\n". */
	size_t sep = len; /* index of the second '\n' */
	for (size_t i = len - 1; i >= 1; i--) {
		if (note[i] == '\n' && note[i - 1] == '\n') {
			sep = i;
			break;
		}
	}
	if (sep == len)
		return why(reason, "note: no blank line before the signatures", -EBADMSG);
	size_t text_len = sep; /* up to and including the text's final newline */

	struct ctenc_checkpoint body;
	int rc = ctenc_checkpoint_parse(&body, note, text_len, reason);
	if (rc < 0)
		return rc;
	if (body.origin_len != origin_len || memcmp(body.origin, origin, origin_len) != 0)
		return why(reason, "note: checkpoint origin is not the log's", -EBADMSG);

	uint32_t want_id = ctsig_note_key_id(origin, origin_len, k->log_id);
	const char *p = note + sep + 1;
	const char *end = note + len;
	unsigned lines = 0, verified = 0;
	uint64_t first_ts = 0;
	if (p == end)
		return why(reason, "note: no signature lines", -EBADMSG);
	while (p < end) {
		if (++lines > CTSIG_NOTE_SIGS_MAX)
			return why(reason, "note: too many signatures", -EBADMSG);
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		/* nl != NULL: the note ends in '\n' */
		size_t dash = sizeof(em_dash) - 1;
		if ((size_t)(nl - p) < dash || memcmp(p, em_dash, dash) != 0)
			return why(reason, "note: signature line does not start with an em dash",
			           -EBADMSG);
		const char *name = p + dash;
		const char *sp = memchr(name, ' ', (size_t)(nl - name));
		if (sp == NULL || sp == name)
			return why(reason, "note: signature line has no key name", -EBADMSG);
		size_t name_len = (size_t)(sp - name);
		if (memchr(name, '+', name_len) != NULL)
			return why(reason, "note: key name contains '+'", -EBADMSG);
		const char *b = sp + 1;
		size_t blen = (size_t)(nl - b);
		uint8_t sig[NOTE_SIG_MAX];
		size_t n;
		if (note_b64(sig, sizeof(sig), &n, b, blen) < 0 || n < CTSIG_NOTE_KEY_ID)
			return why(reason, "note: signature is not base64 of at least 4 bytes",
			           -EBADMSG);
		p = nl + 1;
		if (name_len != origin_len || memcmp(name, origin, origin_len) != 0 ||
		    (uint32_t)load_be(sig, 4) != want_id)
			continue; /* another key: ignored */
		if (n < CTSIG_NOTE_KEY_ID + 8)
			return why(reason, "note: RFC6962NoteSignature truncated", -EBADMSG);
		if (n > sizeof(sig))
			return why(reason, "note: RFC6962NoteSignature too long", -EBADMSG);
		uint64_t ts = load_be(sig + 4, 8);
		rc = ctsig_sth_verify(k, ts, body.size, body.root, sig + 12, n - 12, reason);
		if (rc < 0)
			return rc;
		if (verified++ == 0)
			first_ts = ts;
	}
	if (verified == 0)
		return why(reason, "note: no signature by the log's key", -EBADMSG);
	out->body = body;
	out->timestamp = first_ts;
	return 0;
}
