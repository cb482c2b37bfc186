/* SPDX-License-Identifier: MIT */
/**
 * @file relay_roam.h  The relay's check of ROAM messages (I/O-free).
 *
 * ROAM is a side's keepalive and the only way to move a UDP side's address:
 * it names the side's relay id and session id, carries a counter that must
 * grow, and a MAC under the side's roam key (ticket.h). A valid ROAM from a
 * new source address moves the side there; with SR_ROAM_LEAVE the side ends
 * its session. Anything that does not verify changes nothing.
 */
#ifndef PORTLESS_RELAY_ROAM_H
#define PORTLESS_RELAY_ROAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "relay_table.h"
#include "ticket.h"

/** What to do about a ROAM. */
enum relay_roam {
	RELAY_ROAM_IGNORE = 0, /**< malformed: not a ROAM at all */
	RELAY_ROAM_DROP,  /**< unknown session or side, or no valid MAC/counter: count a drop */
	RELAY_ROAM_LEAVE, /**< valid LEAVE: end the session */
	RELAY_ROAM_TCP,   /**< valid, from a side on TCP: nothing to do */
	RELAY_ROAM_STAY,  /**< valid keepalive: answer WELCOME */
	RELAY_ROAM_MOVED, /**< valid, and the side moved to @p from: answer WELCOME there */
};

/**
 * Check ROAM @p m (@p n bytes) that came from @p from for a session in
 * @p t (secrets from @p iss). On a valid one its counter is recorded, a UDP
 * side's address becomes @p from and a paired session is not idle at @p now;
 * *sess and *side name the session (for any verdict after DROP).
 */
enum relay_roam relay_roam_check(const struct sr_issuer *iss, const struct relay_table *t,
				 const uint8_t *m, size_t n, const struct sockaddr_storage *from,
				 socklen_t flen, double now, struct relay_sess **sess,
				 uint8_t *side);

#endif
