/* net/config.c: the `birch serve` configuration (net/config.h).
 *
 * One line-at-a-time parser: config_parse() feeds it lines from memory and config_load() from
 * a fixed read(2) buffer, so neither allocates and both report the same mistakes with the
 * same words. Every field is checked where it is read (the message quotes the value); the
 * cross-field rules run once at the end, in cfg_check_all(), which config_check() shares
 * (with no line numbers to give).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* CPU_COUNT, the GNU strerror_r */
#endif
#include "net/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define CFG_LINE_MAX       4096      /* bytes in a line, without its "\n" or "\r\n" */
#define CFG_FILE_MAX       (1 << 20) /* config_load() */
#define CFG_QUOTE_MAX      64        /* bytes of a bad value quoted in a message */
#define CFG_CPU_LIMIT      1024      /* CPU numbers in `cpus`: 0..1023 (CPU_SETSIZE) */
#define CFG_HOST_MAX       64        /* struct config_listen.host, with the NUL */
#define CFG_DEFAULT_ORIGIN "birch.localhost"
#define CFG_DEFAULT_DESC   "Birch log " /* followed by the shard name */
#define CFG_DEFAULT_MMD    86400

/* Ranges, shared by the parser and the checks. */
struct cfg_range {
	const char *key;
	unsigned long long min, max;
};
static const struct cfg_range cfg_r_gateway_threads = {"gateway_threads", 1, 64};
static const struct cfg_range cfg_r_workers = {"workers", 1, 128};
static const struct cfg_range cfg_r_max_connections = {"max_connections", 1, 1000000};
static const struct cfg_range cfg_r_max_body = {"max_body", 4096, 16777216};
static const struct cfg_range cfg_r_slot_bytes = {"slot_bytes", 8192, 1048576};
static const struct cfg_range cfg_r_tile_cache_mb = {"tile_cache_mb", 0, 65536};
static const struct cfg_range cfg_r_batch_size = {"batch_size", 1, 65536};
static const struct cfg_range cfg_r_batch_deadline_ms = {"batch_deadline_ms", 1, 1000};
static const struct cfg_range cfg_r_pool = {"pool", 16, 1048576};
static const struct cfg_range cfg_r_mmd = {"mmd", 1, 604800};

enum cfg_skey {
	SK_LISTEN,
	SK_GATEWAY_THREADS,
	SK_WORKERS,
	SK_CPUS,
	SK_EAL_ARGS,
	SK_MAX_CONNECTIONS,
	SK_MAX_BODY,
	SK_SLOT_BYTES,
	SK_LOG_LEVEL,
	SK_TILE_CACHE_MB,
	SK_N
};
static const char *const cfg_skey_name[SK_N] = {
        "listen",          "gateway_threads", "workers",    "cpus",      "eal_args",
        "max_connections", "max_body",        "slot_bytes", "log_level", "tile_cache_mb",
};

enum cfg_hkey {
	HK_PREFIX,
	HK_DATA,
	HK_KEY,
	HK_ROOTS,
	HK_ORIGIN,
	HK_NOT_AFTER_START,
	HK_NOT_AFTER_END,
	HK_BATCH_SIZE,
	HK_BATCH_DEADLINE_MS,
	HK_POOL,
	HK_STATE,
	HK_DESCRIPTION,
	HK_URL,
	HK_MMD,
	HK_N
};
static const char *const cfg_hkey_name[HK_N] = {
        "prefix",        "data",       "key",
        "roots",         "origin",     "not_after_start",
        "not_after_end", "batch_size", "batch_deadline_ms",
        "pool",          "state",      "description",
        "url",           "mmd",
};

/* Where each field was given (0: not given), for the cross-field messages. */
struct cfg_lines {
	unsigned server;
	unsigned skey[SK_N]; /* the first line of each key */
	unsigned listen[CONFIG_LISTEN_MAX];
	unsigned hkey[CONFIG_SHARDS_MAX][HK_N];
	unsigned roots[CONFIG_SHARDS_MAX][CONFIG_ROOTS_MAX];
	unsigned last; /* the last line of the text */
};

enum cfg_section { CFG_SEC_NONE, CFG_SEC_SERVER, CFG_SEC_SHARD };

struct cfg_parser {
	struct config *c;
	struct cfg_lines ln;
	const char *file; /* for messages */
	const char *base; /* config_load(): relative paths are made relative to base[0..base_len) */
	size_t base_len;
	char *err;
	size_t err_len;
	unsigned line;
	enum cfg_section sec;
};

/* ---- messages ---- */

/* Writes "FILE:LINE: message" (or the message alone when file is NULL) into err, truncated to
 * err_len, with any control character replaced by '?' so it stays one line. */
__attribute__((format(printf, 5, 6))) static int
cfg_err(char *err, size_t err_len, const char *file, unsigned line, const char *fmt, ...)
{
	if (!err || err_len == 0)
		return -EINVAL;
	size_t n = 0;
	if (file) {
		int k = snprintf(err, err_len, "%s:%u: ", file, line);
		n = k < 0 ? 0 : (size_t)k >= err_len ? err_len - 1 : (size_t)k;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err + n, err_len - n, fmt, ap);
	va_end(ap);
	for (char *q = err; *q; q++)
		if ((unsigned char)*q < 0x20 || *q == 0x7f)
			*q = '?';
	return -EINVAL;
}

#define PFAIL(p, ...) cfg_err((p)->err, (p)->err_len, (p)->file, (p)->line, __VA_ARGS__)

/* How much of v (n bytes) a message quotes: at most CFG_QUOTE_MAX bytes, cut before a UTF-8
 * continuation byte; cfg_qmore() says whether "..." follows. */
static int
cfg_qlen(const char *v, size_t n)
{
	if (n <= CFG_QUOTE_MAX)
		return (int)n;
	n = CFG_QUOTE_MAX;
	while (n > 0 && ((unsigned char)v[n] & 0xc0) == 0x80)
		n--;
	return (int)n;
}

static const char *
cfg_qmore(size_t n)
{
	return n > CFG_QUOTE_MAX ? "..." : "";
}

#define QUOTE(v, n) cfg_qlen((v), (n)), (v), cfg_qmore(n)

/* ---- small lexical helpers ---- */

static bool
cfg_is_space(char ch)
{
	return ch == ' ' || ch == '\t';
}

