/* SPDX-License-Identifier: MIT */
/**
 * @file nlmon.h  Netlink event monitor (libmnl on libev).
 *
 * One NETLINK_ROUTE socket subscribed to link, IPv4/IPv6 address and route
 * changes, read from a libev watcher and turned into two events:
 *  - NLMON_VANISHED: a watched interface (our TUN) was deleted: tear the
 *    session down;
 *  - NLMON_UNDERLAY: an address on another interface, or a default route,
 *    changed (or events were lost): the SR connection may be dead, reconnect
 *    now instead of waiting for timeouts.
 * Underlay changes are coalesced: at most one NLMON_UNDERLAY per socket read
 * burst. Interfaces whose name starts with the ignore prefix (default "pl",
 * our own TUNs) never count as underlay.
 */
#ifndef PORTLESS_NLMON_H
#define PORTLESS_NLMON_H

#include <ev.h>
#include <net/if.h>
#include <stddef.h>

enum {
	NLMON_MAX_WATCH = 16, /**< interfaces one monitor watches */
};

/** Event kinds. */
enum nlmon_kind {
	NLMON_VANISHED = 1, /**< a watched interface is gone */
	NLMON_UNDERLAY = 2, /**< the underlay changed; see nlmon_event.what */
};

/** Bits of nlmon_event.what for NLMON_UNDERLAY. */
enum {
	NLMON_WHAT_ADDR = 1,   /**< an address was added or removed */
	NLMON_WHAT_ROUTE = 2,  /**< a default route was added or removed */
	NLMON_WHAT_RESYNC = 4, /**< the kernel dropped events (ENOBUFS): assume anything changed */
};

/** One event, borrowed for the duration of the callback. */
struct nlmon_event {
	enum nlmon_kind kind;
	int ifindex;           /**< VANISHED: the interface's index */
	char ifname[IFNAMSIZ]; /**< VANISHED: the name it was watched under */
	unsigned what;         /**< UNDERLAY: NLMON_WHAT_* bits */
};

struct nlmon;

/**
 * Event callback. It may call nlmon_free(): the monitor is then freed once
 * the dispatch that called it returns.
 */
typedef void (*nlmon_cb)(struct nlmon *m, const struct nlmon_event *ev, void *arg);

/**
 * Open the socket in the current network namespace and start watching on
 * @p loop. @p ifname (may be NULL) is watched at once, like nlmon_watch().
 * Returns 0, -ENODEV when @p ifname does not exist, or -errno.
 */
int nlmon_new(struct ev_loop *loop, const char *ifname, nlmon_cb cb, void *arg, struct nlmon **out)
    __attribute__((warn_unused_result));

/** Stop the watcher, close the socket and free; NULL is a no-op; safe inside the callback. */
void nlmon_free(struct nlmon *m);

/** Watch @p ifname (by its current index): -ENODEV, -ENOSPC (NLMON_MAX_WATCH), -EEXIST. */
int nlmon_watch(struct nlmon *m, const char *ifname) __attribute__((warn_unused_result));

/** Stop watching @p ifname; -ENOENT when not watched. */
int nlmon_unwatch(struct nlmon *m, const char *ifname);

/** Interfaces starting with @p prefix never count as underlay (NULL or "" for none). */
void nlmon_set_ignore_prefix(struct nlmon *m, const char *prefix);

/**
 * Process a buffer of netlink messages as if read from the socket (what the
 * libev callback does with each datagram); events are delivered from here.
 * Exposed so tests can feed crafted messages. Returns 0 or -EBADMSG.
 */
int nlmon_feed(struct nlmon *m, const void *buf, size_t len);

/** The socket fd (for diagnostics). */
int nlmon_fd(const struct nlmon *m);

#endif
