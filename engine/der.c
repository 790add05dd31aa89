/* engine/der.c: the zero-copy DER walk of an X.509 certificate, the RFC 6962 TBS rewriting and
 * the in-place PEM decoder. No recursion: the walk follows the fixed shape of a certificate,
 * and every loop advances through a bounded buffer. */
#include "engine/der.h"

#include "engine/b64.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

/* A cursor over the contents of one constructed value. */
struct rd {
	const uint8_t *p, *end;
};

int
der_tlv(const uint8_t *in, size_t len, uint8_t *tag, struct der_span *content, size_t *total,
        const char **reason)
{
	const char *ignored;
	if (!reason)
		reason = &ignored;
	if (len < 2) {
		*reason = "DER: truncated header";
		return -EBADMSG;
	}
	if ((in[0] & 0x1f) == 0x1f) {
		*reason = "DER: multi-byte tag";
		return -EBADMSG;
	}
	size_t n, hdr;
	if (in[1] < 0x80) {
		n = in[1];
		hdr = 2;
	} else if (in[1] == 0x80) {
		*reason = "DER: indefinite length";
		return -EBADMSG;
	} else {
		size_t k = in[1] & 0x7fu;
		if (k > 4) {
			*reason = "DER: length over 4 bytes";
			return -EBADMSG;
		}
		if (len - 2 < k) {
			*reason = "DER: truncated length";
			return -EBADMSG;
		}
		if (in[2] == 0) {
			*reason = "DER: length not minimal";
			return -EBADMSG;
		}
		n = 0;
		for (size_t i = 0; i < k; i++)
			n = n << 8 | in[2 + i];
		if (n < 0x80) {
			*reason = "DER: length not minimal";
			return -EBADMSG;
		}
		hdr = 2 + k;
	}
	if (n > len - hdr) {
		*reason = "DER: length past the end of its container";
		return -EBADMSG;
	}
	*tag = in[0];
	content->p = in + hdr;
	content->len = n;
	*total = hdr + n;
	return 0;
}

/* ---- the cursor ---- */

static bool
rd_done(const struct rd *r)
{
	return r->p == r->end;
}

static bool
rd_peek(const struct rd *r, uint8_t tag)
{
	return r->p < r->end && r->p[0] == tag;
}

/* The next TLV, whatever its tag; *reason is `what` on failure. tlv may be NULL. */
static int
rd_any(struct rd *r, uint8_t *tag, struct der_span *c, struct der_span *tlv, const char *what,
       const char **reason)
{
	size_t total;
	const char *ignored;
	if (r->p >= r->end || der_tlv(r->p, (size_t)(r->end - r->p), tag, c, &total, &ignored)) {
		*reason = what;
		return -EBADMSG;
	}
	if (tlv) {
		tlv->p = r->p;
		tlv->len = total;
	}
	r->p += total;
	return 0;
}

/* The next TLV, which must carry tag. */
static int
rd_get(struct rd *r, uint8_t tag, struct der_span *c, struct der_span *tlv, const char *what,
       const char **reason)
{
	uint8_t t;
	if (!rd_peek(r, tag) || rd_any(r, &t, c, tlv, what, reason)) {
		*reason = what;
		return -EBADMSG;
	}
	return 0;
}

static struct rd
rd_of(const struct der_span *c)
{
	struct rd r = {c->p, c->p ? c->p + c->len : NULL}; /* no arithmetic on NULL */
	return r;
}

static bool
span_eq(const struct der_span *a, const uint8_t *b, size_t n)
{
	return a->len == n && memcmp(a->p, b, n) == 0;
}

/* ---- primitive checks ---- */

static bool
integer_ok(const struct der_span *c)
{
	if (c->len == 0)
		return false;
	if (c->len > 1 &&
	    ((c->p[0] == 0x00 && c->p[1] < 0x80) || (c->p[0] == 0xff && c->p[1] >= 0x80)))
		return false;
	return true;
}

static bool
oid_ok(const struct der_span *c)
{
	if (c->len == 0 || c->p[c->len - 1] & 0x80)
		return false;
	for (size_t i = 0; i < c->len; i++) /* a sub-identifier may not start with 0x80 */
		if (c->p[i] == 0x80 && (i == 0 || !(c->p[i - 1] & 0x80)))
			return false;
	return true;
}

static bool
bits_ok(const struct der_span *c)
{
	if (c->len == 0 || c->p[0] > 7)
		return false;
	if (c->len == 1)
		return c->p[0] == 0;
	return (c->p[c->len - 1] & ((1u << c->p[0]) - 1)) == 0;
}

static bool
boolean_ok(const struct der_span *c)
{
	return c->len == 1 && (c->p[0] == 0x00 || c->p[0] == 0xff);
}

/* RFC 3629 UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
static bool
utf8_ok(const struct der_span *c)
{
	const uint8_t *p = c->p, *end = c->p + c->len;
	while (p < end) {
		uint8_t b = *p++;
		if (b < 0x80)
			continue;
		int more;
		uint32_t v, min;
		if ((b & 0xe0) == 0xc0) {
			more = 1, v = b & 0x1fu, min = 0x80;
		} else if ((b & 0xf0) == 0xe0) {
			more = 2, v = b & 0x0fu, min = 0x800;
		} else if ((b & 0xf8) == 0xf0) {
			more = 3, v = b & 0x07u, min = 0x10000;
		} else {
			return false;
		}
		if (end - p < more)
			return false;
		for (int i = 0; i < more; i++, p++) {
			if ((*p & 0xc0) != 0x80)
				return false;
			v = v << 6 | (*p & 0x3fu);
		}
		if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
			return false;
	}
	return true;
}

/* The strings whose encoding is checked: UTF8String, BMPString (UCS-2) and UniversalString
 * (UCS-4), as OpenSSL does when it canonicalises a Name. Other values pass. */
