/* SPDX-License-Identifier: MIT */
/* Device-side packet filter: a table of crafted packets, counters, sessions, truncation sweep. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "filter.h"
#include "wire.h"

enum { IN, OUT };
enum { TCP = 6, UDP = 17, ICMP = 1, ICMP6 = 58, ESP = 50, NONE6 = 59 };
enum { SYN = 0x02, ACK = 0x10 };

/* Packet modifications. */
enum mod {
	M_NONE,
	M_EMPTY,
	M_TRUNC_IP,   /* only 10 bytes */
	M_TRUNC_L4,   /* L4 header cut to 10 bytes (length fields adjusted) */
	M_TOTLEN_BIG, /* IP length field larger than the buffer */
	M_BAD_IHL,    /* IHL 4 */
	M_VERSION5,
	M_FRAG_NONFIRST,
	M_FRAG_FIRST,
	M_LSRR,
	M_NOPS,       /* four NOP options */
	M_DOFF4,      /* TCP data offset 4 */
	M_HBH_DST,    /* v6: hop-by-hop + destination options */
	M_RT_SL1,     /* v6: routing header, segments left 1 */
	M_RT_SL0,     /* v6: routing header, segments left 0 */
	M_HBH_SECOND, /* v6: dst opts then hop-by-hop */
	M_TOO_MANY,   /* v6: 9 destination options headers */
	M_EXT_TRUNC,  /* v6: ext header runs past the end */
	M_AH,         /* v6: authentication header */
};

struct pk {
	const char *name;
	int dir;
	uint64_t sid;
	const char *src, *dst;
	uint8_t proto;
	uint16_t sport, dport;
	uint8_t flags_or_type; /* TCP flags or ICMP type */
	enum mod mod;
	enum filter_reason want;
	uint64_t want_sid; /* for passes */
};

#define DEV4 "100.70.1.2"
#define DEV6 "fd70:6c73:7300:1::2"
#define C1   "100.127.0.1"
#define C1V6 "fd70:6c73:7300:ffff::1"
#define C2   "100.127.0.2"
#define ANY  FILTER_ANY_SESSION

