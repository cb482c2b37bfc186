/* SPDX-License-Identifier: MIT */
/**
 * @file devrole.h  portlessd's device role.
 *
 * Owns the device's TUN (its stable virtual addresses), the packet filter,
 * the client address pool and the sessions. For each authorised session
 * request (policy first: an unauthorised request gets no answer and creates
 * nothing) it makes an ephemeral SSH key, installs it for the requested user
 * restricted to the session, answers sealed, joins the SR as side B, and
 * admits only that session's allowed traffic. Session end removes the key
 * line, the routes, the filter entry and the addresses, and wipes the keys.
 */
#ifndef PORTLESS_DEVROLE_H
#define PORTLESS_DEVROLE_H

#include <stddef.h>

#include "ctl.h"
#include "envelope.h"
#include "ep.h"

struct devrole;

/**
 * Start the role: remove key lines a crash left behind, derive and check the
 * virtual addresses, bring the TUN up, publish the device record, register
 * with @p ep (session requests, resumes and ends, interface and underlay
 * events arrive through the role ops; if our TUN is deleted from outside,
 * every session ends and the interface is made again).
 * Returns 0 or -errno with a reason in @p err.
 */
int devrole_new(struct ep *ep, struct devrole **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/** End every session (key lines removed, routes gone), close the TUN, free. NULL: no-op. */
void devrole_free(struct devrole *d);

/**
 * End the sessions past their max-duration or idle-timeout by the endpoint
 * clock (ep_now). The role's timers call the same check; tests with an
 * injected clock call this.
 */
void devrole_sweep(struct devrole *d);

/** The TUN interface name and the device's IPv4 as text. */
const char *devrole_ifname(const struct devrole *d);
/**
 * [device] authorized-keys = command: call @p each with every live session
 * key line of local user @p user (what sshd's AuthorizedKeysCommand prints);
 * returns how many. A session's line goes the moment the session ends.
 */
size_t devrole_key_lines(const struct devrole *d, const char *user,
			 void (*each)(void *arg, const char *line), void *arg);

/** The device's TUN, or NULL while it is being made again. */
struct tun_dev *devrole_tun(const struct devrole *d);
const char *devrole_addr4(const struct devrole *d);

#endif
