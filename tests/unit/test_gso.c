/* SPDX-License-Identifier: MIT */
/* gso: checksum completion and user-space segmentation of TCP super-packets. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "gso.h"
#include "wire.h"

enum { PAY = 5003, MSS = 1000, THL = 32, FIN = 0x01, PSH = 0x08, ACK = 0x10, CWR = 0x80 };

/* Reference checksum: 16-bit big-endian words, independent of gso.c. */
static uint32_t ref_sum(uint32_t s, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (n & 1)
		s += (uint32_t)b[n - 1] << 8;
	return s;
}

static uint16_t ref_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* Pseudo-header sum for a TCP length. */
static uint32_t pseudo(const uint8_t *ip, int v6, size_t tl)
{
	uint32_t s = v6 ? ref_sum(0, ip + 8, 32) : ref_sum(0, ip + 12, 8);

	return s + 6 + (uint32_t)(tl & 0xffff) + (uint32_t)(tl >> 16);
}

/* A super-packet as the kernel hands it over: IP length covers everything,
 * TCP checksum holds the (uncomplemented) pseudo-header sum. */
static size_t build(uint8_t *p, int v6, uint8_t flags)
{
	size_t ihl = v6 ? 40 : 20, len = ihl + THL + PAY, tl = THL + PAY;

	memset(p, 0, len);
	if (v6) {
		p[0] = 0x60;
		put_be16(p + 4, (uint16_t)tl);
		p[6] = 6;
		p[7] = 64;
		p[8] = 0xfd;
		p[23] = 1;
		p[24] = 0xfd;
		p[39] = 2;
	} else {
		p[0] = 0x45;
		put_be16(p + 2, (uint16_t)len);
		put_be16(p + 4, 0x1234);
		p[8] = 64;
		p[9] = 6;
		memcpy(p + 12, (uint8_t[]){100, 64, 0, 1, 100, 64, 0, 2}, 8);
		put_be16(p + 10, (uint16_t)~ref_fold(ref_sum(0, p, 20)));
	}
	uint8_t *t = p + ihl;

	put_be16(t, 40000);
	put_be16(t + 2, 22);
	put_be32(t + 4, 0xfffff000u); /* wraps during the segments */
	t[12] = (THL / 4) << 4;
	t[13] = flags;
	for (size_t i = THL; i < tl; i++)
		t[i] = (uint8_t)(i * 7 + 3);
	put_be16(t + 16, ref_fold(pseudo(p, v6, tl)));
	return len;
}

static int tcp_ok(const uint8_t *p, int v6, size_t len)
{
	size_t ihl = v6 ? 40 : 20;

	return ref_fold(ref_sum(pseudo(p, v6, len - ihl), p + ihl, len - ihl)) == 0xffff;
}

static void finish(void **state, int v6)
{
	static uint8_t p[8000];
	size_t len = build(p, v6, ACK | PSH);
	size_t ihl = v6 ? 40 : 20;

	(void)state;
	assert_false(tcp_ok(p, v6, len));
	assert_int_equal(gso_csum_finish(p, len, (uint16_t)ihl, 16), 0);
	assert_true(tcp_ok(p, v6, len));
	assert_int_equal(gso_csum_finish(p, 10, 20, 16), -EINVAL);
}

static void finish4(void **s)
{
	finish(s, 0);
}
static void finish6(void **s)
{
	finish(s, 1);
}

