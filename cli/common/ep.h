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
#include "netcfg.h"
#include "pdconf.h"

struct devrole;
struct clirole;

struct ep {
	struct ev_loop *loop;
	const struct pdconf *conf;
	struct cp_client_cfg cpcfg;
	struct cp_client *cp;
	struct netcfg *nc;
	struct devrole *dev; /**< device role, or NULL */
	struct clirole *cli; /**< client role, or NULL */
	bool cp_up;
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

/** Free the control-plane client and netlink handle (roles are freed by their owner). */
void ep_fini(struct ep *ep);

/** Our handle. */
const char *ep_handle(const struct ep *ep);

/** Hex of a session id, for logs and key comments (33 bytes with NUL). */
void ep_sid_hex(const uint8_t sid[16], char out[33]);

#endif
