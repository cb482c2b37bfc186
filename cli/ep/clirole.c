/* SPDX-License-Identifier: MIT */
#include "clirole.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addrplan.h"
#include "cliif.h"
#include "log.h"
#include "msgtypes.h"
#include "net.h"
#include "sr_session.h"
#include "tun.h"

enum {
	CLI_TICKET_TIMEOUT = 10, /**< s for the SR's ticket */
	CLI_ANSWER_TIMEOUT = 15, /**< s for the device's answer */
	CLI_PATH_TIMEOUT = 15,   /**< s for the relay path to pair */
	CLI_REQUEST_TTL = 30,    /**< s a session request may wait in the device's queue */
	CLI_RESUME_GRACE = 55,   /**< s to re-establish a lost relay path (device waits 60) */
	CLI_OFFLINE_GRACE = 5,   /**< s to wait for a device its home says is not connected */
	CLI_TOKENS = 64,         /**< control-plane requests whose outcome a session awaits */
};

/* States; everything from CS_ANSWER on has a session id. */
enum cstate { CS_TICKET = 1, CS_ANSWER, CS_PATH, CS_UP, CS_RESUME_TICKET, CS_RESUME_ANSWER };

struct csess {
	struct clirole *c;
	struct csess *next;
	enum cstate state;
	char device[HANDLE_BUF];
	char relay[HANDLE_BUF];
	char user[SESS_USER_MAX + 1];
	uint8_t sid[SR_SID_LEN];
	char hex[33];
	struct clirole_cbs cb;
	struct sr_ticket ticket;
	struct dp_keypair kp;
	struct sess_answer *ans; /* sodium_malloc'ed: holds the SSH private key */
	struct dpath_sess dps;   /* relay path, counters, merge state */
	struct cliif_member mem; /* our addresses on the shared interface */
	bool attached;           /* on the interface (ifup ran): ifdown runs before it goes */
	bool closing;            /* csess_free() runs: an interface loss must not end it twice */
	ev_timer step_w;
	bool was_ready;        /* READY was reported: later path changes are resumes */
	bool relay_offline;    /* the relay's home queued our ticket request: not connected */
	bool relay_pinned;     /* the user chose the relay (portless ssh --sr): no fallback */
	unsigned relays_tried; /* relays of [client] sr asked for this ticket so far */
	double asked;          /* when the current ticket request left */
	bool dev_offline;      /* the device's home queued our request: not connected */
	uint64_t seq;          /* for request outcomes (struct reqtok) */
	double resume_until;   /* give up re-establishing the path after this */
	double start;
	uid_t owner; /* the local user it is for */
	char dev_ip[INET6_ADDRSTRLEN], cli_ip[INET6_ADDRSTRLEN];
	char dev_ip6[INET6_ADDRSTRLEN], cli_ip6[INET6_ADDRSTRLEN];
};

/*
 * What a control-plane request's completion needs to find its session: the
 * session may be gone by then, so it is looked up by sequence number, never
 * by pointer. A slot is busy until its completion runs; when all are, the
 * request goes without one (its session then learns only from its timeout).
 */
struct reqtok {
	struct clirole *c;
	uint64_t seq;
	bool busy;
};

struct clirole {
	struct ep *ep;
	struct csess *sessions; /* oldest first */
	struct cliif ci;        /* the one TUN of every session */
	uint64_t next_seq;
	double rtt[PDCONF_MAX_SR]; /* ms, ticket round trip per [client] sr entry (0: not yet) */
};

static void on_if_lost(struct cliif *ci, const char *why);
static const struct ep_role_ops client_ops;

int clirole_new(struct ep *ep, struct clirole **out)
{
	struct clirole *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->ep = ep;
	cliif_init(&c->ci, ep, on_if_lost);
	ep_set_role(ep, EP_ROLE_CLIENT, &client_ops, c);
	*out = c;
	return 0;
}

static void sent_cb(void *arg, int err, const char *msg)
{
	if (err)
		log_msg(PL_LOG_WARN, "notification not delivered: %s", msg);
}

static void tell_device_end(struct csess *s)
{
	struct sess_end e = {.reason = SESS_END_CLOSED};
	uint8_t buf[64];
	size_t n;

	memcpy(e.session_id, s->sid, SR_SID_LEN);
	if (sess_end_encode(&e, buf, sizeof(buf), &n) == 0 &&
	    ep_notify(s->c->ep, s->device, MSG_SESSION_END, buf, n, 60, sent_cb, NULL) < 0)
		log_msg(PL_LOG_WARN, "session %.8s: cannot tell %s it ended", s->hex, s->device);
}

/* The site's ifup/ifdown for this session's interface. */
static void run_ifscript(struct csess *s, const char *phase)
{
	char a4[INET6_ADDRSTRLEN + 4];
	struct ifscript_env e = {
	    .ifname = cliif_name(&s->c->ci),
	    .role = "client",
	    .session = s->hex,
	    .addr4 = a4,
	    .addr6 = "",
	    .peer4 = s->dev_ip,
	    .peer6 = "",
	    .mtu = s->ans ? s->ans->mtu : 0,
	    .phase = phase,
	};

	snprintf(a4, sizeof(a4), "%s/32", s->cli_ip);
	ep_ifscript(s->c->ep, &e);
}

