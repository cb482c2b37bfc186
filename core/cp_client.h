/* SPDX-License-Identifier: MIT */
/**
 * @file cp_client.h  Asynchronous (libev) control-plane client.
 *
 * One cp_client = one identity talking to its home server over one
 * encrypted, authenticated connection (docs/PROTOCOL.md, "Control plane").
 * The connection is opened on demand by the first request, or kept up for
 * good by cp_client_monitor() (automatic reconnect with capped exponential
 * back-off and jitter). Requests made while disconnected wait (bounded) for
 * the connection; every request completes exactly once, with CP_OK or a
 * typed error (enum cp_err, cp_strerror()), after at most
 * CP_CLIENT_REQ_TIMEOUT seconds.
 *
 * Other identities' public keys are fetched from their home, verified
 * (self-signature), pinned on first use in "<keydir>/known_identities" and
 * cached in memory for CP_CLIENT_KEY_TTL seconds. A key that differs from
 * the pinned one is refused (CP_E_KEY_CHANGED) and logged loudly. The
 * home pushes CP_T_REVOKED when an identity whose keys were fetched on this
 * connection is revoked: its keys are dropped, on_revoked is called. All
 * cached keys are dropped when the connection goes down (a revocation while
 * we are away could not reach us): the next fetch asks the home again, which
 * answers CP_E_REVOKED for a revoked identity.
 *
 * A key_policy hook narrows the pinning: an identity it does not name is
 * not pinned on first use, and keys without the fingerprint it expects are
 * refused. cp_client_forget() drops cached keys (a local revocation then
 * takes effect at once).
 *
 * Incoming notifications pass the sender_allowed hook first (before the
 * sender's keys are fetched), are then opened (decrypted, signature, expiry
 * (at most ENVELOPE_EXPIRY_AHEAD s ahead) and recipient checked against the
 * sender's keys), de-duplicated with the replay cache (cp_replay.h: per
 * sender bounded, in "<keydir>/replay.db" so it survives a restart), handed
 * to on_notification, and acknowledged to the home after the callback
 * returns: at-least-once on the wire, exactly-once to the caller within the
 * envelopes' lifetime (a sender over its replay quota has its envelopes
 * dropped instead, never another's entries evicted).
 *
 * All callbacks run on the loop. Any callback may call cp_client_free().
 */
#ifndef PORTLESS_CP_CLIENT_H
#define PORTLESS_CP_CLIENT_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cp_proto.h"
#include "envelope.h"
#include "identity.h"

enum {
	CP_CLIENT_REQ_TIMEOUT = 15,   /**< seconds a request may take (incl. waiting to connect) */
	CP_CLIENT_KEY_TTL = 300,      /**< seconds fetched keys stay cached in memory */
	CP_CLIENT_MAX_PENDING = 4096, /**< requests queued or in flight per client */
	CP_CLIENT_PING = 60,          /**< keepalive interval of a monitor connection (s) */
	CP_CLIENT_REPLAY = 65536,     /**< replay-cache entries (unexpired) in all */
	CP_CLIENT_REPLAY_PER_SENDER = 1024, /**< replay-cache entries (unexpired) of one sender */
};

struct cp_client;

/** Connection state changes: up (authenticated) or down with the reason. */
typedef void (*cp_state_cb)(void *arg, bool up, int err, const char *msg);
/** A verified notification for us; @p env and its payload are valid during the call only. */
typedef void (*cp_notify_cb)(void *arg, const struct envelope *env);
/**
 * The home told us @p handle was revoked. Called once per revocation, after
 * its cached keys were dropped: fetching them fails with CP_E_REVOKED from
 * then on. The handle is valid during the call only.
 */
typedef void (*cp_revoked_cb)(void *arg, const char *handle);
/** Completion of a request without a result. @p msg: server's message or cp_strerror(). */
typedef void (*cp_done_cb)(void *arg, int err, const char *msg);
/** Completion of cp_client_get_keys(); @p pk valid during the call only (NULL on error). */
typedef void (*cp_keys_cb)(void *arg, int err, const struct pubkeys *pk);
/** Completion of cp_client_get_record(); @p data valid during the call only. */
typedef void (*cp_record_cb)(void *arg, int err, const uint8_t *data, size_t len);
/** Completion of cp_client_lookup(). */
typedef void (*cp_lookup_cb)(void *arg, int err, const char *hostport,
			     const uint8_t server_pk[CP_KEY_LEN]);

