/* engine/tlog.c: batches to tiles, the durable append, recovery on open, reads. fsck is in
 * tlog_fsck.c. */
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA256_Init/Update/Final: no per-call fetch */
#include "engine/tlog.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "engine/ctlog.h"
#include "engine/hex.h"
#include "engine/sha256x.h"
#include "engine/tlog_int.h"

/* ---- the plain codec ------------------------------------------------------------------------ */

static long
plain_len(const uint8_t *p, size_t n)
{
	if (n < 3)
		return -EBADMSG;
	size_t len = (size_t)p[0] << 16 | (size_t)p[1] << 8 | p[2];
	if (len == 0 || len > n - 3)
		return -EBADMSG;
	return (long)(len + 3);
}

static void
plain_leaves(const uint8_t *const *entry, const size_t *len, size_t n, merkle_hash_t *out)
{
	sha256x_leaves(out, entry, len, n);
}

static int
plain_dedup(const uint8_t *entry, size_t len, uint64_t index, struct store_row *out)
{
	SHA256_CTX c; /* the low-level calls: one-shot SHA256() sets up a context per call */
	SHA256_Init(&c);
	SHA256_Update(&c, entry, len);
	SHA256_Final(out->key, &c);
	out->len = 8;
	for (int i = 7; i >= 0; i--, index >>= 8)
		out->value[i] = (uint8_t)index;
	return 0;
}

const struct tlog_codec tlog_codec_plain = {"plain", plain_len, plain_leaves, plain_dedup};

long
tlog_plain_encode(uint8_t *out, size_t cap, const uint8_t *data, size_t len)
{
	if (len == 0 || len > 0xffffff || len + 3 > cap)
		return -E2BIG;
	out[0] = (uint8_t)(len >> 16), out[1] = (uint8_t)(len >> 8), out[2] = (uint8_t)len;
	memcpy(out + 3, data, len);
	return (long)(len + 3);
}

const struct tlog_codec *
tlog_codec_find(const char *name)
{
	if (name && strcmp(name, tlog_codec_plain.name) == 0)
		return &tlog_codec_plain;
	if (name && strcmp(name, ctlog_codec.name) == 0)
		return &ctlog_codec;
	return NULL;
}

/* ---- shared helpers (tlog_int.h) ------------------------------------------------------------- */

int
tlog_edge_path(char *out, size_t cap, const struct tiles_id *id)
{
	int n = id->data ? snprintf(out, cap, "edge/data/%llu", (unsigned long long)id->index)
	                 : snprintf(out, cap, "edge/%u/%llu", (unsigned)id->level,
	                            (unsigned long long)id->index);
	return n > 0 && (size_t)n < cap ? 0 : -EINVAL;
}

/* The whole file at path into *buf (grown as needed). */
static int
read_whole(struct store *st, const char *path, uint8_t **buf, size_t *cap, size_t *len)
{
	uint64_t flen = 0;
	int fd = store_file_open(st, path, &flen);
	if (fd < 0)
		return fd;
	if (flen > TLOG_MAX_TILE_BYTES) {
		close(fd);
		return -EFBIG;
	}
	if (flen > *cap) {
		uint8_t *nb = realloc(*buf, flen);
		if (nb == NULL) {
			close(fd);
			return -ENOMEM;
		}
		*buf = nb;
		*cap = flen;
	}
	ssize_t got = store_pread_all(fd, *buf, flen, 0);
	close(fd);
	if (got < 0)
		return (int)got;
	*len = (size_t)got;
	return (uint64_t)got == flen ? 0 : -EIO;
}

int
tlog_tile_read(struct store *st, const struct tiles_id *id, uint8_t **buf, size_t *cap, size_t *len)
{
	char path[TILES_PATH_MAX];
	if (id->width < TILES_WIDTH) {
		/* The right edge grows in place in edge/; once full, the tile has its own path. */
		if (tlog_edge_path(path, sizeof path, id) < 0)
			return -EINVAL;
		int rc = read_whole(st, path, buf, cap, len);
		if (rc != -ENOENT)
			return rc;
	}
	struct tiles_id full = *id;
	full.width = TILES_WIDTH;
	if (tiles_path(path, sizeof path, &full) < 0)
		return -EINVAL;
	return read_whole(st, path, buf, cap, len);
}

/* The first `want` bytes of the file at path into out; -EBADMSG when it is shorter. */
static int
read_prefix(struct store *st, const char *path, uint8_t *out, size_t want)
{
	uint64_t flen = 0;
	int fd = store_file_open(st, path, &flen);
	if (fd < 0)
		return fd;
	ssize_t got = store_pread_all(fd, out, want, 0);
	close(fd);
	if (got < 0)
		return (int)got;
	return (size_t)got == want ? 0 : -EBADMSG;
}

/* Reads hash tiles for a tiles_source from storage. */
static int
source_read(void *ctx, const struct tiles_id *id, uint8_t *out)
{
	struct store *st = ctx;
	char path[TILES_PATH_MAX];
	size_t want = (size_t)id->width * MERKLE_HASH_LEN;
	if (id->width <
	    TILES_WIDTH) { /* the edge file; -ENOENT makes the caller try the full tile */
		if (tlog_edge_path(path, sizeof path, id) < 0)
			return -EINVAL;
		return read_prefix(st, path, out, want);
	}
	if (tiles_path(path, sizeof path, id) < 0)
		return -EINVAL;
	ssize_t n = store_file_read(st, path, out, want);
	if (n < 0)
		return n == -EFBIG ? -EBADMSG : (int)n;
	return n == (ssize_t)want ? 0 : -EBADMSG;
}

void
tlog_msg(char *msg, size_t cap, const char *fmt, ...)
{
	if (msg == NULL || cap == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, cap, fmt, ap);
	va_end(ap);
}

void
tlog_tile_name(char path[TILES_PATH_MAX], const struct tiles_id *id)
{
	int rc = id->width < TILES_WIDTH ? tlog_edge_path(path, TILES_PATH_MAX, id)
	                                 : tiles_path(path, TILES_PATH_MAX, id);
	if (rc < 0)
		strcpy(path, "?");
}

void
tlog_hex(char out[65], const uint8_t h[32])
{
	hex_encode(out, h, 32);
	out[64] = 0;
}

