/* engine/ctsig.c: log keys, RFC 6962 signatures, checkpoint notes. See ctsig.h.
 *
 * Signing is deterministic ECDSA P-256 (RFC 6979 with HMAC-SHA-256), so that a duplicate
 * submission, or a rebuild after a crash from the entry alone, gets the very same SCT.
 * OpenSSL 3.0 has no RFC 6979 (3.2 added it), so the signer does the ECDSA itself, in one
 * place, ctsig_sign_digest:
 *   k   RFC 6979 section 3.2: the HMAC-SHA-256 DRBG, our HMAC on SHA256_Init/Update/Final;
 *   r   x(kG) mod q: EC_POINT_mul and EC_POINT_get_affine_coordinates on the signer's P-256
 *       group, which is OpenSSL's constant-time nistz256 code where the CPU has it (the same
 *       code EVP_PKEY_sign runs);
 *   s   k^-1 (h + r d) mod q: the constant-time arithmetic modulo q below (Montgomery
 *       products, a safegcd inverse);
 *   DER Ecdsa-Sig-Value written here.
 * Measured (OpenSSL 3.0.19, 2-core 2 GHz dev VM shared with other jobs, thread CPU time, best
 * of 21 interleaved rounds of 2000, over a digest): raw EVP_PKEY_sign ~27.8 us with 41 OpenSSL
 * allocations; ctsig_sign_digest ~19.7 us (1.4x the raw rate) with none: DRBG 1.4, k^-1 2.6,
 * kG and its affine x 15-16. k^-1 by other means: BN_mod_exp_mont_consttime(k, q - 2) 14-15 us
 * (signing would be ~0.88x raw), BN_mod_inverse 13-16, GMP's mpn_sec_invert 20, Fermat with
 * our Montgomery products 10-12; nettle's whole ecc_ecdsa_sign with a given k 52-58. bench_ct
 * sct_sign: vs_raw 1.23-1.58x (before, with EVP_PKEY_sign: 0.77-1.08x, alternating runs).
 * The earlier EVP path measured EVP_DigestSign* per call at 89-98% of EVP_PKEY_sign, with 11-15
 * extra allocations (a provider fetch and a new EVP_PKEY_CTX each time).
 */
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA256_Init/Update/Final; no other deprecated API */
#include "engine/ctsig.h"
#include "engine/ctsig_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
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

/* ---- arithmetic modulo the P-256 group order q ----
 *
 * Constant time throughout: no branch and no memory index depends on a secret; data-dependent
 * choices are masks. OpenSSL has this arithmetic in assembly (ecp_nistz256_ord_mul_mont and
 * its inverse) but does not export it, and its public constant-time inverse,
 * BN_mod_exp_mont_consttime(k, q - 2), costs about half of a whole signature (measurements at
 * the top of the file). */

#ifndef __SIZEOF_INT128__
#error "engine/ctsig.c needs __int128 (a 64-bit target)"
#endif
typedef unsigned __int128 u128;
typedef __int128 i128;

/* Four 64-bit limbs, least significant first; products are Montgomery products with
 * R = 2^256 (a full 512-bit product, then four word-by-word reductions). */
static const uint64_t ord_q[4] = {0xf3b9cac2fc632551, 0xbce6faada7179e84, 0xffffffffffffffff,
                                  0xffffffff00000000};
static const uint64_t ord_n0 = 0xccd1c8aaee00bc4f; /* -q^-1 mod 2^64 */
static const uint64_t ord_rr[4] = {0x83244c95be79eea2, 0x4699799c49bd6fa6, 0x2845b2392b6bec59,
                                   0x66e12d94f3d95620}; /* R^2 mod q */

static void
ord_from_be(uint64_t r[4], const uint8_t b[32])
{
	for (int i = 0; i < 4; i++)
		r[i] = load_be(b + 8 * (3 - i), 8);
}

static void
ord_to_be(uint8_t b[32], const uint64_t a[4])
{
	for (int i = 0; i < 4; i++)
		store_be(b + 8 * (3 - i), a[i], 8);
}