static bool
string_ok(uint8_t tag, const struct der_span *c)
{
	switch (tag) {
	case 0x0c:
		return utf8_ok(c);
	case 0x1e:
		if (c->len % 2)
			return false;
		for (size_t i = 0; i < c->len; i += 2)
			if ((c->p[i] & 0xf8) == 0xd8)
				return false;
		return true;
	case 0x1c:
		if (c->len % 4)
			return false;
		for (size_t i = 0; i < c->len; i += 4) {
			uint32_t v = (uint32_t)c->p[i] << 24 | (uint32_t)c->p[i + 1] << 16 |
			             (uint32_t)c->p[i + 2] << 8 | c->p[i + 3];
			if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
				return false;
		}
		return true;
	default:
		return true;
	}
}

/* A value of type ANY (a Name's attribute value, AlgorithmIdentifier parameters): a universal
 * type, primitive or a SEQUENCE or SET (constructed strings are BER only); the universal
 * types with an encoding rule are held to it, as OpenSSL does when it decodes them. */
static bool
any_ok(uint8_t tag, const struct der_span *c)
{
	if ((tag & 0xc0) != 0 || ((tag & 0x20) && tag != DER_TAG_SEQUENCE && tag != DER_TAG_SET))
		return false;
	switch (tag) {
	case DER_TAG_BOOLEAN:
		return boolean_ok(c);
	case DER_TAG_INTEGER:
	case 0x0a: /* ENUMERATED */
		return integer_ok(c);
	case DER_TAG_BIT_STRING:
		return c->len > 0 && c->p[0] <= 7 && (c->len > 1 || c->p[0] == 0);
	case DER_TAG_NULL:
		return c->len == 0;
	case DER_TAG_OID:
		return oid_ok(c);
	default:
		return string_ok(tag, c);
	}
}

/* AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL } */
static int
algid(const struct der_span *c, struct der_span *oid, struct der_span *params, const char *what,
      const char **reason)
{
	struct rd r = rd_of(c);
	uint8_t t;
	params->p = NULL;
	params->len = 0;
	if (rd_get(&r, DER_TAG_OID, oid, NULL, what, reason))
		return -EBADMSG;
	if (!oid_ok(oid)) {
		*reason = what;
		return -EBADMSG;
	}
	if (!rd_done(&r)) {
		struct der_span pc;
		if (rd_any(&r, &t, &pc, params, what, reason) || !any_ok(t, &pc)) {
			*reason = what;
			return -EBADMSG;
		}
	}
	if (!rd_done(&r)) {
		*reason = what;
		return -EBADMSG;
	}
	return 0;
}

/* An attribute value in a Name: the string types of X.520 and PKCS #9 (UTF8String,
 * NumericString, PrintableString, TeletexString, IA5String, UniversalString, BMPString), a BIT
 * STRING (x500UniqueIdentifier) or a SEQUENCE (postalAddress). OpenSSL refuses the other
 * common universal types here (VisibleString, OCTET STRING, times, ...), so the walk does too. */
static bool
name_value_ok(uint8_t tag, const struct der_span *v)
{
	switch (tag) {
	case DER_TAG_BIT_STRING:
	case 0x0c:
	case 0x12:
	case 0x13:
	case 0x14:
	case 0x16:
	case 0x1c:
	case 0x1e:
	case DER_TAG_SEQUENCE:
		return any_ok(tag, v);
	default:
		return false;
	}
}

/* Name ::= SEQUENCE OF SET OF SEQUENCE { type OID, value ANY }. Values are not interpreted
 * beyond their tag. */
static int
name(const struct der_span *c, const char *what, const char **reason)
{
	struct rd n = rd_of(c);
	while (!rd_done(&n)) {
		struct der_span rdn, atv, oid, v;
		uint8_t t;
		if (rd_get(&n, DER_TAG_SET, &rdn, NULL, what, reason))
			return -EBADMSG;
		struct rd s = rd_of(&rdn);
		if (rd_done(&s)) {
			*reason = what;
			return -EBADMSG;
		}
		while (!rd_done(&s)) {
			if (rd_get(&s, DER_TAG_SEQUENCE, &atv, NULL, what, reason))
				return -EBADMSG;
			struct rd a = rd_of(&atv);
			if (rd_get(&a, DER_TAG_OID, &oid, NULL, what, reason) || !oid_ok(&oid) ||
			    rd_any(&a, &t, &v, NULL, what, reason) || !rd_done(&a)) {
				*reason = what;
				return -EBADMSG;
			}
			if (!name_value_ok(t, &v)) {
				*reason = what;
				return -EBADMSG;
			}
		}
	}
	return 0;
}

static int
digits(const uint8_t *p, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant's
 * days_from_civil). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* UTCTime YYMMDDHHMMSSZ (YY 50..99 is 19YY) or GeneralizedTime YYYYMMDDHHMMSSZ, nothing else. */
