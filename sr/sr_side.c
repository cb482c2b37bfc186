/* SPDX-License-Identifier: MIT */
#include "sr_side.h"

#include <errno.h>
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
