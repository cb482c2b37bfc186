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

#endif