static void
cfg_trim(const char **s, size_t *n)
{
	while (*n > 0 && cfg_is_space(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && cfg_is_space((*s)[*n - 1]))
		(*n)--;
}

static bool
cfg_eq(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && memcmp(s, word, n) == 0;
}

static bool
cfg_is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static bool
cfg_is_alnum(char ch)
{
	return cfg_is_digit(ch) || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* Strict decimal: "0" or [1-9][0-9]*, no sign, no space, at most max. */
static bool
cfg_decimal(const char *s, size_t n, unsigned long long max, unsigned long long *out)
{
	if (n == 0 || (n > 1 && s[0] == '0'))
		return false;
	unsigned long long v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!cfg_is_digit(s[i]))
			return false;
		unsigned d = (unsigned)(s[i] - '0');
		if (d > max || v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/* Index of `s` in names[0..count), or -1. */
static int
cfg_lookup(const char *const *names, int count, const char *s, size_t n)
{
	for (int i = 0; i < count; i++)
		if (cfg_eq(s, n, names[i]))
			return i;
	return -1;
}

/* Well-formed UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF). */
static bool
cfg_utf8(const char *str, size_t n, size_t *bad)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	while (i < n) {
		unsigned char b = s[i];
		size_t more;
		unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */
		if (b < 0x80) {
			i++;
			continue;
		} else if (b >= 0xc2 && b <= 0xdf) {
			more = 1;
		} else if (b >= 0xe0 && b <= 0xef) {
			more = 2;
			if (b == 0xe0)
				lo = 0xa0;
			if (b == 0xed)
				hi = 0x9f;
		} else if (b >= 0xf0 && b <= 0xf4) {
			more = 3;
			if (b == 0xf0)
				lo = 0x90;
			if (b == 0xf4)
				hi = 0x8f;
		} else {
			*bad = i;
			return false;
		}
		if (n - i <= more || s[i + 1] < lo || s[i + 1] > hi) {
			*bad = i;
			return false;
		}
		for (size_t k = 2; k <= more; k++) {
			if ((s[i + k] & 0xc0) != 0x80) {
				*bad = i;
				return false;
			}
		}
		i += more + 1;
	}
	return true;
}

/* ---- field validators: NULL when fine, else a static reason ---- */

static const char *
cfg_shard_name_reason(const char *s, size_t n)
{
	if (n == 0 || n >= CONFIG_NAME_MAX)
		return "a shard name is 1-63 characters";
	for (size_t i = 0; i < n; i++)
		if (!cfg_is_alnum(s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
			return "a shard name may hold only A-Z a-z 0-9 . _ -";
	return NULL;
}

static const char *
cfg_prefix_reason(const char *s, size_t n)
{
	if (n == 0)
		return NULL; /* the root */
	if (n >= CONFIG_PREFIX_MAX)
		return "longer than 127 bytes";
	if (s[0] != '/')
		return "must be empty (the root) or start with '/'";
	if (s[n - 1] == '/')
		return "must not end with '/' (an empty prefix is the root)";
	size_t seg = 1;
	for (size_t i = 1; i <= n; i++) {
		if (i == n || s[i] == '/') {
			size_t len = i - seg;
			if (len == 0)
				return "must not contain '//'";
			if ((len == 1 && s[seg] == '.') ||
			    (len == 2 && s[seg] == '.' && s[seg + 1] == '.'))
				return "must not have '.' or '..' segments";
			seg = i + 1;
		} else if (!cfg_is_alnum(s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-') {
			return "may hold only A-Z a-z 0-9 . _ - and '/'";
		}
	}
	return NULL;
}

static const char *
cfg_origin_reason(const char *s, size_t n)
{
	if (n == 0)
		return "must not be empty";
	if (n >= CONFIG_ORIGIN_MAX)
		return "longer than 255 bytes";
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return "may hold only printable ASCII without spaces";
	for (size_t i = 0; i + 3 <= n; i++)
		if (memcmp(s + i, "://", 3) == 0)
			return "is written without a scheme (\"log.example.org/2026h1\")";
	return NULL;
}

/* A CPU list "0-3,6": items N or N-M (N <= M), CPUs below 1024, none twice. */
static const char *
cfg_cpus_reason(const char *s, size_t n, unsigned *count)
{
	uint64_t seen[CFG_CPU_LIMIT / 64] = {0};
	unsigned total = 0;
	*count = 0;
	if (n == 0)
		return NULL; /* all CPUs the process may run on */
	size_t i = 0;
	while (i <= n) {
		size_t end = i;
		while (end < n && s[end] != ',')
			end++;
		if (end == i)
			return "an empty item in the CPU list";
		const char *dash = memchr(s + i, '-', end - i);
		size_t alen = dash ? (size_t)(dash - (s + i)) : end - i;
		unsigned long long a, b;
		if (!cfg_decimal(s + i, alen, CFG_CPU_LIMIT - 1, &a))
			return "a CPU list is N or N-M items, N below 1024, separated by ','";
		b = a;
		if (dash && !cfg_decimal(dash + 1, end - i - alen - 1, CFG_CPU_LIMIT - 1, &b))
			return "a CPU list is N or N-M items, N below 1024, separated by ','";
		if (b < a)
			return "a range N-M needs N <= M";
		for (unsigned long long cpu = a; cpu <= b; cpu++) {
			if (seen[cpu / 64] >> (cpu % 64) & 1)
				return "a CPU is listed twice";
			seen[cpu / 64] |= (uint64_t)1 << (cpu % 64);
			total++;
		}
		i = end + 1;
	}
	*count = total;
	return NULL;
}

static const char *
cfg_eal_args_reason(const char *s, size_t n)
{
	if (n >= CONFIG_EAL_MAX)
		return "longer than 511 bytes";
	for (size_t i = 0; i < n; i++)
		if (s[i] == '"' || s[i] == '\'' || s[i] == '\\')
			return "quotes and '\\' are not interpreted (arguments are split at "
			       "spaces)";
	return NULL;
}

static bool
cfg_log_level_ok(const char *s, size_t n)
{
	return cfg_eq(s, n, "debug") || cfg_eq(s, n, "info") || cfg_eq(s, n, "warn") ||
	       cfg_eq(s, n, "error");
}

/* A host name: labels of 1-63 A-Z a-z 0-9 -, not starting or ending with '-', separated by
 * single dots (no final dot). */
static const char *
cfg_hostname_reason(const char *s, size_t n)
{
	size_t label = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			size_t len = i - label;
			if (len == 0 || len > 63)
				return "not a host name (a label is 1-63 characters)";
			if (s[label] == '-' || s[i - 1] == '-')
				return "not a host name (a label starts and ends with a letter or "
				       "digit)";
			label = i + 1;
		} else if (!cfg_is_alnum(s[i]) && s[i] != '-') {
			return "not a host name or address";
		}
	}
	return NULL;
}

/* A host as struct config_listen stores it: an IPv6 literal (it has a ':'), an IPv4 literal
 * (only digits and dots) or a host name (cfg_hostname_reason). */
static const char *
cfg_host_reason(const char *s, size_t n)
{
	char buf[CFG_HOST_MAX];
	unsigned char addr[16];
	if (n == 0)
		return "the host is empty (0.0.0.0 or [::] listens on every address)";
	if (n >= CFG_HOST_MAX)
		return "the host is longer than 63 bytes";
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (memchr(s, ':', n))
		return inet_pton(AF_INET6, buf, addr) == 1 ? NULL : "not an IPv6 address";
	bool numeric = true;
	for (size_t i = 0; i < n && numeric; i++)
		numeric = cfg_is_digit(s[i]) || s[i] == '.';
	if (numeric)
		return inet_pton(AF_INET, buf, addr) == 1 ? NULL : "not an IPv4 address";
	return cfg_hostname_reason(s, n);
}

/* The description in the log list: printable UTF-8 that needs no JSON escape. */
static const char *
cfg_description_reason(const char *s, size_t n)
{
	size_t bad;
	if (n == 0)
		return "must not be empty";
	if (n >= CONFIG_DESCRIPTION_MAX)
		return "longer than 255 bytes";
	if (!cfg_utf8(s, n, &bad))
		return "not UTF-8 text";
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		/* C0, DEL, and C1 (U+0080..U+009F: 0xc2 0x80..0x9f; the text is UTF-8, so 0xc2
		 * here always starts a character). */
		if (ch < 0x20 || ch == 0x7f || (ch == 0xc2 && (unsigned char)s[i + 1] < 0xa0))
			return "must not hold control characters (a tab included)";
		if (ch == '"' || ch == '\\')
			return "must not hold '\"' or '\\' (it goes into JSON as it is)";
	}
	if (s[0] == ' ' || s[n - 1] == ' ')
		return "must not start or end with a space";
	return NULL;
}

/* A url's host: a host name, an IPv4 address or a bracketed IPv6 one. (A name cannot pass
 * DNS's 253 bytes: the whole url has at most 255.) */
static const char *
cfg_url_host_reason(const char *s, size_t n)
{
	char buf[CFG_HOST_MAX];
	unsigned char addr[16];
	if (n == 0)
		return "has no host";
	if (s[0] == '[') {
		if (n < 4 || s[n - 1] != ']' || n - 2 >= sizeof buf || !memchr(s, ':', n))
			return "not an IPv6 address in brackets";
		memcpy(buf, s + 1, n - 2);
		buf[n - 2] = '\0';
		return inet_pton(AF_INET6, buf, addr) == 1 ? NULL
		                                           : "not an IPv6 address in brackets";
	}
	bool numeric = true;
	for (size_t i = 0; i < n && numeric; i++)
		numeric = cfg_is_digit(s[i]) || s[i] == '.';
	if (numeric) {
		if (n >= sizeof buf)
			return "not an IPv4 address";
		memcpy(buf, s, n);
		buf[n] = '\0';
		return inet_pton(AF_INET, buf, addr) == 1 ? NULL : "not an IPv4 address";
	}
	return cfg_hostname_reason(s, n);
}

static bool
cfg_is_hex(char ch)
{
	return cfg_is_digit(ch) || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* One path segment (without its '/'): RFC 3986 pchar, not empty, not "." or "..". */
static const char *
cfg_url_segment_reason(const char *s, size_t n)
{
	if (n == 0)
		return "must not have '//' in its path";
	if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return "must not have '.' or '..' segments in its path";
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%') {
			if (n - i < 3 || !cfg_is_hex(s[i + 1]) || !cfg_is_hex(s[i + 2]))
				return "'%' in its path must start a %XX escape";
			i += 2;
		} else if (!cfg_is_alnum(s[i]) && !strchr("-._~!$&'()*+,;=:@", s[i])) {
			return "its path may hold only A-Z a-z 0-9 %XX and - . _ ~ ! $ & ' ( ) * + "
			       ", ; = : @";
		}
	}
	return NULL;
}

/* The log's public base URL; "" (the server derives it) is fine. */
static const char *
cfg_url_reason(const char *s, size_t n)
{
	if (n == 0)
		return NULL;
	if (n >= CONFIG_URL_MAX)
		return "longer than 255 bytes";
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return "may hold only printable ASCII without spaces";
		if (s[i] == '"' || s[i] == '\\')
			return "must not hold '\"' or '\\'";
		if (s[i] == '?' || s[i] == '#')
			return "must not have a query ('?') or a fragment ('#')";
	}
	size_t at;
	if (n >= 8 && memcmp(s, "https://", 8) == 0)
		at = 8;
	else if (n >= 7 && memcmp(s, "http://", 7) == 0)
		at = 7;
	else
		return "must start with https:// or http://";
	const char *path = memchr(s + at, '/', n - at);
	if (!path)
		return "needs a path after the host, ending in '/' (\"https://log.example.org/\")";
	const char *host = s + at;
	size_t hn = (size_t)(path - host);
	/* A port follows a ':' after the host (after its ']' for an IPv6 one). */
	const char *close = hn && host[0] == '[' ? memchr(host, ']', hn) : NULL;
	if (hn && host[0] == '[' && !close)
		return "not an IPv6 address in brackets";
	const char *from = close ? close : host;
	const char *colon = memchr(from, ':', hn - (size_t)(from - host));
	if (colon) {
		unsigned long long port;
		size_t pn = (size_t)(path - colon) - 1;
		if (memchr(colon + 1, ':', pn))
			return "an IPv6 host goes in brackets: https://[2001:db8::1]/";
		if (!cfg_decimal(colon + 1, pn, 65535, &port) || port < 1)
			return "the port must be an integer in 1..65535";
		hn = (size_t)(colon - host);
	}
	const char *r = cfg_url_host_reason(host, hn);
	if (r)
		return r;
	if (s[n - 1] != '/')
		return "must end with '/' (clients add ct/v1/... to it)";
	for (const char *seg = path + 1; seg < s + n;) {
		const char *end = memchr(seg, '/', (size_t)(s + n - seg));
		if ((r = cfg_url_segment_reason(seg, (size_t)(end - seg))))
			return r;
		seg = end + 1;
	}
	return NULL;
}

