/* tests/lib/vec.h: reading ../shared/vectors in tests. Test-only: allocates freely and calls
 * check_harness() (exit 99) on anything it cannot read, since a vector that cannot be read
 * is a broken harness, not a failed check. Nothing here is used by Birch itself. */
#ifndef BIRCH_TESTS_VEC_H
#define BIRCH_TESTS_VEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum vec_type { VEC_NULL, VEC_BOOL, VEC_NUM, VEC_STR, VEC_ARR, VEC_OBJ };

struct vec_json {
	enum vec_type type;
	bool b;
	double num;
	char *raw;             /* VEC_NUM: the number's text, for exact integers */
	char *str;             /* VEC_STR: NUL-terminated; a \uXXXX escape above 0x7f reads as
	                          '?' (every vector file is ASCII) */
	size_t n;              /* VEC_ARR, VEC_OBJ: number of items */
	struct vec_json *item; /* items */
	char **key;            /* VEC_OBJ: item keys */
};

/* $BIRCH_VECTORS/rel (malloc'd). Skips the test (exit 77) when BIRCH_VECTORS is unset. */
char *vec_path(const char *rel);
/* The whole file, NUL-terminated; *len without the NUL. */
uint8_t *vec_read(const char *path, size_t *len);
/* Parses a JSON file. */
struct vec_json *vec_json_file(const char *path);
/* Member of an object, or NULL. */
const struct vec_json *vec_get(const struct vec_json *obj, const char *key);
/* Member that must exist with the given type (else harness error). */
const struct vec_json *vec_must(const struct vec_json *obj, const char *key, enum vec_type t);
/* A non-negative integer member, parsed exactly from its text (harness error otherwise). */
uint64_t vec_u64(const struct vec_json *obj, const char *key);
/* Standard base64 (with padding). Returns the decoded length, or -1 when malformed. */
long vec_b64(uint8_t *out, size_t cap, const char *in);
/* Lists regular files under dir (recursively) whose name ends in suffix; sorted. */
char **vec_list(const char *dir, const char *suffix, size_t *n);

#endif
