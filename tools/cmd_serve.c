/* tools/cmd_serve.c: `birch serve`: the log server. Reads the config (or flags for one shard),
 * starts the DPDK EAL, opens the shards, starts the HTTP gateway and the stage loops, and on
 * SIGTERM or SIGINT drains: no new submissions, every one in flight answered, the last batch
 * committed and a last tree head signed, then exit 0. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/b64.h"
#include "engine/hex.h"
#include "net/config.h"
#include "net/gw.h"
#include "net/log.h"
#include "net/pipe.h"
#include "tools/cmd.h"

static const char usage[] =
        "usage: birch serve --config FILE\n"
        "       birch serve --listen HOST:PORT --data DIR --key KEY.pem --roots ROOTS.pem\n"
        "                   [--not-after-start RFC3339] [--not-after-end RFC3339] [options]\n"
        "\n"
        "Runs a CT log: RFC 6962 add-chain, add-pre-chain and get-roots over HTTP/1.1, each\n"
        "submission validated, sequenced into a tiled Merkle tree, made durable, and only then\n"
        "answered with its SCT. A new data directory is created; an existing one continues its\n"
        "tree. With flags, one shard is served at the URL root (/ct/v1/...); a config file\n"
        "(see birch.conf.example) serves several shards under their prefixes.\n"
        "\n"
        "options (flags mode; the config file has the same settings):\n"
        "  --origin NAME            checkpoint origin (default birch.localhost)\n"
        "  --workers N              admission and signing lcores (default: one per CPU)\n"
        "  --cpus LIST              CPUs for the lcores, e.g. 0-3 (default: all allowed)\n"
        "  --batch-size N           entries per commit (default 1024)\n"
        "  --batch-deadline-ms N    longest wait before a batch commits (default 10)\n"
        "  --pool N                 submissions in flight before 503 (default 4096)\n"
        "  --gateway-threads N      HTTP event-loop threads (default 1)\n"
        "  --eal-args 'ARGS'        DPDK EAL arguments instead of --no-huge --no-pci --no-shconf\n"
        "  --log-level LEVEL        debug, info, warn or error (default info)\n"
        "\n"
        "SIGTERM or SIGINT drains and exits 0. Exit 2: bad arguments or config; 1: the log\n"
        "cannot start (the message names the file or setting at fault).\n";

struct flag {
	const char *name;
	const char **slot;
};

static int
flags_to_config(struct config *c, int argc, char **argv, const char **config_path)
{
	const char *listen = NULL, *data = NULL, *key = NULL, *roots = NULL, *nas = NULL,
	           *nae = NULL, *origin = NULL, *workers = NULL, *cpus = NULL, *batch = NULL,
	           *deadline = NULL, *pool = NULL, *gwt = NULL, *eal = NULL, *level = NULL;
	struct flag flags[] = {
	        {"--config", config_path}, {"--listen", &listen},
	        {"--data", &data},         {"--key", &key},
	        {"--roots", &roots},       {"--not-after-start", &nas},
	        {"--not-after-end", &nae}, {"--origin", &origin},
	        {"--workers", &workers},   {"--cpus", &cpus},
	        {"--batch-size", &batch},  {"--batch-deadline-ms", &deadline},
	        {"--pool", &pool},         {"--gateway-threads", &gwt},
	        {"--eal-args", &eal},      {"--log-level", &level},
	};
	for (int i = 1; i < argc; i++) {
		size_t f = 0;
		for (; f < sizeof flags / sizeof *flags; f++)
			if (strcmp(argv[i], flags[f].name) == 0)
				break;
		if (f == sizeof flags / sizeof *flags)
			return cmd_usage_error("serve", "unknown argument '%s' (try --help)",
			                       argv[i]);
		if (i + 1 >= argc)
			return cmd_usage_error("serve", "%s needs a value", argv[i]);
		*flags[f].slot = argv[++i];
	}
	if (*config_path) {
		if (listen || data || key || roots || nas || nae || origin || batch || deadline ||
		    pool)
			return cmd_usage_error("serve", "--config excludes the single-shard flags "
			                                "(put the shard in the config file)");
		return 0;
	}
	if (!listen || !data || !key || !roots)
		return cmd_usage_error("serve",
		                       "--listen, --data, --key and --roots are required without "
		                       "--config (try --help)");
	config_defaults(c);
	const char *why = NULL;
	if (config_parse_listen(listen, &c->listen[0], &why) < 0)
		return cmd_usage_error("serve", "--listen: %s", why ? why : "bad address");
	c->nlisten = 1;
	struct config_shard *s = &c->shard[0];
	c->nshards = 1;
	snprintf(s->name, sizeof s->name, "main");
	s->prefix[0] = 0;
	if (snprintf(s->data, sizeof s->data, "%s", data) >= (int)sizeof s->data ||
	    snprintf(s->key, sizeof s->key, "%s", key) >= (int)sizeof s->key ||
	    snprintf(s->roots[0], sizeof s->roots[0], "%s", roots) >= (int)sizeof s->roots[0])
		return cmd_usage_error("serve", "a path is longer than %d bytes",
		                       CONFIG_PATH_MAX - 1);
	s->nroots = 1;
	snprintf(s->origin, sizeof s->origin, "%s", origin ? origin : "birch.localhost");
	snprintf(s->description, sizeof s->description, "Birch log %s", s->name);
	s->not_after_start = 0;
	s->not_after_end = INT64_MAX;
	if (nas && config_parse_time(nas, strlen(nas), &s->not_after_start) < 0)
		return cmd_usage_error("serve", "--not-after-start: not an RFC 3339 time: '%s'",
		                       nas);
	if (nae && config_parse_time(nae, strlen(nae), &s->not_after_end) < 0)
		return cmd_usage_error("serve", "--not-after-end: not an RFC 3339 time: '%s'", nae);
	s->batch_size = 1024;
	s->batch_deadline_ms = 10;
	s->pool = 4096;
	struct {
		const char *v, *name;
		unsigned *out;
		uint64_t lo, hi;
	} nums[] = {
	        {workers, "--workers", &c->workers, 1, 128},
	        {batch, "--batch-size", &s->batch_size, 1, 65536},
	        {deadline, "--batch-deadline-ms", &s->batch_deadline_ms, 1, 1000},
	        {pool, "--pool", &s->pool, 16, 1048576},
	        {gwt, "--gateway-threads", &c->gateway_threads, 1, 64},
	};
	for (size_t i = 0; i < sizeof nums / sizeof *nums; i++) {
		uint64_t v;
		if (!nums[i].v)
			continue;
		if (!cmd_parse_u64(nums[i].v, &v) || v < nums[i].lo || v > nums[i].hi)
			return cmd_usage_error("serve",
			                       "%s must be an integer in %llu..%llu, got '%s'",
			                       nums[i].name, (unsigned long long)nums[i].lo,
			                       (unsigned long long)nums[i].hi, nums[i].v);
		*nums[i].out = (unsigned)v;
	}
	if (cpus)
		snprintf(c->cpus, sizeof c->cpus, "%s", cpus);
	if (eal)
		snprintf(c->eal_args, sizeof c->eal_args, "%s", eal);
	if (level)
		snprintf(c->log_level, sizeof c->log_level, "%s", level);
	char err[CONFIG_ERR_MAX];
	if (config_check(c, err, sizeof err) < 0)
		return cmd_usage_error("serve", "%s", err);
	return 0;
}

static void
log_stats(const struct pipe *p, const struct config *c)
{
	struct pipe_stats st;
	pipe_stats_get(p, &st);
	for (unsigned s = 0; s < c->nshards; s++)
		blog(BLOG_INFO, "serve", "[shard %s] tree size %llu", c->shard[s].name,
		     (unsigned long long)st.tree_size[s]);
	blog(BLOG_INFO, "serve",
	     "submissions: %llu admitted, %llu refused, %llu duplicates, %llu SCTs signed, "
	     "%llu batches, %llu heads",
	     (unsigned long long)st.admitted, (unsigned long long)st.refused,
	     (unsigned long long)st.duplicates, (unsigned long long)st.signed_scts,
	     (unsigned long long)st.batches, (unsigned long long)st.heads);
}

int
cmd_serve(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(usage, stdout);
			return 0;
		}
	static struct config c; /* large: not on the stack */
	const char *config_path = NULL;
	int rc = flags_to_config(&c, argc, argv, &config_path);
	if (rc != 0)
		return rc;
	char err[CONFIG_ERR_MAX + 256];
	if (config_path && config_load(&c, config_path, err, sizeof err) < 0) {
		fprintf(stderr, "birch serve: %s\n", err);
		return EXIT_USAGE;
	}
	int lvl = blog_level_parse(c.log_level);
	blog_set_level(lvl < 0 ? BLOG_INFO : (enum blog_level)lvl);

	/* Signals: every thread (EAL's included) inherits this mask; main waits for them. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (pipe_eal_start(&c, "birch", err, sizeof err) < 0) {
		blog(BLOG_ERROR, "serve", "%s", err);
		return EXIT_NEGATIVE;
	}
	struct pipe *p = NULL;
	struct gw *g = NULL;
	int status = EXIT_NEGATIVE;
	if (pipe_open(&p, &c, err, sizeof err) < 0) {
		blog(BLOG_ERROR, "serve", "%s", err);
		goto out;
	}
	struct gw_config gc = {
	        .listen = c.listen,
	        .nlisten = c.nlisten,
	        .threads = c.gateway_threads,
	        .max_connections = c.max_connections,
	        .max_body = c.max_body,
	        .shards = pipe_gw_shards(p),
	        .nshards = c.nshards,
	        .pipe = pipe_gw_ops(p),
	        .read_logs = pipe_read_logs(p),
	        .tile_cache_bytes = (size_t)c.tile_cache_mb << 20,
	        .metrics = pipe_metrics,
	        .metrics_ctx = p,
	        .log_json = pipe_log_json,
	        .retry_after = 1,
	};
	if (gw_start(&g, &gc, err, sizeof err) < 0) {
		blog(BLOG_ERROR, "serve", "%s", err);
		goto out;
	}
	if (pipe_launch(p, g, err, sizeof err) < 0) {
		blog(BLOG_ERROR, "serve", "%s", err);
		gw_drain(g, 0);
		goto out;
	}
	for (unsigned s = 0; s < c.nshards; s++) {
		char id[B64_ENCODED_LEN(32) + 1];
		id[b64_encode(id, pipe_log_id(p, s), 32)] = 0;
		struct pipe_stats st;
		pipe_stats_get(p, &st);
		blog(BLOG_INFO, "serve",
		     "[shard %s] log ID %s, tree size %llu, data %s, prefix '%s'%s",
		     c.shard[s].name, id, (unsigned long long)st.tree_size[s], c.shard[s].data,
		     c.shard[s].prefix, c.shard[s].read_only ? " (read-only)" : "");
	}
	for (unsigned i = 0; i < c.nlisten; i++)
		blog(BLOG_INFO, "serve", "listening on http://%s%s%s:%u/",
		     strchr(c.listen[i].host, ':') ? "[" : "", c.listen[i].host,
		     strchr(c.listen[i].host, ':') ? "]" : "", gw_port(g, i));
	int sig = 0;
	for (;;) {
		struct timespec ts = {60, 0};
		sig = sigtimedwait(&sigs, NULL, &ts);
		if (sig > 0)
			break;
		if (sig < 0 && errno == EAGAIN)
			log_stats(p, &c);
	}
	blog(BLOG_INFO, "serve", "%s: draining", strsignal(sig));
	unsigned left = gw_drain(g, 30000);
	if (left)
		blog(BLOG_WARN, "serve",
		     "%u submissions still in flight after 30 s; stopping anyway", left);
	pipe_quit(p);
	log_stats(p, &c);
	status = 0;
out:
	gw_stop(g);
	if (p && status != 0)
		pipe_quit(p);
	pipe_close(p);
	pipe_eal_stop();
	if (status == 0)
		blog(BLOG_INFO, "serve", "stopped");
	return status;
}
