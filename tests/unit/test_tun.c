/* SPDX-License-Identifier: MIT */
/* TUN device over the fake seam, the libmnl monitor fed crafted messages, and the ifup/ifdown
 * runner. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ifscript.h"
#include "nlmon.h"
#include "tun.h"
#include "tun_fake.h"

/* ---- TUN over the fake ---- */

static void test_open_names(void **state)
{
	struct tun_open_opts o = {0};
	struct tun_dev *a, *b;

	(void)state;
	assert_int_equal(tun_open_ex(&tun_ops_fake, &o, &a), 0);
	assert_int_equal(tun_open_ex(&tun_ops_fake, &o, &b), 0);
	assert_int_equal(strncmp(tun_name(a), "pl", 2), 0);
	assert_string_not_equal(tun_name(a), tun_name(b));
	assert_true(tun_fd(a) >= 0);
	assert_true(tun_fake_peer(a) >= 0);
	tun_close(a);
	tun_close(b);
	o.name = "sess7";
	assert_int_equal(tun_open_ex(&tun_ops_fake, &o, &a), 0);
	assert_string_equal(tun_name(a), "sess7");
	tun_close(a);
	tun_close(NULL);
	o.name = "bad/name";
	assert_int_equal(tun_open_ex(&tun_ops_fake, &o, &a), -EINVAL);
	assert_null(a);
	o.name = "much-too-long-interface-name";
	assert_int_equal(tun_open_ex(&tun_ops_fake, &o, &a), -EINVAL);
	o.name = "pl%d";
	o.flags = 1;
	assert_int_equal(tun_open_ex(&tun_ops_fake, &o, &a), -EINVAL);
}

static void test_read_write(void **state)
{
	uint8_t store[2048], out[2048], big[1500];
	struct tun_dev *d;
	struct tun_stats st;
	struct pkt p;
	int peer;

	(void)state;
	assert_int_equal(tun_open_ex(&tun_ops_fake, NULL, &d), 0);
	peer = tun_fake_peer(d);
	pkt_init(&p, store, sizeof(store), 64);
	assert_int_equal(tun_read(d, &p), -EAGAIN);
	/* kernel -> us: lands after the headroom */
	assert_int_equal(write(peer, "\x45hello", 6), 6);
	assert_int_equal(tun_read(d, &p), 6);
	assert_int_equal(p.len, 6);
	assert_int_equal(pkt_headroom(&p), 64);
	assert_memory_equal(pkt_data(&p), "\x45hello", 6);
	/* headroom usable for encapsulation without a copy */
	assert_non_null(pkt_push(&p, 16));
	/* us -> kernel: one whole packet per write */
	assert_int_equal(pkt_pull(&p, 16) != NULL, 1);
	assert_int_equal(tun_write(d, &p), 0);
	assert_int_equal(read(peer, out, sizeof(out)), 6);
	assert_memory_equal(out, "\x45hello", 6);
	/* a packet larger than the tailroom is dropped and counted, not truncated */
	memset(big, 0x45, sizeof(big));
	assert_int_equal(write(peer, big, sizeof(big)), (ssize_t)sizeof(big));
	pkt_init(&p, store, 1000, 64);
	assert_int_equal(tun_read(d, &p), -EMSGSIZE);
	assert_int_equal(p.len, 0);
	tun_get_stats(d, &st);
	assert_int_equal(st.rx_packets, 1);
	assert_int_equal(st.rx_oversize, 1);
	assert_int_equal(st.tx_packets, 1);
	assert_int_equal(st.tx_bytes, 6);
	tun_close(d);
}

static void test_batch(void **state)
{
	static uint8_t store[TUN_BATCH_MAX][256];
	struct pkt pk[TUN_BATCH_MAX], *pp[TUN_BATCH_MAX];
	struct tun_dev *d;
	int peer;

	(void)state;
	assert_int_equal(tun_open_ex(&tun_ops_fake, NULL, &d), 0);
	peer = tun_fake_peer(d);
	for (int i = 0; i < TUN_BATCH_MAX; i++) {
		pkt_init(&pk[i], store[i], sizeof(store[i]), 32);
		pp[i] = &pk[i];
	}
	assert_int_equal(tun_read_batch(d, pp, 8), 0);
	for (int i = 0; i < 5; i++) {
		uint8_t b[10];

		memset(b, i, sizeof(b));
		assert_int_equal(write(peer, b, (size_t)i + 1), i + 1);
	}
	assert_int_equal(tun_read_batch(d, pp, 3), 3);
	assert_int_equal(pk[2].len, 3);
	assert_int_equal(tun_read_batch(d, pp, 8), 2);
	assert_int_equal(pk[0].len, 4);
	assert_int_equal(pk[1].len, 5);
	assert_int_equal(pkt_data(&pk[1])[0], 4);
	assert_int_equal(tun_write_batch(d, pp, 2), 2);
	{
		uint8_t b[16];

		assert_int_equal(read(peer, b, sizeof(b)), 4);
		assert_int_equal(read(peer, b, sizeof(b)), 5);
	}
	tun_close(d);
}

