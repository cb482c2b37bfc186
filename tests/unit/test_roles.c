/* SPDX-License-Identifier: MIT */
/*
 * Both endpoint roles through whole sessions, without a kernel, sockets or
 * real time: the client role (@alice) and the device role (@device) run on
 * one loop behind fakes of everything in struct ep_sys (tun_ops_fake,
 * interface configuration, the relay path, notifications, key lines, the
 * clock). The test plays the relay (tickets) and the control plane
 * (delivering notifications), and checks what each role does to the world:
 * request -> answer -> path up -> data both ways -> a second session to the
 * same device at once -> a packet one session's device sends to another
 * session's address dropped -> one ends by the client, one by idle ->
 * key lines gone, the client's interface gone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clirole.h"
#include "devrole.h"
#include "ep.h"
#include "msgtypes.h"
#include "sess.h"
#include "sshkey.h"
#include "tun_fake.h"

enum { MAXQ = 64, MAXR = 16, MAXK = 8 };

/* ---- the clock ---- */
static double fake_now = 1000;
static double now_fn(struct ev_loop *loop)
{
	return fake_now;
}

/* ---- interface configuration: addresses and routes per endpoint ---- */
struct netcfg {
	struct ipaddr addr[MAXR];
	struct {
		struct ipaddr dst, src;
	} route[MAXR];
	int naddr, nroute;
};

static int f_ifindex(struct netcfg *nc, const char *name)
{
	return 7;
}
static int f_ok_mtu(struct netcfg *nc, int i, unsigned m)
{
	return 0;
}
static int f_ok(struct netcfg *nc, int i)
{
	return 0;
}
static int f_up(struct netcfg *nc, int i, bool up)
{
	return 0;
}
static int find_addr(struct netcfg *nc, const struct ipaddr *a)
{
	for (int i = 0; i < nc->naddr; i++)
		if (ipaddr_equal(&nc->addr[i], a))
			return i;
	return -1;
}
static int find_route(struct netcfg *nc, const struct ipaddr *dst)
{
	for (int i = 0; i < nc->nroute; i++)
		if (ipaddr_equal(&nc->route[i].dst, dst))
			return i;
	return -1;
}
static int f_addr_add(struct netcfg *nc, int i, const struct ipaddr *a, const struct ipaddr *p)
{
	if (find_addr(nc, a) >= 0)
		return -EEXIST; /* as the kernel */
	nc->addr[nc->naddr++] = *a;
	return 0;
}
static int f_addr_del(struct netcfg *nc, int i, const struct ipaddr *a, const struct ipaddr *p)
{
	int k = find_addr(nc, a);

	if (k < 0)
		return -EADDRNOTAVAIL;
	nc->addr[k] = nc->addr[--nc->naddr];
	return 0;
}
static int f_route_add(struct netcfg *nc, int i, const struct ipaddr *d, const struct ipaddr *s)
{
	if (find_route(nc, d) >= 0)
		return -EEXIST; /* what broke the second session before */
	nc->route[nc->nroute].dst = *d;
	nc->route[nc->nroute++].src = *s;
	return 0;
}
static int f_route_del(struct netcfg *nc, int i, const struct ipaddr *d)
{
	int k = find_route(nc, d);

	if (k < 0)
		return -ESRCH;
	nc->route[k] = nc->route[--nc->nroute];
	return 0;
}
/* What the host already has (for the client's clash check): one route, or none. */
static struct addrplan_host_entry host_route;
static int f_snapshot(struct netcfg *nc, struct addrplan_host *h)
{
	memset(h, 0, sizeof(*h));
	return host_route.is_route ? addrplan_host_add(h, &host_route) : 0;
}
static const char *f_error(const struct netcfg *nc)
{
	return "fake netlink error";
}
static const struct ep_net_ops fake_net = {f_ifindex,  f_ok_mtu,   f_ok,        f_up,
					   f_addr_add, f_addr_del, f_route_add, f_route_del,
					   f_snapshot, f_error};

/* ---- the relay path: paired in memory by session id ---- */
struct sr_client {
	struct sr_client_cbs cb;
	struct dp_keys keys;
	uint8_t sid[SR_SID_LEN], side, my_reason, peer_reason;
	struct sr_client *peer, *next;
	bool up, down_pending;
};
static struct sr_client *paths;

