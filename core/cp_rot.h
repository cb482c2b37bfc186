/* SPDX-License-Identifier: MIT */
/**
 * @file cp_rot.h  Key rotation proofs (I/O-free).
 *
 * When an identity rotates its keys, its OLD signing key signs the new public
 * keys. The home keeps the latest proof and hands it out with the keys
 * (CP_T_R_KEYS), so a peer that pinned the old keys can follow the change
 * without asking anyone: it accepts the new keys only when the proof names
 * exactly its pinned signing key and the offered new keys, and verifies.
 *
 * Layout (all of it public):
 *   u8 version (1) | str8 handle | old_sign_pk[32] | new_sign_pk[32] |
 *   new_box_pk[32] | u64 time (unix seconds) | sig[64]
 * sig = Ed25519(old key, "portless-rotate v1\0" | everything before sig).
 */
#ifndef PORTLESS_CP_ROT_H
#define PORTLESS_CP_ROT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cp_proto.h"
#include "identity.h"

enum {
	CP_ROT_VERSION = 1,
	CP_ROT_MAX =
	    1 + 1 + HANDLE_MAX + 3 * CP_KEY_LEN + 8 + CP_SIG_LEN, /**< encoded size bound */
};

/** Record name under which the home keeps an identity's latest rotation proof. */
#define CP_ROT_RECORD "portless.rotation"

/** A rotation statement: @c handle moves from old_sign_pk to (new_sign_pk, new_box_pk). */
struct cp_rot {
	char handle[HANDLE_BUF];
	uint8_t old_sign_pk[CP_KEY_LEN];
	uint8_t new_sign_pk[CP_KEY_LEN];
	uint8_t new_box_pk[CP_KEY_LEN];
	uint64_t time;
	uint8_t sig[CP_SIG_LEN];
};

/**
 * Make and sign the proof that @p old_id (the current key) hands its handle
 * to @p new_pk. Writes the encoding into @p out (@p cap >= CP_ROT_MAX).
 * Returns the length or -EINVAL (handles differ) / -ENOBUFS.
 */
int cp_rot_make(const struct identity *old_id, const struct pubkeys *new_pk, uint64_t now,
		uint8_t *out, size_t cap) __attribute__((warn_unused_result));

/** Decode (strict: every byte used, valid handle). 0 or -EBADMSG. */
int cp_rot_decode(const uint8_t *in, size_t len, struct cp_rot *out)
    __attribute__((warn_unused_result));

/**
 * True when @p proof (encoded) is a valid statement by the key @p old_sign_pk
 * that @p new_pk (same handle) replaces it.
 */
bool cp_rot_verify(const uint8_t *proof, size_t len, const uint8_t old_sign_pk[CP_KEY_LEN],
		   const struct pubkeys *new_pk);

#endif
