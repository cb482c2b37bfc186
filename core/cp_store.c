/* SPDX-License-Identifier: MIT */
#include "cp_store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "text.h"

enum {
	SCHEMA_VERSION = 1,
};

/* Prepared statements, compiled once. */
enum stmt_id {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_ADD_SLOT,
	S_GET_IDENT,
	S_ENROLL,
	S_SET_FAILS,
	S_REMOVE_ID,
	S_REMOVE_REC,
	S_REMOVE_Q,
	S_LIST,
	S_PUT_REC,
	S_COUNT_REC,
	S_GET_REC,
	S_DEL_REC,
	S_Q_ADD,
	S_Q_DEL,
	S_Q_SCAN,
	S_Q_ALL,
	S_Q_EXPIRED,
	S_Q_EXPIRE,
	S_MAX_SEQ,
	S_DATA_VERSION,
	S_REVOKE,
	S_ROTATE,
	S_COUNT
};

static const char *const sql[S_COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_ADD_SLOT] =
	"INSERT INTO identities(handle,state,code_hash,code_expiry,fails,next_try,created)"
	" VALUES(?1,0,?2,?3,0,0,?4) ON CONFLICT(handle) DO UPDATE SET"
	" code_hash=?2, code_expiry=?3, fails=0, next_try=0 WHERE state=0",
    [S_GET_IDENT] =
	"SELECT state,code_hash,code_expiry,fails,next_try,sign_pk,box_pk,keysig,created"
	" FROM identities WHERE handle=?1",
    [S_ENROLL] = "UPDATE identities SET state=1, sign_pk=?2, box_pk=?3, keysig=?4, fails=0,"
		 " next_try=0 WHERE handle=?1",
    [S_SET_FAILS] = "UPDATE identities SET fails=?2, next_try=?3 WHERE handle=?1",
    [S_REMOVE_ID] = "DELETE FROM identities WHERE handle=?1",
    [S_REMOVE_REC] = "DELETE FROM records WHERE handle=?1",
    [S_REMOVE_Q] = "DELETE FROM queue WHERE rcpt=?1",
    [S_LIST] = "SELECT handle FROM identities ORDER BY handle",
    [S_PUT_REC] = "INSERT INTO records(handle,name,data) VALUES(?1,?2,?3)"
		  " ON CONFLICT(handle,name) DO UPDATE SET data=?3",
    [S_COUNT_REC] = "SELECT count(*), sum(name=?2) FROM records WHERE handle=?1",
    [S_GET_REC] = "SELECT data FROM records WHERE handle=?1 AND name=?2",
    [S_DEL_REC] = "DELETE FROM records WHERE handle=?1 AND name=?2",
    [S_Q_ADD] = "INSERT INTO queue(seq,rcpt,sender,expiry,env) VALUES(?1,?2,?3,?4,?5)",
    [S_Q_DEL] = "DELETE FROM queue WHERE seq=?2 AND rcpt=?1 RETURNING sender, length(env)",
    [S_Q_SCAN] = "SELECT seq,sender,expiry,env FROM queue WHERE rcpt=?1 AND seq>?2 AND expiry>?3"
		 " ORDER BY seq LIMIT ?4",
    [S_Q_ALL] = "SELECT seq,rcpt,sender,expiry,length(env) FROM queue",
    [S_Q_EXPIRED] = "SELECT seq,rcpt,sender,expiry,length(env) FROM queue WHERE expiry<=?1",
    [S_Q_EXPIRE] = "DELETE FROM queue WHERE expiry<=?1",
    [S_MAX_SEQ] = "SELECT max(seq) FROM queue",
    [S_DATA_VERSION] = "PRAGMA data_version",
    [S_REVOKE] = "UPDATE identities SET state=2 WHERE handle=?1 AND state=1",
    [S_ROTATE] = "UPDATE identities SET sign_pk=?2, box_pk=?3, keysig=?4"
		 " WHERE handle=?1 AND state=1 AND sign_pk=?5",
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS identities("
    " handle TEXT PRIMARY KEY, state INTEGER NOT NULL, code_hash BLOB, code_expiry INTEGER,"
    " fails INTEGER NOT NULL DEFAULT 0, next_try INTEGER NOT NULL DEFAULT 0,"
    " sign_pk BLOB, box_pk BLOB, keysig BLOB, created INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS records(handle TEXT NOT NULL, name TEXT NOT NULL,"
    " data BLOB NOT NULL, PRIMARY KEY(handle, name));"
    "CREATE TABLE IF NOT EXISTS queue(seq INTEGER PRIMARY KEY, rcpt TEXT NOT NULL,"
    " sender TEXT NOT NULL, expiry INTEGER NOT NULL, env BLOB NOT NULL);"
    "CREATE INDEX IF NOT EXISTS queue_rcpt ON queue(rcpt, seq);"
    "CREATE INDEX IF NOT EXISTS queue_expiry ON queue(expiry);"
    "INSERT OR IGNORE INTO meta(k, v) VALUES('schema', 1);";

struct cp_store {
	sqlite3 *db;
	sqlite3_stmt *st[S_COUNT];
	bool in_txn;
	int64_t data_version;
};

static int db_fail(struct cp_store *st, const char *what)
{
	log_msg(PL_LOG_ERR, "store: %s: %s", what, sqlite3_errmsg(st->db));
	return -EIO;
}

/* Reset and clear a cached statement, returning it ready for binding. */
static sqlite3_stmt *stmt(struct cp_store *st, enum stmt_id id)
{
	sqlite3_stmt *s = st->st[id];

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

/* Run a statement without result rows. */
static int run(struct cp_store *st, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return db_fail(st, what);
	return 0;
}

static int exec_text(sqlite3 *db, const char *q, char *err, size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(db, q, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

static int check_integrity(sqlite3 *db, char *err, size_t errlen)
{
	sqlite3_stmt *s = NULL;
	int ret = -EIO;

	if (sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(db));
		goto out;
	}
	if (strcmp((const char *)sqlite3_column_text(s, 0), "ok") != 0) {
		snprintf(err, errlen, "integrity check failed: %s", sqlite3_column_text(s, 0));
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(s);
	return ret;
}

static int check_schema(sqlite3 *db, char *err, size_t errlen)
{
	sqlite3_stmt *s = NULL;
	int ret = -EIO;

	if (sqlite3_prepare_v2(db, "SELECT v FROM meta WHERE k='schema'", -1, &s, NULL) !=
		SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW) {
		snprintf(err, errlen, "not a portless-cp database (%s)", sqlite3_errmsg(db));
		goto out;
	}
	if (sqlite3_column_int(s, 0) != SCHEMA_VERSION) {
		snprintf(err, errlen, "unsupported schema version %d", sqlite3_column_int(s, 0));
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(s);
	return ret;
}

static int setup(struct cp_store *st, bool create, char *err, size_t errlen)
{
	if (exec_text(st->db,
		      "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
		      " PRAGMA foreign_keys=OFF; PRAGMA secure_delete=ON;",
		      err, errlen) < 0)
		return -EIO;
	if (check_integrity(st->db, err, errlen) < 0)
		return -EIO;
	if (create && exec_text(st->db, schema, err, errlen) < 0)
		return -EIO;
	if (check_schema(st->db, err, errlen) < 0)
		return -EIO;
	for (int i = 0; i < S_COUNT; i++) {
		if (sqlite3_prepare_v3(st->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st->st[i],
				       NULL) != SQLITE_OK) {
			snprintf(err, errlen, "cannot prepare statement: %s",
				 sqlite3_errmsg(st->db));
			return -EIO;
		}
	}
	return 0;
}

int cp_store_open(const char *dir, bool create, struct cp_store **out, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct cp_store *st;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
	int ret;

	*out = NULL;
	if ((size_t)snprintf(path, sizeof(path), "%s/cp.db", dir) >= sizeof(path)) {
		snprintf(err, errlen, "data directory path too long");
		return -ENAMETOOLONG;
	}
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	if (sqlite3_open_v2(path, &st->db, flags, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path,
			 st->db ? sqlite3_errmsg(st->db) : "no memory");
		ret = -EIO;
		goto fail;
	}
	sqlite3_busy_timeout(st->db, 2000);
	sqlite3_extended_result_codes(st->db, 1);
	ret = setup(st, create, err, errlen);
	if (ret < 0) {
		char tmp[256];

		snprintf(tmp, sizeof(tmp), "%s", err);
		snprintf(err, errlen, "%s: damaged or unusable store: %s", path, tmp);
		goto fail;
	}
	st->data_version = -1;
	cp_store_changed(st);
	*out = st;
	return 0;
fail:
	cp_store_close(st);
	return ret;
}

void cp_store_close(struct cp_store *st)
{
	if (!st)
		return;
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(st->st[i]);
	sqlite3_close(st->db);
	free(st);
}

int cp_store_begin(struct cp_store *st)
{
	if (st->in_txn)
		return 0;
	if (run(st, stmt(st, S_BEGIN), "begin") < 0)
		return -EIO;
	st->in_txn = true;
	return 0;
}

int cp_store_commit(struct cp_store *st)
{
	if (!st->in_txn)
		return 0;
	if (run(st, stmt(st, S_COMMIT), "commit") < 0) {
		cp_store_rollback(st);
		return -EIO;
	}
	st->in_txn = false;
	return 0;
}

void cp_store_rollback(struct cp_store *st)
{
	if (!st->in_txn)
		return;
	if (sqlite3_get_autocommit(st->db) == 0)
		(void)run(st, stmt(st, S_ROLLBACK), "rollback");
	st->in_txn = false;
}

bool cp_store_in_txn(const struct cp_store *st)
{
	return st->in_txn;
}

bool cp_store_changed(struct cp_store *st)
{
	sqlite3_stmt *s = stmt(st, S_DATA_VERSION);
	int64_t v = st->data_version;

	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (v == st->data_version)
		return false;
	st->data_version = v;
	return true;
}

static void bind_text(sqlite3_stmt *s, int i, const char *t)
{
	sqlite3_bind_text(s, i, t, -1, SQLITE_STATIC);
}

static void bind_blob(sqlite3_stmt *s, int i, const void *p, size_t n)
{
	sqlite3_bind_blob(s, i, n ? p : "", (int)n, SQLITE_STATIC);
}

int cp_store_add_slot(struct cp_store *st, const char *handle, const uint8_t code_hash[CP_HASH_LEN],
		      uint64_t expiry, uint64_t now)
{
	sqlite3_stmt *s = stmt(st, S_ADD_SLOT);

	bind_text(s, 1, handle);
	bind_blob(s, 2, code_hash, CP_HASH_LEN);
	sqlite3_bind_int64(s, 3, (int64_t)expiry);
	sqlite3_bind_int64(s, 4, (int64_t)now);
	if (run(st, s, "add identity") < 0)
		return -EIO;
	return sqlite3_changes(st->db) == 0 ? -EEXIST : 0;
}

static void col_blob(sqlite3_stmt *s, int col, uint8_t *out, size_t n)
{
	const void *p = sqlite3_column_blob(s, col);

	if (p && (size_t)sqlite3_column_bytes(s, col) == n)
		memcpy(out, p, n);
	else
		memset(out, 0, n);
}

int cp_store_get_ident(struct cp_store *st, const char *handle, struct cp_ident *out)
{
	sqlite3_stmt *s = stmt(st, S_GET_IDENT);
	int rc;

	memset(out, 0, sizeof(*out));
	bind_text(s, 1, handle);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(s);
		return -ENOENT;
	}
	if (rc != SQLITE_ROW) {
		sqlite3_reset(s);
		return db_fail(st, "get identity");
	}
	snprintf(out->pk.handle, sizeof(out->pk.handle), "%s", handle);
	out->state = sqlite3_column_int(s, 0);
	col_blob(s, 1, out->code_hash, CP_HASH_LEN);
	out->code_expiry = (uint64_t)sqlite3_column_int64(s, 2);
	out->fails = (uint32_t)sqlite3_column_int64(s, 3);
	out->next_try = (uint64_t)sqlite3_column_int64(s, 4);
	col_blob(s, 5, out->pk.sign_pk, ID_SIGN_PK);
	col_blob(s, 6, out->pk.box_pk, ID_BOX_PK);
	col_blob(s, 7, out->keysig, CP_SIG_LEN);
	out->created = (uint64_t)sqlite3_column_int64(s, 8);
	sqlite3_reset(s);
	return 0;
}

int cp_store_enroll(struct cp_store *st, const struct pubkeys *pk, const uint8_t keysig[CP_SIG_LEN])
{
	sqlite3_stmt *s = stmt(st, S_ENROLL);

	bind_text(s, 1, pk->handle);
	bind_blob(s, 2, pk->sign_pk, ID_SIGN_PK);
	bind_blob(s, 3, pk->box_pk, ID_BOX_PK);
	bind_blob(s, 4, keysig, CP_SIG_LEN);
	if (run(st, s, "enroll") < 0)
		return -EIO;
	return sqlite3_changes(st->db) == 0 ? -ENOENT : 0;
}

int cp_store_revoke(struct cp_store *st, const char *handle)
{
	sqlite3_stmt *s = stmt(st, S_REVOKE);

	bind_text(s, 1, handle);
	if (run(st, s, "revoke") < 0)
		return -EIO;
	return sqlite3_changes(st->db) == 0 ? -ENOENT : 0;
}

int cp_store_rotate(struct cp_store *st, const uint8_t old_sign_pk[CP_KEY_LEN],
		    const struct pubkeys *pk, const uint8_t keysig[CP_SIG_LEN])
{
	sqlite3_stmt *s = stmt(st, S_ROTATE);

	bind_text(s, 1, pk->handle);
	bind_blob(s, 2, pk->sign_pk, ID_SIGN_PK);
	bind_blob(s, 3, pk->box_pk, ID_BOX_PK);
	bind_blob(s, 4, keysig, CP_SIG_LEN);
	bind_blob(s, 5, old_sign_pk, ID_SIGN_PK);
	if (run(st, s, "rotate") < 0)
		return -EIO;
	return sqlite3_changes(st->db) == 0 ? -ENOENT : 0;
}

int cp_store_set_fails(struct cp_store *st, const char *handle, uint32_t fails, uint64_t next_try)
{
	sqlite3_stmt *s = stmt(st, S_SET_FAILS);

	bind_text(s, 1, handle);
	sqlite3_bind_int64(s, 2, fails);
	sqlite3_bind_int64(s, 3, (int64_t)next_try);
	return run(st, s, "set fails");
}

int cp_store_remove(struct cp_store *st, const char *handle)
{
	static const enum stmt_id ids[] = {S_REMOVE_REC, S_REMOVE_Q, S_REMOVE_ID};
	sqlite3_stmt *s;

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		s = stmt(st, ids[i]);
		bind_text(s, 1, handle);
		if (run(st, s, "remove identity") < 0)
			return -EIO;
	}
	return sqlite3_changes(st->db) == 0 ? -ENOENT : 0;
}

int cp_store_list(struct cp_store *st, void (*cb)(void *arg, const struct cp_ident *id), void *arg)
{
	sqlite3_stmt *s = stmt(st, S_LIST);
	char(*names)[HANDLE_BUF] = NULL;
	size_t n = 0, cap = 0;
	struct cp_ident id;
	int rc, ret = 0;

	/* Collect first: cp_store_get_ident() reuses statements. */
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			void *p = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof(*names));

			if (!p) {
				ret = -ENOMEM;
				goto out;
			}
			names = p;
		}
		snprintf(names[n++], HANDLE_BUF, "%s", (const char *)sqlite3_column_text(s, 0));
	}
	if (rc != SQLITE_DONE)
		ret = db_fail(st, "list");
	sqlite3_reset(s);
	for (size_t i = 0; ret == 0 && i < n; i++)
		if ((ret = cp_store_get_ident(st, names[i], &id)) == 0)
			cb(arg, &id);
out:
	sqlite3_reset(s);
	free(names);
	return ret;
}

