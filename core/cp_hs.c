/* SPDX-License-Identifier: MIT */
#include "cp_hs.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#define HS_LABEL  "portless-cp v1 hs"
#define SID_LABEL "portless-cp v1 sid"
#define AUTH_CTX  "portless-cp auth v1" /* + its NUL: 20 bytes */
#define KEYS_CTX  "portless-cp keys v1"

enum { CTX_LEN = 20, AUTH_MSG_MAX = CTX_LEN + CP_CHALLENGE_LEN + CP_HASH_LEN + 1 + HANDLE_MAX };

_Static_assert(sizeof(AUTH_CTX) == CTX_LEN && sizeof(KEYS_CTX) == CTX_LEN, "context labels");

/* Transcript hash, both DH results and the key schedule. */
static int derive(const uint8_t server_pk[CP_KEY_LEN], const uint8_t ec[CP_KEY_LEN],
		  const uint8_t es[CP_KEY_LEN], const uint8_t dh1[CP_KEY_LEN],
		  const uint8_t dh2[CP_KEY_LEN], bool client, struct cp_sess *s)
{
	crypto_generichash_state st;
	uint8_t h[CP_HASH_LEN], okm[64];

	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, (const uint8_t *)HS_LABEL, sizeof(HS_LABEL) - 1);
	crypto_generichash_update(&st, server_pk, CP_KEY_LEN);
	crypto_generichash_update(&st, ec, CP_KEY_LEN);
	crypto_generichash_update(&st, es, CP_KEY_LEN);
	crypto_generichash_final(&st, h, sizeof(h));

	crypto_generichash_init(&st, h, sizeof(h), sizeof(okm));
	crypto_generichash_update(&st, dh1, CP_KEY_LEN);
	crypto_generichash_update(&st, dh2, CP_KEY_LEN);
	crypto_generichash_final(&st, okm, sizeof(okm));

	memset(s, 0, sizeof(*s));
	memcpy(client ? s->tx : s->rx, okm, CP_KEY_LEN);
	memcpy(client ? s->rx : s->tx, okm + CP_KEY_LEN, CP_KEY_LEN);
	crypto_generichash(s->sid, sizeof(s->sid), (const uint8_t *)SID_LABEL,
			   sizeof(SID_LABEL) - 1, okm, sizeof(okm));
	sodium_memzero(okm, sizeof(okm));
	sodium_memzero(&st, sizeof(st));
	return 0;
}

void cp_hs_client_start(struct cp_hs *hs, const uint8_t server_pk[CP_KEY_LEN],
			uint8_t hello[CP_CLIENT_HELLO_LEN])
{
	crypto_box_keypair(hs->e_pk, hs->e_sk);
	memcpy(hs->server_pk, server_pk, CP_KEY_LEN);
	memcpy(hello, CP_MAGIC, CP_MAGIC_LEN);
	hello[CP_MAGIC_LEN] = CP_VERSION;
	memcpy(hello + CP_MAGIC_LEN + 1, hs->e_pk, CP_KEY_LEN);
}

int cp_hs_client_finish(struct cp_hs *hs, const uint8_t shello[CP_SERVER_HELLO_LEN],
			struct cp_sess *s)
{
	uint8_t dh1[CP_KEY_LEN], dh2[CP_KEY_LEN];
	int ret = -EBADMSG;

	if (crypto_scalarmult(dh1, hs->e_sk, hs->server_pk) != 0 ||
	    crypto_scalarmult(dh2, hs->e_sk, shello) != 0)
		goto out;
	ret = derive(hs->server_pk, hs->e_pk, shello, dh1, dh2, true, s);
out:
	sodium_memzero(dh1, sizeof(dh1));
	sodium_memzero(dh2, sizeof(dh2));
	sodium_memzero(hs, sizeof(*hs));
	return ret;
}

int cp_hs_server(const uint8_t server_sk[CP_KEY_LEN], const uint8_t server_pk[CP_KEY_LEN],
		 const uint8_t hello[CP_CLIENT_HELLO_LEN], uint8_t shello[CP_SERVER_HELLO_LEN],
		 struct cp_sess *s)
{
	uint8_t e_sk[CP_KEY_LEN], dh1[CP_KEY_LEN], dh2[CP_KEY_LEN];
	const uint8_t *ec = hello + CP_MAGIC_LEN + 1;
	int ret = -EPROTO;

	if (memcmp(hello, CP_MAGIC, CP_MAGIC_LEN) != 0 || hello[CP_MAGIC_LEN] != CP_VERSION)
		return ret;
	ret = -EBADMSG;
	crypto_box_keypair(shello, e_sk);
	if (crypto_scalarmult(dh1, server_sk, ec) != 0 || crypto_scalarmult(dh2, e_sk, ec) != 0)
		goto out;
	ret = derive(server_pk, ec, shello, dh1, dh2, false, s);
out:
	sodium_memzero(e_sk, sizeof(e_sk));
	sodium_memzero(dh1, sizeof(dh1));
	sodium_memzero(dh2, sizeof(dh2));
	return ret;
}

