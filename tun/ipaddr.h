/* SPDX-License-Identifier: MIT */
/**
 * @file ipaddr.h  One small value type for IPv4/IPv6 addresses and prefixes.
 *
 * Used by every tun/ module (netcfg, addrplan, filter) so they agree on one
 * representation: family, prefix length and 16 bytes in network order (IPv4
 * uses the first 4). An address is a prefix whose length is the full width.
 */
#ifndef PORTLESS_IPADDR_H
#define PORTLESS_IPADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	IPADDR_STRLEN = 64, /**< buffer for ipaddr_str(), with "/len" */
};

/** An IPv4 or IPv6 address with a prefix length. Compare with ipaddr_equal(). */
struct ipaddr {
	uint8_t family; /**< AF_INET or AF_INET6; 0 = unset */
	uint8_t plen;   /**< prefix length: 0..32 or 0..128 */
	uint8_t a[16];  /**< network byte order; IPv4 in a[0..3], rest zero */
};

/** Number of address bits for @p family (32 or 128; 0 for unknown). */
unsigned ipaddr_bits(int family);

/**
 * Parse "a.b.c.d", "a.b.c.d/len", "x::y" or "x::y/len". Without "/len" the
 * prefix length is the full width. Returns false on anything else (junk,
 * length out of range, trailing characters).
 */
bool ipaddr_parse(const char *s, struct ipaddr *out) __attribute__((warn_unused_result));

/** Build from raw bytes (4 or 16 of them, by @p family) and a prefix length. */
void ipaddr_from_bytes(struct ipaddr *out, int family, const void *bytes, unsigned plen);

/** Format as "addr/len" (or just "addr" when @p with_len is false); always NUL-terminates. */
const char *ipaddr_str(const struct ipaddr *a, bool with_len, char *buf, size_t cap);

/** Same family, same length and same bytes. */
bool ipaddr_equal(const struct ipaddr *x, const struct ipaddr *y);

/** Same family and the same address bytes (prefix lengths ignored). */
bool ipaddr_same_host(const struct ipaddr *x, const struct ipaddr *y);

/** True when address @p a lies inside prefix @p p (same family). */
bool ipaddr_contains(const struct ipaddr *p, const struct ipaddr *a);

/** Clear the host bits after the prefix length (so 10.1.2.3/8 becomes 10.0.0.0/8). */
void ipaddr_mask(struct ipaddr *p);

/** True for a full-width (host) address. */
static inline bool ipaddr_is_host(const struct ipaddr *a)
{
	return a->family && a->plen == ipaddr_bits(a->family);
}

#endif