/* r = a + top * 2^256 - q when that is not negative, else a. For a + top * 2^256 < 2q this is
 * the value mod q. */
static void
ord_sub_q_if_ge(uint64_t r[4], const uint64_t a[4], uint64_t top)
{
	uint64_t d[4], borrow = 0;
	for (int i = 0; i < 4; i++) {
		u128 v = (u128)a[i] - ord_q[i] - borrow;
		d[i] = (uint64_t)v;
		borrow = (uint64_t)(v >> 64) & 1;
	}
	uint64_t keep = 0 - (borrow & (top ^ 1)); /* all ones when a + top * 2^256 < q */
	for (int i = 0; i < 4; i++)
		r[i] = (a[i] & keep) | (d[i] & ~keep);
}

/* 1 when 1 <= a <= q - 1, else 0. */
static uint64_t
ord_in_range(const uint64_t a[4])
{
	uint64_t borrow = 0, any = 0;
	for (int i = 0; i < 4; i++) {
		u128 v = (u128)a[i] - ord_q[i] - borrow;
		borrow = (uint64_t)(v >> 64) & 1;
		any |= a[i];
	}
	return borrow & ((any | (0 - any)) >> 63);
}

/* r = a + b mod q, for a, b < q. */
static void
ord_add(uint64_t r[4], const uint64_t a[4], const uint64_t b[4])
{
	uint64_t s[4], c = 0;
	for (int i = 0; i < 4; i++) {
		u128 v = (u128)a[i] + b[i] + c;
		s[i] = (uint64_t)v;
		c = (uint64_t)(v >> 64);
	}
	ord_sub_q_if_ge(r, s, c);
}

/* *t + a * b + *c, which cannot overflow 128 bits: the low word to *t, the high word to *c. */
static inline void
ord_mac(uint64_t *t, uint64_t a, uint64_t b, uint64_t *c)
{
	u128 v = (u128)a * b + *t + *c;
	*t = (uint64_t)v;
	*c = (uint64_t)(v >> 64);
}

/* r = a * b * R^-1 mod q, for a, b < q (r may be a or b). */
static void
ord_mul(uint64_t r[4], const uint64_t a[4], const uint64_t b[4])
{
	uint64_t t[8] = {0}, top = 0;
	for (int i = 0; i < 4; i++) {
		uint64_t c = 0;
		for (int j = 0; j < 4; j++)
			ord_mac(&t[i + j], a[i], b[j], &c);
		t[i + 4] = c;
	}
	for (int i = 0; i < 4; i++) {
		uint64_t m = t[i] * ord_n0, c = 0; /* t + m q = 0 mod 2^(64 (i + 1)) */
		for (int j = 0; j < 4; j++)
			ord_mac(&t[i + j], m, ord_q[j], &c);
		u128 v = (u128)t[i + 4] + c + top;
		t[i + 4] = (uint64_t)v;
		top = (uint64_t)(v >> 64);
	}
	ord_sub_q_if_ge(r, t + 4, top); /* t / R < 2q */
	OPENSSL_cleanse(t, sizeof(t));
}

/* The inverse: Bernstein and Yang's constant-time "safegcd" (Fast constant-time gcd
 * computation and modular inversion, 2019), laid out as libsecp256k1's modinv64 does it
 * (doc/safegcd_implementation.md there): half-delta divsteps, 59 at a time on the low 64 bits
 * of f and g, each batch a 2x2 transition matrix applied to the full numbers, which are five
 * signed 62-bit limbs. 10 batches, 590 divsteps, suffice for any 256-bit input. Fermat
 * (a^(q-2) with ord_mul) was measured 4x slower. */

#define S62_MASK (UINT64_MAX >> 2)

struct s62 {
	int64_t v[5]; /* the sum of v[i] 2^(62 i) */
};

static const struct s62 s62_q = {
        {0x33b9cac2fc632551, 0x339beab69c5e7a13, 0x3ffffffffffffffb, 0x3fffffc00000003f, 0xff}};
