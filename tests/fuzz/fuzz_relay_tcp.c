/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: the relay's TCP side end to end over loopback (its
 * accept, framing, handshake, pairing, copying and splicing code, not just
 * a parser). A relay on 127.0.0.1, one fresh ticket per input, up to three
 * TCP connections and one UDP socket (mixed sessions). The input is a list
 * of [op u8][len u8][len bytes]; c = op >> 3 % 3 names a connection (opened
 * on first use), side = op >> 5 & 1:
 *   op % 8 == 0: the bytes as they are on connection c;
 *   op % 8 == 1: the bytes in one frame (op & 128: session id / relay id
 *                patched in first);
 *   op % 8 == 2: a framed HELLO of that side on c;
 *   op % 8 == 3: a framed AUTH over c's last CHALLENGE nonce (op & 128: a
 *                wrong MAC);
 *   op % 8 == 4: a framed ROAM, valid MAC, growing counter (op & 128: LEAVE);
 *   op % 8 == 5: close c (op & 128: shut down its write half only);
 *   op % 8 == 6: over UDP: HELLO (op & 128) or AUTH of that side;
 *   op % 8 == 7: a data packet of that side (its relay id) carrying the
 *                bytes, framed on c (op & 128: as a UDP datagram).
 * After each step the loop runs and answers are read back (so CHALLENGE
 * nonces and WELCOME relay ids feed the next steps). The relay runs on an
 * injected clock that moves 4 s per input; relay_tick() ends what is due.
 */
#include <errno.h>
#include <stdio.h>
#include <ev.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "relay.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { NCONN = 3, RXBUF = 4096 };

/* One TCP connection of the harness and what it has read so far. */
struct hconn {
	int fd;
	uint8_t rx[RXBUF];
	size_t rlen;
	uint8_t nonce[SR_NONCE_LEN];
};

static struct ev_loop *loop;
static struct relay *rl;
static struct hconn hc[NCONN];
static int usock = -1;
static struct sr_ticket tk;
static uint8_t unonce[SR_NONCE_LEN];
static uint32_t relay_id[2];
static uint64_t roam_ctr[2];
static double clock_s;

static double fuzz_now(void *arg)
{
	return clock_s;
}

static uint64_t fuzz_unix_now(void *arg)
{
	return 1700000000u + (uint64_t)clock_s;
}

static struct sockaddr_in loopback(uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

	a.sin_port = htons(port);
	return a;
}

/*
 * Each TCP connection from the next of 65536 loopback source addresses: the
 * closed ones stay in TIME_WAIT for a minute, more than one address's
 * ephemeral ports at this rate.
 */
static int src_bind(int s)
{
	static uint32_t n;
	struct sockaddr_in a = {.sin_family = AF_INET};

	a.sin_addr.s_addr = htonl(0x7f010000u | (n++ & 0xffffu));
	return bind(s, (struct sockaddr *)&a, sizeof(a));
}

/*
 * Connect @p fd (made non-blocking first) and wait until it is: libFuzzer's
 * timeout timer (SIGALRM) interrupts a blocking connect() on a loaded
 * machine (an earlier run died of EINTR), so wait in poll() and retry that.
 */
static int connect_wait(int fd, const struct sockaddr_in *a)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	int err = 0;
	socklen_t len = sizeof(err);

	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)a, sizeof(*a)) == 0)
		return 0;
	if (errno != EINPROGRESS && errno != EINTR)
		return -1;
	while (poll(&p, 1, 5000) < 0)
		if (errno != EINTR)
			return -1;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
		errno = err;
		return -1;
	}
	return 0;
}

static int open_sock(int type, uint16_t port)
{
	struct sockaddr_in a = loopback(port);
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);

	if (fd < 0 || (type == SOCK_STREAM && src_bind(fd) < 0) || connect_wait(fd, &a) < 0) {
		perror("fuzz_relay_tcp: socket");
		abort();
	}
	return fd;
}

