/* SPDX-License-Identifier: MIT */
#include "clirole.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "msgtypes.h"
#include "net.h"
#include "sr_client.h"
#include "tun.h"

enum {
	CLI_TICKET_TIMEOUT = 10, /**< s for the SR's ticket */
	CLI_ANSWER_TIMEOUT = 15, /**< s for the device's answer */
	CLI_PATH_TIMEOUT = 15,   /**< s for the relay path to pair */
	CLI_REQUEST_TTL = 30,    /**< s a session request may wait in the device's queue */
	CLI_PKT_BUF = SR_HEADROOM + TUN_MAX_PACKET + SR_TAILROOM,
	CLI_READS_PER_WAKEUP = 64,
	CLI_RESUME_GRACE = 55, /**< s to re-establish a lost relay path (device waits 60) */
	CLI_OFFLINE_GRACE = 5, /**< s to wait for a device its home says is not connected */
	CLI_TOKENS = 64,       /**< control-plane requests whose outcome a session awaits */
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
	struct tun_dev *tun;
	int ifindex;
	bool tun_ready;  /* configured (ifup ran): ifdown runs before it goes */
	struct ep_rx rx; /* received packets into the TUN (merged over UDP) */
	ev_io tun_w;
	ev_timer step_w;
	struct sr_client *sr;
	int transport;
	bool was_ready;      /* READY was reported: later path changes are resumes */
	bool relay_offline;  /* the relay's home queued our ticket request: not connected */
	bool dev_offline;    /* the device's home queued our request: not connected */
	uint64_t seq;        /* for request outcomes (struct reqtok) */
	double resume_until; /* give up re-establishing the path after this */
	double start;
	uint64_t bytes_in, bytes_out;
	char dev_ip[INET6_ADDRSTRLEN], cli_ip[INET6_ADDRSTRLEN];
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
	uint8_t *buf;
	uint64_t next_seq;
	struct reqtok tok[CLI_TOKENS];
};

int clirole_new(struct ep *ep, struct clirole **out)
{
	struct clirole *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->ep = ep;
	c->buf = malloc(CLI_PKT_BUF);
	if (!c->buf) {
		free(c);
		return -ENOMEM;
	}
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
	    cp_client_notify(s->c->ep->cp, s->device, MSG_SESSION_END, buf, n, 60, sent_cb, NULL) <
		0)
		log_msg(PL_LOG_WARN, "session %.8s: cannot tell %s it ended", s->hex, s->device);
}

