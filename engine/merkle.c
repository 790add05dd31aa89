/* engine/merkle.c: hashes, the frontier (compact range from 0), batch append, memtree. */
#include "engine/merkle.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "engine/sha256x.h"

void
merkle_leaf_hash(merkle_hash_t out, const uint8_t *data, size_t len)
{
	const uint8_t *msg[1] = {data};
	sha256x_leaves((uint8_t(*)[SHA256X_LEN])out, msg, &len, 1);
}

void
merkle_node_hash(merkle_hash_t out, const merkle_hash_t left, const merkle_hash_t right)
{
	/* out may alias left or right: hash into a temporary. */
	const uint8_t *l[1] = {left}, *r[1] = {right};
	uint8_t h[1][SHA256X_LEN];
	sha256x_nodes(h, l, r, 1);
	memcpy(out, h[0], MERKLE_HASH_LEN);
}

void
merkle_empty_root(merkle_hash_t out)
{
	SHA256(NULL, 0, out);
}

/* ---- frontier ------------------------------------------------------------------------- */

void
merkle_frontier_init(struct merkle_frontier *f)
{
	memset(f, 0, sizeof *f);
}

void
merkle_frontier_root(const struct merkle_frontier *f, merkle_hash_t out)
{
	if (f->size == 0) {
		merkle_empty_root(out);
		return;
	}
	/* The smallest peak is the rightmost subtree; fold the larger ones in from its left. */
	unsigned l = (unsigned)__builtin_ctzll(f->size);
	merkle_hash_t h;
	memcpy(h, f->peak[l], MERKLE_HASH_LEN);
	for (l++; l < MERKLE_MAX_LEVELS; l++)
		if (f->size >> l & 1)
			merkle_node_hash(h, f->peak[l], h);
	memcpy(out, h, MERKLE_HASH_LEN);
}

int
merkle_frontier_push(struct merkle_frontier *f, const merkle_hash_t leaf)
{
	if (f->size == UINT64_MAX)
		return -EOVERFLOW;
	/* Binary increment: every set low bit is a peak that merges with the carry. */
	merkle_hash_t h;
	memcpy(h, leaf, MERKLE_HASH_LEN);
	unsigned l = 0;
	for (; f->size >> l & 1; l++) {
		merkle_node_hash(h, f->peak[l], h);
		memset(f->peak[l], 0, MERKLE_HASH_LEN);
	}
	memcpy(f->peak[l], h, MERKLE_HASH_LEN);
	f->size++;
	return 0;
}

/* ---- batch append ------------------------------------------------------------------- */

int
merkle_append_scratch_init(struct merkle_append_scratch *s, size_t max_leaves)
{
	memset(s, 0, sizeof *s);
	if (max_leaves == 0 || max_leaves > ((size_t)1 << 40))
		return -EINVAL;
	/* Level l >= 1 gets at most (n >> l) + 1 new nodes: n + 64 in all. */
	s->buf = malloc((max_leaves + MERKLE_MAX_LEVELS) * sizeof *s->buf);
	if (s->buf == NULL)
		return -ENOMEM;
	s->max_leaves = max_leaves;
	return 0;
}

void
merkle_append_scratch_free(struct merkle_append_scratch *s)
{
	free(s->buf);
	memset(s, 0, sizeof *s);
}

/* Hashes the parents of level-l nodes [a, a + cnt) into out: np = ((a + cnt) >> 1) - (a >> 1)
 * hashes. When a is odd the first parent's left child is the frontier's peak at level l. */
static void
hash_parents(merkle_hash_t *out, const merkle_hash_t *cur, uint64_t a, size_t np,
             const merkle_hash_t peak)
{
	size_t k = 0;
	if (a & 1) {
		merkle_node_hash(out[0], peak, cur[0]);
		cur++;
		k = 1;
	}
	if (np > k)
		sha256x_pairs((uint8_t(*)[SHA256X_LEN])(out + k),
		              (const uint8_t(*)[SHA256X_LEN])cur, np - k);
}

