/* tools/cmd_merkle.c: `birch merkle`: roots and proofs over leaves read as hex lines, and
 * proof verification, for operators and for outside checks of Birch's tree. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/hex.h"
#include "engine/merkle.h"
#include "engine/sha256x.h"
#include "tools/cmd.h"

#define MAX_LEAF_BYTES (8u << 20) /* one leaf line: 16 MiB of hex at most */
#define BATCH          1024       /* leaves hashed per sha256x call */

static const char usage[] =
        "usage: birch merkle <subcommand> [flags]\n"
        "\n"
        "Leaves are read from stdin, one per line, as hex (an empty line is an empty leaf).\n"
        "Hashes are printed and read as 64 hex digits. Hashing follows RFC 6962:\n"
        "leaf = SHA-256(0x00 || data), node = SHA-256(0x01 || left || right).\n"
        "\n"
        "subcommands:\n"
        "  root [--size N]                     root of the first N leaves (default: all)\n"
        "  inclusion --index I [--size N]      audit path of leaf I in the tree of N leaves,\n"
        "                                      one hash per line, nearest the leaf first\n"
        "  consistency --old M [--size N]      consistency proof from size M to size N,\n"
        "                                      one hash per line, in RFC 6962 order\n"
        "  verify-inclusion --index I --size N --root HASH (--leaf-hash HASH | --leaf HEX)\n"
        "                   [PROOF...]\n"
        "  verify-consistency --old M --size N --old-root HASH --root HASH [PROOF...]\n"
        "  demo [--leaves N]                   build a synthetic tree in memory, prove and\n"
        "                                      verify entries in it\n"
        "      PROOF is the proof's hashes as arguments, in order, or a single '-' to read\n"
        "      them from stdin one per line (as 'inclusion' and 'consistency' print them);\n"
        "      no PROOF means an empty proof. Exit 0 when the proof verifies, 1 with the\n"
        "      reason on stderr when it does not.\n"
        "\n"
        "flags for every subcommand:\n"
        "  --impl NAME   SHA-256 implementation: auto (default), openssl, shani, avx2,\n"
        "                avx512\n"
        "  --help        this text\n"
        "\n"
        "Exit status: 0 success, 1 proof does not verify, 2 bad input or usage.\n";

struct opts {
	const char *sub;
	uint64_t size, index, old;
	bool has_size, has_index, has_old;
	const char *root, *old_root, *leaf_hash, *leaf;
	int nproof;
	char **proof;
};

/* ---- reading leaves ---- */

struct leaf_reader {
	char *line;
	size_t cap;
	uint64_t lineno;
	uint8_t *data; /* decoded leaf bytes of the current batch, back to back */
	size_t data_cap;
};

/* Reads up to `want` leaves (at most BATCH) into hashes. Returns the count (0 at end of input)
 * or -1 after printing an error. */
static long
read_batch(struct leaf_reader *r, const char *sub, merkle_hash_t *hashes, size_t want)
{
	const uint8_t *msg[BATCH];
	size_t len[BATCH], off[BATCH], used = 0, n = 0;
	while (n < want) {
		errno = 0;
		ssize_t got = getline(&r->line, &r->cap, stdin);
		if (got < 0) {
			if (errno != 0 && ferror(stdin)) {
				cmd_usage_error(sub, "reading stdin: %s", strerror(errno));
				return -1;
			}
			break;
		}
		r->lineno++;
		size_t l = (size_t)got;
		if (l > 0 && r->line[l - 1] == '\n')
			l--;
		if (l > 0 && r->line[l - 1] == '\r')
			l--;
		if (l / 2 > MAX_LEAF_BYTES) {
			cmd_usage_error(sub, "line %llu: leaf longer than %u bytes",
			                (unsigned long long)r->lineno, MAX_LEAF_BYTES);
			return -1;
		}
		if (r->data == NULL || used + l / 2 > r->data_cap) {
			size_t cap = r->data_cap ? r->data_cap : 65536;
			while (cap < used + l / 2)
				cap *= 2;
			uint8_t *p = realloc(r->data, cap);
			if (p == NULL) {
				cmd_usage_error(sub, "out of memory");
				return -1;
			}
			r->data = p;
			r->data_cap = cap;
		}
		size_t bad;
		long dl = hex_decode(r->data + used, r->data_cap - used, r->line, l, &bad);
		if (dl < 0) {
			if (l % 2)
				cmd_usage_error(sub, "line %llu: odd number of hex digits (%zu)",
				                (unsigned long long)r->lineno, l);
			else
				cmd_usage_error(sub, "line %llu: not a hex digit at column %zu",
				                (unsigned long long)r->lineno, bad + 1);
			return -1;
		}
		off[n] = used;
		len[n] = (size_t)dl;
		used += (size_t)dl;
		n++;
	}
	for (size_t i = 0; i < n; i++)
		msg[i] = r->data + off[i]; /* data may have moved while the batch grew */
	sha256x_leaves((uint8_t(*)[SHA256X_LEN])hashes, msg, len, n);
	return (long)n;
}