static struct sr_client *p_open(struct ev_loop *loop, const struct sr_session_params *sp,
				const struct sr_client_cbs *cb)
{
	struct sr_client *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	c->cb = *cb;
	c->keys = sp->keys;
	c->side = sp->ticket.side;
	memcpy(c->sid, sp->ticket.session_id, SR_SID_LEN);
	assert_int_equal(c->keys.side, c->side);
	c->next = paths;
	paths = c;
	return c;
}
static int p_send(struct sr_client *c, struct pkt *p)
{
	if (!c->up || !c->peer)
		return -ENOTCONN;
	c->peer->cb.on_packet(c->peer->cb.arg, p);
	if (c->peer->cb.on_rx_done)
		c->peer->cb.on_rx_done(c->peer->cb.arg);
	return 0;
}
static int p_train(struct sr_client *c, uint8_t *b, size_t s, size_t l, int n)
{
	return -EPROTOTYPE;
}
static size_t p_mtu(const struct sr_client *c)
{
	return 65535;
}
static int p_transport(const struct sr_client *c)
{
	return c->up ? SR_TR_TCP : SR_TR_NONE;
}
static int p_rebind(struct sr_client *c)
{
	return 0;
}
static void p_close_reason(struct sr_client *c, uint8_t r)
{
	c->my_reason = r;
}
static uint8_t p_peer_reason(const struct sr_client *c)
{
	return c->peer_reason;
}
static void p_stats(const struct sr_client *c, struct sr_client_stats *st)
{
	memset(st, 0, sizeof(*st));
}
static void p_free(struct sr_client *c)
{
	if (!c)
		return;
	for (struct sr_client **pp = &paths; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	if (c->peer) { /* the in-band CLOSE reaches the peer */
		c->peer->peer = NULL;
		c->peer->down_pending = true;
		c->peer->peer_reason = c->my_reason;
	}
	sodium_memzero(c, sizeof(*c));
	free(c);
}
static const struct ep_path_ops fake_path = {p_open,      p_send,   p_train,        p_mtu,
					     p_transport, p_rebind, p_close_reason, p_peer_reason,
					     p_stats,     p_free};

/* Pair the two sides of each session (checking their keys agree), deliver closes. */
static bool pump_paths(void)
{
	for (struct sr_client *a = paths; a; a = a->next) {
		if (a->down_pending) {
			a->down_pending = false;
			a->cb.on_down(a->cb.arg, SR_DOWN_CLOSED, "closed by the peer");
			return true;
		}
		for (struct sr_client *b = paths; b && !a->up; b = b->next)
			if (b != a && !b->up && b->side != a->side &&
			    !memcmp(a->sid, b->sid, SR_SID_LEN)) {
				assert_memory_equal(a->keys.tx, b->keys.rx, DP_KEY_LEN);
				assert_memory_equal(a->keys.rx, b->keys.tx, DP_KEY_LEN);
				a->peer = b, b->peer = a;
				a->up = b->up = true;
				a->cb.on_up(a->cb.arg, SR_TR_TCP);
				b->cb.on_up(b->cb.arg, SR_TR_TCP);
				return true;
			}
	}
	return false;
}

/* ---- the control plane: a queue of notifications ---- */
struct cp_client {
	const char *handle;
};
struct note {
	char from[HANDLE_BUF], to[HANDLE_BUF];
	uint16_t type;
	uint8_t payload[ENVELOPE_MAX];
	size_t len;
	cp_done_cb cb;
	void *arg;
};
static struct note q[MAXQ];
static int nq;
static int sent_types[256];

static int f_notify(struct cp_client *cp, const char *to, uint16_t type, const uint8_t *payload,
		    size_t len, uint32_t ttl, cp_done_cb cb, void *arg)
{
	assert_true(nq < MAXQ);
	assert_true(len <= sizeof(q[0].payload));
	snprintf(q[nq].from, sizeof(q[nq].from), "%s", cp->handle);
	snprintf(q[nq].to, sizeof(q[nq].to), "%s", to);
	q[nq].type = type;
	memcpy(q[nq].payload, payload, len);
	q[nq].len = len;
	q[nq].cb = cb;
	q[nq].arg = arg;
	nq++;
	sent_types[type & 0xff]++;
	/* forward secrecy: the answer's SSH key never travels in the clear inside the envelope */
	if (type == MSG_SESSION_ANSWER)
		assert_null(memmem(payload, len, "OPENSSH", 7));
	return 0;
}
static int f_put_record(struct cp_client *cp, const char *n, const uint8_t *d, size_t l,
			cp_done_cb cb, void *arg)
{
	return 0;
}

/* ---- key lines ---- */
static char keys[MAXK][1024];
static int nkeys;
static int f_key_install(const char *user, const char *line)
{
	assert_true(nkeys < MAXK);
	snprintf(keys[nkeys++], sizeof(keys[0]), "%s %s", user, line);
	return 0;
}
static int f_key_remove(const char *user, const uint8_t *sid, size_t n, unsigned *removed)
{
	char hex[65];

	sodium_bin2hex(hex, sizeof(hex), sid, n);
	*removed = 0;
	for (int i = 0; i < nkeys; i++)
		if (strstr(keys[i], hex)) {
			memmove(keys[i], keys[nkeys - 1], sizeof(keys[0]));
			nkeys--;
			*removed = 1;
			return 0;
		}
	return 0;
}
static int f_key_remove_all(const char *const *users, unsigned *removed)
{
	*removed = 0;
	return 0;
}
static bool f_user_exists(const char *user)
{
	return !strcmp(user, "bob");
}

static const struct ep_sys fake_sys = {
    .now = now_fn,
    .tun = &tun_ops_fake,
    .net = &fake_net,
    .path = &fake_path,
    .notify = f_notify,
    .key_install = f_key_install,
    .key_remove = f_key_remove,
    .key_remove_all = f_key_remove_all,
    .put_record = f_put_record,
    .user_exists = f_user_exists,
};

/* ---- the world ---- */
struct world {
	struct ev_loop *loop;
	struct pdconf cconf, dconf;
	struct identity *cid, *did;
	struct cp_client ccp, dcp;
	struct netcfg cnet, dnet;
	struct ep cep, dep;
	struct clirole *cli;
	struct devrole *dev;
	char hostkey[64];
};

/* The relay: a ticket for every request, from @relay to the requester. */
static void relay_answer(const struct note *n)
{
	struct sr_ticket t = {.status = SR_TK_OK, .tcp_port = 7444, .udp_port = 7444};
	uint8_t buf[1024];
	size_t len;

	randombytes_buf(t.session_id, sizeof(t.session_id));
	randombytes_buf(t.secret, sizeof(t.secret));
	t.expiry = 4000000000u;
	snprintf(t.host, sizeof(t.host), "192.0.2.1");
	assert_int_equal(sr_ticket_encode(&t, buf, sizeof(buf), &len), 0);
	struct cp_client relay = {"@relay"};
	assert_int_equal(f_notify(&relay, n->from, MSG_SR_TICKET, buf, len, 10, NULL, NULL), 0);
}

static struct ep *ep_of(struct world *w, const char *handle)
{
	return !strcmp(handle, "@alice") ? &w->cep : !strcmp(handle, "@device") ? &w->dep : NULL;
}

/* Deliver one queued notification as a verified envelope. */
static bool pump_notes(struct world *w)
{
	struct note n;
	struct ep *to;

	if (!nq)
		return false;
	n = q[0];
	memmove(q, q + 1, sizeof(q[0]) * (size_t)--nq);
	if (n.cb)
		n.cb(n.arg, 0, NULL);
	if (!strcmp(n.to, "@relay")) {
		relay_answer(&n);
		return true;
	}
	to = ep_of(w, n.to);
	assert_non_null(to);
	struct envelope env = {.type = n.type, .payload = n.payload, .payload_len = n.len};
	snprintf(env.from, sizeof(env.from), "%s", n.from);
	snprintf(env.to, sizeof(env.to), "%s", n.to);
	for (int i = 0; i < EP_ROLES; i++)
		if (to->role[i].ops)
			(void)to->role[i].ops->on_notification(to->role[i].obj, &env);
	return true;
}

static void pump(struct world *w)
{
	for (int i = 0; i < 200; i++) {
		ev_run(w->loop, EVRUN_NOWAIT);
		if (!pump_notes(w) && !pump_paths())
			ev_run(w->loop, EVRUN_NOWAIT);
	}
}

/* What a user of the client role sees. */
struct user {
	int ready, done;
	char text[256], cli_ip[64], cli_ip6[64], dev_ip[64];
	bool key;
};
static void u_progress(void *arg, int hop, const char *text)
{
}
static void u_ready(void *arg, const struct clirole_ready *r)
{
	struct user *u = arg;

	u->ready++;
	snprintf(u->cli_ip, sizeof(u->cli_ip), "%s", r->client_ip);
	snprintf(u->cli_ip6, sizeof(u->cli_ip6), "%s", r->client_ip6);
	snprintf(u->dev_ip, sizeof(u->dev_ip), "%s", r->device_ip);
	u->key = strstr(r->sshkey, "OPENSSH PRIVATE KEY") != NULL;
}
static void u_done(void *arg, int hop, const char *text)
{
	struct user *u = arg;

	u->done++;
	snprintf(u->text, sizeof(u->text), "%s", text);
}

static void conf_parse(struct pdconf *c, const char *text)
{
	char err[PDCONF_ERR_BUF];

	pdconf_defaults(c);
	if (pdconf_parse(c, "test.conf", text, strlen(text), err, sizeof(err)) < 0)
		fail_msg("%s", err);
}

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	char text[1024], line[SSHKEY_LINE_BUF];
	struct sshkey *k;
	struct sshkey_pub pub;
	FILE *f;

	assert_non_null(w);
	assert_int_equal(sodium_init() >= 0, 1);
	w->loop = ev_loop_new(EVFLAG_AUTO);
	snprintf(w->hostkey, sizeof(w->hostkey), "/tmp/test_roles.%d.pub", (int)getpid());
	assert_int_equal(sshkey_generate("host", &k), 0);
	sshkey_get_pub(k, &pub);
	assert_int_equal(sshkey_pub_format(&pub, 0, line, sizeof(line)), 0);
	sshkey_free(k);
	f = fopen(w->hostkey, "w");
	assert_non_null(f);
	fprintf(f, "%s\n", line);
	fclose(f);
	conf_parse(&w->cconf, "[identity]\nkeys = /nonexistent\n[client]\nenabled = yes\n"
			      "socket = /nonexistent/s.sock\nsr = @relay\n");
	snprintf(text, sizeof(text),
		 "[identity]\nkeys = /nonexistent\n[device]\nenabled = yes\nidle-timeout = 60\n"
		 "max-duration = 1h\nsshd-host-keys = %s\n[allow @alice]\nusers = bob\n",
		 w->hostkey);
	conf_parse(&w->dconf, text);
	w->cid = identity_generate("@alice");
	w->did = identity_generate("@device");
	w->ccp.handle = "@alice";
	w->dcp.handle = "@device";
	assert_int_equal(ep_init_with(&w->cep, w->loop, &w->cconf, &fake_sys, w->cid), 0);
	assert_int_equal(ep_init_with(&w->dep, w->loop, &w->dconf, &fake_sys, w->did), 0);
	w->cep.cp = &w->ccp;
	w->dep.cp = &w->dcp;
	w->cep.nc = &w->cnet;
	w->dep.nc = &w->dnet;
	w->cep.cp_up = w->dep.cp_up = true;
	char err[256];
	assert_int_equal(devrole_new(&w->dep, &w->dev, err, sizeof(err)), 0);
	assert_int_equal(clirole_new(&w->cep, &w->cli), 0);
	*state = w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;

	clirole_free(w->cli);
	devrole_free(w->dev);
	pump(w);
	dpath_fini(&w->cep.dp);
	dpath_fini(&w->dep.dp);
	identity_free(w->cid);
	identity_free(w->did);
	ev_loop_destroy(w->loop);
	unlink(w->hostkey);
	free(w);
	nq = nkeys = 0;
	return 0;
}

