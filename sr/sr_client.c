/* SPDX-License-Identifier: MIT */
#include "sr_client.h"

#include <errno.h>
#include <arpa/inet.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "net.h"
#include "sr_side.h"
#include "udp_gso.h"
#include "wire.h"

enum {
	BATCH = 32,
	UDP_BUF = 2048,
	TCP_IN_CAP = SR_FRAME_HDR + SR_FRAME_MAX,
	TCP_OUT_MAX = 4 << 20,
	CTRL_BUF = SR_HEADROOM + DPC_PAD + SR_TAILROOM,
};

enum cstate {
	CS_HELLO,   /* HELLO sent, waiting for CHALLENGE */
	CS_AUTH,    /* AUTH sent, waiting for WELCOME */
	CS_WAITING, /* authenticated, waiting for the peer */
	CS_UP,
	CS_DOWN,
};

struct sr_client {
	uint8_t close_reason;      /* ours, sent in the in-band CLOSE (sr_client_close_reason) */
	uint8_t peer_close_reason; /* the peer's, valid in on_down(SR_DOWN_CLOSED) */
	struct ev_loop *loop;
	struct sr_client_cbs cb;
	struct sr_session_params p; /* secret + keys: this struct is sodium_malloc'ed */
	uint8_t roam_key[32];
	uint8_t nonce[SR_NONCE_LEN];
	struct dp_state *dp;
	struct sockaddr_storage udp_sa, tcp_sa;
	socklen_t udp_len, tcp_len;
	int ufd;
	ev_io uw;
	struct conn tc;
	bool tcp_open;
	ev_timer retry, tick, deadline;
	uint8_t state, tr;
	uint32_t relay_id;
	uint64_t roam_ctr;
	double started, last_tx, last_ka, last_rx;
	double last_rebind; /* the last re-bind after the local address went away */
	uint32_t epoch;
	unsigned busy;
	bool freed;
	bool port_closed; /* a send met ICMP port unreachable: down from the loop, not mid-send */
	bool no_gso;      /* the kernel refused UDP_SEGMENT once: one send per datagram */
	struct sr_client_stats st;
	double (*clock)(void *arg); /* NULL: ev_now (sr_client_set_clock) */
	void *clock_arg;
	uint8_t *rxbuf; /* BATCH * UDP_BUF, or one TCP frame */
	struct mmsghdr rmsg[BATCH];
	struct iovec riov[BATCH];
};

static void destroy(struct sr_client *c);

/* The time every decision uses: the loop's, or a test's injected clock. */
static double now_of(const struct sr_client *c)
{
	return c->clock ? c->clock(c->clock_arg) : ev_now(c->loop);
}

static void enter(struct sr_client *c)
{
	c->busy++;
}

/* Returns true when the client was freed (by a callback) and is gone. */
static bool leave(struct sr_client *c)
{
	if (--c->busy == 0 && c->freed) {
		destroy(c);
		return true;
	}
	return false;
}

/* ---- teardown --------------------------------------------------------- */

static void teardown(struct sr_client *c)
{
	ev_timer_stop(c->loop, &c->retry);
	ev_timer_stop(c->loop, &c->tick);
	ev_timer_stop(c->loop, &c->deadline);
	if (c->ufd >= 0) {
		ev_io_stop(c->loop, &c->uw);
		close(c->ufd);
		c->ufd = -1;
	}
	if (c->tcp_open) {
		conn_close(&c->tc);
		c->tcp_open = false;
	}
	dp_state_free(c->dp);
	c->dp = NULL;
	sodium_memzero(&c->p.ticket.secret, sizeof(c->p.ticket.secret));
	sodium_memzero(c->roam_key, sizeof(c->roam_key));
}

static void go_down(struct sr_client *c, int reason, const char *msg)
{
	if (c->state == CS_DOWN)
		return;
	c->state = CS_DOWN;
	teardown(c);
	log_msg(PL_LOG_INFO, "sr session down: %s", msg);
	if (c->cb.on_down)
		c->cb.on_down(c->cb.arg, reason, msg);
}

static void destroy(struct sr_client *c)
{
	teardown(c);
	if (c->rxbuf)
		sodium_memzero(c->rxbuf,
			       BATCH * UDP_BUF > TCP_IN_CAP ? BATCH * UDP_BUF : TCP_IN_CAP);
	free(c->rxbuf);
	sodium_free(c);
}

/* ---- sending ---------------------------------------------------------- */

static int open_udp(struct sr_client *c);
static void send_roam(struct sr_client *c, uint8_t flag);

