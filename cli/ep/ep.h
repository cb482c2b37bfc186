/* SPDX-License-Identifier: MIT */
/**
 * @file ep.h  The endpoint runtime shared by portlessd's roles: configuration,
 * the control-plane client (one monitor connection to our home) and the
 * dispatch of incoming notifications to the device and client roles.
 */
#ifndef PORTLESS_EP_H
#define PORTLESS_EP_H

#include <ev.h>
#include <stdbool.h>

#include "cp_client.h"
#include "ctl.h"
#include "dpath.h"
#include "ep_sys.h"
#include "envelope.h"
#include "ifscript.h"
#include "nlmon.h"
#include "pdconf.h"

struct netcfg;

/**
 * A role (client, device) as the endpoint core sees it: it dispatches every
 * event to each role it holds, and never knows more of a role than this.
 */
struct ep_role_ops {
	const char *name;
	/** A verified notification; true when the role took it (its type is the role's). */
	bool (*on_notification)(void *role, const struct envelope *env);
	/** Interface @p ifindex was deleted from outside. */
	void (*on_vanished)(void *role, int ifindex);
	/** The underlay changed: UDP relay paths re-bind and roam at once. */
	void (*on_underlay)(void *role);
	/** Status rows of the role's sessions; returns how many (<= max). */
	size_t (*status)(const void *role, struct ctl_row *rows, size_t max);
	/**
	 * Would the role take a notification of @p type from @p from? Asked
	 * before the sender's keys are fetched or anything is cached: what no
	 * role accepts costs nothing and pins nothing.
	 */
	bool (*accepts)(const void *role, const char *from, uint16_t type);
	/**
	 * Does the role need identity @p handle (its policy names it, or its
	 * user asked for it)? 0, with an expected key fingerprint in @p fpr
	 * (*have_fpr) when the policy names one; -EPERM when not.
	 */
	int (*wants_keys)(const void *role, const char *handle, char fpr[ID_FPR_BUF],
			  bool *have_fpr);
	/** @p handle was revoked (by its home, or here): its sessions end. */
	void (*on_revoked)(void *role, const char *handle);
	/** Call @p each with every peer handle the role has sessions with. */
	void (*peers)(const void *role, void (*each)(void *arg, const char *handle), void *arg);
};

enum { EP_ROLE_DEVICE, EP_ROLE_CLIENT, EP_ROLES };

struct ep {
	struct ev_loop *loop;
	const struct pdconf *conf;
	const struct ep_sys *sys; /**< the seam to the world (ep_sys_default) */
	struct cp_client_cfg cpcfg;
	struct cp_client *cp;
	struct netcfg *nc;
	struct nlmon *mon; /**< link/address/route events, or NULL (then read errors tell) */
	struct dpath dp;   /**< the data path's scratch, shared by every session */
	struct {
		const struct ep_role_ops *ops;
		void *obj;
	} role[EP_ROLES]; /**< set by the roles' constructors, cleared by their destructors */
	bool cp_up;
	ev_stat pins_w; /**< known_identities: a local `portless revoke` takes effect at once */
	/** Optional: told when the control-plane connection goes up/down. */
	void (*on_cp_state)(struct ep *ep, bool up);
};

/**
 * Load identity and control-plane settings (key dir from the config; the
 * config's [controlplane] overrides cp.conf), open netlink, connect the
 * monitor. Returns 0 or -errno with a one-line reason in @p err.
 */
int ep_init(struct ep *ep, struct ev_loop *loop, const struct pdconf *conf, char *err,
	    size_t errlen) __attribute__((warn_unused_result));

/** Free the control-plane client, netlink handles and data-path buffers (roles are freed by their owner). */
void ep_fini(struct ep *ep);

/**
 * Tell the netlink monitor about one of our TUN interfaces (ep_watch) or
 * that we are about to close it (ep_unwatch): if something else deletes a
 * watched interface, every role hears on_vanished().
 * Best effort: without a monitor, or past NLMON_MAX_WATCH, the role finds
 * out from its next TUN read error instead.
 */
void ep_watch(struct ep *ep, const char *ifname);
void ep_unwatch(struct ep *ep, const char *ifname);

/**
 * Run the configured [interface] ifup (@p env->phase "up") or ifdown script
 * for one of our interfaces, waiting at most script-timeout; a failure is
 * logged (the interface stays as it is). Nothing when none is configured.
 */
void ep_ifscript(struct ep *ep, const struct ifscript_env *env);

/** The data plane's key limits from [session] (the rest at their defaults). */
void ep_dp_limits(const struct ep *ep, struct dp_limits *l);

/**
 * For tests: an endpoint on @p sys without a control-plane client or
 * netlink (the fakes stand in); @p id is our identity (borrowed).
 * 0 or -ENOMEM.
 */
int ep_init_with(struct ep *ep, struct ev_loop *loop, const struct pdconf *conf,
		 const struct ep_sys *sys, const struct identity *id)
    __attribute__((warn_unused_result));

/** Register (or with @p ops NULL, remove) role @p which. */
void ep_set_role(struct ep *ep, int which, const struct ep_role_ops *ops, void *obj);

/** The endpoint clock (ep->sys->now). */
double ep_now(const struct ep *ep);

/** Send a notification through the control plane (ep->sys->notify). */
int ep_notify(struct ep *ep, const char *to, uint16_t type, const uint8_t *payload, size_t len,
	      uint32_t ttl_s, cp_done_cb cb, void *arg) __attribute__((warn_unused_result));

/** Our handle. */
const char *ep_handle(const struct ep *ep);

/** Hex of a session id, for logs and key comments (33 bytes with NUL). */
void ep_sid_hex(const uint8_t sid[16], char out[33]);

#endif
