/* engine/chain.h: which chains a log accepts (RFC 6962 section 3.1), and what it logs of them.
 *
 * Policy (the README's "Chain policy" says the same for operators):
 * - The leaf (chain[0]) must lead, through the submitted certificates in the order given, to an
 *   accepted root: each certificate's issuer name equals the next one's subject byte for byte and
 *   its signature verifies with the next one's key. The root may be left out when the last
 *   submitted certificate's issuer is an accepted root (the log adds it to the stored chain).
 *   Submitted certificates after the first accepted root are dropped (repeated roots trimmed).
 * - Every issuer that is not an accepted root must be a CA (basicConstraints cA TRUE, within
 *   any pathLenConstraint). Accepted roots are trusted as they are: their own signature,
 *   basicConstraints and validity are not checked.
 * - No validity dates are enforced except the leaf's NotAfter, which must fall in the shard's
 *   [not_after_start, not_after_end). Expired and not-yet-valid issuers are accepted, as the
 *   production logs do. Key usage, extended key usage nesting, name constraints and revocation
 *   are not checked.
 * - add-chain: the leaf must not carry the CT poison extension. add-pre-chain: the leaf must
 *   carry it, critical, with a NULL value. A precertificate may be signed by a Precertificate
 *   Signing Certificate (chain[1] with EKU 1.3.6.1.4.1.11129.2.4.4), which must itself be issued
 *   by the CA that will issue the final certificate; issuer_key_hash is then that CA's key hash
 *   and the logged TBS is rewritten (der_precert_tbs).
 * - Signature algorithms: RSA PKCS#1 v1.5 with SHA-1/256/384/512 and ECDSA with SHA-256/384/512
 *   over P-256 and P-384 keys; anything else is refused ("unsupported signature algorithm").
 *   P-384 signatures are verified with nettle, the rest with OpenSSL. An ECDSA signature must
 *   be DER that re-encodes to the same bytes.
 * - At most CHAIN_MAX submitted certificates, each at most DER_CERT_MAX bytes.
 *
 * Threads and ownership: struct chain_roots is built once (chain_roots_add_*) and then read by
 * any number of threads. Each thread that checks chains has its own struct chain_checker (an
 * issuer cache; not thread-safe). Results borrow from the submitted buffers and from the roots.
 *
 * Cost: a chain whose issuers (the same bytes) were verified before costs one leaf walk, one
 * memcmp of the issuer bytes and one signature verification; no allocation except inside
 * OpenSSL's verify and d2i_ECDSA_SIG. A cache miss parses the issuers with OpenSSL too (an
 * issuer OpenSSL refuses is refused) and decodes the issuer's key once.
 *
 * Errors: 0 accepted; -EBADMSG malformed input, -EACCES a chain the policy refuses, -ENOMEM;
 * *reason always gets a static one-line reason, suitable for an HTTP 400 body.
 */
#ifndef BIRCH_ENGINE_CHAIN_H
#define BIRCH_ENGINE_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/der.h"

#define CHAIN_MAX           16 /* submitted certificates per chain */
#define CHAIN_HASH_LEN      32
#define CHAIN_CACHE_DEFAULT 1024 /* issuer chains cached per checker */

struct chain_roots;

/* An empty set of accepted roots. */
__attribute__((warn_unused_result)) int chain_roots_new(struct chain_roots **out);
void chain_roots_free(struct chain_roots *r);
/* Adds every certificate of a PEM bundle (duplicates by fingerprint are ignored). `name` (a
 * file name) is only used in *reason. Returns the number of new roots, or -EBADMSG when a block
 * does not decode or parse (nothing from this bundle is added), -ENOMEM. */
__attribute__((warn_unused_result)) long chain_roots_add_pem(struct chain_roots *r, const char *pem,
                                                             size_t len, const char **reason);
/* Reads a PEM bundle file and adds it. -errno when the file cannot be read. */
__attribute__((warn_unused_result)) long
chain_roots_add_file(struct chain_roots *r, const char *path, const char **reason);
/* One DER root. Returns 1 when added, 0 for a duplicate, or an error. */
__attribute__((warn_unused_result)) int
chain_roots_add_der(struct chain_roots *r, const uint8_t *der, size_t len, const char **reason);
size_t chain_roots_count(const struct chain_roots *r);
/* The i-th root's DER (in the order added), for get-roots. */
struct der_span chain_roots_get(const struct chain_roots *r, size_t i);

struct chain_policy {
	int64_t not_after_start; /* the leaf's NotAfter must be >= this (seconds since the epoch) */
	int64_t not_after_end;   /* ... and < this; INT64_MAX: no upper bound */
};

struct chain_checker;
/* cache_entries: issuer chains remembered (0: CHAIN_CACHE_DEFAULT). The roots must outlive it. */
__attribute__((warn_unused_result)) int chain_checker_new(struct chain_checker **out,
                                                          const struct chain_roots *roots,
                                                          const struct chain_policy *policy,
                                                          size_t cache_entries);
void chain_checker_free(struct chain_checker *c);

/* What an accepted chain logs. Spans borrow from the submitted certificates and the roots. */
struct chain_result {
	bool precert;
	struct der_cert leaf;                    /* the walked leaf (chain[0]) */
	uint8_t issuer_key_hash[CHAIN_HASH_LEN]; /* SHA-256 of the final issuer's SPKI */
	bool psc;                                /* precert signed by a PSC (chain[1]) */
	struct der_cert psc_cert;                /* the PSC, when psc: for der_precert_tbs */
	/* The chain as stored in extra_data: the submitted issuers up to and including the
	 * accepted root (appended from the roots when it was not submitted). */
	struct der_span issuers[CHAIN_MAX];
	size_t nissuers;
	bool root_added; /* the last of issuers came from the roots, not the submission */
};

/* Checks a submitted chain (chain[0] the leaf), for add-chain (precert false) or add-pre-chain
 * (precert true). Fills *res on success; on failure *res is undefined and *reason says why. */
__attribute__((warn_unused_result)) int chain_check(struct chain_checker *c,
                                                    const struct der_span *chain, size_t n,
                                                    bool precert, struct chain_result *res,
                                                    const char **reason);

/* Cache counters, for metrics and tests. */
struct chain_stats {
	uint64_t checks, accepted, cache_hits, cache_misses, cache_evictions;
};
void chain_checker_stats(const struct chain_checker *c, struct chain_stats *out);

#endif
