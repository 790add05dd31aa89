/* tools/cmd_demo.c: `birch demo`: a working CT log in one command. Creates a demo directory
 * (a log key, a test CA, its roots and a config), starts `birch serve` on 127.0.0.1 as a child
 * process, submits a few certificates and precertificates minted by the test CA, verifies and
 * prints their SCTs and the signed tree head, then keeps the log serving until Ctrl-C. Run it
 * again and the same log continues. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/b64.h"
#include "engine/ctsig.h"
#include "storage/store.h"
#include "tools/cmd.h"
#include "tools/load_mint.h"

static const char usage[] =
        "usage: birch demo [--dir DIR] [--port N] [--count N] [--exit]\n"
        "\n"
        "Runs a demo CT log on 127.0.0.1 with embedded defaults, and shows it working:\n"
        "  1. creates DIR (default ./birch-demo): a log key (log.pem), a test CA (ca/, whose\n"
        "     root is ca/roots.pem) and a config (birch.conf); an existing DIR is reused;\n"
        "  2. starts `birch serve --config DIR/birch.conf` (its log lines go to stderr);\n"
        "  3. submits N (default 6) certificates and precertificates minted by the test CA\n"
        "     (RSA-2048, P-256 and P-384 intermediates) and prints each SCT, verified with the\n"
        "     log's key, and then the signed tree head;\n"
        "  4. keeps serving at http://127.0.0.1:PORT/ct/v1/ (default port 6962) until Ctrl-C,\n"
        "     or exits after step 3 with --exit.\n";

struct demo {
	char dir[512];
	unsigned port;
	unsigned count;
	bool exit_after;
	pid_t child;
};

static int
fail(const char *fmt, const char *a, const char *b)
{
	fprintf(stderr, "birch demo: ");
	fprintf(stderr, fmt, a, b);
	fputc('\n', stderr);
	return EXIT_NEGATIVE;
}

static int
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -errno;
	fputs(text, f);
	return fclose(f) == 0 ? 0 : -EIO;
}

/* Key, CA and config in d->dir; existing ones are kept. */
static int
prepare(struct demo *d)
{
	char path[600], ca[600];
	if (mkdir(d->dir, 0700) != 0 && errno != EEXIST)
		return fail("cannot create %s: %s", d->dir, strerror(errno));
	snprintf(path, sizeof path, "%s/log.pem", d->dir);
	const char *why = NULL;
	int rc = ctsig_keygen(path, &why);
	if (rc < 0 && rc != -EEXIST)
		return fail("%s: %s", path, why ? why : strerror(-rc));
	snprintf(ca, sizeof ca, "%s/ca", d->dir);
	bool reused = false;
	if ((rc = load_ca_init_dir(ca, &reused, &why)) < 0)
		return fail("%s: %s", ca, why ? why : strerror(-rc));
	char conf[1024];
	snprintf(conf, sizeof conf,
	         "# Written by `birch demo`; see birch.conf.example for every setting.\n"
	         "[server]\n"
	         "listen = 127.0.0.1:%u\n"
	         "\n"
	         "[shard demo]\n"
	         "prefix =\n"
	         "data = data\n"
	         "key = log.pem\n"
	         "roots = ca/roots.pem\n"
	         "origin = birch.localhost/demo\n"
	         "pool = 1024\n",
	         d->port);
	snprintf(path, sizeof path, "%s/birch.conf", d->dir);
	if ((rc = write_file(path, conf)) < 0)
		return fail("%s: %s", path, strerror(-rc));
	return 0;
}