static unsigned
cfg_cpus_allowed(void)
{
	cpu_set_t set;
	long n = 0;
	if (sched_getaffinity(0, sizeof set, &set) == 0)
		n = CPU_COUNT(&set);
	if (n <= 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < (long)cfg_r_workers.min)
		n = (long)cfg_r_workers.min;
	if (n > (long)cfg_r_workers.max)
		n = (long)cfg_r_workers.max;
	return (unsigned)n;
}

/* ---- public: RFC 3339 and listen addresses ---- */

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant's
 * days_from_civil). */
static int64_t
cfg_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static unsigned
cfg_days_in_month(unsigned y, unsigned m)
{
	static const unsigned char days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : days[m - 1];
}

/* n digits at s, exactly. */
static bool
cfg_fixed(const char *s, size_t n, unsigned *out)
{
	unsigned v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!cfg_is_digit(s[i]))
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*out = v;
	return true;
}

int
config_parse_time(const char *s, size_t len, int64_t *out)
{
	unsigned y, mo, d, h, mi, sec, oh = 0, om = 0;
	int sign = 0;
	if (out)
		*out = 0;
	if (!s || !out || len < 20)
		return -EINVAL;
	if (!cfg_fixed(s, 4, &y) || s[4] != '-' || !cfg_fixed(s + 5, 2, &mo) || s[7] != '-' ||
	    !cfg_fixed(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    !cfg_fixed(s + 11, 2, &h) || s[13] != ':' || !cfg_fixed(s + 14, 2, &mi) ||
	    s[16] != ':' || !cfg_fixed(s + 17, 2, &sec))
		return -EINVAL;
	size_t i = 19;
	if (s[i] == '.') {
		size_t first = ++i;
		while (i < len && cfg_is_digit(s[i]))
			i++;
		if (i == first)
			return -EINVAL;
	}
	if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i < len && (s[i] == '+' || s[i] == '-')) {
		sign = s[i] == '+' ? 1 : -1;
		if (len - i < 6 || !cfg_fixed(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
		    !cfg_fixed(s + i + 4, 2, &om) || oh > 23 || om > 59)
			return -EINVAL;
		i += 6;
	} else {
		return -EINVAL;
	}
	if (i != len)
		return -EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > cfg_days_in_month(y, mo) || h > 23 || mi > 59 ||
	    sec > 60)
		return -EINVAL;
	int64_t t = cfg_days_from_civil(y, mo, d) * 86400 + (int64_t)h * 3600 + mi * 60 + sec;
	*out = t - sign * ((int64_t)oh * 3600 + om * 60);
	return 0;
}

