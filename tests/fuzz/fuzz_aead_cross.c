/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: the data plane's two AES-256-GCM implementations
 * (OpenSSL EVP, libsodium) against each other. The input is
 * [key 32][nonce 12][adlen u8][flip u16][ad adlen][data]: both seal the data
 * in place; invariants: the same ciphertext and tag, each opens what the
 * other sealed back to the data, and with one bit flipped (flip selects it
 * in ciphertext || tag || ad) neither opens it.
 */
#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dp_aead.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { HDR = 32 + 12 + 1 + 2, MAXD = 65536 };

static uint8_t c[2][MAXD], t[MAXD], ad2[256], tag[2][16], tag2[16];

/* Open a copy of @p in with @p k; true when it verified (and gave @p want). */
static bool opens(const struct dp_aead_key *k, const uint8_t *n, const uint8_t *ad, size_t adlen,
		  const uint8_t *in, size_t len, const uint8_t *tg, const uint8_t *want)
{
	memcpy(t, in, len);
	if (dp_aead_open(k, n, ad, adlen, t, len, tg) != 0)
		return false;
	if (want && len && memcmp(t, want, len) != 0)
		abort(); /* verified but wrong plaintext */
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dp_aead_key k[2];
	const uint8_t *n, *ad, *m;
	size_t adlen, len, flip;
	static int ready;

	if (!ready && sodium_init() >= 0)
		ready = crypto_aead_aes256gcm_is_available() ? 1 : 2;
	if (ready != 1 || size < HDR)
		return 0; /* no AES-NI: libsodium has no AES-GCM to compare */
	n = data + 32;
	adlen = data[44];
	flip = (size_t)data[45] << 8 | data[46];
	if (size - HDR < adlen)
		return 0;
	ad = data + HDR;
	m = ad + adlen;
	len = size - HDR - adlen;
	if (len > MAXD)
		return 0;
	if (dp_aead_key_init(&k[0], DP_AEAD_AES256GCM, DP_AEAD_IMPL_OPENSSL, data) ||
	    dp_aead_key_init(&k[1], DP_AEAD_AES256GCM, DP_AEAD_IMPL_SODIUM, data))
		abort();
	for (int i = 0; i < 2; i++) {
		memcpy(c[i], m, len);
		if (dp_aead_seal(&k[i], n, ad, adlen, c[i], len, tag[i]))
			abort();
	}
	if ((len && memcmp(c[0], c[1], len)) || memcmp(tag[0], tag[1], 16))
		abort(); /* the implementations disagree */
	for (int i = 0; i < 2; i++) {
		if (!opens(&k[!i], n, ad, adlen, c[i], len, tag[i], m))
			abort();
		flip %= (len + 16 + adlen) * 8;
		memcpy(tag2, tag[i], 16);
		memcpy(ad2, ad, adlen);
		if (flip / 8 < len)
			c[i][flip / 8] ^= (uint8_t)(1u << flip % 8);
		else if (flip / 8 < len + 16)
			tag2[flip / 8 - len] ^= (uint8_t)(1u << flip % 8);
		else
			ad2[flip / 8 - len - 16] ^= (uint8_t)(1u << flip % 8);
		if (opens(&k[!i], n, ad2, adlen, c[i], len, tag2, NULL) ||
		    opens(&k[i], n, ad2, adlen, c[i], len, tag2, NULL))
			abort(); /* a tampered packet opened */
	}
	dp_aead_key_wipe(&k[0]);
	dp_aead_key_wipe(&k[1]);
	return 0;
}