/* The site's ifup/ifdown for this session's interface. */
static void run_ifscript(struct csess *s, const char *phase)
{
	char a4[INET6_ADDRSTRLEN + 4];
	struct ifscript_env e = {
	    .ifname = tun_name(s->tun),
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
	if (s->sr)
		sr_client_close_reason(s->sr, SESS_END_CLOSED);
	sr_client_free(s->sr);
	if (s->tun) {
		ev_io_stop(loop, &s->tun_w);
		ep_unwatch(c->ep, tun_name(s->tun));
		if (s->tun_ready)
			run_ifscript(s, "down");
		tun_close(s->tun); /* the kernel removes the interface, its addresses and routes */
	}
	for (struct csess **pp = &c->sessions; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	ep_rx_free(&s->rx);
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

static void step_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct csess *s = container_of(w, struct csess, step_w);

	if (s->was_ready) {
		if (ev_now(loop) < s->resume_until) {
			begin_resume(s); /* ask again: the relay may be back by now */
			return;
		}
		csess_done(s, CTL_HOP_SR, "relay path lost and not re-established within %d s",
			   CLI_RESUME_GRACE);
		return;
	}
	switch (s->state) {
	case CS_TICKET:
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

/* ---- data path ---- */

/*
 * Hand one packet read from the TUN to the relay path. A TCP super-packet
 * (TUN offload) goes whole when the transport carries it (TCP: one seal,
 * one frame) after its checksum is completed; over UDP it is cut into
 * MTU-sized segments in cli_train and sent with UDP GSO. 0 when sent.
 */
static uint8_t cli_train[SR_TRAIN_SEGS * (SR_UDP_PLAIN_MAX + SR_DP_OVERHEAD)];

static int send_tun_pkt(struct sr_client *sr, struct pkt *p, const struct tun_gso *g)
{
	const uint8_t *d = pkt_data(p);
	int n, hl, r = 0;
	size_t seg, stride;

	if (g->type == GSO_NONE)
		return sr_client_send(sr, p);
	if (p->len <= sr_client_mtu(sr)) {
		if (g->needs_csum &&
		    gso_csum_finish(pkt_data(p), p->len, g->csum_start, g->csum_offset) < 0)
			return -EINVAL;
		return sr_client_send(sr, p);
	}
	n = gso_count(d, p->len, g);
	hl = gso_hdr_len(d, p->len, g);
	if (n < 0 || hl < 0)
		return -EINVAL;
	seg = (size_t)hl + g->size;
	stride = seg + SR_DP_OVERHEAD;
	if (seg > SR_UDP_PLAIN_MAX)
		return -EMSGSIZE;
	/* Segments laid out so that sealing in place makes back-to-back datagrams. */
	for (int i = 0; i < n && r == 0; i += SR_TRAIN_SEGS) {
		int k = n - i < SR_TRAIN_SEGS ? n - i : SR_TRAIN_SEGS;
		ssize_t l = 0;

		for (int j = 0; j < k; j++) {
			l = gso_segment(d, p->len, g, i + j,
					cli_train + (size_t)j * stride + SR_DP_HDR, seg);
			if (l < 0)
				return (int)l;
		}
		r = sr_client_send_train(sr, cli_train, seg, (size_t)l, k);
	}
	return r;
}

static void tun_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct csess *s = container_of(w, struct csess, tun_w);
	uint8_t *buf = s->c->buf;
	struct tun_gso g;
	struct pkt p;

	for (int i = 0; i < CLI_READS_PER_WAKEUP; i++) {
		pkt_init(&p, buf, CLI_PKT_BUF - SR_TAILROOM, SR_HEADROOM);
		ssize_t n = tun_read_gso(s->tun, &p, &g);

		if (n == -EAGAIN)
			break;
		if (ep_tun_gone(n)) {
			csess_done(s, CTL_HOP_TUNNEL, "interface %s went away (%s)",
				   tun_name(s->tun), strerror((int)-n));
			return;
		}
		if (n < 0 || !s->sr)
			continue;
		p.cap = CLI_PKT_BUF;
		if (send_tun_pkt(s->sr, &p, &g) == 0)
			s->bytes_out += (uint64_t)n;
	}
}

static void sr_up(void *arg, int transport)
{
	struct csess *s = arg;
	const struct sess_answer *a = s->ans;
	struct clirole_ready r = {
	    .sid = s->sid,
	    .device = s->device,
	    .device_ip = s->dev_ip,
	    .client_ip = s->cli_ip,
	    .user = a->user,
	    .sshkey = a->sshkey,
	    .hostkeys = a->hostkeys,
	    .ifname = tun_name(s->tun),
	    .transport = transport,
	};

	s->transport = transport;
	/* TCP super-packets from now on (tun_cb cuts them for UDP). */
	if (!tun_offloading(s->tun) && tun_set_offload(s->tun) < 0)
		log_msg(PL_LOG_DEBUG, "%s: no TUN offload; one packet per read", tun_name(s->tun));
	step(s, CS_UP, 0);
	if (s->was_ready) {
		log_msg(PL_LOG_INFO, "session %.8s to %s resumed over %s after %.0f ms", s->hex,
			s->device, transport == SR_TR_UDP ? "UDP" : "TCP",
			(ev_now(s->c->ep->loop) - (s->resume_until - CLI_RESUME_GRACE)) * 1000);
		return;
	}
	s->was_ready = true;
	log_msg(PL_LOG_INFO, "session %.8s to %s up: %s -> %s on %s over %s (%.0f ms)", s->hex,
		s->device, s->cli_ip, s->dev_ip, tun_name(s->tun),
		transport == SR_TR_UDP ? "UDP" : "TCP", (ev_now(s->c->ep->loop) - s->start) * 1000);
	if (s->cb.ready)
		s->cb.ready(s->cb.arg, &r);
}

static void sr_packet(void *arg, struct pkt *p)
{
	struct csess *s = arg;

	s->bytes_in += p->len;
	if (ep_rx_packet(s->c->ep, &s->rx, s->tun, s->transport, p) < 0)
		log_msg(PL_LOG_DEBUG, "session %.8s: TUN write failed", s->hex);
}

static void sr_rx_done(void *arg)
{
	struct csess *s = arg;

	ep_rx_flush(&s->rx, s->tun);
}

static void sr_down(void *arg, int reason, const char *msg)
{
	struct csess *s = arg;
	uint8_t why = reason == SR_DOWN_CLOSED ? sr_client_peer_close_reason(s->sr) : 0;

	sr_client_free(s->sr);
	s->sr = NULL;
	if (s->was_ready && reason != SR_DOWN_CLOSED) {
		/* Keep TUN and addresses: re-rendezvous, and the SSH connection lives on. */
		double now = ev_now(s->c->ep->loop);

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

static int open_tun(struct csess *s, char *why, size_t cap)
{
	struct netcfg *nc = s->c->ep->nc;
	const struct sess_answer *a = s->ans;
	struct ipaddr c4, d4, c6, d6;
	int r;

	ipaddr_from_bytes(&c4, AF_INET, &a->client_v4, 32);
	ipaddr_from_bytes(&d4, AF_INET, &a->device_v4, 32);
	ipaddr_from_bytes(&c6, AF_INET6, &a->client_v6, 128);
	ipaddr_from_bytes(&d6, AF_INET6, &a->device_v6, 128);
	inet_ntop(AF_INET, &a->device_v4, s->dev_ip, sizeof(s->dev_ip));
	inet_ntop(AF_INET, &a->client_v4, s->cli_ip, sizeof(s->cli_ip));
	r = tun_open(NULL, &s->tun);
	if (r < 0) {
		snprintf(why, cap, "cannot create a TUN interface: %s", strerror(-r));
		return r;
	}
	s->ifindex = netcfg_ifindex(nc, tun_name(s->tun));
	r = s->ifindex < 0 ? s->ifindex : 0;
	if (r == 0)
		r = netcfg_link_set_mtu(nc, s->ifindex, a->mtu);
	if (r == 0)
		r = netcfg_link_no_ipv6_ll(nc, s->ifindex);
	/* Our addresses, then host routes to the device's (with ours as source). */
	if (r == 0)
		r = netcfg_addr_add(nc, s->ifindex, &c4, NULL);
	if (r == 0)
		r = netcfg_addr_add(nc, s->ifindex, &c6, NULL);
	if (r == 0)
		r = netcfg_link_set_up(nc, s->ifindex, true);
	if (r == 0)
		r = netcfg_route_add(nc, s->ifindex, &d4, &c4);
	if (r == 0)
		r = netcfg_route_add(nc, s->ifindex, &d6, &c6);
	if (r < 0) {
		snprintf(why, cap, "%s: %s", tun_name(s->tun), netcfg_error(nc));
		return r;
	}
	ev_io_init(&s->tun_w, tun_cb, tun_fd(s->tun), EV_READ);
	ev_io_start(s->c->ep->loop, &s->tun_w);
	ep_watch(s->c->ep, tun_name(s->tun));
	s->tun_ready = true;
	run_ifscript(s, "up");
	return 0;
}

void clirole_on_vanished(struct clirole *c, int ifindex)
{
	for (struct csess *s = c->sessions; s; s = s->next)
		if (s->tun && s->ifindex == ifindex) {
			csess_done(s, CTL_HOP_TUNNEL, "interface %s was deleted", tun_name(s->tun));
			return;
		}
}

void clirole_on_underlay(struct clirole *c)
{
	for (struct csess *s = c->sessions; s; s = s->next)
		if (s->sr && sr_client_transport(s->sr) == SR_TR_UDP && sr_client_rebind(s->sr) < 0)
			log_msg(PL_LOG_DEBUG, "session %.8s: re-bind failed", s->hex);
}

/* Derive our keys for the current ticket's SR session and join it as side A. */
static int open_path(struct csess *s, const uint8_t device_pk[DP_PK_LEN], uint8_t aead)
{
	struct sr_session_params sp;
	struct sr_client_cbs cb = {.on_up = sr_up,
				   .on_packet = sr_packet,
				   .on_down = sr_down,
				   .on_rx_done = sr_rx_done,
				   .arg = s};
	struct dp_transcript t;
	int r;

	memset(&sp, 0, sizeof(sp));
	memset(&t, 0, sizeof(t));
	memcpy(t.session_id, s->ticket.session_id, SR_SID_LEN);
	t.handle_a = ep_handle(s->c->ep);
	t.handle_b = s->device;
	memcpy(t.pk_a, s->kp.pk, DP_PK_LEN);
	memcpy(t.pk_b, device_pk, DP_PK_LEN);
	t.aead = aead;
	r = dp_derive(&s->kp, SR_SIDE_A, &t, &sp.keys);
	if (r == 0) {
		sr_ticket_side(&s->ticket, SR_SIDE_A, &sp.ticket);
		ep_dp_limits(s->c->ep, &sp.limits);
		s->sr = sr_client_new(s->c->ep->loop, &sp, &cb);
		r = s->sr ? 0 : -ENOMEM;
	}
	sodium_memzero(&sp, sizeof(sp));
	dp_keypair_wipe(&s->kp);
	return r;
}

static void on_answer(struct csess *s, const struct envelope *env)
{
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
	if (open_tun(s, why, sizeof(why)) < 0) {
		csess_done(s, CTL_HOP_TUNNEL, "%s", why);
		return;
	}
	if (open_path(s, s->ans->device_pk, s->ans->aead) < 0) {
		csess_done(s, CTL_HOP_TUNNEL, "cannot start the relay path");
		return;
	}
	step(s, CS_PATH, CLI_PATH_TIMEOUT);
}

static struct reqtok *token_for(struct csess *s)
{
	for (int i = 0; i < CLI_TOKENS; i++) {
		struct reqtok *t = &s->c->tok[i];

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
	sr_client_free(s->sr);
	s->sr = NULL;
	s->transport = 0;
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
		r = cp_client_notify(s->c->ep->cp, s->device, MSG_SESSION_RESUME, buf, n,
				     CLI_REQUEST_TTL, request_done, token_for(s));
	sodium_memzero(&rq, sizeof(rq));
	sodium_memzero(buf, sizeof(buf));
	if (r < 0)
		log_msg(PL_LOG_WARN, "session %.8s: cannot send the resume request", s->hex);
	step(s, CS_RESUME_ANSWER, CLI_ANSWER_TIMEOUT);
}

static void on_resumed(struct csess *s, const struct envelope *env)
{
	struct sess_resumed rs;

	if (!sess_resumed_decode(env->payload, env->payload_len, &rs) || rs.status != SESS_OK) {
		csess_done(s, CTL_HOP_DEVICE_ANSWER, "%s could not resume the session", s->device);
		return;
	}
	if (!(dp_aead_supported() & (1u << rs.aead)) || open_path(s, rs.device_pk, rs.aead) < 0) {
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
		r = cp_client_notify(s->c->ep->cp, s->device, MSG_SESSION_REQUEST, buf, n,
				     CLI_REQUEST_TTL, request_done, token_for(s));
	sess_request_wipe(&rq);
	sodium_memzero(buf, sizeof(buf));
	if (r < 0) {
		csess_done(s, CTL_HOP_HOME, "cannot send the session request: %s", strerror(-r));
		return;
	}
	step(s, CS_ANSWER, CLI_ANSWER_TIMEOUT);
	progress(s, CTL_HOP_DEVICE_ANSWER, "waiting for the device's answer");
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

void clirole_on_notification(struct clirole *c, const struct envelope *env)
{
	struct csess *s;
	uint8_t sid[SR_SID_LEN];

	if (env->type == MSG_SR_TICKET) {
		s = ticket_waiter(c, env->from);
		if (s)
			on_ticket(s, env);
		return;
	}
	if (env->payload_len < 1 + SR_SID_LEN)
		return;
	memcpy(sid, env->payload + 1, SR_SID_LEN); /* answer and end: version, then the id */
	s = find_sid(c, sid);
	if (!s || strcmp(s->device, env->from) != 0)
		return;
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

		snprintf(what, sizeof(what), "ticket request to %s", s->relay);
		if (err == CP_E_UNKNOWN_IDENTITY)
			csess_done(s, CTL_HOP_SR, "unknown relay %s", s->relay);
		else
			request_failed(s, err, what, msg);
		return;
	}
	if (msg == cp_msg_offline) {
		s->relay_offline = true;
		progress(s, CTL_HOP_SR, "the relay is not connected to its home; waiting");
	}
}

/* Ask the relay for a ticket (answered with MSG_SR_TICKET). */
static int request_ticket(struct csess *s)
{
	struct sr_request rq = {0};
	uint8_t buf[SR_REQ_MAX];
	size_t n;
	int r;

	snprintf(rq.peer, sizeof(rq.peer), "%s", s->device);
	r = sr_request_encode(&rq, buf, sizeof(buf), &n);
	if (r == 0)
		r = cp_client_notify(s->c->ep->cp, s->relay, MSG_SR_REQUEST, buf, n,
				     CLI_TICKET_TIMEOUT, sr_request_done, token_for(s));
	return r;
}

struct csess *clirole_up(struct clirole *c, const char *device, const char *user,
			 const struct clirole_cbs *cb)
{
	const struct pdconf *conf = c->ep->conf;
	struct csess *s, **tail;

	if (!handle_valid(device) || !sess_user_valid(user) || conf->n_sr == 0)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (s)
		s->seq = ++c->next_seq;
	if (!s)
		return NULL;
	s->c = c;
	s->cb = *cb;
	snprintf(s->device, sizeof(s->device), "%s", device);
	snprintf(s->user, sizeof(s->user), "%s", user);
	snprintf(s->relay, sizeof(s->relay), "%s", conf->sr[0]);
	s->start = ev_now(c->ep->loop);
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

size_t clirole_status(const struct clirole *c, struct ctl_row *rows, size_t max)
{
	size_t n = 0;

	for (const struct csess *s = c->sessions; s && n < max; s = s->next, n++) {
		struct ctl_row *r = &rows[n];

		memset(r, 0, sizeof(*r));
		memcpy(r->sid, s->sid, SR_SID_LEN);
		r->role = CTL_ROLE_CLIENT;
		r->state = s->state == CS_UP ? CTL_STATE_UP : CTL_STATE_SETUP;
		r->transport = s->transport == SR_TR_UDP   ? CTL_TRANSPORT_UDP
			       : s->transport == SR_TR_TCP ? CTL_TRANSPORT_TCP
							   : CTL_TRANSPORT_NONE;
		snprintf(r->peer, sizeof(r->peer), "%s", s->device);
		snprintf(r->user, sizeof(r->user), "%s", s->user);
		snprintf(r->device_ip, sizeof(r->device_ip), "%s", s->dev_ip);
		snprintf(r->client_ip, sizeof(r->client_ip), "%s", s->cli_ip);
		r->bytes_in = s->bytes_in;
		r->bytes_out = s->bytes_out;
		r->age = (uint32_t)(ev_now(c->ep->loop) - s->start);
	}
	return n;
}

void clirole_free(struct clirole *c)
{
	if (!c)
		return;
	while (c->sessions)
		clirole_down(c->sessions);
	free(c->buf);
	free(c);
}
