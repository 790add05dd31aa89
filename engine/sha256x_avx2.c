/* engine/sha256x_avx2.c: SHA-256 over 8 messages at once, one per 32-bit lane of AVX2.
 *
 * Multi-buffer: register t of the state holds word t of eight independent messages, and the
 * round function is plain vector arithmetic on those, so one pass of the 64 rounds hashes eight
 * blocks. Message words are transposed into lanes as they are loaded (an 8x8 transpose of
 * 32-bit words) and the digests transposed back out.
 *
 * Cost: a whole 8-lane pass however few messages a call has, so batches under 8 are slow
 * (a single node costs as much as eight). Measured on the Sapphire Rapids Xeon this was written
 * on, 8+ nodes run at about 110 ns each: slower than SHA-NI (about 70), a little faster than
 * OpenSSL's low-level calls (about 135, which use SHA-NI there) and 3.3x faster than OpenSSL
 * without SHA-NI (OPENSSL_ia32cap=":~0x20000000"), which is the case this kernel is for:
 * CPUs with AVX2 and no SHA extensions.
 *
 * Every function that uses the intrinsics carries its own target attribute, so the file builds
 * with no -m flags and whatever -march a dependency's pkg-config adds.
 */
#include <string.h>

#include "engine/sha256x_impl.h"

#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>

#define LANES 8

#define AVX2        __attribute__((target("avx2")))
#define AVX2_INLINE static inline __attribute__((always_inline, target("avx2")))

static bool
avx2_cpu_ok(void)
{
	/* Checks the CPUID bit and that the OS saves the YMM registers (XGETBV). */
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2");
}

/* ---- the 8-lane compression function ------------------------------------------------------ */

#define ADD(a, b)  _mm256_add_epi32((a), (b))
#define XOR(a, b)  _mm256_xor_si256((a), (b))
#define ROTR(x, n) _mm256_or_si256(_mm256_srli_epi32((x), (n)), _mm256_slli_epi32((x), 32 - (n)))
#define BSIG0(x)   XOR(XOR(ROTR(x, 2), ROTR(x, 13)), ROTR(x, 22))
#define BSIG1(x)   XOR(XOR(ROTR(x, 6), ROTR(x, 11)), ROTR(x, 25))
#define SSIG0(x)   XOR(XOR(ROTR(x, 7), ROTR(x, 18)), _mm256_srli_epi32((x), 3))
#define SSIG1(x)   XOR(XOR(ROTR(x, 17), ROTR(x, 19)), _mm256_srli_epi32((x), 10))
/* Ch(e,f,g) = (e & f) ^ (~e & g), as g ^ (e & (f ^ g)): one operation fewer. */
#define CH(e, f, g) XOR((g), _mm256_and_si256((e), XOR((f), (g))))
/* Maj(a,b,c) = (a & b) | (c & (a | b)). */
#define MAJ(a, b, c)                                                                               \
	_mm256_or_si256(_mm256_and_si256((a), (b)),                                                \
	                _mm256_and_si256((c), _mm256_or_si256((a), (b))))

/* Word t >= 16 of the schedule, in place in the 16-word ring. */
#define SCHEDULE(t)                                                                                \
	(w[(t)&15] = ADD(ADD(SSIG1(w[((t)-2) & 15]), w[((t)-7) & 15]),                             \
	                 ADD(SSIG0(w[((t)-15) & 15]), w[(t)&15])))

/* Round t, computing its schedule word first from t = 16 on (just in time: 5% faster here than
 * eight words ahead). The caller rotates the variable names rather than moving eight registers
 * per round. */
#define ROUND(a, b, c, d, e, f, g, h, t)                                                           \
	do {                                                                                       \
		if ((t) >= 16)                                                                     \
			SCHEDULE(t);                                                               \
		__m256i t1_ = ADD(                                                                 \
		        ADD(h, BSIG1(e)),                                                          \
		        ADD(CH(e, f, g), ADD(_mm256_set1_epi32((int)sha256x_k[t]), w[(t)&15])));   \
		__m256i t2_ = ADD(BSIG0(a), MAJ(a, b, c));                                         \
		d = ADD(d, t1_);                                                                   \
		h = ADD(t1_, t2_);                                                                 \
	} while (0)

#define EIGHT_ROUNDS(t)                                                                            \
	do {                                                                                       \
		ROUND(a, b, c, d, e, f, g, h, (t) + 0);                                            \
		ROUND(h, a, b, c, d, e, f, g, (t) + 1);                                            \
		ROUND(g, h, a, b, c, d, e, f, (t) + 2);                                            \
		ROUND(f, g, h, a, b, c, d, e, (t) + 3);                                            \
		ROUND(e, f, g, h, a, b, c, d, (t) + 4);                                            \
		ROUND(d, e, f, g, h, a, b, c, (t) + 5);                                            \
		ROUND(c, d, e, f, g, h, a, b, (t) + 6);                                            \
		ROUND(b, c, d, e, f, g, h, a, (t) + 7);                                            \
	} while (0)