int cp_store_put_record(struct cp_store *st, const char *handle, const char *name,
			const uint8_t *data, size_t len)
{
	sqlite3_stmt *s = stmt(st, S_COUNT_REC);
	int64_t count, exists;

	bind_text(s, 1, handle);
	bind_text(s, 2, name);
	if (sqlite3_step(s) != SQLITE_ROW) {
		sqlite3_reset(s);
		return db_fail(st, "count records");
	}
	count = sqlite3_column_int64(s, 0);
	exists = sqlite3_column_int64(s, 1);
	sqlite3_reset(s);
	if (!exists && count >= CP_RECORDS_PER_ID)
		return -EDQUOT;
	s = stmt(st, S_PUT_REC);
	bind_text(s, 1, handle);
	bind_text(s, 2, name);
	bind_blob(s, 3, data, len);
	return run(st, s, "put record");
}

int cp_store_get_record(struct cp_store *st, const char *handle, const char *name, uint8_t *out,
			size_t cap, size_t *len)
{
	sqlite3_stmt *s = stmt(st, S_GET_REC);
	int rc, ret = 0;
	size_t n;

	bind_text(s, 1, handle);
	bind_text(s, 2, name);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		ret = -ENOENT;
	} else if (rc != SQLITE_ROW) {
		ret = db_fail(st, "get record");
	} else {
		n = (size_t)sqlite3_column_bytes(s, 0);
		if (n > cap) {
			ret = -EIO;
		} else {
			if (n)
				memcpy(out, sqlite3_column_blob(s, 0), n);
			*len = n;
		}
	}
	sqlite3_reset(s);
	return ret;
}

