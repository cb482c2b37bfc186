/* SPDX-License-Identifier: MIT */
/**
 * @file sr_client.h  One endpoint's side of a session through the SR.
 *
 * Connects out to the SR named in a side ticket, authenticates the side
 * (HELLO -> CHALLENGE -> AUTH -> WELCOME), waits for the peer, then carries
 * sealed packets: sr_client_send() seals a plaintext pkt in place (the
 * caller leaves SR_HEADROOM in front and SR_TAILROOM behind) and sends it;
 * received packets are opened and handed to on_packet as plaintext.
 *
 * Transport: UDP first (the environment variable PORTLESS_TRANSPORT=udp|tcp
 * forces one when the caller left transport at SR_TR_NONE); when the UDP HELLO gets no answer within
 * udp_timeout (default 0.3 s) it falls back to a TCP stream of
 * length-prefixed frames by itself. on_up says which one is in use.
 * Keys rekey in band (dp_seal.h) after limits.rekey_after_* without
 * interrupting the session; when a rekey does not complete in time
 * (limits.reject_after_*: by default 3 x the rekey limits, e.g. because the
 * relay drops the exchange) the keys are refused both ways and the session
 * goes down with SR_DOWN_KEYS_EXPIRED on both sides. The SR host in the
 * ticket must be a numeric address: names are refused (never resolved on
 * the loop). All keys live in guarded memory and are wiped on free.
 *
 * All callbacks run on the loop; any of them may call sr_client_free().
 */
#ifndef PORTLESS_SR_CLIENT_H
#define PORTLESS_SR_CLIENT_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "dp_keys.h"
#include "dp_seal.h"
#include "pkt.h"
#include "ticket.h"

/** What a session needs. Copied by sr_client_new(); the caller wipes its copy. */
struct sr_session_params {
	struct sr_side_ticket ticket; /**< our side's part of the SR ticket */
	struct dp_keys keys;          /**< from dp_derive(); keys.side must equal ticket.side */
	struct dp_limits limits;      /**< zero: dp_limits_default() */
	uint8_t transport;            /**< SR_TR_NONE: auto (UDP, then TCP); or force one */
	double udp_timeout;           /**< s before falling back to TCP (0: 0.3) */
	double keepalive;             /**< s between keepalives (0: 15) */
	double connect_timeout;       /**< s to get authenticated and paired (0: 30) */
	double dead_after;            /**< s without an authentic packet from the peer before the
				       *   path counts as lost (0: 4 x keepalive); a closed SR UDP
				       *   port (ICMP unreachable) counts at once */
};

/** Why a session went down (on_down). */
enum sr_down {
	SR_DOWN_CLOSED = 1,      /**< the peer closed it (in-band CLOSE) */
	SR_DOWN_SR_ERROR = 2,    /**< the SR sent an ERROR (msg says which) */
	SR_DOWN_UNREACHABLE = 3, /**< could not reach / talk to the SR */
	SR_DOWN_TIMEOUT = 4,     /**< not paired within connect_timeout */
	SR_DOWN_EXHAUSTED = 5,   /**< send counter exhausted without a rekey */
	SR_DOWN_TRANSPORT = 6,   /**< the TCP connection broke */
	SR_DOWN_KEYS_EXPIRED =
	    7, /**< "keys expired: rekey did not complete" (reject_after_seconds) */
};

struct sr_client_cbs {
	/** Paired: packets flow. @p transport is SR_TR_UDP or SR_TR_TCP. */
	void (*on_up)(void *arg, int transport);
	/** A plaintext packet (borrowed for the call; the client reuses the buffer). */
	void (*on_packet)(void *arg, struct pkt *p);
	/** The session is down for good (after on_up or instead of it). Free the client. */
	void (*on_down)(void *arg, int reason, const char *msg);
	/** Optional: TCP back-pressure is over, sr_client_send() accepts again. */
	void (*on_writable)(void *arg);
	void *arg;
	/** Optional: a receive batch ended (flush what on_packet held back). */
	void (*on_rx_done)(void *arg);
};