/* clang-format off */
static const struct pk cases[] = {
	{ "v4 ssh", IN, 1, C1, DEV4, TCP, 40000, 22, SYN, M_NONE, FILTER_PASS, 1 },
	{ "v4 telnet", IN, 1, C1, DEV4, TCP, 40000, 23, SYN, M_NONE, FILTER_PORT, 0 },
	{ "v4 unknown source", IN, 1, "100.127.0.9", DEV4, TCP, 40000, 22, SYN, M_NONE, FILTER_WRONG_SRC, 0 },
	{ "v4 other session's source", IN, 1, C2, DEV4, TCP, 40000, 22, SYN, M_NONE, FILTER_WRONG_SRC, 0 },
	{ "v4 wrong destination", IN, 1, C1, "100.70.1.3", TCP, 40000, 22, SYN, M_NONE, FILTER_WRONG_DST, 0 },
	{ "v4 to host address", IN, 1, C1, "192.168.1.1", TCP, 40000, 22, SYN, M_NONE, FILTER_WRONG_DST, 0 },
	{ "v4 udp dns", IN, 1, C1, DEV4, UDP, 40000, 53, 0, M_NONE, FILTER_PROTO, 0 },
	{ "v4 ping", IN, 1, C1, DEV4, ICMP, 0, 0, 8, M_NONE, FILTER_PASS, 1 },
	{ "v4 ping, echo denied", IN, 2, C2, DEV4, ICMP, 0, 0, 8, M_NONE, FILTER_ICMP, 0 },
	{ "v4 icmp unreachable", IN, 1, C1, DEV4, ICMP, 0, 0, 3, M_NONE, FILTER_ICMP, 0 },
	{ "v4 icmp timestamp", IN, 1, C1, DEV4, ICMP, 0, 0, 13, M_NONE, FILTER_ICMP, 0 },
	{ "v4 tcp header truncated", IN, 1, C1, DEV4, TCP, 40000, 22, SYN, M_TRUNC_L4, FILTER_TRUNCATED, 0 },
	{ "v4 icmp header truncated", IN, 1, C1, DEV4, ICMP, 0, 0, 8, M_TRUNC_L4, FILTER_TRUNCATED, 0 },
	{ "v4 ip header truncated", IN, 1, C1, DEV4, TCP, 40000, 22, SYN, M_TRUNC_IP, FILTER_TRUNCATED, 0 },
	{ "v4 length field too big", IN, 1, C1, DEV4, TCP, 40000, 22, SYN, M_TOTLEN_BIG, FILTER_TRUNCATED, 0 },
	{ "v4 ihl 4", IN, 1, C1, DEV4, TCP, 40000, 22, SYN, M_BAD_IHL, FILTER_MALFORMED, 0 },
	{ "version 5", IN, 1, C1, DEV4, TCP, 40000, 22, SYN, M_VERSION5, FILTER_MALFORMED, 0 },
	{ "empty", IN, 1, C1, DEV4, TCP, 40000, 22, SYN, M_EMPTY, FILTER_TRUNCATED, 0 },
	{ "v4 non-first fragment", IN, 1, C1, DEV4, TCP, 40000, 22, ACK, M_FRAG_NONFIRST, FILTER_FRAGMENT, 0 },
	{ "v4 first fragment ssh", IN, 1, C1, DEV4, TCP, 40000, 22, ACK, M_FRAG_FIRST, FILTER_FRAGMENT, 0 },
	{ "v4 first fragment telnet", IN, 1, C1, DEV4, TCP, 40000, 23, ACK, M_FRAG_FIRST, FILTER_FRAGMENT, 0 },
	{ "v4 loose source route", IN, 1, C1, DEV4, TCP, 40000, 22, SYN, M_LSRR, FILTER_EXTHDR, 0 },
	{ "v4 nop options", IN, 1, C1, DEV4, TCP, 40000, 22, SYN, M_NOPS, FILTER_PASS, 1 },
	{ "v4 tcp doff 4", IN, 1, C1, DEV4, TCP, 40000, 22, SYN, M_DOFF4, FILTER_MALFORMED, 0 },
	{ "unknown session id", IN, 99, C1, DEV4, TCP, 40000, 22, SYN, M_NONE, FILTER_NO_SESSION, 0 },
	{ "any session, known source", IN, ANY, C1, DEV4, TCP, 40000, 22, SYN, M_NONE, FILTER_PASS, 1 },
	{ "any session, unknown source", IN, ANY, "100.127.0.77", DEV4, TCP, 40000, 22, SYN, M_NONE, FILTER_NO_SESSION, 0 },
	{ "session 2 extra port", IN, 2, C2, DEV4, TCP, 40000, 2222, SYN, M_NONE, FILTER_PASS, 2 },
	{ "session 2 port 80", IN, 2, C2, DEV4, TCP, 40000, 80, SYN, M_NONE, FILTER_PORT, 0 },
	{ "v6 ssh", IN, 1, C1V6, DEV6, TCP, 40000, 22, SYN, M_NONE, FILTER_PASS, 1 },
	{ "v6 http", IN, 1, C1V6, DEV6, TCP, 40000, 80, SYN, M_NONE, FILTER_PORT, 0 },
	{ "v6 ping", IN, 1, C1V6, DEV6, ICMP6, 0, 0, 128, M_NONE, FILTER_PASS, 1 },
	{ "v6 neighbour solicitation", IN, 1, C1V6, DEV6, ICMP6, 0, 0, 135, M_NONE, FILTER_ICMP, 0 },
	{ "v6 with v4 icmp proto", IN, 1, C1V6, DEV6, ICMP, 0, 0, 8, M_NONE, FILTER_PROTO, 0 },
	{ "v6 hbh+dstopts ssh", IN, 1, C1V6, DEV6, TCP, 40000, 22, SYN, M_HBH_DST, FILTER_PASS, 1 },
	{ "v6 routing, segments left", IN, 1, C1V6, DEV6, TCP, 40000, 22, SYN, M_RT_SL1, FILTER_EXTHDR, 0 },
	{ "v6 routing, done", IN, 1, C1V6, DEV6, TCP, 40000, 22, SYN, M_RT_SL0, FILTER_PASS, 1 },
	{ "v6 non-first fragment", IN, 1, C1V6, DEV6, TCP, 40000, 22, ACK, M_FRAG_NONFIRST, FILTER_FRAGMENT, 0 },
	{ "v6 first fragment ssh", IN, 1, C1V6, DEV6, TCP, 40000, 22, ACK, M_FRAG_FIRST, FILTER_FRAGMENT, 0 },
	{ "v6 hop-by-hop not first", IN, 1, C1V6, DEV6, TCP, 40000, 22, SYN, M_HBH_SECOND, FILTER_EXTHDR, 0 },
	{ "v6 nine ext headers", IN, 1, C1V6, DEV6, TCP, 40000, 22, SYN, M_TOO_MANY, FILTER_EXTHDR, 0 },
	{ "v6 ext header truncated", IN, 1, C1V6, DEV6, TCP, 40000, 22, SYN, M_EXT_TRUNC, FILTER_TRUNCATED, 0 },
	{ "v6 AH then ssh", IN, 1, C1V6, DEV6, TCP, 40000, 22, SYN, M_AH, FILTER_PASS, 1 },
	{ "v6 esp", IN, 1, C1V6, DEV6, ESP, 0, 0, 0, M_NONE, FILTER_PROTO, 0 },
	{ "v6 no next header", IN, 1, C1V6, DEV6, NONE6, 0, 0, 0, M_NONE, FILTER_PROTO, 0 },
	{ "v6 payload length too big", IN, 1, C1V6, DEV6, TCP, 40000, 22, SYN, M_TOTLEN_BIG, FILTER_TRUNCATED, 0 },
	{ "v6 tcp truncated", IN, 1, C1V6, DEV6, TCP, 40000, 22, SYN, M_TRUNC_L4, FILTER_TRUNCATED, 0 },
	{ "v6 session without v6", IN, 2, "fd70:6c73:7300:ffff::2", DEV6, TCP, 40000, 22, SYN, M_NONE, FILTER_WRONG_SRC, 0 },
	{ "out ssh reply", OUT, 0, DEV4, C1, TCP, 22, 40000, SYN | ACK, M_NONE, FILTER_PASS, 1 },
	{ "out ssh data", OUT, 0, DEV4, C2, TCP, 22, 40000, ACK, M_NONE, FILTER_PASS, 2 },
	{ "out device-initiated syn", OUT, 0, DEV4, C1, TCP, 22, 40000, SYN, M_NONE, FILTER_OUT_SYN, 0 },
	{ "out from other port", OUT, 0, DEV4, C1, TCP, 5555, 40000, ACK, M_NONE, FILTER_PORT, 0 },
	{ "out to unknown client", OUT, 0, DEV4, "100.127.0.50", TCP, 22, 40000, ACK, M_NONE, FILTER_NO_SESSION, 0 },
	{ "out from wrong source", OUT, 0, "10.0.0.1", C1, TCP, 22, 40000, ACK, M_NONE, FILTER_WRONG_SRC, 0 },
	{ "out echo reply", OUT, 0, DEV4, C1, ICMP, 0, 0, 0, M_NONE, FILTER_PASS, 1 },
	{ "out echo request", OUT, 0, DEV4, C1, ICMP, 0, 0, 8, M_NONE, FILTER_ICMP, 0 },
	{ "out echo reply, echo denied", OUT, 0, DEV4, C2, ICMP, 0, 0, 0, M_NONE, FILTER_ICMP, 0 },
	{ "out udp", OUT, 0, DEV4, C1, UDP, 22, 40000, 0, M_NONE, FILTER_PROTO, 0 },
	{ "out v6 ssh reply", OUT, 0, DEV6, C1V6, TCP, 22, 40000, SYN | ACK, M_NONE, FILTER_PASS, 1 },
	{ "out v6 echo reply", OUT, 0, DEV6, C1V6, ICMP6, 0, 0, 129, M_NONE, FILTER_PASS, 1 },
	{ "out v6 non-first fragment", OUT, 0, DEV6, C1V6, TCP, 22, 40000, ACK, M_FRAG_NONFIRST, FILTER_FRAGMENT, 0 },
	{ "out v6 truncated header", OUT, 0, DEV6, C1V6, TCP, 22, 40000, ACK, M_TRUNC_IP, FILTER_TRUNCATED, 0 },
};
/* clang-format on */

