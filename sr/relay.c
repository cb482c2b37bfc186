/* SPDX-License-Identifier: MIT */
#include "relay.h"
#include "sr_side.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "net.h"
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

struct rside {
	struct sr_auth auth;
	uint8_t tr; /* enum sr_transport once authenticated */
	struct sockaddr_storage addr;
	socklen_t alen;
	uint64_t roam_ctr;
	struct rtcp *tcp;
	uint64_t bytes, pkts; /* received from this side and relayed */
};

struct rsess {
	ev_timer tm;
	struct relay *r;
	struct rsess *hnext; /* hash chain / graveyard */
	uint8_t sid[SR_SID_LEN];
	char requester[HANDLE_BUF];
	char peer[HANDLE_BUF];
	uint64_t expiry;
	double created, first_auth, paired_at, last;
	uint32_t slot;
	bool paired, dead;
	bool spliced; /* TCP<->TCP moved by splice(2) */
	struct rside side[2];
};

struct rtcp {
	struct conn c;
	ev_timer hs;
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
	struct sr_issuer *iss;
	int tfd, ufd;
	ev_io tw, uw;
	ev_prepare reaper;
	uint16_t tcp_port, udp_port;
	struct rsess **slots;
	uint32_t nslots, slot_hint;
	struct rsess **buckets;
	uint32_t nbuckets;
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

/* ---- session table ---------------------------------------------------- */

static uint32_t sid_hash(const struct relay *r, const uint8_t sid[SR_SID_LEN])
{
	return get_be32(sid) & (r->nbuckets - 1); /* session ids are random */
}

static struct rsess *sess_find(const struct relay *r, const uint8_t sid[SR_SID_LEN])
{
	for (struct rsess *s = r->buckets[sid_hash(r, sid)]; s; s = s->hnext)
		if (!memcmp(s->sid, sid, SR_SID_LEN))
			return s;
	return NULL;
}

static void sess_unlink(struct relay *r, struct rsess *s)
{
	struct rsess **pp = &r->buckets[sid_hash(r, s->sid)];

	while (*pp && *pp != s)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = s->hnext;
	r->slots[s->slot] = NULL;
}

static int slot_alloc(struct relay *r, uint32_t *out)
{
	for (uint32_t i = 0; i < r->nslots; i++) {
		uint32_t k = (r->slot_hint + i) % r->nslots;

		if (!r->slots[k]) {
			r->slot_hint = k + 1;
			*out = k;
			return 0;
		}
	}
	return -EUSERS;
}

static struct rsess *sess_by_relay_id(const struct relay *r, uint32_t rid, uint8_t *side)
{
	uint32_t slot = rid >> 1;

	if (slot >= r->nslots)
		return NULL;
	*side = rid & 1;
	return r->slots[slot];
}

static uint32_t relay_id_of(const struct rsess *s, uint8_t side)
{
	return (s->slot << 1) | side;
}

/* ---- small senders ---------------------------------------------------- */

static size_t put_head(uint8_t *b, uint8_t type, uint8_t side, uint8_t x, const uint8_t *sid)
{
	b[0] = type;
	b[1] = SR_VERSION;
	b[2] = side;
	b[3] = x;
	memcpy(b + 4, sid, SR_SID_LEN);
	return SR_SIDE_HDR;
}

static size_t make_welcome(uint8_t *b, const struct rsess *s, uint8_t side)
{
	put_head(b, SR_MSG_WELCOME, side, s->paired ? SR_WS_PAIRED : SR_WS_WAITING, s->sid);
	put_be32(b + SR_SIDE_HDR, relay_id_of(s, side));
	b[SR_SIDE_HDR + 4] = s->side[side ^ 1].tr;
	return SR_WELCOME_LEN;
}

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
	struct rside *sd = &s->side[side];

	if (sd->tr == SR_TR_UDP)
		udp_send(s->r, msg, n, &sd->addr, sd->alen);
	else if (sd->tr == SR_TR_TCP && sd->tcp && tcp_send_msg(sd->tcp, msg, n) < 0)
		log_msg(PL_LOG_DEBUG, "tcp side message dropped");
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
	char id[17];
	double now = ev_now(s->r->loop);

