/* tools/cmd_merkle_demo.c: `birch merkle demo`: the Merkle engine on its own, with no set-up:
 * grows a tree of synthetic entries in batches, prints its root and tile set, and proves and
 * verifies an entry and a consistency step. Nothing is written to disk. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/hex.h"
#include "engine/merkle.h"
#include "engine/sha256x.h"
#include "engine/tiles.h"
#include "tools/cmd.h"

static const char usage[] =
        "usage: birch merkle demo [--leaves N]\n"
        "\n"
        "Builds an RFC 6962 tree of N synthetic entries (default 1000000) in batches of 4096,\n"
        "then prints its root, its static-ct-api tile count, an inclusion proof and a\n"
        "consistency proof, each verified. Nothing is written to disk.\n";

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
hex_line(const char *label, const merkle_hash_t h)
{
	char hex[65];
	hex_encode(hex, h, 32);
	printf("%-22s %s\n", label, hex);
}

int
cmd_merkle_demo(int argc, char **argv)
{
	uint64_t n = 1000000;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(usage, stdout);
			return 0;
		}
		if (strcmp(argv[i], "--leaves") == 0 && i + 1 < argc) {
			if (!cmd_parse_u64(argv[++i], &n) || n < 2 || n > 100000000)
				return cmd_usage_error(
				        "merkle demo",
				        "--leaves must be an integer in 2..100000000, "
				        "got '%s'",
				        argv[i]);
			continue;
		}
		return cmd_usage_error("merkle demo", "unknown argument '%s' (try --help)",
		                       argv[i]);
	}

	enum { BATCH = 4096 };
	struct merkle_memtree t;
	static merkle_hash_t leaves[BATCH];
	static uint8_t data[BATCH][32];
	const uint8_t *msg[BATCH];
	size_t len[BATCH];
	if (merkle_memtree_init(&t, BATCH) != 0)
		return cmd_usage_error("merkle demo", "out of memory");
	sha256x_init();
	printf("birch merkle demo: a Merkle tree of %llu synthetic entries, in memory\n",
	       (unsigned long long)n);
	printf("%-22s %s\n", "sha256 implementation", sha256x_impl_name(sha256x_selected()));

	double t0 = now();
	for (uint64_t done = 0; done < n;) {
		size_t k = n - done < BATCH ? (size_t)(n - done) : BATCH;
		for (size_t i = 0; i < k; i++) {
			len[i] = (size_t)snprintf((char *)data[i], sizeof data[i],
			                          "birch demo entry %llu",
			                          (unsigned long long)(done + i));
			msg[i] = data[i];
		}
		sha256x_leaves((uint8_t(*)[SHA256X_LEN])leaves, msg, len, k);
		if (merkle_memtree_append(&t, leaves, k) != 0) {
			merkle_memtree_free(&t);
			return cmd_usage_error("merkle demo", "out of memory");
		}
		done += k;
	}
	double dt = now() - t0;
	merkle_hash_t root;
	merkle_frontier_root(&t.frontier, root);
	printf("%-22s %.3f s (%.2f M entries/s, leaf hashing included)\n", "built in", dt,
	       (double)n / dt / 1e6);
	hex_line("root", root);

	struct tiles_iter it;
	struct tiles_id tile;
	uint64_t tiles = 0;
	tiles_grow_begin(&it, 0, n, true);
	while (tiles_grow_next(&it, &tile))
		tiles++;
	printf("%-22s %llu (data and hash, full and partial)\n", "static-ct-api tiles",
	       (unsigned long long)tiles);

	struct merkle_source src = merkle_memtree_source(&t);
	merkle_hash_t proof[MERKLE_MAX_PROOF], old_root;
	size_t plen;
	uint64_t idx = n / 3, old = n / 2;
	const char *why = NULL;
	int rc = merkle_inclusion_proof(&src, idx, n, proof, &plen);
	if (rc == 0)
		rc = merkle_verify_inclusion(idx, n, t.level[0][idx], proof, plen, root, &why);
	printf("%-22s entry %llu: %zu hashes, %s\n", "inclusion proof", (unsigned long long)idx,
	       plen, rc == 0 ? "verified" : "FAILED");
	int rc2 = merkle_range_root(&src, 0, old, old_root);
	if (rc2 == 0)
		rc2 = merkle_consistency_proof(&src, old, n, proof, &plen);
	if (rc2 == 0)
		rc2 = merkle_verify_consistency(old, n, old_root, root, proof, plen, &why);
	printf("%-22s %llu -> %llu: %zu hashes, %s\n", "consistency proof", (unsigned long long)old,
	       (unsigned long long)n, plen, rc2 == 0 ? "verified" : "FAILED");
	printf("\nTry: printf '00\\n01\\n02\\n' | birch merkle root\n");
	merkle_memtree_free(&t);
	return rc == 0 && rc2 == 0 ? 0 : EXIT_NEGATIVE;
}