/*
 * A UDP send failed. When the local address the connected socket was bound
 * to went away (address change: EINVAL / EADDRNOTAVAIL; link without a
 * route: ENETUNREACH), open a fresh socket (new source address) and prove
 * ourselves from it with a ROAM keepalive, at most once a second. Without
 * this every send fails until dead_after ends the session.
 */
static void udp_rebind(struct sr_client *c, const char *why)
{
	double now = now_of(c);

	if (now - c->last_rebind < 1.0 || c->state == CS_DOWN || c->tr != SR_TR_UDP)
		return;
	c->last_rebind = now;
	if (open_udp(c) < 0)
		return;
	c->st.rebinds++;
	log_msg(PL_LOG_INFO, "sr session: %s: re-bound the UDP socket", why);
	if (c->state == CS_UP || c->state == CS_WAITING)
		send_roam(c, SR_ROAM_KEEPALIVE);
}

static int udp_send_failed(struct sr_client *c, int err)
{
	/*
	 * A sender meets the relay's ICMP port unreachable here, not in recvmmsg
	 * (the send consumed the socket error): without this a client streaming
	 * to a dead relay noticed only after dead_after. The path goes down from
	 * the UDP watcher, never inside the caller's send.
	 */
	if (err == -ECONNREFUSED && c->state == CS_UP && !c->port_closed) {
		c->port_closed = true;
		ev_feed_event(c->loop, &c->uw, EV_READ);
	}
	if (err == -EINVAL || err == -EADDRNOTAVAIL || err == -ENETUNREACH)
		udp_rebind(c, err == -ENETUNREACH ? "UDP send: network unreachable"
						  : "UDP send: local address gone");
	return err;
}

/*
 * Is the local address of @p sock still ours? A receiver sends
 * nothing while it gets nothing, so a send error alone would notice an
 * address change only at the next keepalive (up to 15 s): check once a tick.
 */
static bool local_addr_ok(int sock)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	bool ok = true;
	int fd;

	if (getsockname(sock, (struct sockaddr *)&ss, &len) < 0)
		return true;
	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = 0;
	else if (ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&ss)->sin6_port = 0;
	else
		return true;
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return true;
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 && errno == EADDRNOTAVAIL)
		ok = false;
	close(fd);
	return ok;
}

/* Put a side message on the wire (UDP datagram or TCP frame). */
static int send_msg(struct sr_client *c, const uint8_t *m, size_t n)
{
	uint8_t buf[SR_FRAME_HDR + SR_SIDE_MSG_MAX];

	if (c->tr == SR_TR_UDP)
		return send(c->ufd, m, n, MSG_DONTWAIT) < 0 ? udp_send_failed(c, -errno) : 0;
	put_be32(buf, (uint32_t)n);
	memcpy(buf + SR_FRAME_HDR, m, n);
	return conn_write(&c->tc, buf, SR_FRAME_HDR + n);
}

static size_t put_head(struct sr_client *c, uint8_t *b, uint8_t type, uint8_t x)
{
	b[0] = type;
	b[1] = SR_VERSION;
	b[2] = c->p.ticket.side;
	b[3] = x;
	memcpy(b + 4, c->p.ticket.session_id, SR_SID_LEN);
	return SR_SIDE_HDR;
}

static void send_hello(struct sr_client *c)
{
	uint8_t m[SR_HELLO_LEN] = {0};

	put_head(c, m, SR_MSG_HELLO, c->tr);
	(void)send_msg(c, m, sizeof(m));
}

static void send_auth(struct sr_client *c)
{
	uint8_t m[SR_AUTH_LEN];
	size_t o = put_head(c, m, SR_MSG_AUTH, 0);

	memcpy(m + o, c->nonce, SR_NONCE_LEN);
	sr_auth_mac(c->p.ticket.secret, c->nonce, c->p.ticket.session_id, c->p.ticket.side,
		    m + o + SR_NONCE_LEN);
	(void)send_msg(c, m, sizeof(m));
}

static void send_roam(struct sr_client *c, uint8_t flag)
{
	uint8_t m[SR_ROAM_LEN];
	size_t o = put_head(c, m, SR_MSG_ROAM, flag);

	put_be32(m + o, c->relay_id);
	put_be64(m + o + 4, ++c->roam_ctr);
	sr_roam_mac(c->roam_key, m, m + SR_ROAM_LEN - SR_MAC_LEN);
	(void)send_msg(c, m, sizeof(m));
	c->last_ka = now_of(c);
}