	sid_short(s->sid, id);
	log_msg(
	    PL_LOG_INFO,
	    "session %s end %s -> %s reason=%s duration=%.1fs A=%s B=%s%s A->B=%llu B/%llu pkts "
	    "B->A=%llu B/%llu pkts",
	    id, s->requester, s->peer[0] ? s->peer : "?", reason,
	    s->paired ? now - s->paired_at : 0.0, tr_name[s->side[0].tr], tr_name[s->side[1].tr],
	    s->spliced ? " spliced" : "", (unsigned long long)s->side[0].bytes,
	    (unsigned long long)s->side[0].pkts, (unsigned long long)s->side[1].bytes,
	    (unsigned long long)s->side[1].pkts);
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
	for (int i = 0; i < 2; i++) {
		struct rside *sd = &s->side[i];

		put_head(msg, SR_MSG_ERROR, (uint8_t)i, err, s->sid);
		side_send(s, (uint8_t)i, msg, sizeof(msg));
		if (sd->tcp) {
			sd->tcp->s = NULL;
			tcp_kill(sd->tcp);
			sd->tcp = NULL;
		}
	}
	sess_unlink(r, s);
	r->st.active--;
	r->st.ended++;
	s->hnext = r->dead_sess;
	r->dead_sess = s;
}

static void reaper_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct relay *r = container_of(w, struct relay, reaper);

	while (r->dead_sess) {
		struct rsess *s = r->dead_sess;

		r->dead_sess = s->hnext;
		free(s);
	}
	while (r->dead_tcp) {
		struct rtcp *t = r->dead_tcp;

		r->dead_tcp = t->next;
		free(t);
	}
}

static void timer_at(struct rsess *s, double in)
{
	ev_timer_stop(s->r->loop, &s->tm);
	ev_timer_set(&s->tm, in > 0.01 ? in : 0.01, 0);
	ev_timer_start(s->r->loop, &s->tm);
}

static void sess_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct rsess *s = container_of(w, struct rsess, tm);
	const struct relay_cfg *c = &s->r->cfg;
	double now = ev_now(loop);

	if (s->paired) {
		double left = c->idle_timeout - (now - s->last);

		if (left > 0)
			timer_at(s, left);
		else
			sess_end(s, SR_ERR_IDLE, "idle");
	} else if (s->first_auth > 0) {
		sess_end(s, SR_ERR_TIMEOUT, "unpaired timeout");
	} else {
		sess_end(s, SR_ERR_EXPIRED, "ticket expired unused");
	}
}

static unsigned count_for(const struct relay *r, const char *requester)
{
	unsigned n = 0;

	for (uint32_t i = 0; i < r->nslots; i++)
		if (r->slots[i] && !strcmp(r->slots[i]->requester, requester))
			n++;
	return n;
}

int relay_issue(struct relay *r, const char *requester, const char *peer, struct sr_ticket *t)
{
	struct rsess *s;
	uint32_t slot;
	uint16_t tp = r->cfg.adv_tcp_port ? r->cfg.adv_tcp_port : r->tcp_port;
	uint16_t up = r->cfg.adv_udp_port ? r->cfg.adv_udp_port : r->udp_port;
	int e;

	if (slot_alloc(r, &slot) < 0)
		return -EUSERS;
	if (count_for(r, requester) >= r->cfg.max_per_identity)
		return -EDQUOT;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	e = sr_issuer_issue(r->iss, net_unix_now(), r->cfg.ticket_ttl, r->cfg.host, tp, up, t);
	if (e < 0) {
		free(s);
		return e;
	}
	s->r = r;
	memcpy(s->sid, t->session_id, SR_SID_LEN);
	snprintf(s->requester, sizeof(s->requester), "%s", requester);
	snprintf(s->peer, sizeof(s->peer), "%s", peer ? peer : "");
	s->expiry = t->expiry;
	s->created = ev_now(r->loop);
	s->slot = slot;
	r->slots[slot] = s;
	s->hnext = r->buckets[sid_hash(r, s->sid)];
	r->buckets[sid_hash(r, s->sid)] = s;
	ev_init(&s->tm, sess_timer_cb);
	timer_at(s, r->cfg.ticket_ttl + 1.0);
	r->st.issued++;
	r->st.active++;
	return 0;
}

