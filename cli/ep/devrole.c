/* SPDX-License-Identifier: MIT */
#include "devrole.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pwd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addrplan.h"
#include "audit.h"
#include "authkeys.h"
#include "filter.h"
#include "log.h"
#include "msgtypes.h"
#include "net.h"
#include "sess.h"
#include "sr_session.h"
#include "sshkey.h"
#include "text.h"
#include "tun.h"

enum {
	DEV_ANSWER_TTL = 60,   /**< s an answer may wait in the client's queue */
	DEV_REMAKE_RETRY = 2,  /* s between attempts to make a vanished TUN again */
	DEV_RESUME_GRACE = 60, /**< s a session whose relay path was lost waits for the client */
};

struct dsess {
	struct devrole *d;
	struct dsess *next;
	uint8_t sid[SR_SID_LEN];
	char hex[33];
	char peer[HANDLE_BUF];
	char user[SESS_USER_MAX + 1];
	struct ipaddr c4, c6;
	uint64_t fid;          /* filter session id */
	struct dpath_sess dps; /* relay path, counters, merge state */
	ev_timer idle_w, max_w, grace_w;
	double start;
	uint32_t rekeys; /* completed on relay paths already closed */
	char *key_line;  /* [device] authorized-keys = command: the line sshd is given */
	char relay[SR_HOST_MAX + 8]; /* host:port of its ticket, for the audit record */
	uint64_t start_unix;
	bool key_installed, routes, in_filter, addrs;
};

struct devrole {
	struct ep *ep;
	struct tun_dev *tun;
	int ifindex;
	ev_io tun_w;
	ev_timer remake_w; /* making the TUN again after it vanished */
	struct ipaddr dev4, dev6;
	char addr4[INET_ADDRSTRLEN];
	struct filter *filter;
	struct addrpool *pool;
	char hostkeys[SESS_HOSTKEYS_MAX + 1];
	struct dsess *sessions;
	unsigned n_sessions;
	uint64_t next_fid;
};

static const struct ep_role_ops device_ops;
static void tun_lost(struct devrole *d, const char *why);

const char *devrole_ifname(const struct devrole *d)
{
	return d->tun ? tun_name(d->tun) : "-";
}

size_t devrole_key_lines(const struct devrole *d, const char *user,
			 void (*each)(void *arg, const char *line), void *arg)
{
	size_t n = 0;

	for (const struct dsess *s = d->sessions; s; s = s->next)
		if (s->key_line && !strcmp(s->user, user)) {
			each(arg, s->key_line);
			n++;
		}
	return n;
}

struct tun_dev *devrole_tun(const struct devrole *d)
{
	return d->tun;
}

const char *devrole_addr4(const struct devrole *d)
{
	return d->addr4;
}

static struct dsess *find_sid(struct devrole *d, const uint8_t sid[SR_SID_LEN])
{
	for (struct dsess *s = d->sessions; s; s = s->next)
		if (!memcmp(s->sid, sid, SR_SID_LEN))
			return s;
	return NULL;
}

static void sent_cb(void *arg, int err, const char *msg)
{
	if (err)
		log_msg(PL_LOG_WARN, "notification not delivered: %s", msg);
}

static void notify_end(struct devrole *d, struct dsess *s, uint8_t reason)
{
	struct sess_end e = {.reason = reason};
	uint8_t buf[64];
	size_t n;

	memcpy(e.session_id, s->sid, SR_SID_LEN);
	if (sess_end_encode(&e, buf, sizeof(buf), &n) == 0 &&
	    ep_notify(d->ep, s->peer, MSG_SESSION_END, buf, n, 60, sent_cb, NULL) < 0)
		log_msg(PL_LOG_WARN, "session %.8s: cannot tell %s it ended", s->hex, s->peer);
}

/* Close the session's relay path (keeping its rekey count for the end line). */
static void drop_sr(struct dsess *s, uint8_t reason)
{
	struct sr_client_stats st = {0};

	dpath_sess_close(&s->dps, reason, &st);
	s->rekeys += st.rekeys;
}

/*
 * End a session: everything it created is undone in reverse order, its
 * keys are wiped. @p tell_peer: send MSG_SESSION_END to the client.
 */
/* The session's audit record (@p event "start" or "end"). */
static void audit_sess(const struct dsess *s, const char *event, const char *reason)
{
	char c4[IPADDR_STRLEN] = "", c6[IPADDR_STRLEN] = "";
	struct audit_rec r = {
	    .event = event,
	    .sid = s->hex,
	    .device = ep_handle(s->d->ep),
	    .peer = s->peer,
	    .user = s->user,
	    .client4 = s->addrs ? ipaddr_str(&s->c4, false, c4, sizeof(c4)) : "",
	    .client6 = s->addrs ? ipaddr_str(&s->c6, false, c6, sizeof(c6)) : "",
	    .relay = s->relay,
	    .start = s->start_unix,
	    .end = strcmp(event, "end") ? 0 : net_unix_now(),
	    .bytes_in = s->dps.bytes_in,
	    .bytes_out = s->dps.bytes_out,
	    .reason = reason,
	};

	audit_emit(&r);
}

