/* SPDX-License-Identifier: MIT */
/**
 * @file dp_seal.h  Per-packet AEAD for the data plane, in place in a struct pkt.
 *
 * I/O-free. A dp_state holds one side's keys (guarded sodium_malloc memory,
 * wiped by dp_state_free), the 64-bit send counter (the nonce), receive keys
 * for the previous, current and next key epoch each with its own replay
 * window, and the in-band rekey exchange:
 *
 *   initiator: dp_rekey_poll() -> REKEY_INIT(epoch, new pk)    (sealed as DATA_CTRL)
 *   responder: dp_ctrl_input(INIT) -> REKEY_RESP(epoch, new pk); derives the
 *              next keys but keeps sending with the old ones
 *   initiator: dp_ctrl_input(RESP) -> switches both directions, answers KEEPALIVE
 *   responder: the first packet that opens under the next keys switches it too.
 *
 * Packet layout: sr_proto.h ("data packets").
 */
#ifndef PORTLESS_DP_SEAL_H
#define PORTLESS_DP_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dp_keys.h"
#include "pkt.h"

/** When to rekey and when to give up. */
struct dp_limits {
	uint64_t rekey_after_packets;  /**< sent under one key (default 2^32) */
	double rekey_after_seconds;    /**< age of the send key (default 120) */
	uint64_t reject_after_packets; /**< hard stop: sealing refuses (default 2^64 - 2^16) */
};

/** Defaults of struct dp_limits. */
void dp_limits_default(struct dp_limits *l);

struct dp_state;

/**
 * New state from derived keys (copied; the caller wipes @p k). @p lim may be
 * NULL for defaults. NULL on ENOMEM or unusable AEAD.
 */
struct dp_state *dp_state_new(const struct dp_keys *k, const struct dp_limits *lim, double now);

/** Wipe every key and free; NULL is a no-op. */
void dp_state_free(struct dp_state *s);

/**
 * Seal the data of @p p in place: prepend the 16-byte header (type,
 * phase, @p relay_id, counter) into the headroom and append the tag.
 * Borrows @p p. Returns 0, -ENOSPC (head/tailroom short), -ESTALE (counter
 * exhausted: close the session) or -EINVAL.
 */
int dp_seal(struct dp_state *s, uint8_t type, uint32_t relay_id, struct pkt *p)
    __attribute__((warn_unused_result));

/**
 * Open a sealed packet in place; on success @p p holds the plaintext and
 * *type its type (SR_MSG_DATA or SR_MSG_DATA_CTRL). Borrows @p p. Errors
 * (the packet is to be dropped and counted): -EPROTO (malformed), -ENOKEY
 * (no key for its phase), -ESTALE (behind the replay window), -EALREADY
 * (duplicate), -EBADMSG (tag did not verify).
 */
int dp_open(struct dp_state *s, struct pkt *p, uint8_t *type) __attribute__((warn_unused_result));

/**
 * Time to (re)send a REKEY_INIT? When so, writes the control message
 * (DPC_REKEY_LEN bytes) into @p msg and returns its length, else 0.
 */
size_t dp_rekey_poll(struct dp_state *s, double now, uint8_t msg[DPC_MAX]);

/** Force a rekey at the next dp_rekey_poll() (tests, operators). */
void dp_rekey_now(struct dp_state *s);

/** Result of dp_ctrl_input(). */
enum dp_ctrl_ev {
	DP_CTRL_NONE = 0,    /**< nothing to do (maybe a reply) */
	DP_CTRL_REKEYED = 1, /**< this side switched to new keys (maybe a reply) */
	DP_CTRL_CLOSE = 2,   /**< the peer closed the session */
};

/**
 * Feed an opened DATA_CTRL plaintext. A reply to seal and send (as
 * DATA_CTRL) is written into @p reply with its length in *reply_len (0 =
 * none). Returns an enum dp_ctrl_ev or -EPROTO for a malformed message.
 */
int dp_ctrl_input(struct dp_state *s, const uint8_t *msg, size_t len, double now,
		  uint8_t reply[DPC_MAX], size_t *reply_len) __attribute__((warn_unused_result));

/** Current key epoch (0 until the first rekey). */
uint32_t dp_epoch(const struct dp_state *s);

/** AEAD in use (enum dp_aead). */
int dp_aead(const struct dp_state *s);

/** Next send counter (packets sealed under the current key). */
uint64_t dp_tx_counter(const struct dp_state *s);

#endif
