/* Fuzz target: config_parse(), config_parse_time(), config_parse_listen().
 * Invariants: config_parse() returns 0 or -EINVAL; err is NUL-terminated within err_len, never
 * written past it, one line of printable text; a failure says "fuzz.conf:LINE: reason", a
 * success leaves err empty; a success holds every documented range (1..16 shards, 1..8 listen
 * addresses, 1..8 roots per shard, NUL-terminated strings, distinct names and prefixes,
 * not_after_start < not_after_end) and passes config_check(); the same text with a tiny err
 * buffer gives the same result and the same config. A time that parses lands in years
 * 0000..9999 and, in plain "...Z" form, agrees with gmtime_r(); a listen address that parses
 * prints back to itself. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "net/config.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

static void
check_config(const struct config *c)
{
	static char err[CONFIG_ERR_MAX];
	FUZZ_REQUIRE(c->nlisten >= 1 && c->nlisten <= CONFIG_LISTEN_MAX);
	for (unsigned i = 0; i < c->nlisten; i++)
		FUZZ_REQUIRE(terminated(c->listen[i].host, sizeof c->listen[i].host) &&
		             c->listen[i].host[0] != '\0');
	FUZZ_REQUIRE(c->gateway_threads >= 1 && c->gateway_threads <= 64);
	FUZZ_REQUIRE(c->workers >= 1 && c->workers <= 128);
	FUZZ_REQUIRE(c->max_connections >= 1 && c->max_connections <= 1000000);
	FUZZ_REQUIRE(c->max_body >= 4096 && c->max_body <= 16777216);
	FUZZ_REQUIRE(c->slot_bytes >= 8192 && c->slot_bytes <= 1048576);
	FUZZ_REQUIRE(terminated(c->cpus, sizeof c->cpus));
	FUZZ_REQUIRE(terminated(c->eal_args, sizeof c->eal_args));
	FUZZ_REQUIRE(terminated(c->log_level, sizeof c->log_level));
	FUZZ_REQUIRE(c->nshards >= 1 && c->nshards <= CONFIG_SHARDS_MAX);
	for (unsigned i = 0; i < c->nshards; i++) {
		const struct config_shard *h = &c->shard[i];
		FUZZ_REQUIRE(terminated(h->name, sizeof h->name) && h->name[0] != '\0');
		FUZZ_REQUIRE(terminated(h->prefix, sizeof h->prefix));
		FUZZ_REQUIRE(h->prefix[0] == '\0' || h->prefix[0] == '/');
		FUZZ_REQUIRE(terminated(h->data, sizeof h->data) && h->data[0] != '\0');
		FUZZ_REQUIRE(terminated(h->key, sizeof h->key) && h->key[0] != '\0');
		FUZZ_REQUIRE(h->nroots >= 1 && h->nroots <= CONFIG_ROOTS_MAX);
		for (unsigned r = 0; r < h->nroots; r++)
			FUZZ_REQUIRE(terminated(h->roots[r], sizeof h->roots[r]) &&
			             h->roots[r][0] != '\0');
		FUZZ_REQUIRE(terminated(h->origin, sizeof h->origin) && h->origin[0] != '\0');
		FUZZ_REQUIRE(h->not_after_start < h->not_after_end);
		FUZZ_REQUIRE(h->batch_size >= 1 && h->batch_size <= 65536);
		FUZZ_REQUIRE(h->batch_deadline_ms >= 1 && h->batch_deadline_ms <= 1000);
		FUZZ_REQUIRE(h->pool >= 16 && h->pool <= 1048576);
		FUZZ_REQUIRE(h->line >= 1);
		for (unsigned j = 0; j < i; j++) {
			FUZZ_REQUIRE(strcmp(c->shard[j].name, h->name) != 0);
			FUZZ_REQUIRE(strcmp(c->shard[j].prefix, h->prefix) != 0);
			FUZZ_REQUIRE(strcmp(c->shard[j].data, h->data) != 0);
			FUZZ_REQUIRE(c->shard[j].line < h->line);
		}
	}
	/* The checks for a config built from flags agree. */
	FUZZ_REQUIRE(config_check(c, err, sizeof err) == 0 && err[0] == '\0');
}

