/* engine/sha256x_shani.c: SHA-256 with the x86 SHA extensions, several messages interleaved.
 *
 * One message's compression is a chain of 32 dependent sha256rnds2 (two rounds each), so a
 * single stream waits on that instruction's latency. Interleaving independent messages in one
 * loop overlaps their chains until the SHA unit's throughput is the limit, and the batch API
 * always has several messages at hand. Measured on the Sapphire Rapids Xeon this was written
 * on (bench/bench_sha256x.c and interleaved A/B runs): for nodes 2-way is 13% faster than
 * 1-way and 2-8% faster than 4-way (which spills registers for nothing more to overlap); for
 * leaves 4-way is 10-15% faster than 2-way, since it also hides the per-block bookkeeping
 * (padding, refilling lanes). Other CPUs may differ: NODE_WAYS and LEAF_WAYS can be set to 1, 2
 * or 4 with -D to measure again.
 *
 * State layout is the one sha256rnds2 wants: two registers holding words ABEF and CDGH.
 * Every function that uses the intrinsics carries its own target attribute, so the file builds
 * with no -m flags and whatever -march a dependency's pkg-config adds.
 */
#include <string.h>

#include "engine/sha256x_impl.h"

#if defined(__x86_64__) || defined(__i386__)

#include <cpuid.h>
#include <immintrin.h>

/* Messages in flight, for nodes and for leaves: 1, 2 or 4 (see above). */
#ifndef NODE_WAYS
#define NODE_WAYS 2
#endif
#ifndef LEAF_WAYS
#define LEAF_WAYS 4
#endif
#define MAX_WAYS 4

#define SHANI        __attribute__((target("sha,sse4.1,ssse3")))
#define SHANI_INLINE static inline __attribute__((always_inline, target("sha,sse4.1,ssse3")))

static bool
shani_cpu_ok(void)
{
	unsigned a, b, c, d;
	if (!__get_cpuid(1, &a, &b, &c, &d))
		return false;
	if (!(c & bit_SSSE3) || !(c & bit_SSE4_1))
		return false;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return false;
	return (b & (1u << 29)) != 0; /* CPUID.(EAX=7,ECX=0):EBX.SHA[bit 29] */
}

/* SHA-256 words are big-endian; this shuffle swaps the bytes of each 32-bit lane. */
SHANI_INLINE __m128i
bswap32(__m128i x)
{
	return _mm_shuffle_epi8(x, _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL));
}

SHANI_INLINE __m128i
load_be(const uint8_t *p)
{
	return bswap32(_mm_loadu_si128((const __m128i *)p));
}

/* The initial state in sha256rnds2 order: elements (high to low) A B E F and C D G H. */
SHANI_INLINE void
iv_load(__m128i *abef, __m128i *cdgh)
{
	const uint32_t *v = sha256x_iv;
	*abef = _mm_set_epi32((int)v[0], (int)v[1], (int)v[4], (int)v[5]);
	*cdgh = _mm_set_epi32((int)v[2], (int)v[3], (int)v[6], (int)v[7]);
}

/* Writes the digest: state back to A..H order, each word big-endian. */
SHANI_INLINE void
digest_store(uint8_t out[SHA256X_LEN], __m128i abef, __m128i cdgh)
{
	__m128i feba = _mm_shuffle_epi32(abef, 0x1b);
	__m128i dchg = _mm_shuffle_epi32(cdgh, 0xb1);
	__m128i abcd = _mm_blend_epi16(feba, dchg, 0xf0);
	__m128i efgh = _mm_alignr_epi8(dchg, feba, 8);
	_mm_storeu_si128((__m128i *)out, bswap32(abcd));
	_mm_storeu_si128((__m128i *)(out + 16), bswap32(efgh));
}

/* Rounds 4g..4g+3 of one message (g is a constant once inlined). The message schedule runs in
 * the same 4-word registers q[0..3], msg1 three groups and msg2 one group ahead of use. */
SHANI_INLINE void
rounds4(int g, __m128i k, __m128i *s0, __m128i *s1, __m128i q[4])
{
	__m128i x = _mm_add_epi32(q[g & 3], k);
	*s1 = _mm_sha256rnds2_epu32(*s1, *s0, x);
	if (g >= 3 && g <= 14) { /* words of group g+1 */
		__m128i t = _mm_alignr_epi8(q[g & 3], q[(g - 1) & 3], 4);
		q[(g + 1) & 3] = _mm_sha256msg2_epu32(_mm_add_epi32(q[(g + 1) & 3], t), q[g & 3]);
	}
	*s0 = _mm_sha256rnds2_epu32(*s0, *s1, _mm_shuffle_epi32(x, 0x0e));
	if (g >= 1 && g <= 12) /* first half of the schedule for group g+3 */
		q[(g - 1) & 3] = _mm_sha256msg1_epu32(q[(g - 1) & 3], q[g & 3]);
}

