/* SPDX-License-Identifier: MIT */
/**
 * @file gso.h  TCP super-packets from a TUN with offloads (IFF_VNET_HDR +
 * TUNSETOFFLOAD): finish a partial checksum, or cut a super-packet into
 * MSS-sized segments in user space (for a path that carries at most one
 * MTU per datagram). Pure functions over bytes; no I/O.
 *
 * A super-packet is one IPv4 or IPv6 (no extension headers) TCP packet whose
 * IP length covers the whole payload and whose TCP checksum field holds the
 * pseudo-header sum (virtio NEEDS_CSUM). gso_csum_finish() turns it (or any
 * NEEDS_CSUM packet) into an ordinary valid packet, which a receiver may hand
 * to its own TUN as it is: the kernel accepts a TCP segment above the MSS.
 */
#ifndef PORTLESS_GSO_H
#define PORTLESS_GSO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/** GSO metadata of one packet read from a TUN (from struct virtio_net_hdr). */
struct tun_gso {
	uint8_t needs_csum; /**< 1: checksum at csum_start + csum_offset is partial */
	uint8_t type;       /**< enum gso_type */
	uint16_t size;      /**< payload bytes per segment (the MSS) */
	uint16_t csum_start, csum_offset;
};

enum gso_type {
	GSO_NONE = 0,
	GSO_TCP4 = 1,
	GSO_TCP6 = 2,
};

/**
 * Complete the partial checksum of @p p (ones' complement sum from
 * @p start to the end, stored at start + offset). 0 or -EINVAL.
 */
int gso_csum_finish(uint8_t *p, size_t len, uint16_t start, uint16_t offset);

/**
 * Number of segments gso_segment() makes of super-packet @p p (>= 1), or
 * -EINVAL when it is not a TCP packet this module can cut (IP options are
 * fine; IPv6 extension headers and fragments are not).
 */
int gso_count(const uint8_t *p, size_t len, const struct tun_gso *g);

/** Length of the IP + TCP headers of super-packet @p p, or -EINVAL. */
int gso_hdr_len(const uint8_t *p, size_t len, const struct tun_gso *g);

/**
 * Write segment @p i (0-based, < gso_count()) of @p p into @p out: the IP and
 * TCP headers with lengths, IPv4 id (+i) and header checksum, sequence
 * number and flags (FIN/PSH only on the last, CWR only on the first) fixed,
 * the payload slice, and a full TCP checksum. Returns its length, -EINVAL,
 * or -ENOSPC when @p cap is too small.
 */
ssize_t gso_segment(const uint8_t *p, size_t len, const struct tun_gso *g, int i, uint8_t *out,
		    size_t cap);

/*
 * Coalescing, the receive side: consecutive TCP segments of one flow (what
 * gso_segment() made of a super-packet, or any in-order run of full-size
 * segments) are merged back into one packet of up to GSO_MERGE_MAX bytes with
 * its lengths and checksums recomputed, so a receiver writes one packet to its
 * TUN instead of dozens (the kernel accepts a TCP segment above the MSS, as
 * from the TCP transport's whole super-packets). Only plain segments merge:
 * IPv4 without options or fragments, IPv6 without extension headers, flags
 * ACK (+PSH on the last), same addresses, ports, ack, window, options and
 * IP fields, sequence numbers back to back, every segment but the last of
 * the first one's size. Anything else passes through unchanged, in order.
 */
enum {
	GSO_MERGE_MAX = 65535,   /**< largest merged IP packet */
	GSO_MERGE_IN_MAX = 2048, /**< packets above this pass through (already large) */
};

/** Where merged (and passed-through) packets go; < 0 counts as a failed write. */
typedef int (*gso_emit_fn)(void *arg, const uint8_t *p, size_t len);

/** One train being built (one flow at a time), in a caller's buffer. */
struct gso_merge {
	uint8_t *buf;
	size_t cap, len, ihl, thl;
	uint32_t next_seq;
	uint16_t mss;
	int nseg;
	uint64_t merged; /**< segments that went out merged (stats) */
};

/** Start empty with @p buf of @p cap bytes (>= GSO_MERGE_MAX for full trains). */
void gso_merge_init(struct gso_merge *m, uint8_t *buf, size_t cap);

/**
 * Add packet @p p (borrowed): merged into the train, or the train goes out
 * first and @p p starts a new one or goes out as it is. Returns 0, or -1 when
 * an emit failed (the packet is gone either way: like a failed TUN write).
 */
int gso_merge_push(struct gso_merge *m, const uint8_t *p, size_t len, gso_emit_fn emit, void *arg);

/** Send the train now (end of a receive batch). 0, or the emit's < 0. */
int gso_merge_flush(struct gso_merge *m, gso_emit_fn emit, void *arg);

#endif
