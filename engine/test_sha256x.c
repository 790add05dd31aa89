/* engine/test_sha256x.c: every batched SHA-256 implementation this CPU runs, against OpenSSL's
 * one-shot SHA256() of the prefixed message, plus the RFC 6962 known answers.
 *
 * The SIMD kernels keep several messages in flight and refill lanes as messages end, so the
 * cases aim at that: every length around the 64-byte block and padding edges, batch sizes that
 * leave every possible tail, mixed lengths in one batch, in-place pairs, and inputs against a
 * PROT_NONE page so that any over-read faults. Random inputs come from a fixed seed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "engine/sha256x.h"
#include "tests/lib/check.h"
#include "tests/lib/impls.h"

#define HLEN   SHA256X_LEN
#define MAXLEN 4096 /* longest random leaf */
#define MAXN   1000 /* largest random batch */

static const char *impl; /* name of the implementation under test, for failure messages */

/* ---- helpers ------------------------------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
rng(void)
{
	/* xorshift64*: deterministic and plenty for test data. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static size_t
rng_below(size_t n)
{
	return (size_t)(rng() % n);
}

static void
rng_fill(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(rng() >> 56);
}

/* Random bytes that messages and hashes are cut from, at any offset (so unaligned). */
static uint8_t pool[2 * MAXLEN + MAXN * 2 * HLEN + 64];

static void
oneshot_prefixed(uint8_t out[HLEN], uint8_t prefix, const uint8_t *a, size_t alen, const uint8_t *b,
                 size_t blen)
{
	static uint8_t buf[1 + MAXLEN + 64];
	buf[0] = prefix;
	if (alen > 0)
		memcpy(buf + 1, a, alen);
	if (blen > 0)
		memcpy(buf + 1 + alen, b, blen);
	SHA256(buf, 1 + alen + blen, out);
}

static void
oneshot_leaf(uint8_t out[HLEN], const uint8_t *msg, size_t len)
{
	oneshot_prefixed(out, 0x00, msg, len, NULL, 0);
}

static void
oneshot_node(uint8_t out[HLEN], const uint8_t *left, const uint8_t *right)
{
	oneshot_prefixed(out, 0x01, left, HLEN, right, HLEN);
}

static void
unhex(uint8_t *out, const char *hex)
{
	for (size_t i = 0; hex[2 * i] != '\0'; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			check_harness("bad hex in a test vector");
		out[i] = (uint8_t)v;
	}
}

/* The batch sizes every random case runs, by round < BATCH_ROUNDS: 1..17 (every tail of the
 * 2-, 4- and 8-lane kernels), some large ones, then 10 random ones up to MAXN. */
static const size_t large_batches[] = {31, 63, 64, 65, 100, 255, 257, MAXN};
#define NLARGE       (sizeof large_batches / sizeof large_batches[0])
#define BATCH_ROUNDS (17 + NLARGE + 10)

static size_t
batch_size(size_t round)
{
	if (round < 17)
		return round + 1;
	if (round < 17 + NLARGE)
		return large_batches[round - 17];
	return 18 + rng_below(MAXN - 17);
}

/* Output arrays carry one extra entry that must stay untouched: a kernel's tail handling may
 * compute idle lanes but must not store them. */
static uint8_t (*out_buf)[HLEN];
static uint8_t (*ref_buf)[HLEN];

static void
out_reset(size_t n)
{
	memset(out_buf, 0xa5, (n + 1) * HLEN);
}

static void
out_check(size_t n, const char *what, size_t detail)
{
	for (size_t i = 0; i < n; i++)
		CHECK_MEM(out_buf[i], ref_buf[i], HLEN, "%s: %s %zu: hash %zu of %zu differs", impl,
		          what, detail, i, n);
	uint8_t guard[HLEN];
	memset(guard, 0xa5, HLEN);
	CHECK_MEM(out_buf[n], guard, HLEN, "%s: %s %zu: wrote out[%zu], past the batch", impl, what,
	          detail, n);
}

