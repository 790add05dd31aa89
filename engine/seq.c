/* engine/seq.c: see engine/seq.h. */
#include "engine/seq.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH_DEFAULT  1024
#define RECENT_DEFAULT 131072
#define KNOWN_MAX      4096 /* issuer fingerprints remembered as stored */

struct recent {
	uint8_t key[CTLOG_KEY_LEN];
	uint64_t index, timestamp;
};

struct seq {
	struct tlog *t;
	struct store_reader *rd; /* re-checks against the index, on this thread */
	struct ctsig_signer *signer;
	const struct ctsig_key *key;
	char origin[CTENC_ORIGIN_MAX + 1];
	size_t origin_len;
	uint64_t (*clock_ms)(void);

	/* the open batch */
	size_t batch_max, n;
	const uint8_t **ent;
	size_t *elen;
	struct store_row *rows;
	struct store_issuer *iss;
	size_t niss, iss_cap;

	uint64_t size;    /* committed */
	uint64_t last_ts; /* the newest timestamp given out (entries and heads) */
	uint64_t head_size, head_ts;
	bool have_head;

	/* Entries the on-disk index may not cover yet, in index order (a FIFO of absolute
	 * positions head..tail), with a linear-probing table of positions + 1 over it. */
	struct recent *fifo;
	uint64_t fifo_cap, fifo_head, fifo_tail;
	uint32_t *tab;
	uint64_t tab_mask;
	uint64_t evict_floor; /* every sequenced entry with index >= this is in the FIFO */

	uint8_t (*known)[CTLOG_KEY_LEN];
	size_t nknown;

	struct seq_stats st;
};

static int
fail(const char **reason, const char *r, int err)
{
	if (reason)
		*reason = r;
	return err;
}

static uint64_t
clock_realtime_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t
pow2_at_least(uint64_t v)
{
	uint64_t p = 1;
	while (p < v)
		p <<= 1;
	return p;
}

/* ---- the recent table -------------------------------------------------------------------- */

static uint64_t
key_slot(const struct seq *s, const uint8_t *key)
{
	uint64_t h;
	memcpy(&h, key, sizeof h); /* a SHA-256 output: uniform already */
	return h & s->tab_mask;
}

static struct recent *
recent_find(const struct seq *s, const uint8_t *key)
{
	for (uint64_t i = key_slot(s, key);; i = (i + 1) & s->tab_mask) {
		uint32_t v = s->tab[i];
		if (v == 0)
			return NULL;
		struct recent *r = &s->fifo[v - 1];
		if (memcmp(r->key, key, CTLOG_KEY_LEN) == 0)
			return r;
	}
}

static void
recent_insert(struct seq *s, const uint8_t *key, uint64_t index, uint64_t ts)
{
	uint64_t pos = s->fifo_tail++ & (s->fifo_cap - 1);
	struct recent *r = &s->fifo[pos];
	memcpy(r->key, key, CTLOG_KEY_LEN);
	r->index = index, r->timestamp = ts;
	uint64_t i = key_slot(s, key);
	while (s->tab[i] != 0)
		i = (i + 1) & s->tab_mask;
	s->tab[i] = (uint32_t)(pos + 1);
}

/* Removes the table's reference to FIFO position pos (backward-shift deletion). */
static void
recent_unlink(struct seq *s, uint64_t pos)
{
	const uint8_t *key = s->fifo[pos].key;
	uint64_t i = key_slot(s, key);
	while (s->tab[i] != (uint32_t)(pos + 1))
		i = (i + 1) & s->tab_mask;
	uint64_t j = i;
	for (;;) {
		s->tab[i] = 0;
		for (;;) {
			j = (j + 1) & s->tab_mask;
			if (s->tab[j] == 0)
				return;
			uint64_t home = key_slot(s, s->fifo[s->tab[j] - 1].key);
			/* move j back to i unless its home lies cyclically in (i, j] */
			bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
			if (!stays)
				break;
		}
		s->tab[i] = s->tab[j];
		i = j;
	}
}

