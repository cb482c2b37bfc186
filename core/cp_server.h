/* SPDX-License-Identifier: MIT */
/**
 * @file cp_server.h  portless-cp: directory + homes on one libev loop.
 *
 * Accepts control-plane connections, runs the transport handshake and
 * identity authentication, and serves the operations of cp_proto.h. Every
 * write of one loop iteration goes into one SQLite transaction committed
 * before the loop sleeps; answers that promise durability (NOTIFY, ENROLL,
 * PUT/DEL_RECORD) are sent only after that commit. Notifications are pushed
 * to the recipient's monitor connection as they arrive. When an identity
 * is revoked (cp_server_revoke(), or an operator's edit of the store seen at
 * start-up or by the 5 s housekeeping), every connection that fetched its
 * keys is told at once with CP_T_REVOKED.
 */
#ifndef PORTLESS_CP_SERVER_H
#define PORTLESS_CP_SERVER_H

#include <ev.h>
#include <stddef.h>

struct cp_server;

struct cp_server_cfg {
	const char *datadir;    /**< holds server.key and cp.db */
	const char *listen;     /**< "ip:port" */
	const char *advertise;  /**< "host:port" given out by LOOKUP (default: listen) */
	unsigned max_conns;     /**< 0: 65536 */
	double hs_timeout;      /**< s until authenticated (0: 10) */
	double idle_timeout;    /**< s without a frame, non-monitor (0: 120) */
	double monitor_timeout; /**< s without a frame on a monitor (0: 3 x CP_CLIENT_PING) */
};

/** Open the store, load the key, listen. NULL with a reason in @p err. */
struct cp_server *cp_server_new(struct ev_loop *loop, const struct cp_server_cfg *cfg, char *err,
				size_t errlen);

/** Commit, close every connection, free. NULL is a no-op. */
void cp_server_free(struct cp_server *s);

/**
 * Revoke the enrolled identity @p handle now, as `portless-cp revoke` does
 * through the store but without waiting for the next housekeeping tick:
 * committed to the store first, then its connections are closed and every
 * connection that fetched its keys is told (CP_T_REVOKED). Returns 0,
 * -ENOENT (not enrolled here, or already revoked) or -EIO (store failure;
 * nothing is told).
 */
int cp_server_revoke(struct cp_server *s, const char *handle) __attribute__((warn_unused_result));

/** Counters for logs/benchmarks. */
struct cp_server_stats {
	unsigned long conns, monitors, homes;
	unsigned long long notifies, pushes, acks, commits;
};
void cp_server_get_stats(const struct cp_server *s, struct cp_server_stats *st);

#endif