static void segment(void **state, int v6)
{
	static uint8_t p[8000], o[2000];
	size_t len = build(p, v6, ACK | PSH | FIN | CWR), ihl = v6 ? 40 : 20, got = 0;
	struct tun_gso g = {.needs_csum = 1, .type = v6 ? GSO_TCP6 : GSO_TCP4, .size = MSS};
	int n = gso_count(p, len, &g);

	(void)state;
	assert_int_equal(n, (PAY + MSS - 1) / MSS);
	for (int i = 0; i < n; i++) {
		ssize_t sl = gso_segment(p, len, &g, i, o, sizeof(o));
		size_t want = (size_t)(PAY - i * MSS < MSS ? PAY - i * MSS : MSS);

		assert_true(sl > 0);
		assert_int_equal((size_t)sl, ihl + THL + want);
		if (v6) {
			assert_int_equal(get_be16(o + 4), THL + want);
		} else {
			assert_int_equal(get_be16(o + 2), (size_t)sl);
			assert_int_equal(get_be16(o + 4), 0x1234 + i);
			assert_int_equal(ref_fold(ref_sum(0, o, 20)), 0xffff);
		}
		assert_true(tcp_ok(o, v6, (size_t)sl));
		assert_int_equal(get_be32(o + ihl + 4), 0xfffff000u + (uint32_t)(i * MSS));
		assert_int_equal(!!(o[ihl + 13] & FIN), i == n - 1);
		assert_int_equal(!!(o[ihl + 13] & PSH), i == n - 1);
		assert_int_equal(!!(o[ihl + 13] & CWR), i == 0);
		assert_true(o[ihl + 13] & ACK);
		assert_memory_equal(o + ihl + THL, p + ihl + THL + (size_t)i * MSS, want);
		got += want;
	}
	assert_int_equal(got, PAY);
	assert_int_equal(gso_segment(p, len, &g, n, o, sizeof(o)), -EINVAL);
	assert_int_equal(gso_segment(p, len, &g, 0, o, 100), -ENOSPC);
}

static void segment4(void **s)
{
	segment(s, 0);
}
static void segment6(void **s)
{
	segment(s, 1);
}

static void refuses(void **state)
{
	static uint8_t p[8000];
	size_t len = build(p, 0, ACK);
	struct tun_gso g = {.type = GSO_TCP4, .size = MSS};

	(void)state;
	p[9] = 17; /* UDP */
	assert_int_equal(gso_count(p, len, &g), -EINVAL);
	p[9] = 6;
	g.type = GSO_TCP6; /* v4 packet with v6 type */
	assert_int_equal(gso_count(p, len, &g), -EINVAL);
	g.type = GSO_TCP4;
	g.size = 0;
	assert_int_equal(gso_count(p, len, &g), -EINVAL);
	g.size = MSS;
	assert_int_equal(gso_count(p, 30, &g), -EINVAL); /* TCP header cut */
	p[20 + 12] = 0x40;                               /* data offset 16 < 20 */
	assert_int_equal(gso_count(p, len, &g), -EINVAL);
}

/* Collects what gso_merge emits, in order. */
static struct {
	uint8_t buf[8][70000];
	size_t len[8];
	int n;
} OUT;

static int collect(void *arg, const uint8_t *p, size_t len)
{
	(void)arg;
	assert_true(OUT.n < 8);
	memcpy(OUT.buf[OUT.n], p, len);
	OUT.len[OUT.n++] = len;
	return 0;
}

/* Cut a super-packet into segments (@p segs, lengths in @p sl); returns the count. */
static int cut(const uint8_t *p, size_t len, int v6, uint8_t (*segs)[2000], size_t *sl)
{
	struct tun_gso g = {.needs_csum = 1, .type = v6 ? GSO_TCP6 : GSO_TCP4, .size = MSS};
	int n = gso_count(p, len, &g);

	for (int i = 0; i < n; i++) {
		ssize_t l = gso_segment(p, len, &g, i, segs[i], 2000);

		assert_true(l > 0);
		sl[i] = (size_t)l;
	}
	return n;
}