/* A refused request's audit record. */
static void audit_refused(const struct devrole *d, const char *peer, const char *user,
			  const char *hex, const char *why)
{
	struct audit_rec r = {.event = "refused",
			      .sid = hex,
			      .device = ep_handle(d->ep),
			      .peer = peer,
			      .user = user,
			      .client4 = "",
			      .client6 = "",
			      .relay = "",
			      .start = net_unix_now(),
			      .reason = why};

	audit_emit(&r);
}

static void dsess_end(struct dsess *s, int reason, bool tell_peer)
{
	struct devrole *d = s->d;
	struct ev_loop *loop = d->ep->loop;
	const struct ep_sys *sys = d->ep->sys;
	unsigned removed = 0;

	drop_sr(s, (uint8_t)reason); /* the client learns why from the CLOSE at once */
	audit_sess(s, "end", sess_end_reason_str(reason));
	log_msg(PL_LOG_INFO,
		"session %.8s end: peer %s user %s, %s, in %llu B out %llu B, %.1f s, %u rekeys",
		s->hex, s->peer, s->user, sess_end_reason_str(reason),
		(unsigned long long)s->dps.bytes_in, (unsigned long long)s->dps.bytes_out,
		ep_now(d->ep) - s->start, s->rekeys);
	if (tell_peer)
		notify_end(d, s, (uint8_t)reason);
	ev_timer_stop(loop, &s->idle_w);
	ev_timer_stop(loop, &s->max_w);
	ev_timer_stop(loop, &s->grace_w);
	if (s->in_filter)
		filter_session_remove(d->filter, s->fid);
	if (s->routes) {
		(void)sys->net->route_del(d->ep->nc, d->ifindex, &s->c4);
		(void)sys->net->route_del(d->ep->nc, d->ifindex, &s->c6);
	}
	free(s->key_line); /* command mode: gone from what sshd is told at once */
	s->key_line = NULL;
	if (s->key_installed && !d->ep->conf->ak_command &&
	    sys->key_remove(s->user, s->sid, SR_SID_LEN, &removed) < 0)
		log_msg(PL_LOG_ERR, "session %.8s: could not remove the key line of %s", s->hex,
			s->user);
	if (s->addrs) {
		addrpool_release(d->pool, &s->c4);
	}
	for (struct dsess **pp = &d->sessions; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	d->n_sessions--;
	dpath_sess_fini(&s->dps, 0);
	sodium_memzero(s, sizeof(*s));
	free(s);
}

/*
 * The session's limits against the endpoint clock: past max-duration or
 * idle for idle-timeout, it ends (true). The timers only wake this up, so a
 * test with an injected clock calls devrole_sweep() instead of waiting.
 */
static bool check_limits(struct dsess *s)
{
	const struct pdconf *conf = s->d->ep->conf;
	double now = ep_now(s->d->ep);

	if (now >= s->start + conf->max_duration - 0.5) {
		dsess_end(s, SESS_END_EXPIRED, true);
		return true;
	}
	if (now >= s->dps.last + conf->idle_timeout - 0.5) {
		dsess_end(s, SESS_END_IDLE, true);
		return true;
	}
	return false;
}

static void idle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct dsess *s = container_of(w, struct dsess, idle_w);

	if (check_limits(s))
		return;
	w->repeat = s->dps.last + s->d->ep->conf->idle_timeout - ep_now(s->d->ep);
	if (w->repeat < 0.5)
		w->repeat = 0.5;
	ev_timer_again(loop, w);
}

static void max_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct dsess *s = container_of(w, struct dsess, max_w);

	if (!check_limits(s)) { /* the clock says not yet: look again shortly */
		ev_timer_set(w, 1, 0);
		ev_timer_start(loop, w);
	}
}

void devrole_sweep(struct devrole *d)
{
	for (struct dsess *s = d->sessions, *next; s; s = next) {
		next = s->next;
		(void)check_limits(s);
	}
}

/* ---- data path ---- */

static void sr_up(void *arg, int transport)
{
	struct dsess *s = container_of(arg, struct dsess, dps);

	s->dps.transport = transport;
	log_msg(PL_LOG_INFO, "session %.8s: data path up over %s", s->hex,
		transport == SR_TR_UDP ? "UDP" : "TCP");
	/* TCP super-packets from now on (the data path cuts them for UDP sessions). */
	if (s->d->tun && !tun_offloading(s->d->tun) && tun_set_offload(s->d->tun) < 0)
		log_msg(PL_LOG_DEBUG, "%s: no TUN offload; one packet per read",
			tun_name(s->d->tun));
}

/* A packet from the client: admitted only if the filter says so (it counts drops). */
static bool admit(void *arg, const struct pkt *p)
{
	struct dsess *s = arg;
	struct filter_match m;

	return filter_inbound_pkt(s->d->filter, s->fid, p, &m) == FILTER_PASS;
}

static void grace_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	dsess_end(container_of(w, struct dsess, grace_w), SESS_END_SR_LOST, true);
}

/*
 * The relay path is gone. A close by the peer ends the session; anything
 * else (the SR died, the network broke) keeps addresses, key line and routes
 * for DEV_RESUME_GRACE seconds so the client can re-rendezvous
 * (MSG_SESSION_RESUME) and the SSH connection inside survives.
 */
