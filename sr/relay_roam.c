/* SPDX-License-Identifier: MIT */
#include "relay_roam.h"

#include <sodium.h>
#include <string.h>

#include "sr_side.h"
#include "wire.h"

static void roam_key(const struct sr_issuer *iss, const struct relay_sess *s, uint8_t side,
		     uint8_t key[32])
{
	uint8_t secret[SR_SECRET_LEN];

	sr_issuer_secret(iss, s->sid, side, secret);
	sr_roam_key(secret, key);
	sodium_memzero(secret, sizeof(secret));
}

/* The MAC under @p side's roam key, and a counter above the last one. */
static bool roam_ok(const struct sr_issuer *iss, struct relay_sess *s, uint8_t side,
		    const uint8_t *m)
{
	uint8_t key[32], mac[SR_MAC_LEN];
	uint64_t ctr = get_be64(m + SR_SIDE_HDR + 4);
	bool ok;

	roam_key(iss, s, side, key);
	sr_roam_mac(key, m, mac);
	ok = sodium_memcmp(mac, m + SR_ROAM_LEN - SR_MAC_LEN, SR_MAC_LEN) == 0 &&
	     ctr > s->side[side].roam_ctr;
	if (ok)
		s->side[side].roam_ctr = ctr;
	sodium_memzero(key, sizeof(key));
	return ok;
}

/* A valid ROAM from a new address: make it pending, at most once per RELAY_ROAM_GAP. */
static enum relay_roam pend(struct relay_side *sd, const struct sockaddr_storage *from,
			    socklen_t flen, double now)
{
	struct relay_roam_pend *p = &sd->pend;

	if (p->sent > 0 && now - p->sent < RELAY_ROAM_GAP)
		return RELAY_ROAM_LIMITED;
	memcpy(&p->addr, from, flen);
	p->alen = flen;
	randombytes_buf(p->nonce, sizeof(p->nonce));
	p->sent = now;
	return RELAY_ROAM_CHALLENGE;
}

/* A valid keepalive: from a new address, challenge it first. */
static enum relay_roam keepalive(struct relay_sess *s, uint8_t side,
				 const struct sockaddr_storage *from, socklen_t flen, double now)
{
	struct relay_side *sd = &s->side[side];
	enum relay_roam v = RELAY_ROAM_STAY;

	if (sd->tr != SR_TR_UDP)
		return RELAY_ROAM_TCP;
	if (!relay_sess_is_from(s, side, SR_TR_UDP, from, flen))
		v = pend(sd, from, flen, now);
	relay_sess_touch(s, now);
	return v;
}

/* ROAM_ECHO: the pending address's nonce, from that address, in time, under the roam key. */
static bool echo_ok(const struct sr_issuer *iss, const struct relay_sess *s, uint8_t side,
		    const uint8_t *m, const struct sockaddr_storage *from, socklen_t flen,
		    double now)
{
	const struct relay_roam_pend *p = &s->side[side].pend;
	uint8_t key[32], mac[SR_MAC_LEN];
	bool ok;

	if (s->side[side].tr != SR_TR_UDP || !p->alen || p->alen != flen ||
	    memcmp(&p->addr, from, flen) != 0 || now - p->sent > RELAY_ROAM_TTL)
		return false;
	roam_key(iss, s, side, key);
	sr_side_roam_mac(key, m, SR_ROAM_ECHO_LEN, mac);
	ok = sodium_memcmp(mac, m + SR_ROAM_ECHO_LEN - SR_MAC_LEN, SR_MAC_LEN) == 0 &&
	     sodium_memcmp(m + SR_SIDE_HDR + 4, p->nonce, SR_ROAM_NONCE_LEN) == 0;
	sodium_memzero(key, sizeof(key));
	return ok;
}

/* The echo proved @p from: the side moves there. */
static enum relay_roam move(struct relay_sess *s, uint8_t side, double now)
{
	struct relay_side *sd = &s->side[side];

	memcpy(&sd->addr, &sd->pend.addr, sd->pend.alen);
	sd->alen = sd->pend.alen;
	sd->pend.alen = 0;
	sodium_memzero(sd->pend.nonce, sizeof(sd->pend.nonce));
	relay_sess_touch(s, now);
	return RELAY_ROAM_MOVED;
}

enum relay_roam relay_roam_check(const struct sr_issuer *iss, const struct relay_table *t,
				 const uint8_t *m, size_t n, const struct sockaddr_storage *from,
				 socklen_t flen, double now, struct relay_sess **sess,
				 uint8_t *side)
{
	struct sr_side_msg sm;
	struct relay_sess *s;

	*sess = NULL;
	if (!n || (m[0] != SR_MSG_ROAM && m[0] != SR_MSG_ROAM_ECHO) ||
	    sr_side_parse(m, n, &sm) != 0)
		return RELAY_ROAM_IGNORE;
	s = relay_table_by_relay_id(t, get_be32(m + SR_SIDE_HDR), side);
	if (!s || *side != sm.side || memcmp(s->sid, sm.sid, SR_SID_LEN) ||
	    s->side[*side].tr == SR_TR_NONE)
		return RELAY_ROAM_DROP;
	if (sm.type == SR_MSG_ROAM_ECHO) {
		if (!echo_ok(iss, s, *side, m, from, flen, now))
			return RELAY_ROAM_DROP;
		*sess = s;
		return move(s, *side, now);
	}
	if (!roam_ok(iss, s, *side, m))
		return RELAY_ROAM_DROP;
	*sess = s;
	if (sm.x == SR_ROAM_LEAVE)
		return RELAY_ROAM_LEAVE;
	return keepalive(s, *side, from, flen, now);
}

size_t relay_roam_challenge(const struct sr_issuer *iss, const struct relay_sess *s, uint8_t side,
			    uint8_t out[SR_ROAM_CHAL_LEN])
{
	uint8_t key[32];
	size_t n;

	roam_key(iss, s, side, key);
	n = sr_side_roam_chal(key, side, s->sid, s->side[side].pend.nonce, out);
	sodium_memzero(key, sizeof(key));
	return n;
}