static bool
time_parse(uint8_t tag, const struct der_span *c, int64_t *out)
{
	static const uint8_t mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int year;
	const uint8_t *p = c->p;
	if (tag == DER_TAG_UTC_TIME && c->len == 13) {
		year = digits(p, 2);
		if (year < 0)
			return false;
		year += year < 50 ? 2000 : 1900;
		p += 2;
	} else if (tag == DER_TAG_GEN_TIME && c->len == 15) {
		year = digits(p, 4);
		if (year < 0)
			return false;
		p += 4;
	} else {
		return false;
	}
	int mon = digits(p, 2), day = digits(p + 2, 2), h = digits(p + 4, 2), mi = digits(p + 6, 2),
	    s = digits(p + 8, 2);
	if (p[10] != 'Z' || mon < 1 || mon > 12 || day < 1 || h < 0 || h > 23 || mi < 0 ||
	    mi > 59 || s < 0 || s > 59)
		return false;
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	if (day > mdays[mon - 1] + (mon == 2 && leap))
		return false;
	*out = days_from_civil(year, mon, day) * 86400 + h * 3600 + mi * 60 + s;
	return true;
}

/* ---- extensions ---- */

static const uint8_t oid_poison[] = {0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79, 0x02, 0x04, 0x03};
static const uint8_t oid_sct_list[] = {0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79, 0x02, 0x04, 0x02};
static const uint8_t oid_ct_eku[] = {0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79, 0x02, 0x04, 0x04};
static const uint8_t oid_bc[] = {0x55, 0x1d, 0x13};
static const uint8_t oid_eku[] = {0x55, 0x1d, 0x25};
static const uint8_t oid_aki[] = {0x55, 0x1d, 0x23};
static const uint8_t oid_ski[] = {0x55, 0x1d, 0x0e};
static const uint8_t oid_ku[] = {0x55, 0x1d, 0x0f};

/* The extnValue must hold exactly one TLV of tag; *c gets its contents. */
static int
ext_one(const struct der_span *val, uint8_t tag, struct der_span *c, const char *what,
        const char **reason)
{
	struct rd r = rd_of(val);
	if (rd_get(&r, tag, c, NULL, what, reason) || !rd_done(&r)) {
		*reason = what;
		return -EBADMSG;
	}
	return 0;
}

static int
ext_bc(struct der_cert *out, const struct der_span *val, const char **reason)
{
	static const char what[] = "certificate: extensions: bad basicConstraints";
	struct der_span seq, c;
	if (ext_one(val, DER_TAG_SEQUENCE, &seq, what, reason))
		return -EBADMSG;
	struct rd r = rd_of(&seq);
	out->flags |= DER_F_BC;
	if (rd_peek(&r, DER_TAG_BOOLEAN)) {
		if (rd_get(&r, DER_TAG_BOOLEAN, &c, NULL, what, reason) || !boolean_ok(&c)) {
			*reason = what;
			return -EBADMSG;
		}
		if (c.p[0])
			out->flags |= DER_F_BC_CA;
	}
	if (rd_peek(&r, DER_TAG_INTEGER)) {
		if (rd_get(&r, DER_TAG_INTEGER, &c, NULL, what, reason) || !integer_ok(&c)) {
			*reason = what;
			return -EBADMSG;
		}
		if (c.p[0] & 0x80) {
			*reason = "certificate: extensions: negative pathLenConstraint";
			return -EBADMSG;
		}
		/* A limit above INT_MAX means the same as INT_MAX. */
		int64_t v = 0;
		for (size_t i = 0; i < c.len && v <= INT_MAX; i++)
			v = v << 8 | c.p[i];
		out->bc_path_len = v > INT_MAX ? INT_MAX : (int)v;
	}
	if (!rd_done(&r)) {
		*reason = what;
		return -EBADMSG;
	}
	return 0;
}

static int
ext_eku(struct der_cert *out, const struct der_span *val, const char **reason)
{
	static const char what[] = "certificate: extensions: bad extKeyUsage";
	struct der_span seq, oid;
	if (ext_one(val, DER_TAG_SEQUENCE, &seq, what, reason))
		return -EBADMSG;
	out->flags |= DER_F_EKU;
	for (struct rd r = rd_of(&seq); !rd_done(&r);) {
		if (rd_get(&r, DER_TAG_OID, &oid, NULL, what, reason) || !oid_ok(&oid)) {
			*reason = what;
			return -EBADMSG;
		}
		if (span_eq(&oid, oid_ct_eku, sizeof oid_ct_eku))
			out->flags |= DER_F_EKU_CT;
	}
	return 0;
}

/* DirectoryString, EXPLICIT-tagged inside ediPartyName: one string TLV. */
static bool
directory_string_ok(const struct der_span *c)
{
	struct rd r = rd_of(c);
	uint8_t t;
	struct der_span v;
	const char *ignored;
	if (rd_any(&r, &t, &v, NULL, "", &ignored) || !rd_done(&r))
		return false;
	return (t == 0x14 || t == 0x13 || t == 0x1c || t == 0x0c || t == 0x1e) && string_ok(t, &v);
}