int
merkle_append(struct merkle_frontier *f, struct merkle_append_scratch *s,
              const merkle_hash_t *leaves, size_t n)
{
	s->nlevels = 0;
	if (n > s->max_leaves)
		return -E2BIG;
	if (n == 0)
		return 0;
	if (f->size > UINT64_MAX - n)
		return -EOVERFLOW;

	const uint64_t old = f->size, new = old + n;
	const merkle_hash_t *cur = leaves;
	merkle_hash_t *out = s->buf;
	for (unsigned l = 0; l < MERKLE_MAX_LEVELS; l++) {
		uint64_t a = old >> l, b = new >> l;
		size_t cnt = (size_t)(b - a);
		if (cnt == 0)
			break; /* nothing new here, so nothing above either */
		s->level[l] = (struct merkle_level_span){.first = a, .count = cnt, .hash = cur};
		s->nlevels = l + 1;

		size_t np = (size_t)((b >> 1) - (a >> 1));
		if (np > 0)
			hash_parents(out, cur, a, np, f->peak[l]);
		/* peak[l] is read above before it is replaced here. */
		if (b & 1)
			memcpy(f->peak[l], cur[cnt - 1], MERKLE_HASH_LEN);
		else
			memset(f->peak[l], 0, MERKLE_HASH_LEN);
		cur = out;
		out += np;
	}
	f->size = new;
	return 0;
}

/* ---- in-memory tree ------------------------------------------------------------------ */

int
merkle_memtree_init(struct merkle_memtree *t, size_t max_batch)
{
	memset(t, 0, sizeof *t);
	merkle_frontier_init(&t->frontier);
	return merkle_append_scratch_init(&t->scratch, max_batch);
}

void
merkle_memtree_free(struct merkle_memtree *t)
{
	for (unsigned l = 0; l < MERKLE_MAX_LEVELS; l++)
		free(t->level[l]);
	merkle_append_scratch_free(&t->scratch);
	memset(t, 0, sizeof *t);
}

static int
reserve(struct merkle_memtree *t, uint64_t size)
{
	for (unsigned l = 0; l < MERKLE_MAX_LEVELS && (size >> l) > 0; l++) {
		uint64_t need = size >> l;
		if (need <= t->cap[l])
			continue;
		uint64_t cap = t->cap[l] ? t->cap[l] : 16;
		while (cap < need)
			cap *= 2;
		if (cap > SIZE_MAX / MERKLE_HASH_LEN)
			return -ENOMEM;
		merkle_hash_t *p = realloc(t->level[l], (size_t)cap * MERKLE_HASH_LEN);
		if (p == NULL)
			return -ENOMEM;
		t->level[l] = p;
		t->cap[l] = cap;
	}
	return 0;
}

int
merkle_memtree_append(struct merkle_memtree *t, const merkle_hash_t *leaves, size_t n)
{
	while (n > 0) {
		size_t k = n < t->scratch.max_leaves ? n : t->scratch.max_leaves;
		if (t->frontier.size > UINT64_MAX - k)
			return -EOVERFLOW;
		int rc = reserve(t, t->frontier.size + k);
		if (rc == 0)
			rc = merkle_append(&t->frontier, &t->scratch, leaves, k);
		if (rc != 0)
			return rc;
		for (unsigned l = 0; l < t->scratch.nlevels; l++) {
			const struct merkle_level_span *sp = &t->scratch.level[l];
			memcpy(t->level[l][sp->first], sp->hash, sp->count * MERKLE_HASH_LEN);
		}
		leaves += k;
		n -= k;
	}
	return 0;
}

static int
memtree_node(void *ctx, unsigned level, uint64_t index, merkle_hash_t out)
{
	const struct merkle_memtree *t = ctx;
	if (level >= MERKLE_MAX_LEVELS || index >= (t->frontier.size >> level))
		return -ENOENT;
	memcpy(out, t->level[level][index], MERKLE_HASH_LEN);
	return 0;
}

struct merkle_source
merkle_memtree_source(struct merkle_memtree *t)
{
	return (struct merkle_source){.node = memtree_node, .ctx = t};
}
