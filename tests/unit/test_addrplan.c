/* SPDX-License-Identifier: MIT */
/* Address plan: derivation (stability, spread, exclusions), conflict checks, client pools, ipaddr.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "addrplan.h"

static struct ipaddr P(const char *s) {
	struct ipaddr a;

	assert_true(ipaddr_parse(s, &a));
	return a;
}

static void
test_ipaddr(void **state)
{
	struct ipaddr a, b;
	char buf[IPADDR_STRLEN];

	(void)state;
	assert_true(ipaddr_parse("100.64.1.2", &a));
	assert_int_equal(a.plen, 32);
	assert_string_equal(ipaddr_str(&a, true, buf, sizeof(buf)), "100.64.1.2/32");
	assert_true(ipaddr_parse("fd00::1/64", &b));
	assert_string_equal(ipaddr_str(&b, false, buf, sizeof(buf)), "fd00::1");
	assert_false(ipaddr_parse("100.64.1.2/33", &a));
	assert_false(ipaddr_parse("100.64.1/24", &a));
	assert_false(ipaddr_parse("::1/129", &a));
	assert_false(ipaddr_parse("1.2.3.4/", &a));
	assert_false(ipaddr_parse("1.2.3.4/-1", &a));
	assert_false(ipaddr_parse("1.2.3.4 ", &a));
	assert_false(ipaddr_parse("", &a));
	a = P("10.1.2.3/8");
	ipaddr_mask(&a);
	assert_string_equal(ipaddr_str(&a, true, buf, sizeof(buf)), "10.0.0.0/8");
	b = P("10.255.0.1");
	assert_true(ipaddr_contains(&a, &b));
	b = P("11.0.0.1");
	assert_false(ipaddr_contains(&a, &b));
	a = P("100.64.0.0/10");
	b = P("100.127.255.255");
	assert_true(ipaddr_contains(&a, &b));
	b = P("100.128.0.0");
	assert_false(ipaddr_contains(&a, &b));
	b = P("::ffff:100.64.0.1");
	assert_false(ipaddr_contains(&a, &b)); /* families never mix */
}

static void test_device_stable(void **state)
{
	struct ipaddr a, b, c;
	char buf[IPADDR_STRLEN];

	(void)state;
	assert_int_equal(addrplan_device_v4("@printer", NULL, &a), 0);
	assert_int_equal(addrplan_device_v4("@printer", NULL, &b), 0);
	assert_true(ipaddr_equal(&a, &b));
	assert_int_equal(a.plen, 32);
	assert_int_equal(addrplan_device_v4("@printer2", NULL, &c), 0);
	assert_false(ipaddr_equal(&a, &c));
	/* Pinned value: the derivation is part of the protocol (known_hosts depend on it). */
	assert_string_equal(ipaddr_str(&a, false, buf, sizeof(buf)), "100.84.103.24");
	assert_int_equal(addrplan_device_v6("@printer", NULL, &a), 0);
	assert_int_equal(addrplan_device_v6("@printer", NULL, &b), 0);
	assert_true(ipaddr_equal(&a, &b));
	assert_int_equal(a.plen, 128);
	assert_string_equal(ipaddr_str(&a, false, buf, sizeof(buf)),
			    "fd70:6c73:7300:9d76:ce83:fc59:7fea:58a6");
	assert_int_equal(addrplan_device_v4("printer", NULL, &a), -EINVAL);
	assert_int_equal(addrplan_device_v4("@Printer", NULL, &a), -EINVAL);
	assert_int_equal(addrplan_device_v4(NULL, NULL, &a), -EINVAL);
}

static void test_device_spread(void **state)
{
	struct addrplan_cfg cfg;
	static uint8_t seen16[1 << 14]; /* /16s... rather the 2^14 /24s of a /10 */
	unsigned distinct = 0, collisions = 0;
	static uint32_t all[4000];

	(void)state;
	addrplan_defaults(&cfg);
	memset(seen16, 0, sizeof(seen16));
	for (unsigned i = 0; i < 4000; i++) {
		char h[32];
		struct ipaddr a, a6;
		uint32_t v;

		snprintf(h, sizeof(h), "@dev-%u", i);
		assert_int_equal(addrplan_device_v4(h, NULL, &a), 0);
		assert_true(ipaddr_contains(&cfg.dev4, &a));
		assert_false(ipaddr_contains(&cfg.pool4, &a));
		assert_true(a.a[3] != 0 && a.a[3] != 255);
		v = (uint32_t)a.a[0] << 24 | (uint32_t)a.a[1] << 16 | (uint32_t)a.a[2] << 8 |
		    a.a[3];
		for (unsigned j = 0; j < i; j++)
			collisions += all[j] == v;
		all[i] = v;
		{
			uint32_t idx = (v >> 8) & 0x3fff;

			distinct += !seen16[idx];
			seen16[idx] = 1;
		}
		assert_int_equal(addrplan_device_v6(h, NULL, &a6), 0);
		assert_true(ipaddr_contains(&cfg.dev6, &a6));
		assert_false(ipaddr_contains(&cfg.pool6, &a6));
	}
	/* 4000 into 2^22 addresses: expect ~2 birthday collisions, and nearly all /24s distinct. */
	printf("4000 handles: %u collisions, %u distinct /24s\n", collisions, distinct);
	assert_true(collisions <= 10);
	assert_true(distinct >= 3400);
}

