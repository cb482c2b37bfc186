/* SPDX-License-Identifier: MIT */
/**
 * @file dp_aead.h  The data plane's AEAD backend: one direction key, seal and open in place.
 *
 * I/O-free. AES-256-GCM runs through OpenSSL's libcrypto (EVP; 2.6-3x
 * libsodium's AES-GCM at 64 KiB and 1.4-1.6x at 1420 bytes on this project's
 * machine, see docs/PERFORMANCE.md) or, forced with PORTLESS_AEAD_IMPL=sodium,
 * through libsodium; ChaCha20-Poly1305 always through libsodium. Both AES-GCM
 * implementations produce the same bytes for the same key, nonce, AAD and
 * data (tests/unit/test_dp_aead.c), so endpoints of either build interoperate.
 *
 * An OpenSSL key holds one EVP_CIPHER_CTX, keyed once by dp_aead_key_init();
 * each packet sets only the nonce. Its expanded key lives in OpenSSL's heap
 * and is cleansed by dp_aead_key_wipe() (EVP_CIPHER_CTX_reset + _free); the
 * struct itself belongs in guarded memory (dp_seal.c keeps it in the
 * sodium_malloc'ed dp_state).
 */
#ifndef PORTLESS_DP_AEAD_H
#define PORTLESS_DP_AEAD_H

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#include "dp_keys.h"

/** Which library runs AES-256-GCM. */
enum dp_aead_impl {
	DP_AEAD_IMPL_OPENSSL = 0, /**< libcrypto EVP (the default) */
	DP_AEAD_IMPL_SODIUM = 1,  /**< libsodium (PORTLESS_AEAD_IMPL=sodium) */
};

enum {
	DP_AEAD_NONCE_LEN = 12,
	DP_AEAD_TAG_LEN = 16,
};

struct evp_cipher_ctx_st; /* OpenSSL's EVP_CIPHER_CTX, kept out of this header */

/** One direction key prepared for its AEAD and implementation. Zeroed = empty. */
struct dp_aead_key {
	crypto_aead_aes256gcm_state aes; /**< libsodium AES-GCM (first: 16-byte alignment) */
	struct evp_cipher_ctx_st *evp;   /**< OpenSSL AES-GCM, keyed once */
	uint8_t key[DP_KEY_LEN];         /**< the raw key (ChaCha20-Poly1305 uses it directly) */
	uint8_t aead;                    /**< enum dp_aead; 0 = empty */
	uint8_t impl;                    /**< enum dp_aead_impl */
};

/**
 * The implementation of new keys: PORTLESS_AEAD_IMPL ("openssl" or
 * "sodium"; unset, empty or anything else = openssl), read on each call
 * (dp_state_new: once per session).
 */
int dp_aead_impl_default(void);

/** Name for logs and benchmarks ("openssl", "sodium", "?"). */
const char *dp_aead_impl_name(int impl);

/**
 * Prepare @p k (empty or zeroed) for @p aead with implementation @p impl
 * (ignored for ChaCha20-Poly1305) and the key @p key (copied). Returns 0,
 * -ENOTSUP (unknown AEAD, or libsodium AES-GCM without AES-NI) or -ENOMEM;
 * on error @p k is left empty.
 */
int dp_aead_key_init(struct dp_aead_key *k, uint8_t aead, int impl, const uint8_t key[DP_KEY_LEN])
    __attribute__((warn_unused_result));

/** Free the OpenSSL context and wipe @p k (empty afterwards); an empty key is a no-op. */
void dp_aead_key_wipe(struct dp_aead_key *k);

/**
 * Encrypt @p m (@p mlen bytes, at most INT_MAX) in place under @p n with
 * associated data @p ad and write the tag. Returns 0 or -EIO (the library
 * failed; nothing to send).
 */
int dp_aead_seal(const struct dp_aead_key *k, const uint8_t n[DP_AEAD_NONCE_LEN], const uint8_t *ad,
		 size_t adlen, uint8_t *m, size_t mlen, uint8_t tag[DP_AEAD_TAG_LEN])
    __attribute__((warn_unused_result));

/**
 * Verify @p tag and decrypt @p c in place. Returns 0 or -EBADMSG (then @p c
 * holds no plaintext: zeroed or still the ciphertext).
 */
int dp_aead_open(const struct dp_aead_key *k, const uint8_t n[DP_AEAD_NONCE_LEN], const uint8_t *ad,
		 size_t adlen, uint8_t *c, size_t clen, const uint8_t tag[DP_AEAD_TAG_LEN])
    __attribute__((warn_unused_result));

#endif