/* ---- authentication and pairing --------------------------------------- */

static void log_start(const struct rsess *s)
{
	char id[17], a[64], b[64];

	sid_short(s->sid, id);
	net_addr_str((const struct sockaddr *)&s->side[0].addr, a, sizeof(a));
	net_addr_str((const struct sockaddr *)&s->side[1].addr, b, sizeof(b));
	log_msg(PL_LOG_INFO, "session %s start %s -> %s A=%s %s B=%s %s wait=%.2fs", id,
		s->requester, s->peer[0] ? s->peer : "?", tr_name[s->side[0].tr], a,
		tr_name[s->side[1].tr], b, ev_now(s->r->loop) - s->first_auth);
}

static void tcp_go_paired(struct rsess *s, uint8_t side)
{
	struct rtcp *t = s->side[side].tcp;

	if (!t)
		return;
	t->raw = s->side[side ^ 1].tr == SR_TR_TCP;
	if (conn_set_in_cap(&t->c, PAIRED_IN_CAP) < 0)
		log_msg(PL_LOG_WARN, "cannot grow a TCP buffer; session will be slow");
}

static void sess_pair(struct rsess *s)
{
	uint8_t msg[SR_WELCOME_LEN];

	s->paired = true;
	s->paired_at = s->last = ev_now(s->r->loop);
	s->r->st.paired++;
	tcp_go_paired(s, 0);
	tcp_go_paired(s, 1);
	log_start(s);
	for (uint8_t i = 0; i < 2; i++)
		side_send(s, i, msg, make_welcome(msg, s, i));
	timer_at(s, s->r->cfg.idle_timeout);
	if (s->side[0].tcp)
		try_splice(s->side[0].tcp);
}

/* A side proved its secret over @p tr. */
static void side_authed(struct rsess *s, uint8_t side, uint8_t tr,
			const struct sockaddr_storage *from, socklen_t flen, struct rtcp *t)
{
	struct rside *sd = &s->side[side];
	uint8_t msg[SR_WELCOME_LEN];
	double now = ev_now(s->r->loop);

	if (t) {
		t->s = s;
		t->side = side;
		t->authed = true;
		s->r->handshakes--;
		ev_timer_stop(s->r->loop, &t->hs);
	}
	sd->tr = tr;
	memcpy(&sd->addr, from, flen);
	sd->alen = flen;
	sd->tcp = t;
	if (s->side[side ^ 1].tr != SR_TR_NONE) {
		sess_pair(s);
		return;
	}
	s->first_auth = now;
	side_send(s, side, msg, make_welcome(msg, s, side));
	timer_at(s, s->r->cfg.unpaired_timeout);
	if ((double)s->expiry + 1.0 - (double)net_unix_now() < s->r->cfg.unpaired_timeout)
		timer_at(s, (double)s->expiry + 1.0 -
				(double)net_unix_now()); /* peer can't come later */
}

static uint8_t auth_err_code(int e)
{
	switch (e) {
	case -EALREADY:
		return SR_ERR_USED;
	case -ETIMEDOUT:
		return SR_ERR_EXPIRED;
	default:
		return SR_ERR_AUTH;
	}
}

static bool same_addr(const struct sockaddr_storage *a, socklen_t al,
		      const struct sockaddr_storage *b, socklen_t bl)
{
	return al == bl && !memcmp(a, b, al);
}

/* Parsed head of a side message. */
struct head {
	uint8_t type, side, x;
	const uint8_t *sid;
};

static bool parse_head(const uint8_t *m, size_t n, size_t want, struct head *h)
{
	struct sr_side_msg sm;

	if (n != want || sr_side_parse(m, n, &sm) != 0)
		return false;
	h->type = sm.type;
	h->side = sm.side;
	h->x = sm.x;
	h->sid = sm.sid;
	return true;
}