/* A sealed packet in @p p onto the wire. */
static int transmit(struct sr_client *c, struct pkt *p)
{
	uint8_t *h;

	c->last_tx = now_of(c);
	if (c->tr == SR_TR_UDP) {
		if (send(c->ufd, pkt_data(p), p->len, MSG_DONTWAIT) < 0)
			return udp_send_failed(c, -errno);
		return 0;
	}
	h = pkt_push(p, SR_FRAME_HDR);
	if (!h)
		return -ENOSPC;
	put_be32(h, (uint32_t)(p->len - SR_FRAME_HDR));
	return conn_write(&c->tc, h, p->len);
}

/* dp_seal() refused the key for good: end the session (-ENOTCONN), else @p r. */
static int seal_failed(struct sr_client *c, int r)
{
	if (r == -ESTALE)
		go_down(c, SR_DOWN_EXHAUSTED,
			"send counter exhausted: keys expired, rekey did not complete");
	else if (r == -EKEYEXPIRED)
		go_down(c, SR_DOWN_KEYS_EXPIRED, "keys expired: rekey did not complete");
	else
		return r;
	return -ENOTCONN;
}

static int seal_send(struct sr_client *c, uint8_t type, struct pkt *p)
{
	int r = dp_seal(c->dp, type, c->relay_id, p, now_of(c));

	return r < 0 ? seal_failed(c, r) : transmit(c, p);
}

static void send_ctrl(struct sr_client *c, const uint8_t *msg, size_t n)
{
	uint8_t buf[CTRL_BUF];
	struct pkt p;

	pkt_init(&p, buf, sizeof(buf), SR_HEADROOM);
	memcpy(pkt_put(&p, n), msg, n);
	(void)seal_send(c, SR_MSG_DATA_CTRL, &p);
	sodium_memzero(buf, sizeof(buf));
}

size_t sr_client_mtu(const struct sr_client *c)
{
	return c->tr == SR_TR_TCP ? SR_TCP_PLAIN_MAX : SR_UDP_PLAIN_MAX;
}

bool sr_client_congested(const struct sr_client *c)
{
	return c->tr == SR_TR_TCP && c->tcp_open && conn_congested(&c->tc);
}

int sr_client_send(struct sr_client *c, struct pkt *p)
{
	size_t n = p->len;
	int r;

	if (c->state != CS_UP)
		return -ENOTCONN;
	if (n > sr_client_mtu(c))
		return -EMSGSIZE;
	if (sr_client_congested(c)) {
		c->st.drop_congested++;
		return -ENOBUFS;
	}
	r = seal_send(c, SR_MSG_DATA, p);
	if (r == 0) {
		uint8_t msg[DPC_MAX];
		size_t k;

		c->st.tx_packets++;
		c->st.tx_bytes += n;
		if ((c->st.tx_packets & 255) == 0 && (k = dp_rekey_poll(c->dp, now_of(c), msg)))
			send_ctrl(c, msg, k); /* count-based rekeys need not wait for the tick */
	}
	return r;
}

/* One UDP_SEGMENT send of @p len bytes cut into @p seg-byte datagrams. */
static int send_gso(struct sr_client *c, const uint8_t *b, size_t len, size_t seg)
{
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {(void *)b, len};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	uint16_t gs = (uint16_t)seg;

	if (len > seg) {
		memset(&ctl, 0, sizeof(ctl));
		m.msg_control = ctl.buf;
		m.msg_controllen = sizeof(ctl.buf);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&m);

		cm->cmsg_level = IPPROTO_UDP;
		cm->cmsg_type = UDP_SEGMENT;
		cm->cmsg_len = CMSG_LEN(sizeof(gs));
		memcpy(CMSG_DATA(cm), &gs, sizeof(gs));
	}
	return sendmsg(c->ufd, &m, MSG_DONTWAIT) < 0 ? -errno : 0;
}

/* Send datagrams [from, to) of a sealed train, GSO when the kernel has it. */
static int send_train_part(struct sr_client *c, const uint8_t *buf, size_t stride, size_t last,
			   int from, int to, int n)
{
	size_t len = (size_t)(to - from - 1) * stride + (to == n ? last : stride);
	int r;

	if (!c->no_gso) {
		r = send_gso(c, buf + (size_t)from * stride, len, stride);
		if (r != -EIO && r != -EINVAL && r != -ENOPROTOOPT && r != -EOPNOTSUPP)
			return r;
		c->no_gso = true;
		log_msg(PL_LOG_DEBUG, "sr_client: no UDP GSO here (%s)", strerror(-r));
	}
	for (int i = from; i < to; i++) {
		size_t l = i == n - 1 ? last : stride;

		if (send(c->ufd, buf + (size_t)i * stride, l, MSG_DONTWAIT) < 0)
			return -errno;
	}
	return 0;
}

