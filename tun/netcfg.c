/* SPDX-License-Identifier: MIT */
#include "netcfg.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/inet6.h>
#include <netlink/route/route.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

struct netcfg {
	struct nl_sock *sk;
	char err[NETCFG_ERR_MAX];
};

/* libnl reports -NLE_*; callers get -errno. */
static int nlerr_to_errno(int nlerr)
{
	switch (nlerr < 0 ? -nlerr : nlerr) {
	case 0:
		return 0;
	case NLE_EXIST:
		return -EEXIST;
	case NLE_NOADDR:
		return -EADDRNOTAVAIL;
	case NLE_OBJ_NOTFOUND:
		return -ESRCH;
	case NLE_PERM:
		return -EPERM;
	case NLE_NODEV:
		return -ENODEV;
	case NLE_INVAL:
		return -EINVAL;
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_BUSY:
		return -EBUSY;
	case NLE_RANGE:
		return -ERANGE;
	case NLE_AF_NOSUPPORT:
		return -EAFNOSUPPORT;
	case NLE_OPNOTSUPP:
		return -EOPNOTSUPP;
	case NLE_AGAIN:
		return -EAGAIN;
	case NLE_NOACCESS:
		return -EACCES;
	default:
		return -EIO;
	}
}

static const char *why_str(int err)
{
	switch (err) {
	case -EPERM:
	case -EACCES:
		return "not permitted (needs CAP_NET_ADMIN in this network namespace)";
	case -ENODEV:
		return "no such interface";
	case -EEXIST:
		return "already exists";
	case -EADDRNOTAVAIL:
		return "no such address";
	case -ESRCH:
		return "no such route";
	default:
		return strerror(-err);
	}
}

__attribute__((format(printf, 3, 4))) static int fail(struct netcfg *nc, int err, const char *fmt,
						      ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(nc->err, sizeof(nc->err), fmt, ap);
	va_end(ap);
	n = strlen(nc->err);
	if (err && n < sizeof(nc->err) - 3)
		snprintf(nc->err + n, sizeof(nc->err) - n, ": %s", why_str(err));
	log_msg(PL_LOG_DEBUG, "netcfg: %s", nc->err);
	return err;
}

static const char *ifname(int ifindex, char buf[IF_NAMESIZE + 16])
{
	char n[IF_NAMESIZE];

	if (if_indextoname((unsigned)ifindex, n))
		snprintf(buf, IF_NAMESIZE + 16, "%s", n);
	else
		snprintf(buf, IF_NAMESIZE + 16, "interface #%d", ifindex);
	return buf;
}

int netcfg_open(struct netcfg **out)
{
	struct netcfg *nc = calloc(1, sizeof(*nc));
	int err;

	*out = NULL;
	if (!nc)
		return -ENOMEM;
	nc->sk = nl_socket_alloc();
	if (!nc->sk) {
		free(nc);
		return -ENOMEM;
	}
	err = nlerr_to_errno(nl_connect(nc->sk, NETLINK_ROUTE));
	if (err) {
		netcfg_close(nc);
		return err;
	}
	*out = nc;
	return 0;
}

void netcfg_close(struct netcfg *nc)
{
	if (!nc)
		return;
	nl_socket_free(nc->sk);
	free(nc);
}

const char *netcfg_error(const struct netcfg *nc)
{
	return nc->err;
}

int netcfg_ifindex(struct netcfg *nc, const char *name)
{
	unsigned idx = if_nametoindex(name);

	nc->err[0] = '\0';
	if (!idx)
		return fail(nc, -ENODEV, "interface %s", name);
	return (int)idx;
}

/* ---- links ---- */

static int link_change(struct netcfg *nc, int ifindex, struct rtnl_link *change)
{
	struct rtnl_link *orig = NULL;
	int err;

	err = nlerr_to_errno(rtnl_link_get_kernel(nc->sk, ifindex, NULL, &orig));
	if (!err)
		err = nlerr_to_errno(rtnl_link_change(nc->sk, orig, change, 0));
	rtnl_link_put(orig);
	return err;
}

