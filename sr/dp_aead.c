/* SPDX-License-Identifier: MIT */
#include "dp_aead.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

int dp_aead_impl_default(void)
{
	const char *v = getenv("PORTLESS_AEAD_IMPL"); /* once per session: cheap */

	return v && !strcmp(v, "sodium") ? DP_AEAD_IMPL_SODIUM : DP_AEAD_IMPL_OPENSSL;
}

const char *dp_aead_impl_name(int impl)
{
	switch (impl) {
	case DP_AEAD_IMPL_OPENSSL:
		return "openssl";
	case DP_AEAD_IMPL_SODIUM:
		return "sodium";
	}
	return "?";
}

/* An EVP AES-256-GCM context keyed once; per packet only the nonce changes. */
static EVP_CIPHER_CTX *evp_new(const uint8_t key[DP_KEY_LEN])
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();

	if (c && EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, NULL) == 1)
		return c;
	EVP_CIPHER_CTX_free(c); /* NULL is a no-op */
	return NULL;
}

int dp_aead_key_init(struct dp_aead_key *k, uint8_t aead, int impl, const uint8_t key[DP_KEY_LEN])
{
	memset(k, 0, sizeof(*k));
	if (aead == DP_AEAD_AES256GCM && impl == DP_AEAD_IMPL_OPENSSL) {
		k->evp = evp_new(key);
		if (!k->evp)
			return -ENOMEM;
	} else if (aead == DP_AEAD_AES256GCM && impl == DP_AEAD_IMPL_SODIUM) {
		if (!crypto_aead_aes256gcm_is_available())
			return -ENOTSUP;
		crypto_aead_aes256gcm_beforenm(&k->aes, key);
	} else if (aead != DP_AEAD_CHACHA20POLY1305) {
		return -ENOTSUP;
	}
	memcpy(k->key, key, DP_KEY_LEN);
	k->aead = aead;
	k->impl = (uint8_t)impl;
	return 0;
}

void dp_aead_key_wipe(struct dp_aead_key *k)
{
	if (k->evp) {
		EVP_CIPHER_CTX_reset(k->evp); /* cleanses the key schedule */
		EVP_CIPHER_CTX_free(k->evp);
	}
	sodium_memzero(k, sizeof(*k));
}

/*
 * The tag through OSSL_PARAM directly: EVP_CIPHER_CTX_ctrl() would translate
 * to the same params at a cost per packet (OpenSSL 3). SET_TAG only copies
 * from @p tag.
 */
static bool evp_tag(EVP_CIPHER_CTX *c, bool get, const uint8_t *tag)
{
	OSSL_PARAM p[2] = {OSSL_PARAM_construct_octet_string(
			       OSSL_CIPHER_PARAM_AEAD_TAG, (void *)(uintptr_t)tag, DP_AEAD_TAG_LEN),
			   OSSL_PARAM_construct_end()};

	return (get ? EVP_CIPHER_CTX_get_params(c, p) : EVP_CIPHER_CTX_set_params(c, p)) == 1;
}

/* Nonce, associated data and data through @p c, encrypting when @p enc. */
static bool evp_run(EVP_CIPHER_CTX *c, int enc, const uint8_t *n, const uint8_t *ad, size_t adlen,
		    uint8_t *m, size_t mlen)
{
	int l;

	if (adlen > INT_MAX || mlen > INT_MAX)
		return false;
	if (EVP_CipherInit_ex2(c, NULL, NULL, n, enc, NULL) != 1)
		return false;
	if (adlen && EVP_CipherUpdate(c, NULL, &l, ad, (int)adlen) != 1)
		return false;
	return !mlen || EVP_CipherUpdate(c, m, &l, m, (int)mlen) == 1;
}

static int evp_seal(EVP_CIPHER_CTX *c, const uint8_t *n, const uint8_t *ad, size_t adlen,
		    uint8_t *m, size_t mlen, uint8_t *tag)
{
	int l;

	if (!evp_run(c, 1, n, ad, adlen, m, mlen) || EVP_EncryptFinal_ex(c, m + mlen, &l) != 1 ||
	    !evp_tag(c, true, tag))
		return -EIO;
	return 0;
}

static int evp_open(EVP_CIPHER_CTX *c, const uint8_t *n, const uint8_t *ad, size_t adlen,
		    uint8_t *m, size_t mlen, const uint8_t *tag)
{
	int l;

	/* The tag after the nonce: setting the nonce forgets it. */
	if (!evp_run(c, 0, n, ad, adlen, m, mlen) || !evp_tag(c, false, tag) ||
	    EVP_DecryptFinal_ex(c, m + mlen, &l) != 1) {
		sodium_memzero(m, mlen); /* never leave unauthenticated plaintext */
		return -EBADMSG;
	}
	return 0;
}

int dp_aead_seal(const struct dp_aead_key *k, const uint8_t n[DP_AEAD_NONCE_LEN], const uint8_t *ad,
		 size_t adlen, uint8_t *m, size_t mlen, uint8_t tag[DP_AEAD_TAG_LEN])
{
	if (k->aead == DP_AEAD_CHACHA20POLY1305)
		return crypto_aead_chacha20poly1305_ietf_encrypt_detached(m, tag, NULL, m, mlen, ad,
									  adlen, NULL, n, k->key)
			   ? -EIO
			   : 0;
	if (k->aead != DP_AEAD_AES256GCM)
		return -EIO;
	if (k->impl == DP_AEAD_IMPL_OPENSSL)
		return evp_seal(k->evp, n, ad, adlen, m, mlen, tag);
	return crypto_aead_aes256gcm_encrypt_detached_afternm(m, tag, NULL, m, mlen, ad, adlen,
							      NULL, n, &k->aes)
		   ? -EIO
		   : 0;
}

int dp_aead_open(const struct dp_aead_key *k, const uint8_t n[DP_AEAD_NONCE_LEN], const uint8_t *ad,
		 size_t adlen, uint8_t *c, size_t clen, const uint8_t tag[DP_AEAD_TAG_LEN])
{
	int r = -1;

	if (k->aead == DP_AEAD_CHACHA20POLY1305)
		r = crypto_aead_chacha20poly1305_ietf_decrypt_detached(c, NULL, c, clen, tag, ad,
								       adlen, n, k->key);
	else if (k->aead == DP_AEAD_AES256GCM && k->impl == DP_AEAD_IMPL_OPENSSL)
		return evp_open(k->evp, n, ad, adlen, c, clen, tag);
	else if (k->aead == DP_AEAD_AES256GCM)
		r = crypto_aead_aes256gcm_decrypt_detached_afternm(c, NULL, c, clen, tag, ad, adlen,
								   n, &k->aes);
	return r ? -EBADMSG : 0;
}
