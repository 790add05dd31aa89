/* engine/sha256x_avx512.c: SHA-256 over 16 messages at once, one per 32-bit lane of AVX-512.
 *
 * The same multi-buffer scheme as sha256x_avx2.c, twice as wide, and cheaper per lane: AVX-512
 * rotates in one instruction (vprold) and does any three-input boolean function in one
 * (vpternlogd), which turns each Sigma into three rotates and one ternary, Ch and Maj into one
 * instruction each. Measured on the Sapphire Rapids Xeon this was written on, a 16-lane
 * compression costs about 22 ns per message block against about 49 for SHA-NI on long leaves
 * (where SHA-NI is bound by the SHA unit): see bench/README.md for the batch figures.
 *
 * A 16-lane pass costs the same however few lanes carry a message, so small batches (and the
 * last few messages of a node batch) go to SHA-NI when the CPU has it, else through the lanes
 * anyway.
 *
 * Message blocks (64 bytes, one per lane) are loaded as rows and transposed into lanes (a
 * 16x16 transpose of 32-bit words); digests go out the same way. Every function that uses the
 * intrinsics carries its own target attribute, so the file builds with no -m flags.
 */
#include <string.h>

#include "engine/sha256x_impl.h"

#if defined(__x86_64__)

#include <immintrin.h>

#define LANES 16
/* Below this many messages, SHA-NI (when present) beats a 16-lane pass: nodes cost about 45 ns
 * each in a full pass and 73 on SHA-NI, so a pass pays from 11 nodes; leaves refill lanes as
 * messages finish, so only very small batches lose. */
#define MIN_NODES  12
#define MIN_LEAVES 8

#define AVX512        __attribute__((target("avx512f,avx512bw")))
#define AVX512_INLINE static inline __attribute__((always_inline, target("avx512f,avx512bw")))

static bool
avx512_cpu_ok(void)
{
	/* CPUID bits and that the OS saves the ZMM and opmask registers (XGETBV). */
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
}

/* ---- the 16-lane compression function ----------------------------------------------------- */

#define ADD(a, b)     _mm512_add_epi32((a), (b))
#define ROR(x, n)     _mm512_ror_epi32((x), (n))
#define XOR3(a, b, c) _mm512_ternarylogic_epi32((a), (b), (c), 0x96)
#define BSIG0(x)      XOR3(ROR(x, 2), ROR(x, 13), ROR(x, 22))
#define BSIG1(x)      XOR3(ROR(x, 6), ROR(x, 11), ROR(x, 25))
#define SSIG0(x)      XOR3(ROR(x, 7), ROR(x, 18), _mm512_srli_epi32((x), 3))
#define SSIG1(x)      XOR3(ROR(x, 17), ROR(x, 19), _mm512_srli_epi32((x), 10))
/* Truth tables over (a, b, c) as vpternlogd's immediate: Ch = a ? b : c, Maj = majority. */
#define CH(e, f, g)  _mm512_ternarylogic_epi32((e), (f), (g), 0xca)
#define MAJ(a, b, c) _mm512_ternarylogic_epi32((a), (b), (c), 0xe8)

#define SCHEDULE(t)                                                                                \
	(w[(t)&15] = ADD(ADD(SSIG1(w[((t)-2) & 15]), w[((t)-7) & 15]),                             \
	                 ADD(SSIG0(w[((t)-15) & 15]), w[(t)&15])))

#define ROUND(a, b, c, d, e, f, g, h, t)                                                           \
	do {                                                                                       \
		if ((t) >= 16)                                                                     \
			SCHEDULE(t);                                                               \
		__m512i t1_ = ADD(                                                                 \
		        ADD(h, BSIG1(e)),                                                          \
		        ADD(CH(e, f, g), ADD(_mm512_set1_epi32((int)sha256x_k[t]), w[(t)&15])));   \
		__m512i t2_ = ADD(BSIG0(a), MAJ(a, b, c));                                         \
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

/* One block for each of the 16 lanes: s[j] is state word j, w[j] message word j (host order,
 * clobbered: it becomes the schedule ring). */
static AVX512 __attribute__((noinline)) void
compress16(__m512i s[8], __m512i w[16])
{
	__m512i a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];

	for (int t = 0; t < 16; t += 8)
		EIGHT_ROUNDS(t);
	for (int t = 16; t < 64; t += 8)
		EIGHT_ROUNDS(t);
	s[0] = ADD(s[0], a), s[1] = ADD(s[1], b), s[2] = ADD(s[2], c), s[3] = ADD(s[3], d);
	s[4] = ADD(s[4], e), s[5] = ADD(s[5], f), s[6] = ADD(s[6], g), s[7] = ADD(s[7], h);
}