/* Reads the first `limit` leaves (all when !has_limit) into a memtree (proofs) or only a
 * frontier (root). Returns 0 or EXIT_USAGE. */
static int
read_leaves(const struct opts *o, struct merkle_memtree *t, struct merkle_frontier *f,
            struct merkle_append_scratch *s)
{
	struct leaf_reader r = {0};
	static merkle_hash_t hashes[BATCH];
	uint64_t count = 0;
	int rc = 0;
	for (;;) {
		size_t want = BATCH;
		if (o->has_size && o->size - count < want)
			want = (size_t)(o->size - count);
		if (want == 0)
			break;
		long n = read_batch(&r, o->sub, hashes, want);
		if (n < 0) {
			rc = EXIT_USAGE;
			break;
		}
		if (n == 0)
			break;
		int err = t ? merkle_memtree_append(t, hashes, (size_t)n)
		            : merkle_append(f, s, hashes, (size_t)n);
		if (err != 0) {
			rc = cmd_usage_error(o->sub, "cannot grow the tree: %s", strerror(-err));
			break;
		}
		count += (uint64_t)n;
	}
	if (rc == 0 && o->has_size && count < o->size)
		rc = cmd_usage_error(o->sub, "--size %llu but stdin has only %llu leaves",
		                     (unsigned long long)o->size, (unsigned long long)count);
	free(r.line);
	free(r.data);
	return rc;
}

static void
print_hash(const merkle_hash_t h)
{
	char hex[2 * MERKLE_HASH_LEN + 1];
	hex_encode(hex, h, MERKLE_HASH_LEN);
	puts(hex);
}

static bool
parse_hash(const char *sub, const char *what, const char *s, merkle_hash_t out)
{
	size_t n = strlen(s);
	if (n != 2 * MERKLE_HASH_LEN ||
	    hex_decode(out, MERKLE_HASH_LEN, s, n, NULL) != MERKLE_HASH_LEN) {
		cmd_usage_error(sub, "%s must be %d hex digits, got '%.80s'", what,
		                2 * MERKLE_HASH_LEN, s);
		return false;
	}
	return true;
}

/* ---- subcommands ---- */

static int
do_root(const struct opts *o)
{
	struct merkle_frontier f;
	struct merkle_append_scratch s;
	merkle_frontier_init(&f);
	if (merkle_append_scratch_init(&s, BATCH) != 0)
		return cmd_usage_error(o->sub, "out of memory");
	int rc = read_leaves(o, NULL, &f, &s);
	if (rc == 0) {
		merkle_hash_t root;
		merkle_frontier_root(&f, root);
		print_hash(root);
	}
	merkle_append_scratch_free(&s);
	return rc;
}

static int
do_proof(const struct opts *o, bool inclusion)
{
	struct merkle_memtree t;
	if (merkle_memtree_init(&t, BATCH) != 0)
		return cmd_usage_error(o->sub, "out of memory");
	int rc = read_leaves(o, &t, NULL, NULL);
	uint64_t n = t.frontier.size;
	if (rc == 0 && inclusion && o->index >= n)
		rc = cmd_usage_error(o->sub, "--index %llu is not below the tree size %llu",
		                     (unsigned long long)o->index, (unsigned long long)n);
	if (rc == 0 && !inclusion && o->old > n)
		rc = cmd_usage_error(o->sub, "--old %llu is greater than the tree size %llu",
		                     (unsigned long long)o->old, (unsigned long long)n);
	if (rc == 0) {
		merkle_hash_t proof[MERKLE_MAX_PROOF];
		size_t len;
		struct merkle_source src = merkle_memtree_source(&t);
		int err = inclusion ? merkle_inclusion_proof(&src, o->index, n, proof, &len)
		                    : merkle_consistency_proof(&src, o->old, n, proof, &len);
		if (err != 0)
			rc = cmd_usage_error(o->sub, "cannot build the proof: %s", strerror(-err));
		for (size_t i = 0; rc == 0 && i < len; i++)
			print_hash(proof[i]);
	}
	merkle_memtree_free(&t);
	return rc;
}