static void sr_down(void *arg, int reason, const char *msg)
{
	struct dsess *s = container_of(arg, struct dsess, dps);

	if (reason == SR_DOWN_CLOSED) {
		log_msg(PL_LOG_INFO, "session %.8s: the client closed it", s->hex);
		dsess_end(s, SESS_END_CLOSED, false);
		return;
	}
	log_msg(PL_LOG_INFO, "session %.8s: relay path lost (%s); waiting up to %d s for a resume",
		s->hex, msg ? msg : "?", DEV_RESUME_GRACE);
	drop_sr(s, 0);
	ev_timer_set(&s->grace_w, DEV_RESUME_GRACE, 0);
	ev_timer_start(s->d->ep->loop, &s->grace_w);
}

static void tun_lost(struct devrole *d, const char *why);

/* Packets the device sends: only replies to a session pass, to that session. */
static struct dpath_sess *route_out(void *arg, const struct pkt *p)
{
	struct devrole *d = arg;
	struct filter_match m;

	if (filter_outbound_pkt(d->filter, p, &m) != FILTER_PASS || !m.ctx)
		return NULL;
	return &((struct dsess *)m.ctx)->dps;
}

static void tun_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct devrole *d = container_of(w, struct devrole, tun_w);
	long r = dpath_tun_drain(&d->ep->dp, d->tun, route_out, d);

	if (r < 0)
		tun_lost(d, strerror((int)-r));
}

/* ---- session set-up ---- */

static void answer(struct devrole *d, const char *to, const struct sess_answer *a)
{
	uint8_t buf[SESS_ANSWER_MAX];
	size_t n;

	if (sess_answer_encode(a, buf, sizeof(buf), &n) < 0 ||
	    ep_notify(d->ep, to, MSG_SESSION_ANSWER, buf, n, DEV_ANSWER_TTL, sent_cb, NULL) < 0)
		log_msg(PL_LOG_ERR, "cannot send the session answer to %s", to);
	sodium_memzero(buf, sizeof(buf));
}

static void answer_error(struct devrole *d, const char *to, const uint8_t sid[SR_SID_LEN],
			 int status, const char *reason)
{
	struct sess_answer a;

	memset(&a, 0, sizeof(a));
	memcpy(a.session_id, sid, SR_SID_LEN);
	a.status = (uint8_t)status;
	snprintf(a.reason, sizeof(a.reason), "%s", reason);
	answer(d, to, &a);
}

/* Ephemeral SSH key: private half into the answer, public half into authorized_keys. */
static int install_key(struct dsess *s, struct sess_answer *a, uint64_t expiry)
{
	char comment[64], pub[SSHKEY_LINE_BUF], line[SSHKEY_LINE_BUF + 256];
	char from[IPADDR_STRLEN], from6[IPADDR_STRLEN];
	struct sshkey *k = NULL;
	struct sshkey_pub kp;
	size_t len;
	int r;

	snprintf(comment, sizeof(comment), "portless-session-%s", s->hex);
	r = sshkey_generate(comment, &k);
	if (r < 0)
		goto out;
	sshkey_get_pub(k, &kp);
	r = sshkey_pub_format(&kp, 0, pub, sizeof(pub));
	if (r < 0)
		goto out;
	r = sshkey_private_format(k, a->sshkey, sizeof(a->sshkey), &len);
	if (r < 0)
		goto out;
	struct authkeys_entry e = {
	    .from = ipaddr_str(&s->c4, false, from, sizeof(from)),
	    .from2 = ipaddr_str(&s->c6, false, from6, sizeof(from6)),
	    .expiry = expiry,
	    .key = pub,
	    .sid = s->sid,
	    .sid_len = SR_SID_LEN,
	};
	r = authkeys_format_line(&e, line, sizeof(line));
	if (r < 0)
		goto out;
	if (s->d->ep->conf->ak_command) /* sshd asks us (AuthorizedKeysCommand): no file */
		r = (s->key_line = strdup(line)) ? 0 : -ENOMEM;
	else
		r = s->d->ep->sys->key_install(s->user, line);
	if (r == 0)
		s->key_installed = true;
out:
	sshkey_free(k);
	return r;
}

/* Routes and filter entry of a session (the key is already installed). */
static int open_routes(struct dsess *s)
{
	struct devrole *d = s->d;
	const struct pdconf *conf = d->ep->conf;
	const struct ep_net_ops *net = d->ep->sys->net;
	struct filter_session_cfg fc = {
	    .id = s->fid,
	    .client4 = s->c4,
	    .client6 = s->c6,
	    .ports = conf->ports,
	    .nports = conf->n_ports,
	    .ctx = s,
	};
	int r;

	r = filter_session_add(d->filter, &fc);
	if (r < 0)
		return r;
	s->in_filter = true;
	r = net->route_add(d->ep->nc, d->ifindex, &s->c4, &d->dev4);
	if (r == 0)
		r = net->route_add(d->ep->nc, d->ifindex, &s->c6, &d->dev6);
	if (r < 0) {
		log_msg(PL_LOG_ERR, "session %.8s: %s", s->hex, net->error(d->ep->nc));
		(void)net->route_del(d->ep->nc, d->ifindex, &s->c4);
		return r;
	}
	s->routes = true;
	return 0;
}