static void test_write_eagain(void **state)
{
	struct tun_dev *d;
	uint8_t b[1400] = {0x45};
	int r = 0, n;

	(void)state;
	assert_int_equal(tun_open_ex(&tun_ops_fake, NULL, &d), 0);
	for (n = 0; n < 100000; n++) {
		r = tun_write_buf(d, b, sizeof(b));
		if (r)
			break;
	}
	assert_int_equal(r, -EAGAIN); /* full queue: caller waits for EV_WRITE */
	tun_close(d);
}

/* ---- netlink monitor, fed crafted messages ---- */

struct seen {
	int vanished, underlay;
	unsigned what;
	char name[IFNAMSIZ];
	bool free_in_cb;
};

static void on_ev(struct nlmon *m, const struct nlmon_event *ev, void *arg)
{
	struct seen *s = arg;

	if (ev->kind == NLMON_VANISHED) {
		s->vanished++;
		snprintf(s->name, sizeof(s->name), "%s", ev->ifname);
	} else {
		s->underlay++;
		s->what |= ev->what;
	}
	if (s->free_in_cb)
		nlmon_free(m);
}

static size_t msg_link(uint8_t *buf, uint16_t type, int ifindex)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = type;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_index = ifindex;
	return nlh->nlmsg_len;
}

static size_t msg_addr(uint8_t *buf, uint16_t type, int ifindex, const char *v4)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifaddrmsg *ifa;
	uint8_t a[4];
	unsigned x[4];

	nlh->nlmsg_type = type;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_INET;
	ifa->ifa_index = (unsigned)ifindex;
	sscanf(v4, "%u.%u.%u.%u", &x[0], &x[1], &x[2], &x[3]);
	for (int i = 0; i < 4; i++)
		a[i] = (uint8_t)x[i];
	mnl_attr_put(nlh, IFA_LOCAL, 4, a);
	return nlh->nlmsg_len;
}

static size_t msg_route(uint8_t *buf, uint16_t type, uint8_t dst_len, uint32_t table, int oif)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rt;

	nlh->nlmsg_type = type;
	rt = mnl_nlmsg_put_extra_header(nlh, sizeof(*rt));
	rt->rtm_family = AF_INET;
	rt->rtm_dst_len = dst_len;
	rt->rtm_table = (uint8_t)(table < 256 ? table : RT_TABLE_UNSPEC);
	mnl_attr_put_u32(nlh, RTA_TABLE, table);
	if (oif)
		mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)oif);
	return nlh->nlmsg_len;
}

static void test_nlmon(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	int lo = (int)if_nametoindex("lo");
	struct seen s = {0};
	uint8_t buf[4096];
	struct nlmon *m;
	size_t n;

	(void)state;
	assert_true(lo > 0);
	assert_int_equal(nlmon_new(loop, "no-such-if0", on_ev, &s, &m), -ENODEV);
	assert_int_equal(nlmon_new(loop, "lo", on_ev, &s, &m), 0);
	assert_int_equal(nlmon_watch(m, "lo"), -EEXIST);
	/* our own interface's addresses are not underlay; loopback addresses neither */
	n = msg_addr(buf, RTM_NEWADDR, lo, "10.0.0.1");
	assert_int_equal(nlmon_feed(m, buf, n), 0);
	n = msg_addr(buf, RTM_NEWADDR, 9999, "127.0.0.2");
	assert_int_equal(nlmon_feed(m, buf, n), 0);
	assert_int_equal(s.underlay, 0);
	/* another interface's address: underlay */
	n = msg_addr(buf, RTM_DELADDR, 9999, "192.0.2.7");
	assert_int_equal(nlmon_feed(m, buf, n), 0);
	assert_int_equal(s.underlay, 1);
	assert_int_equal(s.what, NLMON_WHAT_ADDR);
	/* only default routes, not in the local table, not via us */
	n = msg_route(buf, RTM_NEWROUTE, 24, RT_TABLE_MAIN, 9999);
	assert_int_equal(nlmon_feed(m, buf, n), 0);
	n = msg_route(buf, RTM_NEWROUTE, 0, RT_TABLE_LOCAL, 9999);
	assert_int_equal(nlmon_feed(m, buf, n), 0);
	n = msg_route(buf, RTM_NEWROUTE, 0, RT_TABLE_MAIN, lo);
	assert_int_equal(nlmon_feed(m, buf, n), 0);
	assert_int_equal(s.underlay, 1);
	n = msg_route(buf, RTM_DELROUTE, 0, RT_TABLE_MAIN, 9999);
	assert_int_equal(nlmon_feed(m, buf, n), 0);
	assert_int_equal(s.underlay, 2);
	assert_true(s.what & NLMON_WHAT_ROUTE);
	/* two changes in one buffer: one coalesced event */
	n = msg_addr(buf, RTM_NEWADDR, 9999, "192.0.2.8");
	n += msg_route(buf + n, RTM_NEWROUTE, 0, 1000, 9999);
	s.what = 0;
	assert_int_equal(nlmon_feed(m, buf, n), 0);
	assert_int_equal(s.underlay, 3);
	assert_int_equal(s.what, NLMON_WHAT_ADDR | NLMON_WHAT_ROUTE);
	/* a link event for another interface: nothing; DELLINK for ours: vanished once */
	n = msg_link(buf, RTM_DELLINK, 9999);
	assert_int_equal(nlmon_feed(m, buf, n), 0);
	assert_int_equal(s.vanished, 0);
	n = msg_link(buf, RTM_NEWLINK, lo);
	assert_int_equal(nlmon_feed(m, buf, n), 0);
	assert_int_equal(s.vanished, 0);
	n = msg_link(buf, RTM_DELLINK, lo);
	assert_int_equal(nlmon_feed(m, buf, n), 0);
	assert_int_equal(nlmon_feed(m, buf, n), 0);
	assert_int_equal(s.vanished, 1);
	assert_string_equal(s.name, "lo");
	assert_int_equal(nlmon_unwatch(m, "lo"), -ENOENT); /* forgotten after reporting */
	/* junk */
	memset(buf, 0xff, 64);
	assert_int_equal(nlmon_feed(m, buf, 64), -EBADMSG);
	/* freeing from inside the callback is safe */
	assert_int_equal(nlmon_watch(m, "lo"), 0);
	s.free_in_cb = true;
	n = msg_link(buf, RTM_DELLINK, lo);
	n += msg_addr(buf + n, RTM_NEWADDR, 9999, "192.0.2.9");
	assert_int_equal(nlmon_feed(m, buf, n), 0);
	assert_int_equal(s.vanished, 2);
	assert_int_equal(s.underlay, 3); /* nothing after the free */
	ev_loop_destroy(loop);
}

