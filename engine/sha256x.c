/* engine/sha256x.c: implementation choice, and the OpenSSL reference implementation. */
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA256_Init/Update/Final: the low-level reference */
#include "engine/sha256x.h"

#include <errno.h>
#include <string.h>

#include <openssl/sha.h>

#include "engine/sha256x_impl.h"

const uint32_t sha256x_iv[8] = {
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
        0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

const uint32_t sha256x_k[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
};

/* ---- OpenSSL reference ---------------------------------------------------------------- */

static bool
openssl_cpu_ok(void)
{
	return true;
}

static void
openssl_leaves(uint8_t (*out)[SHA256X_LEN], const uint8_t *const *msg, const size_t *len, size_t n)
{
	static const uint8_t prefix = 0x00;
	for (size_t i = 0; i < n; i++) {
		SHA256_CTX c;
		SHA256_Init(&c);
		SHA256_Update(&c, &prefix, 1);
		if (len[i] > 0)
			SHA256_Update(&c, msg[i], len[i]);
		SHA256_Final(out[i], &c);
	}
}

static void
openssl_node(uint8_t out[SHA256X_LEN], const uint8_t *left, const uint8_t *right)
{
	static const uint8_t prefix = 0x01;
	SHA256_CTX c;
	SHA256_Init(&c);
	SHA256_Update(&c, &prefix, 1);
	SHA256_Update(&c, left, SHA256X_LEN);
	SHA256_Update(&c, right, SHA256X_LEN);
	SHA256_Final(out, &c);
}

static void
openssl_nodes(uint8_t (*out)[SHA256X_LEN], const uint8_t *const *left, const uint8_t *const *right,
              size_t n)
{
	for (size_t i = 0; i < n; i++)
		openssl_node(out[i], left[i], right[i]);
}

static void
openssl_pairs(uint8_t (*out)[SHA256X_LEN], const uint8_t (*in)[SHA256X_LEN], size_t n)
{
	/* out[i] is written after in[2i], in[2i+1] are read, and i <= 2i: in-place is safe. */
	for (size_t i = 0; i < n; i++) {
		uint8_t h[SHA256X_LEN];
		openssl_node(h, in[2 * i], in[2 * i + 1]);
		memcpy(out[i], h, SHA256X_LEN);
	}
}

const struct sha256x_ops sha256x_ops_openssl = {
        .name = "openssl",
        .cpu_ok = openssl_cpu_ok,
        .leaves = openssl_leaves,
        .nodes = openssl_nodes,
        .pairs = openssl_pairs,
};

/* ---- choice ---------------------------------------------------------------------------- */

/* Indexed by enum sha256x_impl; SHA256X_AUTO has no table. */
static const struct sha256x_ops *const impls[SHA256X_IMPL_COUNT] = {
        [SHA256X_OPENSSL] = &sha256x_ops_openssl,
        [SHA256X_SHANI] = &sha256x_ops_shani,
        [SHA256X_AVX2] = &sha256x_ops_avx2,
        [SHA256X_AVX512] = &sha256x_ops_avx512,
};

/* Preference order for SHA256X_AUTO: measured fastest first (see bench/README.md). */
static const enum sha256x_impl preference[] = {SHA256X_AVX512, SHA256X_SHANI, SHA256X_AVX2,
                                               SHA256X_OPENSSL};

static const struct sha256x_ops *active; /* read with acquire, written with release */
static enum sha256x_impl active_id = SHA256X_OPENSSL;

static void
set_active(enum sha256x_impl id)
{
	active_id = id;
	__atomic_store_n(&active, impls[id], __ATOMIC_RELEASE);
}

bool
sha256x_supported(enum sha256x_impl impl)
{
	if (impl == SHA256X_AUTO)
		return true;
	if ((unsigned)impl >= SHA256X_IMPL_COUNT)
		return false;
	return impls[impl]->cpu_ok();
}

static enum sha256x_impl
best(void)
{
	for (size_t i = 0; i < sizeof preference / sizeof preference[0]; i++)
		if (sha256x_supported(preference[i]))
			return preference[i];
	return SHA256X_OPENSSL;
}

void
sha256x_init(void)
{
	if (__atomic_load_n(&active, __ATOMIC_ACQUIRE) == NULL)
		set_active(best());
}

int
sha256x_select(enum sha256x_impl impl)
{
	if ((unsigned)impl >= SHA256X_IMPL_COUNT)
		return -EINVAL;
	if (impl == SHA256X_AUTO)
		impl = best();
	if (!sha256x_supported(impl))
		return -ENOTSUP;
	set_active(impl);
	return 0;
}

enum sha256x_impl
sha256x_selected(void)
{
	sha256x_init();
	return active_id;
}

const char *
sha256x_impl_name(enum sha256x_impl impl)
{
	if (impl == SHA256X_AUTO)
		return "auto";
	if ((unsigned)impl >= SHA256X_IMPL_COUNT)
		return NULL;
	return impls[impl]->name;
}

int
sha256x_impl_parse(const char *name, enum sha256x_impl *out)
{
	for (int i = 0; i < SHA256X_IMPL_COUNT; i++) {
		if (strcmp(name, sha256x_impl_name((enum sha256x_impl)i)) == 0) {
			*out = (enum sha256x_impl)i;
			return 0;
		}
	}
	return -EINVAL;
}

static const struct sha256x_ops *
ops(void)
{
	const struct sha256x_ops *o = __atomic_load_n(&active, __ATOMIC_ACQUIRE);
	if (__builtin_expect(o == NULL, 0)) {
		sha256x_init();
		o = __atomic_load_n(&active, __ATOMIC_ACQUIRE);
	}
	return o;
}

void
sha256x_leaves(uint8_t (*out)[SHA256X_LEN], const uint8_t *const *msg, const size_t *len, size_t n)
{
	ops()->leaves(out, msg, len, n);
}

void
sha256x_nodes(uint8_t (*out)[SHA256X_LEN], const uint8_t *const *left, const uint8_t *const *right,
              size_t n)
{
	ops()->nodes(out, left, right, n);
}

void
sha256x_pairs(uint8_t (*out)[SHA256X_LEN], const uint8_t (*in)[SHA256X_LEN], size_t n)
{
	ops()->pairs(out, in, n);
}