/* Undo everything, wipe, free. No callback. */
static void csess_free(struct csess *s)
{
	struct clirole *c = s->c;
	struct ev_loop *loop = c->ep->loop;

	ev_timer_stop(loop, &s->step_w);
	s->closing = true;
	if (s->attached && s->dps.sr && !c->ci.lost)
		cliif_drain(&c->ci); /* the program's last packets go before the CLOSE */
	dpath_sess_fini(&s->dps, SESS_END_CLOSED);
	if (s->attached) {
		run_ifscript(s, "down");
		cliif_detach(&c->ci, &s->mem);
	}
	for (struct csess **pp = &c->sessions; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	if (s->ans)
		sodium_free(s->ans);
	sr_ticket_wipe(&s->ticket);
	dp_keypair_wipe(&s->kp);
	sodium_memzero(s, sizeof(*s));
	free(s);
}

/* Finish a session with a reason for the user (the last callback). */
static void csess_done(struct csess *s, int hop, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void csess_done(struct csess *s, int hop, const char *fmt, ...)
{
	struct clirole_cbs cb = s->cb;
	char text[CTL_TEXT_BUF];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_msg(PL_LOG_INFO, "session %.8s to %s: %s", s->hex[0] ? s->hex : "-", s->device, text);
	if (s->state >= CS_ANSWER)
		tell_device_end(s);
	csess_free(s);
	if (cb.done)
		cb.done(cb.arg, hop, text);
}

static void progress(struct csess *s, int hop, const char *text)
{
	if (s->cb.progress)
		s->cb.progress(s->cb.arg, hop, text);
}

static void begin_resume(struct csess *s);
static int request_ticket(struct csess *s);
static bool next_relay(struct csess *s, const char *why);
static bool rotate_relay(struct csess *s);
static bool is_relay(const struct clirole *c, const char *handle);
static void show_device_key(struct csess *s);
static void note_rtt(struct clirole *c, const char *relay, double ms);

static void step_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct csess *s = container_of(w, struct csess, step_w);

	if (s->was_ready) {
		if (ep_now(s->c->ep) < s->resume_until) {
			if (s->state ==
			    CS_RESUME_TICKET) /* that relay gave no ticket: the next one */
				(void)rotate_relay(s);
			begin_resume(s); /* ask again: the relay may be back by now */
			return;
		}
		csess_done(s, CTL_HOP_SR, "relay path lost and not re-established within %d s",
			   CLI_RESUME_GRACE);
		return;
	}
	switch (s->state) {
	case CS_TICKET:
		if (next_relay(s, s->relay_offline ? "is not connected to its home"
						   : "did not answer"))
			break;
		csess_done(s, CTL_HOP_SR, "no ticket from %s within %d s (%s)", s->relay,
			   CLI_TICKET_TIMEOUT,
			   s->relay_offline ? "it is not connected to its home" : "relay offline?");
		break;
	case CS_ANSWER:
		if (s->dev_offline)
			csess_done(s, CTL_HOP_DEVICE_OFFLINE,
				   "%s is offline: not connected to its home", s->device);
		else
			csess_done(s, CTL_HOP_DEVICE_ANSWER,
				   "no answer from %s within %d s (not authorised, or offline)",
				   s->device, CLI_ANSWER_TIMEOUT);
		break;
	default:
		csess_done(s, CTL_HOP_TUNNEL, "the relay path did not come up within %d s",
			   CLI_PATH_TIMEOUT);
	}
}

static void step(struct csess *s, enum cstate st, double timeout)
{
	s->state = st;
	ev_timer_stop(s->c->ep->loop, &s->step_w);
	if (timeout > 0) {
		ev_timer_set(&s->step_w, timeout, 0);
		ev_timer_start(s->c->ep->loop, &s->step_w);
	}
}

/* ---- the relay path ---- */

static void sr_up(void *arg, int transport)
{
	struct csess *s = container_of(arg, struct csess, dps);
	const struct sess_answer *a = s->ans;
	struct clirole_ready r = {
	    .sid = s->sid,
	    .device = s->device,
	    .device_ip = s->dev_ip,
	    .client_ip = s->cli_ip,
	    .user = a->user,
	    .sshkey = a->sshkey,
	    .hostkeys = a->hostkeys,
	    .device_ip6 = s->dev_ip6,
	    .client_ip6 = s->cli_ip6,
	    .ifname = cliif_name(&s->c->ci),
	    .transport = transport,
	};

	s->dps.transport = transport;
	cliif_offload(
	    &s->c->ci); /* TCP super-packets from now on (the data path cuts them for UDP) */
	step(s, CS_UP, 0);
	if (s->was_ready) {
		log_msg(PL_LOG_INFO, "session %.8s to %s resumed over %s after %.0f ms", s->hex,
			s->device, transport == SR_TR_UDP ? "UDP" : "TCP",
			(ep_now(s->c->ep) - (s->resume_until - CLI_RESUME_GRACE)) * 1000);
		return;
	}
	s->was_ready = true;
	log_msg(PL_LOG_INFO, "session %.8s to %s up: %s -> %s on %s over %s (%.0f ms)", s->hex,
		s->device, s->cli_ip, s->dev_ip, cliif_name(&s->c->ci),
		transport == SR_TR_UDP ? "UDP" : "TCP", (ep_now(s->c->ep) - s->start) * 1000);
	if (s->cb.ready)
		s->cb.ready(s->cb.arg, &r);
}

static void sr_down(void *arg, int reason, const char *msg)
{
	struct csess *s = container_of(arg, struct csess, dps);
	uint8_t why =
	    reason == SR_DOWN_CLOSED ? s->c->ep->sys->path->peer_close_reason(s->dps.sr) : 0;

	dpath_sess_close(&s->dps, 0, NULL);
	if (s->was_ready && reason != SR_DOWN_CLOSED) {
		/* Keep addresses and routes: re-rendezvous, and the SSH connection lives on. */
		double now = ep_now(s->c->ep);

		if (s->state == CS_UP) { /* the grace period starts with the first loss */
			log_msg(PL_LOG_WARN, "session %.8s: relay path lost (%s); re-establishing",
				s->hex, msg ? msg : "?");
			s->resume_until = now + CLI_RESUME_GRACE;
		}
		if (now < s->resume_until) {
			begin_resume(s);
			return;
		}
	}
	if (why) /* the device said why in its CLOSE */
		csess_done(s, CTL_HOP_NONE, "%s ended the session (%s)", s->device,
			   sess_end_reason_str(why));
	else
		csess_done(
		    s, s->state == CS_UP && reason == SR_DOWN_CLOSED ? CTL_HOP_NONE : CTL_HOP_SR,
		    "relay path down: %s", msg ? msg : "?");
}

/* ---- set-up steps ---- */

/* The answer's addresses, as the member's and as text. */
static void take_addresses(struct csess *s)
{
	const struct sess_answer *a = s->ans;
	struct cliif_member *m = &s->mem;

	ipaddr_from_bytes(&m->c4, AF_INET, &a->client_v4, 32);
	ipaddr_from_bytes(&m->d4, AF_INET, &a->device_v4, 32);
	ipaddr_from_bytes(&m->c6, AF_INET6, &a->client_v6, 128);
	ipaddr_from_bytes(&m->d6, AF_INET6, &a->device_v6, 128);
	m->dps = &s->dps;
	m->device = s->device;
	inet_ntop(AF_INET, &a->device_v4, s->dev_ip, sizeof(s->dev_ip));
	inet_ntop(AF_INET, &a->client_v4, s->cli_ip, sizeof(s->cli_ip));
	inet_ntop(AF_INET6, &a->device_v6, s->dev_ip6, sizeof(s->dev_ip6));
	inet_ntop(AF_INET6, &a->client_v6, s->cli_ip6, sizeof(s->cli_ip6));
}

/* Against the host: nothing of this host may be (or be routed) where the device says. */
static int check_host(struct csess *s, const struct ipaddr *const *all, char *why, size_t cap)
{
	struct ep *ep = s->c->ep;
	struct addrplan_host host = {0};
	char w[160];
	int own = s->c->ci.ifindex > 0 ? s->c->ci.ifindex : 0;
	int r = ep->sys->net->snapshot(ep->nc, &host);

	for (int i = 0; r == 0 && i < 4; i++)
		if (addrplan_check(&host, all[i], own, w, sizeof(w)) >= ADDRPLAN_ROUTE_COVERS) {
			snprintf(why, cap, "the device's answer clashes with this host: %s", w);
			r = -EADDRINUSE;
		}
	if (r < 0 && r != -EADDRINUSE)
		snprintf(why, cap, "cannot read this host's addresses: %s", strerror(-r));
	addrplan_host_clear(&host);
	return r;
}

/*
 * A device decides nothing on this host but its own session: its addresses
 * and ours must lie in the overlay networks ([client] overlay), differ,
 * belong to no other session or device, and clash with no address or route
 * of this host. Anything else ends the session, saying why.
 */
static int check_answer(struct csess *s, char *why, size_t cap)
{
	const struct cliif_member *m = &s->mem;
	const struct ipaddr *all[4] = {&m->c4, &m->d4, &m->c6, &m->d6};
	char a[IPADDR_STRLEN];

	for (int i = 0; i < 4; i++)
		if (!pdconf_in_overlay(s->c->ep->conf, all[i])) {
			snprintf(why, cap,
				 "the device's answer names %s, outside the overlay networks "
				 "([client] overlay)",
				 ipaddr_str(all[i], false, a, sizeof(a)));
			return -EPERM;
		}
	if (ipaddr_equal(&m->c4, &m->d4) || ipaddr_equal(&m->c6, &m->d6)) {
		snprintf(why, cap, "the device's answer gives us its own address");
		return -EPERM;
	}
	if (cliif_clash(&s->c->ci, m, why, cap) < 0)
		return -EADDRINUSE;
	return check_host(s, all, why, cap);
}

/* Our addresses on the shared interface (the answer passed its checks). */
static int attach(struct csess *s, char *why, size_t cap)
{
	int r = cliif_attach(&s->c->ci, &s->mem, s->ans->mtu, why, cap);

	if (r < 0)
		return r;
	s->attached = true;
	run_ifscript(s, "up");
	return 0;
}

/* A received packet goes into the TUN only from our device to our address. */
static bool admit(void *arg, const struct pkt *p)
{
	struct csess *s = arg;

	return cliif_admit(&s->mem, p);
}

/* The shared interface is gone: no session can carry traffic any more. */
static void on_if_lost(struct cliif *ci, const char *why)
{
	struct clirole *c = container_of(ci, struct clirole, ci);

	for (struct csess *s = c->sessions, *next; s; s = next) {
		next = s->next;
		if (s->attached && !s->closing)
			csess_done(s, CTL_HOP_TUNNEL, "interface %s went away (%s)", cliif_name(ci),
				   why);
	}
}

static void on_vanished(void *role, int ifindex)
{
	struct clirole *c = role;

	if (c->ci.tun && c->ci.ifindex == ifindex)
		on_if_lost(&c->ci, "deleted");
}

static void on_underlay(void *role)
{
	struct clirole *c = role;
	for (struct csess *s = c->sessions; s; s = s->next)
		dpath_sess_rebind(&s->dps, s->hex);
}

/* Our keys for the current ticket's SR session (side A), from the device's ephemeral key. */
static int make_params(struct csess *s, const uint8_t device_pk[DP_PK_LEN], uint8_t aead,
		       struct sr_session_params *sp)
{
	struct sr_session_peers peers = {
	    .handle_a = ep_handle(s->c->ep),
	    .handle_b = s->device,
	    .pk_a = s->kp.pk,
	    .pk_b = device_pk,
	    .aead = aead,
	};
	struct sr_side_ticket tk;
	struct dp_limits lim;
	int r;

	sr_ticket_side(&s->ticket, SR_SIDE_A, &tk);
	ep_dp_limits(s->c->ep, &lim);
	r = sr_session_params_make(&s->kp, SR_SIDE_A, &peers, &tk, &lim, sp);
	sodium_memzero(&tk, sizeof(tk));
	dp_keypair_wipe(&s->kp);
	return r;
}

/* Join the SR as side A with @p sp (wiped here). */
static int open_path(struct csess *s, struct sr_session_params *sp)
{
	struct sr_client_cbs cb;
	int r;

	dpath_sess_cbs(&s->dps, &cb, sr_up, sr_down);
	r = dpath_sess_open(&s->dps, sp, &cb);
	sodium_memzero(sp, sizeof(*sp));
	return r;
}

static void on_answer(struct csess *s, const struct envelope *env)
{
	struct sr_session_params sp;
	char why[CTL_TEXT_BUF];

	s->ans = sodium_malloc(sizeof(*s->ans));
	if (!s->ans || !sess_answer_decode(env->payload, env->payload_len, s->ans)) {
		csess_done(s, CTL_HOP_DEVICE_ANSWER, "malformed answer from %s", s->device);
		return;
	}
	if (s->ans->status != SESS_OK) {
		csess_done(s, CTL_HOP_DEVICE_ANSWER, "%s refused: %s", s->device, s->ans->reason);
		return;
	}
	if (!(dp_aead_supported() & (1u << s->ans->aead))) {
		csess_done(s, CTL_HOP_DEVICE_ANSWER, "%s chose an AEAD we cannot run", s->device);
		return;
	}
	progress(s, CTL_HOP_TUNNEL, "answer received; bringing the tunnel up");
	if (make_params(s, s->ans->device_pk, s->ans->aead, &sp) < 0 ||
	    sess_answer_open(s->ans, sp.keys.chain) < 0) {
		sodium_memzero(&sp, sizeof(sp));
		csess_done(s, CTL_HOP_DEVICE_ANSWER,
			   "answer from %s does not open with the session's keys", s->device);
		return;
	}
	take_addresses(s);
	if (check_answer(s, why, sizeof(why)) < 0) {
		sodium_memzero(&sp, sizeof(sp));
		csess_done(s, CTL_HOP_DEVICE_ANSWER, "answer from %s refused: %s", s->device, why);
		return;
	}
	if (attach(s, why, sizeof(why)) < 0) {
		sodium_memzero(&sp, sizeof(sp));
		csess_done(s, CTL_HOP_TUNNEL, "%s", why);
		return;
	}
	if (open_path(s, &sp) < 0) {
		csess_done(s, CTL_HOP_TUNNEL, "cannot start the relay path");
		return;
	}
	step(s, CS_PATH, CLI_PATH_TIMEOUT);
}

/*
 * The tokens outlive any role: a completion may still arrive while the
 * daemon shuts down, after clirole_free() (it then finds t->c NULL), and
 * the control-plane client drops requests it never completed without a
 * callback, so per-role storage would be used after free (seen: portlessd
 * segfaulted in token_take at shutdown).
 */
static struct reqtok tokens[CLI_TOKENS];

static struct reqtok *token_for(struct csess *s)
{
	for (int i = 0; i < CLI_TOKENS; i++) {
		struct reqtok *t = &tokens[i];

		if (!t->busy) {
			*t = (struct reqtok){.c = s->c, .seq = s->seq, .busy = true};
			return t;
		}
	}
	return NULL;
}

/* The session a completion is for, if it still exists; frees the token. */
static struct csess *token_take(void *arg)
{
	struct reqtok *t = arg;

	if (!t)
		return NULL;
	t->busy = false;
	if (!t->c) /* its role is gone */
		return NULL;
	for (struct csess *s = t->c->sessions; s; s = s->next)
		if (s->seq == t->seq)
			return s;
	return NULL;
}

/* Where a request to @p who failed: the directory for who it is, else our home. */
static void request_failed(struct csess *s, int err, const char *what, const char *msg)
{
	if (err == CP_E_UNKNOWN_IDENTITY || err == CP_E_REVOKED || err == CP_E_KEY_CHANGED ||
	    err == CP_E_BAD_KEYS)
		csess_done(s, CTL_HOP_DIRECTORY, "%s",
			   msg ? msg : cp_strerror(err)); /* names who */
	else
		csess_done(s, CTL_HOP_HOME, "%s not delivered: %s", what,
			   msg ? msg : cp_strerror(err));
}

/* The device's home took (or refused) our session request. */
static void request_done(void *arg, int err, const char *msg)
{
	struct csess *s = token_take(arg);

	if (!s || (s->state != CS_ANSWER && s->state != CS_RESUME_ANSWER)) {
		if (err)
			log_msg(PL_LOG_WARN, "session request not delivered: %s", msg);
		return;
	}
	if (err && s->state == CS_ANSWER) {
		request_failed(s, err, s->device, msg);
		return;
	}
	if (err) {
		log_msg(PL_LOG_WARN, "session %.8s: resume request not delivered: %s", s->hex, msg);
		return;
	}
	if (msg == cp_msg_offline && s->state == CS_ANSWER) {
		/* queued for it: wait a little in case it is just reconnecting */
		s->dev_offline = true;
		progress(s, CTL_HOP_DEVICE_OFFLINE,
			 "the device is not connected to its home; waiting");
		step(s, CS_ANSWER, CLI_OFFLINE_GRACE);
	}
}

/* Lost the relay path after READY: a new ticket, then MSG_SESSION_RESUME. */
static void begin_resume(struct csess *s)
{
	dpath_sess_close(&s->dps, 0, NULL);
	step(s, CS_RESUME_TICKET, CLI_TICKET_TIMEOUT);
	if (request_ticket(s) < 0)
		log_msg(PL_LOG_WARN, "session %.8s: cannot ask for a new ticket yet", s->hex);
}

static void send_resume(struct csess *s)
{
	struct sess_resume rq;
	uint8_t buf[SESS_RESUME_MAX];
	size_t n;
	int r;

	dp_keypair_wipe(&s->kp);
	dp_keypair_new(&s->kp);
	memset(&rq, 0, sizeof(rq));
	memcpy(rq.session_id, s->sid, SR_SID_LEN);
	sr_ticket_side(&s->ticket, SR_SIDE_B, &rq.ticket);
	memcpy(rq.client_pk, s->kp.pk, DP_PK_LEN);
	rq.aead_mask = (uint8_t)dp_aead_supported();
	r = sess_resume_encode(&rq, buf, sizeof(buf), &n);
	if (r == 0)
		r = ep_notify(s->c->ep, s->device, MSG_SESSION_RESUME, buf, n, CLI_REQUEST_TTL,
			      request_done, token_for(s));
	sodium_memzero(&rq, sizeof(rq));
	sodium_memzero(buf, sizeof(buf));
	if (r < 0)
		log_msg(PL_LOG_WARN, "session %.8s: cannot send the resume request", s->hex);
	step(s, CS_RESUME_ANSWER, CLI_ANSWER_TIMEOUT);
}

static void on_resumed(struct csess *s, const struct envelope *env)
{
	struct sr_session_params sp;
	struct sess_resumed rs;

	if (!sess_resumed_decode(env->payload, env->payload_len, &rs) || rs.status != SESS_OK) {
		csess_done(s, CTL_HOP_DEVICE_ANSWER, "%s could not resume the session", s->device);
		return;
	}
	if (!(dp_aead_supported() & (1u << rs.aead)) ||
	    make_params(s, rs.device_pk, rs.aead, &sp) < 0 || open_path(s, &sp) < 0) {
		csess_done(s, CTL_HOP_TUNNEL, "cannot restart the relay path");
		return;
	}
	step(s, CS_PATH, CLI_PATH_TIMEOUT);
}

static void on_ticket(struct csess *s, const struct envelope *env)
{
	struct sess_request rq;
	uint8_t buf[SESS_REQUEST_MAX];
	size_t n;
	int r;

	sr_ticket_wipe(&s->ticket);
	if (!sr_ticket_decode(env->payload, env->payload_len, &s->ticket)) {
		csess_done(s, CTL_HOP_SR, "malformed ticket from %s", s->relay);
		return;
	}
	note_rtt(s->c, s->relay, (ep_now(s->c->ep) - s->asked) * 1000);
	if (s->ticket.status != SR_TK_OK) {
		csess_done(s, CTL_HOP_SR, "%s refused: %s", s->relay, s->ticket.reason);
		return;
	}
	if (s->state == CS_RESUME_TICKET) {
		send_resume(s);
		return;
	}
	memcpy(s->sid, s->ticket.session_id, SR_SID_LEN);
	ep_sid_hex(s->sid, s->hex);
	dp_keypair_new(&s->kp);
	memset(&rq, 0, sizeof(rq));
	memcpy(rq.session_id, s->sid, SR_SID_LEN);
	sr_ticket_side(&s->ticket, SR_SIDE_B, &rq.ticket);
	memcpy(rq.client_pk, s->kp.pk, DP_PK_LEN);
	rq.aead_mask = (uint8_t)dp_aead_supported();
	snprintf(rq.user, sizeof(rq.user), "%s", s->user);
	r = sess_request_encode(&rq, buf, sizeof(buf), &n);
	if (r == 0)
		r = ep_notify(s->c->ep, s->device, MSG_SESSION_REQUEST, buf, n, CLI_REQUEST_TTL,
			      request_done, token_for(s));
	sess_request_wipe(&rq);
	sodium_memzero(buf, sizeof(buf));
	if (r < 0) {
		csess_done(s, CTL_HOP_HOME, "cannot send the session request: %s", strerror(-r));
		return;
	}
	step(s, CS_ANSWER, CLI_ANSWER_TIMEOUT);
	progress(s, CTL_HOP_DEVICE_ANSWER, "waiting for the device's answer");
	show_device_key(s);
}

static void device_key_cb(void *arg, int err, const struct pubkeys *pk)
{
	struct csess *s = token_take(arg);
	char fpr[ID_FPR_BUF], text[CTL_TEXT_BUF];

	if (!s || err || !pk)
		return;
	identity_fingerprint(pk, fpr);
	snprintf(text, sizeof(text),
		 "%s's key is %s (pinned in known_identities; compare with 'portless whoami' "
		 "there)",
		 s->device, fpr);
	progress(s, CTL_HOP_DEVICE_ANSWER, text);
}

/* Tell the user which key the device has, as pinned (first contact included). */
static void show_device_key(struct csess *s)
{
	const struct ep_sys *sys = s->c->ep->sys;
	struct reqtok *t;

	if (!sys->get_keys || !(t = token_for(s)))
		return;
	if (sys->get_keys(s->c->ep->cp, s->device, device_key_cb, t) < 0)
		t->busy = false;
}

/* A ticket is for the oldest session waiting on that relay (tickets are interchangeable). */
static struct csess *ticket_waiter(struct clirole *c, const char *relay)
{
	for (struct csess *s = c->sessions; s; s = s->next)
		if ((s->state == CS_TICKET || s->state == CS_RESUME_TICKET) &&
		    !strcmp(s->relay, relay))
			return s;
	return NULL;
}

static struct csess *find_sid(struct clirole *c, const uint8_t sid[SR_SID_LEN])
{
	for (struct csess *s = c->sessions; s; s = s->next)
		if (s->state >= CS_ANSWER && !memcmp(s->sid, sid, SR_SID_LEN))
			return s;
	return NULL;
}

static bool is_mine(uint16_t type)
{
	return type == MSG_SR_TICKET || type == MSG_SESSION_ANSWER || type == MSG_SESSION_RESUMED ||
	       type == MSG_SESSION_END;
}

static bool on_notification(void *role, const struct envelope *env)
{
	struct clirole *c = role;
	struct csess *s;
	uint8_t sid[SR_SID_LEN];

	if (!is_mine(env->type))
		return false;
	if (env->type == MSG_SR_TICKET) {
		s = ticket_waiter(c, env->from);
		if (s)
			on_ticket(s, env);
		return true;
	}
	if (env->payload_len < 1 + SR_SID_LEN)
		return true;
	memcpy(sid, env->payload + 1, SR_SID_LEN); /* answer and end: version, then the id */
	s = find_sid(c, sid);
	if (!s || strcmp(s->device, env->from) != 0)
		return true;
	if (env->type == MSG_SESSION_ANSWER && s->state == CS_ANSWER)
		on_answer(s, env);
	else if (env->type == MSG_SESSION_RESUMED && s->state == CS_RESUME_ANSWER)
		on_resumed(s, env);
	else if (env->type == MSG_SESSION_END) {
		struct sess_end e;

		csess_done(s, CTL_HOP_NONE, "%s ended the session (%s)", s->device,
			   sess_end_decode(env->payload, env->payload_len, &e)
			       ? sess_end_reason_str(e.reason)
			       : "?");
	}
	return true;
}

/* The relay's home took (or refused) our ticket request. */
static void sr_request_done(void *arg, int err, const char *msg)
{
	struct csess *s = token_take(arg);

	if (!s || s->state != CS_TICKET) {
		if (err)
			log_msg(PL_LOG_WARN, "ticket request not delivered: %s", msg);
		return;
	}
	if (err) {
		char what[HANDLE_BUF + 32];

		if (next_relay(s, err == CP_E_UNKNOWN_IDENTITY ? "is unknown" : cp_strerror(err)))
			return;
		snprintf(what, sizeof(what), "ticket request to %s", s->relay);
		if (err == CP_E_UNKNOWN_IDENTITY)
			csess_done(s, CTL_HOP_SR, "unknown relay %s", s->relay);
		else
			request_failed(s, err, what, msg);
		return;
	}
	if (msg == cp_msg_offline && !next_relay(s, "is not connected to its home")) {
		s->relay_offline = true;
		progress(s, CTL_HOP_SR, "the relay is not connected to its home; waiting");
	}
}

/* The next relay of [client] sr, in order, wrapping around. False when there is no other. */
static bool rotate_relay(struct csess *s)
{
	const struct pdconf *conf = s->c->ep->conf;
	size_t i = 0;

	if (s->relay_pinned || conf->n_sr < 2)
		return false;
	while (i < conf->n_sr && strcmp(conf->sr[i], s->relay))
		i++;
	snprintf(s->relay, sizeof(s->relay), "%s", conf->sr[(i + 1) % conf->n_sr]);
	return true;
}

/*
 * A set-up's relay failed (@p why): ask the next one of [client] sr, each
 * once. True when a request went out to another relay.
 */
static bool next_relay(struct csess *s, const char *why)
{
	char old[HANDLE_BUF], text[CTL_TEXT_BUF];

	if (++s->relays_tried >= s->c->ep->conf->n_sr || s->state != CS_TICKET)
		return false;
	snprintf(old, sizeof(old), "%s", s->relay);
	note_rtt(s->c, old, CLI_TICKET_TIMEOUT * 1000.0); /* it failed: ask it last next time */
	if (!rotate_relay(s))
		return false;
	s->relay_offline = false;
	log_msg(PL_LOG_INFO, "session to %s: relay %s %s; asking %s", s->device, old, why,
		s->relay);
	snprintf(text, sizeof(text), "relay %s %s; asking %s", old, why, s->relay);
	progress(s, CTL_HOP_SR, text);
	step(s, CS_TICKET, CLI_TICKET_TIMEOUT);
	return request_ticket(s) == 0;
}

static int relay_index(const struct clirole *c, const char *relay)
{
	const struct pdconf *conf = c->ep->conf;

	for (size_t i = 0; i < conf->n_sr; i++)
		if (!strcmp(conf->sr[i], relay))
			return (int)i;
	return -1;
}

/* A ticket's round trip (request to ticket, through both homes and the relay): smoothed. */
static void note_rtt(struct clirole *c, const char *relay, double ms)
{
	int i = relay_index(c, relay);

	if (i >= 0 && ms >= 0)
		c->rtt[i] = c->rtt[i] > 0 ? 0.75 * c->rtt[i] + 0.25 * ms : ms;
}

/*
 * The relay a new session asks first: the lowest measured round trip; a relay
 * not measured yet counts as the best (so each gets measured once), config
 * order among equals.
 */
static const char *first_relay(const struct clirole *c)
{
	const struct pdconf *conf = c->ep->conf;
	size_t best = 0;

	for (size_t i = 1; i < conf->n_sr; i++)
		if (c->rtt[i] < c->rtt[best])
			best = i;
	return conf->sr[best];
}

/* Ask the relay for a ticket (answered with MSG_SR_TICKET). */
static int request_ticket(struct csess *s)
{
	struct sr_request rq = {0};
	uint8_t buf[SR_REQ_MAX];
	size_t n;
	int r;

	snprintf(rq.peer, sizeof(rq.peer), "%s", s->device);
	s->asked = ep_now(s->c->ep);
	r = sr_request_encode(&rq, buf, sizeof(buf), &n);
	if (r == 0)
		r = ep_notify(s->c->ep, s->relay, MSG_SR_REQUEST, buf, n, CLI_TICKET_TIMEOUT,
			      sr_request_done, token_for(s));
	return r;
}

struct csess *clirole_up(struct clirole *c, const char *device, const char *user, uid_t owner,
			 const char *relay, const struct clirole_cbs *cb)
{
	const struct pdconf *conf = c->ep->conf;
	struct csess *s, **tail;

	if (!handle_valid(device) || !sess_user_valid(user) || conf->n_sr == 0 ||
	    (relay && relay[0] && !is_relay(c, relay)))
		return NULL;
	s = calloc(1, sizeof(*s));
	if (s)
		s->seq = ++c->next_seq;
	if (!s)
		return NULL;
	s->c = c;
	s->cb = *cb;
	s->owner = owner;
	snprintf(s->device, sizeof(s->device), "%s", device);
	snprintf(s->user, sizeof(s->user), "%s", user);
	snprintf(s->relay, sizeof(s->relay), "%s", relay && relay[0] ? relay : first_relay(c));
	s->relay_pinned = relay && relay[0];
	s->start = ep_now(c->ep);
	dpath_sess_init(&s->dps, &c->ep->dp, &c->ci.tun, admit, s);
	ev_init(&s->step_w, step_timeout);
	for (tail = &c->sessions; *tail; tail = &(*tail)->next)
		;
	*tail = s;
	step(s, CS_TICKET, CLI_TICKET_TIMEOUT);
	if (request_ticket(s) < 0) {
		csess_free(s);
		return NULL;
	}
	progress(s, c->ep->cp_up ? CTL_HOP_SR : CTL_HOP_HOME,
		 c->ep->cp_up ? "asking the relay for a ticket"
			      : "waiting for the control plane, then the relay");
	return s;
}

void clirole_down(struct csess *s)
{
	if (s->state >= CS_ANSWER)
		tell_device_end(s);
	csess_free(s);
}

unsigned clirole_down_target(struct clirole *c, const char *target)
{
	unsigned n = 0;
	struct csess *s = c->sessions, *next;

	for (; s; s = next) {
		next = s->next;
		if (!strcmp(s->device, target) || !strcmp(s->hex, target)) {
			csess_done(s, CTL_HOP_NONE, "ended by portless down");
			n++;
		}
	}
	return n;
}

size_t clirole_status_of(const struct clirole *c, uid_t owner, struct ctl_row *rows, size_t max)
{
	size_t n = 0;

	for (const struct csess *s = c->sessions; s && n < max; s = s->next) {
		struct ctl_row *r = &rows[n];

		if (owner != (uid_t)-1 && s->owner != owner)
			continue;
		n++;
		memset(r, 0, sizeof(*r));
		memcpy(r->sid, s->sid, SR_SID_LEN);
		r->role = CTL_ROLE_CLIENT;
		r->state = s->state == CS_UP ? CTL_STATE_UP : CTL_STATE_SETUP;
		r->transport = s->dps.transport == SR_TR_UDP   ? CTL_TRANSPORT_UDP
			       : s->dps.transport == SR_TR_TCP ? CTL_TRANSPORT_TCP
							       : CTL_TRANSPORT_NONE;
		snprintf(r->peer, sizeof(r->peer), "%s", s->device);
		snprintf(r->user, sizeof(r->user), "%s", s->user);
		snprintf(r->device_ip, sizeof(r->device_ip), "%s", s->dev_ip);
		snprintf(r->client_ip, sizeof(r->client_ip), "%s", s->cli_ip);
		r->bytes_in = s->dps.bytes_in;
		r->bytes_out = s->dps.bytes_out;
		r->age = (uint32_t)(ep_now(c->ep) - s->start);
		r->dropped = s->mem.dropped;
		snprintf(r->relay, sizeof(r->relay), "%s", s->relay);
	}
	return n;
}

static size_t status(const void *role, struct ctl_row *rows, size_t max)
{
	return clirole_status_of(role, (uid_t)-1, rows, max);
}

static bool is_relay(const struct clirole *c, const char *handle)
{
	const struct pdconf *conf = c->ep->conf;

	for (size_t i = 0; i < conf->n_sr; i++)
		if (!strcmp(conf->sr[i], handle))
			return true;
	return false;
}

static bool has_device(const struct clirole *c, const char *handle)
{
	for (const struct csess *s = c->sessions; s; s = s->next)
		if (!strcmp(s->device, handle))
			return true;
	return false;
}

/* Tickets from our relays; answers and ends from devices we have sessions with. */
static bool accepts(const void *role, const char *from, uint16_t type)
{
	const struct clirole *c = role;

	if (type == MSG_SR_TICKET)
		return is_relay(c, from);
	return (type == MSG_SESSION_ANSWER || type == MSG_SESSION_RESUMED ||
		type == MSG_SESSION_END) &&
	       has_device(c, from);
}

/* Keys of our relays and of the devices our users asked for, nothing else. */
static int wants_keys(const void *role, const char *handle, char fpr[ID_FPR_BUF], bool *have_fpr)
{
	const struct clirole *c = role;

	return is_relay(c, handle) || has_device(c, handle) ? 0 : -EPERM;
}

static void on_revoked(void *role, const char *handle)
{
	struct clirole *c = role;

	for (struct csess *s = c->sessions, *next; s; s = next) {
		next = s->next;
		if (!strcmp(s->device, handle))
			csess_done(s, CTL_HOP_DIRECTORY, "%s was revoked", handle);
	}
}

static void peers(const void *role, void (*each)(void *arg, const char *handle), void *arg)
{
	const struct clirole *c = role;

	for (const struct csess *s = c->sessions; s; s = s->next)
		each(arg, s->device);
}

static const struct ep_role_ops client_ops = {
    .name = "client",
    .on_notification = on_notification,
    .on_vanished = on_vanished,
    .on_underlay = on_underlay,
    .status = status,
    .accepts = accepts,
    .wants_keys = wants_keys,
    .on_revoked = on_revoked,
    .peers = peers,
};

struct tun_dev *clirole_tun(const struct clirole *c)
{
	return c->ci.tun;
}

void clirole_free(struct clirole *c)
{
	if (!c)
		return;
	while (c->sessions)
		clirole_down(c->sessions);
	for (int i = 0; i < CLI_TOKENS; i++) /* completions still due find no role */
		if (tokens[i].c == c)
			tokens[i].c = NULL;
	ep_set_role(c->ep, EP_ROLE_CLIENT, NULL, NULL);
	free(c);
}