int
config_parse_listen(const char *s, struct config_listen *l, const char **reason)
{
	const char *ignored;
	const char **why = reason ? reason : &ignored;
	*why = NULL;
	if (l)
		memset(l, 0, sizeof *l);
	if (!s || !l) {
		*why = "no address";
		return -EINVAL;
	}
	size_t n = strnlen(s, 2 * CFG_HOST_MAX);
	if (n >= 2 * CFG_HOST_MAX) {
		*why = "longer than an address can be";
		return -EINVAL;
	}
	const char *host, *port;
	size_t hlen;
	if (s[0] == '[') {
		const char *close = memchr(s, ']', n);
		if (!close || close[1] != ':') {
			*why = "expected [IPV6]:PORT";
			return -EINVAL;
		}
		host = s + 1;
		hlen = (size_t)(close - host);
		if (!memchr(host, ':', hlen)) {
			*why = "brackets are for IPv6 addresses only";
			return -EINVAL;
		}
		port = close + 2;
	} else {
		const char *colon = strrchr(s, ':');
		if (!colon) {
			*why = "expected HOST:PORT or [IPV6]:PORT";
			return -EINVAL;
		}
		host = s;
		hlen = (size_t)(colon - s);
		if (memchr(host, ':', hlen)) {
			*why = "an IPv6 address goes in brackets: [::1]:6962";
			return -EINVAL;
		}
		port = colon + 1;
	}
	const char *r = cfg_host_reason(host, hlen);
	if (r) {
		*why = r;
		return -EINVAL;
	}
	unsigned long long p;
	if (!cfg_decimal(port, strlen(port), 65535, &p)) {
		*why = "the port must be an integer in 0..65535";
		return -EINVAL;
	}
	memcpy(l->host, host, hlen);
	l->host[hlen] = '\0';
	l->port = (uint16_t)p;
	return 0;
}

/* ---- defaults ---- */

static void
cfg_shard_defaults(struct config_shard *h)
{
	memset(h, 0, sizeof *h);
	h->not_after_start = 0;
	h->not_after_end = INT64_MAX;
	h->batch_size = 1024;
	h->batch_deadline_ms = 10;
	h->pool = 4096;
	h->read_only = false;
	h->mmd = CFG_DEFAULT_MMD;
	/* description and url stay "": the description's default needs the name (config_parse
	 * fills it in), and an empty url is derived by the server. */
}

void
config_defaults(struct config *c)
{
	memset(c, 0, sizeof *c);
	memcpy(c->listen[0].host, "127.0.0.1", sizeof "127.0.0.1");
	c->listen[0].port = 6962;
	c->nlisten = 1;
	c->gateway_threads = 1;
	c->workers = cfg_cpus_allowed();
	c->max_connections = 4096;
	c->max_body = 524288;
	c->slot_bytes = 65536;
	c->tile_cache_mb = 32;
	memcpy(c->log_level, "info", sizeof "info");
	/* Every slot holds the shard defaults, so a config built from flags only fills in what
	 * it sets. */
	for (unsigned i = 0; i < CONFIG_SHARDS_MAX; i++)
		cfg_shard_defaults(&c->shard[i]);
	c->nshards = 0;
}

/* ---- the cross-field rules (and, for a config built from flags, every field) ---- */

struct cfg_checker {
	const struct config *c;
	const struct cfg_lines *ln; /* NULL: config_check(), no line numbers */
	const char *file;
	char *err;
	size_t err_len;
};

#define CFAIL(k, line, ...)                                                                        \
	cfg_err((k)->err, (k)->err_len, (k)->ln ? (k)->file : NULL, (line), __VA_ARGS__)

static unsigned
cfg_max(unsigned a, unsigned b)
{
	return a > b ? a : b;
}

/* The line of shard i's key, or of its header when the key was not given. */
static unsigned
cfg_hline(const struct cfg_checker *k, unsigned i, enum cfg_hkey key)
{
	if (!k->ln)
		return 0;
	return k->ln->hkey[i][key] ? k->ln->hkey[i][key] : k->c->shard[i].line;
}

static unsigned
cfg_sline(const struct cfg_checker *k, enum cfg_skey key)
{
	if (!k->ln)
		return 0;
	return k->ln->skey[key] ? k->ln->skey[key] : cfg_max(k->ln->server, 1);
}

/* " (first at line N)", or "" when there are no line numbers (config_check()). */
static const char *
cfg_first(const struct cfg_checker *k, unsigned line, char *buf, size_t cap)
{
	if (!k->ln)
		return "";
	snprintf(buf, cap, " (first at line %u)", line);
	return buf;
}

/* strnlen within the field, or -1 when it is not NUL-terminated. */
static long
cfg_field_len(const char *s, size_t cap)
{
	const char *z = memchr(s, '\0', cap);
	return z ? (long)(z - s) : -1;
}

static int
cfg_check_range(const struct cfg_checker *k, unsigned line, const char *section,
                const struct cfg_range *r, unsigned long long v)
{
	if (v >= r->min && v <= r->max)
		return 0;
	return CFAIL(k, line, "%s%s: must be an integer in %llu..%llu, got '%llu'", section, r->key,
	             r->min, r->max, v);
}

static int
cfg_check_server(const struct cfg_checker *k)
{
	const struct config *c = k->c;
	const struct cfg_lines *ln = k->ln;
	int rc;
	if (c->nlisten < 1 || c->nlisten > CONFIG_LISTEN_MAX)
		return CFAIL(k, cfg_sline(k, SK_LISTEN), "listen: %u addresses, must be 1..%d",
		             c->nlisten, CONFIG_LISTEN_MAX);
	for (unsigned i = 0; i < c->nlisten; i++) {
		const struct config_listen *l = &c->listen[i];
		unsigned line = ln ? ln->listen[i] : 0;
		long hlen = cfg_field_len(l->host, sizeof l->host);
		const char *r = hlen < 0 ? "the host is not NUL-terminated"
		                         : cfg_host_reason(l->host, (size_t)hlen);
		if (r)
			return CFAIL(k, line, "listen: %s", r);
		for (unsigned j = 0; j < i && l->port != 0; j++) {
			if (c->listen[j].port == l->port &&
			    strcmp(c->listen[j].host, l->host) == 0) {
				bool v6 = strchr(l->host, ':') != NULL;
				char first[32];
				return CFAIL(
				        k, line, "listen: %s%s%s:%u given twice%s", v6 ? "[" : "",
				        l->host, v6 ? "]" : "", l->port,
				        cfg_first(k, ln ? ln->listen[j] : 0, first, sizeof first));
			}
		}
	}
	if ((rc = cfg_check_range(k, cfg_sline(k, SK_GATEWAY_THREADS), "", &cfg_r_gateway_threads,
	                          c->gateway_threads)) ||
	    (rc = cfg_check_range(k, cfg_sline(k, SK_WORKERS), "", &cfg_r_workers, c->workers)) ||
	    (rc = cfg_check_range(k, cfg_sline(k, SK_MAX_CONNECTIONS), "", &cfg_r_max_connections,
	                          c->max_connections)) ||
	    (rc = cfg_check_range(k, cfg_sline(k, SK_MAX_BODY), "", &cfg_r_max_body,
	                          c->max_body)) ||
	    (rc = cfg_check_range(k, cfg_sline(k, SK_SLOT_BYTES), "", &cfg_r_slot_bytes,
	                          c->slot_bytes)) ||
	    (rc = cfg_check_range(k, cfg_sline(k, SK_TILE_CACHE_MB), "", &cfg_r_tile_cache_mb,
	                          c->tile_cache_mb)))
		return rc;
	long n = cfg_field_len(c->cpus, sizeof c->cpus);
	unsigned ncpus = 0;
	const char *r =
	        n < 0 ? "longer than 63 bytes" : cfg_cpus_reason(c->cpus, (size_t)n, &ncpus);
	if (r)
		return CFAIL(k, cfg_sline(k, SK_CPUS), "cpus: %s", r);
	if (ncpus > 0 && c->workers > ncpus)
		return CFAIL(k, ln ? cfg_max(cfg_sline(k, SK_WORKERS), cfg_sline(k, SK_CPUS)) : 0,
		             "workers: %u workers but cpus '%s' lists %u CPUs", c->workers, c->cpus,
		             ncpus);
	n = cfg_field_len(c->eal_args, sizeof c->eal_args);
	r = n < 0 ? "longer than 511 bytes" : cfg_eal_args_reason(c->eal_args, (size_t)n);
	if (r)
		return CFAIL(k, cfg_sline(k, SK_EAL_ARGS), "eal_args: %s", r);
	n = cfg_field_len(c->log_level, sizeof c->log_level);
	if (n < 0 || !cfg_log_level_ok(c->log_level, (size_t)n))
		return CFAIL(k, cfg_sline(k, SK_LOG_LEVEL),
		             "log_level: must be debug, info, warn or error");
	return 0;
}