static void init(void)
{
	struct relay_cfg c;
	struct sockaddr_in *u, *t;
	int err = 0;

	if (sodium_init() < 0)
		abort();
	/* as portless-sr does: splice(2) to a reset peer raises SIGPIPE (two
	 * runs died of it silently) */
	signal(SIGPIPE, SIG_IGN);
	log_set_level(PL_LOG_ERR);
	relay_cfg_default(&c);
	u = (struct sockaddr_in *)&c.udp_addr;
	t = (struct sockaddr_in *)&c.tcp_addr;
	*u = *t = loopback(0);
	c.udp_len = c.tcp_len = sizeof(struct sockaddr_in);
	strcpy(c.host, "127.0.0.1");
	c.max_per_identity = 100000;
	c.max_sessions = 100000;
	c.tcp_out_max = 64 * 1024; /* back-pressure within a few steps */
	c.clock = (struct relay_clock){.now = fuzz_now, .unix_now = fuzz_unix_now};
	clock_s = 1000;
	loop = ev_loop_new(EVFLAG_AUTO);
	rl = relay_new(loop, &c, &err);
	if (!rl)
		abort();
	usock = open_sock(SOCK_DGRAM, relay_udp_port(rl));
	for (int i = 0; i < NCONN; i++)
		hc[i].fd = -1;
}

/* Side messages the relay sent: remember nonces and relay ids. */
static void seen(struct hconn *h, const uint8_t *m, size_t n)
{
	if (m[0] == SR_MSG_CHALLENGE && n == SR_CHALLENGE_LEN)
		memcpy(h ? h->nonce : unonce, m + SR_SIDE_HDR, SR_NONCE_LEN);
	else if (m[0] == SR_MSG_WELCOME && n == SR_WELCOME_LEN && m[2] <= SR_SIDE_B)
		relay_id[m[2]] = get_be32(m + SR_SIDE_HDR);
}

/* Split what connection @p h read into frames (raw bytes of a paired session are skipped). */
static void frames(struct hconn *h)
{
	size_t off = 0;

	while (h->rlen - off >= SR_FRAME_HDR) {
		size_t len = get_be32(h->rx + off);

		if (len == 0 || len > sizeof(h->rx) - SR_FRAME_HDR) {
			off = h->rlen; /* not frames (raw stream): drop what we have */
			break;
		}
		if (h->rlen - off - SR_FRAME_HDR < len)
			break;
		seen(h, h->rx + off + SR_FRAME_HDR, len);
		off += SR_FRAME_HDR + len;
	}
	memmove(h->rx, h->rx + off, h->rlen - off);
	h->rlen -= off;
}

static void read_tcp(struct hconn *h)
{
	ssize_t n;

	while (h->fd >= 0 && (n = recv(h->fd, h->rx + h->rlen, sizeof(h->rx) - h->rlen, 0)) > 0) {
		h->rlen += (size_t)n;
		frames(h);
	}
}

/* Let the relay run, then read what it sent. */
static void pump(void)
{
	uint8_t b[2048];
	ssize_t n;

	for (int k = 0; k < 3; k++) {
		ev_run(loop, EVRUN_NOWAIT);
		for (int i = 0; i < NCONN; i++)
			read_tcp(&hc[i]);
		while ((n = recv(usock, b, sizeof(b), 0)) > 0)
			seen(NULL, b, (size_t)n);
	}
}

static struct hconn *conn_get(int i)
{
	if (hc[i].fd < 0) {
		hc[i].fd = open_sock(SOCK_STREAM, relay_tcp_port(rl));
		hc[i].rlen = 0;
		memset(hc[i].nonce, 0, SR_NONCE_LEN);
	}
	return &hc[i];
}

static void conn_close(int i, bool half)
{
	if (hc[i].fd < 0)
		return;
	if (half) {
		shutdown(hc[i].fd, SHUT_WR);
		return;
	}
	close(hc[i].fd);
	hc[i].fd = -1;
}

static size_t head(uint8_t *m, uint8_t type, int side, uint8_t x)
{
	m[0] = type;
	m[1] = SR_VERSION;
	m[2] = (uint8_t)side;
	m[3] = x;
	memcpy(m + 4, tk.session_id, SR_SID_LEN);
	return SR_SIDE_HDR;
}

static size_t hello(uint8_t *m, int side, uint8_t tr)
{
	memset(m, 0, SR_HELLO_LEN);
	head(m, SR_MSG_HELLO, side, tr);
	return SR_HELLO_LEN;
}

static size_t auth(uint8_t *m, int side, const uint8_t *nonce, bool wrong)
{
	size_t n = head(m, SR_MSG_AUTH, side, 0);

	memcpy(m + n, nonce, SR_NONCE_LEN);
	sr_auth_mac(tk.secret[side], nonce, tk.session_id, (uint8_t)side, m + n + SR_NONCE_LEN);
	if (wrong)
		m[n + SR_NONCE_LEN] ^= 1;
	return SR_AUTH_LEN;
}

