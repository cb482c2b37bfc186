/* SPDX-License-Identifier: MIT */
/**
 * @file cp_pin.h  Pin other identities' public keys on first use.
 *
 * "<keydir>/known_identities" (mode 0600), one line per identity:
 *   @handle <sign_pk base64> <box_pk base64>
 *   @handle revoked
 * The first verified keys seen for a handle are appended; later keys must
 * match or are refused (CP_E_KEY_CHANGED, logged loudly with both
 * fingerprints) unless they come with a rotation proof signed by the pinned
 * key (cp_rot.h): then the pin moves to the new keys. A "revoked" line
 * (anywhere in the file) refuses the handle for good (CP_E_REVOKED). To
 * accept an unproven change, delete the line.
 *
 * A local policy (struct cp_pin_policy) may narrow this: keys must have
 * the fingerprint it expects, and an identity it does not name is not
 * pinned on first use at all.
 */
#ifndef PORTLESS_CP_PIN_H
#define PORTLESS_CP_PIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "identity.h"

/** What the pins say of keys offered for a handle (cp_pin_judge()). */
enum cp_pin_verdict {
	CP_PIN_SAME,    /**< the pinned keys: accept */
	CP_PIN_NEW,     /**< nothing pinned yet: accept and pin (first use) */
	CP_PIN_ROTATED, /**< other keys, proven by the pinned key: accept and re-pin */
	CP_PIN_CHANGED, /**< other keys without a valid proof: refuse */
	CP_PIN_REVOKED, /**< the handle is revoked: refuse, whatever the keys */
};

/**
 * Decide, without I/O, what to do with keys @p pk offered for a handle
 * whose pin is @p pinned (NULL: none) and that is @p revoked or not, given
 * the rotation proof that came with them (@p proof_len 0: none). This is
 * the decision cp_pin_check_rot() carries out on the pin file.
 */
enum cp_pin_verdict cp_pin_judge(const struct pubkeys *pinned, bool revoked,
				 const struct pubkeys *pk, const uint8_t *proof, size_t proof_len)
    __attribute__((warn_unused_result));

/**
 * Check @p pk against the pin file in @p keydir, pinning it when new.
 * @p keydir NULL: no pinning (CP_OK). Returns CP_OK, CP_E_KEY_CHANGED,
 * CP_E_REVOKED or CP_E_CONFIG (unreadable/unwritable or malformed file).
 */
int cp_pin_check(const char *keydir, const struct pubkeys *pk) __attribute__((warn_unused_result));

/**
 * Like cp_pin_check(), with the rotation proof the home sent along with
 * the keys (@p proof_len 0: none). A valid proof by the pinned signing key
 * naming exactly @p pk replaces the pin (file rewritten atomically).
 */
int cp_pin_check_rot(const char *keydir, const struct pubkeys *pk, const uint8_t *proof,
		     size_t proof_len) __attribute__((warn_unused_result));

/** What a local policy says of an identity before its keys are judged by the pins. */
struct cp_pin_policy {
	/** Nobody asked for this identity: keys already pinned are judged as usual, but
	 * keys not pinned yet are refused (CP_E_UNKNOWN_IDENTITY) and nothing is written. */
	bool no_first_use;
	/** NULL: any keys; else the identity_fingerprint() text ("pl:xxxx-...", any case)
	 * the keys must have, or they are refused (CP_E_KEY_CHANGED) and not pinned. */
	const char *expect_fpr;
};

/**
 * cp_pin_check_rot() under policy @p pol (NULL: none, exactly
 * cp_pin_check_rot()). A refusal is logged once and, when @p why is not
 * NULL, described in it (@p whylen bytes): for a fingerprint mismatch,
 * naming the expected fingerprint and the one the keys show.
 */
int cp_pin_check_policy(const char *keydir, const struct pubkeys *pk, const uint8_t *proof,
			size_t proof_len, const struct cp_pin_policy *pol, char *why, size_t whylen)
    __attribute__((warn_unused_result));

/** Mark @p handle revoked in @p keydir's pin file (idempotent). 0 or -errno. */
int cp_pin_revoke(const char *keydir, const char *handle) __attribute__((warn_unused_result));

#endif
