/* tests/lib/vec.c: the check counters and a small JSON reader for vector files. */
#include "tests/lib/vec.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "tests/lib/check.h"

unsigned long check_failures;
unsigned long check_count;
const char *check_case = "";

void
check_fail(const char *file, int line, const char *fmt, ...)
{
	if (++check_failures <= 50) {
		va_list ap;
		fprintf(stderr, "%s:%d: [%s] ", file, line, check_case);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
}

int
check_done(void)
{
	printf("%lu checks, %lu failed\n", check_count, check_failures);
	if (check_count == 0) {
		fprintf(stderr, "no check ran\n");
		return 99;
	}
	return check_failures ? 1 : 0;
}

void
check_skip(const char *reason)
{
	printf("SKIP: %s\n", reason);
	exit(77);
}

void
check_harness(const char *reason)
{
	fprintf(stderr, "harness error: %s\n", reason);
	exit(99);
}

char *
vec_path(const char *rel)
{
	const char *dir = getenv("BIRCH_VECTORS");
	if (dir == NULL || *dir == '\0')
		check_skip("BIRCH_VECTORS is not set (run through meson test)");
	char *p = malloc(strlen(dir) + strlen(rel) + 2);
	if (!p)
		check_harness("out of memory");
	sprintf(p, "%s/%s", dir, rel);
	return p;
}

uint8_t *
vec_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "cannot open %s\n", path);
		check_harness("vector file missing");
	}
	size_t cap = 4096, n = 0;
	uint8_t *buf = malloc(cap + 1);
	for (size_t got; buf && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
		n += got;
		if (n == cap)
			buf = realloc(buf, (cap *= 2) + 1);
	}
	fclose(f);
	if (!buf)
		check_harness("out of memory");
	buf[n] = 0;
	*len = n;
	return buf;
}

/* ---- JSON (test input only: trusted files, recursion is fine) ---- */

struct parser {
	const char *p, *end;
	const char *file;
};

static void
bad(struct parser *ps, const char *what)
{
	fprintf(stderr, "%s: JSON error at offset %ld: %s\n", ps->file, (long)(ps->end - ps->p),
	        what);
	check_harness("malformed vector JSON");
}

static void
ws(struct parser *ps)
{
	while (ps->p < ps->end && strchr(" \t\r\n", *ps->p))
		ps->p++;
}

static char *
str(struct parser *ps)
{
	if (*ps->p != '"')
		bad(ps, "expected string");
	ps->p++;
	char *out = malloc((size_t)(ps->end - ps->p) + 1), *o = out;
	while (ps->p < ps->end && *ps->p != '"') {
		char c = *ps->p++;
		if (c == '\\') {
			c = *ps->p++;
			switch (c) {
			case 'n':
				c = '\n';
				break;
			case 't':
				c = '\t';
				break;
			case 'r':
				c = '\r';
				break;
			case 'b':
				c = '\b';
				break;
			case 'f':
				c = '\f';
				break;
			case 'u': {
				unsigned v;
				if (sscanf(ps->p, "%4x", &v) != 1)
					bad(ps, "bad \\u escape");
				ps->p += 4;
				c = v < 0x80 ? (char)v : '?';
				break;
			}
			default:
				break; /* \" \\ \/ */
			}
		}
		*o++ = c;
	}
	if (ps->p >= ps->end)
		bad(ps, "unterminated string");
	ps->p++;
	*o = 0;
	return out;
}

static void value(struct parser *ps, struct vec_json *v);

static void
push(struct vec_json *v, size_t *cap)
{
	if (v->n == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		v->item = realloc(v->item, *cap * sizeof *v->item);
		if (v->type == VEC_OBJ)
			v->key = realloc(v->key, *cap * sizeof *v->key);
	}
}