static struct dsess *dsess_new(struct devrole *d, const struct envelope *env,
			       const struct sess_request *rq)
{
	struct dsess *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->d = d;
	memcpy(s->sid, rq->session_id, SR_SID_LEN);
	ep_sid_hex(s->sid, s->hex);
	snprintf(s->peer, sizeof(s->peer), "%s", env->from);
	snprintf(s->user, sizeof(s->user), "%s", rq->user);
	s->fid = ++d->next_fid;
	s->start_unix = net_unix_now();
	snprintf(s->relay, sizeof(s->relay), "%s:%u", rq->ticket.host, rq->ticket.udp_port);
	dpath_sess_init(&s->dps, &d->ep->dp, &d->tun, admit, s);
	s->start = s->dps.last = ep_now(d->ep);
	ev_init(&s->idle_w, idle_cb);
	ev_init(&s->max_w, max_cb);
	ev_init(&s->grace_w, grace_cb);
	s->next = d->sessions;
	d->sessions = s;
	d->n_sessions++;
	return s;
}

/*
 * Our side of the data-plane key exchange for the SR session of @p tk with
 * the client's ephemeral @p client_pk, then the relay path as side B. Fills
 * @p kp (our new ephemeral pair, for the answer), @p aead and @p chain (the
 * session's chain key, which seals the answer's SSH key; the caller wipes it).
 */
static int join_relay(struct dsess *s, const struct sr_side_ticket *tk,
		      const uint8_t client_pk[DP_PK_LEN], unsigned client_mask,
		      struct dp_keypair *kp, int *aead, uint8_t chain[DP_KEY_LEN])
{
	struct sr_session_peers peers = {.handle_a = s->peer, .handle_b = ep_handle(s->d->ep)};
	struct sr_session_params sp;
	struct sr_client_cbs cb;
	struct dp_limits lim;
	int r;

	*aead = dp_aead_choose(dp_aead_supported(), client_mask);
	if (*aead < 0)
		return *aead;
	dp_keypair_new(kp);
	peers.pk_a = client_pk;
	peers.pk_b = kp->pk;
	peers.aead = (uint8_t)*aead;
	ep_dp_limits(s->d->ep, &lim);
	r = sr_session_params_make(kp, SR_SIDE_B, &peers, tk, &lim, &sp);
	if (r == 0) {
		memcpy(chain, sp.keys.chain, DP_KEY_LEN);
		dpath_sess_cbs(&s->dps, &cb, sr_up, sr_down);
		r = dpath_sess_open(&s->dps, &sp, &cb);
	}
	sodium_memzero(&sp, sizeof(sp));
	return r;
}

/* Everything after the policy said yes. Fills @p a; on failure the caller ends @p s. */
static int setup_session(struct dsess *s, const struct sess_request *rq, struct sess_answer *a)
{
	struct devrole *d = s->d;
	const struct pdconf *conf = d->ep->conf;
	struct dp_keypair kp = {0};
	uint8_t chain[DP_KEY_LEN];
	int aead = 0, r;
	uint64_t expiry = net_unix_now() + conf->max_duration;

	r = addrpool_alloc(d->pool, &s->c4, &s->c6);
	if (r < 0)
		return r;
	s->addrs = true;
	r = install_key(s, a, expiry);
	if (r == 0)
		r = open_routes(s);
	if (r == 0)
		r = join_relay(s, &rq->ticket, rq->client_pk, rq->aead_mask, &kp, &aead, chain);
	if (r == 0) {
		memcpy(a->session_id, s->sid, SR_SID_LEN);
		a->status = SESS_OK;
		memcpy(a->device_pk, kp.pk, DP_PK_LEN);
		a->aead = (uint8_t)aead;
		memcpy(&a->device_v4, d->dev4.a, 4);
		memcpy(&a->client_v4, s->c4.a, 4);
		memcpy(&a->device_v6, d->dev6.a, 16);
		memcpy(&a->client_v6, s->c6.a, 16);
		a->mtu = TUN_DEFAULT_MTU;
		a->expiry = expiry;
		snprintf(a->user, sizeof(a->user), "%s", s->user);
		snprintf(a->hostkeys, sizeof(a->hostkeys), "%s", d->hostkeys);
		ev_timer_set(&s->max_w, conf->max_duration, 0);
		ev_timer_start(d->ep->loop, &s->max_w);
		ev_timer_set(&s->idle_w, conf->idle_timeout, conf->idle_timeout);
		ev_timer_start(d->ep->loop, &s->idle_w);
		r = sess_answer_seal(a,
				     chain); /* forward secret: only the session's keys open it */
	}
	dp_keypair_wipe(&kp);
	sodium_memzero(chain, sizeof(chain));
	return r;
}

static unsigned sessions_of(const struct devrole *d, const char *peer)
{
	unsigned n = 0;

	for (const struct dsess *s = d->sessions; s; s = s->next)
		n += !strcmp(s->peer, peer);
	return n;
}

/*
 * Policy first: an unauthorised request gets no answer and creates nothing.
 * Then duplicates, the session cap and the local account. True when the
 * request may become a session; false when it was dropped or refused.
 */
