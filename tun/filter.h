/* SPDX-License-Identifier: MIT */
/**
 * @file filter.h  Device-side packet filter for the virtual network.
 *
 * Per session, admits only packets from that session's client address to the
 * device's virtual address on the allowed TCP ports (default 22) plus ICMP
 * echo (configurable), and from the device only the replies: TCP from an
 * allowed port (never a bare SYN) and ICMP echo replies, matched to the
 * session by destination. Everything else is dropped with a counter per
 * reason. Parsing is bounds-checked (`len - off < need`) through IPv4
 * options, IPv6 extension headers and fragment headers; any fragment (the
 * MTU keeps TCP whole) or anything unparseable is dropped, never guessed. No allocation or I/O on
 * the packet path: the functions borrow the packet and only read it.
 */
#ifndef PORTLESS_FILTER_H
#define PORTLESS_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipaddr.h"
#include "pkt.h"

enum {
	FILTER_MAX_PORTS = 16,    /**< allowed TCP ports per session */
	FILTER_MAX_EXTHDRS = 8,   /**< IPv6 extension headers walked before giving up */
	FILTER_DEFAULT_PORT = 22, /**< ssh */
};

/** Session id wildcard for filter_inbound(): find the session by source address. */
#define FILTER_ANY_SESSION UINT64_MAX

/** Verdict: FILTER_PASS, or why the packet was dropped. */
enum filter_reason {
	FILTER_PASS = 0,
	FILTER_TRUNCATED,  /**< shorter than its headers say */
	FILTER_MALFORMED,  /**< bad version, header length or length field */
	FILTER_FRAGMENT,   /**< a fragment, first or not (a datagram never passes in pieces) */
	FILTER_EXTHDR,     /**< IPv6 ext header chain (routing, too long, misplaced) or IPv4 source
	                      route */
	FILTER_NO_SESSION, /**< no such session / no session for the address */
	FILTER_WRONG_SRC,  /**< inbound: not the session's client; outbound: not the device */
	FILTER_WRONG_DST,  /**< inbound: not the device's virtual address */
	FILTER_PROTO,      /**< protocol not admitted (UDP, ESP, no-next-header, ...) */
	FILTER_PORT,       /**< TCP port not allowed */
	FILTER_ICMP,       /**< ICMP type not admitted (or echo disabled) */
	FILTER_OUT_SYN,    /**< the device tried to open a TCP connection */
	FILTER_REASON_COUNT
};

/** A short text for a reason ("pass", "truncated", ...). */
const char *filter_reason_str(enum filter_reason r);

/** What filter_parse() found. */
struct filter_info {
	struct ipaddr src, dst; /**< host addresses */
	uint8_t proto;          /**< upper-layer protocol after extension headers */
	bool first_fragment;    /**< offset 0 with more fragments to come */
	uint16_t sport, dport;  /**< TCP or UDP ports */
	uint8_t tcp_flags;      /**< TCP flags byte */
	uint8_t icmp_type, icmp_code;
	size_t l4_off; /**< offset of the upper-layer header */
	size_t ip_len; /**< packet length per the IP header */
};

/** Parse an IP packet's headers; FILTER_PASS or the reason it can't be judged. */
enum filter_reason filter_parse(const uint8_t *p, size_t len, struct filter_info *out);

/** One session's rule; zero-initialise then fill. */
struct filter_session_cfg {
	uint64_t id;           /**< caller's session id (not FILTER_ANY_SESSION) */
	struct ipaddr client4; /**< client's IPv4 (/32), family 0 if none */
	struct ipaddr client6; /**< client's IPv6 (/128), family 0 if none */
	const uint16_t *ports; /**< allowed TCP ports; NULL means { 22 } */
	size_t nports;         /**< entries in ports (<= FILTER_MAX_PORTS) */
	bool deny_icmp_echo;   /**< true: no ping */
	void *ctx;             /**< returned in filter_match */
};

/** The session a packet belongs to (filled when known, even for some drops). */
struct filter_match {
	uint64_t session_id; /**< FILTER_ANY_SESSION when none */
	void *ctx;
};

/** Counters (totals since filter_new()). */
struct filter_counters {
	uint64_t passed_in, passed_out;
	uint64_t drop_in[FILTER_REASON_COUNT], drop_out[FILTER_REASON_COUNT];
};

/** Per-session counters. */
struct filter_session_stats {
	uint64_t passed_in, passed_out, dropped_in, dropped_out;
};

struct filter;

/**
 * A filter for a device whose virtual addresses are @p dev4 and @p dev6
 * (either may be NULL), with room for @p max_sessions sessions.
 */
int filter_new(const struct ipaddr *dev4, const struct ipaddr *dev6, unsigned max_sessions,
	       struct filter **out) __attribute__((warn_unused_result));

/** Free; NULL is a no-op. */
void filter_free(struct filter *f);

/**
 * Add a session. -EEXIST when the id or a client address is already used,
 * -ENOSPC when full, -EINVAL for a bad config (no address, wrong family,
 * too many ports, port 0).
 */
int filter_session_add(struct filter *f, const struct filter_session_cfg *cfg)
    __attribute__((warn_unused_result));

/** Remove a session; -ENOENT when unknown. */
int filter_session_remove(struct filter *f, uint64_t id);

/** A session's counters; -ENOENT when unknown. */
int filter_session_stats(const struct filter *f, uint64_t id, struct filter_session_stats *st);

/**
 * Judge a packet that arrived over session @p session_id (or
 * FILTER_ANY_SESSION) and is about to be written to the device's TUN.
 * Borrows the packet. Returns FILTER_PASS or the drop reason (counted).
 */
enum filter_reason filter_inbound(struct filter *f, uint64_t session_id, const uint8_t *p,
				  size_t len, struct filter_match *m);

/**
 * Judge a packet read from the device's TUN: it passes only as a reply to a
 * session's client, and @p m names that session (where to send it).
 */
enum filter_reason filter_outbound(struct filter *f, const uint8_t *p, size_t len,
				   struct filter_match *m);

/** filter_inbound() on a struct pkt (borrowed). */
static inline enum filter_reason filter_inbound_pkt(struct filter *f, uint64_t sid,
						    const struct pkt *p, struct filter_match *m)
{
	return filter_inbound(f, sid, pkt_data(p), p->len, m);
}

/** filter_outbound() on a struct pkt (borrowed). */
static inline enum filter_reason filter_outbound_pkt(struct filter *f, const struct pkt *p,
						     struct filter_match *m)
{
	return filter_outbound(f, pkt_data(p), p->len, m);
}

/** Copy the totals. */
void filter_get_counters(const struct filter *f, struct filter_counters *c);

#endif