static size_t auth_msg(uint8_t *m, const char *handle, const uint8_t challenge[CP_CHALLENGE_LEN],
		       const uint8_t sid[CP_HASH_LEN])
{
	size_t hl = strlen(handle), off = 0;

	if (hl > HANDLE_MAX)
		hl = HANDLE_MAX;
	memcpy(m, AUTH_CTX, CTX_LEN);
	off += CTX_LEN;
	memcpy(m + off, challenge, CP_CHALLENGE_LEN);
	off += CP_CHALLENGE_LEN;
	memcpy(m + off, sid, CP_HASH_LEN);
	off += CP_HASH_LEN;
	m[off++] = (uint8_t)hl;
	memcpy(m + off, handle, hl);
	return off + hl;
}

void cp_auth_sign(const struct identity *id, const uint8_t challenge[CP_CHALLENGE_LEN],
		  const uint8_t sid[CP_HASH_LEN], uint8_t sig[CP_SIG_LEN])
{
	uint8_t m[AUTH_MSG_MAX];
	size_t n = auth_msg(m, id->pub.handle, challenge, sid);

	crypto_sign_detached(sig, NULL, m, n, identity_sign_sk(id));
}

bool cp_auth_verify(const uint8_t sign_pk[CP_KEY_LEN], const char *handle,
		    const uint8_t challenge[CP_CHALLENGE_LEN], const uint8_t sid[CP_HASH_LEN],
		    const uint8_t sig[CP_SIG_LEN])
{
	uint8_t m[AUTH_MSG_MAX];
	size_t n;

	if (!handle_valid(handle))
		return false;
	n = auth_msg(m, handle, challenge, sid);
	return crypto_sign_verify_detached(sig, m, n, sign_pk) == 0;
}

static size_t keys_msg(uint8_t *m, const struct pubkeys *pk)
{
	size_t hl = strlen(pk->handle), off = CTX_LEN;

	if (hl > HANDLE_MAX)
		hl = HANDLE_MAX;
	memcpy(m, KEYS_CTX, CTX_LEN);
	m[off++] = (uint8_t)hl;
	memcpy(m + off, pk->handle, hl);
	off += hl;
	memcpy(m + off, pk->sign_pk, ID_SIGN_PK);
	off += ID_SIGN_PK;
	memcpy(m + off, pk->box_pk, ID_BOX_PK);
	return off + ID_BOX_PK;
}

void cp_keys_sign(const struct identity *id, uint8_t keysig[CP_SIG_LEN])
{
	uint8_t m[CTX_LEN + 1 + HANDLE_MAX + ID_SIGN_PK + ID_BOX_PK];
	size_t n = keys_msg(m, &id->pub);

	crypto_sign_detached(keysig, NULL, m, n, identity_sign_sk(id));
}

bool cp_keys_verify(const struct pubkeys *pk, const uint8_t keysig[CP_SIG_LEN])
{
	uint8_t m[CTX_LEN + 1 + HANDLE_MAX + ID_SIGN_PK + ID_BOX_PK];
	size_t n;

	if (!handle_valid(pk->handle))
		return false;
	n = keys_msg(m, pk);
	return crypto_sign_verify_detached(keysig, m, n, pk->sign_pk) == 0;
}

void cp_code_generate(char out[CP_CODE_BUF])
{
	static const char b32[] = "abcdefghijkmnpqrstuvwxyz23456789"; /* no l, o, 0, 1 */
	uint8_t raw[CP_CODE_BYTES];
	size_t o = 0;

	randombytes_buf(raw, sizeof(raw));
	/* 5 bits per character: 20 bytes -> 32 characters, dash every 8. */
	for (size_t bit = 0; bit + 5 <= sizeof(raw) * 8; bit += 5) {
		unsigned v = 0;

		for (size_t k = 0; k < 5; k++)
			v = (v << 1) | (((unsigned)raw[(bit + k) / 8] >> (7 - (bit + k) % 8)) & 1u);
		if (bit && bit % 40 == 0)
			out[o++] = '-';
		out[o++] = b32[v];
	}
	out[o] = '\0';
	sodium_memzero(raw, sizeof(raw));
}

void cp_code_hash(const char *code, uint8_t out[CP_HASH_LEN])
{
	crypto_generichash(out, CP_HASH_LEN, (const uint8_t *)code, strlen(code),
			   (const uint8_t *)"portless-cp code", 16);
}
