/* SPDX-License-Identifier: MIT */
#include "cliif.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "ep.h"
#include "log.h"

void cliif_init(struct cliif *ci, struct ep *ep, void (*on_lost)(struct cliif *ci, const char *why))
{
	memset(ci, 0, sizeof(*ci));
	ci->ep = ep;
	ci->on_lost = on_lost;
	ci->ifindex = -1;
}

const char *cliif_name(const struct cliif *ci)
{
	return ci->tun ? tun_name(ci->tun) : "-";
}

/* The source and destination of an IP packet, or false when it is not one. */
static bool pkt_addrs(const uint8_t *d, size_t len, struct ipaddr *src, struct ipaddr *dst)
{
	if (len >= 20 && d[0] >> 4 == 4) {
		ipaddr_from_bytes(src, AF_INET, d + 12, 32);
		ipaddr_from_bytes(dst, AF_INET, d + 16, 32);
		return true;
	}
	if (len >= 40 && d[0] >> 4 == 6) {
		ipaddr_from_bytes(src, AF_INET6, d + 8, 128);
		ipaddr_from_bytes(dst, AF_INET6, d + 24, 128);
		return true;
	}
	return false;
}

/* @p m owns (@p mine, @p peer): one of its address pairs. */
static bool pair_is(const struct cliif_member *m, const struct ipaddr *mine,
		    const struct ipaddr *peer)
{
	return (ipaddr_equal(mine, &m->c4) && ipaddr_equal(peer, &m->d4)) ||
	       (ipaddr_equal(mine, &m->c6) && ipaddr_equal(peer, &m->d6));
}

static bool udp_known(const struct cliif_member *m, uint16_t local, uint16_t remote)
{
	for (unsigned i = 0; i < CLIIF_UDP_FLOWS; i++)
		if (m->udp[i].local == local && m->udp[i].remote == remote && local)
			return true;
	return false;
}

/* An outgoing UDP datagram opens (or refreshes) its flow for the replies. */
static void udp_note(struct cliif_member *m, const struct pkt *p)
{
	const uint8_t *d = pkt_data(p); /* pkt_addrs() checked the IP header's length */
	struct filter_info fi;
	unsigned i;

	if (d[d[0] >> 4 == 4 ? 9 : 6] != IPPROTO_UDP) /* the common case: not UDP, no parse */
		return;
	if (filter_parse(pkt_data(p), p->len, &fi) != FILTER_PASS || fi.proto != IPPROTO_UDP ||
	    p->len - fi.l4_off < 4 || udp_known(m, fi.sport, fi.dport))
		return;
	i = m->udp_next++ % CLIIF_UDP_FLOWS;
	m->udp[i].local = fi.sport;
	m->udp[i].remote = fi.dport;
}

static bool icmp_reply(const struct filter_info *fi)
{
	if (fi->proto == IPPROTO_ICMP) /* echo reply, unreachable, time exceeded */
		return fi->icmp_type == 0 || fi->icmp_type == 3 || fi->icmp_type == 11;
	return fi->proto == IPPROTO_ICMPV6 && /* unreachable, too big, time exceeded, echo reply */
	       (fi->icmp_type == 1 || fi->icmp_type == 2 || fi->icmp_type == 3 ||
		fi->icmp_type == 129);
}

static bool reply_ok(const struct cliif_member *m, const struct filter_info *fi)
{
	switch (fi->proto) {
	case IPPROTO_TCP: /* SYN without ACK: the device opening a connection */
		return (fi->tcp_flags & 0x12) != 0x02;
	case IPPROTO_UDP:
		return udp_known(m, fi->dport, fi->sport);
	default:
		return icmp_reply(fi);
	}
}

bool cliif_admit(struct cliif_member *m, const struct pkt *p)
{
	struct filter_info fi;
	bool ok = filter_parse(pkt_data(p), p->len, &fi) == FILTER_PASS && !fi.first_fragment &&
		  pair_is(m, &fi.dst, &fi.src) && reply_ok(m, &fi);

	if (!ok)
		m->dropped++;
	return ok;
}