int
tlog_split(const struct tlog_codec *c, const uint8_t *p, size_t n, size_t want,
           const uint8_t **entry, size_t *len)
{
	long used = tlog_split_prefix(c, p, n, want, entry, len);
	return used >= 0 && (size_t)used == n ? 0 : -EBADMSG;
}

long
tlog_split_prefix(const struct tlog_codec *c, const uint8_t *p, size_t n, size_t want,
                  const uint8_t **entry, size_t *len)
{
	size_t off = 0;
	for (size_t i = 0; i < want; i++) {
		long l = c->entry_len(p + off, n - off);
		if (l <= 0)
			return -EBADMSG;
		entry[i] = p + off;
		len[i] = (size_t)l;
		off += (size_t)l;
	}
	return (long)off;
}

/* ---- open: recovery and the right edge --------------------------------------------------------
 */

static int
grow(void **p, size_t *cap, size_t want, size_t elem)
{
	if (want <= *cap)
		return 0;
	size_t n = *cap ? *cap : 64;
	while (n < want)
		n *= 2;
	void *q = realloc(*p, n * elem);
	if (q == NULL)
		return -ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

/* The arena starts on a TLOG_ALIGN boundary, so that tiles built at aligned offsets in it can
 * go to disk through O_DIRECT (struct store_file). Growing keeps its first `keep` bytes, and
 * only those are copied: the rest of a worst-case size is never touched, so never resident. */
#define TLOG_ALIGN 4096

static int
grow_arena(struct tlog *t, size_t want, size_t keep)
{
	if (want <= t->arena_cap)
		return 0;
	size_t n = t->arena_cap ? t->arena_cap : 1u << 20;
	while (n < want)
		n *= 2;
	void *q;
	if (posix_memalign(&q, TLOG_ALIGN, n) != 0)
		return -ENOMEM;
	if (keep > 0)
		memcpy(q, t->arena, keep);
	free(t->arena);
	t->arena = q;
	t->arena_cap = n;
	return 0;
}

/* The frontier of the committed tree, from its tiles. */
static int
load_frontier(struct tlog *t, uint64_t n, char *msg, size_t ml)
{
	struct tiles_source ts;
	tiles_source_init(&ts, n, source_read, t->st);
	struct merkle_source src = tiles_source_view(&ts);
	merkle_frontier_init(&t->f);
	t->f.size = n;
	for (unsigned l = 0; l < MERKLE_MAX_LEVELS; l++) {
		if (!(n >> l & 1))
			continue;
		int rc = src.node(src.ctx, l, (n >> l) - 1, t->f.peak[l]);
		if (rc < 0) {
			tlog_msg(msg, ml,
			         "cannot read the hash tiles of the committed tree (size %llu): %s",
			         (unsigned long long)n,
			         rc == -ENOENT ? "a tile is missing"
			                       : "a tile is unreadable or truncated");
			return rc == -ENOENT ? -EBADMSG : rc;
		}
	}
	return 0;
}

/* Leaf hashes of data tile k at width w against hash tile (0, k, w). */
static int
check_data_tile(struct tlog *t, uint64_t k, unsigned w, bool keep, char *msg, size_t ml)
{
	struct tiles_id d = {k, (uint16_t)w, 0, true}, h = {k, (uint16_t)w, 0, false};
	char path[TILES_PATH_MAX];
	tlog_tile_name(path, &d);
	size_t len = 0;
	int rc = tlog_tile_read(t->st, &d, &t->rbuf, &t->rbuf_cap, &len);
	if (rc < 0) {
		tlog_msg(msg, ml, "%s: %s", path, rc == -ENOENT ? "missing" : "unreadable");
		return -EBADMSG;
	}
	const uint8_t *ent[TILES_WIDTH];
	size_t el[TILES_WIDTH];
	/* A partial tile is read from its edge file (or the full tile): its prefix counts. */
	long used = tlog_split_prefix(t->codec, t->rbuf, len, w, ent, el);
	if (used < 0 || (w == TILES_WIDTH && (size_t)used != len)) {
		tlog_msg(msg, ml,
		         "%s: does not hold exactly %u %s entries (truncated or corrupted)", path,
		         w, t->codec->name);
		return -EBADMSG;
	}
	len = (size_t)used;
	merkle_hash_t hashes[TILES_WIDTH];
	rc = source_read(t->st, &h, (uint8_t *)hashes);
	if (rc < 0) {
		tlog_tile_name(path, &h);
		tlog_msg(msg, ml, "%s: missing or truncated", path);
		return -EBADMSG;
	}
	merkle_hash_t lh[TILES_WIDTH];
	t->codec->leaf_hashes(ent, el, w, lh);
	for (unsigned i = 0; i < w; i++) {
		if (memcmp(lh[i], hashes[i], MERKLE_HASH_LEN) != 0) {
			tlog_msg(msg, ml,
			         "%s: entry %llu does not match its leaf hash in the hash tile",
			         path, (unsigned long long)(k * TILES_WIDTH + i));
			return -EBADMSG;
		}
	}
	if (keep) {
		if (grow((void **)&t->dedge, &t->dedge_cap, len, 1) < 0)
			return -ENOMEM;
		memcpy(t->dedge, t->rbuf, len);
		t->dedge_len = len;
	}
	return 0;
}

static int
load_edge(struct tlog *t, uint64_t n, char *msg, size_t ml)
{
	for (unsigned L = 0; L <= TILES_MAX_LEVEL; L++) {
		uint64_t count = L * TILES_HEIGHT < 64 ? n >> (L * TILES_HEIGHT) : 0;
		unsigned w = (unsigned)(count % TILES_WIDTH);
		if (w == 0)
			continue;
		struct tiles_id id = {count / TILES_WIDTH, (uint16_t)w, (uint8_t)L, false};
		int rc = source_read(t->st, &id, (uint8_t *)t->edge[L]);
		if (rc < 0) {
			char path[TILES_PATH_MAX];
			tlog_tile_name(path, &id);
			tlog_msg(msg, ml, "%s: missing or truncated", path);
			return -EBADMSG;
		}
	}
	t->dedge_len = 0;
	if (n % TILES_WIDTH) {
		int rc = check_data_tile(t, n / TILES_WIDTH, n % TILES_WIDTH, true, msg, ml);
		if (rc < 0)
			return rc;
	}
	/* The newest full data tile too: the one a crash during its commit would have hit. */
	if (n >= TILES_WIDTH) {
		uint64_t k = n / TILES_WIDTH - 1;
		int rc = check_data_tile(t, k, TILES_WIDTH, false, msg, ml);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int
check_heads(struct tlog *t, char *msg, size_t ml)
{
	struct store_reader *r;
	int rc = store_reader_open(t->st, &r);
	if (rc < 0)
		return rc;
	uint8_t *buf = malloc(STORE_HEAD_MAX + 64);
	struct store_head h;
	rc = buf ? store_head_get(r, &h, buf, STORE_HEAD_MAX + 64) : -ENOMEM;
	merkle_hash_t root, want;
	uint64_t ts;
	char a[65], b[65];
	if (rc == 0) {
		struct tiles_source ts_;
		tiles_source_init(&ts_, t->f.size, source_read, t->st);
		struct merkle_source src = tiles_source_view(&ts_);
		rc = merkle_range_root(&src, 0, h.size, root);
		if (rc == 0 && memcmp(root, h.root, MERKLE_HASH_LEN) != 0) {
			tlog_hex(a, h.root), tlog_hex(b, root);
			tlog_msg(msg, ml,
			         "the last signed head (size %llu) has root %s but the tiles give "
			         "%s",
			         (unsigned long long)h.size, a, b);
			rc = -EBADMSG;
		} else if (rc < 0) {
			tlog_msg(msg, ml,
			         "cannot recompute the root of the last signed head (size %llu)",
			         (unsigned long long)h.size);
			rc = -EBADMSG;
		}
	} else if (rc == -ENOENT) {
		rc = 0;
	} else {
		tlog_msg(msg, ml, "state.mdb: cannot read the last signed head");
	}
	if (rc == 0 && t->f.size > 0 && store_signed_get(r, t->f.size, want, &ts) == 0) {
		merkle_frontier_root(&t->f, root);
		if (memcmp(root, want, MERKLE_HASH_LEN) != 0) {
			tlog_hex(a, want), tlog_hex(b, root);
			tlog_msg(msg, ml, "size %llu was signed with root %s but the tiles give %s",
			         (unsigned long long)t->f.size, a, b);
			rc = -EBADMSG;
		}
	}
	free(buf);
	store_reader_close(r);
	return rc;
}

/* Index rows between the watermark and the committed size, from the data tiles. */
static int
rebuild_index(struct tlog *t, uint64_t from, uint64_t n, char *msg, size_t ml)
{
	merkle_hash_t lh[TILES_WIDTH];
	for (uint64_t k = from / TILES_WIDTH; k * TILES_WIDTH < n; k++) {
		unsigned w = tiles_width(n, 0, k);
		struct tiles_id d = {k, (uint16_t)w, 0, true};
		size_t len = 0;
		char path[TILES_PATH_MAX];
		tlog_tile_name(path, &d);
		int rc = tlog_tile_read(t->st, &d, &t->rbuf, &t->rbuf_cap, &len);
		const uint8_t *ent[TILES_WIDTH];
		size_t el[TILES_WIDTH];
		if (rc == 0)
			rc = tlog_split_prefix(t->codec, t->rbuf, len, w, ent, el) < 0 ? -EBADMSG
			                                                               : 0;
		if (rc < 0) {
			tlog_msg(msg, ml, "rebuilding the index: %s is missing or corrupted", path);
			return -EBADMSG;
		}
		size_t nd = 0, nh = 0;
		t->codec->leaf_hashes(ent, el, w, lh);
		for (unsigned i = 0; i < w; i++) {
			uint64_t idx = k * TILES_WIDTH + i;
			if (idx < from)
				continue;
			memcpy(t->hrows[nh].hash, lh[i], MERKLE_HASH_LEN);
			t->hrows[nh++].index = idx;
			if (t->codec->dedup_row &&
			    t->codec->dedup_row(ent[i], el[i], idx, &t->drows[nd]) == 0)
				nd++;
		}
		const char *why = NULL;
		uint64_t upto = k * TILES_WIDTH + w;
		rc = store_index_push(t->st, t->drows, nd, t->hrows, nh, upto, &why);
		if (rc < 0) {
			tlog_msg(msg, ml, "rebuilding the index: %s", why ? why : "failed");
			return rc;
		}
	}
	const char *why = NULL;
	int rc = store_index_sync(t->st, &why);
	if (rc < 0)
		tlog_msg(msg, ml, "rebuilding the index: %s", why ? why : "failed");
	return rc;
}

/* Bytes of the committed right edge at level lv (data last). */
static size_t
edge_bytes(const struct tlog *t, unsigned lv, uint64_t n, const uint8_t **p)
{
	if (lv == TLOG_LEVELS - 1) {
		*p = t->dedge;
		return n % TILES_WIDTH ? t->dedge_len : 0;
	}
	*p = (const uint8_t *)t->edge[lv];
	uint64_t count = lv * TILES_HEIGHT < 64 ? n >> (lv * TILES_HEIGHT) : 0;
	return (size_t)(count % TILES_WIDTH) * MERKLE_HASH_LEN;
}

/* One edge directory after a crash: the committed partial tile's file trimmed to its committed
 * bytes (or written again from memory when missing); every other file removed (a full tile's
 * old second name, or bytes past the committed state). */
static int
tidy_edge_dir(struct tlog *t, unsigned lv, uint64_t n, char *msg, size_t ml)
{
	bool data = lv == TLOG_LEVELS - 1;
	uint64_t count = data ? n : lv * TILES_HEIGHT < 64 ? n >> (lv * TILES_HEIGHT) : 0;
	bool partial = count % TILES_WIDTH != 0;
	struct tiles_id id = {count / TILES_WIDTH, (uint16_t)(count % TILES_WIDTH),
	                      (uint8_t)(data ? 0 : lv), data};
	const uint8_t *bytes;
	size_t len = edge_bytes(t, lv, n, &bytes);
	t->published[lv] = partial ? id.index + 1 : 0;
	char dir[PATH_MAX], rel[300], sub[8];
	if (data)
		strcpy(sub, "data");
	else
		snprintf(sub, sizeof sub, "%u", lv);
	snprintf(dir, sizeof dir, "%s/edge/%s", store_dir(t->st), sub);
	bool have = false;
	DIR *d = opendir(dir);
	for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
		char *end;
		unsigned long long k = strtoull(e->d_name, &end, 10);
		if (e->d_name[0] < '0' || e->d_name[0] > '9' || *end != 0 || strlen(e->d_name) > 20)
			continue;
		snprintf(rel, sizeof rel, "edge/%s/%s", sub, e->d_name);
		if (partial && k == id.index) {
			const char *why = NULL;
			if (store_file_trim(t->st, rel, len, &why) < 0) {
				tlog_msg(msg, ml, "%s: %s", rel, why ? why : "cannot trim");
				closedir(d);
				return -EIO;
			}
			have = true;
		} else {
			store_file_remove(t->st, rel);
		}
	}
	if (d)
		closedir(d);
	if (partial && !have) {
		const char *why = NULL;
		char path[TILES_PATH_MAX];
		tlog_edge_path(path, sizeof path, &id);
		struct store_file f = {path, bytes, len, false, 0};
		if (store_files_put(t->st, &f, 1, &why) < 0) {
			tlog_msg(msg, ml, "%s: %s", path, why ? why : "cannot write");
			return -EIO;
		}
	}
	return 0;
}

/* ---- the static-ct-api copies of state.mdb: checkpoint and issuer/ (tlog.h) ------------- */

static void
sha256_of(uint8_t out[STORE_KEY_LEN], const uint8_t *p, size_t n)
{
	SHA256_CTX c;
	SHA256_Init(&c);
	SHA256_Update(&c, p, n);
	SHA256_Final(out, &c);
}

static void
issuer_path(char out[TLOG_ISSUER_PATH], const uint8_t fp[STORE_KEY_LEN])
{
	memcpy(out, "issuer/", 7);
	hex_encode(out + 7, fp, STORE_KEY_LEN);
}

/* `checkpoint` becomes the latest head's checkpoint bytes when it holds anything else. */
static void
repair_checkpoint(struct tlog *t, struct store_reader *r)
{
	const size_t cap = STORE_HEAD_MAX + 64;
	uint8_t *buf = malloc(2 * cap);
	struct store_head h;
	int rc = buf ? store_head_get(r, &h, buf, cap) : -ENOMEM;
	const char *why = rc == -ENOMEM ? "out of memory" : "cannot read the last signed head";
	if (rc == -ENOENT) /* no head yet: nothing to publish */
		rc = 0;
	else if (rc == 0 && h.checkpoint_len > 0) {
		ssize_t n = store_file_read(t->st, "checkpoint", buf + cap, cap);
		if (n != (ssize_t)h.checkpoint_len ||
		    memcmp(buf + cap, h.checkpoint, h.checkpoint_len) != 0)
			rc = store_file_replace(t->st, "checkpoint", h.checkpoint, h.checkpoint_len,
			                        &why);
	}
	t->checkpoint_rc = rc;
	t->checkpoint_why = rc < 0 ? why : NULL;
	free(buf);
}

/* One issuer of state.mdb: its file written again when missing or different. */
static int
repair_issuer(void *ctx, const uint8_t fp[STORE_KEY_LEN], const uint8_t *der, size_t len)
{
	struct tlog *t = ctx;
	char path[TLOG_ISSUER_PATH];
	issuer_path(path, fp);
	if (grow((void **)&t->rbuf, &t->rbuf_cap, len + 1, 1) < 0)
		return 0;
	ssize_t n = store_file_read(t->st, path, t->rbuf, len + 1);
	if (n == (ssize_t)len && memcmp(t->rbuf, der, len) == 0)
		return 0;
	uint8_t sum[STORE_KEY_LEN];
	sha256_of(sum, der, len);
	if (memcmp(sum, fp, STORE_KEY_LEN) != 0) /* never publish under a wrong name */
		return 0;
	const char *why = NULL;
	int rc = store_file_replace(t->st, path, der, len, &why);
	(void)rc; /* a failure is left for the next open to try again */
	return 0;
}

/* issuer/ after the issuers of state.mdb are written: a file state.mdb does not know came from
 * a batch that never committed (and may be torn), and a ".<name>.tmp" from a replacement cut
 * short; both go. Bounded by the directory's entries. */
static void
remove_unknown_issuers(struct tlog *t, struct store_reader *r)
{
	char dir[PATH_MAX], rel[TLOG_ISSUER_PATH + 16];
	snprintf(dir, sizeof dir, "%s/issuer", store_dir(t->st));
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		size_t nl = strlen(e->d_name);
		uint8_t fp[STORE_KEY_LEN];
		bool tmp = e->d_name[0] == '.' && nl > 5 && nl < 80 &&
		           strcmp(e->d_name + nl - 4, ".tmp") == 0;
		bool named = nl == 2 * STORE_KEY_LEN &&
		             hex_decode(fp, sizeof fp, e->d_name, nl, NULL) == STORE_KEY_LEN;
		if (named) {
			/* The name must be its lowercase form, as issuer_path() writes it. */
			issuer_path(rel, fp);
			named = strcmp(rel + 7, e->d_name) == 0;
		}
		uint8_t one[1];
		if (named && store_issuer_get(r, fp, one, sizeof one) != -ENOENT)
			continue; /* known (-ENOSPC: found, longer than one), or unreadable */
		if (!named && !tmp)
			continue; /* not ours: left alone */
		snprintf(rel, sizeof rel, "issuer/%s", e->d_name);
		store_file_remove(t->st, rel);
	}
	closedir(d);
}

/* Best effort: state.mdb is the record, and what cannot be written now is written by the next
 * head (checkpoint) or the next open. */
static void
repair_copies(struct tlog *t)
{
	struct store_reader *r;
	if (store_reader_open(t->st, &r) < 0) {
		t->checkpoint_rc = -EIO;
		t->checkpoint_why = "cannot read state.mdb";
		return;
	}
	repair_checkpoint(t, r);
	if (store_issuer_each(r, repair_issuer, t) == 0)
		remove_unknown_issuers(t, r);
	store_reader_close(r);
}

int
tlog_checkpoint_status(const struct tlog *t, const char **reason)
{
	if (t->checkpoint_rc < 0 && reason)
		*reason = t->checkpoint_why;
	return t->checkpoint_rc;
}

/* Checks the batch's issuers and names their files (each fingerprint once), before anything
 * of the batch is written. Only new issuers come here, so the hashing is rare. */
static int
issuers_prepare(struct tlog *t, const struct tlog_batch *b, const char **why)
{
	t->nifiles = 0;
	if (b->nissuers == 0)
		return 0;
	if (grow((void **)&t->files, &t->files_cap, t->built_cap + b->nissuers, sizeof *t->files) <
	            0 ||
	    grow((void **)&t->ifiles, &t->ifiles_cap, b->nissuers, sizeof *t->ifiles) < 0)
		return *why = "out of memory", -ENOMEM;
	for (size_t i = 0; i < b->nissuers; i++) {
		const struct store_issuer *is = &b->issuers[i];
		uint8_t sum[STORE_KEY_LEN];
		if (is->der == NULL || is->len == 0 || is->len > STORE_ISSUER_MAX)
			return *why = "an issuer's DER is empty or too long", -EINVAL;
		sha256_of(sum, is->der, is->len);
		if (memcmp(sum, is->fingerprint, STORE_KEY_LEN) != 0)
			return *why = "an issuer's fingerprint is not the SHA-256 of its DER",
			       -EINVAL;
		bool dup = false;
		for (size_t j = 0; j < t->nifiles && !dup; j++)
			dup = memcmp(b->issuers[t->ifiles[j].i].fingerprint, is->fingerprint,
			             STORE_KEY_LEN) == 0;
		if (dup)
			continue;
		struct tlog_issuer_file *f = &t->ifiles[t->nifiles++];
		issuer_path(f->path, is->fingerprint);
		f->i = i;
	}
	return 0;
}

static int
alloc_batch(struct tlog *t)
{
	size_t m = t->max_batch;
	t->leaves = calloc(m, sizeof *t->leaves);
	t->drows = calloc(m > TILES_WIDTH ? m : TILES_WIDTH, sizeof *t->drows);
	t->hrows = calloc(m > TILES_WIDTH ? m : TILES_WIDTH, sizeof *t->hrows);
	t->built_cap = m / TILES_WIDTH * 2 + 4 * (TILES_MAX_LEVEL + 2);
	t->built = calloc(t->built_cap, sizeof *t->built);
	t->files_cap = t->built_cap;
	t->files = calloc(t->files_cap, sizeof *t->files);
	t->links = calloc(t->built_cap, sizeof *t->links);
	t->rmdirs = calloc(t->built_cap, sizeof *t->rmdirs);
	t->mids = calloc(t->built_cap, sizeof *t->mids);
	if (!t->leaves || !t->drows || !t->hrows || !t->built || !t->files || !t->links ||
	    !t->rmdirs || !t->mids)
		return -ENOMEM;
	return merkle_append_scratch_init(&t->scratch, m);
}

int
tlog_open(struct tlog **out, const char *dir, const struct tlog_codec *codec,
          const struct tlog_opts *o, char *msg, size_t ml)
{
	static const struct tlog_opts defaults;
	*out = NULL;
	if (o == NULL)
		o = &defaults;
	struct tlog *t = calloc(1, sizeof *t);
	if (t == NULL)
		return -ENOMEM;
	t->codec = codec;
	t->opts = *o;
	t->max_batch = o->max_batch ? o->max_batch : 4096;
	struct store_opts so = o->store;
	so.format = codec->name;
	const char *why = NULL;
	int rc = store_open(&t->st, dir, &so, &why);
	if (rc < 0) {
		tlog_msg(msg, ml, "%s: %s", dir, why ? why : "cannot open");
		goto fail;
	}
	rc = alloc_batch(t);
	if (rc < 0) {
		tlog_msg(msg, ml, "out of memory");
		goto fail;
	}
	struct store_state st;
	store_state_get(t->st, &st);
	merkle_frontier_init(&t->f);
	if (st.size > 0) {
		rc = load_frontier(t, st.size, msg, ml);
		if (rc < 0)
			goto fail;
		merkle_hash_t root;
		merkle_frontier_root(&t->f, root);
		if (memcmp(root, st.root, MERKLE_HASH_LEN) != 0) {
			char a[65], b[65];
			tlog_hex(a, st.root), tlog_hex(b, root);
			tlog_msg(msg, ml,
			         "state.mdb commits size %llu with root %s but the tiles give %s",
			         (unsigned long long)st.size, a, b);
			rc = -EBADMSG;
			goto fail;
		}
		rc = load_edge(t, st.size, msg, ml);
		if (rc < 0)
			goto fail;
	}
	t->timestamp = st.timestamp;
	rc = check_heads(t, msg, ml);
	if (rc < 0)
		goto fail;
	for (unsigned lv = 0; !o->store.read_only && lv < TLOG_LEVELS; lv++) {
		rc = tidy_edge_dir(t, lv, st.size, msg, ml);
		if (rc < 0)
			goto fail;
	}
	if (!o->store.read_only && store_index_watermark(t->st) < st.size) {
		rc = rebuild_index(t, store_index_watermark(t->st), st.size, msg, ml);
		if (rc < 0)
			goto fail;
	}
	if (!o->store.read_only)
		repair_copies(t);
	*out = t;
	return 0;
fail:
	tlog_close(t);
	return rc;
}

void
tlog_close(struct tlog *t)
{
	if (t == NULL)
		return;
	store_close(t->st);
	merkle_append_scratch_free(&t->scratch);
	free(t->leaves);
	free(t->drows);
	free(t->hrows);
	free(t->built);
	free(t->mids);
	free(t->files);
	free(t->ifiles);
	free(t->links);
	free(t->rmdirs);
	free(t->arena);
	free(t->dedge);
	free(t->rbuf);
	free(t);
}

uint64_t
tlog_size(const struct tlog *t)
{
	return t->f.size;
}

void
tlog_root(const struct tlog *t, merkle_hash_t out)
{
	merkle_frontier_root(&t->f, out);
}

struct store *
tlog_store(struct tlog *t)
{
	return t->st;
}

/* ---- append ------------------------------------------------------------------------------------
 */

/* Node j of Merkle level l after the append: the old right edge or the new spans. */
static const uint8_t *
level_node(const struct tlog *t, unsigned L, uint64_t j, uint64_t old_count)
{
	if (j < old_count)
		return t->edge[L][j % TILES_WIDTH];
	const struct merkle_level_span *sp = &t->scratch.level[L * TILES_HEIGHT];
	return sp->hash[j - sp->first];
}

/* Bytes of tile id that the committed tree of size `old` already holds in its edge file. */
static size_t
old_edge_len(const struct tlog *t, const struct tiles_id *id, uint64_t old)
{
	if (id->data)
		return id->index == old / TILES_WIDTH ? t->dedge_len : 0;
	uint64_t count = old >> (id->level * TILES_HEIGHT);
	if (id->index != count / TILES_WIDTH)
		return 0;
	return (size_t)(count % TILES_WIDTH) * MERKLE_HASH_LEN;
}

static int
build_tiles(struct tlog *t, const struct tlog_batch *b, uint64_t old, uint64_t new)
{
	/* Room: the batch's bytes, the old partial data tile, one hash tile per listed id. */
	size_t need = t->dedge_len;
	for (size_t i = 0; i < b->n; i++)
		need += b->len[i];
	need += t->built_cap * (TILES_WIDTH * MERKLE_HASH_LEN + TLOG_ALIGN);
	if (grow_arena(t, need, 0) < 0)
		return -ENOMEM;
	size_t off = 0;
	t->nbuilt = 0;
	struct tiles_iter it;
	struct tiles_id id;
	tiles_grow_begin(&it, old, new, true);
	while (tiles_grow_next(&it, &id)) {
		if (t->nbuilt == t->built_cap)
			return -E2BIG;
		struct tlog_built *bt = &t->built[t->nbuilt++];
		bt->id = id;
		off = (off + TLOG_ALIGN - 1) / TLOG_ALIGN * TLOG_ALIGN;
		bt->off = off;
		bt->old_len = old_edge_len(t, &id, old);
		uint64_t first = id.index * TILES_WIDTH;
		if (id.data) {
			if (first < old) { /* the old partial data tile: [first, old) */
				memcpy(t->arena + off, t->dedge, t->dedge_len);
				off += t->dedge_len;
			}
			uint64_t from = first > old ? first : old;
			for (uint64_t j = from; j < first + id.width; j++) {
				memcpy(t->arena + off, b->entry[j - old], b->len[j - old]);
				off += b->len[j - old];
			}
		} else {
			unsigned l = id.level * TILES_HEIGHT;
			uint64_t old_count = old >> l;
			for (uint64_t j = first; j < first + id.width; j++) {
				memcpy(t->arena + off, level_node(t, id.level, j, old_count),
				       MERKLE_HASH_LEN);
				off += MERKLE_HASH_LEN;
			}
		}
		bt->len = off - bt->off;
		if (tiles_path(bt->path, sizeof bt->path, &id) < 0 ||
		    tlog_edge_path(bt->epath, sizeof bt->epath, &id) < 0)
			return -EINVAL;
	}
	return 0;
}

/* Hash tiles for the before-commit check: this batch's from memory, older ones from disk. */
static int
built_read(void *ctx, const struct tiles_id *id, uint8_t *out)
{
	struct tlog *t = ctx;
	for (size_t i = 0; i < t->nbuilt; i++) {
		const struct tlog_built *bt = &t->built[i];
		if (!bt->id.data && bt->id.level == id->level && bt->id.index == id->index &&
		    bt->id.width == id->width) {
			memcpy(out, t->arena + bt->off, bt->len);
			return 0;
		}
	}
	return source_read(t->st, id, out);
}

/* Recomputes the new root from the tiles and every new leaf hash from the data tile bytes. */
static int
verify_built(struct tlog *t, const struct merkle_frontier *nf, uint64_t old, const char **why)
{
	for (size_t i = 0; i < t->nbuilt; i++) {
		const struct tlog_built *bt = &t->built[i];
		if (!bt->id.data)
			continue;
		const uint8_t *ent[TILES_WIDTH];
		size_t el[TILES_WIDTH];
		if (tlog_split(t->codec, t->arena + bt->off, bt->len, bt->id.width, ent, el) < 0) {
			*why = "an entry is not one well-formed entry of the log's format";
			return -EINVAL;
		}
		uint64_t first = bt->id.index * TILES_WIDTH;
		unsigned from = first < old ? (unsigned)(old - first) : 0;
		merkle_hash_t lh[TILES_WIDTH];
		t->codec->leaf_hashes(ent + from, el + from, bt->id.width - from, lh);
		for (unsigned j = from; j < bt->id.width; j++) {
			if (memcmp(lh[j - from], t->cur_leaves[first + j - old], MERKLE_HASH_LEN) !=
			    0) {
				*why = "a leaf hash differs from its entry's bytes: batch refused";
				return -EBADMSG;
			}
		}
	}
	struct tiles_source ts;
	tiles_source_init(&ts, nf->size, built_read, t);
	struct merkle_source src = tiles_source_view(&ts);
	merkle_hash_t a, b;
	int rc = merkle_range_root(&src, 0, nf->size, a);
	if (rc < 0) {
		*why = "cannot recompute the new root from the tiles";
		return -EBADMSG;
	}
	merkle_frontier_root(nf, b);
	if (memcmp(a, b, MERKLE_HASH_LEN) != 0) {
		*why = "the root recomputed from the tiles differs from the tree: batch refused";
		return -EBADMSG;
	}
	return 0;
}

/* The before-commit check, run while the batch's files sync. */
static int
verify_check(void *ctx, const char **why)
{
	struct tlog *t = ctx;
	return verify_built(t, t->pending, t->pending->size - t->nbatch, why);
}

/* The mid nodes of each full hash tile the batch builds, for its commit. */
static size_t
batch_mids(struct tlog *t)
{
	size_t n = 0;
	for (size_t i = 0; i < t->nbuilt; i++) {
		const struct tlog_built *bt = &t->built[i];
		if (bt->id.data || bt->id.width != TILES_WIDTH)
			continue;
		struct store_mid *m = &t->mids[n++];
		m->index = bt->id.index;
		m->level = bt->id.level;
		tiles_mid((const merkle_hash_t *)(t->arena + bt->off), (merkle_hash_t *)m->hash);
	}
	return n;
}

/* The batch's files: a tile that extends the committed right edge grows its edge file in
 * place (and, once full, gets its tlog path as a second name); a new partial tile starts a
 * new edge file; a new full tile is written at its path. */
static size_t
batch_files(struct tlog *t, size_t *nlinks, size_t *nrm)
{
	size_t nf = 0;
	*nlinks = *nrm = 0;
	for (size_t i = 0; i < t->nbuilt; i++) {
		struct tlog_built *bt = &t->built[i];
		bool full = bt->id.width == TILES_WIDTH;
		if (bt->old_len > 0)
			t->files[nf++] =
			        (struct store_file){bt->epath, t->arena + bt->off + bt->old_len,
			                            bt->len - bt->old_len, true, bt->old_len};
		else
			t->files[nf++] = (struct store_file){full ? bt->path : bt->epath,
			                                     t->arena + bt->off, bt->len, false, 0};
		if (full && bt->old_len > 0)
			t->links[(*nlinks)++] = (struct store_link){bt->epath, bt->path};
		unsigned lv = bt->id.data ? TLOG_LEVELS - 1 : bt->id.level;
		if (full && t->published[lv] == bt->id.index + 1) {
			snprintf(bt->pdir, sizeof bt->pdir, "%s.p", bt->path);
			t->rmdirs[(*nrm)++] = bt->pdir;
			t->published[lv] = 0;
		}
	}
	return nf;
}

static void
update_edge(struct tlog *t)
{
	for (size_t i = 0; i < t->nbuilt; i++) {
		const struct tlog_built *bt = &t->built[i];
		if (bt->id.width == TILES_WIDTH) {
			if (bt->id.data)
				t->dedge_len = 0;
			continue;
		}
		if (bt->id.data) {
			/* dedge has room: it held the old partial, and grow() keeps it large enough
			 */
			if (grow((void **)&t->dedge, &t->dedge_cap, bt->len, 1) == 0) {
				memcpy(t->dedge, t->arena + bt->off, bt->len);
				t->dedge_len = bt->len;
			}
		} else {
			memcpy(t->edge[bt->id.level], t->arena + bt->off, bt->len);
		}
	}
}

int
tlog_append(struct tlog *t, const struct tlog_batch *b, const char **reason)
{
	const char *why = NULL;
	int rc;
	if (b->n == 0)
		return 0;
	if (b->n > t->max_batch) {
		if (reason)
			*reason = "batch larger than max_batch";
		return -E2BIG;
	}
	uint64_t old = t->f.size;
	for (size_t i = 0; i < b->n; i++) {
		if (b->len[i] == 0 ||
		    t->codec->entry_len(b->entry[i], b->len[i]) != (long)b->len[i]) {
			if (reason)
				*reason =
				        "an entry is not one well-formed entry of the log's format";
			return -EINVAL;
		}
	}
	rc = issuers_prepare(t, b, &why);
	if (rc < 0) {
		if (reason)
			*reason = why;
		return rc;
	}
	/* Data tiles must stay readable in one piece. */
	if (grow((void **)&t->dedge, &t->dedge_cap, t->dedge_len + 1, 1) < 0)
		return -ENOMEM;
	const merkle_hash_t *leaves = b->leaf;
	if (leaves == NULL) {
		t->codec->leaf_hashes(b->entry, b->len, b->n, t->leaves);
		leaves = (const merkle_hash_t *)t->leaves;
	}
	t->cur_leaves = leaves;
	struct merkle_frontier nf = t->f;
	rc = merkle_append(&nf, &t->scratch, leaves, b->n);
	if (rc < 0) {
		if (reason)
			*reason = "the tree cannot take this batch";
		return rc;
	}
	rc = build_tiles(t, b, old, nf.size);
	if (rc < 0) {
		if (reason)
			*reason = "cannot build the batch's tiles";
		return rc;
	}
	size_t nd = 0;
	const struct store_row *drows = t->drows;
	for (size_t i = 0; i < b->n; i++) {
		memcpy(t->hrows[i].hash, leaves[i], MERKLE_HASH_LEN);
		t->hrows[i].index = old + i;
	}
	if (b->dedup) {
		drows = b->dedup;
		nd = b->ndedup;
	} else if (t->codec->dedup_row) {
		for (size_t i = 0; i < b->n; i++)
			if (t->codec->dedup_row(b->entry[i], b->len[i], old + i, &t->drows[nd]) ==
			    0)
				nd++;
	}
	size_t nlinks, nrm;
	size_t nfiles = batch_files(t, &nlinks, &nrm);
	/* The issuers' files, durable with the tiles before the state commit names them. */
	for (size_t i = 0; i < t->nifiles; i++) {
		const struct store_issuer *is = &b->issuers[t->ifiles[i].i];
		t->files[nfiles++] =
		        (struct store_file){t->ifiles[i].path, is->der, is->len, false, 0};
	}
	t->pending = &nf;
	t->nbatch = b->n;
	struct store_batch sb = {
	        .files = t->files,
	        .nfiles = nfiles,
	        .links = t->links,
	        .nlinks = nlinks,
	        .remove_dirs = t->rmdirs,
	        .nremove_dirs = nrm,
	        .check = t->opts.no_verify ? NULL : verify_check,
	        .check_ctx = t,
	        .issuers = b->issuers,
	        .nissuers = b->nissuers,
	        .dedup = drows,
	        .ndedup = nd,
	        .hashes = t->hrows,
	        .nhashes = b->n,
	        .mids = t->mids,
	        .nmids = batch_mids(t),
	};
	sb.state.size = nf.size;
	merkle_frontier_root(&nf, sb.state.root);
	sb.state.timestamp = b->timestamp;
	rc = store_commit(t->st, &sb, &why);
	t->pending = NULL;
	if (rc < 0) {
		if (reason)
			*reason = why;
		return rc;
	}
	t->f = nf;
	t->timestamp = b->timestamp;
	update_edge(t);
	return 0;
}

/* The partial tiles of the tree of `size`, written at their tlog paths (N.p/W) so that the
 * tile directory serves a signed size as it is. */
static int
publish_partials(struct tlog *t, uint64_t size, const char **why)
{
	size_t nf = 0, off = 0, at[TLOG_LEVELS];
	unsigned lvs[TLOG_LEVELS];
	for (unsigned lv = 0; lv < TLOG_LEVELS; lv++) {
		bool data = lv == TLOG_LEVELS - 1;
		uint64_t count = data                     ? size
		                 : lv * TILES_HEIGHT < 64 ? size >> (lv * TILES_HEIGHT)
		                                          : 0;
		if (count % TILES_WIDTH == 0)
			continue;
		struct tlog_built *bt = &t->built[nf];
		bt->id = (struct tiles_id){count / TILES_WIDTH, (uint16_t)(count % TILES_WIDTH),
		                           (uint8_t)(data ? 0 : lv), data};
		size_t len = 0;
		int rc = tlog_tile_read(t->st, &bt->id, &t->rbuf, &t->rbuf_cap, &len);
		if (rc == 0 && data) {
			const uint8_t *ent[TILES_WIDTH];
			size_t el[TILES_WIDTH];
			long used =
			        tlog_split_prefix(t->codec, t->rbuf, len, bt->id.width, ent, el);
			rc = used < 0 ? -EBADMSG : 0;
			len = (size_t)used;
		} else if (rc == 0) {
			rc = len >= (size_t)bt->id.width * MERKLE_HASH_LEN ? 0 : -EBADMSG;
			len = (size_t)bt->id.width * MERKLE_HASH_LEN;
		}
		if (rc == 0)
			rc = grow_arena(t, off + len, off);
		if (rc == 0)
			rc = tiles_path(bt->path, sizeof bt->path, &bt->id) < 0 ? -EINVAL : 0;
		if (rc < 0) {
			*why = "cannot read the right edge to write the signed size's partial "
			       "tiles";
			return rc;
		}
		memcpy(t->arena + off, t->rbuf, len);
		at[nf] = off;
		bt->len = len;
		lvs[nf++] = lv;
		off += len;
	}
	for (size_t i = 0; i < nf; i++)
		t->files[i] = (struct store_file){t->built[i].path, t->arena + at[i],
		                                  t->built[i].len, false, 0};
	int rc = nf ? store_files_put(t->st, t->files, nf, why) : 0;
	for (size_t i = 0; rc == 0 && i < nf; i++)
		t->published[lvs[i]] = t->built[i].id.index + 1;
	return rc;
}

int
tlog_head_put(struct tlog *t, const struct store_head *h, const char **reason)
{
	if (h->size > t->f.size) {
		if (reason)
			*reason = "signed head is beyond the committed size";
		return -EINVAL;
	}
	merkle_hash_t root;
	if (h->size == t->f.size) {
		merkle_frontier_root(&t->f, root);
	} else {
		struct tiles_source ts;
		tiles_source_init(&ts, t->f.size, source_read, t->st);
		struct merkle_source src = tiles_source_view(&ts);
		if (merkle_range_root(&src, 0, h->size, root) < 0) {
			if (reason)
				*reason = "cannot recompute the root at the head's size";
			return -EIO;
		}
	}
	if (memcmp(root, h->root, MERKLE_HASH_LEN) != 0) {
		if (reason)
			*reason = "the head's root is not the tree's root at that size";
		return -EBADMSG;
	}
	const char *why = NULL;
	int rc = publish_partials(t, h->size, &why);
	if (rc < 0) {
		if (reason)
			*reason = why;
		return rc;
	}
	rc = store_head_put(t->st, h, reason);
	if (rc < 0 || h->checkpoint_len == 0)
		return rc;
	/* Only now, with the head recorded: a published checkpoint never covers more than is
	 * durable and recorded. Best effort (tlog.h): the next head or open writes it again. */
	t->checkpoint_why = NULL;
	t->checkpoint_rc = store_file_replace(t->st, "checkpoint", h->checkpoint, h->checkpoint_len,
	                                      &t->checkpoint_why);
	return 0;
}

/* ---- reads
 * --------------------------------------------------------------------------------------- */

int
tlog_reader_open(struct tlog *t, struct tlog_reader **out)
{
	struct tlog_reader *r = calloc(1, sizeof *r);
	if (r == NULL)
		return -ENOMEM;
	r->t = t;
	int rc = tiles_cache_new(&r->xc, TLOG_READER_TILES);
	rc = rc < 0 ? rc : store_reader_open(t->st, &r->sr);
	if (rc < 0) {
		tiles_cache_free(r->xc);
		free(r);
		return rc;
	}
	*out = r;
	return 0;
}

void
tlog_reader_close(struct tlog_reader *r)
{
	if (r == NULL)
		return;
	store_reader_close(r->sr);
	tiles_cache_free(r->xc);
	free(r->buf);
	free(r);
}

struct store_reader *
tlog_reader_store(struct tlog_reader *r)
{
	return r->sr;
}

static int
reader_mid(void *ctx, unsigned level, uint64_t index, merkle_hash_t out[TILES_MID])
{
	struct tlog_reader *r = ctx;
	return store_mid_get(r->sr, level, index, (uint8_t(*)[STORE_HASH_LEN])out);
}

struct merkle_source
tlog_reader_source(struct tlog_reader *r, uint64_t size)
{
	/* The tiles of the committed tree serve every smaller tree too: a complete subtree never
	 * changes, and partial tiles exist only at committed sizes. */
	struct store_state st;
	store_state_get(r->t->st, &st);
	tiles_source_init(&r->ts, st.size > size ? st.size : size, source_read, r->t->st);
	tiles_source_use_cache(&r->ts, r->xc, reader_mid, r);
	return tiles_source_view(&r->ts);
}

int
tlog_entries(struct tlog_reader *r, uint64_t start, uint64_t end,
             int (*fn)(void *ctx, uint64_t index, const uint8_t *entry, size_t len), void *ctx)
{
	struct store_state st;
	store_state_get(r->t->st, &st);
	if (start > end || end > st.size)
		return -EINVAL;
	for (uint64_t k = start / TILES_WIDTH; k * TILES_WIDTH < end; k++) {
		unsigned w = tiles_width(st.size, 0, k);
		struct tiles_id d = {k, (uint16_t)w, 0, true};
		size_t len = 0;
		int rc = tlog_tile_read(r->t->st, &d, &r->buf, &r->cap, &len);
		if (rc == -ENOENT &&
		    w < TILES_WIDTH) { /* grown since: the full tile has the prefix */
			d.width = TILES_WIDTH;
			rc = tlog_tile_read(r->t->st, &d, &r->buf, &r->cap, &len);
		}
		if (rc < 0)
			return rc;
		const uint8_t *p = r->buf;
		size_t off = 0;
		for (unsigned i = 0; i < w; i++) {
			long l = r->t->codec->entry_len(p + off, len - off);
			if (l <= 0)
				return -EBADMSG;
			uint64_t idx = k * TILES_WIDTH + i;
			if (idx >= start && idx < end) {
				rc = fn(ctx, idx, p + off, (size_t)l);
				if (rc != 0)
					return rc;
			}
			off += (size_t)l;
		}
	}
	return 0;
}
