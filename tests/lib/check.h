/* tests/lib/check.h: the assertions every Birch unit test uses.
 *
 * A test program runs its cases with RUN(fn), counts failed CHECKs, and ends with
 * `return check_done();`: exit 0 when every check held, 1 when any failed. Exit 77 means
 * skipped (call check_skip(reason)), 99 a harness error (check_harness(reason)).
 * Every loop in a test must be bounded in count; CHECK never aborts, so one run reports
 * every failure (capped at 50 printed lines).
 */
#ifndef BIRCH_TESTS_CHECK_H
#define BIRCH_TESTS_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern unsigned long check_failures;
extern unsigned long check_count;
extern const char *check_case;

void check_fail(const char *file, int line, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
int check_done(void);
__attribute__((noreturn)) void check_skip(const char *reason);
__attribute__((noreturn)) void check_harness(const char *reason);

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		check_count++;                                                                     \
		if (!(cond))                                                                       \
			check_fail(__FILE__, __LINE__, __VA_ARGS__);                               \
	} while (0)

#define CHECK_MEM(a, b, n, ...) CHECK(memcmp((a), (b), (n)) == 0, __VA_ARGS__)

#define RUN(fn)                                                                                    \
	do {                                                                                       \
		unsigned long before_ = check_failures;                                            \
		check_case = #fn;                                                                  \
		fn();                                                                              \
		printf("%s %s\n", check_failures == before_ ? "ok  " : "FAIL", #fn);               \
		fflush(stdout);                                                                    \
	} while (0)

#endif