/* Drops from the FIFO every entry the index now covers. */
static void
recent_evict(struct seq *s)
{
	uint64_t wm = store_index_watermark(tlog_store(s->t));
	while (s->fifo_head < s->fifo_tail) {
		uint64_t pos = s->fifo_head & (s->fifo_cap - 1);
		if (s->fifo[pos].index >= wm)
			break;
		recent_unlink(s, pos);
		s->fifo_head++;
	}
	if (wm > s->evict_floor)
		s->evict_floor = wm;
}

/* ---- issuers --------------------------------------------------------------------------- */

static bool
known_has(const struct seq *s, const uint8_t *fp)
{
	for (size_t i = 0; i < s->nknown; i++)
		if (memcmp(s->known[i], fp, CTLOG_KEY_LEN) == 0)
			return true;
	return false;
}

static void
issuers_note(struct seq *s, const struct seq_entry *e)
{
	const uint8_t *fps = e->entry + e->len - e->nissuers * CTLOG_KEY_LEN;
	for (size_t i = 0; i < e->nissuers; i++) {
		const uint8_t *fp = fps + i * CTLOG_KEY_LEN;
		if (known_has(s, fp) || s->niss == s->iss_cap)
			continue;
		if (s->nknown == KNOWN_MAX)
			s->nknown = 0; /* forget; a re-put of a stored issuer is harmless */
		memcpy(s->known[s->nknown++], fp, CTLOG_KEY_LEN);
		struct store_issuer *is = &s->iss[s->niss++];
		memcpy(is->fingerprint, fp, CTLOG_KEY_LEN);
		is->der = e->issuers[i].p;
		is->len = e->issuers[i].len;
	}
}

/* ---- heads ----------------------------------------------------------------------------- */

static uint64_t
next_ts(struct seq *s)
{
	uint64_t now = s->clock_ms();
	if (now > s->last_ts)
		s->last_ts = now;
	return s->last_ts;
}

int
seq_sign_head(struct seq *s, const char **reason)
{
	if (s->have_head && s->head_size == s->size)
		return 0;
	uint64_t ts = next_ts(s);
	merkle_hash_t root;
	tlog_root(s->t, root);
	uint8_t sth[CTSIG_DSIG_MAX];
	char cp[CTSIG_CHECKPOINT_MAX];
	long sl = ctsig_sth_sign(s->signer, sth, sizeof sth, ts, s->size, root);
	if (sl < 0)
		return fail(reason, "signing the tree head", (int)sl);
	long cl = ctsig_checkpoint_sign(s->signer, cp, sizeof cp, s->origin, s->origin_len, ts,
	                                s->size, root);
	if (cl < 0)
		return fail(reason, "signing the checkpoint", (int)cl);
	struct store_head h = {.size = s->size,
	                       .timestamp = ts,
	                       .sth = sth,
	                       .sth_len = (size_t)sl,
	                       .checkpoint = (const uint8_t *)cp,
	                       .checkpoint_len = (size_t)cl};
	memcpy(h.root, root, sizeof root);
	int rc = tlog_head_put(s->t, &h, reason);
	if (rc < 0)
		return rc;
	s->have_head = true;
	s->head_size = s->size;
	s->head_ts = ts;
	s->st.heads++;
	return 1;
}

/* ---- open and close ------------------------------------------------------------------------ */

void
seq_close(struct seq *s)
{
	if (!s)
		return;
	if (s->rd)
		store_reader_close(s->rd);
	tlog_close(s->t);
	ctsig_signer_free(s->signer);
	free(s->ent);
	free(s->elen);
	free(s->rows);
	free(s->iss);
	free(s->fifo);
	free(s->tab);
	free(s->known);
	free(s);
}

