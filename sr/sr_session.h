/* SPDX-License-Identifier: MIT */
/**
 * @file sr_session.h  Opening one side of a data-plane session: the
 * transcript (SR session id, both handles, both ephemeral keys, the AEAD),
 * the key derivation for our side, and the relay connect.
 *
 * Used by both endpoint roles (which connect through their ep_sys path
 * ops) and by the test peer (tests/helpers/sr_peer.c), so the three agree
 * on the transcript by construction.
 */
#ifndef PORTLESS_SR_SESSION_H
#define PORTLESS_SR_SESSION_H

#include <ev.h>

#include "dp_keys.h"
#include "sr_client.h"
#include "ticket.h"

/** Who is in the session. Side A is the client (requester), side B the device. */
struct sr_session_peers {
	const char *handle_a, *handle_b;
	const uint8_t *pk_a, *pk_b; /**< DP_PK_LEN each: the ephemeral keys */
	uint8_t aead;               /**< enum dp_aead both agreed on */
};

/**
 * Fill @p sp for our side @p side (SR_SIDE_A / SR_SIDE_B) of SR session
 * @p tk (our side's ticket; its session id goes into the transcript) with
 * our ephemeral pair @p mine: the direction keys, the ticket, @p limits
 * (NULL: defaults). Returns 0 or -errno; @p sp is wiped on failure. The
 * caller wipes @p sp after use.
 */
int sr_session_params_make(const struct dp_keypair *mine, int side,
			   const struct sr_session_peers *peers, const struct sr_side_ticket *tk,
			   const struct dp_limits *limits, struct sr_session_params *sp)
    __attribute__((warn_unused_result));

/** sr_session_params_make() then sr_client_new(): the relay connect. NULL on failure. */
struct sr_client *sr_session_open(struct ev_loop *loop, const struct dp_keypair *mine, int side,
				  const struct sr_session_peers *peers,
				  const struct sr_side_ticket *tk, const struct dp_limits *limits,
				  const struct sr_client_cbs *cb);

#endif
