/* engine/ctsig.h: a CT log's keys, RFC 6962 signatures (SCT, STH) and static-ct-api
 * checkpoints as C2SP signed notes with RFC6962NoteSignature (signature type 0x05).
 *
 * Signatures are RFC 6962 DigitallySigned structs: hash algorithm (sha256 = 4), signature
 * algorithm (ecdsa = 3, rsa = 1), uint16 length, signature (ECDSA: DER Ecdsa-Sig-Value; RSA:
 * PKCS#1 v1.5 over SHA-256). Birch signs with ECDSA P-256 only; it verifies ECDSA P-256 and
 * RSA (2048 bits or more), as RFC 6962 section 2.1.4 allows both for logs.
 *
 * Contract:
 * - Objects. struct ctsig_key (a log's private key) and struct ctsig_pub (a public key) are
 *   made once at start-up, are read-only afterwards and may be shared by any number of
 *   threads; free them after every user is done. struct ctsig_signer belongs to one thread
 *   at a time (make one per signing thread) and must not outlive its key.
 * - Determinism. Every signature is deterministic ECDSA (RFC 6979 section 3.2, HMAC-SHA-256,
 *   qlen = hlen = 256): the nonce k is derived from the private scalar and the SHA-256 digest,
 *   so signing the same bytes with the same key gives the same signature, byte for byte, in
 *   any signer, process or restart. An SCT can thus be re-signed identically from its entry
 *   alone (a duplicate submission, a rebuild after a crash).
 * - Allocation. Loading keys, making signers, key generation and verification allocate
 *   (OpenSSL objects; verification makes an EVP_PKEY_CTX per call, it is not on the log's hot
 *   path). ctsig_signer_new reads the private scalar once into the signer (cleansed by
 *   ctsig_signer_free), preallocates the P-256 group, a BN_CTX, bignums and a point, and signs
 *   once as a self-test, checked with OpenSSL's verifier (which also warms the BN_CTX pool).
 *   Signing (ctsig_sign*, ctsig_sct_sign, ctsig_sth_sign, ctsig_checkpoint_sign) is the hot
 *   path: nothing is allocated or fetched per call, by Birch or by OpenSSL. Per signature:
 *   SHA-256 on the stack, the RFC 6979 HMAC-SHA-256 DRBG (Birch's HMAC on OpenSSL's SHA-256),
 *   kG by OpenSSL's EC_POINT_mul into the signer's point, and k^-1 and s = k^-1 (h + r d) mod q
 *   in Birch's constant-time arithmetic modulo the group order. k, k^-1 and the DRBG state are
 *   cleansed after use.
 * - Errors. 0 or a length on success; otherwise -EINVAL (an argument out of range), -ENOSPC
 *   (output buffer too small), -EBADMSG (malformed input or a signature that does not
 *   verify), -ENOMEM, -EIO (an unexpected OpenSSL failure), or -errno from the file system.
 *   Where the reason matters, *reason (when reason is not NULL) gets a static string naming
 *   the field at fault. Nothing here prints.
 * - Verification results must be checked (warn_unused_result): 0 means valid, anything else
 *   means "do not trust".
 */
#ifndef BIRCH_ENGINE_CTSIG_H
#define BIRCH_ENGINE_CTSIG_H

#include <stddef.h>
#include <stdint.h>

#include "engine/b64.h"
#include "engine/ctenc.h"

#define CTSIG_ECDSA_DER_MAX  72                        /* DER Ecdsa-Sig-Value for P-256, at most */
#define CTSIG_DSIG_MAX       (4 + CTSIG_ECDSA_DER_MAX) /* a DigitallySigned Birch writes */
#define CTSIG_P256_SPKI_LEN  91                        /* named-curve, uncompressed point */
#define CTSIG_SPKI_B64_MAX   (B64_ENCODED_LEN(CTSIG_P256_SPKI_LEN) + 1) /* with the NUL */
#define CTSIG_NOTE_KEY_ID    4
#define CTSIG_NOTE_TYPE_6962 0x05 /* signed-note signature type for RFC 6962 tree heads */
/* A checkpoint Birch writes, with its NUL: body, blank line, one signature line
 * "— <origin> <base64(key ID || timestamp || DigitallySigned)>\n". */