static void test_device_prefix(void **state)
{
	struct ipaddr pre = P("10.99.0.0/16"), a, b, avoid = P("10.99.0.0/17");

	(void)state;
	assert_int_equal(addrplan_device_v4("@x", &pre, &a), 0);
	assert_true(ipaddr_contains(&pre, &a));
	/* Avoid the lower half: always in the upper half. */
	for (unsigned alt = 0; alt < 50; alt++) {
		assert_int_equal(addrplan_device_ex("@x", &pre, &avoid, alt, &b), 0);
		assert_true(b.a[2] >= 128);
	}
	/* Alternatives are stable and differ from the normal address. */
	assert_int_equal(addrplan_device_ex("@x", &pre, NULL, 1, &a), 0);
	assert_int_equal(addrplan_device_ex("@x", &pre, NULL, 1, &b), 0);
	assert_true(ipaddr_equal(&a, &b));
	assert_int_equal(addrplan_device_ex("@x", &pre, NULL, 0, &b), 0);
	assert_false(ipaddr_equal(&a, &b));
	/* A /24: never .0 or .255 */
	pre = P("192.168.7.0/24");
	for (unsigned alt = 0; alt < 300; alt++) {
		assert_int_equal(addrplan_device_ex("@y", &pre, NULL, alt, &a), 0);
		assert_true(a.a[3] != 0 && a.a[3] != 255 && a.a[2] == 7);
	}
	pre = P("192.168.7.0/25");
	assert_int_equal(addrplan_device_v4("@y", &pre, &a), -EINVAL);
	pre = P("fd00::/48");
	assert_int_equal(addrplan_device_v4("@y", &pre, &a), -EINVAL); /* wrong family */
	assert_int_equal(addrplan_device_v6("@y", &pre, &a), 0);
	assert_true(ipaddr_contains(&pre, &a));
	/* avoid covering everything */
	avoid = P("192.168.7.0/24");
	pre = P("192.168.7.0/24");
	assert_int_equal(addrplan_device_ex("@y", &pre, &avoid, 0, &a), -EADDRNOTAVAIL);
}

static void host_add(struct addrplan_host *h, const char *a, bool route, int ifindex,
		     const char *name, uint32_t table)
{
	struct addrplan_host_entry e = {
	    .addr = P(a), .is_route = route, .ifindex = ifindex, .table = table, .rtype = 1};

	snprintf(e.ifname, sizeof(e.ifname), "%s", name);
	assert_int_equal(addrplan_host_add(h, &e), 0);
}

static void test_conflict(void **state)
{
	struct addrplan_host h = {0};
	struct ipaddr a = P("100.70.1.2");
	char why[256];

	(void)state;
	host_add(&h, "192.168.1.10/24", false, 2, "eth0", 0);
	host_add(&h, "0.0.0.0/0", true, 2, "eth0", 254);
	host_add(&h, "192.168.1.0/24", true, 2, "eth0", 254);
	host_add(&h, "100.70.1.2/32", true, 255, "lo", 255); /* local table ignored */
	assert_int_equal(addrplan_check(&h, &a, 0, why, sizeof(why)), ADDRPLAN_OK);
	assert_string_equal(why, "");
	host_add(&h, "100.64.0.0/10", true, 3, "wwan0", 254);
	assert_int_equal(addrplan_check(&h, &a, 0, why, sizeof(why)), ADDRPLAN_ROUTE_COVERS);
	assert_non_null(strstr(why, "100.64.0.0/10"));
	assert_non_null(strstr(why, "wwan0"));
	host_add(&h, "100.70.0.0/16", true, 4, "tun9", 254);
	assert_int_equal(addrplan_check(&h, &a, 0, why, sizeof(why)), ADDRPLAN_ROUTE_COVERS);
	assert_non_null(strstr(why, "100.70.0.0/16")); /* the most specific one is named */
	host_add(&h, "100.70.1.2/32", true, 5, "wg0", 254);
	assert_int_equal(addrplan_check(&h, &a, 0, why, sizeof(why)), ADDRPLAN_ROUTE_EXACT);
	assert_non_null(strstr(why, "wg0"));
	assert_int_equal(addrplan_check(&h, &a, 5, why, sizeof(why)),
			 ADDRPLAN_ROUTE_COVERS); /* our own */
	host_add(&h, "100.70.1.2/24", false, 6, "eth1", 0);
	assert_int_equal(addrplan_check(&h, &a, 0, why, sizeof(why)), ADDRPLAN_ADDR_IN_USE);
	assert_string_equal(why, "address 100.70.1.2 already on eth1 (as 100.70.1.2/24)");
	a = P("fd70:6c73:7300:1::5");
	assert_int_equal(addrplan_check(&h, &a, 0, why, sizeof(why)), ADDRPLAN_OK);
	host_add(&h, "fd70:6c73:7300:1::5/64", false, 7, "", 0);
	assert_int_equal(addrplan_check(&h, &a, 0, why, sizeof(why)), ADDRPLAN_ADDR_IN_USE);
	assert_non_null(strstr(why, "interface #7"));
	addrplan_host_clear(&h);
	assert_int_equal(h.n, 0);
}

