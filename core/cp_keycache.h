/* SPDX-License-Identifier: MIT */
/**
 * @file cp_keycache.h  The control-plane client's cache of other identities' keys.
 *
 * I/O-free: the clock is passed in, fetching keys is the caller's job and
 * pinning goes through a callback (cp_client: cp_pin_check_rot() on its key
 * directory). An entry holds verified, pinned keys for cfg.ttl seconds, or
 * the error of the last failed fetch for cfg.neg_ttl seconds. While a fetch
 * is in flight its entry is neither usable nor evicted nor expired. When the
 * cache is full, the oldest-inserted entry not in flight gives way to a new
 * one. Our own keys are always a hit and never fetched.
 */
#ifndef PORTLESS_CP_KEYCACHE_H
#define PORTLESS_CP_KEYCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cp_proto.h"
#include "identity.h"

struct cp_keycache;

enum {
	CP_KEY_WHY_BUF = 256, /**< room for a refusal's text (both fingerprints and the handle) */
};

/** A cached identity: its keys, or why they could not be had. */
struct cp_key {
	struct pubkeys pk;        /**< pk.handle always set; the keys when err is CP_OK */
	int err;                  /**< CP_OK or the typed error of the last fetch */
	char why[CP_KEY_WHY_BUF]; /**< with err: the pin check's own text, or "" */
};

/**
 * Check verified keys @p pk against the pins (and pin them on first use),
 * with the rotation proof the home sent (@p proof_len 0: none). Returns
 * CP_OK or a typed error (CP_E_KEY_CHANGED, CP_E_REVOKED, CP_E_CONFIG,
 * ...); with an error it may say why in @p why (@p whylen bytes, "" on
 * entry), which the entry keeps.
 */
typedef int (*cp_keycache_pin_fn)(void *arg, const struct pubkeys *pk, const uint8_t *proof,
				  size_t proof_len, char *why, size_t whylen);

/** Cache configuration; @p self is borrowed and must outlive the cache. */
struct cp_keycache_cfg {
	unsigned max;               /**< entries at most (>= 1) */
	double ttl;                 /**< s fetched keys stay usable */
	double neg_ttl;             /**< s a failed fetch is remembered */
	const struct pubkeys *self; /**< our own keys: always a hit */
	cp_keycache_pin_fn pin;     /**< NULL: keys are not pinned */
	void *pin_arg;              /**< passed to pin */
};

/** Result of cp_keycache_lookup(). */
enum cp_keycache_res {
	CP_KC_HIT,   /**< *out is usable: keys (err CP_OK) or a recent failure */
	CP_KC_WAIT,  /**< a fetch is in flight: wait for its answer */
	CP_KC_FETCH, /**< nothing usable: the entry is now in flight, the caller fetches */
	CP_KC_NOMEM, /**< no entry could be made */
};

/** A new empty cache; NULL on a bad config (max 0, no self) or ENOMEM. */
struct cp_keycache *cp_keycache_new(const struct cp_keycache_cfg *cfg);

/** Free the cache and every entry. NULL: no-op. */
void cp_keycache_free(struct cp_keycache *kc);

/**
 * What the cache has for @p handle at time @p now. On CP_KC_HIT *out points
 * at the entry (valid until the next lookup of another handle or expire);
 * on CP_KC_FETCH the caller must end the fetch it starts with
 * cp_keycache_answer() or cp_keycache_fail().
 */
enum cp_keycache_res cp_keycache_lookup(struct cp_keycache *kc, const char *handle, double now,
					const struct cp_key **out)
    __attribute__((warn_unused_result));

/**
 * End @p handle's fetch with a failure: the entry remembers @p err from
 * @p now for neg_ttl seconds. Returns the entry (NULL when not cached).
 */
const struct cp_key *cp_keycache_fail(struct cp_keycache *kc, const char *handle, int err,
				      double now);

/**
 * End @p handle's fetch with the keys the home @p offered: they must be for
 * @p handle and carry a valid self-signature @p keysig (else CP_E_BAD_KEYS),
 * then pass the pin callback with @p proof. Returns the entry's new error:
 * CP_OK when the keys are now cached, or why they were refused.
 */
int cp_keycache_answer(struct cp_keycache *kc, const char *handle, const struct pubkeys *offered,
		       const uint8_t keysig[CP_SIG_LEN], const uint8_t *proof, size_t proof_len,
		       double now);

/**
 * Forget @p handle's keys (or failure) so that its next lookup fetches and
 * checks the pins again (e.g. after a local revocation). An entry whose
 * fetch is in flight stays: its answer is checked against the pins as they
 * are then. True when an entry was dropped.
 */
bool cp_keycache_forget(struct cp_keycache *kc, const char *handle);

/** Drop every entry not in flight that is no longer usable at @p now; returns how many. */
unsigned cp_keycache_expire(struct cp_keycache *kc, double now);

/**
 * Call @p fn with the handle of every entry not in flight that holds an
 * error (waiters to fail after a lost connection). @p fn may look handles
 * up (nothing is evicted during the walk), but not expire or free.
 */
void cp_keycache_each_failed(struct cp_keycache *kc, void (*fn)(void *arg, const char *handle),
			     void *arg);

/** Number of entries. */
unsigned cp_keycache_count(const struct cp_keycache *kc);

#endif
