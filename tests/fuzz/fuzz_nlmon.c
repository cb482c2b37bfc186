/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: netlink messages into the interface monitor
 * (nlmon_feed, what the kernel's rtnetlink multicast would deliver). The
 * monitor watches "lo"; events must carry a known kind.
 */
#include <ev.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nlmon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct nlmon *mon;
static int watching;

static void on_event(struct nlmon *m, const struct nlmon_event *ev, void *arg)
{
	(void)m;
	(void)arg;
	if (ev->kind != NLMON_VANISHED && ev->kind != NLMON_UNDERLAY)
		abort();
	if (ev->kind == NLMON_VANISHED)
		watching = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* netlink buffers are 4-byte aligned in real life (recv into an aligned buffer) */
	static uint32_t buf[65536 / 4];

	if (!mon && nlmon_new(EV_DEFAULT, NULL, on_event, NULL, &mon) != 0)
		abort();
	if (!watching && nlmon_watch(mon, "lo") == 0)
		watching = 1;
	if (size > sizeof(buf))
		size = sizeof(buf);
	memcpy(buf, data, size);
	(void)nlmon_feed(mon, buf, size);
	return 0;
}
