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
#include "dp_seal.h"
#include "gso.h"
#include "ifscript.h"
#include "pkt.h"
#include "tun.h"
#include "nlmon.h"
#include "pdconf.h"

struct devrole;
struct clirole;

struct ep {
	struct ev_loop *loop;
	const struct pdconf *conf;
	struct cp_client_cfg cpcfg;
	struct cp_client *cp;
	struct netcfg *nc;
	struct nlmon *mon;   /**< link/address/route events, or NULL (then read errors tell) */
	struct devrole *dev; /**< device role, or NULL */
	struct clirole *cli; /**< client role, or NULL */
	bool cp_up;
	bool merge; /**< coalesce received TCP segments (off with PORTLESS_TUN_OFFLOAD=0) */
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

/** Free the control-plane client and netlink handles (roles are freed by their owner). */
void ep_fini(struct ep *ep);

/**
 * Tell the netlink monitor about one of our TUN interfaces (ep_watch) or
 * that we are about to close it (ep_unwatch): if something else deletes a
 * watched interface, its role hears devrole_on_vanished()/clirole_on_vanished().
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

/**
 * A session's receive side into its TUN. Over UDP every packet is one
 * MTU-sized datagram; consecutive TCP segments of a flow are merged back
 * into one packet (gso_merge) so the TUN takes one write per ~64 KiB instead
 * of one per segment. Over TCP packets arrive whole and go straight in.
 */
struct ep_rx {
	struct gso_merge gm;
	uint8_t *buf; /**< GSO_MERGE_MAX bytes, made on first use */
};

/** Deliver one received packet (borrowed) to @p tun. 0, or < 0 when a write failed. */
int ep_rx_packet(const struct ep *ep, struct ep_rx *rx, struct tun_dev *tun, int transport,
		 const struct pkt *p);

/** End of a receive batch: what is held back goes to @p tun now. */
void ep_rx_flush(struct ep_rx *rx, struct tun_dev *tun);

/** Free the buffer (a held-back train is dropped). */
void ep_rx_free(struct ep_rx *rx);

/** The data plane's key limits from [session] (the rest at their defaults). */
void ep_dp_limits(const struct ep *ep, struct dp_limits *l);

/** True when a TUN read error means the interface is gone (-EBADFD, -EIO, ...). */
bool ep_tun_gone(long err);

/** Our handle. */
const char *ep_handle(const struct ep *ep);

/** Hex of a session id, for logs and key comments (33 bytes with NUL). */
void ep_sid_hex(const uint8_t sid[16], char out[33]);

#endif
