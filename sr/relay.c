/* SPDX-License-Identifier: MIT */
#include "relay.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "net.h"
#include "relay_auth.h"
#include "relay_roam.h"
#include "relay_table.h"
#include "udp_gso.h"
#include "wire.h"

enum {
	BATCH = 32,            /* datagrams per recvmmsg */
	BATCHES_PER_WAKE = 16, /* fairness towards the TCP side */
	UDP_BUF = 2048,        /* > SR_UDP_MAX: a longer datagram is truncated and dropped */
	GRO_BUF = 65536,       /* one UDP_GRO read: a train of same-size datagrams */
	TRAIN_SEGS = 64,       /* datagrams per UDP_SEGMENT send (UDP_MAX_SEGMENTS) */
	TRAIN_BYTES = 61440,   /* bytes per UDP_SEGMENT send */
	HS_IN_CAP = 256,       /* input buffer while handshaking */
	HS_TIMEOUT = 10,       /* s to authenticate a TCP connection */
	PAIRED_IN_CAP = SR_FRAME_HDR + SR_FRAME_MAX,
	SPLICE_PIPE = 1 << 18,  /* pipe size asked for per spliced direction */
	SPLICE_CHUNK = 1 << 18, /* most bytes one splice(2) moves */
	SPLICE_ROUNDS = 8,      /* socket->pipe->socket rounds per wake-up (fairness) */
	FD_SLACK = 64,          /* descriptors kept free for listeners, logs, the home */
};

struct rtcp;

/* A session: the I/O-free record and what the event loop needs around it. */
struct rsess {
	struct relay_sess rec; /* held by r->tab */
	ev_timer tm;           /* fires at the record's deadline */
	struct relay *r;
	struct rtcp *tcp[2]; /* a side's connection while it uses TCP */
	struct rsess *gnext; /* graveyard */
	bool dead;
	bool spliced; /* TCP<->TCP moved by splice(2) */
};

struct rtcp {
	struct conn c;
	ev_timer hs;
	double hs_deadline; /* relay clock: unauthenticated until then at most */
	struct relay *r;
	struct rsess *s; /* after AUTH */
	struct sockaddr_storage addr;
	socklen_t alen;
	uint8_t side;
	bool authed;
	bool raw; /* paired with a TCP peer: bytes copied as they are */
	bool dead;
	/* Spliced (raw and both buffers empty): bytes from this side go
	 * socket -> pipe -> peer socket in the kernel, never through user space. */
	bool spliced;
	int pipe[2];  /* [0] read end, [1] write end; -1 when not spliced */
	size_t piped; /* bytes from this side waiting in the pipe */
	ev_io sp_in;  /* this socket readable: splice it into our pipe */
	ev_io sp_out; /* this socket writable: drain the peer's pipe into it */
	struct rtcp *prev, *next;
};

struct relay {
	struct ev_loop *loop;
	struct relay_cfg cfg;
	struct relay_limits lim;
	struct sr_issuer *iss;
	struct relay_table *tab;
	int tfd, ufd;
	ev_io tw, uw;
	ev_prepare reaper;
	uint16_t tcp_port, udp_port;
	struct rtcp *conns; /* every live TCP connection */
	unsigned handshakes;
	struct rsess *dead_sess; /* freed at the next ev_prepare */
	struct rtcp *dead_tcp;
	struct relay_stats st;
	/* UDP batches */
	struct mmsghdr rmsg[BATCH], smsg[BATCH];
	struct iovec riov[BATCH], siov[BATCH];
	struct sockaddr_storage raddr[BATCH], saddr[BATCH];
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} rctl[BATCH], sctl[BATCH];
	uint16_t sseg[BATCH];    /* > 0: smsg[i] is a train of sseg-byte datagrams */
	bool gro;                /* UDP_GRO in, UDP_SEGMENT out */
	bool splice;             /* TCP<->TCP sessions spliced in the kernel */
	unsigned nfds, fd_limit; /* TCP sockets + splice pipes open; RLIMIT_NOFILE */
	uint8_t rbuf[BATCH][GRO_BUF];
	unsigned nsend;
};

static void try_splice(struct rtcp *t);

static const char *const side_name[2] = {"A", "B"};
static const char *const tr_name[3] = {"-", "udp", "tcp"};

void relay_cfg_default(struct relay_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->ticket_ttl = 30;
	c->unpaired_timeout = 30;
	c->idle_timeout = 300;
	c->max_sessions = 10000;
	c->max_per_identity = 64;
	c->max_handshakes = 1024;
	c->tcp_out_max = 1 << 20;
}

/* ---- the clock -------------------------------------------------------- */

static double clock_now(const struct relay *r)
{
	return r->cfg.clock.now ? r->cfg.clock.now(r->cfg.clock.arg) : ev_now(r->loop);
}

static uint64_t clock_unix(const struct relay *r)
{
	return r->cfg.clock.unix_now ? r->cfg.clock.unix_now(r->cfg.clock.arg) : net_unix_now();
}

static struct rsess *sess_of(struct relay_sess *rec)
{
	return rec ? container_of(rec, struct rsess, rec) : NULL;
}

/* ---- small senders ---------------------------------------------------- */

static void udp_flush(struct relay *r);

