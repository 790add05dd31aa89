/* net/metrics.c: Prometheus text exposition helpers (net/metrics.h). */
#include "net/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const uint64_t metrics_bounds_ns[METRICS_BUCKETS] = {
        100000,   250000,   500000,    1000000,   2500000,    5000000,    10000000,
        25000000, 50000000, 100000000, 250000000, 1000000000, 2500000000, 10000000000};
const uint64_t metrics_bounds_n[METRICS_BUCKETS] = {1,   4,    16,   32,   64,    128,   256,
                                                    512, 1024, 2048, 4096, 16384, 32768, 65536};

static void
add1(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
	                      memory_order_relaxed);
}

void
metrics_hist_add(struct metrics_hist *h, const uint64_t *bounds, uint64_t v)
{
	unsigned i = 0;
	while (i < METRICS_BUCKETS && v > bounds[i])
		i++;
	if (i < METRICS_BUCKETS)
		add1(&h->bucket[i], 1);
	add1(&h->sum, v);
	add1(&h->count, 1);
}

void
metrics_hist_sum(struct metrics_hist *out, const struct metrics_hist *h)
{
	for (unsigned i = 0; i < METRICS_BUCKETS; i++)
		add1(&out->bucket[i], atomic_load_explicit(&h->bucket[i], memory_order_relaxed));
	add1(&out->sum, atomic_load_explicit(&h->sum, memory_order_relaxed));
	add1(&out->count, atomic_load_explicit(&h->count, memory_order_relaxed));
}

void
metrics_printf(struct metrics_out *o, const char *fmt, ...)
{
	if (o->full || o->len >= o->cap) {
		o->full = true;
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len) {
		o->full = true;
		o->p[o->len] = 0; /* drop the partial line */
		return;
	}
	o->len += (size_t)n;
}

void
metrics_head(struct metrics_out *o, const char *name, const char *type, const char *help)
{
	metrics_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void
metrics_hist_put(struct metrics_out *o, const char *name, const char *labels,
                 const struct metrics_hist *h, bool seconds)
{
	const uint64_t *b = seconds ? metrics_bounds_ns : metrics_bounds_n;
	const char *sep = labels[0] ? "," : "";
	uint64_t cum = 0;
	for (unsigned i = 0; i < METRICS_BUCKETS; i++) {
		cum += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
		if (seconds)
			metrics_printf(o, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep,
			               (double)b[i] / 1e9, (unsigned long long)cum);
		else
			metrics_printf(o, "%s_bucket{%s%sle=\"%llu\"} %llu\n", name, labels, sep,
			               (unsigned long long)b[i], (unsigned long long)cum);
	}
	uint64_t count = atomic_load_explicit(&h->count, memory_order_relaxed);
	if (count < cum)
		count = cum; /* read while being written: keep +Inf the largest */
	metrics_printf(o, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
	               (unsigned long long)count);
	uint64_t sum = atomic_load_explicit(&h->sum, memory_order_relaxed);
	const char *lb = labels[0] ? "{" : "", *le = labels[0] ? "}" : "";
	if (seconds)
		metrics_printf(o, "%s_sum%s%s%s %.9f\n", name, lb, labels, le, (double)sum / 1e9);
	else
		metrics_printf(o, "%s_sum%s%s%s %llu\n", name, lb, labels, le,
		               (unsigned long long)sum);
	metrics_printf(o, "%s_count%s%s%s %llu\n", name, lb, labels, le, (unsigned long long)count);
}

void
metrics_label(struct metrics_out *o, const char *s)
{
	for (; *s && !o->full; s++) {
		if (*s == '\\' || *s == '"')
			metrics_printf(o, "\\%c", *s);
		else if (*s == '\n')
			metrics_printf(o, "\\n");
		else
			metrics_printf(o, "%c", *s);
	}
}