/* GeneralNames ::= SEQUENCE OF GeneralName (RFC 5280 section 4.2.1.6): the CHOICE tags, an
 * otherName's and an ediPartyName's shape and a directoryName's Name are checked; an
 * x400Address is not interpreted. */
static int
general_names(const struct der_span *c, const char *what, const char **reason)
{
	for (struct rd r = rd_of(c); !rd_done(&r);) {
		uint8_t t;
		struct der_span x, oid, v, nm;
		if (rd_any(&r, &t, &x, NULL, what, reason))
			return -EBADMSG;
		struct rd in = rd_of(&x);
		switch (t) {
		case 0xa0: /* otherName: type-id OID, value [0] EXPLICIT ANY */
			if (rd_get(&in, DER_TAG_OID, &oid, NULL, what, reason) || !oid_ok(&oid) ||
			    rd_get(&in, DER_TAG_CTX(0), &v, NULL, what, reason) || !rd_done(&in))
				goto bad;
			in = rd_of(&v);
			if (rd_any(&in, &t, &x, NULL, what, reason) || !rd_done(&in) ||
			    !any_ok(t, &x))
				goto bad;
			break;
		case 0x81: /* rfc822Name */
		case 0x82: /* dNSName */
		case 0x86: /* uniformResourceIdentifier */
		case 0x87: /* iPAddress */
		case 0xa3: /* x400Address */
			break;
		case 0xa5: /* ediPartyName: nameAssigner [0] OPTIONAL, partyName [1] */
			if (rd_peek(&in, DER_TAG_CTX(0)) &&
			    (rd_get(&in, DER_TAG_CTX(0), &v, NULL, what, reason) ||
			     !directory_string_ok(&v)))
				goto bad;
			if (rd_get(&in, DER_TAG_CTX(1), &v, NULL, what, reason) ||
			    !directory_string_ok(&v) || !rd_done(&in))
				goto bad;
			break;
		case 0x88: /* registeredID */
			if (!oid_ok(&x))
				goto bad;
			break;
		case 0xa4: /* directoryName: [4] EXPLICIT Name */
			if (rd_get(&in, DER_TAG_SEQUENCE, &nm, NULL, what, reason) ||
			    !rd_done(&in) || name(&nm, what, reason))
				goto bad;
			break;
		default:
			goto bad;
		}
	}
	return 0;
bad:
	*reason = what;
	return -EBADMSG;
}

/* AuthorityKeyIdentifier ::= SEQUENCE { [0] IMPLICIT OCTET STRING OPTIONAL,
 *   [1] IMPLICIT GeneralNames OPTIONAL, [2] IMPLICIT INTEGER OPTIONAL } */
static int
ext_aki(const struct der_span *val, const char **reason)
{
	static const char what[] = "certificate: extensions: bad authorityKeyIdentifier";
	static const uint8_t tags[3] = {0x80, 0xa1, 0x82};
	struct der_span seq, c;
	if (ext_one(val, DER_TAG_SEQUENCE, &seq, what, reason))
		return -EBADMSG;
	struct rd r = rd_of(&seq);
	for (int i = 0; i < 3; i++) {
		if (!rd_peek(&r, tags[i]))
			continue;
		if (rd_get(&r, tags[i], &c, NULL, what, reason) ||
		    (i == 1 && general_names(&c, what, reason)) || (i == 2 && !integer_ok(&c))) {
			*reason = what;
			return -EBADMSG;
		}
	}
	if (!rd_done(&r)) {
		*reason = what;
		return -EBADMSG;
	}
	return 0;
}

static int
ext_ku(struct der_cert *out, const struct der_span *val, const char **reason)
{
	static const char what[] = "certificate: extensions: bad keyUsage";
	struct der_span c;
	if (ext_one(val, DER_TAG_BIT_STRING, &c, what, reason))
		return -EBADMSG;
	if (!bits_ok(&c)) {
		*reason = what;
		return -EBADMSG;
	}
	out->flags |= DER_F_KU;
	if (c.len >= 2 && (c.p[1] & 0x04)) /* bit 5, keyCertSign */
		out->flags |= DER_F_KU_CERT_SIGN;
	return 0;
}

/* One Extension ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET
 * STRING }. */
static int
ext_one_walk(struct der_cert *out, const struct der_span *tlv, const struct der_span *c,
             struct der_span *oid, const char **reason)
{
	static const char what[] = "certificate: extensions: malformed Extension";
	struct rd r = rd_of(c);
	struct der_span crit = {NULL, 0}, val;
	if (rd_get(&r, DER_TAG_OID, oid, NULL, what, reason) || !oid_ok(oid))
		goto bad;
	if (rd_peek(&r, DER_TAG_BOOLEAN) &&
	    (rd_get(&r, DER_TAG_BOOLEAN, &crit, NULL, what, reason) || !boolean_ok(&crit)))
		goto bad;
	if (rd_get(&r, DER_TAG_OCTET_STRING, &val, NULL, what, reason) || !rd_done(&r))
		goto bad;
	bool critical = crit.len == 1 && crit.p[0] == 0xff;
	struct der_span inner;