/* One datagram now; what udp_queue() holds goes first, so a side message
 * (an ERROR ending the session) never overtakes the data before it. */
static void udp_send(struct relay *r, const void *p, size_t n, const struct sockaddr_storage *to,
		     socklen_t tolen)
{
	if (r->nsend)
		udp_flush(r);
	if (sendto(r->ufd, p, n, MSG_DONTWAIT, (const struct sockaddr *)to, tolen) < 0)
		log_msg_errno(PL_LOG_DEBUG, errno, "udp send");
}

static int tcp_send_msg(struct rtcp *t, const uint8_t *msg, size_t n)
{
	uint8_t buf[SR_FRAME_HDR + SR_SIDE_MSG_MAX];

	if (n > sizeof(buf) - SR_FRAME_HDR)
		return -EINVAL;
	put_be32(buf, (uint32_t)n);
	memcpy(buf + SR_FRAME_HDR, msg, n);
	return conn_write(&t->c, buf, SR_FRAME_HDR + n);
}

/* Send a side message to @p side of @p s over whatever it uses. */
static void side_send(struct rsess *s, uint8_t side, const uint8_t *msg, size_t n)
{
	const struct relay_side *sd = &s->rec.side[side];

	if (sd->tr == SR_TR_UDP)
		udp_send(s->r, msg, n, &sd->addr, sd->alen);
	else if (sd->tr == SR_TR_TCP && s->tcp[side] && tcp_send_msg(s->tcp[side], msg, n) < 0)
		log_msg(PL_LOG_DEBUG, "tcp side message dropped");
}

static void side_welcome(struct rsess *s, uint8_t side)
{
	uint8_t msg[SR_WELCOME_LEN];

	side_send(s, side, msg, relay_sess_welcome(&s->rec, side, msg));
}

/* ---- TCP connection lifetime ------------------------------------------ */

static void tcp_kill(struct rtcp *t)
{
	struct relay *r = t->r;

	if (t->dead)
		return;
	t->dead = true;
	ev_timer_stop(r->loop, &t->hs);
	if (!t->authed)
		r->handshakes--;
	if (t->spliced) {
		ev_io_stop(r->loop, &t->sp_in);
		ev_io_stop(r->loop, &t->sp_out);
		close(t->pipe[0]);
		close(t->pipe[1]);
		r->nfds -= 2;
		t->spliced = false;
	}
	conn_close(&t->c);
	r->nfds--;
	if (t->prev)
		t->prev->next = t->next;
	else
		r->conns = t->next;
	if (t->next)
		t->next->prev = t->prev;
	t->next = r->dead_tcp;
	r->dead_tcp = t;
}

/* ---- session lifetime ------------------------------------------------- */

static void sid_short(const uint8_t *sid, char out[17])
{
	sodium_bin2hex(out, 17, sid, 8);
}

static void log_end(const struct rsess *s, const char *reason)
{
	const struct relay_sess *e = &s->rec;
	char id[17];

	sid_short(e->sid, id);
	log_msg(
	    PL_LOG_INFO,
	    "session %s end %s -> %s reason=%s duration=%.1fs A=%s B=%s%s A->B=%llu B/%llu pkts "
	    "B->A=%llu B/%llu pkts",
	    id, e->requester, e->peer[0] ? e->peer : "?", reason,
	    e->paired ? clock_now(s->r) - e->paired_at : 0.0, tr_name[e->side[0].tr],
	    tr_name[e->side[1].tr], s->spliced ? " spliced" : "",
	    (unsigned long long)e->side[0].bytes, (unsigned long long)e->side[0].pkts,
	    (unsigned long long)e->side[1].bytes, (unsigned long long)e->side[1].pkts);
}

/* End a session: tell the sides (@p err), close, log once, free later. */
static void sess_end(struct rsess *s, uint8_t err, const char *reason)
{
	struct relay *r = s->r;
	uint8_t msg[SR_ERROR_LEN];

	if (s->dead)
		return;
	s->dead = true;
	log_end(s, reason);
	ev_timer_stop(r->loop, &s->tm);
	for (uint8_t i = 0; i < 2; i++) {
		relay_sess_head(msg, SR_MSG_ERROR, i, err, s->rec.sid);
		side_send(s, i, msg, sizeof(msg));
		if (s->tcp[i]) {
			s->tcp[i]->s = NULL;
			tcp_kill(s->tcp[i]);
			s->tcp[i] = NULL;
		}
	}
	relay_table_remove(r->tab, &s->rec);
	r->st.active--;
	r->st.ended++;
	s->gnext = r->dead_sess;
	r->dead_sess = s;
}

static void reaper_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct relay *r = container_of(w, struct relay, reaper);

	while (r->dead_sess) {
		struct rsess *s = r->dead_sess;

		r->dead_sess = s->gnext;
		free(s);
	}
	while (r->dead_tcp) {
		struct rtcp *t = r->dead_tcp;

		r->dead_tcp = t->next;
		free(t);
	}
}

/* (Re)start @p w to fire @p in seconds from now (at least 10 ms). */
static void timer_in(struct ev_loop *loop, ev_timer *w, double in)
{
	ev_timer_stop(loop, w);
	ev_timer_set(w, in > 0.01 ? in : 0.01, 0);
	ev_timer_start(loop, w);
}