static void
value(struct parser *ps, struct vec_json *v)
{
	memset(v, 0, sizeof *v);
	ws(ps);
	if (ps->p >= ps->end)
		bad(ps, "unexpected end");
	char c = *ps->p;
	size_t cap = 0;
	if (c == '{' || c == '[') {
		v->type = c == '{' ? VEC_OBJ : VEC_ARR;
		ps->p++;
		ws(ps);
		if (*ps->p == (c == '{' ? '}' : ']')) {
			ps->p++;
			return;
		}
		for (;;) {
			push(v, &cap);
			if (v->type == VEC_OBJ) {
				ws(ps);
				v->key[v->n] = str(ps);
				ws(ps);
				if (*ps->p++ != ':')
					bad(ps, "expected ':'");
			}
			value(ps, &v->item[v->n++]);
			ws(ps);
			if (*ps->p == ',') {
				ps->p++;
				continue;
			}
			if (*ps->p++ != (c == '{' ? '}' : ']'))
				bad(ps, "expected ',' or closing bracket");
			return;
		}
	}
	if (c == '"') {
		v->type = VEC_STR;
		v->str = str(ps);
	} else if (strncmp(ps->p, "true", 4) == 0) {
		v->type = VEC_BOOL, v->b = true, ps->p += 4;
	} else if (strncmp(ps->p, "false", 5) == 0) {
		v->type = VEC_BOOL, ps->p += 5;
	} else if (strncmp(ps->p, "null", 4) == 0) {
		v->type = VEC_NULL, ps->p += 4;
	} else {
		char *e;
		v->type = VEC_NUM;
		v->num = strtod(ps->p, &e);
		if (e == ps->p)
			bad(ps, "unexpected character");
		v->raw = strndup(ps->p, (size_t)(e - ps->p));
		ps->p = e;
	}
}

struct vec_json *
vec_json_file(const char *path)
{
	size_t len;
	char *text = (char *)vec_read(path, &len);
	struct parser ps = {.p = text, .end = text + len, .file = path};
	struct vec_json *v = malloc(sizeof *v);
	value(&ps, v);
	return v; /* text is leaked on purpose: test process lifetime */
}

const struct vec_json *
vec_get(const struct vec_json *obj, const char *key)
{
	if (obj == NULL || obj->type != VEC_OBJ)
		return NULL;
	for (size_t i = 0; i < obj->n; i++)
		if (strcmp(obj->key[i], key) == 0)
			return &obj->item[i];
	return NULL;
}

const struct vec_json *
vec_must(const struct vec_json *obj, const char *key, enum vec_type t)
{
	const struct vec_json *v = vec_get(obj, key);
	if (v == NULL || v->type != t) {
		fprintf(stderr, "vector field '%s' missing or of the wrong type\n", key);
		check_harness("unexpected vector layout");
	}
	return v;
}

uint64_t
vec_u64(const struct vec_json *obj, const char *key)
{
	const struct vec_json *v = vec_must(obj, key, VEC_NUM);
	char *e;
	errno = 0;
	unsigned long long x = strtoull(v->raw, &e, 10);
	if (errno || *e || v->raw[0] == '-') {
		fprintf(stderr, "vector field '%s' = %s is not a 64-bit count\n", key, v->raw);
		check_harness("unexpected vector number");
	}
	return x;
}

long
vec_b64(uint8_t *out, size_t cap, const char *in)
{
	size_t n = strlen(in);
	if (n % 4 != 0 || n / 4 * 3 > cap + 2)
		return -1;
	uint8_t *tmp = malloc(n / 4 * 3 + 1);
	int got = EVP_DecodeBlock(tmp, (const unsigned char *)in, (int)n);
	if (got < 0) {
		free(tmp);
		return -1;
	}
	if (n >= 1 && in[n - 1] == '=')
		got--;
	if (n >= 2 && in[n - 2] == '=')
		got--;
	if ((size_t)got > cap) {
		free(tmp);
		return -1;
	}
	memcpy(out, tmp, (size_t)got);
	free(tmp);
	return got;
}

static int
cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
walk(const char *dir, const char *suffix, char ***list, size_t *n, size_t *cap)
{
	DIR *d = opendir(dir);
	if (!d) {
		fprintf(stderr, "cannot open directory %s\n", dir);
		check_harness("vector directory missing");
	}
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		char *p = malloc(strlen(dir) + strlen(e->d_name) + 2);
		if (!p)
			check_harness("out of memory");
		sprintf(p, "%s/%s", dir, e->d_name);
		struct stat st;
		if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
			walk(p, suffix, list, n, cap);
			free(p);
			continue;
		}
		size_t pl = strlen(p), sl = strlen(suffix);
		if (pl < sl || strcmp(p + pl - sl, suffix) != 0) {
			free(p);
			continue;
		}
		if (*n == *cap)
			*list = realloc(*list, (*cap = *cap ? *cap * 2 : 64) * sizeof **list);
		(*list)[(*n)++] = p;
	}
	closedir(d);
}

char **
vec_list(const char *dir, const char *suffix, size_t *n)
{
	char **list = NULL;
	size_t cap = 0;
	*n = 0;
	walk(dir, suffix, &list, n, &cap);
	qsort(list, *n, sizeof *list, cmp);
	return list;
}
