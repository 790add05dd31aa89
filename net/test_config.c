/* net/test_config.c: the `birch serve` configuration parser (net/config.h): every key, its
 * range and default, the messages (FILE:LINE: reason, naming the key), the cross-field rules,
 * RFC 3339 times against timegm(), listen addresses, and config_load() against config_parse()
 * on real files. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "net/config.h"
#include "tests/lib/check.h"
#include "tests/lib/tmpdir.h"

static struct config g_c, g_c2;
static char g_err[CONFIG_ERR_MAX], g_err2[CONFIG_ERR_MAX];

static const char minimal[] = "[shard a]\n"
                              "data = d\n"
                              "key = k.pem\n"
                              "roots = r.pem\n";

static int
parse(const char *text)
{
	return config_parse(&g_c, text, strlen(text), "birch.conf", g_err, sizeof g_err);
}

/* text must fail with exactly `want` as the message. */
static void
expect_err(const char *text, const char *want, int line)
{
	int rc = parse(text);
	CHECK(rc == -EINVAL, "line %d: rc %d, want -EINVAL", line, rc);
	CHECK(strcmp(g_err, want) == 0, "line %d: err\n  got  '%s'\n  want '%s'", line, g_err,
	      want);
}
#define EXPECT_ERR(text, want) expect_err((text), (want), __LINE__)

/* text must fail with a message that starts with `want`. */
static void
expect_err_prefix(const char *text, const char *want, int line)
{
	int rc = parse(text);
	CHECK(rc == -EINVAL, "line %d: rc %d, want -EINVAL", line, rc);
	CHECK(strncmp(g_err, want, strlen(want)) == 0, "line %d: err\n  got  '%s'\n  want '%s...'",
	      line, g_err, want);
}
#define EXPECT_ERR_PREFIX(text, want) expect_err_prefix((text), (want), __LINE__)

static void
expect_ok(const char *text, int line)
{
	int rc = parse(text);
	CHECK(rc == 0, "line %d: rc %d: %s", line, rc, g_err);
}
#define EXPECT_OK(text) expect_ok((text), __LINE__)

/* A minimal config followed by `extra` in its shard (lines 5 onwards). */
static const char *
with_shard_lines(const char *extra)
{
	static char buf[16384];
	snprintf(buf, sizeof buf, "%s%s", minimal, extra);
	return buf;
}

/* The source tree: __FILE__ is relative to the build directory (the test binary lives in
 * BUILD/net/) or absolute. */
static const char *
source_file(const char *rel)
{
	static char out[3 * PATH_MAX];
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s", __FILE__);
	char *slash = strrchr(dir, '/');
	if (!slash)
		check_harness("cannot tell the source directory from __FILE__");
	*slash = '\0'; /* .../net */
	if (dir[0] == '/') {
		snprintf(out, sizeof out, "%s/../%s", dir, rel);
	} else {
		char exe[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
		if (n <= 0)
			check_harness("cannot read /proc/self/exe");
		exe[n] = '\0';
		for (int up = 0; up < 2; up++) { /* BUILD/net/test_config -> BUILD */
			char *s = strrchr(exe, '/');
			if (!s)
				check_harness("unexpected test binary path");
			*s = '\0';
		}
		snprintf(out, sizeof out, "%s/%s/../%s", exe, dir, rel);
	}
	if (access(out, R_OK) != 0)
		check_harness("cannot find the source tree's birch.conf.example");
	return out;
}

static char *
read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		check_harness("cannot open a file the test reads");
	static char buf[1 << 16];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

static void
write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
		check_harness("cannot write a temporary file");
}

static unsigned
allowed_cpus(void)
{
	cpu_set_t set;
	long n = 0;
	if (sched_getaffinity(0, sizeof set, &set) == 0)
		n = CPU_COUNT(&set);
	if (n <= 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 128 ? 128 : (unsigned)n;
}

/* ---- the example file ---- */

static void
example_config_parses(void)
{
	const char *path = source_file("birch.conf.example");
	int rc = config_load(&g_c, path, g_err, sizeof g_err);
	CHECK(rc == 0, "config_load(%s): %d %s", path, rc, g_err);
	if (rc != 0)
		return;
	char dir[PATH_MAX + 256], want[PATH_MAX + 512];
	snprintf(dir, sizeof dir, "%s", path);
	*strrchr(dir, '/') = '\0';

	CHECK(g_c.nlisten == 1 && strcmp(g_c.listen[0].host, "127.0.0.1") == 0 &&
	              g_c.listen[0].port == 6962,
	      "listen default");
	CHECK(g_c.nshards == 3, "nshards %u", g_c.nshards);
	const char *names[3] = {"2026h1", "2026h2", "testlog"};
	for (unsigned i = 0; i < 3 && i < g_c.nshards; i++) {
		const struct config_shard *h = &g_c.shard[i];
		char s[128];
		CHECK(strcmp(h->name, names[i]) == 0, "shard %u name %s", i, h->name);
		snprintf(s, sizeof s, "/%s", names[i]);
		CHECK(strcmp(h->prefix, s) == 0, "shard %u prefix %s", i, h->prefix);
		snprintf(s, sizeof s, "birch.localhost/%s", names[i]);
		CHECK(strcmp(h->origin, s) == 0, "shard %u origin %s", i, h->origin);
		snprintf(s, sizeof s, "/var/lib/birch/%s", names[i]);
		CHECK(strcmp(h->data, s) == 0, "absolute data stays: %s", h->data);
		snprintf(want, sizeof want, "%s/%s.key.pem", dir, names[i]);
		CHECK(strcmp(h->key, want) == 0, "relative key resolved: %s", h->key);
		snprintf(want, sizeof want, "%s/roots.pem", dir);
		CHECK(h->nroots >= 1 && strcmp(h->roots[0], want) == 0, "roots[0] %s", h->roots[0]);
		CHECK(!h->read_only, "usable");
		snprintf(s, sizeof s, "Birch log %s", names[i]);
		CHECK(strcmp(h->description, s) == 0, "shard %u description %s", i, h->description);
		CHECK(h->url[0] == '\0' && h->mmd == 86400, "shard %u url '%s' (derived), mmd %u",
		      i, h->url, h->mmd);
	}
	if (g_c.nshards != 3)
		return;
	int64_t jan = 0, jul = 0, next = 0;
	CHECK(config_parse_time("2026-01-01T00:00:00Z", 20, &jan) == 0 &&
	              config_parse_time("2026-07-01T00:00:00Z", 20, &jul) == 0 &&
	              config_parse_time("2027-01-01T00:00:00Z", 20, &next) == 0,
	      "times");
	CHECK(g_c.shard[0].not_after_start == jan && g_c.shard[0].not_after_end == jul, "2026h1");
	CHECK(g_c.shard[1].not_after_start == jul && g_c.shard[1].not_after_end == next, "2026h2");
	CHECK(g_c.shard[2].not_after_start == 0 && g_c.shard[2].not_after_end == INT64_MAX,
	      "testlog has no window");
	snprintf(want, sizeof want, "%s/test-roots.pem", dir);
	CHECK(g_c.shard[2].nroots == 2 && strcmp(g_c.shard[2].roots[1], want) == 0,
	      "testlog has the extra test roots: %s", g_c.shard[2].roots[1]);
	CHECK(g_c.shard[2].batch_size == 256 && g_c.shard[2].pool == 1024, "testlog sizes");
}

/* The example documents every key, and each commented-out "# key = value" line is the true
 * default: uncommenting them all changes nothing but the server keys shown with examples. */
static void
example_shows_every_key_and_its_defaults(void)
{
	static const char *const keys[] = {
	        "listen",
	        "gateway_threads",
	        "workers",
	        "cpus",
	        "eal_args",
	        "max_connections",
	        "max_body",
	        "slot_bytes",
	        "log_level",
	        "tile_cache_mb",
	        "prefix",
	        "data",
	        "key",
	        "roots",
	        "origin",
	        "not_after_start",
	        "not_after_end",
	        "batch_size",
	        "batch_deadline_ms",
	        "pool",
	        "state",
	        "description",
	        "url",
	        "mmd",
	};
	size_t len;
	const char *text = read_all(source_file("birch.conf.example"), &len);
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		char pat[64];
		snprintf(pat, sizeof pat, "\n%s = ", keys[i]);
		char pat2[64];
		snprintf(pat2, sizeof pat2, "\n# %s = ", keys[i]);
		CHECK(strstr(text, pat) || strstr(text, pat2), "the example shows '%s'", keys[i]);
	}

	/* Uncomment every "# key = value" line. */
	static char on[1 << 16];
	size_t o = 0;
	for (size_t i = 0; i < len && o + 1 < sizeof on;) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - (text + i)) + 1 : len - i;
		const char *line = text + i;
		size_t skip = 0;
		if (n > 2 && line[0] == '#' && line[1] == ' ') {
			for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
				size_t kl = strlen(keys[k]);
				if (n > 2 + kl + 3 && memcmp(line + 2, keys[k], kl) == 0 &&
				    memcmp(line + 2 + kl, " = ", 3) == 0)
					skip = 2;
			}
		}
		if (o + n - skip < sizeof on) {
			memcpy(on + o, line + skip, n - skip);
			o += n - skip;
		}
		i += n;
	}
	on[o] = '\0';
	int rc1 = config_parse(&g_c, text, len, "example", g_err, sizeof g_err);
	int rc2 = config_parse(&g_c2, on, o, "example-uncommented", g_err2, sizeof g_err2);
	CHECK(rc1 == 0, "example: %s", g_err);
	CHECK(rc2 == 0, "example, defaults uncommented: %s", g_err2);
	if (rc1 || rc2)
		return;
	CHECK(g_c2.nlisten == 2, "both example listen lines");
	CHECK(g_c2.nshards == g_c.nshards, "same shards");
	for (unsigned i = 0; i < g_c.nshards && i < g_c2.nshards; i++)
		CHECK(memcmp(&g_c.shard[i], &g_c2.shard[i], sizeof g_c.shard[i]) == 0,
		      "shard %u: the commented values are the defaults", i);
	CHECK(g_c2.gateway_threads == g_c.gateway_threads && g_c2.max_body == g_c.max_body &&
	              g_c2.max_connections == g_c.max_connections &&
	              g_c2.slot_bytes == g_c.slot_bytes &&
	              strcmp(g_c2.log_level, g_c.log_level) == 0,
	      "server defaults as shown");
}

