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
 */
#ifndef PORTLESS_CP_PIN_H
#define PORTLESS_CP_PIN_H

#include <stddef.h>
#include <stdint.h>

#include "identity.h"

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

/** Mark @p handle revoked in @p keydir's pin file (idempotent). 0 or -errno. */
int cp_pin_revoke(const char *keydir, const char *handle) __attribute__((warn_unused_result));

#endif
