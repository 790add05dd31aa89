/* engine/test_b64.c: b64 against RFC 4648 section 10, OpenSSL's EVP_EncodeBlock and
 * EVP_DecodeBlock, and the strict refusals (length, alphabet, padding, unused bits,
 * whitespace), with every input placed against a guard page so any over-read crashes. */
#include <errno.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine/b64.h"
#include "tests/lib/check.h"

/* ---- a copy of the input that ends where an unmapped page begins ---- */

static uint8_t *guard_base;
static size_t guard_page;

static const char *
guarded(const void *p, size_t len)
{
	if (!guard_base) {
		guard_page = (size_t)sysconf(_SC_PAGESIZE);
		guard_base = mmap(NULL, 4 * guard_page, PROT_READ | PROT_WRITE,
		                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (guard_base == MAP_FAILED)
			check_harness("mmap failed");
		if (mprotect(guard_base + 3 * guard_page, guard_page, PROT_NONE) != 0)
			check_harness("mprotect failed");
	}
	if (len > 3 * guard_page)
		check_harness("guarded input too long");
	uint8_t *at = guard_base + 3 * guard_page - len;
	memcpy(at, p, len);
	return (const char *)at;
}

/* Deterministic bytes (xorshift64*, fixed seed). */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint8_t
rng_byte(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint8_t)((rng_state * 0x2545f4914f6cdd1dull) >> 56);
}

/* ---- known answers ---- */

static const struct {
	const char *raw, *enc;
} rfc4648[] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
};

static void
rfc4648_section10_vectors_encode_and_decode(void)
{
	for (size_t i = 0; i < sizeof rfc4648 / sizeof rfc4648[0]; i++) {
		const char *raw = rfc4648[i].raw, *enc = rfc4648[i].enc;
		size_t rl = strlen(raw), el = strlen(enc);
		char out[16];
		memset(out, 'x', sizeof out);
		size_t n = b64_encode(out, (const uint8_t *)raw, rl);
		CHECK(n == el && n == B64_ENCODED_LEN(rl) && memcmp(out, enc, el) == 0 &&
		              out[el] == '\0',
		      "encode %s", raw);
		uint8_t dec[16];
		long m = b64_decode(dec, rl, guarded(enc, el), el, NULL);
		CHECK(m == (long)rl && memcmp(dec, raw, rl) == 0, "decode %s: %ld", enc, m);
	}
}

static void
every_byte_value_round_trips(void)
{
	uint8_t all[256], back[256];
	char enc[B64_ENCODED_LEN(256) + 1];
	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	size_t n = b64_encode(enc, all, sizeof all);
	long m = b64_decode(back, sizeof back, guarded(enc, n), n, NULL);
	CHECK(m == 256 && memcmp(all, back, 256) == 0, "256 byte values: %ld", m);
}

/* ---- against OpenSSL ---- */

static void
random_lengths_0_to_300_match_openssl(void)
{
	uint8_t raw[300], dec[300], ossl_dec[304];
	char enc[B64_ENCODED_LEN(300) + 1];
	unsigned char ossl_enc[B64_ENCODED_LEN(300) + 1];
	for (size_t len = 0; len <= 300; len++) {
		for (size_t rep = 0; rep < 4; rep++) {
			for (size_t i = 0; i < len; i++)
				raw[i] = rng_byte();
			size_t n = b64_encode(enc, raw, len);
			int on = EVP_EncodeBlock(ossl_enc, raw, (int)len);
			CHECK(on >= 0 && (size_t)on == n && memcmp(enc, ossl_enc, n) == 0,
			      "encode len %zu differs from EVP_EncodeBlock", len);
			long m = b64_decode(dec, len, guarded(enc, n), n, NULL);
			CHECK(m == (long)len && memcmp(dec, raw, len) == 0, "decode len %zu: %ld",
			      len, m);
			/* EVP_DecodeBlock keeps the padding's zero bytes: compare the prefix. */
			int od = EVP_DecodeBlock(ossl_dec, (const unsigned char *)enc, (int)n);
			CHECK(od >= 0 && (size_t)od >= len && memcmp(ossl_dec, raw, len) == 0,
			      "EVP_DecodeBlock disagrees at len %zu", len);
		}
	}
}

/* ---- refusals ---- */

