/* SPDX-License-Identifier: MIT */
/*
 * tun_pump: namespace-test helper. Creates a TUN with libportless_tun,
 * configures it through netcfg (addresses, peer, routes, MTU, up, no DAD),
 * runs the ifup/ifdown scripts, and pumps whole IP packets between the TUN
 * and a unix SOCK_SEQPACKET socket (one end listens, the other connects), so
 * two namespaces talk through a relay of the test's own. With --filter the
 * device-side filter judges every packet in both directions. The libmnl
 * monitor reports "event vanished <if>" / "event underlay 0x<bits>" on
 * stdout; a vanished interface ends the program (exit 0).
 *
 * Lines on stdout: "ready <ifname>", "event ...", "sysctl accept_dad old=N",
 * "conflict <sentence>", "counters ..." (on SIGUSR1 and at exit),
 * "error <sentence>".
 */
#include <errno.h>
#include <ev.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "addrplan.h"
#include "filter.h"
#include "ifscript.h"
#include "log.h"
#include "netcfg.h"
#include "nlmon.h"
#include "tun.h"

enum { MAXA = 4, HEADROOM = 64, BUF = 2048, SID = 1 };

struct opts {
	const char *name, *listen, *connect, *ifup, *ifdown, *role, *session;
	struct ipaddr addr[MAXA], peer[MAXA], route[MAXA], client[MAXA];
	int naddr, npeer, nroute, nclient;
	uint16_t ports[FILTER_MAX_PORTS];
	int nports;
	unsigned mtu, timeout;
	bool filter, nodad;
};

struct pump {
	struct opts o;
	struct ev_loop *loop;
	struct tun_dev *tun;
	struct netcfg *nc;
	struct nlmon *mon;
	struct filter *flt;
	struct netcfg_sysctl dad;
	int ifindex, lfd, sfd;
	ev_io tun_w, sock_w, accept_w;
	ev_signal term_w, int_w, usr1_w;
	ev_timer limit_w;
	int rc;
	uint8_t buf[BUF];
};

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

static void die_usage(void)
{
	fprintf(stderr,
		"usage: tun_pump [--name N] --addr A/len [--peer P] [--route R] [--mtu N]\n"
		"  (--listen PATH | --connect PATH) [--filter --client A --port N]\n"
		"  [--ifup S --ifdown S --role R --session ID] [--nodad] [--timeout SEC]\n");
	exit(2);
}

static void add_addr(struct ipaddr *v, int *n, const char *s)
{
	if (*n == MAXA || !ipaddr_parse(s, &v[*n])) {
		fprintf(stderr, "bad address %s\n", s);
		exit(2);
	}
	(*n)++;
}

static void parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
	    {"name", 1, 0, 'n'},    {"addr", 1, 0, 'a'},    {"peer", 1, 0, 'p'},
	    {"route", 1, 0, 'r'},   {"mtu", 1, 0, 'm'},     {"listen", 1, 0, 'l'},
	    {"connect", 1, 0, 'c'}, {"filter", 0, 0, 'f'},  {"client", 1, 0, 'C'},
	    {"port", 1, 0, 'P'},    {"ifup", 1, 0, 'U'},    {"ifdown", 1, 0, 'D'},
	    {"role", 1, 0, 'R'},    {"session", 1, 0, 'S'}, {"nodad", 0, 0, 'N'},
	    {"timeout", 1, 0, 't'}, {0, 0, 0, 0},
	};
	int c;

	o->mtu = TUN_DEFAULT_MTU;
	o->timeout = 120;
	o->role = "client";
	o->session = "1";
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'n':
			o->name = optarg;
			break;
		case 'a':
			add_addr(o->addr, &o->naddr, optarg);
			break;
		case 'p':
			add_addr(o->peer, &o->npeer, optarg);
			break;
		case 'r':
			add_addr(o->route, &o->nroute, optarg);
			break;
		case 'C':
			add_addr(o->client, &o->nclient, optarg);
			break;
		case 'm':
			o->mtu = (unsigned)atoi(optarg);
			break;
		case 'l':
			o->listen = optarg;
			break;
		case 'c':
			o->connect = optarg;
			break;
		case 'f':
			o->filter = true;
			break;
		case 'P':
			if (o->nports == FILTER_MAX_PORTS)
				die_usage();
			o->ports[o->nports++] = (uint16_t)atoi(optarg);
			break;
		case 'U':
			o->ifup = optarg;
			break;
		case 'D':
			o->ifdown = optarg;
			break;
		case 'R':
			o->role = optarg;
			break;
		case 'S':
			o->session = optarg;
			break;
		case 'N':
			o->nodad = true;
			break;
		case 't':
			o->timeout = (unsigned)atoi(optarg);
			break;
		default:
			die_usage();
		}
	}
	if (!o->naddr || !!o->listen == !!o->connect)
		die_usage();
}

