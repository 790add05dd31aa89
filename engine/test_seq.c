/* engine/test_seq.c: the sequencer and the CT entries on a real log directory: chains minted
 * with OpenSSL, checked by engine/chain.h, built, sequenced, committed, signed, deduplicated,
 * restarted and failed. */
#include <errno.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/chain.h"
#include "engine/ctlog.h"
#include "engine/ctsig.h"
#include "engine/merkle.h"
#include "engine/seq.h"
#include "tests/lib/check.h"
#include "tests/lib/mint.h"
#include "tests/lib/ref.h"
#include "tests/lib/tmpdir.h"

#define N_CERTS 40
#define SLOT    16384

static EVP_PKEY *root_key, *ca_key;
static X509 *root, *ca;
static struct chain_roots *roots;
static struct chain_checker *checker;
static struct ctsig_key *log_key;
static struct ctsig_pub *log_pub;
static struct ctsig_signer *signer;
static char *keydir;

static uint64_t fixed_now = 1790000000000ull;
static uint64_t
test_clock(void)
{
	return fixed_now;
}

/* One admitted submission: its own buffer, as a pipeline slot would hold it. */
struct sub {
	uint8_t buf[SLOT];
	struct ctlog_built b;
	struct der_span issuers[CHAIN_MAX];
	size_t nissuers;
	struct seq_entry e;
	uint8_t *leaf_der, *ca_der;
	size_t leaf_len, ca_len;
};

static void
setup(void)
{
	root_key = mint_key(MINT_P256);
	ca_key = mint_key(MINT_P384);
	root = mint_cert(root_key, NULL, root_key,
	                 &(struct mint_opts){.cn = "seq root", .ca = 1, .path_len = -1});
	ca = mint_cert(ca_key, root, root_key,
	               &(struct mint_opts){.cn = "seq ca", .ca = 1, .path_len = -1});
	size_t rl;
	uint8_t *rd = mint_der(root, &rl);
	const char *why = NULL;
	if (chain_roots_new(&roots) != 0 || chain_roots_add_der(roots, rd, rl, &why) != 1)
		check_harness("roots");
	free(rd);
	struct chain_policy pol = {0, INT64_MAX};
	if (chain_checker_new(&checker, roots, &pol, 0) != 0)
		check_harness("checker");
	keydir = tmpdir_make("seqkey");
	char path[512];
	snprintf(path, sizeof path, "%s/log.pem", keydir);
	if (ctsig_keygen(path, &why) != 0 || ctsig_key_load(&log_key, path, &why) != 0)
		check_harness("log key");
	size_t spki_len;
	const uint8_t *spki = ctsig_key_spki(log_key, &spki_len);
	if (ctsig_pub_from_spki(&log_pub, spki, spki_len, &why) != 0 ||
	    ctsig_signer_new(&signer, log_key) != 0)
		check_harness("log pub");
}

/* Mints leaf number i (a precert when precert) and admits it into s. */
static void
sub_make(struct sub *s, long serial, bool precert)
{
	EVP_PKEY *k = mint_key(MINT_P256);
	char cn[64];
	snprintf(cn, sizeof cn, "leaf%ld.example", serial);
	X509 *leaf = mint_cert(
	        k, ca, ca_key,
	        &(struct mint_opts){.cn = cn, .serial = serial + 1000, .poison = precert});
	s->leaf_der = mint_der(leaf, &s->leaf_len);
	s->ca_der = mint_der(ca, &s->ca_len);
	X509_free(leaf);
	EVP_PKEY_free(k);
}

static int
sub_admit(struct sub *s, bool precert, uint64_t wm)
{
	struct der_span chain[2] = {{s->leaf_der, s->leaf_len}, {s->ca_der, s->ca_len}};
	struct chain_result res;
	const char *why = NULL;
	int rc = chain_check(checker, chain, 2, precert, &res, &why);
	if (rc != 0) {
		fprintf(stderr, "chain_check: %s\n", why);
		return rc;
	}
	long len = ctlog_entry_build(s->buf, sizeof s->buf, &res, &s->b, &why);
	if (len < 0)
		return (int)len;
	size_t o = (size_t)len;
	s->nissuers = res.nissuers;
	for (size_t i = 0; i < res.nissuers; i++) {
		memcpy(s->buf + o, res.issuers[i].p, res.issuers[i].len);
		s->issuers[i].p = s->buf + o, s->issuers[i].len = res.issuers[i].len;
		o += res.issuers[i].len;
	}
	s->e = (struct seq_entry){.entry = s->buf,
	                          .len = s->b.len,
	                          .te_len = s->b.te_len,
	                          .index_off = s->b.index_off,
	                          .dedup_key = s->b.dedup_key,
	                          .admit_wm = wm,
	                          .issuers = s->issuers,
	                          .nissuers = s->nissuers};
	return 0;
}