int netcfg_link_set_mtu(struct netcfg *nc, int ifindex, unsigned mtu)
{
	struct rtnl_link *change = rtnl_link_alloc();
	char b[IF_NAMESIZE + 16];
	int err;

	nc->err[0] = '\0';
	if (!change)
		return -ENOMEM;
	rtnl_link_set_mtu(change, mtu);
	err = mtu < 68 ? -EINVAL : link_change(nc, ifindex, change);
	rtnl_link_put(change);
	if (err)
		return fail(nc, err, "setting MTU %u on %s", mtu, ifname(ifindex, b));
	return 0;
}

int netcfg_link_set_up(struct netcfg *nc, int ifindex, bool up)
{
	struct rtnl_link *change = rtnl_link_alloc();
	char b[IF_NAMESIZE + 16];
	int err;

	nc->err[0] = '\0';
	if (!change)
		return -ENOMEM;
	if (up)
		rtnl_link_set_flags(change, IFF_UP);
	else
		rtnl_link_unset_flags(change, IFF_UP);
	err = link_change(nc, ifindex, change);
	rtnl_link_put(change);
	if (err)
		return fail(nc, err, "bringing %s %s", ifname(ifindex, b), up ? "up" : "down");
	return 0;
}

int netcfg_link_no_ipv6_ll(struct netcfg *nc, int ifindex)
{
	struct rtnl_link *change = rtnl_link_alloc();
	char b[IF_NAMESIZE + 16];
	int err;

	nc->err[0] = '\0';
	if (!change)
		return -ENOMEM;
	err = nlerr_to_errno(rtnl_link_inet6_set_addr_gen_mode(change, IN6_ADDR_GEN_MODE_NONE));
	if (!err)
		err = link_change(nc, ifindex, change);
	rtnl_link_put(change);
	if (err)
		return fail(nc, err, "setting IPv6 addr_gen_mode none on %s", ifname(ifindex, b));
	return 0;
}

int netcfg_link_delete(struct netcfg *nc, int ifindex)
{
	struct rtnl_link *l = rtnl_link_alloc();
	char b[IF_NAMESIZE + 16];
	int err;

	nc->err[0] = '\0';
	if (!l)
		return -ENOMEM;
	ifname(ifindex, b);
	rtnl_link_set_ifindex(l, ifindex);
	err = nlerr_to_errno(rtnl_link_delete(nc->sk, l));
	rtnl_link_put(l);
	if (err)
		return fail(nc, err, "deleting %s", b);
	return 0;
}

/* ---- addresses ---- */

static struct nl_addr *to_nl(const struct ipaddr *a)
{
	struct nl_addr *n = nl_addr_build(a->family, a->a, ipaddr_bits(a->family) / 8);

	if (n)
		nl_addr_set_prefixlen(n, a->plen);
	return n;
}

static void from_nl(struct nl_addr *n, struct ipaddr *out)
{
	unsigned len = nl_addr_get_len(n);
	int family = nl_addr_get_family(n);

	memset(out, 0, sizeof(*out));
	if ((family != AF_INET && family != AF_INET6) || (len && len != ipaddr_bits(family) / 8))
		return;
	if (len)
		memcpy(out->a, nl_addr_get_binary_addr(n), len);
	out->family = (uint8_t)family;
	out->plen = (uint8_t)nl_addr_get_prefixlen(n);
}

static int build_addr(int ifindex, const struct ipaddr *local, const struct ipaddr *peer,
		      struct rtnl_addr **out)
{
	struct rtnl_addr *a = rtnl_addr_alloc();
	struct nl_addr *l = to_nl(local), *p = peer ? to_nl(peer) : NULL;
	int err = (!a || !l || (peer && !p)) ? -ENOMEM : 0;

	if (!err) {
		rtnl_addr_set_ifindex(a, ifindex);
		rtnl_addr_set_family(a, local->family);
		err = nlerr_to_errno(rtnl_addr_set_local(a, l));
	}
	if (!err && p)
		err = nlerr_to_errno(rtnl_addr_set_peer(a, p));
	if (!err && local->family == AF_INET6)
		rtnl_addr_set_flags(a, IFA_F_NODAD);
	nl_addr_put(l);
	nl_addr_put(p);
	if (err)
		rtnl_addr_put(a);
	else
		*out = a;
	return err;
}

