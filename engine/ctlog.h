/* engine/ctlog.h: Birch's CT log entries on a tlog (engine/tlog.h): the static-ct-api TileLeaf
 * of an accepted chain, its dedup key, the tlog codec "ct", and the add-chain answer.
 *
 * Entry life: admission builds the TileLeaf with ctlog_entry_build() (timestamp and leaf_index
 * left zero), the sequencer stamps both with ctlog_entry_stamp() when it gives the entry its
 * place, the tlog stores it in a data tile, and the signer signs its TimestampedEntry prefix
 * with ctlog_sct_sign(). Because the SCT's signed bytes are exactly that prefix (RFC 6962's
 * signature input and MerkleTreeLeaf coincide for v1) and Birch's ECDSA is deterministic
 * (engine/ctsig.h), an SCT can be rebuilt byte for byte from the stored entry at any time:
 * that is how a duplicate gets the original's SCT.
 *
 * Dedup key: SHA-256(entry_type (2 bytes) || [issuer_key_hash] || certificate or TBS), i.e.
 * the TimestampedEntry's signed_entry with its type and without lengths: the same leaf
 * submitted with another chain is the same entry. Dedup value: index (8) || timestamp (8),
 * big-endian.
 *
 * Pure functions over caller memory, any thread, no allocation, no syscall. Errors: lengths
 * or 0 on success, -ENOSPC (out too small), -EINVAL (an input out of range), -EBADMSG
 * (malformed entry), with *reason where given.
 */
#ifndef BIRCH_ENGINE_CTLOG_H
#define BIRCH_ENGINE_CTLOG_H

#include <stddef.h>
#include <stdint.h>

#include "engine/chain.h"
#include "engine/ctenc.h"
#include "engine/ctsig.h"
#include "engine/tlog.h"

#define CTLOG_KEY_LEN       32
#define CTLOG_DEDUP_VAL_LEN 16
/* The add-chain answer: {"sct_version":0,"id":"<44>","timestamp":<20>,"extensions":"<12>",
 * "signature":"<base64 of at most CTSIG_DSIG_MAX>"}, with its NUL. */
#define CTLOG_SCT_JSON_MAX 256

/* Where the sequencer patches a built entry, and what it is. */
struct ctlog_built {
	uint32_t len;       /* the whole TileLeaf */
	uint32_t te_len;    /* its TimestampedEntry prefix */
	uint32_t index_off; /* the 5-byte leaf_index value inside the TimestampedEntry */
	uint8_t dedup_key[CTLOG_KEY_LEN];
};

/* The TileLeaf of an accepted chain (chain_check's result) into out, with timestamp 0 and
 * leaf_index 0; the chain fingerprints are those of res->issuers. For a precertificate the
 * TimestampedEntry holds the TBS rewritten by der_precert_tbs(). Returns the length. */
__attribute__((warn_unused_result)) long ctlog_entry_build(uint8_t *out, size_t cap,
                                                           const struct chain_result *res,
                                                           struct ctlog_built *b,
                                                           const char **reason);
/* Writes the timestamp (ms) and the leaf index into a built entry. */
void ctlog_entry_stamp(uint8_t *entry, uint32_t index_off, uint64_t timestamp, uint64_t index);

/* The dedup key of a TimestampedEntry. */
void ctlog_dedup_key(uint8_t out[CTLOG_KEY_LEN], const struct ctenc_entry *e);
void ctlog_dedup_value(uint8_t out[CTLOG_DEDUP_VAL_LEN], uint64_t index, uint64_t timestamp);
/* Reads a dedup value; -EBADMSG when len is not CTLOG_DEDUP_VAL_LEN. */
__attribute__((warn_unused_result)) int ctlog_dedup_value_parse(const uint8_t *v, size_t len,
                                                                uint64_t *index,
                                                                uint64_t *timestamp);

/* The SCT signature (a DigitallySigned) over a TimestampedEntry: SHA-256(0x00 0x00 || te). */
__attribute__((warn_unused_result)) long ctlog_sct_sign(struct ctsig_signer *s, uint8_t *out,
                                                        size_t cap, const uint8_t *te,
                                                        size_t te_len);
/* The add-chain JSON answer, with a NUL; returns its length without the NUL. */
__attribute__((warn_unused_result)) long ctlog_sct_json(char *out, size_t cap,
                                                        const uint8_t log_id[CTENC_HASH_LEN],
                                                        uint64_t timestamp, uint64_t index,
                                                        const uint8_t *dsig, size_t dsig_len);

/* The tlog codec for CT logs, named "ct": entries are TileLeafs; leaf hashes over their
 * TimestampedEntry (hashed in batches with engine/sha256x.h); the dedup row as above. */
extern const struct tlog_codec ctlog_codec;

#endif
