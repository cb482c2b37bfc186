/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: receive-side merging (gso_merge) of the packets a peer
 * sends (after the device's filter, but still the peer's bytes). The input is
 * a run of packets, each behind a 2-byte length. Every packet must come out
 * exactly once, merged or not: the bytes emitted equal the bytes pushed minus
 * the repeated headers of merged segments, and every emitted IP packet's own
 * length field matches its length (else abort).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gso.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t emitted_pkts;

static int emit(void *arg, const uint8_t *p, size_t len)
{
	(void)arg;
	emitted_pkts++;
	if (len > GSO_MERGE_MAX + 2048)
		abort();
	/* only merged packets exceed GSO_MERGE_IN_MAX: their length fields must be right */
	if (len > 2048 && (p[0] >> 4) == 4 && get_be16(p + 2) != len)
		abort(); /* a merged IPv4 packet with a wrong length */
	if (len > 2048 && (p[0] >> 4) == 6 && get_be16(p + 4) != len - 40)
		abort(); /* a merged IPv6 packet with a wrong payload length */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[GSO_MERGE_MAX];
	struct gso_merge m;
	size_t off = 0, pushed = 0;

	gso_merge_init(&m, buf, sizeof(buf));
	emitted_pkts = 0;
	while (size - off >= 2) {
		size_t len = get_be16(data + off) % (GSO_MERGE_IN_MAX + 1); /* bigger: passes */

		off += 2;
		if (len > size - off)
			len = size - off;
		(void)gso_merge_push(&m, data + off, len, emit, NULL);
		pushed++;
		off += len;
	}
	(void)gso_merge_flush(&m, emit, NULL);
	/* merged segments come out as one packet: never more packets than went in */
	if (emitted_pkts > pushed || emitted_pkts + m.merged < pushed)
		abort();
	return 0;
}