#define CTSIG_CHECKPOINT_MAX                                                                       \
	(CTENC_CHECKPOINT_MAX + 1 + 4 + CTENC_ORIGIN_MAX + 1 +                                     \
	 B64_ENCODED_LEN(CTSIG_NOTE_KEY_ID + 8 + CTSIG_DSIG_MAX) + 1)
#define CTSIG_P256_SCALAR_LEN 32           /* a P-256 private scalar or nonce, big-endian */
#define CTSIG_NOTE_MAX        (256 * 1024) /* the largest note the verifier reads */
#define CTSIG_NOTE_SIGS_MAX   100          /* signature lines per note (signed-note: >= 16) */

struct ctsig_key;    /* a log's P-256 private key */
struct ctsig_signer; /* per-thread signing context */
struct ctsig_pub;    /* a log's public key (P-256 or RSA), for verification */

/* ---- the log's private key ---- */

/* Loads a P-256 private key from PEM ("EC PRIVATE KEY", SEC 1, or "PRIVATE KEY", PKCS#8,
 * unencrypted; other PEM blocks such as "EC PARAMETERS" are skipped). Any other key type or
 * curve is -EINVAL. */
__attribute__((warn_unused_result)) int ctsig_key_from_pem(struct ctsig_key **out, const char *pem,
                                                           size_t len, const char **reason);
/* The same from a file. */
__attribute__((warn_unused_result)) int ctsig_key_load(struct ctsig_key **out, const char *path,
                                                       const char **reason);
void ctsig_key_free(struct ctsig_key *k);

/* The LogID, SHA-256 of the public key's SubjectPublicKeyInfo DER (32 bytes, borrowed). */
const uint8_t *ctsig_key_log_id(const struct ctsig_key *k);
/* The public key's SubjectPublicKeyInfo DER (borrowed; *len gets CTSIG_P256_SPKI_LEN). */
const uint8_t *ctsig_key_spki(const struct ctsig_key *k, size_t *len);
/* The SPKI in standard base64 with a NUL, as log lists carry it ("key"). Returns the length
 * without the NUL, or -ENOSPC (CTSIG_SPKI_B64_MAX always suffices). */
__attribute__((warn_unused_result)) long ctsig_key_spki_b64(char *out, size_t cap,
                                                            const struct ctsig_key *k);

/* Generates a P-256 key and writes it as an unencrypted PKCS#8 PEM to a new file at path
 * (mode 0600, created exclusively: -EEXIST when it exists; fsynced with its directory). On
 * failure nothing is left at path. */
__attribute__((warn_unused_result)) int ctsig_keygen(const char *path, const char **reason);

/* ---- signing (per thread) ---- */

/* A signer for key k (see Allocation above). Returns 0, -ENOMEM, -EINVAL (a private scalar
 * out of range) or -EIO (an OpenSSL failure, or a self-test signature that did not verify). */
__attribute__((warn_unused_result)) int ctsig_signer_new(struct ctsig_signer **out,
                                                         const struct ctsig_key *k);
void ctsig_signer_free(struct ctsig_signer *s);

/* A DigitallySigned (sha256, ecdsa) over SHA-256(msg), or over an already computed SHA-256
 * digest: deterministic, a function of the key and the digest only. out needs CTSIG_DSIG_MAX
 * bytes of room (-ENOSPC otherwise, whatever the actual length). Returns the length written,
 * or -EIO (an OpenSSL failure; out is zeroed). */
__attribute__((warn_unused_result)) long ctsig_sign(struct ctsig_signer *s, uint8_t *out,
                                                    size_t cap, const uint8_t *msg, size_t len);