/* ---- packet builder ---- */

static size_t build_l4(const struct pk *k, uint8_t *p)
{
	memset(p, 0, 20);
	if (k->proto == TCP) {
		put_be16(p, k->sport);
		put_be16(p + 2, k->dport);
		put_be32(p + 4, 1000);
		p[12] = (uint8_t)((k->mod == M_DOFF4 ? 4 : 5) << 4);
		p[13] = k->flags_or_type;
		put_be16(p + 14, 65535);
		return 20;
	}
	if (k->proto == UDP) {
		put_be16(p, k->sport);
		put_be16(p + 2, k->dport);
		put_be16(p + 4, 8);
		return 8;
	}
	if (k->proto == ICMP || k->proto == ICMP6) {
		p[0] = k->flags_or_type;
		put_be16(p + 4, 0x1234);
		put_be16(p + 6, 1);
		return 8;
	}
	return 0; /* ESP/none: no upper header we understand */
}

/* One v6 extension header of type @p type in front of @p next; returns its length. */
static size_t ext(uint8_t *p, uint8_t type, uint8_t next, int segleft, uint16_t frag)
{
	memset(p, 0, 8);
	p[0] = next;
	if (type == 44) {
		put_be16(p + 2, frag);
	} else if (type == 43) {
		p[2] = 0;
		p[3] = (uint8_t)segleft;
	} else if (type == 51) {
		p[1] = 0; /* (0 + 2) * 4 = 8 bytes */
	} else {
		p[2] = 1; /* PadN, 4 bytes of padding */
		p[3] = 4;
	}
	return 8;
}