int sr_client_send_train(struct sr_client *c, uint8_t *buf, size_t seg, size_t last, int n)
{
	size_t stride = seg + SR_DP_OVERHEAD, bytes = 0;
	int per = (int)(SR_TRAIN_BYTES / stride), r = 0, i;

	if (c->state != CS_UP)
		return -ENOTCONN;
	if (c->tr != SR_TR_UDP)
		return -EPROTOTYPE;
	if (n < 1 || seg == 0 || seg > SR_UDP_PLAIN_MAX || last == 0 || last > seg)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		struct pkt p;

		pkt_init(&p, buf + (size_t)i * stride, stride, SR_DP_HDR);
		if (!pkt_put(&p, i == n - 1 ? last : seg))
			return -ENOSPC;
		r = dp_seal(c->dp, SR_MSG_DATA, c->relay_id, &p, now_of(c));
		if (r < 0)
			return seal_failed(c, r);
	}
	if (per > SR_TRAIN_SEGS)
		per = SR_TRAIN_SEGS;
	c->last_tx = now_of(c);
	for (i = 0; i < n && r == 0; i += per) {
		int to = i + per < n ? i + per : n;

		r = send_train_part(c, buf, stride, last + SR_DP_OVERHEAD, i, to, n);
		if (r == 0)
			bytes += (size_t)(to - i - (to == n)) * seg + (to == n ? last : 0);
	}
	if (bytes) {
		uint8_t msg[DPC_MAX];
		uint64_t before = c->st.tx_packets;
		size_t k;

		c->st.tx_packets += (uint64_t)(r == 0 ? n : i - per);
		c->st.tx_bytes += bytes;
		if ((before >> 8) != (c->st.tx_packets >> 8) &&
		    (k = dp_rekey_poll(c->dp, now_of(c), msg)))
			send_ctrl(c, msg, k);
	}
	return bytes ? 0 : r;
}

/* ---- receiving -------------------------------------------------------- */

static void count_drop(struct sr_client *c, int err)
{
	switch (err) {
	case -EBADMSG:
		c->st.drop_tag++;
		break;
	case -EALREADY:
		c->st.drop_replay++;
		break;
	case -ESTALE:
		c->st.drop_old++;
		break;
	case -ENOKEY:
		c->st.drop_nokey++;
		break;
	case -EKEYEXPIRED:
		c->st.drop_expired++;
		break;
	default:
		c->st.drop_format++;
	}
	log_msg(PL_LOG_DEBUG, "sealed packet dropped: %s", strerror(-err));
}

static void go_up(struct sr_client *c)
{
	double now = now_of(c);

	c->state = CS_UP;
	c->last_tx = c->last_ka = c->last_rx = now;
	ev_timer_stop(c->loop, &c->retry);
	ev_timer_stop(c->loop, &c->deadline);
	ev_timer_start(c->loop, &c->tick);
	log_msg(PL_LOG_INFO, "sr session up over %s (%s)", c->tr == SR_TR_UDP ? "UDP" : "TCP",
		dp_aead_name(dp_aead(c->dp)));
	if (c->cb.on_up)
		c->cb.on_up(c->cb.arg, c->tr);
}

static void on_ctrl(struct sr_client *c, struct pkt *p)
{
	uint8_t reply[DPC_MAX];
	size_t rl = 0;
	int ev = dp_ctrl_input(c->dp, pkt_data(p), p->len, now_of(c), reply, &rl);

	if (ev < 0) {
		c->st.drop_format++;
		return;
	}
	if (rl)
		send_ctrl(c, reply, rl);
	if (ev == DP_CTRL_CLOSE) {
		c->peer_close_reason = pkt_data(p)[1]; /* dp_ctrl_input checked the length */
		go_down(c, SR_DOWN_CLOSED, "peer closed the session");
	}
}

/* A sealed data packet in @p p (borrowed). */
static void on_data(struct sr_client *c, struct pkt *p)
{
	uint8_t type;
	int r;

	if (c->state != CS_UP && c->state != CS_WAITING)
		return;
	r = dp_open(c->dp, p, &type, now_of(c));
	if (r < 0) {
		count_drop(c, r);
		return;
	}
	if (c->state == CS_WAITING) {
		go_up(c); /* the peer's data can overtake the SR's PAIRED; only authentic data */
		if (c->state != CS_UP)
			return; /* on_up freed or closed us */
	}
	c->last_rx = now_of(c); /* only authentic packets prove the path alive */
	if (dp_epoch(c->dp) != c->epoch) {
		c->epoch = dp_epoch(c->dp);
		c->st.rekeys++;
	}
	if (type == SR_MSG_DATA_CTRL) {
		on_ctrl(c, p);
		if (c->state == CS_UP && dp_epoch(c->dp) != c->epoch) {
			c->epoch = dp_epoch(c->dp);
			c->st.rekeys++;
		}
		return;
	}
	c->st.rx_packets++;
	c->st.rx_bytes += p->len;
	if (c->cb.on_packet)
		c->cb.on_packet(c->cb.arg, p);
}

