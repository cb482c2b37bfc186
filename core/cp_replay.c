/* SPDX-License-Identifier: MIT */
#include "cp_replay.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"

enum stmt_id {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_EXPIRE,
	S_FIND,
	S_COUNT_FROM,
	S_COUNT_ALL,
	S_INSERT,
	S_COUNT
};

static const char *const sql[S_COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_EXPIRE] = "DELETE FROM seen WHERE expiry < ?1",
    [S_FIND] = "SELECT 1 FROM seen WHERE sender = ?1 AND id = ?2 AND expiry >= ?3",
    [S_COUNT_FROM] = "SELECT count(*) FROM seen WHERE sender = ?1 AND expiry >= ?2",
    [S_COUNT_ALL] = "SELECT count(*) FROM seen WHERE expiry >= ?1",
    [S_INSERT] = "INSERT INTO seen(sender, id, expiry) VALUES(?1, ?2, ?3)",
};

static const char schema[] =
    "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
    " CREATE TABLE IF NOT EXISTS seen(sender TEXT NOT NULL, id BLOB NOT NULL,"
    " expiry INTEGER NOT NULL, PRIMARY KEY(sender, id)) WITHOUT ROWID;"
    " CREATE INDEX IF NOT EXISTS seen_expiry ON seen(expiry);";

struct cp_replay {
	sqlite3 *db;
	sqlite3_stmt *st[S_COUNT];
	unsigned max, per_sender;
};

/* Step @p s once and reset it: SQLITE_DONE, SQLITE_ROW (column 0 in *@p val) or an error. */
static int run(sqlite3_stmt *s, sqlite3_int64 *val)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW && val)
		*val = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc;
}

/* Create the file 0600 ourselves (SQLite would use the umask); its -wal/-shm follow its mode. */
static int make_file(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static int prepare(struct cp_replay *rp, const char *where)
{
	char *msg = NULL;

	if (sqlite3_exec(rp->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
		log_msg(PL_LOG_ERR, "%s: unusable replay cache: %s", where,
			msg ? msg : sqlite3_errmsg(rp->db));
		sqlite3_free(msg);
		return -EIO;
	}
	for (int i = 0; i < S_COUNT; i++)
		if (sqlite3_prepare_v3(rp->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &rp->st[i],
				       NULL) != SQLITE_OK) {
			log_msg(PL_LOG_ERR, "%s: unusable replay cache: %s", where,
				sqlite3_errmsg(rp->db));
			return -EIO;
		}
	return 0;
}

/* Open the database at @p path (":memory:" for none) into @p rp. */
static int open_db(struct cp_replay *rp, const char *path)
{
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;

	if (sqlite3_open_v2(path, &rp->db, flags, NULL) != SQLITE_OK) {
		log_msg(PL_LOG_ERR, "%s: cannot open the replay cache: %s", path,
			rp->db ? sqlite3_errmsg(rp->db) : "no memory");
		return -EIO;
	}
	sqlite3_busy_timeout(rp->db, 2000);
	return prepare(rp, path);
}

int cp_replay_open(const char *keydir, unsigned max, unsigned per_sender, struct cp_replay **out)
{
	char path[PATH_MAX];
	struct cp_replay *rp;
	int r = 0;

	*out = NULL;
	if (keydir &&
	    (size_t)snprintf(path, sizeof(path), "%s/%s", keydir, CP_REPLAY_FILE) >= sizeof(path))
		return -ENAMETOOLONG;
	if (keydir && (r = make_file(path)) < 0) {
		log_msg_errno(PL_LOG_ERR, -r, "%s: cannot create the replay cache", path);
		return r;
	}
	rp = calloc(1, sizeof(*rp));
	if (!rp)
		return -ENOMEM;
	rp->max = max ? max : CP_REPLAY_MAX;
	rp->per_sender = per_sender ? per_sender : CP_REPLAY_PER_SENDER;
	r = open_db(rp, keydir ? path : ":memory:");
	if (r < 0) {
		cp_replay_close(rp);
		return r;
	}
	*out = rp;
	return 0;
}

void cp_replay_close(struct cp_replay *rp)
{
	if (!rp)
		return;
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(rp->st[i]);
	sqlite3_close(rp->db);
	free(rp);
}

long cp_replay_count(struct cp_replay *rp, const char *from, uint64_t now)
{
	sqlite3_stmt *s = rp->st[from ? S_COUNT_FROM : S_COUNT_ALL];
	sqlite3_int64 n = 0;
	int i = 1;

	if (from)
		sqlite3_bind_text(s, i++, from, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, i, (sqlite3_int64)now);
	return run(s, &n) == SQLITE_ROW ? (long)n : -1;
}

/* Inside the transaction: drop the expired, then is (from, id) new and is there room? */
static int judge(struct cp_replay *rp, const char *from, const uint8_t *id, uint64_t now)
{
	sqlite3_stmt *s = rp->st[S_FIND];
	long mine, all;
	int rc;

	sqlite3_bind_int64(rp->st[S_EXPIRE], 1, (sqlite3_int64)now);
	if (run(rp->st[S_EXPIRE], NULL) != SQLITE_DONE)
		return ENV_E_REPLAY_STORE;
	sqlite3_bind_text(s, 1, from, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, id, ENVELOPE_ID_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)now);
	rc = run(s, NULL);
	if (rc == SQLITE_ROW)
		return ENV_E_REPLAY;
	if (rc != SQLITE_DONE)
		return ENV_E_REPLAY_STORE;
	mine = cp_replay_count(rp, from, now);
	all = cp_replay_count(rp, NULL, now);
	if (mine < 0 || all < 0)
		return ENV_E_REPLAY_STORE;
	if ((unsigned long)mine >= rp->per_sender || (unsigned long)all >= rp->max)
		return ENV_E_REPLAY_FULL;
	return ENV_OK;
}

static int insert(struct cp_replay *rp, const char *from, const uint8_t *id, uint64_t expiry)
{
	sqlite3_stmt *s = rp->st[S_INSERT];

	sqlite3_bind_text(s, 1, from, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, id, ENVELOPE_ID_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)expiry);
	return run(s, NULL) == SQLITE_DONE ? ENV_OK : ENV_E_REPLAY_STORE;
}

int cp_replay_add(struct cp_replay *rp, const char *from, const uint8_t id[ENVELOPE_ID_LEN],
		  uint64_t expiry, uint64_t now)
{
	int r;

	if (!handle_valid(from))
		return ENV_E_ARG;
	r = envelope_check_expiry(expiry, now); /* a far one would outlive its entry */
	if (r != ENV_OK)
		return r;
	if (run(rp->st[S_BEGIN], NULL) != SQLITE_DONE) {
		log_msg(PL_LOG_ERR, "replay cache: %s", sqlite3_errmsg(rp->db));
		return ENV_E_REPLAY_STORE;
	}
	r = judge(rp, from, id, now);
	if (r == ENV_OK)
		r = insert(rp, from, id, expiry);
	if (r != ENV_E_REPLAY_STORE && run(rp->st[S_COMMIT], NULL) == SQLITE_DONE)
		return r;
	log_msg(PL_LOG_ERR, "replay cache: %s", sqlite3_errmsg(rp->db));
	(void)run(rp->st[S_ROLLBACK], NULL);
	return ENV_E_REPLAY_STORE;
}