/* Proof hashes from the arguments, or from stdin when the only argument is "-". */
static int
read_proof(const struct opts *o, merkle_hash_t *proof, size_t *len)
{
	*len = 0;
	if (o->nproof == 1 && strcmp(o->proof[0], "-") == 0) {
		char *line = NULL;
		size_t cap = 0;
		unsigned long lineno = 0;
		int rc = 0;
		for (ssize_t got; rc == 0 && (got = getline(&line, &cap, stdin)) >= 0;) {
			lineno++;
			while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
				line[--got] = '\0';
			if (got == 0)
				continue; /* blank lines carry no hash */
			if (*len == MERKLE_MAX_PROOF)
				rc = cmd_usage_error(o->sub, "proof has more than %d hashes",
				                     MERKLE_MAX_PROOF);
			else if (!parse_hash(o->sub, "each proof line", line, proof[*len]))
				rc = EXIT_USAGE;
			else
				(*len)++;
		}
		free(line);
		return rc;
	}
	if (o->nproof > MERKLE_MAX_PROOF)
		return cmd_usage_error(o->sub, "proof has more than %d hashes", MERKLE_MAX_PROOF);
	for (int i = 0; i < o->nproof; i++)
		if (!parse_hash(o->sub, "each proof argument", o->proof[i], proof[(*len)++]))
			return EXIT_USAGE;
	return 0;
}

static int
report(const struct opts *o, int err, const char *reason)
{
	if (err == 0) {
		puts("valid");
		return 0;
	}
	fprintf(stderr, "birch %s: invalid: %s\n", o->sub,
	        reason ? reason : "proof does not verify");
	return EXIT_NEGATIVE;
}

static int
do_verify_inclusion(const struct opts *o)
{
	merkle_hash_t leaf, root, proof[MERKLE_MAX_PROOF];
	size_t len;
	if (!o->has_size || !o->has_index || !o->root || (!o->leaf_hash == !o->leaf))
		return cmd_usage_error(o->sub,
		                       "needs --index, --size, --root and one of --leaf-hash "
		                       "or --leaf (try --help)");
	if (!parse_hash(o->sub, "--root", o->root, root))
		return EXIT_USAGE;
	if (o->leaf_hash && !parse_hash(o->sub, "--leaf-hash", o->leaf_hash, leaf))
		return EXIT_USAGE;
	if (o->leaf) {
		size_t n = strlen(o->leaf);
		uint8_t *data = malloc(n / 2 + 1);
		long dl = data ? hex_decode(data, n / 2 + 1, o->leaf, n, NULL) : -ENOMEM;
		if (dl >= 0)
			merkle_leaf_hash(leaf, data, (size_t)dl);
		free(data);
		if (dl < 0)
			return cmd_usage_error(
			        o->sub, "--leaf must be hex data (an even number of hex digits)");
	}
	if (o->index >= o->size)
		return cmd_usage_error(o->sub, "--index %llu is not below --size %llu",
		                       (unsigned long long)o->index, (unsigned long long)o->size);
	int rc = read_proof(o, proof, &len);
	if (rc != 0)
		return rc;
	const char *why = NULL;
	int err = merkle_verify_inclusion(o->index, o->size, leaf, proof, len, root, &why);
	return report(o, err, why);
}

static int
do_verify_consistency(const struct opts *o)
{
	merkle_hash_t old_root, root, proof[MERKLE_MAX_PROOF];
	size_t len;
	if (!o->has_size || !o->has_old || !o->root || !o->old_root)
		return cmd_usage_error(o->sub,
		                       "needs --old, --size, --old-root and --root (try --help)");
	if (!parse_hash(o->sub, "--old-root", o->old_root, old_root) ||
	    !parse_hash(o->sub, "--root", o->root, root))
		return EXIT_USAGE;
	if (o->old == 0)
		return cmd_usage_error(o->sub, "--old must be at least 1");
	if (o->old > o->size)
		return cmd_usage_error(o->sub, "--old %llu is greater than --size %llu",
		                       (unsigned long long)o->old, (unsigned long long)o->size);
	int rc = read_proof(o, proof, &len);
	if (rc != 0)
		return rc;
	const char *why = NULL;
	int err = merkle_verify_consistency(o->old, o->size, old_root, root, proof, len, &why);
	return report(o, err, why);
}

/* ---- flags ---- */

enum {
	OPT_SIZE = 256,
	OPT_INDEX,
	OPT_OLD,
	OPT_ROOT,
	OPT_OLD_ROOT,
	OPT_LEAF_HASH,
	OPT_LEAF,
	OPT_IMPL,
	OPT_HELP
};