/* ---- defaults and keys ---- */

static void
defaults_apply_without_server_section(void)
{
	EXPECT_OK(minimal);
	CHECK(g_c.nlisten == 1 && strcmp(g_c.listen[0].host, "127.0.0.1") == 0 &&
	              g_c.listen[0].port == 6962,
	      "listen 127.0.0.1:6962");
	CHECK(g_c.gateway_threads == 1, "gateway_threads");
	CHECK(g_c.workers == allowed_cpus(), "workers %u, cpus allowed %u", g_c.workers,
	      allowed_cpus());
	CHECK(g_c.cpus[0] == '\0' && g_c.eal_args[0] == '\0', "cpus, eal_args empty");
	CHECK(g_c.max_connections == 4096 && g_c.max_body == 524288 && g_c.slot_bytes == 65536 &&
	              g_c.tile_cache_mb == 32,
	      "sizes");
	CHECK(strcmp(g_c.log_level, "info") == 0, "log_level");
	CHECK(g_c.nshards == 1, "one shard");
	const struct config_shard *h = &g_c.shard[0];
	CHECK(strcmp(h->name, "a") == 0 && strcmp(h->prefix, "/a") == 0, "prefix /NAME");
	CHECK(strcmp(h->origin, "birch.localhost/a") == 0, "origin %s", h->origin);
	CHECK(strcmp(h->data, "d") == 0 && strcmp(h->key, "k.pem") == 0 && h->nroots == 1 &&
	              strcmp(h->roots[0], "r.pem") == 0,
	      "paths as written by config_parse");
	CHECK(h->not_after_start == 0 && h->not_after_end == INT64_MAX, "no window");
	CHECK(h->batch_size == 1024 && h->batch_deadline_ms == 10 && h->pool == 4096, "sizes");
	CHECK(!h->read_only && h->line == 1, "usable; line 1");
	CHECK(strcmp(h->description, "Birch log a") == 0, "description %s", h->description);
	CHECK(h->url[0] == '\0', "url empty (the server derives it): %s", h->url);
	CHECK(h->mmd == 86400, "mmd %u", h->mmd);

	/* An empty [server] is the same as none. */
	static char buf[256];
	snprintf(buf, sizeof buf, "[server]\n%s", minimal);
	struct config *c2 = &g_c2;
	CHECK(config_parse(c2, buf, strlen(buf), "x", g_err2, sizeof g_err2) == 0, "%s", g_err2);
	c2->shard[0].line = 1;
	CHECK(memcmp(&g_c, c2, sizeof g_c) == 0, "empty [server] changes nothing");
}

static void
every_key_is_read(void)
{
	EXPECT_OK("[server]\n"
	          "listen = [::1]:7000\n"
	          "listen = localhost:0\n"
	          "gateway_threads = 4\n"
	          "workers = 3\n"
	          "cpus = 0-3,6\n"
	          "eal_args = --no-huge --no-shconf -m 256\n"
	          "max_connections = 1000000\n"
	          "max_body = 16777216\n"
	          "slot_bytes = 8192\n"
	          "log_level = debug\n"
	          "tile_cache_mb = 512\n"
	          "[shard x.y_z-1]\n"
	          "prefix = /logs/x\n"
	          "data = /srv/x\n"
	          "key = /etc/x.pem\n"
	          "roots = /etc/r1.pem\n"
	          "origin = ct.example.org/x\n"
	          "not_after_start = 2026-01-01T00:00:00Z\n"
	          "not_after_end = 2026-07-01T00:00:00+02:00\n"
	          "batch_size = 65536\n"
	          "batch_deadline_ms = 1000\n"
	          "pool = 16\n"
	          "state = read-only\n"
	          "description = Example \xc3\xa9 log 'x' (2026) & <co> \xe2\x80\x94 #1\n"
	          "url = https://ct.example.org:8443/logs/x/\n"
	          "mmd = 604800\n");
	CHECK(g_c.nlisten == 2 && strcmp(g_c.listen[0].host, "::1") == 0 &&
	              g_c.listen[0].port == 7000 && strcmp(g_c.listen[1].host, "localhost") == 0 &&
	              g_c.listen[1].port == 0,
	      "listen");
	CHECK(g_c.gateway_threads == 4 && g_c.workers == 3, "threads");
	CHECK(strcmp(g_c.cpus, "0-3,6") == 0, "cpus");
	CHECK(strcmp(g_c.eal_args, "--no-huge --no-shconf -m 256") == 0, "eal_args");
	CHECK(g_c.max_connections == 1000000 && g_c.max_body == 16777216 && g_c.slot_bytes == 8192,
	      "sizes");
	CHECK(strcmp(g_c.log_level, "debug") == 0 && g_c.tile_cache_mb == 512,
	      "log_level, tile_cache_mb");
	const struct config_shard *h = &g_c.shard[0];
	CHECK(strcmp(h->name, "x.y_z-1") == 0 && strcmp(h->prefix, "/logs/x") == 0, "name, prefix");
	CHECK(strcmp(h->origin, "ct.example.org/x") == 0, "origin");
	CHECK(h->not_after_start == 1767225600 && h->not_after_end == 1782864000 - 7200,
	      "window %lld %lld", (long long)h->not_after_start, (long long)h->not_after_end);
	CHECK(h->batch_size == 65536 && h->batch_deadline_ms == 1000 && h->pool == 16, "sizes");
	CHECK(h->read_only, "read-only");
	/* '#' starts a comment, even in a description. */
	CHECK(strcmp(h->description, "Example \xc3\xa9 log 'x' (2026) & <co> \xe2\x80\x94") == 0,
	      "description '%s'", h->description);
	CHECK(strcmp(h->url, "https://ct.example.org:8443/logs/x/") == 0, "url %s", h->url);
	CHECK(h->mmd == 604800, "mmd %u", h->mmd);

	EXPECT_OK(with_shard_lines("state = usable\n"));
	CHECK(!g_c.shard[0].read_only, "usable");
	EXPECT_ERR(with_shard_lines("state = readonly\n"),
	           "birch.conf:5: state: must be usable or read-only, got 'readonly'");
	static const char *const levels[] = {"debug", "info", "warn", "error"};
	for (int i = 0; i < 4; i++) {
		static char buf[256];
		snprintf(buf, sizeof buf, "[server]\nlog_level = %s\n%s", levels[i], minimal);
		EXPECT_OK(buf);
		CHECK(strcmp(g_c.log_level, levels[i]) == 0, "log_level %s", levels[i]);
	}
	EXPECT_ERR("[server]\nlog_level = warning\n",
	           "birch.conf:2: log_level: must be debug, info, warn or error, got 'warning'");
}

static void
unknown_key_is_an_error_naming_it(void)
{
	EXPECT_ERR("[shard 2026h1]\n"
	           "data = d\n"
	           "bach_size = 10\n",
	           "birch.conf:3: unknown key 'bach_size' in [shard 2026h1]");
	EXPECT_ERR("[server]\nworkers = 2\nthreads = 2\n",
	           "birch.conf:3: unknown key 'threads' in [server]");
	EXPECT_ERR("[server]\nbatch_size = 2\n", "birch.conf:2: unknown key 'batch_size' in "
	                                         "[server] (it belongs in a [shard NAME] section)");
	EXPECT_ERR(with_shard_lines("listen = 127.0.0.1:1\n"),
	           "birch.conf:5: unknown key 'listen' in [shard a] (it belongs in [server])");
	EXPECT_ERR(with_shard_lines("Data = x\n"), "birch.conf:5: unknown key 'Data' in [shard a]");
	EXPECT_ERR("[server]\nurl = https://x/\n", "birch.conf:2: unknown key 'url' in [server] "
	                                           "(it belongs in a [shard NAME] section)");
	EXPECT_ERR("[servr]\n", "birch.conf:1: unknown section '[servr]' (expected [server] or "
	                        "[shard NAME])");
	EXPECT_ERR("\n\n[shards a]\n", "birch.conf:3: unknown section '[shards a]' (expected "
	                               "[server] or [shard NAME])");
	EXPECT_ERR("[server x]\n", "birch.conf:1: unknown section '[server x]' (expected [server] "
	                           "or [shard NAME])");
	EXPECT_ERR("data = d\n[shard a]\n", "birch.conf:1: data: outside a section (keys go under "
	                                    "[server] or [shard NAME])");
}