int cp_store_del_record(struct cp_store *st, const char *handle, const char *name)
{
	sqlite3_stmt *s = stmt(st, S_DEL_REC);

	bind_text(s, 1, handle);
	bind_text(s, 2, name);
	if (run(st, s, "delete record") < 0)
		return -EIO;
	return sqlite3_changes(st->db) == 0 ? -ENOENT : 0;
}

int cp_store_queue_add(struct cp_store *st, uint64_t seq, const char *rcpt, const char *sender,
		       uint64_t expiry, const uint8_t *env, size_t len)
{
	sqlite3_stmt *s = stmt(st, S_Q_ADD);

	sqlite3_bind_int64(s, 1, (int64_t)seq);
	bind_text(s, 2, rcpt);
	bind_text(s, 3, sender);
	sqlite3_bind_int64(s, 4, (int64_t)expiry);
	bind_blob(s, 5, env, len);
	return run(st, s, "queue add");
}

int cp_store_queue_del(struct cp_store *st, const char *rcpt, uint64_t seq, char sender[HANDLE_BUF],
		       size_t *len)
{
	sqlite3_stmt *s = stmt(st, S_Q_DEL);
	int rc, ret = -ENOENT;

	bind_text(s, 1, rcpt);
	sqlite3_bind_int64(s, 2, (int64_t)seq);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		snprintf(sender, HANDLE_BUF, "%s", (const char *)sqlite3_column_text(s, 0));
		*len = (size_t)sqlite3_column_int64(s, 1);
		ret = 0;
		rc = sqlite3_step(s);
	}
	if (rc != SQLITE_DONE)
		ret = db_fail(st, "queue delete");
	sqlite3_reset(s);
	return ret;
}