int cliif_clash(const struct cliif *ci, const struct cliif_member *m, char *why, size_t cap)
{
	char a[IPADDR_STRLEN];

	for (const struct cliif_member *o = ci->members; o; o = o->next) {
		const struct ipaddr *hit = ipaddr_equal(&o->c4, &m->c4)   ? &m->c4
					   : ipaddr_equal(&o->c6, &m->c6) ? &m->c6
									  : NULL;

		if (hit) {
			snprintf(why, cap, "client address %s is another session's",
				 ipaddr_str(hit, false, a, sizeof(a)));
			return -EADDRINUSE;
		}
		hit = ipaddr_equal(&o->d4, &m->d4)   ? &m->d4
		      : ipaddr_equal(&o->d6, &m->d6) ? &m->d6
						     : NULL;
		if (hit && strcmp(o->device, m->device) != 0) {
			snprintf(why, cap, "device address %s is %s's",
				 ipaddr_str(hit, false, a, sizeof(a)), o->device);
			return -EADDRINUSE;
		}
	}
	return 0;
}

/* Outgoing: the session whose address the packet leaves from, towards its device. */
static struct dpath_sess *route_out(void *arg, const struct pkt *p)
{
	struct cliif *ci = arg;
	struct ipaddr src, dst;

	if (!pkt_addrs(pkt_data(p), p->len, &src, &dst))
		return NULL;
	if (!ci->last || !pair_is(ci->last, &src, &dst)) {
		ci->last = NULL;
		for (struct cliif_member *m = ci->members; m && !ci->last; m = m->next)
			if (pair_is(m, &src, &dst))
				ci->last = m;
	}
	if (!ci->last)
		return NULL; /* from no session's address, or to another device: dropped */
	udp_note(ci->last, p);
	return ci->last->dps;
}

static void lose(struct cliif *ci, const char *why)
{
	if (ci->lost)
		return;
	ci->lost = true;
	ev_io_stop(ci->ep->loop, &ci->tun_w);
	if (ci->on_lost)
		ci->on_lost(ci, why);
}

static void tun_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct cliif *ci = container_of(w, struct cliif, tun_w);

	cliif_drain(ci);
}

void cliif_drain(struct cliif *ci)
{
	long r = ci->tun && !ci->lost ? dpath_tun_drain(&ci->ep->dp, ci->tun, route_out, ci) : 0;

	if (r < 0)
		lose(ci, strerror((int)-r));
}

static void close_tun(struct cliif *ci)
{
	if (!ci->tun)
		return;
	ev_io_stop(ci->ep->loop, &ci->tun_w);
	ep_unwatch(ci->ep, tun_name(ci->tun));
	tun_close(ci->tun); /* the kernel removes the interface, its addresses and routes */
	ci->tun = NULL;
	ci->ifindex = -1;
	ci->lost = false;
	ci->last = NULL;
}

static int open_tun(struct cliif *ci, unsigned mtu, char *why, size_t cap)
{
	const struct ep_net_ops *net = ci->ep->sys->net;
	struct netcfg *nc = ci->ep->nc;
	struct tun_open_opts o = {.flags = ci->ep->sys->tun->readv ? TUN_OPEN_VNET : 0};
	int r = tun_open_ex(ci->ep->sys->tun, &o, &ci->tun);

	if (r < 0) {
		ci->tun = NULL;
		snprintf(why, cap, "cannot create a TUN interface: %s", strerror(-r));
		return r;
	}
	ci->ifindex = net->ifindex(nc, tun_name(ci->tun));
	r = ci->ifindex < 0 ? ci->ifindex : 0;
	if (r == 0)
		r = net->set_mtu(nc, ci->ifindex, mtu);
	if (r == 0)
		r = net->no_ipv6_ll(nc, ci->ifindex);
	if (r == 0)
		r = net->set_up(nc, ci->ifindex, true);
	if (r < 0) {
		snprintf(why, cap, "%s: %s", tun_name(ci->tun), net->error(nc));
		close_tun(ci);
		return r;
	}
	ev_io_init(&ci->tun_w, tun_cb, tun_fd(ci->tun), EV_READ);
	ev_io_start(ci->ep->loop, &ci->tun_w);
	ep_watch(ci->ep, tun_name(ci->tun));
	return 0;
}