/* One block for each of the 8 lanes: s[j] is state word j, w[j] message word j (host order,
 * clobbered: it becomes the schedule ring). Not inlined: it is large, and every caller runs it
 * for a whole block, which dwarfs a call. */
static AVX2 __attribute__((noinline)) void
compress8(__m256i s[8], __m256i w[16])
{
	__m256i a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];

	/* Two loops so that the compiler knows which rounds need a schedule word. */
	for (int t = 0; t < 16; t += 8)
		EIGHT_ROUNDS(t);
	for (int t = 16; t < 64; t += 8)
		EIGHT_ROUNDS(t);
	s[0] = ADD(s[0], a), s[1] = ADD(s[1], b), s[2] = ADD(s[2], c), s[3] = ADD(s[3], d);
	s[4] = ADD(s[4], e), s[5] = ADD(s[5], f), s[6] = ADD(s[6], g), s[7] = ADD(s[7], h);
}

/* ---- moving words in and out of lanes ------------------------------------------------------ */

AVX2_INLINE __m256i
bswap32(__m256i x)
{
	const __m256i m = _mm256_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL,
	                                    0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
	return _mm256_shuffle_epi8(x, m);
}

/* r[l] word j -> r[j] word l: row l (one message) becomes column l (one lane). */
AVX2_INLINE void
transpose8(__m256i r[8])
{
	__m256i t0 = _mm256_unpacklo_epi32(r[0], r[1]), t1 = _mm256_unpackhi_epi32(r[0], r[1]);
	__m256i t2 = _mm256_unpacklo_epi32(r[2], r[3]), t3 = _mm256_unpackhi_epi32(r[2], r[3]);
	__m256i t4 = _mm256_unpacklo_epi32(r[4], r[5]), t5 = _mm256_unpackhi_epi32(r[4], r[5]);
	__m256i t6 = _mm256_unpacklo_epi32(r[6], r[7]), t7 = _mm256_unpackhi_epi32(r[6], r[7]);
	__m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
	__m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
	__m256i u4 = _mm256_unpacklo_epi64(t4, t6), u5 = _mm256_unpackhi_epi64(t4, t6);
	__m256i u6 = _mm256_unpacklo_epi64(t5, t7), u7 = _mm256_unpackhi_epi64(t5, t7);
	r[0] = _mm256_permute2x128_si256(u0, u4, 0x20);
	r[1] = _mm256_permute2x128_si256(u1, u5, 0x20);
	r[2] = _mm256_permute2x128_si256(u2, u6, 0x20);
	r[3] = _mm256_permute2x128_si256(u3, u7, 0x20);
	r[4] = _mm256_permute2x128_si256(u0, u4, 0x31);
	r[5] = _mm256_permute2x128_si256(u1, u5, 0x31);
	r[6] = _mm256_permute2x128_si256(u2, u6, 0x31);
	r[7] = _mm256_permute2x128_si256(u3, u7, 0x31);
}

/* w[j] = big-endian word j of the 32 bytes at p[l], for each lane l. */
AVX2_INLINE void
load_words(__m256i w[8], const uint8_t *const p[LANES])
{
	for (int l = 0; l < LANES; l++)
		w[l] = bswap32(_mm256_loadu_si256((const __m256i *)p[l]));
	transpose8(w);
}

AVX2_INLINE void
iv_load(__m256i s[8])
{
	for (int j = 0; j < 8; j++)
		s[j] = _mm256_set1_epi32((int)sha256x_iv[j]);
}

/* Digests of lanes 0..nl-1 to out[0..nl-1]; clobbers s. */
AVX2_INLINE void
digests_store(uint8_t (*out)[SHA256X_LEN], __m256i s[8], int nl)
{
	transpose8(s);
	for (int l = 0; l < nl; l++)
		_mm256_storeu_si256((__m256i *)out[l], bswap32(s[l]));
}

/* ---- nodes: SHA-256(0x01 || left || right), exactly two blocks ---------------------------- */

/* Up to 8 nodes; lanes nl..7 repeat lane 0's inputs and are not stored. The one-byte prefix
 * shifts every input byte one place, so block 1's word j is the low three bytes of input word
 * j over the last byte of word j-1 (0x01 before the first). Block 2 is the last byte of
 * `right`, the 0x80 pad, zeros and the bit length 520. Every input is read before any output is
 * written, which keeps in-place pairs safe. */
static AVX2 void
nodes8(uint8_t (*out)[SHA256X_LEN], const uint8_t *const left[LANES],
       const uint8_t *const right[LANES], int nl)
{
	__m256i lw[8], rw[8], w[16], s[8];

	load_words(lw, left);
	load_words(rw, right);
	w[0] = _mm256_or_si256(_mm256_srli_epi32(lw[0], 8), _mm256_set1_epi32(0x01000000));
	for (int j = 1; j < 8; j++)
		w[j] = _mm256_or_si256(_mm256_srli_epi32(lw[j], 8),
		                       _mm256_slli_epi32(lw[j - 1], 24));
	w[8] = _mm256_or_si256(_mm256_srli_epi32(rw[0], 8), _mm256_slli_epi32(lw[7], 24));
	for (int j = 1; j < 8; j++)
		w[8 + j] = _mm256_or_si256(_mm256_srli_epi32(rw[j], 8),
		                           _mm256_slli_epi32(rw[j - 1], 24));
	iv_load(s);
	compress8(s, w);

	w[0] = _mm256_or_si256(_mm256_slli_epi32(rw[7], 24), _mm256_set1_epi32(0x00800000));
	for (int j = 1; j < 15; j++)
		w[j] = _mm256_setzero_si256();
	w[15] = _mm256_set1_epi32(65 * 8);
	compress8(s, w);
	digests_store(out, s, nl);
}