int
seq_open(struct seq **out, const struct seq_opts *o, char *msg, size_t msg_len)
{
	*out = NULL;
	size_t olen = o->origin ? strlen(o->origin) : 0;
	if (!o->key || olen == 0 || olen > CTENC_ORIGIN_MAX) {
		snprintf(msg, msg_len, "sequencer: a key and an origin of 1..%d bytes are needed",
		         CTENC_ORIGIN_MAX);
		return -EINVAL;
	}
	struct seq *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->key = o->key;
	memcpy(s->origin, o->origin, olen);
	s->origin_len = olen;
	s->clock_ms = o->clock_ms ? o->clock_ms : clock_realtime_ms;
	s->batch_max = o->batch_max ? o->batch_max : BATCH_DEFAULT;
	uint64_t recent = o->recent_max ? o->recent_max : RECENT_DEFAULT;
	if (recent < 4 * s->batch_max)
		recent = 4 * s->batch_max;
	s->fifo_cap = pow2_at_least(recent);
	s->tab_mask = 2 * s->fifo_cap - 1;
	s->iss_cap = s->batch_max < 64 ? 256 : 4 * s->batch_max;
	s->ent = calloc(s->batch_max, sizeof *s->ent);
	s->elen = calloc(s->batch_max, sizeof *s->elen);
	s->rows = calloc(s->batch_max, sizeof *s->rows);
	s->iss = calloc(s->iss_cap, sizeof *s->iss);
	s->fifo = calloc(s->fifo_cap, sizeof *s->fifo);
	s->tab = calloc(2 * s->fifo_cap, sizeof *s->tab);
	s->known = calloc(KNOWN_MAX, sizeof *s->known);
	int rc = -ENOMEM;
	if (!s->ent || !s->elen || !s->rows || !s->iss || !s->fifo || !s->tab || !s->known) {
		snprintf(msg, msg_len, "sequencer: out of memory");
		goto fail;
	}
	if ((rc = ctsig_signer_new(&s->signer, o->key)) < 0) {
		snprintf(msg, msg_len, "sequencer: cannot make a signer");
		goto fail;
	}
	struct tlog_opts to = {.max_batch = s->batch_max};
	to.store.create = o->create;
	to.store.format = ctlog_codec.name;
	if ((rc = tlog_open(&s->t, o->dir, &ctlog_codec, &to, msg, msg_len)) < 0)
		goto fail;
	const char *why = NULL;
	/* Recovery may have queued index rows; dedup needs them visible before the first add. */
	if ((rc = store_index_sync(tlog_store(s->t), &why)) < 0) {
		snprintf(msg, msg_len, "%s: dedup index: %s", o->dir, why ? why : strerror(-rc));
		goto fail;
	}
	if ((rc = store_reader_open(tlog_store(s->t), &s->rd)) < 0) {
		snprintf(msg, msg_len, "%s: cannot open a reader", o->dir);
		goto fail;
	}
	s->size = tlog_size(s->t);
	s->evict_floor = s->size;
	struct store_state state;
	store_state_get(tlog_store(s->t), &state);
	s->last_ts = state.timestamp;
	struct store_head h;
	uint8_t hbuf[STORE_HEAD_MAX];
	rc = store_head_get(s->rd, &h, hbuf, sizeof hbuf);
	if (rc == 0) {
		s->have_head = true;
		s->head_size = h.size;
		s->head_ts = h.timestamp;
		if (h.timestamp > s->last_ts)
			s->last_ts = h.timestamp;
	} else if (rc != -ENOENT) {
		snprintf(msg, msg_len, "%s: cannot read the last signed head", o->dir);
		goto fail;
	}
	/* A head for what is committed: a crash between a commit and its head, or a new log. */
	if ((rc = seq_sign_head(s, &why)) < 0) {
		snprintf(msg, msg_len, "%s: tree head: %s", o->dir, why ? why : strerror(-rc));
		goto fail;
	}
	*out = s;
	return 0;
fail:
	seq_close(s);
	return rc;
}

/* ---- sequencing ------------------------------------------------------------------------- */

size_t
seq_room(const struct seq *s)
{
	return s->batch_max - s->n;
}

size_t
seq_pending(const struct seq *s)
{
	return s->n;
}

static int
recent_make_room(struct seq *s, const char **reason)
{
	if (s->fifo_tail - s->fifo_head < s->fifo_cap)
		return 0;
	recent_evict(s);
	if (s->fifo_tail - s->fifo_head < s->fifo_cap)
		return 0;
	s->st.index_waits++; /* the index lags a whole FIFO behind: wait for it */
	int rc = store_index_sync(tlog_store(s->t), reason);
	if (rc < 0)
		return rc;
	recent_evict(s);
	if (s->fifo_tail - s->fifo_head < s->fifo_cap)
		return 0;
	return fail(reason, "dedup memory full of uncommitted entries", -ENOBUFS);
}