static bool admissible(struct devrole *d, const struct envelope *env, const struct sess_request *rq,
		       const char *hex)
{
	const struct pdconf *conf = d->ep->conf;

	if (!pdconf_user_allowed(conf, env->from, rq->user)) {
		log_msg(PL_LOG_WARN, "session %.8s refused (no answer): %s may not log in as '%s'",
			hex, env->from, rq->user);
		audit_refused(d, env->from, rq->user, hex, "user not allowed");
		return false;
	}
	if (find_sid(d, rq->session_id)) {
		log_msg(PL_LOG_INFO, "session %.8s: duplicate request ignored", hex);
		return false;
	}
	if (d->n_sessions >= conf->max_sessions) {
		log_msg(PL_LOG_WARN, "session %.8s from %s: busy (%u sessions)", hex, env->from,
			d->n_sessions);
		answer_error(d, env->from, rq->session_id, SESS_BUSY, "too many sessions");
		audit_refused(d, env->from, rq->user, hex, "too many sessions");
		return false;
	}
	if (sessions_of(d, env->from) >=
	    pdconf_allow_max(conf, pdconf_find_allow(conf, env->from))) {
		log_msg(PL_LOG_WARN, "session %.8s from %s: its cap of %u sessions is reached", hex,
			env->from, pdconf_allow_max(conf, pdconf_find_allow(conf, env->from)));
		answer_error(d, env->from, rq->session_id, SESS_BUSY,
			     "too many sessions for this identity");
		audit_refused(d, env->from, rq->user, hex, "too many sessions for this identity");
		return false;
	}
	if (!d->ep->sys->user_exists(rq->user)) {
		log_msg(PL_LOG_WARN, "session %.8s from %s: no local user '%s'", hex, env->from,
			rq->user);
		answer_error(d, env->from, rq->session_id, SESS_FAILED,
			     "no such user on the device");
		audit_refused(d, env->from, rq->user, hex, "no such user");
		return false;
	}
	return true;
}

/* Set the session up and answer; on any failure nothing of it stays. */
static void start_session(struct devrole *d, const struct envelope *env,
			  const struct sess_request *rq, const char *hex)
{
	char c4[IPADDR_STRLEN], c6[IPADDR_STRLEN];
	struct sess_answer *a = sodium_malloc(sizeof(*a));
	struct dsess *s = dsess_new(d, env, rq);
	int r = -ENOMEM;

	if (a && s) {
		memset(a, 0, sizeof(*a));
		r = setup_session(s, rq, a);
	}
	if (r < 0) {
		log_msg(PL_LOG_ERR, "session %.8s from %s: set-up failed: %s", hex, env->from,
			strerror(-r));
		answer_error(d, env->from, rq->session_id, SESS_FAILED,
			     "device-side set-up failed");
		if (s)
			dsess_end(s, SESS_END_ERROR, false);
	} else {
		log_msg(PL_LOG_INFO, "session %.8s start: peer %s user %s client %s %s aead %s",
			hex, env->from, rq->user, ipaddr_str(&s->c4, false, c4, sizeof(c4)),
			ipaddr_str(&s->c6, false, c6, sizeof(c6)), dp_aead_name(a->aead));
		audit_sess(s, "start", "");
		answer(d, env->from, a);
	}
	if (a)
		sodium_free(a);
}

static void on_request(struct devrole *d, const struct envelope *env)
{
	struct sess_request rq;
	char hex[33];

	if (!sess_request_decode(env->payload, env->payload_len, &rq)) {
		log_msg(PL_LOG_WARN, "malformed session request from %s dropped", env->from);
		return;
	}
	if (!d->tun) {
		log_msg(PL_LOG_WARN, "session request from %s dropped: the TUN is being made again",
			env->from);
	} else {
		ep_sid_hex(rq.session_id, hex);
		if (admissible(d, env, &rq, hex))
			start_session(d, env, &rq, hex);
	}
	sess_request_wipe(&rq);
}

static void send_resumed(struct devrole *d, const char *to, const struct sess_resumed *rs)
{
	uint8_t buf[SESS_RESUMED_MAX];
	size_t n;

	if (sess_resumed_encode(rs, buf, sizeof(buf), &n) < 0 ||
	    ep_notify(d->ep, to, MSG_SESSION_RESUMED, buf, n, DEV_ANSWER_TTL, sent_cb, NULL) < 0)
		log_msg(PL_LOG_ERR, "cannot send the resume answer to %s", to);
}

static void on_resume(struct devrole *d, const struct envelope *env)
{
	struct sess_resume rq;
	struct sess_resumed rs = {0};
	struct dp_keypair kp = {0};
	uint8_t chain[DP_KEY_LEN];
	struct dsess *s;
	int aead = 0, r;

	if (!sess_resume_decode(env->payload, env->payload_len, &rq))
		return;
	memcpy(rs.session_id, rq.session_id, SR_SID_LEN);
	rs.status = SESS_FAILED;
	s = find_sid(d, rq.session_id);
	/* Only the session's own client may move it (the envelope is signed by it). */
	if (!s || strcmp(s->peer, env->from) != 0) {
		log_msg(PL_LOG_WARN, "resume from %s for an unknown session refused", env->from);
		send_resumed(d, env->from, &rs);
		goto out;
	}
	drop_sr(s, 0); /* the client saw the loss first: drop the old path */
	r = join_relay(s, &rq.ticket, rq.client_pk, rq.aead_mask, &kp, &aead, chain);
	sodium_memzero(chain, sizeof(chain));
	if (r < 0) {
		log_msg(PL_LOG_ERR, "session %.8s: resume failed: %s", s->hex, strerror(-r));
		send_resumed(d, env->from, &rs);
		dsess_end(s, SESS_END_ERROR, false);
		goto out;
	}
	ev_timer_stop(d->ep->loop, &s->grace_w);
	s->dps.last = ep_now(d->ep);
	rs.status = SESS_OK;
	memcpy(rs.device_pk, kp.pk, DP_PK_LEN);
	rs.aead = (uint8_t)aead;
	log_msg(PL_LOG_INFO, "session %.8s: resuming through a new relay session", s->hex);
	send_resumed(d, env->from, &rs);
out:
	dp_keypair_wipe(&kp);
	sodium_memzero(&rq, sizeof(rq));
}