/**
 * May a pushed notification of @p type from @p from be processed at all?
 * Asked before the sender's keys are fetched or pinned and before the
 * replay cache sees it; @p from and @p type are read from the decrypted
 * envelope but not yet authenticated (the signature checked afterwards
 * covers both, so nothing unverified is ever acted on). false: the
 * notification is dropped, acknowledged and logged at debug level.
 */
typedef bool (*cp_sender_allowed_fn)(void *arg, const char *from, uint16_t type);

/**
 * What the local policy says of identity @p handle whose keys were just
 * fetched: 0 when it may be pinned on first use, and then, if the policy
 * names the keys it expects, their fingerprint (the identity_fingerprint()
 * text `portless whoami` shows, "pl:xxxx-...") in @p expect_fpr with
 * *@p have_fpr true (keys without it are refused, CP_E_KEY_CHANGED, and
 * not pinned). -EPERM when nobody asked for this identity: keys not pinned
 * yet are refused (CP_E_UNKNOWN_IDENTITY) and nothing is written to the pin
 * file (any other error counts as -EPERM). Called on the loop; it must not
 * call back into the client.
 */
typedef int (*cp_key_policy_fn)(void *arg, const char *handle, char expect_fpr[ID_FPR_BUF],
				bool *have_fpr);

/** Client configuration. Strings and the identity are borrowed and must outlive the client. */
struct cp_client_cfg {
	const char *server;            /**< "host:port" of the home server (numeric host) */
	uint8_t server_pk[CP_KEY_LEN]; /**< pinned server X25519 public key */
	const struct identity *id;     /**< our identity (borrowed) */
	const char
	    *keydir; /**< key directory for known_identities pins; NULL: no pinning on disk */
	cp_state_cb on_state;                /**< optional */
	cp_notify_cb on_notification;        /**< needed for cp_client_monitor() */
	cp_revoked_cb on_revoked;            /**< optional: a fetched identity was revoked */
	cp_sender_allowed_fn sender_allowed; /**< optional; NULL: every sender allowed */
	cp_key_policy_fn key_policy;         /**< optional; NULL: pin any identity on first use */
	void *arg; /**< passed to on_state, on_notification, on_revoked and the two hooks */
	/* filled by cp_client_cfg_load(); leave zero otherwise */
	char server_buf[CP_HOSTPORT_BUF];
	char keydir_buf[4096];
	struct identity *owned_id; /**< freed by cp_client_cfg_release() */
};

/**
 * Create a client on @p loop. Does not connect yet (see cp_client_monitor
 * and the requests). NULL on bad config or ENOMEM.
 */
struct cp_client *cp_client_new(struct ev_loop *loop, const struct cp_client_cfg *cfg);

/**
 * Destroy: closes the connection, wipes keys, completes nothing further
 * (pending callbacks are dropped silently). Safe from inside any callback
 * of this client (the memory is released at a safe point). NULL: no-op.
 */
void cp_client_free(struct cp_client *c);

/**
 * Keep the connection up for good and receive pushed notifications on
 * cfg->on_notification. Reconnects with net_backoff(attempt, 0.5, 30) s.
 * Loads the replay cache ("<keydir>/replay.db"; memory only without a key
 * directory). Returns 0, -EINVAL when no on_notification callback was
 * configured, or -errno when the replay cache file cannot be opened
 * (logged with its path).
 */
int cp_client_monitor(struct cp_client *c) __attribute__((warn_unused_result));

/** True when the connection is up and authenticated. */
bool cp_client_is_up(const struct cp_client *c);

/**
 * Drop the cached keys (or cached failure) of @p handle: its next use
 * fetches them again and checks them against the pin file as it is then
 * (so a `portless revoke` done meanwhile takes effect at once). A fetch
 * already in flight is left alone: its answer is checked the same way.
 */
void cp_client_forget(struct cp_client *c, const char *handle);