static void on_challenge(struct sr_client *c, const struct sr_side_reply *r)
{
	if (c->state == CS_HELLO || c->state == CS_AUTH) {
		memcpy(c->nonce, r->nonce, SR_NONCE_LEN);
		c->state = CS_AUTH;
		send_auth(c);
	}
}

/*
 * WELCOME carries no MAC: only the one that answers our AUTH sets relay_id.
 * Later ones (answers to ROAM) may say PAIRED, but one naming another
 * relay_id is forged or stale and changes nothing.
 */
static void on_welcome(struct sr_client *c, const struct sr_side_reply *r)
{
	if (c->state != CS_AUTH && c->state != CS_HELLO && r->relay_id != c->relay_id) {
		log_msg(PL_LOG_DEBUG, "sr session: WELCOME for another relay_id ignored");
		return;
	}
	if (c->state == CS_AUTH || c->state == CS_HELLO) {
		c->relay_id = r->relay_id;
		sodium_memzero(c->p.ticket.secret, sizeof(c->p.ticket.secret)); /* used: done */
		c->state = CS_WAITING;
	}
	if (r->welcome_state == SR_WS_PAIRED && c->state == CS_WAITING)
		go_up(c);
}

static const char *err_text(uint8_t code)
{
	static const char *const t[] = {
	    [SR_ERR_UNKNOWN] = "SR: unknown session",  [SR_ERR_AUTH] = "SR: authentication failed",
	    [SR_ERR_USED] = "SR: ticket already used", [SR_ERR_EXPIRED] = "SR: ticket expired",
	    [SR_ERR_TIMEOUT] = "SR: peer never came",  [SR_ERR_IDLE] = "SR: session idle",
	    [SR_ERR_PEER] = "SR: peer left",           [SR_ERR_PROTO] = "SR: protocol error",
	    [SR_ERR_SHUTDOWN] = "SR: shutting down",
	};
	return code < sizeof(t) / sizeof(t[0]) && t[code] ? t[code] : "SR: error";
}

/* The SR checks a new address of ours before it moves us there: echo its challenge. */
static void on_roam_chal(struct sr_client *c, const uint8_t *m, size_t n)
{
	uint8_t out[SR_ROAM_ECHO_LEN];

	if ((c->state == CS_WAITING || c->state == CS_UP) && c->tr == SR_TR_UDP &&
	    sr_side_roam_echo(c->roam_key, c->p.ticket.side, c->p.ticket.session_id, c->relay_id, m,
			      n, out) == 0)
		(void)send_msg(c, out, sizeof(out));
}

/* A side message from the SR; anything not for our side and session is ignored. */
static void on_side(struct sr_client *c, const uint8_t *m, size_t n)
{
	struct sr_side_reply r;

	if (m[0] == SR_MSG_ROAM_CHAL) {
		on_roam_chal(c, m, n);
		return;
	}
	if (sr_side_parse_reply(m, n, c->p.ticket.side, c->p.ticket.session_id, &r) != 0)
		return;
	if (r.type == SR_MSG_CHALLENGE)
		on_challenge(c, &r);
	else if (r.type == SR_MSG_WELCOME)
		on_welcome(c, &r);
	else
		go_down(c, SR_DOWN_SR_ERROR, err_text(r.err));
}

/* One message from the SR (UDP datagram or TCP frame) in @p p. */
static void on_msg(struct sr_client *c, struct pkt *p)
{
	if (p->len == 0)
		return;
	if (sr_msg_is_data(pkt_data(p)[0]))
		on_data(c, p);
	else
		on_side(c, pkt_data(p), p->len);
}