static void
sub_free(struct sub *s)
{
	free(s->leaf_der);
	free(s->ca_der);
}

static struct seq *
seq_at(const char *dir, size_t batch, size_t recent)
{
	struct seq_opts o = {.dir = dir,
	                     .create = true,
	                     .key = log_key,
	                     .origin = "birch.test/seq",
	                     .batch_max = batch,
	                     .recent_max = recent,
	                     .clock_ms = test_clock};
	char msg[512];
	struct seq *s = NULL;
	int rc = seq_open(&s, &o, msg, sizeof msg);
	if (rc != 0)
		fprintf(stderr, "seq_open: %s\n", msg);
	return s;
}

/* Signs s's SCT and checks it against the log's public key and the entry as stored. */
static long
sct_of(struct sub *s, uint8_t *dsig)
{
	return ctlog_sct_sign(signer, dsig, CTSIG_DSIG_MAX, s->buf, s->b.te_len);
}

static bool
sct_verifies(struct sub *s, const uint8_t *dsig, size_t dl, uint64_t want_index)
{
	struct ctenc_entry e;
	if (ctenc_timestamped_entry_parse(&e, s->buf, s->b.te_len, NULL) != (long)s->b.te_len)
		return false;
	uint64_t idx;
	if (ctenc_ext_leaf_index_parse(&idx, e.ext, e.ext_len, NULL) != 0 || idx != want_index)
		return false;
	return ctsig_sct_verify(log_pub, &e, dsig, dl, NULL) == 0;
}

static void
entries_get_consecutive_indices_verifying_scts_and_the_tree_root(void)
{
	char *dir = tmpdir_make("seq");
	struct seq *q = seq_at(dir, 16, 0);
	CHECK(q != NULL, "open");
	if (!q)
		return;
	CHECK(seq_size(q) == 0 && seq_head_size(q) == 0, "a new log has a signed empty head");
	static struct sub subs[N_CERTS];
	merkle_hash_t leaves[N_CERTS];
	for (int i = 0; i < N_CERTS; i++) {
		bool pre = i % 3 == 1;
		sub_make(&subs[i], i, pre);
		CHECK(sub_admit(&subs[i], pre, seq_watermark(q)) == 0, "admit %d", i);
		CHECK(seq_add(q, &subs[i].e, NULL) == SEQ_NEW, "new %d", i);
		CHECK(subs[i].e.index == (uint64_t)i, "index %d", i);
		if (seq_room(q) == 0)
			CHECK(seq_commit(q, NULL) == 0, "commit");
		fixed_now++;
	}
	CHECK(seq_commit(q, NULL) == 0, "last commit");
	CHECK(seq_size(q) == N_CERTS, "size");
	for (int i = 0; i < N_CERTS; i++) {
		uint8_t dsig[CTSIG_DSIG_MAX];
		long dl = sct_of(&subs[i], dsig);
		CHECK(dl > 0 && sct_verifies(&subs[i], dsig, (size_t)dl, (uint64_t)i), "SCT %d", i);
		struct ctenc_entry e;
		CHECK(ctenc_timestamped_entry_parse(&e, subs[i].buf, subs[i].b.te_len, NULL) > 0 &&
		              ctenc_leaf_hash(leaves[i], &e) == 0,
		      "leaf hash %d", i);
	}
	/* The tree's root (leaf hashes from the batched codec) against one from the streamed
	 * single leaf hashes. */
	merkle_hash_t want, got;
	ref_mth(want, (const uint8_t(*)[32])leaves, 0, N_CERTS);
	tlog_root(seq_tlog(q), got);
	CHECK_MEM(want, got, 32, "root from the codec's batched hashes matches the streamed ones");
	CHECK(seq_sign_head(q, NULL) == 1 && seq_head_size(q) == N_CERTS, "head for the new size");
	CHECK(seq_sign_head(q, NULL) == 0, "no second head for the same size");
	struct store_reader *r;
	CHECK(store_reader_open(tlog_store(seq_tlog(q)), &r) == 0, "reader");
	uint8_t hb[STORE_HEAD_MAX];
	struct store_head h;
	CHECK(store_head_get(r, &h, hb, sizeof hb) == 0 && h.size == N_CERTS, "head stored");
	CHECK(ctsig_sth_verify(log_pub, h.timestamp, h.size, h.root, h.sth, h.sth_len, NULL) == 0,
	      "STH verifies");
	struct ctsig_checkpoint cp;
	CHECK(ctsig_checkpoint_verify(&cp, log_pub, "birch.test/seq", 14,
	                              (const char *)h.checkpoint, h.checkpoint_len, NULL) == 0,
	      "checkpoint verifies");
	uint8_t iss[4096];
	uint8_t fp[32];
	ctenc_sha256(fp, subs[0].ca_der, subs[0].ca_len);
	CHECK(store_issuer_get(r, fp, iss, sizeof iss) == (int)subs[0].ca_len, "issuer stored");
	store_reader_close(r);
	seq_close(q);
	CHECK(tlog_fsck(dir, &ctlog_codec, NULL, NULL, NULL) == 0, "fsck with the ct codec");
	for (int i = 0; i < N_CERTS; i++)
		sub_free(&subs[i]);
	tmpdir_remove(dir);
	free(dir);
}

