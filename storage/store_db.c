/* storage/store_db.c: state.mdb (LMDB): its records and the error translation. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/store_int.h"

#define GiB               (1024ull * 1024 * 1024)
#define DEFAULT_STATE_MAP (64 * GiB)
#define STATE_REC_LEN     48 /* size, root, timestamp */
#define HEAD_FIXED_LEN    56 /* size, root, timestamp, sth_len, checkpoint_len */
#define FORMAT_VERSION    2  /* 2: edge/ files and index/ runs (1: index.mdb) */

int
sdb_err(int rc, const char *what, const char **reason)
{
	const char *r;
	int e;
	switch (rc) {
	case 0:
		return 0;
	case MDB_MAP_FULL:
		r = "LMDB map full: raise the map size (store_opts) and restart", e = -ENOSPC;
		break;
	case MDB_NOTFOUND:
		r = "not found", e = -ENOENT;
		break;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
		r = "LMDB file is corrupted or not an LMDB file", e = -EBADMSG;
		break;
	case MDB_READERS_FULL:
		r = "too many LMDB readers", e = -EAGAIN;
		break;
	case MDB_KEYEXIST:
		r = "key exists", e = -EEXIST;
		break;
	case ENOSPC:
		r = "disk full while committing LMDB", e = -ENOSPC;
		break;
	default:
		r = rc > 0 && rc < 4096 ? "LMDB I/O error" : "LMDB error",
		e = rc > 0 && rc < 4096 ? -rc : -EIO;
		break;
	}
	(void)what;
	if (reason)
		*reason = r;
	return e;
}

static void
put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t
get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static int
env_open(MDB_env **env, const char *path, uint64_t map, unsigned dbs, bool ro, const char **reason)
{
	int rc = mdb_env_create(env);
	if (rc == 0)
		rc = mdb_env_set_mapsize(*env, map);
	if (rc == 0)
		rc = mdb_env_set_maxdbs(*env, dbs);
	if (rc == 0)
		rc = mdb_env_set_maxreaders(*env, 1024);
	if (rc == 0)
		rc = mdb_env_open(*env, path, MDB_NOSUBDIR | MDB_NOTLS | (ro ? MDB_RDONLY : 0),
		                  0644);
	if (rc != 0) {
		mdb_env_close(*env);
		*env = NULL;
		if (rc == ENOENT) {
			if (reason)
				*reason = "missing LMDB file (not a Birch log directory?)";
			return -ENOENT;
		}
		return sdb_err(rc, path, reason);
	}
	return 0;
}

static int
dbi_open(MDB_txn *txn, const char *name, unsigned flags, MDB_dbi *out)
{
	return mdb_dbi_open(txn, name, flags, out);
}

int
sdb_open(struct sdb *db, const char *dir, const struct store_opts *o, char format[32],
         const char **reason)
{
	memset(db, 0, sizeof *db);
	char path[4096];
	bool ro = o->read_only;
	snprintf(path, sizeof path, "%s/state.mdb", dir);
	int rc = env_open(&db->state_env, path,
	                  o->state_map_bytes ? o->state_map_bytes : DEFAULT_STATE_MAP, 8, ro,
	                  reason);
	if (rc < 0)
		return rc;

	unsigned create = ro ? 0 : MDB_CREATE;
	MDB_txn *txn;
	rc = mdb_txn_begin(db->state_env, NULL, ro ? MDB_RDONLY : 0, &txn);
	if (rc == 0)
		rc = dbi_open(txn, "meta", create, &db->meta);
	if (rc == 0)
		rc = dbi_open(txn, "signed", create, &db->sig);
	if (rc == 0)
		rc = dbi_open(txn, "issuers", create, &db->issuers);
	if (rc == 0) {
		rc = dbi_open(txn, "mids", create, &db->mids);
		db->has_mids = rc == 0;
		if (rc == MDB_NOTFOUND && ro)
			rc = 0; /* a log from before mid nodes, read only: proofs recompute them */
	}
	if (rc == 0 && !ro) {
		/* Stamp the format once, so a later incompatible layout is refused by name. */
		uint8_t v[4] = {0, 0, 0, FORMAT_VERSION};
		MDB_val k = {6, "format"}, d = {4, v};
		rc = mdb_put(txn, db->meta, &k, &d, MDB_NOOVERWRITE);
		if (rc == MDB_KEYEXIST)
			rc = 0;
	}
	if (rc == 0) {
		MDB_val k = {6, "format"}, d;
		int g = mdb_get(txn, db->meta, &k, &d);
		if (g == 0 && (d.mv_size != 4 || ((uint8_t *)d.mv_data)[3] != FORMAT_VERSION)) {
			mdb_txn_abort(txn);
			if (reason)
				*reason = "state.mdb has an unknown format version";
			rc = -EPROTO;
			goto fail;
		}
	}
	if (rc == 0 && o->format && !ro) {
		MDB_val k = {12, "entry_format"}, d = {strlen(o->format), (void *)o->format};
		rc = d.mv_size < 32 ? mdb_put(txn, db->meta, &k, &d, MDB_NOOVERWRITE) : EINVAL;
		if (rc == MDB_KEYEXIST)
			rc = 0;
	}
	format[0] = 0;
	if (rc == 0) {
		MDB_val k = {12, "entry_format"}, d;
		if (mdb_get(txn, db->meta, &k, &d) == 0 && d.mv_size < 32) {
			memcpy(format, d.mv_data, d.mv_size);
			format[d.mv_size] = 0;
		}
		if (o->format && strcmp(format, o->format) != 0) {
			mdb_txn_abort(txn);
			if (reason)
				*reason = "the log holds entries of another format";
			rc = -EPROTO;
			goto fail;
		}
	}
	rc = rc == 0 ? mdb_txn_commit(txn) : (mdb_txn_abort(txn), rc);
	if (rc != 0) {
		rc = sdb_err(rc, "state.mdb", reason);
		goto fail;
	}
	return 0;
fail:
	sdb_close(db);
	return rc;
}