/* Wait for the record's deadline (its state changed, or the timer fired early:
 * timers run on the loop's time, deadlines on the relay's clock). */
static void sess_arm(struct rsess *s)
{
	timer_in(s->r->loop, &s->tm, relay_sess_deadline(&s->rec, &s->r->lim) - clock_now(s->r));
}

/* End @p s if its deadline passed at @p now; true when it did. */
static bool sess_expire(struct rsess *s, double now)
{
	enum relay_end e = relay_sess_due(&s->rec, &s->r->lim, now);

	if (e == RELAY_END_NONE)
		return false;
	sess_end(s, relay_sess_end_err(e), relay_sess_end_reason(e));
	return true;
}

static void sess_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct rsess *s = container_of(w, struct rsess, tm);

	if (!sess_expire(s, clock_now(s->r)))
		sess_arm(s);
}

int relay_issue(struct relay *r, const char *requester, const char *peer, struct sr_ticket *t)
{
	struct rsess *s;
	uint16_t tp = r->cfg.adv_tcp_port ? r->cfg.adv_tcp_port : r->tcp_port;
	uint16_t up = r->cfg.adv_udp_port ? r->cfg.adv_udp_port : r->udp_port;
	int e = relay_table_admit(r->tab, requester);

	if (e < 0)
		return e;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	e = sr_issuer_issue(r->iss, clock_unix(r), r->cfg.ticket_ttl, r->cfg.host, tp, up, t);
	if (e < 0)
		goto fail;
	relay_sess_init(&s->rec, t, requester, peer, &r->lim, clock_now(r));
	e = relay_table_add(r->tab, &s->rec);
	if (e < 0) { /* cannot happen: admitted just now */
		sr_ticket_wipe(t);
		goto fail;
	}
	s->r = r;
	ev_init(&s->tm, sess_timer_cb);
	sess_arm(s);
	r->st.issued++;
	r->st.active++;
	return 0;
fail:
	free(s);
	return e;
}

/* ---- authentication and pairing --------------------------------------- */

static void log_start(const struct rsess *s)
{
	const struct relay_sess *e = &s->rec;
	char id[17], a[64], b[64];

	sid_short(e->sid, id);
	net_addr_str((const struct sockaddr *)&e->side[0].addr, a, sizeof(a));
	net_addr_str((const struct sockaddr *)&e->side[1].addr, b, sizeof(b));
	log_msg(PL_LOG_INFO, "session %s start %s -> %s A=%s %s B=%s %s wait=%.2fs", id,
		e->requester, e->peer[0] ? e->peer : "?", tr_name[e->side[0].tr], a,
		tr_name[e->side[1].tr], b, clock_now(s->r) - e->first_auth);
}

static void tcp_go_paired(struct rsess *s, uint8_t side)
{
	struct rtcp *t = s->tcp[side];

	if (!t)
		return;
	t->raw = s->rec.side[side ^ 1].tr == SR_TR_TCP;
	if (conn_set_in_cap(&t->c, PAIRED_IN_CAP) < 0)
		log_msg(PL_LOG_WARN, "cannot grow a TCP buffer; session will be slow");
}

/* Both sides are in (the record says paired): welcome both, data flows. */
static void sess_pair(struct rsess *s)
{
	s->r->st.paired++;
	tcp_go_paired(s, 0);
	tcp_go_paired(s, 1);
	log_start(s);
	side_welcome(s, 0);
	side_welcome(s, 1);
	sess_arm(s);
	if (s->tcp[0])
		try_splice(s->tcp[0]);
}

/* A side proved its secret over @p tr (TCP: on connection @p t): it joins. */
static void side_authed(struct rsess *s, uint8_t side, uint8_t tr,
			const struct sockaddr_storage *from, socklen_t flen, struct rtcp *t)
{
	struct relay *r = s->r;

	if (t) {
		t->s = s;
		t->side = side;
		t->authed = true;
		r->handshakes--;
		ev_timer_stop(r->loop, &t->hs);
	}
	s->tcp[side] = t;
	r->st.authed++;
	if (relay_sess_join(&s->rec, side, tr, from, flen, &r->lim, clock_now(r), clock_unix(r))) {
		sess_pair(s);
		return;
	}
	side_welcome(s, side);
	sess_arm(s);
}

/*
 * HELLO or AUTH, from UDP (@p t NULL) or TCP. Writes the answer into @p out
 * (returns its length, 0 for none); *authed set when the side is now in.
 */
static size_t handshake(struct relay *r, const uint8_t *m, size_t n,
			const struct sockaddr_storage *from, socklen_t flen, struct rtcp *t,
			uint8_t out[SR_SIDE_MSG_MAX], bool *authed)
{
	struct relay_hs hs = {.tr = t ? SR_TR_TCP : SR_TR_UDP,
			      .from = from,
			      .flen = flen,
			      .now = clock_now(r),
			      .unix_now = clock_unix(r)};
	size_t k = relay_auth_handshake(r->iss, r->tab, m, n, &hs, out);

	*authed = hs.authed;
	if (hs.failed)
		r->st.auth_fail++;
	if (hs.authed)
		side_authed(sess_of(hs.sess), hs.side, hs.tr, from, flen, t);
	return k;
}