static void udp_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct sr_client *c = container_of(w, struct sr_client, uw);
	struct pkt p;
	int n;

	enter(c);
	if (c->port_closed && c->state == CS_UP) {
		go_down(c, SR_DOWN_UNREACHABLE, "the SR's UDP port is closed");
		leave(c);
		return;
	}
	for (int round = 0; round < 8 && c->ufd >= 0 && !c->freed; round++) {
		for (int i = 0; i < BATCH; i++) {
			c->riov[i] = (struct iovec){c->rxbuf + (size_t)i * UDP_BUF, UDP_BUF};
			c->rmsg[i].msg_hdr =
			    (struct msghdr){.msg_iov = &c->riov[i], .msg_iovlen = 1};
		}
		n = recvmmsg(c->ufd, c->rmsg, BATCH, MSG_DONTWAIT, NULL);
		if (n < 0 && errno == ECONNREFUSED && c->state == CS_UP) {
			/* ICMP port unreachable: nothing listens at the SR's port any more. */
			go_down(c, SR_DOWN_UNREACHABLE, "the SR's UDP port is closed");
			break;
		}
		for (int i = 0; i < n && c->ufd >= 0 && !c->freed; i++) {
			pkt_init(&p, c->rxbuf + (size_t)i * UDP_BUF, UDP_BUF, 0);
			if ((c->rmsg[i].msg_hdr.msg_flags & MSG_TRUNC) ||
			    !pkt_put(&p, c->rmsg[i].msg_len))
				continue;
			on_msg(c, &p);
		}
		if (n < BATCH)
			break;
	}
	if (!c->freed && c->cb.on_rx_done)
		c->cb.on_rx_done(c->cb.arg);
	leave(c);
}

/* ---- TCP -------------------------------------------------------------- */

static int tcp_on_data(struct conn *cn)
{
	struct sr_client *c = container_of(cn, struct sr_client, tc);
	struct pkt p;

	enter(c);
	while (c->tcp_open && !c->freed) {
		size_t have = conn_in_len(cn), len;

		if (have < SR_FRAME_HDR)
			break;
		len = get_be32(conn_in(cn));
		if (len == 0 || len > SR_FRAME_MAX) {
			go_down(c, SR_DOWN_TRANSPORT, "bad frame from the SR");
			break;
		}
		if (have - SR_FRAME_HDR < len)
			break;
		pkt_init(&p, c->rxbuf, TCP_IN_CAP, 0);
		memcpy(pkt_put(&p, len), conn_in(cn) + SR_FRAME_HDR, len);
		conn_consume(cn, SR_FRAME_HDR + len);
		on_msg(c, &p);
	}
	if (leave(c) || !c->tcp_open)
		return -1;
	return 0;
}

static int tcp_on_connected(struct conn *cn)
{
	struct sr_client *c = container_of(cn, struct sr_client, tc);

	send_hello(c);
	return 0;
}

static int tcp_on_drain(struct conn *cn)
{
	struct sr_client *c = container_of(cn, struct sr_client, tc);

	if (c->state != CS_UP || !c->cb.on_writable)
		return 0;
	enter(c);
	c->cb.on_writable(c->cb.arg);
	if (leave(c) || !c->tcp_open)
		return -1;
	return 0;
}

static void tcp_on_close(struct conn *cn, int err)
{
	struct sr_client *c = container_of(cn, struct sr_client, tc);

	enter(c);
	go_down(c, SR_DOWN_TRANSPORT,
		err ? "TCP connection to the SR failed" : "SR closed the TCP connection");
	leave(c);
}

static const struct conn_ops tcp_ops = {
    .on_data = tcp_on_data,
    .on_drain = tcp_on_drain,
    .on_close = tcp_on_close,
    .on_connected = tcp_on_connected,
};

static int start_tcp(struct sr_client *c)
{
	bool inprog;
	int fd = net_connect_tcp((struct sockaddr *)&c->tcp_sa, c->tcp_len, &inprog), r;

	if (fd < 0)
		return fd;
	r = conn_init(&c->tc, c->loop, fd, &tcp_ops, TCP_IN_CAP, TCP_OUT_MAX, inprog);
	if (r < 0) {
		close(fd);
		return r;
	}
	c->tcp_open = true;
	c->tr = SR_TR_TCP;
	c->state = CS_HELLO;
	if (!inprog)
		send_hello(c);
	return 0;
}

/* ---- UDP -------------------------------------------------------------- */

static int open_udp(struct sr_client *c)
{
	int big = 4 << 20;
	int fd = socket(c->udp_sa.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&c->udp_sa, c->udp_len) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	if (c->ufd >= 0) {
		ev_io_stop(c->loop, &c->uw);
		close(c->ufd);
	}
	c->ufd = fd;
	ev_io_init(&c->uw, udp_cb, fd, EV_READ);
	ev_io_start(c->loop, &c->uw);
	return 0;
}

int sr_client_rebind(struct sr_client *c)
{
	int r;

	if (c->tr != SR_TR_UDP || c->state == CS_DOWN)
		return -EINVAL;
	r = open_udp(c);
	if (r == 0 && (c->state == CS_UP || c->state == CS_WAITING))
		send_roam(c, SR_ROAM_KEEPALIVE);
	return r;
}