/**
 * Send a notification: fetch @p to's keys (cache/pin), seal an envelope of
 * @p type with @p payload (<= ENVELOPE_MAX_PAYLOAD) expiring in @p ttl_s
 * seconds (1..CP_EXPIRY_MAX), send it, and call @p cb when the recipient's
 * home has committed it (CP_OK) or with the typed error (CP_E_UNKNOWN_IDENTITY,
 * CP_E_QUEUE_FULL, CP_E_QUOTA, ...). On CP_OK the message is NULL when the
 * recipient was connected (the notification was pushed at once), or
 * cp_msg_offline (compare the pointer) when it waits in the recipient's
 * queue for it to connect. The payload is copied if needed.
 * Returns 0, or -errno when the request could not even be queued (then
 * @p cb is not called).
 */
/** The CP_OK message of a notification queued for a recipient that is not connected. */
extern const char cp_msg_offline[];

int cp_client_notify(struct cp_client *c, const char *to, uint16_t type, const uint8_t *payload,
		     size_t len, uint32_t ttl_s, cp_done_cb cb, void *arg)
    __attribute__((warn_unused_result));

/**
 * Send an already sealed envelope as is (its outer from must be us; the
 * home refuses it otherwise with CP_E_FORGED_SENDER). For tools and tests.
 */
int cp_client_send_envelope(struct cp_client *c, const uint8_t *env, size_t len, uint64_t expiry,
			    cp_done_cb cb, void *arg) __attribute__((warn_unused_result));

/** Fetch (cache, verify, pin) an identity's public keys. */
int cp_client_get_keys(struct cp_client *c, const char *handle, cp_keys_cb cb, void *arg)
    __attribute__((warn_unused_result));

/** Directory lookup: where @p handle's home is and that server's key. */
int cp_client_lookup(struct cp_client *c, const char *handle, cp_lookup_cb cb, void *arg)
    __attribute__((warn_unused_result));

/**
 * Publish (create or replace) our public record @p name ([a-z0-9._-]{1,32})
 * with @p len <= CP_RECORD_MAX bytes; at most CP_RECORDS_PER_ID records.
 */
int cp_client_put_record(struct cp_client *c, const char *name, const uint8_t *data, size_t len,
			 cp_done_cb cb, void *arg) __attribute__((warn_unused_result));

/** Read identity @p handle's public record @p name (CP_E_NOT_FOUND if absent). */
int cp_client_get_record(struct cp_client *c, const char *handle, const char *name, cp_record_cb cb,
			 void *arg) __attribute__((warn_unused_result));

/**
 * Replace our keys at our home (CP_T_ROTATE): @p keysig is the new keys'
 * self-signature (cp_keys_sign with the new identity), @p proof the
 * rotation proof signed by the current key (cp_rot_make). The connection
 * stays authenticated; reconnecting needs the new key.
 */
int cp_client_rotate(struct cp_client *c, const uint8_t keysig[CP_SIG_LEN], const uint8_t *proof,
		     size_t proof_len, cp_done_cb cb, void *arg)
    __attribute__((warn_unused_result));

/** Delete our public record @p name (CP_E_NOT_FOUND if absent). */
int cp_client_del_record(struct cp_client *c, const char *name, cp_done_cb cb, void *arg)
    __attribute__((warn_unused_result));

/**
 * Enrollment (used by `portless enroll`): connect, prove @p code, publish
 * @p cfg->id's signed public keys. @p cb gets CP_OK, CP_E_CODE_INVALID,
 * CP_E_CODE_EXPIRED, CP_E_CODE_USED, CP_E_RATE_LIMITED, CP_E_SERVER_KEY...
 * Must be the client's first request.
 */
int cp_client_enroll(struct cp_client *c, const char *code, cp_done_cb cb, void *arg)
    __attribute__((warn_unused_result));

/**
 * Load "<keydir>/identity.key" and "<keydir>/cp.conf" (see
 * docs/CONTROL-PLANE.md) into @p cfg (zeroed first; callbacks are left for
 * the caller to set). @p keydir NULL: the default key directory. The
 * identity is owned by @p cfg: release it with cp_client_cfg_release().
 * Returns 0 or -errno with a one-line reason in @p err.
 */
int cp_client_cfg_load(const char *keydir, struct cp_client_cfg *cfg, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/** Free what cp_client_cfg_load() allocated (the identity). */
void cp_client_cfg_release(struct cp_client_cfg *cfg);

/**
 * Write "<keydir>/cp.conf" (mode 0600, atomically) with the server address
 * and pinned server key. Used by `portless enroll`.
 */
int cp_conf_save(const char *keydir, const char *server, const uint8_t server_pk[CP_KEY_LEN],
		 char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
