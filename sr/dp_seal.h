/* SPDX-License-Identifier: MIT */
/**
 * @file dp_seal.h  Per-packet AEAD for the data plane, in place in a struct pkt.
 *
 * I/O-free. A dp_state holds one side's keys (guarded sodium_malloc memory,
 * wiped by dp_state_free; an AES-256-GCM key's OpenSSL context, see
 * dp_aead.h, is cleansed and freed on rekey and by dp_state_free), the 64-bit
 * send counter (the nonce), receive keys
 * for the previous, current and next key epoch each with its own replay
 * window, and the in-band rekey exchange:
 *
 *   initiator: dp_rekey_poll() -> REKEY_INIT(epoch, new pk)    (sealed as kind DATA_CTRL)
 *   responder: dp_ctrl_input(INIT) -> REKEY_RESP(epoch, new pk); derives the
 *              next keys but keeps sending with the old ones
 *   initiator: dp_ctrl_input(RESP) -> switches both directions, answers KEEPALIVE
 *   responder: the first packet that opens under the next keys switches it too.
 *
 * Keys expire (like WireGuard's REJECT_AFTER_TIME): a key older than
 * reject_after_seconds, or one that sealed reject_after_packets packets, is
 * refused for sending and receiving, so a relay that drops the rekey
 * exchange ends the session instead of keeping one key in use forever.
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

/** The derived packet limit is never below this (an explicit one may be). */
#define DP_REJECT_PACKETS_MIN (1ULL << 32)

/** When to rekey and when to give up. */
struct dp_limits {
	uint64_t rekey_after_packets;  /**< sent under one key (default 2^32) */
	double rekey_after_seconds;    /**< age of the send key (default 120) */
	uint64_t reject_after_packets; /**< hard stop: a key that sealed this many is refused
					*   both ways (0 = 3 x rekey_after_packets, at least
					*   DP_REJECT_PACKETS_MIN; never above SR_DP_CTR_LIMIT) */
	double reject_after_seconds;   /**< hard stop: a key this old is refused both ways
					*   (0 = 3 x rekey_after_seconds) */
};

/** Defaults of struct dp_limits (the reject limits 0: derived from the rekey ones). */
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
 * Seal the data of @p p in place at time @p now: prepend the 15-byte clear
 * header (phase, @p relay_id, counter) and the kind byte @p type
 * (SR_MSG_DATA or SR_MSG_DATA_CTRL) into the headroom and append the tag. A
 * control message (at most DPC_PAD bytes) is zero-padded to DPC_PAD first,
 * so it needs DPC_PAD - len more tailroom. Borrows @p p. Returns 0, -ENOSPC
 * (head/tailroom short), -ESTALE (the key sealed reject_after_packets:
 * close the session), -EKEYEXPIRED (the key is older than
 * reject_after_seconds: close the session), -EIO (the crypto library
 * failed: drop the packet) or -EINVAL.
 */
int dp_seal(struct dp_state *s, uint8_t type, uint32_t relay_id, struct pkt *p, double now)
    __attribute__((warn_unused_result));

/**
 * Open a sealed packet in place at time @p now; on success @p p holds the
 * plaintext (a control message with its padding) and *type its kind
 * (SR_MSG_DATA or SR_MSG_DATA_CTRL). Borrows @p p. Errors (the packet is
 * to be dropped and counted): -EPROTO (malformed, other version), -ENOKEY
 * (no key for its phase), -EKEYEXPIRED (its key is past the reject limits),
 * -ESTALE (behind the replay window), -EALREADY (duplicate), -EBADMSG (tag
 * did not verify).
 */
int dp_open(struct dp_state *s, struct pkt *p, uint8_t *type, double now)
    __attribute__((warn_unused_result));

/**
 * Have the keys expired at @p now (the send key or the current receive key
 * past reject_after_seconds)? Then the session must end: its rekeys did not
 * complete in time.
 */
bool dp_expired(const struct dp_state *s, double now);

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
 * Feed an opened DATA_CTRL plaintext (trailing zero padding allowed). A reply to seal and send (as
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