static AVX2 void
avx2_nodes(uint8_t (*out)[SHA256X_LEN], const uint8_t *const *left, const uint8_t *const *right,
           size_t n)
{
	for (size_t i = 0; i < n; i += LANES) {
		int nl = n - i < LANES ? (int)(n - i) : LANES;
		const uint8_t *lp[LANES], *rp[LANES];
		for (int l = 0; l < LANES; l++) {
			lp[l] = left[i + (l < nl ? l : 0)];
			rp[l] = right[i + (l < nl ? l : 0)];
		}
		nodes8(out + i, lp, rp, nl);
	}
}

static AVX2 void
avx2_pairs(uint8_t (*out)[SHA256X_LEN], const uint8_t (*in)[SHA256X_LEN], size_t n)
{
	for (size_t i = 0; i < n; i += LANES) {
		int nl = n - i < LANES ? (int)(n - i) : LANES;
		const uint8_t *lp[LANES], *rp[LANES];
		for (int l = 0; l < LANES; l++) {
			size_t k = i + (l < nl ? l : 0);
			lp[l] = in[2 * k];
			rp[l] = in[2 * k + 1];
		}
		nodes8(out + i, lp, rp, nl);
	}
}

/* ---- leaves: SHA-256(0x00 || data), any length --------------------------------------------- */

/* A message in flight in one lane. */
struct lane {
	bool busy;
	size_t idx;  /* which message of the batch */
	size_t blk;  /* next block to hash */
	size_t nblk; /* blocks in all */
};

/* Lane l of the state: word j is st.w[j][l]. */
union state {
	__m256i v[8];
	uint32_t w[8][LANES];
};

static void
lane_start(struct lane *ln, union state *st, int l, size_t idx, size_t len)
{
	*ln = (struct lane){.busy = true, .idx = idx, .blk = 0, .nblk = sha256x_leaf_blocks(len)};
	for (int j = 0; j < 8; j++)
		st->w[j][l] = sha256x_iv[j];
}

static void
lane_digest(uint8_t out[SHA256X_LEN], const union state *st, int l)
{
	for (int j = 0; j < 8; j++) {
		uint32_t x = st->w[j][l];
		out[4 * j] = (uint8_t)(x >> 24);
		out[4 * j + 1] = (uint8_t)(x >> 16);
		out[4 * j + 2] = (uint8_t)(x >> 8);
		out[4 * j + 3] = (uint8_t)x;
	}
}

/* Each lane walks its message block by block and, when done, stores the digest and takes the
 * next message of the batch. Idle lanes (the batch ran out) hash a zero block that nobody
 * reads. */
static AVX2 void
avx2_leaves(uint8_t (*out)[SHA256X_LEN], const uint8_t *const *msg, const size_t *len, size_t n)
{
	static const uint8_t idle[64];
	struct lane ln[LANES];
	union state st;
	uint8_t buf[LANES][64];
	size_t next = 0;
	int busy = 0;

	for (int l = 0; l < LANES; l++) {
		ln[l] = (struct lane){.busy = false};
		if (next < n) {
			lane_start(&ln[l], &st, l, next, len[next]);
			next++;
			busy++;
		}
	}
	while (busy > 0) {
		const uint8_t *lo[LANES], *hi[LANES];
		__m256i w[16];
		for (int l = 0; l < LANES; l++) {
			size_t i = ln[l].idx;
			lo[l] = ln[l].busy ? sha256x_leaf_block(buf[l], msg[i], len[i], ln[l].blk)
			                   : idle;
			hi[l] = lo[l] + 32;
		}
		load_words(w, lo);
		load_words(w + 8, hi);
		compress8(st.v, w);
		for (int l = 0; l < LANES; l++) {
			if (!ln[l].busy || ++ln[l].blk < ln[l].nblk)
				continue;
			lane_digest(out[ln[l].idx], &st, l);
			ln[l].busy = false;
			busy--;
			if (next < n) {
				lane_start(&ln[l], &st, l, next, len[next]);
				next++;
				busy++;
			}
		}
	}
}

const struct sha256x_ops sha256x_ops_avx2 = {
        .name = "avx2",
        .cpu_ok = avx2_cpu_ok,
        .leaves = avx2_leaves,
        .nodes = avx2_nodes,
        .pairs = avx2_pairs,
};

#else /* not x86: never selected, since cpu_ok says no */

static bool
avx2_cpu_ok(void)
{
	return false;
}

const struct sha256x_ops sha256x_ops_avx2 = {.name = "avx2", .cpu_ok = avx2_cpu_ok};

#endif
