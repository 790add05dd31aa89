/* tools/load_mint.h: the minting half of `birch load`: a test CA (a P-256 root and RSA-2048,
 * P-256 and P-384 intermediates), distinct leaves and precertificates minted fast from a
 * per-issuer template, the prebuilt HTTP requests that carry them, and the check of an SCT
 * response against the leaf it was issued for.
 *
 * How a leaf is minted: each (issuer, certificate or precertificate) pair gets a template
 * built once with OpenSSL's X509 API: a complete leaf whose TBSCertificate carries a marker
 * serial and a marker name in its CN and SAN. Minting leaf n copies the TBS, patches the
 * 16-byte serial (a seed-derived prefix and n) and the 16 hex digits of the name (n) at fixed
 * offsets, hashes it (SHA-256, SHA-384 for P-384 issuers) and signs the digest, then writes
 * the Certificate DER around it (the ECDSA signature's length varies). RSA-2048 and P-256 sign
 * with EVP_PKEY_sign on a context sign-initialised once per signer (engine/ctsig.c measured
 * this against EVP_DigestSign on a reused EVP_MD_CTX: faster, fewer allocations); P-384 signs
 * with nettle, about 5x OpenSSL 3.0's P-384 here. Precertificates carry the critical CT poison
 * extension and are signed by the intermediate directly (no Precertificate Signing Certificate).
 *
 * Contract:
 * - This is tool code: it allocates (OpenSSL objects, the request arena), and the CA
 *   functions touch the file system. It never prints; load_set_mint reports progress through
 *   a callback.
 * - struct load_ca and struct load_tmpl are read-only once made and may be shared by threads.
 *   struct load_signer and struct load_verifier belong to one thread at a time.
 * - Errors: 0 (or a length) on success, else a negative errno with *reason (reason may be
 *   NULL) a static string naming the file, field or step at fault. -EEXIST from
 *   load_ca_init_dir means a non-empty directory that is not a complete test CA.
 */
#ifndef BIRCH_TOOLS_LOAD_MINT_H
#define BIRCH_TOOLS_LOAD_MINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/der.h"

struct ctsig_pub;

enum load_issuer {
	LOAD_RSA2048 = 0,
	LOAD_P256,
	LOAD_P384,
	LOAD_ISSUERS,
};

#define LOAD_SERIAL_LEN  16   /* every leaf's serial: 16 bytes, first in 0x40..0x7f */
#define LOAD_NAME_HEX    16   /* hex digits of the leaf number in CN and SAN */
#define LOAD_LEAF_MAX    2048 /* a minted leaf's DER is well below this */
#define LOAD_ISSUER_MAX  4096 /* an intermediate's DER */
#define LOAD_PREFIX_MAX  200  /* URL path prefix */
#define LOAD_HOST_MAX    260  /* Host header value */
#define LOAD_VERIFY_BODY 4096 /* SCT response bodies longer than this are not SCTs */

/* "rsa", "p256", "p384". */
const char *load_issuer_name(enum load_issuer i);

/* ---- the test CA ---- */

struct load_ca;

/* Generates a CA in memory: root "Birch load test root" (P-256, self-signed, SHA-256), and
 * one intermediate per enum load_issuer signed by it (cA TRUE, pathLen 0, keyCertSign). */
__attribute__((warn_unused_result)) int load_ca_new(struct load_ca **out, const char **reason);
/* Writes the CA into an existing empty directory: root.pem, root.key.pem, <name>.pem,
 * <name>.key.pem for each issuer (keys PKCS#8, mode 0600, created exclusively) and roots.pem
 * (the root alone, for a log's --roots). */
__attribute__((warn_unused_result)) int load_ca_save(const struct load_ca *ca, const char *dir,
                                                     const char **reason);
/* Reads a CA written by load_ca_save, checking that every key matches its certificate and
 * every intermediate is a CA of the right key type signed by the root. */
__attribute__((warn_unused_result)) int load_ca_load(struct load_ca **out, const char *dir,
                                                     const char **reason);
/* `birch load ca --out DIR`: creates DIR (0700) when missing and writes a new CA into it when
 * empty (*reused false); a directory holding a complete CA is kept (*reused true); any other
 * non-empty directory is -EEXIST. */
__attribute__((warn_unused_result)) int load_ca_init_dir(const char *dir, bool *reused,
                                                         const char **reason);
void load_ca_free(struct load_ca *ca);
/* The root's and an intermediate's DER (borrowed from ca). */
struct der_span load_ca_root(const struct load_ca *ca);
struct der_span load_ca_issuer(const struct load_ca *ca, enum load_issuer i);

/* ---- leaf templates and signers ---- */

struct load_tmpl_opts {
	int64_t not_before, not_after; /* seconds since the epoch */
	uint64_t seed;                 /* the serial prefix derives from it */
};

struct load_tmpl;

__attribute__((warn_unused_result)) int load_tmpl_new(struct load_tmpl **out,
                                                      const struct load_ca *ca, enum load_issuer i,
                                                      bool precert, const struct load_tmpl_opts *o,
                                                      const char **reason);
void load_tmpl_free(struct load_tmpl *t);