static void
repeated_key_is_an_error_with_its_line(void)
{
	EXPECT_ERR(with_shard_lines("batch_size = 8\n# a comment\nbatch_size = 9\n"),
	           "birch.conf:7: batch_size: given twice in [shard a] (first at line 5)");
	EXPECT_ERR(with_shard_lines("data = e\n"),
	           "birch.conf:5: data: given twice in [shard a] (first at line 2)");
	EXPECT_ERR(with_shard_lines("url =\nurl = https://x/\n"),
	           "birch.conf:6: url: given twice in [shard a] (first at line 5)");
	EXPECT_ERR("[server]\nworkers = 1\n\nworkers = 1\n",
	           "birch.conf:4: workers: given twice in [server] (first at line 2)");
	EXPECT_ERR("[server]\n[server]\n", "birch.conf:2: [server] given twice (first at line 1)");
	EXPECT_ERR(with_shard_lines("[shard a]\n"),
	           "birch.conf:5: [shard a] given twice (first at line 1)");
	/* The same key in two shards is two keys. */
	EXPECT_OK(with_shard_lines("batch_size = 8\n[shard b]\ndata = e\nkey = k.pem\nroots = "
	                           "r.pem\nbatch_size = 8\n"));
}

static void
roots_repeat_up_to_the_limit(void)
{
	static char buf[4096];
	size_t o = (size_t)snprintf(buf, sizeof buf, "[shard a]\ndata = d\nkey = k\n");
	for (int i = 0; i < CONFIG_ROOTS_MAX; i++)
		o += (size_t)snprintf(buf + o, sizeof buf - o, "roots = r%d.pem\n", i);
	EXPECT_OK(buf);
	CHECK(g_c.shard[0].nroots == CONFIG_ROOTS_MAX, "nroots %u", g_c.shard[0].nroots);
	for (unsigned i = 0; i < g_c.shard[0].nroots; i++) {
		char want[32];
		snprintf(want, sizeof want, "r%u.pem", i);
		CHECK(strcmp(g_c.shard[0].roots[i], want) == 0, "roots[%u] in order", i);
	}
	snprintf(buf + o, sizeof buf - o, "roots = r8.pem\n");
	EXPECT_ERR(buf, "birch.conf:12: roots: more than 8 files in [shard a]");

	EXPECT_ERR("[shard a]\ndata = d\nkey = k\nroots = r.pem\nroots = s.pem\nroots = r.pem\n",
	           "birch.conf:6: [shard a]: roots: 'r.pem' given twice (first at line 4)");
	EXPECT_ERR(with_shard_lines("roots =\n"), "birch.conf:5: roots: must not be empty");
}

static void
listen_repeats_up_to_the_limit(void)
{
	static char buf[4096];
	size_t o = (size_t)snprintf(buf, sizeof buf, "%s[server]\n", minimal);
	for (int i = 0; i < CONFIG_LISTEN_MAX; i++)
		o += (size_t)snprintf(buf + o, sizeof buf - o, "listen = 127.0.0.%d:%d\n", i + 1,
		                      8000 + i);
	EXPECT_OK(buf);
	CHECK(g_c.nlisten == CONFIG_LISTEN_MAX, "the first listen replaces the default");
	CHECK(strcmp(g_c.listen[0].host, "127.0.0.1") == 0 && g_c.listen[0].port == 8000 &&
	              strcmp(g_c.listen[7].host, "127.0.0.8") == 0 && g_c.listen[7].port == 8007,
	      "in order");
	snprintf(buf + o, sizeof buf - o, "listen = [::1]:1\n");
	EXPECT_ERR(buf, "birch.conf:14: listen: more than 8 addresses");

	EXPECT_ERR("[server]\nlisten = [::1]:80\nlisten = 127.0.0.1:80\nlisten = [::1]:80\n",
	           "birch.conf:4: listen: [::1]:80 given twice (first at line 2)");
	/* Port 0 twice is two ephemeral ports. */
	snprintf(buf, sizeof buf, "[server]\nlisten = 127.0.0.1:0\nlisten = 127.0.0.1:0\n%s",
	         minimal);
	EXPECT_OK(buf);
	EXPECT_ERR("[server]\nlisten = ::1:80\n", "birch.conf:2: listen: an IPv6 address goes in "
	                                          "brackets: [::1]:6962, got '::1:80'");
}

static void
integer_out_of_range_names_key_and_range(void)
{
	static char buf[1024];
	snprintf(buf, sizeof buf, "# comment\n\n%s\n\n\n\n\nbatch_size = 0\n", minimal);
	EXPECT_ERR(buf, "birch.conf:12: batch_size: must be an integer in 1..65536, got '0'");

	struct {
		const char *key;
		const char *value;
		const char *range;
		int server;
	} bad[] = {
	        {"batch_size", "65537", "1..65536", 0},
	        {"batch_size", "+5", "1..65536", 0},
	        {"batch_size", "-1", "1..65536", 0},
	        {"batch_size", "05", "1..65536", 0},
	        {"batch_size", "5 5", "1..65536", 0},
	        {"batch_size", "1e3", "1..65536", 0},
	        {"batch_size", "0x10", "1..65536", 0},
	        {"batch_size", "", "1..65536", 0},
	        {"batch_size", "99999999999999999999999999", "1..65536", 0},
	        {"batch_size", "18446744073709551617", "1..65536", 0},
	        {"batch_deadline_ms", "0", "1..1000", 0},
	        {"batch_deadline_ms", "1001", "1..1000", 0},
	        {"pool", "15", "16..1048576", 0},
	        {"pool", "1048577", "16..1048576", 0},
	        {"mmd", "0", "1..604800", 0},
	        {"mmd", "604801", "1..604800", 0},
	        {"mmd", "86400s", "1..604800", 0},
	        {"gateway_threads", "0", "1..64", 1},
	        {"gateway_threads", "65", "1..64", 1},
	        {"workers", "0", "1..128", 1},
	        {"workers", "129", "1..128", 1},
	        {"max_connections", "0", "1..1000000", 1},
	        {"max_connections", "1000001", "1..1000000", 1},
	        {"max_body", "4095", "4096..16777216", 1},
	        {"max_body", "16777217", "4096..16777216", 1},
	        {"max_body", "512k", "4096..16777216", 1},
	        {"slot_bytes", "8191", "8192..1048576", 1},
	        {"slot_bytes", "1048577", "8192..1048576", 1},
	        {"tile_cache_mb", "65537", "0..65536", 1},
	        {"tile_cache_mb", "-1", "0..65536", 1},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char want[256];
		if (bad[i].server)
			snprintf(buf, sizeof buf, "[server]\n%s = %s\n%s", bad[i].key, bad[i].value,
			         minimal);
		else
			snprintf(buf, sizeof buf, "%s%s = %s\n", minimal, bad[i].key, bad[i].value);
		snprintf(want, sizeof want, "birch.conf:%d: %s: must be an integer in %s, got '%s'",
		         bad[i].server ? 2 : 5, bad[i].key, bad[i].range, bad[i].value);
		expect_err(buf, want, __LINE__);
	}
	struct {
		const char *key;
		const char *value;
		int server;
	} edge[] = {
	        {"batch_size", "1", 0},
	        {"batch_size", "65536", 0},
	        {"batch_deadline_ms", "1", 0},
	        {"batch_deadline_ms", "1000", 0},
	        {"pool", "16", 0},
	        {"pool", "262144", 0}, /* x 64 KiB slots = 16 GiB, the cap */
	        {"mmd", "1", 0},
	        {"mmd", "604800", 0},
	        {"gateway_threads", "1", 1},
	        {"gateway_threads", "64", 1},
	        {"workers", "1", 1},
	        {"workers", "128", 1},
	        {"max_connections", "1", 1},
	        {"max_connections", "1000000", 1},
	        {"max_body", "4096", 1},
	        {"max_body", "16777216", 1},
	        {"slot_bytes", "8192", 1},
	        {"slot_bytes", "1048576", 1},
	        {"tile_cache_mb", "0", 1},
	        {"tile_cache_mb", "65536", 1},
	};
	for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) {
		if (edge[i].server)
			snprintf(buf, sizeof buf, "[server]\n%s = %s\n%s", edge[i].key,
			         edge[i].value, minimal);
		else
			snprintf(buf, sizeof buf, "%s%s = %s\n", minimal, edge[i].key,
			         edge[i].value);
		expect_ok(buf, __LINE__);
	}
}

static void
slot_arena_over_16_gib_rejected(void)
{
	static char buf[512];
	snprintf(buf, sizeof buf, "%spool = 262145\n", minimal);
	EXPECT_ERR(buf, "birch.conf:5: [shard a]: pool 262145 x slot_bytes 65536 is more than 16 "
	                "GiB of request slots; lower pool or slot_bytes");
	snprintf(buf, sizeof buf, "[server]\nslot_bytes = 8192\n%spool = 1048576\n", minimal);
	EXPECT_OK(buf);
	snprintf(buf, sizeof buf, "[server]\nslot_bytes = 1048576\n%spool = 16385\n", minimal);
	EXPECT_ERR_PREFIX(buf, "birch.conf:7: [shard a]: pool 16385 x slot_bytes 1048576 ");
}

static void
cpus_list_bounds_workers(void)
{
	static char buf[512];
	snprintf(buf, sizeof buf, "[server]\ncpus = 0-3,6\n%s", minimal);
	EXPECT_OK(buf);
	CHECK(g_c.workers == 5, "workers default to the CPUs listed: %u", g_c.workers);
	snprintf(buf, sizeof buf, "[server]\ncpus = 0-1023\n%s", minimal);
	EXPECT_OK(buf);
	CHECK(g_c.workers == 128, "at most 128 workers by default: %u", g_c.workers);
	EXPECT_ERR("[server]\nworkers = 6\ncpus = 0-3\n",
	           "birch.conf:3: workers: 6 workers but cpus '0-3' lists 4 CPUs");
	EXPECT_ERR("[server]\ncpus = 0-3\nworkers = 6\n",
	           "birch.conf:3: workers: 6 workers but cpus '0-3' lists 4 CPUs");
	static const char *const bad[] = {"3-1", "0,0", "0-2,1", "1024", "0-", "-1",
	                                  ",",   "1,",  "1 2",   "a",    "01", "0-1024"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(buf, sizeof buf, "[server]\ncpus = %s\n", bad[i]);
		EXPECT_ERR_PREFIX(buf, "birch.conf:2: cpus: ");
		CHECK(strstr(g_err, bad[i]) != NULL, "quotes the value: %s", g_err);
	}
}

