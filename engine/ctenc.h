/* engine/ctenc.h: the RFC 6962 and C2SP static-ct-api binary encodings (TLS presentation
 * language) and the checkpoint note body.
 *
 * What is here: TimestampedEntry and MerkleTreeLeaf (x509_entry, precert_entry), the leaf
 * hash, the SCT and STH signature inputs (RFC 6962 sections 3.2 and 3.5), the v1
 * SignedCertificateTimestamp, DigitallySigned, get-entries extra_data, the static-ct-api
 * TileLeaf, the leaf_index CtExtension and the checkpoint body "<origin>\n<size>\n<root>\n".
 * Certificates and TBSCertificates come in as DER bytes already built (this module does not
 * parse ASN.1).
 *
 * Contract:
 * - Pure functions over caller-owned memory, any thread, no allocation, no syscall, no lock.
 *   Hashing uses OpenSSL's low-level SHA-256 on the stack.
 * - Encoders write into (out, cap) and return the number of bytes written, -ENOSPC when cap is
 *   too small (out may then hold a partial encoding), or -EINVAL when an input is out of the
 *   range its field allows (unknown entry type, empty or over-long certificate, ...).
 *   Sizes are exact and computable in advance with the *_len functions.
 * - Parsers are strict: every length in bounds, every vector fully consumed, no trailing
 *   bytes (except where a function says it returns the bytes consumed), unknown versions and
 *   entry types rejected. They return 0 (or bytes consumed) or -EBADMSG, and set *reason
 *   (when reason is not NULL) to a static string naming the field at fault. Parsed structs
 *   point into the input buffer: they are borrowed and valid while the input is.
 */
#ifndef BIRCH_ENGINE_CTENC_H
#define BIRCH_ENGINE_CTENC_H

#include <stddef.h>
#include <stdint.h>

#define CTENC_HASH_LEN       32
#define CTENC_CERT_MAX       0xffffffu /* ASN.1Cert and TBSCertificate are <1..2^24-1> */
#define CTENC_EXT_MAX        0xffffu   /* CtExtensions <0..2^16-1> */
#define CTENC_SIG_MAX        0xffffu   /* DigitallySigned.signature <0..2^16-1> */
#define CTENC_CHAIN_MAX      (0xffffu / CTENC_HASH_LEN) /* TileLeaf fingerprints: 2047 */
#define CTENC_LEAF_INDEX_MAX ((UINT64_C(1) << 40) - 1)  /* uint40 */
#define CTENC_LEAF_INDEX_EXT 8    /* CtExtensions contents holding only leaf_index */
#define CTENC_STH_SIGNED_LEN 50   /* TreeHeadSignature input: 1+1+8+8+32 */
#define CTENC_SCT_FIXED_LEN  47   /* v1 SCT without extensions and signature bytes */
#define CTENC_ORIGIN_MAX     1024 /* a bound of ours; origins are schema-less URLs */
/* The longest checkpoint body, with its NUL: origin, 20-digit size, 44-character root. */
#define CTENC_CHECKPOINT_MAX (CTENC_ORIGIN_MAX + 1 + 20 + 1 + 44 + 1 + 1)

/* DigitallySigned algorithm bytes (RFC 5246 section 7.4.1.4.1). */
#define CTENC_HASH_SHA256 4
#define CTENC_SIG_RSA     1
#define CTENC_SIG_ECDSA   3

enum ctenc_entry_type {
	CTENC_X509_ENTRY = 0,
	CTENC_PRECERT_ENTRY = 1,
};

/* A TimestampedEntry. On encode every field is read; on parse every field is written and
 * cert/ext point into the parsed input. */