/* ---- leaves ------------------------------------------------------------------------------- */

static const uint8_t *leaf_msg[MAXN];
static size_t leaf_len[MAXN];

/* Hashes leaf_msg/leaf_len[0..n) with the selected implementation and compares. */
static void
leaves_compare(size_t n, const char *what, size_t detail)
{
	for (size_t i = 0; i < n; i++)
		oneshot_leaf(ref_buf[i], leaf_msg[i], leaf_len[i]);
	out_reset(n);
	sha256x_leaves(out_buf, leaf_msg, leaf_len, n);
	out_check(n, what, detail);
}

/* Lengths 0..200 (every padding edge after the 1-byte prefix: 55/56, 63/64, 119/120, 127/128)
 * and some multi-block ones, each alone, then all in one mixed batch, ascending and descending. */
static void
test_leaf_lengths(void)
{
	static const size_t extra[] = {247, 248, 255, 256, 511, 512, 1000, 1500, 4095, 4096};
	size_t n = 0;

	for (size_t len = 0; len <= 200; len++, n++) {
		leaf_msg[n] = pool + 1 + len; /* every alignment */
		leaf_len[n] = len;
	}
	for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++, n++) {
		leaf_msg[n] = pool + 3 + i;
		leaf_len[n] = extra[i];
	}
	for (size_t i = 0; i < n; i++) {
		const uint8_t *m = leaf_msg[i];
		size_t l = leaf_len[i];
		uint8_t ref[HLEN], got[HLEN];
		oneshot_leaf(ref, m, l);
		sha256x_leaves(&got, &m, &l, 1);
		CHECK_MEM(got, ref, HLEN, "%s: single leaf of length %zu", impl, l);
	}
	leaves_compare(n, "ascending lengths, batch", n);
	for (size_t i = 0; i < n / 2; i++) { /* descending: the long ones start first */
		const uint8_t *m = leaf_msg[i];
		size_t l = leaf_len[i];
		leaf_msg[i] = leaf_msg[n - 1 - i], leaf_len[i] = leaf_len[n - 1 - i];
		leaf_msg[n - 1 - i] = m, leaf_len[n - 1 - i] = l;
	}
	leaves_compare(n, "descending lengths, batch", n);
}

/* Random batches of every batch_size(); lengths mostly short with some up to MAXLEN, so lanes
 * finish at different times. */
static void
test_leaf_batches(void)
{
	for (size_t round = 0; round < BATCH_ROUNDS; round++) {
		size_t n = batch_size(round);
		for (size_t i = 0; i < n; i++) {
			size_t r = rng_below(8);
			leaf_len[i] = r < 5   ? rng_below(201)
			              : r < 7 ? rng_below(1601)
			                      : rng_below(MAXLEN + 1);
			leaf_msg[i] = pool + rng_below(MAXLEN);
		}
		leaves_compare(n, "random leaves, batch", n);
	}
	/* Equal lengths: every lane ends together, the common case for certificates. */
	for (size_t i = 0; i < 64; i++) {
		leaf_len[i] = 1500;
		leaf_msg[i] = pool + i;
	}
	leaves_compare(64, "equal 1500-byte leaves, batch", 64);
	/* One long message among short ones: the rest of the batch drains beside it. */
	for (size_t i = 0; i < 40; i++) {
		leaf_len[i] = i == 5 ? MAXLEN : rng_below(70);
		leaf_msg[i] = pool + 7 * i;
	}
	leaves_compare(40, "one long leaf among short ones, batch", 40);
}

/* msg[i] may be NULL when len[i] == 0. */
static void
test_leaf_null(void)
{
	for (size_t i = 0; i < 19; i++) {
		leaf_msg[i] = i % 3 == 0 ? NULL : pool + i;
		leaf_len[i] = i % 3 == 0 ? 0 : i * 9;
	}
	leaves_compare(1, "NULL empty leaf, batch", 1);
	leaves_compare(19, "NULL empty leaves mixed in, batch", 19);
}