static const uint64_t s62_q_inv = 0x332e375511ff43b1; /* q^-1 mod 2^62 */

struct s62_trans {
	int64_t u, v, q, r; /* 2^62 [f', g'] = [[u, v], [q, r]] [f, g] */
};

/* 59 divsteps on the low bits of f (odd) and g; returns the new zeta (= -(delta + 1/2)). The
 * matrix starts as 8 I so that it ends scaled by 2^62. volatile keeps the compiler from
 * turning the masks back into branches. */
static int64_t
s62_divsteps_59(int64_t zeta, uint64_t f, uint64_t g, struct s62_trans *t)
{
	uint64_t u = 8, v = 0, q = 0, r = 8;
	volatile uint64_t c1, c2;
	for (int i = 3; i < 62; i++) {
		c1 = (uint64_t)(zeta >> 63); /* zeta < 0 */
		uint64_t m1 = c1;
		c2 = g & 1; /* g odd */
		uint64_t m2 = 0 - c2;
		uint64_t x = (f ^ m1) - m1, y = (u ^ m1) - m1, z = (v ^ m1) - m1;
		g += x & m2; /* g odd: g + f, or g - f when zeta < 0 */
		q += y & m2;
		r += z & m2;
		m1 &= m2; /* both: swap, f takes the old g */
		zeta = (int64_t)(((uint64_t)zeta ^ m1) - 1);
		f += g & m1;
		u += q & m1;
		v += r & m1;
		g >>= 1;
		u <<= 1;
		v <<= 1;
	}
	t->u = (int64_t)u, t->v = (int64_t)v, t->q = (int64_t)q, t->r = (int64_t)r;
	return zeta;
}

/* [d, e] = t [d, e] / 2^62 mod q, keeping both in (-2q, q): a multiple of q, chosen so that
 * the low 62 bits vanish, is added before the shift (plus q's share when d or e is
 * negative). */
static void
s62_update_de(struct s62 *d, struct s62 *e, const struct s62_trans *t)
{
	const int64_t u = t->u, v = t->v, q = t->q, r = t->r;
	int64_t sd = d->v[4] >> 63, se = e->v[4] >> 63;
	int64_t md = (u & sd) + (v & se), me = (q & sd) + (r & se);
	i128 cd = (i128)u * d->v[0] + (i128)v * e->v[0];
	i128 ce = (i128)q * d->v[0] + (i128)r * e->v[0];
	md -= (int64_t)((s62_q_inv * (uint64_t)cd + (uint64_t)md) & S62_MASK);
	me -= (int64_t)((s62_q_inv * (uint64_t)ce + (uint64_t)me) & S62_MASK);
	cd += (i128)s62_q.v[0] * md;
	ce += (i128)s62_q.v[0] * me;
	cd >>= 62; /* the low 62 bits are 0 */
	ce >>= 62;
	for (int i = 1; i < 5; i++) {
		cd += (i128)u * d->v[i] + (i128)v * e->v[i] + (i128)s62_q.v[i] * md;
		ce += (i128)q * d->v[i] + (i128)r * e->v[i] + (i128)s62_q.v[i] * me;
		d->v[i - 1] = (int64_t)((uint64_t)cd & S62_MASK);
		e->v[i - 1] = (int64_t)((uint64_t)ce & S62_MASK);
		cd >>= 62;
		ce >>= 62;
	}
	d->v[4] = (int64_t)cd;
	e->v[4] = (int64_t)ce;
}

/* [f, g] = t [f, g] / 2^62, exactly. */
static void
s62_update_fg(struct s62 *f, struct s62 *g, const struct s62_trans *t)
{
	const int64_t u = t->u, v = t->v, q = t->q, r = t->r;
	i128 cf = (i128)u * f->v[0] + (i128)v * g->v[0];
	i128 cg = (i128)q * f->v[0] + (i128)r * g->v[0];
	cf >>= 62; /* the low 62 bits are 0 */
	cg >>= 62;
	for (int i = 1; i < 5; i++) {
		cf += (i128)u * f->v[i] + (i128)v * g->v[i];
		cg += (i128)q * f->v[i] + (i128)r * g->v[i];
		f->v[i - 1] = (int64_t)((uint64_t)cf & S62_MASK);
		g->v[i - 1] = (int64_t)((uint64_t)cg & S62_MASK);
		cf >>= 62;
		cg >>= 62;
	}
	f->v[4] = (int64_t)cf;
	g->v[4] = (int64_t)cg;
}

