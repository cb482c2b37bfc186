/* SPDX-License-Identifier: MIT */
/**
 * @file cp_srv_fetched.h  Which identities' keys one connection fetched.
 *
 * portless-cp keeps one such set per authenticated connection so that a
 * revocation is pushed (CP_T_REVOKED) only to the connections whose client
 * may hold the revoked identity's keys in its cache. The set holds 64-bit
 * keyed hashes of handles (the server's SipHash key), not the handles: a
 * collision only makes the server tell a client about a revocation it did
 * not need, which is harmless (the news is true). It is bounded: past
 * CP_SRV_FETCHED_MAX distinct handles, or when memory runs out, the set
 * turns into "everything" and that connection hears of every revocation.
 * Pure: no I/O; the only allocation is the set's own array.
 */
#ifndef PORTLESS_CP_SRV_FETCHED_H
#define PORTLESS_CP_SRV_FETCHED_H

#include <stdbool.h>
#include <stdint.h>

enum {
	CP_SRV_FETCHED_MAX = 1024, /**< distinct handles tracked per connection (8 KiB) */
};

/** The handles one connection fetched. Zero-initialised is empty. */
struct cp_srv_fetched {
	uint64_t *h;  /**< hashes, in insertion order */
	uint32_t n;   /**< hashes held */
	uint32_t cap; /**< room in h */
	bool all;     /**< over the bound or out of memory: counts as having fetched every handle */
};

/** Remember a fetch of the handle hashing to @p hash (a repeat is not stored twice). */
void cp_srv_fetched_add(struct cp_srv_fetched *f, uint64_t hash);

/** Did the connection (perhaps) fetch the handle hashing to @p hash? */
bool cp_srv_fetched_has(const struct cp_srv_fetched *f, uint64_t hash);

/** Free the array; the set is empty again. */
void cp_srv_fetched_free(struct cp_srv_fetched *f);

#endif