/* ---- UDP -------------------------------------------------------------- */

static void udp_flush(struct relay *r)
{
	unsigned off = 0;

	while (off < r->nsend) {
		int n = sendmmsg(r->ufd, r->smsg + off, r->nsend - off, MSG_DONTWAIT);

		if (n <= 0) {
			r->st.drop_congested += r->nsend - off; /* socket buffer full */
			break;
		}
		off += (unsigned)n;
	}
	r->nsend = 0;
}

/* Append datagram @p p to the queued train before it when it can ride along:
 * same peer, right behind it in memory, no longer than its segments. */
static bool udp_merge(struct relay *r, uint8_t *p, size_t n, const struct relay_side *to)
{
	unsigned j = r->nsend - 1;
	size_t len, seg;

	if (!r->gro || !r->nsend)
		return false;
	len = r->siov[j].iov_len;
	seg = r->sseg[j] ? r->sseg[j] : len;
	if ((uint8_t *)r->siov[j].iov_base + len != p || n > seg || len % seg ||
	    len / seg >= TRAIN_SEGS || len + n > TRAIN_BYTES ||
	    r->smsg[j].msg_hdr.msg_namelen != to->alen || memcmp(&r->saddr[j], &to->addr, to->alen))
		return false;
	if (!r->sseg[j]) {
		struct msghdr *m = &r->smsg[j].msg_hdr;
		struct cmsghdr *cm;
		uint16_t gs = (uint16_t)seg;

		memset(&r->sctl[j], 0, sizeof(r->sctl[j]));
		m->msg_control = r->sctl[j].buf;
		m->msg_controllen = CMSG_SPACE(sizeof(gs));
		cm = CMSG_FIRSTHDR(m);
		cm->cmsg_level = IPPROTO_UDP;
		cm->cmsg_type = UDP_SEGMENT;
		cm->cmsg_len = CMSG_LEN(sizeof(gs));
		memcpy(CMSG_DATA(cm), &gs, sizeof(gs));
		r->sseg[j] = gs;
	}
	r->siov[j].iov_len = len + n;
	return true;
}

static void udp_queue(struct relay *r, uint8_t *p, size_t n, const struct relay_side *to)
{
	unsigned i;

	if (udp_merge(r, p, n, to))
		return;
	if (r->nsend == BATCH)
		udp_flush(r);
	i = r->nsend++;
	r->sseg[i] = 0;
	r->siov[i].iov_base = p;
	r->siov[i].iov_len = n;
	memcpy(&r->saddr[i], &to->addr, to->alen);
	r->smsg[i].msg_hdr = (struct msghdr){.msg_name = &r->saddr[i],
					     .msg_namelen = to->alen,
					     .msg_iov = &r->siov[i],
					     .msg_iovlen = 1};
}

/* A sealed packet to @p side's peer, which uses TCP: frame it. */
static void to_tcp_peer(struct relay *r, struct rtcp *t, const uint8_t *p, size_t n)
{
	uint8_t buf[SR_FRAME_HDR + UDP_BUF];

	if (conn_congested(&t->c) || n > UDP_BUF) {
		r->st.drop_congested++;
		return;
	}
	put_be32(buf, (uint32_t)n);
	memcpy(buf + SR_FRAME_HDR, p, n);
	if (conn_write(&t->c, buf, SR_FRAME_HDR + n) < 0)
		r->st.drop_congested++;
}

/* A packet of @p n bytes from @p side was relayed. */
static void count(struct rsess *s, uint8_t side, size_t n)
{
	relay_sess_count(&s->rec, side, n, clock_now(s->r));
	s->r->st.bytes += n;
	s->r->st.packets++;
}

static void udp_data(struct relay *r, uint8_t *p, size_t n, const struct sockaddr_storage *from,
		     socklen_t flen)
{
	uint8_t side;
	struct rsess *s = NULL;

	if (n >= SR_DP_OVERHEAD)
		s = sess_of(relay_table_by_relay_id(r->tab, get_be32(p + 4), &side));
	if (!s || !s->rec.paired || !relay_sess_is_from(&s->rec, side, SR_TR_UDP, from, flen)) {
		r->st.drop_unknown++;
		return;
	}
	count(s, side, n);
	if (s->rec.side[side ^ 1].tr == SR_TR_UDP)
		udp_queue(r, p, n, &s->rec.side[side ^ 1]);
	else if (s->tcp[side ^ 1])
		to_tcp_peer(r, s->tcp[side ^ 1], p, n);
}

/*
 * ROAM: a keepalive that proves the side's key; from a new address it only
 * starts a return-routability check (ROAM_CHAL there, ROAM_ECHO back), which
 * is the only way to move a UDP side. With SR_ROAM_LEAVE a UDP side ends the
 * session (a TCP side just closes).
 */