int cp_store_queue_scan(struct cp_store *st, const char *rcpt, uint64_t after, uint64_t now,
			unsigned limit, int (*cb)(void *arg, const struct cp_qitem *it), void *arg)
{
	sqlite3_stmt *s = stmt(st, S_Q_SCAN);
	struct cp_qitem it = {.rcpt = rcpt};
	int rc;

	bind_text(s, 1, rcpt);
	sqlite3_bind_int64(s, 2, (int64_t)after);
	sqlite3_bind_int64(s, 3, (int64_t)now);
	sqlite3_bind_int64(s, 4, limit);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		it.seq = (uint64_t)sqlite3_column_int64(s, 0);
		it.sender = (const char *)sqlite3_column_text(s, 1);
		it.expiry = (uint64_t)sqlite3_column_int64(s, 2);
		it.env = sqlite3_column_blob(s, 3);
		it.len = (size_t)sqlite3_column_bytes(s, 3);
		if (cb(arg, &it)) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : db_fail(st, "queue scan");
}

static int rows(struct cp_store *st, sqlite3_stmt *s,
		void (*cb)(void *arg, const struct cp_qitem *it), void *arg)
{
	struct cp_qitem it = {0};
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		it.seq = (uint64_t)sqlite3_column_int64(s, 0);
		it.rcpt = (const char *)sqlite3_column_text(s, 1);
		it.sender = (const char *)sqlite3_column_text(s, 2);
		it.expiry = (uint64_t)sqlite3_column_int64(s, 3);
		it.len = (size_t)sqlite3_column_int64(s, 4);
		cb(arg, &it);
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : db_fail(st, "queue rows");
}