static void fall_back(struct sr_client *c)
{
	int r;

	ev_io_stop(c->loop, &c->uw);
	close(c->ufd);
	c->ufd = -1;
	log_msg(PL_LOG_INFO, "no UDP answer from the SR in %.0f ms: falling back to TCP",
		c->p.udp_timeout * 1000);
	r = start_tcp(c);
	if (r < 0)
		go_down(c, SR_DOWN_UNREACHABLE, "cannot connect to the SR over TCP");
}

/* Retransmissions while handshaking over UDP, and the UDP -> TCP fallback. */
static void retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sr_client *c = container_of(w, struct sr_client, retry);

	enter(c);
	if (c->tr == SR_TR_UDP) {
		if (c->state == CS_HELLO && c->p.transport == SR_TR_NONE &&
		    now_of(c) - c->started >= c->p.udp_timeout) {
			ev_timer_stop(loop, w);
			fall_back(c);
		} else if (c->state == CS_HELLO) {
			send_hello(c);
		} else if (c->state == CS_AUTH) {
			send_auth(c);
		} else if (c->state == CS_WAITING) {
			send_roam(c, SR_ROAM_KEEPALIVE); /* the SR answers with WELCOME */
		}
	}
	leave(c);
}

/* Rekeys, and the hard stop when they did not complete. False: the session went down. */
static bool poll_keys(struct sr_client *c, double now)
{
	uint8_t msg[DPC_MAX];
	size_t n;

	if (dp_expired(c->dp, now)) {
		go_down(c, SR_DOWN_KEYS_EXPIRED, "keys expired: rekey did not complete");
		return false;
	}
	n = dp_rekey_poll(c->dp, now, msg);
	if (n)
		send_ctrl(c, msg, n);
	return c->state == CS_UP;
}

/* Has the local address gone? False: the session went down (TCP cannot move). */
static bool poll_addr(struct sr_client *c, double now)
{
	if (c->tr == SR_TR_UDP && c->ufd >= 0 && now - c->last_rx >= 1.0 && !local_addr_ok(c->ufd))
		udp_rebind(c, "local address gone");
	/* A TCP connection cannot move: report it broken (the owner re-rendezvouses). */
	if (c->tr == SR_TR_TCP && c->tcp_open && now - c->last_rx >= 1.0 &&
	    !local_addr_ok(c->tc.fd)) {
		go_down(c, SR_DOWN_TRANSPORT, "local address of the TCP connection gone");
		return false;
	}
	return c->state == CS_UP;
}

/* The once-a-second work of an UP session. */
static void poll_up(struct sr_client *c)
{
	uint8_t ka = DPC_KEEPALIVE;
	double now = now_of(c);

	if (c->state != CS_UP || !poll_keys(c, now) || !poll_addr(c, now))
		return;
	if (c->tr == SR_TR_UDP && now - c->last_ka >= c->p.keepalive)
		send_roam(c, SR_ROAM_KEEPALIVE);
	/* Both ends send a keepalive when idle: long silence means the path is lost. */
	if (now - c->last_rx >= c->p.dead_after) {
		go_down(c, SR_DOWN_UNREACHABLE, "nothing from the peer through the SR");
		return;
	}
	if (c->state == CS_UP && now - c->last_tx >= c->p.keepalive)
		send_ctrl(c, &ka, 1);
}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sr_client *c = container_of(w, struct sr_client, tick);

	enter(c);
	poll_up(c);
	leave(c);
}

void sr_client_poll(struct sr_client *c)
{
	enter(c);
	poll_up(c);
	leave(c);
}

void sr_client_set_clock(struct sr_client *c, double (*now)(void *arg), void *arg)
{
	c->clock = now;
	c->clock_arg = arg;
}

static void deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sr_client *c = container_of(w, struct sr_client, deadline);

	enter(c);
	go_down(c, c->state == CS_WAITING ? SR_DOWN_TIMEOUT : SR_DOWN_UNREACHABLE,
		c->state == CS_WAITING ? "peer did not join in time" : "no answer from the SR");
	leave(c);
}

/* ---- setup ------------------------------------------------------------ */

/*
 * The SR's address from the ticket: numeric IPv4 or IPv6 only. A peer
 * chooses the side ticket, and resolving a name it picked would block the
 * loop (every session) for as long as that name's servers stall.
 */
static int numeric_addr(const char *host, uint16_t port, struct sockaddr_storage *ss,
			socklen_t *len)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		*len = sizeof(*a4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		*len = sizeof(*a6);
		return 0;
	}
	log_msg(PL_LOG_ERR, "sr session refused: the SR host in the ticket is not a numeric "
			    "IPv4/IPv6 address (names are not resolved)");
	return -EINVAL;
}

