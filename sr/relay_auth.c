/* SPDX-License-Identifier: MIT */
#include "relay_auth.h"

#include <errno.h>
#include <string.h>

#include "log.h"
#include "sr_side.h"

static uint8_t err_code(int e)
{
	switch (e) {
	case -EALREADY:
		return SR_ERR_USED;
	case -ETIMEDOUT:
		return SR_ERR_EXPIRED;
	default:
		return SR_ERR_AUTH;
	}
}

/* AUTH's nonce and MAC against @p s's side. 0 or the sr_auth_verify() error. */
static int verify(const struct sr_issuer *iss, struct relay_sess *s, const struct sr_side_msg *sm,
		  const struct relay_hs *hs)
{
	return sr_auth_verify(&s->side[sm->side].auth, iss, s->sid, sm->side, s->expiry,
			      hs->unix_now, hs->now, sm->body, sm->body + SR_NONCE_LEN);
}

size_t relay_auth_handshake(const struct sr_issuer *iss, const struct relay_table *t,
			    const uint8_t *m, size_t n, struct relay_hs *hs,
			    uint8_t out[SR_SIDE_MSG_MAX])
{
	struct sr_side_msg sm;
	struct relay_sess *s;
	int e;

	hs->sess = NULL;
	hs->authed = hs->failed = false;
	if (!n || (m[0] != SR_MSG_HELLO && m[0] != SR_MSG_AUTH) || sr_side_parse(m, n, &sm) != 0)
		return 0;
	s = relay_table_find(t, sm.sid);
	if (!s)
		return relay_sess_head(out, SR_MSG_ERROR, sm.side, SR_ERR_UNKNOWN, sm.sid);
	hs->sess = s;
	hs->side = sm.side;
	if (sm.type == SR_MSG_HELLO) {
		e = sr_auth_challenge(&s->side[sm.side].auth, hs->now, out + SR_SIDE_HDR);
		if (e == 0)
			return relay_sess_head(out, SR_MSG_CHALLENGE, sm.side, 0, sm.sid) +
			       SR_NONCE_LEN;
	} else if ((e = verify(iss, s, &sm, hs)) == 0) {
		hs->authed = true;
		return 0;
	}
	if (e == -EALREADY && relay_sess_is_from(s, sm.side, SR_TR_UDP, hs->from, hs->flen) &&
	    hs->tr == SR_TR_UDP)
		return relay_sess_welcome(s, sm.side, out);
	hs->failed = true;
	log_msg(PL_LOG_DEBUG, "side auth failed: %s", strerror(-e));
	return relay_sess_head(out, SR_MSG_ERROR, sm.side, err_code(e), sm.sid);
}
