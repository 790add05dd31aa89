/* net/log.h: the server's event log: one line per event, with a UTC time, a level and the
 * component, on stderr (journald adds its own time; the line stays greppable either way):
 *   2026-11-21T10:00:00.123Z info  gw: listening on 127.0.0.1:6962
 * Any thread may log; a line is written with one write(2), so lines never interleave. Only
 * the server's own stages log (net/, tools/); engine/ and storage/ return reasons instead.
 * Not for the per-entry hot path: log events (start, stop, errors, a state change), not
 * entries. */
#ifndef BIRCH_NET_LOG_H
#define BIRCH_NET_LOG_H

enum blog_level { BLOG_DEBUG, BLOG_INFO, BLOG_WARN, BLOG_ERROR };

/* Lines below `level` are dropped. Default BLOG_INFO. */
void blog_set_level(enum blog_level level);
/* "debug", "info", "warn", "error" to a level; -1 for anything else. */
int blog_level_parse(const char *s);
void blog(enum blog_level level, const char *component, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

#endif
