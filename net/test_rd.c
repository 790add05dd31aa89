/* net/test_rd.c: the read path's tile cache on a real log: cached and uncached answers are the
 * files' bytes, the cache stays within its room, and a tile sent while the cache drops it (or
 * while the rd closes) lives until its answer lets go; full data tiles handed out as files
 * (rd_data_tile_file) are the right files, shared while kept, never closed while sent, and
 * nothing else is handed out. Run under ASan in the sanitizer build. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/tiles.h"
#include "engine/tlog.h"
#include "net/rd.h"
#include "storage/store.h"
#include "tests/lib/check.h"
#include "tests/lib/plainlog.h"
#include "tests/lib/tmpdir.h"

enum { ENTRIES = 40 * 256 + 17 };

static struct tlog *
make_log(const char *dir, unsigned entries)
{
	struct tlog_opts o = {.store.create = true, .max_batch = 1024};
	struct tlog *t = NULL;
	char msg[256];
	const char *why = NULL;
	if (tlog_open(&t, dir, &tlog_codec_plain, &o, msg, sizeof msg) < 0)
		check_harness(msg);
	if (plainlog_fill(t, entries, 1024, "birch.test/rd", &why) < 0)
		check_harness(why);
	return t;
}

/* The file's bytes, for comparison. */
static uint8_t *
file_bytes(const char *dir, const char *rel, size_t *len)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", dir, rel);
	FILE *f = fopen(path, "rb");
	if (!f)
		check_harness(path);
	static uint8_t buf[1 << 20];
	*len = fread(buf, 1, sizeof buf, f);
	fclose(f);
	return buf;
}

static void
get(struct rd *r, const char *path, struct rd_resp *a)
{
	rd_get(r, 0, true, path, strlen(path), "", 0, a);
}

static void
tiles_from_the_cache_are_the_files_bytes_and_outlive_eviction(void)
{
	char *dir = tmpdir_make("rd");
	char logdir[512];
	snprintf(logdir, sizeof logdir, "%s/log", dir);
	struct tlog *t = make_log(logdir, ENTRIES);
	struct rd *r = NULL;
	/* Room for 8 hash tiles of 8 KiB (a tile may take an eighth of it). */
	CHECK(rd_open(&r, &t, 1, 8 * 8192) == 0, "rd_open");

	/* A full hash tile, three times: the same bytes each time, held by the cache. */
	struct rd_resp a, b;
	size_t flen;
	get(r, "/tile/0/000", &a);
	const uint8_t *f = file_bytes(logdir, "tile/0/000", &flen);
	CHECK(a.status == 200 && a.len == flen && memcmp(a.body, f, flen) == 0 && a.hold,
	      "tile 0/000 held from the cache");
	CHECK(a.cache_control && strstr(a.cache_control, "immutable"), "full tile immutable");
	get(r, "/tile/0/000", &b);
	CHECK(b.status == 200 && b.hold == a.hold && b.body == a.body, "second answer shares it");
	rd_release(b.hold);

	/* Forty other tiles pass through the cache: tile 0/000 is dropped but its held
	 * answer keeps its bytes (ASan reports a use after free otherwise). */
	for (int k = 1; k < 40; k++) {
		char p[64], rel[64];
		snprintf(p, sizeof p, "/tile/0/%03d", k);
		get(r, p, &b);
		const uint8_t *g = file_bytes(logdir, p + 1, &flen);
		CHECK(b.status == 200 && b.len == flen && memcmp(b.body, g, flen) == 0, "tile %s",
		      p);
		rd_release(b.hold);
		snprintf(rel, sizeof rel, "/tile/data/%03d", k);
		get(r, rel, &b);
		g = file_bytes(logdir, rel + 1, &flen);
		CHECK(b.status == 200 && b.len == flen && memcmp(b.body, g, flen) == 0,
		      "data tile %s", rel);
		rd_release(b.hold);
	}
	f = file_bytes(logdir, "tile/0/000", &flen);
	CHECK(a.len == flen && memcmp(a.body, f, flen) == 0, "held tile intact after eviction");
	get(r, "/tile/0/000", &b);
	CHECK(b.status == 200 && b.hold && b.hold != a.hold && memcmp(b.body, a.body, flen) == 0,
	      "read again after eviction");
	rd_release(a.hold);

	/* A partial tile is never cached; a tile outside the published tree is 404. */
	get(r, "/tile/0/040.p/17", &a);
	CHECK(a.status == 200 && !a.hold && a.len == 17 * 32, "partial tile copied");
	CHECK(a.cache_control && !strstr(a.cache_control, "immutable"), "partial tile short");
	get(r, "/tile/0/041", &a);
	CHECK(a.status == 404 && !a.hold, "beyond the tree");

	/* An answer held over rd_close() lets go afterwards. */
	rd_close(r);
	CHECK(b.len == 8192 && b.body[0] == f[0], "held over close");
	rd_release(b.hold);

	/* Without a cache every answer is copied. */
	CHECK(rd_open(&r, &t, 1, 0) == 0, "rd_open without cache");
	get(r, "/tile/0/000", &a);
	CHECK(a.status == 200 && !a.hold && a.len == 8192, "uncached tile");
	rd_close(r);
	tlog_close(t);
	tmpdir_remove(dir);
	free(dir);
}