/* The limbs carried into [0, 2^62), all but the signed top one. */
static void
s62_carry(int64_t x[5])
{
	for (int i = 0; i < 4; i++) {
		x[i + 1] += x[i] >> 62;
		x[i] &= (int64_t)S62_MASK;
	}
}

/* x += q when x < 0, limbs carried (x in (-2q, q) becomes (-q, q); x in (-q, q) becomes
 * [0, q)). */
static void
s62_add_q_if_negative(int64_t x[5])
{
	s62_carry(x); /* the sign is the top limb's only once carried */
	int64_t neg = x[4] >> 63;
	for (int i = 0; i < 5; i++)
		x[i] += s62_q.v[i] & neg;
	s62_carry(x);
}

/* r = a^-1 mod q, for a in [1, q-1]. */
static void
ord_inv(uint64_t r[4], const uint64_t a[4])
{
	struct s62 d = {{0}}, e = {{1}}, f = s62_q, g;
	struct s62_trans t;
	g.v[0] = (int64_t)(a[0] & S62_MASK);
	g.v[1] = (int64_t)((a[0] >> 62 | a[1] << 2) & S62_MASK);
	g.v[2] = (int64_t)((a[1] >> 60 | a[2] << 4) & S62_MASK);
	g.v[3] = (int64_t)((a[2] >> 58 | a[3] << 6) & S62_MASK);
	g.v[4] = (int64_t)(a[3] >> 56);
	int64_t zeta = -1; /* delta = 1/2 */
	for (int i = 0; i < 10; i++) {
		zeta = s62_divsteps_59(zeta, (uint64_t)f.v[0], (uint64_t)g.v[0], &t);
		s62_update_de(&d, &e, &t);
		s62_update_fg(&f, &g, &t);
	}
	/* Now g = 0 and f = +-1; d a = f mod q held throughout, so a^-1 = f d. */
	s62_add_q_if_negative(d.v);
	int64_t neg = f.v[4] >> 63;
	for (int i = 0; i < 5; i++)
		d.v[i] = (d.v[i] ^ neg) - neg;
	s62_add_q_if_negative(d.v);
	uint64_t x[5];
	for (int i = 0; i < 5; i++)
		x[i] = (uint64_t)d.v[i];
	r[0] = x[0] | x[1] << 62;
	r[1] = x[1] >> 2 | x[2] << 60;
	r[2] = x[2] >> 4 | x[3] << 58;
	r[3] = x[3] >> 6 | x[4] << 56;
	OPENSSL_cleanse(x, sizeof(x));
	OPENSSL_cleanse(&d, sizeof(d));
	OPENSSL_cleanse(&e, sizeof(e));
	OPENSSL_cleanse(&f, sizeof(f));
	OPENSSL_cleanse(&g, sizeof(g));
	OPENSSL_cleanse(&t, sizeof(t));
}

/* ---- RFC 6979 section 3.2 with HMAC-SHA-256, qlen = hlen = 256 ---- */

/* HMAC-SHA-256 with a 32-byte key (RFC 2104), without allocation. */
struct hmac256 {
	SHA256_CTX inner, outer;
};

static void
hmac256_init(struct hmac256 *h, const uint8_t key[32])
{
	uint8_t pad[SHA256_CBLOCK];
	for (size_t i = 0; i < sizeof(pad); i++)
		pad[i] = (uint8_t)((i < 32 ? key[i] : 0) ^ 0x36);
	SHA256_Init(&h->inner);
	SHA256_Update(&h->inner, pad, sizeof(pad));
	for (size_t i = 0; i < sizeof(pad); i++)
		pad[i] ^= 0x36 ^ 0x5c;
	SHA256_Init(&h->outer);
	SHA256_Update(&h->outer, pad, sizeof(pad));
	OPENSSL_cleanse(pad, sizeof(pad));
}

