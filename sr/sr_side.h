/* SPDX-License-Identifier: MIT */
/**
 * @file sr_side.h  Parsing of SR side messages (HELLO, CHALLENGE, AUTH,
 * WELCOME, ERROR, ROAM, ROAM_CHAL, ROAM_ECHO): pure, no I/O, no state.
 * Layout: sr_proto.h. The relay reads what sides send with sr_side_parse();
 * a side reads what the SR sends it with sr_side_parse_reply(), and answers
 * a roam challenge with sr_side_roam_echo().
 */
#ifndef PORTLESS_SR_SIDE_H
#define PORTLESS_SR_SIDE_H

#include <stddef.h>
#include <stdint.h>

#include "sr_proto.h"

/** A parsed side message; pointers borrow the input. */
struct sr_side_msg {
	uint8_t type;        /**< enum sr_msg */
	uint8_t side;        /**< enum sr_side (checked: A or B) */
	uint8_t x;           /**< type-specific byte (transport, error code, flag, state) */
	const uint8_t *sid;  /**< SR_SID_LEN bytes */
	const uint8_t *body; /**< bytes after the head */
	size_t body_len;
};

/** Exact length of side message @p type; 0 for types that are not side messages. */
size_t sr_side_len(uint8_t type);

/**
 * Parse one side message: the length must be exactly sr_side_len(type),
 * the version SR_VERSION and the side A or B. Nothing else is checked
 * (HELLO padding is not). Returns 0, -ENOTSUP (not a side message type)
 * or -EBADMSG.
 */
int sr_side_parse(const uint8_t *m, size_t n, struct sr_side_msg *out)
    __attribute__((warn_unused_result));

/** A message from the SR to a side (CHALLENGE, WELCOME or ERROR), decoded field by field. */
struct sr_side_reply {
	uint8_t type;           /**< SR_MSG_CHALLENGE, SR_MSG_WELCOME or SR_MSG_ERROR */
	const uint8_t *nonce;   /**< CHALLENGE: SR_NONCE_LEN bytes (borrows the input) */
	uint32_t relay_id;      /**< WELCOME: the side's relay id */
	uint8_t welcome_state;  /**< WELCOME: enum sr_welcome_state */
	uint8_t peer_transport; /**< WELCOME: the other side's transport */
	uint8_t err;            /**< ERROR: enum sr_err (any value; unknown ones are kept) */
};

/**
 * Parse a message the SR sent to side @p side of session @p sid: with the
 * rules of sr_side_parse(), a CHALLENGE, WELCOME or ERROR for exactly that
 * side and session. Fields the type does not have are zero (nonce NULL).
 * Returns 0; -ENOTSUP for types a side never receives (data, HELLO, AUTH,
 * ROAM); -EBADMSG when malformed; -ENOENT when it is for another side or
 * session.
 */
int sr_side_parse_reply(const uint8_t *m, size_t n, uint8_t side, const uint8_t sid[SR_SID_LEN],
			struct sr_side_reply *out) __attribute__((warn_unused_result));

/**
 * The MAC of a ROAM_CHAL or ROAM_ECHO @p m of @p n bytes (the mac is the
 * last SR_MAC_LEN of them and not covered) under roam key @p key.
 */
void sr_side_roam_mac(const uint8_t key[32], const uint8_t *m, size_t n, uint8_t mac[SR_MAC_LEN]);

/** Write the ROAM_CHAL with @p nonce for side @p side of session @p sid; returns its length. */
size_t sr_side_roam_chal(const uint8_t key[32], uint8_t side, const uint8_t sid[SR_SID_LEN],
			 const uint8_t nonce[SR_ROAM_NONCE_LEN], uint8_t out[SR_ROAM_CHAL_LEN]);

/**
 * A side's answer to ROAM_CHAL @p m (@p n bytes): check it is for side
 * @p side of session @p sid and carries the SR's MAC under @p key, then
 * write the ROAM_ECHO naming @p relay_id into @p out. Returns 0, -ENOTSUP
 * (not a ROAM_CHAL), -EBADMSG (malformed), -ENOENT (another side or
 * session) or -EACCES (the MAC does not verify: not from the SR).
 */
int sr_side_roam_echo(const uint8_t key[32], uint8_t side, const uint8_t sid[SR_SID_LEN],
		      uint32_t relay_id, const uint8_t *m, size_t n, uint8_t out[SR_ROAM_ECHO_LEN])
    __attribute__((warn_unused_result));

#endif