/* ---- RFC 3339 ---- */

/* The second computation: timegm() on the same fields, minus the offset. */
static int64_t
via_timegm(int y, int mo, int d, int h, int mi, int s, int off_min)
{
	struct tm tm = {0};
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	return (int64_t)timegm(&tm) - (int64_t)off_min * 60;
}

static void
rfc3339_known_answers(void)
{
	struct {
		const char *s;
		int y, mo, d, h, mi, sec, off_min;
		int64_t fixed; /* an independent constant, or -1 */
	} t[] = {
	        {"1970-01-01T00:00:00Z", 1970, 1, 1, 0, 0, 0, 0, 0},
	        {"2026-01-01T00:00:00Z", 2026, 1, 1, 0, 0, 0, 0, 1767225600},
	        {"2000-01-01T00:00:00Z", 2000, 1, 1, 0, 0, 0, 0, 946684800},
	        {"2038-01-19T03:14:08Z", 2038, 1, 19, 3, 14, 8, 0, 2147483648},
	        {"2024-02-29T12:34:56Z", 2024, 2, 29, 12, 34, 56, 0, 1709210096},
	        {"2000-02-29T23:59:59+01:00", 2000, 2, 29, 23, 59, 59, 60, -1},
	        {"1999-12-31T23:59:59.999-05:30", 1999, 12, 31, 23, 59, 59, -330, -1},
	        {"2026-07-01t00:00:00z", 2026, 7, 1, 0, 0, 0, 0, -1},
	        {"2026-07-01 00:00:00Z", 2026, 7, 1, 0, 0, 0, 0, -1},
	        {"2026-07-01T00:00:00-00:00", 2026, 7, 1, 0, 0, 0, 0, -1},
	        {"2026-07-01T00:00:00.123456789+23:59", 2026, 7, 1, 0, 0, 0, 23 * 60 + 59, -1},
	        {"1969-12-31T23:59:59Z", 1969, 12, 31, 23, 59, 59, 0, -1},
	        {"1900-03-01T00:00:00Z", 1900, 3, 1, 0, 0, 0, 0, -2203891200},
	        {"1600-02-29T00:00:00Z", 1600, 2, 29, 0, 0, 0, 0, -1},
	        {"0000-01-01T00:00:00Z", 0, 1, 1, 0, 0, 0, 0, -62167219200},
	        {"9999-12-31T23:59:59Z", 9999, 12, 31, 23, 59, 59, 0, 253402300799},
	        /* A leap second is the next second: 2017-01-01T00:00:00Z. */
	        {"2016-12-31T23:59:60Z", 2016, 12, 31, 23, 59, 60, 0, 1483228800},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		int64_t got = 1;
		int rc = config_parse_time(t[i].s, strlen(t[i].s), &got);
		int64_t want = via_timegm(t[i].y, t[i].mo, t[i].d, t[i].h, t[i].mi, t[i].sec,
		                          t[i].off_min);
		CHECK(rc == 0 && got == want, "%s: rc %d, %lld, timegm %lld", t[i].s, rc,
		      (long long)got, (long long)want);
		if (t[i].fixed != -1)
			CHECK(got == t[i].fixed, "%s: %lld, want %lld", t[i].s, (long long)got,
			      (long long)t[i].fixed);
	}
	/* The first and last day of every month of 1600..2400 (leap days included). */
	unsigned long mismatches = 0, cases = 0;
	for (int y = 1600; y <= 2400; y++) {
		for (int mo = 1; mo <= 12; mo++) {
			static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
			bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
			int last = mo == 2 && leap ? 29 : dim[mo - 1];
			int days[2] = {1, last};
			for (int k = 0; k < 2; k++) {
				char s[40];
				int h = (y * 7 + mo) % 24, mi = (y + mo * 13) % 60,
				    sec = (y * mo) % 60;
				snprintf(s, sizeof s, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, mo,
				         days[k], h, mi, sec);
				int64_t got;
				cases++;
				if (config_parse_time(s, strlen(s), &got) != 0 ||
				    got != via_timegm(y, mo, days[k], h, mi, sec, 0))
					mismatches++;
			}
		}
	}
	CHECK(mismatches == 0, "%lu of %lu dates differ from timegm()", mismatches, cases);
	/* len bounds the text: the same string with a shorter len is not a time. */
	int64_t got = 7;
	CHECK(config_parse_time("2026-01-01T00:00:00Zjunk", 20, &got) == 0 && got == 1767225600,
	      "len bounds the text");
}

static void
rfc3339_rejects_malformed(void)
{
	static const char *const bad[] = {
	        "",
	        "2026",
	        "2026-01-01",
	        "2026-01-01T00:00:00",
	        "2026-01-01T00:00Z",
	        "2026-1-01T00:00:00Z",
	        "26-01-01T00:00:00Z",
	        "20260-01-01T00:00:00Z",
	        "-2026-01-01T00:00:00Z",
	        "+2026-01-01T00:00:00Z",
	        "2026-00-01T00:00:00Z",
	        "2026-13-01T00:00:00Z",
	        "2026-01-00T00:00:00Z",
	        "2026-01-32T00:00:00Z",
	        "2026-02-29T00:00:00Z",
	        "2100-02-29T00:00:00Z",
	        "2026-04-31T00:00:00Z",
	        "2026-06-31T00:00:00Z",
	        "2026-01-01T24:00:00Z",
	        "2026-01-01T00:60:00Z",
	        "2026-01-01T00:00:61Z",
	        "2026-01-01T00:00:00.Z",
	        "2026-01-01T00:00:00,5Z",
	        "2026-01-01T00:00:00+0100",
	        "2026-01-01T00:00:00+01",
	        "2026-01-01T00:00:00+24:00",
	        "2026-01-01T00:00:00+01:60",
	        "2026-01-01T00:00:00+01:00Z",
	        "2026-01-01T00:00:00ZZ",
	        "2026-01-01T00:00:00Z ",
	        " 2026-01-01T00:00:00Z",
	        "2026-01-01X00:00:00Z",
	        "2026-01-01T00:00:00UTC",
	        "2026/01/01T00:00:00Z",
	        "2026-01-01T00-00-00Z",
	        "2026-01-0aT00:00:00Z",
	        "2026-01-01T0 :00:00Z",
	        "2026-01-01T00:00:00\xef\xbc\xba",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int64_t got = 42;
		int rc = config_parse_time(bad[i], strlen(bad[i]), &got);
		CHECK(rc == -EINVAL && got == 0, "'%s' accepted: rc %d, %lld", bad[i], rc,
		      (long long)got);
	}
	int64_t got = 42;
	CHECK(config_parse_time("2026-01-01T00:00:00Z", 19, &got) == -EINVAL, "len cut short");
	CHECK(config_parse_time("2026-01-01T00:00:00Z\0", 21, &got) == -EINVAL, "a NUL inside");
	CHECK(config_parse_time(NULL, 0, &got) == -EINVAL, "NULL");
	EXPECT_ERR(with_shard_lines("not_after_end = 2026-02-30T00:00:00Z\n"),
	           "birch.conf:5: not_after_end: must be an RFC 3339 time such as "
	           "2026-01-01T00:00:00Z, got '2026-02-30T00:00:00Z'");
}

/* ---- listen ---- */

static void
listen_forms(void)
{
	struct {
		const char *s;
		const char *host;
		unsigned port;
	} good[] = {
	        {"127.0.0.1:6962", "127.0.0.1", 6962},
	        {"[::1]:6962", "::1", 6962},
	        {"localhost:80", "localhost", 80},
	        {"0.0.0.0:0", "0.0.0.0", 0},
	        {"[::]:443", "::", 443},
	        {"[2001:db8::1]:65535", "2001:db8::1", 65535},
	        {"[::ffff:192.0.2.1]:1", "::ffff:192.0.2.1", 1},
	        {"log-1.example.org:8080", "log-1.example.org", 8080},
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		struct config_listen l;
		const char *why = "unset";
		int rc = config_parse_listen(good[i].s, &l, &why);
		CHECK(rc == 0 && strcmp(l.host, good[i].host) == 0 && l.port == good[i].port &&
		              why == NULL,
		      "%s: rc %d host '%s' port %u (%s)", good[i].s, rc, l.host, l.port,
		      why ? why : "");
	}
	static const char *const bad[] = {
	        "127.0.0.1",
	        "127.0.0.1:",
	        ":80",
	        "::1:80",
	        "[::1]80",
	        "[::1]",
	        "[::1:80",
	        "[127.0.0.1]:80",
	        "[zz::1]:80",
	        "[::1]:65536",
	        "host:-1",
	        "host:+1",
	        "host:08",
	        "host:80 ",
	        " host:80",
	        "256.1.1.1:80",
	        "1.2.3:80",
	        "-bad.example:80",
	        "bad-.example:80",
	        "a..b:80",
	        "a.:80",
	        "a_b:80",
	        "a b:80",
	        "[fe80::1%eth0]:80",
	        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx:80",
	        "",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct config_listen l;
		memset(&l, 0x5a, sizeof l);
		const char *why = NULL;
		int rc = config_parse_listen(bad[i], &l, &why);
		CHECK(rc == -EINVAL && why != NULL && l.host[0] == '\0' && l.port == 0,
		      "'%s' accepted: rc %d (host '%.8s')", bad[i], rc, l.host);
	}
	struct config_listen l;
	CHECK(config_parse_listen(NULL, &l, NULL) == -EINVAL, "NULL text, NULL reason");
	/* A 63-byte host name fits; 64 does not (checked above). */
	CHECK(config_parse_listen(
	              "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx:1", &l,
	              NULL) == 0 &&
	              strlen(l.host) == 63,
	      "63-byte host");
}

