/* SPDX-License-Identifier: MIT */
/**
 * @file relay_roam.h  The relay's check of ROAM messages (I/O-free).
 *
 * ROAM is a side's keepalive and the start of moving a UDP side's address:
 * it names the side's relay id and session id, carries a counter that must
 * grow, and a MAC under the side's roam key (ticket.h). With SR_ROAM_LEAVE
 * the side ends its session. Anything that does not verify changes nothing.
 *
 * Return routability: a valid ROAM from a new source address proves the
 * key, not that the address is the side's (a key holder can spoof it). The
 * relay keeps sending to the old, proven address, records the new one as
 * pending with a fresh random nonce and sends a ROAM_CHAL there (no longer
 * than the ROAM, at most one per RELAY_ROAM_GAP s per side); only a
 * ROAM_ECHO of that nonce under the roam key, from that same address within
 * RELAY_ROAM_TTL s, moves the side. So the relay never sends an unproven
 * address more than it received from it.
 */
#ifndef PORTLESS_RELAY_ROAM_H
#define PORTLESS_RELAY_ROAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "relay_table.h"
#include "ticket.h"

enum {
	RELAY_ROAM_GAP = 1, /**< s between two challenges of one side */
	RELAY_ROAM_TTL = 5, /**< s a challenge can be answered */
};

/** What to do about a ROAM or ROAM_ECHO. */
enum relay_roam {
	RELAY_ROAM_IGNORE = 0, /**< malformed: not a ROAM at all */
	RELAY_ROAM_DROP, /**< unknown session or side, or no valid MAC/counter/echo: count a drop */
	RELAY_ROAM_LEAVE,     /**< valid LEAVE: end the session */
	RELAY_ROAM_TCP,       /**< valid, from a side on TCP: nothing to do */
	RELAY_ROAM_STAY,      /**< valid keepalive: answer WELCOME */
	RELAY_ROAM_MOVED,     /**< valid echo: the side moved to @p from: answer WELCOME there */
	RELAY_ROAM_CHALLENGE, /**< valid, from a new address: send relay_roam_challenge() there */
	RELAY_ROAM_LIMITED, /**< valid, from a new address, a challenge went out just now: nothing */
};

/**
 * Check ROAM or ROAM_ECHO @p m (@p n bytes) that came from @p from for a
 * session in @p t (secrets from @p iss). A valid ROAM has its counter
 * recorded and keeps a paired session from idling at @p now; from a new
 * address it makes that address pending (CHALLENGE, or LIMITED). A valid
 * echo from the pending address moves the side there (MOVED). *sess and
 * *side name the session (for any verdict after DROP).
 */
enum relay_roam relay_roam_check(const struct sr_issuer *iss, const struct relay_table *t,
				 const uint8_t *m, size_t n, const struct sockaddr_storage *from,
				 socklen_t flen, double now, struct relay_sess **sess,
				 uint8_t *side);

/**
 * After RELAY_ROAM_CHALLENGE: the ROAM_CHAL for @p side's pending address
 * (its nonce, MAC'ed under the side's roam key). Returns SR_ROAM_CHAL_LEN.
 */
size_t relay_roam_challenge(const struct sr_issuer *iss, const struct relay_sess *s, uint8_t side,
			    uint8_t out[SR_ROAM_CHAL_LEN]);

#endif