static void test_pool(void **state)
{
	struct ipaddr p4 = P("10.9.0.0/23"), p6 = P("fd00:1::/64"), a, b6, first;
	struct addrpool *pool;
	char buf[IPADDR_STRLEN];
	size_t cap;

	(void)state;
	assert_int_equal(addrpool_new(&p4, &p6, &pool), 0);
	cap = addrpool_capacity(pool);
	assert_int_equal(cap, 512 - 4); /* .0 and .255 of both /24s */
	assert_int_equal(addrpool_alloc(pool, &first, &b6), 0);
	assert_string_equal(ipaddr_str(&first, true, buf, sizeof(buf)), "10.9.0.1/32");
	assert_string_equal(ipaddr_str(&b6, true, buf, sizeof(buf)), "fd00:1::1/128");
	assert_true(addrpool_is_allocated(pool, &first));
	assert_true(addrpool_is_allocated(pool, &b6));
	/* next-fit: a released address is not handed out again at once */
	assert_int_equal(addrpool_release(pool, &first), 0);
	assert_int_equal(addrpool_release(pool, &first), -ENOENT);
	assert_int_equal(addrpool_alloc(pool, &a, NULL), 0);
	assert_string_equal(ipaddr_str(&a, false, buf, sizeof(buf)), "10.9.0.2");
	/* reserve the device's own address and a host conflict */
	a = P("10.9.0.3");
	assert_int_equal(addrpool_reserve(pool, &a), 0);
	{
		struct addrplan_host h = {0};

		host_add(&h, "10.9.0.4/24", false, 2, "eth0", 0);
		host_add(&h, "10.9.0.5/32", true, 3, "wg0", 254);
		host_add(&h, "10.9.0.0/16", true, 3, "wg0", 254); /* broad routes don't reserve */
		host_add(&h, "10.9.0.6/32", true, 9, "pl0", 254); /* our own */
		assert_int_equal(addrpool_reserve_host(pool, &h, 9), 2);
		addrplan_host_clear(&h);
	}
	assert_int_equal(addrpool_alloc(pool, &a, &b6), 0);
	assert_string_equal(ipaddr_str(&a, false, buf, sizeof(buf)), "10.9.0.6");
	assert_string_equal(ipaddr_str(&b6, false, buf, sizeof(buf)), "fd00:1::6");
	/* release by the IPv6 twin */
	assert_int_equal(addrpool_release(pool, &b6), 0);
	assert_int_equal(addrpool_in_use(pool), 1);
	/* exhaust, never handing out .0/.255 */
	for (;;) {
		if (addrpool_alloc(pool, &a, NULL) == -ENOSPC)
			break;
		assert_true(a.a[3] != 0 && a.a[3] != 255);
		assert_true(ipaddr_contains(&p4, &a));
	}
	assert_int_equal(addrpool_in_use(pool), cap - 3);
	a = P("10.10.0.1");
	assert_int_equal(addrpool_release(pool, &a), -ENOENT);
	assert_int_equal(addrpool_reserve(pool, &a), -ENOENT);
	addrpool_free(pool);
	addrpool_free(NULL);
	p4 = P("10.0.0.0/31");
	assert_int_equal(addrpool_new(&p4, NULL, &pool), -EINVAL);
	p4 = P("fd00::/64");
	assert_int_equal(addrpool_new(&p4, NULL, &pool), -EINVAL);
	/* big pools are capped */
	p4 = P("10.0.0.0/8");
	assert_int_equal(addrpool_new(&p4, NULL, &pool), 0);
	assert_int_equal(addrpool_capacity(pool), 65536 - 2 * 256);
	addrpool_free(pool);
}

static void test_default_pool(void **state)
{
	struct addrplan_cfg cfg;
	struct addrpool *pool;
	struct ipaddr a, a6, dev;

	(void)state;
	addrplan_defaults(&cfg);
	assert_int_equal(addrpool_new(&cfg.pool4, &cfg.pool6, &pool), 0);
	assert_int_equal(addrplan_device_v4("@box", NULL, &dev), 0);
	assert_int_equal(addrpool_reserve(pool, &dev), -ENOENT); /* device never in the pool */
	for (int i = 0; i < 300; i++) {
		assert_int_equal(addrpool_alloc(pool, &a, &a6), 0);
		assert_true(ipaddr_contains(&cfg.pool4, &a));
		assert_true(ipaddr_contains(&cfg.pool6, &a6));
		assert_false(ipaddr_same_host(&a, &dev));
	}
	assert_int_equal(addrpool_in_use(pool), 300);
	addrpool_free(pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ipaddr),        cmocka_unit_test(test_device_stable),
	    cmocka_unit_test(test_device_spread), cmocka_unit_test(test_device_prefix),
	    cmocka_unit_test(test_conflict),      cmocka_unit_test(test_pool),
	    cmocka_unit_test(test_default_pool),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
