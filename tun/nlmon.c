/* SPDX-License-Identifier: MIT */
#include "nlmon.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

enum {
	RCVBUF = 1 << 20,
	READS_PER_WAKEUP = 64,
	RECV_BUF = 32768, /* >= the kernel's NLMSG_GOODSIZE on any page size */
};

struct watch {
	int ifindex;
	char name[IFNAMSIZ];
};

struct nlmon {
	struct ev_loop *loop;
	ev_io io;
	struct mnl_socket *nl;
	nlmon_cb cb;
	void *arg;
	struct watch w[NLMON_MAX_WATCH];
	char ignore[IFNAMSIZ];
	unsigned pending; /* NLMON_WHAT_* collected in this burst */
	int depth;        /* > 0 while dispatching */
	bool dead;        /* nlmon_free() called from a callback */
	_Alignas(NLMSG_ALIGNTO *
		 2) uint8_t buf[RECV_BUF]; /* netlink headers need 4-byte alignment */
};

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

static struct watch *find_index(struct nlmon *m, int ifindex)
{
	for (int i = 0; i < NLMON_MAX_WATCH; i++)
		if (m->w[i].ifindex && m->w[i].ifindex == ifindex)
			return &m->w[i];
	return NULL;
}

static void emit_vanished(struct nlmon *m, struct watch *w)
{
	struct nlmon_event ev = {.kind = NLMON_VANISHED, .ifindex = w->ifindex};

	snprintf(ev.ifname, sizeof(ev.ifname), "%s", w->name);
	memset(w, 0, sizeof(*w)); /* reported once */
	log_msg(PL_LOG_DEBUG, "nlmon: interface %s vanished", ev.ifname);
	if (!m->dead)
		m->cb(m, &ev, m->arg);
}

static bool ignored_if(struct nlmon *m, int ifindex)
{
	char name[IF_NAMESIZE];

	if (find_index(m, ifindex))
		return true;
	if (!m->ignore[0] || !if_indextoname((unsigned)ifindex, name))
		return false; /* gone already: count it, a spurious reconnect is cheap */
	return strncmp(name, m->ignore, strlen(m->ignore)) == 0;
}

static void on_link(struct nlmon *m, const struct nlmsghdr *nlh)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct watch *w;

	if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(*ifi))
		return;
	w = find_index(m, ifi->ifi_index);
	if (w && nlh->nlmsg_type == RTM_DELLINK)
		emit_vanished(m, w);
}

struct addr_attrs {
	const struct nlattr *local, *address;
};

static int addr_attr_cb(const struct nlattr *a, void *data)
{
	struct addr_attrs *t = data;

	if (mnl_attr_get_type(a) == IFA_LOCAL)
		t->local = a;
	else if (mnl_attr_get_type(a) == IFA_ADDRESS)
		t->address = a;
	return MNL_CB_OK;
}

/* Loopback and IPv6 link-local addresses never carry the SR connection. */
static bool boring_addr(const struct ifaddrmsg *ifa, const struct nlattr *a)
{
	const uint8_t *p;

	if (!a)
		return false;
	p = mnl_attr_get_payload(a);
	if (ifa->ifa_family == AF_INET && mnl_attr_get_payload_len(a) >= 4)
		return p[0] == 127;
	if (ifa->ifa_family == AF_INET6 && mnl_attr_get_payload_len(a) >= 16) {
		static const uint8_t lo6[16] = {[15] = 1};

		return (p[0] == 0xfe && (p[1] & 0xc0) == 0x80) || memcmp(p, lo6, 16) == 0;
	}
	return false;
}

static void on_addr(struct nlmon *m, const struct nlmsghdr *nlh)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	struct addr_attrs t = {0};

	if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(*ifa))
		return;
	if (mnl_attr_parse(nlh, sizeof(*ifa), addr_attr_cb, &t) < 0)
		return;
	if (boring_addr(ifa, t.local ? t.local : t.address) || ignored_if(m, (int)ifa->ifa_index))
		return;
	m->pending |= NLMON_WHAT_ADDR;
}

struct route_attrs {
	uint32_t table;
	int oif;
};

static int route_attr_cb(const struct nlattr *a, void *data)
{
	struct route_attrs *t = data;

	if (mnl_attr_get_type(a) == RTA_TABLE && mnl_attr_validate(a, MNL_TYPE_U32) == 0)
		t->table = mnl_attr_get_u32(a);
	else if (mnl_attr_get_type(a) == RTA_OIF && mnl_attr_validate(a, MNL_TYPE_U32) == 0)
		t->oif = (int)mnl_attr_get_u32(a);
	return MNL_CB_OK;
}

static void on_route(struct nlmon *m, const struct nlmsghdr *nlh)
{
	const struct rtmsg *rt = mnl_nlmsg_get_payload(nlh);
	struct route_attrs t = {0};

	if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(*rt))
		return;
	if (rt->rtm_dst_len != 0 || (rt->rtm_flags & RTM_F_CLONED))
		return; /* only default routes matter */
	t.table = rt->rtm_table;
	if (mnl_attr_parse(nlh, sizeof(*rt), route_attr_cb, &t) < 0)
		return;
	if (t.table == RT_TABLE_LOCAL || (t.oif && ignored_if(m, t.oif)))
		return;
	m->pending |= NLMON_WHAT_ROUTE;
}

static int msg_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nlmon *m = data;

	switch (nlh->nlmsg_type) {
	case RTM_NEWLINK:
	case RTM_DELLINK:
		on_link(m, nlh);
		break;
	case RTM_NEWADDR:
	case RTM_DELADDR:
		on_addr(m, nlh);
		break;
	case RTM_NEWROUTE:
	case RTM_DELROUTE:
		on_route(m, nlh);
		break;
	default:
		break;
	}
	return m->dead ? MNL_CB_STOP : MNL_CB_OK;
}

