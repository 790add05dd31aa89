/* Fuzz target: merkle_verify_inclusion() and merkle_verify_consistency() on untrusted proofs
 * (a monitor feeds them whatever a log sends). Input: 8-byte index/old, 8-byte size, then
 * 32-byte hashes (leaf or old root, root, proof...). Invariants: no crash, a verdict of 0,
 * -EINVAL or -EBADMSG, -EINVAL exactly for bad sizes, and a reason whenever it fails. */
#include <errno.h>
#include <string.h>

#include "engine/merkle.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t
le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 16 + 64)
		return 0;
	uint64_t a = le64(data), n = le64(data + 8);
	/* Small sizes too: the top bits of the first byte choose a range. */
	if (data[0] & 0x80) {
		a &= 0xffff;
		n &= 0xffff;
	}
	const uint8_t *h = data + 16;
	size_t nproof = (size - 16 - 64) / 32;
	if (nproof > MERKLE_MAX_PROOF)
		nproof = MERKLE_MAX_PROOF;
	merkle_hash_t x, root, proof[MERKLE_MAX_PROOF];
	memcpy(x, h, 32);
	memcpy(root, h + 32, 32);
	memcpy(proof, h + 64, nproof * 32);
	const char *why = NULL;
	int rc = merkle_verify_inclusion(a, n, x, proof, nproof, root, &why);
	FUZZ_REQUIRE(rc == 0 || rc == -EINVAL || rc == -EBADMSG);
	FUZZ_REQUIRE((rc == -EINVAL) == (a >= n));
	FUZZ_REQUIRE(rc == 0 || why != NULL);
	why = NULL;
	rc = merkle_verify_consistency(a, n, x, root, proof, nproof, &why);
	FUZZ_REQUIRE(rc == 0 || rc == -EINVAL || rc == -EBADMSG);
	FUZZ_REQUIRE((rc == -EINVAL) == (a == 0 || a > n));
	FUZZ_REQUIRE(rc == 0 || why != NULL);
	return 0;
}
