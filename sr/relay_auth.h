/* SPDX-License-Identifier: MIT */
/**
 * @file relay_auth.h  The relay's side of side authentication (I/O-free).
 *
 * HELLO -> CHALLENGE (the side's fresh nonce), AUTH -> verified (the side
 * may join its session) or ERROR. The MAC check and the once-only rule are
 * struct sr_auth's (ticket.h); this adds the session lookup, the answers on
 * the wire and the rule for retransmissions: a side that authenticated over
 * UDP and repeats its HELLO or AUTH from the same address (its WELCOME was
 * lost) gets its WELCOME again; anything else after success is refused
 * with SR_ERR_USED. A failed attempt never burns the secret.
 */
#ifndef PORTLESS_RELAY_AUTH_H
#define PORTLESS_RELAY_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "relay_table.h"
#include "ticket.h"

/** One handshake message: where it came from, and what came of it. */
struct relay_hs {
	/* in */
	uint8_t tr;                          /**< SR_TR_UDP or SR_TR_TCP: how it came */
	const struct sockaddr_storage *from; /**< the sender */
	socklen_t flen;
	double now;        /**< loop time */
	uint64_t unix_now; /**< wall clock (ticket expiry) */
	/* out */
	struct relay_sess *sess; /**< the session, when it was found */
	uint8_t side;
	bool authed; /**< the side proved its secret: join it to sess */
	bool failed; /**< an authentication failure (counted by the caller) */
};

/**
 * Handle HELLO or AUTH @p m (@p n bytes; other types and wrong lengths are
 * ignored) for a session in @p t, whose secrets @p iss derives. The answer
 * (CHALLENGE, WELCOME again or ERROR) goes into @p out; returns its length,
 * 0 for none (ignored, or authed: the caller joins the side and welcomes it).
 */
size_t relay_auth_handshake(const struct sr_issuer *iss, const struct relay_table *t,
			    const uint8_t *m, size_t n, struct relay_hs *hs,
			    uint8_t out[SR_SIDE_MSG_MAX]);

#endif