static size_t roam(uint8_t *m, int side, bool leave)
{
	uint8_t key[32];
	size_t n = head(m, SR_MSG_ROAM, side, leave ? SR_ROAM_LEAVE : SR_ROAM_KEEPALIVE);

	put_be32(m + n, relay_id[side]);
	put_be64(m + n + 4, ++roam_ctr[side]);
	sr_roam_key(tk.secret[side], key);
	sr_roam_mac(key, m, m + SR_ROAM_LEN - SR_MAC_LEN);
	sodium_memzero(key, sizeof(key));
	return SR_ROAM_LEN;
}

/* A data packet of @p side: header with its relay id, then @p len bytes, then a tag's room. */
static size_t dp(uint8_t *m, int side, const uint8_t *p, size_t len)
{
	memset(m, 0, SR_DP_HDR);
	m[0] = SR_MSG_DATA;
	put_be32(m + 4, relay_id[side]);
	memcpy(m + SR_DP_HDR, p, len);
	memset(m + SR_DP_HDR + len, 0, SR_DP_TAG);
	return SR_DP_OVERHEAD + len;
}

static void patch(uint8_t *m, size_t n, int side)
{
	if (n < SR_SIDE_HDR)
		return;
	if (m[0] >= 0x10)
		put_be32(m + 4, relay_id[side]);
	else
		memcpy(m + 4, tk.session_id, SR_SID_LEN);
}

/* Send @p n bytes on @p fd; a full socket or a closed relay end is not the harness's fault. */
static void put(int fd, const uint8_t *m, size_t n)
{
	if (send(fd, m, n, MSG_NOSIGNAL) < 0 && errno != EAGAIN && errno != ECONNREFUSED &&
	    errno != ECONNRESET && errno != EPIPE && errno != ENOTCONN)
		abort();
}

static void put_frame(int fd, const uint8_t *m, size_t n)
{
	uint8_t b[SR_FRAME_HDR + 512];

	put_be32(b, (uint32_t)n);
	memcpy(b + SR_FRAME_HDR, m, n);
	put(fd, b, SR_FRAME_HDR + n);
}

/* One step of the input: op, and its @p len bytes @p p. */
static void step(uint8_t op, const uint8_t *p, size_t len)
{
	uint8_t m[512];
	int side = op >> 5 & 1, c = (op >> 3) % NCONN;
	bool hi = op & 128;
	size_t n;

	switch (op % 8) {
	case 0:
		put(conn_get(c)->fd, p, len);
		return;
	case 1:
		memcpy(m, p, len);
		if (hi)
			patch(m, len, side);
		put_frame(conn_get(c)->fd, m, len);
		return;
	case 2:
		put_frame(conn_get(c)->fd, m, hello(m, side, SR_TR_TCP));
		return;
	case 3:
		put_frame(conn_get(c)->fd, m, auth(m, side, conn_get(c)->nonce, hi));
		return;
	case 4:
		put_frame(conn_get(c)->fd, m, roam(m, side, hi));
		return;
	case 5:
		conn_close(c, hi);
		return;
	case 6:
		n = hi ? hello(m, side, SR_TR_UDP) : auth(m, side, unonce, false);
		put(usock, m, n);
		return;
	default:
		n = dp(m, side, p, len);
		if (hi)
			put(usock, m, n);
		else
			put_frame(conn_get(c)->fd, m, n);
		return;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;

	if (!loop)
		init();
	clock_s += 4;
	relay_tick(rl);
	if (relay_issue(rl, "@a", "@b", &tk) != 0)
		return 0; /* full: the previous ones expire as the clock moves */
	memset(unonce, 0, sizeof(unonce));
	memset(relay_id, 0, sizeof(relay_id));
	for (int i = 0; i < 32 && size - off >= 2; i++) {
		uint8_t op = data[off];
		size_t len = data[off + 1];

		off += 2;
		if (len > size - off)
			len = size - off;
		step(op, data + off, len);
		off += len;
		pump();
	}
	for (int i = 0; i < NCONN; i++)
		conn_close(i, false);
	pump(); /* the relay sees the ends now, not in the next input */
	sr_ticket_wipe(&tk);
	return 0;
}