static void
hmac256_final(struct hmac256 *h, uint8_t out[32])
{
	uint8_t in[32];
	SHA256_Final(in, &h->inner);
	SHA256_Update(&h->outer, in, sizeof(in));
	SHA256_Final(out, &h->outer);
	OPENSSL_cleanse(in, sizeof(in));
}

/* The DRBG state: K, V, and HMAC_K keyed once for V = HMAC_K(V). Secret: cleansed after use. */
struct rfc6979 {
	uint8_t k[32], v[32];
	struct hmac256 keyed;
};

/* K = HMAC_K(V || sep [|| int2octets(d) || bits2octets(h1)]); V = HMAC_K(V). */
static void
rfc6979_update(struct rfc6979 *st, uint8_t sep, const uint8_t *d, const uint8_t *h1)
{
	struct hmac256 h = st->keyed;
	SHA256_Update(&h.inner, st->v, 32);
	SHA256_Update(&h.inner, &sep, 1);
	if (d != NULL) {
		SHA256_Update(&h.inner, d, 32);
		SHA256_Update(&h.inner, h1, 32);
	}
	hmac256_final(&h, st->k);
	hmac256_init(&st->keyed, st->k);
	h = st->keyed;
	SHA256_Update(&h.inner, st->v, 32);
	hmac256_final(&h, st->v);
	OPENSSL_cleanse(&h, sizeof(h));
}

/* Steps a-g, for d in [1, q-1]. */
static void
rfc6979_init(struct rfc6979 *st, const uint8_t d[32], const uint8_t h1[32])
{
	uint64_t l[4];
	uint8_t h[32]; /* bits2octets(h1): h1 < 2^256 < 2q, so h1 mod q is one subtraction */
	ord_from_be(l, h1);
	ord_sub_q_if_ge(l, l, 0);
	ord_to_be(h, l);
	memset(st->v, 0x01, 32);
	memset(st->k, 0x00, 32);
	hmac256_init(&st->keyed, st->k);
	rfc6979_update(st, 0x00, d, h);
	rfc6979_update(st, 0x01, d, h);
}

/* Step h: the next candidate T (tlen = qlen: one HMAC output, and bits2int(T) = T). Every
 * candidate after the first is preceded by K = HMAC_K(V || 0x00), V = HMAC_K(V). */
static void
rfc6979_next(struct rfc6979 *st, uint8_t t[32], bool first)
{
	if (!first)
		rfc6979_update(st, 0x00, NULL, NULL);
	struct hmac256 h = st->keyed;
	SHA256_Update(&h.inner, st->v, 32);
	hmac256_final(&h, st->v);
	OPENSSL_cleanse(&h, sizeof(h));
	memcpy(t, st->v, 32);
}

/* A candidate is out of range with probability about 2^-32; the bound keeps the loop finite
 * (64 misses in a row: about 2^-2048). */
#define RFC6979_TRIES 64

int
ctsig_rfc6979_nonce(uint8_t k[CTSIG_P256_SCALAR_LEN], const uint8_t d[CTSIG_P256_SCALAR_LEN],
                    const uint8_t h1[CTENC_HASH_LEN])
{
	uint64_t l[4];
	ord_from_be(l, d);
	if (!ord_in_range(l)) {
		memset(k, 0, CTSIG_P256_SCALAR_LEN);
		return -EINVAL;
	}
	struct rfc6979 st;
	int rc = -EIO;
	rfc6979_init(&st, d, h1);
	for (int i = 0; i < RFC6979_TRIES; i++) {
		rfc6979_next(&st, k, i == 0);
		ord_from_be(l, k);
		if (ord_in_range(l)) {
			rc = 0;
			break;
		}
	}
	if (rc < 0)
		memset(k, 0, CTSIG_P256_SCALAR_LEN);
	OPENSSL_cleanse(&st, sizeof(st));
	OPENSSL_cleanse(l, sizeof(l));
	return rc;
}