/*
 * HELLO or AUTH, from UDP (@p t NULL) or TCP. Writes the answer into @p out
 * (returns its length, 0 for none); *authed set when the side is now in.
 */
static size_t handshake(struct relay *r, const uint8_t *m, size_t n,
			const struct sockaddr_storage *from, socklen_t flen, struct rtcp *t,
			uint8_t out[SR_SIDE_MSG_MAX], bool *authed)
{
	uint8_t tr = t ? SR_TR_TCP : SR_TR_UDP;
	struct head h;
	struct rsess *s;
	int e;

	*authed = false;
	if (!parse_head(m, n, m[0] == SR_MSG_HELLO ? SR_HELLO_LEN : SR_AUTH_LEN, &h))
		return 0;
	s = sess_find(r, h.sid);
	if (!s)
		return put_head(out, SR_MSG_ERROR, h.side, SR_ERR_UNKNOWN, h.sid);
	if (h.type == SR_MSG_HELLO) {
		e = sr_auth_challenge(&s->side[h.side].auth, ev_now(r->loop), out + SR_SIDE_HDR);
		if (e == 0)
			return put_head(out, SR_MSG_CHALLENGE, h.side, 0, h.sid) + SR_NONCE_LEN;
	} else {
		e = sr_auth_verify(&s->side[h.side].auth, r->iss, s->sid, h.side, s->expiry,
				   net_unix_now(), ev_now(r->loop), m + SR_SIDE_HDR,
				   m + SR_SIDE_HDR + SR_NONCE_LEN);
		if (e == 0) {
			*authed = true;
			side_authed(s, h.side, tr, from, flen, t);
			return 0;
		}
	}
	/* a retransmission from the authenticated UDP address gets its WELCOME again */
	if (e == -EALREADY && !t && s->side[h.side].tr == SR_TR_UDP &&
	    same_addr(&s->side[h.side].addr, s->side[h.side].alen, from, flen))
		return make_welcome(out, s, h.side);
	r->st.auth_fail++;
	log_msg(PL_LOG_DEBUG, "side auth failed: %s", strerror(-e));
	return put_head(out, SR_MSG_ERROR, h.side, auth_err_code(e), h.sid);
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
static bool udp_merge(struct relay *r, uint8_t *p, size_t n, const struct rside *to)
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

static void udp_queue(struct relay *r, uint8_t *p, size_t n, const struct rside *to)
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

static void count(struct rsess *s, uint8_t side, size_t n)
{
	s->side[side].bytes += n;
	s->side[side].pkts++;
	s->r->st.bytes += n;
	s->r->st.packets++;
	s->last = ev_now(s->r->loop);
}

static void udp_data(struct relay *r, uint8_t *p, size_t n, const struct sockaddr_storage *from,
		     socklen_t flen)
{
	uint8_t side;
	struct rsess *s;
	struct rside *to;

	s = n >= SR_DP_OVERHEAD ? sess_by_relay_id(r, get_be32(p + 4), &side) : NULL;
	if (!s || !s->paired || s->side[side].tr != SR_TR_UDP ||
	    !same_addr(&s->side[side].addr, s->side[side].alen, from, flen)) {
		r->st.drop_unknown++;
		return;
	}
	count(s, side, n);
	to = &s->side[side ^ 1];
	if (to->tr == SR_TR_UDP)
		udp_queue(r, p, n, to);
	else if (to->tcp)
		to_tcp_peer(r, to->tcp, p, n);
}

static bool roam_ok(struct relay *r, struct rsess *s, uint8_t side, const uint8_t *m)
{
	uint8_t secret[SR_SECRET_LEN], key[32], mac[SR_MAC_LEN];
	uint64_t ctr = get_be64(m + SR_SIDE_HDR + 4);
	bool ok;

	sr_issuer_secret(r->iss, s->sid, side, secret);
	sr_roam_key(secret, key);
	sr_roam_mac(key, m, mac);
	ok = sodium_memcmp(mac, m + SR_ROAM_LEN - SR_MAC_LEN, SR_MAC_LEN) == 0 &&
	     ctr > s->side[side].roam_ctr;
	if (ok)
		s->side[side].roam_ctr = ctr;
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(key, sizeof(key));
	return ok;
}

/*
 * ROAM: a keepalive that proves the side's key; the only way to move its
 * address. With SR_ROAM_LEAVE a UDP side ends the session (a TCP side just closes).
 */
static void udp_roam(struct relay *r, const uint8_t *m, size_t n,
		     const struct sockaddr_storage *from, socklen_t flen)
{
	struct head h;
	struct rsess *s;
	struct rside *sd;
	uint8_t side, out[SR_WELCOME_LEN];

	if (!parse_head(m, n, SR_ROAM_LEN, &h))
		return;
	s = sess_by_relay_id(r, get_be32(m + SR_SIDE_HDR), &side);
	if (!s || side != h.side || memcmp(s->sid, h.sid, SR_SID_LEN) ||
	    s->side[side].tr == SR_TR_NONE || !roam_ok(r, s, side, m)) {
		r->st.drop_unknown++;
		return;
	}
	if (h.x == SR_ROAM_LEAVE) {
		sess_end(s, SR_ERR_PEER, side == SR_SIDE_A ? "side A left" : "side B left");
		return;
	}
	sd = &s->side[side];
	if (sd->tr != SR_TR_UDP)
		return;
	if (!same_addr(&sd->addr, sd->alen, from, flen)) {
		char a[64];

		net_addr_str((const struct sockaddr *)from, a, sizeof(a));
		log_msg(PL_LOG_INFO, "session side %s roamed to %s", side_name[side], a);
		memcpy(&sd->addr, from, flen);
		sd->alen = flen;
	}
	if (s->paired)
		s->last = ev_now(r->loop);
	udp_send(r, out, make_welcome(out, s, side), from, flen);
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
	} else if (p[0] == SR_MSG_ROAM) {
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
	return t->s->side[t->side ^ 1].tcp;
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
	t->s->side[t->side].bytes += n;
	t->s->side[t->side].pkts++; /* reads, not packets, on a raw stream */
	t->s->r->st.bytes += n;
	t->s->last = ev_now(t->r->loop);
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
	s->side[t->side].bytes += (uint64_t)n;
	s->side[t->side].pkts++; /* splices, not packets, on a raw stream */
	s->r->st.bytes += (uint64_t)n;
	s->last = ev_now(s->r->loop);
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

	if (!r->splice || !s || !s->paired || t->spliced || !t->raw || !(x[1] = peer_tcp(t)) ||
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
	struct rside *to = &s->side[t->side ^ 1];

	if (!s->paired || !sr_msg_is_data(m[0]) || n > SR_UDP_MAX || to->tr != SR_TR_UDP) {
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

		if (t->s && t->raw && t->s->paired)
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

static void hs_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct rtcp *t = container_of(w, struct rtcp, hs);

	if (!t->s)
		tcp_kill(t);
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

static int tables(struct relay *r)
{
	r->nslots = r->cfg.max_sessions;
	for (r->nbuckets = 64; r->nbuckets < r->nslots; r->nbuckets *= 2)
		;
	r->slots = calloc(r->nslots, sizeof(*r->slots));
	r->buckets = calloc(r->nbuckets, sizeof(*r->buckets));
	return r->slots && r->buckets ? 0 : -ENOMEM;
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
	r->tfd = r->ufd = -1;
	if (!cfg->max_sessions || !cfg->host[0]) {
		e = -EINVAL;
		goto fail;
	}
	r->iss = sr_issuer_new();
	if (!r->iss || (e = tables(r)) < 0 || (e = sockets(r)) < 0)
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
	if (!r)
		return;
	for (uint32_t i = 0; r->slots && i < r->nslots; i++)
		if (r->slots[i])
			sess_end(r->slots[i], SR_ERR_SHUTDOWN, "shutdown");
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
	free(r->slots);
	free(r->buckets);
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