	if (span_eq(oid, oid_poison, sizeof oid_poison)) {
		static const uint8_t null[] = {DER_TAG_NULL, 0x00};
		out->flags |= DER_F_POISON;
		out->poison_tlv = *tlv;
		if (critical && span_eq(&val, null, sizeof null))
			out->flags |= DER_F_POISON_CRITICAL;
	} else if (span_eq(oid, oid_sct_list, sizeof oid_sct_list)) {
		if (ext_one(&val, DER_TAG_OCTET_STRING, &inner,
		            "certificate: extensions: bad SCT list", reason))
			return -EBADMSG;
		out->flags |= DER_F_SCT_LIST;
		out->sct_list_tlv = *tlv;
	} else if (span_eq(oid, oid_bc, sizeof oid_bc)) {
		return ext_bc(out, &val, reason);
	} else if (span_eq(oid, oid_eku, sizeof oid_eku)) {
		return ext_eku(out, &val, reason);
	} else if (span_eq(oid, oid_aki, sizeof oid_aki)) {
		if (ext_aki(&val, reason))
			return -EBADMSG;
		out->flags |= DER_F_AKI;
		out->aki_tlv = *tlv;
		out->aki_value = val;
	} else if (span_eq(oid, oid_ski, sizeof oid_ski)) {
		if (ext_one(&val, DER_TAG_OCTET_STRING, &inner,
		            "certificate: extensions: bad subjectKeyIdentifier", reason))
			return -EBADMSG;
		out->flags |= DER_F_SKI;
	} else if (span_eq(oid, oid_ku, sizeof oid_ku)) {
		return ext_ku(out, &val, reason);
	}
	return 0;
bad:
	*reason = what;
	return -EBADMSG;
}

/* The OIDs of up to DER_EXTS_MAX extensions are kept to find duplicates (real certificates
 * carry about ten). */
static int
exts_walk(struct der_cert *out, const char **reason)
{
	struct der_span oids[DER_EXTS_MAX];
	size_t n = 0;
	for (struct rd r = rd_of(&out->exts); !rd_done(&r); n++) {
		struct der_span tlv, c, oid;
		if (rd_get(&r, DER_TAG_SEQUENCE, &c, &tlv,
		           "certificate: extensions: malformed Extension", reason))
			return -EBADMSG;
		if (n == DER_EXTS_MAX) {
			*reason = "certificate: extensions: more than the walk handles";
			return -ENOTSUP;
		}
		int err = ext_one_walk(out, &tlv, &c, &oid, reason);
		if (err)
			return err;
		for (size_t i = 0; i < n; i++) {
			if (span_eq(&oids[i], oid.p, oid.len)) {
				*reason = "certificate: extensions: duplicate extension";
				return -EBADMSG;
			}
		}
		oids[n] = oid;
	}
	return 0;
}

/* ---- the certificate ---- */

struct sig_alg_oid {
	enum der_sig_alg alg;
	bool rsa; /* parameters NULL or absent; the others take none */
	uint8_t len;
	uint8_t oid[9];
};

static const struct sig_alg_oid sig_algs[] = {
        {DER_SIG_RSA_PKCS1_SHA1, true, 9, {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05}},
        {DER_SIG_RSA_PKCS1_SHA256, true, 9, {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b}},
        {DER_SIG_RSA_PKCS1_SHA384, true, 9, {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c}},
        {DER_SIG_RSA_PKCS1_SHA512, true, 9, {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d}},
        {DER_SIG_ECDSA_SHA256, false, 8, {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02}},
        {DER_SIG_ECDSA_SHA384, false, 8, {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03}},
        {DER_SIG_ECDSA_SHA512, false, 8, {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04}},
        {DER_SIG_ED25519, false, 3, {0x2b, 0x65, 0x70}},
};

static enum der_sig_alg
sig_alg_of(const struct der_span *oid, const struct der_span *params)
{
	static const uint8_t null[] = {DER_TAG_NULL, 0x00};
	for (size_t i = 0; i < sizeof sig_algs / sizeof sig_algs[0]; i++) {
		const struct sig_alg_oid *a = &sig_algs[i];
		if (!span_eq(oid, a->oid, a->len))
			continue;
		if (params->len == 0 || (a->rsa && span_eq(params, null, sizeof null)))
			return a->alg;
		return DER_SIG_UNKNOWN;
	}
	return DER_SIG_UNKNOWN;
}

static int
validity(struct der_cert *out, const struct der_span *c, const char **reason)
{
	static const uint8_t forever[] = "99991231235959Z";
	struct rd r = rd_of(c);
	struct der_span t[2];
	uint8_t tag[2];
	for (int i = 0; i < 2; i++) {
		if (rd_any(&r, &tag[i], &t[i], NULL, "certificate: validity: malformed", reason))
			return -EBADMSG;
		if (tag[i] != DER_TAG_UTC_TIME && tag[i] != DER_TAG_GEN_TIME) {
			*reason = "certificate: validity: not a UTCTime or GeneralizedTime";
			return -EBADMSG;
		}
		if (!time_parse(tag[i], &t[i], i ? &out->not_after : &out->not_before)) {
			*reason = tag[i] == DER_TAG_UTC_TIME ? "certificate: validity: bad UTCTime"
			                                     : "certificate: validity: bad "
			                                       "GeneralizedTime";
			return -EBADMSG;
		}
	}
	if (!rd_done(&r)) {
		*reason = "certificate: validity: trailing data";
		return -EBADMSG;
	}
	if (tag[1] == DER_TAG_GEN_TIME && span_eq(&t[1], forever, sizeof forever - 1))
		out->not_after = INT64_MAX;
	return 0;
}

