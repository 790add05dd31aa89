/* net/pipe.h: the write path as a DPDK application: the shards' logs, the request slots, the
 * rings between the stages and the stage loops on pinned lcores.
 *
 *   gateway threads --gw_to_admit--> admission (worker lcores) --admit_to_seq_<shard>-->
 *   sequencer (one lcore per shard) --seq_to_sign--> signers (the same worker lcores) -->
 *   gw_complete()
 *
 * Rings (one table in pipe.c builds them all; stages never make rings):
 *   free_<shard>      the shard's free slots; empty => the gateway answers 503 + Retry-After
 *   gw_to_admit       MP (gateway threads) / MC (workers)
 *   admit_to_seq_<s>  MP (workers) / SC (the shard's sequencer)
 *   seq_to_sign       MP (sequencers) / MC (workers)
 * Every ring holds at least as many entries as there are slots that can reach it, so an
 * enqueue after a slot was granted cannot fail: the only overflow policy is the 503 at
 * req_get, and the edges after sequencing never drop (they never fill).
 *
 * Durability: a request reaches seq_to_sign only after seq_commit() returned 0 for its batch
 * (or it is a duplicate of an entry committed before), so no SCT covers a non-durable entry.
 *
 * Threads: pipe_eal_start, pipe_open, pipe_launch, pipe_quit and pipe_close run on the main
 * thread, in that order. The gw_pipeline callbacks run on gateway threads. Stage loops idle by
 * sleeping (a short spin, then up to 200 us naps): lcores may share CPUs on small machines.
 *
 * Errors: 0 or -errno with a one-line message in err naming the file, shard or setting.
 */
#ifndef BIRCH_NET_PIPE_H
#define BIRCH_NET_PIPE_H

#include <stddef.h>
#include <stdint.h>

#include "net/config.h"
#include "net/gw.h"

struct pipe;

/* Starts the DPDK EAL for this config: lcore 0 is the main (control) lcore, then one per
 * worker, then one per shard's sequencer. Without eal_args: --no-huge --no-pci --no-shconf
 * -m 128; eal_args replace those four (--lcores, --file-prefix and --log-level are added
 * unless eal_args name them). argv0 names the program in EAL messages. */
__attribute__((warn_unused_result)) int pipe_eal_start(const struct config *c, const char *argv0,
                                                       char *err, size_t err_len);
void pipe_eal_stop(void);

/* Loads every shard's key and roots, opens (creating when missing) and recovers its log,
 * signs a head for what is committed, and makes the slots and rings. */
__attribute__((warn_unused_result)) int pipe_open(struct pipe **out, const struct config *c,
                                                  char *err, size_t err_len);
/* For gw_start(): one gw_shard per shard (roots JSON rendered), and the callbacks. */
const struct gw_shard *pipe_gw_shards(const struct pipe *p);
struct gw_pipeline pipe_gw_ops(struct pipe *p);
/* For gw_config.read_logs: each shard's tlog, which the sequencer writes and the gateway's
 * threads read through their own readers (net/rd.h). Valid until pipe_close(). */
struct tlog *const *pipe_read_logs(const struct pipe *p);
/* For gw_config.metrics (ctx: the pipe): rings, tree sizes, entries, dedup hits, batch sizes,
 * commit and sequencing latency. Any thread. */
struct metrics_out;
void pipe_metrics(void *ctx, struct metrics_out *o);
/* For gw_config.log_json (ctx: the pipe): renders the shard's /log.v3.json, its url derived
 * from the first listener and `port` where the config gives none. Valid until pipe_close(). */
void pipe_log_json(void *ctx, unsigned shard, uint16_t port, const char **json, size_t *len);
/* Launches the stage loops; completions go to g. */
__attribute__((warn_unused_result)) int pipe_launch(struct pipe *p, struct gw *g, char *err,
                                                    size_t err_len);
/* After gw_drain(): the sequencers commit what is open, sign a last head, and every loop
 * returns; waits for them. */
void pipe_quit(struct pipe *p);
void pipe_close(struct pipe *p);

struct pipe_stats {
	uint64_t admitted, refused, duplicates, sequenced, signed_scts, batches, heads;
	uint64_t tree_size[CONFIG_SHARDS_MAX];
};
void pipe_stats_get(const struct pipe *p, struct pipe_stats *out);
/* The shard's LogID (32 bytes) and base64 public key, for start-up lines. */
const uint8_t *pipe_log_id(const struct pipe *p, unsigned shard);

#endif