/* A path field: present and NUL-terminated. */
static int
cfg_check_path(const struct cfg_checker *k, unsigned i, enum cfg_hkey key, const char *path,
               unsigned line)
{
	const char *name = k->c->shard[i].name;
	long n = cfg_field_len(path, CONFIG_PATH_MAX);
	if (n < 0)
		return CFAIL(k, line, "[shard %s]: %s: longer than %d bytes", name,
		             cfg_hkey_name[key], CONFIG_PATH_MAX - 1);
	if (n == 0)
		return CFAIL(k, line, "[shard %s]: %s is required", name, cfg_hkey_name[key]);
	return 0;
}

static int
cfg_check_shard(const struct cfg_checker *k, unsigned i)
{
	const struct config *c = k->c;
	const struct config_shard *h = &c->shard[i];
	char first[32];
	int rc;
	long n = cfg_field_len(h->name, sizeof h->name);
	const char *r = n < 0 ? "a shard name is 1-63 characters"
	                      : cfg_shard_name_reason(h->name, (size_t)n);
	if (r)
		return CFAIL(k, k->ln ? h->line : 0, "[shard]: %s", r);
	for (unsigned j = 0; j < i; j++)
		if (strcmp(c->shard[j].name, h->name) == 0)
			return CFAIL(k, k->ln ? h->line : 0, "[shard %s] given twice%s", h->name,
			             cfg_first(k, c->shard[j].line, first, sizeof first));

	n = cfg_field_len(h->prefix, sizeof h->prefix);
	r = n < 0 ? "longer than 127 bytes" : cfg_prefix_reason(h->prefix, (size_t)n);
	if (r)
		return CFAIL(k, cfg_hline(k, i, HK_PREFIX), "[shard %s]: prefix: '%s' %s", h->name,
		             n < 0 ? "" : h->prefix, r);
	for (unsigned j = 0; j < i; j++)
		if (strcmp(c->shard[j].prefix, h->prefix) == 0)
			return CFAIL(k, cfg_hline(k, i, HK_PREFIX),
			             "[shard %s]: prefix: '%s' is also the prefix of [shard %s]",
			             h->name, h->prefix, c->shard[j].name);

	if ((rc = cfg_check_path(k, i, HK_DATA, h->data, cfg_hline(k, i, HK_DATA))))
		return rc;
	for (unsigned j = 0; j < i; j++)
		if (strcmp(c->shard[j].data, h->data) == 0)
			return CFAIL(k, cfg_hline(k, i, HK_DATA),
			             "[shard %s]: data: '%.*s%s' is also the data of [shard %s]",
			             h->name, QUOTE(h->data, strlen(h->data)), c->shard[j].name);
	if ((rc = cfg_check_path(k, i, HK_KEY, h->key, cfg_hline(k, i, HK_KEY))))
		return rc;

	if (h->nroots < 1)
		return CFAIL(k, k->ln ? h->line : 0, "[shard %s]: roots is required", h->name);
	if (h->nroots > CONFIG_ROOTS_MAX)
		return CFAIL(k, 0, "[shard %s]: roots: %u files, the limit is %d", h->name,
		             h->nroots, CONFIG_ROOTS_MAX);
	for (unsigned a = 0; a < h->nroots; a++) {
		unsigned line = k->ln ? k->ln->roots[i][a] : 0;
		if ((rc = cfg_check_path(k, i, HK_ROOTS, h->roots[a], line)))
			return rc;
		for (unsigned b = 0; b < a; b++)
			if (strcmp(h->roots[a], h->roots[b]) == 0)
				return CFAIL(k, line, "[shard %s]: roots: '%.*s%s' given twice%s",
				             h->name, QUOTE(h->roots[a], strlen(h->roots[a])),
				             cfg_first(k, k->ln ? k->ln->roots[i][b] : 0, first,
				                       sizeof first));
	}

	n = cfg_field_len(h->origin, sizeof h->origin);
	r = n < 0 ? "longer than 255 bytes" : cfg_origin_reason(h->origin, (size_t)n);
	if (r)
		return CFAIL(k, cfg_hline(k, i, HK_ORIGIN), "[shard %s]: origin: %s", h->name, r);
	for (unsigned j = 0; j < i; j++)
		if (strcmp(c->shard[j].origin, h->origin) == 0)
			return CFAIL(k, cfg_hline(k, i, HK_ORIGIN),
			             "[shard %s]: origin: '%s' is also the origin of [shard %s]",
			             h->name, h->origin, c->shard[j].name);

	n = cfg_field_len(h->description, sizeof h->description);
	r = n < 0 ? "longer than 255 bytes" : cfg_description_reason(h->description, (size_t)n);
	if (r)
		return CFAIL(k, cfg_hline(k, i, HK_DESCRIPTION), "[shard %s]: description: %s",
		             h->name, r);
	n = cfg_field_len(h->url, sizeof h->url);
	r = n < 0 ? "longer than 255 bytes" : cfg_url_reason(h->url, (size_t)n);
	if (r)
		return CFAIL(k, cfg_hline(k, i, HK_URL), "[shard %s]: url: %s", h->name, r);
	for (unsigned j = 0; j < i && h->url[0]; j++)
		if (strcmp(c->shard[j].url, h->url) == 0)
			return CFAIL(k, cfg_hline(k, i, HK_URL),
			             "[shard %s]: url: '%s' is also the url of [shard %s]", h->name,
			             h->url, c->shard[j].name);

	if (h->not_after_start >= h->not_after_end) {
		bool end_later = !k->ln || k->ln->hkey[i][HK_NOT_AFTER_END] >=
		                                   k->ln->hkey[i][HK_NOT_AFTER_START];
		return CFAIL(k,
		             k->ln ? cfg_max(cfg_hline(k, i, HK_NOT_AFTER_START),
		                             cfg_hline(k, i, HK_NOT_AFTER_END))
		                   : 0,
		             "[shard %s]: %s", h->name,
		             end_later ? "not_after_end: must be later than not_after_start"
		                       : "not_after_start: must be earlier than not_after_end");
	}
	char section[CONFIG_NAME_MAX + 16];
	snprintf(section, sizeof section, "[shard %s]: ", h->name);
	if ((rc = cfg_check_range(k, cfg_hline(k, i, HK_BATCH_SIZE), section, &cfg_r_batch_size,
	                          h->batch_size)) ||
	    (rc = cfg_check_range(k, cfg_hline(k, i, HK_BATCH_DEADLINE_MS), section,
	                          &cfg_r_batch_deadline_ms, h->batch_deadline_ms)) ||
	    (rc = cfg_check_range(k, cfg_hline(k, i, HK_POOL), section, &cfg_r_pool, h->pool)) ||
	    (rc = cfg_check_range(k, cfg_hline(k, i, HK_MMD), section, &cfg_r_mmd, h->mmd)))
		return rc;
	/* The slots are allocated at start and touched as they are first used: cap their sum so
	 * that a typo (pool = 1048576 with slot_bytes = 1048576 is 1 TiB) fails here, not later. */
	if ((unsigned long long)h->pool * c->slot_bytes > CONFIG_SLOT_ARENA_MAX)
		return CFAIL(
		        k,
		        k->ln ? cfg_max(cfg_hline(k, i, HK_POOL), cfg_sline(k, SK_SLOT_BYTES)) : 0,
		        "[shard %s]: pool %u x slot_bytes %zu is more than %llu GiB of request "
		        "slots; lower pool or slot_bytes",
		        h->name, h->pool, c->slot_bytes, CONFIG_SLOT_ARENA_MAX >> 30);
	return 0;
}