/* ---- cross-field rules ---- */

static void
duplicate_shard_prefix_rejected(void)
{
	EXPECT_ERR("[shard a]\ndata = d\nkey = k\nroots = r\nprefix = /x\n"
	           "[shard b]\ndata = e\nkey = k\nroots = r\nprefix = /x\n",
	           "birch.conf:10: [shard b]: prefix: '/x' is also the prefix of [shard a]");
	/* A default prefix ("/b") against an explicit one: reported at the later header. */
	EXPECT_ERR("[shard a]\ndata = d\nkey = k\nroots = r\nprefix = /b\n"
	           "[shard b]\ndata = e\nkey = k\nroots = r\n",
	           "birch.conf:6: [shard b]: prefix: '/b' is also the prefix of [shard a]");
	/* The root prefix, written as an empty value. */
	EXPECT_OK(with_shard_lines("prefix =\n"));
	CHECK(g_c.shard[0].prefix[0] == '\0' && strcmp(g_c.shard[0].origin, "birch.localhost") == 0,
	      "root prefix, origin %s", g_c.shard[0].origin);
	EXPECT_ERR("[shard a]\ndata = d\nkey = k\nroots = r\nprefix =\n"
	           "[shard b]\ndata = e\nkey = k\nroots = r\nprefix =   # the root too\n",
	           "birch.conf:10: [shard b]: prefix: '' is also the prefix of [shard a]");

	static const char *const good[] = {"/a", "/a/b", "/a.b_c-D9", "/2026/h1", "/...", "/.a"};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		static char buf[256];
		snprintf(buf, sizeof buf, "%sprefix = %s\n", minimal, good[i]);
		EXPECT_OK(buf);
		CHECK(strcmp(g_c.shard[0].prefix, good[i]) == 0, "prefix %s", good[i]);
	}
	static const char *const bad[] = {"/",     "a",   "/a/",  "//a",   "/a//b", "/./a",
	                                  "/a/..", "/..", "/a b", "/a%20", "/a?b",  "/é"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		static char buf[256];
		snprintf(buf, sizeof buf, "%sprefix = %s\n", minimal, bad[i]);
		EXPECT_ERR_PREFIX(buf, "birch.conf:5: prefix: ");
	}
	/* A shard named ".." has no usable default prefix. */
	EXPECT_ERR("[shard ..]\ndata = d\nkey = k\nroots = r\n",
	           "birch.conf:1: [shard ..]: prefix: '/..' must not have '.' or '..' segments");
}

static void
duplicate_names_data_and_origins_rejected(void)
{
	EXPECT_ERR("[shard a]\ndata = d\nkey = k\nroots = r\n"
	           "[shard b]\ndata = d\nkey = k\nroots = r\n",
	           "birch.conf:6: [shard b]: data: 'd' is also the data of [shard a]");
	EXPECT_ERR(
	        "[shard a]\ndata = d\nkey = k\nroots = r\norigin = o.example/x\n"
	        "[shard b]\ndata = e\nkey = k\nroots = r\norigin = o.example/x\n",
	        "birch.conf:10: [shard b]: origin: 'o.example/x' is also the origin of [shard a]");
	EXPECT_ERR("[shard a]\ndata = d\nkey = k\nroots = r\n[shard b]\n[shard a]\n",
	           "birch.conf:6: [shard a] given twice (first at line 1)");
	EXPECT_ERR_PREFIX(with_shard_lines("origin = https://log.example/a\n"),
	                  "birch.conf:5: origin: is written without a scheme");
	EXPECT_ERR_PREFIX(with_shard_lines("origin = log example\n"),
	                  "birch.conf:5: origin: may hold only printable ASCII");

	static char buf[8192];
	size_t o = 0, sixteen = 0;
	for (int i = 0; i <= CONFIG_SHARDS_MAX; i++) {
		sixteen = o;
		o += (size_t)snprintf(buf + o, sizeof buf - o,
		                      "[shard s%d]\ndata = d%d\nkey = k\nroots = r\n", i, i);
	}
	EXPECT_ERR(buf, "birch.conf:65: [shard s16]: more than 16 shards");
	buf[sixteen] = '\0'; /* drop the 17th */
	EXPECT_OK(buf);
	CHECK(g_c.nshards == CONFIG_SHARDS_MAX, "16 shards: %u", g_c.nshards);
}

static void
window_must_be_ordered(void)
{
	EXPECT_OK(with_shard_lines("not_after_start = 2026-01-01T00:00:00Z\n"
	                           "not_after_end = 2026-01-01T00:00:01Z\n"));
	EXPECT_ERR(with_shard_lines("not_after_start = 2026-01-01T00:00:00Z\n"
	                            "not_after_end = 2026-01-01T00:00:00Z\n"),
	           "birch.conf:6: [shard a]: not_after_end: must be later than not_after_start");
	EXPECT_ERR(with_shard_lines("not_after_end = 2026-01-01T00:00:00Z\n\n"
	                            "not_after_start = 2026-07-01T00:00:00Z\n"),
	           "birch.conf:7: [shard a]: not_after_start: must be earlier than not_after_end");
	/* Offsets count: 01:00+02:00 is 23:00Z the day before. */
	EXPECT_OK(with_shard_lines("not_after_start = 2026-01-01T01:00:00+02:00\n"
	                           "not_after_end = 2026-01-01T00:00:00Z\n"));
	/* Only an end, or only a start. */
	EXPECT_OK(with_shard_lines("not_after_end = 1970-01-01T00:00:01Z\n"));
	EXPECT_ERR(with_shard_lines("not_after_end = 1970-01-01T00:00:00Z\n"),
	           "birch.conf:5: [shard a]: not_after_end: must be later than not_after_start");
	EXPECT_OK(with_shard_lines("not_after_start = 9999-12-31T23:59:59Z\n"));
}

/* ---- the log list entry: description, url, mmd ---- */

static void
description_must_be_json_safe_text(void)
{
	static char buf[1024], v[300];
	EXPECT_ERR(with_shard_lines("description = a\tb\n"),
	           "birch.conf:5: description: must not hold control characters (a tab included), "
	           "got 'a?b'");
	/* U+0085, a C1 control, is valid UTF-8 but still a control character. */
	EXPECT_ERR_PREFIX(with_shard_lines("description = a\xc2\x85"
	                                   "b\n"),
	                  "birch.conf:5: description: must not hold control characters");
	EXPECT_ERR(with_shard_lines("description = say \"hi\"\n"),
	           "birch.conf:5: description: must not hold '\"' or '\\' (it goes into JSON as "
	           "it is), got 'say \"hi\"'");
	EXPECT_ERR_PREFIX(with_shard_lines("description = a\\u0000\n"),
	                  "birch.conf:5: description: must not hold '\"' or '\\'");
	EXPECT_ERR(with_shard_lines("description =\n"),
	           "birch.conf:5: description: must not be empty");
	EXPECT_ERR(with_shard_lines("description = # only a comment\n"),
	           "birch.conf:5: description: must not be empty");
	/* U+00A0 (just past C1) and other non-ASCII text are fine. */
	EXPECT_OK(with_shard_lines("description = a\xc2\xa0"
	                           "b \xe6\x97\xa5\xf0\x9f\x8c\xb3\n"));
	CHECK(strcmp(g_c.shard[0].description, "a\xc2\xa0"
	                                       "b \xe6\x97\xa5\xf0\x9f\x8c\xb3") == 0,
	      "%s", g_c.shard[0].description);

	memset(v, 'd', 256);
	v[256] = '\0';
	snprintf(buf, sizeof buf, "%sdescription = %s\n", minimal, v);
	EXPECT_ERR_PREFIX(buf, "birch.conf:5: description: longer than 255 bytes, got 'dddd");
	CHECK(strstr(g_err, "...'") != NULL, "quoted in part: %s", g_err);
	v[255] = '\0';
	snprintf(buf, sizeof buf, "%sdescription = %s\n", minimal, v);
	EXPECT_OK(buf);
	CHECK(strlen(g_c.shard[0].description) == 255, "255 bytes fit");
	/* A 63-byte name makes the longest default, "Birch log " + 63 bytes. */
	memset(v, 'n', 63);
	v[63] = '\0';
	snprintf(buf, sizeof buf, "[shard %s]\ndata = d\nkey = k\nroots = r\n", v);
	EXPECT_OK(buf);
	CHECK(strlen(g_c.shard[0].description) == 73 &&
	              strncmp(g_c.shard[0].description, "Birch log nnn", 13) == 0,
	      "%s", g_c.shard[0].description);
}