/* ---- nodes and pairs ----------------------------------------------------------------------- */

static const uint8_t *node_left[MAXN];
static const uint8_t *node_right[MAXN];

static void
nodes_compare(size_t n, const char *what)
{
	for (size_t i = 0; i < n; i++)
		oneshot_node(ref_buf[i], node_left[i], node_right[i]);
	out_reset(n);
	sha256x_nodes(out_buf, node_left, node_right, n);
	out_check(n, what, n);
}

static void
test_nodes(void)
{
	for (size_t round = 0; round < BATCH_ROUNDS; round++) {
		size_t n = batch_size(round);
		for (size_t i = 0; i < n;
		     i++) { /* independent, unaligned, sometimes the same hash */
			node_left[i] = pool + rng_below(sizeof pool - HLEN);
			node_right[i] = rng_below(16) == 0 ? node_left[i]
			                                   : pool + rng_below(sizeof pool - HLEN);
		}
		nodes_compare(n, "random nodes, batch");
	}
}

/* in[2n] hashes at `in` (any alignment); out-of-place and in-place. */
static void
pairs_compare(uint8_t (*in)[HLEN], size_t n, const char *what)
{
	for (size_t i = 0; i < n; i++)
		oneshot_node(ref_buf[i], in[2 * i], in[2 * i + 1]);
	out_reset(n);
	sha256x_pairs(out_buf, (const uint8_t(*)[HLEN])in, n);
	out_check(n, what, n);

	/* In place: out == in; the hashes past out[n-1] are input that must not change either. */
	static uint8_t keep[2 * MAXN][HLEN];
	memcpy(keep, in, 2 * n * HLEN);
	sha256x_pairs(in, (const uint8_t(*)[HLEN])in, n);
	for (size_t i = 0; i < n; i++)
		CHECK_MEM(in[i], ref_buf[i], HLEN, "%s: in-place %s %zu: hash %zu differs", impl,
		          what, n, i);
	if (n > 0)
		CHECK_MEM(in[n], keep[n], n * HLEN, "%s: in-place %s %zu: clobbered in[n..2n)",
		          impl, what, n);
	memcpy(in, keep, 2 * n * HLEN);
}

static void
test_pairs(void)
{
	static uint8_t buf[2 * MAXN * HLEN + 8];
	for (size_t round = 0; round <= BATCH_ROUNDS; round++) {
		size_t n = round == 0 ? 0 : batch_size(round - 1);            /* n == 0 first */
		uint8_t(*in)[HLEN] = (uint8_t(*)[HLEN])(buf + 1 + round % 7); /* unaligned */
		rng_fill(in[0], 2 * n * HLEN);
		pairs_compare(in, n, "pairs, batch");
	}
}

/* n == 0 is a no-op for every call: nothing is read or written, so any pointer may be NULL. */
static void
test_empty(void)
{
	out_reset(0);
	sha256x_leaves(out_buf, NULL, NULL, 0);
	sha256x_nodes(out_buf, NULL, NULL, 0);
	sha256x_pairs(out_buf, NULL, 0);
	sha256x_leaves(NULL, NULL, NULL, 0);
	sha256x_nodes(NULL, NULL, NULL, 0);
	sha256x_pairs(NULL, NULL, 0);
	out_check(0, "empty batch", 0);
}

/* Inputs that end (and start) at a PROT_NONE page: a kernel that loads past the end of a
 * message or hash, as a 16- or 32-byte load easily does, faults here. */
