/* SPDX-License-Identifier: MIT */
#include "cp_srv_enroll.h"

bool cp_srv_enroll_limited(struct cp_srv_enroll_limit *l, double now)
{
	if (now - l->window > CP_SRV_ENROLL_FAIL_WINDOW) {
		l->window = now;
		l->fails = 0;
	}
	return l->fails >= CP_SRV_ENROLL_FAIL_MAX;
}

void cp_srv_enroll_failed(struct cp_srv_enroll_limit *l)
{
	l->fails++;
}

uint64_t cp_srv_enroll_backoff(uint32_t fails)
{
	uint64_t delay = fails < 9 ? 1u << fails : CP_SRV_ENROLL_BACKOFF_MAX;

	return delay > CP_SRV_ENROLL_BACKOFF_MAX ? CP_SRV_ENROLL_BACKOFF_MAX : delay;
}