static void on_end(struct devrole *d, const struct envelope *env)
{
	struct sess_end e;
	struct dsess *s;

	if (!sess_end_decode(env->payload, env->payload_len, &e))
		return;
	s = find_sid(d, e.session_id);
	if (s && !strcmp(s->peer, env->from))
		dsess_end(s, SESS_END_CLOSED, false);
}

static size_t status(const void *role, struct ctl_row *rows, size_t max)
{
	const struct devrole *d = role;
	struct filter_session_stats fs;
	size_t n = 0;

	for (const struct dsess *s = d->sessions; s && n < max; s = s->next, n++) {
		struct ctl_row *r = &rows[n];

		memset(r, 0, sizeof(*r));
		memcpy(r->sid, s->sid, SR_SID_LEN);
		r->role = CTL_ROLE_DEVICE;
		r->state = s->dps.transport ? CTL_STATE_UP : CTL_STATE_SETUP;
		r->transport = s->dps.transport == SR_TR_UDP   ? CTL_TRANSPORT_UDP
			       : s->dps.transport == SR_TR_TCP ? CTL_TRANSPORT_TCP
							       : CTL_TRANSPORT_NONE;
		snprintf(r->peer, sizeof(r->peer), "%s", s->peer);
		snprintf(r->user, sizeof(r->user), "%s", s->user);
		snprintf(r->device_ip, sizeof(r->device_ip), "%s", d->addr4);
		ipaddr_str(&s->c4, false, r->client_ip, sizeof(r->client_ip));
		r->bytes_in = s->dps.bytes_in;
		r->bytes_out = s->dps.bytes_out;
		r->age = (uint32_t)(ep_now(d->ep) - s->start);
		if (filter_session_stats(d->filter, s->fid, &fs) == 0)
			r->dropped = fs.dropped_in;
	}
	return n;
}

static bool on_notification(void *role, const struct envelope *env)
{
	struct devrole *d = role;

	switch (env->type) {
	case MSG_SESSION_REQUEST:
		on_request(d, env);
		return true;
	case MSG_SESSION_RESUME:
		on_resume(d, env);
		return true;
	case MSG_SESSION_END:
		on_end(d, env);
		return true; /* the client role may take it too */
	}
	return false;
}

/* Session messages from identities the policy names; nothing else reaches the role. */
static bool accepts(const void *role, const char *from, uint16_t type)
{
	const struct devrole *d = role;
	bool mine =
	    type == MSG_SESSION_REQUEST || type == MSG_SESSION_RESUME || type == MSG_SESSION_END;

	if (!mine)
		return false;
	if (pdconf_find_allow(d->ep->conf, from))
		return true;
	if (type == MSG_SESSION_REQUEST) /* nothing is fetched, pinned or answered for it */
		log_msg(
		    PL_LOG_WARN,
		    "session request refused (no answer): %s may not log in here (no [allow %s]; "
		    "the sender is not verified)",
		    from, from);
	return false;
}

/* Keys only of the identities [allow] names, and the fingerprint it expects. */
static int wants_keys(const void *role, const char *handle, char fpr[ID_FPR_BUF], bool *have_fpr)
{
	const struct devrole *d = role;
	const struct pdconf_allow *a = pdconf_find_allow(d->ep->conf, handle);

	if (!a)
		return -EPERM;
	if (a->key[0]) {
		snprintf(fpr, ID_FPR_BUF, "%s", a->key);
		*have_fpr = true;
	}
	return 0;
}

static void on_revoked(void *role, const char *handle)
{
	struct devrole *d = role;

	for (struct dsess *s = d->sessions, *next; s; s = next) {
		next = s->next;
		if (!strcmp(s->peer, handle))
			dsess_end(s, SESS_END_REVOKED, true);
	}
}

static void peers(const void *role, void (*each)(void *arg, const char *handle), void *arg)
{
	const struct devrole *d = role;

	for (const struct dsess *s = d->sessions; s; s = s->next)
		each(arg, s->peer);
}

static void on_vanished(void *role, int ifindex);
static void on_underlay(void *role);

static const struct ep_role_ops device_ops = {
    .name = "device",
    .on_notification = on_notification,
    .on_vanished = on_vanished,
    .on_underlay = on_underlay,
    .status = status,
    .accepts = accepts,
    .wants_keys = wants_keys,
    .on_revoked = on_revoked,
    .peers = peers,
};

/* ---- start-up ---- */