int cp_store_queue_all(struct cp_store *st, void (*cb)(void *arg, const struct cp_qitem *it),
		       void *arg)
{
	return rows(st, stmt(st, S_Q_ALL), cb, arg);
}

int cp_store_queue_expire(struct cp_store *st, uint64_t now,
			  void (*cb)(void *arg, const struct cp_qitem *it), void *arg)
{
	sqlite3_stmt *s = stmt(st, S_Q_EXPIRED);

	sqlite3_bind_int64(s, 1, (int64_t)now);
	if (rows(st, s, cb, arg) < 0)
		return -EIO;
	s = stmt(st, S_Q_EXPIRE);
	sqlite3_bind_int64(s, 1, (int64_t)now);
	return run(st, s, "queue expire");
}

uint64_t cp_store_max_seq(struct cp_store *st)
{
	sqlite3_stmt *s = stmt(st, S_MAX_SEQ);
	uint64_t v = 0;

	if (sqlite3_step(s) == SQLITE_ROW)
		v = (uint64_t)sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return v;
}

/* ---- data directory and server key ---- */

static int key_path(char *out, size_t cap, const char *dir)
{
	return (size_t)snprintf(out, cap, "%s/server.key", dir) >= cap ? -ENAMETOOLONG : 0;
}

static int write_key(const char *path, const uint8_t sk[CP_KEY_LEN], char *err, size_t errlen)
{
	char b64[64], text[96];
	int fd, ret = 0;
	size_t n;

	if (text_to_b64(b64, sizeof(b64), sk, CP_KEY_LEN) < 0)
		return -EINVAL;
	n = (size_t)snprintf(text, sizeof(text), "portless-cp-server-key v1\n%s\n", b64);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (write(fd, text, n) != (ssize_t)n || fsync(fd) < 0) {
		ret = -EIO;
		snprintf(err, errlen, "%s: write failed", path);
	}
	close(fd);
out:
	sodium_memzero(b64, sizeof(b64));
	sodium_memzero(text, sizeof(text));
	return ret;
}