/* The expected serial of leaf n (for checks by a second computation). */
void load_tmpl_serial(const struct load_tmpl *t, uint64_t n, uint8_t out[LOAD_SERIAL_LEN]);

struct load_signer;

__attribute__((warn_unused_result)) int load_signer_new(struct load_signer **out,
                                                        const struct load_tmpl *t);
void load_signer_free(struct load_signer *s);

/* Mints leaf number n into out[0..cap) (LOAD_LEAF_MAX always suffices). Returns the DER
 * length, -ENOSPC, or -EIO when OpenSSL fails to sign. Two calls with different n give
 * different serials and names; the same n on two templates of one issuer gives two different
 * leaves only when one is a precertificate, so callers number leaves across templates. */
__attribute__((warn_unused_result)) long load_mint_leaf(struct load_signer *s, uint64_t n,
                                                        uint8_t *out, size_t cap);

/* ---- the request set: every chain of a run, minted before it ---- */

struct load_plan {
	uint64_t n;                    /* requests to build */
	unsigned weight[LOAD_ISSUERS]; /* issuer mix; at least one non-zero */
	unsigned precert_pct;          /* 0..100 */
	struct load_tmpl_opts tmpl;    /* validity and seed */
	unsigned threads;              /* minting threads; 0: one per online CPU */
	const char *host;              /* Host header value */
	const char *prefix;            /* "" or "/name" (no trailing slash) */
};

/* One prebuilt request. Its bytes are slot[0..len) followed by the issuer's shared tail:
 *   POST <prefix>/ct/v1/add-chain HTTP/1.1 (or add-pre-chain) ... Content-Length: N
 *   {"chain":["<leaf base64>   +   ","<intermediate base64>"]}
 * leaf_off/leaf_len locate the leaf base64 inside the slot. */
struct load_req {
	uint32_t len;
	uint16_t leaf_off, leaf_len;
	uint8_t issuer; /* enum load_issuer */
	bool precert;
};

struct load_mint_stats {
	uint64_t count[LOAD_ISSUERS];   /* leaves minted per issuer */
	uint64_t sign_ns[LOAD_ISSUERS]; /* thread time spent minting them (patch, hash, sign,
	                                   encode) */
	uint64_t wall_ns;
	unsigned threads;
};

struct load_set {
	uint64_t n;
	struct load_req *req; /* n entries */
	char *arena;          /* request i's slot starts at arena + i * stride */
	size_t stride;
	struct {
		char *bytes; /* `","<intermediate base64>"]}` */
		size_t len;
		uint8_t key_hash[32]; /* SHA-256 of the intermediate's SPKI (issuer_key_hash) */
	} tail[LOAD_ISSUERS];
	struct load_mint_stats stats;
};

/* Progress callback, called from the minting threads roughly every 1000 leaves (done is the
 * running total); it must be thread-safe. May be NULL. */
typedef void (*load_progress_fn)(void *ctx, uint64_t done, uint64_t n);

/* Mints every request of the plan into *set with plan->threads threads (distinct leaves:
 * leaf i is number i). Which issuer and whether a precertificate is decided per request from
 * the seed. On failure *set is freed and zeroed. */
__attribute__((warn_unused_result)) int
load_set_mint(struct load_set *set, const struct load_ca *ca, const struct load_plan *plan,
              load_progress_fn progress, void *ctx, const char **reason);
void load_set_free(struct load_set *set);
static inline const char *
load_set_slot(const struct load_set *set, uint64_t i)
{
	return set->arena + i * set->stride;
}
/* Decodes request i's leaf DER into out (LOAD_LEAF_MAX suffices). Length or -EBADMSG. */
__attribute__((warn_unused_result)) long load_set_leaf(const struct load_set *set, uint64_t i,
                                                       uint8_t *out, size_t cap);

/* ---- checking an SCT response ---- */

enum load_verdict {
	LOAD_SCT_OK = 0,
	LOAD_SCT_BAD_JSON,   /* not an RFC 6962 SCT response, or malformed CtExtensions */
	LOAD_SCT_BAD_LOG_ID, /* the SCT's id is not the log key's */
	LOAD_SCT_BAD_SIG,    /* the signature does not cover this leaf */
};

struct load_verifier; /* per-thread scratch: JSON tokens, decoded SCT, precert TBS */

__attribute__((warn_unused_result)) int load_verifier_new(struct load_verifier **out);
void load_verifier_free(struct load_verifier *v);

struct load_sct_info {
	uint64_t timestamp;
	uint64_t leaf_index;
	bool has_index; /* the SCT carried the static-ct-api leaf_index extension */
};

/* Checks an add-chain / add-pre-chain response body for the leaf (its DER) issued by the
 * intermediate with SPKI hash issuer_key_hash: json_sct_parse, the log ID, ctsig over the
 * x509 entry (or the precert TBS of der_precert_tbs with the issuer key hash), and the
 * leaf_index extension when present. Returns the verdict; *reason says why when not OK. */
__attribute__((warn_unused_result)) enum load_verdict
load_sct_check(struct load_verifier *v, const struct ctsig_pub *pub, bool precert,
               const uint8_t *leaf, size_t leaf_len, const uint8_t issuer_key_hash[32],
               const char *body, size_t body_len, struct load_sct_info *info, const char **reason);

#endif
