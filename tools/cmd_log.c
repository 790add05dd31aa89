/* tools/cmd_log.c: birch log info|fsck DIR: look at and check a log directory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/hex.h"
#include "engine/tlog.h"
#include "storage/store.h"
#include "tools/cmd.h"

static const char usage[] =
        "usage: birch log info DIR\n"
        "       birch log fsck DIR\n"
        "\n"
        "info  the committed size and root, the last signed head and checkpoint, the index\n"
        "      watermark, and the disk use of each part (tiles, edge files, state.mdb, index/).\n"
        "fsck  recomputes everything from the tiles: every data tile splits into its entries,\n"
        "      every hash tile matches the hashes recomputed from the data, the committed root,\n"
        "      every signed size and root, the latest head, the index rows. Prints each problem.\n"
        "      Safe beside a running log (it checks what was committed when it started).\n"
        "\n"
        "Both open the log read-only. Exit status: 0 clean, 1 problems found, 2 usage or a\n"
        "directory that cannot be read as a log.\n";

static void
print_hash(const char *label, const uint8_t h[32])
{
	char hex[65];
	hex_encode(hex, h, 32);
	hex[64] = 0;
	printf("%-16s %s\n", label, hex);
}

static void
print_bytes(const char *label, uint64_t bytes, uint64_t entries)
{
	printf("%-16s %llu bytes", label, (unsigned long long)bytes);
	if (entries > 0)
		printf(" (%.1f per entry)", (double)bytes / (double)entries);
	putchar('\n');
}

static int
log_info(const char *dir)
{
	struct store_opts o = {.read_only = true};
	struct store *s = NULL;
	const char *why = NULL;
	int rc = store_open(&s, dir, &o, &why);
	if (rc < 0) {
		fprintf(stderr, "birch log info: %s: %s\n", dir, why ? why : strerror(-rc));
		return EXIT_USAGE;
	}
	struct store_state st;
	store_state_get(s, &st);
	printf("%-16s %s\n", "log", dir);
	printf("%-16s %s\n", "entry format", store_format(s)[0] ? store_format(s) : "(none)");
	printf("%-16s %llu\n", "size", (unsigned long long)st.size);
	if (st.size > 0)
		print_hash("root", st.root);
	printf("%-16s %llu\n", "committed at", (unsigned long long)st.timestamp);
	printf("%-16s %llu\n", "index watermark", (unsigned long long)store_index_watermark(s));

	struct store_reader *r = NULL;
	uint8_t *buf = malloc(STORE_HEAD_MAX + 64);
	struct store_head h;
	rc = buf ? store_reader_open(s, &r) : -ENOMEM;
	if (rc == 0)
		rc = store_head_get(r, &h, buf, STORE_HEAD_MAX + 64);
	if (rc == 0) {
		printf("%-16s size %llu, timestamp %llu, %zu STH bytes\n", "signed head",
		       (unsigned long long)h.size, (unsigned long long)h.timestamp, h.sth_len);
		print_hash("signed root", h.root);
		printf("checkpoint:\n");
		/* Print the note text line by line, indented; bytes outside printable ASCII as '?'.
		 */
		fputs("  ", stdout);
		for (size_t i = 0; i < h.checkpoint_len; i++) {
			uint8_t c = h.checkpoint[i];
			if (c == '\n')
				fputs(i + 1 < h.checkpoint_len ? "\n  " : "\n", stdout);
			else
				putchar(c >= 0x20 && c < 0x7f ? c : '?');
		}
		if (h.checkpoint_len == 0 || h.checkpoint[h.checkpoint_len - 1] != '\n')
			putchar('\n');
	} else if (rc == -ENOENT) {
		printf("%-16s none yet\n", "signed head");
	} else {
		fprintf(stderr, "birch log info: %s: cannot read the signed head (%s)\n", dir,
		        strerror(-rc));
	}
	struct store_usage u;
	if (store_usage_get(s, &u) == 0) {
		printf("disk use:\n");
		print_bytes("  tiles", u.tile_bytes, st.size);
		printf("%-16s %llu\n", "  tile files", (unsigned long long)u.tile_files);
		print_bytes("  edge/", u.edge_bytes, st.size);
		print_bytes("  state.mdb", u.state_bytes, st.size);
		print_bytes("  index/", u.index_bytes, st.size);
		print_bytes("    dedup", u.dedup_bytes, u.dedup_rows);
		print_bytes("    leaf hash", u.hash_bytes, u.hash_rows);
		printf("%-16s %llu signed sizes, %llu issuers, %llu dedup rows, %llu hash rows\n",
		       "records", (unsigned long long)u.signed_rows,
		       (unsigned long long)u.issuer_rows, (unsigned long long)u.dedup_rows,
		       (unsigned long long)u.hash_rows);
	}
	store_reader_close(r);
	free(buf);
	store_close(s);
	return 0;
}

struct fsck_out {
	const char *dir;
	unsigned printed;
};

static void
on_problem(void *ctx, const char *msg)
{
	struct fsck_out *o = ctx;
	if (++o->printed <= 1000)
		printf("problem: %s\n", msg);
	else if (o->printed == 1001)
		printf("problem: (more problems not shown)\n");
}

static int
log_fsck(const char *dir)
{
	struct store_opts o = {.read_only = true};
	struct store *s = NULL;
	const char *why = NULL;
	int rc = store_open(&s, dir, &o, &why);
	if (rc < 0) {
		fprintf(stderr, "birch log fsck: %s: %s\n", dir, why ? why : strerror(-rc));
		return EXIT_USAGE;
	}
	char format[32];
	snprintf(format, sizeof format, "%s", store_format(s));
	store_close(s);
	const struct tlog_codec *codec = tlog_codec_find(format);
	if (codec == NULL) {
		fprintf(stderr, "birch log fsck: %s: unknown entry format '%s'\n", dir, format);
		return EXIT_USAGE;
	}
	struct fsck_out out = {dir, 0};
	struct tlog_fsck_stats st;
	long n = tlog_fsck(dir, codec, &st, on_problem, &out);
	if (n < 0) {
		fprintf(stderr, "birch log fsck: %s: cannot check (%s)\n", dir, strerror((int)-n));
		return EXIT_USAGE;
	}
	printf("%s: size %llu, %llu entries, %llu data tiles, %llu hash tiles, %llu signed sizes, "
	       "%llu index rows checked: %s",
	       dir, (unsigned long long)st.size, (unsigned long long)st.entries,
	       (unsigned long long)st.data_tiles, (unsigned long long)st.hash_tiles,
	       (unsigned long long)st.signed_sizes, (unsigned long long)st.index_rows_checked,
	       n == 0 ? "clean\n" : "");
	if (n > 0)
		printf("%ld problem%s\n", n, n == 1 ? "" : "s");
	return n == 0 ? 0 : EXIT_NEGATIVE;
}

int
cmd_log(int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(usage, stdout);
		return 0;
	}
	if (argc < 2)
		return cmd_usage_error("log", "missing subcommand (info or fsck; try --help)");
	if (argc >= 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
		fputs(usage, stdout);
		return 0;
	}
	if (argc != 3)
		return cmd_usage_error("log", "%s takes exactly one log directory (try --help)",
		                       argv[1]);
	if (strcmp(argv[1], "info") == 0)
		return log_info(argv[2]);
	if (strcmp(argv[1], "fsck") == 0)
		return log_fsck(argv[2]);
	return cmd_usage_error("log", "unknown subcommand '%s' (info or fsck)", argv[1]);
}
