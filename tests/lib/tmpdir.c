/* tests/lib/tmpdir.c: temporary directories for tests. */
#include "tests/lib/tmpdir.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/lib/check.h"

char *
tmpdir_make(const char *tag)
{
	const char *base = getenv("TMPDIR");
	if (base == NULL || *base == '\0')
		base = "/tmp";
	size_t n = strlen(base) + strlen(tag) + 32;
	char *p = malloc(n);
	if (p == NULL)
		check_harness("out of memory");
	snprintf(p, n, "%s/birch-%s-XXXXXX", base, tag);
	if (mkdtemp(p) == NULL)
		check_harness("mkdtemp failed");
	return p;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	remove(path);
	return 0;
}

void
tmpdir_remove(const char *path)
{
	if (path == NULL || path[0] == '\0' || strcmp(path, "/") == 0)
		return;
	nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS);
}

int
tmpdir_fsck(const char *dir)
{
	const char *bin = getenv("BIRCH_BIN");
	if (bin == NULL || access(bin, X_OK) != 0)
		return -1;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		FILE *devnull = freopen("/dev/null", "w", stdout);
		(void)devnull;
		execl(bin, bin, "log", "fsck", dir, (char *)NULL);
		_exit(127);
	}
	int st;
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}