struct ctenc_entry {
	uint64_t timestamp;         /* milliseconds since the epoch */
	enum ctenc_entry_type type; /* x509_entry or precert_entry */
	const uint8_t *cert;        /* x509: the certificate DER; precert: the TBSCertificate DER
	                               with the poison extension removed; 1..CTENC_CERT_MAX bytes */
	size_t cert_len;
	uint8_t issuer_key_hash[CTENC_HASH_LEN]; /* precert only: SHA-256 of the final issuer's
	                                            SubjectPublicKeyInfo (the real CA's even when
	                                            a Precertificate Signing Certificate signed) */
	const uint8_t *ext; /* CtExtensions contents without their 2-byte length; may be NULL
	                       when ext_len is 0 */
	size_t ext_len;     /* 0..CTENC_EXT_MAX */
};

/* ---- hashing ---- */

/* SHA-256 of in: the issuer_key_hash of a SubjectPublicKeyInfo, the log ID of a log key's
 * SPKI, the fingerprint of an issuer certificate. */
void ctenc_sha256(uint8_t out[CTENC_HASH_LEN], const uint8_t *in, size_t len);

/* ---- TimestampedEntry, MerkleTreeLeaf, leaf hash ---- */

/* Encoded lengths, or -EINVAL when e is out of range. */
__attribute__((warn_unused_result)) long ctenc_timestamped_entry_len(const struct ctenc_entry *e);
__attribute__((warn_unused_result)) long ctenc_leaf_len(const struct ctenc_entry *e);

/* TimestampedEntry: timestamp, entry_type, signed_entry, extensions. */
__attribute__((warn_unused_result)) long ctenc_timestamped_entry(uint8_t *out, size_t cap,
                                                                 const struct ctenc_entry *e);

/* MerkleTreeLeaf: version v1 (0), leaf_type timestamped_entry (0), TimestampedEntry. This is
 * the get-entries leaf_input. */
__attribute__((warn_unused_result)) long ctenc_leaf(uint8_t *out, size_t cap,
                                                    const struct ctenc_entry *e);

/* The leaf hash SHA-256(0x00 || MerkleTreeLeaf), streamed from e without building the leaf.
 * Returns 0 or -EINVAL. */
__attribute__((warn_unused_result)) int ctenc_leaf_hash(uint8_t out[CTENC_HASH_LEN],
                                                        const struct ctenc_entry *e);

/* The leaf hash of an already encoded TimestampedEntry (a TileLeaf's te span):
 * SHA-256(0x00 || 0x00 || 0x00 || te). */
void ctenc_leaf_hash_te(uint8_t out[CTENC_HASH_LEN], const uint8_t *te, size_t len);

/* Parses one TimestampedEntry at the start of in. Returns the bytes it spans, or -EBADMSG. */
__attribute__((warn_unused_result)) long ctenc_timestamped_entry_parse(struct ctenc_entry *e,
                                                                       const uint8_t *in,
                                                                       size_t len,
                                                                       const char **reason);

/* Parses a whole MerkleTreeLeaf (v1, timestamped_entry, no trailing bytes). Returns 0 or
 * -EBADMSG. */
__attribute__((warn_unused_result)) int ctenc_leaf_parse(struct ctenc_entry *e, const uint8_t *in,
                                                         size_t len, const char **reason);

/* ---- signature inputs ---- */

/* The SCT signature input (RFC 6962 section 3.2): version v1, signature_type
 * certificate_timestamp (0), timestamp, entry_type, signed_entry, extensions. For v1 these
 * bytes are identical to the MerkleTreeLeaf (both leading enums are 0); the separate name
 * keeps call sites honest. */
__attribute__((warn_unused_result)) long ctenc_sct_signed_data(uint8_t *out, size_t cap,
                                                               const struct ctenc_entry *e);

/* SHA-256 of the SCT signature input, streamed. Returns 0 or -EINVAL. */
__attribute__((warn_unused_result)) int ctenc_sct_signed_digest(uint8_t out[CTENC_HASH_LEN],
                                                                const struct ctenc_entry *e);

/* The TreeHeadSignature input (RFC 6962 section 3.5): version v1, signature_type tree_hash
 * (1), timestamp, tree_size, sha256_root_hash. Always CTENC_STH_SIGNED_LEN bytes. */
