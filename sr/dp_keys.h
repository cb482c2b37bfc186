/* SPDX-License-Identifier: MIT */
/**
 * @file dp_keys.h  Data-plane key agreement: ephemeral X25519 + session transcript -> direction keys.
 *
 * I/O-free. Each side makes an ephemeral key pair (dp_keypair_new), sends
 * the public half inside its signed control-plane envelope (session request
 * / answer), and both call dp_derive() with the same transcript:
 *
 *   shared = X25519(my_sk, peer_pk)                     (all-zero rejected)
 *   th     = BLAKE2b-256("portless-dp-v1" || session_id || str8 handle_a ||
 *                        str8 handle_b || pk_a || pk_b || aead u8)
 *   prk    = BLAKE2b-256(key = shared, th)
 *   k_ab   = crypto_kdf_derive_from_key(32, 1, "pl-dp-v1", prk)   A -> B
 *   k_ba   = crypto_kdf_derive_from_key(32, 2, "pl-dp-v1", prk)   B -> A
 *   chain  = crypto_kdf_derive_from_key(32, 3, "pl-dp-v1", prk)   rekey input
 *
 * Rekeying (in band, see dp_seal.h) uses dp_derive_rekey(): the same with
 * th = BLAKE2b-256("portless-dp-rekey-v1" || chain || epoch u32 || pk_a || pk_b).
 * Side A is the session's requester (client), side B the device.
 */
#ifndef PORTLESS_DP_KEYS_H
#define PORTLESS_DP_KEYS_H

#include <stdint.h>

#include "sr_proto.h"

/** AEAD algorithms (ids on the wire, in the session request/answer). */
enum dp_aead {
	DP_AEAD_CHACHA20POLY1305 = 1, /**< ChaCha20-Poly1305 IETF */
	DP_AEAD_AES256GCM = 2,        /**< AES-256-GCM (only where the CPU has AES-NI + PCLMUL) */
};

enum {
	DP_KEY_LEN = 32,
	DP_PK_LEN = 32,
	DP_SK_LEN = 32,
};

/** Bit mask (1 << enum dp_aead) of what this machine can run. */
unsigned dp_aead_supported(void);

/**
 * Pick the AEAD for a session from both sides' masks: AES-256-GCM when both
 * support it, else ChaCha20-Poly1305. Returns the id or -ENOTSUP.
 */
int dp_aead_choose(unsigned mine, unsigned peer);

/** Name for logs ("aes256gcm", "chacha20poly1305", "?"). */
const char *dp_aead_name(int aead);

/** Ephemeral X25519 key pair. Wipe with dp_keypair_wipe(). */
struct dp_keypair {
	uint8_t pk[DP_PK_LEN];
	uint8_t sk[DP_SK_LEN];
};

/** Fresh ephemeral key pair. Returns 0. */
int dp_keypair_new(struct dp_keypair *kp);
void dp_keypair_wipe(struct dp_keypair *kp);

/** What both sides must agree on; public values only. */
struct dp_transcript {
	uint8_t session_id[SR_SID_LEN];
	const char *handle_a; /**< requester (client) handle, "@name" */
	const char *handle_b; /**< device handle */
	uint8_t pk_a[DP_PK_LEN];
	uint8_t pk_b[DP_PK_LEN];
	uint8_t aead; /**< enum dp_aead */
};

/** Derived direction keys for one side. Wipe with dp_keys_wipe(). */
struct dp_keys {
	uint8_t aead; /**< enum dp_aead */
	uint8_t side; /**< enum sr_side these keys are for */
	uint8_t tx[DP_KEY_LEN];
	uint8_t rx[DP_KEY_LEN];
	uint8_t chain[DP_KEY_LEN];
};

/**
 * Derive @p side's keys from its ephemeral pair @p mine and the transcript.
 * @p mine->pk must equal the transcript's key of @p side. Returns 0,
 * -EINVAL (bad argument, unknown AEAD, my key not in the transcript) or
 * -EPROTO (low-order peer key). Temporaries are wiped.
 */
int dp_derive(const struct dp_keypair *mine, int side, const struct dp_transcript *t,
	      struct dp_keys *out) __attribute__((warn_unused_result));

/**
 * Rekey: new keys from the old chain key, the epoch and a fresh exchange.
 * @p pk_a / @p pk_b are the new ephemeral keys of sides A and B.
 */
int dp_derive_rekey(const uint8_t chain[DP_KEY_LEN], uint32_t epoch, const struct dp_keypair *mine,
		    int side, const uint8_t pk_a[DP_PK_LEN], const uint8_t pk_b[DP_PK_LEN],
		    uint8_t aead, struct dp_keys *out) __attribute__((warn_unused_result));

void dp_keys_wipe(struct dp_keys *k);

#endif