/* Another member to the same device address (@p four: IPv4), or NULL. */
static struct cliif_member *same_device(struct cliif *ci, const struct cliif_member *m, bool four)
{
	for (struct cliif_member *o = ci->members; o; o = o->next)
		if (o != m && ipaddr_equal(four ? &o->d4 : &o->d6, four ? &m->d4 : &m->d6))
			return o;
	return NULL;
}

/* The host route to @p m's device address, with @p m's address as its source. */
static int route_add(struct cliif *ci, struct cliif_member *m, bool four)
{
	const struct ep_net_ops *net = ci->ep->sys->net;
	int r =
	    net->route_add(ci->ep->nc, ci->ifindex, four ? &m->d4 : &m->d6, four ? &m->c4 : &m->c6);

	if (r == 0)
		*(four ? &m->route4 : &m->route6) = true;
	return r;
}

/* @p m leaves: its route goes, or passes to another session to that device. */
static void route_drop(struct cliif *ci, struct cliif_member *m, bool four)
{
	bool *owns = four ? &m->route4 : &m->route6;
	struct cliif_member *heir;

	if (!*owns)
		return;
	*owns = false;
	(void)ci->ep->sys->net->route_del(ci->ep->nc, ci->ifindex, four ? &m->d4 : &m->d6);
	heir = same_device(ci, m, four);
	if (heir && route_add(ci, heir, four) < 0)
		log_msg(PL_LOG_WARN, "%s: route to the device lost: %s", cliif_name(ci),
			ci->ep->sys->net->error(ci->ep->nc));
}

static void addrs_del(struct cliif *ci, struct cliif_member *m)
{
	const struct ep_net_ops *net = ci->ep->sys->net;

	(void)net->addr_del(ci->ep->nc, ci->ifindex, &m->c4, NULL);
	(void)net->addr_del(ci->ep->nc, ci->ifindex, &m->c6, NULL);
}

static int place(struct cliif *ci, struct cliif_member *m)
{
	const struct ep_net_ops *net = ci->ep->sys->net;
	int r = net->addr_add(ci->ep->nc, ci->ifindex, &m->c4, NULL);

	if (r == 0) {
		r = net->addr_add(ci->ep->nc, ci->ifindex, &m->c6, NULL);
		if (r < 0)
			(void)net->addr_del(ci->ep->nc, ci->ifindex, &m->c4, NULL);
	}
	if (r < 0)
		return r;
	if (!same_device(ci, m, true))
		r = route_add(ci, m, true);
	if (r == 0 && !same_device(ci, m, false))
		r = route_add(ci, m, false);
	return r;
}

int cliif_attach(struct cliif *ci, struct cliif_member *m, unsigned mtu, char *why, size_t cap)
{
	int r = 0;

	m->route4 = m->route6 = false;
	if (ci->lost) {
		snprintf(why, cap, "%s: the interface is gone", cliif_name(ci));
		return -ENODEV;
	}
	if (!ci->tun && (r = open_tun(ci, mtu, why, cap)) < 0)
		return r;
	r = place(ci, m);
	if (r < 0) {
		snprintf(why, cap, "%s: %s", tun_name(ci->tun),
			 ci->ep->sys->net->error(ci->ep->nc));
		route_drop(ci, m, true);
		route_drop(ci, m, false);
		addrs_del(ci, m);
		if (!ci->members)
			close_tun(ci);
		return r;
	}
	m->next = ci->members;
	ci->members = m;
	return 0;
}

void cliif_detach(struct cliif *ci, struct cliif_member *m)
{
	struct cliif_member **pp;

	for (pp = &ci->members; *pp && *pp != m; pp = &(*pp)->next)
		;
	if (!*pp)
		return;
	*pp = m->next;
	if (ci->last == m)
		ci->last = NULL;
	if (!ci->lost && ci->members) { /* the last one takes everything with the interface */
		route_drop(ci, m, true);
		route_drop(ci, m, false);
		addrs_del(ci, m);
	}
	if (!ci->members)
		close_tun(ci);
}

void cliif_offload(struct cliif *ci)
{
	if (ci->tun && !tun_offloading(ci->tun) && tun_set_offload(ci->tun) < 0)
		log_msg(PL_LOG_DEBUG, "%s: no TUN offload; one packet per read", tun_name(ci->tun));
}