static int
cfg_check_all(const struct config *c, const struct cfg_lines *ln, const char *file, char *err,
              size_t err_len)
{
	struct cfg_checker k = {.c = c, .ln = ln, .file = file, .err = err, .err_len = err_len};
	int rc = cfg_check_server(&k);
	if (rc)
		return rc;
	if (c->nshards < 1)
		return CFAIL(&k, ln ? cfg_max(ln->last, 1) : 0,
		             "no [shard NAME] section (at least one shard is needed)");
	if (c->nshards > CONFIG_SHARDS_MAX)
		return CFAIL(&k, 0, "%u shards, the limit is %d", c->nshards, CONFIG_SHARDS_MAX);
	for (unsigned i = 0; i < c->nshards; i++)
		if ((rc = cfg_check_shard(&k, i)))
			return rc;
	return 0;
}

int
config_check(const struct config *c, char *err, size_t err_len)
{
	if (err && err_len)
		err[0] = '\0';
	if (!c)
		return cfg_err(err, err_len, NULL, 0, "no configuration");
	return cfg_check_all(c, NULL, NULL, err, err_len);
}

/* ---- the parser ---- */

/* Copies v into dst (cap bytes with the NUL), or fails naming the key and the limit. */
static int
cfg_copy(struct cfg_parser *p, const char *key, char *dst, size_t cap, const char *v, size_t vn)
{
	if (vn >= cap)
		return PFAIL(p, "%s: longer than %zu bytes", key, cap - 1);
	memcpy(dst, v, vn);
	dst[vn] = '\0';
	return 0;
}

static int
cfg_uint(struct cfg_parser *p, const struct cfg_range *r, const char *v, size_t vn,
         unsigned long long *out)
{
	if (!cfg_decimal(v, vn, r->max, out) || *out < r->min)
		return PFAIL(p, "%s: must be an integer in %llu..%llu, got '%.*s%s'", r->key,
		             r->min, r->max, QUOTE(v, vn));
	return 0;
}

/* A path key: as written, or (config_load) relative to the config file's directory. */
static int
cfg_path(struct cfg_parser *p, const char *key, char *dst, const char *v, size_t vn)
{
	if (vn == 0)
		return PFAIL(p, "%s: must not be empty", key);
	size_t base = v[0] == '/' ? 0 : p->base_len;
	if (base + vn >= CONFIG_PATH_MAX) {
		if (base)
			return PFAIL(p, "%s: longer than %d bytes once made relative to '%.*s%s'",
			             key, CONFIG_PATH_MAX - 1, QUOTE(p->base, base));
		return PFAIL(p, "%s: longer than %d bytes", key, CONFIG_PATH_MAX - 1);
	}
	if (base)
		memcpy(dst, p->base, base);
	memcpy(dst + base, v, vn);
	dst[base + vn] = '\0';
	return 0;
}

static int
cfg_server_key(struct cfg_parser *p, const char *k, size_t kn, const char *v, size_t vn)
{
	struct config *c = p->c;
	int id = cfg_lookup(cfg_skey_name, SK_N, k, kn);
	if (id < 0) {
		bool shard_key = cfg_lookup(cfg_hkey_name, HK_N, k, kn) >= 0;
		return PFAIL(p, "unknown key '%.*s%s' in [server]%s", QUOTE(k, kn),
		             shard_key ? " (it belongs in a [shard NAME] section)" : "");
	}
	const char *key = cfg_skey_name[id];
	if (id != SK_LISTEN && p->ln.skey[id])
		return PFAIL(p, "%s: given twice in [server] (first at line %u)", key,
		             p->ln.skey[id]);
	if (!p->ln.skey[id])
		p->ln.skey[id] = p->line;
	unsigned long long u;
	const char *r;
	int rc;
	switch ((enum cfg_skey)id) {
	case SK_LISTEN: {
		char buf[CFG_LINE_MAX + 1];
		if (p->ln.skey[id] == p->line)
			c->nlisten = 0; /* the first listen replaces the default */
		if (c->nlisten == CONFIG_LISTEN_MAX)
			return PFAIL(p, "listen: more than %d addresses", CONFIG_LISTEN_MAX);
		memcpy(buf, v, vn);
		buf[vn] = '\0';
		if (config_parse_listen(buf, &c->listen[c->nlisten], &r) < 0)
			return PFAIL(p, "listen: %s, got '%.*s%s'", r, QUOTE(v, vn));
		p->ln.listen[c->nlisten++] = p->line;
		return 0;
	}
	case SK_GATEWAY_THREADS:
		rc = cfg_uint(p, &cfg_r_gateway_threads, v, vn, &u);
		c->gateway_threads = (unsigned)u;
		return rc;
	case SK_WORKERS:
		rc = cfg_uint(p, &cfg_r_workers, v, vn, &u);
		c->workers = (unsigned)u;
		return rc;
	case SK_CPUS: {
		unsigned ncpus;
		if (vn >= sizeof c->cpus)
			return PFAIL(p, "cpus: longer than %zu bytes", sizeof c->cpus - 1);
		if ((r = cfg_cpus_reason(v, vn, &ncpus)))
			return PFAIL(p, "cpus: %s, got '%.*s%s'", r, QUOTE(v, vn));
		return cfg_copy(p, key, c->cpus, sizeof c->cpus, v, vn);
	}
	case SK_EAL_ARGS:
		if (vn >= sizeof c->eal_args)
			return PFAIL(p, "eal_args: longer than %zu bytes", sizeof c->eal_args - 1);
		if ((r = cfg_eal_args_reason(v, vn)))
			return PFAIL(p, "eal_args: %s", r);
		return cfg_copy(p, key, c->eal_args, sizeof c->eal_args, v, vn);
	case SK_MAX_CONNECTIONS:
		rc = cfg_uint(p, &cfg_r_max_connections, v, vn, &u);
		c->max_connections = (unsigned)u;
		return rc;
	case SK_MAX_BODY:
		rc = cfg_uint(p, &cfg_r_max_body, v, vn, &u);
		c->max_body = (size_t)u;
		return rc;
	case SK_SLOT_BYTES:
		rc = cfg_uint(p, &cfg_r_slot_bytes, v, vn, &u);
		c->slot_bytes = (size_t)u;
		return rc;
	case SK_TILE_CACHE_MB:
		rc = cfg_uint(p, &cfg_r_tile_cache_mb, v, vn, &u);
		c->tile_cache_mb = (unsigned)u;
		return rc;
	case SK_LOG_LEVEL:
		if (!cfg_log_level_ok(v, vn))
			return PFAIL(p,
			             "log_level: must be debug, info, warn or error, got '%.*s%s'",
			             QUOTE(v, vn));
		return cfg_copy(p, key, c->log_level, sizeof c->log_level, v, vn);
	case SK_N:
		break;
	}
	return PFAIL(p, "unknown key '%.*s%s' in [server]", QUOTE(k, kn));
}