static void
test_guard_pages(void)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t span = 2 * (size_t)page;
	uint8_t *map = mmap(NULL, span + 2 * (size_t)page, PROT_READ | PROT_WRITE,
	                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		check_harness("mmap failed");
	uint8_t *lo = map + page, *hi = lo + span; /* readable [lo, hi) between two guards */
	if (mprotect(map, (size_t)page, PROT_NONE) != 0 ||
	    mprotect(hi, (size_t)page, PROT_NONE) != 0)
		check_harness("mprotect failed");
	rng_fill(lo, span);

	/* Leaves ending at hi, of every short length and a few long ones; and starting at lo. */
	size_t n = 0;
	for (size_t len = 0; len <= 200 && n < MAXN; len++, n++) {
		leaf_msg[n] = hi - len;
		leaf_len[n] = len;
	}
	static const size_t longer[] = {1000, 1500, 4095, 4096};
	for (size_t i = 0; i < sizeof longer / sizeof longer[0] && longer[i] <= span; i++, n++) {
		leaf_msg[n] = hi - longer[i];
		leaf_len[n] = longer[i];
	}
	leaves_compare(n, "leaves ending at a guard page, batch", n);
	for (size_t i = 0; i < n; i++)
		leaf_msg[i] = lo;
	leaves_compare(n, "leaves starting at a guard page, batch", n);
	for (size_t i = 0; i < n; i++) {
		sha256x_leaves(out_buf, &leaf_msg[i], &leaf_len[i], 1);
		oneshot_leaf(ref_buf[0], leaf_msg[i], leaf_len[i]);
		CHECK_MEM(out_buf[0], ref_buf[0], HLEN, "%s: single leaf of %zu at a guard page",
		          impl, leaf_len[i]);
	}

	/* Nodes whose hashes touch either guard, every batch size to 17. */
	for (size_t k = 1; k <= 17; k++) {
		for (size_t i = 0; i < k; i++) {
			node_left[i] = i % 2 ? lo : hi - HLEN;
			node_right[i] = i % 2 ? hi - HLEN : lo + i;
		}
		nodes_compare(k, "nodes at a guard page, batch");
	}

	/* Pairs whose input array ends at hi. */
	for (size_t k = 1; k <= 17; k++)
		pairs_compare((uint8_t(*)[HLEN])(hi - 2 * k * HLEN), k,
		              "pairs at a guard page, batch");
	munmap(map, span + 2 * (size_t)page);
}

/* ---- RFC 6962 known answers ---------------------------------------------------------------- */

/* ../shared/vectors/merkle/rfc6962_8leaf.json: leaf_inputs_hex, leaf_hashes,
 * complete_subtree_nodes level1..level3. */
static const char *const rfc_inputs[8] = {
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
};
static const char *const rfc_leaves[8] = {
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
};
static const char *const rfc_level1[4] = {
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
};
static const char *const rfc_level2[2] = {
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
};
static const char *const rfc_root8 =
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328";

static void
test_rfc6962(void)
{
	uint8_t in[8][16], want[8][HLEN], got[8][HLEN], lvl[8][HLEN];
	const uint8_t *msg[8];
	size_t len[8];

	for (int i = 0; i < 8; i++) {
		len[i] = strlen(rfc_inputs[i]) / 2;
		unhex(in[i], rfc_inputs[i]);
		msg[i] = len[i] > 0 ? in[i] : NULL;
		unhex(want[i], rfc_leaves[i]);
	}
	sha256x_leaves(got, msg, len, 8);
	for (int i = 0; i < 8; i++) {
		CHECK_MEM(got[i], want[i], HLEN, "%s: RFC 6962 leaf %d in a batch of 8", impl, i);
		uint8_t one[1][HLEN];
		sha256x_leaves(one, &msg[i], &len[i], 1);
		CHECK_MEM(one[0], want[i], HLEN, "%s: RFC 6962 leaf %d alone", impl, i);
	}

	/* Level 1 through sha256x_nodes, then the whole tree by in-place pairs. */
	const uint8_t *left[4], *right[4];
	for (int i = 0; i < 4; i++) {
		left[i] = want[2 * i];
		right[i] = want[2 * i + 1];
	}
	sha256x_nodes(got, left, right, 4);
	for (int i = 0; i < 4; i++) {
		unhex(lvl[i], rfc_level1[i]);
		CHECK_MEM(got[i], lvl[i], HLEN, "%s: RFC 6962 level-1 node %d", impl, i);
	}
	memcpy(got, want, sizeof got);
	sha256x_pairs(got, (const uint8_t(*)[HLEN])got, 4);
	for (int i = 0; i < 4; i++)
		CHECK_MEM(got[i], lvl[i], HLEN, "%s: RFC 6962 level-1 pair %d", impl, i);
	sha256x_pairs(got, (const uint8_t(*)[HLEN])got, 2);
	for (int i = 0; i < 2; i++) {
		unhex(lvl[i], rfc_level2[i]);
		CHECK_MEM(got[i], lvl[i], HLEN, "%s: RFC 6962 level-2 pair %d", impl, i);
	}
	sha256x_pairs(got, (const uint8_t(*)[HLEN])got, 1);
	unhex(lvl[0], rfc_root8);
	CHECK_MEM(got[0], lvl[0], HLEN, "%s: RFC 6962 root of 8", impl);
}

