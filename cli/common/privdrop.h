/* SPDX-License-Identifier: MIT */
/**
 * @file privdrop.h  Least privilege for the portless programs.
 *
 * - portless-cp and portless-sr, started as root, switch to an unprivileged
 *   user after binding their sockets and opening their data (privdrop_user)
 *   and then confine themselves to the system calls they use with a seccomp
 *   filter (privdrop_seccomp). A denied call logs one line naming the call
 *   and kills the process (SIGSYS).
 * - portlessd as a device with `authorized-keys = command` (sshd asks it for
 *   the session keys; it writes into no home) and no client role switches
 *   to an unprivileged user keeping only CAP_NET_ADMIN
 *   (privdrop_user_net_admin) under its own seccomp filter (PRIVDROP_EP).
 * - otherwise portlessd stays uid 0 (it writes into users' homes, hands
 *   the client's files over) but keeps only CAP_NET_ADMIN, CAP_CHOWN,
 *   CAP_DAC_OVERRIDE and CAP_FOWNER, in every set including the bounding
 *   set, so children (interface scripts) inherit no more (privdrop_keep_caps).
 * All three are no-ops when the process is not root (e.g. under systemd,
 * which starts the servers as their own users already).
 */
#ifndef PORTLESS_PRIVDROP_H
#define PORTLESS_PRIVDROP_H

#include <stdbool.h>
#include <stddef.h>

/** The servers' user when --user is not given (if it exists; else "nobody"). */
#define PRIVDROP_DEFAULT_USER "portless"

/** Which server's system-call list privdrop_seccomp() installs. */
enum privdrop_profile {
	PRIVDROP_CP = 1, /**< portless-cp serve (sqlite store, TCP server) */
	PRIVDROP_SR = 2, /**< portless-sr (UDP/TCP relay + control-plane client) */
	PRIVDROP_EP = 3, /**< portlessd's device role (TUN, netlink, relay paths, scripts) */
};

/**
 * Switch from root to @p user (NULL: PRIVDROP_DEFAULT_USER if it exists,
 * else "nobody"): supplementary groups, gid, uid (real, effective, saved),
 * so root cannot be regained; PR_SET_NO_NEW_PRIVS. Directories in @p dirs
 * (NULL-terminated; may be NULL) are given to the user first, with the
 * files and directories directly inside them, because the server writes
 * there (store, pins); key files ("*.key") keep their owner (read before the
 * drop only; a later start as root must still accept them).
 *
 * When a directory in @p dirs is not reachable by the user (an ancestor
 * without search permission for it) the drop cannot work: with @p user NULL
 * the process stays root with a warning; with an explicit @p user it is an
 * error. Not root: returns 0 and does nothing.
 * Returns 0 (dropped or nothing to do) or -errno (message logged).
 */
int privdrop_user(const char *user, const char *const *dirs);

/**
 * privdrop_user() keeping CAP_NET_ADMIN (effective and permitted; nothing
 * else, bounding set cleared): portlessd's device role with
 * `authorized-keys = command` writes into no home, so it runs unprivileged
 * but for its TUN and netlink work.
 */
int privdrop_user_net_admin(const char *user, const char *const *dirs);

/**
 * Install the seccomp filter of @p profile (allow list; anything else:
 * log "seccomp: system call N (name) denied" and die by SIGSYS). Sets
 * PR_SET_NO_NEW_PRIVS. Returns 0 or -errno (message logged).
 */
int privdrop_seccomp(enum privdrop_profile profile);

/**
 * portlessd: when root, keep only CAP_NET_ADMIN, CAP_CHOWN,
 * CAP_DAC_OVERRIDE and CAP_FOWNER (effective, permitted, bounding; nothing
 * inheritable). Logs what it did. Returns 0 or -errno (message logged;
 * the daemon keeps running with what it has).
 */
int privdrop_keep_caps(void);

#endif
