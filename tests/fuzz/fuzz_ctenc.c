/* Fuzz target: the ctenc parsers and the ctsig checkpoint verifier. The first byte picks the
 * parser, the rest is its input. Invariants: whatever parses re-encodes to exactly the bytes
 * it spanned (one encoding per value), the encoders never write past the length they report,
 * a parsed TileLeaf's two leaf-hash routes agree, and the note verifier never accepts a note
 * whose body it cannot parse. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/b64.h"
#include "engine/ctenc.h"
#include "engine/ctsig.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CAP (1u << 20)
static uint8_t out[CAP + 1];

/* Re-encoding wrote exactly n bytes equal to in, and not one byte more. */
static void
same(long n, const uint8_t *in, size_t len)
{
	FUZZ_REQUIRE(n >= 0 && (size_t)n == len);
	FUZZ_REQUIRE(memcmp(out, in, len) == 0);
}

/* rome.ct.filippo.io/2024h1's public key (static-ct/VERIFIED_STATIC_CT_AND_TLOG.json). */
static const char rome_spki_b64[] =
        "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEAXM8Ld9qn64g1zVFDh5FtgxS3zj5sqQDwYMs3wrBV3MCBiFhK/"
        "iRLxdKF4YsAcJaEglMlu4Lewvzxs0xO2uwEw==";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size - 1 > CAP)
		return 0;
	const uint8_t *in = data + 1;
	size_t len = size - 1;
	const char *why = NULL;
	switch (data[0] % 8) {
	case 0: {
		struct ctenc_tile_leaf l;
		long n = ctenc_tile_leaf_parse(&l, in, len, &why);
		if (n < 0) {
			FUZZ_REQUIRE(n == -EBADMSG && why != NULL);
			break;
		}
		FUZZ_REQUIRE(n > 0 && (size_t)n <= len && l.te == in && l.te_len <= (size_t)n);
		FUZZ_REQUIRE(ctenc_tile_leaf_len(&l) == n);
		out[n] = 0xa5;
		same(ctenc_tile_leaf(out, (size_t)n, &l), in, (size_t)n);
		FUZZ_REQUIRE(out[n] == 0xa5);
		uint8_t h1[32], h2[32];
		ctenc_leaf_hash_te(h1, l.te, l.te_len);
		FUZZ_REQUIRE(ctenc_leaf_hash(h2, &l.entry) == 0 && memcmp(h1, h2, 32) == 0);
		uint64_t idx;
		int rc = ctenc_ext_leaf_index_parse(&idx, l.entry.ext, l.entry.ext_len, &why);
		FUZZ_REQUIRE(rc == 0 || rc == -ENOENT || rc == -EBADMSG);
		if (rc == 0)
			FUZZ_REQUIRE(idx <= CTENC_LEAF_INDEX_MAX);
		break;
	}
	case 1: {
		struct ctenc_sct s;
		if (ctenc_sct_parse(&s, in, len, &why) < 0) {
			FUZZ_REQUIRE(why != NULL);
			break;
		}
		out[len] = 0xa5;
		same(ctenc_sct(out, len, &s), in, len);
		FUZZ_REQUIRE(out[len] == 0xa5);
		break;
	}
	case 2: {
		struct ctenc_entry e;
		if (ctenc_leaf_parse(&e, in, len, &why) < 0)
			break;
		FUZZ_REQUIRE(ctenc_leaf_len(&e) == (long)len);
		same(ctenc_leaf(out, len, &e), in, len);
		uint8_t d[32], h[32];
		FUZZ_REQUIRE(ctenc_sct_signed_digest(d, &e) == 0 && ctenc_leaf_hash(h, &e) == 0);
		break;
	}
	case 3: {
		struct ctenc_checkpoint c;
		if (ctenc_checkpoint_parse(&c, (const char *)in, len, &why) < 0)
			break;
		same(ctenc_checkpoint((char *)out, len + 1, c.origin, c.origin_len, c.size, c.root),
		     in, len);
		break;
	}
	case 4: {
		uint64_t idx;
		int rc = ctenc_ext_leaf_index_parse(&idx, in, len, &why);
		FUZZ_REQUIRE(rc == 0 || rc == -ENOENT || rc == -EBADMSG);
		if (rc == 0 && len == CTENC_LEAF_INDEX_EXT) {
			FUZZ_REQUIRE(ctenc_ext_leaf_index(out, idx) == CTENC_LEAF_INDEX_EXT);
			FUZZ_REQUIRE(memcmp(out, in, len) == 0);
		}
		break;
	}
	case 5: {
		struct ctenc_dsig d;
		if (ctenc_dsig_parse(&d, in, len, &why) < 0)
			break;
		same(ctenc_dsig(out, len, &d), in, len);
		break;
	}
	case 6: {
		struct ctenc_entry e;
		long n = ctenc_timestamped_entry_parse(&e, in, len, &why);
		if (n < 0)
			break;
		FUZZ_REQUIRE((size_t)n <= len);
		same(ctenc_timestamped_entry(out, (size_t)n, &e), in, (size_t)n);
		break;
	}
	case 7: {
		static struct ctsig_pub *k;
		if (!k) {
			uint8_t spki[128];
			long n = b64_decode(spki, sizeof(spki), rome_spki_b64,
			                    strlen(rome_spki_b64), NULL);
			if (n < 0 || ctsig_pub_from_spki(&k, spki, (size_t)n, &why) != 0)
				abort();
		}
		struct ctsig_checkpoint cp;
		const char *origin = "rome.ct.filippo.io/2024h1";
		int rc = ctsig_checkpoint_verify(&cp, k, origin, strlen(origin), (const char *)in,
		                                 len, &why);
		if (rc < 0) {
			FUZZ_REQUIRE(why != NULL);
			break;
		}
		/* Accepted: the body is the note's start and re-encodes to it. */
		FUZZ_REQUIRE(rc == 0 && cp.body.origin == (const char *)in);
		long n = ctenc_checkpoint((char *)out, CAP, origin, strlen(origin), cp.body.size,
		                          cp.body.root);
		FUZZ_REQUIRE(n > 0 && (size_t)n < len && memcmp(out, in, (size_t)n) == 0);
		FUZZ_REQUIRE(in[n] == '\n');
		break;
	}
	}
	return 0;
}
