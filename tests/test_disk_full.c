/* tests/test_disk_full.c: a log on a small tmpfs fills the disk: the append fails with a
 * clear error, nothing committed is lost, the log opens read-only and checks clean while the
 * disk is full, and once there is room again it opens, recovers and goes on.
 * Needs a private mount namespace (root); skips with the reason otherwise. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "engine/tlog.h"
#include "tests/lib/check.h"
#include "tests/lib/tmpdir.h"

static char logdir[512];
static char *mnt;

static int
append_batch(struct tlog *t, const char **why)
{
	static uint8_t buf[64][1100];
	const uint8_t *e[64];
	size_t len[64];
	uint64_t first = tlog_size(t);
	for (unsigned i = 0; i < 64; i++) {
		uint8_t body[1000];
		for (unsigned j = 0; j < sizeof body; j++)
			body[j] = (uint8_t)((first + i) * 31 + j);
		uint64_t idx = first + i;
		memcpy(body, &idx, sizeof idx);
		len[i] = (size_t)tlog_plain_encode(buf[i], sizeof buf[i], body, sizeof body);
		e[i] = buf[i];
	}
	struct tlog_batch b = {.entry = e, .len = len, .n = 64, .timestamp = first};
	return tlog_append(t, &b, why);
}

static void
a_full_disk_fails_the_append_and_keeps_the_log(void)
{
	struct tlog_opts o = {.store = {.create = true, .state_map_bytes = 1 << 20}};
	struct tlog *t = NULL;
	char msg[512] = "";
	CHECK(tlog_open(&t, logdir, &tlog_codec_plain, &o, msg, sizeof msg) == 0, "create: %s",
	      msg);
	if (t == NULL)
		return;
	int rc = 0;
	const char *why = NULL;
	uint64_t good = 0;
	for (unsigned i = 0; i < 400 && rc == 0; i++) {
		rc = append_batch(t, &why);
		if (rc == 0)
			good = tlog_size(t);
	}
	printf("disk full after %llu entries: %s\n", (unsigned long long)good, why ? why : "");
	CHECK(rc == -ENOSPC, "append on a full disk gives ENOSPC (%d)", rc);
	CHECK(why && (strstr(why, "disk full") || strstr(why, "map full")), "clear reason: %s",
	      why ? why : "");
	CHECK(good > 0, "some batches went in first");
	CHECK(append_batch(t, &why) < 0, "the writer stays stopped");
	tlog_close(t);

	/* Still full: read-only open and fsck work and see every returned append. */
	struct tlog_opts ro = {.store = {.read_only = true}};
	CHECK(tlog_open(&t, logdir, &tlog_codec_plain, &ro, msg, sizeof msg) == 0,
	      "read-only open on a full disk: %s", msg);
	if (t) {
		CHECK(tlog_size(t) == good, "size is the last returned append (%llu, %llu)",
		      (unsigned long long)tlog_size(t), (unsigned long long)good);
		tlog_close(t);
	}
	CHECK(tlog_fsck(logdir, &tlog_codec_plain, NULL, NULL, NULL) == 0, "fsck clean while full");

	/* Room again (the operator grows the disk): open, recover, go on. */
	if (mount("tmpfs", mnt, "tmpfs", MS_REMOUNT, "size=24m") < 0)
		check_harness("remount tmpfs bigger");
	struct tlog_opts rw = {.store = {.state_map_bytes = 1 << 20}};
	CHECK(tlog_open(&t, logdir, &tlog_codec_plain, &rw, msg, sizeof msg) == 0,
	      "open after space is freed: %s", msg);
	if (t == NULL)
		return;
	CHECK(tlog_size(t) == good, "same size after reopen");
	for (unsigned i = 0; i < 10; i++)
		CHECK(append_batch(t, &why) == 0, "append after recovery: %s", why);
	tlog_close(t);
	long probs = tlog_fsck(logdir, &tlog_codec_plain, NULL, NULL, NULL);
	CHECK(probs == 0, "fsck clean at the end (%ld)", probs);
	rc = tmpdir_fsck(logdir);
	CHECK(rc == 0 || rc == -1, "birch log fsck exits 0 (%d)", rc);
}

int
main(void)
{
	if (unshare(CLONE_NEWNS) < 0)
		check_skip("cannot create a mount namespace for a small tmpfs (needs root)");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		check_skip("cannot make mounts private in the new namespace");
	mnt = tmpdir_make("diskfull");
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=3m") < 0)
		check_skip("cannot mount a tmpfs");
	snprintf(logdir, sizeof logdir, "%s/log", mnt);
	RUN(a_full_disk_fails_the_append_and_keeps_the_log);
	umount2(mnt, MNT_DETACH);
	tmpdir_remove(mnt);
	free(mnt);
	return check_done();
}