static int
parse_flags(struct opts *o, int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"size", required_argument, NULL, OPT_SIZE},
	        {"index", required_argument, NULL, OPT_INDEX},
	        {"old", required_argument, NULL, OPT_OLD},
	        {"root", required_argument, NULL, OPT_ROOT},
	        {"old-root", required_argument, NULL, OPT_OLD_ROOT},
	        {"leaf-hash", required_argument, NULL, OPT_LEAF_HASH},
	        {"leaf", required_argument, NULL, OPT_LEAF},
	        {"impl", required_argument, NULL, OPT_IMPL},
	        {"help", no_argument, NULL, OPT_HELP},
	        {NULL, 0, NULL, 0},
	};
	opterr = 0;
	optind = 1;
	for (;;) {
		int c = getopt_long(argc, argv, "+:", longopts, NULL);
		if (c == -1)
			break;
		uint64_t *num = NULL;
		bool *has = NULL;
		const char *name = NULL;
		switch (c) {
		case OPT_SIZE:
			num = &o->size, has = &o->has_size, name = "--size";
			break;
		case OPT_INDEX:
			num = &o->index, has = &o->has_index, name = "--index";
			break;
		case OPT_OLD:
			num = &o->old, has = &o->has_old, name = "--old";
			break;
		case OPT_ROOT:
			o->root = optarg;
			break;
		case OPT_OLD_ROOT:
			o->old_root = optarg;
			break;
		case OPT_LEAF_HASH:
			o->leaf_hash = optarg;
			break;
		case OPT_LEAF:
			o->leaf = optarg;
			break;
		case OPT_IMPL: {
			enum sha256x_impl impl;
			if (sha256x_impl_parse(optarg, &impl) != 0)
				return cmd_usage_error(o->sub,
				                       "--impl: unknown implementation '%s' "
				                       "(auto, openssl, shani, avx2, avx512)",
				                       optarg);
			if (sha256x_select(impl) != 0)
				return cmd_usage_error(
				        o->sub, "--impl %s: not supported by this CPU", optarg);
			break;
		}
		case OPT_HELP:
			fputs(usage, stdout);
			return -1;
		case ':':
			return cmd_usage_error(o->sub, "%s needs a value", argv[optind - 1]);
		default:
			return cmd_usage_error(o->sub, "unknown flag '%s' (try --help)",
			                       argv[optind - 1]);
		}
		if (num && !cmd_parse_u64(optarg, num))
			return cmd_usage_error(o->sub,
			                       "%s must be a non-negative integer, got '%s'", name,
			                       optarg);
		if (has)
			*has = true;
	}
	o->nproof = argc - optind;
	o->proof = argv + optind;
	return 0;
}

int
cmd_merkle(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	struct opts o = {.sub = argv[1]};
	if (strcmp(o.sub, "--help") == 0 || strcmp(o.sub, "-h") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	if (strcmp(o.sub, "demo") == 0)
		return cmd_merkle_demo(argc - 1, argv + 1);
	static const char *const subs[] = {"root", "inclusion", "consistency", "verify-inclusion",
	                                   "verify-consistency"};
	int which = -1;
	for (int i = 0; i < 5; i++)
		if (strcmp(o.sub, subs[i]) == 0)
			which = i;
	if (which < 0)
		return cmd_usage_error("merkle", "unknown subcommand '%s' (try --help)", o.sub);
	char sub_name[64];
	snprintf(sub_name, sizeof sub_name, "merkle %s", o.sub);
	o.sub = sub_name;
	int rc = parse_flags(&o, argc - 1, argv + 1);
	if (rc != 0)
		return rc < 0 ? 0 : rc;
	if (which <= 2 && o.nproof > 0)
		return cmd_usage_error(o.sub, "unexpected argument '%s' (leaves come on stdin)",
		                       o.proof[0]);
	switch (which) {
	case 0:
		return do_root(&o);
	case 1:
		if (!o.has_index)
			return cmd_usage_error(o.sub, "needs --index (try --help)");
		if (o.has_size && o.index >= o.size)
			return cmd_usage_error(o.sub, "--index %llu is not below --size %llu",
			                       (unsigned long long)o.index,
			                       (unsigned long long)o.size);
		return do_proof(&o, true);
	case 2:
		if (!o.has_old)
			return cmd_usage_error(o.sub, "needs --old (try --help)");
		if (o.old == 0)
			return cmd_usage_error(o.sub, "--old must be at least 1");
		if (o.has_size && o.old > o.size)
			return cmd_usage_error(o.sub, "--old %llu is greater than --size %llu",
			                       (unsigned long long)o.old,
			                       (unsigned long long)o.size);
		return do_proof(&o, false);
	case 3:
		return do_verify_inclusion(&o);
	default:
		return do_verify_consistency(&o);
	}
}
