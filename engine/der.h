/* engine/der.h: Birch's own zero-copy DER reader for X.509 certificates, for the submission hot
 * path, and the precertificate TBS rewriting of RFC 6962 section 3.2.
 *
 * Why our own: OpenSSL 3.0's d2i_X509 costs about 160 us per leaf, more than the signature
 * check (../shared/PERF-NOTES.md). The walk finds only what the log needs, as spans into the
 * caller's buffer; issuers and anything the walk refuses with -ENOTSUP go to OpenSSL.
 *
 * Contract: pure functions over caller-owned buffers, any thread, no allocation, no syscall,
 * no recursion. Spans point into the input and live as long as it does. The walk accepts DER
 * only (definite minimal lengths, single-byte tags below 31, minimal INTEGERs, BOOLEAN 00/ff,
 * BIT STRINGs with zero padding bits, no trailing bytes); it never reads outside [in, in + len).
 * One leniency, as OpenSSL and Go have: a DEFAULT value written out (version v1, critical
 * FALSE, cA FALSE) is accepted. Name attribute values must be UTF8String, NumericString,
 * PrintableString, TeletexString, IA5String, UniversalString, BMPString, BIT STRING or
 * SEQUENCE (OpenSSL refuses the others), with UTF-8, UCS-2 and UCS-4 checked.
 * Errors: 0 or a negative errno, with *reason (reason may be NULL) a static string naming the
 * field at fault ("certificate: validity: bad UTCTime"): -EBADMSG malformed, -ENOTSUP
 * well-formed but outside what the walk understands (the caller may fall back to OpenSSL),
 * -ENOSPC an output buffer too small.
 */
#ifndef BIRCH_ENGINE_DER_H
#define BIRCH_ENGINE_DER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Tags as they appear in the identifier byte. */
#define DER_TAG_BOOLEAN      0x01
#define DER_TAG_INTEGER      0x02
#define DER_TAG_BIT_STRING   0x03
#define DER_TAG_OCTET_STRING 0x04
#define DER_TAG_NULL         0x05
#define DER_TAG_OID          0x06
#define DER_TAG_UTC_TIME     0x17
#define DER_TAG_GEN_TIME     0x18
#define DER_TAG_SEQUENCE     0x30
#define DER_TAG_SET          0x31
#define DER_TAG_CTX(n)       (0xa0 | (n)) /* [n] EXPLICIT, constructed */

#define DER_CERT_MAX (64 * 1024) /* the walk refuses larger certificates (-EBADMSG) */
#define DER_EXTS_MAX 64          /* more extensions than this: -ENOTSUP */

struct der_span {
	const uint8_t *p;
	size_t len;
};

/* One TLV at the start of in[0..len): *tag the identifier byte, *content its contents, *total
 * the bytes of the whole TLV (header plus contents). 0, or -EBADMSG with *reason. */
__attribute__((warn_unused_result)) int der_tlv(const uint8_t *in, size_t len, uint8_t *tag,
                                                struct der_span *content, size_t *total,
                                                const char **reason);

/* Signature algorithms the walk recognises (outer signatureAlgorithm, which must equal the
 * TBS's signature field byte for byte). */
enum der_sig_alg {
	DER_SIG_UNKNOWN = 0,
	DER_SIG_RSA_PKCS1_SHA1,
	DER_SIG_RSA_PKCS1_SHA256,
	DER_SIG_RSA_PKCS1_SHA384,
	DER_SIG_RSA_PKCS1_SHA512,
	DER_SIG_ECDSA_SHA256,
	DER_SIG_ECDSA_SHA384,
	DER_SIG_ECDSA_SHA512,
	DER_SIG_ED25519,
};

/* Flags of struct der_cert. */
#define DER_F_POISON          0x0001u /* the CT poison extension 1.3.6.1.4.1.11129.2.4.3 */
#define DER_F_POISON_CRITICAL 0x0002u /* ... marked critical, with value ASN.1 NULL (05 00) */
#define DER_F_SCT_LIST        0x0004u /* embedded SCT list 1.3.6.1.4.1.11129.2.4.2 */
#define DER_F_BC              0x0008u /* basicConstraints present */
#define DER_F_BC_CA           0x0010u /* ... with cA TRUE */
#define DER_F_EKU             0x0020u /* extKeyUsage present */
#define DER_F_EKU_CT          0x0040u /* ... containing 1.3.6.1.4.1.11129.2.4.4 (a PSC) */
#define DER_F_AKI             0x0080u /* authorityKeyIdentifier present */
#define DER_F_SKI             0x0100u /* subjectKeyIdentifier present */
#define DER_F_KU              0x0200u /* keyUsage present */
#define DER_F_KU_CERT_SIGN    0x0400u /* ... with keyCertSign */

