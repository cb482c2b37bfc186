/* SPDX-License-Identifier: MIT */
/**
 * @file cp_srv_enroll.h  portless-cp's limits on guessing enrollment codes.
 *
 * Two limits, both I/O-free (the clock is passed in): a global one, at most
 * CP_SRV_ENROLL_FAIL_MAX wrong codes (all handles together) in a window of
 * CP_SRV_ENROLL_FAIL_WINDOW seconds, and a per-handle back-off after each
 * wrong code (2^fails seconds, at most CP_SRV_ENROLL_BACKOFF_MAX), which the
 * server persists with the identity's slot.
 */
#ifndef PORTLESS_CP_SRV_ENROLL_H
#define PORTLESS_CP_SRV_ENROLL_H

#include <stdbool.h>
#include <stdint.h>

enum {
	CP_SRV_ENROLL_FAIL_WINDOW = 10,  /**< s: window of the global wrong-code limit */
	CP_SRV_ENROLL_FAIL_MAX = 50,     /**< wrong codes per window, all handles */
	CP_SRV_ENROLL_BACKOFF_MAX = 300, /**< s: per-handle back-off cap */
};

/** The global wrong-code count. Zero-initialised: no failures yet. */
struct cp_srv_enroll_limit {
	double window;  /**< start of the current window (s, the caller's clock) */
	unsigned fails; /**< wrong codes in it */
};

/**
 * Is enrollment refused at @p now because too many wrong codes came in the
 * current window? A window older than CP_SRV_ENROLL_FAIL_WINDOW is started
 * afresh first.
 */
bool cp_srv_enroll_limited(struct cp_srv_enroll_limit *l, double now);

/** Count one wrong code in the current window. */
void cp_srv_enroll_failed(struct cp_srv_enroll_limit *l);

/** Seconds a handle waits after its @p fails -th wrong code (>= 1). */
uint64_t cp_srv_enroll_backoff(uint32_t fails);

#endif
