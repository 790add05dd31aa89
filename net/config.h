/* net/config.h: the `birch serve` configuration: listen addresses, cores per stage and the
 * log shards, from a file or from flags.
 *
 * File format: UTF-8 text, one setting per line, "key = value". '#' starts a comment (anywhere
 * outside a value's quotes; values are never quoted, so '#' always starts one); blank lines
 * are fine. Sections: "[server]" (the defaults apply when it is missing) and one
 * "[shard NAME]" per log shard (NAME: 1-63 of [A-Za-z0-9._-]). A key given twice in one
 * section is an error, except the repeatable ones (listen, roots). The keys, their ranges and
 * their defaults are listed in birch.conf.example at the repository root; config_parse()
 * accepts exactly those.
 *
 * Contract
 * - config_parse() fills a struct config from text; every mistake is reported as
 *   "FILE:LINE: reason" in err (one line, no newline), naming the key or section at fault, and
 *   the function returns -EINVAL. Unknown keys and sections are mistakes (a typo must not
 *   silently fall back to a default). Cross-field rules (at least one shard; shard names,
 *   prefixes, data directories, origins and urls distinct; not_after_start < not_after_end;
 *   ...) are checked too and reported against the line of the later field.
 * - No allocation: struct config is fixed-size; strings are copied into it (too long: an
 *   error naming the key and the limit).
 * - Paths are stored as written. A relative path is relative to the config file's directory
 *   (config_load() resolves them; config_parse() keeps them as written).
 * - Nothing prints.
 */
#ifndef BIRCH_NET_CONFIG_H
#define BIRCH_NET_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_LISTEN_MAX      8
#define CONFIG_SHARDS_MAX      16
#define CONFIG_ROOTS_MAX       8
#define CONFIG_PATH_MAX        512
#define CONFIG_NAME_MAX        64  /* with the NUL */
#define CONFIG_PREFIX_MAX      128 /* with the NUL */
#define CONFIG_ORIGIN_MAX      256 /* with the NUL */
#define CONFIG_EAL_MAX         512 /* with the NUL */
#define CONFIG_DESCRIPTION_MAX 256 /* with the NUL */
#define CONFIG_URL_MAX         256 /* with the NUL */
#define CONFIG_ERR_MAX         (CONFIG_PATH_MAX + 256)

struct config_listen {
	char host[64]; /* an IPv4 or IPv6 literal, or a host name; "[::1]:80" is stored as "::1" */
	uint16_t port; /* 0: an ephemeral port (tests) */
};

struct config_shard {
	char name[CONFIG_NAME_MAX];
	/* URL prefix the shard answers under: "" (the root: /ct/v1/...) or "/" followed by
	 * [A-Za-z0-9._/-], no trailing '/', no "//", no "." or ".." segments. key: prefix. */
	char prefix[CONFIG_PREFIX_MAX];
	char data[CONFIG_PATH_MAX];                    /* key: data (required) */
	char key[CONFIG_PATH_MAX];                     /* key: key (required): P-256 PEM */
	char roots[CONFIG_ROOTS_MAX][CONFIG_PATH_MAX]; /* key: roots (required, repeatable) */
	unsigned nroots;
	/* The checkpoint origin (static-ct-api: the submission prefix without scheme).
	 * key: origin; default: "birch.localhost" followed by the prefix
	 * ("birch.localhost/2026h1"). */
	char origin[CONFIG_ORIGIN_MAX];
	/* The log's entry in a Chrome v3 log list (/log.v3.json). These strings go into the JSON
	 * as they are: the rules below leave nothing to escape. */
	/* key: description; 1..255 bytes of UTF-8 text without control characters (C0, DEL, C1;
	 * a tab included), '"' or '\\', not starting or ending with a space ('#' cannot be written
	 * in the file: it starts a comment). Default: "Birch log " followed by the name, filled in
	 * by config_parse(); config_defaults() cannot know the name and leaves it empty, so a
	 * config built from flags sets it (config_check() refuses an empty one). */
	char description[CONFIG_DESCRIPTION_MAX];
	/* key: url; the log's public base URL, as clients reach it: "https://" or "http://", a
	 * host (a name, an IPv4 address or a bracketed IPv6 one), an optional ":PORT" (1..65535),
	 * then a path that starts and ends with '/' (no empty, "." or ".." segments), at most 255
	 * bytes of printable ASCII without spaces, '"', '\\', '?' or '#' ('%' only as %XX).
	 * Default "" (also written "url =" in the file): the server derives it from the first
	 * listen address and the prefix, "http://127.0.0.1:6962/2026h1/"; nothing here computes
	 * it. */
	char url[CONFIG_URL_MAX];
	unsigned mmd; /* key: mmd, maximum merge delay in seconds; 1..604800, default 86400 */
	/* Accepted leaf NotAfter window [start, end), seconds since the epoch.
	 * keys: not_after_start, not_after_end (RFC 3339, "2026-01-01T00:00:00Z");
	 * defaults: 0 and INT64_MAX (no window). */
	int64_t not_after_start, not_after_end;
	unsigned batch_size;        /* key: batch_size; 1..65536, default 1024 */
	unsigned batch_deadline_ms; /* key: batch_deadline_ms; 1..1000, default 10 */
	unsigned pool;              /* key: pool, requests in flight; 16..1048576, default 4096;
	                               pool x slot_bytes at most CONFIG_SLOT_ARENA_MAX */
	bool read_only;             /* key: state = usable | read-only; default usable */
	unsigned line;              /* the line of the [shard] header, for messages */
};

