/* SPDX-License-Identifier: MIT */
#include "sr_side.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "wire.h"

size_t sr_side_len(uint8_t type)
{
	switch (type) {
	case SR_MSG_HELLO:
		return SR_HELLO_LEN;
	case SR_MSG_CHALLENGE:
		return SR_CHALLENGE_LEN;
	case SR_MSG_AUTH:
		return SR_AUTH_LEN;
	case SR_MSG_WELCOME:
		return SR_WELCOME_LEN;
	case SR_MSG_ERROR:
		return SR_ERROR_LEN;
	case SR_MSG_ROAM:
		return SR_ROAM_LEN;
	case SR_MSG_ROAM_CHAL:
		return SR_ROAM_CHAL_LEN;
	case SR_MSG_ROAM_ECHO:
		return SR_ROAM_ECHO_LEN;
	default:
		return 0;
	}
}

int sr_side_parse(const uint8_t *m, size_t n, struct sr_side_msg *out)
{
	size_t want;

	if (n < 1)
		return -EBADMSG;
	want = sr_side_len(m[0]);
	if (!want)
		return -ENOTSUP;
	if (n != want || m[1] != SR_VERSION || m[2] > SR_SIDE_B)
		return -EBADMSG;
	out->type = m[0];
	out->side = m[2];
	out->x = m[3];
	out->sid = m + 4;
	out->body = m + SR_SIDE_HDR;
	out->body_len = n - SR_SIDE_HDR;
	return 0;
}

int sr_side_parse_reply(const uint8_t *m, size_t n, uint8_t side, const uint8_t sid[SR_SID_LEN],
			struct sr_side_reply *out)
{
	struct sr_side_msg sm;
	int e = sr_side_parse(m, n, &sm);

	if (e)
		return e;
	if (sm.type != SR_MSG_CHALLENGE && sm.type != SR_MSG_WELCOME && sm.type != SR_MSG_ERROR)
		return -ENOTSUP;
	if (sm.side != side || memcmp(sm.sid, sid, SR_SID_LEN) != 0)
		return -ENOENT;
	*out = (struct sr_side_reply){.type = sm.type};
	if (sm.type == SR_MSG_CHALLENGE) {
		out->nonce = sm.body;
	} else if (sm.type == SR_MSG_WELCOME) {
		out->welcome_state = sm.x;
		out->relay_id = get_be32(sm.body);
		out->peer_transport = sm.body[4];
	} else {
		out->err = sm.x;
	}
	return 0;
}

void sr_side_roam_mac(const uint8_t key[32], const uint8_t *m, size_t n, uint8_t mac[SR_MAC_LEN])
{
	crypto_generichash_state h;

	crypto_generichash_init(&h, key, 32, SR_MAC_LEN);
	crypto_generichash_update(&h, (const uint8_t *)SR_ROAM_CHAL_CTX, strlen(SR_ROAM_CHAL_CTX));
	crypto_generichash_update(&h, m, n - SR_MAC_LEN);
	crypto_generichash_final(&h, mac, SR_MAC_LEN);
	sodium_memzero(&h, sizeof(h));
}

/* type, version, side, x = 0, session id: the head every side message has. */
static size_t put_head(uint8_t *out, uint8_t type, uint8_t side, const uint8_t sid[SR_SID_LEN])
{
	out[0] = type;
	out[1] = SR_VERSION;
	out[2] = side;
	out[3] = 0;
	memcpy(out + 4, sid, SR_SID_LEN);
	return SR_SIDE_HDR;
}

size_t sr_side_roam_chal(const uint8_t key[32], uint8_t side, const uint8_t sid[SR_SID_LEN],
			 const uint8_t nonce[SR_ROAM_NONCE_LEN], uint8_t out[SR_ROAM_CHAL_LEN])
{
	size_t o = put_head(out, SR_MSG_ROAM_CHAL, side, sid);

	memcpy(out + o, nonce, SR_ROAM_NONCE_LEN);
	sr_side_roam_mac(key, out, SR_ROAM_CHAL_LEN, out + SR_ROAM_CHAL_LEN - SR_MAC_LEN);
	return SR_ROAM_CHAL_LEN;
}

int sr_side_roam_echo(const uint8_t key[32], uint8_t side, const uint8_t sid[SR_SID_LEN],
		      uint32_t relay_id, const uint8_t *m, size_t n, uint8_t out[SR_ROAM_ECHO_LEN])
{
	uint8_t mac[SR_MAC_LEN];
	struct sr_side_msg sm;
	int e = sr_side_parse(m, n, &sm);
	size_t o;

	if (e)
		return e;
	if (sm.type != SR_MSG_ROAM_CHAL)
		return -ENOTSUP;
	if (sm.side != side || memcmp(sm.sid, sid, SR_SID_LEN) != 0)
		return -ENOENT;
	sr_side_roam_mac(key, m, n, mac);
	if (sodium_memcmp(mac, m + n - SR_MAC_LEN, SR_MAC_LEN) != 0)
		return -EACCES;
	o = put_head(out, SR_MSG_ROAM_ECHO, side, sid);
	put_be32(out + o, relay_id);
	memcpy(out + o + 4, sm.body, SR_ROAM_NONCE_LEN);
	sr_side_roam_mac(key, out, SR_ROAM_ECHO_LEN, out + SR_ROAM_ECHO_LEN - SR_MAC_LEN);
	return 0;
}
