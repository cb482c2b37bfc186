/* SPDX-License-Identifier: MIT */
#include "relay_roam.h"

#include <sodium.h>
#include <string.h>

#include "sr_side.h"
#include "wire.h"

/* The MAC under @p side's roam key, and a counter above the last one. */
static bool roam_ok(const struct sr_issuer *iss, struct relay_sess *s, uint8_t side,
		    const uint8_t *m)
{
	uint8_t secret[SR_SECRET_LEN], key[32], mac[SR_MAC_LEN];
	uint64_t ctr = get_be64(m + SR_SIDE_HDR + 4);
	bool ok;

	sr_issuer_secret(iss, s->sid, side, secret);
	sr_roam_key(secret, key);
	sr_roam_mac(key, m, mac);
	ok = sodium_memcmp(mac, m + SR_ROAM_LEN - SR_MAC_LEN, SR_MAC_LEN) == 0 &&
	     ctr > s->side[side].roam_ctr;
	if (ok)
		s->side[side].roam_ctr = ctr;
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(key, sizeof(key));
	return ok;
}

/* A valid keepalive: move a UDP side to @p from. */
static enum relay_roam keepalive(struct relay_sess *s, uint8_t side,
				 const struct sockaddr_storage *from, socklen_t flen, double now)
{
	struct relay_side *sd = &s->side[side];
	enum relay_roam v = RELAY_ROAM_STAY;

	if (sd->tr != SR_TR_UDP)
		return RELAY_ROAM_TCP;
	if (!relay_sess_is_from(s, side, SR_TR_UDP, from, flen)) {
		memcpy(&sd->addr, from, flen);
		sd->alen = flen;
		v = RELAY_ROAM_MOVED;
	}
	relay_sess_touch(s, now);
	return v;
}

enum relay_roam relay_roam_check(const struct sr_issuer *iss, const struct relay_table *t,
				 const uint8_t *m, size_t n, const struct sockaddr_storage *from,
				 socklen_t flen, double now, struct relay_sess **sess,
				 uint8_t *side)
{
	struct sr_side_msg sm;
	struct relay_sess *s;

	*sess = NULL;
	if (!n || m[0] != SR_MSG_ROAM || sr_side_parse(m, n, &sm) != 0)
		return RELAY_ROAM_IGNORE;
	s = relay_table_by_relay_id(t, get_be32(m + SR_SIDE_HDR), side);
	if (!s || *side != sm.side || memcmp(s->sid, sm.sid, SR_SID_LEN) ||
	    s->side[*side].tr == SR_TR_NONE || !roam_ok(iss, s, *side, m))
		return RELAY_ROAM_DROP;
	*sess = s;
	if (sm.x == SR_ROAM_LEAVE)
		return RELAY_ROAM_LEAVE;
	return keepalive(s, *side, from, flen, now);
}