static void udp_roam(struct relay *r, const uint8_t *m, size_t n,
		     const struct sockaddr_storage *from, socklen_t flen)
{
	struct relay_sess *rec;
	uint8_t side, out[SR_SIDE_MSG_MAX];
	char a[64];

	switch (relay_roam_check(r->iss, r->tab, m, n, from, flen, clock_now(r), &rec, &side)) {
	case RELAY_ROAM_IGNORE:
	case RELAY_ROAM_TCP:
	case RELAY_ROAM_LIMITED:
		return;
	case RELAY_ROAM_DROP:
		r->st.drop_unknown++;
		return;
	case RELAY_ROAM_LEAVE:
		sess_end(sess_of(rec), SR_ERR_PEER,
			 side == SR_SIDE_A ? "side A left" : "side B left");
		return;
	case RELAY_ROAM_CHALLENGE:
		r->st.roam_chal++;
		udp_send(r, out, relay_roam_challenge(r->iss, rec, side, out), from, flen);
		return;
	case RELAY_ROAM_MOVED:
		net_addr_str((const struct sockaddr *)from, a, sizeof(a));
		log_msg(PL_LOG_INFO, "session side %s roamed to %s", side_name[side], a);
		break;
	case RELAY_ROAM_STAY:
		break;
	}
	udp_send(r, out, relay_sess_welcome(rec, side, out), from, flen);
}

static void udp_one(struct relay *r, uint8_t *p, size_t n, const struct sockaddr_storage *from,
		    socklen_t flen)
{
	uint8_t out[SR_SIDE_MSG_MAX];
	bool authed;

	if (n == 0 || n > SR_UDP_MAX) {
		r->st.drop_unknown++;
		return;
	}
	if (sr_msg_is_data(p[0])) {
		udp_data(r, p, n, from, flen);
	} else if (p[0] == SR_MSG_HELLO || p[0] == SR_MSG_AUTH) {
		size_t m = handshake(r, p, n, from, flen, NULL, out, &authed);

		if (m)
			udp_send(r, out, m, from, flen);
	} else if (p[0] == SR_MSG_ROAM || p[0] == SR_MSG_ROAM_ECHO) {
		udp_roam(r, p, n, from, flen);
	} else {
		r->st.drop_unknown++;
	}
}

/* Segment size of a UDP_GRO read (the whole length when not coalesced). */
static size_t gro_size(struct msghdr *m, size_t len)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(m); cm; cm = CMSG_NXTHDR(m, cm)) {
		int v;

		if (cm->cmsg_level == IPPROTO_UDP && cm->cmsg_type == UDP_GRO &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(v))) {
			memcpy(&v, CMSG_DATA(cm), sizeof(v));
			return v > 0 && (size_t)v < len ? (size_t)v : len;
		}
	}
	return len;
}

/* Message @p i of a recvmmsg: one datagram, or a GRO train cut back into its datagrams. */
static void udp_msg(struct relay *r, unsigned i)
{
	struct msghdr *m = &r->rmsg[i].msg_hdr;
	size_t len = r->rmsg[i].msg_len, seg;

	if (len == 0 || (m->msg_flags & MSG_TRUNC) || (!r->gro && len > SR_UDP_MAX)) {
		r->st.drop_unknown++;
		return;
	}
	seg = r->gro ? gro_size(m, len) : len;
	for (size_t off = 0; off < len; off += seg)
		udp_one(r, r->rbuf[i] + off, len - off < seg ? len - off : seg, &r->raddr[i],
			m->msg_namelen);
}

static void udp_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct relay *r = container_of(w, struct relay, uw);

	for (int b = 0; b < BATCHES_PER_WAKE; b++) {
		int n;

		for (unsigned i = 0; i < BATCH; i++) {
			r->riov[i] = (struct iovec){.iov_base = r->rbuf[i],
						    .iov_len = r->gro ? GRO_BUF : UDP_BUF};
			r->rmsg[i].msg_hdr = (struct msghdr){.msg_name = &r->raddr[i],
							     .msg_namelen = sizeof(r->raddr[i]),
							     .msg_iov = &r->riov[i],
							     .msg_iovlen = 1};
			if (r->gro) {
				r->rmsg[i].msg_hdr.msg_control = r->rctl[i].buf;
				r->rmsg[i].msg_hdr.msg_controllen = sizeof(r->rctl[i].buf);
			}
		}
		n = recvmmsg(r->ufd, r->rmsg, BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			break;
		for (int i = 0; i < n; i++)
			udp_msg(r, (unsigned)i);
		udp_flush(r);
		if (n < BATCH)
			break;
	}
}

/* ---- TCP -------------------------------------------------------------- */

/* A protocol error on a TCP side: its session (if any) ends with it. */
static void tcp_drop(struct rtcp *t)
{
	if (t->s)
		sess_end(t->s, SR_ERR_PROTO,
			 t->side == SR_SIDE_A ? "side A protocol error" : "side B protocol error");
	else
		tcp_kill(t);
}

static struct rtcp *peer_tcp(struct rtcp *t)
{
	return t->s->tcp[t->side ^ 1];
}

/* Paired with TCP: move the bytes as they are, pausing when the peer is full. */
static int pump_raw(struct rtcp *t)
{
	struct rtcp *o = peer_tcp(t);
	size_t n = conn_in_len(&t->c);

	if (!o)
		return 0;
	if (conn_congested(&o->c)) {
		conn_pause_read(&t->c);
		return 0;
	}
	if (n && conn_write(&o->c, conn_in(&t->c), n) < 0) {
		conn_pause_read(&t->c);
		return 0;
	}
	relay_sess_count(&t->s->rec, t->side, n, clock_now(t->r)); /* a read, not a packet */
	t->r->st.bytes += n;
	conn_consume(&t->c, n);
	try_splice(t);
	return 0;
}

