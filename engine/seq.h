/* engine/seq.h: a CT log shard's sequencer: gives admitted entries their place and time,
 * answers duplicates exactly, commits batches durably and signs tree heads.
 *
 * One thread (the shard's sequencer lcore) owns a struct seq and calls everything except
 * seq_lookup() and seq_watermark(), which admission workers call with their own reader.
 *
 * A batch: seq_add() each admitted entry (while seq_room() > 0), then seq_commit(). An entry
 * is NEW (it gets the next index and the current time, stamped into its bytes), or a
 * duplicate of one already sequenced (it gets the original's index and time, stamped into its
 * own bytes: same signed bytes, hence the same SCT). A duplicate of an entry in the open
 * batch is DUP_PENDING: it becomes durable with that batch. Only after seq_commit() returns 0
 * may anything covering the batch be signed (the caller releases the entries to the signers
 * then); seq_sign_head() signs and records a tree head for the committed size.
 *
 * Dedup is exact: admission looks the key up in the lagging on-disk index (seq_lookup,
 * remembering the watermark it saw), and the sequencer keeps every entry the index may not
 * cover yet in memory (bounded: when full it waits for the index). An entry whose admission
 * saw an older watermark than the memory now covers is looked up again here.
 *
 * Errors: 0 or -errno with *reason. A failed commit leaves the store failed (storage/store.h):
 * the open batch is dropped (its entries were never durable; the caller answers them with an
 * error), and the caller must close and reopen the shard; recovery continues from what is
 * durable.
 */
#ifndef BIRCH_ENGINE_SEQ_H
#define BIRCH_ENGINE_SEQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/ctlog.h"
#include "engine/ctsig.h"
#include "engine/der.h"
#include "engine/tlog.h"

struct seq;

struct seq_opts {
	const char *dir;
	bool create;
	const struct ctsig_key *key; /* outlives the seq */
	const char *origin;          /* checkpoint origin */
	size_t batch_max;            /* entries per commit; 0: 1024 */
	size_t recent_max;           /* entries kept in memory for dedup; 0: 131072 */
	uint64_t (*clock_ms)(void);  /* NULL: CLOCK_REALTIME; tests pin it */
};

/* One admitted entry, as the sequencer sees it. The bytes stay the caller's and must stay
 * valid until seq_commit() returns (they are copied into tiles there). */
struct seq_entry {
	uint8_t *entry; /* the TileLeaf built by ctlog_entry_build() */
	uint32_t len, te_len, index_off;
	const uint8_t *dedup_key; /* CTLOG_KEY_LEN bytes */
	uint64_t admit_wm;        /* the watermark admission's lookup saw */
	/* The chain's issuers in fingerprint order (the TileLeaf's tail): the DER of each, for
	 * the log's issuer store. */
	const struct der_span *issuers;
	size_t nissuers;
	/* out */
	uint64_t index, timestamp;
};

enum seq_verdict {
	SEQ_NEW = 0,         /* sequenced into the open batch */
	SEQ_DUP_PENDING = 1, /* a duplicate of an entry in the open batch */
	SEQ_DUP_DURABLE = 2, /* a duplicate of a committed entry: may be answered now */
};

__attribute__((warn_unused_result)) int seq_open(struct seq **out, const struct seq_opts *o,
                                                 char *msg, size_t msg_len);
void seq_close(struct seq *s);

/* Room left in the open batch. */
size_t seq_room(const struct seq *s);
size_t seq_pending(const struct seq *s);
/* Sequences e (seq_room() must be > 0). Returns a verdict, or a negative errno when the
 * index cannot be read (*reason). */
__attribute__((warn_unused_result)) int seq_add(struct seq *s, struct seq_entry *e,
                                                const char **reason);
/* Commits the open batch durably (no-op when empty). */
__attribute__((warn_unused_result)) int seq_commit(struct seq *s, const char **reason);
/* When the committed size is past the last signed head: signs an STH and a checkpoint for it
 * and records them (storage/store.h: before anyone may see them). Returns 1 when a head was
 * signed, 0 when none was needed, or -errno. */
__attribute__((warn_unused_result)) int seq_sign_head(struct seq *s, const char **reason);

uint64_t seq_size(const struct seq *s);
uint64_t seq_head_size(const struct seq *s);
struct tlog *seq_tlog(struct seq *s);

/* ---- admission (any thread, its own reader) ---- */
/* The dedup index's watermark; read it before seq_lookup() and pass it on as admit_wm. */
uint64_t seq_watermark(struct seq *s);
/* Looks key up in the on-disk index: 0 with index and timestamp, -ENOENT, or -errno. */
__attribute__((warn_unused_result)) int seq_lookup(struct store_reader *r,
                                                   const uint8_t key[CTLOG_KEY_LEN],
                                                   uint64_t *index, uint64_t *timestamp);

struct seq_stats {
	uint64_t entries, duplicates, batches, heads, index_rechecks, index_waits;
};
void seq_stats_get(const struct seq *s, struct seq_stats *out);

#endif