/* Host keys named in the config, as known_hosts key lines (type base64). */
static int load_hostkeys(struct devrole *d, char *err, size_t errlen)
{
	const struct pdconf *conf = d->ep->conf;
	size_t off = 0;

	for (size_t i = 0; i < conf->n_host_keys; i++) {
		struct sshkey_pub pub;
		char line[SSHKEY_LINE_BUF];
		int r = sshkey_pub_load(conf->host_keys[i], &pub);

		if (r == 0)
			r = sshkey_pub_format(&pub, 0, line, sizeof(line));
		if (r < 0) {
			snprintf(err, errlen, "host key %s: %s", conf->host_keys[i], strerror(-r));
			return r;
		}
		if (strlen(line) + 1 > sizeof(d->hostkeys) - off) {
			snprintf(err, errlen, "too many host keys");
			return -ENOSPC;
		}
		off += (size_t)snprintf(d->hostkeys + off, sizeof(d->hostkeys) - off, "%s\n", line);
	}
	if (off == 0) {
		snprintf(err, errlen, "no sshd host key configured ([device] sshd-host-keys)");
		return -EINVAL;
	}
	return 0;
}

/* Derive the stable addresses and make sure nothing on the host uses them. */
static int plan_addresses(struct devrole *d, char *err, size_t errlen)
{
	const struct pdconf *conf = d->ep->conf;
	struct addrplan_cfg pc;
	struct addrplan_host host = {0};
	char why[256];
	int r;

	r = pdconf_device_addrs(conf, ep_handle(d->ep), &pc, &d->dev4, &d->dev6);
	if (r < 0) {
		snprintf(err, errlen, "cannot derive the virtual address: %s", strerror(-r));
		return r;
	}
	ipaddr_str(&d->dev4, false, d->addr4, sizeof(d->addr4));
	r = d->ep->sys->net->snapshot(d->ep->nc, &host);
	for (int i = 0; r == 0 && i < 2; i++) {
		const struct ipaddr *a = i ? &d->dev6 : &d->dev4;

		if (addrplan_check(&host, a, 0, why, sizeof(why)) >= ADDRPLAN_ROUTE_EXACT) {
			snprintf(err, errlen,
				 "virtual address conflict: %s (set [device] address-alternative = "
				 "%u for another stable address)",
				 why, conf->addr_alt + 1);
			r = -EADDRINUSE;
		}
	}
	if (r == 0)
		r = addrpool_new(&pc.pool4, &pc.pool6, &d->pool);
	if (r == 0)
		addrpool_reserve_host(d->pool, &host, 0);
	addrplan_host_clear(&host);
	return r;
}

static void run_ifscript(struct devrole *d, const char *phase);

static int bring_up_tun(struct devrole *d, char *err, size_t errlen)
{
	const struct ep_net_ops *net = d->ep->sys->net;
	struct netcfg *nc = d->ep->nc;
	struct tun_open_opts o = {.flags = d->ep->sys->tun->readv ? TUN_OPEN_VNET : 0};
	int r = tun_open_ex(d->ep->sys->tun, &o, &d->tun);

	if (r < 0) {
		d->tun = NULL;
		snprintf(err, errlen, "cannot create the TUN interface: %s", strerror(-r));
		return r;
	}
	d->ifindex = net->ifindex(nc, tun_name(d->tun));
	r = d->ifindex < 0 ? d->ifindex : 0;
	if (r == 0)
		r = net->set_mtu(nc, d->ifindex, TUN_DEFAULT_MTU);
	if (r == 0)
		r = net->no_ipv6_ll(nc, d->ifindex);
	if (r == 0)
		r = net->addr_add(nc, d->ifindex, &d->dev4, NULL);
	if (r == 0)
		r = net->addr_add(nc, d->ifindex, &d->dev6, NULL);
	if (r == 0)
		r = net->set_up(nc, d->ifindex, true);
	if (r < 0) {
		snprintf(err, errlen, "%s: %s", tun_name(d->tun), net->error(nc));
		return r;
	}
	ev_io_init(&d->tun_w, tun_cb, tun_fd(d->tun), EV_READ);
	ev_io_start(d->ep->loop, &d->tun_w);
	ep_watch(d->ep, tun_name(d->tun));
	run_ifscript(d, "up");
	return 0;
}

/* The site's ifup/ifdown for the device interface (shared by all sessions). */
static void run_ifscript(struct devrole *d, const char *phase)
{
	char a4[IPADDR_STRLEN], a6[IPADDR_STRLEN];
	struct ifscript_env e = {
	    .ifname = tun_name(d->tun),
	    .role = "device",
	    .session = "",
	    .addr4 = ipaddr_str(&d->dev4, true, a4, sizeof(a4)),
	    .addr6 = ipaddr_str(&d->dev6, true, a6, sizeof(a6)),
	    .mtu = TUN_DEFAULT_MTU,
	    .phase = phase,
	};

	ep_ifscript(d->ep, &e);
}

static void drop_tun(struct devrole *d)
{
	if (!d->tun)
		return;
	ev_io_stop(d->ep->loop, &d->tun_w);
	ep_unwatch(d->ep, tun_name(d->tun));
	run_ifscript(d, "down");
	tun_close(d->tun);
	d->tun = NULL;
}

static void remake_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct devrole *d = container_of(w, struct devrole, remake_w);
	char err[256];

	if (bring_up_tun(d, err, sizeof(err)) < 0) {
		log_msg(PL_LOG_ERR, "device role: cannot make the TUN again (%s); retrying in %d s",
			err, DEV_REMAKE_RETRY);
		drop_tun(d);
		ev_timer_set(w, DEV_REMAKE_RETRY, 0);
		ev_timer_start(loop, w);
		return;
	}
	log_msg(PL_LOG_INFO, "device role: %s is %s on %s again", ep_handle(d->ep), d->addr4,
		tun_name(d->tun));
}