/* Is @p local already an address of some interface? Names it in nc->err. */
static int addr_precheck(struct netcfg *nc, const struct ipaddr *local)
{
	struct addrplan_host h = {0};
	char why[NETCFG_ERR_MAX];
	int err = netcfg_host_snapshot(nc, &h);

	if (err)
		return err;
	if (addrplan_check(&h, local, 0, why, sizeof(why)) == ADDRPLAN_ADDR_IN_USE)
		err = fail(nc, 0, "%s", why) ?: -EEXIST; /* the sentence already says why */
	addrplan_host_clear(&h);
	return err;
}

static int addr_change(struct netcfg *nc, int ifindex, const struct ipaddr *local,
		       const struct ipaddr *peer, bool add)
{
	struct rtnl_addr *a = NULL;
	int err = build_addr(ifindex, local, peer, &a);

	if (err)
		return err;
	if (add)
		err = nlerr_to_errno(rtnl_addr_add(nc->sk, a, NLM_F_EXCL));
	else
		err = nlerr_to_errno(rtnl_addr_delete(nc->sk, a, 0));
	rtnl_addr_put(a);
	return err;
}

static const char *addr_desc(const struct ipaddr *local, const struct ipaddr *peer, char *buf,
			     size_t cap)
{
	char l[IPADDR_STRLEN], p[IPADDR_STRLEN];

	if (peer)
		snprintf(buf, cap, "address %s peer %s", ipaddr_str(local, true, l, sizeof(l)),
			 ipaddr_str(peer, true, p, sizeof(p)));
	else
		snprintf(buf, cap, "address %s", ipaddr_str(local, true, l, sizeof(l)));
	return buf;
}

int netcfg_addr_add(struct netcfg *nc, int ifindex, const struct ipaddr *local,
		    const struct ipaddr *peer)
{
	char d[2 * IPADDR_STRLEN + 32], b[IF_NAMESIZE + 16];
	int err;

	nc->err[0] = '\0';
	if (!local->family || (peer && peer->family != local->family))
		return fail(nc, -EINVAL, "address: bad family");
	err = addr_precheck(nc, local);
	if (err)
		return err;
	err = addr_change(nc, ifindex, local, peer, true);
	if (err)
		return fail(nc, err, "adding %s to %s", addr_desc(local, peer, d, sizeof(d)),
			    ifname(ifindex, b));
	return 0;
}

int netcfg_addr_del(struct netcfg *nc, int ifindex, const struct ipaddr *local,
		    const struct ipaddr *peer)
{
	char d[2 * IPADDR_STRLEN + 32], b[IF_NAMESIZE + 16];
	int err;

	nc->err[0] = '\0';
	err = addr_change(nc, ifindex, local, peer, false);
	if (err)
		return fail(nc, err, "removing %s from %s", addr_desc(local, peer, d, sizeof(d)),
			    ifname(ifindex, b));
	return 0;
}

/* ---- routes ---- */

static int build_route(int ifindex, const struct ipaddr *dst, const struct ipaddr *src,
		       struct rtnl_route **out)
{
	struct rtnl_route *r = rtnl_route_alloc();
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	struct nl_addr *d = to_nl(dst), *s = src ? to_nl(src) : NULL;
	int err = (!r || !nh || !d || (src && !s)) ? -ENOMEM : 0;

	if (!err) {
		rtnl_route_set_family(r, dst->family);
		rtnl_route_set_table(r, RT_TABLE_MAIN);
		rtnl_route_set_scope(r, RT_SCOPE_LINK);
		rtnl_route_set_protocol(r, RTPROT_STATIC);
		err = nlerr_to_errno(rtnl_route_set_dst(r, d));
	}
	if (!err && s)
		err = nlerr_to_errno(rtnl_route_set_pref_src(r, s));
	if (!err) {
		rtnl_route_nh_set_ifindex(nh, ifindex);
		rtnl_route_add_nexthop(r, nh);
		nh = NULL;
	}
	nl_addr_put(d);
	nl_addr_put(s);
	if (nh)
		rtnl_route_nh_free(nh);
	if (err)
		rtnl_route_put(r);
	else
		*out = r;
	return err;
}

