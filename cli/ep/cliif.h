/* SPDX-License-Identifier: MIT */
/**
 * @file cliif.h  The client role's one TUN, shared by all its sessions.
 *
 * Every client session has its own client addresses (IPv4 and IPv6, chosen
 * by the device), which it adds to this one interface while it lives. Each
 * device address gets one host route through the interface, whose preferred
 * source is the address of one session to that device (so a plain `ssh
 * 100.x.y.z` leaves from a session's address); further sessions to the same
 * device share the route and their ssh binds to their own address
 * (`ssh -b`). A packet read from the TUN goes to the session that owns its
 * source address, and only when its destination is that session's device;
 * anything else is dropped. A received packet is written only when its
 * source is the session's device and its destination the session's own
 * address, and only as a reply to what this side opened (cliif_admit), so a
 * device can open nothing on this host and reach no other session.
 *
 * The interface exists while at least one session is attached: the first
 * attach makes it, the last detach removes it (with the kernel's routes).
 */
#ifndef PORTLESS_CLIIF_H
#define PORTLESS_CLIIF_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>

#include "dpath.h"
#include "filter.h"
#include "ipaddr.h"

struct ep;

enum { CLIIF_UDP_FLOWS = 32 /**< UDP flows a session remembers for their replies */ };

/** One session's place on the interface (embedded in the session). */
struct cliif_member {
	struct ipaddr c4, c6; /**< the session's client addresses */
	struct ipaddr d4, d6; /**< its device's addresses */
	const char *device;   /**< its device's handle (borrowed) */
	struct dpath_sess *dps;
	struct cliif_member *next;
	bool route4, route6; /**< this member's address is the route's source */
	uint64_t dropped;    /**< received packets cliif_admit() refused */
	struct {
		uint16_t local, remote; /**< ports of a UDP flow this side opened */
	} udp[CLIIF_UDP_FLOWS];
	unsigned udp_next;
};

struct cliif {
	struct ep *ep;
	struct tun_dev *tun;
	int ifindex;
	bool lost; /**< the interface went away: detach only forgets */
	ev_io tun_w;
	struct cliif_member *members;
	struct cliif_member *last; /**< the member the last packet went to */
	/** The interface is gone (deleted, or reads fail): the role ends every session. */
	void (*on_lost)(struct cliif *ci, const char *why);
};

void cliif_init(struct cliif *ci, struct ep *ep,
		void (*on_lost)(struct cliif *ci, const char *why));

/**
 * Put @p m's addresses on the interface (made first when it does not exist,
 * with @p mtu) and its device's routes in place. 0, or -errno with one
 * sentence in @p why (nothing of @p m stays behind).
 */
int cliif_attach(struct cliif *ci, struct cliif_member *m, unsigned mtu, char *why, size_t cap)
    __attribute__((warn_unused_result));

/** Take @p m off (its addresses, routes it alone needed); the last one removes the interface. */
void cliif_detach(struct cliif *ci, struct cliif_member *m);

/**
 * The received packet @p p may go into the TUN for @p m: from its device to
 * its own address, and only a reply to what this side opened: TCP but never
 * a SYN without ACK (the device opens no connection to the client), UDP from
 * a flow this side sent on, ICMP echo replies and errors; no fragments,
 * nothing unparseable. A refused packet is counted in m->dropped.
 */
bool cliif_admit(struct cliif_member *m, const struct pkt *p);

/**
 * Would @p m's addresses clash with a session already on the interface
 * (the same client address, or its device address belonging to another
 * device)? 0, or -EADDRINUSE with a sentence in @p why.
 */
int cliif_clash(const struct cliif *ci, const struct cliif_member *m, char *why, size_t cap);

/**
 * Send on what the TUN holds now (a session about to close: its program's
 * last packets, e.g. the FIN that ssh's exit queued, leave before the CLOSE).
 * The interface may be lost afterwards (on_lost was called).
 */
void cliif_drain(struct cliif *ci);

/** Turn on TUN offload (super-packets), once a session is up. */
void cliif_offload(struct cliif *ci);

/** The interface name, or "-" when there is none. */
const char *cliif_name(const struct cliif *ci);

#endif
