/* tests/fuzz/replay.c: runs a libFuzzer target over every file of its corpus directories, so
 * each corpus is replayed as an ordinary test in every build (and under the sanitizers in the
 * sanitizer build). Usage: replay_<target> DIR... Exit 0, or 99 when a directory is empty. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static long
replay_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d) {
		fprintf(stderr, "cannot open corpus %s\n", dir);
		return -1;
	}
	long n = 0;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		FILE *f = fopen(path, "rb");
		if (!f)
			continue;
		uint8_t *buf = malloc(1 << 20);
		size_t len = fread(buf, 1, 1 << 20, f);
		fclose(f);
		/* A copy of exactly len bytes, so ASan catches any read past the input. */
		uint8_t *exact = malloc(len ? len : 1);
		memcpy(exact, buf, len);
		free(buf);
		LLVMFuzzerTestOneInput(exact, len);
		free(exact);
		n++;
	}
	closedir(d);
	return n;
}

int
main(int argc, char **argv)
{
	long total = 0;
	for (int i = 1; i < argc; i++) {
		long n = replay_dir(argv[i]);
		if (n < 0)
			return 99;
		total += n;
	}
	printf("%ld inputs replayed, 0 failed\n", total);
	return total > 0 ? 0 : 99;
}