/* ---- TCP<->TCP in the kernel: splice(2) through one pipe per direction --
 *
 * Once both sides of a paired session use TCP and nothing is buffered in
 * user space either way, the byte streams bypass the conn buffers: each
 * side's socket is spliced into its own pipe and the pipe into the peer's
 * socket, so the ciphertext is never copied into this process. Back-pressure
 * is the pipe: while the peer cannot take what the pipe holds, this side is
 * not read. */

static void side_closed(struct rtcp *t)
{
	sess_end(t->s, SR_ERR_PEER, t->side == SR_SIDE_A ? "side A closed" : "side B closed");
}

/* This side's pipe into its peer. 1: pipe empty, 0: peer full, -1: session ended. */
static int splice_flush(struct rtcp *t)
{
	struct rtcp *o = peer_tcp(t);

	while (t->piped) {
		ssize_t n = splice(t->pipe[0], NULL, o->c.fd, NULL, t->piped,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0) {
			side_closed(o);
			return -1;
		}
		t->piped -= (size_t)n;
	}
	return 1;
}

/* This side's socket into its (empty) pipe. 1: moved, 0: nothing to read, -1: ended. */
static int splice_fill(struct rtcp *t)
{
	struct rsess *s = t->s;
	ssize_t n = splice(t->c.fd, NULL, t->pipe[1], NULL, SPLICE_CHUNK,
			   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0) {
		side_closed(t);
		return -1;
	}
	t->piped = (size_t)n;
	relay_sess_count(&s->rec, t->side, (size_t)n, clock_now(s->r)); /* a splice, not a packet */
	s->r->st.bytes += (uint64_t)n;
	return 1;
}

/* Move what this side sends to its peer, a bounded number of rounds. */
static void splice_pump(struct rtcp *t)
{
	int e = splice_flush(t);

	for (int i = 0; e > 0 && i < SPLICE_ROUNDS; i++) {
		e = splice_fill(t);
		if (e > 0)
			e = splice_flush(t);
	}
	if (e >= 0 && t->piped) { /* the peer is full: wait until it can take more */
		ev_io_stop(t->r->loop, &t->sp_in);
		ev_io_start(t->r->loop, &peer_tcp(t)->sp_out);
	}
}

static void splice_in_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	splice_pump(container_of(w, struct rtcp, sp_in));
}

/* @p o became writable: drain its peer's pipe into it, then read the peer again. */
static void splice_out_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct rtcp *o = container_of(w, struct rtcp, sp_out), *t = peer_tcp(o);

	if (splice_flush(t) <= 0)
		return;
	ev_io_stop(loop, &o->sp_out);
	ev_io_start(loop, &t->sp_in);
}

static void splice_undo(struct rtcp **x, int n)
{
	for (int i = 0; i < n; i++) {
		close(x[i]->pipe[0]);
		close(x[i]->pipe[1]);
	}
}

/* Hand a TCP<->TCP session to the kernel if it is ready (see above) and the
 * descriptor table is less than half full; else it stays on the buffered
 * copy and this is tried again when the buffers are empty. A failure (no
 * pipes) only costs speed. */
