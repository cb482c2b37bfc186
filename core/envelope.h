/* SPDX-License-Identifier: MIT */
/**
 * @file envelope.h  Signed, then sealed, notifications (the control plane payload).
 *
 * Inner (what is signed): the canonical binary encoding of
 *   version, from, to, type, id, expiry, payload
 * signed with the sender's Ed25519 key. The inner bytes + signature are then
 * encrypted to the recipient's X25519 key with crypto_box_seal (a fresh
 * ephemeral key per envelope). Outer (what a home sees): version, from, to
 * and the sealed box. Byte layout: docs/PROTOCOL.md, "Envelope".
 */
#ifndef PORTLESS_ENVELOPE_H
#define PORTLESS_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "identity.h"

enum {
	ENVELOPE_VERSION = 1,
	ENVELOPE_ID_LEN = 16,
	ENVELOPE_MAX_PAYLOAD = 60 * 1024,
	/** inner overhead: version..expiry headers + payload length + signature */
	ENVELOPE_INNER_OVERHEAD = 1 + 2 * (1 + HANDLE_MAX) + 2 + ENVELOPE_ID_LEN + 8 + 4 + 64,
	ENVELOPE_SEAL_OVERHEAD = 48, /**< crypto_box_SEALBYTES */
	ENVELOPE_OUTER_OVERHEAD = 1 + 2 * (1 + HANDLE_MAX) + 4,
	ENVELOPE_MAX = ENVELOPE_OUTER_OVERHEAD + ENVELOPE_SEAL_OVERHEAD + ENVELOPE_INNER_OVERHEAD +
		       ENVELOPE_MAX_PAYLOAD,
	ENVELOPE_LIFE_MAX = 86400, /**< s an envelope may live (the home's CP_EXPIRY_MAX) */
	ENVELOPE_SKEW = 300,       /**< s of sender clock skew tolerated (CP_CLOCK_SKEW) */
	/** a recipient refuses an expiry later than now + this (ENV_E_EXPIRY_FAR) */
	ENVELOPE_EXPIRY_AHEAD = ENVELOPE_LIFE_MAX + ENVELOPE_SKEW,
};

/** Errors from envelope_open()/envelope_peek(); each is negative. */
enum envelope_err {
	ENV_OK = 0,
	ENV_E_FORMAT = -1,        /**< malformed bytes */
	ENV_E_VERSION = -2,       /**< unknown version */
	ENV_E_NOT_FOR_ME = -3,    /**< addressed to another handle */
	ENV_E_DECRYPT = -4,       /**< sealed box does not open with my key */
	ENV_E_SENDER = -5,        /**< sender's key does not match the claimed sender */
	ENV_E_SIGNATURE = -6,     /**< signature invalid */
	ENV_E_EXPIRED = -7,       /**< expiry in the past */
	ENV_E_TOO_BIG = -8,       /**< over ENVELOPE_MAX / payload cap */
	ENV_E_MISMATCH = -9,      /**< inner from/to differ from outer */
	ENV_E_REPLAY = -10,       /**< (from, id) already seen (replay cache) */
	ENV_E_ARG = -11,          /**< bad argument when sealing */
	ENV_E_EXPIRY_FAR = -12,   /**< expiry more than ENVELOPE_EXPIRY_AHEAD s ahead */
	ENV_E_REPLAY_FULL = -13,  /**< replay cache: the sender's quota (or the cache) is full */
	ENV_E_REPLAY_STORE = -14, /**< replay cache: its file cannot be read or written */
};

/** Human-readable message for an envelope_err. */
const char *envelope_strerror(int err);

/** What an opened envelope said. The payload points into caller's buffer. */
struct envelope {
	char from[HANDLE_BUF];
	char to[HANDLE_BUF];
	uint16_t type;
	uint8_t id[ENVELOPE_ID_LEN];
	uint64_t expiry; /**< unix seconds */
	const uint8_t *payload;
	size_t payload_len;
};

/**
 * Sign and seal. @p out gets at most ENVELOPE_MAX bytes. Returns ENV_OK or
 * ENV_E_ARG/ENV_E_TOO_BIG. Consumes nothing; secrets on the stack are wiped.
 */
int envelope_seal(const struct identity *from, const struct pubkeys *to, uint16_t type,
		  const uint8_t id[ENVELOPE_ID_LEN], uint64_t expiry, const uint8_t *payload,
		  size_t payload_len, uint8_t *out, size_t outcap, size_t *outlen)
    __attribute__((warn_unused_result));

/**
 * Read the outer from/to without opening (what a home and a recipient need
 * before they have the sender's key). Returns ENV_OK or an error.
 */
int envelope_peek(const uint8_t *in, size_t len, char from[HANDLE_BUF], char to[HANDLE_BUF])
    __attribute__((warn_unused_result));

/**
 * Open and verify: addressed to @p me, decrypts, signed by @p sender (whose
 * handle must match the envelope's from), inner from/to match the outer
 * ones, not expired at @p now and expiring at most ENVELOPE_EXPIRY_AHEAD
 * seconds after it (else ENV_E_EXPIRY_FAR: a signed far expiry would
 * outlive every replay cache), within size limits. The plaintext is written
 * into @p work (at least @p len bytes) and @p env->payload points into it.
 * The caller wipes @p work when done with the payload.
 */
int envelope_open(const struct identity *me, const struct pubkeys *sender, const uint8_t *in,
		  size_t len, uint64_t now, uint8_t *work, size_t workcap, struct envelope *env)
    __attribute__((warn_unused_result));

/**
 * Is @p expiry acceptable at @p now: ENV_OK, ENV_E_EXPIRED (before @p now)
 * or ENV_E_EXPIRY_FAR (more than ENVELOPE_EXPIRY_AHEAD s after it).
 */
int envelope_check_expiry(uint64_t expiry, uint64_t now) __attribute__((warn_unused_result));

/**
 * Decrypt with @p me's key and decode the inner envelope WITHOUT the
 * sender's key: nothing in @p env is authenticated yet (the signature is
 * not checked), only addressed to @p me with inner from/to equal to the
 * outer ones. For a policy decision on (from, type) before fetching the
 * sender's keys; envelope_open() must still accept the same bytes before
 * anything is acted upon (its signature covers from and type). The
 * plaintext goes to @p work as for envelope_open(); the caller wipes it.
 */
int envelope_peek_inner(const struct identity *me, const uint8_t *in, size_t len, uint8_t *work,
			size_t workcap, struct envelope *env) __attribute__((warn_unused_result));

/**
 * A bounded in-memory cache of (from, id) pairs seen until their expiry.
 * When full it evicts the entry nearest to expiry, whoever sent it, and it
 * is lost on exit: a recipient facing untrusted senders uses cp_replay.h
 * instead (per-sender quotas, persistent), as cp_client does.
 */
struct replay_cache;

/** Cache for at most @p capacity live entries; NULL on ENOMEM. */
struct replay_cache *replay_cache_new(size_t capacity);
void replay_cache_free(struct replay_cache *rc);

/**
 * Record (from, id) valid until @p expiry. Returns ENV_OK when new,
 * ENV_E_REPLAY when already present and unexpired. When full, expired
 * entries are evicted first, then the entry nearest to expiry.
 */
int replay_cache_add(struct replay_cache *rc, const char *from, const uint8_t id[ENVELOPE_ID_LEN],
		     uint64_t expiry, uint64_t now) __attribute__((warn_unused_result));

#endif
