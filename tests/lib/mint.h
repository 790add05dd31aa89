/* tests/lib/mint.h: certificates minted with OpenSSL for tests and benchmarks: keys of the
 * types the WebPKI uses, roots, intermediates, leaves, precertificates and Precertificate
 * Signing Certificates. Test-only: allocates freely and calls check_harness() (exit 99) when
 * OpenSSL fails, since that is a broken harness, not a failed check. */
#ifndef BIRCH_TESTS_MINT_H
#define BIRCH_TESTS_MINT_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mint_key_type { MINT_RSA2048, MINT_P256, MINT_P384 };

struct mint_opts {
	const char *cn; /* subject CN; NULL: "Birch test" */
	bool ca;        /* basicConstraints cA TRUE (critical) */
	int path_len;   /* pathLenConstraint when ca; -1: none */
	bool no_bc;     /* no basicConstraints at all */
	bool poison;    /* CT poison extension, critical unless poison_noncritical */
	bool poison_noncritical;
	bool eku_ct;        /* EKU 1.3.6.1.4.1.11129.2.4.4 (a PSC) */
	bool aki; /* an SKI, and an AKI from the issuer's SKI (CAs always get an SKI) */
	int64_t not_before; /* seconds; 0: 2026-01-01 */
	int64_t not_after;  /* seconds; 0: 2027-01-01 */
	long serial;        /* 0: a counter */
};

EVP_PKEY *mint_key(enum mint_key_type t);
/* A certificate for subject_key issued by issuer (NULL: self-signed with subject_key) with
 * issuer_key, signed with SHA-384 by P-384 keys and SHA-256 otherwise. */
X509 *mint_cert(EVP_PKEY *subject_key, X509 *issuer, EVP_PKEY *issuer_key,
                const struct mint_opts *o);
/* DER of x (malloc'd). */
uint8_t *mint_der(X509 *x, size_t *len);
/* A PEM file body of the given certificates (malloc'd, NUL-terminated). */
char *mint_pem(X509 *const *certs, size_t n);

#endif