/* The v6 extension header chain for a mod: types in order. */
static size_t chain_for(enum mod m, uint8_t *types)
{
	static const uint8_t hbh_dst[] = {0, 60}, rt[] = {43}, frag[] = {44}, second[] = {60, 0},
			     ah[] = {51};
	const uint8_t *t = NULL;
	size_t n = 0;

	switch (m) {
	case M_HBH_DST:
		t = hbh_dst;
		n = 2;
		break;
	case M_RT_SL0:
	case M_RT_SL1:
		t = rt;
		n = 1;
		break;
	case M_FRAG_FIRST:
	case M_FRAG_NONFIRST:
		t = frag;
		n = 1;
		break;
	case M_HBH_SECOND:
		t = second;
		n = 2;
		break;
	case M_AH:
		t = ah;
		n = 1;
		break;
	case M_TOO_MANY:
	case M_EXT_TRUNC:
		n = m == M_TOO_MANY ? 9 : 1;
		memset(types, 60, n);
		return n;
	default:
		return 0;
	}
	memcpy(types, t, n);
	return n;
}

static size_t build_v6(const struct pk *k, const struct ipaddr *s, const struct ipaddr *d,
		       uint8_t *p)
{
	uint8_t types[16], l4[20];
	size_t n = chain_for(k->mod, types), off = 40, l4len = build_l4(k, l4);
	uint16_t frag = k->mod == M_FRAG_NONFIRST ? (185 << 3) : 1;

	memset(p, 0, 40);
	p[0] = 0x60;
	p[6] = n ? types[0] : k->proto;
	p[7] = 64;
	memcpy(p + 8, s->a, 16);
	memcpy(p + 24, d->a, 16);
	for (size_t i = 0; i < n; i++)
		off += ext(p + off, types[i], i + 1 < n ? types[i + 1] : k->proto,
			   k->mod == M_RT_SL1, frag);
	if (k->mod == M_EXT_TRUNC) {
		p[off - 8 + 1] = 3; /* claims 32 bytes, only 8 + l4 present */
		l4len = 4;
	}
	if (k->mod == M_TRUNC_L4)
		l4len /= 2;
	memcpy(p + off, l4, l4len);
	off += l4len;
	put_be16(p + 4, (uint16_t)(off - 40 + (k->mod == M_TOTLEN_BIG ? 100 : 0)));
	return k->mod == M_TRUNC_IP ? 30 : off;
}