/** Counters (drops are per reason; nothing dropped is ever delivered). */
struct sr_client_stats {
	uint64_t tx_packets, tx_bytes; /**< plaintext packets/bytes sent */
	uint64_t rx_packets, rx_bytes; /**< plaintext packets/bytes delivered */
	uint64_t drop_tag;             /**< tag did not verify (tampered or wrong key) */
	uint64_t drop_replay;          /**< duplicate counter */
	uint64_t drop_old;             /**< behind the replay window */
	uint64_t drop_nokey;           /**< unknown key phase */
	uint64_t drop_format;          /**< malformed */
	uint64_t drop_expired;         /**< under a key past the reject limits */
	uint64_t drop_congested;       /**< sr_client_send() refused: TCP queue full */
	uint32_t rekeys;               /**< completed key changes */
	uint32_t rebinds; /**< UDP socket re-opened after the local address went away */
};

struct sr_client;

/** Start connecting at once. NULL on bad parameters or ENOMEM. */
struct sr_client *sr_client_new(struct ev_loop *loop, const struct sr_session_params *p,
				const struct sr_client_cbs *cb);

/**
 * Seal @p p in place and send it (borrows @p p; its data is ciphertext
 * afterwards). Returns 0, -ENOTCONN (not up), -EMSGSIZE (over
 * SR_UDP_PLAIN_MAX on UDP / SR_TCP_PLAIN_MAX on TCP), -ENOSPC (head/
 * tailroom short), -ENOBUFS (TCP queue full: wait for on_writable).
 */
int sr_client_send(struct sr_client *c, struct pkt *p) __attribute__((warn_unused_result));

/** Limits of one sr_client_send_train() call's UDP GSO sends. */
enum {
	SR_TRAIN_SEGS = 64,     /**< datagrams per sendmsg (the kernel's UDP_MAX_SEGMENTS) */
	SR_TRAIN_BYTES = 61440, /**< bytes per sendmsg (one UDP length field) */
};

/**
 * UDP only: seal and send @p n plaintexts laid out at a stride of
 * seg + SR_DP_OVERHEAD bytes: plaintext i sits at
 * buf + i * (seg + SR_DP_OVERHEAD) + SR_DP_HDR and is @p seg bytes long,
 * except the last (@p last bytes, 1..seg). Each is sealed in place (header
 * and tag go into the gaps), then they leave in as few sendmsg(UDP_SEGMENT)
 * calls as possible (one send per datagram where the kernel lacks UDP GSO).
 * Returns 0 when at least part was sent, -ENOTCONN, -EPROTOTYPE (TCP),
 * -EINVAL (sizes), or the send's -errno.
 */
int sr_client_send_train(struct sr_client *c, uint8_t *buf, size_t seg, size_t last, int n)
    __attribute__((warn_unused_result));

/** True while sr_client_send() would refuse with -ENOBUFS. */
bool sr_client_congested(const struct sr_client *c);

/** SR_TR_UDP / SR_TR_TCP once up, SR_TR_NONE before. */
int sr_client_transport(const struct sr_client *c);

/** Largest plaintext sr_client_send() accepts now. */
size_t sr_client_mtu(const struct sr_client *c);

/** Re-open the UDP socket (new local port, e.g. after a network change) and roam. */
int sr_client_rebind(struct sr_client *c) __attribute__((warn_unused_result));

/** Ask for a rekey now (it completes in band). */
void sr_client_rekey(struct sr_client *c);

/**
 * Run the once-a-second work of an up session now (rekey, key expiry,
 * keepalives, liveness); the loop's timer does this by itself. For tests
 * that drive time with sr_client_set_clock().
 */
void sr_client_poll(struct sr_client *c);

/**
 * Test seam: every time-based decision of @p c reads @p now(@p arg) instead
 * of ev_now() (NULL restores ev_now). Timers still fire on the loop's time.
 */
void sr_client_set_clock(struct sr_client *c, double (*now)(void *arg), void *arg);

void sr_client_get_stats(const struct sr_client *c, struct sr_client_stats *st);

/**
 * The reason byte the in-band CLOSE of sr_client_free() carries (default 0;
 * the endpoints put their SESS_END_* there, so the peer learns why at once).
 */
void sr_client_close_reason(struct sr_client *c, uint8_t reason);

/** The reason byte of the peer's CLOSE; meaningful in on_down(SR_DOWN_CLOSED). */
uint8_t sr_client_peer_close_reason(const struct sr_client *c);

/** Send an in-band CLOSE when up, close, wipe every key, free. NULL: no-op. */
void sr_client_free(struct sr_client *c);

#endif
