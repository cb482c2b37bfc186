/* SPDX-License-Identifier: MIT */
/**
 * @file replay.h  Sliding anti-replay window over 64-bit counters (a bitmap, as WireGuard's).
 *
 * I/O-free. Check a counter before the (expensive) AEAD open with
 * replay_check(), and record it with replay_commit() only once the tag
 * verified, so forged packets cannot move the window.
 */
#ifndef PORTLESS_REPLAY_H
#define PORTLESS_REPLAY_H

#include <stdint.h>

enum {
	REPLAY_BITS = 4096, /**< bitmap size */
	REPLAY_BLOCKS = REPLAY_BITS / 64,
	REPLAY_WINDOW = REPLAY_BITS - 64, /**< counters accepted behind the top */
};
_Static_assert((REPLAY_BLOCKS & (REPLAY_BLOCKS - 1)) == 0, "power of two");
_Static_assert(REPLAY_WINDOW >= 2048, "window of at least 2048 packets");

/** Window state; zero-initialised (or replay_init()) means nothing seen. */
struct replay_win {
	uint64_t top; /**< highest counter seen + 1 (0: none) */
	uint64_t bits[REPLAY_BLOCKS];
};

void replay_init(struct replay_win *w);

/**
 * May @p ctr be accepted? 0 when new, -EALREADY for a duplicate, -ESTALE when
 * behind the window (too old) or at the reserved top value. Changes nothing.
 */
int replay_check(const struct replay_win *w, uint64_t ctr) __attribute__((warn_unused_result));

/** Record @p ctr (after replay_check() said 0 and the tag verified). */
void replay_commit(struct replay_win *w, uint64_t ctr);

#endif