static const struct ipaddr *peer_for(const struct opts *o, int family)
{
	for (int i = 0; i < o->npeer; i++)
		if (o->peer[i].family == family)
			return &o->peer[i];
	return NULL;
}

static const struct ipaddr *first_of(const struct ipaddr *v, int n, int family)
{
	for (int i = 0; i < n; i++)
		if (v[i].family == family)
			return &v[i];
	return NULL;
}

__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

/* ---- configuration ---- */

static int check_conflicts(struct pump *pp)
{
	struct addrplan_host h = {0};
	char why[256];
	int err = netcfg_host_snapshot(pp->nc, &h);

	for (int i = 0; !err && i < pp->o.naddr; i++) {
		enum addrplan_conflict c =
		    addrplan_check(&h, &pp->o.addr[i], pp->ifindex, why, sizeof(why));

		if (c != ADDRPLAN_OK)
			say("conflict %s\n", why);
		if (c >= ADDRPLAN_ROUTE_EXACT)
			err = -EADDRINUSE;
	}
	addrplan_host_clear(&h);
	return err;
}

static int configure(struct pump *pp)
{
	struct opts *o = &pp->o;
	char old[NETCFG_SYSCTL_VAL_MAX + 32];
	int err;

	if ((err = check_conflicts(pp)))
		return err;
	if ((err = netcfg_link_set_mtu(pp->nc, pp->ifindex, o->mtu)))
		return err;
	if ((err = netcfg_link_no_ipv6_ll(pp->nc, pp->ifindex)))
		return err;
	if (o->nodad) {
		if ((err = netcfg_ipv6_disable_dad(pp->nc, tun_name(pp->tun), &pp->dad)))
			return err;
		snprintf(old, sizeof(old), "%s", pp->dad.old);
		say("sysctl accept_dad old=%s\n", old);
	}
	for (int i = 0; i < o->naddr; i++)
		if ((err = netcfg_addr_add(pp->nc, pp->ifindex, &o->addr[i],
					   peer_for(o, o->addr[i].family))))
			return err;
	if ((err = netcfg_link_set_up(pp->nc, pp->ifindex, true)))
		return err;
	for (int i = 0; i < o->nroute; i++)
		if ((err = netcfg_route_add(pp->nc, pp->ifindex, &o->route[i],
					    first_of(o->addr, o->naddr, o->route[i].family))))
			return err;
	return 0;
}

static int run_script(struct pump *pp, const char *path, const char *phase)
{
	char a4[IPADDR_STRLEN] = "", a6[IPADDR_STRLEN] = "", p4[IPADDR_STRLEN] = "",
	     p6[IPADDR_STRLEN] = "";
	char err[IFSCRIPT_ERR_MAX];
	const struct ipaddr *x;
	struct ifscript_env e = {.ifname = tun_name(pp->tun),
				 .role = pp->o.role,
				 .session = pp->o.session,
				 .addr4 = a4,
				 .addr6 = a6,
				 .peer4 = p4,
				 .peer6 = p6,
				 .mtu = pp->o.mtu,
				 .phase = phase};
	int r;

	if ((x = first_of(pp->o.addr, pp->o.naddr, AF_INET)))
		ipaddr_str(x, true, a4, sizeof(a4));
	if ((x = first_of(pp->o.addr, pp->o.naddr, AF_INET6)))
		ipaddr_str(x, true, a6, sizeof(a6));
	if ((x = peer_for(&pp->o, AF_INET)) || (x = first_of(pp->o.route, pp->o.nroute, AF_INET)))
		ipaddr_str(x, true, p4, sizeof(p4));
	if ((x = peer_for(&pp->o, AF_INET6)) || (x = first_of(pp->o.route, pp->o.nroute, AF_INET6)))
		ipaddr_str(x, true, p6, sizeof(p6));
	r = ifscript_run(path, &e, 2000, err, sizeof(err));
	if (r)
		say("error %s\n", err);
	return r;
}

