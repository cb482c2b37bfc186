/* SPDX-License-Identifier: MIT */
/**
 * @file addrplan.h  The virtual address plan: stable device addresses derived
 * from handles, conflict checks against the host, per-session client pools.
 *
 * Defaults (docs/NETWORK.md): devices get an IPv4 address inside
 * 100.64.0.0/10 and an IPv6 address inside the ULA prefix fd70:6c73:7300::/48,
 * both derived from the handle with BLAKE2b; session clients get addresses
 * from 100.127.0.0/16 and fd70:6c73:7300:ffff::/64, which device derivation
 * never returns. Everything here is pure (no I/O); netcfg_host_snapshot()
 * fills the host view the conflict check reads.
 */
#ifndef PORTLESS_ADDRPLAN_H
#define PORTLESS_ADDRPLAN_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipaddr.h"

#define ADDRPLAN_DEV4_DEFAULT  "100.64.0.0/10"
#define ADDRPLAN_DEV6_DEFAULT  "fd70:6c73:7300::/48"
#define ADDRPLAN_POOL4_DEFAULT "100.127.0.0/16"
#define ADDRPLAN_POOL6_DEFAULT "fd70:6c73:7300:ffff::/64"

enum {
	ADDRPLAN_POOL_MAX = 65536, /**< most client slots a pool tracks */
};

/** The configurable prefixes; fill with addrplan_defaults() then override. */
struct addrplan_cfg {
	struct ipaddr dev4, dev6;   /**< device derivation prefixes */
	struct ipaddr pool4, pool6; /**< client pools (device derivation avoids them) */
};

/** Fill @p cfg with the ADDRPLAN_*_DEFAULT prefixes. */
void addrplan_defaults(struct addrplan_cfg *cfg);

/**
 * Derive the device's stable IPv4 (/32) from @p handle inside @p prefix
 * (NULL: ADDRPLAN_DEV4_DEFAULT, avoiding ADDRPLAN_POOL4_DEFAULT). Never
 * returns an address whose last octet is 0 or 255, nor the prefix's own
 * network/broadcast address. Returns 0, or -EINVAL for a bad handle or a
 * prefix too small (longer than /24).
 */
int addrplan_device_v4(const char *handle, const struct ipaddr *prefix, struct ipaddr *out)
    __attribute__((warn_unused_result));

/** Like addrplan_device_v4() for IPv6 (/128) inside a ULA prefix (at most /96). */
int addrplan_device_v6(const char *handle, const struct ipaddr *prefix, struct ipaddr *out)
    __attribute__((warn_unused_result));

/**
 * The general form: derive inside @p prefix, never inside @p avoid (may be
 * NULL), and @p alt selects a stable alternative (0 is the normal address;
 * a site whose address conflicts configures alt = 1, 2, ...).
 */
int addrplan_device_ex(const char *handle, const struct ipaddr *prefix, const struct ipaddr *avoid,
		       unsigned alt, struct ipaddr *out) __attribute__((warn_unused_result));

/** One host address or route, as netcfg_host_snapshot() reports it. */
struct addrplan_host_entry {
	struct ipaddr addr;    /**< local address (with its prefix) or route destination */
	int ifindex;           /**< interface (0 for routes without one, e.g. blackhole) */
	char ifname[IFNAMSIZ]; /**< its name, or "" */
	bool is_route;         /**< false: interface address, true: route */
	uint8_t rtype;         /**< route type (RTN_UNICAST, RTN_BLACKHOLE, ...) */
	uint32_t table;        /**< route table */
};

/** The host's addresses and routes (a growable array). */
struct addrplan_host {
	struct addrplan_host_entry *e;
	size_t n, cap;
};

/** Append a copy of @p ent; 0 or -ENOMEM. */
int addrplan_host_add(struct addrplan_host *h, const struct addrplan_host_entry *ent)
    __attribute__((warn_unused_result));

/** Free the entries (the struct itself is the caller's). */
void addrplan_host_clear(struct addrplan_host *h);

/** Result of addrplan_check(), worst first. */
enum addrplan_conflict {
	ADDRPLAN_OK = 0,
	ADDRPLAN_ROUTE_COVERS = 1, /**< a broader route elsewhere covers it (our /32 wins; warn) */
	ADDRPLAN_ROUTE_EXACT = 2,  /**< the same host route exists on another interface */
	ADDRPLAN_ADDR_IN_USE = 3,  /**< another interface already has this address */
};

/**
 * Check @p addr against the host view; entries on @p own_ifindex (our TUN,
 * or 0) and default routes are ignored. Writes a sentence naming the object
 * and why into @p why (e.g. "address 100.64.1.2 already on eth0") unless
 * the result is ADDRPLAN_OK. ADDR_IN_USE and ROUTE_EXACT must stop the caller.
 */
enum addrplan_conflict addrplan_check(const struct addrplan_host *h, const struct ipaddr *addr,
				      int own_ifindex, char *why, size_t cap);

struct addrpool;

/**
 * A pool of client addresses: one slot per IPv4 address in @p pool4 (up to
 * ADDRPLAN_POOL_MAX), skipping last octets 0 and 255; when @p pool6 is given
 * (may be NULL) each slot also gets pool6 + the same offset. Allocation is
 * next-fit, so a released address is not handed out again at once.
 */
int addrpool_new(const struct ipaddr *pool4, const struct ipaddr *pool6, struct addrpool **out)
    __attribute__((warn_unused_result));

/** Free; NULL is a no-op. */
void addrpool_free(struct addrpool *p);

/** Take a free slot; fills @p v4 (/32) and @p v6 (/128, when the pool has IPv6 and v6 != NULL).
 * -ENOSPC when full. */
int addrpool_alloc(struct addrpool *p, struct ipaddr *v4, struct ipaddr *v6)
    __attribute__((warn_unused_result));

/** Give back the slot of @p v4 (or its IPv6 twin); -ENOENT when it was not allocated. */
int addrpool_release(struct addrpool *p, const struct ipaddr *addr);

/** Mark @p addr used for good (the device's own address, a host conflict); -ENOENT outside the
 * pool. */
int addrpool_reserve(struct addrpool *p, const struct ipaddr *addr);

/** Reserve every pool address the host already has or routes elsewhere; returns how many. */
size_t addrpool_reserve_host(struct addrpool *p, const struct addrplan_host *h, int own_ifindex);

/** True when @p addr is currently allocated (not merely reserved). */
bool addrpool_is_allocated(const struct addrpool *p, const struct ipaddr *addr);

/** Allocated slots. */
size_t addrpool_in_use(const struct addrpool *p);

/** Slots that can ever be allocated (usable addresses minus reservations). */
size_t addrpool_capacity(const struct addrpool *p);

#endif