/* The segments of a super-packet merge back into exactly that packet. */
static void merge(void **state, int v6)
{
	static uint8_t p[8000], segs[8][2000], mbuf[GSO_MERGE_MAX];
	size_t len = build(p, v6, ACK | PSH), sl[8], ihl = v6 ? 40 : 20;
	struct gso_merge m;
	int n;

	(void)state;
	n = cut(p, len, v6, segs, sl);
	assert_int_equal(gso_csum_finish(p, len, (uint16_t)ihl, 16), 0); /* what it should be */
	gso_merge_init(&m, mbuf, sizeof(mbuf));
	OUT.n = 0;
	for (int i = 0; i < n; i++)
		assert_int_equal(gso_merge_push(&m, segs[i], sl[i], collect, NULL), 0);
	/* the last segment (short, PSH) ended the train: it went out at once */
	assert_int_equal(OUT.n, 1);
	assert_int_equal(OUT.len[0], len);
	assert_memory_equal(OUT.buf[0], p, len);
	assert_true(tcp_ok(OUT.buf[0], v6, len));
	assert_int_equal(m.merged, (uint64_t)n);
	assert_int_equal(gso_merge_flush(&m, collect, NULL), 0); /* nothing left */
	assert_int_equal(OUT.n, 1);
}

static void merge4(void **s)
{
	merge(s, 0);
}
static void merge6(void **s)
{
	merge(s, 1);
}

/* What must not merge passes through unchanged and in order. */
static void merge_breaks(void **state)
{
	static uint8_t p[8000], segs[8][2000], mbuf[GSO_MERGE_MAX], udp[64];
	size_t len = build(p, 0, ACK), sl[8];
	struct gso_merge m;
	int n;

	(void)state;
	n = cut(p, len, 0, segs, sl);
	assert_true(n >= 4);
	gso_merge_init(&m, mbuf, sizeof(mbuf));
	/* out of order: 0, 2 -> 0 alone, then 2 starts a train */
	OUT.n = 0;
	assert_int_equal(gso_merge_push(&m, segs[0], sl[0], collect, NULL), 0);
	assert_int_equal(gso_merge_push(&m, segs[2], sl[2], collect, NULL), 0);
	assert_int_equal(OUT.n, 1);
	assert_memory_equal(OUT.buf[0], segs[0], sl[0]); /* unchanged: a train of one */
	/* a UDP packet flushes the train first, then passes itself */
	memset(udp, 0, sizeof(udp));
	udp[0] = 0x45;
	put_be16(udp + 2, sizeof(udp));
	udp[9] = 17;
	assert_int_equal(gso_merge_push(&m, udp, sizeof(udp), collect, NULL), 0);
	assert_int_equal(OUT.n, 3);
	assert_memory_equal(OUT.buf[1], segs[2], sl[2]);
	assert_memory_equal(OUT.buf[2], udp, sizeof(udp));
	/* another flow (port) does not join */
	OUT.n = 0;
	assert_int_equal(gso_merge_push(&m, segs[0], sl[0], collect, NULL), 0);
	put_be16(segs[1] + 20, 40001);
	assert_int_equal(gso_merge_push(&m, segs[1], sl[1], collect, NULL), 0);
	assert_int_equal(OUT.n, 1);
	/* a FIN passes through; a fragment (MF) too */
	segs[2][20 + 13] |= FIN;
	assert_int_equal(gso_merge_push(&m, segs[2], sl[2], collect, NULL), 0);
	assert_int_equal(OUT.n, 3);
	assert_memory_equal(OUT.buf[2], segs[2], sl[2]);
	segs[3][6] |= 0x20;
	assert_int_equal(gso_merge_push(&m, segs[3], sl[3], collect, NULL), 0);
	assert_int_equal(OUT.n, 4);
	assert_memory_equal(OUT.buf[3], segs[3], sl[3]);
	assert_int_equal(m.merged, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(finish4),  cmocka_unit_test(finish6),      cmocka_unit_test(segment4),
	    cmocka_unit_test(segment6), cmocka_unit_test(refuses),      cmocka_unit_test(merge4),
	    cmocka_unit_test(merge6),   cmocka_unit_test(merge_breaks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
