/* SPDX-License-Identifier: MIT */
/**
 * @file cp_store.h  Persistent state of portless-cp: SQLite (WAL, synchronous=FULL).
 *
 * Data directory layout (docs/CONTROL-PLANE.md):
 *   DIR/server.key   the server's X25519 secret key (base64, mode 0600)
 *   DIR/cp.db        identities, records, queued notifications (+ -wal, -shm)
 *
 * Writes happen inside a transaction the caller opens with cp_store_begin()
 * and closes with cp_store_commit(); the server batches every write of one
 * event-loop iteration into one transaction (group commit) and answers the
 * senders only after the commit returned. All functions return 0 or -errno
 * (-ENOENT: no such row, -EIO: SQLite failure, logged once).
 */
#ifndef PORTLESS_CP_STORE_H
#define PORTLESS_CP_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cp_proto.h"
#include "identity.h"

struct cp_store;

/** Identity slot states. */
enum cp_ident_state {
	CP_ID_PENDING = 0,  /**< added, waiting for enrollment */
	CP_ID_ENROLLED = 1, /**< keys published */
	CP_ID_REVOKED = 2,  /**< revoked by the operator: keys kept, every use refused */
};

/** One identity row. */
struct cp_ident {
	struct pubkeys pk; /**< handle always set; keys when enrolled */
	int state;
	uint8_t code_hash[CP_HASH_LEN];
	uint64_t code_expiry; /**< unix seconds */
	uint32_t fails;       /**< wrong codes in a row */
	uint64_t next_try;    /**< unix seconds before which codes are refused */
	uint8_t keysig[CP_SIG_LEN];
	uint64_t created;
};

/**
 * Open (create when @p create) DIR/cp.db, apply the schema and pragmas, run
 * a quick integrity check. A damaged or foreign file gives -EIO with the
 * reason in @p err.
 */
int cp_store_open(const char *dir, bool create, struct cp_store **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void cp_store_close(struct cp_store *st);

int cp_store_begin(struct cp_store *st) __attribute__((warn_unused_result));
int cp_store_commit(struct cp_store *st) __attribute__((warn_unused_result));
void cp_store_rollback(struct cp_store *st);
bool cp_store_in_txn(const struct cp_store *st);

/** True when another process committed since the last call (PRAGMA data_version). */
bool cp_store_changed(struct cp_store *st);

/** Create or re-arm a pending slot; -EEXIST when already enrolled. */
int cp_store_add_slot(struct cp_store *st, const char *handle, const uint8_t code_hash[CP_HASH_LEN],
		      uint64_t expiry, uint64_t now) __attribute__((warn_unused_result));
int cp_store_get_ident(struct cp_store *st, const char *handle, struct cp_ident *out)
    __attribute__((warn_unused_result));
/** Publish keys; the slot becomes enrolled (code hash kept to recognise reuse). */
int cp_store_enroll(struct cp_store *st, const struct pubkeys *pk, const uint8_t keysig[CP_SIG_LEN])
    __attribute__((warn_unused_result));
/** Revoke an enrolled identity (state CP_ID_REVOKED). -ENOENT when not enrolled. */
int cp_store_revoke(struct cp_store *st, const char *handle) __attribute__((warn_unused_result));

/**
 * Replace the keys of enrolled identity pk->handle, only while its signing
 * key is still @p old_sign_pk (-ENOENT otherwise).
 */
int cp_store_rotate(struct cp_store *st, const uint8_t old_sign_pk[CP_KEY_LEN],
		    const struct pubkeys *pk, const uint8_t keysig[CP_SIG_LEN])
    __attribute__((warn_unused_result));

int cp_store_set_fails(struct cp_store *st, const char *handle, uint32_t fails, uint64_t next_try)
    __attribute__((warn_unused_result));
/** Delete an identity with its records and queue; -ENOENT when absent. */
int cp_store_remove(struct cp_store *st, const char *handle) __attribute__((warn_unused_result));
/** Call @p cb for every identity (sorted by handle). */
int cp_store_list(struct cp_store *st, void (*cb)(void *arg, const struct cp_ident *id), void *arg)
    __attribute__((warn_unused_result));

/** Create/replace a record; -EDQUOT when it would be record CP_RECORDS_PER_ID+1. */
int cp_store_put_record(struct cp_store *st, const char *handle, const char *name,
			const uint8_t *data, size_t len) __attribute__((warn_unused_result));
/** Copy a record into @p out (cap >= CP_RECORD_MAX); -ENOENT when absent. */
int cp_store_get_record(struct cp_store *st, const char *handle, const char *name, uint8_t *out,
			size_t cap, size_t *len) __attribute__((warn_unused_result));
int cp_store_del_record(struct cp_store *st, const char *handle, const char *name)
    __attribute__((warn_unused_result));

/** Queue one notification under sequence number @p seq. */
int cp_store_queue_add(struct cp_store *st, uint64_t seq, const char *rcpt, const char *sender,
		       uint64_t expiry, const uint8_t *env, size_t len)
    __attribute__((warn_unused_result));
/** Remove @p rcpt's notification @p seq; its sender and size are returned. -ENOENT if absent. */
int cp_store_queue_del(struct cp_store *st, const char *rcpt, uint64_t seq, char sender[HANDLE_BUF],
		       size_t *len) __attribute__((warn_unused_result));

/** A queued notification, borrowed during the callback. */
struct cp_qitem {
	uint64_t seq, expiry;
	const char *rcpt, *sender;
	const uint8_t *env;
	size_t len;
};
/**
 * @p rcpt's notifications with seq > @p after, oldest first, unexpired at
 * @p now, until @p cb returns non-zero or @p limit rows were seen.
 */
int cp_store_queue_scan(struct cp_store *st, const char *rcpt, uint64_t after, uint64_t now,
			unsigned limit, int (*cb)(void *arg, const struct cp_qitem *it), void *arg)
    __attribute__((warn_unused_result));
/** Every queued row's (rcpt, sender, len) (env NULL): rebuilds counters at start-up. */
int cp_store_queue_all(struct cp_store *st, void (*cb)(void *arg, const struct cp_qitem *it),
		       void *arg) __attribute__((warn_unused_result));
/** Delete rows expired at @p now, calling @p cb for each (env NULL) first. */
int cp_store_queue_expire(struct cp_store *st, uint64_t now,
			  void (*cb)(void *arg, const struct cp_qitem *it), void *arg)
    __attribute__((warn_unused_result));
/** Highest sequence number ever stored (0 when none). */
uint64_t cp_store_max_seq(struct cp_store *st);

/**
 * Create DIR (0700) and DIR/server.key if absent (-EEXIST when it exists)
 * and the database; @p pk gets the server's public key.
 */
int cp_data_init(const char *dir, uint8_t pk[CP_KEY_LEN], char *err, size_t errlen)
    __attribute__((warn_unused_result));
/** Load DIR/server.key (refuses a group/world-readable file). */
int cp_data_load_key(const char *dir, uint8_t sk[CP_KEY_LEN], uint8_t pk[CP_KEY_LEN], char *err,
		     size_t errlen) __attribute__((warn_unused_result));

#endif