static void
duplicates_get_the_original_place_and_the_same_sct(void)
{
	char *dir = tmpdir_make("seqdup");
	struct seq *q = seq_at(dir, 8, 0);
	if (!q)
		return;
	static struct sub a, a2, a3, b;
	sub_make(&a, 1, false);
	sub_make(&b, 2, true);
	a2 = a, a3 = a; /* the same leaf and chain, submitted again (own buffers) */
	CHECK(sub_admit(&a, false, seq_watermark(q)) == 0 && seq_add(q, &a.e, NULL) == SEQ_NEW,
	      "first");
	fixed_now += 5;
	CHECK(sub_admit(&a2, false, seq_watermark(q)) == 0 &&
	              seq_add(q, &a2.e, NULL) == SEQ_DUP_PENDING,
	      "a duplicate in the open batch waits for it");
	CHECK(a2.e.index == a.e.index && a2.e.timestamp == a.e.timestamp, "same place and time");
	CHECK(sub_admit(&b, true, seq_watermark(q)) == 0 && seq_add(q, &b.e, NULL) == SEQ_NEW,
	      "precert");
	CHECK(seq_commit(q, NULL) == 0, "commit");
	CHECK(sub_admit(&a3, false, seq_watermark(q)) == 0 &&
	              seq_add(q, &a3.e, NULL) == SEQ_DUP_DURABLE,
	      "a duplicate of a committed entry is answered at once");
	uint8_t s1[CTSIG_DSIG_MAX], s2[CTSIG_DSIG_MAX], s3[CTSIG_DSIG_MAX];
	long l1 = sct_of(&a, s1), l2 = sct_of(&a2, s2), l3 = sct_of(&a3, s3);
	CHECK(l1 > 0 && l1 == l2 && l1 == l3 && memcmp(s1, s2, (size_t)l1) == 0 &&
	              memcmp(s1, s3, (size_t)l1) == 0,
	      "the same SCT bytes every time");
	CHECK(seq_size(q) == 2, "no new entries for duplicates");
	seq_close(q);

	/* After a restart, admission finds it in the on-disk index. */
	q = seq_at(dir, 8, 0);
	CHECK(q != NULL && seq_size(q) == 2, "reopened");
	if (q) {
		struct store_reader *r;
		uint64_t idx = 99, ts = 0;
		CHECK(store_reader_open(tlog_store(seq_tlog(q)), &r) == 0, "reader");
		CHECK(seq_lookup(r, b.b.dedup_key, &idx, &ts) == 0 && idx == 1 &&
		              ts == b.e.timestamp,
		      "the precert's key is in the index after the restart");
		uint8_t none[32] = {1};
		CHECK(seq_lookup(r, none, &idx, &ts) == -ENOENT, "an unknown key is ENOENT");
		store_reader_close(r);
		seq_close(q);
	}
	sub_free(&a);
	sub_free(&b);
	tmpdir_remove(dir);
	free(dir);
}