/* ---- packets ---- */
static void ip4(const char *s, uint8_t out[4])
{
	assert_int_equal(inet_pton(AF_INET, s, out), 1);
}

/* An IPv4 TCP segment src:sport -> dst:dport with @p flags. */
static size_t tcp4(uint8_t *b, const char *src, uint16_t sport, const char *dst, uint16_t dport,
		   uint8_t flags)
{
	uint32_t sum = 0;

	memset(b, 0, 40);
	b[0] = 0x45;
	b[3] = 40;
	b[8] = 64;
	b[9] = 6;
	ip4(src, b + 12);
	ip4(dst, b + 16);
	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	b[10] = (uint8_t)(~sum >> 8);
	b[11] = (uint8_t)~sum;
	b[20] = (uint8_t)(sport >> 8), b[21] = (uint8_t)sport;
	b[22] = (uint8_t)(dport >> 8), b[23] = (uint8_t)dport;
	b[32] = 0x50;
	b[33] = flags;
	return 40;
}

/* The test's end of a role's fake TUN. */
static int peer_of(struct tun_dev *t)
{
	assert_non_null(t);
	return tun_fake_peer(t);
}

static ssize_t tun_take(struct world *w, int fd, uint8_t *buf, size_t cap)
{
	pump(w);
	return recv(fd, buf, cap, MSG_DONTWAIT);
}

