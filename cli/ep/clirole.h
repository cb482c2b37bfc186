/* SPDX-License-Identifier: MIT */
/**
 * @file clirole.h  portlessd's client role: set up sessions to devices.
 *
 * One session, step by step: ask the SR (over the control plane) for a
 * ticket; send the device a session request (its side of the ticket, our
 * ephemeral data-plane key, the user); on the device's answer derive the
 * direction keys, put the session's client addresses on the role's one
 * TUN (cliif.h: shared by every session, a host route per device address),
 * and join the SR as side A. Any number of sessions, to one device or many,
 * for one local user or many, run at once, each ending on its own.
 * Progress and failures name the hop they wait on or failed at.
 */
#ifndef PORTLESS_CLIROLE_H
#define PORTLESS_CLIROLE_H

#include <stddef.h>
#include <sys/types.h>

#include "ctl.h"
#include "envelope.h"
#include "ep.h"
#include "sess.h"

struct clirole;
struct csess;

/** What a ready session hands the user (borrowed for the callback). */
struct clirole_ready {
	const uint8_t *sid;
	const char *device;
	const char *device_ip;
	const char *client_ip;
	const char *device_ip6;
	const char *client_ip6;
	const char *user;
	const char *sshkey;   /**< OpenSSH private key text (secret) */
	const char *hostkeys; /**< "type base64\n" lines of the device's sshd */
	const char *ifname;
	int transport; /**< SR_TR_UDP / SR_TR_TCP */
};

struct clirole_cbs {
	void (*progress)(void *arg, int hop, const char *text);
	void (*ready)(void *arg, const struct clirole_ready *r);
	/** Set-up failed (before ready) or the session ended (after). The session is gone. */
	void (*done)(void *arg, int hop, const char *text);
	void *arg;
};

/**
 * Start the role and register it with @p ep (its notifications, interface
 * and underlay events arrive through the role ops). No interface exists
 * until the first session has its answer.
 */
int clirole_new(struct ep *ep, struct clirole **out);
/** End every session (telling the devices), free. NULL: no-op. */
void clirole_free(struct clirole *c);

/**
 * Start a session to @p device as @p user for local user @p owner (whose
 * authorisation the caller checked), through @p relay (NULL or "": the
 * [client] sr list in order, each relay that gives no ticket in time, is
 * unknown or not connected handing over to the next; a lost path's resume
 * moves along the list the same way; else one relay of that list, no
 * fallback). Callbacks follow on the loop;
 * exactly one done() ends it. Returns the session or NULL (bad arguments).
 */
struct csess *clirole_up(struct clirole *c, const char *device, const char *user, uid_t owner,
			 const char *relay, const struct clirole_cbs *cb);

/** Status rows of the sessions of local user @p owner ((uid_t)-1: all). */
size_t clirole_status_of(const struct clirole *c, uid_t owner, struct ctl_row *rows, size_t max);

/** The role's one interface, or NULL while no session has one. */
struct tun_dev *clirole_tun(const struct clirole *c);

/** End a session on the user's behalf (tells the device); no callback follows. */
void clirole_down(struct csess *s);

/** End sessions to device handle or session id (hex) @p target; returns how many. */
unsigned clirole_down_target(struct clirole *c, const char *target);

#endif