void
sdb_close(struct sdb *db)
{
	if (db->state_env)
		mdb_env_close(db->state_env);
	db->state_env = NULL;
}

int
sdb_state_read(struct sdb *db, struct store_state *st, const char **reason)
{
	memset(st, 0, sizeof *st);
	MDB_txn *txn;
	int rc = mdb_txn_begin(db->state_env, NULL, MDB_RDONLY, &txn);
	if (rc != 0)
		return sdb_err(rc, "state.mdb", reason);
	MDB_val k = {5, "state"}, d;
	rc = mdb_get(txn, db->meta, &k, &d);
	if (rc == 0) {
		if (d.mv_size != STATE_REC_LEN) {
			mdb_txn_abort(txn);
			if (reason)
				*reason = "state.mdb: the state record has the wrong length";
			return -EBADMSG;
		}
		const uint8_t *p = d.mv_data;
		st->size = get_be64(p);
		memcpy(st->root, p + 8, STORE_HASH_LEN);
		st->timestamp = get_be64(p + 40);
	}
	mdb_txn_abort(txn);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return sdb_err(rc, "state.mdb", reason);

	return 0;
}

int
sdb_commit_state(struct sdb *db, const struct store_batch *b, const char **reason)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(db->state_env, NULL, 0, &txn);
	if (rc != 0)
		return sdb_err(rc, "state.mdb", reason);
	uint8_t rec[STATE_REC_LEN];
	put_be64(rec, b->state.size);
	memcpy(rec + 8, b->state.root, STORE_HASH_LEN);
	put_be64(rec + 40, b->state.timestamp);
	MDB_val k = {5, "state"}, d = {sizeof rec, rec};
	rc = mdb_put(txn, db->meta, &k, &d, 0);
	for (size_t i = 0; rc == 0 && i < b->nissuers; i++) {
		MDB_val ik = {STORE_KEY_LEN, (void *)b->issuers[i].fingerprint};
		MDB_val id = {b->issuers[i].len, (void *)b->issuers[i].der};
		rc = mdb_put(txn, db->issuers, &ik, &id, MDB_NOOVERWRITE);
		if (rc == MDB_KEYEXIST)
			rc = 0;
	}
	for (size_t i = 0; rc == 0 && i < b->nmids; i++) {
		uint8_t key[8];
		put_be64(key, (uint64_t)b->mids[i].level << 56 | b->mids[i].index);
		MDB_val mk = {8, key}, md = {sizeof b->mids[i].hash, (void *)b->mids[i].hash};
		rc = b->mids[i].index >> 56 ? EINVAL : mdb_put(txn, db->mids, &mk, &md, 0);
	}
	if (rc != 0) {
		mdb_txn_abort(txn);
		return sdb_err(rc, "state.mdb", reason);
	}
	rc = mdb_txn_commit(txn); /* synced: the environment has no NOSYNC flag */
	return rc == 0 ? 0 : sdb_err(rc, "state.mdb", reason);
}

int
sdb_head_put(struct sdb *db, const struct store_head *h, const char **reason)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(db->state_env, NULL, 0, &txn);
	if (rc != 0)
		return sdb_err(rc, "state.mdb", reason);
	uint8_t key[8];
	put_be64(key, h->size);
	MDB_val k = {8, key}, d;
	rc = mdb_get(txn, db->sig, &k, &d);
	if (rc == 0) {
		if (d.mv_size < STORE_HASH_LEN || memcmp(d.mv_data, h->root, STORE_HASH_LEN) != 0) {
			mdb_txn_abort(txn);
			if (reason)
				*reason = "refused: this size was already signed with a different "
				          "root (fork)";
			return -EEXIST;
		}
	} else if (rc == MDB_NOTFOUND) {
		uint8_t v[STORE_HASH_LEN + 8];
		memcpy(v, h->root, STORE_HASH_LEN);
		put_be64(v + STORE_HASH_LEN, h->timestamp);
		d = (MDB_val){sizeof v, v};
		rc = mdb_put(txn, db->sig, &k, &d, 0);
	}
	uint8_t *rec = NULL;
	if (rc == 0) {
		size_t len = HEAD_FIXED_LEN + h->sth_len + h->checkpoint_len;
		MDB_val hk = {4, "head"}, hd = {len, NULL};
		rc = mdb_put(txn, db->meta, &hk, &hd, MDB_RESERVE);
		if (rc == 0) {
			rec = hd.mv_data;
			put_be64(rec, h->size);
			memcpy(rec + 8, h->root, STORE_HASH_LEN);
			put_be64(rec + 40, h->timestamp);
			put_be64(rec + 48, (uint64_t)h->sth_len << 32 | h->checkpoint_len);
			memcpy(rec + HEAD_FIXED_LEN, h->sth, h->sth_len);
			memcpy(rec + HEAD_FIXED_LEN + h->sth_len, h->checkpoint, h->checkpoint_len);
		}
	}
	if (rc != 0) {
		mdb_txn_abort(txn);
		return sdb_err(rc, "state.mdb", reason);
	}
	rc = mdb_txn_commit(txn);
	return rc == 0 ? 0 : sdb_err(rc, "state.mdb", reason);
}