/* ---- moving words in and out of lanes ------------------------------------------------------ */

AVX512_INLINE __m512i
bswap32(__m512i x)
{
	const __m512i m = _mm512_set4_epi32(0x0c0d0e0f, 0x08090a0b, 0x04050607, 0x00010203);
	return _mm512_shuffle_epi8(x, m);
}

/* r[l] word j -> r[j] word l. Two rounds of unpacks leave 4x4 blocks transposed within each
 * 128-bit lane (u[4i+m], 128-bit lane k: rows 4i..4i+3 of column 4k+m); two rounds of 128-bit
 * shuffles gather each column's four blocks. */
AVX512_INLINE void
transpose16(__m512i r[16])
{
	__m512i t[16], u[16];
	for (int i = 0; i < 8; i++) {
		t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
		t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
	}
	for (int i = 0; i < 4; i++) {
		u[4 * i + 0] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
		u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
		u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
		u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
	}
	for (int m = 0; m < 4; m++) {
		__m512i s0 = _mm512_shuffle_i32x4(u[m], u[4 + m], 0x44);
		__m512i s1 = _mm512_shuffle_i32x4(u[m], u[4 + m], 0xee);
		__m512i s2 = _mm512_shuffle_i32x4(u[8 + m], u[12 + m], 0x44);
		__m512i s3 = _mm512_shuffle_i32x4(u[8 + m], u[12 + m], 0xee);
		r[m] = _mm512_shuffle_i32x4(s0, s2, 0x88);
		r[4 + m] = _mm512_shuffle_i32x4(s0, s2, 0xdd);
		r[8 + m] = _mm512_shuffle_i32x4(s1, s3, 0x88);
		r[12 + m] = _mm512_shuffle_i32x4(s1, s3, 0xdd);
	}
}

/* w[j] = big-endian word j of the 64-byte block at p[l], for each lane l. */
AVX512_INLINE void
load_blocks(__m512i w[16], const uint8_t *const p[LANES])
{
	for (int l = 0; l < LANES; l++)
		w[l] = bswap32(_mm512_loadu_si512((const void *)p[l]));
	transpose16(w);
}

AVX512_INLINE void
iv_load(__m512i s[8])
{
	for (int j = 0; j < 8; j++)
		s[j] = _mm512_set1_epi32((int)sha256x_iv[j]);
}

/* ---- nodes: SHA-256(0x01 || left || right), exactly two blocks ---------------------------- */

/* 16 nodes; lanes nl..15 repeat lane 0's inputs and are not stored. Rows are left || right;
 * the one-byte prefix shifts every input byte one place, so block 1's word j is the low three
 * bytes of input word j over the last byte of word j-1 (0x01 before the first), and block 2 is
 * the last input byte, the 0x80 pad, zeros and the bit length 520. Every input is read before
 * any output is written, which keeps in-place pairs safe. */
static AVX512 void
nodes16(uint8_t (*out)[SHA256X_LEN], const uint8_t *const left[LANES],
        const uint8_t *const right[LANES], int nl)
{
	__m512i x[16], w[16], s[16];
	for (int l = 0; l < LANES; l++) {
		__m512i row = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)left[l]));
		row = _mm512_inserti64x4(row, _mm256_loadu_si256((const __m256i *)right[l]), 1);
		x[l] = bswap32(row);
	}
	transpose16(x);
	w[0] = _mm512_or_si512(_mm512_srli_epi32(x[0], 8), _mm512_set1_epi32(0x01000000));
	for (int j = 1; j < 16; j++)
		w[j] = _mm512_or_si512(_mm512_srli_epi32(x[j], 8), _mm512_slli_epi32(x[j - 1], 24));
	iv_load(s);
	compress16(s, w);

	w[0] = _mm512_or_si512(_mm512_slli_epi32(x[15], 24), _mm512_set1_epi32(0x00800000));
	for (int j = 1; j < 15; j++)
		w[j] = _mm512_setzero_si512();
	w[15] = _mm512_set1_epi32(65 * 8);
	compress16(s, w);

	for (int j = 8; j < 16; j++)
		s[j] = _mm512_setzero_si512();
	transpose16(s);
	for (int l = 0; l < nl; l++)
		_mm256_storeu_si256((__m256i *)out[l], _mm512_castsi512_si256(bswap32(s[l])));
}