void ctenc_sth_signed_data(uint8_t out[CTENC_STH_SIGNED_LEN], uint64_t timestamp,
                           uint64_t tree_size, const uint8_t root[CTENC_HASH_LEN]);

/* ---- DigitallySigned ---- */

struct ctenc_dsig {
	uint8_t hash;       /* CTENC_HASH_SHA256 */
	uint8_t sig;        /* CTENC_SIG_ECDSA or CTENC_SIG_RSA */
	const uint8_t *der; /* the signature bytes (ECDSA: DER Ecdsa-Sig-Value) */
	size_t len;         /* 0..CTENC_SIG_MAX */
};

/* Writes hash, signature, uint16 length, signature bytes. Returns 4 + d->len. */
__attribute__((warn_unused_result)) long ctenc_dsig(uint8_t *out, size_t cap,
                                                    const struct ctenc_dsig *d);

/* Parses exactly one DigitallySigned filling all of in. Any algorithm bytes are accepted
 * here; the verifier checks them against the key. Returns 0 or -EBADMSG. */
__attribute__((warn_unused_result)) int ctenc_dsig_parse(struct ctenc_dsig *d, const uint8_t *in,
                                                         size_t len, const char **reason);

/* ---- SignedCertificateTimestamp (v1, TLS encoding) ---- */

struct ctenc_sct {
	uint8_t log_id[CTENC_HASH_LEN];
	uint64_t timestamp;
	const uint8_t *ext; /* CtExtensions contents */
	size_t ext_len;
	const uint8_t *dsig; /* the DigitallySigned encoding (4 + signature bytes) */
	size_t dsig_len;
};

/* Writes sct_version v1, id, timestamp, extensions<0..2^16-1>, DigitallySigned (which must
 * parse with ctenc_dsig_parse, else -EINVAL). Returns 1 + 32 + 8 + 2 + ext_len + dsig_len,
 * which is CTENC_SCT_FIXED_LEN + ext_len + the signature bytes. */
__attribute__((warn_unused_result)) long ctenc_sct(uint8_t *out, size_t cap,
                                                   const struct ctenc_sct *s);

/* Parses exactly one SCT filling all of in: version must be v1, extensions within bounds, the
 * DigitallySigned well formed and last. Returns 0 or -EBADMSG. */
__attribute__((warn_unused_result)) int ctenc_sct_parse(struct ctenc_sct *s, const uint8_t *in,
                                                        size_t len, const char **reason);

/* ---- the leaf_index CtExtension (static-ct-api) ---- */

/* Writes the CtExtensions contents holding only leaf_index: type 0, length 5, uint40 index
 * (CTENC_LEAF_INDEX_EXT bytes). Returns CTENC_LEAF_INDEX_EXT, or -EINVAL when index does not
 * fit 40 bits. */
__attribute__((warn_unused_result)) int ctenc_ext_leaf_index(uint8_t out[CTENC_LEAF_INDEX_EXT],
                                                             uint64_t index);

/* Parses CtExtensions contents as a list of Extension (uint8 type, opaque data<0..2^16-1>),
 * strictly (no trailing bytes, no duplicate types; unknown types are skipped) and finds
 * leaf_index, whose data must be exactly 5 bytes. Returns 0, -ENOENT when the list is well
 * formed but has no leaf_index, or -EBADMSG. */
__attribute__((warn_unused_result)) int
ctenc_ext_leaf_index_parse(uint64_t *index, const uint8_t *ext, size_t len, const char **reason);

/* ---- get-entries extra_data (RFC 6962 section 4.6) ---- */

struct ctenc_cert {
	const uint8_t *der;
	size_t len; /* 1..CTENC_CERT_MAX */
};

