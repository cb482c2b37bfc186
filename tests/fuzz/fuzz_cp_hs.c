/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: the control-plane handshake driven by fuzz bytes.
 *  - server side: cp_hs_server on a client hello (first 37 bytes);
 *  - client side: cp_hs_client_start with the pinned server key, then
 *    cp_hs_client_finish on a fuzzed server hello (next 32 bytes), then
 *    the rest as the server's byte stream: frames opened with the derived
 *    session (a forged CHALLENGE must not open), messages decoded;
 *  - identity-auth and key-signature checks on fuzzed signatures.
 * Keys come from fixed seeds so the corpus stays meaningful.
 */
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cp_hs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t server_sk[CP_KEY_LEN], server_pk[CP_KEY_LEN];
static uint8_t ed_pk[crypto_sign_PUBLICKEYBYTES], ed_sk[crypto_sign_SECRETKEYBYTES];
static uint8_t plain[CP_MSG_MAX];

static void init(void)
{
	uint8_t seed[32];

	if (sodium_init() < 0)
		abort();
	memset(seed, 1, sizeof(seed));
	crypto_box_seed_keypair(server_pk, server_sk, seed);
	memset(seed, 2, sizeof(seed));
	crypto_sign_seed_keypair(ed_pk, ed_sk, seed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	uint8_t shello[CP_SERVER_HELLO_LEN], hello[CP_CLIENT_HELLO_LEN];
	struct cp_sess s, c;
	struct cp_hs hs;
	struct cp_msg m;
	struct pubkeys pk;
	size_t off = 0, fl;
	int n;

	if (!ready) {
		init();
		ready = 1;
	}
	if (size >= CP_CLIENT_HELLO_LEN) {
		memcpy(hello, data, CP_CLIENT_HELLO_LEN);
		if (cp_hs_server(server_sk, server_pk, hello, shello, &s) == 0)
			cp_sess_wipe(&s);
		off = CP_CLIENT_HELLO_LEN;
	}
	if (size - off >= CP_SERVER_HELLO_LEN) {
		cp_hs_client_start(&hs, server_pk, hello);
		n = cp_hs_client_finish(&hs, data + off, &c);
		off += CP_SERVER_HELLO_LEN;
		for (int i = 0; n == 0 && i < 16 && off < size; i++) {
			if (cp_frame_check(data + off, size - off, &fl) != 0)
				break;
			/* without the server's secret no frame can open */
			if (cp_sess_open(&c, data + off, fl, plain, sizeof(plain)) >= 0)
				abort();
			(void)cp_msg_decode(data + off + CP_FRAME_HDR, fl - CP_FRAME_HDR, &m);
			off += fl;
		}
		if (n == 0)
			cp_sess_wipe(&c);
	}
	/* signatures: a fuzzed handle and signature never verify under our key */
	if (size >= 64 + 32 + 32 + 2) {
		char handle[HANDLE_BUF];
		size_t hl = data[0] % (HANDLE_BUF - 1);

		memcpy(handle, data + 2, hl);
		handle[hl] = 0;
		if (cp_auth_verify(ed_pk, handle, data + 64, data + 96, data) &&
		    size < 1u << 30 /* keep the branch; a hit would be a forgery */)
			abort();
		memset(&pk, 0, sizeof(pk));
		memcpy(pk.handle, handle, hl + 1);
		memcpy(pk.sign_pk, data + 64, sizeof(pk.sign_pk));
		memcpy(pk.box_pk, data + 32, sizeof(pk.box_pk));
		(void)cp_keys_verify(&pk, data);
	}
	return 0;
}