/* ---- signing ---- */

struct ctsig_signer {
	const struct ctsig_key *key;
	EC_GROUP *group; /* P-256 (OpenSSL's nistz256 code where the CPU has it) */
	BN_CTX *bn;
	BIGNUM *k;          /* the nonce, BN_FLG_CONSTTIME; cleared after every signature */
	BIGNUM *rx;         /* x(kG) */
	EC_POINT *kg;       /* kG */
	uint8_t d[32];      /* the private scalar (RFC 6979's x), big-endian */
	uint64_t d_mont[4]; /* d * R mod q */
};

/* One signature at start-up, over the log ID, checked with OpenSSL's verifier: it proves that
 * the scalar, the group and the arithmetic here agree with the key before any SCT goes out,
 * and it warms the BN_CTX pool, so that no signature allocates, the first one included. */
static int
signer_self_test(struct ctsig_signer *s)
{
	uint8_t dsig[CTSIG_DSIG_MAX];
	long n = ctsig_sign_digest(s, dsig, sizeof(dsig), s->key->log_id);
	if (n < 0)
		return (int)n;
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, s->key->pkey, NULL);
	if (c == NULL)
		return -ENOMEM;
	int ok = EVP_PKEY_verify_init(c) == 1 &&
	         EVP_PKEY_verify(c, dsig + 4, (size_t)n - 4, s->key->log_id, CTENC_HASH_LEN) == 1;
	EVP_PKEY_CTX_free(c);
	return ok ? 0 : -EIO;
}

int
ctsig_signer_new(struct ctsig_signer **out, const struct ctsig_key *k)
{
	*out = NULL;
	struct ctsig_signer *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->key = k;
	int rc = -EIO;
	BIGNUM *d = NULL;
	uint64_t l[4];
	uint8_t q[32], want[32];
	if (EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_PRIV_KEY, &d) != 1)
		goto fail;
	if (BN_bn2binpad(d, s->d, sizeof(s->d)) != (int)sizeof(s->d)) {
		rc = -EINVAL;
		goto fail;
	}
	ord_from_be(l, s->d);
	if (!ord_in_range(l)) {
		rc = -EINVAL;
		goto fail;
	}
	ord_mul(s->d_mont, l, ord_rr);
	rc = -ENOMEM;
	s->group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
	s->bn = BN_CTX_new();
	s->k = BN_new();
	s->rx = BN_new();
	if (s->group == NULL || s->bn == NULL || s->k == NULL || s->rx == NULL ||
	    (s->kg = EC_POINT_new(s->group)) == NULL)
		goto fail;
	BN_set_flags(s->k, BN_FLG_CONSTTIME);
	/* The arithmetic above is for this order only. */
	ord_to_be(want, ord_q);
	if (BN_bn2binpad(EC_GROUP_get0_order(s->group), q, sizeof(q)) != (int)sizeof(q) ||
	    memcmp(q, want, sizeof(q)) != 0) {
		rc = -EIO;
		goto fail;
	}
	if ((rc = signer_self_test(s)) < 0)
		goto fail;
	BN_clear_free(d);
	OPENSSL_cleanse(l, sizeof(l));
	*out = s;
	return 0;
fail:
	ERR_clear_error();
	BN_clear_free(d);
	OPENSSL_cleanse(l, sizeof(l));
	ctsig_signer_free(s);
	return rc;
}

void
ctsig_signer_free(struct ctsig_signer *s)
{
	if (s == NULL)
		return;
	BN_clear_free(s->k);
	BN_free(s->rx);
	EC_POINT_free(s->kg);
	BN_CTX_free(s->bn);
	EC_GROUP_free(s->group);
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
}

/* One DER INTEGER for a non-negative 32-byte big-endian value: minimal, with a 0x00 in front
 * when the top bit is set. At most 35 bytes. */
