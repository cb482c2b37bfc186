/* SPDX-License-Identifier: MIT */
/*
 * tun_cfgcheck: run inside a fresh network namespace (as root). Exercises
 * netcfg against the real kernel: add/remove addresses and routes, the
 * failure sentences (naming the object and why), MTU limits, link up/down,
 * the host snapshot and conflict check, and sysctl save/restore. Prints one
 * "ok ..." line per check and exits 1 at the first failure.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addrplan.h"
#include "netcfg.h"
#include "tun.h"

static int failures;

static void check(bool cond, const char *what, const struct netcfg *nc)
{
	printf("%s %s%s%s\n", cond ? "ok" : "FAIL", what, nc ? " | " : "",
	       nc ? netcfg_error(nc) : "");
	if (!cond)
		failures++;
}

static struct ipaddr A(const char *s) {
	struct ipaddr a;

	if (!ipaddr_parse(s, &a))
		abort();
	return a;
}

static bool
has(const struct netcfg *nc, const char *needle)
{
	return strstr(netcfg_error(nc), needle) != NULL;
}

static void addresses(struct netcfg *nc, int idx, int idx2)
{
	struct ipaddr a = A("100.70.9.1/32"), peer = A("100.127.9.1/32"),
		      v6 = A("fd70:6c73:7300:9::1/128");

	check(netcfg_addr_add(nc, idx, &a, &peer) == 0, "add p2p address", nc);
	check(netcfg_addr_add(nc, idx, &v6, NULL) == 0, "add v6 address", nc);
	check(netcfg_addr_add(nc, idx, &a, &peer) == -EEXIST &&
		  has(nc, "address 100.70.9.1 already on plc0"),
	      "same address again: EEXIST, names plc0", nc);
	check(netcfg_addr_add(nc, idx2, &a, NULL) == -EEXIST && has(nc, "already on plc0"),
	      "same address on another interface refused", nc);
	check(netcfg_addr_del(nc, idx, &v6, NULL) == 0, "remove v6 address", nc);
	check(netcfg_addr_del(nc, idx, &v6, NULL) == -EADDRNOTAVAIL &&
		  has(nc, "removing address fd70:6c73:7300:9::1/128 from plc0: no such address"),
	      "remove again: says which and why", nc);
	check(netcfg_addr_add(nc, 99999, &v6, NULL) == -ENODEV && has(nc, "interface #99999"),
	      "unknown interface named", nc);
}

static void routes(struct netcfg *nc, int idx)
{
	struct ipaddr r = A("100.127.9.2/32"), src = A("100.70.9.1/32"),
		      r6 = A("fd70:6c73:7300:ffff::9/128");

	check(netcfg_route_add(nc, idx, &r, &src) == 0, "add route with source", nc);
	check(netcfg_route_add(nc, idx, &r6, NULL) == 0, "add v6 route", nc);
	check(netcfg_route_add(nc, idx, &r, &src) == -EEXIST &&
		  has(nc, "adding route 100.127.9.2/32 via plc0: already exists"),
	      "route twice: EEXIST with object", nc);
	check(netcfg_route_del(nc, idx, &r6) == 0, "remove v6 route", nc);
	check(netcfg_route_del(nc, idx, &r6) == -ESRCH && has(nc, "no such route"),
	      "remove again: ESRCH", nc);
}

static void snapshot(struct netcfg *nc, int idx)
{
	struct addrplan_host h = {0};
	struct ipaddr a = A("100.70.9.1"), r = A("100.127.9.2");
	char why[256];

	check(netcfg_host_snapshot(nc, &h) == 0 && h.n > 0, "host snapshot", nc);
	check(addrplan_check(&h, &a, 0, why, sizeof(why)) == ADDRPLAN_ADDR_IN_USE &&
		  strstr(why, "plc0"),
	      "snapshot sees our address", NULL);
	check(addrplan_check(&h, &r, 0, why, sizeof(why)) == ADDRPLAN_ROUTE_EXACT,
	      "snapshot sees our route", NULL);
	check(addrplan_check(&h, &r, idx, why, sizeof(why)) == ADDRPLAN_OK, "own interface ignored",
	      NULL);
	addrplan_host_clear(&h);
}

static void link_and_sysctl(struct netcfg *nc, int idx)
{
	struct netcfg_sysctl s = {0};
	char v[32];

	check(netcfg_link_set_mtu(nc, idx, 1280) == 0, "MTU 1280", nc);
	check(netcfg_link_set_mtu(nc, idx, 20) == -EINVAL && has(nc, "setting MTU 20 on plc0"),
	      "MTU 20 refused", nc);
	check(netcfg_link_set_up(nc, idx, false) == 0 && netcfg_link_set_up(nc, idx, true) == 0,
	      "down and up", nc);
	check(netcfg_sysctl_get(nc, "net/ipv6/conf/plc0/hop_limit", v, sizeof(v)) == 0 &&
		  strcmp(v, "64") == 0,
	      "read sysctl", nc);
	check(netcfg_sysctl_set(nc, &s, "net/ipv6/conf/plc0/hop_limit", "7") == 0 &&
		  strcmp(s.old, "64") == 0,
	      "set sysctl, old value saved", nc);
	check(netcfg_sysctl_get(nc, "net/ipv6/conf/plc0/hop_limit", v, sizeof(v)) == 0 &&
		  strcmp(v, "7") == 0,
	      "sysctl changed", nc);
	check(netcfg_sysctl_restore(nc, &s) == 0 && netcfg_sysctl_restore(nc, &s) == 0,
	      "restore (twice)", nc);
	check(netcfg_sysctl_get(nc, "net/ipv6/conf/plc0/hop_limit", v, sizeof(v)) == 0 &&
		  strcmp(v, "64") == 0,
	      "sysctl restored", nc);
	check(netcfg_sysctl_set(nc, &s, "net/../../etc/passwd", "x") == -EINVAL, "'..' refused",
	      nc);
	check(netcfg_ipv6_disable_dad(nc, "plc0", &s) == 0, "accept_dad 0", nc);
	check(netcfg_sysctl_restore(nc, &s) == 0, "accept_dad restored", nc);
}

int main(void)
{
	struct tun_dev *t1 = NULL, *t2 = NULL;
	struct netcfg *nc = NULL;
	int idx, idx2;

	if (tun_open("plc0", &t1) || tun_open("plc1", &t2) || netcfg_open(&nc)) {
		printf("FAIL setup\n");
		return 1;
	}
	idx = netcfg_ifindex(nc, "plc0");
	idx2 = netcfg_ifindex(nc, "plc1");
	check(idx > 0 && idx2 > 0, "ifindex", nc);
	check(netcfg_ifindex(nc, "nope0") == -ENODEV &&
		  has(nc, "interface nope0: no such interface"),
	      "unknown name", nc);
	check(netcfg_link_set_up(nc, idx, true) == 0, "link up", nc);
	addresses(nc, idx, idx2);
	routes(nc, idx);
	snapshot(nc, idx);
	link_and_sysctl(nc, idx);
	tun_close(t2);
	check(netcfg_link_delete(nc, idx2) == -ENODEV, "closed TUN is gone", nc);
	netcfg_close(nc);
	tun_close(t1);
	printf("%s\n", failures ? "FAILED" : "ALL OK");
	return failures ? 1 : 0;
}
