/* SPDX-License-Identifier: MIT */
#include "dp_keys.h"

#include <errno.h>
#include <stdbool.h>
#include <sodium.h>
#include <string.h>

#define KDF_CTX "pl-dp-v1"

unsigned dp_aead_supported(void)
{
	unsigned m = 1u << DP_AEAD_CHACHA20POLY1305;

	if (crypto_aead_aes256gcm_is_available())
		m |= 1u << DP_AEAD_AES256GCM;
	return m;
}

int dp_aead_choose(unsigned mine, unsigned peer)
{
	unsigned both = mine & peer;

	if (both & (1u << DP_AEAD_AES256GCM))
		return DP_AEAD_AES256GCM;
	if (both & (1u << DP_AEAD_CHACHA20POLY1305))
		return DP_AEAD_CHACHA20POLY1305;
	return -ENOTSUP;
}

const char *dp_aead_name(int aead)
{
	switch (aead) {
	case DP_AEAD_AES256GCM:
		return "aes256gcm";
	case DP_AEAD_CHACHA20POLY1305:
		return "chacha20poly1305";
	}
	return "?";
}

int dp_keypair_new(struct dp_keypair *kp)
{
	randombytes_buf(kp->sk, sizeof(kp->sk));
	crypto_scalarmult_base(kp->pk, kp->sk);
	return 0;
}

void dp_keypair_wipe(struct dp_keypair *kp)
{
	sodium_memzero(kp, sizeof(*kp));
}

void dp_keys_wipe(struct dp_keys *k)
{
	sodium_memzero(k, sizeof(*k));
}

static void hash_str8(crypto_generichash_state *h, const char *s)
{
	uint8_t n = (uint8_t)strnlen(s, 255);

	crypto_generichash_update(h, &n, 1);
	crypto_generichash_update(h, (const uint8_t *)s, n);
}

/* prk = BLAKE2b(key = X25519(mine, peer), th); then the three subkeys. */
static int expand(const struct dp_keypair *mine, const uint8_t peer[DP_PK_LEN],
		  const uint8_t th[32], int side, uint8_t aead, struct dp_keys *out)
{
	uint8_t shared[crypto_scalarmult_BYTES], prk[32], ab[32], ba[32];
	int r = -EPROTO;

	if (crypto_scalarmult(shared, mine->sk, peer) != 0)
		goto out;
	crypto_generichash(prk, sizeof(prk), th, 32, shared, sizeof(shared));
	crypto_kdf_derive_from_key(ab, sizeof(ab), 1, KDF_CTX, prk);
	crypto_kdf_derive_from_key(ba, sizeof(ba), 2, KDF_CTX, prk);
	crypto_kdf_derive_from_key(out->chain, sizeof(out->chain), 3, KDF_CTX, prk);
	out->aead = aead;
	out->side = (uint8_t)side;
	memcpy(out->tx, side == SR_SIDE_A ? ab : ba, DP_KEY_LEN);
	memcpy(out->rx, side == SR_SIDE_A ? ba : ab, DP_KEY_LEN);
	r = 0;
out:
	sodium_memzero(shared, sizeof(shared));
	sodium_memzero(prk, sizeof(prk));
	sodium_memzero(ab, sizeof(ab));
	sodium_memzero(ba, sizeof(ba));
	return r;
}

static bool aead_known(uint8_t aead)
{
	return aead == DP_AEAD_AES256GCM || aead == DP_AEAD_CHACHA20POLY1305;
}

int dp_derive(const struct dp_keypair *mine, int side, const struct dp_transcript *t,
	      struct dp_keys *out)
{
	crypto_generichash_state h;
	uint8_t th[32];
	const uint8_t *my_pk, *peer_pk;
	int r;

	if ((side != SR_SIDE_A && side != SR_SIDE_B) || !aead_known(t->aead) || !t->handle_a ||
	    !t->handle_b)
		return -EINVAL;
	my_pk = side == SR_SIDE_A ? t->pk_a : t->pk_b;
	peer_pk = side == SR_SIDE_A ? t->pk_b : t->pk_a;
	if (sodium_memcmp(my_pk, mine->pk, DP_PK_LEN) != 0)
		return -EINVAL;
	crypto_generichash_init(&h, NULL, 0, sizeof(th));
	crypto_generichash_update(&h, (const uint8_t *)"portless-dp-v1", 14);
	crypto_generichash_update(&h, t->session_id, SR_SID_LEN);
	hash_str8(&h, t->handle_a);
	hash_str8(&h, t->handle_b);
	crypto_generichash_update(&h, t->pk_a, DP_PK_LEN);
	crypto_generichash_update(&h, t->pk_b, DP_PK_LEN);
	crypto_generichash_update(&h, &t->aead, 1);
	crypto_generichash_final(&h, th, sizeof(th));
	r = expand(mine, peer_pk, th, side, t->aead, out);
	sodium_memzero(&h, sizeof(h));
	return r;
}

int dp_derive_rekey(const uint8_t chain[DP_KEY_LEN], uint32_t epoch, const struct dp_keypair *mine,
		    int side, const uint8_t pk_a[DP_PK_LEN], const uint8_t pk_b[DP_PK_LEN],
		    uint8_t aead, struct dp_keys *out)
{
	crypto_generichash_state h;
	uint8_t th[32], ep[4];
	int r;

	if ((side != SR_SIDE_A && side != SR_SIDE_B) || !aead_known(aead))
		return -EINVAL;
	ep[0] = (uint8_t)(epoch >> 24);
	ep[1] = (uint8_t)(epoch >> 16);
	ep[2] = (uint8_t)(epoch >> 8);
	ep[3] = (uint8_t)epoch;
	crypto_generichash_init(&h, NULL, 0, sizeof(th));
	crypto_generichash_update(&h, (const uint8_t *)"portless-dp-rekey-v1", 20);
	crypto_generichash_update(&h, chain, DP_KEY_LEN);
	crypto_generichash_update(&h, ep, sizeof(ep));
	crypto_generichash_update(&h, pk_a, DP_PK_LEN);
	crypto_generichash_update(&h, pk_b, DP_PK_LEN);
	crypto_generichash_final(&h, th, sizeof(th));
	r = expand(mine, side == SR_SIDE_A ? pk_b : pk_a, th, side, aead, out);
	sodium_memzero(&h, sizeof(h));
	sodium_memzero(th, sizeof(th));
	return r;
}
