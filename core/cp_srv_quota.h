/* SPDX-License-Identifier: MIT */
/**
 * @file cp_srv_quota.h  portless-cp's queue accounting of one home.
 *
 * Each home counts the notifications queued for it (and their bytes) and
 * the ones it sent that still wait in any queue. A NOTIFY is refused when
 * the recipient's queue is full (CP_QUEUE_MAX notifications or
 * CP_QUEUE_BYTES_MAX bytes) or the sender has CP_SENDER_QUOTA queued.
 * The counters are rebuilt from the store at start-up and after external
 * edits, so they are kept, not persisted. Pure: no I/O, no allocation.
 */
#ifndef PORTLESS_CP_SRV_QUOTA_H
#define PORTLESS_CP_SRV_QUOTA_H

#include <stddef.h>
#include <stdint.h>

/** Queue counters of one home. Zero-initialised is empty. */
struct cp_srv_quota {
	uint32_t qcount; /**< notifications queued for it */
	uint64_t qbytes; /**< their envelope bytes */
	uint32_t sent;   /**< notifications it sent, still queued anywhere */
};

/**
 * May a sender counted by @p sender queue @p len more bytes for the
 * recipient counted by @p rcpt? Returns CP_OK, CP_E_QUEUE_FULL (the
 * recipient's queue, checked first) or CP_E_QUOTA (the sender's).
 */
int cp_srv_quota_check(const struct cp_srv_quota *rcpt, const struct cp_srv_quota *sender,
		       size_t len) __attribute__((warn_unused_result));

/**
 * Count one queued notification of @p len bytes. @p rcpt or @p sender is
 * NULL when that identity is not hosted here.
 */
void cp_srv_quota_add(struct cp_srv_quota *rcpt, struct cp_srv_quota *sender, size_t len);

/**
 * Uncount one notification that left a queue (acknowledged or expired).
 * Counters never go below zero (the store may hold rows counted before a
 * reload). NULL as in cp_srv_quota_add().
 */
void cp_srv_quota_del(struct cp_srv_quota *rcpt, struct cp_srv_quota *sender, size_t len);

#endif