static int
tbs_walk(struct der_cert *out, const struct der_span *c, const char **reason)
{
	struct rd r = rd_of(c);
	struct der_span v, x, tlv, sig_oid, sig_params;

	out->version = 1;
	if (rd_peek(&r, DER_TAG_CTX(0))) {
		static const char what[] = "certificate: version: malformed";
		if (rd_get(&r, DER_TAG_CTX(0), &x, NULL, what, reason))
			return -EBADMSG;
		struct rd vr = rd_of(&x);
		if (rd_get(&vr, DER_TAG_INTEGER, &v, NULL, what, reason) || !rd_done(&vr) ||
		    !integer_ok(&v)) {
			*reason = what;
			return -EBADMSG;
		}
		if (v.len != 1 || v.p[0] > 2) {
			*reason = "certificate: version: not 1, 2 or 3";
			return -EBADMSG;
		}
		out->version = v.p[0] + 1;
	}
	if (rd_get(&r, DER_TAG_INTEGER, &out->serial, NULL, "certificate: serialNumber: malformed",
	           reason))
		return -EBADMSG;
	if (!integer_ok(&out->serial)) {
		*reason = "certificate: serialNumber: not a minimal INTEGER";
		return -EBADMSG;
	}
	if (rd_get(&r, DER_TAG_SEQUENCE, &x, &tlv, "certificate: signature: malformed", reason) ||
	    algid(&x, &sig_oid, &sig_params, "certificate: signature: malformed", reason))
		return -EBADMSG;
	struct der_span tbs_sig = tlv;
	if (rd_get(&r, DER_TAG_SEQUENCE, &x, &out->issuer_tlv, "certificate: issuer: malformed",
	           reason) ||
	    name(&x, "certificate: issuer: malformed", reason))
		return -EBADMSG;
	if (rd_get(&r, DER_TAG_SEQUENCE, &x, NULL, "certificate: validity: malformed", reason) ||
	    validity(out, &x, reason))
		return -EBADMSG;
	if (rd_get(&r, DER_TAG_SEQUENCE, &x, &out->subject_tlv, "certificate: subject: malformed",
	           reason) ||
	    name(&x, "certificate: subject: malformed", reason))
		return -EBADMSG;
	if (rd_get(&r, DER_TAG_SEQUENCE, &x, &out->spki_tlv,
	           "certificate: subjectPublicKeyInfo: malformed", reason))
		return -EBADMSG;
	{
		static const char what[] = "certificate: subjectPublicKeyInfo: malformed";
		struct rd kr = rd_of(&x);
		struct der_span alg, oid, params, key;
		if (rd_get(&kr, DER_TAG_SEQUENCE, &alg, NULL, what, reason) ||
		    algid(&alg, &oid, &params, what, reason) ||
		    rd_get(&kr, DER_TAG_BIT_STRING, &key, NULL, what, reason) || !bits_ok(&key) ||
		    !rd_done(&kr)) {
			*reason = what;
			return -EBADMSG;
		}
	}
	/* issuerUniqueID [1], subjectUniqueID [2]: IMPLICIT BIT STRING, v2 and v3 only */
	for (uint8_t id = 1; id <= 2; id++) {
		if (!rd_peek(&r, 0x80 | id))
			continue;
		if (out->version < 2) {
			*reason = "certificate: unique identifier in a v1 certificate";
			return -EBADMSG;
		}
		if (rd_get(&r, 0x80 | id, &x, NULL, "certificate: unique identifier: malformed",
		           reason))
			return -EBADMSG;
		if (!bits_ok(&x)) {
			*reason = "certificate: unique identifier: bad BIT STRING";
			return -EBADMSG;
		}
	}
	if (rd_peek(&r, DER_TAG_CTX(3))) {
		static const char what[] = "certificate: extensions: malformed";
		if (out->version < 3) {
			*reason = "certificate: extensions in a v1 or v2 certificate";
			return -EBADMSG;
		}
		if (rd_get(&r, DER_TAG_CTX(3), &x, NULL, what, reason))
			return -EBADMSG;
		struct rd er = rd_of(&x);
		if (rd_get(&er, DER_TAG_SEQUENCE, &out->exts, NULL, what, reason) ||
		    !rd_done(&er)) {
			*reason = what;
			return -EBADMSG;
		}
	}
	if (!rd_done(&r)) {
		*reason = "certificate: tbsCertificate: unexpected field";
		return -EBADMSG;
	}
	if (!span_eq(&tbs_sig, out->sig_alg_tlv.p, out->sig_alg_tlv.len)) {
		*reason = "certificate: signatureAlgorithm differs from the TBS signature field";
		return -EBADMSG;
	}
	int err = exts_walk(out, reason);
	if (err)
		return err;
	return 0;
}