/* Group g for nl messages (nl is a constant too), lane by lane, so the core sees nl independent
 * sha256rnds2 chains side by side. Spelled out, not looped: gcc -O2 keeps a loop of 3 or 4
 * lanes, with the lanes in memory, and clang 14 partly unrolls pragma-unrolled ones. */
SHANI_INLINE void
group(int nl, int g, __m128i s0[], __m128i s1[], __m128i m[][4])
{
	__m128i k = _mm_loadu_si128((const __m128i *)&sha256x_k[4 * g]);

	rounds4(g, k, &s0[0], &s1[0], m[0]);
	if (nl > 1)
		rounds4(g, k, &s0[1], &s1[1], m[1]);
	if (nl > 2)
		rounds4(g, k, &s0[2], &s1[2], m[2]);
	if (nl > 3)
		rounds4(g, k, &s0[3], &s1[3], m[3]);
}

/* One 64-byte block for each of nl messages; w[l] holds message l's 16 words in host order.
 * The 16 groups are spelled out for the same reason: constant indexes keep the state in
 * registers whatever the compiler's unrolling does. */
SHANI_INLINE void
compress(int nl, __m128i abef[], __m128i cdgh[], const __m128i w[][4])
{
	__m128i s0[MAX_WAYS], s1[MAX_WAYS], m[MAX_WAYS][4];

	for (int l = 0; l < nl; l++) {
		s0[l] = abef[l];
		s1[l] = cdgh[l];
		for (int j = 0; j < 4; j++)
			m[l][j] = w[l][j];
	}
	group(nl, 0, s0, s1, m), group(nl, 1, s0, s1, m), group(nl, 2, s0, s1, m);
	group(nl, 3, s0, s1, m), group(nl, 4, s0, s1, m), group(nl, 5, s0, s1, m);
	group(nl, 6, s0, s1, m), group(nl, 7, s0, s1, m), group(nl, 8, s0, s1, m);
	group(nl, 9, s0, s1, m), group(nl, 10, s0, s1, m), group(nl, 11, s0, s1, m);
	group(nl, 12, s0, s1, m), group(nl, 13, s0, s1, m), group(nl, 14, s0, s1, m);
	group(nl, 15, s0, s1, m);
	for (int l = 0; l < nl; l++) {
		abef[l] = _mm_add_epi32(abef[l], s0[l]);
		cdgh[l] = _mm_add_epi32(cdgh[l], s1[l]);
	}
}

/* ---- nodes: SHA-256(0x01 || left || right), exactly two blocks ---------------------------- */

/* nl nodes at once. Block 1 is the prefix and the first 63 input bytes, built in registers by
 * shifting the loaded hashes one byte (alignr); block 2 is the last byte of `right`, the 0x80
 * pad, zeros and the bit length 520, so only its first word varies. All inputs are loaded
 * before any output is stored, which keeps in-place pairs safe. */
SHANI_INLINE void
nodes_n(int nl, uint8_t (*out)[SHA256X_LEN], const uint8_t *const left[],
        const uint8_t *const right[])
{
	const __m128i prefix = _mm_set_epi32(0x01000000, 0, 0, 0); /* 0x01 in byte 15 */
	const __m128i pad = _mm_cvtsi32_si128(0x80);               /* 0x80 in byte 0 */
	__m128i abef[NODE_WAYS], cdgh[NODE_WAYS], w[NODE_WAYS][4], r1[NODE_WAYS];

	for (int l = 0; l < nl; l++) {
		__m128i l0 = _mm_loadu_si128((const __m128i *)left[l]);
		__m128i l1 = _mm_loadu_si128((const __m128i *)(left[l] + 16));
		__m128i r0 = _mm_loadu_si128((const __m128i *)right[l]);
		r1[l] = _mm_loadu_si128((const __m128i *)(right[l] + 16));
		w[l][0] = bswap32(_mm_alignr_epi8(l0, prefix, 15));
		w[l][1] = bswap32(_mm_alignr_epi8(l1, l0, 15));
		w[l][2] = bswap32(_mm_alignr_epi8(r0, l1, 15));
		w[l][3] = bswap32(_mm_alignr_epi8(r1[l], r0, 15));
		iv_load(&abef[l], &cdgh[l]);
	}
	compress(nl, abef, cdgh, w);
	for (int l = 0; l < nl; l++) {
		w[l][0] = bswap32(_mm_alignr_epi8(pad, r1[l], 15));
		w[l][1] = _mm_setzero_si128();
		w[l][2] = _mm_setzero_si128();
		w[l][3] = _mm_set_epi32(65 * 8, 0, 0, 0);
	}
	compress(nl, abef, cdgh, w);
	for (int l = 0; l < nl; l++)
		digest_store(out[l], abef[l], cdgh[l]);
}