/* ---- selection ----------------------------------------------------------------------------- */

static void
test_select(void)
{
	for (int i = 0; i < SHA256X_IMPL_COUNT; i++) {
		enum sha256x_impl id = (enum sha256x_impl)i, back;
		const char *name = sha256x_impl_name(id);
		CHECK(name != NULL, "impl %d has no name", i);
		if (name == NULL)
			continue;
		CHECK(sha256x_impl_parse(name, &back) == 0 && back == id, "parse(\"%s\") != %d",
		      name, i);
		if (id == SHA256X_AUTO)
			continue;
		int rc = sha256x_select(id);
		if (sha256x_supported(id)) {
			CHECK(rc == 0 && sha256x_selected() == id, "select(%s) = %d", name, rc);
		} else {
			CHECK(rc == -ENOTSUP, "select(unsupported %s) = %d, want -ENOTSUP", name,
			      rc);
		}
	}
	enum sha256x_impl junk = SHA256X_OPENSSL;
	CHECK(sha256x_impl_parse("sha512", &junk) == -EINVAL && junk == SHA256X_OPENSSL,
	      "parse accepted an unknown name");
	CHECK(sha256x_impl_parse("", &junk) == -EINVAL, "parse accepted \"\"");
	CHECK(sha256x_impl_name(SHA256X_IMPL_COUNT) == NULL, "name of an unknown impl");
	CHECK(sha256x_select(SHA256X_IMPL_COUNT) == -EINVAL, "select of an unknown impl");
	CHECK(sha256x_supported(SHA256X_AUTO) && sha256x_supported(SHA256X_OPENSSL),
	      "auto and openssl must always be supported");

	CHECK(sha256x_select(SHA256X_AUTO) == 0, "select(auto) failed");
	enum sha256x_impl got = sha256x_selected();
	CHECK(got != SHA256X_AUTO && sha256x_supported(got), "auto chose %d", (int)got);
	printf("auto selects %s\n", sha256x_impl_name(got));
}

/* Every case, under the implementation check_each_impl() selected. */
static void
suite(void)
{
	impl = sha256x_impl_name(sha256x_selected());
	RUN(test_rfc6962);
	RUN(test_empty);
	RUN(test_leaf_lengths);
	RUN(test_leaf_batches);
	RUN(test_leaf_null);
	RUN(test_nodes);
	RUN(test_pairs);
	RUN(test_guard_pages);
}

int
main(void)
{
	out_buf = calloc(MAXN + 1, HLEN);
	ref_buf = calloc(MAXN + 1, HLEN);
	if (out_buf == NULL || ref_buf == NULL)
		check_harness("out of memory");
	rng_fill(pool, sizeof pool);

	RUN(test_select);
	check_each_impl(suite); /* openssl, shani, avx2, avx512: a skip line for any this CPU lacks */
	free(out_buf);
	free(ref_buf);
	return check_done();
}