static struct csess *up(struct world *w, struct user *u)
{
	static const struct clirole_cbs tmpl = {u_progress, u_ready, u_done, NULL};
	struct clirole_cbs cb = tmpl;
	struct csess *s;

	cb.arg = u;
	s = clirole_up(w->cli, "@device", "bob", 1000, NULL, &cb);
	assert_non_null(s);
	pump(w);
	assert_int_equal(u->ready, 1);
	assert_int_equal(u->done, 0);
	return s;
}

static bool has_route(struct netcfg *nc, const char *dst, const char *src)
{
	struct ipaddr d, s;

	assert_true(ipaddr_parse(dst, &d));
	assert_true(ipaddr_parse(src, &s));
	int k = find_route(nc, &d);

	return k >= 0 && ipaddr_same_host(&nc->route[k].src, &s);
}

static void test_two_sessions_then_ends(void **state)
{
	struct world *w = *state;
	struct user u1 = {0}, u2 = {0};
	uint8_t pkt[64], got[256];
	char from[160];
	int cfd, dfd;

	/* one session: request -> answer -> path up; key line bound to both addresses */
	struct csess *s1 = up(w, &u1);
	assert_true(u1.key);
	assert_int_equal(nkeys, 1);
	snprintf(from, sizeof(from), "from=\"%s,%s\"", u1.cli_ip, u1.cli_ip6);
	assert_non_null(strstr(keys[0], from));
	assert_int_equal(w->cnet.naddr, 2);
	assert_true(has_route(&w->cnet, u1.dev_ip, u1.cli_ip));
	cfd = peer_of(clirole_tun(w->cli));
	dfd = peer_of(devrole_tun(w->dev));

	/* data both ways */
	size_t n = tcp4(pkt, u1.cli_ip, 40000, u1.dev_ip, 22, 0x02);
	assert_int_equal(send(cfd, pkt, n, 0), (ssize_t)n);
	assert_int_equal(tun_take(w, dfd, got, sizeof(got)), (ssize_t)n);
	assert_memory_equal(got, pkt, n);
	n = tcp4(pkt, u1.dev_ip, 22, u1.cli_ip, 40000, 0x12);
	assert_int_equal(send(dfd, pkt, n, 0), (ssize_t)n);
	assert_int_equal(tun_take(w, cfd, got, sizeof(got)), (ssize_t)n);
	assert_memory_equal(got, pkt, n);

	/* a second session to the same device at once: its own addresses, the route shared */
	up(w, &u2);
	assert_string_not_equal(u1.cli_ip, u2.cli_ip);
	assert_int_equal(nkeys, 2);
	assert_int_equal(w->cnet.naddr, 4);
	assert_int_equal(w->cnet.nroute, 2);
	n = tcp4(pkt, u2.cli_ip, 40001, u2.dev_ip, 22, 0x02);
	assert_int_equal(send(cfd, pkt, n, 0), (ssize_t)n);
	assert_int_equal(tun_take(w, dfd, got, sizeof(got)), (ssize_t)n);

	/* from no session's address, or to no session's device: the client drops it */
	n = tcp4(pkt, "100.64.99.99", 40002, u2.dev_ip, 22, 0x02);
	assert_int_equal(send(cfd, pkt, n, 0), (ssize_t)n);
	assert_int_equal(tun_take(w, dfd, got, sizeof(got)), -1);
	n = tcp4(pkt, u2.cli_ip, 40002, "100.127.1.1", 22, 0x02);
	assert_int_equal(send(cfd, pkt, n, 0), (ssize_t)n);
	assert_int_equal(tun_take(w, dfd, got, sizeof(got)), -1);

	/*
	 * A device path carrying packets to both sessions' addresses: the one
	 * for the other session is not written (whichever session this is).
	 */
	struct sr_client *dev_side1 = NULL;
	for (struct sr_client *c = paths; c; c = c->next)
		if (c->side == SR_SIDE_B && c->peer && !dev_side1)
			dev_side1 = c;
	assert_non_null(dev_side1);
	for (int i = 0; i < 2; i++) { /* through each device-side path in turn */
		struct pkt p;
		const char *dst = i ? u1.cli_ip : u2.cli_ip;

		n = tcp4(pkt, u1.dev_ip, 22, dst, 40000, 0x12);
		pkt_init(&p, got, sizeof(got), 0);
		memcpy(pkt_data(&p), pkt, n);
		p.len = n;
		assert_int_equal(p_send(dev_side1, &p), 0);
	}
	assert_int_equal(tun_take(w, cfd, got, sizeof(got)), (ssize_t)n); /* exactly one */
	assert_int_equal(tun_take(w, cfd, got, sizeof(got)), -1);

	/*
	 * A lying device: a SYN to our address (a connection opened from the
	 * device), unsolicited UDP, an echo request: dropped and counted; a
	 * UDP reply to a flow we opened passes.
	 */
	struct sr_client *dpath1 = NULL;
	for (struct sr_client *c = paths; c; c = c->next)
		if (c->side == SR_SIDE_B && c->peer && !dpath1)
			dpath1 = c;
	struct csess *victim = NULL;
	const char *vip = NULL;
	struct ctl_row rows[4];
	size_t nr = clirole_status_of(w->cli, (uid_t)-1, rows, 4);
	assert_int_equal(nr, 2);
	for (int i = 0; i < 2; i++) { /* which session dpath1 belongs to: the one it reaches */
		struct pkt p;
		const char *dst = i ? u2.cli_ip : u1.cli_ip;

		n = tcp4(pkt, u1.dev_ip, 22, dst, 40000, 0x12);
		pkt_init(&p, got, sizeof(got), 0);
		memcpy(pkt_data(&p), pkt, n);
		p.len = n;
		assert_int_equal(p_send(dpath1, &p), 0);
		if (tun_take(w, cfd, got, sizeof(got)) > 0)
			vip = dst;
	}
	assert_non_null(vip);
	(void)victim;
	uint64_t drops_before = 0;
	nr = clirole_status_of(w->cli, (uid_t)-1, rows, 4);
	for (size_t i = 0; i < nr; i++)
		drops_before += rows[i].dropped;
	struct {
		uint8_t proto, flags;
	} attacks[] = {{6, 0x02}, {17, 0}, {1, 8}};
	for (size_t i = 0; i < sizeof(attacks) / sizeof(attacks[0]); i++) {
		struct pkt p;

		n = tcp4(pkt, u1.dev_ip, 5555, vip, 22, attacks[i].flags);
		pkt[9] = attacks[i].proto;
		if (attacks[i].proto == 1)
			pkt[20] = 8; /* echo request */
		pkt_init(&p, got, sizeof(got), 0);
		memcpy(pkt_data(&p), pkt, n);
		p.len = n;
		assert_int_equal(p_send(dpath1, &p), 0);
		assert_int_equal(tun_take(w, cfd, got, sizeof(got)), -1);
	}
	uint64_t drops_after = 0;
	nr = clirole_status_of(w->cli, (uid_t)-1, rows, 4);
	for (size_t i = 0; i < nr; i++)
		drops_after += rows[i].dropped;
	assert_int_equal(drops_after - drops_before, 3); /* counted, shown by status */
	n = tcp4(pkt, vip, 5353, u1.dev_ip, 53, 0);      /* we open a UDP flow ... */
	pkt[9] = 17;
	assert_int_equal(send(cfd, pkt, n, 0), (ssize_t)n);
	assert_int_equal(tun_take(w, dfd, got, sizeof(got)),
			 -1); /* (the device filter drops UDP) */
	{
		struct pkt p;

		n = tcp4(pkt, u1.dev_ip, 53, vip, 5353, 0); /* ... and its reply comes back */
		pkt[9] = 17;
		pkt_init(&p, got, sizeof(got), 0);
		memcpy(pkt_data(&p), pkt, n);
		p.len = n;
		assert_int_equal(p_send(dpath1, &p), 0);
		assert_int_equal(tun_take(w, cfd, got, sizeof(got)), (ssize_t)n);
	}

	/* session 1 ends by the client: its key line goes, the route passes to session 2 */
	clirole_down(s1);
	pump(w);
	assert_int_equal(nkeys, 1);
	assert_int_equal(w->cnet.naddr, 2);
	assert_true(has_route(&w->cnet, u2.dev_ip, u2.cli_ip));
	assert_int_equal(sent_types[MSG_SESSION_END & 0xff] > 0, 1);

	/* session 2 ends by idle on the device's clock: the client hears why */
	fake_now += 61;
	devrole_sweep(w->dev);
	pump(w);
	assert_int_equal(nkeys, 0);
	assert_int_equal(u2.done, 1);
	assert_non_null(strstr(u2.text, "idle"));
	assert_null(clirole_tun(w->cli));
	assert_int_equal(u1.done, 0); /* clirole_down: no callback */
}