__attribute__((warn_unused_result)) long ctsig_sign_digest(struct ctsig_signer *s, uint8_t *out,
                                                           size_t cap,
                                                           const uint8_t digest[CTENC_HASH_LEN]);

/* The SCT signature for entry e (its timestamp and extensions are the SCT's): a
 * DigitallySigned over the RFC 6962 section 3.2 input, hashed as a stream (the certificate is
 * not copied). Returns the length written, or -EINVAL for an entry out of range. */
__attribute__((warn_unused_result)) long ctsig_sct_sign(struct ctsig_signer *s, uint8_t *out,
                                                        size_t cap, const struct ctenc_entry *e);

/* The STH signature (TreeHeadSignature, section 3.5). */
__attribute__((warn_unused_result)) long ctsig_sth_sign(struct ctsig_signer *s, uint8_t *out,
                                                        size_t cap, uint64_t timestamp,
                                                        uint64_t tree_size,
                                                        const uint8_t root[CTENC_HASH_LEN]);

/* A signed checkpoint: the body (ctenc_checkpoint), a blank line and one signature line
 * whose key name is the origin. Writes a NUL too; returns the length without it. cap must
 * hold the note with the longest possible signature (else -ENOSPC, before signing), so the
 * outcome does not depend on this signature's length; CTSIG_CHECKPOINT_MAX always suffices. */
__attribute__((warn_unused_result)) long
ctsig_checkpoint_sign(struct ctsig_signer *s, char *out, size_t cap, const char *origin,
                      size_t origin_len, uint64_t timestamp, uint64_t tree_size,
                      const uint8_t root[CTENC_HASH_LEN]);

/* The RFC 6979 section 3.2 nonce for P-256 with HMAC-SHA-256: the first candidate k in
 * [1, q-1] for the private scalar d and the message digest h1 (32 bytes each, big-endian;
 * h1 enters as bits2octets(h1) = h1 mod q). Signing derives k this way (and moves on to the
 * next candidate, as RFC 6979 section 3.4 says, in the ~2^-256 case that r or s is 0); this
 * entry point exists for known-answer tests. Pure, no allocation. Returns 0, or -EINVAL when
 * d is not in [1, q-1] (k zeroed; -EIO, equally, after 64 candidates out of range, ~2^-2048). */
__attribute__((warn_unused_result)) int ctsig_rfc6979_nonce(uint8_t k[CTSIG_P256_SCALAR_LEN],
                                                            const uint8_t d[CTSIG_P256_SCALAR_LEN],
                                                            const uint8_t h1[CTENC_HASH_LEN]);

/* ---- signed notes (C2SP signed-note, static-ct-api) ---- */

/* The note key ID of an RFC 6962 log: the first 4 bytes, big-endian, of
 * SHA-256(key name || 0x0A || 0x05 || LogID), where LogID is the 32-byte SHA-256 of the
 * SPKI (static-ct-api "Checkpoints"). */
uint32_t ctsig_note_key_id(const char *name, size_t name_len, const uint8_t log_id[CTENC_HASH_LEN]);

/* Encodes a checkpoint note from an existing STH signature (the conversion of a get-sth
 * response, which needs no private key): body, blank line,
 * "— <origin> base64(key ID || uint64 timestamp || DigitallySigned)\n", and a NUL. Returns
 * the length without the NUL, -EINVAL or -ENOSPC. */
__attribute__((warn_unused_result)) long
ctsig_checkpoint_from_sth(char *out, size_t cap, const char *origin, size_t origin_len,
                          const uint8_t log_id[CTENC_HASH_LEN], uint64_t timestamp,
                          uint64_t tree_size, const uint8_t root[CTENC_HASH_LEN],
                          const uint8_t *dsig, size_t dsig_len);

/* ---- public keys and verification ---- */

/* A public key from SubjectPublicKeyInfo DER (the whole input, no trailing bytes) or from a
 * PEM "PUBLIC KEY" block. P-256 or RSA of at least 2048 bits, else -EINVAL. The LogID is the
 * SHA-256 of the SPKI DER as given. */
