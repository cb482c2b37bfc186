/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: the IP packet filter. Byte 0 picks the direction and
 * session, the rest is an IP packet as read from the TUN (outbound) or
 * opened from the data plane (inbound). Verdicts are in range; a packet that
 * passes was parsed with its headers inside the buffer.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct filter *f;

static void init(void)
{
	static const uint16_t ports[] = {22, 2222};
	struct filter_session_cfg s1 = {.id = 1},
				  s2 = {
				      .id = 2, .ports = ports, .nports = 2, .deny_icmp_echo = true};
	struct ipaddr d4, d6;

	if (!ipaddr_parse("100.70.1.2", &d4) || !ipaddr_parse("fd70:6c73:7300:1::2", &d6) ||
	    filter_new(&d4, &d6, 8, &f) != 0 || !ipaddr_parse("100.127.0.1", &s1.client4) ||
	    !ipaddr_parse("fd70:6c73:7300:ffff::1", &s1.client6) ||
	    !ipaddr_parse("100.127.0.2", &s2.client4) || filter_session_add(f, &s1) != 0 ||
	    filter_session_add(f, &s2) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct filter_match m;
	struct filter_info info;
	enum filter_reason r;
	uint8_t *p;
	uint64_t sid;

	if (!f)
		init();
	if (size < 1)
		return 0;
	p = malloc(size - 1 ? size - 1 : 1);
	if (!p)
		return 0;
	memcpy(p, data + 1, size - 1);
	r = filter_parse(p, size - 1, &info);
	if (r >= FILTER_REASON_COUNT || (r == FILTER_PASS && info.l4_off > size - 1))
		abort();
	sid = (data[0] & 3) == 3 ? FILTER_ANY_SESSION : (data[0] & 3);
	if (data[0] & 4)
		r = filter_outbound(f, p, size - 1, &m);
	else
		r = filter_inbound(f, sid, p, size - 1, &m);
	if (r >= FILTER_REASON_COUNT || !filter_reason_str(r))
		abort();
	free(p);
	return 0;
}