/*
 * Our TUN is gone (deleted from outside, or its fd went bad): no session can
 * carry traffic any more, so each ends as if closed (key line removed,
 * addresses released, the client told), and the interface is made again
 * with the same stable addresses.
 */
static void tun_lost(struct devrole *d, const char *why)
{
	unsigned n = d->n_sessions;

	if (!d->tun)
		return;
	log_msg(PL_LOG_WARN, "device role: %s vanished (%s): ending %u session(s), making it again",
		tun_name(d->tun), why, n);
	drop_tun(d);
	while (d->sessions)
		dsess_end(d->sessions, SESS_END_ERROR, true);
	ev_timer_set(&d->remake_w, 0, 0);
	ev_timer_start(d->ep->loop, &d->remake_w);
}

static void on_vanished(void *role, int ifindex)
{
	struct devrole *d = role;

	if (d->tun && ifindex == d->ifindex)
		tun_lost(d, "deleted");
}

static void on_underlay(void *role)
{
	struct devrole *d = role;
	for (struct dsess *s = d->sessions; s; s = s->next)
		dpath_sess_rebind(&s->dps, s->hex);
}

static void cleanup_stale_keys(struct devrole *d)
{
	const struct pdconf *conf = d->ep->conf;
	const char *users[PDCONF_MAX_USERS + 1];
	unsigned removed = 0;

	for (size_t i = 0; i < conf->n_ak_users; i++)
		users[i] = conf->ak_users[i];
	users[conf->n_ak_users] = NULL;
	if (d->ep->sys->key_remove_all(users, &removed) < 0)
		log_msg(PL_LOG_WARN, "start-up clean-up of authorized_keys was incomplete");
	if (removed)
		log_msg(PL_LOG_INFO, "removed %u stale portless key line(s) left by a crash",
			removed);
}

static void record_done(void *arg, int err, const char *msg)
{
	if (err)
		log_msg(PL_LOG_WARN, "device record not published: %s", msg);
}

/* The device record: what listings and clients may read about us (signed by us). */
static void publish_record(struct devrole *d)
{
	char text[SESS_HOSTKEYS_MAX + 512], v6[IPADDR_STRLEN], b64[128];
	uint8_t sig[crypto_sign_BYTES];
	int n;

	n = snprintf(text, sizeof(text), "name %s\nversion %s\nv4 %s\nv6 %s\n", ep_handle(d->ep),
		     PORTLESS_VERSION, d->addr4, ipaddr_str(&d->dev6, false, v6, sizeof(v6)));
	for (const char *l = d->hostkeys; *l && n > 0 && (size_t)n < sizeof(text);) {
		const char *nl = strchr(l, '\n');
		int len = nl ? (int)(nl - l) : (int)strlen(l);

		n += snprintf(text + n, sizeof(text) - (size_t)n, "hostkey %.*s\n", len, l);
		l += len + (nl ? 1 : 0);
	}
	if (n < 0 || (size_t)n >= sizeof(text) - 200)
		return;
	crypto_sign_detached(sig, NULL, (const uint8_t *)text, (unsigned long long)n,
			     identity_sign_sk(d->ep->cpcfg.id));
	if (text_to_b64(b64, sizeof(b64), sig, sizeof(sig)) < 0)
		return;
	n += snprintf(text + n, sizeof(text) - (size_t)n, "sig %s\n", b64);
	if (d->ep->sys->put_record(d->ep->cp, "device", (const uint8_t *)text, (size_t)n,
				   record_done, NULL) < 0)
		log_msg(PL_LOG_WARN, "device record not published");
}

int devrole_new(struct ep *ep, struct devrole **out, char *err, size_t errlen)
{
	char a6[IPADDR_STRLEN];
	struct devrole *d = calloc(1, sizeof(*d));
	int r;

	if (!d)
		return -ENOMEM;
	d->ep = ep;
	ev_init(&d->remake_w, remake_cb);
	cleanup_stale_keys(d);
	r = load_hostkeys(d, err, errlen);
	if (r == 0)
		r = plan_addresses(d, err, errlen);
	if (r == 0)
		r = filter_new(&d->dev4, &d->dev6, ep->conf->max_sessions, &d->filter);
	if (r == 0)
		r = bring_up_tun(d, err, errlen);
	if (r < 0)
		goto fail;
	publish_record(d);
	log_msg(PL_LOG_INFO, "device role: %s is %s on %s (IPv6 %s)", ep_handle(ep), d->addr4,
		tun_name(d->tun), ipaddr_str(&d->dev6, false, a6, sizeof(a6)));
	ep_set_role(ep, EP_ROLE_DEVICE, &device_ops, d);
	*out = d;
	return 0;
fail:
	devrole_free(d);
	return r;
}

void devrole_free(struct devrole *d)
{
	if (!d)
		return;
	while (d->sessions)
		dsess_end(d->sessions, SESS_END_CLOSED, true);
	ev_timer_stop(d->ep->loop, &d->remake_w);
	drop_tun(d);
	filter_free(d->filter);
	addrpool_free(d->pool);
	if (d->ep->role[EP_ROLE_DEVICE].obj == d)
		ep_set_role(d->ep, EP_ROLE_DEVICE, NULL, NULL);
	free(d);
}
