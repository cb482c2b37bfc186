/* SPDX-License-Identifier: MIT */
/**
 * @file netcfg.h  Interface configuration over rtnetlink (libnl-route-3).
 *
 * MTU, link up/down, addresses (with a point-to-point peer), routes, the
 * per-interface sysctls a session needs, and a snapshot of the host's
 * addresses and routes for addrplan_check(). No shelling out to ip(8).
 *
 * Every function returns 0 or -errno. On failure the handle keeps one
 * sentence naming the object and why (netcfg_error(), e.g. "address
 * 100.64.1.2/32 already on eth0"); netcfg logs it only at debug level so the
 * caller reports it once. A handle is one netlink socket in the network
 * namespace of the thread that opened it; not thread-safe.
 */
#ifndef PORTLESS_NETCFG_H
#define PORTLESS_NETCFG_H

#include <stdbool.h>
#include <stddef.h>

#include "addrplan.h"
#include "ipaddr.h"

enum {
	NETCFG_ERR_MAX = 256,
	NETCFG_SYSCTL_PATH_MAX = 128,
	NETCFG_SYSCTL_VAL_MAX = 32,
};

struct netcfg;

/** Open a route netlink socket. */
int netcfg_open(struct netcfg **out) __attribute__((warn_unused_result));

/** Close; NULL is a no-op. */
void netcfg_close(struct netcfg *nc);

/** The last error sentence ("" when the last call succeeded). */
const char *netcfg_error(const struct netcfg *nc);

/** Interface index for @p name, or -ENODEV. */
int netcfg_ifindex(struct netcfg *nc, const char *name) __attribute__((warn_unused_result));

/** Set the MTU (>= 68). */
int netcfg_link_set_mtu(struct netcfg *nc, int ifindex, unsigned mtu)
    __attribute__((warn_unused_result));

/** Bring the link up (true) or down (false). */
int netcfg_link_set_up(struct netcfg *nc, int ifindex, bool up) __attribute__((warn_unused_result));

/**
 * Stop the kernel from generating IPv6 link-local addresses on the link
 * (IFLA_INET6_ADDR_GEN_MODE = none): a TUN needs none, and without one the
 * kernel sends no router solicitations into the tunnel. Call before up.
 */
int netcfg_link_no_ipv6_ll(struct netcfg *nc, int ifindex) __attribute__((warn_unused_result));

/** Delete the link (for interfaces that are not TUNs we hold, e.g. leftovers after a crash). */
int netcfg_link_delete(struct netcfg *nc, int ifindex) __attribute__((warn_unused_result));

/**
 * Add @p local (its plen is the prefix length) to the link, with an optional
 * point-to-point @p peer (NULL for none). IPv6 addresses are added with
 * IFA_F_NODAD (usable at once, no duplicate detection on a private link).
 * Fails with -EEXIST ("address ... already on <dev>") when present anywhere.
 */
int netcfg_addr_add(struct netcfg *nc, int ifindex, const struct ipaddr *local,
		    const struct ipaddr *peer) __attribute__((warn_unused_result));

/** Remove an address added by netcfg_addr_add() (same @p local and @p peer). -EADDRNOTAVAIL when
 * absent. */
int netcfg_addr_del(struct netcfg *nc, int ifindex, const struct ipaddr *local,
		    const struct ipaddr *peer);

/**
 * Add a route to @p dst through the link (scope link, main table), with an
 * optional preferred source @p src (NULL for none). -EEXIST when present.
 */
int netcfg_route_add(struct netcfg *nc, int ifindex, const struct ipaddr *dst,
		     const struct ipaddr *src) __attribute__((warn_unused_result));

/** Remove a route added by netcfg_route_add(). -ESRCH when absent. */
int netcfg_route_del(struct netcfg *nc, int ifindex, const struct ipaddr *dst);

/** Fill @p h (cleared first) with every address and every non-local-table route in this namespace.
 */
int netcfg_host_snapshot(struct netcfg *nc, struct addrplan_host *h)
    __attribute__((warn_unused_result));

/** A saved sysctl value, restored by netcfg_sysctl_restore(). Zero-initialise. */
struct netcfg_sysctl {
	char path[NETCFG_SYSCTL_PATH_MAX]; /**< relative to /proc/sys */
	char old[NETCFG_SYSCTL_VAL_MAX];
	bool saved;
};

/**
 * Write @p value to /proc/sys/@p path (e.g. "net/ipv6/conf/pl0/accept_dad"),
 * remembering the old value in @p save. The path may not contain "..".
 */
int netcfg_sysctl_set(struct netcfg *nc, struct netcfg_sysctl *save, const char *path,
		      const char *value) __attribute__((warn_unused_result));

/** Put back the value saved by netcfg_sysctl_set(); no-op when nothing was saved. -ENOENT when the
 * interface went away. */
int netcfg_sysctl_restore(struct netcfg *nc, struct netcfg_sysctl *save);

/** Read /proc/sys/@p path into @p out (trailing newline removed). */
int netcfg_sysctl_get(struct netcfg *nc, const char *path, char *out, size_t cap)
    __attribute__((warn_unused_result));

/** Set net/ipv6/conf/<ifname>/accept_dad = 0, saving the old value in @p save. */
int netcfg_ipv6_disable_dad(struct netcfg *nc, const char *ifname, struct netcfg_sysctl *save)
    __attribute__((warn_unused_result));

#endif
