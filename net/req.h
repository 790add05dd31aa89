/* net/req.h: one submission (add-chain or add-pre-chain) as it travels the write path:
 *
 *   gateway -> gw_to_admit -> admission -> admit_to_seq -> sequencer -> seq_to_sign -> signer
 *      ^                          |  (a bad chain, a duplicate already in the index)    |
 *      +-------------------- gw_complete() <-------------------------------------------+
 *
 * A struct req is a slot from a fixed per-shard pool (net/pipe.h): the pool's size is the
 * shard's limit on requests in flight, and the slot's buffer bounds the entry it can hold.
 * Each stage owns the slot while it holds it and writes only its own fields below; handing
 * the slot to the next ring hands over ownership. No field is shared between two stages at
 * the same moment, so nothing here is atomic.
 */
#ifndef BIRCH_NET_REQ_H
#define BIRCH_NET_REQ_H

#include <stddef.h>
#include <stdint.h>

#define REQ_RESP_MAX 512 /* the SCT JSON, or an error reason */

enum req_kind {
	REQ_ADD_CHAIN = 0,
	REQ_ADD_PRE_CHAIN = 1,
};

struct req {
	/* ---- the gateway's, set before submission ---- */
	uint8_t kind;       /* enum req_kind */
	uint16_t shard;     /* index into the shards of the config */
	uint16_t gw_thread; /* which gateway thread completes it */
	const uint8_t *body; /* the request body, borrowed from the gateway until completion */
	size_t body_len;
	void *gw_handle;     /* the gateway's own token for the pending response */
	uint64_t t_start_ns; /* CLOCK_MONOTONIC at arrival, for latency figures */

	/* ---- the pipeline's (admission, sequencer, signer) ---- */
	uint8_t *buf; /* the slot's own buffer (cap bytes): the built entry and the new issuers */
	size_t cap;
	uint32_t entry_len;     /* the TileLeaf (static-ct-api data tile entry) at buf */
	uint32_t te_len;        /* its TimestampedEntry prefix, which the SCT signs */
	uint32_t index_off;     /* where the 5-byte leaf_index value sits in the entry */
	uint8_t dedup_key[32];  /* engine/ctlog.h */
	uint64_t admit_wm;      /* the dedup index watermark seen by admission's lookup */
	uint64_t index;         /* sequenced position */
	uint64_t timestamp;     /* the SCT and entry timestamp, ms */
	uint8_t dup;            /* 1: a duplicate, answered with the original's SCT */
	uint8_t nissuers;       /* issuers not yet known to the log, DER after the entry */
	uint32_t issuer_off[16];
	uint32_t issuer_len[16];

	/* ---- the completion, read by the gateway ---- */
	uint16_t status;      /* HTTP status: 200, 400, 413, 500, 503 */
	uint16_t resp_len;    /* bytes in resp: the JSON body (200) or the reason (else) */
	uint32_t retry_after; /* seconds, for 503 */
	char resp[REQ_RESP_MAX];
};

#endif
