/* SPDX-License-Identifier: MIT */
/**
 * @file relay_sess.h  One relay session and its life (I/O-free).
 *
 * A record is made when a ticket is issued (issued), a side joins it once
 * that side authenticated (waiting), the second side pairs it (paired), and
 * traffic keeps a paired session alive. It ends when its deadline passes:
 * an issued ticket ttl + 1 s after issue, a waiting side after the unpaired
 * timeout (sooner if the ticket expires first, as the peer cannot come
 * later), a paired session idle_timeout after its last traffic.
 *
 * Nothing here reads a clock: @p now is the relay's loop time in seconds,
 * @p unix_now wall-clock unix seconds (ticket expiries are in those). The
 * record holds no secret (side secrets derive from the master key).
 */
#ifndef PORTLESS_RELAY_SESS_H
#define PORTLESS_RELAY_SESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "handle.h"
#include "sr_proto.h"
#include "ticket.h"

/** The timeouts a session lives by (relay_cfg's). */
struct relay_limits {
	unsigned ticket_ttl;       /**< s a ticket stays usable */
	unsigned unpaired_timeout; /**< s an authenticated side waits for its peer */
	unsigned idle_timeout;     /**< s a paired session may be silent */
};

/**
 * A UDP side's claimed new address (a valid ROAM came from it) until the
 * side echoes the challenge sent there (relay_roam.h).
 */
struct relay_roam_pend {
	struct sockaddr_storage addr;
	socklen_t alen; /**< 0: nothing pending */
	uint8_t nonce[SR_ROAM_NONCE_LEN];
	double sent; /**< loop time of the last challenge (0: never) */
};

/** One side of a session. */
struct relay_side {
	struct sr_auth auth;          /**< challenge/verify state (ticket.h) */
	uint8_t tr;                   /**< enum sr_transport; SR_TR_NONE until it joined */
	struct sockaddr_storage addr; /**< the authenticated address */
	socklen_t alen;
	uint64_t roam_ctr; /**< highest ROAM counter accepted */
	struct relay_roam_pend pend;
	uint64_t bytes, pkts; /**< received from this side and relayed */
};

/** A session record; relay_table keys it by @p sid and by @p slot. */
struct relay_sess {
	struct relay_sess *hnext; /**< relay_table's hash chain */
	uint32_t slot;            /**< relay_table's; relay id = slot << 1 | side */
	uint8_t sid[SR_SID_LEN];
	char requester[HANDLE_BUF];
	char peer[HANDLE_BUF];                       /**< "" when not known */
	uint64_t expiry;                             /**< the ticket's, unix s */
	double created, first_auth, paired_at, last; /**< loop time */
	double deadline;                             /**< not paired: when it ends */
	bool paired;
	struct relay_side side[2];
};

/** Why a session ended by itself. */
enum relay_end {
	RELAY_END_NONE = 0, /**< not due */
	RELAY_END_EXPIRED,  /**< ticket expired unused */
	RELAY_END_UNPAIRED, /**< a side waited too long */
	RELAY_END_IDLE,     /**< paired, silent too long */
};

/** A fresh issued record (zeroed first) for ticket @p t, issued at @p now. */
void relay_sess_init(struct relay_sess *s, const struct sr_ticket *t, const char *requester,
		     const char *peer, const struct relay_limits *l, double now);

/**
 * Side @p side authenticated over @p tr from @p from: it joins. Returns true
 * when this paired the session (the other side was in), false when it now
 * waits for its peer.
 */
bool relay_sess_join(struct relay_sess *s, uint8_t side, uint8_t tr,
		     const struct sockaddr_storage *from, socklen_t flen,
		     const struct relay_limits *l, double now, uint64_t unix_now);

/** Has @p side joined over @p tr from exactly @p from? */
bool relay_sess_is_from(const struct relay_sess *s, uint8_t side, uint8_t tr,
			const struct sockaddr_storage *from, socklen_t flen);

/** When @p s ends unless something happens first (loop time). */
double relay_sess_deadline(const struct relay_sess *s, const struct relay_limits *l);

/** Is @p s due to end at @p now, and why? RELAY_END_NONE when not. */
enum relay_end relay_sess_due(const struct relay_sess *s, const struct relay_limits *l, double now);

/** @p n bytes from @p side were relayed (one packet, read or splice) at @p now. */
void relay_sess_count(struct relay_sess *s, uint8_t side, size_t n, double now);

/** A keepalive from a side at @p now: a paired session is not idle. */
void relay_sess_touch(struct relay_sess *s, double now);

/** The relay id of @p side (what its data packets carry). */
uint32_t relay_sess_relay_id(const struct relay_sess *s, uint8_t side);

/** Write the head of a side message (any session id); returns SR_SIDE_HDR. */
size_t relay_sess_head(uint8_t *out, uint8_t type, uint8_t side, uint8_t x,
		       const uint8_t sid[SR_SID_LEN]);

/** The WELCOME for @p side (waiting or paired); returns SR_WELCOME_LEN. */
size_t relay_sess_welcome(const struct relay_sess *s, uint8_t side, uint8_t out[SR_WELCOME_LEN]);

/** The ERROR code (enum sr_err) sent to the sides for @p e. */
uint8_t relay_sess_end_err(enum relay_end e);

/** The reason logged for @p e ("idle", "unpaired timeout", ...). */
const char *relay_sess_end_reason(enum relay_end e);

#endif