static int setup(struct sr_client *c, const struct sr_session_params *p)
{
	struct dp_limits lim;
	int r;

	c->p = *p;
	if (c->p.transport == SR_TR_NONE) { /* benchmarks and tests may force one */
		const char *t = getenv("PORTLESS_TRANSPORT");

		if (t && !strcmp(t, "udp"))
			c->p.transport = SR_TR_UDP;
		else if (t && !strcmp(t, "tcp"))
			c->p.transport = SR_TR_TCP;
	}
	if (c->p.udp_timeout <= 0)
		c->p.udp_timeout = 0.3;
	if (c->p.keepalive <= 0)
		c->p.keepalive = 15;
	if (c->p.connect_timeout <= 0)
		c->p.connect_timeout = 30;
	if (c->p.dead_after <= 0)
		c->p.dead_after = 4 * c->p.keepalive;
	lim = p->limits;
	if (!lim.rekey_after_packets && lim.rekey_after_seconds <= 0 && !lim.reject_after_packets)
		dp_limits_default(&lim);
	c->dp = dp_state_new(&p->keys, &lim, now_of(c));
	sodium_memzero(&c->p.keys, sizeof(c->p.keys));
	if (!c->dp)
		return -EINVAL;
	sr_roam_key(p->ticket.secret, c->roam_key);
	r = numeric_addr(p->ticket.host, p->ticket.udp_port, &c->udp_sa, &c->udp_len);
	if (r == 0)
		r = numeric_addr(p->ticket.host, p->ticket.tcp_port, &c->tcp_sa, &c->tcp_len);
	if (r == 0 &&
	    !(c->rxbuf = malloc(BATCH * UDP_BUF > TCP_IN_CAP ? BATCH * UDP_BUF : TCP_IN_CAP)))
		r = -ENOMEM;
	return r;
}

static int start(struct sr_client *c)
{
	int r;

	c->started = now_of(c);
	ev_timer_start(c->loop, &c->deadline);
	if (c->p.transport == SR_TR_TCP)
		return start_tcp(c);
	r = open_udp(c);
	if (r < 0)
		return c->p.transport == SR_TR_UDP ? r : start_tcp(c);
	c->tr = SR_TR_UDP;
	c->state = CS_HELLO;
	send_hello(c);
	ev_timer_start(c->loop, &c->retry);
	return 0;
}

struct sr_client *sr_client_new(struct ev_loop *loop, const struct sr_session_params *p,
				const struct sr_client_cbs *cb)
{
	struct sr_client *c;

	if (p->keys.side != p->ticket.side || p->ticket.side > SR_SIDE_B ||
	    p->transport > SR_TR_TCP)
		return NULL;
	c = sodium_malloc(sizeof(*c));
	if (!c)
		return NULL;
	memset(c, 0, sizeof(*c));
	c->loop = loop;
	c->cb = *cb;
	c->ufd = -1;
	ev_init(&c->retry, retry_cb);
	ev_init(&c->tick, tick_cb);
	ev_init(&c->deadline, deadline_cb);
	if (setup(c, p) < 0)
		goto fail;
	ev_timer_set(&c->retry, c->p.udp_timeout / 3, c->p.udp_timeout / 3);
	ev_timer_set(&c->tick, 1.0, 1.0);
	ev_timer_set(&c->deadline, c->p.connect_timeout, 0);
	if (start(c) < 0)
		goto fail;
	return c;
fail:
	destroy(c);
	return NULL;
}

int sr_client_transport(const struct sr_client *c)
{
	return c->state == CS_UP ? c->tr : SR_TR_NONE;
}

void sr_client_rekey(struct sr_client *c)
{
	if (c->dp)
		dp_rekey_now(c->dp);
}

void sr_client_close_reason(struct sr_client *c, uint8_t reason)
{
	c->close_reason = reason;
}

uint8_t sr_client_peer_close_reason(const struct sr_client *c)
{
	return c->peer_close_reason;
}

void sr_client_get_stats(const struct sr_client *c, struct sr_client_stats *st)
{
	*st = c->st;
}

void sr_client_free(struct sr_client *c)
{
	uint8_t bye[2] = {DPC_CLOSE, 0};

	if (!c || c->freed)
		return;
	bye[1] = c->close_reason;
	if (c->state == CS_UP)
		send_ctrl(c, bye, sizeof(bye));
	if ((c->state == CS_UP || c->state == CS_WAITING) && c->tr == SR_TR_UDP)
		send_roam(c, SR_ROAM_LEAVE); /* the SR ends the session now, not at idle */
	c->state = CS_DOWN;
	teardown(c);
	c->freed = true;
	if (c->busy == 0)
		destroy(c);
}
