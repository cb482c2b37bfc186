/* SPDX-License-Identifier: MIT */
/**
 * @file relay_table.h  The relay's sessions, by session id and by relay id (I/O-free).
 *
 * A fixed number of slots (max_sessions) and a hash on the session id
 * (random, so its first four bytes are the hash). A session's relay id, the
 * number its data packets carry, is slot << 1 | side: routing a packet is
 * one array index. The table borrows the records it holds (struct
 * relay_sess, embedded in the caller's own session struct) and never frees
 * them. It enforces the caps: max_sessions in all, max_per_identity per
 * requester.
 */
#ifndef PORTLESS_RELAY_TABLE_H
#define PORTLESS_RELAY_TABLE_H

#include <stdint.h>

#include "relay_sess.h"

struct relay_table;

/** A table of @p max_sessions slots (> 0). NULL on ENOMEM or EINVAL. */
struct relay_table *relay_table_new(unsigned max_sessions, unsigned max_per_identity);

/** Free the table (not the records it holds); NULL is a no-op. */
void relay_table_free(struct relay_table *t);

/**
 * May @p requester have one more session? 0, -EUSERS (every slot taken) or
 * -EDQUOT (it holds max_per_identity already). Changes nothing.
 */
int relay_table_admit(const struct relay_table *t, const char *requester)
    __attribute__((warn_unused_result));

/**
 * Hold @p s (its sid set; relay_table_admit() said yes): gives it a slot.
 * -EUSERS when no slot is free.
 */
int relay_table_add(struct relay_table *t, struct relay_sess *s)
    __attribute__((warn_unused_result));

/** Stop holding @p s (its slot and relay ids are free again). */
void relay_table_remove(struct relay_table *t, struct relay_sess *s);

/** The session with id @p sid, or NULL. */
struct relay_sess *relay_table_find(const struct relay_table *t, const uint8_t sid[SR_SID_LEN]);

/** The session relay id @p relay_id belongs to (its side in *side), or NULL. */
struct relay_sess *relay_table_by_relay_id(const struct relay_table *t, uint32_t relay_id,
					   uint8_t *side);

/** Sessions held for @p requester. */
unsigned relay_table_count(const struct relay_table *t, const char *requester);

/**
 * Walk the sessions: start with *cursor = 0; NULL at the end. Removing the
 * session just returned (or any other) while walking is fine.
 */
struct relay_sess *relay_table_next(const struct relay_table *t, uint32_t *cursor);

#endif