static void try_splice(struct rtcp *t)
{
	struct rsess *s = t->s;
	struct relay *r = t->r;
	struct rtcp *x[2];
	int i;

	if (!r->splice || !s || !s->rec.paired || t->spliced || !t->raw || !(x[1] = peer_tcp(t)) ||
	    r->nfds + 4 + FD_SLACK > r->fd_limit / 2)
		return;
	x[0] = t;
	for (i = 0; i < 2; i++)
		if (!x[i]->raw || conn_in_len(&x[i]->c) || conn_pending(&x[i]->c))
			return;
	for (i = 0; i < 2; i++) {
		if (pipe2(x[i]->pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
			log_msg_errno(PL_LOG_DEBUG, errno, "splice: pipe");
			splice_undo(x, i);
			return;
		}
	}
	for (i = 0; i < 2; i++) {
		(void)fcntl(x[i]->pipe[1], F_SETPIPE_SZ, SPLICE_PIPE); /* best effort */
		conn_pause_read(&x[i]->c);
		x[i]->piped = 0;
		x[i]->spliced = true;
		ev_io_init(&x[i]->sp_in, splice_in_cb, x[i]->c.fd, EV_READ);
		ev_io_init(&x[i]->sp_out, splice_out_cb, x[i]->c.fd, EV_WRITE);
		ev_io_start(r->loop, &x[i]->sp_in);
	}
	r->nfds += 4;
	s->spliced = true;
	r->st.spliced++;
}

/* Back to the buffered copy: what the pipe holds goes into the peer's
 * output queue (which is empty while spliced, so it fits). -1: ended. */
static int unsplice_side(struct rtcp *t)
{
	struct rtcp *o = peer_tcp(t);
	uint8_t buf[16384];

	ev_io_stop(t->r->loop, &t->sp_in);
	ev_io_stop(t->r->loop, &o->sp_out);
	while (t->piped) {
		ssize_t n = read(t->pipe[0], buf, t->piped < sizeof(buf) ? t->piped : sizeof(buf));

		if (n <= 0 || conn_write(&o->c, buf, (size_t)n) < 0) {
			sodium_memzero(buf, sizeof(buf));
			side_closed(o);
			return -1;
		}
		t->piped -= (size_t)n;
	}
	sodium_memzero(buf, sizeof(buf));
	close(t->pipe[0]);
	close(t->pipe[1]);
	t->r->nfds -= 2;
	t->spliced = false;
	return 0;
}

/* Descriptors are running short (a new connection needs one): give back
 * the pipes of one spliced session. */
static void relieve_fds(struct relay *r)
{
	struct rtcp *t, *o;

	if (r->nfds + FD_SLACK <= r->fd_limit - r->fd_limit / 4)
		return;
	for (t = r->conns; t && !t->spliced; t = t->next)
		;
	if (!t || unsplice_side(t) < 0)
		return;
	o = peer_tcp(t);
	if (unsplice_side(o) < 0)
		return;
	conn_resume_read(&t->c);
	conn_resume_read(&o->c);
	log_msg(PL_LOG_DEBUG, "splice: a session went back to copying (descriptors short)");
}

/* One frame from a TCP side whose peer is UDP (or not there yet). */
static void tcp_frame_fwd(struct rtcp *t, const uint8_t *m, size_t n)
{
	struct rsess *s = t->s;
	const struct relay_side *to = &s->rec.side[t->side ^ 1];

	if (!s->rec.paired || !sr_msg_is_data(m[0]) || n > SR_UDP_MAX || to->tr != SR_TR_UDP) {
		s->r->st.drop_unknown++;
		return;
	}
	count(s, t->side, n);
	udp_send(s->r, m, n, &to->addr, to->alen);
}

/* Handshake frame from an unauthenticated connection. Returns <0 when closed. */
static int tcp_hs_frame(struct rtcp *t, const uint8_t *m, size_t n)
{
	uint8_t out[SR_SIDE_MSG_MAX];
	bool authed;
	size_t k;

	if (m[0] != SR_MSG_HELLO && m[0] != SR_MSG_AUTH) {
		tcp_kill(t);
		return -1;
	}
	k = handshake(t->r, m, n, &t->addr, t->alen, t, out, &authed);
	if (authed || !k)
		return 0;
	if (tcp_send_msg(t, out, k) < 0 || out[0] == SR_MSG_ERROR) {
		tcp_kill(t); /* an ERROR went out first (best effort) */
		return -1;
	}
	return 0;
}

static int tcp_on_data(struct conn *c)
{
	struct rtcp *t = container_of(c, struct rtcp, c);

	while (!t->dead) {
		const uint8_t *in = conn_in(c);
		size_t have = conn_in_len(c), len;

		if (t->s && t->raw && t->s->rec.paired)
			return t->spliced ? 0 : pump_raw(t);
		if (have < SR_FRAME_HDR)
			return 0;
		len = get_be32(in);
		if (len == 0 || len > (t->s ? SR_FRAME_MAX : HS_IN_CAP - SR_FRAME_HDR)) {
			tcp_drop(t);
			return -1;
		}
		if (have - SR_FRAME_HDR < len)
			return 0;
		if (!t->s) {
			if (tcp_hs_frame(t, in + SR_FRAME_HDR, len) < 0)
				return -1;
		} else {
			tcp_frame_fwd(t, in + SR_FRAME_HDR, len);
		}
		conn_consume(c, SR_FRAME_HDR + len);
	}
	return -1;
}

static void tcp_on_close(struct conn *c, int err)
{
	struct rtcp *t = container_of(c, struct rtcp, c);

	if (t->s)
		side_closed(t);
	else
		tcp_kill(t);
}

/* The peer's queue drained: let this side's bytes flow again. */
static int tcp_on_drain(struct conn *c)
{
	struct rtcp *t = container_of(c, struct rtcp, c), *o;

	if (!t->s || !t->raw || t->spliced || !(o = peer_tcp(t)) || !o->c.read_paused)
		return 0;
	conn_resume_read(&o->c);
	pump_raw(o);
	try_splice(t);
	return 0;
}

static const struct conn_ops tcp_ops = {
    .on_data = tcp_on_data,
    .on_drain = tcp_on_drain,
    .on_close = tcp_on_close,
};

/* Close @p t if it is still not authenticated at its deadline; true when it did. */
static bool hs_expire(struct rtcp *t, double now)
{
	if (t->authed || t->dead || t->hs_deadline - now > 0)
		return false;
	tcp_kill(t);
	return true;
}

static void hs_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct rtcp *t = container_of(w, struct rtcp, hs);
	double now = clock_now(t->r);

	if (!hs_expire(t, now) && !t->authed)
		timer_in(loop, w, t->hs_deadline - now);
}

