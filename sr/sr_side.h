/* SPDX-License-Identifier: MIT */
/**
 * @file sr_side.h  Parsing of SR side messages (HELLO, CHALLENGE, AUTH,
 * WELCOME, ERROR, ROAM): pure, no I/O, no state. Layout: sr_proto.h.
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

#endif