/* ---- ifup/ifdown runner ---- */

static char tmpdir[64];

static void write_script(const char *path, const char *body)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	assert_int_equal(chmod(path, 0700), 0);
}

static int script_setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/tun-ifscript-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	(void)state;
	return 0;
}

static int script_teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_ifscript(void **state)
{
	struct ifscript_env e = {.ifname = "pl3",
				 .role = "device",
				 .session = "42",
				 .addr4 = "100.64.1.2/32",
				 .peer4 = "100.127.0.1/32",
				 .mtu = 1420,
				 .phase = "up"};
	char path[128], out[128], err[IFSCRIPT_ERR_MAX], line[512];
	struct timespec t0, t1;
	FILE *f;

	(void)state;
	assert_int_equal(ifscript_run(NULL, &e, 0, err, sizeof(err)), 0); /* not configured */
	assert_int_equal(ifscript_run("", &e, 0, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/missing", tmpdir);
	assert_int_equal(ifscript_run(path, &e, 0, err, sizeof(err)), 0); /* not present */
	snprintf(path, sizeof(path), "%s/ok", tmpdir);
	snprintf(out, sizeof(out), "%s/env", tmpdir);
	snprintf(line, sizeof(line),
		 "echo \"$PORTLESS_IFNAME $PORTLESS_ROLE $PORTLESS_SESSION $PORTLESS_ADDR4 "
		 "$PORTLESS_PEER4 "
		 "[$PORTLESS_ADDR6] $PORTLESS_MTU $PORTLESS_PHASE\" > %s",
		 out);
	write_script(path, line);
	assert_int_equal(ifscript_run(path, &e, 0, err, sizeof(err)), 0);
	f = fopen(out, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	assert_string_equal(line, "pl3 device 42 100.64.1.2/32 100.127.0.1/32 [] 1420 up\n");
	snprintf(path, sizeof(path), "%s/fails", tmpdir);
	write_script(path, "exit 3");
	assert_int_equal(ifscript_run(path, &e, 0, err, sizeof(err)), -EIO);
	assert_non_null(strstr(err, "exited with status 3"));
	snprintf(path, sizeof(path), "%s/hangs", tmpdir);
	write_script(path, "sleep 30 & sleep 30");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(ifscript_run(path, &e, 200, err, sizeof(err)), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 3);
	assert_non_null(strstr(err, "timed out"));
	snprintf(path, sizeof(path), "%s/noexec", tmpdir);
	write_script(path, "exit 0");
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(ifscript_run(path, &e, 0, err, sizeof(err)), -EACCES);
	assert_non_null(strstr(err, "could not be started"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_open_names),
	    cmocka_unit_test(test_read_write),
	    cmocka_unit_test(test_batch),
	    cmocka_unit_test(test_write_eagain),
	    cmocka_unit_test(test_nlmon),
	    cmocka_unit_test_setup_teardown(test_ifscript, script_setup, script_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
