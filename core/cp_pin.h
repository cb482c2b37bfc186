/* SPDX-License-Identifier: MIT */
/**
 * @file cp_pin.h  Pin other identities' public keys on first use.
 *
 * "<keydir>/known_identities" (mode 0600), one line per identity:
 *   @handle <sign_pk base64> <box_pk base64>
 * The first verified keys seen for a handle are appended; later keys must
 * match or are refused (CP_E_KEY_CHANGED, logged loudly with both
 * fingerprints). To accept a legitimate change, delete the line.
 */
#ifndef PORTLESS_CP_PIN_H
#define PORTLESS_CP_PIN_H

#include "identity.h"

/**
 * Check @p pk against the pin file in @p keydir, pinning it when new.
 * @p keydir NULL: no pinning (CP_OK). Returns CP_OK, CP_E_KEY_CHANGED or
 * CP_E_CONFIG (unreadable/unwritable or malformed file).
 */
int cp_pin_check(const char *keydir, const struct pubkeys *pk)
	__attribute__((warn_unused_result));

#endif
