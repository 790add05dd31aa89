/* tools/birch.c: the birch command: dispatches to its subcommands. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>

#include "tools/cmd.h"

static const char usage[] =
        "usage: birch <command> [arguments]\n"
        "\n"
        "Birch, a Certificate Transparency log engine.\n"
        "\n"
        "commands:\n"
        "  serve    run a CT log (add-chain, add-pre-chain, get-roots) from a config or flags\n"
        "  merkle   RFC 6962 Merkle roots and proofs over leaves given as hex lines\n"
        "  demo     run a demo log on 127.0.0.1 with a test CA, submit to it, keep serving\n"
        "  log      look at (info) and check (fsck) a log directory\n"
        "  keygen   generate a log's P-256 signing key; print its log ID and public key\n"
        "  ct       RFC 6962 leaves of a chain (leaf) and SCT checks (verify-sct)\n"
        "  load     submit minted chains to a log at a fixed concurrency or rate; report\n"
        "  version  print the version\n"
        "\n"
        "Run 'birch <command> --help' for a command's arguments.\n";

int
cmd_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "birch %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_USAGE;
}

char *
cmd_read_file(const char *path, size_t max, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
		close(fd);
		errno = EFBIG;
		return NULL;
	}
	char *buf = malloc((size_t)st.st_size + 1);
	size_t got = 0;
	while (buf && got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (!buf) {
		errno = ENOMEM;
		return NULL;
	}
	buf[got] = '\0';
	*len = got;
	return buf;
}

bool
cmd_parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	if (s == NULL || *s == '\0')
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("birch %s\n", BIRCH_VERSION);
		return 0;
	}
	if (strcmp(cmd, "merkle") == 0)
		return cmd_merkle(argc - 1, argv + 1);
	if (strcmp(cmd, "demo") == 0)
		return cmd_demo(argc - 1, argv + 1);
	if (strcmp(cmd, "log") == 0)
		return cmd_log(argc - 1, argv + 1);
	if (strcmp(cmd, "keygen") == 0)
		return cmd_keygen(argc - 1, argv + 1);
	if (strcmp(cmd, "ct") == 0)
		return cmd_ct(argc - 1, argv + 1);
	if (strcmp(cmd, "serve") == 0)
		return cmd_serve(argc - 1, argv + 1);
	if (strcmp(cmd, "load") == 0)
		return cmd_load(argc - 1, argv + 1);
	fprintf(stderr, "birch: unknown command '%s' (try 'birch --help')\n", cmd);
	return EXIT_USAGE;
}
