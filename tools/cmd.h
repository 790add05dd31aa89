/* tools/cmd.h: the birch subcommands and the helpers they share. Each cmd_* function takes
 * the arguments after its own name and returns the process exit status: 0 success, 1 a
 * negative result (a proof that does not verify), 2 bad input or usage. Errors are one line
 * on stderr, prefixed with the command. */
#ifndef BIRCH_TOOLS_CMD_H
#define BIRCH_TOOLS_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EXIT_NEGATIVE 1
#define EXIT_USAGE    2

int cmd_merkle(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_merkle_demo(int argc, char **argv);
int cmd_log(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_ct(int argc, char **argv);
int cmd_load(int argc, char **argv);
int cmd_serve(int argc, char **argv);

/* Prints "birch <cmd>: <message>" on stderr and returns EXIT_USAGE. */
int cmd_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reads a whole regular file of at most max bytes, NUL-terminated (malloc'd; *len without the
 * NUL). NULL with errno set: EFBIG for a larger or non-regular file. */
char *cmd_read_file(const char *path, size_t max, size_t *len);

/* Strict decimal: digits only, no sign, within 64 bits. */
bool cmd_parse_u64(const char *s, uint64_t *out);

#endif