static size_t build_v4(const struct pk *k, const struct ipaddr *s, const struct ipaddr *d,
		       uint8_t *p)
{
	uint8_t l4[20];
	size_t hl = 20, l4len = build_l4(k, l4), tot;

	memset(p, 0, 60);
	if (k->mod == M_LSRR || k->mod == M_NOPS) {
		hl = 24;
		if (k->mod == M_LSRR) {
			p[20] = 131; /* LSRR, length 3 (no hops), then END */
			p[21] = 3;
			p[22] = 4;
		} else {
			memset(p + 20, 1, 4);
		}
	}
	if (k->mod == M_TRUNC_L4)
		l4len /= 2;
	p[0] = (uint8_t)(0x40 | (k->mod == M_BAD_IHL ? 4 : hl / 4));
	if (k->mod == M_VERSION5)
		p[0] = 0x55;
	tot = hl + l4len;
	put_be16(p + 2, (uint16_t)(tot + (k->mod == M_TOTLEN_BIG ? 100 : 0)));
	if (k->mod == M_FRAG_NONFIRST)
		put_be16(p + 6, 185);
	if (k->mod == M_FRAG_FIRST)
		put_be16(p + 6, 0x2000);
	p[8] = 64;
	p[9] = k->proto;
	memcpy(p + 12, s->a, 4);
	memcpy(p + 16, d->a, 4);
	memcpy(p + hl, l4, l4len);
	return k->mod == M_TRUNC_IP ? 10 : tot;
}

static size_t build(const struct pk *k, uint8_t *p)
{
	struct ipaddr s, d;

	assert_true(ipaddr_parse(k->src, &s));
	assert_true(ipaddr_parse(k->dst, &d));
	assert_int_equal(s.family, d.family);
	if (k->mod == M_EMPTY)
		return 0;
	return s.family == AF_INET ? build_v4(k, &s, &d, p) : build_v6(k, &s, &d, p);
}

/* ---- fixture ---- */

static int setup(void **state)
{
	static const uint16_t ports2[] = {22, 2222};
	struct filter_session_cfg s1 = {.id = 1}, s2 = {.id = 2,
							.ports = ports2,
							.nports = 2,
							.deny_icmp_echo = true};
	struct ipaddr d4, d6;
	struct filter *f;

	assert_true(ipaddr_parse(DEV4, &d4));
	assert_true(ipaddr_parse(DEV6, &d6));
	assert_int_equal(filter_new(&d4, &d6, 8, &f), 0);
	assert_true(ipaddr_parse(C1, &s1.client4));
	assert_true(ipaddr_parse(C1V6, &s1.client6));
	assert_true(ipaddr_parse(C2, &s2.client4));
	assert_int_equal(filter_session_add(f, &s1), 0);
	assert_int_equal(filter_session_add(f, &s2), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	filter_free(*state);
	return 0;
}

static enum filter_reason run(struct filter *f, const struct pk *k, const uint8_t *p, size_t len,
			      struct filter_match *m)
{
	return k->dir == IN ? filter_inbound(f, k->sid, p, len, m) : filter_outbound(f, p, len, m);
}

static void test_table(void **state)
{
	struct filter *f = *state;
	struct filter_counters c;
	uint64_t want_in[FILTER_REASON_COUNT] = {0}, want_out[FILTER_REASON_COUNT] = {0};
	size_t n = sizeof(cases) / sizeof(cases[0]);

	assert_true(n >= 30);
	for (size_t i = 0; i < n; i++) {
		const struct pk *k = &cases[i];
		uint8_t p[256];
		size_t len = build(k, p);
		struct filter_match m;
		enum filter_reason r = run(f, k, p, len, &m);

		if (r != k->want)
			fail_msg("case %zu \"%s\": got %s, want %s", i, k->name,
				 filter_reason_str(r), filter_reason_str(k->want));
		if (r == FILTER_PASS && m.session_id != k->want_sid)
			fail_msg("case %zu \"%s\": matched session %llu, want %llu", i, k->name,
				 (unsigned long long)m.session_id, (unsigned long long)k->want_sid);
		(k->dir == IN ? want_in : want_out)[k->want]++;
	}
	filter_get_counters(f, &c);
	assert_int_equal(c.passed_in, want_in[FILTER_PASS]);
	assert_int_equal(c.passed_out, want_out[FILTER_PASS]);
	for (int r = 1; r < FILTER_REASON_COUNT; r++) {
		assert_int_equal(c.drop_in[r], want_in[r]);
		assert_int_equal(c.drop_out[r], want_out[r]);
	}
}

/* Every strict prefix of a packet that passes must be dropped, and never read past the end. */
static void test_truncation_sweep(void **state)
{
	struct filter *f = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct pk *k = &cases[i];
		uint8_t p[256];
		size_t len;

		if (k->want != FILTER_PASS)
			continue;
		len = build(k, p);
		for (size_t cut = 0; cut < len; cut++) {
			uint8_t copy[256];
			struct filter_match m;

			memcpy(
			    copy, p,
			    cut); /* exact-size view for ASan: heap not needed, stack is checked */
			if (run(f, k, copy, cut, &m) == FILTER_PASS)
				fail_msg("case \"%s\" cut to %zu bytes passed", k->name, cut);
		}
	}
}