static void
url_must_be_an_http_base_url(void)
{
	static const char *const good[] = {
	        "https://ct.example.org/",
	        "http://127.0.0.1:6962/2026h1/",
	        "https://[2001:db8::1]:8443/logs/a%20b/",
	        "http://[::1]/",
	        "https://Log-1.Example.org/a/b.c/~d/",
	        "http://localhost:65535/x:y@z/",
	        "https://a/!$&'()*+,;=/",
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		static char buf[512];
		snprintf(buf, sizeof buf, "%surl = %s\n", minimal, good[i]);
		EXPECT_OK(buf);
		CHECK(strcmp(g_c.shard[0].url, good[i]) == 0, "url %s", g_c.shard[0].url);
	}
	/* Written empty: derived, as when it is not given. */
	EXPECT_OK(with_shard_lines("url =\n"));
	CHECK(g_c.shard[0].url[0] == '\0', "empty url");

	EXPECT_ERR(with_shard_lines("url = log.example.org/2026h1/\n"),
	           "birch.conf:5: url: must start with https:// or http://, got "
	           "'log.example.org/2026h1/'");
	EXPECT_ERR(with_shard_lines("url = https://log.example.org/a/?x=1\n"),
	           "birch.conf:5: url: must not have a query ('?') or a fragment ('#'), got "
	           "'https://log.example.org/a/?x=1'");
	EXPECT_ERR(with_shard_lines("url = https://log.example.org/2026h1\n"),
	           "birch.conf:5: url: must end with '/' (clients add ct/v1/... to it), got "
	           "'https://log.example.org/2026h1'");
	EXPECT_ERR(with_shard_lines("url = https://log.example.org\n"),
	           "birch.conf:5: url: needs a path after the host, ending in '/' "
	           "(\"https://log.example.org/\"), got 'https://log.example.org'");
	/* A '#' starts a comment, so a fragment leaves a url without its '/'. */
	EXPECT_ERR_PREFIX(with_shard_lines("url = https://log.example.org/a#b/\n"),
	                  "birch.conf:5: url: must end with '/'");

	static const char *const bad[] = {
	        "HTTPS://x/",         "ftp://x/",       "https:/x/",           "//x/",
	        "https:///",          "https://x:0/",   "https://x:65536/",    "https://x:/",
	        "https://x:08/",      "https://x:a/",   "https://[::1/",       "https://[zz::1]/",
	        "https://[1.2.3.4]/", "https://::1/",   "https://a..b/",       "https://-a/",
	        "https://a_b/",       "https://x./",    "https://256.1.1.1/",  "https://1.2.3/",
	        "https://user@x/",    "https://x/a//",  "https://x//",         "https://x/./",
	        "https://x/a/../",    "https://x/a b/", "https://x/%zz/",      "https://x/%2/",
	        "https://x/a|b/",     "https://x/{a}/", "https://x/\xc3\xa9/", "https://x/\"/",
	        "https://x/\\/",      "https://x/[a]/", "https://x/a`b/",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		static char buf[512];
		snprintf(buf, sizeof buf, "%surl = %s\n", minimal, bad[i]);
		EXPECT_ERR_PREFIX(buf, "birch.conf:5: url: ");
	}

	/* At most 255 bytes; a host name up to 253. */
	static char buf[1024], v[600];
	size_t o = (size_t)snprintf(v, sizeof v, "https://log.example.org/");
	memset(v + o, 'p', 255 - o - 1);
	v[254] = '/';
	v[255] = '\0';
	snprintf(buf, sizeof buf, "%surl = %s\n", minimal, v);
	EXPECT_OK(buf);
	CHECK(strlen(g_c.shard[0].url) == 255, "255 bytes fit");
	v[255] = '/';
	v[256] = '\0';
	snprintf(buf, sizeof buf, "%surl = %s\n", minimal, v);
	EXPECT_ERR_PREFIX(buf,
	                  "birch.conf:5: url: longer than 255 bytes, got 'https://log.example");
	CHECK(strstr(g_err, "...'") != NULL, "quoted in part: %s", g_err);
	/* The longest host fits: 3 x 63 + 54 + 3 dots, 246 bytes (DNS's 253-byte limit cannot be
	 * reached inside 255). */
	o = (size_t)snprintf(v, sizeof v, "https://");
	for (int label = 0; label < 4; label++) {
		size_t len = label < 3 ? 63 : 54;
		memset(v + o, 'h', len);
		o += len;
		v[o++] = label < 3 ? '.' : '/';
	}
	v[o] = '\0';
	snprintf(buf, sizeof buf, "%surl = %s\n", minimal, v);
	EXPECT_OK(buf);
	CHECK(strlen(g_c.shard[0].url) == 255, "%zu", strlen(g_c.shard[0].url));
	memset(v, 'h', 64);
	v[64] = '\0';
	snprintf(buf, sizeof buf, "%surl = https://%s.example/\n", minimal, v);
	EXPECT_ERR_PREFIX(buf, "birch.conf:5: url: not a host name (a label is 1-63 characters)");

	/* Distinct across shards; an empty one is derived from the (distinct) prefix. */
	EXPECT_ERR("[shard a]\ndata = d\nkey = k\nroots = r\nurl = https://x/\n"
	           "[shard b]\ndata = e\nkey = k\nroots = r\nurl = https://x/\n",
	           "birch.conf:10: [shard b]: url: 'https://x/' is also the url of [shard a]");
	EXPECT_OK("[shard a]\ndata = d\nkey = k\nroots = r\nurl =\n"
	          "[shard b]\ndata = e\nkey = k\nroots = r\n");
}

static void
required_keys_are_named(void)
{
	EXPECT_ERR("[server]\n\n[shard 2026h1]\nkey = k\nroots = r\n",
	           "birch.conf:3: [shard 2026h1]: data is required");
	EXPECT_ERR("[shard a]\ndata = d\nroots = r\n", "birch.conf:1: [shard a]: key is required");
	EXPECT_ERR("[shard a]\ndata = d\nkey = k\n", "birch.conf:1: [shard a]: roots is required");
	EXPECT_ERR("[server]\nworkers = 1\n",
	           "birch.conf:2: no [shard NAME] section (at least one shard is needed)");
	EXPECT_ERR("", "birch.conf:1: no [shard NAME] section (at least one shard is needed)");
	EXPECT_ERR("[shard a]\ndata =\n", "birch.conf:2: data: must not be empty");
}

static void
strings_too_long_name_key_and_limit(void)
{
	static char buf[8192], v[1024];
	memset(v, 'x', 512);
	v[512] = '\0';
	snprintf(buf, sizeof buf, "[shard a]\ndata = %s\n", v);
	EXPECT_ERR(buf, "birch.conf:2: data: longer than 511 bytes");
	v[511] = '\0';
	snprintf(buf, sizeof buf, "[shard a]\ndata = %s\nkey = k\nroots = r\n", v);
	EXPECT_OK(buf);
	CHECK(strlen(g_c.shard[0].data) == 511, "511 bytes fit");

	memset(v, 'x', 256);
	v[256] = '\0';
	snprintf(buf, sizeof buf, "%sorigin = %s\n", minimal, v);
	EXPECT_ERR_PREFIX(buf, "birch.conf:5: origin: longer than 255 bytes, got 'xxxx");
	CHECK(strstr(g_err, "...'") != NULL && strlen(g_err) < 200,
	      "a long value is quoted in part: %s", g_err);
	memset(v, 'x', 64);
	v[64] = '\0';
	snprintf(buf, sizeof buf, "[server]\ncpus = %s\n", v);
	EXPECT_ERR(buf, "birch.conf:2: cpus: longer than 63 bytes");
	memset(v, 'x', 512);
	v[512] = '\0';
	snprintf(buf, sizeof buf, "[server]\neal_args = %s\n", v);
	EXPECT_ERR(buf, "birch.conf:2: eal_args: longer than 511 bytes");
	EXPECT_ERR("[server]\neal_args = --file-prefix \"a b\"\n",
	           "birch.conf:2: eal_args: quotes and '\\' are not interpreted (arguments are "
	           "split at spaces)");
	memset(v, 'x', 128);
	v[0] = '/';
	v[128] = '\0';
	snprintf(buf, sizeof buf, "%sprefix = %s\n", minimal, v);
	EXPECT_ERR_PREFIX(buf, "birch.conf:5: prefix: longer than 127 bytes");
	memset(v, 'x', 64);
	v[64] = '\0';
	snprintf(buf, sizeof buf, "[shard %s]\n", v);
	EXPECT_ERR_PREFIX(buf, "birch.conf:1: [shard xxxx");
	CHECK(strstr(g_err, "1-63 characters") != NULL, "%s", g_err);
}

/* ---- the text itself ---- */