/* A device that is not allowed, or a user not allowed, gets no session and creates nothing. */
static void test_refused_user(void **state)
{
	struct world *w = *state;
	static const struct clirole_cbs tmpl = {u_progress, u_ready, u_done, NULL};
	struct clirole_cbs cb = tmpl;
	struct user u = {0};

	cb.arg = &u;
	assert_non_null(clirole_up(w->cli, "@device", "root", 1000, NULL, &cb));
	pump(w);
	assert_int_equal(u.ready, 0);
	assert_int_equal(nkeys, 0);
	assert_int_equal(w->cnet.naddr, 0);
	assert_null(clirole_tun(w->cli));
}

/* An answer naming an address outside the overlay, or one this host routes elsewhere: refused. */
static void answer_refused(struct world *w, const char *want)
{
	static const struct clirole_cbs tmpl = {u_progress, u_ready, u_done, NULL};
	struct clirole_cbs cb = tmpl;
	struct user u = {0};

	cb.arg = &u;
	assert_non_null(clirole_up(w->cli, "@device", "bob", 1000, NULL, &cb));
	pump(w);
	assert_int_equal(u.ready, 0);
	assert_int_equal(u.done, 1);
	if (!strstr(u.text, want))
		fail_msg("refusal '%s' does not say '%s'", u.text, want);
	assert_int_equal(w->cnet.naddr, 0); /* nothing of it was configured */
	assert_int_equal(w->cnet.nroute, 0);
	assert_null(clirole_tun(w->cli));
	pump(w);
	assert_int_equal(nkeys, 0); /* the device heard the end and removed its key line */
}