static int route_change(struct netcfg *nc, int ifindex, const struct ipaddr *dst,
			const struct ipaddr *src, bool add)
{
	struct rtnl_route *r = NULL;
	int err = build_route(ifindex, dst, src, &r);

	if (err)
		return err;
	if (add)
		err = nlerr_to_errno(rtnl_route_add(nc->sk, r, NLM_F_EXCL));
	else
		err = nlerr_to_errno(rtnl_route_delete(nc->sk, r, 0));
	rtnl_route_put(r);
	return err;
}

int netcfg_route_add(struct netcfg *nc, int ifindex, const struct ipaddr *dst,
		     const struct ipaddr *src)
{
	char d[IPADDR_STRLEN], b[IF_NAMESIZE + 16];
	int err;

	nc->err[0] = '\0';
	err = route_change(nc, ifindex, dst, src, true);
	if (err)
		return fail(nc, err, "adding route %s via %s", ipaddr_str(dst, true, d, sizeof(d)),
			    ifname(ifindex, b));
	return 0;
}

int netcfg_route_del(struct netcfg *nc, int ifindex, const struct ipaddr *dst)
{
	char d[IPADDR_STRLEN], b[IF_NAMESIZE + 16];
	int err;

	nc->err[0] = '\0';
	err = route_change(nc, ifindex, dst, NULL, false);
	if (err)
		return fail(nc, err, "removing route %s via %s",
			    ipaddr_str(dst, true, d, sizeof(d)), ifname(ifindex, b));
	return 0;
}

/* ---- host snapshot ---- */

struct snap_ctx {
	struct addrplan_host *h;
	int err;
};

static void fill_ifname(struct addrplan_host_entry *e)
{
	if (e->ifindex <= 0 || !if_indextoname((unsigned)e->ifindex, e->ifname))
		e->ifname[0] = '\0';
}

static void snap_addr(struct nl_object *obj, void *arg)
{
	struct snap_ctx *c = arg;
	struct rtnl_addr *a = (struct rtnl_addr *)obj;
	struct addrplan_host_entry e = {.ifindex = rtnl_addr_get_ifindex(a)};
	struct nl_addr *l = rtnl_addr_get_local(a);

	if (!l || c->err)
		return;
	from_nl(l, &e.addr);
	if (!e.addr.family)
		return;
	e.addr.plen = (uint8_t)rtnl_addr_get_prefixlen(a);
	fill_ifname(&e);
	c->err = addrplan_host_add(c->h, &e);
}

static void snap_route(struct nl_object *obj, void *arg)
{
	struct snap_ctx *c = arg;
	struct rtnl_route *r = (struct rtnl_route *)obj;
	struct addrplan_host_entry e = {.is_route = true};
	struct nl_addr *d = rtnl_route_get_dst(r);
	struct rtnl_nexthop *nh;

	e.table = rtnl_route_get_table(r);
	if (!d || c->err || e.table == RT_TABLE_LOCAL)
		return;
	from_nl(d, &e.addr);
	if (!e.addr.family)
		return;
	e.rtype = rtnl_route_get_type(r);
	nh = rtnl_route_get_nnexthops(r) > 0 ? rtnl_route_nexthop_n(r, 0) : NULL;
	e.ifindex = nh ? rtnl_route_nh_get_ifindex(nh) : 0;
	fill_ifname(&e);
	c->err = addrplan_host_add(c->h, &e);
}

