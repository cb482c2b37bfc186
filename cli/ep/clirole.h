/* SPDX-License-Identifier: MIT */
/**
 * @file clirole.h  portlessd's client role: set up sessions to devices.
 *
 * One session, step by step: ask the SR (over the control plane) for a
 * ticket; send the device a session request (its side of the ticket, our
 * ephemeral data-plane key, the user); on the device's answer derive the
 * direction keys, bring up a TUN with the session's client address and a
 * point-to-point route to the device's virtual address, and join the SR as
 * side A. Progress and failures name the hop they wait on or failed at.
 */
#ifndef PORTLESS_CLIROLE_H
#define PORTLESS_CLIROLE_H

#include <stddef.h>

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

int clirole_new(struct ep *ep, struct clirole **out);
/** End every session (telling the devices), free. NULL: no-op. */
void clirole_free(struct clirole *c);

/**
 * Start a session to @p device as @p user. Callbacks follow on the loop;
 * exactly one done() ends it. Returns the session or NULL (bad arguments).
 */
struct csess *clirole_up(struct clirole *c, const char *device, const char *user,
			 const struct clirole_cbs *cb);

/** End a session on the user's behalf (tells the device); no callback follows. */
void clirole_down(struct csess *s);

/** End sessions to device handle or session id (hex) @p target; returns how many. */
unsigned clirole_down_target(struct clirole *c, const char *target);

/** MSG_SR_TICKET, MSG_SESSION_ANSWER, MSG_SESSION_END for us. */
void clirole_on_notification(struct clirole *c, const struct envelope *env);

/** Interface @p ifindex was deleted from outside: the session that owned it ends. */
void clirole_on_vanished(struct clirole *c, int ifindex);

/** The underlay changed: UDP relay paths re-bind and roam at once. */
void clirole_on_underlay(struct clirole *c);

/** Status rows of the client sessions. */
size_t clirole_status(const struct clirole *c, struct ctl_row *rows, size_t max);

#endif