/* What the log needs from one certificate. Every span points into the walked buffer; spans
 * named "_tlv" include the tag and length bytes, others are contents only. */
struct der_cert {
	struct der_span cert_tlv;    /* the whole Certificate */
	struct der_span tbs_tlv;     /* TBSCertificate: the signed bytes */
	int version;                 /* 1, 2 or 3 */
	struct der_span serial;      /* INTEGER contents */
	struct der_span issuer_tlv;  /* Name */
	struct der_span subject_tlv; /* Name */
	int64_t not_before;          /* seconds since the epoch, UTC */
	int64_t not_after;           /* GeneralizedTime 99991231235959Z is INT64_MAX */
	struct der_span spki_tlv;    /* SubjectPublicKeyInfo */
	struct der_span exts;        /* contents of the Extensions SEQUENCE (empty when none) */
	struct der_span sig_alg_tlv; /* outer AlgorithmIdentifier */
	enum der_sig_alg sig_alg;
	struct der_span sig;          /* signatureValue bits (BIT STRING contents less the
	                                 unused-bits byte, which must be 0) */
	uint32_t flags;               /* DER_F_* */
	struct der_span poison_tlv;   /* the poison Extension, when DER_F_POISON */
	struct der_span aki_tlv;      /* the AKI Extension, when DER_F_AKI */
	struct der_span aki_value;    /* its extnValue OCTET STRING contents */
	struct der_span sct_list_tlv; /* the SCT-list Extension, when DER_F_SCT_LIST */
	int bc_path_len;              /* pathLenConstraint, -1 when absent, capped at INT_MAX */
};

/* Walks one DER certificate occupying exactly in[0..len). A duplicate extension, or a known
 * extension whose value does not parse, is -EBADMSG; unknown extensions are skipped (an unknown
 * critical one is not the log's concern and is accepted). A signature algorithm outside
 * enum der_sig_alg gives sig_alg DER_SIG_UNKNOWN and still returns 0. Times are UTCTime
 * YYMMDDHHMMSSZ (YY 50..99 is 19YY) or GeneralizedTime YYYYMMDDHHMMSSZ, nothing else. On
 * error *out is zeroed (bc_path_len -1). */
__attribute__((warn_unused_result)) int der_cert_walk(const uint8_t *in, size_t len,
                                                      struct der_cert *out, const char **reason);

/* Precertificate TBS (RFC 6962 section 3.2): the precert's TBSCertificate with the poison
 * extension removed. When psc (the Precertificate Signing Certificate that signed the precert)
 * is not NULL, also: the issuer becomes the PSC's issuer (its raw bytes), and the precert's
 * AKI extension takes the PSC's AKI value (removed when the PSC has none; added, non-critical,
 * at the end when only the PSC has one; a replaced AKI keeps the precert's critical field).
 * Other extensions keep their bytes and order; when none is left the [3] field is dropped.
 * That the PSC carries the CT EKU is the caller's check. pre and psc come from
 * der_cert_walk. Writes the new TBSCertificate TLV into out (never past cap); returns its
 * length, -EINVAL when pre has no poison extension, or -ENOSPC. The result is at most
 * pre->tbs_tlv.len + psc issuer and AKI lengths + 16. */
__attribute__((warn_unused_result)) long der_precert_tbs(uint8_t *out, size_t cap,
                                                         const struct der_cert *pre,
                                                         const struct der_cert *psc,
                                                         const char **reason);

/* The TBSCertificate of a final certificate with its SCT-list extension removed, for checking
 * that an embedded-SCT certificate matches its precert. Same returns as der_precert_tbs
 * (-EINVAL when cert has no SCT list). */
__attribute__((warn_unused_result)) long der_tbs_without_sct_list(uint8_t *out, size_t cap,
                                                                  const struct der_cert *cert,
                                                                  const char **reason);

/* Converts a PEM bundle in place: every "-----BEGIN CERTIFICATE-----" block is decoded to DER;
 * calls fn(ctx, der, len, index) for each; stops at fn's first non-zero return and returns it.
 * Text outside the blocks, and other block types, are ignored. The base64 may be broken by
 * '\n', '\r', ' ' and '\t'; it is otherwise strict (padding only at the end, zero padding
 * bits). Returns the number of certificates, or -EBADMSG with *reason for a block that does not
 * decode, is empty or has no END line. Modifies buf; der points into it. */
__attribute__((warn_unused_result)) long
der_pem_each(char *buf, size_t len, int (*fn)(void *ctx, const uint8_t *der, size_t len, size_t i),
             void *ctx, const char **reason);

#endif