/* x509_entry: ASN.1Cert certificate_chain<0..2^24-1> (the issuers, leaf excluded). */
__attribute__((warn_unused_result)) long
ctenc_extra_data_x509(uint8_t *out, size_t cap, const struct ctenc_cert *chain, size_t n);

/* precert_entry: PrecertChainEntry { ASN.1Cert pre_certificate; ASN.1Cert
 * precertificate_chain<0..2^24-1>; }. */
__attribute__((warn_unused_result)) long ctenc_extra_data_precert(uint8_t *out, size_t cap,
                                                                  const struct ctenc_cert *precert,
                                                                  const struct ctenc_cert *chain,
                                                                  size_t n);

/* ---- static-ct-api TileLeaf (the entries of a data tile) ---- */

struct ctenc_tile_leaf {
	struct ctenc_entry entry; /* the TimestampedEntry */
	const uint8_t *te; /* parse only: the TimestampedEntry bytes, for ctenc_leaf_hash_te */
	size_t te_len;
	const uint8_t *precert; /* precert_entry: the submitted pre_certificate; NULL for x509 */
	size_t precert_len;
	const uint8_t *chain; /* chain_n SHA-256 fingerprints of the issuers, 32 bytes each */
	size_t chain_n;       /* 0..CTENC_CHAIN_MAX */
};

/* Encoded length, or -EINVAL. */
__attribute__((warn_unused_result)) long ctenc_tile_leaf_len(const struct ctenc_tile_leaf *l);

/* Writes TimestampedEntry, [pre_certificate], Fingerprint certificate_chain<0..2^16-1>.
 * te/te_len are ignored. */
__attribute__((warn_unused_result)) long ctenc_tile_leaf(uint8_t *out, size_t cap,
                                                         const struct ctenc_tile_leaf *l);

/* Parses the TileLeaf at the start of in (a data tile is a concatenation of them). Returns
 * the bytes it spans (> 0), or -EBADMSG: truncation, an empty certificate, a fingerprint
 * list whose length is not a multiple of 32, an unknown entry type. */
__attribute__((warn_unused_result)) long ctenc_tile_leaf_parse(struct ctenc_tile_leaf *l,
                                                               const uint8_t *in, size_t len,
                                                               const char **reason);

/* ---- checkpoint body (C2SP tlog-checkpoint, as static-ct-api uses it) ---- */

struct ctenc_checkpoint {
	const char *origin; /* borrowed from the parsed body; not NUL-terminated */
	size_t origin_len;
	uint64_t size;
	uint8_t root[CTENC_HASH_LEN];
};

/* Writes "<origin>\n<size>\n<base64 root>\n" and a NUL (cap counts the NUL). The origin must
 * pass ctenc_origin_check, else -EINVAL. Returns the length without the NUL, or -ENOSPC. */
__attribute__((warn_unused_result)) long ctenc_checkpoint(char *out, size_t cap, const char *origin,
                                                          size_t origin_len, uint64_t size,
                                                          const uint8_t root[CTENC_HASH_LEN]);

/* Parses a checkpoint body of exactly three lines, each ending in '\n': an origin as above, a
 * decimal size without leading zeros that fits 64 bits, and the standard base64 of a 32-byte
 * root. Extension lines are rejected (static-ct-api forbids them with RFC 6962 note
 * signatures). Returns 0 or -EBADMSG. */
__attribute__((warn_unused_result)) int ctenc_checkpoint_parse(struct ctenc_checkpoint *c,
                                                               const char *body, size_t len,
                                                               const char **reason);

/* 0 when origin is usable as a checkpoint origin and note key name, else -EINVAL: 1 to
 * CTENC_ORIGIN_MAX bytes of printable ASCII other than space and '+'. (Signed notes allow any
 * UTF-8 key name without Unicode spaces; Birch's own origins are schema-less URLs, so this is
 * a deliberate narrowing: internationalised hosts go in as punycode.) */
__attribute__((warn_unused_result)) int ctenc_origin_check(const char *origin, size_t len);

#endif
