/* SPDX-License-Identifier: MIT */
/**
 * @file cp_hs.h  Control-plane handshake and identity authentication (I/O-free).
 *
 * Transport (client knows the server's static X25519 key S):
 *   C->S  "PLCP" | 0x01 | e_c              (client ephemeral)
 *   S->C  e_s                              (server ephemeral)
 *   h    = BLAKE2b-256("portless-cp v1 hs" | S | e_c | e_s)
 *   dh1  = X25519(e_c, S)    (only the holder of S's secret gets it)
 *   dh2  = X25519(e_c, e_s)  (forward secrecy)
 *   okm  = BLAKE2b-512(key = h, msg = dh1 | dh2)
 *   c2s  = okm[0..32), s2c = okm[32..64)
 *   sid  = BLAKE2b-256(key = okm, msg = "portless-cp v1 sid")
 * The server's first frame (CHALLENGE) only decrypts for a client that used
 * the real S: that is the server authentication.
 *
 * Identity authentication: sig = Ed25519(identity, "portless-cp auth v1\0" |
 * challenge | sid | str8 handle). Signed public keys: keysig =
 * Ed25519(identity, "portless-cp keys v1\0" | str8 handle | sign_pk | box_pk).
 */
#ifndef PORTLESS_CP_HS_H
#define PORTLESS_CP_HS_H

#include <stdbool.h>
#include <stdint.h>

#include "cp_frame.h"
#include "identity.h"

/** Client handshake state between hello and the server's answer. */
struct cp_hs {
	uint8_t e_sk[CP_KEY_LEN];
	uint8_t e_pk[CP_KEY_LEN];
	uint8_t server_pk[CP_KEY_LEN];
};

/** Start: fresh ephemeral key, write the client hello. */
void cp_hs_client_start(struct cp_hs *hs, const uint8_t server_pk[CP_KEY_LEN],
			uint8_t hello[CP_CLIENT_HELLO_LEN]);

/**
 * Finish with the server hello: derive the session. Wipes @p hs. Returns 0
 * or -EBADMSG (degenerate key). Whether the server really holds the pinned
 * key shows when its first frame opens (cp_sess_open).
 */
int cp_hs_client_finish(struct cp_hs *hs, const uint8_t shello[CP_SERVER_HELLO_LEN],
			struct cp_sess *s) __attribute__((warn_unused_result));

/**
 * Server side, all at once: check the client hello, make an ephemeral key,
 * write the server hello and derive the session. Returns 0, -EPROTO (bad
 * magic/version) or -EBADMSG (degenerate key).
 */
int cp_hs_server(const uint8_t server_sk[CP_KEY_LEN], const uint8_t server_pk[CP_KEY_LEN],
		 const uint8_t hello[CP_CLIENT_HELLO_LEN], uint8_t shello[CP_SERVER_HELLO_LEN],
		 struct cp_sess *s) __attribute__((warn_unused_result));

/** Sign the identity-auth statement for (challenge, session, our handle). */
void cp_auth_sign(const struct identity *id, const uint8_t challenge[CP_CHALLENGE_LEN],
		  const uint8_t sid[CP_HASH_LEN], uint8_t sig[CP_SIG_LEN]);

/** Verify an identity-auth signature made by @p sign_pk for @p handle. */
bool cp_auth_verify(const uint8_t sign_pk[CP_KEY_LEN], const char *handle,
		    const uint8_t challenge[CP_CHALLENGE_LEN], const uint8_t sid[CP_HASH_LEN],
		    const uint8_t sig[CP_SIG_LEN]);

/** Self-signature over our public keys (what a home publishes). */
void cp_keys_sign(const struct identity *id, uint8_t keysig[CP_SIG_LEN]);

/** Verify @p pk's self-signature. */
bool cp_keys_verify(const struct pubkeys *pk, const uint8_t keysig[CP_SIG_LEN]);

/** Make a fresh enrollment code (base32 text, CP_CODE_BYTES random bytes). */
void cp_code_generate(char out[CP_CODE_BUF]);

/** Hash of an enrollment code as stored by the server (BLAKE2b-256). */
void cp_code_hash(const char *code, uint8_t out[CP_HASH_LEN]);

#endif