static int
cert_walk(const uint8_t *in, size_t len, struct der_cert *out, const char **reason)
{
	struct der_span c, tbs, alg, oid, params, sig;
	if (len > DER_CERT_MAX) {
		*reason = "certificate: larger than DER_CERT_MAX";
		return -EBADMSG;
	}
	struct rd top = {in, in + len};
	if (rd_get(&top, DER_TAG_SEQUENCE, &c, &out->cert_tlv, "certificate: malformed", reason))
		return -EBADMSG;
	if (!rd_done(&top)) {
		*reason = "certificate: trailing data after the certificate";
		return -EBADMSG;
	}
	struct rd r = rd_of(&c);
	if (rd_get(&r, DER_TAG_SEQUENCE, &tbs, &out->tbs_tlv,
	           "certificate: tbsCertificate: malformed", reason))
		return -EBADMSG;
	if (rd_get(&r, DER_TAG_SEQUENCE, &alg, &out->sig_alg_tlv,
	           "certificate: signatureAlgorithm: malformed", reason) ||
	    algid(&alg, &oid, &params, "certificate: signatureAlgorithm: malformed", reason))
		return -EBADMSG;
	if (rd_get(&r, DER_TAG_BIT_STRING, &sig, NULL, "certificate: signatureValue: malformed",
	           reason))
		return -EBADMSG;
	if (sig.len == 0 || sig.p[0] != 0) {
		*reason = "certificate: signatureValue: unused bits";
		return -EBADMSG;
	}
	out->sig.p = sig.p + 1;
	out->sig.len = sig.len - 1;
	if (!rd_done(&r)) {
		*reason = "certificate: trailing data after signatureValue";
		return -EBADMSG;
	}
	int err = tbs_walk(out, &tbs, reason);
	if (err)
		return err;
	out->sig_alg = sig_alg_of(&oid, &params);
	return 0;
}

int
der_cert_walk(const uint8_t *in, size_t len, struct der_cert *out, const char **reason)
{
	const char *ignored;
	if (!reason)
		reason = &ignored;
	memset(out, 0, sizeof *out);
	out->bc_path_len = -1;
	int err = cert_walk(in, len, out, reason);
	if (err) {
		memset(out, 0, sizeof *out);
		out->bc_path_len = -1;
	}
	return err;
}

/* ---- TBS rewriting ---- */

static size_t
hdr_len(size_t n)
{
	return n < 0x80 ? 2 : n < 0x100 ? 3 : n < 0x10000 ? 4 : n < 0x1000000 ? 5 : 6;
}

/* Writes a tag and length; returns the bytes written. */
static size_t
hdr_put(uint8_t *w, uint8_t tag, size_t n)
{
	size_t h = hdr_len(n);
	w[0] = tag;
	if (h == 2) {
		w[1] = (uint8_t)n;
	} else {
		w[1] = (uint8_t)(0x80 | (h - 2));
		for (size_t i = 0; i < h - 2; i++)
			w[h - 1 - i] = (uint8_t)(n >> (8 * i));
	}
	return h;
}

static size_t
put(uint8_t *w, const uint8_t *p, size_t n)
{
	if (w && n)
		memcpy(w, p, n);
	return n;
}

/* The AKI Extension with extnValue replaced by value: the precert's extnID and critical
 * field as they are (prefix), or a new non-critical one when prefix is NULL. Counts only when
 * w is NULL. */
static size_t
aki_put(uint8_t *w, const struct der_span *prefix, const struct der_span *value)
{
	static const uint8_t oid[] = {DER_TAG_OID, 3, 0x55, 0x1d, 0x23};
	struct der_span pre = prefix ? *prefix : (struct der_span){oid, sizeof oid};
	size_t content = pre.len + hdr_len(value->len) + value->len;
	size_t n = hdr_len(content) + content;
	if (w) {
		uint8_t *o = w;
		o += hdr_put(o, DER_TAG_SEQUENCE, content);
		o += put(o, pre.p, pre.len);
		o += hdr_put(o, DER_TAG_OCTET_STRING, value->len);
		put(o, value->p, value->len);
	}
	return n;
}

/* The extensions of c less drop, with the PSC rule applied when psc is not NULL. Counts only
 * when w is NULL. */
static long
exts_put(uint8_t *w, const struct der_cert *c, const struct der_span *drop,
         const struct der_cert *psc)
{
	bool psc_aki = psc && (psc->flags & DER_F_AKI);
	size_t n = 0;
	for (struct rd r = rd_of(&c->exts); !rd_done(&r);) {
		struct der_span tlv, x;
		const char *ignored;
		if (rd_get(&r, DER_TAG_SEQUENCE, &x, &tlv, "", &ignored))
			return -EINVAL;
		if (tlv.p == drop->p)
			continue;
		if (psc && (c->flags & DER_F_AKI) && tlv.p == c->aki_tlv.p) {
			if (!psc_aki)
				continue;
			/* keep extnID and critical: everything before the extnValue */
			struct der_span prefix = {x.p, 0}, v;
			struct rd e = rd_of(&x);
			uint8_t t;
			while (!rd_done(&e) && !rd_peek(&e, DER_TAG_OCTET_STRING))
				if (rd_any(&e, &t, &v, NULL, "", &ignored))
					return -EINVAL;
			prefix.len = (size_t)(e.p - x.p);
			n += aki_put(w ? w + n : NULL, &prefix, &psc->aki_value);
			continue;
		}
		n += put(w ? w + n : NULL, tlv.p, tlv.len);
	}
	if (psc_aki && !(c->flags & DER_F_AKI))
		n += aki_put(w ? w + n : NULL, NULL, &psc->aki_value);
	return (long)n;
}