static void test_answer_outside_overlay(void **state)
{
	struct world *w = *state;

	assert_true(ipaddr_parse("100.64.0.0/16", &w->cconf.overlay[0])); /* device is 100.96.x */
	answer_refused(w, "outside the overlay networks");
}

static void test_answer_already_routed(void **state)
{
	struct world *w = *state;

	host_route = (struct addrplan_host_entry){
	    .ifindex = 3, .ifname = "eth0", .is_route = true, .rtype = 1, .table = 254};
	assert_true(ipaddr_parse("100.96.0.0/12", &host_route.addr));
	answer_refused(w, "clashes with this host");
	host_route.is_route = false;
}

/*
 * The role goes away while control-plane requests are outstanding (daemon
 * shutdown): their completions arrive afterwards and must find no role
 * (a use after free before; ASan catches it in the sanitizer build).
 */
static void test_free_with_pending(void **state)
{
	struct world *w = *state;
	static const struct clirole_cbs tmpl = {u_progress, u_ready, u_done, NULL};
	struct clirole_cbs cb = tmpl;
	struct user u = {0};

	cb.arg = &u;
	assert_non_null(clirole_up(w->cli, "@device", "bob", 1000, NULL, &cb));
	assert_true(nq > 0 && q[nq - 1].cb != NULL); /* the ticket request, its completion due */
	clirole_free(w->cli);
	w->cli = NULL;
	pump(w); /* delivers the completion after the role is gone */
	assert_int_equal(u.ready, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_two_sessions_then_ends, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refused_user, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_answer_outside_overlay, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_answer_already_routed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_free_with_pending, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
