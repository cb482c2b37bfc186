/* SPDX-License-Identifier: MIT */
/**
 * @file ifscript.h  Run the site's interface bring-up/tear-down scripts.
 *
 * portless-ifup runs after the C code has configured an interface,
 * portless-ifdown before it removes one. They get a clean environment:
 *   PORTLESS_IFNAME, PORTLESS_ROLE (device|client), PORTLESS_SESSION,
 *   PORTLESS_ADDR4, PORTLESS_ADDR6, PORTLESS_PEER4, PORTLESS_PEER6,
 *   PORTLESS_MTU, PORTLESS_PHASE (up|down), PATH.
 * A script runs only when configured (path non-NULL and non-empty) and
 * present; it gets stdin from /dev/null, its own process group, and is
 * killed (the whole group) when it outlives the timeout.
 */
#ifndef PORTLESS_IFSCRIPT_H
#define PORTLESS_IFSCRIPT_H

#include <stddef.h>

enum {
	IFSCRIPT_TIMEOUT_MS = 5000, /**< default timeout */
	IFSCRIPT_ERR_MAX = 256,
};

/** What the script is told; unset strings are passed as "". */
struct ifscript_env {
	const char *ifname;
	const char *role;    /**< "device" or "client" */
	const char *session; /**< session id as text */
	const char *addr4, *addr6, *peer4, *peer6;
	unsigned mtu;
	const char *phase; /**< "up" or "down" */
};

/**
 * Run @p path with @p env and wait at most @p timeout_ms (0: the default).
 * Blocks the calling thread for at most that long. Returns 0 when the script
 * is not configured, not present, or exited 0; -ETIMEDOUT (killed),
 * -ECHILD style failure as -EIO with @p err saying "script X exited with
 * status N" / "killed by signal N", or -errno when it could not be started
 * (e.g. -EACCES when not executable). @p err (may be NULL) gets a sentence.
 */
int ifscript_run(const char *path, const struct ifscript_env *env, unsigned timeout_ms, char *err,
		 size_t errlen) __attribute__((warn_unused_result));

#endif