/*
 * Every header's length must lie within the buffer before libmnl walks it:
 * mnl_nlmsg_ok() compares (int)nlmsg_len, so a length >= 2^31 passes as
 * negative and the walk jumps backwards (found by fuzz_nlmon).
 */
static bool chain_ok(const uint8_t *buf, size_t len)
{
	size_t off = 0;

	if (len > INT32_MAX)
		return false;
	while (len - off >= sizeof(struct nlmsghdr)) {
		uint32_t l = ((const struct nlmsghdr *)(const void *)(buf + off))->nlmsg_len;

		if (l < sizeof(struct nlmsghdr) || l > len - off)
			return false;
		off += NLMSG_ALIGN(l);
		if (off >= len)
			break;
	}
	return true;
}

static int feed(struct nlmon *m, const void *buf, size_t len)
{
	if (!chain_ok(buf, len))
		return -EBADMSG;
	return mnl_cb_run(buf, len, 0, 0, msg_cb, m) < 0 ? -EBADMSG : 0;
}

static void flush_underlay(struct nlmon *m)
{
	struct nlmon_event ev = {.kind = NLMON_UNDERLAY, .what = m->pending};

	if (!m->pending || m->dead)
		return;
	m->pending = 0;
	log_msg(PL_LOG_DEBUG, "nlmon: underlay changed (0x%x)", ev.what);
	m->cb(m, &ev, m->arg);
}

/* The kernel dropped messages: re-check the watched interfaces ourselves. */
static void resync(struct nlmon *m)
{
	char name[IF_NAMESIZE];

	log_msg(PL_LOG_WARN, "nlmon: netlink events lost (ENOBUFS); resynchronising");
	m->pending |= NLMON_WHAT_RESYNC;
	for (int i = 0; i < NLMON_MAX_WATCH && !m->dead; i++)
		if (m->w[i].ifindex && !if_indextoname((unsigned)m->w[i].ifindex, name))
			emit_vanished(m, &m->w[i]);
}

static void destroy(struct nlmon *m)
{
	if (m->loop)
		ev_io_stop(m->loop, &m->io);
	if (m->nl)
		mnl_socket_close(m->nl);
	free(m);
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct nlmon *m = container_of(w, struct nlmon, io);

	m->depth++;
	for (int i = 0; i < READS_PER_WAKEUP && !m->dead; i++) {
		ssize_t n = mnl_socket_recvfrom(m->nl, m->buf, sizeof(m->buf));

		if (n < 0 && errno == ENOBUFS) {
			resync(m);
			continue;
		}
		if (n <= 0)
			break;
		feed(m, m->buf, (size_t)n);
	}
	flush_underlay(m);
	if (--m->depth == 0 && m->dead)
		destroy(m);
}

int nlmon_feed(struct nlmon *m, const void *buf, size_t len)
{
	int r;

	m->depth++;
	r = feed(m, buf, len);
	flush_underlay(m);
	if (--m->depth == 0 && m->dead)
		destroy(m);
	return r;
}

int nlmon_new(struct ev_loop *loop, const char *ifname, nlmon_cb cb, void *arg, struct nlmon **out)
{
	unsigned groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR |
			  RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;
	int rcvbuf = RCVBUF, err = 0;
	struct nlmon *m = calloc(1, sizeof(*m));

	*out = NULL;
	if (!m)
		return -ENOMEM;
	m->cb = cb;
	m->arg = arg;
	snprintf(m->ignore, sizeof(m->ignore), "pl");
	m->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!m->nl || mnl_socket_bind(m->nl, groups, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		goto out;
	}
	/* Best effort: a bigger buffer makes ENOBUFS rarer; resync covers the rest. */
	mnl_socket_setsockopt(m->nl, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (ifname && (err = nlmon_watch(m, ifname)))
		goto out;
	m->loop = loop;
	ev_io_init(&m->io, io_cb, mnl_socket_get_fd(m->nl), EV_READ);
	ev_io_start(loop, &m->io);
	*out = m;
	m = NULL;
out:
	if (m)
		destroy(m);
	return err;
}

void nlmon_free(struct nlmon *m)
{
	if (!m)
		return;
	if (m->depth > 0) {
		m->dead = true; /* io_cb frees it once the dispatch unwinds */
		return;
	}
	destroy(m);
}

int nlmon_watch(struct nlmon *m, const char *ifname)
{
	int idx = (int)if_nametoindex(ifname);
	struct watch *slot = NULL;

	if (!idx)
		return -ENODEV;
	if (find_index(m, idx))
		return -EEXIST;
	for (int i = 0; i < NLMON_MAX_WATCH && !slot; i++)
		if (!m->w[i].ifindex)
			slot = &m->w[i];
	if (!slot)
		return -ENOSPC;
	slot->ifindex = idx;
	snprintf(slot->name, sizeof(slot->name), "%s", ifname);
	return 0;
}

int nlmon_unwatch(struct nlmon *m, const char *ifname)
{
	for (int i = 0; i < NLMON_MAX_WATCH; i++)
		if (m->w[i].ifindex && strcmp(m->w[i].name, ifname) == 0) {
			memset(&m->w[i], 0, sizeof(m->w[i]));
			return 0;
		}
	return -ENOENT;
}

void nlmon_set_ignore_prefix(struct nlmon *m, const char *prefix)
{
	snprintf(m->ignore, sizeof(m->ignore), "%s", prefix ? prefix : "");
}

int nlmon_fd(const struct nlmon *m)
{
	return mnl_socket_get_fd(m->nl);
}
