/* SPDX-License-Identifier: MIT */
/**
 * @file cp_dir.h  The directory: @name -> its home (host:port + server key).
 *
 * Behind a small ops table so a later issue can keep the one shared map in
 * an external store (e.g. Redis) and spread homes over several portless-cp
 * hosts. The embedded default (cp_dir_local_new) answers "this server" for
 * every identity this server hosts.
 */
#ifndef PORTLESS_CP_DIR_H
#define PORTLESS_CP_DIR_H

#include <stdbool.h>
#include <stdint.h>

#include "cp_proto.h"

/** Where an identity's home lives. */
struct cp_dir_entry {
	char hostport[CP_HOSTPORT_BUF];
	uint8_t server_pk[CP_KEY_LEN];
	bool local; /**< hosted by this very server */
};

/** A directory implementation. */
struct cp_dir_ops {
	/** 0 with @p out filled, -ENOENT when unknown, other -errno on failure. */
	int (*lookup)(void *impl, const char *handle, struct cp_dir_entry *out);
	void (*free)(void *impl);
};

struct cp_dir {
	const struct cp_dir_ops *ops;
	void *impl;
};

/**
 * Embedded directory: @p hosts(@p ctx, handle) says whether this server
 * hosts the identity; every hosted identity maps to @p advertise / @p pk.
 */
struct cp_dir *cp_dir_local_new(const char *advertise, const uint8_t pk[CP_KEY_LEN],
				bool (*hosts)(void *ctx, const char *handle), void *ctx);

/** Look @p handle up (see cp_dir_ops.lookup). */
int cp_dir_lookup(struct cp_dir *d, const char *handle, struct cp_dir_entry *out)
    __attribute__((warn_unused_result));

/** Free; NULL is a no-op. */
void cp_dir_free(struct cp_dir *d);

#endif