static void tcp_accept_one(struct relay *r, int fd, const struct sockaddr_storage *a,
			   socklen_t alen)
{
	struct rtcp *t;

	if (r->handshakes >= r->cfg.max_handshakes || !(t = calloc(1, sizeof(*t)))) {
		close(fd);
		return;
	}
	t->r = r;
	memcpy(&t->addr, a, alen);
	t->alen = alen;
	if (conn_init(&t->c, r->loop, fd, &tcp_ops, HS_IN_CAP, r->cfg.tcp_out_max, false) < 0) {
		close(fd);
		free(t);
		return;
	}
	r->handshakes++;
	r->nfds++;
	t->next = r->conns;
	if (r->conns)
		r->conns->prev = t;
	r->conns = t;
	t->hs_deadline = clock_now(r) + HS_TIMEOUT;
	ev_timer_init(&t->hs, hs_timeout_cb, HS_TIMEOUT, 0);
	ev_timer_start(r->loop, &t->hs);
}

static void tcp_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct relay *r = container_of(w, struct relay, tw);

	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage a;
		socklen_t alen = sizeof(a);
		int one = 1, fd = accept4(r->tfd, (struct sockaddr *)&a, &alen,
					  SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				relieve_fds(r);
			return;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		tcp_accept_one(r, fd, &a, alen);
		relieve_fds(r);
	}
}

/* ---- setup ------------------------------------------------------------ */

static uint16_t bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t l = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &l) < 0)
		return 0;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static int sockets(struct relay *r)
{
	struct rlimit rl;
	int big = 4 << 20;

	r->tfd = net_listen_tcp((struct sockaddr *)&r->cfg.tcp_addr, r->cfg.tcp_len, 1024);
	if (r->tfd < 0)
		return r->tfd;
	r->ufd = net_bind_udp((struct sockaddr *)&r->cfg.udp_addr, r->cfg.udp_len);
	if (r->ufd < 0)
		return r->ufd;
	setsockopt(r->ufd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	setsockopt(r->ufd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	/* Trains in (GRO) and out (GSO): one syscall and one skb per train. */
	r->splice = getenv("PORTLESS_SR_NO_SPLICE") == NULL;
	r->fd_limit = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 1u << 30
			  ? (unsigned)rl.rlim_cur
			  : 1u << 30;
	r->gro = getenv("PORTLESS_SR_NO_GRO") == NULL &&
		 setsockopt(r->ufd, IPPROTO_UDP, UDP_GRO, &(int){1}, sizeof(int)) == 0;
	r->tcp_port = bound_port(r->tfd);
	r->udp_port = bound_port(r->ufd);
	return 0;
}

struct relay *relay_new(struct ev_loop *loop, const struct relay_cfg *cfg, int *err)
{
	struct relay *r = calloc(1, sizeof(*r));
	int e = -ENOMEM;

	if (!r)
		goto fail;
	r->loop = loop;
	r->cfg = *cfg;
	r->lim = (struct relay_limits){cfg->ticket_ttl, cfg->unpaired_timeout, cfg->idle_timeout};
	r->tfd = r->ufd = -1;
	if (!cfg->max_sessions || !cfg->host[0]) {
		e = -EINVAL;
		goto fail;
	}
	r->iss = sr_issuer_new();
	r->tab = relay_table_new(cfg->max_sessions, cfg->max_per_identity);
	if (!r->iss || !r->tab || (e = sockets(r)) < 0)
		goto fail;
	ev_io_init(&r->tw, tcp_accept_cb, r->tfd, EV_READ);
	ev_io_init(&r->uw, udp_cb, r->ufd, EV_READ);
	ev_prepare_init(&r->reaper, reaper_cb);
	ev_io_start(loop, &r->tw);
	ev_io_start(loop, &r->uw);
	ev_prepare_start(loop, &r->reaper);
	return r;
fail:
	*err = e;
	relay_free(r);
	return NULL;
}

void relay_free(struct relay *r)
{
	struct relay_sess *rec;

	if (!r)
		return;
	for (uint32_t i = 0; r->tab && (rec = relay_table_next(r->tab, &i));)
		sess_end(sess_of(rec), SR_ERR_SHUTDOWN, "shutdown");
	while (r->conns)
		tcp_kill(r->conns);
	if (r->loop) {
		ev_io_stop(r->loop, &r->tw);
		ev_io_stop(r->loop, &r->uw);
		ev_prepare_stop(r->loop, &r->reaper);
	}
	reaper_cb(r->loop, &r->reaper, 0);
	if (r->tfd >= 0)
		close(r->tfd);
	if (r->ufd >= 0)
		close(r->ufd);
	sr_issuer_free(r->iss);
	relay_table_free(r->tab);
	free(r);
}

uint16_t relay_tcp_port(const struct relay *r)
{
	return r->tcp_port;
}

uint16_t relay_udp_port(const struct relay *r)
{
	return r->udp_port;
}

void relay_get_stats(const struct relay *r, struct relay_stats *st)
{
	*st = r->st;
}

void relay_tick(struct relay *r)
{
	double now = clock_now(r);
	struct relay_sess *rec;
	struct rtcp *t, *next;

	for (uint32_t i = 0; (rec = relay_table_next(r->tab, &i));)
		sess_expire(sess_of(rec), now);
	for (t = r->conns; t; t = next) {
		next = t->next; /* hs_expire() closes only t */
		hs_expire(t, now);
	}
}