static int setup_filter(struct pump *pp)
{
	struct filter_session_cfg s = {.id = SID};
	int err = filter_new(first_of(pp->o.addr, pp->o.naddr, AF_INET),
			     first_of(pp->o.addr, pp->o.naddr, AF_INET6), 4, &pp->flt);

	if (err)
		return err;
	if (first_of(pp->o.client, pp->o.nclient, AF_INET))
		s.client4 = *first_of(pp->o.client, pp->o.nclient, AF_INET);
	if (first_of(pp->o.client, pp->o.nclient, AF_INET6))
		s.client6 = *first_of(pp->o.client, pp->o.nclient, AF_INET6);
	if (pp->o.nports) {
		s.ports = pp->o.ports;
		s.nports = (size_t)pp->o.nports;
	}
	return filter_session_add(pp->flt, &s);
}

/* ---- data path ---- */

static void print_counters(struct pump *pp)
{
	struct filter_counters c;
	struct tun_stats st;

	tun_get_stats(pp->tun, &st);
	printf("counters tun_rx=%llu tun_tx=%llu", st.rx_packets, st.tx_packets);
	if (pp->flt) {
		filter_get_counters(pp->flt, &c);
		printf(" passed_in=%llu passed_out=%llu", (unsigned long long)c.passed_in,
		       (unsigned long long)c.passed_out);
		for (int r = 1; r < FILTER_REASON_COUNT; r++) {
			if (c.drop_in[r])
				printf(" drop_in[%s]=%llu",
				       filter_reason_str((enum filter_reason)r),
				       (unsigned long long)c.drop_in[r]);
			if (c.drop_out[r])
				printf(" drop_out[%s]=%llu",
				       filter_reason_str((enum filter_reason)r),
				       (unsigned long long)c.drop_out[r]);
		}
	}
	printf("\n");
	fflush(stdout);
}

static void tun_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct pump *pp = container_of(w, struct pump, tun_w);
	struct pkt p;

	for (int i = 0; i < TUN_BATCH_MAX; i++) {
		pkt_init(&p, pp->buf, sizeof(pp->buf), HEADROOM);
		if (tun_read(pp->tun, &p) < 0)
			return;
		if (pp->flt && filter_outbound_pkt(pp->flt, &p, NULL) != FILTER_PASS)
			continue;
		if (pp->sfd >= 0)
			(void)send(pp->sfd, pkt_data(&p), p.len, MSG_DONTWAIT | MSG_NOSIGNAL);
	}
}

static void sock_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct pump *pp = container_of(w, struct pump, sock_w);
	struct pkt p;

	for (int i = 0; i < TUN_BATCH_MAX; i++) {
		ssize_t n;

		pkt_init(&p, pp->buf, sizeof(pp->buf), HEADROOM);
		n = recv(pp->sfd, pkt_data(&p), pkt_tailroom(&p), MSG_DONTWAIT);
		if (n == 0) {
			say("event %s\n", "relay-closed");
			ev_break(loop, EVBREAK_ALL);
		}
		if (n <= 0)
			return;
		p.len = (size_t)n;
		if (pp->flt && filter_inbound_pkt(pp->flt, SID, &p, NULL) != FILTER_PASS)
			continue;
		if (tun_write(pp->tun, &p) < 0)
			continue; /* queue full: dropped, like a real link */
	}
}

static void start_sock(struct pump *pp, int fd)
{
	pp->sfd = fd;
	ev_io_init(&pp->sock_w, sock_cb, fd, EV_READ);
	ev_io_start(pp->loop, &pp->sock_w);
	say("event %s\n", "relay-connected");
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct pump *pp = container_of(w, struct pump, accept_w);
	int fd = accept4(pp->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	ev_io_stop(loop, w);
	start_sock(pp, fd);
}

static int open_sock(struct pump *pp)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *path = pp->o.listen ? pp->o.listen : pp->o.connect;
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0 || strlen(path) >= sizeof(sa.sun_path))
		return -EINVAL;
	strcpy(sa.sun_path, path);
	if (pp->o.listen) {
		unlink(path);
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0)
			return -errno;
		pp->lfd = fd;
		ev_io_init(&pp->accept_w, accept_cb, fd, EV_READ);
		ev_io_start(pp->loop, &pp->accept_w);
		return 0;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	start_sock(pp, fd);
	return 0;
}