int netcfg_host_snapshot(struct netcfg *nc, struct addrplan_host *h)
{
	struct nl_cache *ac = NULL, *rc = NULL;
	struct snap_ctx c = {.h = h};
	int err;

	nc->err[0] = '\0';
	addrplan_host_clear(h);
	err = nlerr_to_errno(rtnl_addr_alloc_cache(nc->sk, &ac));
	if (!err)
		err = nlerr_to_errno(rtnl_route_alloc_cache(nc->sk, AF_UNSPEC, 0, &rc));
	if (!err) {
		nl_cache_foreach(ac, snap_addr, &c);
		nl_cache_foreach(rc, snap_route, &c);
		err = c.err;
	}
	nl_cache_free(ac);
	nl_cache_free(rc);
	if (err) {
		addrplan_host_clear(h);
		return fail(nc, err, "reading the host's addresses and routes");
	}
	return 0;
}

/* ---- sysctls (procfs is the kernel's interface for them) ---- */

static int sysctl_path(struct netcfg *nc, const char *path, char *full, size_t cap)
{
	if (!path || !*path || strstr(path, "..") || path[0] == '/' ||
	    (size_t)snprintf(full, cap, "/proc/sys/%s", path) >= cap)
		return fail(nc, -EINVAL, "sysctl path \"%s\"", path ? path : "");
	return 0;
}

static int read_file(const char *full, char *out, size_t cap)
{
	int fd = open(full, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	int err = 0;

	if (fd < 0)
		return -errno;
	n = read(fd, out, cap - 1);
	if (n < 0)
		err = -errno;
	close(fd);
	if (err)
		return err;
	out[n] = '\0';
	out[strcspn(out, "\n")] = '\0';
	return 0;
}

static int write_file(const char *full, const char *val)
{
	int fd = open(full, O_WRONLY | O_CLOEXEC);
	size_t len = strlen(val);
	ssize_t n;
	int err = 0;

	if (fd < 0)
		return -errno;
	n = write(fd, val, len);
	if (n < 0)
		err = -errno;
	else if ((size_t)n != len)
		err = -EIO;
	close(fd);
	return err;
}

int netcfg_sysctl_get(struct netcfg *nc, const char *path, char *out, size_t cap)
{
	char full[NETCFG_SYSCTL_PATH_MAX + 16];
	int err;

	nc->err[0] = '\0';
	err = sysctl_path(nc, path, full, sizeof(full));
	if (!err && (err = read_file(full, out, cap)))
		return fail(nc, err, "reading sysctl %s", path);
	return err;
}

int netcfg_sysctl_set(struct netcfg *nc, struct netcfg_sysctl *save, const char *path,
		      const char *value)
{
	char full[NETCFG_SYSCTL_PATH_MAX + 16];
	int err;

	nc->err[0] = '\0';
	save->saved = false;
	if (strlen(path) >= sizeof(save->path))
		return fail(nc, -ENAMETOOLONG, "sysctl %s", path);
	err = sysctl_path(nc, path, full, sizeof(full));
	if (err)
		return err;
	err = read_file(full, save->old, sizeof(save->old));
	if (err)
		return fail(nc, err, "reading sysctl %s", path);
	err = write_file(full, value);
	if (err)
		return fail(nc, err, "setting sysctl %s = %s", path, value);
	snprintf(save->path, sizeof(save->path), "%s", path);
	save->saved = true;
	return 0;
}

int netcfg_sysctl_restore(struct netcfg *nc, struct netcfg_sysctl *save)
{
	char full[NETCFG_SYSCTL_PATH_MAX + 16];
	int err;

	nc->err[0] = '\0';
	if (!save->saved)
		return 0;
	save->saved = false;
	err = sysctl_path(nc, save->path, full, sizeof(full));
	if (!err && (err = write_file(full, save->old)))
		return fail(nc, err, "restoring sysctl %s = %s", save->path, save->old);
	return err;
}

int netcfg_ipv6_disable_dad(struct netcfg *nc, const char *ifn, struct netcfg_sysctl *save)
{
	char path[NETCFG_SYSCTL_PATH_MAX];

	if (!ifn || !*ifn || strchr(ifn, '/') || strlen(ifn) >= IF_NAMESIZE)
		return fail(nc, -EINVAL, "interface name \"%s\"", ifn ? ifn : "");
	snprintf(path, sizeof(path), "net/ipv6/conf/%s/accept_dad", ifn);
	return netcfg_sysctl_set(nc, save, path, "0");
}