static const struct {
	const char *name;
	const char *in;
	size_t len; /* 0: strlen */
	size_t bad; /* the offset *bad must report */
} rejects[] = {
        {"length_1", "Z", 0, 1},
        {"length_2", "Zg", 0, 2},
        {"length_3", "Zg=", 0, 3},
        {"length_5", "Zm9vY", 0, 5},
        {"length_6_padded", "Zm9vY=", 0, 6},
        {"char_bang", "Zm9!", 0, 3},
        {"char_url_safe_minus", "Zm9-", 0, 3},
        {"char_url_safe_underscore", "_m9v", 0, 0},
        {"char_high_bit", "Zm9\xc3", 0, 3},
        {"char_nul", "Zg\0=", 4, 2},
        {"pad_in_middle", "Zg==Zg==", 0, 2},
        {"pad_in_middle_of_quad", "Zm=v", 0, 2},
        {"pad_first_of_quad", "Zm9v=mFy", 0, 4},
        {"pad_three", "Z===", 0, 1},
        {"pad_four", "====", 0, 0},
        {"pad_then_data_in_last_quad", "Zg=A", 0, 2},
        {"unused_bits_one_pad", "Zm9=", 0, 2},
        {"unused_bits_two_pads", "Zh==", 0, 1},
        {"unused_bits_two_pads_low", "Zg1=", 0, 2},
        {"whitespace_trailing_newline", "Zm9v\n", 0, 5},
        {"whitespace_leading_space", " Zm9v", 0, 5},
        {"whitespace_inner", "Zm 9vYmFy", 0, 9},
        {"whitespace_inner_aligned", "Zm9v YmF", 0, 4},
        {"whitespace_crlf_line_break", "Zm9v\r\nYmFy", 0, 10},
};

static void
malformed_inputs_are_refused_with_their_offset(void)
{
	for (size_t i = 0; i < sizeof rejects / sizeof rejects[0]; i++) {
		const char *in = rejects[i].in;
		size_t len = rejects[i].len ? rejects[i].len : strlen(in);
		uint8_t out[16];
		size_t bad = 999;
		long r = b64_decode(out, sizeof out, guarded(in, len), len, &bad);
		CHECK(r == -EINVAL, "%s: accepted (%ld)", rejects[i].name, r);
		CHECK(bad == rejects[i].bad, "%s: bad offset %zu, want %zu", rejects[i].name, bad,
		      rejects[i].bad);
		r = b64_decode(out, sizeof out, guarded(in, len), len, NULL);
		CHECK(r == -EINVAL, "%s: with bad NULL (%ld)", rejects[i].name, r);
	}
}

static void
unused_bits_zero_accepted_nonzero_refused(void)
{
	/* "Zg==" is the one spelling of "f"; Zh, Zi, ... Zv decode to "f" too in lenient decoders.
	 */
	uint8_t out[4];
	CHECK(b64_decode(out, sizeof out, guarded("Zg==", 4), 4, NULL) == 1 && out[0] == 'f',
	      "Zg==");
	const char *alt = "hijklmnopqrstuv";
	for (size_t i = 0; alt[i]; i++) {
		char in[5] = {'Z', alt[i], '=', '=', 0};
		CHECK(b64_decode(out, sizeof out, guarded(in, 4), 4, NULL) == -EINVAL,
		      "%s accepted", in);
	}
	CHECK(b64_decode(out, sizeof out, guarded("Zm8=", 4), 4, NULL) == 2, "Zm8=");
	/* "Zm9=": the 9 leaves a set bit where the one padding symbol says none is. */
	CHECK(b64_decode(out, sizeof out, guarded("Zm9=", 4), 4, NULL) == -EINVAL, "Zm9=");
}

static void
output_capacity_is_respected(void)
{
	uint8_t out[8];
	memset(out, 0xa5, sizeof out);
	CHECK(b64_decode(out, 5, guarded("Zm9vYmFy", 8), 8, NULL) == -ENOSPC, "6 bytes into 5");
	for (size_t i = 0; i < sizeof out; i++)
		CHECK(out[i] == 0xa5, "written at %zu on -ENOSPC", i);
	CHECK(b64_decode(out, 6, guarded("Zm9vYmFy", 8), 8, NULL) == 6, "6 bytes into 6");
	CHECK(out[6] == 0xa5 && out[7] == 0xa5, "written past cap");
	memset(out, 0xa5, sizeof out);
	/* Padding counts: "Zm9vYg==" is 4 bytes, not 6. */
	CHECK(b64_decode(out, 4, guarded("Zm9vYg==", 8), 8, NULL) == 4, "4 bytes into 4");
	CHECK(out[4] == 0xa5, "written past cap with padding");
	CHECK(b64_decode(out, 0, guarded("", 0), 0, NULL) == 0, "empty into 0");
	CHECK(b64_decode(out, 0, guarded("Zg==", 4), 4, NULL) == -ENOSPC, "1 byte into 0");
}

static void
decoded_max_and_encoded_len_bound_every_length(void)
{
	for (size_t len = 0; len <= 64; len++) {
		CHECK(B64_ENCODED_LEN(len) % 4 == 0 && B64_ENCODED_LEN(len) >= len * 4 / 3,
		      "B64_ENCODED_LEN(%zu)", len);
		CHECK(B64_DECODED_MAX(B64_ENCODED_LEN(len)) >= len &&
		              B64_DECODED_MAX(B64_ENCODED_LEN(len)) < len + 3,
		      "B64_DECODED_MAX at %zu", len);
	}
}

int
main(void)
{
	RUN(rfc4648_section10_vectors_encode_and_decode);
	RUN(every_byte_value_round_trips);
	RUN(random_lengths_0_to_300_match_openssl);
	RUN(malformed_inputs_are_refused_with_their_offset);
	RUN(unused_bits_zero_accepted_nonzero_refused);
	RUN(output_capacity_is_respected);
	RUN(decoded_max_and_encoded_len_bound_every_length);
	return check_done();
}