/* Random bytes and random mutations never crash and are counted. */
static void test_garbage(void **state)
{
	struct filter *f = *state;
	struct filter_counters before, after;
	uint32_t x = 12345;
	uint8_t p[128];

	filter_get_counters(f, &before);
	for (int i = 0; i < 20000; i++) {
		size_t len = (size_t)(i % 128);
		struct filter_match m;

		for (size_t j = 0; j < len; j++) {
			x = x * 1103515245u + 12345u;
			p[j] = (uint8_t)(x >> 16);
		}
		if (len)
			p[0] = (uint8_t)((i & 1 ? 0x40 : 0x60) | (p[0] & 0x0f));
		(void)filter_inbound(f, ANY, p, len, &m);
		(void)filter_outbound(f, p, len, &m);
	}
	filter_get_counters(f, &after);
	{
		uint64_t total =
		    after.passed_in + after.passed_out - before.passed_in - before.passed_out;

		for (int r = 1; r < FILTER_REASON_COUNT; r++)
			total += after.drop_in[r] + after.drop_out[r] - before.drop_in[r] -
				 before.drop_out[r];
		assert_int_equal(total, 40000);
	}
}

static void test_sessions(void **state)
{
	struct filter *f = *state;
	struct filter_session_cfg s = {.id = 3};
	struct filter_session_stats st;
	static const uint16_t zero_port[] = {0};
	const struct pk k = {"s3", IN, 3,   "100.127.0.3", DEV4,        TCP,
			     1,    22, SYN, M_NONE,        FILTER_PASS, 3};
	uint8_t p[128];
	size_t len;

	assert_int_equal(filter_session_add(f, &s), -EINVAL); /* no address */
	assert_true(ipaddr_parse(C1, &s.client4));
	assert_int_equal(filter_session_add(f, &s), -EEXIST); /* address of session 1 */
	assert_true(ipaddr_parse("100.127.0.3", &s.client4));
	s.id = 1;
	assert_int_equal(filter_session_add(f, &s), -EEXIST); /* id taken */
	s.id = 3;
	s.ports = zero_port;
	s.nports = 1;
	assert_int_equal(filter_session_add(f, &s), -EINVAL);
	s.ports = NULL;
	assert_int_equal(filter_session_add(f, &s), 0);
	len = build(&k, p);
	assert_int_equal(filter_inbound(f, 3, p, len, NULL), FILTER_PASS);
	assert_int_equal(filter_session_stats(f, 3, &st), 0);
	assert_int_equal(st.passed_in, 1);
	assert_int_equal(filter_session_remove(f, 3), 0);
	assert_int_equal(filter_session_remove(f, 3), -ENOENT);
	assert_int_equal(filter_inbound(f, 3, p, len, NULL), FILTER_NO_SESSION);
	assert_int_equal(filter_inbound(f, ANY, p, len, NULL), FILTER_NO_SESSION);
	assert_string_equal(filter_reason_str(FILTER_FRAGMENT), "fragment");
}

static void test_capacity(void **state)
{
	struct filter *f;
	struct filter_session_cfg s = {0};

	(void)state;
	assert_int_equal(filter_new(NULL, NULL, 2, &f), 0);
	for (int i = 0; i < 3; i++) {
		s.id = (uint64_t)i + 10;
		assert_true(ipaddr_parse(i == 0   ? "10.0.0.1"
					 : i == 1 ? "10.0.0.2"
						  : "10.0.0.3",
					 &s.client4));
		assert_int_equal(filter_session_add(f, &s), i < 2 ? 0 : -ENOSPC);
	}
	filter_free(f);
	filter_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_table, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_truncation_sweep, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sessions, setup, teardown),
	    cmocka_unit_test(test_capacity),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
