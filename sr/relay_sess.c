/* SPDX-License-Identifier: MIT */
#include "relay_sess.h"

#include <stdio.h>
#include <string.h>

#include "wire.h"

void relay_sess_init(struct relay_sess *s, const struct sr_ticket *t, const char *requester,
		     const char *peer, const struct relay_limits *l, double now)
{
	memset(s, 0, sizeof(*s));
	memcpy(s->sid, t->session_id, SR_SID_LEN);
	snprintf(s->requester, sizeof(s->requester), "%s", requester);
	snprintf(s->peer, sizeof(s->peer), "%s", peer ? peer : "");
	s->expiry = t->expiry;
	s->created = now;
	s->deadline = now + l->ticket_ttl + 1.0; /* a second of grace for clock edges */
}

static bool joined(const struct relay_sess *s)
{
	return s->side[0].tr != SR_TR_NONE || s->side[1].tr != SR_TR_NONE;
}

bool relay_sess_join(struct relay_sess *s, uint8_t side, uint8_t tr,
		     const struct sockaddr_storage *from, socklen_t flen,
		     const struct relay_limits *l, double now, uint64_t unix_now)
{
	struct relay_side *sd = &s->side[side];
	double wait = l->unpaired_timeout;
	double left = (double)s->expiry + 1.0 - (double)unix_now;

	sd->tr = tr;
	memcpy(&sd->addr, from, flen);
	sd->alen = flen;
	if (s->side[side ^ 1].tr != SR_TR_NONE) {
		s->paired = true;
		s->paired_at = s->last = now;
		return true;
	}
	s->first_auth = now;
	s->deadline = now + (left < wait ? left : wait); /* the peer can't come after expiry */
	return false;
}

bool relay_sess_is_from(const struct relay_sess *s, uint8_t side, uint8_t tr,
			const struct sockaddr_storage *from, socklen_t flen)
{
	const struct relay_side *sd = &s->side[side];

	return sd->tr == tr && sd->alen == flen && !memcmp(&sd->addr, from, flen);
}

double relay_sess_deadline(const struct relay_sess *s, const struct relay_limits *l)
{
	return s->paired ? s->last + l->idle_timeout : s->deadline;
}

enum relay_end relay_sess_due(const struct relay_sess *s, const struct relay_limits *l, double now)
{
	if (relay_sess_deadline(s, l) - now > 0)
		return RELAY_END_NONE;
	if (s->paired)
		return RELAY_END_IDLE;
	return joined(s) ? RELAY_END_UNPAIRED : RELAY_END_EXPIRED;
}

void relay_sess_count(struct relay_sess *s, uint8_t side, size_t n, double now)
{
	s->side[side].bytes += n;
	s->side[side].pkts++;
	s->last = now;
}

void relay_sess_touch(struct relay_sess *s, double now)
{
	if (s->paired)
		s->last = now;
}

uint32_t relay_sess_relay_id(const struct relay_sess *s, uint8_t side)
{
	return (s->slot << 1) | side;
}

size_t relay_sess_head(uint8_t *out, uint8_t type, uint8_t side, uint8_t x,
		       const uint8_t sid[SR_SID_LEN])
{
	out[0] = type;
	out[1] = SR_VERSION;
	out[2] = side;
	out[3] = x;
	memcpy(out + 4, sid, SR_SID_LEN);
	return SR_SIDE_HDR;
}

size_t relay_sess_welcome(const struct relay_sess *s, uint8_t side, uint8_t out[SR_WELCOME_LEN])
{
	relay_sess_head(out, SR_MSG_WELCOME, side, s->paired ? SR_WS_PAIRED : SR_WS_WAITING,
			s->sid);
	put_be32(out + SR_SIDE_HDR, relay_sess_relay_id(s, side));
	out[SR_SIDE_HDR + 4] = s->side[side ^ 1].tr;
	return SR_WELCOME_LEN;
}

uint8_t relay_sess_end_err(enum relay_end e)
{
	switch (e) {
	case RELAY_END_IDLE:
		return SR_ERR_IDLE;
	case RELAY_END_UNPAIRED:
		return SR_ERR_TIMEOUT;
	default:
		return SR_ERR_EXPIRED;
	}
}

const char *relay_sess_end_reason(enum relay_end e)
{
	switch (e) {
	case RELAY_END_IDLE:
		return "idle";
	case RELAY_END_UNPAIRED:
		return "unpaired timeout";
	case RELAY_END_EXPIRED:
		return "ticket expired unused";
	default:
		return "-";
	}
}