#define CONFIG_SLOT_ARENA_MAX (16ull << 30) /* request slot bytes per shard */

struct config {
	struct config_listen listen[CONFIG_LISTEN_MAX]; /* key: listen (repeatable), "HOST:PORT" */
	unsigned nlisten;                               /* default: one, 127.0.0.1:6962 */
	unsigned gateway_threads;                       /* key: gateway_threads; 1..64, default 1 */
	unsigned workers;              /* key: workers (admission and signing lcores); 1..128,
	                                  default 0: one per CPU in `cpus` (decided at start) */
	char cpus[64];                 /* key: cpus, a CPU list "0-3,6"; default "" (all CPUs
	                                  the process may run on) */
	char eal_args[CONFIG_EAL_MAX]; /* key: eal_args, extra EAL arguments, space separated;
	                                  default "" */
	unsigned max_connections;      /* key: max_connections; 1..1000000, default 4096 */
	size_t max_body;               /* key: max_body (bytes); 4096..16777216, default 524288 */
	size_t slot_bytes;             /* key: slot_bytes, room for one built entry;
	                                  8192..1048576, default 65536 */
	char log_level[8];             /* key: log_level = debug | info | warn | error;
	                                  default info */
	unsigned tile_cache_mb;        /* key: tile_cache_mb, full tiles kept in memory per
	                                  gateway thread; 0..65536, default 32 (0: none) */
	struct config_shard shard[CONFIG_SHARDS_MAX];
	unsigned nshards;
};

/* Sets every default; no shards. */
void config_defaults(struct config *c);

/* Parses text (len bytes, need not be NUL-terminated) as the file `name` (used in messages
 * only) into c, which it first resets with config_defaults(). 0 or -EINVAL with err. */
__attribute__((warn_unused_result)) int config_parse(struct config *c, const char *text, size_t len,
                                                     const char *name, char *err, size_t err_len);

/* Reads and parses the file at path (at most 1 MiB), then makes relative paths relative to
 * the file's directory. 0, -EINVAL (a mistake, with err) or -errno (the file cannot be read,
 * err names it). */
__attribute__((warn_unused_result)) int config_load(struct config *c, const char *path, char *err,
                                                    size_t err_len);

/* Checks the cross-field rules on a config built from flags (config_parse runs them itself).
 * 0 or -EINVAL with err (no FILE:LINE prefix). */
__attribute__((warn_unused_result)) int config_check(const struct config *c, char *err,
                                                     size_t err_len);

/* RFC 3339 "YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)" ('t' and ' ' accepted for 'T', 'z' for
 * 'Z') to seconds since the epoch (fraction dropped). 0 or -EINVAL. */
__attribute__((warn_unused_result)) int config_parse_time(const char *s, size_t len, int64_t *out);
/* "HOST:PORT" or "[V6]:PORT" into l. 0 or -EINVAL with *reason. */
__attribute__((warn_unused_result)) int config_parse_listen(const char *s, struct config_listen *l,
                                                            const char **reason);

#endif