int
seq_add(struct seq *s, struct seq_entry *e, const char **reason)
{
	if (s->n == s->batch_max)
		return fail(reason, "batch full", -ENOBUFS);
	if (s->fifo_head == s->fifo_tail || (s->fifo_tail & 1023) == 0)
		recent_evict(s);
	struct recent *r = recent_find(s, e->dedup_key);
	if (r) {
		e->index = r->index, e->timestamp = r->timestamp;
		ctlog_entry_stamp(e->entry, e->index_off, e->timestamp, e->index);
		s->st.duplicates++;
		return r->index >= s->size ? SEQ_DUP_PENDING : SEQ_DUP_DURABLE;
	}
	if (e->admit_wm < s->evict_floor) {
		/* Entries in [admit_wm, evict_floor) left memory after admission looked: ask the
		 * index again. */
		s->st.index_rechecks++;
		uint64_t idx, ts;
		int rc = seq_lookup(s->rd, e->dedup_key, &idx, &ts);
		if (rc == 0) {
			e->index = idx, e->timestamp = ts;
			ctlog_entry_stamp(e->entry, e->index_off, ts, idx);
			s->st.duplicates++;
			return SEQ_DUP_DURABLE;
		}
		if (rc != -ENOENT)
			return fail(reason, "dedup index unreadable", rc);
	}
	int rc = recent_make_room(s, reason);
	if (rc < 0)
		return rc;
	e->index = s->size + s->n;
	e->timestamp = next_ts(s);
	ctlog_entry_stamp(e->entry, e->index_off, e->timestamp, e->index);
	recent_insert(s, e->dedup_key, e->index, e->timestamp);
	s->ent[s->n] = e->entry;
	s->elen[s->n] = e->len;
	struct store_row *row = &s->rows[s->n];
	memcpy(row->key, e->dedup_key, CTLOG_KEY_LEN);
	row->len = CTLOG_DEDUP_VAL_LEN;
	ctlog_dedup_value(row->value, e->index, e->timestamp);
	issuers_note(s, e);
	s->n++;
	s->st.entries++;
	return SEQ_NEW;
}

int
seq_commit(struct seq *s, const char **reason)
{
	if (s->n == 0)
		return 0;
	struct tlog_batch b = {
	        .entry = s->ent,
	        .len = s->elen,
	        .n = s->n,
	        .dedup = s->rows,
	        .ndedup = s->n,
	        .timestamp = s->last_ts,
	        .issuers = s->iss,
	        .nissuers = s->niss,
	};
	int rc = tlog_append(s->t, &b, reason);
	if (rc < 0) {
		/* Never durable: forget the batch (its indices will be given again after reopen).
		 */
		for (size_t i = 0; i < s->n; i++)
			recent_unlink(s, --s->fifo_tail & (s->fifo_cap - 1));
		s->nknown = 0;
		s->n = 0;
		s->niss = 0;
		return rc;
	}
	s->size += s->n;
	s->n = 0;
	s->niss = 0;
	s->st.batches++;
	return 0;
}

uint64_t
seq_size(const struct seq *s)
{
	return s->size;
}

uint64_t
seq_head_size(const struct seq *s)
{
	return s->head_size;
}

struct tlog *
seq_tlog(struct seq *s)
{
	return s->t;
}

uint64_t
seq_watermark(struct seq *s)
{
	return store_index_watermark(tlog_store(s->t));
}

int
seq_lookup(struct store_reader *r, const uint8_t key[CTLOG_KEY_LEN], uint64_t *index,
           uint64_t *timestamp)
{
	uint8_t v[STORE_VALUE_MAX];
	int n = store_dedup_get(r, key, v);
	if (n < 0)
		return n;
	return ctlog_dedup_value_parse(v, (size_t)n, index, timestamp) < 0 ? -EBADMSG : 0;
}

void
seq_stats_get(const struct seq *s, struct seq_stats *out)
{
	*out = s->st;
}