/* Open descriptors of this process on data tile files (others may come and go meanwhile:
 * the log's own threads open files of their own). */
static unsigned
open_data_tiles(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned n = 0;
	for (struct dirent *e; d && (e = readdir(d)) != NULL && n < 100000;) {
		char link[300], target[1024];
		snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
		ssize_t k = readlink(link, target, sizeof target - 1);
		if (k > 0) {
			target[k] = 0;
			n += strstr(target, "/tile/data/") != NULL;
		}
	}
	if (d)
		closedir(d);
	return n;
}

/* The bytes of f, read back. */
static bool
file_is(const struct rd_file *f, const uint8_t *want, size_t len)
{
	static uint8_t got[1 << 20];
	return f->len == len && len <= sizeof got && pread(f->fd, got, len, 0) == (ssize_t)len &&
	       memcmp(got, want, len) == 0;
}

static void
data_tiles_as_files_are_kept_shared_and_never_closed_while_sent(void)
{
	enum { TILES = RD_FILES + 6 };
	char *dir = tmpdir_make("rdf");
	char logdir[512];
	snprintf(logdir, sizeof logdir, "%s/log", dir);
	struct tlog *t = make_log(logdir, TILES * 256 + 5);
	struct rd *r = NULL;
	CHECK(rd_open(&r, &t, 1, 0) == 0, "rd_open");
	static struct rd_file held[TILES];
	char p[64];
	size_t flen;
	/* every full data tile at once: the first RD_FILES kept, the rest the caller's own */
	for (unsigned k = 0; k < TILES; k++) {
		snprintf(p, sizeof p, "/tile/data/%03u", k);
		CHECK(rd_data_tile_file(r, 0, p, strlen(p), &held[k]) == 0, "%s", p);
		const uint8_t *want = file_bytes(logdir, p + 1, &flen);
		CHECK(file_is(&held[k], want, flen), "%s is its file", p);
		CHECK((k < RD_FILES) == (held[k].slot >= 0), "%s kept: slot %d", p, held[k].slot);
	}
	struct rd_file again;
	CHECK(rd_data_tile_file(r, 0, "/tile/data/000", 14, &again) == 0 &&
	              again.fd == held[0].fd && again.slot == held[0].slot,
	      "a kept tile is shared");
	rd_file_release(r, &again);
	/* while all are held, none of the kept ones is closed or replaced */
	for (unsigned k = 0; k < TILES; k++)
		rd_file_release(r, &held[k]);
	/* released: a new tile takes the least recently used slot (tile 001's; 000 was used
	 * again later), and a tile still sent keeps its slot */
	struct rd_file keep, fresh;
	CHECK(rd_data_tile_file(r, 0, "/tile/data/002", 14, &keep) == 0 && keep.slot >= 0,
	      "tile 002 again");
	snprintf(p, sizeof p, "/tile/data/%03u", TILES - 1);
	CHECK(rd_data_tile_file(r, 0, p, strlen(p), &fresh) == 0 && fresh.slot == held[1].slot,
	      "the least recently used slot is reused: %d, want %d", fresh.slot, held[1].slot);
	const uint8_t *want = file_bytes(logdir, "tile/data/002", &flen);
	CHECK(file_is(&keep, want, flen), "tile 002 intact");
	rd_file_release(r, &fresh);
	rd_file_release(r, &keep);
	/* nothing but full data tiles of the published tree */
	static const char *const no[] = {
	        "/tile/data/000.p/5", "/tile/0/000",     "/checkpoint",          "/tile/data/071",
	        "/tile/data/070",     "/tile/data/x000", "/tile/data/000.p/256", "/issuer/00"};
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
		struct rd_file f = {.fd = -1};
		CHECK(rd_data_tile_file(r, 0, no[i], strlen(no[i]), &f) < 0 && f.fd == -1,
		      "refused: %s", no[i]);
	}
	struct rd_file f = {.fd = -1};
	CHECK(rd_data_tile_file(r, 1, "/tile/data/000", 14, &f) < 0, "no such shard");
	CHECK(open_data_tiles() == RD_FILES, "the kept tiles are open: %u", open_data_tiles());
	rd_close(r);
	CHECK(open_data_tiles() == 0, "every tile closed: %u open", open_data_tiles());
	tlog_close(t);
	tmpdir_remove(dir);
	free(dir);
}

int
main(void)
{
	RUN(tiles_from_the_cache_are_the_files_bytes_and_outlive_eviction);
	RUN(data_tiles_as_files_are_kept_shared_and_never_closed_while_sent);
	return check_done();
}
