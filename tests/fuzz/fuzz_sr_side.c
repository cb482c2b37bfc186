/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: SR side messages (HELLO/CHALLENGE/AUTH/WELCOME/ERROR/
 * ROAM) as the relay and the SR client parse them (sr_side_parse), then the
 * checks the relay runs on what parsed: AUTH against a challenged side
 * (sr_auth_verify) and the ROAM MAC. Parsed fields must lie inside the input.
 */
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sr_side.h"
#include "ticket.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sr_issuer *iss;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *m = malloc(size ? size : 1), nonce[SR_NONCE_LEN], secret[SR_SECRET_LEN], key[32],
		mac[SR_MAC_LEN];
	struct sr_side_msg sm;
	struct sr_auth a = {0};

	if (!iss) {
		if (sodium_init() < 0 || !(iss = sr_issuer_new()))
			abort();
	}
	if (!m)
		return 0;
	if (size)
		memcpy(m, data, size); /* exact-size copy: ASan sees any overread */
	if (sr_side_parse(m, size, &sm) == 0) {
		if (sm.side > SR_SIDE_B || sm.body + sm.body_len != m + size ||
		    sm.sid + SR_SID_LEN > m + size || sr_side_len(sm.type) != size)
			abort();
		if (sm.type == SR_MSG_AUTH) {
			if (sr_auth_challenge(&a, 1.0, nonce) != 0)
				abort();
			/* Forged MACs never pass; a correct one does. */
			if (sr_auth_verify(&a, iss, sm.sid, sm.side, UINT64_MAX, 0, 1.5, sm.body,
					   sm.body + SR_NONCE_LEN) == 0 &&
			    memcmp(sm.body, nonce, SR_NONCE_LEN) == 0)
				abort(); /* needs the issuer's secret: 2^-256 */
		} else if (sm.type == SR_MSG_ROAM) {
			sr_issuer_secret(iss, sm.sid, sm.side, secret);
			sr_roam_key(secret, key);
			sr_roam_mac(key, m, mac);
			(void)sodium_memcmp(mac, m + SR_ROAM_LEN - SR_MAC_LEN, SR_MAC_LEN);
		}
	}
	free(m);
	return 0;
}