static int
cfg_shard_key(struct cfg_parser *p, const char *k, size_t kn, const char *v, size_t vn)
{
	struct config *c = p->c;
	unsigned i = c->nshards - 1;
	struct config_shard *h = &c->shard[i];
	int id = cfg_lookup(cfg_hkey_name, HK_N, k, kn);
	if (id < 0) {
		bool server_key = cfg_lookup(cfg_skey_name, SK_N, k, kn) >= 0;
		return PFAIL(p, "unknown key '%.*s%s' in [shard %s]%s", QUOTE(k, kn), h->name,
		             server_key ? " (it belongs in [server])" : "");
	}
	const char *key = cfg_hkey_name[id];
	if (id != HK_ROOTS && p->ln.hkey[i][id])
		return PFAIL(p, "%s: given twice in [shard %s] (first at line %u)", key, h->name,
		             p->ln.hkey[i][id]);
	if (!p->ln.hkey[i][id])
		p->ln.hkey[i][id] = p->line;
	unsigned long long u;
	const char *r;
	int rc;
	switch ((enum cfg_hkey)id) {
	case HK_PREFIX:
		if ((r = cfg_prefix_reason(v, vn)))
			return PFAIL(p, "prefix: %s, got '%.*s%s'", r, QUOTE(v, vn));
		return cfg_copy(p, key, h->prefix, sizeof h->prefix, v, vn);
	case HK_DATA:
		return cfg_path(p, key, h->data, v, vn);
	case HK_KEY:
		return cfg_path(p, key, h->key, v, vn);
	case HK_ROOTS:
		if (h->nroots == CONFIG_ROOTS_MAX)
			return PFAIL(p, "roots: more than %d files in [shard %s]", CONFIG_ROOTS_MAX,
			             h->name);
		if ((rc = cfg_path(p, key, h->roots[h->nroots], v, vn)))
			return rc;
		p->ln.roots[i][h->nroots++] = p->line;
		return 0;
	case HK_ORIGIN:
		if ((r = cfg_origin_reason(v, vn)))
			return PFAIL(p, "origin: %s, got '%.*s%s'", r, QUOTE(v, vn));
		return cfg_copy(p, key, h->origin, sizeof h->origin, v, vn);
	case HK_NOT_AFTER_START:
	case HK_NOT_AFTER_END: {
		int64_t t;
		if (config_parse_time(v, vn, &t) < 0)
			return PFAIL(p,
			             "%s: must be an RFC 3339 time such as 2026-01-01T00:00:00Z, "
			             "got '%.*s%s'",
			             key, QUOTE(v, vn));
		if (id == HK_NOT_AFTER_START)
			h->not_after_start = t;
		else
			h->not_after_end = t;
		return 0;
	}
	case HK_BATCH_SIZE:
		rc = cfg_uint(p, &cfg_r_batch_size, v, vn, &u);
		h->batch_size = (unsigned)u;
		return rc;
	case HK_BATCH_DEADLINE_MS:
		rc = cfg_uint(p, &cfg_r_batch_deadline_ms, v, vn, &u);
		h->batch_deadline_ms = (unsigned)u;
		return rc;
	case HK_POOL:
		rc = cfg_uint(p, &cfg_r_pool, v, vn, &u);
		h->pool = (unsigned)u;
		return rc;
	case HK_STATE:
		if (cfg_eq(v, vn, "usable"))
			h->read_only = false;
		else if (cfg_eq(v, vn, "read-only"))
			h->read_only = true;
		else
			return PFAIL(p, "state: must be usable or read-only, got '%.*s%s'",
			             QUOTE(v, vn));
		return 0;
	case HK_DESCRIPTION:
		if (vn == 0)
			return PFAIL(p, "description: must not be empty");
		if ((r = cfg_description_reason(v, vn)))
			return PFAIL(p, "description: %s, got '%.*s%s'", r, QUOTE(v, vn));
		return cfg_copy(p, key, h->description, sizeof h->description, v, vn);
	case HK_URL:
		if ((r = cfg_url_reason(v, vn)))
			return PFAIL(p, "url: %s, got '%.*s%s'", r, QUOTE(v, vn));
		return cfg_copy(p, key, h->url, sizeof h->url, v, vn);
	case HK_MMD:
		rc = cfg_uint(p, &cfg_r_mmd, v, vn, &u);
		h->mmd = (unsigned)u;
		return rc;
	case HK_N:
		break;
	}
	return PFAIL(p, "unknown key '%.*s%s' in [shard %s]", QUOTE(k, kn), h->name);
}

/* A "[...]" line (s..n trimmed, s[0] == '['). */
static int
cfg_section(struct cfg_parser *p, const char *s, size_t n)
{
	struct config *c = p->c;
	if (n < 2 || s[n - 1] != ']')
		return PFAIL(p, "a section header ends with ']', got '%.*s%s'", QUOTE(s, n));
	const char *in = s + 1;
	size_t inn = n - 2;
	cfg_trim(&in, &inn);
	if (cfg_eq(in, inn, "server")) {
		if (p->ln.server)
			return PFAIL(p, "[server] given twice (first at line %u)", p->ln.server);
		p->ln.server = p->line;
		p->sec = CFG_SEC_SERVER;
		return 0;
	}
	if (inn >= 5 && memcmp(in, "shard", 5) == 0 && (inn == 5 || cfg_is_space(in[5]))) {
		const char *name = in + 5;
		size_t nn = inn - 5;
		cfg_trim(&name, &nn);
		if (nn == 0)
			return PFAIL(p, "[shard] needs a name: [shard NAME]");
		const char *r = cfg_shard_name_reason(name, nn);
		if (r)
			return PFAIL(p, "[shard %.*s%s]: %s", QUOTE(name, nn), r);
		for (unsigned j = 0; j < c->nshards; j++)
			if (cfg_eq(name, nn, c->shard[j].name))
				return PFAIL(p, "[shard %.*s] given twice (first at line %u)",
				             (int)nn, name, c->shard[j].line);
		if (c->nshards == CONFIG_SHARDS_MAX)
			return PFAIL(p, "[shard %.*s]: more than %d shards", (int)nn, name,
			             CONFIG_SHARDS_MAX);
		struct config_shard *h = &c->shard[c->nshards++];
		cfg_shard_defaults(h);
		memcpy(h->name, name, nn);
		h->name[nn] = '\0';
		h->line = p->line;
		p->sec = CFG_SEC_SHARD;
		return 0;
	}
	return PFAIL(p, "unknown section '[%.*s%s]' (expected [server] or [shard NAME])",
	             QUOTE(in, inn));
}