static size_t
der_uint(uint8_t *out, const uint8_t v[32])
{
	size_t i = 0;
	while (i < 31 && v[i] == 0)
		i++;
	size_t n = 32 - i, pad = v[i] >> 7;
	out[0] = 0x02;
	out[1] = (uint8_t)(pad + n);
	out[2] = 0x00;
	memcpy(out + 2 + pad, v + i, n);
	return 2 + pad + n;
}

/* r = x(kG) mod q for the nonce kb (BN-side work: OpenSSL's constant-time scalar
 * multiplication). Returns 0 or -EIO. */
static int
sign_r(struct ctsig_signer *s, uint64_t r[4], const uint8_t kb[32])
{
	uint8_t xb[32];
	if (BN_bin2bn(kb, 32, s->k) == NULL ||
	    EC_POINT_mul(s->group, s->kg, s->k, NULL, NULL, s->bn) != 1 ||
	    EC_POINT_get_affine_coordinates(s->group, s->kg, s->rx, NULL, s->bn) != 1 ||
	    BN_bn2binpad(s->rx, xb, sizeof(xb)) != (int)sizeof(xb))
		return -EIO;
	ord_from_be(r, xb);
	ord_sub_q_if_ge(r, r, 0); /* x < p < 2q */
	return 0;
}

long
ctsig_sign_digest(struct ctsig_signer *s, uint8_t *out, size_t cap,
                  const uint8_t digest[CTENC_HASH_LEN])
{
	if (cap < CTSIG_DSIG_MAX)
		return -ENOSPC;
	struct rfc6979 st;
	uint8_t kb[32], rb[32], sb[32];
	uint64_t k[4], kinv[4], r[4], e[4], t[4];
	long rc = -EIO;
	ord_from_be(e, digest);
	ord_sub_q_if_ge(e, e, 0); /* h mod q */
	rfc6979_init(&st, s->d, digest);
	for (int i = 0; i < RFC6979_TRIES; i++) {
		rfc6979_next(&st, kb, i == 0);
		ord_from_be(k, kb);
		if (!ord_in_range(k))
			continue; /* k = 0 or k >= q: the next candidate (step h.3) */
		if (sign_r(s, r, kb) < 0)
			break;
		/* r = 0 or s = 0: the next k (RFC 6979 section 3.4; probability ~2^-256) */
		if (!ord_in_range(r))
			continue;
		ord_inv(kinv, k);
		ord_mul(kinv, kinv, ord_rr); /* k^-1 R */
		ord_mul(t, r, s->d_mont);    /* r d */
		ord_add(t, t, e);            /* h + r d */
		ord_mul(t, t, kinv);         /* k^-1 (h + r d) */
		if (!ord_in_range(t))
			continue;
		ord_to_be(rb, r);
		ord_to_be(sb, t);
		uint8_t *p = out + 4 + 2;
		p += der_uint(p, rb);
		p += der_uint(p, sb);
		size_t n = (size_t)(p - (out + 4)); /* at most 2 + 35 + 35 = CTSIG_ECDSA_DER_MAX */
		out[4] = 0x30;
		out[5] = (uint8_t)(n - 2);
		out[0] = CTENC_HASH_SHA256;
		out[1] = CTENC_SIG_ECDSA;
		store_be(out + 2, n, 2);
		rc = (long)(4 + n);
		break;
	}
	BN_clear(s->k);
	OPENSSL_cleanse(&st, sizeof(st));
	OPENSSL_cleanse(kb, sizeof(kb));
	OPENSSL_cleanse(k, sizeof(k));
	OPENSSL_cleanse(kinv, sizeof(kinv));
	OPENSSL_cleanse(t, sizeof(t));
	if (rc < 0) {
		ERR_clear_error();
		memset(out, 0, CTSIG_DSIG_MAX);
	}
	return rc;
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
	/* Room for the longest signature, so that -ENOSPC does not depend on the length of this
	 * one (its r and s may be short) and no signature is wasted. */
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

void
ctsig_int_ord_inverse(uint8_t out[32], const uint8_t in[32])
{
	uint64_t a[4], r[4];
	ord_from_be(a, in);
	ord_inv(r, a);
	ord_to_be(out, r);
}
