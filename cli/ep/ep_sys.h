/* SPDX-License-Identifier: MIT */
/**
 * @file ep_sys.h  What the endpoint's roles ask of the world, behind one seam.
 *
 * The roles never call the kernel, the relay or the control plane directly:
 * they go through a struct ep_sys (ep->sys). ep_sys_default is the real
 * thing (tun_ops_kernel, rtnetlink through netcfg, sr_client to the relay,
 * cp_client_notify, ~user/.ssh/authorized_keys, getpwnam, ev_now); a unit
 * test puts fakes in their place (tests/unit/test_roles.c) and drives a whole
 * session of each role on one loop, without root, sockets or real time.
 */
#ifndef PORTLESS_EP_SYS_H
#define PORTLESS_EP_SYS_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addrplan.h"
#include "cp_client.h"
#include "ipaddr.h"
#include "sr_client.h"
#include "tun.h"

struct netcfg;

/** Interface configuration (production: tun/netcfg.h; same contracts). */
struct ep_net_ops {
	int (*ifindex)(struct netcfg *nc, const char *name);
	int (*set_mtu)(struct netcfg *nc, int ifindex, unsigned mtu);
	int (*no_ipv6_ll)(struct netcfg *nc, int ifindex);
	int (*set_up)(struct netcfg *nc, int ifindex, bool up);
	int (*addr_add)(struct netcfg *nc, int ifindex, const struct ipaddr *local,
			const struct ipaddr *peer);
	int (*addr_del)(struct netcfg *nc, int ifindex, const struct ipaddr *local,
			const struct ipaddr *peer);
	int (*route_add)(struct netcfg *nc, int ifindex, const struct ipaddr *dst,
			 const struct ipaddr *src);
	int (*route_del)(struct netcfg *nc, int ifindex, const struct ipaddr *dst);
	int (*snapshot)(struct netcfg *nc, struct addrplan_host *h);
	const char *(*error)(const struct netcfg *nc);
};

/**
 * A session's relay path (production: sr/sr_client.h; same contracts). The
 * object is opaque to the roles: a fake may define its own struct sr_client.
 */
struct ep_path_ops {
	struct sr_client *(*open)(struct ev_loop *loop, const struct sr_session_params *p,
				  const struct sr_client_cbs *cb);
	int (*send)(struct sr_client *c, struct pkt *p);
	int (*send_train)(struct sr_client *c, uint8_t *buf, size_t seg, size_t last, int n);
	size_t (*mtu)(const struct sr_client *c);
	int (*transport)(const struct sr_client *c);
	int (*rebind)(struct sr_client *c);
	void (*close_reason)(struct sr_client *c, uint8_t reason);
	uint8_t (*peer_close_reason)(const struct sr_client *c);
	void (*stats)(const struct sr_client *c, struct sr_client_stats *st);
	void (*free)(struct sr_client *c);
};

struct ep_sys {
	/** The clock every role decision uses (timers only wake the roles up). */
	double (*now)(struct ev_loop *loop);
	const struct tun_ops *tun;
	const struct ep_net_ops *net;
	const struct ep_path_ops *path;
	/** Send a sealed notification (cp_client_notify's contract). */
	int (*notify)(struct cp_client *cp, const char *to, uint16_t type, const uint8_t *payload,
		      size_t len, uint32_t ttl_s, cp_done_cb cb, void *arg);
	/** authkeys_install() / authkeys_remove() (cli/ep/authkeys.h). */
	int (*key_install)(const char *user, const char *line);
	int (*key_remove)(const char *user, const uint8_t *sid, size_t sid_len, unsigned *removed);
	/** authkeys_remove_all(): start-up clean-up of @p users (NULL-terminated). */
	int (*key_remove_all)(const char *const *users, unsigned *removed);
	/** Publish a signed record at our home (cp_client_put_record's contract). */
	int (*put_record)(struct cp_client *cp, const char *name, const uint8_t *data, size_t len,
			  cp_done_cb cb, void *arg);
	/** The keys of @p handle (cp_client_get_keys's contract); NULL: not available. */
	int (*get_keys)(struct cp_client *cp, const char *handle, cp_keys_cb cb, void *arg);
	/** A local account of that name exists. */
	bool (*user_exists)(const char *user);
};

extern const struct ep_sys ep_sys_default;

#endif
