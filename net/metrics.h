/* net/metrics.h: Prometheus text exposition (format 0.0.4) for /metrics: latency histograms
 * that one thread writes and any thread reads, and a bounded text buffer to render into.
 *
 * Contract
 * - struct metrics_hist has one writer (the thread that owns it: a gateway thread, a
 *   sequencer); metrics_hist_add() is a few relaxed stores, no locked instruction, no
 *   syscall. Readers sum the histograms of several writers (metrics_hist_sum); a sum read
 *   during writes may be off by the observations in flight, never torn per counter.
 * - Buckets are fixed (metrics_bounds_s, seconds, or metrics_bounds_n for counts such as batch
 *   sizes): the same `le` labels everywhere, so series from all threads add up.
 * - struct metrics_out is a caller buffer; writers stop at its end and set `full` (the
 *   answer is then truncated, never overrun). No allocation.
 */
#ifndef BIRCH_NET_METRICS_H
#define BIRCH_NET_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define METRICS_BUCKETS 14 /* finite buckets; +Inf is the count */

struct metrics_hist {
	_Atomic uint64_t bucket[METRICS_BUCKETS]; /* observations <= the bound (not cumulative) */
	_Atomic uint64_t count;
	_Atomic uint64_t sum; /* nanoseconds, or units for count histograms */
};

/* Bounds in nanoseconds: 100 us .. 10 s. */
extern const uint64_t metrics_bounds_ns[METRICS_BUCKETS];
/* Bounds for counts: 1 .. 65536. */
extern const uint64_t metrics_bounds_n[METRICS_BUCKETS];

/* Adds one observation v (nanoseconds, or a count) against bounds. One writer per hist. */
void metrics_hist_add(struct metrics_hist *h, const uint64_t *bounds, uint64_t v);
/* out += h, counter by counter. */
void metrics_hist_sum(struct metrics_hist *out, const struct metrics_hist *h);

struct metrics_out {
	char *p;
	size_t len, cap;
	bool full;
};

/* printf into the buffer. */
void metrics_printf(struct metrics_out *o, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
/* "# HELP name help" and "# TYPE name type" lines. */
void metrics_head(struct metrics_out *o, const char *name, const char *type, const char *help);
/* The _bucket, _sum and _count series of h under name with labels ("" or `k="v",k2="v2"`);
 * seconds: bounds are nanoseconds shown as seconds, else as counts. */
void metrics_hist_put(struct metrics_out *o, const char *name, const char *labels,
                      const struct metrics_hist *h, bool seconds);
/* Writes s as a label value: backslash, double quote and newline escaped. */
void metrics_label(struct metrics_out *o, const char *s);

#endif