int cp_data_init(const char *dir, uint8_t pk[CP_KEY_LEN], char *err, size_t errlen)
{
	char path[PATH_MAX];
	uint8_t sk[CP_KEY_LEN];
	struct cp_store *st = NULL;
	int ret;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -errno;
	}
	if ((ret = key_path(path, sizeof(path), dir)) < 0) {
		snprintf(err, errlen, "path too long");
		return ret;
	}
	if (access(path, F_OK) == 0) {
		snprintf(err, errlen, "%s exists already (the server has its key)", path);
		return -EEXIST;
	}
	crypto_box_keypair(pk, sk);
	ret = write_key(path, sk, err, errlen);
	sodium_memzero(sk, sizeof(sk));
	if (ret < 0)
		return ret;
	ret = cp_store_open(dir, true, &st, err, errlen);
	cp_store_close(st);
	return ret;
}

int cp_data_load_key(const char *dir, uint8_t sk[CP_KEY_LEN], uint8_t pk[CP_KEY_LEN], char *err,
		     size_t errlen)
{
	char path[PATH_MAX], text[256], *nl;
	struct stat sb;
	ssize_t n;
	int fd, ret = -EINVAL;

	if (key_path(path, sizeof(path), dir) < 0)
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s (run 'portless-cp init --data %s' first)", path,
			 strerror(errno), dir);
		return -errno;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || (sb.st_mode & 077)) {
		snprintf(err, errlen, "%s: must be a regular file with mode 0600", path);
		goto out;
	}
	n = read(fd, text, sizeof(text) - 1);
	if (n <= 0)
		goto bad;
	text[n] = '\0';
	if (strncmp(text, "portless-cp-server-key v1\n", 26) != 0)
		goto bad;
	nl = strchr(text + 26, '\n');
	if (!nl || nl[1] != '\0')
		goto bad;
	*nl = '\0';
	if (text_from_b64_exact(sk, CP_KEY_LEN, text + 26) < 0)
		goto bad;
	crypto_scalarmult_base(pk, sk);
	ret = 0;
	goto out;
bad:
	snprintf(err, errlen, "%s: not a portless-cp server key file", path);
out:
	sodium_memzero(text, sizeof(text));
	close(fd);
	return ret;
}
