/* SPDX-License-Identifier: MIT */
/**
 * @file relay.h  The socket rendezvous server: tickets, side auth, pairing, relaying.
 *
 * One TCP listener and one UDP socket. Tickets are issued by relay_issue()
 * (portless-sr calls it when a MSG_SR_REQUEST arrives); each side then
 * connects out, says HELLO, answers the CHALLENGE with an AUTH, and gets a
 * WELCOME. Once both sides are in, the relay moves their sealed packets
 * between them without reading them: TCP<->TCP as a byte stream (spliced in
 * the kernel through a pipe per direction once nothing is buffered, else
 * buffered; back-pressured either way), UDP<->UDP datagram by datagram between the authenticated
 * addresses, and mixed sessions frame by frame. A UDP side's address only
 * changes on a ROAM message that proves the side's key, and only once the
 * new address echoed the challenge sent there (relay_roam.h).
 *
 * Limits: tickets expire (ticket_ttl), an authenticated side waits at most
 * unpaired_timeout for its peer, a paired session ends after idle_timeout
 * without traffic, at most max_sessions sessions and max_per_identity per
 * requester. One log line per session start and end (who, bytes, packets,
 * duration, reason). The relay never holds a session key.
 *
 * This file is the I/O: sockets, libev watchers, splicing, batching. The
 * decisions are I/O-free objects it calls with the time: relay_table.h (the
 * sessions and the caps), relay_sess.h (a session's life: join, pair,
 * deadlines), relay_auth.h (HELLO/AUTH) and relay_roam.h (ROAM).
 */
#ifndef PORTLESS_RELAY_H
#define PORTLESS_RELAY_H

#include <ev.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ticket.h"

/**
 * Where the relay reads the time. Either member NULL: the default (the
 * loop's ev_now(), the wall clock). A test moves both forward and calls
 * relay_tick() instead of waiting for real timers.
 */
struct relay_clock {
	double (*now)(void *arg);        /**< loop time, s: timeouts, durations, nonce ages */
	uint64_t (*unix_now)(void *arg); /**< unix s: ticket expiries */
	void *arg;
};

struct relay_cfg {
	struct sockaddr_storage tcp_addr; /**< bind address of the TCP listener */
	socklen_t tcp_len;
	struct sockaddr_storage udp_addr; /**< bind address of the UDP socket */
	socklen_t udp_len;
	char host[SR_HOST_MAX + 1]; /**< advertised address (put into tickets) */
	uint16_t adv_tcp_port;      /**< advertised ports; 0: the bound ones */
	uint16_t adv_udp_port;
	unsigned ticket_ttl;       /**< s a ticket stays usable (default 30) */
	unsigned unpaired_timeout; /**< s an authenticated side waits for its peer (30) */
	unsigned idle_timeout;     /**< s a paired session may be silent (300) */
	unsigned max_sessions;     /**< issued + paired sessions (10000) */
	unsigned max_per_identity; /**< sessions per requester (64) */
	unsigned max_handshakes;   /**< TCP connections not yet authenticated (1024) */
	size_t tcp_out_max;        /**< output queue per TCP side (1 MiB) */
	struct relay_clock clock;  /**< zero: the real clocks */
};

/** Fill @p c with the defaults above (addresses zero). */
void relay_cfg_default(struct relay_cfg *c);

struct relay_stats {
	uint64_t issued, paired, active, ended;
	uint64_t authed;         /**< sides that proved their secret (joined a session) */
	uint64_t bytes, packets; /**< relayed */
	uint64_t drop_unknown;   /**< datagrams for no session / from a wrong address */
	uint64_t drop_congested; /**< packets dropped because the TCP peer was full */
	uint64_t auth_fail;      /**< bad MAC, used secret, expired */
	uint64_t spliced;        /**< TCP<->TCP sessions handed to splice(2) */
	uint64_t roam_chal;      /**< ROAM_CHAL sent (a valid ROAM from a new address) */
};

struct relay;

/**
 * Bind and start. NULL on failure with -errno in *err. The program must
 * ignore SIGPIPE (portless-sr does): splice(2) into a socket whose peer
 * reset raises it, and splice has no MSG_NOSIGNAL.
 */
struct relay *relay_new(struct ev_loop *loop, const struct relay_cfg *cfg, int *err);

/** End every session (sides get an ERROR), close everything, wipe the master key. */
void relay_free(struct relay *r);

/**
 * Issue a ticket for @p requester (a handle) whose peer will be @p peer
 * ("" if unknown). Returns 0, -EUSERS (max_sessions), -EDQUOT
 * (max_per_identity) or -ENOMEM. @p t gets both secrets: seal it to the
 * requester, then wipe it.
 */
int relay_issue(struct relay *r, const char *requester, const char *peer, struct sr_ticket *t)
    __attribute__((warn_unused_result));

/**
 * End whatever is due at the relay's clock now: sessions past their
 * deadline (expired ticket, unpaired, idle) and connections that did not
 * authenticate in time, exactly as their timers would. The timers do this
 * by themselves; this is for a test that moved an injected clock.
 */
void relay_tick(struct relay *r);

/** Bound ports (useful with port 0). */
uint16_t relay_tcp_port(const struct relay *r);
uint16_t relay_udp_port(const struct relay *r);

void relay_get_stats(const struct relay *r, struct relay_stats *st);

#endif