__attribute__((warn_unused_result)) int
ctsig_pub_from_spki(struct ctsig_pub **out, const uint8_t *der, size_t len, const char **reason);
__attribute__((warn_unused_result)) int ctsig_pub_from_pem(struct ctsig_pub **out, const char *pem,
                                                           size_t len, const char **reason);
void ctsig_pub_free(struct ctsig_pub *k);
const uint8_t *ctsig_pub_log_id(const struct ctsig_pub *k); /* 32 bytes, borrowed */

/* Verifies a DigitallySigned over msg (or over its SHA-256 digest). The algorithm bytes must
 * be sha256 and the key's own type (ecdsa for P-256, rsa for RSA); the signature must be
 * exactly what the key type allows (DER for ECDSA, modulus length for RSA). Returns 0 when
 * valid, else -EBADMSG (or -ENOMEM). */
__attribute__((warn_unused_result)) int ctsig_verify(const struct ctsig_pub *k, const uint8_t *dsig,
                                                     size_t dsig_len, const uint8_t *msg,
                                                     size_t len, const char **reason);
__attribute__((warn_unused_result)) int ctsig_verify_digest(const struct ctsig_pub *k,
                                                            const uint8_t *dsig, size_t dsig_len,
                                                            const uint8_t digest[CTENC_HASH_LEN],
                                                            const char **reason);

/* Verifies an SCT signature over entry e (whose timestamp and extensions are the SCT's). */
__attribute__((warn_unused_result)) int ctsig_sct_verify(const struct ctsig_pub *k,
                                                         const struct ctenc_entry *e,
                                                         const uint8_t *dsig, size_t dsig_len,
                                                         const char **reason);

/* Verifies a parsed TLS SCT: its log ID must be k's, and its signature must cover e's type,
 * certificate and issuer_key_hash with the SCT's own timestamp and extensions (e's timestamp
 * and extensions are ignored). */
__attribute__((warn_unused_result)) int ctsig_sct_verify_tls(const struct ctsig_pub *k,
                                                             const struct ctenc_sct *sct,
                                                             const struct ctenc_entry *e,
                                                             const char **reason);

/* Verifies an STH signature. */
__attribute__((warn_unused_result)) int ctsig_sth_verify(const struct ctsig_pub *k,
                                                         uint64_t timestamp, uint64_t tree_size,
                                                         const uint8_t root[CTENC_HASH_LEN],
                                                         const uint8_t *dsig, size_t dsig_len,
                                                         const char **reason);

struct ctsig_checkpoint {
	struct ctenc_checkpoint body; /* body.origin points into the note */
	uint64_t timestamp;           /* of the first verified signature by the key */
};

/* Verifies a checkpoint note from the log with key k and origin `origin`:
 * - the note is at most CTSIG_NOTE_MAX bytes of valid UTF-8 with no control character but
 *   '\n', and ends in '\n'; the text ends at the last blank line and the rest is 1 to
 *   CTSIG_NOTE_SIGS_MAX well-formed signature lines "— <name> <base64>\n", each decoding to
 *   at least a 4-byte key ID;
 * - the text is a checkpoint body (ctenc_checkpoint_parse) whose origin equals origin;
 * - signature lines whose (name, key ID) is not (origin, ctsig_note_key_id(origin, LogID))
 *   are ignored; every one that matches must decode as RFC6962NoteSignature (uint64
 *   timestamp, DigitallySigned, nothing after) and verify as the STH (timestamp, size, root)
 *   of the body, and at least one must exist.
 * Returns 0 with *out filled, or -EBADMSG / -EINVAL / -ENOMEM with a reason. */
__attribute__((warn_unused_result)) int
ctsig_checkpoint_verify(struct ctsig_checkpoint *out, const struct ctsig_pub *k, const char *origin,
                        size_t origin_len, const char *note, size_t len, const char **reason);

#endif