static void
text_rules(void)
{
	/* CRLF, comments anywhere, blank lines and spaces around everything. */
	EXPECT_OK("# birch\r\n\r\n  [ shard   a ]  # the shard\r\n"
	          "\tdata\t=\td   # a comment\r\n"
	          "key=k.pem\r\n"
	          "roots = r.pem#no space needed\r\n");
	CHECK(strcmp(g_c.shard[0].name, "a") == 0 && strcmp(g_c.shard[0].data, "d") == 0 &&
	              strcmp(g_c.shard[0].key, "k.pem") == 0 &&
	              strcmp(g_c.shard[0].roots[0], "r.pem") == 0,
	      "CRLF, comments, spaces");
	CHECK(g_c.shard[0].line == 3, "header line %u", g_c.shard[0].line);
	/* No final newline. */
	EXPECT_OK("[shard a]\ndata = d\nkey = k\nroots = r");
	CHECK(strcmp(g_c.shard[0].roots[0], "r") == 0, "last line without newline");
	/* UTF-8 in a path is fine. */
	EXPECT_OK("[shard a]\ndata = /srv/d\xc3\xa9j\xc3\xa0\nkey = k\nroots = r\n");

	static const char nul[] = "[shard a]\ndata\0 = d\nkey = k\nroots = r\n";
	int rc = config_parse(&g_c, nul, sizeof nul - 1, "birch.conf", g_err, sizeof g_err);
	CHECK(rc == -EINVAL && strcmp(g_err, "birch.conf:2: NUL byte in the text (column 5)") == 0,
	      "NUL: %s", g_err);
	EXPECT_ERR("[shard a]\ndata = d\rkey = k\n",
	           "birch.conf:2: control character 0x0d in the text (column 9)");
	EXPECT_ERR("[shard a]\n\x1b[31m\n",
	           "birch.conf:2: control character 0x1b in the text (column 1)");
	EXPECT_ERR("[shard a]\ndata = \xff\n", "birch.conf:2: not UTF-8 text (column 8)");
	EXPECT_ERR("[shard a]\ndata = \xc0\xaf\n", "birch.conf:2: not UTF-8 text (column 8)");
	EXPECT_ERR("[shard a]\ndata = \xed\xa0\x80\n", "birch.conf:2: not UTF-8 text (column 8)");
	EXPECT_ERR("[shard a]\ndata = \xe2\x82\n", "birch.conf:2: not UTF-8 text (column 8)");
	EXPECT_ERR("[shard a]\ndata d\n",
	           "birch.conf:2: expected 'key = value' or a [section], got 'data d'");
	EXPECT_ERR("[shard a]\n= d\n", "birch.conf:2: '=' without a key");
	EXPECT_ERR("[server\n", "birch.conf:1: a section header ends with ']', got '[server'");
	EXPECT_ERR("[shard]\n", "birch.conf:1: [shard] needs a name: [shard NAME]");
	EXPECT_ERR("[shard a/b]\n",
	           "birch.conf:1: [shard a/b]: a shard name may hold only A-Z a-z 0-9 . _ -");

	/* Lines up to 4096 bytes, "\r\n" not counted. */
	static char buf[16384];
	size_t o = (size_t)snprintf(buf, sizeof buf, "%s#", minimal);
	memset(buf + o, 'c', 4095);
	o += 4095;
	memcpy(buf + o, "\r\n", 3);
	EXPECT_OK(buf);
	memcpy(buf + o, "c\n", 3);
	EXPECT_ERR(buf, "birch.conf:5: line longer than 4096 bytes");
}

static void
err_is_one_line_and_bounded(void)
{
	static const char text[] = "[shard a]\nbach_size = 1\n";
	for (size_t cap = 1; cap < 48; cap++) {
		char err[64];
		memset(err, 0x5a, sizeof err);
		int rc = config_parse(&g_c, text, sizeof text - 1, "birch.conf", err, cap);
		CHECK(rc == -EINVAL, "cap %zu: rc %d", cap, rc);
		CHECK(memchr(err, '\0', cap) != NULL, "cap %zu: NUL-terminated", cap);
		for (size_t i = cap; i < sizeof err; i++)
			CHECK(err[i] == 0x5a, "cap %zu: byte %zu written", cap, i);
	}
	CHECK(config_parse(&g_c, text, sizeof text - 1, "birch.conf", NULL, 0) == -EINVAL,
	      "no err buffer");
	/* A file name with a newline still gives one line. */
	CHECK(config_parse(&g_c, text, sizeof text - 1, "a\nb.conf", g_err, sizeof g_err) ==
	                      -EINVAL &&
	              strchr(g_err, '\n') == NULL && strncmp(g_err, "a?b.conf:2: ", 12) == 0,
	      "%s", g_err);
}

/* ---- config_check on a config built from flags ---- */

static void
config_check_covers_a_config_from_flags(void)
{
	struct config *c = &g_c;
	config_defaults(c);
	CHECK(c->nshards == 0 && c->shard[0].batch_size == 1024, "defaults in every shard slot");
	for (unsigned i = 0; i < CONFIG_SHARDS_MAX; i++)
		CHECK(c->shard[i].mmd == 86400 && c->shard[i].url[0] == '\0' &&
		              c->shard[i].description[0] == '\0',
		      "slot %u: mmd 86400, url derived, description left to the caller", i);
	CHECK(config_check(c, g_err, sizeof g_err) == -EINVAL &&
	              strcmp(g_err, "no [shard NAME] section (at least one shard is needed)") == 0,
	      "%s", g_err);
	c->nshards = 1;
	struct config_shard *h = &c->shard[0];
	strcpy(h->name, "a");
	strcpy(h->prefix, "/a");
	strcpy(h->data, "/srv/a");
	strcpy(h->key, "/etc/a.pem");
	strcpy(h->roots[0], "/etc/roots.pem");
	h->nroots = 1;
	strcpy(h->origin, "birch.localhost/a");
	/* The description's default needs the name: config_defaults() cannot set it, so a config
	 * built from flags must (as config_parse() does). */
	CHECK(config_check(c, g_err, sizeof g_err) == -EINVAL &&
	              strcmp(g_err, "[shard a]: description: must not be empty") == 0,
	      "%s", g_err);
	strcpy(h->description, "Birch log a");
	CHECK(config_check(c, g_err, sizeof g_err) == 0, "%s", g_err);

	/* The log list keys. */
	static const struct {
		const char *description, *url;
		unsigned mmd;
		const char *want;
	} ll[] = {
	        {"a\x01b", "", 86400,
	         "[shard a]: description: must not hold control characters (a tab included)"},
	        {"a\xc2\x9b"
	         "b",
	         "", 86400,
	         "[shard a]: description: must not hold control characters (a tab included)"},
	        {" a", "", 86400, "[shard a]: description: must not start or end with a space"},
	        {"a\xff", "", 86400, "[shard a]: description: not UTF-8 text"},
	        {"a", "http://x", 86400,
	         "[shard a]: url: needs a path after the host, ending in '/' "
	         "(\"https://log.example.org/\")"},
	        {"a", "http://x/a", 86400,
	         "[shard a]: url: must end with '/' (clients add ct/v1/... to it)"},
	        {"a", "https://x/ a/", 86400,
	         "[shard a]: url: may hold only printable ASCII without spaces"},
	        {"a", "https://x/", 0, "[shard a]: mmd: must be an integer in 1..604800, got '0'"},
	        {"a", "https://x/", 604801,
	         "[shard a]: mmd: must be an integer in 1..604800, got '604801'"},
	        {"a", "https://x/", 604800, ""},
	};
	for (size_t i = 0; i < sizeof ll / sizeof ll[0]; i++) {
		strcpy(h->description, ll[i].description);
		strcpy(h->url, ll[i].url);
		h->mmd = ll[i].mmd;
		int rc = config_check(c, g_err, sizeof g_err);
		CHECK(rc == (ll[i].want[0] ? -EINVAL : 0) && strcmp(g_err, ll[i].want) == 0,
		      "case %zu: %d '%s', want '%s'", i, rc, g_err, ll[i].want);
	}
	memset(h->description, 'x', sizeof h->description); /* not NUL-terminated */
	CHECK(config_check(c, g_err, sizeof g_err) == -EINVAL &&
	              strcmp(g_err, "[shard a]: description: longer than 255 bytes") == 0,
	      "%s", g_err);
	strcpy(h->description, "Birch log a");
	memset(h->url, 'x', sizeof h->url);
	CHECK(config_check(c, g_err, sizeof g_err) == -EINVAL &&
	              strcmp(g_err, "[shard a]: url: longer than 255 bytes") == 0,
	      "%s", g_err);
	h->url[0] = '\0';
	h->mmd = 86400;
	CHECK(config_check(c, g_err, sizeof g_err) == 0, "%s", g_err);

	h->data[0] = '\0';
	CHECK(config_check(c, g_err, sizeof g_err) == -EINVAL &&
	              strcmp(g_err, "[shard a]: data is required") == 0,
	      "%s", g_err);
	strcpy(h->data, "/srv/a");
	h->batch_size = 0;
	CHECK(config_check(c, g_err, sizeof g_err) == -EINVAL &&
	              strcmp(g_err,
	                     "[shard a]: batch_size: must be an integer in 1..65536, got '0'") == 0,
	      "%s", g_err);
	h->batch_size = 1;
	h->nroots = 9;
	CHECK(config_check(c, g_err, sizeof g_err) == -EINVAL, "nroots 9");
	h->nroots = 1;
	c->nlisten = 0;
	CHECK(config_check(c, g_err, sizeof g_err) == -EINVAL &&
	              strcmp(g_err, "listen: 0 addresses, must be 1..8") == 0,
	      "%s", g_err);
	c->nlisten = 1;
	strcpy(c->listen[0].host, "bad host");
	CHECK(config_check(c, g_err, sizeof g_err) == -EINVAL && strncmp(g_err, "listen: ", 8) == 0,
	      "%s", g_err);
	strcpy(c->listen[0].host, "::1");
	memset(c->log_level, 'x', sizeof c->log_level); /* not NUL-terminated */
	CHECK(config_check(c, g_err, sizeof g_err) == -EINVAL &&
	              strncmp(g_err, "log_level: ", 11) == 0,
	      "%s", g_err);
	strcpy(c->log_level, "warn");
	h->not_after_start = 10;
	h->not_after_end = 10;
	CHECK(config_check(c, g_err, sizeof g_err) == -EINVAL, "window");
	h->not_after_end = 11;
	strcpy(h->origin, "");
	CHECK(config_check(c, g_err, sizeof g_err) == -EINVAL &&
	              strcmp(g_err, "[shard a]: origin: must not be empty") == 0,
	      "%s", g_err);
	strcpy(h->origin, "o");
	CHECK(config_check(c, g_err, sizeof g_err) == 0, "%s", g_err);

	/* Without line numbers the messages say no "(first at line ...)". */
	c->nlisten = 2;
	c->listen[1] = c->listen[0];
	CHECK(config_check(c, g_err, sizeof g_err) == -EINVAL &&
	              strcmp(g_err, "listen: [::1]:6962 given twice") == 0,
	      "%s", g_err);
	c->nlisten = 1;
	c->nshards = 2;
	c->shard[1] = c->shard[0];
	CHECK(config_check(c, g_err, sizeof g_err) == -EINVAL &&
	              strcmp(g_err, "[shard a] given twice") == 0,
	      "%s", g_err);
	strcpy(c->shard[1].name, "b");
	strcpy(c->shard[1].prefix, "/b");
	strcpy(c->shard[1].data, "/srv/b");
	strcpy(c->shard[1].origin, "ob");
	CHECK(config_check(c, g_err, sizeof g_err) == 0, "%s", g_err);
	strcpy(c->shard[0].url, "https://x/");
	strcpy(c->shard[1].url, "https://x/");
	CHECK(config_check(c, g_err, sizeof g_err) == -EINVAL &&
	              strcmp(g_err, "[shard b]: url: 'https://x/' is also the url of [shard a]") ==
	                      0,
	      "%s", g_err);
	strcpy(c->shard[1].url, "https://x/b/");
	CHECK(config_check(c, g_err, sizeof g_err) == 0, "%s", g_err);
}