static bool have_shani;

static AVX512 void
avx512_nodes(uint8_t (*out)[SHA256X_LEN], const uint8_t *const *left, const uint8_t *const *right,
             size_t n)
{
	size_t i = 0;
	for (; i < n; i += LANES) {
		int nl = n - i < LANES ? (int)(n - i) : LANES;
		if (nl < MIN_NODES && have_shani)
			break;
		const uint8_t *lp[LANES], *rp[LANES];
		for (int l = 0; l < LANES; l++) {
			lp[l] = left[i + (l < nl ? l : 0)];
			rp[l] = right[i + (l < nl ? l : 0)];
		}
		nodes16(out + i, lp, rp, nl);
	}
	if (i < n)
		sha256x_ops_shani.nodes(out + i, left + i, right + i, n - i);
}

static AVX512 void
avx512_pairs(uint8_t (*out)[SHA256X_LEN], const uint8_t (*in)[SHA256X_LEN], size_t n)
{
	size_t i = 0;
	for (; i < n; i += LANES) {
		int nl = n - i < LANES ? (int)(n - i) : LANES;
		if (nl < MIN_NODES && have_shani)
			break;
		const uint8_t *lp[LANES], *rp[LANES];
		for (int l = 0; l < LANES; l++) {
			size_t k = i + (l < nl ? l : 0);
			lp[l] = in[2 * k];
			rp[l] = in[2 * k + 1];
		}
		nodes16(out + i, lp, rp, nl);
	}
	/* In place (out == in) stays safe: out[i..] is read from in[2i..], which no earlier
	 * output reached (output k lands on hash k, below 2i for every k < i). */
	if (i < n)
		sha256x_ops_shani.pairs(out + i, in + 2 * i, n - i);
}

/* ---- leaves: SHA-256(0x00 || data), any length --------------------------------------------- */

struct lane {
	bool busy;
	size_t idx;  /* which message of the batch */
	size_t blk;  /* next block to hash */
	size_t nblk; /* blocks in all */
};

union state {
	__m512i v[8];
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
 * next message of the batch. Idle lanes hash a zero block that nobody reads. */
static AVX512 void
avx512_leaves(uint8_t (*out)[SHA256X_LEN], const uint8_t *const *msg, const size_t *len, size_t n)
{
	if (n < MIN_LEAVES && have_shani) {
		sha256x_ops_shani.leaves(out, msg, len, n);
		return;
	}
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
		const uint8_t *p[LANES];
		__m512i w[16];
		for (int l = 0; l < LANES; l++) {
			size_t i = ln[l].idx;
			p[l] = ln[l].busy ? sha256x_leaf_block(buf[l], msg[i], len[i], ln[l].blk)
			                  : idle;
		}
		load_blocks(w, p);
		compress16(st.v, w);
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

static bool
avx512_init(void)
{
	have_shani = sha256x_ops_shani.cpu_ok();
	return avx512_cpu_ok();
}

const struct sha256x_ops sha256x_ops_avx512 = {
        .name = "avx512",
        .cpu_ok = avx512_init,
        .leaves = avx512_leaves,
        .nodes = avx512_nodes,
        .pairs = avx512_pairs,
};

#else /* not x86-64: never selected, since cpu_ok says no */

static bool
avx512_cpu_ok(void)
{
	return false;
}

const struct sha256x_ops sha256x_ops_avx512 = {.name = "avx512", .cpu_ok = avx512_cpu_ok};

#endif