static void
check_err(const char *err, size_t cap)
{
	FUZZ_REQUIRE(terminated(err, cap));
	for (size_t i = 0; err[i]; i++)
		FUZZ_REQUIRE((unsigned char)err[i] >= 0x20 && err[i] != 0x7f);
}

static void
check_time(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	int64_t t = 1;
	if (config_parse_time(s, size, &t) != 0) {
		FUZZ_REQUIRE(t == 0);
		return;
	}
	/* 0000-01-01T00:00:00+23:59 .. 9999-12-31T23:59:60-23:59 */
	FUZZ_REQUIRE(t >= -62167219200LL - 86400 && t <= 253402300800LL + 86400);
	if (size != 20 || (s[19] != 'Z' && s[19] != 'z') || s[17] > '5')
		return;
	time_t tt = (time_t)t;
	struct tm tm;
	FUZZ_REQUIRE(gmtime_r(&tt, &tm) != NULL);
	char back[64];
	snprintf(back, sizeof back, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	FUZZ_REQUIRE(memcmp(back, s, 10) == 0 && memcmp(back + 11, s + 11, 8) == 0);
}

static void
check_listen(const uint8_t *data, size_t size)
{
	char s[256], back[256];
	if (size >= sizeof s)
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	struct config_listen l, l2;
	const char *why = NULL;
	if (config_parse_listen(s, &l, &why) != 0) {
		FUZZ_REQUIRE(why != NULL && l.host[0] == '\0' && l.port == 0);
		return;
	}
	FUZZ_REQUIRE(why == NULL && terminated(l.host, sizeof l.host) && l.host[0] != '\0');
	bool v6 = strchr(l.host, ':') != NULL;
	snprintf(back, sizeof back, "%s%s%s:%u", v6 ? "[" : "", l.host, v6 ? "]" : "", l.port);
	FUZZ_REQUIRE(strcmp(back, s) == 0);
	FUZZ_REQUIRE(config_parse_listen(back, &l2, &why) == 0);
	FUZZ_REQUIRE(memcmp(&l, &l2, sizeof l) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config c, c2;
	static char err[CONFIG_ERR_MAX + 16];
	static const char name[] = "fuzz.conf";
	const char *text = (const char *)data;

	memset(err, 0xa5, sizeof err);
	int rc = config_parse(&c, text, size, name, err, CONFIG_ERR_MAX);
	FUZZ_REQUIRE(rc == 0 || rc == -EINVAL);
	for (size_t i = CONFIG_ERR_MAX; i < sizeof err; i++)
		FUZZ_REQUIRE((unsigned char)err[i] == 0xa5);
	check_err(err, CONFIG_ERR_MAX);
	if (rc == 0) {
		FUZZ_REQUIRE(err[0] == '\0');
		check_config(&c);
	} else {
		/* "fuzz.conf:LINE: reason" */
		size_t n = sizeof name - 1;
		FUZZ_REQUIRE(strncmp(err, name, n) == 0 && err[n] == ':');
		size_t i = n + 1;
		while (err[i] >= '0' && err[i] <= '9')
			i++;
		FUZZ_REQUIRE(i > n + 1 && err[i] == ':' && err[i + 1] == ' ' && err[i + 2] != '\0');
	}

	/* Again, with a tiny err buffer: same result, nothing written past it. */
	size_t cap = size ? 1 + data[size - 1] % 24 : 1;
	memset(err, 0xa5, sizeof err);
	int rc2 = config_parse(&c2, text, size, name, err, cap);
	FUZZ_REQUIRE(rc2 == rc);
	check_err(err, cap);
	for (size_t i = cap; i < sizeof err; i++)
		FUZZ_REQUIRE((unsigned char)err[i] == 0xa5);
	if (rc == 0)
		FUZZ_REQUIRE(memcmp(&c, &c2, sizeof c) == 0);

	if (size <= 64)
		check_time(data, size);
	check_listen(data, size);
	return 0;
}