static long
tbs_rebuild(uint8_t *out, size_t cap, const struct der_cert *c, const struct der_span *drop,
            const struct der_cert *psc, const char **reason)
{
	/* The TBS contents up to the [3] wrapper, split around the issuer. */
	const char *ignored;
	uint8_t t;
	struct der_span body;
	size_t total;
	if (!c->tbs_tlv.p || (psc && !psc->issuer_tlv.p) ||
	    der_tlv(c->tbs_tlv.p, c->tbs_tlv.len, &t, &body, &total, &ignored) ||
	    total != c->tbs_tlv.len || c->issuer_tlv.p < body.p ||
	    c->issuer_tlv.p + c->issuer_tlv.len > body.p + body.len) {
		*reason = "TBS rewrite: not a walked certificate";
		return -EINVAL;
	}
	struct rd r = rd_of(&body);
	while (!rd_done(&r) && !rd_peek(&r, DER_TAG_CTX(3))) {
		struct der_span x;
		if (rd_any(&r, &t, &x, NULL, "", &ignored)) {
			*reason = "TBS rewrite: not a walked certificate";
			return -EINVAL;
		}
	}
	const uint8_t *wrapper = r.p;
	struct der_span head = {body.p, (size_t)(c->issuer_tlv.p - body.p)};
	struct der_span issuer = psc ? psc->issuer_tlv : c->issuer_tlv;
	const uint8_t *after_issuer = c->issuer_tlv.p + c->issuer_tlv.len;
	struct der_span mid = {after_issuer, (size_t)(wrapper - after_issuer)};

	long ext_len = exts_put(NULL, c, drop, psc);
	if (ext_len < 0) {
		*reason = "TBS rewrite: not a walked certificate";
		return -EINVAL;
	}
	size_t en = (size_t)ext_len;
	size_t seq = en ? hdr_len(en) + en : 0;
	size_t wrap = en ? hdr_len(seq) + seq : 0;
	size_t content = head.len + issuer.len + mid.len + wrap;
	size_t n = hdr_len(content) + content;
	if (n > cap || n > LONG_MAX) {
		*reason = "TBS rewrite: output buffer too small";
		return -ENOSPC;
	}
	uint8_t *w = out;
	w += hdr_put(w, DER_TAG_SEQUENCE, content);
	w += put(w, head.p, head.len);
	w += put(w, issuer.p, issuer.len);
	w += put(w, mid.p, mid.len);
	if (en) {
		w += hdr_put(w, DER_TAG_CTX(3), seq);
		w += hdr_put(w, DER_TAG_SEQUENCE, en);
		w += (size_t)exts_put(w, c, drop, psc);
	}
	return (long)(w - out);
}

long
der_precert_tbs(uint8_t *out, size_t cap, const struct der_cert *pre, const struct der_cert *psc,
                const char **reason)
{
	const char *ignored;
	if (!reason)
		reason = &ignored;
	if (!(pre->flags & DER_F_POISON)) {
		*reason = "precertificate: no poison extension";
		return -EINVAL;
	}
	return tbs_rebuild(out, cap, pre, &pre->poison_tlv, psc, reason);
}

long
der_tbs_without_sct_list(uint8_t *out, size_t cap, const struct der_cert *cert, const char **reason)
{
	const char *ignored;
	if (!reason)
		reason = &ignored;
	if (!(cert->flags & DER_F_SCT_LIST)) {
		*reason = "certificate: no SCT list extension";
		return -EINVAL;
	}
	return tbs_rebuild(out, cap, cert, &cert->sct_list_tlv, NULL, reason);
}

/* ---- PEM ---- */

/* Decodes base64 text, skipping line breaks and blanks, into the same buffer: the blanks are
 * squeezed out first, then b64_decode (strict) runs in place, which is safe because its
 * writes never overtake its reads (4 symbols give at most 3 bytes). Returns the bytes written
 * or -1. */
static long
b64_in_place(char *buf, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		char ch = buf[i];
		if (ch != '\n' && ch != '\r' && ch != ' ' && ch != '\t')
			buf[n++] = ch;
	}
	long got = b64_decode((uint8_t *)buf, n, buf, n, NULL);
	return got < 0 ? -1 : got;
}

long
der_pem_each(char *buf, size_t len, int (*fn)(void *ctx, const uint8_t *der, size_t len, size_t i),
             void *ctx, const char **reason)
{
	static const char begin[] = "-----BEGIN CERTIFICATE-----";
	static const char end[] = "-----END CERTIFICATE-----";
	const char *ignored;
	if (!reason)
		reason = &ignored;
	size_t pos = 0, count = 0;
	while (pos < len) {
		char *b = memmem(buf + pos, len - pos, begin, sizeof begin - 1);
		if (!b)
			break;
		size_t start = (size_t)(b - buf) + sizeof begin - 1;
		char *e = memmem(buf + start, len - start, end, sizeof end - 1);
		if (!e) {
			*reason = "PEM: CERTIFICATE block without an END line";
			return -EBADMSG;
		}
		long n = b64_in_place(buf + start, (size_t)(e - buf) - start);
		if (n <= 0) {
			*reason = n ? "PEM: CERTIFICATE block: bad base64"
			            : "PEM: CERTIFICATE block: empty";
			return -EBADMSG;
		}
		int rc = fn(ctx, (const uint8_t *)buf + start, (size_t)n, count);
		if (rc)
			return rc;
		count++;
		pos = (size_t)(e - buf) + sizeof end - 1;
	}
	return (long)count;
}