/* ---- config_load ---- */

static void
relative_paths_resolve_against_config_dir(void)
{
	char *dir = tmpdir_make("config");
	char sub[PATH_MAX], path[PATH_MAX + 64], want[PATH_MAX + 64];
	snprintf(sub, sizeof sub, "%s/etc", dir);
	if (mkdir(sub, 0700) != 0)
		check_harness("mkdir");
	snprintf(path, sizeof path, "%s/birch.conf", sub);
	static const char text[] = "[shard a]\n"
	                           "data = d\n"
	                           "key = /abs/k.pem\n"
	                           "roots = r.pem\n"
	                           "roots = ../up/r2.pem\n";
	write_file(path, text, sizeof text - 1);
	int rc = config_load(&g_c, path, g_err, sizeof g_err);
	CHECK(rc == 0, "config_load: %d %s", rc, g_err);
	const struct config_shard *h = &g_c.shard[0];
	snprintf(want, sizeof want, "%s/d", sub);
	CHECK(strcmp(h->data, want) == 0, "data %s, want %s", h->data, want);
	CHECK(strcmp(h->key, "/abs/k.pem") == 0, "absolute key kept: %s", h->key);
	snprintf(want, sizeof want, "%s/r.pem", sub);
	CHECK(h->nroots == 2 && strcmp(h->roots[0], want) == 0, "roots[0] %s", h->roots[0]);
	snprintf(want, sizeof want, "%s/../up/r2.pem", sub);
	CHECK(strcmp(h->roots[1], want) == 0, "roots[1] %s", h->roots[1]);
	CHECK(strcmp(h->prefix, "/a") == 0, "prefix is not a path");

	/* config_parse() keeps them as written. */
	CHECK(parse(text) == 0 && strcmp(g_c.shard[0].data, "d") == 0, "as written");

	/* A relative path that fits as written but not once resolved. */
	static char longtext[1024];
	char v[600];
	size_t vlen = 511 - strlen(sub); /* with the '/', one byte over */
	memset(v, 'x', vlen);
	v[vlen] = '\0';
	snprintf(longtext, sizeof longtext, "[shard a]\ndata = %s\n", v);
	write_file(path, longtext, strlen(longtext));
	rc = config_load(&g_c, path, g_err, sizeof g_err);
	CHECK(rc == -EINVAL && strstr(g_err, ":2: data: longer than 511 bytes once made relative "
	                                     "to '") != NULL,
	      "%d %s", rc, g_err);

	/* A file name without a directory: paths stay as written. */
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof cwd) || chdir(sub) != 0)
		check_harness("chdir");
	write_file("birch.conf", text, sizeof text - 1);
	rc = config_load(&g_c, "birch.conf", g_err, sizeof g_err);
	CHECK(rc == 0 && strcmp(g_c.shard[0].data, "d") == 0, "%d %s", rc, g_err);
	if (chdir(cwd) != 0)
		check_harness("chdir back");
	tmpdir_remove(dir);
	free(dir);
}

static void
missing_file_names_it(void)
{
	const char *path = "/nonexistent-birch-dir/birch.conf";
	int rc = config_load(&g_c, path, g_err, sizeof g_err);
	CHECK(rc == -ENOENT, "rc %d", rc);
	CHECK(strncmp(g_err, path, strlen(path)) == 0 && strstr(g_err, "cannot open") != NULL &&
	              strchr(g_err, '\n') == NULL,
	      "err: %s", g_err);
	char *dir = tmpdir_make("config");
	rc = config_load(&g_c, dir, g_err, sizeof g_err);
	CHECK(rc == -EISDIR && strncmp(g_err, dir, strlen(dir)) == 0, "directory: %d %s", rc,
	      g_err);
	tmpdir_remove(dir);
	free(dir);
}

/* config_load() reads through a fixed buffer; it must agree with config_parse() wherever the
 * lines fall against the buffer's edges. */
static void
load_agrees_with_parse_on_long_files(void)
{
	char *dir = tmpdir_make("config");
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/big.conf", dir);
	static char text[1 << 18];
	for (unsigned round = 0; round < 24; round++) {
		size_t o = 0;
		/* Comment lines of varied lengths, up to the 4096 limit, some with "\r\n". */
		for (unsigned i = 0; i < 20 + round; i++) {
			size_t n = (i * 997u + round * 131u) % 4096u;
			if (i % 5 == 0)
				n = 4095; /* with '#', exactly 4096 */
			text[o++] = '#';
			memset(text + o, 'a' + (char)(i % 26), n);
			o += n;
			if ((i + round) % 3 == 0)
				text[o++] = '\r';
			text[o++] = '\n';
		}
		o += (size_t)snprintf(text + o, sizeof text - o, "%s", minimal);
		if (round % 4 == 1) /* a mistake at the end */
			o += (size_t)snprintf(text + o, sizeof text - o, "pool = 1\n");
		if (round % 4 == 2) { /* a line one byte too long */
			memset(text + o, 'z', 4097);
			o += 4097;
			text[o++] = '\n';
		}
		if (round % 4 == 3) /* no final newline */
			o += (size_t)snprintf(text + o, sizeof text - o, "batch_size = 77");
		write_file(path, text, o);
		int rl = config_load(&g_c, path, g_err, sizeof g_err);
		int rp = config_parse(&g_c2, text, o, path, g_err2, sizeof g_err2);
		CHECK(rl == rp && strcmp(g_err, g_err2) == 0,
		      "round %u: load %d '%s', parse %d '%s'", round, rl, g_err, rp, g_err2);
		CHECK((rl == 0) == (round % 4 == 0 || round % 4 == 3), "round %u: rc %d %s", round,
		      rl, g_err);
		if (rl == 0 && rp == 0) {
			/* Resolved paths differ; everything else must not. */
			CHECK(g_c.shard[0].batch_size == g_c2.shard[0].batch_size &&
			              g_c.shard[0].line == g_c2.shard[0].line,
			      "round %u: same result", round);
			CHECK(round % 4 != 3 || g_c.shard[0].batch_size == 77,
			      "round %u: last line", round);
		}
	}

	/* More than 1 MiB is refused. */
	FILE *f = fopen(path, "wb");
	if (!f)
		check_harness("fopen");
	static char line[1024];
	memset(line, 'x', sizeof line);
	line[0] = '#';
	line[sizeof line - 1] = '\n';
	for (int i = 0; i < 1025; i++)
		fwrite(line, 1, sizeof line, f);
	fclose(f);
	int rc = config_load(&g_c, path, g_err, sizeof g_err);
	CHECK(rc == -EFBIG && strstr(g_err, "larger than 1 MiB") != NULL, "%d %s", rc, g_err);
	tmpdir_remove(dir);
	free(dir);
}

int
main(void)
{
	RUN(example_config_parses);
	RUN(example_shows_every_key_and_its_defaults);
	RUN(defaults_apply_without_server_section);
	RUN(every_key_is_read);
	RUN(unknown_key_is_an_error_naming_it);
	RUN(repeated_key_is_an_error_with_its_line);
	RUN(roots_repeat_up_to_the_limit);
	RUN(listen_repeats_up_to_the_limit);
	RUN(integer_out_of_range_names_key_and_range);
	RUN(slot_arena_over_16_gib_rejected);
	RUN(cpus_list_bounds_workers);
	RUN(rfc3339_known_answers);
	RUN(rfc3339_rejects_malformed);
	RUN(listen_forms);
	RUN(duplicate_shard_prefix_rejected);
	RUN(duplicate_names_data_and_origins_rejected);
	RUN(window_must_be_ordered);
	RUN(description_must_be_json_safe_text);
	RUN(url_must_be_an_http_base_url);
	RUN(required_keys_are_named);
	RUN(strings_too_long_name_key_and_limit);
	RUN(text_rules);
	RUN(err_is_one_line_and_bounded);
	RUN(config_check_covers_a_config_from_flags);
	RUN(relative_paths_resolve_against_config_dir);
	RUN(missing_file_names_it);
	RUN(load_agrees_with_parse_on_long_files);
	return check_done();
}