/* ---- events ---- */

static void mon_cb(struct nlmon *m, const struct nlmon_event *ev, void *arg)
{
	struct pump *pp = arg;

	if (ev->kind == NLMON_VANISHED) {
		say("event vanished %s\n", ev->ifname);
		pp->ifindex = 0; /* nothing left to tear down */
		ev_break(pp->loop, EVBREAK_ALL);
		return;
	}
	printf("event underlay 0x%x\n", ev->what);
	fflush(stdout);
}

static void sig_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	if (w->signum == SIGUSR1) {
		print_counters(container_of(w, struct pump, usr1_w));
		return;
	}
	ev_break(loop, EVBREAK_ALL);
}

static void limit_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct pump *pp = container_of(w, struct pump, limit_w);

	say("error %s\n", "time limit reached");
	pp->rc = 3;
	ev_break(loop, EVBREAK_ALL);
}

static void start_watchers(struct pump *pp)
{
	ev_io_init(&pp->tun_w, tun_cb, tun_fd(pp->tun), EV_READ);
	ev_io_start(pp->loop, &pp->tun_w);
	ev_signal_init(&pp->term_w, sig_cb, SIGTERM);
	ev_signal_start(pp->loop, &pp->term_w);
	ev_signal_init(&pp->int_w, sig_cb, SIGINT);
	ev_signal_start(pp->loop, &pp->int_w);
	ev_signal_init(&pp->usr1_w, sig_cb, SIGUSR1);
	ev_signal_start(pp->loop, &pp->usr1_w);
	ev_timer_init(&pp->limit_w, limit_cb, pp->o.timeout, 0);
	ev_timer_start(pp->loop, &pp->limit_w);
}

static void teardown(struct pump *pp)
{
	if (pp->tun && pp->ifindex) {
		(void)run_script(pp, pp->o.ifdown, "down");
		if (netcfg_sysctl_restore(pp->nc, &pp->dad))
			say("error %s\n", netcfg_error(pp->nc));
	}
	if (pp->tun)
		print_counters(pp);
	nlmon_free(pp->mon);
	tun_close(pp->tun);
	filter_free(pp->flt);
	netcfg_close(pp->nc);
	if (pp->sfd >= 0)
		close(pp->sfd);
	if (pp->lfd >= 0)
		close(pp->lfd);
	if (pp->o.listen)
		unlink(pp->o.listen);
	ev_loop_destroy(pp->loop);
}

static int start(struct pump *pp)
{
	int err;

	if ((err = tun_open(pp->o.name, &pp->tun))) {
		fprintf(stdout, "error opening TUN: %s\n", strerror(-err));
		return err;
	}
	if ((err = netcfg_open(&pp->nc)) || (err = netcfg_ifindex(pp->nc, tun_name(pp->tun))) < 0)
		return err < 0 ? err : -EIO;
	pp->ifindex = err;
	if ((err = configure(pp))) {
		say("error %s\n", netcfg_error(pp->nc)[0] ? netcfg_error(pp->nc) : strerror(-err));
		return err;
	}
	if ((err = nlmon_new(pp->loop, tun_name(pp->tun), mon_cb, pp, &pp->mon)))
		return err;
	if (pp->o.filter && (err = setup_filter(pp)))
		return err;
	if ((err = open_sock(pp))) {
		say("error relay socket: %s\n", strerror(-err));
		return err;
	}
	if ((err = run_script(pp, pp->o.ifup, "up")))
		return err;
	start_watchers(pp);
	say("ready %s\n", tun_name(pp->tun));
	return 0;
}

int main(int argc, char **argv)
{
	static struct pump pp;

	log_init(argv[0]);
	parse_args(argc, argv, &pp.o);
	pp.sfd = pp.lfd = -1;
	pp.loop = ev_loop_new(EVFLAG_AUTO);
	if (start(&pp) == 0)
		ev_run(pp.loop, 0);
	else
		pp.rc = 1;
	teardown(&pp);
	return pp.rc;
}