static int
connect_port(unsigned port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct timeval tv = {10, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

static int
start_server(struct demo *d, char *const argv0)
{
	char conf[600];
	snprintf(conf, sizeof conf, "%s/birch.conf", d->dir);
	d->child = fork();
	if (d->child < 0)
		return fail("cannot fork: %s%s", strerror(errno), "");
	if (d->child == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execl("/proc/self/exe", argv0, "serve", "--config", conf, (char *)NULL);
		fprintf(stderr, "birch demo: cannot run birch serve: %s\n", strerror(errno));
		_exit(1);
	}
	for (int i = 0; i < 600; i++) { /* up to 60 s: a first start creates the log */
		int st;
		if (waitpid(d->child, &st, WNOHANG) == d->child) {
			d->child = 0;
			return fail("birch serve exited (%s); see its messages above%s",
			            WIFEXITED(st) ? "status" : "signal", "");
		}
		int fd = connect_port(d->port);
		if (fd >= 0) {
			close(fd);
			return 0;
		}
		struct timespec ts = {0, 100000000};
		nanosleep(&ts, NULL);
	}
	return fail("birch serve did not listen on port %s within 60 s%s", "", "");
}

/* Sends one prebuilt request and reads the answer into body; returns the HTTP status. */
static int
post(struct demo *d, const struct load_set *set, uint64_t i, char *body, size_t cap, size_t *len)
{
	int fd = connect_port(d->port);
	if (fd < 0)
		return fd;
	const struct load_req *r = &set->req[i];
	const char *slot = load_set_slot(set, i);
	int status = -EIO;
	if (write(fd, slot, r->len) != (ssize_t)r->len ||
	    write(fd, set->tail[r->issuer].bytes, set->tail[r->issuer].len) !=
	            (ssize_t)set->tail[r->issuer].len)
		goto out;
	char buf[8192];
	size_t got = 0;
	for (int k = 0; k < 1000 && got < sizeof buf - 1; k++) {
		ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		buf[got] = 0;
		char *hdr_end = strstr(buf, "\r\n\r\n");
		char *cl = strcasestr(buf, "content-length:");
		if (hdr_end && cl &&
		    got >= (size_t)(hdr_end + 4 - buf) + strtoul(cl + 15, NULL, 10))
			break;
	}
	buf[got] = 0;
	char *hdr_end = strstr(buf, "\r\n\r\n");
	if (got < 12 || !hdr_end)
		goto out;
	status = atoi(buf + 9);
	*len = got - (size_t)(hdr_end + 4 - buf);
	if (*len >= cap)
		*len = cap - 1;
	memcpy(body, hdr_end + 4, *len);
	body[*len] = 0;
out:
	close(fd);
	return status;
}

static int
submit(struct demo *d)
{
	char path[600];
	const char *why = NULL;
	struct load_ca *ca = NULL;
	struct ctsig_key *key = NULL;
	struct ctsig_pub *pub = NULL;
	struct load_verifier *ver = NULL;
	struct load_set set = {0};
	int rc = EXIT_NEGATIVE;
	snprintf(path, sizeof path, "%s/ca", d->dir);
	if (load_ca_load(&ca, path, &why) < 0) {
		fail("%s: %s", path, why);
		goto out;
	}
	snprintf(path, sizeof path, "%s/log.pem", d->dir);
	size_t spki_len = 0;
	const uint8_t *spki = NULL;
	if (ctsig_key_load(&key, path, &why) == 0)
		spki = ctsig_key_spki(key, &spki_len);
	if (!spki || ctsig_pub_from_spki(&pub, spki, spki_len, &why) < 0 ||
	    load_verifier_new(&ver) < 0) {
		fail("%s: %s", path, why ? why : "cannot load");
		goto out;
	}
	char host[64];
	snprintf(host, sizeof host, "127.0.0.1:%u", d->port);
	time_t now = time(NULL);
	struct load_plan plan = {
	        .n = d->count,
	        .weight = {1, 1, 1},
	        .precert_pct = 50,
	        .tmpl = {.not_before = now - 86400,
	                 .not_after = now + 90 * 86400,
	                 .seed = (uint64_t)now},
	        .threads = 1,
	        .host = host,
	        .prefix = "",
	};
	if (load_set_mint(&set, ca, &plan, NULL, NULL, &why) < 0) {
		fail("minting: %s%s", why, "");
		goto out;
	}
	printf("\nSubmitting %u chains minted by the test CA in %s/ca:\n", d->count, d->dir);
	unsigned ok = 0;
	for (uint64_t i = 0; i < set.n; i++) {
		const struct load_req *r = &set.req[i];
		char body[4096];
		size_t blen = 0;
		int st = post(d, &set, i, body, sizeof body, &blen);
		uint8_t leaf[LOAD_LEAF_MAX];
		long ll = load_set_leaf(&set, i, leaf, sizeof leaf);
		struct load_sct_info info = {0};
		const char *vwhy = "no answer";
		enum load_verdict v = LOAD_SCT_BAD_JSON;
		if (st == 200 && ll > 0)
			v = load_sct_check(ver, pub, r->precert, leaf, (size_t)ll,
			                   set.tail[r->issuer].key_hash, body, blen, &info, &vwhy);
		printf("\n%s with a %s intermediate: POST /ct/v1/%s -> %d\n",
		       r->precert ? "precertificate" : "certificate",
		       load_issuer_name((enum load_issuer)r->issuer),
		       r->precert ? "add-pre-chain" : "add-chain", st);
		printf("  %s\n", st == 200 || st > 0 ? body : "(no answer)");
		if (st == 200 && v == LOAD_SCT_OK) {
			printf("  SCT verified with the log's key: leaf_index %llu, timestamp "
			       "%llu\n",
			       (unsigned long long)info.leaf_index,
			       (unsigned long long)info.timestamp);
			ok++;
		} else {
			printf("  NOT verified: %s\n", vwhy ? vwhy : "?");
		}
	}
	rc = ok == set.n ? 0 : EXIT_NEGATIVE;
out:
	load_set_free(&set);
	load_verifier_free(ver);
	ctsig_pub_free(pub);
	ctsig_key_free(key);
	load_ca_free(ca);
	return rc;
}

/* The latest signed head, read from the log's state (read-only, beside the server). */
static void
print_head(struct demo *d, uint64_t want)
{
	char path[600];
	snprintf(path, sizeof path, "%s/data", d->dir);
	for (int tries = 0; tries < 40; tries++) { /* heads are signed every second */
		struct store *s = NULL;
		struct store_opts o = {.read_only = true};
		if (store_open(&s, path, &o, NULL) < 0)
			return;
		struct store_reader *r = NULL;
		static uint8_t buf[STORE_HEAD_MAX];
		struct store_head h;
		int rc = -ENOENT;
		if (store_reader_open(s, &r) == 0)
			rc = store_head_get(r, &h, buf, sizeof buf);
		if (rc == 0 && h.size >= want) {
			char root[B64_ENCODED_LEN(32) + 1];
			root[b64_encode(root, h.root, 32)] = 0;
			printf("\nSigned tree head: size %llu, timestamp %llu, root %s\n",
			       (unsigned long long)h.size, (unsigned long long)h.timestamp, root);
			printf("Checkpoint (static-ct-api):\n%.*s", (int)h.checkpoint_len,
			       (const char *)h.checkpoint);
			store_reader_close(r);
			store_close(s);
			return;
		}
		if (r)
			store_reader_close(r);
		store_close(s);
		struct timespec ts = {0, 100000000};
		nanosleep(&ts, NULL);
	}
	printf("\n(no tree head covering the submissions yet)\n");
}

static uint64_t
committed_size(struct demo *d)
{
	char path[600];
	snprintf(path, sizeof path, "%s/data", d->dir);
	struct store *s = NULL;
	struct store_opts o = {.read_only = true};
	if (store_open(&s, path, &o, NULL) < 0)
		return 0;
	struct store_state st;
	store_state_get(s, &st);
	store_close(s);
	return st.size;
}

int
cmd_demo(int argc, char **argv)
{
	struct demo d = {.port = 6962, .count = 6};
	snprintf(d.dir, sizeof d.dir, "birch-demo");
	for (int i = 1; i < argc; i++) {
		uint64_t v;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(usage, stdout);
			return 0;
		} else if (strcmp(argv[i], "--exit") == 0) {
			d.exit_after = true;
		} else if (i + 1 >= argc) {
			return cmd_usage_error("demo", "unknown argument '%s' (try --help)",
			                       argv[i]);
		} else if (strcmp(argv[i], "--dir") == 0) {
			if (snprintf(d.dir, sizeof d.dir, "%s", argv[++i]) >= (int)sizeof d.dir)
				return cmd_usage_error("demo", "--dir is too long");
		} else if (strcmp(argv[i], "--port") == 0) {
			if (!cmd_parse_u64(argv[++i], &v) || v < 1 || v > 65535)
				return cmd_usage_error(
				        "demo", "--port must be in 1..65535, got '%s'", argv[i]);
			d.port = (unsigned)v;
		} else if (strcmp(argv[i], "--count") == 0) {
			if (!cmd_parse_u64(argv[++i], &v) || v < 1 || v > 1000)
				return cmd_usage_error(
				        "demo", "--count must be in 1..1000, got '%s'", argv[i]);
			d.count = (unsigned)v;
		} else {
			return cmd_usage_error("demo", "unknown argument '%s' (try --help)",
			                       argv[i]);
		}
	}
	int fd = connect_port(d.port);
	if (fd >= 0) {
		close(fd);
		return fail("port %s is in use on 127.0.0.1 (another demo running? try --port)%s",
		            "", "");
	}
	int rc = prepare(&d);
	if (rc != 0)
		return rc;
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGCHLD);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	printf("Birch demo in %s: starting the log (birch serve --config %s/birch.conf)\n", d.dir,
	       d.dir);
	fflush(stdout);
	if ((rc = start_server(&d, argv[0])) != 0)
		goto stop;
	rc = submit(&d);
	print_head(&d, committed_size(&d));
	printf("\nThe demo log is serving at http://127.0.0.1:%u/ct/v1/ (add-chain, "
	       "add-pre-chain, get-roots).\n"
	       "Its key is %s/log.pem, its accepted root %s/ca/roots.pem, its data %s/data.\n"
	       "Try: curl -s http://127.0.0.1:%u/ct/v1/get-roots\n"
	       "     build/tools/birch load run --url http://127.0.0.1:%u --ca %s/ca "
	       "--log-key %s/log.pem --requests 1000\n",
	       d.port, d.dir, d.dir, d.dir, d.port, d.port, d.dir, d.dir);
	if (d.exit_after)
		goto stop;
	printf("Press Ctrl-C to stop it.\n");
	fflush(stdout);
	for (;;) {
		int sig = sigwaitinfo(&sigs, NULL);
		if (sig == SIGCHLD) {
			int st;
			if (waitpid(d.child, &st, WNOHANG) == d.child) {
				d.child = 0;
				fprintf(stderr, "birch demo: the log stopped\n");
				return EXIT_NEGATIVE;
			}
			continue;
		}
		if (sig == SIGINT || sig == SIGTERM)
			break;
	}
stop:
	if (d.child > 0) {
		kill(d.child, SIGTERM);
		int st = 0;
		waitpid(d.child, &st, 0);
		if (rc == 0 && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
			rc = EXIT_NEGATIVE;
	}
	fflush(stdout);
	return rc;
}