/* One line, without its "\n". */
static int
cfg_feed(struct cfg_parser *p, const char *s, size_t n)
{
	p->line++;
	p->ln.last = p->line;
	if (n > 0 && s[n - 1] == '\r')
		n--;
	if (n > CFG_LINE_MAX)
		return PFAIL(p, "line longer than %d bytes", CFG_LINE_MAX);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == 0)
			return PFAIL(p, "NUL byte in the text (column %zu)", i + 1);
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return PFAIL(p, "control character 0x%02x in the text (column %zu)", ch,
			             i + 1);
	}
	size_t bad = 0;
	if (!cfg_utf8(s, n, &bad))
		return PFAIL(p, "not UTF-8 text (column %zu)", bad + 1);
	const char *hash = memchr(s, '#', n);
	if (hash)
		n = (size_t)(hash - s);
	cfg_trim(&s, &n);
	if (n == 0)
		return 0;
	if (s[0] == '[')
		return cfg_section(p, s, n);
	const char *eq = memchr(s, '=', n);
	if (!eq)
		return PFAIL(p, "expected 'key = value' or a [section], got '%.*s%s'", QUOTE(s, n));
	const char *k = s, *v = eq + 1;
	size_t kn = (size_t)(eq - s), vn = n - kn - 1;
	cfg_trim(&k, &kn);
	cfg_trim(&v, &vn);
	if (kn == 0)
		return PFAIL(p, "'=' without a key");
	switch (p->sec) {
	case CFG_SEC_SERVER:
		return cfg_server_key(p, k, kn, v, vn);
	case CFG_SEC_SHARD:
		return cfg_shard_key(p, k, kn, v, vn);
	case CFG_SEC_NONE:
		break;
	}
	return PFAIL(p, "%.*s%s: outside a section (keys go under [server] or [shard NAME])",
	             QUOTE(k, kn));
}

static void
cfg_begin(struct cfg_parser *p, struct config *c, const char *file, const char *base,
          size_t base_len, char *err, size_t err_len)
{
	memset(p, 0, sizeof *p);
	p->c = c;
	p->file = file ? file : "config";
	p->base = base;
	p->base_len = base_len;
	p->err = err;
	p->err_len = err_len;
	p->sec = CFG_SEC_NONE;
	if (err && err_len)
		err[0] = '\0';
	config_defaults(c);
}

static int
cfg_finish(struct cfg_parser *p)
{
	struct config *c = p->c;
	for (unsigned i = 0; i < c->nshards; i++) {
		struct config_shard *h = &c->shard[i];
		/* Fits: a name has at most 63 bytes, a prefix 127. */
		if (!p->ln.hkey[i][HK_PREFIX]) {
			h->prefix[0] = '/';
			memcpy(h->prefix + 1, h->name, strlen(h->name) + 1);
		}
		if (!p->ln.hkey[i][HK_ORIGIN]) {
			size_t o = sizeof CFG_DEFAULT_ORIGIN - 1;
			memcpy(h->origin, CFG_DEFAULT_ORIGIN, o);
			memcpy(h->origin + o, h->prefix, strlen(h->prefix) + 1);
		}
		/* Fits: "Birch log " and a name of at most 63 bytes. */
		if (!p->ln.hkey[i][HK_DESCRIPTION]) {
			size_t o = sizeof CFG_DEFAULT_DESC - 1;
			memcpy(h->description, CFG_DEFAULT_DESC, o);
			memcpy(h->description + o, h->name, strlen(h->name) + 1);
		}
	}
	if (!p->ln.skey[SK_WORKERS] && c->cpus[0]) {
		unsigned ncpus = 0;
		if (!cfg_cpus_reason(c->cpus, strlen(c->cpus), &ncpus) && ncpus > 0)
			c->workers =
			        ncpus > cfg_r_workers.max ? (unsigned)cfg_r_workers.max : ncpus;
	}
	return cfg_check_all(c, &p->ln, p->file, p->err, p->err_len);
}

int
config_parse(struct config *c, const char *text, size_t len, const char *name, char *err,
             size_t err_len)
{
	struct cfg_parser p;
	if (!c)
		return cfg_err(err, err_len, name, 0, "no configuration to fill");
	cfg_begin(&p, c, name, NULL, 0, err, err_len);
	if (!text)
		len = 0;
	size_t off = 0;
	while (off < len) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - (text + off)) : len - off;
		int rc = cfg_feed(&p, text + off, n);
		if (rc)
			return rc;
		off += n + (nl ? 1 : 0);
	}
	return cfg_finish(&p);
}

/* "PATH: what: strerror" and -e. */
static int
cfg_sys_err(char *err, size_t err_len, const char *path, const char *what, int e)
{
	char buf[128];
	const char *msg = strerror_r(e, buf, sizeof buf);
	cfg_err(err, err_len, NULL, 0, "%s: %s: %s", path, what, msg);
	return -e;
}

int
config_load(struct config *c, const char *path, char *err, size_t err_len)
{
	struct cfg_parser p;
	if (!c || !path)
		return cfg_err(err, err_len, NULL, 0, "config_load: no %s",
		               !c ? "configuration to fill" : "path");
	const char *slash = strrchr(path, '/');
	cfg_begin(&p, c, path, path, slash ? (size_t)(slash - path) + 1 : 0, err, err_len);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return cfg_sys_err(err, err_len, path, "cannot open", errno);

	/* Room for a whole line (CFG_LINE_MAX, a '\r' and the '\n') behind a partial one. */
	char buf[2 * (CFG_LINE_MAX + 2)];
	size_t have = 0, total = 0;
	bool eof = false;
	int rc = 0;
	for (;;) {
		size_t off = 0;
		const char *nl;
		while ((nl = memchr(buf + off, '\n', have - off))) {
			size_t n = (size_t)(nl - (buf + off));
			if ((rc = cfg_feed(&p, buf + off, n)))
				goto out;
			off += n + 1;
		}
		memmove(buf, buf + off, have - off);
		have -= off;
		if (have > CFG_LINE_MAX + 1) { /* no line end in sight: too long */
			rc = cfg_feed(&p, buf, have);
			goto out;
		}
		if (eof) {
			if (have && (rc = cfg_feed(&p, buf, have)))
				goto out;
			rc = cfg_finish(&p);
			goto out;
		}
		ssize_t r = read(fd, buf + have, sizeof buf - have);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			rc = cfg_sys_err(err, err_len, path, "cannot read", errno);
			goto out;
		}
		eof = r == 0;
		total += (size_t)r;
		if (total > CFG_FILE_MAX) {
			cfg_err(err, err_len, NULL, 0, "%s: larger than 1 MiB", path);
			rc = -EFBIG;
			goto out;
		}
		have += (size_t)r;
	}
out:
	close(fd);
	return rc;
}