/* Fewer than NODE_WAYS nodes left: 2-way then 1-way, each still a full-speed instance. */
SHANI_INLINE void
nodes_tail(size_t rem, uint8_t (*out)[SHA256X_LEN], const uint8_t *const left[],
           const uint8_t *const right[])
{
#if NODE_WAYS > 2
	if (rem >= 2) {
		nodes_n(2, out, left, right);
		out += 2, left += 2, right += 2, rem -= 2;
	}
#endif
	if (rem >= 1)
		nodes_n(1, out, left, right);
}

static SHANI void
shani_nodes(uint8_t (*out)[SHA256X_LEN], const uint8_t *const *left, const uint8_t *const *right,
            size_t n)
{
	size_t i = 0;
	for (; n - i >= NODE_WAYS; i += NODE_WAYS)
		nodes_n(NODE_WAYS, out + i, left + i, right + i);
	if (i < n) /* not when n == 0: the pointers may be NULL then */
		nodes_tail(n - i, out + i, left + i, right + i);
}

static SHANI void
shani_pairs(uint8_t (*out)[SHA256X_LEN], const uint8_t (*in)[SHA256X_LEN], size_t n)
{
	const uint8_t *left[NODE_WAYS] = {0}, *right[NODE_WAYS] = {0};
	size_t i = 0;
	for (; n - i >= NODE_WAYS; i += NODE_WAYS) {
		for (int l = 0; l < NODE_WAYS; l++) {
			left[l] = in[2 * (i + l)];
			right[l] = in[2 * (i + l) + 1];
		}
		nodes_n(NODE_WAYS, out + i, left, right);
	}
	if (i == n) /* also n == 0, when the pointers may be NULL */
		return;
	for (size_t l = 0; l < n - i; l++) {
		left[l] = in[2 * (i + l)];
		right[l] = in[2 * (i + l) + 1];
	}
	nodes_tail(n - i, out + i, left, right);
}

/* ---- leaves: SHA-256(0x00 || data), any length --------------------------------------------- */

/* A message in flight in one lane. */
struct lane {
	size_t idx;  /* which message of the batch */
	size_t blk;  /* next block to hash */
	size_t nblk; /* blocks in all */
};

/* Runs compress with exactly `active` lanes, so a batch's last long message does not drag
 * idle lanes along. */
SHANI_INLINE void
compress_active(int active, __m128i abef[], __m128i cdgh[], const __m128i w[][4])
{
	switch (active) {
#if LEAF_WAYS > 2
	case 4:
		compress(4, abef, cdgh, w);
		break;
	case 3:
		compress(3, abef, cdgh, w);
		break;
#endif
#if LEAF_WAYS > 1
	case 2:
		compress(2, abef, cdgh, w);
		break;
#endif
	default:
		compress(1, abef, cdgh, w);
		break;
	}
}

/* Each lane walks its message block by block; a lane that finishes stores its digest and takes
 * the next message of the batch, or, when none is left, is replaced by the last active lane so
 * that lanes 0..active-1 are always the busy ones. */
static SHANI void
shani_leaves(uint8_t (*out)[SHA256X_LEN], const uint8_t *const *msg, const size_t *len, size_t n)
{
	struct lane ln[LEAF_WAYS];
	__m128i abef[LEAF_WAYS], cdgh[LEAF_WAYS], w[LEAF_WAYS][4];
	uint8_t buf[LEAF_WAYS][64];
	size_t next = 0;
	int active = 0;

	for (; active < LEAF_WAYS && next < n; active++, next++) {
		ln[active] = (struct lane){
		        .idx = next, .blk = 0, .nblk = sha256x_leaf_blocks(len[next])};
		iv_load(&abef[active], &cdgh[active]);
	}
	while (active > 0) {
		for (int l = 0; l < active; l++) {
			size_t i = ln[l].idx;
			const uint8_t *p = sha256x_leaf_block(buf[l], msg[i], len[i], ln[l].blk);
			for (int j = 0; j < 4; j++)
				w[l][j] = load_be(p + 16 * j);
		}
		compress_active(active, abef, cdgh, w);
		for (int l = 0; l < active;) {
			if (++ln[l].blk < ln[l].nblk) {
				l++;
				continue;
			}
			digest_store(out[ln[l].idx], abef[l], cdgh[l]);
			if (next < n) {
				ln[l] = (struct lane){.idx = next,
				                      .blk = 0,
				                      .nblk = sha256x_leaf_blocks(len[next])};
				iv_load(&abef[l], &cdgh[l]);
				next++;
				l++;
			} else {
				active--;
				ln[l] = ln[active];
				abef[l] = abef[active];
				cdgh[l] = cdgh[active];
			}
		}
	}
}

const struct sha256x_ops sha256x_ops_shani = {
        .name = "shani",
        .cpu_ok = shani_cpu_ok,
        .leaves = shani_leaves,
        .nodes = shani_nodes,
        .pairs = shani_pairs,
};

#else /* not x86: never selected, since cpu_ok says no */

static bool
shani_cpu_ok(void)
{
	return false;
}

const struct sha256x_ops sha256x_ops_shani = {.name = "shani", .cpu_ok = shani_cpu_ok};

#endif