static void
stale_admission_watermark_is_rechecked_against_the_index(void)
{
	char *dir = tmpdir_make("seqstale");
	struct seq *q = seq_at(dir, 4, 16); /* a FIFO of 16: evictions come quickly */
	if (!q)
		return;
	static struct sub s[24], again;
	for (int i = 0; i < 24; i++) {
		sub_make(&s[i], 100 + i, false);
		CHECK(sub_admit(&s[i], false, seq_watermark(q)) == 0 &&
		              seq_add(q, &s[i].e, NULL) == SEQ_NEW,
		      "add %d", i);
		if (seq_room(q) == 0) {
			CHECK(seq_commit(q, NULL) == 0, "commit");
			CHECK(store_index_sync(tlog_store(seq_tlog(q)), NULL) == 0, "index sync");
		}
	}
	CHECK(seq_commit(q, NULL) == 0, "commit");
	/* Entry 0 left the FIFO long ago; an admission that looked before the index had it
	 * (watermark 0) must not make it a new entry. */
	again = s[0];
	CHECK(sub_admit(&again, false, 0) == 0, "admit again");
	int v = seq_add(q, &again.e, NULL);
	CHECK(v == SEQ_DUP_DURABLE && again.e.index == 0, "found by the re-check (verdict %d)", v);
	struct seq_stats st;
	seq_stats_get(q, &st);
	CHECK(st.index_rechecks >= 1, "a re-check happened");
	CHECK(seq_size(q) == 24, "size unchanged");
	seq_close(q);
	for (int i = 0; i < 24; i++)
		sub_free(&s[i]);
	tmpdir_remove(dir);
	free(dir);
}

static void
failed_commit_forgets_the_batch_and_reopen_continues(void)
{
	char *dir = tmpdir_make("seqfail");
	struct seq *q = seq_at(dir, 8, 0);
	if (!q)
		return;
	static struct sub a, b, c;
	sub_make(&a, 201, false);
	sub_make(&b, 202, false);
	sub_make(&c, 203, false);
	CHECK(sub_admit(&a, false, seq_watermark(q)) == 0 && seq_add(q, &a.e, NULL) == SEQ_NEW,
	      "a");
	CHECK(seq_commit(q, NULL) == 0, "commit a");
	CHECK(sub_admit(&b, false, seq_watermark(q)) == 0 && seq_add(q, &b.e, NULL) == SEQ_NEW,
	      "b");
	store_fault_inject(STORE_FAULT_SYNC, 1, -EIO);
	const char *why = NULL;
	CHECK(seq_commit(q, &why) < 0, "commit fails on an fdatasync error");
	store_fault_inject(STORE_FAULT_ANY, 0, 0);
	CHECK(seq_size(q) == 1 && seq_pending(q) == 0, "the batch is gone");
	seq_close(q);
	q = seq_at(dir, 8, 0);
	CHECK(q != NULL && seq_size(q) == 1, "reopen continues from what is durable");
	if (q) {
		CHECK(sub_admit(&c, false, seq_watermark(q)) == 0 &&
		              seq_add(q, &c.e, NULL) == SEQ_NEW && c.e.index == 1,
		      "the next entry takes the lost batch's index");
		CHECK(seq_commit(q, NULL) == 0 && seq_sign_head(q, NULL) == 1, "commit and head");
		seq_close(q);
	}
	CHECK(tlog_fsck(dir, &ctlog_codec, NULL, NULL, NULL) == 0, "fsck clean");
	sub_free(&a);
	sub_free(&b);
	sub_free(&c);
	tmpdir_remove(dir);
	free(dir);
}

int
main(void)
{
	setup();
	RUN(entries_get_consecutive_indices_verifying_scts_and_the_tree_root);
	RUN(duplicates_get_the_original_place_and_the_same_sct);
	RUN(stale_admission_watermark_is_rechecked_against_the_index);
	RUN(failed_commit_forgets_the_batch_and_reopen_continues);
	tmpdir_remove(keydir);
	return check_done();
}
